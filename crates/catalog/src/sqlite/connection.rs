//! The connections: one writer (closed last, so that closing copies the log back and removes
//! it), read-only readers for requests, search readers that keep their snapshot from one
//! search to the next while nothing changed, and the thread that checkpoints the log.

use super::*;

/// How often the write-ahead log is copied back into the database file.
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Frames in the write-ahead log (64 MiB of 4 KiB pages) beyond which the checkpoint thread
/// makes the log start again from its beginning. The writer does that by itself when it
/// finds the whole log copied back and no reader in it; under steady load (every request
/// commits its access event, searches overlap) that moment may never come, and the log
/// would grow for as long as the load lasts.
pub(super) const LOG_RESTART_FRAMES: i64 = 16_384;

/// How long a restart of the log may hold back writers (it waits for the readers still in
/// the log, and writers wait for it) before it gives up until the next tick.
pub(super) const LOG_RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The most frames a restart of the log may have to copy back itself (4 MiB).
pub(super) const LOG_RESTART_REMAINDER: i64 = 1_024;

/// The largest write-ahead log file kept once the log has started again (an ingest of a
/// hundred thousand units leaves a log of gigabytes otherwise).
pub(super) const LOG_FILE_KEPT: i64 = 64 << 20;

/// Checkpoints the log beside the writer: left to SQLite, the commit that crosses its
/// threshold copies the log and syncs the database file itself, and every request waiting
/// for that commit (each request's journal event) waits for the checkpoint too. A passive
/// checkpoint from another connection never blocks the writer or readers.
pub(super) fn checkpoint_in_background(
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
        .map_err(|e| CatalogError::storage_in("cannot start the checkpoint thread", e))?;
    Ok((stop, thread))
}

/// One tick of the checkpoint thread: a log of more than `restart_frames` starts again.
pub(super) fn checkpoint(
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
pub(super) const SNAPSHOT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// A read-only connection for searches that keeps its read transaction open from one search
/// to the next. SQLite empties a connection's page cache whenever its next read transaction
/// finds the file changed, and every request journals its access: with a transaction per
/// search, each search read its pages again from the OS (measured at a million units: a
/// word within an agency and dates, 8 ms with the cache kept, 15 ms emptied).
pub(super) struct SearchReader {
    pub(super) conn: Connection,
    pub(super) snapshot: Option<Snapshot>,
}

pub(super) struct SearchPool {
    pub(super) readers: Vec<Mutex<SearchReader>>,
    /// Set while the log waits to start again: snapshots end with their search.
    pub(super) release: AtomicBool,
    /// SNAPSHOT_MAX_AGE in milliseconds (tests change it).
    pub(super) max_age_ms: AtomicU64,
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
pub(super) struct Snapshot {
    pub(super) began: std::time::Instant,
    /// The catalog's generation when it began.
    pub(super) generation: u64,
}

impl SearchReader {
    pub(super) fn end_snapshot(&mut self) {
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
pub(super) struct WriterGuard<'a> {
    pub(super) conn: MutexGuard<'a, Connection>,
    pub(super) generation: &'a AtomicU64,
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
pub(super) enum ReadConn<'a> {
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
    pub(super) fn end_snapshot(&mut self) {
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

/// Read-only connections of a file catalog.
pub(super) const READERS: usize = 4;

/// Turns off SQLite's memory statistics, once per process and before its first connection.
/// With them (the default of most builds, Debian's among them), every allocation SQLite
/// makes takes one process-wide mutex to count itself: searches running side by side then
/// queue on that mutex (measured at a million units with 16 concurrent searches: a quarter
/// of the process's time in that lock and the kernel's wake-ups). Nothing here reads the
/// statistics. rusqlite has no safe call for this, hence the FFI.
pub(super) fn configure_sqlite() {
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

    pub(super) fn setup(mut conn: Connection) -> Result<SqliteCatalog, CatalogError> {
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
        // Foreign keys are off while migrating (a rebuilt table is dropped and replaced, as
        // SQLite's manual says to) and checked before each migration commits.
        let migrating = (version as usize) < MIGRATIONS.len();
        if migrating {
            conn.execute_batch("PRAGMA foreign_keys = OFF")
                .map_err(storage)?;
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            tx.execute_batch(sql).map_err(storage)?;
            if i == TEXT_MIGRATION {
                index_existing_units(&tx)?;
            }
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()
                .map_err(storage)?;
            if let Some(table) = broken {
                return Err(CatalogError::Corruption(format!(
                    "migration {} leaves a row of {table} whose reference is missing",
                    i + 1
                )));
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(storage)?;
            tx.commit().map_err(storage)?;
        }
        if migrating {
            conn.execute_batch("PRAGMA foreign_keys = ON")
                .map_err(storage)?;
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
            node: crate::new_node_name()?,
        })
    }

    /// A connection to read with: a free reader if there is one, else the next in turn (or
    /// the writer's, for an in-memory catalog, which has no other).
    pub(super) fn read(&self) -> ReadConn<'_> {
        if self.readers.is_empty() {
            return ReadConn::Writer(self.lock());
        }
        ReadConn::Reader(self.pick(&self.readers))
    }

    /// A connection to search with, in a read transaction: the snapshot of an earlier search
    /// if nothing has been changed through this catalog since and it is recent, else a new
    /// one.
    pub(super) fn search_read(&self) -> Result<ReadConn<'_>, CatalogError> {
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
    pub(super) fn pick<'a, T>(&self, pool: &'a [Mutex<T>]) -> MutexGuard<'a, T> {
        for r in pool {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % pool.len();
        pool[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn lock(&self) -> WriterGuard<'_> {
        WriterGuard {
            conn: self.lock_for_events(),
            generation: &self.generation,
        }
    }

    /// The writer, for appending journal events only: searches keep their snapshots.
    pub(super) fn lock_for_events(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back (the Transaction's drop),
        // so the connection is usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn write<T>(
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
