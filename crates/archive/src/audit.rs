//! The audit of a tenant's copies: every copy of every stored file (and of every other file
//! kept in the offers: manifests, journal segments and seals, attestations) is read again and
//! hashed, compared with the digest recorded when it was written; a damaged or missing copy is rewritten from a good
//! one (whose bytes are hashed again on the way, so that a repair can never spread wrong
//! bytes); a file with no good copy left is reported as unrecoverable. What the audit found
//! and did is one event of the tenant's journal.

use crate::ports::Progress;
use crate::{Archive, ArchiveError};
use carnac_blobstore::{BlobKey, BlobStore, Lock};
use carnac_model::journal::EventKind;
use carnac_model::journal::NewEvent;
use carnac_model::{Digest, MultiHasher, ObjectId, OperationId, Status, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

/// What was wrong with one copy, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyDamage {
    pub object: String,
    pub offer: String,
    /// `MISSING`, `SIZE`, `DIGEST`, `UNREADABLE`.
    pub problem: String,
    pub detail: String,
    /// Rewritten from a good copy (of this offer).
    pub repaired_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    pub operation: OperationId,
    pub files: u64,
    /// Manifests of accepted transfers, checked against the SHA-256 recorded at ingest.
    pub manifests: u64,
    /// Journal segments and seals kept in the offers, checked against the digests their
    /// seal recorded.
    #[serde(default)]
    pub journal_files: u64,
    /// Files of deposit attestations, checked against the digests their event recorded.
    #[serde(default)]
    pub attestation_files: u64,
    pub copies: u64,
    pub bytes: u64,
    pub damaged: Vec<CopyDamage>,
    /// Files none of whose copies is good: nothing was rewritten.
    pub unrecoverable: Vec<String>,
}

impl AuditReport {
    pub fn intact(&self) -> bool {
        self.damaged.is_empty() && self.unrecoverable.is_empty()
    }
}

enum Check {
    Good,
    Bad {
        problem: &'static str,
        detail: String,
    },
}

/// Reads one copy through, hashing it; `Good` only with the expected size and digest.
fn check_copy(
    offer: &dyn BlobStore,
    key: &BlobKey,
    size: Option<u64>,
    digest: &Digest,
    progress: &dyn Progress,
) -> (Check, u64) {
    let mut reader = match offer.open(key) {
        Ok(r) => r,
        Err(e) if e.is_not_found() => {
            return (
                Check::Bad {
                    problem: "MISSING",
                    detail: "the copy is missing".into(),
                },
                0,
            );
        }
        Err(e) => {
            return (
                Check::Bad {
                    problem: "UNREADABLE",
                    detail: e.to_string(),
                },
                0,
            );
        }
    };
    let mut hasher = MultiHasher::new(&[digest.algorithm]);
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                read += n as u64;
                progress.advance(n as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return (
                    Check::Bad {
                        problem: "UNREADABLE",
                        detail: format!("after {read} bytes: {e}"),
                    },
                    read,
                );
            }
        }
    }
    let got = hasher.finish();
    if let Some(size) = size
        && read != size
    {
        return (
            Check::Bad {
                problem: "SIZE",
                detail: format!("{read} bytes instead of {size}"),
            },
            read,
        );
    }
    if !got.contains(digest) {
        return (
            Check::Bad {
                problem: "DIGEST",
                detail: format!(
                    "{} {} instead of {}",
                    digest.algorithm,
                    got.first().map(|d| d.hex.as_str()).unwrap_or("?"),
                    digest.hex
                ),
            },
            read,
        );
    }
    (Check::Good, read)
}

impl Archive {
    /// The lock of a repaired copy on a WORM offer: the damaged copy's (a new version beside
    /// it, which stays locked too), else the good copy's, else what the units' rules say.
    fn repair_lock(&self, source: &dyn BlobStore, target: &dyn BlobStore, key: &BlobKey) -> Lock {
        let held = |store: &dyn BlobStore| store.locked_until(key).ok().flatten();
        if let Some(until) = held(target).or_else(|| held(source)) {
            return Lock::Until(until);
        }
        match self.worm_locks_of_operation(&key.tenant, &key.batch) {
            Ok(mut locks) => locks.remove(&key.name).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(%key, error = %e, "the rules of a repaired copy: locked for the minimum");
                Lock::Minimum
            }
        }
    }
}

/// Rewrites `key` in `target` from `source`, hashing the bytes as they pass: committed only if
/// they are the catalog's.
fn repair(
    source: &dyn BlobStore,
    target: &dyn BlobStore,
    key: &BlobKey,
    digest: &Digest,
    lock: Lock,
) -> Result<(), String> {
    let mut reader = source.open(key).map_err(|e| e.to_string())?;
    let mut batch = target
        .begin(&key.tenant, &key.batch)
        .map_err(|e| e.to_string())?;
    batch.lock(&key.name, lock);
    {
        let mut writer = batch.create(&key.name).map_err(|e| e.to_string())?;
        let digests = crate::files::copy_hashed(&mut reader, &mut writer, &[digest.algorithm])
            .map_err(|e| e.to_string())?;
        if !digests.contains(digest) {
            // The source changed under us: leave the batch uncommitted (its temporary file is
            // removed by the next write or discard), never commit wrong bytes.
            return Err("the good copy changed while it was read".into());
        }
        writer.finish().map_err(|e| e.to_string())?;
    }
    batch.commit().map_err(|e| e.to_string())
}

