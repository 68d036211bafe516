//! A whole archive on memory offers and an in-memory catalog, with a fixed clock and
//! sequential identifiers, for use-case tests.

#![allow(dead_code)]

use carnac_archive::system::fixed::{FixedClock, SequentialIds};
use carnac_archive::{Archive, IngestConfig, Parts};
use carnac_blobstore::BlobStore;
use carnac_blobstore::memory::MemoryStore;
use carnac_model::TenantId;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub fn identifier() -> Arc<carnac_pronom::Identifier> {
    static ID: OnceLock<Arc<carnac_pronom::Identifier>> = OnceLock::new();
    ID.get_or_init(|| Arc::new(carnac_pronom::Identifier::embedded().expect("embedded signatures")))
        .clone()
}

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

pub struct Fixture {
    pub archive: Archive,
    pub offers: Vec<MemoryStore>,
    pub tmp: tempfile::TempDir,
}

pub fn fixture_with(config: IngestConfig) -> Fixture {
    fixture_full(config, None)
}

pub fn fixture_full(
    config: IngestConfig,
    scanner: Option<Arc<dyn carnac_archive::ports::VirusScanner>>,
) -> Fixture {
    let offers = vec![MemoryStore::new("offer-1"), MemoryStore::new("offer-2")];
    let stores = offers
        .iter()
        .map(|o| Arc::new(o.clone()) as Arc<dyn BlobStore>)
        .collect();
    fixture_stores(config, scanner, offers, stores)
}

/// An archive over `stores`, whose contents `offers` let the test inspect (the same memory
/// stores, possibly wrapped).
pub fn fixture_stores(
    config: IngestConfig,
    scanner: Option<Arc<dyn carnac_archive::ports::VirusScanner>>,
    offers: Vec<MemoryStore>,
    stores: Vec<Arc<dyn BlobStore>>,
) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn carnac_archive::ports::Clock> =
        Arc::new(FixedClock(time::macros::datetime!(2026-11-29 04:00:00 UTC)));
    let archive = Archive::new(Parts {
        catalog: Arc::new(carnac_catalog::sqlite::SqliteCatalog::in_memory().expect("catalog")),
        offers: stores,
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
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
        tmp: tmp.path().join("tmp"),
    })
    .expect("archive");
    Fixture {
        archive,
        offers,
        tmp,
    }
}

pub fn fixture() -> Fixture {
    fixture_with(IngestConfig::default())
}

pub fn tenant(id: &str) -> TenantId {
    TenantId::new(id).expect("tenant id")
}

impl Fixture {
    /// A tenant with the referentials of a folder of `testdata/referentials`.
    pub fn tenant_with(&self, id: &str, referentials: &str) -> TenantId {
        let t = tenant(id);
        self.archive
            .create_tenant(&t, id, "test")
            .expect("create tenant");
        self.archive
            .import_referentials(
                &t,
                &testdata().join("referentials").join(referentials),
                "test",
            )
            .expect("import referentials");
        t
    }

    /// The reply (ATR) of an ingest, as the catalog keeps it.
    pub fn reply(&self, tenant: &TenantId, outcome: &carnac_archive::IngestOutcome) -> String {
        let op = carnac_model::OperationId::new(outcome.operation()).expect("operation id");
        let mut out = Vec::new();
        assert!(
            self.archive.reply(tenant, &op, &mut out).expect("reply"),
            "every ingest has a reply"
        );
        String::from_utf8(out).expect("UTF-8 reply")
    }

    /// Nothing of a rejected or failed ingest may remain: no blob, no scratch file.
    pub fn assert_nothing_stored(&self, tenant: &TenantId) {
        for o in &self.offers {
            let batches = o.batches().expect("batches");
            assert!(
                batches.iter().all(|(t, _)| t != tenant),
                "offer {} holds {batches:?}",
                o.name()
            );
        }
        let counts = self.archive.catalog().counts(tenant).expect("counts");
        assert_eq!(counts, carnac_catalog::Counts::default());
        // Nothing but the (empty) folder of received transfers.
        let leftovers: Vec<_> = std::fs::read_dir(self.tmp.path().join("tmp"))
            .expect("tmp")
            .map(|e| e.expect("entry").file_name())
            .filter(|n| n != "incoming")
            .chain(
                std::fs::read_dir(self.tmp.path().join("tmp/incoming"))
                    .expect("incoming")
                    .map(|e| e.expect("entry").file_name()),
            )
            .collect();
        assert!(leftovers.is_empty(), "scratch files left: {leftovers:?}");
    }
}
