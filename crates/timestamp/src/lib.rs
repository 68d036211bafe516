//! RFC 3161 timestamps: requests, full verification of tokens, and the built-in test TSA.
//!
//! A token is trusted only once [`verify::verify_token`] has checked everything RFC 3161 and
//! RFC 5816 ask of it: the response status, the message imprint, the nonce, the policy when
//! one is configured, the CMS signature over the signed attributes, the content-type and
//! message-digest attributes, the ESS signing-certificate binding (v1 or v2) to the signer's
//! certificate, that certificate's extended key usage (timeStamping only, critical), and its
//! chain to a configured trust anchor with every certificate valid at the token's time.
//!
//! [`builtin::BuiltinTsa`] issues real tokens with its own key, for the embedded default and
//! the tests; its policy ([`BUILTIN_POLICY`]) marks them as not qualified.
//!
//! No crate verifies RFC 3161 tokens end to end; the ASN.1 types come from RustCrypto
//! (`x509-tsp`, `cms`, `x509-cert`), the signatures from `p256`, `p384` and `rsa`, and the
//! checks between them are written here.

pub mod builtin;
pub mod client;
pub mod ess;
pub mod revocation;
pub mod signature;
pub mod verify;

use const_oid::ObjectIdentifier;
use der::Encode;
use der::asn1::{Int, OctetString};
use sha2::Digest as _;
use spki::AlgorithmIdentifierOwned;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion};

pub use verify::{Expected, TrustStore, VerifiedToken};

/// Object identifiers used here, spelled out so that each can be checked against its RFC.
pub mod oid {
    use const_oid::ObjectIdentifier as Oid;
    pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    pub const CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
    pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
    pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
    pub const SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
    pub const SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
    pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
    pub const CE_EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
    pub const CE_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    pub const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
    pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const RSA_SHA256: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const RSA_SHA384: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const RSA_SHA512: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
}

/// The policy of the built-in TSA's tokens, in the UUID arc (ITU-T X.667, 2.25) so that no
/// registration is needed and no one can mistake it for a qualified service's policy.
///
/// The arc is small because const-oid 0.9 (the version `cms` and `x509-tsp` use) holds arcs in
/// 32 bits: the full 128-bit UUID first written here wrapped silently to this value in release
/// builds, and every token the built-in TSA has issued carries it; it is kept so that they keep
/// being recognised as the built-in TSA's. A test checks that the text and the value agree.
pub const BUILTIN_POLICY_TEXT: &str = "2.25.3898204425";
pub const BUILTIN_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap(BUILTIN_POLICY_TEXT);

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TimestampError {
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("the TSA refused the request: {0}")]
    Refused(String),
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token cannot be checked: {0}")]
    Unsupported(String),
    #[error("no trust anchor vouches for the TSA: {0}")]
    Untrusted(String),
    #[error("TSA unreachable: {0}")]
    Transport(String),
    #[error("{0}")]
    Tsa(String),
}

pub(crate) fn malformed(what: &'static str) -> impl Fn(der::Error) -> TimestampError {
    move |e| TimestampError::Malformed {
        what,
        detail: e.to_string(),
    }
}

/// The hash algorithms a message imprint may use. SHA-1 is read (old tokens, ESS v1) but
/// never requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => oid::SHA1,
            Self::Sha256 => oid::SHA256,
            Self::Sha384 => oid::SHA384,
            Self::Sha512 => oid::SHA512,
        }
    }

    pub fn from_oid(o: &ObjectIdentifier) -> Option<HashAlgorithm> {
        [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|a| a.oid() == *o)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The AlgorithmIdentifier with absent parameters, as RFC 5754 prefers.
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }
}

/// What is timestamped: a hash and its algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imprint {
    pub algorithm: HashAlgorithm,
    pub digest: Vec<u8>,
}

impl Imprint {
    pub fn of(algorithm: HashAlgorithm, data: &[u8]) -> Imprint {
        Imprint {
            algorithm,
            digest: algorithm.digest(data),
        }
    }

    pub(crate) fn to_message_imprint(&self) -> Result<MessageImprint, TimestampError> {
        Ok(MessageImprint {
            hash_algorithm: spki::AlgorithmIdentifier {
                oid: self.algorithm.oid(),
                parameters: None,
            },
            hashed_message: OctetString::new(self.digest.clone())
                .map_err(malformed("message imprint"))?,
        })
    }
}

/// A DER `TimeStampReq` for `imprint`, asking for the signer's certificate in the token.
/// `nonce` is sent as a positive INTEGER.
pub fn request(
    imprint: &Imprint,
    nonce: Option<&[u8]>,
    policy: Option<ObjectIdentifier>,
) -> Result<Vec<u8>, TimestampError> {
    let nonce = nonce
        .map(|n| Int::new(&positive(n)).map_err(malformed("nonce")))
        .transpose()?;
    TimeStampReq {
        version: TspVersion::V1,
        message_imprint: imprint.to_message_imprint()?,
        req_policy: policy,
        nonce,
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .map_err(malformed("request"))
}

/// Big-endian bytes as the content of a positive DER INTEGER (a leading zero when the high
/// bit is set, no redundant leading zeros).
pub(crate) fn positive(bytes: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        &bytes[first..]
    };
    match trimmed.first() {
        None => vec![0],
        Some(&b) if b & 0x80 != 0 => [&[0u8][..], trimmed].concat(),
        Some(_) => trimmed.to_vec(),
    }
}

/// A fresh random value for nonces and serial numbers.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], TimestampError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| TimestampError::Tsa(format!("no randomness: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests;

/// The DER of every certificate in a PEM file.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, TimestampError> {
    use der::Encode;
    x509_cert::Certificate::load_pem_chain(pem)
        .map_err(malformed("PEM certificates"))?
        .iter()
        .map(|c| c.to_der().map_err(malformed("certificate")))
        .collect()
}
