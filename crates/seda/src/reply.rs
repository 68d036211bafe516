//! The ArchiveTransferReply (ATR), written in the transfer's SEDA version and valid against
//! its official XSD: the reply code, one event per ingest step, and the system identifiers
//! given to every unit, object group and object.

use crate::SedaVersion;
use carnac_model::Status;
use quick_xml::escape::escape;
use std::fmt::Write as _;

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
    pub groups: Vec<ReplyGroup>,
    pub units: Vec<ReplyUnit>,
    pub archival_agency: Option<String>,
    pub transferring_agency: Option<String>,
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
    pub fn to_xml(&self) -> String {
        let objects: usize = self.groups.iter().map(|g| g.objects.len()).sum();
        let mut x = String::with_capacity(
            4096 + 300 * self.units.len() + 400 * objects + 300 * self.events.len(),
        );
        let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            x,
            r#"<ArchiveTransferReply xmlns="{}" xmlns:xlink="http://www.w3.org/1999/xlink">"#,
            self.version.namespace()
        );
        let _ = writeln!(x, "  <Date>{}</Date>", esc(&self.date));
        let _ = writeln!(
            x,
            "  <MessageIdentifier>{}</MessageIdentifier>",
            esc(&self.message_identifier)
        );
        if let Some(a) = self
            .archival_agreement
            .as_deref()
            .filter(|a| !a.trim().is_empty())
        {
            let _ = writeln!(x, "  <ArchivalAgreement>{}</ArchivalAgreement>", esc(a));
        }
        x.push_str("  <CodeListVersions>\n");
        x.push_str("    <ReplyCodeListVersion>Carnac-ReplyCode-1</ReplyCodeListVersion>\n");
        x.push_str("    <MessageDigestAlgorithmCodeListVersion>Carnac-DigestAlgorithm-1</MessageDigestAlgorithmCodeListVersion>\n");
        x.push_str("    <FileFormatCodeListVersion>PRONOM</FileFormatCodeListVersion>\n");
        x.push_str("  </CodeListVersions>\n");
        if !self.units.is_empty() || !self.groups.is_empty() {
            x.push_str("  <DataObjectPackage>\n");
            for g in &self.groups {
                let _ = writeln!(x, r#"    <DataObjectGroup id="{}">"#, esc(&g.xml_id));
                for o in &g.objects {
                    let element = if o.physical {
                        "PhysicalDataObject"
                    } else {
                        "BinaryDataObject"
                    };
                    let _ = writeln!(x, r#"      <{element} id="{}">"#, esc(&o.xml_id));
                    let _ = writeln!(
                        x,
                        "        <DataObjectSystemId>{}</DataObjectSystemId>",
                        esc(&o.system_id)
                    );
                    let _ = writeln!(
                        x,
                        "        <DataObjectGroupSystemId>{}</DataObjectGroupSystemId>",
                        esc(&o.group_system_id)
                    );
                    if let Some(v) = &o.version {
                        let _ = writeln!(
                            x,
                            "        <DataObjectVersion>{}</DataObjectVersion>",
                            esc(v)
                        );
                    }
                    let _ = writeln!(x, "      </{element}>");
                }
                x.push_str("    </DataObjectGroup>\n");
            }
            x.push_str("    <DescriptiveMetadata>\n");
            for u in &self.units {
                let _ = writeln!(x, r#"      <ArchiveUnit id="{}">"#, esc(&u.xml_id));
                x.push_str("        <Content>\n");
                let _ = writeln!(x, "          <Title>{}</Title>", esc(&u.title));
                let _ = writeln!(x, "          <SystemId>{}</SystemId>", esc(&u.system_id));
                x.push_str("        </Content>\n");
                x.push_str("      </ArchiveUnit>\n");
            }
            x.push_str("    </DescriptiveMetadata>\n");
            x.push_str("    <ManagementMetadata>\n");
            if let Some(p) = self
                .archival_profile
                .as_deref()
                .filter(|p| !p.trim().is_empty())
            {
                let _ = writeln!(x, "      <ArchivalProfile>{}</ArchivalProfile>", esc(p));
            }
            x.push_str("    </ManagementMetadata>\n");
            x.push_str("  </DataObjectPackage>\n");
        }
        let _ = writeln!(x, "  <ReplyCode>{}</ReplyCode>", reply_code(self.status));
        if !self.events.is_empty() {
            x.push_str("  <Operation>\n");
            for e in &self.events {
                x.push_str("    <Event>\n");
                let _ = writeln!(
                    x,
                    "      <EventTypeCode>{}</EventTypeCode>",
                    esc(&e.type_code)
                );
                let _ = writeln!(x, "      <EventType>{}</EventType>", esc(&e.label));
                let _ = writeln!(
                    x,
                    "      <EventDateTime>{}</EventDateTime>",
                    esc(&e.date_time)
                );
                let _ = writeln!(x, "      <Outcome>{}</Outcome>", e.outcome.as_str());
                let _ = writeln!(
                    x,
                    "      <OutcomeDetail>{}</OutcomeDetail>",
                    esc(&e.outcome_detail)
                );
                if !e.message.is_empty() {
                    let _ = writeln!(
                        x,
                        "      <OutcomeDetailMessage>{}</OutcomeDetailMessage>",
                        esc(&e.message)
                    );
                }
                x.push_str("    </Event>\n");
            }
            x.push_str("  </Operation>\n");
        }
        let _ = writeln!(
            x,
            "  <MessageRequestIdentifier>{}</MessageRequestIdentifier>",
            esc(&token(self.request_identifier.as_deref()))
        );
        if let Some(g) = &self.grant_date {
            let _ = writeln!(x, "  <GrantDate>{}</GrantDate>", esc(g));
        }
        let _ = writeln!(
            x,
            "  <ArchivalAgency>\n    <Identifier>{}</Identifier>\n  </ArchivalAgency>",
            esc(&token(self.archival_agency.as_deref()))
        );
        let _ = writeln!(
            x,
            "  <TransferringAgency>\n    <Identifier>{}</Identifier>\n  </TransferringAgency>",
            esc(&token(self.transferring_agency.as_deref()))
        );
        x.push_str("</ArchiveTransferReply>\n");
        x
    }
}
