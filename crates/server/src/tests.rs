//! The HTTP boundary, driven with `oneshot`: a transfer in, its operation and reply out, and
//! errors as one stable JSON shape.

use super::*;
use axum::http::Request;
use carnac_archive::Parts;
use carnac_archive::system::fixed::{FixedClock, SequentialIds};
use carnac_blobstore::memory::MemoryStore;
use tower::ServiceExt;

fn testdata() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn state(tmp: &tempfile::TempDir) -> Arc<AppState> {
    let clock: Arc<dyn carnac_archive::ports::Clock> =
        Arc::new(FixedClock(time::macros::datetime!(2026-11-29 04:00:00 UTC)));
    let archive = Archive::new(Parts {
        catalog: Arc::new(carnac_catalog::sqlite::SqliteCatalog::in_memory().unwrap()),
        offers: vec![
            Arc::new(MemoryStore::new("offer-1")),
            Arc::new(MemoryStore::new("offer-2")),
        ],
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
        config: Default::default(),
        tmp: tmp.path().join("tmp"),
    })
    .unwrap();
    let t = TenantId::new("0").unwrap();
    archive.create_tenant(&t, "Tenant 0", "test").unwrap();
    archive
        .import_referentials(&t, &testdata().join("referentials/tenant-0"), "test")
        .unwrap();
    Arc::new(AppState {
        archive: Arc::new(archive),
        uploads: tmp.path().join("tmp"),
    })
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String, Option<String>) {
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

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_transfer_its_operation_and_its_reply() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(state(&tmp));
    let (status, body, _) = send(&app, get("/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );

    let bytes = std::fs::read(testdata().join("seda/OK_SIP-test-md5.zip")).unwrap();
    let req = Request::post("/api/v1/tenants/0/transfers")
        .body(Body::from(bytes))
        .unwrap();
    let (status, body, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let op = v["operation"].as_str().unwrap().to_owned();
    assert_eq!(v["status"], "OK");

    let (status, body, _) = send(&app, get(&format!("/api/v1/tenants/0/operations/{op}"))).await;
    assert_eq!(status, StatusCode::OK);
    let o: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            o["kind"].as_str(),
            o["status"].as_str(),
            o["has_atr"].as_bool()
        ),
        (Some("INGEST"), Some("OK"), Some(true))
    );

    let (status, body, content_type) =
        send(&app, get(&format!("/api/v1/tenants/0/operations/{op}/atr"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.unwrap().starts_with("application/xml"));
    assert!(body.contains("<ReplyCode>OK</ReplyCode>"));

    // Uploads are removed once ingested.
    assert_eq!(
        std::fs::read_dir(tmp.path().join("tmp")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn a_rejected_transfer_is_422_with_its_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(state(&tmp));
    let bytes = std::fs::read(testdata().join("seda/KO_BORD_empreinte_KO.zip")).unwrap();
    let req = Request::post("/api/v1/tenants/0/transfers")
        .body(Body::from(bytes))
        .unwrap();
    let (status, body, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
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
    let app = app(state(&tmp));
    let cases = [
        (
            Request::post("/api/v1/tenants/nobody/transfers")
                .body(Body::from("x"))
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Request::post("/api/v1/tenants/0/transfers")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "empty_body",
        ),
        (
            Request::post("/api/v1/tenants/..%2Fx/transfers")
                .body(Body::from("x"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
        ),
        (
            get("/api/v1/tenants/0/operations/op-unknown"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            get("/api/v1/tenants/0/operations/op-unknown/atr"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            get("/api/v1/tenants/0/operations/bad%20id"),
            StatusCode::BAD_REQUEST,
            "invalid_operation",
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
async fn another_tenants_operation_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let st = state(&tmp);
    let other = TenantId::new("other").unwrap();
    st.archive.create_tenant(&other, "Other", "test").unwrap();
    let app = app(st);
    let bytes = std::fs::read(testdata().join("seda/OK_SIP-test-md5.zip")).unwrap();
    let (_, body, _) = send(
        &app,
        Request::post("/api/v1/tenants/0/transfers")
            .body(Body::from(bytes))
            .unwrap(),
    )
    .await;
    let op = serde_json::from_str::<serde_json::Value>(&body).unwrap()["operation"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = send(&app, get(&format!("/api/v1/tenants/other/operations/{op}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(
        &app,
        get(&format!("/api/v1/tenants/other/operations/{op}/atr")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
