//! `carnac deliver`: communication of units, as a package, by the operator.

use std::path::Path;
use std::process::ExitCode;

use carnac_archive::Archive;
use carnac_archive::delivery::DeliveryRequest;

use super::tenant;

pub(crate) fn run(
    archive: &Archive,
    t: &str,
    units: Vec<String>,
    out: &Path,
    requester: String,
    comment: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let t = tenant(t)?;
    let delivery = archive.deliver_to_file(
        &t,
        &DeliveryRequest {
            units,
            requester,
            comment,
        },
        "cli",
        out,
    )?;
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
