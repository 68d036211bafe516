//! Transfers out to the definitive archives, at the use-case boundary: what may go and why
//! not (a hold, a Destroy, a retention not over), the package sent and kept until the
//! purge, replies that answer another transfer or reject it, and the round trip into a
//! second Carnac acting as the definitive archives: its ATR fed back, only what it accepted
//! purged, tombstones saying where each unit went, the same digests there; the forms of a
//! real Vitam and as@lae reply read as replies.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::elimination::TransferOutRequest;
use carnac_model::UnitId;
use carnac_model::elimination::EliminationState as S;
use common::*;
use std::collections::BTreeMap;
use std::io::Read;

/// A tenant holding OK_SIP_2_GO, its retention over with Keep (the definitive archives'
/// part): its units, root first.
fn kept(f: &Fixture, t: &carnac_model::TenantId) -> Vec<carnac_catalog::Unit> {
    let outcome = f
        .archive
        .ingest_path(t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let mut units = f.archive.catalog().units_of_operation(t, &op).unwrap();
    units.sort_by_key(|u| !u.parents.is_empty());
    let change: carnac_archive::rules::RulesChangeRequest = serde_json::from_value(
        serde_json::json!({"units": [units[0].id], "actions": [
            {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
            {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Keep"}]}),
    )
    .unwrap();
    f.archive.change_rules(t, &change, "arch").unwrap();
    units
}

fn ask(units: &[&UnitId]) -> TransferOutRequest {
    TransferOutRequest {
        units: units.iter().map(|u| u.to_string()).collect(),
        archival_agency: "Identifier1".into(),
        archival_agreement: Some("ArchivalAgreement0".into()),
        comment: Some("Versement aux Archives départementales".into()),
        ..Default::default()
    }
}

/// Each unit of a tenant by title: its files' digests.
fn digests_by_title(f: &Fixture, t: &carnac_model::TenantId) -> BTreeMap<String, Vec<String>> {
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

/// The SEDA part of a package (manifest and content), as the receiving SAE takes it.
fn seda_part(package: &[u8]) -> tempfile::NamedTempFile {
    let mut from = zip::ZipArchive::new(std::io::Cursor::new(package)).unwrap();
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
fn a_transfer_out_into_a_second_carnac_purges_what_it_accepted() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let units = kept(&f, &t);
    let before = digests_by_title(&f, &t);
    let c = f.archive.catalog();

    // Refused: an unknown agency, and nothing eligible before the retention ends.
    let mut wrong = ask(&[&units[0].id]);
    wrong.archival_agency = "AD-NOWHERE".into();
    let err = f
        .archive
        .propose_transfer_out(&t, &wrong, "arch")
        .unwrap_err();
    assert!(err.to_string().contains("AD-NOWHERE"), "{err}");

    // Sent: the whole tree goes, its package kept in the offers.
    let sent = f
        .archive
        .propose_transfer_out(&t, &ask(&[&units[0].id]), "arch")
        .unwrap();
    assert_eq!(sent.state, S::Sent);
    assert_eq!(sent.units.len(), units.len());
    assert_eq!(sent.totals["archival_agency"], "Identifier1");
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
    // Its units are its own: no elimination takes them meanwhile.
    let err = f
        .archive
        .propose_elimination(
            &t,
            &carnac_archive::elimination::EliminationRequest {
                units: vec![units[1].id.to_string()],
                ..Default::default()
            },
            "arch",
        )
        .unwrap_err();
    assert!(err.to_string().contains(sent.id.as_str()), "{err}");
    let (mut download, _) = f
        .archive
        .open_transfer_package(&t, &sent.id, |_| None)
        .unwrap();
    let mut package = Vec::new();
    download.reader.read_to_end(&mut package).unwrap();
    let manifest = {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&package)).unwrap();
        let mut m = String::new();
        zip.by_name("manifest.xml")
            .unwrap()
            .read_to_string(&mut m)
            .unwrap();
        assert!(
            zip.by_name("evidence/README.txt").is_ok(),
            "the package has its evidence"
        );
        m
    };
    assert!(
        manifest.contains("<ArchivalAgency><Identifier>Identifier1</Identifier>"),
        "{manifest}"
    );
    assert!(manifest.contains(&format!(
        "<MessageIdentifier>{}</MessageIdentifier>",
        sent.id
    )));

    // The definitive archives: a second Carnac, its own data.
    let ad = fixture();
    let adt = ad.tenant_with("ad56", "tenant-0");
    let outcome = ad
        .archive
        .ingest_path(&adt, seda_part(&package).path(), "test")
        .unwrap();
    assert!(outcome.status().is_accepted(), "{:?}", outcome.summary);
    let atr = ad.reply(&adt, &outcome);
    assert_eq!(
        digests_by_title(&ad, &adt),
        before,
        "the same units and digests there"
    );

    // A reply for another transfer is refused; a rejection purges nothing.
    let other = atr.replace(sent.id.as_str(), "op-not-this-one");
    let err = f
        .archive
        .transfer_out_message(&t, &sent.id, other.as_bytes(), "arch")
        .unwrap_err();
    assert!(err.to_string().contains("op-not-this-one"), "{err}");
    let ko = atr.replacen("<ReplyCode>OK</ReplyCode>", "<ReplyCode>KO</ReplyCode>", 1);
    assert_ne!(ko, atr);
    let rejected = f
        .archive
        .transfer_out_message(&t, &sent.id, ko.as_bytes(), "arch")
        .unwrap();
    assert_eq!(rejected.state, S::Rejected);
    assert_eq!(digests_by_title(&f, &t), before, "nothing purged");
    // Its acknowledgement is recorded too.
    let ack = format!(
        r#"<Acknowledgement xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><Date>2026-12-04T10:00:00</Date>
<MessageIdentifier>AD-ACK-1</MessageIdentifier><MessageReceivedIdentifier>{}</MessageReceivedIdentifier>
<Sender><Identifier>Identifier1</Identifier></Sender><Receiver><Identifier>carnac</Identifier></Receiver></Acknowledgement>"#,
        sent.id
    );
    let acked = f
        .archive
        .transfer_out_message(&t, &sent.id, ack.as_bytes(), "arch")
        .unwrap();
    assert_eq!(acked.state, S::Rejected);
    assert_eq!(acked.steps.last().unwrap()["step"], "acknowledgement");

    // Accepted: purged, each unit's tombstone saying where it went and under which id.
    let done = f
        .archive
        .transfer_out_message(&t, &sent.id, atr.as_bytes(), "arch")
        .unwrap();
    assert_eq!(done.state, S::Executed, "{:?}", done.steps);
    for u in &units {
        assert!(c.unit(&t, &u.id).unwrap().is_none(), "{} purged", u.id);
        let stone = f.archive.tombstone(&t, &u.id).unwrap().unwrap();
        assert_eq!(stone.record["transferred_to"], "Identifier1");
        let there = stone.record["remote_identifier"].as_str().unwrap();
        assert!(
            atr.contains(&format!("<SystemId>{there}</SystemId>")),
            "{there}"
        );
        assert!(
            ad.archive
                .catalog()
                .unit(&adt, &there.parse().unwrap())
                .unwrap()
                .is_some()
        );
    }
    assert!(digests_by_title(&f, &t).is_empty());
    // The package went with the purge; the offers and the catalog agree.
    let err = f
        .archive
        .open_transfer_package(&t, &sent.id, |_| None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("gone"), "{err}");
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
    // The producer's notification and the signed, timestamped certificate.
    let notification = f
        .archive
        .transfer_out_document(&t, &sent.id, "notification.xml")
        .unwrap();
    let notification = String::from_utf8(notification).unwrap();
    assert!(notification.contains("<ArchiveModificationNotification "));
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "notification.xml",
        "certificate.json",
        "certificate.p7s",
        "signer.pem",
    ] {
        std::fs::write(
            dir.path().join(name),
            f.archive.transfer_out_document(&t, &sent.id, name).unwrap(),
        )
        .unwrap();
    }
    let version = carnac_seda::SedaVersion::from_namespace(&format!(
        "fr:gouv:culture:archivesdefrance:seda:v{}",
        done.seda_version
    ))
    .unwrap();
    carnac_seda::schema::validate_seda(version, &dir.path().join("notification.xml")).unwrap();
    let certificate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("certificate.json")).unwrap())
            .unwrap();
    assert_eq!(certificate["certificate"], "TRANSFER");
    assert_eq!(certificate["transferred_to"], "Identifier1");
    assert_eq!(certificate["units"].as_array().unwrap().len(), units.len());
    let signer = x509_cert::Certificate::load_pem_chain(
        &std::fs::read(dir.path().join("signer.pem")).unwrap(),
    )
    .unwrap();
    carnac_archive::attestation::verify_attestation(
        &dir.path().join("certificate.json"),
        &std::fs::read(dir.path().join("certificate.p7s")).unwrap(),
        &signer,
        &f.archive.trust(),
    )
    .unwrap();
    // The journal says it, unit by unit.
    let events = c.journal(&t).unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.kind.as_str() == "UNIT_TRANSFERRED")
            .count(),
        units.len()
    );
}

