//! RFC 4998 evidence records: hash trees in reduced form, records, renewals and their complete
//! verification.
//!
//! One archive timestamp covers a whole batch of files: their hashes are the leaves of a
//! binary [`tree::HashTree`] whose root is timestamped, and each file's record carries only
//! its path to the root (a reduced hash tree, logarithmic in the batch). Renewals follow
//! RFC 4998 section 5: a timestamp renewal adds an archive timestamp over the previous
//! timestamp to the same chain; a hash-tree renewal starts a new chain over the file's hash
//! (new algorithm) concatenated with the hash of every chain before it.
//!
//! [`verify::verify`] walks every chain and every timestamp, not only the last one (Bouncy
//! Castle 1.72 checks only the last chain).
//!
//! The encoding conventions, checked against Bouncy Castle's records (`testdata/evidence`):
//! a node's hash is the hash of its children's hashes sorted in ascending binary order and
//! concatenated; a reduced hash tree's first list holds the file's hash alone and each
//! further list one sibling; a one-element first list is the leaf itself, not hashed again
//! (a longer one is hashed, as RFC 4998 section 4.3 says). No Rust crate implements RFC 4998.

pub mod asn1;
pub mod tree;
pub mod verify;

pub use asn1::{ArchiveTimeStamp, ArchiveTimeStampChain, EvidenceRecord, PartialHashtree};
pub use carnac_timestamp::HashAlgorithm;
pub use tree::HashTree;

use der::Encode;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EvidenceError {
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("{0}")]
    Invalid(String),
}

pub(crate) fn malformed(what: &'static str) -> impl Fn(der::Error) -> EvidenceError {
    move |e| EvidenceError::Malformed {
        what,
        detail: e.to_string(),
    }
}

/// The hash of several hashes as RFC 4998 combines them: sorted in ascending binary order,
/// concatenated, hashed.
pub fn combine(algorithm: HashAlgorithm, hashes: &[&[u8]]) -> Vec<u8> {
    let mut sorted: Vec<&[u8]> = hashes.to_vec();
    sorted.sort();
    algorithm.digest(&sorted.concat())
}

/// The leaf of a file in a hash-tree renewal (RFC 4998 section 5.2): the new algorithm's
/// hash of the file's hash concatenated with the hash of the archive timestamp sequence so
/// far (in that order, as Bouncy Castle writes it).
pub fn renewal_leaf(
    algorithm: HashAlgorithm,
    data_digest: &[u8],
    previous: &[ArchiveTimeStampChain],
) -> Result<Vec<u8>, EvidenceError> {
    let sequence = previous
        .to_vec()
        .to_der()
        .map_err(malformed("archive timestamp sequence"))?;
    let ha = algorithm.digest(&sequence);
    Ok(algorithm.digest(&[data_digest, ha.as_slice()].concat()))
}

/// The leaf of a timestamp renewal (RFC 4998 section 5.2): the hash of the previous archive
/// timestamp's `timeStamp` field.
pub fn timestamp_renewal_leaf(
    algorithm: HashAlgorithm,
    previous: &ArchiveTimeStamp,
) -> Result<Vec<u8>, EvidenceError> {
    let token = previous
        .time_stamp
        .to_der()
        .map_err(malformed("timestamp"))?;
    Ok(algorithm.digest(&token))
}
