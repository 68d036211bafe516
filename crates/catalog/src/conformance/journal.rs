//! The journal's chain and seals, and the evidence trees of deposited files.

use super::*;

pub(super) fn seal_row(first: u64, last: u64, previous: &str, operation: &str) -> SealRow {
    SealRow {
        first,
        last,
        merkle_root: "ab".repeat(32),
        previous: previous.to_owned(),
        sealed: format!("{:064x}", last),
        token: vec![0x30, 0],
        stamped_at: at("2026-11-29T05:00:00Z"),
        tsa: "test".into(),
        operation: op(operation),
    }
}

/// Seals follow each other without gap or fork, per tenant.
pub(super) fn seals(c: &dyn Catalog) {
    let a = t("conf-a");
    let genesis = carnac_model::journal::GENESIS;
    assert!(c.seals(&a).expect("seals").is_empty());
    for o in ["op-seal-1", "op-seal-x", "op-seal-y", "op-seal-2"] {
        c.start_operation(
            &a,
            &op(o),
            &"JOURNAL_SEAL".into(),
            &at("2026-11-29T05:00:00Z"),
            "test",
        )
        .expect("start");
    }
    let first = seal_row(1, 3, genesis, "op-seal-1");
    c.record_seal(
        &a,
        &first,
        &json!({}),
        &event("conf-a", "op-seal-1", "JOURNAL_SEAL", Status::Ok),
    )
    .expect("first seal");
    let fork = seal_row(1, 5, genesis, "op-seal-x");
    assert!(matches!(
        c.record_seal(
            &a,
            &fork,
            &json!({}),
            &event("conf-a", "op-seal-x", "JOURNAL_SEAL", Status::Ok)
        ),
        Err(CatalogError::Conflict(_))
    ));
    let gap = seal_row(5, 6, &first.sealed, "op-seal-y");
    assert!(
        c.record_seal(
            &a,
            &gap,
            &json!({}),
            &event("conf-a", "op-seal-y", "JOURNAL_SEAL", Status::Ok)
        )
        .is_err()
    );
    let second = seal_row(4, 6, &first.sealed, "op-seal-2");
    c.record_seal(
        &a,
        &second,
        &json!({}),
        &event("conf-a", "op-seal-2", "JOURNAL_SEAL", Status::Ok),
    )
    .expect("second seal");
    assert_eq!(c.seals(&a).expect("seals"), [first, second]);
    assert!(c.seals(&t("conf-b")).expect("seals").is_empty());
}

/// Every tenant's journal is an intact hash chain of its own.
pub(super) fn chained(c: &dyn Catalog) {
    for tenant in [t("conf-a"), t("conf-b")] {
        let events = c.journal(&tenant).expect("journal");
        assert!(!events.is_empty());
        assert_eq!(events[0].previous, carnac_model::journal::GENESIS);
        assert_eq!(
            carnac_model::journal::verify_chain(&events),
            [],
            "journal of {tenant}"
        );
        let mut after = Vec::new();
        c.each_event(&tenant, 2, &mut |row| {
            after.push(row.expect("readable").sequence);
            Ok(())
        })
        .expect("events");
        assert_eq!(after, (3..=events.len() as u64).collect::<Vec<_>>());
        assert_eq!(
            c.last_sequence(&tenant).expect("last"),
            events.len() as u64,
            "numbered from 1 without a gap"
        );
    }
    assert_eq!(c.last_sequence(&t("conf-none")).expect("none"), 0);
}

pub(super) fn tree(id: &str, kind: EvidenceKind, operation: &str) -> EvidenceTreeRow {
    EvidenceTreeRow {
        id: id.into(),
        kind,
        algorithm: "SHA-256".into(),
        leaves: vec![7; 64],
        token: vec![0x30, 0],
        stamped_at: at("2026-11-29T05:00:00Z"),
        certificate_until: at("2029-11-29T05:00:00Z"),
        tsa: "test".into(),
        builtin: true,
        operation: op(operation),
    }
}

