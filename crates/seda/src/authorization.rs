//! The SEDA messages of an elimination: the requests for authorisation (to the control
//! authority, `AuthorizationControlAuthorityRequest`, and to the producer,
//! `AuthorizationOriginatingAgencyRequest`), their replies, and the
//! `ArchiveDestructionNotification`. Written in SEDA 2.1, 2.2 or 2.3 and valid against the
//! official XSD of each; streamed, since a request lists every unit.
//!
//! The control authority's request may embed the producer's reply, as SEDA allows
//! (`AuthorizationRequestContent/AuthorizationRequestReply`, an abstract type made concrete
//! with `xsi:type`).

use crate::SedaVersion;
use quick_xml::escape::escape;
use std::io::{self, Write};

/// Which authority a request goes to, or a reply comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// The control authority (the Archives départementales): `ControlAuthority`.
    ControlAuthority,
    /// The producer: `OriginatingAgency`.
    OriginatingAgency,
}

impl Authority {
    fn element(self) -> &'static str {
        match self {
            Authority::ControlAuthority => "ControlAuthority",
            Authority::OriginatingAgency => "OriginatingAgency",
        }
    }
    fn request(self) -> &'static str {
        match self {
            Authority::ControlAuthority => "AuthorizationControlAuthorityRequest",
            Authority::OriginatingAgency => "AuthorizationOriginatingAgencyRequest",
        }
    }
}

/// A reply to a request for authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationReply {
    pub from: Authority,
    pub message_identifier: String,
    /// `YYYY-MM-DDThh:mm:ss…`.
    pub date: String,
    pub comments: Vec<String>,
    /// The request answered.
    pub request_identifier: String,
    /// SEDA's reply codes: `OK` (granted), `KO` (refused), or a partial grant's own code.
    pub reply_code: String,
    pub archival_agency: String,
    /// The control authority's or the producer's identifier.
    pub authority: String,
}

/// A request for authorisation to destroy (or communicate…) units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub to: Authority,
    pub message_identifier: String,
    pub date: String,
    pub comments: Vec<String>,
    pub archival_agreement: Option<String>,
    /// `AuthorizationReason`: what is asked (e.g. `Destruction`).
    pub reason: String,
    /// `YYYY-MM-DD`.
    pub request_date: String,
    pub requester: String,
    pub archival_agency: String,
    /// The control authority's or the producer's identifier.
    pub authority: String,
    /// Replies already given, embedded (the producer's agreement in the request to the
    /// control authority).
    pub replies: Vec<AuthorizationReply>,
}

/// The notification that units were destroyed under an authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestructionNotification {
    pub message_identifier: String,
    pub date: String,
    pub comments: Vec<String>,
    /// The control authority's reply that authorised it.
    pub reply_identifier: String,
    pub archival_agency: String,
    pub originating_agency: String,
}

fn namespace(version: SedaVersion) -> io::Result<&'static str> {
    match version {
        SedaVersion::V2_1 => Ok("fr:gouv:culture:archivesdefrance:seda:v2.1"),
        SedaVersion::V2_2 => Ok("fr:gouv:culture:archivesdefrance:seda:v2.2"),
        SedaVersion::V2_3 => Ok("fr:gouv:culture:archivesdefrance:seda:v2.3"),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the authorisation messages are written in SEDA 2.1 to 2.3, not {other}"),
        )),
    }
}

fn message_head(
    w: &mut dyn Write,
    comments: &[String],
    date: &str,
    identifier: &str,
) -> io::Result<()> {
    for c in comments {
        write!(w, "<Comment>{}</Comment>", escape(c.as_str()))?;
    }
    write!(
        w,
        "<Date>{}</Date><MessageIdentifier>{}</MessageIdentifier>",
        escape(date),
        escape(identifier)
    )
}

fn organization(w: &mut dyn Write, element: &str, identifier: &str) -> io::Result<()> {
    write!(
        w,
        "<{element}><Identifier>{}</Identifier></{element}>",
        escape(identifier)
    )
}

/// `UnitIdentifier` elements, one a line; `what` names at least one.
fn unit_identifiers(
    w: &mut dyn Write,
    units: &mut dyn Iterator<Item = String>,
    what: &str,
) -> io::Result<()> {
    let mut any = false;
    for u in units {
        any = true;
        write!(
            w,
            "\n<UnitIdentifier>{}</UnitIdentifier>",
            escape(u.as_str())
        )?;
    }
    if !any {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} names at least one unit"),
        ));
    }
    writeln!(w)
}

