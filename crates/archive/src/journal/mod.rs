//! The journal's proofs: verification of a tenant's hash chain and seals, and sealing.
//!
//! A seal puts the events since the previous seal in a Merkle tree (SHA-256, the same binary
//! tree as evidence records), chains its root to the previous seal
//! (`sealed = SHA-256(previous sealed ‖ root)`, 64 zeros before the first) and timestamps
//! `sealed`. The seal is itself an event, so the next seal covers it. Someone who rewrites
//! the journal and recomputes every hash after the change still cannot make the sealed roots
//! match: that needs a token from a trusted TSA dated back then.

mod export;

pub use export::*;

use crate::{Archive, ArchiveError};
use carnac_catalog::SealRow;
use carnac_evidence::{HashAlgorithm, HashTree};
use carnac_model::journal::EventKind;
use carnac_model::journal::{ChainProblem, ChainVerifier, GENESIS, NewEvent};
use carnac_model::{OperationId, Status, TenantId};
use carnac_timestamp::verify::{Expected, verify_token};
use carnac_timestamp::{Imprint, TrustStore};
use serde::{Deserialize, Serialize};

/// What `carnac journal verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalVerification {
    /// Events read (the verification's own event, written after, is not among them).
    pub events: u64,
    /// The hash of the last event read: the head of the chain.
    pub head: Option<String>,
    /// Seals checked, and the last sealed event.
    pub seals: u64,
    pub sealed_up_to: u64,
    pub problems: Vec<ChainProblem>,
    /// The operation that recorded this verification in the journal.
    pub operation: OperationId,
}

