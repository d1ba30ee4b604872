//! Search (spec 12.3.2.4): the objects the caller may see that match every
//! filter, one page at a time, with their exact total.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};

use crate::domain::search::SearchRequest;
use crate::domain::{Caller, time};
use crate::error::ApiError;
use crate::handlers::urlinfo::download_url;
use crate::handlers::{AppState, Query, xml};
use crate::xml::b64_decode;
use crate::xml::render::{self, Include};

/// `GET /nex/datastore/v2/metainfo/search?type=…&owner_ids=…&tags=…&sort=…&offset=…&limit=…&response=…`
/// (every parameter of spec 12.3.2.4.1, and `status` for a title token)
pub async fn search_metainfo(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let request = SearchRequest::parse(
        |name| query.get(name),
        &caller,
        |tag| b64_decode("tag", tag),
    )?;
    let include = Include::parse_search(query.get("response"))?;
    let now = time::now();
    let page = state.store.search(caller, request, now).await?;
    // response=url: the URL urlinfo would give (30 days, spec 12.3.2.4.1), without
    // counting a reference: a list is not a download.
    let mut urls = HashMap::new();
    if include.url {
        for object in page.objects.iter().filter(|o| o.blob_key.is_some()) {
            urls.insert(object.data_id, download_url(&state, object, now, 30).await?);
        }
    }
    Ok(xml(render::search_result(&page, include, &urls)))
}
