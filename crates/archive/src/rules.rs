//! Management rules after ingest: each unit's effective rules (its own and those inherited
//! from every unit above it, each with its origin), and the one-time fill of units ingested
//! before their management was kept.
//!
//! Effective rules are computed when read, not stored: a unit's rules change when a unit
//! above it changes, and computing them takes the unit's ancestors only (a few per level of
//! the tree). The rules themselves are `carnac_model::rules`; this module finds their input.

use crate::ingest::checks;
use crate::{Archive, ArchiveError};
use carnac_catalog::{UnitRules, UnitToFill};
use carnac_model::referential::RuleCategory;
use carnac_model::rules::{EffectiveRules, Management, Rule, inherit};
use carnac_model::{DigestAlgorithm, MultiHasher, OperationId, TenantId, UnitId};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

/// A unit's effective rules, and whether every unit they come from has its management
/// recorded (a unit ingested before management was kept, not yet filled, counts as
/// declaring nothing, and makes the result incomplete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitEffectiveRules {
    pub rules: EffectiveRules,
    pub complete: bool,
}

/// The effective rules of every unit of `graph` (units with all their ancestors, as
/// [`carnac_catalog::HoldingStore::rules_graph`] gives them), parents before children. A
/// parent missing from the graph counts as declaring nothing. Walks without recursion: a
/// tree may be as deep as transfers attached to one another make it.
pub fn compute_effective(graph: &[UnitRules]) -> HashMap<UnitId, UnitEffectiveRules> {
    let by_id: HashMap<&UnitId, &UnitRules> = graph.iter().map(|u| (&u.id, u)).collect();
    let mut done: HashMap<UnitId, UnitEffectiveRules> = HashMap::with_capacity(graph.len());
    let empty = Management::default();
    // Units whose parents are being computed: met again below themselves, they are a cycle.
    let mut in_progress: std::collections::HashSet<&UnitId> = Default::default();
    for start in graph {
        // Depth-first, children pushed back under their parents until the parents are done.
        let mut stack = vec![(start, false)];
        while let Some((u, parents_pushed)) = stack.pop() {
            if done.contains_key(&u.id) || (!parents_pushed && in_progress.contains(&u.id)) {
                continue;
            }
            let pending: Vec<&UnitRules> = u
                .parents
                .iter()
                .filter(|p| !done.contains_key(*p) && !in_progress.contains(p))
                .filter_map(|p| by_id.get(p).copied())
                .collect();
            if !pending.is_empty() && !parents_pushed {
                in_progress.insert(&u.id);
                stack.push((u, true));
                stack.extend(pending.into_iter().map(|p| (p, false)));
                continue;
            }
            // A parent still pending here is on a cycle (ingest refuses them): it is left
            // out rather than looped on.
            let parents: Vec<&UnitEffectiveRules> =
                u.parents.iter().filter_map(|p| done.get(p)).collect();
            let rules = inherit(
                u.id.as_str(),
                u.originating_agency.as_deref(),
                u.management.as_ref().unwrap_or(&empty),
                &parents.iter().map(|p| &p.rules).collect::<Vec<_>>(),
            );
            let complete = u.management.is_some()
                && parents.iter().all(|p| p.complete)
                && parents.len() == u.parents.len();
            done.insert(u.id.clone(), UnitEffectiveRules { rules, complete });
        }
    }
    done
}

/// How many units one pass of the fill reads.
const FILL_BATCH: usize = 1_000;

