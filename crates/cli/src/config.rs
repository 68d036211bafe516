//! The configuration: `carnac.toml` in the data folder, every key optional, every default
//! suitable for one machine. `carnac.example.toml` at the root documents each key.
//!
//! Over 1,000 lines with its tests: each section's checks sit beside its keys, so that
//! every key's defaults, bounds and errors read in one place.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The archive's identifier in replies (`ArchivalAgency`).
    pub archival_agency: String,
    /// The `ClassificationLevel`s a transfer may give, for every tenant.
    pub classification_levels: Vec<String>,
    /// The control authority's identifier in eliminations' SEDA messages (the Archives
    /// départementales' code).
    pub control_authority: String,
    pub storage: Storage,
    pub limits: Limits,
    pub deliveries: Deliveries,
    pub antivirus: Antivirus,
    pub server: Server,
    pub timestamp: Timestamp,
    pub web: Web,
    pub catalog: CatalogConfig,
}

/// Where the catalog is: the embedded SQLite file in the data folder (no `url`), or a
/// PostgreSQL database that several nodes share.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// `postgres://user@host:port/database`, without its password.
    pub url: Option<String>,
    /// A file holding the password (relative to the data folder); else the environment's
    /// `CARNAC_CATALOG_PASSWORD`, if set.
    pub password_file: Option<PathBuf>,
    /// The schema holding the catalog (`carnac`).
    pub schema: Option<String>,
    /// Connections kept open at most (16).
    pub pool_size: Option<u32>,
    /// Encrypted connections, the server's certificate checked (against `tls_trust`, or the
    /// web's public roots).
    pub tls: bool,
    /// PEM files of the authorities that certify the database server.
    pub tls_trust: Vec<PathBuf>,
}

/// The environment variable a catalog password may come from.
pub const CATALOG_PASSWORD_ENV: &str = "CARNAC_CATALOG_PASSWORD";

impl CatalogConfig {
    /// The PostgreSQL catalog's settings, files read; `None` for the embedded one. Every
    /// problem is named, all at once.
    pub fn postgres(
        &self,
        data: &Path,
    ) -> anyhow::Result<Option<carnac_catalog_postgres::PostgresConfig>> {
        let Some(url) = &self.url else {
            let set: Vec<&str> = [
                ("password_file", self.password_file.is_some()),
                ("schema", self.schema.is_some()),
                ("pool_size", self.pool_size.is_some()),
                ("tls", self.tls),
                ("tls_trust", !self.tls_trust.is_empty()),
            ]
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect();
            if !set.is_empty() {
                anyhow::bail!(
                    "catalog: {} given without `url` (the embedded catalog has no such setting)",
                    set.join(", ")
                );
            }
            return Ok(None);
        };
        let mut problems = Vec::new();
        let mut config = carnac_catalog_postgres::PostgresConfig::new(url.clone());
        match url.parse::<postgres::Config>() {
            Ok(parsed) if parsed.get_password().is_some() => problems.push(
                "catalog.url holds a password: give it in password_file or CARNAC_CATALOG_PASSWORD, not in carnac.toml".to_owned(),
            ),
            _ => {}
        }
        config.password = match &self.password_file {
            Some(f) => {
                let path = data.join(f);
                match std::fs::read_to_string(&path) {
                    Ok(s) if s.trim().is_empty() => {
                        problems.push(format!("catalog.password_file {} is empty", path.display()));
                        None
                    }
                    Ok(s) => Some(s.trim().to_owned()),
                    Err(e) => {
                        problems.push(format!("catalog.password_file {}: {e}", path.display()));
                        None
                    }
                }
            }
            None => std::env::var(CATALOG_PASSWORD_ENV).ok(),
        };
        if let Some(s) = &self.schema {
            config.schema = s.clone();
        }
        if let Some(n) = self.pool_size {
            config.pool_size = n;
        }
        if self.tls {
            let mut trust = Vec::new();
            for f in &self.tls_trust {
                let path = data.join(f);
                match std::fs::read_to_string(&path) {
                    Ok(pem) => trust.push(pem),
                    Err(e) => problems.push(format!("catalog.tls_trust {}: {e}", path.display())),
                }
            }
            config.tls = carnac_catalog_postgres::Tls::Required { trust };
        } else if !self.tls_trust.is_empty() {
            problems.push("catalog.tls_trust given without tls = true".into());
        }
        if problems.is_empty() {
            problems.extend(
                config
                    .problems()
                    .into_iter()
                    .map(|p| format!("catalog: {p}")),
            );
        }
        if !problems.is_empty() {
            anyhow::bail!("{}", problems.join("; "));
        }
        Ok(Some(config))
    }
}

