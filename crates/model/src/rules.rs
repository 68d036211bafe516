//! Management rules of archive units: what a unit declares (its [`Management`]), what it
//! holds once inherited down the unit tree ([`EffectiveRules`]), and what they decide for
//! its disposal ([`appraise`]).
//!
//! Inheritance is computed as Vitam computes it (`ComputeInheritedRuleService`, whose test
//! cases are ours too), so that a unit has the same effective rules here as in a Vitam that
//! received the same transfer:
//! - a unit inherits every rule of each parent's effective rules, per category; a rule that
//!   reaches it from the same origin by several parents counts once;
//! - a rule it declares itself replaces the inherited rules of the same identifier;
//! - `RefNonRuleId` removes one inherited rule, `PreventInheritance` all of a category;
//! - properties (`FinalAction`) are inherited the same way, and one the unit declares
//!   replaces those it would inherit. A unit of an originating agency that neither declares
//!   nor inherits a `FinalAction` of that agency for appraisal gets an implicit `Keep`:
//!   "no FinalAction means Keep", and it overrides what other agencies' units pass down.
//!
//! Vitam keeps every path by which a rule is inherited; that list grows as the product of
//! the parents' counts along the graph, which a transfer chooses. Here each inherited rule
//! keeps its origin (the unit that declares it, and its agency) and nothing of the paths.

use crate::referential::RuleCategory;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::Date;

/// What a category's `FinalAction` says: `Keep`/`Destroy` for appraisal,
/// `RestrictAccess`/`Transfer`/`Copy` for storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FinalAction {
    Keep,
    Destroy,
    RestrictAccess,
    Transfer,
    Copy,
}

impl FinalAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "Keep",
            Self::Destroy => "Destroy",
            Self::RestrictAccess => "RestrictAccess",
            Self::Transfer => "Transfer",
            Self::Copy => "Copy",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Keep,
            Self::Destroy,
            Self::RestrictAccess,
            Self::Transfer,
            Self::Copy,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
    /// Whether a category may carry this action (SEDA's two code lists).
    pub fn fits(self, category: RuleCategory) -> bool {
        match category {
            RuleCategory::AppraisalRule => matches!(self, Self::Keep | Self::Destroy),
            RuleCategory::StorageRule => {
                matches!(self, Self::RestrictAccess | Self::Transfer | Self::Copy)
            }
            _ => false,
        }
    }
}

/// Where a unit's own rule was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GivenIn {
    /// The unit's own `Management` in the transfer.
    #[default]
    Management,
    /// The transfer's `ManagementMetadata`, which applies to its root units.
    ManagementMetadata,
    /// A rule change after ingest.
    Change,
}

impl GivenIn {
    fn is_management(&self) -> bool {
        *self == Self::Management
    }
}

/// One rule a unit declares.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rule {
    /// The rule's identifier in the tenant's referential (SEDA 1.0: the code as given).
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Computed from the start date and the rule's duration (or, for a hold of undefined
    /// duration, its `HoldEndDate`); none when it cannot be dated: the rule does not end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// SEDA 0.2 and 1.0 give the duration in the transfer (ISO 8601, as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_duration: Option<String>,
    #[serde(default, skip_serializing_if = "GivenIn::is_management")]
    pub given_in: GivenIn,
    #[serde(default, skip_serializing_if = "Hold::is_empty")]
    pub hold: Hold,
}

/// What a `HoldRule` says besides its rule (SEDA 2.2+).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hold {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassessing_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_rearrangement: Option<bool>,
}

impl Hold {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a unit declares for one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRules {
    pub category: RuleCategory,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_inheritance: bool,
    /// `RefNonRuleId`: inherited rules this unit does not take.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ref_non_rule_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_action: Option<FinalAction>,
}

impl CategoryRules {
    pub fn new(category: RuleCategory) -> Self {
        Self {
            category,
            rules: Vec::new(),
            prevent_inheritance: false,
            ref_non_rule_ids: Vec::new(),
            final_action: None,
        }
    }
}

/// A unit's own management rules, category by category, as given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Management {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryRules>,
}

