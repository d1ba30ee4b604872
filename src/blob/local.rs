//! The local store: files under `<data>/blobs/<bucket>/<key>`, with its own
//! access key and secret so its forms and URLs are judged exactly as S3's.
//! Beside each file, `<data>/blobs/.meta/<bucket>/<key>` keeps its ETag and
//! the headers S3 sends back with it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::blob::{BlobError, FileStream, UploadForm, http_date};
use crate::s3::sign::{self, Credentials, ObjectUrl, PostUpload, SignatureVersion};
use crate::secrets;

#[derive(Debug)]
pub struct LocalBlobs {
    root: PathBuf,
    bucket: String,
    credentials: Credentials,
    version: SignatureVersion,
    /// `<public url>/storage`
    endpoint: String,
}

const KEYS_FILE: &str = "local-store-keys";

impl LocalBlobs {
    /// Opens the store under `data_dir`. Keys not given are read from
    /// `<data>/local-store-keys`, or generated there (mode 0600) on first start.
    pub fn open(
        data_dir: &Path,
        bucket: &str,
        access_key: Option<String>,
        secret_key: Option<String>,
        region: &str,
        version: SignatureVersion,
        public_url: &str,
    ) -> std::io::Result<LocalBlobs> {
        let root = data_dir.join("blobs");
        std::fs::create_dir_all(root.join(bucket))?;
        std::fs::create_dir_all(root.join(".tmp"))?;
        remove_stale_temp_files(&root.join(".tmp"));
        let (access_key, secret_key) = match (access_key, secret_key) {
            (Some(a), Some(s)) => (a, s),
            (a, s) => {
                let (stored_a, stored_s) = stored_keys(data_dir)?;
                (a.unwrap_or(stored_a), s.unwrap_or(stored_s))
            }
        };
        Ok(LocalBlobs {
            root,
            bucket: bucket.to_owned(),
            credentials: Credentials {
                access_key,
                secret_key,
                region: region.to_owned(),
            },
            version,
            endpoint: format!("{}/storage", public_url.trim_end_matches('/')),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// `<public url>/storage`: uploads go to `<endpoint>/<bucket>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Where a finished upload lands while it is written, before the rename.
    pub fn temp_dir(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    /// The file of `key`, or `None` for a key that would leave the bucket.
    pub fn path_for(&self, key: &str) -> Option<PathBuf> {
        // Checked as text: Path would quietly drop `.` segments that S3 keeps.
        // Each segment is a file name: at most 255 bytes on common file systems.
        let plain = !key.contains('\0')
            && key
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != ".." && seg.len() <= 255);
        plain.then(|| self.root.join(&self.bucket).join(key))
    }

    pub fn upload_form(&self, key: &str, size: u64, now: i64, expires_at: i64) -> UploadForm {
        let upload = PostUpload {
            bucket: &self.bucket,
            key,
            acl: "private",
            size,
            expires_at,
        };
        UploadForm {
            url: format!("{}/{}", self.endpoint, self.bucket),
            date: http_date(now),
            fields: sign::post_fields(&self.credentials, self.version, &upload, now),
        }
    }

    pub async fn size_of(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let Some(path) = self.path_for(key) else {
            return Ok(None);
        };
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The file of `key` in chunks of up to 64 KiB, `None` if there is none.
    pub async fn read(&self, key: &str) -> Result<Option<FileStream>, BlobError> {
        let Some(path) = self.path_for(key) else {
            return Ok(None);
        };
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if !file.metadata().await?.is_file() {
            return Ok(None);
        }
        let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
            let mut buf = BytesMut::zeroed(64 * 1024);
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((buf.freeze(), file)))
        });
        Ok(Some(Box::pin(chunks)))
    }

    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let Some(path) = self.path_for(key) else {
            return Ok(());
        };
        if let Some(meta) = self.meta_path(key) {
            let _ = tokio::fs::remove_file(meta).await;
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves the file of `from` (and its ETag record) to `to`, durably.
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let unsafe_key = || io::Error::new(io::ErrorKind::InvalidInput, "unsafe key");
        let (source, dest) = (
            self.path_for(from).ok_or_else(unsafe_key)?,
            self.path_for(to).ok_or_else(unsafe_key)?,
        );
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        match tokio::fs::rename(&source, &dest).await {
            Ok(()) => {}
            // Moved before (a retry): the file is where it should be.
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.size_of(to).await?.is_some() => {
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(parent) = dest.parent()
            && let Ok(dir) = tokio::fs::File::open(parent).await
        {
            dir.sync_all().await?;
        }
        if let (Some(old), Some(new)) = (self.meta_path(from), self.meta_path(to)) {
            if let Some(parent) = new.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            // A record that cannot follow is recomputed from the content by GET.
            let _ = tokio::fs::rename(old, new).await;
        }
        Ok(())
    }

    /// Keys of the files directly under `prefix` (a folder, `…/`) last written
    /// before `before` (UNIX seconds).
    pub async fn keys_written_before(
        &self,
        prefix: &str,
        before: i64,
    ) -> Result<Vec<String>, BlobError> {
        let dir = self.root.join(&self.bucket).join(prefix);
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let before = UNIX_EPOCH + Duration::from_secs(u64::try_from(before).unwrap_or(0));
        let mut keys = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let meta = entry.metadata().await?;
            if meta.is_file()
                && meta.modified()? < before
                && let Some(name) = entry.file_name().to_str()
            {
                keys.push(format!("{prefix}{name}"));
            }
        }
        Ok(keys)
    }

    /// Where the ETag and headers of `key` are kept.
    fn meta_path(&self, key: &str) -> Option<PathBuf> {
        self.path_for(key)?;
        Some(self.root.join(".meta").join(&self.bucket).join(key))
    }

    /// Whether `key` can be stored: S3 keeps `a` and `a/b` side by side, a file
    /// system cannot, so a key whose path is a directory, or runs through a
    /// file, is refused.
    pub async fn key_is_storable(&self, key: &str) -> bool {
        let Some(path) = self.path_for(key) else {
            return false;
        };
        let bucket_dir = self.root.join(&self.bucket);
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) {
            return false;
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == bucket_dir {
                return true;
            }
            match tokio::fs::metadata(d).await {
                Ok(m) if !m.is_dir() => return false,
                _ => dir = d.parent(),
            }
        }
        true
    }

    /// Whether the store can serve: its bucket folder lists and a file can be
    /// written (and removed) beside the uploads in progress.
    pub async fn ping(&self) -> Result<(), BlobError> {
        let bucket = self.root.join(&self.bucket);
        tokio::fs::read_dir(&bucket).await?.next_entry().await?;
        let name = secrets::random_chars(16, b"0123456789abcdef")?;
        let probe = self.temp_dir().join(format!("ready-{name}"));
        tokio::fs::write(&probe, b"ok").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(())
    }

    /// A new, empty file in [`Self::temp_dir`] to stream an upload into.
    pub async fn begin_upload(&self) -> io::Result<TempUpload> {
        let name = secrets::random_chars(20, b"0123456789abcdef")?;
        let path = self.temp_dir().join(format!("upload-{name}"));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(TempUpload {
            path,
            file: Some(file),
            md5: Md5::new(),
            size: 0,
        })
    }

    /// The ETag and headers of a stored file whose metadata is `file`. When the
    /// record beside it is missing or stale, the ETag is computed from the content.
    pub async fn object_meta(&self, key: &str, file: &std::fs::Metadata) -> io::Result<ObjectMeta> {
        let (size, modified) = (file.len(), nanos(file.modified().ok()));
        if let Some(meta_path) = self.meta_path(key)
            && let Ok(text) = tokio::fs::read(&meta_path).await
            && let Ok(record) = serde_json::from_slice::<MetaRecord>(&text)
            && record.size == size
            && record.modified_ns == modified
        {
            return Ok(record.meta);
        }
        let path = self
            .path_for(key)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let etag = tokio::task::spawn_blocking(move || md5_of_file(&path))
            .await
            .map_err(io::Error::other)??;
        Ok(ObjectMeta {
            etag,
            headers: Vec::new(),
        })
    }

    /// A presigned GET URL in the store's signature style.
    pub fn download_url(&self, key: &str, now: i64, expires_in: i64) -> String {
        let url = ObjectUrl::new(&self.endpoint, &self.bucket, key);
        match self.version {
            SignatureVersion::V2 => {
                sign::presign_get_v2(&self.credentials, &url, now.saturating_add(expires_in))
            }
            SignatureVersion::V4 => sign::presign_get_v4(&self.credentials, &url, now, expires_in),
        }
    }

    /// Removes temp files older than `age`: what an upload cut off by a crash left.
    pub fn sweep_temp(&self, age: std::time::Duration) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(self.temp_dir())? {
            let entry = entry?;
            let old = entry
                .metadata()?
                .modified()?
                .elapsed()
                .is_ok_and(|elapsed| elapsed > age);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// SigV2 URLs can live as long as asked; SigV4 ones at most 7 days.
    pub fn presign_reaches(&self, secs: i64) -> bool {
        self.version == SignatureVersion::V2 || secs <= sign::V4_MAX_EXPIRES
    }
}

/// What is kept beside a stored file and sent back with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    /// Hex MD5 of the content, unquoted.
    pub etag: String,
    /// Lowercase header names and values (`content-type`, `x-amz-meta-*`, …).
    pub headers: Vec<(String, String)>,
}

/// The record on disk: the meta, valid for the file of this size and mtime.
#[derive(serde::Serialize, serde::Deserialize)]
struct MetaRecord {
    size: u64,
    modified_ns: u64,
    meta: ObjectMeta,
}

fn nanos(time: Option<SystemTime>) -> u64 {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn md5_of_file(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut md5 = Md5::new();
    io::copy(&mut file, &mut md5)?;
    Ok(hex::encode(md5.finalize()))
}

/// An upload being streamed to a temporary file. Dropped before [`TempUpload::commit`],
/// it removes its file: a refused or failed upload leaves nothing behind.
#[derive(Debug)]
pub struct TempUpload {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    md5: Md5,
    size: u64,
}

impl TempUpload {
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the upload is closed"))?;
        file.write_all(chunk).await?;
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes the upload the content of `key`: fsync, then an atomic rename onto
    /// its path (parents created), then the record of its ETag and `headers`.
    /// Returns the hex MD5.
    pub async fn commit(
        mut self,
        store: &LocalBlobs,
        key: &str,
        headers: Vec<(String, String)>,
    ) -> io::Result<String> {
        let dest = store
            .path_for(key)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unsafe key"))?;
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("the upload is closed"))?;
        file.flush().await?;
        file.sync_all().await?;
        let stat = file.metadata().await?;
        drop(file);
        let etag = hex::encode(std::mem::take(&mut self.md5).finalize());
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(&self.path, &dest).await?;
        // From here on the file is the key's: nothing to clean up.
        self.path = PathBuf::new();
        if let Some(parent) = dest.parent()
            && let Ok(dir) = tokio::fs::File::open(parent).await
        {
            let _ = dir.sync_all().await;
        }
        let record = MetaRecord {
            size: stat.len(),
            modified_ns: nanos(stat.modified().ok()),
            meta: ObjectMeta {
                etag: etag.clone(),
                headers,
            },
        };
        if let Err(e) = write_record(store, key, &record).await {
            // GET recomputes the ETag; only the stored headers are lost.
            log::warn!("cannot record the ETag of {key}: {e}");
        }
        Ok(etag)
    }
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn write_record(store: &LocalBlobs, key: &str, record: &MetaRecord) -> io::Result<()> {
    let path = store
        .meta_path(key)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unsafe key"))?;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let tmp = store.temp_dir().join(format!(
        "meta-{}",
        secrets::random_chars(20, b"0123456789abcdef")?
    ));
    let text = serde_json::to_vec(record).map_err(io::Error::other)?;
    tokio::fs::write(&tmp, text).await?;
    let renamed = tokio::fs::rename(&tmp, &path).await;
    if renamed.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    renamed
}

