//! Benchmark of the probative-value work (not a test: it measures, it asserts nothing), run by
//! `scripts/bench-evidence`. On a real data folder (SQLite file, two filesystem offers, the
//! built-in TSA behind a counter of TSA calls):
//!
//! 1. evidence records for 100,000 files ingested in one transfer: TSA calls, time to make
//!    them, median size of a record;
//! 2. sealing a journal of 1,000,000 events: time and TSA calls;
//! 3. the audit of 1 GiB in 8 MiB files (two copies), in MB/s, beside `openssl dgst -sha256`
//!    over the same copies in the same run.
//!
//! Usage: cargo run --release -p carnac-archive --example evidence_bench [WORK_DIR]

#![allow(clippy::unwrap_used)] // A benchmark: a failure is a crash with its message.

use carnac_archive::ports::NoProgress;
use carnac_archive::system::{RandomIds, SystemClock};
use carnac_archive::timestamping::{Builtin, TimestampAuthority};
use carnac_archive::{Archive, IngestConfig, Parts};
use carnac_blobstore::BlobStore;
use carnac_model::{ObjectId, TenantId};
use carnac_timestamp::{Imprint, TimestampError, TrustStore, VerifiedToken};
use sha2::Digest as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counts the calls to the TSA it wraps.
struct Counting(Builtin, AtomicU64);

impl TimestampAuthority for Counting {
    fn stamp(&self, imprint: &Imprint) -> Result<VerifiedToken, TimestampError> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.stamp(imprint)
    }
    fn trust(&self) -> TrustStore {
        self.0.trust()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn revocation(
        &self,
        certificates: &[x509_cert::Certificate],
    ) -> carnac_archive::timestamping::Revocation {
        self.0.revocation(certificates)
    }
}

fn archive(dir: &Path) -> (Archive, Arc<Counting>) {
    let clock: Arc<dyn carnac_archive::ports::Clock> = Arc::new(SystemClock);
    let tsa = Arc::new(Counting(
        Builtin::open(&dir.join("tsa"), clock.clone(), Default::default()).unwrap(),
        AtomicU64::new(0),
    ));
    let offers: Vec<Arc<dyn BlobStore>> = (1..=2)
        .map(|i| {
            Arc::new(
                carnac_blobstore::fs::FsStore::open(
                    format!("offer-{i}"),
                    dir.join(format!("offer-{i}")),
                )
                .unwrap(),
            ) as Arc<dyn BlobStore>
        })
        .collect();
    let archive = Archive::new(Parts {
        catalog: Arc::new(
            carnac_catalog::sqlite::SqliteCatalog::open(&dir.join("catalog.sqlite")).unwrap(),
        ),
        offers,
        clock,
        ids: Arc::new(RandomIds),
        scanner: None,
        identifier: Arc::new(carnac_pronom::Identifier::embedded().unwrap()),
        timestamps: tsa.clone(),
        tenant_timestamps: Default::default(),
        signer: Arc::new(
            carnac_archive::attestation::open_signer(&dir.join("signing"), "bench", &SystemClock)
                .unwrap(),
        ),
        config: IngestConfig::default(),
        tmp: dir.join("tmp"),
        incoming: None,
    })
    .unwrap();
    (archive, tsa)
}

/// A stored zip transfer of `count` files from `content(i)`, one unit each.
fn write_sip(path: &Path, count: usize, content: impl Fn(usize) -> Vec<u8>) {
    let out = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(out));
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let (mut objects, mut units) = (String::new(), String::new());
    for i in 0..count {
        let bytes = content(i);
        zip.start_file(format!("Content/f{i}.bin"), stored).unwrap();
        zip.write_all(&bytes).unwrap();
        let d = hex::encode(sha2::Sha256::digest(&bytes));
        objects.push_str(&format!("<BinaryDataObject id=\"O{i}\"><DataObjectGroupId>G{i}</DataObjectGroupId><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/f{i}.bin</Uri><MessageDigest algorithm=\"SHA-256\">{d}</MessageDigest><Size>{}</Size></BinaryDataObject>", bytes.len()));
        units.push_str(&format!("<ArchiveUnit id=\"U{i}\"><Content><DescriptionLevel>Item</DescriptionLevel><Title>f{i}</Title></Content><DataObjectReference><DataObjectGroupReferenceId>G{i}</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>"));
    }
    zip.start_file("manifest.xml", stored).unwrap();
    write!(zip, r#"<?xml version="1.0" encoding="UTF-8"?><ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><Date>2026-11-29T04:00:00</Date><MessageIdentifier>bench</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement><CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions><DataObjectPackage>{objects}<DescriptiveMetadata><ArchiveUnit id="R"><Content><DescriptionLevel>RecordGrp</DescriptionLevel><Title>bench</Title></Content>{units}</ArchiveUnit></DescriptiveMetadata><ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier></ManagementMetadata></DataObjectPackage><ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency></ArchiveTransfer>"#).unwrap();
    zip.finish().unwrap().flush().unwrap();
}

