//! Corrections of a unit's descriptive metadata after ingest (issue 18 §6).
//!
//! An archivist corrects a title, a date, keywords… where one of the tenant's access
//! contracts allows writing on the unit's originating agency (Vitam's `WritingPermission`).
//! The change is a JSON merge patch of the descriptive fields (`carnac_seda::edit`); the
//! fields it writes must still validate against the official XSD of the unit's version, and
//! against the unit's archive unit profile when it declares one. One operation records it:
//! the unit's row, keywords, text index, facets and counts change in its transaction, the
//! previous metadata goes to the unit's history, and its journal event holds the difference
//! field by field. Search sees the new metadata at once. The producer can be sent the change
//! as an `ArchiveModificationNotification`.

use crate::{Archive, ArchiveError};
use carnac_catalog::{CatalogError, MetadataChange, MetadataHistoryRow};
use carnac_model::journal::{EventKind, NewEvent, bounded_text};
use carnac_model::{OperationId, Status, TenantId, UnitId};
pub use carnac_seda::edit::FieldChange;
use carnac_seda::edit::{self, EditError};
use serde_json::{Map, Value, json};
use sha2::Digest;

/// The key of a patch that holds the reason of the correction, not a field.
pub const COMMENT_KEY: &str = "#comment";
/// The longest reason, in bytes.
pub const MAX_COMMENT: usize = 1024;
/// A value journaled as it is up to this many bytes of JSON; a longer one by its digest and
/// size (the history keeps it whole).
pub const MAX_JOURNALED_VALUE: usize = 1024;
/// The most history entries read for a unit.
pub const MAX_HISTORY: usize = 100;

/// What a correction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataCorrection {
    /// None when the patch changed nothing (nothing was recorded).
    pub operation: Option<OperationId>,
    pub unit: UnitId,
    pub changes: Vec<FieldChange>,
    /// The access contract that allowed it.
    pub access_contract: Option<String>,
}

/// A value fit for the journal: itself, or its SHA-256 and size when long.
fn journaled(v: &Option<Value>) -> Value {
    match v {
        None => Value::Null,
        Some(v) => {
            let text = v.to_string();
            if text.len() <= MAX_JOURNALED_VALUE {
                v.clone()
            } else {
                json!({
                    "sha256": hex::encode(sha2::Sha256::digest(text.as_bytes())),
                    "bytes": text.len(),
                })
            }
        }
    }
}

