//! HTTP interface of the archive (axum): the REST API under `/api/v1`.
//!
//! [`app`] builds the router over an [`Archive`]; tests drive it with `oneshot`, the binary
//! serves it. Every request under `/api/v1` is authenticated, authorized and journaled
//! ([`auth`]) before it does anything. Errors reach the wire once, in [`ApiError`]: a status,
//! a stable machine-readable code and a message; internals are logged, not sent.

pub mod asalae;
mod auth;
mod fair;
pub mod listen;
mod metrics;
mod routes;
pub mod tls;
pub mod web;

pub use listen::{ClientAddress, HttpLimits, serve};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use carnac_archive::{Archive, ArchiveError};
use carnac_model::{OperationId, TenantId};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub struct AppState {
    pub archive: Arc<Archive>,
    /// Where replies are copied before they are sent.
    pub uploads: std::path::PathBuf,
    /// Ingests the transfers received.
    pub worker: Arc<carnac_archive::transfers::Worker>,
    /// Where the as@lae-compatible intake is served ([`asalae::DEFAULT_BASE`] by default).
    pub asalae_base: String,
    /// What a client may ask of the server (sizes, counts, times).
    pub limits: Limits,
    /// Set when the server stops: long work in requests gives up.
    pub stopping: Arc<AtomicBool>,
    /// The gates of costly reads, made from `limits` at their first use.
    gates: std::sync::OnceLock<Gates>,
    /// Requests counted for `/metrics`.
    pub(crate) metrics: metrics::HttpMetrics,
    /// The tenants `/metrics` names; the others are summed as `other`.
    pub metrics_tenants: Vec<carnac_model::TenantId>,
}

/// Costly reads, each shared fairly between tenants.
struct Gates {
    searches: fair::FairGate,
    journal: fair::FairGate,
    /// Every authenticated request, by account.
    requests: fair::FairGate,
    rates: Arc<auth::AccountRates>,
    /// Each tenant's counts as the web application's home page last read them, and when:
    /// counting a large tenant takes tens of milliseconds, which a page seen by many need
    /// not pay at each view.
    volumes: std::sync::Mutex<
        std::collections::HashMap<carnac_model::TenantId, (std::time::Instant, Arc<Volume>)>,
    >,
}

/// What a tenant holds, and what came in each year: the home page's volume.
#[derive(Debug)]
pub(crate) struct Volume {
    pub counts: carnac_catalog::Counts,
    pub intake: Vec<carnac_catalog::YearIntake>,
}

/// How long the home page's counts of a tenant are reused.
pub(crate) const VOLUME_FOR: std::time::Duration = std::time::Duration::from_secs(60);

impl AppState {
    /// A state with the default limits and the as@lae intake at its default place.
    pub fn new(
        archive: Arc<Archive>,
        uploads: std::path::PathBuf,
        worker: Arc<carnac_archive::transfers::Worker>,
    ) -> AppState {
        AppState {
            archive,
            uploads,
            worker,
            asalae_base: asalae::DEFAULT_BASE.to_owned(),
            limits: Limits::default(),
            stopping: Arc::default(),
            gates: std::sync::OnceLock::new(),
            metrics: metrics::HttpMetrics::default(),
            metrics_tenants: Vec::new(),
        }
    }

    /// The same state naming these tenants in its metrics.
    pub fn with_metrics_tenants(mut self, tenants: Vec<carnac_model::TenantId>) -> AppState {
        self.metrics_tenants = tenants;
        self
    }

    /// The same state with these limits.
    pub fn with_limits(mut self, limits: Limits) -> AppState {
        self.limits = limits;
        self.gates = std::sync::OnceLock::new();
        self
    }

    /// The same state with the as@lae intake under `base`.
    pub fn with_asalae_base(mut self, base: impl Into<String>) -> AppState {
        self.asalae_base = base.into();
        self
    }

