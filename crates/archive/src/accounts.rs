//! Accounts, their credentials, and the journal of every request.
//!
//! Credentials: API tokens (random 256-bit values given once, kept as their SHA-256), and
//! for people a password kept as Argon2id of its SHA-256 hex — the form in which as@lae
//! clients send it in HTTP Basic, so that both a person typing it and Pastell sending its
//! digest are checked against the same hash.
//!
//! Administration is journaled in the platform's journal (a reserved tenant,
//! [`carnac_model::access::PLATFORM`], made on first use) and in the journal of every tenant
//! it concerns; requests are journaled in the journal of their tenant, or the platform's.

use crate::{Archive, ArchiveError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use carnac_catalog::{Account, CatalogError};
use carnac_model::access::{AccountKind, Decision, PLATFORM, Principal, Role, is_reserved};
use carnac_model::journal::NewEvent;
use carnac_model::{Status, TenantId};
use serde_json::json;
use sha2::Digest;

/// Tokens say what they are, so that a leaked one is recognisable (secret scanners).
const TOKEN_PREFIX: &str = "carnac_";

/// What to create.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub login: &'a str,
    pub role: Role,
    pub kind: AccountKind,
    pub tenants: &'a [TenantId],
    pub password: Option<&'a str>,
    /// Give it an API token now.
    pub token: bool,
    /// A TLS client certificate (DER) that identifies it.
    pub certificate: Option<&'a [u8]>,
}

/// One request, as journaled.
#[derive(Debug, Clone)]
pub struct Access<'a> {
    /// The account, or what was presented when authentication failed.
    pub who: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub action: &'a str,
    pub tenant: Option<&'a TenantId>,
    pub decision: &'a Decision,
    /// The object, unit or operation the request is about, when there is one.
    pub subject: Option<&'a str>,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// The SHA-256 hex of a password: what is hashed with Argon2, and what as@lae clients send.
pub fn password_digest(password: &str) -> String {
    sha256_hex(password)
}

/// How a token is named in lists and revocations: the first 16 hex digits of its SHA-256.
pub fn token_id(token: &str) -> String {
    sha256_hex(token)[..16].to_owned()
}

fn check_login(login: &str) -> Result<(), ArchiveError> {
    let ok = !login.is_empty()
        && login.len() <= 128
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ArchiveError::Invalid(format!(
            "login {login:?}: 1 to 128 characters among A-Z, a-z, 0-9, '.', '_', '@' and '-'"
        )))
    }
}

