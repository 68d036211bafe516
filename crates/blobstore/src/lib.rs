//! File storage offers behind one trait: local filesystem, S3 and in-memory, with batched
//! durable writes.
//!
//! An offer stores the blobs of one operation as a *batch*: every blob is written under a
//! temporary name, and [`Batch::commit`] makes the whole batch durable (data synced, then
//! renamed to final names, then names synced) in a few system calls rather than one fsync per
//! file. A batch that is not committed can always be discarded whole, which is what recovery
//! does after a crash. Keys are `tenant/batch/name`: a tenant's blobs never share a prefix
//! with another tenant's.
//!
//! Every implementation passes the same suite ([`conformance`]); [`faulty::FaultyStore`]
//! wraps any of them to inject failures in tests.

pub mod faulty;
pub mod fs;
pub mod memory;
pub mod s3;

use carnac_model::{OperationId, TenantId, Timestamp};
use std::io::{self, Read, Write};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("offer {offer}: {context}: {source}")]
    Io {
        offer: String,
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("offer {offer}: no blob {key}")]
    NotFound { offer: String, key: String },
    #[error("offer {offer}: {message}")]
    Invalid { offer: String, message: String },
    /// A WORM offer's server refused to delete a version under an Object Lock retention.
    #[error("offer {offer}: {key} is under a WORM retention{}", until.as_ref().map(|u| format!(" until {u}")).unwrap_or_default())]
    Locked {
        offer: String,
        key: String,
        until: Option<Timestamp>,
    },
}

impl BlobError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, BlobError::NotFound { .. })
    }
    pub fn is_locked(&self) -> bool {
        matches!(self, BlobError::Locked { .. })
    }
}

/// How long a blob of a WORM offer stays undeletable ([`Batch::lock`]). Other offers take
/// no notice. Whatever the archive asks, a WORM offer never locks for less than its minimum,
/// except a [`Lock::Temporary`] blob.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Lock {
    /// The offer's minimum retention: every blob's unless said otherwise (a journal
    /// segment, an attestation).
    #[default]
    Minimum,
    /// Until this instant, or the offer's minimum if that is later: an archived file, until
    /// the first day its units may leave the archive.
    Until(Timestamp),
    /// Not locked: a package kept for a while and then removed (a delivery, a transfer
    /// out's package).
    Temporary,
}

impl Lock {
    /// Until when a WORM offer whose minimum is `minimum_days` keeps a blob locked so, from
    /// `now`: none when not at all (temporary, or a date passed with no minimum).
    pub fn until(
        &self,
        minimum_days: u32,
        now: time::OffsetDateTime,
    ) -> Option<time::OffsetDateTime> {
        let floor = (minimum_days > 0).then(|| now + time::Duration::days(i64::from(minimum_days)));
        let until = match self {
            Lock::Temporary => None,
            Lock::Minimum => floor,
            Lock::Until(t) => Some(floor.map_or(t.to_datetime(), |f| f.max(t.to_datetime()))),
        };
        until.filter(|u| *u > now)
    }
}

/// Where a blob lives inside an offer, the same in every offer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey {
    pub tenant: TenantId,
    pub batch: OperationId,
    /// A name inside the batch: an object id, or `manifest.xml`.
    pub name: String,
}

impl BlobKey {
    /// Names are restricted to what is safe as one path component everywhere.
    pub fn check_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 128
            && name != "."
            && name != ".."
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.batch, self.name)
    }
}

/// One storage offer.
pub trait BlobStore: Send + Sync {
    /// The offer's name, as recorded with each copy.
    fn name(&self) -> &str;

    /// Starts writing the blobs of one operation.
    fn begin(&self, tenant: &TenantId, batch: &OperationId) -> Result<Box<dyn Batch>, BlobError>;

    /// Reads a committed blob.
    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send>, BlobError>;

    /// Size of a committed blob.
    fn size(&self, key: &BlobKey) -> Result<u64, BlobError>;

    /// Removes everything a batch wrote, committed or not, temporary files included.
    /// Discarding a batch that does not exist is not an error. On a WORM offer, what is
    /// still locked stays, and the answer is [`BlobError::Locked`] once the rest is gone.
    fn discard(&self, tenant: &TenantId, batch: &OperationId) -> Result<(), BlobError>;

