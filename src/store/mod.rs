//! SQLite metadata store. Reads go through a small pool, writes through one
//! writer connection so they never fight over the lock; each unit of work runs
//! off the async threads with its transaction inside. SQLite specifics stay here.

pub mod objects;
pub mod persistence;
pub mod principals;
pub mod purge;
pub mod ratings;
pub mod tokens;
pub mod uploads;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::ApiError;

/// The whole current schema, for a new database.
const SCHEMA: &str = include_str!("../../schema.sql");
/// The `PRAGMA user_version` that `schema.sql` creates.
pub const SCHEMA_VERSION: i64 = 1;
/// Upgrade steps: `UPGRADES[i]` takes a database from version `i + 1` to `i + 2`
/// and ends by setting that version. `schema.sql` always equals version 1 plus every step.
const UPGRADES: &[&str] = &[];
const READ_POOL_SIZE: u32 = 8;

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// `synchronous=FULL`: an acknowledged write survives power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a crash of nexds, may lose the last
    /// commits on power loss; several times faster on slow disks.
    Normal,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(format!("unknown durability '{other}' (full, normal)")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(PathBuf, #[source] std::io::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("connection pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error(
        "the database has schema version {0}, newer than this nexds ({SCHEMA_VERSION}); upgrade nexds"
    )]
    TooNew(i64),
}

/// The metadata store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool<SqliteConnectionManager>,
    writer: Arc<Mutex<Connection>>,
}

fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), OpenError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    match version {
        0 => {
            tx.execute_batch(SCHEMA)?;
            log::info!("created the metadata schema, version {SCHEMA_VERSION}");
        }
        v if v > SCHEMA_VERSION => return Err(OpenError::TooNew(v)),
        v => {
            for (step, sql) in UPGRADES.iter().enumerate().skip((v - 1) as usize) {
                tx.execute_batch(sql)?;
                log::info!("upgraded the metadata schema to version {}", step + 2);
            }
        }
    }
    debug_assert_eq!(UPGRADES.len() as i64 + 1, SCHEMA_VERSION);
    tx.commit()?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/nexds.db` and brings its schema up to date.
    pub fn open(data_dir: &Path, durability: Durability) -> Result<Store, OpenError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| OpenError::DataDir(data_dir.to_owned(), e))?;
        let path = data_dir.join("nexds.db");
        let mut writer = Connection::open(&path)?;
        configure(&writer, durability)?;
        migrate(&mut writer)?;
        let manager = SqliteConnectionManager::file(&path).with_init(move |c| {
            configure(c, durability)?;
            c.pragma_update(None, "query_only", "ON")
        });
        let pool = Pool::builder()
            .max_size(READ_POOL_SIZE)
            .min_idle(Some(1))
            .build(manager)?;
        Ok(Store {
            pool,
            writer: Arc::new(Mutex::new(writer)),
        })
    }

    /// Runs `f` on a pooled read connection, on this thread.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let conn = self.pool.get()?;
        f(&conn)
    }

    /// Runs `f` in one immediate transaction on the writer, on this thread.
    /// An error rolls everything back.
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// [`Self::read_blocking`] on the blocking thread pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(ApiError::internal)?
    }

    /// [`Self::write_blocking`] on the blocking thread pool.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f))
            .await
            .map_err(ApiError::internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_gets_the_schema_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let version: i64 = store
            .read_blocking(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(store);
        Store::open(dir.path(), Durability::Normal).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("nexds.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            Store::open(dir.path(), Durability::Normal),
            Err(OpenError::TooNew(99))
        ));
    }
}
