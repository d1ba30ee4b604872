//! Persistence slots (spec 12.3.2.9): get, perpetuate and unperpetuate.

use actix_web::{HttpResponse, web};

use crate::domain::{self, Caller, time};
use crate::error::ApiError;
use crate::handlers::{AppState, Body, Query, xml};
use crate::xml::read::{parse_document, parse_optional_document};
use crate::xml::render;
use crate::xml::requests::{perpetuate_from_xml, persistence_slot, unperpetuate_from_xml};

fn principal_and_slot(path: &(String, String)) -> Result<(u32, u16), ApiError> {
    let principal =
        domain::check_principal(domain::parse_uint("principal_id", &path.0)?, "principal_id")?;
    let slot = persistence_slot(domain::parse_uint("slot", &path.1)?)?;
    Ok((principal, slot))
}

/// `GET /nex/datastore/v2/persistenceinfo/{principal_id}/{slot}`
pub async fn get_persistenceinfo(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (principal, slot) = principal_and_slot(&path)?;
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
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let principal = query
        .get("principal_id")
        .ok_or_else(|| ApiError::invalid("principal_id is required"))?;
    let principal = domain::check_principal(
        domain::parse_uint("principal_id", principal)?,
        "principal_id",
    )?;
    let slots = query
        .get("slots")
        .ok_or_else(|| ApiError::invalid("slots is required"))?;
    let items: Vec<&str> = slots
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() || items.len() > usize::from(domain::limits::PERSISTENCE_SLOTS) {
        return Err(ApiError::invalid(format!(
            "slots: {} items, 1 to 16 are allowed",
            items.len()
        )));
    }
    let mut list = Vec::with_capacity(items.len());
    for item in items {
        let slot = persistence_slot(domain::parse_uint("slot", item)?)?;
        if !list.contains(&slot) {
            list.push(slot);
        }
    }
    let infos = state
        .store
        .persistence_infos(caller, principal, list, time::now())
        .await?;
    Ok(xml(render::persistenceinfos(&infos)))
}

/// `PUT /nex/datastore/v2/persistenceinfo/{principal_id}/{slot}`, alias `POST …/put`
pub async fn perpetuate(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (principal, slot) = principal_and_slot(&path)?;
    let (data_id, delete_last_object) =
        perpetuate_from_xml(&parse_document(&body.0, "perpetuate")?)?;
    state
        .store
        .perpetuate(
            caller,
            principal,
            slot,
            data_id,
            delete_last_object,
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
    path: web::Path<(String, String)>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (principal, slot) = principal_and_slot(&path)?;
    let doc = parse_optional_document(&body.0, "unperpetuate")?;
    let delete_last_object = unperpetuate_from_xml(doc.as_ref())?;
    let released = state
        .store
        .unperpetuate(caller, principal, slot, delete_last_object, time::now())
        .await?;
    Ok(xml(render::counted(
        "persistenceinfo",
        "unperpetuated",
        released,
    )))
}
