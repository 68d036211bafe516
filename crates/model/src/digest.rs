//! Digest algorithms as SEDA spells them, and a hasher that computes several at once so that
//! the bytes of a file pass only once.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DigestAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub const ALL: [DigestAlgorithm; 5] = [
        Self::Md5,
        Self::Sha1,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
    ];

    /// The spelling of the SEDA `MessageDigestAlgorithmCodeList`.
    pub fn seda_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// The algorithm named as SEDA 2 writes it (`SHA-256`), or by the XML Signature URI that
    /// SEDA 1.0 (`Integrity/@algorithme`) and as@lae's SEDA 2.1 write.
    pub fn from_seda_name(name: &str) -> Option<Self> {
        let name = name.trim();
        let by_uri = match name {
            "http://www.w3.org/2001/04/xmldsig-more#md5" => Some(Self::Md5),
            "http://www.w3.org/2000/09/xmldsig#sha1" => Some(Self::Sha1),
            "http://www.w3.org/2001/04/xmlenc#sha256" => Some(Self::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Some(Self::Sha384),
            "http://www.w3.org/2001/04/xmlenc#sha512" => Some(Self::Sha512),
            _ => None,
        };
        by_uri.or_else(|| Self::ALL.into_iter().find(|a| a.seda_name() == name))
    }

    /// Whether a digest of this algorithm may serve as the archive's own integrity proof.
    /// MD5 and SHA-1 are accepted from producers but never relied on.
    pub fn is_strong(self) -> bool {
        matches!(self, Self::Sha256 | Self::Sha384 | Self::Sha512)
    }

    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha1 => 40,
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.seda_name())
    }
}

/// A digest value, kept as lowercase hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digest {
    pub algorithm: DigestAlgorithm,
    pub hex: String,
}

impl Digest {
    /// Accepts a declared value in hexadecimal, any case (SEDA's `hexBinary`). Returns `None`
    /// when the value cannot be a digest of that algorithm.
    pub fn parse_declared(algorithm: DigestAlgorithm, value: &str) -> Option<Digest> {
        let v = value.trim();
        if v.len() == algorithm.hex_len() && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(Digest {
                algorithm,
                hex: v.to_ascii_lowercase(),
            });
        }
        None
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.seda_name(), self.hex)
    }
}

/// Computes any set of algorithms over one stream of bytes.
pub struct MultiHasher {
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
    sha384: Option<sha2::Sha384>,
    sha512: Option<sha2::Sha512>,
}

impl MultiHasher {
    pub fn new(algorithms: &[DigestAlgorithm]) -> Self {
        use sha2::Digest as _;
        let has = |a| algorithms.contains(&a);
        MultiHasher {
            md5: has(DigestAlgorithm::Md5).then(md5::Md5::new),
            sha1: has(DigestAlgorithm::Sha1).then(sha1::Sha1::new),
            sha256: has(DigestAlgorithm::Sha256).then(sha2::Sha256::new),
            sha384: has(DigestAlgorithm::Sha384).then(sha2::Sha384::new),
            sha512: has(DigestAlgorithm::Sha512).then(sha2::Sha512::new),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        use sha2::Digest as _;
        if let Some(h) = &mut self.md5 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha384 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(bytes);
        }
    }

    pub fn finish(self) -> Vec<Digest> {
        use sha2::Digest as _;
        let mut out = Vec::new();
        let mut push = |algorithm, bytes: &[u8]| {
            out.push(Digest {
                algorithm,
                hex: hex::encode(bytes),
            })
        };
        if let Some(h) = self.md5 {
            push(DigestAlgorithm::Md5, &h.finalize());
        }
        if let Some(h) = self.sha1 {
            push(DigestAlgorithm::Sha1, &h.finalize());
        }
        if let Some(h) = self.sha256 {
            push(DigestAlgorithm::Sha256, &h.finalize());
        }
        if let Some(h) = self.sha384 {
            push(DigestAlgorithm::Sha384, &h.finalize());
        }
        if let Some(h) = self.sha512 {
            push(DigestAlgorithm::Sha512, &h.finalize());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let mut h = MultiHasher::new(&DigestAlgorithm::ALL);
        h.update(b"ab");
        h.update(b"c");
        let d = h.finish();
        let get = |a| d.iter().find(|x| x.algorithm == a).unwrap().hex.clone();
        assert_eq!(
            get(DigestAlgorithm::Md5),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            get(DigestAlgorithm::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            get(DigestAlgorithm::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(get(DigestAlgorithm::Sha512).starts_with("ddaf35a193617aba"));
        assert!(get(DigestAlgorithm::Sha384).starts_with("cb00753f45a35e8b"));
    }

    #[test]
    fn seda_names_round_trip() {
        for a in DigestAlgorithm::ALL {
            assert_eq!(DigestAlgorithm::from_seda_name(a.seda_name()), Some(a));
        }
        assert_eq!(DigestAlgorithm::from_seda_name("SHA256"), None);
        assert_eq!(DigestAlgorithm::from_seda_name("sha-256"), None);
    }

    #[test]
    fn declared_digests_are_checked_for_shape() {
        assert!(
            Digest::parse_declared(DigestAlgorithm::Md5, "900150983CD24FB0D6963F7D28E17F72")
                .is_some()
        );
        assert!(Digest::parse_declared(DigestAlgorithm::Md5, "90015098").is_none());
        assert!(
            Digest::parse_declared(
                DigestAlgorithm::Sha1,
                "zz9993e364706816aba3e25717850c26c9cd0d89d"
            )
            .is_none()
        );
    }
}
