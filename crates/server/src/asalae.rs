//! The as@lae-compatible intake: the REST interface that Pastell's "as@lae (REST)" connector
//! speaks, under a configurable base path (`/restservices` by default), so that an existing
//! Pastell sends its transfers here by changing one URL.
//!
//! - `GET /ping` (no credentials: Pastell's network test; a JSON string, as as@lae answers)
//!   and `GET /versions` (credentials).
//! - Paths with repeated slashes (`…/restservices//ping`, from a connector URL that ends in
//!   `/`) are served as if merged, as Apache in front of as@lae does (see `crate::app`).
//! - `POST /sedaMessages`, multipart: `seda_message` (the bordereau) and `attachments` (a
//!   tar.gz or zip of the files it names). Both are streamed to disk; the transfer is then
//!   received as the REST API's are (durably, queued, journaled) with its acknowledgement.
//! - Chunked: the same POST with `send_chunked_attachments=true` and no attachments opens a
//!   session (`chunk_session_identifier`, `chunk_security_identifier`); each `POST
//!   /sedaAttachmentsChunkFiles` brings one chunk; the last one completes the attachments and
//!   the transfer is received.
//! - `GET /sedaMessages/sequence:ArchiveTransfer/message:{Acknowledgement|ArchiveTransferReply}/
//!   originOrganizationIdentification:{agency}/originMessageIdentifier:{id}`, or the same as
//!   query parameters: 200 with the XML when it exists; 409 `not_ready` while the transfer is
//!   being ingested.
//!
//! The tenant is the account's (one tenant per intake account); credentials as everywhere
//! (HTTP Basic with the SHA-256 hex of the password, which is what Pastell sends).

use crate::auth::{self, IntakeCaller};
use crate::{ApiError, AppState, blocking};
use axum::Router;
use axum::body::Body;
use axum::extract::{Multipart, OriginalUri, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use carnac_archive::chunks::{ChunkError, ChunkPosition};
use carnac_model::access::Action;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The intake's routes, to be nested under its base path.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ping", get(ping))
        .route("/versions", get(versions))
        .route("/sedaMessages", post(seda_message).get(reply_by_query))
        .route("/sedaMessages/{*selector}", get(reply_by_path))
        .route("/sedaAttachmentsChunkFiles", post(chunk))
        // Uploads are streamed to disk, whatever their size (as the REST API's are).
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// A JSON string, as as@lae answers: Pastell's connector shows the decoded value as text.
async fn ping() -> impl IntoResponse {
    axum::Json(PING_ANSWER)
}

/// as@lae's own words, so that Pastell shows what it shows for as@lae, and who answers.
pub(crate) const PING_ANSWER: &str = "webservices as@lae accessibles (carnac)";

async fn versions(
    State(state): State<Arc<AppState>>,
    method: Method,
    presented: auth::Presented,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    auth::authorize_intake(
        &state,
        &presented,
        &method,
        uri.path(),
        Action::Identify,
        None,
    )
    .await?;
    Ok(axum::Json(json!({
        "application": "carnac",
        "version": env!("CARGO_PKG_VERSION"),
        "interface": "as@lae REST (restservices)",
        "seda": ["0.2", "1.0", "2.1", "2.2", "2.3"],
    }))
    .into_response())
}

async fn form(
    request: axum::extract::Request,
    state: &Arc<AppState>,
) -> Result<Multipart, ApiError> {
    use axum::extract::FromRequest;
    Multipart::from_request(request, state).await.map_err(|e| {
        bad(
            "invalid_form",
            format!("a multipart/form-data body is expected: {e}"),
        )
    })
}

fn internal(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "writing an as@lae upload");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the upload could not be stored",
    )
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// A multipart field streamed into a new file of the incoming folder.
async fn field_to_file(
    state: &AppState,
    field: axum::extract::multipart::Field<'_>,
    what: &str,
    max: u64,
) -> Result<(tempfile::TempPath, u64), ApiError> {
    let file = tempfile::Builder::new()
        .prefix(".asalae")
        .tempfile_in(state.archive.incoming_dir())
        .map_err(internal)?;
    let (file, path) = file.into_parts();
    let (file, received) = crate::stream_to_file(field, file, max, what).await?;
    blocking(move || file.sync_all().map_err(internal)).await?;
    Ok((path, received))
}

