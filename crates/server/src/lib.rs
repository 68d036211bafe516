//! HTTP interface of the archive (axum): the REST API under `/api/v1`.
//!
//! [`app`] builds the router over an [`Archive`]; tests drive it with `oneshot`, the binary
//! serves it. Every request under `/api/v1` is authenticated, authorized and journaled
//! ([`auth`]) before it does anything. Errors reach the wire once, in [`ApiError`]: a status,
//! a stable machine-readable code and a message; internals are logged, not sent.

mod auth;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use carnac_archive::{Archive, ArchiveError};
use carnac_model::access::Action;
use carnac_model::{OperationId, TenantId};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;

pub struct AppState {
    pub archive: Arc<Archive>,
    /// Where replies are copied before they are sent.
    pub uploads: std::path::PathBuf,
    /// Ingests the transfers received.
    pub worker: Arc<carnac_archive::transfers::Worker>,
}

pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/tenants", get(tenants).post(create_tenant))
        .route("/api/v1/tenants/{tenant}/suspend", post(suspend))
        .route("/api/v1/tenants/{tenant}/resume", post(resume))
        .route("/api/v1/tenants/{tenant}/referentials", get(referentials))
        .route("/api/v1/accounts", get(accounts).post(create_account))
        .route("/api/v1/tenants/{tenant}/transfers", post(transfer))
        .route(
            "/api/v1/tenants/{tenant}/operations/{operation}",
            get(operation),
        )
        .route(
            "/api/v1/tenants/{tenant}/operations/{operation}/atr",
            get(atr),
        )
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The one error type that becomes a response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
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
        }
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
        let mut response = (
            self.status,
            axum::Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
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
    headers: HeaderMap,
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
    headers: HeaderMap,
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
    headers: HeaderMap,
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
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    set_suspended(state, method, headers, tenant, true).await
}

async fn resume(
    state: State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    set_suspended(state, method, headers, tenant, false).await
}

async fn set_suspended(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
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
    headers: HeaderMap,
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

async fn accounts(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
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
    headers: HeaderMap,
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
            },
            &who.login,
        )?)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"account": account, "token": token})),
    )
        .into_response())
}

/// The body is the container; it is streamed to a file (never held in memory), then ingested.
async fn transfer(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    use futures_util::StreamExt;
    let tenant = tenant_id(&tenant)?;
    let path = format!("/api/v1/tenants/{tenant}/transfers");
    let who = auth::authorize(
        &state,
        &headers,
        request(&method, &path, Action::TransferSubmit, Some(&tenant)),
    )
    .await?;
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
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std_file);
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
        // Small writes to a buffered file: acceptable on the async thread.
        out.write_all(&chunk).map_err(internal)?;
    }
    let file = out.into_inner().map_err(|e| internal(e.into_error()))?;
    if received == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_body",
            "the request body must be the transfer container",
        ));
    }
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

/// Authorizes reading an operation of a tenant, then looks it up.
async fn find_operation(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
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
        let found = archive.catalog().operation(&tenant, &op)?;
        let queued = match found {
            Some(_) => None,
            None => archive.catalog().queued_transfer(&tenant, &op)?,
        };
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
    headers: HeaderMap,
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

/// The reply is copied from the catalog to a temporary file (a short local copy: the catalog
/// is not held while a slow client reads), then streamed from that file.
async fn atr(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
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

/// The bytes of a file as a stream of chunks.
fn file_stream(
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
mod tests;
