//! Catalog and journal persistence behind traits: SQLite (embedded default).
//!
//! The catalog knows tenants, their referentials (every import is a new version), operations,
//! archive units, object groups, objects and their copies, and the journal. Every method that
//! changes state takes the journal event that records the change and writes both in one
//! transaction. The journal is append-only: the SQLite schema refuses any update or delete of
//! an event.
//!
//! The catalog is one trait per aggregate (tenants, accounts, intake queue, referentials,
//! operations, holdings, journal, evidence, search), gathered by [`Catalog`]; use cases that
//! need less ask for a narrower trait (`stores`). PostgreSQL (crate `carnac-catalog-postgres`)
//! implements the same traits; `conformance` (feature `conformance`) is the suite every
//! implementation passes.

mod accounts;
mod deliveries;
mod eliminations;
pub mod rows;
pub mod search;
mod sessions;
pub mod sqlite;
mod stores;

pub use accounts::*;
pub use deliveries::*;
pub use eliminations::*;
pub use sessions::*;
pub use stores::*;

use carnac_model::access::{AccountKind, Role};
use carnac_model::journal::{Event, NewEvent, OperationKind};
use carnac_model::rules::Management;
use carnac_model::{Digest, ObjectId, OperationId, Status, TenantId, Timestamp, UnitId};
pub use search::{Facet, Interrupt, SearchOrder, UnitDetails, UnitPage, UnitQuery, UnitSummary};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The storage failed: `source` is the backend's own error (SQLite's, an I/O error…)
    /// when there is one, for callers that inspect it.
    #[error("catalog storage: {message}")]
    Storage {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("catalog content is corrupt: {0}")]
    Corruption(String),
    /// A read given up on the way ([`Interrupt`]): past its time limit, or no longer wanted.
    #[error("{0}")]
    Interrupted(String),
    /// A change that would break a rule the catalog keeps whoever writes to it (the last
    /// enabled operator disabled), checked within the change's own transaction so that
    /// two nodes cannot both pass it.
    #[error("{0}")]
    Refused(String),
}

impl CatalogError {
    /// A storage failure, with its cause as source.
    pub fn storage(cause: impl std::error::Error + Send + Sync + 'static) -> CatalogError {
        CatalogError::Storage {
            message: cause.to_string(),
            source: Some(Box::new(cause)),
        }
    }

    /// A storage failure while doing `what`, with its cause as source.
    pub fn storage_in(
        what: &str,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> CatalogError {
        CatalogError::Storage {
            message: format!("{what}: {cause}"),
            source: Some(Box::new(cause)),
        }
    }

    /// A storage failure known by its description alone.
    pub fn storage_failed(message: impl Into<String>) -> CatalogError {
        CatalogError::Storage {
            message: message.into(),
            source: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: Timestamp,
    /// Since when it is suspended: it still reads and exports, it takes no transfer.
    pub suspended_at: Option<Timestamp>,
}

/// A transfer received (its container kept in the archive's incoming folder) and waiting
/// for its ingest, or in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedTransfer {
    pub tenant: TenantId,
    pub operation: OperationId,
    pub received_at: Timestamp,
    pub agent: String,
    pub bytes: u64,
    /// Through which intake it came, hence what the incoming folder holds for it.
    #[serde(default)]
    pub intake: Intake,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intake {
    /// A SEDA package (one container with its manifest), from the REST API.
    #[default]
    Package,
    /// A bordereau and its attachments, from the as@lae-compatible intake.
    Asalae,
}

impl Intake {
    pub fn as_str(self) -> &'static str {
        match self {
            Intake::Package => "package",
            Intake::Asalae => "asalae",
        }
    }
    pub fn parse(s: &str) -> Option<Intake> {
        match s {
            "package" => Some(Intake::Package),
            "asalae" => Some(Intake::Asalae),
            _ => None,
        }
    }
}

/// A transfer received by the as@lae-compatible intake, found again by what its sender
/// knows: the transferring agency and the transfer's identifier. Its acknowledgement is
/// written when it is received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeMessage {
    pub tenant: TenantId,
    /// `TransferringAgency` of the transfer (as@lae's `originOrganizationIdentification`).
    pub origin: String,
    /// `TransferIdentifier` (1.0) or `MessageIdentifier` (2.x): `originMessageIdentifier`.
    pub message_id: String,
    pub operation: OperationId,
    pub seda_version: String,
    /// The acknowledgement, as XML.
    pub acknowledgement: String,
}

/// The kinds of referential, each imported and versioned on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReferentialKind {
    Agencies,
    Rules,
    IngestContracts,
    ArchiveProfiles,
    Formats,
    UnitProfiles,
    AccessContracts,
}

