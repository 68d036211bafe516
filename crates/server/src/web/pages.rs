//! The pages: their data, their templates (`templates/`, checked when the binary builds,
//! HTML-escaped) and their handlers.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use carnac_archive::web_sessions::{SignIn, WebSession};
use carnac_model::access::{Action, Decision, Principal, Role};
use carnac_model::{OperationId, TenantId};

use super::{LOGIN_COOKIE, SESSION_COOKIE, cookie, fr, same_token, set_cookie};
use crate::auth::{self, Credentials, Presented};
use crate::{ApiError, AppState, blocking};

/// What every page's frame shows.
pub(crate) struct Page {
    pub(super) title: String,
    pub(super) css: &'static str,
    /// The account signed in.
    pub(super) who: Option<String>,
    pub(super) tenant: Option<String>,
    /// The token of its forms.
    pub(super) csrf: String,
    /// The menu: the pages the account may open on the tenant it chose.
    pub(super) menu: Vec<(&'static str, &'static str)>,
    /// The script's path, for the pages that use it.
    pub(super) script: &'static str,
}

/// The pages of the menu, each with the action that opens it (on the tenant chosen).
const MENU: &[(&str, &str, Action)] = &[
    ("/recherche", "Rechercher", Action::UnitSearch),
    ("/versements", "Versements", Action::OperationRead),
    ("/eliminations", "Éliminations", Action::EliminationRead),
    ("/communications", "Communications", Action::DeliveryRead),
    ("/transferts", "Transferts", Action::TransferOutRead),
    ("/restitutions", "Restitutions", Action::RestitutionRead),
    ("/journal", "Journal et preuves", Action::JournalRead),
];

impl Page {
    pub(super) fn new(title: &str, session: Option<&WebSession>) -> Page {
        Page {
            title: fr::typography(title),
            css: super::stylesheet_path(),
            who: session.map(|s| s.principal.login.clone()),
            tenant: session.and_then(|s| s.tenant.as_ref().map(ToString::to_string)),
            csrf: session.map(|s| s.csrf.clone()).unwrap_or_default(),
            menu: session.map(menu).unwrap_or_default(),
            script: super::script_path(),
        }
    }
}

/// What the menu offers: decided as the pages will be (a producer reads its own transfers),
/// so that it shows no page that would refuse.
fn menu(session: &WebSession) -> Vec<(&'static str, &'static str)> {
    let mut menu = vec![("/", "Accueil")];
    let p = &session.principal;
    if let Some(tenant) = &session.tenant {
        menu.extend(
            MENU.iter()
                .filter(|(_, _, action)| {
                    carnac_model::access::decide(p, *action, Some(tenant), Some(&p.login))
                        == Decision::Allow
                })
                .map(|(href, label, _)| (*href, *label)),
        );
    }
    if carnac_model::access::decide(p, Action::TenantList, None, None) == Decision::Allow {
        menu.push(("/administration", "Administration"));
    }
    menu
}

#[derive(Template)]
#[template(path = "connexion.html")]
struct SignInPage {
    page: Page,
    error: Option<String>,
    /// What to know before signing in (a session that ended).
    notice: Option<String>,
    login: String,
}

#[derive(Template)]
#[template(path = "accueil.html")]
struct HomePage {
    page: Page,
    heading: String,
    message: Option<String>,
    /// Whether the account may search the tenant chosen.
    searchable: bool,
    volume: Option<Volume>,
    /// The latest transfers (the account's own for a producer), when it may read them.
    transfers: Option<Vec<super::transfers::Row>>,
    integrity: Option<Integrity>,
    /// What waits for the account's step: (link, text).
    waiting: Vec<(String, String)>,
    tenants: Vec<TenantChoice>,
}

struct Integrity {
    audit: String,
    seal: String,
    pending: String,
}

struct Volume {
    units: String,
    files: String,
    bytes: String,
    copies: String,
    /// Units by year of their dates, the latest years first.
    years: Vec<(String, String)>,
    /// What came in each year: (year, transfers, units, files, size), the latest first.
    intake: Vec<(String, String, String, String, String)>,
}

/// Transfers the home page lists.
const HOME_TRANSFERS: u64 = 5;

