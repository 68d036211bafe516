//! The catalog on PostgreSQL: every trait of `carnac-catalog`, for an archive that outgrows
//! one machine or is served by several nodes.
//!
//! The schema is the SQLite catalog's, table for table, in a schema of its own (`carnac` by
//! default), versioned with numbered SQL files. What differs is what several writers need:
//!
//! - each tenant's journal is appended under a per-tenant advisory lock taken in the
//!   transaction that makes the change, so that the hash chain stays exact however many
//!   nodes write ([`PostgresCatalog::write`]);
//! - append-only tables refuse updates, deletes and truncation by trigger;
//! - free text uses PostgreSQL's own search: a configuration copied from `french` with
//!   `unaccent` before the stemmer, a stored `tsvector` per unit, GIN indexes that hold the
//!   tenant (btree_gin) so that a small tenant's search reads its own postings.
//!
//! Connections come from a pool (r2d2); every call takes one for its statement or its
//! transaction and gives it back. The synchronous client runs its own small runtime: call
//! it from threads that are not a tokio runtime's workers (the server's handlers already
//! run catalog work on blocking threads).

mod accounts;
mod deliveries;
mod eliminations;
mod evidence;
mod holdings;
mod import;
mod ingest_rows;
mod intake;
mod journal;
mod migrations;
mod nodes;
mod operations;
mod referentials;
mod search;
mod sessions;
mod tenants;

use carnac_catalog::CatalogError;
use carnac_catalog::rows::*;
use carnac_model::TenantId;
use carnac_model::journal::NewEvent;
use postgres::Transaction;
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use import::ImportReport;
pub use migrations::MIGRATIONS;

/// Where the catalog is: a connection string and the schema it lives in.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgres://user@host:port/database` (or the key=value form); the password is given
    /// apart (`password`), never written in a configuration file.
    pub url: String,
    pub password: Option<String>,
    /// The schema holding the catalog's tables; created if missing.
    pub schema: String,
    /// Connections kept open at most.
    pub pool_size: u32,
    pub tls: Tls,
    /// This node's name, under which its running operations and claims are recorded: the
    /// same across restarts of one data folder, so that a node restarted after a crash
    /// takes back at once what it left (it holds the folder's lock: the previous process is
    /// gone). None: a name of this process's own.
    pub node: Option<String>,
}

/// Whether connections are encrypted, and whom they trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain connections (a server on loopback, or on a private network the operator
    /// trusts).
    Off,
    /// TLS required, the server's certificate checked against these certificates (PEM
    /// text), or against the web's public roots when there are none.
    Required { trust: Vec<String> },
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("tls", &self.tls)
            .field("node", &self.node)
            .finish()
    }
}

impl PostgresConfig {
    pub const DEFAULT_SCHEMA: &'static str = "carnac";

    pub fn new(url: impl Into<String>) -> PostgresConfig {
        PostgresConfig {
            url: url.into(),
            password: None,
            schema: Self::DEFAULT_SCHEMA.to_owned(),
            pool_size: 16,
            tls: Tls::Off,
            node: None,
        }
    }

    /// Why this configuration cannot be used, if it cannot.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.url.parse::<postgres::Config>() {
            out.push(format!(
                "the catalog url is not a PostgreSQL connection string: {e}"
            ));
        }
        if !valid_schema_name(&self.schema) {
            out.push(format!(
                "schema {:?}: 1 to 63 of a-z 0-9 _, starting with a letter",
                self.schema
            ));
        }
        if !(1..=256).contains(&self.pool_size) {
            out.push(format!("pool size {}: 1 to 256", self.pool_size));
        }
        if let Some(n) = &self.node
            && !(1..=64).contains(&n.len())
        {
            out.push(format!("node name {n:?}: 1 to 64 characters"));
        }
        if let Err(e) = self.connector() {
            out.push(e);
        }
        out
    }
}

