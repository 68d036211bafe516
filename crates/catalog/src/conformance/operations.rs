//! Operations: rejected, recorded whole, with large replies.

use super::*;

pub(super) fn rejected_operation(c: &dyn Catalog) {
    let a = t("conf-a");
    c.start_operation(
        &a,
        &op("op-ko"),
        &"INGEST".into(),
        &at("2026-11-29T04:02:00Z"),
        "test",
    )
    .expect("start");
    assert!(
        c.start_operation(
            &a,
            &op("op-ko"),
            &"INGEST".into(),
            &at("2026-11-29T04:00:00Z"),
            "test"
        )
        .is_err(),
        "ids are unique"
    );
    assert!(
        c.running_operations()
            .expect("running")
            .contains(&(a.clone(), op("op-ko")))
    );
    c.finish_operation(
        &a,
        OperationEnd {
            operation: &op("op-ko"),
            status: Status::Ko,
            summary: &json!({"status": "KO"}),
            reply: Some(&mut &b"<ATR/>"[..]),
            ended_at: &at("2026-11-29T04:02:01Z"),
            event: &event("conf-a", "op-ko", "INGEST", Status::Ko),
        },
    )
    .expect("finish");
    let o = c.operation(&a, &op("op-ko")).expect("get").expect("exists");
    assert_eq!(
        (o.state, o.status, o.has_reply),
        (OperationState::Done, Some(Status::Ko), true)
    );
    let mut atr = Vec::new();
    assert!(c.reply(&a, &op("op-ko"), &mut atr).expect("reply"));
    assert_eq!(atr, b"<ATR/>");
    assert!(
        !c.running_operations()
            .expect("running")
            .iter()
            .any(|(_, o)| o == &op("op-ko"))
    );
    let again = c.finish_operation(
        &a,
        OperationEnd {
            operation: &op("op-ko"),
            status: Status::Ok,
            summary: &json!({}),
            reply: None,
            ended_at: &at("2026-11-29T04:00:00Z"),
            event: &event("conf-a", "op-ko", "INGEST", Status::Ok),
        },
    );
    assert!(again.is_err(), "an operation ends once");
}

/// A reply larger than any buffer an implementation might use comes back byte for byte.
pub(super) fn large_reply(c: &dyn Catalog) {
    let a = t("conf-a");
    c.start_operation(
        &a,
        &op("op-large"),
        &"INGEST".into(),
        &at("2026-11-29T04:05:00Z"),
        "test",
    )
    .expect("start");
    let atr: Vec<u8> = (0..(5 << 19) + 7).map(|i| (i % 251) as u8).collect();
    c.finish_operation(
        &a,
        OperationEnd {
            operation: &op("op-large"),
            status: Status::Ko,
            summary: &json!({"status": "KO"}),
            reply: Some(&mut &atr[..]),
            ended_at: &at("2026-11-29T04:05:01Z"),
            event: &event("conf-a", "op-large", "INGEST", Status::Ko),
        },
    )
    .expect("finish");
    let mut back = Vec::new();
    assert!(c.reply(&a, &op("op-large"), &mut back).expect("reply"));
    assert!(
        back == atr,
        "reply of {} bytes read back as {} bytes",
        atr.len(),
        back.len()
    );
}

