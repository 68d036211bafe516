//! The catalog's conformance suite on a real PostgreSQL server (`CARNAC_TEST_POSTGRES`, as
//! `scripts/services` starts it), each run in a schema of its own, dropped afterwards.
//! Without a server the test says so and passes, unless `CARNAC_REQUIRE_ORACLES` asks for
//! every external check.

#![allow(clippy::unwrap_used)]

use carnac_catalog_postgres::{PostgresCatalog, PostgresConfig};

/// A catalog in a new schema of the test server, or `None` without one.
fn fresh_catalog(name: &str) -> Option<(PostgresCatalog, String)> {
    let Ok(url) = std::env::var("CARNAC_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
            "CARNAC_TEST_POSTGRES is not set (scripts/services start DIR gives it)"
        );
        eprintln!("skipped: no PostgreSQL (CARNAC_TEST_POSTGRES)");
        return None;
    };
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).unwrap();
    let schema = format!("test_{name}_{}", hex::encode(suffix));
    let mut config = PostgresConfig::new(url.clone());
    config.schema = schema.clone();
    config.pool_size = 4;
    Some((PostgresCatalog::open(&config).unwrap(), url))
}

fn drop_schema(url: &str, schema: &str) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

#[test]
fn conformance() {
    let Some((catalog, url)) = fresh_catalog("conformance") else {
        return;
    };
    let schema = catalog.schema().to_owned();
    carnac_catalog::conformance::run(&catalog);
    drop(catalog);
    drop_schema(&url, &schema);
}

/// The journal and its seals refuse updates, deletes and truncation in the database itself,
/// whoever connects.
#[test]
fn the_journal_is_append_only_in_the_database() {
    let Some((catalog, url)) = fresh_catalog("append_only") else {
        return;
    };
    let schema = catalog.schema().to_owned();
    carnac_catalog::conformance::run(&catalog);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for sql in [
        "UPDATE {s}.journal SET outcome = 'OK'",
        "DELETE FROM {s}.journal",
        "TRUNCATE {s}.journal CASCADE",
        "DELETE FROM {s}.journal_seals",
        "UPDATE {s}.journal_subjects SET subject = 'x'",
        "DELETE FROM {s}.tombstones",
    ] {
        let sql = sql.replace("{s}", &schema);
        let err = client.batch_execute(&sql).unwrap_err();
        let message = err.as_db_error().unwrap().message().to_owned();
        assert!(
            message.contains("append-only") || message.contains("kept as written"),
            "{sql}: {message}"
        );
    }
    drop(catalog);
    drop_schema(&url, &schema);
}

/// Two catalogs on one database (two nodes), each with threads appending to the same
/// tenants' journals at once: every chain stays whole, numbered without a gap, each event
/// linked to the one before it.
#[test]
fn concurrent_writers_keep_each_chain_exact() {
    use carnac_catalog::prelude::*;
    use carnac_model::journal::{GENESIS, NewEvent, event_hash};
    let Some((first, url)) = fresh_catalog("chains") else {
        return;
    };
    let schema = first.schema().to_owned();
    let mut config = PostgresConfig::new(url.clone());
    config.schema = schema.clone();
    config.pool_size = 4;
    let second = PostgresCatalog::open(&config).unwrap();
    let tenants = ["chain-a", "chain-b"];
    let event = |tenant: &str, op: &str| NewEvent {
        tenant: tenant.parse().unwrap(),
        operation: op.parse().unwrap(),
        kind: "ACCESS".into(),
        outcome: carnac_model::Status::Ok,
        time: "2026-12-05T08:00:00.000Z".into(),
        agent: "test".into(),
        detail: serde_json::json!({"op": op}),
    };
    for t in tenants {
        first
            .create_tenant(&t.parse().unwrap(), t, &event(t, &format!("op-{t}-create")))
            .unwrap();
    }
    let nodes = [&first, &second];
    std::thread::scope(|s| {
        for (n, node) in nodes.iter().enumerate() {
            for thread in 0..3 {
                s.spawn(move || {
                    for i in 0..40 {
                        let events: Vec<NewEvent> = tenants
                            .iter()
                            .map(|t| event(t, &format!("op-{n}-{thread}-{i}")))
                            .collect();
                        node.append_events(&events).unwrap();
                    }
                });
            }
        }
    });
    for t in tenants {
        let journal = second.journal(&t.parse().unwrap()).unwrap();
        assert_eq!(journal.len(), 1 + 2 * 3 * 40);
        let mut previous = GENESIS.to_owned();
        for (i, e) in journal.iter().enumerate() {
            assert_eq!(e.sequence, i as u64 + 1);
            assert_eq!(e.previous, previous);
            let hash = event_hash(e.format_version, e.sequence, &e.event, &previous).unwrap();
            assert_eq!(e.hash, hash, "event {} of {t}", e.sequence);
            previous = hash;
        }
    }
    drop((first, second));
    drop_schema(&url, &schema);
}

