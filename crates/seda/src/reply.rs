//! The ArchiveTransferReply (ATR), written in the transfer's SEDA version and valid against
//! its official XSD: the reply code, one event per ingest step, and the system identifiers
//! given to every unit, object group and object.

use crate::SedaVersion;
use carnac_model::Status;
use quick_xml::escape::escape;
use std::io::{self, Write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyEvent {
    /// Stable step code (`CHECK_DIGEST`…).
    pub type_code: String,
    /// What the step does, for a person.
    pub label: String,
    pub date_time: String,
    pub outcome: Status,
    /// `STEP.CODE.OUTCOME` detail, as Vitam writes it.
    pub outcome_detail: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyUnit {
    pub xml_id: String,
    pub system_id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyObject {
    pub xml_id: String,
    pub system_id: String,
    pub group_system_id: String,
    pub version: Option<String>,
    pub physical: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyGroup {
    pub xml_id: String,
    pub objects: Vec<ReplyObject>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReply {
    pub version: SedaVersion,
    /// The archive's identifier of this reply (the operation).
    pub message_identifier: String,
    pub date: String,
    /// The transfer's `MessageIdentifier`, when it could be read.
    pub request_identifier: Option<String>,
    pub archival_agreement: Option<String>,
    pub archival_profile: Option<String>,
    pub status: Status,
    pub grant_date: Option<String>,
    pub events: Vec<ReplyEvent>,
    pub archival_agency: Option<String>,
    pub transferring_agency: Option<String>,
}

/// The groups and units of an accepted transfer, streamed into the reply one at a time so
/// that a transfer of any size is answered in bounded memory.
pub struct ReplyPackage<'a> {
    pub groups: &'a mut dyn Iterator<Item = ReplyGroup>,
    pub units: &'a mut dyn Iterator<Item = ReplyUnit>,
}

/// The reply code: Vitam's OK / WARNING / KO, which as@lae clients also read.
pub fn reply_code(status: Status) -> &'static str {
    status.as_str()
}

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    escape(s)
}

/// Identifiers in replies must be non-empty tokens; fall back to a visible placeholder.
fn token(s: Option<&str>) -> String {
    match s.map(str::trim) {
        Some(v) if !v.is_empty() => v.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => "unknown".to_owned(),
    }
}

impl TransferReply {
    /// The reply without a package (a rejected transfer), as a string.
    pub fn to_xml(&self) -> String {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_xml(&mut out, None);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Writes the reply; `package` lists what an accepted transfer became.
    pub fn write_xml(
        &self,
        x: &mut dyn Write,
        package: Option<ReplyPackage<'_>>,
    ) -> io::Result<()> {
        writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            x,
            r#"<ArchiveTransferReply xmlns="{}" xmlns:xlink="http://www.w3.org/1999/xlink">"#,
            self.version.namespace()
        )?;
        writeln!(x, "  <Date>{}</Date>", esc(&self.date))?;
        writeln!(
            x,
            "  <MessageIdentifier>{}</MessageIdentifier>",
            esc(&self.message_identifier)
        )?;
        if let Some(a) = self
            .archival_agreement
            .as_deref()
            .filter(|a| !a.trim().is_empty())
        {
            writeln!(x, "  <ArchivalAgreement>{}</ArchivalAgreement>", esc(a))?;
        }
        x.write_all("  <CodeListVersions>\n".as_bytes())?;
        x.write_all(
            "    <ReplyCodeListVersion>Carnac-ReplyCode-1</ReplyCodeListVersion>\n".as_bytes(),
        )?;
        x.write_all("    <MessageDigestAlgorithmCodeListVersion>Carnac-DigestAlgorithm-1</MessageDigestAlgorithmCodeListVersion>\n".as_bytes())?;
        x.write_all(
            "    <FileFormatCodeListVersion>PRONOM</FileFormatCodeListVersion>\n".as_bytes(),
        )?;
        x.write_all("  </CodeListVersions>\n".as_bytes())?;
        if let Some(package) = package {
            x.write_all("  <DataObjectPackage>\n".as_bytes())?;
            for g in package.groups {
                writeln!(x, r#"    <DataObjectGroup id="{}">"#, esc(&g.xml_id))?;
                for o in &g.objects {
                    let element = if o.physical {
                        "PhysicalDataObject"
                    } else {
                        "BinaryDataObject"
                    };
                    writeln!(x, r#"      <{element} id="{}">"#, esc(&o.xml_id))?;
                    writeln!(
                        x,
                        "        <DataObjectSystemId>{}</DataObjectSystemId>",
                        esc(&o.system_id)
                    )?;
                    writeln!(
                        x,
                        "        <DataObjectGroupSystemId>{}</DataObjectGroupSystemId>",
                        esc(&o.group_system_id)
                    )?;
                    if let Some(v) = &o.version {
                        writeln!(
                            x,
                            "        <DataObjectVersion>{}</DataObjectVersion>",
                            esc(v)
                        )?;
                    }
                    writeln!(x, "      </{element}>")?;
                }
                x.write_all("    </DataObjectGroup>\n".as_bytes())?;
            }
            x.write_all("    <DescriptiveMetadata>\n".as_bytes())?;
            for u in package.units {
                writeln!(x, r#"      <ArchiveUnit id="{}">"#, esc(&u.xml_id))?;
                x.write_all("        <Content>\n".as_bytes())?;
                writeln!(x, "          <Title>{}</Title>", esc(&u.title))?;
                writeln!(x, "          <SystemId>{}</SystemId>", esc(&u.system_id))?;
                x.write_all("        </Content>\n".as_bytes())?;
                x.write_all("      </ArchiveUnit>\n".as_bytes())?;
            }
            x.write_all("    </DescriptiveMetadata>\n".as_bytes())?;
            x.write_all("    <ManagementMetadata>\n".as_bytes())?;
            if let Some(p) = self
                .archival_profile
                .as_deref()
                .filter(|p| !p.trim().is_empty())
            {
                writeln!(x, "      <ArchivalProfile>{}</ArchivalProfile>", esc(p))?;
            }
            x.write_all("    </ManagementMetadata>\n".as_bytes())?;
            x.write_all("  </DataObjectPackage>\n".as_bytes())?;
        }
        writeln!(x, "  <ReplyCode>{}</ReplyCode>", reply_code(self.status))?;
        if !self.events.is_empty() {
            x.write_all("  <Operation>\n".as_bytes())?;
            for e in &self.events {
                x.write_all("    <Event>\n".as_bytes())?;
                writeln!(
                    x,
                    "      <EventTypeCode>{}</EventTypeCode>",
                    esc(&e.type_code)
                )?;
                writeln!(x, "      <EventType>{}</EventType>", esc(&e.label))?;
                writeln!(
                    x,
                    "      <EventDateTime>{}</EventDateTime>",
                    esc(&e.date_time)
                )?;
                writeln!(x, "      <Outcome>{}</Outcome>", e.outcome.as_str())?;
                writeln!(
                    x,
                    "      <OutcomeDetail>{}</OutcomeDetail>",
                    esc(&e.outcome_detail)
                )?;
                if !e.message.is_empty() {
                    writeln!(
                        x,
                        "      <OutcomeDetailMessage>{}</OutcomeDetailMessage>",
                        esc(&e.message)
                    )?;
                }
                x.write_all("    </Event>\n".as_bytes())?;
            }
            x.write_all("  </Operation>\n".as_bytes())?;
        }
        writeln!(
            x,
            "  <MessageRequestIdentifier>{}</MessageRequestIdentifier>",
            esc(&token(self.request_identifier.as_deref()))
        )?;
        if let Some(g) = &self.grant_date {
            writeln!(x, "  <GrantDate>{}</GrantDate>", esc(g))?;
        }
        writeln!(
            x,
            "  <ArchivalAgency>\n    <Identifier>{}</Identifier>\n  </ArchivalAgency>",
            esc(&token(self.archival_agency.as_deref()))
        )?;
        writeln!(
            x,
            "  <TransferringAgency>\n    <Identifier>{}</Identifier>\n  </TransferringAgency>",
            esc(&token(self.transferring_agency.as_deref()))
        )?;
        x.write_all("</ArchiveTransferReply>\n".as_bytes())?;
        x.flush()
    }
}
