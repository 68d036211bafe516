//! Corrections of descriptive metadata (issue 18 §6): seen at once by search and by the
//! packages that go out, kept in the unit's history, journaled with their difference, sent
//! to the producer as an `ArchiveModificationNotification`; refused with every reason, and
//! where no access contract allows writing.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::ArchiveError;
use carnac_catalog::UnitQuery;
use carnac_model::UnitId;
use common::*;
use serde_json::{Map, Value, json};
use std::io::{Read, Write};

/// A fonds R and its file A, of agency FRAN_NP_009913, in SEDA 2.2.
fn sip() -> Vec<u8> {
    units_sip(
        r#"<ArchiveUnit id="R"><Content><DescriptionLevel>Fonds</DescriptionLevel><Title>Registre</Title>
          <Description>Délibérations du conseil</Description></Content>
        <ArchiveUnit id="A"><Content><DescriptionLevel>File</DescriptionLevel><Title>Budget primitif 2019</Title>
          <Keyword><KeywordContent>finances</KeywordContent></Keyword><StartDate>2019-01-01</StartDate></Content></ArchiveUnit>
      </ArchiveUnit>"#,
        "",
    )
}

/// A tenant with the referentials of `folder` and the transfer above: its units by title.
fn ingested(
    f: &Fixture,
    id: &str,
    folder: &std::path::Path,
) -> (
    carnac_model::TenantId,
    std::collections::HashMap<String, UnitId>,
) {
    let t = tenant(id);
    f.archive.create_tenant(&t, id, "test").unwrap();
    f.archive.import_referentials(&t, folder, "test").unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&sip()).unwrap();
    let outcome = f
        .archive
        .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(outcome.status().is_accepted(), "{:?}", outcome.summary);
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let ids = f
        .archive
        .catalog()
        .units_of_operation(&t, &op)
        .unwrap()
        .into_iter()
        .map(|u| (u.title, u.id))
        .collect();
    (t, ids)
}

fn patch(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn found(f: &Fixture, t: &carnac_model::TenantId, q: UnitQuery) -> Vec<String> {
    f.archive
        .search_units(
            t,
            &UnitQuery { limit: 20, ..q },
            &carnac_catalog::Interrupt::none(),
        )
        .unwrap()
        .units
        .into_iter()
        .map(|u| u.title)
        .collect()
}

#[test]
fn a_correction_is_searched_packaged_kept_and_journaled() {
    let f = fixture();
    let (t, ids) = ingested(&f, "md", &testdata().join("referentials/tenant-0"));
    let a = &ids["Budget primitif 2019"];
    let journal_before = f.archive.catalog().journal(&t).unwrap().len();

    let done = f
        .archive
        .correct_metadata(
            &t,
            a,
            &patch(json!({
                "Title": "Budget primitif de l'exercice 2019",
                "Keyword": [{"KeywordContent": "budget"}, {"KeywordContent": "assainissement"}],
                "Description": "Voté le 12 avril 2019",
                "StartDate": "2019-04-12",
                "#comment": "Titre incomplet à l'ingest",
            })),
            "archiviste",
        )
        .unwrap();
    let operation = done.operation.clone().expect("recorded");
    assert_eq!(done.access_contract.as_deref(), Some("ContratTNR"));
    let fields: Vec<&str> = done.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["Title", "Description", "Keyword", "StartDate"]);

    // Search sees it at once: words, keywords, dates; the old title is gone.
    for q in [
        UnitQuery {
            text: Some("exercice assainissement".into()),
            ..Default::default()
        },
        UnitQuery {
            keyword: Some("budget".into()),
            ..Default::default()
        },
        UnitQuery {
            from: Some("2019-04-01".into()),
            text: Some("avril".into()),
            ..Default::default()
        },
    ] {
        assert_eq!(
            found(&f, &t, q.clone()),
            ["Budget primitif de l'exercice 2019"],
            "{q:?}"
        );
    }
    assert!(
        found(
            &f,
            &t,
            UnitQuery {
                keyword: Some("finances".into()),
                ..Default::default()
            }
        )
        .is_empty()
    );

    // The previous version is kept; the journal holds the difference, who and why.
    let history = f.archive.metadata_history(&t, a).unwrap();
    assert_eq!(history.len(), 1);
    assert!(
        history[0]
            .previous
            .contains("<Title>Budget primitif 2019</Title>")
    );
    assert!(
        history[0]
            .current
            .contains("<Title>Budget primitif de l&apos;exercice 2019</Title>")
            || history[0]
                .current
                .contains("<Title>Budget primitif de l'exercice 2019</Title>")
    );
    assert_eq!(history[0].operation, operation);
    assert_eq!(history[0].agent, "archiviste");
    let journal = f.archive.catalog().journal(&t).unwrap();
    assert_eq!(journal.len(), journal_before + 1);
    let e = journal.last().unwrap();
    assert_eq!(
        e.event.kind,
        carnac_model::journal::EventKind::UnitMetadataChange
    );
    assert_eq!(e.event.detail["subject"], a.as_str());
    assert_eq!(
        e.event.detail["changes"][0]["before"],
        "Budget primitif 2019"
    );
    assert_eq!(e.event.detail["comment"], "Titre incomplet à l'ingest");
    assert_eq!(e.event.detail["access_contract"], "ContratTNR");

    // A package going out carries the corrected metadata, which validates.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dip.zip");
    f.archive
        .deliver_to_file(
            &t,
            &carnac_archive::delivery::DeliveryRequest {
                units: vec![ids["Registre"].to_string()],
                requester: "lecteur".into(),
                comment: None,
                request_identifier: None,
                derogation: false,
            },
            "op",
            &out,
        )
        .unwrap();
    let mut z = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut manifest = String::new();
    z.by_name("manifest.xml")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    assert!(manifest.contains("exercice 2019</Title>"), "{manifest}");
    assert!(!manifest.contains("<Title>Budget primitif 2019</Title>"));
    let m = dir.path().join("manifest.xml");
    std::fs::write(&m, &manifest).unwrap();
    carnac_seda::schema::validate_seda(carnac_seda::SedaVersion::V2_2, &m).unwrap();

    // The notification to the producer, valid SEDA 2.2, naming the unit.
    let n = f
        .archive
        .metadata_notification(&t, a, &operation)
        .unwrap()
        .expect("a notification");
    let text = String::from_utf8(n.clone()).unwrap();
    assert!(text.contains("<ArchiveModificationNotification"), "{text}");
    assert!(text.contains(&format!("<UnitIdentifier>{a}</UnitIdentifier>")));
    assert!(
        text.contains("Title, Description, Keyword, StartDate"),
        "{text}"
    );
    let p = dir.path().join("notification.xml");
    std::fs::write(&p, &n).unwrap();
    carnac_seda::schema::validate_seda(carnac_seda::SedaVersion::V2_2, &p).unwrap();
    assert!(
        f.archive
            .metadata_notification(&t, &ids["Registre"], &operation)
            .unwrap()
            .is_none(),
        "not a correction of that unit"
    );

    // The same patch again changes nothing and records nothing.
    let journal_before = f.archive.catalog().journal(&t).unwrap().len();
    let again = f
        .archive
        .correct_metadata(
            &t,
            a,
            &patch(json!({"Title": "Budget primitif de l'exercice 2019"})),
            "archiviste",
        )
        .unwrap();
    assert!(again.operation.is_none() && again.changes.is_empty());
    assert_eq!(
        f.archive.catalog().journal(&t).unwrap().len(),
        journal_before
    );
}

