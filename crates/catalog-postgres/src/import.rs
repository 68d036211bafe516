//! Moving an embedded catalog (SQLite) into an empty PostgreSQL one, table by table, then
//! proving the copy: the same number of rows in every table, each tenant's journal chain
//! whole on PostgreSQL and ending on the same hash, the same seals.

use super::*;
use carnac_catalog::JournalStore;
use carnac_model::journal::ChainVerifier;
use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

/// The catalog's tables, in an order that satisfies their references. `units` is read apart
/// (its words are computed on the way); the SQLite catalog's search tables (FTS5, facets)
/// have no counterpart.
const TABLES: &[&str] = &[
    "tenants",
    "accounts",
    "account_tenants",
    "account_agencies",
    "api_tokens",
    "account_certificates",
    "referentials",
    "operations",
    "operation_replies",
    "object_groups",
    "objects",
    "copies",
    "units",
    "unit_parents",
    "unit_keywords",
    "unit_rules",
    "unit_object_groups",
    "unit_counts",
    "journal",
    "journal_subjects",
    "journal_seals",
    "evidence_trees",
    "evidence_object_leaves",
    "evidence_renewals",
    "transfer_queue",
    "intake_messages",
    "acknowledgements",
    "unit_management_history",
    "unit_metadata_history",
    "eliminations",
    "elimination_units",
    "elimination_purges",
    "tombstones",
    "tombstone_objects",
    "deliveries",
    "web_sessions",
];

/// What was copied: rows per table, in the order copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub tables: Vec<(String, u64)>,
    /// Tenants whose journal was checked, with their number of events and seals.
    pub journals: Vec<(String, u64, u64)>,
}

fn sqlite_error(e: rusqlite::Error) -> CatalogError {
    CatalogError::storage_in("reading the embedded catalog", e)
}

/// A SQLite value as the parameter of a PostgreSQL column of type `ty`.
fn param(
    v: Value,
    ty: &Type,
    table: &str,
    column: &str,
) -> Result<Box<dyn ToSql + Sync>, CatalogError> {
    let wrong = || {
        CatalogError::Corruption(format!(
            "{table}.{column}: a value that does not fit its PostgreSQL type {ty}"
        ))
    };
    Ok(match (v, ty) {
        (Value::Null, &Type::BOOL) => Box::new(None::<bool>),
        (Value::Null, &Type::INT8) => Box::new(None::<i64>),
        (Value::Null, &Type::BYTEA) => Box::new(None::<Vec<u8>>),
        (Value::Null, _) => Box::new(None::<String>),
        (Value::Integer(i), &Type::BOOL) => Box::new(i != 0),
        (Value::Integer(i), &Type::INT8) => Box::new(i),
        (Value::Text(s), &Type::TEXT) => Box::new(s),
        (Value::Blob(b), &Type::BYTEA) => Box::new(b),
        _ => return Err(wrong()),
    })
}

