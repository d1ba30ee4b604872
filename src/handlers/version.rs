//! `GET /nex/datastore/version` (spec 12.3.3.1): no token needed.

use actix_web::HttpResponse;

use crate::handlers::xml;
use crate::xml::render;

/// The web API version this server speaks.
const API_VERSION: u32 = 2;
/// The NGS version reported to clients, in the spec's MAJOR.MINOR.MICRO.PATCH form
/// (patch usually blank, hence the trailing dot). Clients written against the spec
/// see the value its example shows.
const NGS_VERSION: &str = "3.6.2.";

/// `GET /nex/datastore/version`
pub async fn get_version() -> HttpResponse {
    xml(render::version(API_VERSION, NGS_VERSION))
}
