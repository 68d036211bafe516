//! What the test suites share, so that an archive is wired for tests in one place (the
//! binary's own wiring, from a data folder, is `carnac_cli`'s `setup`):
//! - [`archive`]: a whole archive on the offers given, an in-memory catalog, a fixed clock,
//!   sequential identifiers, the built-in timestamping authority and a signer made on the
//!   spot;
//! - [`testdata`]: the repository's test data (transfers, referentials, profiles);
//! - [`targz`], [`multipart`]: the containers and uploads clients send;
//! - [`rss_mib`]: resident memory, for the tests that prove a flat footprint;
//! - [`postgres_catalog`], [`s3_offer`]: a catalog and an offer on the servers
//!   `scripts/services` starts, for the suites that run on the distributed engines too.
//!
//! A dev-dependency only: nothing here is in the release binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test support: a failure is a failed test.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use carnac_archive::system::fixed::{FixedClock, SequentialIds};
use carnac_archive::{Archive, IngestConfig, Parts};
use carnac_blobstore::BlobStore;

/// The repository's `testdata/` folder.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// The embedded format signatures, loaded once per test process.
pub fn identifier() -> Arc<carnac_pronom::Identifier> {
    static ID: OnceLock<Arc<carnac_pronom::Identifier>> = OnceLock::new();
    ID.get_or_init(|| Arc::new(carnac_pronom::Identifier::embedded().expect("embedded signatures")))
        .clone()
}

/// The instant every test archive lives at.
pub fn clock() -> Arc<dyn carnac_archive::ports::Clock> {
    Arc::new(FixedClock(time::macros::datetime!(2026-11-29 04:00:00 UTC)))
}

/// An archive on `offers` with `config`, an antivirus if given, its scratch files under
/// `scratch`: everything else in memory and deterministic (clock, identifiers).
pub fn archive(
    config: IngestConfig,
    offers: Vec<Arc<dyn BlobStore>>,
    scanner: Option<Arc<dyn carnac_archive::ports::VirusScanner>>,
    scratch: &Path,
) -> Archive {
    archive_on(
        Arc::new(carnac_catalog::sqlite::SqliteCatalog::in_memory().expect("catalog")),
        config,
        offers,
        scanner,
        scratch,
    )
}

/// [`archive`] on a given catalog (a file, to be changed behind the archive's back, or one
/// already filled).
pub fn archive_on(
    catalog: Arc<dyn carnac_catalog::Catalog>,
    config: IngestConfig,
    offers: Vec<Arc<dyn BlobStore>>,
    scanner: Option<Arc<dyn carnac_archive::ports::VirusScanner>>,
    scratch: &Path,
) -> Archive {
    archive_with_clock(catalog, config, offers, scanner, scratch, clock())
}

/// [`archive_on`] living at `clock`'s time (a [`carnac_archive::system::fixed::ManualClock`]
/// for expiries).
pub fn archive_with_clock(
    catalog: Arc<dyn carnac_catalog::Catalog>,
    config: IngestConfig,
    offers: Vec<Arc<dyn BlobStore>>,
    scanner: Option<Arc<dyn carnac_archive::ports::VirusScanner>>,
    scratch: &Path,
    clock: Arc<dyn carnac_archive::ports::Clock>,
) -> Archive {
    archive_with_ids(
        catalog,
        config,
        offers,
        scanner,
        scratch,
        clock,
        Arc::new(SequentialIds::default()),
    )
}

/// [`archive_on`] with random identifiers, as in production: several archives over one
/// catalog (the same archive restarted with other offers) never draw the same one.
pub fn archive_reopened(
    catalog: Arc<dyn carnac_catalog::Catalog>,
    offers: Vec<Arc<dyn BlobStore>>,
    scratch: &Path,
) -> Archive {
    archive_with_ids(
        catalog,
        IngestConfig::default(),
        offers,
        None,
        scratch,
        clock(),
        Arc::new(carnac_archive::system::RandomIds),
    )
}

