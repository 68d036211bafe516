//! The HTTP boundary, driven with `oneshot`, one file per resource; here, the state and
//! requests every file builds on.

mod access;
mod asalae;
mod deliveries;
mod eliminations;
mod referentials;
mod transfers;
mod units;
mod web;

pub(crate) use access::check;
pub(crate) use asalae::*;
pub(crate) use referentials::tar_gz;

pub(crate) use super::*;
pub(crate) use axum::body::Body;
pub(crate) use axum::http::{Request, StatusCode, header};
use carnac_blobstore::memory::MemoryStore;
use carnac_model::access::Role;
use tower::ServiceExt;

pub(crate) use carnac_testkit::testdata;

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
    account_of(archive, login, role, tenants, &[])
}

/// [`account`], speaking for these originating agencies (a producer).
pub(crate) fn account_of(
    archive: &Archive,
    login: &str,
    role: Role,
    tenants: &[&str],
    agencies: &[String],
) -> String {
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
                agencies,
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
        // The producer of one service (the agency of OK_SIP_2_GO's records, not of
        // OK_SIP-test-md5's): its own records are those of that agency.
        producer: account_of(
            a,
            "prod",
            Role::Producer,
            &["0"],
            &["FRAN_NP_009913".to_owned()],
        ),
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
    let archive = carnac_testkit::archive(
        carnac_archive::IngestConfig {
            refusal_rates,
            ..Default::default()
        },
        vec![Arc::new(one), Arc::new(two)],
        None,
        &tmp.path().join("tmp"),
    );
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

/// Checks a JSON answer against the schema the OpenAPI document gives for its route (as the
/// router names it) and status: every answer the API sends is what the document says.
pub(crate) fn check_against_document(method: &str, route: &str, status: StatusCode, body: &str) {
    let doc: serde_json::Value = serde_json::from_str(crate::routes::meta::OPENAPI).unwrap();
    let schema = &doc["paths"][route][method.to_lowercase()]["responses"][status.as_str()]["content"]
        ["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "the document gives no JSON schema for {method} {route} {status}"
    );
    // OpenAPI 3.0 schemas as JSON Schema (draft 4): `nullable` becomes a null type.
    fn json_schema(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                let nullable = o.remove("nullable") == Some(serde_json::Value::Bool(true));
                o.values_mut().for_each(json_schema);
                if nullable {
                    if let Some(serde_json::Value::String(t)) = o.get("type").cloned() {
                        o.insert("type".into(), serde_json::json!([t, "null"]));
                    }
                    if let Some(serde_json::Value::Array(values)) = o.get_mut("enum") {
                        values.push(serde_json::Value::Null);
                    }
                    // A nullable reference (`allOf: [$ref]`): null, or what it names.
                    if let Some(all) = o.remove("allOf") {
                        o.insert(
                            "anyOf".into(),
                            serde_json::json!([{"type": "null"}, {"allOf": all}]),
                        );
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(json_schema),
            _ => {}
        }
    }
    let mut root = serde_json::json!({"allOf": [schema], "components": doc["components"]});
    json_schema(&mut root);
    let validator = jsonschema::draft4::new(&root).unwrap();
    let answer: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{method} {route}: not JSON ({e}): {body}"));
    let errors: Vec<String> = validator
        .iter_errors(&answer)
        .map(|e| format!("{e} (at {})", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {route} {status} differs from the document: {errors:?}\n{body}"
    );
}
