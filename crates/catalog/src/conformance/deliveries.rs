//! Deliveries: a request is recorded with its operation and events at once, steps move it
//! only from the state they read, packages kept are counted and found when their time is up,
//! and one tenant never sees another's.

use super::*;
use carnac_model::delivery::DeliveryState as S;

fn uid(s: &str) -> UnitId {
    UnitId::new(s).expect("id")
}

fn row(id: &str, state: S, by: &str) -> DeliveryRow {
    DeliveryRow {
        id: op(id),
        state,
        requested_by: by.into(),
        requested_at: at("2026-12-04T04:00:00Z"),
        request: json!({"requester": "Mme Dupont", "derogation": true, "units": ["u1"]}),
        restricted: if state == S::AwaitingAuthorization {
            vec![uid("u1"), uid("u2")]
        } else {
            vec![]
        },
        steps: vec![],
        package: (state == S::Delivered)
            .then(|| json!({"name": "dip.zip", "bytes": 1000, "sha256": "ab".repeat(32)})),
        expires_at: (state == S::Delivered).then(|| at("2026-12-11T04:00:00Z")),
    }
}

fn create(c: &dyn Catalog, tenant: &str, r: &DeliveryRow) -> Result<(), CatalogError> {
    let kind = if r.state == S::Delivered {
        "DELIVERY"
    } else {
        "DELIVERY_REQUEST"
    };
    let subjects: Vec<NewEvent> = (r.state == S::Delivered)
        .then(|| event(tenant, r.id.as_str(), "UNIT_DELIVERED", Status::Ok))
        .into_iter()
        .collect();
    c.create_delivery(
        &t(tenant),
        r,
        &json!({"delivery": r.id}),
        &event(tenant, r.id.as_str(), kind, Status::Ok),
        &subjects,
    )
}

