//! Full verification of RFC 3161 responses and tokens.

use crate::ess::{IssuerSerial, SigningCertificate, SigningCertificateV2};
use crate::{HashAlgorithm, Imprint, TimestampError, malformed, oid, positive};
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_tsp::{TimeStampResp, TstInfo};

/// The certificates a verification may rely on: trust anchors, and intermediates that tokens
/// may omit.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
    intermediates: Vec<Certificate>,
}

impl TrustStore {
    pub fn new() -> TrustStore {
        TrustStore::default()
    }

    /// Every certificate of a PEM file becomes a trust anchor.
    pub fn with_anchors_pem(mut self, pem: &[u8]) -> Result<TrustStore, TimestampError> {
        self.anchors
            .extend(Certificate::load_pem_chain(pem).map_err(malformed("PEM certificates"))?);
        Ok(self)
    }

    pub fn with_anchor(mut self, cert: Certificate) -> TrustStore {
        self.anchors.push(cert);
        self
    }

    pub fn with_intermediate(mut self, cert: Certificate) -> TrustStore {
        self.intermediates.push(cert);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }
}

/// What the token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub imprint: &'a Imprint,
    /// The nonce sent with the request, if any: the token must carry it back.
    pub nonce: Option<&'a [u8]>,
    /// The TSA policy required, if one is configured.
    pub policy: Option<ObjectIdentifier>,
}

/// A token that passed every check, and what it attests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The token (a CMS ContentInfo), DER.
    pub token: Vec<u8>,
    /// genTime, as seconds (and fractions) since the Unix epoch.
    pub gen_time: Duration,
    /// genTime in RFC 3339.
    pub gen_time_text: String,
    /// The token's serial number, hexadecimal.
    pub serial: String,
    pub policy: ObjectIdentifier,
    /// The signer certificate's subject.
    pub tsa: String,
    /// The end of the signer certificate's validity: the token must be renewed before it.
    pub signer_not_after: Duration,
    /// Every certificate from the signer to the trust anchor, DER, signer first.
    pub chain: Vec<Vec<u8>>,
}

impl VerifiedToken {
    /// Tokens of the built-in TSA are marked as such in every evidence that uses them.
    pub fn is_builtin(&self) -> bool {
        self.policy == crate::BUILTIN_POLICY
    }
}

fn invalid(msg: impl Into<String>) -> TimestampError {
    TimestampError::Invalid(msg.into())
}

