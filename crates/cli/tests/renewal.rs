//! Renewal in time, under `faketime`: with a built-in TSA whose certificates last ten days,
//! `carnac maintain` renews evidence timestamps before the certificate ends (the built-in TSA
//! having taken a new certificate first); a record renewed in time still verifies after the
//! first certificate has ended, one that was not is reported as such; `evidence renew --hash`
//! starts a SHA-512 chain that verifies too.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// `carnac` at a chosen date (libfaketime; the clock runs on from there).
fn at(date: &str, data: &Path, args: &[&str]) -> Output {
    Command::new("faketime")
        .arg(date)
        .arg(env!("CARGO_BIN_EXE_carnac"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("faketime (Debian package faketime)")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{out:?}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn export(date: &str, data: &Path, object: &str, name: &str) -> std::path::PathBuf {
    let bundle = data.join(name);
    ok(at(
        date,
        data,
        &[
            "evidence",
            "export",
            "--tenant",
            "0",
            "--object",
            object,
            "--out",
            data.join(format!("{name}.ers")).to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
        ],
    ));
    bundle
}

fn verify(date: &str, data: &Path, bundle: &Path, file: &str) -> (i32, String) {
    let out = Command::new("faketime")
        .arg(date)
        .arg(env!("CARGO_BIN_EXE_carnac"))
        .arg("verify")
        .arg(bundle.join(file))
        .arg("--evidence")
        .arg(bundle.join("record.ers"))
        .arg("--trust")
        .arg(data.join("tsa/root.pem"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn records_renewed_in_time_outlive_their_first_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    std::fs::write(
        data.join("carnac.toml"),
        "[timestamp]\nbuiltin_certificate_days = 10\nbuiltin_replace_days = 3\nrenew_before_days = 2\n",
    )
    .unwrap();
    // Each process starts its own clock at the date given: later steps get later dates, as
    // they would in life (a slow first start must not end after the next step began).
    let day0 = "2030-01-01 00:00:00";
    ok(at(day0, data, &["tenant", "create", "0"]));
    let refs = testdata().join("referentials/tenant-0");
    ok(at(
        "2030-01-01 00:01:00",
        data,
        &[
            "referential",
            "import",
            "--tenant",
            "0",
            refs.to_str().unwrap(),
        ],
    ));
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let out = ok(at(
        "2030-01-01 00:02:00",
        data,
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    ));
    let json = out.lines().next().unwrap();
    let summary: serde_json::Value = serde_json::from_str(json).unwrap();
    let object = summary["objects"][0]["id"].as_str().unwrap().to_owned();
    let original = export("2030-01-01 00:03:00", data, &object, "original");
    let file = std::fs::read_dir(&original)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".pdf"))
        .unwrap();

    // January 5: nothing is due yet.
    let out = ok(at("2030-01-05 00:00:00", data, &["maintain"]));
    assert!(!out.contains("renewal"), "{out}");
    // January 9, noon: due (the certificate ends on January 11, within two days); the built-in TSA
    // took a new certificate (within three days of the end of its own), so the renewal gains
    // ten days.
    let out = ok(at("2030-01-09 12:00:00", data, &["maintain"]));
    assert!(out.contains("1 evidence timestamp renewal(s)"), "{out}");
    let renewed = export("2030-01-09 13:00:00", data, &object, "renewed");

    // January 12: the first certificate has ended.
    let (code, out) = verify("2030-01-12 00:00:00", data, &renewed, &file);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("chain 0 timestamp 1: SHA-512 2030-01-09"),
        "{out}"
    );
    assert!(out.contains("renew the record before 2030-01-19"), "{out}");
    let (code, out) = verify("2030-01-12 00:00:00", data, &original, &file);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not renewed in time"), "{out}");
    // Before January 11, the original was still fine.
    let (code, out) = verify("2030-01-10 00:00:00", data, &original, &file);
    assert_eq!(code, 0, "{out}");

    // A hash-tree renewal on demand: a new SHA-512 chain (the transfer declared SHA-512, so
    // SHA-384 shows the change of algorithm).
    let out = ok(at(
        "2030-01-12 00:00:00",
        data,
        &["evidence", "renew", "--tenant", "0", "--hash", "SHA-384"],
    ));
    assert!(out.contains("HASH_RENEWAL SHA-384"), "{out}");
    let rehashed = export("2030-01-12 01:00:00", data, &object, "rehashed");
    let (code, out) = verify("2030-01-12 02:00:00", data, &rehashed, &file);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("chain 1 timestamp 0: SHA-384"), "{out}");

    // The journal, sealed along the way by older and newer certificates, is intact.
    ok(at("2030-01-12 03:00:00", data, &["seal"]));
    let out = ok(at(
        "2030-01-12 04:00:00",
        data,
        &["journal", "verify", "--tenant", "0"],
    ));
    assert!(out.contains("intact"), "{out}");
}
