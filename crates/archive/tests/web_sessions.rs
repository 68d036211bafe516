//! Sessions of the web application at the use-case boundary: signing in gives one answer
//! to a wrong login and a wrong password and locks after failures; a session is found by
//! its token only, works in its account's tenants only, ends on signing out, after its idle
//! time or its lifetime (journaled), and with its account's disabling.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use carnac_archive::accounts::NewAccount;
use carnac_archive::system::fixed::ManualClock;
use carnac_archive::web_sessions::{SignIn, WebSession};
use carnac_blobstore::BlobStore;
use carnac_blobstore::memory::MemoryStore;
use carnac_model::TenantId;
use carnac_model::access::{AccountKind, PLATFORM, Role};
use std::sync::Arc;

const START: time::OffsetDateTime = time::macros::datetime!(2026-12-04 08:00:00 UTC);

fn archive(dir: &std::path::Path) -> (carnac_archive::Archive, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START));
    let archive = carnac_testkit::archive_with_clock(
        Arc::new(carnac_catalog::sqlite::SqliteCatalog::in_memory().unwrap()),
        Default::default(),
        vec![Arc::new(MemoryStore::new("offer-1")) as Arc<dyn BlobStore>],
        None,
        &dir.join("tmp"),
        clock.clone(),
    );
    (archive, clock)
}

fn t(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

fn account(a: &carnac_archive::Archive, login: &str, tenants: &[TenantId]) {
    a.create_account(
        &NewAccount {
            login,
            role: Role::Archivist,
            kind: AccountKind::Person,
            tenants,
            password: Some("Mot de passe très long"),
            token: false,
            certificate: None,
            agencies: &[],
        },
        "op",
    )
    .unwrap();
}

fn opened(s: SignIn) -> (String, WebSession) {
    match s {
        SignIn::Opened { token, session } => (token, session),
        other => panic!("not signed in: {other:?}"),
    }
}

fn events(a: &carnac_archive::Archive, kind: &str) -> Vec<serde_json::Value> {
    a.catalog()
        .journal(&t(PLATFORM))
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind.as_str() == kind)
        .map(|e| e.event.detail)
        .collect()
}

#[test]
fn a_session_opens_with_the_password_and_ends_on_signing_out() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = archive(dir.path());
    for id in ["ville-a", "ville-b", "ville-c"] {
        a.create_tenant(&t(id), id, "op").unwrap();
    }
    account(&a, "marie", &[t("ville-a"), t("ville-b")]);
    let address = Some("192.0.2.7".parse().unwrap());
    // A wrong password and an unknown login: the same answer.
    assert!(matches!(
        a.sign_in("marie", "mot de passe", address).unwrap(),
        SignIn::Refused
    ));
    assert!(matches!(
        a.sign_in("personne", "Mot de passe très long", address)
            .unwrap(),
        SignIn::Refused
    ));
    let (token, session) = opened(
        a.sign_in("marie", "Mot de passe très long", address)
            .unwrap(),
    );
    assert!(token.starts_with("carnacs_") && token.len() > 40);
    assert_eq!(session.principal.login, "marie");
    assert_eq!(session.tenant, None, "two tenants: one is chosen");
    assert_eq!(a.web_session(&token).unwrap(), Some(session.clone()));
    let signed_in = events(&a, "WEB_SIGN_IN");
    assert_eq!(signed_in.len(), 1);
    assert_eq!(signed_in[0]["address"], "192.0.2.7");
    assert!(
        !signed_in[0].to_string().contains(&token),
        "the token is never journaled"
    );
    // Found by its token only.
    assert_eq!(a.web_session("carnacs_forged").unwrap(), None);
    assert_eq!(a.web_session(&token[..token.len() - 1]).unwrap(), None);
    // Its account's tenants only; another's is not named.
    a.choose_web_tenant(&token, &t("ville-b")).unwrap();
    assert_eq!(
        a.web_session(&token).unwrap().unwrap().tenant,
        Some(t("ville-b"))
    );
    let err = a.choose_web_tenant(&token, &t("ville-c")).unwrap_err();
    assert!(matches!(err, carnac_archive::ArchiveError::NotFound(_)));
    // Two sessions of one account are two: signing out ends one.
    let (other, _) = opened(a.sign_in("marie", "Mot de passe très long", None).unwrap());
    assert!(a.sign_out(&token).unwrap());
    assert_eq!(a.web_session(&token).unwrap(), None);
    assert!(!a.sign_out(&token).unwrap(), "once");
    assert!(a.web_session(&other).unwrap().is_some());
    assert_eq!(events(&a, "WEB_SIGN_OUT").len(), 1);
    // Disabled, the account has no session left.
    a.set_account_disabled("marie", true, "op").unwrap();
    assert_eq!(a.web_session(&other).unwrap(), None);
    a.set_account_disabled("marie", false, "op").unwrap();
    assert_eq!(a.web_session(&other).unwrap(), None);
    // An account of one tenant works in it from the start.
    account(&a, "paul", &[t("ville-c")]);
    let (_, paul) = opened(a.sign_in("paul", "Mot de passe très long", None).unwrap());
    assert_eq!(paul.tenant, Some(t("ville-c")));
}

#[test]
fn sessions_end_when_idle_or_old_and_failures_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (a, clock) = archive(dir.path());
    a.create_tenant(&t("ville-a"), "A", "op").unwrap();
    account(&a, "marie", &[t("ville-a")]);
    let sign_in = || opened(a.sign_in("marie", "Mot de passe très long", None).unwrap()).0;
    // Used every 20 minutes, it lives; 30 minutes idle, it ends (journaled).
    let busy = sign_in();
    let idle = sign_in();
    for _ in 0..3 {
        clock.advance(time::Duration::minutes(20));
        assert!(a.web_session(&busy).unwrap().is_some());
    }
    assert_eq!(a.web_session(&idle).unwrap(), None);
    let expired = events(&a, "WEB_SESSIONS_EXPIRED");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["reason"], "idle");
    // Used all along, it still ends 12 hours after it opened.
    for _ in 0..(12 * 3 - 4) {
        clock.advance(time::Duration::minutes(20));
        assert!(a.web_session(&busy).unwrap().is_some());
    }
    clock.advance(time::Duration::minutes(20));
    assert_eq!(a.web_session(&busy).unwrap(), None);
    assert_eq!(
        events(&a, "WEB_SESSIONS_EXPIRED").last().unwrap()["reason"],
        "lifetime"
    );
    // The maintenance ends those nobody came back to, in one event.
    let left = [sign_in(), sign_in()];
    clock.advance(time::Duration::minutes(31));
    assert_eq!(a.expire_web_sessions().unwrap(), 2);
    assert_eq!(
        events(&a, "WEB_SESSIONS_EXPIRED").last().unwrap()["sessions"],
        2
    );
    for token in &left {
        assert_eq!(a.web_session(token).unwrap(), None);
    }
    assert_eq!(a.expire_web_sessions().unwrap(), 0);
    // Failures lock the login, whatever is typed next.
    let mut locked = false;
    for _ in 0..20 {
        if let SignIn::Locked(_) = a.sign_in("marie", "faux", None).unwrap() {
            locked = true;
            break;
        }
    }
    assert!(locked, "repeated failures lock the login");
    assert!(matches!(
        a.sign_in("marie", "Mot de passe très long", None).unwrap(),
        SignIn::Locked(_)
    ));
}
