//! Accounts, their tenants, API tokens and client certificates.

use super::*;
use carnac_catalog::{Account, AccountStore, TokenRow};
use carnac_model::Timestamp;
use carnac_model::access::{AccountKind, Role};

fn require_account(tx: &mut Transaction<'_>, login: &str) -> Result<(), CatalogError> {
    let found = tx
        .query_opt(
            "SELECT 1 FROM accounts WHERE login = $1 FOR SHARE",
            &[&login],
        )
        .map_err(storage)?;
    match found {
        Some(_) => Ok(()),
        None => Err(CatalogError::NotFound(format!("account {login}"))),
    }
}

/// A client certificate belongs to one account: a second registration is a conflict.
fn insert_certificate(
    tx: &mut Transaction<'_>,
    sha256: &str,
    login: &str,
    at: &Timestamp,
) -> Result<(), CatalogError> {
    let n = tx
        .execute(
            "INSERT INTO account_certificates (sha256, login, added_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&sha256, &login, &at.as_str()],
        )
        .map_err(storage)?;
    if n == 0 {
        return Err(CatalogError::Conflict(format!("certificate {sha256}")));
    }
    Ok(())
}

fn read_account(
    conn: &mut postgres::Client,
    condition: &str,
    value: &str,
) -> Result<Option<Account>, CatalogError> {
    let Some(row) = conn
        .query_opt(
            &format!(
                "SELECT login, role, kind, password_hash, created_at, disabled_at,
                        ARRAY(SELECT tenant FROM account_tenants t WHERE t.login = a.login ORDER BY tenant),
                        ARRAY(SELECT agency FROM account_agencies g WHERE g.login = a.login ORDER BY agency)
                 FROM accounts a WHERE {condition}"
            ),
            &[&value],
        )
        .map_err(storage)?
    else {
        return Ok(None);
    };
    let role: String = row.get(1);
    let kind: String = row.get(2);
    Ok(Some(Account {
        login: row.get(0),
        role: Role::parse(&role).ok_or_else(|| corrupt("account role", &role))?,
        kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("account kind", &kind))?,
        password_hash: row.get(3),
        created_at: stored_time(row.get(4))?,
        disabled_at: row
            .get::<_, Option<String>>(5)
            .map(stored_time)
            .transpose()?,
        tenants: row
            .get::<_, Vec<String>>(6)
            .into_iter()
            .map(|t| parse_id("tenant id", t))
            .collect::<Result<_, _>>()?,
        agencies: row.get(7),
    }))
}

