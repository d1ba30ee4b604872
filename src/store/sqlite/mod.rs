//! The SQLite backend of the metadata store, the embedded default. Reads go
//! through a small pool, writes through one writer connection so they never
//! fight over the lock; each unit of work runs off the async threads with its
//! transaction inside. Everything that knows rusqlite is in this folder.

pub mod friends;
pub mod migrate;
pub mod notifications;
pub mod objects;
pub mod persistence;
pub mod principal_data;
pub mod purge;
pub mod ratings;
pub mod search;
pub mod tokens;
pub mod uploads;
pub mod versions;
pub mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::ApiError;
use crate::store::{Health, StoreError};
use crate::telemetry;

/// The whole current schema, for a new database.
const SCHEMA: &str = include_str!("../../../schema.sql");
/// The `PRAGMA user_version` that `schema.sql` creates.
pub const SCHEMA_VERSION: i64 = 6;

/// The upgrade to `version`: the part of `schema.sql` from the comment line that
/// marks `(version N)` to the next such mark, so an upgraded database gets exactly
/// what a new one does, from one text.
fn upgrade_sql(version: i64) -> Option<&'static str> {
    let line_start = |text: &str, at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let mark = SCHEMA.find(&format!("(version {version})"))?;
    let rest = &SCHEMA[line_start(SCHEMA, mark)..];
    let end = rest
        .find(&format!("(version {})", version + 1))
        .map_or(rest.len(), |next| line_start(rest, next));
    Some(&rest[..end])
}

const READ_POOL_SIZE: u32 = 8;

/// What a read unit's statements see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Snapshot {
    /// One read transaction around them all: one point in time.
    Transaction,
    /// Each its own (SQLite's autocommit), for a unit of one statement.
    PerStatement,
}
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;
/// How much of the database file is read through a memory map rather than copied
/// page by page: none. Searches now visit few pages (their totals are counted,
/// README "Search performance"), while every mapped page a request or the janitor
/// touched counted in the server's resident memory (README, Memory).
const MMAP_BYTES: i64 = 0;

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
    #[error("cannot make the database file {0} private: {1}")]
    Private(PathBuf, #[source] std::io::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("connection pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error(
        "the database has schema version {0}, which this nexds ({SCHEMA_VERSION}) does not know; \
         is it newer?"
    )]
    TooNew(i64),
    #[error("schema.sql has no upgrade to version {0}")]
    NoUpgrade(i64),
    #[error("cannot start the writer thread: {0}")]
    Writer(#[source] std::io::Error),
}