/// `le 2 décembre 2026 à 14 h 05 (réussi)`, or what says there was none.
fn last_done(o: Option<&carnac_catalog::Operation>, none: &str) -> String {
    match o {
        None => none.to_owned(),
        Some(o) => {
            let outcome = match o.status {
                Some(carnac_model::Status::Ok) => "réussi",
                Some(carnac_model::Status::Warning) => "avec avertissements",
                Some(carnac_model::Status::Ko) => "en échec",
                None => "en cours",
            };
            format!("le {} ({outcome})", fr::timestamp(&o.started_at))
        }
    }
}

struct TenantChoice {
    id: String,
    name: String,
    chosen: bool,
}

#[derive(Template)]
#[template(path = "erreur.html")]
struct ErrorPage {
    page: Page,
    message: String,
}

pub(super) fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "erreur interne").into_response()
        }
    }
}

/// A page that says what went wrong and what to do.
pub(super) fn error_page(
    status: StatusCode,
    session: Option<&WebSession>,
    message: &str,
) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => "Accès refusé",
        StatusCode::NOT_FOUND => "Page introuvable",
        StatusCode::BAD_REQUEST => "Demande incorrecte",
        StatusCode::TOO_MANY_REQUESTS => "Trop de demandes",
        StatusCode::SERVICE_UNAVAILABLE => "Archive occupée",
        _ => "Erreur",
    };
    html(
        status,
        &ErrorPage {
            page: Page::new(title, session),
            message: fr::typography(message),
        },
    )
}

/// An API error as a page (an unauthenticated one sends to the sign-in page).
pub(super) fn refusal(e: ApiError, session: Option<&WebSession>) -> Response {
    let status = e.status();
    let message = match status {
        StatusCode::UNAUTHORIZED => return Redirect::to("/connexion").into_response(),
        StatusCode::FORBIDDEN => {
            "Votre compte n’a pas accès à cette page. Si vous pensez qu’il le devrait, adressez-vous à l’administrateur de l’archive."
        }
        StatusCode::NOT_FOUND => {
            "Ce que vous cherchez n’existe pas, ou votre compte n’y a pas accès."
        }
        StatusCode::TOO_MANY_REQUESTS => {
            "Trop de demandes en peu de temps : attendez quelques minutes, puis réessayez."
        }
        StatusCode::SERVICE_UNAVAILABLE => "L’archive est occupée : réessayez dans un instant.",
        StatusCode::BAD_REQUEST => {
            "La demande est incorrecte : revenez à la page précédente et vérifiez ce que vous avez saisi."
        }
        _ => {
            "Une erreur est survenue ; elle est consignée dans les journaux de l’archive. Réessayez, puis prévenez l’administrateur si elle se répète."
        }
    };
    error_page(status, session, message)
}

/// What a page's handler reads of its request.
pub(crate) struct Ctx {
    presented: Presented,
    over_tls: bool,
    method: axum::http::Method,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Ctx, Self::Rejection> {
        let presented = Presented::from_request_parts(parts, state).await?;
        Ok(Ctx {
            presented,
            over_tls: parts.extensions.get::<crate::listen::OverTls>().is_some(),
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
        })
    }
}

impl Ctx {
    fn headers(&self) -> &HeaderMap {
        &self.presented.headers
    }
}

/// Where a request without a session goes: the sign-in page, which says the session ended
/// when the request still carried one's cookie (expired, or ended elsewhere), and forgets
/// that cookie.
pub(super) fn to_sign_in(ctx: &Ctx) -> Response {
    if cookie(ctx.headers(), SESSION_COOKIE).is_none_or(|c| c.is_empty()) {
        return Redirect::to("/connexion").into_response();
    }
    let mut response = Redirect::to("/connexion?session=terminee").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", Some(0), ctx.over_tls).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The session of the request's cookie, with its token.
pub(super) async fn session(
    state: &Arc<AppState>,
    ctx: &Ctx,
) -> Result<Option<(String, WebSession)>, ApiError> {
    let Some(token) = cookie(ctx.headers(), SESSION_COOKIE) else {
        return Ok(None);
    };
    let archive = state.archive.clone();
    blocking(move || Ok(archive.web_session(&token)?.map(|session| (token, session)))).await
}

/// What a page asks to do: an action, about an operation or the account's own ones.
#[derive(Clone, Copy)]
pub(super) struct Ask<'a> {
    pub action: Action,
    /// The operation a [`Action::OperationRead`] is about (its owner decides for producers).
    pub operation: Option<&'a OperationId>,
    /// About the account's own operations only (a producer's list of its transfers).
    pub own: bool,
}

