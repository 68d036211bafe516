//! `/api/v1/tenants/{tenant}/transfers` and `…/operations/{operation}`: transfers sent as
//! one body, and the state, acknowledgement and reply of each operation.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::responses::*;
use crate::{ApiError, AppState, blocking, file_stream, operation_id, queue_room, tenant_id};
use carnac_archive::reading::OperationFound;
use carnac_catalog::QueuedTransfer;
use carnac_model::TenantId;

/// The body is the container; it is streamed to a file (never held in memory), then ingested.
pub(super) async fn submit(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = tenant_id(&tenant)?;
    let transfer = receive(&state, tenant, who.login, body.into_data_stream()).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(TransferReceived::from(&transfer)),
    )
        .into_response())
}

/// Receives a transfer's container as it comes (the API's body, the web application's
/// form) into the archive's incoming folder, then hands it to the ingest queue: the sender
/// gets its operation once the container is durably the archive's.
pub(crate) async fn receive<E: std::fmt::Display>(
    state: &Arc<AppState>,
    tenant: TenantId,
    agent: String,
    chunks: impl futures_util::Stream<Item = Result<axum::body::Bytes, E>>,
) -> Result<QueuedTransfer, ApiError> {
    queue_room(state, &tenant, 0)?;
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "writing an upload");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the upload could not be stored",
        )
    };
    let file = tempfile::Builder::new()
        .prefix(".upload")
        .tempfile_in(state.archive.incoming_dir())
        .map_err(internal)?;
    let (std_file, temp_path) = file.into_parts();
    let (file, received) =
        crate::stream_to_file(chunks, std_file, state.limits.max_upload, "a transfer").await?;
    if received == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_body",
            "the request body must be the transfer container",
        ));
    }
    queue_room(state, &tenant, received)?;
    let archive = state.archive.clone();
    let transfer = blocking(move || {
        file.sync_all().map_err(internal)?;
        drop(file);
        // The path is the archive's from here: moved into the queue, or removed if refused.
        let path = temp_path.keep().map_err(|e| internal(e.error))?;
        Ok(archive.receive_transfer(&tenant, &path, &agent)?)
    })
    .await?;
    state.worker.submit(transfer.clone());
    Ok(transfer)
}

/// An operation of a tenant (its reading was authorized with the route), or its transfer
/// still in the queue.
async fn find_operation(
    state: &AppState,
    tenant: &str,
    op: &str,
) -> Result<OperationFound, ApiError> {
    let (tenant, op) = (tenant_id(tenant)?, operation_id(op)?);
    let archive = state.archive.clone();
    match blocking(move || Ok(archive.operation_or_queued(&tenant, &op)?)).await? {
        Some(found) => Ok(found),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such operation for this tenant",
        )),
    }
}

pub(super) async fn operation(
    State(state): State<Arc<AppState>>,
    Path((tenant, op)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let view = match find_operation(&state, &tenant, &op).await? {
        OperationFound::Operation(o) => OperationView::from(o),
        OperationFound::Queued(q) => OperationView::from(q),
    };
    Ok(axum::Json(view).into_response())
}

/// The acknowledgement of a transfer: made when its manifest is read (at receipt for the
/// as@lae intake), in the transfer's SEDA version.
pub(crate) async fn ack(
    State(state): State<Arc<AppState>>,
    Path((tenant, op)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let found = find_operation(&state, &tenant, &op).await?;
    let (tenant, op) = (tenant_id(&tenant)?, operation_id(&op)?);
    let archive = state.archive.clone();
    let xml = blocking(move || Ok(archive.acknowledgement(&tenant, &op)?)).await?;
    match (xml, found) {
        (Some(xml), _) => Ok((
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            xml,
        )
            .into_response()),
        (None, OperationFound::Operation(o)) if o.state == carnac_catalog::OperationState::Done => {
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
pub(crate) async fn atr(
    State(state): State<Arc<AppState>>,
    Path((tenant, op)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let found = match find_operation(&state, &tenant, &op).await? {
        OperationFound::Operation(o) if o.state == carnac_catalog::OperationState::Done => o,
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