fn tenant(archive: &Archive, dir: &Path) -> TenantId {
    let t = TenantId::new("0").unwrap();
    archive.create_tenant(&t, "bench", "bench").unwrap();
    archive
        .import_referentials(&t, &dir.join("referentials"), "bench")
        .unwrap();
    t
}

fn referentials() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/referentials/tenant-0")
}

fn main() {
    let work = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("carnac-evidence-bench"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let link =
        |dir: &Path| std::os::unix::fs::symlink(referentials(), dir.join("referentials")).unwrap();
    println!("{:<58} {:>12} {:>10}", "case", "seconds", "TSA calls");

    // 1. Evidence for 100,000 files.
    let dir = work.join("files");
    std::fs::create_dir_all(&dir).unwrap();
    link(&dir);
    let (a, tsa) = archive(&dir);
    let t = tenant(&a, &dir);
    let sip = work.join("100k.zip");
    write_sip(&sip, 100_000, |i| format!("file {i:08}\n").into_bytes());
    let outcome = a.ingest_path(&t, &sip, "bench").unwrap();
    assert!(
        outcome.status().is_accepted(),
        "{:?}",
        outcome.summary.reasons
    );
    // The ingest made the evidence; make it again from scratch to time it alone.
    let before = tsa.1.load(Ordering::Relaxed);
    let conn = rusqlite::Connection::open(dir.join("catalog.sqlite")).unwrap();
    let evidence_calls = before; // one ingest: its deposit, no seal yet
    conn.execute_batch("DELETE FROM evidence_object_leaves; DELETE FROM evidence_trees;")
        .unwrap();
    let t0 = Instant::now();
    let batches = a.create_evidence(&t, "bench").unwrap();
    let made = t0.elapsed();
    let calls = tsa.1.load(Ordering::Relaxed) - before;
    println!(
        "{:<58} {:>12.2} {:>10}",
        format!("evidence for 100,000 files ({} tree(s))", batches.len()),
        made.as_secs_f64(),
        calls
    );
    let objects: Vec<String> = conn
        .prepare("SELECT id FROM objects ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut sizes: Vec<usize> = objects
        .iter()
        .step_by(objects.len() / 201)
        .map(|o| {
            a.evidence_record(&t, &ObjectId::new(o.clone()).unwrap())
                .unwrap()
                .to_der()
                .unwrap()
                .len()
        })
        .collect();
    sizes.sort_unstable();
    println!(
        "{:<58} {:>12} {:>10}",
        format!(
            "  median record size: {} bytes (of {} sampled; {} TSA call at ingest)",
            sizes[sizes.len() / 2],
            sizes.len(),
            evidence_calls
        ),
        "-",
        "-"
    );
    drop(a);

    // 2. Sealing 1,000,000 events.
    let dir = work.join("journal");
    std::fs::create_dir_all(&dir).unwrap();
    link(&dir);
    let (a, tsa) = archive(&dir);
    let t = tenant(&a, &dir);
    {
        // The events are written straight into the catalog file, chained as the catalog
        // does it: the benchmark measures the seal, not a million transactions.
        let mut conn = rusqlite::Connection::open(dir.join("catalog.sqlite")).unwrap();
        let tx = conn.transaction().unwrap();
        let (mut seq, mut previous): (i64, String) = tx
            .query_row(
                "SELECT sequence, hash FROM journal WHERE tenant = '0' ORDER BY sequence DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        {
            let mut st = tx
                .prepare("INSERT INTO journal VALUES ('0', ?1, 1, 'op-bench', 'ACCESS', 'OK', '2026-11-29T04:00:00Z', 'bench', ?2, ?3, ?4)")
                .unwrap();
            while seq < 1_000_000 {
                seq += 1;
                let event = carnac_model::journal::NewEvent {
                    tenant: t.clone(),
                    operation: "op-bench".parse().unwrap(),
                    kind: "ACCESS".into(),
                    outcome: carnac_model::Status::Ok,
                    time: "2026-11-29T04:00:00Z".into(),
                    agent: "bench".into(),
                    detail: serde_json::json!({"object": seq}),
                };
                let hash =
                    carnac_model::journal::event_hash(1, seq as u64, &event, &previous).unwrap();
                st.execute(rusqlite::params![
                    seq,
                    event.detail.to_string(),
                    previous,
                    hash
                ])
                .unwrap();
                previous = hash;
            }
        }
        tx.commit().unwrap();
    }
    let before = tsa.1.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let seal = a.seal(&t, "bench").unwrap().unwrap();
    let sealed = t0.elapsed();
    println!(
        "{:<58} {:>12.2} {:>10}",
        format!("seal of {} events", seal.last - seal.first + 1),
        sealed.as_secs_f64(),
        tsa.1.load(Ordering::Relaxed) - before
    );
    let t0 = Instant::now();
    let v = a.verify_journal(&t, "bench").unwrap();
    assert!(v.intact(), "{:?}", &v.problems[..v.problems.len().min(3)]);
    println!(
        "{:<58} {:>12.2} {:>10}",
        format!("journal verify ({} events, chain and seal)", v.events),
        t0.elapsed().as_secs_f64(),
        0
    );
    drop(a);

    // 3. Audit of 1 GiB in 8 MiB files, beside openssl.
    let dir = work.join("audit");
    std::fs::create_dir_all(&dir).unwrap();
    link(&dir);
    let (a, _) = archive(&dir);
    let t = tenant(&a, &dir);
    let sip = work.join("gib.zip");
    write_sip(&sip, 128, |i| {
        let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut v = Vec::with_capacity(8 << 20);
        while v.len() < 8 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    });
    let outcome = a.ingest_path(&t, &sip, "bench").unwrap();
    assert!(outcome.status().is_accepted());
    let bytes = 2.0 * 128.0 * 8.0 * 1024.0 * 1024.0;
    // Both read the page cache after a first pass: the comparison is of the hashing and
    // reading code, not of the disk.
    let copies: Vec<PathBuf> = ["offer-1", "offer-2"]
        .iter()
        .flat_map(|o| std::fs::read_dir(dir.join(o).join("0").join(outcome.operation())).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("bo-"))
        })
        .collect();
    let openssl = || {
        let t0 = Instant::now();
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-sha256"])
            .args(&copies)
            .output()
            .unwrap();
        assert!(out.status.success());
        t0.elapsed()
    };
    openssl();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        let report = a.audit(&t, "bench", &NoProgress).unwrap();
        assert!(report.intact());
        ours.push(t0.elapsed().as_secs_f64());
        theirs.push(openssl().as_secs_f64());
    }
    ours.sort_by(f64::total_cmp);
    theirs.sort_by(f64::total_cmp);
    let (o, s) = (ours[1], theirs[1]);
    println!(
        "{:<58} {:>12.2} {:>10}",
        format!("audit of 2 x 1 GiB: {:.0} MB/s", bytes / o / 1e6),
        o,
        0
    );
    println!(
        "{:<58} {:>12.2} {:>10}",
        format!(
            "openssl dgst -sha256 of the same copies: {:.0} MB/s",
            bytes / s / 1e6
        ),
        s,
        "-"
    );
    println!(
        "\naudit / openssl: {:.2}x (target 0.9x or better; median of 3 runs)",
        s / o
    );
    let _ = std::fs::remove_dir_all(&work);
}
