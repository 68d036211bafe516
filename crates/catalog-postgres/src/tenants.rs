//! Tenants.

use super::*;
use carnac_catalog::{Tenant, TenantStore};

fn to_tenant(r: &postgres::Row) -> Result<Tenant, CatalogError> {
    Ok(Tenant {
        id: parse_id("tenant id", r.get(0))?,
        name: r.get(1),
        created_at: stored_time(r.get(2))?,
        suspended_at: r.get::<_, Option<String>>(3).map(stored_time).transpose()?,
    })
}

impl TenantStore for PostgresCatalog {
    fn create_tenant(
        &self,
        tenant: &TenantId,
        name: &str,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(Some(tenant), |tx| {
            let n = tx
                .execute(
                    "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&tenant.as_str(), &name, &event.time],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::Conflict(format!("tenant {tenant}")));
            }
            record_admin_events(tx, std::slice::from_ref(event))
        })
    }

    fn tenant(&self, tenant: &TenantId) -> Result<Option<Tenant>, CatalogError> {
        self.conn()?
            .query_opt(
                "SELECT id, name, created_at, suspended_at FROM tenants WHERE id = $1",
                &[&tenant.as_str()],
            )
            .map_err(storage)?
            .map(|r| to_tenant(&r))
            .transpose()
    }

    fn tenants(&self) -> Result<Vec<Tenant>, CatalogError> {
        self.conn()?
            .query(
                "SELECT id, name, created_at, suspended_at FROM tenants ORDER BY id",
                &[],
            )
            .map_err(storage)?
            .iter()
            .map(to_tenant)
            .collect()
    }

    fn suspend_tenant(
        &self,
        tenant: &TenantId,
        suspended: bool,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(Some(tenant), |tx| {
            let n = tx
                .execute(
                    "UPDATE tenants SET suspended_at = $2 WHERE id = $1",
                    &[&tenant.as_str(), &suspended.then_some(&event.time)],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("tenant {tenant}")));
            }
            record_admin_events(tx, std::slice::from_ref(event))
        })
    }
}
