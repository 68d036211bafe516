//! An offer in an S3 bucket (any server that speaks the S3 API): `prefix/tenant/batch/name`.
//!
//! Over 1,000 lines (its tests apart, in `s3_tests.rs`): how a batch becomes visible
//! (held, staged or uploaded, then committed), WORM locks and versioned deletes are one
//! mechanism whose parts rely on each other's invariants; split, each would need the others.
//!
//! S3 has no rename; what makes a batch's blobs appear only at [`Batch::commit`] depends on
//! their size:
//! - a blob past [`SMALL`] goes up as a multipart upload to its final key, its parts sent
//!   while the batch is written; an upload is invisible until it is completed, which the
//!   commit does (one request, no byte copied);
//! - a small blob is held in memory (up to [`HELD`] bytes a batch) and written to its final
//!   key by the commit, one request;
//! - a small blob beyond that goes up to a staging key (`prefix/.staging/tenant/batch/name`,
//!   which no tenant identifier can shadow: they never start with a dot), which the commit
//!   copies to its final key on the server, then removes.
//!
//! An interrupted batch leaves only staging objects and unfinished uploads (aborted when
//! the batch goes unfinished), which [`BlobStore::discard`] removes, uploads included; a
//! commit interrupted half-way leaves final objects that the catalog never names, which
//! discard removes too. This is also what a WORM offer needs: nothing is locked before the
//! commit, so an abandoned batch can always be cleaned. The requests that carry bytes go on
//! a few threads (the parts and staging objects while the batch is written, the
//! completions, writes and copies of the commit): each is a round trip spent mostly waiting
//! on the server.
//!
//! A WORM offer (`compliance`) is a bucket with S3 Object Lock: each blob made visible under
//! its final key gets a COMPLIANCE retention (`PutObjectRetention` on the version made, since
//! servers ignore the lock headers of a copy) until the date the archive asks ([`Lock`]), never shorter than
//! the offer's minimum. Such a bucket keeps versions, and a delete without a version only
//! hides the data behind a delete marker: there, every removal lists the versions and
//! deletes each, so that what the server refuses to delete is known and said
//! ([`BlobError::Locked`]). [`S3Store::verify_worm`] checks, before an archive trusts the
//! offer, that the server really refuses to delete a locked object.
//!
//! Requests are signed with `rusty-s3` (presigned URLs, AWS Signature V4) and sent with
//! `ureq`; no async SDK. Parts are [`PART_SIZE`] bytes (a writer fills one while at most
//! `BUDGET` bytes of its batch are on their way), and every request is retried a few times
//! with a growing pause: each one is idempotent (a part, a whole small object, a copy, a
//! completion, a read, a delete).

use crate::{Batch, BlobError, BlobKey, BlobStore, BlobWriter, Lock};
use carnac_model::{OperationId, TenantId, Timestamp};
use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2, ObjectIdentifier};
use rusty_s3::{Bucket, Credentials, Method, S3Action, UrlStyle};
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The size of a part of a multipart upload (S3 wants at least 5 MiB but for the last).
pub const PART_SIZE: usize = 8 << 20;
/// Attempts of each request.
const ATTEMPTS: u32 = 4;
/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(3600);
/// The prefix of batches being written.
const STAGING: &str = ".staging/";
/// Requests of one batch in flight at once: the small blobs' uploads while the batch is
/// written, the copies (and locks) of its commit. Each is a round trip mostly spent
/// waiting on the server, so a few threads overlap them.
const PARALLEL: usize = 16;
/// Blobs up to this size are held in memory until the commit writes them to their final
/// keys, one request each rather than a write, a copy and a delete ([`HELD`] bytes at most
/// a batch); beyond that, they go up to staging keys in the background ([`Uploads`]).
/// Larger ones, at most [`PARALLEL`] of them queued, would hold too much memory.
const SMALL: usize = 1 << 20;
/// The bytes of small blobs a batch holds for its commit.
const HELD: usize = 32 << 20;
/// The prefix of the objects [`S3Store::verify_worm`] writes to see a lock enforced.
const PROBES: &str = ".probe/";
/// How long a probe object is locked: long enough for the delete that must fail.
const PROBE_LOCK: Duration = Duration::from_secs(120);

/// What makes an offer WORM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compliance {
    /// The shortest retention of a blob ([`Lock::Minimum`]), in days; 0 leaves blobs that
    /// have no date of their own unlocked.
    pub minimum_days: u32,
}

/// Where an S3 offer is and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `https://s3.example.org` (or `http://127.0.0.1:8333` for a local server).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Path-style URLs (`endpoint/bucket/key`) rather than virtual hosts
    /// (`bucket.endpoint/key`); most servers but AWS want them.
    pub path_style: bool,
    pub access_key: String,
    pub secret_key: String,
    /// Keys start with it (empty, or ending with `/`): several archives can share a bucket.
    pub prefix: String,
    /// Time limit of one request.
    pub timeout: Duration,
    /// WORM: every blob under an S3 Object Lock retention in COMPLIANCE mode.
    pub compliance: Option<Compliance>,
    /// For an `https://` endpoint: the certificates (DER) of the authorities its server's
    /// certificate must chain to (an operator's private authority); empty: the web's public
    /// roots.
    pub tls_trust: Vec<Vec<u8>>,
}

impl std::fmt::Debug for S3Config {
    /// Everything but the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("access_key", &self.access_key)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("compliance", &self.compliance)
            .field("tls_trust", &self.tls_trust.len())
            .finish_non_exhaustive()
    }
}

struct Inner {
    name: String,
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    prefix: String,
    /// [`HELD`], smaller in a test of the overflow to staging.
    held_max: usize,
    compliance: Option<Compliance>,
    /// Part buffers given back by the upload threads, for the next writers: a buffer
    /// allocated by a writer's thread and freed by an upload thread stays in that thread's
    /// malloc arena, so without reuse a node's memory grows with each large transfer
    /// (305 MB for one of 1 GiB, where reuse keeps it near the budget).
    spare: Mutex<Vec<Vec<u8>>>,
}

/// How many part buffers [`Inner::spare`] keeps: those of the requests a batch may have on
/// their way and of a few writers.
const SPARE: usize = BUDGET / PART_SIZE + 4;

/// An S3 offer; cheap to clone.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

