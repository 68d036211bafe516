//! The SQLite implementation's own tests: the conformance suite on memory and on a file,
//! migrations of older schemas, the log and snapshot machinery.

use crate::prelude::*;

#[test]
fn conformance() {
    crate::conformance::run(&super::SqliteCatalog::in_memory().unwrap());
}

#[test]
fn the_journal_refuses_updates_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let cat = super::SqliteCatalog::open(&path).unwrap();
    crate::conformance::run(&cat);
    let conn = cat.lock();
    let upd = conn.execute("UPDATE journal SET outcome = 'OK'", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let del = conn.execute("DELETE FROM journal", []);
    assert!(del.unwrap_err().to_string().contains("append-only"));
}

#[test]
fn replies_of_schema_1_move_to_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(super::MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO tenants VALUES ('t', 'T', '2026-11-29T04:00:00Z');
             INSERT INTO operations (tenant, id, kind, state, status, started_at, reply)
             VALUES ('t', 'op-1', 'INGEST', 'DONE', 'KO', '2026-11-29T04:00:00Z', '<ATR>é</ATR>');",
        )
        .unwrap();
    }
    let cat = super::SqliteCatalog::open(&path).unwrap();

    let (t, op) = ("t".parse().unwrap(), "op-1".parse().unwrap());
    let mut atr = Vec::new();
    assert!(cat.reply(&t, &op, &mut atr).unwrap());
    assert_eq!(String::from_utf8(atr).unwrap(), "<ATR>é</ATR>");
    assert!(cat.operation(&t, &op).unwrap().unwrap().has_reply);
}

#[test]
fn events_of_schema_2_are_linked_into_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(super::MIGRATIONS[0]).unwrap();
        conn.execute_batch(super::MIGRATIONS[1]).unwrap();
        conn.execute_batch(
            r#"PRAGMA user_version = 2;
             INSERT INTO tenants VALUES ('t', 'T', '2026-11-29T04:00:00Z'), ('u', 'U', '2026-11-29T04:00:00Z');
             INSERT INTO journal VALUES
               ('t', 1, 1, 'op-1', 'TENANT_CREATE', 'OK', '2026-11-28T10:00:00Z', 'cli', '{}'),
               ('u', 1, 1, 'op-2', 'TENANT_CREATE', 'OK', '2026-11-28T10:00:01Z', 'cli', '{}'),
               ('t', 2, 1, 'op-3', 'INGEST', 'KO', '2026-11-28T10:00:02Z', 'cli', '{"units":0}');"#,
        )
        .unwrap();
    }
    let cat = super::SqliteCatalog::open(&path).unwrap();

    for t in ["t", "u"] {
        let events = cat.journal(&t.parse().unwrap()).unwrap();
        assert!(events.iter().all(|e| e.hash.len() == 64));
        assert_eq!(events[0].previous, carnac_model::journal::GENESIS);
        assert!(carnac_model::journal::verify_chain(&events).is_empty());
    }
    // Once linked, an event cannot change.
    let upd = cat.lock().execute("UPDATE journal SET hash = 'x'", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let ins = cat.lock().execute(
        "INSERT INTO journal (tenant, sequence, format_version, operation, kind, outcome, time, agent, detail)
         VALUES ('t', 3, 1, 'op-4', 'X', 'OK', 'x', 'x', '{}')",
        [],
    );
    assert!(ins.unwrap_err().to_string().contains("with its hash"));
}

#[test]
fn reopening_keeps_data_and_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    {
        let cat = super::SqliteCatalog::open(&path).unwrap();
        crate::conformance::run(&cat);
    }
    let cat = super::SqliteCatalog::open(&path).unwrap();

    assert!(!cat.tenants().unwrap().is_empty());
    let v: i64 = cat
        .lock()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, super::MIGRATIONS.len() as i64);
}

