//! The messages the as@lae-compatible intake answers with, shaped as as@lae writes them (its
//! replies in `testdata/asalae/ack-atr/`), since Pastell reads them by those paths:
//!
//! - the acknowledgement (`Acknowledgement`) of a received transfer, SEDA 1.0 or 2.x; in
//!   SEDA 0.2, which has no acknowledgement, an `ArchiveTransferReply` with `ReplyCode` `000`,
//!   the transfer's `TransferIdentifier` and the acknowledgement's `TransferReplyIdentifier`;
//! - the transfer reply (`ArchiveTransferReply`): `ReplyCode` `000` when accepted, and the
//!   archive's identifier of each archive at `/ArchiveTransferReply/Archive/
//!   ArchivalAgencyArchiveIdentifier` (1.0: the transfer's `Archive` elements are given back,
//!   each with its identifier first) or at `…/DataObjectPackage/DescriptiveMetadata/
//!   ArchiveUnit/Content/ArchivalAgencyArchiveUnitIdentifier` (2.x). SEDA 0.2 answers an
//!   accepted transfer with an `ArchiveTransferAcceptance` (its `Archive` elements are the
//!   transfer's `Contains` given back, identifier first) and a refused one with an
//!   `ArchiveTransferReply`; its messages have one `Comment`, which then holds every reason,
//!   a line each. In SEDA 2 as@lae puts the
//!   transfer's identifier in `MessageIdentifier` and its own reply's in
//!   `MessageRequestIdentifier`, the other way round from the standard; Pastell relies on it.
//!   Every reason of a rejection (and every warning) is one `Comment`.
//!
//! Every message is valid against the official XSD of its version (tested).

use crate::SedaVersion;
use quick_xml::escape::escape;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use std::io::{self, BufRead, Write};

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    escape(s)
}

/// An acknowledgement of receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub version: SedaVersion,
    /// This acknowledgement's identifier.
    pub identifier: String,
    pub date: String,
    /// The transfer's `TransferIdentifier` (1.0) or `MessageIdentifier` (2.x).
    pub received_identifier: String,
    pub archival_agency: String,
    pub transferring_agency: String,
    pub comment: String,
}

impl Acknowledgement {
    pub fn to_xml(&self) -> String {
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        if self.version == SedaVersion::V0_2 {
            x.push_str(&format!(
                "<ArchiveTransferReply xmlns=\"{}\">\n",
                self.version.namespace()
            ));
            x.push_str(&format!("  <Comment>{}</Comment>\n", esc(&self.comment)));
            x.push_str(&format!("  <Date>{}</Date>\n", esc(&self.date)));
            x.push_str(&format!("  <ReplyCode {CODE_LIST_0_2}>000</ReplyCode>\n"));
            x.push_str(&format!(
                "  <TransferIdentifier>{}</TransferIdentifier>\n",
                esc(&token(&self.received_identifier))
            ));
            x.push_str(&format!(
                "  <TransferReplyIdentifier>{}</TransferReplyIdentifier>\n",
                esc(&self.identifier)
            ));
            x.push_str(&organization(
                "TransferringAgency",
                "Identification",
                &token(&self.transferring_agency),
            ));
            x.push_str(&organization(
                "ArchivalAgency",
                "Identification",
                &token(&self.archival_agency),
            ));
            x.push_str("</ArchiveTransferReply>\n");
            return x;
        }
        x.push_str(&format!(
            "<Acknowledgement xmlns=\"{}\">\n",
            self.version.namespace()
        ));
        x.push_str(&format!("  <Comment>{}</Comment>\n", esc(&self.comment)));
        x.push_str(&format!("  <Date>{}</Date>\n", esc(&self.date)));
        if self.version == SedaVersion::V1_0 {
            x.push_str(&format!(
                "  <AcknowledgementIdentifier>{}</AcknowledgementIdentifier>\n",
                esc(&self.identifier)
            ));
            x.push_str(&format!(
                "  <MessageReceivedIdentifier>{}</MessageReceivedIdentifier>\n",
                esc(&self.received_identifier)
            ));
            x.push_str(&organization(
                "Receiver",
                "Identification",
                &self.archival_agency,
            ));
            x.push_str(&organization(
                "Sender",
                "Identification",
                &self.transferring_agency,
            ));
        } else {
            x.push_str(&format!(
                "  <MessageIdentifier>{}</MessageIdentifier>\n",
                esc(&self.identifier)
            ));
            x.push_str(&format!(
                "  <MessageReceivedIdentifier>{}</MessageReceivedIdentifier>\n",
                esc(&self.received_identifier)
            ));
            x.push_str(&organization(
                "Sender",
                "Identifier",
                &self.transferring_agency,
            ));
            x.push_str(&organization(
                "Receiver",
                "Identifier",
                &self.archival_agency,
            ));
        }
        x.push_str("</Acknowledgement>\n");
        x
    }
}

