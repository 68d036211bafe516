//! The built-in TSA: a root certificate and a timestamping certificate made at first start
//! (ECDSA P-256), kept as PEM files, and real RFC 3161 tokens issued with them. Its tokens
//! carry [`crate::BUILTIN_POLICY`] and its certificates say "not qualified": the embedded
//! default needs no network, production configures a qualified TSA instead.

use crate::ess::{EssCertIdV2, IssuerSerial, SigningCertificateV2};
use crate::{HashAlgorithm, TimestampError, malformed, oid, positive, random_bytes};
use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::asn1::{GeneralizedTime, Int, OctetString, SetOfVec};
use der::{Any, Decode, DecodePem, Encode, EncodePem, Tag};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use spki::EncodePublicKey;
use std::str::FromStr;
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};
use x509_tsp::{Accuracy, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

/// The files of a built-in TSA, PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinFiles {
    pub root_cert: String,
    pub root_key: String,
    pub tsa_cert: String,
    pub tsa_key: String,
}

pub struct BuiltinTsa {
    root: Certificate,
    root_key: SigningKey,
    cert: Certificate,
    key: SigningKey,
}

/// The timeStamping extended key usage, critical as RFC 3161 requires (x509-cert marks it
/// non-critical by default).
struct CriticalTimeStamping(x509_cert::ext::pkix::ExtendedKeyUsage);

impl der::Encode for CriticalTimeStamping {
    fn encoded_len(&self) -> der::Result<der::Length> {
        self.0.encoded_len()
    }
    fn encode(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        self.0.encode(writer)
    }
}

impl const_oid::AssociatedOid for CriticalTimeStamping {
    const OID: const_oid::ObjectIdentifier = oid::CE_EXT_KEY_USAGE;
}

impl x509_cert::ext::AsExtension for CriticalTimeStamping {
    fn critical(&self, _: &Name, _: &[x509_cert::ext::Extension]) -> bool {
        true
    }
}

fn tsa_error<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> TimestampError + '_ {
    move |e| TimestampError::Tsa(format!("{what}: {e}"))
}

