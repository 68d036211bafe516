//! Evidence records (RFC 4998) of stored files: made for every stored file in batches (one
//! hash tree and one timestamp per batch and digest algorithm), exported alone or in a bundle
//! that verifies without the archive, and renewed.
//!
//! The catalog keeps trees, not records: a tree's leaves, its token, which files start a chain
//! at which leaf, and which tree renews which. A file's record is rebuilt on demand from its
//! path through those trees, so that one renewal timestamp serves every file at once.

use crate::{Archive, ArchiveError};
use carnac_blobstore::BlobKey;
use carnac_catalog::{EvidenceCommit, EvidenceKind, EvidenceTreeRow};
use carnac_evidence::{ArchiveTimeStamp, EvidenceRecord, HashAlgorithm, HashTree};
use carnac_model::journal::{EventKind, NewEvent};
use carnac_model::{Digest, DigestAlgorithm, ObjectId, OperationId, Status, TenantId};
use carnac_timestamp::Imprint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Files per deposit tree, at most.
const TREE_LIMIT: usize = 1_000_000;

/// One tree made and timestamped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceBatch {
    pub operation: OperationId,
    pub tree: String,
    pub kind: String,
    pub algorithm: String,
    pub leaves: usize,
    pub stamped_at: String,
    pub tsa: String,
}

pub(crate) fn hash_algorithm(d: DigestAlgorithm) -> Option<HashAlgorithm> {
    match d {
        DigestAlgorithm::Sha256 => Some(HashAlgorithm::Sha256),
        DigestAlgorithm::Sha384 => Some(HashAlgorithm::Sha384),
        DigestAlgorithm::Sha512 => Some(HashAlgorithm::Sha512),
        DigestAlgorithm::Md5 | DigestAlgorithm::Sha1 => None,
    }
}

fn digest_algorithm(h: HashAlgorithm) -> DigestAlgorithm {
    match h {
        HashAlgorithm::Sha1 => DigestAlgorithm::Sha1,
        HashAlgorithm::Sha256 => DigestAlgorithm::Sha256,
        HashAlgorithm::Sha384 => DigestAlgorithm::Sha384,
        HashAlgorithm::Sha512 => DigestAlgorithm::Sha512,
    }
}

fn parse_algorithm(seda: &str) -> Result<HashAlgorithm, ArchiveError> {
    DigestAlgorithm::from_seda_name(seda)
        .and_then(hash_algorithm)
        .ok_or_else(|| ArchiveError::Invalid(format!("evidence algorithm {seda:?}")))
}

/// The leaves of a stored tree.
/// Hash trees built, by their identifier (see [`Archive::evidence_record_with`]).
#[derive(Default)]
pub(crate) struct TreeCache(std::collections::HashMap<String, HashTree>);

impl TreeCache {
    /// Trees kept at once (a tree of 10,000 leaves holds about 640 KB).
    const MAX: usize = 64;
}

fn tree_of(row: &EvidenceTreeRow) -> Result<HashTree, ArchiveError> {
    let algorithm = parse_algorithm(&row.algorithm)?;
    let leaves = row
        .leaves
        .chunks(algorithm.output_len())
        .map(<[u8]>::to_vec)
        .collect();
    Ok(HashTree::new(algorithm, leaves)?)
}

/// What a bundle holds, beside the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub dir: PathBuf,
    pub file: String,
    pub record: String,
    pub trust: String,
    pub certificates: String,
    /// The CRLs (PEM) the TSAs gave for the tokens' certificates at the export.
    pub revocation: String,
    /// The record checked at the export with that revocation data: what is wrong, and what
    /// could not be had (empty: every certificate covered and not revoked).
    pub revocation_problems: Vec<String>,
}

