//! Corrections of a unit's descriptive metadata after ingest (issue 18 §6): a JSON merge
//! patch (RFC 7396) over the fields of its `Content`, applied to the unit's SEDA 2 metadata
//! as the archive keeps it (its `ArchiveUnit` element), giving the new metadata and the
//! difference, field by field.
//!
//! What is written stays SEDA: every field the patch does not name is kept byte for byte;
//! a field it names is written again, in SEDA's order (new fields go where the schema puts
//! them), escaped, with the `Content`'s own namespace prefix. The caller then validates the
//! fields that may change against the official XSD ([`check_unit`] gives the unit to
//! validate) and the unit's archive unit profile, if it declares one.
//!
//! The fields, as JSON (the names are SEDA's, as in Vitam's JSON of a unit):
//! - a field written once is a string (`"Title"`, `"StartDate"`), one SEDA repeats an array
//!   of strings (`"Tag"`, `"Language"`, `"FilePlanPosition"`); a single string is taken for
//!   an array of one;
//! - `Title` and `Description` are the element without `xml:lang`; `Title_` and
//!   `Description_` hold the others by language (`{"en": "…"}`), as Vitam writes them;
//! - an element with children is an object of its children, by the same rules (`Keyword`:
//!   `[{"KeywordContent": "…", "KeywordType": "subject"}]`, `Coverage`: `{"Spatial":
//!   ["…"]}`, an agent such as `Writer`: `[{"FullName": "…"}]`);
//! - `null` removes a field (or one child); an object merges into the one there; anything
//!   else replaces.
//!
//! Only descriptive fields change this way. What says whose records these are and who may
//! read them (`OriginatingAgency`, `SubmissionAgency`), what the archive or the producer's
//! system identify them by, links to other units and objects, the unit's events and
//! signatures, and its management (rules change through rule changes) are refused, each
//! with its reason. A field the archive cannot write back exactly as it reads it (an
//! attribute other than `xml:lang`, a child it does not know, a value written twice where
//! SEDA allows one) is refused too, rather than changed with a loss.
//!
//! Pure: bytes in, bytes out.

use crate::SedaVersion;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use serde_json::{Map, Value};

mod fields;
use fields::*;

/// The longest value of one field, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// The most values of one repeated field or child.
pub const MAX_VALUES: usize = 1_000;
/// The most fields one patch names.
pub const MAX_PATCH_FIELDS: usize = 64;

/// Why a patch cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The patch asks for what cannot be done: every reason.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The unit came in SEDA 1.0 or 0.2: its metadata is not a SEDA 2 `ArchiveUnit`.
    #[error("unit metadata in SEDA 1.0 or 0.2 cannot be corrected here (only SEDA 2.1 to 2.3)")]
    NotSeda2,
    /// The metadata kept is not what the archive writes.
    #[error("the unit's metadata cannot be read: {0}")]
    Unreadable(String),
}

/// An element as read: its local name, attributes (`xmlns` declarations apart), text and
/// children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn lang(&self) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == "xml:lang")
            .map(|(_, v)| v.as_str())
    }
}

/// One element of `Content`: where its bytes are, what it holds.
#[derive(Debug, Clone)]
struct Element {
    /// The whitespace before it.
    lead: std::ops::Range<usize>,
    raw: std::ops::Range<usize>,
    node: Node,
}

/// A unit's metadata cut around its `Content`.
#[derive(Debug, Clone)]
struct Parsed {
    version: SedaVersion,
    /// The `ArchiveUnit` start tag's namespace declarations.
    namespaces: Vec<(String, String)>,
    /// Up to the `Content` start tag.
    head: std::ops::Range<usize>,
    /// The `Content` start tag as written (an empty element made a start tag).
    content_start: String,
    /// `Content`'s qualified name, and its prefix (`seda:`, or empty).
    content_name: String,
    prefix: String,
    children: Vec<Element>,
    /// The whitespace before `</Content>`.
    tail: std::ops::Range<usize>,
    /// From after `</Content>` (or `<Content/>`) to the end.
    rest: std::ops::Range<usize>,
}

