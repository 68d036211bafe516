use super::*;

const BORDEREAU: &str = r#"<?xml version="1.0"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v1.0">
  <Comment>Transfert d&#xE9;lib&#xE9;ration</Comment>
  <Date>2020-06-01T16:20:18+02:00</Date>
  <TransferIdentifier>T-1</TransferIdentifier>
  <ArchivalAgency><Identification>AD</Identification></ArchivalAgency>
  <TransferringAgency><Identification>PASTELL</Identification></TransferringAgency>
  <Archive>
<ArchivalAgreement>ACCORD</ArchivalAgreement>
<ArchivalProfile>PROFIL</ArchivalProfile>
<DescriptionLanguage>fra</DescriptionLanguage>
<Name>Un acte</Name>
<ContentDescription>
  <DescriptionLevel>file</DescriptionLevel>
  <Language>fra</Language>
  <LatestDate>2020-06-01</LatestDate>
  <OldestDate>2020-05-01</OldestDate>
  <Keyword><KeywordContent>d&#xE9;lib&#xE9;ration</KeywordContent></Keyword>
  <Keyword><KeywordContent/></Keyword>
</ContentDescription>
<AccessRestrictionRule><Code>AR048</Code><StartDate>2020-06-01</StartDate></AccessRestrictionRule>
<AppraisalRule><Code>detruire</Code><Duration>P10Y</Duration><StartDate>2020-06-01</StartDate></AppraisalRule>
<ArchiveObject>
  <Name>Annexes</Name>
  <Document>
    <Attachment mimeCode="application/pdf" filename="annexe.pdf"/>
    <Integrity algorithme="http://www.w3.org/2001/04/xmlenc#sha256">abc</Integrity>
    <Size unitCode="AD">33</Size>
    <Type>CDO</Type>
  </Document>
</ArchiveObject>
<Document>
  <Attachment mimeCode="application/pdf" filename="acte.pdf"/>
  <Description>Acte transmis</Description>
  <Integrity algorithme="http://www.w3.org/2001/04/xmlenc#sha256">def</Integrity>
  <Type>CDO</Type>
</Document>
  </Archive>
</ArchiveTransfer>"#;

#[test]
fn archives_objects_and_documents_become_units_and_objects() {
    let mut meta: Vec<Vec<u8>> = Vec::new();
    let (m, problems) = read(BORDEREAU.as_bytes(), &mut meta).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(m.header.message_identifier, "T-1");
    assert_eq!(m.header.comments, ["Transfert délibération"]);
    assert_eq!(m.header.archival_agency.as_deref(), Some("AD"));
    assert_eq!(m.header.transferring_agency.as_deref(), Some("PASTELL"));
    assert_eq!(m.header.originating_agency.as_deref(), Some("PASTELL"));
    assert_eq!(m.header.archival_agreement.as_deref(), Some("ACCORD"));
    assert_eq!(m.header.archival_profile.as_deref(), Some("PROFIL"));
    let ids: Vec<&str> = m.units.iter().map(|u| u.xml_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "Archive[1]",
            "Archive[1]/ArchiveObject[1]",
            "Archive[1]/ArchiveObject[1]/Document[1]",
            "Archive[1]/Document[1]"
        ]
    );
    let parents: Vec<Option<usize>> = m.units.iter().map(|u| u.parent).collect();
    assert_eq!(parents, [None, Some(0), Some(1), Some(0)]);
    let titles: Vec<&str> = m.units.iter().map(|u| u.title()).collect();
    assert_eq!(
        titles,
        ["Un acte", "Annexes", "annexe.pdf", "Acte transmis"]
    );
    let a = &m.units[0];
    assert_eq!(a.description_level.as_deref(), Some("File"));
    assert_eq!(a.start_date.as_deref(), Some("2020-05-01"));
    assert_eq!(a.end_date.as_deref(), Some("2020-06-01"));
    assert_eq!(a.keywords, ["délibération"]);
    let rules: Vec<(RuleCategory, &str, Option<&str>, Option<&str>)> = a
        .rules
        .iter()
        .map(|r| {
            (
                r.category,
                r.rule.as_str(),
                r.start_date.as_deref(),
                r.given_duration.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                RuleCategory::AccessRule,
                "AR048",
                Some("2020-06-01"),
                Some("P50Y")
            ),
            (
                RuleCategory::AppraisalRule,
                "detruire",
                Some("2020-06-01"),
                Some("P10Y")
            )
        ]
    );
    assert_eq!(m.objects.len(), 2);
    let o = &m.objects[0];
    assert_eq!(o.uri.as_deref(), Some("annexe.pdf"));
    assert_eq!(o.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(o.size.as_deref(), Some("33"));
    assert_eq!(
        o.digest,
        Some((
            "http://www.w3.org/2001/04/xmlenc#sha256".into(),
            "abc".into()
        ))
    );
    assert_eq!(m.units[2].group_refs, [o.group.clone().unwrap()]);
    assert!(o.declares_group);
    // Each unit's metadata is its element without the nested units, well-formed.
    let archive = String::from_utf8(meta[0].clone()).unwrap();
    assert!(archive.contains("<Name>Un acte</Name>"), "{archive}");
    assert!(!archive.contains("annexe.pdf"), "{archive}");
    let doc = String::from_utf8(meta[3].clone()).unwrap();
    assert!(
        doc.starts_with("<Document xmlns=\"fr:gouv:culture:archivesdefrance:seda:v1.0\">"),
        "{doc}"
    );
    assert!(doc.ends_with("</Document>"), "{doc}");
    for x in &meta {
        crate::manifest::read_fragment_check(x);
    }
}