impl Archive {
    /// Audits every copy of every stored file of `tenant` (see the module documentation).
    pub fn audit(
        &self,
        tenant: &TenantId,
        agent: &str,
        progress: &dyn Progress,
    ) -> Result<AuditReport, ArchiveError> {
        let report = self.audit_counted(tenant, agent, progress)?;
        self.stats.audit(report.damaged.len() as u64);
        Ok(report)
    }

    fn audit_counted(
        &self,
        tenant: &TenantId,
        agent: &str,
        progress: &dyn Progress,
    ) -> Result<AuditReport, ArchiveError> {
        self.require_tenant(tenant)?;
        let operation = self.new_operation()?;
        let started = self.now();
        // Files and the offers that should hold them.
        let mut files: BTreeMap<ObjectId, (OperationId, Vec<String>)> = BTreeMap::new();
        for (op, copy) in self.catalog.copies(tenant)? {
            files
                .entry(copy.object.clone())
                .or_insert_with(|| (op.clone(), Vec::new()))
                .1
                .push(copy.offer);
        }
        let mut report = AuditReport {
            operation: operation.clone(),
            files: 0,
            manifests: 0,
            journal_files: 0,
            attestation_files: 0,
            copies: 0,
            bytes: 0,
            damaged: Vec::new(),
            unrecoverable: Vec::new(),
        };
        let mut total = 0u64;
        let mut rows = Vec::with_capacity(files.len());
        for (object, (op, offers)) in files {
            let (_, row) = self
                .catalog
                .object(tenant, &object)?
                .ok_or_else(|| ArchiveError::NotFound(format!("object {object} of a copy")))?;
            let digest = row.digest.ok_or_else(|| {
                ArchiveError::Invalid(format!("object {object} has copies but no digest"))
            })?;
            let size = row.size.unwrap_or(0);
            total += size * offers.len() as u64;
            rows.push((
                object.to_string(),
                op,
                object.to_string(),
                offers,
                Some(size),
                digest,
            ));
        }
        // The other files kept in every offer: manifests of accepted transfers, journal
        // segments and seals, attestations; each with the digest recorded when it was written.
        let all_offers: Vec<String> = self.offers.iter().map(|o| o.name().to_owned()).collect();
        let operations = self.catalog.operations(tenant)?;
        for kept in self.kept_files(tenant, &operations)? {
            let Some(digest) = kept.digest else {
                // An attestation's files from before their digests were recorded (its
                // document is checked; its signature vouches for it).
                continue;
            };
            rows.push((
                kept.label,
                kept.operation,
                kept.name,
                all_offers.clone(),
                None,
                digest,
            ));
        }
        progress.start("auditing", total);
        for (object, op, name, offers, size, digest) in rows {
            match (size, name.as_str()) {
                (Some(_), _) => report.files += 1,
                (None, "manifest.xml") => report.manifests += 1,
                (None, n) if crate::journal::SEGMENT_BLOBS.contains(&n) => {
                    report.journal_files += 1
                }
                (None, _) => report.attestation_files += 1,
            }
            let key = BlobKey {
                tenant: tenant.clone(),
                batch: op,
                name,
            };
            let mut good: Option<Arc<dyn BlobStore>> = None;
            let mut bad = Vec::new();
            for name in &offers {
                let Some(offer) = self.offers.iter().find(|o| o.name() == name) else {
                    bad.push(CopyDamage {
                        object: object.to_string(),
                        offer: name.clone(),
                        problem: "UNREADABLE".into(),
                        detail: "the offer is not configured".into(),
                        repaired_from: None,
                    });
                    continue;
                };
                report.copies += 1;
                let (check, read) = check_copy(&**offer, &key, size, &digest, progress);
                report.bytes += read;
                match check {
                    Check::Good => {
                        good.get_or_insert_with(|| offer.clone());
                    }
                    Check::Bad { problem, detail } => {
                        tracing::warn!(%tenant, object = %object, offer = name, problem, %detail, "damaged copy");
                        bad.push(CopyDamage {
                            object: object.to_string(),
                            offer: name.clone(),
                            problem: problem.into(),
                            detail,
                            repaired_from: None,
                        });
                    }
                }
            }
            if bad.is_empty() {
                continue;
            }
            match &good {
                None => report.unrecoverable.push(object.to_string()),
                Some(source) => {
                    for damage in &mut bad {
                        let Some(target) = self.offers.iter().find(|o| o.name() == damage.offer)
                        else {
                            continue;
                        };
                        let lock = if target.is_worm() {
                            self.repair_lock(&**source, &**target, &key)
                        } else {
                            Lock::Minimum
                        };
                        match repair(&**source, &**target, &key, &digest, lock) {
                            Ok(()) => damage.repaired_from = Some(source.name().to_owned()),
                            Err(e) => damage.detail.push_str(&format!("; not repaired: {e}")),
                        }
                    }
                }
            }
            report.damaged.extend(bad);
        }
        progress.finish();
        let unrepaired = report.damaged.iter().any(|d| d.repaired_from.is_none());
        let outcome = if !report.unrecoverable.is_empty() || unrepaired {
            Status::Ko
        } else if report.damaged.is_empty() {
            Status::Ok
        } else {
            Status::Warning
        };
        let detail = serde_json::json!({
            "started_at": started,
            "files": report.files,
            "manifests": report.manifests,
            "journal_files": report.journal_files,
            "attestation_files": report.attestation_files,
            "copies": report.copies,
            "bytes": report.bytes,
            "damaged": report.damaged,
            "unrecoverable": report.unrecoverable,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation,
            kind: EventKind::Audit,
            outcome,
            time: self.now().into(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.record_operation(tenant, &detail, &event)?;
        Ok(report)
    }
}