/// What may not go is listed with why: a unit on hold (and the units above it), a
/// retention that says Destroy; the rest goes. Vitam's reply, listing some units only,
/// accepts those; as@lae's rejection (its code 101, naming the transfer in its
/// MessageIdentifier) rejects it.
#[test]
fn holds_and_destroy_stay_and_partial_replies_purge_only_what_they_accept() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let units = kept(&f, &t);
    let c = f.archive.catalog();
    let leaves: Vec<&carnac_catalog::Unit> = units
        .iter()
        .filter(|u| !units.iter().any(|o| o.parents.contains(&u.id)))
        .collect();
    let (held, doomed) = (leaves[0], leaves[1]);
    for (unit, actions) in [
        (
            &held.id,
            serde_json::json!([{"action": "hold", "rule": "HOL-00002", "hold": {"reason": "Contentieux"}}]),
        ),
        (
            &doomed.id,
            serde_json::json!([{"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"}]),
        ),
    ] {
        let change: carnac_archive::rules::RulesChangeRequest =
            serde_json::from_value(serde_json::json!({"units": [unit], "actions": actions}))
                .unwrap();
        f.archive.change_rules(&t, &change, "arch").unwrap();
    }
    let all: Vec<&UnitId> = units.iter().map(|u| &u.id).collect();
    let sent = f
        .archive
        .propose_transfer_out(&t, &ask(&all), "arch")
        .unwrap();
    let reason = |u: &UnitId| {
        sent.excluded
            .iter()
            .find(|e| e.id == u.as_str())
            .and_then(|e| e.reason.clone())
            .unwrap_or_default()
    };
    assert_eq!(reason(&held.id)["reason"], "rules", "{:?}", sent.excluded);
    assert!(reason(&held.id).to_string().contains("HOL-00002"));
    assert!(
        reason(&doomed.id).to_string().contains("destroy"),
        "{}",
        reason(&doomed.id)
    );
    assert_eq!(reason(&units[0].id)["reason"], "descendant_kept");
    let going: Vec<String> = sent.units.iter().map(|u| u.id.clone()).collect();
    assert!(!going.is_empty() && !going.contains(&held.id.to_string()));

    // as@lae's rejection, naming the transfer in its MessageIdentifier.
    let asalae = std::fs::read_to_string(testdata().join("asalae/ack-atr/atr_asalae_ko.xml"))
        .unwrap()
        .replace("1bc19af9-2212-4e5a-956a-36591c4ac27a", sent.id.as_str());
    let rejected = f
        .archive
        .transfer_out_message(&t, &sent.id, asalae.as_bytes(), "arch")
        .unwrap();
    assert_eq!(rejected.state, S::Rejected);
    assert_eq!(rejected.steps[0]["reply_code"], "101");

    // Vitam's reply, listing one of the units only (its id as the transfer gave it): a
    // leaf, which can go alone (a unit whose child stays, stays with it).
    let first = going
        .iter()
        .find(|g| {
            !units
                .iter()
                .any(|u| u.parents.iter().any(|p| p.as_str() == g.as_str()))
        })
        .unwrap();
    let vitam = std::fs::read_to_string(testdata().join("asalae/ack-atr/atr_vitam_ok.xml"))
        .unwrap()
        .replace(
            "ef311f05-2a6f-40fe-b015-00b8ebeafcbd</MessageRequestIdentifier>",
            &format!("{}</MessageRequestIdentifier>", sent.id),
        )
        .replace("idef311f05-2a6f-40fe-b015-00b8ebeafcbd", first);
    let done = f
        .archive
        .transfer_out_message(&t, &sent.id, vitam.as_bytes(), "arch")
        .unwrap();
    assert_eq!(done.state, S::Executed, "{:?}", done.steps);
    assert_eq!(done.steps[1]["decision"], "accepted");
    let stone = f
        .archive
        .tombstone(&t, &first.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        stone.record["remote_identifier"],
        "aeaqaaaaaafdat3yadroqamc2a77c6yaaaba"
    );
    // What the reply did not name stays, said so; so do the held and the doomed.
    for u in going.iter().filter(|g| *g != first) {
        assert!(
            c.unit(&t, &u.parse().unwrap()).unwrap().is_some(),
            "{u} stays"
        );
    }
    assert!(c.unit(&t, &first.parse().unwrap()).unwrap().is_none());
    assert!(c.unit(&t, &held.id).unwrap().is_some());
    assert!(c.unit(&t, &doomed.id).unwrap().is_some());
    let dropped: Vec<_> = done
        .units
        .iter()
        .filter(|u| u.status == carnac_catalog::EliminationUnitStatus::Dropped)
        .collect();
    assert!(
        dropped
            .iter()
            .any(|u| u.reason.as_ref().unwrap()["reason"] == "not_accepted"),
        "{dropped:?}"
    );
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
    // Done: no further reply, no withdrawal.
    assert!(
        f.archive
            .transfer_out_message(&t, &done.id, vitam.as_bytes(), "arch")
            .is_err()
    );
    assert!(
        f.archive
            .withdraw_transfer_out(&t, &done.id, None, "arch")
            .is_err()
    );
}

