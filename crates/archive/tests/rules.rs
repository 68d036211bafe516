//! Management rules through ingest: each unit's own rules kept as given (the package's
//! merged into root units), effective rules inherited down a tree with several parents,
//! and the refusals Vitam makes.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_model::referential::RuleCategory;
use carnac_model::rules::{Exclusion, FinalAction, GivenIn, appraise};
use carnac_model::{Status, UnitId};
use common::*;
use std::io::Write;

fn unit(id: &str, management: &str, inner: &str) -> String {
    format!(
        r#"<ArchiveUnit id="{id}"><Management>{management}</Management><Content><DescriptionLevel>File</DescriptionLevel><Title>{id}</Title></Content>{inner}</ArchiveUnit>"#
    )
}

/// R (the package's Destroy after APP-00002, 5 years from 2000) holds A (a hold without
/// duration, ending 2030) and B (its own APP-00001 from 1900, Keep, inheritance cut); L is
/// under A and, by reference, under B, and refuses B's APP-00001.
const TREE: (&str, &str) = (
    r#"<ArchiveUnit id="R"><Content><DescriptionLevel>Fonds</DescriptionLevel><Title>R</Title></Content>
         <ArchiveUnit id="A"><Management><HoldRule><Rule>HOL-00002</Rule><StartDate>2020-01-01</StartDate><HoldEndDate>2030-01-01</HoldEndDate><HoldOwner>AD</HoldOwner><HoldReason>Contentieux</HoldReason><PreventRearrangement>true</PreventRearrangement></HoldRule></Management>
           <Content><DescriptionLevel>File</DescriptionLevel><Title>A</Title></Content>
           <ArchiveUnit id="L"><Management><AppraisalRule><RefNonRuleId>APP-00001</RefNonRuleId><FinalAction>Destroy</FinalAction></AppraisalRule></Management><Content><DescriptionLevel>Item</DescriptionLevel><Title>L</Title></Content></ArchiveUnit>
         </ArchiveUnit>
         <ArchiveUnit id="B"><Management><AppraisalRule><Rule>APP-00001</Rule><StartDate>1900-01-01</StartDate><PreventInheritance>true</PreventInheritance><FinalAction>Keep</FinalAction></AppraisalRule></Management>
           <Content><DescriptionLevel>File</DescriptionLevel><Title>B</Title></Content>
           <ArchiveUnit id="B-L"><ArchiveUnitRefId>L</ArchiveUnitRefId></ArchiveUnit>
         </ArchiveUnit>
       </ArchiveUnit>"#,
    r#"<AppraisalRule><Rule>APP-00002</Rule><StartDate>2000-01-01</StartDate><FinalAction>Destroy</FinalAction></AppraisalRule>"#,
);

fn ingest(
    f: &Fixture,
    t: &carnac_model::TenantId,
    bytes: Vec<u8>,
) -> carnac_archive::IngestOutcome {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&bytes).unwrap();
    f.archive
        .ingest(t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap()
}

fn by_title(
    f: &Fixture,
    t: &carnac_model::TenantId,
    outcome: &carnac_archive::IngestOutcome,
) -> std::collections::HashMap<String, UnitId> {
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    f.archive
        .catalog()
        .units_of_operation(t, &op)
        .unwrap()
        .into_iter()
        .map(|u| (u.title, u.id))
        .collect()
}