/// Checks a DER `TimeStampResp` received for a request: status, then the whole token.
pub fn verify_response(
    response: &[u8],
    expected: &Expected<'_>,
    trust: &TrustStore,
) -> Result<VerifiedToken, TimestampError> {
    let resp = TimeStampResp::from_der(response).map_err(malformed("TimeStampResp"))?;
    use cmpv2::status::PkiStatus;
    match resp.status.status {
        PkiStatus::Accepted | PkiStatus::GrantedWithMods => {}
        other => {
            let text = resp
                .status
                .status_string
                .as_ref()
                .map(|s| {
                    s.iter()
                        .map(|t| t.as_str().to_owned())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            let fail = resp
                .status
                .fail_info
                .map(|f| format!(" ({f:?})"))
                .unwrap_or_default();
            return Err(TimestampError::Refused(format!(
                "status {other:?}{fail} {text}"
            )));
        }
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| invalid("the response grants a token but carries none"))?;
    let der = token.to_der().map_err(malformed("token"))?;
    verify_token(&der, expected, trust)
}

/// The signed content of a token, parsed without any check: for reading what a token says
/// before (or without) trusting it.
pub fn read_tst_info(token: &[u8]) -> Result<TstInfo, TimestampError> {
    let (_, tst, _) = open(token)?;
    Ok(tst)
}

fn open(token: &[u8]) -> Result<(SignedData, TstInfo, Vec<u8>), TimestampError> {
    let ci = ContentInfo::from_der(token).map_err(malformed("token ContentInfo"))?;
    if ci.content_type != oid::SIGNED_DATA {
        return Err(invalid(format!(
            "the token is a {} ContentInfo, not SignedData",
            ci.content_type
        )));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(malformed("token SignedData"))?;
    if sd.encap_content_info.econtent_type != oid::CT_TST_INFO {
        return Err(invalid(format!(
            "the token signs a {}, not a TSTInfo",
            sd.encap_content_info.econtent_type
        )));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| invalid("the token's TSTInfo is missing"))?;
    let octets: OctetString = econtent.decode_as().map_err(malformed("eContent"))?;
    let bytes = octets.as_bytes().to_vec();
    let tst = TstInfo::from_der(&bytes).map_err(malformed("TSTInfo"))?;
    Ok((sd, tst, bytes))
}

/// Checks a DER token (a CMS ContentInfo) completely; see the crate documentation.
pub fn verify_token(
    token: &[u8],
    expected: &Expected<'_>,
    trust: &TrustStore,
) -> Result<VerifiedToken, TimestampError> {
    let (sd, tst, tst_bytes) = open(token)?;

    // What is stamped.
    let algorithm =
        HashAlgorithm::from_oid(&tst.message_imprint.hash_algorithm.oid).ok_or_else(|| {
            TimestampError::Unsupported(format!(
                "imprint hash algorithm {}",
                tst.message_imprint.hash_algorithm.oid
            ))
        })?;
    if algorithm != expected.imprint.algorithm
        || tst.message_imprint.hashed_message.as_bytes() != expected.imprint.digest.as_slice()
    {
        return Err(invalid(format!(
            "the token stamps {} {}, not {} {}",
            algorithm.name(),
            hex::encode(tst.message_imprint.hashed_message.as_bytes()),
            expected.imprint.algorithm.name(),
            hex::encode(&expected.imprint.digest)
        )));
    }
    if let Some(nonce) = expected.nonce {
        let want = positive(nonce);
        match &tst.nonce {
            Some(n) if n.as_bytes() == want.as_slice() => {}
            Some(_) => return Err(invalid("the token's nonce is not the request's")),
            None => return Err(invalid("the token lacks the request's nonce")),
        }
    }
    if let Some(policy) = expected.policy
        && tst.policy != policy
    {
        return Err(invalid(format!(
            "the token's policy is {}, not the required {policy}",
            tst.policy
        )));
    }

    // The signer.
    let mut signers = sd.signer_infos.0.iter();
    let si = match (signers.next(), signers.next()) {
        (Some(si), None) => si,
        (None, _) => return Err(invalid("the token has no signer")),
        (Some(_), Some(_)) => return Err(invalid("the token has more than one signer")),
    };
    let token_certs: Vec<Certificate> = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let signer = token_certs
        .iter()
        .chain(&trust.intermediates)
        .chain(&trust.anchors)
        .find(|c| identifies(&si.sid, c))
        .cloned()
        .ok_or_else(|| {
            TimestampError::Untrusted(
                "the signer's certificate is neither in the token nor in the trust store".into(),
            )
        })?;

    // RFC 5652 5.1 and 5.3: the versions follow from the content and the signer identifier.
    if (sd.version as u8) < 3 {
        return Err(invalid(format!(
            "SignedData version {:?} cannot carry a TSTInfo",
            sd.version
        )));
    }
    let signer_version = match si.sid {
        SignerIdentifier::IssuerAndSerialNumber(_) => 1,
        SignerIdentifier::SubjectKeyIdentifier(_) => 3,
    };
    if si.version as u8 != signer_version {
        return Err(invalid(format!(
            "SignerInfo version {:?} does not fit its signer identifier",
            si.version
        )));
    }
    if !sd
        .digest_algorithms
        .iter()
        .any(|a| a.oid == si.digest_alg.oid)
    {
        return Err(invalid(
            "the signer's digest algorithm is not among the token's digestAlgorithms",
        ));
    }
    check_signed_attributes(si, &tst_bytes, &signer)?;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| invalid("the token has no signed attributes"))?;
    let attrs_der = attrs.to_der().map_err(malformed("signed attributes"))?;
    let digest_alg = HashAlgorithm::from_oid(&si.digest_alg.oid);
    verify_signature(
        &signer.tbs_certificate.subject_public_key_info,
        &si.signature_algorithm,
        digest_alg,
        &attrs_der,
        si.signature.as_bytes(),
    )
    .map_err(|e| invalid(format!("the TSA's signature does not verify: {e}")))?;
    check_tsa_usage(&signer)?;

    let gen_time = tst.gen_time.to_unix_duration();
    let chain = chain_to_anchor(&signer, &token_certs, trust, gen_time)?;
    let gen_time_text = rfc3339(gen_time);
    Ok(VerifiedToken {
        token: token.to_vec(),
        gen_time,
        gen_time_text,
        serial: hex::encode(tst.serial_number.as_bytes()),
        policy: tst.policy,
        tsa: signer.tbs_certificate.subject.to_string(),
        signer_not_after: signer.tbs_certificate.validity.not_after.to_unix_duration(),
        chain: chain
            .iter()
            .map(|c| c.to_der())
            .collect::<Result<_, _>>()
            .map_err(malformed("certificate"))?,
    })
}

/// A time as RFC 3339 (UTC, seconds).
pub fn rfc3339(t: Duration) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.as_secs() as i64)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{}", t.as_secs()))
}

fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == cert.tbs_certificate.issuer
                && ias.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => extension::<SubjectKeyIdentifier>(
            cert,
            &const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER,
        )
        .ok()
        .flatten()
        .is_some_and(|(_, s)| s == *ski),
    }
}

/// An extension of `cert`, decoded, with its criticality.
fn extension<'a, T: Decode<'a>>(
    cert: &'a Certificate,
    id: &ObjectIdentifier,
) -> Result<Option<(bool, T)>, TimestampError> {
    let Some(ext) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == *id)
    else {
        return Ok(None);
    };
    let value =
        T::from_der(ext.extn_value.as_bytes()).map_err(malformed("certificate extension"))?;
    Ok(Some((ext.critical, value)))
}

fn attribute_values(si: &SignerInfo, id: ObjectIdentifier) -> Vec<&der::Any> {
    si.signed_attrs
        .iter()
        .flat_map(|a| a.iter())
        .filter(|a| a.oid == id)
        .flat_map(|a| a.values.iter())
        .collect()
}

/// content-type, message-digest and the ESS signing-certificate binding.
fn check_signed_attributes(
    si: &SignerInfo,
    tst_bytes: &[u8],
    signer: &Certificate,
) -> Result<(), TimestampError> {
    if si.signed_attrs.is_none() {
        return Err(invalid("the token has no signed attributes"));
    }
    match attribute_values(si, oid::CONTENT_TYPE).as_slice() {
        [v] => {
            let ct: ObjectIdentifier = v.decode_as().map_err(malformed("content-type"))?;
            if ct != oid::CT_TST_INFO {
                return Err(invalid(format!(
                    "the signed content type is {ct}, not TSTInfo"
                )));
            }
        }
        _ => {
            return Err(invalid(
                "the token needs exactly one content-type attribute",
            ));
        }
    }
    let digest_alg = HashAlgorithm::from_oid(&si.digest_alg.oid).ok_or_else(|| {
        TimestampError::Unsupported(format!("digest algorithm {}", si.digest_alg.oid))
    })?;
    match attribute_values(si, oid::MESSAGE_DIGEST).as_slice() {
        [v] => {
            let md: OctetString = v.decode_as().map_err(malformed("message-digest"))?;
            if md.as_bytes() != digest_alg.digest(tst_bytes).as_slice() {
                return Err(invalid(
                    "the message-digest attribute does not match the TSTInfo",
                ));
            }
        }
        _ => {
            return Err(invalid(
                "the token needs exactly one message-digest attribute",
            ));
        }
    }

    let cert_der = signer.to_der().map_err(malformed("signer certificate"))?;
    let v2 = attribute_values(si, oid::SIGNING_CERTIFICATE_V2);
    let v1 = attribute_values(si, oid::SIGNING_CERTIFICATE);
    let (algorithm, hash, issuer_serial) = match (v2.as_slice(), v1.as_slice()) {
        ([v], _) => {
            let sc: SigningCertificateV2 =
                v.decode_as().map_err(malformed("signing-certificate-v2"))?;
            let first = sc.certs.into_iter().next().ok_or_else(|| {
                invalid("the signing-certificate-v2 attribute names no certificate")
            })?;
            let algorithm = match &first.hash_algorithm {
                None => HashAlgorithm::Sha256,
                Some(a) => HashAlgorithm::from_oid(&a.oid).ok_or_else(|| {
                    TimestampError::Unsupported(format!("ESS hash algorithm {}", a.oid))
                })?,
            };
            (algorithm, first.cert_hash, first.issuer_serial)
        }
        ([], [v]) => {
            let sc: SigningCertificate = v.decode_as().map_err(malformed("signing-certificate"))?;
            let first =
                sc.certs.into_iter().next().ok_or_else(|| {
                    invalid("the signing-certificate attribute names no certificate")
                })?;
            (HashAlgorithm::Sha1, first.cert_hash, first.issuer_serial)
        }
        ([], []) => {
            return Err(invalid(
                "the token has no ESS signing-certificate attribute binding it to its certificate",
            ));
        }
        _ => {
            return Err(invalid(
                "the token has several signing-certificate attributes",
            ));
        }
    };
    if hash.as_bytes() != algorithm.digest(&cert_der).as_slice() {
        return Err(invalid(
            "the ESS signing-certificate attribute names another certificate than the signer's",
        ));
    }
    if let Some(IssuerSerial {
        issuer,
        serial_number,
    }) = issuer_serial
    {
        let named = issuer.iter().any(
            |g| matches!(g, GeneralName::DirectoryName(n) if *n == signer.tbs_certificate.issuer),
        );
        if serial_number != signer.tbs_certificate.serial_number || !named {
            return Err(invalid(
                "the ESS issuerSerial does not match the signer's certificate",
            ));
        }
    }
    Ok(())
}