    /// Removes one committed blob for good (an elimination's file), durably before it
    /// returns. Removing a blob that is not there is not an error: a purge interrupted is
    /// run again whole. A blob still locked on a WORM offer is [`BlobError::Locked`].
    fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    /// [`BlobStore::delete`] of many blobs, durable once it returns: an offer may make them
    /// durable together (one sync for an elimination of 100,000 files, not one each).
    fn delete_all(&self, keys: &[BlobKey]) -> Result<(), BlobError> {
        keys.iter().try_for_each(|k| self.delete(k))
    }

    /// Every batch present in the offer, for recovery and consistency checks.
    fn batches(&self) -> Result<Vec<(TenantId, OperationId)>, BlobError>;

    /// Names of the committed blobs of a batch (temporary files excluded).
    fn list(&self, tenant: &TenantId, batch: &OperationId) -> Result<Vec<String>, BlobError>;

    /// Whether the offer answers now, for a readiness probe: one cheap request, no blob read.
    fn probe(&self) -> Result<(), BlobError>;

    /// Whether the offer is WORM: its server refuses to delete a blob before its lock ends.
    fn is_worm(&self) -> bool {
        false
    }

    /// Until when the server refuses to delete a committed blob; none when it is not locked
    /// (or the lock has ended, or the offer is not WORM).
    fn locked_until(&self, key: &BlobKey) -> Result<Option<Timestamp>, BlobError> {
        let _ = key;
        Ok(None)
    }
}

/// The blobs of one operation being written.
pub trait Batch: Send {
    /// Creates a blob; its bytes are not visible under `name` before [`Batch::commit`].
    fn create(&mut self, name: &str) -> Result<Box<dyn BlobWriter + '_>, BlobError>;

    /// How long a created blob stays undeletable once committed, on a WORM offer; the others
    /// ignore it. A blob not named here gets [`Lock::Minimum`].
    fn lock(&mut self, name: &str, lock: Lock) {
        let _ = (name, lock);
    }

    /// Makes every created blob durable and visible under its final name.
    fn commit(self: Box<Self>) -> Result<(), BlobError>;
}

/// A blob being written. Dropping it without [`BlobWriter::finish`] leaves a temporary file
/// that the batch's discard removes.
pub trait BlobWriter: Write + Send {
    /// Ends the blob; returns the number of bytes written.
    fn finish(self: Box<Self>) -> Result<u64, BlobError>;
}

/// Now, as a storage server sees it: the one place the offers read the wall clock. A WORM
/// lock is enforced by the server against its own clock, so its minimum counts from the
/// server's now, not from the archive's clock (which a test holds still in the
/// past).
#[allow(clippy::disallowed_methods)]
pub(crate) fn server_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Reads a whole blob into memory; for small blobs (manifests, replies) and tests.
pub fn read_all(store: &dyn BlobStore, key: &BlobKey) -> Result<Vec<u8>, BlobError> {
    let mut out = Vec::new();
    store
        .open(key)?
        .read_to_end(&mut out)
        .map_err(|source| BlobError::Io {
            offer: store.name().to_owned(),
            context: format!("reading {key}"),
            source,
        })?;
    Ok(out)
}

/// The suite every implementation must pass; each implementation's tests call it. Compiled
/// for tests and for the `conformance` feature (another backend's crate enables it in its
/// dev-dependencies), not into the binary.
#[cfg(any(test, feature = "conformance"))]
pub mod conformance {
    use super::*;

    fn t(s: &str) -> TenantId {
        TenantId::new(s).expect("valid tenant id in tests")
    }
    fn op(s: &str) -> OperationId {
        OperationId::new(s).expect("valid operation id in tests")
    }

    pub fn run(store: &dyn BlobStore) {
        store.probe().expect("a working offer answers its probe");
        commit_makes_blobs_visible(store);
        uncommitted_blobs_are_invisible_and_discardable(store);
        tenants_are_isolated(store);
        names_are_checked(store);
        empty_blob(store);
        a_committed_batch_takes_a_replacement(store);
        one_blob_is_deleted_and_its_neighbours_stay(store);
    }

