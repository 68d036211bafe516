//! The journal: events appended with their hash-chain links under the tenant's lock, in the
//! transaction of their change; seals.

use super::*;
use carnac_catalog::{JournalRow, JournalStore, JournalSubject, SealRow, UnreadableEvent};
use carnac_model::journal::{EVENT_FORMAT_VERSION, EventKind, GENESIS, event_hash};
use postgres::fallible_iterator::FallibleIterator;

/// Appends `event` to its tenant's chain. The tenant's lock (taken here if the transaction
/// has not yet) makes the read of the chain's head and the insert one step for every node.
pub(crate) fn append_event(
    tx: &mut Transaction<'_>,
    event: &NewEvent,
) -> Result<u64, CatalogError> {
    lock_tenant(tx, &event.tenant)?;
    let t = event.tenant.as_str();
    let last = tx
        .query_opt(
            "SELECT sequence, hash FROM journal WHERE tenant = $1 ORDER BY sequence DESC LIMIT 1",
            &[&t],
        )
        .map_err(storage)?;
    let (next, previous) = match last {
        None => (1i64, GENESIS.to_owned()),
        Some(row) => (row.get::<_, i64>(0) + 1, row.get::<_, String>(1)),
    };
    let hash = event_hash(EVENT_FORMAT_VERSION, next as u64, event, &previous)
        .map_err(CatalogError::storage)?;
    tx.execute(
        "INSERT INTO journal (tenant, sequence, format_version, operation, kind, outcome, time,
                              agent, detail, previous_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &t,
            &next,
            &i64::from(EVENT_FORMAT_VERSION),
            &event.operation.as_str(),
            &event.kind.as_str(),
            &event.outcome.as_str(),
            &event.time,
            &event.agent,
            &event.detail.to_string(),
            &previous,
            &hash,
        ],
    )
    .map_err(storage)?;
    let subjects = subject_keys(event);
    tx.execute(
        "INSERT INTO journal_subjects (tenant, subject, sequence)
         SELECT $1, s, $3 FROM unnest($2::text[]) s ON CONFLICT DO NOTHING",
        &[&t, &subjects, &next],
    )
    .map_err(storage)?;
    Ok(next as u64)
}

/// The keys under which an event is found by [`JournalSubject`]: the same rule as
/// [`JournalSubject::concerns`], written with the event.
fn subject_keys(event: &NewEvent) -> Vec<String> {
    let mut keys = vec![format!("o:{}", event.operation)];
    let detail = |key: &str| event.detail.get(key).and_then(|v| v.as_str());
    if let Some(of) = detail("of") {
        keys.push(format!("o:{of}"));
    }
    for key in ["object", "subject"] {
        if let Some(id) = detail(key) {
            keys.push(format!("s:{id}"));
        }
    }
    if event.kind == EventKind::Audit {
        keys.push("k:AUDIT".to_owned());
    }
    keys
}

fn subject_key(s: &JournalSubject) -> String {
    match s {
        JournalSubject::Operation(id) => format!("o:{id}"),
        JournalSubject::Named(id) => format!("s:{id}"),
        JournalSubject::Audits => "k:AUDIT".to_owned(),
    }
}

const EVENT_COLUMNS: &str = "tenant, sequence, format_version, operation, kind, outcome, time, agent, detail, previous_hash, hash";

fn raw_event(r: &postgres::Row) -> Result<RawEvent, CatalogError> {
    Ok(RawEvent {
        tenant: r.try_get(0).map_err(storage)?,
        sequence: r.try_get(1).map_err(storage)?,
        format_version: r.try_get(2).map_err(storage)?,
        operation: r.try_get(3).map_err(storage)?,
        kind: r.try_get(4).map_err(storage)?,
        outcome: r.try_get(5).map_err(storage)?,
        time: r.try_get(6).map_err(storage)?,
        agent: r.try_get(7).map_err(storage)?,
        detail: r.try_get(8).map_err(storage)?,
        previous: r.try_get(9).map_err(storage)?,
        hash: r.try_get(10).map_err(storage)?,
    })
}

