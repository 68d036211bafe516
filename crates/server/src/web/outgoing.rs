//! Transfers out (to the definitive archives) and restitutions (to the producer): the list,
//! a proposal, the page of one with the units its package holds and those left out with
//! their reason, the receiver's messages recorded from a file (its acknowledgement, its
//! reply: one that accepts purges what it accepts), the withdrawal, and every document
//! (the package until the purge, the messages, the notification, the certificate). Both
//! kinds share these handlers, as the API's do; each step is the API's use case, decided
//! and journaled the same way.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use carnac_archive::elimination::{EliminationReport, RestitutionRequest, TransferOutRequest};
use carnac_archive::selection::SelectionQuery;
use carnac_model::access::{Action, Decision, Principal, decide};
use carnac_model::elimination::{DisposalKind, EliminationState, Excluded};
use carnac_model::{OperationId, TenantId};

use super::fr;
use super::pages::{Ask, Ctx, Page, Signed, error_page, html, refusal, signed};
use crate::{ApiError, AppState, blocking};

/// Lines of the package's list the page shows.
const LINES_SHOWN: usize = 200;
/// Identifiers a proposal may list in its box (the use case bounds a selection too).
const IDENTIFIERS_LISTED: usize = 10_000;
/// Agencies offered in a list; beyond, the receiver's identifier is typed.
const AGENCIES_LISTED: usize = 500;

/// The pages of one kind, under its base path.
pub(crate) fn routes(router: Router<Arc<AppState>>, kind: &'static Kind) -> Router<Arc<AppState>> {
    let base = kind.base;
    router
        .route(
            base,
            get(move |State(s): State<Arc<AppState>>, ctx: Ctx| list(s, ctx, kind)).post(
                move |State(s): State<Arc<AppState>>, ctx: Ctx, Form(f): Form<ProposeForm>| {
                    propose(s, ctx, kind, f)
                },
            ),
        )
        .route(
            &format!("{base}/{}", kind.new),
            get(move |State(s): State<Arc<AppState>>, ctx: Ctx| propose_form(s, ctx, kind)),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(
                move |State(s): State<Arc<AppState>>, ctx: Ctx, Path(id): Path<String>| {
                    one(s, ctx, kind, id)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/message"),
            post(
                move |State(s): State<Arc<AppState>>,
                      ctx: Ctx,
                      Path(id): Path<String>,
                      form: Multipart| message(s, ctx, kind, id, form),
            )
            // The message's own bound is checked while reading; this one leaves room for
            // the form's token and headers.
            .layer(axum::extract::DefaultBodyLimit::max(
                carnac_archive::elimination::MAX_REPLY_BYTES + 64 * 1024,
            )),
        )
        .route(
            &format!("{base}/{{id}}/retrait"),
            post(
                move |State(s): State<Arc<AppState>>,
                      ctx: Ctx,
                      Path(id): Path<String>,
                      Form(f): Form<WithdrawalForm>| {
                    withdrawal(s, ctx, kind, id, f)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/documents/{{document}}"),
            get(
                move |State(s): State<Arc<AppState>>,
                      ctx: Ctx,
                      headers: HeaderMap,
                      Path(p): Path<(String, String)>| {
                    document(s, ctx, kind, headers, p)
                },
            ),
        )
}

/// What differs between a transfer out and a restitution on these pages.
pub(crate) struct Kind {
    disposal: DisposalKind,
    /// Where its pages live.
    base: &'static str,
    read: Action,
    propose: Action,
    reply: Action,
    /// "Transferts", "Restitutions".
    plural: &'static str,
    /// "un transfert", "une restitution".
    one: &'static str,
    /// "Proposer un transfert".
    propose_title: &'static str,
    /// What the page says the receiver is.
    receiver: &'static str,
    /// The proposal's path under `base`.
    new: &'static str,
    feminine: bool,
}

pub(crate) static TRANSFERS: Kind = Kind {
    disposal: DisposalKind::TransferOut,
    base: "/transferts",
    read: Action::TransferOutRead,
    propose: Action::TransferOutPropose,
    reply: Action::TransferOutReply,
    plural: "Transferts",
    one: "un transfert",
    propose_title: "Proposer un transfert aux archives définitives",
    receiver: "Service d’archives destinataire",
    new: "nouveau",
    feminine: false,
};

pub(crate) static RESTITUTIONS: Kind = Kind {
    disposal: DisposalKind::Restitution,
    base: "/restitutions",
    read: Action::RestitutionRead,
    propose: Action::RestitutionPropose,
    reply: Action::RestitutionReply,
    plural: "Restitutions",
    one: "une restitution",
    propose_title: "Proposer une restitution au producteur",
    receiver: "Service producteur à qui les archives reviennent",
    new: "nouvelle",
    feminine: true,
};

impl Kind {
    fn title(&self) -> &'static str {
        match self.disposal {
            DisposalKind::Restitution => "Restitution",
            _ => "Transfert aux archives définitives",
        }
    }

    fn state_label(&self, s: EliminationState) -> &'static str {
        let f = self.feminine;
        match s {
            EliminationState::Sent if f => "Envoyée, en attente de la réponse du producteur",
            EliminationState::Sent => "Envoyé, en attente de la réponse du destinataire",
            EliminationState::Rejected if f => "Refusée (une nouvelle réponse peut venir)",
            EliminationState::Rejected => "Refusé (une nouvelle réponse peut venir)",
            EliminationState::Accepted if f => "Acceptée, purge à faire",
            EliminationState::Accepted => "Accepté, purge à faire",
            EliminationState::PartlyAccepted if f => "Acceptée en partie, purge à faire",
            EliminationState::PartlyAccepted => "Accepté en partie, purge à faire",
            EliminationState::Executing => "Purge en cours",
            EliminationState::Executed if f => "Terminée\u{a0}: les archives rendues sont purgées",
            EliminationState::Executed => "Terminé\u{a0}: les unités acceptées sont purgées",
            EliminationState::Withdrawn if f => "Retirée",
            EliminationState::Withdrawn => "Retiré",
            other => super::eliminations::state_label(other),
        }
    }
}

fn allowed(p: &Principal, action: Action, tenant: &TenantId) -> bool {
    decide(p, action, Some(tenant), None) == Decision::Allow
}

fn not_found(kind: &Kind, session: &carnac_archive::web_sessions::WebSession) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        Some(session),
        &format!("Il n’y a pas {} sous ce numéro pour ce service.", kind.one),
    )
}