impl Ask<'_> {
    pub(super) fn to(action: Action) -> Ask<'static> {
        Ask {
            action,
            operation: None,
            own: false,
        }
    }
}

/// The decision for `ask` (on `tenant`), journaled as the API's are.
pub(super) async fn authorize(
    state: &Arc<AppState>,
    ctx: &Ctx,
    principal: &Principal,
    ask: Ask<'_>,
    tenant: Option<&TenantId>,
) -> Result<Principal, ApiError> {
    auth::authorize_as(
        state,
        &ctx.presented,
        Credentials::Session(principal.clone()),
        auth::Request {
            method: &ctx.method,
            path: &ctx.path,
            action: ask.action,
            tenant,
            operation: ask.operation,
            own: ask.own,
            subject: ask.operation.map(OperationId::as_str),
        },
    )
    .await
}

/// A request of a signed-in account for a page of the platform (no tenant of its own, or
/// `tenant` given by the page), allowed what it asks; with `csrf`, the form's token checked
/// first.
pub(super) async fn signed_platform(
    state: &Arc<AppState>,
    ctx: &Ctx,
    ask: Ask<'_>,
    tenant: Option<&TenantId>,
    csrf: Option<&str>,
) -> Result<(WebSession, Principal), Response> {
    let session = match session(state, ctx).await {
        Ok(Some((_, s))) => s,
        Ok(None) => return Err(to_sign_in(ctx)),
        Err(e) => return Err(refusal(e, None)),
    };
    if let Some(csrf) = csrf
        && !same_token(&session.csrf, csrf)
    {
        return Err(forged(&session));
    }
    match authorize(state, ctx, &session.principal, ask, tenant).await {
        Ok(principal) => Ok((session, principal)),
        Err(e) => Err(refusal(e, Some(&session))),
    }
}

/// A request of a signed-in account, on the tenant it chose, allowed what its page asks.
pub(super) struct Signed {
    pub session: WebSession,
    pub principal: Principal,
    pub tenant: TenantId,
}

