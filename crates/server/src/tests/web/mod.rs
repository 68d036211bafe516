//! The web application at the HTTP boundary: the sign-in form and its token, one answer to
//! a wrong login or password, the session cookie, the home page of a tenant, the choice of
//! a tenant (the account's only), signing out, forms from elsewhere refused, the headers.

mod lifecycle;
mod operator;

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
    // Ended on the server: the old cookie opens nothing; the sign-in page says the session
    // ended, and the cookie is forgotten.
    let (status, h, _) = exchange(&app, page("/", &session)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/connexion?session=terminee");
    assert!(
        set_cookies(&h)
            .iter()
            .any(|c| c.starts_with("carnac_session=;"))
    );
    let (_, _, notice) = exchange(&app, page("/connexion?session=terminee", "")).await;
    assert!(notice.contains("Votre session a pris fin"), "{notice}");
    let (_, _, plain) = exchange(&app, page("/connexion", "")).await;
    assert!(!plain.contains("Votre session a pris fin"));
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
    unit_with_file_declared(title, content, content)
}

/// [`unit_with_file`] whose manifest declares the size and digest of `declared`.
fn unit_with_file_declared(title: &str, declared: &[u8], content: &[u8]) -> Vec<u8> {
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
        hex::encode(sha2::Sha256::digest(declared)),
        declared.len()
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
    // Its description laid out whole, in French where SEDA has a usual name, as text.
    assert!(body.contains("Description complète"), "{body}");
    assert!(
        body.contains("<dt>Intitulé</dt><dd>Délibération &#60;script&#62;"),
        "{body}"
    );
    assert!(
        body.contains("<dt>Date de début</dt><dd>2019-03-04</dd>"),
        "{body}"
    );
    // Its evidence bundle: the signed report, its file's record, what verifies them.
    let response = app
        .clone()
        .oneshot(page(&format!("{unit_path}/preuves"), &session))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut names: Vec<String> = tar::Archive::new(&bytes[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for needed in [
        "preuves/report.json",
        "preuves/report.p7s",
        "preuves/trust.pem",
    ] {
        assert!(names.iter().any(|n| n == needed), "{needed} in {names:?}");
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("preuves/records/") && n.ends_with(".ers")),
        "{names:?}"
    );
    // Its history: the ingest that brought it, with the API's lifecycle.
    let (status, _, history) =
        exchange(&app, page(&format!("{unit_path}/historique"), &session)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert!(
        history.contains("Versement traité <code>INGEST</code>"),
        "{history}"
    );
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

/// A multipart form of the transfer page: its fields in this order, the file last.
fn upload(cookie: &str, fields: &[(&str, &str)], file: Option<&[u8]>) -> Request<Body> {
    let boundary = "carnac-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some(file) = file {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"versement\"; filename=\"v.zip\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post("/versements")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap()
}

/// Follows a transfer's page until its ingest is done.
async fn transfer_done(app: &Router, cookie: &str, path: &str) -> String {
    for _ in 0..600 {
        let (status, _, body) = exchange(app, page(path, cookie)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if !body.contains("en cours de traitement") && !body.contains("En attente") {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} not done");
}

#[tokio::test]
async fn a_producer_sends_a_transfer_and_reads_why_it_was_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let app = app(st);
    let producer = signed_in(&app, "prod").await;
    let (status, _, form_page) = exchange(&app, page("/versements/nouveau", &producer)).await;
    assert_eq!(status, StatusCode::OK, "{form_page}");
    assert!(form_page.contains("enctype=\"multipart/form-data\""));
    assert!(
        form_page.contains(crate::web::script_path()),
        "the progress script"
    );
    let csrf = csrf_of(&form_page);
    // No token, or the file before it: refused before the file is read.
    let (status, _, _) = exchange(&app, upload(&producer, &[], Some(b"x"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = exchange(&app, upload(&producer, &[("csrf", "forged")], Some(b"x"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A "token" of megabytes (read no further than 128 bytes) is refused as a forged one.
    let huge = format!("{csrf}{}", "0".repeat(4 << 20));
    let (status, _, _) = exchange(&app, upload(&producer, &[("csrf", &huge)], Some(b"x"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No file: the form again, saying what to do.
    let (status, _, body) = exchange(&app, upload(&producer, &[("csrf", &csrf)], None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("Choisissez le fichier") && body.contains("aria-invalid"),
        "{body}"
    );
    // A transfer whose file does not match its declared digest: refused, and why, in French.
    let bad = unit_with_file_declared("Arrêté du maire", b"original", b"ORIGINAL");
    let (status, h, body) = exchange(&app, upload(&producer, &[("csrf", &csrf)], Some(&bad))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let refused_path = h[header::LOCATION].to_str().unwrap().to_owned();
    assert!(refused_path.starts_with("/versements/"), "{refused_path}");
    let body = transfer_done(&app, &producer, &refused_path).await;
    assert!(
        body.contains("Refusé") && body.contains("Motifs du refus"),
        "{body}"
    );
    assert!(body.contains("empreinte"), "the reason in French: {body}");
    assert!(body.contains("Détail technique"), "{body}");
    assert!(
        body.contains("/reponse") && body.contains("/accuse"),
        "{body}"
    );
    let (status, h, atr) =
        exchange(&app, page(&format!("{refused_path}/reponse"), &producer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(atr.contains("ArchiveTransferReply"), "{atr}");
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"ATR-")
    );
    let (status, _, ack) = exchange(&app, page(&format!("{refused_path}/accuse"), &producer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ack.contains("Acknowledgement"), "{ack}");
    // A good one: accepted.
    let (status, h, _) = exchange(
        &app,
        upload(
            &producer,
            &[("csrf", &csrf)],
            Some(&unit_with_file("Délibération", b"bon")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let accepted_path = h[header::LOCATION].to_str().unwrap().to_owned();
    let body = transfer_done(&app, &producer, &accepted_path).await;
    assert!(
        body.contains("Accepté") && body.contains("Unités d’archives"),
        "{body}"
    );
    // Its deposit attestation, signed and timestamped right after the ingest; a refused
    // transfer has none, and is told so.
    assert!(
        body.contains(&format!("{accepted_path}/attestation")),
        "{body}"
    );
    let (status, _, none) = exchange(
        &app,
        page(&format!("{refused_path}/attestation"), &producer),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(none.contains("seuls les versements acceptés"), "{none}");
    for _ in 0..200 {
        let (status, _, _) = exchange(
            &app,
            page(&format!("{accepted_path}/attestation"), &producer),
        )
        .await;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let response = app
        .clone()
        .oneshot(page(&format!("{accepted_path}/attestation"), &producer))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let names: Vec<String> = tar::Archive::new(&bytes[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "attestation/attestation.p7s"),
        "{names:?}"
    );
    // The list: both, newest first; filtered by state.
    let (status, _, list) = exchange(&app, page("/versements", &producer)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (a, r) = (
        list.find(&accepted_path).expect("accepted listed"),
        list.find(&refused_path).expect("refused listed"),
    );
    assert!(a < r, "newest first");
    let (_, _, refused_only) = exchange(&app, page("/versements?etat=refuses", &producer)).await;
    assert!(refused_only.contains(&refused_path) && !refused_only.contains(&accepted_path));
    let (status, _, _) = exchange(&app, page("/versements?etat=n", &producer)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = exchange(&app, page("/versements?avant=x&id=y", &producer)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Its home page lists them; another producer's does not.
    let (_, _, home) = exchange(&app, page("/", &producer)).await;
    assert!(
        home.contains("Derniers versements") && home.contains(&refused_path),
        "{home}"
    );
    assert!(
        !home.contains("Intégrité et preuves"),
        "not the producer's: {home}"
    );
    // Another producer of the tenant sees neither; the archivist sees both.
    let other = signed_in(&app, "prod2").await;
    let (_, _, home) = exchange(&app, page("/", &other)).await;
    assert!(
        !home.contains(&refused_path) && home.contains("Aucun versement"),
        "{home}"
    );
    let (_, _, list) = exchange(&app, page("/versements", &other)).await;
    assert!(
        !list.contains(&refused_path) && list.contains("Aucun versement"),
        "{list}"
    );
    let (status, _, _) = exchange(&app, page(&refused_path, &other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = exchange(&app, page(&format!("{refused_path}/reponse"), &other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let archivist = signed_in(&app, "arch").await;
    let (_, _, list) = exchange(&app, page("/versements", &archivist)).await;
    assert!(list.contains(&refused_path) && list.contains(&accepted_path));
    let (_, _, journal) = exchange(&app, page("/journal", &archivist)).await;
    assert!(
        journal.contains(&format!("{accepted_path}/attestation")),
        "the attestation listed: {journal}"
    );
    let (_, _, home) = exchange(&app, page("/", &archivist)).await;
    assert!(home.contains("Unités d’archives par année"), "{home}");
    assert!(home.contains("year=2019\">2019</a>"), "{home}");
    // The control authority reads them, but may not send one.
    let control = signed_in(&app, "ctl").await;
    let (_, _, list) = exchange(&app, page("/versements", &control)).await;
    assert!(list.contains(&refused_path) && !list.contains("/versements/nouveau"));
    let (status, _, _) = exchange(&app, page("/versements/nouveau", &control)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Another tenant's archivist: nothing of it.
    let stranger = signed_in(&app, "arch-other").await;
    let (status, _, _) = exchange(&app, page(&refused_path, &stranger)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_journal_is_read_by_pages_and_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    st.archive
        .seal(&TenantId::new("0").unwrap(), "test")
        .unwrap()
        .expect("a seal");
    let app = app(st);
    let archivist = signed_in(&app, "arch").await;
    // The menu leads there; the home page says where the proof stands.
    let (_, _, home) = exchange(&app, page("/", &archivist)).await;
    assert!(home.contains("href=\"/journal\""), "{home}");
    assert!(home.contains("Intégrité et preuves"), "{home}");
    assert!(home.contains("aucun audit pour l’instant"), "{home}");
    let seal_line = home.split("Dernier scellement du journal").nth(1).unwrap();
    assert!(seal_line.contains("(réussi)"), "{home}");
    let (status, _, body) = exchange(&app, page("/journal", &archivist)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Création du service d’archives"), "{body}");
    assert!(
        body.contains("Derniers sceaux") && body.contains("scellé le"),
        "{body}"
    );
    assert!(
        body.contains("pas encore scellé"),
        "later events are not: {body}"
    );
    // Filtered: seals only; a kind not offered is refused.
    let (_, _, seals) = exchange(&app, page("/journal?type=JOURNAL_SEAL", &archivist)).await;
    assert!(
        seals.contains("Scellement du journal <code>JOURNAL_SEAL</code>"),
        "{seals}"
    );
    assert!(!seals.contains("<code>TENANT_CREATE</code>"), "{seals}");
    let (status, _, _) = exchange(&app, page("/journal?type=%3Cscript%3E", &archivist)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = exchange(&app, page("/journal?resultat=PEUT-ETRE", &archivist)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Verified: intact, and the verification journaled.
    let csrf = csrf_of(&body);
    let (status, _, _) = exchange(
        &app,
        form("/journal/verifier", &archivist, &[("csrf", "x")]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged form does nothing");
    let (status, _, result) = exchange(
        &app,
        form("/journal/verifier", &archivist, &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert!(result.contains("Journal intact"), "{result}");
    let (_, _, verifications) =
        exchange(&app, page("/journal?type=JOURNAL_VERIFY", &archivist)).await;
    assert_eq!(
        verifications.matches("<code>JOURNAL_VERIFY</code>").count(),
        1,
        "{verifications}"
    );
    // The auditor reads it; a producer may not (and its menu does not offer it).
    let auditor = signed_in(&app, "aud").await;
    let (status, _, _) = exchange(&app, page("/journal", &auditor)).await;
    assert_eq!(status, StatusCode::OK);
    let producer = signed_in(&app, "prod").await;
    let (status, _, _) = exchange(&app, page("/journal", &producer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, home) = exchange(&app, page("/", &producer)).await;
    assert!(!home.contains("href=\"/journal\"") && home.contains("href=\"/versements\""));
    // Another tenant's archivist reads its own journal only.
    let other = signed_in(&app, "arch-other").await;
    let (_, _, body) = exchange(&app, page("/journal?type=JOURNAL_VERIFY", &other)).await;
    assert!(!body.contains("<code>JOURNAL_VERIFY</code>"), "{body}");
}

/// Follows a form's redirect: the page it leads to.
async fn after(app: &Router, cookie: &str, req: Request<Body>) -> String {
    let (status, h, body) = exchange(app, req).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (status, _, body) =
        exchange(app, page(h[header::LOCATION].to_str().unwrap(), cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_unit_names_its_children_and_its_parent() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.2">
<Date>2026-12-04T04:00:00</Date><MessageIdentifier>tree</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
<CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>
<DataObjectPackage>
<DescriptiveMetadata><ArchiveUnit id="P"><Content><DescriptionLevel>File</DescriptionLevel><Title>Dossier des marchés de voirie</Title></Content>
<ArchiveUnit id="C1"><Content><DescriptionLevel>Item</DescriptionLevel><Title>Cahier des clauses</Title></Content></ArchiveUnit>
<ArchiveUnit id="C2"><Content><DescriptionLevel>Item</DescriptionLevel><Title>Acte d’engagement</Title></Content></ArchiveUnit>
</ArchiveUnit></DescriptiveMetadata>
<ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier></ManagementMetadata>
</DataObjectPackage><ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency></ArchiveTransfer>"#;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("manifest.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(manifest.as_bytes()).unwrap();
    let zip = w.finish().unwrap().into_inner();
    let (status, body, _) = send(
        &app,
        post("/api/v1/tenants/0/transfers", &tokens.archivist, zip),
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
    assert_eq!(done["status"], "WARNING", "accepted, without files: {done}");
    let session = signed_in(&app, "arch").await;
    let (_, _, found) = exchange(&app, page("/recherche?q=voirie", &session)).await;
    let at = found.find("href=\"/unites/").unwrap() + "href=\"".len();
    let parent = found[at..].split('"').next().unwrap().to_owned();
    let (status, _, body) = exchange(&app, page(&parent, &session)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let contains = body
        .split("id=\"titre-enfants\"")
        .nth(1)
        .expect("its children");
    assert!(
        contains.contains("Cahier des clauses") && contains.contains("Acte d’engagement"),
        "{body}"
    );
    let at = contains.find("href=\"/unites/").unwrap() + "href=\"".len();
    let child = contains[at..].split('"').next().unwrap().to_owned();
    let (_, _, body) = exchange(&app, page(&child, &session)).await;
    let within = body
        .split("id=\"titre-parents\"")
        .nth(1)
        .expect("its parent");
    assert!(
        within.contains(&format!("href=\"{parent}\""))
            && within.contains("Dossier des marchés de voirie"),
        "{body}"
    );
    assert!(
        !body.contains("id=\"titre-enfants\""),
        "a leaf names no children"
    );
}

/// A multipart form posted to `uri`: the token first, then the file under `name`.
fn upload_to(uri: &str, cookie: &str, csrf: &str, name: &str, file: &[u8]) -> Request<Body> {
    let boundary = "carnac-test-boundary-7f3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f.zip\"\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post(uri)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap()
}

/// Ingests OK_SIP_2_GO into tenant 0: its operation's units, leaves (units without
/// children) first.
fn ingested(st: &AppState) -> (Vec<String>, Vec<String>) {
    use std::io::Write;
    let t = TenantId::new("0").unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&std::fs::read(testdata().join("seda/OK_SIP_2_GO.zip")).unwrap())
        .unwrap();
    let outcome = st
        .archive
        .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let units = st.archive.catalog().units_of_operation(&t, &op).unwrap();
    let leaves = units
        .iter()
        .filter(|u| !units.iter().any(|o| o.parents.contains(&u.id)))
        .map(|u| u.id.to_string())
        .collect();
    let all = units.iter().map(|u| u.id.to_string()).collect();
    (leaves, all)
}