fn archive_with_ids(
    catalog: Arc<dyn carnac_catalog::Catalog>,
    config: IngestConfig,
    offers: Vec<Arc<dyn BlobStore>>,
    scanner: Option<Arc<dyn carnac_archive::ports::VirusScanner>>,
    scratch: &Path,
    clock: Arc<dyn carnac_archive::ports::Clock>,
    ids: Arc<dyn carnac_archive::ports::IdGenerator>,
) -> Archive {
    Archive::new(Parts {
        catalog,
        offers,
        clock: clock.clone(),
        ids,
        scanner,
        identifier: identifier(),
        timestamps: Arc::new(
            carnac_archive::timestamping::Builtin::ephemeral(clock, Default::default())
                .expect("built-in TSA"),
        ),
        tenant_timestamps: Default::default(),
        signer: Arc::new(
            carnac_timestamp::signature::Signer::create(
                "test",
                std::time::Duration::from_secs(1_795_900_000),
            )
            .expect("signer"),
        ),
        config,
        tmp: scratch.to_owned(),
        incoming: None,
    })
    .expect("archive")
}

/// A tar.gz of `files` (name, bytes), regular files only.
pub fn targz(files: &[(String, Vec<u8>)]) -> Vec<u8> {
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

/// A multipart/form-data body as PHP's curl builds it, with `boundary`: text fields (no
/// file name) and file fields.
pub fn multipart(boundary: &str, fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
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
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// Resident memory of this process (each test runs in its own under nextest), in MiB.
pub fn rss_mib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096 / (1 << 20)
}

/// Whether the tests must find every server and tool (`CARNAC_REQUIRE_ORACLES`, as
/// `scripts/test` sets it): a missing one is then a failure, not a skip.
fn required(what: &str, variable: &str) {
    assert!(
        std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
        "no {what} ({variable}): run the tests through scripts/test, which starts one"
    );
    eprintln!("skipped: no {what} ({variable})");
}

/// A random lowercase hex suffix, for a schema or a bucket prefix of one test's own.
fn suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A PostgreSQL catalog in a new schema (`test_{name}_…`) of the server `scripts/services`
/// starts (`CARNAC_TEST_POSTGRES`); none without it. The schema stays (the server is the
/// test run's own).
pub fn postgres_catalog(name: &str) -> Option<Arc<dyn carnac_catalog::Catalog>> {
    let Ok(url) = std::env::var("CARNAC_TEST_POSTGRES") else {
        required("PostgreSQL", "CARNAC_TEST_POSTGRES");
        return None;
    };
    let mut config = carnac_catalog_postgres::PostgresConfig::new(url);
    config.schema = format!("test_{name}_{}", suffix());
    config.pool_size = 4;
    Some(Arc::new(
        carnac_catalog_postgres::PostgresCatalog::open(&config).expect("PostgreSQL catalog"),
    ))
}

/// An offer `name` in the bucket of the S3 server `scripts/services` starts
/// (`CARNAC_TEST_S3_*`), under a prefix of its own; WORM in the bucket with Object Lock
/// when `compliance` is given. None without the server.
pub fn s3_offer(
    name: &str,
    compliance: Option<carnac_blobstore::s3::Compliance>,
) -> Option<carnac_blobstore::s3::S3Store> {
    let var = |k: &str| std::env::var(format!("CARNAC_TEST_S3_{k}")).ok();
    let Some(endpoint) = var("ENDPOINT") else {
        required("S3 server", "CARNAC_TEST_S3_ENDPOINT");
        return None;
    };
    let bucket = if compliance.is_some() {
        var("WORM_BUCKET").expect("CARNAC_TEST_S3_WORM_BUCKET")
    } else {
        var("BUCKET").unwrap_or_else(|| "carnac".into())
    };
    let store = carnac_blobstore::s3::S3Store::new(
        name,
        &carnac_blobstore::s3::S3Config {
            endpoint,
            bucket,
            region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
            path_style: true,
            access_key: var("ACCESS_KEY").expect("CARNAC_TEST_S3_ACCESS_KEY"),
            secret_key: var("SECRET_KEY").expect("CARNAC_TEST_S3_SECRET_KEY"),
            prefix: format!("{name}-{}/", suffix()),
            timeout: std::time::Duration::from_secs(30),
            compliance: compliance.clone(),
            tls_trust: Vec::new(),
        },
    )
    .expect("S3 offer");
    if compliance.is_some() {
        store
            .verify_worm()
            .expect("the bucket enforces Object Lock");
    }
    Some(store)
}
