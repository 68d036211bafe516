//! A tenant's export for reversibility, from the administration (the operator's): start
//! one, follow its progress (the page works without script; the script asks for the
//! progress every few seconds and shows it), download the folder as one tar. The same use
//! cases as the API's `/exports`, decided and journaled the same way.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carnac_archive::export_jobs::{ExportJobView, ExportState};
use carnac_model::access::Action;
use carnac_model::{OperationId, TenantId};

use super::fr;
use super::pages::{Ask, Ctx, Page, error_page, html, refusal, signed_platform};
use crate::{AppState, blocking};

/// Exports a page lists (the latest).
const SHOWN: usize = 20;

struct ExportRow {
    id: String,
    started: String,
    by: String,
    running: bool,
    state: &'static str,
    done: u64,
    total: u64,
    progress: String,
    summary: String,
    error: String,
    available: bool,
}

#[derive(Template)]
#[template(path = "administration-exports.html")]
struct ExportsPage {
    page: Page,
    tenants: Vec<(String, String)>,
    chosen: String,
    exports: Vec<ExportRow>,
    error: Option<String>,
}

fn progress(j: &ExportJobView) -> String {
    match j.state {
        ExportState::Running if j.transfers_total == 0 => "Préparation…".to_owned(),
        ExportState::Running => format!(
            "{} versements écrits sur {}",
            fr::integer(j.transfers_done),
            fr::integer(j.transfers_total)
        ),
        ExportState::Done => "Terminé".to_owned(),
        ExportState::Failed => "Échoué".to_owned(),
    }
}

fn row(j: &ExportJobView) -> ExportRow {
    let n = |k: &str| {
        j.summary
            .as_ref()
            .and_then(|s| s[k].as_u64())
            .map(fr::integer)
            .unwrap_or_default()
    };
    ExportRow {
        id: j.operation.to_string(),
        started: j
            .started_at
            .as_ref()
            .map(|t| fr::timestamp(&t.to_string()))
            .unwrap_or_default(),
        by: j.agent.clone().unwrap_or_default(),
        running: j.state == ExportState::Running,
        state: match j.state {
            ExportState::Running => "En cours",
            ExportState::Done => "Terminé",
            ExportState::Failed => "Échoué",
        },
        done: j.transfers_done,
        total: j.transfers_total.max(1),
        progress: progress(j),
        summary: match &j.summary {
            Some(_) => format!(
                "{} unités, {} fichiers, {} versements, {} événements du journal",
                n("units"),
                n("files"),
                n("transfers"),
                n("journal_events")
            ),
            None => String::new(),
        },
        error: j.error.clone().unwrap_or_default(),
        available: j.available,
    }
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct ExportsQuery {
    service: Option<String>,
}

/// The tenant a page names, none when it names none; an error when it is not one.
fn tenant_of(s: Option<&str>) -> Result<Option<TenantId>, carnac_model::IdError> {
    s.filter(|s| !s.is_empty()).map(TenantId::new).transpose()
}

async fn exports_page(
    state: &Arc<AppState>,
    session: &carnac_archive::web_sessions::WebSession,
    tenant: Option<TenantId>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let archive = state.archive.clone();
    let t = tenant.clone();
    let read = blocking(move || {
        let tenants = archive.member_tenants()?;
        let jobs = match &t {
            Some(t) => archive.export_jobs(t)?,
            None => Vec::new(),
        };
        Ok((tenants, jobs))
    })
    .await;
    let (tenants, jobs) = match read {
        Ok(r) => r,
        Err(e) => return refusal(e, Some(session)),
    };
    html(
        status,
        &ExportsPage {
            page: Page::new("Administration — exports", Some(session)),
            tenants: tenants
                .into_iter()
                .map(|t| (t.id.to_string(), t.name))
                .collect(),
            chosen: tenant.map(|t| t.to_string()).unwrap_or_default(),
            exports: jobs.iter().take(SHOWN).map(row).collect(),
            error: error.map(|e| fr::typography(&e)),
        },
    )
}

pub(crate) async fn exports(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(q): Query<ExportsQuery>,
) -> Response {
    let Ok(tenant) = tenant_of(q.service.as_deref()) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let (session, _) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::TenantExport),
        tenant.as_ref(),
        None,
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    exports_page(&state, &session, tenant, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    csrf: String,
    /// Units per package of the export (empty: the archive's default).
    #[serde(default)]
    unites: String,
}

pub(crate) async fn start(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(tenant): Path<String>,
    Form(form): Form<StartForm>,
) -> Response {
    let Ok(tenant) = TenantId::new(&tenant) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let (session, principal) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::TenantExport),
        Some(&tenant),
        Some(&form.csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let per_package = match form.unites.trim() {
        "" => None,
        n => match n.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => {
                return exports_page(
                    &state,
                    &session,
                    Some(tenant),
                    StatusCode::BAD_REQUEST,
                    Some("Le nombre d’unités par paquet est un nombre entier, ou rien pour la valeur par défaut.".into()),
                )
                .await;
            }
        },
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let login = principal.login.clone();
    match blocking(move || Ok(archive.start_export(&t, per_package, &login)?)).await {
        Ok(_) => Redirect::to(&format!("/administration/exports?service={tenant}")).into_response(),
        Err(e) if matches!(e.status().as_u16(), 400 | 409 | 429 | 503) => {
            let why = super::every_reason(&e);
            exports_page(
                &state,
                &session,
                Some(tenant),
                e.status(),
                Some(format!("L’export n’a pas été lancé : {why}")),
            )
            .await
        }
        Err(e) => refusal(e, Some(&session)),
    }
}

/// An export's progress, for the page's script: `{"running", "done", "total", "text"}`.
pub(crate) async fn progress_of(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path((tenant, operation)): Path<(String, String)>,
) -> Response {
    let (Ok(tenant), Ok(operation)) = (TenantId::new(&tenant), OperationId::new(&operation)) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let (session, _) = match signed_platform(
        &state,
        &ctx,
        Ask::to(Action::TenantExport),
        Some(&tenant),
        None,
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let archive = state.archive.clone();
    match blocking(move || Ok(archive.export_job(&tenant, &operation)?)).await {
        Ok(Some(j)) => axum::Json(serde_json::json!({
            "running": j.state == ExportState::Running,
            "done": j.transfers_done,
            "total": j.transfers_total.max(1),
            "text": progress(&j),
        }))
        .into_response(),
        Ok(None) => error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Cet export n’existe pas.",
        ),
        Err(e) => refusal(e, Some(&session)),
    }
}

/// The export's folder as one tar stream, as the API gives it.
pub(crate) async fn download(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path((tenant, operation)): Path<(String, String)>,
) -> Response {
    let (Ok(t), Ok(o)) = (TenantId::new(&tenant), OperationId::new(&operation)) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let (session, _) =
        match signed_platform(&state, &ctx, Ask::to(Action::TenantExport), Some(&t), None).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    match crate::routes::exports::tar_stream(&state, t, o).await {
        Ok(r) => r,
        Err(e) => refusal(e, Some(&session)),
    }
}