/// The SQLite metadata store; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool<SqliteConnectionManager>,
    /// The one write connection: the writer thread's, and [`Self::write_blocking`]'s
    /// (the CLI, tests) between its groups.
    writer: Arc<Mutex<Connection>>,
    /// Read units of work waiting for a connection wait here, on the async side,
    /// not on a blocking thread each: a burst of requests then holds as many
    /// blocking threads as there are connections, not one per request (whose
    /// per-thread allocator arenas would each keep memory; README, Memory).
    readers: Arc<Semaphore>,
    /// Write units of work, to the writer thread (group commit, `writer.rs`);
    /// bounded, so a burst waits here rather than growing memory.
    queue: mpsc::Sender<Box<dyn writer::Work>>,
    written: Arc<writer::Counters>,
    /// Where units of work write their webhook events.
    outbox: webhooks::Outbox,
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
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    // Searches have many shapes; the statements of every request stay cached.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans never depend on bound values (every search names its index): without
    // this, a bound LIMIT made SQLite prepare a page's statement again on every run.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // `rarray(?)`: a list of ids as one parameter (objects::load_many).
    rusqlite::vtab::array::load_module(conn)?;
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
        v if v < 0 => return Err(OpenError::TooNew(v)),
        v => {
            for next in v + 1..=SCHEMA_VERSION {
                let sql = upgrade_sql(next).ok_or(OpenError::NoUpgrade(next))?;
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", next)?;
                log::info!("upgraded the metadata schema to version {next}");
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// The database holds every object's passwords, so it and its WAL and
/// shared-memory files are 0600 whatever the umask. SQLite gives the WAL and SHM
/// files it creates the mode of the database file, so a new database is made
/// here first; files an older nexds left readable to others are narrowed.
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = PathBuf::from(name);
            match std::fs::metadata(&file) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                    log::info!("made {} readable by its owner only", file.display());
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/nexds.db` and brings its schema up to date.
    pub fn open(data_dir: &Path, durability: Durability) -> Result<SqliteStore, OpenError> {
        crate::data_dir::create(data_dir)
            .map_err(|e| OpenError::DataDir(data_dir.to_owned(), e))?;
        let path = data_dir.join("nexds.db");
        make_private(&path).map_err(|e| OpenError::Private(path.clone(), e))?;
        let mut writer = Connection::open(&path)?;
        configure(&writer, durability)?;
        migrate(&mut writer)?;
        let manager = SqliteConnectionManager::file(&path).with_init(move |c| {
            configure(c, durability)?;
            c.pragma_update(None, "query_only", "ON")
        });
        let pool = Pool::builder()
            .max_size(READ_POOL_SIZE)
            // A local file does not go stale; the check cost a query per read.
            .test_on_check_out(false)
            .min_idle(Some(1))
            .build(manager)?;
        let writer = Arc::new(Mutex::new(writer));
        let written = Arc::new(writer::Counters::default());
        let queue =
            writer::spawn(Arc::clone(&writer), Arc::clone(&written)).map_err(OpenError::Writer)?;
        Ok(SqliteStore {
            pool,
            writer,
            readers: Arc::new(Semaphore::new(READ_POOL_SIZE as usize)),
            queue,
            written,
            outbox: webhooks::Outbox::default(),
        })
    }

    /// With `on`, units of work write their events to the webhook outbox
    /// (`NEXDS_WEBHOOK_URL` is set); without, they write none.
    pub fn with_webhooks(mut self, on: bool) -> SqliteStore {
        self.outbox = webhooks::Outbox::new(on);
        self
    }

    /// Where units of work write their webhook events.
    pub fn outbox(&self) -> webhooks::Outbox {
        self.outbox
    }

    /// Runs `f` on a pooled read connection, on this thread, inside one read
    /// transaction so everything it reads is from one snapshot (an object and its
    /// tags never mix before and after a concurrent write).
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ApiError>,
    ) -> Result<T, StoreError> {
        self.read_on_this_thread(Snapshot::Transaction, f)
    }

    /// [`Self::read_blocking`], in one read transaction or with each statement
    /// of `f` reading its own snapshot.
    fn read_on_this_thread<T>(
        &self,
        snapshot: Snapshot,
        f: impl FnOnce(&Connection) -> Result<T, ApiError>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let read = || {
            let conn = self.pool.get()?;
            if snapshot == Snapshot::PerStatement {
                return f(&conn);
            }
            // Cached statements: BEGIN and COMMIT are parsed once per connection.
            conn.prepare_cached("BEGIN")?.execute([])?;
            let value = f(&conn);
            let ended = conn
                .prepare_cached("COMMIT")
                .and_then(|mut s| s.execute([]));
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK")?;
            }
            ended?;
            value
        };
        let value = read();
        metrics::histogram!(telemetry::DB_DURATION, "mode" => "read").record(started.elapsed());
        Ok(value?)
    }

    /// Runs `f` in one immediate transaction on the writer, on this thread.
    /// An error rolls everything back.
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, ApiError>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let write = || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok::<_, ApiError>(value)
        };
        let value = write();
        drop(conn);
        metrics::histogram!(telemetry::DB_DURATION, "mode" => "write").record(started.elapsed());
        Ok(value?)
    }

    /// [`Self::read_blocking`] on the blocking thread pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        self.read_with(Snapshot::Transaction, false, f).await
    }

    /// Runs `f` in one read transaction on the calling thread when a reader
    /// connection is free, else as [`read`](Self::read) does. For units whose
    /// work is bounded by their answer (rows by key, a search counted from
    /// `search_counts` with a window near its start): for those, the trip to
    /// the blocking pool and back cost more than the read itself, and held
    /// fewer requests per second (README "Load"). Anything that may scan stays
    /// on the pool, so an async worker is never held long.
    pub async fn read_bounded<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        self.read_with(Snapshot::Transaction, true, f).await
    }

    /// [`Self::read_bounded`] for a unit whose reads need no common snapshot: one
    /// statement (such as [`objects::load`]), or facts independent of each other.
    /// It saves the BEGIN and COMMIT around them.
    pub async fn read_bounded_autocommit<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        self.read_with(Snapshot::PerStatement, true, f).await
    }

    /// Runs `f` on a reader connection: on this thread if `here` and one is free,
    /// else on the blocking pool once one is.
    async fn read_with<T, F>(&self, snapshot: Snapshot, here: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        if here && let Ok(turn) = Arc::clone(&self.readers).try_acquire_owned() {
            let value = self.read_on_this_thread(snapshot, f);
            drop(turn);
            return value;
        }
        let turn = Arc::clone(&self.readers).acquire_owned().await;
        let turn = turn.map_err(|e| StoreError::Backend(Box::new(e)))?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let value = store.read_on_this_thread(snapshot, f);
            drop(turn);
            value
        })
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
    }

    /// Runs `f` on the writer thread, in its own savepoint of the transaction
    /// of a group of units (group commit): an error rolls back `f`'s writes only;
    /// the answer comes once the group's COMMIT is on disk.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(writer::Job::new(f, reply)))
            .await
            .map_err(|_| StoreError::Backend("the writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the writer thread dropped a unit of work".into()))?
    }

    /// (groups, units) committed by the writer thread so far.
    pub fn groups_committed(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.written.groups.load(Relaxed),
            self.written.units.load(Relaxed),
        )
    }
}

#[async_trait::async_trait]
impl Health for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(drop)
    }
}

#[async_trait::async_trait]
impl crate::store::Exclusive for SqliteStore {
    /// One server per data dir (its lock file), so the janitor never meets another
    /// one; a one-shot `nexds purge` beside it is serialized by the writer.
    async fn janitor_turn(&self, _wait: bool) -> Result<Option<crate::store::Turn>, StoreError> {
        Ok(Some(crate::store::Turn::alone()))
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::internal(err)
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(err: r2d2::Error) -> Self {
        ApiError::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_gets_the_schema_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        let version: i64 = store
            .read_blocking(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(store);
        SqliteStore::open(dir.path(), Durability::Normal).unwrap();
    }

    #[test]
    fn a_bounded_read_runs_on_the_calling_thread_and_waits_when_every_reader_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let thread = |store: &SqliteStore| {
            let store = store.clone();
            async move {
                store
                    .read_bounded(|c| {
                        let n: i64 = c.query_row("SELECT 41 + 1", [], |r| r.get(0))?;
                        Ok((n, std::thread::current().id()))
                    })
                    .await
                    .unwrap()
            }
        };
        let (n, ran_on) = runtime.block_on(thread(&store));
        assert_eq!(n, 42);
        assert_eq!(ran_on, std::thread::current().id());

        // Every reader busy: the read waits for one (no ninth connection), then
        // runs on the blocking pool.
        let busy = runtime
            .block_on(Arc::clone(&store.readers).acquire_many_owned(READ_POOL_SIZE))
            .unwrap();
        let (n, ran_on) = runtime.block_on(async {
            let read = tokio::spawn(thread(&store));
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(
                !read.is_finished(),
                "a read ran while every reader was busy"
            );
            drop(busy);
            read.await.unwrap()
        });
        assert_eq!(n, 42);
        assert_ne!(ran_on, std::thread::current().id());
    }

    #[cfg(unix)]
    #[test]
    fn the_database_and_its_wal_are_private_even_when_made_readable_before() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let files = ["nexds.db", "nexds.db-wal", "nexds.db-shm"];
        let modes = || {
            files.map(|f| {
                std::fs::metadata(dir.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            })
        };
        let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        assert_eq!(modes(), [0o600; 3]);
        for f in files {
            let loose = std::fs::Permissions::from_mode(0o644);
            std::fs::set_permissions(dir.path().join(f), loose).unwrap();
        }
        let again = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        assert_eq!(modes(), [0o600; 3]);
        drop((store, again));
    }

    /// The `sqlite_master` rows of the database in `dir`, in a stable order.
    fn schema_rows(dir: &Path) -> Vec<(String, String, String, Option<String>)> {
        let conn = Connection::open(dir.join("nexds.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// schema.sql as it was at `version`: everything before the mark of the next.
    fn schema_at(version: i64) -> String {
        let cut = SCHEMA
            .lines()
            .position(|l| l.starts_with("--") && l.contains(&format!("(version {})", version + 1)))
            .unwrap();
        let mut old: String = SCHEMA.lines().take(cut).map(|l| format!("{l}\n")).collect();
        old.push_str(&format!("PRAGMA user_version = {version};\n"));
        old
    }

    #[test]
    fn every_older_database_upgrades_to_the_schema_of_a_new_one() {
        let new = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(new.path(), Durability::Normal).unwrap());
        for version in 1..SCHEMA_VERSION {
            let old = tempfile::tempdir().unwrap();
            let conn = Connection::open(old.path().join("nexds.db")).unwrap();
            conn.execute_batch(&schema_at(version)).unwrap();
            conn.execute(
                "INSERT INTO objects (namespace, owner_id, size, data_type, period, access_type,
                    update_type, state, created_time, updated_time, referred_time, expire_time,
                    access_password, update_password)
                 VALUES ('default', 100, 0, 7, 90, 0, 3, 1, 1, 1, 1, 2, 1, 1)",
                [],
            )
            .unwrap();
            drop(conn);
            assert_ne!(schema_rows(old.path()), schema_rows(new.path()));

            let store = SqliteStore::open(old.path(), Durability::Normal).unwrap();
            let upgraded: i64 = store
                .read_blocking(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
                .unwrap();
            assert_eq!(upgraded, SCHEMA_VERSION);
            let kept: i64 = store
                .read_blocking(|c| {
                    Ok(c.query_row("SELECT count(*) FROM objects", [], |r| r.get(0))?)
                })
                .unwrap();
            assert_eq!(kept, 1, "from version {version}");
            drop(store);
            assert_eq!(
                schema_rows(old.path()),
                schema_rows(new.path()),
                "from version {version}"
            );
        }
    }

    #[test]
    fn each_upgrade_is_its_section_of_schema_sql() {
        let v2 = upgrade_sql(2).unwrap();
        assert!(v2.starts_with("-- Search indexes (version 2)"), "{v2}");
        assert!(v2.contains("CREATE INDEX objects_search_by_type"));
        assert!(!v2.contains("CREATE TABLE"));
        let v3 = upgrade_sql(3).unwrap();
        assert!(
            v3.starts_with("-- Friends and notifications (version 3)"),
            "{v3}"
        );
        assert!(v3.contains("CREATE TABLE friends"));
        assert!(!v3.contains("objects_search_by_type"));
        let v4 = upgrade_sql(4).unwrap();
        assert!(v4.starts_with("-- Webhook outbox (version 4)"), "{v4}");
        assert!(v4.contains("CREATE TABLE webhook_outbox"));
        assert!(!upgrade_sql(3).unwrap().contains("webhook_outbox"));
        let v5 = upgrade_sql(5).unwrap();
        assert!(v5.starts_with("-- Search counts (version 5)"), "{v5}");
        assert!(v5.contains("CREATE TABLE search_counts"));
        assert!(!v5.contains("webhook_outbox"));
        let v6 = upgrade_sql(6).unwrap();
        assert!(v6.starts_with("-- Search blocks (version 6)"), "{v6}");
        assert!(v6.contains("CREATE TABLE search_blocks"));
        assert!(!v6.contains("CREATE TABLE search_counts"));
        assert!(upgrade_sql(SCHEMA_VERSION + 1).is_none());
        for version in 2..=SCHEMA_VERSION {
            assert!(upgrade_sql(version).is_some(), "version {version}");
        }
    }

    /// Runs `units` concurrently while the writer connection is held, so that all
    /// of them queue and the writer takes them as one group; returns each answer.
    fn in_one_group(store: &SqliteStore, units: Vec<Unit>) -> Vec<Result<i64, StoreError>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let held = store.writer.lock().unwrap();
        let count = units.len();
        let before = store.groups_committed();
        let answers = runtime.block_on(async move {
            let tasks: Vec<_> = units
                .into_iter()
                .map(|unit| {
                    let store = store.clone();
                    tokio::spawn(async move { store.write(unit).await })
                })
                .collect();
            // The writer took the first unit and waits for the connection; the
            // others wait in the queue.
            while store.queue.max_capacity() - store.queue.capacity() < count - 1 {
                tokio::task::yield_now().await;
            }
            drop(held);
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap());
            }
            answers
        });
        let after = store.groups_committed();
        assert_eq!(after.0 - before.0, 1, "one group");
        answers
    }

    fn token_rows(store: &SqliteStore) -> Vec<i64> {
        store
            .read_blocking(|c| {
                let mut stmt =
                    c.prepare("SELECT created_time FROM tokens ORDER BY created_time")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<Vec<i64>, _>>()?)
            })
            .unwrap()
    }

    type Unit = Box<dyn FnOnce(&Transaction<'_>) -> Result<i64, ApiError> + Send>;

    fn insert_token(i: i64) -> Unit {
        Box::new(move |tx| {
            tx.execute(
                "INSERT INTO tokens (token_hash, namespace, created_time) VALUES (?1, 'g', ?2)",
                rusqlite::params![vec![i as u8; 32], i],
            )?;
            Ok(i)
        })
    }

    #[test]
    fn a_unit_that_fails_in_a_group_loses_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Full).unwrap();
        let units: Vec<Unit> = (0..40)
            .map(|i| -> Unit {
                if i == 17 {
                    // Writes, then refuses: its row must go, its neighbours' stay.
                    Box::new(move |tx| {
                        insert_token(i)(tx)?;
                        Err(ApiError::malformed("unit 17 refuses"))
                    })
                } else {
                    insert_token(i)
                }
            })
            .collect();
        let answers = in_one_group(&store, units);
        for (i, answer) in answers.iter().enumerate() {
            match answer {
                Ok(value) => assert_eq!(*value, i as i64),
                Err(StoreError::Refused(e)) => {
                    assert_eq!(i, 17);
                    assert!(e.to_string().contains("unit 17 refuses"), "{e}");
                }
                Err(e) => panic!("unit {i}: {e}"),
            }
        }
        assert!(answers[17].is_err());
        let want: Vec<i64> = (0..40).filter(|&i| i != 17).collect();
        assert_eq!(token_rows(&store), want);
        // A panicking unit is an error of its own too.
        let units: Vec<Unit> = vec![
            insert_token(100),
            Box::new(|tx| {
                insert_token(101)(tx)?;
                panic!("unit 101 panics")
            }),
            insert_token(102),
        ];
        let answers = in_one_group(&store, units);
        assert!(answers[0].is_ok() && answers[1].is_err() && answers[2].is_ok());
        let rows = token_rows(&store);
        assert!(rows.contains(&100) && !rows.contains(&101) && rows.contains(&102));
    }

    #[test]
    fn when_the_commit_of_a_group_fails_no_unit_of_it_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        let units: Vec<Unit> = vec![
            insert_token(1),
            // A foreign key checked only at COMMIT, where it fails.
            Box::new(|tx| {
                tx.execute_batch(
                    "PRAGMA defer_foreign_keys = ON;
                     INSERT INTO object_tags (data_id, tag) VALUES (424242, x'00');",
                )?;
                Ok(2)
            }),
            insert_token(3),
        ];
        let answers = in_one_group(&store, units);
        for answer in &answers {
            assert!(
                matches!(answer, Err(StoreError::Backend(e)) if e.to_string().contains("FOREIGN KEY")),
                "{answer:?}"
            );
        }
        assert_eq!(token_rows(&store), Vec::<i64>::new());
        // The writer goes on.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(runtime.block_on(store.write(insert_token(4))).unwrap(), 4);
        assert_eq!(token_rows(&store), vec![4]);
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("nexds.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            SqliteStore::open(dir.path(), Durability::Normal),
            Err(OpenError::TooNew(99))
        ));
    }
}
