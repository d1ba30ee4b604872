//! Notifications (DESIGN §15): a principal reads those it got.

use actix_web::{HttpResponse, web};

use crate::domain::Caller;
use crate::domain::notification::{NotificationParams, NotificationQuery};
use crate::error::ApiError;
use crate::handlers::extract::Params;
use crate::handlers::{AppState, xml};
use crate::xml::render;

/// `GET /nex/datastore/v2/notifications?since=…&limit=…`: the caller's notifications
/// with an id above `since` (default 0), oldest first, at most `limit` (1–100,
/// default 20); principal tokens only.
pub async fn get_notifications(
    state: web::Data<AppState>,
    caller: Caller,
    Params(params): Params<NotificationParams>,
) -> Result<HttpResponse, ApiError> {
    let query = NotificationQuery::parse(&params, &caller)?;
    let list = state.store.notifications(caller.namespace, query).await?;
    Ok(xml(render::notifications(&list)))
}
