//! `serve`: the HTTP server, the ingest workers, and maintenance at every seal interval;
//! `maintain`: one maintenance pass.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use carnac_archive::Archive;

use super::SecretFile;
use crate::config;
use crate::setup::renew_before;

/// `carnac serve`: the listening address of the command line or the configuration, TLS
/// when the configuration names a certificate and its key.
pub(crate) fn run(
    archive: Archive,
    data: &Path,
    config: &config::Config,
    listen: Option<String>,
) -> anyhow::Result<ExitCode> {
    let listen = listen.unwrap_or(config.server.listen.clone());
    if !carnac_server::asalae::valid_base(&config.server.asalae_base_path) {
        bail!(
            "server.asalae_base_path {:?} must start with '/', not end with one, stay out of /api/ and hold letters, digits, '-', '_', '.' and '/' only",
            config.server.asalae_base_path
        );
    }
    let under_data = |p: &Option<PathBuf>| p.as_ref().map(|p| data.join(p));
    let tls = match (
        under_data(&config.server.tls_certificate),
        under_data(&config.server.tls_key),
    ) {
        (Some(certificate), Some(key)) => Some(
            carnac_server::tls::server_config(
                &certificate,
                &key,
                under_data(&config.server.tls_client_ca).as_deref(),
            )
            .map_err(|e| anyhow::anyhow!("server TLS: {e}"))?,
        ),
        (None, None) => {
            if config.server.tls_client_ca.is_some() {
                bail!("server.tls_client_ca needs server.tls_certificate and server.tls_key");
            }
            None
        }
        _ => bail!("server.tls_certificate and server.tls_key go together"),
    };
    serve(
        archive,
        data,
        &listen,
        tls,
        &config.server,
        config.timestamp.seal_interval_seconds,
        renew_before(config),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `carnac maintain`: exit 1 when a duty failed, 3 when another node leads the duties.
pub(crate) fn maintain_once(archive: &Archive, config: &config::Config) -> ExitCode {
    // The pass is the lead's, as in `serve`: on a catalog that several nodes share, a node
    // alive that holds the lead runs it and this process leaves it alone. Taken here, the
    // lead stays this process's while it runs (its node's lease is renewed meanwhile), and
    // goes to another node once the process ended and its node's lease lapsed.
    match archive.catalog().lead("maintenance", MAINTAIN_LEASE) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!(
                "carnac maintain: another node, alive, holds the maintenance's lead and runs \
                 these duties itself at each interval; nothing done here"
            );
            return ExitCode::from(3);
        }
        Err(e) => {
            tracing::error!(error = %e, "taking the maintenance's lead");
            return ExitCode::from(1);
        }
    }
    if maintain(archive, renew_before(config)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The lead `carnac maintain` takes: longer than any pass, since it ends with the process's
/// node anyway.
const MAINTAIN_LEASE: std::time::Duration = std::time::Duration::from_secs(3600);

/// One maintenance pass (`Archive::maintain`), said on stderr; false if a duty failed
/// (failures are logged, and retried at the next pass).
fn maintain(archive: &Archive, renew_before: std::time::Duration) -> bool {
    let m = archive.maintain(renew_before);
    for (tenant, duty) in &m.done {
        eprintln!("tenant {tenant}: {duty}");
    }
    for (tenant, what, e) in &m.failed {
        match tenant {
            Some(t) => tracing::error!(tenant = %t, error = %e, "{what}"),
            None => tracing::error!(error = %e, "{what}"),
        }
    }
    m.is_ok()
}

fn serve(
    archive: Archive,
    data: &Path,
    listen: &str,
    tls: Option<rustls::ServerConfig>,
    server: &config::Server,
    seal_interval: u64,
    renew_before: std::time::Duration,
) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = listen
        .parse()
        .with_context(|| format!("{listen:?} is not an address:port"))?;
    if !addr.ip().is_loopback() && tls.is_none() {
        bail!(
            "without TLS (server.tls_certificate and server.tls_key), carnac serve binds to loopback addresses only: API tokens must not cross a network in clear ({addr} is not loopback)"
        );
    }
    bootstrap_admin(&archive, data)?;
    // Labels are bounded: a few tenants by name, the rest summed.
    if server.metrics_tenants.len() > 20 {
        bail!(
            "server.metrics_tenants names {} tenants; at most 20 (the others are summed as \"other\")",
            server.metrics_tenants.len()
        );
    }
    let metrics_tenants = server
        .metrics_tenants
        .iter()
        .map(|t| {
            carnac_model::TenantId::new(t)
                .map_err(|e| anyhow::anyhow!("server.metrics_tenants: {t:?}: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let uploads = data.join("tmp");
    let archive = Arc::new(archive);
    let interval = std::time::Duration::from_secs(seal_interval);
    // Sealing (and, with it, the other periodic duties) at every interval, and at start,
    // until the stop (a seal in progress then finishes).
    let (stop_maintenance, stopped) = std::sync::mpsc::channel::<()>();
    let maintenance = {
        let archive = archive.clone();
        std::thread::Builder::new()
            .name("maintenance".into())
            .spawn(move || {
                // With several nodes, one at a time seals and renews: the lead lasts a few
                // intervals, renewed at each pass, taken by another node once it lapses.
                let lease = (interval * 3).max(std::time::Duration::from_secs(60));
                loop {
                    match archive.catalog().lead("maintenance", lease) {
                        Ok(true) => {
                            maintain(&archive, renew_before);
                        }
                        Ok(false) => tracing::debug!("another node runs the maintenance"),
                        Err(e) => tracing::error!(error = %e, "taking the maintenance's lead"),
                    }
                    if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) =
                        stopped.recv_timeout(interval)
                    {
                        break;
                    }
                }
            })?
    };
    let worker = Arc::new(
        carnac_archive::transfers::Worker::start(archive.clone())
            .context("starting the ingest worker")?,
    );
    let state = Arc::new(
        carnac_server::AppState::new(archive, uploads, worker.clone())
            .with_limits(server.limits())
            .with_asalae_base(server.asalae_base_path.clone())
            .with_metrics_tenants(metrics_tenants),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        let stop = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            eprintln!("carnac: stopping: no new request; the ingest in progress finishes, queued transfers wait for the next start");
        };
        eprintln!(
            "carnac: serving on {}://{addr}{}",
            if tls.is_some() { "https" } else { "http" },
            if tls.is_some() { "" } else { " (loopback only without TLS)" }
        );
        carnac_server::serve(listener, state, tls, stop).await?;
        anyhow::Ok(())
    })?;
    // Requests are over, or were cut at the end of the grace period: the blocking work they
    // left (which gives up as it sees the stop) gets as long again; then the ingest in
    // progress ends, the queue stays for the next start.
    runtime.shutdown_timeout(server.limits().http.shutdown_grace);
    worker.finish();
    drop(worker);
    drop(stop_maintenance);
    if maintenance.join().is_err() {
        bail!("the maintenance thread panicked");
    }
    // The archive was theirs too: it is closed here, its catalog's log copied back.
    eprintln!("carnac: stopped");
    Ok(())
}

/// On first start (no account at all), an operator account `admin` and its API token, in
/// `<data>/admin-token`, readable by its owner only.
fn bootstrap_admin(archive: &Archive, data: &Path) -> anyhow::Result<()> {
    if !archive.accounts()?.is_empty() {
        return Ok(());
    }
    let path = data.join("admin-token");
    let mut secret = SecretFile::create(&path)?;
    let (_, token) = archive.create_account(
        &carnac_archive::accounts::NewAccount {
            login: "admin",
            role: carnac_model::access::Role::Operator,
            kind: carnac_model::access::AccountKind::Person,
            tenants: &[],
            password: None,
            token: true,
            certificate: None,
            agencies: &[],
        },
        "system",
    )?;
    secret.write(token.as_deref().context("the first account got no token")?)?;
    eprintln!(
        "carnac: first start: operator account `admin` created; its API token is in {} (readable by you only)",
        path.display()
    );
    Ok(())
}
