//! Search: PostgreSQL full text on each unit's stored words (French stemming, accents
//! ignored), exact counts and facets from the counts kept at commit.

use super::*;
use carnac_catalog::SearchIndex;
use carnac_catalog::rows::facets;
use carnac_catalog::search::{Interrupt, SearchOrder, UnitPage, UnitQuery, UnitSummary, words};
use postgres::types::ToSql;
use std::collections::HashMap;

/// How many matches a search counts, facets and sorts exactly, and how deep it pages (as
/// the SQLite catalog: beyond, a word in half the catalog costs what a word in two thousand
/// units costs).
pub const SEARCH_WINDOW: u64 = 2_000;

/// A tsquery requiring every word of `text`, each parsed by the catalog's configuration
/// (so that no character typed is read as query syntax); `None` without any word.
fn all_words(text: &str, args: &mut Vec<Box<dyn ToSql + Sync>>) -> Option<String> {
    let parts: Vec<String> = words(text)
        .into_iter()
        .map(|w| {
            args.push(Box::new(w.to_owned()));
            format!(
                "plainto_tsquery('{}'::regconfig, ${})",
                migrations::TEXT_CONFIG,
                args.len()
            )
        })
        .collect();
    (!parts.is_empty()).then(|| format!("({})", parts.join(" && ")))
}

struct Hit {
    seq: i64,
    rank: f32,
    summary: UnitSummary,
    year: Option<String>,
}

fn summary_of(r: &postgres::Row, from: usize) -> Result<UnitSummary, CatalogError> {
    Ok(UnitSummary {
        id: parse_id("unit id", r.get(from))?,
        title: r.get(from + 1),
        description_level: r.get(from + 2),
        start_date: r.get(from + 3),
        end_date: r.get(from + 4),
        originating_agency: r.get(from + 5),
    })
}

const SUMMARY_COLUMNS: &str =
    "u.id, u.title, u.description_level, u.start_date, u.end_date, u.originating_agency";

/// How often a running search looks whether it is still wanted.
const WATCH: std::time::Duration = std::time::Duration::from_millis(20);

fn interrupted(interrupt: &Interrupt) -> CatalogError {
    CatalogError::Interrupted(interrupt.reason().into())
}

