//! Sessions of the web application (decision 13): who signed in, when, from where, the
//! tenant they chose, and the token their forms carry against cross-site requests. Never
//! the session's token: only its SHA-256, so that a copy of the catalog opens no session.

use crate::CatalogError;
use carnac_model::journal::NewEvent;
use carnac_model::{TenantId, Timestamp};

/// A session as the catalog keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The SHA-256 (hex) of the session's token.
    pub token_sha256: String,
    pub login: String,
    /// The token the session's forms carry (random, compared in constant time).
    pub csrf: String,
    pub opened_at: Timestamp,
    /// The last request seen (at most a minute late: it is not written at every page).
    pub last_seen: Timestamp,
    /// The client's address when it signed in.
    pub address: Option<String>,
    /// The tenant chosen, for an account that works on several.
    pub tenant: Option<TenantId>,
}

/// Sessions of the web application. Expiry (idle time, lifetime) is the caller's policy:
/// the store keeps times and removes what it is told to.
pub trait SessionStore: Send + Sync {
    /// Opens a session with its events (signing in), in one transaction. `NotFound` for an
    /// unknown or disabled account; `Conflict` if the token exists.
    fn open_session(&self, session: &SessionRow, events: &[NewEvent]) -> Result<(), CatalogError>;

    /// The session of a token's SHA-256 whose account is enabled, as it is.
    fn session(&self, token_sha256: &str) -> Result<Option<SessionRow>, CatalogError>;

    /// Records a request of the session at `at`.
    fn touch_session(&self, token_sha256: &str, at: &Timestamp) -> Result<(), CatalogError>;

    /// Chooses the session's tenant (whether its account may work there is the caller's
    /// decision); `NotFound` for an unknown session or tenant.
    fn choose_session_tenant(
        &self,
        token_sha256: &str,
        tenant: &TenantId,
    ) -> Result<(), CatalogError>;

    /// Ends a session with its events (signing out, or an expiry found); `NotFound` (and
    /// nothing written) when there is no such session.
    fn close_session(&self, token_sha256: &str, events: &[NewEvent]) -> Result<(), CatalogError>;

    /// Removes the sessions last seen before `idle_before` or opened before
    /// `opened_before`, with `event` (one for all, given the count) when there were any:
    /// how many.
    fn expire_sessions(
        &self,
        idle_before: &Timestamp,
        opened_before: &Timestamp,
        event: &dyn Fn(usize) -> NewEvent,
    ) -> Result<usize, CatalogError>;
}
