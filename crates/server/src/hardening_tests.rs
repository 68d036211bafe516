//! Regression tests of issue 14: what an attacker with an account, or without one, could do
//! to the service. Each fails without its fix.
//!
//! About 1,000 lines because each attack is one test with its own server and setup (raw
//! sockets, slow clients, floods), kept together as the record of that review.

use crate::tests::*;
use crate::{AppState, ClientAddress, HttpLimits, Limits, app, serve};
use axum::body::Body;
use axum::http::Request;
use axum::http::{StatusCode, header};
use carnac_blobstore::memory::MemoryStore;
use carnac_model::TenantId;
use carnac_model::access::PLATFORM;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

fn journal(st: &AppState, tenant: &str) -> Vec<carnac_model::journal::Event> {
    st.archive
        .catalog()
        .journal(&TenantId::new(tenant).unwrap())
        .unwrap()
}

fn basic(login: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"))
    )
}

/// A request as it arrives from `address` (the listener sets it; `oneshot` does not).
fn from(address: &str, mut request: Request<Body>) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ClientAddress(address.parse().unwrap()));
    request
}

/// The server on a loopback port with `limits`; stops when the sender is dropped or sent.
async fn serve_loopback(
    state: Arc<AppState>,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        serve(listener, state, None, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop, join)
}

