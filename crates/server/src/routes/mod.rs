//! The API's routes: one table of every path and method with the [`Action`] it asks for,
//! from which the router is built, every request authorized, and the role-matrix and
//! OpenAPI tests read what exists. Handlers live in one module per resource and receive the
//! account the table's decision allowed ([`Caller`]); none of them authorizes by itself.
//!
//! How a request is authorized, in one place ([`authorize_route`]): the matched route's
//! entry gives the action; the path's identifiers (tenant, operation, unit, object) are
//! checked before anything else, so that a malformed one is a 400 whoever asks; then
//! [`crate::auth::authorize`] authenticates the credentials, decides, and journals. The web
//! application's session cookie will be one more kind of credential there, not a change of
//! every handler.

mod accounts;
pub(crate) mod deliveries;
mod eliminations;
pub(crate) mod exports;
mod journal;
pub(crate) mod meta;
mod metadata;
mod params;
pub(crate) mod referentials;
pub(crate) mod responses;
mod rules;
mod tenants;
pub(crate) mod transfers;
mod transfers_out;
pub(crate) mod units;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post};
use carnac_model::access::{Action, Principal};
use carnac_model::elimination::DisposalKind;
use carnac_model::{ObjectId, UnitId};

use crate::{ApiError, AppState, auth};

/// What a request is about, for the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    None,
    /// A path parameter.
    Param(&'static str),
    /// The first of these query parameters that is present.
    Query(&'static [&'static str]),
}

/// One route of the API.
pub(crate) struct Route {
    pub method: &'static str,
    /// The path as the router matches it, `{name}` for a parameter.
    pub path: &'static str,
    /// What it asks for; `None` for the few public routes (health, the OpenAPI document).
    pub action: Option<Action>,
    pub subject: Subject,
    handler: fn() -> MethodRouter<Arc<AppState>>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    action: Option<Action>,
    subject: Subject,
    handler: fn() -> MethodRouter<Arc<AppState>>,
) -> Route {
    Route {
        method,
        path,
        action,
        subject,
        handler,
    }
}

use Subject::{Param, Query};

