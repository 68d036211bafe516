//! An archive unit's metadata as the JSON document Vitam validates against an archive unit
//! profile (its `ControlSchema`, a JSON Schema), so that the profiles written for Vitam judge
//! a unit here as they do there.
//!
//! Vitam reads the unit into its Java model (`ArchiveUnitMapper`, `DescriptiveMetadataMapper`,
//! `RuleMapper`), serialises it, then keeps every field whose name does not start with `_`
//! and renames `_mgt` to `#management` (`UnitValidator`). What that gives, and what this
//! module writes:
//!
//! - `ArchiveUnitProfile`: the identifier, a string.
//! - The fields of `Content`, at the top: a leaf is a string; an element with children an
//!   object of its children; a field SEDA repeats (and Vitam's model holds as a list) is an
//!   array even with one value: `OriginatingSystemId`, `Tag`, `Keyword`, `Writer`,
//!   `Addressee`, an agent's `Identifier`… ([`is_list`]). Attributes are dropped (Vitam's
//!   `TextType` serialiser writes the value alone), except `xml:lang` on `Title` and
//!   `Description`: the first without a language is `Title`, the others `Title_` (language →
//!   text).
//! - Elements of `Content` that are not SEDA's fields (extensions) as Vitam's `ElementMapper`
//!   maps them: every value a list, text or an object of the children's lists.
//! - Dates as written, but an offset date (`2016-06-03+02:00`) becomes an offset date-time
//!   (`2016-06-03T00:00:00+02:00`), as `LocalDateUtil` does for the dates it maps.
//! - `Event`s with Vitam's field names (`evId`, `evTypeProc`, `evType`, `evDateTime`,
//!   `evTypeDetail`, `outcome`, `outDetail`, `outMessg`, `evDetData`, `linkingAgentIdentifier`).
//! - `#management`, always (an empty object when the unit has no `Management`): per rule
//!   category `{"Rules": [{"Rule", "StartDate", HoldRule's fields}], "FinalAction",
//!   "Inheritance": {"PreventInheritance", "PreventRulesId"}, ClassificationRule's fields}`,
//!   and `NeedAuthorization`; booleans as booleans. No `EndDate`: Vitam computes it after this
//!   check (`UNITS_RULES_COMPUTE` follows `CHECK_ARCHIVE_UNIT_PROFILE`).
//!
//! The input is the unit's own metadata as the manifest readers hand it to their sink (nested
//! units excluded): bytes in, a value out.

use quick_xml::events::Event;
use serde_json::{Map, Value};

/// A unit's metadata that is not the XML the readers write.
#[derive(Debug, thiserror::Error)]
#[error("the unit's metadata cannot be read: {0}")]
pub struct UnitJsonError(String);

#[derive(Debug, Default)]
struct Node {
    name: String,
    lang: Option<String>,
    text: String,
    children: Vec<Node>,
}

fn parse(xml: &[u8]) -> Result<Node, UnitJsonError> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut buf = Vec::new();
    let err = |e: &dyn std::fmt::Display| UnitJsonError(e.to_string());
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| err(&e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let mut node = Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                };
                for a in e.attributes().with_checks(false).flatten() {
                    if a.key.as_ref() == b"xml:lang" {
                        node.lang = Some(a.unescape_value().map_err(|e| err(&e))?.into_owned());
                    }
                }
                if matches!(event, Event::Empty(_)) {
                    stack.last_mut().expect("root").children.push(node);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                if stack.len() < 2 {
                    return Err(UnitJsonError("unbalanced end tag".into()));
                }
                let node = stack.pop().expect("two nodes");
                stack.last_mut().expect("one node").children.push(node);
            }
            Event::Text(ref t) => {
                let s = t.xml10_content().map_err(|e| err(&e))?;
                stack.last_mut().expect("root").text.push_str(&s);
            }
            Event::CData(ref t) => {
                stack
                    .last_mut()
                    .expect("root")
                    .text
                    .push_str(&String::from_utf8_lossy(t.as_ref()));
            }
            Event::GeneralRef(ref r) => {
                let mut s = String::new();
                crate::manifest::push_reference(&mut s, r).map_err(|e| err(&e))?;
                stack.last_mut().expect("root").text.push_str(&s);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let mut document = stack.pop().expect("root");
    if !stack.is_empty() || document.children.len() != 1 {
        return Err(UnitJsonError("expected one ArchiveUnit element".into()));
    }
    Ok(document.children.remove(0))
}

