//! Checks that the catalog and the offers agree: every copy the catalog records exists in its
//! offer with its size (and, on request, its digest), and every blob in an offer belongs to
//! an object the tenant holds now (not to every object its ingests once brought: elimination
//! and transfer out take objects away), to an accepted ingest (its manifest), a seal, an
//! attestation, a document of a step, or a delivered package not yet removed. Every file the archive writes to the offers
//! has a digest to be checked against: objects and manifests theirs from the ingest, a seal's
//! segment and seal theirs from the seal's event (or, for seals made before it recorded them,
//! recomputed from the catalog's events and seal), an attestation's files theirs from its
//! event. Used after recovery in the crash tests, by `carnac check` and by the audit.

use crate::{Archive, ArchiveError};
use carnac_blobstore::BlobKey;
use carnac_catalog::{Operation, OperationState};
use carnac_model::journal::EventKind;
use carnac_model::{Digest, MultiHasher, OperationId, TenantId};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// A blob every offer must have.
struct ExpectedBlob {
    /// Known for objects; the manifest's size is not recorded.
    size: Option<u64>,
    digest: Option<Digest>,
}

type Expected = BTreeMap<(TenantId, OperationId), BTreeMap<String, ExpectedBlob>>;

/// A file the archive keeps in every offer beside the objects: a transfer's manifest, a
/// seal's segment and seal, an attestation's files; with the digest its copies must have.
pub(crate) struct KeptFile {
    pub operation: OperationId,
    pub name: String,
    /// What it is, in words ("manifest of op-…"), for reports.
    pub label: String,
    pub digest: Option<Digest>,
}

/// Problems of one kind a check names one by one, per tenant or offer, before counting.
pub const SHOWN_PER_KIND: u64 = 20;

fn sha256(hex: String) -> Digest {
    Digest {
        algorithm: carnac_model::DigestAlgorithm::Sha256,
        hex,
    }
}

