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
//! This file is long because it holds that sequence whole, each step next to the decision it
//! feeds; what stands alone lives beside it (`checks`, `copy`, `spool`, `store`).

pub mod checks;
mod copy;
pub mod spool;
pub mod store;

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

/// The time an ingest may take: `base`, plus a second for every `bytes_per_second` bytes of
/// the transfer (as received, or once expanded if more). Past it, the ingest stops where it
/// is (the manifest's reader every few thousand XML events, the copy of the content every
/// buffer, the other steps between them) and the transfer is rejected with every reason
/// found so far: one transfer cannot hold an ingest worker longer than its size warrants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBudget {
    pub base: std::time::Duration,
    pub bytes_per_second: u64,
}

impl Default for TimeBudget {
    /// Ten minutes, and a second per 10 MB: a 1 TB transfer may take 28 hours, ten times
    /// what it takes here (91 MB/s).
    fn default() -> Self {
        TimeBudget {
            base: std::time::Duration::from_secs(600),
            bytes_per_second: 10_000_000,
        }
    }
}

/// An ingest's deadline under its [`TimeBudget`].
pub(crate) struct Deadline {
    started: std::time::Instant,
    budget: TimeBudget,
    bytes: std::cell::Cell<u64>,
}

impl Deadline {
    pub(crate) fn new(budget: TimeBudget, bytes: u64) -> Deadline {
        Deadline {
            started: crate::system::monotonic_now(),
            budget,
            bytes: std::cell::Cell::new(bytes),
        }
    }

    /// The transfer holds this many bytes (expanded): the budget grows with them.
    fn grow_to(&self, bytes: u64) {
        self.bytes.set(self.bytes.get().max(bytes));
    }

    fn allowed(&self) -> std::time::Duration {
        let per_byte = self.bytes.get() / self.budget.bytes_per_second.max(1);
        self.budget.base + std::time::Duration::from_secs(per_byte)
    }

    /// Why the ingest must stop now, if it must.
    pub(crate) fn over(&self) -> Option<String> {
        let allowed = self.allowed();
        (crate::system::monotonic_now().duration_since(self.started) > allowed).then(|| {
            format!(
                "the ingest took longer than the {} s its {} bytes allow; it was stopped (a manifest or content that costs this much is refused)",
                allowed.as_secs(),
                self.bytes.get()
            )
        })
    }
}

/// A reader that fails once the ingest's time is over.
struct Timed<'a, R> {
    inner: R,
    deadline: &'a Deadline,
}