impl Archive {
    /// The effective rules of `units` (unknown units are left out).
    pub fn effective_rules(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<HashMap<UnitId, UnitEffectiveRules>, ArchiveError> {
        let graph = self.catalog.rules_graph(tenant, units)?;
        let mut all = compute_effective(&graph);
        all.retain(|id, _| units.contains(id));
        Ok(all)
    }

    /// What a WORM offer should lock the files of an ingest until, from the units it holds
    /// today (as the ingest set them, see `ingest::locks`): each object until its units may
    /// leave the archive, `manifest.xml` until the last of them may. For copies written
    /// after the ingest: an offer added later, a repair. Files with no dated unit are left
    /// out (the offer's minimum applies).
    pub(crate) fn worm_locks_of_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<HashMap<String, carnac_blobstore::Lock>, ArchiveError> {
        let units = self.catalog.units_of_operation(tenant, operation)?;
        let ids: Vec<UnitId> = units.iter().map(|u| u.id.clone()).collect();
        let effective = self.effective_rules(tenant, &ids)?;
        let mut dates: HashMap<String, time::Date> = HashMap::new();
        let mut last: Option<time::Date> = None;
        for id in &ids {
            let Some(date) = effective
                .get(id)
                .and_then(|e| carnac_model::rules::disposal_date(&e.rules))
            else {
                continue;
            };
            last = Some(last.map_or(date, |l| l.max(date)));
            let Some((_, objects)) = self.catalog.unit(tenant, id)? else {
                continue;
            };
            for o in objects {
                let slot = dates.entry(o.id.to_string()).or_insert(date);
                *slot = (*slot).max(date);
            }
        }
        let lock = |d: time::Date| {
            carnac_blobstore::Lock::Until(carnac_model::Timestamp::from_datetime(
                d.midnight().assume_utc(),
            ))
        };
        let mut out: HashMap<String, carnac_blobstore::Lock> =
            dates.into_iter().map(|(k, d)| (k, lock(d))).collect();
        if let Some(d) = last {
            out.insert("manifest.xml".into(), lock(d));
        }
        Ok(out)
    }

    /// Records the management of the tenant's units ingested before it was kept, from
    /// their transfer's manifest as stored in the offers (checked against its digest): the
    /// same reader and checks as an ingest, the package's rules merged into root units, and
    /// each rule's end date as it was recorded at ingest. A unit whose manifest no offer
    /// gives back intact gets the rules recorded at ingest alone (no FinalAction: Keep) and
    /// is reported. Returns how many units were filled.
    pub fn fill_management(&self, tenant: &TenantId) -> Result<usize, ArchiveError> {
        let mut filled = 0;
        loop {
            let batch = self.catalog.units_to_fill(tenant, FILL_BATCH)?;
            if batch.is_empty() {
                return Ok(filled);
            }
            let mut by_operation: Vec<(OperationId, Vec<UnitToFill>)> = Vec::new();
            for u in batch {
                match by_operation.last_mut() {
                    Some((op, units)) if *op == u.operation => units.push(u),
                    _ => by_operation.push((u.operation.clone(), vec![u])),
                }
            }
            let mut rows = Vec::new();
            let mut without_manifest = Vec::new();
            for (operation, units) in by_operation {
                let from_manifest = self.management_from_manifest(tenant, &operation)?;
                if from_manifest.is_none() {
                    without_manifest.push(operation.to_string());
                    tracing::warn!(%tenant, %operation, "no intact manifest: management filled from the rules recorded at ingest");
                }
                for u in units {
                    let mut m = from_manifest
                        .as_ref()
                        .and_then(|all| all.get(&u.xml_id).cloned())
                        .unwrap_or_else(|| recorded_only(&u));
                    keep_recorded_end_dates(&mut m, &u);
                    rows.push((u.id, m));
                }
            }
            let operation = self.new_operation()?;
            let summary = serde_json::json!({
                "units": rows.len(),
                "without_manifest": without_manifest,
            });
            let event = carnac_model::journal::NewEvent {
                tenant: tenant.clone(),
                operation,
                kind: carnac_model::journal::EventKind::RulesFill,
                outcome: carnac_model::Status::Ok,
                time: self.now().into(),
                agent: "system".into(),
                detail: summary.clone(),
            };
            let n = self
                .catalog
                .fill_management(tenant, &rows, &summary, &event)?;
            if n == 0 {
                // Nothing changed: another fill did it, or the rows are gone. Stop rather
                // than read the same units again.
                return Ok(filled);
            }
            filled += n;
        }
    }

    /// Each unit's management (by its identifier in the manifest) as the ingest of
    /// `operation` would build it now, or `None` if no offer gives the manifest back intact.
    fn management_from_manifest(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<HashMap<String, Management>>, ArchiveError> {
        let Some(op) = self.catalog.operation(tenant, operation)? else {
            return Ok(None);
        };
        let Some(expected) = op
            .summary
            .as_ref()
            .and_then(|s| s.get("manifest_sha256")?.as_str().map(str::to_owned))
        else {
            return Ok(None);
        };
        let key = carnac_blobstore::BlobKey {
            tenant: tenant.clone(),
            batch: operation.clone(),
            name: "manifest.xml".into(),
        };
        let refs = self.referentials(tenant)?;
        for offer in &self.offers {
            let read = || -> Option<carnac_seda::manifest::Manifest> {
                let version =
                    carnac_seda::manifest::sniff_version(BufReader::new(offer.open(&key).ok()?))
                        .ok()?;
                let mut hashed = Hashed {
                    inner: offer.open(&key).ok()?,
                    hasher: MultiHasher::new(&[DigestAlgorithm::Sha256]),
                };
                let limits = carnac_seda::manifest::ReadLimits::default();
                let mut sink = carnac_seda::manifest::NoMetadata;
                let mut input = BufReader::new(&mut hashed);
                let m = if version.describes_documents() {
                    carnac_seda::v1::read_with(&mut input, &mut sink, &limits)
                        .ok()?
                        .0
                } else {
                    carnac_seda::manifest::read_with(&mut input, &mut sink, &limits).ok()?
                };
                // What the reader left unread still counts in the digest.
                input.consume(input.buffer().len());
                std::io::copy(&mut hashed, &mut std::io::sink()).ok()?;
                let digest = hashed.hasher.finish().pop()?;
                (digest.hex == expected).then_some(m)
            };
            let Some(mut m) = read() else { continue };
            let content = checks::ContentFiles {
                files: &[],
                layout: checks::FileLayout::Package,
                version: carnac_seda::SedaVersion::V2_1,
            };
            // The report is not wanted: the transfer was accepted; only the plan's tree and
            // each unit's management are.
            let mut report = carnac_model::Report::default();
            checks::bound_header(&mut m, &mut report);
            let mut plan = checks::check_package(&m, &content, &mut report);
            checks::check_rules(&m, &refs, &mut plan, &mut report);
            return Ok(Some(
                plan.units
                    .into_iter()
                    .map(|u| (m.units[u.index].xml_id.clone(), u.management))
                    .collect(),
            ));
        }
        Ok(None)
    }
}

/// A reader that hashes what passes through it.
struct Hashed {
    inner: Box<dyn Read + Send>,
    hasher: MultiHasher,
}

impl Read for Hashed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The rules recorded at ingest, as a management that says nothing else.
fn recorded_only(u: &UnitToFill) -> Management {
    let mut m = Management::default();
    for r in &u.rules {
        if let Some(category) = RuleCategory::parse(&r.category) {
            m.category_mut(category).rules.push(Rule {
                rule: r.rule.clone(),
                start_date: r.start_date.clone(),
                end_date: r.end_date.clone(),
                ..Rule::default()
            });
        }
    }
    m
}

/// End dates stay those computed at ingest: the referential may have changed since, and a
/// change of a unit's dates is a rule change, journaled, not a side effect of a fill.
fn keep_recorded_end_dates(m: &mut Management, u: &UnitToFill) {
    for c in &mut m.categories {
        for r in &mut c.rules {
            if let Some(recorded) = u.rules.iter().find(|x| {
                x.category == c.category.as_str()
                    && x.rule == r.rule
                    && x.start_date == r.start_date
            }) {
                r.end_date = recorded.end_date.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carnac_model::rules::FinalAction;

    fn id(s: &str) -> UnitId {
        UnitId::new(s).unwrap()
    }

    fn node(name: &str, parents: &[&str], m: Option<Management>) -> UnitRules {
        UnitRules {
            id: id(name),
            parents: parents.iter().map(|p| id(p)).collect(),
            originating_agency: Some("sp".into()),
            management: m,
        }
    }

    fn destroy_after(end: &str) -> Management {
        let mut m = Management::default();
        let c = m.category_mut(RuleCategory::AppraisalRule);
        c.final_action = Some(FinalAction::Destroy);
        c.rules.push(Rule {
            rule: "APP-1".into(),
            end_date: Some(end.into()),
            ..Rule::default()
        });
        m
    }

    #[test]
    fn children_inherit_whatever_order_the_graph_comes_in() {
        // Child first, parent last, a diamond in between.
        let graph = vec![
            node("leaf", &["a", "b"], Some(Management::default())),
            node("a", &["top"], Some(Management::default())),
            node("b", &["top"], Some(Management::default())),
            node("top", &[], Some(destroy_after("2001-01-01"))),
        ];
        let all = compute_effective(&graph);
        let leaf = &all[&id("leaf")];
        assert!(leaf.complete);
        let rules: Vec<_> = leaf.rules.of(RuleCategory::AppraisalRule).collect();
        assert_eq!(rules.len(), 1, "one origin through two paths counts once");
        assert_eq!(rules[0].origin.unit, "top");
    }

    #[test]
    fn an_unfilled_unit_above_makes_the_result_incomplete() {
        let graph = vec![
            node("top", &[], None),
            node("child", &["top"], Some(destroy_after("2001-01-01"))),
        ];
        let all = compute_effective(&graph);
        assert!(!all[&id("top")].complete);
        assert!(!all[&id("child")].complete);
    }

    #[test]
    fn a_cycle_ends_instead_of_looping() {
        let graph = vec![
            node("x", &["y"], Some(Management::default())),
            node("y", &["x"], Some(Management::default())),
        ];
        let all = compute_effective(&graph);
        assert_eq!(all.len(), 2);
        assert!(all.values().any(|e| !e.complete));
    }

    #[test]
    fn a_deep_chain_is_walked_without_recursion() {
        let n = 100_000;
        let graph: Vec<UnitRules> = (0..n)
            .map(|i| {
                let parent = format!("u{}", i.max(1) - 1);
                let parents: &[&str] = if i == 0 { &[] } else { &[parent.as_str()] };
                let m = if i == 0 {
                    destroy_after("2001-01-01")
                } else {
                    Management::default()
                };
                node(&format!("u{i}"), parents, Some(m))
            })
            .rev()
            .collect();
        let all = compute_effective(&graph);
        let last = &all[&id(&format!("u{}", n - 1))];
        assert_eq!(last.rules.of(RuleCategory::AppraisalRule).count(), 1);
    }
}

/// At most this many actions in one rule change.
pub const MAX_RULE_ACTIONS: usize = 100;
/// Bytes of any one text a rule change carries (an identifier, a hold's reason…).
const MAX_TEXT: usize = 1024;

/// A rule change as a client writes it (`POST …/rules/changes`, `carnac rules change`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesChangeRequest {
    #[serde(default)]
    pub units: Vec<String>,
    #[serde(default)]
    pub query: Option<crate::selection::SelectionQuery>,
    /// Each a [`carnac_model::rules::RuleAction`]; read by [`parse_actions`], which names
    /// every field it does not know (a misspelt `start_date` is refused, not ignored).
    pub actions: Vec<serde_json::Value>,
    /// Say what would change, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// What a rule change did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RulesChangeReport {
    /// The operation that made the change; none for a dry run or when nothing changed.
    pub operation: Option<OperationId>,
    pub dry_run: bool,
    pub changed: Vec<UnitRulesChanged>,
    /// Units the actions leave as they are: nothing to change, or why they cannot take them.
    pub unchanged: Vec<UnitRulesUnchanged>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitRulesChanged {
    pub id: UnitId,
    pub changes: Vec<carnac_model::rules::RuleChange>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitRulesUnchanged {
    pub id: String,
    pub reasons: Vec<String>,
}

/// The fields each action takes, beside `action`.
fn action_fields(action: &str) -> Option<&'static [&'static str]> {
    const RULE: &[&str] = &["category", "rule", "start_date", "hold"];
    Some(match action {
        "add" => RULE,
        "hold" => &["rule", "start_date", "hold"],
        "update" => &["category", "replaces", "rule", "start_date"],
        "remove" => &["category", "rule"],
        "lift_hold" => &["rule"],
        "set_final_action" => &["category", "final_action"],
        "set_prevent_inheritance" => &["category", "prevent_inheritance"],
        "recompute" => &["category"],
        _ => return None,
    })
}

/// The actions of a request, and every reason one of them cannot be read.
pub fn parse_actions(
    values: &[serde_json::Value],
) -> (Vec<carnac_model::rules::RuleAction>, Vec<String>) {
    let mut actions = Vec::new();
    let mut problems = Vec::new();
    for (i, v) in values.iter().enumerate().take(MAX_RULE_ACTIONS) {
        let n = i + 1;
        let Some(fields) = v.as_object() else {
            problems.push(format!("action {n} is not an object"));
            continue;
        };
        let name = fields.get("action").and_then(|a| a.as_str()).unwrap_or("");
        let Some(known) = action_fields(name) else {
            problems.push(format!(
                "action {n}: {:?} is not an action (add, update, remove, set_final_action, set_prevent_inheritance, hold, lift_hold, recompute)",
                carnac_model::journal::bounded_text(name, 40)
            ));
            continue;
        };
        let unknown: Vec<&str> = fields
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "action" && !known.contains(k))
            .collect();
        if !unknown.is_empty() {
            problems.push(format!(
                "action {n} ({name}): unknown field(s) {}; it takes {}",
                unknown
                    .iter()
                    .take(5)
                    .map(|k| format!("{:?}", carnac_model::journal::bounded_text(k, 40)))
                    .collect::<Vec<_>>()
                    .join(", "),
                known.join(", ")
            ));
            continue;
        }
        if let Some(hold) = fields.get("hold").and_then(|h| h.as_object()) {
            const HOLD: [&str; 5] = [
                "end_date",
                "owner",
                "reason",
                "reassessing_date",
                "prevent_rearrangement",
            ];
            if let Some(k) = hold.keys().find(|k| !HOLD.contains(&k.as_str())) {
                problems.push(format!(
                    "action {n} ({name}): hold has an unknown field {:?}; it takes {}",
                    carnac_model::journal::bounded_text(k, 40),
                    HOLD.join(", ")
                ));
                continue;
            }
        }
        match serde_json::from_value(v.clone()) {
            Ok(a) => actions.push(a),
            Err(e) => problems.push(format!("action {n} ({name}): {e}")),
        }
    }
    (actions, problems)
}

/// Every reason the actions themselves cannot run, whatever the units.
fn action_problems(actions: &[carnac_model::rules::RuleAction]) -> Vec<String> {
    use carnac_model::rules::RuleAction as A;
    let mut out = Vec::new();
    let date = |out: &mut Vec<String>, i: usize, name: &str, v: &Option<String>| {
        if let Some(v) = v
            && carnac_model::rules::parse_date(v).is_none()
        {
            out.push(format!(
                "action {}: {name} {:?} is not a date (YYYY-MM-DD)",
                i + 1,
                carnac_model::journal::bounded_text(v, 40)
            ));
        }
    };
    let text = |out: &mut Vec<String>, i: usize, name: &str, v: Option<&str>| match v {
        Some(v) if v.len() > MAX_TEXT => out.push(format!(
            "action {}: {name} has {} bytes; at most {MAX_TEXT}",
            i + 1,
            v.len()
        )),
        Some("") => out.push(format!("action {}: {name} is empty", i + 1)),
        _ => {}
    };
    for (i, a) in actions.iter().enumerate().take(MAX_RULE_ACTIONS) {
        match a {
            A::Add { rule, .. } | A::Hold { rule } => {
                text(&mut out, i, "rule", Some(&rule.rule));
                date(&mut out, i, "start_date", &rule.start_date);
                date(&mut out, i, "hold.end_date", &rule.hold.end_date);
                date(
                    &mut out,
                    i,
                    "hold.reassessing_date",
                    &rule.hold.reassessing_date,
                );
                for (name, v) in [
                    ("hold.owner", &rule.hold.owner),
                    ("hold.reason", &rule.hold.reason),
                ] {
                    text(&mut out, i, name, v.as_deref());
                }
                if rule.end_date.is_some() || rule.given_duration.is_some() {
                    out.push(format!(
                        "action {}: end_date and given_duration are computed by the archive, not given",
                        i + 1
                    ));
                }
                if matches!(a, A::Add { category, .. } if *category != carnac_model::referential::RuleCategory::HoldRule)
                    && !rule.hold.is_empty()
                {
                    out.push(format!("action {}: only a hold has hold details", i + 1));
                }
            }
            A::Update {
                replaces,
                rule,
                start_date,
                ..
            } => {
                text(&mut out, i, "replaces", Some(replaces));
                text(&mut out, i, "rule", rule.as_deref());
                date(&mut out, i, "start_date", start_date);
                if rule.is_none() && start_date.is_none() {
                    out.push(format!(
                        "action {}: an update gives a new rule, a new start_date, or both",
                        i + 1
                    ));
                }
            }
            A::Remove { rule, .. } | A::LiftHold { rule } => {
                text(&mut out, i, "rule", Some(rule));
            }
            A::SetFinalAction {
                category,
                final_action: Some(f),
            } if !f.fits(*category) => out.push(format!(
                "action {}: a {} cannot have the FinalAction {}",
                i + 1,
                category.as_str(),
                f.as_str()
            )),
            _ => {}
        }
    }
    out
}

impl Archive {
    /// Changes the management rules of a selection of units: each unit takes every action or
    /// none (and says why), end dates come from the tenant's referential as it is now, each
    /// unit's previous rules are kept in its history, and each change is journaled on the
    /// unit, in one transaction with the operation (`RULES_CHANGE`). A dry run says the same
    /// and changes nothing.
    pub fn change_rules(
        &self,
        tenant: &TenantId,
        request: &RulesChangeRequest,
        agent: &str,
    ) -> Result<RulesChangeReport, ArchiveError> {
        use carnac_model::journal::{EventKind, NewEvent, bounded_text};
        let (actions, mut problems) = parse_actions(&request.actions);
        if request.actions.len() > MAX_RULE_ACTIONS {
            problems.push(format!(
                "{} actions; at most {MAX_RULE_ACTIONS} in one change",
                request.actions.len()
            ));
        } else if request.actions.is_empty() {
            problems.push("no action: say what to change (actions)".to_owned());
        }
        problems.extend(action_problems(&actions));
        if let Some(c) = &request.comment
            && c.len() > 4 * MAX_TEXT
        {
            problems.push(format!(
                "comment has {} bytes; at most {}",
                c.len(),
                4 * MAX_TEXT
            ));
        }
        let selected = match self.select_units(tenant, &request.units, request.query.as_ref()) {
            Ok(s) => Some(s),
            Err(ArchiveError::InvalidRequest(more)) => {
                problems.extend(more);
                None
            }
            Err(e) => return Err(e),
        };
        if !problems.is_empty() {
            return Err(ArchiveError::InvalidRequest(problems));
        }
        let selected = selected.unwrap_or_default();
        if !request.dry_run
            && let Some((_, e)) = self
                .catalog
                .executing_eliminations()?
                .into_iter()
                .find(|(t, _)| t == tenant)
        {
            // Its visa was given on the rules as they were (the catalog refuses it too).
            return Err(ArchiveError::State {
                code: "elimination_executing",
                message: format!(
                    "elimination {e} is being executed in this tenant: rules change once it is done"
                ),
            });
        }
        let refs = self.referentials(tenant)?;
        let end = |category: RuleCategory, r: &Rule| -> Result<Option<String>, String> {
            let def = refs
                .rules
                .as_ref()
                .and_then(|rs| rs.get(&r.rule))
                .ok_or_else(|| {
                    format!(
                        "the rule {:?} is not in the tenant's rules referential",
                        r.rule
                    )
                })?;
            if def.category != category {
                return Err(format!(
                    "the rule {:?} is a {} in the referential, used as a {}",
                    r.rule,
                    def.category.as_str(),
                    category.as_str()
                ));
            }
            let start = r
                .start_date
                .as_deref()
                .and_then(carnac_model::rules::parse_date);
            checks::rule_end(
                category,
                &r.rule,
                r.hold.end_date.as_deref(),
                def.duration,
                start,
            )
            .map_err(|(_, m)| m)
        };
        let graph = self.catalog.rules_graph(tenant, &selected.units)?;
        let by_id: HashMap<&UnitId, &UnitRules> = graph.iter().map(|u| (&u.id, u)).collect();
        let mut report = RulesChangeReport {
            operation: None,
            dry_run: request.dry_run,
            changed: Vec::new(),
            unchanged: selected
                .unknown
                .iter()
                .map(|id| UnitRulesUnchanged {
                    id: id.clone(),
                    reasons: vec!["no such unit in the tenant".into()],
                })
                .collect(),
        };
        let mut writes = Vec::new();
        for id in &selected.units {
            let Some(u) = by_id.get(id) else { continue };
            let Some(before) = &u.management else {
                report.unchanged.push(UnitRulesUnchanged {
                    id: id.to_string(),
                    reasons: vec![
                        "its rules from before they were kept are not filled yet (the next maintenance fills them)".into(),
                    ],
                });
                continue;
            };
            match carnac_model::rules::apply_changes(before, &actions, &end) {
                Err(reasons) => report.unchanged.push(UnitRulesUnchanged {
                    id: id.to_string(),
                    reasons,
                }),
                Ok((_, changes)) if changes.is_empty() => {
                    report.unchanged.push(UnitRulesUnchanged {
                        id: id.to_string(),
                        reasons: vec!["nothing to change".into()],
                    })
                }
                Ok((after, changes)) => {
                    writes.push((id.clone(), before.clone(), after, changes.clone()));
                    report.changed.push(UnitRulesChanged {
                        id: id.clone(),
                        changes,
                    });
                }
            }
        }
        if request.dry_run || writes.is_empty() {
            return Ok(report);
        }
        let operation = self.new_operation()?;
        let time: String = self.now().into();
        let comment = request
            .comment
            .as_deref()
            .map(|c| bounded_text(c, 4 * MAX_TEXT));
        let units: Vec<carnac_catalog::UnitManagementChange> = writes
            .into_iter()
            .map(
                |(unit, before, after, changes)| carnac_catalog::UnitManagementChange {
                    event: NewEvent {
                        tenant: tenant.clone(),
                        operation: operation.clone(),
                        kind: EventKind::UnitRulesChange,
                        outcome: carnac_model::Status::Ok,
                        time: time.clone(),
                        agent: agent.into(),
                        detail: serde_json::json!({"subject": unit, "changes": changes}),
                    },
                    unit,
                    before,
                    after,
                },
            )
            .collect();
        let summary = serde_json::json!({
            "changed": units.len(),
            "unchanged": report.unchanged.len(),
            "actions": actions,
            "comment": comment,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::RulesChange,
            outcome: if report.unchanged.is_empty() {
                carnac_model::Status::Ok
            } else {
                carnac_model::Status::Warning
            },
            time,
            agent: agent.into(),
            detail: summary.clone(),
        };
        self.catalog
            .change_management(
                tenant,
                carnac_catalog::ManagementChange {
                    units: &units,
                    summary: &summary,
                    event: &event,
                },
            )
            .map_err(|e| match e {
                carnac_catalog::CatalogError::Conflict(m) => ArchiveError::State {
                    code: "rules_changed_meanwhile",
                    message: format!("{m}: nothing was changed; ask again"),
                },
                other => other.into(),
            })?;
        tracing::info!(%tenant, %operation, changed = units.len(), "management rules changed");
        report.operation = Some(operation);
        Ok(report)
    }

    /// The latest changes of a unit's rules, newest first.
    pub fn rules_history(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Vec<carnac_catalog::ManagementHistoryRow>, ArchiveError> {
        Ok(self.catalog.management_history(tenant, unit, 100)?)
    }
}
