//! Passwords (spec 12.3.2.7): only the owner or a title token reads them.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::{self, Caller, DataId, time};
use crate::error::ApiError;
use crate::handlers::extract::Params;
use crate::handlers::{AppState, xml};
use crate::xml::render;

/// `?data_ids=…`
#[derive(Deserialize)]
pub struct PasswordinfoQuery {
    data_ids: Option<String>,
}

/// `GET /nex/datastore/v2/passwordinfo/{data_id}`
pub async fn get_passwordinfo(
    state: web::Data<AppState>,
    caller: Caller,
    DataId(id): DataId,
) -> Result<HttpResponse, ApiError> {
    let now = time::now();
    let object = state.store.readable_object(caller.clone(), id, now).await?;
    object.check_password_read(&caller)?;
    Ok(xml(render::passwordinfos(&[object])))
}

/// `GET /nex/datastore/v2/passwordinfo?data_ids=…`: the caller's own objects
/// among those asked; the rest are skipped.
pub async fn get_passwordinfos(
    state: web::Data<AppState>,
    caller: Caller,
    Params(query): Params<PasswordinfoQuery>,
) -> Result<HttpResponse, ApiError> {
    let ids = domain::parse_data_id_list(query.data_ids.as_deref())?;
    let now = time::now();
    let mut objects = state
        .store
        .visible_objects(caller.clone(), ids, now)
        .await?;
    objects.retain(|o| o.check_password_read(&caller).is_ok());
    Ok(xml(render::passwordinfos(&objects)))
}
