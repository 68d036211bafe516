//! DROID signature files (`FFSignatureFile`): internal signatures compiled to patterns, and
//! the file formats with their extensions and priorities.

use crate::Sample;
use crate::pattern::{self, Tok};
use quick_xml::events::{BytesStart, Event};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub id: u32,
    pub puid: String,
    pub name: String,
    pub version: Option<String>,
    pub mime_type: Option<String>,
    pub extensions: Vec<String>,
    pub signatures: Vec<u32>,
    pub priority_over: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Bof,
    Eof,
    Variable,
}

/// One subsequence: where it may start after the previous one ends, its anchor, and the
/// fragments on either side (left ones in reading order, from the outermost in).
#[derive(Debug, Clone)]
pub struct Sub {
    pub min: usize,
    pub max: Option<usize>,
    pub left: Vec<Tok>,
    pub anchor: Vec<Tok>,
    pub right: Vec<Tok>,
    left_len: (usize, Option<usize>),
    /// The fewest bytes a placement takes, offset included.
    min_len: usize,
    /// The longest run of literal bytes at a fixed offset in the anchor: candidates are found
    /// by searching it, as DROID's anchor search does, instead of trying every byte.
    literal: Option<(usize, memchr::memmem::Finder<'static>)>,
}

impl Sub {
    fn new(
        min: usize,
        max: Option<usize>,
        left: Vec<Tok>,
        anchor: Vec<Tok>,
        right: Vec<Tok>,
    ) -> Sub {
        let mut best: Option<(usize, Vec<u8>)> = None;
        let mut run: Vec<u8> = Vec::new();
        let mut run_start = 0;
        for (offset, tok) in anchor.iter().enumerate() {
            match tok {
                Tok::Class(c) => match c.single() {
                    Some(b) => {
                        if run.is_empty() {
                            run_start = offset;
                        }
                        run.push(b);
                    }
                    None => run.clear(),
                },
                // Past a gap or an alternative, offsets are no longer fixed.
                _ => break,
            }
            if run.len() > best.as_ref().map_or(0, |b| b.1.len()) {
                best = Some((run_start, run.clone()));
            }
        }
        let literal =
            best.map(|(offset, bytes)| (offset, memchr::memmem::Finder::new(&bytes).into_owned()));
        let left_len = pattern::length_bounds(&left);
        let min_len =
            min + left_len.0 + pattern::length_bounds(&anchor).0 + pattern::length_bounds(&right).0;
        Sub {
            min,
            max,
            left,
            anchor,
            right,
            left_len,
            min_len,
            literal,
        }
    }

    fn mirrored(self) -> Sub {
        Sub::new(
            self.min,
            self.max,
            pattern::reversed(&self.right),
            pattern::reversed(&self.anchor),
            pattern::reversed(&self.left),
        )
    }

    /// Given an anchor at `a`, the end of the placement if its fragments fit and it starts in
    /// `from..=to`.
    fn placement(&self, buf: &[u8], a: usize, from: usize, to: Option<usize>) -> Option<usize> {
        let anchor_end = pattern::match_at(&self.anchor, buf, a)?;
        let end = pattern::match_at(&self.right, buf, anchor_end)?;
        if self.left.is_empty() {
            return (a >= from && to.is_none_or(|t| a <= t)).then_some(end);
        }
        let lo = a
            .checked_sub(self.left_len.1.unwrap_or(a).min(a))?
            .max(from);
        let hi = a
            .checked_sub(self.left_len.0)?
            .min(to.unwrap_or(usize::MAX));
        (lo..=hi)
            .any(|s| pattern::matches_exactly(&self.left, buf, s, a))
            .then_some(end)
    }

