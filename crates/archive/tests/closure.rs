//! Closing a tenant whose list takes several pages (three units a page, as a tenant of
//! millions takes thousands): every unit listed, destroyed deeper units first, the list
//! the journal commits to the one destroyed; a held unit refuses it all; a change while
//! the list is drawn up gives the closure up; a closure a stop cut short is completed.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::elimination::ClosureProgress;
use carnac_blobstore::BlobStore;
use carnac_model::elimination::{DisposalKind, EliminationState};
use carnac_model::{TenantId, UnitId};
use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// R (a fonds) holds A (with A1, A2) and B (with B1, which holds B11); S stands alone,
/// with `s_management`.
fn tree(s_management: &str) -> Vec<u8> {
    let item = |id: &str, inner: &str| {
        format!(
            "<ArchiveUnit id=\"{id}\"><Content><DescriptionLevel>Item</DescriptionLevel><Title>{id}</Title></Content>{inner}</ArchiveUnit>"
        )
    };
    let units = format!(
        "{}<ArchiveUnit id=\"S\"><Management>{s_management}</Management><Content><DescriptionLevel>Item</DescriptionLevel><Title>S</Title></Content></ArchiveUnit>",
        item(
            "R",
            &[
                item("A", &[item("A1", ""), item("A2", "")].concat()),
                item("B", &item("B1", &item("B11", ""))),
            ]
            .concat()
        )
    );
    units_sip(&units, "")
}

fn ingest(f: &Fixture, t: &TenantId, sip: &[u8]) -> HashMap<String, UnitId> {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(sip).unwrap();
    let outcome = f
        .archive
        .ingest(t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(outcome.status().is_accepted(), "{:?}", outcome.summary);
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    f.archive
        .catalog()
        .units_of_operation(t, &op)
        .unwrap()
        .into_iter()
        .map(|u| (u.title, u.id))
        .collect()
}

/// The tenant suspended and exported to `name` in the fixture's folder.
fn exported(f: &Fixture, t: &TenantId, name: &str) -> std::path::PathBuf {
    f.archive.suspend_tenant(t, true, "op").ok();
    let dir = f.tmp.path().join(name);
    f.archive
        .export_tenant(t, &dir, 100, "op", &mut |_| {})
        .unwrap();
    dir
}

fn paged() -> carnac_archive::IngestConfig {
    carnac_archive::IngestConfig {
        execution_step_units: 3,
        ..Default::default()
    }
}

fn events(f: &Fixture, t: &TenantId, kind: &str) -> Vec<serde_json::Value> {
    f.archive
        .catalog()
        .journal(t)
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind.as_str() == kind)
        .map(|e| e.event.detail)
        .collect()
}

