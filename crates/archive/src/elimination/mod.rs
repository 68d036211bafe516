//! Elimination: the analysis of a selection at a date, the proposal (the bordereau, as a
//! SEDA `AuthorizationControlAuthorityRequest` and as a page a person reads and signs), the
//! producer's agreement, the control authority's visa, and the execution, which checks
//! every unit again, deletes what the visa grants (catalog first, in one transaction, then
//! every copy in every offer), and leaves a tombstone per unit.
//!
//! Each step is an operation with its journal event; the documents of each (request,
//! bordereau, replies, notification) are written to every offer under it before the
//! catalog records it (the operation is recorded as running first, so that recovery removes
//! the documents of a step that did not finish), and their digests go in its summary, where
//! `check` finds them.

use crate::selection::{MAX_SELECTED_UNITS, SelectionQuery};
use crate::{Archive, ArchiveError};
use carnac_catalog::{
    CatalogError, EliminationRow, EliminationStepCommit, EliminationUnitRow, EliminationUnitStatus,
    NewElimination, Tombstone,
};
use carnac_model::elimination::{DisposalKind, EliminationState, EliminationStep, Excluded};
use carnac_model::journal::{EventKind, NewEvent, bounded_text};
use carnac_model::referential::RuleCategory;
use carnac_model::rules::{appraise, parse_date};
use carnac_model::{OperationId, Status, TenantId, UnitId};
use carnac_seda::SedaVersion;
use carnac_seda::authorization as seda;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

mod analysis;
mod bordereau_pdf;
mod closure;
mod documents;
mod execution;
mod kept_packages;
mod transfer_out;
mod worm;

pub use carnac_seda::transfer_reply::MAX_REPLY_BYTES;
pub use closure::ClosureProgress;
use documents::{Bordereau, CertificateWriter, bordereau_html};
pub(crate) use documents::{Document, read_visa_reply};
pub use execution::ExecutionProgress;
pub use transfer_out::{
    ACKNOWLEDGEMENT_XML, REPLY_XML, RESTITUTION_REQUEST_XML, RestitutionRequest, TRANSFER_ZIP,
    TransferOutRequest,
};

/// The control authority's identifier in the SEDA messages when the operator names none.
pub const DEFAULT_CONTROL_AUTHORITY: &str = "ControlAuthority";

/// A proposal as a client writes it (`POST …/eliminations`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EliminationRequest {
    /// The date the analysis runs for (`YYYY-MM-DD`); today if none.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub units: Vec<String>,
    #[serde(default)]
    pub query: Option<SelectionQuery>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A unit of an elimination, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EliminationUnit {
    pub id: String,
    pub status: EliminationUnitStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<serde_json::Value>,
    /// Its line of the bordereau.
    pub record: serde_json::Value,
}

/// An elimination with its units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EliminationReport {
    pub id: OperationId,
    pub kind: DisposalKind,
    pub state: EliminationState,
    pub at: String,
    pub seda_version: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub steps: Vec<serde_json::Value>,
    pub totals: serde_json::Value,
    /// Its units, and below those it left out; none for a closure (a whole tenant, which
    /// its certificate lists; `totals.units` counts them).
    pub units: Vec<EliminationUnit>,
    pub excluded: Vec<EliminationUnit>,
    /// Blobs of the execution not yet removed from every offer (recovery finishes them).
    pub purge_pending: bool,
    /// The execution, once begun: `{"operation", "agent", "started_at"}`.
    pub execution: Option<serde_json::Value>,
}

/// The control authority's visa, as a decision or as its SEDA reply.
#[derive(Debug, Clone)]
pub enum Visa {
    Decision {
        granted: bool,
        except: Vec<String>,
        comment: Option<String>,
    },
    /// An `AuthorizationControlAuthorityRequestReply`, signed outside, kept whole.
    Seda(Vec<u8>),
}

