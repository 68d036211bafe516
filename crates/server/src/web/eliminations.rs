//! Eliminations: the list, a proposal (from a search or "everything eligible"), the page of
//! one with its bordereau on screen (and printable, as the archive keeps it), and the step
//! each account may take there: the producer's agreement, the control authority's visa with
//! its exceptions, the archivist's execution or withdrawal; then the certificate. Each step
//! is the same use case as the API's, decided and journaled the same way.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carnac_archive::elimination::{EliminationReport, EliminationRequest, Visa};
use carnac_archive::selection::SelectionQuery;
use carnac_model::access::Principal;
use carnac_model::access::{Action, Decision, decide};
use carnac_model::elimination::{DisposalKind, EliminationState, Excluded};
use carnac_model::{OperationId, TenantId};

use super::fr;
use super::pages::{Ask, Ctx, Page, Signed, error_page, html, refusal, signed};
use crate::{ApiError, AppState, blocking};

/// Lines of the bordereau the page shows (the printable bordereau has them all).
const LINES_SHOWN: usize = 200;
/// Units the visa's form offers to except one by one (beyond, by their identifiers).
const EXCEPTIONS_OFFERED: usize = 200;

pub(crate) fn state_label(s: EliminationState) -> &'static str {
    match s {
        EliminationState::Proposed => "Proposée, en attente de l’accord du producteur",
        EliminationState::Agreed => "Acceptée par le producteur, en attente du visa",
        EliminationState::AgreementRefused => "Refusée par le producteur",
        EliminationState::VisaGranted => "Visa accordé, à exécuter",
        EliminationState::VisaPartlyGranted => "Visa accordé avec exceptions, à exécuter",
        EliminationState::VisaRefused => "Visa refusé",
        EliminationState::Withdrawn => "Retirée",
        EliminationState::Executing => "En cours d’exécution",
        EliminationState::Executed => "Exécutée",
        EliminationState::Sent => "Envoyée",
        EliminationState::Rejected => "Rejetée",
        EliminationState::Accepted => "Acceptée",
        EliminationState::PartlyAccepted => "Acceptée en partie",
    }
}

fn step_label(step: &str) -> &str {
    match step {
        "agreement" => "Réponse du producteur",
        "visa" => "Visa de l’autorité de contrôle",
        "execution" => "Exécution",
        "completion" => "Fin de l’exécution",
        "withdrawal" => "Retrait",
        other => other,
    }
}

fn allowed(p: &Principal, action: Action, tenant: &TenantId) -> bool {
    decide(p, action, Some(tenant), None) == Decision::Allow
}

fn elimination_id(id: &str) -> Option<OperationId> {
    OperationId::new(id).ok()
}

struct ListRow {
    id: String,
    proposed: String,
    by: String,
    state: &'static str,
    units: String,
}

#[derive(Template)]
#[template(path = "eliminations.html")]
struct ListPage {
    page: Page,
    may_propose: bool,
    rows: Vec<ListRow>,
}

