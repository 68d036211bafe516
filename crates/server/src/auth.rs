//! Who is asking, and may they: credentials from the request, the decision of
//! [`carnac_model::access::decide`], and the journal event of every request, allowed or not.
//!
//! Credentials: `Authorization: Bearer <API token>`, or HTTP Basic with the SHA-256 hex of
//! the password (what as@lae clients such as Pastell send). A refusal says why in its code
//! (`unauthenticated`, `forbidden`) without telling whether what was asked for exists.

use crate::tls::ClientCertificate;
use crate::{ApiError, AppState, blocking};
use axum::http::{HeaderMap, Method, StatusCode, header};
use base64::Engine;
use carnac_archive::accounts::Access;
use carnac_model::access::{Action, Decision, Principal, Role, decide};
use carnac_model::{OperationId, TenantId};

/// What a request asks for, to decide and to journal.
pub(crate) struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub action: Action,
    pub tenant: Option<&'a TenantId>,
    /// The operation a [`Action::OperationRead`] is about: its owner decides for producers.
    pub operation: Option<&'a OperationId>,
    /// What the request is about, for the journal.
    pub subject: Option<&'a str>,
}

/// What the caller presented: the request's headers and, over TLS, its client certificate.
pub(crate) struct Presented {
    pub headers: HeaderMap,
    pub client: Option<ClientCertificate>,
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
        })
    }
}

enum Credentials {
    None,
    Token(String),
    Basic { login: String, digest: String },
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
    let archive = state.archive.clone();
    let method = request.method.to_string();
    let path = request.path.to_owned();
    let action = request.action;
    let tenant = request.tenant.cloned();
    let operation = request.operation.cloned();
    let subject = request.subject.map(str::to_owned);
    blocking(move || {
        let (who, principal) = authenticate(&archive, credentials)?;
        let decision = match &principal {
            None => Decision::Unauthenticated,
            Some(p) => decide_owned(&archive, p, action, tenant.as_ref(), operation.as_ref())?,
        };
        archive.record_access(&Access {
            who: &who,
            method: &method,
            path: &path,
            action: action.as_str(),
            tenant: tenant.as_ref(),
            decision: &decision,
            subject: subject.as_deref(),
        })?;
        match (decision, principal) {
            (Decision::Allow, Some(p)) => Ok(p),
            (decision, _) => Err(refusal(decision)),
        }
    })
    .await
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
    blocking(move || {
        let (who, principal) = authenticate(&archive, credentials)?;
        let tenant = principal
            .as_ref()
            .and_then(|p| (p.tenants.len() == 1).then(|| p.tenants[0].clone()));
        let found = match (&tenant, &message) {
            (Some(t), Some((origin, id))) => archive.catalog().intake_message(t, origin, id)?,
            _ => None,
        };
        let decision = match (&principal, &tenant) {
            (None, _) => Decision::Unauthenticated,
            (Some(_), None) => Decision::OtherTenant,
            (Some(p), Some(t)) => decide_owned(
                &archive,
                p,
                action,
                Some(t),
                found.as_ref().map(|m| &m.operation),
            )?,
        };
        let subject = message.as_ref().map(|(o, id)| format!("{o}/{id}"));
        archive.record_access(&Access {
            who: &who,
            method: &method,
            path: &path,
            action: action.as_str(),
            tenant: tenant.as_ref(),
            decision: &decision,
            subject: subject.as_deref(),
        })?;
        match (decision, principal, tenant) {
            (Decision::Allow, Some(principal), Some(tenant)) => Ok(IntakeCaller {
                principal,
                tenant,
                message: found,
            }),
            (Decision::OtherTenant, Some(_), None) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the as@lae intake takes the tenant from the account: this account must work on exactly one tenant",
            )),
            (decision, _, _) => Err(refusal(decision)),
        }
    })
    .await
}

/// Who the credentials name; `None` when they name no enabled account.
fn authenticate(
    archive: &carnac_archive::Archive,
    credentials: Credentials,
) -> Result<(String, Option<Principal>), ApiError> {
    Ok(match credentials {
        Credentials::None => ("anonymous".to_owned(), None),
        Credentials::Malformed => ("anonymous (malformed credentials)".to_owned(), None),
        Credentials::Token(token) => match archive.authenticate_token(&token)? {
            Some(p) => (p.login.clone(), Some(p)),
            None => ("anonymous (unknown token)".to_owned(), None),
        },
        Credentials::Certificate(der) => match archive.authenticate_certificate(&der)? {
            Some(p) => (p.login.clone(), Some(p)),
            None => ("anonymous (unregistered certificate)".to_owned(), None),
        },
        Credentials::Basic { login, digest } => {
            match archive.authenticate_password(&login, &digest)? {
                Some(p) => (p.login.clone(), Some(p)),
                // The login as given: an attempt on an account is worth knowing.
                None => (format!("{login} (wrong credentials)"), None),
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
        // The queue first: its row goes only once the operation is done, so one of the two
        // always knows the sender, whatever the worker does meanwhile.
        let queued = archive.catalog().queued_transfer(t, op)?.map(|q| q.agent);
        let owner = archive
            .catalog()
            .operation(t, op)?
            .and_then(|o| o.agent)
            .or(queued);
        d = decide(p, action, Some(t), owner.as_deref());
    }
    Ok(d)
}

fn refusal(decision: Decision) -> ApiError {
    match decision {
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
