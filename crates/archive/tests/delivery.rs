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
