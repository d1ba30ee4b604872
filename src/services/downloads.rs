//! Download URLs: urlinfo (spec 12.3.2.6), search's `response=url`, and
//! nexds's own long-lived links that redirect to a fresh presigned URL (DESIGN §5).

use std::collections::HashMap;

use crate::domain::{Caller, Object, Version, time};
use crate::error::{ApiError, ErrorKind};
use crate::links;
use crate::services::Services;

/// Days a search's `response=url` URL stays valid (spec 12.3.2.4.1).
const SEARCH_URL_DAYS: u16 = 30;

/// The answer to a download link: where to go, or why not (as S3 would say it).
#[derive(Debug, PartialEq, Eq)]
pub enum LinkOutcome {
    Redirect(String),
    Malformed,
    Expired,
    NoSuchKey,
    BadSignature,
}

/// A download link as it came in: each part still unchecked text.
pub struct DownloadLink<'a> {
    pub data_id: &'a str,
    pub version: Option<&'a str>,
    pub expires: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl Services {
    /// A URL from which `object`'s file downloads for `days` days: a presigned URL of
    /// the store when it can live that long, else a signed link of nexds.
    pub async fn download_url(
        &self,
        object: &Object,
        now: i64,
        days: u16,
    ) -> Result<String, ApiError> {
        let key = object.blob_key.as_deref().unwrap_or_default();
        let secs = i64::from(days) * time::DAY;
        if self.blobs.presign_reaches(secs) {
            return self
                .blobs
                .download_url(key, now, secs)
                .await
                .map_err(ApiError::internal);
        }
        let expires_at = now + secs;
        let signature = links::link_signature(&self.link_secret, object.data_id, key, expires_at);
        Ok(format!(
            "{}/download/{}?version={}&expires={expires_at}&signature={signature}",
            self.public_url, object.data_id, object.version
        ))
    }

    /// urlinfo: counts a download reference on every id (all or nothing) and
    /// returns their URLs, valid `days` days. `version` (one id only) asks for a
    /// stored earlier version of the file.
    pub async fn refer_urls(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        version: Option<Version>,
        days: u16,
        now: i64,
    ) -> Result<Vec<(u64, String)>, ApiError> {
        let old = match (version, ids.as_slice()) {
            (None, _) => None,
            (Some(Version(v)), [id]) => {
                Some(self.store.stored_version(*id, v).await?.ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::NotFound,
                        format!("data_id {id} has no stored version {v}"),
                    )
                })?)
            }
            (Some(_), _) => {
                return Err(ApiError::invalid(
                    "version applies to urlinfo of one data_id",
                ));
            }
        };
        let mut objects = self.store.refer_objects(caller, ids, now).await?;
        if let (Some(old), Some(object)) = (old, objects.first_mut()) {
            object.blob_key = Some(old.blob_key);
            object.version = old.version;
        }
        let mut urls = Vec::with_capacity(objects.len());
        for object in &objects {
            urls.push((object.data_id, self.download_url(object, now, days).await?));
        }
        Ok(urls)
    }

    /// The URLs of a search page's objects that have a file, as urlinfo would
    /// give them, without counting a reference: a list is not a download.
    pub async fn search_urls(
        &self,
        objects: &[Object],
        now: i64,
    ) -> Result<HashMap<u64, String>, ApiError> {
        let mut urls = HashMap::new();
        for object in objects.iter().filter(|o| o.blob_key.is_some()) {
            let url = self.download_url(object, now, SEARCH_URL_DAYS).await?;
            urls.insert(object.data_id, url);
        }
        Ok(urls)
    }

    /// Follows a link handed out by [`Self::download_url`]: a fresh, short-lived
    /// presigned URL while the link is valid and its object and version live.
    pub async fn follow_download_link(
        &self,
        link: DownloadLink<'_>,
        now: i64,
    ) -> Result<LinkOutcome, ApiError> {
        let (Ok(id), Some(Ok(version)), Some(Ok(expires_at)), Some(signature)) = (
            link.data_id.parse::<u64>(),
            link.version.map(str::parse::<u32>),
            link.expires.map(str::parse::<i64>),
            link.signature,
        ) else {
            return Ok(LinkOutcome::Malformed);
        };
        if expires_at <= now {
            return Ok(LinkOutcome::Expired);
        }
        let live = self.store.object_with_file(id, now).await?.is_some();
        let stored = match live {
            true => self.store.stored_version(id, version).await?,
            false => None,
        };
        let Some(stored) = stored else {
            return Ok(LinkOutcome::NoSuchKey);
        };
        let key = stored.blob_key.as_str();
        let expected = links::link_signature(&self.link_secret, id, key, expires_at);
        if !links::same_signature(&expected, signature) {
            return Ok(LinkOutcome::BadSignature);
        }
        // Short-lived: the link itself carries the long validity.
        let fresh = self
            .blobs
            .download_url(key, now, (expires_at - now).min(3600))
            .await
            .map_err(ApiError::internal)?;
        Ok(LinkOutcome::Redirect(fresh))
    }
}
