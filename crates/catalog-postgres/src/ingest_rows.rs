//! The rows an ingest commits, sent [`ROWS`] at a time, one statement over arrays
//! (`unnest`) each: a round trip per row is what a 10,000-unit transfer (or a fill of
//! millions) would wait on.

use super::*;
use crate::holdings::words_of;
use carnac_catalog::rows::management_json;
use carnac_catalog::{GroupRow, ObjectRow, UnitRow};

/// Rows that `commit_ingest` sends in one statement.
pub(crate) const ROWS: usize = 1000;

pub(crate) fn insert_groups(
    tx: &mut Transaction<'_>,
    t: &str,
    op: &str,
    rows: &[GroupRow],
) -> Result<(), CatalogError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = rows.iter().map(|g| g.id.as_str()).collect();
    let xml_ids: Vec<&str> = rows.iter().map(|g| g.xml_id.as_str()).collect();
    tx.execute(
        "INSERT INTO object_groups (tenant, id, operation, xml_id)
         SELECT $1, id, $2, x FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS r(id, x, i)
         ORDER BY i",
        &[&t, &op, &ids, &xml_ids],
    )
    .map_err(storage)?;
    Ok(())
}

pub(crate) fn insert_objects(
    tx: &mut Transaction<'_>,
    t: &str,
    op: &str,
    offers: &[String],
    rows: &[ObjectRow],
) -> Result<(), CatalogError> {
    if rows.is_empty() {
        return Ok(());
    }
    fn column<'a, T>(rows: &'a [ObjectRow], f: impl Fn(&'a ObjectRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    tx.execute(
        "INSERT INTO objects (tenant, id, object_group, operation, xml_id, physical, version, uri,
         size, digest_algorithm, digest, puid, format_name, mime_type, filename)
         SELECT $1, id, g, $2, x, p, v, u, s, da, d, pu, f, m, fi
         FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[],
                     $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                     $15::text[])
              WITH ORDINALITY AS r(id, g, x, p, v, u, s, da, d, pu, f, m, fi, i)
         ORDER BY i",
        &[
            &t,
            &op,
            &column(rows, |o| o.id.as_str()),
            &column(rows, |o| o.group.as_str()),
            &column(rows, |o| o.xml_id.as_str()),
            &column(rows, |o| o.physical),
            &column(rows, |o| o.version.as_deref()),
            &column(rows, |o| o.uri.as_deref()),
            &column(rows, |o| o.size.map(big)),
            &column(rows, |o| o.digest.as_ref().map(|d| d.algorithm.seda_name())),
            &column(rows, |o| o.digest.as_ref().map(|d| d.hex.as_str())),
            &column(rows, |o| o.puid.as_deref()),
            &column(rows, |o| o.format_name.as_deref()),
            &column(rows, |o| o.mime_type.as_deref()),
            &column(rows, |o| o.filename.as_deref()),
        ],
    )
    .map_err(storage)?;
    let stored: Vec<&ObjectRow> = rows.iter().filter(|o| !o.physical).collect();
    if !stored.is_empty() {
        let ids: Vec<&str> = stored.iter().map(|o| o.id.as_str()).collect();
        let sizes: Vec<i64> = stored.iter().map(|o| big(o.size.unwrap_or(0))).collect();
        tx.execute(
            "INSERT INTO copies (tenant, object, offer, blob, size)
             SELECT $1, o, offer, o, s
             FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS r(o, s, i),
                  unnest($4::text[]) WITH ORDINALITY AS f(offer, j)
             ORDER BY i, j",
            &[&t, &ids, &sizes, &offers],
        )
        .map_err(storage)?;
    }
    Ok(())
}

pub(crate) fn insert_units(
    tx: &mut Transaction<'_>,
    t: &str,
    op: &str,
    rows: &[UnitRow],
) -> Result<(), CatalogError> {
    if rows.is_empty() {
        return Ok(());
    }
    fn column<'a, T>(rows: &'a [UnitRow], f: impl Fn(&'a UnitRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    let management = rows
        .iter()
        .map(|u| management_json(&u.management))
        .collect::<Result<Vec<String>, _>>()?;
    let words = column(rows, |u| {
        words_of(
            &u.title,
            u.originating_agency.as_deref(),
            &u.keywords,
            &u.metadata,
        )
    });
    tx.execute(
        &format!(
            "INSERT INTO units (tenant, id, operation, xml_id, title, description_level, start_date,
             end_date, originating_agency, metadata, management, words)
             SELECT $1, id, $2, x, ti, l, sd, ed, a, md, mg, to_tsvector('{}'::regconfig, w)
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::text[], $11::text[], $12::text[])
                  WITH ORDINALITY AS r(id, x, ti, l, sd, ed, a, md, mg, w, i)
             ORDER BY i",
            migrations::TEXT_CONFIG
        ),
        &[
            &t,
            &op,
            &column(rows, |u| u.id.as_str()),
            &column(rows, |u| u.xml_id.as_str()),
            &column(rows, |u| u.title.as_str()),
            &column(rows, |u| u.description_level.as_deref()),
            &column(rows, |u| u.start_date.as_deref()),
            &column(rows, |u| u.end_date.as_deref()),
            &column(rows, |u| u.originating_agency.as_deref()),
            &column(rows, |u| u.metadata.as_str()),
            &management,
            &words,
        ],
    )
    .map_err(storage)?;
    let (mut units, mut keywords) = (Vec::new(), Vec::new());
    for u in rows {
        for k in &u.keywords {
            units.push(u.id.as_str());
            keywords.push(k.as_str());
        }
    }
    if !units.is_empty() {
        tx.execute(
            "INSERT INTO unit_keywords (tenant, unit, keyword)
             SELECT $1, u, k FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS r(u, k, i)
             ORDER BY i",
            &[&t, &units, &keywords],
        )
        .map_err(storage)?;
    }
    #[derive(Default)]
    struct Rules<'a> {
        unit: Vec<&'a str>,
        category: Vec<&'a str>,
        rule: Vec<&'a str>,
        start: Vec<Option<&'a str>>,
        end: Vec<Option<&'a str>>,
    }
    let mut rules = Rules::default();
    for u in rows {
        for (category, r) in u.management.rules() {
            rules.unit.push(u.id.as_str());
            rules.category.push(category.as_str());
            rules.rule.push(r.rule.as_str());
            rules.start.push(r.start_date.as_deref());
            rules.end.push(r.end_date.as_deref());
        }
    }
    if !rules.unit.is_empty() {
        tx.execute(
            "INSERT INTO unit_rules (tenant, unit, category, rule, start_date, end_date)
             SELECT $1, u, c, r, s, e
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                  WITH ORDINALITY AS x(u, c, r, s, e, i)
             ORDER BY i",
            &[
                &t,
                &rules.unit,
                &rules.category,
                &rules.rule,
                &rules.start,
                &rules.end,
            ],
        )
        .map_err(storage)?;
    }
    let (mut units, mut groups) = (Vec::new(), Vec::new());
    for u in rows {
        for g in &u.object_groups {
            units.push(u.id.as_str());
            groups.push(g.as_str());
        }
    }
    if !units.is_empty() {
        tx.execute(
            "INSERT INTO unit_object_groups (tenant, unit, object_group)
             SELECT $1, u, g FROM unnest($2::text[], $3::text[]) AS r(u, g) ON CONFLICT DO NOTHING",
            &[&t, &units, &groups],
        )
        .map_err(storage)?;
    }
    Ok(())
}
