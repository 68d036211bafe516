//! Communication: units given to whoever asks, as a package (the DIP), when their access
//! rules allow it (Code du patrimoine L213-1 and L213-2: communicable as of right, unless
//! an access delay has not run out), when they are the asking producer's own records, or
//! when the control authority authorises a derogation (L213-3).
//!
//! Every unit of the package counts, the units asked for and every unit below them: one
//! still restricted refuses the whole delivery unless a derogation is asked, and every
//! restricted unit is named with its rule and its end. A derogation asked becomes an
//! `AuthorizationControlAuthorityRequest` (reason `Communication`) that waits for the
//! control authority's answer; granted, the package is made then.
//!
//! Two ways out:
//! - `carnac deliver` (the operator, on the machine): the package is written to a file the
//!   operator names, and the delivery journaled;
//! - the API (`request_delivery`): the package is kept in every offer, beside its answer
//!   (`ArchiveDeliveryRequestReply`), for `[deliveries] keep_days`, then removed by the
//!   maintenance (journaled). A tenant keeps a bounded number and size of packages, and
//!   makes one at a time.
//!
//! Every delivery is journaled, with an event on each unit given out (its lifecycle shows
//! it), in the transaction that records it.

use crate::package::{PackageSummary, PackageUnits};
use crate::{Archive, ArchiveError};
use carnac_blobstore::BlobKey;
use carnac_catalog::{CatalogError, DeliveryRow, DeliveryStepCommit};
use carnac_model::access::Role;
use carnac_model::delivery::{DeliveryState, DeliveryStep};
use carnac_model::journal::{EventKind, NewEvent, bounded_text};
use carnac_model::{OperationId, Status, TenantId, Timestamp, UnitId};
use carnac_seda::SedaVersion;
use carnac_seda::authorization as seda;
use std::collections::BTreeSet;

mod kept;

/// A request for communication.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequest {
    /// The units asked for; each comes with every unit below it.
    pub units: Vec<String>,
    /// Who asks (a person, a service), as the journal and the package name them.
    pub requester: String,
    #[serde(default)]
    pub comment: Option<String>,
    /// The request's own identifier (its `MessageIdentifier`), which the answer cites; the
    /// delivery's operation when there is none.
    #[serde(default)]
    pub request_identifier: Option<String>,
    /// Whether units still restricted are asked for all the same, under a derogation the
    /// control authority decides (Code du patrimoine L213-3).
    #[serde(default)]
    pub derogation: bool,
}

/// Limits of the packages kept for download.
#[derive(Debug, Clone)]
pub struct DeliveryLimits {
    /// How long a package is kept after it is made.
    pub keep: std::time::Duration,
    /// Packages a tenant keeps at once.
    pub max_kept_packages: u64,
    /// Their bytes, in all: a new delivery is refused past it.
    pub max_kept_bytes: u64,
}

impl Default for DeliveryLimits {
    fn default() -> Self {
        DeliveryLimits {
            keep: std::time::Duration::from_secs(7 * 86_400),
            max_kept_packages: 20,
            max_kept_bytes: 64 << 30,
        }
    }
}

/// A delivery made to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub operation: OperationId,
    pub package: PackageSummary,
    /// The `ArchiveDeliveryRequestReply` (SEDA, the package's version), listing every unit
    /// delivered.
    pub reply: Vec<u8>,
}

/// The control authority's answer to a derogation.
#[derive(Debug, Clone)]
pub enum Authorization {
    Decision {
        granted: bool,
        comment: Option<String>,
    },
    /// Its `AuthorizationControlAuthorityRequestReply`, signed outside, kept whole.
    Seda(Vec<u8>),
}

/// The documents of a delivery, in the offers under the operation of the step that wrote
/// them.
pub const REQUEST_XML: &str = "request.xml";
pub const AUTHORIZATION_XML: &str = "authorization.xml";
pub const REPLY_XML: &str = "reply.xml";
/// The package, kept until its time is up.
pub const PACKAGE_ZIP: &str = "dip.zip";

const MAX_REQUESTER: usize = 255;
const MAX_COMMENT: usize = 4096;
/// Deliveries listed at once.
pub const MAX_LISTED: usize = 500;

