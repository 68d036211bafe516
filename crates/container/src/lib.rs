//! Safe reading of transfer containers (zip, zip64, tar, tar.gz, tar.bz2): detection by
//! content, path and bomb checks, streaming of members.
//!
//! Nothing from a container is trusted. [`Container::scan`] walks every entry and lists every
//! problem (path traversal, absolute paths, links, duplicates, forbidden or non-UTF-8 names,
//! too many entries, too much data, suspicious compression ratios) instead of stopping at the
//! first. Member bytes are only ever streamed ([`Container::for_each_file`]), and the limits
//! are enforced again on the bytes that actually come out of the decompressor, since declared
//! sizes can lie.
//!
//! The container is read from a seekable file: zip needs its central directory, and a tar is
//! read once to scan and once more to stream, which is cheap next to storing its content.

pub mod layout;

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// Formats we accept, recognised by their first bytes, never by their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Tar,
    TarGz,
    TarBz2,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::TarGz => "tar.gz",
            Kind::TarBz2 => "tar.bz2",
        }
    }
}

/// Limits against decompression bombs and resource exhaustion; all configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total uncompressed bytes of all members.
    pub max_total_size: u64,
    /// Number of entries, directories included.
    pub max_entries: u64,
    /// Uncompressed / compressed size, for the whole container and for any member larger
    /// than [`Limits::ratio_floor`].
    pub max_ratio: u64,
    /// Members smaller than this are not ratio-checked (tiny text compresses very well).
    pub ratio_floor: u64,
    /// Longest member path in bytes.
    pub max_path_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_size: 1 << 40,
            max_entries: 1_000_000,
            // Deflate cannot exceed about 1032:1 and nested archives are never expanded, so a
            // higher ratio means overlapping entries (a zip bomb) or bzip2 runs; real
            // transfers of repetitive text reach a few hundred (Vitam's load test: 225).
            max_ratio: 1000,
            ratio_floor: 1 << 20,
            max_path_len: 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
}

/// A member of the container whose name passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Normalised relative path with `/` separators, no trailing slash.
    pub path: String,
    pub kind: EntryKind,
    /// Uncompressed size as declared by the container.
    pub size: u64,
}

/// Something wrong with the container, with a stable code and a message naming the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
}

impl Problem {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            code,
            message: message.into(),
        }
    }
}

/// Everything found by one walk over the container.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Entries with acceptable names, in container order.
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
    /// Sum of the uncompressed sizes.
    pub total_size: u64,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    #[error("reading the container: {0}")]
    Io(#[from] io::Error),
    #[error("the container is neither zip, tar, tar.gz nor tar.bz2 (detected from its content)")]
    UnknownFormat,
    #[error("the container is truncated or corrupt: {0}")]
    Corrupt(String),
    #[error("member {path:?} holds more than the limit of {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("member {path:?} expands past {limit} bytes, beyond the allowed compression ratio")]
    Ratio { path: String, limit: u64 },
    #[error("member {path:?} is not the size the container declares ({declared} declared)")]
    SizeMismatch { path: String, declared: u64 },
}

impl ContainerError {
    /// A stable code for replies, shared with [`Problem::code`].
    pub fn code(&self) -> &'static str {
        match self {
            ContainerError::Io(_) | ContainerError::Corrupt(_) => "CONTAINER_CORRUPT",
            ContainerError::UnknownFormat => "CONTAINER_FORMAT",
            ContainerError::TooLarge { .. } | ContainerError::Ratio { .. } => "CONTAINER_BOMB",
            ContainerError::SizeMismatch { .. } => "CONTAINER_CORRUPT",
        }
    }
}

/// Detects the container format from its first bytes (at least 512 for tar).
pub fn detect(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Some(Kind::TarGz);
    }
    if head.starts_with(b"BZh") {
        return Some(Kind::TarBz2);
    }
    if head.len() >= 512 && is_tar_header(&head[..512]) {
        return Some(Kind::Tar);
    }
    None
}

/// A tar header is recognised by its checksum, which also covers pre-POSIX archives that lack
/// the `ustar` magic.
fn is_tar_header(block: &[u8]) -> bool {
    let field = &block[148..156];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| b as char)
        .collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u32
            }
        })
        .sum();
    stored == sum && block.iter().any(|&b| b != 0)
}

