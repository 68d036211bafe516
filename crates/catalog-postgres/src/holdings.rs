//! Units, object groups, objects and copies: an ingest's commit and what reads them; rule
//! and metadata changes.

use super::*;
use crate::ingest_rows::{ROWS, insert_groups, insert_objects, insert_units};
use carnac_catalog::search::UnitDetails;
use carnac_catalog::{
    CopyRow, Counts, HoldingStore, IngestCommit, ManagementChange, ManagementHistoryRow,
    MetadataChange, MetadataHistoryRow, ObjectRow, Unit, UnitRule, UnitRules, UnitToFill,
};
use carnac_model::rules::Management;
use carnac_model::{ObjectId, OperationId, UnitId};
use postgres::fallible_iterator::FallibleIterator;
use std::collections::HashMap;

pub(crate) const OBJECT_COLUMNS: &str = "id, object_group, xml_id, physical, version, uri, size,
    digest_algorithm, digest, puid, format_name, mime_type, filename";

pub(crate) fn object_of(r: &postgres::Row) -> Result<ObjectRow, CatalogError> {
    to_object((
        (r.get(0), r.get(1), r.get(2), r.get(3)),
        (r.get(4), r.get(5), r.get(6)),
        (r.get(7), r.get(8)),
        (r.get(9), r.get(10), r.get(11), r.get(12)),
    ))
}

/// The words of a unit, as the text index keeps them: its title, its metadata's words, its
/// agency and keywords (what SQLite's index keeps in its body column).
pub(crate) fn words_of(
    title: &str,
    agency: Option<&str>,
    keywords: &[String],
    metadata: &str,
) -> String {
    let mut body = String::with_capacity(title.len() + metadata.len() / 2);
    body.push_str(title);
    body.push(' ');
    body.push_str(&carnac_catalog::search::searchable_text(metadata));
    for extra in agency
        .into_iter()
        .chain(keywords.iter().map(String::as_str))
    {
        body.push(' ');
        body.push_str(extra);
    }
    body
}

const UNIT_COLUMNS: &str = "u.id, u.operation, u.xml_id, u.title, u.start_date, u.end_date, u.metadata,
    (SELECT string_agg(parent, ' ' ORDER BY parent) FROM unit_parents p WHERE p.tenant = u.tenant AND p.unit = u.id)";

fn unit_of(r: &postgres::Row) -> Result<Unit, CatalogError> {
    Ok(Unit {
        id: parse_id("unit id", r.get(0))?,
        operation: parse_id("operation id", r.get(1))?,
        xml_id: r.get(2),
        title: r.get(3),
        start_date: r.get(4),
        end_date: r.get(5),
        metadata: r.get(6),
        parents: parents_of(r.get(7))?,
    })
}

fn rule_of(r: &postgres::Row) -> UnitRule {
    UnitRule {
        category: r.get(0),
        rule: r.get(1),
        start_date: r.get(2),
        end_date: r.get(3),
    }
}

fn ids_of(rows: Vec<postgres::Row>, what: &str) -> Result<Vec<UnitId>, CatalogError> {
    rows.into_iter().map(|r| parse_id(what, r.get(0))).collect()
}