/// An operation that changed nothing but the journal: done at once, with its summary and
/// event, and its sequence number returned.
pub(super) fn recorded_operation(c: &dyn Catalog) {
    let a = t("conf-a");
    let before = c.journal(&a).expect("journal");
    let sequence = c
        .record_operation(
            &a,
            &json!({"verified": 3}),
            &event("conf-a", "op-verify", "JOURNAL_VERIFY", Status::Ok),
        )
        .expect("record");
    let after = c.journal(&a).expect("journal");
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after.last().map(|e| e.sequence), Some(sequence));
    let o = c
        .operation(&a, &op("op-verify"))
        .expect("operation")
        .expect("recorded");
    assert_eq!(o.state, OperationState::Done);
    assert_eq!(o.status, Some(Status::Ok));
    assert_eq!(o.summary, Some(json!({"verified": 3})));
    assert_eq!(o.kind, "JOURNAL_VERIFY");
    // Its identifier is taken: the same again is refused, nothing written.
    assert!(
        c.record_operation(
            &a,
            &json!({}),
            &event("conf-a", "op-verify", "JOURNAL_VERIFY", Status::Ok),
        )
        .is_err()
    );
    // An event of another tenant is refused.
    assert!(
        c.record_operation(
            &a,
            &json!({}),
            &event("conf-b", "op-verify-b", "JOURNAL_VERIFY", Status::Ok),
        )
        .is_err()
    );
    assert_eq!(c.journal(&a).expect("journal").len(), before.len() + 1);
    // With an event per subject: all, after the operation's, or none (a subject's event of
    // another tenant refuses the whole).
    let subject = |tenant: &str, unit: &str| {
        let mut e = event(tenant, "op-deliver", "UNIT_DELIVERED", Status::Ok);
        e.detail = json!({"subject": unit});
        e
    };
    assert!(
        c.record_operation_with_events(
            &a,
            &json!({}),
            &event("conf-a", "op-deliver", "DELIVERY", Status::Ok),
            &[subject("conf-a", "u1"), subject("conf-b", "u2")],
        )
        .is_err()
    );
    assert!(c.operation(&a, &op("op-deliver")).expect("read").is_none());
    c.record_operation_with_events(
        &a,
        &json!({"units": 2}),
        &event("conf-a", "op-deliver", "DELIVERY", Status::Ok),
        &[subject("conf-a", "u1"), subject("conf-a", "u2")],
    )
    .expect("record");
    let after = c.journal(&a).expect("journal");
    assert_eq!(after.len(), before.len() + 4);
    let kinds: Vec<String> = after[after.len() - 3..]
        .iter()
        .map(|e| e.event.kind.to_string())
        .collect();
    assert_eq!(kinds, ["DELIVERY", "UNIT_DELIVERED", "UNIT_DELIVERED"]);
}

/// Pages of a tenant's operations of one kind: newest first, by status and by agent, each
/// page going on where the last ended (two at the same instant included), never another
/// tenant's or another kind's.
pub(super) fn paged_operations(c: &dyn Catalog) {
    let p = t("conf-pages");
    c.create_tenant(
        &p,
        "pages",
        &event("conf-pages", "op-pages", "TENANT_CREATE", Status::Ok),
    )
    .expect("tenant");
    // Seven ingests, the fourth and fifth started at the same instant; two by "alice", the
    // third rejected, the last still running; and an operation of another kind.
    let starts = [
        ("pg-1", "04:01", "bob", Some(Status::Ok)),
        ("pg-2", "04:02", "alice", Some(Status::Warning)),
        ("pg-3", "04:03", "bob", Some(Status::Ko)),
        ("pg-4", "04:04", "bob", Some(Status::Ok)),
        ("pg-5", "04:04", "alice", Some(Status::Ok)),
        ("pg-6", "04:06", "bob", Some(Status::Ok)),
        ("pg-7", "04:07", "bob", None),
    ];
    for (id, minute, agent, status) in starts {
        let started = at(&format!("2026-11-29T{minute}:00.000Z"));
        c.start_operation(&p, &op(id), &"INGEST".into(), &started, agent)
            .expect("start");
        if let Some(status) = status {
            c.finish_operation(
                &p,
                OperationEnd {
                    operation: &op(id),
                    status,
                    summary: &json!({"status": status.as_str()}),
                    reply: Some(&mut &b"<ATR/>"[..]),
                    ended_at: &started,
                    event: &event("conf-pages", id, "INGEST", status),
                },
            )
            .expect("finish");
        }
    }
    c.record_operation(
        &p,
        &json!({}),
        &event("conf-pages", "pg-verify", "JOURNAL_VERIFY", Status::Ok),
    )
    .expect("other kind");
    let page = |status, agent: Option<&str>, before: Option<(&str, &str)>, limit| {
        c.operations_page(
            &p,
            &OperationPage {
                kind: "INGEST".into(),
                status,
                agent: agent.map(str::to_owned),
                before: before
                    .map(|(minute, id)| (at(&format!("2026-11-29T{minute}:00.000Z")), op(id))),
                limit,
            },
        )
        .expect("page")
        .into_iter()
        .map(|o| o.id.to_string())
        .collect::<Vec<_>>()
    };
    assert_eq!(
        page(None, None, None, 3),
        ["pg-7", "pg-6", "pg-5"],
        "newest first, the running one included; at one instant, the larger id first"
    );
    assert_eq!(
        page(None, None, Some(("04:04", "pg-5")), 3),
        ["pg-4", "pg-3", "pg-2"]
    );
    assert_eq!(page(None, None, Some(("04:02", "pg-2")), 3), ["pg-1"]);
    assert_eq!(
        page(Some(Status::Ok), None, None, 10),
        ["pg-6", "pg-5", "pg-4", "pg-1"]
    );
    assert_eq!(page(Some(Status::Ko), None, None, 10), ["pg-3"]);
    assert_eq!(page(None, Some("alice"), None, 10), ["pg-5", "pg-2"]);
    assert_eq!(
        page(Some(Status::Ok), Some("alice"), None, 10),
        ["pg-5"],
        "both filters at once"
    );
    assert_eq!(page(None, Some("nobody"), None, 10), Vec::<String>::new());
    assert_eq!(
        page(None, None, None, 10_000).len(),
        7,
        "a page never holds more than its cap, nor another kind"
    );
    let other = c
        .operations_page(
            &t("conf-a"),
            &OperationPage {
                kind: "INGEST".into(),
                status: None,
                agent: Some("alice".into()),
                before: None,
                limit: 10,
            },
        )
        .expect("other tenant");
    assert!(
        other.is_empty(),
        "another tenant's operations are not listed"
    );
    let capped = c
        .operations_page(
            &p,
            &OperationPage {
                kind: "INGEST".into(),
                status: None,
                agent: None,
                before: None,
                limit: u64::MAX,
            },
        )
        .expect("capped");
    assert!(capped.len() as u64 <= MAX_OPERATIONS_PAGE);
    let o = &c
        .operations_page(
            &p,
            &OperationPage {
                kind: "INGEST".into(),
                status: Some(Status::Ko),
                agent: None,
                before: None,
                limit: 1,
            },
        )
        .expect("one")[0];
    assert_eq!(
        (o.agent.as_deref(), o.has_reply, o.state),
        (Some("bob"), true, OperationState::Done)
    );
}

