//! Deposit attestations: made at each accepted ingest, exported, verified offline (by
//! `carnac attestation verify` and by `openssl cms`), refused once changed.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::process::Command;

#[test]
fn an_accepted_transfer_gets_a_signed_timestamped_attestation() {
    let data = data_with_tenant();
    let d = data.path();
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let out = run(
        d,
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let op = summary["operation"].as_str().unwrap();
    let dir = d.join("attestation");
    let out = run(
        d,
        &[
            "attestation",
            "export",
            "--tenant",
            "0",
            "--operation",
            op,
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");

    // What it says: the transfer and every file with its size and digest.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("attestation.json")).unwrap()).unwrap();
    assert_eq!(json["operation"], op);
    assert_eq!(json["units"], 7);
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    for (f, o) in files.iter().zip(summary["objects"].as_array().unwrap()) {
        assert_eq!(
            (&f["id"], &f["size"], &f["digest"]),
            (&o["id"], &o["size"], &o["digest"])
        );
    }
    let html = std::fs::read_to_string(dir.join("attestation.html")).unwrap();
    assert!(html.contains("Attestation de dépôt"));
    for o in summary["objects"].as_array().unwrap() {
        assert!(html.contains(o["id"].as_str().unwrap()));
    }
    assert!(
        html.contains("non qualifiée"),
        "the built-in TSA says what it is"
    );

    // Offline: no data folder involved.
    let verify = |document: &str| {
        let empty = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_carnac"))
            .args(["attestation", "verify"])
            .arg(dir.join(document))
            .arg("--signature")
            .arg(dir.join("attestation.p7s"))
            .arg("--signer")
            .arg(dir.join("signer.pem"))
            .arg("--trust")
            .arg(d.join("tsa/root.pem"))
            .current_dir(empty.path())
            .env_remove("CARNAC_DATA")
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = verify("attestation.json");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("VALID: signed by CN=carnac attestations"),
        "{out}"
    );
    let ossl = Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
        .arg(dir.join("attestation.p7s"))
        .arg("-content")
        .arg(dir.join("attestation.json"))
        .arg("-CAfile")
        .arg(dir.join("signer.pem"))
        .args(["-purpose", "any", "-out", "/dev/null"])
        .output()
        .unwrap();
    assert!(ossl.status.success(), "{ossl:?}");
    // One digit changed: refused.
    let text = std::fs::read_to_string(dir.join("attestation.json")).unwrap();
    std::fs::write(
        dir.join("changed.json"),
        text.replacen("\"units\":7", "\"units\":8", 1),
    )
    .unwrap();
    let (code, out) = verify("changed.json");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("INVALID"), "{out}");

    // Kept in both offers like any file; the catalog agrees.
    let out = run(d, &["check", "--digests"]);
    assert!(out.status.success(), "{out:?}");
    // The manifest as stored is attested by its digest, which `check --digests` verifies.
    let manifest = d.join(format!("offers/offer-2/0/{op}/manifest.xml"));
    use sha2::Digest as _;
    assert_eq!(
        json["manifest_sha256"],
        hex::encode(sha2::Sha256::digest(std::fs::read(&manifest).unwrap()))
    );
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&manifest, bytes).unwrap();
    let out = run(d, &["check", "--digests"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("manifest.xml does not have its recorded SHA-256 digest"),
        "{out:?}"
    );
    // A rejected transfer gets none.
    let ko = testdata().join("seda/KO_BORD_empreinte_KO.zip");
    let out = run(
        d,
        &["ingest", "--tenant", "0", ko.to_str().unwrap(), "--json"],
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = run(
        d,
        &[
            "attestation",
            "export",
            "--tenant",
            "0",
            "--operation",
            s["operation"].as_str().unwrap(),
            "--out",
            d.join("none").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_units_evidence_report_is_complete_signed_and_timestamped() {
    let data = data_with_tenant();
    let d = data.path();
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let out = run(
        d,
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(run(d, &["audit", "--tenant", "0"]).status.success());
    assert!(run(d, &["seal", "--tenant", "0"]).status.success());
    let (unit, object): (String, String) = rusqlite::Connection::open(d.join("catalog.sqlite"))
        .unwrap()
        .query_row(
            "SELECT g.unit, o.id FROM unit_object_groups g JOIN objects o
             ON o.tenant = g.tenant AND o.object_group = g.object_group WHERE g.tenant = '0' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let ers = d.join("x.ers");
    assert!(
        run(
            d,
            &[
                "evidence",
                "export",
                "--tenant",
                "0",
                "--object",
                &object,
                "--out",
                ers.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let dir = d.join("report");
    let out = run(
        d,
        &[
            "evidence",
            "report",
            "--tenant",
            "0",
            "--unit",
            &unit,
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let files = r["files"].as_array().unwrap();
    assert!(!files.is_empty());
    for f in files {
        assert_eq!(f["evidence"], "VALID", "{f}");
        assert_eq!(f["reread"], true);
        assert_eq!(f["copies"].as_array().unwrap().len(), 2);
        assert_eq!(f["last_audit_found"], "INTACT");
    }
    let kinds: Vec<&str> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["INGEST", "EVIDENCE_DEPOSIT", "AUDIT", "EVIDENCE_EXPORT"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let ingest = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "INGEST")
        .unwrap();
    assert!(
        ingest["sealed_by"].is_array(),
        "the ingest was sealed: {ingest}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Relevé de valeur probante"));
    let out = Command::new(env!("CARGO_BIN_EXE_carnac"))
        .args(["attestation", "verify"])
        .arg(dir.join("report.json"))
        .arg("--signature")
        .arg(dir.join("report.p7s"))
        .arg("--signer")
        .arg(dir.join("signer.pem"))
        .arg("--trust")
        .arg(d.join("tsa/root.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The lifecycle of the file, and of its unit, from the journal.
    for (subject, kind) in [(object.as_str(), "OBJECT"), (unit.as_str(), "UNIT")] {
        let out = run(
            d,
            &["lifecycle", "--tenant", "0", "--subject", subject, "--json"],
        );
        assert!(out.status.success(), "{out:?}");
        let l: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(l["kind"], kind);
        let kinds: Vec<&str> = l["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        for k in [
            "INGEST",
            "EVIDENCE_DEPOSIT",
            "DEPOSIT_ATTESTATION",
            "AUDIT",
            "EVIDENCE_EXPORT",
        ] {
            assert!(kinds.contains(&k), "{subject}: {k} in {kinds:?}");
        }
    }
    let out = run(d, &["lifecycle", "--tenant", "0", "--subject", &object]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("INGEST WARNING"),
        "{out:?}"
    );
    assert_eq!(
        run(d, &["lifecycle", "--tenant", "0", "--subject", "nothing"])
            .status
            .code(),
        Some(1)
    );
    // An unknown unit: the command cannot run.
    let out = run(
        d,
        &[
            "evidence",
            "report",
            "--tenant",
            "0",
            "--unit",
            "au-none",
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}
