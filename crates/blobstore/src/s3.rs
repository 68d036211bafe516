//! An offer in an S3 bucket (any server that speaks the S3 API): `prefix/tenant/batch/name`.
//!
//! S3 has no rename, so a batch is written under a staging prefix
//! (`prefix/.staging/tenant/batch/name`, which no tenant identifier can shadow: they never
//! start with a dot), and [`Batch::commit`] copies each blob to its final key on the server
//! (no byte comes back through the archive), then removes the staging objects. An
//! interrupted batch leaves only staging objects (or unfinished multipart uploads, which
//! are aborted when their writer goes), which [`BlobStore::discard`] removes; a commit
//! interrupted half-way leaves final objects that the catalog never names, which discard
//! removes too. This is also what a WORM offer needs: only the copy to the final key
//! carries a retention, so an abandoned batch can always be cleaned.
//!
//! Requests are signed with `rusty-s3` (presigned URLs, AWS Signature V4) and sent with
//! `ureq`; no async SDK. Blobs go up in parts of [`PART_SIZE`] once they outgrow one part
//! (so a writer holds at most one part in memory), and every request is retried a few times
//! with a growing pause: each one is idempotent (a part, a whole small object, a copy, a
//! read, a delete).

use crate::{Batch, BlobError, BlobKey, BlobStore, BlobWriter};
use carnac_model::{OperationId, TenantId};
use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2, ObjectIdentifier};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The size of a part of a multipart upload (S3 wants at least 5 MiB but for the last).
pub const PART_SIZE: usize = 8 << 20;
/// The largest object one `CopyObject` copies; larger ones are copied in parts.
const COPY_MAX: u64 = 5 << 30;
/// The size of a part of a copy in parts.
const COPY_PART: u64 = 1 << 30;
/// Attempts of each request.
const ATTEMPTS: u32 = 4;
/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(3600);
/// The prefix of batches being written.
const STAGING: &str = ".staging/";

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
            .finish_non_exhaustive()
    }
}

struct Inner {
    name: String,
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    prefix: String,
    /// [`COPY_MAX`] and [`COPY_PART`], smaller in a test of the copy in parts.
    copy_max: u64,
    copy_part: u64,
}

/// An S3 offer; cheap to clone.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

/// An answer read whole (small: XML of a list, a multipart upload, an error).
struct Answer {
    status: u16,
    etag: Option<String>,
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
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(S3Store {
            inner: Arc::new(Inner {
                name,
                bucket,
                credentials: Credentials::new(config.access_key.clone(), config.secret_key.clone()),
                agent,
                prefix: config.prefix.clone(),
                copy_max: COPY_MAX,
                copy_part: COPY_PART,
            }),
        })
    }
}

