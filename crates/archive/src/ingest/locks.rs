//! How long a WORM offer keeps a transfer's files: each object until the first day the
//! units holding it may leave the archive by a disposal their rules decide
//! ([`carnac_model::rules::disposal_date`]), the manifest until the last unit's. The
//! offer's own minimum applies under that (the blob store's part).
//!
//! Computed from the transfer's plan, before its batches are committed: a lock is set as
//! the object is copied to its final key, never after the catalog knows it. A transfer's
//! units descend from its own root units only (an ingest attaches no unit below one
//! already archived), so the plan holds every rule they inherit.

use super::checks::Plan;
use carnac_blobstore::Lock;
use carnac_model::Timestamp;
use carnac_model::rules::{EffectiveRules, disposal_date, inherit};
use time::Date;

/// The lock of each object of `plan.objects` (by index) and of the manifest.
pub(super) fn transfer_locks(plan: &Plan) -> (Vec<Lock>, Lock) {
    let dates = unit_disposal_dates(plan);
    let mut group_dates: Vec<Option<Date>> = vec![None; plan.groups.len()];
    for (u, unit) in plan.units.iter().enumerate() {
        for &g in &unit.groups {
            if let (Some(slot), Some(date)) = (group_dates.get_mut(g), dates[u]) {
                *slot = Some(slot.map_or(date, |d| d.max(date)));
            }
        }
    }
    let objects = plan
        .objects
        .iter()
        .map(|o| lock_until(group_dates.get(o.group).copied().flatten()))
        .collect();
    let manifest = lock_until(dates.iter().flatten().max().copied());
    (objects, manifest)
}

/// Midnight UTC of the day: a disposal is allowed from that day on.
fn lock_until(date: Option<Date>) -> Lock {
    match date {
        Some(d) => Lock::Until(Timestamp::from_datetime(d.midnight().assume_utc())),
        None => Lock::Minimum,
    }
}

/// Each unit's disposal date, its rules inherited down the plan's tree, parents first
/// (without recursion: a transfer chooses its depth). A unit on a cycle (which the checks
/// refuse) gets no date.
fn unit_disposal_dates(plan: &Plan) -> Vec<Option<Date>> {
    let n = plan.units.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = vec![0; n];
    for (u, unit) in plan.units.iter().enumerate() {
        for &p in &unit.parents {
            if p < n {
                children[p].push(u);
                waiting[u] += 1;
            }
        }
    }
    let mut effective: Vec<Option<EffectiveRules>> = vec![None; n];
    let mut ready: Vec<usize> = (0..n).filter(|&u| waiting[u] == 0).collect();
    while let Some(u) = ready.pop() {
        let unit = &plan.units[u];
        let parents: Vec<&EffectiveRules> = unit
            .parents
            .iter()
            .filter_map(|&p| effective.get(p).and_then(Option::as_ref))
            .collect();
        effective[u] = Some(inherit(&u.to_string(), None, &unit.management, &parents));
        for &c in &children[u] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(c);
            }
        }
    }
    effective
        .iter()
        .map(|e| e.as_ref().and_then(disposal_date))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::checks::{PlannedGroup, PlannedObject, PlannedUnit};
    use carnac_model::referential::RuleCategory;
    use carnac_model::rules::{Management, Rule};

    fn appraisal(end: Option<&str>) -> Management {
        let mut m = Management::default();
        m.category_mut(RuleCategory::AppraisalRule).rules = vec![Rule {
            rule: "APP".into(),
            start_date: Some("2000-01-01".into()),
            end_date: end.map(Into::into),
            ..Rule::default()
        }];
        m
    }

    fn unit(parents: Vec<usize>, groups: Vec<usize>, management: Management) -> PlannedUnit {
        PlannedUnit {
            index: 0,
            parents,
            groups,
            management,
        }
    }

    fn object(group: usize) -> PlannedObject {
        PlannedObject {
            index: 0,
            group,
            file: None,
            declared_digest: None,
            declared_size: None,
            version: "BinaryMaster_1".into(),
            physical: false,
        }
    }

    fn until(s: &str) -> Lock {
        Lock::Until(Timestamp::parse(s).expect("time"))
    }

    /// A child listed before its parent inherits the parent's rule; an object held by two
    /// units waits for the later; one held by an undated unit alone takes the minimum.
    #[test]
    fn objects_are_locked_until_their_units_may_leave() {
        let group = |i: usize| PlannedGroup {
            xml_id: format!("g{i}"),
        };
        let plan = Plan {
            groups: vec![group(0), group(1), group(2)],
            objects: vec![object(0), object(1), object(2)],
            units: vec![
                // 0: inherits 2030 from unit 1, holds group 0.
                unit(vec![1], vec![0], Management::default()),
                // 1: the root, until 2030.
                unit(vec![], vec![], appraisal(Some("2030-01-01"))),
                // 2: its own 2045, holds group 0 and 1.
                unit(vec![1], vec![0, 1], appraisal(Some("2045-03-01"))),
                // 3: undated, holds group 2.
                unit(vec![], vec![2], appraisal(None)),
            ],
        };
        let (objects, manifest) = transfer_locks(&plan);
        // Unit 2 declares its own APP rule: it replaces the inherited one of the same id.
        assert_eq!(
            objects,
            [
                until("2045-03-01T00:00:00.000Z"),
                until("2045-03-01T00:00:00.000Z"),
                Lock::Minimum,
            ]
        );
        assert_eq!(manifest, until("2045-03-01T00:00:00.000Z"));
    }

    #[test]
    fn a_transfer_without_dated_rules_takes_the_minimum() {
        let plan = Plan {
            groups: vec![PlannedGroup { xml_id: "g".into() }],
            objects: vec![object(0)],
            units: vec![unit(vec![], vec![0], Management::default())],
        };
        assert_eq!(transfer_locks(&plan), (vec![Lock::Minimum], Lock::Minimum));
    }
}
