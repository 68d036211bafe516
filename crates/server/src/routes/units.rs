//! `/api/v1/tenants/{tenant}/units` and `…/objects/{object}`: search, one unit, and its
//! files streamed from a verified copy.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::params::*;
use super::responses::*;
use crate::{ApiError, AppState, CancelOnDrop, blocking, tenant_id};
use std::sync::atomic::AtomicBool;

/// Units of a tenant: free text (`q`), title words, agency, keyword and dates, a page of
/// them (`page`, `per_page`), with the counts of all matches by agency and year.
pub(super) async fn search(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    check_params(
        &params,
        &[
            "q", "title", "agency", "keyword", "from", "to", "page", "per_page",
        ],
    )?;
    let page = number(&params, "page", 1, 1_000_000)?;
    let per_page = number(&params, "per_page", 20, 200)?;
    let query = carnac_catalog::UnitQuery {
        text: params.get("q").cloned(),
        title: params.get("title").cloned(),
        agency: params.get("agency").cloned(),
        keyword: params.get("keyword").cloned(),
        from: day(&params, "from")?,
        to: day(&params, "to")?,
        offset: (page - 1) * per_page,
        limit: per_page,
    };
    let found = search_units(&state, t, query).await?;
    Ok(axum::Json(SearchPage::new(found, page, per_page)).into_response())
}

/// A search of a tenant's units, for the API and the web application alike: refused beyond
/// the backend's window or when too wide, run in the tenant's share of searches, given up at
/// its time limit or when the client leaves.
pub(crate) async fn search_units(
    state: &Arc<AppState>,
    t: carnac_model::TenantId,
    query: carnac_catalog::UnitQuery,
) -> Result<carnac_catalog::UnitPage, ApiError> {
    let window = state.archive.search_window();
    if query.offset >= window {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "too_deep",
            format!(
                "pages stop at the first {window} matches: narrow the search (words, agency, dates)"
            ),
        ));
    }
    let problems = query.problems();
    if !problems.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "the search is refused: narrow it",
        )
        .with_details(problems));
    }
    let limits = &state.limits.search;
    let started = std::time::Instant::now();
    let Some(_permit) = state
        .gates()
        .searches
        .enter(t.as_str(), limits.timeout)
        .await
    else {
        return Err(busy_reading("searches"));
    };
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(cancelled.clone());
    let interrupt = carnac_catalog::Interrupt::new(
        Some(started + limits.timeout),
        vec![cancelled, state.stopping.clone()],
    );
    let archive = state.archive.clone();
    blocking(move || Ok(archive.search_units(&t, &query, &interrupt)?)).await
}

/// A unit: its place in the tree, its metadata (the SEDA XML kept whole), rules, keywords
/// and objects.
pub(super) async fn unit(
    State(state): State<Arc<AppState>>,
    Path((tenant, unit)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let u = carnac_model::UnitId::new(&unit)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_unit", e.to_string()))?;
    let archive = state.archive.clone();
    let found = blocking(move || {
        Ok(match archive.unit_record(&t, &u)? {
            Some(r) => Ok(r),
            None => Err(archive.tombstone(&t, &u)?),
        })
    })
    .await?;
    let record = match found {
        Ok(record) => record,
        // Destroyed by an elimination: gone, and said so, with what remains of it.
        Err(Some(tombstone)) => {
            return Ok(
                (StatusCode::GONE, axum::Json(TombstoneView::from(tombstone))).into_response(),
            );
        }
        Err(None) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such unit for this tenant",
            ));
        }
    };
    Ok(axum::Json(UnitView::from(record)).into_response())
}

