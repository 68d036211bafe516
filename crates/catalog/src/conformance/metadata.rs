//! Corrections of a unit's descriptive metadata: the unit, its keywords, its text, facets
//! and counts change together with its history and event, or nothing does.

use super::*;

/// A stale correction writes nothing; a fresh one is seen at once by every reader
/// (details, words, keywords, year facets, agency counts), with its history entry.
pub fn change(c: &dyn Catalog) {
    let mut a = unit("conf-md-a", &[], &[]);
    a.title = "Budget primitif".into();
    a.keywords = vec!["voirie".into()];
    a.start_date = Some("2016-03-01".into());
    a.metadata =
        "<ArchiveUnit><Content><Title>Budget primitif</Title></Content></ArchiveUnit>".into();
    let b = unit("conf-md-b", &[], &[]);
    tenant_with_units(c, "conf-md", [a.clone(), b].into_iter());
    tenant_with_units(c, "conf-md2", [unit("conf-md-a", &[], &[])].into_iter());
    let tenant = t("conf-md");
    let journal_len = |c: &dyn Catalog| c.journal(&tenant).expect("journal").len();
    let before_len = journal_len(c);
    let after = "<ArchiveUnit><Content><Title>Compte administratif</Title>\
                 <Description>assainissement collectif</Description></Content></ArchiveUnit>";
    let keywords = vec!["eau".to_owned()];
    let changes =
        json!([{"field": "Title", "before": "Budget primitif", "after": "Compte administratif"}]);
    let mut e = event(
        "conf-md",
        "op-conf-md-1",
        "UNIT_METADATA_CHANGE",
        Status::Ok,
    );
    e.detail = json!({"subject": "conf-md-a"});
    let stale = "<ArchiveUnit>something else</ArchiveUnit>".to_owned();
    let change = |fresh: bool| MetadataChange {
        unit: &a.id,
        before: if fresh { &a.metadata } else { &stale },
        after,
        title: "Compte administratif",
        description_level: Some("File"),
        start_date: Some("2019-01-01"),
        end_date: Some("2019-12-31"),
        keywords: &keywords,
        changes: &changes,
        summary: &changes,
        event: &e,
    };
    let search = |q: UnitQuery| {
        c.search_units(&tenant, &UnitQuery { limit: 50, ..q }, &Interrupt::none())
            .expect("search")
    };
    let ids = |q: UnitQuery| -> Vec<String> {
        search(q)
            .units
            .into_iter()
            .map(|u| u.id.to_string())
            .collect()
    };

    // Stale: nothing written.
    let err = c
        .change_metadata(&tenant, change(false))
        .expect_err("stale");
    assert!(matches!(err, CatalogError::Conflict(_)), "{err}");
    assert_eq!(journal_len(c), before_len);
    assert!(
        c.operation(&tenant, &op("op-conf-md-1"))
            .expect("op")
            .is_none()
    );
    assert!(
        c.metadata_history(&tenant, &a.id, 10)
            .expect("h")
            .is_empty()
    );
    assert_eq!(
        ids(UnitQuery {
            text: Some("budget".into()),
            ..Default::default()
        }),
        ["conf-md-a"]
    );

    // Fresh.
    c.change_metadata(&tenant, change(true)).expect("change");
    let (u, _) = c.unit(&tenant, &a.id).expect("read").expect("unit");
    assert_eq!(u.title, "Compte administratif");
    assert_eq!(u.metadata, after);
    assert_eq!(u.start_date.as_deref(), Some("2019-01-01"));
    let d = c.unit_details(&tenant, &a.id).expect("d").expect("u");
    assert_eq!(d.keywords, keywords);
    assert_eq!(d.description_level.as_deref(), Some("File"));
    assert!(
        ids(UnitQuery {
            text: Some("budget".into()),
            ..Default::default()
        })
        .is_empty(),
        "the old words are gone from the text index"
    );
    for q in [
        UnitQuery {
            text: Some("assainissement".into()),
            ..Default::default()
        },
        UnitQuery {
            title: Some("compte".into()),
            ..Default::default()
        },
        UnitQuery {
            keyword: Some("eau".into()),
            ..Default::default()
        },
        UnitQuery {
            from: Some("2019-06-01".into()),
            ..Default::default()
        },
    ] {
        assert_eq!(ids(q.clone()), ["conf-md-a"], "{q:?}");
    }
    assert!(
        ids(UnitQuery {
            keyword: Some("voirie".into()),
            ..Default::default()
        })
        .is_empty()
    );
    // Facets by year and the agency's exact count follow the new start date.
    let page = search(UnitQuery {
        text: Some("title".into()),
        ..Default::default()
    });
    assert!(
        page.years.iter().all(|f| f.value != "2019"),
        "{:?}",
        page.years
    );
    let page = search(UnitQuery {
        text: Some("compte".into()),
        ..Default::default()
    });
    assert_eq!(
        page.years
            .iter()
            .map(|f| (f.value.as_str(), f.count))
            .collect::<Vec<_>>(),
        [("2019", 1)]
    );
    let page = search(UnitQuery {
        agency: Some("AG1".into()),
        ..Default::default()
    });
    assert_eq!((page.total, page.total_exact), (2, true));

    let h = c.metadata_history(&tenant, &a.id, 10).expect("h");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].previous, a.metadata);
    assert_eq!(h[0].current, after);
    assert_eq!(h[0].changes, changes);
    assert_eq!(h[0].operation, op("op-conf-md-1"));
    assert_eq!(h[0].agent, "test");
    assert_eq!(journal_len(c), before_len + 1);
    assert!(
        c.metadata_history(&t("conf-md2"), &a.id, 10)
            .expect("h")
            .is_empty(),
        "another tenant sees no history"
    );
    // The same change again: the metadata is no longer what it was read as.
    let err = c
        .change_metadata(&tenant, change(true))
        .expect_err("stale now");
    assert!(matches!(err, CatalogError::Conflict(_)), "{err}");
}
