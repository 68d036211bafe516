//! Search over units: what the catalog indexes for free text, and the query it answers.

use crate::{ObjectId, UnitId, UnitRule};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The longest text a search's words may take (`text`, `title`), in bytes.
pub const MAX_QUERY_BYTES: usize = 512;
/// The most distinct words a search's text (or title) may have: each is one more list of
/// the index to intersect.
pub const MAX_QUERY_WORDS: usize = 16;
/// The longest agency or keyword a search may name, in bytes.
pub const MAX_FILTER_BYTES: usize = 256;

/// A search of a tenant's units. Every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitQuery {
    /// Words anywhere in the unit (title, description, keywords, agencies...), all of them.
    pub text: Option<String>,
    /// Words of the title, all of them.
    pub title: Option<String>,
    /// The originating agency's identifier, exactly.
    pub agency: Option<String>,
    /// A keyword, exactly.
    pub keyword: Option<String>,
    /// Units whose dates reach this day or later (YYYY-MM-DD).
    pub from: Option<String>,
    /// Units whose dates start this day or earlier (YYYY-MM-DD); a unit without a start
    /// date is not in such a search.
    pub to: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

impl UnitQuery {
    /// Why this query may not run, every reason: its words and filters are bounded before
    /// they drive any work (a search of 30,000 repeated words took 10 s and 300 MB).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, value) in [("q", &self.text), ("title", &self.title)] {
            let Some(v) = value else { continue };
            if v.len() > MAX_QUERY_BYTES {
                out.push(format!(
                    "{name} has {} bytes; at most {MAX_QUERY_BYTES}",
                    v.len()
                ));
            } else if words(v).len() > MAX_QUERY_WORDS {
                out.push(format!(
                    "{name} has {} different words; at most {MAX_QUERY_WORDS}",
                    words(v).len()
                ));
            }
        }
        for (name, value) in [("agency", &self.agency), ("keyword", &self.keyword)] {
            if let Some(v) = value
                && v.len() > MAX_FILTER_BYTES
            {
                out.push(format!(
                    "{name} has {} bytes; at most {MAX_FILTER_BYTES}",
                    v.len()
                ));
            }
        }
        out
    }
}

/// When a search gives up: past its deadline, once the one who asked has gone, or when the
/// server stops. A catalog checks it while the search runs (SQLite: every thousand steps).
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    deadline: Option<Instant>,
    flags: Vec<Arc<AtomicBool>>,
}

impl Interrupt {
    /// Never interrupted.
    pub fn none() -> Interrupt {
        Interrupt::default()
    }

    /// Interrupted at `deadline`, or once any of `flags` is set.
    pub fn new(deadline: Option<Instant>, flags: Vec<Arc<AtomicBool>>) -> Interrupt {
        Interrupt { deadline, flags }
    }

    pub fn is_due(&self) -> bool {
        self.flags.iter().any(|f| f.load(Ordering::Relaxed))
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// How long until the deadline, if there is one (zero once past).
    pub fn time_left(&self) -> Option<std::time::Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Why it is due, in words.
    pub fn reason(&self) -> &'static str {
        if self.flags.iter().any(|f| f.load(Ordering::Relaxed)) {
            "the search was cancelled"
        } else {
            "the search took longer than its time limit"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSummary {
    pub id: UnitId,
    pub title: String,
    pub description_level: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub originating_agency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    pub value: String,
    pub count: u64,
}

/// How a page of matches is sorted. Within the backend's window
/// ([`crate::SearchIndex::search_window`]) matches are sorted: by relevance when words are
/// searched, by title otherwise. Beyond it, a search costs what a narrow one costs because
/// the page comes in the order of the backend's index, which it names (SQLite: the order of
/// ingest for words, of identifiers for a tenant's units, of its agency index for an agency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchOrder {
    Relevance,
    Title,
    /// Beyond the window: the order units were ingested in.
    Ingest,
    /// Beyond the window: units' identifiers.
    Identifier,
    /// Beyond the window: another order of the backend's index, stable from page to page.
    Index,
}

impl SearchOrder {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchOrder::Relevance => "relevance",
            SearchOrder::Title => "title",
            SearchOrder::Ingest => "ingest",
            SearchOrder::Identifier => "identifier",
            SearchOrder::Index => "index",
        }
    }

