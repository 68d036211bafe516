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
    from_proposal_to_what_remains(&fixture());
}

/// The same on the distributed engines: a PostgreSQL catalog, and an S3 offer beside one in
/// memory (issue 20).
#[test]
fn an_elimination_on_postgresql_and_s3() {
    let Some(f) = fixture_distributed("elimination") else {
        return;
    };
    from_proposal_to_what_remains(&f);
}

fn from_proposal_to_what_remains(f: &Fixture) {
    let t = f.tenant_with("0", "tenant-0");
    let ids = ingest(f, &t);
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
        page.contains("une unité qu’elle contient"),
        "the excluded are listed with why"
    );
    // The same as a PDF, checked by qpdf and read back by poppler's pdftotext (Debian
    // packages qpdf and poppler-utils), accents and typographic apostrophes included.
    let pdf = f
        .archive
        .elimination_document(&t, &proposal.id, "bordereau.pdf")
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bordereau.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let qpdf = std::process::Command::new("qpdf")
        .arg("--check")
        .arg(&path)
        .output()
        .expect("qpdf (Debian package qpdf)");
    assert!(qpdf.status.success(), "{qpdf:?}");
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils)");
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8(text.stdout).unwrap();
    for expected in [
        "Bordereau d’élimination",
        "Unités proposées à l’élimination",
        "Dossier D",
        "Dossier X",
        "APP-00002",
        "Unités écartées",
        "est conservée",
        "Autorité de contrôle (visa, Code du patrimoine R212-14)",
        "page 1 sur 1",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert!(text.contains(ids["D"].as_str()), "{text}");

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
    for offer in &f.stores {
        for (tenant, batch) in offer.batches().unwrap() {
            let names = offer.list(&tenant, &batch).unwrap();
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

/// An offer whose deletions fail while `failing` is set (an unreachable site).
struct FailingDeletes {
    inner: carnac_blobstore::memory::MemoryStore,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl carnac_blobstore::BlobStore for FailingDeletes {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn begin(
        &self,
        tenant: &carnac_model::TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<Box<dyn carnac_blobstore::Batch>, carnac_blobstore::BlobError> {
        self.inner.begin(tenant, batch)
    }
    fn open(
        &self,
        key: &carnac_blobstore::BlobKey,
    ) -> Result<Box<dyn std::io::Read + Send>, carnac_blobstore::BlobError> {
        self.inner.open(key)
    }
    fn size(&self, key: &carnac_blobstore::BlobKey) -> Result<u64, carnac_blobstore::BlobError> {
        self.inner.size(key)
    }
    fn discard(
        &self,
        tenant: &carnac_model::TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<(), carnac_blobstore::BlobError> {
        self.inner.discard(tenant, batch)
    }
    fn delete(&self, key: &carnac_blobstore::BlobKey) -> Result<(), carnac_blobstore::BlobError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(carnac_blobstore::BlobError::Invalid {
                offer: self.inner.name().into(),
                message: "the site is unreachable".into(),
            });
        }
        self.inner.delete(key)
    }
    fn batches(
        &self,
    ) -> Result<Vec<(carnac_model::TenantId, carnac_model::OperationId)>, carnac_blobstore::BlobError>
    {
        self.inner.batches()
    }
    fn probe(&self) -> Result<(), carnac_blobstore::BlobError> {
        self.inner.probe()
    }

    fn list(
        &self,
        tenant: &carnac_model::TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<Vec<String>, carnac_blobstore::BlobError> {
        self.inner.list(tenant, batch)
    }
}

/// An execution in steps of one unit, cut short after its first step by an offer that fails:
/// descendants went first (the tree left has no orphan), the elimination stays `executing`
/// (not withdrawn, and no rule of the tenant changes meanwhile), and the next maintenance
/// completes it, with a certificate and a notification that list every unit destroyed.
#[test]
fn an_execution_cut_short_is_completed_with_the_tree_whole_meanwhile() {
    let offers = vec![
        carnac_blobstore::memory::MemoryStore::new("offer-1"),
        carnac_blobstore::memory::MemoryStore::new("offer-2"),
    ];
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stores: Vec<std::sync::Arc<dyn carnac_blobstore::BlobStore>> = vec![
        std::sync::Arc::new(offers[0].clone()),
        std::sync::Arc::new(FailingDeletes {
            inner: offers[1].clone(),
            failing: failing.clone(),
        }),
    ];
    let f = fixture_stores(
        carnac_archive::IngestConfig {
            execution_step_units: 1,
            ..Default::default()
        },
        None,
        offers,
        stores,
    );
    let t = f.tenant_with("0", "tenant-0");
    // A ⊃ B ⊃ C, each with a file, all destroyable; K beside them, kept.
    let units = [
        unit(
            "A",
            "",
            true,
            &unit("B", "", true, &unit("C", "", true, "")),
        ),
        unit(
            "K",
            "<AppraisalRule><FinalAction>Keep</FinalAction></AppraisalRule>",
            true,
            "",
        ),
    ]
    .concat();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&sip(
        &units,
        "<AppraisalRule><Rule>APP-00002</Rule><StartDate>2000-01-01</StartDate><FinalAction>Destroy</FinalAction></AppraisalRule>",
        &[("A", b"file A"), ("B", b"file B"), ("C", b"file C"), ("K", b"file K")],
    ))
    .unwrap();
    let outcome = f
        .archive
        .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(outcome.status().is_accepted(), "{:?}", outcome.summary);
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let ids: HashMap<String, UnitId> = f
        .archive
        .catalog()
        .units_of_operation(&t, &op)
        .unwrap()
        .into_iter()
        .map(|u| (u.title.trim_start_matches("Dossier ").to_owned(), u.id))
        .collect();
    let proposal = f
        .archive
        .propose_elimination(
            &t,
            &EliminationRequest {
                at: Some("2026-12-04".into()),
                // The root first: the order of the selection is not the order of execution.
                units: ["A", "B", "C"].map(|n| ids[n].to_string()).to_vec(),
                ..Default::default()
            },
            "arch",
        )
        .unwrap();
    assert_eq!(proposal.units.len(), 3);
    f.archive
        .agree_elimination(&t, &proposal.id, true, None, "prod")
        .unwrap();
    f.archive
        .visa_elimination(
            &t,
            &proposal.id,
            Visa::Decision {
                granted: true,
                except: vec![],
                comment: None,
            },
            "ctl",
        )
        .unwrap();

    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut seen = Vec::new();
    let err = f
        .archive
        .execute_elimination_with(&t, &proposal.id, "arch", &mut |p| seen.push(p))
        .unwrap_err();
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert_eq!(seen.first().map(|p| (p.destroyed, p.total)), Some((0, 3)));
    let report = f.archive.elimination_report(&t, &proposal.id).unwrap();
    assert_eq!(report.state, EliminationState::Executing);
    assert_eq!(report.execution.as_ref().unwrap()["agent"], "arch");
    assert!(report.purge_pending, "the step's blobs wait for the offer");
    // The first step destroyed C, the deepest: B and A stand, a tree without orphans.
    assert!(f.archive.unit_record(&t, &ids["C"]).unwrap().is_none());
    assert!(f.archive.tombstone(&t, &ids["C"]).unwrap().is_some());
    for n in ["A", "B", "K"] {
        assert!(f.archive.unit_record(&t, &ids[n]).unwrap().is_some(), "{n}");
    }
    let status: HashMap<String, EliminationUnitStatus> = report
        .units
        .iter()
        .map(|u| {
            let n = ids.iter().find(|(_, id)| id.as_str() == u.id).unwrap().0;
            (n.clone(), u.status)
        })
        .collect();
    assert_eq!(status["C"], EliminationUnitStatus::Destroyed);
    assert_eq!(status["A"], EliminationUnitStatus::Destroying);
    // Begun, it is completed, never withdrawn; the tenant's rules wait for it.
    let err = f
        .archive
        .withdraw_elimination(&t, &proposal.id, None, "arch")
        .unwrap_err();
    assert!(
        err.to_string().contains("completed, not withdrawn"),
        "{err}"
    );
    let hold: carnac_archive::rules::RulesChangeRequest =
        serde_json::from_value(serde_json::json!({
            "units": [ids["K"]],
            "actions": [{"action": "hold", "rule": "HOL-00002", "hold": {"reason": "Recours"}}]
        }))
        .unwrap();
    let err = f.archive.change_rules(&t, &hold, "arch").unwrap_err();
    assert!(err.to_string().contains("being executed"), "{err}");

    // The site is back: the next maintenance completes the execution.
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let pass = f.archive.maintain(std::time::Duration::from_secs(86_400));
    assert!(
        pass.done.iter().any(|(_, d)| matches!(
            d,
            carnac_archive::maintenance::Duty::ExecutionCompleted { elimination } if *elimination == proposal.id
        )),
        "{pass:?}"
    );
    let done = f.archive.elimination_report(&t, &proposal.id).unwrap();
    assert_eq!(done.state, EliminationState::Executed);
    assert!(!done.purge_pending);
    assert!(
        done.units
            .iter()
            .all(|u| u.status == EliminationUnitStatus::Destroyed)
    );
    for n in ["A", "B", "C"] {
        assert!(f.archive.unit_record(&t, &ids[n]).unwrap().is_none(), "{n}");
    }
    let certificate: serde_json::Value = serde_json::from_slice(
        &f.archive
            .elimination_document(&t, &proposal.id, "certificate.json")
            .unwrap(),
    )
    .unwrap();
    let listed: Vec<&str> = certificate["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["title"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["Dossier C", "Dossier B", "Dossier A"]);
    let notification = String::from_utf8(
        f.archive
            .elimination_document(&t, &proposal.id, "notification.xml")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(notification.matches("<UnitIdentifier>").count(), 3);
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
    // The list destroyed was timestamped before the first step: identifiers in the order
    // of execution, one a line.
    let start = f
        .archive
        .catalog()
        .journal(&t)
        .unwrap()
        .into_iter()
        .find(|e| e.event.kind == carnac_model::journal::EventKind::EliminationExecutionStart)
        .unwrap();
    let plan: String = ["C", "B", "A"]
        .iter()
        .map(|n| format!("{}\n", ids[*n]))
        .collect();
    let digest = sha2::Sha256::digest(plan.as_bytes()).to_vec();
    assert_eq!(start.event.detail["plan_sha256"], hex::encode(&digest));
    let token = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        start.event.detail["plan_timestamp"]["token"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    carnac_timestamp::verify::verify_token(
        &token,
        &carnac_timestamp::verify::Expected {
            imprint: &carnac_timestamp::Imprint {
                algorithm: carnac_timestamp::HashAlgorithm::Sha256,
                digest,
            },
            nonce: None,
            policy: None,
        },
        &f.archive.trust(),
    )
    .unwrap();
    // Rules change again.
    f.archive.change_rules(&t, &hold, "arch").unwrap();
}

/// A producer bound to some originating agencies answers for their records only: its
/// agreement to an elimination of another agency's records is refused (403 over HTTP), a
/// producer of that agency, or of the whole tenant, gives it. Agencies are checked against
/// the tenant's referential, and only producers have them.
#[test]
fn a_producer_agrees_for_its_own_agencies_only() {
    use carnac_archive::accounts::NewAccount;
    use carnac_model::access::{AccountKind, Role};
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    ingest(&f, &t);
    let account = |login: &str, role: Role, agencies: &[String]| {
        f.archive.create_account(
            &NewAccount {
                login,
                role,
                kind: AccountKind::Person,
                tenants: std::slice::from_ref(&t),
                password: None,
                token: true,
                certificate: None,
                agencies,
            },
            "test",
        )
    };
    let other = vec!["Identifier1".to_owned()];
    let own = vec!["FRAN_NP_009913".to_owned()];
    let (created, _) = account("other-service", Role::Producer, &other).unwrap();
    assert_eq!(created.agencies, other);
    account("own-service", Role::Producer, &own).unwrap();
    let err = account("ghost", Role::Producer, &["NO-SUCH-AGENCY".to_owned()]).unwrap_err();
    assert!(err.to_string().contains("NO-SUCH-AGENCY"), "{err}");
    let err = account("arch2", Role::Archivist, &own).unwrap_err();
    assert!(err.to_string().contains("producer"), "{err}");

    let proposal = f
        .archive
        .propose_elimination(
            &t,
            &EliminationRequest {
                at: Some("2026-12-04".into()),
                ..Default::default()
            },
            "arch",
        )
        .unwrap();
    let err = f
        .archive
        .agree_elimination(&t, &proposal.id, true, None, "other-service")
        .unwrap_err();
    assert!(
        matches!(err, carnac_archive::ArchiveError::Forbidden(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("FRAN_NP_009913"), "{err}");
    assert_eq!(
        f.archive
            .elimination_report(&t, &proposal.id)
            .unwrap()
            .state,
        EliminationState::Proposed,
        "nothing changed"
    );
    let agreed = f
        .archive
        .agree_elimination(&t, &proposal.id, true, None, "own-service")
        .unwrap();
    assert_eq!(agreed.state, EliminationState::Agreed);
    let reply = String::from_utf8(
        f.archive
            .elimination_document(&t, &proposal.id, "agreement.xml")
            .unwrap(),
    )
    .unwrap();
    assert!(
        reply.contains("<OriginatingAgency><Identifier>FRAN_NP_009913</Identifier>"),
        "the reply names the producer as the request did: {reply}"
    );
}

/// The bucket with Object Lock of the S3 server `scripts/services` starts, as a WORM offer
/// with this minimum; none without the server.
fn s3_worm(minimum_days: u32) -> Option<carnac_blobstore::s3::S3Store> {
    carnac_testkit::s3_offer(
        "site-worm",
        Some(carnac_blobstore::s3::Compliance { minimum_days }),
    )
}

/// On a WORM offer, the files of an ingest are locked until their units may go (here D's
/// appraisal ended in 2005, so only the offer's minimum of one day holds its file), and
/// an execution that would meet a locked file is refused before it begins, each unit named
/// with its date; nothing changes. Without the minimum, the same elimination goes through.
/// In memory, and on the S3 server with Object Lock.
#[test]
fn a_worm_offer_holds_an_execution_until_its_locks_end() {
    use carnac_blobstore::memory::MemoryStore;
    use carnac_blobstore::{BlobKey, BlobStore};
    use std::sync::Arc;
    let mut cases: Vec<(u32, Arc<dyn BlobStore>)> = vec![
        (1, Arc::new(MemoryStore::worm("site-worm", 1))),
        (0, Arc::new(MemoryStore::worm("site-worm", 0))),
    ];
    for days in [1, 0] {
        if let Some(s3) = s3_worm(days) {
            cases.push((days, Arc::new(s3)));
        }
    }
    for (minimum_days, worm) in cases {
        let plain = MemoryStore::new("offer-1");
        let stores: Vec<Arc<dyn BlobStore>> = vec![Arc::new(plain.clone()), worm.clone()];
        let f = fixture_stores(
            carnac_archive::IngestConfig::default(),
            None,
            vec![plain],
            stores,
        );
        let t = f.tenant_with("0", "tenant-0");
        let ids = ingest(&f, &t);
        // The ingest locked the file of D for the minimum at least.
        let (op, d_object) = {
            let (_, objects) = f.archive.catalog().unit(&t, &ids["D"]).unwrap().unwrap();
            let (op, row) = f
                .archive
                .catalog()
                .object(&t, &objects[0].id)
                .unwrap()
                .unwrap();
            (op, row.id)
        };
        let key = |name: &str| BlobKey {
            tenant: t.clone(),
            batch: op.clone(),
            name: name.into(),
        };
        assert_eq!(
            worm.locked_until(&key(d_object.as_str()))
                .unwrap()
                .is_some(),
            minimum_days > 0
        );
        // The manifest until the last unit may go: N, whose 80 years run from 2000.
        assert_eq!(
            worm.locked_until(&key("manifest.xml"))
                .unwrap()
                .unwrap()
                .to_datetime(),
            time::macros::datetime!(2080-01-01 00:00 UTC)
        );
        let proposal = f
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
            .unwrap();
        f.archive
            .agree_elimination(&t, &proposal.id, true, None, "prod")
            .unwrap();
        f.archive
            .visa_elimination(
                &t,
                &proposal.id,
                Visa::Decision {
                    granted: true,
                    except: vec![],
                    comment: None,
                },
                "ctl",
            )
            .unwrap();
        let executed = f.archive.execute_elimination(&t, &proposal.id, "arch");
        let has_d = || {
            worm.list(&t, &op)
                .unwrap()
                .iter()
                .any(|n| n == d_object.as_str())
        };
        if minimum_days == 0 {
            assert_eq!(executed.unwrap().state, EliminationState::Executed);
            assert!(!has_d(), "{}: the file went", worm.name());
            continue;
        }
        let err = executed.unwrap_err();
        assert!(
            matches!(
                err,
                carnac_archive::ArchiveError::State {
                    code: "worm_retention",
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("unit {}", ids["D"]))
                && text.contains("site-worm")
                && text.contains("nothing was destroyed"),
            "{text}"
        );
        let report = f.archive.elimination_report(&t, &proposal.id).unwrap();
        assert_eq!(
            report.state,
            EliminationState::VisaGranted,
            "nothing changed"
        );
        assert!(f.archive.catalog().unit(&t, &ids["D"]).unwrap().is_some());
        assert!(has_d());
    }
}
