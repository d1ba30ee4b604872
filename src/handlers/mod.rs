//! HTTP handlers of the NEX endpoints, one file per resource, and the one route
//! table (the local store's S3 routes come from [`crate::s3::configure`]). POST
//! aliases (`…/put`, `…/delete`) point at the same function as PUT/DELETE.

mod data;
mod metainfo;
mod passwordinfo;
mod persistence;
mod principals;
mod ratings;
mod search;
mod urlinfo;
mod version;
mod versions;

use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::http::header;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload};
use futures_util::StreamExt;

use crate::blob::Blobs;
use crate::error::{ApiError, ErrorKind};
use crate::store::Store;
use crate::xml::CONTENT_TYPE;

/// Shared by every handler.
pub struct AppState {
    pub store: Store,
    pub blobs: Blobs,
    pub max_body_bytes: usize,
    pub max_file_size: u64,
    pub public_url: String,
    /// How long an upload form stays valid, in seconds.
    pub upload_form_secs: i64,
    /// Uploads not completed within this many seconds are dropped.
    pub upload_timeout_secs: i64,
    /// Deleted objects are kept this many seconds before the janitor removes them.
    pub retention_secs: i64,
    /// Signs nexds's own download links and the page tokens of listings.
    pub link_secret: Vec<u8>,
}

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
                .service(resource("/ratings/delete").route(post().to(ratings::reset_ratings_batch)))
                .service(resource("/{data_id}/ratings").route(delete().to(ratings::reset_ratings)))
                .service(
                    resource("/{data_id}/ratings/delete").route(post().to(ratings::reset_ratings)),
                ),
        )
        .service(
            web::scope("/nex/datastore/v2")
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
                .service(resource("/data/{data_id}/restore").route(post().to(versions::reconcile)))
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
                        .route(delete().to(principals::erase_principal)),
                )
                .service(
                    resource("/principals/{principal_id}/erase")
                        .route(post().to(principals::erase_principal)),
                )
                .service(
                    resource("/principals/{principal_id}/export")
                        .route(get().to(principals::export_principal)),
                ),
        )
        .service(resource("/download/{data_id}").route(get().to(urlinfo::follow_download_link)))
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

/// The request body, read up to the configured limit (413 past it).
pub struct Body(pub Bytes);

impl FromRequest for Body {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Body, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(256 * 1024, |s| s.max_body_bytes);
        let too_large = move || {
            ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!("the request body is larger than {limit} bytes"),
            )
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Box::pin(ready(Err(too_large())));
        }
        let mut payload = payload.take();
        Box::pin(async move {
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::malformed(format!("cannot read the request body: {e}"))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Body(body.freeze()))
        })
    }
}

/// The query string as name → value (the first of repeated names wins).
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl FromRequest for Query {
    type Error = ApiError;
    type Future = Ready<Result<Query, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map(|pairs| {
                let mut map = HashMap::new();
                for (k, v) in pairs {
                    map.entry(k).or_insert(v);
                }
                Query(map)
            })
            .map_err(|e| ApiError::malformed(format!("malformed query string: {e}")));
        ready(parsed)
    }
}
