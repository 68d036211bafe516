//! `/api/v1/tenants/{tenant}/referentials`: the tenant's referentials, imported as a
//! container and listed with their versions.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Caller;
use super::responses::*;
use crate::{ApiError, AppState, blocking, tenant_id};

/// The tenant's referentials: each kind with its versions.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let archive = state.archive.clone();
    let kinds = blocking(move || {
        Ok(archive
            .current_referentials(&t)?
            .into_iter()
            .map(ReferentialView::from)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(axum::Json(Referentials {
        referentials: kinds,
    })
    .into_response())
}

/// Imports a referential folder sent as a container (zip, tar, tar.gz, tar.bz2) holding
/// what `carnac referential import` reads from a folder: the whole folder is checked and
/// imported, or refused with every reason.
pub(super) async fn import(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(tenant): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let outcome = import_container(&state, t, who.login, body.into_data_stream()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ReferentialImport::from(outcome)),
    )
        .into_response())
}

/// Receives a referential folder's container as it comes (the API's body, the web
/// application's form), unpacks it safely and imports it whole, or refuses it with every
/// reason.
pub(crate) async fn import_container<E: std::fmt::Display>(
    state: &Arc<AppState>,
    t: carnac_model::TenantId,
    agent: String,
    chunks: impl futures_util::Stream<Item = Result<axum::body::Bytes, E>>,
) -> Result<carnac_archive::ImportOutcome, ApiError> {
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "receiving a referential folder");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the upload could not be stored",
        )
    };
    // Small by nature: a folder of referential files.
    const MAX: u64 = 256 << 20;
    let work = tempfile::tempdir_in(&state.uploads).map_err(internal)?;
    let upload = work.path().join("folder.container");
    let file = std::fs::File::create(&upload).map_err(internal)?;
    drop(crate::stream_to_file(chunks, file, MAX, "a referential folder").await?);
    let archive = state.archive.clone();
    blocking(move || {
        let dir = work.path().join("folder");
        std::fs::create_dir(&dir).map_err(internal)?;
        let container = std::fs::File::open(&upload).map_err(internal)?;
        carnac_archive::referential::unpack_folder(container, &dir).map_err(|problems| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "referential_rejected",
                "the container cannot be read safely; nothing was imported",
            )
            .with_details(problems)
        })?;
        // A folder packed from its parent: its one top folder is the referential folder
        // (unless that folder is itself one of the referential's, like `rules/`).
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(internal)?
            .filter_map(Result::ok)
            .collect();
        const PARTS: [&str; 6] = [
            "agencies",
            "rules",
            "contracts",
            "profiles",
            "formats",
            "archiveUnitProfiles",
        ];
        let root = match entries.as_slice() {
            [one]
                if one.path().is_dir()
                    && !PARTS.contains(&one.file_name().to_string_lossy().as_ref()) =>
            {
                one.path()
            }
            _ => dir,
        };
        let outcome = archive.import_referentials(&t, &root, &agent)?;
        drop(work);
        Ok(outcome)
    })
    .await
}

/// Every version of one referential of a tenant.
pub(super) async fn versions(
    State(state): State<Arc<AppState>>,
    Path((tenant, kind)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant_id(&tenant)?;
    let k = carnac_catalog::ReferentialKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!(
                    "no referential kind {kind:?}; kinds: {}",
                    carnac_catalog::ReferentialKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let archive = state.archive.clone();
    let versions = blocking(move || Ok(archive.referential_versions(&t, k)?)).await?;
    Ok(axum::Json(ReferentialVersions {
        kind,
        versions: versions.into_iter().map(Into::into).collect(),
    })
    .into_response())
}
