//! What the test suites share, so that an archive is wired for tests in one place (the
//! binary's own wiring, from a data folder, is `carnac_cli`'s `setup`):
//! - [`archive`]: a whole archive on the offers given, an in-memory catalog, a fixed clock,
//!   sequential identifiers, the built-in timestamping authority and a signer made on the
//!   spot;
//! - [`testdata`]: the repository's test data (transfers, referentials, profiles);
//! - [`targz`], [`multipart`]: the containers and uploads clients send;
//! - [`rss_mib`]: resident memory, for the tests that prove a flat footprint.
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
