//! `carnac audit`: every copy re-read; a changed byte or a missing copy is found, named and
//! repaired from the good copy; a file whose copies are all damaged is reported as
//! unrecoverable and left as it is, never "repaired" with wrong bytes.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn audit(data: &Path) -> (i32, String) {
    let out = run(data, &["audit", "--tenant", "0"]);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The stored objects (id, operation) and where their copies live.
fn ingested(data: &Path) -> (String, Vec<String>) {
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let out = run(
        data,
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = s["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    (s["operation"].as_str().unwrap().to_owned(), ids)
}

fn copy(data: &Path, offer: u8, op: &str, object: &str) -> PathBuf {
    data.join(format!("offers/offer-{offer}/0/{op}/{object}"))
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damage_is_found_repaired_or_reported_unrecoverable() {
    let data = data_with_tenant();
    let d = data.path();
    let (op, objects) = ingested(d);
    let (code, out) = audit(d);
    assert_eq!(code, 0, "{out}");
    let manifest_size = std::fs::metadata(copy(d, 1, &op, "manifest.xml"))
        .unwrap()
        .len();
    // The deposit's attestation: its four files in each offer are audited too.
    let attestation: u64 = std::fs::read_dir(d.join("offers/offer-1/0"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("attestation.p7s").exists())
        .flat_map(|p| std::fs::read_dir(p).unwrap().flatten())
        .map(|f| f.metadata().unwrap().len())
        .sum();
    assert!(
        out.contains(&format!(
            "4 files, 1 manifests, 0 journal files, 4 attestation files, 18 copies, {} bytes read, intact",
            313_294 + 2 * manifest_size + 2 * attestation
        )),
        "{out}"
    );

    // One byte changed in one copy; another copy deleted; the manifest changed in one offer.
    let good = std::fs::read(copy(d, 2, &op, &objects[0])).unwrap();
    flip(&copy(d, 1, &op, &objects[0]), 1000);
    flip(&copy(d, 1, &op, "manifest.xml"), 200);
    std::fs::remove_file(copy(d, 2, &op, &objects[1])).unwrap();
    let (code, out) = audit(d);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!(
            "DIGEST object {} in offer-1: SHA-512 ",
            objects[0]
        )) && out.contains("repaired from offer-2"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "MISSING object {} in offer-2: the copy is missing; repaired from offer-1",
            objects[1]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("DIGEST object manifest of {op} in offer-1"))
            && out.matches("repaired from offer-2").count() >= 2,
        "{out}"
    );
    assert_eq!(std::fs::read(copy(d, 1, &op, &objects[0])).unwrap(), good);
    assert_eq!(
        std::fs::read(copy(d, 1, &op, "manifest.xml")).unwrap(),
        std::fs::read(copy(d, 2, &op, "manifest.xml")).unwrap()
    );
    let (code, out) = audit(d);
    assert_eq!(code, 0, "repaired: {out}");

    // Both copies of a file damaged: reported, and left untouched.
    flip(&copy(d, 1, &op, &objects[2]), 10);
    flip(&copy(d, 2, &op, &objects[2]), 20);
    let damaged = [
        std::fs::read(copy(d, 1, &op, &objects[2])).unwrap(),
        std::fs::read(copy(d, 2, &op, &objects[2])).unwrap(),
    ];
    let (code, out) = audit(d);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!(
            "UNRECOVERABLE object {}: no good copy is left",
            objects[2]
        )),
        "{out}"
    );
    assert!(out.contains("NOT repaired"), "{out}");
    assert_eq!(
        std::fs::read(copy(d, 1, &op, &objects[2])).unwrap(),
        damaged[0]
    );
    assert_eq!(
        std::fs::read(copy(d, 2, &op, &objects[2])).unwrap(),
        damaged[1]
    );
    // No temporary file was left in the offers.
    for offer in [1, 2] {
        let dir = d.join(format!("offers/offer-{offer}/0/{op}"));
        let stray: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    }

    // Each audit is in the journal, with what it found, and the journal holds.
    let out = run(d, &["journal", "verify", "--tenant", "0"]);
    assert!(out.status.success(), "{out:?}");
    let conn = rusqlite::Connection::open(d.join("catalog.sqlite")).unwrap();
    let outcomes: Vec<String> = conn
        .prepare(
            "SELECT outcome FROM journal WHERE tenant = '0' AND kind = 'AUDIT' ORDER BY sequence",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(outcomes, ["OK", "WARNING", "OK", "KO"]);
}

/// Issue 14 §7, the same class: the files of a deposit attestation were written to every
/// offer and never checked again. Each is now checked against the digest its event
/// recorded, and repaired from a good copy.
#[test]
fn attestation_files_are_checked_and_repaired() {
    let data = data_with_tenant();
    ingested(data.path());
    let attestation = std::fs::read_dir(data.path().join("offers/offer-1/0"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("attestation.p7s").exists())
        .expect("the deposit's attestation");
    let op = attestation
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for name in ["attestation.p7s", "attestation.html", "signer.pem"] {
        let path = data.path().join(format!("offers/offer-2/0/{op}/{name}"));
        flip(&path, 10);
        let out = run(data.path(), &["check", "--digests"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("0/{op}/{name} does not have its recorded")),
            "{text}"
        );
        let (code, out) = audit(data.path());
        assert_eq!(code, 2, "{name}: {out}");
        assert!(out.contains("repaired from offer-1"), "{name}: {out}");
        let out = run(data.path(), &["check", "--digests"]);
        assert!(out.status.success(), "{name}: {out:?}");
    }
}
