//! `carnac transfer-out reply` killed at random instants (SIGKILL, at least 30 times while
//! it runs) as it records the definitive archives' reply and purges what it accepts (the
//! odd pieces of a 200-unit transfer, 7 units a step): after each restart the catalog, the
//! offers and the journal agree; the purge is done or can be done; once done exactly the
//! accepted units are gone, with their package, and nothing not accepted is lost (`check
//! --digests` re-hashes every copy of what stays). On the embedded engines (each round a
//! copy of one prepared data folder), and on PostgreSQL + S3 (each round prepared afresh in
//! a schema and a prefix of its own).

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

/// A prepared data folder, its transfer out and the units its reply accepts (sorted).
type Prepared = (tempfile::TempDir, String, Vec<String>);

/// `data` (with tenant 0) with a transfer out sent (a 200-piece transfer whose retention is
/// over with Keep), and the definitive archives' reply accepting its odd pieces. Gives the
/// transfer out's id and the units it accepts.
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
    let atr = d.join("ingest-atr.xml");
    ok(&run(
        d,
        &[
            "ingest",
            "--tenant",
            "0",
            sip.to_str().unwrap(),
            "--atr",
            atr.to_str().unwrap(),
        ],
    ));
    // The system identifier of each unit, from the ingest's reply.
    let atr = std::fs::read_to_string(&atr).unwrap();
    let ids: std::collections::BTreeMap<String, String> = atr
        .split("<ArchiveUnit id=\"")
        .skip(1)
        .map(|chunk| {
            let (xml_id, rest) = chunk.split_once('"').unwrap();
            let system = rest
                .split_once("<SystemId>")
                .unwrap()
                .1
                .split_once("</SystemId>")
                .unwrap()
                .0;
            (xml_id.to_owned(), system.to_owned())
        })
        .collect();
    let root = &ids["ROOT"];
    let changes = d.join("changes.json");
    std::fs::write(
        &changes,
        serde_json::json!({"units": [root], "actions": [
            {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
            {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Keep"}]})
        .to_string(),
    )
    .unwrap();
    ok(&run(
        d,
        &[
            "rules",
            "change",
            "--tenant",
            "0",
            "--file",
            changes.to_str().unwrap(),
        ],
    ));
    let package = d.join("sent.zip");
    let out = run(
        d,
        &[
            "transfer-out",
            "send",
            "--tenant",
            "0",
            "--unit",
            root,
            "--archival-agency",
            "Identifier1",
            "--out",
            package.to_str().unwrap(),
            "--json",
        ],
    );
    ok(&out);
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sent["state"], "sent");
    assert_eq!(sent["units"].as_array().unwrap().len(), 201);
    assert!(std::fs::metadata(&package).unwrap().len() > 4 << 20);
    let id = sent["id"].as_str().unwrap().to_owned();
    // The definitive archives keep the odd pieces (the root and the even ones stay here).
    let accepted: Vec<String> = (0..200)
        .filter(|i| i % 2 == 1)
        .map(|i| ids[&format!("U{i}")].clone())
        .collect();
    let units: String = accepted
        .iter()
        .enumerate()
        .map(|(n, u)| {
            format!("<ArchiveUnit id=\"{u}\"><Content><SystemId>ad-{n}</SystemId></Content></ArchiveUnit>")
        })
        .collect();
    std::fs::write(
        d.join("reply.xml"),
        format!(
            "<ArchiveTransferReply xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\">\
             <Date>2026-12-04T10:00:00</Date><MessageIdentifier>AD-ATR-1</MessageIdentifier>\
             <CodeListVersions/><DataObjectPackage><DescriptiveMetadata>{units}</DescriptiveMetadata>\
             <ManagementMetadata/></DataObjectPackage><ReplyCode>OK</ReplyCode>\
             <MessageRequestIdentifier>{id}</MessageRequestIdentifier>\
             <ArchivalAgency><Identifier>Identifier1</Identifier></ArchivalAgency>\
             <TransferringAgency><Identifier>carnac</Identifier></TransferringAgency>\
             </ArchiveTransferReply>"
        ),
    )
    .unwrap();
    let mut accepted = accepted;
    accepted.sort();
    (data, id, accepted)
}

fn state(data: &std::path::Path, id: &str) -> serde_json::Value {
    let out = run(
        data,
        &["transfer-out", "show", "--tenant", "0", id, "--json"],
    );
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn reply(d: &std::path::Path, id: &str) -> std::process::Command {
    let mut c = carnac(d);
    c.args([
        "transfer-out",
        "reply",
        "--tenant",
        "0",
        id,
        "--file",
        d.join("reply.xml").to_str().unwrap(),
    ]);
    c
}

#[test]
fn killed_purges_after_a_transfer_reply_complete_and_lose_nothing_not_accepted() {
    let (template, id, accepted) = prepare(data_with_tenant());
    let fresh = || {
        let dir = tempfile::tempdir().unwrap();
        copy_data(template.path(), dir.path());
        (dir, id.clone(), accepted.clone())
    };
    killed_purges(&fresh, 30);
}

#[test]
fn killed_purges_after_a_transfer_reply_complete_on_postgresql_and_s3() {
    if !distributed_engines() {
        return;
    }
    let fresh = || prepare(data_distributed().unwrap().0);
    killed_purges(&fresh, 20);
}

/// The units a transfer out purged, sorted.
fn gone(v: &serde_json::Value) -> Vec<String> {
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

/// Replies killed at random instants until `kills` of them were killed while running, each
/// in a data folder `fresh` gives.
fn killed_purges(fresh: &dyn Fn() -> Prepared, kills: usize) {
    let seed = crash_seed();
    // One reply to the end, to know how long it takes.
    let (measure, id, expected) = fresh();
    let started = Instant::now();
    ok(&reply(measure.path(), &id).output().unwrap());
    let full = started.elapsed();
    let done = state(measure.path(), &id);
    assert_eq!(done["state"], "executed");
    assert_eq!(gone(&done), expected, "exactly what the reply accepts");
    ok(&run(measure.path(), &["check", "--digests"]));
    eprintln!("transfer-out crash test: seed {seed}, a full reply and purge take {full:?}");

    let mut rng = Rng(seed);
    let mut window = full;
    let (mut killed, mut finished, mut round) = (0, 0, 0);
    let (mut before_reply, mut resumed, mut after_end) = (0, 0, 0);
    while killed < kills {
        round += 1;
        assert!(
            round <= 5 * kills,
            "only {killed} of {} rounds killed a purge in progress",
            5 * kills
        );
        let (dir, id, expected) = fresh();
        let d = dir.path();
        let mut child = reply(d, &id)
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
        // The restart recovers (a purge begun or accepted is completed); all agrees.
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
        let now = state(d, &id);
        match now["state"].as_str().unwrap() {
            "executed" if completed_by_recovery => resumed += 1,
            "executed" => after_end += 1,
            // Killed before the reply was recorded: nothing purged, it is given again.
            "sent" => {
                before_reply += 1;
                assert!(gone(&now).is_empty(), "{what}");
                let out = reply(d, &id).output().unwrap();
                assert!(
                    out.status.success(),
                    "{what}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            other => panic!("{what}: the transfer out is {other}"),
        }
        let after = state(d, &id);
        assert_eq!(after["state"], "executed", "{what}");
        assert!(!after["purge_pending"].as_bool().unwrap(), "{what}");
        assert_eq!(gone(&after), expected, "{what}");
        let check = run(d, &["check", "--digests"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    eprintln!(
        "transfer-out crash test: {killed} purges killed, {finished} finished before the kill; \
         found before the reply was recorded {before_reply} times, while the purge ran \
         {resumed} times, after it ended {after_end} times"
    );
}