#[test]
fn rules_are_kept_as_given_and_inherited_down_the_tree() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let outcome = ingest(&f, &t, units_sip(TREE.0, TREE.1));
    assert!(outcome.status().is_accepted(), "{:?}", outcome.summary);
    let ids = by_title(&f, &t, &outcome);
    let details = |title: &str| {
        f.archive
            .catalog()
            .unit_details(&t, &ids[title])
            .unwrap()
            .unwrap()
            .management
            .unwrap()
    };

    // The root takes the package's rules, marked as such, with their end date.
    let r = details("R");
    let app = r.category(RuleCategory::AppraisalRule).unwrap();
    assert_eq!(app.final_action, Some(FinalAction::Destroy));
    assert_eq!(app.rules[0].rule, "APP-00002");
    assert_eq!(app.rules[0].given_in, GivenIn::ManagementMetadata);
    assert_eq!(app.rules[0].end_date.as_deref(), Some("2005-01-01"));
    // Only the root: the package's rules reach the others by inheritance.
    assert!(details("A").category(RuleCategory::AppraisalRule).is_none());

    // The hold: every field, its end from HoldEndDate (its rule has no duration).
    let a = details("A");
    let hold = &a.category(RuleCategory::HoldRule).unwrap().rules[0];
    assert_eq!(hold.end_date.as_deref(), Some("2030-01-01"));
    assert_eq!(hold.hold.owner.as_deref(), Some("AD"));
    assert_eq!(hold.hold.reason.as_deref(), Some("Contentieux"));
    assert_eq!(hold.hold.prevent_rearrangement, Some(true));

    let b = details("B");
    let b_app = b.category(RuleCategory::AppraisalRule).unwrap();
    assert!(b_app.prevent_inheritance);
    assert_eq!(b_app.rules[0].end_date.as_deref(), Some("1980-01-01"));
    let l = details("L");
    assert_eq!(
        l.category(RuleCategory::AppraisalRule)
            .unwrap()
            .ref_non_rule_ids,
        ["APP-00001"]
    );

    // Effective rules.
    let all: Vec<UnitId> = ids.values().cloned().collect();
    let eff = f.archive.effective_rules(&t, &all).unwrap();
    let of = |title: &str| &eff[&ids[title]];
    assert!(eff.values().all(|e| e.complete));
    // B cuts the package's APP-00002 and keeps its own.
    let b_rules: Vec<_> = of("B")
        .rules
        .of(RuleCategory::AppraisalRule)
        .map(|r| r.rule.rule.as_str())
        .collect();
    assert_eq!(b_rules, ["APP-00001"]);
    // L has two parents: APP-00002 from R through A (B's APP-00001 refused), the hold from A,
    // and its own Destroy replaces what both parents pass down.
    let l_eff = &of("L").rules;
    let l_rules: Vec<_> = l_eff
        .of(RuleCategory::AppraisalRule)
        .map(|r| (r.rule.rule.as_str(), r.origin.unit.as_str()))
        .collect();
    assert_eq!(l_rules, [("APP-00002", ids["R"].as_str())]);
    let (l_unit, _) = f.archive.catalog().unit(&t, &ids["L"]).unwrap().unwrap();
    assert_eq!(l_unit.parents.len(), 2, "L is under A and B");
    // Without its RefNonRuleId, L would take B's APP-00001 too.
    let bare = carnac_model::rules::inherit(
        "L",
        Some("FRAN_NP_009913"),
        &Default::default(),
        &[&of("A").rules, &of("B").rules],
    );
    assert_eq!(bare.of(RuleCategory::AppraisalRule).count(), 2);
    let holds: Vec<_> = l_eff
        .of(RuleCategory::HoldRule)
        .map(|r| r.origin.unit.as_str())
        .collect();
    assert_eq!(holds, [ids["A"].as_str()]);
    let actions: Vec<_> = l_eff
        .final_actions_of(RuleCategory::AppraisalRule)
        .map(|a| (a.final_action, a.origin.unit.as_str()))
        .collect();
    assert_eq!(actions, [(FinalAction::Destroy, ids["L"].as_str())]);

    // What they decide in 2026: R may go, B is kept, L waits for its hold, A too.
    let at = time::macros::date!(2026 - 12 - 04);
    assert_eq!(appraise(&of("R").rules, at), Ok(()));
    assert_eq!(appraise(&of("B").rules, at), Err(vec![Exclusion::Keep]));
    assert_eq!(
        appraise(&of("L").rules, at),
        Err(vec![Exclusion::Hold {
            rules: vec!["HOL-00002".into()]
        }])
    );
    assert_eq!(
        appraise(&of("L").rules, time::macros::date!(2030 - 01 - 01)),
        Ok(())
    );
}

