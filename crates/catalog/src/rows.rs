//! Stored rows read back into the catalog's types, the same for every backend: a value
//! that does not parse is [`CatalogError::Corruption`] naming what it is, never a silent
//! default.

use crate::*;
use carnac_model::journal::{Event, NewEvent, OperationKind};
use carnac_model::rules::Management;

/// Facets from counts by value: agencies most first, years in order; at most 100.
pub fn facets<'a>(counts: impl Iterator<Item = (&'a str, u64)>, by_count: bool) -> Vec<Facet> {
    let mut facets: Vec<Facet> = counts
        .map(|(v, count)| Facet {
            value: v.to_owned(),
            count,
        })
        .collect();
    if by_count {
        facets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    } else {
        facets.sort_by(|a, b| a.value.cmp(&b.value));
    }
    facets.truncate(100);
    facets
}

/// A journal row as an event, or the sequence number and why it is not one.
pub fn to_event(raw: RawEvent) -> Result<Event, (u64, String)> {
    let sequence = raw.sequence as u64;
    let bad = |what: &str, e: &dyn std::fmt::Display| (sequence, format!("{what}: {e}"));
    Ok(Event {
        format_version: u32::try_from(raw.format_version).map_err(|e| bad("format version", &e))?,
        sequence,
        event: NewEvent {
            tenant: raw.tenant.parse().map_err(|e| bad("tenant", &e))?,
            operation: raw.operation.parse().map_err(|e| bad("operation", &e))?,
            kind: raw.kind.into(),
            outcome: Status::parse(&raw.outcome).ok_or_else(|| bad("outcome", &raw.outcome))?,
            time: raw.time,
            agent: raw.agent,
            detail: serde_json::from_str(&raw.detail).map_err(|e| bad("detail", &e))?,
        },
        previous: raw.previous.unwrap_or_default(),
        hash: raw.hash.unwrap_or_default(),
    })
}

pub fn check_event_tenant(tenant: &TenantId, event: &NewEvent) -> Result<(), CatalogError> {
    if &event.tenant != tenant {
        return Err(CatalogError::Corruption(format!(
            "an event of tenant {} cannot record a change of tenant {tenant}",
            event.tenant
        )));
    }
    Ok(())
}

/// A journal row as stored, before any parsing: a tampered row must still be reported.
pub struct RawEvent {
    pub tenant: String,
    pub sequence: i64,
    pub format_version: i64,
    pub operation: String,
    pub kind: String,
    pub outcome: String,
    pub time: String,
    pub agent: String,
    pub detail: String,
    pub previous: Option<String>,
    pub hash: Option<String>,
}

/// A unit's management rules, as stored (JSON).
pub fn management_of(json: &str) -> Result<Management, CatalogError> {
    serde_json::from_str(json)
        .map_err(|e| CatalogError::Corruption(format!("a unit's management rules: {e}")))
}

pub fn management_json(m: &Management) -> Result<String, CatalogError> {
    serde_json::to_string(m).map_err(|e| CatalogError::storage_in("encoding management rules", e))
}

/// A unit's parents, as a query gathers them (identifiers separated by spaces).
pub fn parents_of(text: Option<String>) -> Result<Vec<UnitId>, CatalogError> {
    text.unwrap_or_default()
        .split_whitespace()
        .map(|p| parse_id("unit id", p.to_owned()))
        .collect()
}

pub fn to_object(raw: RawObject) -> Result<ObjectRow, CatalogError> {
    let (
        (id, group, xml_id, physical),
        (version, uri, size),
        (algo, hex),
        (puid, format_name, mime_type, filename),
    ) = raw;
    let digest = match (algo, hex) {
        (Some(a), Some(hex)) => Some(digest_of(&a, hex)?),
        _ => None,
    };
    Ok(ObjectRow {
        id: parse_id("object id", id)?,
        group: parse_id("object group id", group)?,
        xml_id,
        physical,
        version,
        uri,
        size: size.map(|s| s as u64),
        digest,
        puid,
        format_name,
        mime_type,
        filename,
    })
}

pub type RawObject = (
    (String, String, String, bool),
    (Option<String>, Option<String>, Option<i64>),
    (Option<String>, Option<String>),
    (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
);

pub fn to_tree(raw: RawTree) -> Result<EvidenceTreeRow, CatalogError> {
    let (
        (id, kind, algorithm),
        (leaves, token),
        (stamped_at, certificate_until, tsa, builtin, operation),
    ) = raw;
    Ok(EvidenceTreeRow {
        kind: EvidenceKind::parse(&kind).ok_or_else(|| corrupt("evidence kind", &kind))?,
        id,
        algorithm,
        leaves,
        token,
        stamped_at: stored_time(stamped_at)?,
        certificate_until: stored_time(certificate_until)?,
        tsa,
        builtin,
        operation: parse_id("operation id", operation)?,
    })
}

pub type RawTree = (
    (String, String, String),
    (Vec<u8>, Vec<u8>),
    (String, String, String, bool, String),
);

pub fn to_operation(tenant: &TenantId, raw: RawOperation) -> Result<Operation, CatalogError> {
    let (id, kind, state, status, started_at, ended_at, summary, has_reply, agent) = raw;
    Ok(Operation {
        tenant: tenant.clone(),
        id: parse_id("operation id", id)?,
        kind: OperationKind::from(kind),
        state: match state.as_str() {
            "RUNNING" => OperationState::Running,
            _ => OperationState::Done,
        },
        status: status.as_deref().and_then(Status::parse),
        started_at: stored_time(started_at)?,
        ended_at: ended_at.map(stored_time).transpose()?,
        summary: summary
            .map(|s| serde_json::from_str(&s).map_err(|e| corrupt("operation summary", e)))
            .transpose()?,
        has_reply,
        agent,
    })
}

pub type RawOperation = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
);

pub fn parse_intake(s: &str) -> Result<Intake, CatalogError> {
    Intake::parse(s).ok_or_else(|| CatalogError::Corruption(format!("unknown intake {s:?}")))
}

pub fn corrupt(what: &str, e: impl std::fmt::Display) -> CatalogError {
    CatalogError::Corruption(format!("{what}: {e}"))
}

pub fn digest_of(algorithm: &str, hex: String) -> Result<Digest, CatalogError> {
    Ok(Digest {
        algorithm: carnac_model::DigestAlgorithm::from_seda_name(algorithm)
            .ok_or_else(|| corrupt("digest algorithm", algorithm))?,
        hex,
    })
}

pub fn parse_id<T: std::str::FromStr>(what: &str, s: String) -> Result<T, CatalogError>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| corrupt(what, e))
}

/// A stored time read as text elsewhere, checked.
pub fn stored_time(text: String) -> Result<Timestamp, CatalogError> {
    Timestamp::parse(&text).map_err(|e| CatalogError::storage_failed(format!("a stored time: {e}")))
}
