//! Use cases of the archive (ingest first) over the catalog, blob store, scanner, clock and
//! timestamping traits.
//!
//! [`Archive`] wires one catalog, the storage offers (at least two copies of every file), a
//! clock, an identifier source, the format identifier and optionally an antivirus. Every use
//! case takes the tenant first, records its operation in the tenant's journal in the same
//! transaction as its effect, and leaves nothing half-done: an operation that dies midway is
//! found by [`Archive::recover`] at the next start and its traces removed.
//!
//! The checks themselves are pure ([`ingest::checks`], [`referential`] parsers); this crate
//! adds the orchestration and the I/O through the traits.

pub mod accounts;
pub mod antivirus;
pub mod attestation;
pub mod audit;
pub mod chunks;
pub mod consistency;
pub mod delivery;
pub mod elimination;
pub mod evidence;
pub mod export;
pub mod export_jobs;
mod files;
pub mod ingest;
pub mod journal;
pub mod maintenance;
pub mod metadata;
pub mod offer_removal;
pub mod offer_sync;
pub mod package;
pub mod ports;
pub mod reading;
pub mod referential;
pub mod report;
pub mod rules;
pub mod selection;
pub mod stats;
pub mod system;
pub mod throttle;
pub mod timestamping;
pub mod transfers;
pub mod unit_profile;
pub mod web_sessions;

use carnac_blobstore::{BlobError, BlobStore};
use carnac_catalog::{Catalog, CatalogError, OperationEnd, ReferentialKind};
use carnac_model::journal::EventKind;
use carnac_model::journal::NewEvent;
use carnac_model::{OperationId, Status, TenantId};
use ports::{Clock, IdGenerator, IdKind, VirusScanner};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use ingest::{IngestOutcome, IngestSummary};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A request refused for every one of these reasons.
    #[error("invalid request: {}", .0.join("; "))]
    InvalidRequest(Vec<String>),
    /// What was asked does not fit the state of things (an elimination not yet given its
    /// visa, units whose rules changed since they were read…): `code` names the case.
    #[error("{message}")]
    State { code: &'static str, message: String },
    /// The account may take this action, not on these records (a producer bound to other
    /// originating agencies).
    #[error("{0}")]
    Forbidden(String),
    /// Units asked for whose access rules have not run out, each with its rule and end
    /// (Code du patrimoine L213-2): communicable under a derogation only.
    #[error("not communicable: {}", .0.join("; "))]
    NotCommunicable(Vec<String>),
    #[error("tenant {0} is suspended: it reads and exports its archives, it takes no transfer")]
    Suspended(TenantId),
    #[error("the referential folder is refused, nothing was imported:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    ReferentialRejected(Vec<referential::FileError>),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("antivirus unavailable: {0}")]
    Scanner(String),
    #[error("timestamping: {0}")]
    Timestamp(#[from] carnac_timestamp::TimestampError),
    #[error("evidence: {0}")]
    Evidence(#[from] carnac_evidence::EvidenceError),
}

impl ArchiveError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> ArchiveError {
        ArchiveError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Settings of the ingest, all with defaults suitable for the embedded configuration.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub limits: carnac_container::Limits,
    /// Largest manifest accepted, in bytes.
    pub max_manifest_size: u64,
    /// The archive's own identifier, written as `ArchivalAgency` in replies.
    pub archival_agency: String,
    /// How many refused requests are journaled one event each before they are counted.
    pub refusal_rates: throttle::RefusalRates,
    /// How deep elements may nest in a manifest.
    pub max_xml_depth: usize,
    /// How long an ingest may take.
    pub time_budget: ingest::TimeBudget,
    /// Transfers received over the network ingested at once (each of another tenant).
    pub ingest_workers: usize,
    /// The `ClassificationLevel`s a transfer may give (the platform's, for every tenant).
    pub classification_levels: Vec<String>,
    /// Units an elimination's execution destroys per catalog transaction: small enough that
    /// other tenants' writes wait a fraction of a second between two, large enough that the
    /// steps' own costs (a sync of each offer) stay small.
    pub execution_step_units: usize,
    /// The control authority's identifier in the SEDA messages of eliminations (the
    /// Archives départementales' code, as the operator knows it).
    pub control_authority: String,
    /// The packages of deliveries kept for download: how long, how many, how large.
    pub deliveries: delivery::DeliveryLimits,
    /// How long a web session lasts.
    pub web_sessions: web_sessions::SessionLimits,
}

/// Vitam's default list of classification levels.
pub const DEFAULT_CLASSIFICATION_LEVELS: [&str; 3] =
    ["Non protégé", "Secret Défense", "Confidentiel Défense"];

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            limits: carnac_container::Limits::default(),
            max_manifest_size: 4 << 30,
            archival_agency: "carnac".into(),
            refusal_rates: Default::default(),
            max_xml_depth: carnac_seda::manifest::DEFAULT_MAX_DEPTH,
            time_budget: Default::default(),
            ingest_workers: 2,
            classification_levels: DEFAULT_CLASSIFICATION_LEVELS.map(String::from).to_vec(),
            execution_step_units: 500,
            control_authority: elimination::DEFAULT_CONTROL_AUTHORITY.into(),
            deliveries: Default::default(),
            web_sessions: Default::default(),
        }
    }
}

