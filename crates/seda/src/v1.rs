//! SEDA 1.0 transfers, and those of its predecessor SEDA 0.2, read into the same [`Manifest`]
//! as SEDA 2 so that every later check, the storage and the catalog treat them alike.
//!
//! The mapping (the SIAF's correspondence between SEDA 1.0 and 2): each `Archive` and each
//! `ArchiveObject` becomes a unit (title from `Name`, level, dates, keywords and rules from
//! `ContentDescription` and the rules), each `Document` becomes a unit of its own (level
//! `Item`, titled by its `Description` or its file name) holding one object group with one
//! binary object, the file named by `Attachment/@filename`, with `Integrity` and `Size`.
//! SEDA 1.0 has no identifiers on these elements: units are named by their position
//! (`Archive[1]/ArchiveObject[2]/Document[1]`), which is also what every error message says.
//! The metadata kept for each unit is its own element as written, without the units nested
//! in it.
//!
//! Rules: SEDA 1.0 writes durations in the transfer, not names of a referential.
//! `AppraisalRule` (`Code` conserver/detruire, `Duration`, `StartDate`) and
//! `AccessRestrictionRule` (`Code` ARxxx of the code list, `StartDate`) become rules whose
//! duration is given ([`RuleRef::given_duration`]); the access codes' legal delays come from
//! the code list embedded in the official schemas (`seda_v1-0_accessrestriction_code.xsd`).
//!
//! SEDA 0.2 has the same model under other names, which [`Dialect`] holds: the archive and
//! its objects are each a `Contains` (`Contains[1]/Contains[2]/Document[1]`), the level is a
//! child of the unit rather than of its `ContentDescription`, keywords are
//! `ContentDescriptive`, the rules `Appraisal` and `AccessRestriction` (same fields, same
//! codes), and documents carry neither digest nor size: the digests are `Integrity` elements
//! of the transfer, each naming its file (`UnitIdentifier`), given to every document that
//! attaches that file.
//!
//! Hostile XML is refused as in SEDA 2: no DOCTYPE, no entity but the predefined ones.

use crate::manifest::{
    DataObject, Manifest, ManifestError, MetadataSink, ObjectKind, RuleRef, Unit, attr, xml_err,
};
use carnac_model::referential::RuleCategory;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use std::io::BufRead;

pub const NAMESPACE: &str = "fr:gouv:culture:archivesdefrance:seda:v1.0";
pub const NAMESPACE_0_2: &str = "fr:gouv:ae:archive:draft:standard_echange_v0.2";

/// The names one version gives to the elements of the shared model.
struct Dialect {
    namespace: &'static str,
    /// The archive, child of the root.
    archive: &'static [u8],
    /// An object of an archive or of an object.
    object: &'static [u8],
    keyword: &'static [u8],
    appraisal: &'static [u8],
    access: &'static [u8],
    /// Digests at the root (`Integrity` naming its file) rather than in each Document.
    root_integrity: bool,
}

const SEDA_1_0: Dialect = Dialect {
    namespace: NAMESPACE,
    archive: b"Archive",
    object: b"ArchiveObject",
    keyword: b"Keyword",
    appraisal: b"AppraisalRule",
    access: b"AccessRestrictionRule",
    root_integrity: false,
};

const SEDA_0_2: Dialect = Dialect {
    namespace: NAMESPACE_0_2,
    archive: b"Contains",
    object: b"Contains",
    keyword: b"ContentDescriptive",
    appraisal: b"Appraisal",
    access: b"AccessRestriction",
    root_integrity: true,
};

/// A digest SEDA 0.2 gives at the root, for the file it names.
#[derive(Default)]
struct RootIntegrity {
    algorithm: String,
    value: String,
    file: String,
}

