//! Who is asking, and may they: credentials from the request, the decision of
//! [`carnac_model::access::decide`], and the journal event of every request, allowed or not.
//!
//! Credentials: `Authorization: Bearer <API token>`, or HTTP Basic with the SHA-256 hex of
//! the password (what as@lae clients such as Pastell send). A refusal says why in its code
//! (`unauthenticated`, `forbidden`, `throttled`) without telling whether what was asked for
//! exists.
//!
//! Every request under `/api/v1` and the as@lae intake is journaled: by [`authorize`] when
//! its handler gets that far, otherwise (a malformed identifier, an unknown route, a body
//! the extractor refused) by [`journal_guard`] once the response is known.

use crate::listen::ClientAddress;
use crate::tls::ClientCertificate;
use crate::{ApiError, AppState, blocking};
use axum::http::{HeaderMap, Method, StatusCode, header};
use base64::Engine;
use carnac_archive::accounts::{Access, PasswordCheck};
use carnac_model::access::{Action, Decision, Principal, Role, decide};
use carnac_model::{OperationId, TenantId};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a request asks for, to decide and to journal.
pub(crate) struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub action: Action,
    pub tenant: Option<&'a TenantId>,
    /// The operation a [`Action::OperationRead`] is about: its owner decides for producers.
    pub operation: Option<&'a OperationId>,
    /// The request is about the account's own operations only (a list of them): a
    /// producer may then read them without naming one.
    pub own: bool,
    /// What the request is about, for the journal.
    pub subject: Option<&'a str>,
}

/// Set once a request's event is in the journal ([`journal_guard`] journals the others).
#[derive(Debug, Clone, Default)]
pub(crate) struct JournalMark(Arc<AtomicBool>);

impl JournalMark {
    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Where an allowed request keeps its account's place ([`crate::fair::FairGate`]) until
/// [`journal_guard`] has its response.
#[derive(Clone, Default)]
pub(crate) struct AccountPlace(Arc<std::sync::Mutex<Option<crate::fair::FairPermit>>>);

/// What the caller presented: the request's headers, over TLS its client certificate, and
/// the address it came from.
pub(crate) struct Presented {
    pub headers: HeaderMap,
    pub client: Option<ClientCertificate>,
    pub address: Option<IpAddr>,
    mark: Option<JournalMark>,
    place: Option<AccountPlace>,
}

impl std::ops::Deref for Presented {
    type Target = HeaderMap;
    fn deref(&self) -> &HeaderMap {
        &self.headers
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Presented {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Presented, Self::Rejection> {
        Ok(Presented {
            headers: parts.headers.clone(),
            client: parts.extensions.get::<ClientCertificate>().cloned(),
            address: parts.extensions.get::<ClientAddress>().map(|a| a.0),
            mark: parts.extensions.get::<JournalMark>().cloned(),
            place: parts.extensions.get::<AccountPlace>().cloned(),
        })
    }
}

pub(crate) enum Credentials {
    None,
    /// A web session's account, found from its cookie ([`crate::web`]).
    Session(Principal),
    Token(String),
    Basic {
        login: String,
        digest: String,
    },
    Certificate(Vec<u8>),
    Malformed,
}

fn credentials(headers: &HeaderMap, client: Option<&ClientCertificate>) -> Credentials {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        // No header: the TLS client certificate, if one was presented and verified.
        return match client {
            Some(c) => Credentials::Certificate(c.0.clone()),
            None => Credentials::None,
        };
    };
    let Ok(value) = value.to_str() else {
        return Credentials::Malformed;
    };
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Credentials::Token(token.trim().to_owned());
    }
    if let Some(b64) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((login, digest)) = decoded.as_deref().and_then(|s| s.split_once(':')) {
            return Credentials::Basic {
                login: login.to_owned(),
                digest: digest.to_owned(),
            };
        }
    }
    Credentials::Malformed
}

/// Authenticates and authorizes a request, and journals it either way.
pub(crate) async fn authorize(
    state: &AppState,
    presented: &Presented,
    request: Request<'_>,
) -> Result<Principal, ApiError> {
    let credentials = credentials(&presented.headers, presented.client.as_ref());
    authorize_as(state, presented, credentials, request).await
}