/// Every route of the API; the as@lae intake, with its own paths and credentials, is
/// [`crate::asalae`].
pub(crate) const ROUTES: &[Route] = &[
    route("GET", "/health", None, Subject::None, || get(meta::health)),
    route("GET", "/health/ready", None, Subject::None, || {
        get(meta::ready)
    }),
    route("GET", "/api/v1/openapi.json", None, Subject::None, || {
        get(meta::openapi)
    }),
    route(
        "GET",
        "/metrics",
        Some(Action::MetricsRead),
        Subject::None,
        || get(crate::metrics::metrics),
    ),
    route(
        "GET",
        "/api/v1/me",
        Some(Action::Identify),
        Subject::None,
        || get(meta::me),
    ),
    route(
        "GET",
        "/api/v1/tenants",
        Some(Action::TenantList),
        Subject::None,
        || get(tenants::list),
    ),
    route(
        "POST",
        "/api/v1/tenants",
        Some(Action::TenantCreate),
        Subject::None,
        || post(tenants::create),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/exports",
        Some(Action::TenantExport),
        Subject::None,
        || post(exports::start),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/exports",
        Some(Action::TenantExport),
        Subject::None,
        || get(exports::list),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/exports/{operation}",
        Some(Action::TenantExport),
        Param("operation"),
        || get(exports::one),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/exports/{operation}/archive",
        Some(Action::TenantExport),
        Param("operation"),
        || get(exports::archive),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/suspend",
        Some(Action::TenantSuspend),
        Subject::None,
        || post(tenants::suspend),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/resume",
        Some(Action::TenantSuspend),
        Subject::None,
        || post(tenants::resume),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/referentials",
        Some(Action::ReferentialRead),
        Subject::None,
        || get(referentials::list),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/referentials",
        Some(Action::ReferentialImport),
        Subject::None,
        || post(referentials::import),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/referentials/{kind}/versions",
        Some(Action::ReferentialRead),
        Subject::None,
        || get(referentials::versions),
    ),
    route(
        "GET",
        "/api/v1/accounts",
        Some(Action::AccountList),
        Subject::None,
        || get(accounts::list),
    ),
    route(
        "POST",
        "/api/v1/accounts",
        Some(Action::AccountCreate),
        Subject::None,
        || post(accounts::create),
    ),
    route(
        "POST",
        "/api/v1/accounts/{login}/disable",
        Some(Action::AccountDisable),
        Param("login"),
        || post(accounts::disable),
    ),
    route(
        "POST",
        "/api/v1/accounts/{login}/enable",
        Some(Action::AccountDisable),
        Param("login"),
        || post(accounts::enable),
    ),
    route(
        "GET",
        "/api/v1/accounts/{login}/tokens",
        Some(Action::AccountList),
        Param("login"),
        || get(accounts::tokens),
    ),
    route(
        "POST",
        "/api/v1/accounts/{login}/tokens/{token}/revoke",
        Some(Action::AccountDisable),
        Param("login"),
        || post(accounts::revoke_token),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/transfers",
        Some(Action::TransferSubmit),
        Subject::None,
        || post(transfers::submit),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/operations/{operation}",
        Some(Action::OperationRead),
        Param("operation"),
        || get(transfers::operation),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/operations/{operation}/ack",
        Some(Action::OperationRead),
        Param("operation"),
        || get(transfers::ack),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/operations/{operation}/atr",
        Some(Action::OperationRead),
        Param("operation"),
        || get(transfers::atr),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/eliminations",
        Some(Action::EliminationPropose),
        Subject::None,
        || post(eliminations::propose),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations",
        Some(Action::EliminationRead),
        Subject::None,
        || get(eliminations::list),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}",
        Some(Action::EliminationRead),
        Param("elimination"),
        || get(eliminations::show),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/request",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::REQUEST_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/producer-request",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::PRODUCER_REQUEST_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/agreement",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::AGREEMENT_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/visa",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::VISA_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/bordereau",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::BORDEREAU_HTML,
                "text/html; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/bordereau/pdf",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::BORDEREAU_PDF,
                "application/pdf",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/notification",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::NOTIFICATION_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/certificate",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::CERTIFICATE_JSON,
                "application/json",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/certificate/signature",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::CERTIFICATE_P7S,
                "application/pkcs7-signature",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/certificate/signer",
        Some(Action::EliminationRead),
        Param("elimination"),
        || {
            eliminations::document(
                carnac_archive::elimination::SIGNER_PEM,
                "application/x-pem-file",
            )
        },
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/agreement",
        Some(Action::EliminationAgree),
        Param("elimination"),
        || post(eliminations::agreement),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/visa",
        Some(Action::EliminationVisa),
        Param("elimination"),
        || post(eliminations::visa),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/execution",
        Some(Action::EliminationExecute),
        Param("elimination"),
        || post(eliminations::execution),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/eliminations/{elimination}/withdrawal",
        Some(Action::EliminationPropose),
        Param("elimination"),
        || post(eliminations::withdrawal),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/deliveries",
        Some(Action::DeliveryRequest),
        Subject::None,
        || post(deliveries::request),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/deliveries",
        Some(Action::DeliveryRead),
        Subject::None,
        || get(deliveries::list),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/deliveries/{delivery}",
        Some(Action::DeliveryRead),
        Param("delivery"),
        || get(deliveries::show),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/deliveries/{delivery}/package",
        Some(Action::DeliveryRead),
        Param("delivery"),
        || get(deliveries::package),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/deliveries/{delivery}/request",
        Some(Action::DeliveryRead),
        Param("delivery"),
        || deliveries::document(carnac_archive::delivery::REQUEST_XML),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/deliveries/{delivery}/reply",
        Some(Action::DeliveryRead),
        Param("delivery"),
        || deliveries::document(carnac_archive::delivery::REPLY_XML),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/deliveries/{delivery}/authorization",
        Some(Action::DeliveryRead),
        Param("delivery"),
        || deliveries::document(carnac_archive::delivery::AUTHORIZATION_XML),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/deliveries/{delivery}/authorization",
        Some(Action::DeliveryAuthorize),
        Param("delivery"),
        || post(deliveries::authorization),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/transfers-out",
        Some(Action::TransferOutPropose),
        Subject::None,
        || post(transfers_out::propose),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out",
        Some(Action::TransferOutRead),
        Subject::None,
        || transfers_out::list(DisposalKind::TransferOut),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}",
        Some(Action::TransferOutRead),
        Param("transfer"),
        || transfers_out::show(DisposalKind::TransferOut),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/package",
        Some(Action::TransferOutRead),
        Param("transfer"),
        || transfers_out::package(DisposalKind::TransferOut),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/reply",
        Some(Action::TransferOutReply),
        Param("transfer"),
        || transfers_out::message(DisposalKind::TransferOut),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/withdrawal",
        Some(Action::TransferOutPropose),
        Param("transfer"),
        || transfers_out::withdrawal(DisposalKind::TransferOut),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/notification",
        Some(Action::TransferOutRead),
        Param("transfer"),
        || {
            transfers_out::document(
                DisposalKind::TransferOut,
                carnac_archive::elimination::NOTIFICATION_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/certificate",
        Some(Action::TransferOutRead),
        Param("transfer"),
        || {
            transfers_out::document(
                DisposalKind::TransferOut,
                carnac_archive::elimination::CERTIFICATE_JSON,
                "application/json",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/certificate/signature",
        Some(Action::TransferOutRead),
        Param("transfer"),
        || {
            transfers_out::document(
                DisposalKind::TransferOut,
                carnac_archive::elimination::CERTIFICATE_P7S,
                "application/pkcs7-signature",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/certificate/signer",
        Some(Action::TransferOutRead),
        Param("transfer"),
        || {
            transfers_out::document(
                DisposalKind::TransferOut,
                carnac_archive::elimination::SIGNER_PEM,
                "application/x-pem-file",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/reply",
        Some(Action::TransferOutRead),
        Param("transfer"),
        || {
            transfers_out::document(
                DisposalKind::TransferOut,
                carnac_archive::elimination::REPLY_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/transfers-out/{transfer}/acknowledgement",
        Some(Action::TransferOutRead),
        Param("transfer"),
        || {
            transfers_out::document(
                DisposalKind::TransferOut,
                carnac_archive::elimination::ACKNOWLEDGEMENT_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/restitutions",
        Some(Action::RestitutionPropose),
        Subject::None,
        || post(transfers_out::propose_restitution),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions",
        Some(Action::RestitutionRead),
        Subject::None,
        || transfers_out::list(DisposalKind::Restitution),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || transfers_out::show(DisposalKind::Restitution),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/package",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || transfers_out::package(DisposalKind::Restitution),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/reply",
        Some(Action::RestitutionReply),
        Param("restitution"),
        || transfers_out::message(DisposalKind::Restitution),
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/withdrawal",
        Some(Action::RestitutionPropose),
        Param("restitution"),
        || transfers_out::withdrawal(DisposalKind::Restitution),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/request",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || {
            transfers_out::document(
                DisposalKind::Restitution,
                carnac_archive::elimination::RESTITUTION_REQUEST_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/notification",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || {
            transfers_out::document(
                DisposalKind::Restitution,
                carnac_archive::elimination::NOTIFICATION_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/certificate",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || {
            transfers_out::document(
                DisposalKind::Restitution,
                carnac_archive::elimination::CERTIFICATE_JSON,
                "application/json",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/certificate/signature",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || {
            transfers_out::document(
                DisposalKind::Restitution,
                carnac_archive::elimination::CERTIFICATE_P7S,
                "application/pkcs7-signature",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/certificate/signer",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || {
            transfers_out::document(
                DisposalKind::Restitution,
                carnac_archive::elimination::SIGNER_PEM,
                "application/x-pem-file",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/reply",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || {
            transfers_out::document(
                DisposalKind::Restitution,
                carnac_archive::elimination::REPLY_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/restitutions/{restitution}/acknowledgement",
        Some(Action::RestitutionRead),
        Param("restitution"),
        || {
            transfers_out::document(
                DisposalKind::Restitution,
                carnac_archive::elimination::ACKNOWLEDGEMENT_XML,
                "application/xml; charset=utf-8",
            )
        },
    ),
    route(
        "POST",
        "/api/v1/tenants/{tenant}/rules/changes",
        Some(Action::RulesChange),
        Subject::None,
        || post(rules::change),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/units",
        Some(Action::UnitSearch),
        Subject::None,
        || get(units::search),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/units/{unit}",
        Some(Action::UnitRead),
        Param("unit"),
        || get(units::unit),
    ),
    route(
        "PATCH",
        "/api/v1/tenants/{tenant}/units/{unit}",
        Some(Action::UnitUpdate),
        Param("unit"),
        || patch(metadata::correct),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/units/{unit}/history",
        Some(Action::UnitRead),
        Param("unit"),
        || get(metadata::history),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/units/{unit}/history/{operation}",
        Some(Action::UnitRead),
        Param("unit"),
        || get(metadata::version),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/units/{unit}/history/{operation}/notification",
        Some(Action::UnitRead),
        Param("unit"),
        || get(metadata::notification),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/objects/{object}",
        Some(Action::ObjectDownload),
        Param("object"),
        || get(units::download),
    ),
    route(
        "GET",
        "/api/v1/tenants/{tenant}/journal",
        Some(Action::JournalRead),
        Query(&["operation", "unit", "object"]),
        || get(journal::journal),
    ),
];

/// The router of [`ROUTES`], each request authorized by [`authorize_route`].
pub(crate) fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for r in ROUTES {
        router = router.route(r.path, (r.handler)());
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorize_route,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            crate::metrics::measure,
        ))
}

/// The entry of a matched route. A HEAD is the GET without its body.
pub(crate) fn find(method: &Method, path: &str) -> Option<&'static Route> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The account a route's decision allowed, for its handler.
pub(crate) struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Caller, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                // A handler that asks for its caller on a public route: a mistake of ours.
                tracing::error!(path = %parts.uri.path(), "a handler has no authorized caller");
                ApiError::internal()
            })
    }
}

/// Authorizes a matched route by its entry in [`ROUTES`], and hands the allowed account to
/// the handler.
async fn authorize_route(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    match allow(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn allow(state: &AppState, request: Request) -> Result<Request, ApiError> {
    let (mut parts, body) = request.into_parts();
    let matched = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let Some(route) = matched.and_then(|m: String| find(&parts.method, &m)) else {
        tracing::error!(path = %parts.uri.path(), "a route is missing from the table");
        return Err(ApiError::internal());
    };
    let Some(action) = route.action else {
        return Ok(Request::from_parts(parts, body));
    };
    let params = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))?;
    let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
    // Identifiers first: a malformed one is named, whoever asks.
    let tenant = param("tenant").map(crate::tenant_id).transpose()?;
    let operation = param("operation").map(crate::operation_id).transpose()?;
    if let Some(u) = param("unit") {
        UnitId::new(u)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_unit", e.to_string()))?;
    }
    for name in ["elimination", "delivery", "transfer", "restitution"] {
        if let Some(e) = param(name) {
            crate::operation_id(e)?;
        }
    }
    if let Some(o) = param("object") {
        ObjectId::new(o)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_object", e.to_string()))?;
    }
    let query: Vec<(String, String)> = match route.subject {
        Subject::Query(_) => {
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                .map(|q| q.0)
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let subject: Option<String> = match route.subject {
        Subject::None => None,
        Subject::Param(name) => param(name).map(str::to_owned),
        Subject::Query(names) => names
            .iter()
            .find_map(|n| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())),
    };
    let presented = auth::Presented::from_request_parts(&mut parts, &())
        .await
        .unwrap_or_else(|never| match never {});
    let who = auth::authorize(
        state,
        &presented,
        auth::Request {
            method: &parts.method,
            path: parts.uri.path(),
            action,
            tenant: tenant.as_ref(),
            operation: operation.as_ref(),
            own: false,
            subject: subject.as_deref(),
        },
    )
    .await?;
    parts.extensions.insert(who);
    Ok(Request::from_parts(parts, body))
}
