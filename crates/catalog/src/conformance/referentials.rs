//! Referentials: versions kept, each import whole or not at all.

use super::*;

pub(super) fn referentials(c: &dyn Catalog) {
    let a = t("conf-a");
    let v = c
        .import_referentials(
            &a,
            &op("op-ref1"),
            &at("2026-11-29T04:00:00Z"),
            &[
                (ReferentialKind::Agencies, json!([{"id": "AG1"}])),
                (ReferentialKind::Rules, json!([])),
            ],
            &event("conf-a", "op-ref1", "REFERENTIAL_IMPORT", Status::Ok),
        )
        .expect("import");
    assert_eq!(v, [1, 1]);
    let v = c
        .import_referentials(
            &a,
            &op("op-ref2"),
            &at("2026-11-29T04:01:00Z"),
            &[(ReferentialKind::Agencies, json!([{"id": "AG2"}]))],
            &event("conf-a", "op-ref2", "REFERENTIAL_IMPORT", Status::Ok),
        )
        .expect("import");
    assert_eq!(v, [2]);
    let cur = c
        .referential(&a, ReferentialKind::Agencies)
        .expect("get")
        .expect("exists");
    assert_eq!(
        (cur.version, cur.content.clone()),
        (2, json!([{"id": "AG2"}]))
    );
    assert_eq!(cur.operation, op("op-ref2"));
    assert!(
        c.referential(&a, ReferentialKind::Formats)
            .expect("get")
            .is_none()
    );
    assert!(
        c.referential(&t("conf-b"), ReferentialKind::Agencies)
            .expect("get")
            .is_none()
    );
    let versions = c
        .referential_versions(&a, ReferentialKind::Agencies)
        .expect("versions");
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.operation.as_str()))
            .collect::<Vec<_>>(),
        [(1, "op-ref1"), (2, "op-ref2")]
    );
    assert!(
        c.referential_versions(&t("conf-b"), ReferentialKind::Agencies)
            .expect("versions")
            .is_empty()
    );
}
