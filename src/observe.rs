//! What every request goes through first (DESIGN §12): its request id (kept in
//! the request, sent back as `X-Request-Id`, named by every line logged for
//! it), its access log line and its HTTP metrics, both written once the answer
//! has been sent.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, Uri, Version};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest};

use metrics::{Counter, Histogram};

use crate::logging;
use crate::telemetry;

/// The header that carries the request id both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The log target of access lines.
const ACCESS_TARGET: &str = "nexds::access";

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
    // From a per-thread generator seeded once: an id only has to tell requests
    // apart in logs, and a system call per request for it is a cost under load.
    hex::encode_upper(fastrand::u64(..).to_be_bytes())
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
        remote: req.peer_addr().map(|a| a.ip()),
        method: req.method().clone(),
        uri: req.uri().clone(),
        version: req.version(),
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
/// The request's parts are kept as they came; the line is written from them,
/// secrets redacted, only when access lines are logged.
struct Access {
    id: String,
    started: Instant,
    remote: Option<IpAddr>,
    method: Method,
    uri: Uri,
    version: Version,
    /// The matched route pattern, or [`telemetry::UNMATCHED_ROUTE`].
    route: String,
    status: u16,
}

impl Access {
    fn finish(self, bytes: u64) {
        let elapsed = self.started.elapsed();
        // Microseconds are enough, and keep JSON numbers short.
        let duration_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        let method = metric_method(self.method.as_str());
        let (requests, duration) = http_metrics(method, &self.route, self.status);
        requests.increment(1);
        duration.record(elapsed);
        if !log::log_enabled!(target: ACCESS_TARGET, log::Level::Info) {
            return;
        }
        let remote = self
            .remote
            .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        let line = logging::request_line(&self.method, &self.uri, self.version);
        let path = logging::redacted_path(&self.uri);
        log::info!(
            target: ACCESS_TARGET,
            request_id = self.id.as_str(),
            method = self.method.as_str(),
            route = self.route.as_str(),
            status = self.status,
            duration_ms = duration_ms,
            path = path.as_str(),
            bytes = bytes,
            remote = remote.as_str();
            "{} \"{}\" {} {} {:.3}ms",
            remote, line, self.status, bytes, duration_ms
        );
    }
}

/// A route's request counter and duration histogram by method and status.
type ByAnswer = HashMap<(&'static str, u16), (Counter, Histogram)>;

thread_local! {
    /// The HTTP metrics of each (route, method, status) this thread has answered:
    /// a few hundred at most, since routes come from the route table and methods
    /// and statuses from small sets. Spares building and looking up labelled
    /// keys in the registry on every request.
    static HTTP_METRICS: RefCell<HashMap<String, ByAnswer>> = RefCell::new(HashMap::new());
}

/// The request counter and the duration histogram of one kind of request.
fn http_metrics(method: &'static str, route: &str, status: u16) -> (Counter, Histogram) {
    HTTP_METRICS.with_borrow_mut(|routes| {
        if let Some(by_answer) = routes.get_mut(route) {
            return handles(by_answer, method, route, status);
        }
        let mut by_answer = ByAnswer::new();
        let found = handles(&mut by_answer, method, route, status);
        routes.insert(route.to_owned(), by_answer);
        found
    })
}

fn handles(
    by_answer: &mut ByAnswer,
    method: &'static str,
    route: &str,
    status: u16,
) -> (Counter, Histogram) {
    by_answer
        .entry((method, status))
        .or_insert_with(|| {
            (
                metrics::counter!(
                    telemetry::HTTP_REQUESTS,
                    "method" => method,
                    "route" => route.to_owned(),
                    "status" => status.to_string()
                ),
                metrics::histogram!(telemetry::HTTP_DURATION, "route" => route.to_owned()),
            )
        })
        .clone()
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
