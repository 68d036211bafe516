//! `/api/v1/tenants/{tenant}/journal`: the events of an operation, a unit or an object.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, CancelOnDrop, blocking, operation_id, tenant_id};
use std::sync::atomic::AtomicBool;

/// The journal of an operation, a unit or an object (exactly one of them), each event with
/// the seal that covers it.
pub(super) async fn journal(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let subject = ["operation", "unit", "object"]
        .iter()
        .filter_map(|k| params.get(*k).map(|v| (*k, v.clone())))
        .collect::<Vec<_>>();
    check_params(&params, &["operation", "unit", "object", "after", "limit"])?;
    let [(kind, id)] = <[(&str, String); 1]>::try_from(subject).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "give exactly one of operation, unit, object",
        )
    })?;
    let after = match params.get("after") {
        None => 0,
        Some(_) => number(&params, "after", 1, u64::MAX)?,
    };
    let limit = number(&params, "limit", 1000, 10_000)? as usize;
    let limits = &state.limits.search;
    let started = std::time::Instant::now();
    let Some(_permit) = state
        .gates()
        .journal
        .enter(t.as_str(), limits.journal_timeout)
        .await
    else {
        return Err(busy_reading("journal views"));
    };
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(cancelled.clone());
    let page = carnac_archive::report::JournalPage {
        after,
        limit,
        interrupt: carnac_catalog::Interrupt::new(
            Some(started + limits.journal_timeout),
            vec![cancelled, state.stopping.clone()],
        ),
    };
    let archive = state.archive.clone();
    let (events, more) = blocking(move || {
        archive.require_tenant(&t)?;
        if kind == "operation" {
            let op = operation_id(&id)?;
            Ok(archive.operation_journal(&t, &op, &page)?)
        } else {
            let l = archive.lifecycle(&t, &id, &page)?;
            Ok((l.events, l.more))
        }
    })
    .await?;
    let next = more.then(|| events.last().map(|e| e.sequence)).flatten();
    Ok(axum::Json(JournalView {
        events: events.into_iter().map(Into::into).collect(),
        more,
        next_after: next,
    })
    .into_response())
}
