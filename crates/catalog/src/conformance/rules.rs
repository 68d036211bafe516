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
