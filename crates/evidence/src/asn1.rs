//! The ASN.1 of RFC 4998 (module `ERS`, IMPLICIT TAGS).

use crate::{EvidenceError, HashAlgorithm, malformed};
use cms::content_info::ContentInfo;
use der::asn1::{OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

/// ```text
/// PartialHashtree ::= SEQUENCE OF OCTET STRING
/// ```
pub type PartialHashtree = Vec<OctetString>;

/// ```text
/// ArchiveTimeStamp ::= SEQUENCE {
///   digestAlgorithm [0] AlgorithmIdentifier OPTIONAL,
///   attributes      [1] Attributes OPTIONAL,
///   reducedHashtree [2] SEQUENCE OF PartialHashtree OPTIONAL,
///   timeStamp       ContentInfo }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ArchiveTimeStamp {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub digest_algorithm: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub attributes: Option<SetOfVec<Attribute>>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    pub reduced_hashtree: Option<Vec<PartialHashtree>>,
    pub time_stamp: ContentInfo,
}

/// ```text
/// ArchiveTimeStampChain ::= SEQUENCE OF ArchiveTimeStamp
/// ```
pub type ArchiveTimeStampChain = Vec<ArchiveTimeStamp>;

/// ```text
/// EvidenceRecord ::= SEQUENCE {
///   version                  INTEGER { v1(1) },
///   digestAlgorithms         SEQUENCE OF AlgorithmIdentifier,
///   cryptoInfos              [0] CryptoInfos OPTIONAL,
///   encryptionInfo           [1] EncryptionInfo OPTIONAL,
///   archiveTimeStampSequence ArchiveTimeStampSequence }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EvidenceRecord {
    pub version: u8,
    pub digest_algorithms: Vec<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub crypto_infos: Option<Vec<Attribute>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub encryption_info: Option<der::Any>,
    pub archive_time_stamp_sequence: Vec<ArchiveTimeStampChain>,
}

impl ArchiveTimeStamp {
    /// An archive timestamp over a reduced hash tree (none for a tree of one leaf, whose
    /// timestamp covers the leaf itself).
    pub fn new(
        algorithm: HashAlgorithm,
        reduced: Vec<Vec<Vec<u8>>>,
        token: &[u8],
    ) -> Result<ArchiveTimeStamp, EvidenceError> {
        let reduced_hashtree = reduced
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .map(|h| OctetString::new(h).map_err(malformed("hash")))
                    .collect::<Result<PartialHashtree, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ArchiveTimeStamp {
            digest_algorithm: Some(algorithm.identifier()),
            attributes: None,
            reduced_hashtree: Some(reduced_hashtree),
            time_stamp: ContentInfo::from_der(token).map_err(malformed("timestamp token"))?,
        })
    }

    /// The reduced hash tree as plain bytes.
    pub fn reduced(&self) -> Vec<Vec<Vec<u8>>> {
        self.reduced_hashtree
            .iter()
            .flatten()
            .map(|list| list.iter().map(|h| h.as_bytes().to_vec()).collect())
            .collect()
    }

    /// Its digest algorithm: the one named, else that of its timestamp's imprint (RFC 4998
    /// section 4.1).
    pub fn algorithm(&self) -> Option<HashAlgorithm> {
        match &self.digest_algorithm {
            Some(a) => HashAlgorithm::from_oid(&a.oid),
            None => {
                let token = self.token().ok()?;
                let tst = carnac_timestamp::verify::read_tst_info(&token).ok()?;
                HashAlgorithm::from_oid(&tst.message_imprint.hash_algorithm.oid)
            }
        }
    }

    pub fn token(&self) -> Result<Vec<u8>, EvidenceError> {
        self.time_stamp
            .to_der()
            .map_err(malformed("timestamp token"))
    }
}

impl EvidenceRecord {
    pub fn new(chains: Vec<ArchiveTimeStampChain>) -> EvidenceRecord {
        let mut algorithms: Vec<AlgorithmIdentifierOwned> = Vec::new();
        for ats in chains.iter().flatten() {
            if let Some(a) = ats.algorithm()
                && !algorithms.iter().any(|b| b.oid == a.oid())
            {
                algorithms.push(a.identifier());
            }
        }
        EvidenceRecord {
            version: 1,
            digest_algorithms: algorithms,
            crypto_infos: None,
            encryption_info: None,
            archive_time_stamp_sequence: chains,
        }
    }

    /// A timestamp renewal: `ats` (over [`crate::timestamp_renewal_leaf`] of the last archive
    /// timestamp) joins the last chain.
    pub fn renew_timestamp(&mut self, ats: ArchiveTimeStamp) {
        match self.archive_time_stamp_sequence.last_mut() {
            Some(chain) => chain.push(ats),
            None => self.archive_time_stamp_sequence.push(vec![ats]),
        }
        self.note_algorithms();
    }

    /// A hash-tree renewal: `ats` (over [`crate::renewal_leaf`] of the file and the chains so
    /// far) starts a new chain.
    pub fn renew_hash_tree(&mut self, ats: ArchiveTimeStamp) {
        self.archive_time_stamp_sequence.push(vec![ats]);
        self.note_algorithms();
    }

    fn note_algorithms(&mut self) {
        *self = EvidenceRecord::new(std::mem::take(&mut self.archive_time_stamp_sequence));
    }

    /// The last archive timestamp, which the next timestamp renewal covers.
    pub fn last(&self) -> Option<&ArchiveTimeStamp> {
        self.archive_time_stamp_sequence
            .last()
            .and_then(|c| c.last())
    }

    pub fn from_der(bytes: &[u8]) -> Result<EvidenceRecord, EvidenceError> {
        let er =
            <EvidenceRecord as Decode>::from_der(bytes).map_err(malformed("evidence record"))?;
        if er.version != 1 {
            return Err(EvidenceError::Invalid(format!(
                "evidence record version {} (only v1 exists)",
                er.version
            )));
        }
        Ok(er)
    }

    pub fn to_der(&self) -> Result<Vec<u8>, EvidenceError> {
        Encode::to_der(self).map_err(malformed("evidence record"))
    }
}