impl ReferentialKind {
    pub const ALL: [ReferentialKind; 7] = [
        Self::Agencies,
        Self::Rules,
        Self::IngestContracts,
        Self::ArchiveProfiles,
        Self::Formats,
        Self::UnitProfiles,
        Self::AccessContracts,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agencies => "agencies",
            Self::Rules => "rules",
            Self::IngestContracts => "ingest_contracts",
            Self::ArchiveProfiles => "archive_profiles",
            Self::Formats => "formats",
            Self::UnitProfiles => "archive_unit_profiles",
            Self::AccessContracts => "access_contracts",
        }
    }
}

/// When and by which operation a version of a referential was imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferentialVersionInfo {
    pub version: u64,
    pub operation: OperationId,
    pub imported_at: Timestamp,
}

/// One version of one referential, stored as its JSON form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferentialVersion {
    pub kind: ReferentialKind,
    pub version: u64,
    pub operation: OperationId,
    pub imported_at: Timestamp,
    pub content: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationState {
    Running,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub tenant: TenantId,
    pub id: OperationId,
    pub kind: OperationKind,
    pub state: OperationState,
    pub status: Option<Status>,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    /// The outcome in machine-readable form (the CLI's `--json` summary for an ingest).
    pub summary: Option<serde_json::Value>,
    /// Whether a reply was sent to the transferring agency (ATR); read it with
    /// [`OperationStore::reply`].
    pub has_reply: bool,
    /// Who started it (an account, `cli`, `system`); unknown for operations recorded before
    /// accounts existed.
    pub agent: Option<String>,
}

/// The most operations one [`OperationStore::operations_page`] returns.
pub const MAX_OPERATIONS_PAGE: u64 = 200;

/// Which operations a page lists (see [`OperationStore::operations_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationPage {
    pub kind: OperationKind,
    /// Done with this status; `None`: any, running ones included.
    pub status: Option<Status>,
    /// Started by this account only.
    pub agent: Option<String>,
    /// Only those after this one in the order (started earlier, or at the same instant
    /// with a smaller id): the last of the previous page.
    pub before: Option<(Timestamp, OperationId)>,
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRow {
    pub id: UnitId,
    pub xml_id: String,
    pub title: String,
    pub description_level: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub originating_agency: Option<String>,
    /// System ids of the parent units (a unit may have several in SEDA).
    pub parents: Vec<UnitId>,
    pub object_groups: Vec<ObjectId>,
    pub keywords: Vec<String>,
    /// Its own management rules, as given (with the package's, for a root unit), end dates
    /// computed. Inherited rules are computed when read, from the units above.
    pub management: Management,
    /// The unit's own SEDA metadata, kept whole (XML).
    pub metadata: String,
}

/// What a unit's effective rules are computed from: its own management, its parents and
/// its originating agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRules {
    pub id: UnitId,
    pub parents: Vec<UnitId>,
    pub originating_agency: Option<String>,
    /// `None` for a unit ingested before management was kept, not filled yet.
    pub management: Option<Management>,
}

/// One unit's management changed by a rule change: as it was read, as it becomes, and the
/// unit's journal event.
#[derive(Debug, Clone)]
pub struct UnitManagementChange {
    pub unit: UnitId,
    pub before: Management,
    pub after: Management,
    pub event: NewEvent,
}

/// A unit's management before and after one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementHistoryRow {
    pub operation: OperationId,
    pub changed_at: Timestamp,
    pub previous: Option<Management>,
    pub current: Management,
}

/// A rule change, written in one transaction: every unit's new management, its history
/// entry and event, then the operation (`summary`) and its event.
pub struct ManagementChange<'a> {
    pub units: &'a [UnitManagementChange],
    pub summary: &'a serde_json::Value,
    pub event: &'a NewEvent,
}

/// A correction of one unit's descriptive metadata, written in one transaction with its
/// operation and event: the metadata as it was read (the change fails with
/// [`CatalogError::Conflict`] if it is no longer that), as it becomes, and what the catalog
/// keeps beside it, read from the new metadata.
pub struct MetadataChange<'a> {
    pub unit: &'a UnitId,
    pub before: &'a str,
    pub after: &'a str,
    pub title: &'a str,
    pub description_level: Option<&'a str>,
    pub start_date: Option<&'a str>,
    pub end_date: Option<&'a str>,
    pub keywords: &'a [String],
    /// The difference, field by field (JSON), kept in the history.
    pub changes: &'a serde_json::Value,
    pub summary: &'a serde_json::Value,
    pub event: &'a NewEvent,
}

