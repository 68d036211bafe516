//! Closing a tenant at the end of its contract, whatever its size: "destruction intégrale
//! des copies" once it holds its verified export (Code du patrimoine R212-22).
//!
//! A closure takes every unit of the tenant, so nothing of it is held in memory:
//!
//! 1. **Checks**: the tenant suspended, no ingest running, the export verified and the
//!    tenant's latest, nothing changed since, no disposal open.
//! 2. **The list**, drawn up in pages of [`crate::IngestConfig::execution_step_units`]
//!    units: each unit's rules and holds read with its ancestors, its line of the
//!    certificate, and its place in the order of destruction (deeper units first, so that
//!    the tree left between two steps has no unit whose parent is gone), written to a file.
//!    A unit held (a hold, rules not recorded) refuses the closure, with every reason.
//! 3. **The proposal**, accepted at once (the export is the tenant's own answer), written
//!    from that file in one transaction. From then on the catalog refuses any rule change
//!    or correction in the tenant; what changed while the list was drawn up is seen now,
//!    and gives the closure up (journaled) rather than destroy what the export lacks.
//! 4. **The execution**, as for any disposal: its list (read back in its order) timestamped,
//!    units destroyed in steps, the certificate written from the tombstones.
//!
//! A stop between 3 and 4 leaves the closure accepted: `tenant close` run again (or
//! `elimination execute`) begins it; a stop in 4 is completed at the next start.

use super::execution::Plan;
use super::*;
use std::io::BufRead as _;
use std::path::Path;

/// The phase a closure is in, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosureProgress {
    /// Units checked and listed, of the tenant's.
    Listing { units: u64, total: u64 },
    /// Units destroyed, of the list's.
    Destroying(ExecutionProgress),
}

/// Reasons past which a refused closure says "and N more".
const MAX_REASONS: usize = 100;

/// A unit's place in the order of destruction: deeper first, then in the order listed.
/// Positions of units at the same depth are `1 << DEPTH_SHIFT` wide, room for a tenant of
/// a million million units.
const DEPTH_SHIFT: u32 = 40;

fn position(depth: usize, listed: u64) -> Result<i64, ArchiveError> {
    // A depth beyond 2^22 (attachments stacked four million deep) would overflow: a
    // corrupt tree rather than a real one.
    if depth >= 1 << 22 || listed >= 1 << DEPTH_SHIFT {
        return Err(ArchiveError::Catalog(CatalogError::Corruption(format!(
            "a unit {depth} levels deep, or {listed} units: beyond what a closure orders"
        ))));
    }
    Ok(listed as i64 - ((depth as i64) << DEPTH_SHIFT))
}

/// Whether an operation after an export changed what the tenant holds (then the export no
/// longer is the tenant's whole).
fn changes_content(op: &carnac_catalog::Operation) -> bool {
    use EventKind as K;
    match &op.kind {
        K::Ingest => op.status.is_some_and(|s| s.is_accepted()),
        k => [
            K::RulesChange,
            K::RulesFill,
            K::UnitMetadataChange,
            K::EliminationExecutionStart,
            K::EliminationExecution,
            K::TransferOutPurgeStart,
            K::TransferOutPurge,
            K::RestitutionPurgeStart,
            K::RestitutionPurge,
        ]
        .contains(k),
    }
}

impl Archive {
    /// Closes a tenant at the end of its contract (see the module's comment), or completes
    /// the closure a stop cut short. Refused, with every reason, unless the tenant is
    /// suspended (it takes no transfer), no ingest of it runs, `export` verifies with its
    /// files alone, is the tenant's latest export (its manifest's digest the one journaled)
    /// and nothing changed the tenant since, no disposal is open and no unit is held. Then
    /// every unit is purged (in steps, resumed after a stop, tombstones kept), with its
    /// transfers' manifests and its deliveries' packages; the journal, seals, attestations
    /// and certificates stay; the closing certificate ("destruction intégrale des copies")
    /// is signed and timestamped.
    pub fn close_tenant(
        &self,
        tenant: &TenantId,
        export: &Path,
        agent: &str,
    ) -> Result<EliminationRow, ArchiveError> {
        self.close_tenant_with(tenant, export, agent, &mut |_| {})
    }

