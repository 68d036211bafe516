//! One pass over each content file: from the container to every offer, hashing with every
//! algorithm needed, sampling both ends for format identification, and feeding the antivirus,
//! all from the same buffer.

use crate::ports::{Progress, ScanSession, Verdict};
use carnac_blobstore::{Batch, BlobError, BlobWriter};
use carnac_model::{Digest, DigestAlgorithm, MultiHasher};
use carnac_pronom::{Identification, Identifier, Sample, Sampler};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// What one file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Examined {
    pub size: u64,
    pub digests: Vec<Digest>,
    pub identification: Option<Identification>,
    pub verdict: Option<Verdict>,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The container's bytes could not be read (truncated, corrupt, over a limit).
    #[error("{0}")]
    Source(io::Error),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("antivirus: {0}")]
    Scan(String),
    #[error("temporary file: {0}")]
    Temp(io::Error),
}

pub const BUFFER: usize = 1 << 20;

/// Copies one file. `batches` is empty when nothing is to be stored (a transfer already
/// rejected is still read through, so that its ATR lists every digest error).
#[allow(clippy::too_many_arguments)]
pub fn copy_one(
    reader: &mut dyn Read,
    name: &str,
    blob: &str,
    batches: &mut [Box<dyn Batch>],
    algorithms: &[DigestAlgorithm],
    identifier: &Identifier,
    zip_spool: &mut File,
    scan: Option<Box<dyn ScanSession>>,
    buf: &mut [u8],
    progress: &dyn Progress,
) -> Result<Examined, CopyError> {
    let mut writers: Vec<Box<dyn BlobWriter + '_>> = batches
        .iter_mut()
        .map(|b| b.create(blob))
        .collect::<Result<_, _>>()?;
    let mut hasher = MultiHasher::new(algorithms);
    let mut sampler = Sampler::default();
    let mut scan = scan;
    let mut size = 0u64;
    // Zip-based formats are told apart by their members, which needs random access: their
    // bytes also go to a scratch file, reused from file to file.
    let mut zip_copy: Option<&mut File> = None;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Source(e)),
        };
        let chunk = &buf[..n];
        if size == 0 && chunk.starts_with(b"PK\x03\x04") {
            zip_spool.set_len(0).map_err(CopyError::Temp)?;
            zip_spool
                .seek(SeekFrom::Start(0))
                .map_err(CopyError::Temp)?;
            zip_copy = Some(&mut *zip_spool);
        }
        size += n as u64;
        hasher.update(chunk);
        sampler.update(chunk);
        if let Some(s) = scan.as_mut() {
            s.update(chunk)
                .map_err(|e| CopyError::Scan(e.to_string()))?;
        }
        if let Some(z) = zip_copy.as_mut() {
            z.write_all(chunk).map_err(CopyError::Temp)?;
        }
        for w in &mut writers {
            w.write_all(chunk).map_err(|source| BlobError::Io {
                offer: String::new(),
                context: format!("writing {blob}"),
                source,
            })?;
        }
        progress.advance(n as u64);
    }
    for w in writers {
        let written = w.finish()?;
        if written != size {
            return Err(CopyError::Blob(BlobError::Invalid {
                offer: String::new(),
                message: format!("{blob}: {written} bytes stored of {size}"),
            }));
        }
    }
    let verdict = match scan {
        Some(s) => Some(s.finish().map_err(|e| CopyError::Scan(e.to_string()))?),
        None => None,
    };
    let sample: Sample = sampler.finish();
    let mut identification = identifier.identify(&sample, Some(name));
    if let (Some(first), true) = (&identification, zip_copy.is_some())
        && identifier.is_zip_trigger(&first.puid)
    {
        zip_spool
            .seek(SeekFrom::Start(0))
            .map_err(CopyError::Temp)?;
        if let Some(c) = identifier.identify_zip(io::BufReader::new(&mut *zip_spool), Some(name)) {
            identification = Some(c);
        }
    }
    Ok(Examined {
        size,
        digests: hasher.finish(),
        identification,
        verdict,
    })
}
