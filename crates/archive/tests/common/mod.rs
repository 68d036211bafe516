//! A whole archive on memory offers (wired by `carnac_testkit::archive`), with what the
//! use-case tests check of it.

#![allow(dead_code)]

use carnac_archive::{Archive, IngestConfig};
use carnac_blobstore::BlobStore;
use carnac_blobstore::memory::MemoryStore;
use carnac_model::TenantId;
use std::sync::Arc;

pub use carnac_testkit::testdata;

pub struct Fixture {
    pub archive: Archive,
    /// The memory offers, to look into or damage.
    pub offers: Vec<MemoryStore>,
    /// Every offer the archive writes to, as it sees them.
    pub stores: Vec<Arc<dyn BlobStore>>,
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
    let archive = carnac_testkit::archive(config, stores.clone(), scanner, &tmp.path().join("tmp"));
    Fixture {
        archive,
        offers,
        stores,
        tmp,
    }
}

/// An archive on the distributed engines (issue 20): a PostgreSQL catalog in a schema of
/// its own (`name`), a memory offer (`offer-1`, in `offers`) and an S3 offer (`site-s3`);
/// none without the servers `scripts/services` starts.
pub fn fixture_distributed(name: &str) -> Option<Fixture> {
    let catalog = carnac_testkit::postgres_catalog(name)?;
    let s3 = carnac_testkit::s3_offer("site-s3", None)?;
    let memory = MemoryStore::new("offer-1");
    let tmp = tempfile::tempdir().expect("tempdir");
    let stores: Vec<Arc<dyn BlobStore>> = vec![Arc::new(memory.clone()), Arc::new(s3)];
    let archive = carnac_testkit::archive_on(
        catalog,
        IngestConfig::default(),
        stores.clone(),
        None,
        &tmp.path().join("tmp"),
    );
    Some(Fixture {
        archive,
        offers: vec![memory],
        stores,
        tmp,
    })
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

/// A SEDA 2.2 transfer of units without objects: `units` is the `DescriptiveMetadata`,
/// `package` the rules of `ManagementMetadata`.
pub fn units_sip(units: &str, package: &str) -> Vec<u8> {
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2">
  <Date>2026-12-04T04:00:00</Date><MessageIdentifier>units</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
  <CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>
  <DataObjectPackage>
    <DescriptiveMetadata>{units}</DescriptiveMetadata>
    <ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier>{package}</ManagementMetadata>
  </DataObjectPackage>
  <ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency>
</ArchiveTransfer>"#
    );
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("manifest.xml", opts).expect("a zip in memory");
    w.write_all(manifest.as_bytes()).expect("a zip in memory");
    w.add_directory("Content/", opts).expect("a zip in memory");
    w.finish().expect("a zip in memory").into_inner()
}