pub(super) fn deliveries(c: &dyn Catalog) {
    for tenant in ["dl-a", "dl-b"] {
        c.create_tenant(
            &t(tenant),
            tenant,
            &event(tenant, &format!("op-{tenant}"), "TENANT_CREATE", Status::Ok),
        )
        .expect("tenant");
    }
    let (a, b) = (t("dl-a"), t("dl-b"));
    let waiting = row("dl-1", S::AwaitingAuthorization, "producer-1");
    create(c, "dl-a", &waiting).expect("a request waiting");
    let delivered = row("dl-2", S::Delivered, "archivist");
    create(c, "dl-a", &delivered).expect("a delivery");

    // Read back whole, and its operation and events are there.
    assert_eq!(
        c.delivery(&a, &op("dl-1")).expect("the catalog answers"),
        Some(waiting.clone())
    );
    assert_eq!(
        c.delivery(&a, &op("dl-2")).expect("the catalog answers"),
        Some(delivered.clone())
    );
    let operation = c
        .operation(&a, &op("dl-2"))
        .expect("the catalog answers")
        .expect("its operation");
    assert_eq!(operation.state, OperationState::Done);
    let mut kinds = Vec::new();
    c.each_event(&a, 0, &mut |e| {
        let e = e.expect("a readable event");
        if e.event.operation == op("dl-2") {
            kinds.push(e.event.kind.to_string());
        }
        Ok(())
    })
    .expect("the catalog answers");
    assert_eq!(kinds, ["DELIVERY", "UNIT_DELIVERED"]);

    // Another tenant sees none of it.
    assert_eq!(
        c.delivery(&b, &op("dl-1")).expect("the catalog answers"),
        None
    );
    assert!(
        c.deliveries(&b, None, 10)
            .expect("the catalog answers")
            .is_empty()
    );
    assert_eq!(c.kept_packages(&b).expect("the catalog answers"), (0, 0));

    // The same id twice: refused, nothing written.
    let again = create(c, "dl-a", &row("dl-2", S::Delivered, "archivist"));
    assert!(again.is_err(), "{again:?}");
    assert_eq!(
        c.delivery(&a, &op("dl-2")).expect("the catalog answers"),
        Some(delivered.clone())
    );

    // Newest first, and by requester.
    let all: Vec<_> = c
        .deliveries(&a, None, 10)
        .expect("the catalog answers")
        .into_iter()
        .map(|d| d.id.to_string())
        .collect();
    assert_eq!(all, ["dl-2", "dl-1"]);
    let mine = c
        .deliveries(&a, Some("producer-1"), 10)
        .expect("the catalog answers");
    assert_eq!(mine, vec![waiting.clone()]);
    assert_eq!(
        c.deliveries(&a, None, 1)
            .expect("the catalog answers")
            .len(),
        1
    );
    assert_eq!(c.kept_packages(&a).expect("the catalog answers"), (1, 1000));

    // The authorisation moves it from the state it was read in, once.
    let package = json!({"name": "dip.zip", "bytes": 500, "sha256": "cd".repeat(32)});
    let expires = at("2026-12-05T04:00:00Z");
    let step = json!({"step": "authorization", "decision": "granted"});
    let granted = DeliveryStepCommit {
        id: &op("dl-1"),
        from: S::AwaitingAuthorization,
        to: S::Delivered,
        step: &step,
        package: Some((&package, &expires)),
        summary: &json!({"delivery": "dl-1"}),
        event: &event("dl-a", "dl-1-auth", "DELIVERY", Status::Ok),
        subjects: &[event("dl-a", "dl-1-auth", "UNIT_DELIVERED", Status::Ok)],
    };
    c.delivery_step(&a, granted).expect("granted");
    let now = c
        .delivery(&a, &op("dl-1"))
        .expect("the catalog answers")
        .expect("the catalog answers");
    assert_eq!(now.state, S::Delivered);
    assert_eq!(now.steps, vec![step.clone()]);
    assert_eq!(now.package, Some(package.clone()));
    assert_eq!(now.expires_at, Some(expires.clone()));
    assert_eq!(now.restricted, waiting.restricted);
    assert_eq!(c.kept_packages(&a).expect("the catalog answers"), (2, 1500));
    let late = c.delivery_step(
        &a,
        DeliveryStepCommit {
            id: &op("dl-1"),
            from: S::AwaitingAuthorization,
            to: S::Refused,
            step: &json!({"step": "authorization", "decision": "refused"}),
            package: None,
            summary: &json!({}),
            event: &event("dl-a", "dl-1-late", "DELIVERY_REFUSAL", Status::Ok),
            subjects: &[],
        },
    );
    assert!(matches!(late, Err(CatalogError::Conflict(_))), "{late:?}");
    assert!(
        c.operation(&a, &op("dl-1-late"))
            .expect("the catalog answers")
            .is_none(),
        "a step refused writes nothing"
    );
    // Not another tenant's.
    let foreign = c.delivery_step(
        &b,
        DeliveryStepCommit {
            id: &op("dl-2"),
            from: S::Delivered,
            to: S::Removed,
            step: &json!({"step": "removal"}),
            package: None,
            summary: &json!({}),
            event: &event("dl-b", "dl-2-rm", "DELIVERY_PACKAGE_REMOVED", Status::Ok),
            subjects: &[],
        },
    );
    assert!(
        matches!(foreign, Err(CatalogError::NotFound(_))),
        "{foreign:?}"
    );

    // Expiry is compared as instants: dl-1 (5 December) is due before dl-2 (11 December).
    assert!(
        c.expired_deliveries(&at("2026-12-05T03:59:59Z"))
            .expect("the catalog answers")
            .is_empty()
    );
    assert_eq!(
        c.expired_deliveries(&at("2026-12-05T05:00:00+01:00"))
            .expect("the catalog answers"),
        vec![(a.clone(), op("dl-1"))]
    );
    assert_eq!(
        c.expired_deliveries(&at("2026-12-12T00:00:00Z"))
            .expect("the catalog answers"),
        vec![(a.clone(), op("dl-1")), (a.clone(), op("dl-2"))]
    );
    c.delivery_step(
        &a,
        DeliveryStepCommit {
            id: &op("dl-1"),
            from: S::Delivered,
            to: S::Removed,
            step: &json!({"step": "removal"}),
            package: None,
            summary: &json!({}),
            event: &event("dl-a", "dl-1-rm", "DELIVERY_PACKAGE_REMOVED", Status::Ok),
            subjects: &[],
        },
    )
    .expect("removed");
    assert_eq!(
        c.expired_deliveries(&at("2026-12-12T00:00:00Z"))
            .expect("the catalog answers"),
        vec![(a.clone(), op("dl-2"))]
    );
    assert_eq!(c.kept_packages(&a).expect("the catalog answers"), (1, 1000));
    let removed = c
        .delivery(&a, &op("dl-1"))
        .expect("the catalog answers")
        .expect("the catalog answers");
    assert_eq!(removed.state, S::Removed);
    assert_eq!(removed.steps.len(), 2);
}