pub struct Archive {
    pub(crate) catalog: Arc<dyn Catalog>,
    pub(crate) offers: Vec<Arc<dyn BlobStore>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) scanner: Option<Arc<dyn VirusScanner>>,
    pub(crate) identifier: Arc<carnac_pronom::Identifier>,
    pub(crate) timestamps: Arc<dyn timestamping::TimestampAuthority>,
    pub(crate) tenant_timestamps: BTreeMap<TenantId, Arc<dyn timestamping::TimestampAuthority>>,
    pub(crate) signer: Arc<carnac_timestamp::signature::Signer>,
    pub(crate) config: IngestConfig,
    /// Scratch files of running operations (manifest copies, metadata spools).
    pub(crate) tmp: PathBuf,
    /// Received transfers shared between nodes ([`Parts::incoming`]).
    pub(crate) incoming: Option<Arc<dyn BlobStore>>,
    /// What this process has done, for monitoring.
    pub(crate) stats: stats::Stats,
    /// Login locks, password-check permits, refusals waiting for their summary.
    pub(crate) gate: accounts::Gate,
    /// The eliminations this process is executing now (one worker each).
    pub(crate) executions: std::sync::Mutex<BTreeSet<(TenantId, OperationId)>>,
    /// The tenants whose delivery package is being made now (one at a time each).
    pub(crate) deliveries_running: std::sync::Mutex<BTreeSet<TenantId>>,
    /// Background exports this process started (`export_jobs`).
    pub(crate) export_jobs: export_jobs::ExportJobs,
}

/// The parts an [`Archive`] is made of.
pub struct Parts {
    pub catalog: Arc<dyn Catalog>,
    pub offers: Vec<Arc<dyn BlobStore>>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub scanner: Option<Arc<dyn VirusScanner>>,
    pub identifier: Arc<carnac_pronom::Identifier>,
    /// Timestamps journal seals, evidence records, attestations and reports.
    pub timestamps: Arc<dyn timestamping::TimestampAuthority>,
    /// The tenants that have their own TSA instead.
    pub tenant_timestamps: BTreeMap<TenantId, Arc<dyn timestamping::TimestampAuthority>>,
    /// Signs the archive's attestations.
    pub signer: Arc<carnac_timestamp::signature::Signer>,
    pub config: IngestConfig,
    pub tmp: PathBuf,
    /// Where received transfers wait when several nodes serve the archive (a folder or a
    /// bucket they all reach), so that any node can ingest what another received; `None`:
    /// this process's incoming folder only (one node).
    pub incoming: Option<Arc<dyn BlobStore>>,
}

/// The outcome of a referential import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub operation: OperationId,
    /// The new version of each referential imported.
    pub versions: Vec<(ReferentialKind, u64)>,
    pub counts: Vec<(ReferentialKind, usize)>,
    pub skipped: Vec<(String, String)>,
}

impl Archive {
    pub fn new(parts: Parts) -> Result<Archive, ArchiveError> {
        if parts.offers.is_empty() {
            return Err(ArchiveError::Invalid(
                "at least one storage offer is needed".into(),
            ));
        }
        let mut names: Vec<&str> = parts.offers.iter().map(|o| o.name()).collect();
        names.sort();
        names.dedup();
        if names.len() != parts.offers.len() {
            return Err(ArchiveError::Invalid(
                "storage offers must have distinct names".into(),
            ));
        }
        let incoming = parts.tmp.join("incoming");
        std::fs::create_dir_all(&incoming)
            .map_err(|e| ArchiveError::io(format!("creating {}", incoming.display()), e))?;
        let gate = accounts::Gate::new(parts.config.refusal_rates);
        Ok(Archive {
            catalog: parts.catalog,
            offers: parts.offers,
            clock: parts.clock,
            ids: parts.ids,
            scanner: parts.scanner,
            identifier: parts.identifier,
            timestamps: parts.timestamps,
            tenant_timestamps: parts.tenant_timestamps,
            signer: parts.signer,
            config: parts.config,
            tmp: parts.tmp,
            incoming: parts.incoming,
            stats: stats::Stats::default(),
            gate,
            executions: Default::default(),
            deliveries_running: Default::default(),
            export_jobs: Default::default(),
        })
    }

