//! A tenant's journal exported (events, seals and their tokens, a README saying how to
//! check them without Carnac), its verification, and the export read back from an offer.

use super::*;

/// A tenant's journal as exported: what `export_journal` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalExport {
    pub dir: std::path::PathBuf,
    pub events: u64,
    pub seals: u64,
}

const EXPORT_README: &str = "A tenant's journal, exported by Carnac.

events.jsonl   one event per line, in order
seals.jsonl    one seal per line, in order (its RFC 3161 token in base64)
seals/         the same tokens as DER files, LAST.tsr, for openssl
trust.pem      the trust anchors of the timestamping authorities

How to check it without Carnac:
- Each event's hash is the lowercase hexadecimal SHA-256 of the JSON object
  {agent, detail, format_version, kind, operation, outcome, previous, sequence, tenant, time}
  serialised by RFC 8785 (JSON Canonicalization Scheme); `previous` is the hash of the event
  before it (64 zeros for the first). Recompute each; each must equal `hash`, and the next
  event's `previous`.
- A seal covers events first..last: their hashes (as bytes) are the leaves, in order, of a
  binary tree whose nodes are SHA-256 of their two children sorted in ascending byte order
  and concatenated (an odd node is carried up unchanged); its root is `merkle_root`.
  `sealed` = SHA-256(previous || merkle_root) (bytes; `previous` is the last seal's `sealed`,
  64 zeros for the first). The token stamps `sealed`:
    openssl ts -verify -digest SEALED -token_in -in seals/LAST.tsr -CAfile trust.pem
Or with Carnac: carnac journal verify --export DIR --trust DIR/trust.pem
";

