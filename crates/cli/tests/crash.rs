//! A `carnac ingest` killed at random instants (SIGKILL, 50 times while it runs): after each
//! restart the catalog and both offers agree, no orphan or temporary file survives, and every
//! accepted transfer is whole (every copy re-hashed). On the embedded engines, and on a
//! PostgreSQL catalog with an S3 offer (issue 20), where no staging object may survive
//! either.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn killed_ingests_leave_a_consistent_archive() {
    killed_ingests(&data_with_tenant(), &|| Vec::new());
}

#[test]
fn killed_ingests_leave_a_consistent_archive_on_postgresql_and_s3() {
    let Some((data, prefix)) = data_distributed() else {
        return;
    };
    let var = |k: &str| std::env::var(format!("CARNAC_TEST_S3_{k}")).unwrap();
    let store = carnac_blobstore::s3::S3Store::new(
        "site-b",
        &carnac_blobstore::s3::S3Config {
            endpoint: var("ENDPOINT"),
            bucket: std::env::var("CARNAC_TEST_S3_BUCKET").unwrap_or_else(|_| "carnac".into()),
            region: std::env::var("CARNAC_TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".into()),
            path_style: true,
            access_key: var("ACCESS_KEY"),
            secret_key: var("SECRET_KEY"),
            prefix,
            timeout: Duration::from_secs(30),
            compliance: None,
            tls_trust: Vec::new(),
        },
    )
    .unwrap();
    killed_ingests(&data, &|| store.staging_keys().unwrap());
}

/// The rounds, in `data` (tenant 0 made); `staged` lists what an offer holds unfinished.
fn killed_ingests(data: &tempfile::TempDir, staged: &dyn Fn() -> Vec<String>) {
    let sip = data.path().join("transfer.zip");
    // Many small files and a few large ones: kills land while copying, syncing, renaming and
    // committing.
    write_sip(
        &sip,
        300,
        |i| if i % 100 == 0 { 3 << 20 } else { 8 << 10 },
        200,
    );

    let started = Instant::now();
    let out = run(
        data.path(),
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    );
    let full = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let seed = crash_seed();
    eprintln!("crash test: seed {seed}, a full ingest takes {full:?}");
    let mut rng = Rng(seed);
    // Until 50 ingests have been killed while running; when one finishes first (the machine
    // was busier while `full` was measured), the window shrinks.
    let mut window = full;
    let (mut killed, mut finished, mut round) = (0, 0, 0);
    while killed < 50 {
        round += 1;
        assert!(
            round <= 200,
            "only {killed} of 200 rounds killed an ingest in progress"
        );
        let mut child = carnac(data.path())
            .args(["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_micros(rng.next() % (window.as_micros() as u64 + 1));
        if kill_after(&mut child, delay) {
            killed += 1;
        } else {
            finished += 1;
            window = window * 4 / 5;
        }

        // The next start recovers; then everything must agree.
        let out = run(data.path(), &["check", "--digests"]);
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round} (seed {seed}, killed after {delay:?}):\n{report}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut files = Vec::new();
        files_under(&data.path().join("offers"), &mut files);
        let temporary: Vec<_> = files
            .iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        assert!(
            temporary.is_empty(),
            "round {round}: temporary files survive: {temporary:?}"
        );
        let staged = staged();
        assert!(
            staged.is_empty(),
            "round {round}: staging objects survive: {staged:?}"
        );
        // Nothing but the (empty) folder of received transfers.
        let scratch: Vec<_> = std::fs::read_dir(data.path().join("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "incoming")
            .chain(
                std::fs::read_dir(data.path().join("tmp/incoming"))
                    .unwrap()
                    .map(|e| e.unwrap().file_name()),
            )
            .collect();
        assert!(
            scratch.is_empty(),
            "round {round}: scratch files survive: {scratch:?}"
        );
    }
    eprintln!("crash test: {killed} ingests killed, {finished} finished before the kill");
    assert!(
        killed >= 25,
        "most rounds must kill an ingest in progress ({killed} of 50)"
    );
}
