//! The web application at the HTTP boundary: the sign-in form and its token, one answer to
//! a wrong login or password, the session cookie, the home page of a tenant, the choice of
//! a tenant (the account's only), signing out, forms from elsewhere refused, the headers.

use super::*;

/// A response's status, headers and body.
async fn exchange(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn set_cookies(h: &axum::http::HeaderMap) -> Vec<String> {
    h.get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value a `Set-Cookie` gives `name`.
fn cookie_value(h: &axum::http::HeaderMap, name: &str) -> Option<String> {
    set_cookies(h).iter().find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .map(|rest| rest.split(';').next().unwrap().to_owned())
    })
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_owned()
}

fn form(uri: &str, cookie: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap()
}

fn page(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

/// Signs `login` in (password `secret`): the session cookie.
async fn signed_in(app: &Router, login: &str) -> String {
    let (_, h, body) = exchange(app, page("/connexion", "")).await;
    let pre = cookie_value(&h, "carnac_connexion").unwrap();
    let (status, h, _) = exchange(
        app,
        form(
            "/connexion",
            &format!("carnac_connexion={pre}"),
            &[
                ("csrf", &csrf_of(&body)),
                ("login", login),
                ("password", "secret"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    format!(
        "carnac_session={}",
        cookie_value(&h, "carnac_session").unwrap()
    )
}

#[tokio::test]
async fn signing_in_and_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let app = app(st.clone());
    // Nobody signed in: the sign-in page, with the contract's labels.
    let (status, h, _) = exchange(&app, page("/", "")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/connexion");
    let (status, h, body) = exchange(&app, page("/connexion", "")).await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "<label for=\"identifiant\">Identifiant</label>",
        "<label for=\"mot-de-passe\">Mot de passe</label>",
        ">Se connecter</button>",
        "lang=\"fr\"",
        "href=\"#contenu\"",
    ] {
        assert!(body.contains(needle), "{needle} in {body}");
    }
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(!body.contains("style=") && !body.contains("<script"));
    let pre = cookie_value(&h, "carnac_connexion").unwrap();
    assert_eq!(csrf_of(&body), pre);
    let pre_cookie = set_cookies(&h).join(" ");
    assert!(pre_cookie.contains("HttpOnly") && pre_cookie.contains("SameSite=Strict"));
    // A form from elsewhere (no cookie, or not its token): refused, nothing checked.
    let (status, _, body) = exchange(
        &app,
        form(
            "/connexion",
            "",
            &[("csrf", &pre), ("login", "arch"), ("password", "secret")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("expiré"), "{body}");
    // A wrong password and an unknown login: one answer, the login kept, escaped.
    let cookie = format!("carnac_connexion={pre}");
    for login in ["arch", "<script>alert(\"x\")</script>"] {
        let (status, _, body) = exchange(
            &app,
            form(
                "/connexion",
                &cookie,
                &[("csrf", &pre), ("login", login), ("password", "faux")],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body.contains("Identifiant ou mot de passe incorrect"),
            "{body}"
        );
        assert!(body.contains("aria-invalid=\"true\""));
        assert!(!body.contains("<script>alert"), "escaped: {body}");
    }
    let journal = st
        .archive
        .catalog()
        .journal(&TenantId::new(carnac_model::access::PLATFORM).unwrap())
        .unwrap();
    assert!(
        journal
            .iter()
            .any(|e| e.event.detail.to_string().contains("web_sign_in")),
        "refusals are journaled"
    );
    // Signed in: a session cookie, strict, and the home page of its one tenant.
    let session = signed_in(&app, "arch").await;
    assert!(session.starts_with("carnac_session=carnacs_"));
    let (status, _, body) = exchange(&app, page("/", &session)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Accueil — 0"), "{body}");
    assert!(body.contains("Unités d’archives"), "{body}");
    assert!(body.contains(">Se déconnecter</button>"));
    assert!(
        !body.contains("Choisir un service"),
        "one tenant: nothing to choose"
    );
    let csrf = csrf_of(&body);
    // Signing out needs the session's form token.
    let (status, _, _) =
        exchange(&app, form("/deconnexion", &session, &[("csrf", "forged")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = exchange(&app, page("/", &session)).await;
    assert_eq!(status, StatusCode::OK, "still signed in");
    let (status, h, _) = exchange(&app, form("/deconnexion", &session, &[("csrf", &csrf)])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/connexion");
    assert!(
        set_cookies(&h)
            .iter()
            .any(|c| c.starts_with("carnac_session=;") && c.contains("Max-Age=0"))
    );
    // Ended on the server: the old cookie opens nothing.
    let (status, h, _) = exchange(&app, page("/", &session)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/connexion");
}

#[tokio::test]
async fn a_tenant_is_chosen_among_the_accounts_own() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let app = app(st);
    // The operator sees every tenant and chooses one.
    let session = signed_in(&app, "op").await;
    let (_, _, body) = exchange(&app, page("/", &session)).await;
    assert!(body.contains("Choisir un service d’archives"), "{body}");
    assert!(body.contains("value=\"0\"") && body.contains("value=\"other\""));
    let csrf = csrf_of(&body);
    let (status, _, _) = exchange(
        &app,
        form("/tenant", &session, &[("csrf", &csrf), ("tenant", "other")]),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, body) = exchange(&app, page("/", &session)).await;
    assert!(body.contains("Accueil — other"), "{body}");
    assert!(
        !body.contains("Unités d’archives"),
        "the operator does not search units"
    );
    // A form without the session's token changes nothing.
    let (status, _, _) = exchange(
        &app,
        form("/tenant", &session, &[("csrf", "x"), ("tenant", "0")]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An archivist of tenant 0 cannot choose another's: refused, said without detail.
    let session = signed_in(&app, "arch").await;
    let (_, _, body) = exchange(&app, page("/", &session)).await;
    let csrf = csrf_of(&body);
    for tenant in ["other", "nowhere", "../x"] {
        let (status, _, body) = exchange(
            &app,
            form("/tenant", &session, &[("csrf", &csrf), ("tenant", tenant)]),
        )
        .await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
            "{tenant}: {status}"
        );
        assert!(!body.contains("Other"), "{body}");
    }
    let (_, _, body) = exchange(&app, page("/", &session)).await;
    assert!(body.contains("Accueil — 0"));
}

#[tokio::test]
async fn the_stylesheet_is_served_by_its_content_name_only() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(state(&tmp));
    let path = crate::web::stylesheet_path();
    let (status, h, body) = exchange(&app, page(path, "")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(body.contains("outline"), "focus is visible");
    let (status, _, _) = exchange(&app, page("/static/carnac.css", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
