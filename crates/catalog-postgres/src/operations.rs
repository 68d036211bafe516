//! Operations and their replies (stored in chunks).

use super::*;
use carnac_catalog::{
    MAX_OPERATIONS_PAGE, Operation, OperationEnd, OperationPage, OperationStore, YearIntake,
};
use carnac_model::journal::OperationKind;
use carnac_model::{OperationId, Timestamp};

/// Size of the chunks a reply is stored in.
const REPLY_CHUNK: usize = 1 << 20;

/// Stores a reply in chunks, read from `reply` as it comes.
pub(crate) fn store_reply(
    tx: &mut Transaction<'_>,
    tenant: &str,
    operation: &str,
    reply: &mut dyn std::io::Read,
) -> Result<(), CatalogError> {
    let insert = tx
        .prepare(
            "INSERT INTO operation_replies (tenant, operation, sequence, chunk) VALUES ($1, $2, $3, $4)",
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
        tx.execute(
            &insert,
            &[&tenant, &operation, &sequence, &&chunk[..filled]],
        )
        .map_err(storage)?;
        if filled < chunk.len() {
            break;
        }
    }
    Ok(())
}

const OPERATION_COLUMNS: &str = "id, kind, state, status, started_at, ended_at, summary,
    EXISTS(SELECT 1 FROM operation_replies r WHERE r.tenant = o.tenant AND r.operation = o.id),
    agent";

fn operation_of(tenant: &TenantId, r: &postgres::Row) -> Result<Operation, CatalogError> {
    to_operation(
        tenant,
        (
            r.get(0),
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
            r.get(7),
            r.get(8),
        ),
    )
}