impl Archive {
    /// Corrects the descriptive metadata of a unit with a JSON merge patch of its fields
    /// (`#comment`: the reason). Refused with every reason when the patch names fields that
    /// cannot change or values SEDA refuses; refused when no access contract of the tenant
    /// allows writing on the unit's agency, or the tenant is suspended.
    pub fn correct_metadata(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        patch: &Map<String, Value>,
        agent: &str,
    ) -> Result<MetadataCorrection, ArchiveError> {
        match self.catalog.tenant(tenant)? {
            None => return Err(ArchiveError::NotFound(format!("tenant {tenant}"))),
            Some(t) if t.suspended_at.is_some() => {
                return Err(ArchiveError::Suspended(tenant.clone()));
            }
            Some(_) => {}
        }
        let mut problems = Vec::new();
        let mut fields = patch.clone();
        let comment = match fields.remove(COMMENT_KEY) {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) if c.len() <= MAX_COMMENT => Some(c),
            Some(Value::String(c)) => {
                problems.push(format!(
                    "{COMMENT_KEY} has {} bytes; at most {MAX_COMMENT}",
                    c.len()
                ));
                None
            }
            Some(_) => {
                problems.push(format!(
                    "{COMMENT_KEY}: a string, the reason of the correction"
                ));
                None
            }
        };
        if fields.is_empty() {
            problems.push(
                "no field to correct: send the fields to change, as {\"Title\": \"…\"}".into(),
            );
        }
        let Some((row, _)) = self.catalog.unit(tenant, unit)? else {
            return Err(ArchiveError::NotFound(format!(
                "unit {unit} of tenant {tenant}"
            )));
        };
        let agency = self
            .catalog
            .unit_details(tenant, unit)?
            .and_then(|d| d.originating_agency);
        // Whether the tenant's agreement allows it, before anything of the patch is read.
        let refs = self.referentials(tenant)?;
        let contract = refs
            .access_contracts
            .iter()
            .flat_map(|m| m.values())
            .find(|c| c.allows_writing(agency.as_deref()))
            .map(|c| c.identifier.clone());
        let Some(contract) = contract else {
            return Err(ArchiveError::Forbidden(format!(
                "no active access contract of tenant {tenant} allows writing (WritingPermission) on the units of {}: \
                 import one that does, covering that agency (OriginatingAgencies or EveryOriginatingAgency)",
                agency
                    .as_deref()
                    .map_or("no agency".to_owned(), |a| format!("agency {a}"))
            )));
        };
        let edited = match edit::apply_patch(&row.metadata, &fields) {
            Ok(e) => Some(e),
            Err(EditError::Invalid(more)) => {
                problems.extend(more);
                None
            }
            Err(EditError::NotSeda2) => {
                problems.push(EditError::NotSeda2.to_string());
                None
            }
            Err(e @ EditError::Unreadable(_)) => {
                return Err(CatalogError::Corruption(format!("unit {unit}: {e}")).into());
            }
        };
        if !problems.is_empty() {
            return Err(ArchiveError::InvalidRequest(problems));
        }
        let edited = edited.expect("no problem, so edited");
        if edited.changes.is_empty() {
            return Ok(MetadataCorrection {
                operation: None,
                unit: unit.clone(),
                changes: Vec::new(),
                access_contract: Some(contract),
            });
        }
        if edited.metadata.len() > carnac_seda::manifest::MAX_UNIT_METADATA {
            return Err(ArchiveError::InvalidRequest(vec![format!(
                "the corrected metadata would hold {} bytes; a unit holds at most {}",
                edited.metadata.len(),
                carnac_seda::manifest::MAX_UNIT_METADATA
            )]));
        }
        let summary = edit::unit_summary(&edited.metadata)
            .map_err(|e| CatalogError::Corruption(format!("unit {unit}: {e}")))?;
        if summary.title.is_empty() {
            // As at ingest, which refuses a unit without a title even where the XSD does not.
            return Err(ArchiveError::InvalidRequest(vec![
                "a unit keeps a title (Title): correct it rather than remove it".into(),
            ]));
        }
        self.check_corrected(&edited, &refs)?;

