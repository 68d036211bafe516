//! Administration, for the operator: tenants (create, suspend, resume), accounts (create
//! with their role, tenants and agencies, disable, enable, their API tokens revoked), and
//! each tenant's referentials with their versions. The API's use cases, decided and
//! journaled the same way; a token is shown once, on the page that gives it.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carnac_model::TenantId;
use carnac_model::access::{AccountKind, Action, Role};

use super::fr;
use super::pages::{Ask, Ctx, Page, error_page, html, refusal, signed_platform};
use crate::{AppState, blocking};

fn role_label(r: Role) -> &'static str {
    match r {
        Role::Operator => "Opérateur",
        Role::Archivist => "Archiviste",
        Role::Producer => "Producteur",
        Role::ControlAuthority => "Autorité de contrôle",
        Role::Auditor => "Auditeur",
    }
}

const ROLES: [(&str, Role); 5] = [
    ("archivist", Role::Archivist),
    ("producer", Role::Producer),
    ("control-authority", Role::ControlAuthority),
    ("auditor", Role::Auditor),
    ("operator", Role::Operator),
];

struct TenantRow {
    id: String,
    name: String,
    created: String,
    suspended: bool,
}

#[derive(Template)]
#[template(path = "administration.html")]
struct TenantsPage {
    page: Page,
    tenants: Vec<TenantRow>,
    error: Option<String>,
}

async fn tenants_page(
    state: &Arc<AppState>,
    session: &carnac_archive::web_sessions::WebSession,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let archive = state.archive.clone();
    let tenants = match blocking(move || Ok(archive.member_tenants()?)).await {
        Ok(t) => t,
        Err(e) => return refusal(e, Some(session)),
    };
    html(
        status,
        &TenantsPage {
            page: Page::new("Administration — services d’archives", Some(session)),
            tenants: tenants
                .into_iter()
                .map(|t| TenantRow {
                    id: t.id.to_string(),
                    name: t.name,
                    created: fr::timestamp(&t.created_at),
                    suspended: t.suspended_at.is_some(),
                })
                .collect(),
            error: error.map(|e| fr::typography(&e)),
        },
    )
}

pub(crate) async fn tenants(State(state): State<Arc<AppState>>, ctx: Ctx) -> Response {
    let (session, _) =
        match signed_platform(&state, &ctx, Ask::to(Action::TenantList), None, None).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    tenants_page(&state, &session, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub(crate) struct NewTenantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifiant: String,
    #[serde(default)]
    nom: String,
}

pub(crate) async fn create_tenant(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Form(form): Form<NewTenantForm>,
) -> Response {
    let (session, principal) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::TenantCreate),
        None,
        Some(&form.csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(tenant) = TenantId::new(form.identifiant.trim()) else {
        return tenants_page(
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            Some(
                "L’identifiant du service n’est pas valable : des lettres, des chiffres, des tirets, sans espace."
                    .to_owned(),
            ),
        )
        .await;
    };
    let name = match form.nom.trim() {
        "" => tenant.to_string(),
        n => n.chars().take(256).collect(),
    };
    let archive = state.archive.clone();
    let login = principal.login.clone();
    match blocking(move || Ok(archive.create_tenant(&tenant, &name, &login)?)).await {
        Ok(_) => Redirect::to("/administration").into_response(),
        Err(e) if matches!(e.status().as_u16(), 400 | 409) => {
            tenants_page(
                &state,
                &session,
                e.status(),
                Some(format!("Le service n’a pas pu être créé : {}", e.message())),
            )
            .await
        }
        Err(e) => refusal(e, Some(&session)),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct SuspensionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

pub(crate) async fn suspension(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(tenant): Path<String>,
    Form(form): Form<SuspensionForm>,
) -> Response {
    let Ok(tenant) = TenantId::new(&tenant) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let (session, principal) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::TenantSuspend),
        Some(&tenant),
        Some(&form.csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let suspended = match form.action.as_str() {
        "suspendre" => true,
        "reprendre" => false,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                Some(&session),
                "Choisissez de suspendre ou de reprendre le service.",
            );
        }
    };
    let archive = state.archive.clone();
    let login = principal.login.clone();
    match blocking(move || Ok(archive.suspend_tenant(&tenant, suspended, &login)?)).await {
        Ok(_) => Redirect::to("/administration").into_response(),
        Err(e) => refusal(e, Some(&session)),
    }
}

struct AccountRow {
    login: String,
    role: &'static str,
    tenants: String,
    agencies: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "administration-comptes.html")]
struct AccountsPage {
    page: Page,
    accounts: Vec<AccountRow>,
    error: Option<String>,
    /// The account just created, and its API token shown once.
    created: Option<(String, Option<String>)>,
}