/// Names of the documents of each step, as stored in the offers.
pub const REQUEST_XML: &str = "request.xml";
/// The request to the producer (`AuthorizationOriginatingAgencyRequest`), the same list.
pub const PRODUCER_REQUEST_XML: &str = "producer-request.xml";
pub const BORDEREAU_HTML: &str = "bordereau.html";
/// The same bordereau as a PDF, to sign (by hand or in a signature workflow).
pub const BORDEREAU_PDF: &str = "bordereau.pdf";
pub const AGREEMENT_XML: &str = "agreement.xml";
pub const VISA_XML: &str = "visa.xml";
pub const NOTIFICATION_XML: &str = "notification.xml";
/// The destruction certificate: what was destroyed, when, under which visa, each file's
/// digest; signed by the archive (`certificate.p7s`, CAdES-T: a detached CMS signature with
/// a signature timestamp), verifiable offline with `signer.pem` and the TSA's root.
pub const CERTIFICATE_JSON: &str = "certificate.json";
pub const CERTIFICATE_P7S: &str = "certificate.p7s";
pub const SIGNER_PEM: &str = "signer.pem";

fn bad(problems: Vec<String>) -> ArchiveError {
    ArchiveError::InvalidRequest(problems)
}

fn state_error(message: String) -> ArchiveError {
    ArchiveError::State {
        code: "elimination_state",
        message,
    }
}

impl Archive {
    fn today(&self) -> time::Date {
        self.clock.now().date()
    }

    /// The SEDA version the tenant's transfers speak (its latest accepted in SEDA 2); 2.1
    /// for a tenant whose transfers came in SEDA 1.0 or none yet, 2.1 being the version
    /// every SAE of the field reads.
    pub(crate) fn tenant_seda_version(
        &self,
        tenant: &TenantId,
    ) -> Result<SedaVersion, ArchiveError> {
        let operations = self.catalog.operations(tenant)?;
        let version = operations
            .iter()
            .rev()
            .filter(|o| o.kind == EventKind::Ingest && o.status.is_some_and(|s| s.is_accepted()))
            .filter_map(|o| {
                o.summary
                    .as_ref()?
                    .get("seda_version")?
                    .as_str()
                    .map(str::to_owned)
            })
            .find_map(|v| match v.as_str() {
                "2.1" => Some(SedaVersion::V2_1),
                "2.2" => Some(SedaVersion::V2_2),
                "2.3" => Some(SedaVersion::V2_3),
                _ => None,
            });
        Ok(version.unwrap_or(SedaVersion::V2_1))
    }