/// Files get evidence once; renewals and new chains are followed in order.
pub(super) fn evidence(c: &dyn Catalog) {
    let a = t("conf-a");
    let pending = c.pending_evidence(&a, 10).expect("pending");
    assert_eq!(
        pending.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>(),
        ["o1"],
        "the one stored file of conf-a"
    );
    let o1 = ObjectId::new("o1").expect("id");
    let commit = |tr: &EvidenceTreeRow,
                  objects: &[(ObjectId, u64, u64)],
                  renews: &[(String, u64)],
                  supersedes: &[String]| {
        c.commit_evidence(
            &a,
            EvidenceCommit {
                tree: tr,
                objects,
                renews,
                supersedes,
                summary: &json!({}),
                event: &event("conf-a", tr.operation.as_str(), "EVIDENCE", Status::Ok),
            },
        )
    };
    let t1 = tree("t1", EvidenceKind::Deposit, "op-ev-1");
    commit(&t1, &[(o1.clone(), 0, 1)], &[], &[]).expect("deposit");
    assert!(c.pending_evidence(&a, 10).expect("pending").is_empty());
    let t2 = tree("t2", EvidenceKind::TimestampRenewal, "op-ev-2");
    commit(&t2, &[], &[("t1".into(), 0)], &["t1".into()]).expect("renewal");
    assert_eq!(
        c.current_evidence_trees(&a)
            .expect("current")
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        ["t2"]
    );
    let t3 = tree("t3", EvidenceKind::HashRenewal, "op-ev-3");
    commit(&t3, &[(o1.clone(), 1, 0)], &[], &["t2".into()]).expect("hash renewal");
    let path = c.evidence_path(&a, &o1).expect("path");
    let ids: Vec<Vec<(&str, u64)>> = path
        .iter()
        .map(|chain| chain.iter().map(|(t, p)| (t.id.as_str(), *p)).collect())
        .collect();
    assert_eq!(ids, [vec![("t1", 1), ("t2", 0)], vec![("t3", 0)]]);
    assert_eq!(path[0][0].0, t1);
    assert_eq!(c.objects_with_evidence(&a).expect("with").len(), 1);
    // Another tenant sees none of it.
    assert!(c.evidence_path(&t("conf-b"), &o1).expect("path").is_empty());
    assert!(
        c.current_evidence_trees(&t("conf-b"))
            .expect("current")
            .is_empty()
    );
}

/// A subject's events are those [`JournalSubject::concerns`] picks from the whole journal,
/// in order, after the sequence asked for, of the tenant asked for only.
pub(super) fn subjects(c: &dyn Catalog) {
    let with = |tenant: &str, operation: &str, kind: &str, detail: serde_json::Value| NewEvent {
        detail,
        ..event(tenant, operation, kind, Status::Ok)
    };
    c.append_events(&[
        with("conf-a", "op-subj-1", "INGEST", json!({"k": 1})),
        with(
            "conf-a",
            "op-subj-2",
            "EVIDENCE",
            json!({"of": "op-subj-1"}),
        ),
        with(
            "conf-a",
            "op-subj-3",
            "ACCESS",
            json!({"object": "obj-subj"}),
        ),
        with(
            "conf-a",
            "op-subj-4",
            "EXPORT",
            json!({"subject": "unit-subj"}),
        ),
        with("conf-a", "op-subj-5", "AUDIT", json!({"checked": 3})),
        with(
            "conf-a",
            "op-subj-6",
            "ACCESS",
            json!({"object": ["obj-subj"], "of": 7}),
        ),
        with(
            "conf-a",
            "op-subj-7",
            "ACCESS",
            json!({"subject": "op-subj-1"}),
        ),
        with(
            "conf-b",
            "op-subj-1",
            "INGEST",
            json!({"object": "obj-subj"}),
        ),
    ])
    .expect("events");
    let a = t("conf-a");
    let all = c.journal(&a).expect("journal");
    let about = |subjects: &[JournalSubject], after: u64| {
        let mut got = Vec::new();
        c.each_event_about(&a, subjects, after, &mut |row| {
            got.push(row.expect("readable").sequence);
            Ok(())
        })
        .expect("events about");
        got
    };
    let expected = |subjects: &[JournalSubject], after: u64| {
        all.iter()
            .filter(|e| e.sequence > after && subjects.iter().any(|s| s.concerns(&e.event)))
            .map(|e| e.sequence)
            .collect::<Vec<_>>()
    };
    let sets = [
        vec![JournalSubject::Operation("op-subj-1".into())],
        vec![JournalSubject::Named("obj-subj".into())],
        vec![JournalSubject::Named("unit-subj".into())],
        vec![JournalSubject::Named("op-subj-1".into())],
        vec![JournalSubject::Audits],
        vec![
            JournalSubject::Operation("op-subj-1".into()),
            JournalSubject::Named("op-subj-1".into()),
            JournalSubject::Named("obj-subj".into()),
            JournalSubject::Audits,
        ],
        vec![JournalSubject::Named("nothing".into())],
        vec![],
    ];
    let last = all.last().expect("events").sequence;
    for subjects in &sets {
        for after in [0, last - 5, last] {
            assert_eq!(
                about(subjects, after),
                expected(subjects, after),
                "{subjects:?} after {after}"
            );
        }
    }
    // Each event once, even when it is about several of the subjects asked for.
    let both = about(&sets[5], 0);
    let mut once = both.clone();
    once.dedup();
    assert_eq!(both, once);
    assert_eq!(
        about(&[JournalSubject::Operation("op-subj-1".into())], last - 8).len(),
        2,
        "its ingest and the evidence of it, not conf-b's event"
    );
    // A page stops where its reader stops it.
    let mut first = Vec::new();
    let stopped = c.each_event_about(&a, &sets[5], 0, &mut |row| {
        first.push(row.expect("readable").sequence);
        if first.len() == 2 {
            return Err(CatalogError::Interrupted(String::new()));
        }
        Ok(())
    });
    assert!(matches!(stopped, Err(CatalogError::Interrupted(_))));
    assert_eq!(first.len(), 2);
}
