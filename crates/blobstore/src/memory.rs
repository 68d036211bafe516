//! An offer in memory, for tests of the use cases.

use crate::{Batch, BlobError, BlobKey, BlobStore, BlobWriter};
use carnac_model::{OperationId, TenantId};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

type Blobs = BTreeMap<(TenantId, OperationId, String), Arc<Vec<u8>>>;

#[derive(Default)]
struct State {
    committed: Blobs,
    begun: BTreeSet<(TenantId, OperationId)>,
}

#[derive(Clone)]
pub struct MemoryStore {
    name: String,
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new(name: impl Into<String>) -> MemoryStore {
        MemoryStore {
            name: name.into(),
            state: Arc::default(),
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
        state
            .committed
            .retain(|(t, b, _), _| !(t == tenant && b == batch));
        state.begun.remove(&(tenant.clone(), batch.clone()));
        Ok(())
    }

    fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        if !BlobKey::check_name(&key.name) {
            return Err(BlobError::Invalid {
                offer: self.name.clone(),
                message: format!("invalid blob name {:?}", key.name),
            });
        }
        self.lock()
            .committed
            .remove(&(key.tenant.clone(), key.batch.clone(), key.name.clone()));
        Ok(())
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

    fn commit(self: Box<Self>) -> Result<(), BlobError> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((name, _, _)) = pending.iter().find(|(_, _, finished)| !finished) {
            return Err(BlobError::Invalid {
                offer: self.store.name.clone(),
                message: format!("blob {name:?} was not finished; the batch cannot be committed"),
            });
        }
        let mut state = self.store.lock();
        for (name, buf, _) in pending.iter() {
            let bytes = buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
            state.committed.insert(
                (self.tenant.clone(), self.batch.clone(), name.clone()),
                Arc::new(bytes),
            );
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
    #[test]
    fn conformance() {
        crate::conformance::run(&super::MemoryStore::new("memory"));
    }
}
