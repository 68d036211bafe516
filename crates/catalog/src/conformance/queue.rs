//! The intake queue: transfers received, waiting, taken up again after a stop.

use super::*;

pub(super) fn queued(tenant: &str, operation: &str, intake: Intake) -> QueuedTransfer {
    QueuedTransfer {
        tenant: t(tenant),
        operation: op(operation),
        received_at: at("2026-11-29T04:00:00Z"),
        agent: "producer".into(),
        bytes: 42,
        intake,
    }
}

/// Transfers queued by both intakes; the as@lae intake's messages found again by origin and
/// identifier in their tenant only; a second transfer with the same origin and identifier
/// refused with nothing written.
pub(super) fn queue(c: &dyn Catalog) {
    let (a, b) = (t("conf-a"), t("conf-b"));
    c.enqueue_transfer(
        &queued("conf-a", "op-q1", Intake::Package),
        &event("conf-a", "op-q1", "TRANSFER_RECEIVED", Status::Ok),
    )
    .expect("enqueue");
    let message = IntakeMessage {
        tenant: a.clone(),
        origin: "PASTELL".into(),
        message_id: "T-1".into(),
        operation: op("op-q2"),
        seda_version: "1.0".into(),
        acknowledgement: "<Acknowledgement/>".into(),
    };
    c.enqueue_intake_message(
        &queued("conf-a", "op-q2", Intake::Asalae),
        &message,
        &event("conf-a", "op-q2", "TRANSFER_RECEIVED", Status::Ok),
    )
    .expect("enqueue a message");
    let intakes: Vec<(String, Intake)> = c
        .queued_transfers()
        .expect("queue")
        .into_iter()
        .filter(|q| q.tenant == a)
        .map(|q| (q.operation.to_string(), q.intake))
        .collect();
    assert_eq!(
        intakes,
        [
            ("op-q1".to_owned(), Intake::Package),
            ("op-q2".to_owned(), Intake::Asalae)
        ]
    );
    assert_eq!(
        c.queued_transfer(&a, &op("op-q2"))
            .expect("get")
            .map(|q| q.intake),
        Some(Intake::Asalae)
    );
    assert_eq!(
        c.intake_message(&a, "PASTELL", "T-1").expect("get"),
        Some(message.clone())
    );
    assert_eq!(c.intake_message(&b, "PASTELL", "T-1").expect("get"), None);
    // The intake's acknowledgement is the operation's; a package's is recorded once.
    assert_eq!(
        c.acknowledgement(&a, &op("op-q2")).expect("ack").as_deref(),
        Some("<Acknowledgement/>")
    );
    assert_eq!(c.acknowledgement(&b, &op("op-q2")).expect("ack"), None);
    assert_eq!(c.acknowledgement(&a, &op("op-q1")).expect("ack"), None);
    let before = c.journal(&a).expect("journal").len();
    let ack = event("conf-a", "op-q1", "TRANSFER_ACKNOWLEDGED", Status::Ok);
    assert!(c.acknowledge(&a, &op("op-q1"), "<A1/>", &ack).expect("ack"));
    assert!(
        !c.acknowledge(&a, &op("op-q1"), "<A2/>", &ack)
            .expect("again")
    );
    assert_eq!(
        c.acknowledgement(&a, &op("op-q1")).expect("ack").as_deref(),
        Some("<A1/>")
    );
    assert_eq!(c.journal(&a).expect("journal").len(), before + 1);
    assert_eq!(c.intake_message(&a, "OTHER", "T-1").expect("get"), None);
    let journal_before = c.journal(&a).expect("journal").len();
    let again = IntakeMessage {
        operation: op("op-q3"),
        ..message.clone()
    };
    assert!(matches!(
        c.enqueue_intake_message(
            &queued("conf-a", "op-q3", Intake::Asalae),
            &again,
            &event("conf-a", "op-q3", "TRANSFER_RECEIVED", Status::Ok),
        ),
        Err(CatalogError::Conflict(_))
    ));
    assert_eq!(c.queued_transfer(&a, &op("op-q3")).expect("get"), None);
    assert_eq!(c.journal(&a).expect("journal").len(), journal_before);
    // The same identifier from the same origin is another tenant's own business.
    let other = IntakeMessage {
        tenant: b.clone(),
        operation: op("op-q4"),
        ..message
    };
    c.enqueue_intake_message(
        &queued("conf-b", "op-q4", Intake::Asalae),
        &other,
        &event("conf-b", "op-q4", "TRANSFER_RECEIVED", Status::Ok),
    )
    .expect("another tenant");
    for (tenant, operation) in [(&a, "op-q1"), (&a, "op-q2"), (&b, "op-q4")] {
        c.dequeue_transfer(tenant, &op(operation)).expect("dequeue");
    }
}

/// A queued transfer whose ingest was interrupted goes back to the queue: its running
/// operation is forgotten (it kept nothing), with the event that says so; an operation that
/// is not a queued transfer's, or not running, is not.
pub(super) fn requeue(c: &dyn Catalog) {
    let a = t("conf-a");
    c.enqueue_transfer(
        &queued("conf-a", "op-rq", Intake::Package),
        &event("conf-a", "op-rq", "TRANSFER_RECEIVED", Status::Ok),
    )
    .expect("enqueue");
    c.start_operation(
        &a,
        &op("op-rq"),
        &"INGEST".into(),
        &at("2026-11-29T05:02:00Z"),
        "test",
    )
    .expect("start");
    let before = c.journal(&a).expect("journal").len();
    c.requeue_transfer(
        &a,
        &op("op-rq"),
        &event("conf-a", "op-rq", "INGEST_RESUMED", Status::Ok),
    )
    .expect("requeue");
    assert_eq!(c.operation(&a, &op("op-rq")).expect("operation"), None);
    assert!(
        !c.running_operations()
            .expect("running")
            .contains(&(a.clone(), op("op-rq")))
    );
    assert!(
        c.queued_transfer(&a, &op("op-rq"))
            .expect("queued")
            .is_some()
    );
    assert_eq!(c.journal(&a).expect("journal").len(), before + 1);
    // Started again under the same identifier, as the worker does.
    c.start_operation(
        &a,
        &op("op-rq"),
        &"INGEST".into(),
        &at("2026-11-29T05:03:00Z"),
        "test",
    )
    .expect("start again");
    c.finish_operation(
        &a,
        OperationEnd {
            operation: &op("op-rq"),
            status: Status::Ko,
            summary: &json!({"status": "KO"}),
            reply: None,
            ended_at: &at("2026-11-29T05:03:01Z"),
            event: &event("conf-a", "op-rq", "INGEST", Status::Ko),
        },
    )
    .expect("finish");
    c.dequeue_transfer(&a, &op("op-rq")).expect("dequeue");
    // Done, or never queued: not requeued, nothing written.
    let before = c.journal(&a).expect("journal").len();
    for operation in ["op-rq", "op-ko"] {
        let r = c.requeue_transfer(
            &a,
            &op(operation),
            &event("conf-a", operation, "INGEST_RESUMED", Status::Ok),
        );
        assert!(
            matches!(r, Err(CatalogError::NotFound(_))),
            "{operation}: {r:?}"
        );
    }
    assert_eq!(c.journal(&a).expect("journal").len(), before);
}
