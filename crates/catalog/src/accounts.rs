//! Accounts as the catalog keeps them: people and applications, their roles, tenants and
//! agencies, and their credentials (API tokens, TLS client certificates).

use crate::CatalogError;
use carnac_model::access::{AccountKind, Role};
use carnac_model::journal::NewEvent;
use carnac_model::{TenantId, Timestamp};
use serde::{Deserialize, Serialize};

/// An account: a person or an application, its role, the tenants it works on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub login: String,
    pub role: Role,
    pub kind: AccountKind,
    /// Argon2id (PHC string) of the SHA-256 hex of the password, when it has one.
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    pub tenants: Vec<TenantId>,
    /// The originating agencies a producer speaks for; empty: every agency of its tenants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agencies: Vec<String>,
}

/// An API token as it can be shown: never the token, only the beginning of its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    /// The first 16 hex digits of the token's SHA-256: enough to name it, useless to use it.
    pub id: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Accounts and their credentials (API tokens, TLS client certificates).
pub trait AccountStore: Send + Sync {
    /// Creates an account (Conflict if the login or the certificate exists, NotFound for an
    /// unknown tenant), with a first API token and a client certificate when given, and the events (each with its own operation) in the
    /// same transaction.
    fn create_account(
        &self,
        account: &Account,
        token_hash: Option<&str>,
        certificate_sha256: Option<&str>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// Adds an API token (its SHA-256) to an account, with its events.
    fn add_token(
        &self,
        login: &str,
        token_hash: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// The API tokens of an account (revoked ones too), oldest first.
    fn tokens(&self, login: &str) -> Result<Vec<TokenRow>, CatalogError>;

    /// Revokes one token of an account, named by its [`TokenRow::id`], with its events;
    /// `NotFound` when the account has no such token still valid.
    fn revoke_token(
        &self,
        login: &str,
        id: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// Disables an account (every credential of it stops working, its web sessions end) or
    /// enables it again, with its events. `Refused` when it is the last enabled operator:
    /// checked in the change's transaction, so that operators disabling each other at once,
    /// on any nodes, cannot leave the archive without one.
    fn set_account_disabled(
        &self,
        login: &str,
        disabled_at: Option<&Timestamp>,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// Registers a TLS client certificate (its SHA-256) to an account, with its events.
    fn add_certificate(
        &self,
        login: &str,
        sha256: &str,
        at: &Timestamp,
        events: &[NewEvent],
    ) -> Result<(), CatalogError>;

    /// The account a registered client certificate belongs to.
    fn account_by_certificate(&self, sha256: &str) -> Result<Option<Account>, CatalogError>;

    fn account(&self, login: &str) -> Result<Option<Account>, CatalogError>;

    /// The account a valid (not revoked) token belongs to.
    fn account_by_token(&self, token_hash: &str) -> Result<Option<Account>, CatalogError>;

    fn accounts(&self) -> Result<Vec<Account>, CatalogError>;
}

/// The refusal of [`AccountStore::set_account_disabled`] for the last enabled operator.
pub fn last_operator(login: &str) -> CatalogError {
    CatalogError::Refused(format!(
        "account {login} is the last enabled operator: disabling it would leave nobody to \
         administer the archive; create or enable another operator first"
    ))
}
