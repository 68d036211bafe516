//! Transfers over HTTP: received, queued, ingested under their operation, replied; large
//! uploads streamed to disk in flat memory.

use super::*;

/// Readiness, for a load balancer: ready while the catalog and every offer answer; 503
/// naming the offer that does not (a folder that went away), and nothing more.
#[tokio::test]
async fn readiness_names_an_offer_that_does_not_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let a = carnac_blobstore::fs::FsStore::open("site-a", tmp.path().join("a")).unwrap();
    let b = carnac_blobstore::fs::FsStore::open("site-b", tmp.path().join("b")).unwrap();
    let archive = Arc::new(carnac_testkit::archive(
        Default::default(),
        vec![Arc::new(a), Arc::new(b)],
        None,
        &tmp.path().join("tmp"),
    ));
    let worker = Arc::new(carnac_archive::transfers::Worker::start(archive.clone()).unwrap());
    let app = app(Arc::new(AppState::new(
        archive,
        tmp.path().join("tmp"),
        worker,
    )));
    let ready = || Request::get("/health/ready").body(Body::empty()).unwrap();
    let (status, body, _) = send(&app, ready()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, r#"{"status":"ready"}"#);
    std::fs::remove_dir_all(tmp.path().join("b")).unwrap();
    let (status, body, _) = send(&app, ready()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, r#"{"failing":["offer site-b"],"status":"not_ready"}"#);
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

pub(crate) use carnac_testkit::rss_mib;

/// `mib` MiB of bytes made on the fly, one MiB at a time: nothing of it held by the client.
pub(crate) fn streamed(mib: usize, prefix: Vec<u8>, suffix: Vec<u8>) -> Body {
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

/// `/metrics`: an operator's token reads the counters (requests by route template, ingests
/// by status with only the configured tenants named, the queue's depth); others are
/// refused, and no path value becomes a label.
#[tokio::test]
async fn metrics_count_requests_and_ingests_with_bounded_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let st = Arc::new(
        Arc::try_unwrap(st)
            .ok()
            .expect("one owner")
            .with_metrics_tenants(vec![TenantId::new("0").unwrap()]),
    );
    let app = app(st);
    let op = submit(&app, "0", &tokens.producer, "OK_SIP-test-md5.zip").await;
    wait_done(&app, "0", &op, &tokens.producer).await;
    let (status, _, _) = send(&app, get("/metrics", &tokens.archivist)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body, content_type) = send(&app, get("/metrics", &tokens.operator)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        content_type
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(
        body.contains(r#"carnac_ingests_total{tenant="0",status="OK"} 1"#),
        "{body}"
    );
    assert!(body.contains("carnac_transfer_queue_depth 0"), "{body}");
    assert!(
        body.contains(
            r#"carnac_http_requests_total{method="GET",route="/api/v1/tenants/{tenant}/operations/{operation}",status="2xx"}"#
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"carnac_http_request_duration_seconds_bucket{le="#)
            || body.contains("carnac_http_request_duration_seconds_count"),
        "{body}"
    );
    assert!(!body.contains(&op), "no operation identifier as a label");
    assert!(body.ends_with("# EOF\n"));
}