    /// [`Archive::close_tenant`], telling `progress` as it lists and destroys.
    pub fn close_tenant_with(
        &self,
        tenant: &TenantId,
        export: &Path,
        agent: &str,
        progress: &mut dyn FnMut(ClosureProgress),
    ) -> Result<EliminationRow, ArchiveError> {
        let row = self
            .catalog
            .tenant(tenant)?
            .ok_or_else(|| ArchiveError::NotFound(format!("tenant {tenant}")))?;
        // A closure a stop cut short is completed, whatever export is named now.
        if let Some(open) = self
            .catalog
            .eliminations(tenant)?
            .into_iter()
            .find(|r| r.kind == DisposalKind::Closure && r.state.is_open())
        {
            tracing::warn!(%tenant, closure = %open.id, "completing the closure a stop cut short");
            return self.run_closure(tenant, &open.id, agent, progress);
        }
        let mut problems = Vec::new();
        if row.suspended_at.is_none() {
            problems.push(format!(
                "tenant {tenant} is not suspended: suspend it first (carnac tenant suspend), so that it takes no transfer while it closes"
            ));
        }
        let digest = match crate::export::verify_tenant_export(export, &self.trust()) {
            Ok((digest, found)) => {
                problems.extend(
                    found
                        .iter()
                        .take(20)
                        .map(|p| format!("the export {}: {p}", export.display())),
                );
                if found.len() > 20 {
                    problems.push(format!("the export: {} more problems", found.len() - 20));
                }
                digest
            }
            Err(e) => {
                problems.push(format!(
                    "the export {} cannot be read: {e}",
                    export.display()
                ));
                String::new()
            }
        };
        problems.extend(self.export_problems(tenant, &digest, Some(export))?);
        for r in self.catalog.eliminations(tenant)? {
            if r.state.is_open() {
                problems.push(format!(
                    "{} {} is open ({}): complete or withdraw it first",
                    r.kind.noun(),
                    r.id,
                    r.state.as_str()
                ));
            }
        }
        let total = self.catalog.counts(tenant)?.units;
        if total == 0 {
            problems.push(format!("tenant {tenant} holds no unit: nothing to close"));
        }
        if !problems.is_empty() {
            return Err(ArchiveError::InvalidRequest(problems));
        }
        let id = self.new_operation()?;
        let list = self.tmp.join(format!("{id}.closure.jsonl"));
        let _scratch = crate::files::Scratch(vec![list.clone()]);
        let today = self.clock.now().date();
        let listing = std::time::Instant::now();
        let listed = self.list_closure(tenant, today, &list, total, progress)?;
        let listed_in = listing.elapsed();
        if !listed.held.is_empty() {
            let mut reasons = listed.held;
            if listed.more_held > 0 {
                reasons.push(format!("and {} more units held", listed.more_held));
            }
            return Err(ArchiveError::InvalidRequest(reasons));
        }
        let now = self.now();
        let step = serde_json::json!({
            "step": "closure",
            "decision": "accepted",
            "reply_identifier": digest,
            "export": export.display().to_string(),
            "author": agent,
            "at": now,
            "state": EliminationState::Accepted.as_str(),
        });
        let totals = serde_json::json!({
            "units": listed.units,
            "archival_agency": tenant,
            "export_manifest_sha256": digest,
        });
        let closure = EliminationRow {
            id: id.clone(),
            kind: DisposalKind::Closure,
            state: EliminationState::Accepted,
            at: today.to_string(),
            seda_version: self.tenant_seda_version(tenant)?.as_str().into(),
            proposed_by: agent.into(),
            proposed_at: now.clone(),
            steps: vec![step],
            totals: totals.clone(),
            purge_pending: false,
            execution: None,
        };
        let summary = serde_json::json!({
            "elimination": id,
            "kind": DisposalKind::Closure.as_str(),
            "totals": totals,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: id.clone(),
            kind: EventKind::TenantClose,
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail: summary.clone(),
        };
        let mut rows = ListedRows::open(&list)
            .map_err(|e| ArchiveError::io("reading the closure's list", e))?;
        let recording = std::time::Instant::now();
        self.catalog.create_elimination(
            tenant,
            NewElimination {
                row: &closure,
                units: &mut rows,
                summary: &summary,
                event: &event,
            },
        )?;
        drop(_scratch);
        // The recording is one transaction of the catalog's writer: how long other tenants'
        // writes waited.
        tracing::warn!(%tenant, closure = %id, units = listed.units, ?listed_in, recorded_in = ?recording.elapsed(), "tenant closing: every copy of its holdings is purged");
        self.run_closure(tenant, &id, agent, progress)
    }

    /// Begins (if it is not yet) and executes a closure, then reads it back.
    fn run_closure(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        agent: &str,
        progress: &mut dyn FnMut(ClosureProgress),
    ) -> Result<EliminationRow, ArchiveError> {
        self.execute_elimination_with(tenant, id, agent, &mut |p| {
            progress(ClosureProgress::Destroying(p))
        })?;
        self.catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("closure {id}")))
    }

    /// Why `digest` is not the export the tenant may close on: not its latest, or the
    /// tenant changed since. `export` names it in the reasons.
    fn export_problems(
        &self,
        tenant: &TenantId,
        digest: &str,
        export: Option<&Path>,
    ) -> Result<Vec<String>, ArchiveError> {
        let named = export.map_or_else(
            || format!("the export {digest}"),
            |e| e.display().to_string(),
        );
        let mut problems = Vec::new();
        let operations = self.catalog.operations(tenant)?;
        for o in &operations {
            if o.kind == EventKind::Ingest && o.state == carnac_catalog::OperationState::Running {
                problems.push(format!(
                    "ingest {} is running: let it end, then export again",
                    o.id
                ));
            }
        }
        match operations
            .iter()
            .rposition(|o| o.kind == EventKind::TenantExport && o.status == Some(Status::Ok))
        {
            None => problems.push(format!(
                "no export of tenant {tenant} is recorded: run carnac tenant export"
            )),
            Some(i) => {
                let recorded = operations[i]
                    .summary
                    .as_ref()
                    .and_then(|s| s.get("manifest_sha256")?.as_str())
                    .unwrap_or("");
                if recorded != digest {
                    problems.push(format!(
                        "{named} is not the tenant's latest export (operation {} of {} is): export again",
                        operations[i].id, operations[i].started_at
                    ));
                }
                for o in operations[i + 1..].iter().filter(|o| changes_content(o)) {
                    problems.push(format!(
                        "operation {} ({}) changed the tenant after its export: export again",
                        o.id, o.kind
                    ));
                }
            }
        }
        Ok(problems)
    }

    /// Lists every unit of the tenant for its closure, a page at a time, to `list` (one
    /// JSON line a unit: its identifier, place and line of the certificate), or says which
    /// are held.
    fn list_closure(
        &self,
        tenant: &TenantId,
        today: time::Date,
        list: &Path,
        total: u64,
        progress: &mut dyn FnMut(ClosureProgress),
    ) -> Result<Listed, ArchiveError> {
        let io = |e| ArchiveError::io("writing the closure's list", e);
        let mut out = std::io::BufWriter::new(std::fs::File::create(list).map_err(io)?);
        let mut listed = Listed::default();
        let mut checked = 0u64;
        let page = self.config.execution_step_units.max(1);
        let mut after: Option<UnitId> = None;
        loop {
            let ids = self.catalog.unit_ids(tenant, after.as_ref(), page)?;
            let Some(last) = ids.last() else { break };
            after = Some(last.clone());
            // Each unit with every unit above it: its effective rules and its depth.
            let graph = self.catalog.rules_graph(tenant, &ids)?;
            let effective = crate::rules::compute_effective(&graph);
            let parents: HashMap<&UnitId, &Vec<UnitId>> =
                graph.iter().map(|u| (&u.id, &u.parents)).collect();
            let agencies: HashMap<&UnitId, Option<&str>> = graph
                .iter()
                .map(|u| (&u.id, u.originating_agency.as_deref()))
                .collect();
            let depth = execution::depths(&ids, |u| {
                parents
                    .get(u)
                    .map(|p| p.iter().collect())
                    .unwrap_or_default()
            });
            for u in &ids {
                let agency = agencies.get(u).copied().flatten();
                let e = effective.get(u);
                let verdict = analysis::own_verdict(
                    DisposalKind::Closure,
                    e,
                    None,
                    agency.unwrap_or(""),
                    None,
                    today,
                    today,
                );
                match (verdict, e) {
                    (Some(why), _) => {
                        if listed.held.len() < MAX_REASONS {
                            listed.held.push(format!("unit {u}: {}", why.describe()));
                        } else {
                            listed.more_held += 1;
                        }
                    }
                    // Once one is held, the rest is only checked.
                    (None, Some(e)) if listed.held.is_empty() => {
                        let line = serde_json::json!({
                            "unit": u,
                            "position": position(depth.get(u).copied().unwrap_or(0), listed.units)?,
                            "record": self.bordereau_line(tenant, u, agency, &e.rules)?,
                        });
                        serde_json::to_writer(&mut out, &line)
                            .map_err(std::io::Error::from)
                            .and_then(|()| out.write_all(b"\n"))
                            .map_err(io)?;
                        listed.units += 1;
                    }
                    (None, _) => {}
                }
            }
            checked += ids.len() as u64;
            progress(ClosureProgress::Listing {
                units: checked,
                total: total.max(checked),
            });
        }
        out.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)?;
        Ok(listed)
    }

    /// Begins a closure's execution on the list it was proposed with, once sure the tenant
    /// did not change while it was drawn up (the closure, open, has frozen it since): if
    /// it did, the closure is given up, journaled, and refused with the reasons.
    pub(super) fn begin_closure(
        &self,
        tenant: &TenantId,
        row: &EliminationRow,
        agent: &str,
    ) -> Result<(), ArchiveError> {
        let digest = row.totals["export_manifest_sha256"]
            .as_str()
            .unwrap_or_default();
        let mut problems = self.export_problems(tenant, digest, None)?;
        // Every unit the tenant holds is on the list, and only those.
        let listed = row.totals["units"].as_u64().unwrap_or(0);
        let held = self.catalog.counts(tenant)?.units;
        if held != listed {
            problems.push(format!(
                "the tenant holds {held} units, the closure lists {listed}"
            ));
        }
        if !problems.is_empty() {
            self.give_up_closure(tenant, row, &problems, agent)?;
            let mut reasons = problems;
            reasons.push(format!(
                "closure {} is given up, nothing destroyed: export again, then close",
                row.id
            ));
            return Err(ArchiveError::InvalidRequest(reasons));
        }
        if self.has_worm_offer() {
            let mut files = Vec::new();
            self.catalog
                .each_elimination_unit(tenant, &row.id, &mut |u| {
                    if u.status == EliminationUnitStatus::Proposed
                        && let Some((batch, names)) = worm::unit_files(&u.record)
                    {
                        files.push((format!("unit {}", u.unit), batch, names));
                    }
                    Ok(())
                })?;
            // Its transfers' manifests go too (`remove_tenant_content`).
            for op in self.catalog.operations(tenant)? {
                if op.kind == EventKind::Ingest && op.status.is_some_and(|s| s.is_accepted()) {
                    files.push((
                        format!("the manifest of transfer {}", op.id),
                        op.id,
                        vec!["manifest.xml".to_owned()],
                    ));
                }
            }
            self.refuse_worm_locked(tenant, &format!("closure {}", row.id), &files)?;
        }
        // Its deliveries' packages go first, each removal recorded as at expiry.
        let now = self.now();
        for d in self.catalog.deliveries(tenant, None, usize::MAX)? {
            if d.state == carnac_model::delivery::DeliveryState::Delivered {
                self.remove_delivery_package(tenant, &d.id, &now)?;
            }
        }
        let mut plan = Plan::default();
        let mut unplaced = None;
        self.catalog
            .each_elimination_unit(tenant, &row.id, &mut |u| {
                if u.status != EliminationUnitStatus::Proposed {
                    return Ok(());
                }
                match (u.position, u.unit.parse::<UnitId>()) {
                    (Some(_), Ok(unit)) => plan.add(&unit),
                    _ => unplaced = Some(u.unit),
                }
                Ok(())
            })?;
        if let Some(u) = unplaced {
            return Err(ArchiveError::Catalog(CatalogError::Corruption(format!(
                "unit {u} of closure {} has no place in its order",
                row.id
            ))));
        }
        if plan.units() as u64 != listed {
            return Err(ArchiveError::Catalog(CatalogError::Corruption(format!(
                "closure {} lists {} units, its record says {listed}",
                row.id,
                plan.units()
            ))));
        }
        self.start_execution(
            tenant,
            row,
            agent,
            plan,
            carnac_catalog::ToDestroy::Proposed,
            &[],
        )
    }

    /// Withdraws a closure that cannot go on, before anything is destroyed.
    fn give_up_closure(
        &self,
        tenant: &TenantId,
        row: &EliminationRow,
        problems: &[String],
        agent: &str,
    ) -> Result<(), ArchiveError> {
        let operation = self.new_operation()?;
        let now = self.now();
        let step = serde_json::json!({
            "step": "withdrawal",
            "operation": operation,
            "author": agent,
            "at": now,
            "state": EliminationState::Withdrawn.as_str(),
            "reasons": problems,
        });
        let summary = serde_json::json!({"elimination": row.id, "step": step});
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::TenantCloseWithdrawal,
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail: summary.clone(),
        };
        self.catalog.elimination_step(
            tenant,
            EliminationStepCommit {
                id: &row.id,
                from: row.state,
                to: EliminationState::Withdrawn,
                step: &step,
                excepted: &[],
                summary: &summary,
                event: &event,
            },
        )?;
        tracing::warn!(%tenant, closure = %row.id, "closure given up: the tenant changed while it was listed");
        Ok(())
    }
}

/// What listing a tenant found.
#[derive(Default)]
struct Listed {
    /// Units listed (none once one is held).
    units: u64,
    /// The first units held, with why.
    held: Vec<String>,
    more_held: u64,
}

/// The rows of a closure's list, read back from its file.
struct ListedRows {
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
}

impl ListedRows {
    fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            lines: std::io::BufReader::new(std::fs::File::open(path)?).lines(),
        })
    }
}

impl Iterator for ListedRows {
    type Item = Result<EliminationUnitRow, CatalogError>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = self.lines.next()?;
        Some((|| {
            let line =
                line.map_err(|e| CatalogError::storage_in("reading the closure's list", e))?;
            let mut v: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| CatalogError::storage_in("reading the closure's list", e))?;
            Ok(EliminationUnitRow {
                unit: v["unit"].as_str().unwrap_or_default().to_owned(),
                status: EliminationUnitStatus::Proposed,
                reason: None,
                position: v["position"].as_i64(),
                record: v["record"].take(),
            })
        })())
    }
}
