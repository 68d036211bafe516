//! French as French public services write it: dates (`2 décembre 2026`, `1er mai`), times
//! in Paris (`14 h 05`), numbers (`1 234 567`, `1,5`), sizes (`1,2 Go`), and the spaces
//! French typography puts before `; : ? !` and inside « ». Pure functions, for the pages.
//!
//! Spaces: U+202F (narrow no-break) between groups of thousands and before `; ! ?`, U+00A0
//! (no-break) before `:`, inside « » and between a number and its unit (the Imprimerie
//! nationale's rules, as CLDR's `fr` writes numbers).

use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

/// Narrow no-break space.
pub const NNBSP: char = '\u{202F}';
/// No-break space.
pub const NBSP: char = '\u{A0}';

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `2 décembre 2026`, `1er mai 2026`.
pub fn date(d: Date) -> String {
    let day = match d.day() {
        1 => "1er".to_owned(),
        n => n.to_string(),
    };
    format!(
        "{day}{NBSP}{}{NBSP}{}",
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.year()
    )
}

/// A SEDA or ISO date (`2026-12-02`, or the date of a date-time) written in French; what
/// does not read as one is given back as it is.
pub fn iso_date(text: &str) -> String {
    let day = text.get(..10).unwrap_or(text);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(day, format) {
        Ok(d) => date(d),
        Err(_) => text.to_owned(),
    }
}

/// The offset of Paris at `at`: UTC+2 from the last Sunday of March, 01:00 UTC, to the last
/// Sunday of October, 01:00 UTC (the European rule since 1996), UTC+1 otherwise.
pub fn paris_offset(at: OffsetDateTime) -> UtcOffset {
    let at = at.to_offset(UtcOffset::UTC);
    let last_sunday = |month: Month| {
        let mut d = Date::from_calendar_date(at.year(), month, 31).unwrap_or(at.date());
        while d.weekday() != Weekday::Sunday {
            d = d.previous_day().unwrap_or(d);
        }
        d.with_hms(1, 0, 0).map(|t| t.assume_utc())
    };
    let summer = match (last_sunday(Month::March), last_sunday(Month::October)) {
        (Ok(start), Ok(end)) => at >= start && at < end,
        _ => false,
    };
    UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// `2 décembre 2026 à 14 h 05`, in Paris.
pub fn date_time(at: OffsetDateTime) -> String {
    let local = at.to_offset(paris_offset(at));
    format!(
        "{}{NBSP}à{NBSP}{}{NBSP}h{NBSP}{:02}",
        date(local.date()),
        local.hour(),
        local.minute()
    )
}

/// A timestamp as the archive records it (RFC 3339) written in French, in Paris; what does
/// not read as one is given back as it is.
pub fn timestamp(text: &str) -> String {
    match OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        Ok(at) => date_time(at),
        Err(_) => text.to_owned(),
    }
}

/// `1 234 567`: groups of three digits, a narrow no-break space between.
pub fn integer(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(NNBSP);
        }
        out.push(c);
    }
    out
}

/// `1,5`: `x` with `decimals` digits after a decimal comma, its integer part grouped.
pub fn decimal(x: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, x.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('−');
    }
    out.push_str(&integer(whole.parse().unwrap_or(0)));
    if !fraction.is_empty() {
        out.push(',');
        out.push_str(fraction);
    }
    out
}

/// `0 octet`, `512 octets`, `12,3 ko`, `1,2 Go`, `345 Mo`: powers of 1,000, as the French
/// administration counts octets; one decimal below 100 units, none above.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["ko", "Mo", "Go", "To", "Po", "Eo"];
    if bytes < 1000 {
        let word = if bytes < 2 { "octet" } else { "octets" };
        return format!("{bytes}{NBSP}{word}");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = if value < 99.95 { 1 } else { 0 };
    let mut text = decimal(value, decimals);
    if let Some(whole) = text.strip_suffix(",0") {
        text = whole.to_owned();
    }
    format!("{text}{NBSP}{}", UNITS[unit])
}

