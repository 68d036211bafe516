//! A selection of units, as the lifecycle operations take it (rule changes, eliminations,
//! and the packages out that come next): units named by identifier, or every unit a search
//! matches. Bounded before it drives any work.

use crate::{Archive, ArchiveError};
use carnac_catalog::{Interrupt, UnitQuery};
use carnac_model::{TenantId, UnitId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How many units one selection may hold: what one operation changes in one transaction
/// and reports unit by unit. Larger sets are several operations.
pub const MAX_SELECTED_UNITS: usize = 100_000;

/// The criteria of the unit search (`GET …/units`), for a selection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectionQuery {
    /// Words anywhere in the unit.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub agency: Option<String>,
    #[serde(default)]
    pub keyword: Option<String>,
    /// Units whose dates reach this day or later (YYYY-MM-DD).
    #[serde(default)]
    pub from: Option<String>,
    /// Units whose dates start this day or earlier.
    #[serde(default)]
    pub to: Option<String>,
}

impl SelectionQuery {
    fn to_unit_query(&self, limit: u64) -> UnitQuery {
        UnitQuery {
            text: self.q.clone(),
            title: self.title.clone(),
            agency: self.agency.clone(),
            keyword: self.keyword.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            offset: 0,
            limit,
        }
    }
}

/// What a selection found: the units, in the order given (then the search's), each once,
/// and the identifiers that name no unit of the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    pub units: Vec<UnitId>,
    pub unknown: Vec<String>,
}

impl Archive {
    /// The units `ids` names and those `query` matches. Every problem is reported at once: an
    /// identifier that is not one, too many units, a query whose words are out of bounds, a
    /// query that matches more units than the search counts exactly (narrow it, or list the
    /// units).
    pub fn select_units(
        &self,
        tenant: &TenantId,
        ids: &[String],
        query: Option<&SelectionQuery>,
    ) -> Result<Selected, ArchiveError> {
        self.require_tenant(tenant)?;
        let mut problems = Vec::new();
        if ids.is_empty() && query.is_none() {
            problems.push("name the units (units) or a search (query)".to_owned());
        }
        if ids.len() > MAX_SELECTED_UNITS {
            problems.push(format!(
                "{} units listed; at most {MAX_SELECTED_UNITS} in one selection",
                ids.len()
            ));
        }
        let mut parsed = Vec::new();
        let mut malformed = 0usize;
        for id in ids.iter().take(MAX_SELECTED_UNITS) {
            match id.parse::<UnitId>() {
                Ok(u) => parsed.push(u),
                Err(e) => {
                    malformed += 1;
                    if malformed <= 10 {
                        problems.push(format!(
                            "{:?} is not a unit identifier: {e}",
                            carnac_model::journal::bounded_text(id, 80)
                        ));
                    }
                }
            }
        }
        if malformed > 10 {
            problems.push(format!("{} more malformed identifiers", malformed - 10));
        }
        let window = self.catalog.search_window();
        let unit_query = query.map(|q| q.to_unit_query(window));
        if let Some(q) = &unit_query {
            problems.extend(q.problems());
        }
        if !problems.is_empty() {
            return Err(ArchiveError::InvalidRequest(problems));
        }
        let mut seen = BTreeSet::new();
        let mut out = Selected::default();
        let known: BTreeSet<UnitId> = self
            .catalog
            .rules_graph(tenant, &parsed)?
            .into_iter()
            .map(|u| u.id)
            .collect();
        for u in parsed {
            if !seen.insert(u.clone()) {
                continue;
            }
            if known.contains(&u) {
                out.units.push(u);
            } else {
                out.unknown.push(u.to_string());
            }
        }
        if let Some(q) = &unit_query {
            let page = self.catalog.search_units(tenant, q, &Interrupt::none())?;
            if !page.total_exact || page.total > window {
                return Err(ArchiveError::InvalidRequest(vec![format!(
                    "the query matches {} units or more; a query selects at most {window}: narrow it, or list the units",
                    page.total
                )]));
            }
            for u in page.units {
                if seen.insert(u.id.clone()) {
                    out.units.push(u.id);
                }
            }
        }
        if out.units.len() > MAX_SELECTED_UNITS {
            return Err(ArchiveError::InvalidRequest(vec![format!(
                "the selection holds {} units; at most {MAX_SELECTED_UNITS}",
                out.units.len()
            )]));
        }
        Ok(out)
    }
}
