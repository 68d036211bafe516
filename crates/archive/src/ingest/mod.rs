//! The ingest of a SEDA transfer: every check, storage in every offer, the catalog commit, the
//! journal event and the ArchiveTransferReply.
//!
//! The path of a transfer: the container is scanned (names, links, bombs, layout); the
//! manifest is copied to a scratch file and its shape walked in the same pass (`copy`), its
//! version read, validated against the official XSD (streaming) and read into a plan
//! ([`checks`]), checked against the tenant's referentials
//! and its archive profile; then each content file streams once from the container to every
//! offer ([`store`]), hashed, sampled for identification and scanned on the way. Only when
//! nothing is wrong are the offers' batches committed (synced, renamed, synced), and then the
//! catalog, in one transaction with the journal event. A rejected transfer leaves its
//! operation, its event and its reply, and nothing else.
//!
//! This file holds the examination (every check, each next to the decision it feeds); the
//! rest lives beside it: `checks` (what XSD cannot say), `copy`, `store` (to the offers),
//! `deadline`, `conclude` (commit or close) and `reply`.

pub mod checks;
mod conclude;
mod copy;
mod deadline;
mod locks;
mod reply;
pub mod spool;
pub mod store;

pub(crate) use deadline::Deadline;
pub use deadline::TimeBudget;
use deadline::Timed;
pub use reply::asalae_reply_code;

use crate::files::{HashingWriter, Scratch};
use crate::ports::{IdKind, NoProgress, Progress, Verdict};
use crate::{Archive, ArchiveError};
use carnac_blobstore::Batch;
use carnac_catalog::{GroupRow, IngestCommit, ObjectRow, OperationEnd, UnitRow};
use carnac_container::{Container, ContainerError, layout};
use carnac_model::journal::EventKind;
use carnac_model::journal::NewEvent;
use carnac_model::{
    Digest, DigestAlgorithm, MultiHasher, ObjectId, OperationId, Report, Severity, Status,
    TenantId, UnitId,
};
use carnac_seda::SedaVersion;
use carnac_seda::manifest::{self, Manifest};
use carnac_seda::reply::{
    ReplyEvent, ReplyGroup, ReplyObject, ReplyPackage, ReplyUnit, TransferReply,
};
use copy::{CopyFailure, copy_walking};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};

pub const STEP_CONTAINER: &str = "CHECK_CONTAINER";
pub const STEP_SEDA: &str = "CHECK_SEDA";
pub const STEP_DIGEST: &str = "CHECK_DIGEST";
pub const STEP_SIZE: &str = "CHECK_OBJECT_SIZE";
pub const STEP_FORMAT: &str = "OG_OBJECTS_FORMAT_CHECK";
pub const STEP_VIRUS: &str = "SANITY_CHECK_SIP";
pub const STEP_STORAGE: &str = "STORAGE";
pub const STEP_BUDGET: &str = "CHECK_TIME_BUDGET";

/// The steps in the order they run, with what each does for a French archivist reading the
/// reply.
const STEPS: &[(&str, &str)] = &[
    (STEP_CONTAINER, "Contrôle du conteneur du transfert"),
    (
        STEP_SEDA,
        "Contrôle du bordereau (XML, version SEDA, schéma)",
    ),
    (
        checks::STEP_HEADER,
        "Contrôle de l'en-tête : services et contrat d'entrée",
    ),
    (
        checks::STEP_PROFILE,
        "Contrôle de conformité au profil d'archivage",
    ),
    (
        checks::STEP_PACKAGE,
        "Contrôle de la cohérence du paquet (objets, groupes, unités, fichiers)",
    ),
    (checks::STEP_UNITS, "Contrôle des unités d'archives"),
    (checks::STEP_RULES, "Contrôle des règles de gestion"),
    (
        checks::STEP_CLASSIFICATION,
        "Contrôle des niveaux de classification",
    ),
    (
        crate::unit_profile::STEP,
        "Contrôle de conformité aux profils d'unité archivistique",
    ),
    (STEP_DIGEST, "Vérification des empreintes"),
    (STEP_SIZE, "Vérification des tailles"),
    (STEP_FORMAT, "Identification des formats"),
    (STEP_VIRUS, "Contrôle antivirus"),
    (checks::STEP_OBJECTS, "Contrôle des objets"),
    (
        STEP_STORAGE,
        "Écriture des objets sur les offres de stockage",
    ),
    (STEP_BUDGET, "Respect du temps alloué au traitement"),
];

