//! The manifest of a package going out (a transfer to the definitive archives, a
//! restitution, a tenant's export): an `ArchiveTransfer` in SEDA 2.1, 2.2 or 2.3, written as
//! it goes, so that a package of any size is written in bounded memory.
//!
//! The order is SEDA's: the header, every object group, then the units as a tree (each
//! opened, its children written, then closed), then the package's management metadata.
//! Each unit is written from its metadata as the archive kept it at ingest (its
//! `ArchiveUnit` element, nested units apart): descriptive metadata whole, its management as
//! given, and its references to objects renamed to the package's identifiers.
//!
//! Every manifest written here validates against the official XSD of its version (tests).

use crate::SedaVersion;
use carnac_model::referential::RuleCategory;
use carnac_model::rules::{FinalAction, Management};
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use std::io::{self, Write};

/// The package's header and parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageHeader {
    pub message_identifier: String,
    /// `YYYY-MM-DDThh:mm:ss…`.
    pub date: String,
    pub comments: Vec<String>,
    pub archival_agreement: Option<String>,
    /// The receiver: the definitive archives, or the producer for a restitution.
    pub archival_agency: String,
    /// The sender: this archive.
    pub transferring_agency: String,
}

/// A file of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryObject {
    /// Its identifier in the package (an XML ID).
    pub id: String,
    /// `DataObjectVersion`, as given at ingest (`BinaryMaster_1`…).
    pub version: Option<String>,
    /// Its path in the package.
    pub uri: String,
    /// SEDA's name of the digest algorithm (`SHA-256`…).
    pub digest_algorithm: String,
    pub digest: String,
    pub size: u64,
    /// PRONOM identifier.
    pub format_id: Option<String>,
    pub mime_type: Option<String>,
    pub format_litteral: Option<String>,
    pub filename: Option<String>,
}

/// A physical object (paper, a medium): what the archive knows of it, no file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicalObject {
    pub id: String,
    pub version: Option<String>,
}

/// A group of objects (the versions of one document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectGroup {
    pub id: String,
    pub objects: Vec<BinaryObject>,
    pub physical: Vec<PhysicalObject>,
}

/// What a unit's references name, renamed for the package: the identifier (in the unit's
/// metadata as kept) of an object group (`DataObjectGroupReferenceId`) or of an object
/// (`DataObjectReferenceId`) to the package's, or `None` when the package does not hold it.
pub type Rename<'a> = &'a dyn Fn(ReferenceKind, &str) -> Option<String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    Group,
    Object,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    #[error("writing the manifest: {0}")]
    Io(#[from] io::Error),
    #[error("the metadata of unit {unit} is not well-formed XML: {message}")]
    Metadata { unit: String, message: String },
    #[error("unit {unit} refers to {what} {id}, which the package does not hold")]
    Dangling {
        unit: String,
        what: &'static str,
        id: String,
    },
    #[error(
        "unit {unit} was ingested in SEDA 1.0 or 0.2 (its element is {element}): its metadata does not go into a SEDA 2 package yet"
    )]
    NotSeda2 { unit: String, element: String },
    #[error(
        "unit {unit}: its {category} has no FinalAction, which SEDA requires: set one before packaging it"
    )]
    NoFinalAction {
        unit: String,
        category: &'static str,
    },
    #[error("{0}")]
    Order(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Groups,
    Units,
}

/// Writes a manifest: [`ManifestWriter::group`] for every group, then the units' tree with
/// [`ManifestWriter::open_unit`] and [`ManifestWriter::close_unit`], then
/// [`ManifestWriter::finish`].
pub struct ManifestWriter<W: Write> {
    w: W,
    version: SedaVersion,
    part: Part,
    open: usize,
    header: PackageHeader,
}

fn namespace(version: SedaVersion) -> io::Result<&'static str> {
    match version {
        SedaVersion::V2_1 => Ok("fr:gouv:culture:archivesdefrance:seda:v2.1"),
        SedaVersion::V2_2 => Ok("fr:gouv:culture:archivesdefrance:seda:v2.2"),
        SedaVersion::V2_3 => Ok("fr:gouv:culture:archivesdefrance:seda:v2.3"),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("packages are written in SEDA 2.1 to 2.3, not {other}"),
        )),
    }
}