/// Whether `child` is a list in Vitam's model of `parent` (the element names of SEDA).
fn is_list(parent: &str, child: &str) -> bool {
    const AGENTS: [&str; 11] = [
        "AuthorizedAgent",
        "Agent",
        "Writer",
        "Addressee",
        "Recipient",
        "Transmitter",
        "Sender",
        "Signer",
        "Validator",
        "Masterdata",
        "Signatory",
    ];
    match (parent, child) {
        // DescriptiveMetadataModel.
        (
            "Content",
            "FilePlanPosition"
            | "SystemId"
            | "OriginatingSystemId"
            | "ArchivalAgencyArchiveUnitIdentifier"
            | "OriginatingAgencyArchiveUnitIdentifier"
            | "TransferringAgencyArchiveUnitIdentifier"
            | "Language"
            | "Tag"
            | "Keyword"
            | "AuthorizedAgent"
            | "Agent"
            | "Writer"
            | "Addressee"
            | "Recipient"
            | "Transmitter"
            | "Sender"
            | "Event"
            | "Signature"
            | "TextContent"
            | "PersistentIdentifier",
        ) => true,
        // PersonOrEntityAndBusinessType (every agent).
        (
            p,
            "Nationality" | "Identifier" | "Function" | "Activity" | "Position" | "Role"
            | "Mandate",
        ) if AGENTS.contains(&p) => true,
        ("CustodialHistory", "CustodialHistoryItem") => true,
        ("Coverage", "Spatial" | "Temporal" | "Juridictional") => true,
        (
            "RelatedObjectReference",
            "IsVersionOf" | "Replaces" | "Requires" | "IsPartOf" | "References",
        ) => true,
        ("Event", "LinkingAgentIdentifier") => true,
        ("Signature", "Signer") => true,
        _ => false,
    }
}

/// The fields of `Content` that Vitam's model names (`DescriptiveMetadataModel`); any other
/// element there is an extension, mapped as [`extension`] says. `History` goes to the unit's
/// history, not to its fields.
const CONTENT_FIELDS: [&str; 46] = [
    "DescriptionLevel",
    "Title",
    "FilePlanPosition",
    "SystemId",
    "OriginatingSystemId",
    "ArchivalAgencyArchiveUnitIdentifier",
    "OriginatingAgencyArchiveUnitIdentifier",
    "TransferringAgencyArchiveUnitIdentifier",
    "Description",
    "CustodialHistory",
    "Type",
    "DocumentType",
    "Language",
    "DescriptionLanguage",
    "Status",
    "Version",
    "Tag",
    "Keyword",
    "Coverage",
    "OriginatingAgency",
    "SubmissionAgency",
    "AuthorizedAgent",
    "Agent",
    "Writer",
    "Addressee",
    "Recipient",
    "Transmitter",
    "Sender",
    "Source",
    "RelatedObjectReference",
    "CreatedDate",
    "TransactedDate",
    "AcquiredDate",
    "SentDate",
    "ReceivedDate",
    "RegisteredDate",
    "StartDate",
    "EndDate",
    "Event",
    "Signature",
    "SigningInformation",
    "Gps",
    "TextContent",
    "OriginatingSystemIdReplyTo",
    "DateLitteral",
    "PersistentIdentifier",
];

/// An element Vitam's model does not name (an extension of `Content`, the content of
/// `OrganizationDescriptiveMetadata`), as `ElementMapper` maps it: its values, always a list:
/// its text if it has any, else one object of its children's values by name, each a list
/// too; nothing for an empty element.
fn extension(node: &Node) -> Vec<Value> {
    let text = node.text.trim();
    if !text.is_empty() {
        return vec![Value::String(text.to_owned())];
    }
    if node.children.is_empty() {
        return Vec::new();
    }
    vec![Value::Object(extensions(&node.children))]
}

