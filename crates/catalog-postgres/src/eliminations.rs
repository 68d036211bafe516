//! Eliminations: proposals, steps, the execution that deletes what the visa grants, and the
//! tombstones that remain.

use super::*;
use carnac_catalog::{
    DestroyedUnit, EliminationRow, EliminationStepCommit, EliminationStore, EliminationUnitRow,
    EliminationUnitStatus, ExecutionEnd, ExecutionStart, NewElimination, PurgedBlob, ToDestroy,
    Tombstone,
};
use carnac_model::elimination::{DisposalKind, EliminationState, EliminationStep};
use carnac_model::{ObjectId, OperationId, Timestamp, UnitId};
use postgres::fallible_iterator::FallibleIterator;

const COLUMNS: &str = "id, state, at, seda_version, proposed_by, proposed_at, steps, totals,
    EXISTS (SELECT 1 FROM elimination_purges p WHERE p.tenant = e.tenant AND p.elimination = e.id),
    execution, kind";

/// The open states, in SQL: those of `EliminationState::is_open`.
pub(crate) const OPEN_STATES: &str =
    "('proposed', 'agreed', 'visa_granted', 'visa_partly_granted', 'executing',
    'sent', 'rejected', 'accepted', 'partly_accepted')";

fn json(text: &str, what: &str) -> Result<serde_json::Value, CatalogError> {
    serde_json::from_str(text).map_err(|e| CatalogError::Corruption(format!("{what}: {e}")))
}

fn to_row(r: &postgres::Row) -> Result<EliminationRow, CatalogError> {
    let state: String = r.get(1);
    let kind: String = r.get(10);
    let steps = match json(r.get(6), "an elimination's steps")? {
        serde_json::Value::Array(a) => a,
        _ => return Err(CatalogError::Corruption("an elimination's steps".into())),
    };
    Ok(EliminationRow {
        id: parse_id("elimination id", r.get(0))?,
        kind: DisposalKind::parse(&kind)
            .ok_or_else(|| CatalogError::Corruption(format!("elimination kind {kind:?}")))?,
        state: EliminationState::parse(&state)
            .ok_or_else(|| CatalogError::Corruption(format!("elimination state {state:?}")))?,
        at: r.get(2),
        seda_version: r.get(3),
        proposed_by: r.get(4),
        proposed_at: stored_time(r.get(5))?,
        steps,
        totals: json(r.get(7), "an elimination's totals")?,
        purge_pending: r.get(8),
        execution: r
            .get::<_, Option<&str>>(9)
            .map(|e| json(e, "an elimination's execution"))
            .transpose()?,
    })
}

/// An elimination's state and steps, locked until the transaction ends.
fn read_state(
    tx: &mut Transaction<'_>,
    tenant: &str,
    id: &OperationId,
) -> Result<(EliminationState, String), CatalogError> {
    let row = tx
        .query_opt(
            "SELECT state, steps FROM eliminations WHERE tenant = $1 AND id = $2 FOR UPDATE",
            &[&tenant, &id.as_str()],
        )
        .map_err(storage)?
        .ok_or_else(|| CatalogError::NotFound(format!("elimination {id}")))?;
    let state: String = row.get(0);
    let state = EliminationState::parse(&state)
        .ok_or_else(|| CatalogError::Corruption(format!("elimination state {state:?}")))?;
    Ok((state, row.get(1)))
}

fn push_step(steps: &str, step: &serde_json::Value) -> Result<String, CatalogError> {
    let mut all = match json(steps, "an elimination's steps")? {
        serde_json::Value::Array(a) => a,
        _ => return Err(CatalogError::Corruption("an elimination's steps".into())),
    };
    all.push(step.clone());
    Ok(serde_json::Value::Array(all).to_string())
}

