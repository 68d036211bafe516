//! Versioned referentials.

use super::*;

impl ReferentialStore for SqliteCatalog {
    fn import_referentials(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        at: &Timestamp,
        content: &[(ReferentialKind, serde_json::Value)],
        event: &NewEvent,
    ) -> Result<Vec<u64>, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, agent)
                 VALUES (?1, ?2, ?3, 'DONE', ?4, ?5, ?5, ?6)",
                params![tenant.as_str(), operation.as_str(), event.kind.as_str(), event.outcome.as_str(), at.as_str(), event.agent],
            )
            .map_err(storage)?;
            let mut versions = Vec::new();
            for (kind, value) in content {
                let next: i64 = tx
                    .query_row(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM referentials WHERE tenant = ?1 AND kind = ?2",
                        params![tenant.as_str(), kind.as_str()],
                        |r| r.get(0),
                    )
                    .map_err(storage)?;
                tx.execute(
                    "INSERT INTO referentials (tenant, kind, version, operation, imported_at, content)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![tenant.as_str(), kind.as_str(), next, operation.as_str(), at.as_str(), value.to_string()],
                )
                .map_err(storage)?;
                versions.push(next as u64);
            }
            append_event(tx, event)?;
            Ok(versions)
        })
    }

    fn referential_versions(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Vec<ReferentialVersionInfo>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT version, operation, imported_at FROM referentials
                 WHERE tenant = ?1 AND kind = ?2 ORDER BY version",
            )
            .map_err(storage)?;
        st.query_map(params![tenant.as_str(), kind.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(storage)?
        .map(|row| {
            let (version, operation, imported_at) = row.map_err(storage)?;
            Ok(ReferentialVersionInfo {
                version: version as u64,
                operation: parse_id("operation id", operation)?,
                imported_at: stored_time(imported_at)?,
            })
        })
        .collect()
    }

    fn referential(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Option<ReferentialVersion>, CatalogError> {
        let row = self
            .read()
            .query_row(
                "SELECT version, operation, imported_at, content FROM referentials
                 WHERE tenant = ?1 AND kind = ?2 ORDER BY version DESC LIMIT 1",
                params![tenant.as_str(), kind.as_str()],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(storage)?;
        row.map(|(version, operation, imported_at, content)| {
            Ok(ReferentialVersion {
                kind,
                version: version as u64,
                operation: parse_id("operation id", operation)?,
                imported_at: stored_time(imported_at)?,
                content: serde_json::from_str(&content)
                    .map_err(|e| corrupt("referential content", e))?,
            })
        })
        .transpose()
    }
}
