//! The as@lae intake at the use-case level: a SEDA 1.0 bordereau and its attachments
//! received, queued with their acknowledgement, ingested as one source; SEDA 1.0 mapped to
//! units, objects and rules with their end dates; two Documents naming one file; what a
//! stop leaves in the incoming folder cleaned at the next start.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_blobstore::{BlobKey, BlobStore};
use carnac_catalog::Intake;
use common::*;
use sha2::Digest as _;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// A bordereau of one Archive: an ArchiveObject with a Document, and a second ArchiveObject
/// whose Document names the same file (as the PES Marché flow does).
fn bordereau(id: &str, digest: &str, size: usize) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v1.0">
  <Comment>Flux PES Marché</Comment>
  <Date>2026-11-29T10:00:00+01:00</Date>
  <TransferIdentifier>{id}</TransferIdentifier>
  <ArchivalAgency><Identification>FRAD001</Identification></ArchivalAgency>
  <TransferringAgency><Identification>VER002</Identification></TransferringAgency>
  <Archive>
    <ArchivalAgreement>ACCORD_PASTELL_21</ArchivalAgreement>
    <DescriptionLanguage>fra</DescriptionLanguage>
    <Name>Marché 2026-42</Name>
    <ContentDescription>
      <DescriptionLevel>file</DescriptionLevel>
      <Language>fra</Language>
      <LatestDate>2026-06-01</LatestDate>
      <OldestDate>2026-01-15</OldestDate>
      <Keyword><KeywordContent>marché public</KeywordContent></Keyword>
      <OriginatingAgency><Identification>PROD001</Identification></OriginatingAgency>
    </ContentDescription>
    <AccessRestrictionRule><Code>AR048</Code><StartDate>2026-06-01</StartDate></AccessRestrictionRule>
    <AppraisalRule><Code>detruire</Code><Duration>P10Y</Duration><StartDate>2026-06-01</StartDate></AppraisalRule>
    <ArchiveObject>
      <Name>Flux PES</Name>
      <Document>
        <Attachment mimeCode="application/pdf" filename="pes/flux.pdf"/>
        <Integrity algorithme="http://www.w3.org/2001/04/xmlenc#sha256">{digest}</Integrity>
        <Size unitCode="AD">{size}</Size>
        <Type>CDO</Type>
      </Document>
    </ArchiveObject>
    <ArchiveObject>
      <Name>Pièce de marché</Name>
      <Document>
        <Attachment mimeCode="application/pdf" filename="pes/flux.pdf"/>
        <Integrity algorithme="http://www.w3.org/2001/04/xmlenc#sha256">{digest}</Integrity>
        <Type>CDO</Type>
      </Document>
    </ArchiveObject>
  </Archive>
</ArchiveTransfer>"#
    )
}

fn targz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, *bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn put(f: &Fixture, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = f.archive.incoming_dir().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn a_seda_1_0_transfer_becomes_units_objects_and_dated_rules() {
    let f = fixture();
    let t = f.tenant_with("pastell", "../asalae/referential");
    let b = put(
        &f,
        ".asalae-b",
        bordereau("PES-1", &sha256(PDF), PDF.len()).as_bytes(),
    );
    let a = put(&f, ".asalae-a", &targz(&[("pes/flux.pdf", PDF)]));
    let (q, message) = f
        .archive
        .receive_bordereau(&t, &b, Some(&a), "pastell")
        .unwrap();
    assert_eq!(q.intake, Intake::Asalae);
    assert_eq!(
        (message.origin.as_str(), message.message_id.as_str()),
        ("VER002", "PES-1")
    );
    assert!(
        message
            .acknowledgement
            .contains("<MessageReceivedIdentifier>PES-1<")
    );
    assert!(
        !a.exists() && !b.exists(),
        "the uploads became the transfer's"
    );
    f.archive.process_transfer(&q).unwrap();

    let op = q.operation.clone();
    let o = f.archive.catalog().operation(&t, &op).unwrap().unwrap();
    assert_eq!(o.status, Some(carnac_model::Status::Ok), "{:#?}", o.summary);
    let mut reply = Vec::new();
    f.archive.reply(&t, &op, &mut reply).unwrap();
    let reply = String::from_utf8(reply).unwrap();
    assert!(reply.contains("<ReplyCode>000</ReplyCode>"), "{reply}");

    // Archive, two ArchiveObjects, two Documents: five units under one root.
    let units = f.archive.catalog().units_of_operation(&t, &op).unwrap();
    assert_eq!(units.len(), 5);
    let root = units.iter().find(|u| u.parents.is_empty()).unwrap();
    assert_eq!(root.title, "Marché 2026-42");
    assert!(reply.contains(&format!(
        "<ArchivalAgencyArchiveIdentifier>{}</ArchivalAgencyArchiveIdentifier>",
        root.id
    )));
    let details = f
        .archive
        .catalog()
        .unit_details(&t, &root.id)
        .unwrap()
        .unwrap();
    assert_eq!(details.originating_agency.as_deref(), Some("PROD001"));
    assert_eq!(details.description_level.as_deref(), Some("File"));
    let rules: Vec<(&str, &str, Option<&str>)> = details
        .rules
        .iter()
        .map(|r| (r.category.as_str(), r.rule.as_str(), r.end_date.as_deref()))
        .collect();
    assert_eq!(
        rules,
        [
            ("AppraisalRule", "detruire", Some("2036-06-01")),
            ("AccessRule", "AR048", Some("2076-06-01"))
        ]
    );
    // SEDA 1.0's appraisal code is the FinalAction.
    let management = details.management.unwrap();
    assert_eq!(
        management
            .category(carnac_model::referential::RuleCategory::AppraisalRule)
            .unwrap()
            .final_action,
        Some(carnac_model::rules::FinalAction::Destroy)
    );

    // One file, two Documents: two objects, each with its own copy in every offer.
    let objects = f.archive.catalog().objects_of_operation(&t, &op).unwrap();
    assert_eq!(objects.len(), 2);
    assert_ne!(objects[0].id, objects[1].id);
    for o in &objects {
        assert_eq!(o.digest.as_ref().unwrap().hex, sha256(PDF));
        for offer in &f.offers {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut offer
                    .open(&BlobKey {
                        tenant: t.clone(),
                        batch: op.clone(),
                        name: o.id.to_string(),
                    })
                    .unwrap(),
                &mut bytes,
            )
            .unwrap();
            assert_eq!(bytes, PDF);
        }
    }
    // Nothing left of the transfer in the incoming folder.
    assert!(
        std::fs::read_dir(f.archive.incoming_dir())
            .unwrap()
            .flatten()
            .all(|e| e.file_type().unwrap().is_dir()),
    );
}