/// The web application's sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    /// Minutes without a request after which a session ends.
    pub idle_minutes: u64,
    /// Hours after which a session ends, however it is used.
    pub lifetime_hours: u64,
}

impl Default for Web {
    fn default() -> Self {
        let d = carnac_archive::web_sessions::SessionLimits::default();
        Web {
            idle_minutes: d.idle.as_secs() / 60,
            lifetime_hours: d.lifetime.as_secs() / 3600,
        }
    }
}

impl Web {
    pub fn limits(&self) -> carnac_archive::web_sessions::SessionLimits {
        // A minute to a day idle, an hour to a week in all: a session is a person at work.
        let idle = self.idle_minutes.clamp(1, 24 * 60) * 60;
        let lifetime = (self.lifetime_hours.clamp(1, 7 * 24) * 3600).max(idle);
        carnac_archive::web_sessions::SessionLimits {
            idle: std::time::Duration::from_secs(idle),
            lifetime: std::time::Duration::from_secs(lifetime),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timestamp {
    /// External RFC 3161 TSAs over HTTP, tried in order; empty: the built-in TSA.
    pub tsa: Vec<String>,
    /// PEM files of the trust anchors of the external TSAs.
    pub trust: Vec<PathBuf>,
    /// The TSA policy (OID) every external token must carry, if any.
    pub policy: Option<String>,
    pub timeout_seconds: u64,
    pub retries: u32,
    /// Lifetime of the built-in TSA's certificate, and how long before its end it is replaced.
    pub builtin_certificate_days: u64,
    pub builtin_replace_days: u64,
    /// How often `serve` seals the journals (at most 86,400: a day).
    pub seal_interval_seconds: u64,
    /// Evidence timestamps are renewed this many days before their TSA certificate ends.
    pub renew_before_days: u64,
    /// PEM files of the certification authorities trusted for `https://` TSAs; empty: the
    /// Mozilla roots built in.
    pub tls_trust: Vec<PathBuf>,
    /// Tenants that use their own TSAs rather than the ones above.
    pub tenants: BTreeMap<String, TenantTimestamp>,
}

/// A tenant's own TSAs (timeout and retries are the archive's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantTimestamp {
    pub tsa: Vec<String>,
    pub trust: Vec<PathBuf>,
    pub policy: Option<String>,
    /// Empty: the archive's `tls_trust`.
    pub tls_trust: Vec<PathBuf>,
}

impl Default for Timestamp {
    fn default() -> Self {
        let b = carnac_archive::timestamping::BuiltinPolicy::default();
        Timestamp {
            tsa: Vec::new(),
            trust: Vec::new(),
            policy: None,
            timeout_seconds: 30,
            retries: 3,
            builtin_certificate_days: b.certificate_validity.as_secs() / 86_400,
            builtin_replace_days: b.replace_before.as_secs() / 86_400,
            seal_interval_seconds: 3600,
            renew_before_days: carnac_archive::evidence::DEFAULT_RENEW_BEFORE.as_secs() / 86_400,
            tls_trust: Vec::new(),
            tenants: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// The first form: one folder per offer (relative paths are under the data folder),
    /// named `offer-1`, `offer-2`… in the order they were first seen. The names are recorded
    /// in the data folder (`offers.json`), so that reordering the list changes nothing.
    /// Every file is kept once in each offer. `None`: the default two, unless `offer` is
    /// given.
    pub offers: Option<Vec<PathBuf>>,
    /// Offers declared by name and kind (`[[storage.offer]]`); either this or `offers`.
    pub offer: Vec<OfferConfig>,
    /// Where received transfers wait for their ingest when several nodes serve the
    /// archive (`[storage.incoming]`, a folder or a bucket every node reaches, declared as
    /// an offer is, without a name); none: the data folder's own.
    pub incoming: Option<OfferConfig>,
}

/// One offer declared by name: `name` is what the catalog's copies record, so it must never
/// change; where it is may (the folder moved, the endpoint changed).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OfferConfig {
    /// Required for an offer; `[storage.incoming]` has none.
    #[serde(default)]
    pub name: String,
    /// `fs`: a folder (`path`); `s3`: a bucket (`endpoint`, `bucket`, `region`,
    /// `access_key`, `secret_key_file`, and `path_style`, `prefix` if needed).
    pub kind: String,
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub access_key: Option<String>,
    /// A file holding the secret key alone (relative paths are under the data folder).
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
    /// Path-style URLs (`endpoint/bucket/key`): most servers but AWS want them.
    #[serde(default)]
    pub path_style: Option<bool>,
    /// Keys start with it (ending with `/`): several archives can share a bucket.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Time limit of one request, in seconds (default 60).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// For an `https://` endpoint: PEM files of the authorities its server's certificate
    /// must chain to (relative paths are under the data folder); none: the web's roots.
    #[serde(default)]
    pub tls_trust: Option<Vec<PathBuf>>,
    /// `"compliance"`: a WORM offer (an `s3` bucket with S3 Object Lock), each file locked
    /// until its units may leave the archive. Checked at every start.
    #[serde(default)]
    pub retention: Option<String>,
    /// A WORM offer's shortest lock, in days (default 30; 0: files without a date of
    /// their own are not locked).
    #[serde(default)]
    pub retention_minimum_days: Option<u32>,
}

/// The default of `retention_minimum_days`.
pub const RETENTION_MINIMUM_DAYS: u32 = 30;
/// The largest `retention_minimum_days`: a century.
const RETENTION_MINIMUM_DAYS_MAX: u32 = 36_525;

/// An offer as the archive opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedOffer {
    pub name: String,
    pub location: OfferLocation,
}

/// Where an offer keeps its blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferLocation {
    /// A folder, absolute.
    Folder(PathBuf),
    S3(carnac_blobstore::s3::S3Config),
}

impl OfferConfig {
    /// Where the offer is, every missing or wrong field said at once.
    fn location(&self, absolute: &dyn Fn(&Path) -> PathBuf) -> anyhow::Result<OfferLocation> {
        let name = &self.name;
        let mut problems = Vec::new();
        let s3_fields = [
            ("endpoint", self.endpoint.is_some()),
            ("bucket", self.bucket.is_some()),
            ("region", self.region.is_some()),
            ("access_key", self.access_key.is_some()),
            ("secret_key_file", self.secret_key_file.is_some()),
            ("path_style", self.path_style.is_some()),
            ("prefix", self.prefix.is_some()),
            ("timeout_seconds", self.timeout_seconds.is_some()),
            ("tls_trust", self.tls_trust.is_some()),
            ("retention", self.retention.is_some()),
            (
                "retention_minimum_days",
                self.retention_minimum_days.is_some(),
            ),
        ];
        match self.kind.as_str() {
            "fs" => {
                for (field, given) in s3_fields {
                    if given {
                        problems.push(format!("{field} is for an offer of kind \"s3\""));
                    }
                }
                match &self.path {
                    Some(p) if problems.is_empty() => {
                        return Ok(OfferLocation::Folder(absolute(p)));
                    }
                    Some(_) => {}
                    None => problems.push("path (its folder) is missing".into()),
                }
            }
            "s3" => {
                if self.path.is_some() {
                    problems.push("path is for an offer of kind \"fs\"".into());
                }
                let required = |field: &str, v: &Option<String>, problems: &mut Vec<String>| match v
                    .as_deref()
                    .map(str::trim)
                {
                    Some(v) if !v.is_empty() => v.to_owned(),
                    _ => {
                        problems.push(format!("{field} is missing"));
                        String::new()
                    }
                };
                let endpoint = required("endpoint", &self.endpoint, &mut problems);
                let bucket = required("bucket", &self.bucket, &mut problems);
                let region = required("region", &self.region, &mut problems);
                let access_key = required("access_key", &self.access_key, &mut problems);
                let secret_key = match &self.secret_key_file {
                    None => {
                        problems.push("secret_key_file is missing".into());
                        String::new()
                    }
                    Some(f) => {
                        let f = absolute(f);
                        match std::fs::read_to_string(&f) {
                            Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
                            Ok(_) => {
                                problems.push(format!("secret_key_file {} is empty", f.display()));
                                String::new()
                            }
                            Err(e) => {
                                problems.push(format!("secret_key_file {}: {e}", f.display()));
                                String::new()
                            }
                        }
                    }
                };
                let mut tls_trust = Vec::new();
                for f in self.tls_trust.iter().flatten() {
                    let f = absolute(f);
                    match std::fs::read(&f)
                        .map_err(|e| e.to_string())
                        .and_then(|pem| {
                            carnac_timestamp::certificates_from_pem(&pem).map_err(|e| e.to_string())
                        }) {
                        Ok(certs) if certs.is_empty() => {
                            problems.push(format!("tls_trust {}: no certificate", f.display()))
                        }
                        Ok(certs) => tls_trust.extend(certs),
                        Err(e) => problems.push(format!("tls_trust {}: {e}", f.display())),
                    }
                }
                if self.tls_trust.is_some()
                    && !endpoint.is_empty()
                    && !endpoint.starts_with("https://")
                {
                    problems.push(format!(
                        "tls_trust is for an https:// endpoint, not {endpoint:?}"
                    ));
                }
                let timeout = self.timeout_seconds.unwrap_or(60);
                if !(1..=3600).contains(&timeout) {
                    problems.push(format!("timeout_seconds {timeout} is not 1 to 3600"));
                }
                let compliance = match self.retention.as_deref() {
                    None => {
                        if self.retention_minimum_days.is_some() {
                            problems.push(
                                "retention_minimum_days is for a WORM offer (retention = \"compliance\")"
                                    .into(),
                            );
                        }
                        None
                    }
                    Some("compliance") => {
                        let days = self
                            .retention_minimum_days
                            .unwrap_or(RETENTION_MINIMUM_DAYS);
                        if days > RETENTION_MINIMUM_DAYS_MAX {
                            problems.push(format!(
                                "retention_minimum_days {days} is more than {RETENTION_MINIMUM_DAYS_MAX} (a century)"
                            ));
                        }
                        Some(carnac_blobstore::s3::Compliance { minimum_days: days })
                    }
                    Some(other) => {
                        problems.push(format!(
                            "retention {other:?} is not supported (\"compliance\": S3 Object Lock in COMPLIANCE mode; governance mode can be lifted by whoever holds the right, so it is not WORM)"
                        ));
                        None
                    }
                };
                if problems.is_empty() {
                    return Ok(OfferLocation::S3(carnac_blobstore::s3::S3Config {
                        endpoint,
                        bucket,
                        region,
                        path_style: self.path_style.unwrap_or(true),
                        access_key,
                        secret_key,
                        prefix: self.prefix.clone().unwrap_or_default(),
                        timeout: std::time::Duration::from_secs(timeout),
                        compliance,
                        tls_trust,
                    }));
                }
            }
            other => problems.push(format!(
                "kind {other:?} is not supported (\"fs\", a folder, or \"s3\", a bucket)"
            )),
        }
        anyhow::bail!("storage.offer {name:?}: {}", problems.join("; "))
    }
}

impl Storage {
    /// Where received transfers wait, when `[storage.incoming]` names a shared place.
    pub fn incoming(&self, data: &Path) -> anyhow::Result<Option<OfferLocation>> {
        let Some(incoming) = &self.incoming else {
            return Ok(None);
        };
        if !incoming.name.is_empty() {
            anyhow::bail!("storage.incoming has no name (it is not an offer)");
        }
        if incoming.retention.is_some() || incoming.retention_minimum_days.is_some() {
            // Received transfers are removed once ingested: a lock would keep them.
            anyhow::bail!(
                "storage.incoming cannot be WORM (retention): its files are removed once ingested"
            );
        }
        let absolute = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                data.join(p)
            }
        };
        let named = OfferConfig {
            name: "incoming".into(),
            ..incoming.clone()
        };
        named.location(&absolute).map(Some)
    }
}

