//! The Vitam corpus (`testdata/seda`): every transfer expected OK or WARNING is accepted,
//! every KO is rejected, and the reply names the reason. Where Carnac deliberately decides
//! otherwise than Vitam, the table below says so and why.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_model::Status;
use common::*;
use std::collections::BTreeMap;

/// For each transfer: the tenant, whether Carnac accepts it, and the `STEP.CODE` its reply
/// must contain.
fn carnac_expectations() -> BTreeMap<&'static str, (&'static str, bool, &'static str)> {
    [
        (
            "OK_SIP_2_GO.zip",
            ("0", true, "OG_OBJECTS_FORMAT_CHECK.FILE_FORMAT.MISMATCH"),
        ),
        (
            "OK_SIP_FULL_SEDA2.2.zip",
            ("0", false, "CHECK_SEDA.NOT_XSD_VALID"),
        ),
        (
            "OK_SIP_FULL_SEDA2.3.zip",
            ("0", false, "CHECK_SEDA.NOT_XSD_VALID"),
        ),
        ("WARNING_SIP_mail_Seda2.3.zip", ("0", true, "")),
        ("OK_SIP-test-md5.zip", ("0", true, "")),
        ("KO_BORD_empreinte_KO.zip", ("0", false, "CHECK_DIGEST.KO")),
        (
            "KO_BORD_xmlKO_sansobjet.zip",
            ("0", false, "CHECK_SEDA.NOT_XML_FILE"),
        ),
        (
            "SIP_2.1_WITH_FIELD_2.2.zip",
            ("0", false, "CHECK_SEDA.NOT_XSD_VALID"),
        ),
        (
            "KO_SUPERIOR_BDO.zip",
            ("0", false, "CHECK_DATAOBJECTPACKAGE.MANIFEST_SUPERIOR_BDO"),
        ),
        (
            "KO_FORMAT_UNCHARTED.zip",
            (
                "light",
                false,
                "OG_OBJECTS_FORMAT_CHECK.FILE_FORMAT.UNCHARTED",
            ),
        ),
        (
            "KO_1791_SIP_TITLE_VIDE.zip",
            ("0", false, "CHECK_UNIT_SCHEMA.EMPTY_TITLE"),
        ),
        (
            "KO_KOSP_OKSV.zip",
            ("0", false, "CHECK_HEADER.CHECK_AGENT.UNKNOWN"),
        ),
        (
            "2194_IC_INEXISTENT.zip",
            (
                "1",
                false,
                "CHECK_HEADER.CHECK_CONTRACT_INGEST.CONTRACT_UNKNOWN",
            ),
        ),
        (
            "WARNING_SIP_sans_objet.zip",
            ("0", true, "STP_OG_CHECK_AND_TRANSFORME.NO_OBJECT"),
        ),
        (
            "sip_incorrect_size.zip",
            ("0", true, "CHECK_OBJECT_SIZE.WARNING"),
        ),
    ]
    .into_iter()
    .collect()
}

/// Where Carnac's decision differs from Vitam's, and why (also in the note).
const DEVIATIONS: &[(&str, &str)] = &[
    (
        "OK_SIP_FULL_SEDA2.2.zip",
        "invalid against the official SEDA 2.2 XSD (PersistentIdentifier, SigningInformation where the schema does not allow them); \
         Vitam validates with its own relaxed XSD 1.1 schemas, Carnac with the official ones, as the archive's schema check must",
    ),
    (
        "OK_SIP_FULL_SEDA2.3.zip",
        "invalid against the official SEDA 2.3 XSD (an abstract Extended element); same reason",
    ),
];

#[test]
fn the_vitam_corpus() {
    corpus(&fixture());
}

/// The same on the distributed engines: a PostgreSQL catalog, and an S3 offer beside one in
/// memory (issue 20).
#[test]
fn the_vitam_corpus_on_postgresql_and_s3() {
    let Some(f) = fixture_distributed("corpus") else {
        return;
    };
    corpus(&f);
}

