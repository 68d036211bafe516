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

fn kind_label(k: carnac_catalog::ReferentialKind) -> &'static str {
    use carnac_catalog::ReferentialKind as K;
    match k {
        K::Agencies => "Services (producteurs et versants)",
        K::Rules => "Règles de gestion",
        K::IngestContracts => "Contrats d’entrée",
        K::ArchiveProfiles => "Profils d’archivage",
        K::Formats => "Formats",
        K::UnitProfiles => "Profils d’unité archivistique",
        K::AccessContracts => "Contrats d’accès",
    }
}

struct ReferentialRow {
    label: &'static str,
    kind: String,
    current: String,
    entries: String,
    versions: Vec<String>,
}

#[derive(Template)]
#[template(path = "administration-referentiels.html")]
struct ReferentialsPage {
    page: Page,
    tenants: Vec<(String, String)>,
    chosen: String,
    referentials: Vec<ReferentialRow>,
    error: Option<String>,
    imported: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct ReferentialsQuery {
    service: Option<String>,
}

async fn referentials_page(
    state: &Arc<AppState>,
    session: &carnac_archive::web_sessions::WebSession,
    tenant: Option<TenantId>,
    status: StatusCode,
    error: Option<String>,
    imported: Option<String>,
) -> Response {
    let archive = state.archive.clone();
    let t = tenant.clone();
    let read = blocking(move || {
        let tenants = archive.member_tenants()?;
        let mut rows = Vec::new();
        if let Some(t) = &t {
            for (kind, current) in archive.current_referentials(t)? {
                let versions = archive.referential_versions(t, kind)?;
                rows.push(ReferentialRow {
                    label: kind_label(kind),
                    kind: kind.as_str().to_owned(),
                    current: format!(
                        "version {}, importée le {}",
                        current.version,
                        fr::timestamp(&current.imported_at)
                    ),
                    entries: match &current.content {
                        serde_json::Value::Array(a) => fr::integer(a.len() as u64),
                        serde_json::Value::Object(o) => fr::integer(o.len() as u64),
                        _ => String::new(),
                    },
                    versions: versions
                        .iter()
                        .rev()
                        .take(20)
                        .map(|v| {
                            format!(
                                "version {} — {} (opération {})",
                                v.version,
                                fr::timestamp(&v.imported_at),
                                v.operation
                            )
                        })
                        .collect(),
                });
            }
        }
        Ok((tenants, rows))
    })
    .await;
    let (tenants, referentials) = match read {
        Ok(r) => r,
        Err(e) => return refusal(e, Some(session)),
    };
    html(
        status,
        &ReferentialsPage {
            page: Page::new("Administration — référentiels", Some(session)),
            tenants: tenants
                .into_iter()
                .map(|t| (t.id.to_string(), t.name))
                .collect(),
            chosen: tenant.map(|t| t.to_string()).unwrap_or_default(),
            referentials,
            error: error.map(|e| fr::typography(&e)),
            imported,
        },
    )
}

pub(crate) async fn referentials(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<ReferentialsQuery>,
) -> Response {
    let tenant = match q.service.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match TenantId::new(s) {
            Ok(t) => Some(t),
            Err(_) => return (StatusCode::NOT_FOUND, "").into_response(),
        },
    };
    let (session, _) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::ReferentialRead),
        tenant.as_ref(),
        None,
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    referentials_page(&state, &session, tenant, StatusCode::OK, None, None).await
}

/// A referential folder sent as a container (zip or tar) from the form: its token first,
/// checked before a byte of the file is read, then the file, imported whole or refused
/// with every reason.
pub(crate) async fn import_referentials(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(tenant): Path<String>,
    mut form: axum::extract::Multipart,
) -> Response {
    let Ok(tenant) = TenantId::new(&tenant) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    // The token is the form's first field: read (a few bytes) before anything else.
    let csrf = super::multipart_token(&mut form).await;
    let (session, principal) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::ReferentialImport),
        Some(&tenant),
        Some(&csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let field = match form.next_field().await {
        Ok(Some(f)) if f.name() == Some("dossier") => f,
        _ => {
            return referentials_page(
                &state,
                &session,
                Some(tenant),
                StatusCode::BAD_REQUEST,
                Some("Choisissez l’archive (zip ou tar) du dossier de référentiels.".to_owned()),
                None,
            )
            .await;
        }
    };
    let imported = crate::routes::referentials::import_container(
        &state,
        tenant.clone(),
        principal.login.clone(),
        field,
    )
    .await;
    match imported {
        Ok(outcome) => {
            let said = outcome
                .versions
                .iter()
                .map(|(k, v)| format!("{} (version {v})", kind_label(*k)))
                .collect::<Vec<_>>()
                .join(", ");
            referentials_page(
                &state,
                &session,
                Some(tenant),
                StatusCode::OK,
                None,
                Some(format!("Importés : {said}.")),
            )
            .await
        }
        Err(e) if matches!(e.status().as_u16(), 400 | 413 | 422) => {
            let why = super::every_reason(&e);
            referentials_page(
                &state,
                &session,
                Some(tenant),
                e.status(),
                Some(format!("Rien n’a été importé : {why}")),
                None,
            )
            .await
        }
        Err(e) => refusal(e, Some(&session)),
    }
}

struct TokenLine {
    id: String,
    created: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "administration-compte.html")]
struct AccountPage {
    page: Page,
    login: String,
    tokens: Vec<TokenLine>,
}

/// An account's API tokens (named by the beginning of their SHA-256, never shown whole),
/// each revocable.
pub(crate) async fn account(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(login): Path<String>,
) -> Response {
    let (session, _) =
        match signed_platform(&state, &ctx, Ask::to(Action::AccountList), None, None).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let archive = state.archive.clone();
    let l = login.clone();
    let tokens = match blocking(move || Ok(archive.tokens(&l)?)).await {
        Ok(t) => t,
        Err(e) => return refusal(e, Some(&session)),
    };
    html(
        StatusCode::OK,
        &AccountPage {
            page: Page::new(&format!("Compte {login}"), Some(&session)),
            login,
            tokens: tokens
                .into_iter()
                .map(|t| TokenLine {
                    id: t.id,
                    created: fr::timestamp(&t.created_at),
                    revoked: t.revoked_at.map(|at| fr::timestamp(&at)),
                })
                .collect(),
        },
    )
}

pub(crate) async fn revoke(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path((login, token)): Path<(String, String)>,
    Form(form): Form<crate::web::pages::CsrfForm>,
) -> Response {
    let (session, principal) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::AccountDisable),
        None,
        Some(form.csrf()),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let archive = state.archive.clone();
    let agent = principal.login.clone();
    let l = login.clone();
    match blocking(move || Ok(archive.revoke_token(&l, &token, &agent)?)).await {
        Ok(()) => Redirect::to(&format!("/administration/comptes/{login}")).into_response(),
        Err(e) => refusal(e, Some(&session)),
    }
}