/// Temporary files left by a crash: older than a day, nobody is writing them.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let day_ago = SystemTime::now() - Duration::from_secs(86_400);
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < day_ago);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads `<data>/local-store-keys` (access key, then secret, one per line), making it first.
fn stored_keys(data_dir: &Path) -> std::io::Result<(String, String)> {
    let path = data_dir.join(KEYS_FILE);
    let text = secrets::read_or_create(&path, || {
        let access = format!(
            "NEXDS{}",
            secrets::random_chars(15, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")?
        );
        let secret = secrets::random_chars(
            40,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        )?;
        Ok(format!("{access}\n{secret}\n"))
    })?;
    let mut lines = text.lines().map(str::trim);
    match (lines.next(), lines.next()) {
        (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => Ok((a.to_owned(), s.to_owned())),
        _ => Err(std::io::Error::other(format!(
            "{} must hold the access key and the secret, one per line",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> LocalBlobs {
        LocalBlobs::open(
            dir,
            "nexds",
            None,
            None,
            "us-east-1",
            SignatureVersion::V2,
            "http://h:1/",
        )
        .unwrap()
    }

    #[test]
    fn keys_are_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = store(dir.path());
        let b = store(dir.path());
        assert_eq!(a.credentials(), b.credentials());
        assert!(a.credentials().access_key.starts_with("NEXDS"));
        assert_eq!(a.credentials().secret_key.len(), 40);
        assert_eq!(a.endpoint(), "http://h:1/storage");
    }

    #[test]
    fn keys_cannot_leave_the_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        assert!(s.path_for("objects/1.bin").is_some());
        let long = "x".repeat(256);
        for bad in ["", "../x", "objects/../../x", "/etc/passwd", "a/./b", &long] {
            assert!(s.path_for(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn forms_post_to_the_bucket_url() {
        let dir = tempfile::tempdir().unwrap();
        let form = store(dir.path()).upload_form("objects/1.bin", 5, 0, 900);
        assert_eq!(form.url, "http://h:1/storage/nexds");
        assert_eq!(
            form.fields[3],
            ("key".to_owned(), "objects/1.bin".to_owned())
        );
    }
}
