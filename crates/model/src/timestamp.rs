//! Instants as the archive records them: UTC, written RFC 3339 (`2026-11-29T04:00:00.000Z`).
//! The text is what the catalog stores, the journal's hash chain covers and the API shows,
//! so a [`Timestamp`] keeps it exactly as written; it is checked to be RFC 3339 when it is
//! made, so that no catalog row or parameter carries a time that is not one.
//!
//! A journal event's `time` stays text on purpose: the canonical encoding covers it as
//! written, and an exported journal is verified as it is, so a time someone tampered into a
//! non-time must be reported as a break of the chain, not refused as an unreadable file.

use serde::{Deserialize, Serialize};

/// A recorded instant (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 time")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// The instant `t`, in UTC to the millisecond.
    pub fn from_datetime(t: time::OffsetDateTime) -> Timestamp {
        let t = t.to_offset(time::UtcOffset::UTC);
        let fmt = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        // Formatting a valid date with this description cannot fail; years beyond 9999 are
        // the only case, written as RFC 3339 allows no more.
        Timestamp(
            t.format(&fmt)
                .unwrap_or_else(|_| "9999-12-31T23:59:59.999Z".to_owned()),
        )
    }

    /// `text` if it is an RFC 3339 time, kept as written.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map(|_| Timestamp(text.to_owned()))
            .map_err(|_| TimestampError(text.chars().take(64).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_datetime(&self) -> time::OffsetDateTime {
        // Checked when made.
        time::OffsetDateTime::parse(&self.0, &time::format_description::well_known::Rfc3339)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

impl std::ops::Deref for Timestamp {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = TimestampError;
    fn try_from(text: String) -> Result<Timestamp, TimestampError> {
        Timestamp::parse(&text)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.0
    }
}

impl PartialEq<str> for Timestamp {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Timestamp {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_from_an_instant_in_utc_to_the_millisecond() {
        let t = time::macros::datetime!(2026-11-29 05:00:00.1234 +01:00);
        assert_eq!(
            Timestamp::from_datetime(t).as_str(),
            "2026-11-29T04:00:00.123Z"
        );
    }

    #[test]
    fn only_rfc_3339_is_a_timestamp_and_it_is_kept_as_written() {
        for good in ["2026-11-29T04:00:00Z", "2026-11-29T04:00:00.5+02:00"] {
            assert_eq!(Timestamp::parse(good).unwrap().as_str(), good);
        }
        for bad in ["x", "", "2026-11-29", "2026-11-29 04:00:00", "29/11/2026"] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        let t: Timestamp = serde_json::from_str("\"2026-11-29T04:00:00Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-29T04:00:00Z\""
        );
    }
}
