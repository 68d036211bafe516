//! An offer that fails on purpose, wrapping another: to test that a storage failure at any
//! step leaves nothing behind.

use crate::{Batch, BlobError, BlobKey, BlobStore, BlobWriter, Lock};
use carnac_model::{OperationId, TenantId, Timestamp};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where the wrapped offer fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every write fails once this many bytes have been written through the offer.
    WriteAfter(u64),
    /// Every batch commit fails.
    Commit,
}

pub struct FaultyStore<S> {
    inner: S,
    fault: Fault,
    written: Arc<AtomicU64>,
}

impl<S: BlobStore> FaultyStore<S> {
    pub fn new(inner: S, fault: Fault) -> Self {
        FaultyStore {
            inner,
            fault,
            written: Arc::default(),
        }
    }
}

fn injected(offer: &str, what: &str) -> BlobError {
    BlobError::Io {
        offer: offer.to_owned(),
        context: format!("injected fault: {what}"),
        source: io::Error::other("injected fault"),
    }
}

impl<S: BlobStore> BlobStore for FaultyStore<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn begin(&self, tenant: &TenantId, batch: &OperationId) -> Result<Box<dyn Batch>, BlobError> {
        Ok(Box::new(FaultyBatch {
            inner: self.inner.begin(tenant, batch)?,
            offer: self.inner.name().to_owned(),
            fault: self.fault,
            written: self.written.clone(),
        }))
    }

    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send>, BlobError> {
        self.inner.open(key)
    }

    fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        self.inner.size(key)
    }

    fn discard(&self, tenant: &TenantId, batch: &OperationId) -> Result<(), BlobError> {
        self.inner.discard(tenant, batch)
    }

    fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.inner.delete(key)
    }

    fn delete_all(&self, keys: &[BlobKey]) -> Result<(), BlobError> {
        self.inner.delete_all(keys)
    }

    fn batches(&self) -> Result<Vec<(TenantId, OperationId)>, BlobError> {
        self.inner.batches()
    }

    fn list(&self, tenant: &TenantId, batch: &OperationId) -> Result<Vec<String>, BlobError> {
        self.inner.list(tenant, batch)
    }

    fn probe(&self) -> Result<(), BlobError> {
        self.inner.probe()
    }

    fn is_worm(&self) -> bool {
        self.inner.is_worm()
    }

    fn locked_until(&self, key: &BlobKey) -> Result<Option<Timestamp>, BlobError> {
        self.inner.locked_until(key)
    }
}

struct FaultyBatch {
    inner: Box<dyn Batch>,
    offer: String,
    fault: Fault,
    written: Arc<AtomicU64>,
}

impl Batch for FaultyBatch {
    fn create(&mut self, name: &str) -> Result<Box<dyn BlobWriter + '_>, BlobError> {
        let inner = self.inner.create(name)?;
        Ok(Box::new(FaultyWriter {
            inner,
            fault: self.fault,
            written: self.written.clone(),
        }))
    }

    fn lock(&mut self, name: &str, lock: Lock) {
        self.inner.lock(name, lock);
    }

    fn commit(self: Box<Self>) -> Result<(), BlobError> {
        if self.fault == Fault::Commit {
            return Err(injected(&self.offer, "commit"));
        }
        self.inner.commit()
    }
}

struct FaultyWriter<'a> {
    inner: Box<dyn BlobWriter + 'a>,
    fault: Fault,
    written: Arc<AtomicU64>,
}

impl Write for FaultyWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Fault::WriteAfter(limit) = self.fault
            && self.written.load(Ordering::Relaxed) + buf.len() as u64 > limit
        {
            return Err(io::Error::other("injected fault: write"));
        }
        let n = self.inner.write(buf)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl BlobWriter for FaultyWriter<'_> {
    fn finish(self: Box<Self>) -> Result<u64, BlobError> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    #[test]
    fn conformance_without_faults() {
        crate::conformance::run(&FaultyStore::new(
            MemoryStore::new("faulty"),
            Fault::WriteAfter(u64::MAX),
        ));
    }

    #[test]
    fn faults_happen_where_asked() {
        let (t, op) = (TenantId::new("t").unwrap(), OperationId::new("op").unwrap());
        let store = FaultyStore::new(MemoryStore::new("faulty"), Fault::WriteAfter(10));
        let mut b = store.begin(&t, &op).unwrap();
        let mut w = b.create("x").unwrap();
        w.write_all(b"0123456789").unwrap();
        assert!(w.write_all(b"!").is_err());
        let store = FaultyStore::new(MemoryStore::new("faulty"), Fault::Commit);
        let mut b = store.begin(&t, &op).unwrap();
        b.create("x").unwrap().finish().unwrap();
        assert!(b.commit().is_err());
    }
}
