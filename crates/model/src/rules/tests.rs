use super::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use time::macros::date;

fn rule(id: &str, start: Option<&str>, end: Option<&str>) -> Rule {
    Rule {
        rule: id.into(),
        start_date: start.map(Into::into),
        end_date: end.map(Into::into),
        ..Rule::default()
    }
}

fn management(category: RuleCategory, rules: Vec<Rule>, action: Option<FinalAction>) -> Management {
    let mut m = Management::default();
    let c = m.category_mut(category);
    c.rules = rules;
    c.final_action = action;
    m
}

// ---- Vitam's cases ----

/// A unit of Vitam's `Input.json` as our types hold it.
fn vitam_management(v: &Value) -> Management {
    let mut m = Management::default();
    for category in RuleCategory::ALL {
        let Some(c) = v.get(category.as_str()) else {
            continue;
        };
        let entry = m.category_mut(category);
        for r in c["Rules"].as_array().into_iter().flatten() {
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
            entry.rules.push(Rule {
                rule: s("Rule").unwrap(),
                start_date: s("StartDate"),
                end_date: s("EndDate"),
                hold: Hold {
                    end_date: s("HoldEndDate"),
                    owner: s("HoldOwner"),
                    reason: s("HoldReason"),
                    reassessing_date: s("HoldReassessingDate"),
                    prevent_rearrangement: r.get("PreventRearrangement").and_then(Value::as_bool),
                },
                ..Rule::default()
            });
        }
        entry.prevent_inheritance = c["Inheritance"]["PreventInheritance"]
            .as_bool()
            .unwrap_or(false);
        entry.ref_non_rule_ids = c["Inheritance"]["PreventRulesId"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect();
        entry.final_action = c
            .get("FinalAction")
            .and_then(Value::as_str)
            .map(|a| FinalAction::parse(a).unwrap());
    }
    m
}

/// What we compare: per category, the rules (origin, agency, fields) and the FinalActions
/// (origin, agency, value), as sorted lists.
type Comparable = BTreeMap<String, (Vec<String>, Vec<String>)>;

fn from_vitam(expected: &Value) -> Comparable {
    let mut out = Comparable::new();
    for category in RuleCategory::ALL {
        let c = &expected[category.as_str()];
        let mut rules: Vec<String> = c["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                let b = r
                    .get("PreventRearrangement")
                    .map(|b| b.to_string())
                    .unwrap_or_default();
                [
                    s("UnitId"),
                    s("OriginatingAgency"),
                    s("Rule"),
                    s("StartDate"),
                    s("EndDate"),
                    s("HoldEndDate"),
                    s("HoldOwner"),
                    s("HoldReason"),
                    s("HoldReassessingDate"),
                    b,
                ]
                .join("|")
            })
            .collect();
        let mut actions: Vec<String> = c["Properties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["PropertyName"] == "FinalAction")
            .map(|p| {
                let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                [s("UnitId"), s("OriginatingAgency"), s("PropertyValue")].join("|")
            })
            .collect();
        rules.sort();
        actions.sort();
        out.insert(category.as_str().to_owned(), (rules, actions));
    }
    out
}

fn ours(e: &EffectiveRules) -> Comparable {
    let mut out = Comparable::new();
    for category in RuleCategory::ALL {
        let agency = |o: &Origin| o.originating_agency.clone().unwrap_or_default();
        let mut rules: Vec<String> = e
            .of(category)
            .map(|r| {
                let o = |s: &Option<String>| s.clone().unwrap_or_default();
                let h = &r.rule.hold;
                [
                    r.origin.unit.clone(),
                    agency(&r.origin),
                    r.rule.rule.clone(),
                    o(&r.rule.start_date),
                    o(&r.rule.end_date),
                    o(&h.end_date),
                    o(&h.owner),
                    o(&h.reason),
                    o(&h.reassessing_date),
                    h.prevent_rearrangement
                        .map(|b| b.to_string())
                        .unwrap_or_default(),
                ]
                .join("|")
            })
            .collect();
        let mut actions: Vec<String> = e
            .final_actions_of(category)
            .map(|p| {
                [
                    p.origin.unit.clone(),
                    agency(&p.origin),
                    p.final_action.as_str().to_owned(),
                ]
                .join("|")
            })
            .collect();
        rules.sort();
        actions.sort();
        out.insert(category.as_str().to_owned(), (rules, actions));
    }
    out
}

fn compute_all(units: &[Value]) -> HashMap<String, EffectiveRules> {
    fn visit(
        id: &str,
        by_id: &HashMap<String, &Value>,
        done: &mut HashMap<String, EffectiveRules>,
    ) {
        if done.contains_key(id) {
            return;
        }
        let u = by_id[id];
        let parents: Vec<String> = u["#unitups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        for p in &parents {
            visit(p, by_id, done);
        }
        let parent_rules: Vec<&EffectiveRules> = parents.iter().map(|p| &done[p]).collect();
        let e = inherit(
            id,
            u.get("#originating_agency").and_then(Value::as_str),
            &vitam_management(&u["#management"]),
            &parent_rules,
        );
        done.insert(id.to_owned(), e);
    }
    let by_id: HashMap<String, &Value> = units
        .iter()
        .map(|u| (u["#id"].as_str().unwrap().to_owned(), u))
        .collect();
    let mut done = HashMap::new();
    for id in by_id.keys() {
        visit(id, &by_id, &mut done);
    }
    done
}

#[test]
fn vitam_inherited_rules_test_cases() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vitam-inherited-rules");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 9, "every case of Vitam's suite is here");
    let mut compared = 0;
    for case in cases {
        let read = |f: &str| -> Value {
            serde_json::from_slice(&std::fs::read(case.join(f)).unwrap()).unwrap()
        };
        let input = read("Input.json");
        let expected = read("ExpectedResult.json");
        let computed = compute_all(input.as_array().unwrap());
        let expected = expected.as_object().unwrap();
        assert_eq!(computed.len(), expected.len(), "{case:?}");
        for (unit, want) in expected {
            assert_eq!(
                ours(&computed[unit]),
                from_vitam(want),
                "{}: unit {unit}",
                case.display()
            );
            compared += 1;
        }
    }
    assert!(compared > 20, "the cases compare {compared} units");
}

