//! Transfer out to the definitive archives (Code du patrimoine L212-3: at the end of their
//! retention, records the appraisal keeps go to the public archives), and restitution to the
//! producer (L212-4, R212-22: at the end of the archiver's contract, the records go back and
//! every copy is destroyed), the way an elimination goes, with the receiver's answer where
//! the visa was. A restitution has no appraisal condition (the records are the producer's;
//! a hold alone keeps a unit), sends an `ArchiveRestitutionRequest` with its package, and is
//! purged once the producer acknowledges the package (or its SAE accepts it).
//!
//! 1. **Proposal**: a selection analysed at today (`appraise_transfer`: retention ended
//!    with Keep, or storage ended with Transfer; no hold; no other open operation; every
//!    unit below a unit going with it), every refusal with its reason. The package is made
//!    then (`ArchiveTransfer` from the archive, the TransferringAgency, to the definitive
//!    archives, the ArchivalAgency from the agencies referential; with its `evidence/`
//!    folder) and kept in every offer until the purge: state `sent`.
//! 2. **Messages**: the receiver's `Acknowledgement` is recorded; its
//!    `ArchiveTransferReply` that answers this transfer accepts (all units, or the units it
//!    lists) or rejects (nothing purged; a new reply may come). Each is kept whole.
//! 3. **Purge**: what was accepted is purged as an execution purges (in steps, resumed
//!    after a stop, tombstones saying where each unit went and under which identifier),
//!    then the `ArchiveModificationNotification` to the producer and the transfer
//!    certificate (signed, timestamped); the package goes with the purge.

use super::*;
use carnac_seda::transfer_reply::{TransferMessage, read_transfer_message};

/// The package sent, kept until the purge (or the withdrawal).
pub const TRANSFER_ZIP: &str = "transfer.zip";
/// The receiver's messages, each under the operation of the step that recorded it.
pub const ACKNOWLEDGEMENT_XML: &str = "acknowledgement.xml";
pub const REPLY_XML: &str = "reply.xml";
/// A restitution's request to the producer (`ArchiveRestitutionRequest`), with its package.
pub const RESTITUTION_REQUEST_XML: &str = "request.xml";

/// A transfer out as a client writes it (`POST …/transfers-out`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferOutRequest {
    #[serde(default)]
    pub units: Vec<String>,
    #[serde(default)]
    pub query: Option<SelectionQuery>,
    /// The definitive archives' identifier, in the tenant's agencies referential.
    pub archival_agency: String,
    /// The agreement the receiver knows the transfer under (its `ArchivalAgreement`).
    #[serde(default)]
    pub archival_agreement: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A restitution as a client writes it (`POST …/restitutions`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestitutionRequest {
    #[serde(default)]
    pub units: Vec<String>,
    #[serde(default)]
    pub query: Option<SelectionQuery>,
    /// The producer the records go back to: their originating agency, in the agencies
    /// referential. Units of another agency stay.
    pub originating_agency: String,
    #[serde(default)]
    pub comment: Option<String>,
}

const MAX_IDENTIFIER: usize = 255;

/// What a transfer out and a restitution ask alike.
struct Outgoing<'a> {
    units: &'a [String],
    query: Option<&'a SelectionQuery>,
    receiver: &'a str,
    agreement: Option<&'a str>,
    comment: Option<&'a str>,
}

impl Archive {
    /// Analyses a selection and, if some of it may go, makes its package and records the
    /// transfer out as sent: every unit in the package or excluded with its reason.
    pub fn propose_transfer_out(
        &self,
        tenant: &TenantId,
        request: &TransferOutRequest,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.propose_outgoing(
            DisposalKind::TransferOut,
            tenant,
            Outgoing {
                units: &request.units,
                query: request.query.as_ref(),
                receiver: &request.archival_agency,
                agreement: request.archival_agreement.as_deref(),
                comment: request.comment.as_deref(),
            },
            agent,
        )
    }