#[test]
fn a_closure_lists_in_pages_and_destroys_deeper_units_first() {
    let f = fixture_with(paged());
    let t = f.tenant_with("0", "tenant-0");
    let ids = ingest(&f, &t, &tree(""));
    let c = f.archive.catalog();
    let parents: HashMap<UnitId, Vec<UnitId>> = ids
        .values()
        .map(|u| (u.clone(), c.unit(&t, u).unwrap().unwrap().0.parents))
        .collect();
    let dir = exported(&f, &t, "export");
    let mut phases = Vec::new();
    let closed = f
        .archive
        .close_tenant_with(&t, &dir, "op", &mut |p| phases.push(p))
        .unwrap();
    assert_eq!(closed.kind, DisposalKind::Closure);
    assert_eq!(closed.state, EliminationState::Executed);
    assert_eq!(closed.totals["units"], 8);
    // Listed three at a time, then destroyed three at a time.
    let listing: Vec<(u64, u64)> = phases
        .iter()
        .filter_map(|p| match p {
            ClosureProgress::Listing { units, total } => Some((*units, *total)),
            ClosureProgress::Destroying(_) => None,
        })
        .collect();
    assert_eq!(listing, [(3, 8), (6, 8), (8, 8)]);
    let destroyed: Vec<u64> = phases
        .iter()
        .filter_map(|p| match p {
            ClosureProgress::Destroying(p) => Some(p.destroyed),
            ClosureProgress::Listing { .. } => None,
        })
        .collect();
    assert_eq!(destroyed, [0, 3, 6, 8]);
    // Every unit gone, each below before those above it.
    let mut order = Vec::new();
    c.each_tombstone(&t, &closed.id, &mut |s| {
        order.push(s.unit);
        Ok(())
    })
    .unwrap();
    assert_eq!(order.len(), 8);
    let at: HashMap<&UnitId, usize> = order.iter().enumerate().map(|(i, u)| (u, i)).collect();
    for (u, above) in &parents {
        assert!(c.unit(&t, u).unwrap().is_none());
        for p in above {
            assert!(at[u] < at[p], "{u} destroyed after its parent {p}");
        }
    }
    // The list timestamped before anything went is the one destroyed, in its order.
    let start = events(&f, &t, "TENANT_CLOSE_PURGE_START");
    assert_eq!(start.len(), 1);
    let plan: String = order.iter().map(|u| format!("{u}\n")).collect();
    use sha2::Digest as _;
    assert_eq!(
        start[0]["plan_sha256"],
        hex::encode(sha2::Sha256::digest(plan.as_bytes()))
    );
    assert_eq!(start[0]["to_destroy"], 8);
    assert_eq!(events(&f, &t, "UNIT_CLOSED").len(), 8);
    // Its certificate and notification, written out checked, list every unit.
    let out = f.tmp.path().join("certificate");
    std::fs::create_dir_all(&out).unwrap();
    for name in [
        "certificate.json",
        "certificate.p7s",
        "signer.pem",
        "notification.xml",
    ] {
        f.archive
            .save_elimination_document(&t, &closed.id, name, &out.join(name))
            .unwrap();
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            f.archive
                .elimination_document(&t, &closed.id, name)
                .unwrap()
        );
    }
    let certificate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("certificate.json")).unwrap()).unwrap();
    assert_eq!(certificate["certificate"], "CLOSURE");
    assert_eq!(certificate["units"].as_array().unwrap().len(), 8);
    let notification = std::fs::read_to_string(out.join("notification.xml")).unwrap();
    for u in ids.values() {
        assert!(notification.contains(u.as_str()), "{u} not notified");
    }
    assert!(!out.join("certificate.partial").exists());
    assert_eq!(
        f.archive.check_consistency(true).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn a_held_unit_refuses_the_closure_and_leaves_nothing() {
    let f = fixture_with(paged());
    let t = f.tenant_with("0", "tenant-0");
    let ids = ingest(
        &f,
        &t,
        &tree("<HoldRule><Rule>HOL-00002</Rule><HoldReason>Contentieux</HoldReason></HoldRule>"),
    );
    let dir = exported(&f, &t, "export");
    let err = f.archive.close_tenant(&t, &dir, "op").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("unit {}", ids["S"])) && message.contains("hold"),
        "{message}"
    );
    let c = f.archive.catalog();
    assert!(c.eliminations(&t).unwrap().is_empty());
    assert!(events(&f, &t, "TENANT_CLOSE").is_empty());
    assert_eq!(c.counts(&t).unwrap().units, 8);
    let scratch: Vec<_> = std::fs::read_dir(f.tmp.path().join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".closure.jsonl"))
        .collect();
    assert!(scratch.is_empty(), "{scratch:?}");
}

#[test]
fn a_change_while_the_list_is_drawn_up_gives_the_closure_up() {
    let f = fixture_with(paged());
    let t = f.tenant_with("0", "tenant-0");
    let ids = ingest(&f, &t, &tree(""));
    let dir = exported(&f, &t, "export");
    // A hold put on a leaf of the first page once it is listed, before the closure is
    // recorded (the units below are listed after: a hold above them would be seen).
    let mut first_page: Vec<(&UnitId, &String)> = ids.iter().map(|(k, v)| (v, k)).collect();
    first_page.sort();
    let leaf = first_page[..3]
        .iter()
        .find(|(_, title)| ["A1", "A2", "B11", "S"].contains(&title.as_str()))
        .map(|(u, _)| (*u).clone())
        .unwrap();
    let mut changed = false;
    let err = f
        .archive
        .close_tenant_with(&t, &dir, "op", &mut |p| {
            if matches!(p, ClosureProgress::Listing { .. }) && !changed {
                changed = true;
                let hold: carnac_archive::rules::RulesChangeRequest =
                    serde_json::from_value(serde_json::json!({
                        "units": [leaf],
                        "actions": [{"action": "hold", "rule": "HOL-00002", "hold": {"reason": "Recours"}}]
                    }))
                    .unwrap();
                f.archive.change_rules(&t, &hold, "arch").unwrap();
            }
        })
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("RULES_CHANGE") && message.contains("given up"),
        "{message}"
    );
    let c = f.archive.catalog();
    let closures = c.eliminations(&t).unwrap();
    assert_eq!(closures.len(), 1);
    assert_eq!(closures[0].state, EliminationState::Withdrawn);
    assert_eq!(events(&f, &t, "TENANT_CLOSE_WITHDRAWAL").len(), 1);
    assert_eq!(c.counts(&t).unwrap().units, 8, "nothing destroyed");
    // Exported again, it is held: refused, saying which unit.
    let again = exported(&f, &t, "again");
    let err = f.archive.close_tenant(&t, &again, "op").unwrap_err();
    assert!(err.to_string().contains(&format!("unit {leaf}")), "{err}");
}

