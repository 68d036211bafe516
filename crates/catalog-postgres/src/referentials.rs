//! Versioned referentials.

use super::*;
use carnac_catalog::{
    ReferentialKind, ReferentialStore, ReferentialVersion, ReferentialVersionInfo,
};
use carnac_model::{OperationId, Timestamp};

impl ReferentialStore for PostgresCatalog {
    fn import_referentials(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        at: &Timestamp,
        content: &[(ReferentialKind, serde_json::Value)],
        event: &NewEvent,
    ) -> Result<Vec<u64>, CatalogError> {
        check_event_tenant(tenant, event)?;
        let t = tenant.as_str();
        self.write(Some(tenant), |tx| {
            tx.execute(
                "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, agent)
                 VALUES ($1, $2, $3, 'DONE', $4, $5, $5, $6)",
                &[&t, &operation.as_str(), &event.kind.as_str(), &event.outcome.as_str(), &at.as_str(), &event.agent],
            )
            .map_err(storage)?;
            let mut versions = Vec::new();
            for (kind, value) in content {
                let next: i64 = tx
                    .query_one(
                        "INSERT INTO referentials (tenant, kind, version, operation, imported_at, content)
                         SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5
                         FROM referentials WHERE tenant = $1 AND kind = $2
                         RETURNING version",
                        &[&t, &kind.as_str(), &operation.as_str(), &at.as_str(), &value.to_string()],
                    )
                    .map_err(storage)?
                    .get(0);
                versions.push(unsigned(next));
            }
            journal::append_event(tx, event)?;
            Ok(versions)
        })
    }

    fn referential_versions(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Vec<ReferentialVersionInfo>, CatalogError> {
        self.conn()?
            .query(
                "SELECT version, operation, imported_at FROM referentials
                 WHERE tenant = $1 AND kind = $2 ORDER BY version",
                &[&tenant.as_str(), &kind.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok(ReferentialVersionInfo {
                    version: unsigned(r.get(0)),
                    operation: parse_id("operation id", r.get(1))?,
                    imported_at: stored_time(r.get(2))?,
                })
            })
            .collect()
    }

    fn referential(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Option<ReferentialVersion>, CatalogError> {
        self.conn()?
            .query_opt(
                "SELECT version, operation, imported_at, content FROM referentials
                 WHERE tenant = $1 AND kind = $2 ORDER BY version DESC LIMIT 1",
                &[&tenant.as_str(), &kind.as_str()],
            )
            .map_err(storage)?
            .map(|r| {
                Ok(ReferentialVersion {
                    kind,
                    version: unsigned(r.get(0)),
                    operation: parse_id("operation id", r.get(1))?,
                    imported_at: stored_time(r.get(2))?,
                    content: serde_json::from_str(r.get(3))
                        .map_err(|e| corrupt("referential content", e))?,
                })
            })
            .transpose()
    }
}
