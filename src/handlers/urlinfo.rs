//! Download URLs: urlinfo (spec 12.3.2.6), and nexds's own long-lived download
//! links that redirect to a fresh presigned URL (DESIGN §5).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::domain::{self, Caller, Object, time};
use crate::error::ApiError;
use crate::handlers::{AppState, Query, versions, xml};
use crate::links;
use crate::xml::render;

/// urlinfo's `period`: days the URL stays valid, 1..=365, default 30.
fn period_days(query: &Query) -> Result<u16, ApiError> {
    match query.get("period") {
        None => Ok(30),
        Some(text) => domain::check_period(domain::parse_uint("period", text)?),
    }
}

/// A URL from which `object`'s file downloads for `days` days: a presigned URL of
/// the store when it can live that long, else a signed link of nexds.
pub(crate) async fn download_url(
    state: &AppState,
    object: &Object,
    now: i64,
    days: u16,
) -> Result<String, ApiError> {
    let key = object.blob_key.as_deref().unwrap_or_default();
    let secs = i64::from(days) * time::DAY;
    if state.blobs.presign_reaches(secs) {
        return state
            .blobs
            .download_url(key, now, secs)
            .await
            .map_err(ApiError::internal);
    }
    let expires_at = now + secs;
    let signature = links::link_signature(&state.link_secret, object.data_id, key, expires_at);
    Ok(format!(
        "{}/download/{}?version={}&expires={expires_at}&signature={signature}",
        state.public_url, object.data_id, object.version
    ))
}

async fn urls(
    state: &AppState,
    objects: &[Object],
    now: i64,
    days: u16,
) -> Result<Vec<(u64, String)>, ApiError> {
    let mut out = Vec::with_capacity(objects.len());
    for object in objects {
        out.push((
            object.data_id,
            download_url(state, object, now, days).await?,
        ));
    }
    Ok(out)
}

/// `GET /nex/datastore/v2/urlinfo/{data_id}?period=…&version=…`: counts a reference;
/// `version` (nexds's own) asks for a stored earlier version.
pub async fn get_urlinfo(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let id = domain::parse_data_id(&path)?;
    let days = period_days(&query)?;
    let version = versions::version_param(query.get("version"))?;
    let now = time::now();
    let old = match version {
        Some(v) => Some(state.store.stored_version(id, v).await?.ok_or_else(|| {
            ApiError::new(
                crate::error::ErrorKind::NotFound,
                format!("data_id {id} has no stored version {v}"),
            )
        })?),
        None => None,
    };
    let mut objects = state.store.refer_objects(caller, vec![id], now).await?;
    if let (Some(old), Some(object)) = (old, objects.first_mut()) {
        object.blob_key = Some(old.blob_key);
        object.version = old.version;
    }
    Ok(xml(render::urlinfos(
        &urls(&state, &objects, now, days).await?,
    )))
}

/// `GET /nex/datastore/v2/urlinfo?data_ids=…&period=…`: every id, all or nothing.
pub async fn get_urlinfos(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let ids = domain::parse_data_id_list(query.get("data_ids"))?;
    let days = period_days(&query)?;
    if query.get("version").is_some() {
        return Err(ApiError::invalid(
            "version applies to urlinfo of one data_id",
        ));
    }
    let now = time::now();
    let objects = state.store.refer_objects(caller, ids, now).await?;
    Ok(xml(render::urlinfos(
        &urls(&state, &objects, now, days).await?,
    )))
}

/// An S3-style error for download clients.
fn s3_error(status: actix_web::http::StatusCode, code: &str, message: &str) -> HttpResponse {
    crate::s3::error::error_response(status, code, message, None, false)
}

/// `GET /download/{data_id}?version=…&expires=…&signature=…`: a link handed out by urlinfo
/// for periods a presigned URL cannot reach; redirects to a fresh presigned URL.
pub async fn follow_download_link(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    use actix_web::http::StatusCode;
    let now = time::now();
    let (Ok(id), Some(Ok(version)), Some(Ok(expires_at)), Some(signature)) = (
        path.parse::<u64>(),
        query.get("version").map(str::parse::<u32>),
        query.get("expires").map(str::parse::<i64>),
        query.get("signature"),
    ) else {
        return Ok(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "malformed download link",
        ));
    };
    if expires_at <= now {
        return Ok(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
        ));
    }
    let live = state.store.object_with_file(id, now).await?.is_some();
    let stored = match live {
        true => state.store.stored_version(id, version).await?,
        false => None,
    };
    let Some(stored) = stored else {
        return Ok(s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        ));
    };
    let key = stored.blob_key.as_str();
    let expected = links::link_signature(&state.link_secret, id, key, expires_at);
    if !links::same_signature(&expected, signature) {
        return Ok(s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The download link is not valid",
        ));
    }
    // Short-lived: the link itself carries the long validity.
    let fresh = state
        .blobs
        .download_url(key, now, (expires_at - now).min(3600))
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, fresh))
        .finish())
}
