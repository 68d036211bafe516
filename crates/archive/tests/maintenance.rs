//! A maintenance pass does each tenant's pending duties once (evidence records, deposit
//! attestations, renewals due, a seal); the next pass finds nothing left to do.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::maintenance::Duty;
use common::*;
use std::io::Write;

#[test]
fn a_pass_does_what_is_pending_and_the_next_finds_nothing() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&std::fs::read(testdata().join("seda/OK_SIP_2_GO.zip")).unwrap())
        .unwrap();
    let outcome = f
        .archive
        .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(outcome.status().is_accepted());
    let week = std::time::Duration::from_secs(7 * 86_400);
    // The ingest made its evidence and attestation itself (its TSA answered): the pass
    // seals the journal, and the next one finds nothing left.
    let first = f.archive.maintain(week);
    assert!(first.is_ok(), "{:?}", first.failed);
    assert!(
        matches!(first.done.as_slice(), [(tenant, Duty::Sealed { first: 1, last })] if *tenant == t && *last > 1),
        "{:?}",
        first.done
    );
    let second = f.archive.maintain(week);
    assert!(second.is_ok(), "{:?}", second.failed);
    assert!(second.done.is_empty(), "{:?}", second.done);
    // Renewals due for every tree (far ahead), which the TSA cannot improve on (its
    // certificate ends first): that duty fails, is reported with its tenant and why, and the
    // pass goes on.
    let far = std::time::Duration::from_secs(100 * 365 * 86_400);
    let third = f.archive.maintain(far);
    assert!(!third.is_ok());
    assert!(
        matches!(third.failed.as_slice(), [(Some(tenant), "renewing evidence timestamps", e)] if *tenant == t && e.to_string().contains("certificate")),
        "{:?}",
        third.failed
    );
}
