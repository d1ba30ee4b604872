//! Metadata: get (spec 12.3.2.1) and change (spec 12.3.2.2), single and batch.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::{self, Caller, DataId, time};
use crate::error::ApiError;
use crate::handlers::extract::{Params, Xml};
use crate::handlers::{AppState, xml};
use crate::xml::render::{self, Include};
use crate::xml::requests::ChangeRequest;

/// `?data_ids=…&response=…`
#[derive(Deserialize)]
pub struct MetainfoQuery {
    data_ids: Option<String>,
    response: Option<String>,
}

/// `GET /nex/datastore/v2/metainfo/{data_id}?response=…`
pub async fn get_metainfo(
    state: web::Data<AppState>,
    caller: Caller,
    DataId(id): DataId,
    Params(query): Params<MetainfoQuery>,
) -> Result<HttpResponse, ApiError> {
    let include = Include::parse(query.response.as_deref())?;
    let object = state.store.readable_object(caller, id, time::now()).await?;
    Ok(xml(render::metainfos(&[object], include)))
}

/// `GET /nex/datastore/v2/metainfo?data_ids=…&response=…`: the objects the
/// caller may read, in the order asked.
pub async fn get_metainfos(
    state: web::Data<AppState>,
    caller: Caller,
    Params(query): Params<MetainfoQuery>,
) -> Result<HttpResponse, ApiError> {
    let ids = domain::parse_data_id_list(query.data_ids.as_deref())?;
    let include = Include::parse(query.response.as_deref())?;
    let objects = state
        .store
        .visible_objects(caller, ids, time::now())
        .await?;
    Ok(xml(render::metainfos(&objects, include)))
}

/// `PUT /nex/datastore/v2/metainfo/{data_id}`, alias `POST …/metainfo/{data_id}/put`
pub async fn change_metainfo(
    state: web::Data<AppState>,
    caller: Caller,
    DataId(id): DataId,
    Xml(request): Xml<ChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let changed = state
        .store
        .change_objects(caller, vec![id], request.change, state.quota, time::now())
        .await?;
    Ok(xml(render::counted("metainfo", "changed", changed)))
}

/// `PUT /nex/datastore/v2/metainfo`, alias `POST …/metainfo/put`: one change
/// for every `<param><data_id>`, all or nothing.
pub async fn change_metainfos(
    state: web::Data<AppState>,
    caller: Caller,
    Xml(request): Xml<ChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    domain::check_batch_len(request.ids.len(), "<param>")?;
    let changed = state
        .store
        .change_objects(
            caller,
            request.ids,
            request.change,
            state.quota,
            time::now(),
        )
        .await?;
    Ok(xml(render::counted("metainfo", "changed", changed)))
}
