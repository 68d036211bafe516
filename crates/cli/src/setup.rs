//! Opening an archive from a data folder: the lock, the configuration, the catalog, the
//! offers, the timestamping authorities.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use carnac_archive::{Archive, Parts};
use carnac_blobstore::BlobStore;
use carnac_model::TenantId;

use crate::commands::tenant;
use crate::config;

type Authority = Arc<dyn carnac_archive::timestamping::TimestampAuthority>;

/// Holds the data folder's lock for as long as the process uses it: one process at a time,
/// so that recovery never mistakes another process's running operations for dead ones.
pub(crate) struct DataLock(#[allow(dead_code)] std::fs::File);

pub(crate) fn lock(data: &Path) -> anyhow::Result<DataLock> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("creating the data folder {}", data.display()))?;
    let path = data.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        bail!(
            "the data folder {} is in use by another carnac process (a running `carnac serve`?); \
             stop it, or send the work to its HTTP API",
            data.display()
        );
    }
    Ok(DataLock(file))
}

/// The catalog the configuration names: PostgreSQL with `[catalog] url`, else the embedded
/// SQLite file of the data folder.
pub(crate) fn open_catalog(
    data: &Path,
    config: &config::Config,
) -> anyhow::Result<Arc<dyn carnac_catalog::Catalog>> {
    Ok(match config.catalog.postgres(data)? {
        Some(mut pg) => {
            pg.node = Some(node_name(data)?);
            Arc::new(
                carnac_catalog_postgres::PostgresCatalog::open(&pg)
                    .with_context(|| format!("opening the catalog at {}", pg.url))?,
            )
        }
        None => Arc::new(
            carnac_catalog::sqlite::SqliteCatalog::open(&data.join("catalog.sqlite"))
                .context("opening the catalog")?,
        ),
    })
}

/// Where a data folder keeps its node name for a shared catalog.
const NODE_NAME: &str = "node-name";

/// This data folder's node name in a shared catalog: made once and kept (`node-name`, with
/// the host and the folder it was made for), so that a restart after a crash takes back at
/// once what the dead process left: it holds the folder's lock, so that process is gone. A
/// folder copied to make another node (another host, or another path) gets a name of its
/// own, so that two live nodes never share one.
fn node_name(data: &Path) -> anyhow::Result<String> {
    let file = data.join(NODE_NAME);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let folder = data
        .canonicalize()
        .with_context(|| format!("the data folder {}", data.display()))?;
    let owner = format!("{host}\t{}", folder.display());
    if let Ok(text) = std::fs::read_to_string(&file)
        && let Some((name, recorded)) = text.trim_end_matches('\n').split_once('\t')
        && recorded == owner
        && !name.is_empty()
    {
        return Ok(name.to_owned());
    }
    let name = carnac_catalog::new_node_name()?;
    let tmp = data.join(format!(".{NODE_NAME}.tmp"));
    std::fs::write(&tmp, format!("{name}\t{owner}\n"))
        .and_then(|()| std::fs::rename(&tmp, &file))
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(name)
}

pub(crate) fn open_archive(data: &Path) -> anyhow::Result<(Archive, config::Config, DataLock)> {
    let guard = lock(data)?;
    let config = config::Config::load(data)?;
    let catalog = open_catalog(data, &config)?;
    let open_store =
        |name: &str, location: &config::OfferLocation| -> anyhow::Result<Arc<dyn BlobStore>> {
            Ok(match location {
                config::OfferLocation::Folder(root) => Arc::new(
                    carnac_blobstore::fs::FsStore::open(name.to_owned(), root)
                        .with_context(|| format!("opening the store {name}"))?,
                ),
                config::OfferLocation::S3(s3) => {
                    let store = carnac_blobstore::s3::S3Store::new(name.to_owned(), s3)
                        .with_context(|| format!("opening the store {name}"))?;
                    if s3.compliance.is_some() {
                        // Before anything is written: a server that takes lock headers and
                        // ignores them would leave the archive believing in a WORM copy.
                        store.verify_worm()?;
                    }
                    Arc::new(store)
                }
            })
        };
    let mut offers: Vec<Arc<dyn BlobStore>> = Vec::new();
    for offer in config.storage.resolve(data)? {
        offers.push(open_store(&offer.name, &offer.location)?);
    }
    let incoming = match config.storage.incoming(data)? {
        Some(location) => Some(open_store("incoming", &location)?),
        None => None,
    };
    let scanner: Option<Arc<dyn carnac_archive::ports::VirusScanner>> =
        match &config.antivirus.clamd_socket {
            Some(socket) => {
                let clamd = carnac_archive::antivirus::Clamd::new(socket);
                clamd.ping().map_err(|e| {
                    anyhow::anyhow!("the configured antivirus does not answer: {e}")
                })?;
                Some(Arc::new(clamd))
            }
            None => None,
        };
    let identifier =
        carnac_pronom::Identifier::embedded().context("loading the PRONOM signatures")?;
    let clock: Arc<dyn carnac_archive::ports::Clock> =
        Arc::new(carnac_archive::system::SystemClock);
    let (timestamps, tenant_timestamps) =
        timestamp_authorities(data, &config.timestamp, clock.clone())?;
    let signer = carnac_archive::attestation::open_signer(
        &data.join("signing"),
        &config.archival_agency,
        &*clock,
    )
    .context("opening the archive's signing key")?;
    let archive = Archive::new(Parts {
        catalog,
        offers,
        clock,
        ids: Arc::new(carnac_archive::system::RandomIds),
        scanner,
        identifier: Arc::new(identifier),
        timestamps,
        tenant_timestamps,
        signer: Arc::new(signer),
        config: carnac_archive::IngestConfig {
            limits: carnac_container::Limits {
                max_total_size: config.limits.max_total_size,
                max_entries: config.limits.max_entries,
                max_ratio: config.limits.max_ratio,
                ..carnac_container::Limits::default()
            },
            max_manifest_size: config.limits.max_manifest_size,
            archival_agency: config.archival_agency.clone(),
            classification_levels: config.classification_levels.clone(),
            max_xml_depth: config.limits.max_xml_depth,
            time_budget: carnac_archive::ingest::TimeBudget {
                base: std::time::Duration::from_secs(config.limits.ingest_seconds),
                bytes_per_second: config.limits.ingest_bytes_per_second.max(1),
            },
            ingest_workers: config.limits.ingest_workers.max(1),
            execution_step_units: config.limits.elimination_step_units.clamp(1, 100_000),
            control_authority: config.control_authority.clone(),
            deliveries: config.deliveries.limits(),
            web_sessions: config.web.limits(),
            ..Default::default()
        },
        tmp: data.join("tmp"),
        incoming,
    })?;
    let recovered = archive
        .recover()
        .context("recovering interrupted operations")?;
    for (tenant, op) in &recovered {
        eprintln!(
            "carnac: operation {op} of tenant {tenant} was interrupted; its partial data was removed"
        );
    }
    Ok((archive, config, guard))
}