// ---- our own cases ----

#[test]
fn own_rule_replaces_the_inherited_one_of_the_same_identifier() {
    let top = inherit(
        "top",
        Some("sp"),
        &management(
            RuleCategory::AppraisalRule,
            vec![rule("APP-1", Some("2000-01-01"), Some("2010-01-01"))],
            Some(FinalAction::Destroy),
        ),
        &[],
    );
    let child = inherit(
        "child",
        Some("sp"),
        &management(
            RuleCategory::AppraisalRule,
            vec![rule("APP-1", Some("2005-01-01"), Some("2015-01-01"))],
            None,
        ),
        &[&top],
    );
    let rules: Vec<_> = child.of(RuleCategory::AppraisalRule).collect();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].origin.unit, "child");
    assert_eq!(rules[0].rule.end_date.as_deref(), Some("2015-01-01"));
    // The FinalAction still comes from above.
    let actions: Vec<_> = child
        .final_actions_of(RuleCategory::AppraisalRule)
        .collect();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].origin.unit, "top");
    assert_eq!(actions[0].final_action, FinalAction::Destroy);
}

#[test]
fn prevent_inheritance_cuts_rules_and_final_actions_of_its_category_only() {
    let mut m = management(
        RuleCategory::AppraisalRule,
        vec![rule("APP-1", Some("2000-01-01"), Some("2010-01-01"))],
        Some(FinalAction::Destroy),
    );
    m.category_mut(RuleCategory::AccessRule).rules = vec![rule("ACC-1", None, None)];
    let top = inherit("top", None, &m, &[]);
    let mut cut = Management::default();
    cut.category_mut(RuleCategory::AppraisalRule)
        .prevent_inheritance = true;
    let child = inherit("child", None, &cut, &[&top]);
    assert_eq!(child.of(RuleCategory::AppraisalRule).count(), 0);
    assert_eq!(
        child.final_actions_of(RuleCategory::AppraisalRule).count(),
        0
    );
    assert_eq!(child.of(RuleCategory::AccessRule).count(), 1);
}

