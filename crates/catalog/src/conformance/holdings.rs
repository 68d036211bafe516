//! Holdings: what an accepted ingest commits, what a failed commit leaves (nothing), and
//! tenants apart.

use super::*;

pub(super) fn accepted_ingest(c: &dyn Catalog) {
    let a = t("conf-a");
    let operation = op("op-ok");
    c.start_operation(
        &a,
        &operation,
        &"INGEST".into(),
        &at("2026-11-29T04:03:00Z"),
        "test",
    )
    .expect("start");
    let groups = [GroupRow {
        id: ObjectId::new("g1").expect("id"),
        xml_id: "G1".into(),
    }];
    let objects = [ObjectRow {
        id: ObjectId::new("o1").expect("id"),
        group: ObjectId::new("g1").expect("id"),
        xml_id: "O1".into(),
        physical: false,
        version: Some("BinaryMaster_1".into()),
        uri: Some("Content/a.pdf".into()),
        size: Some(3),
        digest: Some(Digest {
            algorithm: carnac_model::DigestAlgorithm::Sha256,
            hex: "ab".repeat(32),
        }),
        puid: Some("fmt/18".into()),
        format_name: None,
        mime_type: None,
        filename: None,
    }];
    let offers = ["offer-1".to_owned(), "offer-2".to_owned()];
    // The child comes before its parent in the stream.
    let mut units = vec![Ok(unit("u2", &["u1"], &["g1"])), Ok(unit("u1", &[], &[]))].into_iter();
    c.commit_ingest(
        &a,
        IngestCommit {
            operation: &operation,
            groups: &mut groups.iter().cloned().map(Ok),
            objects: &mut objects.iter().cloned().map(Ok),
            offers: &offers,
            units: &mut units,
            status: Status::Ok,
            summary: json!({"status": "OK"}),
            reply: &mut &b"<ATR/>"[..],
            ended_at: &at("2026-11-29T04:03:01Z"),
            event: &event("conf-a", "op-ok", "INGEST", Status::Ok),
        },
    )
    .expect("commit");
    let counts = c.counts(&a).expect("counts");
    assert_eq!(
        (
            counts.units,
            counts.object_groups,
            counts.objects,
            counts.copies
        ),
        (2, 1, 1, 2)
    );
    assert_eq!(
        counts.bytes,
        objects.iter().map(|o| o.size.unwrap_or(0)).sum::<u64>(),
        "one copy of each object's bytes"
    );
    let us = c.units_of_operation(&a, &operation).expect("units");
    assert_eq!(us.len(), 2);
    let u2 = us.iter().find(|u| u.id.as_str() == "u2").expect("u2");
    assert_eq!(u2.parents, [UnitId::new("u1").expect("id")]);
    assert_eq!(u2.metadata, "<ArchiveUnit id=\"x-u2\"/>");
    let os = c.objects_of_operation(&a, &operation).expect("objects");
    assert_eq!(os, objects);
    // What the tenant holds: the objects of its accepted ingests, each with its batch; nothing
    // of another tenant.
    let held = |tenant: &TenantId| {
        let mut all = Vec::new();
        c.each_held_object(tenant, &mut |op, o| {
            all.push((op, o));
            Ok(())
        })
        .expect("held objects");
        all
    };
    assert_eq!(held(&a), [(operation.clone(), objects[0].clone())]);
    assert!(held(&t("conf-b")).is_empty());
    // Each object by its identifier, with the operation (blob batch) that stored it; in its
    // tenant only.
    for o in &objects {
        assert_eq!(
            c.object(&a, &o.id).expect("object"),
            Some((operation.clone(), o.clone()))
        );
        assert_eq!(c.object(&t("conf-b"), &o.id).expect("object"), None);
    }
    assert_eq!(
        c.object(&a, &ObjectId::new("nothing").expect("id"))
            .expect("object"),
        None
    );
    let (u, of_unit) = c
        .unit(&a, &UnitId::new("u2").expect("id"))
        .expect("unit")
        .expect("exists");
    assert_eq!(
        (u.title.as_str(), of_unit.as_slice()),
        (u2.title.as_str(), &objects[..])
    );
    assert!(c.unit(&t("conf-b"), &u.id).expect("unit").is_none());
    let ops = c.operations(&a).expect("operations");
    let ok = ops.iter().find(|o| o.id == operation).expect("listed");
    assert_eq!((ok.status, ok.has_reply), (Some(Status::Ok), true));
    let mut atr = Vec::new();
    assert!(c.reply(&a, &operation, &mut atr).expect("reply"));
    assert_eq!(atr, b"<ATR/>");
    assert!(
        !c.reply(&t("conf-b"), &operation, &mut Vec::new())
            .expect("reply"),
        "another tenant does not see the reply"
    );
    assert!(ops.iter().any(|o| o.id == op("op-ko")));
    assert!(
        c.operations(&t("conf-b"))
            .expect("operations")
            .iter()
            .all(|o| o.tenant == t("conf-b") && o.id != operation)
    );
    let cs = c.copies(&a).expect("copies");
    assert_eq!(cs.len(), 2);
    assert!(cs.iter().all(|(o, _)| o == &operation));
    let journal = c.journal(&a).expect("journal");
    let seqs: Vec<u64> = journal.iter().map(|e| e.sequence).collect();
    assert_eq!(
        seqs,
        (1..=journal.len() as u64).collect::<Vec<_>>(),
        "sequences are dense from 1"
    );
    let last = journal.last().expect("event");
    assert_eq!(
        (last.event.operation.as_str(), last.event.kind.as_str()),
        ("op-ok", "INGEST")
    );
}