/// One correction of a unit's metadata: the operation, when, the difference, and the
/// metadata before and after, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataHistoryRow {
    pub operation: OperationId,
    pub changed_at: Timestamp,
    pub agent: String,
    pub changes: serde_json::Value,
    pub previous: String,
    pub current: String,
}

/// A unit ingested before its management was kept: what finding it again in its transfer's
/// manifest takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitToFill {
    pub operation: OperationId,
    pub id: UnitId,
    pub xml_id: String,
    /// Its own rules as recorded at ingest, end dates included.
    pub rules: Vec<UnitRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRule {
    pub category: String,
    pub rule: String,
    pub start_date: Option<String>,
    /// Computed from the start date and the rule's duration.
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub id: ObjectId,
    pub xml_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRow {
    pub id: ObjectId,
    pub group: ObjectId,
    pub xml_id: String,
    pub physical: bool,
    pub version: Option<String>,
    pub uri: Option<String>,
    pub size: Option<u64>,
    /// The archive's own digest (strong algorithm), computed at ingest.
    pub digest: Option<Digest>,
    pub puid: Option<String>,
    pub format_name: Option<String>,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRow {
    pub object: ObjectId,
    pub offer: String,
    /// The blob's name inside its batch (the operation).
    pub blob: String,
    pub size: u64,
}

/// How a running operation ended, when it added nothing to the archive.
pub struct OperationEnd<'a> {
    pub operation: &'a OperationId,
    pub status: Status,
    pub summary: &'a serde_json::Value,
    /// The reply (ATR), streamed: it can be as large as the transfer's list of units.
    pub reply: Option<&'a mut dyn std::io::Read>,
    pub ended_at: &'a Timestamp,
    pub event: &'a NewEvent,
}

/// Everything an accepted ingest adds to the catalog, written in one transaction.
pub struct IngestCommit<'a> {
    pub operation: &'a OperationId,
    pub groups: &'a mut dyn Iterator<Item = Result<GroupRow, CatalogError>>,
    /// Objects, after every group they belong to.
    pub objects: &'a mut dyn Iterator<Item = Result<ObjectRow, CatalogError>>,
    /// The offers every binary object was written to; each gets one copy per offer, under
    /// the object's id.
    pub offers: &'a [String],
    /// Groups, objects and units arrive as streams so that a transfer of any size commits in
    /// bounded memory.
    pub units: &'a mut dyn Iterator<Item = Result<UnitRow, CatalogError>>,
    pub status: Status,
    pub summary: serde_json::Value,
    pub reply: &'a mut dyn std::io::Read,
    pub ended_at: &'a Timestamp,
    pub event: &'a NewEvent,
}

/// A seal of a tenant's journal: the events `first..=last` in a Merkle tree whose root,
/// chained to the previous seal, is timestamped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRow {
    pub first: u64,
    pub last: u64,
    /// Hex SHA-256 root of the Merkle tree of the events' hashes.
    pub merkle_root: String,
    /// The previous seal's `sealed` (64 zeros for the first seal).
    pub previous: String,
    /// Hex SHA-256 of `previous` and `merkle_root` (bytes, in that order): what is stamped.
    pub sealed: String,
    /// The RFC 3161 token (DER) over `sealed`.
    pub token: Vec<u8>,
    pub stamped_at: Timestamp,
    pub tsa: String,
    pub operation: OperationId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EvidenceKind {
    /// Files of one or more ingests, first timestamped.
    Deposit,
    /// RFC 4998 timestamp renewal: the leaves are hashes of earlier trees' tokens.
    TimestampRenewal,
    /// RFC 4998 hash-tree renewal: the leaves are the files' renewal hashes (new algorithm).
    HashRenewal,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "DEPOSIT",
            Self::TimestampRenewal => "TIMESTAMP_RENEWAL",
            Self::HashRenewal => "HASH_RENEWAL",
        }
    }
    pub fn parse(s: &str) -> Option<EvidenceKind> {
        [Self::Deposit, Self::TimestampRenewal, Self::HashRenewal]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One hash tree and the archive timestamp over its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceTreeRow {
    pub id: String,
    pub kind: EvidenceKind,
    /// As SEDA spells it: `SHA-256`…
    pub algorithm: String,
    /// The leaves, concatenated (each of the algorithm's length).
    pub leaves: Vec<u8>,
    pub token: Vec<u8>,
    pub stamped_at: Timestamp,
    /// When the TSA certificate of the token ends: renew before.
    pub certificate_until: Timestamp,
    pub tsa: String,
    pub builtin: bool,
    pub operation: OperationId,
}

/// A new tree, what it covers and what it supersedes, with its journal event.
pub struct EvidenceCommit<'a> {
    pub tree: &'a EvidenceTreeRow,
    /// Files whose chain `chain` starts in this tree at leaf `position`: (object, chain,
    /// position).
    pub objects: &'a [(ObjectId, u64, u64)],
    /// Trees whose last timestamp this tree renews: (tree, position).
    pub renews: &'a [(String, u64)],
    /// Trees no longer at the head of any chain.
    pub supersedes: &'a [String],
    pub summary: &'a serde_json::Value,
    pub event: &'a NewEvent,
}

