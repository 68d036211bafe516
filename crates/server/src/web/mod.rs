//! The web application for archivists, producers, the control authority and the operator
//! (issue 19, decision 13): pages rendered by the binary, in French, over the same use
//! cases, decisions and journal as the API. Built in steps: signing in and out, the choice
//! of a tenant and its volume, search and the page of a unit so far.
//!
//! A page finds its session from the `carnac_session` cookie, then asks
//! [`crate::auth::authorize_as`] for the action it shows (journaled as an API request is);
//! every form carries the session's CSRF token, and the sign-in form one bound to a
//! short-lived cookie of its own. Every answer carries [`security_headers`].

mod administration;
mod deliveries;
mod eliminations;
mod exports;
pub mod fr;
mod journal;
mod outgoing;
pub(crate) mod pages;
mod reasons;
mod transfers;
mod units;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;

/// The session's cookie: its token, never anything else.
pub(crate) const SESSION_COOKIE: &str = "carnac_session";
/// The sign-in form's cookie: the CSRF token of a form shown before any session.
pub(crate) const LOGIN_COOKIE: &str = "carnac_connexion";

/// The web application's routes (the API keeps `/api/v1`, the as@lae intake its base path).
pub(crate) fn router() -> Router<Arc<AppState>> {
    let router = outgoing::routes(Router::new(), &outgoing::TRANSFERS);
    let router = outgoing::routes(router, &outgoing::RESTITUTIONS);
    router
        .route("/", get(pages::home))
        .route("/connexion", get(pages::sign_in_form).post(pages::sign_in))
        .route("/deconnexion", post(pages::sign_out))
        .route("/tenant", post(pages::choose_tenant))
        .route("/recherche", get(units::search))
        .route("/unites/{unit}", get(units::unit))
        .route("/unites/{unit}/fichiers/{object}", get(units::download))
        .route("/unites/{unit}/historique", get(units::history))
        .route("/unites/{unit}/preuves", get(units::evidence))
        .route(
            "/versements",
            get(transfers::list).post(transfers::send).layer(
                // The file is streamed to disk and bounded there, as the API's uploads are.
                axum::extract::DefaultBodyLimit::disable(),
            ),
        )
        .route("/versements/nouveau", get(transfers::send_form))
        .route("/versements/{operation}", get(transfers::one))
        .route(
            "/versements/{operation}/{document}",
            get(transfers::document),
        )
        .route(
            "/eliminations",
            get(eliminations::list).post(eliminations::propose),
        )
        .route("/eliminations/nouvelle", get(eliminations::propose_form))
        .route("/eliminations/{elimination}", get(eliminations::one))
        .route(
            "/eliminations/{elimination}/documents/{document}",
            get(eliminations::document),
        )
        .route(
            "/eliminations/{elimination}/{step}",
            post(eliminations::step),
        )
        .route(
            "/communications",
            get(deliveries::list).post(deliveries::request),
        )
        .route("/communications/nouvelle", get(deliveries::request_form))
        .route("/communications/{delivery}", get(deliveries::one))
        .route(
            "/communications/{delivery}/paquet",
            get(deliveries::package),
        )
        .route(
            "/communications/{delivery}/autorisation",
            post(deliveries::authorize),
        )
        .route("/administration", get(administration::tenants))
        .route(
            "/administration/services",
            post(administration::create_tenant),
        )
        .route(
            "/administration/services/{tenant}/suspension",
            post(administration::suspension),
        )
        .route(
            "/administration/comptes",
            get(administration::accounts).post(administration::create_account),
        )
        .route(
            "/administration/comptes/{login}/etat",
            post(administration::disable),
        )
        .route(
            "/administration/comptes/{login}",
            get(administration::account),
        )
        .route(
            "/administration/comptes/{login}/jetons/{token}/revocation",
            post(administration::revoke),
        )
        .route(
            "/administration/referentiels",
            get(administration::referentials),
        )
        .route(
            "/administration/referentiels/{tenant}",
            post(administration::import_referentials)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/administration/exports", get(exports::exports))
        .route("/administration/exports/{tenant}", post(exports::start))
        .route(
            "/administration/exports/{tenant}/{operation}/etat",
            get(exports::progress_of),
        )
        .route(
            "/administration/exports/{tenant}/{operation}/archive",
            get(exports::download),
        )
        .route("/journal", get(journal::journal))
        .route("/journal/verifier", post(journal::verify))
        .route("/static/{file}", get(pages::asset))
        .layer(axum::middleware::from_fn(security_headers))
}

/// The stylesheet, embedded, served under a name that changes with its content (cached
/// for a year).
pub(crate) const STYLESHEET: &str = include_str!("../../static/carnac.css");

/// The script, embedded: it only improves pages that work without it (an upload's
/// progress, a confirmation before an irreversible step).
pub(crate) const SCRIPT: &str = include_str!("../../static/carnac.js");

/// An asset's path: `/static/carnac-<first 12 hex of its SHA-256>.<extension>`.
fn hashed_path(content: &str, extension: &str) -> String {
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(content.as_bytes()));
    format!("/static/carnac-{}.{extension}", &hash[..12])
}

