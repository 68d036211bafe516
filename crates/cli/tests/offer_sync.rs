//! An offer added to a running archive: `check` finds it behind, `offers sync` fills it
//! from the others (setting aside a source copy whose bytes are not the catalog's), the
//! copies are recorded and journaled, a second sync finds nothing to do.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;
use common::*;

const TWO: &str = "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n\
                   [[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"offers/site-b\"\n";

#[test]
fn an_offer_added_later_is_filled_from_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("carnac.toml"), TWO).unwrap();
    let ok = |args: &[&str]| run_ok(d, args);
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "ingest",
        "--tenant",
        "0",
        sip.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let op = v["operation"].as_str().unwrap().to_owned();
    let objects: Vec<String> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    ok(&["check", "--digests"]);

    // A third offer: behind, and said so.
    std::fs::write(
        d.join("carnac.toml"),
        format!(
            "{TWO}[[storage.offer]]\nname = \"site-c\"\nkind = \"fs\"\npath = \"offers/site-c\"\n"
        ),
    )
    .unwrap();
    let out = run(d, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("offer site-c:") && text.contains("is missing"),
        "{text}"
    );

    // Site-a's copy of the first object is damaged: set aside, site-b's used.
    let damaged = d.join(format!("offers/site-a/0/{op}/{}", objects[0]));
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let out = run(d, &["offers", "sync", "--offer", "site-c", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["copied"].as_u64().unwrap() > objects.len() as u64,
        "the objects and the manifest, attestation…: {report}"
    );
    let set_aside = report["bad_sources"].as_array().unwrap();
    assert_eq!(set_aside.len(), 1, "{report}");
    assert!(
        set_aside[0].as_str().unwrap().contains(&objects[0])
            && set_aside[0].as_str().unwrap().contains("site-a"),
        "{report}"
    );
    assert_eq!(report["failed"].as_array().unwrap().len(), 0);
    for object in &objects {
        assert!(
            d.join(format!("offers/site-c/0/{op}/{object}")).exists(),
            "{object}"
        );
    }
    let good = std::fs::read(d.join(format!("offers/site-b/0/{op}/{}", objects[0]))).unwrap();
    assert_eq!(
        std::fs::read(d.join(format!("offers/site-c/0/{op}/{}", objects[0]))).unwrap(),
        good,
        "the good bytes"
    );
    // The damaged copy is the audit's to repair; then everything agrees.
    let out = run(d, &["check", "--digests"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("site-c"), "site-c is complete: {text}");
    let out = run(d, &["audit", "--tenant", "0"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("repaired from"),
        "{out:?}"
    );
    ok(&["check", "--digests"]);
    ok(&["journal", "verify", "--tenant", "0"]);

    // Again: nothing to do.
    let again: serde_json::Value =
        serde_json::from_str(&ok(&["offers", "sync", "--offer", "site-c", "--json"])).unwrap();
    assert_eq!(again["copied"], 0, "{again}");
    assert!(again["present"].as_u64().unwrap() >= objects.len() as u64);

    let out = run(d, &["offers", "sync", "--offer", "site-z"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("site-z") && text.contains("site-a, site-b, site-c"),
        "{text}"
    );
}

/// An offer removed: refused while a file would keep fewer than two copies, done (and
/// journaled) once a third offer holds them; the archive then checks clean without it.
#[test]
fn an_offer_is_removed_only_when_two_copies_remain_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let two = "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n\
               [[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"offers/site-b\"\n";
    std::fs::write(d.join("carnac.toml"), two).unwrap();
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    run_ok(d, &["ingest", "--tenant", "0", sip.to_str().unwrap()]);
    let refused = run(d, &["offers", "remove", "--offer", "site-b"]);
    assert_eq!(refused.status.code(), Some(1));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("would keep 1 copy"), "{why}");
    assert!(why.contains("offers sync"), "{why}");
    let three = format!(
        "{two}[[storage.offer]]\nname = \"site-c\"\nkind = \"fs\"\npath = \"offers/site-c\"\n"
    );
    std::fs::write(d.join("carnac.toml"), &three).unwrap();
    run_ok(d, &["offers", "sync", "--offer", "site-c"]);
    let report: serde_json::Value = serde_json::from_str(&run_ok(
        d,
        &["offers", "remove", "--offer", "site-b", "--json"],
    ))
    .unwrap();
    assert_eq!(report["tenants"][0][0], "0", "{report}");
    assert!(report["tenants"][0][1].as_u64().unwrap() > 0, "{report}");
    let without_b = three.replace(
        "[[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"offers/site-b\"\n",
        "",
    );
    std::fs::write(d.join("carnac.toml"), without_b).unwrap();
    run_ok(d, &["check", "--digests"]);
    run_ok(d, &["journal", "verify", "--tenant", "0"]);
    let conn = rusqlite::Connection::open(d.join("catalog.sqlite")).unwrap();
    let journaled: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM journal WHERE tenant = '0' AND kind = 'OFFER_REMOVAL' AND operation = ?1",
            [report["tenants"][0][2].as_str().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(journaled, 1);
}