impl PostgresCatalog {
    /// Copies the SQLite catalog at `source` (brought to its latest schema first) into this
    /// catalog, which must hold no tenant, account or session yet, in one transaction;
    /// then checks the copy. `progress` hears each table's name and rows as they are
    /// copied.
    pub fn import_sqlite(
        &self,
        source: &std::path::Path,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<ImportReport, CatalogError> {
        // Opening it migrates it, as any start would.
        let embedded = carnac_catalog::sqlite::SqliteCatalog::open(source)?;
        let sqlite = rusqlite::Connection::open_with_flags(
            source,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(sqlite_error)?;
        let mut report = ImportReport::default();
        self.write(None, |tx| {
            let used: i64 = tx
                .query_one(
                    "SELECT (SELECT COUNT(*) FROM tenants) + (SELECT COUNT(*) FROM accounts)",
                    &[],
                )
                .map_err(storage)?
                .get(0);
            if used > 0 {
                return Err(CatalogError::Conflict(
                    "the PostgreSQL catalog already holds tenants or accounts: import into an empty one"
                        .into(),
                ));
            }
            for table in TABLES {
                let n = if *table == "units" {
                    copy_units(&sqlite, tx, progress)?
                } else {
                    copy_table(&sqlite, tx, table, progress)?
                };
                report.tables.push(((*table).to_owned(), n));
            }
            Ok(())
        })?;
        self.check_import(&embedded, &sqlite, &mut report)?;
        Ok(report)
    }

    /// The proof of a copy: row counts, each tenant's chain recomputed here and ending
    /// where the source's ends, the same seals.
    fn check_import(
        &self,
        embedded: &carnac_catalog::sqlite::SqliteCatalog,
        sqlite: &rusqlite::Connection,
        report: &mut ImportReport,
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn()?;
        let mut problems = Vec::new();
        for (table, copied) in &report.tables {
            let there: i64 = sqlite
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .map_err(sqlite_error)?;
            let here: i64 = conn
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .map_err(storage)?
                .get(0);
            if here != there || unsigned(here) != *copied {
                problems.push(format!("{table}: {there} rows in the source, {here} here"));
            }
        }
        drop(conn);
        for tenant in carnac_catalog::TenantStore::tenants(self)? {
            let mut chain = ChainVerifier::new();
            self.each_event(&tenant.id, 0, &mut |row| {
                match row {
                    Ok(e) => chain.push(&e),
                    Err(u) => chain.push_unreadable(u.sequence, &u.reason),
                }
                Ok(())
            })?;
            let events = chain.count();
            let head = chain.head().map(str::to_owned);
            for p in chain.finish() {
                problems.push(format!(
                    "journal of tenant {}, event {}: {} ({})",
                    tenant.id, p.sequence, p.message, p.code
                ));
            }
            let source_head = embedded.journal(&tenant.id)?.last().map(|e| e.hash.clone());
            if head != source_head {
                problems.push(format!(
                    "journal of tenant {}: it ends on {head:?} here, on {source_head:?} in the source",
                    tenant.id
                ));
            }
            let seals = self.seals(&tenant.id)?;
            if seals != embedded.seals(&tenant.id)? {
                problems.push(format!("seals of tenant {} differ", tenant.id));
            }
            report
                .journals
                .push((tenant.id.to_string(), events, seals.len() as u64));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError::Corruption(format!(
                "the copy does not match its source: {}",
                problems.join("; ")
            )))
        }
    }
}

/// The columns PostgreSQL's table has that SQLite's fills: all but the generated ones.
fn target_columns(
    tx: &mut Transaction<'_>,
    table: &str,
) -> Result<Vec<(String, Type)>, CatalogError> {
    let statement = tx
        .prepare(&format!("SELECT * FROM {table} LIMIT 0"))
        .map_err(storage)?;
    Ok(statement
        .columns()
        .iter()
        // `unit_seq` is the trigger's to set.
        .filter(|c| !matches!(c.name(), "seq" | "words" | "title_words" | "unit_seq"))
        .map(|c| (c.name().to_owned(), c.type_().clone()))
        .collect())
}

fn copy_table(
    sqlite: &rusqlite::Connection,
    tx: &mut Transaction<'_>,
    table: &str,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<u64, CatalogError> {
    let columns = target_columns(tx, table)?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let insert = tx
        .prepare(&format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        ))
        .map_err(storage)?;
    // In the order SQLite wrote them, which the `seq` columns keep. (WITHOUT ROWID tables
    // keep their key's order.)
    let order = match table {
        "unit_counts" | "journal_subjects" => "",
        _ => " ORDER BY rowid",
    };
    let mut st = sqlite
        .prepare(&format!("SELECT {} FROM {table}{order}", names.join(", ")))
        .map_err(sqlite_error)?;
    let mut rows = st.query([]).map_err(sqlite_error)?;
    let mut n = 0u64;
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        let mut values = Vec::with_capacity(columns.len());
        for (i, (name, ty)) in columns.iter().enumerate() {
            let v: Value = row.get(i).map_err(sqlite_error)?;
            values.push(param(v, ty, table, name)?);
        }
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        tx.execute(&insert, &params).map_err(storage)?;
        n += 1;
        if n.is_multiple_of(10_000) {
            progress(table, n);
        }
    }
    progress(table, n);
    Ok(n)
}

/// Units, with their words for the text index (title, metadata, agency, keywords).
fn copy_units(
    sqlite: &rusqlite::Connection,
    tx: &mut Transaction<'_>,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<u64, CatalogError> {
    let insert = tx
        .prepare(&format!(
            "INSERT INTO units (tenant, id, operation, xml_id, title, description_level, start_date,
             end_date, originating_agency, metadata, management, words)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, to_tsvector('{}'::regconfig, $12))",
            migrations::TEXT_CONFIG
        ))
        .map_err(storage)?;
    let mut st = sqlite
        .prepare(
            "SELECT tenant, id, operation, xml_id, title, description_level, start_date, end_date,
                    originating_agency, metadata, management,
                    (SELECT group_concat(keyword, char(31)) FROM unit_keywords k
                      WHERE k.tenant = u.tenant AND k.unit = u.id)
             FROM units u ORDER BY rowid",
        )
        .map_err(sqlite_error)?;
    let mut rows = st.query([]).map_err(sqlite_error)?;
    let mut n = 0u64;
    while let Some(r) = rows.next().map_err(sqlite_error)? {
        let text = |i| -> Result<String, CatalogError> { r.get(i).map_err(sqlite_error) };
        let maybe = |i| -> Result<Option<String>, CatalogError> { r.get(i).map_err(sqlite_error) };
        let (title, agency, metadata) = (text(4)?, maybe(8)?, text(9)?);
        let keywords: Vec<String> = maybe(11)?
            .map(|k| k.split('\u{1f}').map(str::to_owned).collect())
            .unwrap_or_default();
        let words = holdings::words_of(&title, agency.as_deref(), &keywords, &metadata);
        tx.execute(
            &insert,
            &[
                &text(0)?,
                &text(1)?,
                &text(2)?,
                &text(3)?,
                &title,
                &maybe(5)?,
                &maybe(6)?,
                &maybe(7)?,
                &agency,
                &metadata,
                &maybe(10)?,
                &words,
            ],
        )
        .map_err(storage)?;
        n += 1;
        if n.is_multiple_of(10_000) {
            progress("units", n);
        }
    }
    progress("units", n);
    Ok(n)
}
