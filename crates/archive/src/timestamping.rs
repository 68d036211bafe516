//! The timestamping authorities the archive uses: the built-in TSA of the embedded default
//! (its key and certificates kept in the data folder, made at first start), or external
//! TSAs over HTTP tried in order. Every token is fully verified before it is kept.

use crate::ports::Clock;
use carnac_timestamp::builtin::{BuiltinFiles, BuiltinTsa};
use carnac_timestamp::client::HttpTsa;
use carnac_timestamp::revocation::{Crl, distribution_points};
use carnac_timestamp::verify::{Expected, VerifiedToken, verify_response};
use carnac_timestamp::{Imprint, TimestampError, TrustStore, random_bytes, request};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use x509_cert::Certificate;

pub trait TimestampAuthority: Send + Sync {
    /// A verified token over `imprint`.
    fn stamp(&self, imprint: &Imprint) -> Result<VerifiedToken, TimestampError>;
    /// The anchors its tokens chain to.
    fn trust(&self) -> TrustStore;
    fn describe(&self) -> String;
    /// The revocation data it can give now for `certificates` (those of its tokens): CRLs,
    /// and what could not be had.
    fn revocation(&self, certificates: &[Certificate]) -> Revocation;
}

/// CRLs for a set of certificates, and notes on what could not be fetched.
#[derive(Debug, Clone, Default)]
pub struct Revocation {
    pub crls: Vec<Crl>,
    pub notes: Vec<String>,
}

/// How long a CRL of the built-in TSA says it stays current.
const BUILTIN_CRL_NEXT_UPDATE: Duration = Duration::from_secs(7 * 86_400);

fn unix(t: time::OffsetDateTime) -> Duration {
    Duration::from_nanos(t.unix_timestamp_nanos().max(0) as u64)
}

/// How long the built-in TSA's certificate lives, and how long before its end a new one is
/// made (tokens must be renewed while the old one is valid, so the overlap is that margin).
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPolicy {
    pub certificate_validity: Duration,
    pub replace_before: Duration,
}

impl Default for BuiltinPolicy {
    fn default() -> Self {
        BuiltinPolicy {
            certificate_validity: Duration::from_secs(3 * 365 * 86_400),
            replace_before: Duration::from_secs(90 * 86_400),
        }
    }
}

/// The built-in TSA. Not qualified: its policy says so in every token.
pub struct Builtin {
    tsa: Mutex<BuiltinTsa>,
    /// Every root it has had (one, unless the files were replaced by hand).
    trust: TrustStore,
    clock: Arc<dyn Clock>,
    policy: BuiltinPolicy,
    /// Where its files live; `None` for one that lives in memory (tests).
    dir: Option<PathBuf>,
}

const FILES: [&str; 4] = ["root.pem", "root.key", "tsa.pem", "tsa.key"];

impl Builtin {
    /// Opens the built-in TSA kept in `dir`, making it on first use.
    pub fn open(
        dir: &Path,
        clock: Arc<dyn Clock>,
        policy: BuiltinPolicy,
    ) -> Result<Builtin, TimestampError> {
        let io = |what: &str, e: std::io::Error| {
            TimestampError::Tsa(format!("{what} {}: {e}", dir.display()))
        };
        let tsa = if dir.join("tsa.pem").exists() {
            let read = |n: &str| std::fs::read_to_string(dir.join(n)).map_err(|e| io(n, e));
            BuiltinTsa::from_files(&BuiltinFiles {
                root_cert: read("root.pem")?,
                root_key: read("root.key")?,
                tsa_cert: read("tsa.pem")?,
                tsa_key: read("tsa.key")?,
            })?
        } else {
            std::fs::create_dir_all(dir).map_err(|e| io("creating", e))?;
            let tsa = BuiltinTsa::create(unix(clock.now()), policy.certificate_validity)?;
            save(dir, &tsa)?;
            tracing::info!(dir = %dir.display(), "built-in TSA created (not qualified)");
            tsa
        };
        Ok(Builtin {
            trust: TrustStore::new().with_anchor(tsa.root().clone()),
            tsa: Mutex::new(tsa),
            clock,
            policy,
            dir: Some(dir.to_owned()),
        })
    }

    /// A built-in TSA that lives in memory only.
    pub fn ephemeral(
        clock: Arc<dyn Clock>,
        policy: BuiltinPolicy,
    ) -> Result<Builtin, TimestampError> {
        let tsa = BuiltinTsa::create(unix(clock.now()), policy.certificate_validity)?;
        Ok(Builtin {
            trust: TrustStore::new().with_anchor(tsa.root().clone()),
            tsa: Mutex::new(tsa),
            clock,
            policy,
            dir: None,
        })
    }
}