/// What a transfer arrives as.
pub enum Source {
    /// A SEDA package: one container holding the manifest and a `Content/` folder; URIs
    /// are paths under `Content/`.
    Package(File),
    /// A bordereau and, when it names files, the container of its attachments (zip or tar,
    /// compressed or not), as the as@lae intake receives them; file names in the bordereau
    /// are paths from the container's root.
    Bordereau {
        bordereau: File,
        attachments: Option<File>,
    },
}

/// One object of an ingest, in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSummary {
    pub id: String,
    pub uri: Option<String>,
    pub size: Option<u64>,
    pub digest: Option<String>,
    pub digest_algorithm: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub step: String,
    pub code: String,
    pub message: String,
    pub severity: String,
}

/// The outcome of an ingest, as the catalog keeps it with the operation. The list of its
/// objects is in the catalog; [`Archive::write_ingest_json`] writes both as
/// `carnac ingest --json` prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestSummary {
    pub status: Status,
    pub operation: String,
    pub units: usize,
    /// How many objects were stored.
    pub objects: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// The first [`MAX_SUMMARY_REASONS`] reasons; the reply (ATR) lists every one.
    pub reasons: Vec<Reason>,
    /// How many reasons beyond those (a transfer of a million bad objects has a million).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasons_omitted: u64,
    pub seda_version: Option<String>,
    pub message_identifier: Option<String>,
    /// SHA-256 of the manifest as stored, when the transfer was accepted.
    #[serde(default)]
    pub manifest_sha256: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reasons kept in an ingest's summary (the operation's row, the CLI's `--json`); the reply
/// keeps every one, and the journal event the first [`MAX_EVENT_REASONS`]: what a transfer
/// can make the catalog and the journal hold is bounded, whatever it holds.
pub const MAX_SUMMARY_REASONS: usize = 1000;
pub const MAX_EVENT_REASONS: usize = 100;

/// What an ingest returns; its reply (ATR) is in the catalog, read with [`Archive::reply`].
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub summary: IngestSummary,
}

impl IngestOutcome {
    pub fn status(&self) -> Status {
        self.summary.status
    }
    pub fn operation(&self) -> &str {
        &self.summary.operation
    }
}

/// What the checks concluded, before anything is committed.
struct Examination {
    report: Report,
    ran: Vec<&'static str>,
    version: Option<SedaVersion>,
    manifest: Option<Manifest>,
    plan: checks::Plan,
    /// Per planned object: what its bytes turned out to be.
    examined: Vec<Option<store::Examined>>,
    /// Open batches in every offer, when the content was stored.
    batches: Vec<Box<dyn Batch>>,
    spool: Option<spool::Spool>,
    manifest_file: Option<File>,
    /// The system id minted for each planned object.
    object_ids: Vec<String>,
}

/// Resident memory of this process in MB, for the phase logs (Linux; 0 elsewhere).
fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096 / 1_000_000)
}

impl Archive {
    /// Ingests the transfer in `container` for `tenant`. `Ok` carries the outcome, accepted or
    /// rejected; `Err` means the ingest could not run (unknown tenant, storage failure…), and
    /// then nothing of it is kept but its operation, closed as failed in the journal.
    pub fn ingest(
        &self,
        tenant: &TenantId,
        container: File,
        agent: &str,
        progress: &dyn Progress,
    ) -> Result<IngestOutcome, ArchiveError> {
        let operation = self.new_operation()?;
        self.ingest_as(
            tenant,
            &operation,
            Source::Package(container),
            agent,
            progress,
        )
    }

    /// [`Archive::ingest`] under an operation identifier already given (a queued transfer's).
    pub(crate) fn ingest_as(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        source: Source,
        agent: &str,
        progress: &dyn Progress,
    ) -> Result<IngestOutcome, ArchiveError> {
        let outcome = self.ingest_counted(tenant, operation, source, agent, progress);
        self.stats
            .ingest(tenant, outcome.as_ref().ok().map(IngestOutcome::status));
        outcome
    }

