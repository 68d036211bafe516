//! Search: one FTS5 table per tenant (`text_table`), counts and facets kept beside the units.

use super::*;

/// The free-text index of a tenant's units (FTS5; rowid = the unit's rowid): title, body
/// (description, keywords and every other word of the metadata) and exact tags (agency,
/// keywords). Named by the tenant's identifier in hexadecimal, as SQLite's names ignore case
/// where identifiers do not, and identifiers may hold `-`.
pub(super) fn text_table(tenant: &str) -> String {
    let mut name = String::with_capacity(10 + 2 * tenant.len());
    name.push_str("unit_text_");
    for b in tenant.bytes() {
        name.push_str(&format!("{b:02x}"));
    }
    name
}

/// Makes the tenant's free-text index if it is not there yet; in the caller's transaction.
pub(super) fn create_text_table(tx: &Transaction<'_>, tenant: &str) -> Result<(), CatalogError> {
    tx.execute_batch(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS {} USING fts5(title, body, tags, tokenize = 'unicode61 remove_diacritics 2');",
        text_table(tenant)
    ))
    .map_err(storage)
}

/// How many matches a search counts, facets and sorts exactly, and how deep it pages: beyond,
/// the count says "at least", there are no facets, the order is the index's and pages stop
/// (narrow the search), so that a word in half the catalog costs what a word
/// in two thousand units costs. (A search with no criterion but an agency is counted exactly
/// whatever its size, from counts kept at commit.) Measured at a million units: with 10,000,
/// a common word cost 20 ms of the catalog's time and 2 cores served 70 such searches a
/// second over HTTP; with 2,000, 2.5 ms and 220 to 320 a second (470 to 720 since searches
/// keep their snapshot and page cache, ARCHITECTURE.md).
pub const SEARCH_WINDOW: u64 = 2_000;
pub(super) const EXACT_UP_TO: u64 = SEARCH_WINDOW;

/// The text index's tag of an originating agency: one token whatever the identifier holds
/// (its bytes in hex), matched exactly.
pub(super) fn agency_tag(agency: &str) -> String {
    format!("ag{}", hex::encode(agency.as_bytes()))
}

/// The text index's tag of a keyword, matched exactly as the keyword filter is.
pub(super) fn keyword_tag(keyword: &str) -> String {
    format!("kw{}", hex::encode(keyword.as_bytes()))
}