    /// The end of the first placement starting in `from..=to`.
    fn first_end(&self, buf: &[u8], from: usize, to: Option<usize>) -> Option<usize> {
        let lo = from.checked_add(self.left_len.0)?;
        if lo > buf.len() {
            return None;
        }
        let hi = match (to, self.left_len.1) {
            (Some(t), Some(l)) => t.saturating_add(l).min(buf.len()),
            _ => buf.len(),
        };
        if lo > hi {
            return None;
        }
        match &self.literal {
            // A short window: jump between occurrences of the literal's first byte.
            Some((offset, finder)) if hi - lo <= 256 => {
                let first = finder.needle()[0];
                let start = lo + offset;
                let stop = (hi + offset + 1).min(buf.len());
                if start >= stop {
                    return None;
                }
                memchr::memchr_iter(first, &buf[start..stop])
                    .find_map(|hit| self.placement(buf, start + hit - offset, from, to))
            }
            None if hi - lo <= 256 => (lo..=hi).find_map(|a| self.placement(buf, a, from, to)),
            Some((offset, finder)) => {
                let start = lo + offset;
                let stop = hi
                    .saturating_add(offset + finder.needle().len())
                    .min(buf.len());
                if start >= stop {
                    return None;
                }
                finder
                    .find_iter(&buf[start..stop])
                    .find_map(|hit| self.placement(buf, start + hit - offset, from, to))
            }
            None => (lo..=hi).find_map(|a| self.placement(buf, a, from, to)),
        }
    }
}

/// One byte sequence of a signature, compiled.
#[derive(Debug, Clone)]
pub struct Sequence {
    pub anchor: Anchor,
    /// In matching order. For `Eof`, mirrored: matched from the start of the reversed window.
    pub subs: Vec<Sub>,
    /// No file shorter than this can match.
    min_len: usize,
}

impl Sequence {
    /// As DROID does, each subsequence takes its first placement and the next one is looked
    /// for after it: no backtracking across subsequences, so the cost stays linear.
    fn matches_in(&self, buf: &[u8], anchored: bool) -> bool {
        let mut pos = 0usize;
        for (i, sub) in self.subs.iter().enumerate() {
            let (from, to) = if i == 0 && !anchored {
                (0, None)
            } else {
                (
                    pos.saturating_add(sub.min),
                    sub.max.map(|m| pos.saturating_add(m)),
                )
            };
            match sub.first_end(buf, from, to) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }

    pub fn matches(&self, sample: &Sample) -> bool {
        if (sample.len as usize) < self.min_len {
            return false;
        }
        match self.anchor {
            Anchor::Bof => self.matches_in(&sample.bof, true),
            Anchor::Eof => self.matches_in(&sample.eof_reversed, true),
            Anchor::Variable => {
                self.matches_in(&sample.bof, false) || self.matches_in(&sample.eof, false)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("the signature file is not well-formed XML: {0}")]
    Xml(String),
    #[error("signature {signature}: {source}")]
    Pattern {
        signature: u32,
        #[source]
        source: pattern::PatternError,
    },
    #[error("the signature file has {0}")]
    Invalid(String),
}

pub struct SignatureFile {
    pub version: String,
    formats: Vec<Format>,
    signatures: BTreeMap<u32, Vec<Sequence>>,
    by_puid: HashMap<String, usize>,
    by_id: HashMap<u32, usize>,
    /// Formats by extension (lowercase), in file order.
    by_extension: HashMap<String, Vec<usize>>,
    /// Formats by internal signature.
    by_signature: HashMap<u32, Vec<usize>>,
}

#[derive(Default)]
struct RawSub {
    position: u32,
    min: usize,
    max: Option<usize>,
    sequence: String,
    left: Vec<RawFrag>,
    right: Vec<RawFrag>,
}

struct RawFrag {
    position: u32,
    min: usize,
    max: usize,
    text: String,
}

pub(crate) fn attrs(e: &BytesStart<'_>) -> Result<HashMap<String, String>, SignatureError> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|e| SignatureError::Xml(e.to_string()))?;
        out.insert(
            String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
            a.unescape_value()
                .map_err(|e| SignatureError::Xml(e.to_string()))?
                .into_owned(),
        );
    }
    Ok(out)
}

fn num<T: std::str::FromStr>(map: &HashMap<String, String>, key: &str) -> Option<T> {
    map.get(key).and_then(|v| v.trim().parse().ok())
}

/// Fragments at one position are alternatives; each is followed (left side) or preceded
/// (right side) by its own gap.
fn fragments(frags: &[RawFrag], left: bool, sig: u32) -> Result<Vec<Tok>, SignatureError> {
    let mut by_pos: BTreeMap<u32, Vec<&RawFrag>> = BTreeMap::new();
    for f in frags {
        by_pos.entry(f.position).or_default().push(f);
    }
    let mut levels = Vec::new();
    for (_, alts) in by_pos {
        let mut options = Vec::new();
        for f in alts {
            let toks = pattern::parse(&f.text).map_err(|source| SignatureError::Pattern {
                signature: sig,
                source,
            })?;
            let gap = Tok::Gap {
                min: f.min,
                max: Some(f.max.max(f.min)),
            };
            let mut option = Vec::new();
            if left {
                option.extend(toks);
                option.push(gap);
            } else {
                option.push(gap);
                option.extend(toks);
            }
            options.push(option);
        }
        levels.push(if options.len() == 1 {
            options.remove(0)
        } else {
            vec![Tok::Alt(options)]
        });
    }
    // Position 1 is next to the anchor: on the left, the highest position comes first.
    if left {
        levels.reverse();
    }
    Ok(levels.into_iter().flatten().collect())
}

fn compile(anchor: Anchor, mut raw: Vec<RawSub>, sig: u32) -> Result<Sequence, SignatureError> {
    raw.sort_by_key(|s| s.position);
    let mut subs = Vec::with_capacity(raw.len());
    for s in &raw {
        let seq = pattern::parse(&s.sequence).map_err(|source| SignatureError::Pattern {
            signature: sig,
            source,
        })?;
        let sub = Sub::new(
            s.min,
            s.max.map(|m| m.max(s.min)),
            fragments(&s.left, true, sig)?,
            seq,
            fragments(&s.right, false, sig)?,
        );
        // Position 1 of an EOF sequence is the one nearest the end, and its offset counts from
        // EOF: on the reversed window it comes first, mirrored.
        subs.push(if anchor == Anchor::Eof {
            sub.mirrored()
        } else {
            sub
        });
    }
    // A variable sequence's first offset does not apply.
    let min_len = subs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 0 && anchor == Anchor::Variable {
                s.min_len - s.min
            } else {
                s.min_len
            }
        })
        .sum();
    Ok(Sequence {
        anchor,
        subs,
        min_len,
    })
}

/// Builds internal signatures from the XML events of `InternalSignature` elements; shared by
/// signature files and container signature files, which embed the same structure.
#[derive(Default)]
pub(crate) struct SignatureBuilder {
    sig: Option<(u32, Vec<Sequence>)>,
    seq: Option<(Anchor, Vec<RawSub>)>,
    sub: Option<RawSub>,
    frag: Option<(bool, RawFrag)>,
}

impl SignatureBuilder {
    pub(crate) fn start(&mut self, local: &[u8], a: &HashMap<String, String>) {
        match local {
            b"InternalSignature" => self.sig = Some((num(a, "ID").unwrap_or(0), Vec::new())),
            b"ByteSequence" => {
                let anchor = match a.get("Reference").map(String::as_str) {
                    Some("BOFoffset") => Anchor::Bof,
                    Some("EOFoffset") => Anchor::Eof,
                    _ => Anchor::Variable,
                };
                self.seq = Some((anchor, Vec::new()));
            }
            b"SubSequence" => {
                self.sub = Some(RawSub {
                    position: num(a, "Position").unwrap_or(1),
                    min: num(a, "SubSeqMinOffset").unwrap_or(0),
                    max: num(a, "SubSeqMaxOffset"),
                    ..RawSub::default()
                })
            }
            b"LeftFragment" | b"RightFragment" => {
                self.frag = Some((
                    local == b"LeftFragment",
                    RawFrag {
                        position: num(a, "Position").unwrap_or(1),
                        min: num(a, "MinOffset").unwrap_or(0),
                        max: num(a, "MaxOffset").unwrap_or(0),
                        text: String::new(),
                    },
                ))
            }
            _ => {}
        }
    }

