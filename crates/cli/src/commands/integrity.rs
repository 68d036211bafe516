//! `carnac audit`, `carnac check` and `carnac lifecycle`: what the archive holds, read back
//! and compared with what it says it holds.

use std::process::ExitCode;

use carnac_archive::Archive;

use super::{Bar, tenant};

/// Exit 2 when a copy is damaged or a file has no good copy left.
pub(crate) fn audit(archive: &Archive, t: &str, json: bool) -> anyhow::Result<ExitCode> {
    let t = tenant(t)?;
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
    Ok(if report.intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Fills an offer with what it lacks; exit 2 when some file has no good copy to copy from.
pub(crate) fn sync_offer(archive: &Archive, offer: &str, json: bool) -> anyhow::Result<ExitCode> {
    let bar = Bar::new();
    let report = archive.sync_offer(offer, "cli", &bar)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for b in &report.bad_sources {
            println!("SET ASIDE {b}");
        }
        for f in &report.failed {
            println!("NOT COPIED {f}: no good copy in another offer");
        }
        println!(
            "offer {}: {} files copied ({} bytes), {} already there, {} not copied",
            report.offer,
            report.copied,
            report.bytes,
            report.present,
            report.failed.len()
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub(crate) fn remove_offer(archive: &Archive, offer: &str, json: bool) -> anyhow::Result<ExitCode> {
    let report = archive.remove_offer(offer, "cli")?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for (tenant, copies, operation) in &report.tenants {
            println!("tenant {tenant}: {copies} copies forgotten (operation {operation})");
        }
        println!(
            "offer {offer} removed from the archive: remove its [[storage.offer]] from carnac.toml; its files are yours to decommission"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Exit 2 when the catalog and the offers disagree.
pub(crate) fn check(archive: &Archive, digests: bool) -> anyhow::Result<ExitCode> {
    let problems = archive.check_consistency(digests)?;
    for p in &problems {
        println!("{p}");
    }
    if !problems.is_empty() {
        return Ok(ExitCode::from(2));
    }
    println!("consistent");
    Ok(ExitCode::SUCCESS)
}

/// A unit's or an object's events, each with the seal that covers it.
pub(crate) fn lifecycle(
    archive: &Archive,
    t: &str,
    subject: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let t = tenant(t)?;
    let l = archive.lifecycle(&t, subject, &carnac_archive::report::JournalPage::all())?;
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
    Ok(ExitCode::SUCCESS)
}
