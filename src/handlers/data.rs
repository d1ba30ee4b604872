//! Data: prepare (spec 12.3.2.5.2), complete (12.3.2.5.3), delete (12.3.2.3), and
//! listing one's own data in every state (GS2 describeDataObjects; not in the spec).

use actix_web::{HttpResponse, web};

use crate::domain::prepare::PrepareRequest;
use crate::domain::principal::{self, ListWindow, Listed};
use crate::domain::{self, Caller, time};
use crate::error::ApiError;
use crate::handlers::{AppState, Body, Query, xml};
use crate::links;
use crate::store::uploads::UploadState;
use crate::xml::read::{parse_document, parse_optional_document};
use crate::xml::render::{self, Include};
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

/// Whose data a listing shows: a principal token its own (naming another
/// `owner_id` is PermissionDenied), a title token the `owner_id` it must give.
fn listed_owner(caller: &Caller, owner_id: Option<&str>) -> Result<u32, ApiError> {
    let named = owner_id
        .map(|text| domain::check_principal(domain::parse_uint("owner_id", text)?, "owner_id"))
        .transpose()?;
    match (caller.principal, named) {
        (Some(me), Some(owner)) if owner != me => Err(ApiError::permission_denied(format!(
            "principal {me} may not list the data of principal {owner}"
        ))),
        (Some(me), _) => Ok(me),
        (None, Some(owner)) => Ok(owner),
        (None, None) => Err(ApiError::invalid("owner_id is required with a title token")),
    }
}

/// `GET /nex/datastore/v2/data/mine?status=…&limit=…&page_token=…&owner_id=…&response=…`:
/// the owner's objects in every state (uploading, finished, deleted within
/// retention), by data_id, a page at a time.
pub async fn list_own_data(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let owner = listed_owner(&caller, query.get("owner_id"))?;
    let filter = Listed::parse(query.get("status"))?;
    let limit = principal::list_limit(query.get("limit"))?;
    let include = Include::parse(query.get("response"))?;
    // A token belongs to one listing: namespace, owner and status filter.
    let scope = format!("{}\n{owner}\n{}", caller.namespace, filter.name());
    let after = match query.get("page_token").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) if token.len() > principal::PAGE_TOKEN_MAX_CHARS => {
            return Err(ApiError::invalid(format!(
                "page_token is longer than {} characters",
                principal::PAGE_TOKEN_MAX_CHARS
            )));
        }
        Some(token) => links::page_token_id(&state.link_secret, &scope, token)
            .ok_or_else(|| ApiError::invalid("page_token is not a token of this listing"))?,
    };
    let now = time::now();
    let window = ListWindow {
        now,
        uploads_after: now - state.upload_timeout_secs,
        deleted_since: now - state.retention_secs,
    };
    let page = state
        .store
        .owned_objects(caller.namespace, owner, filter, after, limit, window)
        .await?;
    let next = match page.objects.last() {
        Some(last) if page.more => {
            Some(links::page_token(&state.link_secret, &scope, last.data_id))
        }
        _ => None,
    };
    Ok(xml(render::listing(
        &page.objects,
        include,
        next.as_deref(),
    )))
}
