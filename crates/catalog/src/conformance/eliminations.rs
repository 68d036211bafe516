//! Eliminations: a proposal holds its units against any other, steps move it only from the
//! state they read, and an execution, begun once, deletes in steps what it destroys and
//! nothing else (a group another unit keeps loses only its link), leaving tombstones and
//! the blobs to purge, and ends once nothing is left.

use super::*;
use carnac_model::elimination::EliminationState as S;

fn object(id: &str, group: &str) -> ObjectRow {
    ObjectRow {
        id: ObjectId::new(id).expect("id"),
        group: ObjectId::new(group).expect("id"),
        xml_id: format!("X{id}"),
        physical: false,
        version: Some("BinaryMaster_1".into()),
        uri: Some(format!("Content/{id}")),
        size: Some(3),
        digest: Some(Digest {
            algorithm: carnac_model::DigestAlgorithm::Sha256,
            hex: "cd".repeat(32),
        }),
        puid: None,
        format_name: None,
        mime_type: None,
        filename: None,
    }
}

fn uid(s: &str) -> UnitId {
    UnitId::new(s).expect("id")
}

fn row(id: &str) -> EliminationRow {
    EliminationRow {
        id: op(id),
        kind: carnac_model::elimination::DisposalKind::Elimination,
        state: S::Proposed,
        at: "2026-12-04".into(),
        seda_version: "2.2".into(),
        proposed_by: "arch".into(),
        proposed_at: at("2026-12-04T04:00:00Z"),
        steps: vec![],
        totals: json!({"units": 2}),
        purge_pending: false,
        execution: None,
    }
}

fn proposed(unit: &str) -> EliminationUnitRow {
    EliminationUnitRow {
        unit: unit.into(),
        status: EliminationUnitStatus::Proposed,
        reason: None,
        record: json!({"title": unit}),
        position: None,
    }
}

fn propose(c: &dyn Catalog, tenant: &str, id: &str, units: &[&str]) -> Result<(), CatalogError> {
    let r = row(id);
    let mut list = units
        .iter()
        .map(|u| proposed(u))
        .chain(std::iter::once(EliminationUnitRow {
            unit: "no-such-unit".into(),
            status: EliminationUnitStatus::Excluded,
            reason: Some(json!({"reason": "unknown"})),
            record: json!({}),
            position: None,
        }))
        .map(Ok);
    c.create_elimination(
        &t(tenant),
        NewElimination {
            row: &r,
            units: &mut list,
            summary: &json!({}),
            event: &event(tenant, id, "ELIMINATION_PROPOSAL", Status::Ok),
        },
    )
}

fn step(
    c: &dyn Catalog,
    id: &str,
    from: S,
    to: S,
    excepted: &[UnitId],
) -> Result<(), CatalogError> {
    let operation = format!("{id}-{}", to.as_str());
    c.elimination_step(
        &t("conf-e"),
        EliminationStepCommit {
            id: &op(id),
            from,
            to,
            step: &json!({"step": to.as_str(), "operation": operation}),
            excepted,
            summary: &json!({}),
            event: &event("conf-e", &operation, "ELIMINATION_STEP", Status::Ok),
        },
    )
}