fn element(w: &mut dyn Write, name: &str, value: &str) -> io::Result<()> {
    write!(w, "<{name}>{}</{name}>", escape(value))
}

impl<W: Write> ManifestWriter<W> {
    /// Writes the header, up to the first object group.
    pub fn new(
        mut w: W,
        version: SedaVersion,
        header: PackageHeader,
    ) -> Result<Self, PackageError> {
        write!(
            w,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ArchiveTransfer xmlns=\"{}\">\n",
            namespace(version)?
        )?;
        for c in &header.comments {
            element(&mut w, "Comment", c)?;
        }
        element(&mut w, "Date", &header.date)?;
        element(&mut w, "MessageIdentifier", &header.message_identifier)?;
        if let Some(a) = &header.archival_agreement {
            element(&mut w, "ArchivalAgreement", a)?;
        }
        // The code lists are SEDA's own (the receiver checks against its versions).
        write!(
            w,
            "<CodeListVersions><ReplyCodeListVersion>ReplyCodeListVersion0</ReplyCodeListVersion>\
             <MessageDigestAlgorithmCodeListVersion>MessageDigestAlgorithmCodeListVersion0</MessageDigestAlgorithmCodeListVersion>\
             <FileFormatCodeListVersion>PRONOM</FileFormatCodeListVersion></CodeListVersions>\n<DataObjectPackage>\n"
        )?;
        Ok(ManifestWriter {
            w,
            version,
            part: Part::Groups,
            open: 0,
            header,
        })
    }

    /// Writes an object group; every group comes before the first unit.
    pub fn group(&mut self, g: &ObjectGroup) -> Result<(), PackageError> {
        if self.part != Part::Groups {
            return Err(PackageError::Order("object groups come before the units"));
        }
        let w = &mut self.w;
        write!(w, "<DataObjectGroup id=\"{}\">", escape(g.id.as_str()))?;
        for o in &g.objects {
            write!(w, "<BinaryDataObject id=\"{}\">", escape(o.id.as_str()))?;
            if let Some(v) = &o.version {
                element(w, "DataObjectVersion", v)?;
            }
            element(w, "Uri", &o.uri)?;
            write!(
                w,
                "<MessageDigest algorithm=\"{}\">{}</MessageDigest><Size>{}</Size>",
                escape(o.digest_algorithm.as_str()),
                escape(o.digest.as_str()),
                o.size
            )?;
            if o.format_id.is_some() || o.mime_type.is_some() || o.format_litteral.is_some() {
                write!(w, "<FormatIdentification>")?;
                if let Some(v) = &o.format_litteral {
                    element(w, "FormatLitteral", v)?;
                }
                if let Some(v) = &o.mime_type {
                    element(w, "MimeType", v)?;
                }
                if let Some(v) = &o.format_id {
                    element(w, "FormatId", v)?;
                }
                write!(w, "</FormatIdentification>")?;
            }
            if let Some(f) = &o.filename {
                write!(w, "<FileInfo>")?;
                element(w, "Filename", f)?;
                write!(w, "</FileInfo>")?;
            }
            write!(w, "</BinaryDataObject>")?;
        }
        for p in &g.physical {
            write!(w, "<PhysicalDataObject id=\"{}\">", escape(p.id.as_str()))?;
            if let Some(v) = &p.version {
                element(w, "DataObjectVersion", v)?;
            }
            write!(w, "</PhysicalDataObject>")?;
        }
        writeln!(w, "</DataObjectGroup>")?;
        Ok(())
    }

