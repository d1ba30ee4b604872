//! The local store's S3 face: nexds acting as an S3-compatible endpoint for signed
//! POST uploads and presigned GET/HEAD downloads, plus the AWS signing (SigV2,
//! SigV4) that the file stores use to hand out forms and URLs.

pub mod error;
mod http;
pub mod post_policy;
pub mod presigned;
pub mod sign;

#[doc(hidden)]
pub use http::fuzz_post_body;

use actix_web::web;

/// The local store's S3 routes (DESIGN §1): POST Object on `/storage/{bucket}`,
/// GET/HEAD Object on `/storage/{bucket}/{key}`, 405 for other methods. With S3
/// storage they answer 404 like any unknown path.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/storage/{bucket}", "/storage/{bucket}/"])
            .route(web::post().to(http::post_object))
            .default_service(web::to(http::storage_method_not_allowed)),
    )
    .service(
        web::resource("/storage/{bucket}/{key:.*}")
            .route(web::get().to(http::get_object))
            .route(web::head().to(http::get_object))
            .default_service(web::to(http::storage_method_not_allowed)),
    );
}