/// RFC 3161 2.3: the TSA's certificate has exactly one extended key usage, timeStamping, and
/// the extension is critical.
fn check_tsa_usage(cert: &Certificate) -> Result<(), TimestampError> {
    match extension::<ExtendedKeyUsage>(cert, &oid::CE_EXT_KEY_USAGE)? {
        None => Err(invalid(
            "the TSA certificate has no extended key usage (timeStamping required)",
        )),
        Some((false, _)) => Err(invalid(
            "the TSA certificate's extended key usage is not critical",
        )),
        Some((true, eku)) if eku.0 == [oid::KP_TIME_STAMPING] => Ok(()),
        Some((true, eku)) => Err(invalid(format!(
            "the TSA certificate's extended key usage is {:?}, not timeStamping alone",
            eku.0.iter().map(|o| o.to_string()).collect::<Vec<_>>()
        ))),
    }
}

fn check_validity(cert: &Certificate, at: Duration, role: &str) -> Result<(), TimestampError> {
    let v = &cert.tbs_certificate.validity;
    let (from, to) = (
        v.not_before.to_unix_duration(),
        v.not_after.to_unix_duration(),
    );
    if at < from || at > to {
        return Err(TimestampError::Untrusted(format!(
            "the {role} {} is valid from {} to {}, not at the token's time {}",
            cert.tbs_certificate.subject,
            rfc3339(from),
            rfc3339(to),
            rfc3339(at)
        )));
    }
    Ok(())
}

/// Walks from the signer to a trust anchor, checking each signature, that each issuer is a
/// CA, and that every certificate is valid at `at`.
fn chain_to_anchor(
    signer: &Certificate,
    token_certs: &[Certificate],
    trust: &TrustStore,
    at: Duration,
) -> Result<Vec<Certificate>, TimestampError> {
    if trust.anchors.is_empty() {
        return Err(TimestampError::Untrusted(
            "no trust anchor is configured".into(),
        ));
    }
    check_validity(signer, at, "TSA certificate")?;
    let mut path = vec![signer.clone()];
    for _ in 0..8 {
        let current = path.last().cloned().unwrap_or_else(|| signer.clone());
        if trust.anchors.contains(&current) {
            return Ok(path);
        }
        let tbs = current
            .tbs_certificate
            .to_der()
            .map_err(malformed("certificate"))?;
        let candidates = trust.anchors.iter().map(|c| (c, true)).chain(
            trust
                .intermediates
                .iter()
                .chain(token_certs)
                .map(|c| (c, false)),
        );
        let mut found = None;
        for (candidate, is_anchor) in candidates {
            if candidate.tbs_certificate.subject != current.tbs_certificate.issuer {
                continue;
            }
            if verify_signature(
                &candidate.tbs_certificate.subject_public_key_info,
                &current.signature_algorithm,
                None,
                &tbs,
                current.signature.raw_bytes(),
            )
            .is_ok()
            {
                found = Some((candidate.clone(), is_anchor));
                break;
            }
        }
        let Some((issuer, is_anchor)) = found else {
            return Err(TimestampError::Untrusted(format!(
                "no trusted certificate issued {}",
                current.tbs_certificate.subject
            )));
        };
        match extension::<BasicConstraints>(&issuer, &oid::CE_BASIC_CONSTRAINTS)? {
            Some((_, bc)) if bc.ca => {}
            _ => {
                return Err(TimestampError::Untrusted(format!(
                    "{} issued {} but is not a certification authority",
                    issuer.tbs_certificate.subject, current.tbs_certificate.subject
                )));
            }
        }
        check_validity(
            &issuer,
            at,
            if is_anchor {
                "trust anchor"
            } else {
                "intermediate CA"
            },
        )?;
        path.push(issuer);
        if is_anchor {
            return Ok(path);
        }
    }
    Err(TimestampError::Untrusted(
        "the certificate chain is too long".into(),
    ))
}

