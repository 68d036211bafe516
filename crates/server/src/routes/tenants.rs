//! `/api/v1/tenants`: the member authorities, created, listed, suspended, resumed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, blocking, tenant_id};

pub(super) async fn list(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let archive = state.archive.clone();
    let list = blocking(move || Ok(archive.member_tenants()?)).await?;
    Ok(axum::Json(TenantList {
        tenants: list.into_iter().map(Into::into).collect(),
    })
    .into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: String,
    name: Option<String>,
}

pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let new: NewTenant = json_body(&body)?;
    let tenant = tenant_id(&new.id)?;
    let archive = state.archive.clone();
    let name = new.name.unwrap_or_else(|| new.id.clone());
    let op = blocking(move || Ok(archive.create_tenant(&tenant, &name, &who.login)?)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TenantCreated {
            tenant: new.id,
            operation: op,
        }),
    )
        .into_response())
}

pub(super) async fn suspend(
    state: State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    set_suspended(state, caller, tenant, true).await
}

pub(super) async fn resume(
    state: State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    set_suspended(state, caller, tenant, false).await
}

async fn set_suspended(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    tenant: String,
    suspended: bool,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let archive = state.archive.clone();
    blocking(move || Ok(archive.suspend_tenant(&t, suspended, &who.login)?)).await?;
    Ok(axum::Json(TenantSuspension { tenant, suspended }).into_response())
}