/// The built-in TSA, or the configured external ones (whose trust also takes the built-in
/// root when one exists, so that tokens made before the switch still verify); and the
/// tenants' own.
pub(crate) fn timestamp_authorities(
    data: &Path,
    config: &config::Timestamp,
    clock: Arc<dyn carnac_archive::ports::Clock>,
) -> anyhow::Result<(Authority, BTreeMap<TenantId, Authority>)> {
    use carnac_archive::timestamping::{Builtin, BuiltinPolicy};
    let builtin_root = data.join("tsa").join("root.pem");
    let mut tenants: BTreeMap<TenantId, Authority> = BTreeMap::new();
    for (id, t) in &config.tenants {
        let tls = if t.tls_trust.is_empty() {
            &config.tls_trust
        } else {
            &t.tls_trust
        };
        let external = external_tsas(
            &format!("timestamp.tenants.{id}"),
            &t.tsa,
            &t.trust,
            t.policy.as_deref(),
            tls,
            config,
            &builtin_root,
        )?;
        tenants.insert(tenant(id)?, Arc::new(external));
    }
    if config.tsa.is_empty() {
        let policy = BuiltinPolicy {
            certificate_validity: std::time::Duration::from_secs(
                config.builtin_certificate_days * 86_400,
            ),
            replace_before: std::time::Duration::from_secs(config.builtin_replace_days * 86_400),
        };
        let builtin =
            Builtin::open(&data.join("tsa"), clock, policy).context("opening the built-in TSA")?;
        return Ok((Arc::new(builtin), tenants));
    }
    let external = external_tsas(
        "timestamp",
        &config.tsa,
        &config.trust,
        config.policy.as_deref(),
        &config.tls_trust,
        config,
        &builtin_root,
    )?;
    Ok((Arc::new(external), tenants))
}

/// External TSAs over HTTP(S), tried in order, whose tokens must chain to `trust`.
pub(crate) fn external_tsas(
    key: &str,
    urls: &[String],
    trust_files: &[PathBuf],
    policy: Option<&str>,
    tls_trust: &[PathBuf],
    config: &config::Timestamp,
    builtin_root: &Path,
) -> anyhow::Result<carnac_archive::timestamping::External> {
    if let Some(url) = urls
        .iter()
        .find(|u| !u.starts_with("http://") && !u.starts_with("https://"))
    {
        bail!("{key}.tsa {url:?}: a TSA is reached by an http:// or https:// URL");
    }
    let mut trust = carnac_timestamp::TrustStore::new();
    for pem in trust_files {
        let bytes = std::fs::read(pem).with_context(|| format!("reading {}", pem.display()))?;
        trust = trust
            .with_anchors_pem(&bytes)
            .with_context(|| format!("reading {}", pem.display()))?;
    }
    if trust.is_empty() {
        bail!(
            "{key}.tsa is set but {key}.trust names no trust anchor: tokens could not be verified"
        );
    }
    let mut tls_roots = Vec::new();
    for pem in tls_trust {
        let bytes = std::fs::read(pem).with_context(|| format!("reading {}", pem.display()))?;
        let certs = carnac_timestamp::certificates_from_pem(&bytes)
            .with_context(|| format!("reading {}", pem.display()))?;
        if certs.is_empty() {
            bail!("{}: no certificate", pem.display());
        }
        tls_roots.extend(certs);
    }
    let policy = policy
        .map(|p| {
            p.parse()
                .map_err(|e| anyhow::anyhow!("{key}.policy {p:?}: {e}"))
        })
        .transpose()?;
    let tsas = urls
        .iter()
        .map(|url| {
            carnac_timestamp::client::HttpTsa::new(
                url,
                trust.clone(),
                policy,
                std::time::Duration::from_secs(config.timeout_seconds),
                config.retries,
            )
            .with_tls_roots(&tls_roots)
        })
        .collect();
    // New tokens must come from the configured anchors; old ones may be the built-in TSA's.
    let mut all = trust;
    if let Ok(root) = std::fs::read(builtin_root) {
        all = all
            .with_anchors_pem(&root)
            .context("reading the built-in TSA's root")?;
    }
    Ok(carnac_archive::timestamping::External::new(tsas, all))
}

pub(crate) fn renew_before(config: &config::Config) -> std::time::Duration {
    std::time::Duration::from_secs(config.timestamp.renew_before_days * 86_400)
}
