//! What handlers take from a request, parsed before they run: the caller, ids
//! from the path, the query string as a struct, the XML body as a request type.
//! Each refuses a bad value with the error the spec's clients get.

use std::cell::Cell;
use std::collections::HashSet;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::auth::token_from_header;
use crate::body::{self, BodyDeadline};
use crate::domain::{Caller, DataId, PersistenceSlot, PrincipalId, RatingSlot, Version};
use crate::error::{ApiError, ErrorKind};
use crate::handlers::AppState;
use crate::xml::requests::{FromXml, parse_request};

/// The outcome of authentication, left in the request by [`authenticate`].
struct Authenticated(Result<Caller, ApiError>);

/// Middleware of the NEX scopes: looks the token up before any extractor runs,
/// so that a bad token is refused before anything else about the request
/// (`Caller` is the first argument of every handler). Never fails itself: an
/// unknown path or method still gets its 404 or 405.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(token_from_header);
    let caller = match (token, req.app_data::<web::Data<AppState>>()) {
        (None, _) => Err(ApiError::access_denied(
            "an Authorization: Bearer <token> header is required",
        )),
        (Some(_), None) => Err(ApiError::internal("application state missing")),
        (Some(token), Some(state)) => state
            .caller_for_token(&token)
            .await
            .map_err(ApiError::from)
            .and_then(|c| c.ok_or_else(|| ApiError::access_denied("unknown or revoked token"))),
    };
    req.extensions_mut().insert(Authenticated(caller));
    next.call(req).await
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authenticated = req.extensions_mut().remove::<Authenticated>();
        ready(match authenticated {
            Some(Authenticated(caller)) => caller,
            None => Err(ApiError::internal(format!(
                "{} is not behind the authenticate middleware",
                req.path()
            ))),
        })
    }
}

/// Path parameters by name: `{data_id}`, `{principal_id}`, `{slot}`, `{version}`.
macro_rules! path_param {
    ($type:ty, $name:literal) => {
        impl FromRequest for $type {
            type Error = ApiError;
            type Future = Ready<Result<$type, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(match req.match_info().get($name) {
                    Some(text) => text.parse(),
                    None => Err(ApiError::internal(concat!(
                        "the route has no {",
                        $name,
                        "}"
                    ))),
                })
            }
        }
    };
}

path_param!(DataId, "data_id");
path_param!(PrincipalId, "principal_id");
path_param!(RatingSlot, "slot");
path_param!(PersistenceSlot, "slot");
path_param!(Version, "version");

/// The query string as `T`, every field an optional string: the first of
/// repeated names wins, unknown names are ignored, values are checked by the
/// handler so each gets its own error.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Ready<Result<Params<T>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = req.query_string();
        // Repeated names are rare: only then is the query read twice.
        let parsed = serde_urlencoded::from_str::<T>(query)
            .or_else(|_| first_of_each_name(query))
            .map_err(|e| ApiError::malformed(format!("malformed query string: {e}")));
        ready(parsed.map(Params))
    }
}

/// The largest request body read, in bytes (app data; 256 KiB when unset).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Reads `query` as `T` keeping the first of repeated names (a struct would
/// refuse the repeat); a query that is malformed otherwise keeps its error.
fn first_of_each_name<T: DeserializeOwned>(query: &str) -> Result<T, serde_urlencoded::de::Error> {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query)?;
    let mut seen = HashSet::with_capacity(pairs.len());
    let first: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(name, _)| seen.insert(name.as_str()))
        .collect();
    let text = serde_urlencoded::to_string(first).map_err(serde::de::Error::custom)?;
    serde_urlencoded::from_str::<T>(&text)
}

/// The request body, read up to the [`BodyLimit`] (413 past it).
pub struct Body(pub Bytes);

impl FromRequest for Body {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Body, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(256 * 1024, |l| l.0);
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
        // An API body is small: it has the idle time to arrive, whole.
        let idle = req
            .app_data::<BodyDeadline>()
            .map_or(Duration::from_secs(10), |d| d.idle);
        let timed_out = Rc::new(Cell::new(false));
        let mut payload = Box::pin(body::timed(
            payload.take(),
            idle,
            Instant::now() + idle,
            Rc::clone(&timed_out),
        ));
        Box::pin(async move {
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| match timed_out.get() {
                    true => ApiError::new(
                        ErrorKind::RequestTimeout,
                        format!(
                            "the request body did not arrive within {} s",
                            idle.as_secs()
                        ),
                    ),
                    false => ApiError::malformed(format!("cannot read the request body: {e}")),
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

/// The XML body read into a request type (`<change>`, `<prepare>`, …).
pub struct Xml<T>(pub T);

impl<T: FromXml + 'static> FromRequest for Xml<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Xml<T>, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::from_request(req, payload);
        Box::pin(async move { parse_request(&body.await?.0).map(Xml) })
    }
}
