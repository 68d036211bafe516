//! Deliveries once asked: reading them and their documents, serving a package kept in
//! the offers, and removing packages whose time is up.

use super::*;

impl Archive {
    pub fn delivery(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<DeliveryRow, ArchiveError> {
        self.require_tenant(tenant)?;
        self.catalog
            .delivery(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("delivery {id}")))
    }

    /// The tenant's deliveries, newest first (at most [`MAX_LISTED`]); those `requested_by`
    /// asked for alone when given.
    pub fn deliveries(
        &self,
        tenant: &TenantId,
        requested_by: Option<&str>,
    ) -> Result<Vec<DeliveryRow>, ArchiveError> {
        self.require_tenant(tenant)?;
        Ok(self.catalog.deliveries(tenant, requested_by, MAX_LISTED)?)
    }

    /// The operations a delivery's documents may be under: its own, then its steps'.
    fn delivery_operations(row: &DeliveryRow) -> Vec<OperationId> {
        let mut out = vec![row.id.clone()];
        out.extend(
            row.steps
                .iter()
                .filter_map(|s| s.get("operation")?.as_str()?.parse().ok()),
        );
        out
    }

    /// A document of a delivery (`request.xml`, `authorization.xml`, `reply.xml`), read from
    /// the first offer whose copy matches the digest its step recorded.
    pub fn delivery_document(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        name: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        let row = self.delivery(tenant, id)?;
        self.kept_document(
            tenant,
            &Self::delivery_operations(&row),
            name,
            &format!("delivery {id}"),
        )
    }

    /// The package of a delivered delivery, `length` bytes from `first` (verified against
    /// its digest when read whole). Gone once removed.
    pub fn open_delivery_package(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        range: impl FnOnce(u64) -> Option<(u64, u64)>,
    ) -> Result<(PackageDownload, Option<(u64, u64)>), ArchiveError> {
        let row = self.delivery(tenant, id)?;
        let gone = |why: &str| ArchiveError::State {
            code: "no_package",
            message: format!("delivery {id} has no package to download: {why}"),
        };
        let package = match row.state {
            DeliveryState::Delivered => row.package.as_ref().ok_or_else(|| gone("none"))?,
            DeliveryState::Removed => {
                return Err(gone("it was removed when its time was up; ask again"));
            }
            DeliveryState::AwaitingAuthorization => {
                return Err(gone("it waits for the control authority's authorisation"));
            }
            DeliveryState::Refused => {
                return Err(gone("the control authority refused the derogation"));
            }
        };
        let operation: OperationId = package["operation"]
            .as_str()
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| ArchiveError::Invalid(format!("delivery {id}: its package record")))?;
        let size = package["bytes"].as_u64().unwrap_or(0);
        let sha256 = package["sha256"].as_str().unwrap_or("").to_owned();
        let range = range(size);
        let (first, length) = match range {
            Some((a, b)) => (a, b - a + 1),
            None => (0, size),
        };
        let reader = self.open_kept_blob(
            BlobKey {
                tenant: tenant.clone(),
                batch: operation,
                name: PACKAGE_ZIP.into(),
            },
            size,
            carnac_model::Digest {
                algorithm: carnac_model::DigestAlgorithm::Sha256,
                hex: sha256.clone(),
            },
            format!("the package of delivery {id}"),
            first,
            length,
        )?;
        Ok((
            PackageDownload {
                reader,
                size,
                sha256,
            },
            range,
        ))
    }

    /// Removes the packages whose time is up, on every tenant: from every offer first, then
    /// recorded (with its event); a removal cut short is done again at the next pass.
    /// Returns the deliveries whose package was removed.
    pub fn remove_expired_deliveries(&self) -> Result<Vec<(TenantId, OperationId)>, ArchiveError> {
        let now = self.now();
        let mut removed = Vec::new();
        let mut failed = None;
        for (tenant, id) in self.catalog.expired_deliveries(&now)? {
            match self.remove_delivery_package(&tenant, &id, &now) {
                Ok(()) => removed.push((tenant, id)),
                Err(e) => {
                    tracing::error!(%tenant, delivery = %id, error = %e, "removing a delivered package");
                    failed = Some(e);
                }
            }
        }
        match failed {
            Some(e) if removed.is_empty() => Err(e),
            _ => Ok(removed),
        }
    }

    pub(crate) fn remove_delivery_package(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        now: &Timestamp,
    ) -> Result<(), ArchiveError> {
        let row = self.delivery(tenant, id)?;
        let to = row
            .state
            .after(DeliveryStep::Removal)
            .map_err(|m| ArchiveError::State {
                code: "invalid_state",
                message: format!("delivery {id}: {m}"),
            })?;
        let package = row.package.clone().unwrap_or_default();
        let batch: OperationId = package["operation"]
            .as_str()
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| ArchiveError::Invalid(format!("delivery {id}: its package record")))?;
        let key = BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: PACKAGE_ZIP.into(),
        };
        for offer in &self.offers {
            match offer.delete(&key) {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let operation = self.new_operation()?;
        let step = serde_json::json!({
            "step": "removal",
            "operation": operation,
            "author": "system",
            "at": now,
            "state": to.as_str(),
        });
        let summary = serde_json::json!({
            "delivery": id,
            "package_removed": batch,
            "sha256": package["sha256"],
            "bytes": package["bytes"],
            "expired_at": row.expires_at,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation,
            kind: EventKind::DeliveryPackageRemoved,
            outcome: Status::Ok,
            time: now.to_string(),
            agent: "system".into(),
            detail: summary.clone(),
        };
        self.catalog.delivery_step(
            tenant,
            DeliveryStepCommit {
                id,
                from: row.state,
                to,
                step: &step,
                package: None,
                summary: &summary,
                event: &event,
                subjects: &[],
            },
        )?;
        tracing::info!(%tenant, delivery = %id, "delivered package removed");
        Ok(())
    }
}