impl Archive {
    /// The platform's journal, made the first time it is needed.
    pub(crate) fn platform(&self) -> Result<TenantId, ArchiveError> {
        let id = TenantId::new(PLATFORM).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        if self.catalog.tenant(&id)?.is_none() {
            let event = NewEvent {
                tenant: id.clone(),
                operation: self.new_operation()?,
                kind: "PLATFORM_CREATE".into(),
                outcome: Status::Ok,
                time: self.now(),
                agent: "system".into(),
                detail: json!({"purpose": "journal of the operator's actions that concern no tenant"}),
            };
            match self.catalog.create_tenant(&id, "Plateforme", &event) {
                Ok(()) | Err(CatalogError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(id)
    }

    /// Creates an account; gives its first API token when asked (shown once, kept hashed).
    pub fn create_account(
        &self,
        new: &NewAccount<'_>,
        agent: &str,
    ) -> Result<(Account, Option<String>), ArchiveError> {
        check_login(new.login)?;
        let mut tenants = new.tenants.to_vec();
        tenants.sort();
        tenants.dedup();
        match (new.role.needs_tenants(), tenants.is_empty()) {
            (true, true) => {
                return Err(ArchiveError::Invalid(format!(
                    "a {} account works on tenants: give at least one (--tenant)",
                    new.role
                )));
            }
            (false, false) => {
                return Err(ArchiveError::Invalid(
                    "an operator account works on the platform, not on tenants: give no tenant"
                        .into(),
                ));
            }
            _ => {}
        }
        for t in &tenants {
            if is_reserved(t) {
                return Err(ArchiveError::Invalid(format!("{t} is not a tenant")));
            }
            self.require_tenant(t)?;
        }
        if new.password.is_none() && !new.token && new.certificate.is_none() {
            return Err(ArchiveError::Invalid(
                "the account would have no credential: give it a password, a token or a certificate"
                    .into(),
            ));
        }
        let password_hash = new
            .password
            .map(|p| {
                if p.is_empty() {
                    return Err(ArchiveError::Invalid("the password is empty".into()));
                }
                hash_password(&password_digest(p))
            })
            .transpose()?;
        let token = new.token.then(new_token).transpose()?;
        let certificate = new
            .certificate
            .map(|der| read_certificate(der).map(|(sha256, _)| sha256))
            .transpose()?;
        let at = self.now();
        let account = Account {
            login: new.login.to_owned(),
            role: new.role,
            kind: new.kind,
            password_hash,
            created_at: at.clone(),
            disabled_at: None,
            tenants: tenants.clone(),
        };
        let detail = json!({
            "login": new.login,
            "role": new.role,
            "kind": new.kind,
            "tenants": tenants,
            "password": new.password.is_some(),
            "token": new.token,
            "certificate_sha256": certificate,
        });
        let events = self.admin_events("ACCOUNT_CREATE", &tenants, agent, &at, &detail)?;
        self.catalog
            .create_account(
                &account,
                token.as_deref().map(sha256_hex).as_deref(),
                certificate.as_deref(),
                &events,
            )
            .map_err(|e| match e {
                CatalogError::Conflict(what) => ArchiveError::Conflict(what),
                CatalogError::NotFound(what) => ArchiveError::NotFound(what),
                other => other.into(),
            })?;
        tracing::info!(login = new.login, role = %new.role, "account created");
        Ok((account, token))
    }

    /// A new API token for an existing account.
    pub fn issue_token(&self, login: &str, agent: &str) -> Result<String, ArchiveError> {
        let account = self
            .catalog
            .account(login)?
            .ok_or_else(|| ArchiveError::NotFound(format!("account {login}")))?;
        let token = new_token()?;
        let at = self.now();
        let events = self.admin_events(
            "ACCOUNT_TOKEN",
            &account.tenants,
            agent,
            &at,
            &json!({"login": login, "token": token_id(&token)}),
        )?;
        self.catalog
            .add_token(login, &sha256_hex(&token), &at, &events)?;
        Ok(token)
    }

    /// The tokens of an account: their ids (the beginning of their SHA-256), when they were
    /// made and revoked.
    pub fn tokens(&self, login: &str) -> Result<Vec<carnac_catalog::TokenRow>, ArchiveError> {
        if self.catalog.account(login)?.is_none() {
            return Err(ArchiveError::NotFound(format!("account {login}")));
        }
        Ok(self.catalog.tokens(login)?)
    }

    /// Revokes one token of an account (named by its id): it stops working at once; the
    /// account's other credentials go on. Journaled in the platform's journal and the
    /// account's tenants'.
    pub fn revoke_token(&self, login: &str, id: &str, agent: &str) -> Result<(), ArchiveError> {
        let account = self
            .catalog
            .account(login)?
            .ok_or_else(|| ArchiveError::NotFound(format!("account {login}")))?;
        let at = self.now();
        let events = self.admin_events(
            "ACCOUNT_TOKEN_REVOKED",
            &account.tenants,
            agent,
            &at,
            &json!({"login": login, "token": id}),
        )?;
        match self.catalog.revoke_token(login, id, &at, &events) {
            Err(carnac_catalog::CatalogError::NotFound(what)) => Err(ArchiveError::NotFound(what)),
            other => Ok(other?),
        }
    }

    /// Disables an account: its tokens, password and certificates stop working at once (they
    /// are kept, so that the journal's `who` stays meaningful); or enables it again.
    pub fn set_account_disabled(
        &self,
        login: &str,
        disabled: bool,
        agent: &str,
    ) -> Result<(), ArchiveError> {
        let account = self
            .catalog
            .account(login)?
            .ok_or_else(|| ArchiveError::NotFound(format!("account {login}")))?;
        let at = self.now();
        let events = self.admin_events(
            if disabled {
                "ACCOUNT_DISABLE"
            } else {
                "ACCOUNT_ENABLE"
            },
            &account.tenants,
            agent,
            &at,
            &json!({ "login": login }),
        )?;
        self.catalog
            .set_account_disabled(login, disabled.then_some(at.as_str()), &events)?;
        Ok(())
    }

    /// Registers a TLS client certificate (DER) as a credential of `login`.
    pub fn register_certificate(
        &self,
        login: &str,
        certificate_der: &[u8],
        agent: &str,
    ) -> Result<String, ArchiveError> {
        let account = self
            .catalog
            .account(login)?
            .ok_or_else(|| ArchiveError::NotFound(format!("account {login}")))?;
        let (sha256, cert) = read_certificate(certificate_der)?;
        let at = self.now();
        let events = self.admin_events(
            "ACCOUNT_CERTIFICATE",
            &account.tenants,
            agent,
            &at,
            &json!({
                "login": login,
                "certificate_sha256": sha256,
                "subject": cert.tbs_certificate.subject.to_string(),
            }),
        )?;
        self.catalog
            .add_certificate(login, &sha256, &at, &events)
            .map_err(|e| match e {
                CatalogError::Conflict(what) => ArchiveError::Conflict(what),
                other => other.into(),
            })?;
        Ok(sha256)
    }

    /// The account a TLS client certificate (verified by the TLS layer) is registered to.
    pub fn authenticate_certificate(
        &self,
        certificate_der: &[u8],
    ) -> Result<Option<Principal>, ArchiveError> {
        let sha256 = hex::encode(sha2::Sha256::digest(certificate_der));
        Ok(self
            .catalog
            .account_by_certificate(&sha256)?
            .filter(|a| a.disabled_at.is_none())
            .map(principal))
    }

    /// One event per journal concerned: the platform's and each tenant's, each with its own
    /// operation.
    fn admin_events(
        &self,
        kind: &str,
        tenants: &[TenantId],
        agent: &str,
        at: &str,
        detail: &serde_json::Value,
    ) -> Result<Vec<NewEvent>, ArchiveError> {
        let mut journals = vec![self.platform()?];
        journals.extend(tenants.iter().cloned());
        journals
            .into_iter()
            .map(|tenant| {
                Ok(NewEvent {
                    tenant,
                    operation: self.new_operation()?,
                    kind: kind.into(),
                    outcome: Status::Ok,
                    time: at.to_owned(),
                    agent: agent.into(),
                    detail: detail.clone(),
                })
            })
            .collect()
    }

    pub fn accounts(&self) -> Result<Vec<Account>, ArchiveError> {
        Ok(self.catalog.accounts()?)
    }

    /// The account an API token belongs to, if the token is valid and the account enabled.
    pub fn authenticate_token(&self, token: &str) -> Result<Option<Principal>, ArchiveError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        Ok(self
            .catalog
            .account_by_token(&sha256_hex(token))?
            .filter(|a| a.disabled_at.is_none())
            .map(principal))
    }

    /// The account `login` if `password_sha256_hex` is the SHA-256 hex of its password.
    pub fn authenticate_password(
        &self,
        login: &str,
        password_sha256_hex: &str,
    ) -> Result<Option<Principal>, ArchiveError> {
        let Some(account) = self.catalog.account(login)? else {
            return Ok(None);
        };
        let Some(hash) = account.password_hash.as_deref() else {
            return Ok(None);
        };
        if account.disabled_at.is_some() {
            return Ok(None);
        }
        let parsed = PasswordHash::new(hash)
            .map_err(|e| ArchiveError::Invalid(format!("password hash of {login}: {e}")))?;
        let digest = password_sha256_hex.to_ascii_lowercase();
        Ok(argon2::Argon2::default()
            .verify_password(digest.as_bytes(), &parsed)
            .is_ok()
            .then(|| principal(account)))
    }

    /// Journals a request, allowed or refused, in its tenant's journal (the platform's when
    /// it concerns none, or a tenant that does not exist).
    pub fn record_access(&self, access: &Access<'_>) -> Result<(), ArchiveError> {
        let tenant = match access.tenant {
            Some(t) if self.catalog.tenant(t)?.is_some() => t.clone(),
            _ => self.platform()?,
        };
        let mut detail = json!({
            "method": access.method,
            "path": access.path,
            "action": access.action,
            "decision": access.decision.as_str(),
        });
        if let Some(s) = access.subject {
            detail["subject"] = json!(s);
        }
        let event = NewEvent {
            tenant,
            operation: self.new_operation()?,
            kind: if access.decision.allowed() {
                "ACCESS".into()
            } else {
                "ACCESS_REFUSED".into()
            },
            outcome: if access.decision.allowed() {
                Status::Ok
            } else {
                Status::Ko
            },
            time: self.now(),
            agent: access.who.into(),
            detail,
        };
        Ok(self.catalog.append_events(&[event])?)
    }

    /// Suspends a tenant (it keeps reading and exporting, it takes no transfer), or lifts
    /// the suspension.
    pub fn suspend_tenant(
        &self,
        tenant: &TenantId,
        suspended: bool,
        agent: &str,
    ) -> Result<(), ArchiveError> {
        if is_reserved(tenant) {
            return Err(ArchiveError::NotFound(format!("tenant {tenant}")));
        }
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: self.new_operation()?,
            kind: if suspended {
                "TENANT_SUSPEND".into()
            } else {
                "TENANT_RESUME".into()
            },
            outcome: Status::Ok,
            time: self.now(),
            agent: agent.into(),
            detail: json!({}),
        };
        self.catalog
            .suspend_tenant(tenant, suspended, &event)
            .map_err(|e| match e {
                CatalogError::NotFound(what) => ArchiveError::NotFound(what),
                other => other.into(),
            })
    }
}

/// A client certificate (DER), read, and the SHA-256 it is registered under.
fn read_certificate(der: &[u8]) -> Result<(String, x509_cert::Certificate), ArchiveError> {
    let cert = <x509_cert::Certificate as der::Decode>::from_der(der)
        .map_err(|e| ArchiveError::Invalid(format!("the certificate cannot be read: {e}")))?;
    Ok((hex::encode(sha2::Sha256::digest(der)), cert))
}

fn principal(a: Account) -> Principal {
    Principal {
        login: a.login,
        role: a.role,
        tenants: a.tenants,
    }
}

fn new_token() -> Result<String, ArchiveError> {
    let bytes = carnac_timestamp::random_bytes::<32>()
        .map_err(|e| ArchiveError::Invalid(format!("drawing a token: {e}")))?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

fn hash_password(digest: &str) -> Result<String, ArchiveError> {
    let salt = carnac_timestamp::random_bytes::<16>()
        .map_err(|e| ArchiveError::Invalid(format!("drawing a salt: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| ArchiveError::Invalid(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(digest.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ArchiveError::Invalid(format!("hashing the password: {e}")))
}
