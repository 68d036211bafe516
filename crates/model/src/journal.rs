//! Journal events: what happened, to which tenant, in which operation, with which outcome.
//!
//! Events are append-only: the catalog never updates or deletes one. Each tenant's events form
//! a hash chain: an event's hash covers its canonical encoding, which contains its sequence
//! number and the previous event's hash, so that an event edited, removed, inserted or moved
//! breaks the chain where it happened ([`verify_chain`]).
//!
//! The canonical encoding (format version 1), which anyone can recompute without this
//! program: the JSON object
//! `{"agent","detail","format_version","kind","operation","outcome","previous","sequence","tenant","time"}`
//! serialised by the JSON Canonicalization Scheme (RFC 8785), where `previous` is the
//! lowercase hexadecimal SHA-256 of the previous event's encoding (64 zeros for the first
//! event of a tenant); the event's hash is the SHA-256 of those bytes.

use crate::{OperationId, Status, TenantId};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Version of the canonical encoding of an event.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// The `previous` hash of a tenant's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Declares [`EventKind`]: each variant with the name the journal stores.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What an event records, by the name the journal stores and the canonical encoding
        /// covers (`INGEST`, `JOURNAL_SEAL`…). A name this version does not know (an event
        /// written by a later one) is kept as it is ([`EventKind::Other`]).
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
            /// A name this version does not know.
            Other(String),
        }

        impl EventKind {
            /// The name the journal stores.
            pub fn as_str(&self) -> &str {
                match self {
                    $(EventKind::$variant => $name,)*
                    EventKind::Other(name) => name,
                }
            }
        }

        impl From<&str> for EventKind {
            fn from(name: &str) -> EventKind {
                match name {
                    $($name => EventKind::$variant,)*
                    other => EventKind::Other(other.to_owned()),
                }
            }
        }
    };
}