/// The body of a reply, inside its element (shared by a reply on its own and one embedded).
fn reply_body(w: &mut dyn Write, r: &AuthorizationReply) -> io::Result<()> {
    message_head(w, &r.comments, &r.date, &r.message_identifier)?;
    write!(
        w,
        "<CodeListVersions/><ReplyCode>{}</ReplyCode><MessageRequestIdentifier>{}</MessageRequestIdentifier>",
        escape(r.reply_code.as_str()),
        escape(r.request_identifier.as_str())
    )?;
    organization(w, "ArchivalAgency", &r.archival_agency)?;
    organization(w, r.from.element(), &r.authority)
}

/// Writes a reply to a request for authorisation.
pub fn write_reply(
    w: &mut dyn Write,
    version: SedaVersion,
    reply: &AuthorizationReply,
) -> io::Result<()> {
    let element = format!("{}Reply", reply.from.request());
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{element} xmlns=\"{}\">",
        namespace(version)?
    )?;
    reply_body(w, reply)?;
    writeln!(w, "</{element}>")
}

/// Writes a request for authorisation listing `units` (system identifiers), streamed.
pub fn write_request(
    w: &mut dyn Write,
    version: SedaVersion,
    request: &AuthorizationRequest,
    units: &mut dyn Iterator<Item = String>,
) -> io::Result<()> {
    let element = request.to.request();
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{element} xmlns=\"{}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">",
        namespace(version)?
    )?;
    message_head(
        w,
        &request.comments,
        &request.date,
        &request.message_identifier,
    )?;
    if let Some(a) = &request.archival_agreement {
        write!(
            w,
            "<ArchivalAgreement>{}</ArchivalAgreement>",
            escape(a.as_str())
        )?;
    }
    write!(
        w,
        "<CodeListVersions/><AuthorizationRequestContent><AuthorizationReason>{}</AuthorizationReason><RequestDate>{}</RequestDate>",
        escape(request.reason.as_str()),
        escape(request.request_date.as_str())
    )?;
    unit_identifiers(w, units, "a request for authorisation")?;
    organization(w, "Requester", &request.requester)?;
    for r in &request.replies {
        write!(
            w,
            "<AuthorizationRequestReply xsi:type=\"{}ReplyType\">",
            r.from.request()
        )?;
        reply_body(w, r)?;
        write!(w, "</AuthorizationRequestReply>")?;
    }
    write!(w, "</AuthorizationRequestContent>")?;
    organization(w, "ArchivalAgency", &request.archival_agency)?;
    organization(w, request.to.element(), &request.authority)?;
    writeln!(w, "</{element}>")
}

/// Writes the notification that `units` were destroyed, streamed.
pub fn write_destruction_notification(
    w: &mut dyn Write,
    version: SedaVersion,
    n: &DestructionNotification,
    units: &mut dyn Iterator<Item = String>,
) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ArchiveDestructionNotification xmlns=\"{}\">",
        namespace(version)?
    )?;
    message_head(w, &n.comments, &n.date, &n.message_identifier)?;
    write!(
        w,
        "<CodeListVersions/><AuthorizationRequestReplyIdentifier>{}</AuthorizationRequestReplyIdentifier>",
        escape(n.reply_identifier.as_str())
    )?;
    unit_identifiers(w, units, "a destruction notification")?;
    organization(w, "ArchivalAgency", &n.archival_agency)?;
    organization(w, "OriginatingAgency", &n.originating_agency)?;
    writeln!(w, "</ArchiveDestructionNotification>")
}

/// The notification to the producer that units changed hands or content
/// (`ArchiveModificationNotification`): after a transfer out, the units now held by the
/// definitive archives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModificationNotification {
    pub message_identifier: String,
    pub date: String,
    pub comments: Vec<String>,
    pub archival_agency: String,
    pub originating_agency: String,
}

/// Writes the notification that `units` were modified (transferred out), streamed.
pub fn write_modification_notification(
    w: &mut dyn Write,
    version: SedaVersion,
    n: &ModificationNotification,
    units: &mut dyn Iterator<Item = String>,
) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ArchiveModificationNotification xmlns=\"{}\">",
        namespace(version)?
    )?;
    message_head(w, &n.comments, &n.date, &n.message_identifier)?;
    write!(w, "<CodeListVersions/>")?;
    unit_identifiers(w, units, "a modification notification")?;
    organization(w, "ArchivalAgency", &n.archival_agency)?;
    organization(w, "OriginatingAgency", &n.originating_agency)?;
    writeln!(w, "</ArchiveModificationNotification>")
}

