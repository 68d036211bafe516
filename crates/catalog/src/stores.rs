//! The catalog's traits, one per aggregate; [`crate::Catalog`] gathers them.

use crate::*;
use carnac_model::journal::{Event, NewEvent, OperationKind};
use carnac_model::rules::Management;
use carnac_model::{Digest, ObjectId, OperationId, TenantId, Timestamp, UnitId};

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
