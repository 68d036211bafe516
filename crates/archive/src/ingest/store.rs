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

/// Files at least this large are hashed on a second thread while the first writes them.
const PARALLEL_FROM: u64 = 2 * BUFFER as u64;

/// Everything that looks at the bytes without storing them.
struct Inspection {
    hasher: MultiHasher,
    sampler: Sampler,
    scan: Option<Box<dyn ScanSession>>,
}

impl Inspection {
    fn update(&mut self, chunk: &[u8]) -> Result<(), CopyError> {
        self.hasher.update(chunk);
        self.sampler.update(chunk);
        if let Some(s) = self.scan.as_mut() {
            s.update(chunk)
                .map_err(|e| CopyError::Scan(e.to_string()))?;
        }
        Ok(())
    }
}

/// Where the bytes go: every offer, the zip scratch file when the file is a zip, and the
/// copy kept for the other objects of the same file.
struct Sinks<'a, 'b> {
    writers: Vec<Box<dyn BlobWriter + 'a>>,
    zip: Option<&'b mut File>,
    again: Option<&'b mut File>,
    blob: &'b str,
}

impl Sinks<'_, '_> {
    fn write(&mut self, chunk: &[u8]) -> Result<(), CopyError> {
        if let Some(z) = self.zip.as_mut() {
            z.write_all(chunk).map_err(CopyError::Temp)?;
        }
        if let Some(z) = self.again.as_mut() {
            z.write_all(chunk).map_err(CopyError::Temp)?;
        }
        for w in &mut self.writers {
            w.write_all(chunk).map_err(|source| BlobError::Io {
                offer: String::new(),
                context: format!("writing {}", self.blob),
                source,
            })?;
        }
        Ok(())
    }
}

fn read_some(reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize, CopyError> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Source(e)),
        }
    }
}