event_kinds! {
    /// A transfer ingested, accepted or not.
    Ingest = "INGEST",
    /// A queued transfer's ingest started again after a stop.
    IngestResumed = "INGEST_RESUMED",
    TransferReceived = "TRANSFER_RECEIVED",
    TransferAcknowledged = "TRANSFER_ACKNOWLEDGED",
    JournalSeal = "JOURNAL_SEAL",
    JournalVerify = "JOURNAL_VERIFY",
    JournalExport = "JOURNAL_EXPORT",
    Audit = "AUDIT",
    /// Copies written to an offer that lacked them (an offer added to a running archive).
    OfferSync = "OFFER_SYNC",
    /// An offer removed from the archive: its copies forgotten.
    OfferRemoval = "OFFER_REMOVAL",
    /// A request allowed.
    Access = "ACCESS",
    AccessRefused = "ACCESS_REFUSED",
    /// Refusals past the rate journaled one by one, counted.
    AccessRefusedSummary = "ACCESS_REFUSED_SUMMARY",
    LoginLocked = "LOGIN_LOCKED",
    PlatformCreate = "PLATFORM_CREATE",
    TenantCreate = "TENANT_CREATE",
    TenantSuspend = "TENANT_SUSPEND",
    TenantResume = "TENANT_RESUME",
    /// A tenant exported whole (reversibility), with the digest of its timestamped manifest.
    TenantExport = "TENANT_EXPORT",
    AccountCreate = "ACCOUNT_CREATE",
    AccountToken = "ACCOUNT_TOKEN",
    AccountTokenRevoked = "ACCOUNT_TOKEN_REVOKED",
    AccountCertificate = "ACCOUNT_CERTIFICATE",
    AccountDisable = "ACCOUNT_DISABLE",
    AccountEnable = "ACCOUNT_ENABLE",
    ReferentialImport = "REFERENTIAL_IMPORT",
    /// An evidence tree of deposited files, timestamped.
    EvidenceDeposit = "EVIDENCE_DEPOSIT",
    EvidenceTimestampRenewal = "EVIDENCE_TIMESTAMP_RENEWAL",
    EvidenceHashRenewal = "EVIDENCE_HASH_RENEWAL",
    EvidenceExport = "EVIDENCE_EXPORT",
    EvidenceReport = "EVIDENCE_REPORT",
    DepositAttestation = "DEPOSIT_ATTESTATION",
    /// Units ingested before their management rules were kept, given them from their
    /// transfer's manifest.
    RulesFill = "RULES_FILL",
    /// Management rules of a selection of units changed (the operation).
    RulesChange = "RULES_CHANGE",
    /// One unit's management rules changed, with what was before and after.
    UnitRulesChange = "UNIT_RULES_CHANGE",
    /// A unit's descriptive metadata corrected (the operation and its one event): the
    /// difference field by field, who, under which access contract.
    UnitMetadataChange = "UNIT_METADATA_CHANGE",
    /// An elimination proposed: the analysis, the bordereau and the request for the visa.
    EliminationProposal = "ELIMINATION_PROPOSAL",
    /// The producer's agreement to an elimination, or its refusal.
    EliminationAgreement = "ELIMINATION_AGREEMENT",
    /// The control authority's visa, granted (for all or part) or refused.
    EliminationVisa = "ELIMINATION_VISA",
    EliminationWithdrawal = "ELIMINATION_WITHDRAWAL",
    /// An elimination's execution begun: the units it destroys (in steps), those taken out
    /// when checked again.
    EliminationExecutionStart = "ELIMINATION_EXECUTION_START",
    /// An elimination executed: what its visa granted destroyed.
    EliminationExecution = "ELIMINATION_EXECUTION",
    /// One unit destroyed by an elimination, with its files' digests.
    UnitDestroyed = "UNIT_DESTROYED",
    /// A delivery (communication): units given to a requester as a package.
    Delivery = "DELIVERY",
    /// One unit given out by a delivery, to whom.
    UnitDelivered = "UNIT_DELIVERED",
    /// A request for communication of units still restricted, with a derogation asked of
    /// the control authority (`AuthorizationControlAuthorityRequest`).
    DeliveryRequest = "DELIVERY_REQUEST",
    /// The control authority refused a derogation: nothing delivered.
    DeliveryRefusal = "DELIVERY_REFUSAL",
    /// A delivered package removed when its time was up.
    DeliveryPackageRemoved = "DELIVERY_PACKAGE_REMOVED",
    /// A transfer out to the definitive archives: the selection analysed, its package made
    /// (an `ArchiveTransfer` with its evidence) and sent.
    TransferOut = "TRANSFER_OUT",
    /// The definitive archives' acknowledgement of a transfer out.
    TransferOutAcknowledgement = "TRANSFER_OUT_ACKNOWLEDGEMENT",
    /// The definitive archives' `ArchiveTransferReply`: accepted (all or part) or rejected.
    TransferOutReply = "TRANSFER_OUT_REPLY",
    TransferOutWithdrawal = "TRANSFER_OUT_WITHDRAWAL",
    /// The purge of what the definitive archives accepted, begun (in steps, as an
    /// elimination's execution).
    TransferOutPurgeStart = "TRANSFER_OUT_PURGE_START",
    /// The purge done: the notification to the producer and the transfer certificate.
    TransferOutPurge = "TRANSFER_OUT_PURGE",
    /// One unit purged after the definitive archives accepted it: where it went, under
    /// which identifier, its files' digests.
    UnitTransferred = "UNIT_TRANSFERRED",
    /// A restitution to the producer: the selection, its `ArchiveRestitutionRequest` and
    /// its package (an `ArchiveTransfer` to the producer).
    Restitution = "RESTITUTION",
    /// The producer's `ArchiveRestitutionRequestReply`, acknowledgement or reply.
    RestitutionReply = "RESTITUTION_REPLY",
    RestitutionWithdrawal = "RESTITUTION_WITHDRAWAL",
    RestitutionPurgeStart = "RESTITUTION_PURGE_START",
    /// Every copy of what the producer took back destroyed: the restitution certificate.
    RestitutionPurge = "RESTITUTION_PURGE",
    /// One unit given back to its producer, every copy here destroyed.
    UnitReturned = "UNIT_RETURNED",
    /// A tenant closed: its verified export checked, its whole holdings to purge.
    TenantClose = "TENANT_CLOSE",
    /// A closure given up before anything was destroyed (the tenant changed while its list
    /// was drawn up): its units are free again.
    TenantCloseWithdrawal = "TENANT_CLOSE_WITHDRAWAL",
    TenantClosePurgeStart = "TENANT_CLOSE_PURGE_START",
    /// Every copy of the tenant's holdings destroyed: the closing certificate.
    TenantClosePurge = "TENANT_CLOSE_PURGE",
    /// One unit of a closed tenant, every copy destroyed (the tenant has it in its export).
    UnitClosed = "UNIT_CLOSED",
    /// A person signed in to the web application (a session opened).
    WebSignIn = "WEB_SIGN_IN",
    /// A person signed out (their session ended on the server).
    WebSignOut = "WEB_SIGN_OUT",
    /// Sessions ended for their idle time or their lifetime (one event for those found).
    WebSessionsExpired = "WEB_SESSIONS_EXPIRED",
}

