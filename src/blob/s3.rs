//! An S3-compatible store (Garage, MinIO, AWS) through rust-s3 for the calls
//! nexds makes itself; the POST form comes from our own signer.

use s3::Bucket;
use s3::Region;
use s3::creds::Credentials as S3Credentials;

use futures_util::TryStreamExt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::blob::{BlobError, FileStream, UploadForm, http_date};
use crate::config::S3Settings;
use crate::s3::sign::{self, Credentials, ObjectUrl, PostUpload, SignatureVersion};

/// The key `GET /health/ready` heads; nothing is ever stored there.
const READINESS_PROBE_KEY: &str = "nexds-readiness-probe";

pub struct S3Blobs {
    bucket: Box<Bucket>,
    credentials: Credentials,
    version: SignatureVersion,
    endpoint: String,
    name: String,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.name)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl S3Blobs {
    /// A path-style client of `settings.bucket` at `settings.endpoint`.
    pub fn new(settings: &S3Settings, version: SignatureVersion) -> Result<S3Blobs, BlobError> {
        let region = Region::Custom {
            region: settings.region.clone(),
            endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
        };
        let creds = S3Credentials::new(
            Some(&settings.access_key),
            Some(&settings.secret_key),
            None,
            None,
            None,
        )
        .map_err(|e| BlobError::S3(e.to_string()))?;
        let bucket = Bucket::new(&settings.bucket, region, creds)
            .map_err(|e| BlobError::S3(e.to_string()))?
            .with_path_style();
        Ok(S3Blobs {
            bucket,
            credentials: Credentials {
                access_key: settings.access_key.clone(),
                secret_key: settings.secret_key.clone(),
                region: settings.region.clone(),
            },
            version,
            endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
            name: settings.bucket.clone(),
        })
    }

    pub fn upload_form(&self, key: &str, size: u64, now: i64, expires_at: i64) -> UploadForm {
        let upload = PostUpload {
            bucket: &self.name,
            key,
            acl: "private",
            size,
            expires_at,
        };
        UploadForm {
            url: format!("{}/{}", self.endpoint, self.name),
            date: http_date(now),
            fields: sign::post_fields(&self.credentials, self.version, &upload, now),
        }
    }

    pub async fn size_of(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let (head, status) = self
            .bucket
            .head_object(key)
            .await
            .map_err(|e| BlobError::S3(e.to_string()))?;
        match status {
            200 => Ok(head.content_length.and_then(|n| u64::try_from(n).ok())),
            404 => Ok(None),
            other => Err(BlobError::S3(format!("HEAD {key}: HTTP {other}"))),
        }
    }

    /// Whether the bucket answers with these credentials: a HEAD of a key that
    /// need not exist (404 is an answer too).
    pub async fn ping(&self) -> Result<(), BlobError> {
        self.size_of(READINESS_PROBE_KEY).await.map(drop)
    }

    /// A GET of `key` as a stream, `None` on 404.
    pub async fn read(&self, key: &str) -> Result<Option<FileStream>, BlobError> {
        let response = self
            .bucket
            .get_object_stream(key)
            .await
            .map_err(|e| BlobError::S3(e.to_string()))?;
        match response.status_code {
            200 => Ok(Some(Box::pin(
                response
                    .bytes
                    .map_err(|e| BlobError::S3(format!("GET body: {e}"))),
            ))),
            404 => Ok(None),
            other => Err(BlobError::S3(format!("GET {key}: HTTP {other}"))),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let response = self
            .bucket
            .delete_object(key)
            .await
            .map_err(|e| BlobError::S3(e.to_string()))?;
        match response.status_code() {
            200 | 204 | 404 => Ok(()),
            other => Err(BlobError::S3(format!("DELETE {key}: HTTP {other}"))),
        }
    }

    /// A server-side copy of `from` to `to`, then the delete of `from`.
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let status = self
            .bucket
            .copy_object_internal(from, to)
            .await
            .map_err(|e| BlobError::S3(e.to_string()));
        match status {
            Ok(200) => self.delete(from).await,
            // Moved before (a retry): the file is where it should be.
            _ if self.size_of(from).await?.is_none() && self.size_of(to).await?.is_some() => Ok(()),
            Ok(other) => Err(BlobError::S3(format!("COPY {from} to {to}: HTTP {other}"))),
            Err(e) => Err(e),
        }
    }

    /// Keys under `prefix` last written before `before` (UNIX seconds).
    pub async fn keys_written_before(
        &self,
        prefix: &str,
        before: i64,
    ) -> Result<Vec<String>, BlobError> {
        let pages = self
            .bucket
            .list(prefix.to_owned(), None)
            .await
            .map_err(|e| BlobError::S3(e.to_string()))?;
        let mut keys = Vec::new();
        for object in pages.into_iter().flat_map(|page| page.contents) {
            let written = OffsetDateTime::parse(&object.last_modified, &Rfc3339)
                .map_err(|e| BlobError::S3(format!("LastModified of {}: {e}", object.key)))?;
            if written.unix_timestamp() < before {
                keys.push(object.key);
            }
        }
        Ok(keys)
    }

    /// A SigV4 presigned GET (S3 allows at most 7 days).
    pub async fn download_url(&self, key: &str, expires_in: i64) -> Result<String, BlobError> {
        let secs = u32::try_from(expires_in.clamp(1, sign::V4_MAX_EXPIRES)).unwrap_or(1);
        self.bucket
            .presign_get(key, secs, None)
            .await
            .map_err(|e| BlobError::S3(e.to_string()))
    }

    /// The object URL, for tests and logs.
    pub fn object_url(&self, key: &str) -> ObjectUrl {
        ObjectUrl::new(&self.endpoint, &self.name, key)
    }
}
