//! Packages going out: a zip of a SEDA `manifest.xml` and the files of a selection of units
//! (each with everything below it), in the shape Carnac itself and any SAE ingest.
//!
//! Written in bounded memory: the units' tree is held as identifiers and links, each
//! unit's metadata is read when its turn comes, the manifest is written to a scratch file as
//! it goes, and each file is streamed from a copy checked against its digest on the way; a
//! copy that does not match is dropped from the package for the next offer's, as the audit
//! does. The files first, the manifest last (a zip's entries may come in any order).
//!
//! Each unit carries its rules as they are now (changes after ingest included); a top unit
//! of the package carries also what it inherits from the units above it, which the package
//! does not hold, so that the receiver computes the same effective rules. SEDA 2.1 has no
//! `HoldRule`: a hold is not carried in a 2.1 package.
//!
//! Beside the SEDA content, `evidence/` holds each file's evidence record with what verifies
//! it offline, the deposit attestation of each transfer the files came from, and every
//! journal event about the units, their files and transfers, each with its proof.

use crate::{Archive, ArchiveError};
use carnac_catalog::ObjectRow;
use carnac_model::rules::{EffectiveRules, Management};
use carnac_model::{MultiHasher, ObjectId, OperationId, TenantId, UnitId};
use carnac_seda::SedaVersion;
use carnac_seda::package::{
    BinaryObject, ManifestWriter, ObjectGroup, PackageHeader, PhysicalObject, ReferenceKind,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Seek, Write};

/// The most units one package holds (a tenant's export cuts its packages below this).
pub const MAX_PACKAGE_UNITS: usize = crate::selection::MAX_SELECTED_UNITS;

/// What a package holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSummary {
    pub units: u64,
    pub files: u64,
    /// The files' bytes.
    pub bytes: u64,
    /// SHA-256 of `manifest.xml`.
    pub manifest_sha256: String,
    /// Copies found damaged on the way, and replaced by another offer's (`offer: object`).
    pub damaged_copies: Vec<String>,
    /// Files whose evidence record is in `evidence/`.
    pub evidence_records: u64,
    /// Files without an evidence record yet (made after each ingest and at each
    /// maintenance): their package proves them by their digests alone.
    pub evidence_pending: Vec<String>,
    /// The transfers the files came from whose deposit attestation is in `evidence/`, and
    /// those not attested yet.
    pub attestations: Vec<OperationId>,
    pub attestations_pending: Vec<OperationId>,
    /// Journal events about the package's units, files and transfers, each in
    /// `evidence/journal/` with its proof (its path to the timestamped seal that covers it);
    /// and those no seal covered (the package seals the journal first; a TSA that did not
    /// answer leaves the latest ones unsealed).
    pub journal_proofs: u64,
    pub journal_pending: Vec<u64>,
}

/// The units of a package: those asked for (each once, in order) and every unit below them.
pub(crate) struct PackageUnits {
    pub(crate) roots: Vec<UnitId>,
    /// `roots` first, then the units below them.
    pub(crate) all: Vec<UnitId>,
}

/// A file of the package: where it is stored and what it must be.
struct File {
    /// The ingest that stored it (its transfer).
    ingest: OperationId,
    object: ObjectId,
    batch: OperationId,
    name: String,
    size: u64,
    digest: carnac_model::Digest,
}

impl Archive {
    /// Writes to `out` the package of `roots` and every unit below them, in SEDA `version`
    /// (2.1, 2.2 or 2.3), with `header`; its summary and `out`.
    pub fn write_package<W: Write + Seek>(
        &self,
        tenant: &TenantId,
        roots: &[UnitId],
        version: SedaVersion,
        header: PackageHeader,
        out: W,
    ) -> Result<(PackageSummary, W), ArchiveError> {
        self.require_tenant(tenant)?;
        let units = self.package_units(tenant, roots)?;
        self.write_package_of(tenant, &units, version, header, out)
    }

