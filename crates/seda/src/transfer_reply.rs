//! What the archive reads of the messages a receiving SAE sends back about a transfer that
//! Carnac made (a transfer out, a restitution): its `Acknowledgement` and its
//! `ArchiveTransferReply`, in SEDA 2.1 to 2.3 or 1.0.
//!
//! Read leniently, as the field writes them: Vitam leaves empty `*CodeListVersion` elements
//! and as@lae a stray text node, neither valid against the XSD; as@lae's SEDA 2.1 reply
//! swaps its identifiers (`MessageIdentifier` is the transfer's, `MessageRequestIdentifier`
//! its own). What matters is checked: the root, the namespace, the transfer answered, the
//! code, and the units listed (`ArchiveUnit/@id`, as the transfer named them, with the
//! receiver's `SystemId` or `ArchivalAgencyArchiveUnitIdentifier`). No DOCTYPE, no entity,
//! depth and sizes bounded: the reader takes bytes and never resolves anything.

use quick_xml::events::Event;
use std::collections::BTreeMap;

/// The largest reply read (a reply lists every unit transferred).
pub const MAX_REPLY_BYTES: usize = 64 << 20;
/// The deepest nesting read.
const MAX_DEPTH: usize = 256;
/// The longest text kept of one element.
const MAX_TEXT: usize = 4096;

/// A message about a transfer, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferMessage {
    Acknowledgement {
        /// The acknowledgement's own identifier.
        identifier: String,
        /// The transfer it acknowledges (`MessageReceivedIdentifier`).
        received: String,
    },
    Reply(TransferReply),
    /// The producer's `ArchiveRestitutionRequestReply` (its code, the request it answers).
    RestitutionReply(TransferReply),
}

/// An `ArchiveTransferReply`, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReply {
    /// The SEDA version of its namespace (`1.0`, `2.1`…).
    pub version: String,
    /// Its `MessageIdentifier` (SEDA 1.0: `TransferReplyIdentifier`).
    pub identifier: String,
    /// Its `MessageRequestIdentifier` (SEDA 1.0: `TransferIdentifier`).
    pub request: String,
    pub reply_code: String,
    pub grant_date: Option<String>,
    pub archival_agency: Option<String>,
    /// The units it lists, by the identifier the transfer gave them (`ArchiveUnit/@id`),
    /// each with the receiver's identifier for it when given.
    pub units: BTreeMap<String, Option<String>>,
}

impl TransferReply {
    /// Whether its code accepts the transfer: SEDA 2's `OK` and `WARNING` (Vitam), and the
    /// `000`/`001` of the SEDA 1.0 code list that as@lae keeps (`000` accepted, `001`
    /// accepted with a warning); any other code refuses it.
    pub fn accepts(&self) -> bool {
        matches!(self.reply_code.as_str(), "OK" | "WARNING" | "000" | "001")
    }

    /// Whether it answers the transfer `identifier`: by `MessageRequestIdentifier`, or, as
    /// as@lae writes its SEDA 2.1 replies, by `MessageIdentifier`.
    pub fn answers(&self, identifier: &str) -> bool {
        self.request == identifier || self.identifier == identifier
    }
}

/// Why a message cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplyError {
    #[error("the message has {0} bytes; at most {MAX_REPLY_BYTES}")]
    TooLarge(usize),
    #[error("the message is not well-formed XML: {0}")]
    Xml(String),
    #[error("the message declares a DOCTYPE: refused")]
    Doctype,
    #[error("the message nests elements deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error(
        "the message is a {0}, not an Acknowledgement, an ArchiveTransferReply or an ArchiveRestitutionRequestReply"
    )]
    NotAReply(String),
    #[error("the message's namespace {0:?} is not SEDA 1.0 or 2.x")]
    Namespace(String),
    #[error("the message has no {0}")]
    Missing(&'static str),
}