async fn text_field(field: axum::extract::multipart::Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let text = field
        .text()
        .await
        .map_err(|e| bad("invalid_form", format!("the field {name:?}: {e}")))?;
    if text.len() > 4096 {
        return Err(bad(
            "invalid_form",
            format!("the field {name:?} is too long"),
        ));
    }
    Ok(text.trim().to_owned())
}

/// Fields a form of the intake may have: the known ones, and a few more to name in the
/// refusal; beyond, the form is refused at once (a form of a million fields is not read).
const MAX_FIELDS: usize = 32;

/// The tenant takes transfers (not suspended): asked before a form's files are read, so that
/// a suspended tenant's sender is refused at once rather than after its upload.
async fn require_open_tenant(
    state: &AppState,
    tenant: &carnac_model::TenantId,
) -> Result<(), ApiError> {
    let archive = state.archive.clone();
    let t = tenant.clone();
    blocking(move || match archive.tenant(&t)? {
        Some(x) if x.suspended_at.is_some() => {
            Err(carnac_archive::ArchiveError::Suspended(t).into())
        }
        _ => Ok(()),
    })
    .await
}

fn chunk_error(e: ChunkError) -> ApiError {
    match e {
        ChunkError::UnknownSession => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_session", e.to_string())
        }
        ChunkError::Invalid(m) => bad("invalid_chunk", m),
        ChunkError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m),
        ChunkError::TooMany(m) => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_sessions", m)
        }
        ChunkError::Stopping => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", e.to_string())
                .retry_after(30)
        }
        ChunkError::Archive(a) => a.into(),
        other => ApiError::from(carnac_archive::ArchiveError::Invalid(other.to_string())),
    }
}

/// Who sends a transfer to the intake: allowed (and journaled), on a tenant that takes
/// transfers.
async fn sender(
    state: &AppState,
    method: &Method,
    presented: &auth::Presented,
    path: &str,
) -> Result<IntakeCaller, ApiError> {
    let caller =
        auth::authorize_intake(state, presented, method, path, Action::TransferSubmit, None)
            .await?;
    require_open_tenant(state, &caller.tenant).await?;
    Ok(caller)
}

async fn seda_message(
    State(state): State<Arc<AppState>>,
    method: Method,
    presented: auth::Presented,
    OriginalUri(uri): OriginalUri,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let caller = sender(&state, &method, &presented, uri.path()).await?;
    crate::queue_room(&state, &caller.tenant, 0)?;
    // The form is read once the request is allowed (and journaled), not before.
    let mut form = form(request, &state).await?;
    let mut bordereau = None;
    let mut attachments = None;
    let mut chunked = false;
    let mut unknown = Vec::new();
    let mut fields = 0;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad("invalid_form", format!("the multipart form: {e}")))?
    {
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(bad(
                "invalid_form",
                format!("a form of the intake has at most {MAX_FIELDS} fields"),
            ));
        }
        match field.name().unwrap_or_default() {
            "seda_message" => {
                bordereau = Some(
                    field_to_file(
                        &state,
                        field,
                        "seda_message",
                        state.archive.config().max_manifest_size,
                    )
                    .await?,
                )
            }
            "attachments" => {
                attachments = Some(
                    field_to_file(&state, field, "attachments", state.limits.max_upload).await?,
                )
            }
            "send_chunked_attachments" => {
                chunked = matches!(text_field(field).await?.as_str(), "true" | "1" | "yes")
            }
            other => unknown.push(carnac_model::journal::bounded_text(other, 64)),
        }
    }
    let mut problems = Vec::new();
    if bordereau.as_ref().is_none_or(|(_, n)| *n == 0) {
        problems.push("the field seda_message (the bordereau) is missing or empty".to_owned());
    }
    if chunked && attachments.is_some() {
        problems.push(
            "send_chunked_attachments=true comes without attachments: they are sent in chunks"
                .to_owned(),
        );
    }
    for u in unknown {
        problems.push(format!("unknown field {u:?}"));
    }
    if !problems.is_empty() {
        return Err(bad("invalid_form", "the transfer is refused").with_details(problems));
    }
    let (bordereau, _) = bordereau.expect("checked");
    if chunked {
        let archive = state.archive.clone();
        let tenant = caller.tenant.clone();
        let login = caller.principal.login.clone();
        let limits = state.limits.chunks.clone();
        let opened = blocking(move || {
            archive
                .open_chunk_session(&tenant, &login, bordereau, &limits)
                .map_err(chunk_error)
        })
        .await?;
        return Ok(axum::Json(json!({
            "chunk_session_identifier": opened.session,
            "chunk_security_identifier": opened.security,
        }))
        .into_response());
    }
    receive(&state, &caller, bordereau, attachments.map(|(p, _)| p)).await
}