/// The session of the request, its tenant and the decision for `ask`; with `csrf`, the
/// form's token checked first. Otherwise the answer to send: the sign-in page without a
/// session, the home page (to choose one) without a tenant, a refusal.
pub(super) async fn signed(
    state: &Arc<AppState>,
    ctx: &Ctx,
    ask: Ask<'_>,
    csrf: Option<&str>,
) -> Result<Signed, Response> {
    let session = match session(state, ctx).await {
        Ok(Some((_, s))) => s,
        Ok(None) => return Err(to_sign_in(ctx)),
        Err(e) => return Err(refusal(e, None)),
    };
    if let Some(csrf) = csrf
        && !same_token(&session.csrf, csrf)
    {
        return Err(forged(&session));
    }
    let Some(tenant) = session.tenant.clone() else {
        return Err(Redirect::to("/").into_response());
    };
    match authorize(state, ctx, &session.principal, ask, Some(&tenant)).await {
        Ok(principal) => Ok(Signed {
            session,
            principal,
            tenant,
        }),
        Err(e) => Err(refusal(e, Some(&session))),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm {
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct TenantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tenant: String,
}

impl SignInPage {
    /// The sign-in form, with a fresh token (bound to a cookie of its own by
    /// [`SignInPage::respond`]).
    fn new(error: Option<&str>, login: &str) -> SignInPage {
        let mut bytes = [0u8; 24];
        // A failure to draw leaves the token empty: the form is then refused when sent, as
        // one from elsewhere is, and says so.
        let csrf = match getrandom::fill(&mut bytes) {
            Ok(()) => hex::encode(bytes),
            Err(e) => {
                tracing::error!(error = %e, "drawing a form token");
                String::new()
            }
        };
        let mut page = Page::new("Connexion", None);
        page.csrf = csrf;
        SignInPage {
            page,
            error: error.map(fr::typography),
            notice: None,
            login: login.chars().take(128).collect(),
        }
    }

    /// The page, its token's cookie set for 10 minutes.
    fn respond(self, ctx: &Ctx, status: StatusCode) -> Response {
        let csrf = self.page.csrf.clone();
        let mut response = html(status, &self);
        if let Ok(v) = set_cookie(LOGIN_COOKIE, &csrf, Some(600), ctx.over_tls).parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }
}

/// The sign-in form with an error (or none), the login given kept.
fn sign_in_page(ctx: &Ctx, status: StatusCode, error: Option<&str>, login: &str) -> Response {
    SignInPage::new(error, login).respond(ctx, status)
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct SignInQuery {
    session: Option<String>,
}

pub(crate) async fn sign_in_form(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> Response {
    match session(&state, &ctx).await {
        Ok(Some(_)) => Redirect::to("/").into_response(),
        Ok(None) => {
            let mut page = SignInPage::new(None, "");
            if q.session.as_deref() == Some("terminee") {
                page.notice = Some(fr::typography(
                    "Votre session a pris fin (après un temps sans activité, ou fermée ailleurs) : reconnectez-vous pour continuer.",
                ));
            }
            page.respond(&ctx, StatusCode::OK)
        }
        Err(e) => refusal(e, None),
    }
}

pub(crate) async fn sign_in(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Form(form): Form<SignInForm>,
) -> Response {
    let expected = cookie(ctx.headers(), LOGIN_COOKIE).unwrap_or_default();
    if !same_token(&expected, &form.csrf) {
        return sign_in_page(
            &ctx,
            StatusCode::FORBIDDEN,
            Some(
                "Le formulaire a expiré ou ne vient pas de cette archive : saisissez de nouveau votre identifiant et votre mot de passe.",
            ),
            &form.login,
        );
    }
    if form.login.len() > 128 || form.password.len() > 1024 {
        return sign_in_page(
            &ctx,
            StatusCode::UNAUTHORIZED,
            Some("Identifiant ou mot de passe incorrect."),
            "",
        );
    }
    let archive = state.archive.clone();
    let address = ctx.presented.address;
    let login = form.login.clone();
    let path = ctx.path.clone();
    let outcome = blocking(move || {
        let outcome = archive.sign_in(&login, &form.password, address)?;
        // A refusal is journaled as the API's are (a success is, with its session).
        let refused = match &outcome {
            SignIn::Opened { .. } => None,
            SignIn::Refused => Some((Decision::Unauthenticated, "wrong credentials")),
            SignIn::Locked(_) => Some((Decision::Throttled, "locked after failed logins")),
            SignIn::Busy => Some((Decision::Throttled, "not checked: busy")),
        };
        if let Some((decision, why)) = refused {
            let given = carnac_model::journal::bounded_text(&login, 128);
            archive.record_access(&carnac_archive::accounts::Access {
                who: &format!("{given} ({why})"),
                principal: None,
                address,
                method: "POST",
                path: &path,
                action: "web_sign_in",
                tenant: None,
                decision: &decision,
                subject: None,
            })?;
        }
        Ok(outcome)
    })
    .await;
    match outcome {
        Ok(SignIn::Opened { token, .. }) => {
            let mut response = Redirect::to("/").into_response();
            let headers = response.headers_mut();
            for c in [
                set_cookie(SESSION_COOKIE, &token, None, ctx.over_tls),
                set_cookie(LOGIN_COOKIE, "", Some(0), ctx.over_tls),
            ] {
                if let Ok(v) = c.parse() {
                    headers.append(header::SET_COOKIE, v);
                }
            }
            response
        }
        Ok(SignIn::Refused) => sign_in_page(
            &ctx,
            StatusCode::UNAUTHORIZED,
            Some("Identifiant ou mot de passe incorrect."),
            &form.login,
        ),
        Ok(SignIn::Locked(_)) | Ok(SignIn::Busy) => {
            tokio::time::sleep(crate::TARPIT).await;
            sign_in_page(
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                Some(
                    "Trop de tentatives de connexion : attendez quelques minutes, puis réessayez.",
                ),
                &form.login,
            )
        }
        Err(e) => refusal(e, None),
    }
}

pub(crate) async fn sign_out(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (token, session) = match session(&state, &ctx).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/connexion").into_response(),
        Err(e) => return refusal(e, None),
    };
    if !same_token(&session.csrf, &form.csrf) {
        return forged(&session);
    }
    let archive = state.archive.clone();
    if let Err(e) = blocking(move || Ok(archive.sign_out(&token)?)).await {
        return refusal(e, Some(&session));
    }
    let mut response = Redirect::to("/connexion").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", Some(0), ctx.over_tls).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// A form whose token is not its session's: refused, nothing done.
pub(super) fn forged(session: &WebSession) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        Some(session),
        "La demande n’a pas pu être vérifiée (elle ne vient pas d’un formulaire de cette session) : rechargez la page, puis recommencez.",
    )
}

pub(crate) async fn home(State(state): State<Arc<AppState>>, ctx: Ctx) -> Response {
    let session = match session(&state, &ctx).await {
        Ok(Some((_, s))) => s,
        Ok(None) => return to_sign_in(&ctx),
        Err(e) => return refusal(e, None),
    };
    let principal = match authorize(
        &state,
        &ctx,
        &session.principal,
        Ask::to(Action::Identify),
        None,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return refusal(e, Some(&session)),
    };
    // The parts of the page, each decided as its own page would be (a producer's
    // transfers are its own); the page itself is what is journaled.
    let allowed = |action: Action| {
        session.tenant.clone().filter(|t| {
            carnac_model::access::decide(&principal, action, Some(t), Some(&principal.login))
                == Decision::Allow
        })
    };
    let volume = allowed(Action::UnitSearch);
    let transfers = allowed(Action::OperationRead);
    let integrity = allowed(Action::JournalRead);
    // The eliminations waiting for a step this account takes: its states, and what to say.
    let steps: Vec<(carnac_model::elimination::EliminationState, &str)> = {
        use carnac_model::elimination::EliminationState as S;
        [
            (
                Action::EliminationAgree,
                S::Proposed,
                "attend votre réponse de producteur",
            ),
            (Action::EliminationVisa, S::Agreed, "attend votre visa"),
            (
                Action::EliminationExecute,
                S::VisaGranted,
                "a son visa et attend son exécution",
            ),
            (
                Action::EliminationExecute,
                S::VisaPartlyGranted,
                "a son visa (avec exceptions) et attend son exécution",
            ),
        ]
        .into_iter()
        .filter(|(action, _, _)| allowed(*action).is_some())
        .map(|(_, state, text)| (state, text))
        .collect()
    };
    let eliminations = (!steps.is_empty())
        .then(|| allowed(Action::EliminationRead))
        .flatten();
    let authorizations = allowed(Action::DeliveryAuthorize);
    let own = (principal.role == Role::Producer).then(|| principal.login.clone());
    let archive = state.archive.clone();
    let chosen = session.tenant.clone();
    let st = state.clone();
    let data = blocking(move || {
        let all = archive.catalog().tenants()?;
        let tenants: Vec<TenantChoice> = all
            .into_iter()
            .filter(|t| !carnac_model::access::is_reserved(&t.id))
            .filter(|t| principal.role == Role::Operator || principal.tenants.contains(&t.id))
            .map(|t| TenantChoice {
                chosen: chosen.as_ref() == Some(&t.id),
                id: t.id.to_string(),
                name: t.name,
            })
            .collect();
        let volume = match &volume {
            Some(t) => {
                let v = st.volume(t)?;
                let c = &v.counts;
                Some(Volume {
                    units: fr::integer(c.units),
                    files: fr::integer(c.objects),
                    bytes: fr::size(c.bytes),
                    copies: fr::integer(c.copies),
                    years: Vec::new(),
                    intake: v
                        .intake
                        .iter()
                        .take(12)
                        .map(|y| {
                            (
                                y.year.clone(),
                                fr::integer(y.transfers),
                                fr::integer(y.units),
                                fr::integer(y.objects),
                                fr::size(y.bytes),
                            )
                        })
                        .collect(),
                })
            }
            None => None,
        };
        let transfers = match &transfers {
            Some(t) => {
                let (queued, done) = archive.transfers(
                    t,
                    &carnac_catalog::OperationPage {
                        kind: carnac_model::journal::EventKind::Ingest,
                        status: None,
                        agent: own,
                        before: None,
                        limit: HOME_TRANSFERS,
                    },
                )?;
                Some(
                    queued
                        .iter()
                        .map(super::transfers::queued_row)
                        .chain(done.iter().map(super::transfers::operation_row))
                        .take(HOME_TRANSFERS as usize)
                        .collect::<Vec<_>>(),
                )
            }
            None => None,
        };
        let integrity = match &integrity {
            Some(t) => {
                let i = archive.integrity_state(t)?;
                Some(Integrity {
                    audit: last_done(i.last_audit.as_ref(), "aucun audit pour l’instant"),
                    seal: last_done(i.last_seal.as_ref(), "aucun sceau pour l’instant"),
                    pending: if i.evidence_pending >= carnac_archive::reading::PENDING_COUNTED {
                        format!("au moins {}", fr::integer(i.evidence_pending as u64))
                    } else {
                        fr::integer(i.evidence_pending as u64)
                    },
                })
            }
            None => None,
        };
        let mut waiting = Vec::new();
        if let Some(t) = &eliminations {
            for e in archive.eliminations(t)? {
                if let Some((_, text)) = steps.iter().find(|(s, _)| *s == e.state) {
                    // A producer bound to some agencies answers for theirs only.
                    if e.state == carnac_model::elimination::EliminationState::Proposed
                        && !archive.answers_for(t, &e.id, &principal.login)?
                    {
                        continue;
                    }
                    waiting.push((
                        format!("/eliminations/{}", e.id),
                        format!(
                            "L’élimination proposée le {} ({} unités) {text}.",
                            fr::timestamp(&e.proposed_at),
                            fr::integer(e.totals["units"].as_u64().unwrap_or(0))
                        ),
                    ));
                }
            }
        }
        if let Some(t) = &authorizations {
            for d in archive.deliveries(t, None)? {
                if d.state == carnac_model::delivery::DeliveryState::AwaitingAuthorization {
                    waiting.push((
                        format!("/communications/{}", d.id),
                        format!(
                            "La communication demandée le {} par {} attend votre décision sur sa dérogation.",
                            fr::timestamp(&d.requested_at),
                            d.requested_by
                        ),
                    ));
                }
            }
        }
        Ok((tenants, volume, transfers, integrity, waiting))
    })
    .await;
    let (tenants, mut volume, transfers, integrity, waiting) = match data {
        Ok(d) => d,
        Err(e) => return refusal(e, Some(&session)),
    };
    // Units by year: the search's own facet, counted as the search counts it.
    if let (Some(v), Some(t)) = (volume.as_mut(), session.tenant.clone()) {
        let all = carnac_catalog::UnitQuery {
            limit: 0,
            ..Default::default()
        };
        if let Ok(found) = crate::routes::units::search_units(&state, t, all).await {
            let mut years: Vec<_> = found.years.iter().collect();
            years.sort_by(|a, b| b.value.cmp(&a.value));
            v.years = years
                .into_iter()
                .take(12)
                .map(|f| (f.value.clone(), fr::integer(f.count)))
                .collect();
        }
    }
    let heading = match &session.tenant {
        Some(t) => format!("Accueil — {t}"),
        None => "Accueil".to_owned(),
    };
    let message = (session.tenant.is_none() && !tenants.is_empty())
        .then(|| fr::typography("Choisissez le service d’archives sur lequel travailler."));
    html(
        StatusCode::OK,
        &HomePage {
            page: Page::new("Accueil", Some(&session)),
            heading,
            message,
            searchable: volume.is_some(),
            volume,
            transfers,
            integrity,
            waiting,
            // An account of one tenant has nothing to choose.
            tenants: if tenants.len() > 1 || session.tenant.is_none() {
                tenants
            } else {
                Vec::new()
            },
        },
    )
}

pub(crate) async fn choose_tenant(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Form(form): Form<TenantForm>,
) -> Response {
    let (token, session) = match session(&state, &ctx).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/connexion").into_response(),
        Err(e) => return refusal(e, None),
    };
    if !same_token(&session.csrf, &form.csrf) {
        return forged(&session);
    }
    let Ok(tenant) = TenantId::new(&form.tenant) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            Some(&session),
            "Ce service d’archives n’existe pas : choisissez-en un dans la liste.",
        );
    };
    if let Err(e) = authorize(
        &state,
        &ctx,
        &session.principal,
        Ask::to(Action::Identify),
        Some(&tenant),
    )
    .await
    {
        return refusal(e, Some(&session));
    }
    let archive = state.archive.clone();
    match blocking(move || Ok(archive.choose_web_tenant(&token, &tenant)?)).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => refusal(e, Some(&session)),
    }
}

/// The stylesheet and the script, under their content's name only.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let path = format!("/static/{file}");
    let (kind, body) = if path == super::stylesheet_path() {
        ("text/css; charset=utf-8", super::STYLESHEET)
    } else if path == super::script_path() {
        ("text/javascript; charset=utf-8", super::SCRIPT)
    } else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