#[test]
fn ref_non_rule_id_removes_one_inherited_rule() {
    let top = inherit(
        "top",
        None,
        &management(
            RuleCategory::AppraisalRule,
            vec![rule("APP-1", None, None), rule("APP-2", None, None)],
            None,
        ),
        &[],
    );
    let mut m = Management::default();
    m.category_mut(RuleCategory::AppraisalRule).ref_non_rule_ids = vec!["APP-1".into()];
    let child = inherit("child", None, &m, &[&top]);
    let ids: Vec<_> = child
        .of(RuleCategory::AppraisalRule)
        .map(|r| r.rule.rule.as_str())
        .collect();
    assert_eq!(ids, ["APP-2"]);
}

#[test]
fn several_parents_each_give_their_rules_and_a_shared_origin_counts_once() {
    let root = inherit(
        "root",
        None,
        &management(
            RuleCategory::AppraisalRule,
            vec![rule("APP-R", None, Some("2001-01-01"))],
            None,
        ),
        &[],
    );
    let a = inherit(
        "a",
        None,
        &management(
            RuleCategory::AppraisalRule,
            vec![rule("APP-A", None, Some("2002-01-01"))],
            None,
        ),
        &[&root],
    );
    let b = inherit("b", None, &Management::default(), &[&root]);
    let leaf = inherit("leaf", None, &Management::default(), &[&a, &b]);
    let mut got: Vec<_> = leaf
        .of(RuleCategory::AppraisalRule)
        .map(|r| (r.rule.rule.as_str(), r.origin.unit.as_str()))
        .collect();
    got.sort();
    assert_eq!(got, [("APP-A", "a"), ("APP-R", "root")]);
}

#[test]
fn package_rules_merge_into_a_root_unit_as_vitam_does() {
    let mut package = management(
        RuleCategory::AppraisalRule,
        vec![rule("APP-P", Some("2000-01-01"), None)],
        Some(FinalAction::Destroy),
    );
    package.category_mut(RuleCategory::AccessRule).rules = vec![rule("ACC-P", None, None)];
    // The unit keeps its own FinalAction, excludes the package's access rule.
    let mut unit = management(
        RuleCategory::AppraisalRule,
        vec![rule("APP-U", None, None)],
        Some(FinalAction::Keep),
    );
    unit.category_mut(RuleCategory::AccessRule).ref_non_rule_ids = vec!["ACC-P".into()];
    unit.merge_package_rules(&package);
    let app = unit.category(RuleCategory::AppraisalRule).unwrap();
    assert_eq!(
        app.rules
            .iter()
            .map(|r| (r.rule.as_str(), r.given_in))
            .collect::<Vec<_>>(),
        [
            ("APP-U", GivenIn::Management),
            ("APP-P", GivenIn::ManagementMetadata)
        ]
    );
    assert_eq!(app.final_action, Some(FinalAction::Keep));
    assert!(
        unit.category(RuleCategory::AccessRule)
            .unwrap()
            .rules
            .is_empty()
    );
    // A unit with nothing takes everything, FinalAction included.
    let mut bare = Management::default();
    bare.merge_package_rules(&package);
    assert_eq!(bare, {
        let mut m = package.clone();
        for c in &mut m.categories {
            for r in &mut c.rules {
                r.given_in = GivenIn::ManagementMetadata;
            }
        }
        m
    });
}