impl OperationStore for PostgresCatalog {
    fn intake_by_year(&self, tenant: &TenantId) -> Result<Vec<YearIntake>, CatalogError> {
        let rows = self
            .conn()?
            .query(
                "WITH ingests AS (
                     SELECT substr(started_at, 1, 4) AS year, json_or_null(summary) AS s
                     FROM operations
                     WHERE tenant = $1 AND kind = 'INGEST' AND state = 'DONE'
                       AND status IN ('OK', 'WARNING'))
                 SELECT year, COUNT(*),
                     COALESCE(SUM(CASE WHEN jsonb_typeof(s->'units') = 'number' THEN (s->>'units')::numeric END), 0)::text,
                     COALESCE(SUM(CASE WHEN jsonb_typeof(s->'objects') = 'number' THEN (s->>'objects')::numeric END), 0)::text,
                     COALESCE(SUM(CASE WHEN jsonb_typeof(s->'bytes') = 'number' THEN (s->>'bytes')::numeric END), 0)::text
                 FROM ingests GROUP BY year ORDER BY year DESC",
                &[&tenant.as_str()],
            )
            .map_err(storage)?;
        // Sums as text: a numeric past u64 (a damaged summary) counts as none.
        let n = |s: String| {
            s.split('.')
                .next()
                .and_then(|i| i.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(rows
            .iter()
            .map(|r| YearIntake {
                year: r.get(0),
                transfers: unsigned(r.get(1)),
                units: n(r.get(2)),
                objects: n(r.get(3)),
                bytes: n(r.get(4)),
            })
            .collect())
    }

    fn record_operation(
        &self,
        tenant: &TenantId,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(Some(tenant), |tx| {
            record_done_operation(tx, tenant, summary, event)
        })
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
        self.write(Some(tenant), |tx| {
            let seq = record_done_operation(tx, tenant, summary, event)?;
            for e in subjects {
                journal::append_event(tx, e)?;
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
        self.write(None, |tx| {
            let n = tx
                .execute(
                    "INSERT INTO operations (tenant, id, kind, state, started_at, agent, node)
                     VALUES ($1, $2, $3, 'RUNNING', $4, $5, $6) ON CONFLICT DO NOTHING",
                    &[
                        &tenant.as_str(),
                        &operation.as_str(),
                        &kind.as_str(),
                        &at.as_str(),
                        &agent,
                        &self.node,
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
        self.write(Some(tenant), |tx| {
            let n = tx
                .execute(
                    "UPDATE operations SET state = 'DONE', status = $3, ended_at = $4, summary = $5
                     WHERE tenant = $1 AND id = $2 AND state = 'RUNNING'",
                    &[
                        &tenant.as_str(),
                        &operation.as_str(),
                        &status.as_str(),
                        &ended_at.as_str(),
                        &summary.to_string(),
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
            journal::append_event(tx, event)?;
            Ok(())
        })
    }

    fn operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<Operation>, CatalogError> {
        self.conn()?
            .query_opt(
                &format!(
                    "SELECT {OPERATION_COLUMNS} FROM operations o WHERE tenant = $1 AND id = $2"
                ),
                &[&tenant.as_str(), &operation.as_str()],
            )
            .map_err(storage)?
            .map(|r| operation_of(tenant, &r))
            .transpose()
    }

    fn reply(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        out: &mut dyn std::io::Write,
    ) -> Result<bool, CatalogError> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut conn = self.conn()?;
        let (t, o) = (tenant.as_str(), operation.as_str());
        let params: [&(dyn postgres::types::ToSql + Sync); 2] = [&t, &o];
        let mut rows = conn
            .query_raw(
                "SELECT chunk FROM operation_replies WHERE tenant = $1 AND operation = $2 ORDER BY sequence",
                params,
            )
            .map_err(storage)?;
        let mut any = false;
        while let Some(row) = rows.next().map_err(storage)? {
            let chunk: &[u8] = row.try_get(0).map_err(storage)?;
            out.write_all(chunk)
                .map_err(|e| CatalogError::storage_in("writing the reply", e))?;
            any = true;
        }
        Ok(any)
    }

    fn operations(&self, tenant: &TenantId) -> Result<Vec<Operation>, CatalogError> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {OPERATION_COLUMNS} FROM operations o WHERE tenant = $1 ORDER BY started_at, seq"
                ),
                &[&tenant.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(|r| operation_of(tenant, r))
            .collect()
    }

    fn operations_page(
        &self,
        tenant: &TenantId,
        page: &OperationPage,
    ) -> Result<Vec<Operation>, CatalogError> {
        // The archive's clock writes every time in one RFC 3339 form (UTC, to the
        // millisecond), so that their text order (bytes: COLLATE "C") is their time order.
        let (before_at, before_id) = match &page.before {
            Some((at, id)) => (Some(at.as_str().to_owned()), Some(id.as_str().to_owned())),
            None => (None, None),
        };
        self.conn()?
            .query(
                &format!(
                    "SELECT {OPERATION_COLUMNS} FROM operations o
                     WHERE tenant = $1 AND kind = $2
                       AND ($3::text IS NULL OR status = $3)
                       AND ($4::text IS NULL OR agent = $4)
                       AND ($5::text IS NULL OR (started_at COLLATE \"C\", id COLLATE \"C\") < ($5, $6::text))
                     ORDER BY started_at COLLATE \"C\" DESC, id COLLATE \"C\" DESC
                     LIMIT $7"
                ),
                &[
                    &tenant.as_str(),
                    &page.kind.as_str(),
                    &page.status.map(|s| s.as_str()),
                    &page.agent,
                    &before_at,
                    &before_id,
                    &big(page.limit.min(MAX_OPERATIONS_PAGE)),
                ],
            )
            .map_err(storage)?
            .iter()
            .map(|r| operation_of(tenant, r))
            .collect()
    }

    fn running_operations(&self) -> Result<Vec<(TenantId, OperationId)>, CatalogError> {
        self.conn()?
            .query(
                "SELECT tenant, id FROM operations WHERE state = 'RUNNING' ORDER BY started_at, seq",
                &[],
            )
            .map_err(storage)?
            .iter()
            .map(|r| Ok((parse_id("tenant id", r.get(0))?, parse_id("operation id", r.get(1))?)))
            .collect()
    }
}

/// An operation done, with its event: both or neither, in the caller's transaction. One
/// recorded as running (it wrote files to the offers first) is ended; a done one is not
/// recorded twice.
pub(crate) fn record_done_operation(
    tx: &mut Transaction<'_>,
    tenant: &TenantId,
    summary: &serde_json::Value,
    event: &NewEvent,
) -> Result<u64, CatalogError> {
    lock_tenant(tx, tenant)?;
    let state: Option<String> = tx
        .query_opt(
            "SELECT state FROM operations WHERE tenant = $1 AND id = $2 FOR UPDATE",
            &[&tenant.as_str(), &event.operation.as_str()],
        )
        .map_err(storage)?
        .map(|r| r.get(0));
    match state.as_deref() {
        Some("RUNNING") => {
            tx.execute(
                "UPDATE operations SET state = 'DONE', status = $3, ended_at = $4, summary = $5
                 WHERE tenant = $1 AND id = $2",
                &[
                    &tenant.as_str(),
                    &event.operation.as_str(),
                    &event.outcome.as_str(),
                    &event.time,
                    &summary.to_string(),
                ],
            )
            .map_err(storage)?;
            return journal::append_event(tx, event);
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
         VALUES ($1, $2, $3, 'DONE', $4, $5, $5, $6, $7)",
        &[
            &tenant.as_str(),
            &event.operation.as_str(),
            &event.kind.as_str(),
            &event.outcome.as_str(),
            &event.time,
            &summary.to_string(),
            &event.agent,
        ],
    )
    .map_err(storage)?;
    journal::append_event(tx, event)
}