/// A transfer reply, as as@lae writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReply {
    pub version: SedaVersion,
    /// This reply's identifier.
    pub identifier: String,
    pub date: String,
    /// The transfer's `TransferIdentifier` (1.0) or `MessageIdentifier` (2.x).
    pub transfer_identifier: String,
    /// `000` when accepted; a rejection code otherwise.
    pub reply_code: String,
    pub accepted: bool,
    /// One comment each: what happened, then every reason.
    pub comments: Vec<String>,
    pub archival_agreement: Option<String>,
    pub archival_agency: String,
    pub transferring_agency: String,
}

/// One archive of an accepted transfer: a root unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyArchive {
    /// The archive's identifier for it (the unit's system identifier).
    pub identifier: String,
    pub title: String,
}

/// SEDA 0.2 codes name the edition of their list (as as@lae writes it).
const CODE_LIST_0_2: &str = r#"listVersionID="edition 2009""#;

/// An organization as the messages name it (`Identification` in SEDA 0.2 and 1.0,
/// `Identifier` in 2.x), on lines of its own.
fn organization(element: &str, id_element: &str, id: &str) -> String {
    format!(
        "  <{element}>\n    <{id_element}>{}</{id_element}>\n  </{element}>\n",
        esc(id)
    )
}

/// Identifiers must not be empty in the replies' schemas; a visible placeholder otherwise.
fn token(s: &str) -> String {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() { "unknown".into() } else { t }
}

