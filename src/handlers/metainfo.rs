//! Metadata: get (spec 12.3.2.1) and change (spec 12.3.2.2), single and batch.

use actix_web::{HttpResponse, web};

use crate::domain::{self, Caller, time};
use crate::error::ApiError;
use crate::handlers::{AppState, Body, Query, xml};
use crate::xml::read::parse_document;
use crate::xml::render::{self, Include};
use crate::xml::requests::change_from_xml;

/// `GET /nex/datastore/v2/metainfo/{data_id}?response=…`
pub async fn get_metainfo(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let include = Include::parse(query.get("response"))?;
    let object = state.store.readable_object(caller, id, time::now()).await?;
    Ok(xml(render::metainfos(&[object], include)))
}

/// `GET /nex/datastore/v2/metainfo?data_ids=…&response=…`: the objects the
/// caller may read, in the order asked.
pub async fn get_metainfos(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let ids = domain::parse_data_id_list(query.get("data_ids"))?;
    let include = Include::parse(query.get("response"))?;
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
    path: web::Path<String>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let (change, _) = change_from_xml(&parse_document(&body.0, "change")?)?;
    let changed = state
        .store
        .change_objects(caller, vec![id], change, time::now())
        .await?;
    Ok(xml(render::counted("metainfo", "changed", changed)))
}

/// `PUT /nex/datastore/v2/metainfo`, alias `POST …/metainfo/put`: one change
/// for every `<param><data_id>`, all or nothing.
pub async fn change_metainfos(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (change, ids) = change_from_xml(&parse_document(&body.0, "change")?)?;
    domain::check_batch_len(ids.len(), "<param>")?;
    let changed = state
        .store
        .change_objects(caller, ids, change, time::now())
        .await?;
    Ok(xml(render::counted("metainfo", "changed", changed)))
}