#[test]
fn implicit_keep_for_a_unit_of_an_agency_without_final_action() {
    let e = inherit("u", Some("sp"), &Management::default(), &[]);
    let a: Vec<_> = e.final_actions_of(RuleCategory::AppraisalRule).collect();
    assert_eq!(a.len(), 1);
    assert!(a[0].implicit);
    assert_eq!(a[0].final_action, FinalAction::Keep);
    // A holding unit (no agency) has none.
    let e = inherit("h", None, &Management::default(), &[]);
    assert_eq!(e.final_actions_of(RuleCategory::AppraisalRule).count(), 0);
}

fn destroyable(end: &str) -> EffectiveRules {
    inherit(
        "u",
        Some("sp"),
        &management(
            RuleCategory::AppraisalRule,
            vec![rule("APP-1", Some("2000-01-01"), Some(end))],
            Some(FinalAction::Destroy),
        ),
        &[],
    )
}

#[test]
fn appraisal_destroys_after_the_end_and_keeps_before() {
    assert_eq!(
        appraise(&destroyable("2010-01-01"), date!(2010 - 01 - 01)),
        Ok(())
    );
    assert_eq!(
        appraise(&destroyable("2010-01-01"), date!(2009 - 12 - 31)),
        Err(vec![Exclusion::NotExpired {
            rule: "APP-1".into(),
            end_date: "2010-01-01".into()
        }])
    );
}

#[test]
fn appraisal_keeps_without_final_action_rule_or_end() {
    let keep = inherit(
        "u",
        Some("sp"),
        &management(
            RuleCategory::AppraisalRule,
            vec![rule("APP-1", None, None)],
            None,
        ),
        &[],
    );
    assert_eq!(
        appraise(&keep, date!(2030 - 01 - 01)),
        Err(vec![
            Exclusion::Keep,
            Exclusion::UndatedAppraisalRule {
                rule: "APP-1".into()
            }
        ])
    );
    let none = inherit("u", None, &Management::default(), &[]);
    assert_eq!(
        appraise(&none, date!(2030 - 01 - 01)),
        Err(vec![Exclusion::Keep, Exclusion::NoAppraisalRule])
    );
}

#[test]
fn holds_with_and_without_an_end_date() {
    let with_hold = |end: Option<&str>| {
        let mut m = management(
            RuleCategory::AppraisalRule,
            vec![rule("APP-1", Some("2000-01-01"), Some("2001-01-01"))],
            Some(FinalAction::Destroy),
        );
        m.category_mut(RuleCategory::HoldRule).rules = vec![Rule {
            hold: Hold {
                end_date: end.map(Into::into),
                reason: Some("contentieux".into()),
                ..Hold::default()
            },
            ..rule("HOL-1", Some("2020-01-01"), end)
        }];
        inherit("u", Some("sp"), &m, &[])
    };
    let open = with_hold(None);
    let hold = Err(vec![Exclusion::Hold {
        rules: vec!["HOL-1".into()],
    }]);
    assert_eq!(appraise(&open, date!(2099 - 01 - 01)), hold);
    let ending = with_hold(Some("2025-06-30"));
    assert_eq!(appraise(&ending, date!(2025 - 06 - 29)), hold);
    assert_eq!(appraise(&ending, date!(2025 - 06 - 30)), Ok(()));
    // A hold above reaches the children.
    let child = inherit("c", Some("sp"), &Management::default(), &[&open]);
    assert_eq!(active_holds(&child, date!(2099 - 01 - 01)).len(), 1);
}

#[test]
fn final_actions_that_disagree_are_a_conflict() {
    let destroy = destroyable("2001-01-01");
    let keep = inherit(
        "k",
        Some("other"),
        &management(RuleCategory::AppraisalRule, vec![], Some(FinalAction::Keep)),
        &[],
    );
    let child = inherit("c", None, &Management::default(), &[&destroy, &keep]);
    assert_eq!(
        appraise(&child, date!(2030 - 01 - 01)),
        Err(vec![Exclusion::FinalActionConflict])
    );
}