/// An answer read whole (small: XML of a list, a multipart upload, an error).
#[derive(Default)]
struct Answer {
    status: u16,
    etag: Option<String>,
    /// `x-amz-version-id`: the version a write made, on a versioned bucket.
    version: Option<String>,
    /// `x-amz-object-lock-retain-until-date`, of a HEAD.
    retain_until: Option<String>,
    body: Vec<u8>,
}

impl S3Store {
    pub fn new(name: impl Into<String>, config: &S3Config) -> Result<S3Store, BlobError> {
        let name = name.into();
        let invalid = |message: String| BlobError::Invalid {
            offer: name.clone(),
            message,
        };
        let endpoint = config
            .endpoint
            .parse()
            .map_err(|e| invalid(format!("endpoint {:?}: {e}", config.endpoint)))?;
        let style = if config.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| invalid(format!("bucket {:?}: {e}", config.bucket)))?;
        if !(config.prefix.is_empty()
            || config.prefix.ends_with('/') && !config.prefix.starts_with('/'))
        {
            return Err(invalid(format!(
                "prefix {:?}: empty, or ending with / and not starting with one",
                config.prefix
            )));
        }
        if !config.tls_trust.is_empty() && !config.endpoint.starts_with("https://") {
            return Err(invalid(format!(
                "tls_trust is for an https:// endpoint, not {:?}",
                config.endpoint
            )));
        }
        let roots = if config.tls_trust.is_empty() {
            ureq::tls::RootCerts::WebPki
        } else {
            ureq::tls::RootCerts::Specific(Arc::new(
                config
                    .tls_trust
                    .iter()
                    .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                    .collect(),
            ))
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .build()
            .into();
        Ok(S3Store {
            inner: Arc::new(Inner {
                spare: Mutex::default(),
                name,
                bucket,
                credentials: Credentials::new(config.access_key.clone(), config.secret_key.clone()),
                agent,
                prefix: config.prefix.clone(),
                held_max: HELD,
                compliance: config.compliance.clone(),
            }),
        })
    }
}

impl S3Store {
    /// The keys of unfinished batches (under the staging prefix), which recovery removes:
    /// what the tests that kill an archive look for.
    pub fn staging_keys(&self) -> Result<Vec<String>, BlobError> {
        let inner = &self.inner;
        Ok(inner
            .keys(&format!("{}{STAGING}", inner.prefix))?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// Checks that the bucket enforces S3 Object Lock, before an archive trusts a WORM offer:
    /// Object Lock enabled with no default retention (it would lock unfinished batches),
    /// then a probe object locked for a short while, whose delete the server must refuse.
    /// A server that takes the headers and ignores them (Garage answers 501 to the
    /// configuration yet lets a locked object go) is refused, with the reason.
    pub fn verify_worm(&self) -> Result<(), BlobError> {
        let inner = &self.inner;
        let refuse = |why: String| BlobError::Invalid {
            offer: inner.name.clone(),
            message: format!(
                "declared WORM (retention = \"compliance\") but {why}; a WORM offer needs a \
                 bucket created with S3 Object Lock on a server that enforces it"
            ),
        };
        if inner.compliance.is_none() {
            return Err(refuse("no compliance settings were given".into()));
        }
        let url = inner.signed(Method::Get, None, &[("object-lock", "")])?;
        let what = "reading the bucket's Object Lock configuration";
        let answer = inner.send(what, "GET", &url, &[], &[])?;
        if !(200..300).contains(&answer.status) {
            let e = inner.failed(what.into(), &answer);
            return Err(refuse(format!(
                "bucket {:?} has no Object Lock configuration ({e})",
                inner.bucket.name()
            )));
        }
        let text = String::from_utf8_lossy(&answer.body);
        if !text.contains("<ObjectLockEnabled>Enabled</ObjectLockEnabled>") {
            return Err(refuse(format!(
                "bucket {:?} does not have Object Lock enabled",
                inner.bucket.name()
            )));
        }
        if text.contains("<Rule>") {
            return Err(refuse(format!(
                "bucket {:?} has a default retention, which would lock unfinished batches \
                 too (remove it: the archive sets each object's)",
                inner.bucket.name()
            )));
        }
        // Probes of earlier starts whose lock has ended; those still locked stay a while.
        let probes = format!("{}{PROBES}", inner.prefix);
        match inner.delete_versions(&inner.versions(&probes)?) {
            Ok(()) | Err(BlobError::Locked { .. }) => {}
            Err(e) => return Err(e),
        }
        let key = format!("{probes}{}", unique_name());
        let url = inner
            .bucket
            .put_object(Some(&inner.credentials), &key)
            .sign(SIGNED_FOR);
        let answer = inner.expect_ok(
            &format!("writing the probe {key}"),
            "PUT",
            url.as_str(),
            &[],
            b"a WORM probe of the archive: its delete must be refused",
        )?;
        let Some(version) = answer.version else {
            return Err(refuse(format!(
                "bucket {:?} keeps no versions (Object Lock keeps them)",
                inner.bucket.name()
            )));
        };
        let until = crate::server_now() + PROBE_LOCK;
        inner
            .retain(&key, Some(&version), until)
            .map_err(|e| refuse(format!("the server refused a COMPLIANCE retention ({e})")))?;
        let url = inner.signed(Method::Delete, Some(&key), &[("versionId", &version)])?;
        let answer = inner.send("deleting the locked probe", "DELETE", &url, &[], &[])?;
        if (200..300).contains(&answer.status) {
            return Err(refuse(format!(
                "the server deleted the probe {key} while it was under a COMPLIANCE retention"
            )));
        }
        tracing::info!(offer = %inner.name, status = answer.status, "the offer enforces Object Lock");
        Ok(())
    }
}

impl Inner {
    /// An empty buffer of [`PART_SIZE`] bytes' capacity, reused if one was given back.
    fn part_buffer(&self) -> Vec<u8> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        spare.unwrap_or_else(|| Vec::with_capacity(PART_SIZE))
    }

    /// Keeps a part's buffer for the next writer (up to [`SPARE`] of them).
    fn give_back(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() != PART_SIZE {
            return;
        }
        buffer.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < SPARE {
            spare.push(buffer);
        }
    }

    fn io(&self, context: String, source: io::Error) -> BlobError {
        BlobError::Io {
            offer: self.name.clone(),
            context,
            source,
        }
    }

    fn failed(&self, context: String, answer: &Answer) -> BlobError {
        let text = String::from_utf8_lossy(&answer.body);
        let code = text
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_owned())
            .unwrap_or_else(|| text.chars().take(200).collect());
        self.io(
            context,
            io::Error::other(format!("HTTP {} {code}", answer.status)),
        )
    }

