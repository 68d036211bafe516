//! Transfers received over the network, ingested in the background.
//!
//! Receiving a transfer keeps its container in the incoming folder (durably) and records it
//! as queued, with its journal event, before anything answers the sender: from then on it is
//! the archive's to ingest, whatever happens. Workers ingest queued transfers a few at a
//! time, tenants in turn and each tenant's in the order they came, under the operation
//! identifier given at receipt. An ingest interrupted by a stop is started again at the next
//! start (its partial blobs discarded by recovery), so a transfer is never lost nor
//! half-stored.

use crate::files::write_durably_rename;
use crate::ports::NoProgress;
use crate::{Archive, ArchiveError};
use carnac_catalog::{Intake, IntakeMessage, QueuedTransfer};
use carnac_model::journal::EventKind;
use carnac_model::journal::NewEvent;
use carnac_model::{OperationId, Status, TenantId};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// The names of a received transfer's files in the shared incoming store.
const CONTAINER: &str = "container";
const BORDEREAU: &str = "bordereau.xml";

impl Archive {
    /// Where received containers wait for their ingest.
    pub fn incoming_dir(&self) -> PathBuf {
        self.tmp.join("incoming")
    }

    fn incoming_path(&self, tenant: &TenantId, operation: &OperationId) -> PathBuf {
        self.incoming_dir().join(format!("{tenant}.{operation}"))
    }