/// The legal delay of each access restriction code of SEDA 1.0 (code list
/// `seda_v1-0_accessrestriction_code.xsd`, the same codes as 0.2's; Code du patrimoine
/// L. 213-1 and 213-2), in years;
/// `None` when the end is counted from an event the transfer does not date (a death, a birth)
/// or never comes.
pub const ACCESS_RESTRICTION_CODES: &[(&str, Option<u32>)] = &[
    ("AR038", Some(0)),
    ("AR039", Some(25)),
    ("AR040", Some(25)),
    ("AR041", Some(25)),
    ("AR042", Some(25)),
    ("AR043", None),
    ("AR044", None),
    ("AR045", None),
    ("AR046", None),
    ("AR047", None),
    ("AR048", Some(50)),
    ("AR049", Some(50)),
    ("AR050", Some(50)),
    ("AR051", Some(50)),
    ("AR052", Some(75)),
    ("AR053", Some(75)),
    ("AR054", Some(75)),
    ("AR055", Some(75)),
    ("AR056", Some(75)),
    ("AR057", Some(75)),
    ("AR058", Some(100)),
    ("AR059", Some(100)),
    ("AR060", Some(100)),
    ("AR061", None),
    ("AR062", None),
];

/// The given duration of an access restriction code, as [`RuleRef::given_duration`] holds it;
/// `None` for a code outside the list (the schema refuses it).
pub fn access_restriction_duration(code: &str) -> Option<String> {
    ACCESS_RESTRICTION_CODES
        .iter()
        .find(|(c, _)| *c == code.trim())
        .map(|(_, years)| years.map(|y| format!("P{y}Y")).unwrap_or_default())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UnitKind {
    Archive,
    ArchiveObject,
    Document,
}

struct OpenUnit {
    index: usize,
    kind: UnitKind,
    /// Stack depth of the unit's start tag.
    depth: usize,
    /// Bytes of metadata the enclosing open units held when this one opened.
    held: usize,
    /// How many `ArchiveObject` and `Document` children it has opened, for their names.
    objects: usize,
    documents: usize,
    /// The document's object, while its elements are read.
    object: Option<DataObject>,
    /// `Description` of a document, its title if it has one.
    description: Option<String>,
    writer: quick_xml::Writer<Vec<u8>>,
}

/// Reads a SEDA 1.0 or 0.2 `ArchiveTransfer` (by its namespace). Problems the checks must
/// report (an attachment given inline rather than as a file, a digest for no document) are
/// returned with the manifest.
pub fn read<R: BufRead>(
    input: R,
    sink: &mut dyn MetadataSink,
) -> Result<(Manifest, Vec<String>), ManifestError> {
    read_with(input, sink, &crate::manifest::ReadLimits::default())
}

/// [`read`] within `limits`.
pub fn read_with<R: BufRead>(
    input: R,
    sink: &mut dyn MetadataSink,
    limits: &crate::manifest::ReadLimits<'_>,
) -> Result<(Manifest, Vec<String>), ManifestError> {
    let mut reader = quick_xml::NsReader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut m = Manifest::default();
    let mut problems = Vec::new();
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    let mut units: Vec<OpenUnit> = Vec::new();
    let mut archives = 0usize;
    let mut seen_root = false;
    // The agency a unit's ContentDescription names, by unit index.
    let mut first_originating: Option<String> = None;
    let mut dialect = &SEDA_1_0;
    let mut integrities: Vec<RootIntegrity> = Vec::new();
    let mut events = 0u64;

    loop {
        let event = reader.read_event_into(&mut buf).map_err(xml_err)?;
        events += 1;
        let opens = matches!(event, Event::Start(_) | Event::Empty(_));
        limits.check(&event, if opens { stack.len() + 1 } else { 0 }, events)?;
        // Each unit keeps its own element as written, nested units excepted.
        if let Some(u) = units.last_mut() {
            let depth = stack.len();
            let opens_nested = depth == u.depth + 1
                && u.kind != UnitKind::Document
                && matches!(&event, Event::Start(e) | Event::Empty(e)
                    if e.local_name().as_ref() == dialect.object
                        || e.local_name().as_ref() == b"Document");
            let closes_unit = depth == u.depth + 1 && matches!(&event, Event::End(_));
            if !opens_nested && !closes_unit && depth > u.depth {
                crate::manifest::keep_in_unit(&mut u.writer, u.held, &event)?;
            }
        }
        match event {
            Event::DocType(_) => return Err(ManifestError::Doctype),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let local = e.local_name().as_ref().to_vec();
                text.clear();
                if stack.is_empty() {
                    if seen_root {
                        return Err(ManifestError::NotXml("more than one root element".into()));
                    }
                    seen_root = true;
                    if local != b"ArchiveTransfer" {
                        return Err(ManifestError::NotArchiveTransfer(
                            String::from_utf8_lossy(&local).into_owned(),
                        ));
                    }
                    match reader.resolve_element(e.name()).0 {
                        ResolveResult::Bound(ns) if ns.as_ref() == NAMESPACE.as_bytes() => {}
                        ResolveResult::Bound(ns) if ns.as_ref() == NAMESPACE_0_2.as_bytes() => {
                            dialect = &SEDA_0_2;
                        }
                        ResolveResult::Bound(ns) => {
                            return Err(crate::VersionError::Unknown(
                                String::from_utf8_lossy(ns.as_ref()).into_owned(),
                            )
                            .into());
                        }
                        _ => return Err(crate::VersionError::NoNamespace.into()),
                    }
                }
                let depth = stack.len();
                let parent_unit = units.last().filter(|u| u.depth + 1 == depth);
                let in_unit = matches!(
                    parent_unit.map(|u| u.kind),
                    Some(UnitKind::Archive | UnitKind::ArchiveObject)
                );
                let element = || String::from_utf8_lossy(&local).into_owned();
                let opens = match local.as_slice() {
                    l if depth == 1 && l == dialect.archive => {
                        archives += 1;
                        Some((UnitKind::Archive, format!("{}[{archives}]", element())))
                    }
                    l if in_unit && l == dialect.object => {
                        let p = units.last_mut().expect("a parent unit");
                        p.objects += 1;
                        let name =
                            format!("{}/{}[{}]", m.units[p.index].xml_id, element(), p.objects);
                        Some((UnitKind::ArchiveObject, name))
                    }
                    b"Document" if in_unit => {
                        let p = units.last_mut().expect("a parent unit");
                        p.documents += 1;
                        let name = format!("{}/Document[{}]", m.units[p.index].xml_id, p.documents);
                        Some((UnitKind::Document, name))
                    }
                    _ => None,
                };
                if let Some((kind, xml_id)) = opens {
                    let index = m.units.len();
                    let parent = units.last().map(|u| u.index);
                    let mut unit = Unit {
                        xml_id: xml_id.clone(),
                        parent,
                        has_content: true,
                        ..Unit::default()
                    };
                    let object = (kind == UnitKind::Document).then(|| {
                        let group = format!("{xml_id}#group");
                        unit.group_refs.push(group.clone());
                        unit.description_level = Some("Item".into());
                        DataObject {
                            xml_id: format!("{xml_id}#object"),
                            kind: ObjectKind::Binary,
                            group_element: None,
                            group: Some(group),
                            declares_group: true,
                            version: Some("BinaryMaster_1".into()),
                            uri: None,
                            digest: None,
                            size: None,
                            format_id: None,
                            mime_type: None,
                            format_litteral: None,
                            filename: None,
                        }
                    });
                    m.units.push(unit);
                    let mut writer = quick_xml::Writer::new(Vec::with_capacity(1024));
                    let mut start = BytesStart::new(String::from_utf8_lossy(&local).into_owned());
                    start.push_attribute(("xmlns", dialect.namespace));
                    for a in e.attributes().with_checks(true) {
                        let a = a.map_err(xml_err)?;
                        if a.key.as_ref() != b"xmlns" {
                            start.push_attribute(a);
                        }
                    }
                    writer.write_event(Event::Start(start)).map_err(xml_err)?;
                    let held = units
                        .last()
                        .map_or(0, |p| p.held + p.writer.get_ref().len());
                    units.push(OpenUnit {
                        index,
                        kind,
                        depth,
                        held,
                        objects: 0,
                        documents: 0,
                        object,
                        description: None,
                        writer,
                    });
                } else if let Some(u) = units.last_mut()
                    && u.kind == UnitKind::Document
                    && depth == u.depth + 1
                {
                    let o = u.object.as_mut().expect("a document's object");
                    match local.as_slice() {
                        b"Attachment" => {
                            o.filename = attr(e, b"filename")?;
                            o.uri = o.filename.clone();
                            o.mime_type = attr(e, b"mimeCode")?;
                            o.format_litteral = attr(e, b"format")?;
                        }
                        b"Integrity" => {
                            o.digest =
                                Some((attr(e, b"algorithme")?.unwrap_or_default(), String::new()));
                        }
                        _ => {}
                    }
                } else if dialect.root_integrity && depth == 1 && local == b"Integrity" {
                    integrities.push(RootIntegrity::default());
                } else if depth == 2
                    && stack[1] == b"Integrity"
                    && local == b"Contains"
                    && let Some(i) = integrities.last_mut()
                {
                    i.algorithm = attr(e, b"algorithme")?.unwrap_or_default();
                }
                stack.push(local);
                if is_empty {
                    close(
                        &mut stack,
                        &mut text,
                        &mut m,
                        &mut units,
                        &mut first_originating,
                        &mut problems,
                        sink,
                        dialect,
                        &mut integrities,
                    )?;
                }
            }
            Event::Text(ref t) => {
                text.push_str(&t.xml10_content().map_err(xml_err)?);
            }
            Event::CData(ref t) => text.push_str(&String::from_utf8_lossy(t.as_ref())),
            Event::GeneralRef(ref r) => crate::manifest::push_reference(&mut text, r)?,
            Event::End(_) => close(
                &mut stack,
                &mut text,
                &mut m,
                &mut units,
                &mut first_originating,
                &mut problems,
                sink,
                dialect,
                &mut integrities,
            )?,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    crate::manifest::check_ended(seen_root, stack.is_empty())?;
    give_integrities(&mut m, integrities, &mut problems);
    // SEDA 1.0 names the originating agency in the description, where it is optional; the
    // transferring agency is then the producer, as as@lae reads it.
    m.header.originating_agency =
        first_originating.or_else(|| m.header.transferring_agency.clone());
    for u in &mut m.units {
        if u.originating_agency.is_none() {
            u.originating_agency = m.header.originating_agency.clone();
        }
    }
    Ok((m, problems))
}

/// SEDA 0.2's digests, given to the documents attaching the file each names; a digest for no
/// document, or two different ones for one file, is a problem to report.
fn give_integrities(m: &mut Manifest, integrities: Vec<RootIntegrity>, problems: &mut Vec<String>) {
    if integrities.is_empty() {
        return;
    }
    // `./a.pdf` and `a.pdf` name one file, as the attachments' names are matched.
    let key = |f: &str| -> String {
        let f = f.trim();
        f.strip_prefix("./").unwrap_or(f).to_owned()
    };
    let mut by_file: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (k, o) in m.objects.iter().enumerate() {
        if let Some(f) = &o.filename {
            by_file.entry(key(f)).or_default().push(k);
        }
    }
    for (n, i) in integrities.into_iter().enumerate() {
        let file = key(&i.file);
        let file = file.as_str();
        let attaching = by_file.get(file).map(Vec::as_slice).unwrap_or_default();
        let found = !attaching.is_empty();
        for &k in attaching {
            let o = &mut m.objects[k];
            match &o.digest {
                Some((a, v)) if *a != i.algorithm || *v != i.value => problems.push(format!(
                    "Integrity[{}] gives the file {file:?} a digest other than an earlier Integrity does",
                    n + 1
                )),
                _ => o.digest = Some((i.algorithm.clone(), i.value.clone())),
            }
        }
        if !found {
            problems.push(format!(
                "Integrity[{}] gives a digest for the file {file:?}, which no Document attaches",
                n + 1
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn close(
    stack: &mut Vec<Vec<u8>>,
    text: &mut String,
    m: &mut Manifest,
    units: &mut Vec<OpenUnit>,
    first_originating: &mut Option<String>,
    problems: &mut Vec<String>,
    sink: &mut dyn MetadataSink,
    dialect: &Dialect,
    integrities: &mut [RootIntegrity],
) -> Result<(), ManifestError> {
    let Some(local) = stack.pop() else {
        return Ok(());
    };
    let value = std::mem::take(text).trim().to_owned();
    let depth = stack.len();
    // The unit's own end.
    if units.last().is_some_and(|u| u.depth == depth) {
        let mut u = units.pop().expect("checked");
        u.writer
            .write_event(Event::End(quick_xml::events::BytesEnd::new(
                String::from_utf8_lossy(&local).into_owned(),
            )))
            .map_err(xml_err)?;
        let unit = &mut m.units[u.index];
        if let Some(o) = u.object.take() {
            if unit.titles.is_empty() {
                unit.titles.push(
                    u.description
                        .take()
                        .or_else(|| o.filename.clone())
                        .unwrap_or_default(),
                );
            }
            m.objects.push(o);
        }
        sink.put(u.index, &u.writer.into_inner())
            .map_err(ManifestError::Sink)?;
        return Ok(());
    }
    // Header elements, children of the root.
    if depth == 1 {
        match local.as_slice() {
            b"Comment" => m.header.comments.push(value),
            b"Date" => m.header.date = value,
            b"TransferIdentifier" => m.header.message_identifier = value,
            _ => {}
        }
        return Ok(());
    }
    if depth == 2 && stack[1] == b"Integrity" {
        if let Some(i) = integrities.last_mut() {
            match local.as_slice() {
                b"Contains" => i.value = value,
                b"UnitIdentifier" => i.file = value,
                _ => {}
            }
        }
        return Ok(());
    }
    if depth == 2 && local == b"Identification" {
        match stack[1].as_slice() {
            b"ArchivalAgency" => m.header.archival_agency = Some(value),
            b"TransferringAgency" => m.header.transferring_agency = Some(value),
            _ => {}
        }
        return Ok(());
    }
    let Some(u) = units.last_mut() else {
        return Ok(());
    };
    // The path inside the innermost unit: [child, grandchild, …].
    let path: Vec<&[u8]> = stack[u.depth + 1..]
        .iter()
        .map(Vec::as_slice)
        .chain(std::iter::once(local.as_slice()))
        .collect();
    let index = u.index;
    let is_archive = u.kind == UnitKind::Archive;
    match (u.kind, path.as_slice()) {
        (UnitKind::Document, [b"Description"]) => u.description = Some(value),
        (UnitKind::Document, [b"Attachment"]) if !value.is_empty() => {
            problems.push(format!(
                "{}: the attachment is given inline (base64 in the bordereau); send it as a file named by Attachment/@filename",
                m.units[index].xml_id
            ));
        }
        (UnitKind::Document, [b"Integrity"]) => {
            if let Some(o) = u.object.as_mut()
                && let Some(d) = o.digest.as_mut()
            {
                d.1 = value;
            }
        }
        (UnitKind::Document, [b"Size"]) => {
            if let Some(o) = u.object.as_mut() {
                o.size = Some(value);
            }
        }
        (UnitKind::Document, [b"Creation"]) => {
            let unit = &mut m.units[index];
            let day: String = value.chars().take(10).collect();
            unit.start_date = Some(day.clone());
            unit.end_date = Some(day);
        }
        (_, [b"Name"]) => m.units[index].titles.push(value),
        (_, [b"ArchivalAgreement"]) if is_archive => {
            if m.header.archival_agreement.is_none() {
                m.header.archival_agreement = Some(value);
            } else if m.header.archival_agreement.as_deref() != Some(value.as_str()) {
                problems.push(format!(
                    "{}: ArchivalAgreement {value:?} differs from the first Archive's",
                    m.units[index].xml_id
                ));
            }
        }
        (_, [b"ArchivalProfile"]) if is_archive => {
            if m.header.archival_profile.is_none() {
                m.header.archival_profile = Some(value);
            } else if m.header.archival_profile.as_deref() != Some(value.as_str()) {
                problems.push(format!(
                    "{}: ArchivalProfile {value:?} differs from the first Archive's",
                    m.units[index].xml_id
                ));
            }
        }
        (_, [b"ContentDescription", b"DescriptionLevel"] | [b"DescriptionLevel"]) => {
            m.units[index].description_level = Some(level(&value).to_owned())
        }
        (_, [b"ContentDescription", b"OldestDate"]) => m.units[index].start_date = Some(value),
        (_, [b"ContentDescription", b"LatestDate"]) => m.units[index].end_date = Some(value),
        (_, [b"ContentDescription", keyword, b"KeywordContent"])
            if *keyword == dialect.keyword && !value.is_empty() =>
        {
            m.units[index].keywords.push(value)
        }
        (
            _,
            [
                b"ContentDescription",
                b"OriginatingAgency",
                b"Identification",
            ],
        ) if !value.is_empty() => {
            if first_originating.is_none() {
                *first_originating = Some(value.clone());
            }
            m.units[index].originating_agency = Some(value);
        }
        (_, [rule, field]) | (_, [b"ContentDescription", rule, field])
            if *rule == dialect.access || (*rule == dialect.appraisal && path.len() == 2) =>
        {
            let appraisal = *rule == dialect.appraisal;
            let category = if appraisal {
                RuleCategory::AppraisalRule
            } else {
                RuleCategory::AccessRule
            };
            let rules = &mut m.units[index].rules;
            // The rule's fields come in order: Code first opens it.
            let current = match rules.last_mut() {
                Some(r) if r.category == category && *field != b"Code" => r,
                _ => {
                    rules.push(RuleRef {
                        category,
                        rule: String::new(),
                        start_date: None,
                        given_duration: Some(String::new()),
                        hold: Default::default(),
                    });
                    rules.last_mut().expect("pushed")
                }
            };
            match *field {
                b"Code" => {
                    if !appraisal {
                        current.given_duration = access_restriction_duration(&value);
                    } else if let Some(action) = appraisal_final_action(&value) {
                        // SEDA 1.0's appraisal code is what SEDA 2 calls the FinalAction.
                        m.units[index]
                            .final_actions
                            .push((category, action.to_owned()));
                    }
                    let rules = &mut m.units[index].rules;
                    let current = rules.last_mut().expect("pushed");
                    current.rule = value;
                }
                b"Duration" => current.given_duration = Some(value),
                b"StartDate" => current.start_date = Some(value),
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// SEDA 1.0's appraisal codes (`seda_v1-0_appraisal_code.xsd`): `conserver`, `detruire`.
fn appraisal_final_action(code: &str) -> Option<&'static str> {
    match code.trim() {
        "conserver" => Some("Keep"),
        "detruire" => Some("Destroy"),
        _ => None,
    }
}

/// SEDA 1.0 levels (ISAD(G) words in lower case) as SEDA 2 writes them.
fn level(v: &str) -> &str {
    match v {
        "fonds" => "Fonds",
        "subfonds" => "Subfonds",
        "class" => "Class",
        "collection" => "Collection",
        "series" => "Series",
        "subseries" => "Subseries",
        "recordgrp" => "RecordGrp",
        "subgrp" => "SubGrp",
        "file" => "File",
        "item" => "Item",
        other => other,
    }
}

#[cfg(test)]
mod tests;
