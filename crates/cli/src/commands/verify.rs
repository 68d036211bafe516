//! Verifications that need nothing but exported files and trust anchors: evidence records,
//! exported journals and event proofs, an offer's copies of a journal.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::tenant;

pub(crate) fn trust_store(files: &[PathBuf]) -> anyhow::Result<carnac_timestamp::TrustStore> {
    let mut trust = carnac_timestamp::TrustStore::new();
    for t in files {
        let pem = std::fs::read(t).with_context(|| format!("reading {}", t.display()))?;
        trust = trust
            .with_anchors_pem(&pem)
            .with_context(|| format!("reading {}", t.display()))?;
    }
    Ok(trust)
}

/// `carnac journal verify --export DIR | --proof FILE`: no data folder.
/// A tenant's sealed journal rebuilt from one offer's folder into `out` (an export).
pub(crate) fn rebuild_from_offer(
    offer: &Path,
    t: &str,
    trust: &[PathBuf],
    out: &Path,
) -> anyhow::Result<carnac_archive::journal::OfferExport> {
    if !offer.is_dir() {
        bail!("{}: not a storage offer's folder", offer.display());
    }
    let t = tenant(t)?;
    let mut anchors = Vec::new();
    for f in trust {
        anchors.extend(std::fs::read(f).with_context(|| format!("reading {}", f.display()))?);
    }
    let store = carnac_blobstore::fs::FsStore::open("offer", offer)?;
    carnac_archive::journal::export_from_offer(&store, &t, out, &anchors)
        .map_err(|e| anyhow::anyhow!("{}: {e}", offer.display()))
}

pub(crate) fn verify_journal_offline(
    export: Option<&Path>,
    proof: Option<&Path>,
    trust: &[PathBuf],
    json: bool,
    shown: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let trust = trust_store(trust)?;
    if let Some(dir) = export {
        let (events, seals, problems) = carnac_archive::journal::verify_export(dir, &trust)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        if json {
            println!(
                "{}",
                serde_json::json!({"events": events, "seals": seals, "problems": problems})
            );
        } else {
            for p in &problems {
                println!("{} event {}: {}", p.code, p.sequence, p.message);
            }
            println!(
                "{}: {events} events, {seals} seals, {}",
                shown.map_or_else(|| dir.display().to_string(), str::to_owned),
                if problems.is_empty() {
                    "intact".to_owned()
                } else {
                    format!("{} problem(s)", problems.len())
                }
            );
        }
        return Ok(ExitCode::from(if problems.is_empty() { 0 } else { 2 }));
    }
    let Some(file) = proof else {
        bail!("--export or --proof");
    };
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let proof: carnac_archive::journal::EventProof =
        serde_json::from_slice(&text).with_context(|| format!("reading {}", file.display()))?;
    match carnac_archive::journal::verify_proof(&proof, &trust) {
        Ok(p) => {
            if json {
                println!("{}", serde_json::json!({"valid": true, "event": p}));
            } else {
                println!(
                    "VALID: event {} ({}) is in the journal as sealed at {} by {}",
                    p.sequence, p.kind, p.sealed_at, p.tsa
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({"valid": false, "problem": e}));
            } else {
                println!("INVALID: {e}");
            }
            Ok(ExitCode::from(2))
        }
    }
}

/// `carnac verify`: the file hashed once with every algorithm its record needs, then every
/// chain and timestamp of the record checked.
pub(crate) fn verify_offline(
    file: &Path,
    evidence: &Path,
    trust_files: &[PathBuf],
    crl_files: &[PathBuf],
    json: bool,
) -> anyhow::Result<ExitCode> {
    use carnac_evidence::verify::{required_algorithms, verify_with_revocation};
    let mut crls = Vec::new();
    for f in crl_files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        crls.extend(
            carnac_timestamp::revocation::read_crls(&bytes)
                .with_context(|| format!("reading {}", f.display()))?,
        );
    }
    let der = std::fs::read(evidence).with_context(|| format!("reading {}", evidence.display()))?;
    let record = carnac_evidence::EvidenceRecord::from_der(&der)
        .with_context(|| format!("reading {}", evidence.display()))?;
    let trust = trust_store(trust_files)?;
    let algorithms = required_algorithms(&record);
    let model: Vec<carnac_model::DigestAlgorithm> = algorithms
        .iter()
        .map(|a| {
            carnac_model::DigestAlgorithm::from_seda_name(a.name()).ok_or_else(|| {
                anyhow::anyhow!(
                    "the record uses {}, which cannot be computed here",
                    a.name()
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let mut hasher = carnac_model::MultiHasher::new(&model);
    let mut input =
        std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut input, &mut buf)
            .with_context(|| format!("reading {}", file.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digests = hasher
        .finish()
        .into_iter()
        .filter_map(|d| {
            let a = algorithms
                .iter()
                .find(|a| a.name() == d.algorithm.seda_name())?;
            Some((*a, hex::decode(&d.hex).ok()?))
        })
        .collect();
    #[allow(clippy::disallowed_methods)] // Offline verification is against the real time.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let v = verify_with_revocation(
        &record,
        &digests,
        &trust,
        now,
        (!crl_files.is_empty()).then_some(&crls[..]),
    );
    if json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "valid": v.valid(),
                "stamps": v.stamps,
                "problems": v.problems,
                "renew_before": v.renew_before,
            }))?
        );
    } else {
        for s in &v.stamps {
            println!(
                "chain {} timestamp {}: {} {} by {}{} (certificate until {})",
                s.chain,
                s.index,
                s.algorithm,
                s.time,
                s.tsa,
                if s.builtin { ", not qualified" } else { "" },
                s.certificate_until
            );
            for r in &s.revocation {
                println!("  {r}");
            }
        }
        for p in &v.problems {
            println!("INVALID: {p}");
        }
        if crl_files.is_empty() {
            println!("no revocation data was given (--crl): revocation was not checked");
        }
        if trust_files.is_empty() {
            println!("no trust anchor was given (--trust): no timestamp can be trusted");
        }
        if v.valid() {
            println!(
                "VALID: {} existed unchanged at {}{}",
                file.display(),
                v.stamps.first().map_or("?", |s| s.time.as_str()),
                v.renew_before
                    .as_deref()
                    .map(|r| format!("; renew the record before {r}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::from(if v.valid() { 0 } else { 2 }))
}
