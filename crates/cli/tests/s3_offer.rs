//! An archive whose second offer is an S3 bucket (the SeaweedFS server `scripts/services`
//! starts, named by `CARNAC_TEST_S3_*`): transfers are ingested into both offers, `check`
//! reads every copy back, a copy removed from the bucket is found missing and repaired by
//! the audit from the folder offer.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;
use common::*;

use carnac_blobstore::BlobStore;

/// The S3 server's settings, or none (a failure where every oracle is required).
fn s3() -> Option<[String; 5]> {
    let var = |k: &str| std::env::var(format!("CARNAC_TEST_S3_{k}")).ok();
    let Some(endpoint) = var("ENDPOINT") else {
        assert!(
            std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
            "no S3 server: run the tests through scripts/test, which starts one"
        );
        eprintln!("skipped: no S3 server (CARNAC_TEST_S3_ENDPOINT)");
        return None;
    };
    Some([
        endpoint,
        var("BUCKET").unwrap_or_else(|| "carnac".into()),
        var("REGION").unwrap_or_else(|| "us-east-1".into()),
        var("ACCESS_KEY").expect("CARNAC_TEST_S3_ACCESS_KEY"),
        var("SECRET_KEY").expect("CARNAC_TEST_S3_SECRET_KEY"),
    ])
}

