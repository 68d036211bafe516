//! The checks Vitam makes at ingest beyond the XSD, each with a transfer that passes and one
//! that fails, against Vitam's test referentials (`testdata/referentials/tenant-0`, which
//! holds its three archive unit profiles) and a few entries written here where the samples
//! have none (an inactive unit profile, one without schema, archive profiles that tell which
//! one validated a manifest).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_model::Status;
use common::*;
use std::io::Write;

const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

/// One transfer's manifest, its parts given in the order SEDA wants them.
struct Sip<'a> {
    version: &'a str,
    comment: Option<&'a str>,
    agreement: &'a str,
    profile: Option<&'a str>,
    objects: String,
    units: String,
    package_management: &'a str,
}

impl Default for Sip<'_> {
    fn default() -> Self {
        Sip {
            version: "2.1",
            comment: None,
            agreement: "ArchivalAgreement0",
            profile: None,
            objects: grouped_object("O1", "G1", "Content/a.txt"),
            units: unit("U1", "", "<Title>a</Title>", "G1"),
            package_management: "",
        }
    }
}

/// A `BinaryDataObject` of `hello` in the group `group`.
fn grouped_object(id: &str, group: &str, uri: &str) -> String {
    format!(
        r#"<BinaryDataObject id="{id}"><DataObjectGroupId>{group}</DataObjectGroupId><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>{uri}</Uri><MessageDigest algorithm="SHA-256">{HELLO_SHA256}</MessageDigest><Size>5</Size></BinaryDataObject>"#
    )
}

/// A unit whose `head` (ArchiveUnitProfile, Management) and `content` are given, holding
/// the group `group`.
fn unit(id: &str, head: &str, content: &str, group: &str) -> String {
    format!(
        r#"<ArchiveUnit id="{id}">{head}<Content><DescriptionLevel>Item</DescriptionLevel>{content}</Content><DataObjectReference><DataObjectGroupReferenceId>{group}</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>"#
    )
}

