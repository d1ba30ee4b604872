//! Download URLs: urlinfo (spec 12.3.2.6), and nexds's own long-lived download
//! links that redirect to a fresh presigned URL (DESIGN §5).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::{self, Caller, DataId, Version, time};
use crate::error::ApiError;
use crate::handlers::extract::Params;
use crate::handlers::{AppState, xml};
use crate::services::downloads::{DownloadLink, LinkOutcome};
use crate::xml::render;

/// `?data_ids=…&period=…&version=…`
#[derive(Deserialize)]
pub struct UrlinfoQuery {
    data_ids: Option<String>,
    period: Option<String>,
    version: Option<String>,
}

impl UrlinfoQuery {
    /// urlinfo's `period`: days the URL stays valid, 1..=365, default 30.
    fn days(&self) -> Result<u16, ApiError> {
        match &self.period {
            None => Ok(30),
            Some(text) => domain::check_period(domain::parse_uint("period", text)?),
        }
    }
}

/// `GET /nex/datastore/v2/urlinfo/{data_id}?period=…&version=…`: counts a reference;
/// `version` (nexds's own) asks for a stored earlier version.
pub async fn get_urlinfo(
    state: web::Data<AppState>,
    caller: Caller,
    DataId(id): DataId,
    Params(query): Params<UrlinfoQuery>,
) -> Result<HttpResponse, ApiError> {
    let days = query.days()?;
    let version = query
        .version
        .as_deref()
        .map(str::parse::<Version>)
        .transpose()?;
    let urls = state
        .refer_urls(caller, vec![id], version, days, time::now())
        .await?;
    Ok(xml(render::urlinfos(&urls)))
}

/// `GET /nex/datastore/v2/urlinfo?data_ids=…&period=…`: every id, all or nothing.
pub async fn get_urlinfos(
    state: web::Data<AppState>,
    caller: Caller,
    Params(query): Params<UrlinfoQuery>,
) -> Result<HttpResponse, ApiError> {
    let ids = domain::parse_data_id_list(query.data_ids.as_deref())?;
    let days = query.days()?;
    if query.version.is_some() {
        return Err(ApiError::invalid(
            "version applies to urlinfo of one data_id",
        ));
    }
    let urls = state
        .refer_urls(caller, ids, None, days, time::now())
        .await?;
    Ok(xml(render::urlinfos(&urls)))
}

/// `?version=…&expires=…&signature=…` of a download link.
#[derive(Deserialize)]
pub struct LinkQuery {
    version: Option<String>,
    expires: Option<String>,
    signature: Option<String>,
}

/// `GET /download/{data_id}?version=…&expires=…&signature=…`: a link handed out by urlinfo
/// for periods a presigned URL cannot reach; redirects to a fresh presigned URL.
pub async fn follow_download_link(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Params(query): Params<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let link = DownloadLink {
        data_id: &path,
        version: query.version.as_deref(),
        expires: query.expires.as_deref(),
        signature: query.signature.as_deref(),
    };
    let outcome = state.follow_download_link(link, time::now()).await?;
    Ok(link_answer(outcome))
}

/// A redirect, or the S3-style error a download client understands.
fn link_answer(outcome: LinkOutcome) -> HttpResponse {
    let (status, code, message) = match outcome {
        LinkOutcome::Redirect(url) => {
            return HttpResponse::Found()
                .insert_header((header::LOCATION, url))
                .finish();
        }
        LinkOutcome::Malformed => (403, "AccessDenied", "malformed download link"),
        LinkOutcome::Expired => (403, "AccessDenied", "Request has expired"),
        LinkOutcome::NoSuchKey => (404, "NoSuchKey", "The specified key does not exist."),
        LinkOutcome::BadSignature => (
            403,
            "SignatureDoesNotMatch",
            "The download link is not valid",
        ),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    crate::s3::error::error_response(status, code, message, None, false)
}
