//! Journal events: what happened, to which tenant, in which operation, with which outcome.
//!
//! Events are append-only from the first version: the catalog never updates or deletes one.
//! The hash chain and the sealing come with the evidence work; the encoding is already
//! versioned so that events written now stay verifiable then.

use crate::{OperationId, Status, TenantId};
use serde::{Deserialize, Serialize};

/// Version of the canonical encoding of an event.
pub const EVENT_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub tenant: TenantId,
    pub operation: OperationId,
    /// What kind of action: `INGEST`, `TENANT_CREATE`, `REFERENTIAL_IMPORT`…
    pub kind: String,
    pub outcome: Status,
    /// RFC 3339 UTC time, supplied by the caller's clock.
    pub time: String,
    /// Who asked (an account, `cli`, `system`).
    pub agent: String,
    /// Structured detail, e.g. the reasons of a rejection.
    pub detail: serde_json::Value,
}

/// An event as stored, with its position in the tenant's journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub format_version: u32,
    pub sequence: u64,
    #[serde(flatten)]
    pub event: NewEvent,
}
