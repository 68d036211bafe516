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

pub mod search;
pub mod sqlite;

use carnac_model::access::{AccountKind, Role};
use carnac_model::elimination::EliminationState;
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

/// An API token as it can be shown: never the token, only the beginning of its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    /// The first 16 hex digits of the token's SHA-256: enough to name it, useless to use it.
    pub id: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
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

/// An account: a person or an application, its role, the tenants it works on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub login: String,
    pub role: Role,
    pub kind: AccountKind,
    /// Argon2id (PHC string) of the SHA-256 hex of the password, when it has one.
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    pub tenants: Vec<TenantId>,
    /// The originating agencies a producer speaks for; empty: every agency of its tenants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agencies: Vec<String>,
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
}

impl ReferentialKind {
    pub const ALL: [ReferentialKind; 6] = [
        Self::Agencies,
        Self::Rules,
        Self::IngestContracts,
        Self::ArchiveProfiles,
        Self::Formats,
        Self::UnitProfiles,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agencies => "agencies",
            Self::Rules => "rules",
            Self::IngestContracts => "ingest_contracts",
            Self::ArchiveProfiles => "archive_profiles",
            Self::Formats => "formats",
            Self::UnitProfiles => "archive_unit_profiles",
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub units: u64,
    pub object_groups: u64,
    pub objects: u64,
    pub copies: u64,
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

/// Accounts and their credentials (API tokens, TLS client certificates).
pub trait AccountStore: Send + Sync {
    /// Creates an account (Conflict if the login or the certificate exists, NotFound for an
    /// unknown tenant), with a first API token and a client certificate when given, and the events (each with its own operation) in the
    /// same transaction.
    fn create_account(
        &self,
        account: &Account,
        token_hash: Option<&str>,
        certificate_sha256: Option<&str>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// Adds an API token (its SHA-256) to an account, with its events.
    fn add_token(
        &self,
        login: &str,
        token_hash: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// The API tokens of an account (revoked ones too), oldest first.
    fn tokens(&self, login: &str) -> Result<Vec<TokenRow>, CatalogError>;

    /// Revokes one token of an account, named by its [`TokenRow::id`], with its events;
    /// `NotFound` when the account has no such token still valid.
    fn revoke_token(
        &self,
        login: &str,
        id: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// Disables an account (every credential of it stops working) or enables it again, with
    /// its events.
    fn set_account_disabled(
        &self,
        login: &str,
        disabled_at: Option<&Timestamp>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// Registers a TLS client certificate (its SHA-256) to an account, with its events.
    fn add_certificate(
        &self,
        login: &str,
        sha256: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// The account a registered client certificate belongs to.
    fn account_by_certificate(&self, sha256: &str) -> Result<Option<Account>, CatalogError>;

    fn account(&self, login: &str) -> Result<Option<Account>, CatalogError>;

    /// The account a valid (not revoked) token belongs to.
    fn account_by_token(&self, token_hash: &str) -> Result<Option<Account>, CatalogError>;

    fn accounts(&self) -> Result<Vec<Account>, CatalogError>;
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

    /// Operations left running by a process that died, on every tenant (used by recovery).
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
    /// while an elimination of the tenant is executing.
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

/// Every part of the catalog: what an archive runs on. Use cases that need less ask for the
/// narrower trait; anything that implements all of them is a `Catalog`.
/// An elimination as the catalog keeps it: its state, the date its analysis ran for, every
/// step taken (who, when, what, under which operation), and the totals of its bordereau.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EliminationRow {
    /// The proposal's operation.
    pub id: OperationId,
    pub state: EliminationState,
    /// The date the analysis ran for (`YYYY-MM-DD`).
    pub at: String,
    pub seda_version: String,
    pub proposed_by: String,
    pub proposed_at: Timestamp,
    /// Every step after the proposal, in order: `{"step", "author", "at", "operation",
    /// "decision", "comment", …}`.
    pub steps: Vec<serde_json::Value>,
    /// The bordereau's totals and what the analysis counted.
    pub totals: serde_json::Value,
    /// Blobs an execution still has to remove from the offers (after its commit).
    pub purge_pending: bool,
    /// The execution, once begun: `{"operation", "agent", "started_at"}`.
    pub execution: Option<serde_json::Value>,
}

/// Where a unit of an elimination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EliminationUnitStatus {
    /// On the bordereau.
    Proposed,
    /// In the selection, not eligible (with its reason).
    Excluded,
    /// Excepted from the visa.
    VisaExcepted,
    /// Taken out at execution, when checked again (with its reason).
    Dropped,
    /// To be destroyed by the execution under way.
    Destroying,
    Destroyed,
}

impl EliminationUnitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::Excluded => "excluded",
            Self::VisaExcepted => "visa_excepted",
            Self::Dropped => "dropped",
            Self::Destroying => "destroying",
            Self::Destroyed => "destroyed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Proposed,
            Self::Excluded,
            Self::VisaExcepted,
            Self::Dropped,
            Self::Destroying,
            Self::Destroyed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One unit of an elimination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EliminationUnitRow {
    /// The unit's identifier as given (an excluded one may name no unit).
    pub unit: String,
    pub status: EliminationUnitStatus,
    /// Why it is excluded or dropped (`carnac_model::elimination::Excluded`).
    pub reason: Option<serde_json::Value>,
    /// Its line of the bordereau: title, dates, agency, rule and end date, objects, bytes.
    pub record: serde_json::Value,
}

/// A proposal, written in one transaction with its operation and event.
pub struct NewElimination<'a> {
    pub row: &'a EliminationRow,
    pub units: &'a mut dyn Iterator<Item = EliminationUnitRow>,
    pub summary: &'a serde_json::Value,
    pub event: &'a NewEvent,
}

/// A step (agreement, visa, withdrawal): from the state it was read in to the next, with
/// units excepted (a partial visa), as one operation and its event.
pub struct EliminationStepCommit<'a> {
    pub id: &'a OperationId,
    pub from: EliminationState,
    pub to: EliminationState,
    pub step: &'a serde_json::Value,
    pub excepted: &'a [UnitId],
    pub summary: &'a serde_json::Value,
    pub event: &'a NewEvent,
}

/// What remains of a destroyed unit, forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub unit: UnitId,
    pub elimination: OperationId,
    pub destroyed_at: Timestamp,
    /// Identifier, title, dates, agency, the rule applied, its files' digests.
    pub record: serde_json::Value,
}

/// A stored file an execution removed from the catalog, to remove from every offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedBlob {
    /// The ingest (blob batch) that stored it.
    pub operation: OperationId,
    pub object: ObjectId,
}

/// The beginning of an execution, in one transaction: the state becomes `executing`, the
/// units dropped when checked again are marked so (with their reasons), those to destroy are
/// marked `destroying` in the order given, the execution's operation is recorded as running,
/// and the event is written. Nothing is deleted yet.
pub struct ExecutionStart<'a> {
    pub id: &'a OperationId,
    /// The execution's operation: running until the execution completes.
    pub operation: &'a OperationId,
    pub agent: &'a str,
    pub started_at: &'a Timestamp,
    /// The units to destroy, descendants before their ancestors, each with its line as
    /// checked again.
    pub destroy: &'a [(UnitId, serde_json::Value)],
    pub dropped: &'a [(UnitId, serde_json::Value)],
    pub event: &'a NewEvent,
}

/// A unit destroyed by an execution's step: what its tombstone keeps and its event.
pub struct DestroyedUnit {
    pub unit: UnitId,
    pub tombstone: serde_json::Value,
    pub event: NewEvent,
}

/// The end of an execution: the state becomes `executed`, with its step, and the operation
/// ends with its summary and event.
pub struct ExecutionEnd<'a> {
    pub id: &'a OperationId,
    pub step: &'a serde_json::Value,
    pub summary: &'a serde_json::Value,
    pub event: &'a NewEvent,
}

