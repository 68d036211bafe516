//! The execution, in steps so that a large one does not hold the catalog's writer from
//! other tenants for its whole length:
//!
//! 1. **Begin** (one transaction): every unit checked again (a hold put on since, a rule
//!    changed since, takes it out with its reason, and its ancestors with it); the rest
//!    marked `destroying`, descendants before their ancestors; the state `executing`.
//!    From here the execution is completed, never withdrawn, and no rule of the tenant
//!    changes until it is.
//! 2. **Steps** (one transaction each, [`crate::IngestConfig::execution_step_units`]
//!    units): units, groups, objects, copies, text entries deleted, tombstones and events
//!    written; then the step's blobs removed from every offer.
//! 3. **End**: the `ArchiveDestructionNotification` and the signed certificate, written from
//!    the tombstones (so they list exactly what was destroyed), stored in every offer; then
//!    the state `executed` with the operation's event.
//!
//! A stop anywhere leaves a state that [`Archive::recover`] (or executing again) completes:
//! the begun execution is resumed from the units still marked, the blobs a step's commit
//! left are purged, and documents half-written are written again.

use super::*;
use carnac_catalog::{DestroyedUnit, ExecutionEnd, ExecutionStart};

/// An execution cut short that [`Archive::complete_executions`] tried to complete: its
/// tenant, its elimination, and whether it is now done.
pub type CompletedExecution = (TenantId, OperationId, Result<(), ArchiveError>);

/// How far an execution has gone, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionProgress {
    pub destroyed: u64,
    /// Units it destroys in all (those taken out when checked again not counted).
    pub total: u64,
}

/// The one worker of an execution in this process: a second request for it is refused
/// while the first runs.
struct ExecutionClaim<'a> {
    archive: &'a Archive,
    key: (TenantId, OperationId),
}

impl Drop for ExecutionClaim<'_> {
    fn drop(&mut self) {
        if let Ok(mut running) = self.archive.executions.lock() {
            running.remove(&self.key);
        }
    }
}

impl Archive {
    /// Executes an elimination whose visa grants it (see the module's comment), or completes
    /// one whose execution was cut short.
    pub fn execute_elimination(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.execute_elimination_with(tenant, id, agent, &mut |_| {})
    }

    /// [`Archive::execute_elimination`], telling `progress` after each step.
    pub fn execute_elimination_with(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        agent: &str,
        progress: &mut dyn FnMut(ExecutionProgress),
    ) -> Result<EliminationReport, ArchiveError> {
        let _claim = self.claim_execution(tenant, id)?;
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        if row.state != EliminationState::Executing {
            row.state
                .after(EliminationStep::Execution)
                .map_err(|m| state_error(format!("elimination {id} cannot be executed: {m}")))?;
            if row.kind == DisposalKind::Closure {
                self.begin_closure(tenant, &row, agent)?;
            } else {
                self.begin_execution(tenant, &row, agent)?;
            }
        }
        self.run_execution(tenant, id, progress)?;
        self.elimination_report(tenant, id)
    }

    fn claim_execution(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<ExecutionClaim<'_>, ArchiveError> {
        let key = (tenant.clone(), id.clone());
        let mut running = self
            .executions
            .lock()
            .map_err(|_| ArchiveError::Invalid("the executions' registry is poisoned".into()))?;
        if !running.insert(key.clone()) {
            return Err(state_error(format!(
                "elimination {id} is being executed now; its report says when it is done"
            )));
        }
        Ok(ExecutionClaim { archive: self, key })
    }

