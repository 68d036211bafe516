//! Eliminations as the catalog keeps them: proposals and their units, the steps that move
//! them, an execution's beginning, steps and end, the blobs still to purge, and the
//! tombstones that remain.

use crate::CatalogError;
use carnac_model::elimination::{DisposalKind, EliminationState};
use carnac_model::journal::NewEvent;
use carnac_model::{ObjectId, OperationId, TenantId, Timestamp, UnitId};
use serde::{Deserialize, Serialize};

/// An elimination as the catalog keeps it: its state, the date its analysis ran for, every
/// step taken (who, when, what, under which operation), and the totals of its bordereau.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EliminationRow {
    /// The proposal's operation.
    pub id: OperationId,
    /// An elimination, or a transfer out (which goes the same way).
    pub kind: DisposalKind,
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
    /// Its place in the execution's order (lowest first) until it is destroyed: given at
    /// the beginning of an execution, or with the proposal when it is decided already (a
    /// closure's, descendants before their ancestors).
    pub position: Option<i64>,
}

/// A proposal, written in one transaction with its operation and event. An error from
/// `units` (a list read from a file) abandons it: nothing is written.
pub struct NewElimination<'a> {
    pub row: &'a EliminationRow,
    pub units: &'a mut dyn Iterator<Item = Result<EliminationUnitRow, CatalogError>>,
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
/// marked `destroying` in their order, the execution's operation is recorded as running,
/// and the event is written. Nothing is deleted yet.
pub struct ExecutionStart<'a> {
    pub id: &'a OperationId,
    /// The execution's operation: running until the execution completes.
    pub operation: &'a OperationId,
    pub agent: &'a str,
    pub started_at: &'a Timestamp,
    pub destroy: ToDestroy<'a>,
    pub dropped: &'a [(UnitId, serde_json::Value)],
    pub event: &'a NewEvent,
}

/// Which units an execution destroys, and in which order.
#[derive(Clone, Copy)]
pub enum ToDestroy<'a> {
    /// These, in this order (descendants before their ancestors), each with its line as
    /// checked again; each must be proposed.
    Listed(&'a [(UnitId, serde_json::Value)]),
    /// Every unit proposed, each with the line and the position it was proposed with (a
    /// closure's list, too long to pass whole); every one must have a position.
    Proposed,
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

    /// The units of an elimination handed to `each`: those with a position in its order,
    /// then the others in the order proposed.
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
