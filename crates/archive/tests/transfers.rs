//! Transfers received over the network: journaled and queued before anyone is answered,
//! ingested by the worker under the operation given at receipt, resumed after a stop, and
//! refused (keeping nothing) for a suspended tenant.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_blobstore::BlobStore;
use carnac_catalog::OperationState;
use common::*;
use std::io::Write;

/// A container copied into the incoming folder, as the HTTP layer leaves it.
fn upload(f: &Fixture, name: &str, sip: &str) -> std::path::PathBuf {
    let path = f.archive.incoming_dir().join(format!(".upload-{name}"));
    std::fs::copy(testdata().join("seda").join(sip), &path).unwrap();
    path
}

fn kinds(f: &Fixture, tenant: &carnac_model::TenantId, op: &str) -> Vec<String> {
    f.archive
        .catalog()
        .journal(tenant)
        .unwrap()
        .into_iter()
        .filter(|e| e.event.operation.as_str() == op)
        .map(|e| e.event.kind.to_string())
        .collect()
}

fn incoming(f: &Fixture) -> Vec<String> {
    std::fs::read_dir(f.archive.incoming_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn a_received_transfer_is_journaled_then_ingested_under_its_operation() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let path = upload(&f, "1", "OK_SIP-test-md5.zip");
    let q = f.archive.receive_transfer(&t, &path, "pastell").unwrap();
    assert!(!path.exists(), "the upload became the queued transfer's");
    assert_eq!(incoming(&f).len(), 1);
    assert_eq!(
        f.archive.catalog().queued_transfers().unwrap(),
        vec![q.clone()]
    );
    assert_eq!(kinds(&f, &t, q.operation.as_str()), ["TRANSFER_RECEIVED"]);
    assert!(
        f.archive
            .catalog()
            .operation(&t, &q.operation)
            .unwrap()
            .is_none()
    );

    f.archive.process_transfer(&q).unwrap();
    let op = f
        .archive
        .catalog()
        .operation(&t, &q.operation)
        .unwrap()
        .unwrap();
    assert_eq!(op.state, OperationState::Done);
    assert_eq!(op.status, Some(carnac_model::Status::Ok));
    assert_eq!(op.agent.as_deref(), Some("pastell"), "the sender owns it");
    assert_eq!(
        kinds(&f, &t, q.operation.as_str())[..3],
        ["TRANSFER_RECEIVED", "TRANSFER_ACKNOWLEDGED", "INGEST"]
    );
    assert!(f.archive.catalog().queued_transfers().unwrap().is_empty());
    assert!(incoming(&f).is_empty(), "the container goes once ingested");
}

#[test]
fn an_interrupted_ingest_is_started_again_and_keeps_nothing_of_the_first_try() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let q = f
        .archive
        .receive_transfer(&t, &upload(&f, "1", "OK_SIP-test-md5.zip"), "pastell")
        .unwrap();
    // The process stopped in the middle of the ingest: the operation is running and an
    // offer holds part of its files.
    f.archive
        .catalog()
        .start_operation(
            &t,
            &q.operation,
            &"INGEST".into(),
            &carnac_model::Timestamp::parse("2026-11-29T04:00:00Z").unwrap(),
            "pastell",
        )
        .unwrap();
    let mut batch = f.offers[0].begin(&t, &q.operation).unwrap();
    let mut w = batch.create("partial").unwrap();
    w.write_all(b"half a file").unwrap();
    w.finish().unwrap();
    batch.commit().unwrap();
    // Leftovers of an upload that was being received.
    std::fs::write(f.archive.incoming_dir().join(".upload-dead"), b"x").unwrap();

    let closed = f.archive.recover().unwrap();
    assert!(closed.is_empty(), "nothing is closed as failed: {closed:?}");
    assert!(
        f.offers[0].batches().unwrap().is_empty(),
        "partial blobs discarded"
    );
    assert!(
        f.archive
            .catalog()
            .operation(&t, &q.operation)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        f.archive.catalog().queued_transfers().unwrap(),
        vec![q.clone()]
    );
    assert_eq!(
        incoming(&f).len(),
        1,
        "the container waits; the dead upload is gone"
    );

    f.archive.process_transfer(&q).unwrap();
    let op = f
        .archive
        .catalog()
        .operation(&t, &q.operation)
        .unwrap()
        .unwrap();
    assert_eq!(op.status, Some(carnac_model::Status::Ok));
    assert_eq!(
        kinds(&f, &t, q.operation.as_str())[..4],
        [
            "TRANSFER_RECEIVED",
            "INGEST_RESUMED",
            "TRANSFER_ACKNOWLEDGED",
            "INGEST"
        ]
    );
    assert!(
        f.archive
            .verify_journal(&t, "test")
            .unwrap()
            .problems
            .is_empty()
    );
}

#[test]
fn a_suspended_tenant_takes_no_transfer_and_keeps_nothing_of_it() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    f.archive.suspend_tenant(&t, true, "operator").unwrap();
    let path = upload(&f, "1", "OK_SIP-test-md5.zip");
    let err = f
        .archive
        .receive_transfer(&t, &path, "pastell")
        .unwrap_err();
    assert!(
        matches!(err, carnac_archive::ArchiveError::Suspended(_)),
        "{err}"
    );
    assert!(incoming(&f).is_empty());
    assert!(f.archive.catalog().queued_transfers().unwrap().is_empty());

    // Received before the suspension, ingested after it: refused, with the reason.
    f.archive.suspend_tenant(&t, false, "operator").unwrap();
    let q = f
        .archive
        .receive_transfer(&t, &upload(&f, "2", "OK_SIP-test-md5.zip"), "pastell")
        .unwrap();
    f.archive.suspend_tenant(&t, true, "operator").unwrap();
    f.archive.process_transfer(&q).unwrap();
    let op = f
        .archive
        .catalog()
        .operation(&t, &q.operation)
        .unwrap()
        .unwrap();
    assert_eq!(op.status, Some(carnac_model::Status::Ko));
    assert!(
        op.summary.unwrap().to_string().contains("suspended"),
        "the reason is recorded"
    );
    assert!(incoming(&f).is_empty());
    f.assert_nothing_stored(&t);
}