/// Hands the bordereau and its attachments to the archive, which queues them.
async fn receive(
    state: &AppState,
    caller: &IntakeCaller,
    bordereau: tempfile::TempPath,
    attachments: Option<tempfile::TempPath>,
) -> Result<Response, ApiError> {
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    crate::queue_room(
        state,
        &caller.tenant,
        size(&bordereau) + attachments.as_deref().map_or(0, size),
    )?;
    let archive = state.archive.clone();
    let tenant = caller.tenant.clone();
    let login = caller.principal.login.clone();
    let (transfer, message) = blocking(move || {
        // The files are the archive's from here: moved into the queue, or removed if refused.
        let bordereau = bordereau.keep().map_err(|e| internal(e.error))?;
        let attachments = attachments
            .map(|a| a.keep().map_err(|e| internal(e.error)))
            .transpose()?;
        archive
            .receive_bordereau(&tenant, &bordereau, attachments.as_deref(), &login)
            .map_err(|e| match e {
                carnac_archive::ArchiveError::Invalid(m) => bad("invalid_transfer", m),
                carnac_archive::ArchiveError::Catalog(carnac_catalog::CatalogError::Conflict(
                    what,
                )) => ApiError::new(
                    StatusCode::CONFLICT,
                    "duplicate_transfer",
                    format!("{what} was already received"),
                ),
                other => other.into(),
            })
    })
    .await?;
    let body = json!({
        "message": "Le transfert a été reçu ; son accusé de réception est disponible.",
        "status": "received",
        "operation": transfer.operation,
        "seda_version": message.seda_version,
        "originOrganizationIdentification": message.origin,
        "originMessageIdentifier": message.message_id,
        "acknowledgement": format!("ACK_{}", transfer.operation),
    });
    state.worker.submit(transfer);
    Ok(axum::Json(body).into_response())
}