fn time_at(t: Duration) -> Result<Time, TimestampError> {
    // UTCTime up to 2049, GeneralizedTime after, as RFC 5280 4.1.2.5 requires.
    // Whole seconds, truncated: a token made in the same second as the certificate must not
    // predate it.
    let dt = der::DateTime::from_unix_duration(Duration::from_secs(t.as_secs()))
        .map_err(malformed("time"))?;
    if dt.year() < 2050 {
        Ok(Time::UtcTime(
            der::asn1::UtcTime::from_date_time(dt).map_err(malformed("time"))?,
        ))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

fn serial() -> Result<SerialNumber, TimestampError> {
    let bytes = random_bytes::<16>()?;
    SerialNumber::new(&positive(&bytes)).map_err(malformed("serial number"))
}

impl BuiltinTsa {
    /// Makes a new root and timestamping certificate, valid from `now`: the root for 20 years,
    /// the timestamping certificate for `validity` (its tokens must be renewed before it ends).
    pub fn create(now: Duration, validity: Duration) -> Result<BuiltinTsa, TimestampError> {
        let root_key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let root_name =
            Name::from_str("CN=Carnac built-in timestamping root (not qualified),O=Carnac")
                .map_err(malformed("name"))?;
        let root_spki = spki_of(&root_key)?;
        let root = CertificateBuilder::new(
            Profile::Root,
            serial()?,
            Validity {
                not_before: time_at(now)?,
                not_after: time_at(now + Duration::from_secs(20 * 366 * 86_400))?,
            },
            root_name,
            root_spki,
            &root_key,
        )
        .map_err(tsa_error("root certificate"))?
        .build::<DerSignature>()
        .map_err(tsa_error("root certificate"))?;
        let mut tsa = BuiltinTsa {
            cert: root.clone(),
            root,
            key: root_key.clone(),
            root_key,
        };
        tsa.renew_certificate(now, validity)?;
        Ok(tsa)
    }

    /// A new key and timestamping certificate, issued by the same root: what the operator does
    /// before the current certificate expires.
    pub fn renew_certificate(
        &mut self,
        now: Duration,
        validity: Duration,
    ) -> Result<(), TimestampError> {
        let key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let name = Name::from_str("CN=Carnac built-in TSA (not qualified),O=Carnac")
            .map_err(malformed("name"))?;
        let mut builder = CertificateBuilder::new(
            Profile::Leaf {
                issuer: self.root.tbs_certificate.subject.clone(),
                enable_key_agreement: false,
                enable_key_encipherment: false,
            },
            serial()?,
            Validity {
                not_before: time_at(now)?,
                not_after: time_at(now + validity)?,
            },
            name,
            spki_of(&key)?,
            &self.root_key,
        )
        .map_err(tsa_error("TSA certificate"))?;
        builder
            .add_extension(&CriticalTimeStamping(
                x509_cert::ext::pkix::ExtendedKeyUsage(vec![oid::KP_TIME_STAMPING]),
            ))
            .map_err(tsa_error("TSA certificate"))?;
        self.cert = builder
            .build::<DerSignature>()
            .map_err(tsa_error("TSA certificate"))?;
        self.key = key;
        Ok(())
    }

    /// A CRL signed by the root, issued at `now`, next due `now + next_update`, listing
    /// `revoked` (serial, date, RFC 5280 reason code). The built-in TSA revokes nothing by
    /// itself: replaced certificates stay valid for the tokens they signed.
    pub fn crl(
        &self,
        now: Duration,
        next_update: Duration,
        revoked: &[(SerialNumber, Duration, Option<u8>)],
    ) -> Result<Vec<u8>, TimestampError> {
        use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
        use x509_cert::ext::Extension;
        let algorithm = x509_cert::spki::AlgorithmIdentifierOwned {
            oid: oid::ECDSA_SHA256,
            parameters: None,
        };
        let entries = revoked
            .iter()
            .map(|(serial, at, reason)| {
                let extensions = match reason {
                    None => None,
                    Some(code) => Some(vec![Extension {
                        extn_id: const_oid::db::rfc5280::ID_CE_CRL_REASONS,
                        critical: false,
                        // ENUMERATED, one byte.
                        extn_value: OctetString::new(vec![0x0a, 0x01, *code])
                            .map_err(malformed("CRL reason"))?,
                    }]),
                };
                Ok(RevokedCert {
                    serial_number: serial.clone(),
                    revocation_date: time_at(*at)?,
                    crl_entry_extensions: extensions,
                })
            })
            .collect::<Result<Vec<_>, TimestampError>>()?;
        // RFC 5280 5.2.3: a conforming issuer includes a monotonic CRL number; the issuing
        // time in seconds is one.
        let number =
            der::asn1::Uint::new(&now.as_secs().to_be_bytes()).map_err(malformed("CRL number"))?;
        let mut extensions = vec![Extension {
            extn_id: const_oid::db::rfc5280::ID_CE_CRL_NUMBER,
            critical: false,
            extn_value: OctetString::new(number.to_der().map_err(malformed("CRL number"))?)
                .map_err(malformed("CRL number"))?,
        }];
        if let Ok(Some((_, ski))) = self
            .root
            .tbs_certificate
            .get::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
        {
            let aki = x509_cert::ext::pkix::AuthorityKeyIdentifier {
                key_identifier: Some(ski.0),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            };
            extensions.push(Extension {
                extn_id: const_oid::db::rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER,
                critical: false,
                extn_value: OctetString::new(aki.to_der().map_err(malformed("CRL"))?)
                    .map_err(malformed("CRL"))?,
            });
        }
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: algorithm.clone(),
            issuer: self.root.tbs_certificate.subject.clone(),
            this_update: time_at(now)?,
            next_update: Some(time_at(now + next_update)?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: Some(extensions),
        };
        let signature: DerSignature = p256::ecdsa::signature::Signer::try_sign(
            &self.root_key,
            &tbs.to_der().map_err(malformed("CRL"))?,
        )
        .map_err(tsa_error("signing the CRL"))?;
        CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: algorithm,
            signature: der::asn1::BitString::from_bytes(signature.as_bytes())
                .map_err(malformed("CRL signature"))?,
        }
        .to_der()
        .map_err(malformed("CRL"))
    }

    pub fn root(&self) -> &Certificate {
        &self.root
    }

    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// When the timestamping certificate ends.
    pub fn not_after(&self) -> Duration {
        self.cert
            .tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
    }

    pub fn to_files(&self) -> Result<BuiltinFiles, TimestampError> {
        let pem = |c: &Certificate| c.to_pem(LineEnding::LF).map_err(malformed("certificate"));
        let key = |k: &SigningKey| {
            k.to_pkcs8_pem(LineEnding::LF)
                .map(|z| z.to_string())
                .map_err(tsa_error("key"))
        };
        Ok(BuiltinFiles {
            root_cert: pem(&self.root)?,
            root_key: key(&self.root_key)?,
            tsa_cert: pem(&self.cert)?,
            tsa_key: key(&self.key)?,
        })
    }

    pub fn from_files(files: &BuiltinFiles) -> Result<BuiltinTsa, TimestampError> {
        let cert = |s: &str| Certificate::from_pem(s.as_bytes()).map_err(malformed("certificate"));
        let key = |s: &str| SigningKey::from_pkcs8_pem(s).map_err(tsa_error("key"));
        let tsa = BuiltinTsa {
            root: cert(&files.root_cert)?,
            root_key: key(&files.root_key)?,
            cert: cert(&files.tsa_cert)?,
            key: key(&files.tsa_key)?,
        };
        if spki_of(&tsa.key)? != tsa.cert.tbs_certificate.subject_public_key_info {
            return Err(TimestampError::Tsa(
                "the built-in TSA's key does not match its certificate".into(),
            ));
        }
        Ok(tsa)
    }

    /// Answers a DER `TimeStampReq` as a TSA does, at time `now`; a request it cannot serve is
    /// answered with a rejection status, as RFC 3161 prescribes.
    pub fn respond(&self, request: &[u8], now: Duration) -> Result<Vec<u8>, TimestampError> {
        use cmpv2::status::{PkiFailureInfoValues as PkiFailureInfo, PkiStatus, PkiStatusInfo};
        let reject = |fail: PkiFailureInfo| -> Result<Vec<u8>, TimestampError> {
            TimeStampResp {
                status: PkiStatusInfo {
                    status: PkiStatus::Rejection,
                    status_string: None,
                    fail_info: Some(fail.into()),
                },
                time_stamp_token: None,
            }
            .to_der()
            .map_err(malformed("response"))
        };
        let Ok(req) = TimeStampReq::from_der(request) else {
            return reject(PkiFailureInfo::BadDataFormat);
        };
        let algorithm = HashAlgorithm::from_oid(&req.message_imprint.hash_algorithm.oid);
        match algorithm {
            Some(a)
                if a != HashAlgorithm::Sha1
                    && req.message_imprint.hashed_message.as_bytes().len() == a.output_len() => {}
            _ => return reject(PkiFailureInfo::BadAlg),
        }
        if req.req_policy.is_some_and(|p| p != crate::BUILTIN_POLICY) {
            return reject(PkiFailureInfo::UnacceptedPolicy);
        }
        let token = self.sign(&req.message_imprint, req.nonce, now)?;
        TimeStampResp {
            status: PkiStatusInfo {
                status: PkiStatus::Accepted,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(token),
        }
        .to_der()
        .map_err(malformed("response"))
    }

    fn sign(
        &self,
        imprint: &x509_tsp::MessageImprint,
        nonce: Option<Int>,
        now: Duration,
    ) -> Result<cms::content_info::ContentInfo, TimestampError> {
        let tst = TstInfo {
            version: TspVersion::V1,
            policy: crate::BUILTIN_POLICY,
            message_imprint: imprint.clone(),
            serial_number: Int::new(&positive(&random_bytes::<16>()?))
                .map_err(malformed("serial"))?,
            gen_time: GeneralizedTime::from_unix_duration(Duration::from_secs(now.as_secs()))
                .map_err(malformed("genTime"))?,
            accuracy: Some(Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce,
            tsa: None,
            extensions: None,
        };
        let tst_der = tst.to_der().map_err(malformed("TSTInfo"))?;
        let content = EncapsulatedContentInfo {
            econtent_type: oid::CT_TST_INFO,
            econtent: Some(Any::new(Tag::OctetString, tst_der).map_err(malformed("eContent"))?),
        };
        let cert_der = self.cert.to_der().map_err(malformed("certificate"))?;
        let ess = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(HashAlgorithm::Sha256.digest(&cert_der))
                    .map_err(malformed("ESS"))?,
                issuer_serial: Some(IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(
                        self.cert.tbs_certificate.issuer.clone(),
                    )],
                    serial_number: self.cert.tbs_certificate.serial_number.clone(),
                }),
            }],
            policies: None,
        };
        let mut values = SetOfVec::new();
        values
            .insert(Any::encode_from(&ess).map_err(malformed("ESS"))?)
            .map_err(malformed("ESS"))?;
        let ess_attribute = Attribute {
            oid: oid::SIGNING_CERTIFICATE_V2,
            values,
        };
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: self.cert.tbs_certificate.issuer.clone(),
            serial_number: self.cert.tbs_certificate.serial_number.clone(),
        });
        let mut signer = SignerInfoBuilder::new(
            &self.key,
            sid,
            HashAlgorithm::Sha256.identifier(),
            &content,
            None,
        )
        .map_err(tsa_error("signer"))?;
        signer
            .add_signed_attribute(ess_attribute)
            .map_err(tsa_error("signer"))?;
        let mut builder = SignedDataBuilder::new(&content);
        builder
            .add_digest_algorithm(HashAlgorithm::Sha256.identifier())
            .map_err(tsa_error("token"))?
            // Only the signer's certificate: some strict DER parsers refuse an unsorted SET OF.
            .add_certificate(CertificateChoices::Certificate(self.cert.clone()))
            .map_err(tsa_error("token"))?
            .add_signer_info::<SigningKey, DerSignature>(signer)
            .map_err(tsa_error("token"))?;
        builder.build().map_err(tsa_error("token"))
    }
}

fn spki_of(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned, TimestampError> {
    let der = key
        .verifying_key()
        .to_public_key_der()
        .map_err(tsa_error("public key"))?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(malformed("public key"))
}