#[test]
fn management_serialises_compactly_and_round_trips() {
    let mut m = management(
        RuleCategory::AppraisalRule,
        vec![rule("APP-1", Some("2000-01-01"), Some("2010-01-01"))],
        Some(FinalAction::Destroy),
    );
    m.category_mut(RuleCategory::HoldRule).rules = vec![Rule {
        hold: Hold {
            owner: Some("AD".into()),
            ..Hold::default()
        },
        ..rule("HOL-1", None, None)
    }];
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(
        json,
        r#"{"categories":[{"category":"AppraisalRule","rules":[{"rule":"APP-1","start_date":"2000-01-01","end_date":"2010-01-01"}],"final_action":"Destroy"},{"category":"HoldRule","rules":[{"rule":"HOL-1","hold":{"owner":"AD"}}]}]}"#
    );
    assert_eq!(serde_json::from_str::<Management>(&json).unwrap(), m);
}

#[test]
fn final_actions_fit_their_categories() {
    assert!(FinalAction::Destroy.fits(RuleCategory::AppraisalRule));
    assert!(!FinalAction::Transfer.fits(RuleCategory::AppraisalRule));
    assert!(FinalAction::Transfer.fits(RuleCategory::StorageRule));
    assert!(!FinalAction::Keep.fits(RuleCategory::AccessRule));
}

// ---- changes after ingest ----

/// A referential of two appraisal rules (5 and 10 years) and a hold without duration.
fn referential_end(category: RuleCategory, r: &Rule) -> Result<Option<String>, String> {
    let years = match (category, r.rule.as_str()) {
        (RuleCategory::AppraisalRule, "APP-5") => Some(5),
        (RuleCategory::AppraisalRule, "APP-10") => Some(10),
        (RuleCategory::HoldRule, "HOL-X") => None,
        _ => {
            return Err(format!(
                "{} {:?} is not in the referential",
                category.as_str(),
                r.rule
            ));
        }
    };
    Ok(match years {
        Some(y) => r.start_date.as_deref().and_then(parse_date).map(|d| {
            crate::referential::end_date(
                d,
                crate::referential::RuleDuration {
                    amount: y,
                    unit: crate::referential::DurationUnit::Year,
                },
            )
            .unwrap()
            .to_string()
        }),
        None => r.hold.end_date.clone(),
    })
}

#[test]
fn changes_add_update_remove_and_say_what_they_changed() {
    let m = management(
        RuleCategory::AppraisalRule,
        vec![rule("APP-5", Some("2000-01-01"), Some("2005-01-01"))],
        Some(FinalAction::Keep),
    );
    let (after, changes) = apply_changes(
        &m,
        &[
            RuleAction::Update {
                category: RuleCategory::AppraisalRule,
                replaces: "APP-5".into(),
                rule: Some("APP-10".into()),
                start_date: None,
            },
            RuleAction::SetFinalAction {
                category: RuleCategory::AppraisalRule,
                final_action: Some(FinalAction::Destroy),
            },
            RuleAction::Hold {
                rule: Rule {
                    hold: Hold {
                        end_date: Some("2030-01-01".into()),
                        reason: Some("contentieux".into()),
                        ..Hold::default()
                    },
                    ..rule("HOL-X", Some("2026-01-01"), None)
                },
            },
        ],
        &referential_end,
    )
    .unwrap();
    let app = after.category(RuleCategory::AppraisalRule).unwrap();
    // The start date stays; the end follows the new rule.
    assert_eq!(app.rules[0].rule, "APP-10");
    assert_eq!(app.rules[0].start_date.as_deref(), Some("2000-01-01"));
    assert_eq!(app.rules[0].end_date.as_deref(), Some("2010-01-01"));
    assert_eq!(app.rules[0].given_in, GivenIn::Change);
    assert_eq!(app.final_action, Some(FinalAction::Destroy));
    let hold = &after.category(RuleCategory::HoldRule).unwrap().rules[0];
    assert_eq!(hold.end_date.as_deref(), Some("2030-01-01"));
    let actions: Vec<_> = changes.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(actions, ["update", "set_final_action", "hold"]);
    assert_eq!(changes[0].before["end_date"], "2005-01-01");
    assert_eq!(changes[0].after["end_date"], "2010-01-01");
    assert_eq!(changes[1].before, "Keep");

    // Lifting the hold and removing the rule leave nothing of either.
    let (bare, changes) = apply_changes(
        &after,
        &[
            RuleAction::LiftHold {
                rule: "HOL-X".into(),
            },
            RuleAction::Remove {
                category: RuleCategory::AppraisalRule,
                rule: "APP-10".into(),
            },
        ],
        &referential_end,
    )
    .unwrap();
    assert!(bare.category(RuleCategory::HoldRule).is_none());
    assert!(
        bare.category(RuleCategory::AppraisalRule)
            .unwrap()
            .rules
            .is_empty()
    );
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].after, serde_json::Value::Null);
}

