//! `/api/v1/tenants/{tenant}/rules/changes`: the management rules of a selection of units
//! changed after ingest, or a dry run of it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, blocking, tenant_id};

/// Body: `{"units": [...]?, "query": {...}?, "actions": [...], "dry_run": bool?,
/// "comment"?}`. Answers 201 with the operation when something changed, 200 otherwise (a dry
/// run, or nothing to change), with every unit changed and every unit left as it was, and
/// why.
pub(super) async fn change(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let request: carnac_archive::rules::RulesChangeRequest = json_body(&body)?;
    let archive = state.archive.clone();
    let report = blocking(move || Ok(archive.change_rules(&t, &request, &who.login)?)).await?;
    let status = if report.operation.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(RulesChangeView::from(report))).into_response())
}
