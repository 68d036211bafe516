//! Accounts, their tenants, API tokens and client certificates.

use super::*;

pub(super) fn require_account(tx: &Transaction<'_>, login: &str) -> Result<(), CatalogError> {
    let exists: bool = tx
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM accounts WHERE login = ?1)",
            [login],
            |r| r.get(0),
        )
        .map_err(storage)?;
    if exists {
        Ok(())
    } else {
        Err(CatalogError::NotFound(format!("account {login}")))
    }
}

/// A client certificate belongs to one account: a second registration is a conflict.
pub(super) fn insert_certificate(
    tx: &Transaction<'_>,
    sha256: &str,
    login: &str,
    at: &Timestamp,
) -> Result<(), CatalogError> {
    let n = tx
        .execute(
            "INSERT INTO account_certificates (sha256, login, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![sha256, login, at.as_str()],
        )
        .map_err(storage)?;
    if n == 0 {
        return Err(CatalogError::Conflict(format!("certificate {sha256}")));
    }
    Ok(())
}

pub(super) fn read_account(
    conn: &Connection,
    condition: &str,
    value: &str,
) -> Result<Option<Account>, CatalogError> {
    type Row = (
        String,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    );
    // Cached statements: every request reads its account (parsing the SQL cost as much as
    // running it).
    let row: Option<Row> = conn
        .prepare_cached(&format!(
            "SELECT login, role, kind, password_hash, created_at, disabled_at FROM accounts WHERE {condition}"
        ))
        .map_err(storage)?
        .query_row([value], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .optional()
        .map_err(storage)?;
    let Some((login, role, kind, password_hash, created_at, disabled_at)) = row else {
        return Ok(None);
    };
    let tenants = conn
        .prepare_cached("SELECT tenant FROM account_tenants WHERE login = ?1 ORDER BY tenant")
        .map_err(storage)?
        .query_map([&login], |r| r.get::<_, String>(0))
        .map_err(storage)?
        .map(|t| parse_id("tenant id", t.map_err(storage)?))
        .collect::<Result<_, _>>()?;
    let agencies = conn
        .prepare_cached("SELECT agency FROM account_agencies WHERE login = ?1 ORDER BY agency")
        .map_err(storage)?
        .query_map([&login], |r| r.get::<_, String>(0))
        .map_err(storage)?
        .collect::<Result<_, _>>()
        .map_err(storage)?;
    Ok(Some(Account {
        agencies,
        role: Role::parse(&role).ok_or_else(|| corrupt("account role", &role))?,
        kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("account kind", &kind))?,
        login,
        password_hash,
        created_at: stored_time(created_at)?,
        disabled_at: disabled_at.map(stored_time).transpose()?,
        tenants,
    }))
}

