//! HTTP handlers of the NEX endpoints, one file per resource, and the one route
//! table (the local store's S3 routes come from [`crate::s3::configure`]). POST aliases (`…/put`, `…/delete`) point at the same function as
//! PUT/DELETE. A handler parses (extractors), makes one service or store call,
//! and renders.

mod admin;
mod data;
mod extract;
mod friends;
mod metainfo;
mod notifications;
mod operations;
mod passwordinfo;
mod persistence;
mod principal_data;
mod ratings;
mod search;
mod urlinfo;
mod version;
mod versions;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

pub use extract::BodyLimit;
pub use operations::MetricsToken;

use crate::error::{ApiError, ErrorKind};
use crate::xml::CONTENT_TYPE;
use crate::xml::render;

/// What every handler shares.
pub type AppState = crate::services::Services;

/// A resource whose other methods get 405.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The route table: every endpoint of the spec with its POST alias. Fixed paths
/// come before the `{data_id}` patterns they would otherwise match.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post, put};
    cfg.service(resource("/nex/datastore/version").route(get().to(version::get_version)))
        // Spec 12.3.2.8.2.1 writes the rating reset paths without `datastore/v2`.
        .service(
            web::scope("/nex/metainfo")
                .wrap(from_fn(extract::authenticate))
                .service(resource("/ratings/delete").route(post().to(ratings::reset_ratings_batch)))
                .service(resource("/{data_id}/ratings").route(delete().to(ratings::reset_ratings)))
                .service(
                    resource("/{data_id}/ratings/delete").route(post().to(ratings::reset_ratings)),
                ),
        )
        .service(
            web::scope("/nex/datastore/v2")
                .wrap(from_fn(extract::authenticate))
                .service(
                    resource("/metainfo")
                        .route(get().to(metainfo::get_metainfos))
                        .route(put().to(metainfo::change_metainfos)),
                )
                .service(resource("/metainfo/put").route(post().to(metainfo::change_metainfos)))
                .service(resource("/metainfo/ratings").route(put().to(ratings::rate_batch)))
                .service(resource("/metainfo/ratings/put").route(post().to(ratings::rate_batch)))
                .service(
                    resource("/metainfo/ratings/delete")
                        .route(post().to(ratings::reset_ratings_batch)),
                )
                // Before /metainfo/{data_id}, which would take "search" for a data_id.
                .service(resource("/metainfo/search").route(get().to(search::search_metainfo)))
                .service(
                    resource("/metainfo/{data_id}")
                        .route(get().to(metainfo::get_metainfo))
                        .route(put().to(metainfo::change_metainfo)),
                )
                .service(
                    resource("/metainfo/{data_id}/put").route(post().to(metainfo::change_metainfo)),
                )
                .service(
                    resource("/metainfo/{data_id}/ratings")
                        .route(delete().to(ratings::reset_ratings)),
                )
                .service(
                    resource("/metainfo/{data_id}/ratings/delete")
                        .route(post().to(ratings::reset_ratings)),
                )
                .service(
                    resource("/metainfo/{data_id}/ratings/{slot}").route(put().to(ratings::rate)),
                )
                .service(
                    resource("/metainfo/{data_id}/ratings/{slot}/put")
                        .route(post().to(ratings::rate)),
                )
                .service(resource("/data/prepare").route(post().to(data::prepare_upload)))
                .service(
                    resource("/data/complete/{data_id}").route(post().to(data::complete_upload)),
                )
                .service(resource("/data/delete").route(post().to(data::delete_datas)))
                .service(resource("/data/mine").route(get().to(data::list_own_data)))
                .service(resource("/data/{data_id}").route(delete().to(data::delete_data)))
                .service(resource("/data/{data_id}/delete").route(post().to(data::delete_data)))
                .service(
                    resource("/data/{data_id}/restore").route(post().to(versions::restore_data)),
                )
                .service(
                    resource("/data/{data_id}/versions").route(get().to(versions::list_versions)),
                )
                .service(
                    resource("/data/{data_id}/versions/prepare")
                        .route(post().to(versions::prepare_version)),
                )
                .service(
                    resource("/data/{data_id}/versions/complete")
                        .route(post().to(versions::complete_version)),
                )
                .service(
                    resource("/data/{data_id}/versions/{version}/restore")
                        .route(post().to(versions::restore_version)),
                )
                .service(resource("/passwordinfo").route(get().to(passwordinfo::get_passwordinfos)))
                .service(
                    resource("/passwordinfo/{data_id}")
                        .route(get().to(passwordinfo::get_passwordinfo)),
                )
                .service(resource("/urlinfo").route(get().to(urlinfo::get_urlinfos)))
                .service(resource("/urlinfo/{data_id}").route(get().to(urlinfo::get_urlinfo)))
                .service(
                    resource("/persistenceinfo").route(get().to(persistence::get_persistenceinfos)),
                )
                .service(
                    resource("/persistenceinfo/{principal_id}/{slot}")
                        .route(get().to(persistence::get_persistenceinfo))
                        .route(put().to(persistence::perpetuate))
                        .route(delete().to(persistence::unperpetuate)),
                )
                .service(
                    resource("/persistenceinfo/{principal_id}/{slot}/put")
                        .route(post().to(persistence::perpetuate)),
                )
                .service(
                    resource("/persistenceinfo/{principal_id}/{slot}/delete")
                        .route(post().to(persistence::unperpetuate)),
                )
                // GS2-Datastore's per-user operations (README "Principals").
                .service(
                    resource("/principals/{principal_id}")
                        .route(delete().to(principal_data::erase_principal)),
                )
                .service(
                    resource("/principals/{principal_id}/erase")
                        .route(post().to(principal_data::erase_principal)),
                )
                .service(
                    resource("/principals/{principal_id}/export")
                        .route(get().to(principal_data::export_principal)),
                )
                // Notifications (DESIGN §15).
                .service(
                    resource("/notifications").route(get().to(notifications::get_notifications)),
                )
                // Friend lists (DESIGN §14).
                .service(
                    resource("/principals/{principal_id}/friends")
                        .route(get().to(friends::get_friends))
                        .route(put().to(friends::set_friends)),
                )
                .service(
                    resource("/principals/{principal_id}/friends/put")
                        .route(post().to(friends::set_friends)),
                ),
        )
        // The operator's endpoints (DESIGN §12, README "Operating nexds").
        .service(resource("/health/live").route(get().to(operations::live)))
        .service(resource("/health/ready").route(get().to(operations::ready)))
        .service(resource("/metrics").route(get().to(operations::metrics)))
        .service(resource("/download/{data_id}").route(get().to(urlinfo::follow_download_link)))
        // The moderation page (DESIGN §13); any other path under /admin/ is 404.
        .service(resource("/admin/").route(get().to(admin::moderation_page)))
        .service(resource("/admin").route(get().to(admin::to_moderation_page)))
        // The local store's S3 endpoints (DESIGN §1); 404 like any unknown path with S3 storage.
        .configure(crate::s3::configure)
        .default_service(web::to(no_such_endpoint));
}

async fn no_such_endpoint(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorKind::NoSuchEndpoint,
        format!("no endpoint {} {}", req.method(), req.path()),
    ))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("{} is not allowed on {}", req.method(), req.path()),
    ))
}

/// A 200 answer with an XML document.
fn xml(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .body(body)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if self.kind == ErrorKind::Unknown {
            log::error!("{self}");
        } else {
            log::debug!("{self}");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
        if self.kind == ErrorKind::AccessDenied {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"nexds\""),
            ));
        }
        response.body(render::error(self))
    }
}
