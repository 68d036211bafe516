//! An offer in memory, for tests of the use cases; WORM if asked ([`MemoryStore::worm`]),
//! refusing to delete a blob before its lock ends as an S3 server with Object Lock does (but
//! keeping one version of each blob: a blob written again replaces it, its lock kept if later).

use crate::{Batch, BlobError, BlobKey, BlobStore, BlobWriter, Lock};
use carnac_model::{OperationId, TenantId, Timestamp};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

type Blobs = BTreeMap<(TenantId, OperationId, String), Arc<Vec<u8>>>;

type Key = (TenantId, OperationId, String);

#[derive(Default)]
struct State {
    committed: Blobs,
    begun: BTreeSet<(TenantId, OperationId)>,
    locks: BTreeMap<Key, time::OffsetDateTime>,
}

#[derive(Clone)]
pub struct MemoryStore {
    name: String,
    state: Arc<Mutex<State>>,
    /// WORM, with this minimum retention in days.
    worm: Option<u32>,
}

impl MemoryStore {
    pub fn new(name: impl Into<String>) -> MemoryStore {
        MemoryStore {
            name: name.into(),
            state: Arc::default(),
            worm: None,
        }
    }

    /// A WORM offer whose minimum retention is `minimum_days`.
    pub fn worm(name: impl Into<String>, minimum_days: u32) -> MemoryStore {
        MemoryStore {
            worm: Some(minimum_days),
            ..MemoryStore::new(name)
        }
    }

    /// The lock of `key` if it has not ended.
    fn locked(state: &State, key: &Key) -> Option<time::OffsetDateTime> {
        state
            .locks
            .get(key)
            .copied()
            .filter(|u| *u > crate::server_now())
    }

    fn locked_error(&self, key: &Key, until: time::OffsetDateTime) -> BlobError {
        BlobError::Locked {
            offer: self.name.clone(),
            key: format!("{}/{}/{}", key.0, key.1, key.2),
            until: Some(Timestamp::from_datetime(until)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another test thread panicked; the map is still whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces a committed blob's bytes, for tests that damage a copy.
    pub fn corrupt(&self, key: &BlobKey, bytes: Vec<u8>) {
        self.lock().committed.insert(
            (key.tenant.clone(), key.batch.clone(), key.name.clone()),
            Arc::new(bytes),
        );
    }

    fn not_found(&self, key: &BlobKey) -> BlobError {
        BlobError::NotFound {
            offer: self.name.clone(),
            key: key.to_string(),
        }
    }
}

impl BlobStore for MemoryStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn begin(&self, tenant: &TenantId, batch: &OperationId) -> Result<Box<dyn Batch>, BlobError> {
        self.lock().begun.insert((tenant.clone(), batch.clone()));
        Ok(Box::new(MemoryBatch {
            store: self.clone(),
            tenant: tenant.clone(),
            batch: batch.clone(),
            pending: Arc::default(),
            names: std::collections::HashSet::new(),
            locks: HashMap::new(),
        }))
    }

    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send>, BlobError> {
        let bytes = self
            .lock()
            .committed
            .get(&(key.tenant.clone(), key.batch.clone(), key.name.clone()))
            .cloned()
            .ok_or_else(|| self.not_found(key))?;
        Ok(Box::new(io::Cursor::new(ArcBytes(bytes))))
    }

    fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        self.lock()
            .committed
            .get(&(key.tenant.clone(), key.batch.clone(), key.name.clone()))
            .map(|b| b.len() as u64)
            .ok_or_else(|| self.not_found(key))
    }

    fn discard(&self, tenant: &TenantId, batch: &OperationId) -> Result<(), BlobError> {
        let mut state = self.lock();
        let mut kept = None;
        let keys: Vec<Key> = state
            .committed
            .keys()
            .filter(|(t, b, _)| t == tenant && b == batch)
            .cloned()
            .collect();
        for key in keys {
            match Self::locked(&state, &key) {
                Some(until) => {
                    kept.get_or_insert((key, until));
                }
                None => {
                    state.committed.remove(&key);
                }
            }
        }
        state.begun.remove(&(tenant.clone(), batch.clone()));
        match kept {
            Some((key, until)) => Err(self.locked_error(&key, until)),
            None => Ok(()),
        }
    }

    fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.delete_all(std::slice::from_ref(key))
    }

