//! The local store: files under `<data>/blobs/<bucket>/<key>`, with its own
//! access key and secret so its forms and URLs are judged exactly as S3's.

use std::path::{Path, PathBuf};

use crate::blob::{BlobError, UploadForm, http_date};
use crate::secrets;
use crate::sign::{self, Credentials, ObjectUrl, PostUpload, SignatureVersion};

#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    bucket: String,
    credentials: Credentials,
    version: SignatureVersion,
    /// `<public url>/storage`
    endpoint: String,
}

const KEYS_FILE: &str = "local-store-keys";

impl LocalStore {
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
    ) -> std::io::Result<LocalStore> {
        let root = data_dir.join("blobs");
        std::fs::create_dir_all(root.join(bucket))?;
        std::fs::create_dir_all(root.join(".tmp"))?;
        let (access_key, secret_key) = match (access_key, secret_key) {
            (Some(a), Some(s)) => (a, s),
            (a, s) => {
                let (stored_a, stored_s) = stored_keys(data_dir)?;
                (a.unwrap_or(stored_a), s.unwrap_or(stored_s))
            }
        };
        Ok(LocalStore {
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
        let plain = !key.contains('\0')
            && key
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
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

    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let Some(path) = self.path_for(key) else {
            return Ok(());
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
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

    fn store(dir: &Path) -> LocalStore {
        LocalStore::open(
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
        for bad in ["", "../x", "objects/../../x", "/etc/passwd", "a/./b"] {
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
