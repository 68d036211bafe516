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
pub mod tls;

pub use listen::{ClientAddress, HttpLimits, serve};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use carnac_archive::{Archive, ArchiveError};
use carnac_model::access::Action;
use carnac_model::{OperationId, TenantId};
use serde_json::json;
use std::io::Write;
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
}

/// Costly reads, each shared fairly between tenants.
struct Gates {
    searches: fair::FairGate,
    journal: fair::FairGate,
    /// Every authenticated request, by account.
    requests: fair::FairGate,
    rates: Arc<auth::AccountRates>,
}

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
        }
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
            }
        })
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
struct CancelOnDrop(Arc<AtomicBool>);

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

fn routes(state: Arc<AppState>) -> Router {
    let base = if asalae::valid_base(&state.asalae_base) {
        state.asalae_base.clone()
    } else {
        tracing::error!(base = %state.asalae_base, "invalid as@lae base path; using the default");
        asalae::DEFAULT_BASE.to_owned()
    };
    Router::new()
        .nest(&base, asalae::routes())
        .route("/", get(home))
        .route("/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/tenants", get(tenants).post(create_tenant))
        .route("/api/v1/tenants/{tenant}/suspend", post(suspend))
        .route("/api/v1/tenants/{tenant}/resume", post(resume))
        .route(
            "/api/v1/tenants/{tenant}/referentials",
            get(referentials).post(import_referentials),
        )
        .route(
            "/api/v1/tenants/{tenant}/referentials/{kind}/versions",
            get(referential_versions),
        )
        .route("/api/v1/accounts", get(accounts).post(create_account))
        .route("/api/v1/accounts/{login}/disable", post(disable_account))
        .route("/api/v1/accounts/{login}/enable", post(enable_account))
        .route("/api/v1/accounts/{login}/tokens", get(account_tokens))
        .route(
            "/api/v1/accounts/{login}/tokens/{token}/revoke",
            post(revoke_token),
        )
        .route("/api/v1/tenants/{tenant}/transfers", post(transfer))
        .route("/api/v1/tenants/{tenant}/units", get(search_units))
        .route("/api/v1/tenants/{tenant}/units/{unit}", get(unit))
        .route("/api/v1/tenants/{tenant}/objects/{object}", get(download))
        .route("/api/v1/tenants/{tenant}/journal", get(journal))
        .route(
            "/api/v1/tenants/{tenant}/operations/{operation}",
            get(operation),
        )
        .route(
            "/api/v1/tenants/{tenant}/operations/{operation}/atr",
            get(atr),
        )
        .route(
            "/api/v1/tenants/{tenant}/operations/{operation}/ack",
            get(ack),
        )
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

async fn home() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Carnac</title></head><body>\
         <h1>Carnac</h1><p>Archive électronique à valeur probante.</p>\
         <p>API : <code>POST /api/v1/tenants/{id}/transfers</code>, \
         <code>GET /api/v1/tenants/{id}/operations/{op}</code>, <code>…/atr</code>. \
         État : <a href=\"/health\">/health</a>.</p></body></html>",
    )
}

/// The API's description, committed beside the code (`crates/server/openapi.json`); a test
/// checks that it and the router name the same endpoints.
pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// Whether the archive answers: its catalog is readable. Says nothing of any tenant.
async fn health(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let archive = state.archive.clone();
    blocking(move || Ok(archive.catalog().tenants().map(|_| ())?)).await?;
    Ok(axum::Json(json!({"status": "ok"})))
}

fn request<'a>(
    method: &'a Method,
    path: &'a str,
    action: Action,
    tenant: Option<&'a TenantId>,
) -> auth::Request<'a> {
    auth::Request {
        method,
        path,
        action,
        tenant,
        operation: None,
        subject: None,
    }
}

/// The account making the request.
async fn me(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
) -> Result<Response, ApiError> {
    // Any authenticated account may know itself; journaled like the rest.
    let who = auth::authorize(
        &state,
        &headers,
        auth::Request {
            method: &method,
            path: "/api/v1/me",
            action: Action::Identify,
            tenant: None,
            operation: None,
            subject: None,
        },
    )
    .await?;
    Ok(
        axum::Json(json!({"login": who.login, "role": who.role, "tenants": who.tenants}))
            .into_response(),
    )
}