impl PostgresCatalog {
    /// Streams the rows of `sql` to `each` as events.
    fn stream_events(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        each: &mut dyn FnMut(JournalRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn()?;
        let mut rows = conn
            .query_raw(sql, params.iter().copied())
            .map_err(storage)?;
        while let Some(row) = rows.next().map_err(storage)? {
            each(
                to_event(raw_event(&row)?)
                    .map_err(|(sequence, reason)| UnreadableEvent { sequence, reason }),
            )?;
        }
        Ok(())
    }
}

impl JournalStore for PostgresCatalog {
    fn append_events(&self, events: &[NewEvent]) -> Result<(), CatalogError> {
        if events.is_empty() {
            return Ok(());
        }
        self.write(None, |tx| {
            for e in events {
                append_event(tx, e)?;
            }
            Ok(())
        })
    }

    fn each_event(
        &self,
        tenant: &TenantId,
        after: u64,
        each: &mut dyn FnMut(JournalRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        self.stream_events(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM journal WHERE tenant = $1 AND sequence > $2 ORDER BY sequence"
            ),
            &[&tenant.as_str(), &big(after)],
            each,
        )
    }

    fn each_event_about(
        &self,
        tenant: &TenantId,
        about: &[JournalSubject],
        after: u64,
        each: &mut dyn FnMut(JournalRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let keys: Vec<String> = about.iter().map(subject_key).collect();
        self.stream_events(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM journal
                 WHERE tenant = $1 AND sequence IN (
                     SELECT sequence FROM journal_subjects
                     WHERE tenant = $1 AND subject = ANY($2) AND sequence > $3)
                 ORDER BY sequence"
            ),
            &[&tenant.as_str(), &keys, &big(after)],
            each,
        )
    }

    fn last_sequence(&self, tenant: &TenantId) -> Result<u64, CatalogError> {
        let last: Option<i64> = self
            .conn()?
            .query_one(
                "SELECT MAX(sequence) FROM journal WHERE tenant = $1",
                &[&tenant.as_str()],
            )
            .map_err(storage)?
            .get(0);
        Ok(unsigned(last.unwrap_or(0)))
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
        self.write(Some(tenant), |tx| {
            let last = tx
                .query_opt(
                    "SELECT last, sealed FROM journal_seals WHERE tenant = $1 ORDER BY last DESC LIMIT 1",
                    &[&t],
                )
                .map_err(storage)?;
            let (expected_first, expected_previous) = match last {
                None => (1, GENESIS.to_owned()),
                Some(r) => (unsigned(r.get::<_, i64>(0)) + 1, r.get::<_, String>(1)),
            };
            if seal.first != expected_first || seal.previous != expected_previous {
                return Err(CatalogError::Conflict(format!(
                    "a seal of events {}..{} after another seal",
                    seal.first, seal.last
                )));
            }
            tx.execute(
                "INSERT INTO journal_seals (tenant, first, last, merkle_root, previous, sealed, token,
                                            stamped_at, tsa, operation)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &t,
                    &big(seal.first),
                    &big(seal.last),
                    &seal.merkle_root,
                    &seal.previous,
                    &seal.sealed,
                    &seal.token,
                    &seal.stamped_at.as_str(),
                    &seal.tsa,
                    &seal.operation.as_str(),
                ],
            )
            .map_err(storage)?;
            let n = tx
                .execute(
                    "UPDATE operations SET state = 'DONE', status = $3, ended_at = $4, summary = $5
                     WHERE tenant = $1 AND id = $2 AND state = 'RUNNING'",
                    &[
                        &t,
                        &event.operation.as_str(),
                        &event.outcome.as_str(),
                        &event.time,
                        &summary.to_string(),
                    ],
                )
                .map_err(storage)?;
            if n != 1 {
                return Err(CatalogError::NotFound(format!(
                    "running operation {}",
                    event.operation
                )));
            }
            append_event(tx, event)
        })
    }

    fn seals(&self, tenant: &TenantId) -> Result<Vec<SealRow>, CatalogError> {
        let rows = self
            .conn()?
            .query(
                "SELECT first, last, merkle_root, previous, sealed, token, stamped_at, tsa, operation
                 FROM journal_seals WHERE tenant = $1 ORDER BY last",
                &[&tenant.as_str()],
            )
            .map_err(storage)?;
        rows.iter()
            .map(|r| {
                Ok(SealRow {
                    first: unsigned(r.get(0)),
                    last: unsigned(r.get(1)),
                    merkle_root: r.get(2),
                    previous: r.get(3),
                    sealed: r.get(4),
                    token: r.get(5),
                    stamped_at: stored_time(r.get(6))?,
                    tsa: r.get(7),
                    operation: parse_id("operation id", r.get(8))?,
                })
            })
            .collect()
    }
}