    /// A WORM offer whose minimum retention is 0 days: a blob locked for ten minutes is
    /// refused to every removal (a delete, a discard), with its date, once the others are
    /// gone; its lock's date reads back; a temporary blob and one whose date has passed are
    /// not locked.
    pub fn worm(store: &dyn BlobStore) {
        assert!(store.is_worm());
        let (tenant, batch) = (t("conf-worm"), op("op-worm"));
        let key = |name: &str| BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: name.into(),
        };
        let until = crate::server_now() + time::Duration::minutes(10);
        let mut b = store.begin(&tenant, &batch).expect("begin");
        for name in ["kept", "temporary", "plain", "ended"] {
            write(&mut *b, name, name.as_bytes());
        }
        b.lock("kept", Lock::Until(Timestamp::from_datetime(until)));
        b.lock("temporary", Lock::Temporary);
        b.lock(
            "ended",
            Lock::Until(Timestamp::parse("2001-01-01T00:00:00Z").expect("time")),
        );
        b.commit().expect("commit");
        let got = store
            .locked_until(&key("kept"))
            .expect("lock")
            .expect("locked")
            .to_datetime();
        assert!(
            got >= until - time::Duration::SECOND && got <= until + time::Duration::SECOND,
            "{got} for {until}"
        );
        for name in ["temporary", "plain", "ended"] {
            assert_eq!(
                store.locked_until(&key(name)).expect("lock"),
                None,
                "{name}: no minimum, so no lock"
            );
        }
        let e = store
            .delete_all(&[key("kept"), key("plain")])
            .expect_err("locked");
        assert!(e.is_locked(), "{e}");
        assert!(e.to_string().contains("kept"), "{e}");
        assert!(read_all(store, &key("kept")).expect("still there") == b"kept");
        assert!(
            read_all(store, &key("plain")).is_err(),
            "the other one went"
        );
        let e = store.delete(&key("kept")).expect_err("locked");
        assert!(e.is_locked(), "{e}");
        let e = store.discard(&tenant, &batch).expect_err("locked");
        assert!(e.is_locked(), "{e}");
        assert_eq!(store.list(&tenant, &batch).expect("list"), ["kept"]);
        assert!(
            store
                .locked_until(&key("plain"))
                .expect_err("gone")
                .is_not_found()
        );
    }

    /// An elimination removes a blob of a batch: gone, listed no more, its neighbours
    /// untouched; again, no error.
    fn one_blob_is_deleted_and_its_neighbours_stay(store: &dyn BlobStore) {
        let (tenant, batch) = (t("conf-delete"), op("op-delete"));
        let mut b = store.begin(&tenant, &batch).expect("begin");
        write(&mut *b, "gone", b"destroyed");
        write(&mut *b, "kept", b"kept");
        b.commit().expect("commit");
        let key = |name: &str| BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: name.into(),
        };
        store.delete(&key("gone")).expect("delete");
        assert!(store.open(&key("gone")).err().expect("gone").is_not_found());
        assert_eq!(store.list(&tenant, &batch).expect("list"), ["kept"]);
        assert_eq!(read_all(store, &key("kept")).expect("read"), b"kept");
        store.delete(&key("gone")).expect("delete twice");
        store
            .delete(&BlobKey {
                batch: op("op-never"),
                ..key("gone")
            })
            .expect("a batch that never was");
        assert!(store.delete(&key("../kept")).is_err(), "names are checked");
        let mut b = store.begin(&tenant, &batch).expect("begin");
        write(&mut *b, "one", b"1");
        write(&mut *b, "two", b"2");
        b.commit().expect("commit");
        store
            .delete_all(&[key("one"), key("two"), key("never")])
            .expect("delete all");
        assert_eq!(store.list(&tenant, &batch).expect("list"), ["kept"]);
        assert!(
            store.open(&key("kept")).is_ok(),
            "the other tenant's and batch's blobs are untouched"
        );
    }

    /// A damaged copy is repaired by writing the blob again into its batch: the old bytes
    /// stay until the commit, then the new ones replace them whole.
    fn a_committed_batch_takes_a_replacement(store: &dyn BlobStore) {
        let (tenant, batch) = (t("conf-repair"), op("op-repair"));
        let key = BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: "obj".into(),
        };
        let mut b = store.begin(&tenant, &batch).expect("begin");
        write(&mut *b, "obj", b"original bytes");
        write(&mut *b, "other", b"untouched");
        b.commit().expect("commit");
        let mut again = store.begin(&tenant, &batch).expect("reopen");
        write(&mut *again, "obj", b"repaired");
        assert_eq!(read_all(store, &key).expect("read"), b"original bytes");
        assert!(again.create("obj").is_err(), "one name once per batch");
        again.commit().expect("commit the repair");
        assert_eq!(read_all(store, &key).expect("read"), b"repaired");
        assert_eq!(store.list(&tenant, &batch).expect("list"), ["obj", "other"]);
    }

    fn write(batch: &mut dyn Batch, name: &str, bytes: &[u8]) {
        let mut w = batch.create(name).expect("create");
        for chunk in bytes.chunks(7) {
            w.write_all(chunk).expect("write");
        }
        assert_eq!(w.finish().expect("finish"), bytes.len() as u64);
    }

    fn commit_makes_blobs_visible(store: &dyn BlobStore) {
        let (tenant, batch) = (t("tenant-a"), op("op-1"));
        let mut b = store.begin(&tenant, &batch).expect("begin");
        write(&mut *b, "obj-1", b"hello world");
        write(&mut *b, "manifest.xml", b"<a/>");
        let key = BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: "obj-1".into(),
        };
        assert!(store.open(&key).is_err(), "not visible before commit");
        b.commit().expect("commit");
        assert_eq!(read_all(store, &key).expect("read"), b"hello world");
        assert_eq!(store.size(&key).expect("size"), 11);
        let mut names = store.list(&tenant, &batch).expect("list");
        names.sort();
        assert_eq!(names, ["manifest.xml", "obj-1"]);
        assert!(
            store
                .batches()
                .expect("batches")
                .contains(&(tenant.clone(), batch.clone()))
        );
        let missing = BlobKey {
            name: "nope".into(),
            ..key.clone()
        };
        assert!(store.open(&missing).err().expect("missing").is_not_found());
        store.discard(&tenant, &batch).expect("discard");
        assert!(store.open(&key).is_err());
        assert!(!store.batches().expect("batches").contains(&(tenant, batch)));
    }

    fn uncommitted_blobs_are_invisible_and_discardable(store: &dyn BlobStore) {
        let (tenant, batch) = (t("tenant-a"), op("op-2"));
        {
            let mut b = store.begin(&tenant, &batch).expect("begin");
            write(&mut *b, "obj-1", b"partial");
            let mut w = b.create("obj-2").expect("create");
            w.write_all(b"never finished").expect("write");
            // Dropped without commit: a crash, as far as the offer can tell.
        }
        assert!(store.list(&tenant, &batch).expect("list").is_empty());
        {
            let mut b = store.begin(&tenant, &batch).expect("begin again");
            let mut w = b.create("obj-3").expect("create");
            w.write_all(b"cut short").expect("write");
            drop(w);
            assert!(
                b.commit().is_err(),
                "a batch with an unfinished blob cannot commit"
            );
        }
        assert!(store.list(&tenant, &batch).expect("list").is_empty());
        store.discard(&tenant, &batch).expect("discard");
        store.discard(&tenant, &batch).expect("discard twice");
        assert!(
            !store
                .batches()
                .expect("batches")
                .iter()
                .any(|(_, b)| b == &batch)
        );
    }

    fn tenants_are_isolated(store: &dyn BlobStore) {
        let batch = op("op-3");
        for (tenant, bytes) in [("tenant-a", &b"A"[..]), ("tenant-b", &b"B"[..])] {
            let mut b = store.begin(&t(tenant), &batch).expect("begin");
            write(&mut *b, "obj", bytes);
            b.commit().expect("commit");
        }
        let key = |tenant| BlobKey {
            tenant: t(tenant),
            batch: batch.clone(),
            name: "obj".into(),
        };
        assert_eq!(read_all(store, &key("tenant-a")).expect("a"), b"A");
        assert_eq!(read_all(store, &key("tenant-b")).expect("b"), b"B");
        store.discard(&t("tenant-a"), &batch).expect("discard");
        assert_eq!(read_all(store, &key("tenant-b")).expect("b survives"), b"B");
        store.discard(&t("tenant-b"), &batch).expect("discard");
    }

    fn names_are_checked(store: &dyn BlobStore) {
        let mut b = store.begin(&t("tenant-a"), &op("op-4")).expect("begin");
        for bad in ["../x", "a/b", "", ".hidden", "x".repeat(200).as_str()] {
            assert!(b.create(bad).is_err(), "{bad:?} must be refused");
        }
        drop(b);
        store.discard(&t("tenant-a"), &op("op-4")).expect("discard");
    }

    fn empty_blob(store: &dyn BlobStore) {
        let (tenant, batch) = (t("tenant-a"), op("op-5"));
        let mut b = store.begin(&tenant, &batch).expect("begin");
        write(&mut *b, "empty", b"");
        b.commit().expect("commit");
        let key = BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: "empty".into(),
        };
        assert_eq!(read_all(store, &key).expect("read"), b"");
        store.discard(&tenant, &batch).expect("discard");
    }
}