fn unreadable(e: impl std::fmt::Display) -> EditError {
    EditError::Unreadable(e.to_string())
}

fn text_of(event: &Event<'_>) -> Result<Option<String>, EditError> {
    Ok(match event {
        Event::Text(t) => {
            let raw = t.decode().map_err(unreadable)?;
            Some(
                quick_xml::escape::unescape(&raw)
                    .map_err(unreadable)?
                    .into_owned(),
            )
        }
        Event::CData(c) => Some(String::from_utf8_lossy(c).into_owned()),
        Event::GeneralRef(r) => {
            if let Some(c) = r.resolve_char_ref().map_err(unreadable)? {
                Some(c.to_string())
            } else {
                let name = r.decode().map_err(unreadable)?;
                Some(
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| unreadable(format!("an undefined entity &{name};")))?
                        .to_owned(),
                )
            }
        }
        _ => None,
    })
}

fn node_of(e: &quick_xml::events::BytesStart<'_>) -> Result<Node, EditError> {
    let mut node = Node {
        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
        ..Node::default()
    };
    for a in e.attributes().with_checks(true) {
        let a = a.map_err(unreadable)?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = a.unescape_value().map_err(unreadable)?.into_owned();
        node.attributes.push((key, value));
    }
    Ok(node)
}

fn parse(metadata: &str) -> Result<Parsed, EditError> {
    let mut reader = quick_xml::Reader::from_str(metadata);
    let mut depth = 0usize;
    let mut version = None;
    let mut namespaces = Vec::new();
    let mut head_end = None;
    let mut content_start = String::new();
    let mut content_name = String::new();
    let mut children: Vec<Element> = Vec::new();
    // The element of Content being read, and the nodes open inside it.
    let mut open: Vec<Node> = Vec::new();
    let mut started: Option<(std::ops::Range<usize>, usize)> = None;
    let mut lead_start = 0usize;
    let mut tail = 0..0;
    let mut rest = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(unreadable)?;
        let after = reader.buffer_position() as usize;
        match &event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(event, Event::Empty(_));
                match depth {
                    0 => {
                        if e.local_name().as_ref() != b"ArchiveUnit" {
                            return Err(EditError::NotSeda2);
                        }
                        for a in e.attributes().with_checks(true) {
                            let a = a.map_err(unreadable)?;
                            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                            let value = a.unescape_value().map_err(unreadable)?.into_owned();
                            if key == "xmlns" {
                                version = Some(
                                    SedaVersion::from_namespace(&value)
                                        .map_err(|_| EditError::NotSeda2)?,
                                );
                            }
                            if key == "xmlns" || key.starts_with("xmlns:") {
                                namespaces.push((key, value));
                            }
                        }
                    }
                    1 if e.local_name().as_ref() == b"Content" && head_end.is_none() => {
                        head_end = Some(before);
                        content_name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                        let tag = &metadata[before..after];
                        content_start = if empty {
                            // `<Content .../>` as `<Content ...>`.
                            let t = tag.trim_end_matches('>').trim_end_matches('/');
                            format!("{t}>")
                        } else {
                            tag.to_owned()
                        };
                        lead_start = after;
                        if empty {
                            tail = after..after;
                            rest = Some(after);
                        }
                    }
                    2 if rest.is_none() && head_end.is_some() => {
                        let node = node_of(e)?;
                        if empty {
                            children.push(Element {
                                lead: lead_start..before,
                                raw: before..after,
                                node,
                            });
                            lead_start = after;
                        } else {
                            started = Some((lead_start..before, before));
                            open.push(node);
                        }
                    }
                    d if d > 2 && !open.is_empty() => {
                        let node = node_of(e)?;
                        if empty {
                            open.last_mut().expect("open").children.push(node);
                        } else {
                            open.push(node);
                        }
                    }
                    _ => {}
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| unreadable("an end tag without its start"))?;
                if depth >= 2 && !open.is_empty() {
                    let node = open.pop().expect("open");
                    if let Some(parent) = open.last_mut() {
                        parent.children.push(node);
                    } else {
                        let (lead, start) = started.take().expect("started with its first node");
                        children.push(Element {
                            lead,
                            raw: start..after,
                            node,
                        });
                        lead_start = after;
                    }
                } else if depth == 1 && head_end.is_some() && rest.is_none() {
                    tail = lead_start..before;
                    rest = Some(before);
                }
            }
            other => {
                if let Some(t) = text_of(other)?
                    && let Some(n) = open.last_mut()
                {
                    n.text.push_str(&t);
                }
            }
        }
    }
    let version = version.ok_or(EditError::NotSeda2)?;
    let (Some(head_end), Some(rest)) = (head_end, rest) else {
        return Err(unreadable("the unit has no Content"));
    };
    let prefix = content_name
        .rsplit_once(':')
        .map(|(p, _)| format!("{p}:"))
        .unwrap_or_default();
    // `</Content>` (or nothing after an empty Content, whose tag was the start).
    let rest = if metadata[rest..].starts_with("</") {
        rest + metadata[rest..].find('>').map_or(0, |i| i + 1)
    } else {
        rest
    };
    Ok(Parsed {
        version,
        namespaces,
        head: 0..head_end,
        content_start,
        content_name,
        prefix,
        children,
        tail,
        rest: rest..metadata.len(),
    })
}