impl Management {
    pub fn category(&self, category: RuleCategory) -> Option<&CategoryRules> {
        self.categories.iter().find(|c| c.category == category)
    }
    /// The category's entry, made if missing; categories stay in SEDA's order.
    pub fn category_mut(&mut self, category: RuleCategory) -> &mut CategoryRules {
        let at = match self
            .categories
            .binary_search_by_key(&category, |c| c.category)
        {
            Ok(i) => i,
            Err(i) => {
                self.categories.insert(i, CategoryRules::new(category));
                i
            }
        };
        &mut self.categories[at]
    }
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }
    /// Every rule with its category.
    pub fn rules(&self) -> impl Iterator<Item = (RuleCategory, &Rule)> {
        self.categories
            .iter()
            .flat_map(|c| c.rules.iter().map(move |r| (c.category, r)))
    }

    /// Merges the transfer's `ManagementMetadata` into a root unit's own rules, as Vitam
    /// does: a category the unit cuts off (`PreventInheritance`) takes nothing, a rule the
    /// unit excludes (`RefNonRuleId`) or declares itself is not added, and a `FinalAction`
    /// fills only a category that has none.
    pub fn merge_package_rules(&mut self, package: &Management) {
        for given in &package.categories {
            let own = self.category_mut(given.category);
            if own.prevent_inheritance {
                continue;
            }
            for r in &given.rules {
                if own.ref_non_rule_ids.contains(&r.rule)
                    || own.rules.iter().any(|o| o.rule == r.rule)
                {
                    continue;
                }
                own.rules.push(Rule {
                    given_in: GivenIn::ManagementMetadata,
                    ..r.clone()
                });
            }
            if own.final_action.is_none() {
                own.final_action = given.final_action;
            }
            if given.prevent_inheritance {
                own.prevent_inheritance = true;
            }
            for id in &given.ref_non_rule_ids {
                if !own.ref_non_rule_ids.contains(id) {
                    own.ref_non_rule_ids.push(id.clone());
                }
            }
        }
        self.categories.retain(|c| {
            !c.rules.is_empty()
                || c.prevent_inheritance
                || !c.ref_non_rule_ids.is_empty()
                || c.final_action.is_some()
        });
    }
}

/// Where an effective rule or property comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    /// The unit that declares it (the unit itself when it is not inherited).
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originating_agency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveRule {
    pub category: RuleCategory,
    #[serde(flatten)]
    pub rule: Rule,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveFinalAction {
    pub category: RuleCategory,
    pub final_action: FinalAction,
    pub origin: Origin,
    /// Not declared anywhere: appraisal's default for a unit of an originating agency.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub implicit: bool,
}

/// A unit's rules once inherited: its own and those of its ancestors that reach it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EffectiveRules {
    pub rules: Vec<EffectiveRule>,
    pub final_actions: Vec<EffectiveFinalAction>,
}

impl EffectiveRules {
    pub fn of(&self, category: RuleCategory) -> impl Iterator<Item = &EffectiveRule> {
        self.rules.iter().filter(move |r| r.category == category)
    }
    pub fn final_actions_of(
        &self,
        category: RuleCategory,
    ) -> impl Iterator<Item = &EffectiveFinalAction> {
        self.final_actions
            .iter()
            .filter(move |p| p.category == category)
    }
}

/// The effective rules of `unit` (of `agency`), which declares `own`, from its parents'
/// effective rules. Parents come first: the caller walks the tree from the top.
pub fn inherit(
    unit: &str,
    agency: Option<&str>,
    own: &Management,
    parents: &[&EffectiveRules],
) -> EffectiveRules {
    let here = Origin {
        unit: unit.to_owned(),
        originating_agency: agency.map(str::to_owned),
    };
    let mut out = EffectiveRules::default();
    for category in RuleCategory::ALL {
        let declared = own.category(category);
        // Own rules first, in the order given.
        for r in declared.into_iter().flat_map(|c| &c.rules) {
            out.rules.push(EffectiveRule {
                category,
                rule: r.clone(),
                origin: here.clone(),
            });
        }
        let cut = declared.is_some_and(|c| c.prevent_inheritance);
        if !cut {
            let mut seen: BTreeSet<(&Origin, &str)> = BTreeSet::new();
            let mut inherited = Vec::new();
            for parent in parents {
                for r in parent.of(category) {
                    let refused = declared.is_some_and(|c| {
                        c.ref_non_rule_ids.contains(&r.rule.rule)
                            || c.rules.iter().any(|o| o.rule == r.rule.rule)
                    });
                    if !refused && seen.insert((&r.origin, r.rule.rule.as_str())) {
                        inherited.push(r.clone());
                    }
                }
            }
            out.rules.extend(inherited);
        }
        // Properties: declared here, else inherited (unless cut), then the implicit Keep.
        let mut actions = Vec::new();
        if let Some(action) = declared.and_then(|c| c.final_action) {
            actions.push(EffectiveFinalAction {
                category,
                final_action: action,
                origin: here.clone(),
                implicit: false,
            });
        } else if !cut {
            let mut seen: BTreeSet<&Origin> = BTreeSet::new();
            for parent in parents {
                for p in parent.final_actions_of(category) {
                    if seen.insert(&p.origin) {
                        actions.push(p.clone());
                    }
                }
            }
        }
        if category == RuleCategory::AppraisalRule
            && let Some(agency) = agency
            && !actions
                .iter()
                .any(|p| p.origin.originating_agency.as_deref() == Some(agency))
        {
            actions = vec![EffectiveFinalAction {
                category,
                final_action: FinalAction::Keep,
                origin: here.clone(),
                implicit: true,
            }];
        }
        out.final_actions.extend(actions);
    }
    out
}

