//! Packages written from the units of real transfers (Vitam's test SIPs): valid against the
//! official XSD of each version, and read back with the same tree, metadata and digests.

use super::*;
use crate::manifest::{self, ObjectKind};
use std::collections::HashMap;
use std::io::Read;

fn manifest_of(sip: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/seda")
        .join(sip);
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let name = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().unwrap().into_owned())
        .find(|n| n.ends_with("manifest.xml"))
        .unwrap();
    let mut out = Vec::new();
    z.by_name(&name).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// Writes the units and objects of `sip`'s manifest as a package in `version`, the way the
/// archive writes what it holds: new identifiers, each unit from its metadata as kept, a
/// unit with several parents written once and referred to elsewhere.
fn repackage(sip: &str, version: SedaVersion) -> (manifest::Manifest, Vec<u8>) {
    let bytes = manifest_of(sip);
    let mut metadata: Vec<Vec<u8>> = Vec::new();
    let m = manifest::read(&bytes[..], &mut metadata).unwrap();
    // Groups: by the group element, or the group an object names (SEDA 2.1).
    let mut groups: Vec<(String, ObjectGroup)> = Vec::new();
    let mut objects: HashMap<String, String> = HashMap::new();
    for (i, o) in m.objects.iter().enumerate() {
        let key = o
            .group_element
            .clone()
            .or_else(|| o.group.clone())
            .unwrap_or_else(|| o.xml_id.clone());
        let at = match groups.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                groups.push((
                    key.clone(),
                    ObjectGroup {
                        id: format!("G{}", groups.len()),
                        objects: Vec::new(),
                        physical: Vec::new(),
                    },
                ));
                groups.len() - 1
            }
        };
        let id = format!("O{i}");
        objects.insert(o.xml_id.clone(), id.clone());
        match o.kind {
            ObjectKind::Binary => {
                let (algorithm, digest) = o.digest.clone().unwrap();
                groups[at].1.objects.push(BinaryObject {
                    id: id.clone(),
                    version: o.version.clone(),
                    uri: format!("Content/{id}"),
                    digest_algorithm: algorithm,
                    digest,
                    size: o.size.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0),
                    format_id: o.format_id.clone(),
                    mime_type: o.mime_type.clone(),
                    format_litteral: o.format_litteral.clone(),
                    filename: o.filename.clone(),
                })
            }
            ObjectKind::Physical => groups[at].1.physical.push(PhysicalObject {
                id,
                version: o.version.clone(),
            }),
        }
    }
    let group_ids: HashMap<String, String> = groups
        .iter()
        .map(|(k, g)| (k.clone(), g.id.clone()))
        .collect();
    let rename = |kind: ReferenceKind, old: &str| match kind {
        ReferenceKind::Group => group_ids.get(old).cloned(),
        ReferenceKind::Object => objects.get(old).cloned(),
    };
    // The tree: a pointer (ArchiveUnitRefId) is a second parent of its target.
    let index_of: HashMap<&str, usize> = m
        .units
        .iter()
        .enumerate()
        .filter(|(_, u)| u.ref_target.is_none())
        .map(|(i, u)| (u.xml_id.as_str(), i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, u) in m.units.iter().enumerate() {
        children.entry(u.parent).or_default().push(i);
    }
    let mut w = ManifestWriter::new(
        Vec::new(),
        version,
        PackageHeader {
            message_identifier: format!("package-of-{sip}"),
            date: "2026-12-04T08:00:00".into(),
            comments: vec!["Transfert aux Archives départementales".into()],
            archival_agreement: None,
            archival_agency: "AD-MORBIHAN".into(),
            transferring_agency: "carnac".into(),
        },
    )
    .unwrap();
    for (_, g) in &groups {
        w.group(g).unwrap();
    }
    fn write(
        w: &mut ManifestWriter<Vec<u8>>,
        m: &manifest::Manifest,
        metadata: &[Vec<u8>],
        children: &HashMap<Option<usize>, Vec<usize>>,
        index_of: &HashMap<&str, usize>,
        rename: Rename<'_>,
        at: usize,
    ) {
        let u = &m.units[at];
        if let Some(target) = &u.ref_target {
            // A pointer may point at a pointer: followed to the unit.
            let mut target = target.as_str();
            let t = loop {
                if let Some(t) = index_of.get(target) {
                    break *t;
                }
                target = m
                    .units
                    .iter()
                    .find(|p| p.xml_id == target)
                    .and_then(|p| p.ref_target.as_deref())
                    .unwrap();
            };
            w.unit_reference(&format!("R{at}"), &format!("U{t}"))
                .unwrap();
            return;
        }
        w.open_unit(
            &format!("U{at}"),
            std::str::from_utf8(&metadata[at]).unwrap(),
            rename,
            None,
        )
        .unwrap();
        for c in children.get(&Some(at)).into_iter().flatten() {
            write(w, m, metadata, children, index_of, rename, *c);
        }
        w.close_unit().unwrap();
    }
    // A pointer at the top is no unit of its own: its target stands there already.
    for root in children.get(&None).cloned().unwrap_or_default() {
        if m.units[root].ref_target.is_none() {
            write(&mut w, &m, &metadata, &children, &index_of, &rename, root);
        }
    }
    let out = w.finish(Some("FRAN_NP_009913")).unwrap();
    (m, out)
}

