//! The as@lae-compatible intake: the REST interface that Pastell's "as@lae (REST)" connector
//! speaks, under a configurable base path (`/restservices` by default), so that an existing
//! Pastell sends its transfers here by changing one URL.
//!
//! - `GET /ping` (no credentials: Pastell's network test) and `GET /versions` (credentials).
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
use carnac_model::access::Action;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
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

async fn ping() -> impl IntoResponse {
    axum::Json(json!({"application": "carnac", "status": "ok"}))
}

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
    mut field: axum::extract::multipart::Field<'_>,
    what: &str,
    max: u64,
) -> Result<(tempfile::TempPath, u64), ApiError> {
    let file = tempfile::Builder::new()
        .prefix(".asalae")
        .tempfile_in(state.archive.incoming_dir())
        .map_err(internal)?;
    let (file, path) = file.into_parts();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut received = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        bad(
            "upload_interrupted",
            format!("{what}: the upload was interrupted: {e}"),
        )
    })? {
        received += chunk.len() as u64;
        if received > max {
            // The temporary file goes with `path`.
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("{what} is at most {max} bytes"),
            ));
        }
        // Small writes to a buffered file: acceptable on the async thread.
        out.write_all(&chunk).map_err(internal)?;
    }
    let file = out.into_inner().map_err(|e| internal(e.into_error()))?;
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

/// A chunk session, kept beside its parts until the last chunk arrives.
#[derive(Debug, Serialize, Deserialize)]
struct ChunkSession {
    tenant: String,
    login: String,
    /// SHA-256 of the security identifier given to the sender.
    security_sha256: String,
    number_of_chunks: Option<u32>,
}

fn sessions_dir(state: &AppState) -> PathBuf {
    state.archive.incoming_dir().join("chunks")
}

fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| internal(std::io::Error::other(e.to_string())))?;
    Ok(hex::encode(b))
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

