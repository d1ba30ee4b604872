//! Passwords (spec 12.3.2.7): only the owner or a title token reads them.

use actix_web::{HttpResponse, web};

use crate::domain::{self, Caller, time};
use crate::error::ApiError;
use crate::handlers::{AppState, Query, xml};
use crate::xml::render;

/// `GET /nex/datastore/v2/passwordinfo/{data_id}`
pub async fn get_passwordinfo(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let now = time::now();
    let object = state.store.readable_object(caller.clone(), id, now).await?;
    object.check_password_read(&caller, now)?;
    Ok(xml(render::passwordinfos(&[object])))
}

/// `GET /nex/datastore/v2/passwordinfo?data_ids=…`: the caller's own objects
/// among those asked; the rest are skipped.
pub async fn get_passwordinfos(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let ids = domain::parse_data_id_list(query.get("data_ids"))?;
    let now = time::now();
    let mut objects = state
        .store
        .visible_objects(caller.clone(), ids, now)
        .await?;
    objects.retain(|o| o.check_password_read(&caller, now).is_ok());
    Ok(xml(render::passwordinfos(&objects)))
}
