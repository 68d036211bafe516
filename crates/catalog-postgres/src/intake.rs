//! The transfer queue, the as@lae intake's messages and transfers' acknowledgements.

use super::*;
use carnac_catalog::{IntakeMessage, IntakeQueue, QueuedTransfer};
use carnac_model::OperationId;

fn insert_queued(
    tx: &mut Transaction<'_>,
    transfer: &QueuedTransfer,
    node: &str,
) -> Result<(), CatalogError> {
    tx.execute(
        "INSERT INTO transfer_queue (tenant, operation, received_at, agent, bytes, intake, node)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &transfer.tenant.as_str(),
            &transfer.operation.as_str(),
            &transfer.received_at.as_str(),
            &transfer.agent,
            &big(transfer.bytes),
            &transfer.intake.as_str(),
            &node,
        ],
    )
    .map_err(storage)?;
    Ok(())
}

fn to_queued(r: &postgres::Row) -> Result<QueuedTransfer, CatalogError> {
    Ok(QueuedTransfer {
        tenant: parse_id("tenant id", r.get(0))?,
        operation: parse_id("operation id", r.get(1))?,
        received_at: stored_time(r.get(2))?,
        agent: r.get(3),
        bytes: unsigned(r.get(4)),
        intake: parse_intake(r.get(5))?,
    })
}

const QUEUED_COLUMNS: &str = "tenant, operation, received_at, agent, bytes, intake";

impl IntakeQueue for PostgresCatalog {
    fn enqueue_transfer(
        &self,
        transfer: &QueuedTransfer,
        event: &NewEvent,
    ) -> Result<(), CatalogError> {
        check_event_tenant(&transfer.tenant, event)?;
        self.write(Some(&transfer.tenant), |tx| {
            insert_queued(tx, transfer, &self.node)?;
            journal::append_event(tx, event)?;
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
        self.write(Some(&transfer.tenant), |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO intake_messages
                     (tenant, origin, message_id, operation, seda_version, acknowledgement)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    &[
                        &message.tenant.as_str(),
                        &message.origin,
                        &message.message_id,
                        &message.operation.as_str(),
                        &message.seda_version,
                        &message.acknowledgement,
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
                "INSERT INTO acknowledgements (tenant, operation, xml) VALUES ($1, $2, $3)",
                &[
                    &message.tenant.as_str(),
                    &message.operation.as_str(),
                    &message.acknowledgement,
                ],
            )
            .map_err(storage)?;
            insert_queued(tx, transfer, &self.node)?;
            journal::append_event(tx, event)?;
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
        self.write(Some(tenant), |tx| {
            let n = tx
                .execute(
                    "INSERT INTO acknowledgements (tenant, operation, xml) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&tenant.as_str(), &operation.as_str(), &xml],
                )
                .map_err(storage)?;
            if n == 1 {
                journal::append_event(tx, event)?;
            }
            Ok(n == 1)
        })
    }

    fn acknowledgement(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<String>, CatalogError> {
        Ok(self
            .conn()?
            .query_opt(
                "SELECT xml FROM acknowledgements WHERE tenant = $1 AND operation = $2",
                &[&tenant.as_str(), &operation.as_str()],
            )
            .map_err(storage)?
            .map(|r| r.get(0)))
    }

    fn intake_message(
        &self,
        tenant: &TenantId,
        origin: &str,
        message_id: &str,
    ) -> Result<Option<IntakeMessage>, CatalogError> {
        self.conn()?
            .query_opt(
                "SELECT operation, seda_version, acknowledgement FROM intake_messages
                 WHERE tenant = $1 AND origin = $2 AND message_id = $3",
                &[&tenant.as_str(), &origin, &message_id],
            )
            .map_err(storage)?
            .map(|r| {
                Ok(IntakeMessage {
                    tenant: tenant.clone(),
                    origin: origin.to_owned(),
                    message_id: message_id.to_owned(),
                    operation: parse_id("operation id", r.get(0))?,
                    seda_version: r.get(1),
                    acknowledgement: r.get(2),
                })
            })
            .transpose()
    }

    fn queued_transfers(&self) -> Result<Vec<QueuedTransfer>, CatalogError> {
        self.conn()?
            .query(
                &format!("SELECT {QUEUED_COLUMNS} FROM transfer_queue ORDER BY received_at, seq"),
                &[],
            )
            .map_err(storage)?
            .iter()
            .map(to_queued)
            .collect()
    }

    fn queued_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<QueuedTransfer>, CatalogError> {
        self.conn()?
            .query_opt(
                &format!(
                    "SELECT {QUEUED_COLUMNS} FROM transfer_queue WHERE tenant = $1 AND operation = $2"
                ),
                &[&tenant.as_str(), &operation.as_str()],
            )
            .map_err(storage)?
            .map(|r| to_queued(&r))
            .transpose()
    }

    fn dequeue_transfer(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<(), CatalogError> {
        self.write(None, |tx| {
            tx.execute(
                "DELETE FROM transfer_queue WHERE tenant = $1 AND operation = $2",
                &[&tenant.as_str(), &operation.as_str()],
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
        self.write(Some(tenant), |tx| {
            let n = tx
                .execute(
                    "DELETE FROM operations WHERE tenant = $1 AND id = $2 AND state = 'RUNNING'
                       AND EXISTS (SELECT 1 FROM transfer_queue q WHERE q.tenant = $1 AND q.operation = $2)",
                    &[&tenant.as_str(), &operation.as_str()],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!(
                    "interrupted queued operation {operation}"
                )));
            }
            journal::append_event(tx, event)?;
            Ok(())
        })
    }
}