impl AccountStore for PostgresCatalog {
    fn create_account(
        &self,
        account: &Account,
        token_hash: Option<&str>,
        certificate_sha256: Option<&str>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(None, |tx| {
            let n = tx
                .execute(
                    "INSERT INTO accounts (login, role, kind, password_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &[
                        &account.login,
                        &account.role.as_str(),
                        &account.kind.as_str(),
                        &account.password_hash,
                        &account.created_at.as_str(),
                    ],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::Conflict(format!("account {}", account.login)));
            }
            for a in &account.agencies {
                tx.execute(
                    "INSERT INTO account_agencies (login, agency) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&account.login, a],
                )
                .map_err(storage)?;
            }
            for t in &account.tenants {
                tx.execute(
                    "INSERT INTO account_tenants (login, tenant) VALUES ($1, $2)",
                    &[&account.login, &t.as_str()],
                )
                .map_err(|e| {
                    if e.code() == Some(&postgres::error::SqlState::FOREIGN_KEY_VIOLATION) {
                        CatalogError::NotFound(format!("tenant {t}"))
                    } else {
                        storage(e)
                    }
                })?;
            }
            if let Some(hash) = token_hash {
                tx.execute(
                    "INSERT INTO api_tokens (hash, login, created_at) VALUES ($1, $2, $3)",
                    &[&hash, &account.login, &account.created_at.as_str()],
                )
                .map_err(storage)?;
            }
            if let Some(sha256) = certificate_sha256 {
                insert_certificate(tx, sha256, &account.login, &account.created_at)?;
            }
            record_admin_events(tx, events)
        })
    }

    fn add_token(
        &self,
        login: &str,
        token_hash: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(None, |tx| {
            require_account(tx, login)?;
            tx.execute(
                "INSERT INTO api_tokens (hash, login, created_at) VALUES ($1, $2, $3)",
                &[&token_hash, &login, &at.as_str()],
            )
            .map_err(storage)?;
            record_admin_events(tx, events)
        })
    }

    fn tokens(&self, login: &str) -> Result<Vec<TokenRow>, CatalogError> {
        self.conn()?
            .query(
                "SELECT substr(hash, 1, 16), created_at, revoked_at FROM api_tokens
                 WHERE login = $1 ORDER BY created_at, seq",
                &[&login],
            )
            .map_err(storage)?
            .iter()
            .map(|r| {
                Ok(TokenRow {
                    id: r.get(0),
                    created_at: stored_time(r.get(1))?,
                    revoked_at: r.get::<_, Option<String>>(2).map(stored_time).transpose()?,
                })
            })
            .collect()
    }

    fn revoke_token(
        &self,
        login: &str,
        id: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        // Exactly the 16 hex digits a token is shown by: no pattern can widen the match.
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CatalogError::NotFound(format!("token {id:?} of {login}")));
        }
        self.write(None, |tx| {
            let n = tx
                .execute(
                    "UPDATE api_tokens SET revoked_at = $3
                     WHERE login = $1 AND substr(hash, 1, 16) = lower($2) AND revoked_at IS NULL",
                    &[&login, &id, &at.as_str()],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("token {id} of {login}")));
            }
            record_admin_events(tx, events)
        })
    }

    fn set_account_disabled(
        &self,
        login: &str,
        disabled_at: Option<&Timestamp>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(None, |tx| {
            if disabled_at.is_some() {
                // Every enabled operator's row locked: a concurrent disabling of another waits
                // here, and then reads that one disabled (READ COMMITTED re-checks a row it
                // waited for), so at most one of them passes.
                let enabled: Vec<String> = tx
                    .query(
                        "SELECT login FROM accounts WHERE role = 'operator' \
                         AND disabled_at IS NULL ORDER BY login FOR UPDATE",
                        &[],
                    )
                    .map_err(storage)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                if enabled == [login] {
                    return Err(carnac_catalog::last_operator(login));
                }
            }
            let n = tx
                .execute(
                    "UPDATE accounts SET disabled_at = $2 WHERE login = $1",
                    &[&login, &disabled_at.map(|t| t.as_str())],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("account {login}")));
            }
            // Its sessions end with it.
            if disabled_at.is_some() {
                tx.execute("DELETE FROM web_sessions WHERE login = $1", &[&login])
                    .map_err(storage)?;
            }
            record_admin_events(tx, events)
        })
    }

    fn add_certificate(
        &self,
        login: &str,
        sha256: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(None, |tx| {
            require_account(tx, login)?;
            insert_certificate(tx, sha256, login, at)?;
            record_admin_events(tx, events)
        })
    }

    fn account_by_certificate(&self, sha256: &str) -> Result<Option<Account>, CatalogError> {
        read_account(
            &mut *self.conn()?,
            "login = (SELECT login FROM account_certificates WHERE sha256 = $1)",
            sha256,
        )
    }

    fn account(&self, login: &str) -> Result<Option<Account>, CatalogError> {
        read_account(&mut *self.conn()?, "login = $1", login)
    }

    fn account_by_token(&self, token_hash: &str) -> Result<Option<Account>, CatalogError> {
        read_account(
            &mut *self.conn()?,
            "login = (SELECT login FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL)",
            token_hash,
        )
    }

    fn accounts(&self) -> Result<Vec<Account>, CatalogError> {
        let mut conn = self.conn()?;
        let logins: Vec<String> = conn
            .query("SELECT login FROM accounts ORDER BY login", &[])
            .map_err(storage)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut out = Vec::with_capacity(logins.len());
        for login in logins {
            out.extend(read_account(&mut conn, "login = $1", &login)?);
        }
        Ok(out)
    }
}