#[test]
fn an_archive_keeps_its_second_copy_in_s3() {
    let Some([endpoint, bucket, region, access_key, secret]) = s3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // This run's own folder of the bucket, which outlives the tests.
    let prefix = format!(
        "cli-{}/",
        d.file_name().unwrap().to_string_lossy().to_lowercase()
    );
    std::fs::write(d.join("s3.secret"), format!("{secret}\n")).unwrap();
    std::fs::write(
        d.join("carnac.toml"),
        format!(
            "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n\n\
             [[storage.offer]]\nname = \"site-b\"\nkind = \"s3\"\nendpoint = \"{endpoint}\"\n\
             bucket = \"{bucket}\"\nregion = \"{region}\"\naccess_key = \"{access_key}\"\n\
             secret_key_file = \"s3.secret\"\nprefix = \"{prefix}\"\n"
        ),
    )
    .unwrap();
    let ok = |args: &[&str]| run_ok(d, args);
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let ingested = ok(&["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ingested).unwrap();
    let operation = v["operation"].as_str().unwrap().to_owned();
    let object = v["objects"][0]["id"].as_str().unwrap().to_owned();
    ok(&["check", "--digests"]);

    // The bucket holds the copies, under the offer's prefix.
    let store = carnac_blobstore::s3::S3Store::new(
        "site-b",
        &carnac_blobstore::s3::S3Config {
            endpoint,
            bucket,
            region,
            path_style: true,
            access_key,
            secret_key: secret,
            prefix,
            timeout: std::time::Duration::from_secs(30),
            compliance: None,
            tls_trust: Vec::new(),
        },
    )
    .unwrap();
    let tenant = carnac_model::TenantId::new("0").unwrap();
    let batch = carnac_model::OperationId::new(&operation).unwrap();
    let names = store.list(&tenant, &batch).unwrap();
    assert!(names.contains(&object), "{names:?}");
    assert!(
        store.batches().unwrap().iter().all(|(t, _)| t == &tenant),
        "only tenant 0's batches"
    );

    // A copy lost in the bucket: found, then repaired from the folder offer.
    store
        .delete(&carnac_blobstore::BlobKey {
            tenant: tenant.clone(),
            batch: batch.clone(),
            name: object.clone(),
        })
        .unwrap();
    let out = run(d, &["check", "--digests"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("site-b"),
        "{out:?}"
    );
    let out = run(d, &["audit", "--tenant", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("repaired from site-a"), "{text}");
    ok(&["check", "--digests"]);
    assert!(store.list(&tenant, &batch).unwrap().contains(&object));
}

/// An S3 offer added to an archive of two folders: `offers sync` fills it, and `check`
/// reads back every copy there.
#[test]
fn an_s3_offer_added_later_is_filled_by_a_sync() {
    let Some([endpoint, bucket, region, access_key, secret]) = s3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let prefix = format!(
        "sync-{}/",
        d.file_name().unwrap().to_string_lossy().to_lowercase()
    );
    std::fs::write(d.join("s3.secret"), &secret).unwrap();
    let folders = "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n\
                   [[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"offers/site-b\"\n";
    std::fs::write(d.join("carnac.toml"), folders).unwrap();
    let ok = |args: &[&str]| run_ok(d, args);
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    ok(&["ingest", "--tenant", "0", sip.to_str().unwrap()]);
    std::fs::write(
        d.join("carnac.toml"),
        format!(
            "{folders}[[storage.offer]]\nname = \"site-s3\"\nkind = \"s3\"\nendpoint = \"{endpoint}\"\n\
             bucket = \"{bucket}\"\nregion = \"{region}\"\naccess_key = \"{access_key}\"\n\
             secret_key_file = \"s3.secret\"\nprefix = \"{prefix}\"\n"
        ),
    )
    .unwrap();
    assert_eq!(run(d, &["check"]).status.code(), Some(2), "behind");
    let report: serde_json::Value =
        serde_json::from_str(&ok(&["offers", "sync", "--offer", "site-s3", "--json"])).unwrap();
    assert!(report["copied"].as_u64().unwrap() > 0, "{report}");
    ok(&["check", "--digests"]);
    ok(&["audit", "--tenant", "0"]);
}

/// A WORM offer (`retention = "compliance"`): refused at start on a bucket without Object
/// Lock, and on a folder offer by the configuration; on the bucket with Object Lock, the
/// archive starts, ingests and checks as with any offer.
#[test]
fn a_worm_offer_is_verified_before_the_archive_starts() {
    let Some([endpoint, bucket, region, access_key, secret]) = s3() else {
        return;
    };
    let worm_bucket =
        std::env::var("CARNAC_TEST_S3_WORM_BUCKET").expect("CARNAC_TEST_S3_WORM_BUCKET");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let prefix = format!(
        "worm-{}/",
        d.file_name().unwrap().to_string_lossy().to_lowercase()
    );
    std::fs::write(d.join("s3.secret"), &secret).unwrap();
    let config = |bucket: &str, extra: &str| {
        format!(
            "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n{extra}\n\
             [[storage.offer]]\nname = \"site-w\"\nkind = \"s3\"\nendpoint = \"{endpoint}\"\n\
             bucket = \"{bucket}\"\nregion = \"{region}\"\naccess_key = \"{access_key}\"\n\
             secret_key_file = \"s3.secret\"\nprefix = \"{prefix}\"\n\
             retention = \"compliance\"\nretention_minimum_days = 1\n"
        )
    };
    // A folder cannot be WORM.
    std::fs::write(
        d.join("carnac.toml"),
        config(&worm_bucket, "retention = \"compliance\""),
    )
    .unwrap();
    let out = run(d, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("site-a") && err.contains("retention"), "{err}");
    // A bucket without Object Lock is refused, with the reason.
    std::fs::write(d.join("carnac.toml"), config(&bucket, "")).unwrap();
    let out = run(d, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("site-w") && err.contains("Object Lock"),
        "{err}"
    );
    // A bucket that enforces it.
    std::fs::write(d.join("carnac.toml"), config(&worm_bucket, "")).unwrap();
    let ok = |args: &[&str]| run_ok(d, args);
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let ingested = ok(&["ingest", "--tenant", "0", sip.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ingested).unwrap();
    let operation = v["operation"].as_str().unwrap().to_owned();
    let object = v["objects"][0]["id"].as_str().unwrap().to_owned();
    ok(&["check", "--digests"]);
    let store = carnac_blobstore::s3::S3Store::new(
        "site-w",
        &carnac_blobstore::s3::S3Config {
            endpoint,
            bucket: worm_bucket,
            region,
            path_style: true,
            access_key,
            secret_key: secret,
            prefix,
            timeout: std::time::Duration::from_secs(30),
            compliance: Some(carnac_blobstore::s3::Compliance { minimum_days: 1 }),
            tls_trust: Vec::new(),
        },
    )
    .unwrap();
    let key = carnac_blobstore::BlobKey {
        tenant: carnac_model::TenantId::new("0").unwrap(),
        batch: carnac_model::OperationId::new(&operation).unwrap(),
        name: object,
    };
    let until = store.locked_until(&key).unwrap().expect("locked");
    #[allow(clippy::disallowed_methods)] // The server's lock runs on real time.
    let now = time::OffsetDateTime::now_utc();
    assert!(
        until.to_datetime() > now + time::Duration::hours(23),
        "{until}"
    );
    assert!(store.delete(&key).unwrap_err().is_locked());
}

/// An offer reached over TLS whose server's certificate comes from a private authority:
/// refused without `tls_trust` (the web's roots do not know it), and with a `tls_trust` on an
/// `http://` endpoint; with it, the archive ingests and checks as over plain HTTP.
#[test]
fn an_s3_offer_over_tls_trusts_the_authority_it_is_given() {
    let Some([_, bucket, region, access_key, secret]) = s3() else {
        return;
    };
    let endpoint = std::env::var("CARNAC_TEST_S3_TLS_ENDPOINT")
        .expect("CARNAC_TEST_S3_TLS_ENDPOINT, which scripts/services sets");
    let ca = std::env::var("CARNAC_TEST_S3_CA").expect("CARNAC_TEST_S3_CA");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let prefix = format!(
        "tls-{}/",
        d.file_name().unwrap().to_string_lossy().to_lowercase()
    );
    std::fs::write(d.join("s3.secret"), &secret).unwrap();
    std::fs::copy(&ca, d.join("s3-ca.pem")).unwrap();
    let config = |endpoint: &str, extra: &str| {
        format!(
            "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n\n\
             [[storage.offer]]\nname = \"site-t\"\nkind = \"s3\"\nendpoint = \"{endpoint}\"\n\
             bucket = \"{bucket}\"\nregion = \"{region}\"\naccess_key = \"{access_key}\"\n\
             secret_key_file = \"s3.secret\"\nprefix = \"{prefix}\"\ntimeout_seconds = 5\n{extra}"
        )
    };
    std::fs::write(d.join("carnac.toml"), config(&endpoint, "")).unwrap();
    let out = run(d, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("site-t") && err.contains("UnknownIssuer"),
        "{err}"
    );

    std::fs::write(
        d.join("carnac.toml"),
        config("http://127.0.0.1:8333", "tls_trust = [\"s3-ca.pem\"]\n"),
    )
    .unwrap();
    let out = run(d, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("tls_trust is for an https:// endpoint"),
        "{err}"
    );

    std::fs::write(
        d.join("carnac.toml"),
        config(&endpoint, "tls_trust = [\"s3-ca.pem\"]\n"),
    )
    .unwrap();
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    run_ok(d, &["ingest", "--tenant", "0", sip.to_str().unwrap()]);
    run_ok(d, &["check", "--digests"]);
}
