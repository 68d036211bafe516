//! A tenant's journal read back a page at a time, newest first, as the web application
//! shows it: pages follow each other without a gap or a repeat, filters keep what they
//! name, each event comes with its seal, and a time limit ends a reading that finds
//! little.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use carnac_archive::journal::JournalFilter;
use carnac_blobstore::BlobStore;
use carnac_blobstore::memory::MemoryStore;
use carnac_catalog::Interrupt;
use carnac_model::journal::EventKind;
use carnac_model::journal::NewEvent;
use carnac_model::{OperationId, Status, TenantId};
use std::sync::Arc;

#[test]
fn pages_of_a_journal_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let a = carnac_testkit::archive(
        Default::default(),
        vec![Arc::new(MemoryStore::new("offer-1")) as Arc<dyn BlobStore>],
        None,
        &dir.path().join("tmp"),
    );
    let t = TenantId::new("t1").unwrap();
    a.create_tenant(&t, "T1", "test").unwrap();
    // Enough events for several windows of the reading (requests journaled), then a seal,
    // then more.
    let requests = |n: usize| {
        let events: Vec<NewEvent> = (0..n)
            .map(|i| NewEvent {
                tenant: t.clone(),
                operation: OperationId::new(format!("req-{n}-{i}")).unwrap(),
                kind: EventKind::from("API_REQUEST"),
                outcome: Status::Ok,
                time: "2026-12-04T08:00:00.000Z".into(),
                agent: "test".into(),
                detail: serde_json::json!({}),
            })
            .collect();
        a.catalog().append_events(&events).unwrap();
    };
    requests(1200);
    let sealed = a.seal(&t, "test").unwrap().expect("a seal");
    requests(1300);
    let all = Interrupt::none();
    let last = a
        .journal_backwards(&t, None, &JournalFilter::default(), 1, &all)
        .unwrap()
        .last;
    assert!(last > 2500, "{last}");
    // Every event once, newest first, across pages of 700.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = a
            .journal_backwards(&t, before, &JournalFilter::default(), 700, &all)
            .unwrap();
        assert!(page.events.len() <= 700);
        assert!(!page.interrupted);
        seen.extend(page.events.iter().map(|e| e.sequence));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(seen, (1..=last).rev().collect::<Vec<_>>());
    // Each event with its seal: the sealed ones with the seal, the later ones without.
    let page = a
        .journal_backwards(
            &t,
            Some(sealed.last + 1),
            &JournalFilter::default(),
            2,
            &all,
        )
        .unwrap();
    assert_eq!(page.events[0].sequence, sealed.last);
    assert_eq!(
        page.events[0].sealed_by.as_ref().map(|s| s.0),
        Some(sealed.last)
    );
    let newest = a
        .journal_backwards(&t, None, &JournalFilter::default(), 1, &all)
        .unwrap();
    assert_eq!(newest.events[0].sealed_by, None);
    // A filter: only the seal's event, found across windows.
    let seals = a
        .journal_backwards(
            &t,
            None,
            &JournalFilter {
                kind: Some(EventKind::JournalSeal),
                outcome: None,
            },
            10,
            &all,
        )
        .unwrap();
    assert_eq!(seals.events.len(), 1, "{:?}", seals.events);
    assert_eq!(seals.events[0].kind, "JOURNAL_SEAL");
    assert_eq!(seals.next_before, None);
    let failures = a
        .journal_backwards(
            &t,
            None,
            &JournalFilter {
                kind: None,
                outcome: Some(Status::Ko),
            },
            10,
            &all,
        )
        .unwrap();
    assert!(failures.events.is_empty());
    // A time limit already past: nothing read, and the reading goes on from the end.
    let due = Interrupt::new(Some(std::time::Instant::now()), Vec::new());
    let stopped = a
        .journal_backwards(
            &t,
            None,
            &JournalFilter {
                kind: Some(EventKind::JournalSeal),
                outcome: None,
            },
            10,
            &due,
        )
        .unwrap();
    assert!(stopped.interrupted && stopped.events.is_empty());
    assert_eq!(stopped.next_before, Some(last + 1));
    // Another tenant's journal is its own; an unknown tenant is refused.
    let other = TenantId::new("t2").unwrap();
    a.create_tenant(&other, "T2", "test").unwrap();
    let page = a
        .journal_backwards(&other, None, &JournalFilter::default(), 50, &all)
        .unwrap();
    assert!(page.events.iter().all(|e| e.kind == "TENANT_CREATE"));
    assert!(
        a.journal_backwards(
            &TenantId::new("nobody").unwrap(),
            None,
            &JournalFilter::default(),
            5,
            &all
        )
        .is_err()
    );
}