#[test]
fn rules_of_the_wrong_category_and_misplaced_hold_ends_are_refused() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let units = [
        unit(
            "X",
            "<AppraisalRule><RefNonRuleId>HOL-00001</RefNonRuleId><FinalAction>Keep</FinalAction></AppraisalRule>",
            "",
        ),
        unit(
            "Y",
            "<AccessRule><Rule>APP-00001</Rule></AccessRule>",
            "",
        ),
        unit(
            "Z",
            "<HoldRule><Rule>HOL-00001</Rule><StartDate>2020-01-01</StartDate><HoldEndDate>2020-06-01</HoldEndDate></HoldRule>",
            "",
        ),
        unit(
            "W",
            "<HoldRule><Rule>HOL-00002</Rule><StartDate>2020-01-01</StartDate><HoldEndDate>2019-06-01</HoldEndDate></HoldRule>",
            "",
        ),
    ]
    .concat();
    let outcome = ingest(&f, &t, units_sip(&units, ""));
    assert_eq!(outcome.status(), Status::Ko);
    let codes: Vec<(&str, &str)> = outcome
        .summary
        .reasons
        .iter()
        .filter(|r| r.step == "UNITS_RULES_COMPUTE")
        .map(|r| (r.code.as_str(), r.message.as_str()))
        .collect();
    let has = |code: &str, unit: &str| {
        codes
            .iter()
            .any(|(c, m)| *c == code && m.contains(&format!("{unit:?}")))
    };
    assert!(has("REF_INCONSISTENCY", "X"), "{codes:?}");
    assert!(has("CONSISTENCY", "Y"), "{codes:?}");
    assert!(
        has(
            "HOLD_END_DATE_ONLY_ALLOWED_FOR_HOLD_RULE_WITH_UNDEFINED_DURATION",
            "Z"
        ),
        "{codes:?}"
    );
    assert!(has("HOLD_END_DATE_BEFORE_START_DATE", "W"), "{codes:?}");
    f.assert_nothing_stored(&t);
}

