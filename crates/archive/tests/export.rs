//! A tenant's export (reversibility) at the use-case boundary: a tenant with two transfers,
//! an elimination executed and a transfer out purged is exported whole; the export checks
//! with its files alone (every digest, the manifest's timestamp, the journal's chain and
//! seals) and refuses a file changed; its packages ingest into a fresh archive with the
//! same units and digests as the tenant still holds.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::elimination::{EliminationRequest, TransferOutRequest, Visa};
use common::*;
use std::collections::BTreeMap;

fn change(
    f: &Fixture,
    t: &carnac_model::TenantId,
    units: serde_json::Value,
    actions: serde_json::Value,
) {
    let request: carnac_archive::rules::RulesChangeRequest =
        serde_json::from_value(serde_json::json!({"units": units, "actions": actions})).unwrap();
    f.archive.change_rules(t, &request, "arch").unwrap();
}

/// Each unit held by title: its files' digests.
fn holdings(f: &Fixture, t: &carnac_model::TenantId) -> BTreeMap<String, Vec<String>> {
    let c = f.archive.catalog();
    let mut out = BTreeMap::new();
    for op in c.operations(t).unwrap() {
        for u in c.units_of_operation(t, &op.id).unwrap() {
            let (_, objects) = c.unit(t, &u.id).unwrap().unwrap();
            let mut d: Vec<String> = objects
                .iter()
                .filter_map(|o| o.digest.as_ref().map(|d| d.hex.clone()))
                .collect();
            d.sort();
            out.insert(u.title.clone(), d);
        }
    }
    out
}

