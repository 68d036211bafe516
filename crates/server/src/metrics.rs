//! Prometheus metrics at `/metrics` (OpenMetrics text): requests by route, method and
//! status class with their latency, and what the archive counts (ingests by status,
//! maintenance duties, audits) with the transfer queue's depth. Labels are bounded: routes
//! are the table's templates, never a path's values; tenants appear only for the few the
//! configuration names (`[server] metrics_tenants`), the others summed as `other`.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::{ApiError, AppState};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    /// `2xx`, `4xx`…
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestLabels {
    tenant: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DutyLabels {
    duty: String,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The HTTP side, counted as requests are answered.
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

/// Counts every request of a route of the table, with its latency.
pub(crate) async fn measure(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = format!("{}xx", response.status().as_u16() / 100);
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels { method, route })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let archive = state.archive.clone();
    let queued = crate::blocking(move || Ok(archive.catalog().queued_transfers()?.len())).await?;
    let stats = state.archive.stats();
    let mut registry = Registry::default();
    registry.register(
        "carnac_http_requests",
        "Requests answered, by route (its template), method and status class",
        state.metrics.requests.clone(),
    );
    registry.register(
        "carnac_http_request_duration_seconds",
        "Time to answer a request, by route and method",
        state.metrics.latency.clone(),
    );
    let ingests = Family::<IngestLabels, Counter>::default();
    for ((tenant, status), n) in &stats.ingests {
        let tenant = if state.metrics_tenants.contains(tenant) {
            tenant.to_string()
        } else {
            "other".to_owned()
        };
        ingests
            .get_or_create(&IngestLabels {
                tenant,
                status: (*status).to_owned(),
            })
            .inc_by(*n);
    }
    registry.register(
        "carnac_ingests",
        "Ingests ended by this node, by status (tenants named only when configured)",
        ingests,
    );
    let errors = Counter::<u64>::default();
    errors.inc_by(stats.ingest_errors);
    registry.register(
        "carnac_ingest_errors",
        "Ingests this node could not run (storage, a tenant suspended meanwhile)",
        errors,
    );
    let duties = Family::<DutyLabels, Counter>::default();
    for (duty, n) in &stats.duties {
        duties
            .get_or_create(&DutyLabels {
                duty: (*duty).to_owned(),
            })
            .inc_by(*n);
    }
    registry.register(
        "carnac_maintenance_duties",
        "Maintenance duties done by this node (seals, evidence records, renewals…)",
        duties,
    );
    let failed = Counter::<u64>::default();
    failed.inc_by(stats.duties_failed);
    registry.register(
        "carnac_maintenance_failures",
        "Maintenance duties that failed on this node",
        failed,
    );
    let audits = Counter::<u64>::default();
    audits.inc_by(stats.audits);
    registry.register("carnac_audits", "Audits run by this node", audits);
    let damage = Counter::<u64>::default();
    damage.inc_by(stats.audit_damage);
    registry.register(
        "carnac_audit_damaged_copies",
        "Copies the audits of this node found damaged or missing",
        damage,
    );
    let queue = Gauge::<i64>::default();
    queue.set(i64::try_from(queued).unwrap_or(i64::MAX));
    registry.register(
        "carnac_transfer_queue_depth",
        "Transfers received and waiting for their ingest, or in it (every node's)",
        queue,
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).map_err(|e| {
        tracing::error!(error = %e, "encoding the metrics");
        ApiError::internal()
    })?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
