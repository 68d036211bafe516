//! Reversibility: everything a tenant needs to leave the archive and prove its past without
//! it, written to a folder (issue 18 §5; the approved third-party archiver's duty of
//! restitution, Code du patrimoine R212-22).
//!
//! ```text
//! README.md                 how to check each part (OpenSSL, Bouncy Castle, carnac)
//! MANIFEST.sha256           every other file's SHA-256, one a line ("hex  path")
//! MANIFEST.sha256.tsr       an RFC 3161 token over MANIFEST.sha256, trust.pem its anchors
//! referentials/KIND.json    the current version of each referential
//! transfers/OP/manifest.xml the original manifest of each accepted transfer
//! transfers/OP/atr.xml      its ArchiveTransferReply
//! transfers/OP/package-N.zip  the units of it still held, as SEDA packages of at most
//!                           `units_per_package` units (a unit with all below it is never
//!                           split), each with its evidence folder
//! attestations/OP/          each transfer's deposit attestation
//! journal/                  the whole journal with its seals (`carnac journal verify --export`)
//! disposals/KIND/ID/        each elimination's, transfer out's and restitution's documents
//!                           (requests, replies, notifications, signed certificates)
//! tombstones.jsonl          what remains of every unit that left
//! ```
//!
//! Every file copied from the offers is checked against its recorded digest on the way.
//! The export is journaled (`TENANT_EXPORT`) with the manifest's digest, which is what
//! `tenant close` checks an export against.

use crate::{Archive, ArchiveError};
use carnac_blobstore::BlobKey;
use carnac_catalog::ReferentialKind;
use carnac_model::journal::{EventKind, NewEvent};
use carnac_model::{OperationId, Status, TenantId, UnitId};
use sha2::Digest as _;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// How far an export has gone, for a progress bar: transfers done of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportProgress {
    pub transfers: u64,
    pub total: u64,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantExport {
    pub dir: PathBuf,
    pub operation: OperationId,
    pub transfers: u64,
    pub packages: u64,
    pub units: u64,
    pub files: u64,
    pub tombstones: u64,
    pub journal_events: u64,
    /// SHA-256 of `MANIFEST.sha256`, as timestamped and journaled.
    pub manifest_sha256: String,
    /// Transfers whose deposit attestation is not made yet (maintenance makes it).
    pub attestations_pending: Vec<OperationId>,
}

/// The default bound on the units of one package.
pub const DEFAULT_UNITS_PER_PACKAGE: usize = 10_000;

const README: &str = include_str!("export_readme.md");

impl Archive {
    /// Exports `tenant` into `dir` (created; an existing non-empty folder is refused), in
    /// packages of at most `units_per_package` units.
    pub fn export_tenant(
        &self,
        tenant: &TenantId,
        dir: &Path,
        units_per_package: usize,
        agent: &str,
        progress: &mut dyn FnMut(ExportProgress),
    ) -> Result<TenantExport, ArchiveError> {
        self.require_tenant(tenant)?;
        // Never into a folder that holds something: nothing of it is touched.
        if dir.exists()
            && std::fs::read_dir(dir)
                .map_err(|e| ArchiveError::io(format!("reading {}", dir.display()), e))?
                .next()
                .is_some()
        {
            return Err(ArchiveError::InvalidRequest(vec![format!(
                "{} is not empty: an export is written to a new folder",
                dir.display()
            )]));
        }
        let operation = self.new_operation()?;
        self.export_tenant_as(tenant, dir, units_per_package, agent, operation, progress)
    }