/// [`authorize`] with the credentials given (a web session's account, which only the web
/// application's routes take: the API does not read cookies).
pub(crate) async fn authorize_as(
    state: &AppState,
    presented: &Presented,
    credentials: Credentials,
    request: Request<'_>,
) -> Result<Principal, ApiError> {
    let archive = state.archive.clone();
    let method = request.method.to_string();
    let path = request.path.to_owned();
    let action = request.action;
    let tenant = request.tenant.cloned();
    let operation = request.operation.cloned();
    let own = request.own;
    let subject = request.subject.map(str::to_owned);
    let address = presented.address;
    let mark = presented.mark.clone();
    let rates = state.gates().rates.clone();
    let principal = blocking(move || {
        let caller = authenticate(&archive, credentials, address)?;
        let mut decision = match &caller {
            Caller::Known(_, p) if own => decide(p, action, tenant.as_ref(), Some(&p.login)),
            Caller::Known(_, p) => {
                decide_owned(&archive, p, action, tenant.as_ref(), operation.as_ref())?
            }
            Caller::Throttled(..) | Caller::Busy(_) => Decision::Throttled,
            Caller::Unknown(_) => Decision::Unauthenticated,
        };
        let over_rate = journal_decision(
            &archive,
            &rates,
            &caller,
            &mut decision,
            &Asked {
                address,
                method: &method,
                path: &path,
                action,
                tenant: tenant.as_ref(),
                subject: subject.as_deref(),
            },
            mark.as_ref(),
        )?;
        match (decision, caller) {
            (Decision::Allow, Caller::Known(_, p)) => Ok(p),
            _ if over_rate => Err(rate_limited(&rates)),
            (_, Caller::Throttled(_, wait)) => Err(throttled(wait)),
            (_, Caller::Busy(_)) => Err(busy()),
            (decision, _) => Err(refusal(decision)),
        }
    })
    .await;
    let principal = tarpit(principal).await?;
    take_place(state, presented, &principal.login).await?;
    Ok(principal)
}

/// A refusal for being throttled waits [`crate::TARPIT`] before it is sent.
async fn tarpit<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &result
        && e.status() == StatusCode::TOO_MANY_REQUESTS
    {
        tokio::time::sleep(crate::TARPIT).await;
    }
    result
}

/// Waits for a place among the account's requests (at most its share of those the server
/// handles at once): one account's flood of requests queues behind itself.
async fn take_place(state: &AppState, presented: &Presented, login: &str) -> Result<(), ApiError> {
    let Some(place) = &presented.place else {
        return Ok(());
    };
    let permit = state
        .gates()
        .requests
        .enter(login, state.limits.request_wait)
        .await
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "this account has as many requests running as it may: try again in a moment",
            )
            .retry_after(1)
        })?;
    *place.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(permit);
    Ok(())
}

/// Journals, in the platform's journal, a request that ended before its handler journaled
/// it: an identifier that is not one, an unknown route, a body its extractor refused.
pub(crate) async fn journal_guard(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path().to_owned();
    let watched = (path == "/api/v1"
        || path.starts_with("/api/v1/") && path != "/api/v1/openapi.json")
        || (path.starts_with(&state.asalae_base) && !path.ends_with("/ping"));
    if !watched {
        return next.run(request).await;
    }
    let mark = JournalMark::default();
    request.extensions_mut().insert(mark.clone());
    // Held until the response is made: the account's place among the requests at once.
    let place = AccountPlace::default();
    request.extensions_mut().insert(place.clone());
    let credentials = credentials(
        request.headers(),
        request.extensions().get::<ClientCertificate>(),
    );
    let address = request.extensions().get::<ClientAddress>().map(|a| a.0);
    let method = request.method().to_string();
    let response = next.run(request).await;
    drop(place);
    if mark.is_set() {
        return response;
    }
    let archive = state.archive.clone();
    let status = response.status();
    let recorded = blocking(move || {
        let caller = authenticate(&archive, credentials, address)?;
        archive.record_access(&Access {
            who: caller.who(),
            principal: caller.principal(),
            address,
            method: &method,
            path: &path,
            action: "invalid_request",
            tenant: None,
            decision: &Decision::InvalidRequest,
            subject: Some(status.as_str()),
        })?;
        Ok(())
    })
    .await;
    if let Err(e) = recorded {
        tracing::error!(error = ?e, "journaling a request that failed before its handler");
    }
    response
}

/// What the as@lae intake learns while authorizing: the caller, its tenant, and the transfer
/// asked about.
pub(crate) struct IntakeCaller {
    pub principal: Principal,
    pub tenant: TenantId,
    pub message: Option<carnac_catalog::IntakeMessage>,
}