/// Where the names of the first form's offers are recorded, in the data folder.
pub const OFFER_NAMES: &str = "offers.json";

impl Storage {
    /// The offers by name. For the first form, each folder's name is the one recorded for it;
    /// a folder seen for the first time gets the next `offer-N` (by its place in the list, as
    /// every data folder made before names were recorded had them), and the record is
    /// written.
    pub fn resolve(&self, data: &Path) -> anyhow::Result<Vec<NamedOffer>> {
        let absolute = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                data.join(p)
            }
        };
        let valid_name = |n: &str| {
            !n.is_empty()
                && n.len() <= 64
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !self.offer.is_empty() {
            anyhow::ensure!(
                self.offers.is_none(),
                "storage: give the offers either as `offers = [...]` or as `[[storage.offer]]`, not both"
            );
            let mut seen = std::collections::BTreeSet::new();
            let mut out = Vec::new();
            for o in &self.offer {
                anyhow::ensure!(
                    valid_name(&o.name),
                    "storage.offer: the name {:?} is not 1 to 64 of A-Z a-z 0-9 - _",
                    o.name
                );
                anyhow::ensure!(
                    seen.insert(o.name.clone()),
                    "storage.offer: the name {:?} is given twice",
                    o.name
                );
                out.push(NamedOffer {
                    name: o.name.clone(),
                    location: o.location(&absolute)?,
                });
            }
            return Ok(out);
        }
        let folders = self.offers.clone().unwrap_or_else(default_offer_folders);
        let record = data.join(OFFER_NAMES);
        let mut names: BTreeMap<String, PathBuf> = match std::fs::read(&record) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", record.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", record.display())),
        };
        let mut changed = false;
        let mut out = Vec::new();
        for (i, folder) in folders.iter().enumerate() {
            let root = absolute(folder);
            let name = match names.iter().find(|(_, p)| **p == root) {
                Some((n, _)) => n.clone(),
                None => {
                    // Its place in the list, as before names were recorded; then the next free.
                    let mut n = i + 1;
                    while names.contains_key(&format!("offer-{n}")) {
                        n += 1;
                    }
                    let name = format!("offer-{n}");
                    names.insert(name.clone(), root.clone());
                    changed = true;
                    name
                }
            };
            anyhow::ensure!(
                !out.iter().any(|o: &NamedOffer| o.name == name),
                "storage.offers: the folder {} is given twice",
                root.display()
            );
            out.push(NamedOffer {
                name,
                location: OfferLocation::Folder(root),
            });
        }
        if changed {
            let tmp = data.join(format!("{OFFER_NAMES}.tmp"));
            let bytes = serde_json::to_vec_pretty(&names)?;
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &record)?;
            std::fs::File::open(data)?.sync_all()?;
        }
        Ok(out)
    }
}

