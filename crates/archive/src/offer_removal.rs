//! An offer removed from the archive (issue 20): an explicit, journaled operation. The
//! catalog forgets every copy that offer holds, tenant by tenant, each with an
//! `OFFER_REMOVAL` operation and event; the offer's blobs are left for the operator to
//! decommission. Refused, with every reason, while any file would keep fewer than two
//! copies in the other offers: replacing a site is adding the new offer, `offers sync`, then
//! removing the old one.

use crate::{Archive, ArchiveError};
use carnac_model::journal::{EventKind, NewEvent};
use carnac_model::{ObjectId, OperationId, Status, TenantId};
use std::collections::BTreeMap;

/// The fewest copies a file keeps when an offer goes.
pub const MIN_COPIES_LEFT: usize = 2;

/// How many files short of copies a refusal names before it counts the rest.
const NAMED: usize = 20;

/// What a removal did, tenant by tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RemovalReport {
    pub offer: String,
    /// Each tenant whose copies were forgotten: how many, and the operation.
    pub tenants: Vec<(TenantId, u64, OperationId)>,
}

impl Archive {
    /// Forgets every copy `offer` holds, in every tenant, journaled; refused while a file
    /// would be left with fewer than [`MIN_COPIES_LEFT`] copies elsewhere.
    pub fn remove_offer(&self, offer: &str, agent: &str) -> Result<RemovalReport, ArchiveError> {
        let tenants = self.catalog.tenants()?;
        let mut short: Vec<String> = Vec::new();
        let mut more = 0usize;
        let mut holds = BTreeMap::new();
        for t in &tenants {
            // Copies per object, outside the offer that goes.
            let mut elsewhere: BTreeMap<ObjectId, usize> = BTreeMap::new();
            let mut there = 0u64;
            for (_, copy) in self.catalog.copies(&t.id)? {
                if copy.offer == offer {
                    there += 1;
                    elsewhere.entry(copy.object).or_default();
                } else {
                    *elsewhere.entry(copy.object).or_default() += 1;
                }
            }
            holds.insert(t.id.clone(), there);
            for (object, n) in elsewhere {
                if n < MIN_COPIES_LEFT {
                    if short.len() < NAMED {
                        short.push(format!(
                            "tenant {}: object {object} would keep {n} cop{} in the other offers",
                            t.id,
                            if n == 1 { "y" } else { "ies" }
                        ));
                    } else {
                        more += 1;
                    }
                }
            }
        }
        if holds.values().all(|n| *n == 0) && !self.offers.iter().any(|o| o.name() == offer) {
            return Err(ArchiveError::NotFound(format!(
                "offer {offer:?}: no copy recorded there and not configured"
            )));
        }
        if !short.is_empty() {
            if more > 0 {
                short.push(format!("and {more} more files short of copies"));
            }
            short.push(format!(
                "add another offer and fill it (`carnac offers sync`) before removing {offer:?}"
            ));
            return Err(ArchiveError::InvalidRequest(short));
        }
        let mut report = RemovalReport {
            offer: offer.to_owned(),
            tenants: Vec::new(),
        };
        for (tenant, there) in holds {
            if there == 0 {
                continue;
            }
            let operation = self.new_operation()?;
            let summary = serde_json::json!({"offer": offer, "copies": there});
            let event = NewEvent {
                tenant: tenant.clone(),
                operation: operation.clone(),
                kind: EventKind::OfferRemoval,
                outcome: Status::Ok,
                time: self.now().into(),
                agent: agent.into(),
                detail: summary.clone(),
            };
            let n = self
                .catalog
                .forget_offer(&tenant, offer, &summary, &event)?;
            tracing::warn!(%tenant, offer, copies = n, "offer removed: its copies forgotten");
            report.tenants.push((tenant, n, operation));
        }
        Ok(report)
    }
}
