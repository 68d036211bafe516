//! The web application in a real browser (issue 19 §3): `carnac serve` on a free loopback
//! port over a prepared data folder, driven by `tests/browser/web.py` (Debian's chromium
//! through a pinned Playwright, axe-core on every page), stopped by its PID. `scripts/test`
//! installs chromium and the Python packages and sets `CARNAC_REQUIRE_ORACLES=1`, which
//! turns their absence into a failure; elsewhere the test says it is skipped.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::time::Duration;

/// Whether Playwright, axe-playwright-python and chromium are here.
fn browser_available() -> bool {
    std::path::Path::new("/usr/bin/chromium").exists()
        && std::process::Command::new("python3")
            .args(["-c", "import playwright, axe_playwright_python"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// A SEDA 2.2 transfer of one unit titled `title` with one file, whose manifest declares
/// the size and digest of `declared`.
fn write_unit_sip(path: &std::path::Path, title: &str, declared: &[u8], content: &[u8]) {
    use sha2::Digest as _;
    use std::io::Write;
    let escaped = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2">
<Date>2026-12-04T04:00:00</Date><MessageIdentifier>web</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
<CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>
<DataObjectPackage><DataObjectGroup id="G1"><BinaryDataObject id="O1"><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/f.txt</Uri><MessageDigest algorithm="SHA-256">{}</MessageDigest><Size>{}</Size><FileInfo><Filename>deliberation.txt</Filename></FileInfo></BinaryDataObject></DataObjectGroup>
<DescriptiveMetadata><ArchiveUnit id="U1"><Content><DescriptionLevel>Item</DescriptionLevel><Title>{escaped}</Title><StartDate>2019-03-04</StartDate><EndDate>2019-03-04</EndDate></Content><DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit></DescriptiveMetadata>
<ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier></ManagementMetadata>
</DataObjectPackage><ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency></ArchiveTransfer>"#,
        hex::encode(sha2::Sha256::digest(declared)),
        declared.len()
    );
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("manifest.xml", opts).unwrap();
    w.write_all(manifest.as_bytes()).unwrap();
    w.start_file("Content/f.txt", opts).unwrap();
    w.write_all(content).unwrap();
    w.finish().unwrap();
}

/// A free port: the system gives one, which `serve` takes at once.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port`.
fn wait_listening(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("carnac serve did not listen on {port}");
}

/// `carnac serve`, killed when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_web_application_works_in_a_browser_and_passes_axe() {
    if !browser_available() {
        assert!(
            std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
            "chromium or Playwright is missing (scripts/test installs them)"
        );
        eprintln!("skipped: chromium or Playwright is missing (scripts/test installs them)");
        return;
    }
    let data = data_with_tenant();
    let d = data.path();
    assert!(run(d, &["tenant", "create", "1"]).status.success());
    let password = d.join("marie.pw");
    std::fs::write(&password, "Mot de passe très long\n").unwrap();
    let out = run(
        d,
        &[
            "account",
            "create",
            "marie",
            "--role",
            "archivist",
            "--tenant",
            "0",
            "--tenant",
            "1",
            "--password-file",
            password.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A unit whose title holds markup and quotes, with a file.
    let sip = d.join("web.zip");
    write_unit_sip(
        &sip,
        "Délibération <script>alert(\"x\")</script> d'O'Brien",
        b"Le conseil municipal delibere.\n",
        b"Le conseil municipal delibere.\n",
    );
    // A producer of tenant 0, and the transfer it will send from the browser: its file does
    // not match the digest its manifest declares.
    let out = run(
        d,
        &[
            "account",
            "create",
            "paul",
            "--role",
            "producer",
            "--tenant",
            "0",
            "--password-file",
            password.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        d,
        &[
            "account",
            "create",
            "claire",
            "--role",
            "control-authority",
            "--tenant",
            "0",
            "--password-file",
            password.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        d,
        &[
            "account",
            "create",
            "olivier",
            "--role",
            "operator",
            "--password-file",
            password.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A unit to eliminate (its retention over, its final action Destroy) and one to
    // transfer to the definitive archives (its retention over, to be kept).
    let ended = |name: &str, title: &str, final_action: &str| {
        let sip = d.join(format!("{name}.zip"));
        write_unit_sip(&sip, title, name.as_bytes(), name.as_bytes());
        let atr = d.join(format!("{name}-atr.xml"));
        let out = run(
            d,
            &[
                "ingest",
                "--tenant",
                "0",
                sip.to_str().unwrap(),
                "--atr",
                atr.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let atr = std::fs::read_to_string(&atr).unwrap();
        let unit = atr
            .split_once("<SystemId>")
            .unwrap()
            .1
            .split_once("</SystemId>")
            .unwrap()
            .0
            .to_owned();
        let changes = d.join(format!("{name}-changes.json"));
        std::fs::write(
            &changes,
            serde_json::json!({"units": [unit], "actions": [
                {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
                {"action": "set_final_action", "category": "AppraisalRule", "final_action": final_action}]})
            .to_string(),
        )
        .unwrap();
        let out = run(
            d,
            &[
                "rules",
                "change",
                "--tenant",
                "0",
                "--file",
                changes.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ended("registre", "Registre à éliminer", "Destroy");
    ended("dossier", "Dossier à transférer", "Keep");
    let refused = d.join("refuse.zip");
    write_unit_sip(&refused, "Arrêté", b"declared", b"received");
    let out = run(d, &["ingest", "--tenant", "0", sip.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let served = Served(
        carnac(d)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(port);
    // A second archive whose sessions end after a minute without a request: the browser
    // signs in there first and comes back once the minute is over.
    let short = data_with_tenant();
    std::fs::write(
        short.path().join("carnac.toml"),
        "[web]\nidle_minutes = 1\n",
    )
    .unwrap();
    let out = run(
        short.path(),
        &[
            "account",
            "create",
            "marie",
            "--role",
            "archivist",
            "--tenant",
            "0",
            "--password-file",
            password.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let short_port = free_port();
    let short_served = Served(
        carnac(short.path())
            .args(["serve", "--listen", &format!("127.0.0.1:{short_port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(short_port);
    let profile = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/web.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(profile.path())
        .arg(&refused)
        .arg(format!("http://127.0.0.1:{short_port}"))
        .output()
        .unwrap();
    drop(served);
    drop(short_served);
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
