//! `/api/v1/tenants/{tenant}/transfers-out` and `…/restitutions`: records going to another
//! archive (the definitive archives; the producer, at the end of the contract), the
//! receiver's messages (XML bodies, kept whole), the package sent, and the documents of the
//! purge (the notification, the certificate). Both kinds share these handlers.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use carnac_model::elimination::DisposalKind;

use super::Caller;
use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, blocking, tenant_id};

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

/// Body: `{"units"? | "query"?, "originating_agency", "comment"?}`. Answers 201 with the
/// restitution, `sent`.
pub(super) async fn propose_restitution(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let request: carnac_archive::elimination::RestitutionRequest = json_body(&body)?;
    let archive = state.archive.clone();
    let report =
        blocking(move || Ok(archive.propose_restitution(&t, &request, &who.login)?)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(EliminationView::from(report)),
    )
        .into_response())
}

/// The tenant's transfers out (or restitutions), newest first.
pub(super) fn list(kind: DisposalKind) -> MethodRouter<Arc<AppState>> {
    axum::routing::get(
        move |State(state): State<Arc<AppState>>, Path(tenant): Path<String>| async move {
            let t = tenant_id(&tenant)?;
            let archive = state.archive.clone();
            let rows = blocking(move || Ok(archive.outgoing_list(kind, &t)?)).await?;
            let rows = rows.into_iter().map(Into::into).collect();
            Ok::<_, ApiError>(match kind {
                DisposalKind::Restitution => {
                    axum::Json(RestitutionList { restitutions: rows }).into_response()
                }
                _ => axum::Json(TransferOutList {
                    transfers_out: rows,
                })
                .into_response(),
            })
        },
    )
}

pub(super) fn show(kind: DisposalKind) -> MethodRouter<Arc<AppState>> {
    axum::routing::get(
        move |State(state): State<Arc<AppState>>, Path((tenant, id)): Path<(String, String)>| async move {
            let (t, id) = ids(&tenant, &id)?;
            let archive = state.archive.clone();
            let report = blocking(move || Ok(archive.outgoing(kind, &t, &id)?)).await?;
            Ok::<_, ApiError>(axum::Json(EliminationView::from(report)).into_response())
        },
    )
}

/// The receiver's message (XML body, at most 64 MiB): for a transfer out its
/// `Acknowledgement` or `ArchiveTransferReply`, for a restitution also the producer's
/// `ArchiveRestitutionRequestReply`. One that accepts starts the purge of what it accepts,
/// answered when done.
pub(super) fn message(kind: DisposalKind) -> MethodRouter<Arc<AppState>> {
    axum::routing::post(
        move |State(state): State<Arc<AppState>>,
              Caller(who): Caller,
              Path((tenant, id)): Path<(String, String)>,
              body: axum::body::Bytes| async move {
            let (t, id) = ids(&tenant, &id)?;
            if body.is_empty() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "empty_body",
                    "send the receiver's Acknowledgement or reply (XML)",
                ));
            }
            let archive = state.archive.clone();
            let report =
                blocking(move || Ok(archive.outgoing_message(kind, &t, &id, &body, &who.login)?))
                    .await?;
            Ok(axum::Json(EliminationView::from(report)).into_response())
        },
    )
    .layer(axum::extract::DefaultBodyLimit::max(
        carnac_archive::elimination::MAX_REPLY_BYTES,
    ))
}

/// Withdraws one not yet accepted: `{"comment"?}` or nothing.
pub(super) fn withdrawal(kind: DisposalKind) -> MethodRouter<Arc<AppState>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Withdrawal {
        #[serde(default)]
        comment: Option<String>,
    }
    axum::routing::post(
        move |State(state): State<Arc<AppState>>,
              Caller(who): Caller,
              Path((tenant, id)): Path<(String, String)>,
              body: axum::body::Bytes| async move {
            let (t, id) = ids(&tenant, &id)?;
            let w: Withdrawal = if body.is_empty() {
                Withdrawal { comment: None }
            } else {
                json_body(&body)?
            };
            let archive = state.archive.clone();
            let report = blocking(move || {
                Ok(archive.withdraw_outgoing(kind, &t, &id, w.comment.as_deref(), &who.login)?)
            })
            .await?;
            Ok::<_, ApiError>(axum::Json(EliminationView::from(report)).into_response())
        },
    )
}

/// A document (`name`), served as `content_type`.
pub(super) fn document(
    kind: DisposalKind,
    name: &'static str,
    content_type: &'static str,
) -> MethodRouter<Arc<AppState>> {
    axum::routing::get(
        move |State(state): State<Arc<AppState>>, Path((tenant, id)): Path<(String, String)>| async move {
            let (t, id) = ids(&tenant, &id)?;
            let archive = state.archive.clone();
            let bytes =
                blocking(move || Ok(archive.outgoing_document(kind, &t, &id, name)?)).await?;
            Ok::<_, ApiError>(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
        },
    )
}

/// The package sent, until the purge: streamed with `Range`, verified when read whole.
pub(super) fn package(kind: DisposalKind) -> MethodRouter<Arc<AppState>> {
    axum::routing::get(
        move |State(state): State<Arc<AppState>>,
              headers: HeaderMap,
              Path((tenant, id)): Path<(String, String)>| async move {
            let (t, id) = ids(&tenant, &id)?;
            let range = headers
                .get(header::RANGE)
                .map(|v| v.to_str().unwrap_or("").to_owned());
            let archive = state.archive.clone();
            let name = format!("{id}.zip");
            let (unsatisfiable, opened) = blocking(move || {
                let mut unsatisfiable = None;
                let opened = archive.open_outgoing_package(kind, &t, &id, |size| {
                    super::deliveries::ranged(range.as_deref(), size, &mut unsatisfiable)
                });
                Ok((unsatisfiable, opened))
            })
            .await?;
            super::deliveries::package_response(opened?, unsatisfiable, &name)
        },
    )
}
