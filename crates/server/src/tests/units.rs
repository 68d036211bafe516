//! Search, a unit, and its file downloaded whole or in part.

use super::*;

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
        // No rule in this transfer: the effective rules say Keep, implicitly.
        let effective = &unit["effective_rules"];
        assert_eq!(effective["complete"], true, "{body}");
        assert_eq!(effective["rules"], serde_json::json!([]), "{body}");
        // The implicit Keep of the top unit of the agency, inherited below it.
        let actions = effective["final_actions"].as_array().unwrap();
        assert_eq!(actions.len(), 1, "{body}");
        assert_eq!(actions[0]["final_action"], "Keep");
        assert_eq!(actions[0]["implicit"], true);
        assert_eq!(
            actions[0]["inherited"],
            actions[0]["origin"]["unit"] != unit["id"],
            "{body}"
        );
        assert_eq!(unit["management"], serde_json::json!({"categories": []}));
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

pub(crate) fn urlencode(s: &str) -> String {
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

/// A correction over HTTP: refused with every reason, then applied, searched at once, in the
/// unit's history with both versions, and its notification for the producer.
#[tokio::test]
async fn a_unit_corrected_over_http_is_searched_at_once_and_kept_in_its_history() {
    let tmp = tempfile::tempdir().unwrap();
    let st = state(&tmp);
    let archivist = account(&st.archive, "arch", Role::Archivist, &["0"]);
    let producer = account(&st.archive, "prod", Role::Producer, &["0"]);
    let app = app(st);
    let op = submit(&app, "0", &producer, "OK_SIP_2_GO.zip").await;
    wait_done(&app, "0", &op, &producer).await;
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    let (_, body, _) = send(&app, get("/api/v1/tenants/0/units?per_page=1", &archivist)).await;
    let unit = json(&body)["units"][0]["id"].as_str().unwrap().to_owned();
    let patch = |body: &str| {
        Request::patch(format!("/api/v1/tenants/0/units/{unit}"))
            .header(header::AUTHORIZATION, format!("Bearer {archivist}"))
            .header(header::CONTENT_TYPE, "application/merge-patch+json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };

    let (status, body, _) = send(
        &app,
        patch(r#"{"SystemId": "x", "Tag": [3], "StartDate": "demain"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let details = body.clone();
    assert!(
        details.contains("SystemId cannot be corrected"),
        "{details}"
    );
    assert!(details.contains("Tag: a string"), "{details}");
    let (status, body, _) = send(&app, patch("[1]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body, _) = send(
        &app,
        patch(r##"{"Title": "Zéphyrin corrigé", "#comment": "coquille"}"##),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let done = json(&body);
    let operation = done["operation"].as_str().unwrap().to_owned();
    assert_eq!(done["changes"][0]["field"], "Title");

    let (_, body, _) = send(&app, get("/api/v1/tenants/0/units?q=zephyrin", &archivist)).await;
    assert_eq!(json(&body)["units"][0]["id"], unit.as_str(), "{body}");
    let (_, body, _) = send(
        &app,
        get(&format!("/api/v1/tenants/0/units/{unit}"), &archivist),
    )
    .await;
    assert_eq!(json(&body)["title"], "Zéphyrin corrigé");

    let (status, body, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/units/{unit}/history"),
            &archivist,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body)["corrections"][0]["operation"],
        operation.as_str()
    );
    let (_, body, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/units/{unit}/history/{operation}"),
            &archivist,
        ),
    )
    .await;
    let version = json(&body);
    assert!(
        version["current"]
            .as_str()
            .unwrap()
            .contains("Zéphyrin corrigé")
    );
    assert!(
        !version["previous"]
            .as_str()
            .unwrap()
            .contains("Zéphyrin corrigé")
    );
    let (status, body, content_type) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/units/{unit}/history/{operation}/notification"),
            &archivist,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.unwrap().starts_with("application/xml"));
    assert!(body.contains("<ArchiveModificationNotification"), "{body}");
    let (status, _, _) = send(
        &app,
        get("/api/v1/tenants/0/units/u-unknown/history", &archivist),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The operator exports a tenant over HTTP: started in the background, followed to its end,
/// downloaded as one tar stream that verifies offline; a new one replaces the folder of the
/// last.
#[tokio::test]
async fn the_operator_exports_a_tenant_in_the_background_and_downloads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let archive = st.archive.clone();
    let app = app(st);
    let op = submit(&app, "0", &tokens.producer, "OK_SIP_2_GO.zip").await;
    wait_done(&app, "0", &op, &tokens.producer).await;
    let operator = &tokens.operator;
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();

    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/0/exports",
            operator,
            r#"{"units_per_package": 0}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/0/exports",
            operator,
            r#"{"units_per_package": 2}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let export = json(&body)["operation"].as_str().unwrap().to_owned();
    let mut seen = json(&body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while seen["state"] == "running" {
        assert!(std::time::Instant::now() < deadline, "never done: {seen}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (_, body, _) = send(
            &app,
            get(&format!("/api/v1/tenants/0/exports/{export}"), operator),
        )
        .await;
        seen = json(&body);
    }
    assert_eq!(seen["state"], "done", "{seen}");
    assert!(seen["available"].as_bool().unwrap());
    assert_eq!(seen["transfers_done"], 1);
    let digest = seen["summary"]["manifest_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body, _) = send(&app, get("/api/v1/tenants/0/exports", operator)).await;
    assert_eq!(json(&body)["exports"][0]["operation"], export.as_str());

    // Downloaded whole, unpacked, verified offline with the archive's trust anchors.
    let response = app
        .clone()
        .oneshot(get(
            &format!("/api/v1/tenants/0/exports/{export}/archive"),
            operator,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    tar::Archive::new(&bytes[..]).unpack(out.path()).unwrap();
    let dir = out.path().join(format!("0-{export}"));
    let (verified, problems) =
        carnac_archive::export::verify_tenant_export(&dir, &archive.trust()).unwrap();
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(verified, digest);

    // Only the latest export stays here.
    let (status, body, _) = send(&app, post("/api/v1/tenants/0/exports", operator, "")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let second = json(&body)["operation"].as_str().unwrap().to_owned();
    let (status, _, _) = send(
        &app,
        get(
            &format!("/api/v1/tenants/0/exports/{export}/archive"),
            operator,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "replaced by {second}");
    // The archivist does not export.
    let (status, _, _) = send(
        &app,
        post("/api/v1/tenants/0/exports", &tokens.archivist, ""),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
