//! File storage: the local store under the data dir (uploads served by nexds
//! itself) or an S3-compatible store. Clients upload with a signed POST form
//! and download from presigned URLs; nexds itself heads, deletes, and reads files
//! as a stream for exports.

pub mod local;
pub mod s3;

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

pub use local::LocalBlobs;
pub use s3::S3Blobs;

/// A failure of the store behind nexds; never the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("local store: {0}")]
    Io(#[from] std::io::Error),
    #[error("S3: {0}")]
    S3(String),
}

/// What `prepare` hands out: where to POST, the date header, the form fields in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    pub url: String,
    /// `Wed, 01 Jan 2013 00:00:00 GMT` (`request_header/date`).
    pub date: String,
    pub fields: Vec<(String, String)>,
}

/// The content of a stored file, chunk by chunk.
pub type FileStream = Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>;

/// The configured store.
#[derive(Clone)]
pub enum Blobs {
    Local(Arc<LocalBlobs>),
    S3(Arc<S3Blobs>),
}

/// Where a file lives once its upload is complete: `objects/<data_id>_<version>.bin`,
/// zero-padded so keys sort by id. No upload form is ever signed for this key.
pub fn object_key(data_id: u64, version: u32) -> String {
    format!("{SEALED}{data_id:020}_{version:010}.bin")
}

/// Where a form uploads an object's file: `uploads/<data_id>_<version>.bin`.
/// Complete moves the file to its [`sealed_key`], so replaying the form (valid
/// until it expires) can never replace a completed file.
pub fn upload_key(data_id: u64, version: u32) -> String {
    format!("{UPLOADS}{data_id:020}_{version:010}.bin")
}

/// The key a file uploaded to `key` has once complete; a key that is not an
/// upload key (uploads prepared before upload keys existed) is its own.
pub fn sealed_key(key: &str) -> String {
    match key.strip_prefix(UPLOADS) {
        Some(rest) => format!("{SEALED}{rest}"),
        None => key.to_owned(),
    }
}

/// Where a deleted object's file waits for the purge, out of reach of every
/// download URL handed out for `key` (DESIGN §4: a delete takes effect at once).
pub fn hidden_key(key: &str) -> String {
    format!("{HIDDEN}{key}")
}

/// Whether `key` is already out of reach of download URLs.
pub fn is_hidden(key: &str) -> bool {
    key.starts_with(HIDDEN)
}

const UPLOADS: &str = "uploads/";
const SEALED: &str = "objects/";
const HIDDEN: &str = "deleted/";

/// An HTTP date: `Wed, 01 Jan 2013 00:00:00 GMT`.
pub fn http_date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc2822).ok())
        .map(|s| s.replace("+0000", "GMT"))
        .unwrap_or_default()
}

impl Blobs {
    /// The form a client POSTs, file last, to upload `key` of exactly `size` bytes.
    pub fn upload_form(&self, key: &str, size: u64, now: i64, expires_at: i64) -> UploadForm {
        match self {
            Blobs::Local(store) => store.upload_form(key, size, now, expires_at),
            Blobs::S3(store) => store.upload_form(key, size, now, expires_at),
        }
    }

    /// The size of the stored file, `None` if there is none.
    pub async fn size_of(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self {
            Blobs::Local(store) => store.size_of(key).await,
            Blobs::S3(store) => store.size_of(key).await,
        }
    }

    /// The file's content as a stream, `None` if there is none. Nothing is held in
    /// memory beyond one chunk.
    pub async fn read(&self, key: &str) -> Result<Option<FileStream>, BlobError> {
        match self {
            Blobs::Local(store) => store.read(key).await,
            Blobs::S3(store) => store.read(key).await,
        }
    }

    /// Removes the file; absent files are fine.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self {
            Blobs::Local(store) => store.delete(key).await,
            Blobs::S3(store) => store.delete(key).await,
        }
    }

    /// Moves the file at `from` to `to` (server-side on S3). Done already (no
    /// file at `from`, one at `to`) is fine, so a retried move succeeds.
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        match self {
            Blobs::Local(store) => store.rename(from, to).await,
            Blobs::S3(store) => store.rename(from, to).await,
        }
    }

    /// Files under the upload keys last written before `before` (UNIX seconds):
    /// what abandoned uploads and replayed forms left, once no upload can still
    /// complete with them.
    pub async fn stale_uploads(&self, before: i64) -> Result<Vec<String>, BlobError> {
        match self {
            Blobs::Local(store) => store.keys_written_before(UPLOADS, before).await,
            Blobs::S3(store) => store.keys_written_before(UPLOADS, before).await,
        }
    }

    /// A presigned download URL valid `expires_in` seconds from `now` (≤ 7 days for SigV4).
    pub async fn download_url(
        &self,
        key: &str,
        now: i64,
        expires_in: i64,
    ) -> Result<String, BlobError> {
        match self {
            Blobs::Local(store) => Ok(store.download_url(key, now, expires_in)),
            Blobs::S3(store) => store.download_url(key, expires_in).await,
        }
    }

    /// Whether presigned URLs of this store can live `secs` seconds.
    pub fn presign_reaches(&self, secs: i64) -> bool {
        match self {
            Blobs::Local(store) => store.presign_reaches(secs),
            Blobs::S3(_) => secs <= crate::s3::sign::V4_MAX_EXPIRES,
        }
    }

    /// Whether the store answers (`GET /health/ready`): a cheap call, no file written
    /// where clients could see it.
    pub async fn ping(&self) -> Result<(), BlobError> {
        match self {
            Blobs::Local(store) => store.ping().await,
            Blobs::S3(store) => store.ping().await,
        }
    }

    pub fn local(&self) -> Option<&LocalBlobs> {
        match self {
            Blobs::Local(store) => Some(store),
            Blobs::S3(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_dates_have_their_wire_forms() {
        assert_eq!(
            object_key(1_000_000, 1),
            "objects/00000000000001000000_0000000001.bin"
        );
        assert_eq!(http_date(1_356_998_400), "Tue, 01 Jan 2013 00:00:00 GMT");
    }

    #[test]
    fn an_upload_key_seals_into_the_object_key_and_hides_out_of_reach() {
        let upload = upload_key(1_000_000, 2);
        assert_eq!(upload, "uploads/00000000000001000000_0000000002.bin");
        assert_eq!(sealed_key(&upload), object_key(1_000_000, 2));
        assert_eq!(sealed_key(&object_key(7, 1)), object_key(7, 1));
        let hidden = hidden_key(&object_key(7, 1));
        assert!(is_hidden(&hidden) && !is_hidden(&object_key(7, 1)));
        assert_ne!(hidden, object_key(7, 1));
    }
}