/// A catalog made before the search's counts and narrow copy (schema 12) gets both
/// from the units it holds when it is opened, and its one free-text index for all
/// tenants becomes one per tenant that finds what the searches found before.
#[test]
fn units_of_schema_12_are_counted_copied_and_indexed_by_tenant() {
    use crate::UnitQuery;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let searches = |cat: &super::SqliteCatalog| -> Vec<(u64, Vec<String>)> {
        let word = |w: &str| UnitQuery {
            text: Some(w.into()),
            limit: 50,
            ..Default::default()
        };
        [
            ("conf-s", word("travaux")),
            ("conf-s", word("homonyme")),
            ("conf-s2", word("secrète")),
            ("CONF-S", word("homonyme")),
            (
                "conf-s",
                UnitQuery {
                    agency: Some("AG1".into()),
                    ..word("finances")
                },
            ),
        ]
        .into_iter()
        .map(|(t, q)| {
            let page = cat
                .search_units(&t.parse().unwrap(), &q, &crate::Interrupt::none())
                .unwrap();
            let ids = page.units.iter().map(|u| u.id.to_string()).collect();
            (page.total, ids)
        })
        .collect()
    };
    let before;
    {
        let cat = super::SqliteCatalog::open(&path).unwrap();
        crate::conformance::run(&cat);
        before = searches(&cat);
        let conn = cat.lock();
        let per_tenant: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'unit_text_*' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(per_tenant.len() >= 4, "{per_tenant:?}");
        for table in per_tenant {
            conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
        }
        conn.execute_batch(
            "DROP TRIGGER unit_derived_delete; DROP TRIGGER unit_derived_update;
             DROP TABLE unit_counts; DROP TABLE unit_facets; DROP INDEX units_reach;
             CREATE INDEX units_reach ON units(tenant, COALESCE(end_date, start_date));
             CREATE VIRTUAL TABLE unit_text USING fts5(title, body, tags, tokenize = 'unicode61 remove_diacritics 2');
             DROP TABLE unit_management_history; DROP INDEX units_unfilled; ALTER TABLE units DROP COLUMN management;
             DROP TRIGGER journal_subjects_written; DROP TABLE journal_subjects; DROP INDEX operations_by_kind; DROP INDEX operations_by_agent; DROP TABLE web_sessions; DROP TABLE unit_metadata_history; DROP TABLE deliveries; DROP TABLE account_agencies; DROP TABLE elimination_purges; DROP TABLE tombstone_objects; DROP TABLE tombstones; DROP TABLE elimination_units; DROP TABLE eliminations;
             DROP INDEX objects_group; DROP INDEX unit_object_groups_group; DROP INDEX unit_parents_parent;
             CREATE INDEX unit_parents_parent ON unit_parents(tenant, parent);
             ALTER TABLE operations DROP COLUMN node; ALTER TABLE transfer_queue DROP COLUMN node;
             PRAGMA user_version = 12;",
        )
        .unwrap();
    }
    let cat = super::SqliteCatalog::open(&path).unwrap();
    {
        let conn = cat.lock();
        let kept = derived_tables_agree(&conn);
        assert!(kept.iter().map(|k| k.2).sum::<i64>() > 2_000, "{kept:?}");
    }
    let after = searches(&cat);
    assert_eq!(after, before);
    assert_eq!(after[0].0, 3);
    assert_eq!(after[1], (0, vec![]));
    assert_eq!(after[3], (1, vec!["CONF-S-u0".to_owned()]));
    // The events written before migration 24 are found by what they are about.
    for tenant in cat.tenants().unwrap() {
        let journal = cat.journal(&tenant.id).unwrap();
        assert!(!journal.is_empty());
        for event in &journal {
            let about = [crate::JournalSubject::Operation(
                event.event.operation.to_string(),
            )];
            let mut found = Vec::new();
            cat.each_event_about(&tenant.id, &about, 0, &mut |row| {
                found.push(row.unwrap().sequence);
                Ok(())
            })
            .unwrap();
            assert!(found.contains(&event.sequence), "{tenant:?} {event:?}");
        }
    }
}

