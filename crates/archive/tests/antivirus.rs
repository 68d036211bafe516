//! ClamAV for real: a private `clamd` with a one-line EICAR signature database (no signature
//! database can be downloaded here). A transfer carrying the EICAR test file is rejected and
//! nothing of it is kept; a clean one is accepted. `scripts/test` installs `clamav-daemon`
//! and sets `CARNAC_REQUIRE_ORACLES=1`, which turns a missing clamd into a failure.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::antivirus::Clamd;
use carnac_model::Status;
use common::*;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

struct ClamdProcess {
    child: Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for ClamdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_clamd() -> Option<ClamdProcess> {
    let clamd = ["/usr/sbin/clamd", "/usr/bin/clamd"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(clamd) = clamd else {
        assert!(
            std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
            "clamd is required but not installed"
        );
        eprintln!("SKIPPED: clamd is not installed (apt-get install clamav-daemon)");
        return None;
    };
    let dir = tempfile::Builder::new()
        .prefix("clamd")
        .tempdir_in("/tmp")
        .unwrap();
    let md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(EICAR))
    };
    std::fs::write(
        dir.path().join("eicar.hdb"),
        format!("{md5}:{}:Eicar-Test-Signature\n", EICAR.len()),
    )
    .unwrap();
    let socket = dir.path().join("clamd.sock");
    let conf = dir.path().join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "Foreground yes\nLocalSocket {}\nDatabaseDirectory {}\nLogFile {}/clamd.log\nStreamMaxLength 1000M\nUser root\n",
            socket.display(),
            dir.path().display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let child = Command::new(clamd)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start clamd");
    let process = ClamdProcess {
        child,
        socket: socket.clone(),
        _dir: dir,
    };
    for _ in 0..200 {
        if Clamd::new(&socket).ping().is_ok() {
            return Some(process);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("clamd did not answer within 20 s");
}

fn sip(name: &str, content: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(content));
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">
  <Date>2026-11-29T04:00:00</Date><MessageIdentifier>av</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
  <CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>
  <DataObjectPackage>
    <BinaryDataObject id="O1"><DataObjectGroupId>G1</DataObjectGroupId><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/{name}</Uri><MessageDigest algorithm="SHA-256">{digest}</MessageDigest></BinaryDataObject>
    <DescriptiveMetadata><ArchiveUnit id="U1"><Content><DescriptionLevel>Item</DescriptionLevel><Title>t</Title></Content><DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit></DescriptiveMetadata>
    <ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier></ManagementMetadata>
  </DataObjectPackage>
  <ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency>
</ArchiveTransfer>"#
    );
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("manifest.xml", opts).unwrap();
    w.write_all(manifest.as_bytes()).unwrap();
    w.start_file(format!("Content/{name}"), opts).unwrap();
    w.write_all(content).unwrap();
    w.finish().unwrap().into_inner()
}

#[test]
fn the_eicar_file_is_rejected_and_clean_files_pass() {
    let Some(clamd) = start_clamd() else { return };
    let f = fixture_full(
        Default::default(),
        Some(Arc::new(Clamd::new(&clamd.socket))),
    );
    let t = f.tenant_with("0", "tenant-0");
    let ingest = |bytes: Vec<u8>| {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        f.archive
            .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
            .unwrap()
    };
    let infected = ingest(sip("eicar.txt", EICAR));
    assert_eq!(infected.status(), Status::Ko);
    let virus = infected
        .summary
        .reasons
        .iter()
        .find(|r| r.step == "SANITY_CHECK_SIP" && r.code == "VIRUS")
        .expect("virus reason");
    assert!(
        virus.message.contains("Eicar-Test-Signature"),
        "{}",
        virus.message
    );
    f.assert_nothing_stored(&t);

    let clean = ingest(sip("clean.txt", b"nothing to see here\n"));
    assert!(clean.status().is_accepted(), "{:#?}", clean.summary.reasons);
    assert!(
        f.reply(&t, &clean)
            .contains("<EventTypeCode>SANITY_CHECK_SIP</EventTypeCode>")
    );
}
