//! `carnac transfer-out` and `carnac restitution`: records going to the definitive
//! archives, or back to their producer, from the machine.

use std::process::ExitCode;

use anyhow::Context;
use carnac_archive::Archive;
use carnac_archive::elimination::{RestitutionRequest, TransferOutRequest};
use carnac_model::OperationId;
use carnac_model::elimination::DisposalKind;

use super::{elimination, tenant};
use crate::args::{RestitutionCommand, TransferOutCommand};

/// Writes the package kept for `id`, verified on the way, to a new file.
fn write_package(
    archive: &Archive,
    kind: DisposalKind,
    t: &carnac_model::TenantId,
    id: &OperationId,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let (mut download, _) = archive.open_outgoing_package(kind, t, id, |_| None)?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("a file in {}", dir.display()))?;
    std::io::copy(&mut download.reader, &mut file)
        .context("writing the package (it is kept; `GET …/package` serves it too)")?;
    file.as_file().sync_all()?;
    file.persist_noclobber(out)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// Reads a message of the receiver, one byte past the largest accepted (refused by size).
fn read_message(file: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut bytes = Vec::new();
    f.take(carnac_archive::elimination::MAX_REPLY_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", file.display()))?;
    Ok(bytes)
}

fn list(
    archive: &Archive,
    kind: DisposalKind,
    t: &carnac_model::TenantId,
    json: bool,
) -> anyhow::Result<()> {
    let rows = archive.outgoing_list(kind, t)?;
    if json {
        let list: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "state": r.state.as_str(), "at": r.at,
                    "proposed_by": r.proposed_by, "proposed_at": r.proposed_at,
                    "totals": r.totals,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for r in rows {
            println!(
                "{}\t{}\t{}\t{} unit(s)\tto {}",
                r.id,
                r.state.as_str(),
                r.at,
                r.totals["units"],
                r.totals["archival_agency"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

pub(crate) fn run_restitution(
    archive: &Archive,
    command: RestitutionCommand,
) -> anyhow::Result<ExitCode> {
    let kind = DisposalKind::Restitution;
    let id = |s: &str| -> anyhow::Result<OperationId> {
        OperationId::new(s).with_context(|| format!("{s:?} is not a restitution id"))
    };
    match command {
        RestitutionCommand::Send {
            tenant: t,
            unit,
            originating_agency,
            comment,
            out,
            json,
        } => {
            let t = tenant(&t)?;
            if out.exists() {
                anyhow::bail!(
                    "{} exists: the package is written to a new file",
                    out.display()
                );
            }
            let report = archive.propose_restitution(
                &t,
                &RestitutionRequest {
                    units: unit,
                    originating_agency,
                    comment,
                    ..Default::default()
                },
                "cli",
            )?;
            write_package(archive, kind, &t, &report.id, &out)?;
            elimination::print(&report, json)?;
        }
        RestitutionCommand::Reply {
            tenant: t,
            id: i,
            file,
            json,
        } => {
            let bytes = read_message(&file)?;
            let report = archive.outgoing_message(kind, &tenant(&t)?, &id(&i)?, &bytes, "cli")?;
            elimination::print(&report, json)?;
        }
        RestitutionCommand::List { tenant: t, json } => list(archive, kind, &tenant(&t)?, json)?,
        RestitutionCommand::Show {
            tenant: t,
            id: i,
            json,
        } => elimination::print(&archive.outgoing(kind, &tenant(&t)?, &id(&i)?)?, json)?,
        RestitutionCommand::Withdraw {
            tenant: t,
            id: i,
            comment,
            json,
        } => elimination::print(
            &archive.withdraw_outgoing(kind, &tenant(&t)?, &id(&i)?, comment.as_deref(), "cli")?,
            json,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(archive: &Archive, command: TransferOutCommand) -> anyhow::Result<ExitCode> {
    let id = |s: &str| -> anyhow::Result<OperationId> {
        OperationId::new(s).with_context(|| format!("{s:?} is not a transfer out id"))
    };
    match command {
        TransferOutCommand::Send {
            tenant: t,
            unit,
            archival_agency,
            archival_agreement,
            comment,
            out,
            json,
        } => {
            let t = tenant(&t)?;
            if out.exists() {
                anyhow::bail!(
                    "{} exists: the package is written to a new file",
                    out.display()
                );
            }
            let report = archive.propose_transfer_out(
                &t,
                &TransferOutRequest {
                    units: unit,
                    archival_agency,
                    archival_agreement,
                    comment,
                    ..Default::default()
                },
                "cli",
            )?;
            write_package(archive, DisposalKind::TransferOut, &t, &report.id, &out)?;
            elimination::print(&report, json)?;
        }
        TransferOutCommand::Reply {
            tenant: t,
            id: i,
            file,
            json,
        } => {
            let bytes = read_message(&file)?;
            let report = archive.transfer_out_message(&tenant(&t)?, &id(&i)?, &bytes, "cli")?;
            elimination::print(&report, json)?;
        }
        TransferOutCommand::List { tenant: t, json } => {
            list(archive, DisposalKind::TransferOut, &tenant(&t)?, json)?
        }
        TransferOutCommand::Show {
            tenant: t,
            id: i,
            json,
        } => elimination::print(&archive.transfer_out(&tenant(&t)?, &id(&i)?)?, json)?,
        TransferOutCommand::Withdraw {
            tenant: t,
            id: i,
            comment,
            json,
        } => elimination::print(
            &archive.withdraw_transfer_out(&tenant(&t)?, &id(&i)?, comment.as_deref(), "cli")?,
            json,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
