//! Transfers: the list of a tenant's transfers (a producer's own only) with their states,
//! the page of one with every reason of a rejection in French, its acknowledgement and
//! reply to download, and sending a transfer from the browser (a form that works without
//! script; the script only shows the upload's progress).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carnac_archive::ingest::IngestSummary;
use carnac_archive::reading::OperationFound;
use carnac_catalog::{Operation, OperationPage, OperationState, QueuedTransfer};
use carnac_model::access::{Action, Decision, Role, decide};
use carnac_model::{OperationId, Status, Timestamp};

use super::pages::{Ask, Ctx, Page, Signed, error_page, html, refusal, signed};
use super::{fr, reasons};
use crate::{AppState, blocking};

/// Transfers a page of the list shows.
const PER_PAGE: u64 = 50;

/// The state of a transfer, as its list and page say it.
fn state_label(o: &Operation) -> &'static str {
    match (o.state, o.status) {
        (OperationState::Running, _) => "En cours de traitement",
        (OperationState::Done, Some(Status::Ok)) => "Accepté",
        (OperationState::Done, Some(Status::Warning)) => "Accepté avec avertissements",
        (OperationState::Done, Some(Status::Ko)) => "Refusé",
        (OperationState::Done, None) => "Terminé",
    }
}

/// The class of its badge (the text says the state; the colour only repeats it).
fn state_class(o: &Operation) -> &'static str {
    match (o.state, o.status) {
        (OperationState::Done, Some(Status::Ok)) => "etat etat-ok",
        (OperationState::Done, Some(Status::Warning)) => "etat etat-avert",
        (OperationState::Done, Some(Status::Ko)) => "etat etat-ko",
        _ => "etat",
    }
}

