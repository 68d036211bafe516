//! Our evidence records, made with the built-in TSA: verified by our verifier and by Bouncy
//! Castle (`testdata/tsa/ErsVerify.java`, Debian `libbcpkix-java`), plain, timestamp-renewed
//! and hash-tree-renewed; renewal timing checked at chosen times.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use carnac_evidence::verify::{required_algorithms, verify};
use carnac_evidence::{
    ArchiveTimeStamp, EvidenceRecord, HashAlgorithm, HashTree, renewal_leaf, timestamp_renewal_leaf,
};
use carnac_timestamp::builtin::BuiltinTsa;
use carnac_timestamp::verify::{Expected, verify_response};
use carnac_timestamp::{Imprint, TrustStore, request};
use der::EncodePem;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DAY: u64 = 86_400;
/// 2026-11-29T00:00:00Z.
const T0: Duration = Duration::from_secs(1_795_910_400);

/// A real token over `digest` from `tsa` at time `at`.
fn token(tsa: &BuiltinTsa, algorithm: HashAlgorithm, digest: &[u8], at: Duration) -> Vec<u8> {
    let imprint = Imprint {
        algorithm,
        digest: digest.to_vec(),
    };
    let resp = tsa
        .respond(&request(&imprint, Some(b"n"), None).unwrap(), at)
        .unwrap();
    let trust = TrustStore::new().with_anchor(tsa.root().clone());
    verify_response(
        &resp,
        &Expected {
            imprint: &imprint,
            nonce: Some(b"n"),
            policy: None,
        },
        &trust,
    )
    .unwrap()
    .token
}

fn documents() -> Vec<Vec<u8>> {
    (0..5)
        .map(|i| format!("délibération numéro {i}\n").into_bytes())
        .collect()
}

/// Records for every document, under one timestamp over the tree of their hashes.
fn records(tsa: &BuiltinTsa, docs: &[Vec<u8>], at: Duration) -> Vec<EvidenceRecord> {
    let a = HashAlgorithm::Sha256;
    let tree = HashTree::new(a, docs.iter().map(|d| a.digest(d)).collect()).unwrap();
    let tok = token(tsa, a, tree.root(), at);
    (0..docs.len())
        .map(|i| {
            EvidenceRecord::new(vec![vec![
                ArchiveTimeStamp::new(a, tree.reduced(i).unwrap(), &tok).unwrap(),
            ]])
        })
        .collect()
}

fn digests(er: &EvidenceRecord, data: &[u8]) -> HashMap<HashAlgorithm, Vec<u8>> {
    required_algorithms(er)
        .into_iter()
        .map(|a| (a, a.digest(data)))
        .collect()
}

/// Bouncy Castle's verdict on a record, with the TSA certificate of its last token.
fn bouncy_castle(
    dir: &Path,
    tsa_cert: &x509_cert::Certificate,
    data: &[u8],
    er: &EvidenceRecord,
) -> String {
    let classes = dir.join("classes");
    if !classes.join("ErsVerify.class").exists() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tsa/ErsVerify.java");
        let out = Command::new("javac")
            .args(["-d"])
            .arg(&classes)
            .args(["-cp", BC])
            .arg(src)
            .output()
            .expect("javac (Debian default-jdk-headless)");
        assert!(out.status.success(), "{out:?}");
    }
    std::fs::write(
        dir.join("tsa.pem"),
        tsa_cert.to_pem(der::pem::LineEnding::LF).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("data"), data).unwrap();
    std::fs::write(dir.join("record.ers"), er.to_der().unwrap()).unwrap();
    let out = Command::new("java")
        .args(["-cp", &format!("{BC}:{}", classes.display())])
        .arg("ErsVerify")
        .args(["tsa.pem", "data", "record.ers"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const BC: &str = "/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar";

fn work() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    (dir, path)
}

#[test]
fn fresh_records_verify_here_and_in_bouncy_castle() {
    let (_keep, dir) = work();
    let tsa = BuiltinTsa::create(T0, Duration::from_secs(365 * DAY)).unwrap();
    let trust = TrustStore::new().with_anchor(tsa.root().clone());
    let docs = documents();
    let ers = records(&tsa, &docs, T0 + Duration::from_secs(10));
    for (i, er) in ers.iter().enumerate() {
        let v = verify(
            er,
            &digests(er, &docs[i]),
            &trust,
            T0 + Duration::from_secs(DAY),
        );
        assert!(v.valid(), "doc {i}: {:#?}", v.problems);
        assert!(v.stamps[0].builtin);
        // The record is small: one token and a logarithmic path.
        assert!(
            er.to_der().unwrap().len() < 1_600,
            "{}",
            er.to_der().unwrap().len()
        );
    }
    // BC runs against the real clock: our records are dated now for it.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let tsa = BuiltinTsa::create(
        now - Duration::from_secs(60),
        Duration::from_secs(365 * DAY),
    )
    .unwrap();
    let ers = records(&tsa, &docs, now);
    for (i, er) in ers.iter().enumerate() {
        assert_eq!(
            bouncy_castle(&dir, tsa.certificate(), &docs[i], er),
            "VALID",
            "doc {i}"
        );
    }
    assert!(
        bouncy_castle(&dir, tsa.certificate(), &docs[1], &ers[0]).starts_with("INVALID"),
        "BC refuses a record for another file"
    );
}

