//! The carnac binary: thin glue that parses arguments, opens the archive of a data folder
//! and hands each command to its module in `commands/`.
//!
//! Exit codes are a contract with outside scripts: `ingest` exits 0 when the transfer is
//! accepted (OK or WARNING), 2 when it is rejected, 1 when the command could not run;
//! `journal verify`, `verify`, `attestation verify`, `audit` and `check` exit 2 when they
//! find damage; every other command exits 0 on success and 1 on failure.
mod args;
mod commands;
mod config;
mod setup;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve { .. });
    let default_level = if serving { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, plain text for a log file or a journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("carnac: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Verifications of exported files touch (and lock) no data folder.
    if let Some(done) = commands::offline(&cli.command) {
        return done;
    }
    // Moving the catalog opens no archive: it needs the embedded catalog alone.
    if let Command::Catalog { command } = &cli.command {
        return commands::catalog::run(&cli.data, command);
    }
    let (archive, config, _lock) = setup::open_archive(&cli.data)?;
    let renew_before = setup::renew_before(&config);
    use commands::*;
    match cli.command {
        Command::Tenant { command } => tenant::run(&archive, command),
        Command::Account { command } => account::run(&archive, command),
        Command::Referential { command } => referential::run(&archive, command),
        Command::Rules { command } => rules::run(&archive, command),
        Command::Elimination { command } => elimination::run(&archive, command),
        Command::TransferOut { command } => transfer_out::run(&archive, command),
        Command::Restitution { command } => transfer_out::run_restitution(&archive, command),
        Command::Deliver {
            tenant: t,
            unit,
            out,
            requester,
            comment,
            request_id,
            reply,
            json,
        } => deliver::run(
            &archive,
            &t,
            deliver::Asked {
                units: unit,
                requester,
                comment,
                request_id,
            },
            &out,
            reply.as_deref(),
            json,
        ),
        Command::Ingest {
            tenant: t,
            file,
            atr,
            json,
        } => ingest::run(&archive, &t, &file, atr.as_deref(), json),
        Command::Serve { listen } => serve::run(archive, &cli.data, &config, listen),
        Command::Maintain => Ok(serve::maintain_once(&archive, &config)),
        Command::Seal { tenant: t } => journal::seal(&archive, t),
        Command::Journal { command } => journal::run(&archive, command),
        Command::Evidence { command } => evidence::run(&archive, command, renew_before),
        Command::Attestation { command } => attestation::run(&archive, command),
        Command::Audit { tenant: t, json } => integrity::audit(&archive, &t, json),
        Command::Check { digests } => integrity::check(&archive, digests),
        Command::Offers {
            command: args::OffersCommand::Sync { offer, json },
        } => integrity::sync_offer(&archive, &offer, json),
        Command::Offers {
            command: args::OffersCommand::Remove { offer, json },
        } => integrity::remove_offer(&archive, &offer, json),
        Command::Catalog { .. } => unreachable!("handled before the archive is opened"),
        Command::Lifecycle {
            tenant: t,
            subject,
            json,
        } => integrity::lifecycle(&archive, &t, &subject, json),
        Command::Verify {
            file,
            evidence,
            trust,
            crl,
            json,
        } => verify::verify_offline(&file, &evidence, &trust, &crl, json),
    }
}