    /// Opens a unit: its element, named `id` in the package, with everything its metadata
    /// holds (references renamed by `rename`). Its children follow, then
    /// [`ManifestWriter::close_unit`].
    /// `management`, when given, is written instead of the `Management` the metadata holds
    /// (the unit's rules as they are now, or a top unit's with what it inherits), keeping
    /// from it what rules do not say (a classification's level and owner, a log book…).
    pub fn open_unit(
        &mut self,
        id: &str,
        metadata: &str,
        rename: Rename<'_>,
        management: Option<&Management>,
    ) -> Result<(), PackageError> {
        if self.part == Part::Groups {
            writeln!(self.w, "<DescriptiveMetadata>")?;
            self.part = Part::Units;
        }
        let bad = |message: String| PackageError::Metadata {
            unit: id.to_owned(),
            message,
        };
        let mut reader = quick_xml::Reader::from_str(metadata);
        let mut out = quick_xml::Writer::new(&mut self.w);
        let mut depth = 0usize;
        // The element whose text is a reference to rename, if inside one.
        let mut reference: Option<ReferenceKind> = None;
        // The metadata's own Management, read aside while it is replaced.
        let mut kept: Option<Kept> = None;
        let mut management_written = management.is_none();
        loop {
            let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
            if let Some(k) = kept.as_mut() {
                let closes = matches!(event, Event::End(_)) && depth == 2;
                if !closes {
                    k.take(&event, depth).map_err(|e| bad(e.to_string()))?;
                    match event {
                        Event::Start(_) => depth += 1,
                        Event::End(_) => depth -= 1,
                        _ => {}
                    }
                    continue;
                }
                depth -= 1;
                let k = kept.take().unwrap_or_default();
                if let Some(m) = management {
                    write_management(out.get_mut(), self.version, id, m, &k)?;
                }
                management_written = true;
                continue;
            }
            match event {
                Event::Start(e)
                    if depth == 1
                        && e.local_name().as_ref() == b"Management"
                        && management.is_some() =>
                {
                    depth += 1;
                    kept = Some(Kept::default());
                }
                Event::Empty(e)
                    if depth == 1
                        && e.local_name().as_ref() == b"Management"
                        && management.is_some() =>
                {
                    if let Some(m) = management {
                        write_management(out.get_mut(), self.version, id, m, &Kept::default())?;
                    }
                    management_written = true;
                }
                Event::Start(ref e) | Event::Empty(ref e)
                    if depth == 1
                        && !management_written
                        && e.local_name().as_ref() == b"Content" =>
                {
                    // No Management in the metadata: it goes before the Content.
                    if let Some(m) = management {
                        write_management(out.get_mut(), self.version, id, m, &Kept::default())?;
                    }
                    management_written = true;
                    let is_start = matches!(event, Event::Start(_));
                    if is_start {
                        depth += 1;
                        reference = None;
                    }
                    out.write_event(event).map_err(|e| bad(e.to_string()))?;
                }
                Event::Start(e) if depth == 0 => {
                    depth = 1;
                    if e.local_name().as_ref() != b"ArchiveUnit" {
                        return Err(PackageError::NotSeda2 {
                            unit: id.to_owned(),
                            element: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        });
                    }
                    let mut start = BytesStart::new("ArchiveUnit");
                    start.push_attribute(("id", id));
                    // Namespaces its extensions use (the default one is the package's).
                    for a in e.attributes().with_checks(true) {
                        let a = a.map_err(|e| bad(e.to_string()))?;
                        if a.key.as_ref().starts_with(b"xmlns:") {
                            start.push_attribute(a);
                        }
                    }
                    out.write_event(Event::Start(start))
                        .map_err(|e| bad(e.to_string()))?;
                }
                Event::Empty(e) if depth == 0 => {
                    if e.local_name().as_ref() != b"ArchiveUnit" {
                        return Err(bad("its element is not an ArchiveUnit".into()));
                    }
                    return Err(bad("a unit has at least its Content".into()));
                }
                Event::End(_) if depth == 1 => break,
                Event::Start(e) => {
                    depth += 1;
                    reference = match e.local_name().as_ref() {
                        b"DataObjectGroupReferenceId" => Some(ReferenceKind::Group),
                        b"DataObjectReferenceId" => Some(ReferenceKind::Object),
                        _ => None,
                    };
                    out.write_event(Event::Start(e))
                        .map_err(|e| bad(e.to_string()))?;
                }
                Event::End(e) => {
                    depth -= 1;
                    reference = None;
                    out.write_event(Event::End(e))
                        .map_err(|e| bad(e.to_string()))?;
                }
                Event::Text(t) if reference.is_some() => {
                    let kind = reference.unwrap_or(ReferenceKind::Group);
                    let old = t.decode().map_err(|e| bad(e.to_string()))?;
                    let old = old.trim();
                    let new = rename(kind, old).ok_or_else(|| PackageError::Dangling {
                        unit: id.to_owned(),
                        what: match kind {
                            ReferenceKind::Group => "object group",
                            ReferenceKind::Object => "object",
                        },
                        id: old.to_owned(),
                    })?;
                    write!(out.get_mut(), "{}", escape(new.as_str()))?;
                }
                Event::Eof => return Err(bad("it ends before its element closes".into())),
                Event::Decl(_) | Event::PI(_) | Event::DocType(_) | Event::Comment(_) => {}
                other => out.write_event(other).map_err(|e| bad(e.to_string()))?,
            }
        }
        self.open += 1;
        Ok(())
    }