/// The unit's fields this module can change, as JSON (see the module's documentation);
/// a field present but not representable is left out. With the unit's SEDA version.
pub fn descriptive_fields(metadata: &str) -> Result<(SedaVersion, Map<String, Value>), EditError> {
    let parsed = parse(metadata)?;
    let mut out = Map::new();
    for (name, field) in CONTENT {
        if let Field::Edit(shape, _) = field {
            let nodes: Vec<&Node> = parsed
                .children
                .iter()
                .filter(|c| c.node.name == *name)
                .map(|c| &c.node)
                .collect();
            if let Ok(values) = read_field(name, *shape, &nodes) {
                for (k, v) in values {
                    out.insert(k, v);
                }
            }
        }
    }
    Ok((parsed.version, out))
}

/// The JSON of one field from its elements: `(key, value)` pairs (two for a `Lang` field),
/// or why it cannot be written back as it is.
fn read_field(name: &str, shape: Shape, nodes: &[&Node]) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    if nodes.is_empty() {
        return Ok(out);
    }
    if shape == Shape::Lang {
        let mut plain = None;
        let mut langs = Map::new();
        for n in nodes {
            leaf(name, n, true)?;
            match n.lang() {
                None if plain.is_none() => plain = Some(Value::String(n.text.clone())),
                None => return Err(format!("{name} is written twice without a language")),
                Some(l) => {
                    if langs
                        .insert(l.to_owned(), Value::String(n.text.clone()))
                        .is_some()
                    {
                        return Err(format!("{name} is written twice in the language {l}"));
                    }
                }
            }
        }
        if let Some(p) = plain {
            out.push((name.to_owned(), p));
        }
        if !langs.is_empty() {
            out.push((format!("{name}_"), Value::Object(langs)));
        }
        return Ok(out);
    }
    out.push((name.to_owned(), node_value(name, shape, nodes)?));
    Ok(out)
}

/// A text-only element: no children, no attribute (but `xml:lang` where it is allowed).
fn leaf(name: &str, n: &Node, lang_allowed: bool) -> Result<(), String> {
    if let Some(c) = n.children.first() {
        return Err(format!("{name} holds an element {}", c.name));
    }
    if let Some((k, _)) = n
        .attributes
        .iter()
        .find(|(k, _)| !(lang_allowed && k == "xml:lang"))
    {
        return Err(format!(
            "{name} has an attribute {k} that a correction here would lose"
        ));
    }
    Ok(())
}