    /// The units a package of `roots` holds, bounded.
    pub(crate) fn package_units(
        &self,
        tenant: &TenantId,
        roots: &[UnitId],
    ) -> Result<PackageUnits, ArchiveError> {
        // Each unit once, in the order given.
        let mut listed: BTreeSet<UnitId> = BTreeSet::new();
        let roots: Vec<UnitId> = roots
            .iter()
            .filter(|u| listed.insert((*u).clone()))
            .cloned()
            .collect();
        let mut all: Vec<UnitId> = roots.clone();
        all.extend(
            self.catalog
                .descendants(tenant, &roots)?
                .into_iter()
                .filter(|u| !listed.contains(u)),
        );
        if all.len() > MAX_PACKAGE_UNITS {
            return Err(ArchiveError::InvalidRequest(vec![format!(
                "the selection holds {} units with those below them; a package holds at most {MAX_PACKAGE_UNITS}",
                all.len()
            )]));
        }
        Ok(PackageUnits { roots, all })
    }

    /// [`Archive::write_package`] of units already listed by [`Archive::package_units`].
    pub(crate) fn write_package_of<W: Write + Seek>(
        &self,
        tenant: &TenantId,
        units: &PackageUnits,
        version: SedaVersion,
        header: PackageHeader,
        out: W,
    ) -> Result<(PackageSummary, W), ArchiveError> {
        let all = &units.all;
        let inside: BTreeSet<&UnitId> = all.iter().collect();
        // The units with those above them: only the package's are kept.
        let mut graph = self.catalog.rules_graph(tenant, all)?;
        graph.retain(|g| inside.contains(&g.id));
        if graph.len() != all.len() {
            let known: BTreeSet<&UnitId> = graph.iter().map(|g| &g.id).collect();
            let missing: Vec<String> = all
                .iter()
                .filter(|u| !known.contains(u))
                .take(20)
                .map(ToString::to_string)
                .collect();
            return Err(ArchiveError::InvalidRequest(vec![format!(
                "no such unit in tenant {tenant}: {}",
                missing.join(", ")
            )]));
        }
        // Each unit stands under its first parent in the package; under any other, a
        // reference to it. Units with no parent in the package are its top.
        let mut children: BTreeMap<&UnitId, Vec<(&UnitId, bool)>> = BTreeMap::new();
        let mut top: Vec<&UnitId> = Vec::new();
        let mut agencies: BTreeMap<&str, usize> = BTreeMap::new();
        for g in &graph {
            let mut parents = g.parents.iter().filter(|p| inside.contains(p));
            match parents.next() {
                Some(first) => {
                    children.entry(first).or_default().push((&g.id, true));
                    for other in parents {
                        children.entry(other).or_default().push((&g.id, false));
                    }
                }
                None => top.push(&g.id),
            }
            if let Some(a) = &g.originating_agency {
                *agencies.entry(a.as_str()).or_default() += 1;
            }
        }
        let agency = agencies
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(a, _)| a.to_owned());
        // Each unit's rules as they are now; a top unit's with what it inherits from the
        // units above it, which the package does not hold. A unit whose rules were never
        // recorded (ingested before they were kept, not filled yet) keeps its metadata's.
        let top_ids: Vec<UnitId> = top.iter().map(|u| (*u).clone()).collect();
        let inherited = self.effective_rules(tenant, &top_ids)?;
        let mut management: HashMap<UnitId, Management> = HashMap::new();
        for g in &graph {
            if let Some(own) = &g.management {
                let m = match inherited.get(&g.id) {
                    Some(e) if e.complete => as_own(&e.rules),
                    _ => own.clone(),
                };
                management.insert(g.id.clone(), m);
            }
        }