fn summary_of(o: &Operation) -> Option<IngestSummary> {
    o.summary
        .clone()
        .and_then(|s| serde_json::from_value::<IngestSummary>(s).ok())
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct ListForm {
    etat: Option<String>,
    /// The last transfer of the previous page: its start and its operation.
    avant: Option<String>,
    id: Option<String>,
}

pub(super) struct Row {
    pub(super) id: String,
    pub(super) received: String,
    pub(super) agent: String,
    pub(super) state: &'static str,
    pub(super) class: &'static str,
    pub(super) content: String,
}

#[derive(Template)]
#[template(path = "versements.html")]
struct ListPage {
    page: Page,
    etat: String,
    may_send: bool,
    own_only: bool,
    rows: Vec<Row>,
    next: Option<String>,
    first: bool,
}

const STATES: [(&str, Option<Status>); 4] = [
    ("tous", None),
    ("acceptes", Some(Status::Ok)),
    ("avertissements", Some(Status::Warning)),
    ("refuses", Some(Status::Ko)),
];

pub(super) fn queued_row(q: &QueuedTransfer) -> Row {
    Row {
        id: q.operation.to_string(),
        received: fr::timestamp(&q.received_at),
        agent: q.agent.clone(),
        state: "En attente de traitement",
        class: "etat",
        content: fr::size(q.bytes),
    }
}

pub(super) fn operation_row(o: &Operation) -> Row {
    let content = match summary_of(o) {
        Some(s) if s.status != Status::Ko => format!(
            "{} unité{}, {}",
            fr::integer(s.units as u64),
            if s.units > 1 { "s" } else { "" },
            fr::size(s.bytes)
        ),
        Some(s) => {
            let n = s.reasons.len() as u64 + s.reasons_omitted;
            format!("{} motif{}", fr::integer(n), if n > 1 { "s" } else { "" })
        }
        None => String::new(),
    };
    Row {
        id: o.id.to_string(),
        received: fr::timestamp(&o.started_at),
        agent: o.agent.clone().unwrap_or_default(),
        state: state_label(o),
        class: state_class(o),
        content,
    }
}

/// Whether the account lists every transfer of the tenant or only those it sent.
fn own_only(role: Role) -> bool {
    role == Role::Producer
}

pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(form): Query<ListForm>,
) -> Response {
    // The list holds the account's own transfers, or more if its role reads them all: the
    // decision is asked for its own (which every role that reads transfers may), and the
    // list narrowed to them for a producer.
    let ask = Ask {
        action: Action::OperationRead,
        operation: None,
        own: true,
    };
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, ask, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let own = own_only(principal.role);
    let etat = form.etat.clone().unwrap_or_else(|| "tous".to_owned());
    let Some((_, status)) = STATES.iter().find(|(name, _)| *name == etat) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            Some(&session),
            "Cet état n’existe pas : choisissez-en un dans la liste.",
        );
    };
    let before = match (&form.avant, &form.id) {
        (None, None) => None,
        (Some(at), Some(id)) => match (Timestamp::parse(at), OperationId::new(id)) {
            (Ok(at), Ok(id)) => Some((at, id)),
            _ => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    Some(&session),
                    "Cette page de la liste n’existe pas : revenez à la première.",
                );
            }
        },
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                Some(&session),
                "Cette page de la liste n’existe pas : revenez à la première.",
            );
        }
    };
    let first = before.is_none();
    let page = OperationPage {
        kind: carnac_model::journal::EventKind::Ingest,
        status: *status,
        agent: own.then(|| principal.login.clone()),
        before,
        limit: PER_PAGE,
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let (queued, operations) = match blocking(move || Ok(archive.transfers(&t, &page)?)).await {
        Ok(found) => found,
        Err(e) => return refusal(e, Some(&session)),
    };
    let next = (operations.len() as u64 == PER_PAGE)
        .then(|| operations.last())
        .flatten()
        .map(|o| {
            format!(
                "/versements?etat={etat}&avant={}&id={}",
                super::units::encode(&o.started_at),
                super::units::encode(o.id.as_str())
            )
        });
    let rows = queued
        .iter()
        .map(queued_row)
        .chain(operations.iter().map(operation_row))
        .collect();
    html(
        StatusCode::OK,
        &ListPage {
            page: Page::new("Versements", Some(&session)),
            may_send: decide(&principal, Action::TransferSubmit, Some(&tenant), None)
                == Decision::Allow,
            own_only: own,
            etat,
            rows,
            next,
            first,
        },
    )
}

struct ReasonRow {
    severity: &'static str,
    text: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "versement.html")]
struct TransferPage {
    page: Page,
    id: String,
    state: &'static str,
    class: &'static str,
    fields: Vec<(&'static str, String)>,
    reasons: Vec<ReasonRow>,
    omitted: String,
    ack: bool,
    atr: bool,
    waiting: bool,
    /// Accepted: its deposit attestation may be had.
    accepted: bool,
}

/// A transfer's page for an identifier that is not one.
fn no_such_transfer(session: &carnac_archive::web_sessions::WebSession) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        Some(session),
        "Ce versement n’existe pas.",
    )
}

