//! Who may do what: one error shape, tenants that cannot be told apart, credentials, the
//! role matrix of every endpoint, the OpenAPI document, disabled accounts and tokens.
//!
//! About 1,300 lines because the role matrix is one test that walks every guarded route
//! with every role and checks each answer against its schema: split, it would no longer
//! prove that the table is covered whole.

use super::*;

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
    // Three leaves of a second transfer of tenant 0 made destroyable: one elimination taken
    // from proposal to execution by the matrix, one withdrawn, one unit it proposes.
    let (elim, elim2, unit3, free) = {
        use std::io::Write;
        let t = TenantId::new("0").unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&std::fs::read(testdata().join("seda/OK_SIP_2_GO.zip")).unwrap())
            .unwrap();
        let outcome = archive
            .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
            .unwrap();
        let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
        let leaves: Vec<carnac_model::UnitId> = archive
            .catalog()
            .units_of_operation(&t, &op)
            .unwrap()
            .into_iter()
            .filter(|u| {
                archive
                    .catalog()
                    .unit_details(&t, &u.id)
                    .unwrap()
                    .unwrap()
                    .children
                    .is_empty()
            })
            .map(|u| u.id)
            .take(4)
            .collect();
        let change: carnac_archive::rules::RulesChangeRequest =
            serde_json::from_value(serde_json::json!({
                "units": leaves,
                "actions": [
                    {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
                    {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"}
                ]
            }))
            .unwrap();
        archive.change_rules(&t, &change, "test").unwrap();
        let propose = |u: &carnac_model::UnitId| {
            archive
                .propose_elimination(
                    &t,
                    &carnac_archive::elimination::EliminationRequest {
                        units: vec![u.to_string()],
                        ..Default::default()
                    },
                    "test",
                )
                .unwrap()
                .id
                .to_string()
        };
        (
            propose(&leaves[0]),
            propose(&leaves[1]),
            leaves[2].to_string(),
            leaves[3].clone(),
        )
    };
    // A delivery the producer asked for, delivered; another of a unit still restricted
    // and not of its agency, waiting for the control authority's authorisation.
    let (deliv, deliv2) = {
        let t = TenantId::new("0").unwrap();
        let change: carnac_archive::rules::RulesChangeRequest =
            serde_json::from_value(serde_json::json!({
                "units": [files["0"].0],
                "actions": [{"action": "add", "category": "AccessRule", "rule": "ACC-00003", "start_date": "2021-01-01"}]
            }))
            .unwrap();
        archive.change_rules(&t, &change, "test").unwrap();
        let ask = |unit: &str, derogation: bool| {
            archive
                .request_delivery(
                    &t,
                    &carnac_archive::delivery::DeliveryRequest {
                        units: vec![unit.to_owned()],
                        requester: "Mairie".into(),
                        derogation,
                        ..Default::default()
                    },
                    "prod",
                )
                .unwrap()
                .id
                .to_string()
        };
        (ask(free.as_str(), false), ask(&files["0"].0, true))
    };
    // Transfers out, of the leaves of another OK_SIP_2_GO whose retention is over with
    // Keep: one sent and rejected (replies to it may come again), one accepted and purged,
    // one to withdraw, and a leaf for the matrix to send.
    let (to_open, to_done, to_withdraw, to_unit) = {
        use std::io::Write;
        let t = TenantId::new("0").unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&std::fs::read(testdata().join("seda/OK_SIP_2_GO.zip")).unwrap())
            .unwrap();
        let outcome = archive
            .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
            .unwrap();
        let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
        let units = archive.catalog().units_of_operation(&t, &op).unwrap();
        let root = units.iter().find(|u| u.parents.is_empty()).unwrap();
        let change: carnac_archive::rules::RulesChangeRequest =
            serde_json::from_value(serde_json::json!({
                "units": [root.id],
                "actions": [
                    {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
                    {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Keep"}
                ]
            }))
            .unwrap();
        archive.change_rules(&t, &change, "test").unwrap();
        let leaves: Vec<String> = units
            .iter()
            .filter(|u| !units.iter().any(|o| o.parents.contains(&u.id)))
            .map(|u| u.id.to_string())
            .collect();
        let send = |u: &str| {
            archive
                .propose_transfer_out(
                    &t,
                    &carnac_archive::elimination::TransferOutRequest {
                        units: vec![u.to_owned()],
                        archival_agency: "Identifier1".into(),
                        ..Default::default()
                    },
                    "test",
                )
                .unwrap()
                .id
                .to_string()
        };
        let (open, done, withdraw) = (send(&leaves[0]), send(&leaves[1]), send(&leaves[2]));
        let reply = |id: &str, code: &str| {
            format!(
                "<ArchiveTransferReply xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T10:00:00</Date>\
                 <MessageIdentifier>AD-{code}-{id}</MessageIdentifier><CodeListVersions/><ReplyCode>{code}</ReplyCode>\
                 <MessageRequestIdentifier>{id}</MessageRequestIdentifier></ArchiveTransferReply>"
            )
        };
        let ack = format!(
            "<Acknowledgement xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T10:00:00</Date>\
             <MessageIdentifier>AD-ACK</MessageIdentifier><MessageReceivedIdentifier>{open}</MessageReceivedIdentifier></Acknowledgement>"
        );
        for (id, body) in [
            (&open, ack),
            (&open, reply(&open, "KO")),
            (&done, reply(&done, "OK")),
        ] {
            archive
                .transfer_out_message(
                    &t,
                    &carnac_model::OperationId::new(id).unwrap(),
                    body.as_bytes(),
                    "test",
                )
                .unwrap();
        }
        (open, done, withdraw, leaves[3].clone())
    };
    // Restitutions to the producer of another OK_SIP_2_GO: one sent (the producer's
    // refusals may come again), one acknowledged (so purged), one to withdraw, and a leaf
    // for the matrix to give back.
    let (re_open, re_done, re_withdraw, re_unit) = {
        use std::io::Write;
        let t = TenantId::new("0").unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&std::fs::read(testdata().join("seda/OK_SIP_2_GO.zip")).unwrap())
            .unwrap();
        let outcome = archive
            .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
            .unwrap();
        let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
        let units = archive.catalog().units_of_operation(&t, &op).unwrap();
        let leaves: Vec<String> = units
            .iter()
            .filter(|u| !units.iter().any(|o| o.parents.contains(&u.id)))
            .map(|u| u.id.to_string())
            .collect();
        let give = |u: &str| {
            archive
                .propose_restitution(
                    &t,
                    &carnac_archive::elimination::RestitutionRequest {
                        units: vec![u.to_owned()],
                        originating_agency: "FRAN_NP_009913".into(),
                        ..Default::default()
                    },
                    "test",
                )
                .unwrap()
                .id
                .to_string()
        };
        let (open, done, withdraw) = (give(&leaves[0]), give(&leaves[1]), give(&leaves[2]));
        let ack = format!(
            "<Acknowledgement xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T10:00:00</Date>\
             <MessageIdentifier>PROD-ACK</MessageIdentifier><MessageReceivedIdentifier>{done}</MessageReceivedIdentifier></Acknowledgement>"
        );
        archive
            .outgoing_message(
                carnac_model::elimination::DisposalKind::Restitution,
                &t,
                &carnac_model::OperationId::new(&done).unwrap(),
                ack.as_bytes(),
                "test",
            )
            .unwrap();
        (open, done, withdraw, leaves[3].clone())
    };
    let refusal = format!(
        "<ArchiveRestitutionRequestReply xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T11:00:00</Date>\
         <MessageIdentifier>PROD-KO</MessageIdentifier><CodeListVersions/><ReplyCode>KO</ReplyCode>\
         <MessageRequestIdentifier>{re_open}</MessageRequestIdentifier><UnitIdentifier>x</UnitIdentifier>\
         <ArchivalAgency><Identifier>carnac</Identifier></ArchivalAgency>\
         <OriginatingAgency><Identifier>FRAN_NP_009913</Identifier></OriginatingAgency></ArchiveRestitutionRequestReply>"
    );
    let rejection = format!(
        "<ArchiveTransferReply xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\"><Date>2026-12-04T11:00:00</Date>\
         <MessageIdentifier>AD-KO-2</MessageIdentifier><CodeListVersions/><ReplyCode>KO</ReplyCode>\
         <MessageRequestIdentifier>{to_open}</MessageRequestIdentifier></ArchiveTransferReply>"
    );
    // A finished background export of each tenant, for the operator to follow and download.
    let mut exports = std::collections::HashMap::new();
    for tenant in ["0", "other"] {
        let t = TenantId::new(tenant).unwrap();
        let job = archive.start_export(&t, None, "test").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while archive
            .export_job(&t, &job.operation)
            .unwrap()
            .unwrap()
            .state
            == carnac_archive::export_jobs::ExportState::Running
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the export never ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        exports.insert(tenant, job.operation.to_string());
    }
    // A correction of the unit of tenant 0, for its history.
    let mdop = archive
        .correct_metadata(
            &TenantId::new("0").unwrap(),
            &carnac_model::UnitId::new(&files["0"].0).unwrap(),
            serde_json::json!({"Tag": ["corrigé"]}).as_object().unwrap(),
            "test",
        )
        .unwrap()
        .operation
        .unwrap()
        .to_string();
    use Role::*;
    // (method, path with {t}, {op}, {unit}, {object}, body, roles allowed on their own tenant).
    let endpoints: Vec<(&str, &str, &str, Vec<Role>)> = vec![
        ("GET", "/api/v1/me", "", Role::ALL.to_vec()),
        ("GET", "/api/v1/tenants", "", vec![Operator]),
        ("GET", "/metrics", "", vec![Operator]),
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
            "/api/v1/tenants/{t}/referentials",
            "REFS",
            vec![Operator],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/referentials/rules/versions",
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
            "PATCH",
            "/api/v1/tenants/{t}/units/{unit}",
            r##"{"Title":"Titre corrigé {n}","#comment":"matrix"}"##,
            vec![Archivist],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/units/{unit}/history",
            "",
            vec![Archivist, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/units/{unit}/history/{mdop}",
            "",
            vec![Archivist, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/units/{unit}/history/{mdop}/notification",
            "",
            vec![Archivist, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/journal?operation={op}",
            "",
            vec![Archivist, ControlAuthority, Auditor],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/rules/changes",
            r#"{"units":["{unit}"],"actions":[{"action":"set_final_action","category":"AppraisalRule","final_action":"Destroy"}]}"#,
            vec![Archivist],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/request",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/bordereau",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/bordereau/pdf",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/eliminations/{elim}/agreement",
            r#"{"decision":"agreed"}"#,
            vec![Producer],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/eliminations/{elim}/visa",
            r#"{"decision":"granted","comment":"Vu"}"#,
            vec![ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/producer-request",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/agreement",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/visa",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/eliminations/{elim}/execution",
            "",
            vec![Archivist],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/notification",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/certificate",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/certificate/signature",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/eliminations/{elim}/certificate/signer",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/eliminations/{elim2}/withdrawal",
            "",
            vec![Archivist],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/eliminations",
            r#"{"units":["{unit3}"]}"#,
            vec![Archivist],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/deliveries",
            r#"{"units":["{free}"],"requester":"Mairie"}"#,
            vec![Archivist, Producer],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/deliveries",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/deliveries/{deliv}",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/deliveries/{deliv}/package",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/deliveries/{deliv}/reply",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/deliveries/{deliv2}/request",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/deliveries/{deliv2}/authorization",
            r#"{"decision":"granted","comment":"Dérogation accordée"}"#,
            vec![ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/deliveries/{deliv2}/authorization",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/transfers-out",
            r#"{"units":["{to_unit}"],"archival_agency":"Identifier1"}"#,
            vec![Archivist],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out/{to_open}",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out/{to_open}/package",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/transfers-out/{to_open}/reply",
            "REJECTION",
            vec![Archivist, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out/{to_open}/reply",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out/{to_open}/acknowledgement",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out/{to_done}/notification",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out/{to_done}/certificate",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out/{to_done}/certificate/signature",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/transfers-out/{to_done}/certificate/signer",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/transfers-out/{to_withdraw}/withdrawal",
            "",
            vec![Archivist],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/restitutions",
            r#"{"units":["{re_unit}"],"originating_agency":"FRAN_NP_009913"}"#,
            vec![Archivist],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_open}",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_open}/package",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_open}/request",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/restitutions/{re_open}/reply",
            "REFUSAL",
            vec![Archivist, Producer],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_open}/reply",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_done}/acknowledgement",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_done}/notification",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_done}/certificate",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_done}/certificate/signature",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/restitutions/{re_done}/certificate/signer",
            "",
            vec![Archivist, Producer, ControlAuthority],
        ),
        (
            "POST",
            "/api/v1/tenants/{t}/restitutions/{re_withdraw}/withdrawal",
            "",
            vec![Archivist],
        ),
        ("GET", "/api/v1/tenants/{t}/exports", "", vec![Operator]),
        (
            "GET",
            "/api/v1/tenants/{t}/exports/{exp}",
            "",
            vec![Operator],
        ),
        (
            "GET",
            "/api/v1/tenants/{t}/exports/{exp}/archive",
            "",
            vec![Operator],
        ),
        ("POST", "/api/v1/tenants/{t}/exports", "", vec![Operator]),
        ("POST", "/api/v1/tenants/{t}/suspend", "", vec![Operator]),
        ("POST", "/api/v1/tenants/{t}/resume", "", vec![Operator]),
    ];
    // The matrix covers every route of the table that asks for an action, and the roles it
    // expects are those the table's action grants.
    let as_routed = |template: &str| {
        template
            .split('?')
            .next()
            .unwrap()
            .replace("{t}", "{tenant}")
            .replace("{op}", "{operation}")
            .replace("/spare/", "/{login}/")
            .replace("/referentials/rules/", "/referentials/{kind}/")
            .replace("{spare_token}", "{token}")
            .replace("{elim}", "{elimination}")
            .replace("{elim2}", "{elimination}")
            .replace("{deliv}", "{delivery}")
            .replace("{deliv2}", "{delivery}")
            .replace("{to_open}", "{transfer}")
            .replace("{to_done}", "{transfer}")
            .replace("{to_withdraw}", "{transfer}")
            .replace("{re_open}", "{restitution}")
            .replace("{re_done}", "{restitution}")
            .replace("{re_withdraw}", "{restitution}")
            .replace("{mdop}", "{operation}")
            .replace("{exp}", "{operation}")
    };
    let mut covered: Vec<String> = endpoints
        .iter()
        .map(|(m, p, _, _)| format!("{m} {}", as_routed(p)))
        .collect();
    covered.sort();
    let mut guarded: Vec<String> = crate::routes::ROUTES
        .iter()
        .filter(|r| r.action.is_some())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    guarded.sort();
    assert_eq!(covered, guarded, "the role matrix and the route table");
    for (method, template, _, allowed) in &endpoints {
        let route = crate::routes::find(&method.parse().unwrap(), &as_routed(template)).unwrap();
        let granted: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| {
                let zero = TenantId::new("0").unwrap();
                let who = carnac_model::access::Principal {
                    login: "x".into(),
                    role: *r,
                    tenants: vec![zero.clone()],
                };
                // On its own tenant, about what it sent itself.
                let tenant = template.contains("{t}").then_some(&zero);
                carnac_model::access::decide(&who, route.action.unwrap(), tenant, Some("x"))
                    == carnac_model::access::Decision::Allow
            })
            .collect();
        assert_eq!(&granted, allowed, "{method} {template}");
    }
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
                    .replace("{object}", &object)
                    .replace("{elim}", &elim)
                    .replace("{elim2}", &elim2)
                    .replace("{deliv}", &deliv)
                    .replace("{deliv2}", &deliv2)
                    .replace("{to_open}", &to_open)
                    .replace("{to_done}", &to_done)
                    .replace("{to_withdraw}", &to_withdraw)
                    .replace("{re_open}", &re_open)
                    .replace("{re_done}", &re_done)
                    .replace("{re_withdraw}", &re_withdraw)
                    .replace("{mdop}", &mdop)
                    .replace("{exp}", exports.get(tenant).map_or("", |s| s.as_str()));
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
                    "REJECTION" => rejection.clone().into(),
                    "REFUSAL" => refusal.clone().into(),
                    b => b
                        .replace("{n}", &n.to_string())
                        .replace("{unit}", &unit)
                        .replace("{unit3}", &unit3)
                        .replace("{free}", free.as_str())
                        .replace("{to_unit}", &to_unit)
                        .replace("{re_unit}", &re_unit)
                        .into(),
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
                let (status, answer, content_type) = send(&app, req.body(body).unwrap()).await;
                let expected = match role {
                    None => false,
                    Some(r) => allowed.contains(&r) && (*tenant != "other" || r == Operator),
                };
                let what = format!("{role:?} {method} {path}: {status} {answer}");
                match (role, expected) {
                    (None, _) => assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}"),
                    (Some(_), false) => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
                    (Some(_), true) => {
                        assert!(
                            status.is_success(),
                            "allowed, and it should succeed: {what}"
                        );
                        if content_type
                            .as_deref()
                            .is_some_and(|c| c.starts_with("application/json"))
                        {
                            check_against_document(method, &as_routed(template), status, &answer);
                        }
                    }
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
        for (method, operation) in item.as_object().unwrap() {
            described.push(format!("{} {path}", method.to_uppercase()));
            // Every JSON answer of the API is described by a named schema (which the role
            // matrix validates answers against), the document itself aside.
            if path.starts_with("/api/") && path != "/api/v1/openapi.json" {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let schema = &response["content"]["application/json"]["schema"];
                    if status.starts_with('2') && !schema.is_null() {
                        assert!(
                            schema["$ref"].is_string(),
                            "{method} {path} {status}: no named schema"
                        );
                    }
                }
            }
            let uri = path
                .replace("{tenant}", "0")
                .replace("{operation}", "op-x")
                .replace("{elimination}", "op-e")
                .replace("{delivery}", "op-d")
                .replace("{transfer}", "op-t")
                .replace("{restitution}", "op-r")
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
    // The API's routes, from the one table the router is built from.
    let mut routed: Vec<String> = crate::routes::ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    // The as@lae intake's, under its default base path.
    let source: String = include_str!("../asalae.rs").split_whitespace().collect();
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

pub(crate) fn check(
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
