//! `carnac evidence`: evidence records made, renewed, exported, and reports on units.

use std::process::ExitCode;
use std::time::Duration;

use carnac_archive::Archive;

use super::{tenant, tenant_or_all};
use crate::args::EvidenceCommand;

pub(crate) fn run(
    archive: &Archive,
    command: EvidenceCommand,
    renew_before: Duration,
) -> anyhow::Result<ExitCode> {
    match command {
        EvidenceCommand::Export {
            tenant: t,
            object,
            out,
            bundle,
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
        EvidenceCommand::Report {
            tenant: t,
            unit,
            out,
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
        EvidenceCommand::Renew { tenant: t, hash } => {
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
                None => archive.renew_timestamps(&t, renew_before, true, "cli")?,
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
        EvidenceCommand::Create { tenant: t } => {
            for t in &tenant_or_all(archive, t)? {
                for b in archive.create_evidence(t, "cli")? {
                    println!(
                        "tenant {t}: {} files under one {} timestamp, {} by {} (operation {})",
                        b.leaves, b.algorithm, b.stamped_at, b.tsa, b.operation
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