pub(super) fn failed_commit_leaves_nothing(c: &dyn Catalog) {
    let a = t("conf-a");
    let before = c.counts(&a).expect("counts");
    let journal_before = c.journal(&a).expect("journal").len();
    let operation = op("op-fail");
    c.start_operation(
        &a,
        &operation,
        &"INGEST".into(),
        &at("2026-11-29T04:04:00Z"),
        "test",
    )
    .expect("start");
    let groups = [GroupRow {
        id: ObjectId::new("g9").expect("id"),
        xml_id: "G9".into(),
    }];
    let mut units = vec![
        Ok(unit("u9", &[], &["g9"])),
        Err(CatalogError::storage_failed("spool read failed")),
    ]
    .into_iter();
    let r = c.commit_ingest(
        &a,
        IngestCommit {
            operation: &operation,
            groups: &mut groups.iter().cloned().map(Ok),
            objects: &mut std::iter::empty(),
            offers: &[],
            units: &mut units,
            status: Status::Ok,
            summary: json!({}),
            reply: &mut &b"<ATR/>"[..],
            ended_at: &at("2026-11-29T04:00:00Z"),
            event: &event("conf-a", "op-fail", "INGEST", Status::Ok),
        },
    );
    assert!(r.is_err());
    assert_eq!(c.counts(&a).expect("counts"), before);
    assert_eq!(c.journal(&a).expect("journal").len(), journal_before);
    let o = c.operation(&a, &operation).expect("get").expect("exists");
    assert_eq!(
        o.state,
        OperationState::Running,
        "still running, for recovery to end"
    );
}

pub(super) fn isolation(c: &dyn Catalog) {
    let b = t("conf-b");
    assert_eq!(c.counts(&b).expect("counts"), Counts::default());
    assert!(c.operation(&b, &op("op-ok")).expect("get").is_none());
    assert!(
        c.units_of_operation(&b, &op("op-ok"))
            .expect("units")
            .is_empty()
    );
    assert!(c.copies(&b).expect("copies").is_empty());
    let jb = c.journal(&b).expect("journal");
    assert!(jb.iter().all(|e| e.event.tenant == b));
    assert_eq!(jb.len(), 1);
}

/// Copies written later to a new offer are recorded with their operation's event, once
/// each; a copy of an object the tenant does not hold is refused with the others.
pub(super) fn copies_recorded_later(c: &dyn Catalog) {
    let a = t("conf-a");
    let o1 = ObjectId::new("o1").expect("id");
    let offers_of = |object: &ObjectId| {
        let mut offers: Vec<String> = c
            .copies(&a)
            .expect("copies")
            .into_iter()
            .filter(|(_, copy)| &copy.object == object)
            .map(|(_, copy)| copy.offer)
            .collect();
        offers.sort();
        offers
    };
    assert_eq!(offers_of(&o1), ["offer-1", "offer-2"]);
    let copy = |object: &str, offer: &str| CopyRow {
        object: ObjectId::new(object).expect("id"),
        offer: offer.into(),
        blob: object.into(),
        size: 3,
    };
    let events = c.last_sequence(&a).expect("last");
    let refused = c.record_copies(
        &a,
        &[copy("o1", "site-c"), copy("not-held", "site-c")],
        &json!({}),
        &event("conf-a", "op-sync-1", "OFFER_SYNC", Status::Ok),
    );
    assert!(
        matches!(refused, Err(CatalogError::NotFound(_))),
        "{refused:?}"
    );
    assert_eq!(offers_of(&o1), ["offer-1", "offer-2"], "nothing recorded");
    assert_eq!(c.last_sequence(&a).expect("last"), events, "no event");
    for attempt in ["op-sync-2", "op-sync-3"] {
        c.record_copies(
            &a,
            &[copy("o1", "site-c")],
            &json!({"copies": 1}),
            &event("conf-a", attempt, "OFFER_SYNC", Status::Ok),
        )
        .expect("recorded");
    }
    assert_eq!(offers_of(&o1), ["offer-1", "offer-2", "site-c"], "once");
    assert_eq!(c.last_sequence(&a).expect("last"), events + 2);
    let recorded = c
        .operation(&a, &op("op-sync-2"))
        .expect("operation")
        .expect("recorded");
    assert_eq!(recorded.summary, Some(json!({"copies": 1})));
    assert!(
        c.copies(&t("conf-b"))
            .expect("copies")
            .iter()
            .all(|(_, copy)| copy.offer != "site-c"),
        "another tenant's copies untouched"
    );
    // The offer removed: its copies forgotten, with their operation and event; the other
    // offers' and the other tenant's stay.
    let before = c.last_sequence(&a).expect("last");
    let forgotten = c
        .forget_offer(
            &a,
            "site-c",
            &json!({"offer": "site-c"}),
            &event("conf-a", "op-forget-c", "OFFER_REMOVAL", Status::Ok),
        )
        .expect("forgotten");
    assert_eq!(forgotten, 1);
    assert_eq!(offers_of(&o1), ["offer-1", "offer-2"]);
    assert_eq!(c.last_sequence(&a).expect("last"), before + 1);
    assert!(c.operation(&a, &op("op-forget-c")).expect("op").is_some());
}
