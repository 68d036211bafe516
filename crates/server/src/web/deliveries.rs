//! Deliveries (communication): a request for units, with a derogation asked of the control
//! authority for those still restricted (Code du patrimoine L213-3); the list (a producer's
//! own requests only), the page of one with the authorisation form for the control
//! authority, and the package to download once delivered. The API's use cases, decided and
//! journaled the same way.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use carnac_archive::delivery::{Authorization, DeliveryRequest};
use carnac_catalog::DeliveryRow;
use carnac_model::OperationId;
use carnac_model::access::{Action, Decision, Principal, Role, decide};
use carnac_model::delivery::DeliveryState;

use super::fr;
use super::pages::{Ask, Ctx, Page, Signed, error_page, html, refusal, signed};
use crate::{ApiError, AppState, blocking};

/// Units one request from the form may name.
const MAX_UNITS: usize = 1000;

fn state_label(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::AwaitingAuthorization => {
            "En attente de l’autorisation de l’autorité de contrôle"
        }
        DeliveryState::Refused => "Dérogation refusée",
        DeliveryState::Delivered => "Communiquée, paquet à télécharger",
        DeliveryState::Removed => "Communiquée, paquet supprimé à son échéance",
    }
}

/// A producer reads only the deliveries it asked for (as the API says).
fn readable(p: &Principal, row: &DeliveryRow) -> bool {
    p.role != Role::Producer || row.requested_by == p.login
}

struct Row {
    id: String,
    at: String,
    by: String,
    state: &'static str,
    units: String,
}

#[derive(Template)]
#[template(path = "communications.html")]
struct ListPage {
    page: Page,
    may_request: bool,
    rows: Vec<Row>,
}

