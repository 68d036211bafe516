//! Deliveries: requests, their steps, and their packages while kept.

use super::*;
use carnac_catalog::{DeliveryRow, DeliveryStepCommit, DeliveryStore};
use carnac_model::delivery::DeliveryState;
use carnac_model::{OperationId, Timestamp, UnitId};

const COLUMNS: &str =
    "id, state, requested_by, requested_at, request, restricted, steps, package, expires_at";

fn json(text: &str, what: &str) -> Result<serde_json::Value, CatalogError> {
    serde_json::from_str(text).map_err(|e| CatalogError::Corruption(format!("{what}: {e}")))
}

fn array(text: &str, what: &str) -> Result<Vec<serde_json::Value>, CatalogError> {
    match json(text, what)? {
        serde_json::Value::Array(a) => Ok(a),
        _ => Err(CatalogError::Corruption(what.into())),
    }
}

fn to_row(r: &postgres::Row) -> Result<DeliveryRow, CatalogError> {
    let state: String = r.get(1);
    let restricted = array(r.get(5), "a delivery's restricted units")?
        .into_iter()
        .map(|u| {
            u.as_str()
                .and_then(|s| UnitId::new(s).ok())
                .ok_or_else(|| CatalogError::Corruption(format!("a restricted unit {u}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DeliveryRow {
        id: parse_id("delivery id", r.get(0))?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| CatalogError::Corruption(format!("delivery state {state:?}")))?,
        requested_by: r.get(2),
        requested_at: stored_time(r.get(3))?,
        request: json(r.get(4), "a delivery's request")?,
        restricted,
        steps: array(r.get(6), "a delivery's steps")?,
        package: r
            .get::<_, Option<&str>>(7)
            .map(|p| json(p, "a delivery's package"))
            .transpose()?,
        expires_at: r.get::<_, Option<String>>(8).map(stored_time).transpose()?,
    })
}

fn package_bytes(package: Option<&serde_json::Value>) -> i64 {
    package
        .and_then(|p| p.get("bytes")?.as_u64())
        .map_or(0, big)
}

impl DeliveryStore for PostgresCatalog {
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
        self.write(Some(tenant), |tx| {
            operations::record_done_operation(tx, tenant, summary, event)?;
            for e in subjects {
                journal::append_event(tx, e)?;
            }
            let n = tx
                .execute(
                    "INSERT INTO deliveries (tenant, id, state, requested_by, requested_at, request,
                        restricted, steps, package, package_bytes, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT DO NOTHING",
                    &[
                        &tenant.as_str(),
                        &row.id.as_str(),
                        &row.state.as_str(),
                        &row.requested_by,
                        &row.requested_at.as_str(),
                        &row.request.to_string(),
                        &serde_json::json!(restricted).to_string(),
                        &serde_json::Value::Array(row.steps.clone()).to_string(),
                        &row.package.as_ref().map(|p| p.to_string()),
                        &package_bytes(row.package.as_ref()),
                        &row.expires_at.as_ref().map(|t| t.as_str().to_owned()),
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
        self.conn()?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM deliveries WHERE tenant = $1 AND id = $2"),
                &[&tenant.as_str(), &id.as_str()],
            )
            .map_err(storage)?
            .map(|r| to_row(&r))
            .transpose()
    }

    fn deliveries(
        &self,
        tenant: &TenantId,
        requested_by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, CatalogError> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM deliveries
                     WHERE tenant = $1 AND ($2::text IS NULL OR requested_by = $2)
                     ORDER BY seq DESC LIMIT $3"
                ),
                &[&tenant.as_str(), &requested_by, &big(limit as u64)],
            )
            .map_err(storage)?
            .iter()
            .map(to_row)
            .collect()
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
        self.write(Some(tenant), |tx| {
            let row = tx
                .query_opt(
                    "SELECT state, steps FROM deliveries WHERE tenant = $1 AND id = $2 FOR UPDATE",
                    &[&t, &step.id.as_str()],
                )
                .map_err(storage)?
                .ok_or_else(|| CatalogError::NotFound(format!("delivery {}", step.id)))?;
            let (state, steps): (String, String) = (row.get(0), row.get(1));
            if state != step.from.as_str() {
                return Err(CatalogError::Conflict(format!(
                    "delivery {} is {state} now, no longer {}",
                    step.id,
                    step.from.as_str()
                )));
            }
            operations::record_done_operation(tx, tenant, step.summary, step.event)?;
            for e in step.subjects {
                journal::append_event(tx, e)?;
            }
            let mut all = array(&steps, "a delivery's steps")?;
            all.push(step.step.clone());
            let steps = serde_json::Value::Array(all).to_string();
            match step.package {
                Some((package, expires)) => tx.execute(
                    "UPDATE deliveries SET state = $3, steps = $4, package = $5, package_bytes = $6,
                        expires_at = $7
                     WHERE tenant = $1 AND id = $2",
                    &[
                        &t,
                        &step.id.as_str(),
                        &step.to.as_str(),
                        &steps,
                        &package.to_string(),
                        &package_bytes(Some(package)),
                        &expires.as_str(),
                    ],
                ),
                None => tx.execute(
                    "UPDATE deliveries SET state = $3, steps = $4 WHERE tenant = $1 AND id = $2",
                    &[&t, &step.id.as_str(), &step.to.as_str(), &steps],
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
        let rows = self
            .conn()?
            .query(
                "SELECT tenant, id, expires_at FROM deliveries
                 WHERE state = 'delivered' AND expires_at IS NOT NULL ORDER BY seq",
                &[],
            )
            .map_err(storage)?;
        let mut out = Vec::new();
        // Compared as instants, not as text: times are kept as written.
        for r in rows {
            if stored_time(r.get(2))?.to_datetime() <= now.to_datetime() {
                out.push((
                    parse_id("tenant id", r.get(0))?,
                    parse_id("delivery id", r.get(1))?,
                ));
            }
        }
        Ok(out)
    }

    fn kept_packages(&self, tenant: &TenantId) -> Result<(u64, u64), CatalogError> {
        let r = self
            .conn()?
            .query_one(
                "SELECT COUNT(*), COALESCE(SUM(package_bytes), 0)::bigint FROM deliveries
                 WHERE tenant = $1 AND state = 'delivered'",
                &[&tenant.as_str()],
            )
            .map_err(storage)?;
        Ok((unsigned(r.get(0)), unsigned(r.get(1))))
    }
}