impl<R: Read> Read for Timed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(why) = self.deadline.over() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, why));
        }
        self.inner.read(buf)
    }
}

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
        let received = deadline.bytes.get();
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

    /// Commits an accepted transfer or closes a rejected one, and writes the reply.
    #[allow(clippy::too_many_arguments)]
    fn conclude(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        agent: &str,
        mut exam: Examination,
        asalae: bool,
        reply_path: &std::path::Path,
        deadline: &Deadline,
    ) -> Result<IngestOutcome, ArchiveError> {
        let phase = std::time::Instant::now();
        // The last moment to stop: from here the transfer is committed (the catalog's
        // transaction is not given up midway).
        if exam.report.status().is_accepted()
            && let Some(why) = deadline.over()
        {
            exam.report.error(STEP_BUDGET, "TIME_BUDGET", why);
        }
        let status = exam.report.status();
        let accepted = status.is_accepted() && exam.manifest.is_some();
        let at = self.now();
        let m = exam.manifest.take();
        let header = m.as_ref().map(|m| m.header.clone()).unwrap_or_default();

        let object_ids = std::mem::take(&mut exam.object_ids);
        let group_ids: Vec<String> = exam
            .plan
            .groups
            .iter()
            .map(|_| self.ids.next(IdKind::ObjectGroup))
            .collect();
        let unit_ids: Vec<String> = exam
            .plan
            .units
            .iter()
            .map(|_| self.ids.next(IdKind::Unit))
            .collect();

        // Store the manifest with the package (its SHA-256 goes into the summary, the journal
        // event and the deposit attestation), then make every offer's batch durable.
        let mut manifest_sha256 = None;
        if accepted {
            if let Some(mf) = exam.manifest_file.as_mut() {
                for (i, batch) in exam.batches.iter_mut().enumerate() {
                    use std::io::Seek;
                    mf.seek(std::io::SeekFrom::Start(0))
                        .map_err(|e| ArchiveError::io("rereading the manifest", e))?;
                    let mut w = batch.create("manifest.xml")?;
                    if i == 0 {
                        let mut hashing = HashingWriter {
                            inner: &mut w,
                            hasher: MultiHasher::new(&[DigestAlgorithm::Sha256]),
                        };
                        std::io::copy(mf, &mut hashing)
                            .map_err(|e| ArchiveError::io("storing the manifest", e))?;
                        manifest_sha256 = hashing.hasher.finish().pop().map(|d| d.hex);
                    } else {
                        std::io::copy(mf, &mut w)
                            .map_err(|e| ArchiveError::io("storing the manifest", e))?;
                    }
                    w.finish()?;
                }
            }
            for batch in std::mem::take(&mut exam.batches) {
                batch.commit()?;
            }
            exam.ran.push(STEP_STORAGE);
            tracing::debug!(elapsed = ?phase.elapsed(), rss_mb = rss_mb(), "batches committed");
        } else {
            exam.batches.clear();
            for offer in &self.offers {
                offer.discard(tenant, operation)?;
            }
        }

        let total_reasons = exam.report.findings().len();
        let reasons: Vec<Reason> = exam
            .report
            .findings()
            .iter()
            .take(MAX_SUMMARY_REASONS)
            .map(|f| Reason {
                step: f.step.clone(),
                code: f.code.clone(),
                message: f.message.clone(),
                severity: match f.severity {
                    Severity::Warning => "WARNING".into(),
                    Severity::Error => "KO".into(),
                },
            })
            .collect();
        let summary = IngestSummary {
            status,
            operation: operation.to_string(),
            units: if accepted { exam.plan.units.len() } else { 0 },
            objects: if accepted { exam.plan.objects.len() } else { 0 },
            bytes: if accepted {
                exam.examined.iter().flatten().map(|x| x.size).sum()
            } else {
                0
            },
            reasons,
            reasons_omitted: (total_reasons.saturating_sub(MAX_SUMMARY_REASONS)) as u64,
            manifest_sha256,
            seda_version: exam.version.map(|v| v.as_str().to_owned()),
            message_identifier: m
                .as_ref()
                .map(|m| m.header.message_identifier.clone())
                .filter(|s| !s.is_empty()),
        };

        let ids = SystemIds {
            objects: &object_ids,
            groups: &group_ids,
            units: &unit_ids,
        };
        if asalae || exam.version.is_some_and(SedaVersion::describes_documents) {
            self.write_asalae_reply(
                &mut exam,
                m.as_ref(),
                operation,
                &at,
                accepted,
                &ids,
                reply_path,
            )?;
        } else {
            self.write_reply(
                &exam,
                m.as_ref(),
                operation,
                &at,
                accepted,
                &ids,
                reply_path,
            )?;
        }
        let mut reply = BufReader::new(
            File::open(reply_path).map_err(|e| ArchiveError::io("rereading the reply", e))?,
        );
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::Ingest,
            outcome: status,
            time: at.to_string(),
            agent: agent.into(),
            detail: serde_json::json!({
                "status": status,
                "seda_version": summary.seda_version,
                "message_identifier": header.message_identifier,
                "archival_agreement": header.archival_agreement,
                "originating_agency": header.originating_agency,
                "units": summary.units,
                "objects": summary.objects,
                "bytes": summary.bytes,
                "manifest_sha256": summary.manifest_sha256,
                "reasons": &summary.reasons[..summary.reasons.len().min(MAX_EVENT_REASONS)],
                "reasons_total": total_reasons,
            }),
        };
        let summary_json = serde_json::to_value(&summary)
            .map_err(|e| ArchiveError::Invalid(format!("summary: {e}")))?;
        if !accepted {
            self.catalog.finish_operation(
                tenant,
                OperationEnd {
                    operation,
                    status,
                    summary: &summary_json,
                    reply: Some(&mut reply),
                    ended_at: &at,
                    event: &event,
                },
            )?;
            return Ok(IngestOutcome { summary });
        }

        let m = m.as_ref().expect("accepted implies a manifest");
        let corrupt =
            |e: carnac_model::IdError| carnac_catalog::CatalogError::Corruption(e.to_string());
        let mut groups = exam.plan.groups.iter().zip(&group_ids).map(|(g, id)| {
            Ok(GroupRow {
                id: ObjectId::new(id.clone()).map_err(corrupt)?,
                xml_id: g.xml_id.clone(),
            })
        });
        let examined = &exam.examined;
        let plan = &exam.plan;
        let mut objects = plan.objects.iter().enumerate().map(|(i, planned)| {
            let o = &m.objects[planned.index];
            let x = examined.get(i).and_then(Option::as_ref);
            let strong: Option<Digest> = x.and_then(|x| {
                let preferred = planned
                    .declared_digest
                    .as_ref()
                    .map(|d| d.algorithm)
                    .filter(|a| a.is_strong())
                    .unwrap_or(DigestAlgorithm::Sha256);
                x.digests.iter().find(|d| d.algorithm == preferred).cloned()
            });
            let id = x.and_then(|x| x.identification.as_ref());
            Ok(ObjectRow {
                id: ObjectId::new(object_ids[i].clone()).map_err(corrupt)?,
                group: ObjectId::new(group_ids[planned.group].clone()).map_err(corrupt)?,
                xml_id: o.xml_id.clone(),
                physical: planned.physical,
                version: Some(planned.version.clone()),
                uri: o.uri.clone(),
                size: x.map(|x| x.size),
                digest: strong,
                puid: id.map(|i| i.puid.clone()),
                format_name: id.map(|i| i.name.clone()),
                mime_type: id.and_then(|i| i.mime_type.clone()),
                filename: o.filename.clone(),
            })
        });
        let offers: Vec<String> = self.offers.iter().map(|o| o.name().to_owned()).collect();
        let spool = exam.spool.as_ref();
        let mut units = plan.units.iter().enumerate().map(|(i, pu)| {
            let u = &m.units[pu.index];
            let metadata = spool
                .map(|s| s.get(pu.index))
                .transpose()
                .map_err(|e| {
                    carnac_catalog::CatalogError::storage_in("reading the metadata spool", e)
                })?
                .unwrap_or_default();
            let id = |s: &String| UnitId::new(s.clone()).map_err(corrupt);
            Ok(UnitRow {
                id: id(&unit_ids[i])?,
                xml_id: u.xml_id.clone(),
                title: u.title().to_owned(),
                description_level: u.description_level.clone(),
                start_date: u.start_date.clone(),
                end_date: u.end_date.clone(),
                originating_agency: u
                    .originating_agency
                    .clone()
                    .or_else(|| m.header.originating_agency.clone()),
                parents: pu
                    .parents
                    .iter()
                    .map(|&p| id(&unit_ids[p]))
                    .collect::<Result<_, _>>()?,
                object_groups: pu
                    .groups
                    .iter()
                    .map(|&g| ObjectId::new(group_ids[g].clone()).map_err(corrupt))
                    .collect::<Result<_, _>>()?,
                keywords: u.keywords.clone(),
                management: pu.management.clone(),
                metadata: String::from_utf8_lossy(&metadata).into_owned(),
            })
        });
        let phase = std::time::Instant::now();
        self.catalog.commit_ingest(
            tenant,
            IngestCommit {
                operation,
                groups: &mut groups,
                objects: &mut objects,
                offers: &offers,
                units: &mut units,
                status,
                summary: summary_json,
                reply: &mut reply,
                ended_at: &at,
                event: &event,
            },
        )?;
        tracing::debug!(elapsed = ?phase.elapsed(), rss_mb = rss_mb(), "catalog committed");
        Ok(IngestOutcome { summary })
    }

    /// Writes the ArchiveTransferReply to `path`, streaming the package's groups and units.
    #[allow(clippy::too_many_arguments)]
    fn write_reply(
        &self,
        exam: &Examination,
        m: Option<&Manifest>,
        operation: &OperationId,
        at: &str,
        accepted: bool,
        ids: &SystemIds<'_>,
        path: &std::path::Path,
    ) -> Result<(), ArchiveError> {
        let report = &exam.report;
        let mut events = Vec::new();
        for (step, label) in STEPS {
            if !exam.ran.contains(step) && !report.findings().iter().any(|f| f.step == *step) {
                continue;
            }
            let outcome = report.step_status(step);
            let count = report.findings().iter().filter(|f| f.step == *step).count();
            events.push(ReplyEvent {
                type_code: (*step).to_owned(),
                label: (*label).to_owned(),
                date_time: at.to_owned(),
                outcome,
                outcome_detail: format!("{step}.{}", outcome.as_str()),
                message: if count == 0 {
                    String::new()
                } else {
                    format!("{count} finding(s)")
                },
            });
            for f in report.findings().iter().filter(|f| f.step == *step) {
                let outcome = match f.severity {
                    Severity::Warning => Status::Warning,
                    Severity::Error => Status::Ko,
                };
                events.push(ReplyEvent {
                    type_code: format!("{step}.{}", f.code),
                    label: (*label).to_owned(),
                    date_time: at.to_owned(),
                    outcome,
                    outcome_detail: format!("{step}.{}.{}", f.code, outcome.as_str()),
                    message: f.message.clone(),
                });
            }
        }
        // Findings of steps outside the list (none today) are not lost.
        for f in report
            .findings()
            .iter()
            .filter(|f| !STEPS.iter().any(|(s, _)| *s == f.step))
        {
            events.push(ReplyEvent {
                type_code: format!("{}.{}", f.step, f.code),
                label: f.step.clone(),
                date_time: at.to_owned(),
                outcome: if f.severity == Severity::Error {
                    Status::Ko
                } else {
                    Status::Warning
                },
                outcome_detail: format!("{}.{}", f.step, f.code),
                message: f.message.clone(),
            });
        }
        let header = m.map(|m| &m.header);
        let reply = TransferReply {
            version: exam.version.unwrap_or(SedaVersion::V2_1),
            message_identifier: operation.to_string(),
            date: at.to_owned(),
            request_identifier: header.map(|h| h.message_identifier.clone()),
            archival_agreement: header.and_then(|h| h.archival_agreement.clone()),
            archival_profile: header.and_then(|h| h.archival_profile.clone()),
            status: report.status(),
            grant_date: accepted.then(|| at.to_owned()),
            events,
            archival_agency: Some(self.config.archival_agency.clone()),
            transferring_agency: header.and_then(|h| h.transferring_agency.clone()),
        };
        let file = File::create(path).map_err(|e| ArchiveError::io("creating the reply", e))?;
        let mut out = std::io::BufWriter::new(file);
        let written = match m.filter(|_| accepted) {
            None => reply.write_xml(&mut out, None),
            Some(m) => {
                let plan = &exam.plan;
                // Objects in the order of their groups, without a list of objects per group.
                let mut by_group: Vec<u32> = (0..plan.objects.len() as u32).collect();
                by_group.sort_by_key(|&i| plan.objects[i as usize].group);
                let mut cursor = 0;
                let mut groups = plan.groups.iter().enumerate().map(|(gi, g)| {
                    let mut objects = Vec::new();
                    while let Some(&i) = by_group.get(cursor)
                        && plan.objects[i as usize].group == gi
                    {
                        let o = &plan.objects[i as usize];
                        objects.push(ReplyObject {
                            xml_id: m.objects[o.index].xml_id.clone(),
                            system_id: ids.objects[i as usize].clone(),
                            group_system_id: ids.groups[gi].clone(),
                            version: Some(o.version.clone()),
                            physical: o.physical,
                        });
                        cursor += 1;
                    }
                    ReplyGroup {
                        xml_id: g.xml_id.clone(),
                        objects,
                    }
                });
                let mut units = plan.units.iter().enumerate().map(|(i, u)| {
                    let mu = &m.units[u.index];
                    ReplyUnit {
                        xml_id: mu.xml_id.clone(),
                        system_id: ids.units[i].clone(),
                        title: mu.title().to_owned(),
                    }
                });
                reply.write_xml(
                    &mut out,
                    Some(ReplyPackage {
                        groups: &mut groups,
                        units: &mut units,
                    }),
                )
            }
        };
        written
            .and_then(|()| out.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| ArchiveError::io("writing the reply", e))?;
        Ok(())
    }
}