async fn chunk(
    State(state): State<Arc<AppState>>,
    method: Method,
    presented: auth::Presented,
    OriginalUri(uri): OriginalUri,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let caller = sender(&state, &method, &presented, uri.path()).await?;
    // The form is read once the request is allowed (and journaled), not before.
    let mut form = form(request, &state).await?;
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut content = None;
    let mut count = 0;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad("invalid_form", format!("the multipart form: {e}")))?
    {
        count += 1;
        if count > MAX_FIELDS {
            return Err(bad(
                "invalid_form",
                format!("a form of the intake has at most {MAX_FIELDS} fields"),
            ));
        }
        let name = carnac_model::journal::bounded_text(field.name().unwrap_or_default(), 64);
        if name == "chunk_content" {
            content = Some(
                field_to_file(
                    &state,
                    field,
                    "chunk_content",
                    state.limits.chunks.max_session_bytes,
                )
                .await?,
            );
        } else {
            fields.insert(name, text_field(field).await?);
        }
    }
    let mut problems = Vec::new();
    let number = |name: &str, problems: &mut Vec<String>| -> u32 {
        match fields.get(name).map(|v| v.parse::<u32>()) {
            Some(Ok(n)) if n >= 1 => n,
            Some(_) => {
                problems.push(format!("{name} must be a whole number from 1"));
                0
            }
            None => {
                problems.push(format!("{name} is missing"));
                0
            }
        }
    };
    let number_of_files = number("number_of_files", &mut problems);
    let file_index = number("file_index", &mut problems);
    let number_of_chunks = number("number_of_chunks", &mut problems);
    let chunk_index = number("chunk_index", &mut problems);
    for name in ["session_identifier", "security_identifier", "file_name"] {
        if fields.get(name).is_none_or(|v| v.is_empty()) {
            problems.push(format!("{name} is missing"));
        }
    }
    if content.is_none() {
        problems.push("chunk_content is missing".into());
    }
    if let Some(a) = fields.get("compression_algorithm")
        && !matches!(a.to_ascii_uppercase().as_str(), "TARGZ" | "ZIP")
    {
        problems.push(format!(
            "compression_algorithm {:?} is not TARGZ (or ZIP)",
            carnac_model::journal::bounded_text(a, 64)
        ));
    }
    if number_of_files > 1 || file_index > 1 {
        problems.push(
            "the attachments come as one archive file (number_of_files=1), as Pastell sends them"
                .into(),
        );
    }
    let most = u64::from(state.limits.chunks.max_chunks).min(state.limits.chunks.max_session_bytes);
    if u64::from(number_of_chunks) > most {
        problems.push(format!("number_of_chunks must be from 1 to {most}"));
    }
    if chunk_index > number_of_chunks && number_of_chunks > 0 {
        problems.push(format!(
            "chunk_index {chunk_index} is beyond number_of_chunks {number_of_chunks}"
        ));
    }
    let session = fields
        .get("session_identifier")
        .cloned()
        .unwrap_or_default();
    if !session.is_empty()
        && (session.len() > 64 || !session.chars().all(|c| c.is_ascii_hexdigit()))
    {
        problems.push("session_identifier is not one this archive gave".into());
    }
    let known = [
        "session_identifier",
        "security_identifier",
        "file_name",
        "number_of_files",
        "file_index",
        "number_of_chunks",
        "chunk_index",
        "compression_algorithm",
        "chunk_content",
    ];
    for name in fields.keys().filter(|k| !known.contains(&k.as_str())) {
        problems.push(format!("unknown field {name:?}"));
    }
    if !problems.is_empty() {
        return Err(bad("invalid_chunk", "the chunk is refused").with_details(problems));
    }
    let (content, _) = content.expect("checked");
    let security = fields
        .get("security_identifier")
        .cloned()
        .unwrap_or_default();
    let archive = state.archive.clone();
    let tenant = caller.tenant.clone();
    let login = caller.principal.login.clone();
    let limits = state.limits.chunks.clone();
    let stopping = state.stopping.clone();
    // Stores the chunk (work that does not depend on how many chunks are announced); when
    // every chunk is there, assembles the attachments.
    let complete = blocking(move || {
        archive
            .add_chunk(
                &tenant,
                &login,
                &session,
                &security,
                ChunkPosition {
                    index: chunk_index,
                    count: number_of_chunks,
                },
                content,
                &limits,
                &stopping,
            )
            .map_err(chunk_error)
    })
    .await?;
    match complete {
        None => Ok(axum::Json(json!({
            "status": "chunk_received",
            "chunk_index": chunk_index,
            "number_of_chunks": number_of_chunks,
        }))
        .into_response()),
        Some(done) => receive(&state, &caller, done.bordereau, Some(done.attachments)).await,
    }
}

/// `%XX` sequences decoded; `None` when they do not make UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Which message of which transfer.
struct Selector {
    acknowledgement: bool,
    origin: String,
    message_id: String,
}

fn selector(pairs: &BTreeMap<String, String>) -> Result<Selector, ApiError> {
    let mut problems = Vec::new();
    match pairs.get("sequence").map(String::as_str) {
        Some("ArchiveTransfer") => {}
        Some(other) => problems.push(format!(
            "sequence {other:?}: only ArchiveTransfer is served"
        )),
        None => problems.push("sequence is missing".into()),
    }
    let acknowledgement = match pairs.get("message").map(String::as_str) {
        Some("Acknowledgement") => true,
        Some("ArchiveTransferReply") => false,
        Some(other) => {
            problems.push(format!(
                "message {other:?}: Acknowledgement or ArchiveTransferReply"
            ));
            false
        }
        None => {
            problems.push("message is missing".into());
            false
        }
    };
    let get = |k: &str, problems: &mut Vec<String>| {
        let v = pairs.get(k).cloned().unwrap_or_default();
        if v.is_empty() {
            problems.push(format!("{k} is missing"));
        }
        v
    };
    let origin = get("originOrganizationIdentification", &mut problems);
    let message_id = get("originMessageIdentifier", &mut problems);
    for k in pairs.keys() {
        if ![
            "sequence",
            "message",
            "originOrganizationIdentification",
            "originMessageIdentifier",
        ]
        .contains(&k.as_str())
        {
            problems.push(format!("unknown parameter {k:?}"));
        }
    }
    if !problems.is_empty() {
        return Err(
            bad("invalid_selector", "which message is asked for is unclear").with_details(problems),
        );
    }
    Ok(Selector {
        acknowledgement,
        origin,
        message_id,
    })
}

