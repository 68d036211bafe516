//! Tenants.

use super::*;

impl TenantStore for SqliteCatalog {
    fn create_tenant(
        &self,
        tenant: &TenantId,
        name: &str,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM tenants WHERE id = ?1)",
                    [tenant.as_str()],
                    |r| r.get(0),
                )
                .map_err(storage)?;
            if exists {
                return Err(CatalogError::Conflict(format!("tenant {tenant}")));
            }
            tx.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![tenant.as_str(), name, event.time],
            )
            .map_err(storage)?;
            record_done_operation(tx, tenant, event)?;
            append_event(tx, event)?;
            Ok(())
        })
    }

    fn tenant(&self, tenant: &TenantId) -> Result<Option<Tenant>, CatalogError> {
        self.read()
            .query_row(
                "SELECT id, name, created_at, suspended_at FROM tenants WHERE id = ?1",
                [tenant.as_str()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get(1)?,
                        time_at(r, 2)?,
                        optional_time_at(r, 3)?,
                    ))
                },
            )
            .optional()
            .map_err(storage)?
            .map(|(id, name, created_at, suspended_at)| {
                Ok(Tenant {
                    id: parse_id("tenant id", id)?,
                    name,
                    created_at,
                    suspended_at,
                })
            })
            .transpose()
    }

    fn tenants(&self) -> Result<Vec<Tenant>, CatalogError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT id, name, created_at, suspended_at FROM tenants ORDER BY id")
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    time_at(r, 2)?,
                    optional_time_at(r, 3)?,
                ))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (id, name, created_at, suspended_at) = row.map_err(storage)?;
            Ok(Tenant {
                id: parse_id("tenant id", id)?,
                name,
                created_at,
                suspended_at,
            })
        })
        .collect()
    }

    fn suspend_tenant(
        &self,
        tenant: &TenantId,
        suspended: bool,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE tenants SET suspended_at = ?2 WHERE id = ?1",
                    params![tenant.as_str(), suspended.then_some(&event.time)],
                )
                .map_err(storage)?;
            if changed == 0 {
                return Err(CatalogError::NotFound(format!("tenant {tenant}")));
            }
            record_done_operation(tx, tenant, event)?;
            append_event(tx, event)?;
            Ok(())
        })
    }
}
