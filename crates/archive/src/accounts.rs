//! Accounts, their credentials, and the journal of every request.
//!
//! Credentials: API tokens (random 256-bit values given once, kept as their SHA-256), and
//! for people a password kept as Argon2id of its SHA-256 hex — the form in which as@lae
//! clients send it in HTTP Basic, so that both a person typing it and Pastell sending its
//! digest are checked against the same hash.
//!
//! Administration is journaled in the platform's journal (a reserved tenant,
//! [`carnac_model::access::PLATFORM`], made on first use) and in the journal of every tenant
//! it concerns. Requests are journaled in the journal of their tenant when the account works
//! on it ([`carnac_model::access::journaled_in_tenant`]), otherwise in the platform's; what a
//! client chose (the login it gave, the path, the subject) is escaped and cut
//! ([`carnac_model::journal::bounded_text`]); refusals beyond a rate are counted in one
//! summary event a minute rather than one event each ([`crate::throttle::RefusalLimiter`]).
//!
//! Password checks cost the same whether the login exists or not (an unknown, disabled or
//! password-less login is checked against a dummy hash), are throttled per login and per
//! client address ([`crate::throttle::LoginThrottle`]), run a few at a time
//! ([`crate::throttle::Permits`]), and a success is remembered for a few minutes so that a
//! client sending Basic credentials with every request (Pastell) does not pay Argon2 each
//! time.

use crate::{Archive, ArchiveError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use carnac_catalog::{Account, CatalogError};
use carnac_model::access::{
    AccountKind, Decision, PLATFORM, Principal, Role, is_reserved, journaled_in_tenant,
};
use carnac_model::journal::EventKind;
use carnac_model::journal::{NewEvent, bounded_text};
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
    /// For a producer: the originating agencies (services) it speaks for, each in the
    /// agencies referential of one of its tenants; none: every agency of its tenants.
    pub agencies: &'a [String],
}

/// One request, as journaled.
#[derive(Debug, Clone)]
pub struct Access<'a> {
    /// The account, or what was presented when authentication failed.
    pub who: &'a str,
    /// The account, when the credentials named one.
    pub principal: Option<&'a Principal>,
    /// Where the request came from (over the network).
    pub address: Option<std::net::IpAddr>,
    pub method: &'a str,
    pub path: &'a str,
    pub action: &'a str,
    pub tenant: Option<&'a TenantId>,
    pub decision: &'a Decision,
    /// The object, unit or operation the request is about, when there is one.
    pub subject: Option<&'a str>,
}

/// What a password check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordCheck {
    Valid(Principal),
    /// No enabled account with that login and password (which one is not said).
    Invalid,
    /// Too many failures for this login or from this address: not checked; try again after.
    Locked(std::time::Duration),
    /// Too many password checks running: not checked; try again in a moment.
    Busy,
}

/// The archive's state about who is asking: locks, permits, remembered successes, and
/// refusals waiting for their summary.
pub(crate) struct Gate {
    logins: std::sync::Mutex<crate::throttle::LoginThrottle>,
    refusals: std::sync::Mutex<crate::throttle::RefusalLimiter>,
    checks: crate::throttle::Permits,
    verified: std::sync::Mutex<Verified>,
    /// A hash of a random password, checked when the login has none, so that an unknown
    /// login costs what a known one costs.
    dummy: std::sync::OnceLock<String>,
    /// Password hashes computed, real or dummy (a metric; the tests read it too).
    hashed: std::sync::atomic::AtomicU64,
}

impl Gate {
    pub(crate) fn new(rates: crate::throttle::RefusalRates) -> Gate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Gate {
            logins: Default::default(),
            refusals: std::sync::Mutex::new(crate::throttle::RefusalLimiter::new(rates)),
            checks: crate::throttle::Permits::new(cores),
            verified: Default::default(),
            dummy: std::sync::OnceLock::new(),
            hashed: Default::default(),
        }
    }
}