/// The reply code of an as@lae reply (SEDA 1.0 code list of reply codes): `000` accepted;
/// `101` the message cannot be read or is inconsistent (container, XML, schema, package);
/// `200` an agency is unknown; `300` refused by the referentials (contract, profile, rules),
/// the content (digests, formats, antivirus) or the storage.
pub fn asalae_reply_code(report: &Report) -> &'static str {
    if report.status().is_accepted() {
        return "000";
    }
    let errors = || {
        report
            .findings()
            .iter()
            .filter(|f| f.severity == Severity::Error)
    };
    if errors().any(|f| {
        [
            STEP_CONTAINER,
            STEP_SEDA,
            checks::STEP_PACKAGE,
            checks::STEP_UNITS,
        ]
        .contains(&f.step.as_str())
    }) {
        "101"
    } else if errors().any(|f| f.code.starts_with("CHECK_AGENT")) {
        "200"
    } else {
        "300"
    }
}

impl Archive {
    /// Writes the reply as as@lae does (see `carnac_seda::asalae`): for SEDA 0.2 and 1.0 transfers,
    /// and for every transfer of the as@lae intake.
    #[allow(clippy::too_many_arguments)]
    fn write_asalae_reply(
        &self,
        exam: &mut Examination,
        m: Option<&Manifest>,
        operation: &OperationId,
        at: &str,
        accepted: bool,
        ids: &SystemIds<'_>,
        path: &std::path::Path,
    ) -> Result<(), ArchiveError> {
        use carnac_seda::asalae::{ReplyArchive, TransferReply as AsalaeReply};
        let header = m.map(|m| m.header.clone()).unwrap_or_default();
        let version = exam.version.unwrap_or(SedaVersion::V1_0);
        let mut comments = vec![if accepted {
            "Votre transfert d'archives a été accepté".to_owned()
        } else {
            "Votre transfert d'archives a été refusé".to_owned()
        }];
        for f in exam.report.findings() {
            let level = match f.severity {
                Severity::Error => "Erreur",
                Severity::Warning => "Avertissement",
            };
            comments.push(format!("{level} [{}.{}] {}", f.step, f.code, f.message));
        }
        let reply = AsalaeReply {
            version,
            identifier: format!("ATR_{operation}"),
            date: at.to_owned(),
            transfer_identifier: header.message_identifier.clone(),
            reply_code: asalae_reply_code(&exam.report).to_owned(),
            accepted,
            comments,
            archival_agreement: header.archival_agreement.clone(),
            // The agency the acknowledgement named: the bordereau's, or this archive's.
            archival_agency: header
                .archival_agency
                .clone()
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| self.config.archival_agency.clone()),
            transferring_agency: header.transferring_agency.clone().unwrap_or_default(),
        };
        let archives: Vec<ReplyArchive> = match m.filter(|_| accepted) {
            None => Vec::new(),
            Some(m) => exam
                .plan
                .units
                .iter()
                .enumerate()
                .filter(|(_, u)| u.parents.is_empty())
                .map(|(i, u)| ReplyArchive {
                    identifier: ids.units[i].clone(),
                    title: m.units[u.index].title().to_owned(),
                })
                .collect(),
        };
        let file = File::create(path).map_err(|e| ArchiveError::io("creating the reply", e))?;
        let mut out = std::io::BufWriter::new(file);
        let mut bordereau = match (&mut exam.manifest_file, version) {
            (Some(f), v) if accepted && v.describes_documents() => {
                use std::io::Seek;
                f.seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| ArchiveError::io("rereading the bordereau", e))?;
                Some(BufReader::new(f))
            }
            _ => None,
        };
        reply
            .write_xml(
                &mut out,
                &archives,
                bordereau.as_mut().map(|b| b as &mut dyn std::io::BufRead),
            )
            .and_then(|()| out.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| ArchiveError::io("writing the reply", e))?;
        Ok(())
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

