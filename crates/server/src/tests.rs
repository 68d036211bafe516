//! The HTTP boundary, driven with `oneshot`: a transfer in, its operation and reply out, and
//! errors as one stable JSON shape.

use super::*;
use axum::http::Request;
use carnac_archive::Parts;
use carnac_archive::system::fixed::{FixedClock, SequentialIds};
use carnac_blobstore::memory::MemoryStore;
use carnac_model::access::Role;
use tower::ServiceExt;

pub(crate) fn testdata() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Tokens of the test accounts: every role on tenant 0, and an archivist of tenant `other`.
pub(crate) struct Tokens {
    pub operator: String,
    pub archivist: String,
    pub producer: String,
    pub other_producer: String,
    pub control: String,
    pub auditor: String,
    pub other_archivist: String,
}

impl Tokens {
    fn of(&self, role: Role) -> &str {
        match role {
            Role::Operator => &self.operator,
            Role::Archivist => &self.archivist,
            Role::Producer => &self.producer,
            Role::ControlAuthority => &self.control,
            Role::Auditor => &self.auditor,
        }
    }
}

pub(crate) fn account(archive: &Archive, login: &str, role: Role, tenants: &[&str]) -> String {
    let tenants: Vec<TenantId> = tenants.iter().map(|t| TenantId::new(*t).unwrap()).collect();
    archive
        .create_account(
            &carnac_archive::accounts::NewAccount {
                login,
                role,
                kind: carnac_model::access::AccountKind::Application,
                tenants: &tenants,
                password: Some("secret"),
                token: true,
                certificate: None,
            },
            "test",
        )
        .unwrap()
        .1
        .unwrap()
}

pub(crate) fn state_with_accounts(tmp: &tempfile::TempDir) -> (Arc<AppState>, Tokens) {
    let st = state(tmp);
    let a = &st.archive;
    let other = TenantId::new("other").unwrap();
    a.create_tenant(&other, "Other", "test").unwrap();
    a.import_referentials(&other, &testdata().join("referentials/tenant-0"), "test")
        .unwrap();
    let tokens = Tokens {
        operator: account(a, "op", Role::Operator, &[]),
        archivist: account(a, "arch", Role::Archivist, &["0"]),
        producer: account(a, "prod", Role::Producer, &["0"]),
        other_producer: account(a, "prod2", Role::Producer, &["0"]),
        control: account(a, "ctl", Role::ControlAuthority, &["0"]),
        auditor: account(a, "aud", Role::Auditor, &["0"]),
        other_archivist: account(a, "arch-other", Role::Archivist, &["other"]),
    };
    (st, tokens)
}

pub(crate) fn state(tmp: &tempfile::TempDir) -> Arc<AppState> {
    state_on(
        tmp,
        MemoryStore::new("offer-1"),
        MemoryStore::new("offer-2"),
    )
}

/// An archive on the two memory offers given (kept by the test, to damage a copy).
pub(crate) fn state_on(
    tmp: &tempfile::TempDir,
    one: MemoryStore,
    two: MemoryStore,
) -> Arc<AppState> {
    // Most tests here count refusals one by one: the rate beyond which they are summed is
    // tested on its own (hardening_tests).
    let rates = carnac_archive::throttle::RefusalRates {
        per_address: (1_000_000, 1.0),
        in_all: (1_000_000, 1.0),
    };
    state_built(tmp, one, two, rates)
}

/// An archive on the two memory offers given, journaling refusals one each up to `rates`.
pub(crate) fn state_built(
    tmp: &tempfile::TempDir,
    one: MemoryStore,
    two: MemoryStore,
    refusal_rates: carnac_archive::throttle::RefusalRates,
) -> Arc<AppState> {
    let clock: Arc<dyn carnac_archive::ports::Clock> =
        Arc::new(FixedClock(time::macros::datetime!(2026-11-29 04:00:00 UTC)));
    let archive = Archive::new(Parts {
        catalog: Arc::new(carnac_catalog::sqlite::SqliteCatalog::in_memory().unwrap()),
        offers: vec![Arc::new(one), Arc::new(two)],
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
        scanner: None,
        identifier: Arc::new(carnac_pronom::Identifier::embedded().unwrap()),
        timestamps: Arc::new(
            carnac_archive::timestamping::Builtin::ephemeral(clock, Default::default()).unwrap(),
        ),
        tenant_timestamps: Default::default(),
        signer: Arc::new(
            carnac_timestamp::signature::Signer::create(
                "test",
                std::time::Duration::from_secs(1_795_900_000),
            )
            .unwrap(),
        ),
        config: carnac_archive::IngestConfig {
            refusal_rates,
            ..Default::default()
        },
        tmp: tmp.path().join("tmp"),
    })
    .unwrap();
    let t = TenantId::new("0").unwrap();
    archive.create_tenant(&t, "Tenant 0", "test").unwrap();
    archive
        .import_referentials(&t, &testdata().join("referentials/tenant-0"), "test")
        .unwrap();
    let archive = Arc::new(archive);
    let worker = Arc::new(carnac_archive::transfers::Worker::start(archive.clone()).unwrap());
    Arc::new(AppState::new(archive, tmp.path().join("tmp"), worker))
}

pub(crate) async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String, Option<String>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        String::from_utf8_lossy(&body).into_owned(),
        content_type,
    )
}

pub(crate) fn get(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

pub(crate) fn post(uri: &str, token: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body.into())
        .unwrap()
}

