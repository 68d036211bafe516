//! One module per command family. Each takes the parsed arguments and the open archive,
//! prints what a person at a terminal needs, and returns the exit code of the contract.

pub(crate) mod account;
pub(crate) mod attestation;
pub(crate) mod catalog;
pub(crate) mod deliver;
pub(crate) mod elimination;
pub(crate) mod evidence;
pub(crate) mod ingest;
pub(crate) mod integrity;
pub(crate) mod journal;
pub(crate) mod referential;
pub(crate) mod rules;
pub(crate) mod serve;
pub(crate) mod tenant;
pub(crate) mod transfer_out;
pub(crate) mod verify;

use anyhow::{Context, bail};
use carnac_archive::Archive;
use carnac_archive::ports::Progress;
use carnac_model::TenantId;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::args::Command;

/// The commands that need nothing but exported files and trust anchors: they run without
/// opening (or locking) a data folder. None for every other command.
pub(crate) fn offline(command: &Command) -> Option<anyhow::Result<ExitCode>> {
    match command {
        Command::Verify {
            file,
            evidence,
            trust,
            crl,
            json,
        } => Some(verify::verify_offline(file, evidence, trust, crl, *json)),
        Command::Attestation { command } => attestation::offline(command),
        Command::Journal { command } => journal::offline(command),
        Command::Tenant { command } => tenant::offline(command),
        _ => None,
    }
}

/// The one certificate of a PEM file, DER.
pub(crate) fn read_certificate(path: &Path) -> anyhow::Result<Vec<u8>> {
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
pub(crate) fn read_password(path: &Path) -> anyhow::Result<String> {
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
pub(crate) fn tenant_or_all(
    archive: &Archive,
    id: Option<String>,
) -> anyhow::Result<Vec<TenantId>> {
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

pub(crate) fn tenant(id: &str) -> anyhow::Result<TenantId> {
    TenantId::new(id).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A progress bar on standard error, drawn only when it is a terminal.
pub(crate) struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub(crate) fn new() -> Bar {
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