/// A catalog from before management was kept: units have their flat rules only. The fill
/// reads each transfer's manifest back from an intact copy and gives every unit what an
/// ingest gives it now, end dates as recorded; without an intact manifest, the recorded
/// rules alone.
#[test]
fn units_ingested_before_get_their_management_from_the_stored_manifest() {
    use carnac_blobstore::BlobStore;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("catalog.sqlite");
    let offers = vec![
        carnac_blobstore::memory::MemoryStore::new("offer-1"),
        carnac_blobstore::memory::MemoryStore::new("offer-2"),
    ];
    let stores: Vec<std::sync::Arc<dyn BlobStore>> = offers
        .iter()
        .map(|o| std::sync::Arc::new(o.clone()) as _)
        .collect();
    let archive = carnac_testkit::archive_on(
        std::sync::Arc::new(carnac_catalog::sqlite::SqliteCatalog::open(&path).unwrap()),
        Default::default(),
        stores.clone(),
        None,
        &tmp.path().join("tmp"),
    );
    let f = Fixture {
        archive,
        offers,
        stores,
        tmp,
    };
    let t = f.tenant_with("0", "tenant-0");
    let first = ingest(&f, &t, units_sip(TREE.0, TREE.1));
    let second = ingest(
        &f,
        &t,
        units_sip(
            &unit(
                "S",
                "<AppraisalRule><Rule>APP-00002</Rule><StartDate>2010-01-01</StartDate><FinalAction>Destroy</FinalAction></AppraisalRule>",
                "",
            ),
            "",
        ),
    );
    assert!(first.status().is_accepted() && second.status().is_accepted());
    let mut ids = by_title(&f, &t, &first);
    ids.extend(by_title(&f, &t, &second));
    let management = |id: &UnitId| {
        f.archive
            .catalog()
            .unit_details(&t, id)
            .unwrap()
            .unwrap()
            .management
    };
    let before: Vec<_> = ids
        .values()
        .map(|id| (id.clone(), management(id)))
        .collect();

    // Back to the state migration 15 leaves an older catalog in; an end date recorded at
    // ingest that today's referential would not give.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE units SET management = NULL", [])
        .unwrap();
    conn.execute(
        "UPDATE unit_rules SET end_date = '2006-06-06' WHERE unit = ?1",
        [ids["R"].as_str()],
    )
    .unwrap();
    // The second transfer's manifest is damaged in both offers.
    let op2 = carnac_model::OperationId::new(second.operation()).unwrap();
    let key = carnac_blobstore::BlobKey {
        tenant: t.clone(),
        batch: op2,
        name: "manifest.xml".into(),
    };
    for o in &f.offers {
        o.corrupt(&key, b"<ArchiveTransfer/>".to_vec());
    }
    // And the first one's in the first offer only.
    let op1 = carnac_model::OperationId::new(first.operation()).unwrap();
    f.offers[0].corrupt(
        &carnac_blobstore::BlobKey {
            batch: op1,
            ..key.clone()
        },
        b"garbage".to_vec(),
    );
    assert!(before.iter().all(|(id, _)| management(id).is_none()));

    assert_eq!(f.archive.fill_management(&t).unwrap(), 5);
    assert_eq!(f.archive.fill_management(&t).unwrap(), 0, "once only");
    // Journaled, one operation, naming the transfer whose manifest was not intact.
    let fills: Vec<_> = f
        .archive
        .catalog()
        .operations(&t)
        .unwrap()
        .into_iter()
        .filter(|o| o.kind == carnac_model::journal::EventKind::RulesFill)
        .collect();
    assert_eq!(fills.len(), 1);
    assert_eq!(
        fills[0].summary.as_ref().unwrap()["without_manifest"],
        serde_json::json!([second.operation()])
    );
    for (id, was) in &before {
        let now = management(id).unwrap();
        if *id == ids["R"] {
            let mut expected = was.clone().unwrap();
            expected.categories[0].rules[0].end_date = Some("2006-06-06".into());
            assert_eq!(now, expected, "the recorded end date stays");
        } else if *id == ids["S"] {
            // No intact manifest: the recorded rule, no FinalAction (Keep).
            let app = now.category(RuleCategory::AppraisalRule).unwrap();
            assert_eq!(app.rules[0].rule, "APP-00002");
            assert_eq!(app.rules[0].end_date.as_deref(), Some("2015-01-01"));
            assert_eq!(app.final_action, None);
        } else {
            assert_eq!(Some(now), *was, "unit {id}");
        }
    }
}

fn change(
    f: &Fixture,
    t: &carnac_model::TenantId,
    body: serde_json::Value,
) -> Result<carnac_archive::rules::RulesChangeReport, carnac_archive::ArchiveError> {
    let request: carnac_archive::rules::RulesChangeRequest = serde_json::from_value(body).unwrap();
    f.archive.change_rules(t, &request, "archivist-1")
}