/// Why a unit may not be destroyed at a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Exclusion {
    /// Its effective appraisal says Keep (no FinalAction means Keep).
    Keep,
    /// Its effective appraisal FinalActions disagree (Keep from one origin, Destroy from
    /// another).
    FinalActionConflict,
    /// It has no appraisal rule: nothing says its retention has ended.
    NoAppraisalRule,
    /// An appraisal rule without an end date (no start date, or an unlimited duration).
    UndatedAppraisalRule { rule: String },
    /// An appraisal rule ends after the date.
    NotExpired { rule: String, end_date: String },
    /// A hold is active at the date.
    Hold { rules: Vec<String> },
    /// Its effective appraisal says Destroy: it is eliminated, not transferred.
    Destroy,
}

impl Exclusion {
    /// A short code for lists and reports.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::FinalActionConflict => "final_action_conflict",
            Self::NoAppraisalRule => "no_appraisal_rule",
            Self::UndatedAppraisalRule { .. } => "undated_appraisal_rule",
            Self::NotExpired { .. } => "not_expired",
            Self::Hold { .. } => "hold",
            Self::Destroy => "destroy",
        }
    }
}

/// A date as the rules write it (`YYYY-MM-DD`).
pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// The holds of `rules` active at `at`: without an end, or ending after `at`.
pub fn active_holds(rules: &EffectiveRules, at: Date) -> Vec<&EffectiveRule> {
    rules
        .of(RuleCategory::HoldRule)
        .filter(|r| match r.rule.end_date.as_deref().map(parse_date) {
            None | Some(None) => true,
            Some(Some(end)) => at < end,
        })
        .collect()
}

/// The first day a unit may leave the archive by a disposal its rules decide, holds aside:
/// the end of its last appraisal rule (elimination or transfer, whichever its FinalAction),
/// or, if it is to be transferred by its storage rules, the end of the last of those when
/// that comes first. None when no rule dates it (no rule, or one without an end): then only
/// a restitution, which has no date, lets it go.
///
/// A WORM offer keeps the unit's files locked until this day: later, the disposal it allows
/// is not blocked; before, nothing the rules allow is.
pub fn disposal_date(rules: &EffectiveRules) -> Option<Date> {
    let last_end = |category: RuleCategory| -> Option<Date> {
        let mut last = None;
        for r in rules.of(category) {
            let end = r.rule.end_date.as_deref().and_then(parse_date)?;
            last = Some(last.map_or(end, |l: Date| l.max(end)));
        }
        last
    };
    let by_appraisal = last_end(RuleCategory::AppraisalRule);
    let by_storage = rules
        .final_actions_of(RuleCategory::StorageRule)
        .any(|p| p.final_action == FinalAction::Transfer)
        .then(|| last_end(RuleCategory::StorageRule))
        .flatten();
    match (by_appraisal, by_storage) {
        (Some(a), Some(s)) => Some(a.min(s)),
        (a, s) => a.or(s),
    }
}