    /// Whether the matches are sorted (within the window), not in an index's order.
    pub fn is_sorted(self) -> bool {
        matches!(self, SearchOrder::Relevance | SearchOrder::Title)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitPage {
    /// How many units match: exactly, or (`total_exact` false) at least this many, when
    /// there are more than the catalog counts exactly.
    pub total: u64,
    pub total_exact: bool,
    /// How the page is sorted.
    pub order: SearchOrder,
    pub units: Vec<UnitSummary>,
    /// Matching units by originating agency (most first) and by the year they start
    /// (over the first matches only when the count is not exact).
    pub agencies: Vec<Facet>,
    pub years: Vec<Facet>,
}

/// A unit with everything about it but its files' bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitDetails {
    pub description_level: Option<String>,
    pub originating_agency: Option<String>,
    pub keywords: Vec<String>,
    /// Its own rules as recorded at ingest, flat.
    pub rules: Vec<UnitRule>,
    /// Its own management as given; `None` for a unit ingested before it was kept, until
    /// it is filled.
    pub management: Option<carnac_model::rules::Management>,
    pub children: Vec<UnitId>,
    pub object_groups: Vec<ObjectId>,
}

/// The words of a unit's SEDA metadata (its text and attribute values), for the free-text
/// index: markup is not searched, and a unit's text is capped so that one huge description
/// cannot bloat the index.
pub fn searchable_text(xml: &str) -> String {
    const CAP: usize = 64 * 1024;
    let mut out = String::new();
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Text(t)) => {
                if let Ok(s) = t.decode() {
                    let s = quick_xml::escape::unescape(&s)
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|_| s.into_owned());
                    push_words(&mut out, &s);
                }
            }
            Ok(quick_xml::events::Event::GeneralRef(r)) => {
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => r.decode().ok().and_then(|name| {
                        quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                    }),
                };
                if let Some(text) = text {
                    push_words(&mut out, &text);
                }
            }
            Ok(quick_xml::events::Event::CData(t)) => {
                push_words(&mut out, &String::from_utf8_lossy(&t));
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            _ => {}
        }
        if out.len() >= CAP {
            let mut end = CAP;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            break;
        }
    }
    out
}

fn push_words(out: &mut String, s: &str) {
    let s = s.trim();
    if !s.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
    }
}

/// The distinct words of what a person typed, in order, each once (the index folds case,
/// so "Budget budget" is one word).
pub fn words(text: &str) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| seen.insert(w.to_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_metadata_without_markup() {
        let xml = r#"<Content><Title>Délibération &amp; budget</Title><Description>Marchés <![CDATA[publics]]></Description><Keyword><KeywordContent>voirie</KeywordContent></Keyword></Content>"#;
        assert_eq!(
            searchable_text(xml),
            "Délibération & budget Marchés publics voirie"
        );
        let huge = format!("<D>{}</D>", "mot ".repeat(100_000));
        assert!(searchable_text(&huge).len() <= 64 * 1024);
    }

    #[test]
    fn words_are_distinct_and_queries_bounded() {
        assert_eq!(words("Budget budget, BUDGET voirie"), ["Budget", "voirie"]);
        assert_eq!(words(&["a"; 30_000].join(" ")), ["a"]);
        let q = |text: &str| UnitQuery {
            text: Some(text.to_owned()),
            ..UnitQuery::default()
        };
        assert!(q(&["a"; 200].join(" ")).problems().is_empty());
        let many: Vec<String> = (0..17).map(|i| format!("w{i}")).collect();
        assert_eq!(
            q(&many.join(" ")).problems(),
            ["q has 17 different words; at most 16"]
        );
        assert_eq!(
            q(&"a ".repeat(300)).problems(),
            ["q has 600 bytes; at most 512"]
        );
        let both = UnitQuery {
            title: Some("x".repeat(600)),
            agency: Some("y".repeat(300)),
            ..UnitQuery::default()
        };
        assert_eq!(both.problems().len(), 2, "every reason");
    }
}
