//! `/api/v1/tenants/{tenant}/units/{unit}` (PATCH) and `…/history`: corrections of a unit's
//! descriptive metadata, the history of its versions and the notification to its producer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, blocking, tenant_id};

fn unit_id(unit: &str) -> Result<carnac_model::UnitId, ApiError> {
    carnac_model::UnitId::new(unit)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_unit", e.to_string()))
}

fn operation_id(operation: &str) -> Result<carnac_model::OperationId, ApiError> {
    carnac_model::OperationId::new(operation)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_operation", e.to_string()))
}

/// Body: a JSON merge patch (RFC 7396) of the unit's descriptive fields, with `#comment`,
/// the reason. Answers 200 with what changed and the operation, null when nothing did.
pub(super) async fn correct(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((tenant, unit)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let u = unit_id(&unit)?;
    let patch: serde_json::Map<String, serde_json::Value> = json_body(&body)?;
    let archive = state.archive.clone();
    let done = blocking(move || Ok(archive.correct_metadata(&t, &u, &patch, &who.login)?)).await?;
    Ok(axum::Json(MetadataCorrectionView::from(done)).into_response())
}

/// The corrections of a unit, newest first, with their differences.
pub(super) async fn history(
    State(state): State<Arc<AppState>>,
    Path((tenant, unit)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let u = unit_id(&unit)?;
    let archive = state.archive.clone();
    let view = blocking(move || {
        let rows = archive.metadata_history(&t, &u)?;
        if rows.is_empty() && archive.catalog().unit(&t, &u)?.is_none() {
            return Ok(None);
        }
        Ok(Some(MetadataHistoryView::of(u, rows)))
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such unit for this tenant",
        )
    })?;
    Ok(axum::Json(view).into_response())
}

/// One correction, with the unit's metadata before and after it, whole.
pub(super) async fn version(
    State(state): State<Arc<AppState>>,
    Path((tenant, unit, operation)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let u = unit_id(&unit)?;
    let o = operation_id(&operation)?;
    let archive = state.archive.clone();
    let row = blocking(move || {
        Ok(archive
            .metadata_history(&t, &u)?
            .into_iter()
            .find(|r| r.operation == o)
            .map(|r| (u, r)))
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such correction of this unit",
        )
    })?;
    Ok(axum::Json(MetadataVersionView::from(row)).into_response())
}

/// The `ArchiveModificationNotification` of one correction, for its producer.
pub(super) async fn notification(
    State(state): State<Arc<AppState>>,
    Path((tenant, unit, operation)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let u = unit_id(&unit)?;
    let o = operation_id(&operation)?;
    let archive = state.archive.clone();
    let xml = blocking(move || Ok(archive.metadata_notification(&t, &u, &o)?))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such correction of this unit",
            )
        })?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml,
    )
        .into_response())
}