async fn tenants(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
) -> Result<Response, ApiError> {
    auth::authorize(
        &state,
        &headers,
        request(&method, "/api/v1/tenants", Action::TenantList, None),
    )
    .await?;
    let archive = state.archive.clone();
    let list = blocking(move || Ok(archive.catalog().tenants()?)).await?;
    let list: Vec<_> = list
        .into_iter()
        .filter(|t| !carnac_model::access::is_reserved(&t.id))
        .map(|t| json!({"id": t.id, "name": t.name, "created_at": t.created_at, "suspended_at": t.suspended_at}))
        .collect();
    Ok(axum::Json(json!({ "tenants": list })).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: String,
    name: Option<String>,
}

async fn create_tenant(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let who = auth::authorize(
        &state,
        &headers,
        request(&method, "/api/v1/tenants", Action::TenantCreate, None),
    )
    .await?;
    let new: NewTenant = json_body(&body)?;
    let tenant = tenant_id(&new.id)?;
    let archive = state.archive.clone();
    let name = new.name.unwrap_or_else(|| new.id.clone());
    let op = blocking(move || Ok(archive.create_tenant(&tenant, &name, &who.login)?)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"tenant": new.id, "operation": op})),
    )
        .into_response())
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))
}

async fn suspend(
    state: State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    set_suspended(state, method, headers, tenant, true).await
}

async fn resume(
    state: State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    set_suspended(state, method, headers, tenant, false).await
}

async fn set_suspended(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    tenant: String,
    suspended: bool,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let path = format!(
        "/api/v1/tenants/{t}/{}",
        if suspended { "suspend" } else { "resume" }
    );
    let who = auth::authorize(
        &state,
        &headers,
        request(&method, &path, Action::TenantSuspend, Some(&t)),
    )
    .await?;
    let archive = state.archive.clone();
    blocking(move || Ok(archive.suspend_tenant(&t, suspended, &who.login)?)).await?;
    Ok(axum::Json(json!({"tenant": tenant, "suspended": suspended})).into_response())
}

/// The tenant's referentials: each kind with its versions.
async fn referentials(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let path = format!("/api/v1/tenants/{t}/referentials");
    auth::authorize(
        &state,
        &headers,
        request(&method, &path, Action::ReferentialRead, Some(&t)),
    )
    .await?;
    let archive = state.archive.clone();
    let kinds = blocking(move || {
        archive.require_tenant(&t)?;
        let mut out = Vec::new();
        for kind in carnac_catalog::ReferentialKind::ALL {
            if let Some(r) = archive.catalog().referential(&t, kind)? {
                out.push(json!({
                    "kind": kind.as_str(),
                    "version": r.version,
                    "imported_at": r.imported_at,
                    "operation": r.operation,
                    "content": r.content,
                }));
            }
        }
        Ok(out)
    })
    .await?;
    Ok(axum::Json(json!({ "referentials": kinds })).into_response())
}

/// Imports a referential folder sent as a container (zip, tar, tar.gz, tar.bz2) holding
/// what `carnac referential import` reads from a folder: the whole folder is checked and
/// imported, or refused with every reason.
async fn import_referentials(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(tenant): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let path = format!("/api/v1/tenants/{t}/referentials");
    let who = auth::authorize(
        &state,
        &headers,
        request(&method, &path, Action::ReferentialImport, Some(&t)),
    )
    .await?;
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "receiving a referential folder");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the upload could not be stored",
        )
    };
    // Small by nature: a folder of referential files.
    const MAX: u64 = 256 << 20;
    let work = tempfile::tempdir_in(&state.uploads).map_err(internal)?;
    let upload = work.path().join("folder.container");
    let file = std::fs::File::create(&upload).map_err(internal)?;
    drop(receive_body(body, file, Some(MAX), "a referential folder").await?);
    let archive = state.archive.clone();
    let outcome = blocking(move || {
        let dir = work.path().join("folder");
        std::fs::create_dir(&dir).map_err(internal)?;
        let container = std::fs::File::open(&upload).map_err(internal)?;
        carnac_archive::referential::unpack_folder(container, &dir).map_err(|problems| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "referential_rejected",
                "the container cannot be read safely; nothing was imported",
            )
            .with_details(problems)
        })?;
        // A folder packed from its parent: its one top folder is the referential folder
        // (unless that folder is itself one of the referential's, like `rules/`).
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(internal)?
            .filter_map(Result::ok)
            .collect();
        const PARTS: [&str; 6] = [
            "agencies",
            "rules",
            "contracts",
            "profiles",
            "formats",
            "archiveUnitProfiles",
        ];
        let root = match entries.as_slice() {
            [one]
                if one.path().is_dir()
                    && !PARTS.contains(&one.file_name().to_string_lossy().as_ref()) =>
            {
                one.path()
            }
            _ => dir,
        };
        let outcome = archive.import_referentials(&t, &root, &who.login)?;
        drop(work);
        Ok(outcome)
    })
    .await?;
    let versions: Vec<_> = outcome
        .versions
        .iter()
        .zip(&outcome.counts)
        .map(|((kind, version), (_, count))| json!({"kind": kind.as_str(), "version": version, "entries": count}))
        .collect();
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "operation": outcome.operation,
            "versions": versions,
            "skipped": outcome.skipped.iter().map(|(file, why)| json!({"file": file, "reason": why})).collect::<Vec<_>>(),
        })),
    )
        .into_response())
}

