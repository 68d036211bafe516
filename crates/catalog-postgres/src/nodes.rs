//! Nodes: each process renews its lease from a thread of its own; what a node left running
//! or queued is another's to take once that lease has lapsed.

use super::*;
use carnac_catalog::NodeStore;
use carnac_model::OperationId;

/// How long a node is alive after its last renewal, and how often it renews. A node whose
/// process is stopped (killed, frozen, cut off) loses its work to the others after the
/// lease; the lease is long beside the renewal so that a slow moment does not.
pub const NODE_LEASE: std::time::Duration = std::time::Duration::from_secs(30);
pub const NODE_RENEWAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the node named by the SQL expression `node` is alive: its lease runs.
fn alive(node: &str) -> String {
    format!("EXISTS (SELECT 1 FROM nodes n WHERE n.id = {node} AND n.lease_until > now())")
}

/// Renews `node`'s lease (registering it the first time).
pub(crate) fn renew(conn: &mut postgres::Client, node: &str) -> Result<(), CatalogError> {
    conn.execute(
        "INSERT INTO nodes (id, lease_until) VALUES ($1, now() + make_interval(secs => $2))
         ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
        &[&node, &(NODE_LEASE.as_secs_f64())],
    )
    .map_err(storage)?;
    Ok(())
}

impl NodeStore for PostgresCatalog {
    fn node(&self) -> &str {
        &self.node
    }

    fn abandoned_operations(
        &self,
        including_this_node: bool,
    ) -> Result<Vec<(TenantId, OperationId)>, CatalogError> {
        self.conn()?
            .query(
                &format!(
                    "SELECT tenant, id FROM operations o
                     WHERE state = 'RUNNING'
                       AND (node IS NULL OR ($2 AND node = $1) OR (node <> $1 AND NOT {}))
                     ORDER BY started_at, seq",
                    alive("o.node")
                ),
                &[&self.node, &including_this_node],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok((
                    parse_id("tenant id", r.get(0))?,
                    parse_id("operation id", r.get(1))?,
                ))
            })
            .collect()
    }

    fn claim_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<bool, CatalogError> {
        // Row locks serialize two claims; the second sees the first's node, alive.
        let n = self
            .conn()?
            .execute(
                &format!(
                    "UPDATE transfer_queue q SET node = $3
                     WHERE tenant = $1 AND operation = $2
                       AND (node IS NULL OR node = $3 OR NOT {})",
                    alive("q.node")
                ),
                &[&tenant.as_str(), &operation.as_str(), &self.node],
            )
            .map_err(storage)?;
        Ok(n == 1)
    }

    fn lead(&self, duty: &str, lease: std::time::Duration) -> Result<bool, CatalogError> {
        let led = self
            .conn()?
            .query_opt(
                &format!(
                    "INSERT INTO leads (duty, node, until)
                     VALUES ($1, $2, now() + make_interval(secs => $3))
                     ON CONFLICT (duty) DO UPDATE SET node = excluded.node, until = excluded.until
                     WHERE leads.node = excluded.node OR leads.until < now() OR NOT {}
                     RETURNING 1",
                    alive("leads.node")
                ),
                &[&duty, &self.node, &lease.as_secs_f64()],
            )
            .map_err(storage)?;
        Ok(led.is_some())
    }
}
