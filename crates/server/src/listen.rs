//! The accept loop, plain TCP or TLS, and what it bounds before any request reaches the
//! router: how many connections are open (in all, and per client address), how large a
//! request's headers may be (431 beyond), how long a client may take to send them (which
//! also closes a kept-alive connection that sends nothing), how long a request body may go
//! without a byte, and how long a stop waits for requests in flight.
//!
//! axum's own `serve` sets none of these (hyper then waits forever for a slow client's
//! headers or body), so the loop is written here, on hyper's HTTP/1.1 connection builder.

use crate::tls::ClientCertificate;
use crate::{AppState, app};
use axum::body::Body;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// The limits of the HTTP server, each with its default (`[server]` in `carnac.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// The request line and headers together, in bytes: beyond, 431 and the connection
    /// closed. Default 32 KiB (a browser's cookies and a long Basic login fit in 8).
    pub max_header_bytes: usize,
    /// How long a client may take to send a request's headers, from when the connection is
    /// ready for one: a slow client is cut, and a kept-alive connection that sends no new
    /// request is closed. Default 20 s.
    pub header_timeout: Duration,
    /// How long a request body may go without a byte while the server waits for it: a
    /// stalled upload is cut, what it sent removed. Default 30 s.
    pub body_timeout: Duration,
    /// Connections open at once, in all: beyond, a new one is closed at once. Default 1,024.
    pub max_connections: usize,
    /// Connections open at once from one client address. Default 128.
    pub max_connections_per_address: usize,
    /// How long a stop waits for the requests in flight before cutting them. Default 30 s.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_header_bytes: 32 << 10,
            header_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_address: 128,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// The address a request came from, for throttling (logins, refusals) and the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// A request that came over TLS (its cookies are `Secure`).
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// Open connections, in all and per address; a slot is given back when its guard drops.
#[derive(Default)]
struct Connections {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

struct Slot {
    connections: Arc<Connections>,
    address: IpAddr,
}

impl Connections {
    fn admit(self: &Arc<Self>, address: IpAddr, limits: &HttpLimits) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per) = &mut *open;
        let mine = per.get(&address).copied().unwrap_or(0);
        if *total >= limits.max_connections || mine >= limits.max_connections_per_address {
            return None;
        }
        *total += 1;
        per.insert(address, mine + 1);
        Some(Slot {
            connections: self.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (total, per) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(n) = per.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.address);
            }
        }
    }
}

/// Serves the API on `listener` (over TLS when `tls` is given) until `shutdown` completes;
/// then waits at most [`HttpLimits::shutdown_grace`] for the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    tls: Option<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.http.clone();
    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    let router = app(state.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(Connections::default());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tick = tokio::time::interval(crate::HOUSEKEEPING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                tokio::spawn(crate::housekeeping(state.clone(), false));
            }
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors, say: not a reason to spin.
                        tracing::warn!(error = %e, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(slot) = connections.admit(peer.ip(), &limits) else {
                    tracing::debug!(%peer, "connection refused: too many open");
                    drop(tcp);
                    continue;
                };
                // An address locked after failed logins gets nothing more to read: its
                // connections close at once (counted in the summary of refusals).
                if state.archive.refuse_connection(peer.ip()) {
                    drop(tcp);
                    continue;
                }
                let watcher = graceful.watcher();
                let router = router.clone();
                let archive = state.archive.clone();
                let acceptor = acceptor.clone();
                let limits = limits.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    match acceptor {
                        None => {
                            let connection = connection(&limits, TokioIo::new(tcp), router, archive, peer, false, None);
                            if let Err(e) = watcher.watch(connection).await {
                                tracing::debug!(%peer, error = %e, "connection ended");
                            }
                        }
                        Some(acceptor) => {
                            // The handshake is bounded like the headers that follow it.
                            let stream = match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake refused");
                                    return;
                                }
                                Err(_) => return,
                            };
                            let client = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .map(|c| ClientCertificate(c.to_vec()));
                            let connection = connection(&limits, TokioIo::new(stream), router, archive, peer, true, client);
                            if let Err(e) = watcher.watch(connection).await {
                                tracing::debug!(%peer, error = %e, "connection ended");
                            }
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    state
        .stopping
        .store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(grace = ?limits.shutdown_grace, "requests still running at the end of the grace period were cut");
        }
    }
    crate::housekeeping(state, true).await;
    Ok(())
}

/// One HTTP/1.1 connection with the limits applied, every request carrying the client's
/// address (and over TLS, [`OverTls`] and the client's certificate).
#[allow(clippy::too_many_arguments)] // Private: the two kinds of connection's one body.
fn connection<I>(
    limits: &HttpLimits,
    io: TokioIo<I>,
    router: axum::Router,
    archive: Arc<carnac_archive::Archive>,
    peer: SocketAddr,
    over_tls: bool,
    client: Option<ClientCertificate>,
) -> hyper::server::conn::http1::Connection<
    TokioIo<I>,
    impl hyper::service::Service<
        hyper::Request<hyper::body::Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send,
    > + Send,
>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let body_timeout = limits.body_timeout;
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            // An address that got locked while its connection was open: its next requests
            // are answered before any routing (counted in the refusals' summary), each after
            // a pause, so that a flood on kept-alive connections runs at one request a
            // second per connection (and connections per address are capped).
            if archive.refuse_connection(peer.ip()) {
                return futures_util::future::Either::Left(Box::pin(async {
                    tokio::time::sleep(crate::TARPIT).await;
                    Ok(locked())
                })
                    as std::pin::Pin<
                        Box<
                            dyn Future<
                                    Output = Result<
                                        axum::response::Response,
                                        std::convert::Infallible,
                                    >,
                                > + Send,
                        >,
                    >);
            }
            let mut request =
                request.map(|body| Body::new(ProgressTimeout::new(body, body_timeout)));
            request.extensions_mut().insert(ClientAddress(peer.ip()));
            if over_tls {
                request.extensions_mut().insert(OverTls);
            }
            if let Some(c) = &client {
                request.extensions_mut().insert(c.clone());
            }
            futures_util::future::Either::Right(tower::ServiceExt::oneshot(router.clone(), request))
        });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        .serve_connection(io, service)
}

/// The answer to a request from an address locked after failed logins.
fn locked() -> axum::response::Response {
    let mut r = axum::response::Response::new(Body::from(
        r#"{"error":{"code":"throttled","message":"too many failed logins from this address: try again later"}}"#,
    ));
    *r.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    let headers = r.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("60"),
    );
    r
}

/// A request body that fails when the client sends nothing for `limit` while it is being
/// read. The wait is counted from when the reader asks for the next frame, so that the time
/// a handler spends between two reads never counts against the client.
struct ProgressTimeout<B> {
    inner: B,
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    waiting: bool,
}

impl<B> ProgressTimeout<B> {
    fn new(inner: B, limit: Duration) -> Self {
        ProgressTimeout {
            inner,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
            waiting: false,
        }
    }
}

impl<B> HttpBody for ProgressTimeout<B>
where
    B: HttpBody<Data = axum::body::Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if !this.waiting {
            let deadline = tokio::time::Instant::now() + this.limit;
            this.sleep.as_mut().reset(deadline);
            this.waiting = true;
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the client sent nothing of the body for {} s",
                        this.limit.as_secs()
                    ),
                ))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
