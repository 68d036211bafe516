//! Management rules: each unit's own, kept as given; the graph effective rules are computed
//! from; units ingested before management was kept, filled once.

use super::*;
use carnac_model::referential::RuleCategory;
use carnac_model::rules::{FinalAction, Management};

fn id(s: &str) -> UnitId {
    UnitId::new(s).expect("id")
}

/// Each unit's management comes back as committed, and the graph of a unit holds it and
/// every unit above it, once, with parents and agencies, and nothing of another tenant.
pub fn graph(c: &dyn Catalog) {
    let mut top = unit("conf-r-top", &[], &[]);
    top.management = {
        let mut m = Management::default();
        let a = m.category_mut(RuleCategory::AppraisalRule);
        a.final_action = Some(FinalAction::Destroy);
        a.prevent_inheritance = true;
        m.category_mut(RuleCategory::HoldRule).ref_non_rule_ids = vec!["HOL-9".into()];
        m
    };
    let left = unit("conf-r-left", &["conf-r-top"], &[]);
    let right = unit("conf-r-right", &["conf-r-top"], &[]);
    let leaf = unit("conf-r-leaf", &["conf-r-left", "conf-r-right"], &[]);
    let other = unit("conf-r-other", &[], &[]);
    tenant_with_units(
        c,
        "conf-r",
        [top.clone(), left, right, leaf, other].into_iter(),
    );
    tenant_with_units(c, "conf-r2", [unit("conf-r-top", &[], &[])].into_iter());
    let tenant = t("conf-r");
    let details = c
        .unit_details(&tenant, &id("conf-r-top"))
        .expect("details")
        .expect("unit");
    assert_eq!(details.management.as_ref(), Some(&top.management));

    let mut g = c
        .rules_graph(&tenant, &[id("conf-r-leaf"), id("conf-r-unknown")])
        .expect("graph");
    g.sort_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<&str> = g.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(
        ids,
        ["conf-r-leaf", "conf-r-left", "conf-r-right", "conf-r-top"]
    );
    let mut leaf_parents: Vec<&str> = g[0].parents.iter().map(UnitId::as_str).collect();
    leaf_parents.sort();
    assert_eq!(leaf_parents, ["conf-r-left", "conf-r-right"]);
    assert_eq!(g[3].management.as_ref(), Some(&top.management));
    assert_eq!(g[3].originating_agency, top.originating_agency);
    assert!(g[3].parents.is_empty());
    assert!(
        c.rules_graph(&t("conf-r2"), &[id("conf-r-leaf")])
            .expect("graph")
            .is_empty(),
        "another tenant's units are not in the graph"
    );
    // Below: the leaf, once, through both parents; nothing below the leaf.
    let mut below: Vec<String> = c
        .descendants(&tenant, &[id("conf-r-top")])
        .expect("descendants")
        .iter()
        .map(ToString::to_string)
        .collect();
    below.sort();
    assert_eq!(below, ["conf-r-leaf", "conf-r-left", "conf-r-right"]);
    assert!(
        c.descendants(&tenant, &[id("conf-r-leaf")])
            .expect("d")
            .is_empty()
    );
    assert!(
        c.descendants(&t("conf-r2"), &[id("conf-r-top")])
            .expect("d")
            .is_empty()
    );
    // All units, in pages.
    let first = c.unit_ids(&tenant, None, 2).expect("page");
    assert_eq!(first.len(), 2);
    let rest = c.unit_ids(&tenant, first.last(), 10).expect("page");
    assert_eq!(first.len() + rest.len(), 5);
    assert!(rest.iter().all(|u| first.iter().all(|f| f < u)));
    // Every unit committed now has its management: nothing to fill.
    assert!(c.units_to_fill(&tenant, 10).expect("to fill").is_empty());
    assert_eq!(
        c.fill_management(
            &tenant,
            &[(id("conf-r-top"), Management::default())],
            &json!({}),
            &event("conf-r", "op-conf-r-fill", "RULES_FILL", Status::Ok),
        )
        .expect("fill"),
        0,
        "a unit's recorded management is never overwritten by a fill"
    );
    assert_eq!(
        c.unit_details(&tenant, &id("conf-r-top"))
            .expect("details")
            .expect("unit")
            .management
            .as_ref(),
        Some(&top.management)
    );
    assert!(
        c.operation(&tenant, &op("op-conf-r-fill"))
            .expect("operation")
            .is_none(),
        "a fill that fills nothing records nothing"
    );
}