    fn ingest_counted(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        source: Source,
        agent: &str,
        progress: &dyn Progress,
    ) -> Result<IngestOutcome, ArchiveError> {
        let operation = operation.clone();
        let asalae = matches!(source, Source::Bordereau { .. });
        match self.catalog.tenant(tenant)? {
            None => return Err(ArchiveError::NotFound(format!("tenant {tenant}"))),
            Some(t) if t.suspended_at.is_some() => {
                return Err(ArchiveError::Suspended(tenant.clone()));
            }
            Some(_) if carnac_model::access::is_reserved(tenant) => {
                return Err(ArchiveError::NotFound(format!("tenant {tenant}")));
            }
            Some(_) => {}
        }
        let started = self.now();
        self.catalog
            .start_operation(tenant, &operation, &EventKind::Ingest, &started, agent)?;
        let span = tracing::info_span!("ingest", %tenant, %operation);
        let _enter = span.enter();
        let scratch = Scratch(vec![
            self.tmp.join(format!("{operation}.manifest.xml")),
            self.tmp.join(format!("{operation}.units")),
            self.tmp.join(format!("{operation}.zip")),
            self.tmp.join(format!("{operation}.atr.xml")),
            self.tmp.join(format!("{operation}.again")),
        ]);
        let received = match &source {
            Source::Package(file) => file.metadata().map(|m| m.len()).unwrap_or(0),
            Source::Bordereau {
                bordereau,
                attachments,
            } => {
                bordereau.metadata().map(|m| m.len()).unwrap_or(0)
                    + attachments
                        .as_ref()
                        .and_then(|a| a.metadata().ok())
                        .map_or(0, |m| m.len())
            }
        };
        let deadline = Deadline::new(self.config.time_budget, received);
        let result = self
            .examine(tenant, &operation, source, &scratch, progress, &deadline)
            .and_then(|exam| {
                self.conclude(
                    tenant,
                    &operation,
                    agent,
                    exam,
                    asalae,
                    &scratch.0[3],
                    &deadline,
                )
            });
        match result {
            Ok(outcome) => {
                tracing::info!(status = %outcome.status(), "ingest finished");
                // The files' evidence right away; if the TSA cannot answer now, the next
                // maintenance makes it (the files wait as pending, nothing is lost).
                if outcome.status().is_accepted() {
                    if let Err(e) = self.create_evidence(tenant, "system") {
                        tracing::warn!(error = %e, "evidence records postponed");
                    }
                    if let Err(e) = self.attest_deposit(tenant, &operation, "system") {
                        tracing::warn!(error = %e, "deposit attestation postponed");
                    }
                }
                Ok(outcome)
            }
            Err(e) => {
                tracing::error!(error = %e, "ingest failed");
                for offer in &self.offers {
                    if let Err(d) = offer.discard(tenant, &operation) {
                        tracing::error!(error = %d, offer = offer.name(), "discarding the failed ingest's blobs");
                    }
                }
                let detail = serde_json::json!({"status": "KO", "reasons": [{"step": "INTERNAL", "code": "FAILURE", "message": e.to_string()}]});
                // If even this fails, the operation stays running and recovery closes it.
                if let Err(close) =
                    self.close_failed(tenant, &operation, EventKind::Ingest, agent, &detail)
                {
                    tracing::error!(error = %close, "closing the failed ingest");
                }
                Err(e)
            }
        }
    }

    /// Writes the reply (ATR) of an operation of `tenant` to `out`; false when it has none.
    pub fn reply(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        out: &mut dyn Write,
    ) -> Result<bool, ArchiveError> {
        Ok(self.catalog.reply(tenant, operation, out)?)
    }

