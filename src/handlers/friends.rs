//! Friend lists (DESIGN §14): the operator replaces a principal's list with a
//! title token; a principal reads its own.

use actix_web::{HttpResponse, web};

use crate::domain::friends;
use crate::domain::{Caller, PrincipalId};
use crate::error::ApiError;
use crate::handlers::extract::Xml;
use crate::handlers::{AppState, xml};
use crate::xml::render;
use crate::xml::requests::FriendsRequest;

/// `PUT /nex/datastore/v2/principals/{principal_id}/friends`, alias `POST …/friends/put`:
/// replaces the friend list of the principal (title token only).
pub async fn set_friends(
    state: web::Data<AppState>,
    caller: Caller,
    principal: Result<PrincipalId, ApiError>,
    request: Result<Xml<FriendsRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    // A principal token is refused before anything it sent is read.
    friends::check_list_writer(&caller)?;
    let PrincipalId(owner) = principal?;
    let Xml(request) = request?;
    let length = state
        .store
        .set_friends(caller.namespace, owner, request.friends)
        .await?;
    Ok(xml(render::friends_set(length)))
}

/// `GET /nex/datastore/v2/principals/{principal_id}/friends`: the friend list of
/// the principal, for a title token or the principal itself.
pub async fn get_friends(
    state: web::Data<AppState>,
    caller: Caller,
    PrincipalId(owner): PrincipalId,
) -> Result<HttpResponse, ApiError> {
    friends::check_list_reader(&caller, owner)?;
    let ids = state.store.friends(caller.namespace, owner).await?;
    Ok(xml(render::friends(&ids)))
}