/// Verifies `signature` over `message` with the key of `spki`. `digest_hint` is the
/// SignerInfo's digest algorithm, for signature algorithms that do not name one.
pub fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    signature_algorithm: &AlgorithmIdentifierOwned,
    digest_hint: Option<HashAlgorithm>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TimestampError> {
    use ecdsa::signature::hazmat::PrehashVerifier;
    let unsupported = |what: String| TimestampError::Unsupported(what);
    let hash = match signature_algorithm.oid {
        o if o == oid::ECDSA_SHA256 || o == oid::RSA_SHA256 => HashAlgorithm::Sha256,
        o if o == oid::ECDSA_SHA384 || o == oid::RSA_SHA384 => HashAlgorithm::Sha384,
        o if o == oid::ECDSA_SHA512 || o == oid::RSA_SHA512 => HashAlgorithm::Sha512,
        o if o == oid::EC_PUBLIC_KEY || o == oid::RSA_ENCRYPTION => digest_hint
            .ok_or_else(|| unsupported(format!("signature algorithm {o} without a digest")))?,
        o => return Err(unsupported(format!("signature algorithm {o}"))),
    };
    let digest = hash.digest(message);
    let key = spki.subject_public_key.raw_bytes();
    let bad = |e: &dyn std::fmt::Display| invalid(format!("bad signature: {e}"));
    match spki.algorithm.oid {
        o if o == oid::EC_PUBLIC_KEY => {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .as_ref()
                .ok_or_else(|| unsupported("an EC key without its curve".into()))?
                .decode_as()
                .map_err(malformed("EC curve"))?;
            match curve {
                c if c == oid::SECP256R1 => {
                    let vk =
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|e| bad(&e))?;
                    let sig = p256::ecdsa::Signature::from_der(signature).map_err(|e| bad(&e))?;
                    vk.verify_prehash(&digest, &sig).map_err(|e| bad(&e))
                }
                c if c == oid::SECP384R1 => {
                    let vk =
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|e| bad(&e))?;
                    let sig = p384::ecdsa::Signature::from_der(signature).map_err(|e| bad(&e))?;
                    vk.verify_prehash(&digest, &sig).map_err(|e| bad(&e))
                }
                c => Err(unsupported(format!("EC curve {c}"))),
            }
        }
        o if o == oid::RSA_ENCRYPTION => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let pk = rsa::RsaPublicKey::from_pkcs1_der(key).map_err(|e| bad(&e))?;
            let scheme = match hash {
                HashAlgorithm::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlgorithm::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlgorithm::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                HashAlgorithm::Sha1 => return Err(unsupported("RSA with SHA-1".into())),
            };
            pk.verify(scheme, &digest, signature).map_err(|e| bad(&e))
        }
        o => Err(unsupported(format!("public key algorithm {o}"))),
    }
}

/// The hash of `data` named by an AlgorithmIdentifier, for callers outside the crate.
pub fn digest_with(
    algorithm: &AlgorithmIdentifierOwned,
    data: &[u8],
) -> Result<Vec<u8>, TimestampError> {
    HashAlgorithm::from_oid(&algorithm.oid)
        .map(|a| a.digest(data))
        .ok_or_else(|| TimestampError::Unsupported(format!("hash algorithm {}", algorithm.oid)))
}

/// The certificates a token carries (its signer's, usually), unchecked.
pub fn token_certificates(token: &[u8]) -> Result<Vec<Certificate>, TimestampError> {
    let (sd, _, _) = open(token)?;
    Ok(sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect())
}
