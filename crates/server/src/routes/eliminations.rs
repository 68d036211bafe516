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
use crate::{ApiError, AppState, blocking, operation_id, tenant_id};

fn ids(
    tenant: &str,
    id: &str,
) -> Result<(carnac_model::TenantId, carnac_model::OperationId), ApiError> {
    Ok((tenant_id(tenant)?, operation_id(id)?))
}

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

async fn document(
    state: Arc<AppState>,
    tenant: String,
    id: String,
    name: &'static str,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let (t, id) = ids(&tenant, &id)?;
    let archive = state.archive.clone();
    let bytes = blocking(move || Ok(archive.elimination_document(&t, &id, name)?)).await?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

/// The `AuthorizationControlAuthorityRequest`.
pub(super) async fn request(
    State(state): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    document(
        state,
        tenant,
        id,
        carnac_archive::elimination::REQUEST_XML,
        "application/xml; charset=utf-8",
    )
    .await
}

/// The bordereau, a page to read, print and sign.
pub(super) async fn bordereau(
    State(state): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    document(
        state,
        tenant,
        id,
        carnac_archive::elimination::BORDEREAU_HTML,
        "text/html; charset=utf-8",
    )
    .await
}

/// The `ArchiveDestructionNotification`, once executed.
pub(super) async fn notification(
    State(state): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    document(
        state,
        tenant,
        id,
        carnac_archive::elimination::NOTIFICATION_XML,
        "application/xml; charset=utf-8",
    )
    .await
}

/// The destruction certificate (JSON), once executed.
pub(super) async fn certificate(
    State(state): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    document(
        state,
        tenant,
        id,
        carnac_archive::elimination::CERTIFICATE_JSON,
        "application/json",
    )
    .await
}

/// The certificate's detached signature (CMS, DER, with its signature timestamp).
pub(super) async fn certificate_signature(
    State(state): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    document(
        state,
        tenant,
        id,
        carnac_archive::elimination::CERTIFICATE_P7S,
        "application/pkcs7-signature",
    )
    .await
}

/// The certificate of the key that signed it (PEM).
pub(super) async fn certificate_signer(
    State(state): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    document(
        state,
        tenant,
        id,
        carnac_archive::elimination::SIGNER_PEM,
        "application/x-pem-file",
    )
    .await
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
        let granted = match d.decision.as_str() {
            "granted" => true,
            "refused" => false,
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "decision is \"granted\" or \"refused\"",
                ));
            }
        };
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