/// Elements by name, each name's values gathered in one list.
fn extensions(nodes: &[Node]) -> Map<String, Value> {
    let mut out = Map::new();
    for n in nodes {
        let values = extension(n);
        match out
            .entry(n.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(a) => a.extend(values),
            _ => unreachable!("only arrays are inserted"),
        }
    }
    out
}

/// Vitam's names for the fields of an `Event` (`EventTypeModel`).
fn event_field(name: &str) -> &str {
    match name {
        "EventIdentifier" => "evId",
        "EventTypeCode" => "evTypeProc",
        "EventType" => "evType",
        "EventDateTime" => "evDateTime",
        "EventDetail" => "evTypeDetail",
        "Outcome" => "outcome",
        "OutcomeDetail" => "outDetail",
        "OutcomeDetailMessage" => "outMessg",
        "EventDetailData" => "evDetData",
        "LinkingAgentIdentifier" => "linkingAgentIdentifier",
        other => other,
    }
}

/// The dates `DescriptiveMetadataMapper` passes through `transformIsoOffsetDateToIsoOffsetDateTime`.
const MAPPED_DATES: [&str; 7] = [
    "AcquiredDate",
    "CreatedDate",
    "RegisteredDate",
    "ReceivedDate",
    "SentDate",
    "StartDate",
    "TransactedDate",
];

/// `2016-06-03+02:00` → `2016-06-03T00:00:00+02:00`; anything else unchanged.
fn offset_date_time(value: &str) -> String {
    let b = value.as_bytes();
    let date_like = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !date_like {
        return value.to_owned();
    }
    let offset = &value[10..];
    let is_offset = offset == "Z"
        || (offset.len() == 6
            && matches!(offset.as_bytes()[0], b'+' | b'-')
            && offset.as_bytes()[3] == b':'
            && offset
                .bytes()
                .enumerate()
                .all(|(i, c)| i == 0 || i == 3 || c.is_ascii_digit()));
    if is_offset {
        format!("{}T00:00:00{offset}", &value[..10])
    } else {
        value.to_owned()
    }
}

fn leaf_or_object(node: &Node, rename: fn(&str) -> &str) -> Value {
    if node.children.is_empty() {
        return Value::String(node.text.trim().to_owned());
    }
    let mut out = Map::new();
    let parent = node.name.as_str();
    for child in &node.children {
        let key = rename(&child.name).to_owned();
        if child.name == "OrganizationDescriptiveMetadata" {
            out.insert(key, Value::Object(extensions(&child.children)));
            continue;
        }
        let value = if parent == "Event" {
            leaf_or_object(child, |n| n)
        } else if child.name == "Event" {
            leaf_or_object(child, event_field)
        } else {
            leaf_or_object(child, |n| n)
        };
        push(&mut out, key, value, is_list(parent, &child.name));
    }
    Value::Object(out)
}

/// Adds a field: into an array if the model holds a list (or the name repeats, which the
/// schema allows only for lists and extensions), else as it is.
fn push(out: &mut Map<String, Value>, key: String, value: Value, list: bool) {
    match out.get_mut(&key) {
        Some(Value::Array(a)) if list => a.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = match first {
                Value::Array(mut a) => {
                    a.push(value);
                    Value::Array(a)
                }
                other => Value::Array(vec![other, value]),
            };
        }
        None if list => {
            out.insert(key, Value::Array(vec![value]));
        }
        None => {
            out.insert(key, value);
        }
    }
}