impl Archive {
    /// The acknowledgement of a package, once its manifest is read (the as@lae intake writes
    /// its own at receipt): the transfer's identifier and agencies as it names them, in its
    /// SEDA version; recorded once, with its event (an ingest resumed after a stop does not
    /// acknowledge twice).
    fn acknowledge(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        version: SedaVersion,
        header: &manifest::Header,
    ) -> Result<(), ArchiveError> {
        let at = self.now();
        let named = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        let ack = carnac_seda::asalae::Acknowledgement {
            version,
            identifier: format!("ACK_{operation}"),
            date: at.to_string(),
            received_identifier: if header.message_identifier.trim().is_empty() {
                "unknown".into()
            } else {
                header.message_identifier.trim().to_owned()
            },
            archival_agency: named(&header.archival_agency)
                .unwrap_or_else(|| self.config.archival_agency.clone()),
            transferring_agency: named(&header.transferring_agency)
                .unwrap_or_else(|| "unknown".into()),
            comment: "Votre transfert d'archives a été reçu et son bordereau lu ; il est contrôlé et vous recevrez sa réponse (ArchiveTransferReply).".into(),
        };
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::TransferAcknowledged,
            outcome: Status::Ok,
            time: at.to_string(),
            agent: "system".into(),
            detail: serde_json::json!({
                "acknowledgement": ack.identifier,
                "message_identifier": ack.received_identifier,
                "seda_version": version.as_str(),
            }),
        };
        self.catalog
            .acknowledge(tenant, operation, &ack.to_xml(), &event)?;
        Ok(())
    }
}