/// Every version of one referential of a tenant.
async fn referential_versions(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path((tenant, kind)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let path = format!("/api/v1/tenants/{t}/referentials/{kind}/versions");
    auth::authorize(
        &state,
        &headers,
        request(&method, &path, Action::ReferentialRead, Some(&t)),
    )
    .await?;
    let k = carnac_catalog::ReferentialKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!(
                    "no referential kind {kind:?}; kinds: {}",
                    carnac_catalog::ReferentialKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let archive = state.archive.clone();
    let versions = blocking(move || {
        archive.require_tenant(&t)?;
        Ok(archive.catalog().referential_versions(&t, k)?)
    })
    .await?;
    Ok(axum::Json(json!({"kind": kind, "versions": versions})).into_response())
}

async fn accounts(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
) -> Result<Response, ApiError> {
    auth::authorize(
        &state,
        &headers,
        request(&method, "/api/v1/accounts", Action::AccountList, None),
    )
    .await?;
    let archive = state.archive.clone();
    let list = blocking(move || Ok(archive.accounts()?)).await?;
    Ok(axum::Json(json!({ "accounts": list })).into_response())
}

async fn disable_account(
    state: State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    set_disabled(state, method, headers, login, true).await
}

async fn enable_account(
    state: State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    set_disabled(state, method, headers, login, false).await
}

/// Disables an account (every credential of it stops at once) or enables it again.
async fn set_disabled(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    login: String,
    disabled: bool,
) -> Result<Response, ApiError> {
    let path = format!(
        "/api/v1/accounts/{login}/{}",
        if disabled { "disable" } else { "enable" }
    );
    let who = auth::authorize(
        &state,
        &headers,
        auth::Request {
            subject: Some(login.as_str()),
            ..request(&method, &path, Action::AccountDisable, None)
        },
    )
    .await?;
    let archive = state.archive.clone();
    let l = login.clone();
    blocking(move || Ok(archive.set_account_disabled(&l, disabled, &who.login)?)).await?;
    Ok(axum::Json(json!({"login": login, "disabled": disabled})).into_response())
}

/// The API tokens of an account: ids (the beginning of their SHA-256), never the tokens.
async fn account_tokens(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let path = format!("/api/v1/accounts/{login}/tokens");
    auth::authorize(
        &state,
        &headers,
        auth::Request {
            subject: Some(login.as_str()),
            ..request(&method, &path, Action::AccountList, None)
        },
    )
    .await?;
    let archive = state.archive.clone();
    let l = login.clone();
    let tokens = blocking(move || Ok(archive.tokens(&l)?)).await?;
    Ok(axum::Json(json!({"login": login, "tokens": tokens})).into_response())
}

/// Revokes one token of an account; its other credentials go on.
async fn revoke_token(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path((login, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = format!("/api/v1/accounts/{login}/tokens/{token}/revoke");
    let who = auth::authorize(
        &state,
        &headers,
        auth::Request {
            subject: Some(login.as_str()),
            ..request(&method, &path, Action::AccountDisable, None)
        },
    )
    .await?;
    let archive = state.archive.clone();
    let (l, t) = (login.clone(), token.clone());
    blocking(move || Ok(archive.revoke_token(&l, &t, &who.login)?)).await?;
    Ok(axum::Json(json!({"login": login, "token": token, "revoked": true})).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccountBody {
    login: String,
    role: carnac_model::access::Role,
    #[serde(default = "person")]
    kind: carnac_model::access::AccountKind,
    #[serde(default)]
    tenants: Vec<String>,
    password: Option<String>,
    /// Give it an API token, returned once in the response.
    #[serde(default)]
    token: bool,
}

fn person() -> carnac_model::access::AccountKind {
    carnac_model::access::AccountKind::Person
}

async fn create_account(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let who = auth::authorize(
        &state,
        &headers,
        request(&method, "/api/v1/accounts", Action::AccountCreate, None),
    )
    .await?;
    let new: NewAccountBody = json_body(&body)?;
    let tenants = new
        .tenants
        .iter()
        .map(|t| tenant_id(t))
        .collect::<Result<Vec<_>, _>>()?;
    let archive = state.archive.clone();
    let (account, token) = blocking(move || {
        Ok(archive.create_account(
            &carnac_archive::accounts::NewAccount {
                login: &new.login,
                role: new.role,
                kind: new.kind,
                tenants: &tenants,
                password: new.password.as_deref(),
                token: new.token,
                certificate: None,
            },
            &who.login,
        )?)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "account": account,
            "token_id": token.as_deref().map(carnac_archive::accounts::token_id),
            "token": token,
        })),
    )
        .into_response())
}

/// The body is the container; it is streamed to a file (never held in memory), then ingested.
async fn transfer(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(tenant): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = tenant_id(&tenant)?;
    let path = format!("/api/v1/tenants/{tenant}/transfers");
    let who = auth::authorize(
        &state,
        &headers,
        request(&method, &path, Action::TransferSubmit, Some(&tenant)),
    )
    .await?;
    queue_room(&state, &tenant, 0)?;
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "writing an upload");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the upload could not be stored",
        )
    };
    // Received into the archive's incoming folder, then handed over whole: the sender gets
    // its operation once the container is durably the archive's.
    let file = tempfile::Builder::new()
        .prefix(".upload")
        .tempfile_in(state.archive.incoming_dir())
        .map_err(internal)?;
    let (std_file, temp_path) = file.into_parts();
    let (file, received) =
        receive_body(body, std_file, Some(state.limits.max_upload), "a transfer").await?;
    if received == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_body",
            "the request body must be the transfer container",
        ));
    }
    queue_room(&state, &tenant, received)?;
    let archive = state.archive.clone();
    let transfer = blocking(move || {
        file.sync_all().map_err(internal)?;
        drop(file);
        // The path is the archive's from here: moved into the queue, or removed if refused.
        let path = temp_path.keep().map_err(|e| internal(e.error))?;
        Ok(archive.receive_transfer(&tenant, &path, &who.login)?)
    })
    .await?;
    let body = json!({
        "operation": transfer.operation,
        "state": "RECEIVED",
        "bytes": transfer.bytes,
        "received_at": transfer.received_at,
        "status_url": format!("/api/v1/tenants/{}/operations/{}", transfer.tenant, transfer.operation),
    });
    state.worker.submit(transfer);
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// Streams a request body into `file` (never held in memory), refusing it beyond `max`
/// bytes; gives the file back with the number of bytes written.
async fn receive_body(
    body: Body,
    file: std::fs::File,
    max: Option<u64>,
    what: &str,
) -> Result<(std::fs::File, u64), ApiError> {
    use futures_util::StreamExt;
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "writing an upload");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the upload could not be stored",
        )
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "upload_interrupted",
                format!("the upload was interrupted: {e}"),
            )
        })?;
        received += chunk.len() as u64;
        if let Some(max) = max
            && received > max
        {
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

/// Authorizes reading an operation of a tenant, then looks it up.
async fn find_operation(
    state: &AppState,
    method: &Method,
    headers: &auth::Presented,
    tenant: &str,
    op: &str,
    path: &str,
) -> Result<Found, ApiError> {
    let (tenant, op) = (tenant_id(tenant)?, operation_id(op)?);
    auth::authorize(
        state,
        headers,
        auth::Request {
            method,
            path,
            action: Action::OperationRead,
            tenant: Some(&tenant),
            operation: Some(&op),
            subject: Some(op.as_str()),
        },
    )
    .await?;
    let archive = state.archive.clone();
    let (found, queued) = blocking(move || {
        // The queue first: its row goes only once the operation is done, so one of the two
        // is always found, whatever the worker does meanwhile.
        let queued = archive.catalog().queued_transfer(&tenant, &op)?;
        let found = archive.catalog().operation(&tenant, &op)?;
        Ok((found, queued))
    })
    .await?;
    match (found, queued) {
        (Some(o), _) => Ok(Found::Operation(o)),
        (None, Some(q)) => Ok(Found::Queued(q)),
        (None, None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such operation for this tenant",
        )),
    }
}