async fn accounts_page(
    state: &Arc<AppState>,
    session: &carnac_archive::web_sessions::WebSession,
    status: StatusCode,
    error: Option<String>,
    created: Option<(String, Option<String>)>,
) -> Response {
    let archive = state.archive.clone();
    let accounts = match blocking(move || Ok(archive.accounts()?)).await {
        Ok(a) => a,
        Err(e) => return refusal(e, Some(session)),
    };
    html(
        status,
        &AccountsPage {
            page: Page::new("Administration — comptes", Some(session)),
            accounts: accounts
                .into_iter()
                .map(|a| AccountRow {
                    role: role_label(a.role),
                    tenants: a
                        .tenants
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    agencies: a.agencies.join(", "),
                    disabled: a.disabled_at.is_some(),
                    login: a.login,
                })
                .collect(),
            error: error.map(|e| fr::typography(&e)),
            created,
        },
    )
}

pub(crate) async fn accounts(State(state): State<Arc<AppState>>, ctx: Ctx) -> Response {
    let (session, _) =
        match signed_platform(&state, &ctx, Ask::to(Action::AccountList), None, None).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    accounts_page(&state, &session, StatusCode::OK, None, None).await
}

#[derive(serde::Deserialize)]
pub(crate) struct NewAccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifiant: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    services: String,
    #[serde(default)]
    producteurs: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    jeton: Option<String>,
}

fn list_of(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .take(1000)
        .map(str::to_owned)
        .collect()
}

pub(crate) async fn create_account(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Form(form): Form<NewAccountForm>,
) -> Response {
    let (session, principal) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::AccountCreate),
        None,
        Some(&form.csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut problems = Vec::new();
    let role = ROLES.iter().find(|(k, _)| *k == form.role).map(|(_, r)| *r);
    if role.is_none() {
        problems.push("choisissez un rôle".to_owned());
    }
    let mut tenants = Vec::new();
    for t in list_of(&form.services) {
        match TenantId::new(&t) {
            Ok(t) => tenants.push(t),
            Err(_) => problems.push(format!("« {t} » n’est pas un identifiant de service")),
        }
    }
    let password = form.mot_de_passe.clone();
    if !password.is_empty() && password.chars().count() < 12 {
        problems.push("un mot de passe a au moins 12 caractères".to_owned());
    }
    if password.is_empty() && form.jeton.is_none() {
        problems.push("donnez un mot de passe, ou un jeton d’API, sans quoi le compte ne peut pas se connecter".to_owned());
    }
    let Some(role) = role.filter(|_| problems.is_empty()) else {
        return accounts_page(
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            Some(format!(
                "Le compte n’a pas été créé : {}.",
                problems.join(" ; ")
            )),
            None,
        )
        .await;
    };
    let login = form
        .identifiant
        .trim()
        .chars()
        .take(128)
        .collect::<String>();
    let agencies = list_of(&form.producteurs);
    let token = form.jeton.is_some();
    let archive = state.archive.clone();
    let agent = principal.login.clone();
    let new_login = login.clone();
    let created = blocking(move || {
        Ok(archive.create_account(
            &carnac_archive::accounts::NewAccount {
                login: &new_login,
                role,
                kind: AccountKind::Person,
                tenants: &tenants,
                password: (!password.is_empty()).then_some(password.as_str()),
                token,
                certificate: None,
                agencies: &agencies,
            },
            &agent,
        )?)
    })
    .await;
    match created {
        Ok((_, token)) => {
            accounts_page(&state, &session, StatusCode::OK, None, Some((login, token))).await
        }
        Err(e) if matches!(e.status().as_u16(), 400 | 409) => {
            accounts_page(
                &state,
                &session,
                e.status(),
                Some(format!("Le compte n’a pas été créé : {}", e.message())),
                None,
            )
            .await
        }
        Err(e) => refusal(e, Some(&session)),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

pub(crate) async fn disable(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(login): Path<String>,
    Form(form): Form<DisableForm>,
) -> Response {
    let (session, principal) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::AccountDisable),
        None,
        Some(&form.csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let disabled = match form.action.as_str() {
        "desactiver" => true,
        "reactiver" => false,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                Some(&session),
                "Choisissez de désactiver ou de réactiver le compte.",
            );
        }
    };
    let archive = state.archive.clone();
    let agent = principal.login.clone();
    match blocking(move || Ok(archive.set_account_disabled(&login, disabled, &agent)?)).await {
        Ok(_) => Redirect::to("/administration/comptes").into_response(),
        Err(e) => refusal(e, Some(&session)),
    }
}