    /// A unit that stands here too, written once elsewhere (a unit with several parents):
    /// `id` names this place, `target` the unit.
    pub fn unit_reference(&mut self, id: &str, target: &str) -> Result<(), PackageError> {
        if self.open == 0 {
            return Err(PackageError::Order("a reference to a unit sits in a unit"));
        }
        write!(
            self.w,
            "<ArchiveUnit id=\"{}\"><ArchiveUnitRefId>{}</ArchiveUnitRefId></ArchiveUnit>",
            escape(id),
            escape(target)
        )?;
        Ok(())
    }

    /// Closes the unit opened last.
    pub fn close_unit(&mut self) -> Result<(), PackageError> {
        if self.open == 0 {
            return Err(PackageError::Order("no unit is open"));
        }
        self.open -= 1;
        write!(self.w, "</ArchiveUnit>")?;
        if self.open == 0 {
            writeln!(self.w)?;
        }
        Ok(())
    }

    /// Closes the package with its management metadata (its units' originating agency):
    /// the writer, flushed.
    pub fn finish(mut self, originating_agency: Option<&str>) -> Result<W, PackageError> {
        if self.open != 0 {
            return Err(PackageError::Order("a unit is still open"));
        }
        if self.part != Part::Units {
            return Err(PackageError::Order("a package holds at least one unit"));
        }
        let w = &mut self.w;
        write!(w, "</DescriptiveMetadata>\n<ManagementMetadata>")?;
        if let Some(a) = originating_agency {
            element(w, "OriginatingAgencyIdentifier", a)?;
        }
        write!(w, "</ManagementMetadata>\n</DataObjectPackage>\n")?;
        write!(w, "<ArchivalAgency>")?;
        element(w, "Identifier", &self.header.archival_agency)?;
        write!(w, "</ArchivalAgency><TransferringAgency>")?;
        element(w, "Identifier", &self.header.transferring_agency)?;
        writeln!(w, "</TransferringAgency>\n</ArchiveTransfer>")?;
        w.flush()?;
        Ok(self.w)
    }
}

/// What a replaced `Management` held that rules do not say, serialised whole, by where it
/// goes back.
#[derive(Default)]
struct Kept {
    /// `ClassificationAudience`, then the level, owner and reassessment that follow the
    /// choice of `PreventInheritance`/`RefNonRuleId`.
    audience: Vec<u8>,
    classification: Vec<u8>,
    /// `LogBook`, `NeedAuthorization`: before `HoldRule`.
    before_hold: Vec<u8>,
    /// Extensions (`OtherManagementAbstract`): last.
    last: Vec<u8>,
    /// The element being copied, with the depth it opened at, and where it goes.
    copying: Option<(usize, Slot)>,
    /// The category element the reader is in.
    category: Option<Vec<u8>>,
}

#[derive(Clone, Copy)]
enum Slot {
    Audience,
    Classification,
    BeforeHold,
    Last,
}

impl Kept {
    /// Takes one event of the replaced Management (`depth`: before the event, the
    /// Management element being at depth 2).
    fn take(&mut self, event: &Event<'_>, depth: usize) -> Result<(), quick_xml::Error> {
        if self.copying.is_none() {
            if let Event::Start(e) | Event::Empty(e) = event {
                let name = e.local_name().as_ref().to_vec();
                let slot = match (depth, name.as_slice(), self.category.as_deref()) {
                    (2, b"LogBook" | b"NeedAuthorization", _) => Some(Slot::BeforeHold),
                    (2, n, _) if !is_rule_category(n) => Some(Slot::Last),
                    (3, b"ClassificationAudience", Some(b"ClassificationRule")) => {
                        Some(Slot::Audience)
                    }
                    (
                        3,
                        b"ClassificationLevel"
                        | b"ClassificationOwner"
                        | b"ClassificationReassessingDate"
                        | b"NeedReassessingAuthorization",
                        Some(b"ClassificationRule"),
                    ) => Some(Slot::Classification),
                    _ => None,
                };
                if depth == 2 && slot.is_none() && matches!(event, Event::Start(_)) {
                    self.category = Some(name);
                }
                if let Some(slot) = slot {
                    self.copying = Some((depth, slot));
                }
            } else if let Event::End(_) = event
                && depth == 3
            {
                self.category = None;
            }
        }
        let Some((at, slot)) = self.copying else {
            return Ok(());
        };
        let buf = match slot {
            Slot::Audience => &mut self.audience,
            Slot::Classification => &mut self.classification,
            Slot::BeforeHold => &mut self.before_hold,
            Slot::Last => &mut self.last,
        };
        quick_xml::Writer::new(&mut *buf).write_event(event.borrow())?;
        let ends = match event {
            Event::Empty(_) => depth == at,
            Event::End(_) => depth == at + 1,
            _ => false,
        };
        if ends {
            self.copying = None;
        }
        Ok(())
    }
}

