//! Settings: defaults, then `nexds.toml` (or `--config PATH`), then `NEXDS_*`
//! environment variables (DESIGN §1).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::store::Durability;

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
    /// Largest request body accepted, in bytes (`NEXDS_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Largest file a prepare may declare, in bytes (`NEXDS_MAX_FILE_SIZE`).
    pub max_file_size: u64,
    /// HTTP worker threads (`NEXDS_WORKERS`); default: one per core.
    pub workers: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            public_url: None,
            bootstrap_token: None,
            durability: Durability::Full,
            max_body_bytes: 256 * 1024,
            max_file_size: 10 * 1024 * 1024,
            workers: None,
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
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_file_size", &self.max_file_size)
            .field("workers", &self.workers)
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
    max_body_bytes: Option<usize>,
    max_file_size: Option<u64>,
    workers: Option<usize>,
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
            max_body_bytes: file.max_body_bytes.unwrap_or(d.max_body_bytes),
            max_file_size: file.max_file_size.unwrap_or(d.max_file_size),
            workers: file.workers,
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
        if let Some(v) = var("NEXDS_MAX_BODY_BYTES") {
            s.max_body_bytes = parse_env("NEXDS_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = var("NEXDS_MAX_FILE_SIZE") {
            s.max_file_size = parse_env("NEXDS_MAX_FILE_SIZE", &v)?;
        }
        if let Some(v) = var("NEXDS_WORKERS") {
            s.workers = Some(parse_env("NEXDS_WORKERS", &v)?);
        }
        if let Some(url) = &mut s.public_url {
            while url.ends_with('/') {
                url.pop();
            }
        }
        Ok(s)
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
    fn the_bootstrap_token_is_redacted() {
        let s = Settings {
            bootstrap_token: Some("sekrit".into()),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("sekrit"));
    }
}
