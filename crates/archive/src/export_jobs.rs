//! A tenant's export made in the background, for the API (issue 18 §5): the operator starts
//! it, follows its progress, and downloads the folder once it is done.
//!
//! The export is the one `carnac tenant export` writes ([`Archive::export_tenant`]), into
//! `tmp/exports/TENANT/OPERATION` under its operation, named before it starts. An export
//! reads every file of the tenant: one runs per tenant at a time, and at most
//! [`MAX_RUNNING_EXPORTS`] in the process. A tenant keeps its latest export only (the one
//! `tenant close` asks for): a new one removes the folders of the earlier ones. At start,
//! recovery removes the folders of exports a stop cut short (their `TENANT_EXPORT` was never
//! recorded).

use crate::{Archive, ArchiveError};
use carnac_model::journal::EventKind;
use carnac_model::{OperationId, Status, TenantId, Timestamp};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Exports running at once in the process.
pub const MAX_RUNNING_EXPORTS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Running,
    Done,
    Failed,
}

/// An export as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportJobView {
    pub operation: OperationId,
    pub state: ExportState,
    pub started_at: Option<Timestamp>,
    pub agent: Option<String>,
    /// Transfers written, out of how many (0 of 0 until the count is known).
    pub transfers_done: u64,
    pub transfers_total: u64,
    /// What it wrote, once done (the journaled summary: units, files, the manifest's digest…).
    pub summary: Option<serde_json::Value>,
    pub error: Option<String>,
    /// Whether its folder is here to download (only a tenant's latest export is kept).
    pub available: bool,
}

#[derive(Debug)]
pub(crate) struct ExportJob {
    started_at: Timestamp,
    agent: String,
    dir: PathBuf,
    status: Mutex<JobStatus>,
}

#[derive(Debug, Clone)]
struct JobStatus {
    state: ExportState,
    transfers_done: u64,
    transfers_total: u64,
    summary: Option<serde_json::Value>,
    error: Option<String>,
}

/// The exports this process started.
#[derive(Debug, Default)]
pub(crate) struct ExportJobs {
    jobs: Mutex<BTreeMap<(TenantId, OperationId), Arc<ExportJob>>>,
}

impl Archive {
    /// Where background exports are written.
    pub fn exports_dir(&self) -> PathBuf {
        self.tmp.join("exports")
    }

    fn export_dir(&self, tenant: &TenantId, operation: &OperationId) -> PathBuf {
        self.exports_dir()
            .join(tenant.as_str())
            .join(operation.as_str())
    }

    /// Starts an export of `tenant` in the background (packages of at most
    /// `units_per_package` units): its operation and state at once.
    pub fn start_export(
        self: &Arc<Self>,
        tenant: &TenantId,
        units_per_package: Option<usize>,
        agent: &str,
    ) -> Result<ExportJobView, ArchiveError> {
        self.require_tenant(tenant)?;
        let per_package = units_per_package.unwrap_or(crate::export::DEFAULT_UNITS_PER_PACKAGE);
        if per_package == 0 || per_package > crate::package::MAX_PACKAGE_UNITS {
            return Err(ArchiveError::InvalidRequest(vec![format!(
                "units_per_package {per_package}: from 1 to {}",
                crate::package::MAX_PACKAGE_UNITS
            )]));
        }
        let mut jobs = self.export_jobs.jobs.lock().expect("export jobs");
        let running =
            |j: &ExportJob| j.status.lock().expect("status").state == ExportState::Running;
        if let Some(((_, op), _)) = jobs.iter().find(|((t, _), j)| t == tenant && running(j)) {
            return Err(ArchiveError::State {
                code: "busy",
                message: format!(
                    "export {op} of tenant {tenant} is running: one at a time; follow it, then ask again"
                ),
            });
        }
        if jobs.values().filter(|j| running(j)).count() >= MAX_RUNNING_EXPORTS {
            return Err(ArchiveError::State {
                code: "busy",
                message: format!(
                    "{MAX_RUNNING_EXPORTS} exports are running: ask again when one is done"
                ),
            });
        }
        let operation = self.new_operation()?;
        let dir = self.export_dir(tenant, &operation);
        // Only the latest export of a tenant is kept.
        jobs.retain(|(t, _), _| t != tenant);
        let tenant_dir = self.exports_dir().join(tenant.as_str());
        if tenant_dir.exists() {
            std::fs::remove_dir_all(&tenant_dir)
                .map_err(|e| ArchiveError::io(format!("removing {}", tenant_dir.display()), e))?;
        }
        std::fs::create_dir_all(&tenant_dir)
            .map_err(|e| ArchiveError::io(format!("creating {}", tenant_dir.display()), e))?;
        let job = Arc::new(ExportJob {
            started_at: self.now(),
            agent: agent.to_owned(),
            dir: dir.clone(),
            status: Mutex::new(JobStatus {
                state: ExportState::Running,
                transfers_done: 0,
                transfers_total: 0,
                summary: None,
                error: None,
            }),
        });
        jobs.insert((tenant.clone(), operation.clone()), job.clone());
        drop(jobs);
        let archive = Arc::clone(self);
        let (t, op, who) = (tenant.clone(), operation.clone(), agent.to_owned());
        std::thread::Builder::new()
            .name(format!("export-{tenant}"))
            .spawn(move || {
                let done = archive.export_tenant_as(&t, &dir, per_package, &who, op.clone(), &mut |p| {
                    let mut s = job.status.lock().expect("status");
                    s.transfers_done = p.transfers;
                    s.transfers_total = p.total;
                });
                let mut s = job.status.lock().expect("status");
                match done {
                    Ok(e) => {
                        tracing::info!(tenant = %t, operation = %op, "background export done");
                        s.state = ExportState::Done;
                        s.summary = archive
                            .catalog
                            .operation(&t, &op)
                            .ok()
                            .flatten()
                            .and_then(|o| o.summary);
                        s.transfers_done = e.transfers;
                        s.transfers_total = e.transfers;
                    }
                    Err(e) => {
                        tracing::error!(tenant = %t, operation = %op, error = %e, "background export failed");
                        s.state = ExportState::Failed;
                        s.error = Some(e.to_string());
                    }
                }
            })
            .map_err(|e| ArchiveError::io("starting the export", e))?;
        Ok(self
            .export_job(tenant, &operation)?
            .expect("just registered"))
    }

