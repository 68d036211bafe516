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
    CatalogError, EliminationExecution, EliminationRow, EliminationStepCommit, EliminationUnitRow,
    EliminationUnitStatus, NewElimination, Tombstone,
};
use carnac_model::elimination::{EliminationState, EliminationStep, Excluded};
use carnac_model::journal::{EventKind, NewEvent, bounded_text};
use carnac_model::referential::RuleCategory;
use carnac_model::rules::{appraise, parse_date};
use carnac_model::{OperationId, Status, TenantId, UnitId};
use carnac_seda::SedaVersion;
use carnac_seda::authorization as seda;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

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
    pub state: EliminationState,
    pub at: String,
    pub seda_version: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub steps: Vec<serde_json::Value>,
    pub totals: serde_json::Value,
    pub units: Vec<EliminationUnit>,
    pub excluded: Vec<EliminationUnit>,
    /// Blobs of the execution not yet removed from every offer (recovery finishes them).
    pub purge_pending: bool,
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
pub const AGREEMENT_XML: &str = "agreement.xml";
pub const VISA_XML: &str = "visa.xml";
pub const NOTIFICATION_XML: &str = "notification.xml";
/// The destruction certificate: what was destroyed, when, under which visa, each file's
/// digest; signed by the archive (`certificate.p7s`, CAdES-T: a detached CMS signature with
/// a signature timestamp), verifiable offline with `signer.pem` and the TSA's root.
pub const CERTIFICATE_JSON: &str = "certificate.json";
pub const CERTIFICATE_P7S: &str = "certificate.p7s";
pub const SIGNER_PEM: &str = "signer.pem";

