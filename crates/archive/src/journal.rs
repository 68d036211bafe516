//! Verification of a tenant's journal: the hash chain is recomputed from the first event to
//! the last, and every break is named where it happened.

use crate::{Archive, ArchiveError};
use carnac_model::journal::{ChainProblem, ChainVerifier, NewEvent};
use carnac_model::{OperationId, Status, TenantId};
use serde::{Deserialize, Serialize};

/// What `carnac journal verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalVerification {
    /// Events read (the verification's own event, written after, is not among them).
    pub events: u64,
    /// The hash of the last event read: the head of the chain.
    pub head: Option<String>,
    pub problems: Vec<ChainProblem>,
    /// The operation that recorded this verification in the journal.
    pub operation: OperationId,
}

impl JournalVerification {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Archive {
    /// Recomputes the hash chain of `tenant`'s journal and records the verification, with
    /// what it found, as an event of that journal.
    pub fn verify_journal(
        &self,
        tenant: &TenantId,
        agent: &str,
    ) -> Result<JournalVerification, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut verifier = ChainVerifier::new();
        self.catalog.each_event(tenant, 0, &mut |row| {
            match row {
                Ok(e) => verifier.push(&e),
                Err(u) => verifier.push_unreadable(u.sequence, &u.reason),
            }
            Ok(())
        })?;
        let events = verifier.count();
        let head = verifier.head().map(str::to_owned);
        let problems = verifier.finish();
        let operation = self.new_operation()?;
        let outcome = if problems.is_empty() {
            Status::Ok
        } else {
            Status::Ko
        };
        let detail = serde_json::json!({
            "events": events,
            "head": head,
            "problems": problems,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: "JOURNAL_VERIFY".into(),
            outcome,
            time: self.now(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.record_operation(tenant, &detail, &event)?;
        if !problems.is_empty() {
            tracing::warn!(%tenant, problems = problems.len(), "the journal's hash chain is broken");
        }
        Ok(JournalVerification {
            events,
            head,
            problems,
            operation,
        })
    }
}