fn content(node: &Node, out: &mut Map<String, Value>) {
    let mut by_lang: [(&str, Map<String, Value>); 2] =
        [("Title", Map::new()), ("Description", Map::new())];
    for child in &node.children {
        let name = child.name.as_str();
        match name {
            "Title" | "Description" => {
                let text = Value::String(child.text.trim().to_owned());
                match &child.lang {
                    None => {
                        out.entry(name.to_owned()).or_insert(text);
                    }
                    Some(lang) => {
                        let slot = by_lang.iter_mut().find(|(n, _)| *n == name).expect("two");
                        slot.1.entry(lang.clone()).or_insert(text);
                    }
                }
            }
            "Event" => push(
                out,
                "Event".into(),
                leaf_or_object(child, event_field),
                true,
            ),
            "History" => {}
            other if !CONTENT_FIELDS.contains(&other) => {
                let values = extension(child);
                match out
                    .entry(other.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(a) => a.extend(values),
                    _ => unreachable!("an extension's name is not a field's"),
                }
            }
            d if MAPPED_DATES.contains(&d) && child.children.is_empty() => push(
                out,
                d.to_owned(),
                Value::String(offset_date_time(child.text.trim())),
                false,
            ),
            _ => push(
                out,
                name.to_owned(),
                leaf_or_object(child, |n| n),
                is_list("Content", name),
            ),
        }
    }
    for (name, langs) in by_lang {
        if !langs.is_empty() {
            out.insert(format!("{name}_"), Value::Object(langs));
        }
    }
}

fn boolean(text: &str) -> Value {
    match text.trim() {
        "true" | "1" => Value::Bool(true),
        "false" | "0" => Value::Bool(false),
        other => Value::String(other.to_owned()),
    }
}

fn management(node: &Node) -> Value {
    let mut out = Map::new();
    for child in &node.children {
        match child.name.as_str() {
            category @ ("AppraisalRule" | "AccessRule" | "StorageRule" | "DisseminationRule"
            | "ReuseRule" | "ClassificationRule" | "HoldRule") => {
                out.insert(category.to_owned(), rule_category(child));
            }
            "NeedAuthorization" => {
                out.insert("NeedAuthorization".into(), boolean(&child.text));
            }
            "UpdateOperation" => {
                out.insert("UpdateOperation".into(), leaf_or_object(child, |n| n));
            }
            // The LogBook goes to the unit's lifecycle in Vitam, not to `_mgt`.
            _ => {}
        }
    }
    Value::Object(out)
}

fn rule_category(node: &Node) -> Value {
    let mut rules: Vec<Map<String, Value>> = Vec::new();
    let mut out = Map::new();
    let mut prevent: Option<Value> = None;
    let mut prevented: Vec<Value> = Vec::new();
    for child in &node.children {
        let text = child.text.trim();
        match child.name.as_str() {
            "Rule" => {
                let mut r = Map::new();
                r.insert("Rule".into(), Value::String(text.to_owned()));
                rules.push(r);
            }
            field @ ("StartDate"
            | "HoldEndDate"
            | "HoldOwner"
            | "HoldReason"
            | "HoldReassessingDate") => {
                if let Some(r) = rules.last_mut() {
                    r.insert(field.to_owned(), Value::String(text.to_owned()));
                }
            }
            "PreventRearrangement" => {
                if let Some(r) = rules.last_mut() {
                    r.insert("PreventRearrangement".into(), boolean(text));
                }
            }
            "PreventInheritance" => prevent = Some(boolean(text)),
            "RefNonRuleId" => prevented.push(Value::String(text.to_owned())),
            "NeedReassessingAuthorization" => {
                out.insert(child.name.clone(), boolean(text));
            }
            other => {
                out.insert(other.to_owned(), Value::String(text.to_owned()));
            }
        }
    }
    if !rules.is_empty() {
        out.insert(
            "Rules".into(),
            Value::Array(rules.into_iter().map(Value::Object).collect()),
        );
    }
    if prevent.is_some() || !prevented.is_empty() {
        let mut inheritance = Map::new();
        if let Some(p) = prevent {
            inheritance.insert("PreventInheritance".into(), p);
        }
        if !prevented.is_empty() {
            inheritance.insert("PreventRulesId".into(), Value::Array(prevented));
        }
        out.insert("Inheritance".into(), Value::Object(inheritance));
    }
    Value::Object(out)
}