/// A transfer of three trees (a unit with a file each), written in the fixture's folder.
fn three_trees(f: &Fixture) -> std::path::PathBuf {
    use sha2::Digest;
    use std::io::Write;
    let path = f.tmp.path().join("three-trees.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    let (mut objects, mut units) = (String::new(), String::new());
    for i in 0..3 {
        let content = format!("Délibération n° {i} du conseil municipal\n").repeat(10);
        zip.start_file(format!("Content/d{i}.txt"), options)
            .unwrap();
        zip.write_all(content.as_bytes()).unwrap();
        objects.push_str(&format!(
            "<DataObjectGroup id=\"G{i}\"><BinaryDataObject id=\"O{i}\"><DataObjectVersion>BinaryMaster_1</DataObjectVersion>\
             <Uri>Content/d{i}.txt</Uri><MessageDigest algorithm=\"SHA-256\">{}</MessageDigest><Size>{}</Size></BinaryDataObject></DataObjectGroup>",
            hex::encode(sha2::Sha256::digest(content.as_bytes())),
            content.len()
        ));
        units.push_str(&format!(
            "<ArchiveUnit id=\"U{i}\"><Content><DescriptionLevel>Item</DescriptionLevel><Title>Délibération {i}</Title>\
             <StartDate>2020-01-01</StartDate><EndDate>2020-12-31</EndDate></Content>\
             <DataObjectReference><DataObjectGroupReferenceId>G{i}</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>"
        ));
    }
    zip.start_file("manifest.xml", options).unwrap();
    write!(
        zip,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <ArchiveTransfer xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-11-29T04:00:00</Date>\
         <MessageIdentifier>three-trees</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>\
         <CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion>\
         <FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>\
         <DataObjectPackage>{objects}<DescriptiveMetadata>{units}</DescriptiveMetadata>\
         <ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier></ManagementMetadata>\
         </DataObjectPackage><ArchivalAgency><Identifier>A</Identifier></ArchivalAgency>\
         <TransferringAgency><Identifier>T</Identifier></TransferringAgency></ArchiveTransfer>"
    )
    .unwrap();
    zip.finish().unwrap();
    path
}

fn seda_part(package: &std::path::Path) -> tempfile::NamedTempFile {
    let mut from = zip::ZipArchive::new(std::fs::File::open(package).unwrap()).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut to = zip::ZipWriter::new(out.reopen().unwrap());
    for i in 0..from.len() {
        let entry = from.by_index_raw(i).unwrap();
        if !entry.name().unwrap().starts_with("evidence/") {
            to.raw_copy_file(entry).unwrap();
        }
    }
    to.finish().unwrap();
    out
}

#[test]
fn an_exported_tenant_checks_offline_and_ingests_again_whole() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let c = f.archive.catalog();
    let mut ops = Vec::new();
    for sip in ["seda/OK_SIP_2_GO.zip", "seda/OK_SIP-test-md5.zip", ""] {
        let path = if sip.is_empty() {
            three_trees(&f)
        } else {
            testdata().join(sip)
        };
        let o = f.archive.ingest_path(&t, &path, "test").unwrap();
        assert!(o.status().is_accepted(), "{sip}: {:?}", o.summary);
        ops.push(carnac_model::OperationId::new(o.operation()).unwrap());
    }
    let first = c.units_of_operation(&t, &ops[0]).unwrap();
    let root = first.iter().find(|u| u.parents.is_empty()).unwrap();
    let leaf = first
        .iter()
        .find(|u| !first.iter().any(|o| o.parents.contains(&u.id)))
        .unwrap();
    let second = c.units_of_operation(&t, &ops[1]).unwrap();
    // An elimination of the second transfer, executed.
    change(
        &f,
        &t,
        serde_json::json!([second[0].id]),
        serde_json::json!([
            {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
            {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"}]),
    );
    let elimination = f
        .archive
        .propose_elimination(
            &t,
            &EliminationRequest {
                units: vec![second[0].id.to_string()],
                ..Default::default()
            },
            "arch",
        )
        .unwrap();
    f.archive
        .agree_elimination(&t, &elimination.id, true, None, "prod")
        .unwrap();
    f.archive
        .visa_elimination(
            &t,
            &elimination.id,
            Visa::Decision {
                granted: true,
                except: vec![],
                comment: None,
            },
            "ctl",
        )
        .unwrap();
    f.archive
        .execute_elimination(&t, &elimination.id, "arch")
        .unwrap();
    // A transfer out of one leaf of the first, accepted and purged.
    change(
        &f,
        &t,
        serde_json::json!([root.id]),
        serde_json::json!([
            {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
            {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Keep"}]),
    );
    let sent = f
        .archive
        .propose_transfer_out(
            &t,
            &TransferOutRequest {
                units: vec![leaf.id.to_string()],
                archival_agency: "Identifier1".into(),
                ..Default::default()
            },
            "arch",
        )
        .unwrap();
    let atr = format!(
        "<ArchiveTransferReply xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T10:00:00</Date>\
         <MessageIdentifier>AD-1</MessageIdentifier><ReplyCode>OK</ReplyCode>\
         <MessageRequestIdentifier>{}</MessageRequestIdentifier></ArchiveTransferReply>",
        sent.id
    );
    let done = f
        .archive
        .transfer_out_message(&t, &sent.id, atr.as_bytes(), "arch")
        .unwrap();
    assert_eq!(done.state.as_str(), "executed");
    // Attestations and evidence records made, as the maintenance makes them.
    let m = f.archive.maintain(std::time::Duration::from_secs(86_400));
    assert!(m.is_ok(), "{:?}", m.failed);
    let held = holdings(&f, &t);
    assert!(!held.is_empty());

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("export");
    let mut seen = Vec::new();
    let export = f
        .archive
        .export_tenant(&t, &dir, 2, "op", &mut |p| seen.push(p))
        .unwrap();
    assert_eq!(export.transfers, 3);
    assert_eq!(export.units as usize, held.len(), "every unit held, once");
    // OK_SIP_2_GO is one tree: one package (a tree is never split); the third transfer's
    // three trees go 2 units a package at most.
    let third = dir.join("transfers").join(ops[2].as_str());
    let third_packages = third
        .read_dir()
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "zip")
        })
        .count();
    assert!(third_packages >= 2, "{export:?}");
    assert_eq!(export.tombstones, 2, "one destroyed, one transferred");
    assert!(export.attestations_pending.is_empty(), "{export:?}");
    assert_eq!(seen.last().unwrap().transfers, 3);
    for name in [
        "README.md",
        "MANIFEST.sha256",
        "MANIFEST.sha256.tsr",
        "trust.pem",
        "tombstones.jsonl",
        "referentials/rules.json",
        "journal/events.jsonl",
    ] {
        assert!(dir.join(name).is_file(), "{name}");
    }
    for op in &ops {
        let folder = dir.join("transfers").join(op.as_str());
        assert!(folder.join("manifest.xml").is_file() && folder.join("atr.xml").is_file());
        assert!(dir.join("attestations").join(op.as_str()).is_dir());
    }
    assert!(
        dir.join("disposals/elimination")
            .join(elimination.id.as_str())
            .read_dir()
            .unwrap()
            .any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with("certificate.p7s"))
    );
    assert!(
        dir.join("disposals/transfer_out")
            .join(sent.id.as_str())
            .is_dir()
    );
    // Checked with its files alone.
    let trust = f.archive.trust();
    let (digest, problems) = carnac_archive::export::verify_tenant_export(&dir, &trust).unwrap();
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(digest, export.manifest_sha256);
    let (events, seals, breaks) =
        carnac_archive::journal::verify_export(&dir.join("journal"), &trust).unwrap();
    assert!(breaks.is_empty() && events > 0 && seals > 0, "{breaks:?}");
    // Journaled, with the manifest's digest.
    let journal = c.journal(&t).unwrap();
    let event = journal
        .iter()
        .find(|e| e.event.kind.as_str() == "TENANT_EXPORT")
        .unwrap();
    assert_eq!(
        event.event.detail["manifest_sha256"],
        export.manifest_sha256
    );
    // Into a fresh archive: the same units, the same digests.
    let fresh = fixture();
    let ft = fresh.tenant_with("0", "tenant-0");
    let mut packages = Vec::new();
    for op in &ops {
        for e in dir.join("transfers").join(op.as_str()).read_dir().unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "zip") {
                packages.push(p);
            }
        }
    }
    packages.sort();
    for p in &packages {
        let o = fresh
            .archive
            .ingest_path(&ft, seda_part(p).path(), "test")
            .unwrap();
        assert!(o.status().is_accepted(), "{}: {:?}", p.display(), o.summary);
    }
    assert_eq!(holdings(&fresh, &ft), held);
    // A file changed, one added: named.
    let first_package = &packages[0];
    let mut bytes = std::fs::read(first_package).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(first_package, bytes).unwrap();
    std::fs::write(dir.join("extra.txt"), "x").unwrap();
    let (_, problems) = carnac_archive::export::verify_tenant_export(&dir, &trust).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("package-001.zip")));
    assert!(problems.iter().any(|p| p.contains("extra.txt")));
    // An export goes to a new folder, and leaves one that holds something untouched.
    assert!(
        f.archive
            .export_tenant(&t, &dir, 3, "op", &mut |_| {})
            .is_err()
    );
    assert!(dir.join("MANIFEST.sha256").is_file() && dir.join("extra.txt").is_file());
}