    /// Analyses a selection at a date and proposes what may go: every unit of it is on the
    /// bordereau or excluded with its reason.
    pub fn propose_elimination(
        &self,
        tenant: &TenantId,
        request: &EliminationRequest,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut problems = Vec::new();
        let at = match &request.at {
            None => self.today(),
            Some(d) => match parse_date(d) {
                Some(d) => d,
                None => {
                    problems.push(format!(
                        "at {:?} is not a date (YYYY-MM-DD)",
                        bounded_text(d, 40)
                    ));
                    self.today()
                }
            },
        };
        if let Some(c) = &request.comment
            && c.len() > 4096
        {
            problems.push(format!("comment has {} bytes; at most 4096", c.len()));
        }
        let everything = request.units.is_empty() && request.query.is_none();
        let mut selected = crate::selection::Selected::default();
        if everything {
            // Everything eligible at the date: the tenant's units, one selection's worth.
            let ids = self
                .catalog
                .unit_ids(tenant, None, MAX_SELECTED_UNITS + 1)?;
            if ids.len() > MAX_SELECTED_UNITS {
                problems.push(format!(
                    "the tenant holds more than {MAX_SELECTED_UNITS} units: select by a search or a list"
                ));
            }
            selected.units = ids;
        } else {
            match self.select_units(tenant, &request.units, request.query.as_ref()) {
                Ok(s) => selected = s,
                Err(ArchiveError::InvalidRequest(p)) => problems.extend(p),
                Err(e) => return Err(e),
            }
        }
        if !problems.is_empty() {
            return Err(bad(problems));
        }
        let analysed = self.analyse(
            tenant,
            &selected.units,
            at,
            at,
            None,
            DisposalKind::Elimination,
            None,
        )?;
        let mut proposed = Vec::new();
        let mut excluded = Vec::new();
        for u in selected.unknown {
            excluded.push(EliminationUnitRow {
                unit: u,
                status: EliminationUnitStatus::Excluded,
                reason: Some(excluded_json(&Excluded::Unknown)),
                record: serde_json::json!({}),
                position: None,
            });
        }
        // The selection first, in its order; then what lies below it.
        let mut order: Vec<UnitId> = selected.units.clone();
        let chosen: BTreeSet<UnitId> = order.iter().cloned().collect();
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
                // A unit below the selection that may not go keeps its ancestors, which say
                // so; it is not itself part of what was asked.
                Some(_) => {}
            }
        }
        if proposed.is_empty() {
            return Err(ArchiveError::State {
                code: "nothing_to_eliminate",
                message: format!(
                    "no unit of the selection may be destroyed at {at}: {}",
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
        let version = self.tenant_seda_version(tenant)?;
        let operation = self.new_operation()?;
        let now = self.now();
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
        });
        let producer = most_common_agency(&proposed);
        let comment = request.comment.as_deref().map(|c| bounded_text(c, 4096));
        // The same list, to the control authority and to the producer.
        let request = |to, identifier: String, authority: String| {
            let mut xml = Vec::new();
            seda::write_request(
                &mut xml,
                version,
                &seda::AuthorizationRequest {
                    to,
                    message_identifier: identifier,
                    date: now.to_string(),
                    comments: comment.iter().cloned().collect(),
                    archival_agreement: None,
                    reason: "Destruction".into(),
                    request_date: at.to_string(),
                    requester: self.config.archival_agency.clone(),
                    archival_agency: self.config.archival_agency.clone(),
                    authority,
                    replies: Vec::new(),
                },
                &mut proposed.iter().map(|u| u.unit.clone()),
            )
            .map(|()| xml)
            .map_err(|e| ArchiveError::io("writing a request for authorisation", e))
        };
        let request_xml = request(
            seda::Authority::ControlAuthority,
            operation.to_string(),
            self.config.control_authority.clone(),
        )?;
        let producer_xml = request(
            seda::Authority::OriginatingAgency,
            format!("{operation}-producer"),
            producer.clone(),
        )?;
        let at_text = at.to_string();
        let bordereau = Bordereau {
            archive: &self.config.archival_agency,
            tenant,
            id: &operation,
            at: &at_text,
            producer: &producer,
            proposed: &proposed,
            excluded: &excluded,
            totals: &totals,
        };
        let html = bordereau_html(&bordereau);
        let pdf = bordereau_pdf::bordereau_pdf(&bordereau);
        let documents = self.store_documents(
            tenant,
            &operation,
            EventKind::EliminationProposal,
            agent,
            &[
                (REQUEST_XML, &request_xml),
                (PRODUCER_REQUEST_XML, &producer_xml),
                (BORDEREAU_HTML, html.as_bytes()),
                (BORDEREAU_PDF, &pdf),
            ],
        )?;
        let row = EliminationRow {
            id: operation.clone(),
            kind: DisposalKind::Elimination,
            state: EliminationState::Proposed,
            at: at.to_string(),
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
            "at": at.to_string(),
            "totals": totals,
            "comment": comment,
            "documents": documents,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::EliminationProposal,
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
                    message: format!("{m}: nothing was proposed; ask again"),
                },
                other => other.into(),
            };
            self.abandon(
                tenant,
                &operation,
                EventKind::EliminationProposal,
                agent,
                &e,
            );
            return Err(e);
        }
        tracing::info!(%tenant, %operation, units = row.totals["units"].as_u64(), "elimination proposed");
        self.elimination_report(tenant, &operation)
    }

    /// An elimination with its units, or NotFound.
    pub fn elimination_report(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<EliminationReport, ArchiveError> {
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        let mut units = Vec::new();
        let mut excluded = Vec::new();
        // A closure's units are a whole tenant: its certificate lists them (streamed, see
        // `save_elimination_document`), its report does not.
        if row.kind != DisposalKind::Closure {
            self.catalog.each_elimination_unit(tenant, id, &mut |u| {
                let unit = EliminationUnit {
                    id: u.unit,
                    status: u.status,
                    reason: u.reason,
                    record: u.record,
                };
                match u.status {
                    EliminationUnitStatus::Excluded => excluded.push(unit),
                    _ => units.push(unit),
                }
                Ok(())
            })?;
        }
        Ok(EliminationReport {
            id: row.id,
            kind: row.kind,
            state: row.state,
            at: row.at,
            seda_version: row.seda_version,
            proposed_by: row.proposed_by,
            proposed_at: row.proposed_at.to_string(),
            steps: row.steps,
            totals: row.totals,
            units,
            excluded,
            purge_pending: row.purge_pending,
            execution: row.execution,
        })
    }

    /// The tenant's eliminations, newest first (without their units).
    pub fn eliminations(&self, tenant: &TenantId) -> Result<Vec<EliminationRow>, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut all = self.catalog.eliminations(tenant)?;
        all.retain(|r| r.kind == DisposalKind::Elimination);
        Ok(all)
    }

    /// Takes a step other than the execution: the producer's agreement, the visa, or a
    /// withdrawal. `document` is the step's SEDA reply, kept in the offers.
    #[allow(clippy::too_many_arguments)] // Private: the three public steps' one body.
    fn elimination_step(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        step: EliminationStep,
        kind: EventKind,
        record: serde_json::Value,
        excepted: &[UnitId],
        document: Option<(&str, Vec<u8>)>,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        let to = row
            .state
            .after(step)
            .map_err(|m| state_error(format!("elimination {id} cannot take this step: {m}")))?;
        let document = document
            .as_ref()
            .map(|(name, bytes)| (*name, bytes.as_slice()));
        self.record_step(tenant, &row, to, kind, record, excepted, document, agent)
    }

    /// Records a step (of an elimination or a transfer out) with the message that made it,
    /// if one did: the message kept in the offers, then the step, its state and its event
    /// in one catalog transaction. A step refused there abandons its operation (the message
    /// stays, journaled as abandoned).
    #[allow(clippy::too_many_arguments)] // Private: every step's one body.
    pub(crate) fn record_step(
        &self,
        tenant: &TenantId,
        row: &EliminationRow,
        to: EliminationState,
        kind: EventKind,
        mut step: serde_json::Value,
        excepted: &[UnitId],
        document: Option<(&str, &[u8])>,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        let id = &row.id;
        let operation = self.new_operation()?;
        let now = self.now();
        let documents = match document {
            Some(document) => {
                self.store_documents(tenant, &operation, kind.clone(), agent, &[document])?
            }
            None => Default::default(),
        };
        step["operation"] = serde_json::json!(operation);
        step["author"] = serde_json::json!(agent);
        step["at"] = serde_json::json!(now);
        step["state"] = serde_json::json!(to.as_str());
        let mut summary = serde_json::json!({
            "elimination": id,
            "step": step,
            "documents": documents,
        });
        // An elimination's events have always said what they are by their kind; a transfer
        // out or a restitution names its own.
        if row.kind != DisposalKind::Elimination {
            summary["kind"] = serde_json::json!(row.kind.as_str());
        }
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: kind.clone(),
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail: summary.clone(),
        };
        let taken = self.catalog.elimination_step(
            tenant,
            EliminationStepCommit {
                id,
                from: row.state,
                to,
                step: &step,
                excepted,
                summary: &summary,
                event: &event,
            },
        );
        if let Err(e) = taken {
            let e = match e {
                CatalogError::Conflict(m) => state_error(format!("{m}: nothing was recorded")),
                CatalogError::NotFound(m) => bad(vec![format!("{m} not found")]),
                other => other.into(),
            };
            if document.is_some() {
                self.abandon(tenant, &operation, kind, agent, &e);
            }
            return Err(e);
        }
        self.elimination_report(tenant, id)
    }

    /// The producer's agreement (or refusal), kept as its SEDA reply.
    pub fn agree_elimination(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        agreed: bool,
        comment: Option<&str>,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        // The producer answers for its own records: an account bound to some originating
        // agencies answers only for eliminations of theirs.
        let mut proposed = Vec::new();
        self.catalog.each_elimination_unit(tenant, id, &mut |u| {
            if u.status == EliminationUnitStatus::Proposed {
                proposed.push(u);
            }
            Ok(())
        })?;
        let producer = most_common_agency(&proposed);
        if let Some(account) = self.catalog.account(agent)?
            && !account.agencies.is_empty()
        {
            let foreign: BTreeSet<&str> = proposed
                .iter()
                .map(|u| u.record["originating_agency"].as_str().unwrap_or(""))
                .filter(|a| !account.agencies.iter().any(|mine| mine == a))
                .collect();
            if !foreign.is_empty() {
                return Err(ArchiveError::Forbidden(format!(
                    "elimination {id} proposes records of {} that {agent} does not answer for \
                     (it answers for {}): a producer of those agencies, or of the whole tenant, \
                     gives the agreement",
                    foreign
                        .iter()
                        .take(20)
                        .map(|a| if a.is_empty() { "no agency" } else { a })
                        .collect::<Vec<_>>()
                        .join(", "),
                    account.agencies.join(", ")
                )));
            }
        }
        let comment = comment.map(|c| bounded_text(c, 4096));
        let version = parse_version(&row.seda_version);
        let mut xml = Vec::new();
        seda::write_reply(
            &mut xml,
            version,
            &seda::AuthorizationReply {
                from: seda::Authority::OriginatingAgency,
                message_identifier: format!("{id}-agreement"),
                date: self.now().to_string(),
                comments: comment.iter().cloned().collect(),
                request_identifier: id.to_string(),
                reply_code: if agreed { "OK" } else { "KO" }.into(),
                archival_agency: self.config.archival_agency.clone(),
                // The producer, as the request to it names it.
                authority: producer,
            },
        )
        .map_err(|e| ArchiveError::io("writing the agreement", e))?;
        self.elimination_step(
            tenant,
            id,
            EliminationStep::Agreement { agreed },
            EventKind::EliminationAgreement,
            serde_json::json!({"step": "agreement", "decision": if agreed { "agreed" } else { "refused" }, "comment": comment}),
            &[],
            Some((AGREEMENT_XML, xml)),
            agent,
        )
    }

    /// Whether the account `login` answers for every unit an elimination still proposes
    /// (an account bound to no agency answers for its whole tenant), the condition of its
    /// agreement: read until the first unit of another agency.
    pub fn answers_for(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        login: &str,
    ) -> Result<bool, ArchiveError> {
        let agencies = self
            .catalog
            .account(login)?
            .map(|a| a.agencies)
            .unwrap_or_default();
        if agencies.is_empty() {
            return Ok(true);
        }
        let mut foreign = false;
        let walked = self.catalog.each_elimination_unit(tenant, id, &mut |u| {
            let agency = u.record["originating_agency"].as_str().unwrap_or("");
            if u.status == EliminationUnitStatus::Proposed && !agencies.iter().any(|a| a == agency)
            {
                foreign = true;
                return Err(carnac_catalog::CatalogError::Interrupted(String::new()));
            }
            Ok(())
        });
        match walked {
            Err(carnac_catalog::CatalogError::Interrupted(_)) if foreign => {}
            other => other?,
        }
        Ok(!foreign)
    }

    /// The control authority's visa: granted (possibly except for some units) or refused,
    /// kept as its SEDA reply; or that reply itself, signed outside, kept whole.
    pub fn visa_elimination(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        visa: Visa,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        let version = parse_version(&row.seda_version);
        let (granted, except, comment, xml, reply_id) = match visa {
            Visa::Decision {
                granted,
                except,
                comment,
            } => {
                let comment = comment.map(|c| bounded_text(&c, 4096));
                let reply_id = format!("{id}-visa");
                let mut xml = Vec::new();
                let mut comments: Vec<String> = comment.iter().cloned().collect();
                if !except.is_empty() {
                    comments.push(format!(
                        "Visa accordé sauf pour les unités : {}",
                        except.join(", ")
                    ));
                }
                seda::write_reply(
                    &mut xml,
                    version,
                    &seda::AuthorizationReply {
                        from: seda::Authority::ControlAuthority,
                        message_identifier: reply_id.clone(),
                        date: self.now().to_string(),
                        comments,
                        request_identifier: id.to_string(),
                        reply_code: if granted { "OK" } else { "KO" }.into(),
                        archival_agency: self.config.archival_agency.clone(),
                        authority: agent.into(),
                    },
                )
                .map_err(|e| ArchiveError::io("writing the visa", e))?;
                (granted, except, comment, xml, reply_id)
            }
            Visa::Seda(bytes) => {
                let reply = read_visa_reply(&bytes, version)?;
                if reply.request != id.as_str() {
                    return Err(bad(vec![format!(
                        "the reply answers {:?}, not elimination {id}",
                        bounded_text(&reply.request, 80)
                    )]));
                }
                // The identifier is the authority's: bounded before it goes into the
                // journal and the notification.
                (
                    reply.granted,
                    Vec::new(),
                    None,
                    bytes,
                    bounded_text(&reply.identifier, 256),
                )
            }
        };
        let mut excepted = Vec::new();
        let mut problems = Vec::new();
        if !granted && !except.is_empty() {
            problems.push("a refused visa excepts nothing: except goes with granted".into());
        }
        if except.len() > MAX_SELECTED_UNITS {
            problems.push(format!(
                "{} units excepted; at most {MAX_SELECTED_UNITS}",
                except.len()
            ));
        }
        for u in except.iter().take(MAX_SELECTED_UNITS) {
            match u.parse::<UnitId>() {
                Ok(u) => excepted.push(u),
                Err(e) => problems.push(format!(
                    "{:?} is not a unit identifier: {e}",
                    bounded_text(u, 80)
                )),
            }
        }
        if !problems.is_empty() {
            return Err(bad(problems));
        }
        excepted.sort();
        excepted.dedup();
        let partial = granted && !excepted.is_empty();
        self.elimination_step(
            tenant,
            id,
            EliminationStep::Visa { granted, partial },
            EventKind::EliminationVisa,
            serde_json::json!({
                "step": "visa",
                "decision": if granted { "granted" } else { "refused" },
                "except": excepted,
                "comment": comment,
                "reply_identifier": reply_id,
            }),
            &excepted,
            Some((VISA_XML, xml)),
            agent,
        )
    }

    /// Withdraws an open proposal: its units are free again.
    pub fn withdraw_elimination(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        comment: Option<&str>,
        agent: &str,
    ) -> Result<EliminationReport, ArchiveError> {
        self.elimination_step(
            tenant,
            id,
            EliminationStep::Withdrawal,
            EventKind::EliminationWithdrawal,
            serde_json::json!({"step": "withdrawal", "comment": comment.map(|c| bounded_text(c, 4096))}),
            &[],
            None,
            agent,
        )
    }

    /// What remains of the unit a destroyed file belonged to.
    pub fn object_tombstone(
        &self,
        tenant: &TenantId,
        object: &carnac_model::ObjectId,
    ) -> Result<Option<Tombstone>, ArchiveError> {
        Ok(self.catalog.object_tombstone(tenant, object)?)
    }

    /// What remains of a destroyed unit.
    pub fn tombstone(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Option<Tombstone>, ArchiveError> {
        Ok(self.catalog.tombstone(tenant, unit)?)
    }
}

