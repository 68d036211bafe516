//! Web sessions: opened with their event for an enabled account only, read back whole,
//! touched, given a tenant of their account's only, closed once, expired by idle time or
//! lifetime with one event, and gone with their account's disabling.

use super::*;
use carnac_model::access::Role;

fn session(token: &str, login: &str, opened: &str) -> SessionRow {
    SessionRow {
        token_sha256: token.into(),
        login: login.into(),
        csrf: format!("csrf-{token}"),
        opened_at: at(opened),
        last_seen: at(opened),
        address: Some("192.0.2.7".into()),
        tenant: None,
    }
}

pub(super) fn sessions(c: &dyn Catalog) {
    let web = accounts::account("web-user", Role::Archivist, &["conf-a", "conf-b"]);
    c.create_account(
        &web,
        None,
        None,
        &[event("conf-a", "op-web-acc", "ACCOUNT_CREATE", Status::Ok)],
    )
    .expect("account");
    let platform_events = |c: &dyn Catalog| c.journal(&t("conf-a")).expect("journal").len();
    let before = platform_events(c);
    let s1 = session("s1", "web-user", "2026-12-04T08:00:00Z");
    c.open_session(
        &s1,
        &[event("conf-a", "op-web-in", "WEB_SIGN_IN", Status::Ok)],
    )
    .expect("open");
    assert_eq!(platform_events(c), before + 1, "signing in is journaled");
    assert_eq!(
        c.session("s1").expect("read"),
        Some(SessionRow {
            opened_at: at("2026-12-04T08:00:00.000Z"),
            last_seen: at("2026-12-04T08:00:00.000Z"),
            ..s1.clone()
        })
    );
    assert!(c.session("s2").expect("read").is_none());
    // Once per token; never for an unknown account; nothing written either way.
    let again = c.open_session(
        &s1,
        &[event("conf-a", "op-web-in2", "WEB_SIGN_IN", Status::Ok)],
    );
    assert!(matches!(again, Err(CatalogError::Conflict(_))), "{again:?}");
    let nobody = c.open_session(
        &session("s9", "nobody", "2026-12-04T08:00:00Z"),
        &[event("conf-a", "op-web-in9", "WEB_SIGN_IN", Status::Ok)],
    );
    assert!(
        matches!(nobody, Err(CatalogError::NotFound(_))),
        "{nobody:?}"
    );
    assert_eq!(platform_events(c), before + 1);
    // Touched: the last time seen moves forward only.
    c.touch_session("s1", &at("2026-12-04T08:10:00Z"))
        .expect("touch");
    c.touch_session("s1", &at("2026-12-04T08:05:00Z"))
        .expect("touch");
    assert_eq!(
        c.session("s1").expect("read").expect("open").last_seen,
        at("2026-12-04T08:10:00.000Z")
    );
    // A tenant that exists (whether the account may work there is decided above).
    c.choose_session_tenant("s1", &t("conf-b"))
        .expect("its tenant");
    assert_eq!(
        c.session("s1").expect("read").expect("open").tenant,
        Some(t("conf-b"))
    );
    let unknown = c.choose_session_tenant("s1", &t("no-such-tenant"));
    assert!(
        matches!(unknown, Err(CatalogError::NotFound(_))),
        "{unknown:?}"
    );
    assert!(matches!(
        c.choose_session_tenant("s2", &t("conf-a")),
        Err(CatalogError::NotFound(_))
    ));
    // Closed once, with its event.
    c.close_session(
        "s1",
        &[event("conf-a", "op-web-out", "WEB_SIGN_OUT", Status::Ok)],
    )
    .expect("close");
    assert!(c.session("s1").expect("read").is_none());
    assert_eq!(platform_events(c), before + 2);
    assert!(matches!(
        c.close_session(
            "s1",
            &[event("conf-a", "op-web-out2", "WEB_SIGN_OUT", Status::Ok)]
        ),
        Err(CatalogError::NotFound(_))
    ));
    assert_eq!(platform_events(c), before + 2);
    // Expiry: idle since before 09:00, or opened before 01:00; one event for all.
    for (token, opened, seen) in [
        ("idle", "2026-12-04T08:00:00Z", "2026-12-04T08:59:59.999Z"),
        ("old", "2026-12-04T00:59:59Z", "2026-12-04T09:30:00Z"),
        ("live", "2026-12-04T08:30:00.5Z", "2026-12-04T09:00:00Z"),
    ] {
        c.open_session(
            &session(token, "web-user", opened),
            &[event(
                "conf-a",
                &format!("op-web-{token}"),
                "WEB_SIGN_IN",
                Status::Ok,
            )],
        )
        .expect("open");
        c.touch_session(token, &at(seen)).expect("touch");
    }
    let before = platform_events(c);
    let expired = c
        .expire_sessions(
            &at("2026-12-04T09:00:00Z"),
            &at("2026-12-04T01:00:00Z"),
            &|n| {
                let mut e = event(
                    "conf-a",
                    "op-web-expiry",
                    "WEB_SESSIONS_EXPIRED",
                    Status::Ok,
                );
                e.detail = json!({"sessions": n});
                e
            },
        )
        .expect("expire");
    assert_eq!(expired, 2);
    assert!(c.session("idle").expect("read").is_none());
    assert!(c.session("old").expect("read").is_none());
    assert!(c.session("live").expect("read").is_some());
    assert_eq!(platform_events(c), before + 1);
    let none = c
        .expire_sessions(
            &at("2026-12-04T09:00:00Z"),
            &at("2026-12-04T01:00:00Z"),
            &|_| {
                event(
                    "conf-a",
                    "op-web-expiry2",
                    "WEB_SESSIONS_EXPIRED",
                    Status::Ok,
                )
            },
        )
        .expect("expire");
    assert_eq!(none, 0);
    assert_eq!(platform_events(c), before + 1, "no event when none expired");
    // Disabled, the account's sessions end.
    c.set_account_disabled(
        "web-user",
        Some(&at("2026-12-04T10:00:00Z")),
        &[event("conf-a", "op-web-dis", "ACCOUNT_DISABLE", Status::Ok)],
    )
    .expect("disable");
    assert!(c.session("live").expect("read").is_none());
    c.set_account_disabled(
        "web-user",
        None,
        &[event("conf-a", "op-web-en", "ACCOUNT_ENABLE", Status::Ok)],
    )
    .expect("enable");
    assert!(c.session("live").expect("read").is_none(), "not back");
}