    /// Checks every unit again and begins: what goes, in which order, and what is taken out.
    fn begin_execution(
        &self,
        tenant: &TenantId,
        row: &EliminationRow,
        agent: &str,
    ) -> Result<(), ArchiveError> {
        let id = &row.id;
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
        // A restitution's producer: the receiver of its package.
        let producer = (row.kind == DisposalKind::Restitution)
            .then(|| row.totals["archival_agency"].as_str())
            .flatten();
        let analysed = self.analyse(
            tenant,
            &ids,
            at,
            today.max(at),
            Some(id),
            row.kind,
            producer,
        )?;
        let mut dropped: Vec<(UnitId, serde_json::Value)> = Vec::new();
        let mut destroy: Vec<UnitId> = Vec::new();
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
                Some(w) => dropped.push((u.clone(), excluded_json(&w))),
                None => destroy.push(u.clone()),
            }
        }
        // A unit taken out (or excepted) keeps its ancestors: they cannot go without it.
        let mut keep: BTreeSet<UnitId> = dropped
            .iter()
            .map(|(u, _)| u.clone())
            .chain(excepted.iter().cloned())
            .collect();
        let mut stack: Vec<UnitId> = keep.iter().cloned().collect();
        while let Some(u) = stack.pop() {
            let parents = match analysed.get(&u) {
                Some(a) => a.parents.clone(),
                None => self
                    .catalog
                    .rules_graph(tenant, std::slice::from_ref(&u))?
                    .into_iter()
                    .flat_map(|g| g.parents)
                    .collect(),
            };
            for p in parents {
                if keep.insert(p.clone()) {
                    stack.push(p);
                }
            }
        }
        let kept_below = "a unit of this elimination taken out";
        destroy.retain(|u| {
            if keep.contains(u) {
                dropped.push((
                    u.clone(),
                    excluded_json(&Excluded::DescendantKept {
                        descendant: kept_below.into(),
                    }),
                ));
                false
            } else {
                true
            }
        });
        let not_granted = if row.kind.sends() {
            Excluded::NotAccepted
        } else {
            Excluded::VisaExcepted
        };
        for u in &excepted {
            dropped.push((u.clone(), excluded_json(&not_granted)));
        }
        // Descendants before their ancestors: between two steps, the tree that is left
        // has no unit whose parent is gone.
        let order = below_first(&destroy, &analysed);
        let lines: Vec<(UnitId, serde_json::Value)> = order
            .into_iter()
            .map(|u| {
                let line = analysed[&u].record.clone();
                (u, line)
            })
            .collect();
        if self.has_worm_offer() {
            let files: Vec<_> = lines
                .iter()
                .filter_map(|(u, line)| {
                    worm::unit_files(line).map(|(batch, files)| (format!("unit {u}"), batch, files))
                })
                .collect();
            self.refuse_worm_locked(tenant, &format!("{} {id}", row.kind.as_str()), &files)?;
        }
        let mut plan = Plan::default();
        for (u, _) in &lines {
            plan.add(u);
        }
        self.start_execution(
            tenant,
            row,
            agent,
            plan,
            carnac_catalog::ToDestroy::Listed(&lines),
            &dropped,
        )
    }

    /// Begins an execution on its list, `plan` (its identifiers, in `destroy`'s order): the
    /// list timestamped before anything goes, so that the date of the decision is proven,
    /// and a TSA that does not answer stops the execution here, not before its certificate,
    /// which is signed and timestamped once every unit is destroyed.
    pub(crate) fn start_execution(
        &self,
        tenant: &TenantId,
        row: &EliminationRow,
        agent: &str,
        plan: Plan,
        destroy: carnac_catalog::ToDestroy<'_>,
        dropped: &[(UnitId, serde_json::Value)],
    ) -> Result<(), ArchiveError> {
        let id = &row.id;
        let (plan, units) = plan.finish();
        let token = self.tsa(tenant).stamp(&carnac_timestamp::Imprint {
            algorithm: carnac_timestamp::HashAlgorithm::Sha256,
            digest: plan.clone(),
        })?;
        let now = self.now();
        let operation = self.new_operation()?;
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: match row.kind {
                DisposalKind::Elimination => EventKind::EliminationExecutionStart,
                DisposalKind::TransferOut => EventKind::TransferOutPurgeStart,
                DisposalKind::Restitution => EventKind::RestitutionPurgeStart,
                DisposalKind::Closure => EventKind::TenantClosePurgeStart,
            },
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail: serde_json::json!({
                "elimination": id,
                "kind": row.kind.as_str(),
                "to_destroy": units,
                // SHA-256 of the identifiers to destroy, in order, one a line.
                "plan_sha256": hex::encode(&plan),
                "plan_timestamp": {
                    "gen_time": token.gen_time_text,
                    "serial": token.serial,
                    "token": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &token.token),
                },
                "dropped": dropped
                    .iter()
                    .map(|(u, why)| serde_json::json!({"id": u, "reason": why}))
                    .collect::<Vec<_>>(),
            }),
        };
        self.catalog
            .begin_execution(
                tenant,
                ExecutionStart {
                    id,
                    operation: &operation,
                    agent,
                    started_at: &now,
                    destroy,
                    dropped,
                    event: &event,
                },
            )
            .map_err(|e| match e {
                CatalogError::Conflict(m) => state_error(format!("{m}: nothing was destroyed")),
                other => other.into(),
            })?;
        tracing::info!(%tenant, elimination = %id, %operation, units, dropped = dropped.len(), "elimination execution begun");
        Ok(())
    }

    /// Destroys what the begun execution still has to, step by step, then ends it.
    fn run_execution(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        progress: &mut dyn FnMut(ExecutionProgress),
    ) -> Result<(), ArchiveError> {
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        let execution = row.execution.clone().unwrap_or_default();
        let operation: OperationId = execution["operation"]
            .as_str()
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| {
                ArchiveError::Catalog(CatalogError::Corruption(format!(
                    "elimination {id} is executing under no operation"
                )))
            })?;
        let agent = execution["agent"].as_str().unwrap_or("system").to_owned();
        // What authorised it: the visa, or the definitive archives' accepting reply (read
        // back from the offers, for the identifier each unit has there).
        let (visa, remote) = if row.kind.sends() {
            let (step, reply) = self.accepting_reply(tenant, &row)?;
            (Some(step), Some(reply))
        } else {
            (
                row.steps
                    .iter()
                    .rev()
                    .find(|s| s["step"] == "visa")
                    .cloned(),
                None,
            )
        };
        // A step cut short left blobs the catalog no longer has: removed first.
        for (t, e, blobs) in self.catalog.pending_purges()? {
            if t == *tenant && e == *id {
                self.purge(tenant, id, &blobs)?;
            }
        }
        let mut destroyed = 0u64;
        let mut total = None;
        let step_units = self.config.execution_step_units.max(1);
        loop {
            let units = self.catalog.units_to_destroy(tenant, id, step_units)?;
            if total.is_none() {
                let mut left = 0u64;
                self.catalog.each_elimination_unit(tenant, id, &mut |u| {
                    match u.status {
                        EliminationUnitStatus::Destroying => left += 1,
                        EliminationUnitStatus::Destroyed => destroyed += 1,
                        _ => {}
                    }
                    Ok(())
                })?;
                total = Some(destroyed + left);
                progress(ExecutionProgress {
                    destroyed,
                    total: destroyed + left,
                });
            }
            if units.is_empty() {
                break;
            }
            let now = self.now();
            let rows: Vec<DestroyedUnit> = units
                .into_iter()
                .map(|(u, line)| {
                    let mut tombstone = serde_json::json!({
                        "unit": u,
                        "title": line["title"],
                        "start_date": line["start_date"],
                        "end_date": line["end_date"],
                        "originating_agency": line["originating_agency"],
                        "appraisal_rules": line["appraisal_rules"],
                        "appraisal_end": line["appraisal_end"],
                        "files": line["files"],
                        "ingest": line["ingest"],
                        "elimination": id,
                        "destroyed_at": now,
                    });
                    let mut detail = serde_json::json!({
                        "subject": u,
                        "elimination": id,
                        "files": line["files"],
                    });
                    let kind = match &remote {
                        None => {
                            tombstone["visa"] = serde_json::json!(visa);
                            EventKind::UnitDestroyed
                        }
                        Some(reply) => {
                            // Where it went, and under which identifier there (a reply
                            // may say; an acknowledgement does not).
                            let there = reply
                                .as_ref()
                                .and_then(|r| r.units.get(u.as_str()).cloned().flatten());
                            let returned = row.kind == DisposalKind::Restitution;
                            let closed = row.kind == DisposalKind::Closure;
                            for v in [&mut tombstone, &mut detail] {
                                v["transfer"] = serde_json::json!(id);
                                v["transferred_to"] = row.totals["archival_agency"].clone();
                                v["remote_identifier"] = serde_json::json!(there);
                                // The reply's own identifier, or the acknowledgement's.
                                v["reply_identifier"] = serde_json::json!(
                                    reply.as_ref().map(|r| r.identifier.clone()).or_else(|| {
                                        visa.as_ref().and_then(|s| {
                                            s["reply_identifier"].as_str().map(str::to_owned)
                                        })
                                    })
                                );
                                if returned {
                                    v["restitution"] = serde_json::json!(true);
                                }
                                if closed {
                                    v["closure"] = serde_json::json!(true);
                                }
                            }
                            tombstone["transferred_at"] = serde_json::json!(now);
                            if returned {
                                EventKind::UnitReturned
                            } else if closed {
                                EventKind::UnitClosed
                            } else {
                                EventKind::UnitTransferred
                            }
                        }
                    };
                    DestroyedUnit {
                        tombstone,
                        event: NewEvent {
                            tenant: tenant.clone(),
                            operation: operation.clone(),
                            kind,
                            outcome: Status::Ok,
                            time: now.to_string(),
                            agent: agent.clone(),
                            detail,
                        },
                        unit: u,
                    }
                })
                .collect();
            let purged = self.catalog.destroy_units(tenant, id, &now, &rows)?;
            self.purge(tenant, id, &purged)?;
            destroyed += rows.len() as u64;
            progress(ExecutionProgress {
                destroyed,
                total: total.unwrap_or(destroyed).max(destroyed),
            });
        }
        self.end_execution(tenant, &row, &operation, &agent, visa.as_ref())
    }

    /// Writes the notification and the certificate from the tombstones, and ends.
    fn end_execution(
        &self,
        tenant: &TenantId,
        row: &EliminationRow,
        operation: &OperationId,
        agent: &str,
        visa: Option<&serde_json::Value>,
    ) -> Result<(), ArchiveError> {
        let id = &row.id;
        // Documents a stop cut short are written again whole (over those a WORM offer
        // keeps, as newer versions).
        self.discard_everywhere(tenant, operation)?;
        let now = self.now();
        let reply_id = visa
            .and_then(|v| v["reply_identifier"].as_str())
            .unwrap_or_default()
            .to_owned();
        let transfer = row.kind.sends();
        let returned = row.kind == DisposalKind::Restitution;
        let closed = row.kind == DisposalKind::Closure;
        let certificate = self.tmp.join(format!("{operation}.certificate.json"));
        // The identifiers destroyed, one a line, and the notification that lists them: on
        // disk, as a closure lists every unit of a tenant.
        let destroyed_list = self.tmp.join(format!("{operation}.destroyed"));
        let notification = self.tmp.join(format!("{operation}.notification.xml"));
        let _scratch = crate::files::Scratch(vec![
            certificate.clone(),
            destroyed_list.clone(),
            notification.clone(),
        ]);
        let head = if transfer {
            serde_json::json!({
                "certificate": if closed {
                    "CLOSURE"
                } else if returned {
                    "RESTITUTION"
                } else {
                    "TRANSFER"
                },
                "statement": if closed {
                    serde_json::json!("destruction intégrale des copies : le tenant détient son export vérifié")
                } else {
                    serde_json::Value::Null
                },
                "format_version": 1,
                "archive": self.config.archival_agency,
                "tenant": tenant,
                "transfer": id,
                "transferred_to": row.totals["archival_agency"],
                "purge": operation,
                "purged_at": now,
                "reply": visa,
                "notification": operation,
            })
        } else {
            serde_json::json!({
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
            })
        };
        let mut writer = CertificateWriter::create(&certificate, &head)
            .map_err(|e| ArchiveError::io("writing the certificate", e))?;
        let mut ids = std::io::BufWriter::new(
            std::fs::File::create(&destroyed_list)
                .map_err(|e| ArchiveError::io("writing the list destroyed", e))?,
        );
        let mut destroyed = 0usize;
        let mut agencies = AgencyCounts::default();
        let mut failed = None;
        self.catalog
            .each_tombstone(tenant, id, &mut |t| {
                if let Err(e) = writer
                    .unit(&t.record)
                    .and_then(|()| writeln!(ids, "{}", t.unit))
                {
                    failed = Some(e);
                    return Err(CatalogError::Interrupted("writing the certificate".into()));
                }
                agencies.add(&t.record);
                destroyed += 1;
                Ok(())
            })
            .map_err(|e| match failed.take() {
                Some(io) => ArchiveError::io("writing the destruction certificate", io),
                None => e.into(),
            })?;
        let digest = writer
            .finish()
            .map_err(|e| ArchiveError::io("writing the destruction certificate", e))?;
        ids.into_inner()
            .map_err(|e| ArchiveError::io("writing the list destroyed", e.into_error()))?;
        let documents = if destroyed == 0 {
            Default::default()
        } else {
            let mut out = std::io::BufWriter::new(
                std::fs::File::create(&notification)
                    .map_err(|e| ArchiveError::io("writing the notification", e))?,
            );
            let mut listed = ListedUnits::open(&destroyed_list)
                .map_err(|e| ArchiveError::io("reading the list destroyed", e))?;
            if transfer {
                seda::write_modification_notification(
                    &mut out,
                    parse_version(&row.seda_version),
                    &seda::ModificationNotification {
                        message_identifier: operation.to_string(),
                        date: now.to_string(),
                        comments: vec![if closed {
                            format!(
                                "Clôture du tenant {tenant} : toutes les copies de ses unités détruites dans {} après son export vérifié ({reply_id})",
                                self.config.archival_agency
                            )
                        } else if returned {
                            format!(
                                "Unités restituées au service producteur {} ({reply_id}), toutes leurs copies détruites dans {}",
                                row.totals["archival_agency"].as_str().unwrap_or(""),
                                self.config.archival_agency
                            )
                        } else {
                            format!(
                                "Unités versées au service d\u{2019}archives {} (réponse {reply_id}) puis retirées de {}",
                                row.totals["archival_agency"].as_str().unwrap_or(""),
                                self.config.archival_agency
                            )
                        }],
                        archival_agency: self.config.archival_agency.clone(),
                        originating_agency: agencies.most_common(),
                    },
                    &mut listed,
                )
            } else {
                seda::write_destruction_notification(
                    &mut out,
                    parse_version(&row.seda_version),
                    &seda::DestructionNotification {
                        message_identifier: operation.to_string(),
                        date: now.to_string(),
                        comments: Vec::new(),
                        reply_identifier: reply_id.clone(),
                        archival_agency: self.config.archival_agency.clone(),
                        originating_agency: agencies.most_common(),
                    },
                    &mut listed,
                )
            }
            .and_then(|()| listed.finish())
            .and_then(|()| out.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| ArchiveError::io("writing the notification", e))?;
            let signature = self
                .signer
                .sign_detached(&digest, &|imprint| self.tsa(tenant).stamp(imprint))?;
            let (signer_pem, _) = self.signer.to_pem()?;
            self.write_documents(
                tenant,
                operation,
                &[
                    (NOTIFICATION_XML, Document::File(&notification)),
                    (CERTIFICATE_JSON, Document::File(&certificate)),
                    (CERTIFICATE_P7S, Document::Bytes(&signature)),
                    (SIGNER_PEM, Document::Bytes(signer_pem.as_bytes())),
                ],
            )
            .inspect_err(|_| {
                for offer in &self.offers {
                    let _ = offer.discard(tenant, operation);
                }
            })?
        };
        let mut dropped = Vec::new();
        self.catalog.each_elimination_unit(tenant, id, &mut |u| {
            if u.status == EliminationUnitStatus::Dropped {
                dropped.push(serde_json::json!({"id": u.unit, "reason": u.reason}));
            }
            Ok(())
        })?;
        let step = serde_json::json!({
            "step": "execution",
            "operation": operation,
            "author": agent,
            "started_at": row.execution.as_ref().map(|e| e["started_at"].clone()),
            "at": now,
            "state": "executed",
            "destroyed": destroyed,
            "dropped": dropped.len(),
            "reply_identifier": reply_id,
        });
        let mut summary = serde_json::json!({
            "elimination": id,
            "step": step,
            "destroyed": destroyed,
            "dropped": dropped,
            "documents": documents,
        });
        if transfer {
            // The package sent holds what is purged now: it goes too (before the commit that
            // says so: a stop between is done again).
            self.remove_transfer_package(tenant, id)?;
            summary["package_removed"] = serde_json::json!(id);
            summary["transferred_to"] = row.totals["archival_agency"].clone();
        }
        if closed {
            // What else holds the tenant's content: its transfers' manifests and the
            // packages of its deliveries. The journal, seals, attestations and
            // certificates stay.
            let (manifests, packages) = self.remove_tenant_content(tenant)?;
            summary["manifests_removed"] = serde_json::json!(manifests);
            summary["packages_removed"] = serde_json::json!(packages);
            summary["export_manifest_sha256"] = row.totals["export_manifest_sha256"].clone();
        }
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: match row.kind {
                DisposalKind::Elimination => EventKind::EliminationExecution,
                DisposalKind::TransferOut => EventKind::TransferOutPurge,
                DisposalKind::Restitution => EventKind::RestitutionPurge,
                DisposalKind::Closure => EventKind::TenantClosePurge,
            },
            outcome: if dropped.is_empty() {
                Status::Ok
            } else {
                Status::Warning
            },
            time: now.to_string(),
            agent: agent.into(),
            detail: summary.clone(),
        };
        self.catalog.complete_execution(
            tenant,
            ExecutionEnd {
                id,
                step: &step,
                summary: &summary,
                event: &event,
            },
        )?;
        tracing::info!(%tenant, elimination = %id, destroyed, "elimination executed");
        Ok(())
    }

    /// Removes blobs of an execution's step from every offer, then says so; run again by
    /// [`Archive::finish_purges`] if it was cut short.
    pub(super) fn purge(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        blobs: &[carnac_catalog::PurgedBlob],
    ) -> Result<(), ArchiveError> {
        if blobs.is_empty() {
            return Ok(());
        }
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
        self.catalog.purge_done(tenant, id, blobs)?;
        Ok(())
    }

    /// Finishes the purges that a stop cut short (run at start, with recovery, and by
    /// maintenance): returns the eliminations whose purge it finished.
    pub fn finish_purges(&self) -> Result<Vec<(TenantId, OperationId)>, ArchiveError> {
        let mut done = Vec::new();
        for (tenant, id, blobs) in self.catalog.pending_purges()? {
            self.purge(&tenant, &id, &blobs)?;
            done.push((tenant, id));
        }
        Ok(done)
    }

    /// Completes the executions a stop cut short (run at start, with recovery): returns
    /// those completed, and those that could not be, with why (they stay executing, and
    /// executing them again completes them).
    pub fn complete_executions(&self) -> Result<Vec<CompletedExecution>, ArchiveError> {
        let mut out = Vec::new();
        let mut due = self.catalog.executing_eliminations()?;
        // Transfers out the definitive archives accepted whose purge a stop kept from
        // beginning: their acceptance is all the purge waits for.
        for t in self.catalog.tenants()? {
            for r in self.catalog.eliminations(&t.id)? {
                if r.kind.sends()
                    && matches!(
                        r.state,
                        EliminationState::Accepted | EliminationState::PartlyAccepted
                    )
                {
                    due.push((t.id.clone(), r.id));
                }
            }
        }
        // Executions whose operation another node alive runs are that node's to finish
        // (this node's own are in `executions` while they run).
        let abandoned: BTreeSet<OperationId> = self
            .catalog
            .abandoned_operations(true)?
            .into_iter()
            .map(|(_, op)| op)
            .collect();
        for (tenant, id) in due {
            let running = self
                .executions
                .lock()
                .map(|r| r.contains(&(tenant.clone(), id.clone())))
                .unwrap_or(true);
            if running {
                // A request of this process is on it.
                continue;
            }
            let live_elsewhere = self
                .catalog
                .elimination(&tenant, &id)?
                .and_then(|r| {
                    r.execution?["operation"]
                        .as_str()?
                        .parse::<OperationId>()
                        .ok()
                })
                .is_some_and(|op| {
                    !abandoned.contains(&op)
                        && self
                            .catalog
                            .operation(&tenant, &op)
                            .ok()
                            .flatten()
                            .is_some_and(|o| o.state == carnac_catalog::OperationState::Running)
                });
            if live_elsewhere {
                continue;
            }
            let agent = self
                .catalog
                .elimination(&tenant, &id)?
                .and_then(|r| r.execution?["agent"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "system".into());
            let done = self.execute_elimination(&tenant, &id, &agent).map(|_| ());
            out.push((tenant, id, done));
        }
        Ok(out)
    }

    /// The operations of executions under way: recovery leaves them to
    /// [`Archive::complete_executions`].
    pub(crate) fn execution_operations(&self) -> Result<BTreeSet<OperationId>, ArchiveError> {
        let mut out = BTreeSet::new();
        for (tenant, id) in self.catalog.executing_eliminations()? {
            if let Some(op) = self
                .catalog
                .elimination(&tenant, &id)?
                .and_then(|r| r.execution?["operation"].as_str()?.parse().ok())
            {
                out.insert(op);
            }
        }
        Ok(out)
    }
}

