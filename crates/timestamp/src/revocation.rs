//! Revocation data (RFC 5280 CRLs) for the certificates that sign timestamps: reading them,
//! checking their signature, and saying whether a token's certificates were revoked when it
//! mattered.
//!
//! When it matters (RFC 3161 section 4, RFC 4998 section 5.3): a certificate revoked before a
//! token's genTime makes the token worthless; one revoked later for a compromise (key or CA,
//! or without a reason) makes it worthless too unless the token was renewed first (the
//! renewal's time is the `deadline`); one revoked later for another reason (superseded,
//! cessation of operation...) leaves earlier tokens valid.

use crate::verify::verify_signature;
use crate::{TimestampError, malformed};
use der::{Decode, Encode};
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};

/// A CRL whose encoding was read; its signature is checked when it is used.
#[derive(Debug, Clone)]
pub struct Crl {
    pub list: CertificateList,
    pub der: Vec<u8>,
}

impl Crl {
    pub fn from_der(der: &[u8]) -> Result<Crl, TimestampError> {
        Ok(Crl {
            list: CertificateList::from_der(der).map_err(malformed("CRL"))?,
            der: der.to_vec(),
        })
    }

    pub fn to_pem(&self) -> Result<String, TimestampError> {
        der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &self.der).map_err(|e| {
            TimestampError::Malformed {
                what: "CRL",
                detail: e.to_string(),
            }
        })
    }

    fn this_update(&self) -> Duration {
        self.list.tbs_cert_list.this_update.to_unix_duration()
    }
}

/// Every CRL of a file: PEM ("X509 CRL" blocks, any number) or one DER CRL.
pub fn read_crls(bytes: &[u8]) -> Result<Vec<Crl>, TimestampError> {
    const BEGIN: &str = "-----BEGIN X509 CRL-----";
    const END: &str = "-----END X509 CRL-----";
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(vec![Crl::from_der(bytes)?]);
    };
    if !text.contains(BEGIN) {
        return Ok(vec![Crl::from_der(bytes)?]);
    }
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            return Err(TimestampError::Malformed {
                what: "CRL",
                detail: "a PEM block without its end".into(),
            });
        };
        let block = &rest[start..start + len + END.len()];
        let (_, der) =
            der::pem::decode_vec(block.as_bytes()).map_err(|e| TimestampError::Malformed {
                what: "CRL",
                detail: e.to_string(),
            })?;
        out.push(Crl::from_der(&der)?);
        rest = &rest[start + len + END.len()..];
    }
    Ok(out)
}

/// The http(s) URLs a certificate names for its CRL (CRL distribution points extension).
pub fn distribution_points(cert: &Certificate) -> Vec<String> {
    use x509_cert::ext::pkix::CrlDistributionPoints;
    let Ok(Some((_, points))) = cert.tbs_certificate.get::<CrlDistributionPoints>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for point in points.0 {
        if let Some(DistributionPointName::FullName(names)) = point.distribution_point {
            for name in names {
                if let GeneralName::UniformResourceIdentifier(uri) = name {
                    let uri = uri.as_str().to_owned();
                    if uri.starts_with("http://") || uri.starts_with("https://") {
                        out.push(uri);
                    }
                }
            }
        }
    }
    out
}

/// Why a certificate was revoked (RFC 5280 5.3.1), when the CRL says.
fn reason_of(entry: &x509_cert::crl::RevokedCert) -> Option<u8> {
    let extensions = entry.crl_entry_extensions.as_ref()?;
    let ext = extensions
        .iter()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_CRL_REASONS)?;
    let value = der::asn1::Any::from_der(ext.extn_value.as_bytes()).ok()?;
    value.value().first().copied()
}

fn reason_name(code: Option<u8>) -> &'static str {
    match code {
        None | Some(0) => "unspecified",
        Some(1) => "keyCompromise",
        Some(2) => "cACompromise",
        Some(3) => "affiliationChanged",
        Some(4) => "superseded",
        Some(5) => "cessationOfOperation",
        Some(6) => "certificateHold",
        Some(8) => "removeFromCRL",
        Some(9) => "privilegeWithdrawn",
        Some(10) => "aACompromise",
        Some(_) => "unknown reason",
    }
}

