//! Tenants, their suspension, accounts and API tokens.

use super::*;

pub(super) fn tenants(c: &dyn Catalog) {
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

pub(super) fn suspension(c: &dyn Catalog) {
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

pub(super) fn account(login: &str, role: Role, tenants: &[&str]) -> Account {
    Account {
        login: login.into(),
        role,
        kind: AccountKind::Application,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        created_at: at("2026-11-29T04:00:00Z"),
        disabled_at: None,
        tenants: tenants.iter().map(|x| t(x)).collect(),
        agencies: Vec::new(),
    }
}

/// Accounts, tokens and their events are written together or not at all.
pub(super) fn accounts(c: &dyn Catalog) {
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
        &at("2026-11-29T04:10:00Z"),
        &[event("conf-a", "op-tok", "ACCOUNT_TOKEN", Status::Ok)],
    )
    .expect("token");
    assert_eq!(
        c.account_by_token("hash-2").expect("by token"),
        Some(alice.clone())
    );
    assert!(matches!(
        c.add_token("nobody", "hash-3", &at("2026-11-29T04:00:00Z"), &[]),
        Err(CatalogError::NotFound(_))
    ));
    // A disabled account is still found (its credentials are refused by the archive).
    c.set_account_disabled(
        "alice",
        Some(&at("2026-11-29T04:12:00Z")),
        &[event("conf-a", "op-disable", "ACCOUNT_DISABLE", Status::Ok)],
    )
    .expect("disable");
    assert_eq!(
        c.account_by_token("hash-1")
            .expect("by token")
            .and_then(|a| a.disabled_at),
        Some(at("2026-11-29T04:12:00Z"))
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
        &at("2026-11-29T04:11:00Z"),
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
        c.add_certificate("alice", "cert-1", &at("2026-11-29T04:00:00Z"), &[]),
        Err(CatalogError::Conflict(_))
    ));
    assert!(matches!(
        c.add_certificate("nobody", "cert-3", &at("2026-11-29T04:00:00Z"), &[]),
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
    let before = c.journal(&t("conf-a")).expect("journal").len();
    // A producer for two of its authority's services: read back in order.
    let mut clerk = account("clerk", Role::Producer, &["conf-a"]);
    clerk.agencies = vec!["SERVICE-B".into(), "SERVICE-A".into()];
    c.create_account(
        &clerk,
        None,
        None,
        &[event(
            "conf-a",
            "op-acc-clerk",
            "ACCOUNT_CREATE",
            Status::Ok,
        )],
    )
    .expect("create");
    assert_eq!(
        c.account("clerk").expect("get").expect("clerk").agencies,
        ["SERVICE-A", "SERVICE-B"]
    );
    assert!(
        c.accounts()
            .expect("list")
            .iter()
            .any(|a| a.login == "clerk" && a.agencies.len() == 2)
    );
    assert_eq!(c.journal(&t("conf-a")).expect("journal").len(), before + 1);
}

/// An account's API tokens, oldest first, each named by the first 16 hex digits of its
/// SHA-256; one revoked stops working and says when; nothing else matches a revocation.
pub(super) fn tokens(c: &dyn Catalog) {
    let first = format!("0123456789abcdef{}", "0".repeat(48));
    let second = format!("fedcba9876543210{}", "1".repeat(48));
    let dave = account("dave", Role::Producer, &["conf-a"]);
    c.create_account(&dave, Some(&first), None, &[])
        .expect("create");
    c.add_token("dave", &second, &at("2026-11-29T05:00:00Z"), &[])
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
        &at("2026-11-29T05:01:00Z"),
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
            &at("2026-11-29T04:00:00Z"),
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

/// The last enabled operator cannot be disabled: not by one change, nor by two operators
/// disabling each other at once (on two nodes, two connections to the catalog).
pub(super) fn last_operator(c: &dyn Catalog) {
    let when = at("2026-11-29T05:00:00Z");
    let enabled: Vec<String> = c
        .accounts()
        .expect("list")
        .into_iter()
        .filter(|a| a.role == Role::Operator && a.disabled_at.is_none())
        .map(|a| a.login)
        .collect();
    c.create_account(&account("op-x", Role::Operator, &[]), None, None, &[])
        .expect("op-x");
    for login in &enabled {
        c.set_account_disabled(login, Some(&when), &[])
            .expect("another operator is left");
    }
    let refused = c.set_account_disabled("op-x", Some(&when), &[]);
    assert!(
        matches!(&refused, Err(CatalogError::Refused(m)) if m.contains("last enabled operator")),
        "{refused:?}"
    );
    assert_eq!(
        c.account("op-x").expect("get").expect("op-x").disabled_at,
        None
    );
    // Enabling, and disabling an account that is not an operator, are not concerned.
    c.set_account_disabled("op-x", None, &[]).expect("enable");
    c.create_account(
        &account("aud-x", Role::Auditor, &["conf-a"]),
        None,
        None,
        &[],
    )
    .expect("aud-x");
    c.set_account_disabled("aud-x", Some(&when), &[])
        .expect("an auditor");
    c.create_account(&account("op-y", Role::Operator, &[]), None, None, &[])
        .expect("op-y");
    for round in 0..20 {
        let results = std::thread::scope(|s| {
            let x = s.spawn(|| c.set_account_disabled("op-x", Some(&when), &[]));
            let y = s.spawn(|| c.set_account_disabled("op-y", Some(&when), &[]));
            [x.join().expect("x"), y.join().expect("y")]
        });
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(()) | Err(CatalogError::Refused(_)))),
            "round {round}: {results:?}"
        );
        c.set_account_disabled("op-x", None, &[]).expect("enable x");
        c.set_account_disabled("op-y", None, &[]).expect("enable y");
    }
}