/// A rule change: a dry run that says everything and changes nothing, then the change,
/// unit by unit, kept in each unit's history and journaled on each unit.
#[test]
fn a_rule_change_with_its_dry_run_history_and_journal() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let outcome = ingest(&f, &t, units_sip(TREE.0, TREE.1));
    let ids = by_title(&f, &t, &outcome);
    let body = |dry_run: bool| {
        serde_json::json!({
            "units": [ids["R"], ids["B"], "au-unknown"],
            "actions": [
                {"action": "update", "category": "AppraisalRule", "replaces": "APP-00002", "start_date": "2010-01-01"},
                {"action": "hold", "rule": "HOL-00002", "start_date": "2026-12-01", "hold": {"reason": "Contentieux Dupont", "owner": "AD"}}
            ],
            "dry_run": dry_run,
            "comment": "Contentieux en cours"
        })
    };
    let management = |title: &str| {
        f.archive
            .catalog()
            .unit_details(&t, &ids[title])
            .unwrap()
            .unwrap()
            .management
            .unwrap()
    };
    let r_before = management("R");
    let journal_before = f.archive.catalog().journal(&t).unwrap().len();

    let dry = change(&f, &t, body(true)).unwrap();
    assert!(dry.dry_run && dry.operation.is_none());
    assert_eq!(management("R"), r_before, "a dry run changes nothing");
    assert_eq!(
        f.archive.catalog().journal(&t).unwrap().len(),
        journal_before
    );
    // R takes both; B declares no APP-00002 (it cut it off); the unknown id is named.
    assert_eq!(dry.changed.len(), 1);
    assert_eq!(dry.changed[0].id, ids["R"]);
    let what: Vec<_> = dry.changed[0]
        .changes
        .iter()
        .map(|c| {
            (
                c.action.as_str(),
                c.before["end_date"].clone(),
                c.after["end_date"].clone(),
            )
        })
        .collect();
    assert_eq!(
        what,
        [
            ("update", "2005-01-01".into(), "2015-01-01".into()),
            ("hold", serde_json::Value::Null, serde_json::Value::Null)
        ]
    );
    let unchanged: Vec<_> = dry
        .unchanged
        .iter()
        .map(|u| (u.id.as_str(), u.reasons.join("; ")))
        .collect();
    assert_eq!(unchanged.len(), 2, "{unchanged:?}");
    assert!(unchanged.iter().any(|(id, why)| *id == ids["B"].as_str()
        && why.contains("declares no AppraisalRule \"APP-00002\"")));
    assert!(
        unchanged
            .iter()
            .any(|(id, why)| *id == "au-unknown" && why.contains("no such unit"))
    );

    let done = change(&f, &t, body(false)).unwrap();
    let operation = done.operation.clone().unwrap();
    assert_eq!(
        done.changed, dry.changed,
        "the change is what the dry run said"
    );
    let r = management("R");
    assert_eq!(
        r.category(RuleCategory::AppraisalRule).unwrap().rules[0]
            .end_date
            .as_deref(),
        Some("2015-01-01")
    );
    assert_eq!(
        r.category(RuleCategory::HoldRule).unwrap().rules[0].given_in,
        GivenIn::Change
    );
    // History: what R was before, under the operation.
    let history = f.archive.rules_history(&t, &ids["R"]).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].previous.as_ref(), Some(&r_before));
    assert_eq!(history[0].current, r);
    assert_eq!(history[0].operation, operation);
    assert!(f.archive.rules_history(&t, &ids["B"]).unwrap().is_empty());
    // Journal: the operation and one event on R, which R's lifecycle shows.
    let lifecycle = f
        .archive
        .lifecycle(
            &t,
            ids["R"].as_str(),
            &carnac_archive::report::JournalPage::all(),
        )
        .unwrap();
    let kinds: Vec<_> = lifecycle.events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"UNIT_RULES_CHANGE"), "{kinds:?}");
    let events = f.archive.catalog().journal(&t).unwrap();
    assert_eq!(events.len(), journal_before + 2);
    let op_event = events
        .iter()
        .find(|e| {
            e.event.operation == operation
                && e.event.kind == carnac_model::journal::EventKind::RulesChange
        })
        .unwrap();
    assert_eq!(
        op_event.event.outcome,
        Status::Warning,
        "some units were left as they were"
    );
    assert_eq!(op_event.event.detail["comment"], "Contentieux en cours");
    assert!(
        f.archive
            .verify_journal(&t, "test")
            .unwrap()
            .problems
            .is_empty()
    );

    // R is now held: its effective rules say so below it.
    let eff = f.archive.effective_rules(&t, &[ids["L"].clone()]).unwrap();
    let holds: Vec<_> = eff[&ids["L"]]
        .rules
        .of(RuleCategory::HoldRule)
        .map(|h| h.rule.rule.as_str())
        .collect();
    assert_eq!(holds.len(), 2, "A's hold and R's: {holds:?}");

    // Lifting it.
    let lifted = change(
        &f,
        &t,
        serde_json::json!({"units": [ids["R"]], "actions": [{"action": "lift_hold", "rule": "HOL-00002"}]}),
    )
    .unwrap();
    assert_eq!(lifted.changed.len(), 1);
    assert!(management("R").category(RuleCategory::HoldRule).is_none());
    assert_eq!(f.archive.rules_history(&t, &ids["R"]).unwrap().len(), 2);
}

