//! Data: prepare (spec 12.3.2.5.2), complete (12.3.2.5.3), delete (12.3.2.3), and
//! listing one's own data in every state (GS2 describeDataObjects; not in the spec).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::prepare::PrepareRequest;
use crate::domain::principal_data::{self, Listed};
use crate::domain::{self, Caller, DataId, time};
use crate::error::ApiError;
use crate::handlers::extract::{Params, Xml};
use crate::handlers::{AppState, xml};
use crate::services::uploads::Prepared;
use crate::xml::render::{self, Include};
use crate::xml::requests::{CompleteRequest, DeleteRequest};

/// `POST /nex/datastore/v2/data/prepare`
pub async fn prepare_upload(
    state: web::Data<AppState>,
    caller: Caller,
    Xml(request): Xml<PrepareRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(xml(
        match state.prepare_upload(caller, request, time::now()).await? {
            Prepared::MetaOnly(id) => render::prepared_meta_only(id),
            Prepared::Upload { data_id, form } => render::prepared_upload(data_id, &form),
        },
    ))
}

/// `POST /nex/datastore/v2/data/complete/{data_id}` with an optional
/// `<complete><owner_id>`: checks that the file is in storage with the declared
/// size, then makes the object visible. The answer is 200 with no body (spec 12.3.2.5.3.2).
pub async fn complete_upload(
    state: web::Data<AppState>,
    caller: Caller,
    id: DataId,
    Xml(request): Xml<CompleteRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .complete_upload(caller, id, request.owner_id, time::now())
        .await?;
    Ok(HttpResponse::Ok().finish())
}

/// `DELETE /nex/datastore/v2/data/{data_id}`, alias `POST …/data/{data_id}/delete`
pub async fn delete_data(
    state: web::Data<AppState>,
    caller: Caller,
    DataId(id): DataId,
) -> Result<HttpResponse, ApiError> {
    let deleted = state.delete_objects(caller, vec![id], time::now()).await?;
    Ok(xml(render::counted("data", "deleted", deleted)))
}

/// `POST /nex/datastore/v2/data/delete`: every `<param><data_id>`, all or nothing.
pub async fn delete_datas(
    state: web::Data<AppState>,
    caller: Caller,
    Xml(request): Xml<DeleteRequest>,
) -> Result<HttpResponse, ApiError> {
    domain::check_batch_len(request.ids.len(), "<param>")?;
    let deleted = state
        .delete_objects(caller, request.ids, time::now())
        .await?;
    Ok(xml(render::counted("data", "deleted", deleted)))
}

/// `?owner_id=…&status=…&limit=…&page_token=…&response=…`
#[derive(Deserialize)]
pub struct OwnDataQuery {
    owner_id: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    page_token: Option<String>,
    response: Option<String>,
}

/// `GET /nex/datastore/v2/data/mine?status=…&limit=…&page_token=…&owner_id=…&response=…`:
/// the owner's objects in every state (uploading, finished, deleted within
/// retention), by data_id, a page at a time.
pub async fn list_own_data(
    state: web::Data<AppState>,
    caller: Caller,
    Params(query): Params<OwnDataQuery>,
) -> Result<HttpResponse, ApiError> {
    let named = query
        .owner_id
        .as_deref()
        .map(|text| domain::check_principal(domain::parse_uint("owner_id", text)?, "owner_id"))
        .transpose()?;
    let owner = principal_data::listed_owner(&caller, named)?;
    let filter = Listed::parse(query.status.as_deref())?;
    let limit = principal_data::list_limit(query.limit.as_deref())?;
    let include = Include::parse(query.response.as_deref())?;
    let page = state
        .list_own_data(
            caller,
            owner,
            filter,
            limit,
            query.page_token.as_deref(),
            time::now(),
        )
        .await?;
    Ok(xml(render::listing(
        &page.objects,
        include,
        page.next_page_token.as_deref(),
    )))
}