/// A revocation that says the key could have signed for someone else: every token it signed
/// and that was not renewed before is worthless.
fn is_compromise(code: Option<u8>) -> bool {
    matches!(
        code,
        None | Some(0) | Some(1) | Some(2) | Some(6) | Some(10)
    )
}

fn date(t: Duration) -> String {
    crate::verify::rfc3339(t)
}

/// The revocation status of one token's certificates.
///
/// `chain` is the token's certification path, signer first, trust anchor last (DER, as
/// [`crate::verify::VerifiedToken::chain`] gives it). Every certificate but the anchor must be
/// covered by a CRL of its issuer, signed by that issuer and issued no earlier than
/// `gen_time`; none may be revoked before `gen_time`, nor for a compromise before `deadline`
/// (the time of the renewal that took over, or now).
///
/// Ok: one line per certificate saying which CRL vouches for it. Err: every problem.
pub fn check_chain(
    chain: &[Vec<u8>],
    crls: &[Crl],
    gen_time: Duration,
    deadline: Duration,
) -> Result<Vec<String>, Vec<String>> {
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    let certs: Vec<Certificate> = match chain.iter().map(|d| Certificate::from_der(d)).collect() {
        Ok(c) => c,
        Err(e) => return Err(vec![format!("unreadable certificate in the chain: {e}")]),
    };
    for pair in certs.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let subject = cert.tbs_certificate.subject.to_string();
        let issuer_name = &issuer.tbs_certificate.subject;
        let mut covering = Vec::new();
        for crl in crls {
            let tbs = &crl.list.tbs_cert_list;
            if &tbs.issuer != issuer_name {
                continue;
            }
            let Ok(tbs_der) = tbs.to_der() else { continue };
            let signed = crl.list.signature.as_bytes().is_some_and(|sig| {
                verify_signature(
                    &issuer.tbs_certificate.subject_public_key_info,
                    &crl.list.signature_algorithm,
                    None,
                    &tbs_der,
                    sig,
                )
                .is_ok()
            });
            if !signed {
                problems.push(format!(
                    "a CRL that says it is from {issuer_name} is not signed by its key"
                ));
                continue;
            }
            covering.push(crl);
        }
        let Some(freshest) = covering.iter().max_by_key(|c| c.this_update()) else {
            problems.push(format!(
                "no revocation data for {subject} (no CRL of {issuer_name})"
            ));
            continue;
        };
        // CRL times are whole seconds: one issued in the token's second is not older than it.
        if freshest.this_update().as_secs() < gen_time.as_secs() {
            problems.push(format!(
                "the newest CRL of {issuer_name} ({}) predates the timestamp ({}): it cannot say that {subject} was not revoked then",
                date(freshest.this_update()),
                date(gen_time)
            ));
            continue;
        }
        let serial = &cert.tbs_certificate.serial_number;
        let mut revoked = false;
        for crl in &covering {
            let entries = crl.list.tbs_cert_list.revoked_certificates.iter().flatten();
            for entry in entries.filter(|e| &e.serial_number == serial) {
                let at = entry.revocation_date.to_unix_duration();
                let reason = reason_of(entry);
                let fatal = at <= gen_time || (is_compromise(reason) && at <= deadline);
                if fatal && !revoked {
                    revoked = true;
                    problems.push(format!(
                        "{subject} was revoked on {} ({}){}",
                        date(at),
                        reason_name(reason),
                        if at <= gen_time {
                            ", before the timestamp"
                        } else {
                            ", before the timestamp was renewed"
                        }
                    ));
                }
            }
        }
        if !revoked {
            notes.push(format!(
                "{subject}: not revoked (CRL of {issuer_name} of {})",
                date(freshest.this_update())
            ));
        }
    }
    if problems.is_empty() {
        Ok(notes)
    } else {
        Err(problems)
    }
}