/// Why a unit is out, in French, from the reason an elimination keeps (its English
/// description if it cannot be read back).
fn reason_fr(reason: Option<&serde_json::Value>) -> String {
    let Some(r) = reason else {
        return String::new();
    };
    match serde_json::from_value::<Excluded>(r.clone()) {
        Ok(e) => e.describe_fr(),
        Err(_) => r["description"].as_str().unwrap_or_default().to_owned(),
    }
}

fn excluded_json(why: &Excluded) -> serde_json::Value {
    let mut v = serde_json::to_value(why).unwrap_or_default();
    v["code"] = serde_json::json!(why.code());
    v["description"] = serde_json::json!(why.describe());
    v
}

fn parse_version(v: &str) -> SedaVersion {
    match v {
        "2.2" => SedaVersion::V2_2,
        "2.3" => SedaVersion::V2_3,
        _ => SedaVersion::V2_1,
    }
}

fn most_common_agency(units: &[EliminationUnitRow]) -> String {
    let mut counts = AgencyCounts::default();
    for u in units {
        counts.add(&u.record);
    }
    counts.most_common()
}

/// The originating agencies of bordereau lines or tombstones, counted: the producer an
/// elimination's messages name is the most common.
#[derive(Default)]
struct AgencyCounts(BTreeMap<String, usize>);

impl AgencyCounts {
    fn add(&mut self, record: &serde_json::Value) {
        if let Some(a) = record["originating_agency"].as_str() {
            *self.0.entry(a.to_owned()).or_default() += 1;
        }
    }

    fn most_common(self) -> String {
        self.0
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(a, _)| a)
            .unwrap_or_else(|| "unknown".into())
    }
}
