//! An offer added to a running archive (issue 20): every file it lacks (each held object
//! without a copy recorded there, and each manifest, journal segment, seal or attestation
//! file not present there) is copied into it from another offer, its bytes hashed on the way
//! and committed only if they are the catalog's, one batch per operation. The copies of
//! objects are then recorded in the catalog, with an `OFFER_SYNC` operation and event, every
//! [`RECORD_EVERY`] copies and at each tenant's end: a sync cut short (a crash, a stop) is
//! run again and goes on from what was recorded; what it had written and not recorded is
//! written again. An offer that is not configured is refused.
//!
//! A source copy is trusted as it is read: if its bytes are not the catalog's, the batch is
//! not committed, that copy is set aside and the batch is written again from another one;
//! a file with no good copy left is reported, never written.

use crate::ports::Progress;
use crate::{Archive, ArchiveError};
use carnac_blobstore::{BlobKey, BlobStore, Lock};
use carnac_catalog::CopyRow;
use carnac_model::journal::{EventKind, NewEvent};
use carnac_model::{Digest, ObjectId, OperationId, Status, TenantId};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;

/// Copies recorded in one catalog transaction (and one journal event).
pub const RECORD_EVERY: usize = 1000;

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub offer: String,
    /// Files written into the offer (objects and kept files).
    pub copied: u64,
    pub bytes: u64,
    /// Files the offer already had.
    pub present: u64,
    /// Source copies whose bytes were not the catalog's (set aside, another one used).
    pub bad_sources: Vec<String>,
    /// Files with no good copy in any other offer: not written.
    pub failed: Vec<String>,
    /// The `OFFER_SYNC` operations that recorded the copies.
    pub operations: Vec<OperationId>,
}

/// A file to have in the offer.
struct Wanted {
    name: String,
    /// Offers holding a copy to read from.
    sources: Vec<String>,
    digest: Digest,
    /// An object's copy to record once written (none for a kept file).
    object: Option<(ObjectId, u64)>,
}

/// Counts the bytes read through it for the progress bar.
struct Counted<'a> {
    inner: Box<dyn Read + Send>,
    progress: &'a dyn Progress,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