/// A tenant closes only on its latest export, verified, suspended, nothing changed since:
/// then every copy of its holdings goes (units, files, manifests), its journal and
/// certificates stay, and the closing certificate says so.
#[test]
fn a_tenant_closes_only_on_its_latest_verified_export() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let c = f.archive.catalog();
    let o = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    let op = carnac_model::OperationId::new(o.operation()).unwrap();
    let units = c.units_of_operation(&t, &op).unwrap();
    let objects: Vec<String> = units
        .iter()
        .flat_map(|u| c.unit(&t, &u.id).unwrap().unwrap().1)
        .map(|o| o.id.to_string())
        .collect();
    assert!(
        f.archive
            .maintain(std::time::Duration::from_secs(86_400))
            .is_ok()
    );
    // A delivery whose package is kept when the tenant closes.
    let delivery = f
        .archive
        .request_delivery(
            &t,
            &carnac_archive::delivery::DeliveryRequest {
                units: vec![units[0].id.to_string()],
                requester: "Mairie".into(),
                ..Default::default()
            },
            "arch",
        )
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let first = out.path().join("first");
    f.archive
        .export_tenant(&t, &first, 100, "op", &mut |_| {})
        .unwrap();
    // Not suspended: refused, saying so.
    let err = f.archive.close_tenant(&t, &first, "op").unwrap_err();
    assert!(err.to_string().contains("suspend"), "{err}");
    f.archive.suspend_tenant(&t, true, "op").unwrap();
    // Changed since its export: refused.
    change(
        &f,
        &t,
        serde_json::json!([units[0].id]),
        serde_json::json!([{"action": "set_final_action", "category": "AppraisalRule", "final_action": "Keep"}]),
    );
    let err = f.archive.close_tenant(&t, &first, "op").unwrap_err();
    assert!(err.to_string().contains("RULES_CHANGE"), "{err}");
    // Exported again: the first export is no longer the latest.
    let second = out.path().join("second");
    f.archive
        .export_tenant(&t, &second, 100, "op", &mut |_| {})
        .unwrap();
    let err = f.archive.close_tenant(&t, &first, "op").unwrap_err();
    assert!(err.to_string().contains("latest export"), "{err}");
    // An export changed is refused too.
    let copy = out.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for e in walkdir(&second) {
        let to = copy.join(e.strip_prefix(&second).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&e, &to).unwrap();
    }
    std::fs::write(copy.join("tombstones.jsonl"), "{}\n").unwrap();
    let err = f.archive.close_tenant(&t, &copy, "op").unwrap_err();
    assert!(err.to_string().contains("tombstones.jsonl"), "{err}");

    // Closed on its latest export.
    let closed = f.archive.close_tenant(&t, &second, "op").unwrap();
    assert_eq!(closed.state.as_str(), "executed", "{:?}", closed.steps);
    for u in &units {
        assert!(c.unit(&t, &u.id).unwrap().is_none());
        let stone = f.archive.tombstone(&t, &u.id).unwrap().unwrap();
        assert_eq!(stone.record["closure"], true);
    }
    // No copy of a file or a manifest is left; what proves the past stays.
    for offer in &f.offers {
        use carnac_blobstore::BlobStore;
        for (tt, batch) in offer.batches().unwrap() {
            if tt != t {
                continue;
            }
            for name in offer.list(&tt, &batch).unwrap() {
                assert!(
                    name != "manifest.xml" && !objects.contains(&name),
                    "{batch}/{name} left in {}",
                    offer.name()
                );
            }
        }
    }
    let certificate: serde_json::Value = serde_json::from_slice(
        &f.archive
            .elimination_document(&t, &closed.id, "certificate.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(certificate["certificate"], "CLOSURE");
    assert_eq!(
        f.archive.delivery(&t, &delivery.id).unwrap().state,
        carnac_model::delivery::DeliveryState::Removed,
        "its package went with the tenant"
    );
    assert_eq!(certificate["units"].as_array().unwrap().len(), units.len());
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
    let journal = c.journal(&t).unwrap();
    assert!(
        journal
            .iter()
            .any(|e| e.event.kind.as_str() == "TENANT_CLOSE")
    );
    assert_eq!(
        journal
            .iter()
            .filter(|e| e.event.kind.as_str() == "UNIT_CLOSED")
            .count(),
        units.len()
    );
    // Nothing left to close.
    assert!(f.archive.close_tenant(&t, &second, "op").is_err());
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// At start, the folder of a background export a stop cut short goes; a finished one stays.
#[test]
fn recovery_removes_the_exports_a_stop_cut_short() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let o = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    assert!(o.status().is_accepted());
    let tenant_dir = f.archive.exports_dir().join("0");
    std::fs::create_dir_all(&tenant_dir).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let done = f
        .archive
        .export_tenant(&t, &scratch.path().join("x"), 100, "test", &mut |_| {})
        .unwrap();
    let kept = tenant_dir.join(done.operation.as_str());
    std::fs::rename(scratch.path().join("x"), &kept).unwrap();
    let cut = tenant_dir.join("op-cut-short");
    std::fs::create_dir_all(cut.join("packages")).unwrap();
    std::fs::write(cut.join("packages/half.zip"), b"PK").unwrap();
    f.archive.recover().unwrap();
    assert!(!cut.exists(), "an unfinished export is removed");
    assert!(
        kept.join("MANIFEST.sha256").is_file(),
        "a finished one stays"
    );
    let view = f.archive.export_job(&t, &done.operation).unwrap().unwrap();
    assert_eq!(view.state, carnac_archive::export_jobs::ExportState::Done);
    assert!(view.available);
    assert!(
        f.archive
            .export_job(&t, &carnac_model::OperationId::new("op-cut-short").unwrap())
            .unwrap()
            .is_none()
    );
}
