//! A `carnac elimination execute` killed at random instants (SIGKILL, at least 30 times
//! while it runs): after each restart the catalog, the offers and the journal agree, and the
//! elimination is either done or can be done; once done, no copy of a destroyed file
//! survives and no kept file is lost (`check --digests` re-hashes every copy). The
//! execution destroys 7 units per step here, so that kills land between steps, within
//! one, and in the purges and documents that follow each. On the embedded engines (each
//! round a copy of one prepared data folder), and on PostgreSQL + S3 (each round prepared
//! afresh in a schema and a prefix of its own: a catalog on a server is not copied with a
//! folder).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// A prepared data folder, its elimination and the units that elimination destroys.
type Prepared = (tempfile::TempDir, String, Vec<String>);

/// `data` (with tenant 0) holding an elimination of half a transfer whose visa is granted
/// (the other half kept), made through the API.
fn prepare(data: tempfile::TempDir) -> Prepared {
    let d = data.path();
    let config = d.join("carnac.toml");
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str("\n[limits]\nelimination_step_units = 7\n");
    std::fs::write(&config, text).unwrap();
    let sip = d.join("transfer.zip");
    write_sip(
        &sip,
        200,
        |i| if i % 50 == 0 { 1 << 20 } else { 4 << 10 },
        100,
    );
    let out = run(
        d,
        &["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut tokens = Vec::new();
    for (login, role) in [
        ("arch", "archivist"),
        ("prod", "producer"),
        ("ctl", "control-authority"),
    ] {
        let file = d.join(format!("{login}.token"));
        let out = run(
            d,
            &[
                "account",
                "create",
                login,
                "--role",
                role,
                "--tenant",
                "0",
                "--token-file",
                file.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokens.push(std::fs::read_to_string(&file).unwrap().trim().to_owned());
    }
    let (arch, prod, ctl) = (&tokens[0], &tokens[1], &tokens[2]);
    let port = 20_000 + (std::process::id() % 10_000) as u16;
    let mut serve = carnac(d)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Every unit destroyable, then the even pieces kept: their root stays with them.
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/tenants/0/rules/changes",
        arch,
        r#"{"query": {"agency": "FRAN_NP_009913"}, "actions": [
            {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
            {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"}]}"#,
    );
    assert!(status.contains("201"), "{status} {body}");
    let (_, body) = http(
        port,
        "GET",
        "/api/v1/tenants/0/units?per_page=200&q=Pi%C3%A8ce",
        arch,
        "",
    );
    let units: serde_json::Value = serde_json::from_str(&body).unwrap();
    let pieces: Vec<(String, String)> = units["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(pieces.len(), 200, "{body}");
    let kept: Vec<&String> = pieces
        .iter()
        .filter(|(_, t)| t.trim_start_matches("Pièce ").parse::<u32>().unwrap() % 2 == 0)
        .map(|(id, _)| id)
        .collect();
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/tenants/0/rules/changes",
        arch,
        &serde_json::json!({"units": kept, "actions": [{"action": "set_final_action", "category": "AppraisalRule", "final_action": "Keep"}]}).to_string(),
    );
    assert!(status.contains("201"), "{status} {body}");
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/tenants/0/eliminations",
        arch,
        r#"{"at": "2026-12-04"}"#,
    );
    assert!(status.contains("201"), "{status} {body}");
    let proposal: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        proposal["units"].as_array().unwrap().len(),
        100,
        "the odd pieces"
    );
    let id = proposal["id"].as_str().unwrap().to_owned();
    let mut to_destroy: Vec<String> = proposal["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().or(u["id"].as_str()).unwrap().to_owned())
        .collect();
    to_destroy.sort();
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/tenants/0/eliminations/{id}/agreement"),
        prod,
        r#"{"decision": "agreed"}"#,
    );
    assert!(status.contains("200"), "{status} {body}");
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/tenants/0/eliminations/{id}/visa"),
        ctl,
        r#"{"decision": "granted"}"#,
    );
    assert!(status.contains("200"), "{status} {body}");
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    serve.wait().unwrap();
    (data, id, to_destroy)
}

fn state(data: &std::path::Path, id: &str) -> serde_json::Value {
    let out = run(
        data,
        &["elimination", "show", "--tenant", "0", id, "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn killed_executions_leave_an_archive_that_agrees_and_an_elimination_that_completes() {
    let (template, id, to_destroy) = prepare(data_with_tenant());
    let fresh = || {
        let dir = tempfile::tempdir().unwrap();
        copy_data(template.path(), dir.path());
        (dir, id.clone(), to_destroy.clone())
    };
    killed_executions(&fresh, 30);
}

#[test]
fn killed_executions_leave_an_archive_that_agrees_on_postgresql_and_s3() {
    if !distributed_engines() {
        return;
    }
    let fresh = || prepare(data_distributed().unwrap().0);
    killed_executions(&fresh, 20);
}

/// Executions killed at random instants until `kills` of them were killed while running,
/// each in a data folder `fresh` gives.
fn killed_executions(fresh: &dyn Fn() -> Prepared, kills: usize) {
    let seed = crash_seed();
    // One execution to the end, to know how long it takes.
    let (measure, id, to_destroy) = fresh();
    let started = Instant::now();
    let out = run(
        measure.path(),
        &["elimination", "execute", "--tenant", "0", &id],
    );
    let full = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = state(measure.path(), &id);
    assert_eq!(done["state"], "executed");
    assert_eq!(destroyed(&done), to_destroy, "what the proposal listed");
    let check = run(measure.path(), &["check", "--digests"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    eprintln!("elimination crash test: seed {seed}, a full execution takes {full:?}");

    let mut rng = Rng(seed);
    let mut window = full;
    let (mut killed, mut finished, mut round) = (0, 0, 0);
    // Where the kills landed: before the execution began (still visa_granted), while it
    // ran (completed by the restart's recovery), or after it ended.
    let (mut before_begin, mut resumed, mut after_end) = (0, 0, 0);
    while killed < kills {
        round += 1;
        assert!(
            round <= 5 * kills,
            "only {killed} of {} rounds killed an execution in progress",
            5 * kills
        );
        let (dir, id, to_destroy) = fresh();
        let d = dir.path();
        let mut child = carnac(d)
            .args(["elimination", "execute", "--tenant", "0", &id])
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
        // The restart recovers (completes an execution begun, finishes a purge cut short);
        // everything agrees.
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
        let verify = run(d, &["journal", "verify", "--tenant", "0"]);
        assert!(
            verify.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&verify.stdout)
        );
        // Done, or it can be done.
        let now = state(d, &id);
        match now["state"].as_str().unwrap() {
            "executed" if completed_by_recovery => resumed += 1,
            "executed" => after_end += 1,
            "visa_granted" => {
                before_begin += 1;
                let out = run(d, &["elimination", "execute", "--tenant", "0", &id]);
                assert!(
                    out.status.success(),
                    "{what}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            other => panic!("{what}: the elimination is {other}"),
        }
        let after = state(d, &id);
        assert_eq!(after["state"], "executed", "{what}");
        assert!(!after["purge_pending"].as_bool().unwrap(), "{what}");
        // The same outcome as the execution never interrupted, and every copy agrees: no
        // destroyed file is left in an offer, no kept one is missing.
        assert_eq!(destroyed(&after), to_destroy, "{what}");
        let check = run(d, &["check", "--digests"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    eprintln!(
        "elimination crash test: {killed} executions killed, {finished} finished before the kill; \
         found before the execution began {before_begin} times, while it ran {resumed} times, \
         after it ended {after_end} times"
    );
}

/// The units an elimination destroyed, sorted.
fn destroyed(v: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = v["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["status"] == "destroyed")
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}
