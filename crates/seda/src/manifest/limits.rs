//! The bounds a manifest is read within (depth, attributes, namespaces, text, metadata per
//! unit, time) and the structural pass that enforces them before any schema sees the bytes.

use super::*;

/// How deep elements may nest in a manifest by default. SEDA's own structure takes about
/// ten levels, a unit tree two more per level of units, descriptive metadata a few more:
/// a fonds of fifty levels of units stays far below. Beyond, the reader refuses the manifest
/// before it does any work that grows with the depth.
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// How many attributes one element may carry. A SEDA element has at most a dozen (the
/// `scheme*` and `list*` attributes of a code, `xml:lang`, `id`), the root a few namespace
/// declarations more. The bound is not configurable because nothing legitimate comes near
/// it, and because what it protects against is not a matter of taste: XML parsers check an
/// element's attributes for duplicates by comparing each with the ones before it, libxml2's
/// validation included, so an element with 300,000 attributes (a 700 KB zip) holds an
/// ingest worker for minutes in code that cannot be interrupted.
pub const MAX_ATTRIBUTES: usize = 64;

/// How many namespace declarations may be in scope at once. A SEDA manifest declares a
/// handful on its root (SEDA, XML Schema instance, an extension or two). Parsers find an
/// element's namespace by looking through the declarations in scope one by one, libxml2
/// included: 200 nested elements declaring 60 namespaces each made every element below them
/// cost twelve thousand comparisons, and a 6 KB zip took 3.7 s of uninterruptible validation
/// (0.26 s without the declarations).
pub const MAX_NAMESPACES: usize = 64;

/// How many bytes of text one element may hold directly before its first child element (in
/// one piece or several), and how long one piece of a manifest (a text, a tag, a comment)
/// may be. libxml2's schema
/// validation gathers an element's text by appending each small piece the parser hands it to
/// a string whose length it measures every time: its cost grows with the square of the
/// text's length. A 40 MB description took 6.2 s to validate, a 300 MB one (a 3.8 MB zip)
/// 521 s and 1.2 GB, uninterruptibly. A mebibyte is a book's worth of description; files
/// travel as attachments, and inline content (`Attachment`) is refused anyway.
pub const MAX_TEXT: usize = 1 << 20;

/// How many bytes of metadata a unit may have of its own (its element, nested units apart),
/// together with the units it is nested in. The reader holds a unit's metadata in memory
/// until the unit closes, then spools it to disk; the catalog keeps it in one row and the
/// API serves it in one answer. Real units take a few kilobytes (1,750 bytes each in the
/// 10,000-unit sample); without a bound, one unit could hold most of a 4 GiB manifest.
pub const MAX_UNIT_METADATA: usize = 16 << 20;

/// What a reader is allowed: how deep elements may nest, and when it must stop (asked every
/// few thousand XML events; the caller decides, from its clock, when time is over).
pub struct ReadLimits<'a> {
    pub max_depth: usize,
    /// `Some(why)` when the reader must stop now.
    pub stop: &'a dyn Fn() -> Option<String>,
}

impl Default for ReadLimits<'_> {
    fn default() -> Self {
        ReadLimits {
            max_depth: DEFAULT_MAX_DEPTH,
            stop: &|| None,
        }
    }
}

/// How many XML events a reader handles between two questions to [`ReadLimits::stop`].
pub(crate) const STOP_EVERY: u64 = 4096;

impl ReadLimits<'_> {
    /// Refuses an element opening at `depth` deeper than allowed (0: no element opens), or
    /// with more than [`MAX_ATTRIBUTES`] attributes; asks whether to stop every
    /// [`STOP_EVERY`] events.
    pub(crate) fn check(
        &self,
        event: &Event<'_>,
        depth: usize,
        events: u64,
    ) -> Result<(), ManifestError> {
        if depth > self.max_depth {
            return Err(ManifestError::TooDeep(depth, self.max_depth));
        }
        if let Event::Start(e) | Event::Empty(e) = event {
            check_attributes(e)?;
        }
        if events.is_multiple_of(STOP_EVERY)
            && let Some(why) = (self.stop)()
        {
            return Err(ManifestError::Stopped(why));
        }
        Ok(())
    }
}

/// Refuses an element with more than [`MAX_ATTRIBUTES`] attributes, looking at no more
/// than that many (without the duplicate check, which is what grows with their square).
pub(super) fn check_attributes(e: &BytesStart<'_>) -> Result<(), ManifestError> {
    if e.attributes()
        .with_checks(false)
        .nth(MAX_ATTRIBUTES)
        .is_some()
    {
        return Err(ManifestError::TooManyAttributes(
            String::from_utf8_lossy(e.name().as_ref())
                .chars()
                .take(100)
                .collect(),
            MAX_ATTRIBUTES,
        ));
    }
    Ok(())
}