#[test]
fn packages_of_real_transfers_are_valid_in_every_version() {
    let mut validated = 0;
    // The samples valid against the official XSD (testdata/seda/XSD_CHECK.tsv): the FULL
    // ones use extensions Vitam tolerates and the XSD does not.
    for sip in [
        "OK_SIP_2_GO.zip",
        "OK_SIP-test-md5.zip",
        "WARNING_SIP_sans_objet.zip",
        "WARNING_SIP_mail_Seda2.3.zip",
    ] {
        let original = manifest::sniff_version(&manifest_of(sip)[..]).unwrap();
        for version in [SedaVersion::V2_1, SedaVersion::V2_2, SedaVersion::V2_3] {
            // Metadata written in a later version than the package's may not fit it.
            if version < original {
                continue;
            }
            validated += 1;
            let (m, xml) = repackage(sip, version);
            let mut tmp = tempfile::NamedTempFile::new().unwrap();
            std::io::Write::write_all(&mut tmp, &xml).unwrap();
            if let Err(errors) = crate::schema::validate_seda(version, tmp.path()) {
                panic!(
                    "{sip} as SEDA {version}: {errors:?}\n{}",
                    String::from_utf8_lossy(&xml)
                );
            }
            // Read back: the same units in the same tree, the same files.
            let back = manifest::read(&xml[..], &mut manifest::NoMetadata).unwrap();
            let kept: Vec<&manifest::Unit> = m
                .units
                .iter()
                .filter(|u| u.parent.is_some() || u.ref_target.is_none())
                .collect();
            assert_eq!(back.units.len(), kept.len(), "{sip} {version}");
            for (a, b) in kept.iter().zip(&back.units) {
                assert_eq!(a.titles, b.titles, "{sip} {version}");
                assert_eq!(a.parent.is_some(), b.parent.is_some(), "{sip} {version}");
                assert_eq!(a.rules, b.rules, "{sip} {version}");
                assert_eq!(a.keywords, b.keywords, "{sip} {version}");
                assert_eq!(
                    a.group_refs.len() + a.object_refs.len(),
                    b.group_refs.len() + b.object_refs.len(),
                    "{sip} {version}"
                );
                assert_eq!(a.ref_target.is_some(), b.ref_target.is_some());
            }
            let digests = |m: &manifest::Manifest| {
                let mut d: Vec<_> = m.objects.iter().filter_map(|o| o.digest.clone()).collect();
                d.sort();
                d
            };
            assert_eq!(digests(&back), digests(&m), "{sip} {version}");
            assert_eq!(back.header.archival_agency.as_deref(), Some("AD-MORBIHAN"));
        }
    }
    // Three SEDA 2.1 transfers in 2.1, 2.2 and 2.3; one 2.3 transfer in 2.3.
    assert_eq!(validated, 10);
}

#[test]
fn a_reference_to_what_the_package_lacks_is_refused() {
    let mut w = ManifestWriter::new(
        Vec::new(),
        SedaVersion::V2_2,
        PackageHeader {
            message_identifier: "m".into(),
            date: "2026-12-04T08:00:00".into(),
            comments: vec![],
            archival_agreement: None,
            archival_agency: "A".into(),
            transferring_agency: "T".into(),
        },
    )
    .unwrap();
    let unit = r#"<ArchiveUnit xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2" id="X"><Content><Title>t</Title></Content><DataObjectReference><DataObjectGroupReferenceId>G9</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>"#;
    let err = w.open_unit("U1", unit, &|_, _| None, None).unwrap_err();
    assert!(err.to_string().contains("object group G9"), "{err}");
    let err = w
        .open_unit("U2", "<ArchiveUnit><Content>", &|_, _| None, None)
        .unwrap_err();
    assert!(err.to_string().contains("U2"), "{err}");
    // A unit of a SEDA 1.0 transfer, kept as its Archive element: named, not mangled.
    let err = w
        .open_unit(
            "U3",
            "<Archive><Name>n</Name></Archive>",
            &|_, _| None,
            None,
        )
        .unwrap_err();
    assert!(matches!(err, PackageError::NotSeda2 { .. }), "{err}");
    assert!(err.to_string().contains("SEDA 1.0"), "{err}");
    assert!(matches!(
        ManifestWriter::new(
            Vec::new(),
            SedaVersion::V2_2,
            PackageHeader {
                message_identifier: "m".into(),
                date: "d".into(),
                comments: vec![],
                archival_agreement: None,
                archival_agency: "A".into(),
                transferring_agency: "T".into(),
            },
        )
        .unwrap()
        .finish(None),
        Err(PackageError::Order(_))
    ));
}

