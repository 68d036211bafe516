//! The SQLite catalog: one file, WAL, synchronous commits (an acknowledged ingest survives a
//! power cut), schema versioned with forward migrations.
//!
//! One connection behind a mutex: SQLite has one writer anyway, and an ingest's commit is one
//! short transaction at its end, after every byte is stored and checked.

use crate::*;
use carnac_model::journal::{EVENT_FORMAT_VERSION, GENESIS, event_hash};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Schema migrations, in order; the index + 1 is the schema version they lead to.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE referentials (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    operation TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, version)
) STRICT;

CREATE TABLE operations (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('RUNNING', 'DONE')),
    status TEXT CHECK (status IN ('OK', 'WARNING', 'KO')),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    summary TEXT,
    reply TEXT,
    PRIMARY KEY (tenant, id)
) STRICT;
CREATE INDEX operations_running ON operations(state) WHERE state = 'RUNNING';

CREATE TABLE units (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    operation TEXT NOT NULL,
    xml_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description_level TEXT,
    start_date TEXT,
    end_date TEXT,
    originating_agency TEXT,
    metadata TEXT NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;
CREATE INDEX units_operation ON units(tenant, operation);
CREATE INDEX units_title ON units(tenant, title);
CREATE INDEX units_dates ON units(tenant, start_date, end_date);
CREATE INDEX units_agency ON units(tenant, originating_agency);

CREATE TABLE unit_parents (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    parent TEXT NOT NULL,
    PRIMARY KEY (tenant, unit, parent),
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id),
    FOREIGN KEY (tenant, parent) REFERENCES units(tenant, id)
) STRICT;

CREATE TABLE unit_keywords (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    keyword TEXT NOT NULL,
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id)
) STRICT;
CREATE INDEX unit_keywords_keyword ON unit_keywords(tenant, keyword);

CREATE TABLE unit_rules (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    category TEXT NOT NULL,
    rule TEXT NOT NULL,
    start_date TEXT,
    end_date TEXT,
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id)
) STRICT;
CREATE INDEX unit_rules_unit ON unit_rules(tenant, unit);

CREATE TABLE object_groups (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    operation TEXT NOT NULL,
    xml_id TEXT NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;

CREATE TABLE unit_object_groups (
    tenant TEXT NOT NULL,
    unit TEXT NOT NULL,
    object_group TEXT NOT NULL,
    PRIMARY KEY (tenant, unit, object_group),
    FOREIGN KEY (tenant, unit) REFERENCES units(tenant, id),
    FOREIGN KEY (tenant, object_group) REFERENCES object_groups(tenant, id)
) STRICT;

CREATE TABLE objects (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    object_group TEXT NOT NULL,
    operation TEXT NOT NULL,
    xml_id TEXT NOT NULL,
    physical INTEGER NOT NULL,
    version TEXT,
    uri TEXT,
    size INTEGER,
    digest_algorithm TEXT,
    digest TEXT,
    puid TEXT,
    format_name TEXT,
    mime_type TEXT,
    filename TEXT,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, object_group) REFERENCES object_groups(tenant, id),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;
CREATE INDEX objects_operation ON objects(tenant, operation);

CREATE TABLE copies (
    tenant TEXT NOT NULL,
    object TEXT NOT NULL,
    offer TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (tenant, object, offer),
    FOREIGN KEY (tenant, object) REFERENCES objects(tenant, id)
) STRICT;

CREATE TABLE journal (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    sequence INTEGER NOT NULL,
    format_version INTEGER NOT NULL,
    operation TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    time TEXT NOT NULL,
    agent TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (tenant, sequence)
) STRICT;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
"#,
    // Replies in chunks: the ATR of a transfer of 100,000 units weighs some 50 MB, which is
    // neither held in memory to be written nor to be read.
    r#"
CREATE TABLE operation_replies (
    tenant TEXT NOT NULL,
    operation TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    chunk BLOB NOT NULL,
    PRIMARY KEY (tenant, operation, sequence),
    FOREIGN KEY (tenant, operation) REFERENCES operations(tenant, id)
) STRICT;
INSERT INTO operation_replies (tenant, operation, sequence, chunk)
    SELECT tenant, id, 0, CAST(reply AS BLOB) FROM operations WHERE reply IS NOT NULL;
ALTER TABLE operations DROP COLUMN reply;
"#,
    // The hash chain. Events written before it get their links once, at the first start
    // after the migration (`backfill_chain`); after that, an event cannot change at all and
    // cannot be written without its links.
    r#"
ALTER TABLE journal ADD COLUMN previous_hash TEXT;
ALTER TABLE journal ADD COLUMN hash TEXT;
DROP TRIGGER journal_no_update;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
    WHEN OLD.hash IS NOT NULL
      OR NEW.tenant IS NOT OLD.tenant OR NEW.sequence IS NOT OLD.sequence
      OR NEW.format_version IS NOT OLD.format_version OR NEW.operation IS NOT OLD.operation
      OR NEW.kind IS NOT OLD.kind OR NEW.outcome IS NOT OLD.outcome OR NEW.time IS NOT OLD.time
      OR NEW.agent IS NOT OLD.agent OR NEW.detail IS NOT OLD.detail
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_linked BEFORE INSERT ON journal
    WHEN NEW.hash IS NULL OR NEW.previous_hash IS NULL
    BEGIN SELECT RAISE(ABORT, 'a journal event is written with its hash and the previous one'); END;
CREATE INDEX journal_unlinked ON journal(tenant) WHERE hash IS NULL;
"#,
    // Seals of the journal, and evidence records (RFC 4998) as trees linked to files and to
    // the trees that renew them.
    r#"
CREATE TABLE journal_seals (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    merkle_root TEXT NOT NULL,
    previous TEXT NOT NULL,
    sealed TEXT NOT NULL,
    token BLOB NOT NULL,
    stamped_at TEXT NOT NULL,
    tsa TEXT NOT NULL,
    operation TEXT NOT NULL,
    PRIMARY KEY (tenant, last),
    CHECK (first <= last)
) STRICT;
CREATE TRIGGER journal_seals_no_update BEFORE UPDATE ON journal_seals
    BEGIN SELECT RAISE(ABORT, 'seals are append-only'); END;
CREATE TRIGGER journal_seals_no_delete BEFORE DELETE ON journal_seals
    BEGIN SELECT RAISE(ABORT, 'seals are append-only'); END;

CREATE TABLE evidence_trees (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('DEPOSIT', 'TIMESTAMP_RENEWAL', 'HASH_RENEWAL')),
    algorithm TEXT NOT NULL,
    leaves BLOB NOT NULL,
    token BLOB NOT NULL,
    stamped_at TEXT NOT NULL,
    certificate_until TEXT NOT NULL,
    tsa TEXT NOT NULL,
    builtin INTEGER NOT NULL,
    operation TEXT NOT NULL,
    current INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;
CREATE INDEX evidence_trees_current ON evidence_trees(tenant) WHERE current = 1;

CREATE TABLE evidence_object_leaves (
    tenant TEXT NOT NULL,
    object TEXT NOT NULL,
    chain INTEGER NOT NULL,
    tree TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tenant, object, chain),
    FOREIGN KEY (tenant, object) REFERENCES objects(tenant, id),
    FOREIGN KEY (tenant, tree) REFERENCES evidence_trees(tenant, id)
) STRICT;

CREATE TABLE evidence_renewals (
    tenant TEXT NOT NULL,
    tree TEXT NOT NULL,
    renewed_by TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tenant, tree),
    FOREIGN KEY (tenant, tree) REFERENCES evidence_trees(tenant, id),
    FOREIGN KEY (tenant, renewed_by) REFERENCES evidence_trees(tenant, id)
) STRICT;
"#,
    // Accounts, their tenants and their API tokens (SHA-256 of the token: tokens are random
    // 256-bit values, so a fast hash is enough; passwords get Argon2id). Suspended tenants.
    r#"
ALTER TABLE tenants ADD COLUMN suspended_at TEXT;
-- Who started an operation: a producer reads the replies of its own transfers only.
ALTER TABLE operations ADD COLUMN agent TEXT;

CREATE TABLE accounts (
    login TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    password_hash TEXT,
    created_at TEXT NOT NULL,
    disabled_at TEXT
) STRICT;

CREATE TABLE account_tenants (
    login TEXT NOT NULL REFERENCES accounts(login),
    tenant TEXT NOT NULL REFERENCES tenants(id),
    PRIMARY KEY (login, tenant)
) STRICT;

CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES accounts(login),
    created_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX api_tokens_login ON api_tokens(login);
"#,
    // Transfers received over HTTP and waiting for (or in) their ingest. The operation row is
    // made when the ingest starts; the queue row goes when it is done.
    r#"
CREATE TABLE transfer_queue (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    operation TEXT NOT NULL,
    received_at TEXT NOT NULL,
    agent TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (tenant, operation)
) STRICT;
"#,
    // Free text over units (title; description, keywords and every other word of their
    // metadata), rowid = the unit's rowid. Filled for existing units by the migration.
    r#"
CREATE VIRTUAL TABLE unit_text USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
CREATE INDEX unit_parents_parent ON unit_parents(tenant, parent);
"#,
    // TLS client certificates registered to accounts (SHA-256 of the DER certificate).
    r#"
CREATE TABLE account_certificates (
    sha256 TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES accounts(login),
    added_at TEXT NOT NULL
) STRICT;
"#,
    // The as@lae-compatible intake: how a queued transfer came, and the messages of that
    // intake by what their sender knows of them.
    r#"
ALTER TABLE transfer_queue ADD COLUMN intake TEXT NOT NULL DEFAULT 'package';
CREATE TABLE intake_messages (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    origin TEXT NOT NULL,
    message_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    seda_version TEXT NOT NULL,
    acknowledgement TEXT NOT NULL,
    PRIMARY KEY (tenant, origin, message_id)
) STRICT;
"#,
    // Searches by dates reach a unit by its last known day: an index on that expression
    // (the one the search writes) lets `from` start where the matches are.
    r#"
CREATE INDEX units_reach ON units(tenant, COALESCE(end_date, start_date));
"#,
    // The free-text index gets a column of exact tags (agency, keywords) so that a search of
    // words within an agency or keyword intersects inside the index instead of joining every
    // unit the words match. Rebuilt from the units, whose keywords are found by unit (an
    // index they lacked: a unit's details and this rebuild read them so).
    r#"
CREATE INDEX unit_keywords_unit ON unit_keywords(tenant, unit);
DROP TABLE unit_text;
CREATE VIRTUAL TABLE unit_text USING fts5(title, body, tags, tokenize = 'unicode61 remove_diacritics 2');
"#,
    // The acknowledgement (SEDA Acknowledgement) of each transfer: made at receipt by the
    // as@lae intake, when the manifest is read for a package.
    r#"
CREATE TABLE acknowledgements (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    operation TEXT NOT NULL,
    xml TEXT NOT NULL,
    PRIMARY KEY (tenant, operation)
) STRICT;
INSERT INTO acknowledgements (tenant, operation, xml)
    SELECT tenant, operation, acknowledgement FROM intake_messages;
