use super::manifest::{self, ManifestError, ObjectKind};
use super::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/seda")
}

fn manifest_of(sip: &str) -> Vec<u8> {
    let f = std::fs::File::open(corpus().join(sip)).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let name = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().unwrap().into_owned())
        .find(|n| n.ends_with("manifest.xml"))
        .unwrap();
    let mut out = Vec::new();
    z.by_name(&name).unwrap().read_to_end(&mut out).unwrap();
    out
}

fn temp_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

#[test]
fn reads_the_structure_of_a_2_1_manifest() {
    let bytes = manifest_of("OK_SIP_2_GO.zip");
    assert_eq!(
        manifest::sniff_version(&bytes[..]).unwrap(),
        SedaVersion::V2_1
    );
    let mut meta: Vec<Vec<u8>> = Vec::new();
    let m = manifest::read(&bytes[..], &mut meta).unwrap();
    assert_eq!(
        m.header.message_identifier,
        "SIP passant contenant 2 groupes d'objets"
    );
    assert_eq!(
        m.header.archival_agreement.as_deref(),
        Some("ArchivalAgreement0")
    );
    assert_eq!(
        m.header.originating_agency.as_deref(),
        Some("FRAN_NP_009913")
    );
    assert_eq!(m.header.archival_agency.as_deref(), Some("Identifier4"));
    assert_eq!(m.header.transferring_agency.as_deref(), Some("Identifier5"));
    assert_eq!(m.objects.len(), 4);
    let o = &m.objects[0];
    assert_eq!(o.xml_id, "ID7");
    assert_eq!(o.kind, ObjectKind::Binary);
    assert_eq!(o.group.as_deref(), Some("ID6"));
    assert_eq!(o.group_element, None);
    assert!(o.declares_group);
    assert_eq!(
        o.uri.as_deref(),
        Some("Content/GBlNSraIrmIpWQNmJlDzPYLOC8CBk0.pdf")
    );
    assert_eq!(o.digest.as_ref().unwrap().0, "SHA-512");
    assert!(o.digest.as_ref().unwrap().1.starts_with("942bb63cc16bf5ca"));
    assert_eq!(o.size.as_deref(), Some("29403"));
    assert_eq!(o.format_id.as_deref(), Some("fmt/18"));
    assert_eq!(o.version.as_deref(), Some("BinaryMaster"));
    // 7 real units + 6 reference elements.
    assert_eq!(m.units.len(), 13);
    let root = &m.units[0];
    assert_eq!((root.xml_id.as_str(), root.title()), ("ID3", "monSIP"));
    assert_eq!(root.start_date.as_deref(), Some("2016-06-03T15:28:00"));
    let reference = &m.units[1];
    assert_eq!(reference.xml_id, "ID5");
    assert_eq!(reference.parent, Some(0));
    assert_eq!(reference.ref_target.as_deref(), Some("ID4"));
    let item = m.units.iter().find(|u| u.xml_id == "ID8").unwrap();
    assert_eq!(item.group_refs, ["ID6"]);
    // Metadata of each unit, without its nested units, parseable on its own.
    assert_eq!(meta.len(), m.units.len());
    let root_meta = String::from_utf8(meta[0].clone()).unwrap();
    assert!(
        root_meta.starts_with(r#"<ArchiveUnit xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1""#),
        "{root_meta}"
    );
    assert!(root_meta.contains("<Title>monSIP</Title>"));
    assert!(
        !root_meta.contains("ArchiveUnitRefId"),
        "nested units are not part of the parent: {root_meta}"
    );
    for xml in &meta {
        manifest::read_fragment_check(xml);
    }
}

#[test]
fn reads_rules_keywords_and_groups_of_a_2_3_manifest() {
    let bytes = manifest_of("OK_SIP_FULL_SEDA2.3.zip");
    assert_eq!(
        manifest::sniff_version(&bytes[..]).unwrap(),
        SedaVersion::V2_3
    );
    let m = manifest::read(&bytes[..], &mut manifest::NoMetadata).unwrap();
    assert!(!m.group_elements.is_empty() || m.objects.iter().any(|o| o.declares_group));
    assert!(
        m.units.iter().any(|u| !u.rules.is_empty()),
        "rules are read"
    );
    let doc = r#"<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><DataObjectPackage><DescriptiveMetadata>
      <ArchiveUnit id="U1"><Management><AppraisalRule><Rule>APP-1</Rule><StartDate>2020-01-01</StartDate><Rule>APP-2</Rule><FinalAction>Keep</FinalAction></AppraisalRule></Management>
      <Content><Title>t</Title><Keyword><KeywordContent>marché</KeywordContent></Keyword><OriginatingAgency><Identifier>AG1</Identifier></OriginatingAgency></Content></ArchiveUnit>
      </DescriptiveMetadata><ManagementMetadata><AccessRule><Rule>ACC-1</Rule></AccessRule></ManagementMetadata></DataObjectPackage></ArchiveTransfer>"#;
    let m = manifest::read(doc.as_bytes(), &mut manifest::NoMetadata).unwrap();
    let u = &m.units[0];
    assert_eq!(u.keywords, ["marché"]);
    assert_eq!(u.originating_agency.as_deref(), Some("AG1"));
    let rules: Vec<_> = u
        .rules
        .iter()
        .map(|r| (r.rule.as_str(), r.start_date.as_deref()))
        .collect();
    assert_eq!(rules, [("APP-1", Some("2020-01-01")), ("APP-2", None)]);
    assert_eq!(m.header.rules[0].rule, "ACC-1");
}

#[test]
fn versions_by_namespace() {
    let doc = |ns: &str| format!(r#"<?xml version="1.0"?><ArchiveTransfer xmlns="{ns}"/>"#);
    for v in SedaVersion::ALL {
        assert_eq!(
            manifest::sniff_version(doc(v.namespace()).as_bytes()).unwrap(),
            v
        );
    }
    let err = manifest::sniff_version(doc("fr:gouv:culture:archivesdefrance:seda:v1.0").as_bytes())
        .unwrap_err();
    assert_eq!(err.code(), "UNSUPPORTED_SEDA_VERSION");
    assert!(err.to_string().contains("1.0"), "{err}");
    let err = manifest::sniff_version(doc("urn:other").as_bytes()).unwrap_err();
    assert!(err.to_string().contains("urn:other"));
    let err = manifest::sniff_version(&b"<ArchiveTransfer/>"[..]).unwrap_err();
    assert_eq!(err.code(), "UNSUPPORTED_SEDA_VERSION");
    let err = manifest::sniff_version(
        &b"<Other xmlns='fr:gouv:culture:archivesdefrance:seda:v2.1'/>"[..],
    )
    .unwrap_err();
    assert_eq!(err.code(), "NOT_ARCHIVE_TRANSFER");
    // A prefixed root is the same namespace.
    let prefixed = r#"<s:ArchiveTransfer xmlns:s="fr:gouv:culture:archivesdefrance:seda:v2.2"/>"#;
    assert_eq!(
        manifest::sniff_version(prefixed.as_bytes()).unwrap(),
        SedaVersion::V2_2
    );
}

const XXE: &str = r#"<?xml version="1.0"?>
<!DOCTYPE ArchiveTransfer [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><Comment>&xxe;</Comment></ArchiveTransfer>"#;

const LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><Comment>&lol3;</Comment></ArchiveTransfer>"#;

#[test]
fn hostile_xml_is_refused_not_expanded() {
    for doc in [XXE, LAUGHS] {
        let e = manifest::sniff_version(doc.as_bytes()).unwrap_err();
        assert!(matches!(e, ManifestError::Doctype), "{e}");
        let e = manifest::read(doc.as_bytes(), &mut manifest::NoMetadata).unwrap_err();
        assert!(matches!(e, ManifestError::Doctype), "{e}");
        assert_eq!(e.code(), "FORBIDDEN_DTD_OR_ENTITY");
    }
    let undefined = r#"<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><Comment>&nope;</Comment></ArchiveTransfer>"#;
    let e = manifest::read(undefined.as_bytes(), &mut manifest::NoMetadata).unwrap_err();
    assert!(
        matches!(e, ManifestError::UndefinedEntity(ref n) if n == "nope"),
        "{e}"
    );
    let fine = r#"<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><MessageIdentifier>a&amp;b&#233;&#x41;</MessageIdentifier></ArchiveTransfer>"#;
    let m = manifest::read(fine.as_bytes(), &mut manifest::NoMetadata).unwrap();
    assert_eq!(m.header.message_identifier, "a&béA");
}

#[test]
fn broken_xml_is_named() {
    let bytes = manifest_of("KO_BORD_xmlKO_sansobjet.zip");
    let e = manifest::read(&bytes[..], &mut manifest::NoMetadata).unwrap_err();
    assert_eq!(e.code(), "NOT_XML_FILE");
    let e = manifest::read(
        &b"<ArchiveTransfer xmlns='fr:gouv:culture:archivesdefrance:seda:v2.1'><a>"[..],
        &mut manifest::NoMetadata,
    )
    .unwrap_err();
    assert_eq!(e.code(), "NOT_XML_FILE");
}

#[test]
fn xsd_results_match_xmllint_on_the_corpus() {
    let tsv = std::fs::read_to_string(corpus().join("XSD_CHECK.tsv")).unwrap();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, expected) = (cols[0], cols[2]);
        let bytes = manifest_of(file);
        let tmp = temp_with(&bytes);
        let got = match manifest::sniff_version(&bytes[..]) {
            Err(_) => "NOT_WELL_FORMED",
            Ok(v) => match schema::validate_seda(v, tmp.path()) {
                Ok(()) => "VALID",
                Err(_) => "INVALID",
            },
        };
        let got = if expected == "NOT_WELL_FORMED" && got == "INVALID" {
            "NOT_WELL_FORMED"
        } else {
            got
        };
        assert_eq!(got, expected, "{file}");
    }
}

#[test]
fn xsd_errors_say_where_and_what() {
    let bytes = manifest_of("SIP_2.1_WITH_FIELD_2.2.zip");
    let tmp = temp_with(&bytes);
    let errors = schema::validate_seda(SedaVersion::V2_1, tmp.path()).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("HoldRuleCodeListVersion") && e.line == Some(25)),
        "{errors:?}"
    );
}

