//! Search (spec 12.3.2.4): the objects the caller may see that match every
//! filter, one page at a time, with their exact total.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};

use crate::domain::search::{SearchParams, SearchRequest, Shown};
use crate::domain::{Caller, time};
use crate::error::ApiError;
use crate::handlers::extract::Params;
use crate::handlers::{AppState, xml};
use crate::xml::b64_decode;
use crate::xml::render::{self, Include};

/// `GET /nex/datastore/v2/metainfo/search?type=…&owner_ids=…&tags=…&sort=…&offset=…&limit=…&response=…`
/// (every parameter of spec 12.3.2.4.1, and `status` for a title token)
pub async fn search_metainfo(
    state: web::Data<AppState>,
    caller: Caller,
    Params(params): Params<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let mut request = SearchRequest::parse(&params, &caller, |tag| b64_decode("tag", tag))?;
    let include = Include::parse_search(params.response.as_deref())?;
    request.shown = Shown {
        tags: include.tags,
        ratings: include.ratings,
    };
    let now = time::now();
    let page = state.store.search(caller, request, now).await?;
    let urls = match include.url {
        true => state.search_urls(&page.objects, now).await?,
        false => HashMap::new(),
    };
    Ok(xml(render::search_result(&page, include, &urls)))
}
