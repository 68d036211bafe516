//! Deliveries (communication) as the catalog keeps them: the request, the units a
//! derogation must cover, the steps that move it, and its package while it is kept.

use crate::CatalogError;
use carnac_model::delivery::DeliveryState;
use carnac_model::journal::NewEvent;
use carnac_model::{OperationId, TenantId, Timestamp, UnitId};

/// A delivery as the catalog keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// The request's operation.
    pub id: OperationId,
    pub state: DeliveryState,
    /// The account that asked.
    pub requested_by: String,
    pub requested_at: Timestamp,
    /// The request as made: `{"requester", "derogation", "comment", "request_identifier",
    /// "units"}`.
    pub request: serde_json::Value,
    /// The units still restricted when asked: what a derogation must cover.
    pub restricted: Vec<UnitId>,
    /// Every step after the request, in order: `{"step", "author", "at", "operation", …}`.
    pub steps: Vec<serde_json::Value>,
    /// The package once delivered: `{"operation", "name", "sha256", "bytes", "files",
    /// "units", …}`.
    pub package: Option<serde_json::Value>,
    /// When a delivered package is removed.
    pub expires_at: Option<Timestamp>,
}

/// A step (the authorisation, the removal): from the state it was read in to the next, as
/// one operation with its events, in one transaction.
pub struct DeliveryStepCommit<'a> {
    pub id: &'a OperationId,
    pub from: DeliveryState,
    pub to: DeliveryState,
    pub step: &'a serde_json::Value,
    /// The package the step delivers, with its expiry.
    pub package: Option<(&'a serde_json::Value, &'a Timestamp)>,
    pub summary: &'a serde_json::Value,
    pub event: &'a NewEvent,
    /// Events on each unit delivered.
    pub subjects: &'a [NewEvent],
}

/// Deliveries: requests for communication, their authorisation, their packages.
pub trait DeliveryStore: Send + Sync {
    /// Records a request (and, when delivered at once, its package) with its operation,
    /// event and the events of its units, in one transaction.
    fn create_delivery(
        &self,
        tenant: &TenantId,
        row: &DeliveryRow,
        summary: &serde_json::Value,
        event: &NewEvent,
        subjects: &[NewEvent],
    ) -> Result<(), CatalogError>;

    fn delivery(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Option<DeliveryRow>, CatalogError>;

    /// The tenant's deliveries, newest first, at most `limit`; those of `requested_by`
    /// alone when given.
    fn deliveries(
        &self,
        tenant: &TenantId,
        requested_by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, CatalogError>;

    /// Takes a step. Fails with [`CatalogError::Conflict`], writing nothing, if the delivery
    /// is no longer in `from` (another step came first).
    fn delivery_step(
        &self,
        tenant: &TenantId,
        step: DeliveryStepCommit<'_>,
    ) -> Result<(), CatalogError>;

    /// Delivered packages whose time is up at `now`, on every tenant, oldest first.
    fn expired_deliveries(
        &self,
        now: &Timestamp,
    ) -> Result<Vec<(TenantId, OperationId)>, CatalogError>;

    /// How many packages of the tenant are kept now, and their bytes.
    fn kept_packages(&self, tenant: &TenantId) -> Result<(u64, u64), CatalogError>;
}
