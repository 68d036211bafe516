//! The home page, health, the OpenAPI document, and who am I.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::responses::*;
use crate::{ApiError, AppState, blocking};

pub(super) async fn home() -> impl IntoResponse {
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