/// The archive's request that the producer take its records back
/// (`ArchiveRestitutionRequest`), streamed.
pub fn write_restitution_request(
    w: &mut dyn Write,
    version: SedaVersion,
    n: &ModificationNotification,
    units: &mut dyn Iterator<Item = String>,
) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ArchiveRestitutionRequest xmlns=\"{}\">",
        namespace(version)?
    )?;
    message_head(w, &n.comments, &n.date, &n.message_identifier)?;
    write!(w, "<CodeListVersions/>")?;
    unit_identifiers(w, units, "a restitution request")?;
    organization(w, "ArchivalAgency", &n.archival_agency)?;
    organization(w, "OriginatingAgency", &n.originating_agency)?;
    writeln!(w, "</ArchiveRestitutionRequest>")
}

/// The answer to a request for communication (`ArchiveDeliveryRequestReply`): what was
/// delivered, to whom, under which authorisation if a derogation was needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReply {
    pub message_identifier: String,
    pub date: String,
    pub comments: Vec<String>,
    /// `OK`, or SEDA's code of a refusal.
    pub reply_code: String,
    /// The request answered.
    pub request_identifier: String,
    /// The control authority's reply that authorised a derogation, if one was needed.
    pub authorization_reply: Option<String>,
    pub archival_agency: String,
    pub requester: String,
}