/// Eliminations: proposals, their steps, their execution, and what remains.
pub trait EliminationStore: Send + Sync {
    /// Records a proposal. Fails with [`CatalogError::Conflict`] (writing nothing) if a
    /// proposed unit is in another open elimination.
    fn create_elimination(
        &self,
        tenant: &TenantId,
        new: NewElimination<'_>,
    ) -> Result<(), CatalogError>;

    fn elimination(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Option<EliminationRow>, CatalogError>;

    /// Every elimination of the tenant, newest first.
    fn eliminations(&self, tenant: &TenantId) -> Result<Vec<EliminationRow>, CatalogError>;

    /// The units of an elimination, in the order proposed, handed to `each`.
    fn each_elimination_unit(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        each: &mut dyn FnMut(EliminationUnitRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError>;

    /// Which of `units` an open elimination has, and which one.
    fn units_in_open_eliminations(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<Vec<(UnitId, OperationId)>, CatalogError>;

    /// Takes a step. Fails with [`CatalogError::Conflict`] if the elimination is no longer
    /// in `from` (another step came first).
    fn elimination_step(
        &self,
        tenant: &TenantId,
        step: EliminationStepCommit<'_>,
    ) -> Result<(), CatalogError>;

    /// Begins an execution ([`ExecutionStart`]). Fails with [`CatalogError::Conflict`],
    /// writing nothing, unless a visa grants it now (not executed yet, not withdrawn).
    fn begin_execution(
        &self,
        tenant: &TenantId,
        start: ExecutionStart<'_>,
    ) -> Result<(), CatalogError>;

    /// The next `limit` units an execution under way has to destroy, in its order, each
    /// with its line.
    fn units_to_destroy(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        limit: usize,
    ) -> Result<Vec<(UnitId, serde_json::Value)>, CatalogError>;

    /// One step of an execution, in one transaction: `units` (each still to destroy by
    /// it) deleted with their groups, objects, copies, text index entries and counts (a
    /// group another unit keeps loses only its link), their tombstones and events. It
    /// returns the blobs to remove from the offers, which stay recorded as pending until
    /// [`EliminationStore::purge_done`]. Fails with [`CatalogError::Conflict`], deleting
    /// nothing, if the elimination is not executing or a unit is not one it has to destroy.
    fn destroy_units(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        destroyed_at: &Timestamp,
        units: &[DestroyedUnit],
    ) -> Result<Vec<PurgedBlob>, CatalogError>;

    /// Ends an execution ([`ExecutionEnd`]). Fails with [`CatalogError::Conflict`] unless
    /// it is executing with nothing left to destroy.
    fn complete_execution(
        &self,
        tenant: &TenantId,
        end: ExecutionEnd<'_>,
    ) -> Result<(), CatalogError>;

    /// Eliminations being executed, on every tenant: what recovery completes.
    fn executing_eliminations(&self) -> Result<Vec<(TenantId, OperationId)>, CatalogError>;

    /// The tombstones an elimination left, in the order its units were destroyed.
    fn each_tombstone(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        each: &mut dyn FnMut(Tombstone) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError>;

    /// Blobs that executions removed from the catalog and not yet from every offer, on
    /// every tenant: what recovery finishes.
    fn pending_purges(&self)
    -> Result<Vec<(TenantId, OperationId, Vec<PurgedBlob>)>, CatalogError>;

    /// These blobs of the execution are gone from every offer.
    fn purge_done(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        blobs: &[PurgedBlob],
    ) -> Result<(), CatalogError>;

    /// What remains of a destroyed unit.
    fn tombstone(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<Tombstone>, CatalogError>;

    /// The tombstone of the unit a destroyed object (file) belonged to.
    fn object_tombstone(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<Option<Tombstone>, CatalogError>;
}

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
        + ?Sized,
> Catalog for T
{
}

/// The catalog's traits, for callers that use several of them through a [`Catalog`].
pub mod prelude {
    pub use crate::{
        AccountStore, Catalog, EliminationStore, EvidenceStore, HoldingStore, IntakeQueue,
        JournalStore, OperationStore, ReferentialStore, SearchIndex, TenantStore,
    };
}

/// The suite every implementation passes; compiled for tests and for the `conformance`
/// feature (another backend's crate enables it in its dev-dependencies), not into the binary.
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