    fn check(&self, key: &BlobKey) -> Result<(), BlobError> {
        if BlobKey::check_name(&key.name) {
            Ok(())
        } else {
            Err(BlobError::Invalid {
                offer: self.name.clone(),
                message: format!("invalid blob name {:?}", key.name),
            })
        }
    }

    fn batch_prefix(&self, tenant: &TenantId, batch: &OperationId) -> String {
        format!("{}{tenant}/{batch}/", self.prefix)
    }

    fn staging_prefix(&self, tenant: &TenantId, batch: &OperationId) -> String {
        format!("{}{STAGING}{tenant}/{batch}/", self.prefix)
    }

    fn key(&self, key: &BlobKey) -> String {
        format!("{}{}", self.batch_prefix(&key.tenant, &key.batch), key.name)
    }

    /// Sends a signed request, again after a failure of the transport or of the server
    /// (5xx, 429), with a growing pause; the last answer otherwise.
    fn send(
        &self,
        what: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, BlobError> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << attempt));
            }
            let request = ureq::http::Request::builder().method(method).uri(url);
            let request = headers
                .iter()
                .fold(request, |r, (k, v)| r.header(*k, *v))
                .body(body)
                .map_err(|e| self.io(what.to_owned(), io::Error::other(e)))?;
            match self.agent.run(request) {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let header = |name: &str| {
                        response
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let etag = header("etag");
                    let version = header("x-amz-version-id").filter(|v| v != "null");
                    let retain_until = header("x-amz-object-lock-retain-until-date");
                    let mut bytes = Vec::new();
                    response
                        .body_mut()
                        .as_reader()
                        .take(16 << 20)
                        .read_to_end(&mut bytes)
                        .map_err(|e| self.io(what.to_owned(), e))?;
                    let answer = Answer {
                        status,
                        etag,
                        version,
                        retain_until,
                        body: bytes,
                    };
                    if status >= 500 || status == 429 {
                        tracing::warn!(offer = %self.name, what, status, attempt, "S3 request failed");
                        last = Some(self.failed(what.to_owned(), &answer));
                        continue;
                    }
                    return Ok(answer);
                }
                Err(e) => {
                    tracing::warn!(offer = %self.name, what, error = %e, attempt, "S3 request failed");
                    last = Some(self.io(what.to_owned(), io::Error::other(e)));
                }
            }
        }
        Err(last.unwrap_or_else(|| self.io(what.to_owned(), io::Error::other("no attempt"))))
    }

    /// A request that must succeed (2xx).
    fn expect_ok(
        &self,
        what: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, BlobError> {
        let answer = self.send(what, method, url, headers, body)?;
        if (200..300).contains(&answer.status) {
            Ok(answer)
        } else {
            Err(self.failed(what.to_owned(), &answer))
        }
    }

    /// Writes a whole object: the version it made, on a versioned bucket.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<Option<String>, BlobError> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let answer = self.expect_ok(&format!("writing {key}"), "PUT", url.as_str(), &[], bytes)?;
        Ok(answer.version)
    }

    /// One page of the listing of `prefix`: with `delimiter`, the folders one level below;
    /// at most `max_keys` keys; after `token`.
    fn list_page(
        &self,
        prefix: &str,
        delimiter: bool,
        max_keys: Option<usize>,
        token: Option<&str>,
    ) -> Result<rusty_s3::actions::list_objects_v2::ListObjectsV2Response, BlobError> {
        let mut list = ListObjectsV2::new(&self.bucket, Some(&self.credentials));
        list.with_prefix(prefix);
        if delimiter {
            list.with_delimiter("/");
        }
        if let Some(n) = max_keys {
            list.with_max_keys(n);
        }
        if let Some(t) = token {
            list.with_continuation_token(t.to_owned());
        }
        let url = list.sign(SIGNED_FOR);
        let what = format!("listing {prefix}");
        let answer = self.expect_ok(&what, "GET", url.as_str(), &[], &[])?;
        ListObjectsV2::parse_response(&answer.body).map_err(|e| self.io(what, io::Error::other(e)))
    }

    /// Every key under `prefix` (a batch's), all pages of the listing.
    fn keys(&self, prefix: &str) -> Result<Vec<(String, u64)>, BlobError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(prefix, false, None, token.as_deref())?;
            out.extend(page.contents.into_iter().map(|c| (decode(&c.key), c.size)));
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Whether some object's key starts with `prefix`.
    fn any(&self, prefix: &str) -> Result<bool, BlobError> {
        Ok(!self
            .list_page(prefix, false, Some(1), None)?
            .contents
            .is_empty())
    }

    /// The names one level below `prefix` (`a/`, `b/`), all pages.
    fn folders(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(prefix, true, None, token.as_deref())?;
            for p in page.common_prefixes {
                let p = decode(&p.prefix);
                if let Some(name) = p.strip_prefix(prefix).and_then(|r| r.strip_suffix('/')) {
                    out.push(name.to_owned());
                }
            }
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Deletes keys, 1,000 a request; a key that is not there is no error.
    fn delete_keys(&self, keys: &[String]) -> Result<(), BlobError> {
        for chunk in keys.chunks(1000) {
            let objects: Vec<ObjectIdentifier> = chunk
                .iter()
                .map(|k| ObjectIdentifier::new(k.clone()))
                .collect();
            let mut action = self
                .bucket
                .delete_objects(Some(&self.credentials), objects.iter());
            // Quiet: the answer lists only failures. (Not quiet, the request carries an
            // empty `<Quiet/>`, which Garage refuses as invalid.)
            action.set_quiet(true);
            let url = action.sign(SIGNED_FOR);
            let (body, md5) = action.body_with_md5();
            let answer = self.expect_ok(
                &format!("deleting {} objects", chunk.len()),
                "POST",
                url.as_str(),
                &[("Content-MD5", &md5)],
                body.as_bytes(),
            )?;
            // The answer lists each key that could not be deleted.
            if String::from_utf8_lossy(&answer.body).contains("<Error>") {
                return Err(self.failed(format!("deleting {} objects", chunk.len()), &answer));
            }
        }
        Ok(())
    }

    /// Copies `from` to `to` on the server (a small blob that waited under its staging
    /// key): the version made, on a versioned bucket.
    fn copy(&self, from: &str, to: &str) -> Result<Option<String>, BlobError> {
        let source = format!("/{}/{}", self.bucket.name(), encode(from));
        let what = format!("copying {from} to {to}");
        let mut action = self.bucket.put_object(Some(&self.credentials), to);
        action
            .headers_mut()
            .insert("x-amz-copy-source", source.clone());
        let url = action.sign(SIGNED_FOR);
        let answer = self.expect_ok(
            &what,
            "PUT",
            url.as_str(),
            &[("x-amz-copy-source", &source)],
            &[],
        )?;
        // A copy may fail after its 200 has been sent: the error is then in the body.
        if String::from_utf8_lossy(&answer.body).contains("<Error>") {
            return Err(self.failed(what, &answer));
        }
        Ok(answer.version)
    }

    /// Aborts every unfinished multipart upload under `prefix` (what a stopped process
    /// left), all pages.
    fn abort_uploads_under(&self, prefix: &str) -> Result<(), BlobError> {
        let what = format!("listing the unfinished uploads under {prefix}");
        let mut after: Option<(String, String)> = None;
        loop {
            let mut query = vec![("uploads", ""), ("prefix", prefix)];
            if let Some((key, id)) = &after {
                query.push(("key-marker", key));
                query.push(("upload-id-marker", id));
            }
            let url = self.signed(Method::Get, None, &query)?;
            let answer = self.expect_ok(&what, "GET", &url, &[], &[])?;
            let page = parse_listing(
                &answer.body,
                &[b"Upload"],
                b"UploadId",
                b"NextUploadIdMarker",
            )
            .map_err(|e| self.io(what.clone(), io::Error::other(e)))?;
            for (key, id) in &page.entries {
                self.abort_upload(key, id);
            }
            match page.next {
                Some(next) if page.truncated && after.as_ref() != Some(&next) => after = Some(next),
                _ => return Ok(()),
            }
        }
    }

    fn start_upload(&self, key: &str) -> Result<String, BlobError> {
        let url = self
            .bucket
            .create_multipart_upload(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let answer = self.expect_ok(&format!("starting {key}"), "POST", url.as_str(), &[], &[])?;
        let parsed = CreateMultipartUpload::parse_response(&answer.body)
            .map_err(|e| self.io(format!("starting {key}"), io::Error::other(e)))?;
        Ok(parsed.upload_id().to_owned())
    }

    fn complete_upload(
        &self,
        key: &str,
        upload: &str,
        etags: &[String],
    ) -> Result<Option<String>, BlobError> {
        let action = self.bucket.complete_multipart_upload(
            Some(&self.credentials),
            key,
            upload,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(SIGNED_FOR);
        let body = action.body();
        let what = format!("completing {key}");
        let answer = self.expect_ok(&what, "POST", url.as_str(), &[], body.as_bytes())?;
        if String::from_utf8_lossy(&answer.body).contains("<Error>") {
            return Err(self.failed(what, &answer));
        }
        Ok(answer.version)
    }

    fn abort_upload(&self, key: &str, upload: &str) {
        let url = self
            .bucket
            .abort_multipart_upload(Some(&self.credentials), key, upload)
            .sign(SIGNED_FOR);
        if let Err(e) = self.send(&format!("aborting {key}"), "DELETE", url.as_str(), &[], &[]) {
            tracing::warn!(offer = %self.name, key, error = %e, "an unfinished upload left behind");
        }
    }
}

impl Inner {
    /// A signed URL for a request that `rusty-s3` has no action for (`?object-lock`,
    /// `?versions`, `?retention`, a delete of one version): on the bucket, or on `object`.
    fn signed(
        &self,
        method: Method,
        object: Option<&str>,
        query: &[(&str, &str)],
    ) -> Result<String, BlobError> {
        let url = match object {
            None => self.bucket.base_url().clone(),
            Some(key) => self
                .bucket
                .object_url(key)
                .map_err(|e| self.io(format!("the URL of {key}"), io::Error::other(e)))?,
        };
        // The signature merges this with its own parameters: both in order.
        let mut query = query.to_vec();
        query.sort();
        Ok(rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            method,
            url,
            self.credentials.key(),
            self.credentials.secret(),
            self.credentials.token(),
            self.bucket.region(),
            SIGNED_FOR.as_secs(),
            query.iter().copied(),
            std::iter::empty(),
        )
        .to_string())
    }

    /// Every version and delete marker under `prefix`, all pages: `(key, version id)`.
    fn versions(&self, prefix: &str) -> Result<Vec<(String, String)>, BlobError> {
        let what = format!("listing the versions under {prefix}");
        let mut out = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let mut query = vec![("versions", ""), ("prefix", prefix)];
            if let Some((key, version)) = &after {
                query.push(("key-marker", key));
                query.push(("version-id-marker", version));
            }
            let url = self.signed(Method::Get, None, &query)?;
            let answer = self.expect_ok(&what, "GET", &url, &[], &[])?;
            let page = parse_listing(
                &answer.body,
                &[b"Version", b"DeleteMarker"],
                b"VersionId",
                b"NextVersionIdMarker",
            )
            .map_err(|e| self.io(what.clone(), io::Error::other(e)))?;
            out.extend(page.entries);
            match page.next {
                // A server that gives the same page again would loop forever.
                Some(next) if page.truncated && after.as_ref() != Some(&next) => after = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// Deletes these versions, 1,000 a request. What the server refuses (a lock) is said as
    /// [`BlobError::Locked`], naming the first such key, once the rest is gone.
    fn delete_versions(&self, versions: &[(String, String)]) -> Result<(), BlobError> {
        let mut locked = None;
        for chunk in versions.chunks(1000) {
            let objects: Vec<ObjectIdentifier> = chunk
                .iter()
                .map(|(key, version)| ObjectIdentifier {
                    key: key.clone(),
                    version_id: Some(version.clone()),
                })
                .collect();
            let mut action = self
                .bucket
                .delete_objects(Some(&self.credentials), objects.iter());
            // Only the failures come back.
            action.set_quiet(true);
            let url = action.sign(SIGNED_FOR);
            let (body, md5) = action.body_with_md5();
            let what = format!("deleting {} versions", chunk.len());
            let answer = self.expect_ok(
                &what,
                "POST",
                url.as_str(),
                &[("Content-MD5", &md5)],
                body.as_bytes(),
            )?;
            let parsed = rusty_s3::actions::DeleteObjectsResponse::parse(&answer.body)
                .map_err(|e| self.io(what.clone(), io::Error::other(e)))?;
            for error in parsed.errors {
                if error.code == "AccessDenied" || error.code.contains("Lock") {
                    locked.get_or_insert(error.key);
                } else {
                    return Err(self.io(
                        what,
                        io::Error::other(format!(
                            "{}: {} {}",
                            error.key, error.code, error.message
                        )),
                    ));
                }
            }
        }
        match locked {
            Some(key) => Err(BlobError::Locked {
                offer: self.name.clone(),
                key,
                until: None,
            }),
            None => Ok(()),
        }
    }

    /// Removes everything under these prefixes (every version, on a WORM offer).
    fn remove_under(&self, prefixes: &[String]) -> Result<(), BlobError> {
        if self.compliance.is_some() {
            let mut all = Vec::new();
            for p in prefixes {
                all.extend(self.versions(p)?);
            }
            self.delete_versions(&all)
        } else {
            let mut keys = Vec::new();
            for p in prefixes {
                keys.extend(self.keys(p)?.into_iter().map(|(k, _)| k));
            }
            self.delete_keys(&keys)
        }
    }

    /// Until when a blob with this lock must stay, from `now`: none when it is not to be
    /// locked (not WORM, temporary, or a date passed and no minimum).
    fn lock_until(&self, lock: &Lock, now: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
        lock.until(self.compliance.as_ref()?.minimum_days, now)
    }

    /// Locks a version of `key` in COMPLIANCE mode until `until` (to the second, rounded
    /// up). A lock is never shortened: the server refuses, and so the request fails.
    fn retain(
        &self,
        key: &str,
        version: Option<&str>,
        until: time::OffsetDateTime,
    ) -> Result<(), BlobError> {
        let date = s3_date(until);
        let body = format!(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>COMPLIANCE</Mode><RetainUntilDate>{date}</RetainUntilDate></Retention>"
        );
        let md5 = {
            use base64::Engine as _;
            use md5::Digest as _;
            base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body.as_bytes()))
        };
        let mut query = vec![("retention", "")];
        if let Some(v) = version {
            query.push(("versionId", v));
        }
        let url = self.signed(Method::Put, Some(key), &query)?;
        self.expect_ok(
            &format!("locking {key} until {date}"),
            "PUT",
            &url,
            &[("Content-MD5", &md5), ("Content-Type", "application/xml")],
            body.as_bytes(),
        )?;
        Ok(())
    }
}

/// `2026-12-05T14:00:01Z`: an instant as S3 takes it, rounded up to the second.
fn s3_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = if t.nanosecond() > 0 {
        t.replace_nanosecond(0).unwrap_or(t) + time::Duration::SECOND
    } else {
        t
    };
    t.format(&time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_else(|_| "9999-12-31T23:59:59Z".to_owned())
}

/// One page of `ListObjectVersions` or `ListMultipartUploads`.
#[derive(Debug, Default, PartialEq, Eq)]
struct ListingPage {
    /// `(key, id)` of each entry: a version or delete marker and its version id, an
    /// upload and its upload id.
    entries: Vec<(String, String)>,
    truncated: bool,
    /// `NextKeyMarker` and the next id marker.
    next: Option<(String, String)>,
}

/// Reads a `ListVersionsResult` (`entries`: `Version` and `DeleteMarker`, `id`:
/// `VersionId`) or a `ListMultipartUploadsResult` (`Upload`, `UploadId`). By hand over
/// quick-xml's events: versions and delete markers come interleaved, which its serde reader
/// does not take into one list.
fn parse_listing(
    xml: &[u8],
    entries: &[&[u8]],
    id: &[u8],
    next_id: &[u8],
) -> Result<ListingPage, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    let mut page = ListingPage::default();
    let (mut key, mut version) = (None, None);
    let (mut next_key, mut next_version) = (None, None);
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| e.to_string())?;
        match &event {
            Event::Start(e) => {
                path.push(e.local_name().as_ref().to_vec());
                text.clear();
            }
            Event::Text(t) => {
                text.push_str(&t.xml10_content().map_err(|e| e.to_string())?);
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| e.to_string())?;
                if let Some(v) = quick_xml::escape::resolve_xml_entity(&name) {
                    text.push_str(v);
                } else if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
                    text.push(c);
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let value = std::mem::take(&mut text);
                let name = name.as_slice();
                match path.len() {
                    1 if name == b"IsTruncated" => page.truncated = value.trim() == "true",
                    1 if name == b"NextKeyMarker" => next_key = Some(value),
                    1 if name == next_id => next_version = Some(value),
                    1 if entries.contains(&name) => match (key.take(), version.take()) {
                        (Some(k), Some(v)) => page.entries.push((k, v)),
                        _ => return Err("an entry without its key or its id".into()),
                    },
                    2 if name == b"Key" => key = Some(value),
                    2 if name == id => version = Some(value),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    page.next = next_key.zip(next_version);
    Ok(page)
}

/// A name no other start of an archive takes: its time and its process.
fn unique_name() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = crate::server_now().unix_timestamp_nanos();
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos}-{}-{n}", std::process::id())
}

