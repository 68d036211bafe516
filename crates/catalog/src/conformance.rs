//! The suite every catalog implementation passes.

use crate::*;
use serde_json::json;

pub(crate) fn t(s: &str) -> TenantId {
    TenantId::new(s).expect("valid id in tests")
}
pub(crate) fn op(s: &str) -> OperationId {
    OperationId::new(s).expect("valid id in tests")
}
pub(crate) fn event(tenant: &str, operation: &str, kind: &str, outcome: Status) -> NewEvent {
    NewEvent {
        tenant: t(tenant),
        operation: op(operation),
        kind: kind.into(),
        outcome,
        time: "2026-11-29T04:00:00Z".into(),
        agent: "test".into(),
        detail: json!({"k": kind}),
    }
}

pub fn run(c: &dyn Catalog) {
    tenants(c);
    referentials(c);
    rejected_operation(c);
    accepted_ingest(c);
    failed_commit_leaves_nothing(c);
    large_reply(c);
    isolation(c);
    seals(c);
    evidence(c);
    chained(c);
    accounts(c);
    suspension(c);
    search(c);
    search_beyond_window(c);
    queue(c);
    tokens(c);
    requeue(c);
    recorded_operation(c);
}

fn queued(tenant: &str, operation: &str, intake: Intake) -> QueuedTransfer {
    QueuedTransfer {
        tenant: t(tenant),
        operation: op(operation),
        received_at: "2026-11-29T04:00:00Z".into(),
        agent: "producer".into(),
        bytes: 42,
        intake,
    }
}