impl Sip<'_> {
    fn manifest(&self) -> String {
        let comment = self
            .comment
            .map(|c| format!("<Comment>{c}</Comment>"))
            .unwrap_or_default();
        let profile = self
            .profile
            .map(|p| format!("<ArchivalProfile>{p}</ArchivalProfile>"))
            .unwrap_or_default();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v{version}">
  {comment}<Date>2026-11-29T04:00:00</Date>
  <MessageIdentifier>conformance</MessageIdentifier>
  <ArchivalAgreement>{agreement}</ArchivalAgreement>
  <CodeListVersions>
    <ReplyCodeListVersion>v</ReplyCodeListVersion>
    <MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion>
    <FileFormatCodeListVersion>v</FileFormatCodeListVersion>
  </CodeListVersions>
  <DataObjectPackage>
    {objects}
    <DescriptiveMetadata>{units}</DescriptiveMetadata>
    <ManagementMetadata>{profile}<OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier>{package_management}</ManagementMetadata>
  </DataObjectPackage>
  <ArchivalAgency><Identifier>A</Identifier></ArchivalAgency>
  <TransferringAgency><Identifier>T</Identifier></TransferringAgency>
</ArchiveTransfer>"#,
            version = self.version,
            agreement = self.agreement,
            objects = self.objects,
            units = self.units,
            package_management = self.package_management,
        )
    }

    /// The transfer as a zip: the manifest and `Content/a.txt`.
    fn zip(&self) -> Vec<u8> {
        zip_of(&[
            ("manifest.xml", self.manifest().as_bytes()),
            ("Content/a.txt", b"hello"),
        ])
    }
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, data) in members {
        if name.ends_with('/') {
            w.add_directory(*name, opts).unwrap();
        } else {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

fn ingest(f: &Fixture, t: &carnac_model::TenantId, bytes: &[u8]) -> carnac_archive::IngestOutcome {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    f.archive
        .ingest(t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap()
}

/// `step.code` of every finding of an outcome, with its message.
fn findings(outcome: &carnac_archive::IngestOutcome) -> Vec<(String, String)> {
    outcome
        .summary
        .reasons
        .iter()
        .map(|r| (format!("{}.{}", r.step, r.code), r.message.clone()))
        .collect()
}

#[track_caller]
fn accepted(f: &Fixture, t: &carnac_model::TenantId, bytes: &[u8]) -> Vec<(String, String)> {
    let outcome = ingest(f, t, bytes);
    assert!(
        outcome.status().is_accepted(),
        "{:#?}",
        outcome.summary.reasons
    );
    findings(&outcome)
}

/// The transfer is refused, with `code` among its reasons (whose message holds `saying`), and
/// nothing of it is kept.
#[track_caller]
fn refused(f: &Fixture, t: &carnac_model::TenantId, bytes: &[u8], code: &str, saying: &str) {
    let before = f.archive.catalog().counts(t).unwrap();
    let outcome = ingest(f, t, bytes);
    assert_eq!(
        outcome.status(),
        Status::Ko,
        "{:#?}",
        outcome.summary.reasons
    );
    let found = findings(&outcome);
    assert!(
        found.iter().any(|(c, m)| c == code && m.contains(saying)),
        "expected {code} saying {saying:?} among {found:#?}"
    );
    assert_eq!(f.archive.catalog().counts(t).unwrap(), before);
}

/// Tenant 0 of Vitam's tests, plus entries the samples lack.
fn setup() -> (Fixture, carnac_model::TenantId) {
    setup_with(carnac_archive::IngestConfig::default())
}

fn setup_with(config: carnac_archive::IngestConfig) -> (Fixture, carnac_model::TenantId) {
    let f = fixture_with(config);
    let t = f.tenant_with("0", "tenant-0");
    let dir = f.tmp.path().join("more-referentials");
    std::fs::create_dir_all(dir.join("archiveUnitProfiles")).unwrap();
    std::fs::create_dir_all(dir.join("contracts")).unwrap();
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    // Every archive unit profile of tenant 0, and two more.
    let samples = testdata().join("referentials/tenant-0/archiveUnitProfiles");
    for e in std::fs::read_dir(&samples).unwrap() {
        let e = e.unwrap();
        std::fs::copy(
            e.path(),
            dir.join("archiveUnitProfiles").join(e.file_name()),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("archiveUnitProfiles/more.json"),
        r#"[{"Identifier": "AUP_INACTIVE", "Name": "inactive", "Status": "INACTIVE",
             "ControlSchema": "{\"type\": \"object\"}"},
            {"Identifier": "AUP_NO_SCHEMA", "Name": "no schema", "Status": "ACTIVE"}]"#,
    )
    .unwrap();
    // Contracts: tenant 0's (none lists a profile), and one that lists PROFILE_A.
    std::fs::copy(
        testdata().join("referentials/tenant-0/contracts/referential_contracts_ok.json"),
        dir.join("contracts/referential_contracts_ok.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("contracts/listed.json"),
        r#"[{"Identifier": "LISTS_PROFILE_A", "Name": "lists A", "Status": "ACTIVE",
             "ArchiveProfiles": ["PROFILE_A"]}]"#,
    )
    .unwrap();
    // Archive profiles that accept any ArchiveTransfer whose first Comment is their name:
    // which one validated a manifest shows in the reply.
    let mut descriptions = Vec::new();
    for (id, status) in [
        ("PROFILE_A", "ACTIVE"),
        ("PROFILE_B", "ACTIVE"),
        ("PROFILE_OFF", "INACTIVE"),
    ] {
        std::fs::write(
            dir.join(format!("profiles/{id}.rng")),
            format!(
                r#"<grammar xmlns="http://relaxng.org/ns/structure/1.0" ns="fr:gouv:culture:archivesdefrance:seda:v2.1">
  <start><element name="ArchiveTransfer">
    <element name="Comment"><value>{id}</value></element>
    <zeroOrMore><ref name="any"/></zeroOrMore>
  </element></start>
  <define name="any"><element><anyName/>
    <zeroOrMore><choice><attribute><anyName/></attribute><text/><ref name="any"/></choice></zeroOrMore>
  </element></define>
</grammar>"#
            ),
        )
        .unwrap();
        descriptions.push(format!(
            r#"{{"Identifier": "{id}", "Name": "{id}", "Status": "{status}", "Format": "RNG"}}"#
        ));
    }
    std::fs::write(
        dir.join("profiles/profiles.json"),
        format!("[{}]", descriptions.join(",")),
    )
    .unwrap();
    f.archive.import_referentials(&t, &dir, "test").unwrap();
    (f, t)
}

/// The three archive unit profiles of Vitam's tests, and the cases Vitam names.
#[test]
fn archive_unit_profiles() {
    let (f, t) = setup();
    let with_profile = |profile: &str, content: &str| {
        Sip {
            units: unit(
                "U1",
                &format!("<ArchiveUnitProfile>{profile}</ArchiveUnitProfile>"),
                content,
                "G1",
            ),
            ..Sip::default()
        }
        .zip()
    };
    // AUP_IDENTIFIER asks only that Title be a string, which every unit gives (the first
    // title without a language; the others go to Title_).
    accepted(
        &f,
        &t,
        &with_profile(
            "AUP_IDENTIFIER",
            r#"<Title>a</Title><Title xml:lang="en">b</Title><Title>c</Title>"#,
        ),
    );
    // AUP_CUSTOM_SCHEMA: DescriptionLevel among Item, SubGrp and File.
    accepted(
        &f,
        &t,
        &with_profile("AUP_CUSTOM_SCHEMA", "<Title>a</Title>"),
    );
    refused(
        &f,
        &t,
        &Sip {
            units: r#"<ArchiveUnit id="U1"><ArchiveUnitProfile>AUP_CUSTOM_SCHEMA</ArchiveUnitProfile><Content><DescriptionLevel>RecordGrp</DescriptionLevel><Title>a</Title></Content><DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>"#.into(),
            ..Sip::default()
        }
        .zip(),
        "CHECK_ARCHIVE_UNIT_PROFILE.NOT_AU_JSON_VALID",
        r#""RecordGrp" is not one of"#,
    );
    // Unknown, inactive, without schema.
    for (profile, code) in [
        ("AUP_NOWHERE", "NOT_FOUND"),
        ("AUP_INACTIVE", "INACTIVE_STATUS"),
        ("AUP_NO_SCHEMA", "EMPTY_CONTROL_SCHEMA"),
    ] {
        refused(
            &f,
            &t,
            &with_profile(profile, "<Title>a</Title>"),
            &format!("CHECK_ARCHIVE_UNIT_PROFILE.{code}"),
            profile,
        );
    }
}

/// A mail as AUP_IDENTIFIER_2.2 describes it (SEDA 2.2: Agent), then each way to miss it.
#[test]
fn the_mail_profile_of_seda_2_2() {
    let (f, t) = setup();
    let person = |name: &str| {
        format!(
            "<FirstName>{name}</FirstName><BirthName>Dupont</BirthName><Identifier>{name}-1</Identifier>"
        )
    };
    let mail = |management: &str, content: &str| {
        Sip {
            version: "2.2",
            units: unit(
                "U1",
                &format!(
                    "<ArchiveUnitProfile>AUP_IDENTIFIER_2.2</ArchiveUnitProfile><Management>{management}</Management>"
                ),
                content,
                "G1",
            ),
            ..Sip::default()
        }
        .zip()
    };
    let management = "<AppraisalRule><Rule>APP-00001</Rule><StartDate>2016-06-03</StartDate><FinalAction>Keep</FinalAction></AppraisalRule><AccessRule><Rule>ACC-00001</Rule><StartDate>2016-06-03</StartDate></AccessRule>";
    let content = |keyword_type: &str, extra: &str| {
        format!(
            "<Title>Courriel</Title><OriginatingSystemId>msg-1</OriginatingSystemId><Description>Un courriel</Description>{extra}<Keyword><KeywordContent>Dupont</KeywordContent><KeywordType>{keyword_type}</KeywordType></Keyword><Agent>{}</Agent><Writer>{}</Writer><Addressee>{}</Addressee><Addressee>{}</Addressee><SentDate>2016-06-03</SentDate><ReceivedDate>2016-06-04</ReceivedDate>",
            person("Agent"),
            person("Writer"),
            person("Anne"),
            person("Paul"),
        )
    };
    accepted(&f, &t, &mail(management, &content("persname", "")));
    // A keyword of a type the profile does not list.
    refused(
        &f,
        &t,
        &mail(management, &content("geogname", "")),
        "CHECK_ARCHIVE_UNIT_PROFILE.NOT_AU_JSON_VALID",
        "/Keyword/0/KeywordType",
    );
    // A field the profile does not allow (additionalProperties: false).
    refused(
        &f,
        &t,
        &mail(management, &content("persname", "<Language>fr</Language>")),
        "CHECK_ARCHIVE_UNIT_PROFILE.NOT_AU_JSON_VALID",
        "Language",
    );
    // Without the access rule the profile requires, and with a final action it does not allow.
    refused(
        &f,
        &t,
        &mail(
            "<AppraisalRule><Rule>APP-00001</Rule><StartDate>2016-06-03</StartDate><FinalAction>Destroy</FinalAction></AppraisalRule>",
            &content("persname", ""),
        ),
        "CHECK_ARCHIVE_UNIT_PROFILE.NOT_AU_JSON_VALID",
        "AccessRule",
    );
    // Without a writer: every missing field is named, each in its own reason.
    let outcome = ingest(
        &f,
        &t,
        &mail(
            management,
            &content("persname", "").replace(&format!("<Writer>{}</Writer>", person("Writer")), ""),
        ),
    );
    assert_eq!(outcome.status(), Status::Ko);
    assert!(
        findings(&outcome)
            .iter()
            .any(|(c, m)| c == "CHECK_ARCHIVE_UNIT_PROFILE.NOT_AU_JSON_VALID"
                && m.contains(r#""Writer" is a required property"#)),
        "{:#?}",
        outcome.summary.reasons
    );
}

/// A RefNonRuleId of another category, or a rule used as another category.
#[test]
fn rule_categories() {
    let (f, t) = setup();
    let managed = |management: &str| Sip {
        units: unit(
            "U1",
            &format!("<Management>{management}</Management>"),
            "<Title>a</Title>",
            "G1",
        ),
        ..Sip::default()
    };
    accepted(
        &f,
        &t,
        &managed(
            "<AccessRule><Rule>ACC-00001</Rule><RefNonRuleId>ACC-00002</RefNonRuleId></AccessRule>",
        )
        .zip(),
    );
    refused(
        &f,
        &t,
        &managed("<AccessRule><RefNonRuleId>APP-00001</RefNonRuleId></AccessRule>").zip(),
        "UNITS_RULES_COMPUTE.REF_INCONSISTENCY",
        "names a AppraisalRule",
    );
    refused(
        &f,
        &t,
        &managed("<AccessRule><RefNonRuleId>ACC-99999</RefNonRuleId></AccessRule>").zip(),
        "UNITS_RULES_COMPUTE.REF_INCONSISTENCY",
        "ACC-99999",
    );
    refused(
        &f,
        &t,
        &managed(
            "<AccessRule><Rule>APP-00001</Rule><StartDate>2016-01-01</StartDate></AccessRule>",
        )
        .zip(),
        "UNITS_RULES_COMPUTE.CONSISTENCY",
        "is a AppraisalRule in the referential, used as a AccessRule",
    );
    // In ManagementMetadata too.
    refused(
        &f,
        &t,
        &Sip {
            package_management: "<StorageRule><RefNonRuleId>ACC-00001</RefNonRuleId><FinalAction>Copy</FinalAction></StorageRule>",
            ..Sip::default()
        }
        .zip(),
        "UNITS_RULES_COMPUTE.REF_INCONSISTENCY",
        "ManagementMetadata",
    );
}

/// Classification levels: the platform's list, Vitam's by default, in units and in the
/// package's management metadata.
#[test]
fn classification_levels() {
    let classified = |level: &str| {
        format!(
            "<Management><ClassificationRule><ClassificationLevel>{level}</ClassificationLevel><ClassificationOwner>o</ClassificationOwner></ClassificationRule></Management>"
        )
    };
    let unit_at = |level: &str| Sip {
        units: unit("U1", &classified(level), "<Title>a</Title>", "G1"),
        ..Sip::default()
    };
    let (f, t) = setup();
    accepted(&f, &t, &unit_at("Secret Défense").zip());
    accepted(&f, &t, &Sip::default().zip());
    refused(
        &f,
        &t,
        &unit_at("Très Secret").zip(),
        "CHECK_CLASSIFICATION_LEVEL.LEVEL_NOT_ALLOWED",
        "\"Très Secret\"",
    );
    refused(
        &f,
        &t,
        &Sip {
            package_management: "<ClassificationRule><ClassificationLevel>Très Secret</ClassificationLevel><ClassificationOwner>o</ClassificationOwner></ClassificationRule>",
            ..Sip::default()
        }
        .zip(),
        "CHECK_CLASSIFICATION_LEVEL.LEVEL_NOT_ALLOWED",
        "ManagementMetadata",
    );
    // Another platform's list.
    let (f, t) = setup_with(carnac_archive::IngestConfig {
        classification_levels: vec!["Diffusion restreinte".into()],
        ..Default::default()
    });
    accepted(&f, &t, &unit_at("Diffusion restreinte").zip());
    refused(
        &f,
        &t,
        &unit_at("Secret Défense").zip(),
        "CHECK_CLASSIFICATION_LEVEL.LEVEL_NOT_ALLOWED",
        "Diffusion restreinte",
    );
}

/// A unit names an object directly: refused when the object is in a group, attached to the
/// object's own group when it has none.
#[test]
fn direct_references_to_objects() {
    let (f, t) = setup();
    let by_object = r#"<ArchiveUnit id="U1"><Content><DescriptionLevel>Item</DescriptionLevel><Title>a</Title></Content><DataObjectReference><DataObjectReferenceId>O1</DataObjectReferenceId></DataObjectReference></ArchiveUnit>"#;
    refused(
        &f,
        &t,
        &Sip {
            units: by_object.into(),
            ..Sip::default()
        }
        .zip(),
        "CHECK_DATAOBJECTPACKAGE.OBJECT_REFERENCE_IN_GROUP",
        "refer to the group",
    );
    // One reason: the group is not also called orphan.
    let outcome = ingest(
        &f,
        &t,
        &Sip {
            units: by_object.into(),
            ..Sip::default()
        }
        .zip(),
    );
    let codes: Vec<String> = findings(&outcome).into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes, ["CHECK_DATAOBJECTPACKAGE.OBJECT_REFERENCE_IN_GROUP"]);
    // The same object declared in a DataObjectGroup element (SEDA 2.1's other way).
    refused(
        &f,
        &t,
        &Sip {
            objects: format!(
                r#"<DataObjectGroup id="G1"><BinaryDataObject id="O1"><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/a.txt</Uri><MessageDigest algorithm="SHA-256">{HELLO_SHA256}</MessageDigest><Size>5</Size></BinaryDataObject></DataObjectGroup>"#
            ),
            units: by_object.into(),
            ..Sip::default()
        }
        .zip(),
        "CHECK_DATAOBJECTPACKAGE.OBJECT_REFERENCE_IN_GROUP",
        "\"G1\"",
    );
    // Without a group: accepted, the unit holding the object (in a group of its own).
    accepted(
        &f,
        &t,
        &Sip {
            objects: format!(
                r#"<BinaryDataObject id="O1"><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/a.txt</Uri><MessageDigest algorithm="SHA-256">{HELLO_SHA256}</MessageDigest><Size>5</Size></BinaryDataObject>"#
            ),
            units: by_object.into(),
            ..Sip::default()
        }
        .zip(),
    );
    let counts = f.archive.catalog().counts(&t).unwrap();
    assert_eq!(
        (counts.units, counts.object_groups, counts.objects),
        (1, 1, 1)
    );
}

/// A contract without profiles takes any existing, active profile, and the manifest is
/// validated against it; a contract with profiles takes those only.
#[test]
fn archive_profiles_and_contracts() {
    let (f, t) = setup();
    let declaring = |agreement, profile, comment| {
        Sip {
            agreement,
            profile: Some(profile),
            comment: Some(comment),
            ..Sip::default()
        }
        .zip()
    };
    // ArchivalAgreement0 lists no profile.
    accepted(
        &f,
        &t,
        &declaring("ArchivalAgreement0", "PROFILE_A", "PROFILE_A"),
    );
    accepted(
        &f,
        &t,
        &declaring("ArchivalAgreement0", "PROFILE_B", "PROFILE_B"),
    );
    refused(
        &f,
        &t,
        &declaring("ArchivalAgreement0", "PROFILE_B", "PROFILE_A"),
        "CHECK_ARCHIVEPROFILE.NOT_CONFORMANT",
        "PROFILE_B",
    );
    refused(
        &f,
        &t,
        &declaring("ArchivalAgreement0", "PROFILE_OFF", "PROFILE_OFF"),
        "CHECK_ARCHIVEPROFILE.PROFILE_INACTIVE",
        "PROFILE_OFF",
    );
    refused(
        &f,
        &t,
        &declaring("ArchivalAgreement0", "PROFILE_NOWHERE", "PROFILE_NOWHERE"),
        "CHECK_ARCHIVEPROFILE.PROFILE_UNKNOWN",
        "PROFILE_NOWHERE",
    );
    // LISTS_PROFILE_A: A only, and a profile is required.
    accepted(
        &f,
        &t,
        &declaring("LISTS_PROFILE_A", "PROFILE_A", "PROFILE_A"),
    );
    refused(
        &f,
        &t,
        &declaring("LISTS_PROFILE_A", "PROFILE_B", "PROFILE_B"),
        "CHECK_ARCHIVEPROFILE.CHECK_IC_AP_RELATION.DIFF",
        "PROFILE_B",
    );
    refused(
        &f,
        &t,
        &Sip {
            agreement: "LISTS_PROFILE_A",
            ..Sip::default()
        }
        .zip(),
        "CHECK_ARCHIVEPROFILE.CHECK_IC_AP_RELATION.MISSING",
        "PROFILE_A",
    );
}

/// `zip -r x.zip ./` writes a `./` entry and `./`-prefixed names: accepted. A `.` component
/// elsewhere is still refused.
#[test]
fn container_paths_made_from_the_current_folder() {
    let (f, t) = setup();
    let manifest = Sip::default().manifest();
    accepted(
        &f,
        &t,
        &zip_of(&[
            ("./", b""),
            ("./manifest.xml", manifest.as_bytes()),
            ("./Content/", b""),
            ("./Content/a.txt", b"hello"),
        ]),
    );
    refused(
        &f,
        &t,
        &zip_of(&[
            ("manifest.xml", manifest.as_bytes()),
            ("Content/./a.txt", b"hello"),
        ]),
        "CHECK_CONTAINER.INVALID_PATH",
        "Content/./a.txt",
    );
    refused(
        &f,
        &t,
        &zip_of(&[
            ("./manifest.xml", manifest.as_bytes()),
            ("./../Content/a.txt", b"hello"),
        ]),
        "CHECK_CONTAINER.PATH_TRAVERSAL",
        "..",
    );
}

/// A file name with `#` or `%`: found by its name as written, with a warning that the Uri
/// means another name when read as a URI; found without a warning when the Uri escapes them.
#[test]
fn names_that_are_not_uris_as_written() {
    let (f, t) = setup();
    let with_file = |uri: &str, name: &str| {
        let sip = Sip {
            objects: grouped_object("O1", "G1", uri),
            ..Sip::default()
        };
        zip_of(&[
            ("manifest.xml", sip.manifest().as_bytes()),
            (name, b"hello"),
        ])
    };
    let warnings = |found: Vec<(String, String)>| -> Vec<String> {
        found
            .into_iter()
            .filter(|(c, _)| c == "CHECK_DATAOBJECTPACKAGE.URI_LITERAL_NAME")
            .map(|(_, m)| m)
            .collect()
    };
    let w = warnings(accepted(
        &f,
        &t,
        &with_file("Content/n°12 #2.txt", "Content/n°12 #2.txt"),
    ));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("fragment") && w[0].contains("%23"), "{w:?}");
    let w = warnings(accepted(
        &f,
        &t,
        &with_file("Content/TVA 20%41.txt", "Content/TVA 20%41.txt"),
    ));
    assert!(
        w.len() == 1 && w[0].contains("\"Content/TVA 20A.txt\""),
        "{w:?}"
    );
    for (uri, name) in [
        ("Content/n%C2%B012%20%232.txt", "Content/n°12 #2.txt"),
        ("Content/a b.txt", "Content/a b.txt"),
    ] {
        assert!(warnings(accepted(&f, &t, &with_file(uri, name))).is_empty());
    }
}

/// Vitam's own mail transfer (SEDA 2.3), whose first mail (ID3) has the shape
/// AUP_IDENTIFIER_2.2 describes (agent, writer, addressees, hold rule…), declaring that
/// profile: accepted, which checks the JSON built of a real unit against the profile written
/// for it. The two other mails have no Agent: refused if they declare it. Then the first
/// mail loses its access rule, which the profile requires.
#[test]
fn vitams_mail_transfer_meets_its_profile() {
    let (f, t) = setup();
    let sample = std::fs::read(testdata().join("seda/WARNING_SIP_mail_Seda2.3.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(sample)).unwrap();
    let mut manifest = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("manifest.xml").unwrap(), &mut manifest)
        .unwrap();
    let mut binary = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("Content/binary.txt").unwrap(), &mut binary)
        .unwrap();
    let declaring = |ids: &[&str]| {
        let mut declared = manifest.clone();
        for id in ids {
            declared = declared.replace(
                &format!(r#"<ArchiveUnit id="{id}">"#),
                &format!(
                    r#"<ArchiveUnit id="{id}"><ArchiveUnitProfile>AUP_IDENTIFIER_2.2</ArchiveUnitProfile>"#
                ),
            );
        }
        assert_eq!(declared.matches("AUP_IDENTIFIER_2.2").count(), ids.len());
        declared
    };
    let packed = |manifest: &str| {
        zip_of(&[
            ("manifest.xml", manifest.as_bytes()),
            ("Content/binary.txt", &binary),
        ])
    };
    let declared = declaring(&["ID3"]);
    accepted(&f, &t, &packed(&declared));
    let outcome = ingest(&f, &t, &packed(&declaring(&["ID3", "ID8", "ID9"])));
    let missing: Vec<String> = findings(&outcome)
        .into_iter()
        .filter(|(c, _)| c == "CHECK_ARCHIVE_UNIT_PROFILE.NOT_AU_JSON_VALID")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(
        missing,
        ["ID8", "ID9"].map(|id| format!(
            r#"ArchiveUnit "{id}": archive unit profile "AUP_IDENTIFIER_2.2": "Agent" is a required property"#
        ))
    );
    let start = declared.find(r#"<ArchiveUnit id="ID3">"#).unwrap();
    let access = start + declared[start..].find("<AccessRule>").unwrap();
    let end = access + declared[access..].find("</AccessRule>").unwrap() + "</AccessRule>".len();
    let without_access = format!("{}{}", &declared[..access], &declared[end..]);
    refused(
        &f,
        &t,
        &packed(&without_access),
        "CHECK_ARCHIVE_UNIT_PROFILE.NOT_AU_JSON_VALID",
        r#"ArchiveUnit "ID3": archive unit profile "AUP_IDENTIFIER_2.2": "AccessRule" is a required property (at /#management)"#,
    );
}
