//! Evidence records end to end: made at ingest, exported as a bundle, verified offline by
//! `carnac verify` (no data folder) and by Bouncy Castle, refused for another file or without
//! a trust anchor.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// Ingests the corpus' accepted transfer into tenant 0 and returns its objects (id, uri).
fn ingested(data: &Path) -> Vec<(String, String)> {
    ingested_into(data, "0")
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
    assert!(out.contains("revocation was not checked"), "{out}");
    // With the bundle's revocation data: the built-in TSA's root says, in a CRL it signed,
    // that the TSA certificate is not revoked.
    let (code, out) = verify_offline(&[
        &b(&file),
        "--evidence",
        &b("record.ers"),
        "--trust",
        &b("trust.pem"),
        "--crl",
        &b("revocation.pem"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not revoked (CRL of"), "{out}");
    let readme = std::fs::read_to_string(bundle.join("README.txt")).unwrap();
    assert!(
        readme.contains("were not revoked when it mattered"),
        "{readme}"
    );
    // OpenSSL reads the CRL, checks its signature and agrees.
    let openssl = Command::new("openssl")
        .args(["verify", "-crl_check", "-CAfile"])
        .args([b("trust.pem"), "-CRLfile".into(), b("revocation.pem")])
        .arg(b("certificates.pem"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&openssl.stdout).contains(": OK"),
        "{openssl:?}"
    );
    // Revocation data that covers nothing is not a pass.
    let empty_crl = data.path().join("none.pem");
    std::fs::write(&empty_crl, b"").unwrap();
    let (code, out) = verify_offline(&[
        &b(&file),
        "--evidence",
        &b("record.ers"),
        "--trust",
        &b("trust.pem"),
        "--crl",
        empty_crl.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "an empty file is no CRL: {out}");

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

/// The OpenSSL TSA of `make_https_pki.sh`, served over HTTPS on loopback.
struct HttpsTsa {
    child: std::process::Child,
}

impl Drop for HttpsTsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn https_tsa(pki: &Path, port: u16) -> HttpsTsa {
    let out = Command::new("bash")
        .arg(testdata().join("tsa/make_https_pki.sh"))
        .arg(pki)
        .arg(port.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let server = HttpsTsa {
        child: Command::new("python3")
            .arg(testdata().join("tsa/tsa_http.py"))
            .arg(port.to_string())
            .env("TSA_DIR", pki)
            .env("TLS_CERT", pki.join("tls.crt"))
            .env("TLS_KEY", pki.join("tls.key"))
            .spawn()
            .unwrap(),
    };
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the test TSA did not start on port {port}");
    server
}

/// Exports `object`'s bundle of `tenant` into `dir` and verifies it offline with its
/// revocation data; gives the exit code and `carnac verify --json`'s answer.
fn export_and_verify(
    data: &Path,
    tenant: &str,
    object: &str,
    dir: &Path,
) -> (i32, serde_json::Value) {
    let out = run(
        data,
        &[
            "evidence",
            "export",
            "--tenant",
            tenant,
            "--object",
            object,
            "--out",
            dir.with_extension("ers").to_str().unwrap(),
            "--bundle",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let file = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".pdf"))
        .unwrap();
    let b = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let (code, out) = verify_offline(&[
        &b(&file),
        "--evidence",
        &b("record.ers"),
        "--trust",
        &b("trust.pem"),
        "--crl",
        &b("revocation.pem"),
        "--json",
    ]);
    (code, serde_json::from_str(&out).unwrap())
}

/// Ingests the corpus' accepted transfer into `tenant` and returns its objects (id, uri).
fn ingested_into(data: &Path, tenant: &str) -> Vec<(String, String)> {
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let out = run(
        data,
        &[
            "ingest",
            "--tenant",
            tenant,
            sip.to_str().unwrap(),
            "--json",
        ],
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

#[test]
fn a_tenant_with_its_own_tsa_over_https_and_its_revocation_data() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pki = tempfile::tempdir().unwrap();
    let _tsa = https_tsa(pki.path(), port);
    let ca = pki.path().join("ca.crt");
    let data = data_with_tenant();
    std::fs::write(
        data.path().join("carnac.toml"),
        format!(
            "[timestamp]\ntls_trust = [{ca:?}]\n\n[timestamp.tenants.1]\ntsa = [\"https://127.0.0.1:{port}/\"]\ntrust = [{ca:?}]\n",
            ca = ca.display().to_string()
        ),
    )
    .unwrap();
    let refs = testdata().join("referentials/tenant-0");
    for args in [
        vec!["tenant", "create", "1"],
        vec![
            "referential",
            "import",
            "--tenant",
            "1",
            refs.to_str().unwrap(),
        ],
    ] {
        let out = run(data.path(), &args);
        assert!(out.status.success(), "{out:?}");
    }

    let p = pki.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(p)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    let gencrl = || {
        openssl(&[
            "ca",
            "-config",
            "ca.cnf",
            "-gencrl",
            "-keyfile",
            "ca.key",
            "-cert",
            "ca.crt",
            "-out",
            "pub/ca.crl",
        ])
    };

    // Tenant 0 keeps the built-in TSA; tenant 1's evidence is timestamped by its own.
    let object0 = ingested_into(data.path(), "0").remove(0).0;
    let (code, own) = export_and_verify(data.path(), "0", &object0, &data.path().join("b0"));
    assert_eq!(code, 0, "{own}");
    assert_eq!(own["stamps"][0]["builtin"], true, "{own}");
    // CRL times are whole seconds: let the one published with the PKI be strictly older.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let object1 = ingested_into(data.path(), "1").remove(0).0;
    // The CRL published before the timestamp cannot speak for it...
    let (code, stale) = export_and_verify(data.path(), "1", &object1, &data.path().join("b1s"));
    assert_eq!(code, 2, "{stale}");
    assert!(
        stale["problems"]
            .to_string()
            .contains("predates the timestamp"),
        "{stale}"
    );
    // ...the next one, published after it, does.
    gencrl();
    let (code, theirs) = export_and_verify(data.path(), "1", &object1, &data.path().join("b1"));
    assert_eq!(code, 0, "{theirs}");
    assert_eq!(theirs["stamps"][0]["builtin"], false, "{theirs}");
    assert!(
        theirs["stamps"][0]["tsa"]
            .as_str()
            .unwrap()
            .contains("Test TSA"),
        "{theirs}"
    );
    // Its CRL was fetched over HTTPS from the distribution point its certificate names.
    let revocation = theirs["stamps"][0]["revocation"].to_string();
    assert!(revocation.contains("Test TSA: not revoked"), "{theirs}");
    let seal = run(data.path(), &["seal", "--tenant", "1"]);
    assert!(seal.status.success(), "{seal:?}");
    assert!(
        String::from_utf8_lossy(&seal.stdout).contains("Test TSA"),
        "{seal:?}"
    );
    let verify = run(data.path(), &["journal", "verify", "--tenant", "1"]);
    assert!(verify.status.success(), "{verify:?}");

    // The TSA's key is compromised: its certificate is revoked and a new CRL published.
    openssl(&[
        "ca",
        "-config",
        "ca.cnf",
        "-revoke",
        "tsa.crt",
        "-keyfile",
        "ca.key",
        "-cert",
        "ca.crt",
        "-crl_reason",
        "keyCompromise",
    ]);
    gencrl();
    let bundle = data.path().join("b1-after");
    let (code, after) = export_and_verify(data.path(), "1", &object1, &bundle);
    assert_eq!(code, 2, "{after}");
    assert!(
        after["problems"].to_string().contains("keyCompromise"),
        "{after}"
    );
    let readme = std::fs::read_to_string(bundle.join("README.txt")).unwrap();
    assert!(
        readme.contains("Checked at the export, with these problems"),
        "{readme}"
    );
    assert!(readme.contains("keyCompromise"), "{readme}");
}

/// A delivered package proves its files without the archive: each file of `content/` verifies
/// with its record of `evidence/`, the package's trust anchors and CRLs, by `carnac verify`
/// run where there is no data folder; the README says how for each.
#[test]
fn a_delivered_package_verifies_without_the_archive() {
    let data = data_with_tenant();
    let objects = ingested(data.path());
    let root: String = rusqlite::Connection::open(data.path().join("catalog.sqlite"))
        .unwrap()
        .query_row(
            "SELECT id FROM units WHERE tenant = '0' AND id NOT IN (SELECT unit FROM unit_parents) LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let dip = data.path().join("dip.zip");
    let out = run(
        data.path(),
        &[
            "deliver",
            "--tenant",
            "0",
            "--unit",
            &root,
            "--out",
            dip.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let dir = data.path().join("dip");
    zip::ZipArchive::new(std::fs::File::open(&dip).unwrap())
        .unwrap()
        .extract(&dir)
        .unwrap();
    let b = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let readme = std::fs::read_to_string(dir.join("evidence/README.txt")).unwrap();
    let mut verified = 0;
    for (id, _) in &objects {
        if !dir.join(format!("Content/{id}")).exists() {
            continue;
        }
        let (code, out) = verify_offline(&[
            &b(&format!("Content/{id}")),
            "--evidence",
            &b(&format!("evidence/{id}.ers")),
            "--trust",
            &b("evidence/trust.pem"),
            "--crl",
            &b("evidence/revocation.pem"),
        ]);
        assert_eq!(code, 0, "{id}: {out}");
        assert!(readme.contains(&format!("evidence/{id}.ers")), "{readme}");
        verified += 1;
    }
    assert!(verified >= 1, "the root's files are in the package");
    // The deposit attestation of the transfer they came from, verified offline too.
    let attestations: Vec<std::path::PathBuf> =
        std::fs::read_dir(dir.join("evidence/attestations"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
    assert_eq!(attestations.len(), 1, "one transfer");
    let a = |n: &str| attestations[0].join(n).to_str().unwrap().to_owned();
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_carnac"))
        .args([
            "attestation",
            "verify",
            &a("attestation.json"),
            "--signature",
        ])
        .arg(a("attestation.p7s"))
        .arg("--signer")
        .arg(a("signer.pem"))
        .arg("--trust")
        .arg(b("evidence/trust.pem"))
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(readme.contains("attestation verify"), "{readme}");
    // The journal's events about them, each proven by its seal, offline.
    let proofs: Vec<std::path::PathBuf> = std::fs::read_dir(dir.join("evidence/journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mut kinds = Vec::new();
    for proof in &proofs {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_carnac"))
            .args(["journal", "verify", "--proof"])
            .arg(proof)
            .arg("--trust")
            .arg(b("evidence/trust.pem"))
            .current_dir(empty.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{proof:?}: {out:?}");
        let p: serde_json::Value = serde_json::from_slice(&std::fs::read(proof).unwrap()).unwrap();
        kinds.push(p["event"]["kind"].as_str().unwrap().to_owned());
    }
    for kind in ["INGEST", "DEPOSIT_ATTESTATION"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    // A file changed in the package no longer verifies.
    let (id, _) = objects
        .iter()
        .find(|(id, _)| dir.join(format!("Content/{id}")).exists())
        .unwrap();
    std::fs::write(dir.join(format!("Content/{id}")), b"changed").unwrap();
    let (code, _) = verify_offline(&[
        &b(&format!("Content/{id}")),
        "--evidence",
        &b(&format!("evidence/{id}.ers")),
        "--trust",
        &b("evidence/trust.pem"),
        "--crl",
        &b("evidence/revocation.pem"),
    ]);
    assert_ne!(code, 0);
}
