//! Streaming reader of SEDA 2.x `ArchiveTransfer` manifests.
//!
//! One pass over the bytes with a pull parser. What the checks need (identifiers, references,
//! digests, titles, dates, rules) is kept in small structs; each unit's own descriptive and
//! management metadata is serialised and handed to a [`MetadataSink`] as soon as the unit is
//! read, so that a manifest of any size is read in bounded memory.
//!
//! Hostile XML is refused here, not expanded: any DOCTYPE (hence any entity declaration, XXE
//! or "billion laughs") is an error, and so is any reference to an entity other than the five
//! predefined ones.
//!
//! This file is about 1,000 lines because the pull parser's state machine (one `match` over
//! the element path) is one piece: split, each part would need the whole state.

mod limits;

pub use limits::*;

use crate::SedaVersion;
use carnac_model::referential::RuleCategory;
use carnac_model::rules::Hold;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use std::io::BufRead;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub message_identifier: String,
    pub date: String,
    pub comments: Vec<String>,
    pub archival_agreement: Option<String>,
    pub archival_agency: Option<String>,
    pub transferring_agency: Option<String>,
    pub archival_profile: Option<String>,
    pub originating_agency: Option<String>,
    pub submission_agency: Option<String>,
    /// Rules declared for the whole package in `ManagementMetadata`.
    pub rules: Vec<RuleRef>,
    /// `RefNonRuleId`s of `ManagementMetadata`, with the rule element they sit in.
    pub ref_non_rules: Vec<(RuleCategory, String)>,
    /// `ClassificationRule/ClassificationLevel` of `ManagementMetadata`.
    pub classification_level: Option<String>,
    /// `FinalAction`s of `ManagementMetadata`, as written, with their rule element.
    pub final_actions: Vec<(RuleCategory, String)>,
    /// `PreventInheritance`s of `ManagementMetadata`, as written, with their rule element.
    pub prevent_inheritance: Vec<(RuleCategory, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub category: RuleCategory,
    pub rule: String,
    pub start_date: Option<String>,
    /// SEDA 1.0 gives a rule's duration in the transfer itself (`AppraisalRule/Duration`, or
    /// the access restriction code's legal delay) instead of naming a rule of the tenant's
    /// referential: the ISO 8601 duration as written, or empty when the end cannot be
    /// computed from the transfer (counted from a death, or unlimited). `None` in SEDA 2.
    pub given_duration: Option<String>,
    /// What a `HoldRule` says of this rule besides it (SEDA 2.2+), dates as written.
    pub hold: Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Binary,
    Physical,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObject {
    pub xml_id: String,
    pub kind: ObjectKind,
    /// The enclosing `DataObjectGroup` element (SEDA 2.2 style), if any.
    pub group_element: Option<String>,
    /// The group named by the object itself: `DataObjectGroupId` (which declares it) or
    /// `DataObjectGroupReferenceId` (which refers to it), SEDA 2.1 style.
    pub group: Option<String>,
    /// Whether `group` comes from `DataObjectGroupId`.
    pub declares_group: bool,
    pub version: Option<String>,
    pub uri: Option<String>,
    /// Algorithm as written, and value.
    pub digest: Option<(String, String)>,
    pub size: Option<String>,
    pub format_id: Option<String>,
    pub mime_type: Option<String>,
    pub format_litteral: Option<String>,
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unit {
    pub xml_id: String,
    /// Index of the enclosing unit in [`Manifest::units`].
    pub parent: Option<usize>,
    /// `ArchiveUnitRefId`: this element only points at another unit, the real child.
    pub ref_target: Option<String>,
    pub titles: Vec<String>,
    pub description_level: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub group_refs: Vec<String>,
    pub object_refs: Vec<String>,
    pub rules: Vec<RuleRef>,
    pub keywords: Vec<String>,
    pub originating_agency: Option<String>,
    pub has_content: bool,
    /// `ArchiveUnitProfile`: the archive unit profile its metadata must conform to.
    pub profile: Option<String>,
    /// `RefNonRuleId`s, with the rule element they sit in.
    pub ref_non_rules: Vec<(RuleCategory, String)>,
    /// `ClassificationRule/ClassificationLevel`.
    pub classification_level: Option<String>,
    /// `FinalAction`s, as written, with their rule element.
    pub final_actions: Vec<(RuleCategory, String)>,
    /// `PreventInheritance`s, as written, with their rule element.
    pub prevent_inheritance: Vec<(RuleCategory, String)>,
}

impl Unit {
    pub fn title(&self) -> &str {
        self.titles.first().map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub header: Header,
    /// Groups declared by a `DataObjectGroup` element, in order.
    pub group_elements: Vec<String>,
    pub objects: Vec<DataObject>,
    pub units: Vec<Unit>,
}

/// Receives the serialised metadata of each unit, in the order of [`Manifest::units`].
pub trait MetadataSink {
    fn put(&mut self, unit: usize, xml: &[u8]) -> std::io::Result<()>;
}

/// Nested units are complete, hence delivered, before the unit that encloses them: the sink
/// receives indexes in any order.
impl MetadataSink for Vec<Vec<u8>> {
    fn put(&mut self, unit: usize, xml: &[u8]) -> std::io::Result<()> {
        if self.len() <= unit {
            self.resize(unit + 1, Vec::new());
        }
        self[unit] = xml.to_vec();
        Ok(())
    }
}

/// Discards metadata, for callers that only need the structure.
pub struct NoMetadata;

impl MetadataSink for NoMetadata {
    fn put(&mut self, _: usize, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("the manifest is not well-formed XML: {0}")]
    NotXml(String),
    #[error("the manifest declares a DOCTYPE; DTDs and entity declarations are refused")]
    Doctype,
    #[error("the manifest refers to the undefined entity &{0};")]
    UndefinedEntity(String),
    #[error("the root element is {0}, not ArchiveTransfer")]
    NotArchiveTransfer(String),
    #[error("{0}")]
    Version(#[from] crate::VersionError),
    #[error("storing unit metadata: {0}")]
    Sink(std::io::Error),
    /// Elements nested deeper than the reader takes ([`ReadLimits::max_depth`]).
    #[error("the manifest nests elements {0} deep, deeper than SEDA needs (at most {1})")]
    TooDeep(usize, usize),
    /// An element carries more attributes than the reader takes ([`MAX_ATTRIBUTES`]).
    #[error("the element <{0}> carries more than {1} attributes; no SEDA element needs as many")]
    TooManyAttributes(String, usize),
    /// More namespace declarations in scope at once than the walk takes ([`MAX_NAMESPACES`]).
    #[error(
        "the element <{0}> has more than {1} namespace declarations in scope; a SEDA manifest needs a handful"
    )]
    TooManyNamespaces(String, usize),
    /// More text directly inside one element, or one piece of text, markup or comment
    /// larger, than the walk takes ([`MAX_TEXT`]).
    #[error(
        "at <{0}>, the text, or a tag or comment, is longer than {1} bytes; a SEDA manifest describes files, it does not carry them inline"
    )]
    TextTooLong(String, usize),
    /// An archive unit's own metadata, with that of the units it is nested in, is larger
    /// than the reader holds ([`MAX_UNIT_METADATA`]).
    #[error(
        "an archive unit's metadata, with that of the units it is nested in, is larger than {0} bytes"
    )]
    UnitTooLarge(usize),
    /// The reader was told to stop ([`ReadLimits::stop`]): the ingest's time is over.
    #[error("reading the manifest was stopped: {0}")]
    Stopped(String),
}