impl TransferReply {
    /// Writes the reply. `archives` are the transfer's archives in order; for SEDA 1.0,
    /// `bordereau` is the transfer as received, whose `Archive` elements are given back.
    pub fn write_xml(
        &self,
        out: &mut dyn Write,
        archives: &[ReplyArchive],
        bordereau: Option<&mut dyn BufRead>,
    ) -> io::Result<()> {
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        if self.version == SedaVersion::V0_2 {
            return self.write_v0_2(out, archives, bordereau);
        }
        writeln!(
            out,
            r#"<ArchiveTransferReply xmlns="{}">"#,
            self.version.namespace()
        )?;
        for c in &self.comments {
            writeln!(out, "  <Comment>{}</Comment>", esc(c))?;
        }
        writeln!(out, "  <Date>{}</Date>", esc(&self.date))?;
        if self.version == SedaVersion::V1_0 {
            if self.accepted {
                writeln!(out, "  <GrantDate>{}</GrantDate>", esc(&self.date))?;
            }
            writeln!(out, "  <ReplyCode>{}</ReplyCode>", esc(&self.reply_code))?;
            writeln!(
                out,
                "  <TransferIdentifier>{}</TransferIdentifier>",
                esc(&token(&self.transfer_identifier))
            )?;
            writeln!(
                out,
                "  <TransferReplyIdentifier>{}</TransferReplyIdentifier>",
                esc(&self.identifier)
            )?;
            out.write_all(
                organization("ArchivalAgency", "Identification", &self.archival_agency).as_bytes(),
            )?;
            out.write_all(
                organization(
                    "TransferringAgency",
                    "Identification",
                    &self.transferring_agency,
                )
                .as_bytes(),
            )?;
            if self.accepted
                && let Some(b) = bordereau
            {
                copy_archives(b, b"Archive", archives, out)?;
            }
        } else {
            writeln!(
                out,
                "  <MessageIdentifier>{}</MessageIdentifier>",
                esc(&token(&self.transfer_identifier))
            )?;
            if let Some(a) = self
                .archival_agreement
                .as_deref()
                .filter(|a| !a.trim().is_empty())
            {
                writeln!(out, "  <ArchivalAgreement>{}</ArchivalAgreement>", esc(a))?;
            }
            writeln!(out, "  <CodeListVersions/>")?;
            if self.accepted {
                writeln!(out, "  <DataObjectPackage>\n    <DescriptiveMetadata>")?;
                for (i, a) in archives.iter().enumerate() {
                    writeln!(out, r#"      <ArchiveUnit id="archive_{}">"#, i + 1)?;
                    writeln!(out, "        <Content>")?;
                    writeln!(out, "          <Title>{}</Title>", esc(&a.title))?;
                    writeln!(
                        out,
                        "          <ArchivalAgencyArchiveUnitIdentifier>{}</ArchivalAgencyArchiveUnitIdentifier>",
                        esc(&a.identifier)
                    )?;
                    writeln!(out, "        </Content>\n      </ArchiveUnit>")?;
                }
                writeln!(
                    out,
                    "    </DescriptiveMetadata>\n    <ManagementMetadata/>\n  </DataObjectPackage>"
                )?;
            }
            writeln!(out, "  <ReplyCode>{}</ReplyCode>", esc(&self.reply_code))?;
            writeln!(
                out,
                "  <MessageRequestIdentifier>{}</MessageRequestIdentifier>",
                esc(&self.identifier)
            )?;
            if self.accepted {
                writeln!(out, "  <GrantDate>{}</GrantDate>", esc(&self.date))?;
            }
            out.write_all(
                organization(
                    "ArchivalAgency",
                    "Identifier",
                    &token(&self.archival_agency),
                )
                .as_bytes(),
            )?;
            out.write_all(
                organization(
                    "TransferringAgency",
                    "Identifier",
                    &token(&self.transferring_agency),
                )
                .as_bytes(),
            )?;
        }
        writeln!(out, "</ArchiveTransferReply>")
    }
}

impl TransferReply {
    /// SEDA 0.2: `ArchiveTransferAcceptance` when accepted, `ArchiveTransferReply` otherwise.
    fn write_v0_2(
        &self,
        out: &mut dyn Write,
        archives: &[ReplyArchive],
        bordereau: Option<&mut dyn BufRead>,
    ) -> io::Result<()> {
        let (root, identifier) = if self.accepted {
            ("ArchiveTransferAcceptance", "TransferAcceptanceIdentifier")
        } else {
            ("ArchiveTransferReply", "TransferReplyIdentifier")
        };
        writeln!(out, r#"<{root} xmlns="{}">"#, self.version.namespace())?;
        if !self.comments.is_empty() {
            writeln!(
                out,
                "  <Comment>{}</Comment>",
                esc(&self.comments.join("\n"))
            )?;
        }
        writeln!(out, "  <Date>{}</Date>", esc(&self.date))?;
        writeln!(
            out,
            "  <ReplyCode {CODE_LIST_0_2}>{}</ReplyCode>",
            esc(&self.reply_code)
        )?;
        let transfer = format!(
            "  <TransferIdentifier>{}</TransferIdentifier>",
            esc(&token(&self.transfer_identifier))
        );
        let own = format!("  <{identifier}>{}</{identifier}>", esc(&self.identifier));
        // The schema orders them so: the acceptance's identifier first, the reply's last.
        if self.accepted {
            writeln!(out, "{own}\n{transfer}")?;
        } else {
            writeln!(out, "{transfer}\n{own}")?;
        }
        out.write_all(
            organization(
                "TransferringAgency",
                "Identification",
                &token(&self.transferring_agency),
            )
            .as_bytes(),
        )?;
        out.write_all(
            organization(
                "ArchivalAgency",
                "Identification",
                &token(&self.archival_agency),
            )
            .as_bytes(),
        )?;
        if self.accepted
            && let Some(b) = bordereau
        {
            copy_archives(b, b"Contains", archives, out)?;
        }
        writeln!(out, "</{root}>")
    }
}

/// Copies each archive element of a SEDA 1.0 or 0.2 transfer (`Archive`, or `Contains` in
/// 0.2) as an `Archive`, its archive identifier first (replacing one the transfer may
/// carry), streaming.
fn copy_archives(
    input: &mut dyn BufRead,
    archive_element: &[u8],
    archives: &[ReplyArchive],
    out: &mut dyn Write,
) -> io::Result<()> {
    let err = |e: quick_xml::Error| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut writer = quick_xml::Writer::new(out);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    // Depth 1 = children of the root; inside an Archive we copy everything.
    let mut copying = false;
    let mut skipping = 0usize;
    let mut archive = 0usize;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(err)?;
        match &event {
            Event::Eof => break,
            Event::Start(e) => {
                depth += 1;
                if depth == 2 && e.local_name().as_ref() == archive_element {
                    copying = true;
                    writer
                        .write_event(Event::Start(BytesStart::new("Archive")))
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    let id = archives
                        .get(archive)
                        .map(|a| a.identifier.as_str())
                        .unwrap_or("unknown");
                    archive += 1;
                    writer
                        .create_element("ArchivalAgencyArchiveIdentifier")
                        .write_text_content(BytesText::new(id))?;
                    buf.clear();
                    continue;
                }
                if copying
                    && depth == 3
                    && e.local_name().as_ref() == b"ArchivalAgencyArchiveIdentifier"
                {
                    skipping = depth;
                }
            }
            Event::Empty(e)
                if copying
                    && depth == 2
                    && e.local_name().as_ref() == b"ArchivalAgencyArchiveIdentifier" =>
            {
                buf.clear();
                continue;
            }
            Event::End(_) => {
                if depth == 2 && copying {
                    writer
                        .write_event(Event::End(BytesEnd::new("Archive")))
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    copying = false;
                    depth -= 1;
                    buf.clear();
                    continue;
                }
                if skipping == depth {
                    skipping = 0;
                    depth -= 1;
                    buf.clear();
                    continue;
                }
                depth -= 1;
            }
            Event::DocType(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a DOCTYPE in the transfer",
                ));
            }
            _ => {}
        }
        if copying && skipping == 0 && depth >= 2 {
            // Names without their prefix: the reply declares the SEDA 1.0 namespace as the
            // default one, whatever prefix the transfer used.
            let local = |e: &BytesStart<'_>| -> io::Result<BytesStart<'static>> {
                let mut s =
                    BytesStart::new(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                for a in e.attributes().with_checks(true) {
                    let a = a.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    let key = a.key.as_ref();
                    if key != b"xmlns" && !key.starts_with(b"xmlns:") {
                        s.push_attribute(a);
                    }
                }
                Ok(s)
            };
            let rewritten = match &event {
                Event::Start(e) => Event::Start(local(e)?),
                Event::Empty(e) => Event::Empty(local(e)?),
                Event::End(e) => Event::End(BytesEnd::new(
                    String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                )),
                other => other.borrow(),
            };
            writer
                .write_event(rewritten)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        buf.clear();
    }
    Ok(())
}
