//! `carnac ingest`: one transfer, checked and archived, with its reply.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use carnac_archive::Archive;

use super::{Bar, tenant};

/// Exit 0 when the transfer is accepted (OK or WARNING), 2 when it is rejected.
pub(crate) fn run(
    archive: &Archive,
    t: &str,
    file: &Path,
    atr: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let t = tenant(t)?;
    let container =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let bar = Bar::new();
    let outcome = archive.ingest(&t, container, "cli", &bar)?;
    let op: carnac_model::OperationId = outcome.operation().parse()?;
    if let Some(path) = atr {
        let file =
            std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        archive.reply(&t, &op, &mut w)?;
        w.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        archive.write_ingest_json(&t, &outcome.summary, &mut out)?;
    } else if atr.is_none() {
        archive.reply(&t, &op, &mut out)?;
    }
    out.flush()?;
    if !json {
        eprintln!(
            "{}: {} (operation {})",
            file.display(),
            outcome.status(),
            outcome.operation()
        );
        for r in &outcome.summary.reasons {
            eprintln!("  {} {}.{}: {}", r.severity, r.step, r.code, r.message);
        }
    }
    Ok(ExitCode::from(if outcome.status().is_accepted() {
        0
    } else {
        2
    }))
}