/// A request checked: its units, and those still restricted, each with why.
struct Checked {
    units: PackageUnits,
    restricted: Vec<(UnitId, String)>,
    requester: String,
    comment: Option<String>,
}

/// A package made in a scratch file, and its answer.
struct Made {
    file: tempfile::NamedTempFile,
    package: PackageSummary,
    reply: Vec<u8>,
}

/// A package being read from the offers.
pub struct PackageDownload {
    pub reader: crate::reading::ObjectReader,
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

fn bad(problems: Vec<String>) -> ArchiveError {
    ArchiveError::InvalidRequest(problems)
}

impl Archive {
    /// Checks a request: its text, its units (and every unit below them), and which of them
    /// are restricted today for `agent` (an account: a producer's own records never are).
    fn check_delivery(
        &self,
        tenant: &TenantId,
        request: &DeliveryRequest,
        agent: &str,
    ) -> Result<Checked, ArchiveError> {
        let mut problems = Vec::new();
        let requester = request.requester.trim();
        if requester.is_empty() {
            problems.push("name the requester".to_owned());
        } else if requester.len() > MAX_REQUESTER {
            problems.push(format!(
                "the requester has {} bytes; at most {MAX_REQUESTER}",
                requester.len()
            ));
        }
        if let Some(c) = &request.comment
            && c.len() > MAX_COMMENT
        {
            problems.push(format!(
                "comment has {} bytes; at most {MAX_COMMENT}",
                c.len()
            ));
        }
        if let Some(r) = &request.request_identifier
            && (r.trim().is_empty() || r.len() > MAX_REQUESTER)
        {
            problems.push(format!(
                "the request's identifier has {} bytes; 1 to {MAX_REQUESTER}",
                r.trim().len()
            ));
        }
        // All go into XML, which has no place for control characters.
        for (what, text) in [
            ("the requester", Some(request.requester.as_str())),
            (
                "the request's identifier",
                request.request_identifier.as_deref(),
            ),
            ("the comment", request.comment.as_deref()),
        ] {
            if text.is_some_and(|t| {
                t.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            }) {
                problems.push(format!("{what} holds control characters"));
            }
        }
        let selected = match self.select_units(tenant, &request.units, None) {
            Ok(s) => Some(s),
            Err(ArchiveError::InvalidRequest(p)) => {
                problems.extend(p);
                None
            }
            Err(e) => return Err(e),
        };
        let selected = selected.unwrap_or_default();
        for u in &selected.unknown {
            problems.push(format!(
                "no unit {} in tenant {tenant}",
                bounded_text(u, 80)
            ));
        }
        if !problems.is_empty() {
            return Err(bad(problems));
        }
        let units = self.package_units(tenant, &selected.units)?;
        // A producer's own records come back to it whatever their access rules: those of
        // its agencies, or of its whole tenant when it is bound to none.
        let owner = self
            .catalog
            .account(agent)?
            .filter(|a| a.role == Role::Producer && a.tenants.contains(tenant));
        let graph = self.catalog.rules_graph(tenant, &units.all)?;
        let agencies: std::collections::HashMap<&UnitId, Option<&str>> = graph
            .iter()
            .map(|g| (&g.id, g.originating_agency.as_deref()))
            .collect();
        let effective = crate::rules::compute_effective(&graph);
        let today = self.clock.now().date();
        let mut restricted = Vec::new();
        for u in &units.all {
            let own = owner.as_ref().is_some_and(|a| {
                a.agencies.is_empty()
                    || agencies
                        .get(u)
                        .copied()
                        .flatten()
                        .is_some_and(|agency| a.agencies.iter().any(|m| m == agency))
            });
            match effective.get(u) {
                None => problems.push(format!("no unit {u} in tenant {tenant}")),
                Some(e) if !e.complete => problems.push(format!(
                    "unit {u}: its rules from before they were kept are not filled yet (maintenance fills them)"
                )),
                Some(_) if own => {}
                Some(e) => {
                    for r in carnac_model::rules::access_restrictions(&e.rules, today) {
                        let from = if r.origin.unit == u.as_str() {
                            String::new()
                        } else {
                            format!(", from unit {}", r.origin.unit)
                        };
                        restricted.push((
                            u.clone(),
                            match &r.rule.end_date {
                                Some(end) => format!(
                                    "unit {u} is not communicable before {end} (access rule {}{from})",
                                    r.rule.rule
                                ),
                                None => format!(
                                    "unit {u} is not communicable: access rule {}{from} has no end",
                                    r.rule.rule
                                ),
                            },
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(bad(problems));
        }
        Ok(Checked {
            units,
            restricted,
            requester: requester.to_owned(),
            comment: request
                .comment
                .as_deref()
                .map(|c| bounded_text(c, MAX_COMMENT)),
        })
    }

    /// Writes the package of `checked` into a scratch file in `dir`, and its answer.
    #[allow(clippy::too_many_arguments)]
    fn make_delivery(
        &self,
        tenant: &TenantId,
        checked: &Checked,
        version: SedaVersion,
        operation: &OperationId,
        request_identifier: &str,
        authorization_reply: Option<String>,
        dir: &std::path::Path,
    ) -> Result<Made, ArchiveError> {
        let file = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| ArchiveError::io(format!("a file in {}", dir.display()), e))?;
        let comments: Vec<String> = checked.comment.iter().cloned().collect();
        let (package, file) = self.write_package_of(
            tenant,
            &checked.units,
            version,
            carnac_seda::package::PackageHeader {
                message_identifier: operation.to_string(),
                date: self.now().to_string(),
                comments: comments.clone(),
                archival_agreement: None,
                archival_agency: checked.requester.clone(),
                transferring_agency: self.config.archival_agency.clone(),
            },
            file,
        )?;
        file.as_file()
            .sync_all()
            .map_err(|e| ArchiveError::io("writing the delivery", e))?;
        let mut reply = Vec::new();
        seda::write_delivery_reply(
            &mut reply,
            version,
            &seda::DeliveryReply {
                message_identifier: format!("{operation}-reply"),
                date: self.now().to_string(),
                comments,
                reply_code: "OK".into(),
                request_identifier: request_identifier.to_owned(),
                authorization_reply,
                archival_agency: self.config.archival_agency.clone(),
                requester: checked.requester.clone(),
            },
            &mut checked.units.all.iter().map(ToString::to_string),
        )
        .map_err(|e| ArchiveError::io("writing the answer to the request", e))?;
        Ok(Made {
            file,
            package,
            reply,
        })
    }

    /// The delivery's summary and its events (the delivery's, one per unit given out).
    #[allow(clippy::too_many_arguments)]
    fn delivery_events(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        checked: &Checked,
        made: &Made,
        version: SedaVersion,
        agent: &str,
        now: &Timestamp,
        extra: serde_json::Value,
    ) -> (serde_json::Value, NewEvent, Vec<NewEvent>) {
        use sha2::Digest as _;
        let mut summary = serde_json::json!({
            "requester": checked.requester,
            "reply_sha256": hex::encode(sha2::Sha256::digest(&made.reply)),
            "units": checked.units.roots,
            "delivered": made.package.units,
            "files": made.package.files,
            "bytes": made.package.bytes,
            "manifest_sha256": made.package.manifest_sha256,
            "seda_version": version.as_str(),
            "comment": checked.comment,
            "damaged_copies": made.package.damaged_copies,
        });
        if let (Some(s), serde_json::Value::Object(more)) = (summary.as_object_mut(), extra) {
            s.extend(more);
        }
        let event = |kind: EventKind, detail: serde_json::Value| NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind,
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail,
        };
        let units = checked
            .units
            .all
            .iter()
            .map(|u| {
                event(
                    EventKind::UnitDelivered,
                    serde_json::json!({"subject": u, "requester": checked.requester}),
                )
            })
            .collect();
        (summary.clone(), event(EventKind::Delivery, summary), units)
    }

    /// Checks that every unit asked for, and every unit below it, is communicable today,
    /// writes their package to `out` (a new file: an existing one is never replaced), and
    /// journals the delivery. Refused whole, with every reason, or done whole.
    pub fn deliver_to_file(
        &self,
        tenant: &TenantId,
        request: &DeliveryRequest,
        agent: &str,
        out: &std::path::Path,
    ) -> Result<Delivery, ArchiveError> {
        let exists = out.exists();
        let checked = match self.check_delivery(tenant, request, agent) {
            Err(ArchiveError::InvalidRequest(mut p)) if exists => {
                p.push(format!(
                    "{} exists: a delivery is written to a new file",
                    out.display()
                ));
                return Err(bad(p));
            }
            other => other?,
        };
        let mut problems: Vec<String> = checked.restricted.iter().map(|r| r.1.clone()).collect();
        if request.derogation {
            problems.push(
                "a derogation is asked of the control authority over the API (POST …/deliveries)"
                    .into(),
            );
        }
        if exists {
            problems.push(format!(
                "{} exists: a delivery is written to a new file",
                out.display()
            ));
        }
        if !problems.is_empty() {
            return Err(bad(problems));
        }
        let operation = self.new_operation()?;
        let version = self.tenant_seda_version(tenant)?;
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let request_identifier = request
            .request_identifier
            .as_deref()
            .map(|r| r.trim().to_owned())
            .unwrap_or_else(|| operation.to_string());
        let made = self.make_delivery(
            tenant,
            &checked,
            version,
            &operation,
            &request_identifier,
            None,
            dir,
        )?;
        let now = self.now();
        let (summary, event, units) = self.delivery_events(
            tenant,
            &operation,
            &checked,
            &made,
            version,
            agent,
            &now,
            serde_json::json!({}),
        );
        // In place, then journaled: a delivery the journal cannot record is taken back.
        let Made {
            file,
            package,
            reply,
        } = made;
        file.persist_noclobber(out)
            .map_err(|e| ArchiveError::io(format!("writing {}", out.display()), e.error))?;
        if let Err(e) = self
            .catalog
            .record_operation_with_events(tenant, &summary, &event, &units)
        {
            let _ = std::fs::remove_file(out);
            return Err(e.into());
        }
        tracing::info!(%tenant, %operation, units = package.units, files = package.files, requester = checked.requester, "delivered");
        Ok(Delivery {
            operation,
            package,
            reply,
        })
    }

    /// A request for communication over the API. Every unit communicable (or the asking
    /// producer's own): the package is made, kept in the offers with its answer, and the
    /// delivery is `delivered`. Some restricted, with a derogation asked: the request to the
    /// control authority is kept and the delivery waits for its answer. Some restricted,
    /// no derogation asked: refused, with every unit and rule, and nothing recorded.
    pub fn request_delivery(
        &self,
        tenant: &TenantId,
        request: &DeliveryRequest,
        agent: &str,
    ) -> Result<DeliveryRow, ArchiveError> {
        let checked = self.check_delivery(tenant, request, agent)?;
        if !checked.restricted.is_empty() && !request.derogation {
            return Err(ArchiveError::NotCommunicable(
                checked.restricted.iter().map(|r| r.1.clone()).collect(),
            ));
        }
        let id = self.new_operation()?;
        let version = self.tenant_seda_version(tenant)?;
        let now = self.now();
        let request_identifier = request
            .request_identifier
            .as_deref()
            .map(|r| r.trim().to_owned())
            .unwrap_or_else(|| id.to_string());
        let mut row = DeliveryRow {
            id: id.clone(),
            state: DeliveryState::AwaitingAuthorization,
            requested_by: agent.to_owned(),
            requested_at: now.clone(),
            request: serde_json::json!({
                "requester": checked.requester,
                "derogation": request.derogation,
                "comment": checked.comment,
                "request_identifier": request_identifier,
                "units": checked.units.roots,
                "seda_version": version.as_str(),
            }),
            restricted: Vec::new(),
            steps: Vec::new(),
            package: None,
            expires_at: None,
        };
        if checked.restricted.is_empty() {
            let _turn = self.delivery_turn(tenant)?;
            let (summary, event, units, package, expires) = self.deliver_kept(
                tenant,
                &id,
                &checked,
                version,
                &request_identifier,
                None,
                &[],
                agent,
            )?;
            row.state = DeliveryState::Delivered;
            row.package = Some(package);
            row.expires_at = Some(expires);
            let created = self
                .catalog
                .create_delivery(tenant, &row, &summary, &event, &units);
            if let Err(e) = created {
                self.discard_batches(tenant, &id);
                return Err(e.into());
            }
            tracing::info!(%tenant, operation = %id, units = checked.units.all.len(), "delivered");
            return Ok(row);
        }
        // The derogation: the request to the control authority, listing the units it
        // must cover.
        let restricted: BTreeSet<UnitId> = checked.restricted.iter().map(|r| r.0.clone()).collect();
        let mut xml = Vec::new();
        seda::write_request(
            &mut xml,
            version,
            &seda::AuthorizationRequest {
                to: seda::Authority::ControlAuthority,
                message_identifier: id.to_string(),
                date: now.to_string(),
                comments: checked
                    .comment
                    .iter()
                    .cloned()
                    .chain([format!(
                        "Demande de communication par dérogation pour {}",
                        checked.requester
                    )])
                    .collect(),
                archival_agreement: None,
                reason: "Communication".into(),
                request_date: now.to_datetime().date().to_string(),
                requester: checked.requester.clone(),
                archival_agency: self.config.archival_agency.clone(),
                authority: self.config.control_authority.clone(),
                replies: Vec::new(),
            },
            &mut restricted.iter().map(ToString::to_string),
        )
        .map_err(|e| ArchiveError::io("writing the request for a derogation", e))?;
        let documents = self.store_documents(
            tenant,
            &id,
            EventKind::DeliveryRequest,
            agent,
            &[(REQUEST_XML, &xml)],
        )?;
        row.restricted = restricted.into_iter().collect();
        let summary = serde_json::json!({
            "requester": checked.requester,
            "units": checked.units.roots,
            "restricted": checked.restricted.iter().take(1000).map(|r| &r.1).collect::<Vec<_>>(),
            "restricted_units": row.restricted.len(),
            "comment": checked.comment,
            "documents": documents,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: id.clone(),
            kind: EventKind::DeliveryRequest,
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail: summary.clone(),
        };
        if let Err(e) = self
            .catalog
            .create_delivery(tenant, &row, &summary, &event, &[])
        {
            let e = e.into();
            self.abandon(tenant, &id, EventKind::DeliveryRequest, agent, &e);
            return Err(e);
        }
        Ok(row)
    }

    /// Makes the package of `checked` and writes it with its answer (and `documents`) to
    /// every offer under `operation` (recorded as running first): the summary, events,
    /// package record and expiry to commit. On failure nothing stays.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn deliver_kept(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        checked: &Checked,
        version: SedaVersion,
        request_identifier: &str,
        authorization: Option<(String, serde_json::Value)>,
        documents: &[(&str, &[u8])],
        agent: &str,
    ) -> Result<
        (
            serde_json::Value,
            NewEvent,
            Vec<NewEvent>,
            serde_json::Value,
            Timestamp,
        ),
        ArchiveError,
    > {
        let limits = &self.config.deliveries;
        let (kept, bytes) = self.catalog.kept_packages(tenant)?;
        if kept >= limits.max_kept_packages || bytes >= limits.max_kept_bytes {
            return Err(ArchiveError::State {
                code: "too_many_packages",
                message: format!(
                    "tenant {tenant} keeps {kept} packages ({bytes} bytes) for download; at most {} ({} bytes): \
                     a new one can be made when one is removed (after {} days)",
                    limits.max_kept_packages,
                    limits.max_kept_bytes,
                    limits.keep.as_secs() / 86_400
                ),
            });
        }
        let kind = EventKind::Delivery;
        self.catalog
            .start_operation(tenant, operation, &kind, &self.now(), agent)?;
        let made = (|| {
            let made = self.make_delivery(
                tenant,
                checked,
                version,
                operation,
                request_identifier,
                authorization.as_ref().map(|a| a.0.clone()),
                &self.tmp,
            )?;
            let size = made
                .file
                .as_file()
                .metadata()
                .map_err(|e| ArchiveError::io("the package", e))?
                .len();
            let mut docs: Vec<(&str, crate::elimination::Document<'_>)> = documents
                .iter()
                .map(|(n, b)| (*n, crate::elimination::Document::Bytes(b)))
                .collect();
            docs.push((REPLY_XML, crate::elimination::Document::Bytes(&made.reply)));
            docs.push((
                PACKAGE_ZIP,
                crate::elimination::Document::File(made.file.path()),
            ));
            let digests = self.write_documents(tenant, operation, &docs)?;
            Ok::<_, ArchiveError>((made, size, digests))
        })();
        let (made, size, mut digests) =
            made.inspect_err(|e| self.abandon(tenant, operation, kind.clone(), agent, e))?;
        let sha256 = digests
            .remove(PACKAGE_ZIP)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let now = self.now();
        let expires = Timestamp::from_datetime(
            now.to_datetime()
                + time::Duration::try_from(limits.keep).unwrap_or(time::Duration::DAY * 7),
        );
        let package = serde_json::json!({
            "operation": operation,
            "name": PACKAGE_ZIP,
            "sha256": sha256,
            "bytes": size,
            "units": made.package.units,
            "files": made.package.files,
            "file_bytes": made.package.bytes,
            "manifest_sha256": made.package.manifest_sha256,
            "seda_version": version.as_str(),
            "damaged_copies": made.package.damaged_copies,
        });
        let mut extra = serde_json::json!({
            "documents": digests,
            "package": {PACKAGE_ZIP: sha256},
            "package_bytes": size,
            "expires_at": expires,
        });
        if let Some((_, a)) = authorization {
            extra["authorization"] = a;
        }
        let (summary, event, units) = self.delivery_events(
            tenant, operation, checked, &made, version, agent, &now, extra,
        );
        Ok((summary, event, units, package, expires))
    }

    /// Removes what an unfinished step wrote to the offers and closes its operation.
    fn discard_batches(&self, tenant: &TenantId, operation: &OperationId) {
        let e = ArchiveError::Invalid("the delivery could not be recorded".into());
        self.abandon(tenant, operation, EventKind::Delivery, "system", &e);
    }

    /// One package made at a time per tenant: a second request waits for nothing, it is
    /// told to come back.
    fn delivery_turn(&self, tenant: &TenantId) -> Result<DeliveryTurn<'_>, ArchiveError> {
        let mut busy = self
            .deliveries_running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !busy.insert(tenant.clone()) {
            return Err(ArchiveError::State {
                code: "busy",
                message: format!(
                    "a package of tenant {tenant} is being made: ask again when it is done"
                ),
            });
        }
        Ok(DeliveryTurn {
            archive: self,
            tenant: tenant.clone(),
        })
    }

    /// The control authority's answer to a derogation. Granted: the units are checked
    /// again (none may be restricted that the request did not name) and the package is
    /// made, kept with the authorisation and the answer. Refused: nothing is delivered.
    pub fn authorize_delivery(
        &self,
        tenant: &TenantId,
        id: &OperationId,
        authorization: Authorization,
        agent: &str,
    ) -> Result<DeliveryRow, ArchiveError> {
        let row = self
            .catalog
            .delivery(tenant, id)?
            .ok_or_else(|| ArchiveError::NotFound(format!("delivery {id}")))?;
        let version = match row.request["seda_version"].as_str() {
            Some("2.1") => SedaVersion::V2_1,
            Some("2.3") => SedaVersion::V2_3,
            _ => SedaVersion::V2_2,
        };
        let (granted, comment, xml, reply_id) = match authorization {
            Authorization::Decision { granted, comment } => {
                let comment = comment.map(|c| bounded_text(&c, MAX_COMMENT));
                let reply_id = format!("{id}-authorization");
                let mut xml = Vec::new();
                seda::write_reply(
                    &mut xml,
                    version,
                    &seda::AuthorizationReply {
                        from: seda::Authority::ControlAuthority,
                        message_identifier: reply_id.clone(),
                        date: self.now().to_string(),
                        comments: comment.iter().cloned().collect(),
                        request_identifier: id.to_string(),
                        reply_code: if granted { "OK" } else { "KO" }.into(),
                        archival_agency: self.config.archival_agency.clone(),
                        authority: agent.into(),
                    },
                )
                .map_err(|e| ArchiveError::io("writing the authorisation", e))?;
                (granted, comment, xml, reply_id)
            }
            Authorization::Seda(bytes) => {
                let reply = crate::elimination::read_visa_reply(&bytes, version)?;
                if reply.request != id.as_str() {
                    return Err(bad(vec![format!(
                        "the reply answers {:?}, not delivery {id}",
                        bounded_text(&reply.request, 80)
                    )]));
                }
                (
                    reply.granted,
                    None,
                    bytes,
                    bounded_text(&reply.identifier, 256),
                )
            }
        };
        let step = DeliveryStep::Authorization { granted };
        let to = row.state.after(step).map_err(|m| ArchiveError::State {
            code: "invalid_state",
            message: format!("delivery {id} cannot take this step: {m}"),
        })?;
        let operation = self.new_operation()?;
        let now = self.now();
        let step_json = serde_json::json!({
            "step": "authorization",
            "decision": if granted { "granted" } else { "refused" },
            "comment": comment,
            "reply_identifier": reply_id,
            "operation": operation,
            "author": agent,
            "at": now,
            "state": to.as_str(),
        });
        let conflict = |e: CatalogError| match e {
            CatalogError::Conflict(m) => ArchiveError::State {
                code: "invalid_state",
                message: format!("{m}: nothing was recorded"),
            },
            other => other.into(),
        };
        if !granted {
            let documents = self.store_documents(
                tenant,
                &operation,
                EventKind::DeliveryRefusal,
                agent,
                &[(AUTHORIZATION_XML, &xml)],
            )?;
            let summary = serde_json::json!({
                "delivery": id,
                "step": step_json,
                "documents": documents,
            });
            let event = NewEvent {
                tenant: tenant.clone(),
                operation: operation.clone(),
                kind: EventKind::DeliveryRefusal,
                outcome: Status::Ok,
                time: now.to_string(),
                agent: agent.into(),
                detail: summary.clone(),
            };
            let taken = self.catalog.delivery_step(
                tenant,
                DeliveryStepCommit {
                    id,
                    from: row.state,
                    to,
                    step: &step_json,
                    package: None,
                    summary: &summary,
                    event: &event,
                    subjects: &[],
                },
            );
            if let Err(e) = taken {
                let e = conflict(e);
                self.abandon(tenant, &operation, EventKind::DeliveryRefusal, agent, &e);
                return Err(e);
            }
            return self.delivery(tenant, id);
        }
        // Granted: checked again, as the requester asked, today.
        let request = DeliveryRequest {
            units: row.request["units"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            requester: row.request["requester"].as_str().unwrap_or("").to_owned(),
            comment: row.request["comment"].as_str().map(str::to_owned),
            request_identifier: row.request["request_identifier"]
                .as_str()
                .map(str::to_owned),
            derogation: true,
        };
        let checked = self.check_delivery(tenant, &request, &row.requested_by)?;
        let covered: BTreeSet<&UnitId> = row.restricted.iter().collect();
        let uncovered: Vec<String> = checked
            .restricted
            .iter()
            .filter(|r| !covered.contains(&r.0))
            .map(|r| format!("{} (restricted since the request)", r.1))
            .collect();
        if !uncovered.is_empty() {
            return Err(ArchiveError::State {
                code: "rules_changed",
                message: format!(
                    "the authorisation does not cover every unit now restricted: {}; nothing was recorded, a new request asks again",
                    uncovered.join("; ")
                ),
            });
        }
        let _turn = self.delivery_turn(tenant)?;
        let request_identifier = request
            .request_identifier
            .clone()
            .unwrap_or_else(|| id.to_string());
        let (mut summary, event, units, package, expires) = self.deliver_kept(
            tenant,
            &operation,
            &checked,
            version,
            &request_identifier,
            Some((reply_id.clone(), step_json.clone())),
            &[(AUTHORIZATION_XML, &xml)],
            agent,
        )?;
        summary["delivery"] = serde_json::json!(id);
        let mut event = event;
        event.detail = summary.clone();
        let taken = self.catalog.delivery_step(
            tenant,
            DeliveryStepCommit {
                id,
                from: row.state,
                to,
                step: &step_json,
                package: Some((&package, &expires)),
                summary: &summary,
                event: &event,
                subjects: &units,
            },
        );
        if let Err(e) = taken {
            let e = conflict(e);
            self.abandon(tenant, &operation, EventKind::Delivery, agent, &e);
            return Err(e);
        }
        self.delivery(tenant, id)
    }
}

/// A tenant's turn to make a package, given back when dropped.
struct DeliveryTurn<'a> {
    archive: &'a Archive,
    tenant: TenantId,
}

impl Drop for DeliveryTurn<'_> {
    fn drop(&mut self) {
        self.archive
            .deliveries_running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.tenant);
    }
}
