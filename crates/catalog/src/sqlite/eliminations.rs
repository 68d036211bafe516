//! Eliminations: proposals, steps, the execution that deletes what the visa grants, and the
//! tombstones that remain.

use super::*;
use carnac_model::elimination::{DisposalKind, EliminationState, EliminationStep};

const COLUMNS: &str = "id, state, at, seda_version, proposed_by, proposed_at, steps, totals,
    EXISTS (SELECT 1 FROM elimination_purges p WHERE p.tenant = eliminations.tenant AND p.elimination = eliminations.id),
    execution, kind";

/// The open states, in SQL: those of `EliminationState::is_open`.
pub(super) const OPEN_STATES: &str =
    "('proposed', 'agreed', 'visa_granted', 'visa_partly_granted', 'executing',
    'sent', 'rejected', 'accepted', 'partly_accepted')";

type RawElimination = (
    (String, String, String, String, String),
    (String, String, String, String, bool, Option<String>),
);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawElimination> {
    Ok((
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(10)?),
        (
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
        ),
    ))
}

fn json(text: &str, what: &str) -> Result<serde_json::Value, CatalogError> {
    serde_json::from_str(text).map_err(|e| CatalogError::Corruption(format!("{what}: {e}")))
}

fn to_row(raw: RawElimination) -> Result<EliminationRow, CatalogError> {
    let (
        (id, state, at, seda_version, kind),
        (proposed_by, proposed_at, steps, totals, purge, execution),
    ) = raw;
    let steps = match json(&steps, "an elimination's steps")? {
        serde_json::Value::Array(a) => a,
        _ => return Err(CatalogError::Corruption("an elimination's steps".into())),
    };
    Ok(EliminationRow {
        id: parse_id("elimination id", id)?,
        kind: DisposalKind::parse(&kind)
            .ok_or_else(|| CatalogError::Corruption(format!("elimination kind {kind:?}")))?,
        state: EliminationState::parse(&state)
            .ok_or_else(|| CatalogError::Corruption(format!("elimination state {state:?}")))?,
        at,
        seda_version,
        proposed_by,
        proposed_at: stored_time(proposed_at)?,
        steps,
        totals: json(&totals, "an elimination's totals")?,
        purge_pending: purge,
        execution: execution
            .as_deref()
            .map(|e| json(e, "an elimination's execution"))
            .transpose()?,
    })
}

