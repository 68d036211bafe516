//! The schema, in numbered SQL files run in order; `schema_migrations` lists those run. A
//! file is never changed once released: a change is a new file. Migrations run under an
//! advisory lock, so that nodes starting together migrate once.

use super::*;

/// Schema migrations, in order; the index + 1 is the version each leads to.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_search_at_scale.sql"),
];

/// The text search configuration of units' words (made by the first migration, in the
/// catalog's schema).
pub(crate) const TEXT_CONFIG: &str = "carnac_french";

pub(crate) fn migrate(c: &PostgresCatalog) -> Result<(), CatalogError> {
    let mut conn = c.conn()?;
    conn.execute(
        "SELECT pg_advisory_lock($1, hashtext($2))",
        &[&MIGRATION_CLASS, &c.schema],
    )
    .map_err(storage)?;
    let result = run(&mut conn, &c.schema);
    let unlocked = conn.execute(
        "SELECT pg_advisory_unlock($1, hashtext($2))",
        &[&MIGRATION_CLASS, &c.schema],
    );
    result?;
    unlocked.map_err(storage)?;
    Ok(())
}

fn run(conn: &mut postgres::Client, schema: &str) -> Result<(), CatalogError> {
    conn.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
             version BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );"
    ))
    .map_err(storage)?;
    let done: i64 = conn
        .query_one(
            &format!("SELECT COALESCE(MAX(version), 0) FROM {schema}.schema_migrations"),
            &[],
        )
        .map_err(storage)?
        .get(0);
    let known = MIGRATIONS.len() as i64;
    if done > known {
        return Err(CatalogError::Corruption(format!(
            "the catalog has schema version {done}, newer than this program knows ({known})"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        let mut tx = conn.transaction().map_err(storage)?;
        if i == 0 {
            text_search_setup(&mut tx, schema)?;
        }
        let sql = sql.replace("{text_config}", &format!("{schema}.{TEXT_CONFIG}"));
        tx.batch_execute(&sql).map_err(|e| {
            CatalogError::storage_in(&format!("migration {} of the catalog", i + 1), e)
        })?;
        tx.execute(
            &format!("INSERT INTO {schema}.schema_migrations (version) VALUES ($1)"),
            &[&((i + 1) as i64)],
        )
        .map_err(storage)?;
        tx.commit().map_err(storage)?;
    }
    Ok(())
}

/// The extensions search needs (both trusted: a database owner installs them) and the
/// configuration of units' words: `french` with `unaccent` before the stemmer, so that
/// "délibération" and "deliberation" are one word. `unaccent()` itself cannot go in an index
/// expression (it is not immutable); as a dictionary of the configuration it can.
fn text_search_setup(tx: &mut Transaction<'_>, schema: &str) -> Result<(), CatalogError> {
    for extension in ["unaccent", "btree_gin"] {
        let present = tx
            .query_opt(
                "SELECT 1 FROM pg_extension WHERE extname = $1",
                &[&extension],
            )
            .map_err(storage)?
            .is_some();
        if !present {
            tx.batch_execute(&format!(
                "CREATE EXTENSION IF NOT EXISTS {extension} WITH SCHEMA public"
            ))
            .map_err(|e| {
                CatalogError::storage_in(
                    &format!(
                        "installing the {extension} extension (PostgreSQL's contrib modules, \
                         and an owner of the database, are needed)"
                    ),
                    e,
                )
            })?;
        }
    }
    // Wherever the database's administrator put it.
    let dictionary: String = tx
        .query_one(
            "SELECT quote_ident(n.nspname) || '.unaccent' FROM pg_ts_dict d
             JOIN pg_namespace n ON n.oid = d.dictnamespace WHERE d.dictname = 'unaccent'
             LIMIT 1",
            &[],
        )
        .map_err(storage)?
        .get(0);
    tx.batch_execute(&format!(
        "CREATE TEXT SEARCH CONFIGURATION {schema}.{TEXT_CONFIG} (COPY = pg_catalog.french);
         ALTER TEXT SEARCH CONFIGURATION {schema}.{TEXT_CONFIG}
             ALTER MAPPING FOR hword, hword_part, word WITH {dictionary}, pg_catalog.french_stem;"
    ))
    .map_err(storage)
}
