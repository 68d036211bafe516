//! `/api/v1/accounts`: people and machines, their tokens, disabled and enabled.

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
    let list = blocking(move || Ok(archive.accounts()?)).await?;
    Ok(axum::Json(Accounts {
        accounts: list.into_iter().map(Into::into).collect(),
    })
    .into_response())
}

pub(super) async fn disable(
    state: State<Arc<AppState>>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    set_disabled(state, caller, login, true).await
}

pub(super) async fn enable(
    state: State<Arc<AppState>>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    set_disabled(state, caller, login, false).await
}

/// Disables an account (every credential of it stops at once) or enables it again.
async fn set_disabled(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    login: String,
    disabled: bool,
) -> Result<Response, ApiError> {
    let archive = state.archive.clone();
    let l = login.clone();
    blocking(move || Ok(archive.set_account_disabled(&l, disabled, &who.login)?)).await?;
    Ok(axum::Json(AccountState { login, disabled }).into_response())
}

/// The API tokens of an account: ids (the beginning of their SHA-256), never the tokens.
pub(super) async fn tokens(
    State(state): State<Arc<AppState>>,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let archive = state.archive.clone();
    let l = login.clone();
    let tokens = blocking(move || Ok(archive.tokens(&l)?)).await?;
    Ok(axum::Json(AccountTokens {
        login,
        tokens: tokens.into_iter().map(Into::into).collect(),
    })
    .into_response())
}

/// Revokes one token of an account; its other credentials go on.
pub(super) async fn revoke_token(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((login, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let archive = state.archive.clone();
    let (l, t) = (login.clone(), token.clone());
    blocking(move || Ok(archive.revoke_token(&l, &t, &who.login)?)).await?;
    Ok(axum::Json(TokenRevoked {
        login,
        token,
        revoked: true,
    })
    .into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccountBody {
    login: String,
    role: carnac_model::access::Role,
    #[serde(default = "person")]
    kind: carnac_model::access::AccountKind,
    #[serde(default)]
    tenants: Vec<String>,
    password: Option<String>,
    /// Give it an API token, returned once in the response.
    #[serde(default)]
    token: bool,
    /// For a producer: the originating agencies it speaks for (none: all of its tenants').
    #[serde(default)]
    agencies: Vec<String>,
}

fn person() -> carnac_model::access::AccountKind {
    carnac_model::access::AccountKind::Person
}

pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let new: NewAccountBody = json_body(&body)?;
    let tenants = new
        .tenants
        .iter()
        .map(|t| tenant_id(t))
        .collect::<Result<Vec<_>, _>>()?;
    let archive = state.archive.clone();
    let (account, token) = blocking(move || {
        Ok(archive.create_account(
            &carnac_archive::accounts::NewAccount {
                login: &new.login,
                role: new.role,
                kind: new.kind,
                tenants: &tenants,
                password: new.password.as_deref(),
                token: new.token,
                certificate: None,
                agencies: &new.agencies,
            },
            &who.login,
        )?)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AccountCreated {
            account: account.into(),
            token_id: token.as_deref().map(carnac_archive::accounts::token_id),
            token,
        }),
    )
        .into_response())
}