#[test]
fn a_change_that_does_not_fit_the_unit_changes_nothing_and_says_every_reason() {
    let m = management(
        RuleCategory::AppraisalRule,
        vec![rule("APP-5", Some("2000-01-01"), Some("2005-01-01"))],
        None,
    );
    let why = apply_changes(
        &m,
        &[
            RuleAction::Add {
                category: RuleCategory::AppraisalRule,
                rule: rule("APP-5", Some("2001-01-01"), None),
            },
            RuleAction::Remove {
                category: RuleCategory::AccessRule,
                rule: "ACC-1".into(),
            },
            RuleAction::SetFinalAction {
                category: RuleCategory::AppraisalRule,
                final_action: Some(FinalAction::Transfer),
            },
            RuleAction::Add {
                category: RuleCategory::AppraisalRule,
                rule: rule("APP-404", None, None),
            },
        ],
        &referential_end,
    )
    .unwrap_err();
    assert_eq!(why.len(), 4, "{why:?}");
    assert!(why[0].contains("already declares"));
    assert!(why[1].contains("declares no AccessRule"));
    assert!(why[2].contains("cannot have the FinalAction Transfer"));
    assert!(why[3].contains("not in the referential"));
}

#[test]
fn recompute_follows_the_referential_and_leaves_seda_1_durations() {
    let mut m = management(
        RuleCategory::AppraisalRule,
        // Computed when APP-5 lasted 3 years.
        vec![rule("APP-5", Some("2000-01-01"), Some("2003-01-01"))],
        None,
    );
    m.category_mut(RuleCategory::AccessRule).rules.push(Rule {
        given_duration: Some("P25Y".into()),
        ..rule("AR038", Some("2000-01-01"), Some("2025-01-01"))
    });
    let (after, changes) = apply_changes(
        &m,
        &[RuleAction::Recompute { category: None }],
        &referential_end,
    )
    .unwrap();
    assert_eq!(
        after.category(RuleCategory::AppraisalRule).unwrap().rules[0]
            .end_date
            .as_deref(),
        Some("2005-01-01")
    );
    assert_eq!(changes.len(), 1);
    assert_eq!(
        after.category(RuleCategory::AccessRule),
        m.category(RuleCategory::AccessRule)
    );
    // Once done, nothing more to do.
    let (_, again) = apply_changes(
        &after,
        &[RuleAction::Recompute { category: None }],
        &referential_end,
    )
    .unwrap();
    assert!(again.is_empty());
}