impl HoldingStore for PostgresCatalog {
    fn commit_ingest(&self, tenant: &TenantId, c: IngestCommit<'_>) -> Result<(), CatalogError> {
        check_event_tenant(tenant, c.event)?;
        let t = tenant.as_str();
        let op = c.operation.as_str();
        self.write(Some(tenant), |tx| {
            let n = tx
                .execute(
                    "UPDATE operations SET state = 'DONE', status = $3, ended_at = $4, summary = $5
                     WHERE tenant = $1 AND id = $2 AND state = 'RUNNING'",
                    &[&t, &op, &c.status.as_str(), &c.ended_at.as_str(), &c.summary.to_string()],
                )
                .map_err(storage)?;
            if n != 1 {
                return Err(CatalogError::NotFound(format!("running operation {op}")));
            }
            operations::store_reply(tx, t, op, c.reply)?;
            // Rows go ROWS at a time, one statement over arrays each: a round trip per
            // row is what a 10,000-unit transfer (or a fill of millions) would wait on.
            let mut rows = Vec::with_capacity(ROWS);
            for g in c.groups {
                rows.push(g?);
                if rows.len() == ROWS {
                    insert_groups(tx, t, op, &rows)?;
                    rows.clear();
                }
            }
            insert_groups(tx, t, op, &rows)?;
            let mut rows = Vec::with_capacity(ROWS);
            for o in c.objects {
                rows.push(o?);
                if rows.len() == ROWS {
                    insert_objects(tx, t, op, c.offers, &rows)?;
                    rows.clear();
                }
            }
            insert_objects(tx, t, op, c.offers, &rows)?;
            // Parents are inserted once every unit exists (a parent may come later in the
            // stream), so they wait in a list of small pairs.
            let mut parents: Vec<(UnitId, UnitId)> = Vec::new();
            let mut counts: HashMap<(String, String), i64> = HashMap::new();
            let mut rows = Vec::with_capacity(ROWS);
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
                parents.extend(u.parents.iter().map(|p| (u.id.clone(), p.clone())));
                rows.push(u);
                if rows.len() == ROWS {
                    insert_units(tx, t, op, &rows)?;
                    rows.clear();
                }
            }
            insert_units(tx, t, op, &rows)?;
            let count_st = tx
                .prepare(
                    "INSERT INTO unit_counts (tenant, agency, year, n) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (tenant, agency, year) DO UPDATE SET n = unit_counts.n + excluded.n",
                )
                .map_err(storage)?;
            for ((agency, year), n) in counts {
                tx.execute(&count_st, &[&t, &agency, &year, &n]).map_err(storage)?;
            }
            for chunk in parents.chunks(ROWS) {
                let (units, parents): (Vec<&str>, Vec<&str>) =
                    chunk.iter().map(|(u, p)| (u.as_str(), p.as_str())).unzip();
                tx.execute(
                    "INSERT INTO unit_parents (tenant, unit, parent)
                     SELECT $1, u, p FROM unnest($2::text[], $3::text[]) AS r(u, p)
                     ON CONFLICT DO NOTHING",
                    &[&t, &units, &parents],
                )
                .map_err(storage)?;
            }
            journal::append_event(tx, c.event)?;
            Ok(())
        })
    }

    fn counts(&self, tenant: &TenantId) -> Result<Counts, CatalogError> {
        let r = self
            .conn()?
            .query_one(
                "SELECT (SELECT COUNT(*) FROM units WHERE tenant = $1),
                        (SELECT COUNT(*) FROM object_groups WHERE tenant = $1),
                        (SELECT COUNT(*) FROM objects WHERE tenant = $1),
                        (SELECT COUNT(*) FROM copies WHERE tenant = $1),
                        (SELECT COALESCE(SUM(size), 0)::bigint FROM objects WHERE tenant = $1)",
                &[&tenant.as_str()],
            )
            .map_err(storage)?;
        Ok(Counts {
            units: unsigned(r.get(0)),
            object_groups: unsigned(r.get(1)),
            objects: unsigned(r.get(2)),
            copies: unsigned(r.get(3)),
            bytes: unsigned(r.get(4)),
        })
    }

    fn unit(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<(Unit, Vec<ObjectRow>)>, CatalogError> {
        let mut conn = self.conn()?;
        let (t, u) = (tenant.as_str(), unit.as_str());
        let Some(row) = conn
            .query_opt(
                &format!("SELECT {UNIT_COLUMNS} FROM units u WHERE u.tenant = $1 AND u.id = $2"),
                &[&t, &u],
            )
            .map_err(storage)?
        else {
            return Ok(None);
        };
        let objects = conn
            .query(
                &format!(
                    "SELECT {OBJECT_COLUMNS} FROM objects WHERE tenant = $1 AND object_group IN
                       (SELECT object_group FROM unit_object_groups WHERE tenant = $1 AND unit = $2)
                     ORDER BY seq"
                ),
                &[&t, &u],
            )
            .map_err(storage)?
            .iter()
            .map(object_of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((unit_of(&row)?, objects)))
    }

    fn unit_details(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<UnitDetails>, CatalogError> {
        let mut conn = self.conn()?;
        let (t, u) = (tenant.as_str(), unit.as_str());
        let Some(row) = conn
            .query_opt(
                "SELECT description_level, originating_agency, management,
                    ARRAY(SELECT keyword FROM unit_keywords k WHERE k.tenant = $1 AND k.unit = $2 ORDER BY seq),
                    ARRAY(SELECT unit FROM unit_parents p WHERE p.tenant = $1 AND p.parent = $2 ORDER BY unit),
                    ARRAY(SELECT object_group FROM unit_object_groups g WHERE g.tenant = $1 AND g.unit = $2 ORDER BY object_group)
                 FROM units WHERE tenant = $1 AND id = $2",
                &[&t, &u],
            )
            .map_err(storage)?
        else {
            return Ok(None);
        };
        let rules = conn
            .query(
                "SELECT category, rule, start_date, end_date FROM unit_rules
                 WHERE tenant = $1 AND unit = $2 ORDER BY seq",
                &[&t, &u],
            )
            .map_err(storage)?
            .iter()
            .map(rule_of)
            .collect();
        Ok(Some(UnitDetails {
            description_level: row.get(0),
            originating_agency: row.get(1),
            management: row
                .get::<_, Option<&str>>(2)
                .map(management_of)
                .transpose()?,
            keywords: row.get(3),
            children: row
                .get::<_, Vec<String>>(4)
                .into_iter()
                .map(|c| parse_id("unit id", c))
                .collect::<Result<_, _>>()?,
            object_groups: row
                .get::<_, Vec<String>>(5)
                .into_iter()
                .map(|g| parse_id("object group id", g))
                .collect::<Result<_, _>>()?,
            rules,
        }))
    }

    fn units_of_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Vec<Unit>, CatalogError> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {UNIT_COLUMNS} FROM units u WHERE u.tenant = $1 AND u.operation = $2 ORDER BY u.seq"
                ),
                &[&tenant.as_str(), &operation.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(unit_of)
            .collect()
    }

    fn object(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<Option<(OperationId, ObjectRow)>, CatalogError> {
        self.conn()?
            .query_opt(
                &format!(
                    "SELECT {OBJECT_COLUMNS}, operation FROM objects WHERE tenant = $1 AND id = $2"
                ),
                &[&tenant.as_str(), &object.as_str()],
            )
            .map_err(storage)?
            .map(|r| Ok((parse_id("operation id", r.get(13))?, object_of(&r)?)))
            .transpose()
    }

    fn each_object_of_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        each: &mut dyn FnMut(ObjectRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn()?;
        let (t, o) = (tenant.as_str(), operation.as_str());
        let params: [&(dyn postgres::types::ToSql + Sync); 2] = [&t, &o];
        let mut rows = conn
            .query_raw(
                &format!(
                    "SELECT {OBJECT_COLUMNS} FROM objects WHERE tenant = $1 AND operation = $2 ORDER BY seq"
                ),
                params,
            )
            .map_err(storage)?;
        while let Some(r) = rows.next().map_err(storage)? {
            each(object_of(&r)?)?;
        }
        Ok(())
    }

    fn each_held_object(
        &self,
        tenant: &TenantId,
        each: &mut dyn FnMut(OperationId, ObjectRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn()?;
        let t = tenant.as_str();
        let params: [&(dyn postgres::types::ToSql + Sync); 1] = [&t];
        let mut rows = conn
            .query_raw(
                &format!(
                    "SELECT {OBJECT_COLUMNS}, operation FROM objects WHERE tenant = $1 ORDER BY operation, seq"
                ),
                params,
            )
            .map_err(storage)?;
        while let Some(r) = rows.next().map_err(storage)? {
            each(parse_id("operation id", r.get(13))?, object_of(&r)?)?;
        }
        Ok(())
    }

    fn copies(&self, tenant: &TenantId) -> Result<Vec<(OperationId, CopyRow)>, CatalogError> {
        self.conn()?
            .query(
                "SELECT o.operation, c.object, c.offer, c.blob, c.size FROM copies c
                 JOIN objects o ON o.tenant = c.tenant AND o.id = c.object
                 WHERE c.tenant = $1 ORDER BY o.operation, c.object, c.offer",
                &[&tenant.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok((
                    parse_id("operation id", r.get(0))?,
                    CopyRow {
                        object: parse_id("object id", r.get(1))?,
                        offer: r.get(2),
                        blob: r.get(3),
                        size: unsigned(r.get(4)),
                    },
                ))
            })
            .collect()
    }

    fn record_copies(
        &self,
        tenant: &TenantId,
        copies: &[CopyRow],
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        let t = tenant.as_str();
        self.write(Some(tenant), |tx| {
            let insert = tx
                .prepare(
                    "INSERT INTO copies (tenant, object, offer, blob, size)
                     SELECT $1, id, $3, $4, $5 FROM objects WHERE tenant = $1 AND id = $2
                     ON CONFLICT DO NOTHING
                     RETURNING 1",
                )
                .map_err(storage)?;
            let held = tx
                .prepare("SELECT 1 FROM objects WHERE tenant = $1 AND id = $2")
                .map_err(storage)?;
            for c in copies {
                let inserted = tx
                    .query_opt(
                        &insert,
                        &[&t, &c.object.as_str(), &c.offer, &c.blob, &big(c.size)],
                    )
                    .map_err(storage)?;
                if inserted.is_none()
                    && tx
                        .query_opt(&held, &[&t, &c.object.as_str()])
                        .map_err(storage)?
                        .is_none()
                {
                    return Err(CatalogError::NotFound(format!(
                        "object {} of tenant {tenant}",
                        c.object
                    )));
                }
            }
            operations::record_done_operation(tx, tenant, summary, event)
        })
    }

    fn forget_offer(
        &self,
        tenant: &TenantId,
        offer: &str,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(Some(tenant), |tx| {
            let n = tx
                .execute(
                    "DELETE FROM copies WHERE tenant = $1 AND offer = $2",
                    &[&tenant.as_str(), &offer],
                )
                .map_err(storage)?;
            operations::record_done_operation(tx, tenant, summary, event)?;
            Ok(n)
        })
    }

    fn rules_graph(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<Vec<UnitRules>, CatalogError> {
        let ids: Vec<&str> = units.iter().map(UnitId::as_str).collect();
        // The units and their ancestors, each once (UNION, not UNION ALL, also ends a cycle,
        // which ingest refuses anyway).
        self.conn()?
            .query(
                "WITH RECURSIVE up(id) AS (
                     SELECT unnest($2::text[]) COLLATE \"C\"
                     UNION
                     SELECT p.parent FROM up JOIN unit_parents p ON p.tenant = $1 AND p.unit = up.id
                 )
                 SELECT u.id, u.originating_agency, u.management,
                        (SELECT string_agg(parent, ' ' ORDER BY parent) FROM unit_parents p
                          WHERE p.tenant = u.tenant AND p.unit = u.id)
                 FROM units u WHERE u.tenant = $1 AND u.id IN (SELECT id FROM up)",
                &[&tenant.as_str(), &ids],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok(UnitRules {
                    id: parse_id("unit id", r.get(0))?,
                    originating_agency: r.get(1),
                    management: r.get::<_, Option<&str>>(2).map(management_of).transpose()?,
                    parents: parents_of(r.get(3))?,
                })
            })
            .collect()
    }

    fn descendants(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
    ) -> Result<Vec<UnitId>, CatalogError> {
        let ids: Vec<&str> = units.iter().map(UnitId::as_str).collect();
        let rows = self
            .conn()?
            .query(
                "WITH RECURSIVE down(id) AS (
                     SELECT p.unit FROM unit_parents p
                      WHERE p.tenant = $1 AND p.parent = ANY($2::text[])
                     UNION
                     SELECT p.unit FROM down JOIN unit_parents p ON p.tenant = $1 AND p.parent = down.id
                 )
                 SELECT id FROM down",
                &[&tenant.as_str(), &ids],
            )
            .map_err(storage)?;
        ids_of(rows, "unit id")
    }

    fn group_xml_ids(
        &self,
        tenant: &TenantId,
        groups: &[ObjectId],
    ) -> Result<Vec<(ObjectId, String)>, CatalogError> {
        let ids: Vec<&str> = groups.iter().map(ObjectId::as_str).collect();
        self.conn()?
            .query(
                "SELECT g.id, g.xml_id FROM unnest($2::text[]) WITH ORDINALITY AS j(id, i)
                   JOIN object_groups g ON g.tenant = $1 AND g.id = j.id ORDER BY j.i",
                &[&tenant.as_str(), &ids],
            )
            .map_err(storage)?
            .iter()
            .map(|r| Ok((parse_id("group id", r.get(0))?, r.get(1))))
            .collect()
    }

    fn unit_ids(
        &self,
        tenant: &TenantId,
        after: Option<&UnitId>,
        limit: usize,
    ) -> Result<Vec<UnitId>, CatalogError> {
        let rows = self
            .conn()?
            .query(
                "SELECT id FROM units WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3",
                &[
                    &tenant.as_str(),
                    &after.map_or("", UnitId::as_str),
                    &big(limit as u64),
                ],
            )
            .map_err(storage)?;
        ids_of(rows, "unit id")
    }

    fn units_to_fill(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<UnitToFill>, CatalogError> {
        let mut conn = self.conn()?;
        let t = tenant.as_str();
        let found = conn
            .query(
                "SELECT operation, id, xml_id FROM units
                 WHERE tenant = $1 AND management IS NULL ORDER BY operation, seq LIMIT $2",
                &[&t, &big(limit as u64)],
            )
            .map_err(storage)?;
        let rules_st = conn
            .prepare(
                "SELECT category, rule, start_date, end_date FROM unit_rules
                 WHERE tenant = $1 AND unit = $2 ORDER BY seq",
            )
            .map_err(storage)?;
        let mut out = Vec::with_capacity(found.len());
        for r in found {
            let id: String = r.get(1);
            let rules = conn
                .query(&rules_st, &[&t, &id])
                .map_err(storage)?
                .iter()
                .map(rule_of)
                .collect();
            out.push(UnitToFill {
                operation: parse_id("operation id", r.get(0))?,
                id: parse_id("unit id", id)?,
                xml_id: r.get(2),
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
        self.write(Some(tenant), |tx| {
            // An execution under way destroys what its visa was given on: no rule (a hold
            // above a unit it destroys) changes beneath it until it completes.
            refuse_while_executing(tx, t, "rules change")?;
            // The operation first: the history names it.
            operations::record_done_operation(tx, tenant, change.summary, change.event)?;
            let read = tx
                .prepare("SELECT management FROM units WHERE tenant = $1 AND id = $2 FOR UPDATE")
                .map_err(storage)?;
            for u in change.units {
                let id = u.unit.as_str();
                let Some(now) = tx.query_opt(&read, &[&t, &id]).map_err(storage)? else {
                    return Err(CatalogError::Conflict(format!(
                        "unit {id} is no longer in the archive"
                    )));
                };
                let now = now.get::<_, Option<&str>>(0).map(management_of).transpose()?;
                if now.as_ref() != Some(&u.before) {
                    return Err(CatalogError::Conflict(format!(
                        "the rules of unit {id} changed since they were read"
                    )));
                }
                let after = management_json(&u.after)?;
                tx.execute(
                    "UPDATE units SET management = $3 WHERE tenant = $1 AND id = $2",
                    &[&t, &id, &after],
                )
                .map_err(storage)?;
                set_rules(tx, t, id, &u.after)?;
                tx.execute(
                    "INSERT INTO unit_management_history (tenant, unit, operation, changed_at, previous, current)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &t,
                        &id,
                        &change.event.operation.as_str(),
                        &change.event.time,
                        &management_json(&u.before)?,
                        &after,
                    ],
                )
                .map_err(storage)?;
                journal::append_event(tx, &u.event)?;
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
        self.conn()?
            .query(
                "SELECT operation, changed_at, previous, current FROM unit_management_history
                 WHERE tenant = $1 AND unit = $2 ORDER BY seq DESC LIMIT $3",
                &[&tenant.as_str(), &unit.as_str(), &big(limit as u64)],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok(ManagementHistoryRow {
                    operation: parse_id("operation id", r.get(0))?,
                    changed_at: stored_time(r.get(1))?,
                    previous: r.get::<_, Option<&str>>(2).map(management_of).transpose()?,
                    current: management_of(r.get(3))?,
                })
            })
            .collect()
    }

    fn change_metadata(
        &self,
        tenant: &TenantId,
        change: MetadataChange<'_>,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, change.event)?;
        let t = tenant.as_str();
        let id = change.unit.as_str();
        self.write(Some(tenant), |tx| {
            // What an execution destroys was described to the control authority as it was.
            refuse_while_executing(tx, t, "metadata changes")?;
            let Some(now) = tx
                .query_opt(
                    "SELECT metadata, originating_agency FROM units WHERE tenant = $1 AND id = $2 FOR UPDATE",
                    &[&t, &id],
                )
                .map_err(storage)?
            else {
                return Err(CatalogError::Conflict(format!(
                    "unit {id} is no longer in the archive"
                )));
            };
            let (metadata, agency): (String, Option<String>) = (now.get(0), now.get(1));
            if metadata != change.before {
                return Err(CatalogError::Conflict(format!(
                    "the metadata of unit {id} changed since it was read"
                )));
            }
            // The operation first: the history names it.
            operations::record_done_operation(tx, tenant, change.summary, change.event)?;
            let words = words_of(change.title, agency.as_deref(), change.keywords, change.after);
            // Counts follow the dates by trigger.
            tx.execute(
                &format!(
                    "UPDATE units SET title = $3, description_level = $4, start_date = $5, end_date = $6,
                     metadata = $7, words = to_tsvector('{}'::regconfig, $8)
                     WHERE tenant = $1 AND id = $2",
                    migrations::TEXT_CONFIG
                ),
                &[
                    &t,
                    &id,
                    &change.title,
                    &change.description_level,
                    &change.start_date,
                    &change.end_date,
                    &change.after,
                    &words,
                ],
            )
            .map_err(storage)?;
            tx.execute(
                "DELETE FROM unit_keywords WHERE tenant = $1 AND unit = $2",
                &[&t, &id],
            )
            .map_err(storage)?;
            tx.execute(
                "INSERT INTO unit_keywords (tenant, unit, keyword)
                 SELECT $1, $2, k FROM unnest($3::text[]) WITH ORDINALITY AS x(k, i) ORDER BY i",
                &[&t, &id, &change.keywords],
            )
            .map_err(storage)?;
            tx.execute(
                "INSERT INTO unit_metadata_history (tenant, unit, operation, changed_at, agent, changes, previous, current)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &t,
                    &id,
                    &change.event.operation.as_str(),
                    &change.event.time,
                    &change.event.agent,
                    &change.changes.to_string(),
                    &change.before,
                    &change.after,
                ],
            )
            .map_err(storage)?;
            Ok(())
        })
    }

    fn metadata_history(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        limit: usize,
    ) -> Result<Vec<MetadataHistoryRow>, CatalogError> {
        self.conn()?
            .query(
                "SELECT operation, changed_at, agent, changes, previous, current FROM unit_metadata_history
                 WHERE tenant = $1 AND unit = $2 ORDER BY seq DESC LIMIT $3",
                &[&tenant.as_str(), &unit.as_str(), &big(limit as u64)],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok(MetadataHistoryRow {
                    operation: parse_id("operation id", r.get(0))?,
                    changed_at: stored_time(r.get(1))?,
                    agent: r.get(2),
                    changes: serde_json::from_str(r.get(3)).map_err(|e| {
                        CatalogError::Corruption(format!("a metadata change's difference: {e}"))
                    })?,
                    previous: r.get(4),
                    current: r.get(5),
                })
            })
            .collect()
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
        self.write(Some(tenant), |tx| {
            let st = tx
                .prepare(
                    "UPDATE units SET management = $3
                     WHERE tenant = $1 AND id = $2 AND management IS NULL",
                )
                .map_err(storage)?;
            let mut n = 0;
            for (unit, m) in units {
                n += tx
                    .execute(&st, &[&t, &unit.as_str(), &management_json(m)?])
                    .map_err(storage)?;
            }
            if n > 0 {
                operations::record_done_operation(tx, tenant, summary, event)?;
            }
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }
}

/// Replaces a unit's flat rules by those of `m`.
fn set_rules(
    tx: &mut Transaction<'_>,
    t: &str,
    id: &str,
    m: &Management,
) -> Result<(), CatalogError> {
    tx.execute(
        "DELETE FROM unit_rules WHERE tenant = $1 AND unit = $2",
        &[&t, &id],
    )
    .map_err(storage)?;
    for (category, r) in m.rules() {
        tx.execute(
            "INSERT INTO unit_rules (tenant, unit, category, rule, start_date, end_date)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &t,
                &id,
                &category.as_str(),
                &r.rule,
                &r.start_date,
                &r.end_date,
            ],
        )
        .map_err(storage)?;
    }
    Ok(())
}

/// Refuses a change of what an elimination executing in the tenant was given its visa on
/// (a hold above a unit it destroys, the description the control authority read), or of a
/// tenant whose closure is open (its list is being checked against its export).
pub(crate) fn refuse_while_executing(
    tx: &mut Transaction<'_>,
    t: &str,
    what: &str,
) -> Result<(), CatalogError> {
    let busy = tx
        .query_opt(
            &format!(
                "SELECT id, kind FROM eliminations WHERE tenant = $1
                   AND (state = 'executing' OR (kind = 'closure' AND state IN {}))
                 LIMIT 1",
                eliminations::OPEN_STATES
            ),
            &[&t],
        )
        .map_err(storage)?;
    match busy {
        Some(r) if r.get::<_, &str>(1) == "closure" => Err(CatalogError::Conflict(format!(
            "the tenant is closing (closure {}): no {what}",
            r.get::<_, &str>(0)
        ))),
        Some(r) => Err(CatalogError::Conflict(format!(
            "elimination {} is being executed in this tenant: {what} once it is done",
            r.get::<_, &str>(0)
        ))),
        None => Ok(()),
    }
}
