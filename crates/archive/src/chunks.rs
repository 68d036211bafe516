//! Chunk sessions of the as@lae intake: a bordereau received with
//! `send_chunked_attachments=true` waits, with the chunks of its attachments as they come,
//! in `incoming/chunks/<account>/<session>/`, until every chunk is there; the attachments are
//! then assembled and the transfer received like any other.
//!
//! Everything a client chooses is bounded before it drives work or storage: the number of
//! chunks ([`ChunkLimits::max_chunks`], and never more than the bytes an upload may have),
//! each index within it, the sessions an account may keep open and the bytes they hold
//! together. The work of a chunk does not depend on the number of chunks announced: the
//! session records which chunks it has (a bitmap), how many and how many bytes. A session
//! that receives nothing for [`ChunkLimits::idle`] is removed ([`Archive::reclaim_chunk_sessions`],
//! run while serving and at every start), and so is what a stop interrupted.

use crate::{Archive, ArchiveError};
use carnac_model::TenantId;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The bounds of chunk sessions (`[server]` in `carnac.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkLimits {
    /// The most chunks a session may announce. Default 100,000 (Pastell sends chunks of a
    /// size its operator sets: 100 GiB in chunks of 1 MiB).
    pub max_chunks: u32,
    /// The largest attachments of one session, all chunks together (the upload limit).
    pub max_session_bytes: u64,
    /// Sessions an account may keep open at once. Default 8.
    pub sessions_per_account: usize,
    /// Bytes the open sessions of one account may hold together. Default: the upload limit.
    pub bytes_per_account: u64,
    /// A session that receives nothing for this long is removed. Default 6 h.
    pub idle: Duration,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_chunks: 100_000,
            max_session_bytes: 100 << 30,
            sessions_per_account: 8,
            bytes_per_account: 100 << 30,
            idle: Duration::from_secs(6 * 3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// The session does not exist, or is another account's, or the security identifier is
    /// wrong: the same answer, so that nothing is told.
    #[error("no such chunk session for this account")]
    UnknownSession,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    TooMany(String),
    #[error("the server is stopping: send the last chunk again after its restart")]
    Stopping,
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

fn io(what: &str) -> impl Fn(std::io::Error) -> ChunkError + '_ {
    move |e| ChunkError::Archive(ArchiveError::io(what.to_owned(), e))
}

/// A session as kept in its `session.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Session {
    tenant: String,
    login: String,
    /// SHA-256 of the security identifier given to the sender.
    security_sha256: String,
    number_of_chunks: Option<u32>,
    /// Which chunks are here: bit `i - 1` for chunk `i`, hex.
    #[serde(default)]
    received: String,
    #[serde(default)]
    count: u32,
    #[serde(default)]
    bytes: u64,
}

/// One chunk as its request announces it.
#[derive(Debug, Clone, Copy)]
pub struct ChunkPosition {
    pub index: u32,
    pub count: u32,
}

/// A session opened: what its sender must give with each chunk.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub session: String,
    pub security: String,
}

/// The files of a completed session, in the incoming folder: the bordereau and the
/// assembled attachments, for [`Archive::receive_bordereau`].
#[derive(Debug)]
pub struct Completed {
    pub bordereau: tempfile::TempPath,
    pub attachments: tempfile::TempPath,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, ChunkError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b)
        .map_err(|e| ArchiveError::Invalid(format!("drawing an identifier: {e}")))?;
    Ok(hex::encode(b))
}

/// The folder of an account's sessions: named by a hash of the login, whatever it holds.
fn account_dir(root: &Path, login: &str) -> PathBuf {
    root.join(&sha256_hex(login)[..16])
}

/// Holds an account's lock file (the lock goes with the handle): one change to its sessions at a time (two chunks arriving
/// together must not both complete a session, nor both pass the account's caps).
struct AccountLock(#[allow(dead_code)] std::fs::File);

fn lock_account(dir: &Path) -> Result<AccountLock, ChunkError> {
    std::fs::create_dir_all(dir).map_err(io("creating the chunk sessions' folder"))?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))
        .map_err(io("opening the chunk sessions' lock"))?;
    f.lock().map_err(io("locking the chunk sessions"))?;
    Ok(AccountLock(f))
}

fn read_session(dir: &Path) -> Result<Option<Session>, ChunkError> {
    match std::fs::read(dir.join("session.json")) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("reading a chunk session")(e)),
    }
}