    fn gates(&self) -> &Gates {
        self.gates.get_or_init(|| {
            let s = &self.limits.search;
            Gates {
                searches: fair::FairGate::new(s.at_once, s.per_tenant),
                journal: fair::FairGate::new(s.journal_at_once, s.journal_per_tenant),
                requests: fair::FairGate::new(
                    self.limits.requests_at_once,
                    self.limits.requests_per_account,
                ),
                rates: Arc::new(auth::AccountRates::new(
                    self.limits.requests_per_second_per_account,
                )),
                volumes: Default::default(),
            }
        })
    }

    /// `tenant`'s volume, as read at most [`VOLUME_FOR`] ago (read now otherwise; in a
    /// blocking context).
    pub(crate) fn volume(
        &self,
        tenant: &carnac_model::TenantId,
    ) -> Result<Arc<Volume>, carnac_archive::ArchiveError> {
        let volumes = &self.gates().volumes;
        let known = volumes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .filter(|(at, _)| at.elapsed() < VOLUME_FOR)
            .map(|(_, v)| v.clone());
        if let Some(v) = known {
            return Ok(v);
        }
        let v = Arc::new(Volume {
            counts: self.archive.counts(tenant)?,
            intake: self.archive.intake_by_year(tenant)?,
        });
        let mut map = volumes.lock().unwrap_or_else(|p| p.into_inner());
        // A few hundred tenants at most: forget the stale ones rather than grow.
        map.retain(|_, (at, _)| at.elapsed() < VOLUME_FOR);
        map.insert(tenant.clone(), (std::time::Instant::now(), v.clone()));
        Ok(v)
    }
}

/// Searches and journal views: how many at once (in all, per tenant) and for how long. Each
/// is given up when its time is over, its client has gone or the server stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchLimits {
    /// A search's time, its wait for a place included. Default 3 s.
    pub timeout: std::time::Duration,
    /// Searches at once, in all (default 8) and for one tenant (default 4).
    pub at_once: usize,
    pub per_tenant: usize,
    /// A journal view's time (it reads the tenant's journal through). Default 10 s.
    pub journal_timeout: std::time::Duration,
    /// Journal views at once, in all (default 2) and for one tenant (default 1).
    pub journal_at_once: usize,
    pub journal_per_tenant: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            timeout: std::time::Duration::from_secs(3),
            at_once: 8,
            per_tenant: 4,
            journal_timeout: std::time::Duration::from_secs(10),
            journal_at_once: 2,
            journal_per_tenant: 1,
        }
    }
}

/// Sets its flag when dropped: a request's work in a blocking thread learns that the request
/// is over (its client went away, so hyper dropped the handler).
pub(crate) struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What a client may ask of the server: every number, size and time it chooses is bounded
/// by one of these before it drives work (each documented with its default in
/// `carnac.example.toml` and ARCHITECTURE.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub http: HttpLimits,
    /// The largest upload taken (a transfer, an attachments archive, all chunks of one):
    /// beyond, the upload is refused (413) and what was received removed.
    pub max_upload: u64,
    /// Chunk sessions of the as@lae intake (`max_session_bytes` is `max_upload`).
    pub chunks: carnac_archive::chunks::ChunkLimits,
    pub search: SearchLimits,
    /// Transfers of one tenant waiting for their ingest (or in it), and their bytes: beyond,
    /// a new one is refused (429) until they are ingested. Defaults 1,000 and twice the
    /// upload limit.
    pub queued_per_tenant: usize,
    pub queued_bytes_per_tenant: u64,
    /// Authenticated requests handled at once, in all (default 256) and for one account
    /// (default 4): an account's further requests wait behind its own, at most
    /// `request_wait` (default 10 s), then 503.
    pub requests_at_once: usize,
    pub requests_per_account: usize,
    pub request_wait: std::time::Duration,
    /// Requests an account may send a second, on average (four times as many at once);
    /// beyond, 429. Default 20; 0: no limit.
    pub requests_per_second_per_account: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            http: HttpLimits::default(),
            max_upload: DEFAULT_MAX_UPLOAD,
            chunks: carnac_archive::chunks::ChunkLimits {
                max_session_bytes: DEFAULT_MAX_UPLOAD,
                bytes_per_account: DEFAULT_MAX_UPLOAD,
                ..Default::default()
            },
            search: SearchLimits::default(),
            queued_per_tenant: 1000,
            queued_bytes_per_tenant: 2 * DEFAULT_MAX_UPLOAD,
            requests_at_once: 256,
            requests_per_account: 4,
            request_wait: std::time::Duration::from_secs(10),
            requests_per_second_per_account: 20,
        }
    }
}

