//! The SQLite catalog: one file, WAL, synchronous commits (an acknowledged ingest survives a
//! power cut), schema versioned with forward migrations.
//!
//! One writing connection (SQLite has one writer anyway, and an ingest's commit is one short
//! transaction at its end, after every byte is stored and checked), read-only connections
//! beside it for requests and searches, and a thread that checkpoints the log
//! (`connection`).
//!
//! One file per aggregate (each implements one of the catalog's traits), the connection
//! machinery (`connection`) and the schema's migrations (`migrations`, numbered SQL files).

mod accounts;
mod connection;
mod deliveries;
mod eliminations;
mod evidence;
mod holdings;
mod intake;
mod journal;
mod metadata;
mod migrations;
mod nodes;
mod operations;
mod referentials;
mod search;
mod sessions;
mod tenants;
#[cfg(test)]
mod tests;

use self::{connection::*, journal::*, migrations::*, operations::*, search::*};
use crate::rows::*;
use crate::*;
use carnac_model::journal::{EVENT_FORMAT_VERSION, GENESIS, event_hash};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// This process's name among the catalog's nodes.
    node: String,
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

fn storage(e: rusqlite::Error) -> CatalogError {
    CatalogError::storage(e)
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
            event.kind.as_str(),
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

/// A time column as a [`Timestamp`]: a stored text that is not RFC 3339 is an error that
/// names its column, never a silent string.
pub(super) fn time_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Timestamp> {
    let text: String = r.get(i)?;
    Timestamp::parse(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A time column that may be NULL.
pub(super) fn optional_time_at(
    r: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = r.get(i)?;
    text.map(|t| {
        Timestamp::parse(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}