fn node_value(name: &str, shape: Shape, nodes: &[&Node]) -> Result<Value, String> {
    let once = |nodes: &[&Node]| -> Result<(), String> {
        if nodes.len() > 1 {
            Err(format!(
                "{name} is written {} times where SEDA has it once",
                nodes.len()
            ))
        } else {
            Ok(())
        }
    };
    Ok(match shape {
        Shape::Text | Shape::Lang => {
            once(nodes)?;
            leaf(name, nodes[0], false)?;
            Value::String(nodes[0].text.clone())
        }
        Shape::Texts => Value::Array(
            nodes
                .iter()
                .map(|n| leaf(name, n, false).map(|()| Value::String(n.text.clone())))
                .collect::<Result<_, _>>()?,
        ),
        Shape::Object(children) => {
            once(nodes)?;
            object_value(name, children, nodes[0])?
        }
        Shape::Objects(children) => Value::Array(
            nodes
                .iter()
                .map(|n| object_value(name, children, n))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn object_value(name: &str, children: &[Child], n: &Node) -> Result<Value, String> {
    if let Some((k, _)) = n.attributes.first() {
        return Err(format!(
            "{name} has an attribute {k} that a correction here would lose"
        ));
    }
    if !n.text.trim().is_empty() {
        return Err(format!("{name} holds text beside its elements"));
    }
    if let Some(c) = n
        .children
        .iter()
        .find(|c| !children.iter().any(|s| s.name == c.name))
    {
        return Err(format!(
            "{name} holds {}, which is not corrected here",
            c.name
        ));
    }
    let mut out = Map::new();
    for spec in children {
        let nodes: Vec<&Node> = n.children.iter().filter(|c| c.name == spec.name).collect();
        if !nodes.is_empty() {
            out.insert(
                spec.name.to_owned(),
                node_value(&format!("{name}/{}", spec.name), spec.shape, &nodes)?,
            );
        }
    }
    Ok(Value::Object(out))
}

/// RFC 7396: `patch` applied to `target`.
pub fn merge_patch(target: Option<&Value>, patch: &Value) -> Option<Value> {
    match patch {
        Value::Null => None,
        Value::Object(p) => {
            let mut out = match target {
                Some(Value::Object(t)) => t.clone(),
                _ => Map::new(),
            };
            for (k, v) in p {
                match merge_patch(out.get(k), v) {
                    Some(v) => {
                        out.insert(k.clone(), v);
                    }
                    None => {
                        out.remove(k);
                    }
                }
            }
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

/// One field's value before and after a change (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A unit's metadata after a patch, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub version: SedaVersion,
    pub metadata: String,
    /// Field by field, in SEDA's order; empty when the patch changes nothing.
    pub changes: Vec<FieldChange>,
}

/// Applies a merge patch of descriptive fields to a unit's metadata; every problem of the
/// patch is in the error. The result is not yet checked against the schema (see
/// [`check_unit`]).
pub fn apply_patch(metadata: &str, patch: &Map<String, Value>) -> Result<Edited, EditError> {
    let parsed = parse(metadata)?;
    let version = parsed.version;
    let mut problems = Vec::new();
    if patch.len() > MAX_PATCH_FIELDS {
        return Err(EditError::Invalid(vec![format!(
            "{} fields in one change; at most {MAX_PATCH_FIELDS}",
            patch.len()
        )]));
    }
    // The fields named, each with its shape (a `Lang` field once for its two keys).
    let mut named: Vec<(&'static str, Shape)> = Vec::new();
    for key in patch.keys() {
        let base = key.strip_suffix('_').unwrap_or(key);
        match CONTENT.iter().find(|(n, _)| *n == base) {
            None => problems.push(format!(
                "{}: not a field of SEDA's Content; the fields corrected here are {}",
                bounded(key),
                editable_names(version).join(", ")
            )),
            Some((_, Field::Fixed(why))) => {
                problems.push(format!("{base} cannot be corrected: {why}"));
            }
            Some((n, Field::Edit(shape, since))) => {
                if key.ends_with('_') && *shape != Shape::Lang {
                    problems.push(format!(
                        "{key}: only Title_ and Description_ hold values by language"
                    ));
                } else if *since > minor(version) {
                    problems.push(format!(
                        "{n} exists from SEDA 2.{since}; this unit is in SEDA {}",
                        version.as_str()
                    ));
                } else if !named.iter().any(|(m, _)| m == n) {
                    named.push((n, *shape));
                }
            }
        }
    }
    // Each field named: its value now, the patch merged in, checked, written.
    let mut written: Vec<(&'static str, String)> = Vec::new();
    let mut changes = Vec::new();
    for (name, shape) in &named {
        let nodes: Vec<&Node> = parsed
            .children
            .iter()
            .filter(|c| c.node.name == *name)
            .map(|c| &c.node)
            .collect();
        let now: Map<String, Value> = match read_field(name, *shape, &nodes) {
            Ok(pairs) => pairs.into_iter().collect(),
            Err(why) => {
                problems.push(format!("{name} cannot be corrected: {why}"));
                continue;
            }
        };
        let keys: Vec<String> = if *shape == Shape::Lang {
            vec![(*name).to_owned(), format!("{name}_")]
        } else {
            vec![(*name).to_owned()]
        };
        let mut next = Map::new();
        for k in &keys {
            let merged = match patch.get(k) {
                Some(p) => merge_patch(now.get(k), p),
                None => now.get(k).cloned(),
            };
            let merged = merged.and_then(|v| normalise(k, *shape, v, &mut problems));
            if let Some(v) = merged {
                next.insert(k.clone(), v);
            }
            if now.get(k) != next.get(k) {
                changes.push(FieldChange {
                    field: k.clone(),
                    before: now.get(k).cloned(),
                    after: next.get(k).cloned(),
                });
            }
        }
        let mut xml = String::new();
        write_field(&mut xml, &parsed.prefix, name, *shape, &next);
        written.push((name, xml));
    }
    if !problems.is_empty() {
        return Err(EditError::Invalid(problems));
    }
    if changes.is_empty() {
        return Ok(Edited {
            version,
            metadata: metadata.to_owned(),
            changes,
        });
    }
    let out = assemble(metadata, &parsed, &written, |_| true);
    changes.sort_by_key(|c| order_of(c.field.trim_end_matches('_')));
    Ok(Edited {
        version,
        metadata: out,
        changes,
    })
}

/// The metadata with `written` fields in place of theirs (each where its first element was,
/// or where SEDA's order puts it), keeping the children `keep` says.
fn assemble(
    metadata: &str,
    parsed: &Parsed,
    written: &[(&'static str, String)],
    keep: impl Fn(&str) -> bool,
) -> String {
    let mut out = String::with_capacity(metadata.len() + 256);
    out.push_str(&metadata[parsed.head.clone()]);
    out.push_str(&parsed.content_start);
    let mut pending: Vec<&(&'static str, String)> = written.iter().collect();
    pending.sort_by_key(|(n, _)| order_of(n));
    let replaced = |name: &str| written.iter().any(|(n, _)| *n == name);
    let mut placed: Vec<&str> = Vec::new();
    for c in &parsed.children {
        let name = c.node.name.as_str();
        // The new fields SEDA puts before this one.
        while let Some(p) = pending.first()
            && order_of(p.0) < order_of(name)
            && !placed.contains(&p.0)
        {
            out.push_str(&metadata[c.lead.clone()]);
            out.push_str(&p.1);
            placed.push(p.0);
            pending.remove(0);
        }
        if replaced(name) {
            if !placed.contains(&name)
                && let Some(i) = pending.iter().position(|(n, _)| *n == name)
            {
                out.push_str(&metadata[c.lead.clone()]);
                out.push_str(&pending[i].1);
                placed.push(pending[i].0);
                pending.remove(i);
            }
            continue;
        }
        if keep(name) {
            out.push_str(&metadata[c.lead.clone()]);
            out.push_str(&metadata[c.raw.clone()]);
        }
    }
    for p in pending {
        out.push_str(&p.1);
    }
    out.push_str(&metadata[parsed.tail.clone()]);
    out.push_str(&format!("</{}>", parsed.content_name));
    out.push_str(&metadata[parsed.rest.clone()]);
    out
}

/// A value merged from the patch, checked against the field's shape: a single string for
/// an array of one, an empty array or object for absent. Problems are added, and give None.
fn normalise(key: &str, shape: Shape, v: Value, problems: &mut Vec<String>) -> Option<Value> {
    match shape {
        Shape::Lang if key.ends_with('_') => {
            let Value::Object(m) = v else {
                problems.push(format!(
                    "{key}: an object of texts by language, as {{\"en\": \"…\"}}"
                ));
                return None;
            };
            let mut out = Map::new();
            for (lang, t) in m {
                if !is_language(&lang) {
                    problems.push(format!(
                        "{key}: {:?} is not a language tag (as fr, en, fr-FR)",
                        bounded(&lang)
                    ));
                    continue;
                }
                if let Some(t) = normalise(&format!("{key}.{lang}"), Shape::Text, t, problems) {
                    out.insert(lang, t);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Shape::Text | Shape::Lang => match v {
            Value::String(s) => check_text(key, s, problems).map(Value::String),
            _ => {
                problems.push(format!("{key}: a string"));
                None
            }
        },
        Shape::Texts | Shape::Objects(_) => {
            // One value, or an array of them; a single value for an array of one.
            let (one, what) = match shape {
                Shape::Objects(children) => (Shape::Object(children), "objects"),
                _ => (Shape::Text, "strings"),
            };
            let single = matches!(
                (&v, one),
                (Value::String(_), Shape::Text) | (Value::Object(_), Shape::Object(_))
            );
            let items = match v {
                Value::Array(a) => a,
                v if single => vec![v],
                _ => {
                    problems.push(format!("{key}: an array of {what}"));
                    return None;
                }
            };
            if items.len() > MAX_VALUES {
                problems.push(format!(
                    "{key}: {} values; at most {MAX_VALUES}",
                    items.len()
                ));
                return None;
            }
            let out: Vec<Value> = items
                .into_iter()
                .filter_map(|i| normalise(key, one, i, problems))
                .collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        Shape::Object(children) => {
            let Value::Object(m) = v else {
                problems.push(format!("{key}: an object of {}", names(children)));
                return None;
            };
            let mut out = Map::new();
            for (k, v) in m {
                match children.iter().find(|c| c.name == k) {
                    None => problems.push(format!(
                        "{key}/{}: not a child of {key}; its children are {}",
                        bounded(&k),
                        names(children)
                    )),
                    Some(c) => {
                        if let Some(v) = normalise(&format!("{key}/{k}"), c.shape, v, problems) {
                            out.insert(k, v);
                        }
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
    }
}

fn names(children: &[Child]) -> String {
    children
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_text(key: &str, s: String, problems: &mut Vec<String>) -> Option<String> {
    if s.trim().is_empty() {
        problems.push(format!("{key}: empty; use null to remove a field"));
        return None;
    }
    if s.len() > MAX_VALUE_BYTES {
        problems.push(format!(
            "{key}: {} bytes; at most {MAX_VALUE_BYTES}",
            s.len()
        ));
        return None;
    }
    // XML 1.0 has no way to write these.
    if let Some(c) = s.chars().find(|c| {
        matches!(*c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
    }) {
        problems.push(format!(
            "{key}: holds the character U+{:04X}, which XML cannot carry",
            c as u32
        ));
        return None;
    }
    Some(s)
}

/// What a client wrote, fit for a message.
fn bounded(s: &str) -> String {
    carnac_model::journal::bounded_text(s, 80)
}

fn is_language(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag
            .split('-')
            .all(|p| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Writes one field's elements from its JSON (`values`: the field's key, and `Name_` for a
/// `Lang` field).
fn write_field(
    out: &mut String,
    prefix: &str,
    name: &str,
    shape: Shape,
    values: &Map<String, Value>,
) {
    if shape == Shape::Lang {
        if let Some(Value::String(s)) = values.get(name) {
            write_text(out, prefix, name, None, s);
        }
        if let Some(Value::Object(m)) = values.get(&format!("{name}_")) {
            for (lang, t) in m {
                if let Value::String(s) = t {
                    write_text(out, prefix, name, Some(lang), s);
                }
            }
        }
        return;
    }
    if let Some(v) = values.get(name) {
        write_value(out, prefix, name, shape, v);
    }
}

fn write_value(out: &mut String, prefix: &str, name: &str, shape: Shape, v: &Value) {
    match (shape, v) {
        (Shape::Text | Shape::Lang, Value::String(s)) => write_text(out, prefix, name, None, s),
        (Shape::Texts, Value::Array(items)) => {
            for i in items {
                write_value(out, prefix, name, Shape::Text, i);
            }
        }
        (Shape::Object(children), Value::Object(m)) => {
            out.push_str(&format!("<{prefix}{name}>"));
            for c in children {
                if let Some(v) = m.get(c.name) {
                    write_value(out, prefix, c.name, c.shape, v);
                }
            }
            out.push_str(&format!("</{prefix}{name}>"));
        }
        (Shape::Objects(children), Value::Array(items)) => {
            for i in items {
                write_value(out, prefix, name, Shape::Object(children), i);
            }
        }
        // `normalise` gave every value its shape.
        _ => {}
    }
}

fn write_text(out: &mut String, prefix: &str, name: &str, lang: Option<&str>, s: &str) {
    out.push_str(&format!("<{prefix}{name}"));
    if let Some(l) = lang {
        out.push_str(&format!(" xml:lang=\"{}\"", escape(l)));
    }
    out.push_str(&format!(">{}</{prefix}{name}>", escape(s)));
}

/// What the catalog keeps of a unit beside its metadata, read from it as the manifest
/// reader reads it at ingest (values trimmed; the first title; the last description level
/// and dates; each keyword's content).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitSummary {
    pub title: String,
    pub description_level: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub keywords: Vec<String>,
}

/// The summary of a unit's SEDA 2 metadata.
pub fn unit_summary(metadata: &str) -> Result<UnitSummary, EditError> {
    let parsed = parse(metadata)?;
    let mut s = UnitSummary::default();
    let mut title = None;
    for c in &parsed.children {
        let n = &c.node;
        let value = n.text.trim().to_owned();
        match n.name.as_str() {
            "Title" if title.is_none() => title = Some(value),
            "DescriptionLevel" => s.description_level = Some(value),
            "StartDate" => s.start_date = Some(value),
            "EndDate" => s.end_date = Some(value),
            "Keyword" => s.keywords.extend(
                n.children
                    .iter()
                    .filter(|k| k.name == "KeywordContent")
                    .map(|k| k.text.trim().to_owned()),
            ),
            _ => {}
        }
    }
    s.title = title.unwrap_or_default();
    Ok(s)
}

/// The unit to validate against the official XSD after a change: its `Content` with the
/// fields that may change only (the others were validated at ingest and are kept as they
/// were; some point at units and objects of the transfer, which a lone unit cannot hold),
/// as an `ArchiveUnit` element for [`crate::package::ManifestWriter::open_unit`].
pub fn check_unit(metadata: &str) -> Result<String, EditError> {
    let parsed = parse(metadata)?;
    let mut out = String::from("<ArchiveUnit");
    for (k, v) in &parsed.namespaces {
        out.push_str(&format!(" {k}=\"{}\"", escape(v)));
    }
    out.push('>');
    let cut = Parsed {
        head: 0..0,
        rest: metadata.len()..metadata.len(),
        ..parsed.clone()
    };
    let content = assemble(metadata, &cut, &[], |name| {
        matches!(field_of(name), Some(Field::Edit(..)))
    });
    out.push_str(&content);
    out.push_str("</ArchiveUnit>");
    Ok(out)
}

#[cfg(test)]
mod tests;