/// Reads an `Acknowledgement` or an `ArchiveTransferReply`.
pub fn read_transfer_message(bytes: &[u8]) -> Result<TransferMessage, ReplyError> {
    if bytes.len() > MAX_REPLY_BYTES {
        return Err(ReplyError::TooLarge(bytes.len()));
    }
    let mut reader = quick_xml::NsReader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    // Local names of the open elements, from the root.
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut root: Option<(String, String)> = None;
    let mut fields: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut units: BTreeMap<String, Option<String>> = BTreeMap::new();
    // The units open (their @id), innermost last, and whether each got an identifier.
    let mut open_units: Vec<(usize, String)> = Vec::new();
    let mut text = String::new();
    let xml = |e: quick_xml::Error| ReplyError::Xml(e.to_string());
    loop {
        match reader.read_resolved_event_into(&mut buf).map_err(xml)? {
            (_, Event::DocType(_)) => return Err(ReplyError::Doctype),
            (ns, Event::Start(e)) => {
                let name = e.local_name().as_ref().to_vec();
                if root.is_none() {
                    let ns = match ns {
                        quick_xml::name::ResolveResult::Bound(n) => {
                            String::from_utf8_lossy(n.as_ref()).into_owned()
                        }
                        _ => String::new(),
                    };
                    root = Some((String::from_utf8_lossy(&name).into_owned(), ns));
                }
                if name == b"ArchiveUnit" {
                    let id = e
                        .try_get_attribute("id")
                        .map_err(|e| ReplyError::Xml(e.to_string()))?
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                    if let Some(id) = id {
                        units.entry(id.clone()).or_insert(None);
                        open_units.push((path.len() + 1, id));
                    }
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(ReplyError::TooDeep);
                }
                text.clear();
            }
            (ns, Event::Empty(e)) => {
                if root.is_none() {
                    let ns = match ns {
                        quick_xml::name::ResolveResult::Bound(n) => {
                            String::from_utf8_lossy(n.as_ref()).into_owned()
                        }
                        _ => String::new(),
                    };
                    root = Some((
                        String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ns,
                    ));
                }
                if e.local_name().as_ref() == b"ArchiveUnit"
                    && let Some(id) = e
                        .try_get_attribute("id")
                        .map_err(|e| ReplyError::Xml(e.to_string()))?
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                {
                    units.entry(id).or_insert(None);
                }
            }
            (_, Event::Text(t)) if text.len() < MAX_TEXT => {
                let piece = t.decode().map_err(|e| ReplyError::Xml(e.to_string()))?;
                text.push_str(&piece);
                if text.len() > MAX_TEXT {
                    let mut cut = MAX_TEXT;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                }
            }
            (_, Event::GeneralRef(_)) => {
                // The five predefined entities and character references are all a reply
                // needs in an identifier; anything else is not resolved.
            }
            (_, Event::End(_)) => {
                let value = text.trim().to_owned();
                text.clear();
                let depth = path.len();
                if let Some(name) = path.pop() {
                    // Children of the root.
                    if depth == 2 {
                        let key = match name.as_slice() {
                            b"MessageIdentifier" | b"TransferReplyIdentifier" => Some("identifier"),
                            b"AcknowledgementIdentifier" => Some("identifier"),
                            b"MessageRequestIdentifier" | b"TransferIdentifier" => Some("request"),
                            b"MessageReceivedIdentifier" => Some("received"),
                            b"ReplyCode" => Some("code"),
                            b"GrantDate" => Some("grant_date"),
                            _ => None,
                        };
                        if let Some(k) = key {
                            fields.insert(k, value.clone());
                        }
                    }
                    // ArchivalAgency/Identifier (2.x) or /Identification (1.0).
                    if depth == 3
                        && path.get(1).is_some_and(|p| p == b"ArchivalAgency")
                        && matches!(name.as_slice(), b"Identifier" | b"Identification")
                    {
                        fields.insert("archival_agency", value.clone());
                    }
                    // A unit's identifier at the receiver: its SystemId (Vitam, Carnac) or
                    // its ArchivalAgencyArchiveUnitIdentifier (as@lae), in its Content.
                    if let Some((unit_depth, id)) = open_units.last()
                        && depth == unit_depth + 2
                        && path.get(unit_depth + 1).is_none_or(|p| p == b"Content")
                        && !value.is_empty()
                    {
                        match name.as_slice() {
                            b"SystemId" => {
                                units.insert(id.clone(), Some(value.clone()));
                            }
                            b"ArchivalAgencyArchiveUnitIdentifier" => {
                                if let Some(slot) = units.get_mut(id)
                                    && slot.is_none()
                                {
                                    *slot = Some(value.clone());
                                }
                            }
                            _ => {}
                        }
                    }
                    if name == b"ArchiveUnit" && open_units.last().is_some_and(|(d, _)| *d == depth)
                    {
                        open_units.pop();
                    }
                }
            }
            (_, Event::Eof) => break,
            _ => {}
        }
        buf.clear();
    }
    let (element, namespace) = root.ok_or(ReplyError::Missing("root element"))?;
    let version = namespace
        .strip_prefix("fr:gouv:culture:archivesdefrance:seda:v")
        .filter(|v| matches!(*v, "1.0" | "2.1" | "2.2" | "2.3"))
        .ok_or_else(|| ReplyError::Namespace(namespace.clone()))?
        .to_owned();
    let mut take = |k: &'static str, what: &'static str| {
        fields
            .remove(k)
            .filter(|v| !v.is_empty())
            .ok_or(ReplyError::Missing(what))
    };
    match element.as_str() {
        "Acknowledgement" => Ok(TransferMessage::Acknowledgement {
            identifier: take("identifier", "MessageIdentifier")?,
            received: take("received", "MessageReceivedIdentifier")?,
        }),
        "ArchiveTransferReply" | "ArchiveRestitutionRequestReply" => {
            let identifier = take("identifier", "MessageIdentifier")?;
            let reply_code = take("code", "ReplyCode")?;
            // Vitam leaves it empty in a rejection: then the reply answers nothing by it.
            let request = fields.remove("request").unwrap_or_default();
            let reply = TransferReply {
                version,
                identifier,
                request,
                reply_code,
                grant_date: fields.remove("grant_date"),
                archival_agency: fields.remove("archival_agency"),
                units,
            };
            Ok(if element == "ArchiveTransferReply" {
                TransferMessage::Reply(reply)
            } else {
                TransferMessage::RestitutionReply(reply)
            })
        }
        other => Err(ReplyError::NotAReply(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/asalae/ack-atr")
                .join(name),
        )
        .unwrap()
    }

    fn reply(name: &str) -> TransferReply {
        match read_transfer_message(&sample(name)).unwrap() {
            TransferMessage::Reply(r) => r,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// Vitam's ATR (empty code list versions, not XSD-valid): accepted, answering the
    /// transfer by `MessageRequestIdentifier`, each unit with its `SystemId`.
    #[test]
    fn a_vitam_reply_is_read_with_each_units_system_id() {
        let ok = reply("atr_vitam_ok.xml");
        assert!(ok.accepts());
        assert_eq!(ok.version, "2.1");
        assert!(ok.answers("ef311f05-2a6f-40fe-b015-00b8ebeafcbd"));
        assert_eq!(ok.archival_agency.as_deref(), Some("SA-000001"));
        assert_eq!(
            ok.units.get("idef311f05-2a6f-40fe-b015-00b8ebeafcbd"),
            Some(&Some("aeaqaaaaaafdat3yadroqamc2a77c6yaaaba".to_owned()))
        );
        assert_eq!(ok.units.len(), 2);
        let ko = reply("atr_vitam_ko.xml");
        assert!(!ko.accepts());
        assert_eq!(ko.reply_code, "KO");
    }

    /// as@lae's SEDA 2.1 ATR: `000` accepts, `101` refuses; it names the transfer in its
    /// `MessageIdentifier`; its units carry the archive's own identifier; nested units too.
    #[test]
    fn an_asalae_reply_is_read_with_its_swapped_identifiers() {
        let ok = reply("atr_asalae_ok.xml");
        assert!(ok.accepts());
        assert!(ok.answers(
            "15ef78ef665a8777c33d1125783707f8dfb190f82869dc9248e46c5ed396d70b_1542893421"
        ));
        assert_eq!(
            ok.units.get("id2ee68b10-59fb-46f4-92ad-c8c0040375e9"),
            Some(&Some("AE_2022_15".to_owned()))
        );
        assert_eq!(
            ok.units
                .get("archive_file_id_edcec601-cc7a-4988-844c-86d1afa480c8"),
            Some(&Some("AE_2022_15_0001".to_owned()))
        );
        let ko = reply("atr_asalae_ko.xml");
        assert!(!ko.accepts());
        assert_eq!(ko.reply_code, "101");
    }

    /// SEDA 1.0 (as@lae): the transfer by `TransferIdentifier`, `000` accepts, `300` refuses;
    /// its acknowledgement names what it received.
    #[test]
    fn seda_1_0_replies_and_acknowledgements() {
        let ok = reply("ATR-SEDA-1.0.xml");
        assert!(ok.accepts() && ok.version == "1.0");
        assert_eq!(ok.identifier, "ATR_213");
        assert!(ok.answers(
            "15ef78ef665a8777c33d1125783707f8dfb190f82869dc9248e46c5ed396d70b_1542893421"
        ));
        assert_eq!(ok.archival_agency.as_deref(), Some("FRAD000"));
        assert!(!reply("ATR-rejet-SEDA-1.0.xml").accepts());
        for name in ["ACK-SEDA-1.0.xml", "ack_asalae.xml"] {
            match read_transfer_message(&sample(name)).unwrap() {
                TransferMessage::Acknowledgement { received, .. } => assert_eq!(
                    received,
                    "15ef78ef665a8777c33d1125783707f8dfb190f82869dc9248e46c5ed396d70b_1542893421"
                ),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_is_not_a_reply_is_named() {
        let cases: [(&[u8], ReplyError); 5] = [
            (
                b"<!DOCTYPE x [<!ENTITY a 'b'>]><ArchiveTransferReply/>",
                ReplyError::Doctype,
            ),
            (
                b"<ArchiveTransfer xmlns='fr:gouv:culture:archivesdefrance:seda:v2.1'/>",
                ReplyError::NotAReply("ArchiveTransfer".into()),
            ),
            (
                b"<ArchiveTransferReply xmlns='urn:other'><MessageIdentifier>x</MessageIdentifier></ArchiveTransferReply>",
                ReplyError::Namespace("urn:other".into()),
            ),
            (
                b"<ArchiveTransferReply xmlns='fr:gouv:culture:archivesdefrance:seda:v2.2'><MessageIdentifier>x</MessageIdentifier></ArchiveTransferReply>",
                ReplyError::Missing("ReplyCode"),
            ),
            (b"<a><b></a>", ReplyError::Xml(String::new())),
        ];
        for (xml, expected) in cases {
            let got = read_transfer_message(xml).unwrap_err();
            match (&got, &expected) {
                (ReplyError::Xml(_), ReplyError::Xml(_)) => {}
                _ => assert_eq!(got, expected),
            }
        }
        let deep = format!(
            "<ArchiveTransferReply xmlns='fr:gouv:culture:archivesdefrance:seda:v2.1'>{}",
            "<a>".repeat(300)
        );
        assert_eq!(
            read_transfer_message(deep.as_bytes()).unwrap_err(),
            ReplyError::TooDeep
        );
    }
}