/// An offer whose deletions fail while `fail` is set.
struct FailingDeletes {
    inner: carnac_blobstore::memory::MemoryStore,
    fail: Arc<AtomicBool>,
}

impl FailingDeletes {
    fn check(&self) -> Result<(), carnac_blobstore::BlobError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(carnac_blobstore::BlobError::Io {
                offer: self.inner.name().to_owned(),
                context: "deleting".into(),
                source: std::io::Error::other("the offer is unreachable"),
            });
        }
        Ok(())
    }
}

impl BlobStore for FailingDeletes {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn begin(
        &self,
        tenant: &TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<Box<dyn carnac_blobstore::Batch>, carnac_blobstore::BlobError> {
        self.inner.begin(tenant, batch)
    }
    fn open(
        &self,
        key: &carnac_blobstore::BlobKey,
    ) -> Result<Box<dyn std::io::Read + Send>, carnac_blobstore::BlobError> {
        self.inner.open(key)
    }
    fn size(&self, key: &carnac_blobstore::BlobKey) -> Result<u64, carnac_blobstore::BlobError> {
        self.inner.size(key)
    }
    fn discard(
        &self,
        tenant: &TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<(), carnac_blobstore::BlobError> {
        self.inner.discard(tenant, batch)
    }
    fn delete(&self, key: &carnac_blobstore::BlobKey) -> Result<(), carnac_blobstore::BlobError> {
        self.check()?;
        self.inner.delete(key)
    }
    fn batches(
        &self,
    ) -> Result<Vec<(TenantId, carnac_model::OperationId)>, carnac_blobstore::BlobError> {
        self.inner.batches()
    }
    fn probe(&self) -> Result<(), carnac_blobstore::BlobError> {
        self.inner.probe()
    }

    fn list(
        &self,
        tenant: &TenantId,
        batch: &carnac_model::OperationId,
    ) -> Result<Vec<String>, carnac_blobstore::BlobError> {
        self.inner.list(tenant, batch)
    }
}

#[test]
fn a_closure_cut_short_before_it_begins_freezes_the_tenant_and_completes() {
    let fail = Arc::new(AtomicBool::new(false));
    let offers = vec![
        carnac_blobstore::memory::MemoryStore::new("offer-1"),
        carnac_blobstore::memory::MemoryStore::new("offer-2"),
    ];
    let stores = offers
        .iter()
        .map(|o| {
            Arc::new(FailingDeletes {
                inner: o.clone(),
                fail: fail.clone(),
            }) as Arc<dyn BlobStore>
        })
        .collect();
    let f = fixture_stores(paged(), None, offers, stores);
    let t = f.tenant_with("0", "tenant-0");
    let ids = ingest(&f, &t, &tree(""));
    // A delivery whose package the closure removes before it begins.
    f.archive
        .request_delivery(
            &t,
            &carnac_archive::delivery::DeliveryRequest {
                units: vec![ids["A1"].to_string()],
                requester: "Mairie".into(),
                ..Default::default()
            },
            "arch",
        )
        .unwrap();
    let dir = exported(&f, &t, "export");
    fail.store(true, Ordering::SeqCst);
    assert!(f.archive.close_tenant(&t, &dir, "op").is_err());
    let c = f.archive.catalog();
    let open = c.eliminations(&t).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].state, EliminationState::Accepted);
    assert_eq!(c.counts(&t).unwrap().units, 8, "nothing destroyed");
    // Open, it freezes the tenant: no rule changes.
    let hold: carnac_archive::rules::RulesChangeRequest =
        serde_json::from_value(serde_json::json!({
            "units": [ids["S"]],
            "actions": [{"action": "hold", "rule": "HOL-00002", "hold": {"reason": "Recours"}}]
        }))
        .unwrap();
    let err = f.archive.change_rules(&t, &hold, "arch").unwrap_err();
    assert!(err.to_string().contains("closing"), "{err}");
    // Run again, the same closure completes.
    fail.store(false, Ordering::SeqCst);
    let closed = f.archive.close_tenant(&t, &dir, "op").unwrap();
    assert_eq!(closed.id, open[0].id);
    assert_eq!(closed.state, EliminationState::Executed);
    assert_eq!(c.counts(&t).unwrap().units, 0);
    assert_eq!(c.eliminations(&t).unwrap().len(), 1);
}
