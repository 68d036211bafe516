//! PRONOM format identification from bytes: DROID byte-sequence and container signatures.
//!
//! No Rust crate identifies formats the way archivists expect from DROID and Siegfried, so
//! this crate implements DROID's rules over its own signature files:
//! - internal signatures: every byte sequence of a signature must match, each anchored at the
//!   beginning of the file (`BOFoffset`), at its end (`EOFoffset`) or anywhere (variable),
//!   with subsequence offsets, wildcards, ranges, byte sets and alternative fragments;
//! - priorities: a matching format that another matching format has priority over is dropped;
//! - container signatures for zip-based formats (office documents, OpenDocument…), checked
//!   when the byte identification says "zip";
//! - extension fallback when no signature matches, against the formats that have no signature
//!   (DROID's default; `fido` also considers formats that have one);
//! - last, as Siegfried does, plain text (`x-fmt/111`) for a file whose bytes are all text.
//!
//! Identification reads two windows of [`WINDOW`] bytes, the first and the last of the file,
//! collected while the file streams past ([`Sampler`]): variable-position sequences are
//! looked for in those windows, as `fido` does. Nothing here does I/O; callers give bytes or
//! a reader.

pub mod container;
pub mod pattern;
pub mod signature;

pub use signature::{Format, SignatureError, SignatureFile};

/// Bytes kept from each end of a file.
pub const WINDOW: usize = 128 * 1024;

/// How a format was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Signature,
    Container,
    Extension,
    /// No signature or extension: the bytes are text (Siegfried's "text match").
    Text,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Signature => "signature",
            Method::Container => "container",
            Method::Extension => "extension",
            Method::Text => "text",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identification {
    pub puid: String,
    pub name: String,
    pub version: Option<String>,
    pub mime_type: Option<String>,
    pub method: Method,
    /// Every PUID that remained after priorities, the chosen one first.
    pub candidates: Vec<String>,
    /// The file's extension is not one the chosen format declares.
    pub extension_mismatch: bool,
}

/// The first and last bytes of a file, gathered while it streams.
pub struct Sampler {
    window: usize,
    bof: Vec<u8>,
    /// Ring buffer of the last `window` bytes; `tail_start` is the oldest byte.
    tail: Vec<u8>,
    tail_start: usize,
    len: u64,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new(WINDOW)
    }
}

impl Sampler {
    pub fn new(window: usize) -> Sampler {
        Sampler {
            window,
            bof: Vec::new(),
            tail: Vec::new(),
            tail_start: 0,
            len: 0,
        }
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.bof.len() < self.window {
            let n = (self.window - self.bof.len()).min(bytes.len());
            self.bof.extend_from_slice(&bytes[..n]);
        }
        if bytes.len() >= self.window {
            bytes = &bytes[bytes.len() - self.window..];
            self.tail.clear();
            self.tail.extend_from_slice(bytes);
            self.tail_start = 0;
            return;
        }
        for &b in bytes {
            if self.tail.len() < self.window {
                self.tail.push(b);
            } else {
                self.tail[self.tail_start] = b;
                self.tail_start = (self.tail_start + 1) % self.window;
            }
        }
    }

    /// The first bytes seen so far: enough to decide early whether a file is a zip.
    pub fn head(&self) -> &[u8] {
        &self.bof
    }

    pub fn finish(mut self) -> Sample {
        self.tail.rotate_left(self.tail_start);
        let eof_reversed = self.tail.iter().rev().copied().collect();
        Sample {
            bof: self.bof,
            eof: self.tail,
            eof_reversed,
            len: self.len,
        }
    }
}

/// What identification looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub bof: Vec<u8>,
    pub eof: Vec<u8>,
    /// `eof` backwards, computed once: EOF-anchored sequences are matched on it.
    pub eof_reversed: Vec<u8>,
    pub len: u64,
}

impl Sample {
    pub fn of(bytes: &[u8]) -> Sample {
        let mut s = Sampler::default();
        s.update(bytes);
        s.finish()
    }
}

/// A compiled signature file, optionally with container signatures.
pub struct Identifier {
    signatures: SignatureFile,
    containers: Option<container::ContainerSignatures>,
}

const PLAIN_TEXT: &str = "x-fmt/111";

/// Whether both windows hold text: no control character but tab, line feed, form feed,
/// carriage return and escape, and at least one byte. Bytes above 0x7F are accepted (UTF-8
/// or a legacy 8-bit encoding).
fn is_text(sample: &Sample) -> bool {
    let text = |b: &u8| !matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F | 0x7F);
    sample.len > 0 && sample.bof.iter().all(text) && sample.eof.iter().all(text)
}