/// A listed key, as the server percent-encodes it (`encoding-type=url`).
fn decode(key: &str) -> String {
    percent_encoding::percent_decode_str(key)
        .decode_utf8_lossy()
        .into_owned()
}

/// A key in a copy source: every byte but the unreserved ones and `/` encoded.
fn encode(key: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(key, SET).to_string()
}

impl BlobStore for S3Store {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn begin(&self, tenant: &TenantId, batch: &OperationId) -> Result<Box<dyn Batch>, BlobError> {
        Ok(Box::new(S3Batch {
            inner: self.inner.clone(),
            tenant: tenant.clone(),
            batch: batch.clone(),
            blobs: Arc::new(Mutex::new(Blobs::default())),
            uploads: Arc::new(Uploads::new(self.inner.clone())),
            committed: false,
        }))
    }

    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send>, BlobError> {
        let inner = &self.inner;
        inner.check(key)?;
        let object = inner.key(key);
        let url = inner
            .bucket
            .get_object(Some(&inner.credentials), &object)
            .sign(SIGNED_FOR);
        let what = format!("reading {key}");
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << attempt));
            }
            match inner.agent.get(url.as_str()).call() {
                Ok(response) if response.status().is_success() => {
                    return Ok(Box::new(response.into_body().into_reader()));
                }
                Ok(response) if response.status().as_u16() == 404 => {
                    return Err(BlobError::NotFound {
                        offer: inner.name.clone(),
                        key: key.to_string(),
                    });
                }
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let mut body = Vec::new();
                    let _ = response
                        .body_mut()
                        .as_reader()
                        .take(64 << 10)
                        .read_to_end(&mut body);
                    let answer = Answer {
                        status,
                        body,
                        ..Answer::default()
                    };
                    last = Some(inner.failed(what.clone(), &answer));
                    if status < 500 && status != 429 {
                        break;
                    }
                }
                Err(e) => last = Some(inner.io(what.clone(), io::Error::other(e))),
            }
        }
        Err(last.unwrap_or_else(|| inner.io(what, io::Error::other("no attempt"))))
    }

    fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        let inner = &self.inner;
        inner.check(key)?;
        let object = inner.key(key);
        // The listing gives the size: one request, and no HEAD body quirks.
        inner
            .keys(&object)?
            .into_iter()
            .find(|(k, _)| *k == object)
            .map(|(_, size)| size)
            .ok_or_else(|| BlobError::NotFound {
                offer: inner.name.clone(),
                key: key.to_string(),
            })
    }

    fn discard(&self, tenant: &TenantId, batch: &OperationId) -> Result<(), BlobError> {
        let inner = &self.inner;
        inner.abort_uploads_under(&inner.batch_prefix(tenant, batch))?;
        inner.remove_under(&[
            inner.staging_prefix(tenant, batch),
            inner.batch_prefix(tenant, batch),
        ])
    }

    fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.delete_all(std::slice::from_ref(key))
    }

    fn delete_all(&self, keys: &[BlobKey]) -> Result<(), BlobError> {
        let inner = &self.inner;
        for k in keys {
            inner.check(k)?;
        }
        let objects: Vec<String> = keys.iter().map(|k| inner.key(k)).collect();
        if inner.compliance.is_none() {
            return inner.delete_keys(&objects);
        }
        // Every version of each key: one listing per batch, not per blob.
        let wanted: BTreeSet<&str> = objects.iter().map(String::as_str).collect();
        let batches: BTreeSet<String> = keys
            .iter()
            .map(|k| inner.batch_prefix(&k.tenant, &k.batch))
            .collect();
        let mut versions = Vec::new();
        for prefix in &batches {
            versions.extend(
                inner
                    .versions(prefix)?
                    .into_iter()
                    .filter(|(k, _)| wanted.contains(k.as_str())),
            );
        }
        inner.delete_versions(&versions)
    }

    fn is_worm(&self) -> bool {
        self.inner.compliance.is_some()
    }

    fn locked_until(&self, key: &BlobKey) -> Result<Option<Timestamp>, BlobError> {
        let inner = &self.inner;
        if inner.compliance.is_none() {
            return Ok(None);
        }
        inner.check(key)?;
        let object = inner.key(key);
        let url = inner
            .bucket
            .head_object(Some(&inner.credentials), &object)
            .sign(SIGNED_FOR);
        let what = format!("reading the retention of {key}");
        let answer = inner.send(&what, "HEAD", url.as_str(), &[], &[])?;
        match answer.status {
            200..300 => {}
            404 => {
                return Err(BlobError::NotFound {
                    offer: inner.name.clone(),
                    key: key.to_string(),
                });
            }
            _ => return Err(inner.failed(what, &answer)),
        }
        let Some(until) = answer.retain_until else {
            return Ok(None);
        };
        let until = time::OffsetDateTime::parse(
            until.trim(),
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|_| inner.io(what, io::Error::other(format!("retain-until {until:?}"))))?;
        Ok((until > crate::server_now()).then(|| Timestamp::from_datetime(until)))
    }

    fn batches(&self) -> Result<Vec<(TenantId, OperationId)>, BlobError> {
        let inner = &self.inner;
        let mut found = BTreeSet::new();
        for root in [inner.prefix.clone(), format!("{}{STAGING}", inner.prefix)] {
            for tenant in inner.folders(&root)? {
                let Ok(t) = TenantId::new(&tenant) else {
                    continue;
                };
                for batch in inner.folders(&format!("{root}{tenant}/"))? {
                    // A server on a filesystem (SeaweedFS) may keep a folder whose objects
                    // are all gone: a batch is one with an object.
                    if let Ok(b) = OperationId::new(&batch)
                        && inner.any(&format!("{root}{tenant}/{batch}/"))?
                    {
                        found.insert((t.clone(), b));
                    }
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    fn probe(&self) -> Result<(), BlobError> {
        // The bucket answers to these credentials: a listing of one key, under the prefix.
        self.inner.any(&self.inner.prefix).map(|_| ())
    }

    fn list(&self, tenant: &TenantId, batch: &OperationId) -> Result<Vec<String>, BlobError> {
        let inner = &self.inner;
        let prefix = inner.batch_prefix(tenant, batch);
        let mut names: Vec<String> = inner
            .keys(&prefix)?
            .into_iter()
            .filter_map(|(k, _)| k.strip_prefix(&prefix).map(str::to_owned))
            .filter(|n| !n.contains('/'))
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A blob's multipart upload to its final key, completed by the commit: its id, and its
/// parts' ETags as they come back (none while a part is on its way or failed).
#[derive(Clone)]
struct Multipart {
    id: String,
    etags: Arc<Mutex<Vec<Option<String>>>>,
}

/// What a batch's writers made: each name created (in order, and as a set), and its size
/// once finished; the locks asked; where each finished blob waits for the commit.
#[derive(Default)]
struct Blobs {
    created: Vec<String>,
    names: std::collections::HashSet<String>,
    finished: HashMap<String, u64>,
    locks: HashMap<String, Lock>,
    /// Small blobs' bytes, written by the commit: where each is in `arena`, which holds
    /// them one after the other (one allocation, not one per blob).
    held: HashMap<String, std::ops::Range<usize>>,
    arena: Vec<u8>,
    /// Larger blobs: their uploads to their final keys, which the commit completes.
    multipart: HashMap<String, Multipart>,
}

/// A request sent by the batch's threads.
enum Job {
    /// A whole small blob to its staging key.
    Put { key: String, bytes: Vec<u8> },
    /// A part of a multipart upload; its ETag goes to `etags[number - 1]`.
    Part {
        key: String,
        upload: Multipart,
        number: u16,
        bytes: Vec<u8>,
    },
}

impl Job {
    fn len(&self) -> usize {
        match self {
            Job::Put { bytes, .. } | Job::Part { bytes, .. } => bytes.len(),
        }
    }
}

/// The requests that carry a batch's bytes, sent on [`PARALLEL`] threads while the batch
/// goes on: a writer queues a part or a small blob and goes on reading; at most
/// [`BUDGET`] bytes are queued or on their way (a writer waits beyond), so memory stays
/// bounded whatever the transfer. The commit waits for every request and fails if one
/// did.
struct Uploads {
    inner: Arc<Inner>,
    queue: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Bytes queued or on their way, and its change.
    pending: Arc<(Mutex<usize>, std::sync::Condvar)>,
    failed: Arc<Mutex<Option<BlobError>>>,
}

/// The bytes a batch's requests hold at most (two parts per thread would be 256 MiB).
const BUDGET: usize = 4 * PART_SIZE;

impl Uploads {
    fn new(inner: Arc<Inner>) -> Uploads {
        Uploads {
            inner,
            queue: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
            pending: Arc::default(),
            failed: Arc::default(),
        }
    }

    /// Runs one job on a thread of the pool.
    fn run(inner: &Inner, job: Job) -> Result<(), BlobError> {
        match job {
            Job::Put { key, bytes } => inner.put(&key, &bytes).map(|_| ()),
            Job::Part {
                key,
                upload,
                number,
                bytes,
            } => {
                let url = inner
                    .bucket
                    .upload_part(Some(&inner.credentials), &key, number, &upload.id)
                    .sign(SIGNED_FOR);
                let what = format!("writing part {number} of {key}");
                let answer = inner.expect_ok(&what, "PUT", url.as_str(), &[], &bytes);
                inner.give_back(bytes);
                let answer = answer?;
                let etag = answer
                    .etag
                    .ok_or_else(|| inner.io(what, io::Error::other("no ETag")))?;
                let mut etags = upload.etags.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(slot) = etags.get_mut(usize::from(number) - 1) {
                    *slot = Some(etag);
                }
                Ok(())
            }
        }
    }

    /// Queues a job, starting the threads the first time; waits while the budget is spent.
    fn send(&self, job: Job) -> Result<(), BlobError> {
        // The failure itself stays for the commit to say.
        if self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Err(self.inner.io(
                "writing a blob".into(),
                io::Error::other("an earlier request of this batch failed"),
            ));
        }
        let len = job.len();
        {
            let (lock, changed) = &*self.pending;
            let mut pending = lock.lock().unwrap_or_else(|p| p.into_inner());
            while *pending > 0 && *pending + len > BUDGET {
                pending = changed.wait(pending).unwrap_or_else(|p| p.into_inner());
            }
            *pending += len;
        }
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.is_none() {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
            for _ in 0..PARALLEL {
                let (rx, inner, failed, pending) = (
                    rx.clone(),
                    self.inner.clone(),
                    self.failed.clone(),
                    self.pending.clone(),
                );
                let thread = std::thread::Builder::new()
                    .name("s3-upload".into())
                    .spawn(move || {
                        loop {
                            let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                            let Ok(job) = job else { return };
                            let len = job.len();
                            if let Err(e) = Uploads::run(&inner, job) {
                                failed
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .get_or_insert(e);
                            }
                            let (lock, changed) = &*pending;
                            *lock.lock().unwrap_or_else(|p| p.into_inner()) -= len;
                            changed.notify_all();
                        }
                    })
                    .map_err(|e| self.inner.io("starting an upload thread".into(), e))?;
                threads.push(thread);
            }
            *queue = Some(tx);
        }
        if let Some(tx) = queue.as_ref() {
            tx.send(job).map_err(|_| {
                self.inner.io(
                    "queueing a request".into(),
                    io::Error::other("the upload threads stopped"),
                )
            })?;
        }
        Ok(())
    }

    /// Waits for every queued request: the first failure, if any.
    fn wait(&self) -> Result<(), BlobError> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        for t in self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = t.join();
        }
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Uploads {
    /// A batch given up: what is queued still goes (to staging keys and uploads that its
    /// discard removes), and no thread outlives it.
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

struct S3Batch {
    inner: Arc<Inner>,
    tenant: TenantId,
    batch: OperationId,
    blobs: Arc<Mutex<Blobs>>,
    uploads: Arc<Uploads>,
    /// Set once committed: a batch dropped before aborts its blobs' uploads.
    committed: bool,
}

impl Batch for S3Batch {
    fn create(&mut self, name: &str) -> Result<Box<dyn BlobWriter + '_>, BlobError> {
        let key = BlobKey {
            tenant: self.tenant.clone(),
            batch: self.batch.clone(),
            name: name.to_owned(),
        };
        self.inner.check(&key)?;
        let mut blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
        if !blobs.names.insert(name.to_owned()) {
            return Err(BlobError::Invalid {
                offer: self.inner.name.clone(),
                message: format!("blob {key} created twice in one batch"),
            });
        }
        blobs.created.push(name.to_owned());
        Ok(Box::new(S3Writer {
            inner: self.inner.clone(),
            staging: format!(
                "{}{name}",
                self.inner.staging_prefix(&self.tenant, &self.batch)
            ),
            last: self.inner.key(&key),
            name: name.to_owned(),
            blobs: self.blobs.clone(),
            uploads: self.uploads.clone(),
            buffer: Vec::new(),
            upload: None,
            written: 0,
        }))
    }

    fn lock(&mut self, name: &str, lock: Lock) {
        let mut blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
        blobs.locks.insert(name.to_owned(), lock);
    }

    fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
        self.uploads.wait()?;
        let blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = blobs
            .created
            .iter()
            .find(|n| !blobs.finished.contains_key(*n))
        {
            return Err(BlobError::Invalid {
                offer: self.inner.name.clone(),
                message: format!(
                    "batch {}/{}: blob {open} was not finished",
                    self.tenant, self.batch
                ),
            });
        }
        let staging = self.inner.staging_prefix(&self.tenant, &self.batch);
        let last = self.inner.batch_prefix(&self.tenant, &self.batch);
        let now = crate::server_now();
        // Each blob made visible under its final key (and locked) by one of a few threads:
        // a small one written from memory, a large one's upload completed, one that went
        // to staging copied on the server.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed: Mutex<Option<BlobError>> = Mutex::new(None);
        let commit_one = |name: &String| -> Result<(), BlobError> {
            let to = format!("{last}{name}");
            let version = if let Some(range) = blobs.held.get(name) {
                self.inner.put(&to, &blobs.arena[range.clone()])?
            } else if let Some(upload) = blobs.multipart.get(name) {
                let etags: Option<Vec<String>> = upload
                    .etags
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .cloned()
                    .collect();
                let etags = etags.ok_or_else(|| {
                    self.inner.io(
                        format!("completing {to}"),
                        io::Error::other("a part has no ETag"),
                    )
                })?;
                self.inner.complete_upload(&to, &upload.id, &etags)?
            } else {
                self.inner.copy(&format!("{staging}{name}"), &to)?
            };
            // Neither a copy nor a completion takes a lock (servers ignore a copy's lock
            // headers): set after, on the version made. Nothing is locked before this, so an
            // abandoned batch is always removed whole.
            let lock = blobs.locks.get(name).cloned().unwrap_or_default();
            if let Some(until) = self.inner.lock_until(&lock, now) {
                self.inner.retain(&to, version.as_deref(), until)?;
            }
            Ok(())
        };
        std::thread::scope(|scope| {
            for _ in 0..PARALLEL.min(blobs.created.len()) {
                scope.spawn(|| {
                    loop {
                        if failed.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                            return;
                        }
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(name) = blobs.created.get(i) else {
                            return;
                        };
                        if let Err(e) = commit_one(name) {
                            failed
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                        }
                    }
                });
            }
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            // The uploads not completed are aborted by the drop; what was completed is
            // removed by the batch's discard.
            return Err(e);
        }
        let staged: Vec<String> = blobs
            .created
            .iter()
            .filter(|name| !blobs.held.contains_key(*name) && !blobs.multipart.contains_key(*name))
            .map(|name| format!("{staging}{name}"))
            .collect();
        drop(blobs);
        self.committed = true;
        if staged.is_empty() {
            Ok(())
        } else if self.inner.compliance.is_some() {
            self.inner.remove_under(&[staging])
        } else {
            self.inner.delete_keys(&staged)
        }
    }
}

impl Drop for S3Batch {
    /// Not committed: its blobs' uploads are aborted (their parts would stay, invisible,
    /// until the bucket's lifecycle rules remove them).
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let _ = self.uploads.wait();
        let blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
        for (name, upload) in &blobs.multipart {
            let key = format!(
                "{}{name}",
                self.inner.batch_prefix(&self.tenant, &self.batch)
            );
            self.inner.abort_upload(&key, &upload.id);
        }
    }
}

struct S3Writer {
    inner: Arc<Inner>,
    /// Its staging key (a small blob beyond what the batch holds in memory).
    staging: String,
    /// Its final key (a large blob's multipart upload).
    last: String,
    name: String,
    blobs: Arc<Mutex<Blobs>>,
    uploads: Arc<Uploads>,
    buffer: Vec<u8>,
    /// The multipart upload once the blob outgrew one part.
    upload: Option<Multipart>,
    written: u64,
}

impl S3Writer {
    /// Queues the buffer as the next part of the blob's upload (started the first time);
    /// `more`: another part follows, which gets a buffer of its own.
    fn send_part(&mut self, more: bool) -> Result<(), BlobError> {
        if self.upload.is_none() {
            self.upload = Some(Multipart {
                id: self.inner.start_upload(&self.last)?,
                etags: Arc::default(),
            });
        }
        let Some(upload) = &self.upload else {
            return Ok(());
        };
        let number = {
            let mut etags = upload.etags.lock().unwrap_or_else(|p| p.into_inner());
            etags.push(None);
            u16::try_from(etags.len()).map_err(|_| BlobError::Invalid {
                offer: self.inner.name.clone(),
                message: format!("{}: more than 65,535 parts", self.last),
            })?
        };
        let next = if more {
            self.inner.part_buffer()
        } else {
            Vec::new()
        };
        let bytes = std::mem::replace(&mut self.buffer, next);
        self.uploads.send(Job::Part {
            key: self.last.clone(),
            upload: upload.clone(),
            number,
            bytes,
        })
    }
}

impl Write for S3Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = PART_SIZE - self.buffer.len();
        let taken = buf.len().min(room);
        if self.buffer.len() + taken > SMALL && self.buffer.capacity() < PART_SIZE {
            // No longer a small blob: its parts go through the offer's reused buffers.
            let mut part = self.inner.part_buffer();
            part.extend_from_slice(&self.buffer);
            self.buffer = part;
        }
        self.buffer.extend_from_slice(&buf[..taken]);
        self.written += taken as u64;
        if self.buffer.len() == PART_SIZE {
            self.send_part(true).map_err(io::Error::other)?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobWriter for S3Writer {
    fn finish(mut self: Box<Self>) -> Result<u64, BlobError> {
        if self.upload.is_none() && self.buffer.len() <= SMALL {
            let bytes = std::mem::take(&mut self.buffer);
            let mut blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
            let start = blobs.arena.len();
            if start + bytes.len() <= self.inner.held_max {
                blobs.arena.extend_from_slice(&bytes);
                blobs
                    .held
                    .insert(self.name.clone(), start..start + bytes.len());
            } else {
                drop(blobs);
                self.uploads.send(Job::Put {
                    key: self.staging.clone(),
                    bytes,
                })?;
            }
        } else {
            // The last part (any size), or the only one of a blob past the small ones.
            if !self.buffer.is_empty() || self.upload.is_none() {
                self.send_part(false)?;
            }
            if let Some(upload) = self.upload.take() {
                let mut blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
                blobs.multipart.insert(self.name.clone(), upload);
            }
        }
        let mut blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
        blobs.finished.insert(self.name.clone(), self.written);
        Ok(self.written)
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // Unfinished: its parts would stay, invisible, until the bucket's lifecycle rules
        // remove them. (Parts still queued then fail, and the batch with them.)
        if let Some(upload) = self.upload.take() {
            self.inner.abort_upload(&self.last, &upload.id);
        }
        self.inner.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
#[path = "s3_tests.rs"]
mod tests;