impl Archive {
    /// Makes the evidence of every stored file of `tenant` that has none yet: one tree and
    /// one timestamp per digest algorithm. Nothing to do gives an empty list.
    pub fn create_evidence(
        &self,
        tenant: &TenantId,
        agent: &str,
    ) -> Result<Vec<EvidenceBatch>, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut out = Vec::new();
        loop {
            let pending = self.catalog.pending_evidence(tenant, TREE_LIMIT)?;
            if pending.is_empty() {
                return Ok(out);
            }
            let full = pending.len() == TREE_LIMIT;
            let mut by_algorithm: BTreeMap<&'static str, Vec<(ObjectId, Vec<u8>)>> =
                BTreeMap::new();
            for (object, digest) in pending {
                let Some(a) = hash_algorithm(digest.algorithm) else {
                    return Err(ArchiveError::Invalid(format!(
                        "object {object} has a {} digest, too weak for evidence",
                        digest.algorithm
                    )));
                };
                let bytes = hex::decode(&digest.hex)
                    .map_err(|e| ArchiveError::Invalid(format!("digest of {object}: {e}")))?;
                by_algorithm
                    .entry(a.name())
                    .or_default()
                    .push((object, bytes));
            }
            for (name, files) in by_algorithm {
                let algorithm = parse_algorithm(name)?;
                let objects: Vec<(ObjectId, u64, u64)> = files
                    .iter()
                    .enumerate()
                    .map(|(i, (o, _))| (o.clone(), 0, i as u64))
                    .collect();
                let leaves = files.into_iter().map(|(_, h)| h).collect();
                out.push(self.stamp_tree(
                    tenant,
                    agent,
                    EvidenceKind::Deposit,
                    algorithm,
                    leaves,
                    &objects,
                    &[],
                    &[],
                    None,
                )?);
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// Timestamps a tree and stores it with its links, in one catalog transaction with its
    /// journal event.
    #[allow(clippy::too_many_arguments)]
    fn stamp_tree(
        &self,
        tenant: &TenantId,
        agent: &str,
        kind: EvidenceKind,
        algorithm: HashAlgorithm,
        leaves: Vec<Vec<u8>>,
        objects: &[(ObjectId, u64, u64)],
        renews: &[(String, u64)],
        supersedes: &[String],
        must_outlive: Option<time::OffsetDateTime>,
    ) -> Result<EvidenceBatch, ArchiveError> {
        let count = leaves.len();
        let tree = HashTree::new(algorithm, leaves)?;
        let token = self.tsa(tenant).stamp(&Imprint {
            algorithm,
            digest: tree.root().to_vec(),
        })?;
        // A renewal whose certificate ends no later than the renewed ones' gains nothing.
        if let Some(latest) = must_outlive
            && (token.signer_not_after.as_secs() as i64) <= latest.unix_timestamp()
        {
            return Err(ArchiveError::Invalid(format!(
                "the TSA's certificate ends on {}, no later than the timestamps to renew: the renewal would gain nothing (give the TSA a new certificate first)",
                carnac_timestamp::verify::rfc3339(token.signer_not_after)
            )));
        }
        let operation = self.new_operation()?;
        let id = format!("tree-{operation}");
        let mut concatenated = Vec::with_capacity(count * algorithm.output_len());
        for i in 0..count {
            concatenated.extend_from_slice(tree.leaf(i).unwrap_or_default());
        }
        let row = EvidenceTreeRow {
            id: id.clone(),
            kind,
            algorithm: digest_algorithm(algorithm).seda_name().to_owned(),
            leaves: concatenated,
            token: token.token.clone(),
            stamped_at: carnac_model::Timestamp::parse(&token.gen_time_text)
                .map_err(|e| ArchiveError::Invalid(e.to_string()))?,
            certificate_until: carnac_model::Timestamp::parse(&carnac_timestamp::verify::rfc3339(
                token.signer_not_after,
            ))
            .map_err(|e| ArchiveError::Invalid(e.to_string()))?,
            tsa: token.tsa.clone(),
            builtin: token.is_builtin(),
            operation: operation.clone(),
        };
        let detail = serde_json::json!({
            "tree": id,
            "kind": kind.as_str(),
            "algorithm": row.algorithm,
            "leaves": count,
            "files": objects.len(),
            "renews": renews.len(),
            "root": hex::encode(tree.root()),
            "stamped_at": row.stamped_at,
            "tsa": row.tsa,
            "qualified": !row.builtin,
            "renew_before": row.certificate_until,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: match kind {
                EvidenceKind::Deposit => EventKind::EvidenceDeposit,
                EvidenceKind::TimestampRenewal => EventKind::EvidenceTimestampRenewal,
                EvidenceKind::HashRenewal => EventKind::EvidenceHashRenewal,
            },
            outcome: Status::Ok,
            time: self.now().into(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.commit_evidence(
            tenant,
            EvidenceCommit {
                tree: &row,
                objects,
                renews,
                supersedes,
                summary: &detail,
                event: &event,
            },
        )?;
        tracing::info!(%tenant, tree = %id, kind = kind.as_str(), leaves = count, "evidence tree timestamped");
        Ok(EvidenceBatch {
            operation,
            tree: id,
            kind: kind.as_str().into(),
            algorithm: row.algorithm,
            leaves: count,
            stamped_at: row.stamped_at.to_string(),
            tsa: row.tsa,
        })
    }

    /// The evidence record of a stored file, rebuilt from its trees.
    pub fn evidence_record(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
    ) -> Result<EvidenceRecord, ArchiveError> {
        self.evidence_record_with(tenant, object, &mut TreeCache::default())
    }

    /// [`Archive::evidence_record`], the trees it builds kept in `cache` for the next
    /// record: the files of one transfer share their trees, and building a tree of n leaves
    /// for each of its n files would cost n² hashes (a package of 10,000 files: 45 s).
    pub(crate) fn evidence_record_with(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
        cache: &mut TreeCache,
    ) -> Result<EvidenceRecord, ArchiveError> {
        self.require_tenant(tenant)?;
        if self.catalog.object(tenant, object)?.is_none() {
            return Err(ArchiveError::NotFound(format!(
                "object {object} of tenant {tenant}"
            )));
        }
        let path = self.catalog.evidence_path(tenant, object)?;
        if path.is_empty() {
            return Err(ArchiveError::NotFound(format!(
                "evidence of object {object} (not made yet: it is made after each ingest and at each maintenance)"
            )));
        }
        let mut chains = Vec::new();
        for chain in path {
            let mut out = Vec::new();
            for (row, position) in chain {
                if !cache.0.contains_key(&row.id) {
                    // A handful of trees at once is all one package needs.
                    if cache.0.len() >= TreeCache::MAX {
                        cache.0.clear();
                    }
                    cache.0.insert(row.id.clone(), tree_of(&row)?);
                }
                let tree = &cache.0[&row.id];
                let reduced = tree.reduced(position as usize).ok_or_else(|| {
                    ArchiveError::Invalid(format!("leaf {position} is not in tree {}", row.id))
                })?;
                out.push(ArchiveTimeStamp::new(
                    tree.algorithm(),
                    reduced,
                    &row.token,
                )?);
            }
            chains.push(out);
        }
        Ok(EvidenceRecord::new(chains))
    }

    /// Copies a stored file to `out`, from the first offer whose copy has the catalog's digest
    /// (and also hashes it with `more`); returns every digest computed.
    pub(crate) fn read_verified(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
        more: &[DigestAlgorithm],
        out: &mut dyn FnMut() -> std::io::Result<Box<dyn Write>>,
    ) -> Result<Vec<Digest>, ArchiveError> {
        let (operation, row) = self
            .catalog
            .object(tenant, object)?
            .ok_or_else(|| ArchiveError::NotFound(format!("object {object}")))?;
        let expected = row
            .digest
            .ok_or_else(|| ArchiveError::Invalid(format!("object {object} has no digest")))?;
        let mut algorithms = vec![expected.algorithm];
        algorithms.extend(more.iter().copied().filter(|a| *a != expected.algorithm));
        let key = BlobKey {
            tenant: tenant.clone(),
            batch: operation,
            name: object.to_string(),
        };
        let mut failures = Vec::new();
        for offer in &self.offers {
            let mut attempt = || -> Result<Vec<Digest>, String> {
                let mut reader = offer.open(&key).map_err(|e| e.to_string())?;
                let mut writer = out().map_err(|e| e.to_string())?;
                let digests = crate::files::copy_hashed(&mut reader, &mut writer, &algorithms)
                    .map_err(|e| e.to_string())?;
                writer.flush().map_err(|e| e.to_string())?;
                if !digests.contains(&expected) {
                    return Err("its digest differs from the catalog's".into());
                }
                Ok(digests)
            };
            match attempt() {
                Ok(d) => return Ok(d),
                Err(e) => failures.push(format!("{}: {e}", offer.name())),
            }
        }
        Err(ArchiveError::Invalid(format!(
            "no good copy of object {object}: {}",
            failures.join("; ")
        )))
    }

    /// Writes a file's evidence record (DER) to `out`; with `bundle`, also a folder holding
    /// the file itself (from a copy checked against its digest), the record, the trust
    /// anchors and the certificates of every token, and a README saying how to verify them
    /// without the archive. The export is journaled.
    pub fn export_evidence(
        &self,
        tenant: &TenantId,
        object: &ObjectId,
        out: &Path,
        bundle: Option<&Path>,
        agent: &str,
    ) -> Result<Option<Bundle>, ArchiveError> {
        let record = self.evidence_record(tenant, object)?;
        let der = record.to_der()?;
        write_file(out, &der)?;
        let mut made = None;
        if let Some(dir) = bundle {
            std::fs::create_dir_all(dir)
                .map_err(|e| ArchiveError::io(format!("creating {}", dir.display()), e))?;
            let (_, row) = self
                .catalog
                .object(tenant, object)?
                .ok_or_else(|| ArchiveError::NotFound(format!("object {object}")))?;
            let name = safe_name(row.filename.as_deref().unwrap_or(object.as_str()), object);
            let target = dir.join(&name);
            let tmp = dir.join(format!(".{name}.part"));
            let algorithms: Vec<DigestAlgorithm> =
                carnac_evidence::verify::required_algorithms(&record)
                    .into_iter()
                    .map(digest_algorithm)
                    .collect();
            let digests = self.read_verified(tenant, object, &algorithms, &mut || {
                Ok(Box::new(std::io::BufWriter::new(std::fs::File::create(
                    &tmp,
                )?)))
            })?;
            std::fs::rename(&tmp, &target)
                .map_err(|e| ArchiveError::io(format!("writing {}", target.display()), e))?;
            write_file(&dir.join("record.ers"), &der)?;
            let trust = self.trust();
            let material = self.evidence_material(tenant, std::slice::from_ref(&record))?;
            write_file(&dir.join("trust.pem"), material.trust.as_bytes())?;
            write_file(
                &dir.join("certificates.pem"),
                material.certificates.as_bytes(),
            )?;
            write_file(&dir.join("revocation.pem"), material.revocation.as_bytes())?;
            let revocation = material.crls;
            let data = digests
                .iter()
                .filter_map(|d| Some((hash_algorithm(d.algorithm)?, hex::decode(&d.hex).ok()?)))
                .collect();
            let now = self.clock.now();
            let checked = carnac_evidence::verify::verify_with_revocation(
                &record,
                &data,
                &trust,
                std::time::Duration::from_nanos(now.unix_timestamp_nanos().max(0) as u64),
                Some(&revocation),
            );
            let mut revocation_problems = material.notes;
            revocation_problems.extend(checked.problems);
            write_file(
                &dir.join("README.txt"),
                readme(&name, &record, &revocation_problems).as_bytes(),
            )?;
            made = Some(Bundle {
                dir: dir.to_owned(),
                file: name,
                record: "record.ers".into(),
                trust: "trust.pem".into(),
                certificates: "certificates.pem".into(),
                revocation: "revocation.pem".into(),
                revocation_problems,
            });
        }
        let operation = self.new_operation()?;
        let detail = serde_json::json!({
            "object": object,
            "timestamps": record.archive_time_stamp_sequence.iter().map(Vec::len).sum::<usize>(),
            "bundle": bundle.is_some(),
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation,
            kind: EventKind::EvidenceExport,
            outcome: Status::Ok,
            time: self.now().into(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.record_operation(tenant, &detail, &event)?;
        Ok(made)
    }
}

/// What verifies evidence records without the archive: the TSAs' trust anchors, the
/// certificates their tokens carry, and the CRLs of those certificates' issuers now (PEM).
pub(crate) struct EvidenceMaterial {
    pub(crate) trust: String,
    pub(crate) certificates: String,
    pub(crate) revocation: String,
    pub(crate) crls: Vec<carnac_timestamp::revocation::Crl>,
    /// What could not be had (a CRL unreachable…).
    pub(crate) notes: Vec<String>,
}

impl Archive {
    /// The material that verifies `records` offline.
    pub(crate) fn evidence_material(
        &self,
        tenant: &TenantId,
        records: &[EvidenceRecord],
    ) -> Result<EvidenceMaterial, ArchiveError> {
        let trust = crate::files::anchors_pem(&self.trust())?;
        let mut certificates = String::new();
        let mut token_certs = Vec::new();
        for record in records {
            for ats in record.archive_time_stamp_sequence.iter().flatten() {
                let token = ats.token()?;
                for cert in carnac_timestamp::verify::token_certificates(&token)? {
                    let p = crate::files::pem(&cert)?;
                    if !certificates.contains(&p) {
                        certificates.push_str(&p);
                        token_certs.push(cert);
                    }
                }
            }
        }
        // The tenant's TSA, and the archive's when they differ (older tokens may be its).
        let mut revocation = self.tsa(tenant).revocation(&token_certs);
        if self.tenant_timestamps.contains_key(tenant) {
            let more = self.timestamps.revocation(&token_certs);
            revocation.crls.extend(more.crls);
            revocation.notes.extend(more.notes);
        }
        let mut crls_pem = String::new();
        for crl in &revocation.crls {
            crls_pem.push_str(&crl.to_pem()?);
        }
        Ok(EvidenceMaterial {
            trust,
            certificates,
            revocation: crls_pem,
            crls: revocation.crls,
            notes: revocation.notes,
        })
    }
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    std::fs::write(path, bytes)
        .map_err(|e| ArchiveError::io(format!("writing {}", path.display()), e))
}

/// A file name from the transfer, reduced to one safe path component.
fn safe_name(name: &str, object: &ObjectId) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .map(|c| if c.is_control() || c == ':' { '_' } else { c })
        .collect();
    if clean.is_empty()
        || clean.starts_with('.')
        || clean == "record.ers"
        || clean.ends_with(".pem")
        || clean == "README.txt"
    {
        object.to_string()
    } else {
        clean
    }
}

fn readme(file: &str, record: &EvidenceRecord, revocation_problems: &[String]) -> String {
    let revocation = if revocation_problems.is_empty() {
        "Checked at the export: every timestamp's certificates are covered by these CRLs and\n\
         were not revoked when it mattered.\n"
            .to_owned()
    } else {
        format!(
            "Checked at the export, with these problems:\n{}\n",
            revocation_problems
                .iter()
                .map(|p| format!("  - {p}\n"))
                .collect::<String>()
        )
    };
    let stamps: usize = record
        .archive_time_stamp_sequence
        .iter()
        .map(Vec::len)
        .sum();
    format!(
        "Evidence record (RFC 4998) of {file}\n\
         \n\
         record.ers        the evidence record, DER ({chains} chain(s), {stamps} archive timestamp(s))\n\
         trust.pem         the trust anchors of the timestamping authorities\n\
         certificates.pem  the certificates found in the timestamps, for reference\n\
         revocation.pem    the CRLs of the certificates' issuers at the export (RFC 5280)\n\
         \n\
         To verify without the archive that made it:\n\
         \n\
           carnac verify '{file}' --evidence record.ers --trust trust.pem --crl revocation.pem\n\
         \n\
         or with any RFC 4998 implementation (Bouncy Castle's org.bouncycastle.tsp.ers, for one),\n\
         each RFC 3161 token with `openssl ts -verify`, and each certificate against the CRLs\n\
         with `openssl verify -crl_check -CAfile trust.pem -CRLfile revocation.pem CERT`.\n\
         Timestamps of the built-in TSA say \"not qualified\" in their signer's name and carry the\n\
         policy {policy}; its CRLs are signed by its root.\n\
         \n\
         Revocation: a certificate revoked before a timestamp's time voids it; one revoked for a\n\
         compromise voids the timestamps it signed that were not renewed before. Later CRLs can\n\
         be fetched from the distribution points the certificates name.\n\
         {revocation}",
        chains = record.archive_time_stamp_sequence.len(),
        policy = carnac_timestamp::BUILTIN_POLICY,
    )
}

/// When timestamp renewals are due: this long before the end of the TSA certificate of a
/// tree's token (the built-in TSA replaces its own certificate earlier, so that the renewal
/// gets a later one).
pub const DEFAULT_RENEW_BEFORE: std::time::Duration = std::time::Duration::from_secs(60 * 86_400);

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

impl Archive {
    /// RFC 4998 timestamp renewal of `tenant`'s evidence: every tree at the head of a chain
    /// whose token's certificate ends within `renew_before` (every one, with `force`) gets a
    /// new archive timestamp over its token; one tree and one timestamp per algorithm serve
    /// them all.
    pub fn renew_timestamps(
        &self,
        tenant: &TenantId,
        renew_before: std::time::Duration,
        force: bool,
        agent: &str,
    ) -> Result<Vec<EvidenceBatch>, ArchiveError> {
        self.require_tenant(tenant)?;
        let now = self.clock.now();
        let horizon = now + renew_before;
        let mut due: BTreeMap<&'static str, Vec<EvidenceTreeRow>> = BTreeMap::new();
        for head in self.catalog.current_evidence_trees(tenant)? {
            let ends = parse_time(&head.certificate_until).ok_or_else(|| {
                ArchiveError::Invalid(format!(
                    "tree {}: certificate end {:?}",
                    head.id, head.certificate_until
                ))
            })?;
            if force || ends <= horizon {
                due.entry(parse_algorithm(&head.algorithm)?.name())
                    .or_default()
                    .push(head);
            }
        }
        let mut out = Vec::new();
        for (name, heads) in due {
            let algorithm = parse_algorithm(name)?;
            let leaves: Vec<Vec<u8>> = heads.iter().map(|h| algorithm.digest(&h.token)).collect();
            let renews: Vec<(String, u64)> = heads
                .iter()
                .enumerate()
                .map(|(i, h)| (h.id.clone(), i as u64))
                .collect();
            let supersedes: Vec<String> = heads.iter().map(|h| h.id.clone()).collect();
            let latest = heads
                .iter()
                .filter_map(|h| parse_time(&h.certificate_until))
                .max();
            let batch = self.stamp_tree(
                tenant,
                agent,
                EvidenceKind::TimestampRenewal,
                algorithm,
                leaves,
                &[],
                &renews,
                &supersedes,
                latest,
            )?;
            out.push(batch);
        }
        Ok(out)
    }

    /// RFC 4998 hash-tree renewal of `tenant`'s evidence to `algorithm`: every stored file is
    /// read again (from a copy that matches its digest), hashed with the new algorithm and
    /// joined to its record so far; one tree and one timestamp cover them all and start a new
    /// chain in each record.
    pub fn renew_hash_trees(
        &self,
        tenant: &TenantId,
        algorithm: DigestAlgorithm,
        agent: &str,
    ) -> Result<Option<EvidenceBatch>, ArchiveError> {
        self.require_tenant(tenant)?;
        let new = hash_algorithm(algorithm).ok_or_else(|| {
            ArchiveError::Invalid(format!("{algorithm} is too weak for evidence records"))
        })?;
        let files = self.catalog.objects_with_evidence(tenant)?;
        if files.is_empty() {
            return Ok(None);
        }
        let heads: Vec<String> = self
            .catalog
            .current_evidence_trees(tenant)?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let mut leaves = Vec::with_capacity(files.len());
        let mut objects = Vec::with_capacity(files.len());
        for (i, (object, _, _)) in files.iter().enumerate() {
            let record = self.evidence_record(tenant, object)?;
            let digests = self.read_verified(tenant, object, &[algorithm], &mut || {
                Ok(Box::new(std::io::sink()))
            })?;
            let digest = digests
                .iter()
                .find(|d| d.algorithm == algorithm)
                .and_then(|d| hex::decode(&d.hex).ok())
                .ok_or_else(|| {
                    ArchiveError::Invalid(format!("no {algorithm} digest of {object}"))
                })?;
            leaves.push(carnac_evidence::renewal_leaf(
                new,
                &digest,
                &record.archive_time_stamp_sequence,
            )?);
            objects.push((
                object.clone(),
                record.archive_time_stamp_sequence.len() as u64,
                i as u64,
            ));
        }
        Ok(Some(self.stamp_tree(
            tenant,
            agent,
            EvidenceKind::HashRenewal,
            new,
            leaves,
            &objects,
            &[],
            &heads,
            None,
        )?))
    }
}