/// `units` in an order where each comes before its parents among them (descendants before
/// their ancestors).
fn below_first(units: &[UnitId], analysed: &BTreeMap<UnitId, analysis::Analysed>) -> Vec<UnitId> {
    let set: BTreeSet<&UnitId> = units.iter().collect();
    let depth = depths(units, |u| {
        analysed
            .get(u)
            .map(|a| a.parents.iter().filter(|p| set.contains(p)).collect())
            .unwrap_or_default()
    });
    let mut order: Vec<UnitId> = units.to_vec();
    order.sort_by_key(|u| std::cmp::Reverse(depth.get(u).copied().unwrap_or(0)));
    order
}

/// The depth of each of `units` and of every unit above them: 0 for a unit without
/// `parents`, else one more than its deepest parent. Iterative, as a tree may be deep.
pub(crate) fn depths<'a>(
    units: &'a [UnitId],
    parents: impl Fn(&UnitId) -> Vec<&'a UnitId>,
) -> HashMap<&'a UnitId, usize> {
    let mut depth: HashMap<&UnitId, usize> = HashMap::new();
    let mut visiting: BTreeSet<&UnitId> = BTreeSet::new();
    for start in units {
        let mut stack = vec![(start, false)];
        while let Some((u, expanded)) = stack.pop() {
            if depth.contains_key(u) || (!expanded && !visiting.insert(u)) {
                // Done, or a cycle (which ingest cannot make): cut there.
                continue;
            }
            let above = parents(u);
            if expanded {
                let d = above
                    .iter()
                    .filter_map(|p| depth.get(p))
                    .map(|d| d + 1)
                    .max()
                    .unwrap_or(0);
                depth.insert(u, d);
                visiting.remove(u);
            } else {
                stack.push((u, true));
                stack.extend(
                    above
                        .into_iter()
                        .filter(|p| !depth.contains_key(p))
                        .map(|p| (p, false)),
                );
            }
        }
    }
    depth
}