/// Reads what the server sends until it closes the connection (or `within` passes).
async fn read_to_close(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

/// Issue 14 §1: a refused Basic login of 300,000 bytes with CR/LF, on a tenant the client has
/// no right on, wrote megabytes into that tenant's permanent journal.
#[tokio::test]
async fn a_refused_login_is_cut_escaped_and_kept_out_of_the_tenants_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let app = app(st.clone());
    let before_tenant = journal(&st, "0").len();
    let before_platform = journal(&st, PLATFORM).len();
    let login = format!("{}\r\nFAKE: entry\u{202e}", "Z".repeat(300_000));
    let (status, _, _) = send(
        &app,
        Request::get("/api/v1/tenants/0/units")
            .header(header::AUTHORIZATION, basic(&login, "x"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        journal(&st, "0").len(),
        before_tenant,
        "not in tenant 0's journal"
    );
    let platform = journal(&st, PLATFORM);
    assert_eq!(platform.len(), before_platform + 1);
    let e = &platform.last().unwrap().event;
    assert_eq!(e.kind, "ACCESS_REFUSED");
    assert_eq!(e.detail["tenant"], "0", "the tenant asked for is named");
    assert_eq!(e.detail["decision"], "unauthenticated");
    assert!(e.agent.len() < 300, "{} bytes", e.agent.len());
    assert!(!e.agent.contains('\n') && !e.agent.contains('\r'));
    assert!(!e.agent.contains('\u{202e}'));
    assert!(e.agent.contains("bytes)"), "{}", e.agent);

    // The journal's query parameters, journaled as the request's subject, are cut too.
    let archivist = account(
        &st.archive,
        "arch2",
        carnac_model::access::Role::Archivist,
        &["0"],
    );
    let long = "x".repeat(30_000);
    let (status, _, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/journal?unit={long}"),
            &archivist,
        ),
    )
    .await;
    assert!(status.is_client_error() || status.is_success(), "{status}");
    let e = journal(&st, "0").pop().unwrap().event;
    assert_eq!(e.kind, "ACCESS");
    assert!(e.detail["subject"].as_str().unwrap().len() < 300);
    assert!(e.detail["path"].as_str().unwrap().len() < 600);
}

/// Issue 14 §1: refusals beyond a rate are counted in one summary event, not written one
/// each, so that a flood cannot grow a journal without bound; a flood from one address does
/// not hide another address's refusals.
#[tokio::test]
async fn refusals_beyond_the_rate_are_summed_in_the_platform_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let st = state_built(
        &tmp,
        MemoryStore::new("offer-1"),
        MemoryStore::new("offer-2"),
        Default::default(),
    );
    let app = app(st.clone());
    let before = journal(&st, PLATFORM).len();
    for i in 0..300 {
        let (status, _, _) = send(
            &app,
            from(
                "192.0.2.7",
                Request::get("/api/v1/tenants/0/units")
                    .header(header::AUTHORIZATION, format!("Bearer carnac_guess{i}"))
                    .body(Body::empty())
                    .unwrap(),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let rates = carnac_archive::throttle::RefusalRates::default();
    let own = journal(&st, PLATFORM)[before..]
        .iter()
        .filter(|e| e.event.kind == "ACCESS_REFUSED")
        .count();
    assert_eq!(
        own, rates.per_address.0 as usize,
        "one event each up to the burst"
    );
    // Another address is still journaled one by one.
    let (status, _, _) = send(
        &app,
        from(
            "192.0.2.8",
            Request::get("/api/v1/tenants/0/units")
                .body(Body::empty())
                .unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let last = journal(&st, PLATFORM).pop().unwrap();
    assert_eq!(last.event.detail["address"], "192.0.2.8");
    // The rest is counted: one summary (here forced, as a stop does).
    assert_eq!(st.archive.journal_refusal_summaries(true).unwrap(), 1);
    let summary = journal(&st, PLATFORM).pop().unwrap().event;
    assert_eq!(summary.kind, "ACCESS_REFUSED_SUMMARY");
    assert_eq!(summary.detail["refusals"], 300 - own as u64);
    assert_eq!(summary.detail["addresses"][0]["address"], "192.0.2.7");
}

/// Issue 14 §1: a request refused before its handler authorized it (an identifier that is
/// not one, an unknown route) was not journaled at all.
#[tokio::test]
async fn requests_that_name_nothing_valid_are_journaled_too() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st.clone());
    for (uri, expected) in [
        (
            "/api/v1/tenants/ta%2f..%2ftb/units",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/tenants/0/units/%ff%fe", StatusCode::BAD_REQUEST),
        ("/api/v1/nowhere", StatusCode::NOT_FOUND),
        ("/restservices/nowhere", StatusCode::NOT_FOUND),
    ] {
        let before = journal(&st, PLATFORM).len();
        let (status, body, _) = send(&app, get(uri, &tokens.archivist)).await;
        assert_eq!(status, expected, "{uri}: {body}");
        let events = journal(&st, PLATFORM);
        assert_eq!(events.len(), before + 1, "{uri} journaled once");
        let e = &events.last().unwrap().event;
        assert_eq!(e.kind, "ACCESS_REFUSED", "{uri}");
        assert_eq!(e.agent, "arch", "{uri}: who asked");
        assert_eq!(e.detail["decision"], "invalid_request");
        assert_eq!(e.detail["subject"], expected.as_str());
    }
    // An allowed request is journaled once, by its handler, not twice.
    let before = journal(&st, "0").len();
    let before_platform = journal(&st, PLATFORM).len();
    let (status, _, _) = send(&app, get("/api/v1/tenants/0/units", &tokens.archivist)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(journal(&st, "0").len(), before + 1);
    assert_eq!(journal(&st, PLATFORM).len(), before_platform);
    // Pastell's network test is not a request of anyone's: not journaled.
    let (status, _, _) = send(
        &app,
        Request::get("/restservices/ping")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(journal(&st, PLATFORM).len(), before_platform);
}

fn limited(tmp: &tempfile::TempDir, http: HttpLimits) -> Arc<AppState> {
    let st = state(tmp);
    Arc::new(AppState {
        limits: Limits {
            http,
            ..Limits::default()
        },
        ..AppState::new(st.archive.clone(), st.uploads.clone(), st.worker.clone())
    })
}

/// Issue 14 §1: headers were taken up to hyper's buffer (about 400 KB); now a clear 431.
#[tokio::test]
async fn headers_beyond_the_cap_get_431() {
    let tmp = tempfile::tempdir().unwrap();
    let st = limited(&tmp, HttpLimits::default());
    let (addr, _stop, _join) = serve_loopback(st).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let big = format!(
        "GET /api/v1/tenants/0/units HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\r\n",
        "Z".repeat(40_000)
    );
    s.write_all(big.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Under the cap, an ordinary request is answered.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Issue 14 §6: slow clients held connections forever. Headers sent a byte at a time are
/// cut at the header timeout; a kept-alive connection that sends nothing is closed; a body
/// that stops coming is cut, and its upload removed.
#[tokio::test]
async fn slow_headers_idle_connections_and_stalled_bodies_are_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let st = Arc::new(AppState {
        limits: Limits {
            http: HttpLimits {
                header_timeout: Duration::from_secs(1),
                body_timeout: Duration::from_secs(1),
                ..HttpLimits::default()
            },
            ..Limits::default()
        },
        ..AppState::new(st.archive.clone(), st.uploads.clone(), st.worker.clone())
    });
    let (addr, _stop, _join) = serve_loopback(st.clone()).await;

    // Slowloris: a byte every 200 ms, never the end of the headers.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    let slow = async {
        for b in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), slow)
        .await
        .unwrap();
    let closed = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the server closed the connection");
    assert!(started.elapsed() < Duration::from_secs(15));

    // Kept alive after one answer, then silent: closed.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(10))
        .await
        .expect("closed after the idle timeout");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A transfer whose body stops after 1 KB of its announced 10 MB.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tenants/0/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 10485760\r\n\r\n",
        tokens.producer
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[0u8; 1024]).await.unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(10))
        .await
        .expect("the stalled upload is cut");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // Nothing of it is left in the incoming folder.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let left: Vec<_> = std::fs::read_dir(st.archive.incoming_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Issue 14 §6: no cap on connections. Beyond the cap per address, a new connection is
/// closed at once; another address still gets in; a slot comes back when a connection ends.
#[tokio::test]
async fn connections_beyond_the_cap_are_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let st = limited(
        &tmp,
        HttpLimits {
            max_connections_per_address: 3,
            max_connections: 5,
            ..HttpLimits::default()
        },
    );
    let (addr, _stop, _join) = serve_loopback(st).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let answer = read_to_close(&mut fourth, Duration::from_secs(5)).await;
    assert_eq!(answer.as_deref(), Some(""), "closed without an answer");
    // From another loopback address: admitted.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(addr).await.unwrap();
    other
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut other, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // One of the three goes: a new one is admitted.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = tokio::net::TcpStream::connect(addr).await.unwrap();
    again
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut again, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Issue 14 §5: a wrong password for an existing login took 29-39 ms, an unknown, disabled
/// or token-only login 3-5 ms, so the timing told which logins exist; and nothing slowed
/// guessing. Every login is now checked against a hash (a dummy one when it has none), and
/// failures lock the login and the address with growing delays, journaled.
#[tokio::test]
async fn logins_cost_the_same_whether_they_exist_and_failures_lock() {
    use carnac_model::access::{AccountKind, Role};
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let archive = &st.archive;
    // A token-only account and a disabled one, beside "prod" (password "secret").
    archive
        .create_account(
            &carnac_archive::accounts::NewAccount {
                login: "robot",
                role: Role::Producer,
                kind: AccountKind::Application,
                tenants: &[TenantId::new("0").unwrap()],
                password: None,
                token: true,
                certificate: None,
                agencies: &[],
            },
            "test",
        )
        .unwrap();
    account(archive, "gone", Role::Producer, &["0"]);
    archive.set_account_disabled("gone", true, "test").unwrap();
    let digest = carnac_archive::accounts::password_digest;
    for login in ["prod", "nobody", "robot", "gone"] {
        let before = archive.password_hashes_computed();
        let check = archive
            .authenticate_password(login, &digest("wrong"), None)
            .unwrap();
        assert_eq!(check, carnac_archive::accounts::PasswordCheck::Invalid);
        assert_eq!(
            archive.password_hashes_computed(),
            before + 1,
            "{login}: one hash computed, as for any login"
        );
    }

    let app = app(st.clone());
    let attempt = |login: &str, password: &str, address: &str| {
        from(
            address,
            Request::get("/api/v1/me")
                .header(header::AUTHORIZATION, basic(login, &digest(password)))
                .body(Body::empty())
                .unwrap(),
        )
    };
    // "prod" already failed once above; four more are free.
    for _ in 0..4 {
        let (status, _, _) = send(&app, attempt("prod", "guess", "198.51.100.1")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = send(&app, attempt("prod", "guess", "198.51.100.1")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the failure that locks");
    let platform = journal(&st, PLATFORM);
    let locks: Vec<_> = platform
        .iter()
        .filter(|e| e.event.kind == "LOGIN_LOCKED")
        .collect();
    assert!(
        locks.iter().any(|e| e.event.detail["key"] == "prod"),
        "the lock is journaled: {locks:?}"
    );
    // Locked: even the right password is not checked, and the answer says when to retry.
    let before = archive.password_hashes_computed();
    let res = app
        .clone()
        .oneshot(attempt("prod", "secret", "203.0.113.9"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(archive.password_hashes_computed(), before, "not checked");
    // An unknown login is locked the same way: the lock tells nothing of existence.
    for _ in 0..6 {
        send(&app, attempt("nobody-2", "guess", "198.51.100.2")).await;
    }
    let (status, _, _) = send(&app, attempt("nobody-2", "guess", "203.0.113.10")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The address that guessed is locked for other logins too, once it failed as often;
    // others are not.
    let (status, _, _) = send(&app, attempt("someone", "guess", "198.51.100.1")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "its sixth failure");
    let (status, _, _) = send(&app, attempt("ctl", "secret", "198.51.100.1")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _, _) = send(&app, attempt("ctl", "secret", "203.0.113.11")).await;
    assert_eq!(status, StatusCode::OK);
    // A success is remembered: the same credentials again compute no hash.
    let before = archive.password_hashes_computed();
    let (status, _, _) = send(&app, attempt("ctl", "secret", "203.0.113.11")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(archive.password_hashes_computed(), before);
}

/// Issue 14 §6: an operator could disable itself, or the last enabled operator, and leave
/// the archive with nobody to administer it.
#[tokio::test]
async fn the_last_operator_and_oneself_cannot_be_disabled() {
    use carnac_model::access::Role;
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st.clone());
    let (status, body, _) = send(
        &app,
        post("/api/v1/accounts/op/disable", &tokens.operator, ""),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("cannot disable itself"), "{body}");
    // Another operator may not disable the last enabled one either.
    let second = account(&st.archive, "op2", Role::Operator, &[]);
    let (status, body, _) = send(&app, post("/api/v1/accounts/op/disable", &second, "")).await;
    assert_eq!(status, StatusCode::OK, "op2 is left: {body}");
    let (status, body, _) = send(&app, post("/api/v1/accounts/op/enable", &second, "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    st.archive.set_account_disabled("op2", true, "op").unwrap();
    let err = st
        .archive
        .set_account_disabled("op", true, "cli")
        .unwrap_err()
        .to_string();
    assert!(err.contains("last enabled operator"), "{err}");
    assert!(
        st.archive
            .catalog()
            .account("op")
            .unwrap()
            .unwrap()
            .disabled_at
            .is_none()
    );
}

fn chunk_form(
    session: &str,
    security: &str,
    index: &str,
    count: &str,
    content: &[u8],
) -> Request<Body> {
    pastell_post(
        "/restservices/sedaAttachmentsChunkFiles",
        multipart(&[
            ("chunk_content", Some("archive.tar.gz"), content),
            ("session_identifier", None, session.as_bytes()),
            ("security_identifier", None, security.as_bytes()),
            ("number_of_files", None, b"1"),
            ("file_index", None, b"1"),
            ("file_name", None, b"archive.tar.gz"),
            ("compression_algorithm", None, b"TARGZ"),
            ("number_of_chunks", None, count.as_bytes()),
            ("chunk_index", None, index.as_bytes()),
        ]),
    )
}

async fn open_session(app: &axum::Router, id: &str) -> (StatusCode, serde_json::Value) {
    let (bordereau, _) = pastell_transfer("fakeSeda-bordereau.xml", id);
    let (status, body, _) = send(
        app,
        pastell_post(
            "/restservices/sedaMessages",
            multipart(&[
                ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
                ("send_chunked_attachments", None, b"true"),
            ]),
        ),
    )
    .await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

fn session_folders(st: &AppState) -> Vec<std::path::PathBuf> {
    let root = st.archive.incoming_dir().join("chunks");
    let mut out = Vec::new();
    for account in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for s in std::fs::read_dir(account.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if s.file_type().unwrap().is_dir() {
                out.push(s.path());
            }
        }
    }
    out
}

/// Issue 14 §2: `number_of_chunks=4294967295` made a chunk request stat every index up to
/// that count, holding the session's lock; abandoned sessions were not capped per account,
/// were taken for a suspended tenant, and were reclaimed only at the next start.
#[tokio::test]
async fn chunk_counts_sessions_and_bytes_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let st = Arc::new(AppState {
        limits: Limits {
            chunks: carnac_archive::chunks::ChunkLimits {
                sessions_per_account: 3,
                bytes_per_account: 1000,
                max_session_bytes: 1000,
                idle: Duration::from_secs(3600),
                ..Default::default()
            },
            max_upload: 1000,
            ..Limits::default()
        },
        ..AppState::new(st.archive.clone(), st.uploads.clone(), st.worker.clone())
    });
    let app = app(st.clone());
    let (status, v) = open_session(&app, "CHUNKS-1").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let session = v["chunk_session_identifier"].as_str().unwrap().to_owned();
    let security = v["chunk_security_identifier"].as_str().unwrap().to_owned();

    // A count beyond what the limits allow is refused at once, whatever it is.
    for count in ["4294967295", "1001"] {
        let (status, body, _) =
            send(&app, chunk_form(&session, &security, "1", count, b"abc")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body.contains("number_of_chunks must be from 1 to 1000"),
            "{body}"
        );
    }
    // A count within them: the session records what it has, not what is announced.
    let (status, body, _) = send(&app, chunk_form(&session, &security, "7", "1000", b"abc")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dir = session_folders(&st).pop().unwrap();
    let record = std::fs::read_to_string(dir.join("session.json")).unwrap();
    assert!(record.len() < 1000, "{record}");
    assert!(record.contains("\"count\":1"), "{record}");
    // Sent again, a chunk replaces itself: still one chunk, three bytes.
    let (status, _, _) = send(&app, chunk_form(&session, &security, "7", "1000", b"xyz")).await;
    assert_eq!(status, StatusCode::OK);
    let record = std::fs::read_to_string(dir.join("session.json")).unwrap();
    assert!(
        record.contains("\"count\":1") && record.contains("\"bytes\":3"),
        "{record}"
    );
    // An empty chunk names nothing.
    let (status, body, _) = send(&app, chunk_form(&session, &security, "8", "1000", b"")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Bytes per account: this session holds 3; 998 more do not fit.
    let (status, body, _) = send(
        &app,
        chunk_form(&session, &security, "9", "1000", &[1u8; 998]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // Sessions per account: 3 open, the fourth refused.
    for i in 2..=3 {
        let (status, v) = open_session(&app, &format!("CHUNKS-{i}")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let (status, v) = open_session(&app, "CHUNKS-4").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "too_many_sessions", "{v}");
    assert_eq!(session_folders(&st).len(), 3);

    // Unused for longer than the idle time (by the archive's clock): removed while serving.
    let clock_now = std::time::SystemTime::from(time::macros::datetime!(2026-11-29 04:00:00 UTC));
    for d in session_folders(&st) {
        let old = clock_now - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(d.join("session.json"))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    crate::housekeeping(st.clone(), false).await;
    assert!(session_folders(&st).is_empty());
    let (status, v) = open_session(&app, "CHUNKS-5").await;
    assert_eq!(status, StatusCode::OK, "room again: {v}");

    // A suspended tenant's sender is refused at once, before its upload is read.
    let t = TenantId::new("pastell").unwrap();
    st.archive.suspend_tenant(&t, true, "test").unwrap();
    let (status, v) = open_session(&app, "CHUNKS-6").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "tenant_suspended");
    let (status, body, _) = send(&app, chunk_form(&session, &security, "1", "2", b"abc")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

/// Issue 14 §2: a stop cancels the assembly of a completed session rather than waiting for
/// it; the session stays, and the last chunk sent again after the restart completes it.
#[test]
fn a_stop_interrupts_the_assembly_and_the_session_waits() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let archive = &st.archive;
    let t = TenantId::new("pastell").unwrap();
    let limits = carnac_archive::chunks::ChunkLimits::default();
    let incoming = archive.incoming_dir();
    let file = |bytes: &[u8]| {
        let mut f = tempfile::Builder::new().tempfile_in(&incoming).unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        f.into_temp_path()
    };
    let (bordereau, _) = pastell_transfer("fakeSeda-bordereau.xml", "STOP-1");
    let opened = archive
        .open_chunk_session(&t, "pastell", file(bordereau.as_bytes()), &limits)
        .unwrap();
    let add = |index, stopping: bool| {
        archive.add_chunk(
            &t,
            "pastell",
            &opened.session,
            &opened.security,
            carnac_archive::chunks::ChunkPosition { index, count: 2 },
            file(b"part"),
            &limits,
            &std::sync::atomic::AtomicBool::new(stopping),
        )
    };
    assert!(add(1, false).unwrap().is_none());
    let err = add(2, true).unwrap_err();
    assert!(
        matches!(err, carnac_archive::chunks::ChunkError::Stopping),
        "{err}"
    );
    let done = add(2, false).unwrap().expect("completed after the restart");
    assert_eq!(std::fs::read(&done.attachments).unwrap(), b"partpart");
}

/// Issue 14 §4: a search of 30,000 repeated words took 10-13 s and 300 MB; six at once made
/// another tenant's search wait 37 s. The query is bounded (bytes, distinct words), and a
/// tenant's searches beyond its share wait behind each other, not in front of other tenants'.
#[tokio::test]
async fn searches_are_bounded_and_shared_between_tenants() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let st = Arc::new(AppState {
        limits: Limits {
            search: crate::SearchLimits {
                timeout: Duration::from_millis(300),
                at_once: 2,
                per_tenant: 1,
                ..Default::default()
            },
            ..Limits::default()
        },
        ..AppState::new(st.archive.clone(), st.uploads.clone(), st.worker.clone())
    });
    let app = app(st.clone());
    let search = |token: &str, tenant: &str, q: &str| {
        let q: String = url_encode(q);
        get(&format!("/api/v1/tenants/{tenant}/units?q={q}"), token)
    };
    // As `curl -G --data-urlencode` sends it: words joined by '+'.
    let repeated = ["a"; 30_000].join("+");
    let (status, body, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/units?q={repeated}"),
            &tokens.control,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("q has 59999 bytes; at most 512"), "{body}");
    let many: Vec<String> = (0..40).map(|i| format!("mot{i}")).collect();
    let (status, body, _) = send(&app, search(&tokens.control, "0", &many.join(" "))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("40 different words"), "{body}");
    // Repeated words are one word: allowed, and searched once.
    let (status, body, _) = send(&app, search(&tokens.control, "0", &["a"; 200].join(" "))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Tenant 0 holds its one place: its next search waits, then is told to retry; tenant
    // "other" still searches at once.
    let held = st
        .gates()
        .searches
        .enter("0", Duration::from_secs(1))
        .await
        .unwrap();
    let res = app
        .clone()
        .oneshot(search(&tokens.control, "0", "budget"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    let (status, body, _) = send(&app, search(&tokens.other_archivist, "other", "budget")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    drop(held);
    let (status, body, _) = send(&app, search(&tokens.control, "0", "budget")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Issue 14 §1 and §4, the same class: the journal of a unit or object was read whole and
/// returned whole, however many events name it; it is now paged and shares its place.
#[tokio::test]
async fn journal_views_are_paged() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st.clone());
    let op = submit(&app, "0", &tokens.producer, "OK_SIP-test-md5.zip").await;
    wait_done(&app, "0", &op, &tokens.producer).await;
    let uri = |extra: &str| format!("/api/v1/tenants/0/journal?operation={op}{extra}");
    let (status, body, _) = send(&app, get(&uri(""), &tokens.archivist)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let all: serde_json::Value = serde_json::from_str(&body).unwrap();
    let n = all["events"].as_array().unwrap().len();
    assert!(n >= 3, "{body}");
    assert_eq!(all["more"], false);
    let (_, body, _) = send(&app, get(&uri("&limit=2"), &tokens.archivist)).await;
    let first: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    assert_eq!(first["more"], true);
    let next = first["next_after"].as_u64().unwrap();
    let (_, body, _) = send(
        &app,
        get(&uri(&format!("&after={next}")), &tokens.archivist),
    )
    .await;
    let rest: serde_json::Value = serde_json::from_str(&body).unwrap();
    // (Each read of the view is itself an event about the operation: the view grows.)
    assert!(rest["events"].as_array().unwrap().len() >= n - 2);
    assert_eq!(rest["events"][0], all["events"][2]);
    let (status, _, _) = send(&app, get(&uri("&limit=100000"), &tokens.archivist)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Issue 14 §3: the as@lae intake reads the bordereau within the HTTP request: it paid the
/// same cost of depth there. Refused at once now, for its depth.
#[tokio::test]
async fn a_deep_bordereau_is_refused_by_the_intake_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    let (bordereau, _) = pastell_transfer("fakeSeda-bordereau.xml", "DEEP-1");
    let depth = 400_000;
    let deep = bordereau.replacen(
        "</TransferIdentifier>",
        &format!(
            "</TransferIdentifier><Comment>{}{}</Comment>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        ),
        1,
    );
    let (status, body, _) = send(
        &app,
        pastell_post(
            "/restservices/sedaMessages",
            multipart(&[
                ("seda_message", Some("bordereau.xml"), deep.as_bytes()),
                ("attachments", Some("archive.tar.gz"), b"x"),
            ]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("deeper than SEDA needs"), "{body}");
}

/// Issue 14, the same class as §2: a producer could queue transfers without end, filling the
/// incoming folder that every tenant shares. A tenant's queue is bounded in transfers and
/// bytes; beyond, 429 before the upload is read (or once its size is known), nothing kept.
#[tokio::test]
async fn a_tenants_queue_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let limited = |count, bytes| {
        Arc::new(AppState {
            limits: Limits {
                queued_per_tenant: count,
                queued_bytes_per_tenant: bytes,
                ..Limits::default()
            },
            ..AppState::new(st.archive.clone(), st.uploads.clone(), st.worker.clone())
        })
    };
    let sip = sip("OK_SIP-test-md5.zip");
    for (state, why) in [
        (limited(0, 1 << 30), "transfers"),
        (limited(10, 100), "bytes"),
    ] {
        let app = app(state);
        let (status, body, _) = send(
            &app,
            post("/api/v1/tenants/0/transfers", &tokens.producer, sip.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{why}: {body}");
        assert!(body.contains("queue_full"), "{body}");
        let left: Vec<_> = std::fs::read_dir(st.archive.incoming_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().unwrap().is_file())
            .collect();
        assert!(left.is_empty(), "{why}: {left:?}");
    }
    // Within the bounds, taken.
    let app = app(limited(10, 1 << 30));
    let (status, body, _) = send(
        &app,
        post("/api/v1/tenants/0/transfers", &tokens.producer, sip),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

/// Issue 14 (the load check's finding): an account's flood of cheap, allowed requests took
/// the cores from everyone. An account's requests are bounded in rate (beyond: 429, journaled
/// as a refusal, counted past the rate of refusals) and in number at once (beyond: they wait
/// behind the account's own, then 503); another account is not affected.
#[tokio::test]
async fn an_accounts_requests_are_bounded_in_rate_and_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let st = Arc::new(AppState {
        limits: Limits {
            requests_per_second_per_account: 1,
            requests_per_account: 2,
            request_wait: Duration::from_millis(200),
            ..Limits::default()
        },
        ..AppState::new(st.archive.clone(), st.uploads.clone(), st.worker.clone())
    });
    let app = app(st.clone());
    let me = |token: &str| get("/api/v1/me", token);
    // A burst of four, then one a second.
    for i in 0..4 {
        let (status, body, _) = send(&app, me(&tokens.archivist)).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
    }
    let before = journal(&st, PLATFORM).len();
    let res = app.clone().oneshot(me(&tokens.archivist)).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    let refused = journal(&st, PLATFORM);
    assert_eq!(refused.len(), before + 1);
    assert_eq!(
        refused.last().unwrap().event.detail["decision"],
        "throttled"
    );
    assert_eq!(refused.last().unwrap().event.agent, "arch");
    // Another account still gets in.
    let (status, _, _) = send(&app, me(&tokens.control)).await;
    assert_eq!(status, StatusCode::OK);

    // At once: the auditor's two places held, its third request waits, then 503.
    let held = (
        st.gates()
            .requests
            .enter("aud", Duration::from_secs(1))
            .await
            .unwrap(),
        st.gates()
            .requests
            .enter("aud", Duration::from_secs(1))
            .await
            .unwrap(),
    );
    let res = app.clone().oneshot(me(&tokens.auditor)).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, _) = send(&app, me(&tokens.operator)).await;
    assert_eq!(status, StatusCode::OK, "another account is not held");
    drop(held);
    let (status, _, _) = send(&app, me(&tokens.auditor)).await;
    assert_eq!(status, StatusCode::OK);
}

/// Issue 14 §5: an address locked after failed logins kept costing a request each time;
/// its new connections are now closed at once while the lock lasts.
#[tokio::test]
async fn a_locked_address_gets_no_new_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let (addr, _stop, _join) = serve_loopback(st.clone()).await;
    let from = |ip: &str| {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        socket.connect(addr)
    };
    let guess = |i: usize| {
        format!(
            "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {}\r\n\r\n",
            basic(&format!("guess{i}"), "x")
        )
    };
    for i in 0..6 {
        let mut s = from("127.0.0.5").await.unwrap();
        s.write_all(guess(i).as_bytes()).await.unwrap();
        let answer = read_to_close(&mut s, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 401"), "{i}: {answer}");
    }
    let mut s = from("127.0.0.5").await.unwrap();
    let _ = s.write_all(guess(7).as_bytes()).await;
    let answer = read_to_close(&mut s, Duration::from_secs(10)).await;
    assert_eq!(answer.as_deref(), Some(""), "closed without an answer");
    // Counted in the platform's summary of refusals.
    st.archive.journal_refusal_summaries(true).unwrap();
    let summary = journal(&st, PLATFORM).pop().unwrap().event;
    assert_eq!(summary.kind, "ACCESS_REFUSED_SUMMARY");
    assert_eq!(
        summary.detail["decisions"]["address_locked"], 1,
        "{}",
        summary.detail
    );
    // Another address is served.
    let mut s = from("127.0.0.6").await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