/// Whether a unit's own rules let it be destroyed at `at`, and if not, every reason why.
/// (Its descendants and the operations using it are the caller's to check.)
///
/// As Vitam's elimination analysis: every effective appraisal rule must have ended (an end
/// on or before `at`), every effective appraisal FinalAction must be Destroy, and no hold
/// may be active.
pub fn appraise(rules: &EffectiveRules, at: Date) -> Result<(), Vec<Exclusion>> {
    let mut why = Vec::new();
    let actions: BTreeSet<FinalAction> = rules
        .final_actions_of(RuleCategory::AppraisalRule)
        .map(|p| p.final_action)
        .collect();
    if actions.contains(&FinalAction::Keep) && actions.contains(&FinalAction::Destroy) {
        why.push(Exclusion::FinalActionConflict);
    } else if !actions.contains(&FinalAction::Destroy) {
        why.push(Exclusion::Keep);
    }
    let mut any = false;
    for r in rules.of(RuleCategory::AppraisalRule) {
        any = true;
        match r.rule.end_date.as_deref().and_then(parse_date) {
            None => why.push(Exclusion::UndatedAppraisalRule {
                rule: r.rule.rule.clone(),
            }),
            Some(end) if end > at => why.push(Exclusion::NotExpired {
                rule: r.rule.rule.clone(),
                end_date: r.rule.end_date.clone().unwrap_or_default(),
            }),
            Some(_) => {}
        }
    }
    if !any {
        why.push(Exclusion::NoAppraisalRule);
    }
    let holds = active_holds(rules, at);
    if !holds.is_empty() {
        why.push(Exclusion::Hold {
            rules: holds.iter().map(|r| r.rule.rule.clone()).collect(),
        });
    }
    if why.is_empty() { Ok(()) } else { Err(why) }
}

/// Why a unit may not be transferred to the definitive archives at `at` (an empty list: it
/// may). (Its descendants and the operations using it are the caller's to check.)
///
/// Its retention is over and the definitive archives are its fate: every effective
/// appraisal rule has ended and no appraisal FinalAction says Destroy (none means Keep, the
/// definitive archives' part); or its storage rules have all ended and one says Transfer.
/// No hold may be active either way.
pub fn appraise_transfer(rules: &EffectiveRules, at: Date) -> Result<(), Vec<Exclusion>> {
    let ended = |category: RuleCategory| -> (bool, Vec<Exclusion>) {
        let mut why = Vec::new();
        let mut any = false;
        for r in rules.of(category) {
            any = true;
            match r.rule.end_date.as_deref().and_then(parse_date) {
                None => why.push(Exclusion::UndatedAppraisalRule {
                    rule: r.rule.rule.clone(),
                }),
                Some(end) if end > at => why.push(Exclusion::NotExpired {
                    rule: r.rule.rule.clone(),
                    end_date: r.rule.end_date.clone().unwrap_or_default(),
                }),
                Some(_) => {}
            }
        }
        (any, why)
    };
    let storage_transfer = rules
        .final_actions_of(RuleCategory::StorageRule)
        .any(|p| p.final_action == FinalAction::Transfer);
    let mut why = Vec::new();
    let by_storage = storage_transfer && {
        let (any, late) = ended(RuleCategory::StorageRule);
        any && late.is_empty()
    };
    if !by_storage {
        let actions: BTreeSet<FinalAction> = rules
            .final_actions_of(RuleCategory::AppraisalRule)
            .map(|p| p.final_action)
            .collect();
        if actions.contains(&FinalAction::Keep) && actions.contains(&FinalAction::Destroy) {
            why.push(Exclusion::FinalActionConflict);
        } else if actions.contains(&FinalAction::Destroy) {
            why.push(Exclusion::Destroy);
        }
        let (any, late) = ended(RuleCategory::AppraisalRule);
        why.extend(late);
        if !any {
            why.push(Exclusion::NoAppraisalRule);
        }
    }
    let holds = active_holds(rules, at);
    if !holds.is_empty() {
        why.push(Exclusion::Hold {
            rules: holds.iter().map(|r| r.rule.rule.clone()).collect(),
        });
    }
    if why.is_empty() { Ok(()) } else { Err(why) }
}

/// Why a unit may not be given back to its producer at `at`: an active hold alone (the
/// records are the producer's whatever their retention; a hold keeps them where they are
/// until it is lifted).
pub fn appraise_restitution(rules: &EffectiveRules, at: Date) -> Result<(), Vec<Exclusion>> {
    let holds = active_holds(rules, at);
    if holds.is_empty() {
        Ok(())
    } else {
        Err(vec![Exclusion::Hold {
            rules: holds.iter().map(|r| r.rule.rule.clone()).collect(),
        }])
    }
}

