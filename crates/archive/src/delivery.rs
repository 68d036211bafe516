//! Communication: units given to whoever asks, as a package (the DIP), when their access
//! rules allow it (Code du patrimoine L213-1 and L213-2: communicable as of right, unless
//! an access delay has not run out).
//!
//! Every unit of the package counts, the units asked for and every unit below them: one
//! still restricted refuses the whole delivery, and every restricted unit is named with its
//! rule and its end. The delivery is journaled, with an event on each unit given out (its
//! lifecycle shows it), once the package is whole.
//!
//! Here so far (issue 18): the delivery of communicable units by the operator (`carnac
//! deliver`). Not yet: the derogation and its authorisation by the control authority, a
//! producer's own records, the API and the packages kept for a time.

use crate::package::PackageSummary;
use crate::{Archive, ArchiveError};
use carnac_model::journal::{EventKind, NewEvent, bounded_text};
use carnac_model::{OperationId, Status, TenantId};

/// A request for communication.
#[derive(Debug, Clone, Default)]
pub struct DeliveryRequest {
    /// The units asked for; each comes with every unit below it.
    pub units: Vec<String>,
    /// Who asks (a person, a service), as the journal and the package name them.
    pub requester: String,
    pub comment: Option<String>,
    /// The request's own identifier (its `MessageIdentifier`), which the answer cites; the
    /// delivery's operation when there is none.
    pub request_identifier: Option<String>,
}

/// A delivery made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub operation: OperationId,
    pub package: PackageSummary,
    /// The `ArchiveDeliveryRequestReply` (SEDA, the package's version), listing every unit
    /// delivered.
    pub reply: Vec<u8>,
}

const MAX_REQUESTER: usize = 255;
const MAX_COMMENT: usize = 4096;

impl Archive {
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
        // Both go into XML, which has no place for control characters.
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
        if out.exists() {
            problems.push(format!(
                "{} exists: a delivery is written to a new file",
                out.display()
            ));
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
            return Err(ArchiveError::InvalidRequest(problems));
        }
        let units = self.package_units(tenant, &selected.units)?;
        let (roots, all) = (&units.roots, &units.all);
        // Access rules as of today.
        let today = self.clock.now().date();
        let effective = self.effective_rules(tenant, all)?;
        for u in all {
            match effective.get(u) {
                Some(e) if !e.complete => problems.push(format!(
                    "unit {u}: its rules from before they were kept are not filled yet (maintenance fills them)"
                )),
                Some(e) => {
                    for r in carnac_model::rules::access_restrictions(&e.rules, today) {
                        problems.push(match &r.rule.end_date {
                            Some(end) => format!(
                                "unit {u} is not communicable before {end} (access rule {}{})",
                                r.rule.rule,
                                if r.origin.unit == u.as_str() {
                                    String::new()
                                } else {
                                    format!(", from unit {}", r.origin.unit)
                                }
                            ),
                            None => format!(
                                "unit {u} is not communicable: access rule {} has no end",
                                r.rule.rule
                            ),
                        });
                    }
                }
                None => problems.push(format!("no unit {u} in tenant {tenant}")),
            }
        }
        if !problems.is_empty() {
            return Err(ArchiveError::InvalidRequest(problems));
        }

        let operation = self.new_operation()?;
        let version = self.tenant_seda_version(tenant)?;
        let comment = request
            .comment
            .as_deref()
            .map(|c| bounded_text(c, MAX_COMMENT));
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let file = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| ArchiveError::io(format!("a file in {}", dir.display()), e))?;
        let (package, written) = self.write_package_of(
            tenant,
            &units,
            version,
            carnac_seda::package::PackageHeader {
                message_identifier: operation.to_string(),
                date: self.now().to_string(),
                comments: comment.iter().cloned().collect(),
                archival_agreement: None,
                archival_agency: requester.to_owned(),
                transferring_agency: self.config.archival_agency.clone(),
            },
            file,
        )?;
        written
            .as_file()
            .sync_all()
            .map_err(|e| ArchiveError::io("writing the delivery", e))?;
        let now = self.now();
        let mut reply = Vec::new();
        carnac_seda::authorization::write_delivery_reply(
            &mut reply,
            version,
            &carnac_seda::authorization::DeliveryReply {
                message_identifier: format!("{operation}-reply"),
                date: now.to_string(),
                comments: comment.iter().cloned().collect(),
                reply_code: "OK".into(),
                request_identifier: request
                    .request_identifier
                    .as_deref()
                    .map(|r| r.trim().to_owned())
                    .unwrap_or_else(|| operation.to_string()),
                authorization_reply: None,
                archival_agency: self.config.archival_agency.clone(),
                requester: requester.to_owned(),
            },
            &mut all.iter().map(ToString::to_string),
        )
        .map_err(|e| ArchiveError::io("writing the answer to the request", e))?;
        let reply_sha256 = {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(&reply))
        };
        // In place, then journaled: a delivery the journal cannot record is taken back.
        written
            .persist_noclobber(out)
            .map_err(|e| ArchiveError::io(format!("writing {}", out.display()), e.error))?;
        let summary = serde_json::json!({
            "requester": requester,
            "reply_sha256": reply_sha256,
            "units": roots,
            "delivered": package.units,
            "files": package.files,
            "bytes": package.bytes,
            "manifest_sha256": package.manifest_sha256,
            "seda_version": version.as_str(),
            "comment": comment,
            "damaged_copies": package.damaged_copies,
        });
        let event = |kind: EventKind, detail: serde_json::Value| NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind,
            outcome: Status::Ok,
            time: now.to_string(),
            agent: agent.into(),
            detail,
        };
        let units: Vec<NewEvent> = all
            .iter()
            .map(|u| {
                event(
                    EventKind::UnitDelivered,
                    serde_json::json!({"subject": u, "requester": requester}),
                )
            })
            .collect();
        if let Err(e) = self.catalog.record_operation_with_events(
            tenant,
            &summary,
            &event(EventKind::Delivery, summary.clone()),
            &units,
        ) {
            let _ = std::fs::remove_file(out);
            return Err(e.into());
        }
        tracing::info!(%tenant, %operation, units = package.units, files = package.files, requester, "delivered");
        Ok(Delivery {
            operation,
            package,
            reply,
        })
    }
}
