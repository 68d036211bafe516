//! Pure domain types of the archive: identifiers, digests, referentials, reports and journal
//! events.
//!
//! Nothing here does I/O, reads the clock or draws random numbers: times and identifiers come
//! in as arguments, which keeps every rule deterministic and testable.

pub mod access;
pub mod delivery;
pub mod digest;
pub mod elimination;
pub mod id;
pub mod journal;
pub mod referential;
pub mod report;
pub mod rules;
pub mod timestamp;

pub use digest::{Digest, DigestAlgorithm, MultiHasher};
pub use id::{IdError, ObjectId, OperationId, TenantId, UnitId};
pub use report::{Finding, Report, Severity, Status};
pub use timestamp::{Timestamp, TimestampError};