/// The effective access rules that keep a unit from being communicated at `at` (an empty
/// list: it may be): those not ended on or before `at`, and those without an end date (an
/// unlimited duration never ends). A unit without access rule is freely communicable
/// (Code du patrimoine L213-1: archives are communicable as of right unless a delay applies).
pub fn access_restrictions(rules: &EffectiveRules, at: Date) -> Vec<&EffectiveRule> {
    rules
        .of(RuleCategory::AccessRule)
        .filter(|r| match r.rule.end_date.as_deref().map(parse_date) {
            None | Some(None) => true,
            Some(Some(end)) => end > at,
        })
        .collect()
}

#[cfg(test)]
mod tests;

/// One change a rule change makes to the units it selects. End dates are not the client's:
/// [`apply_changes`] asks the caller's referential for each rule it adds or changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RuleAction {
    /// Declares a rule the unit does not declare yet.
    Add {
        category: RuleCategory,
        #[serde(flatten)]
        rule: Rule,
    },
    /// Changes a rule the unit declares (by its identifier): another rule of the same
    /// category, a new start date, or both; what is not given stays.
    Update {
        category: RuleCategory,
        replaces: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_date: Option<String>,
    },
    /// Removes a rule the unit declares.
    Remove {
        category: RuleCategory,
        rule: String,
    },
    /// Sets (or, with none, removes) the category's FinalAction.
    SetFinalAction {
        category: RuleCategory,
        final_action: Option<FinalAction>,
    },
    /// Cuts (or restores) what the category inherits.
    SetPreventInheritance {
        category: RuleCategory,
        prevent_inheritance: bool,
    },
    /// Puts a hold on the unit (a `HoldRule`).
    Hold {
        #[serde(flatten)]
        rule: Rule,
    },
    /// Lifts a hold the unit declares.
    LiftHold { rule: String },
    /// Gives each declared rule of the category (all categories if none) the end date the
    /// referential gives it now (after its durations changed).
    Recompute { category: Option<RuleCategory> },
}

/// A rule's end date from the referential as it is now, or why the rule cannot be used.
pub type EndDate<'a> = dyn Fn(RuleCategory, &Rule) -> Result<Option<String>, String> + 'a;

/// What one action changed on one unit: the value before and after (a rule, a FinalAction,
/// a flag), absent when there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleChange {
    pub category: RuleCategory,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// `actions` applied in order to a unit's management: the new management and what changed,
