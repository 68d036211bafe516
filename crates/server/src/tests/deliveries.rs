//! Deliveries over HTTP: a unit still restricted is refused with its rule unless a
//! derogation is asked; the control authority's answer, as JSON or as its SEDA reply; the
//! package streamed whole (its digest announced) or by range; a producer reads only what it
//! asked for.

use super::*;

const ROUTE: &str = "/api/v1/tenants/{tenant}/deliveries";

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn post_json(uri: &str, token: &str, body: serde_json::Value) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The answer with its body as bytes (a zip is not text).
async fn raw(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn a_derogation_over_http_then_the_package_whole_and_by_range() {
    use base64::Engine;
    use sha2::Digest;
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let archive = st.archive.clone();
    let app = app(st);
    let arch = &tokens.archivist;
    let op = submit(&app, "0", arch, "OK_SIP-test-md5.zip").await;
    wait_done(&app, "0", &op, arch).await;
    let t = TenantId::new("0").unwrap();
    let unit = archive
        .catalog()
        .units_of_operation(&t, &carnac_model::OperationId::new(&op).unwrap())
        .unwrap()[0]
        .id
        .to_string();
    let change: carnac_archive::rules::RulesChangeRequest = serde_json::from_value(
        serde_json::json!({"units": [unit], "actions": [
            {"action": "add", "category": "AccessRule", "rule": "ACC-00003", "start_date": "2021-01-01"}]}),
    )
    .unwrap();
    archive.change_rules(&t, &change, "test").unwrap();
    let url = "/api/v1/tenants/0/deliveries";

    // Restricted, no derogation: 403, the unit and its rule in the details.
    let (status, body, _) = send(
        &app,
        post_json(
            url,
            arch,
            serde_json::json!({"units": [unit], "requester": "M. Le Goff"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let answer = json(&body);
    assert_eq!(answer["error"]["code"], "not_communicable");
    let details = answer["error"]["details"].to_string();
    assert!(
        details.contains(&unit) && details.contains("ACC-00003"),
        "{body}"
    );
    // Bad requests name every problem.
    let (status, body, _) = send(
        &app,
        post_json(
            url,
            arch,
            serde_json::json!({"units": ["au-nothing"], "requester": ""}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("au-nothing") && body.contains("requester"),
        "{body}"
    );

    // With a derogation: waiting, its request to read.
    let (status, body, _) = send(
        &app,
        post_json(
            url,
            arch,
            serde_json::json!({"units": [unit], "requester": "M. Le Goff", "derogation": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    check_against_document("POST", ROUTE, status, &body);
    let d = json(&body);
    assert_eq!(d["state"], "awaiting_authorization");
    let id = d["id"].as_str().unwrap().to_owned();
    let one = |s: &str| format!("{url}/{id}{s}");
    let (status, body, ctype) = send(&app, get(&one("/request"), &tokens.control)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ctype.unwrap().starts_with("application/xml"));
    assert!(body.contains("<AuthorizationReason>Communication</AuthorizationReason>"));
    let (status, body, _) = send(&app, get(&one("/package"), arch)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(json(&body)["error"]["code"], "no_package");
    // The producer did not ask for it: not its to read.
    let (status, _, _) = send(&app, get(&one(""), &tokens.producer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = send(&app, get(url, &tokens.producer)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["deliveries"], serde_json::json!([]));
    // Only the control authority answers; an undecided answer is refused.
    let (status, _, _) = send(
        &app,
        post_json(
            &one("/authorization"),
            arch,
            serde_json::json!({"decision": "granted"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(
        &app,
        post_json(
            &one("/authorization"),
            &tokens.control,
            serde_json::json!({"decision": "maybe"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Granted by its SEDA reply.
    let version = d["request"]["seda_version"].as_str().unwrap().to_owned();
    let reply = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<AuthorizationControlAuthorityRequestReply xmlns="fr:gouv:culture:archivesdefrance:seda:v{version}">
<Comment>Dérogation accordée</Comment><Date>2026-12-04T10:00:00</Date><MessageIdentifier>AD56-DER-7</MessageIdentifier>
<CodeListVersions/><ReplyCode>OK</ReplyCode><MessageRequestIdentifier>{id}</MessageRequestIdentifier>
<ArchivalAgency><Identifier>carnac</Identifier></ArchivalAgency>
<ControlAuthority><Identifier>AD56</Identifier></ControlAuthority>
</AuthorizationControlAuthorityRequestReply>"#
    );
    let (status, body, _) = send(
        &app,
        Request::post(one("/authorization"))
            .header(header::AUTHORIZATION, format!("Bearer {}", tokens.control))
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(reply.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    check_against_document(
        "POST",
        &format!("{ROUTE}/{{delivery}}/authorization"),
        status,
        &body,
    );
    let d = json(&body);
    assert_eq!(d["state"], "delivered");
    assert_eq!(d["steps"][0]["reply_identifier"], "AD56-DER-7");
    let (_, kept, _) = send(&app, get(&one("/authorization"), arch)).await;
    assert_eq!(kept, reply, "kept whole");
    let (_, answer, _) = send(&app, get(&one("/reply"), arch)).await;
    assert!(
        answer.contains("<AuthorizationRequestReplyIdentifier>AD56-DER-7<"),
        "{answer}"
    );

    // The package, whole: its digest announced and true; the file in it as ingested.
    let (status, headers, zip) = raw(&app, get(&one("/package"), arch)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/zip");
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    let digest = sha2::Sha256::digest(&zip);
    assert_eq!(
        headers["repr-digest"].to_str().unwrap(),
        format!(
            "sha-256=:{}:",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    );
    assert_eq!(d["package"]["sha256"], hex::encode(digest));
    let mut package = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    let (_, objects) = archive
        .catalog()
        .unit(&t, &carnac_model::UnitId::new(&unit).unwrap())
        .unwrap()
        .unwrap();
    let object = objects.iter().find(|o| o.size.is_some()).unwrap();
    let mut inside = Vec::new();
    std::io::Read::read_to_end(
        &mut package.by_name(&format!("Content/{}", object.id)).unwrap(),
        &mut inside,
    )
    .unwrap();
    let (status, _, stored) = raw(
        &app,
        get(&format!("/api/v1/tenants/0/objects/{}", object.id), arch),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inside, stored, "byte for byte");
    // By range, and a range outside it.
    let (status, headers, part) = raw(
        &app,
        Request::get(one("/package"))
            .header(header::AUTHORIZATION, format!("Bearer {arch}"))
            .header(header::RANGE, "bytes=100-199")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        headers[header::CONTENT_RANGE].to_str().unwrap(),
        format!("bytes 100-199/{}", zip.len())
    );
    assert_eq!(part, zip[100..200]);
    let (status, headers, _) = raw(
        &app,
        Request::get(one("/package"))
            .header(header::AUTHORIZATION, format!("Bearer {arch}"))
            .header(header::RANGE, format!("bytes={}-", zip.len()))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        headers[header::CONTENT_RANGE].to_str().unwrap(),
        format!("bytes */{}", zip.len())
    );
    // Listed for the archivist.
    let (status, body, _) = send(&app, get(url, arch)).await;
    assert_eq!(status, StatusCode::OK);
    check_against_document("GET", ROUTE, status, &body);
    assert_eq!(json(&body)["deliveries"][0]["id"], id.as_str());
}
