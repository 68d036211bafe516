//! Health, the OpenAPI document, and who am I.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::responses::*;
use crate::{ApiError, AppState, blocking};

/// The API's description, committed beside the code (`crates/server/openapi.json`); a test
/// checks that it and the router name the same endpoints.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub(super) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// Whether the archive answers: its catalog is readable. Says nothing of any tenant.
pub(super) async fn health(
    State(state): State<Arc<AppState>>,
) -> Result<impl IntoResponse, ApiError> {
    let archive = state.archive.clone();
    blocking(move || Ok(archive.catalog_answers()?)).await?;
    Ok(axum::Json(Health { status: "ok" }))
}

/// The account making the request.
pub(super) async fn me(Caller(who): Caller) -> Result<Response, ApiError> {
    // Any authenticated account may know itself; journaled like the rest.
    Ok(axum::Json(Me::from(who)).into_response())
}