/// French spacing for a text of ours (not a user's): a narrow no-break space before
/// `; ! ?`, a no-break space before `:` and inside « », in place of a plain space or where
/// there was none. A `:` inside a word or between digits (`14:05`, `https://`) is left.
pub fn typography(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let ends_word = next.is_none_or(|n| n.is_whitespace() || n == '»' || n == ')');
        let space = match c {
            ';' | '!' | '?' if ends_word => Some(NNBSP),
            ':' if ends_word => Some(NBSP),
            '»' => Some(NBSP),
            _ => None,
        };
        if let Some(space) = space {
            match out.chars().last() {
                Some(' ') | Some(NBSP) | Some(NNBSP) => {
                    out.pop();
                    out.push(space);
                }
                None => {}
                Some(_) => out.push(space),
            }
            out.push(c);
            continue;
        }
        // The space after « is the no-break one already written.
        if c == ' ' && out.ends_with(&format!("«{NBSP}")) {
            continue;
        }
        out.push(c);
        if c == '«' {
            out.push(NBSP);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn dates_are_written_out() {
        assert_eq!(date(date!(2026 - 12 - 02)), "2\u{a0}décembre\u{a0}2026");
        assert_eq!(date(date!(2026 - 05 - 01)), "1er\u{a0}mai\u{a0}2026");
        assert_eq!(date(date!(2019 - 08 - 31)), "31\u{a0}août\u{a0}2019");
        assert_eq!(iso_date("2019-02-11"), "11\u{a0}février\u{a0}2019");
        assert_eq!(
            iso_date("2019-02-11T10:00:00Z"),
            "11\u{a0}février\u{a0}2019"
        );
        assert_eq!(iso_date("vers 1900"), "vers 1900");
    }

    #[test]
    fn times_are_those_of_paris() {
        // Winter: UTC+1; summer: UTC+2, from the last Sunday of March at 01:00 UTC.
        assert_eq!(
            date_time(datetime!(2026-12-02 13:05 UTC)),
            "2\u{a0}décembre\u{a0}2026\u{a0}à\u{a0}14\u{a0}h\u{a0}05"
        );
        assert_eq!(
            timestamp("2026-07-14T08:30:00Z"),
            "14\u{a0}juillet\u{a0}2026\u{a0}à\u{a0}10\u{a0}h\u{a0}30"
        );
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            paris_offset(datetime!(2026-03-29 00:59 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            paris_offset(datetime!(2026-03-29 01:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            paris_offset(datetime!(2026-10-25 00:59 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            paris_offset(datetime!(2026-10-25 01:00 UTC)).whole_hours(),
            1
        );
        // Past midnight in Paris, the date is the next day's.
        assert_eq!(
            date_time(datetime!(2026-12-31 23:30 UTC)),
            "1er\u{a0}janvier\u{a0}2027\u{a0}à\u{a0}0\u{a0}h\u{a0}30"
        );
        assert_eq!(timestamp("hier"), "hier");
    }

    #[test]
    fn numbers_group_thousands_with_a_narrow_space() {
        assert_eq!(integer(0), "0");
        assert_eq!(integer(999), "999");
        assert_eq!(integer(1000), "1\u{202f}000");
        assert_eq!(integer(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(decimal(1234.5, 1), "1\u{202f}234,5");
        assert_eq!(decimal(-0.04, 1), "0,0");
        assert_eq!(decimal(-2.5, 1), "−2,5");
    }

    #[test]
    fn sizes_count_octets_by_thousands() {
        assert_eq!(size(0), "0\u{a0}octet");
        assert_eq!(size(1), "1\u{a0}octet");
        assert_eq!(size(512), "512\u{a0}octets");
        assert_eq!(size(1000), "1\u{a0}ko");
        assert_eq!(size(12_345), "12,3\u{a0}ko");
        assert_eq!(size(1_200_000_000), "1,2\u{a0}Go");
        assert_eq!(size(345_000_000), "345\u{a0}Mo");
        assert_eq!(size(999_999), "1\u{a0}Mo");
        assert_eq!(size(u64::MAX), "18,4\u{a0}Eo");
    }

    #[test]
    fn punctuation_gets_its_spaces() {
        assert_eq!(
            typography("Attention : le mot de passe ; vraiment ? Oui !"),
            "Attention\u{a0}: le mot de passe\u{202f}; vraiment\u{202f}? Oui\u{202f}!"
        );
        assert_eq!(typography("Oui!"), "Oui\u{202f}!");
        assert_eq!(typography("« Délibération »"), "«\u{a0}Délibération\u{a0}»");
        assert_eq!(typography("«Délibération»"), "«\u{a0}Délibération\u{a0}»");
        // Not inside words, times or addresses.
        assert_eq!(typography("à 14:05, https://x"), "à 14:05, https://x");
        assert_eq!(typography("déjà  fait : oui"), "déjà  fait\u{a0}: oui");
    }
}
