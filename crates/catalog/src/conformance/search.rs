//! Search: what a reader sees of counts, exactness, order and paging, within the
//! backend's window and beyond it.

use super::*;

/// Units of two tenants, searched by words, title, agency, keyword and dates, with paging
/// and facets; nothing of one tenant in the other's answers.
pub(super) fn search(c: &dyn Catalog) {
    for (tenant, titles) in [
        (
            "conf-s",
            [
                "Délibération du conseil municipal",
                "Budget primitif",
                "Marché de voirie",
            ],
        ),
        ("conf-s2", ["Délibération secrète", "Autre", "Encore"]),
        // Another tenant whose identifier differs only by case.
        ("CONF-S", ["Homonyme en capitales", "Autre", "Encore"]),
    ] {
        let units: Vec<UnitRow> = titles
            .iter()
            .enumerate()
            .map(|(i, title)| {
                let mut u = unit(&format!("{tenant}-u{i}"), &[], &[]);
                u.title = (*title).into();
                u.originating_agency = Some(if i == 2 { "AG2" } else { "AG1" }.into());
                u.start_date = Some(format!("20{}-01-01", 10 + i));
                u.end_date = Some(format!("20{}-12-31", 10 + i));
                u.keywords = vec![format!("kw{i}")];
                u.metadata = format!(
                    "<ArchiveUnit><Content><Description>finances année {i} &amp; travaux</Description></Content></ArchiveUnit>"
                );
                u
            })
            .collect();
        tenant_with_units(c, tenant, units.into_iter());
    }
    let s = t("conf-s");
    let ids = |q: UnitQuery| -> Vec<String> {
        c.search_units(&s, &UnitQuery { limit: 50, ..q }, &Interrupt::none())
            .expect("search")
            .units
            .into_iter()
            .map(|u| u.id.to_string())
            .collect()
    };
    // Free text: words of the title or the description, accents ignored, all required.
    assert_eq!(
        ids(UnitQuery {
            text: Some("deliberation".into()),
            ..Default::default()
        }),
        ["conf-s-u0"]
    );
    assert_eq!(
        ids(UnitQuery {
            text: Some("travaux année 2".into()),
            ..Default::default()
        }),
        ["conf-s-u2"]
    );
    assert_eq!(
        ids(UnitQuery {
            text: Some("kw1".into()),
            ..Default::default()
        }),
        ["conf-s-u1"]
    );
    assert!(
        ids(UnitQuery {
            text: Some("secrète".into()),
            ..Default::default()
        })
        .is_empty(),
        "another tenant's words"
    );
    assert!(
        ids(UnitQuery {
            text: Some("homonyme".into()),
            ..Default::default()
        })
        .is_empty(),
        "the words of a tenant named alike in other case"
    );
    let homonym = c
        .search_units(
            &t("CONF-S"),
            &UnitQuery {
                text: Some("homonyme".into()),
                limit: 50,
                ..Default::default()
            },
            &Interrupt::none(),
        )
        .expect("search");
    assert_eq!(homonym.total, 1);
    assert_eq!(homonym.units[0].id.as_str(), "CONF-S-u0");
    // A tenant with no unit yet: every kind of search finds nothing, exactly.
    c.create_tenant(
        &t("conf-s-empty"),
        "empty",
        &event(
            "conf-s-empty",
            "op-conf-s-empty",
            "TENANT_CREATE",
            Status::Ok,
        ),
    )
    .expect("tenant");
    for q in [
        UnitQuery {
            text: Some("travaux".into()),
            ..Default::default()
        },
        UnitQuery {
            agency: Some("AG1".into()),
            ..Default::default()
        },
        UnitQuery {
            keyword: Some("kw0".into()),
            from: Some("2000-01-01".into()),
            ..Default::default()
        },
        UnitQuery::default(),
    ] {
        let page = c
            .search_units(&t("conf-s-empty"), &q, &Interrupt::none())
            .expect("search");
        assert_eq!((page.total, page.total_exact), (0, true), "{q:?}");
        assert!(page.units.is_empty() && page.agencies.is_empty() && page.years.is_empty());
    }
    // FTS syntax typed by someone is just words.
    assert!(
        ids(UnitQuery {
            text: Some("\"budget OR *".into()),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        ids(UnitQuery {
            title: Some("budget".into()),
            ..Default::default()
        }),
        ["conf-s-u1"]
    );
    assert!(
        ids(UnitQuery {
            title: Some("finances".into()),
            ..Default::default()
        })
        .is_empty(),
        "not in a title"
    );
    assert_eq!(
        ids(UnitQuery {
            agency: Some("AG2".into()),
            ..Default::default()
        }),
        ["conf-s-u2"]
    );
    assert_eq!(
        ids(UnitQuery {
            keyword: Some("kw0".into()),
            ..Default::default()
        }),
        ["conf-s-u0"]
    );
    // Words within an agency or a keyword: exact values, not words, not prefixes.
    assert_eq!(
        ids(UnitQuery {
            text: Some("travaux".into()),
            agency: Some("AG2".into()),
            ..Default::default()
        }),
        ["conf-s-u2"]
    );
    let mut both = ids(UnitQuery {
        text: Some("finances".into()),
        agency: Some("AG1".into()),
        ..Default::default()
    });
    both.sort();
    assert_eq!(both, ["conf-s-u0", "conf-s-u1"]);
    for agency in ["AG", "ag2", "AG2 AG1"] {
        assert!(
            ids(UnitQuery {
                text: Some("travaux".into()),
                agency: Some(agency.into()),
                ..Default::default()
            })
            .is_empty(),
            "{agency:?} is not an agency of these units"
        );
    }
    assert_eq!(
        ids(UnitQuery {
            text: Some("finances".into()),
            keyword: Some("kw1".into()),
            ..Default::default()
        }),
        ["conf-s-u1"]
    );
    assert!(
        ids(UnitQuery {
            text: Some("finances".into()),
            keyword: Some("KW1".into()),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        ids(UnitQuery {
            from: Some("2011-06-01".into()),
            to: Some("2011-06-30".into()),
            ..Default::default()
        }),
        ["conf-s-u1"]
    );
    // Paging, in title order, and facets over every match.
    let page = c
        .search_units(
            &s,
            &UnitQuery {
                offset: 1,
                limit: 1,
                ..Default::default()
            },
            &Interrupt::none(),
        )
        .expect("search");
    assert_eq!(page.total, 3);
    assert_eq!(page.units.len(), 1);
    assert_eq!(page.units[0].title, "Délibération du conseil municipal");
    assert_eq!(
        page.agencies,
        vec![
            Facet {
                value: "AG1".into(),
                count: 2
            },
            Facet {
                value: "AG2".into(),
                count: 1
            }
        ]
    );
    assert_eq!(
        page.years
            .iter()
            .map(|f| f.value.as_str())
            .collect::<Vec<_>>(),
        ["2010", "2011", "2012"]
    );
    let details = c
        .unit_details(&s, &UnitId::new("conf-s-u0").expect("id"))
        .expect("details")
        .expect("exists");
    assert_eq!(details.keywords, ["kw0"]);
    assert_eq!(details.rules.len(), 1);
    assert!(
        c.unit_details(&t("conf-s2"), &UnitId::new("conf-s-u0").expect("id"))
            .expect("details")
            .is_none()
    );
}

/// More matches than the backend's window: what is still exact (a tenant's units and an
/// agency's are counted exactly whatever their number), what stops at the window (the count
/// says "at least", no facets, the index's order), and paging to its end, each unit once.
/// Which index order a backend uses beyond its window is its own (SQLite's are tested with
/// it).
pub(super) fn search_beyond_window(c: &dyn Catalog) {
    let window = c.search_window();
    assert!(
        window >= 100,
        "a window of {window} matches is too narrow to use"
    );
    let many = window + 500;
    let few = 300u64;
    for (tenant, n) in [("conf-w", many + few), ("conf-w2", 40)] {
        // AGM holds `many` units over four years; AGF `few`, the last of them without a
        // start date and without an agency.
        let units = (0..n).map(|i| {
            let mut u = unit(&format!("{tenant}-{i:06}"), &[], &[]);
            u.title = format!("lot {}", n - i);
            u.keywords = vec![];
            if i < many {
                u.originating_agency = Some("AGM".into());
                u.start_date = Some(format!("{}-03-01", 2000 + i % 4));
                u.end_date = Some(format!("{}-03-31", 2000 + i % 4));
                u.metadata = "<ArchiveUnit><Content><Description>registre commun</Description></Content></ArchiveUnit>".into();
            } else if i + 1 < n {
                u.originating_agency = Some("AGF".into());
                u.start_date = Some("2010-01-01".into());
            } else {
                u.originating_agency = None;
                u.start_date = None;
            }
            u
        });
        tenant_with_units(c, tenant, units);
    }
    let w = t("conf-w");
    let search = |q: UnitQuery| {
        c.search_units(&w, &UnitQuery { limit: 20, ..q }, &Interrupt::none())
            .expect("search")
    };
    let facet = |v: &str, count: u64| Facet {
        value: v.into(),
        count,
    };
    // No criterion: exact however many, facets over every unit (another tenant's not
    // counted), pages in the index's order up to the window, each unit once.
    let all = search(UnitQuery::default());
    assert_eq!((all.total, all.total_exact), (many + few, true));
    assert!(!all.order.is_sorted(), "{:?}", all.order);
    assert_eq!(
        all.agencies,
        vec![facet("AGM", many), facet("AGF", few - 1)]
    );
    assert_eq!(
        all.years,
        vec![
            facet("2000", many / 4),
            facet("2001", many / 4),
            facet("2002", many / 4),
            facet("2003", many / 4),
            facet("2010", few - 1)
        ]
    );
    let paged = |q: UnitQuery| {
        let mut seen = std::collections::BTreeSet::new();
        let mut offset = 0;
        loop {
            let page = c
                .search_units(
                    &w,
                    &UnitQuery {
                        offset,
                        limit: 200,
                        ..q.clone()
                    },
                    &Interrupt::none(),
                )
                .expect("page");
            if page.units.is_empty() {
                break;
            }
            for u in page.units {
                assert!(seen.insert(u.id.to_string()), "{} twice", u.id);
            }
            offset += 200;
        }
        seen
    };
    assert_eq!(
        paged(UnitQuery::default()).len() as u64,
        window,
        "pages stop at the window"
    );
    let last = search(UnitQuery {
        offset: window - 5,
        ..Default::default()
    });
    assert_eq!(last.units.len(), 5, "pages stop at the window");
    // One agency beyond the window: exact too, in an index's order.
    let m = search(UnitQuery {
        agency: Some("AGM".into()),
        offset: 20,
        ..Default::default()
    });
    assert_eq!((m.total, m.total_exact), (many, true));
    assert!(!m.order.is_sorted(), "{:?}", m.order);
    assert_eq!(m.agencies, vec![facet("AGM", many)]);
    assert_eq!(m.years.len(), 4);
    assert_eq!(m.units.len(), 20);
    assert!(
        m.units
            .iter()
            .all(|u| u.originating_agency.as_deref() == Some("AGM"))
    );
    let agency_pages = paged(UnitQuery {
        agency: Some("AGM".into()),
        ..Default::default()
    });
    assert_eq!(agency_pages.len() as u64, window);
    // One agency within the window: every match sorted by title.
    let f = search(UnitQuery {
        agency: Some("AGF".into()),
        ..Default::default()
    });
    assert_eq!(
        (f.total, f.total_exact, f.order),
        (few - 1, true, SearchOrder::Title)
    );
    assert_eq!(f.years, vec![facet("2010", few - 1)]);
    assert_eq!(f.units[0].title, "lot 10");
    assert_eq!(f.units[1].title, "lot 100");
    // Words beyond the window: counted up to it ("at least"), in an index's order.
    let words = search(UnitQuery {
        text: Some("registre".into()),
        ..Default::default()
    });
    assert_eq!((words.total, words.total_exact), (window, false));
    assert!(!words.order.is_sorted(), "{:?}", words.order);
    // No facets then: those of the first matches would describe the oldest transfers.
    assert!(
        words.agencies.is_empty() && words.years.is_empty(),
        "{words:?}"
    );
    assert_eq!(
        paged(UnitQuery {
            text: Some("registre".into()),
            ..Default::default()
        })
        .len() as u64,
        window
    );
    // Dates beyond the window: counted up to it; within it, exact.
    let dates = search(UnitQuery {
        from: Some("2000-01-01".into()),
        ..Default::default()
    });
    assert_eq!((dates.total, dates.total_exact), (window, false));
    assert!(dates.agencies.is_empty() && dates.years.is_empty());
    assert!(dates.units.iter().all(|u| u.start_date.is_some()));
    let year = search(UnitQuery {
        from: Some("2001-01-01".into()),
        to: Some("2001-12-31".into()),
        ..Default::default()
    });
    assert_eq!((year.total, year.total_exact), (many / 4, true));
    assert_eq!(year.years, vec![facet("2001", many / 4)]);
    // The other tenant's counts are its own.
    let other = c
        .search_units(
            &t("conf-w2"),
            &UnitQuery {
                limit: 5,
                ..Default::default()
            },
            &Interrupt::none(),
        )
        .expect("search");
    assert_eq!((other.total, other.total_exact), (40, true));
    assert_eq!(other.agencies, vec![facet("AGM", 40)]);
    // A search given up: past its deadline, or its flag set (its client gone, the server
    // stopping), it ends with `Interrupted`, not a result (issue 14). The words of 2,800
    // units take far more than one check of the interrupt.
    let wide = UnitQuery {
        text: Some("registre commun".into()),
        from: Some("2000-01-01".into()),
        limit: 20,
        ..Default::default()
    };
    let gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    for interrupt in [
        Interrupt::new(None, vec![gone]),
        Interrupt::new(Some(std::time::Instant::now()), vec![]),
    ] {
        match c.search_units(&w, &wide, &interrupt) {
            Err(CatalogError::Interrupted(why)) => assert!(!why.is_empty()),
            other => panic!("not interrupted: {other:?}"),
        }
    }
    // And the next search, not interrupted, is whole.
    let again = c
        .search_units(&w, &wide, &Interrupt::none())
        .expect("search");
    assert_eq!((again.total, again.total_exact), (window, false));
}