/// A transfer out withdrawn before any acceptance frees its units and removes its package.
#[test]
fn a_withdrawn_transfer_out_frees_its_units_and_its_package() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let units = kept(&f, &t);
    let sent = f
        .archive
        .propose_transfer_out(&t, &ask(&[&units[0].id]), "arch")
        .unwrap();
    let withdrawn = f
        .archive
        .withdraw_transfer_out(&t, &sent.id, Some("Erreur de sélection"), "arch")
        .unwrap();
    assert_eq!(withdrawn.state, S::Withdrawn);
    assert!(
        f.archive
            .open_transfer_package(&t, &sent.id, |_| None)
            .is_err()
    );
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
    // Free again.
    let again = f
        .archive
        .propose_transfer_out(&t, &ask(&[&units[0].id]), "arch")
        .unwrap();
    assert_eq!(again.state, S::Sent);
    // Transfers out are not eliminations, nor the reverse.
    assert!(f.archive.eliminations(&t).unwrap().is_empty());
    assert_eq!(f.archive.transfers_out(&t).unwrap().len(), 2);
}

/// A restitution: one producer's records whatever their retention (a hold alone keeps a
/// unit, another producer's units stay), an `ArchiveRestitutionRequest` with the package;
/// the producer's refusal rejects it, its agreement is recorded, and its acknowledgement of
/// the package purges every copy, with a restitution certificate.
#[test]
fn a_restitution_goes_back_to_its_producer_then_every_copy_goes() {
    use carnac_archive::elimination::RestitutionRequest;
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    // Not past any retention: a restitution does not ask.
    let outcome = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let c = f.archive.catalog();
    let units = c.units_of_operation(&t, &op).unwrap();
    let other = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP-test-md5.zip"), "test")
        .unwrap();
    let other_unit = c
        .units_of_operation(
            &t,
            &carnac_model::OperationId::new(other.operation()).unwrap(),
        )
        .unwrap()[0]
        .id
        .clone();
    let ask = |units: Vec<String>| RestitutionRequest {
        units,
        originating_agency: "FRAN_NP_009913".into(),
        comment: Some("Fin du contrat de tiers-archivage".into()),
        ..Default::default()
    };
    let mut all: Vec<String> = units.iter().map(|u| u.id.to_string()).collect();
    all.push(other_unit.to_string());
    let sent = f
        .archive
        .propose_restitution(&t, &ask(all), "arch")
        .unwrap();
    assert_eq!(
        sent.kind,
        carnac_model::elimination::DisposalKind::Restitution
    );
    assert_eq!(sent.state, S::Sent);
    assert_eq!(sent.units.len(), units.len(), "every unit of its own");
    let excluded = &sent.excluded;
    assert_eq!(excluded.len(), 1, "{excluded:?}");
    assert_eq!(excluded[0].id, other_unit.as_str());
    assert_eq!(
        excluded[0].reason.as_ref().unwrap()["reason"],
        "other_producer"
    );
    let kind = carnac_model::elimination::DisposalKind::Restitution;
    let request = f
        .archive
        .outgoing_document(kind, &t, &sent.id, "request.xml")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("request.xml"), &request).unwrap();
    let version = carnac_seda::SedaVersion::from_namespace(&format!(
        "fr:gouv:culture:archivesdefrance:seda:v{}",
        sent.seda_version
    ))
    .unwrap();
    carnac_seda::schema::validate_seda(version, &dir.path().join("request.xml")).unwrap();
    assert!(String::from_utf8_lossy(&request).contains("<ArchiveRestitutionRequest "));
    // Not a transfer out.
    assert!(f.archive.transfer_out(&t, &sent.id).is_err());
    let reply = |code: &str| {
        format!(
            "<ArchiveRestitutionRequestReply xmlns=\"fr:gouv:culture:archivesdefrance:seda:v{}\">\
             <Date>2026-12-04T10:00:00</Date><MessageIdentifier>PROD-{code}</MessageIdentifier>\
             <CodeListVersions/><ReplyCode>{code}</ReplyCode>\
             <MessageRequestIdentifier>{}</MessageRequestIdentifier>\
             <UnitIdentifier>{}</UnitIdentifier>\
             <ArchivalAgency><Identifier>carnac</Identifier></ArchivalAgency>\
             <OriginatingAgency><Identifier>FRAN_NP_009913</Identifier></OriginatingAgency>\
             </ArchiveRestitutionRequestReply>",
            sent.seda_version, sent.id, units[0].id
        )
    };
    // Refused by the producer: rejected, nothing purged; then agreed: recorded.
    let refused = f
        .archive
        .outgoing_message(kind, &t, &sent.id, reply("KO").as_bytes(), "prod")
        .unwrap();
    assert_eq!(refused.state, S::Rejected);
    let agreed = f
        .archive
        .outgoing_message(kind, &t, &sent.id, reply("OK").as_bytes(), "prod")
        .unwrap();
    assert_eq!(agreed.state, S::Rejected, "an agreement purges nothing yet");
    assert_eq!(agreed.steps.last().unwrap()["decision"], "agreed");
    for u in &units {
        assert!(c.unit(&t, &u.id).unwrap().is_some());
    }
    // A producer of another service does not answer for these records.
    f.archive
        .create_account(
            &carnac_archive::accounts::NewAccount {
                login: "other-service",
                role: carnac_model::access::Role::Producer,
                kind: carnac_model::access::AccountKind::Person,
                tenants: std::slice::from_ref(&t),
                password: None,
                token: true,
                certificate: None,
                agencies: &["Identifier1".to_owned()],
            },
            "test",
        )
        .unwrap();
    let err = f
        .archive
        .outgoing_message(kind, &t, &sent.id, reply("OK").as_bytes(), "other-service")
        .unwrap_err();
    assert!(
        matches!(err, carnac_archive::ArchiveError::Forbidden(_)),
        "{err:?}"
    );
    // The producer acknowledges the package: every copy goes.
    let ack = format!(
        "<Acknowledgement xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-05T10:00:00</Date>\
         <MessageIdentifier>PROD-ACK</MessageIdentifier><MessageReceivedIdentifier>{}</MessageReceivedIdentifier>\
         </Acknowledgement>",
        sent.id
    );
    let done = f
        .archive
        .outgoing_message(kind, &t, &sent.id, ack.as_bytes(), "prod")
        .unwrap();
    assert_eq!(done.state, S::Executed, "{:?}", done.steps);
    for u in &units {
        assert!(c.unit(&t, &u.id).unwrap().is_none());
        let stone = f.archive.tombstone(&t, &u.id).unwrap().unwrap();
        assert_eq!(stone.record["restitution"], true);
        assert_eq!(stone.record["reply_identifier"], "PROD-ACK");
        assert_eq!(stone.record["transferred_to"], "FRAN_NP_009913");
    }
    assert!(
        c.unit(&t, &other_unit).unwrap().is_some(),
        "another producer's stays"
    );
    let certificate: serde_json::Value = serde_json::from_slice(
        &f.archive
            .outgoing_document(kind, &t, &sent.id, "certificate.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(certificate["certificate"], "RESTITUTION");
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
    let events = c.journal(&t).unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.kind.as_str() == "UNIT_RETURNED")
            .count(),
        units.len()
    );
    assert_eq!(f.archive.outgoing_list(kind, &t).unwrap().len(), 1);
    assert!(f.archive.transfers_out(&t).unwrap().is_empty());
}