/// SEDA 0.2 as the Mégalis PES flow writes it (cd56's bordereau, shortened), with the
/// digests at the root.
const BORDEREAU_0_2: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<ArchiveTransfer xmlns="fr:gouv:ae:archive:draft:standard_echange_v0.2">
  <Comment>Transfert des flux comptables</Comment>
  <Date>2016-03-08T16:04:19.2946109Z</Date>
  <TransferIdentifier schemeAgencyName="Mégalis">DEP56_PESV2_2</TransferIdentifier>
  <TransferringAgency><Identification>225600014_122</Identification></TransferringAgency>
  <ArchivalAgency><Identification>FRCOL_761</Identification></ArchivalAgency>
  <Integrity>
<Contains algorithme="http://www.w3.org/2001/04/xmlenc#sha256">aaaa</Contains>
<UnitIdentifier>flux.xml</UnitIdentifier>
  </Integrity>
  <Integrity>
<Contains algorithme="http://www.w3.org/2001/04/xmlenc#sha256">bbbb</Contains>
<UnitIdentifier>ack.xml</UnitIdentifier>
  </Integrity>
  <Contains>
<ArchivalAgreement>DEP56_ACCORD_PES_0001</ArchivalAgreement>
<ArchivalProfile>DEP56_PROFIL_PES_0001</ArchivalProfile>
<DescriptionLanguage>fr</DescriptionLanguage>
<DescriptionLevel>recordgrp</DescriptionLevel>
<Name>Flux comptable PES</Name>
<ContentDescription>
  <Language>fr</Language>
  <LatestDate>2014-12-01</LatestDate>
  <OldestDate>2014-11-01</OldestDate>
  <OriginatingAgency><Identification>225600014_122</Identification></OriginatingAgency>
  <ContentDescriptive>
    <AccessRestriction><Code>AR038</Code><StartDate>2014-12-01</StartDate></AccessRestriction>
    <KeywordContent>Comptabilité publique</KeywordContent>
    <KeywordType>subject</KeywordType>
  </ContentDescriptive>
</ContentDescription>
<Appraisal><Code>detruire</Code><Duration>P10Y</Duration><StartDate>2014-12-01</StartDate></Appraisal>
<AccessRestriction><Code>AR048</Code><StartDate>2014-12-01</StartDate></AccessRestriction>
<Contains>
  <ArchivalAgencyObjectIdentifier>DEP56_1</ArchivalAgencyObjectIdentifier>
  <DescriptionLevel>file</DescriptionLevel>
  <Name>Flux PES_Aller</Name>
  <Document>
    <Attachment format="fmt/101" mimeCode="application/xml" filename="flux.xml"/>
    <Creation>2014-12-01T00:00:00.0000000</Creation>
    <Description>Flux PES</Description>
    <Type>CDO</Type>
  </Document>
  <Contains>
    <DescriptionLevel>item</DescriptionLevel>
    <Name>Accusé réception du flux</Name>
    <Document>
      <Attachment mimeCode="application/xml" filename="ack.xml"/>
      <Type>CDO</Type>
    </Document>
  </Contains>
</Contains>
  </Contains>
</ArchiveTransfer>"#;