impl EliminationStore for PostgresCatalog {
    fn create_elimination(
        &self,
        tenant: &TenantId,
        new: NewElimination<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, new.event)?;
        let t = tenant.as_str();
        let row = new.row;
        self.write(Some(tenant), |tx| {
            operations::record_done_operation(tx, tenant, new.summary, new.event)?;
            tx.execute(
                "INSERT INTO eliminations (tenant, id, state, at, seda_version, proposed_by, proposed_at,
                                           steps, totals, kind)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &t,
                    &row.id.as_str(),
                    &row.state.as_str(),
                    &row.at,
                    &row.seda_version,
                    &row.proposed_by,
                    &row.proposed_at.as_str(),
                    &serde_json::Value::Array(row.steps.clone()).to_string(),
                    &row.totals.to_string(),
                    &row.kind.as_str(),
                ],
            )
            .map_err(storage)?;
            let busy = tx
                .prepare(&format!(
                    "SELECT e.id FROM elimination_units u JOIN eliminations e
                       ON e.tenant = u.tenant AND e.id = u.elimination
                     WHERE u.tenant = $1 AND u.unit = $2 AND u.status IN ('proposed', 'destroying')
                       AND e.id <> $3 AND e.state IN {OPEN_STATES}
                     LIMIT 1"
                ))
                .map_err(storage)?;
            let insert = tx
                .prepare(
                    "INSERT INTO elimination_units (tenant, elimination, unit, status, reason, record, position)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .map_err(storage)?;
            for u in new.units {
                let u = u?;
                if u.status == EliminationUnitStatus::Proposed
                    && let Some(other) = tx
                        .query_opt(&busy, &[&t, &u.unit, &row.id.as_str()])
                        .map_err(storage)?
                {
                    return Err(CatalogError::Conflict(format!(
                        "unit {} is in the open elimination {}",
                        u.unit,
                        other.get::<_, &str>(0)
                    )));
                }
                tx.execute(
                    &insert,
                    &[
                        &t,
                        &row.id.as_str(),
                        &u.unit,
                        &u.status.as_str(),
                        &u.reason.as_ref().map(|r| r.to_string()),
                        &u.record.to_string(),
                        &u.position,
                    ],
                )
                .map_err(storage)?;
            }
            Ok(())
        })
    }

    fn elimination(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Option<EliminationRow>, CatalogError> {
        self.conn()?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM eliminations e WHERE tenant = $1 AND id = $2"),
                &[&tenant.as_str(), &id.as_str()],
            )
            .map_err(storage)?
            .map(|r| to_row(&r))
            .transpose()
    }

    fn eliminations(&self, tenant: &TenantId) -> Result<Vec<EliminationRow>, CatalogError> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM eliminations e WHERE tenant = $1 ORDER BY seq DESC"
                ),
                &[&tenant.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(to_row)
            .collect()
    }

    fn each_elimination_unit(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        each: &mut dyn FnMut(EliminationUnitRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn()?;
        let (t, e) = (tenant.as_str(), id.as_str());
        let params: [&(dyn postgres::types::ToSql + Sync); 2] = [&t, &e];
        let mut rows = conn
            .query_raw(
                "SELECT unit, status, reason, record, position FROM elimination_units
                 WHERE tenant = $1 AND elimination = $2 ORDER BY position IS NULL, position, seq",
                params,
            )
            .map_err(storage)?;
        while let Some(r) = rows.next().map_err(storage)? {
            let status: &str = r.get(1);
            each(EliminationUnitRow {
                unit: r.get(0),
                status: EliminationUnitStatus::parse(status).ok_or_else(|| {
                    CatalogError::Corruption(format!("elimination unit status {status:?}"))
                })?,
                reason: r
                    .get::<_, Option<&str>>(2)
                    .map(|r| json(r, "an exclusion"))
                    .transpose()?,
                record: json(r.get(3), "a bordereau line")?,
                position: r.get(4),
            })?;
        }
        Ok(())
    }

    fn units_in_open_eliminations(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<Vec<(UnitId, OperationId)>, CatalogError> {
        let ids: Vec<&str> = units.iter().map(UnitId::as_str).collect();
        self.conn()?
            .query(
                &format!(
                    "SELECT u.unit, e.id FROM elimination_units u
                     JOIN eliminations e ON e.tenant = u.tenant AND e.id = u.elimination
                     WHERE u.tenant = $1 AND u.status IN ('proposed', 'destroying')
                       AND u.unit = ANY($2::text[])
                       AND e.state IN {OPEN_STATES}"
                ),
                &[&tenant.as_str(), &ids],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok((
                    parse_id("unit id", r.get(0))?,
                    parse_id("elimination id", r.get(1))?,
                ))
            })
            .collect()
    }

    fn elimination_step(
        &self,
        tenant: &TenantId,
        step: EliminationStepCommit<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, step.event)?;
        let t = tenant.as_str();
        self.write(Some(tenant), |tx| {
            let (state, steps) = read_state(tx, t, step.id)?;
            if state != step.from {
                return Err(CatalogError::Conflict(format!(
                    "elimination {} is {} now, no longer {}",
                    step.id,
                    state.as_str(),
                    step.from.as_str()
                )));
            }
            operations::record_done_operation(tx, tenant, step.summary, step.event)?;
            tx.execute(
                "UPDATE eliminations SET state = $3, steps = $4 WHERE tenant = $1 AND id = $2",
                &[
                    &t,
                    &step.id.as_str(),
                    &step.to.as_str(),
                    &push_step(&steps, step.step)?,
                ],
            )
            .map_err(storage)?;
            let except = tx
                .prepare(
                    "UPDATE elimination_units SET status = 'visa_excepted'
                     WHERE tenant = $1 AND elimination = $2 AND unit = $3 AND status = 'proposed'",
                )
                .map_err(storage)?;
            for u in step.excepted {
                if tx
                    .execute(&except, &[&t, &step.id.as_str(), &u.as_str()])
                    .map_err(storage)?
                    == 0
                {
                    return Err(CatalogError::NotFound(format!(
                        "unit {u} among the units proposed by elimination {}",
                        step.id
                    )));
                }
            }
            Ok(())
        })
    }

    fn begin_execution(
        &self,
        tenant: &TenantId,
        x: ExecutionStart<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, x.event)?;
        let t = tenant.as_str();
        let execution = serde_json::json!({
            "operation": x.operation,
            "agent": x.agent,
            "started_at": x.started_at,
        });
        self.write(Some(tenant), |tx| {
            let (state, _) = read_state(tx, t, x.id)?;
            state
                .after(EliminationStep::Execution)
                .map_err(|m| CatalogError::Conflict(format!("elimination {}: {m}", x.id)))?;
            let n = tx
                .execute(
                    "INSERT INTO operations (tenant, id, kind, state, started_at, agent, node)
                     VALUES ($1, $2, 'ELIMINATION_EXECUTION', 'RUNNING', $3, $4, $5)
                     ON CONFLICT DO NOTHING",
                    &[&t, &x.operation.as_str(), &x.started_at.as_str(), &x.agent, &self.node],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::Conflict(format!("operation {}", x.operation)));
            }
            tx.execute(
                "UPDATE eliminations SET state = 'executing', execution = $3
                 WHERE tenant = $1 AND id = $2",
                &[&t, &x.id.as_str(), &execution.to_string()],
            )
            .map_err(storage)?;
            match x.destroy {
                ToDestroy::Listed(list) => {
                    let destroying = tx
                        .prepare(
                            "UPDATE elimination_units SET status = 'destroying', record = $4, position = $5
                             WHERE tenant = $1 AND elimination = $2 AND unit = $3 AND status = 'proposed'",
                        )
                        .map_err(storage)?;
                    for (position, (unit, record)) in list.iter().enumerate() {
                        let n = tx
                            .execute(
                                &destroying,
                                &[&t, &x.id.as_str(), &unit.as_str(), &record.to_string(), &(position as i64)],
                            )
                            .map_err(storage)?;
                        if n != 1 {
                            return Err(CatalogError::Conflict(format!(
                                "unit {unit} is not among the units elimination {} proposes",
                                x.id
                            )));
                        }
                    }
                }
                ToDestroy::Proposed => {
                    let unplaced = tx
                        .query_opt(
                            "SELECT unit FROM elimination_units
                             WHERE tenant = $1 AND elimination = $2 AND status = 'proposed'
                               AND position IS NULL LIMIT 1",
                            &[&t, &x.id.as_str()],
                        )
                        .map_err(storage)?;
                    if let Some(unit) = unplaced {
                        return Err(CatalogError::Conflict(format!(
                            "unit {} of elimination {} has no place in its order",
                            unit.get::<_, &str>(0),
                            x.id
                        )));
                    }
                    tx.execute(
                        "UPDATE elimination_units SET status = 'destroying'
                         WHERE tenant = $1 AND elimination = $2 AND status = 'proposed'",
                        &[&t, &x.id.as_str()],
                    )
                    .map_err(storage)?;
                }
            }
            for (unit, reason) in x.dropped {
                tx.execute(
                    "UPDATE elimination_units SET status = 'dropped', reason = $4
                     WHERE tenant = $1 AND elimination = $2 AND unit = $3
                       AND status IN ('proposed', 'visa_excepted')",
                    &[&t, &x.id.as_str(), &unit.as_str(), &reason.to_string()],
                )
                .map_err(storage)?;
            }
            journal::append_event(tx, x.event)?;
            Ok(())
        })
    }

    fn units_to_destroy(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        limit: usize,
    ) -> Result<Vec<(UnitId, serde_json::Value)>, CatalogError> {
        self.conn()?
            .query(
                "SELECT unit, record FROM elimination_units
                 WHERE tenant = $1 AND elimination = $2 AND status = 'destroying'
                 ORDER BY position LIMIT $3",
                &[&tenant.as_str(), &id.as_str(), &big(limit as u64)],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok((
                    parse_id("unit id", r.get(0))?,
                    json(r.get(1), "a bordereau line")?,
                ))
            })
            .collect()
    }

    fn destroy_units(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        destroyed_at: &Timestamp,
        units: &[DestroyedUnit],
    ) -> Result<Vec<PurgedBlob>, CatalogError> {
        for u in units {
            check_event_tenant(tenant, &u.event)?;
        }
        let t = tenant.as_str();
        self.write(Some(tenant), |tx| {
            let (state, _) = read_state(tx, t, id)?;
            if state != EliminationState::Executing {
                return Err(CatalogError::Conflict(format!(
                    "elimination {id} is {}, not executing",
                    state.as_str()
                )));
            }
            let mut purged = Vec::new();
            for u in units {
                let marked = tx
                    .execute(
                        "UPDATE elimination_units SET status = 'destroyed', position = NULL
                         WHERE tenant = $1 AND elimination = $2 AND unit = $3 AND status = 'destroying'",
                        &[&t, &id.as_str(), &u.unit.as_str()],
                    )
                    .map_err(storage)?;
                if marked != 1 {
                    return Err(CatalogError::Conflict(format!(
                        "unit {} is not one that elimination {id} has to destroy",
                        u.unit
                    )));
                }
                let gone = delete_unit(tx, t, &u.unit)?;
                tx.execute(
                    "INSERT INTO tombstones (tenant, unit, elimination, destroyed_at, record)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&t, &u.unit.as_str(), &id.as_str(), &destroyed_at.as_str(), &u.tombstone.to_string()],
                )
                .map_err(storage)?;
                for (object, batch, stored) in gone {
                    tx.execute(
                        "INSERT INTO tombstone_objects (tenant, object, unit) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&t, &object.as_str(), &u.unit.as_str()],
                    )
                    .map_err(storage)?;
                    if stored {
                        tx.execute(
                            "INSERT INTO elimination_purges (tenant, elimination, batch, object)
                             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                            &[&t, &id.as_str(), &batch.as_str(), &object.as_str()],
                        )
                        .map_err(storage)?;
                        purged.push(PurgedBlob {
                            operation: batch,
                            object,
                        });
                    }
                }
                journal::append_event(tx, &u.event)?;
            }
            Ok(purged)
        })
    }

    fn complete_execution(
        &self,
        tenant: &TenantId,
        end: ExecutionEnd<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, end.event)?;
        let t = tenant.as_str();
        self.write(Some(tenant), |tx| {
            let (state, steps) = read_state(tx, t, end.id)?;
            state
                .after(EliminationStep::Completion)
                .map_err(|m| CatalogError::Conflict(format!("elimination {}: {m}", end.id)))?;
            let left = tx
                .query_opt(
                    "SELECT unit FROM elimination_units
                     WHERE tenant = $1 AND elimination = $2 AND status = 'destroying' LIMIT 1",
                    &[&t, &end.id.as_str()],
                )
                .map_err(storage)?;
            if let Some(unit) = left {
                return Err(CatalogError::Conflict(format!(
                    "elimination {} still has to destroy unit {}",
                    end.id,
                    unit.get::<_, &str>(0)
                )));
            }
            operations::record_done_operation(tx, tenant, end.summary, end.event)?;
            tx.execute(
                "UPDATE eliminations SET state = 'executed', steps = $3 WHERE tenant = $1 AND id = $2",
                &[&t, &end.id.as_str(), &push_step(&steps, end.step)?],
            )
            .map_err(storage)?;
            Ok(())
        })
    }

    fn executing_eliminations(&self) -> Result<Vec<(TenantId, OperationId)>, CatalogError> {
        self.conn()?
            .query(
                "SELECT tenant, id FROM eliminations WHERE state = 'executing' ORDER BY seq",
                &[],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok((
                    parse_id("tenant id", r.get(0))?,
                    parse_id("elimination id", r.get(1))?,
                ))
            })
            .collect()
    }

    fn each_tombstone(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        each: &mut dyn FnMut(Tombstone) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn()?;
        let (t, e) = (tenant.as_str(), id.as_str());
        let params: [&(dyn postgres::types::ToSql + Sync); 2] = [&t, &e];
        let mut rows = conn
            .query_raw(
                "SELECT unit, destroyed_at, record FROM tombstones
                 WHERE tenant = $1 AND elimination = $2 ORDER BY seq",
                params,
            )
            .map_err(storage)?;
        while let Some(r) = rows.next().map_err(storage)? {
            each(Tombstone {
                unit: parse_id("unit id", r.get(0))?,
                elimination: id.clone(),
                destroyed_at: stored_time(r.get(1))?,
                record: json(r.get(2), "a tombstone")?,
            })?;
        }
        Ok(())
    }

    fn pending_purges(
        &self,
    ) -> Result<Vec<(TenantId, OperationId, Vec<PurgedBlob>)>, CatalogError> {
        let rows = self
            .conn()?
            .query(
                "SELECT tenant, elimination, batch, object FROM elimination_purges
                 ORDER BY tenant, elimination",
                &[],
            )
            .map_err(storage)?;
        let mut out: Vec<(TenantId, OperationId, Vec<PurgedBlob>)> = Vec::new();
        for r in rows {
            let (t, e): (TenantId, OperationId) = (
                parse_id("tenant id", r.get(0))?,
                parse_id("elimination id", r.get(1))?,
            );
            let blob = PurgedBlob {
                operation: parse_id("operation id", r.get(2))?,
                object: parse_id("object id", r.get(3))?,
            };
            match out.last_mut() {
                Some((lt, le, blobs)) if *lt == t && *le == e => blobs.push(blob),
                _ => out.push((t, e, vec![blob])),
            }
        }
        Ok(out)
    }

    fn purge_done(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        blobs: &[PurgedBlob],
    ) -> Result<(), CatalogError> {
        let objects: Vec<&str> = blobs.iter().map(|b| b.object.as_str()).collect();
        self.conn()?
            .execute(
                "DELETE FROM elimination_purges WHERE tenant = $1 AND elimination = $2
                   AND object = ANY($3::text[])",
                &[&tenant.as_str(), &id.as_str(), &objects],
            )
            .map_err(storage)?;
        Ok(())
    }

    fn tombstone(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<Tombstone>, CatalogError> {
        self.conn()?
            .query_opt(
                "SELECT elimination, destroyed_at, record FROM tombstones WHERE tenant = $1 AND unit = $2",
                &[&tenant.as_str(), &unit.as_str()],
            )
            .map_err(storage)?
            .map(|r| {
                Ok(Tombstone {
                    unit: unit.clone(),
                    elimination: parse_id("elimination id", r.get(0))?,
                    destroyed_at: stored_time(r.get(1))?,
                    record: json(r.get(2), "a tombstone")?,
                })
            })
            .transpose()
    }

    fn object_tombstone(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<Option<Tombstone>, CatalogError> {
        let unit: Option<String> = self
            .conn()?
            .query_opt(
                "SELECT unit FROM tombstone_objects WHERE tenant = $1 AND object = $2",
                &[&tenant.as_str(), &object.as_str()],
            )
            .map_err(storage)?
            .map(|r| r.get(0));
        match unit {
            Some(u) => self.tombstone(tenant, &parse_id("unit id", u)?),
            None => Ok(None),
        }
    }
}

/// Deletes a unit with what only it holds: its links, keywords, rules, and each group no
/// other unit links to, with its objects and their copies (a group another unit keeps loses
/// only the link). Its words go with its row; the counts follow by trigger. Returns each
/// object deleted with the batch that stored it and whether a copy of it was recorded (a
/// blob to remove from the offers).
fn delete_unit(
    tx: &mut Transaction<'_>,
    t: &str,
    unit: &UnitId,
) -> Result<Vec<(ObjectId, OperationId, bool)>, CatalogError> {
    let u = unit.as_str();
    let exists = tx
        .query_opt(
            "SELECT 1 FROM units WHERE tenant = $1 AND id = $2 FOR UPDATE",
            &[&t, &u],
        )
        .map_err(storage)?;
    if exists.is_none() {
        return Err(CatalogError::Conflict(format!(
            "unit {u} is no longer in the archive"
        )));
    }
    let groups: Vec<String> = tx
        .query(
            "DELETE FROM unit_object_groups WHERE tenant = $1 AND unit = $2 RETURNING object_group",
            &[&t, &u],
        )
        .map_err(storage)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut gone = Vec::new();
    for g in groups {
        let still_used = tx
            .query_opt(
                "SELECT 1 FROM unit_object_groups WHERE tenant = $1 AND object_group = $2 LIMIT 1",
                &[&t, &g],
            )
            .map_err(storage)?
            .is_some();
        if still_used {
            // Another unit keeps the group: only the link goes.
            continue;
        }
        let objects = tx
            .query(
                "SELECT id, operation, EXISTS (SELECT 1 FROM copies c WHERE c.tenant = o.tenant AND c.object = o.id)
                 FROM objects o WHERE tenant = $1 AND object_group = $2 ORDER BY seq",
                &[&t, &g],
            )
            .map_err(storage)?;
        for r in objects {
            let object: String = r.get(0);
            for sql in [
                "DELETE FROM copies WHERE tenant = $1 AND object = $2",
                "DELETE FROM evidence_object_leaves WHERE tenant = $1 AND object = $2",
                "DELETE FROM objects WHERE tenant = $1 AND id = $2",
            ] {
                tx.execute(sql, &[&t, &object]).map_err(storage)?;
            }
            gone.push((
                parse_id("object id", object)?,
                parse_id("operation id", r.get(1))?,
                r.get(2),
            ));
        }
        tx.execute(
            "DELETE FROM object_groups WHERE tenant = $1 AND id = $2",
            &[&t, &g],
        )
        .map_err(storage)?;
    }
    for sql in [
        "DELETE FROM unit_keywords WHERE tenant = $1 AND unit = $2",
        "DELETE FROM unit_rules WHERE tenant = $1 AND unit = $2",
        "DELETE FROM unit_parents WHERE tenant = $1 AND unit = $2",
        "DELETE FROM unit_parents WHERE tenant = $1 AND parent = $2",
        // The counts follow by trigger.
        "DELETE FROM units WHERE tenant = $1 AND id = $2",
        // Its earlier metadata goes with it (the journal keeps each change's difference,
        // as the bordereau keeps its title).
        "DELETE FROM unit_metadata_history WHERE tenant = $1 AND unit = $2",
    ] {
        tx.execute(sql, &[&t, &u]).map_err(storage)?;
    }
    Ok(gone)
}