#[test]
fn a_bordereau_that_cannot_be_found_again_is_refused_and_nothing_is_kept() {
    let f = fixture();
    let t = f.tenant_with("pastell", "../asalae/referential");
    let no_id = bordereau("", &sha256(PDF), PDF.len());
    let b = put(&f, ".asalae-b", no_id.as_bytes());
    let a = put(&f, ".asalae-a", &targz(&[("pes/flux.pdf", PDF)]));
    let err = f
        .archive
        .receive_bordereau(&t, &b, Some(&a), "pastell")
        .unwrap_err();
    assert!(err.to_string().contains("TransferIdentifier"), "{err}");
    assert!(!a.exists() && !b.exists());
    assert!(f.archive.catalog().queued_transfers().unwrap().is_empty());
    // The same identifier twice from one agency: the second is refused, the first kept.
    let b1 = put(&f, ".asalae-b1", bordereau("PES-2", "00", 1).as_bytes());
    let (q, _) = f
        .archive
        .receive_bordereau(&t, &b1, None, "pastell")
        .unwrap();
    let b2 = put(&f, ".asalae-b2", bordereau("PES-2", "00", 1).as_bytes());
    assert!(
        f.archive
            .receive_bordereau(&t, &b2, None, "pastell")
            .is_err()
    );
    assert!(!b2.exists());
    assert_eq!(f.archive.catalog().queued_transfers().unwrap(), vec![q]);
}

#[test]
fn a_restart_removes_what_never_became_a_queued_transfer() {
    let f = fixture();
    let t = f.tenant_with("pastell", "../asalae/referential");
    let b = put(&f, ".asalae-b", bordereau("PES-3", "00", 1).as_bytes());
    let (q, _) = f
        .archive
        .receive_bordereau(&t, &b, None, "pastell")
        .unwrap();
    // An upload cut by a stop, and files kept for a transfer whose queueing never happened.
    put(&f, ".asalae-cut", b"half a bordereau");
    put(&f, ".upload-cut", b"half a container");
    put(&f, "pastell.op-999999", b"orphan");
    put(&f, "pastell.op-999999.bordereau.xml", b"orphan");
    // Chunk sessions (`chunks/<account>/<session>/session.json`): one unused for two days,
    // one for half a day, and one of the layout before accounts had folders.
    let chunks = f.archive.incoming_dir().join("chunks");
    let stale = chunks.join("0123456789abcdef").join("abandoned");
    let fresh = chunks.join("0123456789abcdef").join("fresh");
    let legacy = chunks.join("legacy");
    // Ages as the archive's clock (the fixture's) sees them.
    let now = std::time::SystemTime::from(time::macros::datetime!(2026-11-29 04:00:00 UTC));
    let day = std::time::Duration::from_secs(24 * 3600);
    for (dir, age) in [(&stale, 2 * day), (&fresh, day / 2), (&legacy, 2 * day)] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("session.json"), b"{}").unwrap();
        std::fs::File::options()
            .write(true)
            .open(dir.join("session.json"))
            .unwrap()
            .set_modified(now - age)
            .unwrap();
    }
    f.archive.recover().unwrap();
    let mut left: Vec<String> = std::fs::read_dir(f.archive.incoming_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "chunks".to_owned(),
            format!("pastell.{}.bordereau.xml", q.operation)
        ]
    );
    assert!(!stale.exists());
    assert!(!legacy.exists());
    assert!(fresh.exists(), "a session in progress is kept");
}