async fn seda_message(
    State(state): State<Arc<AppState>>,
    method: Method,
    presented: auth::Presented,
    OriginalUri(uri): OriginalUri,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let caller = auth::authorize_intake(
        &state,
        &presented,
        &method,
        uri.path(),
        Action::TransferSubmit,
        None,
    )
    .await?;
    // The form is read once the request is allowed (and journaled), not before.
    let mut form = form(request, &state).await?;
    let mut bordereau = None;
    let mut attachments = None;
    let mut chunked = false;
    let mut unknown = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad("invalid_form", format!("the multipart form: {e}")))?
    {
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
            other => unknown.push(other.to_owned()),
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
        let session = random_hex(16)?;
        let security = random_hex(32)?;
        let dir = sessions_dir(&state).join(&session);
        let record = ChunkSession {
            tenant: caller.tenant.to_string(),
            login: caller.principal.login.clone(),
            security_sha256: sha256_hex(&security),
            number_of_chunks: None,
        };
        blocking(move || {
            std::fs::create_dir_all(&dir).map_err(internal)?;
            bordereau
                .persist(dir.join("bordereau.xml"))
                .map_err(|e| internal(e.error))?;
            let json = serde_json::to_vec(&record).map_err(|e| internal(e.into()))?;
            std::fs::write(dir.join("session.json"), json).map_err(internal)?;
            Ok(())
        })
        .await?;
        return Ok(axum::Json(json!({
            "chunk_session_identifier": session,
            "chunk_security_identifier": security,
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
    let caller = auth::authorize_intake(
        &state,
        &presented,
        &method,
        uri.path(),
        Action::TransferSubmit,
        None,
    )
    .await?;
    // The form is read once the request is allowed (and journaled), not before.
    let mut form = form(request, &state).await?;
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut content = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad("invalid_form", format!("the multipart form: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "chunk_content" {
            content =
                Some(field_to_file(&state, field, "chunk_content", state.limits.max_upload).await?);
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
        problems.push(format!("compression_algorithm {a:?} is not TARGZ (or ZIP)"));
    }
    if number_of_files > 1 || file_index > 1 {
        problems.push(
            "the attachments come as one archive file (number_of_files=1), as Pastell sends them"
                .into(),
        );
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
    if !session.is_empty() && !session.chars().all(|c| c.is_ascii_hexdigit()) {
        problems.push("session_identifier is not one this archive gave".into());
    }
    if !problems.is_empty() {
        return Err(bad("invalid_chunk", "the chunk is refused").with_details(problems));
    }
    let (content, _) = content.expect("checked");
    let security = fields
        .get("security_identifier")
        .cloned()
        .unwrap_or_default();
    let dir = sessions_dir(&state).join(&session);
    let tenant = caller.tenant.to_string();
    let login = caller.principal.login.clone();
    let incoming = state.archive.incoming_dir();
    let max_upload = state.limits.max_upload;
    // Stores the chunk; when every chunk is there, assembles the attachments.
    let complete = blocking(move || -> Result<Option<(tempfile::TempPath, tempfile::TempPath)>, ApiError> {
        let unknown = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_session",
                "no such chunk session for this account",
            )
        };
        // One chunk of a session at a time from here to the end: two chunks arriving together
        // must not both find every chunk there and both complete the transfer. The lock goes
        // with the file handle; a chunk that waited behind the one that completed the session
        // finds it gone.
        let lock = std::fs::File::open(dir.join("session.json")).map_err(|_| unknown())?;
        lock.lock().map_err(internal)?;
        let record = std::fs::read(dir.join("session.json")).map_err(|_| unknown())?;
        let mut record: ChunkSession =
            serde_json::from_slice(&record).map_err(|e| internal(e.into()))?;
        // The same answer whether the session is another's or wrong: nothing is told.
        if record.tenant != tenant
            || record.login != login
            || record.security_sha256 != sha256_hex(&security)
        {
            return Err(unknown());
        }
        match record.number_of_chunks {
            Some(n) if n != number_of_chunks => {
                return Err(bad(
                    "invalid_chunk",
                    format!("number_of_chunks changed within the session ({n} before, {number_of_chunks} now)"),
                ));
            }
            Some(_) => {}
            None => {
                record.number_of_chunks = Some(number_of_chunks);
                let json = serde_json::to_vec(&record).map_err(|e| internal(e.into()))?;
                std::fs::write(dir.join("session.json"), json).map_err(internal)?;
            }
        }
        // All the chunks of a session together are one upload, under the same limit.
        let others: u64 = (1..=number_of_chunks)
            .filter(|&i| i != chunk_index)
            .filter_map(|i| std::fs::metadata(dir.join(format!("chunk.{i}"))).ok())
            .map(|m| m.len())
            .sum();
        let this = std::fs::metadata(&content).map_err(internal)?.len();
        if others + this > max_upload {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the attachments are at most {max_upload} bytes"),
            ));
        }
        content
            .persist(dir.join(format!("chunk.{chunk_index}")))
            .map_err(|e| internal(e.error))?;
        let parts: Vec<PathBuf> = (1..=number_of_chunks)
            .map(|i| dir.join(format!("chunk.{i}")))
            .collect();
        if !parts.iter().all(|p| p.exists()) {
            return Ok(None);
        }
        // Every chunk is here: the attachments, in order (a file-to-file copy the kernel
        // does), then the bordereau, both into the incoming folder.
        let assembled = tempfile::Builder::new()
            .prefix(".asalae")
            .tempfile_in(&incoming)
            .map_err(internal)?;
        let (mut out, assembled) = assembled.into_parts();
        for p in &parts {
            let mut part = std::fs::File::open(p).map_err(internal)?;
            std::io::copy(&mut part, &mut out).map_err(internal)?;
        }
        out.sync_all().map_err(internal)?;
        let bordereau = tempfile::Builder::new()
            .prefix(".asalae")
            .tempfile_in(&incoming)
            .map_err(internal)?
            .into_temp_path();
        std::fs::rename(dir.join("bordereau.xml"), &bordereau).map_err(internal)?;
        std::fs::remove_dir_all(&dir).map_err(internal)?;
        Ok(Some((bordereau, assembled)))
    })
    .await?;
    match complete {
        None => Ok(axum::Json(json!({
            "status": "chunk_received",
            "chunk_index": chunk_index,
            "number_of_chunks": number_of_chunks,
        }))
        .into_response()),
        Some((bordereau, attachments)) => {
            receive(&state, &caller, bordereau, Some(attachments)).await
        }
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
        let done = archive
            .catalog()
            .operation(&message.tenant, &message.operation)?
            .is_some_and(|o| o.state == carnac_catalog::OperationState::Done);
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