/// One `bytes=` range of a file of `size` bytes: (first, last) inclusive. `Ok(None)`: the
/// whole file. `Err`: not satisfiable (416).
pub(super) fn byte_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        // No Range, or a unit other than bytes: the whole representation (RFC 9110 14.2).
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: answered whole, which RFC 9110 allows.
        return Ok(None);
    }
    let (first, last) = spec.split_once('-').ok_or(())?;
    let (first, last) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().map_err(|_| ())?, b.parse().map_err(|_| ())?);
            (a, b.min(size.saturating_sub(1)))
        }
    };
    if first >= size || first > last {
        return Err(());
    }
    Ok(Some((first, last)))
}

/// A stored file, streamed from a copy (with `Range` support), its digest in `Repr-Digest`
/// (RFC 9530) and `ETag`. The copy is hashed as it is sent: a whole download whose bytes do
/// not match the catalog's digest is cut before its end, so the client cannot take it for
/// good (and the mismatch is logged for the audit).
pub(crate) async fn download(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, object)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    use base64::Engine;
    let t = tenant_id(&tenant)?;
    let o = carnac_model::ObjectId::new(&object)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_object", e.to_string()))?;
    let archive = state.archive.clone();
    let found = blocking(move || match archive.stored_file(&t, &o) {
        Ok(file) => Ok(Ok(Some(file))),
        Err(carnac_archive::ArchiveError::NotFound(_)) => match archive.object_tombstone(&t, &o)? {
            Some(tombstone) => Ok(Err(tombstone)),
            None => Ok(Ok(None)),
        },
        Err(e) => Err(e.into()),
    })
    .await?;
    let found = match found {
        Ok(found) => found,
        // Its unit was destroyed by an elimination: gone, and said so.
        Err(tombstone) => {
            return Ok(
                (StatusCode::GONE, axum::Json(TombstoneView::from(tombstone))).into_response(),
            );
        }
    };
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such stored file for this tenant",
        )
    };
    let Some(file) = found else {
        return Err(not_found());
    };
    let size = file.size;
    let range = headers.get(header::RANGE).map(|v| v.to_str().unwrap_or(""));
    let range = match byte_range(range, size) {
        Ok(r) => r,
        Err(()) => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the file has {size} bytes"),
            )
            .into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                header::HeaderValue::from_str(&format!("bytes */{size}"))
                    .map_err(|_| not_found())?,
            );
            return Ok(r);
        }
    };
    let raw = hex::decode(&file.digest.hex).map_err(|_| not_found())?;
    let repr = format!(
        "{}=:{}:",
        file.digest.algorithm.seda_name().to_ascii_lowercase(),
        base64::engine::general_purpose::STANDARD.encode(&raw)
    );
    let (first, last) = range.unwrap_or((0, size.saturating_sub(1)));
    let length = if size == 0 { 0 } else { last - first + 1 };
    let whole = range.is_none();
    let archive = state.archive.clone();
    let sent = file.clone();
    let reader = blocking(move || Ok(archive.open_object(&sent, first, length)?)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || send(reader, &tx));
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let mut response = Response::builder()
        .status(if whole {
            StatusCode::OK
        } else {
            StatusCode::PARTIAL_CONTENT
        })
        .header(
            header::CONTENT_TYPE,
            file.mime_type
                .as_deref()
                .filter(|m| header::HeaderValue::from_str(m).is_ok())
                .unwrap_or("application/octet-stream"),
        )
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header("Repr-Digest", repr)
        .header(header::ETAG, format!("\"{}\"", hex::encode(&raw)));
    if !whole {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {first}-{last}/{size}"),
        );
    }
    if let Some(name) = file.filename.as_deref() {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '\\' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        response = response.header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{safe}\""),
        );
    }
    response.body(body).map_err(|e| {
        tracing::error!(error = %e, "building a download");
        not_found()
    })
}

/// Sends what `reader` gives, in chunks, until its end, its error (a copy that does not
/// match its digest: the download is cut before its last bytes), or the client's departure.
pub(super) fn send(
    mut reader: carnac_archive::reading::ObjectReader,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
) {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tx.blocking_send(Ok(buf[..n].to_vec())).is_err() {
                    return; // The client went away.
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}