    /// Writes the outcome of an ingest as `carnac ingest --json` prints it:
    /// `{"status","operation","units","objects":[{"id","uri","size","digest","format"…}],"reasons":[…]…}`,
    /// the objects streamed from the catalog one at a time.
    pub fn write_ingest_json(
        &self,
        tenant: &TenantId,
        summary: &IngestSummary,
        out: &mut dyn Write,
    ) -> Result<(), ArchiveError> {
        let io = |e: std::io::Error| ArchiveError::io("writing the summary", e);
        let operation: OperationId = summary
            .operation
            .parse()
            .map_err(|e: carnac_model::IdError| ArchiveError::Invalid(e.to_string()))?;
        write!(
            out,
            "{{\"status\":{},\"operation\":{},\"units\":{},\"bytes\":{},\"objects\":[",
            json(&summary.status),
            json(&summary.operation),
            summary.units,
            summary.bytes
        )
        .map_err(io)?;
        let mut first = true;
        if summary.status.is_accepted() {
            self.catalog
                .each_object_of_operation(tenant, &operation, &mut |o| {
                    let item = ObjectSummary {
                        id: o.id.to_string(),
                        uri: o.uri,
                        size: o.size,
                        digest_algorithm: o
                            .digest
                            .as_ref()
                            .map(|d| d.algorithm.seda_name().to_owned()),
                        digest: o.digest.map(|d| d.hex),
                        format: o.puid,
                    };
                    let sep = if std::mem::take(&mut first) { "" } else { "," };
                    write!(out, "{sep}{}", json(&item)).map_err(|e| {
                        carnac_catalog::CatalogError::storage_in("writing the summary", e)
                    })
                })?;
        }
        writeln!(
            out,
            "],\"reasons\":{},\"seda_version\":{},\"message_identifier\":{},\"manifest_sha256\":{}}}",
            json(&summary.reasons),
            json(&summary.seda_version),
            json(&summary.message_identifier),
            json(&summary.manifest_sha256)
        )
        .map_err(io)?;
        Ok(())
    }

    /// [`Archive::ingest`] of a file by path, without progress.
    pub fn ingest_path(
        &self,
        tenant: &TenantId,
        path: &std::path::Path,
        agent: &str,
    ) -> Result<IngestOutcome, ArchiveError> {
        let file = File::open(path)
            .map_err(|e| ArchiveError::io(format!("opening {}", path.display()), e))?;
        self.ingest(tenant, file, agent, &NoProgress)
    }