/// The unit's metadata (an `ArchiveUnit` element as the readers write it) as Vitam's JSON.
pub fn unit_to_json(xml: &[u8]) -> Result<Value, UnitJsonError> {
    let unit = parse(xml)?;
    let mut out = Map::new();
    let mut mgt = Value::Object(Map::new());
    for child in &unit.children {
        match child.name.as_str() {
            "ArchiveUnitProfile" => {
                out.insert(
                    "ArchiveUnitProfile".into(),
                    Value::String(child.text.trim().to_owned()),
                );
            }
            "Management" => mgt = management(child),
            "Content" => content(child, &mut out),
            _ => {}
        }
    }
    out.insert("#management".into(), mgt);
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unit(inner: &str) -> Value {
        let xml = format!(
            r#"<ArchiveUnit xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2" id="U1">{inner}</ArchiveUnit>"#
        );
        unit_to_json(xml.as_bytes()).unwrap()
    }

    #[test]
    fn content_fields_take_vitams_shape() {
        let v = unit(
            r#"<ArchiveUnitProfile>AUP_IDENTIFIER_2.2</ArchiveUnitProfile>
            <Content>
              <DescriptionLevel>Item</DescriptionLevel>
              <Title>Courriel</Title><Title xml:lang="en">Mail</Title>
              <Description xml:lang="fr">Texte</Description>
              <OriginatingSystemId>msg-1</OriginatingSystemId>
              <Tag>a</Tag>
              <Keyword><KeywordContent>Dupont</KeywordContent><KeywordType listVersionID="edition 2009">persname</KeywordType></Keyword>
              <OriginatingAgency><Identifier>FRAN_NP_009913</Identifier></OriginatingAgency>
              <Writer><FirstName>Jean</FirstName><BirthName>Dupont</BirthName><Identifier>J1</Identifier></Writer>
              <Addressee><FirstName>Anne</FirstName><BirthName>Martin</BirthName><Identifier>A1</Identifier><Identifier>A2</Identifier></Addressee>
              <CustodialHistory><CustodialHistoryItem>versé</CustodialHistoryItem></CustodialHistory>
              <SentDate>2016-06-03+02:00</SentDate>
              <ReceivedDate>2016-06-04T10:00:00</ReceivedDate>
              <EndDate>2016-06-05+02:00</EndDate>
              <Event><EventIdentifier>e1</EventIdentifier><EventDateTime>2016-06-03T10:00:00</EventDateTime><EventDetail>envoi</EventDetail></Event>
            </Content>"#,
        );
        assert_eq!(
            v,
            json!({
                "ArchiveUnitProfile": "AUP_IDENTIFIER_2.2",
                "#management": {},
                "DescriptionLevel": "Item",
                "Title": "Courriel",
                "Title_": {"en": "Mail"},
                "Description_": {"fr": "Texte"},
                "OriginatingSystemId": ["msg-1"],
                "Tag": ["a"],
                "Keyword": [{"KeywordContent": "Dupont", "KeywordType": "persname"}],
                "OriginatingAgency": {"Identifier": "FRAN_NP_009913"},
                "Writer": [{"FirstName": "Jean", "BirthName": "Dupont", "Identifier": ["J1"]}],
                "Addressee": [{"FirstName": "Anne", "BirthName": "Martin", "Identifier": ["A1", "A2"]}],
                "CustodialHistory": {"CustodialHistoryItem": ["versé"]},
                "SentDate": "2016-06-03T00:00:00+02:00",
                "ReceivedDate": "2016-06-04T10:00:00",
                "EndDate": "2016-06-05+02:00",
                "Event": [{"evId": "e1", "evDateTime": "2016-06-03T10:00:00", "evTypeDetail": "envoi"}],
            })
        );
    }

    #[test]
    fn extensions_are_lists_as_vitam_maps_them() {
        let v = unit(
            r#"<Content><Title>t</Title>
              <OriginatingAgency><Identifier>A</Identifier><OrganizationDescriptiveMetadata><Name>Mairie</Name><Name>Ville</Name></OrganizationDescriptiveMetadata></OriginatingAgency>
              <Dossier xmlns="urn:x"><Numero>12</Numero><Pieces><Piece>a</Piece><Piece>b</Piece></Pieces><Vide/></Dossier>
              <Commune xmlns="urn:x">Rennes</Commune><Commune xmlns="urn:x">Brest</Commune>
              <Nothing xmlns="urn:x"/>
            </Content>"#,
        );
        assert_eq!(
            v,
            json!({
                "#management": {},
                "Title": "t",
                "OriginatingAgency": {"Identifier": "A", "OrganizationDescriptiveMetadata": {"Name": ["Mairie", "Ville"]}},
                "Dossier": [{"Numero": ["12"], "Pieces": [{"Piece": ["a", "b"]}], "Vide": []}],
                "Commune": ["Rennes", "Brest"],
                "Nothing": [],
            })
        );
    }

    #[test]
    fn management_takes_vitams_shape() {
        let v = unit(
            r#"<Management>
              <AppraisalRule><Rule>APP-00001</Rule><StartDate>2016-01-01</StartDate><FinalAction>Keep</FinalAction></AppraisalRule>
              <AccessRule><Rule>ACC-00001</Rule><Rule>ACC-00002</Rule><StartDate>2016-01-01</StartDate><RefNonRuleId>ACC-00003</RefNonRuleId></AccessRule>
              <StorageRule><PreventInheritance>true</PreventInheritance><FinalAction>Copy</FinalAction></StorageRule>
              <ClassificationRule><ClassificationLevel>Secret Défense</ClassificationLevel><ClassificationOwner>o</ClassificationOwner><NeedReassessingAuthorization>false</NeedReassessingAuthorization></ClassificationRule>
              <HoldRule><Rule>HOL-00002</Rule><HoldEndDate>2030-01-01</HoldEndDate><PreventRearrangement>true</PreventRearrangement></HoldRule>
              <NeedAuthorization>true</NeedAuthorization>
              <LogBook><Event><EventIdentifier>x</EventIdentifier></Event></LogBook>
            </Management>
            <Content><Title>t</Title></Content>"#,
        );
        assert_eq!(
            v["#management"],
            json!({
                "AppraisalRule": {"Rules": [{"Rule": "APP-00001", "StartDate": "2016-01-01"}], "FinalAction": "Keep"},
                "AccessRule": {"Rules": [{"Rule": "ACC-00001"}, {"Rule": "ACC-00002", "StartDate": "2016-01-01"}], "Inheritance": {"PreventRulesId": ["ACC-00003"]}},
                "StorageRule": {"FinalAction": "Copy", "Inheritance": {"PreventInheritance": true}},
                "ClassificationRule": {"ClassificationLevel": "Secret Défense", "ClassificationOwner": "o", "NeedReassessingAuthorization": false},
                "HoldRule": {"Rules": [{"Rule": "HOL-00002", "HoldEndDate": "2030-01-01", "PreventRearrangement": true}]},
                "NeedAuthorization": true,
            })
        );
        assert_eq!(v["Title"], "t");
    }

    #[test]
    fn what_is_not_one_unit_is_an_error_not_a_panic() {
        for xml in ["", "<a/><b/>", "<a></a></b>", "<a>", "text"] {
            assert!(unit_to_json(xml.as_bytes()).is_err(), "{xml}");
        }
    }

    #[test]
    fn offset_dates_become_date_times_and_nothing_else_changes() {
        assert_eq!(offset_date_time("2016-06-03Z"), "2016-06-03T00:00:00Z");
        assert_eq!(
            offset_date_time("2016-06-03-05:00"),
            "2016-06-03T00:00:00-05:00"
        );
        for same in [
            "2016-06-03",
            "2016-06-03T10:00:00+02:00",
            "2016",
            "",
            "03/06/2016+02:00",
            "éééééé",
        ] {
            assert_eq!(offset_date_time(same), same);
        }
    }
}
