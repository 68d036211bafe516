//! Our verifier on Bouncy Castle's evidence records (`testdata/evidence`, made by BC 1.72):
//! plain records of five files under one timestamp, a timestamp renewal and a hash-tree
//! renewal (SHA-256 then SHA-512), each checked chain by chain; and a record refused for
//! another file.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use carnac_evidence::verify::{required_algorithms, verify};
use carnac_evidence::{EvidenceRecord, HashAlgorithm};
use carnac_timestamp::TrustStore;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/evidence")
}

/// 2026-12-01T00:00:00Z: after the vectors were made, within their certificates.
const NOW: Duration = Duration::from_secs(1_796_083_200);

fn trust() -> TrustStore {
    TrustStore::new()
        .with_anchors_pem(&std::fs::read(dir().join("ca.crt")).unwrap())
        .unwrap()
}

fn digests(record: &EvidenceRecord, file: &str) -> HashMap<HashAlgorithm, Vec<u8>> {
    let data = std::fs::read(dir().join(file)).unwrap();
    required_algorithms(record)
        .into_iter()
        .map(|a| (a, a.digest(&data)))
        .collect()
}

fn record(name: &str) -> EvidenceRecord {
    EvidenceRecord::from_der(&std::fs::read(dir().join(name)).unwrap()).unwrap()
}

#[test]
fn five_records_under_one_timestamp() {
    for i in 0..5 {
        let er = record(&format!("doc{i}.ers"));
        let v = verify(&er, &digests(&er, &format!("doc{i}.txt")), &trust(), NOW);
        assert!(v.valid(), "doc{i}: {:#?}", v.problems);
        assert_eq!(v.stamps.len(), 1);
        assert!(v.stamps[0].tsa.contains("Test TSA"));
        assert!(!v.stamps[0].builtin);
        // The encoding round-trips byte for byte.
        assert_eq!(
            er.to_der().unwrap(),
            std::fs::read(dir().join(format!("doc{i}.ers"))).unwrap()
        );
    }
}

#[test]
fn renewed_records_verify_chain_by_chain() {
    let er = record("doc0.tsrenewed.ers");
    let v = verify(&er, &digests(&er, "doc0.txt"), &trust(), NOW);
    assert!(v.valid(), "{:#?}", v.problems);
    assert_eq!(
        v.stamps
            .iter()
            .map(|s| (s.chain, s.index))
            .collect::<Vec<_>>(),
        [(0, 0), (0, 1)]
    );
    let er = record("doc0.hashrenewed.ers");
    assert_eq!(
        required_algorithms(&er),
        [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
    );
    let v = verify(&er, &digests(&er, "doc0.txt"), &trust(), NOW);
    assert!(v.valid(), "{:#?}", v.problems);
    assert_eq!(
        v.stamps
            .iter()
            .map(|s| (s.chain, s.index, s.algorithm.as_str()))
            .collect::<Vec<_>>(),
        [(0, 0, "SHA-256"), (0, 1, "SHA-256"), (1, 0, "SHA-512")]
    );
}

#[test]
fn a_record_does_not_prove_another_file() {
    let er = record("doc0.ers");
    let v = verify(&er, &digests(&er, "doc1.txt"), &trust(), NOW);
    assert!(!v.valid());
    assert!(
        v.problems[0].contains("not this file's"),
        "{:#?}",
        v.problems
    );
    // Nor does the hash-renewed one, in any of its chains.
    let er = record("doc0.hashrenewed.ers");
    let v = verify(&er, &digests(&er, "doc1.txt"), &trust(), NOW);
    assert_eq!(v.problems.len(), 2, "{:#?}", v.problems);
}

#[test]
fn a_record_is_worthless_without_its_trust_anchor_or_after_expiry() {
    let er = record("doc0.ers");
    let v = verify(&er, &digests(&er, "doc0.txt"), &TrustStore::new(), NOW);
    assert!(!v.valid());
    // Eleven years on, the TSA certificate (ten years) has ended and nobody renewed.
    let later = NOW + Duration::from_secs(11 * 366 * 86_400);
    let v = verify(&er, &digests(&er, "doc0.txt"), &trust(), later);
    assert!(
        v.problems.iter().any(|p| p.contains("not renewed in time")),
        "{:#?}",
        v.problems
    );
}