/// A unit's rules as they are now replace those its metadata kept, and what rules do not
/// say (a classification's level and owner, a log book) stays; SEDA 2.1 has no hold.
#[test]
fn the_rules_of_now_replace_those_kept_and_the_rest_stays() {
    use carnac_model::referential::RuleCategory as C;
    use carnac_model::rules::{FinalAction, Hold, Management, Rule};
    let kept = r#"<ArchiveUnit xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1" id="X"><Management>
      <AppraisalRule><Rule>APP-00001</Rule><StartDate>2000-01-01</StartDate><FinalAction>Keep</FinalAction></AppraisalRule>
      <ClassificationRule><Rule>CLASS-1</Rule><ClassificationAudience>Tous</ClassificationAudience><ClassificationLevel>Secret Défense</ClassificationLevel><ClassificationOwner>Préfecture</ClassificationOwner></ClassificationRule>
      <LogBook><Event><EventDateTime>2020-01-01T00:00:00</EventDateTime></Event></LogBook>
      </Management><Content><DescriptionLevel>Item</DescriptionLevel><Title>Dossier</Title></Content></ArchiveUnit>"#;
    let rule = |id: &str, start: Option<&str>| Rule {
        rule: id.into(),
        start_date: start.map(Into::into),
        ..Default::default()
    };
    let mut now = Management::default();
    let appraisal = now.category_mut(C::AppraisalRule);
    appraisal.rules.push(rule("APP-00002", Some("2001-02-03")));
    appraisal.final_action = Some(FinalAction::Destroy);
    now.category_mut(C::ClassificationRule)
        .rules
        .push(rule("CLASS-1", None));
    now.category_mut(C::AccessRule)
        .ref_non_rule_ids
        .push("ACC-00003".into());
    now.category_mut(C::HoldRule).rules.push(Rule {
        hold: Hold {
            reason: Some("Contentieux".into()),
            end_date: Some("2030-01-01".into()),
            ..Default::default()
        },
        ..rule("HOL-00002", Some("2026-01-01"))
    });
    for version in [SedaVersion::V2_1, SedaVersion::V2_2, SedaVersion::V2_3] {
        let mut w = ManifestWriter::new(
            Vec::new(),
            version,
            PackageHeader {
                message_identifier: "m".into(),
                date: "2026-12-04T08:00:00".into(),
                comments: vec![],
                archival_agreement: None,
                archival_agency: "A".into(),
                transferring_agency: "T".into(),
            },
        )
        .unwrap();
        w.open_unit("U1", kept, &|_, _| None, Some(&now)).unwrap();
        w.close_unit().unwrap();
        let xml = w.finish(Some("AG")).unwrap();
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut tmp, &xml).unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        if let Err(e) = crate::schema::validate_seda(version, tmp.path()) {
            panic!("{version}: {e:?}\n{text}");
        }
        let back = manifest::read(&xml[..], &mut manifest::NoMetadata).unwrap();
        let rules: Vec<(C, &str, Option<&str>)> = back.units[0]
            .rules
            .iter()
            .map(|r| (r.category, r.rule.as_str(), r.start_date.as_deref()))
            .collect();
        let mut expected = vec![
            (C::AppraisalRule, "APP-00002", Some("2001-02-03")),
            (C::ClassificationRule, "CLASS-1", None),
        ];
        if version != SedaVersion::V2_1 {
            expected.push((C::HoldRule, "HOL-00002", Some("2026-01-01")));
        }
        assert_eq!(rules, expected, "{version}");
        assert_eq!(
            back.units[0].final_actions,
            [(C::AppraisalRule, "Destroy".to_owned())]
        );
        assert_eq!(
            back.units[0].classification_level.as_deref(),
            Some("Secret Défense")
        );
        assert_eq!(
            back.units[0].ref_non_rules,
            [(C::AccessRule, "ACC-00003".to_owned())]
        );
        assert!(text.contains("<ClassificationOwner>Préfecture</ClassificationOwner>"));
        assert!(text.contains("<LogBook>"), "{text}");
        assert!(
            !text.contains("APP-00001"),
            "the rule kept at ingest is gone"
        );
        if version != SedaVersion::V2_1 {
            assert!(
                text.contains("<HoldReason>Contentieux</HoldReason>"),
                "{text}"
            );
        }
    }
    // A storage rule without its required FinalAction is named, not written invalid.
    let mut storage = Management::default();
    storage
        .category_mut(C::StorageRule)
        .rules
        .push(rule("STO-00001", None));
    let mut w = ManifestWriter::new(
        Vec::new(),
        SedaVersion::V2_2,
        PackageHeader {
            message_identifier: "m".into(),
            date: "2026-12-04T08:00:00".into(),
            comments: vec![],
            archival_agreement: None,
            archival_agency: "A".into(),
            transferring_agency: "T".into(),
        },
    )
    .unwrap();
    let err = w
        .open_unit("U9", kept, &|_, _| None, Some(&storage))
        .unwrap_err();
    assert!(
        err.to_string().contains("U9") && err.to_string().contains("StorageRule"),
        "{err}"
    );
}