fn sample_reply(version: SedaVersion, accepted: bool) -> reply::TransferReply {
    use reply::*;
    TransferReply {
        version,
        message_identifier: "op-01".into(),
        date: "2026-11-29T04:00:00Z".into(),
        request_identifier: Some("SIP <1> & co".into()),
        archival_agreement: Some("ArchivalAgreement0".into()),
        archival_profile: None,
        status: if accepted {
            carnac_model::Status::Warning
        } else {
            carnac_model::Status::Ko
        },
        grant_date: accepted.then(|| "2026-11-29T04:00:01Z".into()),
        events: vec![ReplyEvent {
            type_code: "CHECK_DIGEST".into(),
            label: "Vérification des empreintes".into(),
            date_time: "2026-11-29T04:00:00Z".into(),
            outcome: carnac_model::Status::Ko,
            outcome_detail: "CHECK_DIGEST.KO".into(),
            message: "object ID7: declared SHA-512 <x> differs".into(),
        }],
        archival_agency: Some("Identifier4".into()),
        transferring_agency: None,
    }
}

#[test]
fn replies_are_valid_in_every_version() {
    use reply::{ReplyGroup, ReplyObject, ReplyPackage, ReplyUnit};
    for v in SedaVersion::ALL {
        for accepted in [true, false] {
            let reply = sample_reply(v, accepted);
            let xml = if accepted {
                let mut groups = vec![ReplyGroup {
                    xml_id: "ID6".into(),
                    objects: vec![ReplyObject {
                        xml_id: "ID7".into(),
                        system_id: "obj-1".into(),
                        group_system_id: "grp-1".into(),
                        version: Some("BinaryMaster_1".into()),
                        physical: false,
                    }],
                }]
                .into_iter();
                let mut units = vec![ReplyUnit {
                    xml_id: "ID3".into(),
                    system_id: "unit-1".into(),
                    title: "monSIP".into(),
                }]
                .into_iter();
                let mut out = Vec::new();
                reply
                    .write_xml(
                        &mut out,
                        Some(ReplyPackage {
                            groups: &mut groups,
                            units: &mut units,
                        }),
                    )
                    .unwrap();
                String::from_utf8(out).unwrap()
            } else {
                reply.to_xml()
            };
            let tmp = temp_with(xml.as_bytes());
            if let Err(e) = schema::validate_seda(v, tmp.path()) {
                panic!("SEDA {v} reply (accepted: {accepted}) is invalid: {e:?}\n{xml}");
            }
        }
    }
}

#[test]
fn relax_ng_profiles_validate() {
    let rng = br#"<grammar xmlns="http://relaxng.org/ns/structure/1.0" ns="fr:gouv:culture:archivesdefrance:seda:v2.1">
      <start><element name="ArchiveTransfer"><element name="Comment"><value>expected</value></element></element></start></grammar>"#;
    let mut p = schema::Profile::relax_ng(rng).unwrap();
    let ok = temp_with(br#"<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><Comment>expected</Comment></ArchiveTransfer>"#);
    p.validate(ok.path()).unwrap();
    let ko = temp_with(br#"<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><Comment>other</Comment></ArchiveTransfer>"#);
    let errs = p.validate(ko.path()).unwrap_err();
    assert!(!errs.is_empty());
    assert!(schema::Profile::relax_ng(b"<grammar/>").is_err());
    assert!(schema::Profile::relax_ng(b"not xml").is_err());
}