/// Refuses a new transfer of `tenant` while its queue is full (asked before the upload is
/// read, and again with its size once it is): one tenant cannot fill the incoming folder
/// and the queue that every tenant shares.
pub(crate) fn queue_room(state: &AppState, tenant: &TenantId, bytes: u64) -> Result<(), ApiError> {
    let (count, queued) = state.worker.load(tenant);
    let limits = &state.limits;
    if count >= limits.queued_per_tenant
        || queued.saturating_add(bytes) > limits.queued_bytes_per_tenant
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            format!(
                "this tenant has {count} transfers ({queued} bytes) waiting for their ingest, as many as it may (at most {} transfers, {} bytes): send again once they are ingested",
                limits.queued_per_tenant, limits.queued_bytes_per_tenant
            ),
        )
        .retry_after(60));
    }
    Ok(())
}

/// How long a refusal for being throttled (a locked login or address, an account past its
/// rate) waits before it is sent: the client that floods gets its answers at this pace per
/// connection, which costs the server a timer, not a core.
pub const TARPIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How often [`housekeeping`] runs while serving.
pub const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// What the server does on its own while it serves, and once more (`stopping`) when it
/// stops: the summaries of refusals counted over the last minute go to their journals, and
/// chunk sessions unused for their idle time are removed.
pub async fn housekeeping(state: Arc<AppState>, stopping: bool) {
    let archive = state.archive.clone();
    let idle = state.limits.chunks.idle;
    let done = blocking(move || {
        archive.journal_refusal_summaries(stopping)?;
        let removed = archive.reclaim_chunk_sessions(idle)?;
        if removed > 0 {
            tracing::info!(removed, "unused chunk sessions removed");
        }
        Ok(())
    })
    .await;
    if let Err(e) = done {
        tracing::error!(error = ?e, "housekeeping");
    }
}

/// The default of [`Limits::max_upload`]: 100 GiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 100 << 30;

pub fn app(state: Arc<AppState>) -> Router {
    // Routing sees paths with their repeated slashes merged, as Apache (in front of as@lae)
    // merges them: Pastell's connector, given a URL that ends in `/`, asks for
    // `…/restservices//ping`. An empty segment means nothing anywhere in this API.
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .map_request(merge_slashes)
            .service(routes(state)),
    )
}

/// The request with `//` (and longer runs) in its path made one `/`; the query is untouched.
fn merge_slashes<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let uri = request.uri();
    if !uri.path().contains("//") {
        return request;
    }
    let mut path = String::with_capacity(uri.path().len());
    for c in uri.path().chars() {
        if !(c == '/' && path.ends_with('/')) {
            path.push(c);
        }
    }
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(merged) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = merged;
        }
    }
    request
}

/// Streams `chunks` (a request body, a multipart field) into `file`, never held in memory,
/// refusing more than `max` bytes: the file back, flushed, with the number of bytes written.
pub(crate) async fn stream_to_file<E: std::fmt::Display>(
    chunks: impl futures_util::Stream<Item = Result<axum::body::Bytes, E>>,
    file: std::fs::File,
    max: u64,
    what: &str,
) -> Result<(std::fs::File, u64), ApiError> {
    use futures_util::StreamExt;
    use std::io::Write;
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "writing an upload");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the upload could not be stored",
        )
    };
    let mut chunks = std::pin::pin!(chunks);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut received = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "upload_interrupted",
                format!("{what}: the upload was interrupted: {e}"),
            )
        })?;
        received += chunk.len() as u64;
        if received > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("{what} is at most {max} bytes"),
            ));
        }
        // Small writes to a buffered file: acceptable on the async thread.
        out.write_all(&chunk).map_err(internal)?;
    }
    let file = out.into_inner().map_err(|e| internal(e.into_error()))?;
    Ok((file, received))
}