impl Archive {
    /// Writes `tenant`'s journal and seals to `dir` (nothing of any other tenant), and
    /// journals the export.
    pub fn export_journal(
        &self,
        tenant: &TenantId,
        dir: &std::path::Path,
        agent: &str,
    ) -> Result<JournalExport, ArchiveError> {
        use std::io::Write;
        self.require_tenant(tenant)?;
        let io = |what: &str, e: std::io::Error| ArchiveError::io(format!("writing {what}"), e);
        std::fs::create_dir_all(dir.join("seals")).map_err(|e| io("the export folder", e))?;
        let mut events = std::io::BufWriter::new(
            std::fs::File::create(dir.join("events.jsonl")).map_err(|e| io("events.jsonl", e))?,
        );
        let mut count = 0u64;
        self.catalog.each_event(tenant, 0, &mut |row| {
            let e = readable(row)?;
            serde_json::to_writer(&mut events, &e)
                .map_err(carnac_catalog::CatalogError::storage)?;
            events
                .write_all(b"\n")
                .map_err(carnac_catalog::CatalogError::storage)?;
            count += 1;
            Ok(())
        })?;
        events.flush().map_err(|e| io("events.jsonl", e))?;
        let seals = self.catalog.seals(tenant)?;
        let mut out = String::new();
        for s in &seals {
            out.push_str(
                &serde_json::to_string(&ExportedSeal::from_row(s))
                    .map_err(|e| ArchiveError::Invalid(e.to_string()))?,
            );
            out.push('\n');
            std::fs::write(dir.join("seals").join(format!("{}.tsr", s.last)), &s.token)
                .map_err(|e| io("a seal's token", e))?;
        }
        std::fs::write(dir.join("seals.jsonl"), out).map_err(|e| io("seals.jsonl", e))?;
        let anchors = crate::files::anchors_pem(&self.trust())?;
        std::fs::write(dir.join("trust.pem"), anchors).map_err(|e| io("trust.pem", e))?;
        std::fs::write(dir.join("README.txt"), EXPORT_README).map_err(|e| io("README.txt", e))?;
        let operation = self.new_operation()?;
        let detail = serde_json::json!({"events": count, "seals": seals.len()});
        let event = NewEvent {
            tenant: tenant.clone(),
            operation,
            kind: EventKind::JournalExport,
            outcome: Status::Ok,
            time: self.now().into(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.record_operation(tenant, &detail, &event)?;
        Ok(JournalExport {
            dir: dir.to_owned(),
            events: count,
            seals: seals.len() as u64,
        })
    }

    /// The proofs of the events `sequences` names, seal by seal (each seal's events read
    /// once), handed to `each`; the sequences no seal covers yet are returned.
    pub(crate) fn prove_events(
        &self,
        tenant: &TenantId,
        sequences: &std::collections::BTreeSet<u64>,
        each: &mut dyn FnMut(EventProof) -> Result<(), ArchiveError>,
    ) -> Result<Vec<u64>, ArchiveError> {
        let mut left = sequences.clone();
        for seal in self.catalog.seals(tenant)? {
            let wanted: Vec<u64> = left.range(seal.first..=seal.last).copied().collect();
            if wanted.is_empty() {
                continue;
            }
            let mut events = Vec::new();
            let walked = self.catalog.each_event(tenant, seal.first - 1, &mut |row| {
                let e = readable(row)?;
                if e.sequence > seal.last {
                    // Past the seal: the walk stops here.
                    return Err(carnac_catalog::CatalogError::Interrupted(String::new()));
                }
                events.push(e);
                Ok(())
            });
            match walked {
                Ok(()) | Err(carnac_catalog::CatalogError::Interrupted(_)) => {}
                Err(e) => return Err(e.into()),
            }
            let leaves = events
                .iter()
                .map(|e| hex::decode(&e.hash).map_err(|err| ArchiveError::Invalid(err.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let tree = HashTree::new(HashAlgorithm::Sha256, leaves)?;
            let exported = ExportedSeal::from_row(&seal);
            for sequence in wanted {
                let Some(position) = events.iter().position(|e| e.sequence == sequence) else {
                    continue;
                };
                let path = tree
                    .reduced(position)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|list| list.into_iter().map(hex::encode).collect())
                    .collect();
                each(EventProof {
                    event: events[position].clone(),
                    path,
                    seal: exported.clone(),
                })?;
                left.remove(&sequence);
            }
        }
        Ok(left.into_iter().collect())
    }

    /// The proof of one event: its Merkle path to the seal that covers it.
    pub fn prove_event(
        &self,
        tenant: &TenantId,
        sequence: u64,
    ) -> Result<EventProof, ArchiveError> {
        self.require_tenant(tenant)?;
        let seal = self
            .catalog
            .seals(tenant)?
            .into_iter()
            .find(|s| (s.first..=s.last).contains(&sequence))
            .ok_or_else(|| {
                ArchiveError::NotFound(format!(
                    "a seal of event {sequence} (not sealed yet? `carnac seal` seals now)"
                ))
            })?;
        let mut events = Vec::new();
        self.catalog
            .each_event(tenant, seal.first - 1, &mut |row| {
                let e = readable(row)?;
                if e.sequence <= seal.last {
                    events.push(e);
                }
                Ok(())
            })?;
        let position = events
            .iter()
            .position(|e| e.sequence == sequence)
            .ok_or_else(|| ArchiveError::NotFound(format!("event {sequence}")))?;
        let leaves = events
            .iter()
            .map(|e| hex::decode(&e.hash).map_err(|err| ArchiveError::Invalid(err.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let tree = HashTree::new(HashAlgorithm::Sha256, leaves)?;
        let path = tree
            .reduced(position)
            .unwrap_or_default()
            .into_iter()
            .map(|list| list.into_iter().map(hex::encode).collect())
            .collect();
        Ok(EventProof {
            event: events.swap_remove(position),
            path,
            seal: ExportedSeal::from_row(&seal),
        })
    }
}

/// Verifies an exported journal (`export_journal`'s folder) with nothing but its files and
/// the trust anchors given: the chain, then every seal.
pub fn verify_export(
    dir: &std::path::Path,
    trust: &TrustStore,
) -> Result<(u64, u64, Vec<ChainProblem>), String> {
    let read =
        |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let mut verifier = ChainVerifier::new();
    let mut hashes = Vec::new();
    for (i, line) in read("events.jsonl")?.lines().enumerate() {
        match serde_json::from_str::<carnac_model::journal::Event>(line) {
            Ok(e) => {
                verifier.push(&e);
                hashes.push((e.sequence, e.hash));
            }
            Err(err) => verifier.push_unreadable(i as u64 + 1, &err.to_string()),
        }
    }
    let events = verifier.count();
    let mut problems = verifier.finish();
    let seals = read("seals.jsonl")?
        .lines()
        .map(|l| {
            serde_json::from_str::<ExportedSeal>(l)
                .map_err(|e| e.to_string())
                .and_then(|s| s.to_row())
        })
        .collect::<Result<Vec<_>, _>>()?;
    problems.extend(check_seals(&seals, &hashes, trust));
    problems.sort_by_key(|p| p.sequence);
    Ok((events, seals.len() as u64, problems))
}

/// What [`export_from_offer`] rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferExport {
    pub events: u64,
    pub seals: u64,
    /// What the offer lacks or holds unreadable (a seal without its segment…); the chain and
    /// the seals themselves are checked by [`verify_export`] on the folder written.
    pub problems: Vec<ChainProblem>,
}

/// Rebuilds a tenant's sealed journal from one offer's copies alone, without the catalog:
/// every seal's `seal.json` and `journal-segment.jsonl`, in the order of the events they
/// cover, written to `dir` as [`Archive::export_journal`] writes an export (with
/// `anchors_pem` as its `trust.pem`). Events written after the last seal are in the catalog
/// only: an offer holds what was sealed.
pub fn export_from_offer(
    offer: &dyn carnac_blobstore::BlobStore,
    tenant: &TenantId,
    dir: &std::path::Path,
    anchors_pem: &[u8],
) -> Result<OfferExport, String> {
    use std::io::{BufRead, Write};
    let mut problems = Vec::new();
    let mut found: Vec<(SealRow, OperationId)> = Vec::new();
    let batches = offer.batches().map_err(|e| e.to_string())?;
    for (t, op) in batches.into_iter().filter(|(t, _)| t == tenant) {
        let names = offer.list(&t, &op).map_err(|e| e.to_string())?;
        let has = |n: &str| names.iter().any(|x| x == n);
        match (has(SEGMENT_BLOBS[0]), has(SEGMENT_BLOBS[1])) {
            (false, false) => continue,
            (true, true) => {}
            (segment, _) => {
                problems.push(ChainProblem {
                    sequence: 0,
                    code: "SEGMENT_MISSING".into(),
                    message: format!(
                        "{op}: the offer holds the {} of a seal but not its {}",
                        if segment { "segment" } else { "seal" },
                        if segment { "seal" } else { "segment" }
                    ),
                });
                continue;
            }
        }
        let key = carnac_blobstore::BlobKey {
            tenant: t.clone(),
            batch: op.clone(),
            name: SEGMENT_BLOBS[1].into(),
        };
        let mut text = Vec::new();
        let mut reader = offer.open(&key).map_err(|e| e.to_string())?;
        // A seal is a few kilobytes; a larger file is not one.
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut reader, 1 << 20), &mut text)
            .map_err(|e| format!("{key}: {e}"))?;
        match serde_json::from_slice::<ExportedSeal>(&text)
            .map_err(|e| e.to_string())
            .and_then(|s| s.to_row())
        {
            Ok(seal) => found.push((seal, op)),
            Err(e) => problems.push(ChainProblem {
                sequence: 0,
                code: "SEAL_UNREADABLE".into(),
                message: format!("{key}: {e}"),
            }),
        }
    }
    found.sort_by_key(|(s, _)| s.first);
    let io = |what: &str, e: std::io::Error| format!("writing {what}: {e}");
    std::fs::create_dir_all(dir.join("seals")).map_err(|e| io("the export folder", e))?;
    let mut events = std::io::BufWriter::new(
        std::fs::File::create(dir.join("events.jsonl")).map_err(|e| io("events.jsonl", e))?,
    );
    let mut seals = String::new();
    let mut count = 0u64;
    for (seal, op) in &found {
        let key = carnac_blobstore::BlobKey {
            tenant: tenant.clone(),
            batch: op.clone(),
            name: SEGMENT_BLOBS[0].into(),
        };
        let reader = std::io::BufReader::new(offer.open(&key).map_err(|e| e.to_string())?);
        for line in reader.lines() {
            let line = line.map_err(|e| format!("{key}: {e}"))?;
            if line.is_empty() {
                continue;
            }
            events
                .write_all(line.as_bytes())
                .and_then(|()| events.write_all(b"\n"))
                .map_err(|e| io("events.jsonl", e))?;
            count += 1;
        }
        seals.push_str(
            &serde_json::to_string(&ExportedSeal::from_row(seal)).map_err(|e| e.to_string())?,
        );
        seals.push('\n');
        std::fs::write(
            dir.join("seals").join(format!("{}.tsr", seal.last)),
            &seal.token,
        )
        .map_err(|e| io("a seal's token", e))?;
    }
    events.flush().map_err(|e| io("events.jsonl", e))?;
    std::fs::write(dir.join("seals.jsonl"), seals).map_err(|e| io("seals.jsonl", e))?;
    std::fs::write(dir.join("trust.pem"), anchors_pem).map_err(|e| io("trust.pem", e))?;
    std::fs::write(dir.join("README.txt"), EXPORT_README).map_err(|e| io("README.txt", e))?;
    Ok(OfferExport {
        events: count,
        seals: found.len() as u64,
        problems,
    })
}