    fn examine(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        source: Source,
        scratch: &Scratch,
        progress: &dyn Progress,
        deadline: &Deadline,
    ) -> Result<Examination, ArchiveError> {
        let mut exam = Examination {
            report: Report::new(),
            ran: vec![STEP_CONTAINER],
            version: None,
            manifest: None,
            plan: checks::Plan::default(),
            examined: Vec::new(),
            batches: Vec::new(),
            spool: None,
            manifest_file: None,
            object_ids: Vec::new(),
        };
        let received = deadline.bytes();
        // Past the ingest's time, the transfer is rejected with what was found so far.
        let over = |r: &mut Report| match deadline.over() {
            Some(why) => {
                r.error(STEP_BUDGET, "TIME_BUDGET", why);
                true
            }
            None => false,
        };
        let r = &mut exam.report;

        let manifest_tmp = &scratch.0[0];
        let mut manifest_file = scratch.create(0, "the manifest scratch file")?;
        let max = self.config.max_manifest_size;
        let limits = manifest::ReadLimits {
            max_depth: self.config.max_xml_depth,
            stop: &|| deadline.over(),
        };
        // What the walk of the manifest's shape found, as it was copied.
        let mut shape: Result<(), manifest::ManifestError> = Ok(());
        let (mut container, entries, files, content_layout) = match source {
            Source::Package(file) => {
                // The container.
                let mut container = match Container::open(file, self.config.limits) {
                    Ok(c) => c,
                    Err(e) => {
                        r.error(STEP_CONTAINER, e.code(), e.to_string());
                        return Ok(exam);
                    }
                };
                let listing = match container.scan() {
                    Ok(l) => l,
                    Err(e) => {
                        r.error(STEP_CONTAINER, e.code(), e.to_string());
                        return Ok(exam);
                    }
                };
                for p in &listing.problems {
                    r.error(STEP_CONTAINER, p.code, p.message.clone());
                }
                deadline.grow_to(listing.entries.iter().map(|e| e.size).sum());
                let layout = layout::check(&listing.entries);
                for p in &layout.problems {
                    r.error(STEP_CONTAINER, p.code, p.message.clone());
                }
                let bomb = listing.problems.iter().any(|p| p.code == "CONTAINER_BOMB");
                let Some(manifest_path) = layout.manifest.clone().filter(|_| !bomb) else {
                    return Ok(exam);
                };

                // The manifest, copied once to a scratch file that every later pass reads.
                exam.ran.push(STEP_SEDA);
                let mut write_failure = None;
                let copied = container.for_each_file(
                    |p| p == manifest_path,
                    |entry, reader| -> Result<(), ContainerError> {
                        if entry.size > max {
                            return Err(ContainerError::TooLarge {
                                path: entry.path.clone(),
                                limit: max,
                            });
                        }
                        match copy_walking(reader.take(max + 1), &mut manifest_file, &limits) {
                            Ok((_, walked)) => shape = walked,
                            Err(CopyFailure::Read(e)) => return Err(unwrap_container_error(e)),
                            Err(CopyFailure::Write(e)) => write_failure = Some(e),
                        }
                        Ok(())
                    },
                );
                if let Some(e) = write_failure {
                    return Err(ArchiveError::io("writing the manifest scratch file", e));
                }
                if let Err(e) = copied {
                    exam.report
                        .error(STEP_SEDA, e.code(), format!("reading the manifest: {e}"));
                    return Ok(exam);
                }
                (
                    Some(container),
                    listing.entries,
                    layout.files,
                    checks::FileLayout::Package,
                )
            }
            Source::Bordereau {
                bordereau,
                attachments,
            } => {
                let mut scanned = None;
                if let Some(file) = attachments {
                    match Container::open(file, self.config.limits)
                        .and_then(|mut c| c.scan().map(|l| (c, l)))
                    {
                        Ok((c, listing)) => {
                            for p in &listing.problems {
                                r.error(STEP_CONTAINER, p.code, p.message.clone());
                            }
                            if listing.problems.iter().any(|p| p.code == "CONTAINER_BOMB") {
                                return Ok(exam);
                            }
                            deadline.grow_to(
                                received + listing.entries.iter().map(|e| e.size).sum::<u64>(),
                            );
                            scanned = Some((c, listing.entries));
                        }
                        Err(e) => {
                            r.error(STEP_CONTAINER, e.code(), format!("the attachments: {e}"))
                        }
                    }
                }
                exam.ran.push(STEP_SEDA);
                let (copied, walked) =
                    copy_walking(bordereau.take(max + 1), &mut manifest_file, &limits)
                        .map_err(|e| ArchiveError::io("copying the bordereau", e.into_inner()))?;
                shape = walked;
                if copied > max {
                    exam.report.error(
                        STEP_SEDA,
                        "CONTAINER_LIMIT",
                        format!("the bordereau is larger than the limit of {max} bytes"),
                    );
                    return Ok(exam);
                }
                let (container, entries) = match scanned {
                    Some((c, e)) => (Some(c), e),
                    None => (None, Vec::new()),
                };
                let files = entries
                    .iter()
                    .filter(|e| e.kind == carnac_container::EntryKind::File)
                    .map(|e| e.path.clone())
                    .collect();
                (container, entries, files, checks::FileLayout::Attachments)
            }
        };
        let phase = std::time::Instant::now();
        manifest_file
            .flush()
            .map_err(|e| ArchiveError::io("writing the manifest scratch file", e))?;
        let r = &mut exam.report;
        let reopen = || {
            File::open(manifest_tmp)
                .map(BufReader::new)
                .map_err(|e| ArchiveError::io("reading the manifest scratch file", e))
        };
        if over(r) {
            return Ok(exam);
        }
        // The shape first: libxml2's validation below cannot be interrupted, and some shapes
        // (thousands of attributes on one element, a long text) cost it the square of their
        // size.
        if let Err(e) = shape {
            refuse_manifest(r, e);
            return Ok(exam);
        }
        let version = match manifest::sniff_version(reopen()?) {
            Ok(v) => v,
            Err(e) => {
                r.error(STEP_SEDA, e.code(), e.to_string());
                return Ok(exam);
            }
        };
        exam.version = Some(version);
        // The first errors, then their count (`schema::MAX_SCHEMA_ERRORS`).
        if let Err(errors) = carnac_seda::schema::validate_seda(version, manifest_tmp) {
            for e in &errors {
                r.error(
                    STEP_SEDA,
                    "NOT_XSD_VALID",
                    format!("SEDA {version} schema: {e}"),
                );
            }
        }
        if over(r) {
            return Ok(exam);
        }
        let spool_file = scratch.create(1, "the metadata spool")?;
        let mut spool = spool::Spool::new(spool_file);
        let read = match version {
            v if v.describes_documents() => {
                carnac_seda::v1::read_with(reopen()?, &mut spool, &limits)
            }
            _ => manifest::read_with(reopen()?, &mut spool, &limits).map(|m| (m, Vec::new())),
        };
        let mut m = match read {
            Ok((m, problems)) => {
                for p in problems {
                    r.error(STEP_SEDA, "UNSUPPORTED_CONSTRUCT", p);
                }
                m
            }
            Err(manifest::ManifestError::Sink(e)) => {
                return Err(ArchiveError::io("writing the metadata spool", e));
            }
            Err(e) => {
                refuse_manifest(r, e);
                return Ok(exam);
            }
        };
        checks::bound_header(&mut m, r);
        if content_layout == checks::FileLayout::Attachments {
            checks::asalae_originating_agency(&mut m);
        } else {
            self.acknowledge(tenant, operation, version, &m.header)?;
        }
        spool
            .flush()
            .map_err(|e| ArchiveError::io("writing the metadata spool", e))?;
        exam.spool = Some(spool);
        exam.manifest_file = Some(manifest_file);

        tracing::debug!(elapsed = ?phase.elapsed(), rss_mb = rss_mb(), units = m.units.len(), objects = m.objects.len(), "manifest validated and read");
        // What XSD cannot say, and the referentials.
        let refs = self.referentials(tenant)?;
        exam.ran.extend([
            checks::STEP_HEADER,
            checks::STEP_PROFILE,
            checks::STEP_PACKAGE,
            checks::STEP_UNITS,
            checks::STEP_RULES,
            checks::STEP_CLASSIFICATION,
            crate::unit_profile::STEP,
        ]);
        let profile = checks::check_header(&m, &refs, r);
        if let Some(profile) = profile {
            let schema = profile.schema.as_deref().unwrap_or_default();
            let compiled = match profile.format {
                carnac_model::referential::ProfileFormat::RelaxNg => {
                    carnac_seda::schema::Profile::relax_ng(schema)
                }
                carnac_model::referential::ProfileFormat::Xsd => {
                    carnac_seda::schema::Profile::xsd(schema)
                }
            };
            match compiled {
                Err(e) => r.error(
                    checks::STEP_PROFILE,
                    "PROFILE_INVALID",
                    format!(
                        "the archive profile {:?} cannot be used: {e}",
                        profile.identifier
                    ),
                ),
                Ok(mut p) => {
                    if let Err(errors) = p.validate(manifest_tmp) {
                        for e in &errors {
                            r.error(
                                checks::STEP_PROFILE,
                                "NOT_CONFORMANT",
                                format!("archive profile {:?}: {e}", profile.identifier),
                            );
                        }
                    }
                }
            }
        }
        let content = checks::ContentFiles {
            files: &files,
            layout: content_layout,
            version,
        };
        let mut plan = checks::check_package(&m, &content, r);
        checks::check_rules(&m, &refs, &mut plan, r);
        checks::check_classification(&m, &self.config.classification_levels, r);
        if let Some(spool) = exam.spool.as_ref() {
            crate::unit_profile::check_units(
                &m,
                &plan,
                &refs,
                &|i| spool.get(i),
                &|| deadline.over().is_some(),
                &mut exam.report,
            )
            .map_err(|e| ArchiveError::io("reading the metadata spool", e))?;
        }
        let r = &mut exam.report;
        if over(r) {
            exam.manifest = Some(m);
            return Ok(exam);
        }

        // The content: stored only while the transfer can still be accepted; read through in
        // any case so that the reply lists every digest error.
        tracing::debug!(elapsed = ?phase.elapsed(), rss_mb = rss_mb(), "checks done");
        let store_it = !r.has_errors();
        if store_it {
            for offer in &self.offers {
                exam.batches.push(offer.begin(tenant, operation)?);
            }
        }
        exam.ran.extend([STEP_DIGEST, STEP_SIZE, STEP_FORMAT]);
        if self.scanner.is_some() {
            exam.ran.push(STEP_VIRUS);
        }
        let object_ids: Vec<String> = plan
            .objects
            .iter()
            .map(|_| self.ids.next(IdKind::Object))
            .collect();
        // The objects of each file: one, or several when SEDA 1.0 Documents share one.
        let mut by_file: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, o) in plan.objects.iter().enumerate() {
            if let Some(f) = &o.file {
                by_file.entry(f.clone()).or_default().push(i);
            }
        }
        let mut examined: Vec<Option<store::Examined>> = vec![None; plan.objects.len()];
        let mut zip_spool = scratch.create(2, "the zip scratch file")?;
        let mut again_spool = scratch.create(4, "a scratch file")?;
        let mut buf = vec![0u8; store::BUFFER];
        let total: u64 = entries
            .iter()
            .filter(|e| by_file.contains_key(&e.path))
            .map(|e| e.size)
            .sum();
        progress.start("storing", total);
        let batches = &mut exam.batches;
        let walked = match container.as_mut() {
            None => Ok(()),
            Some(container) => container.for_each_file(
                |p| by_file.contains_key(p),
                |entry, reader| -> Result<(), IngestStop> {
                    if let Some(why) = deadline.over() {
                        return Err(IngestStop::Budget(why));
                    }
                    let mut reader = Timed {
                        inner: reader,
                        deadline,
                    };
                    let reader = &mut reader;
                    let objects = &by_file[&entry.path];
                    let i = objects[0];
                    let planned = &plan.objects[i];
                    let mut algorithms = vec![DigestAlgorithm::Sha256];
                    for &j in objects {
                        if let Some(d) = &plan.objects[j].declared_digest
                            && !algorithms.contains(&d.algorithm)
                        {
                            algorithms.push(d.algorithm);
                        }
                    }
                    let blobs: Vec<&str> =
                        objects.iter().map(|&j| object_ids[j].as_str()).collect();
                    let scan = match &self.scanner {
                        Some(s) => Some(s.session().map_err(|e| {
                            IngestStop::Fatal(ArchiveError::Scanner(e.to_string()))
                        })?),
                        None => None,
                    };
                    let name = m.objects[planned.index]
                        .filename
                        .clone()
                        .unwrap_or_else(|| entry.path.clone());
                    let result = store::copy_one(
                        reader,
                        &name,
                        &blobs,
                        entry.size,
                        batches,
                        &algorithms,
                        &self.identifier,
                        &mut zip_spool,
                        &mut again_spool,
                        scan,
                        &mut buf,
                        progress,
                    );
                    let result = result.and_then(|x| {
                        if blobs.len() > 1 {
                            store::copy_again(&mut again_spool, &blobs, x.size, batches, &mut buf)?;
                        }
                        Ok(x)
                    });
                    match result {
                        Ok(x) => {
                            for &j in objects {
                                examined[j] = Some(x.clone());
                            }
                            Ok(())
                        }
                        Err(store::CopyError::Source(e)) => match deadline.over() {
                            Some(why) => Err(IngestStop::Budget(why)),
                            None => Err(IngestStop::Container(unwrap_container_error(e))),
                        },
                        Err(store::CopyError::Blob(e)) => Err(IngestStop::Fatal(e.into())),
                        Err(store::CopyError::Scan(e)) => {
                            Err(IngestStop::Fatal(ArchiveError::Scanner(e)))
                        }
                        Err(store::CopyError::Temp(e)) => {
                            Err(IngestStop::Fatal(ArchiveError::io("zip scratch file", e)))
                        }
                    }
                },
            ),
        };
        progress.finish();
        tracing::debug!(elapsed = ?phase.elapsed(), rss_mb = rss_mb(), "content stored");
        match walked {
            Ok(()) => {}
            Err(IngestStop::Container(e)) => {
                exam.report.error(STEP_CONTAINER, e.code(), e.to_string())
            }
            Err(IngestStop::Budget(why)) => exam.report.error(STEP_BUDGET, "TIME_BUDGET", why),
            Err(IngestStop::Fatal(e)) => return Err(e),
        }
        // What the content step found is kept; past the time, the transfer is not committed.
        over(&mut exam.report);
        let r = &mut exam.report;
        let formats = refs.formats.as_ref();
        for (i, planned) in plan.objects.iter().enumerate() {
            let o = &m.objects[planned.index];
            let label = format!("object {:?}", o.xml_id);
            let Some(x) = &examined[i] else { continue };
            if let Some(declared) = &planned.declared_digest {
                let computed = x.digests.iter().find(|d| d.algorithm == declared.algorithm);
                if computed.is_none_or(|c| c.hex != declared.hex) {
                    r.error(
                        STEP_DIGEST,
                        "KO",
                        format!(
                            "{label}: declared {} {} but the file's is {}",
                            declared.algorithm,
                            declared.hex,
                            computed.map(|c| c.hex.as_str()).unwrap_or("unknown")
                        ),
                    );
                }
            }
            if let Some(declared) = planned.declared_size
                && declared != x.size
            {
                r.warning(STEP_SIZE, "WARNING", format!("{label}: declared size {declared} bytes, the file has {}; the size is corrected", x.size));
            }
            match &x.identification {
                None => r.error(
                    STEP_FORMAT,
                    "FILE_FORMAT.NOT_FOUND",
                    format!(
                        "{label}: the format of {:?} is not identified",
                        planned.file.as_deref().unwrap_or_default()
                    ),
                ),
                Some(id) => {
                    if formats.is_some_and(|f| !f.contains_key(&id.puid)) {
                        r.error(
                            STEP_FORMAT,
                            "FILE_FORMAT.UNCHARTED",
                            format!("{label}: identified as {} ({}), a format absent from the tenant's format referential", id.puid, id.name),
                        );
                    }
                    if let Some(declared) = o.format_id.as_deref().filter(|d| !d.is_empty())
                        && declared != id.puid
                    {
                        r.warning(
                            STEP_FORMAT,
                            "FILE_FORMAT.MISMATCH",
                            format!(
                                "{label}: declared {declared}, identified as {} ({}, by {})",
                                id.puid,
                                id.name,
                                id.method.as_str()
                            ),
                        );
                    }
                }
            }
            if let Some(Verdict::Infected(what)) = &x.verdict {
                r.error(
                    STEP_VIRUS,
                    "VIRUS",
                    format!("{label}: the antivirus found {what}"),
                );
            }
        }
        exam.examined = examined;
        exam.manifest = Some(m);
        exam.plan = plan;
        exam.object_ids = object_ids;
        Ok(exam)
    }
}

