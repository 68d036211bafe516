//! An offer on a local filesystem: `root/tenant/batch/name`.
//!
//! Durability is batched, as this machine's measurements demand (one fsync per file caps
//! small-file ingest near 3,500 files/s): blobs are written to `.name.tmp`, the whole
//! filesystem is synced once (`syncfs`), every blob is renamed to its final name, and the
//! filesystem is synced again so that the names are durable too.

use crate::{Batch, BlobError, BlobKey, BlobStore, BlobWriter};
use carnac_model::{OperationId, TenantId};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub struct FsStore {
    name: String,
    root: PathBuf,
}

impl FsStore {
    /// Opens (creating if needed) an offer rooted at `root`.
    pub fn open(name: impl Into<String>, root: impl Into<PathBuf>) -> Result<FsStore, BlobError> {
        let store = FsStore {
            name: name.into(),
            root: root.into(),
        };
        fs::create_dir_all(&store.root)
            .map_err(|e| store.io(format!("creating {}", store.root.display()), e))?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(&self, context: String, source: io::Error) -> BlobError {
        BlobError::Io {
            offer: self.name.clone(),
            context,
            source,
        }
    }

    fn batch_dir(&self, tenant: &TenantId, batch: &OperationId) -> PathBuf {
        self.root.join(tenant.as_str()).join(batch.as_str())
    }

    fn path(&self, key: &BlobKey) -> Result<PathBuf, BlobError> {
        if !BlobKey::check_name(&key.name) {
            return Err(BlobError::Invalid {
                offer: self.name.clone(),
                message: format!("invalid blob name {:?}", key.name),
            });
        }
        Ok(self.batch_dir(&key.tenant, &key.batch).join(&key.name))
    }
}

fn syncfs(dir: &Path) -> io::Result<()> {
    let f = File::open(dir)?;
    rustix::fs::syncfs(&f).map_err(io::Error::from)
}

impl BlobStore for FsStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn begin(&self, tenant: &TenantId, batch: &OperationId) -> Result<Box<dyn Batch>, BlobError> {
        let dir = self.batch_dir(tenant, batch);
        fs::create_dir_all(&dir).map_err(|e| self.io(format!("creating {}", dir.display()), e))?;
        Ok(Box::new(FsBatch {
            offer: self.name.clone(),
            root: self.root.clone(),
            dir,
            created: Vec::new(),
            names: std::collections::HashSet::new(),
        }))
    }

    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send>, BlobError> {
        let path = self.path(key)?;
        match File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound {
                offer: self.name.clone(),
                key: key.to_string(),
            }),
            Err(e) => Err(self.io(format!("opening {}", path.display()), e)),
        }
    }

    fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        let path = self.path(key)?;
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound {
                offer: self.name.clone(),
                key: key.to_string(),
            }),
            Err(e) => Err(self.io(format!("reading metadata of {}", path.display()), e)),
        }
    }

    fn discard(&self, tenant: &TenantId, batch: &OperationId) -> Result<(), BlobError> {
        let dir = self.batch_dir(tenant, batch);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io(format!("removing {}", dir.display()), e)),
        }
        syncfs(&self.root).map_err(|e| self.io("syncing after discard".into(), e))
    }

    fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.delete_all(std::slice::from_ref(key))
    }

    fn delete_all(&self, keys: &[BlobKey]) -> Result<(), BlobError> {
        let paths = keys
            .iter()
            .map(|k| self.path(k))
            .collect::<Result<Vec<_>, _>>()?;
        for path in &paths {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io(format!("removing {}", path.display()), e)),
            }
        }
        // One sync for all: the removals are durable before this returns.
        syncfs(&self.root).map_err(|e| self.io("syncing after removals".into(), e))
    }

    fn batches(&self) -> Result<Vec<(TenantId, OperationId)>, BlobError> {
        let mut out = Vec::new();
        let read = |dir: &Path| -> Result<Vec<String>, BlobError> {
            let mut names = Vec::new();
            for entry in
                fs::read_dir(dir).map_err(|e| self.io(format!("listing {}", dir.display()), e))?
            {
                let entry = entry.map_err(|e| self.io(format!("listing {}", dir.display()), e))?;
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
            Ok(names)
        };
        for tenant in read(&self.root)? {
            let Ok(tenant_id) = TenantId::new(tenant.clone()) else {
                continue;
            };
            for batch in read(&self.root.join(&tenant))? {
                if let Ok(batch) = OperationId::new(batch) {
                    out.push((tenant_id.clone(), batch));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn probe(&self) -> Result<(), BlobError> {
        // Its folder is there and can be listed (a mount that went away cannot).
        fs::read_dir(&self.root)
            .map(|_| ())
            .map_err(|e| self.io(format!("reading {}", self.root.display()), e))
    }

    fn list(&self, tenant: &TenantId, batch: &OperationId) -> Result<Vec<String>, BlobError> {
        let dir = self.batch_dir(tenant, batch);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(format!("listing {}", dir.display()), e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.io(format!("listing {}", dir.display()), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

struct FsBatch {
    offer: String,
    root: PathBuf,
    dir: PathBuf,
    /// Blob names, and whether their writer finished.
    created: Vec<(String, bool)>,
    /// The same names, to refuse a second blob of one name in constant time (a batch may hold
    /// a hundred thousand files).
    names: std::collections::HashSet<String>,
}

impl FsBatch {
    fn io(&self, context: String, source: io::Error) -> BlobError {
        BlobError::Io {
            offer: self.offer.clone(),
            context,
            source,
        }
    }
    fn temp(&self, name: &str) -> PathBuf {
        self.dir.join(format!(".{name}.tmp"))
    }
}

impl Batch for FsBatch {
    fn create(&mut self, name: &str) -> Result<Box<dyn BlobWriter + '_>, BlobError> {
        if !BlobKey::check_name(name) {
            return Err(BlobError::Invalid {
                offer: self.offer.clone(),
                message: format!("invalid blob name {name:?}"),
            });
        }
        if !self.names.insert(name.to_owned()) {
            return Err(BlobError::Invalid {
                offer: self.offer.clone(),
                message: format!("blob {name:?} is written twice in one batch"),
            });
        }
        let path = self.temp(name);
        // A temporary file left by a process that died; the data-folder lock rules out a live
        // writer.
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(format!("removing {}", path.display()), e)),
        }
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| self.io(format!("creating {}", path.display()), e))?;
        self.created.push((name.to_owned(), false));
        let finished = &mut self.created.last_mut().expect("pushed just above").1;
        Ok(Box::new(FsWriter {
            offer: &self.offer,
            path,
            file,
            written: 0,
            finished,
        }))
    }

    fn commit(self: Box<Self>) -> Result<(), BlobError> {
        if let Some((name, _)) = self.created.iter().find(|(_, finished)| !finished) {
            return Err(BlobError::Invalid {
                offer: self.offer.clone(),
                message: format!("blob {name:?} was not finished; the batch cannot be committed"),
            });
        }
        syncfs(&self.root).map_err(|e| self.io("syncing blob data".into(), e))?;
        for (name, _) in &self.created {
            let (from, to) = (self.temp(name), self.dir.join(name));
            fs::rename(&from, &to)
                .map_err(|e| self.io(format!("renaming {}", from.display()), e))?;
        }
        syncfs(&self.root).map_err(|e| self.io("syncing blob names".into(), e))
    }
}

/// A batch dropped without its commit leaves no temporary file behind.
impl Drop for FsBatch {
    fn drop(&mut self) {
        for (name, _) in &self.created {
            let _ = fs::remove_file(self.temp(name));
        }
    }
}

struct FsWriter<'a> {
    offer: &'a str,
    path: PathBuf,
    file: File,
    written: u64,
    finished: &'a mut bool,
}

impl Write for FsWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter for FsWriter<'_> {
    fn finish(self: Box<Self>) -> Result<u64, BlobError> {
        let len = self
            .file
            .metadata()
            .map_err(|source| BlobError::Io {
                offer: self.offer.to_owned(),
                context: format!("checking {}", self.path.display()),
                source,
            })?
            .len();
        if len != self.written {
            return Err(BlobError::Io {
                offer: self.offer.to_owned(),
                context: format!("checking {}", self.path.display()),
                source: io::Error::other(format!("{len} bytes on disk, {} written", self.written)),
            });
        }
        *self.finished = true;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::FsStore::open("offer-1", dir.path()).unwrap();
        crate::conformance::run(&store);
    }

    #[test]
    fn temporary_files_are_not_listed_and_discard_removes_them() {
        use crate::BlobStore as _;
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let store = super::FsStore::open("offer-1", dir.path()).unwrap();
        let (t, op) = (
            carnac_model::TenantId::new("t").unwrap(),
            carnac_model::OperationId::new("op").unwrap(),
        );
        let mut b = store.begin(&t, &op).unwrap();
        let mut w = b.create("x").unwrap();
        w.write_all(b"abc").unwrap();
        w.finish().unwrap();
        assert!(dir.path().join("t/op/.x.tmp").exists());
        assert!(store.list(&t, &op).unwrap().is_empty());
        drop(b);
        assert!(
            !dir.path().join("t/op/.x.tmp").exists(),
            "an abandoned batch leaves nothing"
        );
        store.discard(&t, &op).unwrap();
        assert!(!dir.path().join("t/op").exists());
    }
}