impl Inner {
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
                .body(body.to_vec())
                .map_err(|e| self.io(what.to_owned(), io::Error::other(e)))?;
            match self.agent.run(request) {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let etag = response
                        .headers()
                        .get("etag")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
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

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        self.expect_ok(&format!("writing {key}"), "PUT", url.as_str(), &[], bytes)?;
        Ok(())
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
            let action = self
                .bucket
                .delete_objects(Some(&self.credentials), objects.iter());
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

    /// Copies `from` to `to` on the server: one request up to 5 GiB, in parts beyond.
    fn copy(&self, from: &str, to: &str, size: u64) -> Result<(), BlobError> {
        let source = format!("/{}/{}", self.bucket.name(), encode(from));
        let what = format!("copying {from} to {to}");
        if size <= self.copy_max {
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
            return Ok(());
        }
        let upload = self.start_upload(to)?;
        let mut etags = Vec::new();
        let mut first = 0u64;
        let mut number = 1u16;
        while first < size {
            let last = (first + self.copy_part).min(size) - 1;
            let range = format!("bytes={first}-{last}");
            let mut action = self
                .bucket
                .upload_part(Some(&self.credentials), to, number, &upload);
            action
                .headers_mut()
                .insert("x-amz-copy-source", source.clone());
            action
                .headers_mut()
                .insert("x-amz-copy-source-range", range.clone());
            let url = action.sign(SIGNED_FOR);
            let answer = self.expect_ok(
                &what,
                "PUT",
                url.as_str(),
                &[
                    ("x-amz-copy-source", &source),
                    ("x-amz-copy-source-range", &range),
                ],
                &[],
            )?;
            let text = String::from_utf8_lossy(&answer.body);
            let etag = text
                .split_once("<ETag>")
                .and_then(|(_, r)| r.split_once("</ETag>"))
                .map(|(e, _)| e.replace("&quot;", "\""))
                .ok_or_else(|| self.failed(what.clone(), &answer))?;
            etags.push(etag);
            first = last + 1;
            number += 1;
        }
        self.complete_upload(to, &upload, &etags)
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

    fn complete_upload(&self, key: &str, upload: &str, etags: &[String]) -> Result<(), BlobError> {
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
        Ok(())
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
                        etag: None,
                        body,
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
        let mut keys: Vec<String> = inner
            .keys(&inner.staging_prefix(tenant, batch))?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.extend(
            inner
                .keys(&inner.batch_prefix(tenant, batch))?
                .into_iter()
                .map(|(k, _)| k),
        );
        inner.delete_keys(&keys)
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
        inner.delete_keys(&objects)
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

/// What a batch's writers made: each name created, and its size once finished.
#[derive(Default)]
struct Blobs {
    created: Vec<String>,
    finished: HashMap<String, u64>,
}

struct S3Batch {
    inner: Arc<Inner>,
    tenant: TenantId,
    batch: OperationId,
    blobs: Arc<Mutex<Blobs>>,
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
        if blobs.created.iter().any(|n| n == name) {
            return Err(BlobError::Invalid {
                offer: self.inner.name.clone(),
                message: format!("blob {key} created twice in one batch"),
            });
        }
        blobs.created.push(name.to_owned());
        Ok(Box::new(S3Writer {
            inner: self.inner.clone(),
            object: format!(
                "{}{name}",
                self.inner.staging_prefix(&self.tenant, &self.batch)
            ),
            name: name.to_owned(),
            blobs: self.blobs.clone(),
            buffer: Vec::new(),
            upload: None,
            written: 0,
        }))
    }

    fn commit(self: Box<Self>) -> Result<(), BlobError> {
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
        let mut done = Vec::new();
        for name in &blobs.created {
            let from = format!("{staging}{name}");
            self.inner
                .copy(&from, &format!("{last}{name}"), blobs.finished[name])?;
            done.push(from);
        }
        self.inner.delete_keys(&done)
    }
}

struct S3Writer {
    inner: Arc<Inner>,
    /// Its staging key.
    object: String,
    name: String,
    blobs: Arc<Mutex<Blobs>>,
    buffer: Vec<u8>,
    /// The multipart upload once the blob outgrew one part: its id and its parts' ETags.
    upload: Option<(String, Vec<String>)>,
    written: u64,
}

impl S3Writer {
    fn send_part(&mut self) -> Result<(), BlobError> {
        if self.upload.is_none() {
            self.upload = Some((self.inner.start_upload(&self.object)?, Vec::new()));
        }
        let Some((upload, etags)) = &mut self.upload else {
            return Ok(());
        };
        let number = u16::try_from(etags.len() + 1).map_err(|_| BlobError::Invalid {
            offer: self.inner.name.clone(),
            message: format!("{}: more than 65,535 parts", self.object),
        })?;
        let url = self
            .inner
            .bucket
            .upload_part(Some(&self.inner.credentials), &self.object, number, upload)
            .sign(SIGNED_FOR);
        let what = format!("writing part {number} of {}", self.object);
        let answer = self
            .inner
            .expect_ok(&what, "PUT", url.as_str(), &[], &self.buffer)?;
        let etag = answer
            .etag
            .ok_or_else(|| self.inner.io(what, io::Error::other("no ETag")))?;
        etags.push(etag);
        self.buffer.clear();
        Ok(())
    }
}

impl Write for S3Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = PART_SIZE - self.buffer.len();
        let taken = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..taken]);
        self.written += taken as u64;
        if self.buffer.len() == PART_SIZE {
            self.send_part().map_err(io::Error::other)?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobWriter for S3Writer {
    fn finish(mut self: Box<Self>) -> Result<u64, BlobError> {
        match self.upload.take() {
            None => self.inner.put(&self.object, &self.buffer)?,
            Some(upload) => {
                self.upload = Some(upload);
                if !self.buffer.is_empty() {
                    self.send_part()?;
                }
                if let Some((id, etags)) = self.upload.take() {
                    self.inner.complete_upload(&self.object, &id, &etags)?;
                }
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
        // remove them.
        if let Some((id, _)) = self.upload.take() {
            self.inner.abort_upload(&self.object, &id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The S3 server `scripts/services` starts, named by `CARNAC_TEST_S3_*`; none when the
    /// tests run without it (a failure where every oracle is required).
    pub(crate) fn test_config() -> Option<S3Config> {
        let var = |k: &str| std::env::var(format!("CARNAC_TEST_S3_{k}")).ok();
        let Some(endpoint) = var("ENDPOINT") else {
            assert!(
                std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
                "no S3 server: run the tests through scripts/test, which starts one"
            );
            eprintln!("skipped: no S3 server (CARNAC_TEST_S3_ENDPOINT)");
            return None;
        };
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).expect("random");
        let prefix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Some(S3Config {
            endpoint,
            bucket: var("BUCKET").unwrap_or_else(|| "carnac".into()),
            region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
            path_style: true,
            access_key: var("ACCESS_KEY").expect("CARNAC_TEST_S3_ACCESS_KEY"),
            secret_key: var("SECRET_KEY").expect("CARNAC_TEST_S3_SECRET_KEY"),
            // Each run in a folder of its own: the bucket outlives the tests.
            prefix: format!("test-{prefix}/"),
            timeout: Duration::from_secs(30),
        })
    }

    #[test]
    fn conformance_on_a_real_s3_server() {
        let Some(config) = test_config() else { return };
        let store = S3Store::new("s3-test", &config).expect("store");
        crate::conformance::run(&store);
    }

    /// A blob of several parts goes up as a multipart upload and reads back whole; one
    /// dropped half-way leaves nothing visible.
    #[test]
    fn large_blobs_go_up_in_parts() {
        let Some(config) = test_config() else { return };
        let store = S3Store::new("s3-test", &config).expect("store");
        let tenant = TenantId::new("t").expect("id");
        let batch = OperationId::new("op-parts").expect("id");
        let bytes: Vec<u8> = (0..(2 * PART_SIZE + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut b = store.begin(&tenant, &batch).expect("begin");
        {
            let mut w = b.create("big").expect("create");
            for chunk in bytes.chunks(1 << 20) {
                w.write_all(chunk).expect("write");
            }
            assert_eq!(w.finish().expect("finish"), bytes.len() as u64);
            let mut cut = b.create("cut").expect("create");
            cut.write_all(&bytes[..PART_SIZE + 1]).expect("write");
        }
        assert!(b.commit().is_err(), "an unfinished blob");
        let mut b = store.begin(&tenant, &batch).expect("begin");
        let mut w = b.create("big").expect("create");
        w.write_all(&bytes).expect("write");
        w.finish().expect("finish");
        b.commit().expect("commit");
        let key = BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: "big".into(),
        };
        assert_eq!(store.size(&key).expect("size"), bytes.len() as u64);
        assert!(crate::read_all(&store, &key).expect("read") == bytes);
        assert_eq!(store.list(&tenant, &batch).expect("list"), ["big"]);
        store.discard(&tenant, &batch).expect("discard");
        assert!(store.batches().expect("batches").is_empty());
    }

    /// Past the largest object one request copies, a commit copies in parts (here with
    /// limits of 8 and 5 MiB rather than 5 GiB and 1 GiB).
    #[test]
    fn large_blobs_are_committed_by_a_copy_in_parts() {
        let Some(config) = test_config() else { return };
        let mut store = S3Store::new("s3-test", &config).expect("store");
        let inner = Arc::get_mut(&mut store.inner).expect("one owner");
        inner.copy_max = 8 << 20;
        inner.copy_part = 5 << 20;
        let tenant = TenantId::new("t").expect("id");
        let batch = OperationId::new("op-copy").expect("id");
        let bytes: Vec<u8> = (0..(16 << 20) + 777).map(|i| (i % 253) as u8).collect();
        let mut b = store.begin(&tenant, &batch).expect("begin");
        let mut w = b.create("big").expect("create");
        w.write_all(&bytes).expect("write");
        w.finish().expect("finish");
        b.commit().expect("commit");
        let key = BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: "big".into(),
        };
        assert!(crate::read_all(&store, &key).expect("read") == bytes);
        store.discard(&tenant, &batch).expect("discard");
    }

    #[test]
    fn a_wrong_secret_is_an_error_that_names_the_offer() {
        let Some(mut config) = test_config() else {
            return;
        };
        config.secret_key = "not the secret".into();
        let store = S3Store::new("site-b", &config).expect("store");
        let e = store.batches().expect_err("refused");
        assert!(e.to_string().contains("site-b"), "{e}");
        assert!(store.probe().is_err(), "the probe fails too");
        assert!(e.to_string().contains("403"), "{e}");
    }
}
