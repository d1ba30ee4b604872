//! Persistence slots (spec 12.3.2.9): get, perpetuate and unperpetuate.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::{self, Caller, PersistenceSlot, PrincipalId, time};
use crate::error::ApiError;
use crate::handlers::extract::{Params, Xml};
use crate::handlers::{AppState, xml};
use crate::xml::render;
use crate::xml::requests::{PerpetuateRequest, UnperpetuateRequest};

/// `?principal_id=…&slots=…`
#[derive(Deserialize)]
pub struct PersistenceQuery {
    principal_id: Option<String>,
    slots: Option<String>,
}

/// `GET /nex/datastore/v2/persistenceinfo/{principal_id}/{slot}`
pub async fn get_persistenceinfo(
    state: web::Data<AppState>,
    caller: Caller,
    PrincipalId(principal): PrincipalId,
    PersistenceSlot(slot): PersistenceSlot,
) -> Result<HttpResponse, ApiError> {
    let info = state
        .store
        .persistence_info(caller, principal, slot, time::now())
        .await?;
    Ok(xml(render::persistenceinfos(&[info])))
}

/// `GET /nex/datastore/v2/persistenceinfo?principal_id=…&slots=…`: the filled slots
/// the caller may read, in the order asked.
pub async fn get_persistenceinfos(
    state: web::Data<AppState>,
    caller: Caller,
    Params(query): Params<PersistenceQuery>,
) -> Result<HttpResponse, ApiError> {
    let PrincipalId(principal) = query
        .principal_id
        .ok_or_else(|| ApiError::invalid("principal_id is required"))?
        .parse()?;
    let slots = domain::parse_persistence_slots(query.slots.as_deref())?;
    let infos = state
        .store
        .persistence_infos(caller, principal, slots, time::now())
        .await?;
    Ok(xml(render::persistenceinfos(&infos)))
}

/// `PUT /nex/datastore/v2/persistenceinfo/{principal_id}/{slot}`, alias `POST …/put`
pub async fn perpetuate(
    state: web::Data<AppState>,
    caller: Caller,
    PrincipalId(principal): PrincipalId,
    PersistenceSlot(slot): PersistenceSlot,
    Xml(request): Xml<PerpetuateRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .perpetuate(
            caller,
            (principal, slot),
            request.data_id,
            request.delete_last_object,
            time::now(),
        )
        .await?;
    Ok(xml(render::counted("persistenceinfo", "perpetuated", 1)))
}

/// `DELETE /nex/datastore/v2/persistenceinfo/{principal_id}/{slot}`, alias `POST …/delete`
/// with an optional `<unperpetuate>` body.
pub async fn unperpetuate(
    state: web::Data<AppState>,
    caller: Caller,
    PrincipalId(principal): PrincipalId,
    PersistenceSlot(slot): PersistenceSlot,
    Xml(request): Xml<UnperpetuateRequest>,
) -> Result<HttpResponse, ApiError> {
    let released = state
        .unperpetuate(
            caller,
            (principal, slot),
            request.delete_last_object,
            time::now(),
        )
        .await?;
    Ok(xml(render::counted(
        "persistenceinfo",
        "unperpetuated",
        released,
    )))
}
