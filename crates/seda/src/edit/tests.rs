//! `seda::edit`: patches applied, refused with every reason, read back.

use super::*;
use serde_json::json;

const NS: &str = "fr:gouv:culture:archivesdefrance:seda:v2.1";

fn unit(content: &str) -> String {
    format!(
        "<ArchiveUnit xmlns=\"{NS}\" id=\"ID1\"><Management><AppraisalRule><Rule>APP-1</Rule><StartDate>2000-01-01</StartDate></AppraisalRule></Management>\
         <Content>{content}</Content><DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>"
    )
}

fn patch(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

#[test]
fn a_patched_field_is_written_again_and_the_others_kept_as_they_were() {
    let m = unit(
        "\n  <DescriptionLevel>Item</DescriptionLevel>\n  <Title>Délibération n°12</Title>\n  <Description>Vote &amp; budget</Description>\n  <StartDate>2019-03-01</StartDate>\n",
    );
    let e = apply_patch(
        &m,
        &patch(json!({"Title": "Délibération n° 12 du conseil"})),
    )
    .unwrap();
    assert!(
        e.metadata
            .contains("<Title>Délibération n° 12 du conseil</Title>")
    );
    assert!(
        e.metadata
            .contains("<Description>Vote &amp; budget</Description>")
    );
    assert!(
        e.metadata
            .contains("<Management><AppraisalRule><Rule>APP-1</Rule>")
    );
    assert!(e.metadata.ends_with("</DataObjectReference></ArchiveUnit>"));
    assert_eq!(
        e.changes,
        vec![FieldChange {
            field: "Title".into(),
            before: Some(json!("Délibération n°12")),
            after: Some(json!("Délibération n° 12 du conseil")),
        }]
    );
    // The rest, byte for byte.
    assert_eq!(
        e.metadata
            .replace("Délibération n° 12 du conseil", "Délibération n°12"),
        m
    );
}

#[test]
fn a_new_field_goes_where_seda_puts_it_and_null_removes_one() {
    let m = unit("<Title>T</Title><Description>D</Description><EndDate>2020-01-01</EndDate>");
    let e = apply_patch(
        &m,
        &patch(json!({
            "Keyword": [{"KeywordType": "subject", "KeywordContent": "voirie"}],
            "DescriptionLevel": "File",
            "StartDate": "2019-01-01",
            "Description": null,
        })),
    )
    .unwrap();
    assert!(
        e.metadata.contains(
            "<Content><DescriptionLevel>File</DescriptionLevel><Title>T</Title>\
             <Keyword><KeywordContent>voirie</KeywordContent><KeywordType>subject</KeywordType></Keyword>\
             <StartDate>2019-01-01</StartDate><EndDate>2020-01-01</EndDate></Content>"
        ),
        "{}",
        e.metadata
    );
    let fields: Vec<&str> = e.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        ["DescriptionLevel", "Description", "Keyword", "StartDate"]
    );
    assert_eq!(e.changes[1].after, None);
}

#[test]
fn objects_merge_and_languages_stay_apart() {
    let m = unit(
        "<Title>Plan</Title><Title xml:lang=\"en\">Map</Title>\
         <Coverage><Spatial>Rennes</Spatial><Temporal>XXe siècle</Temporal></Coverage>",
    );
    let e = apply_patch(
        &m,
        &patch(json!({
            "Title_": {"en": null, "br": "Steuñv"},
            "Coverage": {"Spatial": ["Rennes", "Vitré"]},
        })),
    )
    .unwrap();
    assert!(e.metadata.contains(
        "<Title>Plan</Title><Title xml:lang=\"br\">Steuñv</Title><Coverage><Spatial>Rennes</Spatial>\
         <Spatial>Vitré</Spatial><Temporal>XXe siècle</Temporal></Coverage>"
    ), "{}", e.metadata);
}

#[test]
fn every_problem_is_named_and_nothing_is_applied() {
    let m =
        unit("<Title>T</Title><OriginatingAgency><Identifier>A</Identifier></OriginatingAgency>");
    let Err(EditError::Invalid(problems)) = apply_patch(
        &m,
        &patch(json!({
            "OriginatingAgency": {"Identifier": "B"},
            "Bogus": "x",
            "Title": "",
            "Keyword": [{"KeywordContent": "a", "Colour": "red"}],
            "Tag": [1],
            "DateLitteral": "vers 1900",
            "Title_": {"not a tag": "x"},
            "Description": "bell \u{7}",
        })),
    ) else {
        panic!("refused")
    };
    let all = problems.join("\n");
    for needle in [
        "OriginatingAgency cannot be corrected: it says whose records",
        "Bogus: not a field",
        "Title: empty",
        "Keyword/Colour: not a child of Keyword",
        "Tag: a string",
        "DateLitteral exists from SEDA 2.2",
        "not a language tag",
        "U+0007",
    ] {
        assert!(all.contains(needle), "{needle} in {all}");
    }
}

