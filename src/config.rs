//! Settings: defaults, then `nexds.toml` (or `--config PATH`), then `NEXDS_*`
//! environment variables (DESIGN §1).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::logging::LogFormat;
use crate::s3::sign::SignatureVersion;
use crate::store::Durability;

/// Where files live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Files under the data dir; nexds accepts the signed POST uploads itself.
    #[default]
    Local,
    /// An S3-compatible store (Garage, MinIO, AWS).
    S3,
}

impl std::str::FromStr for StorageKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "local" => Ok(StorageKind::Local),
            "s3" => Ok(StorageKind::S3),
            other => Err(format!("unknown storage '{other}' (local, s3)")),
        }
    }
}

/// The S3 backend (`NEXDS_S3_*`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// `http(s)://host[:port]`, path-style.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// Everything nexds can be told.
#[derive(Clone)]
pub struct Settings {
    /// Address to listen on (`NEXDS_LISTEN`); port 0 picks a free port.
    pub listen: String,
    /// Directory of the SQLite database and the local blob store (`NEXDS_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Base of every URL the server hands out (`NEXDS_PUBLIC_URL`); default `http://<listen>`.
    pub public_url: Option<String>,
    /// Value of the title token made on first start (`NEXDS_BOOTSTRAP_TOKEN`); random if unset.
    pub bootstrap_token: Option<String>,
    /// `full` (default) or `normal` commit durability (`NEXDS_DURABILITY`).
    pub durability: Durability,
    /// The metadata database (`NEXDS_DATABASE_URL`): unset → SQLite in the data
    /// dir; `postgres://user:pass@host:port/db` → PostgreSQL (DESIGN §11).
    pub database_url: Option<String>,
    /// Connections each node keeps to PostgreSQL (`NEXDS_DATABASE_POOL_SIZE`).
    pub database_pool_size: usize,
    /// Lets PostgreSQL run with the local file store (`NEXDS_ALLOW_LOCAL_STORAGE=1`):
    /// the local store lives on one machine, so several nodes cannot share it.
    pub allow_local_storage: bool,
    /// Largest request body accepted, in bytes (`NEXDS_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Largest file a prepare may declare, in bytes (`NEXDS_MAX_FILE_SIZE`).
    pub max_file_size: u64,
    /// HTTP worker threads (`NEXDS_WORKERS`); default: one per core.
    pub workers: Option<usize>,
    /// A request body must keep coming: no gap between its chunks longer than
    /// this, and an API body whole within it, in seconds (`NEXDS_BODY_TIMEOUT_SECS`).
    pub body_timeout_secs: u64,
    /// Connections each worker serves at once; more wait to be accepted
    /// (`NEXDS_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Live objects per owner (`NEXDS_QUOTA_OBJECTS`); none when unset (DESIGN §16).
    pub quota_objects: Option<u64>,
    /// Total declared size of an owner's live objects (`NEXDS_QUOTA_BYTES`).
    pub quota_bytes: Option<u64>,
    /// Total meta_binary of an owner's live objects (`NEXDS_QUOTA_META_BYTES`).
    pub quota_meta_bytes: Option<u64>,
    /// `local` (default) or `s3` (`NEXDS_STORAGE`).
    pub storage: StorageKind,
    /// The S3 backend, when `storage` is `s3`.
    pub s3: S3Settings,
    /// Style of the POST forms handed out (`NEXDS_POST_SIGNATURE`); default v2 for
    /// local, v4 for s3.
    pub post_signature: Option<SignatureVersion>,
    /// The local store's access key (`NEXDS_LOCAL_ACCESS_KEY`); generated and kept in
    /// the data dir when unset.
    pub local_access_key: Option<String>,
    /// The local store's secret (`NEXDS_LOCAL_SECRET_KEY`); likewise.
    pub local_secret_key: Option<String>,
    /// SigV4 region of the local store (`NEXDS_LOCAL_REGION`).
    pub local_region: String,
    /// Bucket name of the local store (`NEXDS_LOCAL_BUCKET`).
    pub local_bucket: String,
    /// How long an upload form stays valid, in seconds (`NEXDS_UPLOAD_FORM_SECS`).
    pub upload_form_secs: i64,
    /// Uploads not completed within this many seconds are dropped (`NEXDS_UPLOAD_TIMEOUT_SECS`).
    pub upload_timeout_secs: i64,
    /// Seconds between two runs of the background janitor (`NEXDS_JANITOR_SECS`).
    pub janitor_secs: u64,
    /// Days a deleted object is kept before the janitor removes it (`NEXDS_RETENTION_DAYS`).
    pub retention_days: u32,
    /// Days a file version is kept after it stops being current (`NEXDS_VERSION_RETENTION_DAYS`).
    pub version_retention_days: u32,
    /// Key of nexds's own download links (`NEXDS_LINK_SECRET`); generated in the data
    /// dir when unset. Nodes behind one URL must share it.
    pub link_secret: Option<String>,
    /// `text` (default) or `json`, one object per line (`NEXDS_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// When set, `GET /metrics` needs `Authorization: Bearer <this>`
    /// (`NEXDS_METRICS_TOKEN`); open otherwise.
    pub metrics_token: Option<String>,
    /// Where every webhook event is POSTed (`NEXDS_WEBHOOK_URL`, `http://…`); no
    /// events are recorded or sent when unset.
    pub webhook_url: Option<String>,
    /// Key of the events' HMAC-SHA256 signature (`NEXDS_WEBHOOK_SECRET`); required
    /// with `webhook_url`.
    pub webhook_secret: Option<String>,
    /// Seconds before the first retry of a failed event, doubling after each failure
    /// (`NEXDS_WEBHOOK_RETRY_SECS`, fractions allowed).
    pub webhook_retry_secs: f64,
    /// The longest wait between two retries, in seconds (`NEXDS_WEBHOOK_RETRY_MAX_SECS`).
    pub webhook_retry_max_secs: f64,
    /// Seconds a receiver has to answer one event (`NEXDS_WEBHOOK_TIMEOUT_SECS`).
    pub webhook_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            public_url: None,
            bootstrap_token: None,
            durability: Durability::Full,
            database_url: None,
            database_pool_size: crate::store::postgres::DEFAULT_POOL_SIZE,
            allow_local_storage: false,
            max_body_bytes: 256 * 1024,
            max_file_size: 10 * 1024 * 1024,
            workers: None,
            body_timeout_secs: 10,
            max_connections: 4096,
            quota_objects: None,
            quota_bytes: None,
            quota_meta_bytes: None,
            storage: StorageKind::Local,
            s3: S3Settings {
                region: "us-east-1".to_owned(),
                ..S3Settings::default()
            },
            post_signature: None,
            local_access_key: None,
            local_secret_key: None,
            local_region: "us-east-1".to_owned(),
            local_bucket: "nexds".to_owned(),
            upload_form_secs: 15 * 60,
            upload_timeout_secs: 3 * 3600,
            janitor_secs: 300,
            retention_days: 30,
            version_retention_days: 30,
            link_secret: None,
            log_format: LogFormat::Text,
            metrics_token: None,
            webhook_url: None,
            webhook_secret: None,
            webhook_retry_secs: 1.0,
            webhook_retry_max_secs: 600.0,
            webhook_timeout_secs: 10,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field(
                "bootstrap_token",
                &self.bootstrap_token.as_ref().map(|_| "<redacted>"),
            )
            .field("durability", &self.durability)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url_password),
            )
            .field("database_pool_size", &self.database_pool_size)
            .field("allow_local_storage", &self.allow_local_storage)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_file_size", &self.max_file_size)
            .field("workers", &self.workers)
            .field("body_timeout_secs", &self.body_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("quota_objects", &self.quota_objects)
            .field("quota_bytes", &self.quota_bytes)
            .field("quota_meta_bytes", &self.quota_meta_bytes)
            .field("storage", &self.storage)
            .field("s3", &self.s3)
            .field("post_signature", &self.post_signature)
            .field("local_access_key", &self.local_access_key)
            .field(
                "local_secret_key",
                &self.local_secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("local_region", &self.local_region)
            .field("local_bucket", &self.local_bucket)
            .field("upload_form_secs", &self.upload_form_secs)
            .field("upload_timeout_secs", &self.upload_timeout_secs)
            .field("janitor_secs", &self.janitor_secs)
            .field("retention_days", &self.retention_days)
            .field("version_retention_days", &self.version_retention_days)
            .field(
                "link_secret",
                &self.link_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("log_format", &self.log_format)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("webhook_url", &self.webhook_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("webhook_retry_secs", &self.webhook_retry_secs)
            .field("webhook_retry_max_secs", &self.webhook_retry_max_secs)
            .field("webhook_timeout_secs", &self.webhook_timeout_secs)
            .finish()
    }
}

/// The config file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
    bootstrap_token: Option<String>,
    durability: Option<Durability>,
    database_url: Option<String>,
    database_pool_size: Option<usize>,
    allow_local_storage: Option<bool>,
    max_body_bytes: Option<usize>,
    max_file_size: Option<u64>,
    workers: Option<usize>,
    body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    quota_objects: Option<u64>,
    quota_bytes: Option<u64>,
    quota_meta_bytes: Option<u64>,
    storage: Option<StorageKind>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_bucket: Option<String>,
    s3_access_key: Option<String>,
    s3_secret_key: Option<String>,
    post_signature: Option<SignatureVersion>,
    local_access_key: Option<String>,
    local_secret_key: Option<String>,
    local_region: Option<String>,
    local_bucket: Option<String>,
    upload_form_secs: Option<i64>,
    upload_timeout_secs: Option<i64>,
    janitor_secs: Option<u64>,
    retention_days: Option<u32>,
    version_retention_days: Option<u32>,
    link_secret: Option<String>,
    log_format: Option<LogFormat>,
    metrics_token: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    webhook_retry_secs: Option<f64>,
    webhook_retry_max_secs: Option<f64>,
    webhook_timeout_secs: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("config file {0}: {1}")]
    Parse(PathBuf, #[source] toml::de::Error),
    #[error("environment variable {0}: {1}")]
    Env(&'static str, String),
}

/// The default config file, read when present and no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "nexds.toml";

impl Settings {
    /// Loads the settings: `--config PATH` must exist; `./nexds.toml` is used if present.
    pub fn load(config: Option<&Path>) -> Result<Settings, ConfigError> {
        let file = match config {
            Some(path) => Some(read_file(path)?),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                Some(read_file(Path::new(DEFAULT_CONFIG_FILE))?)
            }
            None => None,
        };
        Settings::from_sources(file.unwrap_or_default(), |key| std::env::var(key).ok())
    }

    fn from_sources(
        file: FileSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let d = Settings::default();
        let mut s = Settings {
            listen: file.listen.unwrap_or(d.listen),
            data_dir: file.data_dir.unwrap_or(d.data_dir),
            public_url: file.public_url,
            bootstrap_token: file.bootstrap_token,
            durability: file.durability.unwrap_or(d.durability),
            database_url: file.database_url,
            database_pool_size: file.database_pool_size.unwrap_or(d.database_pool_size),
            allow_local_storage: file.allow_local_storage.unwrap_or(d.allow_local_storage),
            max_body_bytes: file.max_body_bytes.unwrap_or(d.max_body_bytes),
            max_file_size: file.max_file_size.unwrap_or(d.max_file_size),
            workers: file.workers,
            body_timeout_secs: file.body_timeout_secs.unwrap_or(d.body_timeout_secs),
            max_connections: file.max_connections.unwrap_or(d.max_connections),
            quota_objects: file.quota_objects,
            quota_bytes: file.quota_bytes,
            quota_meta_bytes: file.quota_meta_bytes,
            storage: file.storage.unwrap_or(d.storage),
            s3: S3Settings {
                endpoint: file.s3_endpoint.unwrap_or(d.s3.endpoint),
                region: file.s3_region.unwrap_or(d.s3.region),
                bucket: file.s3_bucket.unwrap_or(d.s3.bucket),
                access_key: file.s3_access_key.unwrap_or(d.s3.access_key),
                secret_key: file.s3_secret_key.unwrap_or(d.s3.secret_key),
            },
            post_signature: file.post_signature,
            local_access_key: file.local_access_key,
            local_secret_key: file.local_secret_key,
            local_region: file.local_region.unwrap_or(d.local_region),
            local_bucket: file.local_bucket.unwrap_or(d.local_bucket),
            upload_form_secs: file.upload_form_secs.unwrap_or(d.upload_form_secs),
            upload_timeout_secs: file.upload_timeout_secs.unwrap_or(d.upload_timeout_secs),
            janitor_secs: file.janitor_secs.unwrap_or(d.janitor_secs),
            retention_days: file.retention_days.unwrap_or(d.retention_days),
            version_retention_days: file
                .version_retention_days
                .unwrap_or(d.version_retention_days),
            link_secret: file.link_secret,
            log_format: file.log_format.unwrap_or(d.log_format),
            metrics_token: file.metrics_token,
            webhook_url: file.webhook_url,
            webhook_secret: file.webhook_secret,
            webhook_retry_secs: file.webhook_retry_secs.unwrap_or(d.webhook_retry_secs),
            webhook_retry_max_secs: file
                .webhook_retry_max_secs
                .unwrap_or(d.webhook_retry_max_secs),
            webhook_timeout_secs: file.webhook_timeout_secs.unwrap_or(d.webhook_timeout_secs),
        };
        let var = |key| env(key).filter(|v| !v.is_empty());
        if let Some(v) = var("NEXDS_LISTEN") {
            s.listen = v;
        }
        if let Some(v) = var("NEXDS_DATA_DIR") {
            s.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var("NEXDS_PUBLIC_URL") {
            s.public_url = Some(v);
        }
        if let Some(v) = var("NEXDS_BOOTSTRAP_TOKEN") {
            s.bootstrap_token = Some(v);
        }
        if let Some(v) = var("NEXDS_DURABILITY") {
            s.durability = v
                .parse()
                .map_err(|e| ConfigError::Env("NEXDS_DURABILITY", e))?;
        }
        if let Some(v) = var("NEXDS_DATABASE_URL") {
            s.database_url = Some(v);
        }
        if let Some(v) = var("NEXDS_DATABASE_POOL_SIZE") {
            s.database_pool_size = parse_env("NEXDS_DATABASE_POOL_SIZE", &v)?;
        }
        if let Some(v) = var("NEXDS_ALLOW_LOCAL_STORAGE") {
            s.allow_local_storage = match v.as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                other => {
                    return Err(ConfigError::Env(
                        "NEXDS_ALLOW_LOCAL_STORAGE",
                        format!("'{other}' is not 1 or 0"),
                    ));
                }
            };
        }
        if let Some(v) = var("NEXDS_MAX_BODY_BYTES") {
            s.max_body_bytes = parse_env("NEXDS_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = var("NEXDS_MAX_FILE_SIZE") {
            s.max_file_size = parse_env("NEXDS_MAX_FILE_SIZE", &v)?;
        }
        if let Some(v) = var("NEXDS_WORKERS") {
            s.workers = Some(parse_env("NEXDS_WORKERS", &v)?);
        }
        if let Some(v) = var("NEXDS_BODY_TIMEOUT_SECS") {
            s.body_timeout_secs = parse_env("NEXDS_BODY_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = var("NEXDS_MAX_CONNECTIONS") {
            s.max_connections = parse_env("NEXDS_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = var("NEXDS_QUOTA_OBJECTS") {
            s.quota_objects = Some(parse_env("NEXDS_QUOTA_OBJECTS", &v)?);
        }
        if let Some(v) = var("NEXDS_QUOTA_BYTES") {
            s.quota_bytes = Some(parse_env("NEXDS_QUOTA_BYTES", &v)?);
        }
        if let Some(v) = var("NEXDS_QUOTA_META_BYTES") {
            s.quota_meta_bytes = Some(parse_env("NEXDS_QUOTA_META_BYTES", &v)?);
        }
        if let Some(v) = var("NEXDS_STORAGE") {
            s.storage = v
                .parse()
                .map_err(|e| ConfigError::Env("NEXDS_STORAGE", e))?;
        }
        let text_vars: [(&str, &mut String); 7] = [
            ("NEXDS_S3_ENDPOINT", &mut s.s3.endpoint),
            ("NEXDS_S3_REGION", &mut s.s3.region),
            ("NEXDS_S3_BUCKET", &mut s.s3.bucket),
            ("NEXDS_S3_ACCESS_KEY", &mut s.s3.access_key),
            ("NEXDS_S3_SECRET_KEY", &mut s.s3.secret_key),
            ("NEXDS_LOCAL_REGION", &mut s.local_region),
            ("NEXDS_LOCAL_BUCKET", &mut s.local_bucket),
        ];
        for (key, field) in text_vars {
            if let Some(v) = var(key) {
                *field = v;
            }
        }
        if let Some(v) = var("NEXDS_POST_SIGNATURE") {
            s.post_signature = Some(
                v.parse()
                    .map_err(|e| ConfigError::Env("NEXDS_POST_SIGNATURE", e))?,
            );
        }
        if let Some(v) = var("NEXDS_LOCAL_ACCESS_KEY") {
            s.local_access_key = Some(v);
        }
        if let Some(v) = var("NEXDS_LOCAL_SECRET_KEY") {
            s.local_secret_key = Some(v);
        }
        if let Some(v) = var("NEXDS_UPLOAD_FORM_SECS") {
            s.upload_form_secs = parse_env("NEXDS_UPLOAD_FORM_SECS", &v)?;
        }
        if let Some(v) = var("NEXDS_UPLOAD_TIMEOUT_SECS") {
            s.upload_timeout_secs = parse_env("NEXDS_UPLOAD_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = var("NEXDS_JANITOR_SECS") {
            s.janitor_secs = parse_env("NEXDS_JANITOR_SECS", &v)?;
        }
        if let Some(v) = var("NEXDS_RETENTION_DAYS") {
            s.retention_days = parse_env("NEXDS_RETENTION_DAYS", &v)?;
        }
        if let Some(v) = var("NEXDS_VERSION_RETENTION_DAYS") {
            s.version_retention_days = parse_env("NEXDS_VERSION_RETENTION_DAYS", &v)?;
        }
        if let Some(v) = var("NEXDS_LINK_SECRET") {
            s.link_secret = Some(v);
        }
        if let Some(v) = var("NEXDS_LOG_FORMAT") {
            s.log_format = v
                .parse()
                .map_err(|e| ConfigError::Env("NEXDS_LOG_FORMAT", e))?;
        }
        if let Some(v) = var("NEXDS_METRICS_TOKEN") {
            s.metrics_token = Some(v);
        }
        if let Some(v) = var("NEXDS_WEBHOOK_URL") {
            s.webhook_url = Some(v);
        }
        if let Some(v) = var("NEXDS_WEBHOOK_SECRET") {
            s.webhook_secret = Some(v);
        }
        if let Some(v) = var("NEXDS_WEBHOOK_RETRY_SECS") {
            s.webhook_retry_secs = parse_env("NEXDS_WEBHOOK_RETRY_SECS", &v)?;
        }
        if let Some(v) = var("NEXDS_WEBHOOK_RETRY_MAX_SECS") {
            s.webhook_retry_max_secs = parse_env("NEXDS_WEBHOOK_RETRY_MAX_SECS", &v)?;
        }
        if let Some(v) = var("NEXDS_WEBHOOK_TIMEOUT_SECS") {
            s.webhook_timeout_secs = parse_env("NEXDS_WEBHOOK_TIMEOUT_SECS", &v)?;
        }
        s.check()?;
        if let Some(url) = &mut s.public_url {
            while url.ends_with('/') {
                url.pop();
            }
        }
        Ok(s)
    }
}

impl Settings {
    /// The metadata store these settings select.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            data_dir: self.data_dir.clone(),
            durability: self.durability,
            database_url: self.database_url.clone(),
            pool_size: self.database_pool_size,
            webhooks: self.webhook_url.is_some(),
        }
    }

    /// The quotas in force (DESIGN §16).
    pub fn quota(&self) -> crate::domain::quota::Quota {
        crate::domain::quota::Quota {
            objects: self.quota_objects,
            bytes: self.quota_bytes,
            meta_bytes: self.quota_meta_bytes,
        }
    }

    /// When the janitor removes things.
    pub fn retention(&self) -> crate::janitor::Retention {
        crate::janitor::Retention {
            upload_timeout_secs: self.upload_timeout_secs,
            deleted_secs: i64::from(self.retention_days) * 86_400,
            version_secs: i64::from(self.version_retention_days) * 86_400,
            upload_form_secs: self.upload_form_secs,
        }
    }

    /// The POST form style in force: the configured one, else v2 for local, v4 for s3.
    pub fn post_signature(&self) -> SignatureVersion {
        self.post_signature.unwrap_or(match self.storage {
            StorageKind::Local => SignatureVersion::V2,
            StorageKind::S3 => SignatureVersion::V4,
        })
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.storage == StorageKind::S3 {
            let s3 = &self.s3;
            for (key, value) in [
                ("NEXDS_S3_ENDPOINT", &s3.endpoint),
                ("NEXDS_S3_BUCKET", &s3.bucket),
                ("NEXDS_S3_ACCESS_KEY", &s3.access_key),
                ("NEXDS_S3_SECRET_KEY", &s3.secret_key),
            ] {
                if value.is_empty() {
                    return Err(ConfigError::Env(
                        key,
                        "is required with NEXDS_STORAGE=s3".into(),
                    ));
                }
            }
        }
        if self.body_timeout_secs == 0 || self.max_connections == 0 {
            return Err(ConfigError::Env(
                "NEXDS_BODY_TIMEOUT_SECS / NEXDS_MAX_CONNECTIONS",
                "must be positive".into(),
            ));
        }
        if self.upload_form_secs <= 0 || self.upload_timeout_secs <= 0 || self.janitor_secs == 0 {
            return Err(ConfigError::Env(
                "NEXDS_UPLOAD_FORM_SECS / NEXDS_UPLOAD_TIMEOUT_SECS / NEXDS_JANITOR_SECS",
                "must be positive".into(),
            ));
        }
        self.check_database()?;
        self.check_webhook()
    }

    fn check_database(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.database_url else {
            return Ok(());
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Env(
                "NEXDS_DATABASE_URL",
                format!(
                    "'{}' is not a postgres:// URL (leave it unset for SQLite in the data dir)",
                    redact_url_password(url)
                ),
            ));
        }
        if self.database_pool_size == 0 {
            return Err(ConfigError::Env(
                "NEXDS_DATABASE_POOL_SIZE",
                "must be positive".into(),
            ));
        }
        Ok(())
    }

    /// `serve` refuses PostgreSQL with the local file store, which lives on one
    /// machine and so cannot be shared by several nodes (DESIGN §11), unless told.
    pub fn check_shared_storage(&self) -> Result<(), ConfigError> {
        if self.database_url.is_some()
            && self.storage == StorageKind::Local
            && !self.allow_local_storage
        {
            return Err(ConfigError::Env(
                "NEXDS_DATABASE_URL",
                "PostgreSQL is for several nodes, and the local file store lives on one \
                 machine: set NEXDS_STORAGE=s3 (README, Running several nodes), or \
                 NEXDS_ALLOW_LOCAL_STORAGE=1 to run a single node on PostgreSQL"
                    .into(),
            ));
        }
        Ok(())
    }

    fn check_webhook(&self) -> Result<(), ConfigError> {
        let retry = self.webhook_retry_secs;
        let max = self.webhook_retry_max_secs;
        let sane = retry.is_finite() && retry > 0.0 && max.is_finite() && max >= retry;
        if !sane {
            return Err(ConfigError::Env(
                "NEXDS_WEBHOOK_RETRY_SECS / NEXDS_WEBHOOK_RETRY_MAX_SECS",
                "must be positive, the maximum at least the first delay".into(),
            ));
        }
        if self.webhook_timeout_secs == 0 {
            return Err(ConfigError::Env(
                "NEXDS_WEBHOOK_TIMEOUT_SECS",
                "must be positive".into(),
            ));
        }
        let Some(url) = &self.webhook_url else {
            return Ok(());
        };
        if url.starts_with("https://") {
            return Err(ConfigError::Env(
                "NEXDS_WEBHOOK_URL",
                "nexds sends webhooks over plain http only (it is built without TLS); \
                 put a TLS-terminating proxy on a local http:// address in front of the receiver"
                    .into(),
            ));
        }
        if !url.starts_with("http://") || url.len() == "http://".len() {
            return Err(ConfigError::Env(
                "NEXDS_WEBHOOK_URL",
                format!("'{url}' is not an http:// URL"),
            ));
        }
        if self.webhook_secret.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::Env(
                "NEXDS_WEBHOOK_SECRET",
                "is required with NEXDS_WEBHOOK_URL (receivers check the signature with it)".into(),
            ));
        }
        Ok(())
    }

    /// When failed webhook deliveries are tried again (24 h in all, DESIGN §15).
    pub fn webhook_backoff(&self) -> crate::domain::webhook::Backoff {
        crate::domain::webhook::Backoff {
            first_ms: (self.webhook_retry_secs * 1000.0).ceil() as i64,
            cap_ms: (self.webhook_retry_max_secs * 1000.0).ceil() as i64,
            ..Default::default()
        }
    }
}

