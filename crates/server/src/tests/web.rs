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

/// A SEDA 2.2 transfer of one unit titled `title` with one file.
fn unit_with_file(title: &str, content: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    use std::io::Write;
    let escaped = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2">
<Date>2026-12-04T04:00:00</Date><MessageIdentifier>web</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
<CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>
<DataObjectPackage><DataObjectGroup id="G1"><BinaryDataObject id="O1"><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/f.txt</Uri><MessageDigest algorithm="SHA-256">{}</MessageDigest><Size>{}</Size><FileInfo><Filename>délibération.txt</Filename></FileInfo></BinaryDataObject></DataObjectGroup>
<DescriptiveMetadata><ArchiveUnit id="U1"><Content><DescriptionLevel>Item</DescriptionLevel><Title>{escaped}</Title><StartDate>2019-03-04</StartDate><EndDate>2019-03-04</EndDate></Content><DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit></DescriptiveMetadata>
<ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier></ManagementMetadata>
</DataObjectPackage><ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency></ArchiveTransfer>"#,
        hex::encode(sha2::Sha256::digest(content)),
        content.len()
    );
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("manifest.xml", opts).unwrap();
    w.write_all(manifest.as_bytes()).unwrap();
    w.start_file("Content/f.txt", opts).unwrap();
    w.write_all(content).unwrap();
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_search_leads_to_a_unit_and_its_file_shown_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let title = "Délibération <script>alert(\"x\")</script> d'O'Brien";
    let content = b"Le conseil municipal, r\xc3\xa9uni le 4 mars 2019, d\xc3\xa9lib\xc3\xa8re.\n";
    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/0/transfers",
            &tokens.archivist,
            unit_with_file(title, content),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let op: serde_json::Value = serde_json::from_str(&body).unwrap();
    let done = wait_done(
        &app,
        "0",
        op["operation"].as_str().unwrap(),
        &tokens.archivist,
    )
    .await;
    assert_eq!(done["status"], "OK", "{done}");
    let session = signed_in(&app, "arch").await;
    // The home page offers the search, labelled as the contract says.
    let (_, _, body) = exchange(&app, page("/", &session)).await;
    assert!(
        body.contains("<label for=\"q\">Rechercher</label>"),
        "{body}"
    );
    // A search: the count, the unit as text, the facets.
    let (status, _, body) =
        exchange(&app, page("/recherche?q=d%C3%A9lib%C3%A9ration", &session)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("1 résultat"), "{body}");
    assert!(!body.contains("<script>alert"), "a title is text: {body}");
    assert!(body.contains("&#60;script&#62;"), "{body}");
    assert!(body.contains("4\u{a0}mars\u{a0}2019"), "{body}");
    assert!(body.contains("agency=FRAN_NP_009913"), "a facet: {body}");
    assert!(body.contains("year=2019"), "{body}");
    let at = body.find("href=\"/unites/").unwrap() + "href=\"".len();
    let unit_path = body[at..].split('"').next().unwrap().to_owned();
    // A facet chosen: the filter said, removable.
    let (_, _, faceted) = exchange(
        &app,
        page(
            "/recherche?q=d%C3%A9lib%C3%A9ration&agency=FRAN_NP_009913&year=2019",
            &session,
        ),
    )
    .await;
    assert!(faceted.contains("1 résultat") && faceted.contains("retirer ce filtre"));
    let (_, _, none) = exchange(
        &app,
        page("/recherche?q=d%C3%A9lib%C3%A9ration&year=1900", &session),
    )
    .await;
    assert!(none.contains("0 résultat"), "{none}");
    // The unit: its fields, its file with size and digest, its download checked.
    let (status, _, body) = exchange(&app, page(&unit_path, &session)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains("<script>alert"), "{body}");
    assert!(body.contains("délibération.txt"), "{body}");
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(content));
    assert!(body.contains(&digest), "{body}");
    let at = body.find("/fichiers/").unwrap();
    let start = body[..at].rfind('"').unwrap() + 1;
    let file_path = body[start..].split('"').next().unwrap().to_owned();
    let (status, h, got) = exchange(&app, page(&file_path, &session)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got.as_bytes(), content);
    assert!(
        h.contains_key("repr-digest") || h.contains_key("digest"),
        "{h:?}"
    );
    // Without a session, nothing; a unit of nowhere, a page that says so.
    let (status, h, _) = exchange(&app, page(&unit_path, "")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/connexion");
    let (status, _, _) = exchange(&app, page("/unites/au-nowhere", &session)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another tenant's archivist does not see it, by search or by address.
    let other = signed_in(&app, "arch-other").await;
    let (_, _, body) = exchange(&app, page("/recherche?q=d%C3%A9lib%C3%A9ration", &other)).await;
    assert!(body.contains("0 résultat"), "{body}");
    let (status, _, _) = exchange(&app, page(&unit_path, &other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = exchange(&app, page(&file_path, &other)).await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "{status}"
    );
    // A producer may not search: said so.
    let producer = signed_in(&app, "prod").await;
    let (status, _, _) =
        exchange(&app, page("/recherche?q=d%C3%A9lib%C3%A9ration", &producer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
