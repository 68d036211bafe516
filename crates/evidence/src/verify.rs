//! Complete verification of an evidence record for a file (RFC 4998 section 5.3): every
//! chain, every archive timestamp, every token, and the renewals' timing.

use crate::tree::recover_root;
use crate::{EvidenceRecord, HashAlgorithm, renewal_leaf, timestamp_renewal_leaf};
use carnac_timestamp::Imprint;
use carnac_timestamp::revocation::{Crl, check_chain};
use carnac_timestamp::verify::{Expected, TrustStore, VerifiedToken, verify_token};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// One archive timestamp that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampSummary {
    /// Position in the record: chain (0 first), timestamp in the chain (0 first).
    pub chain: usize,
    pub index: usize,
    pub algorithm: String,
    pub time: String,
    pub tsa: String,
    /// A token of the built-in TSA: not from a qualified service.
    pub builtin: bool,
    /// The end of the TSA certificate's validity: the next renewal had to come before it.
    pub certificate_until: String,
    /// What the revocation data says of its certificates, when it was checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocation: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub stamps: Vec<StampSummary>,
    /// Everything wrong; empty when the record proves the file.
    pub problems: Vec<String>,
    /// When the record must be renewed at the latest (the last certificate's end).
    pub renew_before: Option<String>,
}

impl Verification {
    pub fn valid(&self) -> bool {
        self.problems.is_empty() && !self.stamps.is_empty()
    }
}

/// The hash algorithms the file must be hashed with to verify `record`.
pub fn required_algorithms(record: &EvidenceRecord) -> Vec<HashAlgorithm> {
    let mut out = Vec::new();
    for ats in record.archive_time_stamp_sequence.iter().flatten() {
        if let Some(a) = ats.algorithm()
            && !out.contains(&a)
        {
            out.push(a);
        }
    }
    out
}

/// Verifies `record` for a file whose digests are `data` (one per algorithm of
/// [`required_algorithms`]), trusting `trust`, at time `now`.
pub fn verify(
    record: &EvidenceRecord,
    data: &HashMap<HashAlgorithm, Vec<u8>>,
    trust: &TrustStore,
    now: Duration,
) -> Verification {
    verify_with_revocation(record, data, trust, now, None)
}

/// [`verify`], and when `crls` is given, the revocation status of every timestamp's
/// certificates: each must be covered by a CRL of its issuer issued after the timestamp, and
/// not revoked before it nor, for a compromise, before the timestamp that renewed it (for the
/// last one, before `now`). See [`carnac_timestamp::revocation::check_chain`].
pub fn verify_with_revocation(
    record: &EvidenceRecord,
    data: &HashMap<HashAlgorithm, Vec<u8>>,
    trust: &TrustStore,
    now: Duration,
    crls: Option<&[Crl]>,
) -> Verification {
    let mut good: Vec<(String, VerifiedToken)> = Vec::new();
    let mut stamps = Vec::new();
    let mut problems = Vec::new();
    let mut previous: Option<(usize, usize, VerifiedToken)> = None;
    let chains = &record.archive_time_stamp_sequence;
    if chains.iter().all(Vec::is_empty) {
        problems.push("the record holds no archive timestamp".to_owned());
    }
    for (c, chain) in chains.iter().enumerate() {
        let mut chain_algorithm = None;
        for (i, ats) in chain.iter().enumerate() {
            let at = format!("chain {c}, timestamp {i}");
            let Some(algorithm) = ats.algorithm() else {
                problems.push(format!("{at}: unknown or unreadable digest algorithm"));
                continue;
            };
            if *chain_algorithm.get_or_insert(algorithm) != algorithm {
                problems.push(format!(
                    "{at}: uses {} in a chain of {}",
                    algorithm.name(),
                    chain_algorithm.map_or("?", HashAlgorithm::name)
                ));
            }
            let leaf = if i > 0 {
                timestamp_renewal_leaf(algorithm, &chain[i - 1]).map_err(|e| e.to_string())
            } else {
                match data.get(&algorithm) {
                    None => Err(format!("the file was not hashed with {}", algorithm.name())),
                    Some(d) if c == 0 => Ok(d.clone()),
                    Some(d) => renewal_leaf(algorithm, d, &chains[..c]).map_err(|e| e.to_string()),
                }
            };
            let root = leaf.and_then(|leaf| recover_root(algorithm, &leaf, &ats.reduced()));
            let root = match root {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!(
                        "{at}: {e}{}",
                        if i == 0 && c == 0 {
                            " (the record is not this file's)"
                        } else {
                            ""
                        }
                    ));
                    continue;
                }
            };
            let token = match ats.token() {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let imprint = Imprint {
                algorithm,
                digest: root,
            };
            let verified = verify_token(
                &token,
                &Expected {
                    imprint: &imprint,
                    nonce: None,
                    policy: None,
                },
                trust,
            );
            let v = match verified {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{at}: {e}"));
                    continue;
                }
            };
            if let Some((pc, pi, p)) = &previous {
                if v.gen_time > p.signer_not_after {
                    problems.push(format!(
                        "{at} was made on {}, after the certificate of the timestamp it renews (chain {pc}, timestamp {pi}) ended on {}: the renewal came too late",
                        v.gen_time_text,
                        carnac_timestamp_text(p.signer_not_after)
                    ));
                }
                if v.gen_time < p.gen_time {
                    problems.push(format!(
                        "{at} ({}) is older than the timestamp it renews ({})",
                        v.gen_time_text, p.gen_time_text
                    ));
                }
            }
            stamps.push(StampSummary {
                chain: c,
                index: i,
                algorithm: algorithm.name().to_owned(),
                time: v.gen_time_text.clone(),
                tsa: v.tsa.clone(),
                builtin: v.is_builtin(),
                certificate_until: carnac_timestamp_text(v.signer_not_after),
                revocation: Vec::new(),
            });
            good.push((at, v.clone()));
            previous = Some((c, i, v));
        }
    }
    if let Some(crls) = crls {
        // Timestamps come in renewal order: each one's deadline is the next one's time.
        for (k, (at, v)) in good.iter().enumerate() {
            let deadline = good.get(k + 1).map_or(now, |(_, next)| next.gen_time);
            match check_chain(&v.chain, crls, v.gen_time, deadline) {
                Ok(notes) => stamps[k].revocation = notes,
                Err(found) => problems.extend(found.into_iter().map(|p| format!("{at}: {p}"))),
            }
        }
    }
    let mut renew_before = None;
    if let Some((_, _, last)) = &previous {
        if now > last.signer_not_after {
            problems.push(format!(
                "the record was not renewed in time: the certificate of its last timestamp ended on {}",
                carnac_timestamp_text(last.signer_not_after)
            ));
        } else {
            renew_before = Some(carnac_timestamp_text(last.signer_not_after));
        }
    }
    Verification {
        stamps,
        problems,
        renew_before,
    }
}

fn carnac_timestamp_text(t: Duration) -> String {
    carnac_timestamp::verify::rfc3339(t)
}
