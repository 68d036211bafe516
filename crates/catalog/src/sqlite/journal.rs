//! The journal: events appended with their hash-chain links, in the transaction of their
//! change; requests' events committed in groups; seals.

use super::*;

/// The state of the group commit of journal events.
#[derive(Default)]
pub(super) struct Group {
    pub(super) pending: Vec<NewEvent>,
    /// Tickets handed out (one per call) and committed, in order.
    pub(super) issued: u64,
    pub(super) committed: u64,
    /// Recent batches that failed: (first ticket, last ticket, why).
    pub(super) failures: Vec<(u64, u64, String)>,
}

pub(super) fn append_event(tx: &Transaction<'_>, event: &NewEvent) -> Result<u64, CatalogError> {
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
        .map_err(CatalogError::storage)?;
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
            event.kind.as_str(),
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
pub(super) fn backfill_chain(conn: &mut Connection) -> Result<(), CatalogError> {
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

pub(super) const EVENT_COLUMNS: &str = "tenant, sequence, format_version, operation, kind, outcome, time, agent, detail, previous_hash, hash";

pub(super) fn raw_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEvent> {
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

impl JournalStore for SqliteCatalog {
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
                    Some((_, _, e)) => Err(CatalogError::storage_failed(e.clone())),
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
                    seal.stamped_at.as_str(),
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
                stamped_at: stored_time(stamped_at)?,
                tsa,
                operation: parse_id("operation id", operation)?,
            })
        })
        .collect()
    }

    fn last_sequence(&self, tenant: &TenantId) -> Result<u64, CatalogError> {
        let conn = self.read();
        let last: Option<i64> = conn
            .query_row(
                "SELECT MAX(sequence) FROM journal WHERE tenant = ?1",
                [tenant.as_str()],
                |r| r.get(0),
            )
            .map_err(storage)?;
        Ok(last.unwrap_or(0) as u64)
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
    fn each_event_about(
        &self,
        tenant: &TenantId,
        about: &[JournalSubject],
        after: u64,
        each: &mut dyn FnMut(JournalRow) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        // The keys migration 24's trigger writes for each event.
        let keys: Vec<String> = about
            .iter()
            .map(|s| match s {
                JournalSubject::Operation(id) => format!("o:{id}"),
                JournalSubject::Named(id) => format!("s:{id}"),
                JournalSubject::Audits => "k:AUDIT".to_owned(),
            })
            .collect();
        let keys = serde_json::to_string(&keys).map_err(CatalogError::storage)?;
        // A reader: a history page never waits for an ingest's commit.
        let conn = self.read();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM journal
                 WHERE tenant = ?1 AND sequence IN (
                     SELECT sequence FROM journal_subjects
                     WHERE tenant = ?1 AND subject IN (SELECT value FROM json_each(?2))
                       AND sequence > ?3)
                 ORDER BY sequence"
            ))
            .map_err(storage)?;
        let rows = st
            .query_map(params![tenant.as_str(), keys, after as i64], raw_event)
            .map_err(storage)?;
        for row in rows {
            each(
                to_event(row.map_err(storage)?)
                    .map_err(|(sequence, reason)| UnreadableEvent { sequence, reason }),
            )?;
        }
        Ok(())
    }
}