impl Archive {
    /// Copies into the offer named `offer` every file it lacks, from the other offers.
    pub fn sync_offer(
        &self,
        offer: &str,
        agent: &str,
        progress: &dyn Progress,
    ) -> Result<SyncReport, ArchiveError> {
        let target = self
            .offers
            .iter()
            .find(|o| o.name() == offer)
            .cloned()
            .ok_or_else(|| {
                ArchiveError::Invalid(format!(
                    "no offer named {offer:?}; the configured ones are {}",
                    self.offers
                        .iter()
                        .map(|o| o.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let mut report = SyncReport {
            offer: offer.to_owned(),
            ..Default::default()
        };
        let others: Vec<String> = self
            .offers
            .iter()
            .map(|o| o.name().to_owned())
            .filter(|n| n != offer)
            .collect();
        // The bytes to copy, from the copies' recorded sizes (for the progress); then each
        // tenant planned and written in turn, so that what is held in memory is one tenant's.
        let tenants: Vec<TenantId> = self.catalog.tenants()?.into_iter().map(|t| t.id).collect();
        let mut total = 0u64;
        for t in &tenants {
            let mut sizes: BTreeMap<ObjectId, (u64, bool)> = BTreeMap::new();
            for (_, copy) in self.catalog.copies(t)? {
                let entry = sizes.entry(copy.object).or_insert((copy.size, false));
                entry.1 |= copy.offer == offer;
            }
            total += sizes
                .values()
                .filter(|(_, there)| !there)
                .map(|(s, _)| s)
                .sum::<u64>();
        }
        progress.start("copying", total);
        for tenant in tenants {
            let batches = self.plan_sync(&tenant, offer, &*target, &others, &mut report)?;
            let mut unrecorded: Vec<CopyRow> = Vec::new();
            let mut batches_done = Vec::new();
            for (op, files) in batches {
                let written =
                    self.write_batch(&*target, &tenant, &op, &files, &mut report, progress)?;
                for w in written {
                    if let Some((object, size)) = &w.object {
                        unrecorded.push(CopyRow {
                            object: object.clone(),
                            offer: offer.to_owned(),
                            blob: w.name.clone(),
                            size: *size,
                        });
                    }
                }
                batches_done.push(op);
                if unrecorded.len() >= RECORD_EVERY {
                    self.record_sync(
                        &tenant,
                        offer,
                        &unrecorded,
                        &batches_done,
                        agent,
                        &mut report,
                    )?;
                    unrecorded.clear();
                    batches_done.clear();
                }
            }
            if !batches_done.is_empty() {
                self.record_sync(
                    &tenant,
                    offer,
                    &unrecorded,
                    &batches_done,
                    agent,
                    &mut report,
                )?;
            }
        }
        progress.finish();
        Ok(report)
    }

    /// What `t` lacks in the offer, by batch.
    fn plan_sync(
        &self,
        t: &TenantId,
        offer: &str,
        target: &dyn BlobStore,
        others: &[String],
        report: &mut SyncReport,
    ) -> Result<BTreeMap<OperationId, Vec<Wanted>>, ArchiveError> {
        let mut batches: BTreeMap<OperationId, Vec<Wanted>> = BTreeMap::new();
        let mut by_object: BTreeMap<ObjectId, (OperationId, String, BTreeSet<String>)> =
            BTreeMap::new();
        for (op, copy) in self.catalog.copies(t)? {
            by_object
                .entry(copy.object.clone())
                .or_insert_with(|| (op, copy.blob.clone(), BTreeSet::new()))
                .2
                .insert(copy.offer);
        }
        for (object, (op, blob, offers)) in by_object {
            if offers.contains(offer) {
                report.present += 1;
                continue;
            }
            let (_, row) = self
                .catalog
                .object(t, &object)?
                .ok_or_else(|| ArchiveError::NotFound(format!("object {object}")))?;
            let digest = row.digest.ok_or_else(|| {
                ArchiveError::Invalid(format!("object {object} has copies but no digest"))
            })?;
            let size = row.size.unwrap_or(0);
            batches.entry(op).or_default().push(Wanted {
                name: blob,
                sources: offers.into_iter().collect(),
                digest,
                object: Some((object, size)),
            });
        }
        let operations = self.catalog.operations(t)?;
        let mut listed: BTreeMap<OperationId, HashSet<String>> = BTreeMap::new();
        for kept in self.kept_files(t, &operations)? {
            let Some(digest) = kept.digest else { continue };
            if !listed.contains_key(&kept.operation) {
                let names = target.list(t, &kept.operation)?.into_iter().collect();
                listed.insert(kept.operation.clone(), names);
            }
            if listed[&kept.operation].contains(&kept.name) {
                report.present += 1;
                continue;
            }
            batches.entry(kept.operation).or_default().push(Wanted {
                name: kept.name,
                sources: others.to_vec(),
                digest,
                object: None,
            });
        }
        Ok(batches)
    }

    /// Writes `files` into the offer as one batch, each from a source whose bytes are the
    /// catalog's: what was committed.
    fn write_batch<'f>(
        &self,
        target: &dyn BlobStore,
        tenant: &TenantId,
        op: &OperationId,
        files: &'f [Wanted],
        report: &mut SyncReport,
        progress: &dyn Progress,
    ) -> Result<Vec<&'f Wanted>, ArchiveError> {
        // Copies found bad: (file, offer).
        let mut set_aside: HashSet<(String, String)> = HashSet::new();
        // A WORM offer locks each copy as the ingest would have.
        let locks = if target.is_worm() {
            self.worm_locks_of_operation(tenant, op)?
        } else {
            Default::default()
        };
        'attempt: loop {
            let mut batch = target.begin(tenant, op)?;
            if target.is_worm() {
                for file in files {
                    let lock = if [
                        crate::delivery::PACKAGE_ZIP,
                        crate::elimination::TRANSFER_ZIP,
                    ]
                    .contains(&file.name.as_str())
                    {
                        Lock::Temporary
                    } else {
                        locks.get(&file.name).cloned().unwrap_or_default()
                    };
                    batch.lock(&file.name, lock);
                }
            }
            let mut written = Vec::new();
            for file in files {
                let Some(source) = file
                    .sources
                    .iter()
                    .filter(|s| !set_aside.contains(&(file.name.clone(), (*s).clone())))
                    .find_map(|s| self.offers.iter().find(|o| o.name() == s))
                else {
                    let what = format!("{tenant}/{op}/{}", file.name);
                    if !report.failed.contains(&what) {
                        tracing::error!(%tenant, %op, name = %file.name, "no good copy to sync from");
                        report.failed.push(what);
                    }
                    continue;
                };
                let key = BlobKey {
                    tenant: tenant.clone(),
                    batch: op.clone(),
                    name: file.name.clone(),
                };
                let bad = |detail: String| (file.name.clone(), source.name().to_owned(), detail);
                let outcome: Result<u64, (String, String, String)> = (|| {
                    let reader = source.open(&key).map_err(|e| bad(e.to_string()))?;
                    let mut reader = Counted {
                        inner: reader,
                        progress,
                    };
                    let mut writer = batch
                        .create(&file.name)
                        .map_err(|e| bad(format!("writing: {e}")))?;
                    let mut counter = CountingWriter {
                        inner: &mut *writer,
                        bytes: 0,
                    };
                    let digests = crate::files::copy_hashed(
                        &mut reader,
                        &mut counter,
                        &[file.digest.algorithm],
                    )
                    .map_err(|e| bad(e.to_string()))?;
                    let bytes = counter.bytes;
                    if !digests.contains(&file.digest) {
                        return Err(bad(format!(
                            "{} bytes whose {} is not the catalog's",
                            bytes, file.digest.algorithm
                        )));
                    }
                    writer.finish().map_err(|e| bad(format!("writing: {e}")))?;
                    Ok(bytes)
                })();
                match outcome {
                    Ok(bytes) => {
                        report.bytes += bytes;
                        written.push(file);
                    }
                    Err((name, from, detail)) => {
                        tracing::warn!(%tenant, %op, %name, offer = %from, %detail, "a source copy set aside");
                        report
                            .bad_sources
                            .push(format!("{tenant}/{op}/{name} in {from}: {detail}"));
                        set_aside.insert((name, from));
                        // This batch holds a blob not finished: written again without it.
                        drop(batch);
                        continue 'attempt;
                    }
                }
            }
            if written.is_empty() {
                drop(batch);
                target.discard(tenant, op).ok();
                return Ok(written);
            }
            batch.commit()?;
            report.copied += written.len() as u64;
            return Ok(written);
        }
    }

    fn record_sync(
        &self,
        tenant: &TenantId,
        offer: &str,
        copies: &[CopyRow],
        batches: &[OperationId],
        agent: &str,
        report: &mut SyncReport,
    ) -> Result<(), ArchiveError> {
        let operation = self.new_operation()?;
        let detail = serde_json::json!({
            "offer": offer,
            "copies": copies.len(),
            "batches": batches.len(),
            "first_batch": batches.first(),
            "last_batch": batches.last(),
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::OfferSync,
            outcome: Status::Ok,
            time: self.now().into(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog
            .record_copies(tenant, copies, &detail, &event)?;
        report.operations.push(operation);
        Ok(())
    }
}

/// Counts what goes through to the offer's writer.
struct CountingWriter<'a> {
    inner: &'a mut dyn std::io::Write,
    bytes: u64,
}

impl std::io::Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
