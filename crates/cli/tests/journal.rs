//! `carnac journal verify`: an intact journal exits 0; each kind of tampering with the
//! catalog's journal (by someone who can write the database file and removes its triggers)
//! exits 2 and is named at the event where it happened.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::path::Path;

/// A data folder whose tenant 0 has a journal of several events: creation, referential
/// import, an accepted and a rejected ingest.
fn journal_with_events() -> tempfile::TempDir {
    let data = data_with_tenant();
    for sip in ["OK_SIP_2_GO.zip", "KO_BORD_empreinte_KO.zip"] {
        let path = testdata().join("seda").join(sip);
        let out = run(
            data.path(),
            &["ingest", "--tenant", "0", path.to_str().unwrap(), "--json"],
        );
        assert!(matches!(out.status.code(), Some(0 | 2)), "{out:?}");
    }
    data
}

fn verify(data: &Path) -> (i32, String) {
    let out = run(data, &["journal", "verify", "--tenant", "0"]);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// Opens the catalog as an attacker would: without the append-only triggers.
fn tamper(data: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(data.join("catalog.sqlite")).unwrap();
    conn.execute_batch(
        "DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete; DROP TRIGGER journal_linked;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn an_intact_journal_verifies_and_the_verification_is_journaled() {
    let data = journal_with_events();
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 events, intact"), "{out}");
    // The verification is itself an event, and the chain still holds after it.
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("5 events, intact"), "{out}");
    let json = run(
        data.path(),
        &["journal", "verify", "--tenant", "0", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["events"], 6);
    assert_eq!(v["problems"], serde_json::json!([]));
    // An unknown tenant: the command cannot run.
    let out = run(data.path(), &["journal", "verify", "--tenant", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn an_edited_event_is_named() {
    let data = journal_with_events();
    tamper(
        data.path(),
        r#"UPDATE journal SET detail = '{"status":"OK"}' WHERE tenant = '0' AND sequence = 4"#,
    );
    let (code, out) = verify(data.path());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("EDITED event 4: event 4 does not match its hash"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 2, "one problem and the total: {out}");
}

#[test]
fn a_deleted_event_is_named() {
    let data = journal_with_events();
    tamper(
        data.path(),
        "DELETE FROM journal WHERE tenant = '0' AND sequence = 2",
    );
    let (code, out) = verify(data.path());
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("MISSING event 3: event 2 is missing"), "{out}");
    assert!(out.contains("UNLINKED event 3"), "{out}");
}

#[test]
fn an_inserted_event_is_named() {
    let data = journal_with_events();
    // The attacker forges a well-formed event at 3, chained to event 2 with a correct hash,
    // and renumbers the events after it: the forgery holds, the next event betrays it.
    let forged = {
        let conn = rusqlite::Connection::open(data.path().join("catalog.sqlite")).unwrap();
        let (hash2, detail): (String, String) = conn
            .query_row(
                "SELECT hash, detail FROM journal WHERE tenant = '0' AND sequence = 2",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let event = carnac_model::journal::NewEvent {
            tenant: "0".parse().unwrap(),
            operation: "op-forged".parse().unwrap(),
            kind: "REFERENTIAL_IMPORT".into(),
            outcome: carnac_model::Status::Ok,
            time: "2026-11-29T05:00:00Z".into(),
            agent: "cli".into(),
            detail: serde_json::from_str(&detail).unwrap(),
        };
        let hash = carnac_model::journal::event_hash(1, 3, &event, &hash2).unwrap();
        format!(
            "INSERT INTO journal VALUES ('0', 3, 1, 'op-forged', 'REFERENTIAL_IMPORT', 'OK', \
             '2026-11-29T05:00:00Z', 'cli', '{}', '{hash2}', '{hash}')",
            detail.replace('\'', "''")
        )
    };
    tamper(
        data.path(),
        &format!(
            "UPDATE journal SET sequence = sequence + 100 WHERE tenant = '0' AND sequence >= 3;
             UPDATE journal SET sequence = sequence - 99 WHERE tenant = '0' AND sequence >= 100;
             {forged};"
        ),
    );
    let (code, out) = verify(data.path());
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains("event 3:"), "the forgery itself holds: {out}");
    assert!(out.contains("UNLINKED event 4"), "{out}");
    assert!(out.contains("EDITED event 4"), "{out}");
}

#[test]
fn reordered_events_are_named() {
    let data = journal_with_events();
    tamper(
        data.path(),
        "UPDATE journal SET sequence = 100 WHERE tenant = '0' AND sequence = 2;
         UPDATE journal SET sequence = 2 WHERE tenant = '0' AND sequence = 3;
         UPDATE journal SET sequence = 3 WHERE tenant = '0' AND sequence = 100;",
    );
    let (code, out) = verify(data.path());
    assert_eq!(code, 2, "{out}");
    for expected in [
        "UNLINKED event 2",
        "EDITED event 2",
        "EDITED event 3",
        "UNLINKED event 4",
    ] {
        assert!(out.contains(expected), "{expected}: {out}");
    }
}

#[test]
fn an_unreadable_event_is_named() {
    let data = journal_with_events();
    tamper(
        data.path(),
        "UPDATE journal SET outcome = 'MAYBE' WHERE tenant = '0' AND sequence = 3",
    );
    let (code, out) = verify(data.path());
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("UNREADABLE event 3"), "{out}");
    assert!(!out.contains("MISSING"), "{out}");
}