#[test]
fn renewed_records_verify_here_and_in_bouncy_castle() {
    let (_keep, dir) = work();
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut tsa = BuiltinTsa::create(
        now - Duration::from_secs(3600),
        Duration::from_secs(365 * DAY),
    )
    .unwrap();
    let trust = TrustStore::new().with_anchor(tsa.root().clone());
    let docs = documents();
    let mut er = records(&tsa, &docs, now - Duration::from_secs(1800)).remove(0);
    // Timestamp renewal, with a new TSA key and certificate.
    tsa.renew_certificate(
        now - Duration::from_secs(900),
        Duration::from_secs(365 * DAY),
    )
    .unwrap();
    let a = HashAlgorithm::Sha256;
    let leaf = timestamp_renewal_leaf(a, er.last().unwrap()).unwrap();
    let tok = token(&tsa, a, &leaf, now - Duration::from_secs(600));
    er.renew_timestamp(ArchiveTimeStamp::new(a, vec![vec![leaf]], &tok).unwrap());
    let v = verify(&er, &digests(&er, &docs[0]), &trust, now);
    assert!(v.valid(), "{:#?}", v.problems);
    assert_eq!(v.stamps.len(), 2);
    assert_eq!(
        bouncy_castle(&dir, tsa.certificate(), &docs[0], &er),
        "VALID"
    );
    // Hash-tree renewal to SHA-512: the stored bytes are read again.
    let b = HashAlgorithm::Sha512;
    let leaf = renewal_leaf(b, &b.digest(&docs[0]), &er.archive_time_stamp_sequence).unwrap();
    let tok = token(&tsa, b, &leaf, now - Duration::from_secs(300));
    er.renew_hash_tree(ArchiveTimeStamp::new(b, vec![vec![leaf]], &tok).unwrap());
    assert_eq!(required_algorithms(&er), [a, b]);
    let back = EvidenceRecord::from_der(&er.to_der().unwrap()).unwrap();
    let v = verify(&back, &digests(&back, &docs[0]), &trust, now);
    assert!(v.valid(), "{:#?}", v.problems);
    assert_eq!(v.stamps.len(), 3);
    assert_eq!(
        bouncy_castle(&dir, tsa.certificate(), &docs[0], &back),
        "VALID"
    );
    let v = verify(&back, &digests(&back, &docs[1]), &trust, now);
    assert!(!v.valid());
}

#[test]
fn renewal_timing_is_checked() {
    let mut tsa = BuiltinTsa::create(T0, Duration::from_secs(100 * DAY)).unwrap();
    let trust = TrustStore::new().with_anchor(tsa.root().clone());
    let docs = documents();
    let a = HashAlgorithm::Sha256;
    let base = records(&tsa, &docs, T0 + Duration::from_secs(DAY)).remove(0);
    let after_expiry = T0 + Duration::from_secs(150 * DAY);

    // Not renewed: fine before the certificate ends, reported after.
    let v = verify(
        &base,
        &digests(&base, &docs[0]),
        &trust,
        T0 + Duration::from_secs(50 * DAY),
    );
    assert!(v.valid(), "{:#?}", v.problems);
    assert_eq!(v.renew_before.as_deref(), Some("2027-03-09T00:00:00Z"));
    let v = verify(&base, &digests(&base, &docs[0]), &trust, after_expiry);
    assert!(
        v.problems.iter().any(|p| p.contains("not renewed in time")),
        "{:#?}",
        v.problems
    );

    // Renewed in time (day 90, new certificate until day 190): valid after the first expiry.
    tsa.renew_certificate(
        T0 + Duration::from_secs(89 * DAY),
        Duration::from_secs(101 * DAY),
    )
    .unwrap();
    let mut renewed = base.clone();
    let leaf = timestamp_renewal_leaf(a, renewed.last().unwrap()).unwrap();
    let tok = token(&tsa, a, &leaf, T0 + Duration::from_secs(90 * DAY));
    renewed.renew_timestamp(ArchiveTimeStamp::new(a, vec![vec![leaf]], &tok).unwrap());
    let v = verify(&renewed, &digests(&renewed, &docs[0]), &trust, after_expiry);
    assert!(v.valid(), "{:#?}", v.problems);

    // Renewed too late (day 120, after the first certificate ended on day 100).
    let mut late = base.clone();
    let leaf = timestamp_renewal_leaf(a, late.last().unwrap()).unwrap();
    let tok = token(&tsa, a, &leaf, T0 + Duration::from_secs(120 * DAY));
    late.renew_timestamp(ArchiveTimeStamp::new(a, vec![vec![leaf]], &tok).unwrap());
    let v = verify(&late, &digests(&late, &docs[0]), &trust, after_expiry);
    assert!(
        v.problems.iter().any(|p| p.contains("came too late")),
        "{:#?}",
        v.problems
    );
}