"#,
    // What searches read, without reaching each unit's row:
    // - by dates: agency and start year from the index on the last known day itself;
    // - with no criterion but an agency: `unit_counts`, how many units each tenant has by
    //   agency and start year ('' for none: keys cannot be NULL), exact for a million units
    //   from a few rows;
    // - by words: `unit_facets`, each match's tenant, agency and dates in rows of a few dozen
    //   bytes keyed by the unit's rowid (the text index's matches come in rowid order, so two
    //   thousand fall on a few dozen pages here, not hundreds of pages of whole units).
    // Both are kept in the transaction that changes the units: the ingest's commit adds to
    // them (in bulk), triggers follow a unit removed or changed.
    r#"
DROP INDEX units_reach;
CREATE INDEX units_reach ON units(tenant, COALESCE(end_date, start_date), start_date, originating_agency);
CREATE TABLE unit_counts (
    tenant TEXT NOT NULL,
    agency TEXT NOT NULL,
    year TEXT NOT NULL,
    n INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (tenant, agency, year)
) STRICT, WITHOUT ROWID;
INSERT INTO unit_counts (tenant, agency, year, n)
    SELECT tenant, COALESCE(originating_agency, ''), COALESCE(substr(start_date, 1, 4), ''), COUNT(*)
    FROM units GROUP BY 1, 2, 3;
CREATE TABLE unit_facets (
    unit INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    originating_agency TEXT,
    start_date TEXT,
    end_date TEXT
) STRICT;
INSERT INTO unit_facets (unit, tenant, originating_agency, start_date, end_date)
    SELECT rowid, tenant, originating_agency, start_date, end_date FROM units;
CREATE TRIGGER unit_derived_delete AFTER DELETE ON units BEGIN
    UPDATE unit_counts SET n = n - 1
    WHERE tenant = OLD.tenant AND agency = COALESCE(OLD.originating_agency, '')
      AND year = COALESCE(substr(OLD.start_date, 1, 4), '');
    DELETE FROM unit_facets WHERE unit = OLD.rowid;
END;
CREATE TRIGGER unit_derived_update AFTER UPDATE OF tenant, originating_agency, start_date, end_date ON units BEGIN
    UPDATE unit_counts SET n = n - 1
    WHERE tenant = OLD.tenant AND agency = COALESCE(OLD.originating_agency, '')
      AND year = COALESCE(substr(OLD.start_date, 1, 4), '');
    INSERT INTO unit_counts (tenant, agency, year, n)
    VALUES (NEW.tenant, COALESCE(NEW.originating_agency, ''), COALESCE(substr(NEW.start_date, 1, 4), ''), 1)
    ON CONFLICT (tenant, agency, year) DO UPDATE SET n = n + 1;
    UPDATE unit_facets SET tenant = NEW.tenant, originating_agency = NEW.originating_agency,
        start_date = NEW.start_date, end_date = NEW.end_date
    WHERE unit = OLD.rowid;
END;
"#,
    // One free-text index per tenant (`text_table`), made by the tenant's first ingest and
    // filled here from the units already there: a search walks only its tenant's postings.
    // In one index for all, a word's matches in every tenant were each looked up to find
    // the tenant's, which cost a small tenant what the whole platform's matches cost.
    r#"
DROP TABLE unit_text;
"#,
];

fn insert_queued(
    tx: &rusqlite::Transaction<'_>,
    transfer: &QueuedTransfer,
) -> Result<(), CatalogError> {
    tx.execute(
        "INSERT INTO transfer_queue (tenant, operation, received_at, agent, bytes, intake)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            transfer.tenant.as_str(),
            transfer.operation.as_str(),
            transfer.received_at,
            transfer.agent,
            transfer.bytes as i64,
            transfer.intake.as_str()
        ],
    )
    .map_err(storage)?;
    Ok(())
}

fn parse_intake(s: &str) -> Result<Intake, CatalogError> {
    Intake::parse(s).ok_or_else(|| CatalogError::Corruption(format!("unknown intake {s:?}")))
}

/// The migration after which the units already there are indexed for free text, each in its
/// tenant's index (earlier migrations made one index for all, dropped by this one).
const TEXT_MIGRATION: usize = 13;

/// The free-text index of a tenant's units (FTS5; rowid = the unit's rowid): title, body
/// (description, keywords and every other word of the metadata) and exact tags (agency,
/// keywords). Named by the tenant's identifier in hexadecimal, as SQLite's names ignore case
/// where identifiers do not, and identifiers may hold `-`.
fn text_table(tenant: &str) -> String {
    let mut name = String::with_capacity(10 + 2 * tenant.len());
    name.push_str("unit_text_");
    for b in tenant.bytes() {
        name.push_str(&format!("{b:02x}"));
    }
    name
}

/// Makes the tenant's free-text index if it is not there yet; in the caller's transaction.
fn create_text_table(tx: &Transaction<'_>, tenant: &str) -> Result<(), CatalogError> {
    tx.execute_batch(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS {} USING fts5(title, body, tags, tokenize = 'unicode61 remove_diacritics 2');",
        text_table(tenant)
    ))
    .map_err(storage)
}

/// Size of the chunks a reply is stored in.
const REPLY_CHUNK: usize = 1 << 20;

pub struct SqliteCatalog {
    /// The one connection that writes (SQLite has one writer at a time anyway).
    conn: Mutex<Connection>,
    /// Read-only connections for the queries of requests (file catalogs only): in WAL mode
    /// they read beside the writer and each other instead of queueing behind one mutex.
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Read-only connections for searches, which keep their snapshot between searches.
    searches: Arc<SearchPool>,
    /// Counts the releases of the writer but those that only appended journal events (which
    /// searches do not read): a search snapshot taken before the last one is not reused.
    generation: AtomicU64,
    /// Events waiting for the next group commit (`append_events`).
    group: Mutex<Group>,
    /// The thread that checkpoints the write-ahead log (file catalogs only); it stops when
    /// the sender is dropped with the catalog.
    checkpointer: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Drop for SqliteCatalog {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.checkpointer.take() {
            drop(stop);
            let _ = thread.join();
        }
        // The writer closes last (after this, as a field): the last connection to close
        // copies the log back and removes it, which a read-only one cannot do (it left
        // gigabytes of log after a large ingest for the next start to copy).
        self.readers.clear();
        self.searches = Arc::default();
    }
}

/// How often the write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Frames in the write-ahead log (64 MiB of 4 KiB pages) beyond which the checkpoint thread
/// makes the log start again from its beginning. The writer does that by itself when it
/// finds the whole log copied back and no reader in it; under steady load (every request
/// commits its access event, searches overlap) that moment may never come, and the log
/// would grow for as long as the load lasts.
const LOG_RESTART_FRAMES: i64 = 16_384;

/// How long a restart of the log may hold back writers (it waits for the readers still in
/// the log, and writers wait for it) before it gives up until the next tick.
const LOG_RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The most frames a restart of the log may have to copy back itself (4 MiB).
const LOG_RESTART_REMAINDER: i64 = 1_024;

/// The largest write-ahead log file kept once the log has started again (an ingest of a
/// hundred thousand units leaves a log of gigabytes otherwise).
const LOG_FILE_KEPT: i64 = 64 << 20;

/// Checkpoints the log beside the writer: left to SQLite, the commit that crosses its
/// threshold copies the log and syncs the database file itself, and every request waiting
/// for that commit (each request's journal event) waits for the checkpoint too. A passive
/// checkpoint from another connection never blocks the writer or readers.
fn checkpoint_in_background(
    path: &Path,
    searches: Arc<SearchPool>,
) -> Result<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>), CatalogError> {
    let conn = Connection::open(path).map_err(storage)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(storage)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("catalog-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                if let Err(e) = checkpoint(&conn, &searches, LOG_RESTART_FRAMES) {
                    tracing::warn!(error = %e, "catalog checkpoint failed; tried again later");
                }
            }
            // The last connection to close checkpoints what is left.
        })
        .map_err(|e| CatalogError::Storage(format!("cannot start the checkpoint thread: {e}")))?;
    Ok((stop, thread))
}

/// One tick of the checkpoint thread: a log of more than `restart_frames` starts again.
fn checkpoint(
    conn: &Connection,
    searches: &SearchPool,
    restart_frames: i64,
) -> rusqlite::Result<()> {
    // An idle reader's snapshot would keep the log from being copied back past it.
    let max_age = searches.max_age();
    searches.end_idle_snapshots(|s| s.began.elapsed() >= max_age);
    let (frames, copied): (i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })?;
    if frames <= restart_frames {
        return Ok(());
    }
    // Searches stop keeping snapshots until the log has started again, so that the readers
    // leave it after their search.
    searches.release.store(true, Ordering::Release);
    searches.end_idle_snapshots(|_| true);
    if frames - copied > LOG_RESTART_REMAINDER {
        // What snapshots kept from being copied is copied by the next tick's passive
        // checkpoint, not by the restart, which holds writers back while it copies.
        return Ok(());
    }
    conn.busy_timeout(LOG_RESTART_WAIT)?;
    let busy = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    if busy? == 0 {
        searches.release.store(false, Ordering::Release);
    } else {
        tracing::debug!(frames, "the write-ahead log could not start again yet");
    }
    Ok(())
}

/// How long a search may keep reading the snapshot of an earlier one. Changes made through
/// this catalog are seen by the next search at once (they end every snapshot); changes made
/// by another process on the same file (a command-line ingest beside `serve`) within this
/// delay.
const SNAPSHOT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// A read-only connection for searches that keeps its read transaction open from one search
/// to the next. SQLite empties a connection's page cache whenever its next read transaction
/// finds the file changed, and every request journals its access: with a transaction per
/// search, each search read its pages again from the OS (measured at a million units: a
/// word within an agency and dates, 8 ms with the cache kept, 15 ms emptied).
struct SearchReader {
    conn: Connection,
    snapshot: Option<Snapshot>,
}

struct SearchPool {
    readers: Vec<Mutex<SearchReader>>,
    /// Set while the log waits to start again: snapshots end with their search.
    release: AtomicBool,
    /// SNAPSHOT_MAX_AGE in milliseconds (tests change it).
    max_age_ms: AtomicU64,
}

impl Default for SearchPool {
    fn default() -> Self {
        SearchPool {
            readers: Vec::new(),
            release: AtomicBool::new(false),
            max_age_ms: AtomicU64::new(SNAPSHOT_MAX_AGE.as_millis() as u64),
        }
    }
}