/// Polls an operation until its ingest is done; gives the operation.
pub(crate) async fn wait_done(
    app: &Router,
    tenant: &str,
    op: &str,
    token: &str,
) -> serde_json::Value {
    for _ in 0..600 {
        let (status, body, _) = send(
            app,
            get(&format!("/api/v1/tenants/{tenant}/operations/{op}"), token),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{op}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["state"] == "DONE" {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("operation {op} not done in 60 s");
}

/// Sends a transfer: 202 and its operation.
pub(crate) async fn submit(app: &Router, tenant: &str, token: &str, name: &str) -> String {
    let (status, body, _) = send(
        app,
        post(
            &format!("/api/v1/tenants/{tenant}/transfers"),
            token,
            sip(name),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["state"], "RECEIVED");
    v["operation"].as_str().unwrap().to_owned()
}

pub(crate) fn sip(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join("seda").join(name)).unwrap()
}

#[tokio::test]
async fn a_transfer_its_operation_and_its_reply() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let (status, body, _) = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"status":"ok"}"#, "health says nothing of tenants");

    let op = submit(&app, "0", &tokens.producer, "OK_SIP-test-md5.zip").await;
    let o = wait_done(&app, "0", &op, &tokens.producer).await;
    assert_eq!(
        (
            o["kind"].as_str(),
            o["status"].as_str(),
            o["has_atr"].as_bool()
        ),
        (Some("INGEST"), Some("OK"), Some(true))
    );

    let (status, body, content_type) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/operations/{op}/atr"),
            &tokens.producer,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.unwrap().starts_with("application/xml"));
    assert!(body.contains("<ReplyCode>OK</ReplyCode>"));

    // Its acknowledgement, in the transfer's SEDA version, naming the transfer.
    let (status, ack, content_type) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/operations/{op}/ack"),
            &tokens.producer,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert!(content_type.unwrap().starts_with("application/xml"));
    assert!(
        ack.contains("<Acknowledgement xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\">"),
        "{ack}"
    );
    assert!(
        ack.contains(&format!("<MessageIdentifier>ACK_{op}</MessageIdentifier>")),
        "{ack}"
    );
    assert_valid_seda(tmp.path(), carnac_seda::SedaVersion::V2_1, &ack);

    // Another producer of the same tenant does not read it; its archivist does.
    let (status, _, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/operations/{op}/atr"),
            &tokens.other_producer,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/operations/{op}/atr"),
            &tokens.archivist,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Received containers are removed once ingested (just after the operation is done).
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = std::fs::read_dir(tmp.path().join("tmp/incoming"))
            .unwrap()
            .count();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_rejected_transfer_is_422_with_its_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let op = submit(&app, "0", &tokens.archivist, "KO_BORD_empreinte_KO.zip").await;
    let v = wait_done(&app, "0", &op, &tokens.archivist).await;
    assert_eq!(v["status"], "KO");
    assert!(
        v["summary"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["step"] == "CHECK_DIGEST")
    );
}

#[tokio::test]
async fn errors_have_one_shape_and_leak_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let t = &tokens.archivist;
    let cases = [
        (
            post("/api/v1/tenants/nobody/transfers", t, "x"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            post("/api/v1/tenants/0/transfers", t, Body::empty()),
            StatusCode::BAD_REQUEST,
            "empty_body",
        ),
        (
            post("/api/v1/tenants/..%2Fx/transfers", t, "x"),
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
        ),
        (
            get("/api/v1/tenants/0/operations/op-unknown", t),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            get("/api/v1/tenants/0/operations/op-unknown/atr", t),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            get("/api/v1/tenants/0/operations/bad%20id", t),
            StatusCode::BAD_REQUEST,
            "invalid_operation",
        ),
        (
            get(
                "/api/v1/tenants/0/operations/op-unknown",
                "carnac_not-a-token",
            ),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            Request::get("/api/v1/me").body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            post("/api/v1/tenants", &tokens.operator, "{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (req, expected, code) in cases {
        let uri = req.uri().to_string();
        let (status, body, _) = send(&app, req).await;
        assert_eq!(status, expected, "{uri}: {body}");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri}: {e}: {body}"));
        assert_eq!(v["error"]["code"], code, "{uri}");
    }
}

#[tokio::test]
async fn another_tenant_looks_the_same_whether_it_exists_or_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let op = submit(
        &app,
        "other",
        &tokens.other_archivist,
        "OK_SIP-test-md5.zip",
    )
    .await;
    wait_done(&app, "other", &op, &tokens.other_archivist).await;
    // Tenant 0's archivist asks for `other`'s operation, and for a tenant that does not exist.
    let mut answers = Vec::new();
    for tenant in ["other", "ghost"] {
        for suffix in ["", "/atr"] {
            let (status, body, _) = send(
                &app,
                get(
                    &format!("/api/v1/tenants/{tenant}/operations/{op}{suffix}"),
                    &tokens.archivist,
                ),
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            answers.push(body);
        }
    }
    assert_eq!(
        answers[0], answers[2],
        "no difference between existing and not"
    );
    assert_eq!(answers[1], answers[3]);
    // And its own tenant's namespace does not hold it.
    let (status, _, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/operations/{op}"),
            &tokens.archivist,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn basic_credentials_carry_the_sha256_of_the_password() {
    use base64::Engine;
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let app = app(st);
    let basic = |login: &str, pass: &str| {
        Request::get("/api/v1/me")
            .header(
                header::AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{login}:{pass}"))
                ),
            )
            .body(Body::empty())
            .unwrap()
    };
    let digest = carnac_archive::accounts::password_digest("secret");
    let (status, body, _) = send(&app, basic("prod", &digest)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""role":"producer""#), "{body}");
    let (status, _, _) = send(&app, basic("prod", "secret")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the password itself is not sent"
    );
    let (status, _, _) = send(&app, basic("nobody", &digest)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Every role, and no account, against every endpoint, on its own tenant and on another:
/// the exact set of allowed requests, each journaled with who asked, in the right journal.
#[tokio::test]
async fn the_role_matrix_of_every_endpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let archive = st.archive.clone();
    let app = app(st);
    // An operation in each tenant, sent by a producer of 0 and the archivist of `other`.
    let mut ops = std::collections::HashMap::new();
    for (tenant, token) in [("0", &tokens.producer), ("other", &tokens.other_archivist)] {
        let op = submit(&app, tenant, token, "OK_SIP-test-md5.zip").await;
        wait_done(&app, tenant, &op, token).await;
        ops.insert(tenant, op);
    }
    // An account for the operator to disable and enable, with tokens to revoke (one per
    // allowed request).
    account(&archive, "spare", Role::Auditor, &["0"]);
    let mut spare_tokens: Vec<String> = (0..3)
        .map(|_| carnac_archive::accounts::token_id(&archive.issue_token("spare", "test").unwrap()))
        .collect();
    // A unit with a file in each tenant.
    let mut files = std::collections::HashMap::new();
    for tenant in ["0", "other"] {
        let t = TenantId::new(tenant).unwrap();
        let op = carnac_model::OperationId::new(&ops[tenant]).unwrap();
        let (object, unit) = archive
            .catalog()
            .units_of_operation(&t, &op)
            .unwrap()
            .into_iter()
            .find_map(|u| {
                let (_, objects) = archive.catalog().unit(&t, &u.id).unwrap()?;
                let o = objects.into_iter().find(|o| o.size.is_some())?;
                Some((o.id.to_string(), u.id.to_string()))
            })
            .unwrap();
        files.insert(tenant, (unit, object));
    }
    use Role::*;
    // (method, path with {t}, {op}, {unit}, {object}, body, roles allowed on their own tenant).
    let endpoints: Vec<(&str, &str, &str, Vec<Role>)> = vec![
        ("GET", "/api/v1/me", "", Role::ALL.to_vec()),
        ("GET", "/api/v1/tenants", "", vec![Operator]),
        (
            "POST",
            "/api/v1/tenants",
            r#"{"id":"new-{n}"}"#,
            vec![Operator],
        ),
        ("GET", "/api/v1/accounts", "", vec![Operator]),
        ("POST", "/api/v1/accounts/spare/disable", "", vec![Operator]),
        ("POST", "/api/v1/accounts/spare/enable", "", vec![Operator]),
        ("GET", "/api/v1/accounts/spare/tokens", "", vec![Operator]),
        (
            "POST",
            "/api/v1/accounts/spare/tokens/{spare_token}/revoke",
            "",
            vec![Operator],
        ),
        (
            "POST",
            "/api/v1/accounts",
            r#"{"login":"new-{n}","role":"auditor","tenants":["0"],"token":true}"#,
            vec![Operator],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/referentials",
            "",
            vec![Operator, Archivist, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/transfers",
            "SIP",
            vec![Archivist, Producer],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/operations/{op}",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/operations/{op}/atr",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/operations/{op}/ack",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/units?q=x",
            "",
            vec![Archivist, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/units/{unit}",
            "",
            vec![Archivist, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/objects/{object}",
            "",
            vec![Archivist, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/journal?operation={op}",
            "",
            vec![Archivist, ControlAuthority, Auditor],
        ),
        ("POST", "/api/v1/tenants/{t}/suspend", "", vec![Operator]),
        ("POST", "/api/v1/tenants/{t}/resume", "", vec![Operator]),
    ];
    let journal_len = |tenant: &str| {
        archive
            .catalog()
            .journal(&TenantId::new(tenant).unwrap())
            .unwrap()
            .len()
    };
    let mut n = 0;
    for (method, template, body, allowed) in &endpoints {
        let scoped = template.contains("{t}");
        let tenants: &[&str] = if scoped { &["0", "other"] } else { &["-"] };
        for tenant in tenants {
            let mut callers: Vec<(String, Option<Role>)> = Role::ALL
                .iter()
                .map(|r| (tokens.of(*r).to_owned(), Some(*r)))
                .collect();
            callers.push(("".to_owned(), None));
            for (token, role) in callers {
                n += 1;
                let (unit, object) = files.get(tenant).cloned().unwrap_or_default();
                let path = template
                    .replace("{t}", tenant)
                    .replace("{op}", ops.get(tenant).map_or("", |s| s.as_str()))
                    .replace("{unit}", &unit)
                    .replace("{object}", &object);
                // Each allowed revocation uses up a token; a refused one names any.
                let path = if path.contains("{spare_token}") {
                    let id = if role == Some(Operator) && *tenant != "other" {
                        spare_tokens.pop().unwrap()
                    } else {
                        spare_tokens[0].clone()
                    };
                    path.replace("{spare_token}", &id)
                } else {
                    path
                };
                let body: Body = match *body {
                    "SIP" => sip("OK_SIP-test-md5.zip").into(),
                    "REFS" => tar_gz(&testdata().join("referentials/tenant-0"), false).into(),
                    b => b.replace("{n}", &n.to_string()).into(),
                };
                let mut req = Request::builder().method(*method).uri(&path);
                if role.is_some() {
                    req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
                }
                // The tenant's journal for what an account that works on it asked (allowed or
                // not); the platform's for the rest: nobody writes into the journal of a
                // tenant they have no right on (issue 14).
                let journal = if scoped && role.is_some_and(|r| r == Operator || *tenant == "0") {
                    *tenant
                } else {
                    carnac_model::access::PLATFORM
                };
                let before = journal_len(journal);
                let (status, answer, _) = send(&app, req.body(body).unwrap()).await;
                let expected = match role {
                    None => false,
                    Some(r) => allowed.contains(&r) && (*tenant != "other" || r == Operator),
                };
                let what = format!("{role:?} {method} {path}: {status} {answer}");
                match (role, expected) {
                    (None, _) => assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}"),
                    (Some(_), false) => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
                    (Some(_), true) => assert!(
                        status.is_success(),
                        "allowed, and it should succeed: {what}"
                    ),
                }
                // The request is in the journal, with who asked and whether it was allowed.
                let events = archive
                    .catalog()
                    .journal(&TenantId::new(journal).unwrap())
                    .unwrap();
                let login = role.map(|r| match r {
                    Operator => "op",
                    Archivist => "arch",
                    Producer => "prod",
                    ControlAuthority => "ctl",
                    Auditor => "aud",
                });
                let recorded = events[before..].iter().any(|e| {
                    e.event.kind == if expected { "ACCESS" } else { "ACCESS_REFUSED" }
                        && e.event.detail["path"] == path.split('?').next().unwrap()
                        && login.is_none_or(|l| e.event.agent == l)
                });
                assert!(recorded, "not journaled in {journal}: {what}");
            }
        }
    }
}

/// The committed OpenAPI document and the router agree: every operation it describes is
/// routed (and asks for credentials, but the document itself), and every route is described.
#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(state(&tmp));
    let (status, body, content_type) = send(
        &app,
        Request::get("/api/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut described = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            described.push(format!("{} {path}", method.to_uppercase()));
            let uri = path
                .replace("{tenant}", "0")
                .replace("{operation}", "op-x")
                .replace("{login}", "l-x")
                .replace("{unit}", "u-x")
                .replace("{object}", "o-x")
                .replace("{token}", "0123456789abcdef")
                .replace("{message}", "Acknowledgement")
                .replace("{origin}", "AGENCY")
                .replace("{id}", "T-1");
            let (status, body, _) = send(
                &app,
                Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            let expected = if path == "/api/v1/openapi.json" || path == "/restservices/ping" {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(status, expected, "{method} {path}: {body}");
        }
    }
    described.sort();
    // The router's routes, read from its source: one `.route(` per path.
    let source: String = include_str!("lib.rs").split_whitespace().collect();
    let router =
        &source[source.find("Router::new()").unwrap()..source.find(".with_state(").unwrap()];
    let mut routed = Vec::new();
    for route in router.split(".route(\"").skip(1) {
        let (path, handlers) = route.split_once('"').unwrap();
        for (name, method) in [
            ("get(", "GET"),
            ("post(", "POST"),
            ("put(", "PUT"),
            ("delete(", "DELETE"),
        ] {
            if handlers.contains(name) {
                routed.push(format!("{method} {path}"));
            }
        }
    }
    routed.retain(|r| r.contains("/api/"));
    // The as@lae intake's, under its default base path.
    let source: String = include_str!("asalae.rs").split_whitespace().collect();
    let router = &source[source.find("Router::new()").unwrap()..source.find(".layer(").unwrap()];
    for route in router.split(".route(\"").skip(1) {
        let (path, handlers) = route.split_once('"').unwrap();
        let path = path.replace(
            "/{*selector}",
            "/sequence:ArchiveTransfer/message:{message}/originOrganizationIdentification:{origin}/originMessageIdentifier:{id}",
        );
        for (name, method) in [("get(", "GET"), ("post(", "POST")] {
            if handlers.contains(name) {
                routed.push(format!("{method} /restservices{path}"));
            }
        }
    }
    routed.sort();
    assert_eq!(described, routed);
}

#[tokio::test]
async fn search_a_unit_and_download_its_file_whole_or_in_part() {
    use base64::Engine;
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (MemoryStore::new("offer-1"), MemoryStore::new("offer-2"));
    let st = state_on(&tmp, one.clone(), two.clone());
    let archivist = account(&st.archive, "arch", Role::Archivist, &["0"]);
    let producer = account(&st.archive, "prod", Role::Producer, &["0"]);
    let app = app(st);
    let op = submit(&app, "0", &producer, "OK_SIP_2_GO.zip").await;
    assert_eq!(
        wait_done(&app, "0", &op, &producer).await["status"],
        "WARNING"
    );

    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    // Pages stop at the search window: deeper, narrow the search.
    let (status, body, _) = send(
        &app,
        get("/api/v1/tenants/0/units?per_page=100&page=101", &archivist),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("too_deep"), "{body}");
    let (status, body, _) = send(
        &app,
        get("/api/v1/tenants/0/units?per_page=200", &archivist),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let all = json(&body);
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 2, "{body}");
    assert!(
        all["facets"]["agency"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["count"].as_u64().unwrap())
            .sum::<u64>()
            <= total
    );
    // A word of one title finds that unit first.
    let title = all["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["title"].as_str().unwrap().to_owned())
        .find(|t| t.chars().any(char::is_alphanumeric))
        .unwrap();
    let word: String = title
        .split(|c: char| !c.is_alphanumeric())
        .max_by_key(|w| w.len())
        .unwrap()
        .to_owned();
    let (_, body, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/units?q={}", urlencode(&word)),
            &archivist,
        ),
    )
    .await;
    let found = json(&body);
    assert!(found["total"].as_u64().unwrap() >= 1, "{word}: {body}");
    // Paging.
    let (_, body, _) = send(
        &app,
        get("/api/v1/tenants/0/units?per_page=1&page=2", &archivist),
    )
    .await;
    assert_eq!(json(&body)["units"].as_array().unwrap().len(), 1);
    // Bad parameters are named.
    for bad in [
        "per_page=0",
        "per_page=201",
        "from=2020-13-01",
        "sort=title",
    ] {
        let (status, body, _) = send(
            &app,
            get(&format!("/api/v1/tenants/0/units?{bad}"), &archivist),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(json(&body)["error"]["code"], "invalid_parameter");
    }

    // A unit with a file; the file whole, then in part.
    let mut file_unit = None;
    for u in all["units"].as_array().unwrap() {
        let (status, body, _) = send(
            &app,
            get(
                &format!("/api/v1/tenants/0/units/{}", u["id"].as_str().unwrap()),
                &archivist,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let unit = json(&body);
        assert!(
            unit["metadata"].as_str().unwrap().contains("<"),
            "the metadata is kept whole"
        );
        if unit["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["size"].as_u64().unwrap_or(0) > 20)
        {
            file_unit = Some(unit);
            break;
        }
    }
    let unit = file_unit.expect("a unit with a file");
    let object = unit["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["size"].as_u64().unwrap_or(0) > 20)
        .unwrap()
        .clone();
    let id = object["id"].as_str().unwrap();
    let size = object["size"].as_u64().unwrap() as usize;
    let url = format!("/api/v1/tenants/0/objects/{id}");
    let res = app.clone().oneshot(get(&url, &archivist)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let repr = res.headers()["repr-digest"].to_str().unwrap().to_owned();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes.len(), size);
    let algorithm = object["digest"]["algorithm"].as_str().unwrap();
    let digest = match algorithm {
        "SHA-256" => <sha2::Sha256 as sha2::Digest>::digest(&bytes).to_vec(),
        "SHA-512" => <sha2::Sha512 as sha2::Digest>::digest(&bytes).to_vec(),
        other => panic!("{other}"),
    };
    assert_eq!(
        hex::encode(&digest),
        object["digest"]["value"].as_str().unwrap()
    );
    assert_eq!(
        repr,
        format!(
            "{}=:{}:",
            algorithm.to_ascii_lowercase(),
            base64::engine::general_purpose::STANDARD.encode(&digest)
        )
    );
    let ranged = Request::get(&url)
        .header(header::AUTHORIZATION, format!("Bearer {archivist}"))
        .header(header::RANGE, "bytes=5-14")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(ranged).await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()[header::CONTENT_RANGE],
        format!("bytes 5-14/{size}").as_str()
    );
    let part = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&part[..], &bytes[5..15]);
    let suffix = Request::get(&url)
        .header(header::AUTHORIZATION, format!("Bearer {archivist}"))
        .header(header::RANGE, "bytes=-4")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(suffix).await.unwrap();
    let part = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&part[..], &bytes[size - 4..]);
    let beyond = Request::get(&url)
        .header(header::AUTHORIZATION, format!("Bearer {archivist}"))
        .header(header::RANGE, format!("bytes={size}-"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(beyond).await.unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        res.headers()[header::CONTENT_RANGE],
        format!("bytes */{size}").as_str()
    );

    // Both copies damaged (same size): the download is cut, never served whole as good.
    let key = carnac_blobstore::BlobKey {
        tenant: TenantId::new("0").unwrap(),
        batch: carnac_model::OperationId::new(unit["operation"].as_str().unwrap()).unwrap(),
        name: id.to_owned(),
    };
    let mut bad = bytes.to_vec();
    bad[size / 2] ^= 1;
    one.corrupt(&key, bad.clone());
    two.corrupt(&key, bad);
    let res = app.clone().oneshot(get(&url, &archivist)).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the headers went before the bytes"
    );
    assert!(
        axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .is_err(),
        "cut"
    );

    // The journal of the object has the downloads; the unit's has its ingest.
    let (status, body, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/journal?object={id}"),
            &archivist,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = json(&body)["events"].as_array().unwrap().clone();
    assert!(
        events.iter().filter(|e| e["kind"] == "ACCESS").count() >= 4,
        "{body}"
    );
    assert!(events.iter().any(|e| e["kind"] == "INGEST"), "{body}");
    let (_, body, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/journal?operation={op}"),
            &archivist,
        ),
    )
    .await;
    let kinds: Vec<String> = json(&body)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"TRANSFER_RECEIVED".to_owned()) && kinds.contains(&"INGEST".to_owned()),
        "{kinds:?}"
    );
    let (status, _, _) = send(
        &app,
        get("/api/v1/tenants/0/journal?operation=a&unit=b", &archivist),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A folder packed with the system's `tar`, as an operator would send it.
fn tar_gz(dir: &std::path::Path, parent_folder: bool) -> Vec<u8> {
    let out = std::process::Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("-C")
        .arg(if parent_folder {
            dir.parent().unwrap()
        } else {
            dir
        })
        .args(if parent_folder {
            vec![dir.file_name().unwrap().to_str().unwrap().to_owned()]
        } else {
            // Its entries by name: `tar -C dir .` would write `./` paths, which the
            // container reader refuses like any `.` component.
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        })
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out.stdout
}

#[tokio::test]
async fn an_operator_imports_referentials_over_http_whole_or_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    // The test folder, packed from its parent (one top folder) and from inside it.
    for parent in [true, false] {
        let (status, body, _) = send(
            &app,
            post(
                "/api/v1/tenants/other/referentials",
                &tokens.operator,
                tar_gz(&testdata().join("referentials/tenant-0"), parent),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(
            json(&body)["versions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["kind"] == "agencies"),
            "{body}"
        );
    }
    let (status, body, _) = send(
        &app,
        get(
            "/api/v1/tenants/other/referentials/agencies/versions",
            &tokens.operator,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Version 1 when the tenant was made, then the two imports.
    assert_eq!(
        json(&body)["versions"].as_array().unwrap().len(),
        3,
        "{body}"
    );
    let (status, _, _) = send(
        &app,
        get(
            "/api/v1/tenants/other/referentials/nonsense/versions",
            &tokens.operator,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A folder with a bad file: refused whole, every reason given, nothing imported.
    let bad = tempfile::tempdir().unwrap();
    std::fs::create_dir(bad.path().join("rules")).unwrap();
    std::fs::write(
        bad.path().join("rules/rules.csv"),
        "RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement\nAPP-1,AppraisalRule,v,d,10,Year\nACC-1,Nonsense,v,d,1,Year\nACC-2,Other,v,d,1,Year\n",
    )
    .unwrap();
    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/other/referentials",
            &tokens.operator,
            tar_gz(bad.path(), false),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let e = json(&body);
    assert_eq!(e["error"]["code"], "referential_rejected");
    let details = e["error"]["details"].to_string();
    assert!(
        details.contains("Nonsense") && details.contains("Other"),
        "{body}"
    );
    // Not a container at all.
    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/other/referentials",
            &tokens.operator,
            "not a container",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, body, _) = send(
        &app,
        get(
            "/api/v1/tenants/other/referentials/rules/versions",
            &tokens.operator,
        ),
    )
    .await;
    assert_eq!(
        json(&body)["versions"].as_array().unwrap().len(),
        3,
        "nothing more"
    );
}

#[tokio::test]
async fn a_producer_follows_its_transfer_while_it_waits_in_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    // Received but not handed to the worker: it stays queued for this test.
    let upload = st.archive.incoming_dir().join(".upload-test");
    std::fs::write(&upload, sip("OK_SIP-test-md5.zip")).unwrap();
    let q = st
        .archive
        .receive_transfer(&TenantId::new("0").unwrap(), &upload, "prod")
        .unwrap();
    let app = app(st);
    let url = format!("/api/v1/tenants/0/operations/{}", q.operation);
    let (status, body, _) = send(&app, get(&url, &tokens.producer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""state":"RECEIVED""#), "{body}");
    let (status, _, _) = send(&app, get(&url, &tokens.other_producer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = send(&app, get(&format!("{url}/atr"), &tokens.producer)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("not_ready"), "{body}");
}

#[tokio::test]
async fn a_disabled_account_loses_every_credential_at_once() {
    use base64::Engine;
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "arch:{}",
            carnac_archive::accounts::password_digest("secret")
        ))
    );
    let me_basic = || {
        Request::get("/api/v1/me")
            .header(header::AUTHORIZATION, basic.clone())
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        send(&app, get("/api/v1/me", &tokens.archivist)).await.0,
        StatusCode::OK
    );
    assert_eq!(send(&app, me_basic()).await.0, StatusCode::OK);
    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/accounts/arch/disable",
            &tokens.operator,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        send(&app, get("/api/v1/me", &tokens.archivist)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&app, me_basic()).await.0, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(
        &app,
        post(
            "/api/v1/accounts/arch/enable",
            &tokens.operator,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        send(&app, get("/api/v1/me", &tokens.archivist)).await.0,
        StatusCode::OK
    );
    let (status, _, _) = send(
        &app,
        post(
            "/api/v1/accounts/nobody/disable",
            &tokens.operator,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------
// The as@lae-compatible intake, driven the way Pastell's "as@lae (REST)" connector does it.

/// A tenant fed by Pastell: the referentials its bordereaux name (agencies, contracts, the
/// SEDA 1.0 profiles of the bouquet), and a producer account with a password.
pub(crate) fn asalae_state(tmp: &tempfile::TempDir) -> Arc<AppState> {
    let st = state(tmp);
    let t = TenantId::new("pastell").unwrap();
    st.archive
        .create_tenant(&t, "Collectivité", "test")
        .unwrap();
    st.archive
        .import_referentials(&t, &testdata().join("asalae/referential"), "test")
        .unwrap();
    st.archive
        .create_account(
            &carnac_archive::accounts::NewAccount {
                login: "pastell",
                role: Role::Producer,
                kind: carnac_model::access::AccountKind::Application,
                tenants: std::slice::from_ref(&t),
                password: Some("mot de passe"),
                token: false,
                certificate: None,
            },
            "test",
        )
        .unwrap();
    st
}

/// What Pastell does before sending: it fills the bordereau from its connector settings and
/// the files (dates, identifiers, agencies, digests and sizes); here the fixtures'
/// placeholders and empty fields get such values, and each named file is made (a real PDF,
/// XML, text or JPEG by its extension) with its digest and size written back (in SEDA 0.2,
/// which gives digests at the root, an `Integrity` per file before the first archive).
pub(crate) fn pastell_transfer(name: &str, id: &str) -> (String, Vec<(String, Vec<u8>)>) {
    let dir = testdata().join("asalae/bordereaux");
    let mut xml = std::fs::read_to_string(dir.join(name)).unwrap();
    xml = xml
        .replace(
            "<Date>NOT TESTABLE</Date>",
            "<Date>2026-11-29T10:00:00+01:00</Date>",
        )
        .replace(
            ">NOT TESTABLE</TransferIdentifier>",
            &format!(">{id}</TransferIdentifier>"),
        );
    let re_id =
        regex::Regex::new(r"<TransferIdentifier([^>]*)>[^<]*</TransferIdentifier>").unwrap();
    xml = re_id
        .replace(
            &xml,
            format!("<TransferIdentifier$1>{id}</TransferIdentifier>"),
        )
        .into_owned();
    // Empty agencies and agreement, as the acts and PES fixtures leave them to the connector.
    let fill = |xml: String, agency: &str, value: &str| -> String {
        let re = regex::Regex::new(&format!(r"(?s)<{agency}>(\s*)<Identification\s*/>")).unwrap();
        re.replace(
            &xml,
            format!("<{agency}>$1<Identification>{value}</Identification>"),
        )
        .into_owned()
    };
    xml = fill(xml, "ArchivalAgency", "FRAD000");
    xml = fill(xml, "TransferringAgency", "PASTELL_DEMO");
    let agreement = if name.contains("helios") {
        "ACCORD_PES"
    } else {
        "ACCORD_ACTES"
    };
    let re = regex::Regex::new(r"<ArchivalAgreement([^>]*)/>").unwrap();
    xml = re
        .replace(
            &xml,
            format!("<ArchivalAgreement$1>{agreement}</ArchivalAgreement>"),
        )
        .into_owned();
    // The files, and their digests and sizes.
    let formats = testdata().join("formats");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let doc = regex::Regex::new(r"(?s)<Document>.*?</Document>").unwrap();
    let filename = regex::Regex::new(r#"filename="([^"]*)""#).unwrap();
    let integrity = regex::Regex::new(r"(<Integrity[^>]*>)[^<]*(</Integrity>)").unwrap();
    let size = regex::Regex::new(r"(<Size[^>]*>)[^<]*(</Size>)").unwrap();
    // SEDA 2.1 as Pastell writes it for as@lae: BinaryDataObject with Uri, MessageDigest, Size.
    let bdo = regex::Regex::new(r"(?s)<BinaryDataObject[^>]*>.*?</BinaryDataObject>").unwrap();
    let uri = regex::Regex::new(r"<Uri>([^<]*)</Uri>").unwrap();
    let message_digest =
        regex::Regex::new(r"(<MessageDigest[^>]*>)[^<]*(</MessageDigest>)").unwrap();
    xml = bdo
        .replace_all(&xml, |c: &regex::Captures<'_>| {
            let block = &c[0];
            let Some(u) = uri.captures(block) else {
                return block.to_owned();
            };
            let name = u[1].to_owned();
            let bytes = std::fs::read(formats.join(if name.ends_with(".xml") {
                "plain.xml"
            } else {
                "sip.pdf"
            }))
            .unwrap();
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            let block = message_digest.replace(block, format!("${{1}}{digest}${{2}}"));
            let block = size.replace(&block, format!("${{1}}{}${{2}}", bytes.len()));
            if !files.iter().any(|(n, _)| *n == name) {
                files.push((name, bytes));
            }
            block.into_owned()
        })
        .into_owned();
    xml = doc
        .replace_all(&xml, |c: &regex::Captures<'_>| {
            let block = &c[0];
            let Some(f) = filename.captures(block) else {
                return block.to_owned();
            };
            let name = f[1].to_owned();
            let bytes = match name.rsplit('.').next().unwrap_or_default() {
                "pdf" => std::fs::read(formats.join("sip.pdf")).unwrap(),
                "xml" => std::fs::read(formats.join("plain.xml")).unwrap(),
                "jpg" | "jpeg" => std::fs::read(formats.join("lake.jpeg")).unwrap(),
                _ => format!("Pièce {name}\n").into_bytes(),
            };
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            let block = integrity.replace(block, format!("${{1}}{digest}${{2}}"));
            let block = size.replace(&block, format!("${{1}}{}${{2}}", bytes.len()));
            if !files.iter().any(|(n, _)| *n == name) {
                files.push((name, bytes));
            }
            block.into_owned()
        })
        .into_owned();
    if xml.contains(carnac_seda::SedaVersion::V0_2.namespace()) {
        let integrity: String = files
            .iter()
            .map(|(name, bytes)| {
                format!(
                    "<Integrity><Contains algorithme=\"http://www.w3.org/2001/04/xmlenc#sha256\">{}</Contains><UnitIdentifier>{name}</UnitIdentifier></Integrity>\n  ",
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
                )
            })
            .collect();
        let first = regex::Regex::new(r"(?s)</ArchivalAgency>\s*<Contains>").unwrap();
        xml = first
            .replace(&xml, format!("</ArchivalAgency>\n  {integrity}<Contains>"))
            .into_owned();
    }
    (xml, files)
}

pub(crate) fn targz(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

const BOUNDARY: &str = "----pastell-asalae-boundary";

/// A multipart/form-data body as PHP's curl builds it: text fields and file fields.
pub(crate) fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, value) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Pastell's credentials: HTTP Basic with the SHA-256 hex of the password.
pub(crate) fn pastell_auth() -> String {
    use base64::Engine;
    let digest = carnac_archive::accounts::password_digest("mot de passe");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("pastell:{digest}"))
    )
}

pub(crate) fn pastell_post(uri: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, pastell_auth())
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap()
}

pub(crate) fn pastell_get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, pastell_auth())
        .body(Body::empty())
        .unwrap()
}

/// Sends a transfer as Pastell does (whole, or in chunks of `chunk` bytes), then polls the
/// acknowledgement and the reply until the reply comes; gives the reply.
/// How a test client sends the attachments: whole, in chunks of a size one after the other (as
/// Pastell does), or in a number of chunks all at the same time (as a client sending in
/// parallel would).
#[derive(Clone, Copy, Debug)]
enum Sending {
    Whole,
    Chunks(usize),
    ChunksAtOnce(usize),
}

/// Sends as Pastell's connector does, `url` being the connector's URL as configured: Pastell
/// appends `/ping`, `/sedaMessages`… to it, so that a URL ending in `/` makes `//`.
async fn pastell_sends(
    app: &Router,
    url: &str,
    bordereau: &str,
    files: &[(String, Vec<u8>)],
    sending: Sending,
) -> (String, String) {
    let origin = regex::Regex::new(r"(?s)<TransferringAgency>.*?<Identif\w+[^>]*>([^<]*)<")
        .unwrap()
        .captures(bordereau)
        .unwrap()[1]
        .to_owned();
    let id = regex::Regex::new(r"<(?:TransferIdentifier|MessageIdentifier)[^>]*>([^<]*)<")
        .unwrap()
        .captures(bordereau)
        .unwrap()[1]
        .to_owned();
    let archive = targz(files);
    let (status, body, _) = match sending {
        Sending::Whole => {
            send(
                app,
                pastell_post(
                    &format!("{url}/sedaMessages"),
                    multipart(&[
                        ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
                        ("attachments", Some("archive.tar.gz"), &archive),
                    ]),
                ),
            )
            .await
        }
        Sending::Chunks(_) | Sending::ChunksAtOnce(_) => {
            let (status, body, _) = send(
                app,
                pastell_post(
                    &format!("{url}/sedaMessages"),
                    multipart(&[
                        ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
                        ("send_chunked_attachments", None, b"true"),
                    ]),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let session = v["chunk_session_identifier"].as_str().unwrap().to_owned();
            let security = v["chunk_security_identifier"].as_str().unwrap().to_owned();
            let size = match sending {
                Sending::ChunksAtOnce(count) => archive.len().div_ceil(count),
                Sending::Chunks(size) => size,
                Sending::Whole => unreachable!("sent whole above"),
            };
            let chunks: Vec<&[u8]> = archive.chunks(size).collect();
            let n = chunks.len().to_string();
            let requests = chunks.iter().enumerate().map(|(i, c)| {
                pastell_post(
                    &format!("{url}/sedaAttachmentsChunkFiles"),
                    multipart(&[
                        ("chunk_content", Some("archive.tar.gz"), c),
                        ("session_identifier", None, session.as_bytes()),
                        ("security_identifier", None, security.as_bytes()),
                        ("number_of_files", None, b"1"),
                        ("file_index", None, b"1"),
                        ("file_name", None, b"archive.tar.gz"),
                        ("compression_algorithm", None, b"TARGZ"),
                        ("number_of_chunks", None, n.as_bytes()),
                        ("chunk_index", None, (i + 1).to_string().as_bytes()),
                    ]),
                )
            });
            let replies = if matches!(sending, Sending::ChunksAtOnce(_)) {
                let mut tasks = tokio::task::JoinSet::new();
                for (i, request) in requests.enumerate() {
                    let app = app.clone();
                    tasks.spawn(async move { (i, send(&app, request).await) });
                }
                let mut replies = tasks.join_all().await;
                replies.sort_by_key(|(i, _)| *i);
                replies.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
            } else {
                let mut replies = Vec::new();
                for request in requests {
                    replies.push(send(app, request).await);
                }
                replies
            };
            for (i, r) in replies.iter().enumerate() {
                assert_eq!(r.0, StatusCode::OK, "chunk {}: {}", i + 1, r.1);
            }
            // Exactly one chunk completes the transfer, whatever the order they came in.
            let mut completing: Vec<_> = replies
                .into_iter()
                .filter(|r| !r.1.contains("chunk_received"))
                .collect();
            assert_eq!(completing.len(), 1, "{completing:?}");
            completing.pop().unwrap()
        }
    };
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&id), "{body}");
    let selector = |message: &str| {
        format!(
            "{url}/sedaMessages/sequence:ArchiveTransfer/message:{message}/originOrganizationIdentification:{origin}/originMessageIdentifier:{id}"
        )
    };
    let (status, ack, ct) = send(app, pastell_get(&selector("Acknowledgement"))).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert!(ct.unwrap().starts_with("application/xml"));
    // Where Pastell reads the transfer's identifier in the acknowledgement.
    let received = if bordereau.contains(carnac_seda::SedaVersion::V0_2.namespace()) {
        format!("<TransferIdentifier>{id}</TransferIdentifier>")
    } else {
        format!("<MessageReceivedIdentifier>{id}</MessageReceivedIdentifier>")
    };
    assert!(ack.contains(&received), "{ack}");
    // The reply, polled as Pastell does until it is there.
    for _ in 0..600 {
        let (status, atr, _) = send(app, pastell_get(&selector("ArchiveTransferReply"))).await;
        match status {
            StatusCode::OK => return (ack, atr),
            StatusCode::CONFLICT => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            other => panic!("{other}: {atr}"),
        }
    }
    panic!("no reply after 30 s");
}

fn reply_code(atr: &str) -> String {
    regex::Regex::new(r"<ReplyCode[^>]*>([^<]*)<")
        .unwrap()
        .captures(atr)
        .map(|c| c[1].to_owned())
        .unwrap_or_default()
}

/// Every SEDA 1.0 bordereau of the bouquet whose profile is there goes through the intake,
/// whole and in chunks, and gets ReplyCode 000 with its archive identifier where Pastell reads
/// it; the archive holds its units and files, and the reply is valid SEDA 1.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pastell_bordereaux_with_their_profile_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    // Pastell's ping decodes a JSON string and shows it as text, whatever its URL's end.
    for url in [
        "/restservices/ping",
        "/restservices//ping",
        "//restservices///ping",
    ] {
        let (status, body, _) = send(&app, Request::get(url).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer, crate::asalae::PING_ANSWER, "{url}");
    }
    for url in ["/restservices/versions", "/restservices//versions"] {
        let (status, body, _) = send(&app, pastell_get(url)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert!(body.contains("\"version\""), "{body}");
    }
    // The same merging everywhere, the query kept; an unknown path stays unknown.
    let (status, _, _) = send(
        &app,
        Request::get("//health?x=1").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(
        &app,
        Request::get("/restservices//nothing")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let cases = [
        (
            "actes-generique-bordereau-seda1.0-Profil_ACTES_AP_v3.xml",
            Sending::Whole,
        ),
        (
            "helios-generique-bordereau-seda1.0-Profil_PES_AP_v3.xml",
            Sending::ChunksAtOnce(16),
        ),
        ("dossier-marche-bordereau.xml", Sending::Chunks(64 * 1024)),
        ("pes-marche-bordereau.xml", Sending::Whole),
        ("fakeSeda-bordereau.xml", Sending::Chunks(4096)),
    ];
    let archive_identifier = regex::Regex::new(
        r"(?s)<Archive>\s*<ArchivalAgencyArchiveIdentifier>([^<]+)</ArchivalAgencyArchiveIdentifier>",
    )
    .unwrap();
    for (i, (name, chunk)) in cases.into_iter().enumerate() {
        let id = format!("PASTELL-{i}");
        let (bordereau, files) = pastell_transfer(name, &id);
        let (ack, atr) = pastell_sends(&app, "/restservices", &bordereau, &files, chunk).await;
        assert_eq!(reply_code(&atr), "000", "{name}:\n{atr}");
        let archive_id = archive_identifier
            .captures(&atr)
            .unwrap_or_else(|| panic!("{name}: no archive identifier\n{atr}"))[1]
            .to_owned();
        // Both messages are valid SEDA 1.0.
        for xml in [&ack, &atr] {
            assert_valid_seda(tmp.path(), carnac_seda::SedaVersion::V1_0, xml);
        }
        // The identifier is the archive's unit, with every file stored below it.
        let t = TenantId::new("pastell").unwrap();
        let (unit, _) = st
            .archive
            .catalog()
            .unit(&t, &carnac_model::UnitId::new(archive_id.clone()).unwrap())
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: unit {archive_id} not in the catalog"));
        assert!(!unit.title.is_empty());
    }
    // The intake's transfers are in the tenant's journal, with who sent them.
    let t = TenantId::new("pastell").unwrap();
    let received: Vec<_> = st
        .archive
        .catalog()
        .journal(&t)
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "TRANSFER_RECEIVED")
        .collect();
    assert_eq!(received.len(), 5);
    for e in received {
        assert_eq!(e.event.agent, "pastell");
        assert_eq!(e.event.detail["intake"], "asalae");
    }
}

/// A SEDA 2.1 transfer as Pastell writes it for as@lae (its test bordereau, with the
/// agreement its connector is configured with) gets as@lae's SEDA 2.1 reply: ReplyCode 000,
/// the transfer's identifier in MessageIdentifier, the reply's in MessageRequestIdentifier,
/// and the archive identifier in the DescriptiveMetadata; the rules Pastell names in SEDA 1.0
/// words (P10Y, AR038) come from the tenant's referential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pastell_seda_2_1_gets_the_asalae_2_1_reply() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    let (bordereau, files) = pastell_transfer("bordereau-seda2.1-pastell-sae-test.xml", "unused");
    assert_eq!(files.len(), 1);
    let bordereau = bordereau.replace(
        "</MessageIdentifier>",
        "</MessageIdentifier>\n    <ArchivalAgreement>ACCORD_PASTELL_21</ArchivalAgreement>",
    );
    let archive_identifier = regex::Regex::new(
        r"(?s)<DataObjectPackage>\s*<DescriptiveMetadata>\s*<ArchiveUnit[^>]*>\s*<Content>.*?<ArchivalAgencyArchiveUnitIdentifier>([^<]+)<",
    )
    .unwrap();
    for chunk in [Sending::Whole, Sending::Chunks(10_000)] {
        let bordereau = bordereau.replace(
            "22c2c40b-d2ff-4e45-a573-358edbc175a7</MessageIdentifier>",
            &format!(
                "22c2c40b-{}</MessageIdentifier>",
                matches!(chunk, Sending::Chunks(_))
            ),
        );
        let (ack, atr) = pastell_sends(&app, "/restservices", &bordereau, &files, chunk).await;
        assert_eq!(reply_code(&atr), "000", "{atr}");
        let flat = roxml_flat(&atr);
        let id = format!("22c2c40b-{}", matches!(chunk, Sending::Chunks(_)));
        assert!(
            flat.contains(&format!("<MessageIdentifier>{id}</MessageIdentifier>")),
            "{atr}"
        );
        assert!(flat.contains("<MessageRequestIdentifier>ATR_op-"), "{atr}");
        let archive_id = archive_identifier
            .captures(&atr)
            .unwrap_or_else(|| panic!("no archive identifier\n{atr}"))[1]
            .to_owned();
        for xml in [&ack, &atr] {
            assert_valid_seda(tmp.path(), carnac_seda::SedaVersion::V2_1, xml);
        }
        let t = TenantId::new("pastell").unwrap();
        let (unit, _) = st
            .archive
            .catalog()
            .unit(&t, &carnac_model::UnitId::new(archive_id).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(unit.title, "TEST 23072021");
    }
}

/// SEDA 0.2, read only: the Mégalis bordereau (cd56) goes through the intake as Pastell sends
/// it, with its digests at the root. As written it names a profile that is not in the bouquet
/// and is refused for that; named against e-Mégalis's 0.2 PES profile it is refused with all
/// that profile finds; under an agreement without a profile it is accepted. Every message is
/// valid SEDA 0.2, shaped as as@lae writes it, with what Pastell reads where it reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pastell_seda_0_2_is_checked_and_answered_in_0_2() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    let name = "cd56-megalis-bordereau-PESV2_DEP56-1-seda0.2.xml";
    let valid = |xml: &str| assert_valid_seda(tmp.path(), carnac_seda::SedaVersion::V0_2, xml);
    // As written: its profile is not in the tenant's referential.
    let (bordereau, files) = pastell_transfer(name, "DEP56-1");
    assert_eq!(files.len(), 2);
    valid(&bordereau);
    let (ack, atr) = pastell_sends(&app, "/restservices", &bordereau, &files, Sending::Whole).await;
    valid(&ack);
    valid(&atr);
    assert!(ack.contains("<ArchiveTransferReply "), "{ack}");
    assert_ne!(reply_code(&atr), "000", "{atr}");
    assert!(atr.contains("<ArchiveTransferReply "), "{atr}");
    assert!(
        atr.contains("PROFILE_UNKNOWN") && atr.contains("DEP56_PROFIL_PES_0001"),
        "{atr}"
    );
    assert!(!atr.contains("<Archive>"), "{atr}");
    // Against e-Mégalis's profile: refused with what the profile finds, all of it.
    let (bordereau, files) = pastell_transfer(name, "DEP56-2");
    let bordereau = bordereau.replace(">DEP56_PROFIL_PES_0001<", ">EMEG_PROFIL_PES_0002<");
    // Through a connector URL that ends in `/`, as Pastell's own tests configure it.
    let (_, atr) = pastell_sends(
        &app,
        "/restservices/",
        &bordereau,
        &files,
        Sending::Chunks(4096),
    )
    .await;
    valid(&atr);
    assert_ne!(reply_code(&atr), "000", "{atr}");
    for found in ["NOT_CONFORMANT", "EMEG_PROFIL_PES_0002", "BusinessType"] {
        assert!(atr.contains(found), "{found} missing:\n{atr}");
    }
    // Under an agreement without a profile: accepted.
    let (bordereau, files) = pastell_transfer(name, "DEP56-3");
    let bordereau = regex::Regex::new(r"<ArchivalProfile[^>]*>[^<]*</ArchivalProfile>")
        .unwrap()
        .replace(&bordereau, "")
        .replace(">DEP56_ACCORD_PES_0001<", ">ACCORD_SEDA_02<");
    let (ack, atr) = pastell_sends(
        &app,
        "/restservices/",
        &bordereau,
        &files,
        Sending::Chunks(10_000),
    )
    .await;
    valid(&ack);
    valid(&atr);
    assert_eq!(reply_code(&atr), "000", "{atr}");
    // Both name the archival agency the bordereau names.
    for message in [&ack, &atr] {
        assert!(
            roxml_flat(message)
                .contains("<ArchivalAgency><Identification>FRCOL_761</Identification>"),
            "{message}"
        );
    }
    // Pastell's XPaths for a 0.2 acceptance.
    let flat = roxml_flat(&atr);
    let acceptance = regex::Regex::new(
        r"<ArchiveTransferAcceptance [^>]*>.*<TransferAcceptanceIdentifier>ATR_([^<]+)</TransferAcceptanceIdentifier><TransferIdentifier>DEP56-3</TransferIdentifier>.*?<Archive><ArchivalAgencyArchiveIdentifier>([^<]+)</ArchivalAgencyArchiveIdentifier>",
    )
    .unwrap()
    .captures(&flat)
    .unwrap_or_else(|| panic!("not where Pastell reads it:\n{atr}"));
    let (operation, archive_id) = (acceptance[1].to_owned(), acceptance[2].to_owned());
    // The archive: five units (the archive, its object, the object's document, the nested
    // object and its document), both files stored with the digests the root declared.
    let t = TenantId::new("pastell").unwrap();
    let (unit, _) = st
        .archive
        .catalog()
        .unit(&t, &carnac_model::UnitId::new(archive_id).unwrap())
        .unwrap()
        .unwrap();
    assert!(
        unit.title.starts_with("Flux comptable PES Aller"),
        "{}",
        unit.title
    );
    assert_eq!(unit.xml_id, "Contains[1]");
    let operation = carnac_model::OperationId::new(operation).unwrap();
    let units = st
        .archive
        .catalog()
        .units_of_operation(&t, &operation)
        .unwrap();
    assert_eq!(units.len(), 5);
    let objects = st
        .archive
        .catalog()
        .objects_of_operation(&t, &operation)
        .unwrap();
    let mut stored: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                o.filename.clone().unwrap(),
                o.digest.as_ref().unwrap().hex.clone(),
            )
        })
        .collect();
    stored.sort();
    let mut sent: Vec<(String, String)> = files
        .iter()
        .map(|(n, b)| {
            (
                n.clone(),
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b)),
            )
        })
        .collect();
    sent.sort();
    assert_eq!(stored, sent);
}

/// `xml` is valid against the official schema of `version` (written to a file in `dir` for
/// libxml2).
fn assert_valid_seda(dir: &std::path::Path, version: carnac_seda::SedaVersion, xml: &str) {
    let f = dir.join("message.xml");
    std::fs::write(&f, xml).unwrap();
    carnac_seda::schema::validate_seda(version, &f)
        .unwrap_or_else(|e| panic!("not valid SEDA {version}: {e:?}\n{xml}"));
}

fn roxml_flat(xml: &str) -> String {
    xml.lines().map(str::trim).collect::<Vec<_>>().join("")
}

/// A bordereau that cannot be accepted gets a reply that names every problem, each in its
/// own Comment, with a rejection code; nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pastell_bordereaux_with_problems_are_refused_with_every_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let app = app(st.clone());
    // A digest that does not match, a file missing and an unknown producer: all three said.
    let (bordereau, mut files) = pastell_transfer("fakeSeda-bordereau.xml", "FAKE-BAD-1");
    let bordereau = bordereau.replace("FRPROD001", "INCONNU");
    files[0].1.push(b'!');
    files.pop();
    let (_, atr) = pastell_sends(
        &app,
        "/restservices",
        &bordereau,
        &files,
        Sending::Chunks(2048),
    )
    .await;
    assert_ne!(reply_code(&atr), "000", "{atr}");
    for reason in [
        "CHECK_AGENT.UNKNOWN",
        "CHECK_DIGEST",
        "MANIFEST_SUPERIOR_BDO",
    ] {
        assert!(atr.contains(reason), "{reason} missing:\n{atr}");
    }
    assert!(!atr.contains("<Archive>"), "{atr}");
    // Unreadable: refused at once, with the reason, and nothing queued.
    let (status, body, _) = send(
        &app,
        pastell_post(
            "/restservices/sedaMessages",
            multipart(&[("seda_message", Some("bordereau.xml"), b"<ArchiveTransfer")]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("cannot be read"), "{body}");
    // The same transfer twice: the second is refused.
    let (bordereau, files) = pastell_transfer("fakeSeda-bordereau.xml", "FAKE-TWICE");
    let _ = pastell_sends(&app, "/restservices", &bordereau, &files, Sending::Whole).await;
    let (status, body, _) = send(
        &app,
        pastell_post(
            "/restservices/sedaMessages",
            multipart(&[
                ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
                ("attachments", Some("archive.tar.gz"), &targz(&files)),
            ]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Another tenant's producer cannot read these replies, and wrong credentials get nothing.
    let (status, _, _) = send(
        &app,
        Request::get("/restservices/sedaMessages?sequence=ArchiveTransfer&message=Acknowledgement&originOrganizationIdentification=PASTELL_DEMO&originMessageIdentifier=FAKE-TWICE")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The query-string form reads the same message.
    let (status, ack, _) = send(
        &app,
        pastell_get("/restservices/sedaMessages?sequence=ArchiveTransfer&message=Acknowledgement&originOrganizationIdentification=PASTELL_DEMO&originMessageIdentifier=FAKE-TWICE"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert!(ack.contains("FAKE-TWICE"), "{ack}");
}

/// Resident memory of this process (each test runs in its own under nextest), in MiB.
fn rss_mib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096 / (1 << 20)
}

/// `mib` MiB of bytes made on the fly, one MiB at a time: nothing of it held by the client.
fn streamed(mib: usize, prefix: Vec<u8>, suffix: Vec<u8>) -> Body {
    let middle = (0..mib)
        .map(|i| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![(i % 251) as u8; 1 << 20])));
    let stream = std::iter::once(Ok(axum::body::Bytes::from(prefix)))
        .chain(middle)
        .chain(std::iter::once(Ok(axum::body::Bytes::from(suffix))));
    Body::from_stream(futures_util::stream::iter(stream))
}

/// Uploads of a GiB, to the REST API and to the as@lae intake, go to disk as they come:
/// the server's memory stays flat. Beyond the configured limit, an upload is refused (413)
/// and nothing of it is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_uploads_stream_to_disk_in_flat_memory_and_stop_at_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let st = asalae_state(&tmp);
    let producer = account(&st.archive, "prod", Role::Producer, &["0"]);
    let app = app(st.clone());
    let before = rss_mib();
    let (status, body, _) = send(
        &app,
        Request::post("/api/v1/tenants/0/transfers")
            .header(header::AUTHORIZATION, format!("Bearer {producer}"))
            .body(streamed(1024, Vec::new(), Vec::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body.contains(&(1024u64 << 20).to_string()), "{body}");
    let (bordereau, _) = pastell_transfer("fakeSeda-bordereau.xml", "BIG-1");
    let mut head = multipart(&[("seda_message", Some("bordereau.xml"), bordereau.as_bytes())]);
    head.truncate(head.len() - format!("--{BOUNDARY}--\r\n").len());
    head.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"archive.tar.gz\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    let tail = format!("\r\n--{BOUNDARY}--\r\n").into_bytes();
    let (status, body, _) = send(
        &app,
        Request::post("/restservices/sedaMessages")
            .header(header::AUTHORIZATION, pastell_auth())
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(streamed(1024, head, tail))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let grown = rss_mib().saturating_sub(before);
    assert!(
        grown < 200,
        "2 GiB uploaded, memory grew by {grown} MiB: something holds the bytes"
    );

    // The limit: a smaller archive, the same uploads refused, nothing left behind.
    let limited = Arc::new(AppState {
        limits: crate::Limits {
            max_upload: 10 << 20,
            ..crate::Limits::default()
        },
        ..AppState::new(st.archive.clone(), st.uploads.clone(), st.worker.clone())
    });
    let app = crate::app(limited);
    let (status, body, _) = send(
        &app,
        Request::post("/api/v1/tenants/0/transfers")
            .header(header::AUTHORIZATION, format!("Bearer {producer}"))
            .body(streamed(20, Vec::new(), Vec::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body.contains("too_large"), "{body}");
    let (bordereau, _) = pastell_transfer("fakeSeda-bordereau.xml", "BIG-2");
    let mut head = multipart(&[("seda_message", Some("bordereau.xml"), bordereau.as_bytes())]);
    head.truncate(head.len() - format!("--{BOUNDARY}--\r\n").len());
    head.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"archive.tar.gz\"\r\n\r\n").as_bytes());
    let (status, body, _) = send(
        &app,
        Request::post("/restservices/sedaMessages")
            .header(header::AUTHORIZATION, pastell_auth())
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(streamed(
                20,
                head,
                format!("\r\n--{BOUNDARY}--\r\n").into_bytes(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // What was received of the refused uploads is gone.
    let leftovers: Vec<String> = std::fs::read_dir(st.archive.incoming_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The as@lae intake's endpoints × every role and no account: the exact allowed set, the
/// tenant always the account's own (a transfer of another tenant is not found, whoever
/// asks), and every request journaled with who asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_matrix_of_the_asalae_intake() {
    use Role::*;
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let archive = st.archive.clone();
    for t in ["0", "other"] {
        archive
            .import_referentials(
                &TenantId::new(t).unwrap(),
                &testdata().join("asalae/referential"),
                "test",
            )
            .unwrap();
    }
    let app = app(st);
    let post = |token: &str, id: &str| {
        let (bordereau, files) = pastell_transfer("fakeSeda-bordereau.xml", id);
        let mut req = Request::post("/restservices/sedaMessages").header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        );
        if !token.is_empty() {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        req.body(Body::from(multipart(&[
            ("seda_message", Some("bordereau.xml"), bordereau.as_bytes()),
            ("attachments", Some("archive.tar.gz"), &targz(&files)),
        ])))
        .unwrap()
    };
    // A transfer of the producer of 0, and one of the archivist of `other`.
    let (status, body, _) = send(&app, post(&tokens.producer, "MINE")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = send(&app, post(&tokens.other_archivist, "THEIRS")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ack = |id: &str| {
        format!(
            "/restservices/sedaMessages/sequence:ArchiveTransfer/message:Acknowledgement/originOrganizationIdentification:PASTELL_DEMO/originMessageIdentifier:{id}"
        )
    };
    let journal_len = |tenant: &str| {
        archive
            .catalog()
            .journal(&TenantId::new(tenant).unwrap())
            .unwrap()
            .len()
    };
    let mut n = 0;
    // (what, allowed roles, the status of an allowed request).
    let cases: Vec<(&str, Vec<Role>, StatusCode)> = vec![
        (
            "versions",
            vec![Archivist, Producer, ControlAuthority, Auditor],
            StatusCode::OK,
        ),
        ("send", vec![Archivist, Producer], StatusCode::OK),
        (
            "own ack",
            vec![Archivist, Producer, ControlAuthority],
            StatusCode::OK,
        ),
        (
            "other tenant's ack",
            vec![Archivist, ControlAuthority],
            StatusCode::NOT_FOUND,
        ),
    ];
    for (what, allowed, success) in &cases {
        let mut callers: Vec<(String, Option<Role>)> = Role::ALL
            .iter()
            .map(|r| (tokens.of(*r).to_owned(), Some(*r)))
            .collect();
        callers.push((String::new(), None));
        for (token, role) in callers {
            n += 1;
            let req = match *what {
                "versions" => Request::get("/restservices/versions"),
                "own ack" => Request::get(ack("MINE")),
                "other tenant's ack" => Request::get(ack("THEIRS")),
                _ => {
                    let before = journal_len("0");
                    let (status, body, _) = send(&app, post(&token, &format!("T-{n}"))).await;
                    check(
                        role,
                        allowed,
                        *success,
                        status,
                        &format!("{role:?} send: {body}"),
                    );
                    if role.is_some_and(|r| r != Operator) {
                        assert!(journal_len("0") > before, "{role:?} send not journaled");
                    }
                    continue;
                }
            };
            let req = if token.is_empty() {
                req
            } else {
                req.header(header::AUTHORIZATION, format!("Bearer {token}"))
            };
            let journal = if role.is_some_and(|r| r != Operator) {
                "0"
            } else {
                carnac_model::access::PLATFORM
            };
            let before = journal_len(journal);
            let (status, body, _) = send(&app, req.body(Body::empty()).unwrap()).await;
            check(
                role,
                allowed,
                *success,
                status,
                &format!("{role:?} {what}: {body}"),
            );
            assert!(
                journal_len(journal) > before,
                "{role:?} {what} not journaled in {journal}"
            );
        }
    }
    // Nothing of `other` was told to the accounts of 0: the same answer as for a transfer
    // that does not exist at all.
    let (_, theirs, _) = send(
        &app,
        Request::get(ack("THEIRS"))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", tokens.archivist),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let (_, nobody, _) = send(
        &app,
        Request::get(ack("NOBODY"))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", tokens.archivist),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(theirs, nobody);
}

fn check(
    role: Option<Role>,
    allowed: &[Role],
    success: StatusCode,
    status: StatusCode,
    what: &str,
) {
    match role {
        None => assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}"),
        Some(r) if allowed.contains(&r) => assert_eq!(status, success, "{what}"),
        Some(_) => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
    }
}

/// One token revoked stops at once; the account's other token goes on; the list shows
/// which is which, never a token; revoking it again is "not found".
#[tokio::test]
async fn one_token_can_be_revoked_and_the_others_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let first = account(&st.archive, "two-tokens", Role::Auditor, &["0"]);
    let second = st.archive.issue_token("two-tokens", "test").unwrap();
    let app = app(st.clone());
    let me = |t: &str| get("/api/v1/me", t);
    assert_eq!(send(&app, me(&first)).await.0, StatusCode::OK);
    let id = carnac_archive::accounts::token_id(&first);
    let revoke = |id: &str| {
        Request::post(format!("/api/v1/accounts/two-tokens/tokens/{id}/revoke"))
            .header(header::AUTHORIZATION, format!("Bearer {}", tokens.operator))
            .body(Body::empty())
            .unwrap()
    };
    let (status, body, _) = send(&app, revoke(&id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(send(&app, me(&first)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&app, me(&second)).await.0, StatusCode::OK);
    let (status, body, _) = send(
        &app,
        get("/api/v1/accounts/two-tokens/tokens", &tokens.operator),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let listed = listed["tokens"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0]["revoked_at"].is_string());
    assert!(listed[1]["revoked_at"].is_null());
    assert!(!body.contains(&first) && !body.contains(&second));
    assert_eq!(send(&app, revoke(&id)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, revoke("%25")).await.0, StatusCode::NOT_FOUND);
    // Journaled in the account's tenant.
    let journal = st
        .archive
        .catalog()
        .journal(&TenantId::new("0").unwrap())
        .unwrap();
    assert!(
        journal
            .iter()
            .any(|e| e.event.kind == "ACCOUNT_TOKEN_REVOKED"
                && e.event.detail["token"] == id.as_str()
                && e.event.agent == "op")
    );
}