/// The system identifiers minted for a transfer, by plan index.
struct SystemIds<'a> {
    objects: &'a [String],
    groups: &'a [String],
    units: &'a [String],
}

enum IngestStop {
    Container(ContainerError),
    /// The ingest's time is over.
    Budget(String),
    Fatal(ArchiveError),
}

impl From<ContainerError> for IngestStop {
    fn from(e: ContainerError) -> Self {
        IngestStop::Container(e)
    }
}

/// A value as JSON text; serialising strings, numbers and derived structs cannot fail.
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Reports why a reader refused the manifest: its time was over, or what it found.
fn refuse_manifest(r: &mut Report, e: manifest::ManifestError) {
    match e {
        manifest::ManifestError::Stopped(why) => r.error(STEP_BUDGET, "TIME_BUDGET", why),
        e => r.error(STEP_SEDA, e.code(), e.to_string()),
    }
}

/// Container limits travel through readers as `io::Error`s; get the original back.
fn unwrap_container_error(e: std::io::Error) -> ContainerError {
    match e.into_inner() {
        Some(inner) => match inner.downcast::<ContainerError>() {
            Ok(ce) => *ce,
            Err(other) => ContainerError::Corrupt(other.to_string()),
        },
        None => ContainerError::Corrupt("read failed".into()),
    }
}
