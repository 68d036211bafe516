//! The S3 offer's tests, on the SeaweedFS server `scripts/services` starts.
use super::*;

/// The S3 server `scripts/services` starts, named by `CARNAC_TEST_S3_*`; none when the
/// tests run without it (a failure where every oracle is required).
pub(crate) fn test_config() -> Option<S3Config> {
    let var = |k: &str| std::env::var(format!("CARNAC_TEST_S3_{k}")).ok();
    let Some(endpoint) = var("ENDPOINT") else {
        assert!(
            std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
            "no S3 server: run the tests through scripts/test, which starts one"
        );
        eprintln!("skipped: no S3 server (CARNAC_TEST_S3_ENDPOINT)");
        return None;
    };
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).expect("random");
    let prefix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Some(S3Config {
        endpoint,
        bucket: var("BUCKET").unwrap_or_else(|| "carnac".into()),
        region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
        path_style: true,
        access_key: var("ACCESS_KEY").expect("CARNAC_TEST_S3_ACCESS_KEY"),
        secret_key: var("SECRET_KEY").expect("CARNAC_TEST_S3_SECRET_KEY"),
        // Each run in a folder of its own: the bucket outlives the tests.
        prefix: format!("test-{prefix}/"),
        timeout: Duration::from_secs(30),
        compliance: None,
        tls_trust: Vec::new(),
    })
}

/// The same server's bucket with Object Lock (`CARNAC_TEST_S3_WORM_BUCKET`), as a WORM
/// offer whose minimum retention is `minimum_days`.
pub(crate) fn worm_config(minimum_days: u32) -> Option<S3Config> {
    let mut config = test_config()?;
    config.bucket = std::env::var("CARNAC_TEST_S3_WORM_BUCKET")
        .expect("CARNAC_TEST_S3_WORM_BUCKET, which scripts/services sets");
    config.compliance = Some(Compliance { minimum_days });
    Some(config)
}

fn key(tenant: &TenantId, batch: &OperationId, name: &str) -> BlobKey {
    BlobKey {
        tenant: tenant.clone(),
        batch: batch.clone(),
        name: name.into(),
    }
}

/// A WORM offer behaves as any other where nothing is locked (no minimum): its deletes
/// reach every version, not only the current one.
#[test]
fn conformance_on_a_worm_bucket() {
    let Some(config) = worm_config(0) else { return };
    let store = S3Store::new("s3-worm", &config).expect("store");
    store.verify_worm().expect("SeaweedFS enforces Object Lock");
    crate::conformance::run(&store);
    // What the suite removed is gone whole: no noncurrent version, no delete marker.
    let inner = &store.inner;
    let left: Vec<(String, String)> = inner
        .versions(&inner.prefix)
        .expect("versions")
        .into_iter()
        .filter(|(k, _)| !k.contains(PROBES))
        .collect();
    let current: BTreeSet<String> = inner
        .keys(&inner.prefix)
        .expect("keys")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        left.iter().all(|(k, _)| current.contains(k)),
        "only the versions of current objects: {left:?} beside {current:?}"
    );
}

/// Issue 20's WORM test, at the server: the shared WORM suite, then a delete of the
/// locked blob's version sent by hand, refused; no staging object or delete marker left.
#[test]
fn a_locked_blob_is_not_deleted_by_the_server() {
    let Some(config) = worm_config(0) else { return };
    let store = S3Store::new("s3-worm", &config).expect("store");
    crate::conformance::worm(&store);
    let inner = &store.inner;
    let (tenant, batch) = (
        TenantId::new("conf-worm").expect("id"),
        OperationId::new("op-worm").expect("id"),
    );
    let object = inner.key(&key(&tenant, &batch, "kept"));
    let versions = inner.versions(&object).expect("versions");
    assert_eq!(versions.len(), 1, "{versions:?}");
    let url = inner
        .signed(
            Method::Delete,
            Some(&object),
            &[("versionId", &versions[0].1)],
        )
        .expect("url");
    let answer = inner
        .send("delete", "DELETE", &url, &[], &[])
        .expect("answer");
    assert_eq!(
        answer.status,
        403,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        crate::read_all(&store, &key(&tenant, &batch, "kept")).expect("still there"),
        b"kept"
    );
    let left: Vec<String> = inner
        .versions(&inner.prefix)
        .expect("versions")
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| !k.contains(PROBES))
        .collect();
    assert_eq!(left, [object], "no staging object, no delete marker");
}

/// The minimum applies to every blob but the temporary ones, and to a date before it.
#[test]
fn the_minimum_retention_is_a_floor() {
    let Some(config) = worm_config(1) else { return };
    let store = S3Store::new("s3-worm", &config).expect("store");
    let (tenant, batch) = (
        TenantId::new("t").expect("id"),
        OperationId::new("op-floor").expect("id"),
    );
    let mut b = store.begin(&tenant, &batch).expect("begin");
    for name in ["plain", "soon", "temporary"] {
        let mut w = b.create(name).expect("create");
        w.write_all(b"x").expect("write");
        w.finish().expect("finish");
    }
    let soon = crate::server_now() + Duration::from_secs(60);
    b.lock("soon", Lock::Until(Timestamp::from_datetime(soon)));
    b.lock("temporary", Lock::Temporary);
    b.commit().expect("commit");
    let day = crate::server_now() + Duration::from_secs(86_400 - 120);
    for name in ["plain", "soon"] {
        let until = store
            .locked_until(&key(&tenant, &batch, name))
            .expect("head")
            .expect("locked");
        assert!(until.to_datetime() > day, "{name}: {until}");
    }
    store
        .delete(&key(&tenant, &batch, "temporary"))
        .expect("a temporary blob goes");
}

