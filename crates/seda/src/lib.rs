//! SEDA 0.2, 1.0 and 2.1/2.2/2.3 manifests: streaming readers (SEDA 0.2 and 1.0 into the same
//! model, [`v1`]), XSD and profile validation with libxml2, the ArchiveTransferReply writer, and the
//! acknowledgements and replies of the as@lae-compatible intake ([`asalae`]).
//!
//! Parsers take readers ([`manifest::read`]); validation with libxml2 takes the path of the
//! one temporary file the ingest keeps the manifest in, since libxml2 streams from it itself.
//! Nothing here fetches anything: schemas are embedded and network URLs are refused.

pub mod asalae;
pub mod authorization;
pub mod edit;
pub mod manifest;
pub mod package;
pub mod reply;
pub mod schema;
pub mod transfer_reply;
pub mod unit_json;
pub mod v1;

use std::fmt;

/// The SEDA versions this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SedaVersion {
    /// SEDA 0.2 (2006-2010), the first standard, still sent by flows set up before 1.0 (the
    /// Mégalis PES flow); read only, through the as@lae-compatible intake.
    V0_2,
    /// SEDA 1.0 (2012), still produced by the flows of acts and accounting files; it comes
    /// through the as@lae-compatible intake.
    V1_0,
    V2_1,
    V2_2,
    V2_3,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    #[error("the root element has no namespace, so no SEDA version")]
    NoNamespace,
    #[error("the namespace {0:?} is not a supported SEDA version (0.2, 1.0, 2.1, 2.2, 2.3)")]
    Unknown(String),
}

impl SedaVersion {
    pub const ALL: [SedaVersion; 5] = [Self::V0_2, Self::V1_0, Self::V2_1, Self::V2_2, Self::V2_3];
    /// The versions of SEDA 2, whose packages carry their manifest inside.
    pub const V2: [SedaVersion; 3] = [Self::V2_1, Self::V2_2, Self::V2_3];

    pub fn namespace(self) -> &'static str {
        match self {
            Self::V0_2 => "fr:gouv:ae:archive:draft:standard_echange_v0.2",
            Self::V1_0 => "fr:gouv:culture:archivesdefrance:seda:v1.0",
            Self::V2_1 => "fr:gouv:culture:archivesdefrance:seda:v2.1",
            Self::V2_2 => "fr:gouv:culture:archivesdefrance:seda:v2.2",
            Self::V2_3 => "fr:gouv:culture:archivesdefrance:seda:v2.3",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_2 => "0.2",
            Self::V1_0 => "1.0",
            Self::V2_1 => "2.1",
            Self::V2_2 => "2.2",
            Self::V2_3 => "2.3",
        }
    }

    pub fn from_namespace(ns: &str) -> Result<SedaVersion, VersionError> {
        if let Some(v) = Self::ALL.into_iter().find(|v| v.namespace() == ns) {
            return Ok(v);
        }
        Err(VersionError::Unknown(ns.chars().take(200).collect()))
    }

    /// SEDA 0.2 and 1.0: transfers describe documents (no packages, no object groups), whose
    /// files come as attachments, and are answered as as@lae answers them.
    pub fn describes_documents(self) -> bool {
        matches!(self, Self::V0_2 | Self::V1_0)
    }
}

impl fmt::Display for SedaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