/// A year's intake adds up the accepted ingests started that year, from their summaries;
/// rejected and running ones, other kinds and other tenants count for nothing.
pub(super) fn intake_by_year(c: &dyn Catalog) {
    let p = t("conf-intake");
    c.create_tenant(
        &p,
        "intake",
        &event("conf-intake", "op-intake", "TENANT_CREATE", Status::Ok),
    )
    .expect("tenant");
    assert_eq!(c.intake_by_year(&p).expect("none yet"), []);
    let ingests = [
        ("in-1", "2024-03-01", Some(Status::Ok), 3, 5, 1_000),
        ("in-2", "2025-01-02", Some(Status::Warning), 2, 2, 20),
        ("in-3", "2025-12-31", Some(Status::Ok), 1, 4, 300),
        ("in-4", "2025-06-01", Some(Status::Ko), 9, 9, 9_000),
        ("in-5", "2026-02-01", None, 7, 7, 7_000),
    ];
    for (id, day, status, units, objects, bytes) in ingests {
        let started = at(&format!("{day}T10:00:00Z"));
        c.start_operation(&p, &op(id), &"INGEST".into(), &started, "bob")
            .expect("start");
        if let Some(status) = status {
            c.finish_operation(
                &p,
                OperationEnd {
                    operation: &op(id),
                    status,
                    summary: &json!({"status": status.as_str(), "units": units, "objects": objects, "bytes": bytes}),
                    reply: None,
                    ended_at: &started,
                    event: &event("conf-intake", id, "INGEST", status),
                },
            )
            .expect("finish");
        }
    }
    c.record_operation(
        &p,
        &json!({"units": 100}),
        &event("conf-intake", "in-verify", "JOURNAL_VERIFY", Status::Ok),
    )
    .expect("other kind");
    let year = |year: &str, transfers, units, objects, bytes| YearIntake {
        year: year.into(),
        transfers,
        units,
        objects,
        bytes,
    };
    assert_eq!(
        c.intake_by_year(&p).expect("intake"),
        [year("2025", 2, 3, 6, 320), year("2024", 1, 3, 5, 1_000)]
    );
    assert_eq!(
        c.intake_by_year(&t("conf-pages"))
            .expect("another tenant's")
            .iter()
            .map(|y| y.units)
            .sum::<u64>(),
        0,
        "its ingests' summaries name no units"
    );
}
