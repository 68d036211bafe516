//! Communication at the use-case boundary: units whose access rules have run out are
//! delivered with everything below them, journaled on each unit; one still restricted, below
//! what is asked, refuses the whole, naming it, its rule and its end.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::delivery::DeliveryRequest;
use common::*;

#[test]
fn communicable_units_are_delivered_and_a_restricted_one_refuses_the_whole() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let outcome = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let c = f.archive.catalog();
    let units = c.units_of_operation(&t, &op).unwrap();
    let root = units.iter().find(|u| u.parents.is_empty()).unwrap();
    let leaves: Vec<&carnac_catalog::Unit> = units
        .iter()
        .filter(|u| !units.iter().any(|o| o.parents.contains(&u.id)))
        .collect();
    let (restricted, free) = (leaves[0], leaves[1]);
    // The first leaf under an access delay that runs to 2046 or later.
    let request: carnac_archive::rules::RulesChangeRequest = serde_json::from_value(
        serde_json::json!({"units": [restricted.id], "actions": [
            {"action": "add", "category": "AccessRule", "rule": "ACC-00003", "start_date": "2021-01-01"}]}),
    )
    .unwrap();
    f.archive.change_rules(&t, &request, "arch").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dip.zip");
    let ask = |units: Vec<String>| DeliveryRequest {
        units,
        requester: "Mairie de Vannes, service urbanisme".into(),
        comment: Some("Demande du 4 décembre".into()),
        request_identifier: Some("DEMANDE-2026-118".into()),
        derogation: false,
    };

    let journal = c.journal(&t).unwrap().len();
    let err = f
        .archive
        .deliver_to_file(&t, &ask(vec![root.id.to_string()]), "op", &out)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "unit {} is not communicable before",
            restricted.id
        )) && text.contains("ACC-00003"),
        "{text}"
    );
    assert!(!out.exists(), "nothing written");
    assert_eq!(c.journal(&t).unwrap().len(), journal, "nothing journaled");

    let done = f
        .archive
        .deliver_to_file(&t, &ask(vec![free.id.to_string()]), "op", &out)
        .unwrap();
    assert!(out.exists());
    assert_eq!(done.package.units, 1);
    // The package is whole: its manifest valid against the official XSD, every file in it.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut manifest = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("manifest.xml").unwrap(), &mut manifest).unwrap();
    let version = carnac_seda::manifest::sniff_version(&manifest[..]).unwrap();
    let xml = dir.path().join("manifest.xml");
    std::fs::write(&xml, &manifest).unwrap();
    carnac_seda::schema::validate_seda(version, &xml).unwrap();
    let files = (0..zip.len())
        .filter(|i| {
            zip.by_index(*i)
                .unwrap()
                .name()
                .unwrap()
                .starts_with("Content/")
        })
        .count();
    assert_eq!(files as u64, done.package.files);
    assert!(String::from_utf8_lossy(&manifest).contains("Mairie de Vannes"));
    // The answer cites the request and lists the unit delivered.
    let reply = String::from_utf8(done.reply.clone()).unwrap();
    assert!(reply.contains("<ArchiveDeliveryRequestReply "), "{reply}");
    assert!(
        reply.contains("<MessageRequestIdentifier>DEMANDE-2026-118</MessageRequestIdentifier>")
    );
    assert!(reply.contains(&format!("<UnitIdentifier>{}</UnitIdentifier>", free.id)));
    let path = dir.path().join("reply.xml");
    std::fs::write(&path, &done.reply).unwrap();
    carnac_seda::schema::validate_seda(version, &path).unwrap();
    // Journaled: the delivery, and the unit's lifecycle.
    let events = c.journal(&t).unwrap();
    let delivery = events
        .iter()
        .find(|e| e.event.kind == carnac_model::journal::EventKind::Delivery)
        .unwrap();
    assert_eq!(
        delivery.event.detail["requester"],
        "Mairie de Vannes, service urbanisme"
    );
    assert_eq!(delivery.event.detail["delivered"], 1);
    let lifecycle = f
        .archive
        .lifecycle(
            &t,
            free.id.as_str(),
            &carnac_archive::report::JournalPage::all(),
        )
        .unwrap();
    assert!(
        lifecycle
            .events
            .iter()
            .any(|e| e.kind.as_str() == "UNIT_DELIVERED"),
        "{:?}",
        lifecycle.events
    );
    // An existing file is never replaced; an unknown unit and an empty requester are named.
    let err = f
        .archive
        .deliver_to_file(
            &t,
            &DeliveryRequest {
                units: vec![free.id.to_string(), "au-nothing".into()],
                requester: " ".into(),
                comment: None,
                request_identifier: Some("DEMANDE\u{1}".into()),
                derogation: false,
            },
            "op",
            &out,
        )
        .unwrap_err();
    let text = err.to_string();
    for reason in ["exists", "au-nothing", "requester", "control characters"] {
        assert!(text.contains(reason), "{reason}: {text}");
    }
}