        let operation = self.new_operation()?;
        let time: String = self.now().into();
        let changes = serde_json::to_value(&edited.changes).expect("changes serialise");
        let detail = json!({
            "subject": unit,
            "changes": edited.changes.iter().map(|c| json!({
                "field": c.field,
                "before": journaled(&c.before),
                "after": journaled(&c.after),
            })).collect::<Vec<_>>(),
            "access_contract": contract,
            "seda_version": edited.version.as_str(),
            "comment": comment.as_deref().map(|c| bounded_text(c, MAX_COMMENT)),
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::UnitMetadataChange,
            outcome: Status::Ok,
            time,
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog
            .change_metadata(
                tenant,
                MetadataChange {
                    unit,
                    before: &row.metadata,
                    after: &edited.metadata,
                    title: &summary.title,
                    description_level: summary.description_level.as_deref(),
                    start_date: summary.start_date.as_deref(),
                    end_date: summary.end_date.as_deref(),
                    keywords: &summary.keywords,
                    changes: &changes,
                    summary: &detail,
                    event: &event,
                },
            )
            .map_err(|e| match e {
                CatalogError::Conflict(m) => ArchiveError::State {
                    code: "metadata_changed_meanwhile",
                    message: format!("{m}: nothing was changed; read the unit and ask again"),
                },
                other => other.into(),
            })?;
        tracing::info!(%tenant, %unit, %operation, fields = edited.changes.len(), "unit metadata corrected");
        Ok(MetadataCorrection {
            operation: Some(operation),
            unit: unit.clone(),
            changes: edited.changes,
            access_contract: Some(contract),
        })
    }

    /// The fields that changed, against the official XSD of the unit's version, and the whole
    /// unit against its archive unit profile when it declares one.
    fn check_corrected(
        &self,
        edited: &edit::Edited,
        refs: &crate::referential::Referentials,
    ) -> Result<(), ArchiveError> {
        use carnac_seda::package::{ManifestWriter, PackageHeader};
        let unit = edit::check_unit(&edited.metadata)
            .map_err(|e| CatalogError::Corruption(e.to_string()))?;
        let file = tempfile::NamedTempFile::new_in(&self.tmp)
            .map_err(|e| ArchiveError::io("a scratch file for the check", e))?;
        let failed = |e: carnac_seda::package::PackageError| {
            ArchiveError::InvalidRequest(vec![format!(
                "the corrected metadata cannot be written: {e}"
            )])
        };
        let mut w = ManifestWriter::new(
            std::io::BufWriter::new(file.as_file()),
            edited.version,
            PackageHeader {
                message_identifier: "correction".into(),
                date: "2000-01-01T00:00:00".into(),
                comments: Vec::new(),
                archival_agreement: None,
                archival_agency: "check".into(),
                transferring_agency: "check".into(),
            },
        )
        .map_err(failed)?;
        w.open_unit("check", &unit, &|_, _| None, None)
            .map_err(failed)?;
        w.close_unit().map_err(failed)?;
        let mut out = w.finish(None).map_err(failed)?;
        std::io::Write::flush(&mut out).map_err(|e| ArchiveError::io("the scratch file", e))?;
        drop(out);
        if let Err(errors) = carnac_seda::schema::validate_seda(edited.version, file.path()) {
            return Err(ArchiveError::InvalidRequest(
                errors
                    .into_iter()
                    .take(20)
                    .map(|e| {
                        format!(
                            "the corrected metadata does not validate against SEDA {}: {}",
                            edited.version.as_str(),
                            e.message.trim()
                        )
                    })
                    .collect(),
            ));
        }
        let json = carnac_seda::unit_json::unit_to_json(edited.metadata.as_bytes())
            .map_err(|e| CatalogError::Corruption(e.to_string()))?;
        if let Some(profile) = json.get("ArchiveUnitProfile").and_then(Value::as_str) {
            let problems = crate::unit_profile::check_one(profile, refs, &json);
            if !problems.is_empty() {
                return Err(ArchiveError::InvalidRequest(problems));
            }
        }
        Ok(())
    }

    /// The latest corrections of a unit's metadata, newest first.
    pub fn metadata_history(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
    ) -> Result<Vec<MetadataHistoryRow>, ArchiveError> {
        Ok(self.catalog.metadata_history(tenant, unit, MAX_HISTORY)?)
    }

    /// The `ArchiveModificationNotification` that tells the producer of a correction
    /// (`operation`) of a unit's metadata; None when the unit had no such correction.
    pub fn metadata_notification(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        operation: &OperationId,
    ) -> Result<Option<Vec<u8>>, ArchiveError> {
        let Some(row) = self
            .metadata_history(tenant, unit)?
            .into_iter()
            .find(|r| &r.operation == operation)
        else {
            return Ok(None);
        };
        let (version, _) = edit::descriptive_fields(&row.current)
            .map_err(|e| CatalogError::Corruption(e.to_string()))?;
        let agency = self
            .catalog
            .unit_details(tenant, unit)?
            .and_then(|d| d.originating_agency)
            .unwrap_or_else(|| tenant.to_string());
        let fields: Vec<String> = row
            .changes
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("field")?.as_str().map(str::to_owned))
            .collect();
        let mut out = Vec::new();
        carnac_seda::authorization::write_modification_notification(
            &mut out,
            version,
            &carnac_seda::authorization::ModificationNotification {
                message_identifier: format!("{operation}-notification"),
                date: row.changed_at.to_string(),
                comments: vec![format!(
                    "Métadonnées descriptives corrigées ({}) par {} le {} (opération {operation})",
                    fields.join(", "),
                    row.agent,
                    row.changed_at
                )],
                archival_agency: self.config.archival_agency.clone(),
                originating_agency: agency,
            },
            &mut std::iter::once(unit.to_string()),
        )
        .map_err(|e| ArchiveError::io("writing the modification notification", e))?;
        Ok(Some(out))
    }
}