    /// Takes a received container (a file in [`Archive::incoming_dir`], synced) for `tenant`:
    /// it becomes the queued transfer of a new operation, journaled. The file is moved, or
    /// removed if the transfer is refused (unknown or suspended tenant).
    pub fn receive_transfer(
        &self,
        tenant: &TenantId,
        upload: &Path,
        agent: &str,
    ) -> Result<QueuedTransfer, ArchiveError> {
        let refuse = |e: ArchiveError| {
            let _ = std::fs::remove_file(upload);
            e
        };
        match self.catalog.tenant(tenant).map_err(|e| refuse(e.into()))? {
            Some(t) if t.suspended_at.is_some() => {
                return Err(refuse(ArchiveError::Suspended(tenant.clone())));
            }
            Some(_) if !carnac_model::access::is_reserved(tenant) => {}
            _ => return Err(refuse(ArchiveError::NotFound(format!("tenant {tenant}")))),
        }
        let bytes = std::fs::metadata(upload)
            .map_err(|e| refuse(ArchiveError::io(format!("reading {}", upload.display()), e)))?
            .len();
        let operation = self.new_operation().map_err(refuse)?;
        let target = self.incoming_path(tenant, &operation);
        write_durably_rename(upload, &target)
            .map_err(|e| refuse(ArchiveError::io(format!("keeping {}", target.display()), e)))?;
        if let Err(e) = self.share_incoming(tenant, &operation, &[(CONTAINER, &target)]) {
            let _ = std::fs::remove_file(&target);
            return Err(e);
        }
        let transfer = QueuedTransfer {
            tenant: tenant.clone(),
            operation: operation.clone(),
            received_at: self.now(),
            agent: agent.to_owned(),
            bytes,
            intake: Intake::Package,
        };
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::TransferReceived,
            outcome: Status::Ok,
            time: transfer.received_at.to_string(),
            agent: agent.into(),
            detail: json!({ "bytes": bytes }),
        };
        if let Err(e) = self.catalog.enqueue_transfer(&transfer, &event) {
            let _ = std::fs::remove_file(&target);
            self.forget_incoming(tenant, &operation);
            return Err(e.into());
        }
        tracing::info!(%tenant, %operation, bytes, "transfer received");
        Ok(transfer)
    }

    fn bordereau_path(&self, tenant: &TenantId, operation: &OperationId) -> PathBuf {
        self.incoming_dir()
            .join(format!("{tenant}.{operation}.bordereau.xml"))
    }

    /// Takes a transfer of the as@lae intake: a bordereau and, if it names files, the
    /// container of its attachments (both files in [`Archive::incoming_dir`]). The bordereau
    /// is read enough to know its version, its identifier and its agencies; the transfer is
    /// then queued with its acknowledgement, journaled. Refused (files removed) when the
    /// tenant cannot take it, when the bordereau cannot be read or lacks what identifies it,
    /// or when the tenant already received a transfer with the same identifier from the same
    /// agency.
    pub fn receive_bordereau(
        &self,
        tenant: &TenantId,
        bordereau: &Path,
        attachments: Option<&Path>,
        agent: &str,
    ) -> Result<(QueuedTransfer, IntakeMessage), ArchiveError> {
        let refuse = |e: ArchiveError| {
            let _ = std::fs::remove_file(bordereau);
            if let Some(a) = attachments {
                let _ = std::fs::remove_file(a);
            }
            e
        };
        match self.catalog.tenant(tenant).map_err(|e| refuse(e.into()))? {
            Some(t) if t.suspended_at.is_some() => {
                return Err(refuse(ArchiveError::Suspended(tenant.clone())));
            }
            Some(_) if !carnac_model::access::is_reserved(tenant) => {}
            _ => return Err(refuse(ArchiveError::NotFound(format!("tenant {tenant}")))),
        }
        let size = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.len())
                .map_err(|e| ArchiveError::io(format!("reading {}", p.display()), e))
        };
        let bordereau_bytes = size(bordereau).map_err(refuse)?;
        let bytes = bordereau_bytes
            + match attachments {
                Some(a) => size(a).map_err(refuse)?,
                None => 0,
            };
        if bordereau_bytes > self.config.max_manifest_size {
            return Err(refuse(ArchiveError::Invalid(format!(
                "the bordereau is larger than the limit of {} bytes",
                self.config.max_manifest_size
            ))));
        }
        // Read within the ingest's limits: its depth, and the time its size allows.
        let deadline = crate::ingest::Deadline::new(self.config.time_budget, bordereau_bytes);
        let limits = carnac_seda::manifest::ReadLimits {
            max_depth: self.config.max_xml_depth,
            stop: &|| deadline.over(),
        };
        let header = read_header(bordereau, &limits).map_err(refuse)?;
        let operation = self.new_operation().map_err(refuse)?;
        let received_at = self.now();
        let archival_agency = header
            .archival_agency
            .clone()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| self.config.archival_agency.clone());
        let ack = carnac_seda::asalae::Acknowledgement {
            version: header.version,
            identifier: format!("ACK_{operation}"),
            date: received_at.to_string(),
            received_identifier: header.message_id.clone(),
            archival_agency,
            transferring_agency: header.origin.clone(),
            comment: "Votre transfert d'archives a été reçu ; il sera contrôlé et vous recevrez sa réponse (ArchiveTransferReply).".into(),
        };
        let message = IntakeMessage {
            tenant: tenant.clone(),
            origin: header.origin.clone(),
            message_id: header.message_id.clone(),
            operation: operation.clone(),
            seda_version: header.version.as_str().to_owned(),
            acknowledgement: ack.to_xml(),
        };
        let kept_bordereau = self.bordereau_path(tenant, &operation);
        let kept_attachments = self.incoming_path(tenant, &operation);
        let forget = || {
            let _ = std::fs::remove_file(&kept_bordereau);
            let _ = std::fs::remove_file(&kept_attachments);
        };
        write_durably_rename(bordereau, &kept_bordereau).map_err(|e| {
            refuse(ArchiveError::io(
                format!("keeping {}", kept_bordereau.display()),
                e,
            ))
        })?;
        if let Some(a) = attachments {
            write_durably_rename(a, &kept_attachments).map_err(|e| {
                forget();
                refuse(ArchiveError::io(
                    format!("keeping {}", kept_attachments.display()),
                    e,
                ))
            })?;
        }
        let transfer = QueuedTransfer {
            tenant: tenant.clone(),
            operation: operation.clone(),
            received_at: received_at.clone(),
            agent: agent.to_owned(),
            bytes,
            intake: Intake::Asalae,
        };
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::TransferReceived,
            outcome: Status::Ok,
            time: received_at.to_string(),
            agent: agent.into(),
            detail: json!({
                "bytes": bytes,
                "intake": "asalae",
                "seda_version": message.seda_version,
                "origin": message.origin,
                "message_identifier": message.message_id,
                "acknowledgement": format!("ACK_{operation}"),
            }),
        };
        let mut shared: Vec<(&str, &Path)> = vec![(BORDEREAU, &kept_bordereau)];
        if attachments.is_some() {
            shared.push((CONTAINER, &kept_attachments));
        }
        if let Err(e) = self.share_incoming(tenant, &operation, &shared) {
            forget();
            return Err(e);
        }
        if let Err(e) = self
            .catalog
            .enqueue_intake_message(&transfer, &message, &event)
        {
            forget();
            self.forget_incoming(tenant, &operation);
            return Err(e.into());
        }
        tracing::info!(%tenant, %operation, bytes, origin = %message.origin, message = %message.message_id, "as@lae transfer received");
        Ok((transfer, message))
    }

    /// Copies a received transfer's files (kept, synced) to the store the nodes share, in one
    /// batch, before the transfer is queued: acknowledged, it is there for any node.
    fn share_incoming(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        files: &[(&str, &Path)],
    ) -> Result<(), ArchiveError> {
        let Some(store) = &self.incoming else {
            return Ok(());
        };
        let mut batch = store.begin(tenant, operation)?;
        for (name, path) in files {
            let mut file = std::fs::File::open(path)
                .map_err(|e| ArchiveError::io(format!("reading {}", path.display()), e))?;
            let mut w = batch.create(name)?;
            std::io::copy(&mut file, &mut w).map_err(|e| {
                ArchiveError::io("keeping the transfer where every node reads it", e)
            })?;
            w.finish()?;
        }
        batch.commit()?;
        Ok(())
    }

    /// Brings a queued transfer's files from the shared store when another node received
    /// it (they are not in this node's incoming folder).
    fn fetch_incoming(
        &self,
        transfer: &QueuedTransfer,
        container: &Path,
        bordereau: &Path,
    ) -> Result<(), ArchiveError> {
        let Some(store) = &self.incoming else {
            return Ok(());
        };
        let wanted: &[(&str, &Path)] = match transfer.intake {
            Intake::Package => &[(CONTAINER, container)],
            Intake::Asalae => &[(BORDEREAU, bordereau), (CONTAINER, container)],
        };
        let names = store.list(&transfer.tenant, &transfer.operation)?;
        for (name, path) in wanted {
            if path.exists() || !names.iter().any(|n| n == name) {
                continue;
            }
            let key = carnac_blobstore::BlobKey {
                tenant: transfer.tenant.clone(),
                batch: transfer.operation.clone(),
                name: (*name).to_owned(),
            };
            let mut from = store.open(&key)?;
            // Beside it under a name no queued transfer has (removed at start if left).
            let mut partial = path.as_os_str().to_owned();
            partial.push(".fetching");
            let partial = PathBuf::from(partial);
            let mut to = std::fs::File::create(&partial)
                .map_err(|e| ArchiveError::io(format!("writing {}", partial.display()), e))?;
            std::io::copy(&mut from, &mut to)
                .map_err(|e| ArchiveError::io(format!("writing {}", partial.display()), e))?;
            write_durably_rename(&partial, path)
                .map_err(|e| ArchiveError::io(format!("keeping {}", path.display()), e))?;
        }
        Ok(())
    }

    /// Removes a transfer's files from the shared store (ingested, or never queued).
    fn forget_incoming(&self, tenant: &TenantId, operation: &OperationId) {
        let Some(store) = &self.incoming else {
            return;
        };
        if let Err(e) = store.discard(tenant, operation) {
            tracing::warn!(%tenant, %operation, error = %e, "removing a transfer from the shared incoming store");
        }
    }

    /// Ingests one queued transfer, then forgets its container. An ingest that cannot run
    /// (the tenant was suspended meanwhile, storage failed) ends its operation as failed, with
    /// the reason, like any ingest.
    pub fn process_transfer(&self, transfer: &QueuedTransfer) -> Result<(), ArchiveError> {
        let (tenant, operation) = (&transfer.tenant, &transfer.operation);
        let path = self.incoming_path(tenant, operation);
        let bordereau = self.bordereau_path(tenant, operation);
        let done = self
            .catalog
            .operation(tenant, operation)?
            .is_some_and(|o| o.state == carnac_catalog::OperationState::Done);
        if !done {
            self.fetch_incoming(transfer, &path, &bordereau)?;
            let open = |p: &Path| {
                std::fs::File::open(p)
                    .map_err(|e| ArchiveError::io(format!("opening {}", p.display()), e))
            };
            let source = match transfer.intake {
                Intake::Package => crate::ingest::Source::Package(open(&path)?),
                Intake::Asalae => crate::ingest::Source::Bordereau {
                    bordereau: open(&bordereau)?,
                    attachments: if path.exists() {
                        Some(open(&path)?)
                    } else {
                        None
                    },
                },
            };
            match self.ingest_as(tenant, operation, source, &transfer.agent, &NoProgress) {
                Ok(outcome) => {
                    tracing::info!(%tenant, %operation, status = %outcome.status(), "queued transfer ingested");
                }
                Err(e @ (ArchiveError::Suspended(_) | ArchiveError::NotFound(_))) => {
                    // Refused before it started: its operation records why.
                    self.catalog.start_operation(
                        tenant,
                        operation,
                        &EventKind::Ingest,
                        &self.now(),
                        &transfer.agent,
                    )?;
                    let detail = json!({"status": "KO", "reasons": [{"step": "CHECK_TENANT", "code": "REFUSED", "message": e.to_string()}]});
                    self.close_failed(
                        tenant,
                        operation,
                        EventKind::Ingest,
                        &transfer.agent,
                        &detail,
                    )?;
                }
                // The operation was closed as failed, with the reason, by the ingest.
                Err(e) => {
                    tracing::error!(%tenant, %operation, error = %e, "queued transfer failed")
                }
            }
        }
        self.catalog.dequeue_transfer(tenant, operation)?;
        self.forget_incoming(tenant, operation);
        for p in [&path, &bordereau] {
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!(path = %p.display(), error = %e, "removing an ingested transfer's file");
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Before recovery: the queued transfers whose ingest a gone node left are put back in
    /// the queue (their running operation forgotten, journaled), so that recovery
    /// discards their partial blobs and the worker ingests them again.
    pub(crate) fn requeue_interrupted(
        &self,
        at_start: bool,
    ) -> Result<Vec<OperationId>, ArchiveError> {
        let mut out = Vec::new();
        // Only those a gone node was ingesting: a live node's ingest is its own.
        let abandoned: std::collections::BTreeSet<(TenantId, OperationId)> = self
            .catalog
            .abandoned_operations(at_start)?
            .into_iter()
            .collect();
        for t in self.catalog.queued_transfers()? {
            if !abandoned.contains(&(t.tenant.clone(), t.operation.clone())) {
                continue;
            }
            self.discard_everywhere(&t.tenant, &t.operation)?;
            let event = NewEvent {
                tenant: t.tenant.clone(),
                operation: t.operation.clone(),
                kind: EventKind::IngestResumed,
                outcome: Status::Warning,
                time: self.now().into(),
                agent: "system".into(),
                detail: json!({"reason": "the ingest was interrupted (the process stopped); its partial data was removed and the transfer is ingested again"}),
            };
            self.catalog
                .requeue_transfer(&t.tenant, &t.operation, &event)?;
            tracing::warn!(tenant = %t.tenant, operation = %t.operation, "interrupted ingest queued again");
            out.push(t.operation);
        }
        Ok(out)
    }
}

/// Ingests queued transfers in the background: a few at a time
/// ([`crate::IngestConfig::ingest_workers`]), a tenant's in the order they came, one of each
/// tenant at a time, tenants served in turn. One tenant's slow or many transfers then hold
/// at most one worker; another tenant's transfer waits only when every worker is busy with
/// other tenants', and then at most as long as their time budget.
pub struct Worker {
    shared: Arc<Shared>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
    /// The scout's own wake-up (the stop): a worker's notification must never go to it.
    scout: Condvar,
}

#[derive(Default)]
struct Queue {
    /// Each tenant's transfers, oldest first.
    waiting: HashMap<TenantId, VecDeque<QueuedTransfer>>,
    /// Every transfer waiting or in its ingest here: the scout adds only the others.
    known: std::collections::HashSet<(TenantId, OperationId)>,
    /// Transfers whose processing failed here, and when: the scout offers them again only
    /// after [`RETRY_AFTER`] (the next start, at once).
    failed: HashMap<(TenantId, OperationId), std::time::Instant>,
    /// Tenants with a transfer waiting and none running, in the order they are served.
    turn: VecDeque<TenantId>,
    /// Tenants with a transfer in its ingest, and its bytes.
    running: HashMap<TenantId, u64>,
    stopping: bool,
}

impl Queue {
    fn push(&mut self, transfer: QueuedTransfer) {
        let key = (transfer.tenant.clone(), transfer.operation.clone());
        if self
            .failed
            .get(&key)
            .is_some_and(|at| at.elapsed() < RETRY_AFTER)
        {
            return;
        }
        if !self.known.insert(key) {
            return;
        }
        let tenant = transfer.tenant.clone();
        self.waiting
            .entry(tenant.clone())
            .or_default()
            .push_back(transfer);
        if !self.running.contains_key(&tenant) && !self.turn.contains(&tenant) {
            self.turn.push_back(tenant);
        }
    }

    /// The next transfer to ingest: the oldest of the tenant whose turn it is.
    fn next(&mut self) -> Option<QueuedTransfer> {
        let tenant = self.turn.pop_front()?;
        let transfer = self.waiting.get_mut(&tenant)?.pop_front()?;
        self.running.insert(tenant, transfer.bytes);
        Some(transfer)
    }

    /// A tenant's transfer is done: its next one, if any, takes its turn after the others'.
    fn done(&mut self, tenant: &TenantId, operation: &OperationId) {
        self.known.remove(&(tenant.clone(), operation.clone()));
        self.running.remove(tenant);
        match self.waiting.get(tenant) {
            Some(w) if !w.is_empty() => self.turn.push_back(tenant.clone()),
            _ => {
                self.waiting.remove(tenant);
            }
        }
    }
}

impl Worker {
    /// Starts the workers with every transfer already queued.
    pub fn start(archive: Arc<Archive>) -> Result<Worker, ArchiveError> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            scout: Condvar::new(),
        });
        {
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            for t in archive.catalog.queued_transfers()? {
                q.push(t);
            }
        }
        let mut threads = Vec::new();
        {
            let shared = shared.clone();
            let archive = archive.clone();
            let thread = std::thread::Builder::new()
                .name("ingest-scout".into())
                .spawn(move || scout(&archive, &shared))
                .map_err(|e| ArchiveError::io("starting the ingest scout", e))?;
            threads.push(thread);
        }
        for i in 0..archive.config.ingest_workers.max(1) {
            let shared = shared.clone();
            let archive = archive.clone();
            let thread = std::thread::Builder::new()
                .name(format!("ingest-{i}"))
                .spawn(move || work(&archive, &shared))
                .map_err(|e| ArchiveError::io("starting an ingest worker", e))?;
            threads.push(thread);
        }
        Ok(Worker {
            shared,
            threads: Mutex::new(threads),
        })
    }

    /// How many transfers of `tenant` wait or are in their ingest, and their bytes.
    pub fn load(&self, tenant: &TenantId) -> (usize, u64) {
        let q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        let waiting = q.waiting.get(tenant);
        let running = q.running.get(tenant);
        (
            waiting.map_or(0, VecDeque::len) + usize::from(running.is_some()),
            waiting.map_or(0, |w| w.iter().map(|t| t.bytes).sum::<u64>())
                + running.copied().unwrap_or(0),
        )
    }

    /// Hands a received transfer to the workers.
    pub fn submit(&self, transfer: QueuedTransfer) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.stopping {
            // Left queued in the catalog: the next start ingests it.
            return;
        }
        q.push(transfer);
        self.shared.changed.notify_one();
    }

    /// Takes no more transfers, finishes the ingests in progress, and leaves the others
    /// queued for the next start.
    pub fn finish(&self) {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stopping = true;
        self.shared.changed.notify_all();
        self.shared.scout.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// How long a transfer whose processing failed waits before this node tries it again.
pub const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// How often a node looks for work a gone node left: its running operations and its
/// queued transfers (their node's lease lapsed).
pub const SCOUT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Until the stop: cleans what gone nodes left, and hands their queued transfers (and any
/// queued one this node does not know) to the workers, which claim them.
fn scout(archive: &Archive, shared: &Shared) {
    loop {
        {
            let q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            let (q, _) = shared
                .scout
                .wait_timeout_while(q, SCOUT_EVERY, |q| !q.stopping)
                .unwrap_or_else(|p| p.into_inner());
            if q.stopping {
                return;
            }
        }
        if let Err(e) = archive.recover_abandoned() {
            tracing::error!(error = %e, "recovering what a gone node left");
            continue;
        }
        match archive.catalog.queued_transfers() {
            Ok(all) => {
                let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
                for t in all {
                    q.push(t);
                }
                shared.changed.notify_all();
            }
            Err(e) => tracing::error!(error = %e, "reading the transfer queue"),
        }
    }
}

/// One worker: takes the next transfer in turn, ingests it, until the stop.
fn work(archive: &Archive, shared: &Shared) {
    loop {
        let transfer = {
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if q.stopping {
                    return;
                }
                if let Some(t) = q.next() {
                    break t;
                }
                q = shared.changed.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        // Another node alive may have it (it received it): then it is that node's.
        let claimed = archive
            .catalog
            .claim_transfer(&transfer.tenant, &transfer.operation);
        let result = match claimed {
            Ok(true) => archive.process_transfer(&transfer),
            Ok(false) => Ok(()),
            Err(e) => Err(e.into()),
        };
        let failed = result.is_err();
        if let Err(e) = result {
            // It stays queued: tried again after RETRY_AFTER, or at the next start.
            tracing::error!(tenant = %transfer.tenant, operation = %transfer.operation, error = %e, "a queued transfer could not be processed");
        }
        let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.done(&transfer.tenant, &transfer.operation);
        let key = (transfer.tenant.clone(), transfer.operation.clone());
        if failed {
            q.failed.insert(key, std::time::Instant::now());
        } else {
            q.failed.remove(&key);
        }
        shared.changed.notify_one();
    }
}

/// What the as@lae intake must know of a bordereau before taking it.
struct BordereauHeader {
    version: carnac_seda::SedaVersion,
    message_id: String,
    origin: String,
    archival_agency: Option<String>,
}

/// Reads the bordereau (its structure only: no metadata kept) for what identifies it.
fn read_header(
    path: &Path,
    limits: &carnac_seda::manifest::ReadLimits<'_>,
) -> Result<BordereauHeader, ArchiveError> {
    use carnac_seda::manifest::{self, NoMetadata};
    let open = || {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(|e| ArchiveError::io("reading the bordereau", e))
    };
    let invalid = |e: manifest::ManifestError| {
        ArchiveError::Invalid(format!("the bordereau cannot be read: {e}"))
    };
    manifest::check_structure(open()?, limits).map_err(invalid)?;
    let version = manifest::sniff_version(open()?).map_err(invalid)?;
    let m = match version {
        v if v.describes_documents() => {
            carnac_seda::v1::read_with(open()?, &mut NoMetadata, limits)
                .map_err(invalid)?
                .0
        }
        _ => manifest::read_with(open()?, &mut NoMetadata, limits).map_err(invalid)?,
    };
    let h = m.header;
    let id_name = if version.describes_documents() {
        ("TransferIdentifier", "TransferringAgency/Identification")
    } else {
        ("MessageIdentifier", "TransferringAgency/Identifier")
    };
    let mut missing = Vec::new();
    if h.message_identifier.trim().is_empty() {
        missing.push(id_name.0);
    }
    let origin = h.transferring_agency.clone().unwrap_or_default();
    if origin.trim().is_empty() {
        missing.push(id_name.1);
    }
    if !missing.is_empty() {
        return Err(ArchiveError::Invalid(format!(
            "the bordereau has no {}: the transfer could not be found again by its sender",
            missing.join(" and no ")
        )));
    }
    for (name, v) in [(id_name.0, &h.message_identifier), (id_name.1, &origin)] {
        if v.trim().len() > crate::ingest::checks::MAX_IDENTIFIER {
            return Err(ArchiveError::Invalid(format!(
                "the bordereau's {name} has {} bytes; an identifier has at most {}",
                v.trim().len(),
                crate::ingest::checks::MAX_IDENTIFIER
            )));
        }
    }
    Ok(BordereauHeader {
        version,
        message_id: h.message_identifier.trim().to_owned(),
        origin: origin.trim().to_owned(),
        archival_agency: h.archival_agency,
    })
}