/// Authorizes a request of the as@lae intake, and journals it either way. Its URLs name no
/// tenant: the caller's account must work on exactly one, which the request is about. With
/// `message` (origin agency, transfer identifier), the transfer is looked up in that tenant,
/// and a producer may only read its own.
pub(crate) async fn authorize_intake(
    state: &AppState,
    presented: &Presented,
    method: &Method,
    path: &str,
    action: Action,
    message: Option<(String, String)>,
) -> Result<IntakeCaller, ApiError> {
    let credentials = credentials(&presented.headers, presented.client.as_ref());
    let archive = state.archive.clone();
    let method = method.to_string();
    let path = path.to_owned();
    let address = presented.address;
    let mark = presented.mark.clone();
    let rates = state.gates().rates.clone();
    let caller = blocking(move || {
        let caller = authenticate(&archive, credentials, address)?;
        let tenant = caller
            .principal()
            .and_then(|p| (p.tenants.len() == 1).then(|| p.tenants[0].clone()));
        let found = match (&tenant, &message) {
            (Some(t), Some((origin, id))) => archive.intake_message(t, origin, id)?,
            _ => None,
        };
        let mut decision = match (&caller, &tenant) {
            (Caller::Throttled(..) | Caller::Busy(_), _) => Decision::Throttled,
            (Caller::Unknown(_), _) => Decision::Unauthenticated,
            (Caller::Known(..), None) => Decision::OtherTenant,
            (Caller::Known(_, p), Some(t)) => decide_owned(
                &archive,
                p,
                action,
                Some(t),
                found.as_ref().map(|m| &m.operation),
            )?,
        };
        let subject = message.as_ref().map(|(o, id)| format!("{o}/{id}"));
        let over_rate = journal_decision(
            &archive,
            &rates,
            &caller,
            &mut decision,
            &Asked {
                address,
                method: &method,
                path: &path,
                action,
                tenant: tenant.as_ref(),
                subject: subject.as_deref(),
            },
            mark.as_ref(),
        )?;
        match (decision, caller, tenant) {
            (Decision::Allow, Caller::Known(_, principal), Some(tenant)) => Ok(IntakeCaller {
                principal,
                tenant,
                message: found,
            }),
            _ if over_rate => Err(rate_limited(&rates)),
            (_, Caller::Throttled(_, wait), _) => Err(throttled(wait)),
            (_, Caller::Busy(_), _) => Err(busy()),
            (Decision::OtherTenant, Caller::Known(..), None) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the as@lae intake takes the tenant from the account: this account must work on exactly one tenant",
            )),
            (decision, _, _) => Err(refusal(decision)),
        }
    })
    .await;
    let caller = tarpit(caller).await?;
    take_place(state, presented, &caller.principal.login).await?;
    Ok(caller)
}

/// Who the credentials name.
enum Caller {
    Known(String, Principal),
    /// What was presented (for the journal), naming no enabled account.
    Unknown(String),
    /// A login locked after failures, not checked.
    Throttled(String, std::time::Duration),
    /// Too many password checks at once, not checked.
    Busy(String),
}

impl Caller {
    fn who(&self) -> &str {
        match self {
            Caller::Known(w, _)
            | Caller::Unknown(w)
            | Caller::Throttled(w, _)
            | Caller::Busy(w) => w,
        }
    }
    fn principal(&self) -> Option<&Principal> {
        match self {
            Caller::Known(_, p) => Some(p),
            _ => None,
        }
    }
}

/// Who the credentials name (the journal cuts and escapes what a client chose).
fn authenticate(
    archive: &carnac_archive::Archive,
    credentials: Credentials,
    address: Option<IpAddr>,
) -> Result<Caller, ApiError> {
    Ok(match credentials {
        Credentials::None => Caller::Unknown("anonymous".to_owned()),
        Credentials::Session(p) => Caller::Known(p.login.clone(), p),
        Credentials::Malformed => Caller::Unknown("anonymous (malformed credentials)".to_owned()),
        Credentials::Token(token) => match archive.authenticate_token(&token)? {
            Some(p) => Caller::Known(p.login.clone(), p),
            None => Caller::Unknown("anonymous (unknown token)".to_owned()),
        },
        Credentials::Certificate(der) => match archive.authenticate_certificate(&der)? {
            Some(p) => Caller::Known(p.login.clone(), p),
            None => Caller::Unknown("anonymous (unregistered certificate)".to_owned()),
        },
        Credentials::Basic { login, digest } => {
            // The login as given: an attempt on an account is worth knowing.
            let given = carnac_model::journal::bounded_text(&login, 128);
            match archive.authenticate_password(&login, &digest, address)? {
                PasswordCheck::Valid(p) => Caller::Known(p.login.clone(), p),
                PasswordCheck::Invalid => Caller::Unknown(format!("{given} (wrong credentials)")),
                PasswordCheck::Locked(wait) => {
                    Caller::Throttled(format!("{given} (locked after failed logins)"), wait)
                }
                PasswordCheck::Busy => Caller::Busy(format!("{given} (not checked: busy)")),
            }
        }
    })
}