/// A bucket without Object Lock is refused as a WORM offer, with the reason: a bucket made
/// without it (SeaweedFS's `carnac`), or a server that answers 501 to the lock
/// configuration yet accepts lock headers and deletes the object (Garage, when
/// `scripts/test-garage` runs this with `CARNAC_TEST_S3_SERVER=garage`).
#[test]
fn a_bucket_without_object_lock_is_refused() {
    let Some(mut config) = test_config() else {
        return;
    };
    config.compliance = Some(Compliance { minimum_days: 1 });
    let store = S3Store::new("site-c", &config).expect("store");
    let e = store.verify_worm().expect_err("no lock on this bucket");
    let text = e.to_string();
    assert!(
        text.contains("site-c") && text.contains("Object Lock"),
        "{text}"
    );
    if std::env::var("CARNAC_TEST_S3_SERVER").as_deref() == Ok("garage") {
        assert!(text.contains("HTTP 501"), "{text}");
    }
}

#[test]
fn versions_are_read_interleaved_with_delete_markers() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>p/</Prefix><KeyMarker></KeyMarker>
  <IsTruncated>true</IsTruncated>
  <NextKeyMarker>p/b</NextKeyMarker><NextVersionIdMarker>v3</NextVersionIdMarker>
  <Version><Key>p/a</Key><VersionId>v1</VersionId><IsLatest>true</IsLatest><Owner><ID>x</ID></Owner></Version>
  <DeleteMarker><Key>p/b</Key><VersionId>v2</VersionId></DeleteMarker>
  <Version><Key>p/b&amp;c</Key><VersionId>v3</VersionId></Version>
</ListVersionsResult>"#;
    let versions: [&[u8]; 2] = [b"Version", b"DeleteMarker"];
    let page = parse_listing(xml, &versions, b"VersionId", b"NextVersionIdMarker").expect("parsed");
    assert_eq!(
        page,
        ListingPage {
            entries: vec![
                ("p/a".into(), "v1".into()),
                ("p/b".into(), "v2".into()),
                ("p/b&c".into(), "v3".into()),
            ],
            truncated: true,
            next: Some(("p/b".into(), "v3".into())),
        }
    );
    assert!(
        parse_listing(
            b"<ListVersionsResult><Version><Key>k</Key></Version></ListVersionsResult>",
            &versions,
            b"VersionId",
            b"NextVersionIdMarker"
        )
        .is_err()
    );
}

#[test]
fn s3_dates_are_whole_seconds_rounded_up() {
    let t = time::macros::datetime!(2026-12-05 14:00:00.001 UTC);
    assert_eq!(s3_date(t), "2026-12-05T14:00:01Z");
    let t = time::macros::datetime!(2026-12-05 14:00:00 UTC);
    assert_eq!(s3_date(t), "2026-12-05T14:00:00Z");
}

#[test]
fn conformance_on_a_real_s3_server() {
    let Some(config) = test_config() else { return };
    let store = S3Store::new("s3-test", &config).expect("store");
    crate::conformance::run(&store);
}

/// A blob of several parts goes up as a multipart upload and reads back whole; one
/// dropped half-way leaves nothing visible.
#[test]
fn large_blobs_go_up_in_parts() {
    let Some(config) = test_config() else { return };
    let store = S3Store::new("s3-test", &config).expect("store");
    let tenant = TenantId::new("t").expect("id");
    let batch = OperationId::new("op-parts").expect("id");
    let bytes: Vec<u8> = (0..(2 * PART_SIZE + 12_345))
        .map(|i| (i % 251) as u8)
        .collect();
    let mut b = store.begin(&tenant, &batch).expect("begin");
    {
        let mut w = b.create("big").expect("create");
        for chunk in bytes.chunks(1 << 20) {
            w.write_all(chunk).expect("write");
        }
        assert_eq!(w.finish().expect("finish"), bytes.len() as u64);
        let mut cut = b.create("cut").expect("create");
        cut.write_all(&bytes[..PART_SIZE + 1]).expect("write");
    }
    assert!(b.commit().is_err(), "an unfinished blob");
    assert!(store.list(&tenant, &batch).expect("list").is_empty());
    assert!(
        uploads(&store).is_empty(),
        "the batch's uploads are aborted"
    );
    // A process that stops leaves its uploads: the batch's discard aborts them.
    let mut b = store.begin(&tenant, &batch).expect("begin");
    let mut w = b.create("big").expect("create");
    w.write_all(&bytes).expect("write");
    w.finish().expect("finish");
    std::mem::forget(b);
    assert!(
        store.list(&tenant, &batch).expect("list").is_empty(),
        "not visible"
    );
    assert_eq!(uploads(&store).len(), 1);
    store.discard(&tenant, &batch).expect("discard");
    assert!(uploads(&store).is_empty());
    let mut b = store.begin(&tenant, &batch).expect("begin");
    let mut w = b.create("big").expect("create");
    w.write_all(&bytes).expect("write");
    w.finish().expect("finish");
    b.commit().expect("commit");
    let key = BlobKey {
        tenant: tenant.clone(),
        batch: batch.clone(),
        name: "big".into(),
    };
    assert_eq!(store.size(&key).expect("size"), bytes.len() as u64);
    assert!(crate::read_all(&store, &key).expect("read") == bytes);
    assert_eq!(store.list(&tenant, &batch).expect("list"), ["big"]);
    store.discard(&tenant, &batch).expect("discard");
    assert!(store.batches().expect("batches").is_empty());
}

