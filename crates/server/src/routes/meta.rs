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

/// How long a readiness probe waits for each part of the archive.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether this node can serve (for a load balancer): its catalog and every offer answer
/// within a few seconds. 200 `{"status": "ready"}`, or 503 with what does not answer (by
/// name only: the reasons go to the log, not to an unauthenticated client).
pub(super) async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let mut failing = Vec::new();
    let archive = state.archive.clone();
    let catalog = tokio::time::timeout(
        READY_WITHIN,
        tokio::task::spawn_blocking(move || archive.catalog_answers()),
    )
    .await;
    if !matches!(catalog, Ok(Ok(Ok(())))) {
        tracing::warn!(outcome = ?catalog.map(|j| j.map(|r| r.map_err(|e| e.to_string()))), "readiness: the catalog does not answer");
        failing.push("catalog".to_owned());
    }
    let probes: Vec<_> = state
        .archive
        .offers()
        .iter()
        .map(|offer| {
            let offer = offer.clone();
            let name = offer.name().to_owned();
            (
                name,
                tokio::time::timeout(
                    READY_WITHIN,
                    tokio::task::spawn_blocking(move || offer.probe()),
                ),
            )
        })
        .collect();
    for (name, probe) in probes {
        match probe.await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                tracing::warn!(offer = %name, error = %e, "readiness: an offer does not answer");
                failing.push(format!("offer {name}"));
            }
            _ => {
                tracing::warn!(offer = %name, "readiness: an offer does not answer in time");
                failing.push(format!("offer {name}"));
            }
        }
    }
    if failing.is_empty() {
        axum::Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "not_ready", "failing": failing})),
        )
            .into_response()
    }
}

/// The account making the request.
pub(super) async fn me(Caller(who): Caller) -> Result<Response, ApiError> {
    // Any authenticated account may know itself; journaled like the rest.
    Ok(axum::Json(Me::from(who)).into_response())
}
