//! Work shared fairly: a gate lets a few requests of a kind run at once in all, and one
//! tenant (or one account) at most a share of them, so that one party's heavy or many
//! requests queue behind each other rather than in front of everyone else's. A request that
//! cannot enter within its time limit is answered "busy" rather than queued without end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) struct FairGate {
    total: Arc<Semaphore>,
    per_tenant: usize,
    /// By tenant or account: only the authenticated ones, so the map is bounded by them.
    parties: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The right to run, given back when dropped.
pub(crate) struct FairPermit {
    _tenant: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

impl FairGate {
    /// `total` at once in all, `per_tenant` (at most `total`) at once for one tenant.
    pub(crate) fn new(total: usize, per_tenant: usize) -> FairGate {
        let total = total.max(1);
        FairGate {
            total: Arc::new(Semaphore::new(total)),
            per_tenant: per_tenant.clamp(1, total),
            parties: Mutex::new(HashMap::new()),
        }
    }

    /// Waits (at most `wait`) for the party's turn, then for a place among all; `None` when
    /// neither came in time. A party's own requests wait first behind each other (its
    /// share), so that they never hold more than that share of the places.
    pub(crate) async fn enter(&self, party: &str, wait: Duration) -> Option<FairPermit> {
        let mine = {
            let mut parties = self.parties.lock().unwrap_or_else(|p| p.into_inner());
            parties
                .entry(party.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
                .clone()
        };
        let entered = async {
            let t = mine.acquire_owned().await.ok()?;
            let all = self.total.clone().acquire_owned().await.ok()?;
            Some(FairPermit {
                _tenant: t,
                _total: all,
            })
        };
        tokio::time::timeout(wait, entered).await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_holds_its_share_and_others_still_enter() {
        let gate = FairGate::new(4, 2);
        let (a, b, c) = ("a", "b", "c");
        let short = Duration::from_millis(50);
        let _a1 = gate.enter(a, short).await.unwrap();
        let _a2 = gate.enter(a, short).await.unwrap();
        assert!(gate.enter(a, short).await.is_none(), "a's share is two");
        let b1 = gate.enter(b, short).await.unwrap();
        let _b2 = gate.enter(b, short).await.unwrap();
        assert!(gate.enter(c, short).await.is_none(), "four in all");
        drop(b1);
        assert!(gate.enter(c, short).await.is_some(), "a place came back");
    }
}