#[test]
fn refusals_give_every_reason_and_change_nothing() {
    let f = fixture();
    let (t, ids) = ingested(&f, "md", &testdata().join("referentials/tenant-0"));
    let a = &ids["Budget primitif 2019"];
    let before = f.archive.catalog().unit(&t, a).unwrap().unwrap().0;
    let journal_before = f.archive.catalog().journal(&t).unwrap().len();

    let Err(ArchiveError::InvalidRequest(p)) = f.archive.correct_metadata(
        &t,
        a,
        &patch(json!({
            "OriginatingAgency": {"Identifier": "OTHER"},
            "Title": null,
            "Management": {},
            "#comment": 12,
        })),
        "archiviste",
    ) else {
        panic!("refused")
    };
    let all = p.join("\n");
    for needle in [
        "OriginatingAgency cannot be corrected",
        "Management: not a field of SEDA's Content",
        "#comment: a string",
    ] {
        assert!(all.contains(needle), "{needle} in {all}");
    }

    // What the schema refuses: a date that is none, a title removed.
    for (fields, needle) in [
        (
            json!({"StartDate": "l'an dernier"}),
            "does not validate against SEDA 2.2",
        ),
        (json!({"Title": null}), "a unit keeps a title"),
        (
            json!({"DescriptionLevel": "Dossier"}),
            "does not validate against SEDA 2.2",
        ),
    ] {
        let Err(ArchiveError::InvalidRequest(p)) =
            f.archive
                .correct_metadata(&t, a, &patch(fields.clone()), "archiviste")
        else {
            panic!("{fields} refused")
        };
        assert!(p.iter().any(|m| m.contains(needle)), "{fields}: {p:?}");
    }
    assert_eq!(f.archive.catalog().unit(&t, a).unwrap().unwrap().0, before);
    assert_eq!(
        f.archive.catalog().journal(&t).unwrap().len(),
        journal_before
    );
    assert!(f.archive.metadata_history(&t, a).unwrap().is_empty());

    // Suspended: nothing changes until it resumes.
    f.archive.suspend_tenant(&t, true, "op").unwrap();
    assert!(matches!(
        f.archive
            .correct_metadata(&t, a, &patch(json!({"Title": "x"})), "archiviste"),
        Err(ArchiveError::Suspended(_))
    ));
}

#[test]
fn without_an_access_contract_that_allows_writing_nothing_changes() {
    let f = fixture();
    // tenant-0's referentials, its access contracts without WritingPermission.
    let dir = tempfile::tempdir().unwrap();
    let src = testdata().join("referentials/tenant-0");
    for sub in ["agencies", "rules", "contracts"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let e = e.unwrap();
            let text = std::fs::read_to_string(e.path()).unwrap();
            std::fs::write(
                dir.path().join(sub).join(e.file_name()),
                text.replace(
                    "\"WritingPermission\": true",
                    "\"WritingPermission\": false",
                )
                .replace("\"WritingPermission\":true", "\"WritingPermission\":false"),
            )
            .unwrap();
        }
    }
    let (t, ids) = ingested(&f, "ro", dir.path());
    let a = &ids["Budget primitif 2019"];
    let Err(ArchiveError::Forbidden(m)) =
        f.archive
            .correct_metadata(&t, a, &patch(json!({"Title": "x"})), "archiviste")
    else {
        panic!("refused")
    };
    assert!(
        m.contains("WritingPermission") && m.contains("FRAN_NP_009913"),
        "{m}"
    );
    assert!(f.archive.metadata_history(&t, a).unwrap().is_empty());
}