/// An operation, or a transfer received and waiting for its ingest.
enum Found {
    Operation(carnac_catalog::Operation),
    Queued(carnac_catalog::QueuedTransfer),
}

async fn operation(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path((tenant, op)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = format!("/api/v1/tenants/{tenant}/operations/{op}");
    let o = match find_operation(&state, &method, &headers, &tenant, &op, &path).await? {
        Found::Operation(o) => o,
        Found::Queued(q) => {
            return Ok(axum::Json(json!({
                "operation": q.operation,
                "kind": "INGEST",
                "state": "RECEIVED",
                "received_at": q.received_at,
                "bytes": q.bytes,
                "has_atr": false,
            }))
            .into_response());
        }
    };
    Ok(axum::Json(json!({
        "operation": o.id,
        "kind": o.kind,
        "state": match o.state {
            carnac_catalog::OperationState::Running => "RUNNING",
            carnac_catalog::OperationState::Done => "DONE",
        },
        "status": o.status,
        "started_at": o.started_at,
        "ended_at": o.ended_at,
        "summary": o.summary,
        "has_atr": o.has_reply,
    }))
    .into_response())
}

/// The acknowledgement of a transfer: made when its manifest is read (at receipt for the
/// as@lae intake), in the transfer's SEDA version.
async fn ack(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path((tenant, op)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = format!("/api/v1/tenants/{tenant}/operations/{op}/ack");
    let found = find_operation(&state, &method, &headers, &tenant, &op, &path).await?;
    let (tenant, op) = (tenant_id(&tenant)?, operation_id(&op)?);
    let archive = state.archive.clone();
    let xml = blocking(move || Ok(archive.catalog().acknowledgement(&tenant, &op)?)).await?;
    match (xml, found) {
        (Some(xml), _) => Ok((
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            xml,
        )
            .into_response()),
        (None, Found::Operation(o)) if o.state == carnac_catalog::OperationState::Done => {
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no acknowledgement: the transfer's manifest could not be read (its ArchiveTransferReply says why)",
            ))
        }
        (None, _) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            "the transfer's manifest is not read yet: its acknowledgement comes then",
        )),
    }
}