impl SearchPool {
    fn max_age(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.max_age_ms.load(Ordering::Relaxed))
    }

    fn end_idle_snapshots(&self, whose: impl Fn(&Snapshot) -> bool) {
        for reader in &self.readers {
            if let Ok(mut r) = reader.try_lock()
                && r.snapshot.as_ref().is_some_and(&whose)
            {
                r.end_snapshot();
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Snapshot {
    began: std::time::Instant,
    /// The catalog's generation when it began.
    generation: u64,
}

impl SearchReader {
    fn end_snapshot(&mut self) {
        self.snapshot = None;
        if !self.conn.is_autocommit() {
            // A read transaction cannot fail to end; if it did, the next search finds the
            // connection out of autocommit mode and ends it again.
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                tracing::warn!(error = %e, "ending a search snapshot failed");
            }
        }
    }
}

/// The writer's connection, lent: when given back, searches stop reusing their snapshots
/// (whatever was done with it may have changed what they read).
struct WriterGuard<'a> {
    conn: MutexGuard<'a, Connection>,
    generation: &'a AtomicU64,
}

impl std::ops::Deref for WriterGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriterGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        // After the commit, so that a search that sees the new generation also sees the
        // change.
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// A connection to read with.
enum ReadConn<'a> {
    Reader(MutexGuard<'a, Connection>),
    Writer(WriterGuard<'a>),
    Search(MutexGuard<'a, SearchReader>, &'a AtomicBool),
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        if let ReadConn::Search(r, release) = self
            && release.load(Ordering::Acquire)
        {
            r.end_snapshot();
        }
    }
}

impl ReadConn<'_> {
    /// Ends the search snapshot this connection keeps, if it keeps one.
    fn end_snapshot(&mut self) {
        if let ReadConn::Search(r, _) = self {
            r.end_snapshot();
        }
    }
}

impl std::ops::Deref for ReadConn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            ReadConn::Reader(c) => c,
            ReadConn::Writer(c) => c,
            ReadConn::Search(r, _) => &r.conn,
        }
    }
}

/// The state of the group commit of journal events.
#[derive(Default)]
struct Group {
    pending: Vec<NewEvent>,
    /// Tickets handed out (one per call) and committed, in order.
    issued: u64,
    committed: u64,
    /// Recent batches that failed: (first ticket, last ticket, why).
    failures: Vec<(u64, u64, String)>,
}

const EXACT_UP_TO: u64 = crate::search::SEARCH_WINDOW;

/// Read-only connections of a file catalog.
const READERS: usize = 4;

fn storage(e: rusqlite::Error) -> CatalogError {
    CatalogError::Storage(e.to_string())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> CatalogError {
    CatalogError::Corruption(format!("{what}: {e}"))
}

/// Turns off SQLite's memory statistics, once per process and before its first connection.
/// With them (the default of most builds, Debian's among them), every allocation SQLite
/// makes takes one process-wide mutex to count itself: searches running side by side then
/// queue on that mutex (measured at a million units with 16 concurrent searches: a quarter
/// of the process's time in that lock and the kernel's wake-ups). Nothing here reads the
/// statistics. rusqlite has no safe call for this, hence the FFI.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[allow(unsafe_code)]
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int. sqlite3_config must not run beside
        // another SQLite call: the Once runs it before this crate's first connection, and
        // the programs of this workspace open their catalog before any other use of SQLite.
        // Called after SQLite has started, it returns SQLITE_MISUSE and changes nothing.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite memory statistics left on (SQLite already started)"
            );
        }
    });
}

impl SqliteCatalog {
    /// Opens (creating and migrating if needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<SqliteCatalog, CatalogError> {
        configure_sqlite();
        let conn = Connection::open(path).map_err(storage)?;
        let mut catalog = Self::setup(conn)?;
        catalog
            .lock()
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {LOG_FILE_KEPT};"
            ))
            .map_err(storage)?;
        let open_reader = || -> Result<Connection, CatalogError> {
            let reader = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(storage)?;
            reader
                .busy_timeout(std::time::Duration::from_secs(30))
                .map_err(storage)?;
            // A search reads a few thousand pages; 32 MiB of cache each (not the default 2)
            // keeps them. A memory map was tried too: re-mapped whenever the file grows and
            // dropped at every change of the file, it cost more in page faults than it
            // saved in copies (measured at a million units: the wider searches 1.5x slower).
            reader
                .execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -32768;")
                .map_err(storage)?;
            Ok(reader)
        };
        for _ in 0..READERS {
            catalog.readers.push(Mutex::new(open_reader()?));
        }
        catalog.searches = Arc::new(SearchPool {
            readers: (0..READERS)
                .map(|_| {
                    Ok(Mutex::new(SearchReader {
                        conn: open_reader()?,
                        snapshot: None,
                    }))
                })
                .collect::<Result<_, CatalogError>>()?,
            ..SearchPool::default()
        });
        catalog.checkpointer = Some(checkpoint_in_background(
            path,
            Arc::clone(&catalog.searches),
        )?);
        Ok(catalog)
    }

    /// A private in-memory catalog, for tests.
    pub fn in_memory() -> Result<SqliteCatalog, CatalogError> {
        configure_sqlite();
        Self::setup(Connection::open_in_memory().map_err(storage)?)
    }

    fn setup(mut conn: Connection) -> Result<SqliteCatalog, CatalogError> {
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(storage)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(storage)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(storage)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(CatalogError::Corruption(format!(
                "the catalog has schema version {version}, newer than this program knows ({known})"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            tx.execute_batch(sql).map_err(storage)?;
            if i == TEXT_MIGRATION {
                index_existing_units(&tx)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(storage)?;
            tx.commit().map_err(storage)?;
        }
        backfill_chain(&mut conn)?;
        Ok(SqliteCatalog {
            conn: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            searches: Arc::default(),
            generation: AtomicU64::new(0),
            checkpointer: None,
            group: Mutex::new(Group::default()),
        })
    }

    /// A connection to read with: a free reader if there is one, else the next in turn (or
    /// the writer's, for an in-memory catalog, which has no other).
    fn read(&self) -> ReadConn<'_> {
        if self.readers.is_empty() {
            return ReadConn::Writer(self.lock());
        }
        ReadConn::Reader(self.pick(&self.readers))
    }

    /// A connection to search with, in a read transaction: the snapshot of an earlier search
    /// if nothing has been changed through this catalog since and it is recent, else a new
    /// one.
    fn search_read(&self) -> Result<ReadConn<'_>, CatalogError> {
        if self.searches.readers.is_empty() {
            return Ok(self.read());
        }
        let mut r = self.pick(&self.searches.readers);
        // Read before the snapshot begins: a change committed in between then only makes
        // the next search take a new snapshot.
        let generation = self.generation.load(Ordering::Acquire);
        let max_age = self.searches.max_age();
        let reusable = r
            .snapshot
            .is_some_and(|s| s.generation == generation && s.began.elapsed() < max_age)
            && !r.conn.is_autocommit()
            && !self.searches.release.load(Ordering::Acquire);
        if !reusable {
            r.end_snapshot();
            // The snapshot is taken by the search's first read.
            r.conn.execute_batch("BEGIN").map_err(storage)?;
            r.snapshot = Some(Snapshot {
                began: std::time::Instant::now(),
                generation,
            });
        }
        Ok(ReadConn::Search(r, &self.searches.release))
    }

    /// A free connection of `pool` if there is one, else the next in turn.
    fn pick<'a, T>(&self, pool: &'a [Mutex<T>]) -> MutexGuard<'a, T> {
        for r in pool {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % pool.len();
        pool[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> WriterGuard<'_> {
        WriterGuard {
            conn: self.lock_for_events(),
            generation: &self.generation,
        }
    }

    /// The writer, for appending journal events only: searches keep their snapshots.
    fn lock_for_events(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back (the Transaction's drop),
        // so the connection is usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage)?;
        let out = f(&tx)?;
        tx.commit().map_err(storage)?;
        Ok(out)
    }
}

/// An operation that is done as soon as it is recorded (administration), with its event.
fn record_done_operation(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    event: &NewEvent,
) -> Result<(), CatalogError> {
    tx.execute(
        "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, agent)
         VALUES (?1, ?2, ?3, 'DONE', ?4, ?5, ?5, ?6)",
        params![
            tenant.as_str(),
            event.operation.as_str(),
            event.kind,
            event.outcome.as_str(),
            event.time,
            event.agent
        ],
    )
    .map_err(storage)?;
    Ok(())
}

/// The events of an administration step, each with its operation done at once.
fn record_admin_events(tx: &Transaction<'_>, events: &[NewEvent]) -> Result<(), CatalogError> {
    for e in events {
        record_done_operation(tx, &e.tenant, e)?;
        append_event(tx, e)?;
    }
    Ok(())
}

fn require_account(tx: &Transaction<'_>, login: &str) -> Result<(), CatalogError> {
    let exists: bool = tx
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM accounts WHERE login = ?1)",
            [login],
            |r| r.get(0),
        )
        .map_err(storage)?;
    if exists {
        Ok(())
    } else {
        Err(CatalogError::NotFound(format!("account {login}")))
    }
}

/// A client certificate belongs to one account: a second registration is a conflict.
fn insert_certificate(
    tx: &Transaction<'_>,
    sha256: &str,
    login: &str,
    at: &str,
) -> Result<(), CatalogError> {
    let n = tx
        .execute(
            "INSERT INTO account_certificates (sha256, login, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![sha256, login, at],
        )
        .map_err(storage)?;
    if n == 0 {
        return Err(CatalogError::Conflict(format!("certificate {sha256}")));
    }
    Ok(())
}

fn read_account(
    conn: &Connection,
    condition: &str,
    value: &str,
) -> Result<Option<Account>, CatalogError> {
    type Row = (
        String,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    );
    // Cached statements: every request reads its account (parsing the SQL cost as much as
    // running it).
    let row: Option<Row> = conn
        .prepare_cached(&format!(
            "SELECT login, role, kind, password_hash, created_at, disabled_at FROM accounts WHERE {condition}"
        ))
        .map_err(storage)?
        .query_row([value], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .optional()
        .map_err(storage)?;
    let Some((login, role, kind, password_hash, created_at, disabled_at)) = row else {
        return Ok(None);
    };
    let tenants = conn
        .prepare_cached("SELECT tenant FROM account_tenants WHERE login = ?1 ORDER BY tenant")
        .map_err(storage)?
        .query_map([&login], |r| r.get::<_, String>(0))
        .map_err(storage)?
        .map(|t| parse_id("tenant id", t.map_err(storage)?))
        .collect::<Result<_, _>>()?;
    Ok(Some(Account {
        role: Role::parse(&role).ok_or_else(|| corrupt("account role", &role))?,
        kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("account kind", &kind))?,
        login,
        password_hash,
        created_at,
        disabled_at,
        tenants,
    }))
}