impl JournalVerification {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A new seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealOutcome {
    pub operation: OperationId,
    pub first: u64,
    pub last: u64,
    pub sealed: String,
    pub stamped_at: String,
    pub tsa: String,
}

/// `SHA-256(previous ‖ root)`, both given and returned in hexadecimal.
pub fn chain_seal(previous: &str, merkle_root: &str) -> Result<String, String> {
    let p = hex::decode(previous).map_err(|e| format!("previous seal {previous:?}: {e}"))?;
    let r = hex::decode(merkle_root).map_err(|e| format!("root {merkle_root:?}: {e}"))?;
    Ok(hex::encode(HashAlgorithm::Sha256.digest(&[p, r].concat())))
}

/// The Merkle root (hex) of events' hashes (hex), in order.
pub fn merkle_root(hashes: &[String]) -> Result<String, String> {
    let leaves = hashes
        .iter()
        .map(|h| hex::decode(h).map_err(|e| format!("event hash {h:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let tree = HashTree::new(HashAlgorithm::Sha256, leaves).map_err(|e| e.to_string())?;
    Ok(hex::encode(tree.root()))
}

impl Archive {
    /// Recomputes the hash chain of `tenant`'s journal, checks every seal (its range, its
    /// link to the previous seal, its Merkle root over the events, its timestamp) and records
    /// the verification, with what it found, as an event of that journal.
    pub fn verify_journal(
        &self,
        tenant: &TenantId,
        agent: &str,
    ) -> Result<JournalVerification, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut verifier = ChainVerifier::new();
        // The recorded hashes, for the seals.
        let mut hashes: Vec<(u64, String)> = Vec::new();
        self.catalog.each_event(tenant, 0, &mut |row| {
            match row {
                Ok(e) => {
                    verifier.push(&e);
                    hashes.push((e.sequence, e.hash));
                }
                Err(u) => verifier.push_unreadable(u.sequence, &u.reason),
            }
            Ok(())
        })?;
        let events = verifier.count();
        let head = verifier.head().map(str::to_owned);
        let mut problems = verifier.finish();
        let seals = self.catalog.seals(tenant)?;
        let sealed_up_to = seals.last().map_or(0, |s| s.last);
        problems.extend(check_seals(&seals, &hashes, &self.trust()));
        problems.sort_by_key(|p| p.sequence);

        let operation = self.new_operation()?;
        let outcome = if problems.is_empty() {
            Status::Ok
        } else {
            Status::Ko
        };
        let detail = serde_json::json!({
            "events": events,
            "head": head,
            "seals": seals.len(),
            "sealed_up_to": sealed_up_to,
            "problems": problems,
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::JournalVerify,
            outcome,
            time: self.now().into(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.record_operation(tenant, &detail, &event)?;
        if !problems.is_empty() {
            tracing::warn!(%tenant, problems = problems.len(), "the journal is damaged");
        }
        Ok(JournalVerification {
            events,
            head,
            seals: seals.len() as u64,
            sealed_up_to,
            problems,
            operation,
        })
    }

    /// Seals the events of `tenant` written since its last seal; `None` when there are none.
    /// The unsealed part of the chain is checked first: a damaged journal is not sealed.
    pub fn seal(
        &self,
        tenant: &TenantId,
        agent: &str,
    ) -> Result<Option<SealOutcome>, ArchiveError> {
        self.require_tenant(tenant)?;
        let last_seal = self.catalog.seals(tenant)?.pop();
        let (after, previous) = last_seal
            .as_ref()
            .map_or((0, GENESIS.to_owned()), |s| (s.last, s.sealed.clone()));
        let mut verifier: Option<ChainVerifier> = (after == 0).then(ChainVerifier::new);
        let mut hashes = Vec::new();
        // The segment (the events this seal covers) goes to the offers with the seal: written
        // to a scratch file first, as the events stream past.
        let operation = self.new_operation()?;
        let segment_path = self.tmp.join(format!("{operation}.segment.jsonl"));
        let _scratch = crate::files::Scratch(vec![segment_path.clone()]);
        // Hashed as it is written: its digest goes into the seal's event, so that the copies
        // in the offers are checked like any stored file (`check --digests`, the audit).
        let mut segment = crate::files::HashingWriter {
            inner: std::io::BufWriter::new(
                std::fs::File::create(&segment_path)
                    .map_err(|e| ArchiveError::io("creating the journal segment", e))?,
            ),
            hasher: carnac_model::MultiHasher::new(&[carnac_model::DigestAlgorithm::Sha256]),
        };
        let mut last = after;
        // Seal events alone do not call for a seal: an idle journal gets no seal at all.
        let mut only_seals = true;
        self.catalog
            .each_event(tenant, after.saturating_sub(1), &mut |row| {
                let e = readable(row)?;
                if e.sequence == after {
                    verifier = Some(ChainVerifier::resume(e.sequence, &e.hash));
                    return Ok(());
                }
                if let Some(v) = verifier.as_mut() {
                    v.push(&e);
                }
                last = e.sequence;
                only_seals &= e.event.kind == EventKind::JournalSeal;
                let line = segment_line(&e).map_err(carnac_catalog::CatalogError::storage)?;
                std::io::Write::write_all(&mut segment, line.as_bytes()).map_err(|err| {
                    carnac_catalog::CatalogError::storage_in("journal segment", err)
                })?;
                hashes.push(e.hash);
                Ok(())
            })?;
        std::io::Write::flush(&mut segment)
            .map_err(|e| ArchiveError::io("writing the journal segment", e))?;
        let crate::files::HashingWriter { inner, hasher } = segment;
        drop(inner);
        let segment_sha256 = hasher.finish().pop().map(|d| d.hex).unwrap_or_default();
        let problems = verifier.map(ChainVerifier::finish).unwrap_or_else(|| {
            vec![ChainProblem {
                sequence: after,
                code: "MISSING".into(),
                message: format!("the last sealed event {after} is missing"),
            }]
        });
        if !problems.is_empty() {
            return Err(ArchiveError::Invalid(format!(
                "the journal of tenant {tenant} is damaged, it is not sealed: {}",
                problems
                    .iter()
                    .map(|p| format!("{} event {}: {}", p.code, p.sequence, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        if hashes.is_empty() || only_seals {
            return Ok(None);
        }
        let first = after + 1;
        let root = merkle_root(&hashes).map_err(ArchiveError::Invalid)?;
        let sealed = chain_seal(&previous, &root).map_err(ArchiveError::Invalid)?;
        let token = self.tsa(tenant).stamp(&Imprint {
            algorithm: HashAlgorithm::Sha256,
            digest: hex::decode(&sealed).map_err(|e| ArchiveError::Invalid(e.to_string()))?,
        })?;
        let seal = SealRow {
            first,
            last,
            merkle_root: root,
            previous,
            sealed: sealed.clone(),
            token: token.token.clone(),
            stamped_at: carnac_model::Timestamp::parse(&token.gen_time_text)
                .map_err(|e| ArchiveError::Invalid(e.to_string()))?,
            tsa: token.tsa.clone(),
            operation: operation.clone(),
        };
        let seal_json = seal_blob(&seal)?;
        let detail = serde_json::json!({
            "first": first,
            "last": last,
            "events": hashes.len(),
            "merkle_root": seal.merkle_root,
            "previous": seal.previous,
            "sealed": sealed,
            "stamped_at": seal.stamped_at,
            "tsa": seal.tsa,
            "qualified": !token.is_builtin(),
            "segment_sha256": segment_sha256,
            "seal_sha256": sha256_hex(&seal_json),
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::JournalSeal,
            outcome: Status::Ok,
            time: self.now().into(),
            agent: agent.into(),
            detail: detail.clone(),
        };
        self.catalog.start_operation(
            tenant,
            &operation,
            &EventKind::JournalSeal,
            &self.now(),
            agent,
        )?;
        let stored = self
            .store_segment(tenant, &operation, &segment_path, &seal_json)
            .and_then(|()| Ok(self.catalog.record_seal(tenant, &seal, &detail, &event)?));
        if let Err(e) = stored {
            for offer in &self.offers {
                if let Err(d) = offer.discard(tenant, &operation) {
                    tracing::error!(error = %d, offer = offer.name(), "discarding a failed seal's segment");
                }
            }
            let why = serde_json::json!({"status": "KO", "reasons": [{"step": "SEAL", "code": "FAILURE", "message": e.to_string()}]});
            if let Err(c) =
                self.close_failed(tenant, &operation, EventKind::JournalSeal, agent, &why)
            {
                tracing::error!(error = %c, "closing the failed seal");
            }
            return Err(e);
        }
        tracing::info!(%tenant, first, last, "journal sealed");
        Ok(Some(SealOutcome {
            operation,
            first,
            last,
            sealed,
            stamped_at: seal.stamped_at.to_string(),
            tsa: seal.tsa,
        }))
    }
}

/// An event, or the corruption of its row as an error (for work that needs every event).
fn readable(
    row: carnac_catalog::JournalRow,
) -> Result<carnac_model::journal::Event, carnac_catalog::CatalogError> {
    row.map_err(|u| {
        carnac_catalog::CatalogError::Corruption(format!(
            "journal event {}: {}",
            u.sequence, u.reason
        ))
    })
}

/// The blobs of a seal in every offer: the events it covers, and the seal with its token.
pub const SEGMENT_BLOBS: [&str; 2] = ["journal-segment.jsonl", "seal.json"];

/// A seal as its `seal.json` holds it.
pub(crate) fn seal_blob(seal: &SealRow) -> Result<Vec<u8>, ArchiveError> {
    serde_json::to_vec_pretty(&ExportedSeal::from_row(seal))
        .map_err(|e| ArchiveError::Invalid(e.to_string()))
}

/// One event as its segment holds it: a line of JSON.
pub(crate) fn segment_line(e: &carnac_model::journal::Event) -> Result<String, serde_json::Error> {
    serde_json::to_string(e).map(|mut l| {
        l.push('\n');
        l
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(HashAlgorithm::Sha256.digest(bytes))
}

impl Archive {
    /// Stores a seal's segment and the seal in every offer, durably, under the seal's
    /// operation.
    fn store_segment(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        segment: &std::path::Path,
        seal_json: &[u8],
    ) -> Result<(), ArchiveError> {
        for offer in &self.offers {
            let mut batch = offer.begin(tenant, operation)?;
            {
                let mut w = batch.create(SEGMENT_BLOBS[0])?;
                let mut f = std::fs::File::open(segment)
                    .map_err(|e| ArchiveError::io("reading the journal segment", e))?;
                std::io::copy(&mut f, &mut w)
                    .map_err(|e| ArchiveError::io("storing the journal segment", e))?;
                w.finish()?;
            }
            {
                let mut w = batch.create(SEGMENT_BLOBS[1])?;
                std::io::Write::write_all(&mut w, seal_json)
                    .map_err(|e| ArchiveError::io("storing the seal", e))?;
                w.finish()?;
            }
            batch.commit()?;
        }
        Ok(())
    }
}

/// Checks every seal: its range follows the previous one, it links to it, its Merkle root is
/// that of the recorded hashes of its events, its `sealed` value follows, and its token is a
/// valid timestamp of it from a trusted TSA.
pub fn check_seals(
    seals: &[SealRow],
    hashes: &[(u64, String)],
    trust: &TrustStore,
) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    let mut problem = |sequence: u64, code: &str, message: String| {
        problems.push(ChainProblem {
            sequence,
            code: code.into(),
            message,
        })
    };
    let mut previous: Option<&SealRow> = None;
    for seal in seals {
        let range = format!("the seal of events {} to {}", seal.first, seal.last);
        let (expected_first, expected_previous) =
            previous.map_or((1, GENESIS), |p| (p.last + 1, p.sealed.as_str()));
        if seal.first != expected_first {
            problem(
                seal.first,
                "SEAL_GAP",
                format!("{range} does not start after the previous seal (event {expected_first})"),
            );
        }
        if seal.previous != expected_previous {
            problem(
                seal.first,
                "SEAL_UNLINKED",
                format!(
                    "{range} records {} as the previous seal, not {expected_previous}",
                    seal.previous
                ),
            );
        }
        let covered: Vec<String> = hashes
            .iter()
            .filter(|(s, _)| (seal.first..=seal.last).contains(s))
            .map(|(_, h)| h.clone())
            .collect();
        if covered.len() as u64 != seal.last - seal.first + 1 {
            problem(
                seal.first,
                "SEAL_MISMATCH",
                format!(
                    "{range}: {} of its {} events are in the journal",
                    covered.len(),
                    seal.last - seal.first + 1
                ),
            );
        } else {
            match merkle_root(&covered) {
                Ok(root) if root == seal.merkle_root => {}
                Ok(root) => problem(
                    seal.first,
                    "SEAL_MISMATCH",
                    format!(
                        "{range}: the events give the root {root}, the seal recorded {}: events were changed after they were sealed",
                        seal.merkle_root
                    ),
                ),
                Err(e) => problem(seal.first, "SEAL_MISMATCH", format!("{range}: {e}")),
            }
        }
        match chain_seal(&seal.previous, &seal.merkle_root) {
            Ok(s) if s == seal.sealed => {}
            Ok(s) => problem(
                seal.first,
                "SEAL_MISMATCH",
                format!(
                    "{range}: previous and root give {s}, the seal recorded {}",
                    seal.sealed
                ),
            ),
            Err(e) => problem(seal.first, "SEAL_MISMATCH", format!("{range}: {e}")),
        }
        let imprint = Imprint {
            algorithm: HashAlgorithm::Sha256,
            digest: hex::decode(&seal.sealed).unwrap_or_default(),
        };
        if let Err(e) = verify_token(
            &seal.token,
            &Expected {
                imprint: &imprint,
                nonce: None,
                policy: None,
            },
            trust,
        ) {
            problem(
                seal.first,
                "SEAL_TOKEN",
                format!("{range}: its timestamp is not valid: {e}"),
            );
        }
        previous = Some(seal);
    }
    problems
}

/// A seal as exported: its token in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedSeal {
    pub first: u64,
    pub last: u64,
    pub merkle_root: String,
    pub previous: String,
    pub sealed: String,
    pub stamped_at: String,
    pub tsa: String,
    /// The RFC 3161 token, DER, base64.
    pub token: String,
}

impl ExportedSeal {
    fn from_row(s: &SealRow) -> ExportedSeal {
        use base64::Engine as _;
        ExportedSeal {
            first: s.first,
            last: s.last,
            merkle_root: s.merkle_root.clone(),
            previous: s.previous.clone(),
            sealed: s.sealed.clone(),
            stamped_at: s.stamped_at.to_string(),
            tsa: s.tsa.clone(),
            token: base64::engine::general_purpose::STANDARD.encode(&s.token),
        }
    }

    fn to_row(&self) -> Result<SealRow, String> {
        use base64::Engine as _;
        Ok(SealRow {
            first: self.first,
            last: self.last,
            merkle_root: self.merkle_root.clone(),
            previous: self.previous.clone(),
            sealed: self.sealed.clone(),
            token: base64::engine::general_purpose::STANDARD
                .decode(&self.token)
                .map_err(|e| {
                    format!("seal of events {} to {}: token: {e}", self.first, self.last)
                })?,
            stamped_at: carnac_model::Timestamp::parse(&self.stamped_at)
                .map_err(|e| format!("seal of events {} to {}: {e}", self.first, self.last))?,
            tsa: self.tsa.clone(),
            operation: OperationId::new("exported").map_err(|e| e.to_string())?,
        })
    }
}

/// One event, provable alone: the event, its Merkle path to the root of the seal that covers
/// it, and that seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventProof {
    pub event: carnac_model::journal::Event,
    /// The reduced hash tree from the event's hash to the seal's root (RFC 4998 form, hex).
    pub path: Vec<Vec<String>>,
    pub seal: ExportedSeal,
}

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenEvent {
    pub sequence: u64,
    pub kind: String,
    pub sealed_at: String,
    pub tsa: String,
}

/// Checks a proof alone: the event's hash from its fields, the path to the seal's root, the
/// seal's link to it, and its timestamp.
pub fn verify_proof(proof: &EventProof, trust: &TrustStore) -> Result<ProvenEvent, String> {
    let e = &proof.event;
    let hash =
        carnac_model::journal::event_hash(e.format_version, e.sequence, &e.event, &e.previous)
            .map_err(|err| err.to_string())?;
    if hash != e.hash {
        return Err(format!(
            "event {}: its fields give {hash}, not its recorded hash {}",
            e.sequence, e.hash
        ));
    }
    if !(proof.seal.first..=proof.seal.last).contains(&e.sequence) {
        return Err(format!(
            "event {} is outside the seal of events {} to {}",
            e.sequence, proof.seal.first, proof.seal.last
        ));
    }
    let leaf = hex::decode(&hash).map_err(|err| err.to_string())?;
    let path = proof
        .path
        .iter()
        .map(|list| list.iter().map(hex::decode).collect::<Result<Vec<_>, _>>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("path: {err}"))?;
    let root = carnac_evidence::tree::recover_root(HashAlgorithm::Sha256, &leaf, &path)?;
    if hex::encode(&root) != proof.seal.merkle_root {
        return Err(format!(
            "event {}: the path leads to {}, not to the sealed root {}",
            e.sequence,
            hex::encode(&root),
            proof.seal.merkle_root
        ));
    }
    let seal = proof.seal.to_row()?;
    let sealed = chain_seal(&seal.previous, &seal.merkle_root)?;
    if sealed != seal.sealed {
        return Err(format!(
            "the seal's values give {sealed}, not {}",
            seal.sealed
        ));
    }
    let imprint = Imprint {
        algorithm: HashAlgorithm::Sha256,
        digest: hex::decode(&sealed).map_err(|err| err.to_string())?,
    };
    let token = verify_token(
        &seal.token,
        &Expected {
            imprint: &imprint,
            nonce: None,
            policy: None,
        },
        trust,
    )
    .map_err(|err| format!("the seal's timestamp: {err}"))?;
    Ok(ProvenEvent {
        sequence: e.sequence,
        kind: e.event.kind.to_string(),
        sealed_at: token.gen_time_text,
        tsa: token.tsa,
    })
}

/// Which events a page of a tenant's journal shows ([`Archive::journal_backwards`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalFilter {
    pub kind: Option<EventKind>,
    pub outcome: Option<Status>,
}

/// A page of a tenant's journal, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalBrowse {
    pub events: Vec<crate::report::ReportedEvent>,
    /// Where the next (older) page starts: pass it as `before`; none once the journal's first
    /// event is reached.
    pub next_before: Option<u64>,
    /// The tenant's last event when the page was read.
    pub last: u64,
    /// The time limit ended the reading before the page was full (a filter that matches
    /// little of a long journal): the page holds what was found, and `next_before` goes on
    /// from where the reading stopped.
    pub interrupted: bool,
}

/// Events read at a time, going back through a journal: a window the catalog walks forward
/// and stops at its end, so that no reading holds the catalog for a whole journal.
const BROWSE_WINDOW: u64 = 1000;

impl Archive {
    /// The seals of `tenant`'s journal, in order.
    pub fn seals(&self, tenant: &TenantId) -> Result<Vec<carnac_catalog::SealRow>, ArchiveError> {
        self.require_tenant(tenant)?;
        Ok(self.catalog.seals(tenant)?)
    }

    /// A page of `tenant`'s journal, newest first: at most `limit` events before sequence
    /// `before` (all, when `None`) that match `filter`, each with the seal that covers it.
    /// Reads back from the end a window at a time, and stops at `interrupt`.
    pub fn journal_backwards(
        &self,
        tenant: &TenantId,
        before: Option<u64>,
        filter: &JournalFilter,
        limit: usize,
        interrupt: &carnac_catalog::Interrupt,
    ) -> Result<JournalBrowse, ArchiveError> {
        self.require_tenant(tenant)?;
        let last = self.catalog.last_sequence(tenant)?;
        let seals = self.catalog.seals(tenant)?;
        let sealed_by = |sequence: u64| {
            // Seals are in order of their ranges, which follow each other.
            let i = seals.partition_point(|s| s.last < sequence);
            seals
                .get(i)
                .filter(|s| s.first <= sequence)
                .map(|s| (s.last, s.stamped_at.to_string()))
        };
        // Events `[start, end)` are read at each turn, `end` going down.
        let mut end = before.unwrap_or(last + 1).min(last + 1);
        let mut events = Vec::new();
        let mut interrupted = false;
        while end > 1 && events.len() < limit {
            if interrupt.is_due() {
                interrupted = true;
                break;
            }
            let start = end.saturating_sub(BROWSE_WINDOW).max(1);
            let mut window = Vec::new();
            let walked = self.catalog.each_event(tenant, start - 1, &mut |row| {
                let sequence = match &row {
                    Ok(e) => e.sequence,
                    Err(u) => u.sequence,
                };
                if sequence >= end {
                    return Err(carnac_catalog::CatalogError::Interrupted(String::new()));
                }
                // An event that cannot be read is shown as such: the verification says why.
                let reported = match row {
                    Ok(e) => {
                        if filter.kind.as_ref().is_some_and(|k| k != &e.event.kind)
                            || filter.outcome.is_some_and(|o| o != e.event.outcome)
                        {
                            return Ok(());
                        }
                        crate::report::ReportedEvent {
                            sequence,
                            kind: e.event.kind.to_string(),
                            time: e.event.time.clone(),
                            outcome: e.event.outcome.as_str().into(),
                            operation: e.event.operation.to_string(),
                            agent: e.event.agent.clone(),
                            sealed_by: sealed_by(sequence),
                        }
                    }
                    Err(_) if filter != &JournalFilter::default() => return Ok(()),
                    Err(_) => crate::report::ReportedEvent {
                        sequence,
                        kind: "UNREADABLE".into(),
                        time: String::new(),
                        outcome: "KO".into(),
                        operation: String::new(),
                        agent: String::new(),
                        sealed_by: sealed_by(sequence),
                    },
                };
                window.push(reported);
                Ok(())
            });
            match walked {
                Ok(()) | Err(carnac_catalog::CatalogError::Interrupted(_)) => {}
                Err(e) => return Err(e.into()),
            }
            for e in window.into_iter().rev() {
                if events.len() == limit {
                    break;
                }
                end = e.sequence;
                events.push(e);
            }
            if events.len() < limit {
                end = start;
            }
        }
        Ok(JournalBrowse {
            next_before: (end > 1).then_some(end),
            events,
            last,
            interrupted,
        })
    }
}
