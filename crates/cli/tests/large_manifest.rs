//! A valid 200 MB manifest (100,000 units) is ingested in memory that does not depend on the
//! manifest's size: the manifest streams through the XSD validator and the reader, each
//! unit's metadata is spooled to disk. What stays in memory is a few kilobytes of structure
//! per unit and per object (identifiers, references, digests); the budget below guards it
//! against regressions. Flat memory whatever the number of units needs that structure on
//! disk too (noted on the issue as remaining work).

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

#[test]
fn a_200_mb_manifest_in_bounded_memory() {
    let data = data_with_tenant();
    let sip = data.path().join("large.zip");
    // 100,000 units of about 2 KB of metadata each; one small file each.
    write_sip(&sip, 100_000, |_| 16, 1_750);
    let manifest_size = {
        let mut z = zip::ZipArchive::new(std::fs::File::open(&sip).unwrap()).unwrap();
        z.by_name("manifest.xml").unwrap().size()
    };
    assert!(
        manifest_size > 200_000_000,
        "manifest of {manifest_size} bytes"
    );

    let out = run(
        data.path(),
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
    let peak = children_peak_rss();
    eprintln!(
        "large manifest: {:.0} MB manifest, 100,001 units, peak RSS of carnac ingest {:.0} MB",
        manifest_size as f64 / 1e6,
        peak as f64 / 1e6
    );
    let budget = (64 << 20) + 6 * 1024 * 100_001;
    assert!(
        peak < budget,
        "peak RSS {peak} bytes, over the budget of {budget} for 100,001 units"
    );
}