pub(crate) async fn one(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    let op = OperationId::new(&id).ok();
    let ask = Ask {
        action: Action::OperationRead,
        operation: op.as_ref(),
        own: false,
    };
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, ask, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(op) = op else {
        return no_such_transfer(&session);
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let found = blocking(move || {
        let found = archive.operation_or_queued(&t, &op)?;
        let ack = archive.acknowledgement(&t, &op)?.is_some();
        Ok((found, ack))
    })
    .await;
    let (found, ack) = match found {
        Ok((Some(f), ack)) => (f, ack),
        Ok((None, _)) => {
            return error_page(
                StatusCode::NOT_FOUND,
                Some(&session),
                "Ce versement n’existe pas dans ce service d’archives.",
            );
        }
        Err(e) => return refusal(e, Some(&session)),
    };
    let mut fields = Vec::new();
    let mut reasons_rows = Vec::new();
    let mut omitted = String::new();
    let accepted = matches!(
        &found,
        OperationFound::Operation(o) if o.state == OperationState::Done
            && o.status.is_some_and(|s| s.is_accepted())
    );
    let (label, class, atr, waiting) = match &found {
        OperationFound::Queued(q) => {
            fields.push(("Reçu le", fr::timestamp(&q.received_at)));
            fields.push(("Envoyé par", q.agent.clone()));
            fields.push(("Taille reçue", fr::size(q.bytes)));
            ("En attente de traitement", "etat", false, true)
        }
        OperationFound::Operation(o) => {
            if o.kind != carnac_model::journal::EventKind::Ingest {
                return error_page(
                    StatusCode::NOT_FOUND,
                    Some(&session),
                    "Cette opération n’est pas un versement.",
                );
            }
            fields.push(("Reçu le", fr::timestamp(&o.started_at)));
            if let Some(end) = &o.ended_at {
                fields.push(("Traité le", fr::timestamp(end)));
            }
            if let Some(agent) = &o.agent {
                fields.push(("Envoyé par", agent.clone()));
            }
            if let Some(s) = summary_of(o) {
                if let Some(v) = &s.seda_version {
                    fields.push(("Version du SEDA", v.clone()));
                }
                if let Some(m) = &s.message_identifier {
                    fields.push(("Identifiant du message", m.clone()));
                }
                if s.status != Status::Ko {
                    fields.push(("Unités d’archives", fr::integer(s.units as u64)));
                    fields.push(("Fichiers", fr::integer(s.objects as u64)));
                    fields.push(("Taille conservée", fr::size(s.bytes)));
                }
                reasons_rows = s
                    .reasons
                    .iter()
                    .map(|r| ReasonRow {
                        severity: if r.severity == "WARNING" {
                            "Avertissement"
                        } else {
                            "Erreur"
                        },
                        text: fr::typography(reasons::explain(&r.step, &r.code)),
                        detail: format!("{} / {} : {}", r.step, r.code, r.message),
                    })
                    .collect();
                if s.reasons_omitted > 0 {
                    omitted = format!(
                        "Et {} autres motifs, que donne la réponse (ATR) à télécharger ci-dessous.",
                        fr::integer(s.reasons_omitted)
                    );
                }
            }
            (
                state_label(o),
                state_class(o),
                o.has_reply,
                o.state == OperationState::Running,
            )
        }
    };
    fields.push(("Opération", id.clone()));
    html(
        StatusCode::OK,
        &TransferPage {
            page: Page::new(&format!("Versement — {label}"), Some(&session)),
            id,
            state: label,
            class,
            fields,
            reasons: reasons_rows,
            omitted: fr::typography(&omitted),
            ack,
            atr,
            waiting,
            accepted,
        },
    )
}

/// The acknowledgement (`accuse`) or the reply (`reponse`) of a transfer, as the API gives
/// them, saved under a name that says what they are.
pub(crate) async fn document(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path((id, which)): Path<(String, String)>,
) -> Response {
    let op = OperationId::new(&id).ok();
    let ask = Ask {
        action: Action::OperationRead,
        operation: op.as_ref(),
        own: false,
    };
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, ask, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if op.is_none() {
        return no_such_transfer(&session);
    }
    if which == "attestation" {
        return attestation(&state, &session, tenant, id).await;
    }
    let path = Path((tenant.to_string(), id.clone()));
    let (answer, name) = match which.as_str() {
        "accuse" => (
            crate::routes::transfers::ack(State(state), path).await,
            format!("ACK-{id}.xml"),
        ),
        "reponse" => (
            crate::routes::transfers::atr(State(state), path).await,
            format!("ATR-{id}.xml"),
        ),
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                Some(&session),
                "Ce document n’existe pas.",
            );
        }
    };
    match answer {
        Ok(r) => super::named(r, &name),
        Err(e) if e.status() == StatusCode::CONFLICT => error_page(
            StatusCode::CONFLICT,
            Some(&session),
            "Ce document n’existe pas encore : le versement est en cours de traitement. Revenez dans un instant.",
        ),
        Err(e) => refusal(e, Some(&session)),
    }
}

