//! `carnac deliver`: communication of units, as a package, by the operator.

use std::path::Path;

use anyhow::Context;
use std::process::ExitCode;

use carnac_archive::Archive;
use carnac_archive::delivery::DeliveryRequest;

use super::tenant;

/// What the command line asks for.
pub(crate) struct Asked {
    pub(crate) units: Vec<String>,
    pub(crate) requester: String,
    pub(crate) comment: Option<String>,
    pub(crate) request_id: Option<String>,
}

pub(crate) fn run(
    archive: &Archive,
    t: &str,
    asked: Asked,
    out: &Path,
    reply: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let t = tenant(t)?;
    if let Some(r) = reply
        && r.exists()
    {
        anyhow::bail!(
            "{} exists: the answer is written to a new file",
            r.display()
        );
    }
    let delivery = archive.deliver_to_file(
        &t,
        &DeliveryRequest {
            units: asked.units,
            requester: asked.requester,
            comment: asked.comment,
            request_identifier: asked.request_id,
            derogation: false,
        },
        "cli",
        out,
    )?;
    if let Some(r) = reply {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(r)
            .and_then(|mut f| f.write_all(&delivery.reply))
            .with_context(|| format!("writing the answer to {}", r.display()))?;
    }
    let p = &delivery.package;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "operation": delivery.operation,
                "units": p.units,
                "files": p.files,
                "bytes": p.bytes,
                "manifest_sha256": p.manifest_sha256,
                "damaged_copies": p.damaged_copies,
                "out": out,
            }))?
        );
    } else {
        println!(
            "delivered {} unit(s), {} file(s), {} bytes to {} (operation {})",
            p.units,
            p.files,
            p.bytes,
            out.display(),
            delivery.operation
        );
        for d in &p.damaged_copies {
            eprintln!("warning: damaged copy left out, another offer's delivered: {d}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
