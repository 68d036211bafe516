//! The suite every catalog implementation passes, one file per aggregate: what a second
//! backend (PostgreSQL) must do, read as its author would read it. It tests what callers
//! see (answers, counts, order, atomicity, isolation between tenants), never how SQLite gets
//! there; `run` calls every part.

mod accounts;
mod deliveries;
mod eliminations;
mod holdings;
mod journal;
mod metadata;
mod nodes;
mod operations;
mod queue;
mod referentials;
mod rules;
mod search;
mod sessions;

use crate::*;
use serde_json::json;

pub(crate) fn t(s: &str) -> TenantId {
    TenantId::new(s).expect("valid id in tests")
}

/// A time written in a test, which must be one.
pub(crate) fn at(s: &str) -> carnac_model::Timestamp {
    carnac_model::Timestamp::parse(s).expect("a valid time in tests")
}
pub(crate) fn op(s: &str) -> OperationId {
    OperationId::new(s).expect("valid id in tests")
}

pub(crate) fn event(tenant: &str, operation: &str, kind: &str, outcome: Status) -> NewEvent {
    NewEvent {
        tenant: t(tenant),
        operation: op(operation),
        kind: kind.into(),
        outcome,
        time: "2026-11-29T04:00:00Z".into(),
        agent: "test".into(),
        detail: json!({"k": kind}),
    }
}

pub fn run(c: &dyn Catalog) {
    accounts::tenants(c);
    referentials::referentials(c);
    operations::rejected_operation(c);
    holdings::accepted_ingest(c);
    holdings::failed_commit_leaves_nothing(c);
    operations::large_reply(c);
    holdings::isolation(c);
    holdings::copies_recorded_later(c);
    journal::seals(c);
    journal::evidence(c);
    journal::chained(c);
    journal::subjects(c);
    accounts::accounts(c);
    accounts::suspension(c);
    search::search(c);
    search::search_beyond_window(c);
    queue::queue(c);
    accounts::tokens(c);
    queue::requeue(c);
    operations::recorded_operation(c);
    operations::paged_operations(c);
    operations::intake_by_year(c);
    rules::graph(c);
    rules::change(c);
    metadata::change(c);
    eliminations::eliminations(c);
    eliminations::transfers_out(c);
    eliminations::closures(c);
    deliveries::deliveries(c);
    sessions::sessions(c);
    nodes::one_node(c);
    accounts::last_operator(c);
}

/// A new tenant whose one ingest commits these units.
pub(crate) fn tenant_with_units(
    c: &dyn Catalog,
    tenant: &str,
    units: impl Iterator<Item = UnitRow>,
) {
    c.create_tenant(
        &t(tenant),
        tenant,
        &event(tenant, &format!("op-{tenant}"), "TENANT_CREATE", Status::Ok),
    )
    .expect("tenant");
    ingest_units(c, tenant, &format!("op-{tenant}-ingest"), units);
}

/// One more ingest, `operation`, that commits these units to `tenant`.
pub(crate) fn ingest_units(
    c: &dyn Catalog,
    tenant: &str,
    operation: &str,
    units: impl Iterator<Item = UnitRow>,
) {
    let o = op(operation);
    c.start_operation(
        &t(tenant),
        &o,
        &"INGEST".into(),
        &at("2026-11-29T04:03:00Z"),
        "test",
    )
    .expect("start");
    c.commit_ingest(
        &t(tenant),
        IngestCommit {
            operation: &o,
            groups: &mut std::iter::empty(),
            objects: &mut std::iter::empty(),
            offers: &["offer-1".to_owned()],
            units: &mut units.map(Ok),
            status: Status::Ok,
            summary: json!({"status": "OK"}),
            reply: &mut &b"<ATR/>"[..],
            ended_at: &at("2026-11-29T04:03:01Z"),
            event: &event(tenant, operation, "INGEST", Status::Ok),
        },
    )
    .expect("commit");
}

pub(crate) fn unit(id: &str, parents: &[&str], groups: &[&str]) -> UnitRow {
    UnitRow {
        id: UnitId::new(id).expect("id"),
        xml_id: format!("x-{id}"),
        title: format!("title {id}"),
        description_level: Some("Item".into()),
        start_date: Some("2016-06-03".into()),
        end_date: None,
        originating_agency: Some("AG1".into()),
        parents: parents
            .iter()
            .map(|p| UnitId::new(*p).expect("id"))
            .collect(),
        object_groups: groups
            .iter()
            .map(|g| ObjectId::new(*g).expect("id"))
            .collect(),
        keywords: vec!["k".into()],
        management: {
            let mut m = carnac_model::rules::Management::default();
            let c = m.category_mut(carnac_model::referential::RuleCategory::AppraisalRule);
            c.rules.push(carnac_model::rules::Rule {
                rule: "APP-1".into(),
                start_date: Some("2016-06-03".into()),
                end_date: Some("2026-06-03".into()),
                ..Default::default()
            });
            c.final_action = Some(carnac_model::rules::FinalAction::Destroy);
            m
        },
        metadata: format!("<ArchiveUnit id=\"x-{id}\"/>"),
    }
}
