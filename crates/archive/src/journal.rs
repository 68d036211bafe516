//! The journal's proofs: verification of a tenant's hash chain and seals, and sealing.
//!
//! A seal puts the events since the previous seal in a Merkle tree (SHA-256, the same binary
//! tree as evidence records), chains its root to the previous seal
//! (`sealed = SHA-256(previous sealed ‖ root)`, 64 zeros before the first) and timestamps
//! `sealed`. The seal is itself an event, so the next seal covers it. Someone who rewrites
//! the journal and recomputes every hash after the change still cannot make the sealed roots
//! match: that needs a token from a trusted TSA dated back then.

use crate::{Archive, ArchiveError};
use carnac_catalog::SealRow;
use carnac_evidence::{HashAlgorithm, HashTree};
use carnac_model::journal::{ChainProblem, ChainVerifier, GENESIS, NewEvent};
use carnac_model::{OperationId, Status, TenantId};
use carnac_timestamp::Imprint;
use carnac_timestamp::verify::{Expected, verify_token};
use serde::{Deserialize, Serialize};

/// What `carnac journal verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalVerification {
    /// Events read (the verification's own event, written after, is not among them).
    pub events: u64,
    /// The hash of the last event read: the head of the chain.
    pub head: Option<String>,
    /// Seals checked, and the last sealed event.
    pub seals: u64,
    pub sealed_up_to: u64,
    pub problems: Vec<ChainProblem>,
    /// The operation that recorded this verification in the journal.
    pub operation: OperationId,
}