struct ListRow {
    id: String,
    proposed: String,
    by: String,
    receiver: String,
    state: &'static str,
    units: String,
}

#[derive(Template)]
#[template(path = "sorties.html")]
struct ListPage {
    page: Page,
    base: &'static str,
    new: &'static str,
    propose_title: &'static str,
    restitution: bool,
    may_propose: bool,
    rows: Vec<ListRow>,
}

pub(crate) async fn list(state: Arc<AppState>, ctx: Ctx, kind: &'static Kind) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(kind.read), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let disposal = kind.disposal;
    let rows = match blocking(move || Ok(archive.outgoing_list(disposal, &t)?)).await {
        Ok(rows) => rows,
        Err(e) => return refusal(e, Some(&session)),
    };
    html(
        StatusCode::OK,
        &ListPage {
            page: Page::new(kind.plural, Some(&session)),
            base: kind.base,
            new: kind.new,
            propose_title: kind.propose_title,
            restitution: kind.disposal == DisposalKind::Restitution,
            may_propose: allowed(&principal, kind.propose, &tenant),
            rows: rows
                .iter()
                .map(|r| ListRow {
                    id: r.id.to_string(),
                    proposed: fr::timestamp(&r.proposed_at),
                    by: r.proposed_by.clone(),
                    receiver: r.totals["archival_agency"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    state: kind.state_label(r.state),
                    units: fr::integer(r.totals["units"].as_u64().unwrap_or(0)),
                })
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "sortie-proposition.html")]
struct ProposePage {
    page: Page,
    base: &'static str,
    receiver: &'static str,
    restitution: bool,
    /// The tenant's agencies (identifier, name), or none when there are too many to list.
    agencies: Vec<(String, String)>,
    form: ProposeForm,
    error: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct ProposeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    destinataire: String,
    #[serde(default)]
    accord: String,
    /// `tout` (every unit of the producer, a restitution), `recherche`, `unites`.
    #[serde(default)]
    selection: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    unites: String,
    #[serde(default)]
    commentaire: String,
}

async fn agencies(state: &Arc<AppState>, tenant: &TenantId) -> Vec<(String, String)> {
    let archive = state.archive.clone();
    let t = tenant.clone();
    let found = blocking(move || Ok(archive.referentials(&t)?.agencies.unwrap_or_default())).await;
    match found {
        Ok(all) if all.len() <= AGENCIES_LISTED => all
            .into_iter()
            .map(|(id, a)| (id, a.name.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

async fn propose_page(
    state: &Arc<AppState>,
    session: &carnac_archive::web_sessions::WebSession,
    tenant: &TenantId,
    kind: &'static Kind,
    form: ProposeForm,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    html(
        status,
        &ProposePage {
            page: Page::new(kind.propose_title, Some(session)),
            base: kind.base,
            receiver: kind.receiver,
            restitution: kind.disposal == DisposalKind::Restitution,
            agencies: agencies(state, tenant).await,
            form,
            error: error.map(fr::typography),
        },
    )
}

pub(crate) async fn propose_form(state: Arc<AppState>, ctx: Ctx, kind: &'static Kind) -> Response {
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, Ask::to(kind.propose), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = ProposeForm {
        selection: if kind.disposal == DisposalKind::Restitution {
            "tout".into()
        } else {
            "recherche".into()
        },
        ..Default::default()
    };
    propose_page(&state, &session, &tenant, kind, form, StatusCode::OK, None).await
}

fn optional(s: &str, max: usize) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.chars().take(max).collect())
}

/// The units a proposal names (by identifier) or its search, or what the form lacks.
fn selection(
    kind: &Kind,
    form: &ProposeForm,
    receiver: &str,
) -> Result<(Vec<String>, Option<SelectionQuery>), &'static str> {
    match form.selection.as_str() {
        "tout" if kind.disposal == DisposalKind::Restitution => Ok((
            Vec::new(),
            Some(SelectionQuery {
                agency: Some(receiver.to_owned()),
                ..Default::default()
            }),
        )),
        "recherche" => {
            let q = SelectionQuery {
                q: optional(&form.q, 512),
                agency: optional(&form.agency, 256),
                ..Default::default()
            };
            if q.q.is_none() && q.agency.is_none() {
                return Err(
                    "Pour proposer les unités d’une recherche, donnez des mots ou un service producteur.",
                );
            }
            Ok((Vec::new(), Some(q)))
        }
        "unites" => {
            let units: Vec<String> = form
                .unites
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .take(IDENTIFIERS_LISTED + 1)
                .map(str::to_owned)
                .collect();
            if units.is_empty() {
                return Err("Donnez les identifiants des unités, un par ligne.");
            }
            Ok((units, None))
        }
        _ => Err("Choisissez les unités proposées."),
    }
}

pub(crate) async fn propose(
    state: Arc<AppState>,
    ctx: Ctx,
    kind: &'static Kind,
    form: ProposeForm,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(kind.propose), Some(&form.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let receiver = form
        .destinataire
        .trim()
        .chars()
        .take(256)
        .collect::<String>();
    let (units, query) = match selection(kind, &form, &receiver) {
        Ok(chosen) => chosen,
        Err(message) => {
            return propose_page(
                &state,
                &session,
                &tenant,
                kind,
                form,
                StatusCode::BAD_REQUEST,
                Some(message),
            )
            .await;
        }
    };
    let archive = state.archive.clone();
    let login = principal.login.clone();
    let t = tenant.clone();
    let comment = optional(&form.commentaire, 4096);
    let agreement = optional(&form.accord, 255);
    let restitution = kind.disposal == DisposalKind::Restitution;
    let done = blocking(move || {
        Ok(if restitution {
            archive.propose_restitution(
                &t,
                &RestitutionRequest {
                    units,
                    query,
                    originating_agency: receiver,
                    comment,
                },
                &login,
            )?
        } else {
            archive.propose_transfer_out(
                &t,
                &TransferOutRequest {
                    units,
                    query,
                    archival_agency: receiver,
                    archival_agreement: agreement,
                    comment,
                },
                &login,
            )?
        })
    })
    .await;
    match done {
        Ok(report) => Redirect::to(&format!("{}/{}", kind.base, report.id)).into_response(),
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            let message = format!(
                "La proposition n’a pas pu être faite : {}",
                super::every_reason(&e)
            );
            propose_page(
                &state,
                &session,
                &tenant,
                kind,
                form,
                e.status(),
                Some(&message),
            )
            .await
        }
        Err(e) => refusal(e, Some(&session)),
    }
}

struct Line {
    id: String,
    title: String,
    agency: String,
    size: String,
    status: &'static str,
}

struct StepRow {
    step: &'static str,
    author: String,
    at: String,
    decision: &'static str,
    comment: String,
}

struct ExcludedRow {
    id: String,
    title: String,
    why: String,
}

#[derive(Template)]
#[template(path = "sortie.html")]
struct OnePage {
    page: Page,
    base: &'static str,
    plural: &'static str,
    heading: String,
    receiver_label: &'static str,
    restitution: bool,
    id: String,
    receiver: String,
    agreement: String,
    proposed: String,
    proposed_by: String,
    units: String,
    files: String,
    size: String,
    lines: Vec<Line>,
    more_lines: Option<String>,
    excluded: Vec<ExcludedRow>,
    steps: Vec<StepRow>,
    /// The documents there are: (path under the page, label).
    documents: Vec<(&'static str, &'static str)>,
    may_answer: bool,
    may_withdraw: bool,
    purge_pending: bool,
}

fn step_label(step: &str) -> &'static str {
    match step {
        "acknowledgement" => "Accusé de réception du destinataire",
        "reply" => "Réponse du destinataire",
        "restitution_reply" => "Réponse du producteur à la demande de restitution",
        "execution" => "Purge",
        "completion" => "Fin de la purge",
        "withdrawal" => "Retrait",
        _ => "Étape",
    }
}

fn decision_label(decision: Option<&str>) -> &'static str {
    match decision {
        Some("accepted") => "acceptée",
        Some("rejected") => "refusée",
        Some("agreed") => "accord",
        Some("refused") => "refus",
        _ => "",
    }
}

async fn report(
    state: &Arc<AppState>,
    kind: &Kind,
    tenant: &TenantId,
    id: &OperationId,
) -> Result<EliminationReport, ApiError> {
    let archive = state.archive.clone();
    let (t, id, disposal) = (tenant.clone(), id.clone(), kind.disposal);
    blocking(move || Ok(archive.outgoing(disposal, &t, &id)?)).await
}

pub(crate) async fn one(
    state: Arc<AppState>,
    ctx: Ctx,
    kind: &'static Kind,
    id: String,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(kind.read), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = OperationId::new(&id) else {
        return not_found(kind, &session);
    };
    let r = match report(&state, kind, &tenant, &id).await {
        Ok(r) => r,
        Err(e) if e.status() == StatusCode::NOT_FOUND => return not_found(kind, &session),
        Err(e) => return refusal(e, Some(&session)),
    };
    let total = |k: &str| r.totals[k].as_u64().unwrap_or(0);
    let text = |k: &str| r.totals[k].as_str().unwrap_or_default().to_owned();
    let has_step = |name: &str| r.steps.iter().any(|s| s["step"] == name);
    let restitution = kind.disposal == DisposalKind::Restitution;
    let mut documents = Vec::new();
    if matches!(
        r.state,
        EliminationState::Sent
            | EliminationState::Rejected
            | EliminationState::Accepted
            | EliminationState::PartlyAccepted
            | EliminationState::Executing
    ) {
        documents.push(("paquet", "le paquet envoyé (zip)"));
    }
    if restitution {
        documents.push(("demande", "la demande de restitution (XML)"));
    }
    if has_step("acknowledgement") {
        documents.push(("accuse", "l’accusé de réception (XML)"));
    }
    if has_step("reply") || has_step("restitution_reply") {
        documents.push(("reponse", "la dernière réponse (XML)"));
    }
    if r.state == EliminationState::Executed {
        documents.push(("notification", "la notification au producteur (XML)"));
        documents.push(("certificat.json", "le certificat (JSON)"));
        documents.push(("certificat.p7s", "sa signature (CAdES)"));
        documents.push(("signataire.pem", "le certificat du signataire (PEM)"));
    }
    let open = matches!(r.state, EliminationState::Sent | EliminationState::Rejected);
    let page = OnePage {
        page: Page::new(kind.title(), Some(&session)),
        base: kind.base,
        plural: kind.plural,
        heading: format!("{} — {}", kind.title(), kind.state_label(r.state)),
        receiver_label: kind.receiver,
        restitution,
        id: r.id.to_string(),
        receiver: text("archival_agency"),
        agreement: text("archival_agreement"),
        proposed: fr::timestamp(&r.proposed_at),
        proposed_by: r.proposed_by.clone(),
        units: fr::integer(total("units")),
        files: fr::integer(total("objects")),
        size: fr::size(total("bytes")),
        lines: r
            .units
            .iter()
            .take(LINES_SHOWN)
            .map(|u| Line {
                id: u.id.clone(),
                title: u.record["title"].as_str().unwrap_or_default().to_owned(),
                agency: u.record["originating_agency"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                size: fr::size(u.record["bytes"].as_u64().unwrap_or(0)),
                status: match u.status {
                    carnac_catalog::EliminationUnitStatus::VisaExcepted => {
                        "non acceptée, conservée"
                    }
                    carnac_catalog::EliminationUnitStatus::Dropped => "retirée",
                    carnac_catalog::EliminationUnitStatus::Destroying => "en cours de purge",
                    carnac_catalog::EliminationUnitStatus::Destroyed => "purgée",
                    _ => "dans le paquet",
                },
            })
            .collect(),
        more_lines: (r.units.len() > LINES_SHOWN).then(|| {
            format!(
                "et {} autres, que liste le bordereau du paquet",
                fr::integer((r.units.len() - LINES_SHOWN) as u64)
            )
        }),
        excluded: r
            .excluded
            .iter()
            .take(LINES_SHOWN)
            .map(|u| ExcludedRow {
                id: u.id.clone(),
                title: u.record["title"].as_str().unwrap_or_default().to_owned(),
                why: u
                    .reason
                    .clone()
                    .and_then(|v| serde_json::from_value::<Excluded>(v).ok())
                    .map(|x| x.describe_fr())
                    .unwrap_or_default(),
            })
            .collect(),
        steps: r
            .steps
            .iter()
            .map(|s| {
                let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
                StepRow {
                    step: step_label(s["step"].as_str().unwrap_or_default()),
                    author: text("author"),
                    at: fr::timestamp(&text("at")),
                    decision: decision_label(s["decision"].as_str()),
                    comment: text("comment"),
                }
            })
            .collect(),
        documents,
        may_answer: open && allowed(&principal, kind.reply, &tenant),
        may_withdraw: open && allowed(&principal, kind.propose, &tenant),
        purge_pending: r.purge_pending,
    };
    html(StatusCode::OK, &page)
}

/// The receiver's message, from a file the form sends after its token: at most the API's
/// bound, read into memory as the API reads it (the use case parses it whole).
pub(crate) async fn message(
    state: Arc<AppState>,
    ctx: Ctx,
    kind: &'static Kind,
    id: String,
    mut form: Multipart,
) -> Response {
    let csrf = super::multipart_token(&mut form).await;
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(kind.reply), Some(&csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = OperationId::new(&id) else {
        return not_found(kind, &session);
    };
    let back = format!("{}/{id}", kind.base);
    let failed = |status: StatusCode, message: &str| {
        error_page(
            status,
            Some(&session),
            &format!("{message} Revenez à la page ({back}) pour recommencer."),
        )
    };
    let mut field = match form.next_field().await {
        Ok(Some(f)) if f.name() == Some("message") => f,
        _ => {
            return failed(
                StatusCode::BAD_REQUEST,
                "Choisissez le fichier XML du message reçu (accusé de réception ou réponse).",
            );
        }
    };
    let limit = carnac_archive::elimination::MAX_REPLY_BYTES;
    let mut bytes = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > limit {
                    return failed(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!(
                            "Le fichier dépasse {} : ce n’est pas un message SEDA.",
                            fr::size(limit as u64)
                        ),
                    );
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => {
                return failed(
                    StatusCode::BAD_REQUEST,
                    "L’envoi du fichier a été interrompu.",
                );
            }
        }
    }
    if bytes.is_empty() {
        return failed(StatusCode::BAD_REQUEST, "Le fichier est vide.");
    }
    let archive = state.archive.clone();
    let login = principal.login.clone();
    let disposal = kind.disposal;
    let target = id.clone();
    let done =
        blocking(move || Ok(archive.outgoing_message(disposal, &tenant, &target, &bytes, &login)?))
            .await;
    match done {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            failed(
                e.status(),
                &format!(
                    "Ce message n’a pas été enregistré : {}.",
                    super::every_reason(&e)
                ),
            )
        }
        Err(e) => refusal(e, Some(&session)),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct WithdrawalForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    commentaire: String,
}

pub(crate) async fn withdrawal(
    state: Arc<AppState>,
    ctx: Ctx,
    kind: &'static Kind,
    id: String,
    form: WithdrawalForm,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(kind.propose), Some(&form.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = OperationId::new(&id) else {
        return not_found(kind, &session);
    };
    let archive = state.archive.clone();
    let login = principal.login.clone();
    let disposal = kind.disposal;
    let target = id.clone();
    let comment = optional(&form.commentaire, 4096);
    let done = blocking(move || {
        Ok(archive.withdraw_outgoing(disposal, &tenant, &target, comment.as_deref(), &login)?)
    })
    .await;
    match done {
        Ok(_) => Redirect::to(&format!("{}/{id}", kind.base)).into_response(),
        Err(e) if e.status() == StatusCode::CONFLICT => error_page(
            e.status(),
            Some(&session),
            &format!("Le retrait n’a pas été fait : {}.", e.message()),
        ),
        Err(e) => refusal(e, Some(&session)),
    }
}

/// A document: the package (the API's checked, resumable answer), or a message or
/// document of the purge, saved under a name that says what it is.
pub(crate) async fn document(
    state: Arc<AppState>,
    ctx: Ctx,
    kind: &'static Kind,
    headers: HeaderMap,
    (id, which): (String, String),
) -> Response {
    use carnac_archive::elimination as e;
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, Ask::to(kind.read), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = OperationId::new(&id) else {
        return not_found(kind, &session);
    };
    let disposal = kind.disposal;
    let archive = state.archive.clone();
    if which == "paquet" {
        let range = headers
            .get(axum::http::header::RANGE)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let name = format!("{id}.zip");
        let opened = blocking(move || {
            let mut unsatisfiable = None;
            let opened = archive.open_outgoing_package(disposal, &tenant, &id, |size| {
                crate::routes::deliveries::ranged(range.as_deref(), size, &mut unsatisfiable)
            });
            Ok((unsatisfiable, opened))
        })
        .await;
        return match opened {
            Ok((unsatisfiable, Ok(opened))) => {
                match crate::routes::deliveries::package_response(opened, unsatisfiable, &name) {
                    Ok(r) => r,
                    Err(e) => refusal(e, Some(&session)),
                }
            }
            Ok((_, Err(e))) => refusal(e.into(), Some(&session)),
            Err(e) => refusal(e, Some(&session)),
        };
    }
    let (name, content_type, file) = match which.as_str() {
        "demande" if disposal == DisposalKind::Restitution => (
            e::RESTITUTION_REQUEST_XML,
            "application/xml; charset=utf-8",
            "demande-de-restitution.xml",
        ),
        "accuse" => (
            e::ACKNOWLEDGEMENT_XML,
            "application/xml; charset=utf-8",
            "accuse-de-reception.xml",
        ),
        "reponse" => (
            e::REPLY_XML,
            "application/xml; charset=utf-8",
            "reponse.xml",
        ),
        "notification" => (
            e::NOTIFICATION_XML,
            "application/xml; charset=utf-8",
            "notification.xml",
        ),
        "certificat.json" => (e::CERTIFICATE_JSON, "application/json", "certificat.json"),
        "certificat.p7s" => (
            e::CERTIFICATE_P7S,
            "application/pkcs7-signature",
            "certificat.p7s",
        ),
        "signataire.pem" => (e::SIGNER_PEM, "application/x-pem-file", "signataire.pem"),
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                Some(&session),
                "Ce document n’existe pas.",
            );
        }
    };
    let found =
        blocking(move || Ok(archive.outgoing_document(disposal, &tenant, &id, name)?)).await;
    match found {
        Ok(bytes) => super::named(
            ([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response(),
            &format!("{}-{file}", which_prefix(kind)),
        ),
        Err(e) => refusal(e, Some(&session)),
    }
}

fn which_prefix(kind: &Kind) -> &'static str {
    match kind.disposal {
        DisposalKind::Restitution => "restitution",
        _ => "transfert",
    }
}
