//! `/api/v1/tenants/{tenant}/deliveries`: requests for communication, the control
//! authority's authorisation of a derogation, the documents and the package (the DIP,
//! streamed with `Range`). A producer sees only the deliveries it asked for.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carnac_archive::delivery::{Authorization, DeliveryRequest};
use carnac_model::access::{Principal, Role};

use super::Caller;
use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, blocking, tenant_id};

/// A producer reads only what it asked for; the others, every delivery of their tenants.
fn readable(who: &Principal, row: &carnac_catalog::DeliveryRow) -> Result<(), ApiError> {
    if who.role == Role::Producer && row.requested_by != who.login {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a producer reads the deliveries it asked for, not others'",
        ));
    }
    Ok(())
}

/// Body: `{"units", "requester", "derogation"?, "comment"?, "request_identifier"?}`.
/// Answers 201 with the delivery: `delivered` (its package ready), or
/// `awaiting_authorization` (a derogation asked of the control authority).
pub(super) async fn request(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let request: DeliveryRequest = json_body(&body)?;
    let archive = state.archive.clone();
    let row = blocking(move || Ok(archive.request_delivery(&t, &request, &who.login)?)).await?;
    Ok((StatusCode::CREATED, axum::Json(DeliveryView::from(row))).into_response())
}

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let archive = state.archive.clone();
    let mine = (who.role == Role::Producer).then_some(who.login);
    let rows = blocking(move || Ok(archive.deliveries(&t, mine.as_deref())?)).await?;
    Ok(axum::Json(DeliveryList {
        deliveries: rows.into_iter().map(Into::into).collect(),
    })
    .into_response())
}

pub(super) async fn show(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let archive = state.archive.clone();
    let row = blocking(move || Ok(archive.delivery(&t, &id)?)).await?;
    readable(&who, &row)?;
    Ok(axum::Json(DeliveryView::from(row)).into_response())
}

/// A document of a delivery (`name`, as kept in the offers), served as XML.
pub(super) fn document(name: &'static str) -> axum::routing::MethodRouter<Arc<AppState>> {
    axum::routing::get(
        move |State(state): State<Arc<AppState>>,
              Caller(who): Caller,
              Path((tenant, id)): Path<(String, String)>| async move {
            let (t, id) = ids(&tenant, &id)?;
            let archive = state.archive.clone();
            let bytes = blocking(move || {
                let row = archive.delivery(&t, &id)?;
                Ok((row, archive.delivery_document(&t, &id, name)))
            })
            .await?;
            readable(&who, &bytes.0)?;
            let bytes = bytes.1?;
            Ok::<_, ApiError>(
                (
                    [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
                    bytes,
                )
                    .into_response(),
            )
        },
    )
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    decision: String,
    #[serde(default)]
    comment: Option<String>,
}

/// The control authority's answer to a derogation: `{"decision": "granted"|"refused",
/// "comment"?}`, or its `AuthorizationControlAuthorityRequestReply` (`Content-Type:
/// application/xml`).
pub(super) async fn authorization(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let xml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/xml") || c.starts_with("text/xml"));
    let authorization = if xml {
        Authorization::Seda(body.to_vec())
    } else {
        let d: Decision = json_body(&body)?;
        let granted = granted(&d.decision)?;
        Authorization::Decision {
            granted,
            comment: d.comment,
        }
    };
    let archive = state.archive.clone();
    let row =
        blocking(move || Ok(archive.authorize_delivery(&t, &id, authorization, &who.login)?))
            .await?;
    Ok(axum::Json(DeliveryView::from(row)).into_response())
}

/// The package (a zip), streamed from a copy with `Range` support; read whole, it is
/// checked against its digest on the way and cut before its end if it does not match.
pub(super) async fn package(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let range = headers
        .get(header::RANGE)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let archive = state.archive.clone();
    let name = format!("{id}.zip");
    let opened = blocking(move || {
        let row = archive.delivery(&t, &id)?;
        let mut unsatisfiable = None;
        let opened = archive.open_delivery_package(&t, &id, |size| {
            ranged(range.as_deref(), size, &mut unsatisfiable)
        });
        Ok((row, unsatisfiable, opened))
    })
    .await?;
    let (row, unsatisfiable, opened) = opened;
    readable(&who, &row)?;
    package_response(opened?, unsatisfiable, &name)
}

/// The range of `header` in a package of `size` bytes; `unsatisfiable` set to the size when
/// it cannot be served (416).
pub(crate) fn ranged(
    header: Option<&str>,
    size: u64,
    unsatisfiable: &mut Option<u64>,
) -> Option<(u64, u64)> {
    match super::units::byte_range(header, size) {
        Ok(r) => r,
        Err(()) => {
            *unsatisfiable = Some(size);
            None
        }
    }
}

/// A package kept in the offers, as an answer: whole (200) or the range asked (206), its
/// SHA-256 in `Repr-Digest` and `ETag`, or 416 when the range is outside it.
pub(crate) fn package_response(
    (download, range): (
        carnac_archive::delivery::PackageDownload,
        Option<(u64, u64)>,
    ),
    unsatisfiable: Option<u64>,
    name: &str,
) -> Result<Response, ApiError> {
    if let Some(size) = unsatisfiable {
        let mut r = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            format!("the package has {size} bytes"),
        )
        .into_response();
        if let Ok(v) = header::HeaderValue::from_str(&format!("bytes */{size}")) {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(r);
    }
    use base64::Engine;
    let size = download.size;
    let raw = hex::decode(&download.sha256).unwrap_or_default();
    let (first, last) = range.unwrap_or((0, size.saturating_sub(1)));
    let length = if size == 0 { 0 } else { last - first + 1 };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let reader = download.reader;
    tokio::task::spawn_blocking(move || super::units::send(reader, &tx));
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let mut response = Response::builder()
        .status(if range.is_none() {
            StatusCode::OK
        } else {
            StatusCode::PARTIAL_CONTENT
        })
        .header(header::CONTENT_TYPE, "application/zip")
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(
            "Repr-Digest",
            format!(
                "sha-256=:{}:",
                base64::engine::general_purpose::STANDARD.encode(&raw)
            ),
        )
        .header(header::ETAG, format!("\"{}\"", download.sha256))
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        );
    if range.is_some() {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {first}-{last}/{size}"),
        );
    }
    response.body(body).map_err(|e| {
        tracing::error!(error = %e, "building a package download");
        ApiError::internal()
    })
}
