//! `carnac referential`: the tenant's rules, agencies, formats, profiles and contracts.

use std::process::ExitCode;

use carnac_archive::Archive;

use super::tenant;
use crate::args::ReferentialCommand;

pub(crate) fn run(archive: &Archive, command: ReferentialCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReferentialCommand::Import { tenant: t, dir } => {
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
    }
    Ok(ExitCode::SUCCESS)
}