/// What an operation does. An operation is named by the event that records its outcome
/// (`INGEST`, `AUDIT`, `JOURNAL_SEAL`…), as Vitam names an operation by its master event's
/// type: the two share one vocabulary.
pub type OperationKind = EventKind;

impl From<String> for EventKind {
    fn from(name: String) -> EventKind {
        EventKind::from(name.as_str())
    }
}

impl From<EventKind> for String {
    fn from(kind: EventKind) -> String {
        kind.as_str().to_owned()
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for EventKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub tenant: TenantId,
    pub operation: OperationId,
    /// What kind of action.
    pub kind: EventKind,
    pub outcome: Status,
    /// RFC 3339 UTC time, supplied by the caller's clock.
    pub time: String,
    /// Who asked (an account, `cli`, `system`).
    pub agent: String,
    /// Structured detail, e.g. the reasons of a rejection.
    pub detail: serde_json::Value,
}

/// An event as stored, with its position in the tenant's journal and its link in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub format_version: u32,
    pub sequence: u64,
    #[serde(flatten)]
    pub event: NewEvent,
    /// The hash of the previous event, as recorded with this one.
    pub previous: String,
    /// The hash of this event, as recorded.
    pub hash: String,
}

#[derive(Serialize)]
struct Canonical<'a> {
    agent: &'a str,
    detail: &'a serde_json::Value,
    format_version: u32,
    kind: &'a str,
    operation: &'a str,
    outcome: &'a str,
    previous: &'a str,
    sequence: u64,
    tenant: &'a str,
    time: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodingError {
    #[error("event format version {0} is unknown")]
    UnknownVersion(u32),
    #[error("the event cannot be encoded canonically: {0}")]
    Json(String),
}

/// The canonical encoding of `event` at position `sequence`, after `previous`.
pub fn canonical(
    format_version: u32,
    sequence: u64,
    event: &NewEvent,
    previous: &str,
) -> Result<Vec<u8>, EncodingError> {
    if format_version != EVENT_FORMAT_VERSION {
        return Err(EncodingError::UnknownVersion(format_version));
    }
    serde_json_canonicalizer::to_vec(&Canonical {
        agent: &event.agent,
        detail: &event.detail,
        format_version,
        kind: event.kind.as_str(),
        operation: event.operation.as_str(),
        outcome: event.outcome.as_str(),
        previous,
        sequence,
        tenant: event.tenant.as_str(),
        time: &event.time,
    })
    .map_err(|e| EncodingError::Json(e.to_string()))
}

/// The hash (lowercase hexadecimal SHA-256) of an event's canonical encoding.
pub fn event_hash(
    format_version: u32,
    sequence: u64,
    event: &NewEvent,
    previous: &str,
) -> Result<String, EncodingError> {
    let bytes = canonical(format_version, sequence, event, previous)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// What is wrong at one place of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainProblem {
    /// The sequence number where the chain breaks.
    pub sequence: u64,
    /// `EDITED`, `MISSING`, `UNLINKED`, `UNREADABLE`.
    pub code: String,
    pub message: String,
}

/// Checks a tenant's events, fed in the order of their sequence numbers, one at a time.
/// Every break is reported, not the first: an edited event (its content no longer gives its
/// hash), missing events (a gap in the numbering), and an event that does not follow the one
/// before it (its recorded `previous` is not that event's hash: an event inserted, moved or
/// replaced).
#[derive(Debug, Default)]
pub struct ChainVerifier {
    /// Sequence and recorded hash of the last event seen (none when it was unreadable).
    last: Option<(u64, Option<String>)>,
    count: u64,
    problems: Vec<ChainProblem>,
}

impl ChainVerifier {
    pub fn new() -> ChainVerifier {
        ChainVerifier::default()
    }

    /// A verifier that continues a chain after event `sequence`, whose recorded hash is
    /// `hash` (checked earlier, or vouched for by a seal).
    pub fn resume(sequence: u64, hash: &str) -> ChainVerifier {
        ChainVerifier {
            last: Some((sequence, Some(hash.to_owned()))),
            ..ChainVerifier::default()
        }
    }

