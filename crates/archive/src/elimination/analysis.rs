//! The analysis of a selection at a date: each unit's verdict (its effective appraisal, its
//! holds, the units below it that stay, the open operations that have it) and its line of
//! the bordereau.

use super::*;

/// A unit being analysed: what the bordereau says of it, and why it may not go.
pub(crate) struct Analysed {
    pub(crate) record: serde_json::Value,
    pub(crate) why: Option<Excluded>,
    /// Its parents (in the tenant, whether analysed or not).
    pub(super) parents: Vec<UnitId>,
}

impl Archive {
    /// Why each of `units` may not be destroyed (or, for a transfer out, transferred) at
    /// `at` (none: it may), with its bordereau line: its own rules, its descendants, the
    /// operations that have it.
    #[allow(clippy::too_many_arguments)] // Private: the analysis of the three kinds.
    pub(crate) fn analyse(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
        at: time::Date,
        holds_at: time::Date,
        exclude_operation: Option<&OperationId>,
        kind: DisposalKind,
        producer: Option<&str>,
    ) -> Result<BTreeMap<UnitId, Analysed>, ArchiveError> {
        let phase = std::time::Instant::now();
        let below = self.catalog.descendants(tenant, units)?;
        tracing::debug!(elapsed = ?phase.elapsed(), below = below.len(), "analysis: descendants");
        let mut all: Vec<UnitId> = units.to_vec();
        let known: BTreeSet<&UnitId> = units.iter().collect();
        all.extend(below.iter().filter(|u| !known.contains(u)).cloned());
        let graph = self.catalog.rules_graph(tenant, &all)?;
        tracing::debug!(elapsed = ?phase.elapsed(), units = graph.len(), "analysis: rules graph");
        let effective = crate::rules::compute_effective(&graph);
        tracing::debug!(elapsed = ?phase.elapsed(), "analysis: effective rules");
        let parents: HashMap<&UnitId, &Vec<UnitId>> =
            graph.iter().map(|u| (&u.id, &u.parents)).collect();
        let agencies: HashMap<&UnitId, Option<&str>> = graph
            .iter()
            .map(|u| (&u.id, u.originating_agency.as_deref()))
            .collect();
        let busy: HashMap<UnitId, OperationId> = self
            .catalog
            .units_in_open_eliminations(tenant, &all)?
            .into_iter()
            .filter(|(_, e)| Some(e) != exclude_operation)
            .collect();
        tracing::debug!(elapsed = ?phase.elapsed(), "analysis: open operations");
        // Each unit's own verdict first.
        let mut own: HashMap<UnitId, Option<Excluded>> = HashMap::new();
        for u in &all {
            let verdict = own_verdict(
                kind,
                effective.get(u),
                busy.get(u),
                agencies.get(u).copied().flatten().unwrap_or(""),
                producer,
                at,
                holds_at,
            );
            own.insert(u.clone(), verdict);
        }
        // A unit kept keeps every unit above it.
        let mut verdict = own.clone();
        for (u, why) in &own {
            if why.is_none() {
                continue;
            }
            let mut stack: Vec<&UnitId> = parents
                .get(u)
                .map(|p| p.iter().collect())
                .unwrap_or_default();
            let mut seen = BTreeSet::new();
            while let Some(p) = stack.pop() {
                if !seen.insert(p.clone()) {
                    continue;
                }
                if let Some(v) = verdict.get_mut(p)
                    && v.is_none()
                {
                    *v = Some(Excluded::DescendantKept {
                        descendant: u.to_string(),
                    });
                }
                if let Some(pp) = parents.get(p) {
                    stack.extend(pp.iter());
                }
            }
        }
        tracing::debug!(elapsed = ?phase.elapsed(), "analysis: verdicts");
        let mut out = BTreeMap::new();
        for u in &all {
            let record = match effective.get(u) {
                Some(e) => {
                    self.bordereau_line(tenant, u, agencies.get(u).copied().flatten(), &e.rules)?
                }
                None => serde_json::json!({}),
            };
            out.insert(
                u.clone(),
                Analysed {
                    record,
                    why: verdict.remove(u).flatten(),
                    parents: parents.get(u).map(|p| p.to_vec()).unwrap_or_default(),
                },
            );
        }
        tracing::debug!(elapsed = ?phase.elapsed(), "analysis: bordereau lines");
        Ok(out)
    }