impl PostgresCatalog {
    fn search_in(
        &self,
        tx: &mut Transaction<'_>,
        tenant: &TenantId,
        q: &UnitQuery,
    ) -> Result<UnitPage, CatalogError> {
        let t = tenant.as_str();
        let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(t.to_owned())];
        let text = q.text.as_deref().and_then(|s| all_words(s, &mut args));
        let title = q.title.as_deref().and_then(|s| all_words(s, &mut args));
        let ranked = text.is_some() || title.is_some();
        // No criterion but perhaps an agency: the counts kept at commit give the exact total
        // and facets at once, and beyond the window the page is read straight from an index.
        let counted = !ranked
            && q.keyword.is_none()
            && q.from.is_none()
            && q.to.is_none()
            && q.agency.as_deref() != Some("");
        if counted {
            let rows = match &q.agency {
                None => tx.query(
                    "SELECT agency, year, n FROM unit_counts WHERE tenant = $1 AND n > 0 ORDER BY agency",
                    &[&t],
                ),
                Some(a) => tx.query(
                    "SELECT agency, year, n FROM unit_counts
                     WHERE tenant = $1 AND agency = $2 AND n > 0 ORDER BY agency",
                    &[&t, a],
                ),
            }
            .map_err(storage)?;
            let mut by_agency: Vec<(String, u64)> = Vec::new();
            let mut by_year: Vec<(String, u64)> = Vec::new();
            let mut total = 0u64;
            for r in &rows {
                let (agency, year): (&str, &str) = (r.get(0), r.get(1));
                let n = unsigned(r.get(2));
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
            if total > SEARCH_WINDOW {
                let end = q.offset.saturating_add(q.limit).min(SEARCH_WINDOW);
                let limit = big(end.saturating_sub(q.offset));
                let offset = big(q.offset.min(SEARCH_WINDOW));
                let page = match &q.agency {
                    None => tx.query(
                        &format!(
                            "SELECT {SUMMARY_COLUMNS} FROM units u WHERE tenant = $1
                             ORDER BY id LIMIT $2 OFFSET $3"
                        ),
                        &[&t, &limit, &offset],
                    ),
                    Some(agency) => tx.query(
                        &format!(
                            "SELECT {SUMMARY_COLUMNS} FROM units u
                             WHERE tenant = $1 AND originating_agency = $2
                             ORDER BY seq LIMIT $3 OFFSET $4"
                        ),
                        &[&t, agency, &limit, &offset],
                    ),
                }
                .map_err(storage)?;
                return Ok(UnitPage {
                    total,
                    total_exact: true,
                    order: if q.agency.is_none() {
                        SearchOrder::Identifier
                    } else {
                        SearchOrder::Index
                    },
                    units: page
                        .iter()
                        .map(|r| summary_of(r, 0))
                        .collect::<Result<_, _>>()?,
                    agencies: facets(by_agency.iter().map(|(v, n)| (v.as_str(), *n)), true),
                    years: facets(by_year.iter().map(|(v, n)| (v.as_str(), *n)), false),
                });
            }
        }
        let mut conditions = vec!["u.tenant = $1".to_owned()];
        let mut rank = "0::real".to_owned();
        if let Some(query) = &text {
            conditions.push(format!("u.words @@ {query}"));
            rank = format!("ts_rank(u.words, {query})");
        }
        if let Some(query) = &title {
            conditions.push(format!("u.title_words @@ {query}"));
            if text.is_none() {
                rank = format!("ts_rank(u.title_words, {query})");
            }
        }
        if let Some(a) = &q.agency {
            args.push(Box::new(a.clone()));
            conditions.push(format!("u.originating_agency = ${}", args.len()));
        }
        if let Some(k) = &q.keyword {
            args.push(Box::new(k.clone()));
            conditions.push(format!(
                "u.seq IN (SELECT k.unit_seq FROM unit_keywords k WHERE k.tenant = $1
                           AND k.keyword = ${})",
                args.len()
            ));
        }
        if let Some(d) = &q.from {
            args.push(Box::new(d.clone()));
            conditions.push(format!(
                "COALESCE(u.end_date, u.start_date) >= ${}",
                args.len()
            ));
        }
        if let Some(d) = &q.to {
            // A unit without a start date has no known beginning, and is not in a search
            // bounded by `to`.
            args.push(Box::new(d.clone()));
            conditions.push(format!("u.start_date <= ${}", args.len()));
        }
        // The first SEARCH_WINDOW + 1 matches in ingest order: counted, faceted and sorted
        // here when they are all of them; beyond, the count stops there, the order is the
        // ingest's and there are no facets.
        let dates_alone = !ranked && q.agency.is_none() && q.keyword.is_none();
        let sql = if dates_alone {
            // The matches' places first, from the index that holds the dates (no table
            // read for the units passed over), then those units.
            format!(
                "SELECT u.seq, {rank}, substr(u.start_date, 1, 4), {SUMMARY_COLUMNS}
                 FROM units u WHERE u.seq IN
                   (SELECT u.seq FROM units u WHERE {} ORDER BY u.seq LIMIT {})
                 ORDER BY u.seq",
                conditions.join(" AND "),
                SEARCH_WINDOW + 1
            )
        } else {
            format!(
                "SELECT u.seq, {rank}, substr(u.start_date, 1, 4), {SUMMARY_COLUMNS}
                 FROM units u WHERE {} ORDER BY u.seq LIMIT {}",
                conditions.join(" AND "),
                SEARCH_WINDOW + 1
            )
        };
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let rows = tx.query(&sql, &params).map_err(storage)?;
        let mut hits = rows
            .iter()
            .map(|r| {
                Ok(Hit {
                    seq: r.get(0),
                    rank: r.get(1),
                    year: r.get(2),
                    summary: summary_of(r, 3)?,
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let exact = hits.len() as u64 <= SEARCH_WINDOW;
        hits.truncate(SEARCH_WINDOW as usize);
        let (mut by_agency, mut by_year): (HashMap<&str, u64>, HashMap<&str, u64>) =
            Default::default();
        if exact {
            for h in &hits {
                if let Some(a) = h.summary.originating_agency.as_deref() {
                    *by_agency.entry(a).or_default() += 1;
                }
                if let Some(y) = h.year.as_deref() {
                    *by_year.entry(y).or_default() += 1;
                }
            }
        }
        let agencies = facets(by_agency.into_iter(), true);
        let years = facets(by_year.into_iter(), false);
        let total = hits.len() as u64;
        let order = match (exact, ranked) {
            (true, true) => {
                hits.sort_by(|a, b| b.rank.total_cmp(&a.rank).then(a.seq.cmp(&b.seq)));
                SearchOrder::Relevance
            }
            (true, false) => {
                hits.sort_by(|a, b| {
                    a.summary
                        .title
                        .cmp(&b.summary.title)
                        .then_with(|| a.summary.id.as_str().cmp(b.summary.id.as_str()))
                });
                SearchOrder::Title
            }
            (false, true) => SearchOrder::Ingest,
            (false, false) => SearchOrder::Index,
        };
        let units = hits
            .into_iter()
            .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(q.limit).unwrap_or(usize::MAX))
            .map(|h| h.summary)
            .collect();
        Ok(UnitPage {
            total,
            total_exact: exact,
            order,
            units,
            agencies,
            years,
        })
    }
}

impl SearchIndex for PostgresCatalog {
    fn search_window(&self) -> u64 {
        SEARCH_WINDOW
    }

    fn search_units(
        &self,
        tenant: &TenantId,
        q: &UnitQuery,
        interrupt: &Interrupt,
    ) -> Result<UnitPage, CatalogError> {
        if interrupt.is_due() {
            return Err(interrupted(interrupt));
        }
        let mut conn = self.conn()?;
        let mut tx = conn
            .build_transaction()
            .read_only(true)
            .start()
            .map_err(storage)?;
        // A search is a short query: compiling it (JIT, 30 ms at 10,000,000 units) would
        // cost more than it saves.
        tx.batch_execute("SET LOCAL jit = off").map_err(storage)?;
        // The time limit is the server's to keep: past it, the statement is cancelled.
        if let Some(left) = interrupt.time_left() {
            let ms = left.as_millis().clamp(1, i32::MAX as u128);
            tx.batch_execute(&format!("SET LOCAL statement_timeout = {ms}"))
                .map_err(storage)?;
        }
        // Who asked may go, or the server stop, while the statement runs: a watcher asks the
        // server to cancel it then (PostgreSQL's cancel request, on a connection of its
        // own), where the deadline alone is the statement timeout's.
        let cancel = tx.cancel_token();
        let (searching, ended) = std::sync::mpsc::channel::<()>();
        let result = std::thread::scope(|scope| {
            scope.spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    ended.recv_timeout(WATCH)
                {
                    if interrupt.is_due() {
                        if let Err(e) = cancel.cancel_query(self.tls.clone()) {
                            tracing::warn!(error = %e, "cancelling a search");
                        }
                        return;
                    }
                }
            });
            let result = self.search_in(&mut tx, tenant, q);
            drop(searching);
            result
        });
        match result {
            Err(_) if interrupt.is_due() => Err(interrupted(interrupt)),
            other => other,
        }
    }
}