/// The deposit attestation of an accepted transfer (signed by the archive and timestamped,
/// made right after the ingest, or by the next maintenance), as a tar of its documents.
async fn attestation(
    state: &Arc<AppState>,
    session: &carnac_archive::web_sessions::WebSession,
    tenant: carnac_model::TenantId,
    id: String,
) -> Response {
    let Ok(op) = OperationId::new(&id) else {
        return no_such_transfer(session);
    };
    let archive = state.archive.clone();
    let uploads = state.uploads.clone();
    let made = blocking(move || {
        super::tar_of(&uploads, "attestation", |dir| {
            Ok(archive.export_attestation(&tenant, &op, dir)?)
        })
    })
    .await;
    match made {
        Ok(file) => super::attachment(file, "application/x-tar", &format!("attestation-{id}.tar")),
        Err(e) if e.status() == StatusCode::NOT_FOUND => error_page(
            StatusCode::NOT_FOUND,
            Some(session),
            "Ce versement n’a pas d’attestation de dépôt : seuls les versements acceptés en reçoivent une, signée et horodatée juste après leur acceptation (ou à la maintenance suivante si elle n’a pas pu être faite alors).",
        ),
        Err(e) => refusal(e, Some(session)),
    }
}

#[derive(Template)]
#[template(path = "versement-envoi.html")]
struct SendPage {
    page: Page,
    script: &'static str,
    error: Option<String>,
}

pub(crate) async fn send_form(State(state): State<Arc<AppState>>, ctx: Ctx) -> Response {
    let Signed { session, .. } =
        match signed(&state, &ctx, Ask::to(Action::TransferSubmit), None).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    html(
        StatusCode::OK,
        &SendPage {
            page: Page::new("Envoyer un versement", Some(&session)),
            script: super::script_path(),
            error: None,
        },
    )
}

/// The form's file, streamed to the incoming folder as the API's body is. Its fields come
/// in the form's order: the token first, checked before a byte of the file is read.
pub(crate) async fn send(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    mut form: Multipart,
) -> Response {
    // The token is the form's first field: read (a few bytes) before anything else.
    let csrf = super::multipart_token(&mut form).await;
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(Action::TransferSubmit), Some(&csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let again = |status: StatusCode, message: &str| {
        html(
            status,
            &SendPage {
                page: Page::new("Envoyer un versement", Some(&session)),
                script: super::script_path(),
                error: Some(fr::typography(message)),
            },
        )
    };
    let field = match form.next_field().await {
        Ok(Some(f)) if f.name() == Some("versement") => f,
        _ => {
            return again(
                StatusCode::BAD_REQUEST,
                "Choisissez le fichier du versement (une archive zip ou tar avec son bordereau).",
            );
        }
    };
    let received =
        crate::routes::transfers::receive(&state, tenant, principal.login.clone(), field).await;
    match received {
        Ok(t) => Redirect::to(&format!("/versements/{}", t.operation)).into_response(),
        Err(e) => match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => again(
                e.status(),
                &format!(
                    "Le fichier dépasse la taille qu’accepte l’archive ({}). Découpez le versement en plusieurs envois.",
                    fr::size(state.limits.max_upload)
                ),
            ),
            StatusCode::BAD_REQUEST => again(
                e.status(),
                "Le fichier est vide, ou son envoi a été interrompu : choisissez-le de nouveau, puis renvoyez.",
            ),
            StatusCode::TOO_MANY_REQUESTS => again(
                e.status(),
                "Trop de versements de ce service attendent leur traitement : renvoyez celui-ci quand les précédents auront été traités.",
            ),
            _ => refusal(e, Some(&session)),
        },
    }
}