/// The reply is copied from the catalog to a temporary file (a short local copy: the catalog
/// is not held while a slow client reads), then streamed from that file.
async fn atr(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path((tenant, op)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = format!("/api/v1/tenants/{tenant}/operations/{op}/atr");
    let found = match find_operation(&state, &method, &headers, &tenant, &op, &path).await? {
        Found::Operation(o) if o.state == carnac_catalog::OperationState::Done => o,
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_ready",
                "the transfer is still being ingested: its reply comes when the operation is DONE",
            ));
        }
    };
    let tenant = found.tenant;
    let op = found.id;
    let archive = state.archive.clone();
    let uploads = state.uploads.clone();
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "copying a reply");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the reply could not be read",
        )
    };
    let copied = blocking(move || {
        let file = tempfile::tempfile_in(&uploads).map_err(internal)?;
        let mut out = std::io::BufWriter::new(file);
        let found = archive.reply(&tenant, &op, &mut out)?;
        let mut file = out.into_inner().map_err(|e| internal(e.into_error()))?;
        std::io::Seek::rewind(&mut file).map_err(internal)?;
        Ok(found.then_some(file))
    })
    .await?;
    let file = copied.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no ArchiveTransferReply for this operation",
        )
    })?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        Body::from_stream(file_stream(tokio::fs::File::from_std(file))),
    )
        .into_response())
}

type Params = axum::extract::Query<std::collections::BTreeMap<String, String>>;

/// Only the parameters an endpoint knows: a misspelt filter must not silently widen a search.
fn check_params(params: &Params, known: &[&str]) -> Result<(), ApiError> {
    let unknown: Vec<&str> = params
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!(
                "unknown parameter(s) {}; known: {}",
                unknown.join(", "),
                known.join(", ")
            ),
        ))
    }
}

