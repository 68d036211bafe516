//! Query parameters and JSON bodies: only the names an endpoint knows, numbers and dates
//! bounded.

use axum::http::StatusCode;

use crate::ApiError;

pub(super) type Params = axum::extract::Query<std::collections::BTreeMap<String, String>>;

/// Only the parameters an endpoint knows: a misspelt filter must not silently widen a search.
pub(super) fn check_params(params: &Params, known: &[&str]) -> Result<(), ApiError> {
    let unknown: Vec<&str> = params
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!(
                "unknown parameter(s) {}; known: {}",
                unknown.join(", "),
                known.join(", ")
            ),
        ))
    }
}

pub(super) fn number(params: &Params, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                format!("{name} must be a whole number from 1 to {max}"),
            )),
        },
    }
}

/// A tenant already has as many costly reads of this kind running as it may, or the server
/// as many as it runs at once, for longer than the request's time limit.
pub(super) fn busy_reading(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!("too many {what} are running for this tenant or in all: try again in a moment"),
    )
    .retry_after(1)
}

pub(super) fn day(params: &Params, name: &str) -> Result<Option<String>, ApiError> {
    let Some(v) = params.get(name) else {
        return Ok(None);
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(v, format).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("{name} must be a day, YYYY-MM-DD"),
        )
    })?;
    Ok(Some(v.clone()))
}

/// A control authority's decision as JSON says it: `"granted"` or `"refused"`.
pub(super) fn granted(decision: &str) -> Result<bool, ApiError> {
    match decision {
        "granted" => Ok(true),
        "refused" => Ok(false),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "decision is \"granted\" or \"refused\"",
        )),
    }
}

pub(super) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))
}

/// A tenant's and an operation's identifiers from a path, each checked.
pub(super) fn ids(
    tenant: &str,
    id: &str,
) -> Result<(carnac_model::TenantId, carnac_model::OperationId), ApiError> {
    Ok((crate::tenant_id(tenant)?, crate::operation_id(id)?))
}