#[test]
fn a_field_that_would_lose_something_is_refused() {
    let m = unit(
        "<Title>T</Title><Source a=\"b\">S</Source><Coverage><Spatial>x</Spatial><Other>y</Other></Coverage>",
    );
    let Err(EditError::Invalid(p)) = apply_patch(
        &m,
        &patch(json!({"Source": "S2", "Coverage": {"Spatial": "z"}})),
    ) else {
        panic!("refused")
    };
    let all = p.join("\n");
    assert!(
        all.contains("Source cannot be corrected: Source has an attribute a"),
        "{p:?}"
    );
    assert!(
        all.contains("Coverage cannot be corrected: Coverage holds Other"),
        "{p:?}"
    );
}

#[test]
fn nothing_changes_when_the_patch_says_what_is_there() {
    let m = unit("<Title>T</Title><Tag>a</Tag>");
    let e = apply_patch(&m, &patch(json!({"Title": "T", "Tag": "a"}))).unwrap();
    assert!(e.changes.is_empty());
    assert_eq!(e.metadata, m);
}

#[test]
fn a_prefixed_content_gets_prefixed_fields() {
    let m = format!(
        "<ArchiveUnit xmlns=\"{NS}\" xmlns:s=\"{NS}\" id=\"U\"><s:Content><s:Title>T</s:Title></s:Content></ArchiveUnit>"
    );
    let e = apply_patch(&m, &patch(json!({"Tag": ["x"], "Title": "U"}))).unwrap();
    assert!(
        e.metadata
            .contains("<s:Content><s:Title>U</s:Title><s:Tag>x</s:Tag></s:Content>"),
        "{}",
        e.metadata
    );
}

#[test]
fn seda_1_units_are_refused() {
    let m =
        "<Archive xmlns=\"fr:gouv:culture:archivesdefrance:seda:v1.0\"><Name>x</Name></Archive>";
    assert_eq!(apply_patch(m, &Map::new()), Err(EditError::NotSeda2));
}

#[test]
fn the_summary_reads_what_ingest_reads() {
    let m = unit(
        "<DescriptionLevel> File </DescriptionLevel><Title xml:lang=\"fr\"> Un </Title><Title>Deux</Title>\
         <Keyword><KeywordContent>k1</KeywordContent></Keyword><Keyword><KeywordContent> k2 </KeywordContent></Keyword>\
         <StartDate>2001-01-01</StartDate>",
    );
    assert_eq!(
        unit_summary(&m).unwrap(),
        UnitSummary {
            title: "Un".into(),
            description_level: Some("File".into()),
            start_date: Some("2001-01-01".into()),
            end_date: None,
            keywords: vec!["k1".into(), "k2".into()],
        }
    );
}

#[test]
fn the_unit_checked_holds_the_fields_that_change_only() {
    let m = unit(
        "<Title>T</Title><SystemId>x</SystemId><RelatedObjectReference><References><ArchiveUnitRefId>ID2</ArchiveUnitRefId></References></RelatedObjectReference><Tag>t</Tag>",
    );
    let c = check_unit(&m).unwrap();
    assert_eq!(
        c,
        format!(
            "<ArchiveUnit xmlns=\"{NS}\"><Content><Title>T</Title><Tag>t</Tag></Content></ArchiveUnit>"
        )
    );
}

#[test]
fn the_fields_read_are_those_a_patch_writes() {
    let m = unit(
        "<Title>T</Title><Title xml:lang=\"en\">E</Title><Tag>a</Tag><Keyword><KeywordContent>k</KeywordContent></Keyword><Event><EventIdentifier>e</EventIdentifier></Event>",
    );
    let (v, fields) = descriptive_fields(&m).unwrap();
    assert_eq!(v, SedaVersion::V2_1);
    assert_eq!(
        Value::Object(fields),
        json!({"Title": "T", "Title_": {"en": "E"}, "Tag": ["a"], "Keyword": [{"KeywordContent": "k"}]})
    );
}
