//! `carnac catalog migrate`: the embedded catalog copied into PostgreSQL and checked.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::args::CatalogCommand;
use crate::{config, setup};

pub(crate) fn run(data: &Path, command: &CatalogCommand) -> anyhow::Result<ExitCode> {
    let CatalogCommand::Migrate {
        to,
        password_file,
        schema,
        tls,
        tls_trust,
    } = command;
    // The archive stopped: nothing writes the embedded catalog while it is copied.
    let _lock = setup::lock(data)?;
    let config = config::Config::load(data)?;
    if config.catalog.url.is_some() {
        bail!("this archive's catalog is already PostgreSQL ([catalog] url in carnac.toml)");
    }
    let source = data.join("catalog.sqlite");
    if !source.is_file() {
        bail!("{} holds no catalog to move", data.display());
    }
    // Files named on the command line are the caller's, not the data folder's.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let target = config::CatalogConfig {
        url: Some(to.clone()),
        password_file: password_file.as_deref().map(absolute),
        schema: schema.clone(),
        pool_size: Some(2),
        tls: *tls,
        tls_trust: tls_trust.iter().map(|p| absolute(p)).collect(),
    }
    .postgres(data)?
    .context("a PostgreSQL catalog")?;
    let catalog = carnac_catalog_postgres::PostgresCatalog::open(&target)
        .with_context(|| format!("opening the catalog at {to}"))?;
    let spinner = std::io::IsTerminal::is_terminal(&std::io::stderr())
        .then(indicatif::ProgressBar::new_spinner);
    let report = catalog
        .import_sqlite(&source, &mut |table, rows| {
            if let Some(s) = &spinner {
                s.set_message(format!("{table}: {rows} rows"));
                s.tick();
            }
        })
        .context("copying the catalog")?;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    for (table, rows) in &report.tables {
        println!("{table}\t{rows}");
    }
    for (tenant, events, seals) in &report.journals {
        println!("journal of {tenant}: {events} events, {seals} seals, chain whole");
    }
    println!(
        "catalog copied to {to} (schema {}) and checked. To use it, add to {}:\n\n\
         [catalog]\nurl = \"{to}\"{}",
        catalog.schema(),
        data.join("carnac.toml").display(),
        if schema.is_some() {
            format!("\nschema = \"{}\"", catalog.schema())
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
