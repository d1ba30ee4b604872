//! File versions (GS2 generations and restoreDataObject), in the NEX idiom:
//! re-upload with a prepare-style form, history, restore, reconcile.

use actix_web::{HttpResponse, web};

use crate::domain::{self, Caller, time};
use crate::error::ApiError;
use crate::handlers::{AppState, Body, xml};
use crate::xml::read::parse_document;
use crate::xml::render;

fn version_number(text: &str) -> Result<u32, ApiError> {
    let n = domain::parse_uint("version", text)?;
    u32::try_from(n)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| ApiError::invalid(format!("version {n} is out of range")))
}

/// `POST /nex/datastore/v2/data/{data_id}/versions/prepare` with `<prepare><size>`:
/// a POST form for the next version; the current one stays downloadable meanwhile.
pub async fn prepare_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let doc = parse_document(&body.0, "prepare")?;
    let size = doc
        .one("size")?
        .ok_or_else(|| ApiError::invalid("<size> is required"))?
        .uint()?;
    if size == 0 || size > state.max_file_size {
        return Err(ApiError::invalid(format!(
            "size {size} is out of range 1..={}",
            state.max_file_size
        )));
    }
    let now = time::now();
    let pending = state.store.prepare_version(caller, id, size, now).await?;
    let form = state
        .blobs
        .upload_form(&pending.blob_key, size, now, now + state.upload_form_secs);
    Ok(xml(render::prepared_version(id, pending.version, &form)))
}

/// `POST /nex/datastore/v2/data/{data_id}/versions/complete`: checks the new file,
/// then makes it the current version.
pub async fn complete_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let now = time::now();
    let pending = state
        .store
        .version_to_complete(caller, id, now, state.upload_timeout_secs)
        .await?;
    let stored = state
        .blobs
        .size_of(&pending.blob_key)
        .await
        .map_err(ApiError::internal)?;
    if stored != Some(pending.size) {
        return Err(ApiError::not_allowed(format!(
            "version {} of data_id {id} has not been uploaded with its {} bytes",
            pending.version, pending.size
        )));
    }
    let (version, size) = (pending.version, pending.size);
    state
        .store
        .finish_version(id, pending, now - state.upload_timeout_secs, now)
        .await?;
    Ok(xml(render::current_version(id, version, size)))
}

/// `GET /nex/datastore/v2/data/{data_id}/versions`: the stored versions, newest first.
pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let (object, versions) = state.store.versions(caller, id, time::now()).await?;
    Ok(xml(render::versions(object.version, &versions)))
}

/// `POST /nex/datastore/v2/data/{data_id}/versions/{version}/restore`: makes a
/// stored earlier version current again.
pub async fn restore_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path.0)?;
    let version = version_number(&path.1)?;
    let now = time::now();
    state
        .store
        .restore_version(caller.clone(), id, version, now)
        .await?;
    let (object, _) = state.store.versions(caller, id, now).await?;
    Ok(xml(render::current_version(
        id,
        object.version,
        object.size,
    )))
}

/// `POST /nex/datastore/v2/data/{data_id}/restore` (GS2 restoreDataObject), title
/// token only: sets the object's version and size to what storage really holds:
/// the current file's real size, or else the newest earlier version still stored.
pub async fn reconcile(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let now = time::now();
    let (object, versions) = state.store.versions_for_title(caller, id, now).await?;
    let current = object.blob_key.clone().unwrap_or_default();
    let mut candidates = vec![(object.version, current)];
    candidates.extend(
        versions
            .into_iter()
            .filter(|v| v.version != object.version)
            .map(|v| (v.version, v.blob_key)),
    );
    for (version, key) in candidates {
        let size = state
            .blobs
            .size_of(&key)
            .await
            .map_err(ApiError::internal)?;
        if let Some(size) = size {
            if version != object.version || size != object.size {
                log::info!("restore: data_id {id} is now version {version}, {size} bytes");
                state
                    .store
                    .reconcile_version(id, version, size, key, now)
                    .await?;
            }
            return Ok(xml(render::current_version(id, version, size)));
        }
    }
    Err(ApiError::not_allowed(format!(
        "no file of data_id {id} is in storage"
    )))
}

/// `version=` of urlinfo.
pub(crate) fn version_param(text: Option<&str>) -> Result<Option<u32>, ApiError> {
    text.map(version_number).transpose()
}
