//! Data: prepare (spec 12.3.2.5.2), complete (12.3.2.5.3) and delete (12.3.2.3).

use actix_web::{HttpResponse, web};

use crate::domain::prepare::PrepareRequest;
use crate::domain::{self, Caller, time};
use crate::error::ApiError;
use crate::handlers::{AppState, Body, xml};
use crate::store::uploads::UploadState;
use crate::xml::read::{parse_document, parse_optional_document};
use crate::xml::render;
use crate::xml::requests::param_data_ids;

/// `POST /nex/datastore/v2/data/prepare`
pub async fn prepare_upload(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request = PrepareRequest::from_xml(&parse_document(&body.0, "prepare")?)?;
    let now = time::now();
    if request.is_meta_only(state.max_file_size)? {
        let id = state.store.create_meta_only(caller, request, now).await?;
        return Ok(xml(render::prepared_meta_only(id)));
    }
    let size = request.size;
    let (id, key) = state.store.create_upload(caller, request, now).await?;
    let form = state
        .blobs
        .upload_form(&key, size, now, now + state.upload_form_secs);
    Ok(xml(render::prepared_upload(id, &form)))
}

/// `POST /nex/datastore/v2/data/complete/{data_id}` with an optional
/// `<complete><owner_id>`: checks that the file is in storage with the declared
/// size, then makes the object visible. The answer is 200 with no body (spec 12.3.2.5.3.2).
pub async fn complete_upload(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let owner = match parse_optional_document(&body.0, "complete")? {
        Some(doc) => doc
            .one("owner_id")?
            .map(|e| domain::check_principal(e.uint()?, "owner_id"))
            .transpose()?,
        None => None,
    };
    let now = time::now();
    let upload = state
        .store
        .upload_for_complete(caller, id, now, state.upload_timeout_secs)
        .await?;
    let UploadState::Uploading(object) = upload else {
        return Ok(HttpResponse::Ok().finish());
    };
    if let Some(owner) = owner
        && owner != object.owner_id
    {
        return Err(ApiError::invalid(format!(
            "owner_id {owner} is not the owner of data_id {id}"
        )));
    }
    let key = object.blob_key.as_deref().unwrap_or_default();
    let stored = state.blobs.size_of(key).await.map_err(ApiError::internal)?;
    match stored {
        Some(size) if size == object.size => {}
        Some(size) => {
            return Err(ApiError::not_allowed(format!(
                "the file of data_id {id} is {size} bytes, prepare declared {}",
                object.size
            )));
        }
        None => {
            return Err(ApiError::not_allowed(format!(
                "no file has been uploaded for data_id {id}"
            )));
        }
    }
    state
        .store
        .finish_upload(id, time::now() - state.upload_timeout_secs)
        .await?;
    Ok(HttpResponse::Ok().finish())
}

/// `DELETE /nex/datastore/v2/data/{data_id}`, alias `POST …/data/{data_id}/delete`
pub async fn delete_data(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let deleted = state
        .store
        .delete_objects(caller, vec![id], time::now())
        .await?;
    Ok(xml(render::counted("data", "deleted", deleted)))
}

/// `POST /nex/datastore/v2/data/delete`: every `<param><data_id>`, all or nothing.
pub async fn delete_datas(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let ids = param_data_ids(&parse_document(&body.0, "delete")?)?;
    domain::check_batch_len(ids.len(), "<param>")?;
    let deleted = state.store.delete_objects(caller, ids, time::now()).await?;
    Ok(xml(render::counted("data", "deleted", deleted)))
}
