//! What every request goes through first (DESIGN §12): its request id (kept in
//! the request, sent back as `X-Request-Id`, named by every line logged for
//! it), its access log line and its HTTP metrics, both written once the answer
//! has been sent.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest};

use crate::logging;
use crate::telemetry;

/// The header that carries the request id both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client.
const MAX_ID_LEN: usize = 64;

/// The id of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id of `req`: the one [`observe`] gave it (a new one outside the middleware).
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map_or_else(new_id, |id| id.0.clone())
}

/// Whether a client's id can be kept: 1 to 64 of `A-Za-z0-9-_.`, so it is safe
/// in logs and headers.
pub fn is_sane(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A new id: 16 upper-case hex digits, the form of S3's request ids.
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    // An all-zero id is still an id; randomness only helps reading logs.
    let _ = getrandom::fill(&mut bytes);
    hex::encode_upper(bytes)
}

/// The outermost middleware: gives the request its id, runs it with that id in
/// every log line, answers an error the inner services return (so it gets the
/// header and a log line too), and logs and counts the request when its body
/// has been sent.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<AccessLogged>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane(v))
        .map_or_else(new_id, str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut access = Access {
        id: id.clone(),
        started,
        remote: req
            .peer_addr()
            .map_or_else(|| "-".to_owned(), |a| a.ip().to_string()),
        method: req.method().as_str().to_owned(),
        line: logging::request_line(&req),
        path: logging::redacted_path(&req),
        route: String::new(),
        status: 0,
    };
    let mut response = match logging::with_request_id(id.clone(), next.call(req)).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(err) => return Err(answered(err, access)),
    };
    set_request_id(response.headers_mut(), &id);
    access.route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| telemetry::UNMATCHED_ROUTE.to_owned());
    access.status = response.status().as_u16();
    Ok(response.map_body(|_, body| AccessLogged {
        body,
        bytes: 0,
        access: Some(access),
    }))
}

fn set_request_id(headers: &mut HeaderMap, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID_HEADER.clone(), value);
    }
}

/// An error an inner middleware returned instead of an answer (none of ours
/// does; handlers' errors are answers by then), answered here with the request
/// id, logged and counted at once. Its route is unknown: the request went with it.
fn answered(err: actix_web::Error, mut access: Access) -> actix_web::Error {
    let mut response = logging::with_request_id_sync(access.id.clone(), || {
        actix_web::HttpResponse::from_error(err)
    });
    set_request_id(response.headers_mut(), &access.id);
    access.route = telemetry::UNMATCHED_ROUTE.to_owned();
    access.status = response.status().as_u16();
    access.finish(0);
    let cause = format!("answered with {}", response.status());
    InternalError::from_response(cause, response).into()
}

/// What the access line and the metrics of one request say.
struct Access {
    id: String,
    started: Instant,
    remote: String,
    method: String,
    /// The request line, secrets redacted.
    line: String,
    /// Path and query, secrets redacted.
    path: String,
    /// The matched route pattern, or [`telemetry::UNMATCHED_ROUTE`].
    route: String,
    status: u16,
}

impl Access {
    fn finish(self, bytes: u64) {
        let elapsed = self.started.elapsed();
        // Microseconds are enough, and keep JSON numbers short.
        let duration_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        let method = metric_method(&self.method);
        metrics::counter!(
            telemetry::HTTP_REQUESTS,
            "method" => method,
            "route" => self.route.clone(),
            "status" => self.status.to_string()
        )
        .increment(1);
        metrics::histogram!(telemetry::HTTP_DURATION, "route" => self.route.clone())
            .record(elapsed);
        log::info!(
            target: "nexds::access",
            request_id = self.id.as_str(),
            method = self.method.as_str(),
            route = self.route.as_str(),
            status = self.status,
            duration_ms = duration_ms,
            path = self.path.as_str(),
            bytes = bytes,
            remote = self.remote.as_str();
            "{} \"{}\" {} {} {:.3}ms",
            self.remote, self.line, self.status, bytes, duration_ms
        );
    }
}

/// The method as a metric label: the standard ones, anything else `other` (a
/// label must not take whatever a client sends).
fn metric_method(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

/// An answer's body that counts the bytes sent and, when dropped (sent, or the
/// client gone), writes the access line and the metrics of its request.
pub struct AccessLogged {
    body: BoxBody,
    bytes: u64,
    access: Option<Access>,
}

impl MessageBody for AccessLogged {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let chunk = Pin::new(&mut this.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &chunk {
            this.bytes += bytes.len() as u64;
        }
        chunk
    }
}

impl Drop for AccessLogged {
    fn drop(&mut self) {
        if let Some(access) = self.access.take() {
            access.finish(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_id_is_kept_only_when_short_and_plain() {
        assert!(is_sane("abc-DEF_123.x"));
        assert!(is_sane(&"a".repeat(64)));
        assert!(!is_sane(&"a".repeat(65)));
        assert!(!is_sane(""));
        assert!(!is_sane("a b"));
        assert!(!is_sane("a\"b"));
        assert!(!is_sane("é"));
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(is_sane(&id));
    }
}
