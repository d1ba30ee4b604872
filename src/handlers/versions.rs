//! File versions (GS2 generations and restoreDataObject), in the NEX idiom:
//! re-upload with a prepare-style form, history, restore, reconcile.

use actix_web::{HttpResponse, web};

use crate::domain::{Caller, DataId, Version, time};
use crate::error::ApiError;
use crate::handlers::extract::Xml;
use crate::handlers::{AppState, xml};
use crate::xml::render;
use crate::xml::requests::VersionPrepareRequest;

/// `POST /nex/datastore/v2/data/{data_id}/versions/prepare` with `<prepare><size>`:
/// a POST form for the next version; the current one stays downloadable meanwhile.
pub async fn prepare_version(
    state: web::Data<AppState>,
    caller: Caller,
    id: DataId,
    Xml(request): Xml<VersionPrepareRequest>,
) -> Result<HttpResponse, ApiError> {
    let (version, form) = state
        .prepare_version(caller, id, request.size, time::now())
        .await?;
    Ok(xml(render::prepared_version(id.0, version, &form)))
}

/// `POST /nex/datastore/v2/data/{data_id}/versions/complete`: checks the new file,
/// then makes it the current version.
pub async fn complete_version(
    state: web::Data<AppState>,
    caller: Caller,
    id: DataId,
) -> Result<HttpResponse, ApiError> {
    let current = state.complete_version(caller, id, time::now()).await?;
    Ok(xml(render::current_version(
        id.0,
        current.version,
        current.size,
    )))
}

/// `GET /nex/datastore/v2/data/{data_id}/versions`: the stored versions, newest first.
pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Caller,
    DataId(id): DataId,
) -> Result<HttpResponse, ApiError> {
    let (object, versions) = state.store.versions(caller, id, time::now()).await?;
    Ok(xml(render::versions(object.version, &versions)))
}

/// `POST /nex/datastore/v2/data/{data_id}/versions/{version}/restore`: makes a
/// stored earlier version current again.
pub async fn restore_version(
    state: web::Data<AppState>,
    caller: Caller,
    id: DataId,
    version: Version,
) -> Result<HttpResponse, ApiError> {
    let current = state
        .restore_version(caller, id, version, time::now())
        .await?;
    Ok(xml(render::current_version(
        id.0,
        current.version,
        current.size,
    )))
}

/// `POST /nex/datastore/v2/data/{data_id}/restore` (GS2 restoreDataObject), title
/// token only: sets the object's version and size to what storage really holds.
pub async fn restore_data(
    state: web::Data<AppState>,
    caller: Caller,
    id: DataId,
) -> Result<HttpResponse, ApiError> {
    let current = state
        .reconcile_with_storage(caller, id, time::now())
        .await?;
    Ok(xml(render::current_version(
        id.0,
        current.version,
        current.size,
    )))
}
