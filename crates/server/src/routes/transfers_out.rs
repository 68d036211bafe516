//! `/api/v1/tenants/{tenant}/transfers-out`: transfers to the definitive archives, the
//! receiver's acknowledgement and reply (XML bodies, kept whole), the package sent, and the
//! documents of the purge (the notification, the certificate).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, blocking, operation_id, tenant_id};

fn ids(
    tenant: &str,
    id: &str,
) -> Result<(carnac_model::TenantId, carnac_model::OperationId), ApiError> {
    Ok((tenant_id(tenant)?, operation_id(id)?))
}

/// Body: `{"units"? | "query"?, "archival_agency", "archival_agreement"?, "comment"?}`.
/// Answers 201 with the transfer out, `sent`.
pub(super) async fn propose(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let request: carnac_archive::elimination::TransferOutRequest = json_body(&body)?;
    let archive = state.archive.clone();
    let report =
        blocking(move || Ok(archive.propose_transfer_out(&t, &request, &who.login)?)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(EliminationView::from(report)),
    )
        .into_response())
}

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let archive = state.archive.clone();
    let rows = blocking(move || Ok(archive.transfers_out(&t)?)).await?;
    Ok(axum::Json(TransferOutList {
        transfers_out: rows.into_iter().map(Into::into).collect(),
    })
    .into_response())
}

pub(super) async fn show(
    State(state): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let archive = state.archive.clone();
    let report = blocking(move || Ok(archive.transfer_out(&t, &id)?)).await?;
    Ok(axum::Json(EliminationView::from(report)).into_response())
}

/// The receiver's `Acknowledgement` or `ArchiveTransferReply` (XML body, at most
/// 64 MiB). A reply that accepts starts the purge of what it accepts, answered when done.
pub(super) async fn message(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_body",
            "send the definitive archives' Acknowledgement or ArchiveTransferReply (XML)",
        ));
    }
    let archive = state.archive.clone();
    let report =
        blocking(move || Ok(archive.transfer_out_message(&t, &id, &body, &who.login)?)).await?;
    Ok(axum::Json(EliminationView::from(report)).into_response())
}

/// Withdraws a transfer out not yet accepted: `{"comment"?}` or nothing.
pub(super) async fn withdrawal(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Withdrawal {
        #[serde(default)]
        comment: Option<String>,
    }
    let (t, id) = ids(&tenant, &id)?;
    let w: Withdrawal = if body.is_empty() {
        Withdrawal { comment: None }
    } else {
        json_body(&body)?
    };
    let archive = state.archive.clone();
    let report = blocking(move || {
        Ok(archive.withdraw_transfer_out(&t, &id, w.comment.as_deref(), &who.login)?)
    })
    .await?;
    Ok(axum::Json(EliminationView::from(report)).into_response())
}

/// A document of a transfer out (`name`), served as `content_type`.
pub(super) fn document(
    name: &'static str,
    content_type: &'static str,
) -> axum::routing::MethodRouter<Arc<AppState>> {
    axum::routing::get(
        move |State(state): State<Arc<AppState>>, Path((tenant, id)): Path<(String, String)>| async move {
            let (t, id) = ids(&tenant, &id)?;
            let archive = state.archive.clone();
            let bytes = blocking(move || Ok(archive.transfer_out_document(&t, &id, name)?)).await?;
            Ok::<_, ApiError>(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
        },
    )
}

/// The package sent, until the purge: streamed with `Range`, verified when read whole.
pub(super) async fn package(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let range = headers
        .get(header::RANGE)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let archive = state.archive.clone();
    let name = format!("{id}.zip");
    let (unsatisfiable, opened) = blocking(move || {
        let mut unsatisfiable = None;
        let opened = archive.open_transfer_package(&t, &id, |size| {
            super::deliveries::ranged(range.as_deref(), size, &mut unsatisfiable)
        });
        Ok((unsatisfiable, opened))
    })
    .await?;
    super::deliveries::package_response(opened?, unsatisfiable, &name)
}