    /// A unit's line of the bordereau: title, dates, agency, its appraisal rules and their
    /// end, its files (count, bytes, digests).
    pub(super) fn bordereau_line(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        agency: Option<&str>,
        rules: &carnac_model::rules::EffectiveRules,
    ) -> Result<serde_json::Value, ArchiveError> {
        let Some((u, objects)) = self.catalog.unit(tenant, unit)? else {
            return Ok(serde_json::json!({}));
        };
        let appraisal: Vec<serde_json::Value> = rules
            .of(RuleCategory::AppraisalRule)
            .map(|r| {
                serde_json::json!({
                    "rule": r.rule.rule,
                    "start_date": r.rule.start_date,
                    "end_date": r.rule.end_date,
                    "origin": r.origin.unit,
                })
            })
            .collect();
        let end = rules
            .of(RuleCategory::AppraisalRule)
            .filter_map(|r| r.rule.end_date.clone())
            .max();
        let final_actions: Vec<&str> = rules
            .final_actions_of(RuleCategory::AppraisalRule)
            .map(|a| a.final_action.as_str())
            .collect();
        let files: Vec<serde_json::Value> = objects
            .iter()
            .filter(|o| !o.physical)
            .map(|o| {
                serde_json::json!({
                    "id": o.id,
                    "size": o.size,
                    "digest_algorithm": o.digest.as_ref().map(|d| d.algorithm.seda_name()),
                    "digest": o.digest.as_ref().map(|d| d.hex.clone()),
                    "filename": o.filename,
                })
            })
            .collect();
        let bytes: u64 = objects.iter().filter_map(|o| o.size).sum();
        Ok(serde_json::json!({
            "id": unit,
            "title": u.title,
            "start_date": u.start_date,
            "end_date": u.end_date,
            "originating_agency": agency,
            "appraisal_rules": appraisal,
            "appraisal_end": end,
            "final_actions": final_actions,
            "objects": files.len(),
            "bytes": bytes,
            "files": files,
            "ingest": u.operation,
        }))
    }
}

/// Why one unit may not go by itself (its descendants aside): its effective rules
/// (`effective`, none for a unit unknown) at `at`, its holds at `holds_at`, the open
/// operation that has it (`busy`), and for a restitution whether it is the producer's
/// (`agency`, its originating agency).
pub(crate) fn own_verdict(
    kind: DisposalKind,
    effective: Option<&crate::rules::UnitEffectiveRules>,
    busy: Option<&OperationId>,
    agency: &str,
    producer: Option<&str>,
    at: time::Date,
    holds_at: time::Date,
) -> Option<Excluded> {
    let Some(e) = effective else {
        return Some(Excluded::Unknown);
    };
    if !e.complete {
        return Some(Excluded::RulesIncomplete);
    }
    if let Some(op) = busy {
        return Some(Excluded::InOtherOperation {
            operation: op.to_string(),
        });
    }
    // A restitution gives one producer back its own records.
    if kind == DisposalKind::Restitution && producer.is_some_and(|p| p != agency) {
        return Some(Excluded::OtherProducer {
            agency: agency.to_owned(),
        });
    }
    let verdict = match kind {
        DisposalKind::Elimination => appraise(&e.rules, at),
        DisposalKind::TransferOut => carnac_model::rules::appraise_transfer(&e.rules, at),
        // A hold keeps a unit whoever it goes to.
        DisposalKind::Restitution | DisposalKind::Closure => {
            carnac_model::rules::appraise_restitution(&e.rules, at)
        }
    };
    let mut why = match verdict {
        Ok(()) => Vec::new(),
        Err(w) => w
            .into_iter()
            .filter(|x| !matches!(x, carnac_model::rules::Exclusion::Hold { .. }))
            .collect(),
    };
    // Holds are read at their own date (today at execution).
    let holds = carnac_model::rules::active_holds(&e.rules, holds_at);
    if !holds.is_empty() {
        why.push(carnac_model::rules::Exclusion::Hold {
            rules: holds.iter().map(|h| h.rule.rule.clone()).collect(),
        });
    }
    (!why.is_empty()).then_some(Excluded::Rules { why })
}
