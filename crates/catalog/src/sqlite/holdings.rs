//! Units, object groups, objects and copies: an ingest's commit and what reads them.

use super::*;

pub(super) const OBJECT_COLUMNS: &str =
    "id, object_group, xml_id, physical, version, uri, size, digest_algorithm, digest, puid,
                        format_name, mime_type, filename";

pub(super) fn raw_object(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawObject> {
    Ok((
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
        (r.get(4)?, r.get(5)?, r.get(6)?),
        (r.get(7)?, r.get(8)?),
        (r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?),
    ))
}

impl HoldingStore for SqliteCatalog {
    fn unit_details(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<UnitDetails>, CatalogError> {
        let conn = self.read();
        let (t, u) = (tenant.as_str(), unit.as_str());
        let Some((description_level, originating_agency, management)) = conn
            .query_row(
                "SELECT description_level, originating_agency, management FROM units
                 WHERE tenant = ?1 AND id = ?2",
                params![t, u],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(storage)?
        else {
            return Ok(None);
        };
        let strings = |sql: &str| -> Result<Vec<String>, CatalogError> {
            conn.prepare(sql)
                .map_err(storage)?
                .query_map(params![t, u], |r| r.get::<_, String>(0))
                .map_err(storage)?
                .collect::<Result<_, _>>()
                .map_err(storage)
        };
        let keywords = strings(
            "SELECT keyword FROM unit_keywords WHERE tenant = ?1 AND unit = ?2 ORDER BY rowid",
        )?;
        let children = strings(
            "SELECT unit FROM unit_parents WHERE tenant = ?1 AND parent = ?2 ORDER BY unit",
        )?
        .into_iter()
        .map(|c| parse_id("unit id", c))
        .collect::<Result<_, _>>()?;
        let object_groups = strings(
            "SELECT object_group FROM unit_object_groups WHERE tenant = ?1 AND unit = ?2 ORDER BY object_group",
        )?
        .into_iter()
        .map(|g| parse_id("object group id", g))
        .collect::<Result<_, _>>()?;
        let rules = conn
            .prepare(
                "SELECT category, rule, start_date, end_date FROM unit_rules
                 WHERE tenant = ?1 AND unit = ?2 ORDER BY rowid",
            )
            .map_err(storage)?
            .query_map(params![t, u], |r| {
                Ok(UnitRule {
                    category: r.get(0)?,
                    rule: r.get(1)?,
                    start_date: r.get(2)?,
                    end_date: r.get(3)?,
                })
            })
            .map_err(storage)?
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        Ok(Some(UnitDetails {
            description_level,
            originating_agency,
            keywords,
            rules,
            management: management.as_deref().map(management_of).transpose()?,
            children,
            object_groups,
        }))
    }

    fn commit_ingest(&self, tenant: &TenantId, c: IngestCommit<'_>) -> Result<(), CatalogError> {
        check_event_tenant(tenant, c.event)?;
        let t = tenant.as_str();
        let op = c.operation.as_str();
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE operations SET state = 'DONE', status = ?3, ended_at = ?4, summary = ?5
                     WHERE tenant = ?1 AND id = ?2 AND state = 'RUNNING'",
                    params![t, op, c.status.as_str(), c.ended_at.as_str(), c.summary.to_string()],
                )
                .map_err(storage)?;
            if n != 1 {
                return Err(CatalogError::NotFound(format!("running operation {op}")));
            }
            store_reply(tx, t, op, c.reply)?;
            {
                let mut st = tx
                    .prepare_cached("INSERT INTO object_groups (tenant, id, operation, xml_id) VALUES (?1, ?2, ?3, ?4)")
                    .map_err(storage)?;
                for g in c.groups {
                    let g = g?;
                    st.execute(params![t, g.id.as_str(), op, g.xml_id]).map_err(storage)?;
                }
            }
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO objects (tenant, id, object_group, operation, xml_id, physical, version, uri, size,
                         digest_algorithm, digest, puid, format_name, mime_type, filename)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    )
                    .map_err(storage)?;
                let mut copy_st = tx
                    .prepare_cached("INSERT INTO copies (tenant, object, offer, blob, size) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .map_err(storage)?;
                for o in c.objects {
                    let o = o?;
                    st.execute(params![
                        t,
                        o.id.as_str(),
                        o.group.as_str(),
                        op,
                        o.xml_id,
                        o.physical,
                        o.version,
                        o.uri,
                        o.size.map(|s| s as i64),
                        o.digest.as_ref().map(|d| d.algorithm.seda_name()),
                        o.digest.as_ref().map(|d| d.hex.as_str()),
                        o.puid,
                        o.format_name,
                        o.mime_type,
                        o.filename,
                    ])
                    .map_err(storage)?;
                    if !o.physical {
                        for offer in c.offers {
                            copy_st
                                .execute(params![t, o.id.as_str(), offer, o.id.as_str(), o.size.unwrap_or(0) as i64])
                                .map_err(storage)?;
                        }
                    }
                }
            }
            // Parents are inserted once every unit exists (a parent may come later in the
            // stream), so they wait in a list of small pairs.
            let mut parents: Vec<(UnitId, UnitId)> = Vec::new();
            {
                let mut unit_st = tx
                    .prepare_cached(
                        "INSERT INTO units (tenant, id, operation, xml_id, title, description_level, start_date,
                         end_date, originating_agency, metadata, management)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    )
                    .map_err(storage)?;
                let mut kw_st = tx
                    .prepare_cached("INSERT INTO unit_keywords (tenant, unit, keyword) VALUES (?1, ?2, ?3)")
                    .map_err(storage)?;
                let mut rule_st = tx
                    .prepare_cached(
                        "INSERT INTO unit_rules (tenant, unit, category, rule, start_date, end_date)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(storage)?;
                let mut group_st = tx
                    .prepare_cached("INSERT OR IGNORE INTO unit_object_groups (tenant, unit, object_group) VALUES (?1, ?2, ?3)")
                    .map_err(storage)?;
                create_text_table(tx, t)?;
                let mut text_st = tx
                    .prepare_cached(&format!(
                        "INSERT INTO {} (rowid, title, body, tags) VALUES (?1, ?2, ?3, ?4)",
                        text_table(t)
                    ))
                    .map_err(storage)?;
                let mut facets_st = tx
                    .prepare_cached(
                        "INSERT INTO unit_facets (unit, tenant, originating_agency, start_date, end_date)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(storage)?;
                // Counted here and written once at the end: a per-row trigger would dirty the
                // same few pages for every unit, and a transaction of 100,000 units, which
                // spills its pages to the log as it goes, wrote them again and again (twice
                // the time of the whole commit).
                let mut counts: HashMap<(String, String), i64> = HashMap::new();
                for unit in c.units {
                    let u = unit?;
                    *counts
                        .entry((
                            u.originating_agency.clone().unwrap_or_default(),
                            u.start_date
                                .as_deref()
                                .map(|d| d.chars().take(4).collect())
                                .unwrap_or_default(),
                        ))
                        .or_default() += 1;
                    unit_st
                        .execute(params![
                            t,
                            u.id.as_str(),
                            op,
                            u.xml_id,
                            u.title,
                            u.description_level,
                            u.start_date,
                            u.end_date,
                            u.originating_agency,
                            u.metadata,
                            management_json(&u.management)?
                        ])
                        .map_err(storage)?;
                    let rowid = tx.last_insert_rowid();
                    facets_st
                        .execute(params![rowid, t, u.originating_agency, u.start_date, u.end_date])
                        .map_err(storage)?;
                    index_unit(
                        &mut text_st,
                        rowid,
                        &u.title,
                        u.originating_agency.as_deref(),
                        &u.keywords,
                        &u.metadata,
                    )?;
                    for k in &u.keywords {
                        kw_st.execute(params![t, u.id.as_str(), k]).map_err(storage)?;
                    }
                    for (category, r) in u.management.rules() {
                        rule_st
                            .execute(params![
                                t,
                                u.id.as_str(),
                                category.as_str(),
                                r.rule,
                                r.start_date,
                                r.end_date
                            ])
                            .map_err(storage)?;
                    }
                    for g in &u.object_groups {
                        group_st.execute(params![t, u.id.as_str(), g.as_str()]).map_err(storage)?;
                    }
                    parents.extend(u.parents.iter().map(|p| (u.id.clone(), p.clone())));
                }
                let mut count_st = tx
                    .prepare_cached(
                        "INSERT INTO unit_counts (tenant, agency, year, n) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (tenant, agency, year) DO UPDATE SET n = n + excluded.n",
                    )
                    .map_err(storage)?;
                for ((agency, year), n) in counts {
                    count_st.execute(params![t, agency, year, n]).map_err(storage)?;
                }
            }
            {
                let mut st = tx
                    .prepare_cached("INSERT OR IGNORE INTO unit_parents (tenant, unit, parent) VALUES (?1, ?2, ?3)")
                    .map_err(storage)?;
                for (unit, parent) in &parents {
                    st.execute(params![t, unit.as_str(), parent.as_str()]).map_err(storage)?;
                }
            }
            append_event(tx, c.event)?;
            Ok(())
        })
    }

    fn counts(&self, tenant: &TenantId) -> Result<Counts, CatalogError> {
        // A reader: counting a large tenant takes tens of milliseconds, which writers of
        // every tenant need not wait for.
        let conn = self.read();
        let count = |table: &str| -> Result<u64, CatalogError> {
            conn.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE tenant = ?1"),
                [tenant.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(storage)
        };
        let bytes: i64 = conn
            .query_row(
                "SELECT COALESCE(SUM(size), 0) FROM objects WHERE tenant = ?1",
                [tenant.as_str()],
                |r| r.get(0),
            )
            .map_err(storage)?;
        Ok(Counts {
            units: count("units")?,
            object_groups: count("object_groups")?,
            objects: count("objects")?,
            copies: count("copies")?,
            bytes: bytes.max(0) as u64,
        })
    }

    fn unit(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<(Unit, Vec<ObjectRow>)>, CatalogError> {
        let conn = self.read();
        let t = tenant.as_str();
        let row = conn
            .query_row(
                "SELECT u.operation, u.xml_id, u.title, u.start_date, u.end_date, u.metadata,
                        (SELECT group_concat(parent, ' ') FROM unit_parents p WHERE p.tenant = u.tenant AND p.unit = u.id)
                 FROM units u WHERE u.tenant = ?1 AND u.id = ?2",
                params![t, unit.as_str()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                },
            )
            .optional()
            .map_err(storage)?;
        let Some((operation, xml_id, title, start_date, end_date, metadata, parents)) = row else {
            return Ok(None);
        };
        let mut st = conn
            .prepare(&format!(
                "SELECT {OBJECT_COLUMNS} FROM objects WHERE tenant = ?1 AND object_group IN
                   (SELECT object_group FROM unit_object_groups WHERE tenant = ?1 AND unit = ?2)
                 ORDER BY rowid"
            ))
            .map_err(storage)?;
        let objects = st
            .query_map(params![t, unit.as_str()], raw_object)
            .map_err(storage)?
            .map(|r| to_object(r.map_err(storage)?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((
            Unit {
                id: unit.clone(),
                operation: parse_id("operation id", operation)?,
                xml_id,
                title,
                start_date,
                end_date,
                parents: parents_of(parents)?,
                metadata,
            },
            objects,
        )))
    }

    fn units_of_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Vec<Unit>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT u.id, u.xml_id, u.title, u.start_date, u.end_date, u.metadata,
                        (SELECT group_concat(parent, ' ') FROM unit_parents p WHERE p.tenant = u.tenant AND p.unit = u.id)
                 FROM units u WHERE u.tenant = ?1 AND u.operation = ?2 ORDER BY u.rowid",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), operation.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (id, xml_id, title, start_date, end_date, metadata, parents) =
                row.map_err(storage)?;
            Ok(Unit {
                id: parse_id("unit id", id)?,
                operation: operation.clone(),
                xml_id,
                title,
                start_date,
                end_date,
                parents: parents_of(parents)?,
                metadata,
            })
        })
        .collect()
    }

    fn object(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<Option<(OperationId, ObjectRow)>, CatalogError> {
        let conn = self.read();
        let raw = conn
            .query_row(
                &format!(
                    "SELECT {OBJECT_COLUMNS}, operation FROM objects WHERE tenant = ?1 AND id = ?2"
                ),
                params![tenant.as_str(), object.as_str()],
                |r| Ok((raw_object(r)?, r.get::<_, String>(13)?)),
            )
            .optional()
            .map_err(storage)?;
        raw.map(|(o, op)| Ok((parse_id("operation id", op)?, to_object(o)?)))
            .transpose()
    }

    fn each_object_of_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        each: &mut dyn FnMut(ObjectRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(&format!(
                "SELECT {OBJECT_COLUMNS} FROM objects WHERE tenant = ?1 AND operation = ?2 ORDER BY rowid"
            ))
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), operation.as_str()], raw_object)
            .map_err(storage)?;
        for row in rows {
            each(to_object(row.map_err(storage)?)?)?;
        }
        Ok(())
    }

    fn each_held_object(
        &self,
        tenant: &TenantId,
        each: &mut dyn FnMut(OperationId, ObjectRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(&format!(
                "SELECT {OBJECT_COLUMNS}, operation FROM objects WHERE tenant = ?1 ORDER BY operation, rowid"
            ))
            .map_err(storage)?;
        let rows = st
            .query_map([tenant.as_str()], |r| {
                Ok((r.get::<_, String>(13)?, raw_object(r)?))
            })
            .map_err(storage)?;
        for row in rows {
            let (operation, raw) = row.map_err(storage)?;
            each(parse_id("operation id", operation)?, to_object(raw)?)?;
        }
        Ok(())
    }

    fn record_copies(
        &self,
        tenant: &TenantId,
        copies: &[CopyRow],
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            {
                let mut held = tx
                    .prepare_cached("SELECT 1 FROM objects WHERE tenant = ?1 AND id = ?2")
                    .map_err(storage)?;
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO copies (tenant, object, offer, blob, size) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT DO NOTHING",
                    )
                    .map_err(storage)?;
                for c in copies {
                    if !held
                        .exists(params![tenant.as_str(), c.object.as_str()])
                        .map_err(storage)?
                    {
                        return Err(CatalogError::NotFound(format!(
                            "object {} of tenant {tenant}",
                            c.object
                        )));
                    }
                    insert
                        .execute(params![
                            tenant.as_str(),
                            c.object.as_str(),
                            c.offer,
                            c.blob,
                            c.size as i64
                        ])
                        .map_err(storage)?;
                }
            }
            super::operations::record_done_operation(tx, tenant, summary, event)
        })
    }

    fn copies(&self, tenant: &TenantId) -> Result<Vec<(OperationId, CopyRow)>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT o.operation, c.object, c.offer, c.blob, c.size FROM copies c
                 JOIN objects o ON o.tenant = c.tenant AND o.id = c.object
                 WHERE c.tenant = ?1 ORDER BY o.operation, c.object, c.offer",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([tenant.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (op, object, offer, blob, size) = row.map_err(storage)?;
            Ok((
                parse_id("operation id", op)?,
                CopyRow {
                    object: parse_id("object id", object)?,
                    offer,
                    blob,
                    size: size as u64,
                },
            ))
        })
        .collect()
    }

    fn forget_offer(
        &self,
        tenant: &TenantId,
        offer: &str,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let n = tx
                .execute(
                    "DELETE FROM copies WHERE tenant = ?1 AND offer = ?2",
                    params![tenant.as_str(), offer],
                )
                .map_err(storage)?;
            operations::record_done_operation(tx, tenant, summary, event)?;
            Ok(n as u64)
        })
    }

    fn rules_graph(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<Vec<UnitRules>, CatalogError> {
        let conn = self.read();
        let t = tenant.as_str();
        // The units and their ancestors, each once (UNION, not UNION ALL, also ends a cycle,
        // which ingest refuses anyway). The starting ids go in as one JSON array. `IN`, not a
        // join: SQLite indexes the set it builds for `IN`, while a join may scan the CTE once
        // per unit (quadratic: 15 s for 10,000 units).
        let ids = serde_json::to_string(&units.iter().map(UnitId::as_str).collect::<Vec<_>>())
            .map_err(|e| CatalogError::storage_in("encoding unit ids", e))?;
        let mut st = conn
            .prepare(
                "WITH RECURSIVE up(id) AS (
                     SELECT value FROM json_each(?2)
                     UNION
                     SELECT p.parent FROM up CROSS JOIN unit_parents p
                       ON p.tenant = ?1 AND p.unit = up.id
                 )
                 SELECT u.id, u.originating_agency, u.management,
                        (SELECT group_concat(parent, ' ') FROM unit_parents p
                          WHERE p.tenant = u.tenant AND p.unit = u.id)
                 FROM units u WHERE u.tenant = ?1 AND u.id IN (SELECT id FROM up)",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(params![t, ids], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(storage)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, originating_agency, management, parents) = row.map_err(storage)?;
            out.push(UnitRules {
                id: parse_id("unit id", id)?,
                parents: parents_of(parents)?,
                originating_agency,
                management: management.as_deref().map(management_of).transpose()?,
            });
        }
        Ok(out)
    }

    fn descendants(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<Vec<UnitId>, CatalogError> {
        let conn = self.read();
        let ids = serde_json::to_string(&units.iter().map(UnitId::as_str).collect::<Vec<_>>())
            .map_err(|e| CatalogError::storage_in("encoding unit ids", e))?;
        let mut st = conn
            .prepare(
                // CROSS JOIN fixes the order (SQLite keeps it): each starting id, then its
                // children by index. Left to the planner, it scanned every link once per id
                // (13 s for 10,000 units).
                "WITH RECURSIVE down(id) AS (
                     SELECT p.unit FROM json_each(?2) j
                       CROSS JOIN unit_parents p ON p.tenant = ?1 AND p.parent = j.value
                     UNION
                     SELECT p.unit FROM down CROSS JOIN unit_parents p
                       ON p.tenant = ?1 AND p.parent = down.id
                 )
                 SELECT id FROM down",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), ids], |r| r.get::<_, String>(0))
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter().map(|u| parse_id("unit id", u)).collect()
    }

    fn group_xml_ids(
        &self,
        tenant: &TenantId,
        groups: &[ObjectId],
    ) -> Result<Vec<(ObjectId, String)>, CatalogError> {
        let conn = self.read();
        let ids = serde_json::to_string(&groups.iter().map(ObjectId::as_str).collect::<Vec<_>>())
            .map_err(|e| CatalogError::storage_in("encoding group ids", e))?;
        let mut st = conn
            .prepare(
                "SELECT g.id, g.xml_id FROM json_each(?2) j
                   CROSS JOIN object_groups g ON g.tenant = ?1 AND g.id = j.value",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), ids], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter()
            .map(|(g, x)| Ok((parse_id("group id", g)?, x)))
            .collect()
    }

    fn unit_ids(
        &self,
        tenant: &TenantId,
        after: Option<&UnitId>,
        limit: usize,
    ) -> Result<Vec<UnitId>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare("SELECT id FROM units WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
            .map_err(storage)?;
        let rows = st
            .query_map(
                params![
                    tenant.as_str(),
                    after.map_or("", UnitId::as_str),
                    limit as i64
                ],
                |r| r.get::<_, String>(0),
            )
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter().map(|u| parse_id("unit id", u)).collect()
    }

    fn units_to_fill(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<UnitToFill>, CatalogError> {
        let conn = self.read();
        let t = tenant.as_str();
        let mut st = conn
            .prepare(
                "SELECT operation, id, xml_id FROM units
                 WHERE tenant = ?1 AND management IS NULL ORDER BY operation, rowid LIMIT ?2",
            )
            .map_err(storage)?;
        let found = st
            .query_map(params![t, limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(storage)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        let mut rules_st = conn
            .prepare_cached(
                "SELECT category, rule, start_date, end_date FROM unit_rules
                 WHERE tenant = ?1 AND unit = ?2 ORDER BY rowid",
            )
            .map_err(storage)?;
        let mut out = Vec::with_capacity(found.len());
        for (operation, id, xml_id) in found {
            let rules = rules_st
                .query_map(params![t, id], |r| {
                    Ok(UnitRule {
                        category: r.get(0)?,
                        rule: r.get(1)?,
                        start_date: r.get(2)?,
                        end_date: r.get(3)?,
                    })
                })
                .map_err(storage)?
                .collect::<Result<_, _>>()
                .map_err(storage)?;
            out.push(UnitToFill {
                operation: parse_id("operation id", operation)?,
                id: parse_id("unit id", id)?,
                xml_id,
                rules,
            });
        }
        Ok(out)
    }

    fn change_management(
        &self,
        tenant: &TenantId,
        change: ManagementChange<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, change.event)?;
        for u in change.units {
            check_event_tenant(tenant, &u.event)?;
        }
        let t = tenant.as_str();
        self.write(|tx| {
            // An execution under way destroys what its visa was given on: no rule (a hold
            // above a unit it destroys) changes beneath it until it completes.
            refuse_while_executing(tx, t, "rules change")?;
            // The operation first: the history names it.
            operations::record_done_operation(tx, tenant, change.summary, change.event)?;
            let mut read = tx
                .prepare_cached("SELECT management FROM units WHERE tenant = ?1 AND id = ?2")
                .map_err(storage)?;
            let mut update = tx
                .prepare_cached("UPDATE units SET management = ?3 WHERE tenant = ?1 AND id = ?2")
                .map_err(storage)?;
            let mut clear = tx
                .prepare_cached("DELETE FROM unit_rules WHERE tenant = ?1 AND unit = ?2")
                .map_err(storage)?;
            let mut rule = tx
                .prepare_cached(
                    "INSERT INTO unit_rules (tenant, unit, category, rule, start_date, end_date)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(storage)?;
            let mut history = tx
                .prepare_cached(
                    "INSERT INTO unit_management_history (tenant, unit, operation, changed_at, previous, current)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(storage)?;
            for u in change.units {
                let id = u.unit.as_str();
                let now: Option<Option<String>> = read
                    .query_row(params![t, id], |r| r.get(0))
                    .optional()
                    .map_err(storage)?;
                let Some(now) = now else {
                    return Err(CatalogError::Conflict(format!(
                        "unit {id} is no longer in the archive"
                    )));
                };
                let now = now.as_deref().map(management_of).transpose()?;
                if now.as_ref() != Some(&u.before) {
                    return Err(CatalogError::Conflict(format!(
                        "the rules of unit {id} changed since they were read"
                    )));
                }
                let after = management_json(&u.after)?;
                update.execute(params![t, id, after]).map_err(storage)?;
                clear.execute(params![t, id]).map_err(storage)?;
                for (category, r) in u.after.rules() {
                    rule.execute(params![
                        t,
                        id,
                        category.as_str(),
                        r.rule,
                        r.start_date,
                        r.end_date
                    ])
                    .map_err(storage)?;
                }
                history
                    .execute(params![
                        t,
                        id,
                        change.event.operation.as_str(),
                        change.event.time,
                        management_json(&u.before)?,
                        after
                    ])
                    .map_err(storage)?;
                append_event(tx, &u.event)?;
            }
            Ok(())
        })
    }

    fn management_history(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        limit: usize,
    ) -> Result<Vec<ManagementHistoryRow>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT operation, changed_at, previous, current FROM unit_management_history
                 WHERE tenant = ?1 AND unit = ?2 ORDER BY rowid DESC LIMIT ?3",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), unit.as_str(), limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(storage)?;
        let mut out = Vec::new();
        for row in rows {
            let (operation, changed_at, previous, current) = row.map_err(storage)?;
            out.push(ManagementHistoryRow {
                operation: parse_id("operation id", operation)?,
                changed_at: stored_time(changed_at)?,
                previous: previous.as_deref().map(management_of).transpose()?,
                current: management_of(&current)?,
            });
        }
        Ok(out)
    }

    fn change_metadata(
        &self,
        tenant: &TenantId,
        change: MetadataChange<'_>,
    ) -> Result<(), CatalogError> {
        metadata::change_metadata(self, tenant, change)
    }

    fn metadata_history(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        limit: usize,
    ) -> Result<Vec<MetadataHistoryRow>, CatalogError> {
        metadata::metadata_history(self, tenant, unit, limit)
    }

    fn fill_management(
        &self,
        tenant: &TenantId,
        units: &[(UnitId, Management)],
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<usize, CatalogError> {
        check_event_tenant(tenant, event)?;
        let t = tenant.as_str();
        self.write(|tx| {
            let mut st = tx
                .prepare_cached(
                    "UPDATE units SET management = ?3
                     WHERE tenant = ?1 AND id = ?2 AND management IS NULL",
                )
                .map_err(storage)?;
            let mut n = 0;
            for (unit, m) in units {
                n += st
                    .execute(params![t, unit.as_str(), management_json(m)?])
                    .map_err(storage)?;
            }
            if n > 0 {
                operations::record_done_operation(tx, tenant, summary, event)?;
            }
            Ok(n)
        })
    }
}

/// Refuses a change of what an elimination executing in the tenant was given its visa on
/// (a hold above a unit it destroys, the description the control authority read), or of a
/// tenant whose closure is open (its list is being checked against its export).
pub(super) fn refuse_while_executing(
    tx: &Transaction<'_>,
    t: &str,
    what: &str,
) -> Result<(), CatalogError> {
    let busy: Option<(String, String)> = tx
        .query_row(
            &format!(
                "SELECT id, kind FROM eliminations WHERE tenant = ?1
                   AND (state = 'executing' OR (kind = 'closure' AND state IN {}))
                 LIMIT 1",
                super::eliminations::OPEN_STATES
            ),
            params![t],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(storage)?;
    match busy {
        Some((e, kind)) if kind == "closure" => Err(CatalogError::Conflict(format!(
            "the tenant is closing (closure {e}): no {what}"
        ))),
        Some((e, _)) => Err(CatalogError::Conflict(format!(
            "elimination {e} is being executed in this tenant: {what} once it is done"
        ))),
        None => Ok(()),
    }
}
