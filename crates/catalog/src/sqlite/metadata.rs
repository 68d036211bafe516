//! Corrections of units' descriptive metadata and their history (`HoldingStore`'s part).

use super::holdings::refuse_while_executing;
use super::*;

pub(super) fn change_metadata(
    c: &SqliteCatalog,
    tenant: &TenantId,
    change: MetadataChange<'_>,
) -> Result<(), CatalogError> {
    check_event_tenant(tenant, change.event)?;
    let t = tenant.as_str();
    let id = change.unit.as_str();
    c.write(|tx| {
        // What an execution destroys was described to the control authority as it was.
        refuse_while_executing(tx, t, "metadata changes")?;
        let now: Option<(i64, String, Option<String>)> = tx
            .query_row(
                "SELECT rowid, metadata, originating_agency FROM units WHERE tenant = ?1 AND id = ?2",
                params![t, id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(storage)?;
        let Some((rowid, metadata, agency)) = now else {
            return Err(CatalogError::Conflict(format!(
                "unit {id} is no longer in the archive"
            )));
        };
        if metadata != change.before {
            return Err(CatalogError::Conflict(format!(
                "the metadata of unit {id} changed since it was read"
            )));
        }
        // The operation first: the history names it.
        operations::record_done_operation(tx, tenant, change.summary, change.event)?;
        // Counts and facets follow the dates by trigger.
        tx.execute(
            "UPDATE units SET title = ?2, description_level = ?3, start_date = ?4, end_date = ?5,
             metadata = ?6 WHERE rowid = ?1",
            params![
                rowid,
                change.title,
                change.description_level,
                change.start_date,
                change.end_date,
                change.after
            ],
        )
        .map_err(storage)?;
        tx.execute(
            "DELETE FROM unit_keywords WHERE tenant = ?1 AND unit = ?2",
            params![t, id],
        )
        .map_err(storage)?;
        for k in change.keywords {
            tx.execute(
                "INSERT INTO unit_keywords (tenant, unit, keyword) VALUES (?1, ?2, ?3)",
                params![t, id, k],
            )
            .map_err(storage)?;
        }
        create_text_table(tx, t)?;
        let text = text_table(t);
        tx.execute(&format!("DELETE FROM {text} WHERE rowid = ?1"), params![rowid])
            .map_err(storage)?;
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO {text} (rowid, title, body, tags) VALUES (?1, ?2, ?3, ?4)"
            ))
            .map_err(storage)?;
        index_unit(
            &mut insert,
            rowid,
            change.title,
            agency.as_deref(),
            change.keywords,
            change.after,
        )?;
        tx.execute(
            "INSERT INTO unit_metadata_history (tenant, unit, operation, changed_at, agent, changes, previous, current)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                t,
                id,
                change.event.operation.as_str(),
                change.event.time,
                change.event.agent,
                change.changes.to_string(),
                change.before,
                change.after
            ],
        )
        .map_err(storage)?;
        Ok(())
    })
}

pub(super) fn metadata_history(
    c: &SqliteCatalog,
    tenant: &TenantId,
    unit: &UnitId,
    limit: usize,
) -> Result<Vec<MetadataHistoryRow>, CatalogError> {
    let conn = c.read();
    let mut st = conn
        .prepare(
            "SELECT operation, changed_at, agent, changes, previous, current FROM unit_metadata_history
             WHERE tenant = ?1 AND unit = ?2 ORDER BY rowid DESC LIMIT ?3",
        )
        .map_err(storage)?;
    let rows = st
        .query_map(params![tenant.as_str(), unit.as_str(), limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .map_err(storage)?;
    let mut out = Vec::new();
    for row in rows {
        let (operation, changed_at, agent, changes, previous, current) = row.map_err(storage)?;
        out.push(MetadataHistoryRow {
            operation: parse_id("operation id", operation)?,
            changed_at: stored_time(changed_at)?,
            agent,
            changes: serde_json::from_str(&changes).map_err(|e| {
                CatalogError::Corruption(format!("a metadata change's difference: {e}"))
            })?,
            previous,
            current,
        });
    }
    Ok(out)
}