/// The decision, with the owner of `operation` looked up when it matters (a producer).
fn decide_owned(
    archive: &carnac_archive::Archive,
    p: &Principal,
    action: Action,
    tenant: Option<&TenantId>,
    operation: Option<&OperationId>,
) -> Result<Decision, ApiError> {
    let mut d = decide(p, action, tenant, None);
    if d == Decision::NotOwner
        && p.role == Role::Producer
        && let (Some(t), Some(op)) = (tenant, operation)
    {
        let owner = archive.operation_agent(t, op)?;
        d = decide(p, action, Some(t), owner.as_deref());
    }
    Ok(d)
}

/// Requests of one account allowed a second: a burst, then a steady rate; beyond, refused
/// (429) before any work, and journaled as refusals are (counted past their own rate).
pub(crate) struct AccountRates {
    /// Requests a second, 0: no limit.
    per_second: u32,
    burst: u32,
    buckets:
        std::sync::Mutex<std::collections::HashMap<String, carnac_archive::throttle::TokenBucket>>,
}

impl AccountRates {
    pub(crate) fn new(per_second: u32) -> AccountRates {
        AccountRates {
            per_second,
            burst: per_second.saturating_mul(4),
            buckets: Default::default(),
        }
    }
}

/// Whether an allowed request of a known account goes beyond the account's rate.
/// What a request asked, as its journal event records it.
struct Asked<'a> {
    address: Option<IpAddr>,
    method: &'a str,
    path: &'a str,
    action: Action,
    tenant: Option<&'a TenantId>,
    subject: Option<&'a str>,
}

/// Counts an allowed request against its account's rate (past it, the decision becomes
/// throttled), journals the decision and marks the request journaled. True when the rate
/// was passed.
fn journal_decision(
    archive: &carnac_archive::Archive,
    rates: &AccountRates,
    caller: &Caller,
    decision: &mut Decision,
    asked: &Asked<'_>,
    mark: Option<&JournalMark>,
) -> Result<bool, ApiError> {
    let passed = over_rate(rates, caller, decision);
    if passed {
        *decision = Decision::Throttled;
    }
    archive.record_access(&Access {
        who: caller.who(),
        principal: caller.principal(),
        address: asked.address,
        method: asked.method,
        path: asked.path,
        action: asked.action.as_str(),
        tenant: asked.tenant,
        decision,
        subject: asked.subject,
    })?;
    if let Some(m) = mark {
        m.set();
    }
    Ok(passed)
}

fn over_rate(rates: &AccountRates, caller: &Caller, decision: &Decision) -> bool {
    let (Caller::Known(_, p), Decision::Allow) = (caller, decision) else {
        return false;
    };
    if rates.per_second == 0 {
        return false;
    }
    let now = carnac_archive::system::monotonic_now();
    let mut buckets = rates.buckets.lock().unwrap_or_else(|p| p.into_inner());
    !buckets
        .entry(p.login.clone())
        .or_insert_with(|| {
            carnac_archive::throttle::TokenBucket::new(
                rates.burst,
                f64::from(rates.per_second),
                now,
            )
        })
        .take(now)
}

fn rate_limited(rates: &AccountRates) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "this account sends more than {} requests a second: slow down",
            rates.per_second
        ),
    )
    .retry_after(1)
}

fn throttled(wait: std::time::Duration) -> ApiError {
    let seconds = wait.as_secs().max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "throttled",
        format!(
            "too many failed logins for this login or from this address: try again in {seconds} s"
        ),
    )
    .retry_after(seconds)
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "too many logins are being checked at once: try again in a moment",
    )
    .retry_after(1)
}

fn refusal(decision: Decision) -> ApiError {
    match decision {
        Decision::Throttled => busy(),
        Decision::InvalidRequest => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request names nothing valid",
        ),
        Decision::Allow | Decision::Unauthenticated => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a valid API token (Authorization: Bearer) or Basic credentials are required",
        ),
        Decision::RoleForbids => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this account's role does not allow this request",
        ),
        Decision::OtherTenant => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this account does not work on this tenant",
        ),
        Decision::NotOwner => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a producer reads the operations of its own transfers only",
        ),
    }
}