#[test]
fn rule_actions_read_as_clients_write_them() {
    let a: Vec<RuleAction> = serde_json::from_str(
        r#"[{"action": "add", "category": "AppraisalRule", "rule": "APP-5", "start_date": "2020-01-01"},
            {"action": "update", "category": "AppraisalRule", "replaces": "APP-5", "start_date": "2021-01-01"},
            {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"},
            {"action": "hold", "rule": "HOL-X", "hold": {"reason": "contentieux", "end_date": "2030-01-01"}},
            {"action": "lift_hold", "rule": "HOL-X"},
            {"action": "recompute"}]"#,
    )
    .unwrap();
    assert_eq!(a.len(), 6);
    assert!(
        matches!(&a[3], RuleAction::Hold { rule } if rule.hold.reason.as_deref() == Some("contentieux"))
    );
    assert!(matches!(a[5], RuleAction::Recompute { category: None }));
}

#[test]
fn a_unit_is_communicable_once_every_access_rule_has_ended() {
    let parent = inherit(
        "p",
        None,
        &management(
            RuleCategory::AccessRule,
            vec![rule("ACC-00003", Some("2000-01-01"), Some("2025-01-01"))],
            None,
        ),
        &[],
    );
    let at = date!(2026 - 12 - 04);
    assert!(access_restrictions(&parent, at).is_empty(), "ended");
    // Its child adds one that runs to 2076, and one without end (unlimited).
    let child = inherit(
        "c",
        None,
        &management(
            RuleCategory::AccessRule,
            vec![
                rule("ACC-00020", Some("2001-01-01"), Some("2076-01-01")),
                rule("ACC-00000", None, None),
            ],
            None,
        ),
        &[&parent],
    );
    let ids: Vec<&str> = access_restrictions(&child, at)
        .iter()
        .map(|r| r.rule.rule.as_str())
        .collect();
    assert_eq!(ids, ["ACC-00020", "ACC-00000"]);
    // The day it ends, it is communicable (the end is the first free day).
    let ended = inherit(
        "e",
        None,
        &management(
            RuleCategory::AccessRule,
            vec![rule("ACC-00020", Some("1950-12-04"), Some("2026-12-04"))],
            None,
        ),
        &[],
    );
    assert!(access_restrictions(&ended, at).is_empty());
    // No access rule at all: communicable.
    assert!(access_restrictions(&EffectiveRules::default(), at).is_empty());
}

/// A transfer out takes what the retention hands to the definitive archives: appraisal
/// ended with Keep (or no FinalAction), or storage ended with Transfer; never Destroy, never
/// before the end, never on hold.
#[test]
fn what_may_be_transferred_to_the_definitive_archives() {
    use crate::referential::RuleCategory as C;
    let at = parse_date("2026-12-04").unwrap();
    let origin = || Origin {
        unit: "u".into(),
        originating_agency: None,
    };
    let rule = |category: C, id: &str, end: Option<&str>| EffectiveRule {
        category,
        rule: super::tests::rule(id, Some("2000-01-01"), end),
        origin: origin(),
    };
    let action = |category: C, a: FinalAction| EffectiveFinalAction {
        category,
        final_action: a,
        origin: origin(),
        implicit: false,
    };
    let rules =
        |rules: Vec<EffectiveRule>, final_actions: Vec<EffectiveFinalAction>| EffectiveRules {
            rules,
            final_actions,
        };
    let ended = rule(C::AppraisalRule, "APP-1", Some("2020-01-01"));
    // Keep, or nothing said: the definitive archives' part.
    assert_eq!(
        appraise_transfer(&rules(vec![ended.clone()], vec![]), at),
        Ok(())
    );
    assert_eq!(
        appraise_transfer(
            &rules(
                vec![ended.clone()],
                vec![action(C::AppraisalRule, FinalAction::Keep)]
            ),
            at
        ),
        Ok(())
    );
    // Destroy: eliminated, not transferred.
    assert_eq!(
        appraise_transfer(
            &rules(
                vec![ended.clone()],
                vec![action(C::AppraisalRule, FinalAction::Destroy)]
            ),
            at
        ),
        Err(vec![Exclusion::Destroy])
    );
    // Not ended, or no end, or no appraisal rule at all.
    assert_eq!(
        appraise_transfer(
            &rules(
                vec![rule(C::AppraisalRule, "APP-2", Some("2040-01-01"))],
                vec![]
            ),
            at
        ),
        Err(vec![Exclusion::NotExpired {
            rule: "APP-2".into(),
            end_date: "2040-01-01".into()
        }])
    );
    assert_eq!(
        appraise_transfer(&rules(vec![], vec![]), at),
        Err(vec![Exclusion::NoAppraisalRule])
    );
    // A storage rule ended with Transfer suffices, whatever the appraisal says.
    let storage = rules(
        vec![
            rule(C::StorageRule, "STO-1", Some("2025-01-01")),
            rule(C::AppraisalRule, "APP-2", Some("2040-01-01")),
        ],
        vec![action(C::StorageRule, FinalAction::Transfer)],
    );
    assert_eq!(appraise_transfer(&storage, at), Ok(()));
    // Not before the storage rule ends.
    let early = rules(
        vec![rule(C::StorageRule, "STO-1", Some("2030-01-01"))],
        vec![action(C::StorageRule, FinalAction::Transfer)],
    );
    assert!(appraise_transfer(&early, at).is_err());
    // A hold stops it either way.
    let mut held = storage.clone();
    held.rules.push(rule(C::HoldRule, "HOL-1", None));
    assert_eq!(
        appraise_transfer(&held, at),
        Err(vec![Exclusion::Hold {
            rules: vec!["HOL-1".into()]
        }])
    );
}