/// `tls = true`: the connection is encrypted and the server's certificate checked, against
/// the configured authority (accepted) or the web's roots alone (refused: a private
/// authority's certificate is not one of theirs).
#[test]
fn tls_connections_check_the_server() {
    use carnac_catalog::prelude::*;
    use carnac_catalog_postgres::Tls;
    let Some((plain, url)) = fresh_catalog("tls") else {
        return;
    };
    let schema = plain.schema().to_owned();
    let ca = std::env::var("CARNAC_TEST_POSTGRES_CA").expect("scripts/services gives the CA");
    let mut config = PostgresConfig::new(url.clone());
    config.schema = schema.clone();
    config.tls = Tls::Required {
        trust: vec![std::fs::read_to_string(ca).unwrap()],
    };
    let tls = PostgresCatalog::open(&config).unwrap();
    assert!(tls.tenants().unwrap().is_empty());
    config.tls = Tls::Required { trust: vec![] };
    let refused = PostgresCatalog::open(&config)
        .err()
        .expect("an unknown authority");
    assert!(refused.to_string().contains("certificate"), "{refused}");
    drop((plain, tls));
    drop_schema(&url, &schema);
}

/// Two nodes on one catalog: while the first is alive, its running operation is not
/// abandoned, its queued transfer and its duty are not the second's; once its lease has
/// lapsed (its process gone), they are.
#[test]
fn a_gone_node_leaves_its_work_to_another() {
    use carnac_catalog::prelude::*;
    use carnac_catalog::{Intake, QueuedTransfer};
    use carnac_model::journal::NewEvent;
    let Some((first, url)) = fresh_catalog("nodes") else {
        return;
    };
    let schema = first.schema().to_owned();
    let mut config = PostgresConfig::new(url.clone());
    config.schema = schema.clone();
    config.pool_size = 2;
    let second = PostgresCatalog::open(&config).unwrap();
    assert_ne!(first.node(), second.node());
    let tenant: carnac_model::TenantId = "nodes".parse().unwrap();
    let event = |op: &str, kind: &str| NewEvent {
        tenant: tenant.clone(),
        operation: op.parse().unwrap(),
        kind: kind.into(),
        outcome: carnac_model::Status::Ok,
        time: "2026-12-05T08:00:00.000Z".into(),
        agent: "test".into(),
        detail: serde_json::json!({}),
    };
    first
        .create_tenant(&tenant, "nodes", &event("op-nodes-create", "TENANT_CREATE"))
        .unwrap();
    let ingest: carnac_model::OperationId = "op-nodes-ingest".parse().unwrap();
    first
        .start_operation(
            &tenant,
            &ingest,
            &"INGEST".into(),
            &carnac_model::Timestamp::parse("2026-12-05T08:00:01.000Z").unwrap(),
            "test",
        )
        .unwrap();
    let queued: carnac_model::OperationId = "op-nodes-queued".parse().unwrap();
    first
        .enqueue_transfer(
            &QueuedTransfer {
                tenant: tenant.clone(),
                operation: queued.clone(),
                received_at: carnac_model::Timestamp::parse("2026-12-05T08:00:02.000Z").unwrap(),
                agent: "test".into(),
                bytes: 10,
                intake: Intake::Package,
            },
            &event("op-nodes-queued", "TRANSFER_RECEIVED"),
        )
        .unwrap();
    let lease = std::time::Duration::from_secs(60);
    assert!(first.lead("maintenance", lease).unwrap());
    // The first is alive: nothing of its work is the second's.
    assert!(second.abandoned_operations(false).unwrap().is_empty());
    assert!(!second.claim_transfer(&tenant, &queued).unwrap());
    assert!(!second.lead("maintenance", lease).unwrap());
    // The first's process is gone: its lease lapses (here at once).
    let first_node = first.node().to_owned();
    drop(first);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .execute(
            &format!(
                "UPDATE {schema}.nodes SET lease_until = now() - interval '1 second' WHERE id = $1"
            ),
            &[&first_node],
        )
        .unwrap();
    assert_eq!(
        second.abandoned_operations(false).unwrap(),
        vec![(tenant.clone(), ingest)]
    );
    assert!(second.claim_transfer(&tenant, &queued).unwrap());
    assert!(second.lead("maintenance", lease).unwrap());
    drop(second);
    drop_schema(&url, &schema);
}

/// A search whose asker goes while its statement runs is cancelled at the server (here the
/// statement waits on a lock another session holds, as a long search would run): it ends
/// with `Interrupted` at once, not when the statement would have ended.
#[test]
fn a_search_no_longer_wanted_is_cancelled_at_the_server() {
    use carnac_catalog::SearchIndex;
    use carnac_catalog::search::{Interrupt, UnitQuery};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some((catalog, url)) = fresh_catalog("cancel") else {
        return;
    };
    let schema = catalog.schema().to_owned();
    // Held 10 s at most: without the cancel, the search would end then (too late).
    let mut holder = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    holder
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {schema}.units IN ACCESS EXCLUSIVE MODE"
        ))
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(10));
        holder.batch_execute("ROLLBACK").unwrap();
    });
    let gone = Arc::new(AtomicBool::new(false));
    let interrupt = Interrupt::new(None, vec![gone.clone()]);
    let started = std::time::Instant::now();
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            gone.store(true, Ordering::Relaxed);
        });
        let query = UnitQuery {
            text: Some("budget".into()),
            limit: 10,
            ..UnitQuery::default()
        };
        catalog.search_units(&"0".parse().unwrap(), &query, &interrupt)
    });
    let took = started.elapsed();
    assert!(
        matches!(outcome, Err(carnac_catalog::CatalogError::Interrupted(_))),
        "{outcome:?}"
    );
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    release.join().unwrap();
    drop(catalog);
    drop_schema(&url, &schema);
}
