//! Small file helpers the use cases share: scratch files removed whatever happens, a writer
//! that hashes what passes, durable writes of key material, PEM and HTML text.

use carnac_model::MultiHasher;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Removes its scratch files whatever happens.
pub(crate) struct Scratch(pub Vec<PathBuf>);

impl Scratch {
    /// Creates (or empties) scratch file `i`, open to write and read back.
    pub fn create(&self, i: usize, what: &str) -> Result<std::fs::File, crate::ArchiveError> {
        std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.0[i])
            .map_err(|e| crate::ArchiveError::io(format!("creating {what}"), e))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Hashes what it writes.
pub(crate) struct HashingWriter<W: Write> {
    pub inner: W,
    pub hasher: MultiHasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `reader` to `writer` in one pass of 1 MiB reads, hashing the bytes with
/// `algorithms` on the way: their digests.
pub(crate) fn copy_hashed(
    reader: &mut dyn std::io::Read,
    writer: &mut dyn Write,
    algorithms: &[carnac_model::DigestAlgorithm],
) -> std::io::Result<Vec<carnac_model::Digest>> {
    let mut hasher = MultiHasher::new(algorithms);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        writer.write_all(&buf[..n])?;
    }
    Ok(hasher.finish())
}

/// Writes `bytes` to `path` with `mode` (0o600 for keys) through a temporary name, synced
/// before the rename: a crash leaves the old file or the new one, never half of one.
pub(crate) fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Moves a file whose bytes are already synced to `target`, and syncs the folder, so that
/// the new name survives a crash.
pub(crate) fn write_durably_rename(from: &Path, target: &Path) -> std::io::Result<()> {
    std::fs::File::open(from)?.sync_all()?;
    std::fs::rename(from, target)?;
    if let Some(dir) = target.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

pub(crate) fn pem(cert: &x509_cert::Certificate) -> Result<String, crate::ArchiveError> {
    use der::EncodePem;
    cert.to_pem(der::pem::LineEnding::LF)
        .map_err(|e| crate::ArchiveError::Invalid(format!("certificate: {e}")))
}

/// Every trust anchor, PEM, one after the other.
pub(crate) fn anchors_pem(
    trust: &carnac_timestamp::TrustStore,
) -> Result<String, crate::ArchiveError> {
    trust.anchors().iter().map(pem).collect()
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
