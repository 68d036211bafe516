//! What this process has done since it started, counted for monitoring (`/metrics`):
//! ingests by tenant and status, maintenance duties done and failed, audits and their
//! findings. Counters only (a restart starts them again, as Prometheus expects); what the
//! archive holds is the catalog's to say.

use carnac_model::{Status, TenantId};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
}

/// The counters at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Ingests that ended, by tenant and status (`OK`, `WARNING`, `KO`).
    pub ingests: BTreeMap<(TenantId, &'static str), u64>,
    /// Ingests that could not run (storage failed, the tenant suspended meanwhile…).
    pub ingest_errors: u64,
    /// Maintenance duties done, by kind (`seal`, `evidence`, `renewal`…), and failed.
    pub duties: BTreeMap<&'static str, u64>,
    pub duties_failed: u64,
    /// Audits run, and copies found damaged or missing by them.
    pub audits: u64,
    pub audit_damage: u64,
}

impl Stats {
    fn with(&self, f: impl FnOnce(&mut StatsSnapshot)) {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn ingest(&self, tenant: &TenantId, status: Option<Status>) {
        self.with(|s| match status {
            Some(st) => *s.ingests.entry((tenant.clone(), st.as_str())).or_default() += 1,
            None => s.ingest_errors += 1,
        });
    }

    pub(crate) fn duty(&self, kind: &'static str) {
        self.with(|s| *s.duties.entry(kind).or_default() += 1);
    }

    pub(crate) fn duty_failed(&self) {
        self.with(|s| s.duties_failed += 1);
    }

    pub(crate) fn audit(&self, damaged: u64) {
        self.with(|s| {
            s.audits += 1;
            s.audit_damage += damaged;
        });
    }
}
