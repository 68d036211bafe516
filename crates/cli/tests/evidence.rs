//! Evidence records end to end: made at ingest, exported as a bundle, verified offline by
//! `carnac verify` (no data folder) and by Bouncy Castle, refused for another file or without
//! a trust anchor.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// Ingests the corpus' accepted transfer and returns its objects (id, uri).
fn ingested(data: &Path) -> Vec<(String, String)> {
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let out = run(
        data,
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_owned(),
                o["uri"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `carnac verify`, run where there is no data folder, which it must not create.
fn verify_offline(args: &[&str]) -> (i32, String) {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_carnac"))
        .arg("verify")
        .args(args)
        .current_dir(empty.path())
        .env_remove("CARNAC_DATA")
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "verify wrote nothing"
    );
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_bundle_verifies_without_the_archive() {
    let data = data_with_tenant();
    let objects = ingested(data.path());
    assert_eq!(objects.len(), 4);
    let (id, _) = &objects[0];
    let bundle = data.path().join("bundle");
    let ers = data.path().join("o.ers");
    let out = run(
        data.path(),
        &[
            "evidence",
            "export",
            "--tenant",
            "0",
            "--object",
            id,
            "--out",
            ers.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read(&ers).unwrap(),
        std::fs::read(bundle.join("record.ers")).unwrap()
    );
    let file = std::fs::read_dir(&bundle)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".pdf"))
        .expect("the file is in the bundle");
    let b = |n: &str| bundle.join(n).to_str().unwrap().to_owned();
    let (code, out) = verify_offline(&[
        &b(&file),
        "--evidence",
        &b("record.ers"),
        "--trust",
        &b("trust.pem"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VALID:"), "{out}");
    assert!(out.contains("not qualified"), "{out}");

    // Another file of the same transfer, same tree: refused.
    let other = data.path().join("other.bin");
    std::fs::write(&other, b"not the file").unwrap();
    let (code, out) = verify_offline(&[
        other.to_str().unwrap(),
        "--evidence",
        &b("record.ers"),
        "--trust",
        &b("trust.pem"),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not this file's"), "{out}");
    // No trust anchor: nothing can be trusted.
    let (code, out) = verify_offline(&[&b(&file), "--evidence", &b("record.ers")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no trust anchor"), "{out}");
    // A record that is not one: the command cannot run.
    let (code, _) = verify_offline(&[&b(&file), "--evidence", &b(&file)]);
    assert_eq!(code, 1);

    // Bouncy Castle agrees.
    let classes = data.path().join("classes");
    const BC: &str =
        "/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar";
    let javac = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .args(["-cp", BC])
        .arg(testdata().join("tsa/ErsVerify.java"))
        .output()
        .unwrap();
    assert!(javac.status.success(), "{javac:?}");
    let java = Command::new("java")
        .args(["-cp", &format!("{BC}:{}", classes.display())])
        .args([
            "ErsVerify",
            &b("certificates.pem"),
            &b(&file),
            &b("record.ers"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&java.stdout).trim(),
        "VALID",
        "{java:?}"
    );

    // The deposit and the export are in the journal, and the journal still verifies.
    let json = run(
        data.path(),
        &["journal", "verify", "--tenant", "0", "--json"],
    );
    assert!(json.status.success(), "{json:?}");
    let conn = rusqlite::Connection::open(data.path().join("catalog.sqlite")).unwrap();
    let kinds: Vec<String> = conn
        .prepare("SELECT kind FROM journal WHERE tenant = '0' ORDER BY sequence")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for k in [
        "INGEST",
        "EVIDENCE_DEPOSIT",
        "EVIDENCE_EXPORT",
        "JOURNAL_VERIFY",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

#[test]
fn one_timestamp_serves_a_whole_transfer() {
    let data = data_with_tenant();
    let sip = data.path().join("many.zip");
    write_sip(&sip, 300, |i| 100 + i, 10);
    let out = run(
        data.path(),
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let conn = rusqlite::Connection::open(data.path().join("catalog.sqlite")).unwrap();
    let (trees, leaves): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), SUM(length(leaves)) / 32 FROM evidence_trees WHERE tenant = '0'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((trees, leaves), (1, 300));
    // Every record is small: a token and nine hashes.
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = summary["objects"][123]["id"].as_str().unwrap();
    let ers = data.path().join("r.ers");
    let out = run(
        data.path(),
        &[
            "evidence",
            "export",
            "--tenant",
            "0",
            "--object",
            id,
            "--out",
            ers.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let size = std::fs::metadata(&ers).unwrap().len();
    assert!(size < 1_700, "a record of {size} bytes");
    // Nothing pending: `evidence create` has nothing to do.
    let out = run(data.path(), &["evidence", "create", "--tenant", "0"]);
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
}