/// Checks a member name and returns its normalised form and whether it is a folder, `None`
/// for the bare `./` entry (the container's own root), or the problem with it.
///
/// `zip -r x.zip ./` and `tar czf x.tgz ./` write a `./` entry and `./`-prefixed names; Vitam
/// accepts them, and a leading `./` names nothing but the root, so it is dropped. Anywhere
/// else an empty or `.` component is refused: it has no reason to be there, and two spellings
/// of one path would hide a duplicate.
pub fn check_name(raw: &[u8], max_len: usize) -> Result<Option<(String, bool)>, Problem> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let name = std::str::from_utf8(raw).map_err(|_| {
        Problem::new(
            "NAME_NOT_UTF8",
            format!("member name {shown:?} is not valid UTF-8"),
        )
    })?;
    if name.len() > max_len {
        return Err(Problem::new(
            "NAME_TOO_LONG",
            format!("member name {shown:?} is longer than {max_len} bytes"),
        ));
    }
    if name.starts_with('/') || name.starts_with('\\') || name.as_bytes().get(1) == Some(&b':') {
        return Err(Problem::new(
            "ABSOLUTE_PATH",
            format!("member {shown:?} has an absolute path"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c.is_control() || matches!(c, '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'))
    {
        return Err(Problem::new(
            "FORBIDDEN_CHARACTER",
            format!("member name {shown:?} contains the forbidden character {c:?}"),
        ));
    }
    if name == "./" {
        return Ok(None);
    }
    let is_dir = name.ends_with('/');
    let trimmed = name
        .strip_prefix("./")
        .unwrap_or(name)
        .trim_end_matches('/');
    let mut parts = Vec::new();
    for part in trimmed.split('/') {
        match part {
            ".." => {
                return Err(Problem::new(
                    "PATH_TRAVERSAL",
                    format!("member {shown:?} climbs out of the container with '..'"),
                ));
            }
            "" | "." => {
                return Err(Problem::new(
                    "INVALID_PATH",
                    format!("member {shown:?} has an empty or '.' path component"),
                ));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(Problem::new(
            "INVALID_PATH",
            format!("member {shown:?} has no name"),
        ));
    }
    Ok(Some((parts.join("/"), is_dir)))
}

/// An opened container.
pub struct Container {
    file: File,
    kind: Kind,
    compressed_len: u64,
    limits: Limits,
}

impl Container {
    /// Detects the format of `file` from its content.
    pub fn open(mut file: File, limits: Limits) -> Result<Container, ContainerError> {
        let compressed_len = file.metadata()?.len();
        file.seek(SeekFrom::Start(0))?;
        let mut head = Vec::with_capacity(512);
        (&mut file).take(512).read_to_end(&mut head)?;
        file.seek(SeekFrom::Start(0))?;
        let kind = detect(&head).ok_or(ContainerError::UnknownFormat)?;
        Ok(Container {
            file,
            kind,
            compressed_len,
            limits,
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Walks every entry and lists all problems. `Err` only when the container cannot be read
    /// at all (truncated, corrupt).
    pub fn scan(&mut self) -> Result<Listing, ContainerError> {
        let mut listing = Listing::default();
        let mut seen = std::collections::HashSet::new();
        let limits = self.limits;
        let mut count = 0u64;
        let mut add = |listing: &mut Listing,
                       raw: &[u8],
                       size: u64,
                       compressed: Option<u64>,
                       special: Option<&str>|
         -> bool {
            count += 1;
            if count > limits.max_entries {
                listing.problems.push(Problem::new(
                    "CONTAINER_BOMB",
                    format!("more than {} entries", limits.max_entries),
                ));
                return false;
            }
            let (path, is_dir) = match check_name(raw, limits.max_path_len) {
                Ok(Some(v)) => v,
                Ok(None) => return true,
                Err(p) => {
                    listing.problems.push(p);
                    return true;
                }
            };
            if let Some(what) = special {
                listing.problems.push(Problem::new(
                    "LINK_OR_SPECIAL",
                    format!("member {path:?} is a {what}; only files and folders are accepted"),
                ));
                return true;
            }
            if !seen.insert(path.clone()) {
                listing.problems.push(Problem::new(
                    "DUPLICATE_ENTRY",
                    format!("member {path:?} appears more than once"),
                ));
                return true;
            }
            if let Some(c) = compressed
                && size > limits.ratio_floor
                && size / c.max(1) > limits.max_ratio
            {
                listing.problems.push(Problem::new(
                    "CONTAINER_BOMB",
                    format!(
                        "member {path:?} expands from {c} to {size} bytes, more than {} times",
                        limits.max_ratio
                    ),
                ));
            }
            listing.total_size = listing.total_size.saturating_add(size);
            listing.entries.push(Entry {
                path,
                kind: if is_dir {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
                size: if is_dir { 0 } else { size },
            });
            true
        };

        self.file.seek(SeekFrom::Start(0))?;
        match self.kind {
            Kind::Zip => {
                let mut zip = zip::ZipArchive::new(BufReader::new(&mut self.file))
                    .map_err(|e| ContainerError::Corrupt(e.to_string()))?;
                // The zip crate keys members by name, so a repeated name would hide a member.
                if zip.has_duplicate_names() {
                    listing.problems.push(Problem::new(
                        "DUPLICATE_ENTRY",
                        "the zip central directory names the same member more than once",
                    ));
                }
                for i in 0..zip.len() {
                    let f = zip
                        .by_index_raw(i)
                        .map_err(|e| ContainerError::Corrupt(e.to_string()))?;
                    let special = if f.is_symlink() {
                        Some("symbolic link")
                    } else if f.encrypted() {
                        Some("encrypted member")
                    } else {
                        None
                    };
                    let (raw, size, csize) = (f.name_raw().to_vec(), f.size(), f.compressed_size());
                    drop(f);
                    if !add(&mut listing, &raw, size, Some(csize), special) {
                        break;
                    }
                }
            }
            Kind::Tar | Kind::TarGz | Kind::TarBz2 => {
                let reader = self.decompressed()?;
                let mut archive = tar::Archive::new(reader);
                let entries = archive.entries().map_err(corrupt)?;
                for entry in entries {
                    let entry = entry.map_err(corrupt)?;
                    let header = entry.header();
                    let size = entry.size();
                    let special = match header.entry_type() {
                        tar::EntryType::Regular | tar::EntryType::Continuous => None,
                        tar::EntryType::Directory => None,
                        tar::EntryType::Symlink => Some("symbolic link"),
                        tar::EntryType::Link => Some("hard link"),
                        tar::EntryType::Char | tar::EntryType::Block => Some("device"),
                        tar::EntryType::Fifo => Some("named pipe"),
                        _ => Some("special entry"),
                    };
                    let mut raw = entry.path_bytes().into_owned();
                    if header.entry_type() == tar::EntryType::Directory && !raw.ends_with(b"/") {
                        raw.push(b'/');
                    }
                    if !add(&mut listing, &raw, size, None, special) {
                        break;
                    }
                    if listing.total_size > limits.max_total_size {
                        break;
                    }
                }
            }
        }
        if listing.total_size > limits.max_total_size {
            listing.problems.push(Problem::new(
                "CONTAINER_BOMB",
                format!(
                    "the container holds {} bytes once expanded, more than the limit of {}",
                    listing.total_size, limits.max_total_size
                ),
            ));
        }
        if listing.total_size > limits.ratio_floor
            && listing.total_size / self.compressed_len.max(1) > limits.max_ratio
        {
            listing.problems.push(Problem::new(
                "CONTAINER_BOMB",
                format!(
                    "the container expands from {} to {} bytes, more than {} times",
                    self.compressed_len, listing.total_size, limits.max_ratio
                ),
            ));
        }
        Ok(listing)
    }

    fn decompressed(&mut self) -> Result<Box<dyn Read + '_>, ContainerError> {
        self.file.seek(SeekFrom::Start(0))?;
        let buffered = BufReader::with_capacity(256 * 1024, &mut self.file);
        Ok(match self.kind {
            Kind::Tar => Box::new(buffered),
            Kind::TarGz => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
            Kind::TarBz2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
            Kind::Zip => unreachable!("zip members are read through the central directory"),
        })
    }

    /// Streams every regular file whose normalised path `wanted` accepts, in container order.
    /// The reader given to `visit` yields exactly the member's bytes and fails if they exceed
    /// the declared size, the total limit or the ratio limit, or if the member is corrupt.
    /// Returning `Err` from `visit` stops the walk.
    pub fn for_each_file<E>(
        &mut self,
        mut wanted: impl FnMut(&str) -> bool,
        mut visit: impl FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<ContainerError>,
    {
        let limits = self.limits;
        let mut budget = Budget {
            left: limits.max_total_size,
        };
        match self.kind {
            Kind::Zip => {
                self.file
                    .seek(SeekFrom::Start(0))
                    .map_err(ContainerError::Io)?;
                let mut zip = zip::ZipArchive::new(BufReader::new(&mut self.file))
                    .map_err(|e| ContainerError::Corrupt(e.to_string()))?;
                for i in 0..zip.len() {
                    let f = zip
                        .by_index(i)
                        .map_err(|e| ContainerError::Corrupt(e.to_string()))?;
                    if f.is_dir() || f.is_symlink() {
                        continue;
                    }
                    let Ok(Some((path, false))) = check_name(f.name_raw(), limits.max_path_len)
                    else {
                        continue;
                    };
                    if !wanted(&path) {
                        continue;
                    }
                    let entry = Entry {
                        path,
                        kind: EntryKind::File,
                        size: f.size(),
                    };
                    let max_by_ratio = if f.size() > limits.ratio_floor {
                        f.compressed_size().max(1).saturating_mul(limits.max_ratio)
                    } else {
                        u64::MAX
                    };
                    let mut reader = Guarded::new(f, &entry, &mut budget, max_by_ratio);
                    visit(&entry, &mut reader)?;
                    reader.finish()?;
                }
            }
            Kind::Tar | Kind::TarGz | Kind::TarBz2 => {
                let reader = self.decompressed()?;
                let mut archive = tar::Archive::new(reader);
                for entry in archive.entries().map_err(corrupt)? {
                    let entry = entry.map_err(corrupt)?;
                    if !matches!(
                        entry.header().entry_type(),
                        tar::EntryType::Regular | tar::EntryType::Continuous
                    ) {
                        continue;
                    }
                    let Ok(Some((path, false))) =
                        check_name(&entry.path_bytes(), limits.max_path_len)
                    else {
                        continue;
                    };
                    if !wanted(&path) {
                        continue;
                    }
                    let meta = Entry {
                        path,
                        kind: EntryKind::File,
                        size: entry.size(),
                    };
                    let mut reader = Guarded::new(entry, &meta, &mut budget, u64::MAX);
                    visit(&meta, &mut reader)?;
                    reader.finish()?;
                }
            }
        }
        Ok(())
    }
}

fn corrupt(e: io::Error) -> ContainerError {
    ContainerError::Corrupt(e.to_string())
}

struct Budget {
    left: u64,
}

/// Passes a member's bytes through while enforcing the limits on what really comes out.
struct Guarded<'a, R> {
    inner: R,
    path: &'a str,
    declared: u64,
    read: u64,
    budget: &'a mut Budget,
    max_by_ratio: u64,
}

impl<'a, R: Read> Guarded<'a, R> {
    fn new(inner: R, entry: &'a Entry, budget: &'a mut Budget, max_by_ratio: u64) -> Self {
        Guarded {
            inner,
            path: &entry.path,
            declared: entry.size,
            read: 0,
            budget,
            max_by_ratio,
        }
    }

    /// Drains what the visitor left unread (so CRC checks run) and checks the final size.
    fn finish(mut self) -> Result<(), ContainerError> {
        io::copy(&mut self, &mut io::sink()).map_err(|e| match e.into_inner() {
            Some(inner) => match inner.downcast::<ContainerError>() {
                Ok(ce) => *ce,
                Err(other) => ContainerError::Corrupt(other.to_string()),
            },
            None => ContainerError::Corrupt("read failed".into()),
        })?;
        if self.read != self.declared {
            return Err(ContainerError::SizeMismatch {
                path: self.path.to_owned(),
                declared: self.declared,
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for Guarded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            io::Error::other(ContainerError::Corrupt(format!(
                "member {:?}: {e}",
                self.path
            )))
        })?;
        self.read += n as u64;
        if self.read > self.declared {
            return Err(io::Error::other(ContainerError::SizeMismatch {
                path: self.path.to_owned(),
                declared: self.declared,
            }));
        }
        if self.read > self.max_by_ratio {
            return Err(io::Error::other(ContainerError::Ratio {
                path: self.path.to_owned(),
                limit: self.max_by_ratio,
            }));
        }
        if n as u64 > self.budget.left {
            return Err(io::Error::other(ContainerError::TooLarge {
                path: self.path.to_owned(),
                limit: self.budget.left,
            }));
        }
        self.budget.left -= n as u64;
        Ok(n)
    }
}

/// Recovers a [`ContainerError`] that travelled inside an `io::Error` through a reader chain.
pub fn container_error(e: &io::Error) -> Option<&ContainerError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ContainerError>())
}

#[cfg(test)]
mod tests;