pub(crate) async fn list(State(state): State<Arc<AppState>>, ctx: Ctx) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(Action::DeliveryRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let mine = (principal.role == Role::Producer).then(|| principal.login.clone());
    let rows = match blocking(move || Ok(archive.deliveries(&t, mine.as_deref())?)).await {
        Ok(rows) => rows,
        Err(e) => return refusal(e, Some(&session)),
    };
    html(
        StatusCode::OK,
        &ListPage {
            page: Page::new("Communications", Some(&session)),
            may_request: decide(&principal, Action::DeliveryRequest, Some(&tenant), None)
                == Decision::Allow,
            rows: rows
                .iter()
                .map(|r| Row {
                    id: r.id.to_string(),
                    at: fr::timestamp(&r.requested_at),
                    by: r.requested_by.clone(),
                    state: state_label(r.state),
                    units: fr::integer(r.request["units"].as_array().map_or(0, Vec::len) as u64),
                })
                .collect(),
        },
    )
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct NewQuery {
    unite: Option<String>,
}

#[derive(Template)]
#[template(path = "communication-demande.html")]
struct RequestPage {
    page: Page,
    units: String,
    requester: String,
    error: Option<String>,
}

pub(crate) async fn request_form(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(q): Query<NewQuery>,
) -> Response {
    let Signed {
        session, principal, ..
    } = match signed(&state, &ctx, Ask::to(Action::DeliveryRequest), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    html(
        StatusCode::OK,
        &RequestPage {
            page: Page::new("Demander une communication", Some(&session)),
            units: q.unite.unwrap_or_default().chars().take(128).collect(),
            requester: principal.login.clone(),
            error: None,
        },
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    unites: String,
    #[serde(default)]
    demandeur: String,
    #[serde(default)]
    derogation: Option<String>,
    #[serde(default)]
    commentaire: String,
}

pub(crate) async fn request(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Form(form): Form<RequestForm>,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(
        &state,
        &ctx,
        Ask::to(Action::DeliveryRequest),
        Some(&form.csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let units: Vec<String> = form
        .unites
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let again = |status, message: &str| {
        html(
            status,
            &RequestPage {
                page: Page::new("Demander une communication", Some(&session)),
                units: form.unites.chars().take(64 * 1024).collect(),
                requester: form.demandeur.chars().take(256).collect(),
                error: Some(fr::typography(message)),
            },
        )
    };
    if units.is_empty() || units.len() > MAX_UNITS {
        return again(
            StatusCode::BAD_REQUEST,
            &format!(
                "Donnez les identifiants des unités demandées (de 1 à {}), un par ligne.",
                fr::integer(MAX_UNITS as u64)
            ),
        );
    }
    let requester = form.demandeur.trim();
    if requester.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            "Dites qui demande la communication (une personne ou un service).",
        );
    }
    let request = DeliveryRequest {
        units,
        requester: requester.chars().take(256).collect(),
        comment: Some(
            form.commentaire
                .trim()
                .chars()
                .take(4096)
                .collect::<String>(),
        )
        .filter(|c| !c.is_empty()),
        request_identifier: None,
        derogation: form.derogation.is_some(),
    };
    let archive = state.archive.clone();
    let login = principal.login.clone();
    let t = tenant.clone();
    match blocking(move || Ok(archive.request_delivery(&t, &request, &login)?)).await {
        Ok(row) => Redirect::to(&format!("/communications/{}", row.id)).into_response(),
        Err(e) if e.status() == StatusCode::FORBIDDEN => again(
            e.status(),
            &format!(
                "Des unités demandées ne sont pas encore communicables : cochez « Demander une dérogation » pour que l’autorité de contrôle en décide. Détail : {}",
                e.message()
            ),
        ),
        Err(e) if matches!(e.status().as_u16(), 400 | 404 | 409) => again(
            e.status(),
            &format!("La demande n’a pas pu être faite : {}", e.message()),
        ),
        Err(e) => refusal(e, Some(&session)),
    }
}

struct StepRow {
    step: String,
    author: String,
    at: String,
    comment: String,
}

#[derive(Template)]
#[template(path = "communication.html")]
struct OnePage {
    page: Page,
    id: String,
    state: &'static str,
    fields: Vec<(&'static str, String)>,
    restricted: Vec<String>,
    steps: Vec<StepRow>,
    may_authorize: bool,
    delivered: bool,
}

async fn find(
    state: &Arc<AppState>,
    tenant: &carnac_model::TenantId,
    id: &OperationId,
) -> Result<DeliveryRow, ApiError> {
    let archive = state.archive.clone();
    let (t, id) = (tenant.clone(), id.clone());
    blocking(move || Ok(archive.delivery(&t, &id)?)).await
}

fn not_found(session: &carnac_archive::web_sessions::WebSession) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        Some(session),
        "Cette communication n’existe pas, ou votre compte n’y a pas accès.",
    )
}

pub(crate) async fn one(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(Action::DeliveryRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = OperationId::new(&id) else {
        return not_found(&session);
    };
    let row = match find(&state, &tenant, &id).await {
        Ok(r) if readable(&principal, &r) => r,
        Ok(_) => return not_found(&session),
        Err(e) => return refusal(e, Some(&session)),
    };
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let mut fields = vec![
        ("Demandée le", fr::timestamp(&row.requested_at)),
        ("Par le compte", row.requested_by.clone()),
        ("Demandeur", text(&row.request, "requester")),
        (
            "Unités demandées",
            fr::integer(row.request["units"].as_array().map_or(0, Vec::len) as u64),
        ),
        (
            "Dérogation demandée",
            if row.request["derogation"].as_bool() == Some(true) {
                "oui".to_owned()
            } else {
                "non".to_owned()
            },
        ),
    ];
    if let Some(p) = &row.package {
        fields.push((
            "Paquet",
            format!(
                "{} fichiers, {}",
                fr::integer(p["files"].as_u64().unwrap_or(0)),
                fr::size(p["bytes"].as_u64().unwrap_or(0))
            ),
        ));
    }
    if let Some(until) = &row.expires_at {
        fields.push(("Disponible jusqu’au", fr::timestamp(until)));
    }
    let comment = text(&row.request, "comment");
    if !comment.is_empty() {
        fields.push(("Commentaire", comment));
    }
    html(
        StatusCode::OK,
        &OnePage {
            page: Page::new("Communication", Some(&session)),
            id: row.id.to_string(),
            state: state_label(row.state),
            fields,
            restricted: row.restricted.iter().map(ToString::to_string).collect(),
            steps: row
                .steps
                .iter()
                .map(|s| StepRow {
                    step: match s["step"].as_str() {
                        Some("authorization") => "Autorisation de l’autorité de contrôle",
                        Some("delivery") => "Communication",
                        Some("removal") => "Suppression du paquet",
                        _ => "Étape",
                    }
                    .to_owned()
                        + match s["decision"].as_str() {
                            Some("granted") => " (accordée)",
                            Some("refused") => " (refusée)",
                            _ => "",
                        },
                    author: text(s, "author"),
                    at: fr::timestamp(&text(s, "at")),
                    comment: text(s, "comment"),
                })
                .collect(),
            may_authorize: row.state == DeliveryState::AwaitingAuthorization
                && decide(&principal, Action::DeliveryAuthorize, Some(&tenant), None)
                    == Decision::Allow,
            delivered: row.state == DeliveryState::Delivered,
        },
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct AuthorizationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    commentaire: String,
}

pub(crate) async fn authorize(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<AuthorizationForm>,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(
        &state,
        &ctx,
        Ask::to(Action::DeliveryAuthorize),
        Some(&form.csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = OperationId::new(&id) else {
        return not_found(&session);
    };
    let granted = match form.decision.as_str() {
        "accorde" => true,
        "refuse" => false,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                Some(&session),
                "Choisissez une décision (accorder ou refuser la dérogation), puis enregistrez-la.",
            );
        }
    };
    let comment = Some(
        form.commentaire
            .trim()
            .chars()
            .take(4096)
            .collect::<String>(),
    )
    .filter(|c| !c.is_empty());
    let archive = state.archive.clone();
    let login = principal.login.clone();
    let target = id.clone();
    let done = blocking(move || {
        Ok(archive.authorize_delivery(
            &tenant,
            &target,
            Authorization::Decision { granted, comment },
            &login,
        )?)
    })
    .await;
    match done {
        Ok(_) => Redirect::to(&format!("/communications/{id}")).into_response(),
        Err(e) if e.status() == StatusCode::CONFLICT => error_page(
            e.status(),
            Some(&session),
            &format!(
                "Cette autorisation n’a pas pu être enregistrée : {}.",
                e.message()
            ),
        ),
        Err(e) => refusal(e, Some(&session)),
    }
}

/// The package, as the API gives it: checked against its digest while it streams, resumable
/// with `Range`.
pub(crate) async fn package(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(Action::DeliveryRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = OperationId::new(&id) else {
        return not_found(&session);
    };
    let range = headers
        .get(axum::http::header::RANGE)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let archive = state.archive.clone();
    let name = format!("{id}.zip");
    let opened = blocking(move || {
        let row = archive.delivery(&tenant, &id)?;
        if !readable(&principal, &row) {
            return Ok(None);
        }
        let mut unsatisfiable = None;
        let opened = archive.open_delivery_package(&tenant, &id, |size| {
            crate::routes::deliveries::ranged(range.as_deref(), size, &mut unsatisfiable)
        });
        Ok(Some((unsatisfiable, opened)))
    })
    .await;
    match opened {
        Ok(Some((unsatisfiable, Ok(opened)))) => {
            match crate::routes::deliveries::package_response(opened, unsatisfiable, &name) {
                Ok(r) => r,
                Err(e) => refusal(e, Some(&session)),
            }
        }
        Ok(Some((_, Err(e)))) => refusal(e.into(), Some(&session)),
        Ok(None) => not_found(&session),
        Err(e) => refusal(e, Some(&session)),
    }
}
