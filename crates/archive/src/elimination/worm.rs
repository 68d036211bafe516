//! What a WORM offer refuses: a unit's files locked there (S3 Object Lock in COMPLIANCE
//! mode, until the day its rules let it go, as the ingest set it) cannot be deleted before
//! then, by anyone. An execution (elimination, transfer out, restitution, closure) that
//! would meet such a file is refused before it begins, with each unit and the date its
//! files are kept until, rather than stopped half-way by the server with units gone from
//! the catalog and their files still there.

use super::*;
use carnac_blobstore::BlobKey;
use carnac_model::Timestamp;

/// How many units a refusal names; the count of the others follows.
const NAMED: usize = 100;

/// A unit's files as an analysis records them: the ingest that stored them and their
/// object identifiers.
pub(super) fn unit_files(record: &serde_json::Value) -> Option<(OperationId, Vec<String>)> {
    let batch = record["ingest"].as_str()?.parse().ok()?;
    let files = record["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect();
    Some((batch, files))
}

impl Archive {
    /// Whether an offer is WORM: only then are files looked at.
    pub(super) fn has_worm_offer(&self) -> bool {
        self.offers.iter().any(|o| o.is_worm())
    }

    /// Refuses, naming everything (up to [`NAMED`]) whose files a WORM offer still locks:
    /// `held` gives each unit (or other holder of files, as `label`), the ingest that stored
    /// its files and their names. One request per file and WORM offer: the lock's date is
    /// the server's to say.
    pub(super) fn refuse_worm_locked(
        &self,
        tenant: &TenantId,
        what: &str,
        held: &[(String, OperationId, Vec<String>)],
    ) -> Result<(), ArchiveError> {
        let worm: Vec<_> = self.offers.iter().filter(|o| o.is_worm()).collect();
        if worm.is_empty() {
            return Ok(());
        }
        let mut locked: Vec<(String, Timestamp, String)> = Vec::new();
        for (label, batch, files) in held {
            let mut latest: Option<(Timestamp, String)> = None;
            for name in files {
                let key = BlobKey {
                    tenant: tenant.clone(),
                    batch: batch.clone(),
                    name: name.clone(),
                };
                for offer in &worm {
                    match offer.locked_until(&key) {
                        Ok(Some(until)) => {
                            if latest
                                .as_ref()
                                .is_none_or(|(l, _)| until.to_datetime() > l.to_datetime())
                            {
                                latest = Some((until, offer.name().to_owned()));
                            }
                        }
                        Ok(None) => {}
                        // Gone already (a purge cut short): nothing to keep.
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if let Some((until, offer)) = latest {
                locked.push((label.clone(), until, offer));
            }
        }
        if locked.is_empty() {
            return Ok(());
        }
        let mut reasons: Vec<String> = locked
            .iter()
            .take(NAMED)
            .map(|(label, until, offer)| {
                format!("{label}: under a WORM retention on offer {offer} until {until}")
            })
            .collect();
        if locked.len() > NAMED {
            reasons.push(format!("and {} more", locked.len() - NAMED));
        }
        tracing::warn!(%tenant, what, units = locked.len(), "refused: files under a WORM retention");
        Err(ArchiveError::State {
            code: "worm_retention",
            message: format!(
                "{what} cannot be executed, and nothing was destroyed: a WORM offer keeps the \
                 files of {} of its units until a later date ({}). Execute it again once \
                 those dates have passed, or take those units out",
                locked.len(),
                reasons.join("; ")
            ),
        })
    }
}
