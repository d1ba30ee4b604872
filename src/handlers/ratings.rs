//! Ratings: rate (spec 12.3.2.8.1) and reset (spec 12.3.2.8.2), single and batch.

use actix_web::{HttpResponse, web};

use crate::domain::rating::RateParam;
use crate::domain::{self, Caller, DataId, RatingSlot, time};
use crate::error::ApiError;
use crate::handlers::extract::Xml;
use crate::handlers::{AppState, xml};
use crate::xml::render;
use crate::xml::requests::{RateBatchRequest, RateRequest, ResetRequest};

/// `PUT /nex/datastore/v2/metainfo/{data_id}/ratings/{slot}`, alias `POST …/ratings/{slot}/put`
pub async fn rate(
    state: web::Data<AppState>,
    caller: Caller,
    DataId(data_id): DataId,
    RatingSlot(slot): RatingSlot,
    Xml(request): Xml<RateRequest>,
) -> Result<HttpResponse, ApiError> {
    let param = RateParam {
        data_id,
        slot,
        value: request.value,
    };
    let rated = state.store.rate(caller, vec![param], time::now()).await?;
    Ok(xml(render::rated(&rated)))
}

/// `PUT /nex/datastore/v2/metainfo/ratings`, alias `POST …/metainfo/ratings/put`: every
/// `<param>`, in order, all or nothing.
pub async fn rate_batch(
    state: web::Data<AppState>,
    caller: Caller,
    Xml(request): Xml<RateBatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let rated = state
        .store
        .rate(caller, request.params, time::now())
        .await?;
    Ok(xml(render::rated(&rated)))
}

/// `DELETE /nex/datastore/v2/metainfo/{data_id}/ratings`, alias `POST …/ratings/delete`;
/// also at the spec's `/nex/metainfo/{data_id}/ratings` (12.3.2.8.2.1).
pub async fn reset_ratings(
    state: web::Data<AppState>,
    caller: Caller,
    DataId(id): DataId,
) -> Result<HttpResponse, ApiError> {
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
    Xml(request): Xml<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    domain::check_batch_len(request.ids.len(), "<param>")?;
    let reset = state
        .store
        .reset_ratings(caller, request.ids, time::now())
        .await?;
    Ok(xml(render::reset(reset)))
}