pub fn eliminations(c: &dyn Catalog) {
    // p (a parent) holds a (group ga, its own) and b (group gb, shared with k, which is kept).
    c.create_tenant(
        &t("conf-e"),
        "e",
        &event("conf-e", "op-conf-e", "TENANT_CREATE", Status::Ok),
    )
    .expect("tenant");
    let operation = op("op-conf-e-ingest");
    c.start_operation(
        &t("conf-e"),
        &operation,
        &"INGEST".into(),
        &at("2026-11-29T04:03:00Z"),
        "test",
    )
    .expect("start");
    let groups = ["ga", "gb"].map(|g| GroupRow {
        id: ObjectId::new(g).expect("id"),
        xml_id: g.to_uppercase(),
    });
    let objects = [object("oa", "ga"), object("ob", "gb")];
    let mut units = vec![
        Ok(unit("e-p", &[], &[])),
        Ok(unit("e-a", &["e-p"], &["ga"])),
        Ok(unit("e-b", &["e-p"], &["gb"])),
        Ok(unit("e-k", &[], &["gb"])),
    ]
    .into_iter();
    c.commit_ingest(
        &t("conf-e"),
        IngestCommit {
            operation: &operation,
            groups: &mut groups.iter().cloned().map(Ok),
            objects: &mut objects.iter().cloned().map(Ok),
            offers: &["offer-1".to_owned(), "offer-2".to_owned()],
            units: &mut units,
            status: Status::Ok,
            summary: json!({"status": "OK"}),
            reply: &mut &b"<ATR/>"[..],
            ended_at: &at("2026-11-29T04:03:01Z"),
            event: &event("conf-e", "op-conf-e-ingest", "INGEST", Status::Ok),
        },
    )
    .expect("commit");

    // Groups' identifiers in their transfer, as units' metadata names them; per tenant.
    let gid = |g: &str| ObjectId::new(g).expect("id");
    assert_eq!(
        c.group_xml_ids(&t("conf-e"), &[gid("ga"), gid("gb"), gid("nope")])
            .expect("groups"),
        [(gid("ga"), "GA".to_owned()), (gid("gb"), "GB".to_owned())]
    );
    assert!(
        c.group_xml_ids(&t("conf-a"), &[gid("ga")])
            .expect("groups")
            .is_empty()
    );
    propose(c, "conf-e", "op-e1", &["e-p", "e-a", "e-b"]).expect("proposal");
    let e1 = c
        .elimination(&t("conf-e"), &op("op-e1"))
        .expect("read")
        .expect("e1");
    assert_eq!(e1.state, S::Proposed);
    assert_eq!(e1.totals, json!({"units": 2}));
    let mut listed = Vec::new();
    c.each_elimination_unit(&t("conf-e"), &op("op-e1"), &mut |u| {
        listed.push((u.unit, u.status));
        Ok(())
    })
    .expect("units");
    assert_eq!(listed.len(), 4);
    assert_eq!(
        listed[3],
        ("no-such-unit".into(), EliminationUnitStatus::Excluded)
    );
    // A unit proposed is held: another proposal of it fails whole.
    let err = propose(c, "conf-e", "op-e2", &["e-k", "e-a"]).expect_err("held");
    assert!(matches!(err, CatalogError::Conflict(_)), "{err}");
    assert!(
        c.elimination(&t("conf-e"), &op("op-e2"))
            .expect("read")
            .is_none()
    );
    assert!(
        c.operation(&t("conf-e"), &op("op-e2"))
            .expect("read")
            .is_none()
    );
    let busy = c
        .units_in_open_eliminations(&t("conf-e"), &[uid("e-a"), uid("e-k")])
        .expect("busy");
    assert_eq!(busy, [(uid("e-a"), op("op-e1"))]);

    // Steps move from the state they read, only.
    step(c, "op-e1", S::Proposed, S::Agreed, &[]).expect("agree");
    let err = step(c, "op-e1", S::Proposed, S::Agreed, &[]).expect_err("stale");
    assert!(matches!(err, CatalogError::Conflict(_)), "{err}");
    assert!(
        matches!(
            step(c, "op-e1", S::Agreed, S::VisaPartlyGranted, &[uid("e-k")]),
            Err(CatalogError::NotFound(_))
        ),
        "only a proposed unit can be excepted"
    );
    step(c, "op-e1", S::Agreed, S::VisaPartlyGranted, &[uid("e-b")]).expect("visa");
    let e1 = c
        .elimination(&t("conf-e"), &op("op-e1"))
        .expect("read")
        .expect("e1");
    assert_eq!(e1.state, S::VisaPartlyGranted);
    assert_eq!(e1.steps.len(), 2);
    assert!(
        c.operation(&t("conf-e"), &op("op-e1-agreed"))
            .expect("op")
            .is_some()
    );

    // Execution: p and a go; b was excepted (dropped here), k keeps gb and ob.
    let journal = c.journal(&t("conf-e")).expect("journal").len();
    let unit_event = |u: &str| {
        let mut e = event("conf-e", "op-e1-exec", "UNIT_DESTROYED", Status::Ok);
        e.detail = json!({"subject": u});
        e
    };
    let destroyed = |u: &str| DestroyedUnit {
        unit: uid(u),
        tombstone: json!({"title": u}),
        event: unit_event(u),
    };
    let begin = |c: &dyn Catalog| {
        c.begin_execution(
            &t("conf-e"),
            ExecutionStart {
                id: &op("op-e1"),
                operation: &op("op-e1-exec"),
                agent: "arch",
                started_at: &at("2026-12-05T04:00:00Z"),
                // Below first: a before its parent p.
                destroy: ToDestroy::Listed(&[
                    (uid("e-a"), json!({"line": "a"})),
                    (uid("e-p"), json!({"line": "p"})),
                ]),
                dropped: &[(uid("e-b"), json!({"reason": "visa_excepted"}))],
                event: &event(
                    "conf-e",
                    "op-e1-exec",
                    "ELIMINATION_EXECUTION_START",
                    Status::Ok,
                ),
            },
        )
    };
    let end = |c: &dyn Catalog| {
        c.complete_execution(
            &t("conf-e"),
            ExecutionEnd {
                id: &op("op-e1"),
                step: &json!({"step": "execution"}),
                summary: &json!({}),
                event: &event("conf-e", "op-e1-exec", "ELIMINATION_EXECUTION", Status::Ok),
            },
        )
    };
    let when = at("2026-12-05T04:00:01Z");
    assert!(
        matches!(
            c.destroy_units(&t("conf-e"), &op("op-e1"), &when, &[destroyed("e-a")]),
            Err(CatalogError::Conflict(_))
        ),
        "nothing is destroyed before the execution begins"
    );
    // A unit corrected before: its history goes with it (below), and no correction comes
    // while the execution runs.
    let (ea, _) = c
        .unit(&t("conf-e"), &uid("e-a"))
        .expect("read")
        .expect("e-a");
    let correction = |c: &dyn Catalog, before: &str, after: &str, operation: &str| {
        let e = event("conf-e", operation, "UNIT_METADATA_CHANGE", Status::Ok);
        c.change_metadata(
            &t("conf-e"),
            MetadataChange {
                unit: &uid("e-a"),
                before,
                after,
                title: "corrected",
                description_level: None,
                start_date: None,
                end_date: None,
                keywords: &[],
                changes: &json!([]),
                summary: &json!({}),
                event: &e,
            },
        )
    };
    let corrected = format!("{}<!-- corrected -->", ea.metadata);
    correction(c, &ea.metadata, &corrected, "op-e-md1").expect("corrected");
    assert_eq!(
        c.metadata_history(&t("conf-e"), &uid("e-a"), 5)
            .expect("h")
            .len(),
        1
    );
    begin(c).expect("begin");
    assert!(
        matches!(
            correction(c, &corrected, &ea.metadata, "op-e-md2"),
            Err(CatalogError::Conflict(_))
        ),
        "no correction while an execution runs"
    );
    let e1 = c
        .elimination(&t("conf-e"), &op("op-e1"))
        .expect("read")
        .expect("e1");
    assert_eq!(e1.state, S::Executing);
    assert_eq!(
        e1.execution.as_ref().expect("execution")["operation"],
        "op-e1-exec"
    );
    assert!(
        c.executing_eliminations()
            .expect("executing")
            .contains(&(t("conf-e"), op("op-e1")))
    );
    assert!(
        matches!(begin(c), Err(CatalogError::Conflict(_))),
        "an execution begins once"
    );
    assert_eq!(
        c.operation(&t("conf-e"), &op("op-e1-exec"))
            .expect("read")
            .expect("running")
            .state,
        OperationState::Running
    );
    // No rule of the tenant changes beneath it (a hold above a unit it destroys).
    let journal_before = c.journal(&t("conf-e")).expect("journal").len();
    let err = c
        .change_management(
            &t("conf-e"),
            ManagementChange {
                units: &[UnitManagementChange {
                    unit: uid("e-k"),
                    before: Default::default(),
                    after: Default::default(),
                    event: event("conf-e", "op-e-rules", "UNIT_RULES_CHANGE", Status::Ok),
                }],
                summary: &json!({}),
                event: &event("conf-e", "op-e-rules", "RULES_CHANGE", Status::Ok),
            },
        )
        .expect_err("no rule change while executing");
    assert!(matches!(err, CatalogError::Conflict(_)), "{err}");
    assert_eq!(
        c.journal(&t("conf-e")).expect("journal").len(),
        journal_before
    );
    // Its units stay its own while it runs.
    assert_eq!(
        c.units_in_open_eliminations(&t("conf-e"), &[uid("e-p"), uid("e-k")])
            .expect("busy"),
        [(uid("e-p"), op("op-e1"))]
    );
    // One step: the first unit in the order given.
    let next = c
        .units_to_destroy(&t("conf-e"), &op("op-e1"), 1)
        .expect("next");
    assert_eq!(next, [(uid("e-a"), json!({"line": "a"}))]);
    assert!(
        matches!(end(c), Err(CatalogError::Conflict(_))),
        "not ended while a unit is left"
    );
    let purged = c
        .destroy_units(&t("conf-e"), &op("op-e1"), &when, &[destroyed("e-a")])
        .expect("step 1");
    assert!(
        c.metadata_history(&t("conf-e"), &uid("e-a"), 5)
            .expect("h")
            .is_empty(),
        "a destroyed unit's earlier metadata is destroyed with it"
    );
    assert_eq!(
        purged,
        [PurgedBlob {
            operation: operation.clone(),
            object: ObjectId::new("oa").expect("id")
        }]
    );
    assert!(
        matches!(
            c.destroy_units(
                &t("conf-e"),
                &op("op-e1"),
                &when,
                &[destroyed("e-p"), destroyed("e-a")]
            ),
            Err(CatalogError::Conflict(_))
        ),
        "a unit destroyed already fails the whole step"
    );
    assert!(
        c.unit(&t("conf-e"), &uid("e-p")).expect("read").is_some(),
        "a failed step deletes nothing"
    );
    // The step's blobs wait for their removal, until said done.
    let pending = c.pending_purges().expect("pending");
    assert!(
        pending
            .iter()
            .any(|(tn, id, blobs)| *tn == t("conf-e") && *id == op("op-e1") && *blobs == purged)
    );
    assert!(
        c.elimination(&t("conf-e"), &op("op-e1"))
            .expect("read")
            .expect("e1")
            .purge_pending
    );
    c.purge_done(&t("conf-e"), &op("op-e1"), &purged)
        .expect("done");
    assert!(
        !c.pending_purges()
            .expect("pending")
            .iter()
            .any(|(_, id, _)| *id == op("op-e1"))
    );
    assert_eq!(
        c.units_to_destroy(&t("conf-e"), &op("op-e1"), 10)
            .expect("next"),
        [(uid("e-p"), json!({"line": "p"}))]
    );
    assert!(
        c.destroy_units(&t("conf-e"), &op("op-e1"), &when, &[destroyed("e-p")])
            .expect("step 2")
            .is_empty(),
        "p has no file"
    );
    assert!(
        c.units_to_destroy(&t("conf-e"), &op("op-e1"), 10)
            .expect("next")
            .is_empty()
    );
    end(c).expect("end");
    assert!(matches!(end(c), Err(CatalogError::Conflict(_))), "once");
    let e1 = c
        .elimination(&t("conf-e"), &op("op-e1"))
        .expect("read")
        .expect("e1");
    assert_eq!(e1.state, S::Executed);
    assert!(!e1.purge_pending);
    assert_eq!(
        c.operation(&t("conf-e"), &op("op-e1-exec"))
            .expect("read")
            .expect("done")
            .state,
        OperationState::Done
    );
    assert!(
        !c.executing_eliminations()
            .expect("executing")
            .contains(&(t("conf-e"), op("op-e1")))
    );
    // The correction before; begun, two units, ended: five events.
    assert_eq!(c.journal(&t("conf-e")).expect("journal").len(), journal + 5);
    let mut statuses = Vec::new();
    c.each_elimination_unit(&t("conf-e"), &op("op-e1"), &mut |u| {
        statuses.push((u.unit, u.status));
        Ok(())
    })
    .expect("units");
    assert_eq!(
        statuses,
        [
            // Destroyed, a unit has no place left: all in the order proposed.
            ("e-p".to_owned(), EliminationUnitStatus::Destroyed),
            ("e-a".to_owned(), EliminationUnitStatus::Destroyed),
            ("e-b".to_owned(), EliminationUnitStatus::Dropped),
            ("no-such-unit".to_owned(), EliminationUnitStatus::Excluded),
        ]
    );
    let counts = c.counts(&t("conf-e")).expect("counts");
    assert_eq!(
        (
            counts.units,
            counts.object_groups,
            counts.objects,
            counts.copies
        ),
        (2, 1, 1, 2),
        "b and k stay, with gb, ob and its two copies"
    );
    assert!(c.unit(&t("conf-e"), &uid("e-a")).expect("read").is_none());
    let (b, _) = c
        .unit(&t("conf-e"), &uid("e-b"))
        .expect("read")
        .expect("b stays");
    assert!(
        b.parents.is_empty(),
        "its link to the destroyed parent is gone"
    );
    assert!(
        c.object(&t("conf-e"), &ObjectId::new("oa").expect("id"))
            .expect("read")
            .is_none()
    );
    assert!(
        c.object(&t("conf-e"), &ObjectId::new("ob").expect("id"))
            .expect("read")
            .is_some()
    );
    let stone = c
        .tombstone(&t("conf-e"), &uid("e-a"))
        .expect("read")
        .expect("tombstone");
    assert_eq!(stone.elimination, op("op-e1"));
    assert_eq!(stone.record, json!({"title": "e-a"}));
    assert_eq!(stone.destroyed_at, when);
    assert_eq!(
        c.object_tombstone(&t("conf-e"), &ObjectId::new("oa").expect("id"))
            .expect("read")
            .map(|s| s.unit),
        Some(uid("e-a"))
    );
    assert!(
        c.tombstone(&t("conf-e"), &uid("e-b"))
            .expect("read")
            .is_none()
    );
    assert!(
        c.tombstone(&t("conf-a"), &uid("e-a"))
            .expect("read")
            .is_none(),
        "per tenant"
    );
    let mut stones = Vec::new();
    c.each_tombstone(&t("conf-e"), &op("op-e1"), &mut |s| {
        stones.push(s.unit);
        Ok(())
    })
    .expect("tombstones");
    assert_eq!(stones, [uid("e-a"), uid("e-p")], "in the order destroyed");
    // Closed: its units are free again.
    assert!(
        c.units_in_open_eliminations(&t("conf-e"), &[uid("e-b")])
            .expect("busy")
            .is_empty()
    );
    // The search no longer finds what was destroyed.
    let found = c
        .search_units(
            &t("conf-e"),
            &UnitQuery {
                text: Some("title".into()),
                limit: 10,
                ..Default::default()
            },
            &Interrupt::none(),
        )
        .expect("search");
    let mut ids: Vec<_> = found.units.iter().map(|u| u.id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["e-b", "e-k"]);
    assert_eq!(found.total, 2);
}