    pub fn catalog(&self) -> &dyn Catalog {
        &*self.catalog
    }

    /// What this process has done since it started (ingests, duties, audits).
    pub fn stats(&self) -> stats::StatsSnapshot {
        self.stats.snapshot()
    }

    /// The limits and names the ingest works with.
    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    pub fn offers(&self) -> &[Arc<dyn BlobStore>] {
        &self.offers
    }

    /// The trust anchors of every timestamp the archive keeps, whichever tenant's.
    pub fn trust(&self) -> carnac_timestamp::TrustStore {
        let mut trust = self.timestamps.trust();
        for tsa in self.tenant_timestamps.values() {
            for anchor in tsa.trust().anchors() {
                if !trust.anchors().contains(anchor) {
                    trust = trust.with_anchor(anchor.clone());
                }
            }
        }
        trust
    }

    /// The TSA that timestamps `tenant`'s seals and evidence: its own, or the archive's.
    pub(crate) fn tsa(&self, tenant: &TenantId) -> &dyn timestamping::TimestampAuthority {
        self.tenant_timestamps
            .get(tenant)
            .map_or(&*self.timestamps, |t| &**t)
    }

    /// The time by the archive's clock (what its records are dated with).
    pub fn now(&self) -> carnac_model::Timestamp {
        carnac_model::Timestamp::from_datetime(self.clock.now())
    }

    pub(crate) fn new_operation(&self) -> Result<OperationId, ArchiveError> {
        OperationId::new(self.ids.next(IdKind::Operation))
            .map_err(|e| ArchiveError::Invalid(e.to_string()))
    }

    /// NotFound unless the tenant exists.
    pub fn require_tenant(&self, tenant: &TenantId) -> Result<(), ArchiveError> {
        match self.catalog.tenant(tenant)? {
            Some(_) => Ok(()),
            None => Err(ArchiveError::NotFound(format!("tenant {tenant}"))),
        }
    }

    /// Ends a running operation that kept nothing, as KO, with its journal event.
    pub(crate) fn close_failed(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        kind: EventKind,
        agent: &str,
        detail: &serde_json::Value,
    ) -> Result<(), ArchiveError> {
        let at = self.now();
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind,
            outcome: Status::Ko,
            time: at.to_string(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.finish_operation(
            tenant,
            OperationEnd {
                operation,
                status: Status::Ko,
                summary: detail,
                reply: None,
                ended_at: &at,
                event: &event,
            },
        )?;
        Ok(())
    }

    /// Creates a tenant; its journal starts with this event.
    pub fn create_tenant(
        &self,
        tenant: &TenantId,
        name: &str,
        agent: &str,
    ) -> Result<OperationId, ArchiveError> {
        if carnac_model::access::is_reserved(tenant) {
            return Err(ArchiveError::Invalid(format!(
                "tenant identifiers starting with '_' are reserved for the archive ({tenant})"
            )));
        }
        if name.chars().count() > 256 || name.chars().any(char::is_control) {
            return Err(ArchiveError::Invalid(
                "a tenant's name is at most 256 characters, without control characters".into(),
            ));
        }
        let operation = self.new_operation()?;
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::TenantCreate,
            outcome: Status::Ok,
            time: self.now().into(),
            agent: agent.into(),
            detail: json!({ "name": name }),
        };
        self.catalog
            .create_tenant(tenant, name, &event)
            .map_err(|e| match e {
                CatalogError::Conflict(what) => ArchiveError::Conflict(what),
                other => other.into(),
            })?;
        tracing::info!(%tenant, %operation, "tenant created");
        Ok(operation)
    }