fn extension_of(name: &str) -> Option<String> {
    let base = name.rsplit('/').next()?;
    let (_, ext) = base.rsplit_once('.')?;
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

impl Identifier {
    pub fn new(
        signatures: SignatureFile,
        containers: Option<container::ContainerSignatures>,
    ) -> Identifier {
        Identifier {
            signatures,
            containers,
        }
    }

    /// The signature files shipped with Carnac (see `data/README.md`).
    pub fn embedded() -> Result<Identifier, SignatureError> {
        static DROID: &[u8] = include_bytes!("../data/DROID_SignatureFile_V122.xml");
        static CONTAINER: &[u8] = include_bytes!("../data/container-signature-20200121.xml");
        Ok(Identifier::new(
            SignatureFile::parse(DROID)?,
            Some(container::ContainerSignatures::parse(CONTAINER)?),
        ))
    }

    pub fn signatures(&self) -> &SignatureFile {
        &self.signatures
    }

    /// Whether a byte identification calls for a look inside the file as a zip container.
    pub fn is_zip_trigger(&self, puid: &str) -> bool {
        self.containers
            .as_ref()
            .is_some_and(|c| c.is_zip_trigger(puid))
    }

    /// Identifies from the sample and the file name; `None` when nothing matches at all.
    pub fn identify(&self, sample: &Sample, name: Option<&str>) -> Option<Identification> {
        let ext = name.and_then(extension_of);
        let matched = self.signatures.matching_formats(sample);
        let (indexes, method) = if matched.is_empty() {
            // DROID's default: a file no signature recognises is matched by extension against
            // the formats that have no signature (a format with one would have matched).
            let by_ext = ext
                .as_deref()
                .map(|e| self.signatures.formats_with_extension(e))
                .unwrap_or_default();
            let unsigned: Vec<usize> = by_ext
                .iter()
                .copied()
                .filter(|&i| self.signatures.formats()[i].signatures.is_empty())
                .collect();
            let candidates = if unsigned.is_empty() {
                by_ext
            } else {
                unsigned
            };
            (
                self.signatures.apply_priorities(&candidates),
                Method::Extension,
            )
        } else {
            (
                self.signatures.apply_priorities(&matched),
                Method::Signature,
            )
        };
        if indexes.is_empty() && is_text(sample) {
            let plain = self
                .signatures
                .format_index(PLAIN_TEXT)
                .into_iter()
                .collect();
            return self.choose(plain, Method::Text, ext.as_deref());
        }
        self.choose(indexes, method, ext.as_deref())
    }

    /// Refines a zip identification by its container signatures; `None` when none matches.
    pub fn identify_zip<R: std::io::Read + std::io::Seek>(
        &self,
        zip: R,
        name: Option<&str>,
    ) -> Option<Identification> {
        let containers = self.containers.as_ref()?;
        let puids = containers.match_zip(zip);
        let indexes: Vec<usize> = puids
            .iter()
            .filter_map(|p| self.signatures.format_index(p))
            .collect();
        let indexes = self.signatures.apply_priorities(&indexes);
        self.choose(
            indexes,
            Method::Container,
            name.and_then(extension_of).as_deref(),
        )
    }

    fn choose(
        &self,
        mut indexes: Vec<usize>,
        method: Method,
        ext: Option<&str>,
    ) -> Option<Identification> {
        if indexes.is_empty() {
            return None;
        }
        // Among equals, a format that declares the file's extension wins, as DROID reports it
        // without an extension mismatch.
        let has_ext = |i: &usize| {
            ext.is_some_and(|e| {
                self.signatures.formats()[*i]
                    .extensions
                    .iter()
                    .any(|x| x == e)
            })
        };
        indexes.sort_by_key(|i| (!has_ext(i), *i));
        let chosen = &self.signatures.formats()[indexes[0]];
        Some(Identification {
            puid: chosen.puid.clone(),
            name: chosen.name.clone(),
            version: chosen.version.clone(),
            mime_type: chosen.mime_type.clone(),
            method,
            candidates: indexes
                .iter()
                .map(|i| self.signatures.formats()[*i].puid.clone())
                .collect(),
            extension_mismatch: ext.is_some() && !has_ext(&indexes[0]),
        })
    }
}

#[cfg(test)]
mod tests;