fn append_event(tx: &Transaction<'_>, event: &NewEvent) -> Result<u64, CatalogError> {
    // Cached statements: every request appends its access event.
    let last: Option<(i64, Option<String>)> = tx
        .prepare_cached(
            "SELECT sequence, hash FROM journal WHERE tenant = ?1 ORDER BY sequence DESC LIMIT 1",
        )
        .map_err(storage)?
        .query_row([event.tenant.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(storage)?;
    let (next, previous) = match last {
        None => (1, GENESIS.to_owned()),
        Some((s, Some(h))) => (s + 1, h),
        Some((s, None)) => {
            return Err(CatalogError::Corruption(format!(
                "journal event {s} of tenant {} has no hash",
                event.tenant
            )));
        }
    };
    let hash = event_hash(EVENT_FORMAT_VERSION, next as u64, event, &previous)
        .map_err(|e| CatalogError::Storage(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO journal (tenant, sequence, format_version, operation, kind, outcome, time, agent, detail,
                              previous_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .map_err(storage)?
    .execute(params![
            event.tenant.as_str(),
            next,
            EVENT_FORMAT_VERSION,
            event.operation.as_str(),
            event.kind,
            event.outcome.as_str(),
            event.time,
            event.agent,
            event.detail.to_string(),
            previous,
            hash,
        ],
    )
    .map_err(storage)?;
    Ok(next as u64)
}

/// Links the events written before the hash chain existed (schema version 2 and older), in
/// each tenant's order. Runs once: afterwards every event has its links.
/// The free-text document of a unit: its title, and its agency, keywords and metadata words.
fn index_unit(
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
    tags.extend(agency.map(crate::search::agency_tag));
    tags.extend(keywords.iter().map(|k| crate::search::keyword_tag(k)));
    st.execute(params![rowid, title, body, tags.join(" ")])
        .map_err(storage)?;
    Ok(())
}

fn index_existing_units(tx: &Transaction<'_>) -> Result<(), CatalogError> {
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

fn index_tenant_units(tx: &Transaction<'_>, tenant: &str) -> Result<(), CatalogError> {
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

fn backfill_chain(conn: &mut Connection) -> Result<(), CatalogError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(storage)?;
    let pending: i64 = tx
        .query_row("SELECT COUNT(*) FROM journal WHERE hash IS NULL", [], |r| {
            r.get(0)
        })
        .map_err(storage)?;
    if pending == 0 {
        return Ok(());
    }
    let rows: Vec<RawEvent> = {
        let mut st = tx
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM journal ORDER BY tenant, sequence"
            ))
            .map_err(storage)?;
        st.query_map([], raw_event)
            .map_err(storage)?
            .collect::<Result<_, _>>()
            .map_err(storage)?
    };
    let mut previous: Option<(String, String)> = None;
    for raw in rows {
        let tenant = raw.tenant.clone();
        let e = to_event(raw).map_err(|(s, why)| {
            CatalogError::Corruption(format!("journal event {s} of tenant {tenant}: {why}"))
        })?;
        let prev = match &previous {
            Some((t, h)) if *t == tenant => h.clone(),
            _ => GENESIS.to_owned(),
        };
        let hash = if e.hash.is_empty() {
            let h = event_hash(e.format_version, e.sequence, &e.event, &prev)
                .map_err(|err| CatalogError::Corruption(err.to_string()))?;
            tx.execute(
                "UPDATE journal SET previous_hash = ?3, hash = ?4 WHERE tenant = ?1 AND sequence = ?2",
                params![tenant, e.sequence as i64, prev, h],
            )
            .map_err(storage)?;
            h
        } else {
            e.hash
        };
        previous = Some((tenant, hash));
    }
    tx.commit().map_err(storage)
}

const EVENT_COLUMNS: &str = "tenant, sequence, format_version, operation, kind, outcome, time, agent, detail, previous_hash, hash";

/// A journal row as stored, before any parsing: a tampered row must still be reported.
struct RawEvent {
    tenant: String,
    sequence: i64,
    format_version: i64,
    operation: String,
    kind: String,
    outcome: String,
    time: String,
    agent: String,
    detail: String,
    previous: Option<String>,
    hash: Option<String>,
}

fn raw_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok(RawEvent {
        tenant: r.get(0)?,
        sequence: r.get(1)?,
        format_version: r.get(2)?,
        operation: r.get(3)?,
        kind: r.get(4)?,
        outcome: r.get(5)?,
        time: r.get(6)?,
        agent: r.get(7)?,
        detail: r.get(8)?,
        previous: r.get(9)?,
        hash: r.get(10)?,
    })
}

fn to_event(raw: RawEvent) -> Result<Event, (u64, String)> {
    let sequence = raw.sequence as u64;
    let bad = |what: &str, e: &dyn std::fmt::Display| (sequence, format!("{what}: {e}"));
    Ok(Event {
        format_version: u32::try_from(raw.format_version).map_err(|e| bad("format version", &e))?,
        sequence,
        event: NewEvent {
            tenant: raw.tenant.parse().map_err(|e| bad("tenant", &e))?,
            operation: raw.operation.parse().map_err(|e| bad("operation", &e))?,
            kind: raw.kind,
            outcome: Status::parse(&raw.outcome).ok_or_else(|| bad("outcome", &raw.outcome))?,
            time: raw.time,
            agent: raw.agent,
            detail: serde_json::from_str(&raw.detail).map_err(|e| bad("detail", &e))?,
        },
        previous: raw.previous.unwrap_or_default(),
        hash: raw.hash.unwrap_or_default(),
    })
}

/// Stores a reply in chunks, read from `reply` as it comes.
fn store_reply(
    tx: &Transaction<'_>,
    tenant: &str,
    operation: &str,
    reply: &mut dyn std::io::Read,
) -> Result<(), CatalogError> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO operation_replies (tenant, operation, sequence, chunk) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(storage)?;
    let mut chunk = vec![0u8; REPLY_CHUNK];
    for sequence in 0i64.. {
        let mut filled = 0;
        while filled < chunk.len() {
            match reply.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CatalogError::Storage(format!("reading the reply: {e}"))),
            }
        }
        if filled == 0 {
            break;
        }
        st.execute(params![tenant, operation, sequence, &chunk[..filled]])
            .map_err(storage)?;
        if filled < chunk.len() {
            break;
        }
    }
    Ok(())
}

fn check_event_tenant(tenant: &TenantId, event: &NewEvent) -> Result<(), CatalogError> {
    if &event.tenant != tenant {
        return Err(CatalogError::Corruption(format!(
            "an event of tenant {} cannot record a change of tenant {tenant}",
            event.tenant
        )));
    }
    Ok(())
}

type RawOperation = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
);

fn raw_operation(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawOperation> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn to_operation(tenant: &TenantId, raw: RawOperation) -> Result<Operation, CatalogError> {
    let (id, kind, state, status, started_at, ended_at, summary, has_reply, agent) = raw;
    Ok(Operation {
        tenant: tenant.clone(),
        id: parse_id("operation id", id)?,
        kind,
        state: match state.as_str() {
            "RUNNING" => OperationState::Running,
            _ => OperationState::Done,
        },
        status: status.as_deref().and_then(Status::parse),
        started_at,
        ended_at,
        summary: summary
            .map(|s| serde_json::from_str(&s).map_err(|e| corrupt("operation summary", e)))
            .transpose()?,
        has_reply,
        agent,
    })
}

const OBJECT_COLUMNS: &str =
    "id, object_group, xml_id, physical, version, uri, size, digest_algorithm, digest, puid,
                        format_name, mime_type, filename";

type RawObject = (
    (String, String, String, bool),
    (Option<String>, Option<String>, Option<i64>),
    (Option<String>, Option<String>),
    (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
);

fn raw_object(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawObject> {
    Ok((
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
        (r.get(4)?, r.get(5)?, r.get(6)?),
        (r.get(7)?, r.get(8)?),
        (r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?),
    ))
}

fn to_object(raw: RawObject) -> Result<ObjectRow, CatalogError> {
    let (
        (id, group, xml_id, physical),
        (version, uri, size),
        (algo, hex),
        (puid, format_name, mime_type, filename),
    ) = raw;
    let digest = match (algo, hex) {
        (Some(a), Some(hex)) => Some(digest_of(&a, hex)?),
        _ => None,
    };
    Ok(ObjectRow {
        id: parse_id("object id", id)?,
        group: parse_id("object group id", group)?,
        xml_id,
        physical,
        version,
        uri,
        size: size.map(|s| s as u64),
        digest,
        puid,
        format_name,
        mime_type,
        filename,
    })
}

const TREE_COLUMNS: &str =
    "id, kind, algorithm, leaves, token, stamped_at, certificate_until, tsa, builtin, operation";

type RawTree = (
    (String, String, String),
    (Vec<u8>, Vec<u8>),
    (String, String, String, bool, String),
);

fn raw_tree(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawTree> {
    Ok((
        (r.get(0)?, r.get(1)?, r.get(2)?),
        (r.get(3)?, r.get(4)?),
        (r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?),
    ))
}

fn to_tree(raw: RawTree) -> Result<EvidenceTreeRow, CatalogError> {
    let (
        (id, kind, algorithm),
        (leaves, token),
        (stamped_at, certificate_until, tsa, builtin, operation),
    ) = raw;
    Ok(EvidenceTreeRow {
        kind: EvidenceKind::parse(&kind).ok_or_else(|| corrupt("evidence kind", &kind))?,
        id,
        algorithm,
        leaves,
        token,
        stamped_at,
        certificate_until,
        tsa,
        builtin,
        operation: parse_id("operation id", operation)?,
    })
}

fn digest_of(algorithm: &str, hex: String) -> Result<Digest, CatalogError> {
    Ok(Digest {
        algorithm: carnac_model::DigestAlgorithm::from_seda_name(algorithm)
            .ok_or_else(|| corrupt("digest algorithm", algorithm))?,
        hex,
    })
}

/// Facets from counts by value: agencies most first, years in order; at most 100.
fn facets<'a>(counts: impl Iterator<Item = (&'a str, u64)>, by_count: bool) -> Vec<Facet> {
    let mut facets: Vec<Facet> = counts
        .map(|(v, count)| Facet {
            value: v.to_owned(),
            count,
        })
        .collect();
    if by_count {
        facets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    } else {
        facets.sort_by(|a, b| a.value.cmp(&b.value));
    }
    facets.truncate(100);
    facets
}

/// The summaries of a page of units, read by rowid in the page's order.
/// The page's units, read by rowid. Each must be the tenant's: a rowid that is not (a text
/// index out of step with the units) is an error, never another tenant's unit shown.
fn summaries(
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

fn parse_id<T: std::str::FromStr>(what: &str, s: String) -> Result<T, CatalogError>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| corrupt(what, e))
}

impl SqliteCatalog {
    /// [`Catalog::search_units`] on a connection given.
    fn search_in(
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
        let text = q
            .text
            .as_deref()
            .and_then(|t| crate::search::fts_query(t, None));
        let title = q
            .title
            .as_deref()
            .and_then(|t| crate::search::fts_query(t, Some("title")));
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
                        "identifier"
                    } else {
                        "index"
                    }
                    .into(),
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
            fts.push(format!("tags : \"{}\"", crate::search::agency_tag(a)));
        }
        if let Some(k) = &q.keyword {
            fts.push(format!("tags : \"{}\"", crate::search::keyword_tag(k)));
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
                        order: if ranked { "relevance" } else { "title" }.into(),
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
        let order_name = match (exact, ranked) {
            (true, true) => {
                hits.sort_by(|a, b| a.rank.total_cmp(&b.rank).then(a.rowid.cmp(&b.rowid)));
                "relevance"
            }
            (true, false) => {
                hits.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
                "title"
            }
            (false, true) => "ingest",
            (false, false) if unfiltered => "identifier",
            (false, false) => "index",
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
            order: order_name.into(),
            units: summaries(conn, tenant, &page)?,
            agencies,
            years,
        })
    }
}

