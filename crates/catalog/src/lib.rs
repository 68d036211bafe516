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
//! need less ask for a narrower trait. PostgreSQL comes next behind the same traits;
//! `conformance` (feature `conformance`) is the suite every implementation passes.

mod accounts;
mod deliveries;
mod eliminations;
pub mod rows;
pub mod search;
mod sessions;
pub mod sqlite;

pub use accounts::*;
pub use deliveries::*;
pub use eliminations::*;
pub use sessions::*;

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

/// Tenants: each one authority whose records, journal and referentials are apart.
pub trait TenantStore: Send + Sync {
    fn create_tenant(
        &self,
        tenant: &TenantId,
        name: &str,
        event: &NewEvent,
    ) -> Result<(), CatalogError>;

    fn tenant(&self, tenant: &TenantId) -> Result<Option<Tenant>, CatalogError>;

    fn tenants(&self) -> Result<Vec<Tenant>, CatalogError>;

    /// Suspends a tenant (or lifts the suspension), with its operation and event.
    fn suspend_tenant(
        &self,
        tenant: &TenantId,
        suspended: bool,
        event: &NewEvent,
    ) -> Result<(), CatalogError>;
}

/// Transfers received and waiting for their ingest, the as@lae intake's messages, and
/// every transfer's acknowledgement.
pub trait IntakeQueue: Send + Sync {
    /// Records a transfer received and waiting for its ingest, with its event.
    fn enqueue_transfer(
        &self,
        transfer: &QueuedTransfer,
        event: &NewEvent,
    ) -> Result<(), CatalogError>;

    /// [`IntakeQueue::enqueue_transfer`] of a transfer of the as@lae intake, with its message in
    /// the same transaction; `Conflict` if the tenant already received a transfer with the
    /// same origin and identifier.
    fn enqueue_intake_message(
        &self,
        transfer: &QueuedTransfer,
        message: &IntakeMessage,
        event: &NewEvent,
    ) -> Result<(), CatalogError>;

    /// Records the acknowledgement of an operation's transfer, with its event, once: false
    /// (and nothing written) when it already has one.
    fn acknowledge(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        xml: &str,
        event: &NewEvent,
    ) -> Result<bool, CatalogError>;

    /// The acknowledgement of an operation's transfer, once there is one.
    fn acknowledgement(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<String>, CatalogError>;

    /// The message of the tenant's transfer with that origin and identifier.
    fn intake_message(
        &self,
        tenant: &TenantId,
        origin: &str,
        message_id: &str,
    ) -> Result<Option<IntakeMessage>, CatalogError>;

    /// Every transfer waiting or in its ingest, oldest first.
    fn queued_transfers(&self) -> Result<Vec<QueuedTransfer>, CatalogError>;

    fn queued_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<QueuedTransfer>, CatalogError>;

    /// The transfer's ingest is over (its operation is done).
    fn dequeue_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<(), CatalogError>;

    /// An ingest of a queued transfer was interrupted: its running operation is forgotten
    /// (it kept nothing) so that the transfer is ingested again under the same identifier,
    /// with the event that says so.
    fn requeue_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        event: &NewEvent,
    ) -> Result<(), CatalogError>;
}

/// Each tenant's referentials, every import a new version.
pub trait ReferentialStore: Send + Sync {
    /// Stores new versions of the given referentials, with the import's operation and event.
    fn import_referentials(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        at: &Timestamp,
        content: &[(ReferentialKind, serde_json::Value)],
        event: &NewEvent,
    ) -> Result<Vec<u64>, CatalogError>;