fn write_session(dir: &Path, s: &Session) -> Result<(), ChunkError> {
    let json = serde_json::to_vec(s).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
    let tmp = dir.join("session.json.new");
    std::fs::write(&tmp, json).map_err(io("writing a chunk session"))?;
    std::fs::rename(&tmp, dir.join("session.json")).map_err(io("writing a chunk session"))
}

/// The sessions of an account folder (their folders), with what they record.
fn sessions_of(account: &Path) -> Result<Vec<(PathBuf, Option<Session>)>, ChunkError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(account) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io("listing chunk sessions")(e)),
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push((e.path(), read_session(&e.path())?));
        }
    }
    Ok(out)
}

impl Archive {
    fn chunk_root(&self) -> PathBuf {
        self.incoming_dir().join("chunks")
    }

    /// Opens a session for `login` of `tenant` with its bordereau (a file of the incoming
    /// folder, moved into the session): refused for a suspended tenant, and beyond the
    /// sessions an account may keep open.
    pub fn open_chunk_session(
        &self,
        tenant: &TenantId,
        login: &str,
        bordereau: tempfile::TempPath,
        limits: &ChunkLimits,
    ) -> Result<OpenedSession, ChunkError> {
        self.require_open_tenant(tenant)?;
        let account = account_dir(&self.chunk_root(), login);
        let _lock = lock_account(&account)?;
        let open = sessions_of(&account)?.len();
        if open >= limits.sessions_per_account {
            return Err(ChunkError::TooMany(format!(
                "this account has {open} chunk sessions open, the most it may: finish one, or wait until one unused for {} s is removed",
                limits.idle.as_secs()
            )));
        }
        let session = random_hex(16)?;
        let security = random_hex(32)?;
        let dir = account.join(&session);
        std::fs::create_dir(&dir).map_err(io("creating a chunk session"))?;
        let made = (|| {
            bordereau
                .persist(dir.join("bordereau.xml"))
                .map_err(|e| io("keeping the bordereau")(e.error))?;
            write_session(
                &dir,
                &Session {
                    tenant: tenant.to_string(),
                    login: login.to_owned(),
                    security_sha256: sha256_hex(&security),
                    number_of_chunks: None,
                    received: String::new(),
                    count: 0,
                    bytes: 0,
                },
            )
        })();
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        tracing::info!(%tenant, login, session, "chunk session opened");
        Ok(OpenedSession { session, security })
    }