/// How long a verified password is remembered, and how many at most.
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(300);
const VERIFIED_MAX: usize = 4096;
/// How long a password check waits for a permit before the request is answered "busy".
const CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Successful password checks, by a keyed hash of login and digest (the key is random per
/// process: nothing here helps anyone who reads the memory find a password).
#[derive(Default)]
struct Verified {
    key: Option<[u8; 32]>,
    seen: std::collections::HashMap<[u8; 32], std::time::Instant>,
}

impl Verified {
    fn id(&mut self, login: &str, digest: &str) -> Result<[u8; 32], ArchiveError> {
        let key = match self.key {
            Some(k) => k,
            None => {
                let k = carnac_timestamp::random_bytes::<32>()
                    .map_err(|e| ArchiveError::Invalid(format!("drawing a key: {e}")))?;
                self.key = Some(k);
                k
            }
        };
        let mut h = sha2::Sha256::new();
        h.update(key);
        h.update(login.as_bytes());
        h.update([0]);
        h.update(digest.as_bytes());
        Ok(h.finalize().into())
    }
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
                kind: EventKind::PlatformCreate,
                outcome: Status::Ok,
                time: self.now().into(),
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
        // A control authority may work on every authority of its département; more than
        // this is a mistake, and each one is looked up.
        const MAX_TENANTS: usize = 10_000;
        if new.tenants.len() > MAX_TENANTS {
            return Err(ArchiveError::Invalid(format!(
                "an account works on at most {MAX_TENANTS} tenants"
            )));
        }
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
        const MAX_AGENCIES: usize = 1_000;
        let mut agencies = new.agencies.to_vec();
        agencies.sort();
        agencies.dedup();
        if !agencies.is_empty() {
            if new.role != Role::Producer {
                return Err(ArchiveError::Invalid(format!(
                    "agencies name the services a producer speaks for; a {} account has none",
                    new.role
                )));
            }
            if agencies.len() > MAX_AGENCIES {
                return Err(ArchiveError::Invalid(format!(
                    "a producer speaks for at most {MAX_AGENCIES} agencies"
                )));
            }
            let mut known = std::collections::BTreeSet::new();
            for t in &tenants {
                if let Some(list) = self.referentials(t)?.agencies {
                    known.extend(list.into_keys());
                }
            }
            let unknown: Vec<String> = agencies
                .iter()
                .filter(|a| !known.contains(*a))
                .map(|a| carnac_model::journal::bounded_text(a, 100))
                .collect();
            if !unknown.is_empty() {
                return Err(ArchiveError::Invalid(format!(
                    "agencies not in the agencies referential of the account's tenants: {}",
                    unknown.join(", ")
                )));
            }
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
            agencies: agencies.clone(),
        };
        let detail = json!({
            "login": new.login,
            "role": new.role,
            "kind": new.kind,
            "tenants": tenants,
            "agencies": agencies,
            "password": new.password.is_some(),
            "token": new.token,
            "certificate_sha256": certificate,
        });
        let events = self.admin_events(EventKind::AccountCreate, &tenants, agent, &at, &detail)?;
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
            EventKind::AccountToken,
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
            EventKind::AccountTokenRevoked,
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
        if disabled && login == agent {
            return Err(ArchiveError::Invalid(format!(
                "account {login} cannot disable itself: another operator must do it"
            )));
        }
        let at = self.now();
        let events = self.admin_events(
            if disabled {
                EventKind::AccountDisable
            } else {
                EventKind::AccountEnable
            },
            &account.tenants,
            agent,
            &at,
            &json!({ "login": login }),
        )?;
        // The catalog refuses to disable the last enabled operator, in the change's own
        // transaction: two operators disabling each other at once, on one node or two,
        // cannot both pass.
        match self
            .catalog
            .set_account_disabled(login, disabled.then_some(&at), &events)
        {
            Err(carnac_catalog::CatalogError::Refused(why)) => Err(ArchiveError::Invalid(why)),
            other => Ok(other?),
        }
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
            EventKind::AccountCertificate,
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
        kind: EventKind,
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
                    kind: kind.clone(),
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

    /// Checks a login and the SHA-256 hex of its password (see the module documentation):
    /// the same work whatever the login, throttled per login and per `address`.
    pub fn authenticate_password(
        &self,
        login: &str,
        password_sha256_hex: &str,
        address: Option<std::net::IpAddr>,
    ) -> Result<PasswordCheck, ArchiveError> {
        let now = crate::system::monotonic_now();
        let gate = &self.gate;
        if let Some(wait) = lock(&gate.logins).locked(login, address, now) {
            return Ok(PasswordCheck::Locked(wait));
        }
        let digest = password_sha256_hex.to_ascii_lowercase();
        // Logins are at most 128 characters: a longer one names no account, and is not
        // looked up (its cost is the dummy check's, like any unknown login).
        let account = if login.len() <= 128 {
            self.catalog.account(login)?
        } else {
            None
        };
        let usable = account
            .filter(|a| a.disabled_at.is_none())
            .and_then(|a| a.password_hash.clone().map(|h| (a, h)));
        if let Some((account, _)) = &usable {
            let id = lock(&gate.verified).id(login, &digest)?;
            let mut verified = lock(&gate.verified);
            if verified
                .seen
                .get(&id)
                .is_some_and(|at| now.duration_since(*at) < VERIFIED_FOR)
            {
                drop(verified);
                lock(&gate.logins).succeeded(login);
                return Ok(PasswordCheck::Valid(principal(account.clone())));
            }
            verified.seen.remove(&id);
        }
        let Some(_permit) = gate.checks.acquire(CHECK_WAIT) else {
            return Ok(PasswordCheck::Busy);
        };
        let hash = match &usable {
            Some((_, hash)) => hash.clone(),
            None => match gate.dummy.get() {
                Some(h) => h.clone(),
                None => {
                    let random = carnac_timestamp::random_bytes::<32>()
                        .map_err(|e| ArchiveError::Invalid(format!("drawing a password: {e}")))?;
                    let h = hash_password(&hex::encode(random))?;
                    gate.dummy.get_or_init(|| h).clone()
                }
            },
        };
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| ArchiveError::Invalid(format!("password hash of {login}: {e}")))?;
        let good = argon2::Argon2::default()
            .verify_password(digest.as_bytes(), &parsed)
            .is_ok();
        gate.hashed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        drop(_permit);
        match usable {
            Some((account, _)) if good => {
                lock(&gate.logins).succeeded(login);
                let id = lock(&gate.verified).id(login, &digest)?;
                let mut verified = lock(&gate.verified);
                if verified.seen.len() >= VERIFIED_MAX {
                    verified.seen.clear();
                }
                verified.seen.insert(id, now);
                Ok(PasswordCheck::Valid(principal(account)))
            }
            _ => {
                let locks = lock(&gate.logins).failed(login, address, now);
                for l in locks {
                    self.journal_lock(&l, address)?;
                }
                Ok(PasswordCheck::Invalid)
            }
        }
    }

    /// Whether connections from `address` are refused at once: it is locked after failed
    /// logins. The refusal is counted in the platform's summary of refusals.
    pub fn refuse_connection(&self, address: std::net::IpAddr) -> bool {
        let now = crate::system::monotonic_now();
        if !lock(&self.gate.logins).address_locked(address, now) {
            return false;
        }
        // The platform's journal exists: the lock was journaled there.
        lock(&self.gate.refusals).count(
            PLATFORM,
            Some(address),
            "address_locked",
            "connection refused: the address is locked after failed logins",
            now,
            &self.now(),
        );
        true
    }

    /// How many password hashes were computed since the start (a known login's or the
    /// dummy's): the same count whatever the login, locked ones apart.
    pub fn password_hashes_computed(&self) -> u64 {
        self.gate.hashed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Journals a new lock in the platform's journal (counted in a summary past the rate of
    /// refusals).
    fn journal_lock(
        &self,
        l: &crate::throttle::Lock,
        address: Option<std::net::IpAddr>,
    ) -> Result<(), ArchiveError> {
        tracing::warn!(kind = l.kind, key = %l.key, failures = l.failures, seconds = l.duration.as_secs(), "login locked");
        let platform = self.platform()?;
        let at = self.now();
        if !lock(&self.gate.refusals).admit(
            platform.as_str(),
            address,
            "login_locked",
            &l.key,
            crate::system::monotonic_now(),
            &at,
        ) {
            return Ok(());
        }
        let event = NewEvent {
            tenant: platform,
            operation: self.new_operation()?,
            kind: EventKind::LoginLocked,
            outcome: Status::Warning,
            time: at.to_string(),
            agent: "system".into(),
            detail: json!({
                "locked": l.kind,
                "key": bounded_text(&l.key, 160),
                "failures": l.failures,
                "seconds": l.duration.as_secs(),
                "address": address.map(crate::throttle::address_key),
            }),
        };
        Ok(self.catalog.append_events(&[event])?)
    }

    /// Journals a request, allowed or refused (see the module documentation for which
    /// journal, and what is kept of what the client sent).
    pub fn record_access(&self, access: &Access<'_>) -> Result<(), ArchiveError> {
        let in_tenant = match access.tenant {
            Some(t)
                if !is_reserved(t)
                    && journaled_in_tenant(access.principal, access.decision, t)
                    && self.catalog.tenant(t)?.is_some() =>
            {
                Some(t.clone())
            }
            _ => None,
        };
        let tenant = match &in_tenant {
            Some(t) => t.clone(),
            None => self.platform()?,
        };
        let at = self.now();
        let allowed = access.decision.allowed();
        if !allowed {
            let sample = format!("{} {} {}", access.who, access.method, access.path);
            let own = lock(&self.gate.refusals).admit(
                tenant.as_str(),
                access.address,
                access.decision.as_str(),
                &sample,
                crate::system::monotonic_now(),
                &at,
            );
            self.journal_refusal_summaries(false)?;
            if !own {
                return Ok(());
            }
        }
        let mut detail = json!({
            "method": bounded_text(access.method, 16),
            "path": bounded_text(access.path, 512),
            "action": access.action,
            "decision": access.decision.as_str(),
        });
        if let Some(s) = access.subject {
            detail["subject"] = json!(bounded_text(s, 256));
        }
        if in_tenant.is_none()
            && let Some(t) = access.tenant
        {
            // A request about a tenant, journaled in the platform's journal.
            detail["tenant"] = json!(t);
        }
        if let Some(a) = access.address {
            detail["address"] = json!(a.to_string());
        }
        let event = NewEvent {
            tenant,
            operation: self.new_operation()?,
            kind: if allowed {
                EventKind::Access
            } else {
                EventKind::AccessRefused
            },
            outcome: if allowed { Status::Ok } else { Status::Ko },
            time: at.to_string(),
            agent: bounded_text(access.who, 200),
            detail,
        };
        Ok(self.catalog.append_events(&[event])?)
    }

    /// Journals the summaries of refusals counted without an event of their own: those of
    /// the last minute, or (`all`) every one pending, as when the server stops. Returns how
    /// many summaries were written.
    pub fn journal_refusal_summaries(&self, all: bool) -> Result<usize, ArchiveError> {
        let due = lock(&self.gate.refusals).due(crate::system::monotonic_now(), all);
        let mut events = Vec::with_capacity(due.len());
        for (journal, summary) in &due {
            let tenant =
                TenantId::new(journal).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
            events.push(NewEvent {
                tenant,
                operation: self.new_operation()?,
                kind: EventKind::AccessRefusedSummary,
                outcome: Status::Ko,
                time: self.now().into(),
                agent: "system".into(),
                detail: summary.detail(),
            });
        }
        if !events.is_empty() {
            self.catalog.append_events(&events)?;
        }
        Ok(events.len())
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
                EventKind::TenantSuspend
            } else {
                EventKind::TenantResume
            },
            outcome: Status::Ok,
            time: self.now().into(),
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

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The state behind these locks is counters and caches: usable after a panic elsewhere.
    m.lock().unwrap_or_else(|p| p.into_inner())
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