/// The API's way: a request for units still restricted is refused without a derogation
/// (naming each), waits for the control authority with one (its request kept as SEDA), is
/// refused or granted by it; granted, the package is made and kept in every offer with its
/// answer, read back whole and verified, equal to what was ingested; its time up, the
/// maintenance removes it (journaled) and the offers and catalog still agree. A producer has
/// its own records back whatever their access rules; a producer of another agency does not.
#[test]
fn a_derogation_waits_for_the_control_authority_and_packages_are_kept_then_removed() {
    use carnac_archive::accounts::NewAccount;
    use carnac_archive::delivery::{Authorization, DeliveryLimits};
    use carnac_model::access::{AccountKind, Role};
    use carnac_model::delivery::DeliveryState;
    use std::io::Read;
    let f = fixture_with(carnac_archive::IngestConfig {
        deliveries: DeliveryLimits {
            keep: std::time::Duration::from_secs(3600),
            max_kept_packages: 3,
            ..Default::default()
        },
        ..Default::default()
    });
    let t = f.tenant_with("0", "tenant-0");
    let outcome = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let c = f.archive.catalog();
    let units = c.units_of_operation(&t, &op).unwrap();
    let leaves: Vec<&carnac_catalog::Unit> = units
        .iter()
        .filter(|u| !units.iter().any(|o| o.parents.contains(&u.id)))
        .collect();
    let restricted = leaves[0];
    let change: carnac_archive::rules::RulesChangeRequest = serde_json::from_value(
        serde_json::json!({"units": [restricted.id], "actions": [
            {"action": "add", "category": "AccessRule", "rule": "ACC-00003", "start_date": "2021-01-01"}]}),
    )
    .unwrap();
    f.archive.change_rules(&t, &change, "arch").unwrap();
    let account = |login: &str, role: Role, agencies: &[String]| {
        f.archive
            .create_account(
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
            .unwrap();
    };
    account("arch", Role::Archivist, &[]);
    account(
        "own-service",
        Role::Producer,
        &["FRAN_NP_009913".to_owned()],
    );
    account("other-service", Role::Producer, &["Identifier1".to_owned()]);
    let ask = |derogation: bool| DeliveryRequest {
        units: vec![restricted.id.to_string()],
        requester: "M. Le Goff, chercheur".into(),
        comment: Some("Thèse sur l'urbanisme".into()),
        request_identifier: None,
        derogation,
    };

    // No derogation: refused, the unit, its rule and its end named; nothing recorded.
    let journal = c.journal(&t).unwrap().len();
    let err = f
        .archive
        .request_delivery(&t, &ask(false), "arch")
        .unwrap_err();
    match &err {
        carnac_archive::ArchiveError::NotCommunicable(reasons) => {
            assert_eq!(reasons.len(), 1, "{reasons:?}");
            assert!(
                reasons[0].contains(restricted.id.as_str()) && reasons[0].contains("ACC-00003"),
                "{reasons:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.journal(&t).unwrap().len(), journal, "nothing journaled");
    // A producer of another agency is refused the same way.
    let err = f
        .archive
        .request_delivery(&t, &ask(false), "other-service")
        .unwrap_err();
    assert!(
        matches!(err, carnac_archive::ArchiveError::NotCommunicable(_)),
        "{err:?}"
    );
    // The producer whose records they are has them back at once.
    let own = f
        .archive
        .request_delivery(&t, &ask(false), "own-service")
        .unwrap();
    assert_eq!(own.state, DeliveryState::Delivered);
    assert!(own.restricted.is_empty());

    // With a derogation: the request to the control authority, waiting.
    let waiting = f.archive.request_delivery(&t, &ask(true), "arch").unwrap();
    assert_eq!(waiting.state, DeliveryState::AwaitingAuthorization);
    assert_eq!(waiting.restricted, vec![restricted.id.clone()]);
    assert!(waiting.package.is_none());
    let request = f
        .archive
        .delivery_document(&t, &waiting.id, carnac_archive::delivery::REQUEST_XML)
        .unwrap();
    let text = String::from_utf8(request.clone()).unwrap();
    assert!(
        text.contains("<AuthorizationControlAuthorityRequest ")
            && text.contains("<AuthorizationReason>Communication</AuthorizationReason>")
            && text.contains(&format!(
                "<UnitIdentifier>{}</UnitIdentifier>",
                restricted.id
            )),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let version = carnac_seda::SedaVersion::from_namespace(&format!(
        "fr:gouv:culture:archivesdefrance:seda:v{}",
        waiting.request["seda_version"].as_str().unwrap()
    ))
    .unwrap();
    std::fs::write(dir.path().join("request.xml"), &request).unwrap();
    carnac_seda::schema::validate_seda(version, &dir.path().join("request.xml")).unwrap();
    let err = f
        .archive
        .open_delivery_package(&t, &waiting.id, |_| None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("authorisation"), "{err}");

    // A reply to another request is refused; refused, nothing is delivered.
    let other_reply = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<AuthorizationControlAuthorityRequestReply xmlns="fr:gouv:culture:archivesdefrance:seda:v{version}">
<Date>2026-12-04T10:00:00</Date><MessageIdentifier>AD-REPLY-1</MessageIdentifier><CodeListVersions/>
<ReplyCode>OK</ReplyCode><MessageRequestIdentifier>op-other</MessageRequestIdentifier>
<ArchivalAgency><Identifier>carnac</Identifier></ArchivalAgency>
<ControlAuthority><Identifier>AD56</Identifier></ControlAuthority>
</AuthorizationControlAuthorityRequestReply>"#
    );
    let err = f
        .archive
        .authorize_delivery(
            &t,
            &waiting.id,
            Authorization::Seda(other_reply.clone().into_bytes()),
            "ctl",
        )
        .unwrap_err();
    assert!(err.to_string().contains("op-other"), "{err}");
    let refused = f.archive.request_delivery(&t, &ask(true), "arch").unwrap();
    let refused = f
        .archive
        .authorize_delivery(
            &t,
            &refused.id,
            Authorization::Decision {
                granted: false,
                comment: Some("Délai non échu".into()),
            },
            "ctl",
        )
        .unwrap();
    assert_eq!(refused.state, DeliveryState::Refused);
    assert!(refused.package.is_none());
    let again = f.archive.authorize_delivery(
        &t,
        &refused.id,
        Authorization::Decision {
            granted: true,
            comment: None,
        },
        "ctl",
    );
    assert!(
        matches!(again, Err(carnac_archive::ArchiveError::State { .. })),
        "{again:?}"
    );

    // Granted, by the authority's own SEDA reply: delivered, citing the authorisation.
    let granted = f
        .archive
        .authorize_delivery(
            &t,
            &waiting.id,
            Authorization::Seda(
                other_reply
                    .replace("op-other", waiting.id.as_str())
                    .into_bytes(),
            ),
            "ctl",
        )
        .unwrap();
    assert_eq!(granted.state, DeliveryState::Delivered);
    assert_eq!(granted.steps.len(), 1);
    assert_eq!(granted.steps[0]["reply_identifier"], "AD-REPLY-1");
    let reply = f
        .archive
        .delivery_document(&t, &granted.id, carnac_archive::delivery::REPLY_XML)
        .unwrap();
    let reply = String::from_utf8(reply).unwrap();
    assert!(
        reply.contains(
            "<AuthorizationRequestReplyIdentifier>AD-REPLY-1</AuthorizationRequestReplyIdentifier>"
        ),
        "{reply}"
    );
    assert!(
        f.archive
            .delivery_document(&t, &granted.id, carnac_archive::delivery::AUTHORIZATION_XML)
            .unwrap()
            .starts_with(b"<?xml")
    );

    // The package: read whole from the offers, verified, its files those ingested.
    let (mut download, range) = f
        .archive
        .open_delivery_package(&t, &granted.id, |_| None)
        .unwrap();
    assert!(range.is_none());
    let mut bytes = Vec::new();
    download.reader.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, download.size);
    {
        use sha2::Digest;
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), download.sha256);
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let (_, objects) = c.unit(&t, &restricted.id).unwrap().unwrap();
    for o in objects.iter().filter(|o| o.size.is_some()) {
        let mut inside = Vec::new();
        zip.by_name(&format!("Content/{}", o.id))
            .unwrap()
            .read_to_end(&mut inside)
            .unwrap();
        let file = f.archive.stored_file(&t, &o.id).unwrap();
        let mut stored = Vec::new();
        f.archive
            .open_object(&file, 0, file.size)
            .unwrap()
            .read_to_end(&mut stored)
            .unwrap();
        assert_eq!(inside, stored, "the file as ingested, byte for byte");
    }
    // A range of it.
    let (mut part, range) = f
        .archive
        .open_delivery_package(&t, &granted.id, |size| Some((10, size.min(100) - 1)))
        .unwrap();
    let mut some = Vec::new();
    part.reader.read_to_end(&mut some).unwrap();
    assert_eq!(range, Some((10, 99)));
    assert_eq!(some, bytes[10..100]);
    // The lifecycle shows it; the offers and the catalog agree.
    let lifecycle = f
        .archive
        .lifecycle(
            &t,
            restricted.id.as_str(),
            &carnac_archive::report::JournalPage::all(),
        )
        .unwrap();
    assert_eq!(
        lifecycle
            .events
            .iter()
            .filter(|e| e.kind.as_str() == "UNIT_DELIVERED")
            .count(),
        2,
        "to its producer, then under the derogation"
    );
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );

    // At most three packages kept: the fourth waits for a removal.
    f.archive
        .request_delivery(&t, &ask(false), "own-service")
        .unwrap();
    let err = f
        .archive
        .request_delivery(&t, &ask(false), "own-service")
        .unwrap_err();
    assert!(err.to_string().contains("at most 3"), "{err}");
    // Nothing due yet; past their time, every package is removed.
    assert!(f.archive.remove_expired_deliveries().unwrap().is_empty());
}

/// A package kept for no time is removed by the next maintenance: its blob leaves every
/// offer, the removal is journaled, the delivery says so and its package is gone; its
/// answer stays, and the offers and the catalog agree.
#[test]
fn a_package_whose_time_is_up_is_removed_and_journaled() {
    use carnac_archive::delivery::DeliveryLimits;
    use carnac_model::delivery::DeliveryState;
    let f = fixture_with(carnac_archive::IngestConfig {
        deliveries: DeliveryLimits {
            keep: std::time::Duration::ZERO,
            ..Default::default()
        },
        ..Default::default()
    });
    let t = f.tenant_with("0", "tenant-0");
    let outcome = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP-test-md5.zip"), "test")
        .unwrap();
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let c = f.archive.catalog();
    let root = c
        .units_of_operation(&t, &op)
        .unwrap()
        .into_iter()
        .find(|u| u.parents.is_empty())
        .unwrap();
    let d = f
        .archive
        .request_delivery(
            &t,
            &DeliveryRequest {
                units: vec![root.id.to_string()],
                requester: "Mairie".into(),
                ..Default::default()
            },
            "arch",
        )
        .unwrap();
    assert_eq!(d.state, DeliveryState::Delivered);
    let m = f.archive.maintain(std::time::Duration::from_secs(86_400));
    assert!(m.is_ok(), "{:?}", m.failed);
    assert!(
        m.done.iter().any(|(_, duty)| matches!(
            duty,
            carnac_archive::maintenance::Duty::PackageRemoved { delivery } if *delivery == d.id
        )),
        "{:?}",
        m.done
    );
    let removed = f.archive.delivery(&t, &d.id).unwrap();
    assert_eq!(removed.state, DeliveryState::Removed);
    let err = f
        .archive
        .open_delivery_package(&t, &d.id, |_| None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("removed"), "{err}");
    let key = carnac_blobstore::BlobKey {
        tenant: t.clone(),
        batch: d.id.clone(),
        name: carnac_archive::delivery::PACKAGE_ZIP.into(),
    };
    for offer in &f.offers {
        assert!(
            carnac_blobstore::BlobStore::size(offer, &key).is_err(),
            "gone from every offer"
        );
    }
    assert!(
        f.archive
            .delivery_document(&t, &d.id, carnac_archive::delivery::REPLY_XML)
            .is_ok()
    );
    let events = c.journal(&t).unwrap();
    let removal = events
        .iter()
        .find(|e| e.event.kind.as_str() == "DELIVERY_PACKAGE_REMOVED")
        .unwrap();
    assert_eq!(removal.event.detail["delivery"], d.id.as_str());
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
    // Nothing left to remove.
    assert!(f.archive.remove_expired_deliveries().unwrap().is_empty());
}