/// A catalog of schema 16 (an execution in one transaction, its pending purge as JSON)
/// keeps its eliminations, their units in order and their tombstones, and its pending purge
/// becomes rows.
#[test]
fn eliminations_of_schema_16_keep_their_state_units_and_purge() {
    // Eliminations only: schema 16 knew no transfer out.
    const ELIMINATIONS: &str =
        "SELECT tenant || ' ' || id || ' ' || state || ' ' || steps FROM eliminations
        WHERE kind = 'elimination' ORDER BY tenant, id";
    const UNITS: &str = "SELECT elimination || ' ' || unit || ' ' || status FROM elimination_units
        WHERE elimination IN (SELECT id FROM eliminations WHERE kind = 'elimination') ORDER BY rowid";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let rows = |conn: &rusqlite::Connection, sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let (eliminations, units, tombstones);
    {
        let cat = super::SqliteCatalog::open(&path).unwrap();
        crate::conformance::run(&cat);
        let conn = cat.lock();
        eliminations = rows(&conn, ELIMINATIONS);
        units = rows(&conn, UNITS);
        tombstones = rows(
            &conn,
            "SELECT unit || ' ' || record FROM tombstones ORDER BY rowid",
        );
        assert!(!eliminations.is_empty() && units.len() >= 4 && tombstones.len() >= 2);
        // Back to schema 16's tables (0016_eliminations.sql), with a purge still pending.
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             DROP TABLE elimination_purges;
             CREATE TABLE e16 (tenant TEXT NOT NULL, id TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('proposed', 'agreed', 'agreement_refused',
                    'visa_granted', 'visa_partly_granted', 'visa_refused', 'withdrawn', 'executed')),
                at TEXT NOT NULL, seda_version TEXT NOT NULL, proposed_by TEXT NOT NULL,
                proposed_at TEXT NOT NULL, steps TEXT NOT NULL, totals TEXT NOT NULL, purge TEXT,
                PRIMARY KEY (tenant, id), FOREIGN KEY (tenant, id) REFERENCES operations(tenant, id)) STRICT;
             INSERT INTO e16 SELECT tenant, id, state, at, seda_version, proposed_by, proposed_at, steps, totals,
                CASE WHEN state = 'executed' THEN '[{\"operation\":\"op-i\",\"object\":\"o-1\"},{\"operation\":\"op-i\",\"object\":\"o-2\"}]' END
                FROM eliminations WHERE kind = 'elimination';
             DROP TABLE eliminations; ALTER TABLE e16 RENAME TO eliminations;
             CREATE TABLE u16 (tenant TEXT NOT NULL, elimination TEXT NOT NULL, unit TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('proposed', 'excluded', 'visa_excepted', 'dropped', 'destroyed')),
                reason TEXT, record TEXT NOT NULL, PRIMARY KEY (tenant, elimination, unit),
                FOREIGN KEY (tenant, elimination) REFERENCES eliminations(tenant, id)) STRICT;
             INSERT INTO u16 (rowid, tenant, elimination, unit, status, reason, record)
                SELECT rowid, tenant, elimination, unit, status, reason, record FROM elimination_units
                WHERE elimination IN (SELECT id FROM eliminations);
             DROP TABLE elimination_units; ALTER TABLE u16 RENAME TO elimination_units;
             CREATE INDEX elimination_units_unit ON elimination_units(tenant, unit) WHERE status = 'proposed';
             DROP INDEX tombstones_elimination;
             DROP TRIGGER journal_subjects_written; DROP TABLE journal_subjects; DROP INDEX operations_by_kind; DROP INDEX operations_by_agent; DROP TABLE web_sessions; DROP TABLE unit_metadata_history; DROP TABLE deliveries; DROP TABLE account_agencies;
             ALTER TABLE operations DROP COLUMN node; ALTER TABLE transfer_queue DROP COLUMN node;
             PRAGMA foreign_keys = ON;
             PRAGMA user_version = 16;",
        )
        .unwrap();
    }
    let cat = super::SqliteCatalog::open(&path).unwrap();
    let conn = cat.lock();
    assert_eq!(rows(&conn, ELIMINATIONS), eliminations);
    assert_eq!(rows(&conn, UNITS), units);
    assert_eq!(
        rows(
            &conn,
            "SELECT unit || ' ' || record FROM tombstones ORDER BY rowid"
        ),
        tombstones
    );
    let executed = rows(
        &conn,
        "SELECT tenant FROM eliminations WHERE state = 'executed'",
    )
    .len();
    assert!(executed >= 1);
    assert_eq!(
        rows(
            &conn,
            "SELECT batch || '/' || object FROM elimination_purges ORDER BY rowid"
        )
        .len(),
        2 * executed
    );
    assert!(rows(&conn, "PRAGMA foreign_key_check").is_empty());
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1, "foreign keys are on again after migrating");
    drop(conn);
    let pending = crate::EliminationStore::pending_purges(&cat).unwrap();
    assert_eq!(
        pending.iter().map(|p| p.2.len()).sum::<usize>(),
        2 * executed
    );
}