        let scratch = self.tmp.join(format!(
            "package-{}.manifest.xml",
            self.ids.next(crate::ports::IdKind::Operation)
        ));
        let _cleanup = crate::files::Scratch(vec![scratch.clone()]);
        let manifest_file = std::fs::File::create(&scratch)
            .map_err(|e| ArchiveError::io("a scratch file for the manifest", e))?;
        let mut manifest = ManifestWriter::new(
            crate::files::HashingWriter {
                inner: std::io::BufWriter::new(manifest_file),
                hasher: MultiHasher::new(&[carnac_model::DigestAlgorithm::Sha256]),
            },
            version,
            header,
        )
        .map_err(package_error)?;
        // The groups, each once, with the files they hold.
        let mut files: Vec<File> = Vec::new();
        let mut written: BTreeSet<ObjectId> = BTreeSet::new();
        let mut renames: HashMap<UnitId, Vec<(ReferenceKind, String, String)>> = HashMap::new();
        for u in all {
            let Some((unit, objects)) = self.catalog.unit(tenant, u)? else {
                continue;
            };
            let mut by_group: BTreeMap<ObjectId, Vec<ObjectRow>> = BTreeMap::new();
            for o in objects {
                by_group.entry(o.group.clone()).or_default().push(o);
            }
            let groups: Vec<ObjectId> = by_group.keys().cloned().collect();
            let mut rename = Vec::new();
            for (group, xml_id) in self.catalog.group_xml_ids(tenant, &groups)? {
                rename.push((ReferenceKind::Group, xml_id, group.to_string()));
            }
            for (group, objects) in by_group {
                for o in &objects {
                    rename.push((ReferenceKind::Object, o.xml_id.clone(), o.id.to_string()));
                }
                if !written.insert(group.clone()) {
                    continue;
                }
                let mut g = ObjectGroup {
                    id: group.to_string(),
                    objects: Vec::new(),
                    physical: Vec::new(),
                };
                for o in objects {
                    if o.physical {
                        g.physical.push(PhysicalObject {
                            id: o.id.to_string(),
                            version: o.version,
                        });
                        continue;
                    }
                    let (Some(size), Some(digest)) = (o.size, o.digest.clone()) else {
                        return Err(ArchiveError::Catalog(
                            carnac_catalog::CatalogError::Corruption(format!(
                                "object {} has no size or digest",
                                o.id
                            )),
                        ));
                    };
                    let name = format!("Content/{}", o.id);
                    g.objects.push(BinaryObject {
                        id: o.id.to_string(),
                        version: o.version.clone(),
                        uri: name.clone(),
                        digest_algorithm: digest.algorithm.seda_name().to_owned(),
                        digest: digest.hex.clone(),
                        size,
                        format_id: o.puid.clone(),
                        mime_type: o.mime_type.clone(),
                        format_litteral: o.format_name.clone(),
                        filename: o.filename.clone(),
                    });
                    files.push(File {
                        ingest: unit.operation.clone(),
                        object: o.id.clone(),
                        batch: unit.operation.clone(),
                        name,
                        size,
                        digest,
                    });
                }
                manifest.group(&g).map_err(package_error)?;
            }
            renames.insert(u.clone(), rename);
        }
        // The units' tree, depth first, each unit's metadata read when written.
        let mut stack: Vec<Step<'_>> = top.iter().rev().map(|u| Step::Open(u)).collect();
        let mut units = 0u64;
        while let Some(step) = stack.pop() {
            match step {
                Step::Close => manifest.close_unit().map_err(package_error)?,
                Step::Reference(parent, unit) => manifest
                    .unit_reference(&format!("ref-{parent}-{unit}"), unit.as_str())
                    .map_err(package_error)?,
                Step::Open(u) => {
                    let Some((unit, _)) = self.catalog.unit(tenant, u)? else {
                        continue;
                    };
                    let rename = renames.remove(u).unwrap_or_default();
                    let lookup = |kind: ReferenceKind, old: &str| {
                        rename
                            .iter()
                            .find(|(k, x, _)| *k == kind && x == old)
                            .map(|(_, _, new)| new.clone())
                    };
                    manifest
                        .open_unit(u.as_str(), &unit.metadata, &lookup, management.get(u))
                        .map_err(package_error)?;
                    units += 1;
                    stack.push(Step::Close);
                    for (child, here) in children.get(u).into_iter().flatten().rev() {
                        stack.push(if *here {
                            Step::Open(child)
                        } else {
                            Step::Reference(u, child)
                        });
                    }
                }
            }
        }
        let hashing = manifest.finish(agency.as_deref()).map_err(package_error)?;
        let crate::files::HashingWriter { inner, hasher } = hashing;
        inner
            .into_inner()
            .map_err(|e| ArchiveError::io("writing the manifest", e.into_error()))?
            .sync_all()
            .map_err(|e| ArchiveError::io("writing the manifest", e))?;
        let manifest_sha256 = hasher.finish().pop().map(|d| d.hex).unwrap_or_default();

