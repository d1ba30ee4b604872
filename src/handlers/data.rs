//! Data: prepare (spec 12.3.2.5.2) and delete (spec 12.3.2.3), single and batch.

use actix_web::{HttpResponse, web};

use crate::domain::prepare::PrepareRequest;
use crate::domain::{self, Caller, time};
use crate::error::{ApiError, ErrorKind};
use crate::handlers::{AppState, Body, xml};
use crate::xml::read::parse_document;
use crate::xml::render;
use crate::xml::requests::param_data_ids;

/// `POST /nex/datastore/v2/data/prepare`
pub async fn prepare_upload(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request = PrepareRequest::from_xml(&parse_document(&body.0, "prepare")?)?;
    request.owner_for(&caller)?;
    if !request.is_meta_only(state.max_file_size)? {
        return Err(ApiError::new(
            ErrorKind::NotImplemented,
            "this server has no file storage yet: only meta-binary-only prepares \
             (size 0, flag not_use_storageserver, meta_binary) are accepted",
        ));
    }
    let id = state
        .store
        .create_meta_only(caller, request, time::now())
        .await?;
    Ok(xml(render::prepared_meta_only(id)))
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
