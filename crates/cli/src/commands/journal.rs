//! `carnac journal` and `carnac seal`: the sealed hash chain, exported, proved, verified,
//! with or without the catalog.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use carnac_archive::Archive;

use super::verify::{rebuild_from_offer, verify_journal_offline};
use super::{tenant, tenant_or_all};
use crate::args::JournalCommand;

/// The forms that read exported files or one offer's copies, never the data folder.
pub(crate) fn offline(command: &JournalCommand) -> Option<anyhow::Result<ExitCode>> {
    match command {
        JournalCommand::Verify {
            export,
            proof,
            trust,
            json,
            ..
        } if export.is_some() || proof.is_some() => Some(verify_journal_offline(
            export.as_deref(),
            proof.as_deref(),
            trust,
            *json,
            None,
        )),
        JournalCommand::Verify {
            offer: Some(offer),
            tenant: Some(t),
            trust,
            json,
            ..
        } => Some(verify_offer(offer, t, trust, *json)),
        JournalCommand::Export {
            offer: Some(offer),
            tenant: t,
            out,
            trust,
        } => Some(export_offer(offer, t, trust, out)),
        _ => None,
    }
}

/// Exit 2 when the journal is broken.
pub(crate) fn run(archive: &Archive, command: JournalCommand) -> anyhow::Result<ExitCode> {
    if let Some(done) = offline(&command) {
        return done;
    }
    match command {
        JournalCommand::Export { tenant: t, out, .. } => {
            let t = tenant(&t)?;
            let e = archive.export_journal(&t, &out, "cli")?;
            println!(
                "{}: journal of tenant {t}, {} events, {} seals",
                out.display(),
                e.events,
                e.seals
            );
        }
        JournalCommand::Prove {
            tenant: t,
            event,
            out,
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
        JournalCommand::Verify {
            tenant: t, json, ..
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
    }
    Ok(ExitCode::SUCCESS)
}

/// `carnac seal`: the events not sealed yet, of one tenant or every tenant.
pub(crate) fn seal(archive: &Archive, t: Option<String>) -> anyhow::Result<ExitCode> {
    for t in &tenant_or_all(archive, t)? {
        match archive.seal(t, "cli")? {
            Some(s) => println!(
                "tenant {t}: events {} to {} sealed, {} by {} (operation {})",
                s.first, s.last, s.stamped_at, s.tsa, s.operation
            ),
            None => println!("tenant {t}: nothing to seal"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_offer(offer: &Path, t: &str, trust: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let work = tempfile::tempdir().context("making a scratch folder")?;
    let rebuilt = rebuild_from_offer(offer, t, trust, work.path())?;
    let shown = format!("tenant {t} in {}", offer.display());
    let mut result = verify_journal_offline(Some(work.path()), None, trust, json, Some(&shown))?;
    for p in &rebuilt.problems {
        println!("{} event {}: {}", p.code, p.sequence, p.message);
    }
    if !rebuilt.problems.is_empty() {
        result = ExitCode::from(2);
    }
    Ok(result)
}

fn export_offer(offer: &Path, t: &str, trust: &[PathBuf], out: &Path) -> anyhow::Result<ExitCode> {
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
    Ok(if rebuilt.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