impl PostgresConfig {
    /// The TLS connector: rustls on ring (the provider the rest of the program uses).
    fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.tls {
            Tls::Required { trust } if !trust.is_empty() => {
                use rustls::pki_types::{CertificateDer, pem::PemObject};
                for pem in trust {
                    let mut any = false;
                    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                        let cert = cert.map_err(|e| format!("a catalog TLS trust anchor: {e}"))?;
                        roots
                            .add(cert)
                            .map_err(|e| format!("a catalog TLS trust anchor: {e}"))?;
                        any = true;
                    }
                    if !any {
                        return Err("a catalog TLS trust file holds no certificate".into());
                    }
                }
            }
            _ => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("catalog TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

/// A schema name written into SQL (it cannot be a parameter): checked, never quoted from
/// anything else.
fn valid_schema_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

type Pool = r2d2::Pool<PostgresConnectionManager<MakeRustlsConnect>>;

pub struct PostgresCatalog {
    pool: Pool,
    schema: String,
    /// This process's name among the catalog's nodes.
    node: String,
    /// How connections are made: a search's cancel request goes on a connection of its own.
    tls: MakeRustlsConnect,
    /// Renews this node's lease until the catalog is dropped (the sender with it).
    heartbeat: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Drop for PostgresCatalog {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.heartbeat.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

/// The advisory lock class of this catalog's locks (`'CARN'`), so that they do not meet an
/// application's own.
const LOCK_CLASS: i32 = 0x4341_524e;
/// The class of the lock held while a schema is created or migrated (`'CARM'`), keyed by
/// the schema's hash: archives in other schemas of the database do not wait for it.
const MIGRATION_CLASS: i32 = 0x4341_524d;

pub(crate) fn storage(e: postgres::Error) -> CatalogError {
    // A broken rule of the schema (a trigger's refusal, a constraint) says what it refused.
    match e.as_db_error() {
        Some(db) => CatalogError::Storage {
            message: format!("{}: {}", db.code().code(), db.message()),
            source: Some(Box::new(e)),
        },
        None => CatalogError::storage(e),
    }
}

/// An error and its causes, in one line: the client's own message alone ("error performing
/// TLS handshake") does not say what to fix.
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

pub(crate) fn pool_error(e: r2d2::Error) -> CatalogError {
    CatalogError::storage_in("no catalog connection", e)
}

impl PostgresCatalog {
    /// Connects, creates the schema or brings it to this program's version, and checks it.
    pub fn open(config: &PostgresConfig) -> Result<PostgresCatalog, CatalogError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(CatalogError::storage_failed(problems.join("; ")));
        }
        let mut pg: postgres::Config = config
            .url
            .parse()
            .map_err(|e| CatalogError::storage_in("the catalog url", e))?;
        if let Some(p) = &config.password {
            pg.password(p);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("carnac");
        }
        pg.connect_timeout(std::time::Duration::from_secs(10));
        pg.ssl_mode(match config.tls {
            Tls::Off => postgres::config::SslMode::Disable,
            Tls::Required { .. } => postgres::config::SslMode::Require,
        });
        let tls = config.connector().map_err(CatalogError::storage_failed)?;
        // Every session reads and writes the catalog's schema, and `public` for the
        // extensions' functions.
        pg.options(&format!(
            "-c search_path={},public -c client_min_messages=warning",
            config.schema
        ));
        // One connection first, whose error says why (the pool's says only that it timed
        // out).
        pg.connect(tls.clone()).map_err(|e| CatalogError::Storage {
            message: format!("connecting to the catalog: {}", with_causes(&e)),
            source: Some(Box::new(e)),
        })?;
        let pg_for_lease = (pg.clone(), tls.clone());
        let manager = PostgresConnectionManager::new(pg, tls);
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(30))
            .build(manager)
            .map_err(pool_error)?;
        let mut catalog = PostgresCatalog {
            pool,
            schema: config.schema.clone(),
            node: match &config.node {
                Some(n) => n.clone(),
                None => carnac_catalog::new_node_name()?,
            },
            heartbeat: None,
            tls: pg_for_lease.1.clone(),
        };
        migrations::migrate(&catalog)?;
        nodes::renew(&mut *catalog.conn()?, &catalog.node)?;
        catalog.heartbeat = Some(catalog.renew_in_background(pg_for_lease)?);
        Ok(catalog)
    }

    /// A thread that renews this node's lease on a connection of its own (not the pool's:
    /// a pool exhausted by requests must not let the node die).
    fn renew_in_background(
        &self,
        (pg, tls): (postgres::Config, MakeRustlsConnect),
    ) -> Result<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>), CatalogError> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let node = self.node.clone();
        let thread = std::thread::Builder::new()
            .name("catalog-lease".into())
            .spawn(move || {
                let mut conn: Option<postgres::Client> = None;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(nodes::NODE_RENEWAL)
                {
                    if conn.is_none() {
                        conn = pg.connect(tls.clone()).ok();
                    }
                    let renewed = match conn.as_mut() {
                        Some(c) => nodes::renew(c, &node),
                        None => Err(CatalogError::storage_failed("no catalog connection")),
                    };
                    if let Err(e) = renewed {
                        tracing::warn!(error = %e, %node, "renewing this node's lease");
                        conn = None;
                    }
                }
            })
            .map_err(|e| CatalogError::storage_in("starting the lease thread", e))?;
        Ok((stop, thread))
    }

    /// The schema the catalog lives in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub(crate) fn conn(
        &self,
    ) -> Result<r2d2::PooledConnection<PostgresConnectionManager<MakeRustlsConnect>>, CatalogError>
    {
        self.pool.get().map_err(pool_error)
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`, rolled back otherwise.
    /// Whatever appends to a tenant's journal locks that tenant's chain first
    /// ([`journal::append_event`]); a change that checks a state before changing it locks
    /// the tenant at once (`lock`), so that two nodes cannot both pass the check.
    pub(crate) fn write<T>(
        &self,
        lock: Option<&TenantId>,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(storage)?;
        if let Some(t) = lock {
            lock_tenant(&mut tx, t)?;
        }
        let out = f(&mut tx)?;
        tx.commit().map_err(storage)?;
        Ok(out)
    }
}

/// Takes the tenant's lock until the transaction ends: its journal's chain, and the states
/// its changes check. Two-key advisory locks: this catalog's class, the tenant's hash (two
/// tenants that share a hash only wait for each other).
pub(crate) fn lock_tenant(tx: &mut Transaction<'_>, tenant: &TenantId) -> Result<(), CatalogError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&LOCK_CLASS, &tenant.as_str()],
    )
    .map_err(storage)?;
    Ok(())
}

/// An unsigned count or size as PostgreSQL's BIGINT.
pub(crate) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A BIGINT that holds a count or size back as unsigned (a negative one is 0).
pub(crate) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// An operation that is done as soon as it is recorded (administration), with its event.
pub(crate) fn record_admin_events(
    tx: &mut Transaction<'_>,
    events: &[NewEvent],
) -> Result<(), CatalogError> {
    for e in events {
        tx.execute(
            "INSERT INTO operations (tenant, id, kind, state, status, started_at, ended_at, agent)
             VALUES ($1, $2, $3, 'DONE', $4, $5, $5, $6)",
            &[
                &e.tenant.as_str(),
                &e.operation.as_str(),
                &e.kind.as_str(),
                &e.outcome.as_str(),
                &e.time,
                &e.agent,
            ],
        )
        .map_err(storage)?;
        journal::append_event(tx, e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_checked_and_hides_its_password() {
        let mut c = PostgresConfig::new("postgres://carnac@127.0.0.1:5432/carnac");
        assert!(c.problems().is_empty());
        c.password = Some("secret".into());
        assert!(!format!("{c:?}").contains("secret"));
        c.schema = "Bad; DROP".into();
        c.pool_size = 0;
        c.url = "postgres://[".into();
        assert_eq!(c.problems().len(), 3, "{:?}", c.problems());
    }
}