/// Walks the whole manifest once, cheaply, and refuses it if it is not well-formed, declares
/// a DOCTYPE, nests deeper than `limits` allow, or carries more attributes on one element
/// ([`MAX_ATTRIBUTES`]), namespace declarations in scope ([`MAX_NAMESPACES`]) or text in one
/// element or piece ([`MAX_TEXT`]) than any manifest needs. Its memory is bounded by these.
///
/// This runs before anything whose cost grows faster than the manifest's size, libxml2's
/// schema validation first: libxml2 cannot be interrupted, so what it is given must already
/// be known to be of a reasonable shape. The walk itself is linear, keeps only the open elements'
/// names (cut, for the reasons), resolves no namespace, and asks `limits.stop` as it goes.
pub fn check_structure<R: BufRead>(input: R, limits: &ReadLimits<'_>) -> Result<(), ManifestError> {
    let mut reader = quick_xml::Reader::from_reader(Metered {
        inner: input,
        read: 0,
        limit: std::cell::Cell::new(MAX_TEXT as u64),
    });
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut open: Vec<OpenElement> = Vec::new();
    let mut in_scope = 0usize;
    let mut events = 0u64;
    let name = |e: &BytesStart<'_>| -> String {
        String::from_utf8_lossy(e.name().as_ref())
            .chars()
            .take(100)
            .collect()
    };
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(_) if reader.get_ref().over() => return Err(too_long(&open)),
            Err(e) => return Err(xml_err(e)),
        };
        // The next event may not run further than this.
        let next_limit = reader.buffer_position() + MAX_TEXT as u64;
        events += 1;
        let opens = matches!(event, Event::Start(_) | Event::Empty(_));
        limits.check(&event, if opens { open.len() + 1 } else { 0 }, events)?;
        match event {
            Event::DocType(_) => return Err(ManifestError::Doctype),
            Event::Start(ref e) | Event::Empty(ref e) => {
                // At most MAX_ATTRIBUTES of them, checked above.
                let here = e
                    .attributes()
                    .with_checks(false)
                    .flatten()
                    .filter(|a| a.key.as_namespace_binding().is_some())
                    .count();
                if in_scope + here > MAX_NAMESPACES {
                    return Err(ManifestError::TooManyNamespaces(name(e), MAX_NAMESPACES));
                }
                if let Some(parent) = open.last_mut() {
                    parent.has_children = true;
                }
                if matches!(event, Event::Start(_)) {
                    open.push(OpenElement {
                        name: name(e),
                        declared: here,
                        text: 0,
                        has_children: false,
                    });
                    in_scope += here;
                }
            }
            Event::Text(ref t) => add_text(&mut open, PIECE + t.len())?,
            Event::CData(ref t) => add_text(&mut open, PIECE + t.len())?,
            Event::GeneralRef(ref t) => add_text(&mut open, PIECE + t.len())?,
            Event::End(_) => in_scope -= open.pop().map_or(0, |e| e.declared),
            Event::Eof => return Ok(()),
            _ => {}
        }
        reader.get_ref().limit.set(next_limit);
        buf.clear();
    }
}

/// What each piece of an element's text (a run between comments, a reference, a CDATA
/// section) counts toward [`MAX_TEXT`] beyond its bytes: libxml2 appends each piece to the
/// text gathered so far, and its cost grows with their number as well as their length
/// (200,000 `&amp;` in one element took 210 ms to validate, 50,000 took 26 ms).
pub(super) const PIECE: usize = 64;

/// An element the walk is inside.
pub(super) struct OpenElement {
    /// Its name, cut to 100 characters, for the reasons.
    name: String,
    /// The namespace declarations it made.
    declared: usize,
    /// The text it holds directly before its first child element, with [`PIECE`] for each
    /// piece. Only that text costs libxml2: an element with simple content gathers its text,
    /// and one with child elements has no simple content (its whitespace is skipped, other
    /// text is an error; measured linear either way).
    text: usize,
    has_children: bool,
}

pub(super) fn too_long(open: &[OpenElement]) -> ManifestError {
    let at = open.last().map_or("the root", |e| e.name.as_str());
    ManifestError::TextTooLong(at.to_owned(), MAX_TEXT)
}

pub(super) fn add_text(open: &mut [OpenElement], len: usize) -> Result<(), ManifestError> {
    if let Some(e) = open.last_mut()
        && !e.has_children
    {
        e.text += len;
        if e.text > MAX_TEXT {
            return Err(too_long(open));
        }
    }
    Ok(())
}

/// A reader that refuses to be read past a position its user moves forward: the XML reader
/// reads a whole text, tag or comment into memory before it hands it over, so its length
/// has to be bounded below it (hand-written: no crate bounds a `BufRead` this way).
pub(super) struct Metered<R> {
    inner: R,
    /// Bytes consumed so far.
    read: u64,
    limit: std::cell::Cell<u64>,
}

impl<R> Metered<R> {
    fn over(&self) -> bool {
        self.read > self.limit.get()
    }

    /// How many bytes may still be read (at least one: one past the limit is how the
    /// reader learns it is over), or an error once over.
    fn room(&self) -> std::io::Result<usize> {
        if self.over() {
            return Err(std::io::Error::other("a piece of the manifest is too long"));
        }
        Ok(usize::try_from(self.limit.get() - self.read + 1).unwrap_or(usize::MAX))
    }
}

impl<R: BufRead> std::io::Read for Metered<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let room = self.room()?;
        let n = out.len().min(room);
        let n = self.inner.read(&mut out[..n])?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Metered<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let room = self.room()?;
        let available = self.inner.fill_buf()?;
        Ok(&available[..available.len().min(room)])
    }

    fn consume(&mut self, n: usize) {
        self.read += n as u64;
        self.inner.consume(n);
    }
}

pub(crate) fn xml_err(e: impl std::fmt::Display) -> ManifestError {
    ManifestError::NotXml(e.to_string())
}