/// Writes the answer to a request for communication listing the units delivered, streamed.
pub fn write_delivery_reply(
    w: &mut dyn Write,
    version: SedaVersion,
    r: &DeliveryReply,
    units: &mut dyn Iterator<Item = String>,
) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ArchiveDeliveryRequestReply xmlns=\"{}\">",
        namespace(version)?
    )?;
    message_head(w, &r.comments, &r.date, &r.message_identifier)?;
    write!(
        w,
        "<CodeListVersions/><ReplyCode>{}</ReplyCode><MessageRequestIdentifier>{}</MessageRequestIdentifier>",
        escape(r.reply_code.as_str()),
        escape(r.request_identifier.as_str())
    )?;
    if let Some(a) = &r.authorization_reply {
        write!(
            w,
            "<AuthorizationRequestReplyIdentifier>{}</AuthorizationRequestReplyIdentifier>",
            escape(a.as_str())
        )?;
    }
    unit_identifiers(w, units, "an answer to a request for communication")?;
    organization(w, "ArchivalAgency", &r.archival_agency)?;
    organization(w, "Requester", &r.requester)?;
    writeln!(w, "</ArchiveDeliveryRequestReply>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(from: Authority, code: &str) -> AuthorizationReply {
        AuthorizationReply {
            from,
            message_identifier: "reply-1".into(),
            date: "2026-12-04T10:00:00Z".into(),
            comments: vec!["Accord <sans> réserve & merci".into()],
            request_identifier: "elim-1".into(),
            reply_code: code.into(),
            archival_agency: "CARNAC".into(),
            authority: "AD35".into(),
        }
    }

    fn valid(version: SedaVersion, xml: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.xml");
        std::fs::write(&path, xml).unwrap();
        if let Err(e) = crate::schema::validate_seda(version, &path) {
            panic!("SEDA {version}: {e:?}\n{}", String::from_utf8_lossy(xml));
        }
    }

    #[test]
    fn every_message_is_valid_in_every_seda_2_version() {
        for version in [SedaVersion::V2_1, SedaVersion::V2_2, SedaVersion::V2_3] {
            let agreement = reply(Authority::OriginatingAgency, "OK");
            let mut out = Vec::new();
            write_request(
                &mut out,
                version,
                &AuthorizationRequest {
                    to: Authority::ControlAuthority,
                    message_identifier: "elim-1".into(),
                    date: "2026-12-04T09:00:00Z".into(),
                    comments: vec!["Élimination des dossiers 2010".into()],
                    archival_agreement: Some("ArchivalAgreement0".into()),
                    reason: "Destruction".into(),
                    request_date: "2026-12-04".into(),
                    requester: "CARNAC".into(),
                    archival_agency: "CARNAC".into(),
                    authority: "AD35".into(),
                    replies: vec![agreement.clone()],
                },
                &mut ["au-1", "au-2"].into_iter().map(String::from),
            )
            .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out)
                    .matches("<UnitIdentifier>")
                    .count(),
                2
            );
            valid(version, &out);
            let mut to_producer = Vec::new();
            write_request(
                &mut to_producer,
                version,
                &AuthorizationRequest {
                    to: Authority::OriginatingAgency,
                    archival_agreement: None,
                    replies: vec![],
                    message_identifier: "elim-1-producer".into(),
                    date: "2026-12-04T09:00:00Z".into(),
                    comments: vec![],
                    reason: "Destruction".into(),
                    request_date: "2026-12-04".into(),
                    requester: "CARNAC".into(),
                    archival_agency: "CARNAC".into(),
                    authority: "PROD".into(),
                },
                &mut std::iter::once("au-1".to_owned()),
            )
            .unwrap();
            valid(version, &to_producer);
            for r in [agreement, reply(Authority::ControlAuthority, "KO")] {
                let mut out = Vec::new();
                write_reply(&mut out, version, &r).unwrap();
                valid(version, &out);
            }
            let mut out = Vec::new();
            write_destruction_notification(
                &mut out,
                version,
                &DestructionNotification {
                    message_identifier: "exec-1".into(),
                    date: "2026-12-05T09:00:00Z".into(),
                    comments: vec![],
                    reply_identifier: "visa-1".into(),
                    archival_agency: "CARNAC".into(),
                    originating_agency: "PROD".into(),
                },
                &mut ["au-1"].into_iter().map(String::from),
            )
            .unwrap();
            valid(version, &out);
            let mut out = Vec::new();
            write_modification_notification(
                &mut out,
                version,
                &ModificationNotification {
                    message_identifier: "transfer-1".into(),
                    date: "2026-12-05T09:00:00Z".into(),
                    comments: vec!["Versées aux Archives départementales (AD56)".into()],
                    archival_agency: "CARNAC".into(),
                    originating_agency: "PROD".into(),
                },
                &mut ["au-1", "au-2"].into_iter().map(String::from),
            )
            .unwrap();
            valid(version, &out);
            let mut out = Vec::new();
            write_restitution_request(
                &mut out,
                version,
                &ModificationNotification {
                    message_identifier: "restitution-1".into(),
                    date: "2026-12-05T09:00:00Z".into(),
                    comments: vec!["Fin du contrat".into()],
                    archival_agency: "CARNAC".into(),
                    originating_agency: "PROD".into(),
                },
                &mut ["au-1"].into_iter().map(String::from),
            )
            .unwrap();
            valid(version, &out);
        }
    }

    #[test]
    fn an_empty_list_and_seda_1_are_refused() {
        let r = AuthorizationRequest {
            to: Authority::ControlAuthority,
            message_identifier: "m".into(),
            date: "2026-12-04T09:00:00Z".into(),
            comments: vec![],
            archival_agreement: None,
            reason: "Destruction".into(),
            request_date: "2026-12-04".into(),
            requester: "A".into(),
            archival_agency: "A".into(),
            authority: "C".into(),
            replies: vec![],
        };
        assert!(
            write_request(
                &mut Vec::new(),
                SedaVersion::V2_2,
                &r,
                &mut std::iter::empty()
            )
            .is_err()
        );
        assert!(
            write_request(
                &mut Vec::new(),
                SedaVersion::V1_0,
                &r,
                &mut std::iter::once("u".to_owned())
            )
            .is_err()
        );
    }

    #[test]
    fn delivery_replies_are_valid_in_every_version() {
        for version in [SedaVersion::V2_1, SedaVersion::V2_2, SedaVersion::V2_3] {
            for authorization in [None, Some("deroge-1-visa".to_owned())] {
                let mut xml = Vec::new();
                write_delivery_reply(
                    &mut xml,
                    version,
                    &DeliveryReply {
                        message_identifier: "op-1".into(),
                        date: "2026-12-04T10:00:00Z".into(),
                        comments: vec!["Communication à la mairie".into()],
                        reply_code: "OK".into(),
                        request_identifier: "demande-1".into(),
                        authorization_reply: authorization.clone(),
                        archival_agency: "CARNAC".into(),
                        requester: "Mairie de Vannes".into(),
                    },
                    &mut ["u-1", "u-2"].into_iter().map(String::from),
                )
                .unwrap();
                valid(version, &xml);
                let text = String::from_utf8(xml).unwrap();
                assert_eq!(text.matches("<UnitIdentifier>").count(), 2);
                assert_eq!(
                    text.contains("<AuthorizationRequestReplyIdentifier>"),
                    authorization.is_some()
                );
            }
        }
        // No unit: no answer (SEDA asks for one at least).
        let mut xml = Vec::new();
        assert!(
            write_delivery_reply(
                &mut xml,
                SedaVersion::V2_2,
                &DeliveryReply {
                    message_identifier: "m".into(),
                    date: "2026-12-04T10:00:00Z".into(),
                    comments: vec![],
                    reply_code: "OK".into(),
                    request_identifier: "r".into(),
                    authorization_reply: None,
                    archival_agency: "A".into(),
                    requester: "R".into(),
                },
                &mut std::iter::empty(),
            )
            .is_err()
        );
    }
}