#[test]
fn seda_0_2_reads_into_the_same_model() {
    let mut meta: Vec<Vec<u8>> = Vec::new();
    let (m, problems) = read(BORDEREAU_0_2.as_bytes(), &mut meta).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(m.header.message_identifier, "DEP56_PESV2_2");
    assert_eq!(m.header.archival_agency.as_deref(), Some("FRCOL_761"));
    assert_eq!(
        m.header.transferring_agency.as_deref(),
        Some("225600014_122")
    );
    assert_eq!(
        m.header.originating_agency.as_deref(),
        Some("225600014_122")
    );
    assert_eq!(
        m.header.archival_profile.as_deref(),
        Some("DEP56_PROFIL_PES_0001")
    );
    let ids: Vec<&str> = m.units.iter().map(|u| u.xml_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "Contains[1]",
            "Contains[1]/Contains[1]",
            "Contains[1]/Contains[1]/Document[1]",
            "Contains[1]/Contains[1]/Contains[1]",
            "Contains[1]/Contains[1]/Contains[1]/Document[1]",
        ]
    );
    let parents: Vec<Option<usize>> = m.units.iter().map(|u| u.parent).collect();
    assert_eq!(parents, [None, Some(0), Some(1), Some(1), Some(3)]);
    let levels: Vec<Option<&str>> = m
        .units
        .iter()
        .map(|u| u.description_level.as_deref())
        .collect();
    assert_eq!(
        levels,
        [
            Some("RecordGrp"),
            Some("File"),
            Some("Item"),
            Some("Item"),
            Some("Item")
        ]
    );
    let titles: Vec<&str> = m.units.iter().map(|u| u.title()).collect();
    assert_eq!(
        titles,
        [
            "Flux comptable PES",
            "Flux PES_Aller",
            "Flux PES",
            "Accusé réception du flux",
            "ack.xml"
        ]
    );
    let a = &m.units[0];
    assert_eq!(a.keywords, ["Comptabilité publique"]);
    assert_eq!(a.start_date.as_deref(), Some("2014-11-01"));
    assert_eq!(a.end_date.as_deref(), Some("2014-12-01"));
    // The keyword's own restriction is not the unit's rule.
    let rules: Vec<(RuleCategory, &str, Option<&str>)> = a
        .rules
        .iter()
        .map(|r| (r.category, r.rule.as_str(), r.given_duration.as_deref()))
        .collect();
    assert_eq!(
        rules,
        [
            (RuleCategory::AppraisalRule, "detruire", Some("P10Y")),
            (RuleCategory::AccessRule, "AR048", Some("P50Y")),
        ]
    );
    assert_eq!(m.units[2].start_date.as_deref(), Some("2014-12-01"));
    // The root's digests went to the documents attaching their files.
    let digests: Vec<(Option<&str>, Option<&str>)> = m
        .objects
        .iter()
        .map(|o| {
            (
                o.filename.as_deref(),
                o.digest.as_ref().map(|d| d.1.as_str()),
            )
        })
        .collect();
    assert_eq!(
        digests,
        [
            (Some("flux.xml"), Some("aaaa")),
            (Some("ack.xml"), Some("bbbb"))
        ]
    );
    assert_eq!(
        m.objects[0].digest.as_ref().unwrap().0,
        "http://www.w3.org/2001/04/xmlenc#sha256"
    );
    let archive = String::from_utf8(meta[0].clone()).unwrap();
    assert!(
        archive.starts_with(r#"<Contains xmlns="fr:gouv:ae:archive:draft:standard_echange_v0.2">"#),
        "{archive}"
    );
    assert!(!archive.contains("Flux PES_Aller"), "{archive}");
    for x in &meta {
        crate::manifest::read_fragment_check(x);
    }
}

#[test]
fn seda_0_2_digests_must_name_a_document_and_agree() {
    let stray = BORDEREAU_0_2.replace(
        "<UnitIdentifier>ack.xml</UnitIdentifier>",
        "<UnitIdentifier>absent.xml</UnitIdentifier>",
    );
    let (m, problems) = read(stray.as_bytes(), &mut crate::manifest::NoMetadata).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("Integrity[2]") && problems[0].contains("absent.xml"));
    assert!(m.objects[1].digest.is_none());
    let twice = BORDEREAU_0_2.replace(
        "<UnitIdentifier>ack.xml</UnitIdentifier>",
        "<UnitIdentifier>flux.xml</UnitIdentifier>",
    );
    let (_, problems) = read(twice.as_bytes(), &mut crate::manifest::NoMetadata).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("other than"), "{problems:?}");
    let dotted = BORDEREAU_0_2.replace(
        "<UnitIdentifier>ack.xml</UnitIdentifier>",
        "<UnitIdentifier> ./ack.xml </UnitIdentifier>",
    );
    let (m, problems) = read(dotted.as_bytes(), &mut crate::manifest::NoMetadata).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(m.objects[1].digest.as_ref().unwrap().1, "bbbb");
}

#[test]
fn access_codes_carry_their_legal_delay() {
    assert_eq!(access_restriction_duration("AR038").as_deref(), Some("P0Y"));
    assert_eq!(
        access_restriction_duration("AR059").as_deref(),
        Some("P100Y")
    );
    assert_eq!(access_restriction_duration("AR062").as_deref(), Some(""));
    assert_eq!(access_restriction_duration("AR999"), None);
    assert_eq!(ACCESS_RESTRICTION_CODES.len(), 25);
}

#[test]
fn hostile_and_foreign_documents_are_refused() {
    let doctype = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v1.0"/>"#;
    assert!(matches!(
        read(doctype.as_bytes(), &mut crate::manifest::NoMetadata),
        Err(ManifestError::Doctype)
    ));
    let entity = r#"<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v1.0"><Comment>&x;</Comment></ArchiveTransfer>"#;
    assert!(matches!(
        read(entity.as_bytes(), &mut crate::manifest::NoMetadata),
        Err(ManifestError::UndefinedEntity(_))
    ));
    let v2 = r#"<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"/>"#;
    assert!(read(v2.as_bytes(), &mut crate::manifest::NoMetadata).is_err());
    let inline = BORDEREAU.replace(
        r#"filename="acte.pdf"/>"#,
        r#"filename="acte.pdf">QUJD</Attachment>"#,
    );
    let (_, problems) = read(inline.as_bytes(), &mut crate::manifest::NoMetadata).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("inline"), "{problems:?}");
}
