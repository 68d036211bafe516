//! Elimination over HTTP: rules changed to make units destroyable, a proposal, the refusals
//! (a visa by a producer or an archivist, execution before a visa or after a refusal, a unit
//! in another elimination, a second execution), the agreement, a partial visa, a hold put on
//! before execution, the execution, and 410 with the tombstone.

use super::*;

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

#[tokio::test]
async fn an_elimination_over_http_with_every_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    // A producer of another service of the authority.
    let (_, other_service) = st
        .archive
        .create_account(
            &carnac_archive::accounts::NewAccount {
                login: "service-1",
                role: Role::Producer,
                kind: carnac_model::access::AccountKind::Person,
                tenants: &[TenantId::new("0").unwrap()],
                password: None,
                token: true,
                certificate: None,
                agencies: &["Identifier1".to_owned()],
            },
            "test",
        )
        .unwrap();
    let other_service = other_service.unwrap();
    let app = app(st);
    let op = submit(&app, "0", &tokens.producer, "OK_SIP_2_GO.zip").await;
    wait_done(&app, "0", &op, &tokens.producer).await;
    let arch = &tokens.archivist;

    // Leaves of the transfer, with a file each when they have one.
    let (_, body, _) = send(&app, get("/api/v1/tenants/0/units?per_page=200", arch)).await;
    let mut leaves = Vec::new();
    for u in json(&body)["units"].as_array().unwrap() {
        let id = u["id"].as_str().unwrap().to_owned();
        let (_, body, _) = send(&app, get(&format!("/api/v1/tenants/0/units/{id}"), arch)).await;
        let unit = json(&body);
        if unit["children"].as_array().unwrap().is_empty() {
            let file = unit["objects"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["size"].as_u64().unwrap_or(0) > 0)
                .map(|o| o["id"].as_str().unwrap().to_owned());
            leaves.push((id, file));
        }
    }
    leaves.sort_by_key(|(_, f)| f.is_none());
    assert!(leaves.len() >= 4, "{leaves:?}");
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| leaves[i].0.clone());
    // E, the one unit of a second transfer.
    let second_op = submit(&app, "0", &tokens.producer, "OK_SIP-test-md5.zip").await;
    wait_done(&app, "0", &second_op, &tokens.producer).await;
    let (_, body, _) = send(&app, get("/api/v1/tenants/0/units?q=Sensibilisation", arch)).await;
    let e = json(&body)["units"][0]["id"].as_str().unwrap().to_owned();
    let a_file = leaves[0].1.clone().expect("a leaf with a file");

    // A, B, C and E destroyable after 2005; D left as it came (Keep).
    let (status, body, _) = send(
        &app,
        post_json(
            "/api/v1/tenants/0/rules/changes",
            arch,
            serde_json::json!({
                "units": [a, b, c, e],
                "actions": [
                    {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
                    {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"}
                ]
            }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, body, _) = send(&app, get(&format!("/api/v1/tenants/0/units/{a}"), arch)).await;
    assert_eq!(
        json(&body)["effective_rules"]["final_actions"][0]["final_action"],
        "Destroy"
    );

    let (status, body, _) = send(
        &app,
        post_json(
            "/api/v1/tenants/0/eliminations",
            arch,
            serde_json::json!({"units": [a, b, c, d], "at": "2026-12-04"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let proposal = json(&body);
    let id = proposal["id"].as_str().unwrap().to_owned();
    assert_eq!(proposal["state"], "proposed");
    assert_eq!(proposal["units"].as_array().unwrap().len(), 3);
    assert_eq!(proposal["excluded"][0]["id"], d);
    assert_eq!(proposal["excluded"][0]["reason"]["code"], "keep");
    let url = |s: &str| format!("/api/v1/tenants/0/eliminations/{id}{s}");

    // The documents: the SEDA request and the page.
    let (status, body, ctype) = send(&app, get(&url("/request"), &tokens.control)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.unwrap().starts_with("application/xml"));
    assert!(body.contains("AuthorizationControlAuthorityRequest"));
    let (status, body, ctype) = send(&app, get(&url("/bordereau"), &tokens.producer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.unwrap().starts_with("text/html"));
    assert!(body.contains("Bordereau d’élimination"));
    let (status, body, _) = send(&app, get(&url("/producer-request"), &tokens.producer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<AuthorizationOriginatingAgencyRequest "),
        "{body}"
    );
    // No answer yet: nothing to read.
    let (status, _, _) = send(&app, get(&url("/visa"), &tokens.control)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A unit already in this proposal cannot go into another one.
    let (status, body, _) = send(
        &app,
        post_json(
            "/api/v1/tenants/0/eliminations",
            arch,
            serde_json::json!({"units": [a]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("in_other_operation") || body.contains("open operation"),
        "{body}"
    );

    // Nobody but the control authority gives the visa; not before the agreement.
    let visa = serde_json::json!({"decision": "granted", "except": [b], "comment": "Vu, sauf B"});
    for who in [&tokens.producer, arch] {
        let (status, _, _) = send(&app, post_json(&url("/visa"), who, visa.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, body, _) = send(
        &app,
        post_json(&url("/visa"), &tokens.control, visa.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // No execution without a visa.
    let (status, body, _) = send(&app, post(&url("/execution"), arch, "")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("R212-14"), "{body}");

    // Not its records: 403, nothing changes.
    let (status, body, _) = send(
        &app,
        post_json(
            &url("/agreement"),
            &other_service,
            serde_json::json!({"decision": "agreed"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(json(&body)["error"]["code"], "forbidden");
    let (status, body, _) = send(
        &app,
        post_json(
            &url("/agreement"),
            &tokens.producer,
            serde_json::json!({"decision": "agreed", "comment": "Accord"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["state"], "agreed");
    let (status, body, _) = send(&app, post_json(&url("/visa"), &tokens.control, visa)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let granted = json(&body);
    assert_eq!(granted["state"], "visa_partly_granted");
    assert_eq!(granted["steps"][1]["author"], "ctl");
    assert_eq!(granted["steps"][1]["except"], serde_json::json!([b]));
    // The answers, kept as their SEDA replies.
    let (status, body, _) = send(&app, get(&url("/agreement"), arch)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<AuthorizationOriginatingAgencyRequestReply "),
        "{body}"
    );
    let (status, body, _) = send(&app, get(&url("/visa"), arch)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<AuthorizationControlAuthorityRequestReply "),
        "{body}"
    );

    // A hold on C between the visa and the execution.
    let (status, body, _) = send(
        &app,
        post_json(
            "/api/v1/tenants/0/rules/changes",
            arch,
            serde_json::json!({"units": [c], "actions": [{"action": "hold", "rule": "HOL-00002", "hold": {"reason": "Recours"}}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body, _) = send(&app, post(&url("/execution"), arch, "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let done = json(&body);
    assert_eq!(done["state"], "executed");
    let status_of = |u: &str| {
        done["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == u)
            .map(|x| {
                (
                    x["status"].as_str().unwrap().to_owned(),
                    x["reason"]["code"].as_str().map(str::to_owned),
                )
            })
            .unwrap()
    };
    assert_eq!(status_of(&a), ("destroyed".into(), None));
    assert_eq!(
        status_of(&b),
        ("dropped".into(), Some("visa_excepted".into()))
    );
    assert_eq!(status_of(&c), ("dropped".into(), Some("hold".into())));
    // Twice: refused.
    let (status, _, _) = send(&app, post(&url("/execution"), arch, "")).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A is gone: 410 with its tombstone, for the unit and for its file.
    let (status, body, _) = send(&app, get(&format!("/api/v1/tenants/0/units/{a}"), arch)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    let gone = json(&body);
    assert_eq!(gone["error"]["code"], "destroyed");
    assert_eq!(gone["tombstone"]["elimination"], id.as_str());
    check_against_document(
        "GET",
        "/api/v1/tenants/{tenant}/units/{unit}",
        status,
        &body,
    );
    let (status, body, _) = send(
        &app,
        get(&format!("/api/v1/tenants/0/objects/{a_file}"), arch),
    )
    .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(json(&body)["tombstone"]["unit"], a.as_str());
    let (status, body, _) = send(&app, get(&url("/notification"), arch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("ArchiveDestructionNotification"));
    // The search no longer finds it.
    let (_, body, _) = send(&app, get("/api/v1/tenants/0/units?per_page=200", arch)).await;
    assert!(
        !json(&body)["units"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == a.as_str()),
        "{body}"
    );
    // The certificate, as served, verifies with OpenSSL.
    let dir = tempfile::tempdir().unwrap();
    for (path, name) in [
        ("/certificate", "certificate.json"),
        ("/certificate/signature", "certificate.p7s"),
        ("/certificate/signer", "signer.pem"),
    ] {
        let response = app
            .clone()
            .oneshot(get(&url(path), &tokens.control))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let openssl = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
        .arg(dir.path().join("certificate.p7s"))
        .arg("-content")
        .arg(dir.path().join("certificate.json"))
        .arg("-CAfile")
        .arg(dir.path().join("signer.pem"))
        .args(["-purpose", "any", "-out", "/dev/null"])
        .output()
        .unwrap();
    assert!(openssl.status.success(), "{openssl:?}");

    // A visa refused as the control authority's own SEDA reply, kept whole: then no
    // execution.
    let (_, body, _) = send(
        &app,
        post_json(
            "/api/v1/tenants/0/eliminations",
            arch,
            serde_json::json!({"units": [e]}),
        ),
    )
    .await;
    let second = json(&body)["id"].as_str().unwrap().to_owned();
    let url2 = |s: &str| format!("/api/v1/tenants/0/eliminations/{second}{s}");
    // E came with OK_SIP-test-md5, of another agency than `prod` speaks for: a producer of
    // the whole tenant agrees.
    send(
        &app,
        post_json(
            &url2("/agreement"),
            &tokens.other_producer,
            serde_json::json!({"decision": "agreed"}),
        ),
    )
    .await;
    let seda_version = json(&body)["seda_version"].as_str().unwrap().to_owned();
    let mut reply = Vec::new();
    carnac_seda::authorization::write_reply(
        &mut reply,
        match seda_version.as_str() {
            "2.2" => carnac_seda::SedaVersion::V2_2,
            "2.3" => carnac_seda::SedaVersion::V2_3,
            _ => carnac_seda::SedaVersion::V2_1,
        },
        &carnac_seda::authorization::AuthorizationReply {
            from: carnac_seda::authorization::Authority::ControlAuthority,
            message_identifier: "AD35-2026-118".into(),
            date: "2026-12-04T10:00:00Z".into(),
            comments: vec!["Refus : intérêt historique".into()],
            request_identifier: second.clone(),
            reply_code: "KO".into(),
            archival_agency: "carnac".into(),
            authority: "AD35".into(),
        },
    )
    .unwrap();
    let (status, body, _) = send(
        &app,
        Request::post(url2("/visa"))
            .header(header::AUTHORIZATION, format!("Bearer {}", tokens.control))
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(reply.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["state"], "visa_refused");
    assert_eq!(json(&body)["steps"][1]["reply_identifier"], "AD35-2026-118");
    let (status, body, _) = send(&app, post(&url2("/execution"), arch, "")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("refused"), "{body}");
    // E is still there.
    let (status, _, _) = send(&app, get(&format!("/api/v1/tenants/0/units/{e}"), arch)).await;
    assert_eq!(status, StatusCode::OK);
}
