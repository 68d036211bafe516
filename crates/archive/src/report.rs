//! The evidence report of an archive unit ("relevé de valeur probante"), on demand: for each
//! of its files, the digest, the copies and the last audit, the evidence record and what its
//! verification says now, and the journal events that concern it with the seals that cover
//! them. Written as JSON signed by the archive (detached CAdES-T signature) and as HTML, and
//! journaled.

use crate::evidence::hash_algorithm;
use crate::files::html_escape as esc;
use crate::{Archive, ArchiveError};
use carnac_catalog::JournalSubject;
use carnac_evidence::verify::{required_algorithms, verify};
use carnac_model::journal::EventKind;
use carnac_model::journal::NewEvent;
use carnac_model::{DigestAlgorithm, Status, TenantId, UnitId};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedEvent {
    pub sequence: u64,
    pub kind: String,
    pub time: String,
    pub outcome: String,
    pub operation: String,
    /// Who did it (an account, `cli`, `system`).
    pub agent: String,
    /// The seal that covers it: (its last event, when it was stamped), if sealed yet.
    pub sealed_by: Option<(u64, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedFile {
    pub object: String,
    pub filename: Option<String>,
    pub size: Option<u64>,
    pub digest_algorithm: Option<String>,
    pub digest: Option<String>,
    pub copies: Vec<String>,
    /// A copy matching the digest was read again for this report.
    pub reread: bool,
    pub last_audit: Option<String>,
    pub last_audit_found: Option<String>,
    /// `VALID`, `INVALID` or `NONE`, with the verification's details.
    pub evidence: String,
    pub evidence_timestamps: Vec<String>,
    pub evidence_problems: Vec<String>,
    pub renew_before: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceReport {
    pub report: String,
    pub format_version: u32,
    pub archive: String,
    pub tenant: String,
    pub unit: String,
    pub title: String,
    pub ingest: String,
    pub produced_at: String,
    pub files: Vec<ReportedFile>,
    pub events: Vec<ReportedEvent>,
}

impl Archive {
    /// Writes the evidence report of `unit` to `dir` (`report.json`, `report.p7s`,
    /// `report.html`, `signer.pem`).
    pub fn evidence_report(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        dir: &Path,
        agent: &str,
    ) -> Result<EvidenceReport, ArchiveError> {
        self.require_tenant(tenant)?;
        let (u, objects) = self
            .catalog
            .unit(tenant, unit)?
            .ok_or_else(|| ArchiveError::NotFound(format!("unit {unit} of tenant {tenant}")))?;
        let now = self.now();
        let now_unix =
            std::time::Duration::from_secs(self.clock.now().unix_timestamp().max(0) as u64);
        let trust = self.trust();
        let mut copies: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, c) in self.catalog.copies(tenant)? {
            copies
                .entry(c.object.to_string())
                .or_default()
                .push(c.offer);
        }
        let ops = self.catalog.operations(tenant)?;
        let last_audit = ops.iter().rev().find(|o| {
            o.kind == EventKind::Audit && o.state == carnac_catalog::OperationState::Done
        });
        // Operations whose events concern the unit: its ingest, its files' evidence trees,
        // and (below) the exports of its files and every audit.
        let mut concerned: BTreeSet<String> = BTreeSet::from([u.operation.to_string()]);
        let mut files = Vec::new();
        for o in objects.iter().filter(|o| !o.physical) {
            let mut f = ReportedFile {
                object: o.id.to_string(),
                filename: o.filename.clone(),
                size: o.size,
                digest_algorithm: o
                    .digest
                    .as_ref()
                    .map(|d| d.algorithm.seda_name().to_owned()),
                digest: o.digest.as_ref().map(|d| d.hex.clone()),
                copies: copies.remove(o.id.as_str()).unwrap_or_default(),
                reread: false,
                last_audit: last_audit
                    .and_then(|a| a.ended_at.clone())
                    .map(String::from),
                last_audit_found: last_audit.map(|a| {
                    let summary = a.summary.clone().unwrap_or_default();
                    let mentions = |key: &str| {
                        summary
                            .get(key)
                            .is_some_and(|v| v.to_string().contains(o.id.as_str()))
                    };
                    if mentions("unrecoverable") {
                        "UNRECOVERABLE".into()
                    } else if mentions("damaged") {
                        "DAMAGED (see the audit)".into()
                    } else {
                        "INTACT".into()
                    }
                }),
                evidence: "NONE".into(),
                evidence_timestamps: Vec::new(),
                evidence_problems: Vec::new(),
                renew_before: None,
            };
            for chain in self.catalog.evidence_path(tenant, &o.id)? {
                for (tree, _) in chain {
                    concerned.insert(tree.operation.to_string());
                }
            }
            match self.evidence_record(tenant, &o.id) {
                Err(ArchiveError::NotFound(_)) => {}
                Err(e) => return Err(e),
                Ok(record) => {
                    let algorithms: Vec<DigestAlgorithm> = required_algorithms(&record)
                        .into_iter()
                        .filter_map(|a| DigestAlgorithm::from_seda_name(a.name()))
                        .collect();
                    let digests = self.read_verified(tenant, &o.id, &algorithms, &mut || {
                        Ok(Box::new(std::io::sink()))
                    });
                    let data: std::collections::HashMap<_, _> = digests
                        .iter()
                        .flatten()
                        .filter_map(|d| {
                            Some((hash_algorithm(d.algorithm)?, hex::decode(&d.hex).ok()?))
                        })
                        .collect();
                    f.reread = digests.is_ok();
                    if let Err(e) = &digests {
                        f.evidence_problems.push(e.to_string());
                    }
                    let v = verify(&record, &data, &trust, now_unix);
                    f.evidence = if v.valid() { "VALID" } else { "INVALID" }.into();
                    f.evidence_timestamps = v
                        .stamps
                        .iter()
                        .map(|s| {
                            format!(
                                "chain {} timestamp {}: {} {} by {}{}",
                                s.chain,
                                s.index,
                                s.algorithm,
                                s.time,
                                s.tsa,
                                if s.builtin { " (not qualified)" } else { "" }
                            )
                        })
                        .collect();
                    f.evidence_problems.extend(v.problems);
                    f.renew_before = v.renew_before;
                }
            }
            files.push(f);
        }
        let objects_ids: BTreeSet<String> = files.iter().map(|f| f.object.clone()).collect();
        let (events, _) =
            self.events_concerning(tenant, &concerned, &objects_ids, &JournalPage::all())?;
        let report = EvidenceReport {
            report: "EVIDENCE".into(),
            format_version: 1,
            archive: self.config.archival_agency.clone(),
            tenant: tenant.to_string(),
            unit: unit.to_string(),
            title: u.title.clone(),
            ingest: u.operation.to_string(),
            produced_at: now.to_string(),
            files,
            events,
        };
        let json =
            serde_json::to_vec_pretty(&report).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        let digest = sha2::Sha256::digest(&json).to_vec();
        let signature = self
            .signer
            .sign_detached(&digest, &|imprint| self.tsa(tenant).stamp(imprint))?;
        let (signer_pem, _) = self.signer.to_pem()?;
        std::fs::create_dir_all(dir)
            .map_err(|e| ArchiveError::io(format!("creating {}", dir.display()), e))?;
        let write = |name: &str, bytes: &[u8]| {
            std::fs::write(dir.join(name), bytes)
                .map_err(|e| ArchiveError::io(format!("writing {name}"), e))
        };
        write("report.json", &json)?;
        write("report.p7s", &signature)?;
        write("signer.pem", signer_pem.as_bytes())?;
        write(
            "report.html",
            html(&report, &hex::encode(&digest)).as_bytes(),
        )?;
        let operation = self.new_operation()?;
        let detail = serde_json::json!({"unit": unit, "files": report.files.len(), "sha256": hex::encode(&digest)});
        let event = NewEvent {
            tenant: tenant.clone(),
            operation,
            kind: EventKind::EvidenceReport,
            outcome: Status::Ok,
            time: self.now().into(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.record_operation(tenant, &detail, &event)?;
        Ok(report)
    }
}

/// The lifecycle of a unit or a file: the journal events that concern it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub subject: String,
    /// `UNIT` or `OBJECT`.
    pub kind: String,
    pub events: Vec<ReportedEvent>,
    /// More events follow the page's last (ask again with `after` = its sequence).
    pub more: bool,
}

/// Which part of a journal view to read, and when to give up: a view reads the tenant's
/// journal through, so over HTTP it is paged and given a time limit.
#[derive(Debug, Clone)]
pub struct JournalPage {
    /// Events after this sequence number.
    pub after: u64,
    /// At most this many events.
    pub limit: usize,
    pub interrupt: carnac_catalog::Interrupt,
}

impl JournalPage {
    /// The whole view, however long it takes.
    pub fn all() -> JournalPage {
        JournalPage {
            after: 0,
            limit: usize::MAX,
            interrupt: carnac_catalog::Interrupt::none(),
        }
    }
}

impl Archive {
    /// Journal events about one of `operations` (or attesting one of them), naming one of
    /// `subjects` (objects, units, operations: what a request or an export was about), and
    /// every audit; each with the seal that covers it. Read through the journal's index of
    /// subjects: the cost is these events', not the tenant's journal's.
    fn events_concerning(
        &self,
        tenant: &TenantId,
        operations: &BTreeSet<String>,
        subjects: &BTreeSet<String>,
        page: &JournalPage,
    ) -> Result<(Vec<ReportedEvent>, bool), ArchiveError> {
        let seals = self.catalog.seals(tenant)?;
        let mut events = Vec::new();
        let mut more = false;
        let mut read = 0u64;
        let about: Vec<JournalSubject> = operations
            .iter()
            .map(|o| JournalSubject::Operation(o.clone()))
            .chain(subjects.iter().map(|s| JournalSubject::Named(s.clone())))
            .chain([JournalSubject::Audits])
            .collect();
        let walked = self
            .catalog
            .each_event_about(tenant, &about, page.after, &mut |row| {
                read += 1;
                if read.is_multiple_of(1024) && page.interrupt.is_due() {
                    return Err(carnac_catalog::CatalogError::Interrupted(
                        page.interrupt.reason().into(),
                    ));
                }
                let Ok(e) = row else { return Ok(()) };
                if events.len() >= page.limit {
                    more = true;
                    // Stops the walk: the page is full.
                    return Err(carnac_catalog::CatalogError::Interrupted(String::new()));
                }
                // Seals are in order and follow each other: the first ending at or after it.
                let sealed_by = seals
                    .get(seals.partition_point(|s| s.last < e.sequence))
                    .filter(|s| s.first <= e.sequence)
                    .map(|s| (s.last, s.stamped_at.to_string()));
                events.push(ReportedEvent {
                    sequence: e.sequence,
                    kind: e.event.kind.to_string(),
                    time: e.event.time.clone(),
                    outcome: e.event.outcome.as_str().into(),
                    operation: e.event.operation.to_string(),
                    agent: e.event.agent.clone(),
                    sealed_by,
                });
                Ok(())
            });
        match walked {
            Err(carnac_catalog::CatalogError::Interrupted(_)) if more => {}
            other => other?,
        }
        Ok((events, more))
    }

    /// The lifecycle of an archive unit or a stored object: derived from the journal (each
    /// operation's event, its files' evidence trees, exports naming it, attestations of its
    /// deposit, audits), so that every entry is provable by the journal's seals
    /// (`journal prove`).
    pub fn lifecycle(
        &self,
        tenant: &TenantId,
        subject: &str,
        page: &JournalPage,
    ) -> Result<Lifecycle, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut operations = BTreeSet::new();
        let mut objects = BTreeSet::new();
        // The files of a destroyed unit: named by events, no longer in the catalog.
        let mut subjects_of_destroyed: BTreeSet<String> = BTreeSet::new();
        let kind;
        if let Ok(unit) = subject.parse::<UnitId>()
            && let Some((u, of_unit)) = self.catalog.unit(tenant, &unit)?
        {
            kind = "UNIT";
            operations.insert(u.operation.to_string());
            objects.extend(of_unit.iter().map(|o| o.id.to_string()));
        } else if let Ok(unit) = subject.parse::<UnitId>()
            && let Some(stone) = self.catalog.tombstone(tenant, &unit)?
        {
            // Destroyed: its lifecycle still answers, from what its tombstone keeps (its
            // ingest, its files), and ends with its destruction.
            kind = "UNIT";
            if let Some(op) = stone.record["ingest"].as_str() {
                operations.insert(op.to_owned());
            }
            for f in stone.record["files"].as_array().into_iter().flatten() {
                if let Some(id) = f["id"].as_str() {
                    subjects_of_destroyed.insert(id.to_owned());
                }
            }
            operations.insert(stone.elimination.to_string());
        } else if let Ok(object) = subject.parse::<carnac_model::ObjectId>()
            && let Some((op, _)) = self.catalog.object(tenant, &object)?
        {
            kind = "OBJECT";
            operations.insert(op.to_string());
            objects.insert(object.to_string());
        } else {
            return Err(ArchiveError::NotFound(format!(
                "unit or object {subject} of tenant {tenant}"
            )));
        }
        for object in &objects {
            let id: carnac_model::ObjectId = object
                .parse()
                .map_err(|e: carnac_model::IdError| ArchiveError::Invalid(e.to_string()))?;
            for chain in self.catalog.evidence_path(tenant, &id)? {
                for (tree, _) in chain {
                    operations.insert(tree.operation.to_string());
                }
            }
        }
        let mut subjects = objects;
        subjects.extend(subjects_of_destroyed);
        subjects.insert(subject.to_owned());
        let (events, more) = self.events_concerning(tenant, &operations, &subjects, page)?;
        Ok(Lifecycle {
            subject: subject.to_owned(),
            kind: kind.into(),
            events,
            more,
        })
    }

    /// The journal of an operation: its own events, those that attest or renew what it made,
    /// and the requests about it.
    pub fn operation_journal(
        &self,
        tenant: &TenantId,
        operation: &carnac_model::OperationId,
        page: &JournalPage,
    ) -> Result<(Vec<ReportedEvent>, bool), ArchiveError> {
        self.require_tenant(tenant)?;
        let ids: BTreeSet<String> = [operation.to_string()].into();
        self.events_concerning(tenant, &ids, &ids, page)
    }
}

fn html(r: &EvidenceReport, sha256: &str) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Relevé de valeur probante {unit}</title>\
         <style>body{{font-family:sans-serif}}td,th{{border:1px solid #999;padding:2px 6px;font-size:small;vertical-align:top}}table{{border-collapse:collapse}}</style></head><body>\n\
         <h1>Relevé de valeur probante</h1>\n<table><tr><th>Service d'archives</th><td>{archive}</td></tr>\
         <tr><th>Tenant</th><td>{tenant}</td></tr><tr><th>Unité d'archives</th><td>{unit} — {title}</td></tr>\
         <tr><th>Entrée</th><td>{ingest}</td></tr><tr><th>Établi le</th><td>{at}</td></tr></table>\n<h2>Fichiers</h2>\n",
        unit = esc(&r.unit),
        archive = esc(&r.archive),
        tenant = esc(&r.tenant),
        title = esc(&r.title),
        ingest = esc(&r.ingest),
        at = esc(&r.produced_at),
    );
    for f in &r.files {
        out.push_str(&format!(
            "<table><tr><th>Fichier</th><td>{} {}</td></tr><tr><th>Taille</th><td>{}</td></tr>\
             <tr><th>Empreinte</th><td>{} {}</td></tr><tr><th>Copies</th><td>{}{}</td></tr>\
             <tr><th>Dernier audit</th><td>{} {}</td></tr><tr><th>Enregistrement de preuve (RFC 4998)</th><td>{}<br>{}<br>{}</td></tr></table><br>\n",
            esc(&f.object),
            esc(f.filename.as_deref().unwrap_or("")),
            f.size.map(|s| s.to_string()).unwrap_or_default(),
            esc(f.digest_algorithm.as_deref().unwrap_or("")),
            esc(f.digest.as_deref().unwrap_or("")),
            esc(&f.copies.join(", ")),
            if f.reread { " (relue et vérifiée pour ce relevé)" } else { "" },
            esc(f.last_audit.as_deref().unwrap_or("aucun")),
            esc(f.last_audit_found.as_deref().unwrap_or("")),
            esc(&f.evidence),
            f.evidence_timestamps.iter().map(|s| esc(s)).collect::<Vec<_>>().join("<br>"),
            f.evidence_problems.iter().map(|s| esc(s)).collect::<Vec<_>>().join("<br>"),
        ));
    }
    out.push_str("<h2>Journal</h2>\n<table><tr><th>N°</th><th>Événement</th><th>Date</th><th>Résultat</th><th>Scellé</th></tr>\n");
    for e in &r.events {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            e.sequence,
            esc(&e.kind),
            esc(&e.time),
            esc(&e.outcome),
            e.sealed_by
                .as_ref()
                .map(|(last, at)| format!(
                    "scellé jusqu'à l'événement {last}, horodaté le {}",
                    esc(at)
                ))
                .unwrap_or_else(|| "pas encore scellé".into())
        ));
    }
    out.push_str(&format!(
        "</table>\n<p>Version signée : <code>report.json</code> (SHA-256 <code>{sha256}</code>), signature détachée horodatée \
         <code>report.p7s</code>, certificat du signataire <code>signer.pem</code>. Vérification : \
         <code>carnac attestation verify report.json --signature report.p7s --signer signer.pem --trust &lt;racine de l'horodatage&gt;</code></p>\n</body></html>\n"
    ));
    out
}

