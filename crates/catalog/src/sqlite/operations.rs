//! Operations and their replies (stored in chunks).

use super::*;

/// Size of the chunks a reply is stored in.
pub(super) const REPLY_CHUNK: usize = 1 << 20;

/// Stores a reply in chunks, read from `reply` as it comes.
pub(super) fn store_reply(
    tx: &Transaction<'_>,
    tenant: &str,
    operation: &str,
    reply: &mut dyn std::io::Read,
) -> Result<(), CatalogError> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO operation_replies (tenant, operation, sequence, chunk) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(storage)?;
    let mut chunk = vec![0u8; REPLY_CHUNK];
    for sequence in 0i64.. {
        let mut filled = 0;
        while filled < chunk.len() {
            match reply.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CatalogError::storage_in("reading the reply", e)),
            }
        }
        if filled == 0 {
            break;
        }
        st.execute(params![tenant, operation, sequence, &chunk[..filled]])
            .map_err(storage)?;
        if filled < chunk.len() {
            break;
        }
    }
    Ok(())
}

pub(super) fn raw_operation(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawOperation> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

impl OperationStore for SqliteCatalog {
    fn intake_by_year(&self, tenant: &TenantId) -> Result<Vec<YearIntake>, CatalogError> {
        // The ingests only (operations_by_kind), on a reader; a summary that is not JSON
        // counts its transfer and nothing else.
        let conn = self.read();
        let mut st = conn
            .prepare_cached(
                "SELECT substr(started_at, 1, 4), COUNT(*),
                        SUM(CASE WHEN json_valid(summary) THEN json_extract(summary, '$.units') END),
                        SUM(CASE WHEN json_valid(summary) THEN json_extract(summary, '$.objects') END),
                        SUM(CASE WHEN json_valid(summary) THEN json_extract(summary, '$.bytes') END)
                 FROM operations
                 WHERE tenant = ?1 AND kind = 'INGEST' AND state = 'DONE' AND status IN ('OK', 'WARNING')
                 GROUP BY 1 ORDER BY 1 DESC",
            )
            .map_err(storage)?;
        let n = |v: Option<i64>| v.unwrap_or(0).max(0) as u64;
        st.query_map([tenant.as_str()], |r| {
            Ok(YearIntake {
                year: r.get(0)?,
                transfers: n(r.get(1)?),
                units: n(r.get(2)?),
                objects: n(r.get(3)?),
                bytes: n(r.get(4)?),
            })
        })
        .map_err(storage)?
        .collect::<Result<_, _>>()
        .map_err(storage)
    }

    fn record_operation(
        &self,
        tenant: &TenantId,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| record_done_operation(tx, tenant, summary, event))
    }

    fn record_operation_with_events(
        &self,
        tenant: &TenantId,
        summary: &serde_json::Value,
        event: &NewEvent,
        subjects: &[NewEvent],
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        for e in subjects {
            check_event_tenant(tenant, e)?;
        }
        self.write(|tx| {
            let seq = record_done_operation(tx, tenant, summary, event)?;
            for e in subjects {
                append_event(tx, e)?;
            }
            Ok(seq)
        })
    }

    fn start_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: &OperationKind,
        at: &Timestamp,
        agent: &str,
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "INSERT INTO operations (tenant, id, kind, state, started_at, agent, node)
                     VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5, ?6)
                     ON CONFLICT DO NOTHING",
                    params![
                        tenant.as_str(),
                        operation.as_str(),
                        kind.as_str(),
                        at.as_str(),
                        agent,
                        self.node
                    ],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::Conflict(format!("operation {operation}")));
            }
            Ok(())
        })
    }

    fn finish_operation(
        &self,
        tenant: &TenantId,
        end: OperationEnd<'_>,
    ) -> Result<(), CatalogError> {
        let OperationEnd {
            operation,
            status,
            summary,
            reply,
            ended_at,
            event,
        } = end;
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE operations SET state = 'DONE', status = ?3, ended_at = ?4, summary = ?5
                     WHERE tenant = ?1 AND id = ?2 AND state = 'RUNNING'",
                    params![
                        tenant.as_str(),
                        operation.as_str(),
                        status.as_str(),
                        ended_at.as_str(),
                        summary.to_string()
                    ],
                )
                .map_err(storage)?;
            if n != 1 {
                return Err(CatalogError::NotFound(format!(
                    "running operation {operation}"
                )));
            }
            if let Some(reply) = reply {
                store_reply(tx, tenant.as_str(), operation.as_str(), reply)?;
            }
            append_event(tx, event)?;
            Ok(())
        })
    }

    fn operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<Operation>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT id, kind, state, status, started_at, ended_at, summary,
                        EXISTS(SELECT 1 FROM operation_replies r WHERE r.tenant = o.tenant AND r.operation = o.id),
                        agent
                 FROM operations o WHERE tenant = ?1 AND id = ?2",
            )
            .map_err(storage)?;
        let mut rows = st
            .query_map(params![tenant.as_str(), operation.as_str()], raw_operation)
            .map_err(storage)?;
        rows.next()
            .map(|r| to_operation(tenant, r.map_err(storage)?))
            .transpose()
    }

    fn reply(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        out: &mut dyn std::io::Write,
    ) -> Result<bool, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT chunk FROM operation_replies WHERE tenant = ?1 AND operation = ?2 ORDER BY sequence",
            )
            .map_err(storage)?;
        let mut rows = st
            .query(params![tenant.as_str(), operation.as_str()])
            .map_err(storage)?;
        let mut any = false;
        while let Some(row) = rows.next().map_err(storage)? {
            let chunk = row
                .get_ref(0)
                .map_err(storage)?
                .as_blob()
                .map_err(|e| corrupt("reply chunk", e))?;
            out.write_all(chunk)
                .map_err(|e| CatalogError::storage_in("writing the reply", e))?;
            any = true;
        }
        Ok(any)
    }

    fn operations(&self, tenant: &TenantId) -> Result<Vec<Operation>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT id, kind, state, status, started_at, ended_at, summary,
                        EXISTS(SELECT 1 FROM operation_replies r WHERE r.tenant = o.tenant AND r.operation = o.id),
                        agent
                 FROM operations o WHERE tenant = ?1 ORDER BY started_at, rowid",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([tenant.as_str()], raw_operation)
            .map_err(storage)?;
        rows.map(|r| to_operation(tenant, r.map_err(storage)?))
            .collect()
    }

    fn operations_page(
        &self,
        tenant: &TenantId,
        page: &OperationPage,
    ) -> Result<Vec<Operation>, CatalogError> {
        let conn = self.read();
        // The archive's clock writes every time in one RFC 3339 form (UTC, to the
        // millisecond), so that their text order is their time order.
        let (before_at, before_id) = match &page.before {
            Some((at, id)) => (Some(at.as_str().to_owned()), Some(id.as_str().to_owned())),
            None => (None, None),
        };
        let mut st = conn
            .prepare_cached(
                "SELECT id, kind, state, status, started_at, ended_at, summary,
                        EXISTS(SELECT 1 FROM operation_replies r WHERE r.tenant = o.tenant AND r.operation = o.id),
                        agent
                 FROM operations o
                 WHERE tenant = ?1 AND kind = ?2
                   AND (?3 IS NULL OR status = ?3)
                   AND (?4 IS NULL OR agent = ?4)
                   AND (?5 IS NULL OR (started_at, id) < (?5, ?6))
                 ORDER BY started_at DESC, id DESC
                 LIMIT ?7",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(
                rusqlite::params![
                    tenant.as_str(),
                    page.kind.as_str(),
                    page.status.map(|s| s.as_str()),
                    page.agent,
                    before_at,
                    before_id,
                    page.limit.min(MAX_OPERATIONS_PAGE) as i64,
                ],
                raw_operation,
            )
            .map_err(storage)?;
        rows.map(|r| to_operation(tenant, r.map_err(storage)?))
            .collect()
    }

    fn running_operations(&self) -> Result<Vec<(TenantId, OperationId)>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT tenant, id FROM operations WHERE state = 'RUNNING' ORDER BY started_at",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(storage)?;
        rows.map(|row| {
            let (t, o) = row.map_err(storage)?;
            Ok((parse_id("tenant id", t)?, parse_id("operation id", o)?))
        })
        .collect()
    }
}