    /// Imports a referential folder: every file is checked first, and a folder with any
    /// error is refused whole (the refusal is journaled; nothing else changes).
    pub fn import_referentials(
        &self,
        tenant: &TenantId,
        dir: &Path,
        agent: &str,
    ) -> Result<ImportOutcome, ArchiveError> {
        self.require_tenant(tenant)?;
        let operation = self.new_operation()?;
        let at = self.now();
        let content = match referential::read_folder(dir) {
            Ok(c) => c,
            Err(errors) => {
                self.catalog.start_operation(
                    tenant,
                    &operation,
                    &EventKind::ReferentialImport,
                    &at,
                    agent,
                )?;
                let detail = json!({ "folder": dir.display().to_string(), "errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>() });
                self.close_failed(
                    tenant,
                    &operation,
                    EventKind::ReferentialImport,
                    agent,
                    &detail,
                )?;
                return Err(ArchiveError::ReferentialRejected(errors));
            }
        };
        let r = &content.referentials;
        let mut parts: Vec<(ReferentialKind, serde_json::Value, usize)> = Vec::new();
        fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
            serde_json::to_value(v).expect("referential maps have string keys and serialise")
        }
        if let Some(m) = &r.agencies {
            parts.push((ReferentialKind::Agencies, to_json(m), m.len()));
        }
        if let Some(m) = &r.rules {
            parts.push((ReferentialKind::Rules, to_json(m), m.len()));
        }
        if let Some(m) = &r.contracts {
            parts.push((ReferentialKind::IngestContracts, to_json(m), m.len()));
        }
        if let Some(m) = &r.profiles {
            parts.push((ReferentialKind::ArchiveProfiles, to_json(m), m.len()));
        }
        if let Some(m) = &r.formats {
            parts.push((ReferentialKind::Formats, to_json(m), m.len()));
        }
        if let Some(m) = &r.unit_profiles {
            parts.push((ReferentialKind::UnitProfiles, to_json(m), m.len()));
        }
        if let Some(m) = &r.access_contracts {
            parts.push((ReferentialKind::AccessContracts, to_json(m), m.len()));
        }
        if parts.is_empty() {
            // No path in the message: over HTTP the folder is the archive's scratch space.
            return Err(ArchiveError::Invalid(
                "the folder holds no referential (agencies/, rules/, contracts/, profiles/, formats/ or archiveUnitProfiles/)"
                    .into(),
            ));
        }
        let counts: Vec<(ReferentialKind, usize)> =
            parts.iter().map(|(k, _, n)| (*k, *n)).collect();
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::ReferentialImport,
            outcome: Status::Ok,
            time: at.to_string(),
            agent: agent.into(),
            detail: json!({
                "folder": dir.display().to_string(),
                "imported": counts.iter().map(|(k, n)| json!({"referential": k.as_str(), "entries": n})).collect::<Vec<_>>(),
                "skipped": content.skipped.iter().map(|(f, why)| format!("{f}: {why}")).collect::<Vec<_>>(),
            }),
        };
        let content_json: Vec<(ReferentialKind, serde_json::Value)> =
            parts.into_iter().map(|(k, v, _)| (k, v)).collect();
        let versions =
            self.catalog
                .import_referentials(tenant, &operation, &at, &content_json, &event)?;
        tracing::info!(%tenant, %operation, "referentials imported");
        Ok(ImportOutcome {
            operation,
            versions: content_json.iter().map(|(k, _)| *k).zip(versions).collect(),
            counts,
            skipped: content.skipped,
        })
    }

    /// The tenant's current referentials, as the ingest checks against them.
    pub fn referentials(
        &self,
        tenant: &TenantId,
    ) -> Result<referential::Referentials, ArchiveError> {
        fn load<T: serde::de::DeserializeOwned>(
            catalog: &dyn Catalog,
            tenant: &TenantId,
            kind: ReferentialKind,
        ) -> Result<Option<T>, ArchiveError> {
            match catalog.referential(tenant, kind)? {
                None => Ok(None),
                Some(v) => serde_json::from_value(v.content).map(Some).map_err(|e| {
                    ArchiveError::Catalog(CatalogError::Corruption(format!(
                        "{} referential: {e}",
                        kind.as_str()
                    )))
                }),
            }
        }
        let c = &*self.catalog;
        Ok(referential::Referentials {
            agencies: load(c, tenant, ReferentialKind::Agencies)?,
            rules: load(c, tenant, ReferentialKind::Rules)?,
            contracts: load(c, tenant, ReferentialKind::IngestContracts)?,
            profiles: load(c, tenant, ReferentialKind::ArchiveProfiles)?,
            formats: load(c, tenant, ReferentialKind::Formats)?,
            unit_profiles: load(c, tenant, ReferentialKind::UnitProfiles)?,
            access_contracts: load(c, tenant, ReferentialKind::AccessContracts)?,
        })
    }

    /// What gone nodes left, safe to run at any time: their queued transfers caught in
    /// their ingest go back to the queue, their other running operations are cleaned (their
    /// partial blobs discarded) and closed as failed. Never a live node's work: with one
    /// node, what a previous process left; with several, what a node whose lease lapsed left.
    pub fn recover_abandoned(&self) -> Result<Vec<(TenantId, OperationId)>, ArchiveError> {
        self.clean_abandoned(false)
    }