/// `url` with the password of its user part replaced by `REDACTED`, for messages and logs.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:REDACTED{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_owned(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_owned(), e))
}

fn parse_env<T: std::str::FromStr>(key: &'static str, value: &str) -> Result<T, ConfigError> {
    value
        .parse()
        .map_err(|_| ConfigError::Env(key, format!("'{value}' is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_the_file_which_overrides_defaults() {
        let file: FileSettings = toml::from_str(
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/x\"\ndurability = \"normal\"",
        )
        .unwrap();
        let s = Settings::from_sources(file, |k| {
            (k == "NEXDS_DATA_DIR").then(|| "/srv/y".to_owned())
        })
        .unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.data_dir, PathBuf::from("/srv/y"));
        assert_eq!(s.durability, Durability::Normal);
        assert_eq!(s.max_file_size, 10 * 1024 * 1024);
    }

    #[test]
    fn unknown_file_keys_and_bad_env_values_are_errors() {
        assert!(toml::from_str::<FileSettings>("lisen = \"x\"").is_err());
        let bad = Settings::from_sources(FileSettings::default(), |k| {
            (k == "NEXDS_MAX_BODY_BYTES").then(|| "lots".to_owned())
        });
        assert!(bad.is_err());
    }

    #[test]
    fn storage_settings_come_from_the_environment() {
        let env = |k: &str| {
            match k {
                "NEXDS_STORAGE" => Some("s3"),
                "NEXDS_S3_ENDPOINT" => Some("http://127.0.0.1:3900"),
                "NEXDS_S3_BUCKET" => Some("b"),
                "NEXDS_S3_ACCESS_KEY" => Some("ak"),
                "NEXDS_S3_SECRET_KEY" => Some("sk"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let s = Settings::from_sources(FileSettings::default(), env).unwrap();
        assert_eq!(s.storage, StorageKind::S3);
        assert_eq!(s.s3.region, "us-east-1");
        assert_eq!(s.post_signature(), SignatureVersion::V4);
        assert!(!format!("{s:?}").contains("\"sk\""));
        let local = Settings::from_sources(FileSettings::default(), |_| None).unwrap();
        assert_eq!(local.post_signature(), SignatureVersion::V2);
        let missing = Settings::from_sources(FileSettings::default(), |k| {
            (k == "NEXDS_STORAGE").then(|| "s3".to_owned())
        });
        assert!(missing.is_err());
    }

    #[test]
    fn webhooks_need_an_http_url_and_a_secret_which_is_redacted() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let s = Settings::from_sources(
            FileSettings::default(),
            env(&[
                ("NEXDS_WEBHOOK_URL", "http://127.0.0.1:9000/hook"),
                ("NEXDS_WEBHOOK_SECRET", "whsekrit"),
                ("NEXDS_WEBHOOK_RETRY_SECS", "0.05"),
            ]),
        )
        .unwrap();
        assert_eq!(s.webhook_url.as_deref(), Some("http://127.0.0.1:9000/hook"));
        assert_eq!(s.webhook_backoff().first_ms, 50);
        assert_eq!(s.webhook_backoff().cap_ms, 600_000);
        assert!(!format!("{s:?}").contains("whsekrit"));
        for bad in [
            &[("NEXDS_WEBHOOK_URL", "http://127.0.0.1:9000/hook")][..],
            &[
                ("NEXDS_WEBHOOK_URL", "https://example.com/hook"),
                ("NEXDS_WEBHOOK_SECRET", "s"),
            ],
            &[
                ("NEXDS_WEBHOOK_URL", "ftp://example.com/hook"),
                ("NEXDS_WEBHOOK_SECRET", "s"),
            ],
            &[("NEXDS_WEBHOOK_RETRY_SECS", "0")],
            &[
                ("NEXDS_WEBHOOK_RETRY_SECS", "10"),
                ("NEXDS_WEBHOOK_RETRY_MAX_SECS", "5"),
            ],
        ] {
            assert!(
                Settings::from_sources(FileSettings::default(), env(bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_bootstrap_token_is_redacted() {
        let s = Settings {
            bootstrap_token: Some("sekrit".into()),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("sekrit"));
    }

    #[test]
    fn the_log_format_and_the_metrics_token_come_from_the_environment() {
        let s = Settings::from_sources(FileSettings::default(), |k| match k {
            "NEXDS_LOG_FORMAT" => Some("JSON".to_owned()),
            "NEXDS_METRICS_TOKEN" => Some("scrape-sekrit".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.metrics_token.as_deref(), Some("scrape-sekrit"));
        assert!(!format!("{s:?}").contains("scrape-sekrit"));
        assert_eq!(Settings::default().log_format, LogFormat::Text);
        let bad = Settings::from_sources(FileSettings::default(), |k| {
            (k == "NEXDS_LOG_FORMAT").then(|| "xml".to_owned())
        });
        assert!(bad.is_err());
    }
}