    /// Adds one chunk (a file of the incoming folder, moved into the session). When it is
    /// the last one missing, the attachments are assembled and the session's files given
    /// back, the session gone; otherwise `None`. `stopping` is watched while assembling.
    #[allow(clippy::too_many_arguments)]
    pub fn add_chunk(
        &self,
        tenant: &TenantId,
        login: &str,
        session: &str,
        security: &str,
        position: ChunkPosition,
        content: tempfile::TempPath,
        limits: &ChunkLimits,
        stopping: &AtomicBool,
    ) -> Result<Option<Completed>, ChunkError> {
        let ChunkPosition { index, count } = position;
        // What the request says, bounded before anything is looked at.
        let most = u64::from(limits.max_chunks).min(limits.max_session_bytes);
        if count == 0 || u64::from(count) > most {
            return Err(ChunkError::Invalid(format!(
                "number_of_chunks must be from 1 to {most}"
            )));
        }
        if index == 0 || index > count {
            return Err(ChunkError::Invalid(format!(
                "chunk_index {index} is not between 1 and number_of_chunks {count}"
            )));
        }
        if session.is_empty()
            || session.len() > 64
            || !session.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(ChunkError::UnknownSession);
        }
        self.require_open_tenant(tenant)?;
        let size = std::fs::metadata(&content)
            .map_err(io("reading a chunk"))?
            .len();
        if size == 0 {
            return Err(ChunkError::Invalid(
                "a chunk holds at least one byte".into(),
            ));
        }
        let account = account_dir(&self.chunk_root(), login);
        let dir = account.join(session);
        let _lock = lock_account(&account)?;
        let mut record = read_session(&dir)?.ok_or(ChunkError::UnknownSession)?;
        if record.tenant != tenant.as_str()
            || record.login != login
            || record.security_sha256 != sha256_hex(security)
        {
            return Err(ChunkError::UnknownSession);
        }
        match record.number_of_chunks {
            Some(n) if n != count => {
                return Err(ChunkError::Invalid(format!(
                    "number_of_chunks changed within the session ({n} before, {count} now)"
                )));
            }
            _ => record.number_of_chunks = Some(count),
        }
        let mut bitmap = hex::decode(&record.received).unwrap_or_default();
        bitmap.resize((count as usize).div_ceil(8), 0);
        let (byte, bit) = ((index - 1) as usize / 8, 1u8 << ((index - 1) % 8));
        let part = dir.join(format!("chunk.{index}"));
        // A chunk sent again replaces the one before it.
        let previous = if bitmap[byte] & bit != 0 {
            std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0)
        } else {
            0
        };
        let session_bytes = record.bytes - previous.min(record.bytes) + size;
        if session_bytes > limits.max_session_bytes {
            return Err(ChunkError::TooLarge(format!(
                "the attachments are at most {} bytes",
                limits.max_session_bytes
            )));
        }
        let others: u64 = sessions_of(&account)?
            .iter()
            .filter(|(d, _)| *d != dir)
            .filter_map(|(_, s)| s.as_ref().map(|s| s.bytes))
            .sum();
        if others + session_bytes > limits.bytes_per_account {
            return Err(ChunkError::TooLarge(format!(
                "the chunk sessions of this account hold at most {} bytes together: finish the others first",
                limits.bytes_per_account
            )));
        }
        content
            .persist(&part)
            .map_err(|e| io("keeping a chunk")(e.error))?;
        if bitmap[byte] & bit == 0 {
            bitmap[byte] |= bit;
            record.count += 1;
        }
        record.bytes = session_bytes;
        record.received = hex::encode(&bitmap);
        write_session(&dir, &record)?;
        if record.count < count {
            return Ok(None);
        }
        // Every chunk is here: the attachments, in order (each a file-to-file copy the
        // kernel does), then the bordereau, both into the incoming folder.
        let assembled = tempfile::Builder::new()
            .prefix(".asalae")
            .tempfile_in(self.incoming_dir())
            .map_err(io("assembling the attachments"))?;
        let (mut out, attachments) = assembled.into_parts();
        for i in 1..=count {
            if stopping.load(Ordering::Relaxed) {
                return Err(ChunkError::Stopping);
            }
            let mut p = std::fs::File::open(dir.join(format!("chunk.{i}")))
                .map_err(io("assembling the attachments"))?;
            std::io::copy(&mut p, &mut out).map_err(io("assembling the attachments"))?;
        }
        out.sync_all().map_err(io("assembling the attachments"))?;
        let bordereau = tempfile::Builder::new()
            .prefix(".asalae")
            .tempfile_in(self.incoming_dir())
            .map_err(io("keeping the bordereau"))?
            .into_temp_path();
        std::fs::rename(dir.join("bordereau.xml"), &bordereau)
            .map_err(io("keeping the bordereau"))?;
        std::fs::remove_dir_all(&dir).map_err(io("removing a chunk session"))?;
        Ok(Some(Completed {
            bordereau,
            attachments,
        }))
    }

    /// Removes the chunk sessions that received nothing for `idle` (by the archive's clock);
    /// returns how many. What a killed process left half-written goes with them.
    pub fn reclaim_chunk_sessions(&self, idle: Duration) -> Result<usize, ArchiveError> {
        let root = self.chunk_root();
        let now = std::time::SystemTime::from(self.clock.now());
        let stale = |p: &Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > idle)
        };
        let mut removed = 0;
        let Ok(accounts) = std::fs::read_dir(&root) else {
            return Ok(0);
        };
        for account in accounts.flatten() {
            let path = account.path();
            if !account.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            // A session of the layout before accounts had folders of their own.
            if path.join("session.json").exists() || path.join("bordereau.xml").exists() {
                if stale(&path.join("session.json")) || stale(&path) {
                    let _ = std::fs::remove_dir_all(&path);
                    removed += 1;
                }
                continue;
            }
            let Ok(_lock) = lock_account(&path) else {
                continue;
            };
            for (dir, _) in sessions_of(&path).unwrap_or_default() {
                let marker = dir.join("session.json");
                let last = if marker.exists() { marker } else { dir.clone() };
                if stale(&last) {
                    tracing::warn!(session = %dir.display(), "removing a chunk session unused for too long");
                    let _ = std::fs::remove_dir_all(&dir);
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// The tenant exists, is not the platform and is not suspended.
    fn require_open_tenant(&self, tenant: &TenantId) -> Result<(), ArchiveError> {
        match self.catalog.tenant(tenant)? {
            Some(t) if t.suspended_at.is_some() => Err(ArchiveError::Suspended(tenant.clone())),
            Some(_) if !carnac_model::access::is_reserved(tenant) => Ok(()),
            _ => Err(ArchiveError::NotFound(format!("tenant {tenant}"))),
        }
    }
}
