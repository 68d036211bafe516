//! Sessions of the web application (decision 13): signing in with a login and password
//! (the API's password check: same cost whatever the login, locked after failures), the
//! session each page finds from its cookie's token, the choice of a tenant, signing out,
//! and the end of sessions idle too long or open too long. The catalog keeps the SHA-256
//! of each token, never the token; signing in and out are journaled in the platform's
//! journal with the client's address.

use crate::{Archive, ArchiveError};
use base64::Engine;
use carnac_catalog::SessionRow;
use carnac_model::access::Principal;
use carnac_model::journal::{EventKind, NewEvent};
use carnac_model::{Status, TenantId, Timestamp};
use serde_json::json;
use sha2::Digest;
use std::time::Duration;

/// How long a session lasts.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Without a request for this long, it ends.
    pub idle: Duration,
    /// Whatever its use, it ends this long after it opened.
    pub lifetime: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: Duration::from_secs(30 * 60),
            lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// A session's last request is written at most this often (a page costs a read, not a
/// write); its idle time is counted from there.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Tokens of sessions say what they are (secret scanners), as API tokens do.
const SESSION_PREFIX: &str = "carnacs_";

/// What signing in gave.
#[derive(Debug)]
pub enum SignIn {
    /// A session: its token goes in the cookie, never anywhere else.
    Opened { token: String, session: WebSession },
    /// A wrong login or password (which of the two is not said).
    Refused,
    /// The login or the address is locked after failures, for this long.
    Locked(Duration),
    /// Too many password checks at once: try again.
    Busy,
}

