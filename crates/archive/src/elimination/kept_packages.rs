//! What a transfer out or a restitution keeps in the offers: the receiver's messages and
//! the purge's documents, the package until the purge, and the removal of what held the
//! content (the package; a closing tenant's manifests and delivery packages).

use super::*;
use carnac_seda::transfer_reply::{TransferMessage, TransferReply, read_transfer_message};
use transfer_out::{REPLY_XML, TRANSFER_ZIP};

impl Archive {
    /// A document of a transfer out: its receiver's latest message of that name, or one of
    /// its purge (`notification.xml`, `certificate.json`…).
    pub fn transfer_out_document(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        name: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        self.outgoing_document(DisposalKind::TransferOut, tenant, id, name)
    }

    /// A document of a transfer out or a restitution (`kind`).
    pub fn outgoing_document(
        &self,
        disposal: DisposalKind,
        tenant: &TenantId,
        id: &OperationId,
        name: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        let row = self.outgoing_row(disposal, tenant, id)?;
        let mut operations: Vec<OperationId> = row
            .steps
            .iter()
            .rev()
            .filter_map(|s| s.get("operation")?.as_str()?.parse().ok())
            .collect();
        operations.push(row.id.clone());
        self.kept_document(
            tenant,
            &operations,
            name,
            &format!("{} {id}", disposal.noun()),
        )
    }

    /// The package of a transfer out not yet purged nor withdrawn, `length` bytes from
    /// `first` (verified against its digest when read whole).
    pub fn open_transfer_package(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        range: impl FnOnce(u64) -> Option<(u64, u64)>,
    ) -> Result<(crate::delivery::PackageDownload, Option<(u64, u64)>), ArchiveError> {
        self.open_outgoing_package(DisposalKind::TransferOut, tenant, id, range)
    }

    /// The package of a transfer out or a restitution (`kind`) not yet purged.
    pub fn open_outgoing_package(
        &self,
        disposal: DisposalKind,
        tenant: &TenantId,
        id: &OperationId,
        range: impl FnOnce(u64) -> Option<(u64, u64)>,
    ) -> Result<(crate::delivery::PackageDownload, Option<(u64, u64)>), ArchiveError> {
        let row = self.outgoing_row(disposal, tenant, id)?;
        if !matches!(
            row.state,
            EliminationState::Sent
                | EliminationState::Rejected
                | EliminationState::Accepted
                | EliminationState::PartlyAccepted
        ) {
            return Err(ArchiveError::State {
                code: "no_package",
                message: format!(
                    "{} {id} is {}: its package is gone with its purge or withdrawal",
                    disposal.noun(),
                    row.state.as_str()
                ),
            });
        }
        let package = &row.totals["package"];
        let size = package["bytes"].as_u64().unwrap_or(0);
        let sha256 = package["sha256"].as_str().unwrap_or("").to_owned();
        let range = range(size);
        let (first, length) = match range {
            Some((a, b)) => (a, b - a + 1),
            None => (0, size),
        };
        let reader = self.open_kept_blob(
            carnac_blobstore::BlobKey {
                tenant: tenant.clone(),
                batch: id.clone(),
                name: TRANSFER_ZIP.into(),
            },
            size,
            carnac_model::Digest {
                algorithm: carnac_model::DigestAlgorithm::Sha256,
                hex: sha256.clone(),
            },
            format!("the package of {} {id}", disposal.noun()),
            first,
            length,
        )?;
        Ok((
            crate::delivery::PackageDownload {
                reader,
                size,
                sha256,
            },
            range,
        ))
    }

    /// The reply that accepted a transfer out, read back from the offers: its step and what
    /// it says.
    pub(super) fn accepting_reply(
        &self,
        tenant: &TenantId,
        row: &EliminationRow,
    ) -> Result<(serde_json::Value, Option<TransferReply>), ArchiveError> {
        let step = row
            .steps
            .iter()
            .rev()
            .find(|s| s["decision"] == "accepted")
            .cloned()
            .ok_or_else(|| {
                state_error(format!(
                    "{} {} has no reply that accepts it",
                    row.kind.noun(),
                    row.id
                ))
            })?;
        // A producer's acknowledgement accepts all and names no unit.
        if step["step"] != "reply" {
            return Ok((step, None));
        }
        let operation: OperationId = step["operation"]
            .as_str()
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| {
                ArchiveError::Catalog(CatalogError::Corruption(format!(
                    "transfer out {}: its reply's operation",
                    row.id
                )))
            })?;
        let bytes = self.kept_document(
            tenant,
            &[operation],
            REPLY_XML,
            &format!("transfer out {}", row.id),
        )?;
        match read_transfer_message(&bytes) {
            Ok(TransferMessage::Reply(r)) => Ok((step, Some(r))),
            _ => Err(ArchiveError::Catalog(CatalogError::Corruption(format!(
                "transfer out {}: its kept reply no longer reads",
                row.id
            )))),
        }
    }

    /// Removes from every offer the manifests of the tenant's transfers and the packages of
    /// its deliveries still kept (already gone: nothing to do); gives the operations whose
    /// manifest and whose package went.
    pub(super) fn remove_tenant_content(
        &self,
        tenant: &TenantId,
    ) -> Result<(Vec<OperationId>, Vec<OperationId>), ArchiveError> {
        let mut manifests = Vec::new();
        let mut packages = Vec::new();
        let mut keys = Vec::new();
        for op in self.catalog.operations(tenant)? {
            if op.kind == EventKind::Ingest && op.status.is_some_and(|s| s.is_accepted()) {
                keys.push(carnac_blobstore::BlobKey {
                    tenant: tenant.clone(),
                    batch: op.id.clone(),
                    name: "manifest.xml".into(),
                });
                manifests.push(op.id.clone());
            }
            if op
                .summary
                .as_ref()
                .and_then(|s| s.get("package")?.get(crate::delivery::PACKAGE_ZIP))
                .is_some()
            {
                keys.push(carnac_blobstore::BlobKey {
                    tenant: tenant.clone(),
                    batch: op.id.clone(),
                    name: crate::delivery::PACKAGE_ZIP.into(),
                });
                packages.push(op.id.clone());
            }
        }
        for offer in &self.offers {
            for key in &keys {
                match offer.delete(key) {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok((manifests, packages))
    }

    /// Removes a transfer out's package from every offer (already gone: nothing to do).
    pub(super) fn remove_transfer_package(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<(), ArchiveError> {
        let key = carnac_blobstore::BlobKey {
            tenant: tenant.clone(),
            batch: id.clone(),
            name: TRANSFER_ZIP.into(),
        };
        for offer in &self.offers {
            match offer.delete(&key) {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
