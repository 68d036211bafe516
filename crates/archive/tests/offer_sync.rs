//! An offer added to a running archive, filled by `Archive::sync_offer`: what fails leaves
//! nothing recorded; what succeeds is recorded once, journaled, and holds the catalog's
//! bytes.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_blobstore::faulty::{Fault, FaultyStore};
use carnac_blobstore::memory::MemoryStore;
use carnac_blobstore::{BlobKey, BlobStore, read_all};
use carnac_model::journal::EventKind;
use common::*;
use std::sync::Arc;

#[test]
fn a_new_offer_is_filled_once_and_a_failure_records_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn carnac_catalog::Catalog> =
        Arc::new(carnac_catalog::sqlite::SqliteCatalog::in_memory().unwrap());
    let first = MemoryStore::new("offer-1");
    let second = MemoryStore::new("offer-2");
    let third = MemoryStore::new("offer-3");
    let with = |offers: Vec<Arc<dyn BlobStore>>| {
        carnac_testkit::archive_reopened(catalog.clone(), offers, &tmp.path().join("tmp"))
    };
    let two: Vec<Arc<dyn BlobStore>> = vec![Arc::new(first.clone()), Arc::new(second.clone())];
    let before = with(two.clone());
    let t = tenant("0");
    before.create_tenant(&t, "tenant-0", "test").unwrap();
    before
        .import_referentials(&t, &testdata().join("referentials/tenant-0"), "test")
        .unwrap();
    let outcome = before
        .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    // More transfers: more files than a check names one by one.
    for _ in 0..5 {
        before
            .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
            .unwrap();
    }
    let three = |target: Arc<dyn BlobStore>| {
        let mut offers = two.clone();
        offers.push(target);
        with(offers)
    };
    let syncs = |archive: &carnac_archive::Archive| {
        archive
            .catalog()
            .journal(&t)
            .unwrap()
            .iter()
            .filter(|e| e.event.kind == EventKind::OfferSync)
            .count()
    };
    let in_third = |archive: &carnac_archive::Archive| {
        archive
            .catalog()
            .copies(&t)
            .unwrap()
            .iter()
            .filter(|(_, c)| c.offer == "offer-3")
            .count()
    };

    // The new offer refuses its commits: an error, nothing recorded, nothing journaled.
    let failing = three(Arc::new(FaultyStore::new(third.clone(), Fault::Commit)));
    let err = failing
        .sync_offer("offer-3", "test", &carnac_archive::ports::NoProgress)
        .unwrap_err();
    assert!(err.to_string().contains("injected fault"), "{err}");
    assert_eq!(in_third(&failing), 0);
    assert_eq!(syncs(&failing), 0);
    assert!(third.list(&t, &op).unwrap().is_empty());

    // Then it works: every object recorded once, with the catalog's bytes.
    let archive = three(Arc::new(third.clone()));
    // Before: the check names the first files missing, then counts them.
    let problems = archive.check_consistency(false).unwrap();
    let named = problems
        .iter()
        .filter(|p| p.starts_with("offer offer-3:") && p.ends_with("is missing"))
        .count();
    assert_eq!(
        named as u64,
        carnac_archive::consistency::SHOWN_PER_KIND,
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("more files missing")
            && p.contains("carnac offers sync --offer offer-3")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("more objects short of copies")),
        "{problems:#?}"
    );
    let report = archive
        .sync_offer("offer-3", "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    let objects = archive.catalog().objects_of_operation(&t, &op).unwrap();
    let stored: Vec<_> = objects.iter().filter(|o| !o.physical).collect();
    assert!(!stored.is_empty());
    assert_eq!(in_third(&archive), 6 * stored.len(), "six transfers' files");
    assert!(
        report.copied as usize > stored.len(),
        "and the kept files: {report:?}"
    );
    assert!(report.failed.is_empty() && report.bad_sources.is_empty());
    assert_eq!(syncs(&archive), 1);
    for o in &stored {
        let key = BlobKey {
            tenant: t.clone(),
            batch: op.clone(),
            name: o.id.to_string(),
        };
        assert_eq!(
            read_all(&third, &key).unwrap(),
            read_all(&first, &key).unwrap()
        );
    }
    let audit = archive
        .audit(&t, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(audit.damaged.is_empty(), "{audit:?}");
    assert!(archive.check_consistency(true).unwrap().is_empty());

    // Again: nothing to copy, nothing journaled.
    let again = archive
        .sync_offer("offer-3", "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert_eq!(again.copied, 0);
    assert_eq!(syncs(&archive), 1);
    let unknown = archive
        .sync_offer("offer-9", "test", &carnac_archive::ports::NoProgress)
        .unwrap_err();
    assert!(
        unknown.to_string().contains("offer-1, offer-2, offer-3"),
        "{unknown}"
    );
}