pub(crate) async fn list(State(state): State<Arc<AppState>>, ctx: Ctx) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(Action::EliminationRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let archive = state.archive.clone();
    let t = tenant.clone();
    let rows = match blocking(move || Ok(archive.eliminations(&t)?)).await {
        Ok(rows) => rows,
        Err(e) => return refusal(e, Some(&session)),
    };
    html(
        StatusCode::OK,
        &ListPage {
            page: Page::new("Éliminations", Some(&session)),
            may_propose: allowed(&principal, Action::EliminationPropose, &tenant),
            rows: rows
                .iter()
                .filter(|r| r.kind == DisposalKind::Elimination)
                .map(|r| ListRow {
                    id: r.id.to_string(),
                    proposed: fr::timestamp(&r.proposed_at),
                    by: r.proposed_by.clone(),
                    state: state_label(r.state),
                    units: fr::integer(r.totals["units"].as_u64().unwrap_or(0)),
                })
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "elimination-proposition.html")]
struct ProposePage {
    page: Page,
    today: String,
    error: Option<String>,
}

fn today(state: &AppState) -> String {
    let now = state.archive.now();
    now.get(..10).unwrap_or_default().to_owned()
}

pub(crate) async fn propose_form(State(state): State<Arc<AppState>>, ctx: Ctx) -> Response {
    let Signed { session, .. } =
        match signed(&state, &ctx, Ask::to(Action::EliminationPropose), None).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    html(
        StatusCode::OK,
        &ProposePage {
            page: Page::new("Proposer une élimination", Some(&session)),
            today: today(&state),
            error: None,
        },
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct ProposeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    date: String,
    /// `tout` (everything eligible) or `recherche` (the units a search finds).
    #[serde(default)]
    selection: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    commentaire: String,
}

fn optional(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.chars().take(512).collect())
}

pub(crate) async fn propose(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Form(form): Form<ProposeForm>,
) -> Response {
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(
        &state,
        &ctx,
        Ask::to(Action::EliminationPropose),
        Some(&form.csrf),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let again = |status, message: &str| {
        html(
            status,
            &ProposePage {
                page: Page::new("Proposer une élimination", Some(&session)),
                today: today(&state),
                error: Some(fr::typography(message)),
            },
        )
    };
    let date = form.date.trim();
    if time::Date::parse(
        date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_err()
    {
        return again(
            StatusCode::BAD_REQUEST,
            "La date d’analyse n’est pas une date : écrivez-la AAAA-MM-JJ.",
        );
    }
    let query = match form.selection.as_str() {
        "tout" => None,
        "recherche" => {
            let q = SelectionQuery {
                q: optional(&form.q),
                agency: optional(&form.agency),
                ..Default::default()
            };
            if q.q.is_none() && q.agency.is_none() {
                return again(
                    StatusCode::BAD_REQUEST,
                    "Pour proposer les unités d’une recherche, donnez des mots ou un service producteur.",
                );
            }
            Some(q)
        }
        _ => {
            return again(
                StatusCode::BAD_REQUEST,
                "Choisissez ce qui est proposé : tout ce qui est éliminable, ou les unités d’une recherche.",
            );
        }
    };
    let request = EliminationRequest {
        at: Some(date.to_owned()),
        units: Vec::new(),
        query,
        comment: optional(&form.commentaire),
    };
    let archive = state.archive.clone();
    let login = principal.login.clone();
    let t = tenant.clone();
    match blocking(move || Ok(archive.propose_elimination(&t, &request, &login)?)).await {
        Ok(report) => Redirect::to(&format!("/eliminations/{}", report.id)).into_response(),
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            again(
                e.status(),
                &format!("La proposition n’a pas pu être faite : {}", e.message()),
            )
        }
        Err(e) => refusal(e, Some(&session)),
    }
}

struct Line {
    id: String,
    title: String,
    dates: String,
    agency: String,
    appraisal_end: String,
    size: String,
    status: &'static str,
}

struct StepRow {
    step: String,
    author: String,
    at: String,
    decision: String,
    comment: String,
}

struct ExcludedRow {
    id: String,
    title: String,
    why: String,
}

#[derive(Template)]
#[template(path = "elimination.html")]
struct OnePage {
    page: Page,
    id: String,
    state: &'static str,
    at: String,
    proposed: String,
    proposed_by: String,
    units: String,
    files: String,
    size: String,
    lines: Vec<Line>,
    more_lines: Option<String>,
    excluded: Vec<ExcludedRow>,
    more_excluded: Option<String>,
    steps: Vec<StepRow>,
    may_agree: bool,
    may_visa: bool,
    may_execute: bool,
    may_withdraw: bool,
    executed: bool,
    exceptions: Vec<(String, String)>,
}

fn line_of(u: &carnac_archive::elimination::EliminationUnit) -> Line {
    let r = &u.record;
    let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
    let start = r["start_date"].as_str();
    let end = r["end_date"].as_str();
    Line {
        id: u.id.clone(),
        title: text("title"),
        dates: match (start, end) {
            (Some(s), Some(e)) if s.get(..10) == e.get(..10) => fr::iso_date(s),
            (Some(s), Some(e)) => format!("{} – {}", fr::iso_date(s), fr::iso_date(e)),
            (Some(s), None) | (None, Some(s)) => fr::iso_date(s),
            (None, None) => String::new(),
        },
        agency: text("originating_agency"),
        appraisal_end: r["appraisal_end"]
            .as_str()
            .map(fr::iso_date)
            .unwrap_or_default(),
        size: fr::size(r["bytes"].as_u64().unwrap_or(0)),
        status: match u.status {
            carnac_catalog::EliminationUnitStatus::VisaExcepted => "exceptée par le visa",
            carnac_catalog::EliminationUnitStatus::Dropped => "retirée avant l’exécution",
            carnac_catalog::EliminationUnitStatus::Destroying => "en cours de destruction",
            carnac_catalog::EliminationUnitStatus::Destroyed => "détruite",
            _ => "proposée",
        },
    }
}

async fn report(
    state: &Arc<AppState>,
    tenant: &TenantId,
    id: &OperationId,
) -> Result<EliminationReport, ApiError> {
    let archive = state.archive.clone();
    let (t, id) = (tenant.clone(), id.clone());
    blocking(move || Ok(archive.elimination_report(&t, &id)?)).await
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
    } = match signed(&state, &ctx, Ask::to(Action::EliminationRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(id) = elimination_id(&id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Cette élimination n’existe pas.",
        );
    };
    let r = match report(&state, &tenant, &id).await {
        Ok(r) if r.kind == DisposalKind::Elimination => r,
        Ok(_) => {
            return error_page(
                StatusCode::NOT_FOUND,
                Some(&session),
                "Cette opération n’est pas une élimination.",
            );
        }
        Err(e) => return refusal(e, Some(&session)),
    };
    let total = |k: &str| r.totals[k].as_u64().unwrap_or(0);
    let more = |all: usize, shown: usize| {
        (all > shown).then(|| {
            format!(
                "et {} autres, que donne le bordereau complet",
                fr::integer((all - shown) as u64)
            )
        })
    };
    let open_for = |s: &[EliminationState]| s.contains(&r.state);
    let page = OnePage {
        page: Page::new("Élimination", Some(&session)),
        id: r.id.to_string(),
        state: state_label(r.state),
        at: fr::iso_date(&r.at),
        proposed: fr::timestamp(&r.proposed_at),
        proposed_by: r.proposed_by.clone(),
        units: fr::integer(total("units")),
        files: fr::integer(total("objects")),
        size: fr::size(total("bytes")),
        lines: r.units.iter().take(LINES_SHOWN).map(line_of).collect(),
        more_lines: more(r.units.len(), LINES_SHOWN),
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
        more_excluded: more(r.excluded.len(), LINES_SHOWN),
        steps: r
            .steps
            .iter()
            .map(|s| {
                let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
                StepRow {
                    step: step_label(&text("step")).to_owned(),
                    author: text("author"),
                    at: fr::timestamp(&text("at")),
                    decision: match s["decision"].as_str() {
                        Some("agreed") => "accord".to_owned(),
                        Some("refused") => "refus".to_owned(),
                        Some("granted") => "visa accordé".to_owned(),
                        Some("partly_granted") => "visa accordé avec exceptions".to_owned(),
                        Some(other) => other.to_owned(),
                        None => String::new(),
                    },
                    comment: text("comment"),
                }
            })
            .collect(),
        may_agree: open_for(&[EliminationState::Proposed])
            && allowed(&principal, Action::EliminationAgree, &tenant),
        may_visa: open_for(&[EliminationState::Agreed])
            && allowed(&principal, Action::EliminationVisa, &tenant),
        may_execute: open_for(&[
            EliminationState::VisaGranted,
            EliminationState::VisaPartlyGranted,
        ]) && allowed(&principal, Action::EliminationExecute, &tenant),
        may_withdraw: open_for(&[
            EliminationState::Proposed,
            EliminationState::Agreed,
            EliminationState::VisaGranted,
            EliminationState::VisaPartlyGranted,
        ]) && allowed(&principal, Action::EliminationPropose, &tenant),
        executed: r.state == EliminationState::Executed,
        exceptions: r
            .units
            .iter()
            .take(EXCEPTIONS_OFFERED)
            .map(|u| {
                (
                    u.id.clone(),
                    u.record["title"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    };
    html(StatusCode::OK, &page)
}

#[derive(serde::Deserialize)]
pub(crate) struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    commentaire: String,
    /// Identifiers to except, one per line (beyond the boxes).
    #[serde(default)]
    autres: String,
}

/// The step a form takes: its action, and the use case it runs.
#[derive(Clone, Copy)]
enum Step {
    Agreement,
    Visa,
    Execution,
    Withdrawal,
}

/// A step's form, its fields read from the body by hand: the visa's exceptions are one
/// `excepte` field per box ticked, which a plain form decoder does not gather.
pub(crate) async fn step(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path((id, which)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let step = match which.as_str() {
        "accord" => Step::Agreement,
        "visa" => Step::Visa,
        "execution" => Step::Execution,
        "retrait" => Step::Withdrawal,
        _ => return (StatusCode::NOT_FOUND, "").into_response(),
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body)
        .take(EXCEPTIONS_OFFERED + 16)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let form = StepForm {
        csrf: field("csrf"),
        decision: field("decision"),
        commentaire: field("commentaire"),
        autres: field("autres"),
    };
    let mut except: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "excepte")
        .map(|(_, v)| v.clone())
        .collect();
    except.extend(
        form.autres
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(100_000)
            .map(str::to_owned),
    );
    let action = match step {
        Step::Agreement => Action::EliminationAgree,
        Step::Visa => Action::EliminationVisa,
        Step::Execution => Action::EliminationExecute,
        Step::Withdrawal => Action::EliminationPropose,
    };
    let Signed {
        session,
        principal,
        tenant,
    } = match signed(&state, &ctx, Ask::to(action), Some(&form.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(id) = elimination_id(&id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Cette élimination n’existe pas.",
        );
    };
    let comment = optional(&form.commentaire);
    let decision = form.decision.clone();
    let choice = match (step, decision.as_str()) {
        (Step::Agreement, "accord") | (Step::Visa, "accorde") => Some(true),
        (Step::Agreement, "refus") | (Step::Visa, "refuse") => Some(false),
        (Step::Execution | Step::Withdrawal, _) => None,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                Some(&session),
                "Choisissez une décision (accord ou refus), puis enregistrez-la.",
            );
        }
    };
    let archive = state.archive.clone();
    let login = principal.login.clone();
    let t = tenant.clone();
    let target = id.clone();
    let done = blocking(move || {
        Ok(match step {
            Step::Agreement => archive.agree_elimination(
                &t,
                &target,
                choice == Some(true),
                comment.as_deref(),
                &login,
            )?,
            Step::Visa => archive.visa_elimination(
                &t,
                &target,
                Visa::Decision {
                    granted: choice == Some(true),
                    except,
                    comment,
                },
                &login,
            )?,
            Step::Execution => archive.execute_elimination(&t, &target, &login)?,
            Step::Withdrawal => {
                archive.withdraw_elimination(&t, &target, comment.as_deref(), &login)?
            }
        })
    })
    .await;
    match done {
        Ok(_) => Redirect::to(&format!("/eliminations/{id}")).into_response(),
        Err(e) if e.status() == StatusCode::CONFLICT || e.status() == StatusCode::BAD_REQUEST => {
            error_page(
                e.status(),
                Some(&session),
                &format!(
                    "Cette étape n’a pas pu être enregistrée : {}. Revenez à la page de l’élimination pour voir où elle en est.",
                    e.message()
                ),
            )
        }
        Err(e) => refusal(e, Some(&session)),
    }
}

/// A document of an elimination: the bordereau (HTML, PDF), the certificate and its
/// signature, as the API gives them, saved under their names.
pub(crate) async fn document(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path((id, which)): Path<(String, String)>,
) -> Response {
    use carnac_archive::elimination as e;
    let Signed {
        session, tenant, ..
    } = match signed(&state, &ctx, Ask::to(Action::EliminationRead), None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (name, kind, file) = match which.as_str() {
        "bordereau.pdf" => (e::BORDEREAU_PDF, "application/pdf", "bordereau.pdf"),
        "bordereau.html" => (
            e::BORDEREAU_HTML,
            "text/html; charset=utf-8",
            "bordereau.html",
        ),
        "certificat.json" => (e::CERTIFICATE_JSON, "application/json", "certificat.json"),
        "certificat.p7s" => (
            e::CERTIFICATE_P7S,
            "application/pkcs7-signature",
            "certificat.p7s",
        ),
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                Some(&session),
                "Ce document n’existe pas.",
            );
        }
    };
    let Some(id) = elimination_id(&id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Cette élimination n’existe pas.",
        );
    };
    let archive = state.archive.clone();
    let uploads = state.uploads.clone();
    let copied = blocking(move || {
        let mut out = tempfile::tempfile_in(&uploads).map_err(|e| {
            tracing::error!(error = %e, "a scratch file for a document");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the document could not be copied",
            )
        })?;
        archive.copy_elimination_document(&tenant, &id, name, &mut out)?;
        Ok(out)
    })
    .await;
    match copied {
        Ok(out) => super::attachment(out, kind, file),
        Err(e) => refusal(e, Some(&session)),
    }
}