#[test]
fn a_rule_change_is_refused_with_every_reason() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let err = change(
        &f,
        &t,
        serde_json::json!({
            "units": ["not an id!"],
            "actions": [
                {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_dat": "2010-01-01"},
                {"action": "destroy"},
                {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2010-13-01"},
                {"action": "set_final_action", "category": "AccessRule", "final_action": "Destroy"},
                {"action": "update", "category": "AppraisalRule", "replaces": "APP-00002"}
            ]
        }),
    )
    .unwrap_err();
    let carnac_archive::ArchiveError::InvalidRequest(reasons) = err else {
        panic!("{err}")
    };
    let all = reasons.join("\n");
    for expected in [
        "unknown field(s) \"start_dat\"",
        "\"destroy\" is not an action",
        "\"2010-13-01\" is not a date",
        "a AccessRule cannot have the FinalAction Destroy",
        "an update gives a new rule",
        "is not a unit identifier",
    ] {
        assert!(all.contains(expected), "{expected}: {all}");
    }
}

/// A rule's duration changed in the referential: the units' end dates stay those computed
/// when they were given (a court reads the date the archive recorded), until a `recompute`
/// moves them, in a change like any other, dry run and history included.
#[test]
fn a_changed_duration_moves_end_dates_only_by_a_recompute() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let outcome = ingest(&f, &t, units_sip(TREE.0, TREE.1));
    let ids = by_title(&f, &t, &outcome);
    // APP-00002 now lasts 30 years instead of 5.
    let dir = tempfile::tempdir().unwrap();
    let source = testdata().join("referentials/tenant-0");
    copy_dir(&source, dir.path());
    let rules = dir.path().join("rules/rules_ok.csv");
    let text = std::fs::read_to_string(&rules).unwrap();
    // The record may span lines (quoted descriptions): its duration is the first ",5,Year"
    // after its identifier.
    let at = text.find("\nAPP-00002,").unwrap();
    let duration = at + text[at..].find(",5,Year").unwrap();
    let changed = format!(
        "{},30,Year{}",
        &text[..duration],
        &text[duration + ",5,Year".len()..]
    );
    assert_ne!(changed, text);
    std::fs::write(&rules, changed).unwrap();
    f.archive
        .import_referentials(&t, dir.path(), "test")
        .unwrap();

    let end = |f: &Fixture| {
        f.archive
            .catalog()
            .unit_details(&t, &ids["R"])
            .unwrap()
            .unwrap()
            .management
            .unwrap()
            .category(RuleCategory::AppraisalRule)
            .unwrap()
            .rules[0]
            .end_date
            .clone()
    };
    assert_eq!(
        end(&f).as_deref(),
        Some("2005-01-01"),
        "the import moves nothing"
    );
    let request = |dry_run: bool| {
        serde_json::json!({
            "units": [ids["R"], ids["A"], ids["B"], ids["L"]],
            "actions": [{"action": "recompute", "category": "AppraisalRule"}],
            "dry_run": dry_run
        })
    };
    let dry = change(&f, &t, request(true)).unwrap();
    assert_eq!(dry.changed.len(), 1, "only R declares APP-00002: {dry:?}");
    assert_eq!(dry.changed[0].changes[0].after["end_date"], "2030-01-01");
    assert_eq!(end(&f).as_deref(), Some("2005-01-01"));
    change(&f, &t, request(false)).unwrap();
    assert_eq!(end(&f).as_deref(), Some("2030-01-01"));
    assert_eq!(f.archive.rules_history(&t, &ids["R"]).unwrap().len(), 1);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