/// A transfer out goes the way of an elimination: its kind kept, its units held against
/// any other operation while it waits for the definitive archives, its reply a step from
/// the state read.
pub fn transfers_out(c: &dyn Catalog) {
    tenant_with_units(
        c,
        "conf-to",
        [unit("to-a", &[], &[]), unit("to-b", &[], &[])].into_iter(),
    );
    let tenant = t("conf-to");
    let mut r = row("to-1");
    r.kind = carnac_model::elimination::DisposalKind::TransferOut;
    r.state = S::Sent;
    c.create_elimination(
        &tenant,
        NewElimination {
            row: &r,
            units: &mut ["to-a", "to-b"].iter().map(|u| Ok(proposed(u))),
            summary: &json!({}),
            event: &event("conf-to", "to-1", "TRANSFER_OUT", Status::Ok),
        },
    )
    .expect("a transfer out");
    let read = c
        .elimination(&tenant, &op("to-1"))
        .expect("read")
        .expect("there");
    assert_eq!(read, r, "read back whole, its kind with it");
    // Its units are its own: an elimination of one of them is refused, writing nothing.
    let mut other = row("to-2");
    other.state = S::Proposed;
    let refused = c.create_elimination(
        &tenant,
        NewElimination {
            row: &other,
            units: &mut std::iter::once(Ok(proposed("to-b"))),
            summary: &json!({}),
            event: &event("conf-to", "to-2", "ELIMINATION_PROPOSAL", Status::Ok),
        },
    );
    assert!(
        matches!(refused, Err(CatalogError::Conflict(_))),
        "{refused:?}"
    );
    assert!(c.elimination(&tenant, &op("to-2")).expect("read").is_none());
    assert_eq!(
        c.units_in_open_eliminations(&tenant, &[uid("to-a")])
            .expect("read"),
        vec![(uid("to-a"), op("to-1"))]
    );
    // Rejected, then accepted for one unit only: the other excepted.
    for (from, to, excepted) in [
        (S::Sent, S::Rejected, vec![]),
        (S::Rejected, S::PartlyAccepted, vec![uid("to-b")]),
    ] {
        let operation = format!("to-1-{}", to.as_str());
        c.elimination_step(
            &tenant,
            EliminationStepCommit {
                id: &op("to-1"),
                from,
                to,
                step: &json!({"step": "reply", "operation": operation}),
                excepted: &excepted,
                summary: &json!({}),
                event: &event("conf-to", &operation, "TRANSFER_OUT_REPLY", Status::Ok),
            },
        )
        .expect("a reply");
    }
    let read = c
        .elimination(&tenant, &op("to-1"))
        .expect("read")
        .expect("there");
    assert_eq!(read.state, S::PartlyAccepted);
    assert_eq!(read.steps.len(), 2);
    let mut statuses = Vec::new();
    c.each_elimination_unit(&tenant, &op("to-1"), &mut |u| {
        statuses.push((u.unit, u.status));
        Ok(())
    })
    .expect("units");
    assert_eq!(
        statuses,
        vec![
            ("to-a".to_owned(), EliminationUnitStatus::Proposed),
            ("to-b".to_owned(), EliminationUnitStatus::VisaExcepted)
        ]
    );
}