/// A document of a step: in memory (a short message) or a file (a certificate listing every
/// unit).
enum Document<'a> {
    Bytes(&'a [u8]),
    File(&'a std::path::Path),
}

/// A unit being analysed: what the bordereau says of it, and why it may not go.
struct Analysed {
    record: serde_json::Value,
    why: Option<Excluded>,
}

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
    fn tenant_seda_version(&self, tenant: &TenantId) -> Result<SedaVersion, ArchiveError> {
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

    /// Why each of `units` may not be destroyed at `at` (none: it may), with its bordereau
    /// line: its own rules, its descendants, the operations that have it.
    fn analyse(
        &self,
        tenant: &TenantId,
        units: &[UnitId],
        at: time::Date,
        holds_at: time::Date,
        exclude_operation: Option<&OperationId>,
    ) -> Result<BTreeMap<UnitId, Analysed>, ArchiveError> {
        let phase = std::time::Instant::now();
        let below = self.catalog.descendants(tenant, units)?;
        tracing::debug!(elapsed = ?phase.elapsed(), below = below.len(), "analysis: descendants");
        let mut all: Vec<UnitId> = units.to_vec();
        let known: BTreeSet<&UnitId> = units.iter().collect();
        all.extend(below.iter().filter(|u| !known.contains(u)).cloned());
        let graph = self.catalog.rules_graph(tenant, &all)?;
        tracing::debug!(elapsed = ?phase.elapsed(), units = graph.len(), "analysis: rules graph");
        let effective = crate::rules::compute_effective(&graph);
        tracing::debug!(elapsed = ?phase.elapsed(), "analysis: effective rules");
        let parents: HashMap<&UnitId, &Vec<UnitId>> =
            graph.iter().map(|u| (&u.id, &u.parents)).collect();
        let agencies: HashMap<&UnitId, Option<&str>> = graph
            .iter()
            .map(|u| (&u.id, u.originating_agency.as_deref()))
            .collect();
        let busy: HashMap<UnitId, OperationId> = self
            .catalog
            .units_in_open_eliminations(tenant, &all)?
            .into_iter()
            .filter(|(_, e)| Some(e) != exclude_operation)
            .collect();
        tracing::debug!(elapsed = ?phase.elapsed(), "analysis: open operations");
        // Each unit's own verdict first.
        let mut own: HashMap<UnitId, Option<Excluded>> = HashMap::new();
        for u in &all {
            let Some(e) = effective.get(u) else {
                own.insert(u.clone(), Some(Excluded::Unknown));
                continue;
            };
            let verdict = if !e.complete {
                Some(Excluded::RulesIncomplete)
            } else if let Some(op) = busy.get(u) {
                Some(Excluded::InOtherOperation {
                    operation: op.to_string(),
                })
            } else {
                let mut why = match appraise(&e.rules, at) {
                    Ok(()) => Vec::new(),
                    Err(w) => w
                        .into_iter()
                        .filter(|x| !matches!(x, carnac_model::rules::Exclusion::Hold { .. }))
                        .collect(),
                };
                // Holds are read at their own date (today at execution).
                let holds = carnac_model::rules::active_holds(&e.rules, holds_at);
                if !holds.is_empty() {
                    why.push(carnac_model::rules::Exclusion::Hold {
                        rules: holds.iter().map(|h| h.rule.rule.clone()).collect(),
                    });
                }
                (!why.is_empty()).then_some(Excluded::Rules { why })
            };
            own.insert(u.clone(), verdict);
        }
        // A unit kept keeps every unit above it.
        let mut verdict = own.clone();
        for (u, why) in &own {
            if why.is_none() {
                continue;
            }
            let mut stack: Vec<&UnitId> = parents
                .get(u)
                .map(|p| p.iter().collect())
                .unwrap_or_default();
            let mut seen = BTreeSet::new();
            while let Some(p) = stack.pop() {
                if !seen.insert(p.clone()) {
                    continue;
                }
                if let Some(v) = verdict.get_mut(p)
                    && v.is_none()
                {
                    *v = Some(Excluded::DescendantKept {
                        descendant: u.to_string(),
                    });
                }
                if let Some(pp) = parents.get(p) {
                    stack.extend(pp.iter());
                }
            }
        }
        tracing::debug!(elapsed = ?phase.elapsed(), "analysis: verdicts");
        let mut out = BTreeMap::new();
        for u in &all {
            let record = match effective.get(u) {
                Some(e) => {
                    self.bordereau_line(tenant, u, agencies.get(u).copied().flatten(), &e.rules)?
                }
                None => serde_json::json!({}),
            };
            out.insert(
                u.clone(),
                Analysed {
                    record,
                    why: verdict.remove(u).flatten(),
                },
            );
        }
        tracing::debug!(elapsed = ?phase.elapsed(), "analysis: bordereau lines");
        Ok(out)
    }

    /// A unit's line of the bordereau: title, dates, agency, its appraisal rules and their
    /// end, its files (count, bytes, digests).
    fn bordereau_line(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        agency: Option<&str>,
        rules: &carnac_model::rules::EffectiveRules,
    ) -> Result<serde_json::Value, ArchiveError> {
        let Some((u, objects)) = self.catalog.unit(tenant, unit)? else {
            return Ok(serde_json::json!({}));
        };
        let appraisal: Vec<serde_json::Value> = rules
            .of(RuleCategory::AppraisalRule)
            .map(|r| {
                serde_json::json!({
                    "rule": r.rule.rule,
                    "start_date": r.rule.start_date,
                    "end_date": r.rule.end_date,
                    "origin": r.origin.unit,
                })
            })
            .collect();
        let end = rules
            .of(RuleCategory::AppraisalRule)
            .filter_map(|r| r.rule.end_date.clone())
            .max();
        let final_actions: Vec<&str> = rules
            .final_actions_of(RuleCategory::AppraisalRule)
            .map(|a| a.final_action.as_str())
            .collect();
        let files: Vec<serde_json::Value> = objects
            .iter()
            .filter(|o| !o.physical)
            .map(|o| {
                serde_json::json!({
                    "id": o.id,
                    "size": o.size,
                    "digest_algorithm": o.digest.as_ref().map(|d| d.algorithm.seda_name()),
                    "digest": o.digest.as_ref().map(|d| d.hex.clone()),
                    "filename": o.filename,
                })
            })
            .collect();
        let bytes: u64 = objects.iter().filter_map(|o| o.size).sum();
        Ok(serde_json::json!({
            "id": unit,
            "title": u.title,
            "start_date": u.start_date,
            "end_date": u.end_date,
            "originating_agency": agency,
            "appraisal_rules": appraisal,
            "appraisal_end": end,
            "final_actions": final_actions,
            "objects": files.len(),
            "bytes": bytes,
            "files": files,
            "ingest": u.operation,
        }))
    }

    /// Writes `documents` to every offer under `operation` (recorded as running first): their
    /// digests, for the operation's summary. On failure nothing stays.
    fn store_documents(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: EventKind,
        agent: &str,
        documents: &[(&str, &[u8])],
    ) -> Result<serde_json::Map<String, serde_json::Value>, ArchiveError> {
        let docs: Vec<(&str, Document<'_>)> = documents
            .iter()
            .map(|(n, b)| (*n, Document::Bytes(b)))
            .collect();
        self.store_document_files(tenant, operation, kind, agent, &docs)
    }

    /// [`Archive::store_documents`], some documents being files (streamed, hashed on the way).
    fn store_document_files(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: EventKind,
        agent: &str,
        documents: &[(&str, Document<'_>)],
    ) -> Result<serde_json::Map<String, serde_json::Value>, ArchiveError> {
        self.catalog
            .start_operation(tenant, operation, &kind, &self.now(), agent)?;
        let mut digests = serde_json::Map::new();
        let written = (|| -> Result<(), ArchiveError> {
            for (i, offer) in self.offers.iter().enumerate() {
                let mut batch = offer.begin(tenant, operation)?;
                for (name, doc) in documents {
                    let w = batch.create(name)?;
                    let mut hashing = crate::files::HashingWriter {
                        inner: w,
                        hasher: carnac_model::MultiHasher::new(&[
                            carnac_model::DigestAlgorithm::Sha256,
                        ]),
                    };
                    let io = |e| ArchiveError::io(format!("writing {name}"), e);
                    match doc {
                        Document::Bytes(b) => hashing.write_all(b).map_err(io)?,
                        Document::File(p) => {
                            let mut f = std::fs::File::open(p).map_err(io)?;
                            std::io::copy(&mut f, &mut hashing).map_err(io)?;
                        }
                    }
                    let crate::files::HashingWriter { inner, hasher } = hashing;
                    inner.finish()?;
                    let hex = hasher.finish().pop().map(|d| d.hex).unwrap_or_default();
                    match digests.get(*name) {
                        None if i == 0 => {
                            digests.insert((*name).to_owned(), serde_json::Value::String(hex));
                        }
                        Some(v) if v.as_str() == Some(hex.as_str()) => {}
                        _ => {
                            return Err(ArchiveError::Invalid(format!(
                                "{name} changed between two offers' copies"
                            )));
                        }
                    }
                }
                batch.commit()?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            self.abandon(tenant, operation, kind, agent, &e);
            return Err(e);
        }
        Ok(digests)
    }

    /// Removes what a step wrote and closes its operation as failed.
    fn abandon(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: EventKind,
        agent: &str,
        why: &ArchiveError,
    ) {
        for offer in &self.offers {
            let _ = offer.discard(tenant, operation);
        }
        let detail = serde_json::json!({"status": "KO", "reasons": [{"step": kind.to_string(), "code": "FAILURE", "message": why.to_string()}]});
        if let Err(e) = self.close_failed(tenant, operation, kind, agent, &detail) {
            tracing::error!(error = %e, %operation, "closing a failed elimination step");
        }
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
        let analysed = self.analyse(tenant, &selected.units, at, at, None)?;
        let mut proposed = Vec::new();
        let mut excluded = Vec::new();
        for u in selected.unknown {
            excluded.push(EliminationUnitRow {
                unit: u,
                status: EliminationUnitStatus::Excluded,
                reason: Some(excluded_json(&Excluded::Unknown)),
                record: serde_json::json!({}),
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
                }),
                Some(why) if chosen.contains(&u) => excluded.push(EliminationUnitRow {
                    unit: u.to_string(),
                    status: EliminationUnitStatus::Excluded,
                    reason: Some(excluded_json(why)),
                    record: a.record.clone(),
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
        let mut request_xml = Vec::new();
        seda::write_request(
            &mut request_xml,
            version,
            &seda::AuthorizationRequest {
                to: seda::Authority::ControlAuthority,
                message_identifier: operation.to_string(),
                date: now.to_string(),
                comments: comment.iter().cloned().collect(),
                archival_agreement: None,
                reason: "Destruction".into(),
                request_date: at.to_string(),
                requester: self.config.archival_agency.clone(),
                archival_agency: self.config.archival_agency.clone(),
                authority: DEFAULT_CONTROL_AUTHORITY.into(),
                replies: Vec::new(),
            },
            &mut proposed.iter().map(|u| u.unit.clone()),
        )
        .map_err(|e| ArchiveError::io("writing the request for authorisation", e))?;
        let mut producer_xml = Vec::new();
        seda::write_request(
            &mut producer_xml,
            version,
            &seda::AuthorizationRequest {
                to: seda::Authority::OriginatingAgency,
                message_identifier: format!("{operation}-producer"),
                date: now.to_string(),
                comments: comment.iter().cloned().collect(),
                archival_agreement: None,
                reason: "Destruction".into(),
                request_date: at.to_string(),
                requester: self.config.archival_agency.clone(),
                archival_agency: self.config.archival_agency.clone(),
                authority: producer.clone(),
                replies: Vec::new(),
            },
            &mut proposed.iter().map(|u| u.unit.clone()),
        )
        .map_err(|e| ArchiveError::io("writing the request to the producer", e))?;
        let html = bordereau_html(
            &self.config.archival_agency,
            tenant,
            &operation,
            &at.to_string(),
            &producer,
            &proposed,
            &excluded,
            &totals,
        );
        let documents = self.store_documents(
            tenant,
            &operation,
            EventKind::EliminationProposal,
            agent,
            &[
                (REQUEST_XML, &request_xml),
                (PRODUCER_REQUEST_XML, &producer_xml),
                (BORDEREAU_HTML, html.as_bytes()),
            ],
        )?;
        let row = EliminationRow {
            id: operation.clone(),
            state: EliminationState::Proposed,
            at: at.to_string(),
            seda_version: version.as_str().into(),
            proposed_by: agent.into(),
            proposed_at: now.clone(),
            steps: Vec::new(),
            totals: totals.clone(),
            purge_pending: false,
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
        let mut rows = proposed.into_iter().chain(excluded);
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
        Ok(EliminationReport {
            id: row.id,
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
        })
    }

    /// The tenant's eliminations, newest first (without their units).
    pub fn eliminations(&self, tenant: &TenantId) -> Result<Vec<EliminationRow>, ArchiveError> {
        self.require_tenant(tenant)?;
        Ok(self.catalog.eliminations(tenant)?)
    }

    /// A document of an elimination's step (`request.xml`, `bordereau.html`, …), read from
    /// the first offer whose copy matches the digest its step recorded.
    pub fn elimination_document(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        name: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        use sha2::Digest as _;
        let row = self
            .catalog
            .elimination(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("elimination {id}")))?;
        // The step that wrote it: the proposal, or one of the steps after.
        let mut operations = vec![row.id.clone()];
        operations.extend(
            row.steps
                .iter()
                .filter_map(|s| s.get("operation")?.as_str()?.parse::<OperationId>().ok()),
        );
        for op in operations {
            let Some(o) = self.catalog.operation(tenant, &op)? else {
                continue;
            };
            let Some(expected) = o
                .summary
                .as_ref()
                .and_then(|s| s.get("documents")?.get(name)?.as_str().map(str::to_owned))
            else {
                continue;
            };
            let key = carnac_blobstore::BlobKey {
                tenant: tenant.clone(),
                batch: op.clone(),
                name: name.into(),
            };
            for offer in &self.offers {
                if let Ok(bytes) = carnac_blobstore::read_all(&**offer, &key)
                    && hex::encode(sha2::Sha256::digest(&bytes)) == expected
                {
                    return Ok(bytes);
                }
            }
            return Err(ArchiveError::State {
                code: "no_intact_copy",
                message: format!("no offer holds an intact copy of {name} of elimination {id}"),
            });
        }
        Err(ArchiveError::NotFound(format!(
            "{name} of elimination {id}"
        )))
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
        let operation = self.new_operation()?;
        let now = self.now();
        let documents = match &document {
            Some((name, bytes)) => {
                self.store_documents(tenant, &operation, kind.clone(), agent, &[(name, bytes)])?
            }
            None => Default::default(),
        };
        let mut step_json = record;
        step_json["operation"] = serde_json::json!(operation);
        step_json["author"] = serde_json::json!(agent);
        step_json["at"] = serde_json::json!(now);
        step_json["state"] = serde_json::json!(to.as_str());
        let summary = serde_json::json!({
            "elimination": id,
            "step": step_json,
            "documents": documents,
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
        let taken = self.catalog.elimination_step(
            tenant,
            EliminationStepCommit {
                id,
                from: row.state,
                to,
                step: &step_json,
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
                authority: agent.into(),
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
    fn purge(
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

/// Writes the certificate (`head` with the list of units destroyed, each with its files'
/// digests) to `path`, one unit at a time; its SHA-256, for the signature.
fn write_certificate(
    path: &std::path::Path,
    head: &serde_json::Value,
    units: &[(UnitId, serde_json::Value, NewEvent)],
) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::create(path)?;
    let mut w = crate::files::HashingWriter {
        inner: std::io::BufWriter::new(file),
        hasher: carnac_model::MultiHasher::new(&[carnac_model::DigestAlgorithm::Sha256]),
    };
    let head = head.to_string();
    // `{…head…, "units":[` : the head object opened up to append the list.
    write!(w, "{},\"units\":[", &head[..head.len() - 1])?;
    for (i, (_, record, _)) in units.iter().enumerate() {
        write!(w, "{}{}", if i == 0 { "" } else { "," }, record)?;
    }
    write!(w, "]}}")?;
    w.flush()?;
    let crate::files::HashingWriter { inner, hasher } = w;
    inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    hasher
        .finish()
        .pop()
        .and_then(|d| hex::decode(d.hex).ok())
        .ok_or_else(|| std::io::Error::other("hashing the certificate"))
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
    most_common_agency_of(units.iter().map(|u| &u.record))
}

fn most_common_agency_of<'a>(records: impl Iterator<Item = &'a serde_json::Value>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        if let Some(a) = r["originating_agency"].as_str() {
            *counts.entry(a.to_owned()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(a, _)| a)
        .unwrap_or_else(|| "unknown".into())
}

/// What the archive reads of a visa given as its SEDA reply.
struct VisaReply {
    identifier: String,
    request: String,
    granted: bool,
}

/// Reads an `AuthorizationControlAuthorityRequestReply`: valid against the elimination's
/// SEDA version, its identifier, the request it answers and its reply code (`OK` grants;
/// any other code refuses).
fn read_visa_reply(bytes: &[u8], version: SedaVersion) -> Result<VisaReply, ArchiveError> {
    const MAX: usize = 1 << 20;
    if bytes.len() > MAX {
        return Err(bad(vec![format!(
            "the reply has {} bytes; a visa has at most {MAX}",
            bytes.len()
        )]));
    }
    let dir = tempfile::tempdir().map_err(|e| ArchiveError::io("a scratch folder", e))?;
    let path = dir.path().join("visa.xml");
    std::fs::write(&path, bytes).map_err(|e| ArchiveError::io("writing the reply", e))?;
    if let Err(errors) = carnac_seda::schema::validate_seda(version, &path) {
        return Err(bad(errors
            .iter()
            .take(20)
            .map(|e| format!("SEDA {version} schema: {e}"))
            .collect()));
    }
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let (mut identifier, mut request, mut code, mut root) = (None, None, None, None);
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(e)) => {
                let name = e.local_name().as_ref().to_vec();
                if root.is_none() {
                    root = Some(name.clone());
                }
                path.push(name);
            }
            Ok(quick_xml::events::Event::End(_)) => {
                path.pop();
            }
            Ok(quick_xml::events::Event::Text(t)) if path.len() == 2 => {
                let text = t
                    .decode()
                    .map_err(|e| bad(vec![format!("the reply's text: {e}")]))?
                    .trim()
                    .to_owned();
                match path[1].as_slice() {
                    b"MessageIdentifier" => identifier = Some(text),
                    b"MessageRequestIdentifier" => request = Some(text),
                    b"ReplyCode" => code = Some(text),
                    _ => {}
                }
            }
            Ok(quick_xml::events::Event::DocType(_)) => {
                return Err(bad(vec!["the reply declares a DOCTYPE: refused".into()]));
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(bad(vec![format!("the reply is not well-formed XML: {e}")])),
        }
        buf.clear();
    }
    if root.as_deref() != Some(b"AuthorizationControlAuthorityRequestReply".as_slice()) {
        return Err(bad(vec![
            "the visa is an AuthorizationControlAuthorityRequestReply".into(),
        ]));
    }
    Ok(VisaReply {
        identifier: identifier.unwrap_or_default(),
        request: request.unwrap_or_default(),
        granted: code.as_deref() == Some("OK"),
    })
}

/// The bordereau d'élimination as a page a person reads, prints and signs.
#[allow(clippy::too_many_arguments)]
fn bordereau_html(
    archive: &str,
    tenant: &TenantId,
    id: &OperationId,
    at: &str,
    producer: &str,
    proposed: &[EliminationUnitRow],
    excluded: &[EliminationUnitRow],
    totals: &serde_json::Value,
) -> String {
    use crate::files::html_escape as e;
    let s = |v: &serde_json::Value| v.as_str().map(e).unwrap_or_default();
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Bordereau d\u{2019}élimination {id}</title>\
         <style>body{{font-family:sans-serif}}td,th{{border:1px solid #999;padding:2px 6px;font-size:small}}table{{border-collapse:collapse}}@media print{{a{{color:black}}}}</style></head><body>\n\
         <h1>Bordereau d\u{2019}élimination</h1>\n<table>\
         <tr><th>Service d\u{2019}archives</th><td>{archive}</td></tr><tr><th>Service producteur</th><td>{producer}</td></tr>\
         <tr><th>Tenant</th><td>{tenant}</td></tr><tr><th>Référence</th><td>{id}</td></tr>\
         <tr><th>Éligibilité au</th><td>{at}</td></tr>\
         <tr><th>Unités proposées</th><td>{units}</td></tr><tr><th>Fichiers</th><td>{objects}</td></tr><tr><th>Octets</th><td>{bytes}</td></tr></table>\n\
         <h2>Unités proposées à l\u{2019}élimination</h2>\n<table><tr><th>Identifiant</th><th>Intitulé</th><th>Dates extrêmes</th><th>Service producteur</th><th>Règle de DUA</th><th>Échéance</th><th>Fichiers</th><th>Octets</th></tr>\n",
        archive = e(archive),
        producer = e(producer),
        tenant = e(tenant.as_str()),
        id = e(id.as_str()),
        at = e(at),
        units = totals["units"],
        objects = totals["objects"],
        bytes = totals["bytes"],
    );
    for u in proposed {
        let r = &u.record;
        let rules: Vec<String> = r["appraisal_rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["rule"].as_str().map(e))
            .collect();
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            e(&u.unit),
            s(&r["title"]),
            s(&r["start_date"]),
            s(&r["end_date"]),
            s(&r["originating_agency"]),
            rules.join(", "),
            s(&r["appraisal_end"]),
            r["objects"],
            r["bytes"],
        ));
    }
    out.push_str("</table>\n");
    if !excluded.is_empty() {
        out.push_str("<h2>Unités écartées</h2>\n<table><tr><th>Identifiant</th><th>Intitulé</th><th>Motif</th></tr>\n");
        for u in excluded {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                e(&u.unit),
                s(&u.record["title"]),
                u.reason
                    .as_ref()
                    .map(|r| s(&r["description"]))
                    .unwrap_or_default()
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str(
        "<h2>Visas</h2>\n<table><tr><th>Service producteur (accord)</th><th>Autorité de contrôle (visa, Code du patrimoine R212-14)</th></tr>\
         <tr><td style=\"height:6em;width:20em\">Date, nom, signature</td><td style=\"width:20em\">Date, nom, signature</td></tr></table>\n</body></html>\n",
    );
    out
}