/// An operation done, with its event: both or neither, in the caller's transaction. One
/// recorded as running (it wrote files to the offers first) is ended; a done one is not
/// recorded twice.
pub(super) fn record_done_operation(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    summary: &serde_json::Value,
    event: &NewEvent,
) -> Result<u64, CatalogError> {
    let state: Option<String> = tx
        .query_row(
            "SELECT state FROM operations WHERE tenant = ?1 AND id = ?2",
            params![tenant.as_str(), event.operation.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(storage)?;
    match state.as_deref() {
        Some("RUNNING") => {
            tx.execute(
                "UPDATE operations SET state = 'DONE', status = ?3, ended_at = ?4, summary = ?5
                 WHERE tenant = ?1 AND id = ?2",
                params![
                    tenant.as_str(),
                    event.operation.as_str(),
                    event.outcome.as_str(),
                    event.time,
                    summary.to_string()
                ],
            )
            .map_err(storage)?;
            return append_event(tx, event);
        }
        Some(_) => {
            return Err(CatalogError::Conflict(format!(
                "operation {}",
                event.operation
            )));
        }
        None => {}
    }
    tx.execute(
        "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, summary, agent)
         VALUES (?1, ?2, ?3, 'DONE', ?4, ?5, ?5, ?6, ?7)",
        params![
            tenant.as_str(),
            event.operation.as_str(),
            event.kind.as_str(),
            event.outcome.as_str(),
            event.time,
            summary.to_string(),
            event.agent
        ],
    )
    .map_err(storage)?;
    append_event(tx, event)
}