fn default_offer_folders() -> Vec<PathBuf> {
    vec![
        PathBuf::from("offers/offer-1"),
        PathBuf::from("offers/offer-2"),
    ]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_total_size: u64,
    pub max_entries: u64,
    pub max_ratio: u64,
    pub max_manifest_size: u64,
    /// How deep elements may nest in a manifest.
    pub max_xml_depth: usize,
    /// An ingest's time: this many seconds, plus one per `ingest_bytes_per_second` bytes.
    pub ingest_seconds: u64,
    pub ingest_bytes_per_second: u64,
    /// Transfers received over the network ingested at once (each of another tenant).
    pub ingest_workers: usize,
    /// Units an elimination's execution destroys per catalog transaction.
    pub elimination_step_units: usize,
}

/// The packages of deliveries (communication) kept for download.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deliveries {
    /// Days a package is kept after it is made, then removed (journaled).
    pub keep_days: u64,
    /// Packages a tenant keeps at once: past it, a new delivery waits for a removal.
    pub max_kept_packages: u64,
    /// Their bytes in all, per tenant.
    pub max_kept_bytes: u64,
}

impl Default for Deliveries {
    fn default() -> Self {
        let d = carnac_archive::delivery::DeliveryLimits::default();
        Deliveries {
            keep_days: d.keep.as_secs() / 86_400,
            max_kept_packages: d.max_kept_packages,
            max_kept_bytes: d.max_kept_bytes,
        }
    }
}

