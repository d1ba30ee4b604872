//! The operator's endpoints (DESIGN §12): `GET /health/live`, `GET /health/ready`,
//! `GET /metrics`. Plain text, no NEX token; `/metrics` takes `NEXDS_METRICS_TOKEN`
//! when it is set.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{hash_token, token_from_header};
use crate::handlers::AppState;
use crate::telemetry;

/// The hash of `NEXDS_METRICS_TOKEN`, when `/metrics` needs one.
#[derive(Clone, Copy)]
pub struct MetricsToken(pub Option<[u8; 32]>);

/// The content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn text(mut response: actix_web::HttpResponseBuilder, body: String) -> HttpResponse {
    response.insert_header(ContentType::plaintext()).body(body)
}

/// `GET /health/live`: the process serves.
pub async fn live() -> HttpResponse {
    text(HttpResponse::Ok(), "ok".into())
}

/// `GET /health/ready`: 200 when the metadata database and the file storage
/// answer, else 503 naming those that did not (why is logged, not shown).
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let failed = state.readiness().await;
    if failed.is_empty() {
        return text(HttpResponse::Ok(), "ok".into());
    }
    let mut body = String::new();
    for failure in &failed {
        log::warn!(
            "not ready: {} does not answer: {}",
            failure.what,
            failure.why
        );
        body.push_str(&format!("not ready: {} does not answer\n", failure.what));
    }
    text(HttpResponse::ServiceUnavailable(), body)
}

/// `GET /metrics`: every series in Prometheus text format.
pub async fn metrics(req: HttpRequest, token: Option<web::Data<MetricsToken>>) -> HttpResponse {
    if let Some(expected) = token.and_then(|t| t.0) {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(token_from_header);
        // Hashes compared, so the time taken says nothing about the token.
        if presented.map(|t| hash_token(&t)) != Some(expected) {
            let mut response = HttpResponse::Unauthorized();
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"nexds metrics\""));
            return text(
                response,
                "/metrics needs Authorization: Bearer <NEXDS_METRICS_TOKEN>\n".into(),
            );
        }
    }
    match telemetry::render() {
        Some(body) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, PROMETHEUS_TEXT))
            .body(body),
        None => text(
            HttpResponse::ServiceUnavailable(),
            "metrics are off (see the log)\n".into(),
        ),
    }
}