    /// An export of the tenant: one this process runs or ran, or one recorded
    /// (`TENANT_EXPORT`), the CLI's included.
    pub fn export_job(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<ExportJobView>, ArchiveError> {
        let job = self
            .export_jobs
            .jobs
            .lock()
            .expect("export jobs")
            .get(&(tenant.clone(), operation.clone()))
            .cloned();
        if let Some(j) = job {
            let s = j.status.lock().expect("status").clone();
            return Ok(Some(ExportJobView {
                operation: operation.clone(),
                state: s.state,
                started_at: Some(j.started_at.clone()),
                agent: Some(j.agent.clone()),
                transfers_done: s.transfers_done,
                transfers_total: s.transfers_total,
                summary: s.summary,
                error: s.error,
                available: s.state == ExportState::Done && j.dir.is_dir(),
            }));
        }
        let Some(o) = self.catalog.operation(tenant, operation)? else {
            return Ok(None);
        };
        if o.kind != EventKind::TenantExport {
            return Ok(None);
        }
        let transfers = o
            .summary
            .as_ref()
            .and_then(|s| s.get("transfers")?.as_u64())
            .unwrap_or(0);
        Ok(Some(ExportJobView {
            operation: operation.clone(),
            state: if o.status == Some(Status::Ok) {
                ExportState::Done
            } else {
                ExportState::Failed
            },
            started_at: Some(o.started_at),
            agent: o.agent,
            transfers_done: transfers,
            transfers_total: transfers,
            summary: o.summary,
            error: None,
            available: self.export_dir(tenant, operation).is_dir(),
        }))
    }

    /// The tenant's exports, recorded or running, oldest first.
    pub fn export_jobs(&self, tenant: &TenantId) -> Result<Vec<ExportJobView>, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut ids: Vec<OperationId> = self
            .catalog
            .operations(tenant)?
            .into_iter()
            .filter(|o| o.kind == EventKind::TenantExport)
            .map(|o| o.id)
            .collect();
        for (t, op) in self.export_jobs.jobs.lock().expect("export jobs").keys() {
            if t == tenant && !ids.contains(op) {
                ids.push(op.clone());
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for op in ids {
            out.extend(self.export_job(tenant, &op)?);
        }
        Ok(out)
    }

    /// The folder of a finished export still kept here.
    pub fn export_folder(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
    ) -> Result<Option<PathBuf>, ArchiveError> {
        Ok(self
            .export_job(tenant, operation)?
            .filter(|j| j.state == ExportState::Done && j.available)
            .map(|_| self.export_dir(tenant, operation)))
    }

    /// Removes the folders of background exports a stop cut short. Run at start.
    pub(crate) fn remove_unfinished_exports(&self) -> Result<(), ArchiveError> {
        let Ok(tenants) = std::fs::read_dir(self.exports_dir()) else {
            return Ok(());
        };
        for t in tenants.flatten() {
            let name = t.file_name().to_string_lossy().into_owned();
            let Ok(tenant) = TenantId::new(&name) else {
                continue;
            };
            let Ok(folders) = std::fs::read_dir(t.path()) else {
                continue;
            };
            for f in folders.flatten() {
                let op = f.file_name().to_string_lossy().into_owned();
                let recorded = OperationId::new(&op).ok().and_then(|op| {
                    self.catalog
                        .operation(&tenant, &op)
                        .ok()
                        .flatten()
                        .filter(|o| o.kind == EventKind::TenantExport)
                });
                if recorded.is_none() {
                    tracing::warn!(%tenant, export = %op, "removing an export a stop cut short");
                    let _ = std::fs::remove_dir_all(f.path());
                }
            }
        }
        Ok(())
    }
}