    /// [`Archive::recover_abandoned`], this node's own running operations included at start
    /// (`at_start`: it has started nothing yet).
    fn clean_abandoned(
        &self,
        at_start: bool,
    ) -> Result<Vec<(TenantId, OperationId)>, ArchiveError> {
        // Queued transfers caught in their ingest go back to the queue, not to failure.
        self.requeue_interrupted(at_start)?;
        // An execution begun is completed, not undone (`complete_executions`).
        let executions = self.execution_operations()?;
        let running: Vec<_> = self
            .catalog
            .abandoned_operations(at_start)?
            .into_iter()
            .filter(|(_, op)| !executions.contains(op))
            .collect();
        for (tenant, operation) in &running {
            let locked = self.discard_everywhere(tenant, operation)?;
            let mut reasons = vec![
                json!({"step": "RECOVERY", "code": "INTERRUPTED", "message": "the operation was interrupted (the process stopped); nothing of it was kept"}),
            ];
            for l in locked {
                reasons.push(json!({"step": "RECOVERY", "code": "WORM_RETENTION", "message": format!("what it stored stays until its retention ends, unused: {l}")}));
            }
            let detail = json!({
                "status": "KO",
                "reasons": reasons,
            });
            let kind = self
                .catalog
                .operation(tenant, operation)?
                .map(|o| o.kind)
                .unwrap_or_else(|| "UNKNOWN".into());
            self.close_failed(
                tenant,
                operation,
                EventKind::from(kind.as_str()),
                "system",
                &detail,
            )?;
            tracing::warn!(%tenant, %operation, "interrupted operation cleaned up");
        }
        Ok(running)
    }

    /// Discards a batch from every offer. What a WORM offer still locks (a batch committed
    /// just before the process stopped) stays there until its retention ends: each such
    /// offer's refusal is returned, not raised, so that recovery goes on.
    pub(crate) fn discard_everywhere(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Vec<String>, ArchiveError> {
        let mut locked = Vec::new();
        for offer in &self.offers {
            match offer.discard(tenant, operation) {
                Ok(()) => {}
                Err(e) if e.is_locked() => {
                    tracing::warn!(%tenant, %operation, offer = offer.name(), error = %e, "a discarded batch stays under a WORM retention");
                    locked.push(e.to_string());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(locked)
    }

    /// Ends what a dead process left: every operation it left running has its blobs removed
    /// from every offer and is closed as interrupted in its tenant's journal
    /// ([`Archive::recover_abandoned`]), its purges and executions are finished, its scratch
    /// files removed. Run at every start, before serving.
    pub fn recover(&self) -> Result<Vec<(TenantId, OperationId)>, ArchiveError> {
        let running = self.clean_abandoned(true)?;
        // Eliminations whose files were still being removed from the offers.
        for (tenant, elimination) in self.finish_purges()? {
            tracing::warn!(%tenant, %elimination, "interrupted purge of an elimination finished");
        }
        // Eliminations whose execution a stop cut short: completed. One that cannot be now
        // (an offer unreachable) stays executing, for the next start or a new request.
        for (tenant, elimination, done) in self.complete_executions()? {
            match done {
                Ok(()) => {
                    tracing::warn!(%tenant, %elimination, "interrupted elimination execution completed")
                }
                Err(e) => {
                    tracing::error!(%tenant, %elimination, error = %e, "an interrupted elimination execution could not be completed")
                }
            }
        }
        self.remove_unfinished_exports()?;
        // Scratch files of the dead process (not the incoming folder, whose containers are
        // the queued transfers').
        if let Ok(entries) = std::fs::read_dir(&self.tmp) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_file()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        // Uploads that never became queued transfers (the process stopped while receiving,
        // or between keeping the files and queueing them).
        let queued: std::collections::BTreeSet<String> = self
            .catalog
            .queued_transfers()?
            .into_iter()
            .map(|q| format!("{}.{}", q.tenant, q.operation))
            .collect();
        if let Ok(entries) = std::fs::read_dir(self.incoming_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let is_file = e.file_type().is_ok_and(|t| t.is_file());
                let key = name.strip_suffix(".bordereau.xml").unwrap_or(&name);
                if is_file && (name.starts_with('.') || !queued.contains(key)) {
                    tracing::warn!(file = %name, "removing an upload that was never queued");
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        // Chunk sessions of the as@lae intake left unfinished for a day: their sender gave up
        // (`serve` removes them sooner, after its configured idle time).
        self.reclaim_chunk_sessions(std::time::Duration::from_secs(24 * 3600))?;
        Ok(running)
    }
}
