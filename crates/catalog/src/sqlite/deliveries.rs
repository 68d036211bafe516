//! Deliveries: requests, their steps, and their packages while kept.

use super::*;
use carnac_model::delivery::DeliveryState;

const COLUMNS: &str =
    "id, state, requested_by, requested_at, request, restricted, steps, package, expires_at";

type Raw = (
    (String, String, String, String, String),
    (String, String, Option<String>, Option<String>),
);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
        (r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?),
    ))
}

fn json(text: &str, what: &str) -> Result<serde_json::Value, CatalogError> {
    serde_json::from_str(text).map_err(|e| CatalogError::Corruption(format!("{what}: {e}")))
}

fn array(text: &str, what: &str) -> Result<Vec<serde_json::Value>, CatalogError> {
    match json(text, what)? {
        serde_json::Value::Array(a) => Ok(a),
        _ => Err(CatalogError::Corruption(what.into())),
    }
}

fn to_row(raw: Raw) -> Result<DeliveryRow, CatalogError> {
    let ((id, state, requested_by, requested_at, request), (restricted, steps, package, expires)) =
        raw;
    let restricted = array(&restricted, "a delivery's restricted units")?
        .into_iter()
        .map(|u| {
            u.as_str()
                .and_then(|s| UnitId::new(s).ok())
                .ok_or_else(|| CatalogError::Corruption(format!("a restricted unit {u}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DeliveryRow {
        id: parse_id("delivery id", id)?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| CatalogError::Corruption(format!("delivery state {state:?}")))?,
        requested_by,
        requested_at: stored_time(requested_at)?,
        request: json(&request, "a delivery's request")?,
        restricted,
        steps: array(&steps, "a delivery's steps")?,
        package: package
            .as_deref()
            .map(|p| json(p, "a delivery's package"))
            .transpose()?,
        expires_at: expires.map(stored_time).transpose()?,
    })
}

fn package_bytes(package: Option<&serde_json::Value>) -> i64 {
    package
        .and_then(|p| p.get("bytes")?.as_u64())
        .map_or(0, |b| i64::try_from(b).unwrap_or(i64::MAX))
}

impl DeliveryStore for SqliteCatalog {
    fn create_delivery(
        &self,
        tenant: &TenantId,
        row: &DeliveryRow,
        summary: &serde_json::Value,
        event: &NewEvent,
        subjects: &[NewEvent],
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, event)?;
        for e in subjects {
            check_event_tenant(tenant, e)?;
        }
        let restricted: Vec<&str> = row.restricted.iter().map(UnitId::as_str).collect();
        self.write(|tx| {
            operations::record_done_operation(tx, tenant, summary, event)?;
            for e in subjects {
                append_event(tx, e)?;
            }
            let n = tx
                .execute(
                    "INSERT INTO deliveries (tenant, id, state, requested_by, requested_at, request,
                        restricted, steps, package, package_bytes, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT DO NOTHING",
                    params![
                        tenant.as_str(),
                        row.id.as_str(),
                        row.state.as_str(),
                        row.requested_by,
                        row.requested_at.as_str(),
                        row.request.to_string(),
                        serde_json::json!(restricted).to_string(),
                        serde_json::Value::Array(row.steps.clone()).to_string(),
                        row.package.as_ref().map(|p| p.to_string()),
                        package_bytes(row.package.as_ref()),
                        row.expires_at.as_ref().map(|t| t.as_str().to_owned()),
                    ],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::Conflict(format!("delivery {}", row.id)));
            }
            Ok(())
        })
    }

    fn delivery(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Option<DeliveryRow>, CatalogError> {
        let conn = self.read();
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM deliveries WHERE tenant = ?1 AND id = ?2"),
            params![tenant.as_str(), id.as_str()],
            raw,
        )
        .optional()
        .map_err(storage)?
        .map(to_row)
        .transpose()
    }

    fn deliveries(
        &self,
        tenant: &TenantId,
        requested_by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM deliveries
                 WHERE tenant = ?1 AND (?2 IS NULL OR requested_by = ?2)
                 ORDER BY rowid DESC LIMIT ?3"
            ))
            .map_err(storage)?;
        let rows = st
            .query_map(
                params![
                    tenant.as_str(),
                    requested_by,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                raw,
            )
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter().map(to_row).collect()
    }

    fn delivery_step(
        &self,
        tenant: &TenantId,
        step: DeliveryStepCommit<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, step.event)?;
        for e in step.subjects {
            check_event_tenant(tenant, e)?;
        }
        let t = tenant.as_str();
        self.write(|tx| {
            let (state, steps): (String, String) = tx
                .query_row(
                    "SELECT state, steps FROM deliveries WHERE tenant = ?1 AND id = ?2",
                    params![t, step.id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(storage)?
                .ok_or_else(|| CatalogError::NotFound(format!("delivery {}", step.id)))?;
            if state != step.from.as_str() {
                return Err(CatalogError::Conflict(format!(
                    "delivery {} is {state} now, no longer {}",
                    step.id,
                    step.from.as_str()
                )));
            }
            operations::record_done_operation(tx, tenant, step.summary, step.event)?;
            for e in step.subjects {
                append_event(tx, e)?;
            }
            let mut all = array(&steps, "a delivery's steps")?;
            all.push(step.step.clone());
            let steps = serde_json::Value::Array(all).to_string();
            match step.package {
                Some((package, expires)) => tx.execute(
                    "UPDATE deliveries SET state = ?3, steps = ?4, package = ?5, package_bytes = ?6,
                        expires_at = ?7
                     WHERE tenant = ?1 AND id = ?2",
                    params![
                        t,
                        step.id.as_str(),
                        step.to.as_str(),
                        steps,
                        package.to_string(),
                        package_bytes(Some(package)),
                        expires.as_str()
                    ],
                ),
                None => tx.execute(
                    "UPDATE deliveries SET state = ?3, steps = ?4 WHERE tenant = ?1 AND id = ?2",
                    params![t, step.id.as_str(), step.to.as_str(), steps],
                ),
            }
            .map_err(storage)?;
            Ok(())
        })
    }

    fn expired_deliveries(
        &self,
        now: &Timestamp,
    ) -> Result<Vec<(TenantId, OperationId)>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT tenant, id, expires_at FROM deliveries
                 WHERE state = 'delivered' AND expires_at IS NOT NULL ORDER BY rowid",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        let mut out = Vec::new();
        // Compared as instants, not as text: times are kept as written.
        for (t, id, expires) in rows {
            if stored_time(expires)?.to_datetime() <= now.to_datetime() {
                out.push((parse_id("tenant id", t)?, parse_id("delivery id", id)?));
            }
        }
        Ok(out)
    }

    fn kept_packages(&self, tenant: &TenantId) -> Result<(u64, u64), CatalogError> {
        let conn = self.read();
        conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(package_bytes), 0) FROM deliveries
             WHERE tenant = ?1 AND state = 'delivered'",
            params![tenant.as_str()],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
        .map(|(n, b)| (n.max(0) as u64, b.max(0) as u64))
        .map_err(storage)
    }
}
