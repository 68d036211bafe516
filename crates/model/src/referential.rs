//! Referentials a transfer is checked against: agencies, management rules, ingest contracts,
//! archive profiles, archive unit profiles and accepted file formats. Each tenant has its own.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    pub identifier: String,
    pub name: String,
    pub description: String,
}

/// The categories of management rules, as SEDA names their elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RuleCategory {
    AppraisalRule,
    AccessRule,
    StorageRule,
    DisseminationRule,
    ReuseRule,
    ClassificationRule,
    HoldRule,
}

impl RuleCategory {
    pub const ALL: [RuleCategory; 7] = [
        Self::AppraisalRule,
        Self::AccessRule,
        Self::StorageRule,
        Self::DisseminationRule,
        Self::ReuseRule,
        Self::ClassificationRule,
        Self::HoldRule,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppraisalRule => "AppraisalRule",
            Self::AccessRule => "AccessRule",
            Self::StorageRule => "StorageRule",
            Self::DisseminationRule => "DisseminationRule",
            Self::ReuseRule => "ReuseRule",
            Self::ClassificationRule => "ClassificationRule",
            Self::HoldRule => "HoldRule",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DurationUnit {
    Day,
    Month,
    Year,
}

/// A rule's duration; `None` in [`Rule::duration`] means unlimited (or not applicable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDuration {
    pub amount: u32,
    pub unit: DurationUnit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub identifier: String,
    pub category: RuleCategory,
    pub value: String,
    pub description: String,
    pub duration: Option<RuleDuration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestContract {
    pub identifier: String,
    pub name: String,
    pub active: bool,
    /// Profiles a transfer under this contract may declare; empty means any profile of the
    /// tenant that exists and is active (and a transfer may declare none).
    pub archive_profiles: Vec<String>,
    /// Agencies allowed to appear as originating agency; `None` means any known agency.
    pub originating_agencies: Option<Vec<String>>,
}

/// An access contract (Vitam's): what the accounts working under it may do with the units of
/// some originating agencies. Carnac reads from it whether units may be written
/// (`WritingPermission`) and whose units it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessContract {
    pub identifier: String,
    pub name: String,
    pub active: bool,
    /// `WritingPermission`: units it covers may be corrected.
    pub writing_permission: bool,
    /// `WritingRestrictedDesc`: only their descriptive metadata (the only writing Carnac
    /// does outside rule changes).
    pub writing_restricted_desc: bool,
    /// `EveryOriginatingAgency`: it covers every agency's units.
    pub every_originating_agency: bool,
    /// `OriginatingAgencies`: the agencies whose units it covers otherwise.
    pub originating_agencies: Vec<String>,
}

impl AccessContract {
    /// Whether it lets the units of `agency` (None: a unit without one) be corrected.
    pub fn allows_writing(&self, agency: Option<&str>) -> bool {
        self.active
            && self.writing_permission
            && (self.every_originating_agency
                || agency.is_some_and(|a| self.originating_agencies.iter().any(|o| o == a)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProfileFormat {
    RelaxNg,
    Xsd,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveProfile {
    pub identifier: String,
    pub name: String,
    pub active: bool,
    pub format: ProfileFormat,
    /// The schema itself; a profile declared without its file cannot validate anything, and a
    /// transfer that names it is rejected.
    pub schema: Option<Vec<u8>>,
}

/// An archive unit profile (Vitam's "document type"): a JSON Schema that the metadata of every
/// unit declaring it (`ArchiveUnitProfile`) must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveUnitProfile {
    pub identifier: String,
    pub name: String,
    pub active: bool,
    /// The `ControlSchema` as given (JSON Schema draft 4, as Vitam reads it); `None` when the
    /// profile has none yet, and then a unit that declares it is refused.
    pub control_schema: Option<String>,
}

/// One accepted file format (a PRONOM entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFormat {
    pub puid: String,
    pub name: String,
    pub mime_types: Vec<String>,
    pub extensions: Vec<String>,
}

/// Adds a rule's duration to a start date, as the end date of the rule. Day-of-month
/// overflow clamps to the month's last day (31 January + 1 month = 28 or 29 February), the
/// way archivists count DUA.
pub fn end_date(start: time::Date, duration: RuleDuration) -> Option<time::Date> {
    use time::{Date, Month};
    let add_months = |date: Date, months: i64| -> Option<Date> {
        let total = date.year() as i64 * 12 + (date.month() as i64 - 1) + months;
        let year = i32::try_from(total.div_euclid(12)).ok()?;
        let month = Month::try_from(u8::try_from(total.rem_euclid(12) + 1).ok()?).ok()?;
        let last = time::util::days_in_month(month, year);
        Date::from_calendar_date(year, month, date.day().min(last)).ok()
    };
    match duration.unit {
        DurationUnit::Day => start.checked_add(time::Duration::days(duration.amount as i64)),
        DurationUnit::Month => add_months(start, duration.amount as i64),
        DurationUnit::Year => add_months(start, duration.amount as i64 * 12),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn end_dates() {
        let y = |n| RuleDuration {
            amount: n,
            unit: DurationUnit::Year,
        };
        let m = |n| RuleDuration {
            amount: n,
            unit: DurationUnit::Month,
        };
        let d = |n| RuleDuration {
            amount: n,
            unit: DurationUnit::Day,
        };
        assert_eq!(
            end_date(date!(2016 - 06 - 03), y(10)),
            Some(date!(2026 - 06 - 03))
        );
        assert_eq!(
            end_date(date!(2016 - 02 - 29), y(1)),
            Some(date!(2017 - 02 - 28))
        );
        assert_eq!(
            end_date(date!(2016 - 01 - 31), m(1)),
            Some(date!(2016 - 02 - 29))
        );
        assert_eq!(
            end_date(date!(2016 - 11 - 30), m(14)),
            Some(date!(2018 - 01 - 30))
        );
        assert_eq!(
            end_date(date!(2016 - 12 - 31), d(1)),
            Some(date!(2017 - 01 - 01))
        );
        assert_eq!(
            end_date(date!(2016 - 12 - 31), y(0)),
            Some(date!(2016 - 12 - 31))
        );
    }
}