    /// A stored row that does not make an event (its fields were tampered with): reported,
    /// and the next event's link cannot be checked.
    pub fn push_unreadable(&mut self, sequence: u64, reason: &str) {
        self.count += 1;
        self.check_sequence(sequence);
        self.problems.push(ChainProblem {
            sequence,
            code: "UNREADABLE".into(),
            message: format!("event {sequence} cannot be read: {reason}"),
        });
        self.last = Some((sequence, None));
    }

    fn check_sequence(&mut self, sequence: u64) {
        let expected_sequence = self.last.as_ref().map_or(1, |(s, _)| s + 1);
        if sequence > expected_sequence {
            self.problems.push(ChainProblem {
                sequence,
                code: "MISSING".into(),
                message: if sequence == expected_sequence + 1 {
                    format!("event {expected_sequence} is missing")
                } else {
                    format!("events {expected_sequence} to {} are missing", sequence - 1)
                },
            });
        }
    }

    pub fn push(&mut self, e: &Event) {
        self.count += 1;
        self.check_sequence(e.sequence);
        let mut problem = |code: &str, message: String| {
            self.problems.push(ChainProblem {
                sequence: e.sequence,
                code: code.into(),
                message,
            })
        };
        let expected_previous = match &self.last {
            None => Some(GENESIS),
            Some((_, h)) => h.as_deref(),
        };
        if let Some(expected_previous) = expected_previous
            && e.previous != expected_previous
        {
            problem(
                "UNLINKED",
                match &self.last {
                    Some((s, _)) => format!(
                        "event {} records {} as the hash of the event before it, but event {s} has {expected_previous}",
                        e.sequence, e.previous
                    ),
                    None => format!(
                        "event {} is the first of the journal but records a previous event {}",
                        e.sequence, e.previous
                    ),
                },
            );
        }
        match event_hash(e.format_version, e.sequence, &e.event, &e.previous) {
            Ok(h) if h == e.hash => {}
            Ok(h) => problem(
                "EDITED",
                format!(
                    "event {} does not match its hash: recorded {}, its content gives {h}",
                    e.sequence, e.hash
                ),
            ),
            Err(err) => problem("UNREADABLE", format!("event {}: {err}", e.sequence)),
        }
        self.last = Some((e.sequence, Some(e.hash.clone())));
    }

    /// How many events were checked.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The hash of the last event checked: the head of the chain.
    pub fn head(&self) -> Option<&str> {
        self.last.as_ref().and_then(|(_, h)| h.as_deref())
    }

    pub fn finish(self) -> Vec<ChainProblem> {
        self.problems
    }
}

/// [`ChainVerifier`] over a slice.
pub fn verify_chain(events: &[Event]) -> Vec<ChainProblem> {
    let mut v = ChainVerifier::new();
    for e in events {
        v.push(e);
    }
    v.finish()
}

