//! What the use cases need from the outside world, as traits: the clock, identifiers and the
//! antivirus. The catalog and the offers have their own crates.

use std::fmt;

pub trait Clock: Send + Sync {
    fn now(&self) -> time::OffsetDateTime;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Operation,
    Unit,
    ObjectGroup,
    Object,
}

impl IdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Operation => "op",
            IdKind::Unit => "au",
            IdKind::ObjectGroup => "og",
            IdKind::Object => "bo",
        }
    }
}

/// Mints identifiers that are unique across the platform and valid as tokens
/// (`[A-Za-z0-9_-]`, at most 64 characters).
pub trait IdGenerator: Send + Sync {
    fn next(&self, kind: IdKind) -> String;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    Infected(String),
}

#[derive(Debug)]
pub struct ScanError(pub String);

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScanError {}

/// An antivirus that examines a file as its bytes stream past, so the ingest keeps its single
/// pass over the data.
pub trait VirusScanner: Send + Sync {
    fn name(&self) -> &str;
    fn session(&self) -> Result<Box<dyn ScanSession>, ScanError>;
}

pub trait ScanSession: Send {
    fn update(&mut self, bytes: &[u8]) -> Result<(), ScanError>;
    fn finish(self: Box<Self>) -> Result<Verdict, ScanError>;
}

/// Reports the progress of long work; the CLI draws a bar with it, the server does not.
pub trait Progress: Send + Sync {
    fn start(&self, _what: &str, _total_bytes: u64) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}
