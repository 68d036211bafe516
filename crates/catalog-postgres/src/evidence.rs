//! Evidence records: trees, the leaves that start a file's chain, renewals.

use super::*;
use carnac_catalog::{EvidenceCommit, EvidencePath, EvidenceStore, EvidenceTreeRow};
use carnac_model::{Digest, ObjectId, OperationId};

const TREE_COLUMNS: &str =
    "id, kind, algorithm, leaves, token, stamped_at, certificate_until, tsa, builtin, operation";

fn tree_of(r: &postgres::Row) -> Result<EvidenceTreeRow, CatalogError> {
    to_tree((
        (r.get(0), r.get(1), r.get(2)),
        (r.get(3), r.get(4)),
        (r.get(5), r.get(6), r.get(7), r.get(8), r.get(9)),
    ))
}

impl EvidenceStore for PostgresCatalog {
    fn pending_evidence(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<(ObjectId, Digest)>, CatalogError> {
        self.conn()?
            .query(
                "SELECT o.id, o.digest_algorithm, o.digest FROM objects o
                 WHERE o.tenant = $1 AND NOT o.physical AND o.digest IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM evidence_object_leaves e
                                    WHERE e.tenant = o.tenant AND e.object = o.id)
                 ORDER BY o.seq LIMIT $2",
                &[&tenant.as_str(), &big(limit as u64)],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok((
                    parse_id("object id", r.get(0))?,
                    digest_of(r.get(1), r.get(2))?,
                ))
            })
            .collect()
    }

    fn commit_evidence(
        &self,
        tenant: &TenantId,
        c: EvidenceCommit<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, c.event)?;
        let t = tenant.as_str();
        let tree = c.tree;
        self.write(Some(tenant), |tx| {
            tx.execute(
                "INSERT INTO evidence_trees (tenant, id, kind, algorithm, leaves, token, stamped_at,
                                             certificate_until, tsa, builtin, operation, current)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true)",
                &[
                    &t,
                    &tree.id,
                    &tree.kind.as_str(),
                    &tree.algorithm,
                    &tree.leaves,
                    &tree.token,
                    &tree.stamped_at.as_str(),
                    &tree.certificate_until.as_str(),
                    &tree.tsa,
                    &tree.builtin,
                    &tree.operation.as_str(),
                ],
            )
            .map_err(storage)?;
            let leaf = tx
                .prepare(
                    "INSERT INTO evidence_object_leaves (tenant, object, chain, tree, position)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .map_err(storage)?;
            for (object, chain, position) in c.objects {
                tx.execute(&leaf, &[&t, &object.as_str(), &big(*chain), &tree.id, &big(*position)])
                    .map_err(storage)?;
            }
            for (renewed, position) in c.renews {
                tx.execute(
                    "INSERT INTO evidence_renewals (tenant, tree, renewed_by, position) VALUES ($1, $2, $3, $4)",
                    &[&t, renewed, &tree.id, &big(*position)],
                )
                .map_err(storage)?;
            }
            tx.execute(
                "UPDATE evidence_trees SET current = false WHERE tenant = $1 AND id = ANY($2)",
                &[&t, &c.supersedes],
            )
            .map_err(storage)?;
            tx.execute(
                "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, summary, agent)
                 VALUES ($1, $2, $3, 'DONE', $4, $5, $5, $6, $7)",
                &[
                    &t,
                    &c.event.operation.as_str(),
                    &c.event.kind.as_str(),
                    &c.event.outcome.as_str(),
                    &c.event.time,
                    &c.summary.to_string(),
                    &c.event.agent,
                ],
            )
            .map_err(storage)?;
            journal::append_event(tx, c.event)?;
            Ok(())
        })
    }

    fn current_evidence_trees(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<EvidenceTreeRow>, CatalogError> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {TREE_COLUMNS} FROM evidence_trees WHERE tenant = $1 AND current ORDER BY seq"
                ),
                &[&tenant.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(tree_of)
            .collect()
    }

    fn evidence_path(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<EvidencePath, CatalogError> {
        let mut conn = self.conn()?;
        let t = tenant.as_str();
        let starts: Vec<(String, i64)> = conn
            .query(
                "SELECT tree, position FROM evidence_object_leaves
                 WHERE tenant = $1 AND object = $2 ORDER BY chain",
                &[&t, &object.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let tree_st = conn
            .prepare(&format!(
                "SELECT {TREE_COLUMNS} FROM evidence_trees WHERE tenant = $1 AND id = $2"
            ))
            .map_err(storage)?;
        let renewal_st = conn
            .prepare(
                "SELECT renewed_by, position FROM evidence_renewals WHERE tenant = $1 AND tree = $2",
            )
            .map_err(storage)?;
        let tree =
            |conn: &mut postgres::Client, id: &str| -> Result<EvidenceTreeRow, CatalogError> {
                tree_of(&conn.query_one(&tree_st, &[&t, &id]).map_err(storage)?)
            };
        let next_chain_start: Vec<String> = starts.iter().skip(1).map(|(t, _)| t.clone()).collect();
        let mut path = Vec::new();
        for (i, (first, position)) in starts.iter().enumerate() {
            let mut chain = vec![(tree(&mut conn, first)?, unsigned(*position))];
            let mut current = first.clone();
            // Follow timestamp renewals; a later chain's first tree is never part of this one.
            for _ in 0..10_000 {
                let next = conn
                    .query_opt(&renewal_st, &[&t, &current])
                    .map_err(storage)?
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)));
                match next {
                    Some((by, pos)) if next_chain_start.get(i) != Some(&by) => {
                        chain.push((tree(&mut conn, &by)?, unsigned(pos)));
                        current = by;
                    }
                    _ => break,
                }
            }
            path.push(chain);
        }
        Ok(path)
    }

    fn objects_with_evidence(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(ObjectId, OperationId, Digest)>, CatalogError> {
        self.conn()?
            .query(
                "SELECT o.id, o.operation, o.digest_algorithm, o.digest FROM objects o
                 WHERE o.tenant = $1 AND EXISTS (SELECT 1 FROM evidence_object_leaves e
                                                  WHERE e.tenant = o.tenant AND e.object = o.id)
                 ORDER BY o.seq",
                &[&tenant.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok((
                    parse_id("object id", r.get(0))?,
                    parse_id("operation id", r.get(1))?,
                    digest_of(r.get(2), r.get(3))?,
                ))
            })
            .collect()
    }
}