impl ManifestError {
    /// Stable code for replies.
    pub fn code(&self) -> &'static str {
        match self {
            ManifestError::NotXml(_) => "NOT_XML_FILE",
            ManifestError::Doctype | ManifestError::UndefinedEntity(_) => "FORBIDDEN_DTD_OR_ENTITY",
            ManifestError::NotArchiveTransfer(_) => "NOT_ARCHIVE_TRANSFER",
            ManifestError::Version(_) => "UNSUPPORTED_SEDA_VERSION",
            ManifestError::Sink(_) => "INTERNAL",
            ManifestError::TooDeep(..) => "MANIFEST_TOO_DEEP",
            ManifestError::TooManyAttributes(..) => "MANIFEST_TOO_MANY_ATTRIBUTES",
            ManifestError::TooManyNamespaces(..) => "MANIFEST_TOO_MANY_NAMESPACES",
            ManifestError::TextTooLong(..) => "MANIFEST_TEXT_TOO_LONG",
            ManifestError::UnitTooLarge(..) => "UNIT_METADATA_TOO_LARGE",
            ManifestError::Stopped(_) => "TIME_BUDGET",
        }
    }
}

/// Reads the root element only and tells the SEDA version from its namespace.
pub fn sniff_version<R: BufRead>(input: R) -> Result<SedaVersion, ManifestError> {
    let mut reader = quick_xml::NsReader::from_reader(input);
    let mut buf = Vec::new();
    loop {
        match reader.read_resolved_event_into(&mut buf).map_err(xml_err)? {
            (ResolveResult::Bound(ns), Event::Start(e) | Event::Empty(e)) => {
                let ns = String::from_utf8_lossy(ns.as_ref()).into_owned();
                check_root(&e)?;
                return Ok(SedaVersion::from_namespace(&ns)?);
            }
            (_, Event::Start(e) | Event::Empty(e)) => {
                check_root(&e)?;
                return Err(crate::VersionError::NoNamespace.into());
            }
            (_, Event::DocType(_)) => return Err(ManifestError::Doctype),
            (_, Event::Eof) => return Err(ManifestError::NotXml("the document is empty".into())),
            _ => {}
        }
        buf.clear();
    }
}