/// A rule change writes every unit's new management, its flat rules, its history and its
/// event, or nothing: a unit changed meanwhile fails the whole change.
pub fn change(c: &dyn Catalog) {
    let a = unit("conf-rc-a", &[], &[]);
    let b = unit("conf-rc-b", &[], &[]);
    tenant_with_units(c, "conf-rc", [a.clone(), b.clone()].into_iter());
    let tenant = t("conf-rc");
    let mut after = a.management.clone();
    after.category_mut(RuleCategory::AppraisalRule).final_action = Some(FinalAction::Keep);
    let unit_event = |u: &str| {
        let mut e = event("conf-rc", "op-conf-rc-1", "UNIT_RULES_CHANGE", Status::Ok);
        e.detail = json!({"subject": u});
        e
    };
    let journal_len = |c: &dyn Catalog| c.journal(&tenant).expect("journal").len();
    let before_len = journal_len(c);

    // Stale: b is said to have had rules it never had. Nothing is written, a included.
    let mut stale = b.management.clone();
    stale.categories.clear();
    let err = c
        .change_management(
            &tenant,
            ManagementChange {
                units: &[
                    UnitManagementChange {
                        unit: a.id.clone(),
                        before: a.management.clone(),
                        after: after.clone(),
                        event: unit_event("conf-rc-a"),
                    },
                    UnitManagementChange {
                        unit: b.id.clone(),
                        before: stale,
                        after: after.clone(),
                        event: unit_event("conf-rc-b"),
                    },
                ],
                summary: &json!({}),
                event: &event("conf-rc", "op-conf-rc-1", "RULES_CHANGE", Status::Ok),
            },
        )
        .expect_err("a stale unit fails the change");
    assert!(matches!(err, CatalogError::Conflict(_)), "{err}");
    assert_eq!(journal_len(c), before_len);
    assert!(
        c.operation(&tenant, &op("op-conf-rc-1"))
            .expect("op")
            .is_none()
    );
    assert_eq!(
        c.unit_details(&tenant, &a.id)
            .expect("d")
            .expect("u")
            .management,
        Some(a.management.clone())
    );
    assert!(
        c.management_history(&tenant, &a.id, 10)
            .expect("h")
            .is_empty()
    );

    // Fresh: written, with history, flat rules and events.
    c.change_management(
        &tenant,
        ManagementChange {
            units: &[UnitManagementChange {
                unit: a.id.clone(),
                before: a.management.clone(),
                after: after.clone(),
                event: unit_event("conf-rc-a"),
            }],
            summary: &json!({"units": 1}),
            event: &event("conf-rc", "op-conf-rc-1", "RULES_CHANGE", Status::Ok),
        },
    )
    .expect("change");
    let d = c.unit_details(&tenant, &a.id).expect("d").expect("u");
    assert_eq!(d.management, Some(after.clone()));
    assert_eq!(d.rules.len(), after.rules().count());
    let h = c.management_history(&tenant, &a.id, 10).expect("h");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].previous, Some(a.management.clone()));
    assert_eq!(h[0].current, after);
    assert_eq!(h[0].operation, op("op-conf-rc-1"));
    assert_eq!(journal_len(c), before_len + 2);
    assert!(
        c.management_history(&t("conf-r2"), &a.id, 10)
            .expect("h")
            .is_empty(),
        "another tenant sees no history"
    );
}
