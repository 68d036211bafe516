//! `carnac serve` over HTTPS: a server certificate from the configuration, client
//! certificates registered to accounts as credentials, tokens still accepted; plain HTTP
//! refused on that port.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both from it, and a
/// client certificate from nobody.
fn pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Test CA",
    ]);
    a.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &a);
    for (name, subject, ext) in [
        (
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "/CN=robot", "extendedKeyUsage=clientAuth\n"),
    ] {
        let mut a = vec!["req", "-new"];
        a.extend(ec);
        let (key, csr, pem, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        std::fs::write(dir.join(&extfile), ext).unwrap();
        a.extend(["-keyout", &key, "-out", &csr, "-subj", subject]);
        openssl(dir, &a);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &extfile,
            ],
        );
    }
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "stranger.key",
        "-out",
        "stranger.pem",
        "-days",
        "2",
        "-subj",
        "/CN=robot",
    ]);
    openssl(dir, &a);
}

fn client(dir: &Path, identity: Option<&str>) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
    if let Some(name) = identity {
        let cert = Certificate::from_pem(&std::fs::read(dir.join(format!("{name}.pem"))).unwrap())
            .unwrap();
        let key =
            PrivateKey::from_pem(&std::fs::read(dir.join(format!("{name}.key"))).unwrap()).unwrap();
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .build()
        .into()
}

#[test]
fn https_with_client_certificates_and_tokens() {
    let data = data_with_tenant();
    let p = data.path();
    let tls = p.join("tls");
    std::fs::create_dir(&tls).unwrap();
    pki(&tls);
    std::fs::write(
        p.join("carnac.toml"),
        "[server]\ntls_certificate = \"tls/server.pem\"\ntls_key = \"tls/server.key\"\ntls_client_ca = \"tls/ca.pem\"\n",
    )
    .unwrap();
    let out = run(
        p,
        &[
            "account",
            "create",
            "robot",
            "--role",
            "archivist",
            "--tenant",
            "0",
            "--kind",
            "application",
            "--certificate",
            tls.join("client.pem").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let token_file = p.join("ops.token");
    let out = run(
        p,
        &[
            "account",
            "create",
            "ops",
            "--role",
            "operator",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = carnac(p)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let url = |path: &str| format!("https://127.0.0.1:{port}{path}");
    let me = |agent: &ureq::Agent, token: Option<&str>| {
        let mut req = agent.get(url("/api/v1/me"));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut res = req.call().unwrap();
        (
            res.status().as_u16(),
            res.body_mut().read_to_string().unwrap(),
        )
    };
    let result = std::panic::catch_unwind(|| {
        assert!(up, "carnac serve did not start");
        // The registered client certificate is the account's credential.
        let (status, body) = me(&client(&tls, Some("client")), None);
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(r#""login":"robot""#), "{body}");
        // A certificate from another authority does not even pass the handshake.
        assert!(
            client(&tls, Some("stranger"))
                .get(url("/api/v1/me"))
                .call()
                .is_err()
        );
        // No certificate: a token still works, nothing else does.
        let token = std::fs::read_to_string(&token_file).unwrap();
        let (status, body) = me(&client(&tls, None), Some(token.trim()));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(r#""login":"ops""#), "{body}");
        let (status, _) = me(&client(&tls, None), None);
        assert_eq!(status, 401);
        // Plain HTTP on the TLS port gets no answer.
        let plain: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .build()
            .into();
        assert!(
            plain
                .get(format!("http://127.0.0.1:{port}/health"))
                .call()
                .is_err()
        );
    });
    server.kill().unwrap();
    server.wait().unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    // A certificate registered twice is refused; so is one that is not a certificate.
    let again = run(
        p,
        &[
            "account",
            "certificate",
            "ops",
            "--certificate",
            tls.join("client.pem").to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{again:?}"
    );
    let bad = run(
        p,
        &[
            "account",
            "certificate",
            "ops",
            "--certificate",
            tls.join("client.key").to_str().unwrap(),
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
}