async fn reply_by_path(
    State(state): State<Arc<AppState>>,
    method: Method,
    presented: auth::Presented,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    // From the raw path, so that an identifier holding an encoded '/' stays whole.
    let raw = uri.path();
    let rest = raw
        .split_once("/sedaMessages/")
        .map(|(_, r)| r)
        .unwrap_or_default();
    let parsed = (|| {
        let mut pairs = BTreeMap::new();
        for segment in rest.split('/').filter(|s| !s.is_empty()) {
            let decoded = percent_decode(segment)
                .ok_or_else(|| bad("invalid_selector", format!("{segment:?} is not UTF-8")))?;
            let Some((k, v)) = decoded.split_once(':') else {
                return Err(bad(
                    "invalid_selector",
                    format!("{decoded:?} is not name:value"),
                ));
            };
            pairs.insert(k.to_owned(), v.to_owned());
        }
        selector(&pairs)
    })();
    serve_reply(&state, &method, &presented, raw, parsed).await
}

async fn reply_by_query(
    State(state): State<Arc<AppState>>,
    method: Method,
    presented: auth::Presented,
    OriginalUri(uri): OriginalUri,
    axum::extract::Query(pairs): axum::extract::Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    serve_reply(&state, &method, &presented, uri.path(), selector(&pairs)).await
}

async fn serve_reply(
    state: &AppState,
    method: &Method,
    presented: &auth::Presented,
    path: &str,
    selector: Result<Selector, ApiError>,
) -> Result<Response, ApiError> {
    // Authorized (and journaled) before the selector's problems are told.
    let caller = auth::authorize_intake(
        state,
        presented,
        method,
        path,
        Action::OperationRead,
        selector
            .as_ref()
            .ok()
            .map(|s| (s.origin.clone(), s.message_id.clone())),
    )
    .await?;
    let s = selector?;
    let message = caller.message.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no transfer with this origin and identifier for this account's tenant",
        )
    })?;
    let xml_response = |body: Body| {
        (
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            body,
        )
            .into_response()
    };
    if s.acknowledgement {
        return Ok(xml_response(Body::from(message.acknowledgement)));
    }
    let archive = state.archive.clone();
    let uploads = state.uploads.clone();
    let reply = blocking(move || {
        let done = matches!(
            archive.operation_or_queued(&message.tenant, &message.operation)?,
            Some(carnac_archive::reading::OperationFound::Operation(o))
                if o.state == carnac_catalog::OperationState::Done
        );
        if !done {
            return Ok(None);
        }
        let file = tempfile::tempfile_in(&uploads).map_err(internal)?;
        let mut out = std::io::BufWriter::new(file);
        if !archive.reply(&message.tenant, &message.operation, &mut out)? {
            return Ok(None);
        }
        let mut file = out.into_inner().map_err(|e| internal(e.into_error()))?;
        std::io::Seek::rewind(&mut file).map_err(internal)?;
        Ok(Some(file))
    })
    .await?;
    match reply {
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            "the transfer is still being checked and stored: its ArchiveTransferReply comes when it is done",
        )),
        Some(file) => Ok(xml_response(Body::from_stream(crate::file_stream(
            tokio::fs::File::from_std(file),
        )))),
    }
}

/// The default base path, as as@lae serves it.
pub const DEFAULT_BASE: &str = "/restservices";

/// Whether `base` can serve as the intake's base path.
pub fn valid_base(base: &str) -> bool {
    base.starts_with('/')
        && base.len() > 1
        && !base.ends_with('/')
        && !base.starts_with("/api/")
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
}