impl Archive {
    /// The files `tenant`'s `operations` keep in every offer beside the objects.
    pub(crate) fn kept_files(
        &self,
        tenant: &TenantId,
        operations: &[Operation],
    ) -> Result<Vec<KeptFile>, ArchiveError> {
        let mut out = Vec::new();
        let mut unrecorded_seals = Vec::new();
        // Packages (a delivery's, a transfer out's) are kept until their time is up, their
        // purge or their withdrawal, which records their removal (`package_removed`).
        let mut removed_packages: BTreeSet<&str> = operations
            .iter()
            .filter_map(|op| op.summary.as_ref()?.get("package_removed")?.as_str())
            .collect();
        // A closed tenant's transfers' manifests and deliveries' packages went with it.
        let listed = |key: &'static str| {
            operations
                .iter()
                .filter_map(move |op| op.summary.as_ref()?.get(key)?.as_array())
                .flatten()
                .filter_map(|v| v.as_str())
        };
        removed_packages.extend(listed("packages_removed"));
        let removed_manifests: BTreeSet<&str> = listed("manifests_removed").collect();
        let text = |op: &Operation, key: &str| {
            op.summary
                .as_ref()
                .and_then(|s| s.get(key)?.as_str().map(str::to_owned))
        };
        for op in operations {
            if op.kind == EventKind::Ingest
                && op.status.is_some_and(|s| s.is_accepted())
                && !removed_manifests.contains(op.id.as_str())
            {
                out.push(KeptFile {
                    operation: op.id.clone(),
                    name: "manifest.xml".into(),
                    label: format!("manifest of {}", op.id),
                    digest: text(op, "manifest_sha256").map(sha256),
                });
            }
            // Documents an operation wrote beside its work (an elimination's bordereau,
            // request, replies, notification, certificate), each with its digest.
            if let Some(docs) = op
                .summary
                .as_ref()
                .and_then(|s| s.get("documents"))
                .and_then(|d| d.as_object())
            {
                for (name, hex) in docs {
                    out.push(KeptFile {
                        operation: op.id.clone(),
                        name: name.clone(),
                        label: format!("{name} of {}", op.id),
                        digest: hex.as_str().map(|h| sha256(h.to_owned())),
                    });
                }
            }
            if let Some(package) = op
                .summary
                .as_ref()
                .and_then(|s| s.get("package"))
                .and_then(|d| d.as_object())
                .filter(|_| !removed_packages.contains(op.id.as_str()))
            {
                for (name, hex) in package {
                    out.push(KeptFile {
                        operation: op.id.clone(),
                        name: name.clone(),
                        label: format!("{name} of {}", op.id),
                        digest: hex.as_str().map(|h| sha256(h.to_owned())),
                    });
                }
            }
            if op.status != Some(carnac_model::Status::Ok) {
                continue;
            }
            if op.kind == EventKind::JournalSeal {
                match (text(op, "segment_sha256"), text(op, "seal_sha256")) {
                    (Some(segment), Some(seal)) => {
                        for (name, hex) in crate::journal::SEGMENT_BLOBS.iter().zip([segment, seal])
                        {
                            out.push(KeptFile {
                                operation: op.id.clone(),
                                name: (*name).into(),
                                label: format!("{name} of {}", op.id),
                                digest: Some(sha256(hex)),
                            });
                        }
                    }
                    _ => unrecorded_seals.push(op.id.clone()),
                }
            }
            if op.kind == crate::attestation::KIND {
                let recorded = op
                    .summary
                    .as_ref()
                    .and_then(|s| s.get("blobs_sha256"))
                    .cloned();
                for name in crate::attestation::ATTESTATION_BLOBS {
                    let hex = recorded
                        .as_ref()
                        .and_then(|b| b.get(name)?.as_str().map(str::to_owned))
                        // Attestations made before their files' digests were recorded: the
                        // document's own is (its signature vouches for it).
                        .or_else(|| {
                            (name == "attestation.json")
                                .then(|| text(op, "sha256"))
                                .flatten()
                        });
                    out.push(KeptFile {
                        operation: op.id.clone(),
                        name: name.into(),
                        label: format!("{name} of {}", op.id),
                        digest: hex.map(sha256),
                    });
                }
            }
        }
        if !unrecorded_seals.is_empty() {
            out.extend(self.seal_files_from_catalog(tenant, &unrecorded_seals)?);
        }
        Ok(out)
    }

    /// The digests of the segment and seal of seals made before their event recorded them:
    /// both files are what the catalog's events and seal give, written as the seal wrote them.
    fn seal_files_from_catalog(
        &self,
        tenant: &TenantId,
        operations: &[OperationId],
    ) -> Result<Vec<KeptFile>, ArchiveError> {
        let seals: Vec<_> = self
            .catalog
            .seals(tenant)?
            .into_iter()
            .filter(|s| operations.contains(&s.operation))
            .collect();
        let mut hashers: Vec<sha2::Sha256> = seals
            .iter()
            .map(|_| <sha2::Sha256 as sha2::Digest>::new())
            .collect();
        self.catalog.each_event(tenant, 0, &mut |row| {
            let Ok(e) = row else { return Ok(()) };
            for (seal, h) in seals.iter().zip(hashers.iter_mut()) {
                if (seal.first..=seal.last).contains(&e.sequence) {
                    let line = crate::journal::segment_line(&e)
                        .map_err(carnac_catalog::CatalogError::storage)?;
                    sha2::Digest::update(h, line.as_bytes());
                }
            }
            Ok(())
        })?;
        let mut out = Vec::new();
        for (seal, h) in seals.iter().zip(hashers) {
            let blob = crate::journal::seal_blob(seal)?;
            for (name, hex) in crate::journal::SEGMENT_BLOBS.iter().zip([
                hex::encode(sha2::Digest::finalize(h)),
                crate::journal::sha256_hex(&blob),
            ]) {
                out.push(KeptFile {
                    operation: seal.operation.clone(),
                    name: (*name).into(),
                    label: format!("{name} of {}", seal.operation),
                    digest: Some(sha256(hex)),
                });
            }
        }
        Ok(out)
    }

    /// Every disagreement between the catalog and the offers, in words; empty when all is
    /// consistent. Files missing from an offer and objects short of copies are named
    /// [`SHOWN_PER_KIND`] at a time, then counted.
    pub fn check_consistency(&self, verify_digests: bool) -> Result<Vec<String>, ArchiveError> {
        let mut problems = Vec::new();
        // (tenant, operation) → blob names expected in every offer.
        let mut expected: Expected = BTreeMap::new();
        // Names of the files kept beside the objects: not objects, so not counted as copies.
        let mut kept_names: BTreeSet<String> = BTreeSet::new();
        for tenant in self.catalog.tenants()? {
            let t = tenant.id;
            let operations = self.catalog.operations(&t)?;
            for op in &operations {
                if op.state == OperationState::Running {
                    problems.push(format!("tenant {t}: operation {} is still running", op.id));
                }
            }
            // The files the tenant holds now, not those its ingests once brought: what left
            // the archive (an elimination, a transfer out) must have left the offers too.
            self.catalog.each_held_object(&t, &mut |op, o| {
                if !o.physical {
                    expected.entry((t.clone(), op)).or_default().insert(
                        o.id.to_string(),
                        ExpectedBlob {
                            size: Some(o.size.unwrap_or(0)),
                            digest: o.digest,
                        },
                    );
                }
                Ok(())
            })?;
            for kept in self.kept_files(&t, &operations)? {
                kept_names.insert(kept.name.clone());
                expected
                    .entry((t.clone(), kept.operation))
                    .or_default()
                    .insert(
                        kept.name,
                        ExpectedBlob {
                            size: None,
                            digest: kept.digest,
                        },
                    );
            }
            let copies = self.catalog.copies(&t)?;
            for (op, copy) in &copies {
                if !self.offers.iter().any(|o| o.name() == copy.offer) {
                    problems.push(format!(
                        "tenant {t}: copy of {} recorded in unknown offer {}",
                        copy.object, copy.offer
                    ));
                }
                if !expected
                    .get(&(t.clone(), op.clone()))
                    .is_some_and(|b| b.contains_key(&copy.blob))
                {
                    problems.push(format!(
                        "tenant {t}: copy of {} in operation {op} belongs to no object the tenant holds",
                        copy.object
                    ));
                }
            }
            // Objects short of copies: the first few named, then how many (an offer just
            // added lacks them all).
            let mut short = 0u64;
            let per_object: BTreeMap<String, BTreeSet<_>> =
                copies.iter().fold(BTreeMap::new(), |mut m, (_, c)| {
                    m.entry(c.object.to_string())
                        .or_insert_with(BTreeSet::new)
                        .insert(c.offer.clone());
                    m
                });
            for ((tenant, op), blobs) in expected.iter().filter(|((tt, _), _)| tt == &t) {
                for name in blobs.keys().filter(|n| !kept_names.contains(*n)) {
                    let offers = per_object.get(name).map(BTreeSet::len).unwrap_or(0);
                    if offers != self.offers.len() {
                        short += 1;
                        if short <= SHOWN_PER_KIND {
                            problems.push(format!("tenant {tenant}: object {name} of {op} has {offers} recorded copies, not {}", self.offers.len()));
                        }
                    }
                }
            }
            if short > SHOWN_PER_KIND {
                problems.push(format!(
                    "tenant {t}: {} more objects short of copies ({short} in all)",
                    short - SHOWN_PER_KIND
                ));
            }
        }
        for offer in &self.offers {
            let mut missing = 0u64;
            let present: BTreeSet<(TenantId, OperationId)> = offer.batches()?.into_iter().collect();
            for batch in &present {
                // A batch whose every blob went (a package removed) holds nothing to account for.
                if !expected.contains_key(batch) && !offer.list(&batch.0, &batch.1)?.is_empty() {
                    problems.push(format!(
                        "offer {}: {}/{} belongs to no held object, accepted ingest, seal or attestation",
                        offer.name(),
                        batch.0,
                        batch.1
                    ));
                }
            }
            for ((tenant, op), blobs) in &expected {
                let names: BTreeSet<String> = offer.list(tenant, op)?.into_iter().collect();
                for extra in names.iter().filter(|n| !blobs.contains_key(*n)) {
                    problems.push(format!(
                        "offer {}: {tenant}/{op}/{extra} is not in the catalog",
                        offer.name()
                    ));
                }
                for (name, ExpectedBlob { size, digest }) in blobs {
                    if !names.contains(name) {
                        missing += 1;
                        if missing <= SHOWN_PER_KIND {
                            problems.push(format!(
                                "offer {}: {tenant}/{op}/{name} is missing",
                                offer.name()
                            ));
                        }
                        continue;
                    }
                    let key = BlobKey {
                        tenant: tenant.clone(),
                        batch: op.clone(),
                        name: name.clone(),
                    };
                    if let Some(size) = size {
                        let actual = offer.size(&key)?;
                        if actual != *size {
                            problems.push(format!(
                                "offer {}: {key} has {actual} bytes, the catalog says {size}",
                                offer.name()
                            ));
                        }
                    }
                    if verify_digests && let Some(d) = digest {
                        let mut h = MultiHasher::new(&[d.algorithm]);
                        let mut r = offer.open(&key)?;
                        let mut buf = vec![0u8; 1 << 20];
                        loop {
                            let n = r
                                .read(&mut buf)
                                .map_err(|e| ArchiveError::io(format!("reading {key}"), e))?;
                            if n == 0 {
                                break;
                            }
                            h.update(&buf[..n]);
                        }
                        let got = h.finish().into_iter().find(|x| x.algorithm == d.algorithm);
                        if got.as_ref().map(|g| &g.hex) != Some(&d.hex) {
                            problems.push(format!(
                                "offer {}: {key} does not have its recorded {} digest",
                                offer.name(),
                                d.algorithm
                            ));
                        }
                    }
                }
            }
            if missing > SHOWN_PER_KIND {
                problems.push(format!(
                    "offer {}: {} more files missing ({missing} in all): an offer added to the \
                     archive is filled by `carnac offers sync --offer {}`",
                    offer.name(),
                    missing - SHOWN_PER_KIND,
                    offer.name()
                ));
            }
        }
        Ok(problems)
    }
}
