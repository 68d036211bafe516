//! Checks that the catalog and the offers agree: every copy the catalog records exists in its
//! offer with its size (and, on request, its digest), and every blob in an offer belongs to
//! an accepted ingest. Used after recovery in the crash tests; the periodic audit will build
//! on it.

use crate::{Archive, ArchiveError};
use carnac_blobstore::BlobKey;
use carnac_catalog::OperationState;
use carnac_model::{Digest, MultiHasher, OperationId, TenantId};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// A blob an accepted ingest must have in every offer.
struct ExpectedBlob {
    /// Known for objects; the manifest's size is not recorded.
    size: Option<u64>,
    digest: Option<Digest>,
}

type Expected = BTreeMap<(TenantId, OperationId), BTreeMap<String, ExpectedBlob>>;

impl Archive {
    /// Every disagreement found, in words; empty when all is consistent.
    pub fn check_consistency(&self, verify_digests: bool) -> Result<Vec<String>, ArchiveError> {
        let mut problems = Vec::new();
        // (tenant, operation) → blob names expected in every offer.
        let mut expected: Expected = BTreeMap::new();
        for tenant in self.catalog.tenants()? {
            let t = tenant.id;
            for op in self.catalog.operations(&t)? {
                if op.state == OperationState::Running {
                    problems.push(format!("tenant {t}: operation {} is still running", op.id));
                }
                let kept: &[&str] = match op.kind.as_str() {
                    "JOURNAL_SEAL" => &crate::journal::SEGMENT_BLOBS,
                    crate::attestation::KIND => &crate::attestation::ATTESTATION_BLOBS,
                    _ => &[],
                };
                if !kept.is_empty() && op.status == Some(carnac_model::Status::Ok) {
                    let blobs = expected.entry((t.clone(), op.id.clone())).or_default();
                    for name in kept {
                        blobs.insert(
                            (*name).into(),
                            ExpectedBlob {
                                size: None,
                                digest: None,
                            },
                        );
                    }
                }
                if op.kind == "INGEST" && op.status.is_some_and(|s| s.is_accepted()) {
                    let blobs = expected.entry((t.clone(), op.id.clone())).or_default();
                    let manifest_sha256 = op
                        .summary
                        .as_ref()
                        .and_then(|s| s.get("manifest_sha256")?.as_str().map(str::to_owned));
                    blobs.insert(
                        "manifest.xml".into(),
                        ExpectedBlob {
                            size: None,
                            digest: manifest_sha256.map(|hex| Digest {
                                algorithm: carnac_model::DigestAlgorithm::Sha256,
                                hex,
                            }),
                        },
                    );
                    for o in self.catalog.objects_of_operation(&t, &op.id)? {
                        if !o.physical {
                            blobs.insert(
                                o.id.to_string(),
                                ExpectedBlob {
                                    size: Some(o.size.unwrap_or(0)),
                                    digest: o.digest.clone(),
                                },
                            );
                        }
                    }
                }
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
                        "tenant {t}: copy of {} in operation {op} belongs to no accepted ingest",
                        copy.object
                    ));
                }
            }
            let per_object: BTreeMap<_, BTreeSet<_>> =
                copies.iter().fold(BTreeMap::new(), |mut m, (_, c)| {
                    m.entry(c.object.clone())
                        .or_insert_with(BTreeSet::new)
                        .insert(c.offer.clone());
                    m
                });
            for ((tenant, op), blobs) in expected.iter().filter(|((tt, _), _)| tt == &t) {
                for name in blobs.keys().filter(|n| {
                    *n != "manifest.xml"
                        && !crate::journal::SEGMENT_BLOBS.contains(&n.as_str())
                        && !crate::attestation::ATTESTATION_BLOBS.contains(&n.as_str())
                }) {
                    let offers = per_object
                        .iter()
                        .find(|(o, _)| o.as_str() == name)
                        .map(|(_, s)| s.len())
                        .unwrap_or(0);
                    if offers != self.offers.len() {
                        problems.push(format!("tenant {tenant}: object {name} of {op} has {offers} recorded copies, not {}", self.offers.len()));
                    }
                }
            }
        }
        for offer in &self.offers {
            let present: BTreeSet<(TenantId, OperationId)> = offer.batches()?.into_iter().collect();
            for batch in &present {
                if !expected.contains_key(batch) {
                    problems.push(format!(
                        "offer {}: {}/{} belongs to no accepted ingest or seal",
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
                        problems.push(format!(
                            "offer {}: {tenant}/{op}/{name} is missing",
                            offer.name()
                        ));
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
        }
        Ok(problems)
    }
}