fn check_root(e: &BytesStart<'_>) -> Result<(), ManifestError> {
    check_attributes(e)?;
    let local = e.local_name();
    if local.as_ref() != b"ArchiveTransfer" {
        return Err(ManifestError::NotArchiveTransfer(
            String::from_utf8_lossy(local.as_ref()).into_owned(),
        ));
    }
    Ok(())
}

/// Where the reader is, by the meaning of the enclosing element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Root,
    Package,
    Group,
    Object,
    Descriptive,
    Unit,
    UnitContent,
    UnitManagement,
    PackageManagement,
    Other,
}

struct OpenUnit {
    index: usize,
    /// Element depth of the `<ArchiveUnit>` start tag.
    depth: usize,
    /// Bytes of metadata the enclosing open units held when this one opened.
    held: usize,
    writer: quick_xml::Writer<Vec<u8>>,
}

/// Reads the whole manifest, within the default limits.
pub fn read<R: BufRead>(input: R, sink: &mut dyn MetadataSink) -> Result<Manifest, ManifestError> {
    read_with(input, sink, &ReadLimits::default())
}

/// Reads the whole manifest within `limits`.
pub fn read_with<R: BufRead>(
    input: R,
    sink: &mut dyn MetadataSink,
    limits: &ReadLimits<'_>,
) -> Result<Manifest, ManifestError> {
    let mut reader = quick_xml::NsReader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut m = Manifest::default();
    // Element names from the root down, with the scope each opened.
    let mut stack: Vec<(Vec<u8>, Scope)> = Vec::new();
    let mut text = String::new();
    let mut units: Vec<OpenUnit> = Vec::new();
    let mut current_group: Option<String> = None;
    let mut current_object: Option<DataObject> = None;
    let mut root_namespaces: Vec<(String, String)> = Vec::new();
    let mut seda_ns = String::new();
    let mut seen_root = false;
    let mut events = 0u64;

    loop {
        let event = reader.read_event_into(&mut buf).map_err(xml_err)?;
        events += 1;
        let opens = matches!(event, Event::Start(_) | Event::Empty(_));
        limits.check(&event, if opens { stack.len() + 1 } else { 0 }, events)?;
        // Serialise the unit's own metadata: everything inside the innermost open unit,
        // except nested units (they are units of their own).
        if let Some(u) = units.last_mut() {
            let starts_nested = stack.len() == u.depth + 1
                && matches!(&event, Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"ArchiveUnit");
            let closes_unit = stack.len() == u.depth + 1 && matches!(&event, Event::End(_));
            if !starts_nested && !closes_unit {
                keep_in_unit(&mut u.writer, u.held, &event)?;
            }
        }
        match event {
            Event::DocType(_) => return Err(ManifestError::Doctype),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let local = e.local_name().as_ref().to_vec();
                let parent = stack.last().map(|(_, s)| *s);
                text.clear();
                let scope = match parent {
                    None => {
                        if seen_root {
                            return Err(ManifestError::NotXml("more than one root element".into()));
                        }
                        seen_root = true;
                        check_root(e)?;
                        let (ns, _) = reader.resolve_element(e.name());
                        seda_ns = match ns {
                            ResolveResult::Bound(ns) => {
                                String::from_utf8_lossy(ns.as_ref()).into_owned()
                            }
                            _ => return Err(crate::VersionError::NoNamespace.into()),
                        };
                        SedaVersion::from_namespace(&seda_ns)?;
                        for a in e.attributes().with_checks(true) {
                            let a = a.map_err(xml_err)?;
                            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                            if key.starts_with("xmlns:") {
                                let v = a.unescape_value().map_err(xml_err)?.into_owned();
                                root_namespaces.push((key, v));
                            }
                        }
                        Scope::Root
                    }
                    Some(Scope::Root) => match local.as_slice() {
                        b"DataObjectPackage" => Scope::Package,
                        _ => Scope::Other,
                    },
                    Some(Scope::Package) => match local.as_slice() {
                        b"DataObjectGroup" => {
                            let id = attr(e, b"id")?.unwrap_or_default();
                            m.group_elements.push(id.clone());
                            current_group = Some(id);
                            Scope::Group
                        }
                        b"BinaryDataObject" | b"PhysicalDataObject" => {
                            current_object = Some(new_object(e, &local, None)?);
                            Scope::Object
                        }
                        b"DescriptiveMetadata" => Scope::Descriptive,
                        b"ManagementMetadata" => Scope::PackageManagement,
                        _ => Scope::Other,
                    },
                    Some(Scope::Group) => match local.as_slice() {
                        b"BinaryDataObject" | b"PhysicalDataObject" => {
                            current_object = Some(new_object(e, &local, current_group.clone())?);
                            Scope::Object
                        }
                        _ => Scope::Other,
                    },
                    Some(Scope::Descriptive) | Some(Scope::Unit) if local == b"ArchiveUnit" => {
                        let index = m.units.len();
                        m.units.push(Unit {
                            xml_id: attr(e, b"id")?.unwrap_or_default(),
                            parent: if parent == Some(Scope::Unit) {
                                units.last().map(|u| u.index)
                            } else {
                                None
                            },
                            ..Unit::default()
                        });
                        let mut writer = quick_xml::Writer::new(Vec::with_capacity(1024));
                        let mut start = BytesStart::new("ArchiveUnit");
                        start.push_attribute(("xmlns", seda_ns.as_str()));
                        for (k, v) in &root_namespaces {
                            start.push_attribute((k.as_str(), v.as_str()));
                        }
                        for a in e.attributes().with_checks(true) {
                            let a = a.map_err(xml_err)?;
                            start.push_attribute(a);
                        }
                        writer.write_event(Event::Start(start)).map_err(xml_err)?;
                        let held = units
                            .last()
                            .map_or(0, |p| p.held + p.writer.get_ref().len());
                        units.push(OpenUnit {
                            index,
                            depth: stack.len(),
                            held,
                            writer,
                        });
                        Scope::Unit
                    }
                    Some(Scope::Unit) => match local.as_slice() {
                        b"Content" => {
                            if let Some(u) = units.last() {
                                m.units[u.index].has_content = true;
                            }
                            Scope::UnitContent
                        }
                        b"Management" => Scope::UnitManagement,
                        _ => Scope::Other,
                    },
                    Some(Scope::Object) if local == b"MessageDigest" => {
                        if let Some(o) = current_object.as_mut() {
                            o.digest =
                                Some((attr(e, b"algorithm")?.unwrap_or_default(), String::new()));
                        }
                        Scope::Other
                    }
                    _ => Scope::Other,
                };
                stack.push((local, scope));
                if is_empty {
                    close(
                        &mut stack,
                        &mut text,
                        &mut m,
                        &mut units,
                        &mut current_group,
                        &mut current_object,
                        sink,
                    )?;
                }
            }
            Event::Text(ref t) => {
                let s = t.xml10_content().map_err(xml_err)?;
                text.push_str(&s);
            }
            Event::CData(ref t) => {
                text.push_str(&String::from_utf8_lossy(t.as_ref()));
            }
            Event::GeneralRef(ref r) => push_reference(&mut text, r)?,
            Event::End(_) => {
                close(
                    &mut stack,
                    &mut text,
                    &mut m,
                    &mut units,
                    &mut current_group,
                    &mut current_object,
                    sink,
                )?;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    check_ended(seen_root, stack.is_empty())?;
    Ok(m)
}

/// Writes what a unit's metadata keeps of an event: elements, text and references.
pub(crate) fn keep_in_unit(
    writer: &mut quick_xml::Writer<Vec<u8>>,
    held: usize,
    event: &Event<'_>,
) -> Result<(), ManifestError> {
    match event {
        Event::Start(_)
        | Event::End(_)
        | Event::Empty(_)
        | Event::Text(_)
        | Event::CData(_)
        | Event::GeneralRef(_) => writer.write_event(event.borrow()).map_err(xml_err)?,
        _ => {}
    }
    if held + writer.get_ref().len() > MAX_UNIT_METADATA {
        return Err(ManifestError::UnitTooLarge(MAX_UNIT_METADATA));
    }
    Ok(())
}

/// A reference in text: a character, or one of the five predefined entities; any other
/// entity is refused, never expanded.
pub(crate) fn push_reference(
    text: &mut String,
    r: &quick_xml::events::BytesRef<'_>,
) -> Result<(), ManifestError> {
    if let Some(c) = r.resolve_char_ref().map_err(xml_err)? {
        text.push(c);
        return Ok(());
    }
    let name = r.decode().map_err(xml_err)?;
    match quick_xml::escape::resolve_xml_entity(&name) {
        Some(v) => {
            text.push_str(v);
            Ok(())
        }
        None => Err(ManifestError::UndefinedEntity(name.into_owned())),
    }
}

/// The document had a root element and closed every element it opened.
pub(crate) fn check_ended(seen_root: bool, all_closed: bool) -> Result<(), ManifestError> {
    if !seen_root {
        return Err(ManifestError::NotXml("the document is empty".into()));
    }
    if !all_closed {
        return Err(ManifestError::NotXml(
            "the document ends inside an element".into(),
        ));
    }
    Ok(())
}

pub(crate) fn attr(e: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, ManifestError> {
    for a in e.attributes().with_checks(true) {
        let a = a.map_err(xml_err)?;
        if a.key.local_name().as_ref() == name {
            return Ok(Some(a.unescape_value().map_err(xml_err)?.trim().to_owned()));
        }
    }
    Ok(None)
}

fn new_object(
    e: &BytesStart<'_>,
    local: &[u8],
    group_element: Option<String>,
) -> Result<DataObject, ManifestError> {
    Ok(DataObject {
        xml_id: attr(e, b"id")?.unwrap_or_default(),
        kind: if local == b"BinaryDataObject" {
            ObjectKind::Binary
        } else {
            ObjectKind::Physical
        },
        group_element,
        group: None,
        declares_group: false,
        version: None,
        uri: None,
        digest: None,
        size: None,
        format_id: None,
        mime_type: None,
        format_litteral: None,
        filename: None,
    })
}

/// Handles the end of the innermost element: stores its text where it belongs.
#[allow(clippy::too_many_arguments)]
fn close(
    stack: &mut Vec<(Vec<u8>, Scope)>,
    text: &mut String,
    m: &mut Manifest,
    units: &mut Vec<OpenUnit>,
    current_group: &mut Option<String>,
    current_object: &mut Option<DataObject>,
    sink: &mut dyn MetadataSink,
) -> Result<(), ManifestError> {
    let Some((name, scope)) = stack.pop() else {
        return Err(ManifestError::NotXml("unbalanced end tag".into()));
    };
    let value = std::mem::take(text).trim().to_owned();
    let parent = stack.last().map(|(n, s)| (n.as_slice(), *s));
    let grandparent = stack
        .len()
        .checked_sub(2)
        .and_then(|i| stack.get(i))
        .map(|(n, _)| n.as_slice());

    match scope {
        Scope::Group => *current_group = None,
        Scope::Object => {
            if let Some(o) = current_object.take() {
                m.objects.push(o);
            }
        }
        Scope::Unit => {
            if let Some(mut u) = units.pop() {
                u.writer
                    .write_event(Event::End(quick_xml::events::BytesEnd::new("ArchiveUnit")))
                    .map_err(xml_err)?;
                sink.put(u.index, &u.writer.into_inner())
                    .map_err(ManifestError::Sink)?;
            }
        }
        _ => {}
    }
    // Leaf values, by where they sit. An object is being read exactly while an element
    // that opened one is on the stack (it is taken when that element closes): no walk of
    // the stack, whose depth an attacker chooses, for every element.
    if let Some(o) = current_object.as_mut() {
        match (name.as_slice(), parent.map(|p| p.0)) {
            (b"DataObjectGroupId", Some(b"BinaryDataObject" | b"PhysicalDataObject")) => {
                o.group = Some(value);
                o.declares_group = true;
            }
            (b"DataObjectGroupReferenceId", Some(b"BinaryDataObject" | b"PhysicalDataObject")) => {
                o.group = Some(value)
            }
            (b"DataObjectVersion", Some(b"BinaryDataObject" | b"PhysicalDataObject")) => {
                o.version = Some(value)
            }
            (b"Uri", Some(b"BinaryDataObject")) => o.uri = Some(value),
            (b"MessageDigest", Some(b"BinaryDataObject")) => {
                if let Some((_, v)) = o.digest.as_mut() {
                    *v = value;
                }
            }
            (b"Size", Some(b"BinaryDataObject")) => o.size = Some(value),
            (b"FormatId", Some(b"FormatIdentification")) => o.format_id = Some(value),
            (b"MimeType", Some(b"FormatIdentification")) => o.mime_type = Some(value),
            (b"FormatLitteral", Some(b"FormatIdentification")) => o.format_litteral = Some(value),
            (b"Filename", Some(b"FileInfo")) => o.filename = Some(value),
            _ => {}
        }
        return Ok(());
    }
    match parent.map(|p| p.1) {
        Some(Scope::Root) => match name.as_slice() {
            b"MessageIdentifier" => m.header.message_identifier = value,
            b"Date" => m.header.date = value,
            b"Comment" => m.header.comments.push(value),
            b"ArchivalAgreement" => m.header.archival_agreement = Some(value),
            _ => {}
        },
        Some(Scope::PackageManagement) => match name.as_slice() {
            b"ArchivalProfile" => m.header.archival_profile = Some(value),
            b"OriginatingAgencyIdentifier" => m.header.originating_agency = Some(value),
            b"SubmissionAgencyIdentifier" => m.header.submission_agency = Some(value),
            _ => {}
        },
        Some(Scope::Unit) => {
            if let Some(u) = units.last() {
                let unit = &mut m.units[u.index];
                match name.as_slice() {
                    b"ArchiveUnitRefId" => unit.ref_target = Some(value),
                    b"ArchiveUnitProfile" => unit.profile = Some(value),
                    _ => {}
                }
            }
        }
        Some(Scope::UnitContent) => {
            if let Some(u) = units.last() {
                let unit = &mut m.units[u.index];
                match name.as_slice() {
                    b"Title" => unit.titles.push(value),
                    b"DescriptionLevel" => unit.description_level = Some(value),
                    b"StartDate" => unit.start_date = Some(value),
                    b"EndDate" => unit.end_date = Some(value),
                    _ => {}
                }
            }
        }
        _ => {
            let parent_name = parent.map(|p| p.0).unwrap_or_default();
            // Deeper leaves: rules, keywords, agencies, references.
            let unit = units.last().map(|u| u.index);
            match (name.as_slice(), parent_name, grandparent) {
                (b"Rule", cat, Some(b"Management" | b"ManagementMetadata")) => {
                    if let Some(category) =
                        std::str::from_utf8(cat).ok().and_then(RuleCategory::parse)
                    {
                        let r = RuleRef {
                            category,
                            rule: value,
                            start_date: None,
                            given_duration: None,
                            hold: Hold::default(),
                        };
                        match (unit, grandparent) {
                            (Some(i), Some(b"Management")) => m.units[i].rules.push(r),
                            (_, Some(b"ManagementMetadata")) => m.header.rules.push(r),
                            _ => {}
                        }
                    }
                }
                (
                    field @ (b"StartDate"
                    | b"HoldEndDate"
                    | b"HoldOwner"
                    | b"HoldReassessingDate"
                    | b"HoldReason"
                    | b"PreventRearrangement"),
                    cat,
                    Some(b"Management" | b"ManagementMetadata"),
                ) if std::str::from_utf8(cat)
                    .ok()
                    .and_then(RuleCategory::parse)
                    .is_some() =>
                {
                    let rules = match (unit, grandparent) {
                        (Some(i), Some(b"Management")) => Some(&mut m.units[i].rules),
                        (_, Some(b"ManagementMetadata")) => Some(&mut m.header.rules),
                        _ => None,
                    };
                    // Each field follows the `Rule` it belongs to (XSD sequence).
                    if let Some(last) = rules.and_then(|r| r.last_mut()) {
                        let hold = &mut last.hold;
                        match field {
                            b"StartDate" => last.start_date = Some(value),
                            b"HoldEndDate" => hold.end_date = Some(value),
                            b"HoldOwner" => hold.owner = Some(value),
                            b"HoldReassessingDate" => hold.reassessing_date = Some(value),
                            b"HoldReason" => hold.reason = Some(value),
                            _ => {
                                hold.prevent_rearrangement =
                                    Some(matches!(value.trim(), "true" | "1"))
                            }
                        }
                    }
                }
                (
                    field @ (b"FinalAction" | b"PreventInheritance"),
                    cat,
                    Some(b"Management" | b"ManagementMetadata"),
                ) => {
                    if let Some(category) =
                        std::str::from_utf8(cat).ok().and_then(RuleCategory::parse)
                    {
                        let (actions, prevents) = match (unit, grandparent) {
                            (Some(i), Some(b"Management")) => {
                                let u = &mut m.units[i];
                                (&mut u.final_actions, &mut u.prevent_inheritance)
                            }
                            (_, Some(b"ManagementMetadata")) => (
                                &mut m.header.final_actions,
                                &mut m.header.prevent_inheritance,
                            ),
                            _ => return Ok(()),
                        };
                        if field == b"FinalAction" {
                            actions.push((category, value));
                        } else {
                            prevents.push((category, value));
                        }
                    }
                }
                (b"RefNonRuleId", cat, Some(b"Management" | b"ManagementMetadata")) => {
                    if let Some(category) =
                        std::str::from_utf8(cat).ok().and_then(RuleCategory::parse)
                    {
                        match (unit, grandparent) {
                            (Some(i), Some(b"Management")) => {
                                m.units[i].ref_non_rules.push((category, value))
                            }
                            (_, Some(b"ManagementMetadata")) => {
                                m.header.ref_non_rules.push((category, value))
                            }
                            _ => {}
                        }
                    }
                }
                (
                    b"ClassificationLevel",
                    b"ClassificationRule",
                    Some(b"Management" | b"ManagementMetadata"),
                ) => match (unit, grandparent) {
                    (Some(i), Some(b"Management")) => m.units[i].classification_level = Some(value),
                    (_, Some(b"ManagementMetadata")) => m.header.classification_level = Some(value),
                    _ => {}
                },
                (b"KeywordContent", b"Keyword", _) => {
                    if let Some(i) = unit {
                        m.units[i].keywords.push(value);
                    }
                }
                (b"Identifier", b"OriginatingAgency", Some(b"Content")) => {
                    if let Some(i) = unit {
                        m.units[i].originating_agency = Some(value);
                    }
                }
                (b"DataObjectGroupReferenceId", b"DataObjectReference", _) => {
                    if let Some(i) = unit {
                        m.units[i].group_refs.push(value);
                    }
                }
                (b"DataObjectReferenceId", b"DataObjectReference", _) => {
                    if let Some(i) = unit {
                        m.units[i].object_refs.push(value);
                    }
                }
                (b"Identifier", b"ArchivalAgency", Some(b"ArchiveTransfer")) => {
                    m.header.archival_agency = Some(value)
                }
                (b"Identifier", b"TransferringAgency", Some(b"ArchiveTransfer")) => {
                    m.header.transferring_agency = Some(value)
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) fn read_fragment_check(xml: &[u8]) {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "fragment is not well-formed: {e}\n{}",
                String::from_utf8_lossy(xml)
            ),
        }
        buf.clear();
    }
}
