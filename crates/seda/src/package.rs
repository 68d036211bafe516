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
    pub fn open_unit(
        &mut self,
        id: &str,
        metadata: &str,
        rename: Rename<'_>,
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
        loop {
            let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
            match event {
                Event::Start(e) if depth == 0 => {
                    depth = 1;
                    if e.local_name().as_ref() != b"ArchiveUnit" {
                        return Err(bad("its element is not an ArchiveUnit".into()));
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

#[cfg(test)]
mod tests;