/// A string a client chose, made fit for the permanent journal: control characters (CR, LF,
/// NUL, escape sequences, bidirectional overrides…) are written as `\u{..}` escapes so that an entry reads as one
/// line and shows what was sent, and the result is cut to at most `max` bytes at a character
/// boundary, saying how much was left out. Whatever the client sends, the journal keeps at
/// most `max` + 24 bytes of it.
pub fn bounded_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    let mut consumed = 0usize;
    for c in s.chars() {
        let start = out.len();
        // Bidirectional overrides too: they make a line read otherwise than it is.
        if c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
        if out.len() > max {
            out.truncate(start);
            break;
        }
        consumed += c.len_utf8();
    }
    if consumed < s.len() {
        use std::fmt::Write as _;
        let _ = write!(out, "…(+{} bytes)", s.len() - consumed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_are_their_names_and_unknown_ones_are_kept() {
        for name in [
            "INGEST",
            "JOURNAL_SEAL",
            "EVIDENCE_HASH_RENEWAL",
            "ACCESS_REFUSED",
        ] {
            let kind = EventKind::from(name);
            assert!(!matches!(kind, EventKind::Other(_)), "{name}");
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(EventKind::from("INGEST"), EventKind::Ingest);
        // A kind a later version writes reads, and writes back, as it was.
        let later: EventKind = serde_json::from_str("\"UNIT_ELIMINATION\"").unwrap();
        assert_eq!(later, EventKind::Other("UNIT_ELIMINATION".into()));
        assert_eq!(later.as_str(), "UNIT_ELIMINATION");
        assert_eq!(later, "UNIT_ELIMINATION");
    }

    fn chain(n: u64) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for sequence in 1..=n {
            let event = NewEvent {
                tenant: "t1".parse().unwrap(),
                operation: format!("op-{sequence}").parse().unwrap(),
                kind: "INGEST".into(),
                outcome: Status::Ok,
                time: format!("2026-11-29T04:00:0{sequence}Z"),
                agent: "test".into(),
                detail: serde_json::json!({"units": sequence, "note": "é\u{1F600}"}),
            };
            let previous = out.last().map_or(GENESIS.to_owned(), |e| e.hash.clone());
            let hash = event_hash(1, sequence, &event, &previous).unwrap();
            out.push(Event {
                format_version: 1,
                sequence,
                event,
                previous,
                hash,
            });
        }
        out
    }

    fn codes(events: &[Event]) -> Vec<(u64, String)> {
        verify_chain(events)
            .into_iter()
            .map(|p| (p.sequence, p.code))
            .collect()
    }

    #[test]
    fn the_encoding_is_rfc_8785() {
        let e = &chain(1)[0];
        let bytes = canonical(1, 1, &e.event, GENESIS).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!(
                r#"{{"agent":"test","detail":{{"note":"é😀","units":1}},"format_version":1,"kind":"INGEST","operation":"op-1","outcome":"OK","previous":"{GENESIS}","sequence":1,"tenant":"t1","time":"2026-11-29T04:00:01Z"}}"#
            )
        );
        assert!(canonical(2, 1, &e.event, GENESIS).is_err());
    }

    #[test]
    fn an_intact_chain_has_no_problem() {
        assert!(verify_chain(&chain(5)).is_empty());
        assert!(verify_chain(&[]).is_empty());
    }

    #[test]
    fn each_kind_of_tampering_is_named_where_it_happened() {
        // Edited: only that event.
        let mut c = chain(5);
        c[2].event.detail = serde_json::json!({"units": 0});
        assert_eq!(codes(&c), [(3, "EDITED".to_owned())]);
        // Deleted: the gap, and the next event no longer follows.
        let mut c = chain(5);
        c.remove(3);
        assert_eq!(
            codes(&c),
            [(5, "MISSING".to_owned()), (5, "UNLINKED".to_owned())]
        );
        // Reordered: two events swap places (and numbers, to hide the swap).
        let mut c = chain(5);
        c.swap(1, 2);
        c[1].sequence = 2;
        c[2].sequence = 3;
        let found = codes(&c);
        assert!(found.contains(&(2, "UNLINKED".to_owned())), "{found:?}");
        assert!(found.contains(&(2, "EDITED".to_owned())), "{found:?}");
        assert!(found.contains(&(3, "EDITED".to_owned())), "{found:?}");
        // Inserted: a well-formed event, chained to its predecessor, pushed in the middle.
        let mut c = chain(5);
        let mut forged = c[1].clone();
        forged.sequence = 3;
        forged.previous = c[1].hash.clone();
        forged.hash = event_hash(1, 3, &forged.event, &forged.previous).unwrap();
        c.insert(2, forged);
        for (i, e) in c.iter_mut().enumerate().skip(3) {
            e.sequence = i as u64 + 1;
        }
        let found = codes(&c);
        assert!(found.contains(&(4, "UNLINKED".to_owned())), "{found:?}");
        assert!(found.contains(&(4, "EDITED".to_owned())), "{found:?}");
    }

    #[test]
    fn client_text_is_escaped_and_cut() {
        assert_eq!(bounded_text("alice", 64), "alice");
        assert_eq!(
            bounded_text("a\r\nb\u{1b}[2J", 64),
            "a\\u{d}\\u{a}b\\u{1b}[2J"
        );
        let long = "Z".repeat(300_000);
        let cut = bounded_text(&long, 128);
        assert!(cut.starts_with(&"Z".repeat(128)), "{cut}");
        assert!(cut.ends_with("…(+299872 bytes)"), "{cut}");
        assert!(cut.len() <= 128 + 24);
        // Never cut inside a character, nor inside an escape.
        let accents = "é".repeat(100);
        let cut = bounded_text(&accents, 11);
        assert_eq!(cut, format!("{}…(+190 bytes)", "é".repeat(5)));
        let controls = "\n".repeat(10);
        let cut = bounded_text(&controls, 13);
        assert_eq!(cut, "\\u{a}\\u{a}…(+8 bytes)");
    }
}