impl Catalog for SqliteCatalog {
    fn create_tenant(
        &self,
        tenant: &TenantId,
        name: &str,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM tenants WHERE id = ?1)",
                    [tenant.as_str()],
                    |r| r.get(0),
                )
                .map_err(storage)?;
            if exists {
                return Err(CatalogError::Conflict(format!("tenant {tenant}")));
            }
            tx.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![tenant.as_str(), name, event.time],
            )
            .map_err(storage)?;
            record_done_operation(tx, tenant, event)?;
            append_event(tx, event)?;
            Ok(())
        })
    }

    fn tenant(&self, tenant: &TenantId) -> Result<Option<Tenant>, CatalogError> {
        self.read()
            .query_row(
                "SELECT id, name, created_at, suspended_at FROM tenants WHERE id = ?1",
                [tenant.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(storage)?
            .map(|(id, name, created_at, suspended_at)| {
                Ok(Tenant {
                    id: parse_id("tenant id", id)?,
                    name,
                    created_at,
                    suspended_at,
                })
            })
            .transpose()
    }

    fn tenants(&self) -> Result<Vec<Tenant>, CatalogError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT id, name, created_at, suspended_at FROM tenants ORDER BY id")
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (id, name, created_at, suspended_at) = row.map_err(storage)?;
            Ok(Tenant {
                id: parse_id("tenant id", id)?,
                name,
                created_at,
                suspended_at,
            })
        })
        .collect()
    }

    fn suspend_tenant(
        &self,
        tenant: &TenantId,
        suspended: bool,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE tenants SET suspended_at = ?2 WHERE id = ?1",
                    params![tenant.as_str(), suspended.then_some(&event.time)],
                )
                .map_err(storage)?;
            if changed == 0 {
                return Err(CatalogError::NotFound(format!("tenant {tenant}")));
            }
            record_done_operation(tx, tenant, event)?;
            append_event(tx, event)?;
            Ok(())
        })
    }

    fn create_account(
        &self,
        account: &Account,
        token_hash: Option<&str>,
        certificate_sha256: Option<&str>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM accounts WHERE login = ?1)",
                    [&account.login],
                    |r| r.get(0),
                )
                .map_err(storage)?;
            if exists {
                return Err(CatalogError::Conflict(format!("account {}", account.login)));
            }
            tx.execute(
                "INSERT INTO accounts (login, role, kind, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    account.login,
                    account.role.as_str(),
                    account.kind.as_str(),
                    account.password_hash,
                    account.created_at
                ],
            )
            .map_err(storage)?;
            for t in &account.tenants {
                tx.execute(
                    "INSERT INTO account_tenants (login, tenant) VALUES (?1, ?2)",
                    params![account.login, t.as_str()],
                )
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        CatalogError::NotFound(format!("tenant {t}"))
                    }
                    e => storage(e),
                })?;
            }
            if let Some(hash) = token_hash {
                tx.execute(
                    "INSERT INTO api_tokens (hash, login, created_at) VALUES (?1, ?2, ?3)",
                    params![hash, account.login, account.created_at],
                )
                .map_err(storage)?;
            }
            if let Some(sha256) = certificate_sha256 {
                insert_certificate(tx, sha256, &account.login, &account.created_at)?;
            }
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn add_token(
        &self,
        login: &str,
        token_hash: &str,
        at: &str,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            require_account(tx, login)?;
            tx.execute(
                "INSERT INTO api_tokens (hash, login, created_at) VALUES (?1, ?2, ?3)",
                params![token_hash, login, at],
            )
            .map_err(storage)?;
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn tokens(&self, login: &str) -> Result<Vec<TokenRow>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare_cached(
                "SELECT substr(hash, 1, 16), created_at, revoked_at FROM api_tokens
                 WHERE login = ?1 ORDER BY created_at, rowid",
            )
            .map_err(storage)?;
        st.query_map(params![login], |r| {
            Ok(TokenRow {
                id: r.get(0)?,
                created_at: r.get(1)?,
                revoked_at: r.get(2)?,
            })
        })
        .map_err(storage)?
        .map(|r| r.map_err(storage))
        .collect()
    }

    fn revoke_token(
        &self,
        login: &str,
        id: &str,
        at: &str,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        // Exactly the 16 hex digits a token is shown by: no pattern can widen the match.
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CatalogError::NotFound(format!("token {id:?} of {login}")));
        }
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE api_tokens SET revoked_at = ?3
                     WHERE login = ?1 AND substr(hash, 1, 16) = lower(?2) AND revoked_at IS NULL",
                    params![login, id, at],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("token {id} of {login}")));
            }
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn set_account_disabled(
        &self,
        login: &str,
        disabled_at: Option<&str>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE accounts SET disabled_at = ?2 WHERE login = ?1",
                    params![login, disabled_at],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("account {login}")));
            }
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn add_certificate(
        &self,
        login: &str,
        sha256: &str,
        at: &str,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            require_account(tx, login)?;
            insert_certificate(tx, sha256, login, at)?;
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn account_by_certificate(&self, sha256: &str) -> Result<Option<Account>, CatalogError> {
        let conn = self.read();
        read_account(
            &conn,
            "login = (SELECT login FROM account_certificates WHERE sha256 = ?1)",
            sha256,
        )
    }

    fn account(&self, login: &str) -> Result<Option<Account>, CatalogError> {
        let conn = self.read();
        read_account(&conn, "login = ?1", login)
    }

    fn account_by_token(&self, token_hash: &str) -> Result<Option<Account>, CatalogError> {
        let conn = self.read();
        read_account(
            &conn,
            "login = (SELECT login FROM api_tokens WHERE hash = ?1 AND revoked_at IS NULL)",
            token_hash,
        )
    }

    fn accounts(&self) -> Result<Vec<Account>, CatalogError> {
        let conn = self.read();
        let logins: Vec<String> = conn
            .prepare("SELECT login FROM accounts ORDER BY login")
            .map_err(storage)?
            .query_map([], |r| r.get(0))
            .map_err(storage)?
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        let mut out = Vec::with_capacity(logins.len());
        for login in logins {
            out.extend(read_account(&conn, "login = ?1", &login)?);
        }
        Ok(out)
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
    fn unit_details(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<UnitDetails>, CatalogError> {
        let conn = self.read();
        let (t, u) = (tenant.as_str(), unit.as_str());
        let Some((description_level, originating_agency)) = conn
            .query_row(
                "SELECT description_level, originating_agency FROM units WHERE tenant = ?1 AND id = ?2",
                params![t, u],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<String>>(1)?)),
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
            children,
            object_groups,
        }))
    }

    fn enqueue_transfer(
        &self,
        transfer: &QueuedTransfer,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(&transfer.tenant, event)?;
        self.write(|tx| {
            insert_queued(tx, transfer)?;
            append_event(tx, event)?;
            Ok(())
        })
    }

    fn enqueue_intake_message(
        &self,
        transfer: &QueuedTransfer,
        message: &IntakeMessage,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(&transfer.tenant, event)?;
        if message.tenant != transfer.tenant || message.operation != transfer.operation {
            return Err(CatalogError::Corruption(
                "an intake message must belong to its transfer".into(),
            ));
        }
        self.write(|tx| {
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO intake_messages
                     (tenant, origin, message_id, operation, seda_version, acknowledgement)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        message.tenant.as_str(),
                        message.origin,
                        message.message_id,
                        message.operation.as_str(),
                        message.seda_version,
                        message.acknowledgement
                    ],
                )
                .map_err(storage)?;
            if inserted == 0 {
                return Err(CatalogError::Conflict(format!(
                    "the transfer {:?} of {:?}",
                    message.message_id, message.origin
                )));
            }
            tx.execute(
                "INSERT INTO acknowledgements (tenant, operation, xml) VALUES (?1, ?2, ?3)",
                params![
                    message.tenant.as_str(),
                    message.operation.as_str(),
                    message.acknowledgement
                ],
            )
            .map_err(storage)?;
            insert_queued(tx, transfer)?;
            append_event(tx, event)?;
            Ok(())
        })
    }

    fn acknowledge(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        xml: &str,
        event: &NewEvent,
    ) -> Result<bool, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO acknowledgements (tenant, operation, xml) VALUES (?1, ?2, ?3)",
                    params![tenant.as_str(), operation.as_str(), xml],
                )
                .map_err(storage)?;
            if n == 1 {
                append_event(tx, event)?;
            }
            Ok(n == 1)
        })
    }

    fn acknowledgement(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<String>, CatalogError> {
        self.read()
            .query_row(
                "SELECT xml FROM acknowledgements WHERE tenant = ?1 AND operation = ?2",
                params![tenant.as_str(), operation.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage)
    }

    fn intake_message(
        &self,
        tenant: &TenantId,
        origin: &str,
        message_id: &str,
    ) -> Result<Option<IntakeMessage>, CatalogError> {
        let row = self
            .read()
            .query_row(
                "SELECT operation, seda_version, acknowledgement FROM intake_messages
                 WHERE tenant = ?1 AND origin = ?2 AND message_id = ?3",
                params![tenant.as_str(), origin, message_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(storage)?;
        row.map(|(operation, seda_version, acknowledgement)| {
            Ok(IntakeMessage {
                tenant: tenant.clone(),
                origin: origin.to_owned(),
                message_id: message_id.to_owned(),
                operation: parse_id("operation id", operation)?,
                seda_version,
                acknowledgement,
            })
        })
        .transpose()
    }

    fn queued_transfers(&self) -> Result<Vec<QueuedTransfer>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT tenant, operation, received_at, agent, bytes, intake FROM transfer_queue
                 ORDER BY received_at, rowid",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (t, o, received_at, agent, bytes, intake) = row.map_err(storage)?;
            Ok(QueuedTransfer {
                tenant: parse_id("tenant id", t)?,
                operation: parse_id("operation id", o)?,
                received_at,
                agent,
                bytes: bytes as u64,
                intake: parse_intake(&intake)?,
            })
        })
        .collect()
    }

    fn queued_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<QueuedTransfer>, CatalogError> {
        self
            .read()
            .query_row(
                "SELECT received_at, agent, bytes, intake FROM transfer_queue WHERE tenant = ?1 AND operation = ?2",
                params![tenant.as_str(), operation.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?)),
            )
            .optional()
            .map_err(storage)?
            .map(|(received_at, agent, bytes, intake)| -> Result<_, CatalogError> {
                Ok(QueuedTransfer {
                    tenant: tenant.clone(),
                    operation: operation.clone(),
                    received_at,
                    agent,
                    bytes: bytes as u64,
                    intake: parse_intake(&intake)?,
                })
            })
            .transpose()
    }

    fn dequeue_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM transfer_queue WHERE tenant = ?1 AND operation = ?2",
                params![tenant.as_str(), operation.as_str()],
            )
            .map_err(storage)?;
            Ok(())
        })
    }

    fn requeue_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let n = tx
                .execute(
                    "DELETE FROM operations WHERE tenant = ?1 AND id = ?2 AND state = 'RUNNING'
                       AND EXISTS (SELECT 1 FROM transfer_queue q WHERE q.tenant = ?1 AND q.operation = ?2)",
                    params![tenant.as_str(), operation.as_str()],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!(
                    "interrupted queued operation {operation}"
                )));
            }
            append_event(tx, event)?;
            Ok(())
        })
    }

    /// Group commit: concurrent callers' events go into one transaction (one sync of the
    /// journal for many requests), and each caller returns once its events are durable.
    /// Whoever gets the writer first commits everything waiting; the others find theirs
    /// already done.
    fn append_events(&self, events: &[NewEvent]) -> Result<(), CatalogError> {
        let ticket = {
            let mut g = self.group.lock().unwrap_or_else(|p| p.into_inner());
            g.issued += 1;
            g.pending.extend(events.iter().cloned());
            g.issued
        };
        // Journal rows only: searches do not read them.
        let mut conn = self.lock_for_events();
        let (batch, upto) = {
            let mut g = self.group.lock().unwrap_or_else(|p| p.into_inner());
            if g.committed >= ticket {
                return match g
                    .failures
                    .iter()
                    .find(|(lo, hi, _)| (*lo..=*hi).contains(&ticket))
                {
                    Some((_, _, e)) => Err(CatalogError::Storage(e.clone())),
                    None => Ok(()),
                };
            }
            (std::mem::take(&mut g.pending), g.issued)
        };
        let result = (|| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            for e in &batch {
                append_event(&tx, e)?;
            }
            tx.commit().map_err(storage)
        })();
        let mut g = self.group.lock().unwrap_or_else(|p| p.into_inner());
        let from = g.committed + 1;
        g.committed = upto;
        if let Err(e) = &result {
            g.failures.push((from, upto, e.to_string()));
            let excess = g.failures.len().saturating_sub(64);
            g.failures.drain(..excess);
        }
        result
    }

    fn import_referentials(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        at: &str,
        content: &[(ReferentialKind, serde_json::Value)],
        event: &NewEvent,
    ) -> Result<Vec<u64>, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, agent)
                 VALUES (?1, ?2, ?3, 'DONE', ?4, ?5, ?5, ?6)",
                params![tenant.as_str(), operation.as_str(), event.kind, event.outcome.as_str(), at, event.agent],
            )
            .map_err(storage)?;
            let mut versions = Vec::new();
            for (kind, value) in content {
                let next: i64 = tx
                    .query_row(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM referentials WHERE tenant = ?1 AND kind = ?2",
                        params![tenant.as_str(), kind.as_str()],
                        |r| r.get(0),
                    )
                    .map_err(storage)?;
                tx.execute(
                    "INSERT INTO referentials (tenant, kind, version, operation, imported_at, content)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![tenant.as_str(), kind.as_str(), next, operation.as_str(), at, value.to_string()],
                )
                .map_err(storage)?;
                versions.push(next as u64);
            }
            append_event(tx, event)?;
            Ok(versions)
        })
    }

    fn referential_versions(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Vec<ReferentialVersionInfo>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT version, operation, imported_at FROM referentials
                 WHERE tenant = ?1 AND kind = ?2 ORDER BY version",
            )
            .map_err(storage)?;
        st.query_map(params![tenant.as_str(), kind.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(storage)?
        .map(|row| {
            let (version, operation, imported_at) = row.map_err(storage)?;
            Ok(ReferentialVersionInfo {
                version: version as u64,
                operation: parse_id("operation id", operation)?,
                imported_at,
            })
        })
        .collect()
    }

    fn referential(
        &self,
        tenant: &TenantId,
        kind: ReferentialKind,
    ) -> Result<Option<ReferentialVersion>, CatalogError> {
        let row = self
            .read()
            .query_row(
                "SELECT version, operation, imported_at, content FROM referentials
                 WHERE tenant = ?1 AND kind = ?2 ORDER BY version DESC LIMIT 1",
                params![tenant.as_str(), kind.as_str()],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(storage)?;
        row.map(|(version, operation, imported_at, content)| {
            Ok(ReferentialVersion {
                kind,
                version: version as u64,
                operation: parse_id("operation id", operation)?,
                imported_at,
                content: serde_json::from_str(&content)
                    .map_err(|e| corrupt("referential content", e))?,
            })
        })
        .transpose()
    }

    fn record_operation(
        &self,
        tenant: &TenantId,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, summary, agent)
                 VALUES (?1, ?2, ?3, 'DONE', ?4, ?5, ?5, ?6, ?7)",
                params![
                    tenant.as_str(),
                    event.operation.as_str(),
                    event.kind,
                    event.outcome.as_str(),
                    event.time,
                    summary.to_string(),
                    event.agent
                ],
            )
            .map_err(storage)?;
            append_event(tx, event)
        })
    }

    fn record_seal(
        &self,
        tenant: &TenantId,
        seal: &SealRow,
        summary: &serde_json::Value,
        event: &NewEvent,
    ) -> Result<u64, CatalogError> {
        check_event_tenant(tenant, event)?;
        let t = tenant.as_str();
        self.write(|tx| {
            let last: Option<(i64, String)> = tx
                .query_row(
                    "SELECT last, sealed FROM journal_seals WHERE tenant = ?1 ORDER BY last DESC LIMIT 1",
                    [t],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(storage)?;
            let (expected_first, expected_previous) = match &last {
                None => (1, GENESIS.to_owned()),
                Some((l, s)) => (*l as u64 + 1, s.clone()),
            };
            if seal.first != expected_first || seal.previous != expected_previous {
                return Err(CatalogError::Conflict(format!(
                    "a seal of events {}..{} after another seal",
                    seal.first, seal.last
                )));
            }
            tx.execute(
                "INSERT INTO journal_seals (tenant, first, last, merkle_root, previous, sealed, token, stamped_at, tsa, operation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    t,
                    seal.first as i64,
                    seal.last as i64,
                    seal.merkle_root,
                    seal.previous,
                    seal.sealed,
                    seal.token,
                    seal.stamped_at,
                    seal.tsa,
                    seal.operation.as_str()
                ],
            )
            .map_err(storage)?;
            let n = tx
                .execute(
                    "UPDATE operations SET state = 'DONE', status = ?3, ended_at = ?4, summary = ?5
                     WHERE tenant = ?1 AND id = ?2 AND state = 'RUNNING'",
                    params![t, event.operation.as_str(), event.outcome.as_str(), event.time, summary.to_string()],
                )
                .map_err(storage)?;
            if n != 1 {
                return Err(CatalogError::NotFound(format!("running operation {}", event.operation)));
            }
            append_event(tx, event)
        })
    }

    fn seals(&self, tenant: &TenantId) -> Result<Vec<SealRow>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT first, last, merkle_root, previous, sealed, token, stamped_at, tsa, operation
                 FROM journal_seals WHERE tenant = ?1 ORDER BY last",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([tenant.as_str()], |r| {
                Ok((
                    (r.get::<_, i64>(0)?, r.get::<_, i64>(1)?),
                    (
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ),
                    (
                        r.get::<_, Vec<u8>>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, String>(8)?,
                    ),
                ))
            })
            .map_err(storage)?;
        rows.map(|row| {
            let (
                (first, last),
                (merkle_root, previous, sealed),
                (token, stamped_at, tsa, operation),
            ) = row.map_err(storage)?;
            Ok(SealRow {
                first: first as u64,
                last: last as u64,
                merkle_root,
                previous,
                sealed,
                token,
                stamped_at,
                tsa,
                operation: parse_id("operation id", operation)?,
            })
        })
        .collect()
    }

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
                    tree.stamped_at,
                    tree.certificate_until,
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
                params![t, c.event.operation.as_str(), c.event.kind, c.event.outcome.as_str(), c.event.time, c.summary.to_string(), c.event.agent],
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

    fn start_operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: &str,
        at: &str,
        agent: &str,
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "INSERT INTO operations (tenant, id, kind, state, started_at, agent) VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5)
                     ON CONFLICT DO NOTHING",
                    params![tenant.as_str(), operation.as_str(), kind, at, agent],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::Conflict(format!("operation {operation}")));
            }
            Ok(())
        })
    }

    fn finish_operation(
        &self,
        tenant: &TenantId,
        end: OperationEnd<'_>,
    ) -> Result<(), CatalogError> {
        let OperationEnd {
            operation,
            status,
            summary,
            reply,
            ended_at,
            event,
        } = end;
        check_event_tenant(tenant, event)?;
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE operations SET state = 'DONE', status = ?3, ended_at = ?4, summary = ?5
                     WHERE tenant = ?1 AND id = ?2 AND state = 'RUNNING'",
                    params![
                        tenant.as_str(),
                        operation.as_str(),
                        status.as_str(),
                        ended_at,
                        summary.to_string()
                    ],
                )
                .map_err(storage)?;
            if n != 1 {
                return Err(CatalogError::NotFound(format!(
                    "running operation {operation}"
                )));
            }
            if let Some(reply) = reply {
                store_reply(tx, tenant.as_str(), operation.as_str(), reply)?;
            }
            append_event(tx, event)?;
            Ok(())
        })
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
                    params![t, op, c.status.as_str(), c.ended_at, c.summary.to_string()],
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
                         end_date, originating_agency, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                            u.metadata
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
                    for r in &u.rules {
                        rule_st
                            .execute(params![t, u.id.as_str(), r.category, r.rule, r.start_date, r.end_date])
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

    fn operation(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<Operation>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare(
                "SELECT id, kind, state, status, started_at, ended_at, summary,
                        EXISTS(SELECT 1 FROM operation_replies r WHERE r.tenant = o.tenant AND r.operation = o.id),
                        agent
                 FROM operations o WHERE tenant = ?1 AND id = ?2",
            )
            .map_err(storage)?;
        let mut rows = st
            .query_map(params![tenant.as_str(), operation.as_str()], raw_operation)
            .map_err(storage)?;
        rows.next()
            .map(|r| to_operation(tenant, r.map_err(storage)?))
            .transpose()
    }

    fn reply(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        out: &mut dyn std::io::Write,
    ) -> Result<bool, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT chunk FROM operation_replies WHERE tenant = ?1 AND operation = ?2 ORDER BY sequence",
            )
            .map_err(storage)?;
        let mut rows = st
            .query(params![tenant.as_str(), operation.as_str()])
            .map_err(storage)?;
        let mut any = false;
        while let Some(row) = rows.next().map_err(storage)? {
            let chunk = row
                .get_ref(0)
                .map_err(storage)?
                .as_blob()
                .map_err(|e| corrupt("reply chunk", e))?;
            out.write_all(chunk)
                .map_err(|e| CatalogError::Storage(format!("writing the reply: {e}")))?;
            any = true;
        }
        Ok(any)
    }

    fn operations(&self, tenant: &TenantId) -> Result<Vec<Operation>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT id, kind, state, status, started_at, ended_at, summary,
                        EXISTS(SELECT 1 FROM operation_replies r WHERE r.tenant = o.tenant AND r.operation = o.id),
                        agent
                 FROM operations o WHERE tenant = ?1 ORDER BY started_at, rowid",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([tenant.as_str()], raw_operation)
            .map_err(storage)?;
        rows.map(|r| to_operation(tenant, r.map_err(storage)?))
            .collect()
    }

    fn running_operations(&self) -> Result<Vec<(TenantId, OperationId)>, CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT tenant, id FROM operations WHERE state = 'RUNNING' ORDER BY started_at",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(storage)?;
        rows.map(|row| {
            let (t, o) = row.map_err(storage)?;
            Ok((parse_id("tenant id", t)?, parse_id("operation id", o)?))
        })
        .collect()
    }

    fn each_event(
        &self,
        tenant: &TenantId,
        after: u64,
        each: &mut dyn FnMut(JournalRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM journal WHERE tenant = ?1 AND sequence > ?2 ORDER BY sequence"
            ))
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), after as i64], raw_event)
            .map_err(storage)?;
        for row in rows {
            each(
                to_event(row.map_err(storage)?)
                    .map_err(|(sequence, reason)| UnreadableEvent { sequence, reason }),
            )?;
        }
        Ok(())
    }

    fn counts(&self, tenant: &TenantId) -> Result<Counts, CatalogError> {
        let conn = self.lock();
        let count = |table: &str| -> Result<u64, CatalogError> {
            conn.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE tenant = ?1"),
                [tenant.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(storage)
        };
        Ok(Counts {
            units: count("units")?,
            object_groups: count("object_groups")?,
            objects: count("objects")?,
            copies: count("copies")?,
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
                parents: parents
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(|p| parse_id("unit id", p.to_owned()))
                    .collect::<Result<_, _>>()?,
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
                parents: parents
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(|p| parse_id("unit id", p.to_owned()))
                    .collect::<Result<_, _>>()?,
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
}

#[cfg(test)]
mod tests {
    #[test]
    fn conformance() {
        crate::conformance::run(&super::SqliteCatalog::in_memory().unwrap());
    }

    #[test]
    fn the_journal_refuses_updates_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let cat = super::SqliteCatalog::open(&path).unwrap();
        crate::conformance::run(&cat);
        let conn = cat.lock();
        let upd = conn.execute("UPDATE journal SET outcome = 'OK'", []);
        assert!(upd.unwrap_err().to_string().contains("append-only"));
        let del = conn.execute("DELETE FROM journal", []);
        assert!(del.unwrap_err().to_string().contains("append-only"));
    }

    #[test]
    fn replies_of_schema_1_move_to_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(super::MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO tenants VALUES ('t', 'T', 'x');
                 INSERT INTO operations (tenant, id, kind, state, status, started_at, reply)
                 VALUES ('t', 'op-1', 'INGEST', 'DONE', 'KO', 'x', '<ATR>é</ATR>');",
            )
            .unwrap();
        }
        let cat = super::SqliteCatalog::open(&path).unwrap();
        use crate::Catalog as _;
        let (t, op) = ("t".parse().unwrap(), "op-1".parse().unwrap());
        let mut atr = Vec::new();
        assert!(cat.reply(&t, &op, &mut atr).unwrap());
        assert_eq!(String::from_utf8(atr).unwrap(), "<ATR>é</ATR>");
        assert!(cat.operation(&t, &op).unwrap().unwrap().has_reply);
    }

    #[test]
    fn events_of_schema_2_are_linked_into_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(super::MIGRATIONS[0]).unwrap();
            conn.execute_batch(super::MIGRATIONS[1]).unwrap();
            conn.execute_batch(
                r#"PRAGMA user_version = 2;
                 INSERT INTO tenants VALUES ('t', 'T', 'x'), ('u', 'U', 'x');
                 INSERT INTO journal VALUES
                   ('t', 1, 1, 'op-1', 'TENANT_CREATE', 'OK', '2026-11-28T10:00:00Z', 'cli', '{}'),
                   ('u', 1, 1, 'op-2', 'TENANT_CREATE', 'OK', '2026-11-28T10:00:01Z', 'cli', '{}'),
                   ('t', 2, 1, 'op-3', 'INGEST', 'KO', '2026-11-28T10:00:02Z', 'cli', '{"units":0}');"#,
            )
            .unwrap();
        }
        let cat = super::SqliteCatalog::open(&path).unwrap();
        use crate::Catalog as _;
        for t in ["t", "u"] {
            let events = cat.journal(&t.parse().unwrap()).unwrap();
            assert!(events.iter().all(|e| e.hash.len() == 64));
            assert_eq!(events[0].previous, carnac_model::journal::GENESIS);
            assert!(carnac_model::journal::verify_chain(&events).is_empty());
        }
        // Once linked, an event cannot change.
        let upd = cat.lock().execute("UPDATE journal SET hash = 'x'", []);
        assert!(upd.unwrap_err().to_string().contains("append-only"));
        let ins = cat.lock().execute(
            "INSERT INTO journal (tenant, sequence, format_version, operation, kind, outcome, time, agent, detail)
             VALUES ('t', 3, 1, 'op-4', 'X', 'OK', 'x', 'x', '{}')",
            [],
        );
        assert!(ins.unwrap_err().to_string().contains("with its hash"));
    }

    #[test]
    fn reopening_keeps_data_and_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        {
            let cat = super::SqliteCatalog::open(&path).unwrap();
            crate::conformance::run(&cat);
        }
        let cat = super::SqliteCatalog::open(&path).unwrap();
        use crate::Catalog as _;
        assert!(!cat.tenants().unwrap().is_empty());
        let v: i64 = cat
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, super::MIGRATIONS.len() as i64);
    }

    /// A catalog made before the search's counts and narrow copy (schema 12) gets both
    /// from the units it holds when it is opened, and its one free-text index for all
    /// tenants becomes one per tenant that finds what the searches found before.
    #[test]
    fn units_of_schema_12_are_counted_copied_and_indexed_by_tenant() {
        use crate::{Catalog as _, UnitQuery};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let searches = |cat: &super::SqliteCatalog| -> Vec<(u64, Vec<String>)> {
            let word = |w: &str| UnitQuery {
                text: Some(w.into()),
                limit: 50,
                ..Default::default()
            };
            [
                ("conf-s", word("travaux")),
                ("conf-s", word("homonyme")),
                ("conf-s2", word("secrète")),
                ("CONF-S", word("homonyme")),
                (
                    "conf-s",
                    UnitQuery {
                        agency: Some("AG1".into()),
                        ..word("finances")
                    },
                ),
            ]
            .into_iter()
            .map(|(t, q)| {
                let page = cat
                    .search_units(&t.parse().unwrap(), &q, &crate::Interrupt::none())
                    .unwrap();
                let ids = page.units.iter().map(|u| u.id.to_string()).collect();
                (page.total, ids)
            })
            .collect()
        };
        let before;
        {
            let cat = super::SqliteCatalog::open(&path).unwrap();
            crate::conformance::run(&cat);
            before = searches(&cat);
            let conn = cat.lock();
            let per_tenant: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'unit_text_*' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(per_tenant.len() >= 4, "{per_tenant:?}");
            for table in per_tenant {
                conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
            }
            conn.execute_batch(
                "DROP TRIGGER unit_derived_delete; DROP TRIGGER unit_derived_update;
                 DROP TABLE unit_counts; DROP TABLE unit_facets; DROP INDEX units_reach;
                 CREATE INDEX units_reach ON units(tenant, COALESCE(end_date, start_date));
                 CREATE VIRTUAL TABLE unit_text USING fts5(title, body, tags, tokenize = 'unicode61 remove_diacritics 2');
                 PRAGMA user_version = 12;",
            )
            .unwrap();
        }
        let cat = super::SqliteCatalog::open(&path).unwrap();
        {
            let conn = cat.lock();
            let kept = derived_tables_agree(&conn);
            assert!(kept.iter().map(|k| k.2).sum::<i64>() > 2_000, "{kept:?}");
        }
        let after = searches(&cat);
        assert_eq!(after, before);
        assert_eq!(after[0].0, 3);
        assert_eq!(after[1], (0, vec![]));
        assert_eq!(after[3], (1, vec!["CONF-S-u0".to_owned()]));
    }

    /// A tenant's text index that names another tenant's unit (out of step with the units,
    /// whatever the cause) never shows that unit: the tenant is checked again where the
    /// matches are counted and sorted, and a page read beyond them fails, naming the row.
    #[test]
    fn a_foreign_row_in_a_text_index_is_never_shown() {
        use crate::conformance::{tenant_with_units, unit};
        use crate::{Catalog as _, UnitQuery};
        let cat = super::SqliteCatalog::in_memory().unwrap();
        tenant_with_units(&cat, "ta", [unit("a-1", &[], &[])].into_iter());
        let mut secret = unit("b-1", &[], &[]);
        secret.title = "Rapport confidentiel".into();
        tenant_with_units(&cat, "tb", [secret].into_iter());
        let q = UnitQuery {
            text: Some("confidentiel".into()),
            limit: 10,
            ..Default::default()
        };
        let ta = "ta".parse().unwrap();
        let insert = |rowid: i64| {
            cat.lock()
                .execute(
                    &format!(
                        "INSERT INTO {} (rowid, title, body, tags) VALUES (?1, 'Rapport confidentiel', '', '')",
                        super::text_table("ta")
                    ),
                    [rowid],
                )
                .unwrap();
        };
        let foreign: i64 = cat
            .lock()
            .query_row("SELECT rowid FROM units WHERE tenant = 'tb'", [], |r| {
                r.get(0)
            })
            .unwrap();
        insert(foreign);
        let with_date = UnitQuery {
            from: Some("1900-01-01".into()),
            ..q.clone()
        };
        for q in [&q, &with_date] {
            let page = cat.search_units(&ta, q, &crate::Interrupt::none()).unwrap();
            assert_eq!((page.total, page.units.len()), (0, 0), "{q:?}");
        }
        // Beyond the window, the page comes from the index's order: its first row is the
        // foreign one.
        for rowid in foreign + 1000..foreign + 3000 {
            insert(rowid);
        }
        match cat.search_units(&ta, &q, &crate::Interrupt::none()) {
            Err(crate::CatalogError::Corruption(m)) => {
                assert!(
                    m.contains(&format!(
                        "unit row {foreign}, which is not one of its units"
                    )),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    /// Events appended from many threads at once (group commit): every one is kept, once,
    /// in one unbroken chain.
    #[test]
    fn concurrent_appends_are_all_kept_in_one_chain() {
        use crate::Catalog as _;
        use carnac_model::journal::NewEvent;
        use carnac_model::{OperationId, Status, TenantId};
        let dir = tempfile::tempdir().unwrap();
        let cat =
            std::sync::Arc::new(super::SqliteCatalog::open(&dir.path().join("c.sqlite")).unwrap());
        let t = TenantId::new("t").unwrap();
        let ev = |op: String| NewEvent {
            tenant: TenantId::new("t").unwrap(),
            operation: OperationId::new(op).unwrap(),
            kind: "ACCESS".into(),
            outcome: Status::Ok,
            time: "2026-11-29T04:00:00Z".into(),
            agent: "test".into(),
            detail: serde_json::json!({}),
        };
        cat.create_tenant(&t, "T", &ev("op-create".into())).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let cat = cat.clone();
                std::thread::spawn(move || {
                    for j in 0..25 {
                        cat.append_events(&[ev(format!("op-{i}-{j}"))]).unwrap();
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        let journal = cat.journal(&t).unwrap();
        assert_eq!(journal.len(), 1 + 8 * 25);
        let mut ops: Vec<_> = journal
            .iter()
            .map(|e| e.event.operation.to_string())
            .collect();
        ops.sort();
        ops.dedup();
        assert_eq!(ops.len(), journal.len(), "each event once");
        let mut verifier = carnac_model::journal::ChainVerifier::new();
        for e in &journal {
            verifier.push(e);
        }
        assert!(verifier.finish().is_empty(), "one unbroken chain");
    }

    fn units_found(c: &super::SqliteCatalog, tenant: &str) -> u64 {
        use crate::Catalog as _;
        let q = crate::UnitQuery {
            text: Some("title".into()),
            limit: 10,
            ..Default::default()
        };
        let page = c
            .search_units(
                &crate::conformance::t(tenant),
                &q,
                &crate::Interrupt::none(),
            )
            .unwrap();
        page.total
    }

    /// When the first search reader's snapshot began, if it holds one (searches one at a
    /// time always take the first reader).
    fn first_snapshot(c: &super::SqliteCatalog) -> Option<std::time::Instant> {
        c.searches.readers[0]
            .lock()
            .unwrap()
            .snapshot
            .map(|s| s.began)
    }

    #[test]
    fn searches_keep_their_snapshot_only_while_what_they_read_is_unchanged() {
        use crate::Catalog as _;
        use crate::conformance::{event, ingest_units, tenant_with_units, unit};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let cat = super::SqliteCatalog::open(&path).unwrap();
        // Ages do not end snapshots in this test, however slow the machine, until said.
        let max_age = |ms: u64| cat.searches.max_age_ms.store(ms, super::Ordering::Relaxed);
        max_age(3_600_000);
        tenant_with_units(
            &cat,
            "snap",
            ["u0", "u1"].iter().map(|id| unit(id, &[], &[])),
        );
        assert_eq!(units_found(&cat, "snap"), 2);
        let kept = first_snapshot(&cat);
        assert!(kept.is_some(), "a search keeps its snapshot");
        // A request's access event: the next search reads the same snapshot, page cache
        // and all.
        cat.append_events(&[event(
            "snap",
            "op-access",
            "ACCESS",
            carnac_model::Status::Ok,
        )])
        .unwrap();
        assert_eq!(units_found(&cat, "snap"), 2);
        assert_eq!(first_snapshot(&cat), kept);
        // A change through this catalog: seen by the next search.
        ingest_units(&cat, "snap", "op-more", [unit("u2", &[], &[])].into_iter());
        assert_eq!(units_found(&cat, "snap"), 3);
        assert_ne!(first_snapshot(&cat), kept);
        // A change by another process: not seen while the snapshot is young enough, seen
        // once it is older than the age allowed.
        let other = super::SqliteCatalog::open(&path).unwrap();
        ingest_units(
            &other,
            "snap",
            "op-other",
            [unit("u3", &[], &[])].into_iter(),
        );
        assert_eq!(units_found(&cat, "snap"), 3);
        max_age(50);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(units_found(&cat, "snap"), 4);
    }

    #[test]
    fn closing_the_catalog_copies_the_log_back_and_removes_it() {
        use crate::conformance::{tenant_with_units, unit};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let log = dir.path().join("catalog.sqlite-wal");
        let cat = super::SqliteCatalog::open(&path).unwrap();
        tenant_with_units(&cat, "close", ["u0"].iter().map(|id| unit(id, &[], &[])));
        assert_eq!(units_found(&cat, "close"), 1);
        assert!(log.exists());
        drop(cat);
        assert!(!log.exists(), "the writer closed last and removed the log");
        let cat = super::SqliteCatalog::open(&path).unwrap();
        assert_eq!(units_found(&cat, "close"), 1);
    }

    #[test]
    fn the_log_starts_again_while_searches_hold_snapshots() {
        use crate::Catalog as _;
        use crate::conformance::{event, tenant_with_units, unit};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let cat = super::SqliteCatalog::open(&path).unwrap();
        // Only the restart ends the snapshot in this test, however slow the machine.
        cat.searches
            .max_age_ms
            .store(3_600_000, super::Ordering::Relaxed);
        tenant_with_units(&cat, "log", ["u0"].iter().map(|id| unit(id, &[], &[])));
        let access = |i: usize| {
            cat.append_events(&[event(
                "log",
                &format!("op-{i}"),
                "ACCESS",
                carnac_model::Status::Ok,
            )])
            .unwrap()
        };
        let conn = rusqlite::Connection::open(&path).unwrap();
        let frames = || -> i64 {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
                .unwrap()
        };
        // A search's snapshot pins the log: checkpoints cannot copy it back past the
        // snapshot, so the writer cannot start it again, and it grows.
        assert_eq!(units_found(&cat, "log"), 1);
        for i in 0..40 {
            access(i);
        }
        let grown = frames();
        access(40);
        assert!(frames() > grown, "the log grows while a snapshot pins it");
        // Past the threshold, the tick ends idle snapshots and restarts the log: the next
        // commit writes it from its beginning.
        super::checkpoint(&conn, &cat.searches, grown / 2).unwrap();
        assert_eq!(first_snapshot(&cat), None);
        access(41);
        assert!(frames() < grown / 2, "the log started again");
        // Searches keep snapshots again afterwards.
        assert_eq!(units_found(&cat, "log"), 1);
        assert!(first_snapshot(&cat).is_some());
    }

    /// Beyond the exact count, a search stays bounded: the count stops, there are no facets,
    /// the order is the index's, and the answer says so.
    #[test]
    fn wide_searches_are_capped_and_say_it() {
        use crate::{Catalog as _, UnitQuery, UnitRow};
        use carnac_model::{TenantId, UnitId};
        let cat = super::SqliteCatalog::in_memory().unwrap();
        let n = super::EXACT_UP_TO + 50;
        let units = (0..n).map(|i| UnitRow {
            id: UnitId::new(format!("u{i:06}")).unwrap(),
            xml_id: format!("U{i}"),
            title: format!("Délibération {i}"),
            description_level: None,
            start_date: Some("2020-01-01".into()),
            end_date: None,
            originating_agency: Some(format!("AG{}", i % 3)),
            parents: Vec::new(),
            object_groups: Vec::new(),
            keywords: Vec::new(),
            rules: Vec::new(),
            metadata: "<ArchiveUnit/>".into(),
        });
        crate::conformance::tenant_with_units(&cat, "t", units);
        let t = TenantId::new("t").unwrap();
        let wide = cat
            .search_units(
                &t,
                &UnitQuery {
                    text: Some("délibération".into()),
                    limit: 5,
                    ..Default::default()
                },
                &crate::Interrupt::none(),
            )
            .unwrap();
        assert_eq!(
            (wide.total, wide.total_exact, wide.order.as_str()),
            (super::EXACT_UP_TO, false, "ingest")
        );
        assert_eq!(wide.units.len(), 5);
        // No facets beyond the count: those of the first matches would mislead.
        assert!(wide.agencies.is_empty() && wide.years.is_empty());
        let all = cat
            .search_units(
                &t,
                &UnitQuery {
                    limit: 5,
                    ..Default::default()
                },
                &crate::Interrupt::none(),
            )
            .unwrap();
        // Without criteria, the counts kept at commit make the total exact all the same.
        assert_eq!(
            (all.total, all.total_exact, all.order.as_str()),
            (n, true, "identifier")
        );
        assert_eq!(all.units[0].id.as_str(), "u000000");
        // A narrower search is exact, in relevance or title order.
        let narrow = cat
            .search_units(
                &t,
                &UnitQuery {
                    text: Some("délibération 42".into()),
                    limit: 5,
                    ..Default::default()
                },
                &crate::Interrupt::none(),
            )
            .unwrap();
        assert_eq!(
            (narrow.total, narrow.total_exact, narrow.order.as_str()),
            (1, true, "relevance")
        );
        let agency = cat
            .search_units(
                &t,
                &UnitQuery {
                    agency: Some("AG1".into()),
                    limit: 5,
                    ..Default::default()
                },
                &crate::Interrupt::none(),
            )
            .unwrap();
        assert_eq!(
            (agency.total, agency.total_exact, agency.order.as_str()),
            (n / 3, true, "title")
        );
        // The kept counts and the narrow copy follow units removed or changed (elimination
        // will), in the same statement's transaction, and always equal a recount.
        let conn = cat.lock();
        conn.execute_batch(
            "DELETE FROM units WHERE id IN ('u000001', 'u000004');
             UPDATE units SET originating_agency = NULL, start_date = '1999-12-31' WHERE id = 'u000002';",
        )
        .unwrap();
        let kept = derived_tables_agree(&conn);
        assert!(kept.contains(&("t/".into(), "1999".into(), 1)));
        assert!(kept.contains(&("t/AG1".into(), "2020".into(), (n / 3) as i64 - 2)));
    }

    /// Asserts that the search's kept counts (rows above zero) and narrow copy are what a
    /// recount of the units gives; returns the counts as (tenant/agency, year, n).
    fn derived_tables_agree(conn: &rusqlite::Connection) -> Vec<(String, String, i64)> {
        let read = |sql: &str| -> Vec<(String, String, i64)> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let kept = read(
            "SELECT tenant || '/' || agency, year, n FROM unit_counts WHERE n > 0 ORDER BY 1, 2",
        );
        assert_eq!(
            kept,
            read(
                "SELECT tenant || '/' || COALESCE(originating_agency, ''), COALESCE(substr(start_date, 1, 4), ''), COUNT(*)
                 FROM units GROUP BY 1, 2 ORDER BY 1, 2"
            )
        );
        let copy = |table: &str, key: &str| {
            read(&format!(
                "SELECT tenant || '/' || {key}, COALESCE(originating_agency, '') || '|' || COALESCE(start_date, '') || '|' || COALESCE(end_date, ''), 0
                 FROM {table} ORDER BY {key}"
            ))
        };
        assert_eq!(copy("unit_facets", "unit"), copy("units", "rowid"));
        kept
    }
}
