//! The operator's pages: tenants and accounts, referentials and their versions, a tenant's
//! export.

use super::*;

#[tokio::test]
async fn the_operator_creates_a_tenant_and_an_account() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let app = app(st);
    let operator = signed_in(&app, "op").await;
    let (_, _, home) = exchange(&app, page("/", &operator)).await;
    assert!(home.contains("href=\"/administration\""), "{home}");
    let (status, _, admin) = exchange(&app, page("/administration", &operator)).await;
    assert_eq!(status, StatusCode::OK, "{admin}");
    let csrf = csrf_of(&admin);
    let created = after(
        &app,
        &operator,
        form(
            "/administration/services",
            &operator,
            &[
                ("csrf", &csrf),
                ("identifiant", "saint-malo"),
                ("nom", "Ville de Saint-Malo"),
            ],
        ),
    )
    .await;
    assert!(
        created.contains("Ville de Saint-Malo") && created.contains("Actif"),
        "{created}"
    );
    // The same again, and an identifier that is not one: refused, said.
    let (status, _, again) = exchange(
        &app,
        form(
            "/administration/services",
            &operator,
            &[("csrf", &csrf), ("identifiant", "saint-malo")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert!(again.contains("n’a pas pu être créé"), "{again}");
    let (status, _, _) = exchange(
        &app,
        form(
            "/administration/services",
            &operator,
            &[("csrf", &csrf), ("identifiant", "saint malo")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An account for it: its problems all said at once, then created with a token shown once.
    let (status, _, bad) = exchange(
        &app,
        form(
            "/administration/comptes",
            &operator,
            &[
                ("csrf", &csrf),
                ("identifiant", "julie"),
                ("role", "chef"),
                ("services", "saint malo?"),
                ("mot_de_passe", "court"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad.contains("choisissez un rôle")
            && bad.contains("12 caractères")
            && bad.contains("n’est pas un identifiant"),
        "{bad}"
    );
    let (status, _, made) = exchange(
        &app,
        form(
            "/administration/comptes",
            &operator,
            &[
                ("csrf", &csrf),
                ("identifiant", "julie"),
                ("role", "archivist"),
                ("services", "saint-malo"),
                ("mot_de_passe", "secret"),
                ("jeton", "oui"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a short password: {made}");
    let (status, _, made) = exchange(
        &app,
        form(
            "/administration/comptes",
            &operator,
            &[
                ("csrf", &csrf),
                ("identifiant", "julie"),
                ("role", "archivist"),
                ("services", "saint-malo"),
                ("mot_de_passe", "un mot de passe assez long"),
                ("jeton", "oui"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert!(
        made.contains("Le compte <strong>julie</strong> est créé"),
        "{made}"
    );
    assert!(made.contains("carnac_"), "its token, once: {made}");
    let (_, _, later) = exchange(&app, page("/administration/comptes", &operator)).await;
    assert!(!later.contains("affiché cette fois seulement"), "{later}");
    // The token works, until it is revoked from the account's page.
    let token = made
        .split("<code class=\"empreinte\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, _) = send(&app, get("/api/v1/me", &token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, account_page) =
        exchange(&app, page("/administration/comptes/julie", &operator)).await;
    assert_eq!(status, StatusCode::OK, "{account_page}");
    assert!(!account_page.contains(&token), "never the token itself");
    let at = account_page.find("/jetons/").unwrap();
    let start = account_page[..at].rfind('"').unwrap() + 1;
    let revoke = account_page[start..].split('"').next().unwrap().to_owned();
    let revoked = after(
        &app,
        &operator,
        form(&revoke, &operator, &[("csrf", &csrf)]),
    )
    .await;
    assert!(revoked.contains("Révoqué le"), "{revoked}");
    let (status, _, _) = send(&app, get("/api/v1/me", &token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Julie signs in to her tenant; disabled, her session ends.
    let (_, h, body) = exchange(&app, page("/connexion", "")).await;
    let pre = cookie_value(&h, "carnac_connexion").unwrap();
    let (status, h, _) = exchange(
        &app,
        form(
            "/connexion",
            &format!("carnac_connexion={pre}"),
            &[
                ("csrf", &csrf_of(&body)),
                ("login", "julie"),
                ("password", "un mot de passe assez long"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let julie = format!(
        "carnac_session={}",
        cookie_value(&h, "carnac_session").unwrap()
    );
    let (_, _, home) = exchange(&app, page("/", &julie)).await;
    assert!(home.contains("saint-malo"), "{home}");
    let disabled = after(
        &app,
        &operator,
        form(
            "/administration/comptes/julie/etat",
            &operator,
            &[("csrf", &csrf), ("action", "desactiver")],
        ),
    )
    .await;
    assert!(disabled.contains("Désactivé"), "{disabled}");
    let (status, h, _) = exchange(&app, page("/", &julie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/connexion?session=terminee");
    // The tenant suspended, then resumed.
    let suspended = after(
        &app,
        &operator,
        form(
            "/administration/services/saint-malo/suspension",
            &operator,
            &[("csrf", &csrf), ("action", "suspendre")],
        ),
    )
    .await;
    assert!(suspended.contains("Suspendu"), "{suspended}");
    // Nobody but the operator: an archivist is refused, and sees no link.
    let archivist = signed_in(&app, "arch").await;
    let (status, _, _) = exchange(&app, page("/administration", &archivist)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = exchange(
        &app,
        form(
            "/administration/services",
            &archivist,
            &[("csrf", "x"), ("identifiant", "pirate")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, home) = exchange(&app, page("/", &archivist)).await;
    assert!(!home.contains("href=\"/administration\""));
}

/// A zip of a folder's files, under their paths relative to it.
fn zip_folder(dir: &std::path::Path) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                w.start_file(name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                w.write_all(&std::fs::read(&path).unwrap()).unwrap();
            }
        }
    }
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn the_operator_imports_referentials_and_sees_their_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    let app = app(st);
    let operator = signed_in(&app, "op").await;
    let (status, _, body) = exchange(
        &app,
        page("/administration/referentiels?service=other", &operator),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("Règles de gestion") && body.contains("version 1"),
        "{body}"
    );
    let csrf = csrf_of(&body);
    let folder = zip_folder(&testdata().join("referentials/tenant-0"));
    let (status, _, imported) = exchange(
        &app,
        upload_to(
            "/administration/referentiels/other",
            &operator,
            &csrf,
            "dossier",
            &folder,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    assert!(
        imported.contains("Importés") && imported.contains("version 2"),
        "{imported}"
    );
    // A container that is not one: nothing imported, and why.
    let (status, _, refused) = exchange(
        &app,
        upload_to(
            "/administration/referentiels/other",
            &operator,
            &csrf,
            "dossier",
            b"not a zip",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains("Rien n’a été importé"), "{refused}");
    // A forged form, and an archivist: refused before the file is read.
    let (status, _, _) = exchange(
        &app,
        upload_to(
            "/administration/referentiels/other",
            &operator,
            "forged",
            "dossier",
            &folder,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let archivist = signed_in(&app, "arch").await;
    let acsrf = csrf_of(&exchange(&app, page("/", &archivist)).await.2);
    let (status, _, _) = exchange(
        &app,
        upload_to(
            "/administration/referentiels/0",
            &archivist,
            &acsrf,
            "dossier",
            &folder,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_operator_exports_a_tenant_and_downloads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = state_with_accounts(&tmp);
    ingested(&st);
    let app = app(st.clone());
    let operator = signed_in(&app, "op").await;
    let (status, _, chooser) = exchange(&app, page("/administration/exports", &operator)).await;
    assert_eq!(status, StatusCode::OK, "{chooser}");
    assert!(chooser.contains("<option value=\"other\""), "{chooser}");
    let (_, _, none) = exchange(&app, page("/administration/exports?service=0", &operator)).await;
    assert!(none.contains("Aucun export"), "{none}");
    let csrf = csrf_of(&none);
    let (status, _, refused) = exchange(
        &app,
        form(
            "/administration/exports/0",
            &operator,
            &[("csrf", &csrf), ("unites", "beaucoup")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("nombre entier"), "{refused}");
    let (status, h, _) = exchange(
        &app,
        form(
            "/administration/exports/0",
            &operator,
            &[("csrf", &csrf), ("unites", "")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/administration/exports?service=0");
    let t = TenantId::new("0").unwrap();
    let job = st.archive.export_jobs(&t).unwrap().remove(0);
    let progress = format!("/administration/exports/0/{}/etat", job.operation);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, h, body) = exchange(&app, page(&progress, &operator)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(h[header::CONTENT_TYPE], "application/json");
        let p: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(p["done"].as_u64().unwrap() <= p["total"].as_u64().unwrap());
        if p["running"] == false {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the export ends");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, _, done) = exchange(&app, page("/administration/exports?service=0", &operator)).await;
    assert!(done.contains("Terminé"), "{done}");
    let link = format!("/administration/exports/0/{}/archive", job.operation);
    assert!(done.contains(&link), "{done}");
    let res = app.clone().oneshot(page(&link, &operator)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/x-tar");
    let tar = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut names = Vec::new();
    for entry in tar::Archive::new(&tar[..]).entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    let root = format!("0-{}/", job.operation);
    assert!(names.iter().all(|n| n.starts_with(&root)), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("manifest.json") || n.contains("manifest")),
        "{names:?}"
    );

    // Not the archivist's, nor another tenant's through this tenant's path.
    let archivist = signed_in(&app, "arch").await;
    let (status, _, _) =
        exchange(&app, page("/administration/exports?service=0", &archivist)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = exchange(&app, page(&link, &archivist)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = exchange(
        &app,
        page(
            &format!("/administration/exports/other/{}/archive", job.operation),
            &operator,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
