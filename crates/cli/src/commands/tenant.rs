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
    }
    Ok(ExitCode::SUCCESS)
}
