//! `carnac elimination`: the operator's view of eliminations, and their execution.

use std::process::ExitCode;

use anyhow::Context;
use carnac_archive::Archive;
use carnac_archive::elimination::EliminationReport;
use carnac_model::OperationId;

use super::tenant;
use crate::args::EliminationCommand;

pub(crate) fn print(report: &EliminationReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!(
        "{} {} ({}), at {}, proposed by {} on {}",
        report.kind.noun(),
        report.id,
        report.state.as_str(),
        report.at,
        report.proposed_by,
        report.proposed_at
    );
    for s in &report.steps {
        println!(
            "  {} by {} on {}{}",
            s["step"].as_str().unwrap_or("?"),
            s["author"].as_str().unwrap_or("?"),
            s["at"].as_str().unwrap_or("?"),
            s["decision"]
                .as_str()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    for u in &report.units {
        println!(
            "  {} {} {}{}",
            u.status.as_str(),
            u.id,
            u.record["title"].as_str().unwrap_or(""),
            u.reason
                .as_ref()
                .and_then(|r| r["description"].as_str())
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
    }
    for u in &report.excluded {
        println!(
            "  excluded {}: {}",
            u.id,
            u.reason
                .as_ref()
                .and_then(|r| r["description"].as_str())
                .unwrap_or("")
        );
    }
    Ok(())
}

pub(crate) fn run(archive: &Archive, command: EliminationCommand) -> anyhow::Result<ExitCode> {
    let id = |s: &str| -> anyhow::Result<OperationId> {
        OperationId::new(s).with_context(|| format!("{s:?} is not an elimination id"))
    };
    match command {
        EliminationCommand::List { tenant: t, json } => {
            let rows = archive.eliminations(&tenant(&t)?)?;
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
                        "{}\t{}\t{}\t{} unit(s)\t{}",
                        r.id,
                        r.state.as_str(),
                        r.at,
                        r.totals["units"],
                        r.proposed_by
                    );
                }
            }
        }
        EliminationCommand::Certificate {
            tenant: t,
            id: e,
            out,
        } => {
            use carnac_archive::elimination::{
                CERTIFICATE_JSON, CERTIFICATE_P7S, NOTIFICATION_XML, SIGNER_PEM,
            };
            let (t, e) = (tenant(&t)?, id(&e)?);
            std::fs::create_dir_all(&out)?;
            for name in [
                CERTIFICATE_JSON,
                CERTIFICATE_P7S,
                SIGNER_PEM,
                NOTIFICATION_XML,
            ] {
                archive.save_elimination_document(&t, &e, name, &out.join(name))?;
                println!("{}", out.join(name).display());
            }
        }
        EliminationCommand::Show {
            tenant: t,
            id: e,
            json,
        } => print(&archive.elimination_report(&tenant(&t)?, &id(&e)?)?, json)?,
        EliminationCommand::Execute {
            tenant: t,
            id: e,
            json,
        } => {
            // Units, not bytes: a bar of its own, drawn only on a terminal.
            use std::io::IsTerminal;
            let bar = std::io::stderr().is_terminal().then(|| {
                indicatif::ProgressBar::new(0).with_style(
                    indicatif::ProgressStyle::with_template(
                        "destroying [{bar:40}] {pos}/{len} units {per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                )
            });
            let report =
                archive.execute_elimination_with(&tenant(&t)?, &id(&e)?, "cli", &mut |p| {
                    if let Some(b) = &bar {
                        b.set_length(p.total);
                        b.set_position(p.destroyed);
                    }
                });
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            print(&report?, json)?
        }
    }
    Ok(ExitCode::SUCCESS)
}