fn read_state(
    tx: &Transaction<'_>,
    tenant: &str,
    id: &OperationId,
) -> Result<(EliminationState, String), CatalogError> {
    let (state, steps): (String, String) = tx
        .query_row(
            "SELECT state, steps FROM eliminations WHERE tenant = ?1 AND id = ?2",
            params![tenant, id.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(storage)?
        .ok_or_else(|| CatalogError::NotFound(format!("elimination {id}")))?;
    let state = EliminationState::parse(&state)
        .ok_or_else(|| CatalogError::Corruption(format!("elimination state {state:?}")))?;
    Ok((state, steps))
}

fn push_step(steps: &str, step: &serde_json::Value) -> Result<String, CatalogError> {
    let mut all = match json(steps, "an elimination's steps")? {
        serde_json::Value::Array(a) => a,
        _ => return Err(CatalogError::Corruption("an elimination's steps".into())),
    };
    all.push(step.clone());
    Ok(serde_json::Value::Array(all).to_string())
}

impl EliminationStore for SqliteCatalog {
    fn create_elimination(
        &self,
        tenant: &TenantId,
        new: NewElimination<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, new.event)?;
        let t = tenant.as_str();
        let row = new.row;
        self.write(|tx| {
            operations::record_done_operation(tx, tenant, new.summary, new.event)?;
            tx.execute(
                "INSERT INTO eliminations (tenant, id, state, at, seda_version, proposed_by, proposed_at, steps, totals, kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    t,
                    row.id.as_str(),
                    row.state.as_str(),
                    row.at,
                    row.seda_version,
                    row.proposed_by,
                    row.proposed_at.as_str(),
                    serde_json::Value::Array(row.steps.clone()).to_string(),
                    row.totals.to_string(),
                    row.kind.as_str()
                ],
            )
            .map_err(storage)?;
            let mut busy = tx
                .prepare_cached(&format!(
                    "SELECT e.id FROM elimination_units u JOIN eliminations e
                       ON e.tenant = u.tenant AND e.id = u.elimination
                     WHERE u.tenant = ?1 AND u.unit = ?2 AND u.status IN ('proposed', 'destroying')
                       AND e.id <> ?3 AND e.state IN {OPEN_STATES}
                     LIMIT 1"
                ))
                .map_err(storage)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO elimination_units (tenant, elimination, unit, status, reason, record, position)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(storage)?;
            for u in new.units {
                let u = u?;
                if u.status == EliminationUnitStatus::Proposed {
                    let other: Option<String> = busy
                        .query_row(params![t, u.unit, row.id.as_str()], |r| r.get(0))
                        .optional()
                        .map_err(storage)?;
                    if let Some(other) = other {
                        return Err(CatalogError::Conflict(format!(
                            "unit {} is in the open elimination {other}",
                            u.unit
                        )));
                    }
                }
                insert
                    .execute(params![
                        t,
                        row.id.as_str(),
                        u.unit,
                        u.status.as_str(),
                        u.reason.as_ref().map(|r| r.to_string()),
                        u.record.to_string(),
                        u.position
                    ])
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
        let conn = self.read();
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM eliminations WHERE tenant = ?1 AND id = ?2"),
            params![tenant.as_str(), id.as_str()],
            raw,
        )
        .optional()
        .map_err(storage)?
        .map(to_row)
        .transpose()
    }

    fn eliminations(&self, tenant: &TenantId) -> Result<Vec<EliminationRow>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM eliminations WHERE tenant = ?1 ORDER BY rowid DESC"
            ))
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str()], raw)
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter().map(to_row).collect()
    }

    fn each_elimination_unit(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        each: &mut dyn FnMut(EliminationUnitRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT unit, status, reason, record, position FROM elimination_units
                 WHERE tenant = ?1 AND elimination = ?2 ORDER BY position IS NULL, position, rowid",
            )
            .map_err(storage)?;
        let mut rows = st
            .query(params![tenant.as_str(), id.as_str()])
            .map_err(storage)?;
        while let Some(r) = rows.next().map_err(storage)? {
            let status: String = r.get(1).map_err(storage)?;
            let reason: Option<String> = r.get(2).map_err(storage)?;
            let record: String = r.get(3).map_err(storage)?;
            each(EliminationUnitRow {
                unit: r.get(0).map_err(storage)?,
                status: EliminationUnitStatus::parse(&status).ok_or_else(|| {
                    CatalogError::Corruption(format!("elimination unit status {status:?}"))
                })?,
                reason: reason
                    .as_deref()
                    .map(|r| json(r, "an exclusion"))
                    .transpose()?,
                record: json(&record, "a bordereau line")?,
                position: r.get(4).map_err(storage)?,
            })?;
        }
        Ok(())
    }

    fn units_in_open_eliminations(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<Vec<(UnitId, OperationId)>, CatalogError> {
        let conn = self.read();
        let ids = serde_json::to_string(&units.iter().map(UnitId::as_str).collect::<Vec<_>>())
            .map_err(|e| CatalogError::storage_in("encoding unit ids", e))?;
        let mut st = conn
            .prepare(&format!(
                "SELECT u.unit, e.id FROM elimination_units u
                 JOIN eliminations e ON e.tenant = u.tenant AND e.id = u.elimination
                 WHERE u.tenant = ?1 AND u.status IN ('proposed', 'destroying')
                   AND u.unit IN (SELECT value FROM json_each(?2))
                   AND e.state IN {OPEN_STATES}"
            ))
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), ids], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter()
            .map(|(u, e)| Ok((parse_id("unit id", u)?, parse_id("elimination id", e)?)))
            .collect()
    }

    fn elimination_step(
        &self,
        tenant: &TenantId,
        step: EliminationStepCommit<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, step.event)?;
        let t = tenant.as_str();
        self.write(|tx| {
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
                "UPDATE eliminations SET state = ?3, steps = ?4 WHERE tenant = ?1 AND id = ?2",
                params![
                    t,
                    step.id.as_str(),
                    step.to.as_str(),
                    push_step(&steps, step.step)?
                ],
            )
            .map_err(storage)?;
            let mut except = tx
                .prepare_cached(
                    "UPDATE elimination_units SET status = 'visa_excepted'
                     WHERE tenant = ?1 AND elimination = ?2 AND unit = ?3 AND status = 'proposed'",
                )
                .map_err(storage)?;
            for u in step.excepted {
                if except
                    .execute(params![t, step.id.as_str(), u.as_str()])
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
        self.write(|tx| {
            let (state, _) = read_state(tx, t, x.id)?;
            state
                .after(EliminationStep::Execution)
                .map_err(|m| CatalogError::Conflict(format!("elimination {}: {m}", x.id)))?;
            let n = tx
                .execute(
                    "INSERT INTO operations (tenant, id, kind, state, started_at, agent, node)
                     VALUES (?1, ?2, 'ELIMINATION_EXECUTION', 'RUNNING', ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                    params![
                        t,
                        x.operation.as_str(),
                        x.started_at.as_str(),
                        x.agent,
                        self.node
                    ],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::Conflict(format!("operation {}", x.operation)));
            }
            tx.execute(
                "UPDATE eliminations SET state = 'executing', execution = ?3
                 WHERE tenant = ?1 AND id = ?2",
                params![t, x.id.as_str(), execution.to_string()],
            )
            .map_err(storage)?;
            let mut destroying = tx
                .prepare_cached(
                    "UPDATE elimination_units SET status = 'destroying', record = ?4, position = ?5
                     WHERE tenant = ?1 AND elimination = ?2 AND unit = ?3 AND status = 'proposed'",
                )
                .map_err(storage)?;
            match x.destroy {
                ToDestroy::Listed(list) => {
                    for (position, (unit, record)) in list.iter().enumerate() {
                        let n = destroying
                            .execute(params![
                                t,
                                x.id.as_str(),
                                unit.as_str(),
                                record.to_string(),
                                position as i64
                            ])
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
                    let unplaced: Option<String> = tx
                        .query_row(
                            "SELECT unit FROM elimination_units
                             WHERE tenant = ?1 AND elimination = ?2 AND status = 'proposed'
                               AND position IS NULL LIMIT 1",
                            params![t, x.id.as_str()],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(storage)?;
                    if let Some(unit) = unplaced {
                        return Err(CatalogError::Conflict(format!(
                            "unit {unit} of elimination {} has no place in its order",
                            x.id
                        )));
                    }
                    tx.execute(
                        "UPDATE elimination_units SET status = 'destroying'
                         WHERE tenant = ?1 AND elimination = ?2 AND status = 'proposed'",
                        params![t, x.id.as_str()],
                    )
                    .map_err(storage)?;
                }
            }
            let mut dropped = tx
                .prepare_cached(
                    "UPDATE elimination_units SET status = 'dropped', reason = ?4
                     WHERE tenant = ?1 AND elimination = ?2 AND unit = ?3
                       AND status IN ('proposed', 'visa_excepted')",
                )
                .map_err(storage)?;
            for (unit, reason) in x.dropped {
                dropped
                    .execute(params![t, x.id.as_str(), unit.as_str(), reason.to_string()])
                    .map_err(storage)?;
            }
            append_event(tx, x.event)?;
            Ok(())
        })
    }

    fn units_to_destroy(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        limit: usize,
    ) -> Result<Vec<(UnitId, serde_json::Value)>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare_cached(
                "SELECT unit, record FROM elimination_units
                 WHERE tenant = ?1 AND elimination = ?2 AND status = 'destroying'
                 ORDER BY position LIMIT ?3",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(
                params![
                    tenant.as_str(),
                    id.as_str(),
                    limit.min(i64::MAX as usize) as i64
                ],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter()
            .map(|(u, record)| Ok((parse_id("unit id", u)?, json(&record, "a bordereau line")?)))
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
        self.write(|tx| {
            let (state, _) = read_state(tx, t, id)?;
            if state != EliminationState::Executing {
                return Err(CatalogError::Conflict(format!(
                    "elimination {id} is {}, not executing",
                    state.as_str()
                )));
            }
            let text = text_table(t);
            let has_text: bool = tx
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    params![text],
                    |_| Ok(()),
                )
                .optional()
                .map_err(storage)?
                .is_some();
            let mut purged = Vec::new();
            for u in units {
                let marked = tx
                    .prepare_cached(
                        "UPDATE elimination_units SET status = 'destroyed', position = NULL
                         WHERE tenant = ?1 AND elimination = ?2 AND unit = ?3 AND status = 'destroying'",
                    )
                    .map_err(storage)?
                    .execute(params![t, id.as_str(), u.unit.as_str()])
                    .map_err(storage)?;
                if marked != 1 {
                    return Err(CatalogError::Conflict(format!(
                        "unit {} is not one that elimination {id} has to destroy",
                        u.unit
                    )));
                }
                let gone = delete_unit(tx, t, &u.unit, has_text.then_some(text.as_str()))?;
                tx.prepare_cached(
                    "INSERT INTO tombstones (tenant, unit, elimination, destroyed_at, record)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(storage)?
                .execute(params![
                    t,
                    u.unit.as_str(),
                    id.as_str(),
                    destroyed_at.as_str(),
                    u.tombstone.to_string()
                ])
                .map_err(storage)?;
                let mut stone = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO tombstone_objects (tenant, object, unit) VALUES (?1, ?2, ?3)",
                    )
                    .map_err(storage)?;
                let mut pending = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO elimination_purges (tenant, elimination, batch, object)
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(storage)?;
                for (object, batch, stored) in gone {
                    stone
                        .execute(params![t, object.as_str(), u.unit.as_str()])
                        .map_err(storage)?;
                    if stored {
                        pending
                            .execute(params![t, id.as_str(), batch.as_str(), object.as_str()])
                            .map_err(storage)?;
                        purged.push(PurgedBlob {
                            operation: batch,
                            object,
                        });
                    }
                }
                append_event(tx, &u.event)?;
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
        self.write(|tx| {
            let (state, steps) = read_state(tx, t, end.id)?;
            state
                .after(EliminationStep::Completion)
                .map_err(|m| CatalogError::Conflict(format!("elimination {}: {m}", end.id)))?;
            let left: Option<String> = tx
                .query_row(
                    "SELECT unit FROM elimination_units
                     WHERE tenant = ?1 AND elimination = ?2 AND status = 'destroying' LIMIT 1",
                    params![t, end.id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(storage)?;
            if let Some(unit) = left {
                return Err(CatalogError::Conflict(format!(
                    "elimination {} still has to destroy unit {unit}",
                    end.id
                )));
            }
            operations::record_done_operation(tx, tenant, end.summary, end.event)?;
            tx.execute(
                "UPDATE eliminations SET state = 'executed', steps = ?3 WHERE tenant = ?1 AND id = ?2",
                params![t, end.id.as_str(), push_step(&steps, end.step)?],
            )
            .map_err(storage)?;
            Ok(())
        })
    }

    fn executing_eliminations(&self) -> Result<Vec<(TenantId, OperationId)>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare("SELECT tenant, id FROM eliminations WHERE state = 'executing' ORDER BY rowid")
            .map_err(storage)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter()
            .map(|(t, id)| Ok((parse_id("tenant id", t)?, parse_id("elimination id", id)?)))
            .collect()
    }

    fn each_tombstone(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        each: &mut dyn FnMut(Tombstone) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT unit, destroyed_at, record FROM tombstones
                 WHERE tenant = ?1 AND elimination = ?2 ORDER BY rowid",
            )
            .map_err(storage)?;
        let mut rows = st
            .query(params![tenant.as_str(), id.as_str()])
            .map_err(storage)?;
        while let Some(r) = rows.next().map_err(storage)? {
            let unit: String = r.get(0).map_err(storage)?;
            let at: String = r.get(1).map_err(storage)?;
            let record: String = r.get(2).map_err(storage)?;
            each(Tombstone {
                unit: parse_id("unit id", unit)?,
                elimination: id.clone(),
                destroyed_at: stored_time(at)?,
                record: json(&record, "a tombstone")?,
            })?;
        }
        Ok(())
    }

    fn pending_purges(
        &self,
    ) -> Result<Vec<(TenantId, OperationId, Vec<PurgedBlob>)>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT tenant, elimination, batch, object FROM elimination_purges
                 ORDER BY tenant, elimination",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        let mut out: Vec<(TenantId, OperationId, Vec<PurgedBlob>)> = Vec::new();
        for (t, e, batch, object) in rows {
            let (t, e) = (parse_id("tenant id", t)?, parse_id("elimination id", e)?);
            let blob = PurgedBlob {
                operation: parse_id("operation id", batch)?,
                object: parse_id("object id", object)?,
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
        self.write(|tx| {
            let mut done = tx
                .prepare_cached(
                    "DELETE FROM elimination_purges WHERE tenant = ?1 AND elimination = ?2 AND object = ?3",
                )
                .map_err(storage)?;
            for b in blobs {
                done.execute(params![tenant.as_str(), id.as_str(), b.object.as_str()])
                    .map_err(storage)?;
            }
            Ok(())
        })
    }

    fn object_tombstone(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<Option<Tombstone>, CatalogError> {
        let unit: Option<String> = self
            .read()
            .query_row(
                "SELECT unit FROM tombstone_objects WHERE tenant = ?1 AND object = ?2",
                params![tenant.as_str(), object.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage)?;
        match unit {
            Some(u) => self.tombstone(tenant, &parse_id("unit id", u)?),
            None => Ok(None),
        }
    }

    fn tombstone(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<Tombstone>, CatalogError> {
        let conn = self.read();
        let row: Option<(String, String, String)> = conn
            .query_row(
                "SELECT elimination, destroyed_at, record FROM tombstones WHERE tenant = ?1 AND unit = ?2",
                params![tenant.as_str(), unit.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(storage)?;
        row.map(|(elimination, at, record)| {
            Ok(Tombstone {
                unit: unit.clone(),
                elimination: parse_id("elimination id", elimination)?,
                destroyed_at: stored_time(at)?,
                record: json(&record, "a tombstone")?,
            })
        })
        .transpose()
    }
}

/// Deletes a unit with what only it holds: its links, keywords, rules, text index entry
/// (`text`, the tenant's index if it has one), and each group no other unit links to, with
/// its objects and their copies (a group another unit keeps loses only the link). The
/// counts and facets follow by trigger. Returns each object deleted with the batch that
/// stored it and whether a copy of it was recorded (a blob to remove from the offers).
fn delete_unit(
    tx: &Transaction<'_>,
    t: &str,
    unit: &UnitId,
    text: Option<&str>,
) -> Result<Vec<(ObjectId, OperationId, bool)>, CatalogError> {
    let u = unit.as_str();
    let del = |sql: &str, a: &str, b: &str| -> Result<usize, CatalogError> {
        tx.prepare_cached(sql)
            .map_err(storage)?
            .execute(params![a, b])
            .map_err(storage)
    };
    let rowid: i64 = tx
        .prepare_cached("SELECT rowid FROM units WHERE tenant = ?1 AND id = ?2")
        .map_err(storage)?
        .query_row(params![t, u], |r| r.get(0))
        .optional()
        .map_err(storage)?
        .ok_or_else(|| CatalogError::Conflict(format!("unit {u} is no longer in the archive")))?;
    let groups: Vec<String> = tx
        .prepare_cached(
            "SELECT object_group FROM unit_object_groups WHERE tenant = ?1 AND unit = ?2",
        )
        .map_err(storage)?
        .query_map(params![t, u], |r| r.get(0))
        .map_err(storage)?
        .collect::<Result<_, _>>()
        .map_err(storage)?;
    del(
        "DELETE FROM unit_object_groups WHERE tenant = ?1 AND unit = ?2",
        t,
        u,
    )?;
    let mut gone = Vec::new();
    for g in groups {
        let still_used = tx
            .prepare_cached(
                "SELECT 1 FROM unit_object_groups WHERE tenant = ?1 AND object_group = ?2 LIMIT 1",
            )
            .map_err(storage)?
            .query_row(params![t, g], |_| Ok(()))
            .optional()
            .map_err(storage)?
            .is_some();
        if still_used {
            // Another unit keeps the group: only the link goes.
            continue;
        }
        let objects: Vec<(String, String, i64)> = tx
            .prepare_cached(
                "SELECT id, operation, (SELECT COUNT(*) FROM copies c WHERE c.tenant = o.tenant AND c.object = o.id)
                 FROM objects o WHERE tenant = ?1 AND object_group = ?2",
            )
            .map_err(storage)?
            .query_map(params![t, g], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(storage)?
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        for (object, operation, copies) in objects {
            del(
                "DELETE FROM copies WHERE tenant = ?1 AND object = ?2",
                t,
                &object,
            )?;
            del(
                "DELETE FROM evidence_object_leaves WHERE tenant = ?1 AND object = ?2",
                t,
                &object,
            )?;
            del(
                "DELETE FROM objects WHERE tenant = ?1 AND id = ?2",
                t,
                &object,
            )?;
            gone.push((
                parse_id("object id", object)?,
                parse_id("operation id", operation)?,
                copies > 0,
            ));
        }
        del(
            "DELETE FROM object_groups WHERE tenant = ?1 AND id = ?2",
            t,
            &g,
        )?;
    }
    for sql in [
        "DELETE FROM unit_keywords WHERE tenant = ?1 AND unit = ?2",
        "DELETE FROM unit_rules WHERE tenant = ?1 AND unit = ?2",
        "DELETE FROM unit_parents WHERE tenant = ?1 AND unit = ?2",
        "DELETE FROM unit_parents WHERE tenant = ?1 AND parent = ?2",
    ] {
        del(sql, t, u)?;
    }
    if let Some(text) = text {
        tx.prepare_cached(&format!("DELETE FROM {text} WHERE rowid = ?1"))
            .map_err(storage)?
            .execute(params![rowid])
            .map_err(storage)?;
    }
    // The counts and facets follow by trigger.
    del("DELETE FROM units WHERE tenant = ?1 AND id = ?2", t, u)?;
    // Its earlier metadata goes with it (the journal keeps each change's difference, as the
    // bordereau keeps its title).
    del(
        "DELETE FROM unit_metadata_history WHERE tenant = ?1 AND unit = ?2",
        t,
        u,
    )?;
    Ok(gone)
}