/// An FTS5 query from what a person typed: each word becomes a quoted term (so no character
/// is ever read as FTS syntax), all of them required, optionally within one column.
pub(super) fn fts_query(text: &str, column: Option<&str>) -> Option<String> {
    let terms: Vec<String> = crate::search::words(text)
        .into_iter()
        .map(|w| match column {
            Some(c) => format!("{c} : \"{w}\""),
            None => format!("\"{w}\""),
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// The free-text document of a unit: its title, and its agency, keywords and metadata words.
pub(super) fn index_unit(
    st: &mut rusqlite::Statement<'_>,
    rowid: i64,
    title: &str,
    agency: Option<&str>,
    keywords: &[String],
    metadata: &str,
) -> Result<(), CatalogError> {
    let mut body = crate::search::searchable_text(metadata);
    for extra in agency
        .into_iter()
        .chain(keywords.iter().map(String::as_str))
    {
        body.push(' ');
        body.push_str(extra);
    }
    let mut tags = Vec::with_capacity(1 + keywords.len());
    tags.extend(agency.map(agency_tag));
    tags.extend(keywords.iter().map(|k| keyword_tag(k)));
    st.execute(params![rowid, title, body, tags.join(" ")])
        .map_err(storage)?;
    Ok(())
}

/// Indexes every unit already in the catalog, each in its tenant's free-text table (the
/// migration that made one table per tenant).
pub(super) fn index_existing_units(tx: &Transaction<'_>) -> Result<(), CatalogError> {
    let tenants: Vec<String> = tx
        .prepare("SELECT DISTINCT tenant FROM units")
        .map_err(storage)?
        .query_map([], |r| r.get(0))
        .map_err(storage)?
        .collect::<Result<_, _>>()
        .map_err(storage)?;
    for tenant in tenants {
        index_tenant_units(tx, &tenant)?;
    }
    Ok(())
}

/// Indexes the units of one tenant whose free-text table was just made.
pub(super) fn index_tenant_units(tx: &Transaction<'_>, tenant: &str) -> Result<(), CatalogError> {
    create_text_table(tx, tenant)?;
    let mut st = tx
        .prepare(
            "SELECT u.rowid, u.title, u.originating_agency, u.metadata,
                    (SELECT group_concat(keyword, char(31)) FROM unit_keywords k WHERE k.tenant = u.tenant AND k.unit = u.id)
             FROM units u WHERE u.tenant = ?1",
        )
        .map_err(storage)?;
    let mut insert = tx
        .prepare(&format!(
            "INSERT INTO {} (rowid, title, body, tags) VALUES (?1, ?2, ?3, ?4)",
            text_table(tenant)
        ))
        .map_err(storage)?;
    let mut rows = st.query([tenant]).map_err(storage)?;
    while let Some(r) = rows.next().map_err(storage)? {
        let keywords: Option<String> = r.get(4).map_err(storage)?;
        let keywords: Vec<String> = keywords
            .map(|k| k.split('\u{1f}').map(str::to_owned).collect())
            .unwrap_or_default();
        index_unit(
            &mut insert,
            r.get(0).map_err(storage)?,
            &r.get::<_, String>(1).map_err(storage)?,
            r.get::<_, Option<String>>(2).map_err(storage)?.as_deref(),
            &keywords,
            &r.get::<_, String>(3).map_err(storage)?,
        )?;
    }
    Ok(())
}

/// The summaries of a page of units, read by rowid in the page's order.
/// The page's units, read by rowid. Each must be the tenant's: a rowid that is not (a text
/// index out of step with the units) is an error, never another tenant's unit shown.
pub(super) fn summaries(
    conn: &Connection,
    tenant: &TenantId,
    page: &[i64],
) -> Result<Vec<UnitSummary>, CatalogError> {
    let mut one = conn
        .prepare_cached(
            "SELECT id, title, description_level, start_date, end_date, originating_agency
             FROM units WHERE rowid = ?1 AND tenant = ?2",
        )
        .map_err(storage)?;
    page.iter()
        .map(|rowid| {
            let (id, title, description_level, start_date, end_date, originating_agency) = one
                .query_row(params![rowid, tenant.as_str()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .optional()
                .map_err(storage)?
                .ok_or_else(|| {
                    CatalogError::Corruption(format!(
                        "a search of tenant {tenant} found unit row {rowid}, which is not one of its units"
                    ))
                })?;
            Ok(UnitSummary {
                id: parse_id("unit id", id)?,
                title,
                description_level,
                start_date,
                end_date,
                originating_agency,
            })
        })
        .collect()
}

impl SqliteCatalog {
    /// [`SearchIndex::search_units`] on a connection given.
    pub(super) fn search_in(
        &self,
        conn: &Connection,
        tenant: &TenantId,
        q: &UnitQuery,
    ) -> Result<UnitPage, CatalogError> {
        use rusqlite::types::Value;
        let mut from = "units u".to_owned();
        // With words, the full-text index drives (CROSS JOIN fixes the order): probing it
        // once per unit of the tenant would run the text query once per unit.
        let mut conditions = vec!["u.tenant = ?".to_owned()];
        let mut args: Vec<Value> = vec![tenant.as_str().to_owned().into()];
        let text = q.text.as_deref().and_then(|t| fts_query(t, None));
        let title = q.title.as_deref().and_then(|t| fts_query(t, Some("title")));
        let mut fts: Vec<String> = text.into_iter().chain(title).collect();
        let ranked = !fts.is_empty();
        // No criterion but perhaps an agency: the counts kept at commit give the exact total
        // and facets at once, and when the matches are more than the window sorts, the page
        // is read straight from an index.
        let counted = !ranked
            && q.keyword.is_none()
            && q.from.is_none()
            && q.to.is_none()
            && q.agency.as_deref() != Some("");
        if counted {
            // A tenant has a row per agency and year (thousands): summed as they come, in the
            // key's order (agency first), with a string made only for each new agency or year
            // (a string and a map entry per row cost more than the rest of the request).
            let agency_only = if q.agency.is_some() {
                " AND agency = ?2"
            } else {
                ""
            };
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT agency, year, n FROM unit_counts
                     WHERE tenant = ?1{agency_only} AND n > 0 ORDER BY agency"
                ))
                .map_err(storage)?;
            let tenant_arg: &dyn rusqlite::ToSql = &tenant.as_str();
            let args: Vec<&dyn rusqlite::ToSql> = match &q.agency {
                Some(a) => vec![tenant_arg, a],
                None => vec![tenant_arg],
            };
            let mut rows = st.query(args.as_slice()).map_err(storage)?;
            let mut by_agency: Vec<(String, u64)> = Vec::new();
            let mut by_year: Vec<(String, u64)> = Vec::new();
            let mut total = 0u64;
            while let Some(r) = rows.next().map_err(storage)? {
                let text = |i| -> Result<&str, CatalogError> {
                    r.get_ref(i)
                        .map_err(storage)?
                        .as_str()
                        .map_err(|e| corrupt("unit count", e))
                };
                let (agency, year) = (text(0)?, text(1)?);
                let n = r.get::<_, i64>(2).map_err(storage)?.max(0) as u64;
                total += n;
                // '' stands for none: counted in the total, not a facet.
                if !agency.is_empty() {
                    match by_agency.last_mut() {
                        Some((a, c)) if a == agency => *c += n,
                        _ => by_agency.push((agency.to_owned(), n)),
                    }
                }
                if !year.is_empty() {
                    match by_year.binary_search_by(|(y, _)| y.as_str().cmp(year)) {
                        Ok(i) => by_year[i].1 += n,
                        Err(i) => by_year.insert(i, (year.to_owned(), n)),
                    }
                }
            }
            drop(rows);
            if total > EXACT_UP_TO {
                let end = q.offset.saturating_add(q.limit).min(EXACT_UP_TO);
                let limit = end.saturating_sub(q.offset) as i64;
                let offset = q.offset.min(EXACT_UP_TO) as i64;
                let page: Vec<i64> = match &q.agency {
                    None => conn
                        .prepare_cached(
                            "SELECT rowid FROM units WHERE tenant = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
                        )
                        .map_err(storage)?
                        .query_map(params![tenant.as_str(), limit, offset], |r| r.get(0))
                        .map_err(storage)?
                        .collect::<Result<_, _>>()
                        .map_err(storage)?,
                    Some(agency) => conn
                        .prepare_cached(
                            "SELECT rowid FROM units INDEXED BY units_agency
                             WHERE tenant = ?1 AND originating_agency = ?2
                             ORDER BY rowid LIMIT ?3 OFFSET ?4",
                        )
                        .map_err(storage)?
                        .query_map(params![tenant.as_str(), agency, limit, offset], |r| r.get(0))
                        .map_err(storage)?
                        .collect::<Result<_, _>>()
                        .map_err(storage)?,
                };
                return Ok(UnitPage {
                    total,
                    total_exact: true,
                    order: if q.agency.is_none() {
                        SearchOrder::Identifier
                    } else {
                        SearchOrder::Index
                    },
                    units: summaries(conn, tenant, &page)?,
                    agencies: facets(by_agency.iter().map(|(v, n)| (v.as_str(), *n)), true),
                    years: facets(by_year.iter().map(|(v, n)| (v.as_str(), *n)), false),
                });
            }
        }
        // The agency and keyword are exact tags of the text index: the index finds their
        // units from its posting lists (and intersects them with words) faster than any
        // join could.
        if let Some(a) = &q.agency {
            fts.push(format!("tags : \"{}\"", agency_tag(a)));
        }
        if let Some(k) = &q.keyword {
            fts.push(format!("tags : \"{}\"", keyword_tag(k)));
        }
        let indexed = !fts.is_empty();
        let text = text_table(tenant.as_str());
        // What the first pass asks the text index when it alone decides (no dates): its
        // matches are the tenant's by construction, so none is looked up.
        let mut text_only: Option<(String, String, Vec<Value>)> = None;
        if indexed {
            let query: Value = fts.join(" AND ").into();
            if q.from.is_none() && q.to.is_none() {
                text_only = Some((
                    format!("{text} f"),
                    format!("f.{text} MATCH ?"),
                    vec![query.clone()],
                ));
            }
            // `u` is then the narrow copy of what the conditions and facets read; its tenant
            // is checked still, though the index holds no other tenant's units.
            from = format!("{text} f CROSS JOIN unit_facets u ON u.unit = f.rowid");
            conditions.push(format!("f.{text} MATCH ?"));
            args.push(query);
        } else if q.from.is_some() {
            // By dates alone, the index on the last known day finds the matches first when
            // `from` is given: every unit it reaches from there up to `to` matches, while
            // the index on start dates would first walk every unit ended before `from`.
            from = "units u INDEXED BY units_reach".to_owned();
        }
        if let Some(d) = &q.from {
            conditions.push("COALESCE(u.end_date, u.start_date) >= ?".into());
            args.push(d.clone().into());
        }
        if let Some(d) = &q.to {
            // On the (tenant, start_date) index: a unit without a start date has no known
            // beginning, and is not in a search bounded by `to`.
            conditions.push("u.start_date <= ?".into());
            args.push(d.clone().into());
        }
        let matching = conditions.join(" AND ");
        // One evaluation of the query for count, facets and (exact) order: the first
        // EXACT_UP_TO + 1 matches, a few small columns each, sorted and counted here. Beyond
        // EXACT_UP_TO, the count stops there, the order is the index's and there are no
        // facets (those of the first matches in index order would describe the oldest
        // transfers, not the matches), so that a word in half the catalog costs what a word
        // in ten thousand units costs.
        struct Hit {
            rowid: i64,
            rank: f64,
            id: String,
            title: String,
        }
        // The facets are counted as the rows come, on their text as SQLite holds it: no
        // string is made per match (allocations were a tenth of a search's time).
        #[derive(Default)]
        struct Counts(HashMap<String, u64>);
        impl Counts {
            fn add(&mut self, value: Option<&str>) {
                if let Some(v) = value {
                    match self.0.get_mut(v) {
                        Some(n) => *n += 1,
                        None => {
                            self.0.insert(v.to_owned(), 1);
                        }
                    }
                }
            }
        }
        // Without any condition but the tenant, the primary key gives identifier order for
        // free; otherwise the order is that of the index the query runs on.
        let unfiltered = conditions.len() == 1;
        let natural = if unfiltered { "ORDER BY u.id" } else { "" };
        // Relevance (from the words only: the tags weigh nothing) costs as much as the rest of
        // the pass, and titles are read only to sort by them: both are read only when the order
        // will be exact. A first pass finds that out from rowids alone; when the matches fit
        // the window, a second reads them whole. (Asking the text index first, whose matches
        // in any tenant bound the tenant's, saved the second pass of narrow searches but cost
        // every wide one a third evaluation of its words: the wide ones are the costly ones.)
        let pass = |sorting: bool| -> Result<(Vec<Hit>, Counts, Counts), CatalogError> {
            let rank = if sorting && ranked {
                format!("bm25(f.{text}, 1.0, 1.0, 0.0)")
            } else {
                "0.0".to_owned()
            };
            let (id, title, join) = match (sorting && !ranked, indexed) {
                (false, _) => ("''", "''", ""),
                (true, false) => ("u.id", "u.title", ""),
                // Titles from the units themselves, for these (at most EXACT_UP_TO) matches.
                (true, true) => ("t.id", "t.title", " CROSS JOIN units t ON t.rowid = u.unit"),
            };
            let (columns, from, matching, args) = match (&text_only, sorting) {
                (_, true) => (
                    format!(
                        "u.rowid, {rank}, {id}, {title}, u.originating_agency, substr(u.start_date, 1, 4)"
                    ),
                    from.as_str(),
                    matching.as_str(),
                    &args,
                ),
                (Some((from, matching, args)), false) => {
                    ("f.rowid".to_owned(), from.as_str(), matching.as_str(), args)
                }
                (None, false) => (
                    "u.rowid".to_owned(),
                    from.as_str(),
                    matching.as_str(),
                    &args,
                ),
            };
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {columns} FROM {from}{join} WHERE {matching} {natural} LIMIT {}",
                    EXACT_UP_TO + 1
                ))
                .map_err(storage)?;
            let mut rows = st
                .query(rusqlite::params_from_iter(args.iter()))
                .map_err(storage)?;
            let (mut hits, mut agencies, mut years) =
                (Vec::new(), Counts::default(), Counts::default());
            while let Some(r) = rows.next().map_err(storage)? {
                if !sorting {
                    hits.push(Hit {
                        rowid: r.get(0).map_err(storage)?,
                        rank: 0.0,
                        id: String::new(),
                        title: String::new(),
                    });
                    continue;
                }
                hits.push(Hit {
                    rowid: r.get(0).map_err(storage)?,
                    rank: r.get(1).map_err(storage)?,
                    id: r.get(2).map_err(storage)?,
                    title: r.get(3).map_err(storage)?,
                });
                // The window's last match is only there to tell that there are more.
                if hits.len() as u64 <= EXACT_UP_TO {
                    let text = |i| -> Result<Option<&str>, CatalogError> {
                        r.get_ref(i)
                            .map_err(storage)?
                            .as_str_or_null()
                            .map_err(|e| corrupt("unit facet", e))
                    };
                    agencies.add(text(4)?);
                    years.add(text(5)?);
                }
            }
            Ok((hits, agencies, years))
        };
        let (mut hits, mut by_agency, mut by_year) = match pass(false) {
            Ok(found) => found,
            // A tenant's index is made by its first ingest: none yet, no unit yet. Asked only
            // when the search fails, as the schema's table is read row by row (a fifth of a
            // search's time with five hundred tenants).
            Err(e) => {
                let exists = conn
                    .prepare_cached(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    )
                    .map_err(storage)?
                    .exists([&text])
                    .map_err(storage)?;
                if indexed && !exists {
                    return Ok(UnitPage {
                        total: 0,
                        total_exact: true,
                        order: if ranked {
                            SearchOrder::Relevance
                        } else {
                            SearchOrder::Title
                        },
                        units: Vec::new(),
                        agencies: Vec::new(),
                        years: Vec::new(),
                    });
                }
                return Err(e);
            }
        };
        if hits.len() as u64 <= EXACT_UP_TO {
            (hits, by_agency, by_year) = pass(true)?;
        }
        let exact = hits.len() as u64 <= EXACT_UP_TO;
        if !exact {
            by_agency.0.clear();
            by_year.0.clear();
        }
        hits.truncate(EXACT_UP_TO as usize);
        let agencies = facets(by_agency.0.iter().map(|(v, n)| (v.as_str(), *n)), true);
        let years = facets(by_year.0.iter().map(|(v, n)| (v.as_str(), *n)), false);
        let total = hits.len() as u64;
        // Sorted here when exact; beyond, the order the matches came in (pages stop at
        // EXACT_UP_TO). Then the page's rows are read by rowid.
        let order = match (exact, ranked) {
            (true, true) => {
                hits.sort_by(|a, b| a.rank.total_cmp(&b.rank).then(a.rowid.cmp(&b.rowid)));
                SearchOrder::Relevance
            }
            (true, false) => {
                hits.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
                SearchOrder::Title
            }
            (false, true) => SearchOrder::Ingest,
            (false, false) if unfiltered => SearchOrder::Identifier,
            (false, false) => SearchOrder::Index,
        };
        let page: Vec<i64> = hits
            .iter()
            .skip(q.offset.min(usize::MAX as u64) as usize)
            .take(q.limit.min(usize::MAX as u64) as usize)
            .map(|h| h.rowid)
            .collect();
        Ok(UnitPage {
            total,
            total_exact: exact,
            order,
            units: summaries(conn, tenant, &page)?,
            agencies,
            years,
        })
    }
}

impl SearchIndex for SqliteCatalog {
    fn search_window(&self) -> u64 {
        SEARCH_WINDOW
    }

    fn search_units(
        &self,
        tenant: &TenantId,
        q: &UnitQuery,
        interrupt: &Interrupt,
    ) -> Result<UnitPage, CatalogError> {
        let mut conn = self.search_read()?;
        // SQLite calls the handler every thousand steps of a statement; a true answer stops
        // the statement with SQLITE_INTERRUPT.
        let due = interrupt.clone();
        conn.progress_handler(1000, Some(move || due.is_due()));
        let found = self.search_in(&conn, tenant, q);
        conn.progress_handler(1000, None::<fn() -> bool>);
        match found {
            Err(_) if interrupt.is_due() => {
                // Whatever the interrupted statement left, the next search starts afresh.
                conn.end_snapshot();
                Err(CatalogError::Interrupted(interrupt.reason().into()))
            }
            other => other,
        }
    }
}