    /// Analyses a selection of one producer's records and, if some of it may go back,
    /// makes its package, writes the `ArchiveRestitutionRequest` and records the
    /// restitution as sent.
    pub fn propose_restitution(
        &self,
        tenant: &TenantId,
        request: &RestitutionRequest,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.propose_outgoing(
            DisposalKind::Restitution,
            tenant,
            Outgoing {
                units: &request.units,
                query: request.query.as_ref(),
                receiver: &request.originating_agency,
                agreement: None,
                comment: request.comment.as_deref(),
            },
            agent,
        )
    }

    fn propose_outgoing(
        &self,
        kind: DisposalKind,
        tenant: &TenantId,
        request: Outgoing<'_>,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut problems = Vec::new();
        let agency = request.receiver.trim();
        let field = match kind {
            DisposalKind::Restitution => "originating_agency",
            _ => "archival_agency",
        };
        let agencies = self.referentials(tenant)?.agencies.unwrap_or_default();
        if agency.is_empty() {
            problems.push(format!("name the receiver ({field})"));
        } else if agency.len() > MAX_IDENTIFIER || !agencies.contains_key(agency) {
            problems.push(format!(
                "{field} {:?} is not in the tenant's agencies referential",
                bounded_text(agency, 80)
            ));
        }
        for (what, text) in [
            ("archival_agreement", request.agreement),
            ("comment", request.comment),
        ] {
            if let Some(t) = text {
                let max = if what == "comment" {
                    4096
                } else {
                    MAX_IDENTIFIER
                };
                if t.len() > max || t.trim().is_empty() {
                    problems.push(format!("{what} has {} bytes; 1 to {max}", t.len()));
                }
                if t.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
                {
                    problems.push(format!("{what} holds control characters"));
                }
            }
        }
        let selected = match self.select_units(tenant, request.units, request.query) {
            Ok(s) => s,
            Err(ArchiveError::InvalidRequest(p)) => {
                problems.extend(p);
                Default::default()
            }
            Err(e) => return Err(e),
        };
        if !problems.is_empty() {
            return Err(bad(problems));
        }
        let today = self.today();
        let analysed = self.analyse(
            tenant,
            &selected.units,
            today,
            today,
            None,
            kind,
            (kind == DisposalKind::Restitution).then_some(agency),
        )?;
        let mut proposed = Vec::new();
        let mut excluded: Vec<EliminationUnitRow> = selected
            .unknown
            .iter()
            .map(|u| EliminationUnitRow {
                unit: u.clone(),
                status: EliminationUnitStatus::Excluded,
                reason: Some(excluded_json(&Excluded::Unknown)),
                record: serde_json::json!({}),
                position: None,
            })
            .collect();
        let chosen: BTreeSet<UnitId> = selected.units.iter().cloned().collect();
        let mut order: Vec<UnitId> = selected.units.clone();
        order.extend(analysed.keys().filter(|u| !chosen.contains(*u)).cloned());
        for u in order {
            let a = &analysed[&u];
            match &a.why {
                None => proposed.push(EliminationUnitRow {
                    unit: u.to_string(),
                    status: EliminationUnitStatus::Proposed,
                    reason: None,
                    record: a.record.clone(),
                    position: None,
                }),
                Some(why) if chosen.contains(&u) => excluded.push(EliminationUnitRow {
                    unit: u.to_string(),
                    status: EliminationUnitStatus::Excluded,
                    reason: Some(excluded_json(why)),
                    record: a.record.clone(),
                    position: None,
                }),
                Some(_) => {}
            }
        }
        if proposed.is_empty() {
            return Err(ArchiveError::State {
                code: if kind == DisposalKind::Restitution {
                    "nothing_to_return"
                } else {
                    "nothing_to_transfer"
                },
                message: format!(
                    "no unit of the selection may go {} now: {}",
                    if kind == DisposalKind::Restitution {
                        "back to its producer"
                    } else {
                        "to the definitive archives"
                    },
                    excluded
                        .iter()
                        .take(20)
                        .map(|e| format!(
                            "{} ({})",
                            e.unit,
                            e.reason
                                .as_ref()
                                .and_then(|r| r.get("description"))
                                .and_then(|d| d.as_str())
                                .unwrap_or("")
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            });
        }
        // The package's roots: proposed units none of whose parents is proposed (a unit
        // below a proposed one is proposed with it, or keeps it out).
        let going: BTreeSet<&str> = proposed.iter().map(|u| u.unit.as_str()).collect();
        let roots: Vec<UnitId> = proposed
            .iter()
            .filter_map(|u| u.unit.parse::<UnitId>().ok())
            .filter(|u| {
                analysed[u]
                    .parents
                    .iter()
                    .all(|p| !going.contains(p.as_str()))
            })
            .collect();
        let version = self.tenant_seda_version(tenant)?;
        let operation = self.new_operation()?;
        let now = self.now();
        let comment = request.comment.map(|c| bounded_text(c, 4096));
        let units = self.package_units(tenant, &roots)?;
        if units.all.len() != proposed.len() {
            return Err(state_error(format!(
                "the package would hold {} units, the analysis proposes {}: the tree changed meanwhile; ask again",
                units.all.len(),
                proposed.len()
            )));
        }
        let disposal = kind;
        let kind = match disposal {
            DisposalKind::Restitution => EventKind::Restitution,
            _ => EventKind::TransferOut,
        };
        self.catalog
            .start_operation(tenant, &operation, &kind, &now, agent)?;
        let made = (|| {
            let file = tempfile::NamedTempFile::new_in(&self.tmp)
                .map_err(|e| ArchiveError::io("a scratch file for the package", e))?;
            let (package, file) = self.write_package_of(
                tenant,
                &units,
                version,
                carnac_seda::package::PackageHeader {
                    message_identifier: operation.to_string(),
                    date: now.to_string(),
                    comments: comment.iter().cloned().collect(),
                    archival_agreement: request.agreement.map(|a| a.trim().to_owned()),
                    archival_agency: agency.to_owned(),
                    transferring_agency: self.config.archival_agency.clone(),
                },
                file,
            )?;
            file.as_file()
                .sync_all()
                .map_err(|e| ArchiveError::io("writing the package", e))?;
            let size = file
                .as_file()
                .metadata()
                .map_err(|e| ArchiveError::io("the package", e))?
                .len();
            // A restitution asks the producer to take its records back, listing them.
            let mut request_xml = Vec::new();
            if disposal == DisposalKind::Restitution {
                seda::write_restitution_request(
                    &mut request_xml,
                    version,
                    &seda::ModificationNotification {
                        message_identifier: operation.to_string(),
                        date: now.to_string(),
                        comments: comment.iter().cloned().collect(),
                        archival_agency: self.config.archival_agency.clone(),
                        originating_agency: agency.to_owned(),
                    },
                    &mut units.all.iter().map(ToString::to_string),
                )
                .map_err(|e| ArchiveError::io("writing the restitution request", e))?;
            }
            let mut documents = vec![(TRANSFER_ZIP, Document::File(file.path()))];
            if !request_xml.is_empty() {
                documents.push((RESTITUTION_REQUEST_XML, Document::Bytes(&request_xml)));
            }
            let digests = self.write_documents(tenant, &operation, &documents)?;
            Ok::<_, ArchiveError>((package, size, digests))
        })();
        let (package, size, mut digests) =
            made.inspect_err(|e| self.abandon(tenant, &operation, kind.clone(), agent, e))?;
        // The package is kept until the purge; the request, for good.
        let package_digest: serde_json::Map<String, serde_json::Value> = digests
            .remove(TRANSFER_ZIP)
            .map(|d| (TRANSFER_ZIP.to_owned(), d))
            .into_iter()
            .collect();
        let objects: u64 = proposed
            .iter()
            .filter_map(|u| u.record["objects"].as_u64())
            .sum();
        let bytes: u64 = proposed
            .iter()
            .filter_map(|u| u.record["bytes"].as_u64())
            .sum();
        let totals = serde_json::json!({
            "units": proposed.len(),
            "objects": objects,
            "bytes": bytes,
            "excluded": excluded.len(),
            "archival_agency": agency,
            "archival_agreement": request.agreement,
            "package": {
                "name": TRANSFER_ZIP,
                "sha256": package_digest.get(TRANSFER_ZIP),
                "bytes": size,
                "files": package.files,
                "manifest_sha256": package.manifest_sha256,
                "damaged_copies": package.damaged_copies,
            },
        });
        let row = EliminationRow {
            id: operation.clone(),
            kind: disposal,
            state: EliminationState::Sent,
            at: today.to_string(),
            seda_version: version.as_str().into(),
            proposed_by: agent.into(),
            proposed_at: now.clone(),
            steps: Vec::new(),
            totals: totals.clone(),
            purge_pending: false,
            execution: None,
        };
        let summary = serde_json::json!({
            "elimination": operation,
            "kind": disposal.as_str(),
            "at": today.to_string(),
            "totals": totals,
            "comment": comment,
            "package": package_digest,
            "documents": digests,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: kind.clone(),
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail: summary.clone(),
        };
        let mut rows = proposed.into_iter().chain(excluded).map(Ok);
        let created = self.catalog.create_elimination(
            tenant,
            NewElimination {
                row: &row,
                units: &mut rows,
                summary: &summary,
                event: &event,
            },
        );
        if let Err(e) = created {
            let e = match e {
                CatalogError::Conflict(m) => ArchiveError::State {
                    code: "unit_in_other_operation",
                    message: format!("{m}: nothing was sent; ask again"),
                },
                other => other.into(),
            };
            self.abandon(tenant, &operation, kind, agent, &e);
            return Err(e);
        }
        tracing::info!(%tenant, %operation, kind = disposal.as_str(), units = row.totals["units"].as_u64(), to = agency, "package sent");
        self.elimination_report(tenant, &operation)
    }

    /// A transfer out, or NotFound (an elimination is not one).
    pub fn transfer_out(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<EliminationReport, ArchiveError> {
        self.outgoing(DisposalKind::TransferOut, tenant, id)
    }

    /// A transfer out or a restitution (`kind`) with its units, or NotFound.
    pub fn outgoing(
        &self,
        kind: DisposalKind,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<EliminationReport, ArchiveError> {
        self.outgoing_row(kind, tenant, id)?;
        self.elimination_report(tenant, id)
    }

    pub(super) fn outgoing_row(
        &self,
        kind: DisposalKind,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<EliminationRow, ArchiveError> {
        self.require_tenant(tenant)?;
        self.catalog
            .elimination(tenant, id)?
            .filter(|r| r.kind == kind)
            .ok_or_else(|| ArchiveError::NotFound(format!("{} {id}", kind.noun())))
    }

    /// The tenant's transfers out, newest first (without their units).
    pub fn transfers_out(&self, tenant: &TenantId) -> Result<Vec<EliminationRow>, ArchiveError> {
        self.outgoing_list(DisposalKind::TransferOut, tenant)
    }

    /// The tenant's transfers out or restitutions, newest first (without their units).
    pub fn outgoing_list(
        &self,
        kind: DisposalKind,
        tenant: &TenantId,
    ) -> Result<Vec<EliminationRow>, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut all = self.catalog.eliminations(tenant)?;
        all.retain(|r| r.kind == kind);
        Ok(all)
    }

    /// A message of the definitive archives about a transfer out: its `Acknowledgement`
    /// (recorded), or its `ArchiveTransferReply`. A reply that accepts it (all its units, or
    /// those it lists) starts the purge of what it accepts at once; one that rejects it
    /// purges nothing and leaves it open for another reply. Each message is kept whole.
    pub fn transfer_out_message(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        bytes: &[u8],
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.outgoing_message(DisposalKind::TransferOut, tenant, id, bytes, agent)
    }

    /// A message about a transfer out or a restitution (`kind`). For a restitution, the
    /// producer's `ArchiveRestitutionRequestReply` is recorded (one that refuses rejects
    /// it), and its acknowledgement of the package, like a reply that accepts, starts the
    /// purge of every unit.
    pub fn outgoing_message(
        &self,
        disposal: DisposalKind,
        tenant: &TenantId,
        id: &OperationId,
        bytes: &[u8],
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        let row = self.outgoing_row(disposal, tenant, id)?;
        // A producer answers for its own agencies' records only (one bound to none, for
        // its whole tenant).
        if disposal == DisposalKind::Restitution
            && let Some(account) = self.catalog.account(agent)?
            && account.role == carnac_model::access::Role::Producer
            && !account.agencies.is_empty()
        {
            let receiver = row.totals["archival_agency"].as_str().unwrap_or("");
            if !account.agencies.iter().any(|a| a == receiver) {
                return Err(ArchiveError::Forbidden(format!(
                    "restitution {id} gives records back to {receiver}; {agent} answers for {}",
                    account.agencies.join(", ")
                )));
            }
        }
        let message = read_transfer_message(bytes).map_err(|e| bad(vec![e.to_string()]))?;
        let what = disposal.noun();
        let answers = |message: &str, theirs: &str| {
            bad(vec![format!(
                "the {message} answers {:?}, not {what} {id}",
                bounded_text(theirs, 80)
            )])
        };
        let reply_kind = match disposal {
            DisposalKind::Restitution => EventKind::RestitutionReply,
            _ => EventKind::TransferOutReply,
        };
        match message {
            TransferMessage::Acknowledgement {
                identifier,
                received,
            } => {
                if received != id.as_str() {
                    return Err(answers("acknowledgement", &received));
                }
                if !matches!(
                    row.state,
                    EliminationState::Sent | EliminationState::Rejected
                ) {
                    return Err(state_error(format!(
                        "{what} {id} is {}: an acknowledgement comes before the reply",
                        row.state.as_str()
                    )));
                }
                if disposal == DisposalKind::Restitution {
                    // The producer has its records back: every copy here goes.
                    let to = row
                        .state
                        .after(EliminationStep::Reply {
                            accepted: true,
                            partial: false,
                        })
                        .map_err(|m| state_error(format!("{what} {id}: {m}")))?;
                    self.transfer_out_step(
                        tenant,
                        &row,
                        to,
                        reply_kind,
                        serde_json::json!({"step": "acknowledgement", "decision": "accepted", "reply_identifier": bounded_text(&identifier, 256)}),
                        &[],
                        (ACKNOWLEDGEMENT_XML, bytes),
                        agent,
                    )?;
                    return self.execute_elimination(tenant, id, agent);
                }
                self.transfer_out_step(
                    tenant,
                    &row,
                    row.state,
                    EventKind::TransferOutAcknowledgement,
                    serde_json::json!({"step": "acknowledgement", "message_identifier": bounded_text(&identifier, 256)}),
                    &[],
                    (ACKNOWLEDGEMENT_XML, bytes),
                    agent,
                )
            }
            TransferMessage::RestitutionReply(reply) => {
                if disposal != DisposalKind::Restitution {
                    return Err(bad(vec![format!(
                        "an ArchiveRestitutionRequestReply answers a restitution, not {what} {id}"
                    )]));
                }
                if !reply.answers(id.as_str()) {
                    return Err(answers("restitution reply", &reply.request));
                }
                // Agreed: recorded, the package awaits its acknowledgement. Refused:
                // rejected, nothing purged.
                let to = if reply.accepts() {
                    row.state
                } else {
                    row.state
                        .after(EliminationStep::Reply {
                            accepted: false,
                            partial: false,
                        })
                        .map_err(|m| state_error(format!("{what} {id}: {m}")))?
                };
                self.transfer_out_step(
                    tenant,
                    &row,
                    to,
                    reply_kind,
                    serde_json::json!({
                        "step": "restitution_reply",
                        "decision": if reply.accepts() { "agreed" } else { "refused" },
                        "reply_code": bounded_text(&reply.reply_code, 64),
                        "reply_identifier": bounded_text(&reply.identifier, 256),
                    }),
                    &[],
                    (REPLY_XML, bytes),
                    agent,
                )
            }
            TransferMessage::Reply(reply) => {
                if !reply.answers(id.as_str()) {
                    return Err(answers("reply", &reply.request));
                }
                let mut ours = Vec::new();
                self.catalog.each_elimination_unit(tenant, id, &mut |u| {
                    if u.status == EliminationUnitStatus::Proposed {
                        ours.push(u.unit);
                    }
                    Ok(())
                })?;
                let accepted = reply.accepts();
                // A reply that lists units accepts those; one that lists none, all.
                let listed: Vec<&String> = ours
                    .iter()
                    .filter(|u| reply.units.contains_key(*u))
                    .collect();
                if accepted && !reply.units.is_empty() && listed.is_empty() {
                    return Err(bad(vec![format!(
                        "the reply lists {} units, none of {what} {id}",
                        reply.units.len()
                    )]));
                }
                let excepted: Vec<UnitId> = if accepted && !reply.units.is_empty() {
                    ours.iter()
                        .filter(|u| !reply.units.contains_key(*u))
                        .filter_map(|u| u.parse().ok())
                        .collect()
                } else {
                    Vec::new()
                };
                let to = row
                    .state
                    .after(EliminationStep::Reply {
                        accepted,
                        partial: !excepted.is_empty(),
                    })
                    .map_err(|m| state_error(format!("{what} {id} cannot take this reply: {m}")))?;
                let step = serde_json::json!({
                    "step": "reply",
                    "decision": if accepted { "accepted" } else { "rejected" },
                    "reply_code": bounded_text(&reply.reply_code, 64),
                    "reply_identifier": bounded_text(&reply.identifier, 256),
                    "grant_date": reply.grant_date.as_deref().map(|d| bounded_text(d, 64)),
                    "accepted_units": if accepted { ours.len() - excepted.len() } else { 0 },
                    "not_accepted": excepted.len(),
                });
                let report = self.transfer_out_step(
                    tenant,
                    &row,
                    to,
                    reply_kind,
                    step,
                    &excepted,
                    (REPLY_XML, bytes),
                    agent,
                )?;
                if !accepted {
                    return Ok(report);
                }
                // Accepted: purged now, as an execution (resumed by recovery if cut short).
                self.execute_elimination(tenant, id, agent)
            }
        }
    }

    /// Records a step of a transfer out with the message that made it.
    #[allow(clippy::too_many_arguments)]
    fn transfer_out_step(
        &self,
        tenant: &TenantId,
        row: &EliminationRow,
        to: EliminationState,
        kind: EventKind,
        step: serde_json::Value,
        excepted: &[UnitId],
        document: (&str, &[u8]),
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.record_step(tenant, row, to, kind, step, excepted, Some(document), agent)
    }

    /// Withdraws a transfer out the definitive archives have not accepted: its units are
    /// free again and its package is removed.
    pub fn withdraw_transfer_out(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        comment: Option<&str>,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.withdraw_outgoing(DisposalKind::TransferOut, tenant, id, comment, agent)
    }

    /// Withdraws a transfer out or a restitution (`kind`) not yet accepted.
    pub fn withdraw_outgoing(
        &self,
        disposal: DisposalKind,
        tenant: &TenantId,
        id: &OperationId,
        comment: Option<&str>,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        let row = self.outgoing_row(disposal, tenant, id)?;
        let what = disposal.noun();
        let to = row
            .state
            .after(EliminationStep::Withdrawal)
            .map_err(|m| state_error(format!("{what} {id} cannot be withdrawn: {m}")))?;
        // The package first: a stop before the record leaves a withdrawal to ask again.
        self.remove_transfer_package(tenant, id)?;
        let operation = self.new_operation()?;
        let now = self.now();
        let step = serde_json::json!({
            "step": "withdrawal",
            "comment": comment.map(|c| bounded_text(c, 4096)),
            "operation": operation,
            "author": agent,
            "at": now,
            "state": to.as_str(),
        });
        let summary = serde_json::json!({
            "elimination": id,
            "kind": disposal.as_str(),
            "step": step,
            "package_removed": id,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation,
            kind: match disposal {
                DisposalKind::Restitution => EventKind::RestitutionWithdrawal,
                _ => EventKind::TransferOutWithdrawal,
            },
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail: summary.clone(),
        };
        self.catalog
            .elimination_step(
                tenant,
                EliminationStepCommit {
                    id,
                    from: row.state,
                    to,
                    step: &step,
                    excepted: &[],
                    summary: &summary,
                    event: &event,
                },
            )
            .map_err(|e| match e {
                CatalogError::Conflict(m) => state_error(format!("{m}: nothing was recorded")),
                other => other.into(),
            })?;
        self.elimination_report(tenant, id)
    }
}