fn number(params: &Params, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                format!("{name} must be a whole number from 1 to {max}"),
            )),
        },
    }
}

/// A tenant already has as many costly reads of this kind running as it may, or the server
/// as many as it runs at once, for longer than the request's time limit.
fn busy_reading(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!("too many {what} are running for this tenant or in all: try again in a moment"),
    )
    .retry_after(1)
}

fn day(params: &Params, name: &str) -> Result<Option<String>, ApiError> {
    let Some(v) = params.get(name) else {
        return Ok(None);
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(v, format).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("{name} must be a day, YYYY-MM-DD"),
        )
    })?;
    Ok(Some(v.clone()))
}

/// Units of a tenant: free text (`q`), title words, agency, keyword and dates, a page of
/// them (`page`, `per_page`), with the counts of all matches by agency and year.
async fn search_units(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(tenant): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let path = format!("/api/v1/tenants/{t}/units");
    auth::authorize(
        &state,
        &headers,
        request(&method, &path, Action::UnitSearch, Some(&t)),
    )
    .await?;
    check_params(
        &params,
        &[
            "q", "title", "agency", "keyword", "from", "to", "page", "per_page",
        ],
    )?;
    let page = number(&params, "page", 1, 1_000_000)?;
    let per_page = number(&params, "per_page", 20, 200)?;
    let window = state.archive.catalog().search_window();
    if (page - 1) * per_page >= window {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "too_deep",
            format!(
                "pages stop at the first {window} matches: narrow the search (words, agency, dates)"
            ),
        ));
    }
    let query = carnac_catalog::UnitQuery {
        text: params.get("q").cloned(),
        title: params.get("title").cloned(),
        agency: params.get("agency").cloned(),
        keyword: params.get("keyword").cloned(),
        from: day(&params, "from")?,
        to: day(&params, "to")?,
        offset: (page - 1) * per_page,
        limit: per_page,
    };
    let problems = query.problems();
    if !problems.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "the search is refused: narrow it",
        )
        .with_details(problems));
    }
    let limits = &state.limits.search;
    let started = std::time::Instant::now();
    let Some(_permit) = state
        .gates()
        .searches
        .enter(t.as_str(), limits.timeout)
        .await
    else {
        return Err(busy_reading("searches"));
    };
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(cancelled.clone());
    let interrupt = carnac_catalog::Interrupt::new(
        Some(started + limits.timeout),
        vec![cancelled, state.stopping.clone()],
    );
    let archive = state.archive.clone();
    let found = blocking(move || {
        archive.require_tenant(&t)?;
        Ok(archive.catalog().search_units(&t, &query, &interrupt)?)
    })
    .await?;
    Ok(axum::Json(json!({
        "total": found.total,
        "total_exact": found.total_exact,
        "order": found.order,
        "page": page,
        "per_page": per_page,
        "units": found.units,
        "facets": {"agency": found.agencies, "year": found.years},
    }))
    .into_response())
}

/// A unit: its place in the tree, its metadata (the SEDA XML kept whole), rules, keywords
/// and objects.
async fn unit(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path((tenant, unit)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let u = carnac_model::UnitId::new(&unit)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_unit", e.to_string()))?;
    let path = format!("/api/v1/tenants/{t}/units/{u}");
    auth::authorize(
        &state,
        &headers,
        auth::Request {
            subject: Some(u.as_str()),
            ..request(&method, &path, Action::UnitRead, Some(&t))
        },
    )
    .await?;
    let archive = state.archive.clone();
    let found = blocking(move || {
        let unit = archive.catalog().unit(&t, &u)?;
        let details = archive.catalog().unit_details(&t, &u)?;
        Ok(unit.zip(details))
    })
    .await?;
    let Some(((unit, objects), details)) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such unit for this tenant",
        ));
    };
    let objects: Vec<_> = objects
        .into_iter()
        .map(|o| {
            json!({
                "id": o.id,
                "group": o.group,
                "version": o.version,
                "physical": o.physical,
                "uri": o.uri,
                "filename": o.filename,
                "size": o.size,
                "digest": o.digest.map(|d| json!({"algorithm": d.algorithm.seda_name(), "value": d.hex})),
                "format": {"puid": o.puid, "name": o.format_name, "mime_type": o.mime_type},
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "id": unit.id,
        "title": unit.title,
        "operation": unit.operation,
        "description_level": details.description_level,
        "start_date": unit.start_date,
        "end_date": unit.end_date,
        "originating_agency": details.originating_agency,
        "parents": unit.parents,
        "children": details.children,
        "keywords": details.keywords,
        "rules": details.rules,
        "object_groups": details.object_groups,
        "objects": objects,
        "metadata": unit.metadata,
    }))
    .into_response())
}

