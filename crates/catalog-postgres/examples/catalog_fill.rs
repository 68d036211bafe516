//! Fills a tenant of a catalog with synthetic archive units, for the load benchmark
//! (`scripts/bench-api`): titles, descriptions, keywords, agencies and dates drawn from a
//! small French vocabulary with a fixed seed, committed 100,000 units per operation through
//! the catalog's own ingest commit (so the free-text index and every table are filled as an
//! ingest fills them). Units only: files are not what a search reads.
//!
//! Units come as transfers bring them (the default, `transfers`): runs of 1 to 4,096 units
//! (median about 90) from one originating agency, dated within three years, as a SEDA transfer
//! names one originating agency for its package and is most often a year's acts or accounts;
//! so a catalog's units of one agency sit in runs of consecutive rows. `uniform` draws agency
//! and year afresh for each unit: no catalog looks like that, but it is the worst case for a
//! search that crosses words with an agency, each match in another part of the index.
//!
//! The catalog is an embedded one (a path to its SQLite file) or one on PostgreSQL (a
//! `postgres://` connection string, the schema in `CARNAC_FILL_SCHEMA`, `carnac` by
//! default; created by the first open as `carnac serve` would). It lives here, beside the
//! PostgreSQL catalog, as the one crate that has both.
//!
//! Usage: cargo run --release -p carnac-catalog-postgres --example catalog_fill CATALOG TENANT UNITS [transfers|uniform]

#![allow(clippy::unwrap_used)] // A benchmark tool: a failure is a crash with its message.

use carnac_catalog::prelude::*;
use carnac_catalog::sqlite::SqliteCatalog;
use carnac_catalog::{IngestCommit, UnitRow};
use carnac_catalog_postgres::{PostgresCatalog, PostgresConfig};
use carnac_model::journal::NewEvent;
use carnac_model::{OperationId, Status, TenantId, UnitId};

const WORDS: [&str; 40] = [
    "délibération",
    "conseil",
    "municipal",
    "budget",
    "primitif",
    "marché",
    "public",
    "voirie",
    "école",
    "cantine",
    "urbanisme",
    "permis",
    "construire",
    "arrêté",
    "maire",
    "subvention",
    "association",
    "travaux",
    "assainissement",
    "eau",
    "personnel",
    "recrutement",
    "élection",
    "cimetière",
    "concession",
    "fête",
    "sport",
    "culture",
    "bibliothèque",
    "transport",
    "déchets",
    "environnement",
    "forêt",
    "chemin",
    "rural",
    "église",
    "mairie",
    "salle",
    "convention",
    "contrat",
];

/// A fixed-seed generator (xorshift): the same catalog on every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn words(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| WORDS[self.pick(WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, tenant, units) = (
        &args[1],
        TenantId::new(&args[2]).unwrap(),
        args[3].parse::<u64>().unwrap(),
    );
    let catalog: Box<dyn Catalog> = if path.starts_with("postgres://") {
        let mut config = PostgresConfig::new(path.as_str());
        if let Ok(schema) = std::env::var("CARNAC_FILL_SCHEMA") {
            config.schema = schema;
        }
        Box::new(PostgresCatalog::open(&config).unwrap())
    } else {
        Box::new(SqliteCatalog::open(std::path::Path::new(path)).unwrap())
    };
    let uniform = match args.get(4).map(String::as_str) {
        None | Some("transfers") => false,
        Some("uniform") => true,
        Some(other) => panic!("the spread is transfers or uniform, not {other}"),
    };
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    // The transfer being drawn: units left in it, its agency and its first year.
    let mut transfer = (0u64, 0usize, 0usize);
    let batch = 100_000u64;
    let started = std::time::Instant::now();
    let mut done = 0u64;
    let mut op_number = 0u64;
    while done < units {
        op_number += 1;
        let n = batch.min(units - done);
        let operation =
            OperationId::new(format!("op-fill-{}-{op_number:06}", tenant.as_str())).unwrap();
        catalog
            .start_operation(
                &tenant,
                &operation,
                &"INGEST".into(),
                &carnac_model::Timestamp::parse("2026-11-29T04:00:00Z").unwrap(),
                "bench",
            )
            .unwrap();
        let first = done;
        let mut rows = (0..n).map(|i| {
            let k = first + i;
            let (agency, year) = if uniform {
                (draw.pick(50), 1990 + draw.pick(37))
            } else {
                if transfer.0 == 0 {
                    // Log-uniform sizes: 2^k to 2^(k+1) units, k drawn from 0 to 11.
                    let base = 1u64 << draw.pick(12);
                    transfer = (base + draw.next() % base, draw.pick(50), 1990 + draw.pick(35));
                }
                transfer.0 -= 1;
                (transfer.1, transfer.2 + draw.pick(3))
            };
            let month = 1 + draw.pick(12);
            let title = format!("{} {}", draw.words(4), k);
            let description = draw.words(20);
            Ok(UnitRow {
                id: UnitId::new(format!("u{k:08}")).unwrap(),
                xml_id: format!("U{k}"),
                title,
                description_level: Some("Item".into()),
                start_date: Some(format!("{year}-{month:02}-01")),
                end_date: Some(format!("{year}-{month:02}-28")),
                originating_agency: Some(format!("AG{agency:02}")),
                parents: Vec::new(),
                object_groups: Vec::new(),
                keywords: vec![WORDS[draw.pick(WORDS.len())].to_owned()],
                management: {
                    let mut m = carnac_model::rules::Management::default();
                    let c = m.category_mut(carnac_model::referential::RuleCategory::AppraisalRule);
                    c.rules.push(carnac_model::rules::Rule {
                        rule: "APP-1".into(),
                        start_date: Some(format!("{year}-01-01")),
                        end_date: Some(format!("{}-01-01", year + 10)),
                        ..Default::default()
                    });
                    c.final_action = Some(carnac_model::rules::FinalAction::Destroy);
                    m
                },
                metadata: format!(
                    "<ArchiveUnit><Content><Description>{description}</Description></Content></ArchiveUnit>"
                ),
            })
        });
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: "INGEST".into(),
            outcome: Status::Ok,
            time: "2026-11-29T04:00:00Z".into(),
            agent: "bench".into(),
            detail: serde_json::json!({"units": n, "synthetic": true}),
        };
        catalog
            .commit_ingest(
                &tenant,
                IngestCommit {
                    operation: &operation,
                    groups: &mut std::iter::empty(),
                    objects: &mut std::iter::empty(),
                    offers: &[],
                    units: &mut rows,
                    status: Status::Ok,
                    summary: serde_json::json!({"status": "OK", "units": n}),
                    reply: &mut &b"<ArchiveTransferReply/>"[..],
                    ended_at: &carnac_model::Timestamp::parse("2026-11-29T04:00:00Z").unwrap(),
                    event: &event,
                },
            )
            .unwrap();
        done += n;
        eprintln!("{done} units ({:.0} s)", started.elapsed().as_secs_f64());
    }
}
