//! Detached CMS signatures with a signature timestamp (CAdES-T): how the archive signs what it
//! attests. The signed document stays a file of its own (streamed, hashed once); the
//! signature holds its SHA-256 in the signed attributes, the signer's certificate, and an
//! RFC 3161 token over the signature value as the unsigned attribute
//! `id-aa-signatureTimeStampToken` (RFC 3161 appendix A). `openssl cms -verify -binary
//! -content` checks the signature; [`verify_detached`] checks both.

use crate::verify::{Expected, TrustStore, VerifiedToken, verify_signature, verify_token};
use crate::{HashAlgorithm, Imprint, TimestampError, malformed, oid, positive, random_bytes};
use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfos};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, DecodePem, Encode, EncodePem};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use std::str::FromStr;
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

pub const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub const SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> TimestampError {
    move |e| TimestampError::Tsa(format!("{what}: {e}"))
}

fn time_at(t: Duration) -> Result<Time, TimestampError> {
    let dt = der::DateTime::from_unix_duration(Duration::from_secs(t.as_secs()))
        .map_err(malformed("time"))?;
    Ok(Time::UtcTime(
        der::asn1::UtcTime::from_date_time(dt).map_err(malformed("time"))?,
    ))
}

/// The archive's signing key and its self-signed certificate, which those who rely on its
/// attestations are given (it is their trust anchor).
pub struct Signer {
    key: SigningKey,
    cert: Certificate,
}

impl Signer {
    /// A new key and a ten-year certificate named after the archive.
    pub fn create(archive: &str, now: Duration) -> Result<Signer, TimestampError> {
        let key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let clean: String = archive
            .chars()
            .filter(|c| c.is_alphanumeric() || " -_.".contains(*c))
            .collect();
        let name = Name::from_str(&format!("CN={clean} attestations,O=Carnac"))
            .map_err(malformed("name"))?;
        let spki_der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(err("public key"))?;
        let spki = SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes())
            .map_err(malformed("public key"))?;
        let serial =
            SerialNumber::new(&positive(&random_bytes::<16>()?)).map_err(malformed("serial"))?;
        let cert = CertificateBuilder::new(
            Profile::Root,
            serial,
            Validity {
                not_before: time_at(now)?,
                not_after: time_at(now + Duration::from_secs(10 * 366 * 86_400))?,
            },
            name,
            spki,
            &key,
        )
        .map_err(err("certificate"))?
        .build::<DerSignature>()
        .map_err(err("certificate"))?;
        Ok(Signer { key, cert })
    }

    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// Certificate and key, PEM.
    pub fn to_pem(&self) -> Result<(String, String), TimestampError> {
        Ok((
            self.cert
                .to_pem(LineEnding::LF)
                .map_err(malformed("certificate"))?,
            self.key
                .to_pkcs8_pem(LineEnding::LF)
                .map(|z| z.to_string())
                .map_err(err("key"))?,
        ))
    }

    pub fn from_pem(cert: &str, key: &str) -> Result<Signer, TimestampError> {
        let signer = Signer {
            cert: Certificate::from_pem(cert.as_bytes()).map_err(malformed("certificate"))?,
            key: SigningKey::from_pkcs8_pem(key).map_err(err("key"))?,
        };
        let spki_der = signer
            .key
            .verifying_key()
            .to_public_key_der()
            .map_err(err("public key"))?;
        if signer
            .cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(malformed("key"))?
            != spki_der.as_bytes()
        {
            return Err(TimestampError::Tsa(
                "the signing key does not match its certificate".into(),
            ));
        }
        Ok(signer)
    }

    /// A detached CAdES-T signature of a document whose SHA-256 is `digest`; `stamp` gives
    /// the timestamp of the signature value.
    pub fn sign_detached(
        &self,
        digest: &[u8],
        stamp: &dyn Fn(&Imprint) -> Result<VerifiedToken, TimestampError>,
    ) -> Result<Vec<u8>, TimestampError> {
        let content = EncapsulatedContentInfo {
            econtent_type: DATA,
            econtent: None,
        };
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: self.cert.tbs_certificate.issuer.clone(),
            serial_number: self.cert.tbs_certificate.serial_number.clone(),
        });
        let signer = SignerInfoBuilder::new(
            &self.key,
            sid,
            HashAlgorithm::Sha256.identifier(),
            &content,
            Some(digest),
        )
        .map_err(err("signer"))?;
        let mut builder = SignedDataBuilder::new(&content);
        builder
            .add_digest_algorithm(HashAlgorithm::Sha256.identifier())
            .map_err(err("signature"))?
            .add_certificate(CertificateChoices::Certificate(self.cert.clone()))
            .map_err(err("signature"))?
            .add_signer_info::<SigningKey, DerSignature>(signer)
            .map_err(err("signature"))?;
        let ci = builder.build().map_err(err("signature"))?;
        let mut sd: SignedData = ci.content.decode_as().map_err(malformed("SignedData"))?;
        // The timestamp of the signature value, as an unsigned attribute.
        let mut infos = sd.signer_infos.0.into_vec();
        let info = infos
            .first_mut()
            .ok_or_else(|| TimestampError::Tsa("no signer info was built".into()))?;
        let token = stamp(&Imprint::of(
            HashAlgorithm::Sha256,
            info.signature.as_bytes(),
        ))?;
        let token_ci = ContentInfo::from_der(&token.token).map_err(malformed("token"))?;
        let mut values = SetOfVec::new();
        values
            .insert(Any::encode_from(&token_ci).map_err(malformed("token"))?)
            .map_err(malformed("token"))?;
        let mut unsigned = SetOfVec::new();
        unsigned
            .insert(Attribute {
                oid: SIGNATURE_TIME_STAMP_TOKEN,
                values,
            })
            .map_err(malformed("attributes"))?;
        info.unsigned_attrs = Some(unsigned);
        sd.signer_infos =
            SignerInfos(SetOfVec::try_from(infos).map_err(malformed("signer infos"))?);
        ContentInfo {
            content_type: oid::SIGNED_DATA,
            content: Any::encode_from(&sd).map_err(malformed("SignedData"))?,
        }
        .to_der()
        .map_err(malformed("signature"))
    }
}