/// The unfinished multipart uploads under the store's prefix.
fn uploads(store: &S3Store) -> Vec<(String, String)> {
    let inner = &store.inner;
    let url = inner
        .signed(
            Method::Get,
            None,
            &[("uploads", ""), ("prefix", &inner.prefix)],
        )
        .expect("url");
    let answer = inner
        .expect_ok("uploads", "GET", &url, &[], &[])
        .expect("listing");
    parse_listing(
        &answer.body,
        &[b"Upload"],
        b"UploadId",
        b"NextUploadIdMarker",
    )
    .expect("parsed")
    .entries
}

/// Small blobs beyond what a batch holds in memory go up to staging keys in the
/// background, then are copied: all read back, and no staging object is left.
#[test]
fn small_blobs_beyond_what_is_held_go_up_in_the_background() {
    let Some(config) = test_config() else { return };
    let mut store = S3Store::new("s3-test", &config).expect("store");
    Arc::get_mut(&mut store.inner).expect("one owner").held_max = 1000;
    let tenant = TenantId::new("t").expect("id");
    let batch = OperationId::new("op-small").expect("id");
    let mut b = store.begin(&tenant, &batch).expect("begin");
    for i in 0..50 {
        let mut w = b.create(&format!("b{i}")).expect("create");
        w.write_all(&[i as u8; 100]).expect("write");
        w.finish().expect("finish");
    }
    b.commit().expect("commit");
    for i in 0..50 {
        let bytes = crate::read_all(&store, &key(&tenant, &batch, &format!("b{i}"))).expect("read");
        assert!(bytes == [i as u8; 100], "b{i}");
    }
    assert_eq!(store.list(&tenant, &batch).expect("list").len(), 50);
    assert!(store.staging_keys().expect("staging").is_empty());
    store.discard(&tenant, &batch).expect("discard");
}

#[test]
fn a_wrong_secret_is_an_error_that_names_the_offer() {
    let Some(mut config) = test_config() else {
        return;
    };
    config.secret_key = "not the secret".into();
    let store = S3Store::new("site-b", &config).expect("store");
    let e = store.batches().expect_err("refused");
    assert!(e.to_string().contains("site-b"), "{e}");
    assert!(store.probe().is_err(), "the probe fails too");
    assert!(e.to_string().contains("403"), "{e}");
}

/// An `https://` endpoint: its server's certificate is checked against `tls_trust` (the
/// private authority `scripts/services` made); without it, the web's roots refuse it.
#[test]
fn tls_trust_names_whom_the_server_must_chain_to() {
    let Some(mut config) = test_config() else {
        return;
    };
    config.endpoint = std::env::var("CARNAC_TEST_S3_TLS_ENDPOINT")
        .expect("CARNAC_TEST_S3_TLS_ENDPOINT, which scripts/services sets");
    let ca = std::fs::read(std::env::var("CARNAC_TEST_S3_CA").expect("CARNAC_TEST_S3_CA"))
        .expect("the authority's certificate");
    let untrusted = S3Store::new("s3-tls", &config).expect("store");
    let refused = untrusted
        .probe()
        .expect_err("a private authority is not a web root");
    let said = format!("{refused} {:?}", std::error::Error::source(&refused));
    assert!(said.contains("UnknownIssuer"), "{said}");

    config.tls_trust = ureq::tls::parse_pem(&ca)
        .filter_map(|item| match item.expect("PEM") {
            ureq::tls::PemItem::Certificate(c) => Some(c.der().to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(config.tls_trust.len(), 1);
    let store = S3Store::new("s3-tls", &config).expect("store");
    store.probe().expect("the server chains to tls_trust");
    crate::conformance::run(&store);

    let mut plain = config.clone();
    plain.endpoint = std::env::var("CARNAC_TEST_S3_ENDPOINT").expect("endpoint");
    let Err(BlobError::Invalid { message, .. }) = S3Store::new("s3-plain", &plain) else {
        panic!("tls_trust with an http:// endpoint is refused");
    };
    assert!(message.contains("https://"), "{message}");
}