/// The list an execution destroys, as its start event commits to it: the SHA-256 of the
/// identifiers, in the order destroyed, one a line.
#[derive(Default)]
pub(crate) struct Plan {
    hasher: sha2::Sha256,
    units: usize,
}

impl Plan {
    pub(crate) fn add(&mut self, unit: &UnitId) {
        use sha2::Digest as _;
        self.hasher.update(unit.as_str().as_bytes());
        self.hasher.update(b"\n");
        self.units += 1;
    }

    pub(crate) fn units(&self) -> usize {
        self.units
    }

    fn finish(self) -> (Vec<u8>, usize) {
        use sha2::Digest as _;
        (self.hasher.finalize().to_vec(), self.units)
    }
}

/// The identifiers of a list written one a line, read back for a writer that pulls them;
/// a read that fails ends the list, and [`ListedUnits::finish`] says so.
struct ListedUnits {
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    failed: Option<std::io::Error>,
}

impl ListedUnits {
    fn open(path: &std::path::Path) -> std::io::Result<Self> {
        use std::io::BufRead as _;
        Ok(Self {
            lines: std::io::BufReader::new(std::fs::File::open(path)?).lines(),
            failed: None,
        })
    }

    fn finish(self) -> std::io::Result<()> {
        self.failed.map_or(Ok(()), Err)
    }
}

impl Iterator for ListedUnits {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        match self.lines.next()? {
            Ok(line) => Some(line),
            Err(e) => {
                self.failed = Some(e);
                None
            }
        }
    }
}