/// Files of a unit whose evidence records go into its bundle; beyond, the report alone
/// lists them (each file's record is also had alone, `carnac evidence export`).
pub const BUNDLE_RECORDS: usize = 1000;

impl Archive {
    /// The evidence bundle of `unit`, written to `dir`: its evidence report (signed, see
    /// [`Archive::evidence_report`]), the evidence record of each of its stored files that
    /// has one (`records/<object>.ers`, at most [`BUNDLE_RECORDS`]), and what verifies them
    /// without the archive (`trust.pem`, `certificates.pem`, `revocation.pem`). The files
    /// themselves are not in it: they are downloaded on their own, and checked with it.
    pub fn unit_evidence_bundle(
        &self,
        tenant: &TenantId,
        unit: &UnitId,
        dir: &Path,
        agent: &str,
    ) -> Result<EvidenceReport, ArchiveError> {
        let report = self.evidence_report(tenant, unit, dir, agent)?;
        let records_dir = dir.join("records");
        std::fs::create_dir_all(&records_dir)
            .map_err(|e| ArchiveError::io(format!("creating {}", records_dir.display()), e))?;
        let mut records = Vec::new();
        for f in report.files.iter().take(BUNDLE_RECORDS) {
            let Ok(object) = carnac_model::ObjectId::new(&f.object) else {
                continue;
            };
            // A file without evidence yet (made by the next maintenance) has no record.
            let record = match self.evidence_record(tenant, &object) {
                Ok(r) => r,
                Err(ArchiveError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let der = record.to_der()?;
            crate::evidence::write_file(&records_dir.join(format!("{object}.ers")), &der)?;
            records.push(record);
        }
        let material = self.evidence_material(tenant, &records)?;
        for (name, text) in [
            ("trust.pem", &material.trust),
            ("certificates.pem", &material.certificates),
            ("revocation.pem", &material.revocation),
        ] {
            crate::evidence::write_file(&dir.join(name), text.as_bytes())?;
        }
        Ok(report)
    }
}
