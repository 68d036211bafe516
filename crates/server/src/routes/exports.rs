//! `/api/v1/tenants/{tenant}/exports`: a tenant's export for reversibility, made in the
//! background for the operator, followed, then downloaded as one tar stream.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::params::*;
use super::responses::ExportList;
use crate::{ApiError, AppState, blocking, tenant_id};

fn operation_id(operation: &str) -> Result<carnac_model::OperationId, ApiError> {
    carnac_model::OperationId::new(operation)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_operation", e.to_string()))
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such export of this tenant",
    )
}

/// Body: `{"units_per_package"?}` or nothing. Answers 202 with the export running.
pub(super) async fn start(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ask {
        units_per_package: Option<usize>,
    }
    let t = tenant_id(&tenant)?;
    let ask: Ask = if body.is_empty() {
        Ask {
            units_per_package: None,
        }
    } else {
        json_body(&body)?
    };
    let archive = state.archive.clone();
    let job =
        blocking(move || Ok(archive.start_export(&t, ask.units_per_package, &who.login)?)).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)).into_response())
}

/// The tenant's exports, recorded or running.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let archive = state.archive.clone();
    let exports = blocking(move || Ok(archive.export_jobs(&t)?)).await?;
    Ok(axum::Json(ExportList { exports }).into_response())
}

/// One export: its state and progress, what it wrote once done.
pub(super) async fn one(
    State(state): State<Arc<AppState>>,
    Path((tenant, operation)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let o = operation_id(&operation)?;
    let archive = state.archive.clone();
    let job = blocking(move || Ok(archive.export_job(&t, &o)?))
        .await?
        .ok_or_else(not_found)?;
    Ok(axum::Json(job).into_response())
}

/// The export's folder as one tar stream (`TENANT-OPERATION/…`), files in name order; check
/// it with `carnac tenant verify-export` once unpacked.
pub(super) async fn archive(
    State(state): State<Arc<AppState>>,
    Path((tenant, operation)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    tar_stream(&state, tenant_id(&tenant)?, operation_id(&operation)?).await
}

/// An export's folder as one tar stream, built while it is sent (the web application's
/// download too).
pub(crate) async fn tar_stream(
    state: &Arc<AppState>,
    t: carnac_model::TenantId,
    o: carnac_model::OperationId,
) -> Result<Response, ApiError> {
    let archive = state.archive.clone();
    let (t2, o2) = (t.clone(), o.clone());
    let folder = blocking(move || Ok(archive.export_folder(&t2, &o2)?))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such export of this tenant ready here (running, failed, or replaced by a later one)",
            )
        })?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let root = format!("{t}-{o}");
    tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(ChannelWriter { tx: tx.clone() });
        builder.follow_symlinks(false);
        let done = builder
            .append_dir_all(&root, &folder)
            .and_then(|()| builder.into_inner().map(|_| ()));
        if let Err(e) = done {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{t}-{o}.tar\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Hands what the tar builder writes to the response, in chunks; an error once the client
/// went away.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx.blocking_send(Ok(buf.to_vec())).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