/// or every reason the unit cannot take them (then nothing of them applies to it). An
/// action that would change nothing (a FinalAction set to what it is) is not a change.
///
/// `end` computes a rule's end date from the referential as it is now (or says why the rule
/// cannot be used: unknown, of another category, a HoldEndDate where the rule has a
/// duration…).
pub fn apply_changes(
    m: &Management,
    actions: &[RuleAction],
    end: &EndDate<'_>,
) -> Result<(Management, Vec<RuleChange>), Vec<String>> {
    let mut out = m.clone();
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    let json = |r: &Rule| serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
    for action in actions {
        match action {
            RuleAction::Add { rule, .. } | RuleAction::Hold { rule } => {
                let category = match action {
                    RuleAction::Add { category, .. } => *category,
                    _ => RuleCategory::HoldRule,
                };
                let c = out.category_mut(category);
                if c.rules.iter().any(|r| r.rule == rule.rule) {
                    problems.push(format!(
                        "it already declares the {} {:?}",
                        category.as_str(),
                        rule.rule
                    ));
                    continue;
                }
                let mut added = Rule {
                    given_in: GivenIn::Change,
                    ..rule.clone()
                };
                match end(category, &added) {
                    Ok(e) => added.end_date = e,
                    Err(why) => {
                        problems.push(why);
                        continue;
                    }
                }
                changes.push(RuleChange {
                    category,
                    action: if matches!(action, RuleAction::Hold { .. }) {
                        "hold".into()
                    } else {
                        "add".into()
                    },
                    rule: Some(rule.rule.clone()),
                    before: serde_json::Value::Null,
                    after: json(&added),
                });
                c.rules.push(added);
            }
            RuleAction::Update {
                category,
                replaces,
                rule,
                start_date,
            } => {
                let c = out.category_mut(*category);
                let Some(at) = c.rules.iter().position(|r| r.rule == *replaces) else {
                    problems.push(format!(
                        "it declares no {} {replaces:?} to update",
                        category.as_str()
                    ));
                    continue;
                };
                let id = rule.clone().unwrap_or_else(|| replaces.clone());
                if id != *replaces && c.rules.iter().any(|r| r.rule == id) {
                    problems.push(format!(
                        "it already declares the {} {id:?}",
                        category.as_str(),
                    ));
                    continue;
                }
                let mut new = Rule {
                    rule: id,
                    start_date: start_date
                        .clone()
                        .or_else(|| c.rules[at].start_date.clone()),
                    given_in: GivenIn::Change,
                    ..c.rules[at].clone()
                };
                match end(*category, &new) {
                    Ok(e) => new.end_date = e,
                    Err(why) => {
                        problems.push(why);
                        continue;
                    }
                }
                let old = std::mem::replace(&mut c.rules[at], new.clone());
                if old != new {
                    changes.push(RuleChange {
                        category: *category,
                        action: "update".into(),
                        rule: Some(replaces.clone()),
                        before: json(&old),
                        after: json(&new),
                    });
                }
            }
            RuleAction::Remove { rule, .. } | RuleAction::LiftHold { rule } => {
                let (category, verb) = match action {
                    RuleAction::Remove { category, .. } => (*category, "remove"),
                    _ => (RuleCategory::HoldRule, "lift_hold"),
                };
                let c = out.category_mut(category);
                let Some(at) = c.rules.iter().position(|r| r.rule == *rule) else {
                    problems.push(format!(
                        "it declares no {} {rule:?} to {}",
                        category.as_str(),
                        if verb == "remove" { "remove" } else { "lift" }
                    ));
                    continue;
                };
                let old = c.rules.remove(at);
                changes.push(RuleChange {
                    category,
                    action: verb.into(),
                    rule: Some(rule.clone()),
                    before: json(&old),
                    after: serde_json::Value::Null,
                });
            }
            RuleAction::SetFinalAction {
                category,
                final_action,
            } => {
                if let Some(a) = final_action
                    && !a.fits(*category)
                {
                    problems.push(format!(
                        "a {} cannot have the FinalAction {}",
                        category.as_str(),
                        a.as_str()
                    ));
                    continue;
                }
                let c = out.category_mut(*category);
                if c.final_action != *final_action {
                    changes.push(RuleChange {
                        category: *category,
                        action: "set_final_action".into(),
                        rule: None,
                        before: serde_json::to_value(c.final_action).unwrap_or_default(),
                        after: serde_json::to_value(final_action).unwrap_or_default(),
                    });
                    c.final_action = *final_action;
                }
            }
            RuleAction::SetPreventInheritance {
                category,
                prevent_inheritance,
            } => {
                let c = out.category_mut(*category);
                if c.prevent_inheritance != *prevent_inheritance {
                    changes.push(RuleChange {
                        category: *category,
                        action: "set_prevent_inheritance".into(),
                        rule: None,
                        before: c.prevent_inheritance.into(),
                        after: (*prevent_inheritance).into(),
                    });
                    c.prevent_inheritance = *prevent_inheritance;
                }
            }
            RuleAction::Recompute { category } => {
                for c in &mut out.categories {
                    if category.is_some_and(|only| only != c.category) {
                        continue;
                    }
                    for r in &mut c.rules {
                        // SEDA 1.0 rules carry their own duration: no referential to follow.
                        if r.given_duration.is_some() {
                            continue;
                        }
                        let now = match end(c.category, r) {
                            Ok(e) => e,
                            Err(why) => {
                                problems.push(why);
                                continue;
                            }
                        };
                        if r.end_date != now {
                            let old = r.clone();
                            r.end_date = now;
                            changes.push(RuleChange {
                                category: c.category,
                                action: "recompute".into(),
                                rule: Some(r.rule.clone()),
                                before: json(&old),
                                after: json(r),
                            });
                        }
                    }
                }
            }
        }
    }
    out.categories.retain(|c| {
        !c.rules.is_empty()
            || c.prevent_inheritance
            || !c.ref_non_rule_ids.is_empty()
            || c.final_action.is_some()
    });
    if problems.is_empty() {
        Ok((out, changes))
    } else {
        Err(problems)
    }
}
