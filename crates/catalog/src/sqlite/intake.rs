//! The transfer queue, the as@lae intake's messages and transfers' acknowledgements.

use super::*;

pub(super) fn insert_queued(
    tx: &rusqlite::Transaction<'_>,
    transfer: &QueuedTransfer,
    node: &str,
) -> Result<(), CatalogError> {
    tx.execute(
        "INSERT INTO transfer_queue (tenant, operation, received_at, agent, bytes, intake, node)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            transfer.tenant.as_str(),
            transfer.operation.as_str(),
            transfer.received_at.as_str(),
            transfer.agent,
            transfer.bytes as i64,
            transfer.intake.as_str(),
            node
        ],
    )
    .map_err(storage)?;
    Ok(())
}

impl IntakeQueue for SqliteCatalog {
    fn enqueue_transfer(
        &self,
        transfer: &QueuedTransfer,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(&transfer.tenant, event)?;
        self.write(|tx| {
            insert_queued(tx, transfer, &self.node)?;
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
            insert_queued(tx, transfer, &self.node)?;
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
                received_at: stored_time(received_at)?,
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
                    received_at: stored_time(received_at)?,
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
}