/// One `bytes=` range of a file of `size` bytes: (first, last) inclusive. `Ok(None)`: the
/// whole file. `Err`: not satisfiable (416).
fn byte_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        // No Range, or a unit other than bytes: the whole representation (RFC 9110 14.2).
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: answered whole, which RFC 9110 allows.
        return Ok(None);
    }
    let (first, last) = spec.split_once('-').ok_or(())?;
    let (first, last) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().map_err(|_| ())?, b.parse().map_err(|_| ())?);
            (a, b.min(size.saturating_sub(1)))
        }
    };
    if first >= size || first > last {
        return Err(());
    }
    Ok(Some((first, last)))
}

/// A stored file, streamed from a copy (with `Range` support), its digest in `Repr-Digest`
/// (RFC 9530) and `ETag`. The copy is hashed as it is sent: a whole download whose bytes do
/// not match the catalog's digest is cut before its end, so the client cannot take it for
/// good (and the mismatch is logged for the audit).
async fn download(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path((tenant, object)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    use base64::Engine;
    let t = tenant_id(&tenant)?;
    let o = carnac_model::ObjectId::new(&object)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_object", e.to_string()))?;
    let path = format!("/api/v1/tenants/{t}/objects/{o}");
    auth::authorize(
        &state,
        &headers,
        auth::Request {
            subject: Some(o.as_str()),
            ..request(&method, &path, Action::ObjectDownload, Some(&t))
        },
    )
    .await?;
    let archive = state.archive.clone();
    let (tt, oo) = (t.clone(), o.clone());
    let found = blocking(move || Ok(archive.catalog().object(&tt, &oo)?)).await?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such stored file for this tenant",
        )
    };
    let Some((operation, row)) = found else {
        return Err(not_found());
    };
    let (Some(size), Some(digest)) = (row.size, row.digest.clone()) else {
        return Err(not_found());
    };
    if row.physical {
        return Err(not_found());
    }
    let range = headers.get(header::RANGE).map(|v| v.to_str().unwrap_or(""));
    let range = match byte_range(range, size) {
        Ok(r) => r,
        Err(()) => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the file has {size} bytes"),
            )
            .into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                header::HeaderValue::from_str(&format!("bytes */{size}"))
                    .map_err(|_| not_found())?,
            );
            return Ok(r);
        }
    };
    let raw = hex::decode(&digest.hex).map_err(|_| not_found())?;
    let repr = format!(
        "{}=:{}:",
        digest.algorithm.seda_name().to_ascii_lowercase(),
        base64::engine::general_purpose::STANDARD.encode(&raw)
    );
    let (first, last) = range.unwrap_or((0, size.saturating_sub(1)));
    let length = if size == 0 { 0 } else { last - first + 1 };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let archive = state.archive.clone();
    let key = carnac_blobstore::BlobKey {
        tenant: t.clone(),
        batch: operation,
        name: o.to_string(),
    };
    let whole = range.is_none();
    tokio::task::spawn_blocking(move || {
        send_copy(&archive, &key, size, &digest, first, length, whole, &tx)
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let mut response = Response::builder()
        .status(if whole {
            StatusCode::OK
        } else {
            StatusCode::PARTIAL_CONTENT
        })
        .header(
            header::CONTENT_TYPE,
            row.mime_type
                .as_deref()
                .filter(|m| header::HeaderValue::from_str(m).is_ok())
                .unwrap_or("application/octet-stream"),
        )
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header("Repr-Digest", repr)
        .header(header::ETAG, format!("\"{}\"", hex::encode(&raw)));
    if !whole {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {first}-{last}/{size}"),
        );
    }
    if let Some(name) = row.filename.as_deref() {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '\\' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        response = response.header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{safe}\""),
        );
    }
    response.body(body).map_err(|e| {
        tracing::error!(error = %e, "building a download");
        not_found()
    })
}