impl JournalVerification {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A new seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealOutcome {
    pub operation: OperationId,
    pub first: u64,
    pub last: u64,
    pub sealed: String,
    pub stamped_at: String,
    pub tsa: String,
}

/// `SHA-256(previous ‖ root)`, both given and returned in hexadecimal.
pub fn chain_seal(previous: &str, merkle_root: &str) -> Result<String, String> {
    let p = hex::decode(previous).map_err(|e| format!("previous seal {previous:?}: {e}"))?;
    let r = hex::decode(merkle_root).map_err(|e| format!("root {merkle_root:?}: {e}"))?;
    Ok(hex::encode(HashAlgorithm::Sha256.digest(&[p, r].concat())))
}

/// The Merkle root (hex) of events' hashes (hex), in order.
pub fn merkle_root(hashes: &[String]) -> Result<String, String> {
    let leaves = hashes
        .iter()
        .map(|h| hex::decode(h).map_err(|e| format!("event hash {h:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let tree = HashTree::new(HashAlgorithm::Sha256, leaves).map_err(|e| e.to_string())?;
    Ok(hex::encode(tree.root()))
}

impl Archive {
    /// Recomputes the hash chain of `tenant`'s journal, checks every seal (its range, its
    /// link to the previous seal, its Merkle root over the events, its timestamp) and records
    /// the verification, with what it found, as an event of that journal.
    pub fn verify_journal(
        &self,
        tenant: &TenantId,
        agent: &str,
    ) -> Result<JournalVerification, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut verifier = ChainVerifier::new();
        // The recorded hashes, for the seals.
        let mut hashes: Vec<(u64, String)> = Vec::new();
        self.catalog.each_event(tenant, 0, &mut |row| {
            match row {
                Ok(e) => {
                    verifier.push(&e);
                    hashes.push((e.sequence, e.hash));
                }
                Err(u) => verifier.push_unreadable(u.sequence, &u.reason),
            }
            Ok(())
        })?;
        let events = verifier.count();
        let head = verifier.head().map(str::to_owned);
        let mut problems = verifier.finish();
        let seals = self.catalog.seals(tenant)?;
        let sealed_up_to = seals.last().map_or(0, |s| s.last);
        problems.extend(self.check_seals(&seals, &hashes));
        problems.sort_by_key(|p| p.sequence);

        let operation = self.new_operation()?;
        let outcome = if problems.is_empty() {
            Status::Ok
        } else {
            Status::Ko
        };
        let detail = serde_json::json!({
            "events": events,
            "head": head,
            "seals": seals.len(),
            "sealed_up_to": sealed_up_to,
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
            tracing::warn!(%tenant, problems = problems.len(), "the journal is damaged");
        }
        Ok(JournalVerification {
            events,
            head,
            seals: seals.len() as u64,
            sealed_up_to,
            problems,
            operation,
        })
    }

    fn check_seals(&self, seals: &[SealRow], hashes: &[(u64, String)]) -> Vec<ChainProblem> {
        let trust = self.trust();
        let mut problems = Vec::new();
        let mut problem = |sequence: u64, code: &str, message: String| {
            problems.push(ChainProblem {
                sequence,
                code: code.into(),
                message,
            })
        };
        let mut previous: Option<&SealRow> = None;
        for seal in seals {
            let range = format!("the seal of events {} to {}", seal.first, seal.last);
            let (expected_first, expected_previous) =
                previous.map_or((1, GENESIS), |p| (p.last + 1, p.sealed.as_str()));
            if seal.first != expected_first {
                problem(
                    seal.first,
                    "SEAL_GAP",
                    format!(
                        "{range} does not start after the previous seal (event {expected_first})"
                    ),
                );
            }
            if seal.previous != expected_previous {
                problem(
                    seal.first,
                    "SEAL_UNLINKED",
                    format!(
                        "{range} records {} as the previous seal, not {expected_previous}",
                        seal.previous
                    ),
                );
            }
            let covered: Vec<String> = hashes
                .iter()
                .filter(|(s, _)| (seal.first..=seal.last).contains(s))
                .map(|(_, h)| h.clone())
                .collect();
            if covered.len() as u64 != seal.last - seal.first + 1 {
                problem(
                    seal.first,
                    "SEAL_MISMATCH",
                    format!(
                        "{range}: {} of its {} events are in the journal",
                        covered.len(),
                        seal.last - seal.first + 1
                    ),
                );
            } else {
                match merkle_root(&covered) {
                    Ok(root) if root == seal.merkle_root => {}
                    Ok(root) => problem(
                        seal.first,
                        "SEAL_MISMATCH",
                        format!(
                            "{range}: the events give the root {root}, the seal recorded {}: events were changed after they were sealed",
                            seal.merkle_root
                        ),
                    ),
                    Err(e) => problem(seal.first, "SEAL_MISMATCH", format!("{range}: {e}")),
                }
            }
            match chain_seal(&seal.previous, &seal.merkle_root) {
                Ok(s) if s == seal.sealed => {}
                Ok(s) => problem(
                    seal.first,
                    "SEAL_MISMATCH",
                    format!(
                        "{range}: previous and root give {s}, the seal recorded {}",
                        seal.sealed
                    ),
                ),
                Err(e) => problem(seal.first, "SEAL_MISMATCH", format!("{range}: {e}")),
            }
            let imprint = Imprint {
                algorithm: HashAlgorithm::Sha256,
                digest: hex::decode(&seal.sealed).unwrap_or_default(),
            };
            if let Err(e) = verify_token(
                &seal.token,
                &Expected {
                    imprint: &imprint,
                    nonce: None,
                    policy: None,
                },
                &trust,
            ) {
                problem(
                    seal.first,
                    "SEAL_TOKEN",
                    format!("{range}: its timestamp is not valid: {e}"),
                );
            }
            previous = Some(seal);
        }
        problems
    }

    /// Seals the events of `tenant` written since its last seal; `None` when there are none.
    /// The unsealed part of the chain is checked first: a damaged journal is not sealed.
    pub fn seal(
        &self,
        tenant: &TenantId,
        agent: &str,
    ) -> Result<Option<SealOutcome>, ArchiveError> {
        self.require_tenant(tenant)?;
        let last_seal = self.catalog.seals(tenant)?.pop();
        let (after, previous) = last_seal
            .as_ref()
            .map_or((0, GENESIS.to_owned()), |s| (s.last, s.sealed.clone()));
        let mut verifier: Option<ChainVerifier> = (after == 0).then(ChainVerifier::new);
        let mut hashes = Vec::new();
        let mut last = after;
        // Seal events alone do not call for a seal: an idle journal gets no seal at all.
        let mut only_seals = true;
        self.catalog
            .each_event(tenant, after.saturating_sub(1), &mut |row| {
                let e = row.map_err(|u| {
                    carnac_catalog::CatalogError::Corruption(format!(
                        "journal event {}: {}",
                        u.sequence, u.reason
                    ))
                })?;
                if e.sequence == after {
                    verifier = Some(ChainVerifier::resume(e.sequence, &e.hash));
                    return Ok(());
                }
                if let Some(v) = verifier.as_mut() {
                    v.push(&e);
                }
                last = e.sequence;
                only_seals &= e.event.kind == "JOURNAL_SEAL";
                hashes.push(e.hash);
                Ok(())
            })?;
        let problems = verifier.map(ChainVerifier::finish).unwrap_or_else(|| {
            vec![ChainProblem {
                sequence: after,
                code: "MISSING".into(),
                message: format!("the last sealed event {after} is missing"),
            }]
        });
        if !problems.is_empty() {
            return Err(ArchiveError::Invalid(format!(
                "the journal of tenant {tenant} is damaged, it is not sealed: {}",
                problems
                    .iter()
                    .map(|p| format!("{} event {}: {}", p.code, p.sequence, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        if hashes.is_empty() || only_seals {
            return Ok(None);
        }
        let first = after + 1;
        let root = merkle_root(&hashes).map_err(ArchiveError::Invalid)?;
        let sealed = chain_seal(&previous, &root).map_err(ArchiveError::Invalid)?;
        let token = self.timestamps.stamp(&Imprint {
            algorithm: HashAlgorithm::Sha256,
            digest: hex::decode(&sealed).map_err(|e| ArchiveError::Invalid(e.to_string()))?,
        })?;
        let operation = self.new_operation()?;
        let seal = SealRow {
            first,
            last,
            merkle_root: root,
            previous,
            sealed: sealed.clone(),
            token: token.token.clone(),
            stamped_at: token.gen_time_text.clone(),
            tsa: token.tsa.clone(),
            operation: operation.clone(),
        };
        let detail = serde_json::json!({
            "first": first,
            "last": last,
            "events": hashes.len(),
            "merkle_root": seal.merkle_root,
            "previous": seal.previous,
            "sealed": sealed,
            "stamped_at": seal.stamped_at,
            "tsa": seal.tsa,
            "qualified": !token.is_builtin(),
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: "JOURNAL_SEAL".into(),
            outcome: Status::Ok,
            time: self.now(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.record_seal(tenant, &seal, &detail, &event)?;
        tracing::info!(%tenant, first, last, "journal sealed");
        Ok(Some(SealOutcome {
            operation,
            first,
            last,
            sealed,
            stamped_at: seal.stamped_at,
            tsa: seal.tsa,
        }))
    }
}