/// A session found from its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub principal: Principal,
    /// The token its forms carry against cross-site requests.
    pub csrf: String,
    /// The tenant chosen (or the account's only one).
    pub tenant: Option<TenantId>,
    pub opened_at: Timestamp,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn random_text<const N: usize>() -> Result<String, ArchiveError> {
    let bytes = carnac_timestamp::random_bytes::<N>()
        .map_err(|e| ArchiveError::Invalid(format!("drawing a session token: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Archive {
    /// Signs a person in with their login and password (as typed), from `address`.
    pub fn sign_in(
        &self,
        login: &str,
        password: &str,
        address: Option<std::net::IpAddr>,
    ) -> Result<SignIn, ArchiveError> {
        use crate::accounts::PasswordCheck;
        let principal = match self.authenticate_password(login, &sha256_hex(password), address)? {
            PasswordCheck::Valid(p) => p,
            PasswordCheck::Invalid => return Ok(SignIn::Refused),
            PasswordCheck::Locked(wait) => return Ok(SignIn::Locked(wait)),
            PasswordCheck::Busy => return Ok(SignIn::Busy),
        };
        let token = format!("{SESSION_PREFIX}{}", random_text::<32>()?);
        let now = self.now();
        // An account of one tenant works in it from the start.
        let tenant = (principal.tenants.len() == 1).then(|| principal.tenants[0].clone());
        let row = SessionRow {
            token_sha256: sha256_hex(&token),
            login: principal.login.clone(),
            csrf: random_text::<32>()?,
            opened_at: now.clone(),
            last_seen: now.clone(),
            address: address.map(|a| a.to_string()),
            tenant: tenant.clone(),
        };
        let event = self.platform_event(
            EventKind::WebSignIn,
            &principal.login,
            json!({"login": principal.login, "address": row.address}),
        )?;
        self.catalog.open_session(&row, &[event])?;
        Ok(SignIn::Opened {
            token,
            session: WebSession {
                principal,
                csrf: row.csrf,
                tenant,
                opened_at: now,
            },
        })
    }

    /// The open session of a cookie's token: none when there is none, when its account is
    /// disabled, or when it has been idle or open too long (then it ends, journaled).
    pub fn web_session(&self, token: &str) -> Result<Option<WebSession>, ArchiveError> {
        if !token.starts_with(SESSION_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let hash = sha256_hex(token);
        let Some(row) = self.catalog.session(&hash)? else {
            return Ok(None);
        };
        let Some(account) = self.catalog.account(&row.login)? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let limits = self.config.web_sessions;
        let idle = now - row.last_seen.to_datetime();
        let open = now - row.opened_at.to_datetime();
        if idle >= limits.idle || open >= limits.lifetime {
            let event = self.platform_event(
                EventKind::WebSessionsExpired,
                "system",
                json!({"login": row.login, "sessions": 1, "reason": if open >= limits.lifetime { "lifetime" } else { "idle" }}),
            )?;
            match self.catalog.close_session(&hash, &[event]) {
                // Ended meanwhile by another request: ended either way.
                Ok(()) | Err(carnac_catalog::CatalogError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(None);
        }
        if idle >= TOUCH_EVERY {
            self.catalog
                .touch_session(&hash, &Timestamp::from_datetime(now))?;
        }
        Ok(Some(WebSession {
            principal: Principal {
                login: account.login,
                role: account.role,
                tenants: account.tenants,
            },
            csrf: row.csrf,
            tenant: row.tenant,
            opened_at: row.opened_at,
        }))
    }

    /// Chooses the tenant a session works in: one its account may work on (any, for the
    /// operator); `NotFound` otherwise, saying nothing of other tenants.
    pub fn choose_web_tenant(&self, token: &str, tenant: &TenantId) -> Result<(), ArchiveError> {
        let not_found = || ArchiveError::NotFound(format!("tenant {tenant}"));
        let session = self.web_session(token)?.ok_or_else(not_found)?;
        let decision = carnac_model::access::decide(
            &session.principal,
            carnac_model::access::Action::Identify,
            Some(tenant),
            None,
        );
        if decision != carnac_model::access::Decision::Allow {
            return Err(not_found());
        }
        self.catalog
            .choose_session_tenant(&sha256_hex(token), tenant)
            .map_err(|e| match e {
                carnac_catalog::CatalogError::NotFound(_) => not_found(),
                other => other.into(),
            })
    }

    /// Signs out: the session ends on the server (its cookie opens nothing after). True if
    /// there was one.
    pub fn sign_out(&self, token: &str) -> Result<bool, ArchiveError> {
        let hash = sha256_hex(token);
        let Some(row) = self.catalog.session(&hash)? else {
            return Ok(false);
        };
        let event = self.platform_event(
            EventKind::WebSignOut,
            &row.login,
            json!({"login": row.login}),
        )?;
        match self.catalog.close_session(&hash, &[event]) {
            Ok(()) => Ok(true),
            Err(carnac_catalog::CatalogError::NotFound(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends every session idle or open too long (run by the maintenance): how many.
    pub fn expire_web_sessions(&self) -> Result<usize, ArchiveError> {
        let now = self.clock.now();
        let limits = self.config.web_sessions;
        // No platform journal yet: nobody ever signed in (signing in makes it).
        let platform = TenantId::new(carnac_model::access::PLATFORM)
            .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        if self.catalog.tenant(&platform)?.is_none() {
            return Ok(0);
        }
        let operation = self.new_operation()?;
        let time = self.now();
        Ok(self.catalog.expire_sessions(
            &Timestamp::from_datetime(now - limits.idle),
            &Timestamp::from_datetime(now - limits.lifetime),
            &|n| NewEvent {
                tenant: platform.clone(),
                operation: operation.clone(),
                kind: EventKind::WebSessionsExpired,
                outcome: Status::Ok,
                time: time.to_string(),
                agent: "system".into(),
                detail: json!({"sessions": n}),
            },
        )?)
    }

    /// An event of the platform's journal, under an operation of its own.
    fn platform_event(
        &self,
        kind: EventKind,
        agent: &str,
        detail: serde_json::Value,
    ) -> Result<NewEvent, ArchiveError> {
        Ok(NewEvent {
            tenant: self.platform()?,
            operation: self.new_operation()?,
            kind,
            outcome: Status::Ok,
            time: self.now().to_string(),
            agent: agent.into(),
            detail,
        })
    }
}
