//! `carnac tenant close` killed at random instants (SIGKILL, at least 30 times while it
//! runs) as it lists a tenant of 201 units seven at a time, records its closure, and purges
//! it seven units a step: after each restart the catalog, the offers and the journal agree;
//! the closure either never began (nothing destroyed), or is completed by the restart or by
//! running `tenant close` again; once done every unit is gone, the certificate lists every
//! one, and the journal and attestations stay. On the embedded engines (each round a copy
//! of one prepared data folder), and on PostgreSQL + S3 (each round prepared afresh in a
//! schema and a prefix of its own: a catalog on a server is not copied with a folder).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `data` (with tenant 0) whose tenant holds a 200-piece transfer, is suspended and
/// exported to `export/` inside the folder.
fn prepare(data: tempfile::TempDir) -> tempfile::TempDir {
    let d = data.path();
    let config = d.join("carnac.toml");
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str("\n[limits]\nelimination_step_units = 7\n");
    std::fs::write(&config, text).unwrap();
    let sip = d.join("transfer.zip");
    write_sip(&sip, 200, |_| 4 << 10, 100);
    ok(&run(d, &["ingest", "--tenant", "0", sip.to_str().unwrap()]));
    ok(&run(d, &["maintain"]));
    ok(&run(d, &["tenant", "suspend", "0"]));
    ok(&run(
        d,
        &[
            "tenant",
            "export",
            "--tenant",
            "0",
            "--out",
            d.join("export").to_str().unwrap(),
        ],
    ));
    data
}

fn close(d: &std::path::Path) -> std::process::Command {
    let mut c = carnac(d);
    c.args([
        "tenant",
        "close",
        "--tenant",
        "0",
        "--export",
        d.join("export").to_str().unwrap(),
        "--json",
    ]);
    c
}

/// Rows of the folder's catalog, read straight from its database (not through Carnac):
/// `catalog.sqlite`, or the PostgreSQL schema its `carnac.toml` names.
fn catalog_rows(d: &std::path::Path, sql: &str) -> Vec<(i64, String)> {
    let file = d.join("catalog.sqlite");
    if file.exists() {
        let conn = rusqlite::Connection::open(file).unwrap();
        let mut st = conn.prepare(sql).unwrap();
        return st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    }
    let config = std::fs::read_to_string(d.join("carnac.toml")).unwrap();
    let schema = config
        .lines()
        .find_map(|l| l.strip_prefix("schema = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap();
    let mut client = postgres::Client::connect(
        &std::env::var("CARNAC_TEST_POSTGRES").unwrap(),
        postgres::NoTls,
    )
    .unwrap();
    client
        .batch_execute(&format!("SET search_path = {schema}"))
        .unwrap();
    client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The tenant's units, and its closures' states.
fn state(d: &std::path::Path) -> (u64, Vec<String>) {
    let units = catalog_rows(d, "SELECT count(*), '' FROM units WHERE tenant = '0'")[0].0 as u64;
    let states = catalog_rows(
        d,
        "SELECT CAST(0 AS BIGINT), state FROM eliminations WHERE tenant = '0' AND kind = 'closure'",
    )
    .into_iter()
    .map(|(_, s)| s)
    .collect();
    (units, states)
}

/// The tenant's closure.
fn closure_id(d: &std::path::Path) -> String {
    let rows = catalog_rows(
        d,
        "SELECT CAST(0 AS BIGINT), id FROM eliminations WHERE tenant = '0' AND kind = 'closure'",
    );
    assert_eq!(rows.len(), 1);
    rows[0].1.clone()
}

fn certified(d: &std::path::Path, id: &str) -> usize {
    let out = d.join("proof");
    ok(&run(
        d,
        &[
            "elimination",
            "certificate",
            "--tenant",
            "0",
            id,
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    let certificate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("certificate.json")).unwrap()).unwrap();
    assert_eq!(certificate["certificate"], "CLOSURE");
    certificate["units"].as_array().unwrap().len()
}

#[test]
fn killed_closures_destroy_nothing_or_complete_and_certify_every_unit() {
    let template = prepare(data_with_tenant());
    let fresh = || {
        let dir = tempfile::tempdir().unwrap();
        copy_data(template.path(), dir.path());
        dir
    };
    killed_closures(&fresh, 30);
}

#[test]
fn killed_closures_destroy_nothing_or_complete_on_postgresql_and_s3() {
    if !distributed_engines() {
        return;
    }
    let fresh = || prepare(data_distributed().unwrap().0);
    killed_closures(&fresh, 20);
}

/// Closures killed at random instants until `kills` of them were killed while running,
/// each in a data folder `fresh` gives.
fn killed_closures(fresh: &dyn Fn() -> tempfile::TempDir, kills: usize) {
    let seed = crash_seed();
    // One closure to the end, to know how long it takes.
    let measure = fresh();
    let (held, _) = state(measure.path());
    assert_eq!(held, 201);
    let started = Instant::now();
    let out = close(measure.path()).output().unwrap();
    let full = started.elapsed();
    ok(&out);
    let closed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(closed["state"], "executed");
    assert_eq!(
        certified(measure.path(), closed["id"].as_str().unwrap()),
        201
    );
    ok(&run(measure.path(), &["check", "--digests"]));
    eprintln!("closure crash test: seed {seed}, a full closure takes {full:?}");

    let mut rng = Rng(seed);
    let mut window = full;
    let (mut killed, mut finished, mut round) = (0, 0, 0);
    let (mut not_begun, mut accepted, mut resumed, mut after_end) = (0, 0, 0, 0);
    while killed < kills {
        round += 1;
        assert!(
            round <= 5 * kills,
            "only {killed} of {} rounds killed a closure in progress",
            5 * kills
        );
        let dir = fresh();
        let d = dir.path();
        let mut child = close(d)
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
        let what = format!("round {round} (seed {seed}, killed after {delay:?})");
        // The restart recovers (an execution begun is completed); all agrees.
        let check = carnac(d)
            .env("RUST_LOG", "warn")
            .args(["check", "--digests"])
            .output()
            .unwrap();
        assert_eq!(
            check.status.code(),
            Some(0),
            "{what}: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let completed_by_recovery = String::from_utf8_lossy(&check.stderr)
            .contains("interrupted elimination execution completed");
        ok(&run(d, &["journal", "verify", "--tenant", "0"]));
        let (units, states) = state(d);
        match states.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["executed"] if completed_by_recovery => resumed += 1,
            ["executed"] => after_end += 1,
            // Killed while it listed: nothing recorded, nothing destroyed.
            [] => {
                not_begun += 1;
                assert_eq!(units, 201, "{what}");
            }
            // Killed between its record and its beginning: nothing destroyed yet.
            ["accepted"] => {
                accepted += 1;
                assert_eq!(units, 201, "{what}");
            }
            ref other => panic!("{what}: closures {other:?}, {units} units"),
        }
        if states != ["executed"] {
            // Run again, it closes (or completes the closure recorded).
            let out = close(d).output().unwrap();
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (units, states) = state(d);
        assert_eq!(
            (units, &states[..]),
            (0, &["executed".to_owned()][..]),
            "{what}"
        );
        let id = closure_id(d);
        assert_eq!(certified(d, &id), 201, "{what}");
        let check = run(d, &["check", "--digests"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    eprintln!(
        "closure crash test: {killed} closures killed, {finished} finished before the kill; \
         found before its record {not_begun} times, recorded not begun {accepted} times, \
         while the purge ran {resumed} times, after it ended {after_end} times"
    );
}