// ---- The disposal date (a WORM offer's lock) ----

fn effective(m: &Management) -> EffectiveRules {
    inherit("u", None, m, &[])
}

#[test]
fn the_disposal_date_is_the_end_of_the_last_appraisal_rule() {
    let m = management(
        RuleCategory::AppraisalRule,
        vec![
            rule("APP-1", Some("2000-01-01"), Some("2010-01-01")),
            rule("APP-2", Some("2000-01-01"), Some("2030-06-30")),
        ],
        Some(FinalAction::Destroy),
    );
    let rules = effective(&m);
    assert_eq!(disposal_date(&rules), Some(date!(2030 - 06 - 30)));
    // The day it is eligible, and not the day before.
    assert!(appraise(&rules, date!(2030 - 06 - 30)).is_ok());
    assert!(appraise(&rules, date!(2030 - 06 - 29)).is_err());
}

#[test]
fn an_undated_appraisal_rule_gives_no_disposal_date() {
    let m = management(
        RuleCategory::AppraisalRule,
        vec![
            rule("APP-1", Some("2000-01-01"), Some("2010-01-01")),
            rule("APP-2", None, None),
        ],
        Some(FinalAction::Keep),
    );
    assert_eq!(disposal_date(&effective(&m)), None);
    assert_eq!(disposal_date(&EffectiveRules::default()), None, "no rule");
}

#[test]
fn a_transfer_by_storage_rules_comes_first_when_it_ends_first() {
    let mut m = management(
        RuleCategory::AppraisalRule,
        vec![rule("APP-1", Some("2000-01-01"), Some("2040-01-01"))],
        Some(FinalAction::Keep),
    );
    let storage = m.category_mut(RuleCategory::StorageRule);
    storage.rules = vec![rule("STO-1", Some("2000-01-01"), Some("2020-01-01"))];
    storage.final_action = Some(FinalAction::Transfer);
    let rules = effective(&m);
    assert_eq!(disposal_date(&rules), Some(date!(2020 - 01 - 01)));
    assert!(appraise_transfer(&rules, date!(2020 - 01 - 01)).is_ok());
    // Storage rules that do not transfer do not count.
    m.category_mut(RuleCategory::StorageRule).final_action = Some(FinalAction::Copy);
    assert_eq!(disposal_date(&effective(&m)), Some(date!(2040 - 01 - 01)));
}
