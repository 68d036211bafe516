//! Independent verifiers both ways: OpenSSL (`openssl ts -verify`) accepts the built-in TSA's
//! tokens; our verifier accepts OpenSSL's TSA (`openssl ts -reply`, also over HTTP through
//! `testdata/tsa/tsa_http.py`) and Bouncy Castle's vector, and refuses them against another
//! authority's root.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use carnac_timestamp::builtin::BuiltinTsa;
use carnac_timestamp::client::HttpTsa;
use carnac_timestamp::verify::{Expected, TrustStore, verify_response};
use carnac_timestamp::{HashAlgorithm, Imprint, TimestampError, request};
use der::{Decode, EncodePem};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn now() -> Duration {
    #[allow(clippy::disallowed_methods)] // Tests may read the clock: openssl signs at real time.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
}

/// A throw-away OpenSSL PKI (root CA + TSA certificate) made by the workplace script.
fn openssl_pki() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(testdata().join("tsa/make_test_pki.sh"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    dir
}

fn openssl_reply(pki: &Path, request: &[u8]) -> Vec<u8> {
    let q = pki.join("q.tsq");
    let r = pki.join("r.tsr");
    std::fs::write(&q, request).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-reply", "-config"])
        .arg(testdata().join("tsa/tsa.cnf"))
        .arg("-queryfile")
        .arg(&q)
        .arg("-out")
        .arg(&r)
        .env("TSA_DIR", pki)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::read(&r).unwrap()
}

fn anchors(pem_file: &Path) -> TrustStore {
    TrustStore::new()
        .with_anchors_pem(&std::fs::read(pem_file).unwrap())
        .unwrap()
}

#[test]
fn openssl_verifies_builtin_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let tsa =
        BuiltinTsa::create(now() - Duration::from_secs(60), Duration::from_secs(86_400)).unwrap();
    let data = b"Deliberation 2026-042 du conseil municipal";
    let imprint = Imprint::of(HashAlgorithm::Sha256, data);
    let resp = tsa
        .respond(&request(&imprint, Some(b"nonce"), None).unwrap(), now())
        .unwrap();
    std::fs::write(dir.path().join("resp.tsr"), &resp).unwrap();
    std::fs::write(dir.path().join("data"), data).unwrap();
    std::fs::write(
        dir.path().join("root.pem"),
        tsa.root().to_pem(der::pem::LineEnding::LF).unwrap(),
    )
    .unwrap();
    let verify = |args: &[&str]| {
        Command::new("openssl")
            .args(["ts", "-verify", "-in", "resp.tsr", "-CAfile", "root.pem"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = verify(&["-data", "data"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
        "{out:?}"
    );
    // And OpenSSL refuses it for other data.
    std::fs::write(dir.path().join("other"), b"something else").unwrap();
    let out = verify(&["-data", "other"]);
    assert!(!out.status.success(), "{out:?}");
}

#[test]
fn our_verifier_accepts_openssl_tokens_and_only_with_their_root() {
    let pki = openssl_pki();
    let imprint = Imprint::of(HashAlgorithm::Sha512, b"acte 2026-11-29");
    let nonce = [0x9c, 1, 2, 3, 4, 5, 6, 7];
    let policy = const_oid::ObjectIdentifier::new_unwrap("1.2.3.4.1");
    let resp = openssl_reply(
        pki.path(),
        &request(&imprint, Some(&nonce), Some(policy)).unwrap(),
    );
    let expected = Expected {
        imprint: &imprint,
        nonce: Some(&nonce),
        policy: Some(policy),
    };
    let v = verify_response(&resp, &expected, &anchors(&pki.path().join("ca.crt"))).unwrap();
    assert!(v.tsa.contains("Test TSA"), "{}", v.tsa);
    assert!(!v.is_builtin());
    // A token from this TSA is worthless to someone who trusts another one.
    let stranger = BuiltinTsa::create(now(), Duration::from_secs(86_400)).unwrap();
    let err = verify_response(
        &resp,
        &expected,
        &TrustStore::new().with_anchor(stranger.root().clone()),
    )
    .unwrap_err();
    assert!(matches!(err, TimestampError::Untrusted(_)), "{err}");
}

#[test]
fn bouncy_castle_vector_verifies() {
    let dir = testdata().join("evidence");
    let req =
        x509_tsp::TimeStampReq::from_der(&std::fs::read(dir.join("doc0.tsq")).unwrap()).unwrap();
    let imprint = Imprint {
        algorithm: HashAlgorithm::from_oid(&req.message_imprint.hash_algorithm.oid).unwrap(),
        digest: req.message_imprint.hashed_message.as_bytes().to_vec(),
    };
    let nonce = req.nonce.as_ref().unwrap().as_bytes().to_vec();
    let v = verify_response(
        &std::fs::read(dir.join("doc0.tsr")).unwrap(),
        &Expected {
            imprint: &imprint,
            nonce: Some(&nonce),
            policy: None,
        },
        &anchors(&dir.join("ca.crt")),
    )
    .unwrap();
    assert!(v.gen_time_text.starts_with("20"), "{}", v.gen_time_text);
}

/// The OpenSSL TSA served over HTTP on loopback.
struct HttpServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(pki: &Path) -> HttpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = HttpServer {
        child: Command::new("python3")
            .arg(testdata().join("tsa/tsa_http.py"))
            .arg(port.to_string())
            .env("TSA_DIR", pki)
            .spawn()
            .unwrap(),
        port,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the test TSA did not start on port {port}");
}

#[test]
fn the_http_client_gets_verified_tokens_and_reports_transport_failures() {
    let pki = openssl_pki();
    let server = serve(pki.path());
    let tsa = HttpTsa::new(
        &format!("http://127.0.0.1:{}/", server.port),
        anchors(&pki.path().join("ca.crt")),
        None,
        Duration::from_secs(10),
        2,
    );
    let imprint = Imprint::of(HashAlgorithm::Sha256, b"seal root");
    let v = tsa.stamp(&imprint).unwrap();
    assert!(v.tsa.contains("Test TSA"));
    // The same TSA, but the client trusts another root: no retry makes it acceptable.
    let wrong = HttpTsa::new(
        &format!("http://127.0.0.1:{}/", server.port),
        TrustStore::new().with_anchor(
            BuiltinTsa::create(now(), Duration::from_secs(60))
                .unwrap()
                .root()
                .clone(),
        ),
        None,
        Duration::from_secs(10),
        2,
    );
    assert!(matches!(
        wrong.stamp(&imprint),
        Err(TimestampError::Untrusted(_))
    ));
    drop(server);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = HttpTsa::new(
        &format!("http://127.0.0.1:{port}/"),
        anchors(&pki.path().join("ca.crt")),
        None,
        Duration::from_secs(2),
        1,
    );
    assert!(matches!(
        down.stamp(&imprint),
        Err(TimestampError::Transport(_))
    ));
}

#[test]
fn detached_signatures_verify_here_and_in_openssl() {
    use carnac_timestamp::signature::{Signer, verify_detached};
    let dir = tempfile::tempdir().unwrap();
    let tsa =
        BuiltinTsa::create(now() - Duration::from_secs(60), Duration::from_secs(86_400)).unwrap();
    let tsa_trust = TrustStore::new().with_anchor(tsa.root().clone());
    let stamp = |imprint: &Imprint| {
        let resp = tsa.respond(&request(imprint, None, None)?, now())?;
        verify_response(
            &resp,
            &Expected {
                imprint,
                nonce: None,
                policy: None,
            },
            &tsa_trust,
        )
    };
    let signer = Signer::create("Carnac région", now() - Duration::from_secs(60)).unwrap();
    let document = br#"{"attestation":"deposit","files":3}"#;
    let digest = HashAlgorithm::Sha256.digest(document);
    let p7s = signer.sign_detached(&digest, &stamp).unwrap();
    let v = verify_detached(&p7s, &digest, &[signer.certificate().clone()], &tsa_trust).unwrap();
    assert!(v.signer.contains("attestations"), "{}", v.signer);
    // Another document, another signer, another TSA: refused.
    let other = HashAlgorithm::Sha256.digest(b"something else");
    assert!(verify_detached(&p7s, &other, &[signer.certificate().clone()], &tsa_trust).is_err());
    let stranger = Signer::create("other", now()).unwrap();
    assert!(verify_detached(&p7s, &digest, &[stranger.certificate().clone()], &tsa_trust).is_err());
    assert!(
        verify_detached(
            &p7s,
            &digest,
            &[signer.certificate().clone()],
            &TrustStore::new()
        )
        .is_err()
    );
    // The same key and certificate come back from PEM.
    let (cert, key) = signer.to_pem().unwrap();
    assert!(Signer::from_pem(&cert, &key).is_ok());
    assert!(Signer::from_pem(&cert, &stranger.to_pem().unwrap().1).is_err());

    // OpenSSL checks the signature of the document.
    std::fs::write(dir.path().join("doc.json"), document).unwrap();
    std::fs::write(dir.path().join("doc.p7s"), &p7s).unwrap();
    std::fs::write(dir.path().join("signer.pem"), &cert).unwrap();
    let ossl = |content: &str| {
        Command::new("openssl")
            .args([
                "cms", "-verify", "-binary", "-inform", "DER", "-in", "doc.p7s", "-content",
                content,
            ])
            .args([
                "-CAfile",
                "signer.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = ossl("doc.json");
    assert!(out.status.success(), "{out:?}");
    std::fs::write(dir.path().join("tampered.json"), b"{}").unwrap();
    assert!(!ossl("tampered.json").status.success());
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .env("TSA_DIR", dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `make_https_pki.sh`: an OpenSSL TSA whose certificate names a CRL distribution point on
/// `port`, a TLS certificate for 127.0.0.1 and a first CRL in `pub/`.
fn https_pki(port: u16) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(testdata().join("tsa/make_https_pki.sh"))
        .arg(dir.path())
        .arg(port.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    dir
}

#[test]
fn an_https_tsa_and_the_crls_at_its_distribution_point() {
    use carnac_timestamp::revocation::{check_chain, distribution_points};
    let port = free_port();
    let pki = https_pki(port);
    let p = pki.path();
    let crl_url = format!("https://127.0.0.1:{port}/ca.crl");
    let gencrl = || {
        openssl(
            p,
            &[
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
            ],
        )
    };
    std::fs::remove_file(p.join("pub/ca.crl")).unwrap();
    let _server = HttpServer {
        child: Command::new("python3")
            .arg(testdata().join("tsa/tsa_http.py"))
            .arg(port.to_string())
            .env("TSA_DIR", p)
            .env("TLS_CERT", p.join("tls.crt"))
            .env("TLS_KEY", p.join("tls.key"))
            .spawn()
            .unwrap(),
        port,
    };
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the test TSA did not start");

    let url = format!("https://127.0.0.1:{port}/");
    let ca_der =
        carnac_timestamp::certificates_from_pem(&std::fs::read(p.join("ca.crt")).unwrap()).unwrap();
    let client = |roots: &[Vec<u8>]| {
        HttpTsa::new(
            &url,
            anchors(&p.join("ca.crt")),
            None,
            Duration::from_secs(10),
            0,
        )
        .with_tls_roots(roots)
    };
    let imprint = Imprint::of(HashAlgorithm::Sha256, b"over TLS");
    // With the Mozilla roots, this server's certificate is unknown: no token.
    assert!(matches!(
        client(&[]).stamp(&imprint),
        Err(TimestampError::Transport(_))
    ));
    let tsa = client(&ca_der);
    let v = tsa.stamp(&imprint).unwrap();
    assert!(v.tsa.contains("Test TSA"), "{}", v.tsa);
    let signer = x509_cert::Certificate::from_der(&v.chain[0]).unwrap();
    assert_eq!(distribution_points(&signer), vec![crl_url.clone()]);
    let in_an_hour = now() + Duration::from_secs(3600);

    // Nothing published yet: the fetch fails and says where.
    let err = tsa.fetch_crls(&crl_url).unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    // OpenSSL's CRL, not revoking it: the token's certificate is vouched for.
    gencrl();
    let crls = tsa.fetch_crls(&crl_url).unwrap();
    let notes = check_chain(&v.chain, &crls, v.gen_time, in_an_hour).unwrap();
    assert!(notes[0].contains("Test TSA: not revoked"), "{notes:?}");
    // Revoked for a key compromise before any renewal: the token proves nothing any more.
    openssl(
        p,
        &[
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
        ],
    );
    gencrl();
    let crls = tsa.fetch_crls(&crl_url).unwrap();
    let problems = check_chain(&v.chain, &crls, v.gen_time, in_an_hour).unwrap_err();
    assert!(problems[0].contains("Test TSA was revoked"), "{problems:?}");
    assert!(problems[0].contains("keyCompromise"), "{problems:?}");
}

#[test]
fn openssl_reads_the_builtin_crls_and_their_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let tsa =
        BuiltinTsa::create(now() - Duration::from_secs(60), Duration::from_secs(86_400)).unwrap();
    let pem = |c: &x509_cert::Certificate| c.to_pem(der::pem::LineEnding::LF).unwrap();
    std::fs::write(p.join("root.pem"), pem(tsa.root())).unwrap();
    std::fs::write(p.join("tsa.pem"), pem(tsa.certificate())).unwrap();
    let write_crl =
        |revoked: &[(x509_cert::serial_number::SerialNumber, Duration, Option<u8>)]| {
            let der = tsa
                .crl(now(), Duration::from_secs(86_400), revoked)
                .unwrap();
            let crl = carnac_timestamp::revocation::Crl::from_der(&der).unwrap();
            std::fs::write(p.join("crl.pem"), crl.to_pem().unwrap()).unwrap();
        };
    let verify = || {
        let out = Command::new("openssl")
            .args([
                "verify",
                "-crl_check",
                "-CAfile",
                "root.pem",
                "-CRLfile",
                "crl.pem",
                "tsa.pem",
            ])
            .current_dir(p)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    write_crl(&[]);
    assert!(verify().contains("tsa.pem: OK"), "{}", verify());
    let serial = tsa.certificate().tbs_certificate.serial_number.clone();
    write_crl(&[(serial, now() - Duration::from_secs(30), Some(1))]);
    assert!(verify().contains("certificate revoked"), "{}", verify());
    let text = Command::new("openssl")
        .args([
            "crl", "-in", "crl.pem", "-noout", "-text", "-CAfile", "root.pem",
        ])
        .current_dir(p)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&text.stdout),
        String::from_utf8_lossy(&text.stderr)
    );
    assert!(all.contains("verify OK"), "{all}");
    assert!(all.contains("Key Compromise"), "{all}");
    assert!(all.contains("CRL Number"), "{all}");
}
