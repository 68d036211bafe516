//! The carnac binary: thin glue that parses arguments and wires the archive together.
//!
//! Exit codes are a contract with outside scripts: `ingest` exits 0 when the transfer is
//! accepted (OK or WARNING), 2 when it is rejected, 1 when the command could not run;
//! `journal verify` and `check` exit 2 when they find damage; every other command exits 0 on
//! success and 1 on failure.
mod args;
mod config;
mod serve;
mod setup;
mod verify;

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

use args::*;
use serve::*;
use setup::*;
use verify::*;

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

type Authority = Arc<dyn carnac_archive::timestamping::TimestampAuthority>;

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
