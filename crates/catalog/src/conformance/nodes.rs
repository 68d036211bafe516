//! One node's view: what it starts is never abandoned to itself, what it queues it may
//! claim, the duties it leads it keeps. (What several nodes see of one another is each
//! backend's to test: an embedded catalog has one.)

use super::*;

pub(super) fn one_node(c: &dyn Catalog) {
    assert!(!c.node().is_empty());
    let a = t("conf-a");
    c.start_operation(
        &a,
        &op("op-node-1"),
        &"INGEST".into(),
        &at("2026-12-05T08:00:00Z"),
        "test",
    )
    .expect("start");
    assert!(
        c.running_operations()
            .expect("running")
            .contains(&(a.clone(), op("op-node-1")))
    );
    assert!(
        !c.abandoned_operations(false)
            .expect("abandoned")
            .iter()
            .any(|(_, o)| o == &op("op-node-1")),
        "a node's own running operation is not abandoned"
    );
    assert!(
        c.abandoned_operations(true)
            .expect("abandoned at start")
            .contains(&(a.clone(), op("op-node-1"))),
        "at start, what carries this node's name is from an earlier use"
    );
    c.enqueue_transfer(
        &queue::queued("conf-a", "op-node-q", Intake::Package),
        &event("conf-a", "op-node-q", "TRANSFER_RECEIVED", Status::Ok),
    )
    .expect("enqueue");
    assert!(c.claim_transfer(&a, &op("op-node-q")).expect("claim"));
    assert!(
        c.claim_transfer(&a, &op("op-node-q")).expect("claim again"),
        "still its own"
    );
    c.dequeue_transfer(&a, &op("op-node-q")).expect("dequeue");
    assert!(
        !c.claim_transfer(&a, &op("op-node-q")).expect("claim"),
        "a transfer no longer queued is nobody's"
    );
    let lease = std::time::Duration::from_secs(60);
    assert!(c.lead("conf-duty", lease).expect("lead"));
    assert!(c.lead("conf-duty", lease).expect("lead again"), "kept");
}
