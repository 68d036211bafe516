//! `carnac rules`: the management rules of archive units, changed after ingest.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use carnac_archive::Archive;
use carnac_archive::rules::RulesChangeRequest;

use super::tenant;
use crate::args::RulesCommand;

/// A change file larger than this is not a list of changes (the API takes 2 MiB).
const MAX_CHANGE_FILE: u64 = 16 << 20;

pub(crate) fn run(archive: &Archive, command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Change {
            tenant: t,
            file,
            dry_run,
            json,
        } => {
            let t = tenant(&t)?;
            let mut text = Vec::new();
            std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?
                .take(MAX_CHANGE_FILE + 1)
                .read_to_end(&mut text)
                .with_context(|| format!("reading {}", file.display()))?;
            if text.len() as u64 > MAX_CHANGE_FILE {
                anyhow::bail!(
                    "{} is larger than {} MiB: split the change",
                    file.display(),
                    MAX_CHANGE_FILE >> 20
                );
            }
            let mut request: RulesChangeRequest = serde_json::from_slice(&text)
                .with_context(|| format!("{} is not a rule change", file.display()))?;
            request.dry_run |= dry_run;
            let report = archive.change_rules(&t, &request, "cli")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(ExitCode::SUCCESS);
            }
            let verb = if report.dry_run {
                "would change"
            } else {
                "changed"
            };
            for u in &report.changed {
                for c in &u.changes {
                    println!(
                        "{} {verb}: {} {}{} ({} -> {})",
                        u.id,
                        c.action,
                        c.category.as_str(),
                        c.rule
                            .as_deref()
                            .map(|r| format!(" {r}"))
                            .unwrap_or_default(),
                        c.before,
                        c.after
                    );
                }
            }
            for u in &report.unchanged {
                println!("{} unchanged: {}", u.id, u.reasons.join("; "));
            }
            match &report.operation {
                Some(op) => println!(
                    "operation {op}: {} unit(s) changed, {} unchanged",
                    report.changed.len(),
                    report.unchanged.len()
                ),
                None if report.dry_run => println!(
                    "dry run: {} unit(s) would change, {} would not; nothing was changed",
                    report.changed.len(),
                    report.unchanged.len()
                ),
                None => println!("nothing changed"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
