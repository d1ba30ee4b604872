//! Ratings: rate (spec 12.3.2.8.1) and reset (spec 12.3.2.8.2), single and batch.

use actix_web::{HttpResponse, web};

use crate::domain::rating::RateParam;
use crate::domain::{self, Caller, time};
use crate::error::ApiError;
use crate::handlers::{AppState, Body, xml};
use crate::xml::read::parse_document;
use crate::xml::render;
use crate::xml::requests::{
    param_data_ids, rate_params_from_xml, rate_value_from_xml, rating_slot,
};

/// `PUT /nex/datastore/v2/metainfo/{data_id}/ratings/{slot}`, alias `POST …/ratings/{slot}/put`
pub async fn rate(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (id, slot) = path.into_inner();
    let param = RateParam {
        data_id: domain::parse_data_id(&id)?,
        slot: rating_slot("rating slot", domain::parse_uint("rating slot", &slot)?)?,
        value: rate_value_from_xml(&parse_document(&body.0, "rate")?)?,
    };
    let rated = state.store.rate(caller, vec![param], time::now()).await?;
    Ok(xml(render::rated(&rated)))
}

/// `PUT /nex/datastore/v2/metainfo/ratings`, alias `POST …/metainfo/ratings/put`: every
/// `<param>`, in order, all or nothing.
pub async fn rate_batch(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let params = rate_params_from_xml(&parse_document(&body.0, "rate")?)?;
    let rated = state.store.rate(caller, params, time::now()).await?;
    Ok(xml(render::rated(&rated)))
}

/// `DELETE /nex/datastore/v2/metainfo/{data_id}/ratings`, alias `POST …/ratings/delete`;
/// also at the spec's `/nex/metainfo/{data_id}/ratings` (12.3.2.8.2.1).
pub async fn reset_ratings(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let reset = state
        .store
        .reset_ratings(caller, vec![id], time::now())
        .await?;
    Ok(xml(render::reset(reset)))
}

/// `POST /nex/datastore/v2/metainfo/ratings/delete` (and `/nex/metainfo/ratings/delete`):
/// every `<reset><param><data_id>`, all or nothing.
pub async fn reset_ratings_batch(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let ids = param_data_ids(&parse_document(&body.0, "reset")?)?;
    domain::check_batch_len(ids.len(), "<param>")?;
    let reset = state.store.reset_ratings(caller, ids, time::now()).await?;
    Ok(xml(render::reset(reset)))
}
