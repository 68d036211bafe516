//! `carnac tenant`: the member authorities, each a separate archive.

use std::process::ExitCode;

use carnac_archive::Archive;

use super::tenant;
use crate::args::TenantCommand;

pub(crate) fn run(archive: &Archive, command: TenantCommand) -> anyhow::Result<ExitCode> {
    match command {
        TenantCommand::Create { id, name } => {
            let t = tenant(&id)?;
            let op = archive.create_tenant(&t, name.as_deref().unwrap_or(&id), "cli")?;
            println!("tenant {t} created (operation {op})");
        }
        TenantCommand::List => {
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
        TenantCommand::Suspend { id } => {
            archive.suspend_tenant(&tenant(&id)?, true, "cli")?;
            println!("tenant {id} suspended");
        }
        TenantCommand::Resume { id } => {
            archive.suspend_tenant(&tenant(&id)?, false, "cli")?;
            println!("tenant {id} resumed");
        }
        TenantCommand::Export {
            tenant: t,
            out,
            units_per_package,
            json,
        } => {
            use std::io::IsTerminal;
            let bar = std::io::stderr().is_terminal().then(|| {
                indicatif::ProgressBar::new(0).with_style(
                    indicatif::ProgressStyle::with_template(
                        "exporting [{bar:40}] {pos}/{len} transfers {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                )
            });
            let export =
                archive.export_tenant(&tenant(&t)?, &out, units_per_package, "cli", &mut |p| {
                    if let Some(b) = &bar {
                        b.set_length(p.total);
                        b.set_position(p.transfers);
                    }
                });
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let export = export?;
            if json {
                println!("{}", serde_json::to_string_pretty(&export)?);
            } else {
                println!(
                    "tenant {t} exported to {}: {} transfers, {} packages, {} units, {} files, {} tombstones, {} journal events; manifest SHA-256 {}",
                    out.display(),
                    export.transfers,
                    export.packages,
                    export.units,
                    export.files,
                    export.tombstones,
                    export.journal_events,
                    export.manifest_sha256
                );
                if !export.attestations_pending.is_empty() {
                    println!(
                        "deposit attestations not made yet (run `carnac maintain`, then export again): {}",
                        export
                            .attestations_pending
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
        TenantCommand::Close {
            tenant: t,
            export,
            json,
        } => {
            use carnac_archive::elimination::ClosureProgress;
            use std::io::IsTerminal;
            let bar = std::io::stderr().is_terminal().then(|| {
                indicatif::ProgressBar::new(0).with_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:40}] {pos}/{len} units {per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                )
            });
            let closed = archive.close_tenant_with(&tenant(&t)?, &export, "cli", &mut |p| {
                if let Some(b) = &bar {
                    let (phase, done, total) = match p {
                        ClosureProgress::Listing { units, total } => ("listing", units, total),
                        ClosureProgress::Destroying(p) => ("destroying", p.destroyed, p.total),
                    };
                    if b.message() != phase {
                        b.set_message(phase);
                        b.reset();
                    }
                    b.set_length(total);
                    b.set_position(done);
                }
            });
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let closed = closed?;
            // The closure without its units: the certificate lists them, a tenant's worth.
            let summary = serde_json::json!({
                "id": closed.id,
                "kind": closed.kind.as_str(),
                "state": closed.state.as_str(),
                "at": closed.at,
                "proposed_by": closed.proposed_by,
                "proposed_at": closed.proposed_at,
                "steps": closed.steps,
                "totals": closed.totals,
                "execution": closed.execution,
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!(
                    "{} {} ({}): {} units, every copy destroyed; its certificate: carnac elimination certificate --tenant {t} {} --out DIR",
                    closed.kind.noun(),
                    closed.id,
                    closed.state.as_str(),
                    closed.totals["units"],
                    closed.id
                );
                for s in &closed.steps {
                    println!(
                        "  {} by {} on {}",
                        s["step"].as_str().unwrap_or("?"),
                        s["author"].as_str().unwrap_or("?"),
                        s["at"].as_str().unwrap_or("?"),
                    );
                }
            }
        }
        TenantCommand::VerifyExport { .. } => {
            unreachable!("verified offline, without a data folder")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `carnac tenant verify-export`: with the export's files alone.
pub(crate) fn offline(command: &TenantCommand) -> Option<anyhow::Result<ExitCode>> {
    let TenantCommand::VerifyExport { dir, trust } = command else {
        return None;
    };
    Some((|| {
        let files = if trust.is_empty() {
            vec![dir.join("trust.pem")]
        } else {
            trust.clone()
        };
        let store = super::verify::trust_store(&files)?;
        let (digest, problems) = carnac_archive::export::verify_tenant_export(dir, &store)?;
        if problems.is_empty() {
            println!(
                "export {} is whole: manifest SHA-256 {digest}, timestamp verified",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        } else {
            for p in &problems {
                println!("{p}");
            }
            println!("export {}: {} problem(s)", dir.display(), problems.len());
            Ok(ExitCode::from(2))
        }
    })())
}