    /// [`Archive::export_tenant`] under an operation chosen by the caller (a background
    /// export names its operation before it starts).
    pub(crate) fn export_tenant_as(
        &self,
        tenant: &TenantId,
        dir: &Path,
        units_per_package: usize,
        agent: &str,
        operation: OperationId,
        progress: &mut dyn FnMut(ExportProgress),
    ) -> Result<TenantExport, ArchiveError> {
        let existed = dir.exists();
        let done =
            self.export_tenant_into(tenant, dir, units_per_package, agent, operation, progress);
        // A failed export leaves no folder that could be taken for one (an existing empty
        // folder given is left, emptied).
        if done.is_err() {
            if existed {
                if let Ok(entries) = std::fs::read_dir(dir) {
                    for e in entries.flatten() {
                        let p = e.path();
                        let _ = if p.is_dir() {
                            std::fs::remove_dir_all(&p)
                        } else {
                            std::fs::remove_file(&p)
                        };
                    }
                }
            } else {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        done
    }

    fn export_tenant_into(
        &self,
        tenant: &TenantId,
        dir: &Path,
        units_per_package: usize,
        agent: &str,
        operation: OperationId,
        progress: &mut dyn FnMut(ExportProgress),
    ) -> Result<TenantExport, ArchiveError> {
        let io = |what: String| move |e: std::io::Error| ArchiveError::io(what, e);
        let per_package = units_per_package.clamp(1, crate::package::MAX_PACKAGE_UNITS);
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        // Sealed first, so that the journal exported is covered up to now (a TSA that does
        // not answer leaves the latest events unsealed: said by `journal verify`).
        if let Err(e) = self.seal(tenant, agent) {
            tracing::warn!(%tenant, error = %e, "sealing before the export");
        }
        let mut export = TenantExport {
            dir: dir.to_owned(),
            operation,
            transfers: 0,
            packages: 0,
            units: 0,
            files: 0,
            tombstones: 0,
            journal_events: 0,
            manifest_sha256: String::new(),
            attestations_pending: Vec::new(),
        };
        // Referentials, as in force.
        std::fs::create_dir_all(dir.join("referentials"))
            .map_err(io("creating referentials/".into()))?;
        for kind in ReferentialKind::ALL {
            if let Some(r) = self.catalog.referential(tenant, kind)? {
                let text = serde_json::to_vec_pretty(&serde_json::json!({
                    "kind": kind.as_str(),
                    "version": r.version,
                    "imported_at": r.imported_at,
                    "operation": r.operation,
                    "content": r.content,
                }))
                .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
                std::fs::write(
                    dir.join("referentials")
                        .join(format!("{}.json", kind.as_str())),
                    text,
                )
                .map_err(io(format!("writing the {} referential", kind.as_str())))?;
            }
        }
        // Transfers: the original manifest and reply, the units still held as packages.
        let operations = self.catalog.operations(tenant)?;
        let ingests: Vec<&carnac_catalog::Operation> = operations
            .iter()
            .filter(|o| o.kind == EventKind::Ingest && o.status.is_some_and(|s| s.is_accepted()))
            .collect();
        let version = self.tenant_seda_version(tenant)?;
        let total = ingests.len() as u64;
        progress(ExportProgress {
            transfers: 0,
            total,
        });
        for op in &ingests {
            let folder = dir.join("transfers").join(op.id.as_str());
            std::fs::create_dir_all(&folder)
                .map_err(io(format!("creating {}", folder.display())))?;
            let manifest_sha256 = op
                .summary
                .as_ref()
                .and_then(|s| s.get("manifest_sha256")?.as_str().map(str::to_owned));
            self.copy_kept_blob(
                &BlobKey {
                    tenant: tenant.clone(),
                    batch: op.id.clone(),
                    name: "manifest.xml".into(),
                },
                manifest_sha256.as_deref(),
                &folder.join("manifest.xml"),
            )?;
            // The packages carry the agreement the units came under.
            let agreement = archival_agreement_of(&folder.join("manifest.xml"));
            let mut atr = std::io::BufWriter::new(
                std::fs::File::create(folder.join("atr.xml"))
                    .map_err(io(format!("writing the reply of {}", op.id)))?,
            );
            self.catalog.reply(tenant, &op.id, &mut atr)?;
            atr.flush()
                .map_err(io(format!("writing the reply of {}", op.id)))?;
            // The units of this transfer still held, by package.
            let held: Vec<UnitId> = self
                .catalog
                .units_of_operation(tenant, &op.id)?
                .into_iter()
                .map(|u| u.id)
                .collect();
            if !held.is_empty() {
                let set: BTreeSet<&UnitId> = held.iter().collect();
                let graph = self.catalog.rules_graph(tenant, &held)?;
                let roots: Vec<UnitId> = graph
                    .iter()
                    .filter(|g| g.parents.iter().all(|p| !set.contains(p)))
                    .map(|g| g.id.clone())
                    .collect();
                let mut batch: Vec<UnitId> = Vec::new();
                let mut batch_units = 0usize;
                let mut n = 0usize;
                let flush = |batch: &mut Vec<UnitId>,
                             n: &mut usize,
                             export: &mut TenantExport|
                 -> Result<(), ArchiveError> {
                    if batch.is_empty() {
                        return Ok(());
                    }
                    *n += 1;
                    let units = self.package_units(tenant, batch)?;
                    let path = folder.join(format!("package-{:03}.zip", *n));
                    let file = std::fs::File::create(&path)
                        .map_err(io(format!("writing {}", path.display())))?;
                    let (summary, file) = self.write_package_of(
                        tenant,
                        &units,
                        version,
                        carnac_seda::package::PackageHeader {
                            message_identifier: format!("{}-export-{:03}", op.id, *n),
                            date: self.now().to_string(),
                            comments: vec![format!(
                                "Export du tenant {tenant} : unités du transfert {} encore détenues",
                                op.id
                            )],
                            archival_agreement: agreement.clone(),
                            archival_agency: tenant.to_string(),
                            transferring_agency: self.config.archival_agency.clone(),
                        },
                        file,
                    )?;
                    file.sync_all()
                        .map_err(io(format!("writing {}", path.display())))?;
                    export.packages += 1;
                    export.units += summary.units;
                    export.files += summary.files;
                    batch.clear();
                    Ok(())
                };
                for root in roots {
                    let size = self
                        .package_units(tenant, std::slice::from_ref(&root))?
                        .all
                        .len();
                    if batch_units + size > per_package {
                        flush(&mut batch, &mut n, &mut export)?;
                        batch_units = 0;
                    }
                    batch.push(root);
                    batch_units += size;
                }
                flush(&mut batch, &mut n, &mut export)?;
            }
            match self.export_attestation(
                tenant,
                &op.id,
                &dir.join("attestations").join(op.id.as_str()),
            ) {
                Ok(()) => {}
                Err(ArchiveError::NotFound(_)) => export.attestations_pending.push(op.id.clone()),
                Err(e) => return Err(e),
            }
            export.transfers += 1;
            progress(ExportProgress {
                transfers: export.transfers,
                total,
            });
        }
        // What left the archive, and the documents that say how.
        let mut tombstones = std::io::BufWriter::new(
            std::fs::File::create(dir.join("tombstones.jsonl"))
                .map_err(io("writing tombstones.jsonl".into()))?,
        );
        for row in self.catalog.eliminations(tenant)? {
            let folder = dir
                .join("disposals")
                .join(row.kind.as_str())
                .join(row.id.as_str());
            std::fs::create_dir_all(&folder)
                .map_err(io(format!("creating {}", folder.display())))?;
            let report = self.elimination_report(tenant, &row.id)?;
            std::fs::write(
                folder.join("report.json"),
                serde_json::to_vec_pretty(&report)
                    .map_err(|e| ArchiveError::Invalid(e.to_string()))?,
            )
            .map_err(io(format!("writing {}/report.json", folder.display())))?;
            let mut ops = vec![row.id.clone()];
            ops.extend(
                row.steps
                    .iter()
                    .filter_map(|s| s.get("operation")?.as_str()?.parse().ok()),
            );
            for o in ops {
                let Some(op) = self.catalog.operation(tenant, &o)? else {
                    continue;
                };
                let Some(docs) = op
                    .summary
                    .as_ref()
                    .and_then(|s| s.get("documents"))
                    .and_then(|d| d.as_object())
                else {
                    continue;
                };
                for (name, hex) in docs {
                    self.copy_kept_blob(
                        &BlobKey {
                            tenant: tenant.clone(),
                            batch: o.clone(),
                            name: name.clone(),
                        },
                        hex.as_str(),
                        &folder.join(format!("{o}-{name}")),
                    )?;
                }
            }
            let mut failed = None;
            self.catalog
                .each_tombstone(tenant, &row.id, &mut |t| {
                    let line = serde_json::json!({
                        "unit": t.unit,
                        "by": t.elimination,
                        "kind": row.kind.as_str(),
                        "at": t.destroyed_at,
                        "record": t.record,
                    });
                    if let Err(e) = writeln!(tombstones, "{line}") {
                        failed = Some(e);
                        return Err(carnac_catalog::CatalogError::Interrupted(
                            "writing tombstones".into(),
                        ));
                    }
                    export.tombstones += 1;
                    Ok(())
                })
                .map_err(|e| match failed.take() {
                    Some(io) => ArchiveError::io("writing tombstones.jsonl", io),
                    None => e.into(),
                })?;
        }
        tombstones
            .flush()
            .map_err(io("writing tombstones.jsonl".into()))?;
        // The journal, with its seals.
        let journal = self.export_journal(tenant, &dir.join("journal"), agent)?;
        export.journal_events = journal.events;
        std::fs::write(dir.join("README.md"), README).map_err(io("writing README.md".into()))?;
        std::fs::write(
            dir.join("trust.pem"),
            crate::files::anchors_pem(&self.trust())?,
        )
        .map_err(io("writing trust.pem".into()))?;
        // The manifest of it all, timestamped.
        let manifest = write_manifest(dir)?;
        let digest = sha2::Sha256::digest(&manifest).to_vec();
        let token = self.tsa(tenant).stamp(&carnac_timestamp::Imprint {
            algorithm: carnac_timestamp::HashAlgorithm::Sha256,
            digest: digest.clone(),
        })?;
        std::fs::write(dir.join("MANIFEST.sha256.tsr"), &token.token)
            .map_err(io("writing MANIFEST.sha256.tsr".into()))?;
        export.manifest_sha256 = hex::encode(&digest);
        let detail = serde_json::json!({
            "transfers": export.transfers,
            "packages": export.packages,
            "units": export.units,
            "files": export.files,
            "tombstones": export.tombstones,
            "journal_events": export.journal_events,
            "manifest_sha256": export.manifest_sha256,
            "manifest_timestamp": token.gen_time_text,
            "attestations_pending": export.attestations_pending,
            "units_per_package": per_package,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: export.operation.clone(),
            kind: EventKind::TenantExport,
            outcome: Status::Ok,
            time: self.now().to_string(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.record_operation(tenant, &detail, &event)?;
        tracing::info!(%tenant, dir = %dir.display(), units = export.units, packages = export.packages, "tenant exported");
        Ok(export)
    }

    /// Copies a blob kept in the offers to `to`, from the first copy whose SHA-256 is
    /// `sha256` (checked as it is copied; any copy when none is recorded).
    fn copy_kept_blob(
        &self,
        key: &BlobKey,
        sha256: Option<&str>,
        to: &Path,
    ) -> Result<(), ArchiveError> {
        let mut last = None;
        for offer in &self.offers {
            let mut reader = match offer.open(key) {
                Ok(r) => r,
                Err(e) => {
                    last = Some(ArchiveError::from(e));
                    continue;
                }
            };
            let mut file = tempfile::NamedTempFile::new_in(to.parent().unwrap_or(Path::new(".")))
                .map_err(|e| ArchiveError::io("a scratch file", e))?;
            let mut hasher = sha2::Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = reader
                    .read(&mut buf)
                    .map_err(|e| ArchiveError::io(format!("reading {}", key.name), e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .map_err(|e| ArchiveError::io(format!("writing {}", to.display()), e))?;
            }
            let got = hex::encode(hasher.finalize());
            if sha256.is_some_and(|want| want != got) {
                tracing::error!(tenant = %key.tenant, blob = %key.name, offer = offer.name(), "a copy does not match its digest: run the audit");
                last = Some(ArchiveError::State {
                    code: "no_intact_copy",
                    message: format!(
                        "no offer holds an intact copy of {}/{}",
                        key.batch, key.name
                    ),
                });
                continue;
            }
            file.persist(to)
                .map_err(|e| ArchiveError::io(format!("writing {}", to.display()), e.error))?;
            return Ok(());
        }
        Err(last.unwrap_or_else(|| ArchiveError::NotFound(format!("{}/{}", key.batch, key.name))))
    }
}

/// The `ArchivalAgreement` a manifest names (a child of its root, before its
/// `DataObjectPackage`): read from its head only, without resolving anything.
fn archival_agreement_of(path: &Path) -> Option<String> {
    use quick_xml::events::Event;
    let file = std::fs::File::open(path).ok()?;
    let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(file));
    let mut buf = Vec::new();
    let (mut depth, mut inside, mut text) = (0usize, false, String::new());
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::DocType(_) | Event::Eof => return None,
            Event::Start(e) => {
                depth += 1;
                let name = e.local_name();
                if depth == 2 && name.as_ref() == b"DataObjectPackage" {
                    return None;
                }
                inside = depth == 2 && name.as_ref() == b"ArchivalAgreement";
            }
            Event::Text(t) if inside && text.len() < 1024 => {
                text.push_str(&t.decode().ok()?);
            }
            Event::End(_) => {
                if inside {
                    let a = text.trim();
                    return (!a.is_empty()).then(|| a.to_owned());
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        buf.clear();
    }
}

/// Every file of `dir` but the manifest and its token, sorted, with its SHA-256: written
/// to `MANIFEST.sha256`, whose bytes are returned.
fn write_manifest(dir: &Path) -> Result<Vec<u8>, ArchiveError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for rel in files {
        if rel == "MANIFEST.sha256" || rel == "MANIFEST.sha256.tsr" {
            continue;
        }
        let mut f = std::fs::File::open(dir.join(&rel))
            .map_err(|e| ArchiveError::io(format!("reading {rel}"), e))?;
        let mut hasher = sha2::Sha256::new();
        std::io::copy(&mut f, &mut hasher)
            .map_err(|e| ArchiveError::io(format!("reading {rel}"), e))?;
        out.extend_from_slice(format!("{}  {rel}\n", hex::encode(hasher.finalize())).as_bytes());
    }
    std::fs::write(dir.join("MANIFEST.sha256"), &out)
        .map_err(|e| ArchiveError::io("writing MANIFEST.sha256", e))?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), ArchiveError> {
    for e in std::fs::read_dir(dir)
        .map_err(|e| ArchiveError::io(format!("reading {}", dir.display()), e))?
    {
        let e = e.map_err(|e| ArchiveError::io(format!("reading {}", dir.display()), e))?;
        let path = e.path();
        let kind = e
            .file_type()
            .map_err(|e| ArchiveError::io(format!("reading {}", path.display()), e))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path.strip_prefix(root).map_err(|_| {
                ArchiveError::Invalid(format!("{} outside the export", path.display()))
            })?;
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Checks an export with its files alone: every file listed has its SHA-256, none is
/// missing and none added, and the manifest's timestamp verifies against `trust`. Every
/// problem, in words (none: it is whole).
pub fn verify_tenant_export(
    dir: &Path,
    trust: &carnac_timestamp::TrustStore,
) -> Result<(String, Vec<String>), ArchiveError> {
    let manifest = std::fs::read(dir.join("MANIFEST.sha256"))
        .map_err(|e| ArchiveError::io("reading MANIFEST.sha256", e))?;
    let digest = sha2::Sha256::digest(&manifest).to_vec();
    let mut problems = Vec::new();
    match std::fs::read(dir.join("MANIFEST.sha256.tsr")) {
        Ok(token) => {
            if let Err(e) = carnac_timestamp::verify::verify_token(
                &token,
                &carnac_timestamp::verify::Expected {
                    imprint: &carnac_timestamp::Imprint {
                        algorithm: carnac_timestamp::HashAlgorithm::Sha256,
                        digest: digest.clone(),
                    },
                    nonce: None,
                    policy: None,
                },
                trust,
            ) {
                problems.push(format!("MANIFEST.sha256.tsr: {e}"));
            }
        }
        Err(e) => problems.push(format!("MANIFEST.sha256.tsr: {e}")),
    }
    let text = String::from_utf8_lossy(&manifest);
    let mut listed = BTreeSet::new();
    for line in text.lines() {
        let Some((hex, rel)) = line.split_once("  ") else {
            problems.push(format!("MANIFEST.sha256: {line:?} is not \"hex  path\""));
            continue;
        };
        listed.insert(rel.to_owned());
        if rel.split('/').any(|p| p == ".." || p.is_empty()) {
            problems.push(format!("{rel}: not a path inside the export"));
            continue;
        }
        match std::fs::File::open(dir.join(rel)) {
            Ok(mut f) => {
                let mut hasher = sha2::Sha256::new();
                if let Err(e) = std::io::copy(&mut f, &mut hasher) {
                    problems.push(format!("{rel}: {e}"));
                } else if hex::encode(hasher.finalize()) != hex {
                    problems.push(format!("{rel}: its SHA-256 is not the manifest's"));
                }
            }
            Err(e) => problems.push(format!("{rel}: {e}")),
        }
    }
    let mut present = Vec::new();
    walk(dir, dir, &mut present)?;
    for rel in present {
        if rel != "MANIFEST.sha256" && rel != "MANIFEST.sha256.tsr" && !listed.contains(&rel) {
            problems.push(format!("{rel}: not in the manifest"));
        }
    }
    Ok((hex::encode(digest), problems))
}
