//! A valid 200 MB manifest (100,000 units) is ingested in memory that does not depend on the
//! manifest's size: the manifest streams through the XSD validator and the reader, each
//! unit's metadata is spooled to disk and streamed into the catalog, and so is the reply
//! (about 50 MB here). What stays in memory is the structure of the package: identifiers,
//! references, digests and formats, about 3 KB per unit and object. The test proves the
//! first point by ingesting the same 100,000 units with almost no metadata first: the
//! 200 MB manifest may not cost more than a few MB beyond it. The budget guards the second.
//! (Memory flat in the number of units too would need that structure on disk: see
//! ARCHITECTURE.md, "Known limits".)

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;

/// Peak resident set of the largest child process waited for so far, in bytes.
#[allow(unsafe_code)] // getrusage: no safe wrapper in the crates we use.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0);
    usage.ru_maxrss as u64 * 1024
}

fn manifest_size(sip: &std::path::Path) -> u64 {
    let mut z = zip::ZipArchive::new(std::fs::File::open(sip).unwrap()).unwrap();
    z.by_name("manifest.xml").unwrap().size()
}

fn ingest(data: &std::path::Path, sip: &std::path::Path) {
    let out = run(
        data,
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["units"], 100_001);
    assert_eq!(summary["objects"].as_array().unwrap().len(), 100_000);
}

#[test]
fn a_200_mb_manifest_in_bounded_memory() {
    const UNITS: u64 = 100_001;
    let data = data_with_tenant();
    // The same 100,000 units and files, first with 10 bytes of description each…
    let lean = data.path().join("lean.zip");
    write_sip(&lean, 100_000, |_| 16, 10);
    ingest(data.path(), &lean);
    let lean_peak = children_peak_rss();
    std::fs::remove_file(&lean).unwrap();
    // …then with 1,750 bytes each: a manifest of more than 200 MB.
    let large = data.path().join("large.zip");
    write_sip(&large, 100_000, |_| 16, 1_750);
    let size = manifest_size(&large);
    assert!(size > 200_000_000, "manifest of {size} bytes");
    ingest(data.path(), &large);
    // The children's peak is the larger of the two ingests.
    let peak = children_peak_rss();
    eprintln!(
        "100,001 units: peak RSS of carnac ingest {:.0} MB with a {:.0} MB manifest, {:.0} MB with almost no metadata",
        peak as f64 / 1e6,
        size as f64 / 1e6,
        lean_peak as f64 / 1e6
    );
    assert!(
        peak < lean_peak + (16 << 20),
        "200 MB of metadata cost {} MB of memory",
        (peak - lean_peak) >> 20
    );
    let budget = (64 << 20) + 3 * 1024 * UNITS;
    assert!(
        peak < budget,
        "peak RSS {peak} bytes, over the budget of {budget} for {UNITS} units"
    );
}
