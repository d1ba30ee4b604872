//! The PostgreSQL backend of the metadata store, for several nodes (DESIGN §11).
//! Everything that knows tokio-postgres is in this folder.
//!
//! The pool's connections live on the store's own small runtime (`nexds-pg`
//! threads): a unit of work runs on its caller's task (an actix worker, the CLI,
//! a test) and talks to a connection whose socket and task are the store's, so no
//! connection dies with the runtime of the request that opened it.
//!
//! Isolation: a unit of work that writes runs `SERIALIZABLE`, so "check every item,
//! then write" holds with any number of nodes writing at once exactly as it does
//! under SQLite's single writer; PostgreSQL aborts one of two units whose reads and
//! writes cross (SQLSTATE 40001, or 40P01 for a deadlock) and [`PgStore::write`]
//! runs the loser again from the start, on a fresh snapshot. Reads run in one
//! `REPEATABLE READ` read-only transaction (one snapshot, as SQLite's reads);
//! reading objects by id, whose object comes whole in one statement, runs outside
//! a transaction ([`PgStore::read_statements`]).
//! Background work (janitor, webhook deliveries) claims its rows: see
//! `purge.rs` and `webhooks.rs`.

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

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{GenericClient, ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use crate::error::ApiError;
use crate::store::{Health, StoreError};
use crate::telemetry;

/// The whole current schema, for a new database, and its upgrades by section.
const SCHEMA: &str = include_str!("../../../schema-postgres.sql");
/// The `nexds_schema.version` that `schema-postgres.sql` creates.
pub const SCHEMA_VERSION: i64 = 1;

/// Advisory lock keys (`pg_advisory_lock`), one per kind of exclusive work.
/// Migrating the schema: two nodes starting together migrate once.
const MIGRATION_LOCK: i64 = 0x6e65_7864_7301;
/// The janitor's pass: one node at a time.
const JANITOR_LOCK: i64 = 0x6e65_7864_7302;

/// Connections per node. PostgreSQL's default `max_connections` is 100.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// A unit of work that keeps losing to other writers is given up after this long
/// (answered as an internal error; nothing of it was written).
pub(crate) const RETRY_FOR: Duration = Duration::from_secs(10);

/// A transaction of a unit of work; `prepare_cached` keeps statements per connection.
pub type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// Parameters of a statement.
pub type Params<'a> = [&'a (dyn ToSql + Sync)];

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("NEXDS_DATABASE_URL is not a PostgreSQL URL: {0}")]
    Url(String),
    #[error("cannot start the PostgreSQL client's threads: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot reach PostgreSQL: {0}")]
    Connect(String),
    #[error("PostgreSQL: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error(
        "the database has schema version {0}, which this nexds ({SCHEMA_VERSION}) does not know; \
         is it newer?"
    )]
    TooNew(i64),
    #[error("schema-postgres.sql has no upgrade to version {0}")]
    NoUpgrade(i64),
}

/// Why a unit of work failed: a rule of the domain, or the database (which may be
/// a conflict with another writer, run again by [`PgStore::write`]).
#[derive(Debug)]
pub enum PgError {
    Api(ApiError),
    Db(tokio_postgres::Error),
    Pool(deadpool_postgres::PoolError),
}

impl PgError {
    /// Did PostgreSQL abort this unit for another writer's sake? Then it may run again.
    pub(crate) fn is_conflict(&self) -> bool {
        match self {
            PgError::Db(e) => matches!(
                e.code(),
                Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
            ),
            _ => false,
        }
    }
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgError::Api(e) => write!(f, "{e}"),
            PgError::Db(e) => write!(f, "{e}"),
            PgError::Pool(e) => write!(f, "{e}"),
        }
    }
}

impl From<ApiError> for PgError {
    fn from(err: ApiError) -> Self {
        PgError::Api(err)
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(err: tokio_postgres::Error) -> Self {
        PgError::Db(err)
    }
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        PgError::Pool(err)
    }
}

impl From<PgError> for StoreError {
    fn from(err: PgError) -> Self {
        match err {
            PgError::Api(err) => err.into(),
            PgError::Db(err) => StoreError::Backend(Box::new(err)),
            PgError::Pool(err) => StoreError::Backend(Box::new(err)),
        }
    }
}