/// A closure's list is decided at its proposal: each unit placed in the execution's order,
/// the tenant's rules frozen while it is open, its execution begun on that list and order.
pub fn closures(c: &dyn Catalog) {
    tenant_with_units(
        c,
        "conf-cl",
        [unit("cl-p", &[], &[]), unit("cl-a", &["cl-p"], &[])].into_iter(),
    );
    let tenant = t("conf-cl");
    let placed = |u: &str, position: i64| EliminationUnitRow {
        position: Some(position),
        ..proposed(u)
    };
    let mut r = row("cl-1");
    r.kind = carnac_model::elimination::DisposalKind::Closure;
    r.state = S::Accepted;
    // A list that fails to read midway writes nothing.
    let journal = c.journal(&tenant).expect("journal").len();
    let failed = c.create_elimination(
        &tenant,
        NewElimination {
            row: &r,
            units: &mut [
                Ok(placed("cl-a", -5)),
                Err(CatalogError::Interrupted("reading the list".into())),
            ]
            .into_iter(),
            summary: &json!({}),
            event: &event("conf-cl", "cl-1", "TENANT_CLOSE", Status::Ok),
        },
    );
    assert!(failed.is_err());
    assert!(c.elimination(&tenant, &op("cl-1")).expect("read").is_none());
    assert!(
        c.units_in_open_eliminations(&tenant, &[uid("cl-a")])
            .expect("read")
            .is_empty()
    );
    assert_eq!(c.journal(&tenant).expect("journal").len(), journal);
    // A unit without a place: its execution cannot begin on the list proposed.
    let begin = |id: &str| {
        let operation = format!("{id}-exec");
        c.begin_execution(
            &tenant,
            ExecutionStart {
                id: &op(id),
                operation: &op(&operation),
                agent: "op",
                started_at: &at("2026-12-05T04:00:00Z"),
                destroy: ToDestroy::Proposed,
                dropped: &[],
                event: &event(
                    "conf-cl",
                    &operation,
                    "TENANT_CLOSE_PURGE_START",
                    Status::Ok,
                ),
            },
        )
    };
    c.create_elimination(
        &tenant,
        NewElimination {
            row: &r,
            units: &mut [Ok(placed("cl-a", -5)), Ok(proposed("cl-p"))].into_iter(),
            summary: &json!({}),
            event: &event("conf-cl", "cl-1", "TENANT_CLOSE", Status::Ok),
        },
    )
    .expect("a closure");
    assert!(matches!(begin("cl-1"), Err(CatalogError::Conflict(_))));
    assert_eq!(
        c.elimination(&tenant, &op("cl-1"))
            .expect("read")
            .expect("there")
            .state,
        S::Accepted,
        "nothing begun"
    );
    c.elimination_step(
        &tenant,
        EliminationStepCommit {
            id: &op("cl-1"),
            from: S::Accepted,
            to: S::Withdrawn,
            step: &json!({"step": "withdrawal"}),
            excepted: &[],
            summary: &json!({}),
            event: &event("conf-cl", "cl-1-w", "ELIMINATION_WITHDRAWAL", Status::Ok),
        },
    )
    .expect("withdrawn");
    // Placed, the parent last.
    let mut r = row("cl-2");
    r.kind = carnac_model::elimination::DisposalKind::Closure;
    r.state = S::Accepted;
    c.create_elimination(
        &tenant,
        NewElimination {
            row: &r,
            units: &mut [Ok(placed("cl-p", 7)), Ok(placed("cl-a", -3))].into_iter(),
            summary: &json!({}),
            event: &event("conf-cl", "cl-2", "TENANT_CLOSE", Status::Ok),
        },
    )
    .expect("a closure");
    let mut order = Vec::new();
    c.each_elimination_unit(&tenant, &op("cl-2"), &mut |u| {
        order.push((u.unit, u.position));
        Ok(())
    })
    .expect("units");
    assert_eq!(
        order,
        [("cl-a".to_owned(), Some(-3)), ("cl-p".to_owned(), Some(7))],
        "in the order placed"
    );
    // Open, it freezes the tenant's rules and descriptions.
    let refused = c.change_management(
        &tenant,
        ManagementChange {
            units: &[UnitManagementChange {
                unit: uid("cl-a"),
                before: Default::default(),
                after: Default::default(),
                event: event("conf-cl", "cl-rules", "UNIT_RULES_CHANGE", Status::Ok),
            }],
            summary: &json!({}),
            event: &event("conf-cl", "cl-rules", "RULES_CHANGE", Status::Ok),
        },
    );
    assert!(
        matches!(refused, Err(CatalogError::Conflict(_))),
        "{refused:?}"
    );
    let (a, _) = c.unit(&tenant, &uid("cl-a")).expect("read").expect("a");
    let refused = c.change_metadata(
        &tenant,
        MetadataChange {
            unit: &uid("cl-a"),
            before: &a.metadata,
            after: &format!("{}<!-- corrected -->", a.metadata),
            title: "corrected",
            description_level: None,
            start_date: None,
            end_date: None,
            keywords: &[],
            changes: &json!([]),
            summary: &json!({}),
            event: &event("conf-cl", "cl-md", "UNIT_METADATA_CHANGE", Status::Ok),
        },
    );
    assert!(
        matches!(refused, Err(CatalogError::Conflict(_))),
        "{refused:?}"
    );
    begin("cl-2").expect("begun on its list");
    assert_eq!(
        c.units_to_destroy(&tenant, &op("cl-2"), 10).expect("next"),
        [
            (uid("cl-a"), json!({"title": "cl-a"})),
            (uid("cl-p"), json!({"title": "cl-p"}))
        ],
        "each with its line, in its place"
    );
    assert_eq!(
        c.elimination(&tenant, &op("cl-2"))
            .expect("read")
            .expect("there")
            .state,
        S::Executing
    );
}