/// An offer whose batches for one tenant wait at their start until the test opens the gate:
/// that tenant's ingests are as slow as the test wants.
struct Gated {
    inner: carnac_blobstore::memory::MemoryStore,
    tenant: carnac_model::TenantId,
    open: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl BlobStore for Gated {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn begin(
        &self,
        tenant: &carnac_model::TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<Box<dyn carnac_blobstore::Batch>, carnac_blobstore::BlobError> {
        if *tenant == self.tenant {
            let (lock, cv) = &*self.open;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
        }
        self.inner.begin(tenant, batch)
    }
    fn open(
        &self,
        key: &carnac_blobstore::BlobKey,
    ) -> Result<Box<dyn std::io::Read + Send>, carnac_blobstore::BlobError> {
        self.inner.open(key)
    }
    fn size(&self, key: &carnac_blobstore::BlobKey) -> Result<u64, carnac_blobstore::BlobError> {
        self.inner.size(key)
    }
    fn discard(
        &self,
        tenant: &carnac_model::TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<(), carnac_blobstore::BlobError> {
        self.inner.discard(tenant, batch)
    }
    fn delete(&self, key: &carnac_blobstore::BlobKey) -> Result<(), carnac_blobstore::BlobError> {
        self.inner.delete(key)
    }
    fn batches(
        &self,
    ) -> Result<Vec<(carnac_model::TenantId, carnac_model::OperationId)>, carnac_blobstore::BlobError>
    {
        self.inner.batches()
    }
    fn probe(&self) -> Result<(), carnac_blobstore::BlobError> {
        self.inner.probe()
    }

    fn list(
        &self,
        tenant: &carnac_model::TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<Vec<String>, carnac_blobstore::BlobError> {
        self.inner.list(tenant, batch)
    }
}

/// Issue 14 §3: one worker ingested every tenant's transfers in arrival order, so a slow
/// transfer of one tenant held every other tenant's queue. Tenants are now served in turn
/// by several workers, one transfer of each at a time: while tenant A's transfer is stuck,
/// tenant B's is ingested at once, and A's next transfer does not take B's place.
#[test]
fn a_slow_transfer_of_one_tenant_does_not_hold_another_tenants() {
    let offers = vec![
        carnac_blobstore::memory::MemoryStore::new("offer-1"),
        carnac_blobstore::memory::MemoryStore::new("offer-2"),
    ];
    let gate = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let a = tenant("a");
    let stores: Vec<std::sync::Arc<dyn BlobStore>> = offers
        .iter()
        .map(|o| {
            std::sync::Arc::new(Gated {
                inner: o.clone(),
                tenant: a.clone(),
                open: gate.clone(),
            }) as std::sync::Arc<dyn BlobStore>
        })
        .collect();
    let f = fixture_stores(
        carnac_archive::IngestConfig::default(),
        None,
        offers,
        stores,
    );
    f.tenant_with("a", "tenant-0");
    let b = f.tenant_with("b", "tenant-0");
    let a1 = f
        .archive
        .receive_transfer(&a, &upload(&f, "a1", "OK_SIP-test-md5.zip"), "p")
        .unwrap();
    let a2 = f
        .archive
        .receive_transfer(&a, &upload(&f, "a2", "OK_SIP-test-md5.zip"), "p")
        .unwrap();
    let b1 = f
        .archive
        .receive_transfer(&b, &upload(&f, "b1", "OK_SIP-test-md5.zip"), "p")
        .unwrap();
    let Fixture { archive, tmp, .. } = f;
    let archive = std::sync::Arc::new(archive);
    let worker = carnac_archive::transfers::Worker::start(archive.clone()).unwrap();
    // Declared after the worker, dropped before it: a failed assertion opens the gate, and
    // the worker's threads, which the drop joins, are not left waiting at it forever.
    struct OpenOnDrop(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);
    impl Drop for OpenOnDrop {
        fn drop(&mut self) {
            *self.0.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
            self.0.1.notify_all();
        }
    }
    let _open_on_failure = OpenOnDrop(gate.clone());
    let state = |t: &carnac_model::TenantId, q: &carnac_catalog::QueuedTransfer| {
        archive
            .catalog()
            .operation(t, &q.operation)
            .unwrap()
            .map(|o| o.state)
    };
    let mut waited = 0;
    while state(&b, &b1) != Some(OperationState::Done) {
        assert!(waited < 600, "tenant b's transfer waited behind tenant a's");
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    // a1 started (on a loaded machine, maybe after b1 ended) and is stuck at the gate.
    waited = 0;
    while state(&a, &a1) != Some(OperationState::Running) {
        assert!(waited < 600, "a1 never started: {:?}", state(&a, &a1));
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    assert_eq!(state(&a, &a2), None, "a's next waits its turn, behind a1");
    // The gate opens: a's transfers go through, in their order.
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    waited = 0;
    while state(&a, &a2) != Some(OperationState::Done) {
        assert!(waited < 600, "a's transfers never ended");
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    assert_eq!(state(&a, &a1), Some(OperationState::Done));
    worker.finish();
    drop(tmp);
}
