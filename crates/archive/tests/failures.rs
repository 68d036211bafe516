//! When an offer fails in the middle of an ingest, the ingest cannot run: the caller gets an
//! error (the CLI exits 1), the operation is closed as failed in the journal with the reason,
//! and nothing of the transfer remains in any offer, even one that had already committed.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_blobstore::BlobStore;
use carnac_blobstore::faulty::{Fault, FaultyStore};
use carnac_blobstore::memory::MemoryStore;
use carnac_catalog::OperationState;
use carnac_model::Status;
use common::*;
use std::sync::Arc;

fn with_failing_second_offer(fault: Fault) -> Fixture {
    let offers = vec![MemoryStore::new("offer-1"), MemoryStore::new("offer-2")];
    let stores: Vec<Arc<dyn BlobStore>> = vec![
        Arc::new(offers[0].clone()),
        Arc::new(FaultyStore::new(offers[1].clone(), fault)),
    ];
    fixture_stores(Default::default(), None, offers, stores)
}

#[test]
fn a_storage_failure_keeps_nothing_and_is_journaled() {
    for fault in [Fault::WriteAfter(50_000), Fault::Commit] {
        let f = with_failing_second_offer(fault);
        let t = f.tenant_with("0", "tenant-0");
        let r = f
            .archive
            .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test");
        let err = r.expect_err("the ingest cannot complete");
        assert!(
            err.to_string().contains("injected fault"),
            "{fault:?}: {err}"
        );
        f.assert_nothing_stored(&t);
        let ops = f.archive.catalog().operations(&t).unwrap();
        let ingest = ops.iter().find(|o| o.kind == "INGEST").unwrap();
        assert_eq!(
            (ingest.state, ingest.status),
            (OperationState::Done, Some(Status::Ko)),
            "{fault:?}"
        );
        let last = f.archive.catalog().journal(&t).unwrap().pop().unwrap();
        assert_eq!(
            (last.event.kind.as_str(), last.event.outcome),
            ("INGEST", Status::Ko)
        );
        assert!(
            last.event.detail.to_string().contains("injected fault"),
            "{}",
            last.event.detail
        );
        assert!(f.archive.catalog().running_operations().unwrap().is_empty());
    }
}
