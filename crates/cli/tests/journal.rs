//! `carnac journal verify`: an intact journal exits 0; each kind of tampering with the
//! catalog's journal (by someone who can write the database file and removes its triggers)
//! exits 2 and is named at the event where it happened.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;
use std::path::Path;

/// A data folder whose tenant 0 has a journal of eight events: creation, referential import,
/// an accepted ingest (its acknowledgement, its end, its files' evidence and its deposit
/// attestation), a rejected ingest (its acknowledgement and its end).
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
    assert!(
        out.contains("8 events, 0 seals up to event 0, intact"),
        "{out}"
    );
    // The verification is itself an event, and the chain still holds after it.
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("9 events, 0 seals up to event 0, intact"),
        "{out}"
    );
    let json = run(
        data.path(),
        &["journal", "verify", "--tenant", "0", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["events"], 10);
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

fn seal(data: &Path) -> String {
    let out = run(data, &["seal", "--tenant", "0"]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn seals_cover_new_events_only_and_verify() {
    let data = journal_with_events();
    let sealed = seal(data.path());
    assert!(sealed.contains("events 1 to 8 sealed"), "{sealed}");
    // The segment is archived in both offers, like any file, and the catalog agrees.
    let op = sealed
        .trim()
        .rsplit("operation ")
        .next()
        .unwrap()
        .trim_end_matches(')');
    for offer in [1, 2] {
        let dir = data.path().join(format!("offers/offer-{offer}/0/{op}"));
        let segment = std::fs::read_to_string(dir.join("journal-segment.jsonl")).unwrap();
        assert_eq!(segment.lines().count(), 8, "{segment}");
        let seal: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("seal.json")).unwrap()).unwrap();
        assert_eq!(
            (seal["first"].as_u64(), seal["last"].as_u64()),
            (Some(1), Some(8))
        );
    }
    let out = run(data.path(), &["check", "--digests"]);
    assert!(out.status.success(), "{out:?}");
    // Only the seal's own event is new: nothing to seal.
    assert!(seal(data.path()).contains("nothing to seal"));
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 seals up to event 8, intact"), "{out}");
    // The verification is an event: the next seal covers it and the first seal's event.
    assert!(seal(data.path()).contains("events 9 to 10 sealed"));
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 seals up to event 10, intact"), "{out}");
    // All tenants at once.
    let out = run(data.path(), &["seal"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("tenant 0:"));
}

#[test]
fn a_rewritten_chain_does_not_match_its_seal() {
    let data = journal_with_events();
    seal(data.path());
    // The attacker edits event 2 and recomputes every hash after it: the chain holds...
    let conn = rusqlite::Connection::open(data.path().join("catalog.sqlite")).unwrap();
    conn.execute_batch("DROP TRIGGER journal_no_update;")
        .unwrap();
    type Row = (i64, String, String, String, String, String, String, String);
    let rows: Vec<Row> = {
        let mut st = conn
            .prepare("SELECT sequence, operation, kind, outcome, time, agent, detail, previous_hash FROM journal WHERE tenant = '0' ORDER BY sequence")
            .unwrap();
        st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let mut previous = rows[0].7.clone();
    for (sequence, operation, kind, outcome, time, agent, detail, _) in rows {
        let detail = if sequence == 2 {
            r#"{"forged":true}"#.to_owned()
        } else {
            detail
        };
        let event = carnac_model::journal::NewEvent {
            tenant: "0".parse().unwrap(),
            operation: operation.parse().unwrap(),
            kind: kind.into(),
            outcome: carnac_model::Status::parse(&outcome).unwrap(),
            time,
            agent,
            detail: serde_json::from_str(&detail).unwrap(),
        };
        let hash =
            carnac_model::journal::event_hash(1, sequence as u64, &event, &previous).unwrap();
        conn.execute(
            "UPDATE journal SET detail = ?1, previous_hash = ?2, hash = ?3 WHERE tenant = '0' AND sequence = ?4",
            rusqlite::params![detail, previous, hash, sequence],
        )
        .unwrap();
        previous = hash;
    }
    drop(conn);
    // ...but the seal does not.
    let (code, out) = verify(data.path());
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains("EDITED"), "{out}");
    assert!(
        out.contains("SEAL_MISMATCH event 1: the seal of events 1 to 8: the events give the root"),
        "{out}"
    );
}

#[test]
fn a_damaged_journal_is_not_sealed() {
    let data = journal_with_events();
    tamper(
        data.path(),
        r#"UPDATE journal SET detail = '{}' WHERE tenant = '0' AND sequence = 3"#,
    );
    let out = run(data.path(), &["seal", "--tenant", "0"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is damaged, it is not sealed: EDITED event 3"),
        "{err}"
    );
}

#[test]
fn a_seal_token_from_another_tsa_is_refused() {
    let data = journal_with_events();
    seal(data.path());
    let conn = rusqlite::Connection::open(data.path().join("catalog.sqlite")).unwrap();
    let sealed: String = conn
        .query_row(
            "SELECT sealed FROM journal_seals WHERE tenant = '0'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // A genuine token over the same value, from a TSA the archive does not trust.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let other = carnac_timestamp::builtin::BuiltinTsa::create(
        now - std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(86_400),
    )
    .unwrap();
    let imprint = carnac_timestamp::Imprint {
        algorithm: carnac_timestamp::HashAlgorithm::Sha256,
        digest: hex::decode(&sealed).unwrap(),
    };
    let resp = other
        .respond(
            &carnac_timestamp::request(&imprint, None, None).unwrap(),
            now,
        )
        .unwrap();
    let token = carnac_timestamp::verify::verify_response(
        &resp,
        &carnac_timestamp::Expected {
            imprint: &imprint,
            nonce: None,
            policy: None,
        },
        &carnac_timestamp::TrustStore::new().with_anchor(other.root().clone()),
    )
    .unwrap()
    .token;
    conn.execute_batch("DROP TRIGGER journal_seals_no_update;")
        .unwrap();
    conn.execute(
        "UPDATE journal_seals SET token = ?1 WHERE tenant = '0'",
        [token],
    )
    .unwrap();
    drop(conn);
    let (code, out) = verify(data.path());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("SEAL_TOKEN event 1: the seal of events 1 to 8: its timestamp is not valid: no trust anchor vouches for the TSA"),
        "{out}"
    );
}

/// `carnac` run where there is no data folder (offline checks must not need one).
fn offline(args: &[&str]) -> (i32, String) {
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_carnac"))
        .args(args)
        .current_dir(empty.path())
        .env_remove("CARNAC_DATA")
        .output()
        .unwrap();
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
    (
        out.status.code().unwrap(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn an_exported_journal_and_an_event_proof_verify_offline() {
    let data = journal_with_events();
    // A second tenant, whose journal must not appear in the first one's export.
    assert!(
        run(data.path(), &["tenant", "create", "other"])
            .status
            .success()
    );
    seal(data.path());
    let out_dir = data.path().join("export");
    let out = run(
        data.path(),
        &[
            "journal",
            "export",
            "--tenant",
            "0",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let events = std::fs::read_to_string(out_dir.join("events.jsonl")).unwrap();
    assert_eq!(events.lines().count(), 9);
    assert!(
        events.lines().all(|l| l.contains(r#""tenant":"0""#)),
        "{events}"
    );
    let dir = out_dir.to_str().unwrap();
    let trust = out_dir.join("trust.pem");
    let trust = trust.to_str().unwrap();
    let (code, out) = offline(&["journal", "verify", "--export", dir, "--trust", trust]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("9 events, 1 seals, intact"), "{out}");
    // openssl checks the seal's token over the sealed value.
    let seal: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(out_dir.join("seals.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let tsr = out_dir.join("seals/8.tsr");
    let ossl = std::process::Command::new("openssl")
        .args(["ts", "-verify", "-token_in", "-in"])
        .arg(&tsr)
        .args([
            "-digest",
            seal["sealed"].as_str().unwrap(),
            "-CAfile",
            trust,
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ossl.stdout).contains("Verification: OK"),
        "{ossl:?}"
    );

    // One event, alone.
    let proof = data.path().join("proof.json");
    let out = run(
        data.path(),
        &[
            "journal",
            "prove",
            "--tenant",
            "0",
            "--event",
            "4",
            "--out",
            proof.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let p = proof.to_str().unwrap();
    let (code, out) = offline(&["journal", "verify", "--proof", p, "--trust", trust]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VALID: event 4 (INGEST)"), "{out}");
    // A changed event no longer matches its proof.
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    forged["event"]["outcome"] = "KO".into();
    std::fs::write(&proof, serde_json::to_vec(&forged).unwrap()).unwrap();
    let (code, out) = offline(&["journal", "verify", "--proof", p, "--trust", trust]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("INVALID: event 4: its fields give"), "{out}");
    // A changed line in the export is found.
    let edited = events.replacen(r#""outcome":"OK""#, r#""outcome":"KO""#, 1);
    std::fs::write(out_dir.join("events.jsonl"), edited).unwrap();
    let (code, out) = offline(&["journal", "verify", "--export", dir, "--trust", trust]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("EDITED event 1"), "{out}");
    // An event not sealed yet has no proof.
    let out = run(
        data.path(),
        &[
            "journal", "prove", "--tenant", "0", "--event", "9", "--out", p,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// The operation of the last seal `carnac seal` printed.
fn sealed_operation(sealed: &str) -> String {
    sealed
        .trim()
        .rsplit("operation ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_owned()
}

/// Issue 14 §7: the seals write each sealed segment, and the seal, to every offer: what
/// survives the loss of the catalog. One event changed in one offer's copy went unseen by
/// `check --digests`, `audit` and `journal verify`. Now each copy is checked against the
/// digest its seal recorded, the audit repairs it from a good copy, and the journal can be
/// verified (and rebuilt) from one offer alone.
#[test]
fn the_journal_kept_in_the_offers_is_checked_repaired_and_verifiable_alone() {
    let data = journal_with_events();
    let op = sealed_operation(&seal(data.path()));
    let segment = data
        .path()
        .join(format!("offers/offer-2/0/{op}/journal-segment.jsonl"));
    let original = std::fs::read_to_string(&segment).unwrap();
    let changed = original.replacen(r#""outcome":"KO""#, r#""outcome":"OK""#, 1);
    assert_ne!(changed, original);
    std::fs::write(&segment, &changed).unwrap();

    let out = run(data.path(), &["check", "--digests"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "offer offer-2: 0/{op}/journal-segment.jsonl does not have its recorded SHA-256 digest"
        )),
        "{text}"
    );
    // Verified from that offer alone: the changed event breaks the chain there.
    let trust = data.path().join("tsa/root.pem");
    let trust_arg = trust.to_str().unwrap();
    let offer2 = data.path().join("offers/offer-2");
    let (code, out) = offline(&[
        "journal",
        "verify",
        "--offer",
        offer2.to_str().unwrap(),
        "--tenant",
        "0",
        "--trust",
        trust_arg,
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("EDITED"), "{out}");

    // The audit finds the copy and rewrites it from offer-1's.
    let out = run(data.path(), &["audit", "--tenant", "0", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["journal_files"], 2, "{report}");
    assert_eq!(report["damaged"][0]["offer"], "offer-2", "{report}");
    assert_eq!(report["damaged"][0]["repaired_from"], "offer-1", "{report}");
    assert_eq!(std::fs::read_to_string(&segment).unwrap(), original);
    let out = run(data.path(), &["check", "--digests"]);
    assert!(out.status.success(), "{out:?}");

    // The catalog is lost: the tenant's sealed journal comes back from one offer.
    let out = run(
        data.path(),
        &[
            "journal",
            "export",
            "--tenant",
            "0",
            "--out",
            data.path().join("from-catalog").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    for f in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = std::fs::remove_file(data.path().join(f));
    }
    let offer1 = data.path().join("offers/offer-1");
    let (code, out) = offline(&[
        "journal",
        "verify",
        "--offer",
        offer1.to_str().unwrap(),
        "--tenant",
        "0",
        "--trust",
        trust_arg,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("8 events, 1 seals, intact"), "{out}");
    let rebuilt = data.path().join("rebuilt");
    let (code, out) = offline(&[
        "journal",
        "export",
        "--offer",
        offer1.to_str().unwrap(),
        "--tenant",
        "0",
        "--trust",
        trust_arg,
        "--out",
        rebuilt.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = offline(&[
        "journal",
        "verify",
        "--export",
        rebuilt.to_str().unwrap(),
        "--trust",
        rebuilt.join("trust.pem").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    // The same events as the catalog's export had, up to the seal.
    let before: Vec<String> =
        std::fs::read_to_string(data.path().join("from-catalog/events.jsonl"))
            .unwrap()
            .lines()
            .take(8)
            .map(str::to_owned)
            .collect();
    let after: Vec<String> = std::fs::read_to_string(rebuilt.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(before, after);
}