/// Copies one file into the blob of its object. When several objects are the same file
/// (SEDA 1.0 Documents naming one attachment), `blobs` names them all: the first is written
/// from the container and the bytes are also kept in `again`, from which [`copy_again`] then
/// writes the others (a batch writes one blob at a time). `batches` is empty when nothing is to be stored (a transfer already rejected is
/// still read through, so that its ATR lists every digest error). `size_hint` is the size the
/// container declares; large files are hashed on a second thread.
#[allow(clippy::too_many_arguments)]
pub fn copy_one(
    reader: &mut dyn Read,
    name: &str,
    blobs: &[&str],
    size_hint: u64,
    batches: &mut [Box<dyn Batch>],
    algorithms: &[DigestAlgorithm],
    identifier: &Identifier,
    zip_spool: &mut File,
    again: &mut File,
    scan: Option<Box<dyn ScanSession>>,
    buf: &mut [u8],
    progress: &dyn Progress,
) -> Result<Examined, CopyError> {
    let blob = blobs.first().copied().unwrap_or_default();
    let several = blobs.len() > 1 && !batches.is_empty();
    if several {
        again.set_len(0).map_err(CopyError::Temp)?;
        again.seek(SeekFrom::Start(0)).map_err(CopyError::Temp)?;
    }
    let writers: Vec<Box<dyn BlobWriter + '_>> = batches
        .iter_mut()
        .map(|b| b.create(blob))
        .collect::<Result<_, _>>()?;
    let mut sinks = Sinks {
        writers,
        zip: None,
        again: several.then_some(&mut *again),
        blob,
    };
    let mut inspection = Inspection {
        hasher: MultiHasher::new(algorithms),
        sampler: Sampler::default(),
        scan,
    };

    // The first chunk decides whether the file is a zip: zip-based formats are told apart
    // by their members, which needs random access, so their bytes also go to a scratch
    // file reused from file to file.
    let first = read_some(reader, buf)?;
    if buf[..first].starts_with(b"PK\x03\x04") {
        zip_spool.set_len(0).map_err(CopyError::Temp)?;
        zip_spool
            .seek(SeekFrom::Start(0))
            .map_err(CopyError::Temp)?;
        sinks.zip = Some(&mut *zip_spool);
    }
    let mut size = first as u64;
    sinks.write(&buf[..first])?;
    inspection.update(&buf[..first])?;
    progress.advance(first as u64);

    if first > 0 && size_hint >= PARALLEL_FROM {
        // Write on this thread, inspect on another; three buffers go round between them.
        let (to_inspect, chunks) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(2);
        let (give_back, returned) = std::sync::mpsc::channel::<Vec<u8>>();
        let inspected = std::thread::scope(|scope| -> Result<Inspection, CopyError> {
            let worker = scope.spawn(move || -> Result<Inspection, CopyError> {
                for (chunk, n) in chunks {
                    inspection.update(&chunk[..n])?;
                    let _ = give_back.send(chunk);
                }
                Ok(inspection)
            });
            let mut spare = 3;
            let result = (|| -> Result<(), CopyError> {
                loop {
                    let mut chunk = match returned.try_recv() {
                        Ok(b) => b,
                        Err(_) if spare > 0 => {
                            spare -= 1;
                            vec![0u8; BUFFER]
                        }
                        Err(_) => returned
                            .recv()
                            .map_err(|_| CopyError::Scan("the hashing thread stopped".into()))?,
                    };
                    let n = read_some(reader, &mut chunk)?;
                    if n == 0 {
                        return Ok(());
                    }
                    size += n as u64;
                    sinks.write(&chunk[..n])?;
                    progress.advance(n as u64);
                    if to_inspect.send((chunk, n)).is_err() {
                        return Ok(()); // The worker failed; its error is reported below.
                    }
                }
            })();
            drop(to_inspect);
            let inspected = worker
                .join()
                .map_err(|_| CopyError::Scan("the hashing thread panicked".into()))?;
            result?;
            inspected
        })?;
        inspection = inspected;
    } else if first > 0 {
        loop {
            let n = read_some(reader, buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            sinks.write(&buf[..n])?;
            inspection.update(&buf[..n])?;
            progress.advance(n as u64);
        }
    }
    let is_zip = sinks.zip.is_some();
    let check = |blob: &str, written: u64| {
        if written != size {
            return Err(CopyError::Blob(BlobError::Invalid {
                offer: String::new(),
                message: format!("{blob}: {written} bytes stored of {size}"),
            }));
        }
        Ok(())
    };
    for w in sinks.writers {
        check(blob, w.finish()?)?;
    }
    let verdict = match inspection.scan {
        Some(s) => Some(s.finish().map_err(|e| CopyError::Scan(e.to_string()))?),
        None => None,
    };
    let sample: Sample = inspection.sampler.finish();
    let mut identification = identifier.identify(&sample, Some(name));
    if let (Some(first), true) = (&identification, is_zip)
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
        digests: inspection.hasher.finish(),
        identification,
        verdict,
    })
}

/// The other objects of a file that several objects are (see [`copy_one`]): their blobs in
/// every batch, from the local copy `again` of `size` bytes.
pub fn copy_again(
    again: &mut File,
    blobs: &[&str],
    size: u64,
    batches: &mut [Box<dyn Batch>],
    buf: &mut [u8],
) -> Result<(), CopyError> {
    for other in blobs.iter().skip(1) {
        for b in batches.iter_mut() {
            again.seek(SeekFrom::Start(0)).map_err(CopyError::Temp)?;
            let mut w = b.create(other)?;
            loop {
                let n = again.read(buf).map_err(CopyError::Temp)?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n]).map_err(|source| BlobError::Io {
                    offer: String::new(),
                    context: format!("writing {other}"),
                    source,
                })?;
            }
            let written = w.finish()?;
            if written != size {
                return Err(CopyError::Blob(BlobError::Invalid {
                    offer: String::new(),
                    message: format!("{other}: {written} bytes stored of {size}"),
                }));
            }
        }
    }
    Ok(())
}
