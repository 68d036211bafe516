//! Archive unit profiles at ingest (Vitam's `CHECK_ARCHIVE_UNIT_PROFILE`): every unit that
//! declares one must name a profile of the tenant that is active and has a schema, and its
//! metadata, as the JSON Vitam builds of it (`carnac_seda::unit_json`), must satisfy that
//! schema.
//!
//! Schemas are JSON Schema draft 4, whatever their `$schema` says: Vitam validates with a
//! draft-4 validator, and its profiles name meta-schemas of their own
//! (`http://vitam-json-schema.org/draft-04/schema#`). The crate is built without network or
//! file resolution: a schema that refers outside itself does not compile, so it is refused at
//! import.

use crate::ingest::checks::Plan;
use crate::referential::Referentials;
use carnac_model::Report;
use carnac_seda::manifest::Manifest;
use std::collections::HashMap;

pub const STEP: &str = "CHECK_ARCHIVE_UNIT_PROFILE";

/// Findings of this step kept in a report; beyond, they are counted in one more.
pub const MAX_FINDINGS: usize = 100;

/// Schema errors reported for one unit.
const MAX_ERRORS_PER_UNIT: usize = 10;

/// A compiled `ControlSchema`, or why it cannot be used.
pub fn compile(schema: &str) -> Result<jsonschema::Validator, String> {
    let value: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| format!("it is not JSON: {e}"))?;
    if !value.is_object() && !value.is_boolean() {
        return Err("it is not a JSON object".into());
    }
    jsonschema::draft4::new(&value).map_err(|e| e.to_string())
}

/// Checks every real unit of `m` that declares a profile; `metadata(i)` gives the metadata of
/// `m.units[i]` as the reader wrote it, `stop()` whether the ingest's time is over.
pub fn check_units(
    m: &Manifest,
    plan: &Plan,
    refs: &Referentials,
    metadata: &dyn Fn(usize) -> std::io::Result<Vec<u8>>,
    stop: &dyn Fn() -> bool,
    report: &mut Report,
) -> std::io::Result<()> {
    let mut compiled: HashMap<&str, Result<jsonschema::Validator, String>> = HashMap::new();
    let mut findings = 0usize;
    let mut more = 0usize;
    let mut add = |report: &mut Report, code: &str, message: String| {
        if findings < MAX_FINDINGS {
            findings += 1;
            report.error(STEP, code, message);
        } else {
            more += 1;
        }
    };
    for (n, planned) in plan.units.iter().enumerate() {
        if n % 256 == 255 && stop() {
            break;
        }
        let u = &m.units[planned.index];
        let Some(id) = u.profile.as_deref() else {
            continue;
        };
        let owner = format!("ArchiveUnit {:?}", u.xml_id);
        let shown = carnac_model::journal::bounded_text(id, 128);
        // Vitam's outcomes: NOT_FOUND, INACTIVE_STATUS, EMPTY_CONTROL_SCHEMA, NOT_AU_JSON_VALID.
        let profile = match refs.unit_profiles.as_ref().and_then(|p| p.get(id)) {
            None => {
                add(
                    report,
                    "NOT_FOUND",
                    format!(
                        "{owner}: the archive unit profile {shown:?} does not exist for this tenant"
                    ),
                );
                continue;
            }
            Some(p) if !p.active => {
                add(
                    report,
                    "INACTIVE_STATUS",
                    format!("{owner}: the archive unit profile {shown:?} is inactive"),
                );
                continue;
            }
            Some(p) => p,
        };
        let Some(schema) = profile.control_schema.as_deref() else {
            add(
                report,
                "EMPTY_CONTROL_SCHEMA",
                format!("{owner}: the archive unit profile {shown:?} has no control schema"),
            );
            continue;
        };
        let validator = compiled.entry(id).or_insert_with(|| compile(schema));
        let validator = match validator {
            Ok(v) => v,
            // Compiled at import; a catalog written otherwise still gets a reason.
            Err(e) => {
                add(
                    report,
                    "EMPTY_CONTROL_SCHEMA",
                    format!("{owner}: the control schema of {shown:?} cannot be used: {e}"),
                );
                continue;
            }
        };
        let json = match carnac_seda::unit_json::unit_to_json(&metadata(planned.index)?) {
            Ok(j) => j,
            Err(e) => {
                add(report, "NOT_AU_JSON_VALID", format!("{owner}: {e}"));
                continue;
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .take(MAX_ERRORS_PER_UNIT + 1)
            .map(|e| {
                let at = e.instance_path().to_string();
                let what = carnac_model::journal::bounded_text(&e.to_string(), 512);
                if at.is_empty() {
                    what
                } else {
                    format!("{what} (at {at})")
                }
            })
            .collect();
        for (i, e) in errors.iter().enumerate() {
            if i == MAX_ERRORS_PER_UNIT {
                add(
                    report,
                    "NOT_AU_JSON_VALID",
                    format!("{owner}: … and more errors against {shown:?}"),
                );
            } else {
                add(
                    report,
                    "NOT_AU_JSON_VALID",
                    format!("{owner}: archive unit profile {shown:?}: {e}"),
                );
            }
        }
    }
    if more > 0 {
        report.error(
            STEP,
            "NOT_AU_JSON_VALID",
            format!("… and {more} more findings of the archive unit profiles"),
        );
    }
    Ok(())
}

/// Checks one unit's JSON (`carnac_seda::unit_json`) against the archive unit profile it
/// declares, after a correction of its metadata: every problem, at most
/// `MAX_ERRORS_PER_UNIT` schema errors.
pub fn check_one(profile: &str, refs: &Referentials, json: &serde_json::Value) -> Vec<String> {
    let shown = carnac_model::journal::bounded_text(profile, 128);
    let found = refs.unit_profiles.as_ref().and_then(|p| p.get(profile));
    let schema = match found {
        None => {
            return vec![format!(
                "the archive unit profile {shown:?} the unit declares does not exist for this tenant"
            )];
        }
        Some(p) if !p.active => {
            return vec![format!(
                "the archive unit profile {shown:?} the unit declares is inactive"
            )];
        }
        Some(p) => match p.control_schema.as_deref() {
            None => {
                return vec![format!(
                    "the archive unit profile {shown:?} has no control schema"
                )];
            }
            Some(s) => s,
        },
    };
    let validator = match compile(schema) {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "the control schema of {shown:?} cannot be used: {e}"
            )];
        }
    };
    validator
        .iter_errors(json)
        .take(MAX_ERRORS_PER_UNIT)
        .map(|e| {
            let at = e.instance_path().to_string();
            let what = carnac_model::journal::bounded_text(&e.to_string(), 512);
            if at.is_empty() {
                format!("archive unit profile {shown:?}: {what}")
            } else {
                format!("archive unit profile {shown:?}: {what} (at {at})")
            }
        })
        .collect()
}