impl Deliveries {
    pub fn limits(&self) -> carnac_archive::delivery::DeliveryLimits {
        carnac_archive::delivery::DeliveryLimits {
            // A day at least, a year at most: a package is a copy made for one reader.
            keep: std::time::Duration::from_secs(self.keep_days.clamp(1, 366) * 86_400),
            max_kept_packages: self.max_kept_packages.max(1),
            max_kept_bytes: self.max_kept_bytes.max(1),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Antivirus {
    /// Path of clamd's local socket; no antivirus when absent.
    pub clamd_socket: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
    /// PEM certificate chain and key: the server speaks HTTPS (and may then listen beyond
    /// loopback).
    pub tls_certificate: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// PEM certificates of the authorities whose client certificates are accepted (each
    /// registered to an account with `carnac account certificate`); none: tokens only.
    pub tls_client_ca: Option<PathBuf>,
    /// Where the as@lae-compatible intake (Pastell's "as@lae (REST)" connector) is served.
    pub asalae_base_path: String,
    /// The tenants `/metrics` names in its labels (at most 20); the others are summed.
    pub metrics_tenants: Vec<String>,
    /// The largest upload taken over HTTP, in bytes (a transfer, an attachments archive, or
    /// all the chunks of one).
    pub max_upload_bytes: u64,
    /// A request's line and headers together, in bytes (beyond: 431).
    pub max_header_bytes: usize,
    /// Time to send a request's headers, and the longest a kept-alive connection stays idle.
    pub header_timeout_seconds: u64,
    /// The longest a request body may go without a byte while it is read.
    pub body_timeout_seconds: u64,
    /// Connections open at once, in all and from one client address.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// How long a stop waits for the requests in flight.
    pub shutdown_grace_seconds: u64,
    /// Chunk sessions of the as@lae intake: the most chunks a session may announce, the
    /// sessions and bytes an account may hold open, and how long an unused one is kept.
    pub max_chunks: u32,
    pub chunk_sessions_per_account: usize,
    /// Default: `max_upload_bytes`.
    pub chunk_bytes_per_account: Option<u64>,
    pub chunk_session_idle_seconds: u64,
    /// Searches: their time (their wait for a place included), how many at once in all and
    /// for one tenant; journal views likewise.
    pub search_timeout_ms: u64,
    pub searches_at_once: usize,
    pub searches_per_tenant: usize,
    pub journal_read_timeout_ms: u64,
    pub journal_reads_at_once: usize,
    pub journal_reads_per_tenant: usize,
    /// Transfers of one tenant waiting for their ingest, and their bytes (default: twice
    /// `max_upload_bytes`).
    pub queued_per_tenant: usize,
    pub queued_bytes_per_tenant: Option<u64>,
    /// Authenticated requests handled at once, in all and for one account, and how long an
    /// account's request waits for its turn.
    pub requests_at_once: usize,
    pub requests_per_account: usize,
    pub request_wait_seconds: u64,
    /// Requests an account may send a second on average (0: no limit).
    pub requests_per_second_per_account: u32,
}

impl Server {
    /// The server's limits from this section.
    pub fn limits(&self) -> carnac_server::Limits {
        use std::time::Duration;
        carnac_server::Limits {
            http: carnac_server::HttpLimits {
                max_header_bytes: self.max_header_bytes,
                header_timeout: Duration::from_secs(self.header_timeout_seconds),
                body_timeout: Duration::from_secs(self.body_timeout_seconds),
                max_connections: self.max_connections,
                max_connections_per_address: self.max_connections_per_address,
                shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
            },
            max_upload: self.max_upload_bytes,
            chunks: carnac_archive::chunks::ChunkLimits {
                max_chunks: self.max_chunks,
                max_session_bytes: self.max_upload_bytes,
                sessions_per_account: self.chunk_sessions_per_account,
                bytes_per_account: self
                    .chunk_bytes_per_account
                    .unwrap_or(self.max_upload_bytes),
                idle: Duration::from_secs(self.chunk_session_idle_seconds),
            },
            search: carnac_server::SearchLimits {
                timeout: Duration::from_millis(self.search_timeout_ms),
                at_once: self.searches_at_once,
                per_tenant: self.searches_per_tenant,
                journal_timeout: Duration::from_millis(self.journal_read_timeout_ms),
                journal_at_once: self.journal_reads_at_once,
                journal_per_tenant: self.journal_reads_per_tenant,
            },
            queued_per_tenant: self.queued_per_tenant,
            queued_bytes_per_tenant: self
                .queued_bytes_per_tenant
                .unwrap_or(self.max_upload_bytes.saturating_mul(2)),
            requests_at_once: self.requests_at_once,
            requests_per_account: self.requests_per_account,
            request_wait: Duration::from_secs(self.request_wait_seconds),
            requests_per_second_per_account: self.requests_per_second_per_account,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            archival_agency: "carnac".into(),
            classification_levels: carnac_archive::IngestConfig::default().classification_levels,
            control_authority: carnac_archive::IngestConfig::default().control_authority,
            storage: Storage::default(),
            limits: Limits::default(),
            deliveries: Deliveries::default(),
            antivirus: Antivirus::default(),
            server: Server::default(),
            timestamp: Timestamp::default(),
            web: Web::default(),
            catalog: CatalogConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        let c = carnac_container::Limits::default();
        let ingest = carnac_archive::IngestConfig::default();
        Limits {
            max_total_size: c.max_total_size,
            max_entries: c.max_entries,
            max_ratio: c.max_ratio,
            max_manifest_size: ingest.max_manifest_size,
            max_xml_depth: ingest.max_xml_depth,
            ingest_seconds: ingest.time_budget.base.as_secs(),
            ingest_bytes_per_second: ingest.time_budget.bytes_per_second,
            ingest_workers: ingest.ingest_workers,
            elimination_step_units: ingest.execution_step_units,
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        let http = carnac_server::HttpLimits::default();
        let chunks = carnac_archive::chunks::ChunkLimits::default();
        let search = carnac_server::SearchLimits::default();
        let server = carnac_server::Limits::default();
        Server {
            listen: "127.0.0.1:8080".into(),
            tls_certificate: None,
            tls_key: None,
            tls_client_ca: None,
            asalae_base_path: "/restservices".into(),
            metrics_tenants: Vec::new(),
            max_upload_bytes: carnac_server::DEFAULT_MAX_UPLOAD,
            max_header_bytes: http.max_header_bytes,
            header_timeout_seconds: http.header_timeout.as_secs(),
            body_timeout_seconds: http.body_timeout.as_secs(),
            max_connections: http.max_connections,
            max_connections_per_address: http.max_connections_per_address,
            shutdown_grace_seconds: http.shutdown_grace.as_secs(),
            max_chunks: chunks.max_chunks,
            chunk_sessions_per_account: chunks.sessions_per_account,
            chunk_bytes_per_account: None,
            chunk_session_idle_seconds: chunks.idle.as_secs(),
            search_timeout_ms: search.timeout.as_millis() as u64,
            searches_at_once: search.at_once,
            searches_per_tenant: search.per_tenant,
            journal_read_timeout_ms: search.journal_timeout.as_millis() as u64,
            journal_reads_at_once: search.journal_at_once,
            journal_reads_per_tenant: search.journal_per_tenant,
            queued_per_tenant: server.queued_per_tenant,
            queued_bytes_per_tenant: None,
            requests_at_once: server.requests_at_once,
            requests_per_account: server.requests_per_account,
            request_wait_seconds: server.request_wait.as_secs(),
            requests_per_second_per_account: server.requests_per_second_per_account,
        }
    }
}

impl Config {
    /// Reads `carnac.toml` from the data folder, or the defaults when there is none.
    pub fn load(data: &Path) -> anyhow::Result<Config> {
        let path = data.join("carnac.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let c: Config = toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                if c.timestamp.seal_interval_seconds == 0
                    || c.timestamp.seal_interval_seconds > 86_400
                {
                    anyhow::bail!(
                        "{}: timestamp.seal_interval_seconds must be between 1 and 86400 (a journal is sealed at least daily)",
                        path.display()
                    );
                }
                if c.timestamp.tsa.is_empty()
                    && c.timestamp.renew_before_days >= c.timestamp.builtin_replace_days
                {
                    anyhow::bail!(
                        "{}: timestamp.renew_before_days must be less than timestamp.builtin_replace_days, so that renewals get the built-in TSA's next certificate",
                        path.display()
                    );
                }
                for (tenant, t) in &c.timestamp.tenants {
                    if t.tsa.is_empty() || t.trust.is_empty() {
                        anyhow::bail!(
                            "{}: timestamp.tenants.{tenant} needs `tsa` (its TSAs) and `trust` (their trust anchors); a tenant without its own TSA uses the archive's",
                            path.display()
                        );
                    }
                }
                Ok(c)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(text: &str) -> Storage {
        toml::from_str::<Config>(text).unwrap().storage
    }

    #[test]
    fn offers_keep_their_names_whatever_their_order() {
        let data = tempfile::tempdir().unwrap();
        let names = |s: &Storage| -> Vec<(String, PathBuf)> {
            s.resolve(data.path())
                .unwrap()
                .into_iter()
                .map(|o| match o.location {
                    OfferLocation::Folder(root) => (o.name, root),
                    OfferLocation::S3(_) => panic!("a folder"),
                })
                .collect()
        };
        let at = |p: &str| data.path().join(p);
        // A data folder of before: names by place, then recorded.
        let first = names(&storage("[storage]\noffers = [\"a\", \"b\"]"));
        assert_eq!(
            first,
            [("offer-1".into(), at("a")), ("offer-2".into(), at("b"))]
        );
        assert!(data.path().join(OFFER_NAMES).exists());
        // Reordered: the same names; a new folder gets the next free name.
        assert_eq!(
            names(&storage("[storage]\noffers = [\"b\", \"c\", \"a\"]")),
            [
                ("offer-2".into(), at("b")),
                ("offer-3".into(), at("c")),
                ("offer-1".into(), at("a"))
            ]
        );
        assert!(
            storage("[storage]\noffers = [\"a\", \"a\"]")
                .resolve(data.path())
                .is_err()
        );
        // By name: as given; bad names, doubles, unknown kinds and both forms refused.
        let named = storage(
            "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"/srv/a\"\n\
             [[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"b\"",
        );
        assert_eq!(
            names(&named),
            [
                ("site-a".into(), PathBuf::from("/srv/a")),
                ("site-b".into(), at("b"))
            ]
        );
        for bad in [
            "[[storage.offer]]\nname = \"a/b\"\nkind = \"fs\"\npath = \"x\"",
            "[[storage.offer]]\nname = \"\"\nkind = \"fs\"\npath = \"x\"",
            "[[storage.offer]]\nname = \"a\"\nkind = \"s3\"\npath = \"x\"",
            "[[storage.offer]]\nname = \"a\"\nkind = \"tape\"\npath = \"x\"",
            "[[storage.offer]]\nname = \"a\"\nkind = \"fs\"",
            "[[storage.offer]]\nname = \"a\"\nkind = \"fs\"\npath = \"x\"\nbucket = \"b\"",
            "[[storage.offer]]\nname = \"a\"\nkind = \"fs\"\npath = \"x\"\n[[storage.offer]]\nname = \"a\"\nkind = \"fs\"\npath = \"y\"",
            "[storage]\noffers = [\"x\"]\n[[storage.offer]]\nname = \"a\"\nkind = \"fs\"\npath = \"x\"",
        ] {
            assert!(storage(bad).resolve(data.path()).is_err(), "{bad}");
        }
    }

    /// An S3 offer: its secret read from its file; every missing field said at once.
    #[test]
    fn s3_offers_are_declared_with_their_secret_in_a_file() {
        let data = tempfile::tempdir().unwrap();
        std::fs::write(data.path().join("s3.secret"), "the secret\n").unwrap();
        let offers = storage(
            "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"a\"\n\
             [[storage.offer]]\nname = \"site-b\"\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:8333\"\n\
             bucket = \"carnac\"\nregion = \"us-east-1\"\naccess_key = \"carnac\"\n\
             secret_key_file = \"s3.secret\"\nprefix = \"archive-1/\"",
        )
        .resolve(data.path())
        .unwrap();
        let OfferLocation::S3(s3) = &offers[1].location else {
            panic!("an S3 offer: {offers:?}")
        };
        assert_eq!(offers[1].name, "site-b");
        assert_eq!(s3.secret_key, "the secret");
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("carnac", "archive-1/")
        );
        assert!(s3.path_style, "path-style by default");
        assert!(
            !format!("{offers:?}").contains("the secret"),
            "the secret is not shown"
        );
        let e = storage("[[storage.offer]]\nname = \"b\"\nkind = \"s3\"\nbucket = \"x\"")
            .resolve(data.path())
            .unwrap_err()
            .to_string();
        for missing in ["endpoint", "region", "access_key", "secret_key_file"] {
            assert!(e.contains(&format!("{missing} is missing")), "{e}");
        }
    }

    #[test]
    fn web_sessions_are_bounded() {
        let web: Config =
            toml::from_str("[web]\nidle_minutes = 0\nlifetime_hours = 100000\n").expect("parses");
        let l = web.web.limits();
        assert_eq!(
            l.idle,
            std::time::Duration::from_secs(60),
            "a minute at least"
        );
        assert_eq!(
            l.lifetime,
            std::time::Duration::from_secs(7 * 24 * 3600),
            "a week at most"
        );
        let web: Config =
            toml::from_str("[web]\nidle_minutes = 1440\nlifetime_hours = 1\n").expect("parses");
        assert!(web.web.limits().lifetime >= web.web.limits().idle);
        assert!(toml::from_str::<Config>("[web]\nidle = 3\n").is_err());
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let text = include_str!("../../../carnac.example.toml");
        let c: Config = toml::from_str(text).unwrap();
        let d = Config::default();
        assert_eq!(
            c.storage
                .offers
                .clone()
                .unwrap_or_else(default_offer_folders),
            default_offer_folders()
        );
        assert_eq!(d.storage.offers, None);
        assert_eq!(c.limits.max_total_size, d.limits.max_total_size);
        assert_eq!(c.limits.max_ratio, d.limits.max_ratio);
        assert_eq!(c.limits.max_entries, d.limits.max_entries);
        assert_eq!(c.limits.max_manifest_size, d.limits.max_manifest_size);
        assert_eq!(c.server.listen, d.server.listen);
        assert_eq!(c.archival_agency, d.archival_agency);
        assert_eq!(c.classification_levels, d.classification_levels);
        assert_eq!(c.timestamp.tsa, d.timestamp.tsa);
        assert_eq!(
            c.timestamp.seal_interval_seconds,
            d.timestamp.seal_interval_seconds
        );
        assert_eq!(
            c.timestamp.builtin_certificate_days,
            d.timestamp.builtin_certificate_days
        );
        assert_eq!(
            c.timestamp.builtin_replace_days,
            d.timestamp.builtin_replace_days
        );
        assert_eq!(c.timestamp.retries, d.timestamp.retries);
        assert_eq!(c.timestamp.renew_before_days, d.timestamp.renew_before_days);
        assert_eq!(c.timestamp.timeout_seconds, d.timestamp.timeout_seconds);
        assert_eq!(c.limits.max_xml_depth, d.limits.max_xml_depth);
        assert_eq!(c.limits.ingest_seconds, d.limits.ingest_seconds);
        assert_eq!(
            c.limits.ingest_bytes_per_second,
            d.limits.ingest_bytes_per_second
        );
        assert_eq!(c.limits.ingest_workers, d.limits.ingest_workers);
        assert_eq!(
            c.limits.elimination_step_units,
            d.limits.elimination_step_units
        );
        assert_eq!(c.control_authority, d.control_authority);
        assert_eq!(c.deliveries.keep_days, d.deliveries.keep_days);
        assert_eq!(
            c.deliveries.max_kept_packages,
            d.deliveries.max_kept_packages
        );
        assert_eq!(c.deliveries.max_kept_bytes, d.deliveries.max_kept_bytes);
        assert_eq!(c.web.idle_minutes, d.web.idle_minutes);
        assert_eq!(c.web.lifetime_hours, d.web.lifetime_hours);
        // Every limit of the server: the example's values are the defaults.
        assert_eq!(c.server.limits(), d.server.limits());
        assert!(
            toml::from_str::<Config>("unknown = 1").is_err(),
            "typos are errors"
        );
    }
}
