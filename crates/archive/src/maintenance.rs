//! What the archive does on its own, at every seal interval of `serve` and on `carnac
//! maintain`: for each tenant, evidence records for the files that have none, deposit
//! attestations for the transfers that have none, timestamp renewals that are due, and a
//! seal of the journal; before them, the eliminations whose execution was left unfinished
//! are completed and the delivered packages whose time is up are removed. Each duty may fail (a TSA unreachable) without stopping the others:
//! what was not done is done at the next pass.

use crate::{Archive, ArchiveError};
use carnac_model::{OperationId, TenantId};

/// What one pass did, and what failed.
#[derive(Debug, Default)]
pub struct Maintenance {
    pub done: Vec<(TenantId, Duty)>,
    /// What could not be done, with why; tried again at the next pass.
    pub failed: Vec<(Option<TenantId>, &'static str, ArchiveError)>,
}

impl Maintenance {
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// One duty done for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Duty {
    /// Evidence trees made (one per digest algorithm of the files without a record).
    Evidence {
        trees: usize,
    },
    DepositAttested {
        operation: OperationId,
    },
    TimestampsRenewed {
        trees: usize,
    },
    /// Units ingested before their management was kept, given it from their manifests.
    ManagementFilled {
        units: usize,
    },
    /// Events `first` to `last` sealed.
    Sealed {
        first: u64,
        last: u64,
    },
    /// An elimination's execution left unfinished (an offer that failed) completed.
    ExecutionCompleted {
        elimination: OperationId,
    },
    /// A delivered package removed, its time up.
    PackageRemoved {
        delivery: OperationId,
    },
    /// Web sessions ended, idle or open too long (in the platform's journal).
    SessionsExpired {
        sessions: usize,
    },
}

impl Duty {
    /// Its kind, as the metrics name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Duty::Evidence { .. } => "evidence",
            Duty::DepositAttested { .. } => "attestation",
            Duty::TimestampsRenewed { .. } => "renewal",
            Duty::ManagementFilled { .. } => "management_fill",
            Duty::Sealed { .. } => "seal",
            Duty::ExecutionCompleted { .. } => "execution_completion",
            Duty::PackageRemoved { .. } => "package_removal",
            Duty::SessionsExpired { .. } => "session_expiry",
        }
    }
}

impl std::fmt::Display for Duty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Duty::Evidence { trees } => write!(f, "{trees} evidence tree(s) made"),
            Duty::DepositAttested { operation } => write!(f, "deposit {operation} attested"),
            Duty::ManagementFilled { units } => {
                write!(f, "management rules of {units} earlier unit(s) filled")
            }
            Duty::TimestampsRenewed { trees } => {
                write!(f, "{trees} evidence timestamp renewal(s)")
            }
            Duty::Sealed { first, last } => write!(f, "events {first} to {last} sealed"),
            Duty::ExecutionCompleted { elimination } => {
                write!(f, "the execution of elimination {elimination} completed")
            }
            Duty::PackageRemoved { delivery } => {
                write!(f, "the package of delivery {delivery} removed")
            }
            Duty::SessionsExpired { sessions } => {
                write!(f, "{sessions} web session(s) ended, idle or open too long")
            }
        }
    }
}

impl Archive {
    /// One pass of every duty over every tenant; `renew_before` is how long before their
    /// certificates end evidence timestamps are renewed.
    pub fn maintain(&self, renew_before: std::time::Duration) -> Maintenance {
        let mut m = Maintenance::default();
        match self.complete_executions() {
            Ok(list) => {
                for (t, elimination, done) in list {
                    match done {
                        Ok(()) => m.done.push((t, Duty::ExecutionCompleted { elimination })),
                        Err(e) => {
                            m.failed
                                .push((Some(t), "completing an elimination's execution", e))
                        }
                    }
                }
            }
            Err(e) => m
                .failed
                .push((None, "listing the executions to complete", e)),
        }
        match self.remove_expired_deliveries() {
            Ok(list) => m.done.extend(
                list.into_iter()
                    .map(|(t, delivery)| (t, Duty::PackageRemoved { delivery })),
            ),
            Err(e) => m
                .failed
                .push((None, "removing delivered packages whose time is up", e)),
        }
        match self.expire_web_sessions() {
            Ok(0) => {}
            Ok(sessions) => match self.platform() {
                Ok(p) => m.done.push((p, Duty::SessionsExpired { sessions })),
                Err(e) => m.failed.push((None, "naming the platform's journal", e)),
            },
            Err(e) => m
                .failed
                .push((None, "ending web sessions idle or open too long", e)),
        }
        let tenants = match self.catalog.tenants() {
            Ok(t) => t,
            Err(e) => {
                m.failed.push((None, "listing the tenants", e.into()));
                return m;
            }
        };
        for t in tenants {
            let t = t.id;
            match self.fill_management(&t) {
                Ok(0) => {}
                Ok(units) => m.done.push((t.clone(), Duty::ManagementFilled { units })),
                Err(e) => m.failed.push((
                    Some(t.clone()),
                    "filling earlier units' management rules",
                    e,
                )),
            }
            match self.create_evidence(&t, "system") {
                Ok(b) if !b.is_empty() => {
                    m.done.push((t.clone(), Duty::Evidence { trees: b.len() }))
                }
                Ok(_) => {}
                Err(e) => m
                    .failed
                    .push((Some(t.clone()), "making evidence records", e)),
            }
            match self.unattested(&t) {
                Ok(ops) => {
                    for operation in ops {
                        match self.attest_deposit(&t, &operation, "system") {
                            Ok(_) => m
                                .done
                                .push((t.clone(), Duty::DepositAttested { operation })),
                            Err(e) => m.failed.push((Some(t.clone()), "attesting a deposit", e)),
                        }
                    }
                }
                Err(e) => m
                    .failed
                    .push((Some(t.clone()), "listing deposits to attest", e)),
            }
            match self.renew_timestamps(&t, renew_before, false, "system") {
                Ok(b) if !b.is_empty() => m
                    .done
                    .push((t.clone(), Duty::TimestampsRenewed { trees: b.len() })),
                Ok(_) => {}
                Err(e) => m
                    .failed
                    .push((Some(t.clone()), "renewing evidence timestamps", e)),
            }
            match self.seal(&t, "system") {
                Ok(Some(s)) => m.done.push((
                    t.clone(),
                    Duty::Sealed {
                        first: s.first,
                        last: s.last,
                    },
                )),
                Ok(None) => {}
                Err(e) => m.failed.push((Some(t.clone()), "sealing the journal", e)),
            }
        }
        for (_, duty) in &m.done {
            self.stats.duty(duty.kind());
        }
        for _ in &m.failed {
            self.stats.duty_failed();
        }
        m
    }
}