/// Writes the files, keys readable by the owner only, each through a temporary name.
fn save(dir: &Path, tsa: &BuiltinTsa) -> Result<(), TimestampError> {
    let files = tsa.to_files()?;
    let contents = [
        &files.root_cert,
        &files.root_key,
        &files.tsa_cert,
        &files.tsa_key,
    ];
    for (name, text) in FILES.iter().zip(contents) {
        let mode = if name.ends_with(".key") { 0o600 } else { 0o644 };
        crate::files::write_durably(&dir.join(name), text.as_bytes(), mode).map_err(|e| {
            TimestampError::Tsa(format!("writing {}: {e}", dir.join(name).display()))
        })?;
    }
    Ok(())
}

impl TimestampAuthority for Builtin {
    fn stamp(&self, imprint: &Imprint) -> Result<VerifiedToken, TimestampError> {
        let now = unix(self.clock.now());
        let mut tsa = self.tsa.lock().unwrap_or_else(|p| p.into_inner());
        if now + self.policy.replace_before >= tsa.not_after() {
            tsa.renew_certificate(now, self.policy.certificate_validity)?;
            if let Some(dir) = &self.dir {
                save(dir, &tsa)?;
            }
            tracing::info!("the built-in TSA has a new key and certificate");
        }
        let nonce = random_bytes::<8>()?;
        let response = tsa.respond(&request(imprint, Some(&nonce), None)?, now)?;
        drop(tsa);
        verify_response(
            &response,
            &Expected {
                imprint,
                nonce: Some(&nonce),
                policy: Some(carnac_timestamp::BUILTIN_POLICY),
            },
            &self.trust,
        )
    }

    fn trust(&self) -> TrustStore {
        self.trust.clone()
    }

    fn describe(&self) -> String {
        "the built-in TSA (not qualified)".into()
    }

    /// A CRL of its root, made now: the built-in TSA revokes nothing (a replaced certificate
    /// stays good for the tokens it signed), and says so in a signed list.
    fn revocation(&self, _: &[Certificate]) -> Revocation {
        let tsa = self.tsa.lock().unwrap_or_else(|p| p.into_inner());
        match tsa
            .crl(unix(self.clock.now()), BUILTIN_CRL_NEXT_UPDATE, &[])
            .and_then(|der| Crl::from_der(&der))
        {
            Ok(crl) => Revocation {
                crls: vec![crl],
                notes: Vec::new(),
            },
            Err(e) => Revocation {
                crls: Vec::new(),
                notes: vec![format!("the built-in TSA's CRL: {e}")],
            },
        }
    }
}

/// External TSAs over HTTP, tried in the configured order.
pub struct External {
    tsas: Vec<HttpTsa>,
    trust: TrustStore,
}

impl External {
    pub fn new(tsas: Vec<HttpTsa>, trust: TrustStore) -> External {
        External { tsas, trust }
    }
}

impl TimestampAuthority for External {
    fn stamp(&self, imprint: &Imprint) -> Result<VerifiedToken, TimestampError> {
        let mut errors = Vec::new();
        for tsa in &self.tsas {
            match tsa.stamp(imprint) {
                Ok(t) => return Ok(t),
                Err(e) => errors.push(format!("{}: {e}", tsa.url())),
            }
        }
        Err(TimestampError::Tsa(format!(
            "no TSA gave a valid token: {}",
            errors.join("; ")
        )))
    }

    fn trust(&self) -> TrustStore {
        self.trust.clone()
    }

    /// The CRLs at the distribution points the certificates name, fetched now.
    fn revocation(&self, certificates: &[Certificate]) -> Revocation {
        let mut out = Revocation::default();
        let Some(client) = self.tsas.first() else {
            return out;
        };
        let mut urls: Vec<String> = Vec::new();
        for cert in certificates {
            let points = distribution_points(cert);
            if points.is_empty() && !self.trust.anchors().contains(cert) {
                out.notes.push(format!(
                    "{} names no CRL distribution point",
                    cert.tbs_certificate.subject
                ));
            }
            for url in points {
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
        for url in urls {
            match client.fetch_crls(&url) {
                Ok(crls) => out.crls.extend(crls),
                Err(e) => out.notes.push(format!("CRL not fetched: {e}")),
            }
        }
        out
    }

    fn describe(&self) -> String {
        self.tsas
            .iter()
            .map(HttpTsa::url)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
