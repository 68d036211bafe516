//! `/api/v1/tenants/{tenant}/eliminations`: proposals, the producer's agreement, the control
//! authority's visa, the execution, and their documents (the SEDA request, the bordereau,
//! the notification).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, blocking, tenant_id};

/// Body: `{"at"?, "units"?, "query"?, "comment"?}`; no units nor query: every unit of the
/// tenant eligible at the date. Answers 201 with the proposal.
pub(super) async fn propose(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let request: carnac_archive::elimination::EliminationRequest = json_body(&body)?;
    let archive = state.archive.clone();
    let report =
        blocking(move || Ok(archive.propose_elimination(&t, &request, &who.login)?)).await?;
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
    let rows = blocking(move || Ok(archive.eliminations(&t)?)).await?;
    Ok(axum::Json(EliminationList {
        eliminations: rows.into_iter().map(Into::into).collect(),
    })
    .into_response())
}

pub(super) async fn show(
    State(state): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let archive = state.archive.clone();
    let report = blocking(move || Ok(archive.elimination_report(&t, &id)?)).await?;
    Ok(axum::Json(EliminationView::from(report)).into_response())
}

/// A document of an elimination (`name`, as kept in the offers), served as `content_type`:
/// the request, the bordereau, the notification, the certificate, its signature, its
/// signer.
pub(super) fn document(
    name: &'static str,
    content_type: &'static str,
) -> axum::routing::MethodRouter<Arc<AppState>> {
    axum::routing::get(
        move |State(state): State<Arc<AppState>>, Path((tenant, id)): Path<(String, String)>| async move {
            let (t, id) = ids(&tenant, &id)?;
            let archive = state.archive.clone();
            let uploads = state.uploads.clone();
            // Copied, checked, to a file of its own before a byte goes out: a closure's
            // certificate lists a whole tenant.
            let file = blocking(move || {
                let mut file = tempfile::tempfile_in(&uploads).map_err(|e| {
                    tracing::error!(error = %e, "a scratch file for a document");
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "the document could not be copied; see the archive's logs",
                    )
                })?;
                archive.copy_elimination_document(&t, &id, name, &mut file)?;
                Ok(file)
            })
            .await?;
            Ok::<_, ApiError>(
                (
                    [(header::CONTENT_TYPE, content_type)],
                    axum::body::Body::from_stream(crate::file_stream(tokio::fs::File::from_std(
                        file,
                    ))),
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
    except: Vec<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// The producer's agreement: `{"decision": "agreed"|"refused", "comment"?}`.
pub(super) async fn agreement(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let d: Decision = json_body(&body)?;
    let agreed = match d.decision.as_str() {
        "agreed" => true,
        "refused" => false,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "decision is \"agreed\" or \"refused\"",
            ));
        }
    };
    if !d.except.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the producer agrees or refuses; except is the control authority's",
        ));
    }
    let archive = state.archive.clone();
    let report = blocking(move || {
        Ok(archive.agree_elimination(&t, &id, agreed, d.comment.as_deref(), &who.login)?)
    })
    .await?;
    Ok(axum::Json(EliminationView::from(report)).into_response())
}

/// The control authority's visa: `{"decision": "granted"|"refused", "except"?, "comment"?}`,
/// or its `AuthorizationControlAuthorityRequestReply` (`Content-Type: application/xml`).
pub(super) async fn visa(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    use carnac_archive::elimination::Visa;
    let (t, id) = ids(&tenant, &id)?;
    let xml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/xml") || c.starts_with("text/xml"));
    let visa = if xml {
        Visa::Seda(body.to_vec())
    } else {
        let d: Decision = json_body(&body)?;
        let granted = granted(&d.decision)?;
        Visa::Decision {
            granted,
            except: d.except,
            comment: d.comment,
        }
    };
    let archive = state.archive.clone();
    let report = blocking(move || Ok(archive.visa_elimination(&t, &id, visa, &who.login)?)).await?;
    Ok(axum::Json(EliminationView::from(report)).into_response())
}

/// Executes what the visa grants; 409 unless one does.
pub(super) async fn execution(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let archive = state.archive.clone();
    let report = blocking(move || Ok(archive.execute_elimination(&t, &id, &who.login)?)).await?;
    Ok(axum::Json(EliminationView::from(report)).into_response())
}

/// Withdraws an open proposal: `{"comment"?}` or nothing.
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
        Ok(archive.withdraw_elimination(&t, &id, w.comment.as_deref(), &who.login)?)
    })
    .await?;
    Ok(axum::Json(EliminationView::from(report)).into_response())
}