/// The runtime the store's connections live on; shut down without blocking, as
/// the last clone of the store may be dropped on an async thread.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl OwnRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("runtime lives until drop").handle()
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct Inner {
    pool: Pool,
    /// The node's rating writer (`ratings.rs`), which commits queued ratings together.
    rater: tokio::sync::mpsc::Sender<ratings::RateJob>,
    /// For sessions of their own (advisory locks held across transactions).
    pg_config: tokio_postgres::Config,
    // Dropped last: the pool's connections run on it.
    rt: OwnRuntime,
}

/// The PostgreSQL metadata store; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
    /// Where units of work write their webhook events.
    outbox: webhooks::Outbox,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`) with up to
    /// `pool_size` connections and brings the schema up to date.
    pub fn open(url: &str, pool_size: usize) -> Result<PgStore, OpenError> {
        let pg_config: tokio_postgres::Config =
            url.parse().map_err(|e| OpenError::Url(format!("{e}")))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nexds-pg")
            .enable_all()
            .build()
            .map_err(OpenError::Runtime)?;
        let rt = OwnRuntime(Some(rt));
        let manager = deadpool_postgres::Manager::from_connect(
            pg_config.clone(),
            ConnectOnOwnRuntime {
                handle: rt.handle().clone(),
            },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _entered = rt.handle().enter();
            Pool::builder(manager)
                .config(PoolConfig::new(pool_size.max(1)))
                .runtime(Runtime::Tokio1)
                .build()
                .map_err(|e| OpenError::Connect(e.to_string()))?
        };
        let rater = ratings::spawn_rater(pool.clone(), rt.handle());
        let store = PgStore {
            inner: Arc::new(Inner {
                pool,
                rater,
                pg_config,
                rt,
            }),
            outbox: webhooks::Outbox::default(),
        };
        let pool = store.inner.pool.clone();
        store.block_on(async move { migrate(&pool).await })?;
        Ok(store)
    }

    /// With `on`, units of work write their events to the webhook outbox.
    pub fn with_webhooks(mut self, on: bool) -> PgStore {
        self.outbox = webhooks::Outbox::new(on);
        self
    }

    /// Where units of work write their webhook events.
    pub fn outbox(&self) -> webhooks::Outbox {
        self.outbox
    }

    /// Runs `fut` on the store's runtime and waits for it on this thread: for the
    /// synchronous units of work (the CLI's token commands, the bootstrap token).
    /// From inside another runtime it waits on a thread of its own.
    pub fn block_on<T: Send>(&self, fut: impl Future<Output = T> + Send) -> T {
        let handle = self.inner.rt.handle();
        match tokio::runtime::Handle::try_current() {
            Err(_) => handle.block_on(fut),
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| handle.block_on(fut))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
        }
    }

    /// Runs `fut` on the store's runtime.
    async fn spawn<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.inner
            .rt
            .handle()
            .spawn(fut)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
    }

    /// Runs `f` in one read-only `REPEATABLE READ` transaction: everything it
    /// reads is from one snapshot.
    pub async fn read<A, T>(
        &self,
        args: A,
        f: impl for<'a> Fn(&'a Tx<'a>, &'a A) -> BoxFuture<'a, Result<T, PgError>>
        + Send
        + Sync
        + 'static,
    ) -> Result<T, StoreError>
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
    {
        let started = Instant::now();
        let value = async {
            let mut client = self.inner.pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let value = f(&tx, &args).await?;
            // Read-only: ending it any way is the same. Dropping it sends the
            // ROLLBACK without waiting for it (the connection runs it before
            // whatever its next user sends), a round trip saved per read.
            drop(tx);
            Ok::<_, PgError>(value)
        }
        .await;
        metrics::histogram!(telemetry::DB_DURATION, "mode" => "read").record(started.elapsed());
        Ok(value?)
    }

    /// Runs `f` on a pooled connection outside any transaction: each statement sees
    /// what was committed when it began. For reads whose statements need no common
    /// snapshot (an object is one statement with its tags, recipients and ratings;
    /// the friendships its check asks may be a moment newer), without the two
    /// messages a transaction's start and end cost.
    pub async fn read_statements<A, T>(
        &self,
        args: A,
        f: impl for<'a> Fn(&'a deadpool_postgres::Client, &'a A) -> BoxFuture<'a, Result<T, PgError>>
        + Send
        + Sync
        + 'static,
    ) -> Result<T, StoreError>
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
    {
        let started = Instant::now();
        let value = async {
            let client = self.inner.pool.get().await?;
            f(&client, &args).await
        }
        .await;
        metrics::histogram!(telemetry::DB_DURATION, "mode" => "read").record(started.elapsed());
        Ok(value?)
    }

    /// Runs `f` in one `SERIALIZABLE` transaction and commits it; when PostgreSQL
    /// aborts it for a conflict with another writer, runs it again (nothing of an
    /// aborted run stays). An error of `f` rolls everything back.
    pub async fn write<A, T>(
        &self,
        args: A,
        f: impl for<'a> Fn(&'a Tx<'a>, &'a A) -> BoxFuture<'a, Result<T, PgError>>
        + Send
        + Sync
        + 'static,
    ) -> Result<T, StoreError>
    where
        A: Send + Sync + 'static,
        T: Send + 'static,
    {
        let value = retry_conflicts(|| async {
            let mut client = self.inner.pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::Serializable)
                .start()
                .await?;
            let value = f(&tx, &args).await?;
            tx.commit().await?;
            Ok::<_, PgError>(value)
        })
        .await;
        Ok(value?)
    }
}

impl PgStore {
    /// The node's rating writer.
    pub(crate) fn rater(&self) -> &tokio::sync::mpsc::Sender<ratings::RateJob> {
        &self.inner.rater
    }

    /// The pool, for work that runs its own transaction (the migration).
    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }
}

/// Opens the pool's connections on the store's runtime, whichever runtime's
/// request asked for one: a connection's socket and task live on the runtime
/// that made them, and the store's outlives every request's (an actix worker's
/// runtime, a one-shot command's).
struct ConnectOnOwnRuntime {
    handle: tokio::runtime::Handle,
}

impl deadpool_postgres::Connect for ConnectOnOwnRuntime {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<
        '_,
        Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>,
    > {
        let pg_config = pg_config.clone();
        let open = |pg_config: tokio_postgres::Config| async move {
            let (client, connection) = pg_config.connect(NoTls).await?;
            let task = tokio::spawn(async move {
                if let Err(e) = connection.await {
                    log::warn!("PostgreSQL connection: {e}");
                }
            });
            Ok((client, task))
        };
        let opened = self.handle.spawn(open(pg_config.clone()));
        Box::pin(async move {
            match opened.await {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // The store's runtime is shutting down (the process is ending).
                Err(_) => open(pg_config).await,
            }
        })
    }
}

/// How long a unit aborted `attempt` times waits before it runs again: a random
/// part of a window that doubles from 1 ms to 64 ms, so the losers of one conflict
/// do not meet again at once.
/// Runs `run` (one whole transaction) again from scratch while PostgreSQL aborts
/// it for a conflict with another writer (serialization failure, deadlock), for
/// up to [`RETRY_FOR`] with [`backoff`], counting each retry; the time it all
/// took is recorded as one write.
pub(crate) async fn retry_conflicts<T, Fut>(mut run: impl FnMut() -> Fut) -> Result<T, PgError>
where
    Fut: Future<Output = Result<T, PgError>>,
{
    let started = Instant::now();
    let mut attempt = 0u32;
    let outcome = loop {
        match run().await {
            Err(e) if e.is_conflict() && started.elapsed() < RETRY_FOR => {
                attempt += 1;
                metrics::counter!(telemetry::DB_RETRIES).increment(1);
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => break other,
        }
    };
    metrics::histogram!(telemetry::DB_DURATION, "mode" => "write").record(started.elapsed());
    outcome
}

pub(crate) fn backoff(attempt: u32) -> Duration {
    let window_us = 1000u64 << attempt.min(6);
    let mut random = [0u8; 8];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % window_us,
        Err(_) => window_us / 2,
    };
    Duration::from_micros(window_us / 2 + jitter / 2)
}

/// The upgrade to `version`: the section of the schema file from the line that
/// marks `(version N)` to the next such mark.
fn upgrade_sql(version: i64) -> Option<&'static str> {
    let line_start = |text: &str, at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let mark = SCHEMA.find(&format!("(version {version})"))?;
    let rest = &SCHEMA[line_start(SCHEMA, mark)..];
    let end = rest
        .find(&format!("(version {})", version + 1))
        .map_or(rest.len(), |next| line_start(rest, next));
    Some(&rest[..end])
}

/// Creates or upgrades the schema, holding an advisory lock so that nodes
/// starting together migrate once: the others wait, then find it done.
async fn migrate(pool: &Pool) -> Result<(), OpenError> {
    let mut client = pool
        .get()
        .await
        .map_err(|e| OpenError::Connect(e.to_string()))?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = async {
        let tx = client.transaction().await?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('nexds_schema') IS NOT NULL", &[])
            .await?
            .get(0);
        let version: i64 = match exists {
            false => 0,
            true => tx
                .query_one("SELECT version FROM nexds_schema", &[])
                .await?
                .get(0),
        };
        match version {
            0 => {
                tx.batch_execute(SCHEMA).await?;
                log::info!("created the PostgreSQL metadata schema, version {SCHEMA_VERSION}");
            }
            v if !(0..=SCHEMA_VERSION).contains(&v) => return Err(OpenError::TooNew(v)),
            v => {
                for next in v + 1..=SCHEMA_VERSION {
                    let sql = upgrade_sql(next).ok_or(OpenError::NoUpgrade(next))?;
                    tx.batch_execute(sql).await?;
                    tx.execute("UPDATE nexds_schema SET version = $1", &[&next])
                        .await?;
                    log::info!("upgraded the PostgreSQL metadata schema to version {next}");
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

/// The rows of `sql` (a cached statement of this connection).
pub async fn rows(
    tx: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, PgError> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query(&stmt, params).await?)
}

/// The one row of `sql`, if any.
pub async fn opt_row(
    tx: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, PgError> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query_opt(&stmt, params).await?)
}

/// The one row `sql` must give.
pub async fn one_row(
    tx: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row, PgError> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query_one(&stmt, params).await?)
}

/// Runs `sql`; returns how many rows it changed.
pub async fn execute(
    tx: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, PgError> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&stmt, params).await?)
}

/// A data_id as stored (BIGINT); larger ids simply match nothing.
pub fn sql_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(-1)
}

#[async_trait::async_trait]
impl crate::store::Exclusive for PgStore {
    /// A session-level advisory lock on a connection of its own: the turn is held
    /// as long as that session lives, so a node that dies mid-pass gives it up
    /// with its connection, and the next node's pass finishes the work.
    async fn janitor_turn(&self, wait: bool) -> Result<Option<crate::store::Turn>, StoreError> {
        let config = self.inner.pg_config.clone();
        self.spawn(async move {
            let backend = |e: tokio_postgres::Error| StoreError::Backend(Box::new(e));
            let (client, connection) = config.connect(NoTls).await.map_err(backend)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    log::warn!("janitor's PostgreSQL session: {e}");
                }
            });
            let held = match wait {
                true => {
                    client
                        .execute("SELECT pg_advisory_lock($1)", &[&JANITOR_LOCK])
                        .await
                        .map_err(backend)?;
                    true
                }
                false => client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&JANITOR_LOCK])
                    .await
                    .map_err(backend)?
                    .get(0),
            };
            Ok(held.then(|| crate::store::Turn::holding(client)))
        })
        .await
    }
}

#[async_trait::async_trait]
impl Health for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read((), |tx, ()| {
            Box::pin(async move {
                one_row(tx, "SELECT 1", &[]).await?;
                Ok(())
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_section_is_the_whole_schema_and_no_later_one_exists_yet() {
        let v1 = upgrade_sql(1).unwrap();
        assert!(v1.starts_with("-- Metadata schema (version 1)"), "{v1}");
        assert!(v1.contains("CREATE TABLE webhook_outbox"));
        assert!(upgrade_sql(SCHEMA_VERSION + 1).is_none());
    }

    #[test]
    fn backoff_stays_in_its_window() {
        for attempt in 1..20 {
            let wait = backoff(attempt);
            let window = Duration::from_micros(1000 << attempt.min(6));
            assert!(wait >= window / 2 && wait < window, "{attempt}: {wait:?}");
        }
    }
}
