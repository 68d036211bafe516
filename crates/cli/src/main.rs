//! The carnac binary: thin glue that parses arguments and wires the archive together.
//!
//! Exit codes are a contract with outside scripts: `ingest` exits 0 when the transfer is
//! accepted (OK or WARNING), 2 when it is rejected, 1 when the command could not run;
//! `journal verify` and `check` exit 2 when they find damage; every other command exits 0 on
//! success and 1 on failure.

mod config;

use anyhow::{Context, bail};
use carnac_archive::ports::Progress;
use carnac_archive::{Archive, Parts};
use carnac_blobstore::BlobStore;
use carnac_model::TenantId;
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Carnac, an electronic archive with probative value.
#[derive(Parser)]
#[command(name = "carnac", version)]
struct Cli {
    /// The data folder: catalog, offers, configuration (carnac.toml).
    #[arg(
        long,
        global = true,
        env = "CARNAC_DATA",
        default_value = "carnac-data"
    )]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tenants (the local authorities whose archives are kept).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Accounts of people and applications, their roles and API tokens.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Referentials (agencies, rules, ingest contracts, archive profiles, formats).
    Referential {
        #[command(subcommand)]
        command: ReferentialCommand,
    },
    /// Ingests a SEDA transfer (zip, tar, tar.gz, tar.bz2). Exit 0: accepted; 2: rejected;
    /// 1: could not run.
    Ingest {
        /// The tenant the transfer is for.
        #[arg(long)]
        tenant: String,
        /// The transfer container.
        file: PathBuf,
        /// Write the ArchiveTransferReply to this file (default: standard output).
        #[arg(long)]
        atr: Option<PathBuf>,
        /// Print a JSON summary on standard output instead of the reply.
        #[arg(long)]
        json: bool,
    },
    /// Serves the web UI and the HTTP API (loopback only without TLS).
    Serve {
        /// Address to listen on (default from carnac.toml, else 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Seals the journal's events written since the last seal (a Merkle tree whose root,
    /// chained to the previous seal, is timestamped), for one tenant or all.
    Seal {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Evidence records (RFC 4998) of stored files.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Verifies a file against its evidence record, offline: needs no data folder and no
    /// database. Exit 0: valid; 2: invalid (every problem listed); 1: could not run.
    Verify {
        /// The file.
        file: PathBuf,
        /// Its evidence record (DER, as `evidence export` writes it).
        #[arg(long)]
        evidence: PathBuf,
        /// PEM file(s) of the trust anchors of the timestamping authorities.
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// CRL file(s) (PEM or DER; a bundle's revocation.pem): every timestamp's certificates
        /// must then be covered and not revoked when it mattered.
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Reads every copy of every stored file of a tenant, compares it with the catalog's
    /// digest, repairs a damaged or missing copy from a good one. Exit 0: intact; 2: damage
    /// found (repaired or not, every case listed).
    Audit {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Deposit attestations: signed and timestamped statements of what each accepted transfer
    /// delivered.
    Attestation {
        #[command(subcommand)]
        command: AttestationCommand,
    },
    /// The lifecycle of an archive unit or a stored object: the journal events that concern
    /// it, each with the seal that covers it.
    Lifecycle {
        #[arg(long)]
        tenant: String,
        /// A unit id or an object id.
        #[arg(long)]
        subject: String,
        #[arg(long)]
        json: bool,
    },
    /// One pass of the periodic duties `serve` runs: pending evidence records, timestamp
    /// renewals that are due, journal seals; for every tenant.
    Maintain,
    /// The tenants' journals.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Checks that the catalog and every offer agree. Exit 0: consistent; 2: problems found.
    Check {
        /// Also re-read every copy and compare its digest.
        #[arg(long)]
        digests: bool,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Creates a tenant. ID: 1 to 64 of A-Z a-z 0-9 _ - (a SIREN in production).
    Create {
        id: String,
        /// A human-readable name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Lists the tenants.
    List,
    /// Suspends a tenant: it keeps reading and exporting its archives, it takes no transfer.
    Suspend { id: String },
    /// Lifts a tenant's suspension.
    Resume { id: String },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Creates an account bound to the given tenants (none for an operator).
    Create {
        login: String,
        #[arg(long, value_parser = ["operator", "archivist", "producer", "control-authority", "auditor"])]
        role: String,
        #[arg(long)]
        tenant: Vec<String>,
        /// A file whose first line is the password (people, and as@lae clients).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Write a new API token for the account to this file (readable by its owner only).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// A person (default) or an application.
        #[arg(long, default_value = "person", value_parser = ["person", "application"])]
        kind: String,
        /// A TLS client certificate (PEM) that identifies the account over HTTPS.
        #[arg(long)]
        certificate: Option<PathBuf>,
    },
    /// Registers a TLS client certificate (PEM) as a credential of an existing account.
    Certificate {
        login: String,
        #[arg(long)]
        certificate: PathBuf,
    },
    /// Writes a new API token for an existing account.
    Token {
        login: String,
        #[arg(long)]
        token_file: PathBuf,
    },
    /// Lists the API tokens of an account: id (the beginning of its SHA-256), made, revoked.
    Tokens { login: String },
    /// Revokes one API token of an account, named by its id; its other credentials go on.
    RevokeToken { login: String, id: String },
    /// Lists the accounts, their roles and tenants.
    List,
    /// Disables an account: its tokens, password and certificates stop working at once.
    Disable { login: String },
    /// Enables a disabled account again.
    Enable { login: String },
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Writes the evidence record of a stored file; with --bundle, also a folder with the
    /// file, the record, the trust anchors and certificates, to verify without the archive.
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        object: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Makes the evidence records of stored files that have none yet (normally done after
    /// each ingest and by `serve`'s maintenance).
    Create {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// The evidence report of an archive unit ("relevé de valeur probante"): each file's
    /// digest, copies, last audit and evidence record status, and the journal events that
    /// concern it with their seals; signed by the archive and timestamped (JSON + HTML).
    Report {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Renews evidence records now (RFC 4998): a timestamp renewal of every record, or with
    /// --hash a hash-tree renewal to that algorithm, which reads every stored file again.
    Renew {
        #[arg(long)]
        tenant: String,
        /// SHA-256, SHA-384 or SHA-512.
        #[arg(long)]
        hash: Option<String>,
    },
}

#[derive(Subcommand)]
enum AttestationCommand {
    /// Copies the attestation of an accepted ingest (JSON, its signature, HTML, the archive's
    /// certificate) to a folder.
    Export {
        #[arg(long)]
        tenant: String,
        /// The ingest's operation.
        #[arg(long)]
        operation: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Checks an attestation offline: its signature by the archive and the signature's
    /// timestamp. Exit 0: valid; 2: invalid.
    Verify {
        /// attestation.json
        document: PathBuf,
        /// attestation.p7s
        #[arg(long)]
        signature: PathBuf,
        /// The archive's certificate (PEM), obtained from the archive independently.
        #[arg(long)]
        signer: PathBuf,
        /// PEM file(s) of the timestamping authorities' trust anchors.
        #[arg(long)]
        trust: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Recomputes the hash chain of a tenant's journal and checks its seals, listing every
    /// break (edited, missing, inserted or moved events, seals that do not match or whose
    /// timestamp is not valid). With --export or --proof, checks an exported journal or one
    /// event's proof offline instead (no data folder); with --offer and --tenant, the
    /// tenant's sealed journal as one storage offer keeps it, without the catalog. Exit 0:
    /// intact; 2: broken; 1: could not run.
    Verify {
        #[arg(long, required_unless_present_any = ["export", "proof"])]
        tenant: Option<String>,
        /// A folder written by `journal export`.
        #[arg(long, conflicts_with_all = ["tenant", "proof", "offer"])]
        export: Option<PathBuf>,
        /// A file written by `journal prove`.
        #[arg(long, conflicts_with_all = ["tenant", "export", "offer"])]
        proof: Option<PathBuf>,
        /// A storage offer's folder (`offers/offer-1`): its copies of the seals and journal
        /// segments alone are checked.
        #[arg(long, requires = "tenant")]
        offer: Option<PathBuf>,
        /// PEM file(s) of the timestamping authorities' trust anchors (offline checks).
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Writes a tenant's journal and seals to a folder, with nothing of other tenants, and how
    /// to check them without Carnac. With --offer, rebuilds the tenant's sealed journal from
    /// one storage offer's copies alone (no data folder, no catalog: what survives the loss
    /// of the catalog), the trust anchors given written beside it.
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        out: PathBuf,
        /// A storage offer's folder (`offers/offer-1`).
        #[arg(long)]
        offer: Option<PathBuf>,
        /// With --offer: PEM file(s) of the timestamping authorities' trust anchors.
        #[arg(long, requires = "offer")]
        trust: Vec<PathBuf>,
    },
    /// Writes the proof of one event: its Merkle path to the timestamped seal that covers it.
    Prove {
        #[arg(long)]
        tenant: String,
        /// The event's sequence number.
        #[arg(long)]
        event: u64,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ReferentialCommand {
    /// Imports a folder laid out as Vitam's referentials (agencies/, rules/, contracts/,
    /// profiles/, formats/, archiveUnitProfiles/). A folder with any malformed file (an
    /// archive unit profile whose schema cannot be compiled among them) is refused whole.
    Import {
        #[arg(long)]
        tenant: String,
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve { .. });
    let default_level = if serving { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("carnac: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Holds the data folder's lock for as long as the process uses it: one process at a time,
/// so that recovery never mistakes another process's running operations for dead ones.
struct DataLock(#[allow(dead_code)] std::fs::File);

fn lock(data: &Path) -> anyhow::Result<DataLock> {
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

fn open_archive(data: &Path) -> anyhow::Result<(Archive, config::Config, DataLock)> {
    let guard = lock(data)?;
    let config = config::Config::load(data)?;
    let catalog = carnac_catalog::sqlite::SqliteCatalog::open(&data.join("catalog.sqlite"))
        .context("opening the catalog")?;
    let mut offers: Vec<Arc<dyn BlobStore>> = Vec::new();
    for offer in config.storage.resolve(data)? {
        offers.push(Arc::new(
            carnac_blobstore::fs::FsStore::open(offer.name, offer.root)
                .context("opening a storage offer")?,
        ));
    }
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
        catalog: Arc::new(catalog),
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
            ..Default::default()
        },
        tmp: data.join("tmp"),
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

type Authority = Arc<dyn carnac_archive::timestamping::TimestampAuthority>;

/// The built-in TSA, or the configured external ones (whose trust also takes the built-in
/// root when one exists, so that tokens made before the switch still verify); and the
/// tenants' own.
fn timestamp_authorities(
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
fn external_tsas(
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

/// The one certificate of a PEM file, DER.
fn read_certificate(path: &Path) -> anyhow::Result<Vec<u8>> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut certs = carnac_timestamp::certificates_from_pem(&pem)
        .with_context(|| format!("reading {}", path.display()))?;
    if certs.len() != 1 {
        bail!(
            "{}: one certificate expected, {} found",
            path.display(),
            certs.len()
        );
    }
    Ok(certs.remove(0))
}

/// The first line of a password file.
fn read_password(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().to_owned();
    if line.is_empty() {
        bail!("{}: the first line (the password) is empty", path.display());
    }
    Ok(line)
}

/// A file for a secret, readable by its owner only (created so, never widened), never
/// overwriting one that exists (the token it holds may be in use); removed if nothing was
/// written to it.
pub(crate) struct SecretFile {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl SecretFile {
    pub(crate) fn create(path: &Path) -> anyhow::Result<SecretFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| {
                format!(
                    "creating {} (a secret file is never overwritten)",
                    path.display()
                )
            })?;
        Ok(SecretFile {
            path: path.to_owned(),
            file: Some(file),
        })
    }

    pub(crate) fn write(&mut self, secret: &str) -> anyhow::Result<()> {
        let mut f = self.file.take().context("the secret was already written")?;
        writeln!(f, "{secret}")
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The tenant given, or every tenant.
fn tenant_or_all(archive: &Archive, id: Option<String>) -> anyhow::Result<Vec<TenantId>> {
    Ok(match id {
        Some(t) => vec![tenant(&t)?],
        None => archive
            .catalog()
            .tenants()?
            .into_iter()
            .map(|t| t.id)
            .collect(),
    })
}

fn tenant(id: &str) -> anyhow::Result<TenantId> {
    TenantId::new(id).map_err(|e| anyhow::anyhow!("{e}"))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Offline verification touches no data folder.
    if let Command::Verify {
        file,
        evidence,
        trust,
        crl,
        json,
    } = &cli.command
    {
        return verify_offline(file, evidence, trust, crl, *json);
    }
    if let Command::Attestation {
        command:
            AttestationCommand::Verify {
                document,
                signature,
                signer,
                trust,
            },
    } = &cli.command
    {
        let sig =
            std::fs::read(signature).with_context(|| format!("reading {}", signature.display()))?;
        let pem = std::fs::read(signer).with_context(|| format!("reading {}", signer.display()))?;
        let certs = x509_cert::Certificate::load_pem_chain(&pem)
            .map_err(|e| anyhow::anyhow!("{}: {e}", signer.display()))?;
        return match carnac_archive::attestation::verify_attestation(
            document,
            &sig,
            &certs,
            &trust_store(trust)?,
        ) {
            Ok(v) => {
                println!(
                    "VALID: signed by {}, timestamped {} by {}",
                    v.signer, v.timestamp.gen_time_text, v.timestamp.tsa
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("INVALID: {e}");
                Ok(ExitCode::from(2))
            }
        };
    }
    if let Command::Journal {
        command:
            JournalCommand::Verify {
                export,
                proof,
                trust,
                json,
                ..
            },
    } = &cli.command
        && (export.is_some() || proof.is_some())
    {
        return verify_journal_offline(export.as_deref(), proof.as_deref(), trust, *json, None);
    }
    if let Command::Journal {
        command:
            JournalCommand::Verify {
                offer: Some(offer),
                tenant: Some(t),
                trust,
                json,
                ..
            },
    } = &cli.command
    {
        let work = tempfile::tempdir().context("making a scratch folder")?;
        let rebuilt = rebuild_from_offer(offer, t, trust, work.path())?;
        let shown = format!("tenant {t} in {}", offer.display());
        let mut result =
            verify_journal_offline(Some(work.path()), None, trust, *json, Some(&shown))?;
        for p in &rebuilt.problems {
            println!("{} event {}: {}", p.code, p.sequence, p.message);
        }
        if !rebuilt.problems.is_empty() {
            result = ExitCode::from(2);
        }
        return Ok(result);
    }
    if let Command::Journal {
        command:
            JournalCommand::Export {
                offer: Some(offer),
                tenant: t,
                out,
                trust,
            },
    } = &cli.command
    {
        let rebuilt = rebuild_from_offer(offer, t, trust, out)?;
        for p in &rebuilt.problems {
            println!("{} event {}: {}", p.code, p.sequence, p.message);
        }
        println!(
            "{}: sealed journal of tenant {t} rebuilt from {}, {} events, {} seals",
            out.display(),
            offer.display(),
            rebuilt.events,
            rebuilt.seals
        );
        return Ok(if rebuilt.problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let (archive, config, _guard) = open_archive(&cli.data)?;
    match cli.command {
        Command::Verify { .. } => unreachable!("handled above"),
        Command::Evidence {
            command:
                EvidenceCommand::Export {
                    tenant: t,
                    object,
                    out,
                    bundle,
                },
        } => {
            let t = tenant(&t)?;
            let object: carnac_model::ObjectId =
                object.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let made = archive.export_evidence(&t, &object, &out, bundle.as_deref(), "cli")?;
            println!("{}: evidence record of {object}", out.display());
            if let Some(b) = made {
                println!(
                    "{}: {}, {}, {}, {}, README.txt",
                    b.dir.display(),
                    b.file,
                    b.record,
                    b.trust,
                    b.certificates
                );
            }
        }
        Command::Audit { tenant: t, json } => {
            let t = tenant(&t)?;
            let bar = Bar::new();
            let report = archive.audit(&t, "cli", &bar)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                for d in &report.damaged {
                    println!(
                        "{} object {} in {}: {}; {}",
                        d.problem,
                        d.object,
                        d.offer,
                        d.detail,
                        match &d.repaired_from {
                            Some(from) => format!("repaired from {from}"),
                            None => "NOT repaired".into(),
                        }
                    );
                }
                for o in &report.unrecoverable {
                    println!("UNRECOVERABLE object {o}: no good copy is left");
                }
                println!(
                    "tenant {t}: {} files, {} manifests, {} journal files, {} attestation files, {} copies, {} bytes read, {} (operation {})",
                    report.files,
                    report.manifests,
                    report.journal_files,
                    report.attestation_files,
                    report.copies,
                    report.bytes,
                    if report.intact() {
                        "intact".to_owned()
                    } else {
                        format!(
                            "{} damaged copies, {} unrecoverable files",
                            report.damaged.len(),
                            report.unrecoverable.len()
                        )
                    },
                    report.operation
                );
            }
            if !report.intact() {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Attestation {
            command:
                AttestationCommand::Export {
                    tenant: t,
                    operation,
                    out,
                },
        } => {
            let t = tenant(&t)?;
            let op: carnac_model::OperationId =
                operation.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            archive.export_attestation(&t, &op, &out)?;
            println!(
                "{}: {}",
                out.display(),
                carnac_archive::attestation::ATTESTATION_BLOBS.join(", ")
            );
        }
        Command::Attestation {
            command: AttestationCommand::Verify { .. },
        } => unreachable!("handled above"),
        Command::Lifecycle {
            tenant: t,
            subject,
            json,
        } => {
            let t = tenant(&t)?;
            let l = archive.lifecycle(&t, &subject, &carnac_archive::report::JournalPage::all())?;
            if json {
                println!("{}", serde_json::to_string(&l)?);
            } else {
                for e in &l.events {
                    println!(
                        "{:>8} {} {} {} ({}){}",
                        e.sequence,
                        e.time,
                        e.kind,
                        e.outcome,
                        e.operation,
                        e.sealed_by
                            .as_ref()
                            .map(|(last, at)| format!(", sealed up to event {last} at {at}"))
                            .unwrap_or_else(|| ", not sealed yet".into())
                    );
                }
            }
        }
        Command::Maintain => {
            if !maintain(&archive, renew_before(&config)) {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Evidence {
            command:
                EvidenceCommand::Report {
                    tenant: t,
                    unit,
                    out,
                },
        } => {
            let t = tenant(&t)?;
            let unit: carnac_model::UnitId = unit.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let r = archive.evidence_report(&t, &unit, &out, "cli")?;
            println!(
                "{}: report.json, report.p7s, report.html, signer.pem ({} files, {} events)",
                out.display(),
                r.files.len(),
                r.events.len()
            );
            for f in &r.files {
                println!(
                    "  {} {}: evidence {}",
                    f.object,
                    f.filename.as_deref().unwrap_or(""),
                    f.evidence
                );
            }
        }
        Command::Evidence {
            command: EvidenceCommand::Renew { tenant: t, hash },
        } => {
            let t = tenant(&t)?;
            let batches = match hash {
                Some(h) => {
                    let a = carnac_model::DigestAlgorithm::from_seda_name(&h).ok_or_else(|| {
                        anyhow::anyhow!("--hash {h:?}: SHA-256, SHA-384 or SHA-512")
                    })?;
                    archive
                        .renew_hash_trees(&t, a, "cli")?
                        .into_iter()
                        .collect()
                }
                None => archive.renew_timestamps(&t, renew_before(&config), true, "cli")?,
            };
            for b in &batches {
                println!(
                    "tenant {t}: {} {} of {} leaves, {} by {} (operation {})",
                    b.kind, b.algorithm, b.leaves, b.stamped_at, b.tsa, b.operation
                );
            }
            if batches.is_empty() {
                println!("tenant {t}: no evidence to renew");
            }
        }
        Command::Evidence {
            command: EvidenceCommand::Create { tenant: t },
        } => {
            let tenants = tenant_or_all(&archive, t)?;
            for t in &tenants {
                for b in archive.create_evidence(t, "cli")? {
                    println!(
                        "tenant {t}: {} files under one {} timestamp, {} by {} (operation {})",
                        b.leaves, b.algorithm, b.stamped_at, b.tsa, b.operation
                    );
                }
            }
        }
        Command::Tenant {
            command: TenantCommand::Create { id, name },
        } => {
            let t = tenant(&id)?;
            let op = archive.create_tenant(&t, name.as_deref().unwrap_or(&id), "cli")?;
            println!("tenant {t} created (operation {op})");
        }
        Command::Tenant {
            command: TenantCommand::List,
        } => {
            for t in archive.catalog().tenants()? {
                if carnac_model::access::is_reserved(&t.id) {
                    continue;
                }
                println!(
                    "{}\t{}\t{}{}",
                    t.id,
                    t.name,
                    t.created_at,
                    t.suspended_at
                        .map(|s| format!("\tsuspended since {s}"))
                        .unwrap_or_default()
                );
            }
        }
        Command::Tenant {
            command: TenantCommand::Suspend { id },
        } => {
            archive.suspend_tenant(&tenant(&id)?, true, "cli")?;
            println!("tenant {id} suspended");
        }
        Command::Tenant {
            command: TenantCommand::Resume { id },
        } => {
            archive.suspend_tenant(&tenant(&id)?, false, "cli")?;
            println!("tenant {id} resumed");
        }
        Command::Account {
            command:
                AccountCommand::Create {
                    login,
                    role,
                    tenant: tenants,
                    password_file,
                    token_file,
                    kind,
                    certificate,
                },
        } => {
            let certificate = certificate.as_deref().map(read_certificate).transpose()?;
            use carnac_model::access::{AccountKind, Role};
            let role = Role::parse(&role).context("unknown role")?;
            let kind = AccountKind::parse(&kind).context("unknown kind")?;
            let tenants = tenants
                .iter()
                .map(|t| tenant(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = password_file.as_deref().map(read_password).transpose()?;
            // The file first: a token made for a file that cannot be written would be lost.
            let mut secret = token_file.as_deref().map(SecretFile::create).transpose()?;
            let (account, token) = archive.create_account(
                &carnac_archive::accounts::NewAccount {
                    login: &login,
                    role,
                    kind,
                    tenants: &tenants,
                    password: password.as_deref(),
                    token: token_file.is_some(),
                    certificate: certificate.as_deref(),
                },
                "cli",
            )?;
            if let (Some(f), Some(token)) = (secret.as_mut(), &token) {
                f.write(token)?;
            }

            println!(
                "account {} created: {} on {}",
                account.login,
                account.role,
                if account.tenants.is_empty() {
                    "the platform".to_owned()
                } else {
                    account
                        .tenants
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        }
        Command::Account {
            command: AccountCommand::Token { login, token_file },
        } => {
            let mut secret = SecretFile::create(&token_file)?;
            let token = archive.issue_token(&login, "cli")?;
            secret.write(&token)?;
            println!(
                "a new token for {login} is in {} (token id {})",
                token_file.display(),
                carnac_archive::accounts::token_id(&token)
            );
        }
        Command::Account {
            command: AccountCommand::Certificate { login, certificate },
        } => {
            let der = read_certificate(&certificate)?;
            let sha256 = archive.register_certificate(&login, &der, "cli")?;
            println!("certificate {sha256} registered to {login}");
        }
        Command::Account {
            command: AccountCommand::Tokens { login },
        } => {
            for t in archive.tokens(&login)? {
                match &t.revoked_at {
                    Some(r) => println!("{}\t{}\trevoked {r}", t.id, t.created_at),
                    None => println!("{}\t{}", t.id, t.created_at),
                }
            }
        }
        Command::Account {
            command: AccountCommand::RevokeToken { login, id },
        } => {
            archive.revoke_token(&login, &id, "cli")?;
            println!("token {id} of {login} revoked");
        }
        Command::Account {
            command: AccountCommand::Disable { login },
        } => {
            archive.set_account_disabled(&login, true, "cli")?;
            println!("account {login} disabled");
        }
        Command::Account {
            command: AccountCommand::Enable { login },
        } => {
            archive.set_account_disabled(&login, false, "cli")?;
            println!("account {login} enabled");
        }
        Command::Account {
            command: AccountCommand::List,
        } => {
            for a in archive.accounts()? {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    a.login,
                    a.role,
                    a.kind.as_str(),
                    a.tenants
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    if a.disabled_at.is_some() {
                        "\tdisabled"
                    } else {
                        ""
                    }
                );
            }
        }
        Command::Referential {
            command: ReferentialCommand::Import { tenant: t, dir },
        } => {
            let t = tenant(&t)?;
            let outcome = archive.import_referentials(&t, &dir, "cli")?;
            for ((kind, version), (_, count)) in outcome.versions.iter().zip(&outcome.counts) {
                println!("{}: {count} entries, version {version}", kind.as_str());
            }
            for (file, why) in &outcome.skipped {
                println!("skipped {file}: {why}");
            }
            println!("operation {}", outcome.operation);
        }
        Command::Ingest {
            tenant: t,
            file,
            atr,
            json,
        } => {
            let t = tenant(&t)?;
            let container = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let bar = Bar::new();
            let outcome = archive.ingest(&t, container, "cli", &bar)?;
            let op: carnac_model::OperationId = outcome.operation().parse()?;
            if let Some(path) = &atr {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("writing {}", path.display()))?;
                let mut w = std::io::BufWriter::new(file);
                archive.reply(&t, &op, &mut w)?;
                w.into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if json {
                archive.write_ingest_json(&t, &outcome.summary, &mut out)?;
            } else if atr.is_none() {
                archive.reply(&t, &op, &mut out)?;
            }
            out.flush()?;
            if !json {
                eprintln!(
                    "{}: {} (operation {})",
                    file.display(),
                    outcome.status(),
                    outcome.operation()
                );
                for r in &outcome.summary.reasons {
                    eprintln!("  {} {}.{}: {}", r.severity, r.step, r.code, r.message);
                }
            }
            return Ok(ExitCode::from(if outcome.status().is_accepted() {
                0
            } else {
                2
            }));
        }
        Command::Serve { listen } => {
            let listen = listen.unwrap_or(config.server.listen.clone());
            if !carnac_server::asalae::valid_base(&config.server.asalae_base_path) {
                bail!(
                    "server.asalae_base_path {:?} must start with '/', not end with one, stay out of /api/ and hold letters, digits, '-', '_', '.' and '/' only",
                    config.server.asalae_base_path
                );
            }
            let under_data = |p: &Option<PathBuf>| p.as_ref().map(|p| cli.data.join(p));
            let tls = match (
                under_data(&config.server.tls_certificate),
                under_data(&config.server.tls_key),
            ) {
                (Some(certificate), Some(key)) => Some(
                    carnac_server::tls::server_config(
                        &certificate,
                        &key,
                        under_data(&config.server.tls_client_ca).as_deref(),
                    )
                    .map_err(|e| anyhow::anyhow!("server TLS: {e}"))?,
                ),
                (None, None) => {
                    if config.server.tls_client_ca.is_some() {
                        bail!(
                            "server.tls_client_ca needs server.tls_certificate and server.tls_key"
                        );
                    }
                    None
                }
                _ => bail!("server.tls_certificate and server.tls_key go together"),
            };
            serve(
                archive,
                &cli.data,
                &listen,
                tls,
                &config.server,
                config.timestamp.seal_interval_seconds,
                renew_before(&config),
            )?;
        }
        Command::Seal { tenant: t } => {
            let tenants = tenant_or_all(&archive, t)?;
            for t in &tenants {
                match archive.seal(t, "cli")? {
                    Some(s) => println!(
                        "tenant {t}: events {} to {} sealed, {} by {} (operation {})",
                        s.first, s.last, s.stamped_at, s.tsa, s.operation
                    ),
                    None => println!("tenant {t}: nothing to seal"),
                }
            }
        }
        Command::Journal {
            command: JournalCommand::Export { tenant: t, out, .. },
        } => {
            let t = tenant(&t)?;
            let e = archive.export_journal(&t, &out, "cli")?;
            println!(
                "{}: journal of tenant {t}, {} events, {} seals",
                out.display(),
                e.events,
                e.seals
            );
        }
        Command::Journal {
            command:
                JournalCommand::Prove {
                    tenant: t,
                    event,
                    out,
                },
        } => {
            let t = tenant(&t)?;
            let proof = archive.prove_event(&t, event)?;
            std::fs::write(&out, serde_json::to_vec_pretty(&proof)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{}: event {event} of tenant {t}, sealed with events {} to {} at {}",
                out.display(),
                proof.seal.first,
                proof.seal.last,
                proof.seal.stamped_at
            );
        }
        Command::Journal {
            command: JournalCommand::Verify {
                tenant: t, json, ..
            },
        } => {
            let t = tenant(t.as_deref().unwrap_or_default())?;
            let v = archive.verify_journal(&t, "cli")?;
            if json {
                println!("{}", serde_json::to_string(&v)?);
            } else {
                for p in &v.problems {
                    println!("{} event {}: {}", p.code, p.sequence, p.message);
                }
                println!(
                    "journal of tenant {t}: {} events, {} seals up to event {}, {}",
                    v.events,
                    v.seals,
                    v.sealed_up_to,
                    if v.intact() {
                        format!("intact (head {})", v.head.as_deref().unwrap_or("none"))
                    } else {
                        format!("{} problem(s)", v.problems.len())
                    }
                );
            }
            if !v.intact() {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Check { digests } => {
            let problems = archive.check_consistency(digests)?;
            for p in &problems {
                println!("{p}");
            }
            if !problems.is_empty() {
                return Ok(ExitCode::from(2));
            }
            println!("consistent");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn trust_store(files: &[PathBuf]) -> anyhow::Result<carnac_timestamp::TrustStore> {
    let mut trust = carnac_timestamp::TrustStore::new();
    for t in files {
        let pem = std::fs::read(t).with_context(|| format!("reading {}", t.display()))?;
        trust = trust
            .with_anchors_pem(&pem)
            .with_context(|| format!("reading {}", t.display()))?;
    }
    Ok(trust)
}

/// `carnac journal verify --export DIR | --proof FILE`: no data folder.
/// A tenant's sealed journal rebuilt from one offer's folder into `out` (an export).
fn rebuild_from_offer(
    offer: &Path,
    t: &str,
    trust: &[PathBuf],
    out: &Path,
) -> anyhow::Result<carnac_archive::journal::OfferExport> {
    if !offer.is_dir() {
        bail!("{}: not a storage offer's folder", offer.display());
    }
    let t = tenant(t)?;
    let mut anchors = Vec::new();
    for f in trust {
        anchors.extend(std::fs::read(f).with_context(|| format!("reading {}", f.display()))?);
    }
    let store = carnac_blobstore::fs::FsStore::open("offer", offer)?;
    carnac_archive::journal::export_from_offer(&store, &t, out, &anchors)
        .map_err(|e| anyhow::anyhow!("{}: {e}", offer.display()))
}

fn verify_journal_offline(
    export: Option<&Path>,
    proof: Option<&Path>,
    trust: &[PathBuf],
    json: bool,
    shown: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let trust = trust_store(trust)?;
    if let Some(dir) = export {
        let (events, seals, problems) = carnac_archive::journal::verify_export(dir, &trust)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        if json {
            println!(
                "{}",
                serde_json::json!({"events": events, "seals": seals, "problems": problems})
            );
        } else {
            for p in &problems {
                println!("{} event {}: {}", p.code, p.sequence, p.message);
            }
            println!(
                "{}: {events} events, {seals} seals, {}",
                shown.map_or_else(|| dir.display().to_string(), str::to_owned),
                if problems.is_empty() {
                    "intact".to_owned()
                } else {
                    format!("{} problem(s)", problems.len())
                }
            );
        }
        return Ok(ExitCode::from(if problems.is_empty() { 0 } else { 2 }));
    }
    let Some(file) = proof else {
        bail!("--export or --proof");
    };
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let proof: carnac_archive::journal::EventProof =
        serde_json::from_slice(&text).with_context(|| format!("reading {}", file.display()))?;
    match carnac_archive::journal::verify_proof(&proof, &trust) {
        Ok(p) => {
            if json {
                println!("{}", serde_json::json!({"valid": true, "event": p}));
            } else {
                println!(
                    "VALID: event {} ({}) is in the journal as sealed at {} by {}",
                    p.sequence, p.kind, p.sealed_at, p.tsa
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({"valid": false, "problem": e}));
            } else {
                println!("INVALID: {e}");
            }
            Ok(ExitCode::from(2))
        }
    }
}

/// `carnac verify`: the file hashed once with every algorithm its record needs, then every
/// chain and timestamp of the record checked.
fn verify_offline(
    file: &Path,
    evidence: &Path,
    trust_files: &[PathBuf],
    crl_files: &[PathBuf],
    json: bool,
) -> anyhow::Result<ExitCode> {
    use carnac_evidence::verify::{required_algorithms, verify_with_revocation};
    let mut crls = Vec::new();
    for f in crl_files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        crls.extend(
            carnac_timestamp::revocation::read_crls(&bytes)
                .with_context(|| format!("reading {}", f.display()))?,
        );
    }
    let der = std::fs::read(evidence).with_context(|| format!("reading {}", evidence.display()))?;
    let record = carnac_evidence::EvidenceRecord::from_der(&der)
        .with_context(|| format!("reading {}", evidence.display()))?;
    let trust = trust_store(trust_files)?;
    let algorithms = required_algorithms(&record);
    let model: Vec<carnac_model::DigestAlgorithm> = algorithms
        .iter()
        .map(|a| {
            carnac_model::DigestAlgorithm::from_seda_name(a.name()).ok_or_else(|| {
                anyhow::anyhow!(
                    "the record uses {}, which cannot be computed here",
                    a.name()
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let mut hasher = carnac_model::MultiHasher::new(&model);
    let mut input =
        std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut input, &mut buf)
            .with_context(|| format!("reading {}", file.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digests = hasher
        .finish()
        .into_iter()
        .filter_map(|d| {
            let a = algorithms
                .iter()
                .find(|a| a.name() == d.algorithm.seda_name())?;
            Some((*a, hex::decode(&d.hex).ok()?))
        })
        .collect();
    #[allow(clippy::disallowed_methods)] // Offline verification is against the real time.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let v = verify_with_revocation(
        &record,
        &digests,
        &trust,
        now,
        (!crl_files.is_empty()).then_some(&crls[..]),
    );
    if json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "valid": v.valid(),
                "stamps": v.stamps,
                "problems": v.problems,
                "renew_before": v.renew_before,
            }))?
        );
    } else {
        for s in &v.stamps {
            println!(
                "chain {} timestamp {}: {} {} by {}{} (certificate until {})",
                s.chain,
                s.index,
                s.algorithm,
                s.time,
                s.tsa,
                if s.builtin { ", not qualified" } else { "" },
                s.certificate_until
            );
            for r in &s.revocation {
                println!("  {r}");
            }
        }
        for p in &v.problems {
            println!("INVALID: {p}");
        }
        if crl_files.is_empty() {
            println!("no revocation data was given (--crl): revocation was not checked");
        }
        if trust_files.is_empty() {
            println!("no trust anchor was given (--trust): no timestamp can be trusted");
        }
        if v.valid() {
            println!(
                "VALID: {} existed unchanged at {}{}",
                file.display(),
                v.stamps.first().map_or("?", |s| s.time.as_str()),
                v.renew_before
                    .as_deref()
                    .map(|r| format!("; renew the record before {r}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::from(if v.valid() { 0 } else { 2 }))
}

fn renew_before(config: &config::Config) -> std::time::Duration {
    std::time::Duration::from_secs(config.timestamp.renew_before_days * 86_400)
}

/// The periodic duties of a running archive; failures are logged (and retried next time).
/// False when any failed.
/// One maintenance pass (`Archive::maintain`), said on stderr; false if a duty failed.
fn maintain(archive: &Archive, renew_before: std::time::Duration) -> bool {
    let m = archive.maintain(renew_before);
    for (tenant, duty) in &m.done {
        eprintln!("tenant {tenant}: {duty}");
    }
    for (tenant, what, e) in &m.failed {
        match tenant {
            Some(t) => tracing::error!(tenant = %t, error = %e, "{what}"),
            None => tracing::error!(error = %e, "{what}"),
        }
    }
    m.is_ok()
}

fn serve(
    archive: Archive,
    data: &Path,
    listen: &str,
    tls: Option<rustls::ServerConfig>,
    server: &config::Server,
    seal_interval: u64,
    renew_before: std::time::Duration,
) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = listen
        .parse()
        .with_context(|| format!("{listen:?} is not an address:port"))?;
    if !addr.ip().is_loopback() && tls.is_none() {
        bail!(
            "without TLS (server.tls_certificate and server.tls_key), carnac serve binds to loopback addresses only: API tokens must not cross a network in clear ({addr} is not loopback)"
        );
    }
    bootstrap_admin(&archive, data)?;
    let uploads = data.join("tmp");
    let archive = Arc::new(archive);
    let interval = std::time::Duration::from_secs(seal_interval);
    // Sealing (and, with it, the other periodic duties) at every interval, and at start,
    // until the stop (a seal in progress then finishes).
    let (stop_maintenance, stopped) = std::sync::mpsc::channel::<()>();
    let maintenance = {
        let archive = archive.clone();
        std::thread::Builder::new()
            .name("maintenance".into())
            .spawn(move || {
                loop {
                    maintain(&archive, renew_before);
                    if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) =
                        stopped.recv_timeout(interval)
                    {
                        break;
                    }
                }
            })?
    };
    let worker = Arc::new(
        carnac_archive::transfers::Worker::start(archive.clone())
            .context("starting the ingest worker")?,
    );
    let state = Arc::new(
        carnac_server::AppState::new(archive, uploads, worker.clone())
            .with_limits(server.limits())
            .with_asalae_base(server.asalae_base_path.clone()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        let stop = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            eprintln!("carnac: stopping: no new request; the ingest in progress finishes, queued transfers wait for the next start");
        };
        eprintln!(
            "carnac: serving on {}://{addr}{}",
            if tls.is_some() { "https" } else { "http" },
            if tls.is_some() { "" } else { " (loopback only without TLS)" }
        );
        carnac_server::serve(listener, state, tls, stop).await?;
        anyhow::Ok(())
    })?;
    // Requests are over, or were cut at the end of the grace period: the blocking work they
    // left (which gives up as it sees the stop) gets as long again; then the ingest in
    // progress ends, the queue stays for the next start.
    runtime.shutdown_timeout(server.limits().http.shutdown_grace);
    worker.finish();
    drop(worker);
    drop(stop_maintenance);
    if maintenance.join().is_err() {
        bail!("the maintenance thread panicked");
    }
    // The archive was theirs too: it is closed here, its catalog's log copied back.
    eprintln!("carnac: stopped");
    Ok(())
}

/// On first start (no account at all), an operator account `admin` and its API token, in
/// `<data>/admin-token`, readable by its owner only.
fn bootstrap_admin(archive: &Archive, data: &Path) -> anyhow::Result<()> {
    if !archive.accounts()?.is_empty() {
        return Ok(());
    }
    let path = data.join("admin-token");
    let mut secret = SecretFile::create(&path)?;
    let (_, token) = archive.create_account(
        &carnac_archive::accounts::NewAccount {
            login: "admin",
            role: carnac_model::access::Role::Operator,
            kind: carnac_model::access::AccountKind::Person,
            tenants: &[],
            password: None,
            token: true,
            certificate: None,
        },
        "system",
    )?;
    secret.write(token.as_deref().context("the first account got no token")?)?;
    eprintln!(
        "carnac: first start: operator account `admin` created; its API token is in {} (readable by you only)",
        path.display()
    );
    Ok(())
}

/// A progress bar on standard error, drawn only when it is a terminal.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new() -> Bar {
        Bar(std::io::stderr()
            .is_terminal()
            .then(indicatif::ProgressBar::hidden))
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        if let Some(b) = &self.0 {
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            b.set_length(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(what.to_owned());
        }
    }
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
