//! HTTP handlers, one file per resource, and the one route table. POST
//! aliases (`…/put`, `…/delete`) point at the same function as PUT/DELETE.

mod data;
mod metainfo;
mod passwordinfo;
mod search;
mod version;

use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::http::header;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload};
use futures_util::StreamExt;

use crate::error::{ApiError, ErrorKind};
use crate::store::Store;
use crate::xml::CONTENT_TYPE;

/// Shared by every handler.
pub struct AppState {
    pub store: Store,
    pub max_body_bytes: usize,
    pub max_file_size: u64,
    pub public_url: String,
}

/// The route table: every endpoint of the spec with its POST alias.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/nex/datastore/version")
            .route(web::get().to(version::get_version))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::scope("/nex/datastore/v2")
            .service(
                web::resource("/metainfo")
                    .route(web::get().to(metainfo::get_metainfos))
                    .route(web::put().to(metainfo::change_metainfos))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/metainfo/put")
                    .route(web::post().to(metainfo::change_metainfos))
                    .default_service(web::to(method_not_allowed)),
            )
            // Before /metainfo/{data_id}, which would take "search" for a data_id.
            .service(
                web::resource("/metainfo/search")
                    .route(web::get().to(search::search_metainfo))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/metainfo/{data_id}")
                    .route(web::get().to(metainfo::get_metainfo))
                    .route(web::put().to(metainfo::change_metainfo))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/metainfo/{data_id}/put")
                    .route(web::post().to(metainfo::change_metainfo))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/data/prepare")
                    .route(web::post().to(data::prepare_upload))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/data/delete")
                    .route(web::post().to(data::delete_datas))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/data/{data_id}")
                    .route(web::delete().to(data::delete_data))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/data/{data_id}/delete")
                    .route(web::post().to(data::delete_data))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/passwordinfo")
                    .route(web::get().to(passwordinfo::get_passwordinfos))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/passwordinfo/{data_id}")
                    .route(web::get().to(passwordinfo::get_passwordinfo))
                    .default_service(web::to(method_not_allowed)),
            ),
    )
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