    fn delete_all(&self, keys: &[BlobKey]) -> Result<(), BlobError> {
        if let Some(key) = keys.iter().find(|k| !BlobKey::check_name(&k.name)) {
            return Err(BlobError::Invalid {
                offer: self.name.clone(),
                message: format!("invalid blob name {:?}", key.name),
            });
        }
        let mut state = self.lock();
        let mut kept = None;
        for key in keys {
            let key = (key.tenant.clone(), key.batch.clone(), key.name.clone());
            match Self::locked(&state, &key) {
                Some(until) => {
                    kept.get_or_insert((key, until));
                }
                None => {
                    state.committed.remove(&key);
                }
            }
        }
        match kept {
            Some((key, until)) => Err(self.locked_error(&key, until)),
            None => Ok(()),
        }
    }

    fn is_worm(&self) -> bool {
        self.worm.is_some()
    }

    fn locked_until(&self, key: &BlobKey) -> Result<Option<Timestamp>, BlobError> {
        let state = self.lock();
        let key = (key.tenant.clone(), key.batch.clone(), key.name.clone());
        if !state.committed.contains_key(&key) {
            return Err(BlobError::NotFound {
                offer: self.name.clone(),
                key: format!("{}/{}/{}", key.0, key.1, key.2),
            });
        }
        Ok(Self::locked(&state, &key).map(Timestamp::from_datetime))
    }

    fn batches(&self) -> Result<Vec<(TenantId, OperationId)>, BlobError> {
        let state = self.lock();
        let mut all: BTreeSet<_> = state.begun.clone();
        all.extend(
            state
                .committed
                .keys()
                .map(|(t, b, _)| (t.clone(), b.clone())),
        );
        Ok(all.into_iter().collect())
    }

    fn probe(&self) -> Result<(), BlobError> {
        Ok(())
    }

    fn list(&self, tenant: &TenantId, batch: &OperationId) -> Result<Vec<String>, BlobError> {
        Ok(self
            .lock()
            .committed
            .keys()
            .filter(|(t, b, _)| t == tenant && b == batch)
            .map(|(_, _, n)| n.clone())
            .collect())
    }
}

struct ArcBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

type Pending = Arc<Mutex<Vec<(String, Arc<Mutex<Vec<u8>>>, bool)>>>;

struct MemoryBatch {
    store: MemoryStore,
    tenant: TenantId,
    batch: OperationId,
    pending: Pending,
    /// Names written in this batch, to refuse a second one in constant time.
    names: std::collections::HashSet<String>,
    locks: HashMap<String, Lock>,
}

impl Batch for MemoryBatch {
    fn create(&mut self, name: &str) -> Result<Box<dyn BlobWriter + '_>, BlobError> {
        if !BlobKey::check_name(name) {
            return Err(BlobError::Invalid {
                offer: self.store.name.clone(),
                message: format!("invalid blob name {name:?}"),
            });
        }
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !self.names.insert(name.to_owned()) {
            return Err(BlobError::Invalid {
                offer: self.store.name.clone(),
                message: format!("blob {name:?} is written twice in one batch"),
            });
        }
        pending.push((name.to_owned(), buf.clone(), false));
        let index = pending.len() - 1;
        Ok(Box::new(MemoryWriter {
            pending: self.pending.clone(),
            index,
            buf,
        }))
    }

    fn lock(&mut self, name: &str, lock: Lock) {
        self.locks.insert(name.to_owned(), lock);
    }

    fn commit(self: Box<Self>) -> Result<(), BlobError> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((name, _, _)) = pending.iter().find(|(_, _, finished)| !finished) {
            return Err(BlobError::Invalid {
                offer: self.store.name.clone(),
                message: format!("blob {name:?} was not finished; the batch cannot be committed"),
            });
        }
        let now = crate::server_now();
        let mut state = self.store.lock();
        for (name, buf, _) in pending.iter() {
            let bytes = buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let key = (self.tenant.clone(), self.batch.clone(), name.clone());
            let lock = self.locks.get(name).cloned().unwrap_or_default();
            if let Some(until) = self.store.worm.and_then(|days| lock.until(days, now)) {
                let slot = state.locks.entry(key.clone()).or_insert(until);
                *slot = (*slot).max(until);
            }
            state.committed.insert(key, Arc::new(bytes));
        }
        Ok(())
    }
}

struct MemoryWriter {
    pending: Pending,
    index: usize,
    buf: Arc<Mutex<Vec<u8>>>,
}

impl Write for MemoryWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobWriter for MemoryWriter {
    fn finish(self: Box<Self>) -> Result<u64, BlobError> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending[self.index].2 = true;
        Ok(self.buf.lock().unwrap_or_else(|p| p.into_inner()).len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        crate::conformance::run(&MemoryStore::new("memory"));
        crate::conformance::run(&MemoryStore::worm("memory-worm", 0));
    }

    #[test]
    fn a_worm_store_keeps_a_locked_blob() {
        crate::conformance::worm(&MemoryStore::worm("memory-worm", 0));
    }
}