/// A file's archive timestamps, chain by chain: each chain is its trees in order with the
/// file's (or the previous tree's) leaf position in each.
pub type EvidencePath = Vec<Vec<(EvidenceTreeRow, u64)>>;

/// A journal row whose fields do not make an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableEvent {
    pub sequence: u64,
    pub reason: String,
}

pub type JournalRow = Result<Event, UnreadableEvent>;

/// What a journal event can be about, for reading one unit's, object's or operation's
/// events ([`JournalStore::each_event_about`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum JournalSubject {
    /// The events of this operation, and those whose detail names it in `of` (what attests
    /// or renews what it made).
    Operation(String),
    /// The events whose detail names this object, unit or operation in `object` or
    /// `subject` (requests, exports, audits of one file).
    Named(String),
    /// Every audit.
    Audits,
}

impl JournalSubject {
    /// Whether `event` is about this subject: the rule every implementation follows.
    pub fn concerns(&self, event: &NewEvent) -> bool {
        let detail = |key: &str| event.detail.get(key).and_then(|v| v.as_str());
        match self {
            JournalSubject::Operation(id) => {
                event.operation.as_str() == id || detail("of") == Some(id.as_str())
            }
            JournalSubject::Named(id) => {
                detail("object") == Some(id.as_str()) || detail("subject") == Some(id.as_str())
            }
            JournalSubject::Audits => event.kind == carnac_model::journal::EventKind::Audit,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub units: u64,
    pub object_groups: u64,
    pub objects: u64,
    pub copies: u64,
    /// The objects' sizes added up (one copy of each).
    pub bytes: u64,
}

/// What a tenant's accepted ingests brought in during one year (of their deposit): what an
/// annual activity report counts, eliminations and transfers out notwithstanding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearIntake {
    /// `2026`.
    pub year: String,
    pub transfers: u64,
    pub units: u64,
    pub objects: u64,
    pub bytes: u64,
}

/// A unit as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    pub operation: OperationId,
    pub xml_id: String,
    pub title: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub parents: Vec<UnitId>,
    pub metadata: String,
}

/// Every part of the catalog: what an archive runs on. Use cases that need less ask for the
/// narrower trait; anything that implements all of them is a `Catalog`.
pub trait Catalog:
    TenantStore
    + AccountStore
    + IntakeQueue
    + ReferentialStore
    + OperationStore
    + HoldingStore
    + JournalStore
    + EvidenceStore
    + SearchIndex
    + EliminationStore
    + DeliveryStore
    + SessionStore
    + NodeStore
{
}

impl<
    T: TenantStore
        + AccountStore
        + IntakeQueue
        + ReferentialStore
        + OperationStore
        + HoldingStore
        + JournalStore
        + EvidenceStore
        + SearchIndex
        + EliminationStore
        + DeliveryStore
        + SessionStore
        + NodeStore
        + ?Sized,
> Catalog for T
{
}

/// The catalog's traits, for callers that use several of them through a [`Catalog`].
pub mod prelude {
    pub use crate::{
        AccountStore, Catalog, DeliveryStore, EliminationStore, EvidenceStore, HoldingStore,
        IntakeQueue, JournalStore, NodeStore, OperationStore, ReferentialStore, SearchIndex,
        SessionStore, TenantStore,
    };
}

/// The suite every implementation passes; compiled for tests and for the `conformance`
/// feature (another backend's crate enables it in its dev-dependencies), not into the binary.
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