impl AccountStore for SqliteCatalog {
    fn create_account(
        &self,
        account: &Account,
        token_hash: Option<&str>,
        certificate_sha256: Option<&str>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM accounts WHERE login = ?1)",
                    [&account.login],
                    |r| r.get(0),
                )
                .map_err(storage)?;
            if exists {
                return Err(CatalogError::Conflict(format!("account {}", account.login)));
            }
            tx.execute(
                "INSERT INTO accounts (login, role, kind, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    account.login,
                    account.role.as_str(),
                    account.kind.as_str(),
                    account.password_hash,
                    account.created_at.as_str()
                ],
            )
            .map_err(storage)?;
            for a in &account.agencies {
                tx.execute(
                    "INSERT OR IGNORE INTO account_agencies (login, agency) VALUES (?1, ?2)",
                    params![account.login, a],
                )
                .map_err(storage)?;
            }
            for t in &account.tenants {
                tx.execute(
                    "INSERT INTO account_tenants (login, tenant) VALUES (?1, ?2)",
                    params![account.login, t.as_str()],
                )
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        CatalogError::NotFound(format!("tenant {t}"))
                    }
                    e => storage(e),
                })?;
            }
            if let Some(hash) = token_hash {
                tx.execute(
                    "INSERT INTO api_tokens (hash, login, created_at) VALUES (?1, ?2, ?3)",
                    params![hash, account.login, account.created_at.as_str()],
                )
                .map_err(storage)?;
            }
            if let Some(sha256) = certificate_sha256 {
                insert_certificate(tx, sha256, &account.login, &account.created_at)?;
            }
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn add_token(
        &self,
        login: &str,
        token_hash: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            require_account(tx, login)?;
            tx.execute(
                "INSERT INTO api_tokens (hash, login, created_at) VALUES (?1, ?2, ?3)",
                params![token_hash, login, at.as_str()],
            )
            .map_err(storage)?;
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn tokens(&self, login: &str) -> Result<Vec<TokenRow>, CatalogError> {
        let conn = self.read();
        let mut st = conn
            .prepare_cached(
                "SELECT substr(hash, 1, 16), created_at, revoked_at FROM api_tokens
                 WHERE login = ?1 ORDER BY created_at, rowid",
            )
            .map_err(storage)?;
        st.query_map(params![login], |r| {
            Ok(TokenRow {
                id: r.get(0)?,
                created_at: time_at(r, 1)?,
                revoked_at: optional_time_at(r, 2)?,
            })
        })
        .map_err(storage)?
        .map(|r| r.map_err(storage))
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
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE api_tokens SET revoked_at = ?3
                     WHERE login = ?1 AND substr(hash, 1, 16) = lower(?2) AND revoked_at IS NULL",
                    params![login, id, at.as_str()],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("token {id} of {login}")));
            }
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn set_account_disabled(
        &self,
        login: &str,
        disabled_at: Option<&Timestamp>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            // The writer's transaction is the only one: nothing changes between this count
            // and the update.
            if disabled_at.is_some() {
                let others: i64 = tx
                    .query_row(
                        "SELECT count(*) FROM accounts WHERE role = 'operator' \
                         AND disabled_at IS NULL AND login <> ?1",
                        params![login],
                        |r| r.get(0),
                    )
                    .map_err(storage)?;
                let enabled_operator: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM accounts WHERE login = ?1 \
                         AND role = 'operator' AND disabled_at IS NULL)",
                        params![login],
                        |r| r.get(0),
                    )
                    .map_err(storage)?;
                if enabled_operator && others == 0 {
                    return Err(crate::last_operator(login));
                }
            }
            let n = tx
                .execute(
                    "UPDATE accounts SET disabled_at = ?2 WHERE login = ?1",
                    params![login, disabled_at.map(|t| t.as_str())],
                )
                .map_err(storage)?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("account {login}")));
            }
            // Its sessions end with it.
            if disabled_at.is_some() {
                tx.execute("DELETE FROM web_sessions WHERE login = ?1", params![login])
                    .map_err(storage)?;
            }
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn add_certificate(
        &self,
        login: &str,
        sha256: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError> {
        self.write(|tx| {
            require_account(tx, login)?;
            insert_certificate(tx, sha256, login, at)?;
            record_admin_events(tx, events)?;
            Ok(())
        })
    }

    fn account_by_certificate(&self, sha256: &str) -> Result<Option<Account>, CatalogError> {
        let conn = self.read();
        read_account(
            &conn,
            "login = (SELECT login FROM account_certificates WHERE sha256 = ?1)",
            sha256,
        )
    }

    fn account(&self, login: &str) -> Result<Option<Account>, CatalogError> {
        let conn = self.read();
        read_account(&conn, "login = ?1", login)
    }

    fn account_by_token(&self, token_hash: &str) -> Result<Option<Account>, CatalogError> {
        let conn = self.read();
        read_account(
            &conn,
            "login = (SELECT login FROM api_tokens WHERE hash = ?1 AND revoked_at IS NULL)",
            token_hash,
        )
    }

    fn accounts(&self) -> Result<Vec<Account>, CatalogError> {
        let conn = self.read();
        let logins: Vec<String> = conn
            .prepare("SELECT login FROM accounts ORDER BY login")
            .map_err(storage)?
            .query_map([], |r| r.get(0))
            .map_err(storage)?
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        let mut out = Vec::with_capacity(logins.len());
        for login in logins {
            out.extend(read_account(&conn, "login = ?1", &login)?);
        }
        Ok(out)
    }
}
