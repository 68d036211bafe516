//! Elimination end to end at the use-case boundary: the analysis of a tree with a
//! destroyable unit, a kept one, an unexpired one, one on hold and a parent whose child is
//! kept; the agreement, a partial visa, a hold put on between visa and execution; the
//! execution; and what remains: nothing of the destroyed in the catalog, the search or the
//! offers, tombstones, and every check green.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::elimination::{EliminationRequest, Visa};
use carnac_catalog::EliminationUnitStatus;
use carnac_model::UnitId;
use carnac_model::elimination::EliminationState;
use common::*;
use sha2::Digest;
use std::collections::HashMap;
use std::io::Write;

/// A SEDA 2.2 transfer: one file per unit that names one in `files`.
fn sip(units: &str, package: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let objects: String = files
        .iter()
        .map(|(id, bytes)| {
            format!(
                r#"<DataObjectGroup id="G{id}"><BinaryDataObject id="O{id}"><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/{id}.txt</Uri><MessageDigest algorithm="SHA-256">{}</MessageDigest><Size>{}</Size></BinaryDataObject></DataObjectGroup>"#,
                hex::encode(sha2::Sha256::digest(bytes)),
                bytes.len()
            )
        })
        .collect();
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2">
  <Date>2026-12-04T04:00:00</Date><MessageIdentifier>elim</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
  <CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>
  <DataObjectPackage>{objects}
    <DescriptiveMetadata>{units}</DescriptiveMetadata>
    <ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier>{package}</ManagementMetadata>
  </DataObjectPackage>
  <ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency>
</ArchiveTransfer>"#
    );
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("manifest.xml", opts).unwrap();
    w.write_all(manifest.as_bytes()).unwrap();
    for (id, bytes) in files {
        w.start_file(format!("Content/{id}.txt"), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn unit(id: &str, management: &str, file: bool, inner: &str) -> String {
    let object = if file {
        format!(
            "<DataObjectReference><DataObjectGroupReferenceId>G{id}</DataObjectGroupReferenceId></DataObjectReference>"
        )
    } else {
        String::new()
    };
    format!(
        r#"<ArchiveUnit id="{id}"><Management>{management}</Management><Content><DescriptionLevel>File</DescriptionLevel><Title>Dossier {id}</Title><StartDate>1999-01-01</StartDate><EndDate>1999-12-31</EndDate></Content>{object}{inner}</ArchiveUnit>"#
    )
}

/// R holds: D (destroyable, a file), K (Keep), N (not expired: APP-00001 from 2000, 80
/// years), H (on hold), P (its child C is kept), X (destroyable, held before execution), E
/// (destroyable, excepted by the visa). The package gives R: APP-00002 from 2000, Destroy.
fn tree() -> Vec<u8> {
    let units = unit(
        "R",
        "",
        false,
        &[
            unit("D", "", true, ""),
            unit("K", "<AppraisalRule><FinalAction>Keep</FinalAction></AppraisalRule>", false, ""),
            unit(
                "N",
                "<AppraisalRule><Rule>APP-00001</Rule><StartDate>2000-01-01</StartDate><FinalAction>Destroy</FinalAction></AppraisalRule>",
                false,
                "",
            ),
            unit(
                "H",
                "<HoldRule><Rule>HOL-00002</Rule><HoldReason>Contentieux</HoldReason></HoldRule>",
                false,
                "",
            ),
            unit(
                "P",
                "",
                true,
                &unit("C", "<AppraisalRule><FinalAction>Keep</FinalAction></AppraisalRule>", false, ""),
            ),
            unit("X", "", true, ""),
            unit("E", "", false, ""),
        ]
        .concat(),
    );
    sip(
        &units,
        "<AppraisalRule><Rule>APP-00002</Rule><StartDate>2000-01-01</StartDate><FinalAction>Destroy</FinalAction></AppraisalRule>",
        &[
            ("D", b"destroyed file"),
            ("P", b"kept file of P"),
            ("X", b"file of X"),
        ],
    )
}

fn ingest(f: &Fixture, t: &carnac_model::TenantId) -> HashMap<String, UnitId> {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&tree()).unwrap();
    let outcome = f
        .archive
        .ingest(t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(outcome.status().is_accepted(), "{:?}", outcome.summary);
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    f.archive
        .catalog()
        .units_of_operation(t, &op)
        .unwrap()
        .into_iter()
        .map(|u| (u.title.trim_start_matches("Dossier ").to_owned(), u.id))
        .collect()
}

#[test]
fn an_elimination_from_proposal_to_what_remains() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let ids = ingest(&f, &t);
    // Evidence records of every file, before anything goes.
    f.archive.create_evidence(&t, "test").unwrap();
    let name = |id: &str| {
        ids.iter()
            .find(|(_, u)| u.as_str() == id)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| id.to_owned())
    };

    // Everything eligible on 4 December 2026.
    let proposal = f
        .archive
        .propose_elimination(
            &t,
            &EliminationRequest {
                at: Some("2026-12-04".into()),
                comment: Some("Élimination annuelle".into()),
                ..Default::default()
            },
            "arch",
        )
        .unwrap();
    assert_eq!(proposal.state, EliminationState::Proposed);
    let mut proposed: Vec<String> = proposal.units.iter().map(|u| name(&u.id)).collect();
    proposed.sort();
    assert_eq!(proposed, ["D", "E", "X"]);
    let reasons: HashMap<String, String> = proposal
        .excluded
        .iter()
        .map(|u| {
            (
                name(&u.id),
                u.reason.as_ref().unwrap()["code"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(reasons["K"], "keep");
    assert_eq!(reasons["N"], "not_expired");
    assert_eq!(reasons["H"], "hold");
    assert_eq!(reasons["C"], "keep");
    assert_eq!(reasons["P"], "descendant_kept");
    assert_eq!(reasons["R"], "descendant_kept");
    assert_eq!(proposal.totals["units"], 3);
    assert_eq!(proposal.totals["objects"], 2);
    // The bordereau: the SEDA request lists the three, the page names them.
    let request = String::from_utf8(
        f.archive
            .elimination_document(&t, &proposal.id, "request.xml")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(request.matches("<UnitIdentifier>").count(), 3);
    assert!(request.contains("<AuthorizationReason>Destruction</AuthorizationReason>"));
    let to_producer = String::from_utf8(
        f.archive
            .elimination_document(&t, &proposal.id, "producer-request.xml")
            .unwrap(),
    )
    .unwrap();
    assert!(to_producer.contains("<AuthorizationOriginatingAgencyRequest "));
    assert!(to_producer.contains("<Identifier>FRAN_NP_009913</Identifier>"));
    let page = String::from_utf8(
        f.archive
            .elimination_document(&t, &proposal.id, "bordereau.html")
            .unwrap(),
    )
    .unwrap();
    assert!(page.contains("Bordereau d’élimination") && page.contains("Dossier D"));
    assert!(
        page.contains("a unit below it"),
        "the excluded are listed with why"
    );

    // A unit proposed is held: a second proposal of it is refused.
    let err = f
        .archive
        .propose_elimination(
            &t,
            &EliminationRequest {
                at: Some("2026-12-04".into()),
                units: vec![ids["D"].to_string()],
                ..Default::default()
            },
            "arch",
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("no unit of the selection"),
        "{err}"
    );
    assert!(
        err.to_string().contains("in_other_operation")
            || err.to_string().contains("open operation"),
        "{err}"
    );

    // No visa before the agreement, no execution before the visa.
    let visa = |granted: bool, except: Vec<String>| Visa::Decision {
        granted,
        except,
        comment: Some("Vu".into()),
    };
    assert!(
        f.archive
            .visa_elimination(&t, &proposal.id, visa(true, vec![]), "ctl")
            .is_err()
    );
    let err = f
        .archive
        .execute_elimination(&t, &proposal.id, "arch")
        .unwrap_err();
    assert!(err.to_string().contains("R212-14"), "{err}");

    f.archive
        .agree_elimination(&t, &proposal.id, true, Some("Accord"), "prod")
        .unwrap();
    let granted = f
        .archive
        .visa_elimination(
            &t,
            &proposal.id,
            visa(true, vec![ids["E"].to_string()]),
            "ctl",
        )
        .unwrap();
    assert_eq!(granted.state, EliminationState::VisaPartlyGranted);
    assert_eq!(granted.steps.len(), 2);
    assert_eq!(granted.steps[1]["author"], "ctl");
    // A hold on X between the visa and the execution.
    let hold: carnac_archive::rules::RulesChangeRequest =
        serde_json::from_value(serde_json::json!({
            "units": [ids["X"]],
            "actions": [{"action": "hold", "rule": "HOL-00002", "hold": {"reason": "Recours"}}]
        }))
        .unwrap();
    f.archive.change_rules(&t, &hold, "arch").unwrap();

    let done = f
        .archive
        .execute_elimination(&t, &proposal.id, "arch")
        .unwrap();
    assert_eq!(done.state, EliminationState::Executed);
    assert!(!done.purge_pending);
    let status: HashMap<String, (EliminationUnitStatus, Option<String>)> = done
        .units
        .iter()
        .map(|u| {
            (
                name(&u.id),
                (
                    u.status,
                    u.reason
                        .as_ref()
                        .map(|r| r["code"].as_str().unwrap().to_owned()),
                ),
            )
        })
        .collect();
    assert_eq!(status["D"].0, EliminationUnitStatus::Destroyed);
    assert_eq!(
        status["X"],
        (EliminationUnitStatus::Dropped, Some("hold".into()))
    );
    assert_eq!(
        status["E"],
        (EliminationUnitStatus::Dropped, Some("visa_excepted".into()))
    );
    // Twice: refused.
    assert!(
        f.archive
            .execute_elimination(&t, &proposal.id, "arch")
            .is_err()
    );

    // What is gone: D in the catalog, the search, and its file in every offer.
    assert!(f.archive.unit_record(&t, &ids["D"]).unwrap().is_none());
    let stone = f.archive.tombstone(&t, &ids["D"]).unwrap().unwrap();
    assert_eq!(stone.record["title"], "Dossier D");
    let file = &stone.record["files"][0];
    assert_eq!(
        file["digest"],
        hex::encode(sha2::Sha256::digest(b"destroyed file"))
    );
    let object = file["id"].as_str().unwrap();
    for offer in &f.offers {
        for (tenant, batch) in carnac_blobstore::BlobStore::batches(offer).unwrap() {
            let names = carnac_blobstore::BlobStore::list(offer, &tenant, &batch).unwrap();
            assert!(
                !names.iter().any(|n| n == object),
                "a copy of the destroyed file survives"
            );
        }
    }
    let found = f
        .archive
        .search_units(
            &t,
            &carnac_catalog::UnitQuery {
                text: Some("Dossier".into()),
                limit: 50,
                ..Default::default()
            },
            &carnac_catalog::Interrupt::none(),
        )
        .unwrap();
    assert!(!found.units.iter().any(|u| u.id == ids["D"]));
    assert_eq!(found.total as usize, ids.len() - 1);
    // What stays is intact and every check is green.
    assert!(f.archive.unit_record(&t, &ids["X"]).unwrap().is_some());
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
    assert!(
        f.archive
            .verify_journal(&t, "test")
            .unwrap()
            .problems
            .is_empty()
    );
    let audit = f
        .archive
        .audit(&t, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(audit.intact(), "{audit:?}");
    // The journal says each step and the destruction, on the unit's lifecycle too.
    let lifecycle = f
        .archive
        .lifecycle(
            &t,
            ids["D"].as_str(),
            &carnac_archive::report::JournalPage::all(),
        )
        .unwrap();
    let steps: Vec<&str> = lifecycle.events.iter().map(|e| e.kind.as_str()).collect();
    assert!(steps.contains(&"INGEST"), "{steps:?}");
    assert!(steps.contains(&"ELIMINATION_PROPOSAL"), "{steps:?}");
    assert_eq!(
        steps.iter().rev().find(|k| **k != "AUDIT"),
        Some(&"UNIT_DESTROYED"),
        "a destroyed unit's lifecycle ends with its destruction: {steps:?}"
    );
    let kinds: Vec<String> = f
        .archive
        .catalog()
        .journal(&t)
        .unwrap()
        .into_iter()
        .map(|e| e.event.kind.to_string())
        .collect();
    for k in [
        "ELIMINATION_PROPOSAL",
        "ELIMINATION_AGREEMENT",
        "ELIMINATION_VISA",
        "ELIMINATION_EXECUTION",
        "UNIT_DESTROYED",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    // The notification cites the visa.
    let notification = String::from_utf8(
        f.archive
            .elimination_document(&t, &proposal.id, "notification.xml")
            .unwrap(),
    )
    .unwrap();
    assert!(notification.contains(&format!(
        "<AuthorizationRequestReplyIdentifier>{}-visa</AuthorizationRequestReplyIdentifier>",
        proposal.id
    )));
    assert_eq!(notification.matches("<UnitIdentifier>").count(), 1);

    // The certificate: what was destroyed, under which visa, each file's digest; signed and
    // timestamped, verified by Carnac's verifier and by OpenSSL, refused once changed.
    let dir = tempfile::tempdir().unwrap();
    for name in ["certificate.json", "certificate.p7s", "signer.pem"] {
        std::fs::write(
            dir.path().join(name),
            f.archive
                .elimination_document(&t, &proposal.id, name)
                .unwrap(),
        )
        .unwrap();
    }
    let certificate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("certificate.json")).unwrap())
            .unwrap();
    assert_eq!(certificate["certificate"], "DESTRUCTION");
    assert_eq!(certificate["visa"]["author"], "ctl");
    assert_eq!(certificate["units"].as_array().unwrap().len(), 1);
    assert_eq!(
        certificate["units"][0]["files"][0]["digest"],
        hex::encode(sha2::Sha256::digest(b"destroyed file"))
    );
    let signature = std::fs::read(dir.path().join("certificate.p7s")).unwrap();
    let signer = x509_cert::Certificate::load_pem_chain(
        &std::fs::read(dir.path().join("signer.pem")).unwrap(),
    )
    .unwrap();
    let verified = carnac_archive::attestation::verify_attestation(
        &dir.path().join("certificate.json"),
        &signature,
        &signer,
        &f.archive.trust(),
    )
    .unwrap();
    assert!(verified.signer.contains("O=Carnac"), "{}", verified.signer);
    let openssl = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
        .arg(dir.path().join("certificate.p7s"))
        .arg("-content")
        .arg(dir.path().join("certificate.json"))
        .arg("-CAfile")
        .arg(dir.path().join("signer.pem"))
        .args(["-purpose", "any", "-out", "/dev/null"])
        .output()
        .unwrap();
    assert!(openssl.status.success(), "{openssl:?}");
    let text = std::fs::read_to_string(dir.path().join("certificate.json")).unwrap();
    let changed = text.replacen("Dossier D", "Dossier Z", 1);
    assert_ne!(changed, text);
    std::fs::write(dir.path().join("changed.json"), changed).unwrap();
    assert!(
        carnac_archive::attestation::verify_attestation(
            &dir.path().join("changed.json"),
            &signature,
            &signer,
            &f.archive.trust(),
        )
        .is_err()
    );

    // The evidence records of the files that stay still prove them.
    let report = f
        .archive
        .evidence_report(&t, &ids["X"], dir.path(), "test")
        .unwrap();
    assert_eq!(report.files.len(), 1);
    assert!(
        report.files[0].evidence.starts_with("VALID"),
        "{:?}",
        report.files[0]
    );
}