fn is_rule_category(name: &[u8]) -> bool {
    RuleCategory::ALL
        .iter()
        .any(|c| c.as_str().as_bytes() == name)
}

/// Writes `m` as a unit's `Management`, in SEDA's order, with what `kept` holds; a hold
/// cannot be written in SEDA 2.1, which has no `HoldRule`.
fn write_management(
    w: &mut dyn Write,
    version: SedaVersion,
    unit: &str,
    m: &Management,
    kept: &Kept,
) -> Result<(), PackageError> {
    use RuleCategory as C;
    let holds = version != SedaVersion::V2_1;
    let empty = m
        .categories
        .iter()
        .all(|c| c.category == C::HoldRule && !holds)
        && kept.before_hold.is_empty()
        && kept.last.is_empty();
    if empty {
        return Ok(());
    }
    write!(w, "<Management>")?;
    let order = [
        C::StorageRule,
        C::AppraisalRule,
        C::AccessRule,
        C::DisseminationRule,
        C::ReuseRule,
        C::ClassificationRule,
    ];
    let category = |w: &mut dyn Write, c: C| -> Result<(), PackageError> {
        let Some(rules) = m.category(c) else {
            return Ok(());
        };
        if c == C::ClassificationRule && kept.classification.is_empty() {
            // Its level and owner are required and not rules: without them, nothing.
            return Ok(());
        }
        write!(w, "<{}>", c.as_str())?;
        for r in &rules.rules {
            element(w, "Rule", &r.rule)?;
            if let Some(d) = &r.start_date {
                element(w, "StartDate", d)?;
            }
            if c == C::HoldRule {
                let h = &r.hold;
                for (name, value) in [
                    ("HoldEndDate", &h.end_date),
                    ("HoldOwner", &h.owner),
                    ("HoldReassessingDate", &h.reassessing_date),
                    ("HoldReason", &h.reason),
                ] {
                    if let Some(v) = value {
                        element(w, name, v)?;
                    }
                }
                if let Some(p) = h.prevent_rearrangement {
                    element(w, "PreventRearrangement", if p { "true" } else { "false" })?;
                }
            }
        }
        if c == C::ClassificationRule {
            w.write_all(&kept.audience)?;
        }
        if rules.prevent_inheritance {
            write!(w, "<PreventInheritance>true</PreventInheritance>")?;
        } else {
            for id in &rules.ref_non_rule_ids {
                element(w, "RefNonRuleId", id)?;
            }
        }
        if c == C::ClassificationRule {
            w.write_all(&kept.classification)?;
        }
        if matches!(c, C::StorageRule | C::AppraisalRule) {
            let action = match (rules.final_action, c) {
                (Some(a), _) => a,
                // No FinalAction means Keep.
                (None, C::AppraisalRule) => FinalAction::Keep,
                (None, _) => {
                    return Err(PackageError::NoFinalAction {
                        unit: unit.to_owned(),
                        category: c.as_str(),
                    });
                }
            };
            element(w, "FinalAction", action.as_str())?;
        }
        write!(w, "</{}>", c.as_str())?;
        Ok(())
    };
    for c in order {
        category(w, c)?;
    }
    w.write_all(&kept.before_hold)?;
    if holds {
        category(w, C::HoldRule)?;
    }
    w.write_all(&kept.last)?;
    write!(w, "</Management>")?;
    Ok(())
}

#[cfg(test)]
mod tests;