    /// Returns a completed signature when `local` closes one.
    pub(crate) fn end(
        &mut self,
        local: &[u8],
        value: String,
    ) -> Result<Option<(u32, Vec<Sequence>)>, SignatureError> {
        match local {
            b"Sequence" => {
                if let Some(s) = self.sub.as_mut() {
                    s.sequence = value;
                }
            }
            b"LeftFragment" | b"RightFragment" => {
                if let (Some((left, mut f)), Some(s)) = (self.frag.take(), self.sub.as_mut()) {
                    f.text = value;
                    if left {
                        s.left.push(f)
                    } else {
                        s.right.push(f)
                    }
                }
            }
            b"SubSequence" => {
                if let (Some(s), Some((_, subs))) = (self.sub.take(), self.seq.as_mut()) {
                    subs.push(s);
                }
            }
            b"ByteSequence" => {
                if let (Some((anchor, subs)), Some((id, seqs))) =
                    (self.seq.take(), self.sig.as_mut())
                {
                    seqs.push(compile(anchor, subs, *id)?);
                }
            }
            b"InternalSignature" => return Ok(self.sig.take()),
            _ => {}
        }
        Ok(None)
    }
}

pub(crate) fn read_text(text: &mut String, ev: &Event<'_>) -> Result<(), SignatureError> {
    match ev {
        Event::Text(t) => text.push_str(
            &t.xml10_content()
                .map_err(|e| SignatureError::Xml(e.to_string()))?,
        ),
        Event::GeneralRef(r) => {
            let name = r.decode().map_err(|e| SignatureError::Xml(e.to_string()))?;
            if let Some(v) = quick_xml::escape::resolve_xml_entity(&name) {
                text.push_str(v);
            } else if let Some(c) = r
                .resolve_char_ref()
                .map_err(|e| SignatureError::Xml(e.to_string()))?
            {
                text.push(c);
            }
        }
        _ => {}
    }
    Ok(())
}

impl SignatureFile {
    pub fn parse(bytes: &[u8]) -> Result<SignatureFile, SignatureError> {
        let xml = |e: quick_xml::Error| SignatureError::Xml(e.to_string());
        let mut reader = quick_xml::Reader::from_reader(bytes);
        let mut buf = Vec::new();
        let mut version = String::new();
        let mut formats = Vec::new();
        let mut signatures = BTreeMap::new();
        let mut builder = SignatureBuilder::default();
        let mut current_format: Option<Format> = None;
        let mut text = String::new();
        loop {
            let ev = reader.read_event_into(&mut buf).map_err(xml)?;
            match &ev {
                Event::Start(e) | Event::Empty(e) => {
                    text.clear();
                    let a = attrs(e)?;
                    let local = e.local_name();
                    builder.start(local.as_ref(), &a);
                    match local.as_ref() {
                        b"FFSignatureFile" => {
                            version = a.get("Version").cloned().unwrap_or_default()
                        }
                        b"FileFormat" => {
                            let f = Format {
                                id: num(&a, "ID").unwrap_or(0),
                                puid: a.get("PUID").cloned().unwrap_or_default(),
                                name: a.get("Name").cloned().unwrap_or_default(),
                                version: a.get("Version").cloned().filter(|v| !v.is_empty()),
                                mime_type: a.get("MIMEType").cloned().filter(|v| !v.is_empty()),
                                extensions: Vec::new(),
                                signatures: Vec::new(),
                                priority_over: Vec::new(),
                            };
                            if matches!(ev, Event::Empty(_)) {
                                formats.push(f);
                            } else {
                                current_format = Some(f);
                            }
                        }
                        _ => {}
                    }
                }
                Event::Text(_) | Event::GeneralRef(_) => read_text(&mut text, &ev)?,
                Event::End(e) => {
                    let value = text.trim().to_owned();
                    let local = e.local_name();
                    if let Some((id, seqs)) = builder.end(local.as_ref(), value.clone())? {
                        signatures.insert(id, seqs);
                    }
                    match local.as_ref() {
                        b"InternalSignatureID" => {
                            if let (Some(f), Ok(id)) = (current_format.as_mut(), value.parse()) {
                                f.signatures.push(id);
                            }
                        }
                        b"Extension" => {
                            if let Some(f) = current_format.as_mut() {
                                f.extensions.push(value.to_ascii_lowercase());
                            }
                        }
                        b"HasPriorityOverFileFormatID" => {
                            if let (Some(f), Ok(id)) = (current_format.as_mut(), value.parse()) {
                                f.priority_over.push(id);
                            }
                        }
                        b"FileFormat" => {
                            if let Some(f) = current_format.take() {
                                formats.push(f);
                            }
                        }
                        _ => {}
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        if formats.is_empty() {
            return Err(SignatureError::Invalid("no FileFormat".into()));
        }
        let by_puid = formats
            .iter()
            .enumerate()
            .map(|(i, f)| (f.puid.clone(), i))
            .collect();
        let by_id = formats.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
        let mut by_extension: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_signature: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, f) in formats.iter().enumerate() {
            for e in &f.extensions {
                let list = by_extension.entry(e.clone()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
            for s in &f.signatures {
                by_signature.entry(*s).or_default().push(i);
            }
        }
        Ok(SignatureFile {
            version,
            formats,
            signatures,
            by_puid,
            by_id,
            by_extension,
            by_signature,
        })
    }

    pub fn formats(&self) -> &[Format] {
        &self.formats
    }

    pub fn format(&self, puid: &str) -> Option<&Format> {
        self.by_puid.get(puid).map(|&i| &self.formats[i])
    }

    pub(crate) fn format_index(&self, puid: &str) -> Option<usize> {
        self.by_puid.get(puid).copied()
    }

    /// Indexes of the formats one of whose internal signatures matches, in file order.
    pub(crate) fn matching_formats(&self, sample: &Sample) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .signatures
            .iter()
            .filter(|(_, seqs)| !seqs.is_empty() && seqs.iter().all(|s| s.matches(sample)))
            .flat_map(|(id, _)| self.by_signature.get(id).into_iter().flatten().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Drops every format that another of the set has priority over.
    pub(crate) fn apply_priorities(&self, indexes: &[usize]) -> Vec<usize> {
        let beaten: HashSet<u32> = indexes
            .iter()
            .flat_map(|&i| self.formats[i].priority_over.iter().copied())
            .collect();
        indexes
            .iter()
            .copied()
            .filter(|&i| !beaten.contains(&self.formats[i].id))
            .collect()
    }

    pub(crate) fn formats_with_extension(&self, ext: &str) -> Vec<usize> {
        self.by_extension.get(ext).cloned().unwrap_or_default()
    }

    /// Time spent on each internal signature for one sample, slowest first (diagnostics).
    pub fn profile(&self, sample: &Sample) -> Vec<(u32, std::time::Duration)> {
        let mut out: Vec<_> = self
            .signatures
            .iter()
            .map(|(id, seqs)| {
                let t = std::time::Instant::now();
                let _ = seqs.iter().all(|s| s.matches(sample));
                (*id, t.elapsed())
            })
            .collect();
        out.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        out
    }

    /// Looks a format up by its DROID ID.
    pub fn format_by_id(&self, id: u32) -> Option<&Format> {
        self.by_id.get(&id).map(|&i| &self.formats[i])
    }
}
