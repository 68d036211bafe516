//! Sessions of the web application. Times are stored in one form (UTC, to the
//! millisecond), so that comparing them as text compares the instants.

use super::*;
use carnac_catalog::{SessionRow, SessionStore};
use carnac_model::Timestamp;

fn canonical(t: &Timestamp) -> String {
    Timestamp::from_datetime(t.to_datetime())
        .as_str()
        .to_owned()
}

impl SessionStore for PostgresCatalog {
    fn open_session(&self, session: &SessionRow, events: &[NewEvent]) -> Result<(), CatalogError> {
        self.write(None, |tx| {
            let enabled: Option<Option<String>> = tx
                .query_opt(
                    "SELECT disabled_at FROM accounts WHERE login = $1 FOR SHARE",
                    &[&session.login],
                )
                .map_err(storage)?
                .map(|r| r.get(0));
            if !matches!(enabled, Some(None)) {
                return Err(CatalogError::NotFound(format!(
                    "enabled account {}",
                    session.login
                )));
            }
            if let Some(t) = &session.tenant {
                let member = tx
                    .query_opt(
                        "SELECT 1 FROM account_tenants WHERE login = $1 AND tenant = $2",
                        &[&session.login, &t.as_str()],
                    )
                    .map_err(storage)?;
                if member.is_none() {
                    return Err(CatalogError::NotFound(format!(
                        "tenant {t} of account {}",
                        session.login
                    )));
                }
            }
            let n = tx
                .execute(
                    "INSERT INTO web_sessions (token_sha256, login, csrf, opened_at, last_seen, address, tenant)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    &[
                        &session.token_sha256,
                        &session.login,
                        &session.csrf,
                        &canonical(&session.opened_at),
                        &canonical(&session.last_seen),
                        &session.address,
                        &session.tenant.as_ref().map(TenantId::as_str),
                    ],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::Conflict("a session of this token".into()));
            }
            record_admin_events(tx, events)
        })
    }

    fn session(&self, token_sha256: &str) -> Result<Option<SessionRow>, CatalogError> {
        self.conn()?
            .query_opt(
                "SELECT s.token_sha256, s.login, s.csrf, s.opened_at, s.last_seen, s.address, s.tenant
                 FROM web_sessions s JOIN accounts a ON a.login = s.login
                 WHERE s.token_sha256 = $1 AND a.disabled_at IS NULL",
                &[&token_sha256],
            )
            .map_err(storage)?
            .map(|r| {
                Ok(SessionRow {
                    token_sha256: r.get(0),
                    login: r.get(1),
                    csrf: r.get(2),
                    opened_at: stored_time(r.get(3))?,
                    last_seen: stored_time(r.get(4))?,
                    address: r.get(5),
                    tenant: r
                        .get::<_, Option<String>>(6)
                        .map(|t| parse_id("tenant", t))
                        .transpose()?,
                })
            })
            .transpose()
    }

    fn touch_session(&self, token_sha256: &str, at: &Timestamp) -> Result<(), CatalogError> {
        self.conn()?
            .execute(
                "UPDATE web_sessions SET last_seen = GREATEST(last_seen, $2) WHERE token_sha256 = $1",
                &[&token_sha256, &canonical(at)],
            )
            .map_err(storage)?;
        Ok(())
    }

    fn choose_session_tenant(
        &self,
        token_sha256: &str,
        tenant: &TenantId,
    ) -> Result<(), CatalogError> {
        self.write(None, |tx| {
            let known = tx
                .query_opt("SELECT 1 FROM tenants WHERE id = $1", &[&tenant.as_str()])
                .map_err(storage)?;
            if known.is_none() {
                return Err(CatalogError::NotFound(format!("tenant {tenant}")));
            }
            let n = tx
                .execute(
                    "UPDATE web_sessions SET tenant = $2 WHERE token_sha256 = $1",
                    &[&token_sha256, &tenant.as_str()],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound("session".into()));
            }
            Ok(())
        })
    }

    fn close_session(&self, token_sha256: &str, events: &[NewEvent]) -> Result<(), CatalogError> {
        self.write(None, |tx| {
            let n = tx
                .execute(
                    "DELETE FROM web_sessions WHERE token_sha256 = $1",
                    &[&token_sha256],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound("session".into()));
            }
            record_admin_events(tx, events)
        })
    }

    fn expire_sessions(
        &self,
        idle_before: &Timestamp,
        opened_before: &Timestamp,
        event: &dyn Fn(usize) -> NewEvent,
    ) -> Result<usize, CatalogError> {
        self.write(None, |tx| {
            let n = tx
                .execute(
                    "DELETE FROM web_sessions WHERE last_seen < $1 OR opened_at < $2",
                    &[&canonical(idle_before), &canonical(opened_before)],
                )
                .map_err(storage)?;
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > 0 {
                record_admin_events(tx, &[event(n)])?;
            }
            Ok(n)
        })
    }
}
