//! `carnac tenant close` killed at random instants (SIGKILL, at least 30 times while it
//! runs) as it lists a tenant of 201 units seven at a time, records its closure, and purges
//! it seven units a step: after each restart the catalog, the offers and the journal agree;
//! the closure either never began (nothing destroyed), or is completed by the restart or by
//! running `tenant close` again; once done every unit is gone, the certificate lists every
//! one, and the journal and attestations stay.

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

/// A data folder whose tenant 0 holds a 200-piece transfer, is suspended and exported to
/// `export/` inside it: made once, copied for every round.
fn prepared() -> tempfile::TempDir {
    let data = data_with_tenant();
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

/// The tenant's units, and its closures' states.
fn state(d: &std::path::Path) -> (u64, Vec<String>) {
    let conn = rusqlite::Connection::open(d.join("catalog.sqlite")).unwrap();
    let units: u64 = conn
        .query_row("SELECT count(*) FROM units WHERE tenant = '0'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut st = conn
        .prepare("SELECT state FROM eliminations WHERE tenant = '0' AND kind = 'closure'")
        .unwrap();
    let states = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (units, states)
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
    let template = prepared();
    let seed = crash_seed();
    // One closure to the end, to know how long it takes.
    let measure = tempfile::tempdir().unwrap();
    copy_data(template.path(), measure.path());
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
    while killed < 30 {
        round += 1;
        assert!(
            round <= 150,
            "only {killed} of 150 rounds killed a closure in progress"
        );
        let dir = tempfile::tempdir().unwrap();
        copy_data(template.path(), dir.path());
        let d = dir.path();
        let mut child = close(d)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_micros(rng.next() % (window.as_micros() as u64 + 1));
        std::thread::sleep(delay);
        match child.try_wait().unwrap() {
            Some(_) => {
                finished += 1;
                window = window * 4 / 5;
            }
            None => {
                child.kill().unwrap();
                killed += 1;
            }
        }
        child.wait().unwrap();
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
        let id: String = rusqlite::Connection::open(d.join("catalog.sqlite"))
            .unwrap()
            .query_row(
                "SELECT id FROM eliminations WHERE tenant = '0' AND kind = 'closure'",
                [],
                |r| r.get(0),
            )
            .unwrap();
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