    /// The current version of one referential.
    fn referential(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Option<ReferentialVersion>, CatalogError>;

    /// Every version of one referential of `tenant`, oldest first (without their content).
    fn referential_versions(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Vec<ReferentialVersionInfo>, CatalogError>;
}

/// Operations (ingests, imports, seals, verifications…): running, then done with their
/// summary and reply.
pub trait OperationStore: Send + Sync {
    /// What the tenant's accepted ingests (OK or WARNING) brought in, by year of deposit,
    /// the latest year first: from each one's summary (`units`, `objects`, `bytes`).
    fn intake_by_year(&self, tenant: &TenantId) -> Result<Vec<YearIntake>, CatalogError>;

    /// Records an operation that changed nothing but the journal (a verification, an export…),
    /// done at once: the operation, its summary and its event, in one transaction.
    fn record_operation(
        &self,
        tenant: &TenantId,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError>;

    /// [`OperationStore::record_operation`] with events about each of its subjects (every
    /// unit a delivery gave out, for their lifecycles), all in one transaction.
    fn record_operation_with_events(
        &self,
        tenant: &TenantId,
        summary: &serde_json::Value,
        event: &NewEvent,
        subjects: &[NewEvent],
    ) -> Result<u64, CatalogError>;

    /// Records an operation as running, before it touches any offer, so that recovery knows
    /// what to clean if the process dies.
    fn start_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: &OperationKind,
        at: &Timestamp,
        agent: &str,
    ) -> Result<(), CatalogError>;

    /// Ends an operation that added nothing (a rejected ingest), with its journal event.
    fn finish_operation(
        &self,
        tenant: &TenantId,
        end: OperationEnd<'_>,
    ) -> Result<(), CatalogError>;

    fn operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<Operation>, CatalogError>;

    /// Writes the reply of an operation to `out`; false when it has none.
    fn reply(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        out: &mut dyn std::io::Write,
    ) -> Result<bool, CatalogError>;

    /// Every operation of a tenant, oldest first, without their replies.
    fn operations(&self, tenant: &TenantId) -> Result<Vec<Operation>, CatalogError>;

    /// A page of a tenant's operations of one kind, newest first, without their replies:
    /// those started before `page.before` (an operation's place in that order), with the
    /// status and agent asked for. At most `page.limit` (capped at
    /// [`MAX_OPERATIONS_PAGE`]).
    fn operations_page(
        &self,
        tenant: &TenantId,
        page: &OperationPage,
    ) -> Result<Vec<Operation>, CatalogError>;

    /// Every running operation, on every tenant, whatever node runs it (recovery asks
    /// [`NodeStore::abandoned_operations`]).
    fn running_operations(&self) -> Result<Vec<(TenantId, OperationId)>, CatalogError>;
}

/// What is held: archive units, object groups, objects and their copies, written by an
/// ingest's commit.
pub trait HoldingStore: Send + Sync {
    /// Ends an accepted ingest: units, groups, objects, copies, the operation and its event,
    /// all or nothing.
    fn commit_ingest(
        &self,
        tenant: &TenantId,
        commit: IngestCommit<'_>,
    ) -> Result<(), CatalogError>;

    fn counts(&self, tenant: &TenantId) -> Result<Counts, CatalogError>;

    /// One unit of a tenant, with the objects of its object groups.
    fn unit(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<(Unit, Vec<ObjectRow>)>, CatalogError>;

    /// What [`HoldingStore::unit`] does not say of a unit: level, agency, keywords, rules, children
    /// and object groups.
    fn unit_details(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<UnitDetails>, CatalogError>;

    /// Every unit an operation (an ingest) made: what a transfer brought, for the lifecycle
    /// operations that select by transfer and the transfer's page.
    fn units_of_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Vec<Unit>, CatalogError>;
    /// One object of a tenant, with the operation (blob batch) that stored it.
    fn object(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<Option<(OperationId, ObjectRow)>, CatalogError>;

    /// Every object of an operation, in the order of the commit, handed to `each` one at a
    /// time. `each` must not call the catalog (an implementation may hold its connection).
    fn each_object_of_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        each: &mut dyn FnMut(ObjectRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError>;

    fn objects_of_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Vec<ObjectRow>, CatalogError> {
        let mut all = Vec::new();
        self.each_object_of_operation(tenant, operation, &mut |o| {
            all.push(o);
            Ok(())
        })?;
        Ok(all)
    }

    /// Every object `tenant` holds now, with the operation (blob batch) that stored it, by
    /// operation, handed to `each` one at a time: what a check of the offers expects to find.
    /// An object that left the archive (an elimination, a transfer out) is not in it, even
    /// though the operation that brought it in is still in the history. `each` must not call
    /// the catalog.
    fn each_held_object(
        &self,
        tenant: &TenantId,
        each: &mut dyn FnMut(OperationId, ObjectRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError>;

    /// Every copy of every object of a tenant, with the operation (blob batch) it belongs to.
    fn copies(&self, tenant: &TenantId) -> Result<Vec<(OperationId, CopyRow)>, CatalogError>;

    /// Records copies written to an offer after their objects' ingest (an offer added to a
    /// running archive), with the operation that wrote them and its event, in one
    /// transaction. A copy already recorded stays as it is; a copy of an object the tenant
    /// does not hold is refused (`NotFound`), and nothing is recorded.
    fn record_copies(
        &self,
        tenant: &TenantId,
        copies: &[CopyRow],
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError>;

    /// Forgets every copy of the tenant's objects that `offer` holds (an offer removed from
    /// the archive), with the operation that says so and its event, in one transaction; the
    /// number of copies forgotten. The offer's blobs are the operator's to decommission.
    fn forget_offer(
        &self,
        tenant: &TenantId,
        offer: &str,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError>;

    /// `units` and every unit above them (parents, their parents…), each once, with what
    /// its effective rules are computed from. Unknown units are left out.
    fn rules_graph(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<Vec<UnitRules>, CatalogError>;

    /// Every unit below `units` (children, their children…), each once, `units` excluded
    /// unless one is below another.
    fn descendants(&self, tenant: &TenantId, units: &[UnitId])
    -> Result<Vec<UnitId>, CatalogError>;

    /// The identifier each of `groups` had in its transfer (`DataObjectGroup/@id`, or the
    /// `DataObjectGroupId` of SEDA 2.1), as the units' metadata refers to it; groups of
    /// another tenant, or none, are left out.
    fn group_xml_ids(
        &self,
        tenant: &TenantId,
        groups: &[ObjectId],
    ) -> Result<Vec<(ObjectId, String)>, CatalogError>;

    /// The tenant's units in identifier order, after `after`, at most `limit`: a walk of
    /// all of them in pages.
    fn unit_ids(
        &self,
        tenant: &TenantId,
        after: Option<&UnitId>,
        limit: usize,
    ) -> Result<Vec<UnitId>, CatalogError>;

    /// Up to `limit` units of a tenant whose management is not recorded (ingested before it
    /// was kept), grouped by operation.
    fn units_to_fill(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<UnitToFill>, CatalogError>;

    /// Applies a rule change, all or nothing. A unit whose management is no longer what the
    /// change read (`before`: another change came first) fails it with
    /// [`CatalogError::Conflict`], and so does a unit that is gone, and so does any change
    /// while an elimination of the tenant is executing or a closure of it is open.
    fn change_management(
        &self,
        tenant: &TenantId,
        change: ManagementChange<'_>,
    ) -> Result<(), CatalogError>;

    /// The latest `limit` changes of a unit's management, newest first.
    fn management_history(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        limit: usize,
    ) -> Result<Vec<ManagementHistoryRow>, CatalogError>;

    /// Corrects a unit's descriptive metadata: its row, keywords, text index, facets and
    /// counts follow, the previous version goes to its history. Refused
    /// ([`CatalogError::Conflict`]) when the unit is gone, its metadata is no longer
    /// `before`, an elimination of the tenant is executing, or a closure of it is open.
    fn change_metadata(
        &self,
        tenant: &TenantId,
        change: MetadataChange<'_>,
    ) -> Result<(), CatalogError>;

    /// The latest `limit` corrections of a unit's metadata, newest first.
    fn metadata_history(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        limit: usize,
    ) -> Result<Vec<MetadataHistoryRow>, CatalogError>;

    /// Records the management of units ingested before it was kept, with the operation and
    /// event that say so (`summary`, `event`), in one transaction; when no unit needed it,
    /// nothing is written. Only a unit that has none yet is changed: it is what the unit was
    /// given at ingest, not a change, so it has no history entry.
    fn fill_management(
        &self,
        tenant: &TenantId,
        units: &[(UnitId, Management)],
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<usize, CatalogError>;
}

/// The journal: each tenant's hash chain of events, and its seals.
pub trait JournalStore: Send + Sync {
    /// Events that record no state change of their own (requests, refusals), in one
    /// transaction.
    fn append_events(&self, events: &[NewEvent]) -> Result<(), CatalogError>;

    /// The events of a tenant's journal after sequence number `after`, in order, handed to
    /// `each` one at a time (which must not call the catalog). A row that cannot be read as an
    /// event (its fields were tampered with) comes as an [`UnreadableEvent`], not as an error.
    fn each_event(
        &self,
        tenant: &TenantId,
        after: u64,
        each: &mut dyn FnMut(JournalRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError>;

    /// The events of a tenant's journal after sequence number `after` that concern one of
    /// `about` ([`JournalSubject::concerns`]), in order, handed to `each` as by
    /// [`each_event`](Self::each_event). Reads what the subjects' index names, not the whole
    /// journal: a unit's lifecycle costs its own events, however long the tenant's journal.
    fn each_event_about(
        &self,
        tenant: &TenantId,
        about: &[JournalSubject],
        after: u64,
        each: &mut dyn FnMut(JournalRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError>;

    /// The sequence number of a tenant's last event, 0 when it has none: a tenant's events
    /// are numbered from 1, without a gap.
    fn last_sequence(&self, tenant: &TenantId) -> Result<u64, CatalogError>;

    /// Every event of a tenant's journal; an unreadable one is an error.
    fn journal(&self, tenant: &TenantId) -> Result<Vec<Event>, CatalogError> {
        let mut all = Vec::new();
        self.each_event(tenant, 0, &mut |row| {
            all.push(row.map_err(|u| {
                CatalogError::Corruption(format!("journal event {}: {}", u.sequence, u.reason))
            })?);
            Ok(())
        })?;
        Ok(all)
    }

    /// Appends a seal and ends its running operation with its event; refused (`Conflict`)
    /// unless it follows the last seal.
    fn record_seal(
        &self,
        tenant: &TenantId,
        seal: &SealRow,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError>;

    /// Every seal of a tenant, oldest first.
    fn seals(&self, tenant: &TenantId) -> Result<Vec<SealRow>, CatalogError>;
}

/// Evidence records (RFC 4998): hash trees, the files whose chains they start, the trees
/// that renew them.
pub trait EvidenceStore: Send + Sync {
    /// Stored files without an evidence record yet (at most `limit`), with their digest.
    fn pending_evidence(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<(ObjectId, Digest)>, CatalogError>;

    /// Stores a tree, its links and its operation and event, all or nothing.
    fn commit_evidence(
        &self,
        tenant: &TenantId,
        commit: EvidenceCommit<'_>,
    ) -> Result<(), CatalogError>;

    /// Trees at the head of a chain (not yet renewed), the ones a timestamp renewal covers.
    fn current_evidence_trees(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<EvidenceTreeRow>, CatalogError>;

    /// The trees that make up a file's evidence record.
    fn evidence_path(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<EvidencePath, CatalogError>;

    /// Files with evidence, for a hash-tree renewal, with their catalog digest.
    fn objects_with_evidence(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(ObjectId, OperationId, Digest)>, CatalogError>;
}

/// Search over a tenant's units.
pub trait SearchIndex: Send + Sync {
    /// How many matches a search counts, facets and sorts exactly, and how deep it pages:
    /// beyond, the count says "at least", facets are empty, the order is the index's and
    /// pages stop (the API refuses a page past it). A tenant's units, and an agency's, are
    /// counted exactly whatever their number.
    fn search_window(&self) -> u64;

    /// The units of `tenant` that match, one page of them, with counts by agency and year;
    /// given up ([`CatalogError::Interrupted`]) once `interrupt` is due.
    fn search_units(
        &self,
        tenant: &TenantId,
        query: &UnitQuery,
        interrupt: &Interrupt,
    ) -> Result<UnitPage, CatalogError>;
}

/// Several processes (nodes) serving one catalog: who is alive, who ingests which queued
/// transfer, who runs a periodic duty. A node is alive while its lease runs (the catalog
/// renews it from the process itself); what a node left running is abandoned only once its
/// lease has lapsed. An embedded catalog has one node, the process that holds its data
/// folder's lock: whatever another process left is abandoned.
pub trait NodeStore: Send + Sync {
    /// This process's name among the catalog's nodes (recorded with what it starts).
    fn node(&self) -> &str;

    /// Running operations whose node is gone (or unknown), on every tenant: what recovery
    /// may clean. Never a live node's; this node's own only with `including_this_node`
    /// (recovery at start, before this node has started anything: what carries its name
    /// then was left by an earlier use of the same catalog handle, as tests simulate a stop).
    fn abandoned_operations(
        &self,
        including_this_node: bool,
    ) -> Result<Vec<(TenantId, OperationId)>, CatalogError>;

    /// Takes a queued transfer for this node to ingest: true when it is now this node's
    /// (unclaimed, already this node's, or its node is gone), false while a node alive has
    /// it. Two nodes asking at once: one gets it.
    fn claim_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<bool, CatalogError>;

    /// Takes or keeps the lead of a periodic duty for `lease`: true when this node is to
    /// run it now, false while another node alive holds it.
    fn lead(&self, duty: &str, lease: std::time::Duration) -> Result<bool, CatalogError>;
}

/// A node's name: random, with the process's id for the operator who reads it.
pub fn new_node_name() -> Result<String, CatalogError> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes)
        .map_err(|e| CatalogError::storage_failed(format!("no randomness for a node name: {e}")))?;
    Ok(format!(
        "node-{}-{}",
        std::process::id(),
        hex::encode(bytes)
    ))
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
