//! Evidence records: trees, the leaves that start a file's chain, renewals.

use super::*;

pub(super) const TREE_COLUMNS: &str =
    "id, kind, algorithm, leaves, token, stamped_at, certificate_until, tsa, builtin, operation";

pub(super) fn raw_tree(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawTree> {
    Ok((
        (r.get(0)?, r.get(1)?, r.get(2)?),
        (r.get(3)?, r.get(4)?),
        (r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?),
    ))
}

impl EvidenceStore for SqliteCatalog {
    fn pending_evidence(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<(ObjectId, Digest)>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT o.id, o.digest_algorithm, o.digest FROM objects o
                 WHERE o.tenant = ?1 AND o.physical = 0 AND o.digest IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM evidence_object_leaves e WHERE e.tenant = o.tenant AND e.object = o.id)
                 ORDER BY o.rowid LIMIT ?2",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (id, algorithm, hex) = row.map_err(storage)?;
            Ok((parse_id("object id", id)?, digest_of(&algorithm, hex)?))
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
        self.write(|tx| {
            tx.execute(
                "INSERT INTO evidence_trees (tenant, id, kind, algorithm, leaves, token, stamped_at, certificate_until, tsa,
                                             builtin, operation, current)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)",
                params![
                    t,
                    tree.id,
                    tree.kind.as_str(),
                    tree.algorithm,
                    tree.leaves,
                    tree.token,
                    tree.stamped_at.as_str(),
                    tree.certificate_until.as_str(),
                    tree.tsa,
                    tree.builtin,
                    tree.operation.as_str()
                ],
            )
            .map_err(storage)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO evidence_object_leaves (tenant, object, chain, tree, position) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(storage)?;
                for (object, chain, position) in c.objects {
                    st.execute(params![t, object.as_str(), *chain as i64, tree.id, *position as i64])
                        .map_err(storage)?;
                }
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO evidence_renewals (tenant, tree, renewed_by, position) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(storage)?;
                for (renewed, position) in c.renews {
                    st.execute(params![t, renewed, tree.id, *position as i64]).map_err(storage)?;
                }
                let mut st = tx
                    .prepare_cached("UPDATE evidence_trees SET current = 0 WHERE tenant = ?1 AND id = ?2")
                    .map_err(storage)?;
                for old in c.supersedes {
                    st.execute(params![t, old]).map_err(storage)?;
                }
            }
            tx.execute(
                "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, summary, agent)
                 VALUES (?1, ?2, ?3, 'DONE', ?4, ?5, ?5, ?6, ?7)",
                params![t, c.event.operation.as_str(), c.event.kind.as_str(), c.event.outcome.as_str(), c.event.time, c.summary.to_string(), c.event.agent],
            )
            .map_err(storage)?;
            append_event(tx, c.event)?;
            Ok(())
        })
    }

    fn current_evidence_trees(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<EvidenceTreeRow>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(&format!(
                "SELECT {TREE_COLUMNS} FROM evidence_trees WHERE tenant = ?1 AND current = 1 ORDER BY rowid"
            ))
            .map_err(storage)?;
        let rows = st.query_map([tenant.as_str()], raw_tree).map_err(storage)?;
        rows.map(|r| to_tree(r.map_err(storage)?)).collect()
    }

    fn evidence_path(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<EvidencePath, CatalogError> {
        let conn = self.lock();
        let t = tenant.as_str();
        let starts: Vec<(String, i64)> = {
            let mut st = conn
                .prepare("SELECT tree, position FROM evidence_object_leaves WHERE tenant = ?1 AND object = ?2 ORDER BY chain")
                .map_err(storage)?;
            st.query_map(params![t, object.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(storage)?
                .collect::<Result<_, _>>()
                .map_err(storage)?
        };
        let tree_of = |id: &str| -> Result<EvidenceTreeRow, CatalogError> {
            let raw = conn
                .query_row(
                    &format!(
                        "SELECT {TREE_COLUMNS} FROM evidence_trees WHERE tenant = ?1 AND id = ?2"
                    ),
                    params![t, id],
                    raw_tree,
                )
                .map_err(storage)?;
            to_tree(raw)
        };
        let next_chain_start: Vec<String> = starts.iter().skip(1).map(|(t, _)| t.clone()).collect();
        let mut path = Vec::new();
        for (i, (tree, position)) in starts.iter().enumerate() {
            let mut chain = vec![(tree_of(tree)?, *position as u64)];
            let mut current = tree.clone();
            // Follow timestamp renewals; a later chain's first tree is never part of this one.
            for _ in 0..10_000 {
                let next: Option<(String, i64)> = conn
                    .query_row(
                        "SELECT renewed_by, position FROM evidence_renewals WHERE tenant = ?1 AND tree = ?2",
                        params![t, current],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(storage)?;
                match next {
                    Some((by, pos)) if next_chain_start.get(i) != Some(&by) => {
                        chain.push((tree_of(&by)?, pos as u64));
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
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT o.id, o.operation, o.digest_algorithm, o.digest FROM objects o
                 WHERE o.tenant = ?1 AND EXISTS (SELECT 1 FROM evidence_object_leaves e WHERE e.tenant = o.tenant AND e.object = o.id)
                 ORDER BY o.rowid",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([tenant.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (id, op, algorithm, hex) = row.map_err(storage)?;
            Ok((
                parse_id("object id", id)?,
                parse_id("operation id", op)?,
                digest_of(&algorithm, hex)?,
            ))
        })
        .collect()
    }
}
