//! HTTP interface of the archive (axum): health, transfers, operations and replies.
//!
//! [`app`] builds the router over an [`Archive`]; tests drive it with `oneshot`, the binary
//! serves it. Errors reach the wire once, in [`ApiError`]: a status, a stable machine-readable
//! code and a message; internals are logged, not sent. Authentication, the full API and the
//! web UI come later; until then the binary only listens on loopback.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use carnac_archive::{Archive, ArchiveError};
use carnac_model::{OperationId, TenantId};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;

pub struct AppState {
    pub archive: Arc<Archive>,
    /// Where uploads are written before their ingest.
    pub uploads: std::path::PathBuf,
}

pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/health", get(health))
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
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
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
        (
            self.status,
            axum::Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
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

async fn health(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let archive = state.archive.clone();
    let tenants = tokio::task::spawn_blocking(move || archive.catalog().tenants().map(|t| t.len()))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| ApiError::from(ArchiveError::from(e)))?;
    Ok(axum::Json(json!({"status": "ok", "tenants": tenants})))
}

/// The body is the container; it is streamed to a file (never held in memory), then ingested.
async fn transfer(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    use futures_util::StreamExt;
    let tenant = tenant_id(&tenant)?;
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "writing an upload");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the upload could not be stored",
        )
    };
    let file = tempfile::NamedTempFile::new_in(&state.uploads).map_err(internal)?;
    let (std_file, path) = file.into_parts();
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
    let outcome = tokio::task::spawn_blocking(move || {
        let _keep = path;
        archive.ingest(&tenant, file, "http", &carnac_archive::ports::NoProgress)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    let status = if outcome.status().is_accepted() {
        StatusCode::CREATED
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, axum::Json(json!({"operation": outcome.operation(), "status": outcome.status(), "summary": outcome.summary}))).into_response())
}

/// The operation of a tenant, looked up off the async threads.
async fn find_operation(
    state: &AppState,
    tenant: &str,
    op: &str,
) -> Result<carnac_catalog::Operation, ApiError> {
    let (tenant, op) = (tenant_id(tenant)?, operation_id(op)?);
    let archive = state.archive.clone();
    tokio::task::spawn_blocking(move || archive.catalog().operation(&tenant, &op))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| ApiError::from(ArchiveError::from(e)))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such operation for this tenant",
            )
        })
}

async fn operation(
    State(state): State<Arc<AppState>>,
    Path((tenant, op)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let o = find_operation(&state, &tenant, &op).await?;
    Ok(axum::Json(json!({
        "operation": o.id,
        "kind": o.kind,
        "state": o.state,
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
    Path((tenant, op)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (tenant, op) = (tenant_id(&tenant)?, operation_id(&op)?);
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
    let copied = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let file = tempfile::tempfile_in(&uploads).map_err(internal)?;
        let mut out = std::io::BufWriter::new(file);
        let found = archive.reply(&tenant, &op, &mut out)?;
        let mut file = out.into_inner().map_err(|e| internal(e.into_error()))?;
        std::io::Seek::rewind(&mut file).map_err(internal)?;
        Ok(found.then_some(file))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
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
