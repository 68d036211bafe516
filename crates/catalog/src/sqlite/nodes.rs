//! One node: the process that holds the data folder's lock, so that whatever another
//! process left running is abandoned.

use super::*;

impl NodeStore for SqliteCatalog {
    fn node(&self) -> &str {
        &self.node
    }

    fn abandoned_operations(
        &self,
        including_this_node: bool,
    ) -> Result<Vec<(TenantId, OperationId)>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT tenant, id FROM operations
                 WHERE state = 'RUNNING' AND (?2 OR node IS NULL OR node <> ?1) ORDER BY started_at",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(params![self.node, including_this_node], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (t, o) = row.map_err(storage)?;
            Ok((parse_id("tenant id", t)?, parse_id("operation id", o)?))
        })
        .collect()
    }

    fn claim_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<bool, CatalogError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE transfer_queue SET node = ?3 WHERE tenant = ?1 AND operation = ?2",
                    params![tenant.as_str(), operation.as_str(), self.node],
                )
                .map_err(storage)?;
            Ok(n == 1)
        })
    }

    fn lead(&self, _duty: &str, _lease: std::time::Duration) -> Result<bool, CatalogError> {
        Ok(true)
    }
}