/// The API of [`routes::ROUTES`], the as@lae intake at its base, and the journal of every
/// request that no handler journaled.
fn routes(state: Arc<AppState>) -> Router {
    let base = if asalae::valid_base(&state.asalae_base) {
        state.asalae_base.clone()
    } else {
        tracing::error!(base = %state.asalae_base, "invalid as@lae base path; using the default");
        asalae::DEFAULT_BASE.to_owned()
    };
    Router::new()
        .nest(&base, asalae::routes())
        .merge(routes::router(state.clone()))
        .merge(web::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::journal_guard,
        ))
        .with_state(state)
}

/// The one error type that becomes a response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Every reason, when a request is refused for several.
    details: Vec<String>,
    /// Seconds after which the client may try again (`Retry-After`).
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// A failure of ours: the details are in the log, not on the wire.
    pub(crate) fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the archive could not complete the request; see its logs",
        )
    }

    /// What the error says (in English, as the API gives it).
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Every reason, when it refuses for several.
    pub(crate) fn details(&self) -> &[String] {
        &self.details
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    pub(crate) fn with_details(mut self, details: Vec<String>) -> ApiError {
        self.details = details;
        self
    }
}

impl From<ArchiveError> for ApiError {
    fn from(e: ArchiveError) -> Self {
        match &e {
            ArchiveError::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            ArchiveError::Conflict(what) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            ArchiveError::Invalid(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid", m.clone())
            }
            ArchiveError::InvalidRequest(reasons) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the request is refused for {} reason(s)", reasons.len()),
            )
            .with_details(reasons.clone()),
            ArchiveError::State { code, message } => {
                ApiError::new(StatusCode::CONFLICT, code, message.clone())
            }
            ArchiveError::Forbidden(m) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", m.clone())
            }
            ArchiveError::NotCommunicable(reasons) => ApiError::new(
                StatusCode::FORBIDDEN,
                "not_communicable",
                format!(
                    "{} unit(s) are not communicable yet; ask for a derogation (\"derogation\": true) for the control authority to decide",
                    reasons.len()
                ),
            )
            .with_details(reasons.clone()),
            ArchiveError::Suspended(_) => {
                ApiError::new(StatusCode::CONFLICT, "tenant_suspended", e.to_string())
            }
            ArchiveError::Catalog(carnac_catalog::CatalogError::Interrupted(why)) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "interrupted",
                format!(
                    "{why}: narrow the request (fewer words, an agency, dates) or try again later"
                ),
            )
            .retry_after(1),
            ArchiveError::ReferentialRejected(errors) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "referential_rejected",
                "the referential folder is refused, nothing was imported",
            )
            .with_details(errors.iter().map(ToString::to_string).collect()),
            _ => {
                tracing::error!(error = %e, "request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the archive could not complete the request; see its logs",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if !self.details.is_empty() {
            error["details"] = json!(self.details);
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"carnac\", Basic realm=\"carnac\""),
            );
        }
        response
    }
}

impl From<carnac_catalog::CatalogError> for ApiError {
    fn from(e: carnac_catalog::CatalogError) -> Self {
        ApiError::from(ArchiveError::from(e))
    }
}

/// Runs catalog and storage work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "a blocking task failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the archive could not complete the request; see its logs",
        )
    })?
}

fn tenant_id(s: &str) -> Result<TenantId, ApiError> {
    TenantId::new(s)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_tenant", e.to_string()))
}

fn operation_id(s: &str) -> Result<OperationId, ApiError> {
    OperationId::new(s)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_operation", e.to_string()))
}

/// The bytes of a file as a stream of chunks.
pub(crate) fn file_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send {
    futures_util::stream::unfold(Some(file), |file| async move {
        use tokio::io::AsyncReadExt;
        let mut file = file?;
        let mut chunk = vec![0u8; 1 << 16];
        match file.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok(chunk), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

#[cfg(test)]
mod hardening_tests;
#[cfg(test)]
mod tests;