        let mut zip = zip::ZipWriter::new(out);
        let mut bytes = 0u64;
        let mut damaged_copies = Vec::new();
        for f in &files {
            self.add_file(tenant, &mut zip, f, &mut damaged_copies)?;
            bytes += f.size;
        }
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let (evidence_records, evidence_pending) = self.add_evidence(tenant, &mut zip, &files)?;
        let (attestations, attestations_pending) =
            self.add_attestations(tenant, &mut zip, &files)?;
        let (journal_proofs, journal_pending) = self.add_journal(tenant, &mut zip, all, &files)?;
        zip.start_file("manifest.xml", options)
            .map_err(|e| ArchiveError::io("writing the package", std::io::Error::other(e)))?;
        let mut m = std::fs::File::open(&scratch)
            .map_err(|e| ArchiveError::io("reading the manifest back", e))?;
        std::io::copy(&mut m, &mut zip).map_err(|e| ArchiveError::io("writing the package", e))?;
        let out = zip
            .finish()
            .map_err(|e| ArchiveError::io("writing the package", std::io::Error::other(e)))?;
        Ok((
            PackageSummary {
                units,
                files: files.len() as u64,
                bytes,
                manifest_sha256,
                damaged_copies,
                evidence_records,
                evidence_pending,
                attestations,
                attestations_pending,
                journal_proofs,
                journal_pending,
            },
            out,
        ))
    }

    /// `evidence/journal/SEQUENCE.json`: every journal event about the package's units, its
    /// files and the transfers they came from (their ingest, evidence, attestation, rule
    /// changes, deliveries…), each with its proof; the journal is sealed first.
    fn add_journal<W: Write + Seek>(
        &self,
        tenant: &TenantId,
        zip: &mut zip::ZipWriter<W>,
        units: &[UnitId],
        files: &[File],
    ) -> Result<(u64, Vec<u64>), ArchiveError> {
        if let Err(e) = self.seal(tenant, "system") {
            tracing::warn!(%tenant, error = %e, "the journal could not be sealed before packaging");
        }
        let subjects: BTreeSet<String> = units
            .iter()
            .map(ToString::to_string)
            .chain(files.iter().map(|f| f.object.to_string()))
            .collect();
        let operations: BTreeSet<String> = files.iter().map(|f| f.ingest.to_string()).collect();
        let mut sequences = BTreeSet::new();
        self.catalog.each_event(tenant, 0, &mut |row| {
            let Ok(e) = row else { return Ok(()) };
            let detail = |key: &str| e.event.detail.get(key).and_then(|v| v.as_str());
            if operations.contains(e.event.operation.as_str())
                || detail("object").is_some_and(|o| subjects.contains(o))
                || detail("subject").is_some_and(|o| subjects.contains(o))
                || detail("of").is_some_and(|o| operations.contains(o))
            {
                sequences.insert(e.sequence);
            }
            Ok(())
        })?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut proofs = 0u64;
        let pending = self.prove_events(tenant, &sequences, &mut |proof| {
            let json = serde_json::to_vec_pretty(&proof)
                .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
            zip.start_file(
                format!("evidence/journal/{:012}.json", proof.event.sequence),
                options,
            )
            .map_err(|e| ArchiveError::io("writing the package", std::io::Error::other(e)))?;
            zip.write_all(&json)
                .map_err(|e| ArchiveError::io("writing the package", e))?;
            proofs += 1;
            Ok(())
        })?;
        Ok((proofs, pending))
    }

    /// `evidence/attestations/INGEST/`: the deposit attestation of each transfer the files
    /// came from (signed and timestamped when it was ingested), each file from a copy whose
    /// digest is the one its operation recorded.
    fn add_attestations<W: Write + Seek>(
        &self,
        tenant: &TenantId,
        zip: &mut zip::ZipWriter<W>,
        files: &[File],
    ) -> Result<(Vec<OperationId>, Vec<OperationId>), ArchiveError> {
        use sha2::Digest as _;
        let ingests: BTreeSet<&OperationId> = files.iter().map(|f| &f.ingest).collect();
        if ingests.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let operations = self.catalog.operations(tenant)?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let (mut done, mut pending) = (Vec::new(), Vec::new());
        for ingest in ingests {
            let Some(op) = operations.iter().rev().find(|o| {
                o.kind == crate::attestation::KIND
                    && o.status == Some(carnac_model::Status::Ok)
                    && o.summary.as_ref().and_then(|s| s.get("of")?.as_str())
                        == Some(ingest.as_str())
            }) else {
                pending.push(ingest.clone());
                continue;
            };
            let summary = op.summary.clone().unwrap_or_default();
            for name in crate::attestation::ATTESTATION_BLOBS {
                let expected = summary["blobs_sha256"][name]
                    .as_str()
                    .or_else(|| {
                        (name == "attestation.json")
                            .then(|| summary["sha256"].as_str())
                            .flatten()
                    })
                    .map(str::to_owned);
                let key = carnac_blobstore::BlobKey {
                    tenant: tenant.clone(),
                    batch: op.id.clone(),
                    name: name.into(),
                };
                let bytes = self
                    .offers
                    .iter()
                    .filter_map(|o| carnac_blobstore::read_all(&**o, &key).ok())
                    .find(|b| {
                        expected
                            .as_deref()
                            .is_none_or(|e| hex::encode(sha2::Sha256::digest(b)) == e)
                    })
                    .ok_or_else(|| ArchiveError::State {
                        code: "no_intact_copy",
                        message: format!(
                            "no offer holds an intact copy of {name} of the attestation of {ingest}: run the audit; nothing was packaged"
                        ),
                    })?;
                zip.start_file(format!("evidence/attestations/{ingest}/{name}"), options)
                    .map_err(|e| {
                        ArchiveError::io("writing the package", std::io::Error::other(e))
                    })?;
                zip.write_all(&bytes)
                    .map_err(|e| ArchiveError::io("writing the package", e))?;
            }
            done.push(ingest.clone());
        }
        Ok((done, pending))
    }

    /// The `evidence/` folder: each file's evidence record (RFC 4998), the trust anchors,
    /// the tokens' certificates and their issuers' CRLs, and a README saying how to verify
    /// them without Carnac. Files without a record yet are listed in the README.
    fn add_evidence<W: Write + Seek>(
        &self,
        tenant: &TenantId,
        zip: &mut zip::ZipWriter<W>,
        files: &[File],
    ) -> Result<(u64, Vec<String>), ArchiveError> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(false);
        let put = |zip: &mut zip::ZipWriter<W>, name: &str, bytes: &[u8]| {
            zip.start_file(name, options)
                .map_err(|e| ArchiveError::io("writing the package", std::io::Error::other(e)))?;
            zip.write_all(bytes)
                .map_err(|e| ArchiveError::io("writing the package", e))
        };
        let mut records = Vec::new();
        let mut pending = Vec::new();
        let mut listed = String::new();
        let mut trees = crate::evidence::TreeCache::default();
        for f in files {
            match self.evidence_record_with(tenant, &f.object, &mut trees) {
                Ok(record) => {
                    put(
                        zip,
                        &format!("evidence/{}.ers", f.object),
                        &record.to_der()?,
                    )?;
                    listed.push_str(&format!(
                        "  carnac verify {} --evidence evidence/{}.ers --trust evidence/trust.pem --crl evidence/revocation.pem\n",
                        f.name, f.object
                    ));
                    // The material needs the tokens only: the record's chains.
                    records.push(record);
                }
                Err(ArchiveError::NotFound(_)) => pending.push(f.object.to_string()),
                Err(e) => return Err(e),
            }
        }
        let material = self.evidence_material(tenant, &records)?;
        put(zip, "evidence/trust.pem", material.trust.as_bytes())?;
        put(
            zip,
            "evidence/certificates.pem",
            material.certificates.as_bytes(),
        )?;
        put(
            zip,
            "evidence/revocation.pem",
            material.revocation.as_bytes(),
        )?;
        let readme = format!(
            "Evidence of this package's files, verifiable without the archive that made it\n\
             \n\
             manifest.xml                 the SEDA manifest: each file with its digest (MessageDigest)\n\
             Content/OBJECT               the files, each checked against its digest when packaged\n\
             evidence/OBJECT.ers          each file's evidence record (RFC 4998, DER): its digest in\n\
                                          hash trees timestamped (RFC 3161) since its deposit\n\
             evidence/trust.pem           the timestamping authorities' trust anchors\n\
             evidence/certificates.pem    the certificates the timestamps carry, for reference\n\
             evidence/revocation.pem      their issuers' CRLs when the package was made (RFC 5280)\n\
             evidence/attestations/INGEST/  the deposit attestation of each transfer the files came\n\
                                          from, signed by the archive and timestamped when deposited:\n\
               carnac attestation verify attestation.json --signature attestation.p7s \\\n\
                 --signer signer.pem --trust ../../trust.pem\n\
               (signer.pem is the archive's certificate: compare it with the one it publishes)\n\
             evidence/journal/SEQUENCE.json  each journal event about these units, files and\n\
                                          transfers, with its path to the timestamped seal:\n\
               carnac journal verify --proof evidence/journal/SEQUENCE.json --trust evidence/trust.pem\n\
             \n\
             Each file, with Carnac's verifier (any RFC 4998 implementation does: Bouncy Castle's\n\
             org.bouncycastle.tsp.ers for one; each token with `openssl ts -verify`):\n\
             \n\
             {listed}\n\
             {pending}{notes}",
            pending = if pending.is_empty() {
                String::new()
            } else {
                format!(
                    "Files without an evidence record yet (their digests alone prove them):\n{}\n",
                    pending
                        .iter()
                        .map(|p| format!("  Content/{p}\n"))
                        .collect::<String>()
                )
            },
            notes = if material.notes.is_empty() {
                String::new()
            } else {
                format!(
                    "Revocation data that could not be had:\n{}",
                    material
                        .notes
                        .iter()
                        .map(|n| format!("  {n}\n"))
                        .collect::<String>()
                )
            },
        );
        put(zip, "evidence/README.txt", readme.as_bytes())?;
        Ok((records.len() as u64, pending))
    }

    /// One file into the package from the first offer whose copy has its digest: a copy
    /// found damaged on the way is taken out of the zip again and the next offer's written.
    fn add_file<W: Write + Seek>(
        &self,
        tenant: &TenantId,
        zip: &mut zip::ZipWriter<W>,
        f: &File,
        damaged: &mut Vec<String>,
    ) -> Result<(), ArchiveError> {
        let key = carnac_blobstore::BlobKey {
            tenant: tenant.clone(),
            batch: f.batch.clone(),
            name: f.object.to_string(),
        };
        let zip_error = |e: zip::result::ZipError| {
            ArchiveError::io("writing the package", std::io::Error::other(e))
        };
        // Stored: archived formats are mostly compressed already, and a file passes once.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(f.size >= u32::MAX as u64);
        for offer in &self.offers {
            let Ok(mut reader) = offer.open(&key) else {
                damaged.push(format!("{}: {} (missing)", offer.name(), f.object));
                continue;
            };
            zip.start_file(f.name.as_str(), options)
                .map_err(zip_error)?;
            let mut hasher = MultiHasher::new(&[f.digest.algorithm]);
            let mut buf = vec![0u8; 1 << 16];
            let mut size = 0u64;
            let read_ok = loop {
                match reader.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(n) => {
                        hasher.update(&buf[..n]);
                        size += n as u64;
                        zip.write_all(&buf[..n])
                            .map_err(|e| ArchiveError::io("writing the package", e))?;
                    }
                    Err(_) => break false,
                }
            };
            let good = read_ok
                && size == f.size
                && hasher.finish().pop().is_some_and(|d| d.hex == f.digest.hex);
            if good {
                return Ok(());
            }
            tracing::error!(%tenant, object = %f.object, offer = offer.name(), "a damaged copy left out of a package");
            damaged.push(format!("{}: {}", offer.name(), f.object));
            zip.abort_file().map_err(zip_error)?;
        }
        Err(ArchiveError::State {
            code: "no_intact_copy",
            message: format!(
                "no offer holds an intact copy of {}: run the audit; nothing was packaged",
                f.object
            ),
        })
    }
}

/// A top unit's effective rules as rules of its own: each rule once (its own first, as
/// inheritance keeps them), each category's FinalAction the one that reaches it.
fn as_own(e: &EffectiveRules) -> Management {
    let mut m = Management::default();
    for r in &e.rules {
        let c = m.category_mut(r.category);
        if !c.rules.iter().any(|x| x.rule == r.rule.rule) {
            c.rules.push(r.rule.clone());
        }
    }
    for a in &e.final_actions {
        let c = m.category_mut(a.category);
        if c.final_action.is_none() {
            c.final_action = Some(a.final_action);
        }
    }
    m
}

enum Step<'a> {
    Open(&'a UnitId),
    Reference(&'a UnitId, &'a UnitId),
    Close,
}

fn package_error(e: carnac_seda::package::PackageError) -> ArchiveError {
    match e {
        carnac_seda::package::PackageError::Io(io) => ArchiveError::io("writing the manifest", io),
        other => ArchiveError::Invalid(other.to_string()),
    }
}
