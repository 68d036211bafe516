//! The execution: every unit checked again, the deletion in one catalog transaction, the
//! notification and the signed certificate, then every copy removed from every offer (a
//! purge a stop cuts short is finished at the next start).

use super::*;

impl Archive {
    /// Executes an elimination whose visa grants it: every unit checked again (a hold put on
    /// since, a rule changed since, takes it out, with the reason), the rest deleted from the
    /// catalog in one transaction with their tombstones and events, then every copy removed
    /// from every offer, and the `ArchiveDestructionNotification` written.
    pub fn execute_elimination(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        row.state
            .after(EliminationStep::Execution)
            .map_err(|m| state_error(format!("elimination {id} cannot be executed: {m}")))?;
        let at = parse_date(&row.at).ok_or_else(|| {
            ArchiveError::Catalog(CatalogError::Corruption(format!(
                "elimination date {:?}",
                row.at
            )))
        })?;
        let mut proposed: Vec<(UnitId, serde_json::Value)> = Vec::new();
        let mut excepted: Vec<UnitId> = Vec::new();
        self.catalog.each_elimination_unit(tenant, id, &mut |u| {
            if let Ok(unit) = u.unit.parse::<UnitId>() {
                match u.status {
                    EliminationUnitStatus::Proposed => proposed.push((unit, u.record)),
                    EliminationUnitStatus::VisaExcepted => excepted.push(unit),
                    _ => {}
                }
            }
            Ok(())
        })?;
        let ids: Vec<UnitId> = proposed.iter().map(|(u, _)| u.clone()).collect();
        // Checked again: the rules at the proposal's date, holds today, and what changed.
        let today = self.today();
        let analysed = self.analyse(tenant, &ids, at, today.max(at), Some(id))?;
        let mut destroy = Vec::new();
        let mut dropped: Vec<(UnitId, serde_json::Value)> = excepted
            .iter()
            .map(|u| (u.clone(), excluded_json(&Excluded::VisaExcepted)))
            .collect();
        let dropped_ids: BTreeSet<UnitId> = excepted.iter().cloned().collect();
        let now = self.now();
        let operation = self.new_operation()?;
        let mut kept_below: BTreeSet<UnitId> = BTreeSet::new();
        for (u, record) in &proposed {
            let Some(a) = analysed.get(u) else { continue };
            let why = match &a.why {
                Some(w) => Some(w.clone()),
                None if a.record["appraisal_rules"] != record["appraisal_rules"]
                    || a.record["final_actions"] != record["final_actions"] =>
                {
                    Some(Excluded::RulesChanged)
                }
                None => None,
            };
            match why {
                Some(w) => {
                    dropped.push((u.clone(), excluded_json(&w)));
                    kept_below.insert(u.clone());
                }
                None => destroy.push((u.clone(), a.record.clone())),
            }
        }
        // A unit taken out (or excepted) keeps its ancestors: they cannot go without it.
        let mut keep: BTreeSet<UnitId> = kept_below
            .iter()
            .chain(dropped_ids.iter())
            .cloned()
            .collect();
        loop {
            let graph = self
                .catalog
                .rules_graph(tenant, &keep.iter().cloned().collect::<Vec<_>>())?;
            let before = keep.len();
            keep.extend(graph.into_iter().map(|g| g.id));
            if keep.len() == before {
                break;
            }
        }
        let (go, stay): (Vec<_>, Vec<_>) =
            destroy.into_iter().partition(|(u, _)| !keep.contains(u));
        for (u, _) in stay {
            if !dropped.iter().any(|(d, _)| *d == u) {
                dropped.push((
                    u,
                    excluded_json(&Excluded::DescendantKept {
                        descendant: "a unit of this elimination taken out".into(),
                    }),
                ));
            }
        }
        let destroy_rows: Vec<(UnitId, serde_json::Value, NewEvent)> = go
            .iter()
            .map(|(u, record)| {
                (
                    u.clone(),
                    serde_json::json!({
                        "unit": u,
                        "title": record["title"],
                        "start_date": record["start_date"],
                        "end_date": record["end_date"],
                        "originating_agency": record["originating_agency"],
                        "appraisal_rules": record["appraisal_rules"],
                        "appraisal_end": record["appraisal_end"],
                        "files": record["files"],
                        "ingest": record["ingest"],
                        "elimination": id,
                        "visa": row.steps.iter().rev().find(|s| s["step"] == "visa").cloned(),
                    }),
                    NewEvent {
                        tenant: tenant.clone(),
                        operation: operation.clone(),
                        kind: EventKind::UnitDestroyed,
                        outcome: Status::Ok,
                        time: now.to_string(),
                        agent: agent.into(),
                        detail: serde_json::json!({
                            "subject": u,
                            "elimination": id,
                            "files": record["files"],
                        }),
                    },
                )
            })
            .collect();
        let visa = row.steps.iter().rev().find(|s| s["step"] == "visa");
        let reply_id = visa
            .and_then(|v| v["reply_identifier"].as_str())
            .unwrap_or_default()
            .to_owned();
        let mut notification = Vec::new();
        if !destroy_rows.is_empty() {
            seda::write_destruction_notification(
                &mut notification,
                parse_version(&row.seda_version),
                &seda::DestructionNotification {
                    message_identifier: operation.to_string(),
                    date: now.to_string(),
                    comments: Vec::new(),
                    reply_identifier: reply_id.clone(),
                    archival_agency: self.config.archival_agency.clone(),
                    originating_agency: most_common_agency_of(go.iter().map(|(_, r)| r)),
                },
                &mut destroy_rows.iter().map(|(u, _, _)| u.to_string()),
            )
            .map_err(|e| ArchiveError::io("writing the destruction notification", e))?;
        }
        let documents = if notification.is_empty() {
            self.catalog.start_operation(
                tenant,
                &operation,
                &EventKind::EliminationExecution,
                &now,
                agent,
            )?;
            Default::default()
        } else {
            let certificate = self.tmp.join(format!("{operation}.certificate.json"));
            let _scratch = crate::files::Scratch(vec![certificate.clone()]);
            let digest = write_certificate(
                &certificate,
                &serde_json::json!({
                    "certificate": "DESTRUCTION",
                    "format_version": 1,
                    "archive": self.config.archival_agency,
                    "tenant": tenant,
                    "elimination": id,
                    "execution": operation,
                    "executed_at": now,
                    "at": row.at,
                    "agreement": row.steps.iter().rev().find(|s| s["step"] == "agreement"),
                    "visa": visa,
                    "notification": reply_id,
                }),
                &destroy_rows,
            )
            .map_err(|e| ArchiveError::io("writing the destruction certificate", e))?;
            let signature = self
                .signer
                .sign_detached(&digest, &|imprint| self.tsa(tenant).stamp(imprint))?;
            let (signer_pem, _) = self.signer.to_pem()?;
            self.store_document_files(
                tenant,
                &operation,
                EventKind::EliminationExecution,
                agent,
                &[
                    (NOTIFICATION_XML, Document::Bytes(&notification)),
                    (CERTIFICATE_JSON, Document::File(&certificate)),
                    (CERTIFICATE_P7S, Document::Bytes(&signature)),
                    (SIGNER_PEM, Document::Bytes(signer_pem.as_bytes())),
                ],
            )?
        };
        let step = serde_json::json!({
            "step": "execution",
            "operation": operation,
            "author": agent,
            "at": now,
            "state": "executed",
            "destroyed": destroy_rows.len(),
            "dropped": dropped.len(),
            "reply_identifier": reply_id,
        });
        let summary = serde_json::json!({
            "elimination": id,
            "step": step,
            "destroyed": destroy_rows.len(),
            "dropped": dropped.iter().map(|(u, why)| serde_json::json!({"id": u, "reason": why})).collect::<Vec<_>>(),
            "documents": documents,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::EliminationExecution,
            outcome: if dropped.is_empty() {
                Status::Ok
            } else {
                Status::Warning
            },
            time: now.to_string(),
            agent: agent.into(),
            detail: summary.clone(),
        };
        let purged = match self.catalog.execute_elimination(
            tenant,
            EliminationExecution {
                id,
                destroy: &destroy_rows,
                dropped: &dropped,
                step: &step,
                destroyed_at: &now,
                summary: &summary,
                event: &event,
            },
        ) {
            Ok(p) => p,
            Err(e) => {
                let e = match e {
                    CatalogError::Conflict(m) => state_error(format!("{m}: nothing was destroyed")),
                    other => other.into(),
                };
                self.abandon(
                    tenant,
                    &operation,
                    EventKind::EliminationExecution,
                    agent,
                    &e,
                );
                return Err(e);
            }
        };
        tracing::info!(%tenant, elimination = %id, destroyed = destroy_rows.len(), blobs = purged.len(), "elimination executed");
        self.purge(tenant, id, &purged)?;
        self.elimination_report(tenant, id)
    }

    /// Removes an execution's blobs from every offer, then says so; run again whole by
    /// [`Archive::finish_purges`] if it was cut short.
    pub(super) fn purge(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        blobs: &[carnac_catalog::PurgedBlob],
    ) -> Result<(), ArchiveError> {
        let keys: Vec<carnac_blobstore::BlobKey> = blobs
            .iter()
            .map(|b| carnac_blobstore::BlobKey {
                tenant: tenant.clone(),
                batch: b.operation.clone(),
                name: b.object.to_string(),
            })
            .collect();
        for offer in &self.offers {
            offer.delete_all(&keys)?;
        }
        self.catalog.purge_done(tenant, id)?;
        Ok(())
    }

    /// Finishes the purges that a stop cut short (run at start, with recovery, and by
    /// maintenance): returns the eliminations finished.
    pub fn finish_purges(&self) -> Result<Vec<(TenantId, OperationId)>, ArchiveError> {
        let mut done = Vec::new();
        for (tenant, id, blobs) in self.catalog.pending_purges()? {
            self.purge(&tenant, &id, &blobs)?;
            done.push((tenant, id));
        }
        Ok(done)
    }
}