/// Reads a copy whose size is right, sending `length` bytes from `first`; a whole download
/// is hashed on the way and cut (an error instead of its last chunk) if it does not match.
#[allow(clippy::too_many_arguments)]
fn send_copy(
    archive: &Archive,
    key: &carnac_blobstore::BlobKey,
    size: u64,
    digest: &carnac_model::Digest,
    first: u64,
    length: u64,
    whole: bool,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
) {
    use std::io::Read;
    let fail = |msg: String| {
        tracing::error!(tenant = %key.tenant, object = %key.name, "{msg}");
        let _ = tx.blocking_send(Err(std::io::Error::other(msg)));
    };
    let Some(offer) = archive
        .offers()
        .iter()
        .find(|o| o.size(key).is_ok_and(|s| s == size))
    else {
        return fail("no copy of the right size to send".into());
    };
    let mut reader = match offer.open(key) {
        Ok(r) => r,
        Err(e) => return fail(format!("opening the copy in {}: {e}", offer.name())),
    };
    let mut hasher = carnac_model::MultiHasher::new(&[digest.algorithm]);
    let mut position = 0u64;
    let end = first + length;
    let mut pending: Option<Vec<u8>> = None;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return fail(format!("reading the copy in {}: {e}", offer.name())),
        };
        let chunk = &buf[..n];
        if whole {
            hasher.update(chunk);
        }
        let (from, to) = (position, position + n as u64);
        position = to;
        let (a, b) = (first.max(from), end.min(to));
        if a < b {
            let part = chunk[(a - from) as usize..(b - from) as usize].to_vec();
            // One chunk held back: the last is sent only once the digest is known good.
            if let Some(previous) = pending.replace(part)
                && tx.blocking_send(Ok(previous)).is_err()
            {
                return; // The client went away.
            }
        }
        if !whole && position >= end {
            break;
        }
    }
    if whole {
        let good = hasher.finish().iter().any(|d| d == digest);
        if !good || position != size {
            return fail(format!(
                "the copy in {} does not match its digest: download cut; run the audit",
                offer.name()
            ));
        }
    }
    if let Some(last) = pending {
        let _ = tx.blocking_send(Ok(last));
    }
}

/// The journal of an operation, a unit or an object (exactly one of them), each event with
/// the seal that covers it.
async fn journal(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: auth::Presented,
    Path(tenant): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let path = format!("/api/v1/tenants/{t}/journal");
    let subject = ["operation", "unit", "object"]
        .iter()
        .filter_map(|k| params.get(*k).map(|v| (*k, v.clone())))
        .collect::<Vec<_>>();
    auth::authorize(
        &state,
        &headers,
        auth::Request {
            subject: subject.first().map(|(_, v)| v.as_str()),
            ..request(&method, &path, Action::JournalRead, Some(&t))
        },
    )
    .await?;
    check_params(&params, &["operation", "unit", "object", "after", "limit"])?;
    let [(kind, id)] = <[(&str, String); 1]>::try_from(subject).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "give exactly one of operation, unit, object",
        )
    })?;
    let after = match params.get("after") {
        None => 0,
        Some(_) => number(&params, "after", 1, u64::MAX)?,
    };
    let limit = number(&params, "limit", 1000, 10_000)? as usize;
    let limits = &state.limits.search;
    let started = std::time::Instant::now();
    let Some(_permit) = state
        .gates()
        .journal
        .enter(t.as_str(), limits.journal_timeout)
        .await
    else {
        return Err(busy_reading("journal views"));
    };
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(cancelled.clone());
    let page = carnac_archive::report::JournalPage {
        after,
        limit,
        interrupt: carnac_catalog::Interrupt::new(
            Some(started + limits.journal_timeout),
            vec![cancelled, state.stopping.clone()],
        ),
    };
    let archive = state.archive.clone();
    let (events, more) = blocking(move || {
        archive.require_tenant(&t)?;
        if kind == "operation" {
            let op = operation_id(&id)?;
            Ok(archive.operation_journal(&t, &op, &page)?)
        } else {
            let l = archive.lifecycle(&t, &id, &page)?;
            Ok((l.events, l.more))
        }
    })
    .await?;
    let next = more.then(|| events.last().map(|e| e.sequence)).flatten();
    Ok(axum::Json(json!({ "events": events, "more": more, "next_after": next })).into_response())
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