fn corpus(f: &Fixture) {
    for (id, folder) in [("0", "tenant-0"), ("1", "tenant-1"), ("light", "light")] {
        f.tenant_with(id, folder);
    }
    let tsv = std::fs::read_to_string(testdata().join("seda/EXPECTED.tsv")).unwrap();
    let ours = carnac_expectations();
    let mut checked = 0;
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, vitam) = (cols[0], Status::parse(cols[2]).unwrap());
        let (tenant_id, accept, code) = ours[file];
        let deviation = DEVIATIONS.iter().find(|(f, _)| *f == file);
        assert_eq!(
            accept != vitam.is_accepted(),
            deviation.is_some(),
            "{file}: a difference with Vitam must be listed in DEVIATIONS, and only then"
        );
        let t = tenant(tenant_id);
        let before = f.archive.catalog().counts(&t).unwrap();
        let outcome = f
            .archive
            .ingest_path(&t, &testdata().join("seda").join(file), "test")
            .unwrap();
        let summary = &outcome.summary;
        let reply = f.reply(&t, &outcome);
        assert_eq!(
            summary.status.is_accepted(),
            accept,
            "{file}: {:#?}",
            summary.reasons
        );
        if !code.is_empty() {
            assert!(
                summary
                    .reasons
                    .iter()
                    .any(|r| format!("{}.{}", r.step, r.code) == code),
                "{file}: the reply should name {code}: {:#?}",
                summary.reasons
            );
            assert!(
                reply.contains(&format!("<EventTypeCode>{code}</EventTypeCode>")),
                "{file}: the ATR names {code}"
            );
        } else {
            assert_eq!(summary.status, Status::Ok, "{file}: {:#?}", summary.reasons);
        }
        // The reply is valid SEDA, in the transfer's version.
        let version = summary.seda_version.as_deref().unwrap_or("2.1");
        let v = carnac_seda::SedaVersion::V2
            .into_iter()
            .find(|v| v.as_str() == version)
            .unwrap();
        let tmp = f.tmp.path().join("atr.xml");
        std::fs::write(&tmp, &reply).unwrap();
        carnac_seda::schema::validate_seda(v, &tmp)
            .unwrap_or_else(|e| panic!("{file}: invalid ATR: {e:?}\n{reply}"));
        // The operation, its event and its reply are recorded, whatever the outcome.
        let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
        let recorded = f.archive.catalog().operation(&t, &op).unwrap().unwrap();
        assert_eq!(recorded.status, Some(summary.status));
        assert!(recorded.has_reply);
        // Its event; after it, for an accepted transfer, the files' evidence and the deposit
        // attestation.
        let mut journal = f.archive.catalog().journal(&t).unwrap();
        let files = f
            .archive
            .catalog()
            .objects_of_operation(&t, &op)
            .unwrap()
            .iter()
            .filter(|o| !o.physical)
            .count();
        if accept {
            let attestation = journal.pop().unwrap();
            assert_eq!(attestation.event.kind, "DEPOSIT_ATTESTATION", "{file}");
            assert_eq!(attestation.event.detail["of"], op.as_str(), "{file}");
        }
        if files > 0 {
            let evidence = journal.pop().unwrap();
            assert_eq!(evidence.event.kind, "EVIDENCE_DEPOSIT", "{file}");
            assert_eq!(evidence.event.detail["files"], files, "{file}");
        }
        let last = journal.pop().unwrap();
        assert_eq!(
            (
                last.event.operation,
                last.event.kind.as_str(),
                last.event.outcome
            ),
            (op, "INGEST", summary.status)
        );
        let after = f.archive.catalog().counts(&t).unwrap();
        if accept {
            assert_eq!(after.units - before.units, summary.units as u64, "{file}");
            assert!(summary.units > 0);
            assert_eq!(
                after.copies - before.copies,
                2 * summary.objects as u64,
                "{file}: two copies of each file"
            );
        } else {
            assert_eq!(after, before, "{file}: a rejected transfer adds nothing");
            assert!(summary.objects == 0 && summary.units == 0);
        }
        checked += 1;
    }
    assert_eq!(checked, 15);
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn an_accepted_reply_gives_every_system_identifier() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let outcome = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    expect_test::expect_file!["snapshots/OK_SIP_2_GO.atr.xml"].assert_eq(&f.reply(&t, &outcome));
    let mut json = Vec::new();
    f.archive
        .write_ingest_json(&t, &outcome.summary, &mut json)
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let json = serde_json::to_string_pretty(&json).unwrap();
    expect_test::expect_file!["snapshots/OK_SIP_2_GO.summary.json"].assert_eq(&json);
}