/// Transfers queued by both intakes; the as@lae intake's messages found again by origin and
/// identifier in their tenant only; a second transfer with the same origin and identifier
/// refused with nothing written.
fn queue(c: &dyn Catalog) {
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

/// A new tenant whose one ingest commits these units.
pub(crate) fn tenant_with_units(
    c: &dyn Catalog,
    tenant: &str,
    units: impl Iterator<Item = UnitRow>,
) {
    c.create_tenant(
        &t(tenant),
        tenant,
        &event(tenant, &format!("op-{tenant}"), "TENANT_CREATE", Status::Ok),
    )
    .expect("tenant");
    ingest_units(c, tenant, &format!("op-{tenant}-ingest"), units);
}

/// One more ingest, `operation`, that commits these units to `tenant`.
pub(crate) fn ingest_units(
    c: &dyn Catalog,
    tenant: &str,
    operation: &str,
    units: impl Iterator<Item = UnitRow>,
) {
    let o = op(operation);
    c.start_operation(
        &t(tenant),
        &o,
        &"INGEST".into(),
        "2026-11-29T04:03:00Z",
        "test",
    )
    .expect("start");
    c.commit_ingest(
        &t(tenant),
        IngestCommit {
            operation: &o,
            groups: &mut std::iter::empty(),
            objects: &mut std::iter::empty(),
            offers: &["offer-1".to_owned()],
            units: &mut units.map(Ok),
            status: Status::Ok,
            summary: json!({"status": "OK"}),
            reply: &mut &b"<ATR/>"[..],
            ended_at: "2026-11-29T04:03:01Z",
            event: &event(tenant, operation, "INGEST", Status::Ok),
        },
    )
    .expect("commit");
}

/// Units of two tenants, searched by words, title, agency, keyword and dates, with paging
/// and facets; nothing of one tenant in the other's answers.
fn search(c: &dyn Catalog) {
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
fn search_beyond_window(c: &dyn Catalog) {
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

fn account(login: &str, role: Role, tenants: &[&str]) -> Account {
    Account {
        login: login.into(),
        role,
        kind: AccountKind::Application,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        created_at: "2026-11-29T04:00:00Z".into(),
        disabled_at: None,
        tenants: tenants.iter().map(|x| t(x)).collect(),
    }
}

/// Accounts, tokens and their events are written together or not at all.
fn accounts(c: &dyn Catalog) {
    let before = c.journal(&t("conf-a")).expect("journal").len();
    let alice = account("alice", Role::Archivist, &["conf-a", "conf-b"]);
    c.create_account(
        &alice,
        Some("hash-1"),
        None,
        &[
            event("conf-a", "op-acc-a", "ACCOUNT_CREATE", Status::Ok),
            event("conf-b", "op-acc-b", "ACCOUNT_CREATE", Status::Ok),
        ],
    )
    .expect("create");
    assert_eq!(c.account("alice").expect("get"), Some(alice.clone()));
    assert_eq!(
        c.account_by_token("hash-1").expect("by token"),
        Some(alice.clone())
    );
    assert_eq!(c.account_by_token("hash-2").expect("by token"), None);
    assert_eq!(c.journal(&t("conf-a")).expect("journal").len(), before + 1);
    let op = c
        .operation(&t("conf-a"), &op("op-acc-a"))
        .expect("operation")
        .expect("recorded");
    assert_eq!(op.agent.as_deref(), Some("test"));
    // The same login again: refused, nothing written.
    let again = c.create_account(
        &account("alice", Role::Auditor, &["conf-a"]),
        Some("hash-x"),
        None,
        &[event("conf-a", "op-acc-x", "ACCOUNT_CREATE", Status::Ok)],
    );
    assert!(matches!(again, Err(CatalogError::Conflict(_))), "{again:?}");
    assert_eq!(c.account_by_token("hash-x").expect("by token"), None);
    // An unknown tenant: refused, nothing written (not even the account).
    let unknown = c.create_account(
        &account("bob", Role::Producer, &["conf-a", "nobody"]),
        None,
        None,
        &[event("conf-a", "op-acc-bob", "ACCOUNT_CREATE", Status::Ok)],
    );
    assert!(
        matches!(unknown, Err(CatalogError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(c.account("bob").expect("get"), None);
    assert_eq!(c.journal(&t("conf-a")).expect("journal").len(), before + 1);
    // Another token for alice; one for nobody is refused.
    c.add_token(
        "alice",
        "hash-2",
        "2026-11-29T04:10:00Z",
        &[event("conf-a", "op-tok", "ACCOUNT_TOKEN", Status::Ok)],
    )
    .expect("token");
    assert_eq!(
        c.account_by_token("hash-2").expect("by token"),
        Some(alice.clone())
    );
    assert!(matches!(
        c.add_token("nobody", "hash-3", "x", &[]),
        Err(CatalogError::NotFound(_))
    ));
    // A disabled account is still found (its credentials are refused by the archive).
    c.set_account_disabled(
        "alice",
        Some("2026-11-29T04:12:00Z"),
        &[event("conf-a", "op-disable", "ACCOUNT_DISABLE", Status::Ok)],
    )
    .expect("disable");
    assert_eq!(
        c.account_by_token("hash-1")
            .expect("by token")
            .and_then(|a| a.disabled_at),
        Some("2026-11-29T04:12:00Z".into())
    );
    c.set_account_disabled("alice", None, &[]).expect("enable");
    assert!(matches!(
        c.set_account_disabled("nobody", None, &[]),
        Err(CatalogError::NotFound(_))
    ));
    // Client certificates: one account each, registered with their events.
    c.add_certificate(
        "alice",
        "cert-1",
        "2026-11-29T04:11:00Z",
        &[event(
            "conf-a",
            "op-cert",
            "ACCOUNT_CERTIFICATE",
            Status::Ok,
        )],
    )
    .expect("certificate");
    assert_eq!(
        c.account_by_certificate("cert-1").expect("by certificate"),
        Some(alice.clone())
    );
    assert_eq!(
        c.account_by_certificate("cert-2").expect("by certificate"),
        None
    );
    assert!(matches!(
        c.add_certificate("alice", "cert-1", "x", &[]),
        Err(CatalogError::Conflict(_))
    ));
    assert!(matches!(
        c.add_certificate("nobody", "cert-3", "x", &[]),
        Err(CatalogError::NotFound(_))
    ));
    let op_account = account("root", Role::Operator, &[]);
    // A certificate already registered: the whole account is refused.
    let taken = c.create_account(
        &account("carol", Role::Auditor, &["conf-a"]),
        None,
        Some("cert-1"),
        &[],
    );
    assert!(matches!(taken, Err(CatalogError::Conflict(_))), "{taken:?}");
    assert_eq!(c.account("carol").expect("get"), None);
    c.create_account(&op_account, None, Some("cert-root"), &[])
        .expect("operator");
    assert_eq!(
        c.account_by_certificate("cert-root")
            .expect("by certificate")
            .map(|a| a.login),
        Some("root".into())
    );
    let logins: Vec<String> = c
        .accounts()
        .expect("list")
        .into_iter()
        .map(|a| a.login)
        .collect();
    assert_eq!(logins, vec!["alice", "root"]);
    // Events without a state change of their own.
    let n = c.journal(&t("conf-b")).expect("journal").len();
    c.append_events(&[
        event("conf-b", "op-req-1", "ACCESS", Status::Ok),
        event("conf-b", "op-req-2", "ACCESS_REFUSED", Status::Ko),
    ])
    .expect("append");
    let journal = c.journal(&t("conf-b")).expect("journal");
    assert_eq!(journal.len(), n + 2);
    assert_eq!(journal[n + 1].event.kind, "ACCESS_REFUSED");
}

fn suspension(c: &dyn Catalog) {
    let a = t("conf-a");
    c.suspend_tenant(
        &a,
        true,
        &event("conf-a", "op-susp", "TENANT_SUSPEND", Status::Ok),
    )
    .expect("suspend");
    assert_eq!(
        c.tenant(&a)
            .expect("get")
            .expect("exists")
            .suspended_at
            .as_deref(),
        Some("2026-11-29T04:00:00Z")
    );
    c.suspend_tenant(
        &a,
        false,
        &event("conf-a", "op-resume", "TENANT_RESUME", Status::Ok),
    )
    .expect("resume");
    assert_eq!(
        c.tenant(&a).expect("get").expect("exists").suspended_at,
        None
    );
    assert!(matches!(
        c.suspend_tenant(
            &t("nobody"),
            true,
            &event("nobody", "op-susp-x", "TENANT_SUSPEND", Status::Ok)
        ),
        Err(CatalogError::NotFound(_))
    ));
}

fn seal_row(first: u64, last: u64, previous: &str, operation: &str) -> SealRow {
    SealRow {
        first,
        last,
        merkle_root: "ab".repeat(32),
        previous: previous.to_owned(),
        sealed: format!("{:064x}", last),
        token: vec![0x30, 0],
        stamped_at: "2026-11-29T05:00:00Z".into(),
        tsa: "test".into(),
        operation: op(operation),
    }
}

/// Seals follow each other without gap or fork, per tenant.
fn seals(c: &dyn Catalog) {
    let a = t("conf-a");
    let genesis = carnac_model::journal::GENESIS;
    assert!(c.seals(&a).expect("seals").is_empty());
    for o in ["op-seal-1", "op-seal-x", "op-seal-y", "op-seal-2"] {
        c.start_operation(
            &a,
            &op(o),
            &"JOURNAL_SEAL".into(),
            "2026-11-29T05:00:00Z",
            "test",
        )
        .expect("start");
    }
    let first = seal_row(1, 3, genesis, "op-seal-1");
    c.record_seal(
        &a,
        &first,
        &json!({}),
        &event("conf-a", "op-seal-1", "JOURNAL_SEAL", Status::Ok),
    )
    .expect("first seal");
    let fork = seal_row(1, 5, genesis, "op-seal-x");
    assert!(matches!(
        c.record_seal(
            &a,
            &fork,
            &json!({}),
            &event("conf-a", "op-seal-x", "JOURNAL_SEAL", Status::Ok)
        ),
        Err(CatalogError::Conflict(_))
    ));
    let gap = seal_row(5, 6, &first.sealed, "op-seal-y");
    assert!(
        c.record_seal(
            &a,
            &gap,
            &json!({}),
            &event("conf-a", "op-seal-y", "JOURNAL_SEAL", Status::Ok)
        )
        .is_err()
    );
    let second = seal_row(4, 6, &first.sealed, "op-seal-2");
    c.record_seal(
        &a,
        &second,
        &json!({}),
        &event("conf-a", "op-seal-2", "JOURNAL_SEAL", Status::Ok),
    )
    .expect("second seal");
    assert_eq!(c.seals(&a).expect("seals"), [first, second]);
    assert!(c.seals(&t("conf-b")).expect("seals").is_empty());
}

fn tree(id: &str, kind: EvidenceKind, operation: &str) -> EvidenceTreeRow {
    EvidenceTreeRow {
        id: id.into(),
        kind,
        algorithm: "SHA-256".into(),
        leaves: vec![7; 64],
        token: vec![0x30, 0],
        stamped_at: "2026-11-29T05:00:00Z".into(),
        certificate_until: "2029-11-29T05:00:00Z".into(),
        tsa: "test".into(),
        builtin: true,
        operation: op(operation),
    }
}

/// Files get evidence once; renewals and new chains are followed in order.
fn evidence(c: &dyn Catalog) {
    let a = t("conf-a");
    let pending = c.pending_evidence(&a, 10).expect("pending");
    assert_eq!(
        pending.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>(),
        ["o1"],
        "the one stored file of conf-a"
    );
    let o1 = ObjectId::new("o1").expect("id");
    let commit = |tr: &EvidenceTreeRow,
                  objects: &[(ObjectId, u64, u64)],
                  renews: &[(String, u64)],
                  supersedes: &[String]| {
        c.commit_evidence(
            &a,
            EvidenceCommit {
                tree: tr,
                objects,
                renews,
                supersedes,
                summary: &json!({}),
                event: &event("conf-a", tr.operation.as_str(), "EVIDENCE", Status::Ok),
            },
        )
    };
    let t1 = tree("t1", EvidenceKind::Deposit, "op-ev-1");
    commit(&t1, &[(o1.clone(), 0, 1)], &[], &[]).expect("deposit");
    assert!(c.pending_evidence(&a, 10).expect("pending").is_empty());
    let t2 = tree("t2", EvidenceKind::TimestampRenewal, "op-ev-2");
    commit(&t2, &[], &[("t1".into(), 0)], &["t1".into()]).expect("renewal");
    assert_eq!(
        c.current_evidence_trees(&a)
            .expect("current")
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        ["t2"]
    );
    let t3 = tree("t3", EvidenceKind::HashRenewal, "op-ev-3");
    commit(&t3, &[(o1.clone(), 1, 0)], &[], &["t2".into()]).expect("hash renewal");
    let path = c.evidence_path(&a, &o1).expect("path");
    let ids: Vec<Vec<(&str, u64)>> = path
        .iter()
        .map(|chain| chain.iter().map(|(t, p)| (t.id.as_str(), *p)).collect())
        .collect();
    assert_eq!(ids, [vec![("t1", 1), ("t2", 0)], vec![("t3", 0)]]);
    assert_eq!(path[0][0].0, t1);
    assert_eq!(c.objects_with_evidence(&a).expect("with").len(), 1);
    // Another tenant sees none of it.
    assert!(c.evidence_path(&t("conf-b"), &o1).expect("path").is_empty());
    assert!(
        c.current_evidence_trees(&t("conf-b"))
            .expect("current")
            .is_empty()
    );
}

/// Every tenant's journal is an intact hash chain of its own.
fn chained(c: &dyn Catalog) {
    for tenant in [t("conf-a"), t("conf-b")] {
        let events = c.journal(&tenant).expect("journal");
        assert!(!events.is_empty());
        assert_eq!(events[0].previous, carnac_model::journal::GENESIS);
        assert_eq!(
            carnac_model::journal::verify_chain(&events),
            [],
            "journal of {tenant}"
        );
        let mut after = Vec::new();
        c.each_event(&tenant, 2, &mut |row| {
            after.push(row.expect("readable").sequence);
            Ok(())
        })
        .expect("events");
        assert_eq!(after, (3..=events.len() as u64).collect::<Vec<_>>());
    }
}

/// A reply larger than any buffer an implementation might use comes back byte for byte.
fn large_reply(c: &dyn Catalog) {
    let a = t("conf-a");
    c.start_operation(
        &a,
        &op("op-large"),
        &"INGEST".into(),
        "2026-11-29T04:05:00Z",
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
            ended_at: "2026-11-29T04:05:01Z",
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

fn tenants(c: &dyn Catalog) {
    c.create_tenant(
        &t("conf-a"),
        "Commune A",
        &event("conf-a", "op-ta", "TENANT_CREATE", Status::Ok),
    )
    .expect("create");
    c.create_tenant(
        &t("conf-b"),
        "Commune B",
        &event("conf-b", "op-tb", "TENANT_CREATE", Status::Ok),
    )
    .expect("create");
    let again = c.create_tenant(
        &t("conf-a"),
        "x",
        &event("conf-a", "op-ta2", "TENANT_CREATE", Status::Ok),
    );
    assert!(matches!(again, Err(CatalogError::Conflict(_))));
    assert_eq!(
        c.tenant(&t("conf-a")).expect("get").expect("exists").name,
        "Commune A"
    );
    assert!(c.tenant(&t("nobody")).expect("get").is_none());
    let ids: Vec<_> = c
        .tenants()
        .expect("list")
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert!(ids.contains(&t("conf-a")) && ids.contains(&t("conf-b")));
    let mismatched = c.create_tenant(
        &t("conf-c"),
        "C",
        &event("conf-a", "op-tc", "TENANT_CREATE", Status::Ok),
    );
    assert!(mismatched.is_err(), "an event of another tenant is refused");
}

fn referentials(c: &dyn Catalog) {
    let a = t("conf-a");
    let v = c
        .import_referentials(
            &a,
            &op("op-ref1"),
            "2026-11-29T04:00:00Z",
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
            "2026-11-29T04:01:00Z",
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

fn rejected_operation(c: &dyn Catalog) {
    let a = t("conf-a");
    c.start_operation(
        &a,
        &op("op-ko"),
        &"INGEST".into(),
        "2026-11-29T04:02:00Z",
        "test",
    )
    .expect("start");
    assert!(
        c.start_operation(&a, &op("op-ko"), &"INGEST".into(), "x", "test")
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
            ended_at: "2026-11-29T04:02:01Z",
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
            ended_at: "x",
            event: &event("conf-a", "op-ko", "INGEST", Status::Ok),
        },
    );
    assert!(again.is_err(), "an operation ends once");
}

pub(crate) fn unit(id: &str, parents: &[&str], groups: &[&str]) -> UnitRow {
    UnitRow {
        id: UnitId::new(id).expect("id"),
        xml_id: format!("x-{id}"),
        title: format!("title {id}"),
        description_level: Some("Item".into()),
        start_date: Some("2016-06-03".into()),
        end_date: None,
        originating_agency: Some("AG1".into()),
        parents: parents
            .iter()
            .map(|p| UnitId::new(*p).expect("id"))
            .collect(),
        object_groups: groups
            .iter()
            .map(|g| ObjectId::new(*g).expect("id"))
            .collect(),
        keywords: vec!["k".into()],
        rules: vec![UnitRule {
            category: "AppraisalRule".into(),
            rule: "APP-1".into(),
            start_date: Some("2016-06-03".into()),
            end_date: Some("2026-06-03".into()),
        }],
        metadata: format!("<ArchiveUnit id=\"x-{id}\"/>"),
    }
}

fn accepted_ingest(c: &dyn Catalog) {
    let a = t("conf-a");
    let operation = op("op-ok");
    c.start_operation(
        &a,
        &operation,
        &"INGEST".into(),
        "2026-11-29T04:03:00Z",
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
            ended_at: "2026-11-29T04:03:01Z",
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

fn failed_commit_leaves_nothing(c: &dyn Catalog) {
    let a = t("conf-a");
    let before = c.counts(&a).expect("counts");
    let journal_before = c.journal(&a).expect("journal").len();
    let operation = op("op-fail");
    c.start_operation(
        &a,
        &operation,
        &"INGEST".into(),
        "2026-11-29T04:04:00Z",
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
            ended_at: "x",
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

fn isolation(c: &dyn Catalog) {
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

/// An account's API tokens, oldest first, each named by the first 16 hex digits of its
/// SHA-256; one revoked stops working and says when; nothing else matches a revocation.
fn tokens(c: &dyn Catalog) {
    let first = format!("0123456789abcdef{}", "0".repeat(48));
    let second = format!("fedcba9876543210{}", "1".repeat(48));
    let dave = account("dave", Role::Producer, &["conf-a"]);
    c.create_account(&dave, Some(&first), None, &[])
        .expect("create");
    c.add_token("dave", &second, "2026-11-29T05:00:00Z", &[])
        .expect("token");
    let listed = c.tokens("dave").expect("tokens");
    let ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["0123456789abcdef", "fedcba9876543210"]);
    assert!(listed.iter().all(|t| t.revoked_at.is_none()));
    assert!(c.tokens("nobody").expect("tokens").is_empty());
    let before = c.journal(&t("conf-a")).expect("journal").len();
    c.revoke_token(
        "dave",
        "FEDCBA9876543210",
        "2026-11-29T05:01:00Z",
        &[event(
            "conf-a",
            "op-revoke",
            "ACCOUNT_TOKEN_REVOKE",
            Status::Ok,
        )],
    )
    .expect("revoke, whatever the case of the digits");
    assert_eq!(c.journal(&t("conf-a")).expect("journal").len(), before + 1);
    assert_eq!(c.account_by_token(&second).expect("by token"), None);
    assert_eq!(
        c.account_by_token(&first).expect("by token"),
        Some(dave.clone())
    );
    assert_eq!(
        c.tokens("dave").expect("tokens")[1].revoked_at.as_deref(),
        Some("2026-11-29T05:01:00Z")
    );
    // Already revoked, another account's, not 16 hex digits (no pattern widens the match):
    // not found, nothing written.
    for (login, id) in [
        ("dave", "fedcba9876543210"),
        ("alice", "0123456789abcdef"),
        ("dave", "0123456789abcde%"),
        ("dave", "0123456789abcde"),
        ("dave", "%"),
    ] {
        let r = c.revoke_token(
            login,
            id,
            "x",
            &[event(
                "conf-a",
                "op-revoke-2",
                "ACCOUNT_TOKEN_REVOKE",
                Status::Ok,
            )],
        );
        assert!(
            matches!(r, Err(CatalogError::NotFound(_))),
            "{login} {id}: {r:?}"
        );
    }
    assert_eq!(c.journal(&t("conf-a")).expect("journal").len(), before + 1);
    assert_eq!(c.account_by_token(&first).expect("by token"), Some(dave));
}

/// A queued transfer whose ingest was interrupted goes back to the queue: its running
/// operation is forgotten (it kept nothing), with the event that says so; an operation that
/// is not a queued transfer's, or not running, is not.
fn requeue(c: &dyn Catalog) {
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
        "2026-11-29T05:02:00Z",
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
        "2026-11-29T05:03:00Z",
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
            ended_at: "2026-11-29T05:03:01Z",
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

/// An operation that changed nothing but the journal: done at once, with its summary and
/// event, and its sequence number returned.
fn recorded_operation(c: &dyn Catalog) {
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
}