/// What a verified detached signature establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub signer: String,
    /// When the signature existed at the latest: its timestamp.
    pub timestamp: VerifiedToken,
}

/// Checks a detached CAdES-T signature of a document whose SHA-256 is `digest`: the signed
/// message digest, the signature with the signer's certificate (which must be one of
/// `signers`), and the signature timestamp against `tsa`.
pub fn verify_detached(
    signature: &[u8],
    digest: &[u8],
    signers: &[Certificate],
    tsa: &TrustStore,
) -> Result<VerifiedSignature, TimestampError> {
    let invalid = |m: &str| TimestampError::Invalid(m.to_owned());
    let ci = ContentInfo::from_der(signature).map_err(malformed("signature"))?;
    if ci.content_type != oid::SIGNED_DATA {
        return Err(invalid("not a CMS SignedData"));
    }
    let sd: SignedData = ci.content.decode_as().map_err(malformed("SignedData"))?;
    let mut infos = sd.signer_infos.0.iter();
    let (Some(si), None) = (infos.next(), infos.next()) else {
        return Err(invalid("the signature must have exactly one signer"));
    };
    let cert = signers
        .iter()
        .find(|c| match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                ias.issuer == c.tbs_certificate.issuer
                    && ias.serial_number == c.tbs_certificate.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(_) => false,
        })
        .ok_or_else(|| {
            TimestampError::Untrusted("the signer is not among the trusted signers".into())
        })?;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| invalid("no signed attributes"))?;
    let md = attrs
        .iter()
        .find(|a| a.oid == oid::MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .ok_or_else(|| invalid("no message-digest attribute"))?;
    let md: OctetString = md.decode_as().map_err(malformed("message-digest"))?;
    if md.as_bytes() != digest {
        return Err(invalid("the signature is of another document"));
    }
    let attrs_der = attrs.to_der().map_err(malformed("signed attributes"))?;
    verify_signature(
        &cert.tbs_certificate.subject_public_key_info,
        &si.signature_algorithm,
        HashAlgorithm::from_oid(&si.digest_alg.oid),
        &attrs_der,
        si.signature.as_bytes(),
    )?;
    let token = si
        .unsigned_attrs
        .iter()
        .flat_map(|a| a.iter())
        .find(|a| a.oid == SIGNATURE_TIME_STAMP_TOKEN)
        .and_then(|a| a.values.iter().next())
        .ok_or_else(|| invalid("the signature has no timestamp"))?
        .to_der()
        .map_err(malformed("timestamp"))?;
    let timestamp = verify_token(
        &token,
        &Expected {
            imprint: &Imprint::of(HashAlgorithm::Sha256, si.signature.as_bytes()),
            nonce: None,
            policy: None,
        },
        tsa,
    )?;
    Ok(VerifiedSignature {
        signer: cert.tbs_certificate.subject.to_string(),
        timestamp,
    })
}

use spki::EncodePublicKey;
