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