/// The stylesheet's path, named by its content.
pub(crate) fn stylesheet_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| hashed_path(STYLESHEET, "css"))
}

/// The script's path, named by its content.
pub(crate) fn script_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| hashed_path(SCRIPT, "js"))
}

/// The headers every page and asset carries: no inline script or style, no framing, no
/// sniffing, no referrer outside the archive, no browser feature it does not use.
async fn security_headers(request: Request, next: Next) -> Response {
    let over_tls = request
        .extensions()
        .get::<crate::listen::OverTls>()
        .is_some();
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    );
    set(h, "x-frame-options", "DENY");
    if over_tls {
        set(h, "strict-transport-security", "max-age=31536000");
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    response
}

/// The value of cookie `name` in the request's headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, on the whole site, Secure over TLS;
/// `max_age` 0 removes it.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: Option<u64>, over_tls: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if over_tls {
        c.push_str("; Secure");
    }
    c
}

/// `response` saved by the browser under `name` rather than shown.
pub(crate) fn named(mut response: Response, name: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// A scratch file made for one answer, streamed as `content_type`, saved under `name`.
pub(crate) fn attachment(file: std::fs::File, content_type: &'static str, name: &str) -> Response {
    use axum::response::IntoResponse as _;
    named(
        (
            [(header::CONTENT_TYPE, content_type)],
            axum::body::Body::from_stream(crate::file_stream(tokio::fs::File::from_std(file))),
        )
            .into_response(),
        name,
    )
}

/// A folder the archive writes (`fill` makes `top` in a scratch folder of `uploads`) as a
/// tar in a scratch file, read from its start. Blocking.
pub(crate) fn tar_of(
    uploads: &std::path::Path,
    top: &str,
    fill: impl FnOnce(&std::path::Path) -> Result<(), crate::ApiError>,
) -> Result<std::fs::File, crate::ApiError> {
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "making a tar of {top}");
        crate::ApiError::internal()
    };
    let work = tempfile::tempdir_in(uploads).map_err(internal)?;
    let dir = work.path().join(top);
    fill(&dir)?;
    let mut out = tempfile::tempfile_in(uploads).map_err(internal)?;
    {
        let mut tar = tar::Builder::new(&mut out);
        tar.append_dir_all(top, &dir).map_err(internal)?;
        tar.finish().map_err(internal)?;
    }
    std::io::Seek::rewind(&mut out).map_err(internal)?;
    Ok(out)
}

/// The form's token from the first field of a multipart form: read a chunk at a time and
/// given up past 128 bytes (a "token" of a gigabyte is not read into memory), empty when the
/// first field is not the token.
pub(crate) async fn multipart_token(form: &mut axum::extract::Multipart) -> String {
    let Ok(Some(mut field)) = form.next_field().await else {
        return String::new();
    };
    if field.name() != Some("csrf") {
        return String::new();
    }
    let mut token = Vec::new();
    while let Ok(Some(chunk)) = field.chunk().await {
        if token.len() + chunk.len() > 128 {
            return String::new();
        }
        token.extend_from_slice(&chunk);
    }
    String::from_utf8(token).unwrap_or_default()
}

/// An error's message and every reason it gives, for a page to show them all.
pub(crate) fn every_reason(e: &crate::ApiError) -> String {
    if e.details().is_empty() {
        e.message().to_owned()
    } else {
        format!("{} — {}", e.message(), e.details().join(" ; "))
    }
}

/// Whether two tokens are equal, in a time that does not depend on where they differ.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && !a.is_empty() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name_and_written_strict() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; carnac_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "carnac"), None);
        assert_eq!(
            set_cookie(SESSION_COOKIE, "t", None, true),
            "carnac_session=t; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            set_cookie(LOGIN_COOKIE, "", Some(0), false),
            "carnac_connexion=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
    }

    /// The templates' own text follows French spacing: no plain space before `: ; ? !` or
    /// inside « » (a no-break one, written `&nbsp;` or `&#8239;`), template tags aside.
    #[test]
    fn templates_use_french_spacing() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let tag = regex::Regex::new(r"\{[%{].*?[%}]\}").unwrap();
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let text = tag.replace_all(&text, "");
            for bad in [" :", " ;", " ?", " !", "« ", " »"] {
                assert!(
                    !text.contains(bad),
                    "{}: a plain space in {bad:?}",
                    path.display()
                );
            }
            checked += 1;
        }
        assert!(checked >= 8, "{checked} templates");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", ""), "an empty token matches nothing");
    }
}