/// A tenant's text index that names another tenant's unit (out of step with the units,
/// whatever the cause) never shows that unit: the tenant is checked again where the
/// matches are counted and sorted, and a page read beyond them fails, naming the row.
#[test]
fn a_foreign_row_in_a_text_index_is_never_shown() {
    use crate::UnitQuery;
    use crate::conformance::{tenant_with_units, unit};
    let cat = super::SqliteCatalog::in_memory().unwrap();
    tenant_with_units(&cat, "ta", [unit("a-1", &[], &[])].into_iter());
    let mut secret = unit("b-1", &[], &[]);
    secret.title = "Rapport confidentiel".into();
    tenant_with_units(&cat, "tb", [secret].into_iter());
    let q = UnitQuery {
        text: Some("confidentiel".into()),
        limit: 10,
        ..Default::default()
    };
    let ta = "ta".parse().unwrap();
    let insert = |rowid: i64| {
        cat.lock()
            .execute(
                &format!(
                    "INSERT INTO {} (rowid, title, body, tags) VALUES (?1, 'Rapport confidentiel', '', '')",
                    super::text_table("ta")
                ),
                [rowid],
            )
            .unwrap();
    };
    let foreign: i64 = cat
        .lock()
        .query_row("SELECT rowid FROM units WHERE tenant = 'tb'", [], |r| {
            r.get(0)
        })
        .unwrap();
    insert(foreign);
    let with_date = UnitQuery {
        from: Some("1900-01-01".into()),
        ..q.clone()
    };
    for q in [&q, &with_date] {
        let page = cat.search_units(&ta, q, &crate::Interrupt::none()).unwrap();
        assert_eq!((page.total, page.units.len()), (0, 0), "{q:?}");
    }
    // Beyond the window, the page comes from the index's order: its first row is the
    // foreign one.
    for rowid in foreign + 1000..foreign + 3000 {
        insert(rowid);
    }
    match cat.search_units(&ta, &q, &crate::Interrupt::none()) {
        Err(crate::CatalogError::Corruption(m)) => {
            assert!(
                m.contains(&format!(
                    "unit row {foreign}, which is not one of its units"
                )),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// Events appended from many threads at once (group commit): every one is kept, once,
/// in one unbroken chain.
#[test]
fn concurrent_appends_are_all_kept_in_one_chain() {
    use carnac_model::journal::NewEvent;
    use carnac_model::{OperationId, Status, TenantId};
    let dir = tempfile::tempdir().unwrap();
    let cat =
        std::sync::Arc::new(super::SqliteCatalog::open(&dir.path().join("c.sqlite")).unwrap());
    let t = TenantId::new("t").unwrap();
    let ev = |op: String| NewEvent {
        tenant: TenantId::new("t").unwrap(),
        operation: OperationId::new(op).unwrap(),
        kind: "ACCESS".into(),
        outcome: Status::Ok,
        time: "2026-11-29T04:00:00Z".into(),
        agent: "test".into(),
        detail: serde_json::json!({}),
    };
    cat.create_tenant(&t, "T", &ev("op-create".into())).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let cat = cat.clone();
            std::thread::spawn(move || {
                for j in 0..25 {
                    cat.append_events(&[ev(format!("op-{i}-{j}"))]).unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let journal = cat.journal(&t).unwrap();
    assert_eq!(journal.len(), 1 + 8 * 25);
    let mut ops: Vec<_> = journal
        .iter()
        .map(|e| e.event.operation.to_string())
        .collect();
    ops.sort();
    ops.dedup();
    assert_eq!(ops.len(), journal.len(), "each event once");
    let mut verifier = carnac_model::journal::ChainVerifier::new();
    for e in &journal {
        verifier.push(e);
    }
    assert!(verifier.finish().is_empty(), "one unbroken chain");
}

fn units_found(c: &super::SqliteCatalog, tenant: &str) -> u64 {
    let q = crate::UnitQuery {
        text: Some("title".into()),
        limit: 10,
        ..Default::default()
    };
    let page = c
        .search_units(
            &crate::conformance::t(tenant),
            &q,
            &crate::Interrupt::none(),
        )
        .unwrap();
    page.total
}

/// When the first search reader's snapshot began, if it holds one (searches one at a
/// time always take the first reader).
fn first_snapshot(c: &super::SqliteCatalog) -> Option<std::time::Instant> {
    c.searches.readers[0]
        .lock()
        .unwrap()
        .snapshot
        .map(|s| s.began)
}

#[test]
fn searches_keep_their_snapshot_only_while_what_they_read_is_unchanged() {
    use crate::conformance::{event, ingest_units, tenant_with_units, unit};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let cat = super::SqliteCatalog::open(&path).unwrap();
    // Ages do not end snapshots in this test, however slow the machine, until said.
    let max_age = |ms: u64| cat.searches.max_age_ms.store(ms, super::Ordering::Relaxed);
    max_age(3_600_000);
    tenant_with_units(
        &cat,
        "snap",
        ["u0", "u1"].iter().map(|id| unit(id, &[], &[])),
    );
    assert_eq!(units_found(&cat, "snap"), 2);
    let kept = first_snapshot(&cat);
    assert!(kept.is_some(), "a search keeps its snapshot");
    // A request's access event: the next search reads the same snapshot, page cache
    // and all.
    cat.append_events(&[event(
        "snap",
        "op-access",
        "ACCESS",
        carnac_model::Status::Ok,
    )])
    .unwrap();
    assert_eq!(units_found(&cat, "snap"), 2);
    assert_eq!(first_snapshot(&cat), kept);
    // A change through this catalog: seen by the next search.
    ingest_units(&cat, "snap", "op-more", [unit("u2", &[], &[])].into_iter());
    assert_eq!(units_found(&cat, "snap"), 3);
    assert_ne!(first_snapshot(&cat), kept);
    // A change by another process: not seen while the snapshot is young enough, seen
    // once it is older than the age allowed.
    let other = super::SqliteCatalog::open(&path).unwrap();
    ingest_units(
        &other,
        "snap",
        "op-other",
        [unit("u3", &[], &[])].into_iter(),
    );
    assert_eq!(units_found(&cat, "snap"), 3);
    max_age(50);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(units_found(&cat, "snap"), 4);
}

#[test]
fn closing_the_catalog_copies_the_log_back_and_removes_it() {
    use crate::conformance::{tenant_with_units, unit};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let log = dir.path().join("catalog.sqlite-wal");
    let cat = super::SqliteCatalog::open(&path).unwrap();
    tenant_with_units(&cat, "close", ["u0"].iter().map(|id| unit(id, &[], &[])));
    assert_eq!(units_found(&cat, "close"), 1);
    assert!(log.exists());
    drop(cat);
    assert!(!log.exists(), "the writer closed last and removed the log");
    let cat = super::SqliteCatalog::open(&path).unwrap();
    assert_eq!(units_found(&cat, "close"), 1);
}

#[test]
fn the_log_starts_again_while_searches_hold_snapshots() {
    use crate::conformance::{event, tenant_with_units, unit};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let cat = super::SqliteCatalog::open(&path).unwrap();
    // Only the restart ends the snapshot in this test, however slow the machine.
    cat.searches
        .max_age_ms
        .store(3_600_000, super::Ordering::Relaxed);
    tenant_with_units(&cat, "log", ["u0"].iter().map(|id| unit(id, &[], &[])));
    let access = |i: usize| {
        cat.append_events(&[event(
            "log",
            &format!("op-{i}"),
            "ACCESS",
            carnac_model::Status::Ok,
        )])
        .unwrap()
    };
    let conn = rusqlite::Connection::open(&path).unwrap();
    let frames = || -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap()
    };
    // A search's snapshot pins the log: checkpoints cannot copy it back past the
    // snapshot, so the writer cannot start it again, and it grows.
    assert_eq!(units_found(&cat, "log"), 1);
    for i in 0..40 {
        access(i);
    }
    let grown = frames();
    access(40);
    assert!(frames() > grown, "the log grows while a snapshot pins it");
    // Past the threshold, the tick ends idle snapshots and restarts the log: the next
    // commit writes it from its beginning.
    super::checkpoint(&conn, &cat.searches, grown / 2).unwrap();
    assert_eq!(first_snapshot(&cat), None);
    access(41);
    assert!(frames() < grown / 2, "the log started again");
    // Searches keep snapshots again afterwards.
    assert_eq!(units_found(&cat, "log"), 1);
    assert!(first_snapshot(&cat).is_some());
}

/// Beyond the exact count, a search stays bounded: the count stops, there are no facets,
/// the order is the index's, and the answer says so.
#[test]
fn wide_searches_are_capped_and_say_it() {
    use crate::{UnitQuery, UnitRow};
    use carnac_model::{TenantId, UnitId};
    let cat = super::SqliteCatalog::in_memory().unwrap();
    let n = super::EXACT_UP_TO + 50;
    let units = (0..n).map(|i| UnitRow {
        id: UnitId::new(format!("u{i:06}")).unwrap(),
        xml_id: format!("U{i}"),
        title: format!("Délibération {i}"),
        description_level: None,
        start_date: Some("2020-01-01".into()),
        end_date: None,
        originating_agency: Some(format!("AG{}", i % 3)),
        parents: Vec::new(),
        object_groups: Vec::new(),
        keywords: Vec::new(),
        management: Default::default(),
        metadata: "<ArchiveUnit/>".into(),
    });
    crate::conformance::tenant_with_units(&cat, "t", units);
    let t = TenantId::new("t").unwrap();
    let wide = cat
        .search_units(
            &t,
            &UnitQuery {
                text: Some("délibération".into()),
                limit: 5,
                ..Default::default()
            },
            &crate::Interrupt::none(),
        )
        .unwrap();
    assert_eq!(
        (wide.total, wide.total_exact, wide.order.as_str()),
        (super::EXACT_UP_TO, false, "ingest")
    );
    assert_eq!(wide.units.len(), 5);
    // No facets beyond the count: those of the first matches would mislead.
    assert!(wide.agencies.is_empty() && wide.years.is_empty());
    let all = cat
        .search_units(
            &t,
            &UnitQuery {
                limit: 5,
                ..Default::default()
            },
            &crate::Interrupt::none(),
        )
        .unwrap();
    // Without criteria, the counts kept at commit make the total exact all the same.
    assert_eq!(
        (all.total, all.total_exact, all.order.as_str()),
        (n, true, "identifier")
    );
    assert_eq!(all.units[0].id.as_str(), "u000000");
    // A narrower search is exact, in relevance or title order.
    let narrow = cat
        .search_units(
            &t,
            &UnitQuery {
                text: Some("délibération 42".into()),
                limit: 5,
                ..Default::default()
            },
            &crate::Interrupt::none(),
        )
        .unwrap();
    assert_eq!(
        (narrow.total, narrow.total_exact, narrow.order.as_str()),
        (1, true, "relevance")
    );
    let agency = cat
        .search_units(
            &t,
            &UnitQuery {
                agency: Some("AG1".into()),
                limit: 5,
                ..Default::default()
            },
            &crate::Interrupt::none(),
        )
        .unwrap();
    assert_eq!(
        (agency.total, agency.total_exact, agency.order.as_str()),
        (n / 3, true, "title")
    );
    // The kept counts and the narrow copy follow units removed or changed (elimination
    // will), in the same statement's transaction, and always equal a recount.
    let conn = cat.lock();
    conn.execute_batch(
        "DELETE FROM units WHERE id IN ('u000001', 'u000004');
         UPDATE units SET originating_agency = NULL, start_date = '1999-12-31' WHERE id = 'u000002';",
    )
    .unwrap();
    let kept = derived_tables_agree(&conn);
    assert!(kept.contains(&("t/".into(), "1999".into(), 1)));
    assert!(kept.contains(&("t/AG1".into(), "2020".into(), (n / 3) as i64 - 2)));
}

/// Asserts that the search's kept counts (rows above zero) and narrow copy are what a
/// recount of the units gives; returns the counts as (tenant/agency, year, n).
fn derived_tables_agree(conn: &rusqlite::Connection) -> Vec<(String, String, i64)> {
    let read = |sql: &str| -> Vec<(String, String, i64)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let kept =
        read("SELECT tenant || '/' || agency, year, n FROM unit_counts WHERE n > 0 ORDER BY 1, 2");
    assert_eq!(
        kept,
        read(
            "SELECT tenant || '/' || COALESCE(originating_agency, ''), COALESCE(substr(start_date, 1, 4), ''), COUNT(*)
             FROM units GROUP BY 1, 2 ORDER BY 1, 2"
        )
    );
    let copy = |table: &str, key: &str| {
        read(&format!(
            "SELECT tenant || '/' || {key}, COALESCE(originating_agency, '') || '|' || COALESCE(start_date, '') || '|' || COALESCE(end_date, ''), 0
             FROM {table} ORDER BY {key}"
        ))
    };
    assert_eq!(copy("unit_facets", "unit"), copy("units", "rowid"));
    kept
}

#[test]
fn typed_text_cannot_inject_fts_syntax() {
    use super::fts_query;
    assert_eq!(
        fts_query("budget \"OR\" NEAR(x) *", None).as_deref(),
        Some("\"budget\" AND \"OR\" AND \"NEAR\" AND \"x\"")
    );
    assert_eq!(
        fts_query("conseil municipal", Some("title")).as_deref(),
        Some("title : \"conseil\" AND title : \"municipal\"")
    );
    assert_eq!(fts_query(" -*- ", None), None);
    assert_eq!(
        fts_query(&["a"; 30_000].join(" "), None).as_deref(),
        Some("\"a\""),
        "thirty thousand times one word is one word"
    );
}
