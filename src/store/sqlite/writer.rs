//! The writer thread and its group commit: it takes every unit of work queued
//! since its last commit, runs each in its own savepoint of one transaction,
//! commits once (one fsync for the group), and only then answers each caller.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::store::StoreError;
use crate::telemetry;

/// Units of work waiting for the writer; a sender waits (on the async side)
/// while the queue is full, so a burst never grows memory without limit.
pub(super) const QUEUE: usize = 1024;
/// The most units one group holds: a group's callers all wait for its commit.
const GROUP: usize = 256;

/// One queued unit of work and the caller waiting for it.
pub(super) trait Work: Send {
    /// Runs the unit in the group's transaction; false if it failed (then its
    /// savepoint is rolled back). Called at most once.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Answers the caller once the group's fate is known: `Ok` if the group's
    /// COMMIT is on disk, else why nothing of it was kept.
    fn answer(self: Box<Self>, group: Result<(), &str>);
}

/// A unit of work as [`super::SqliteStore::write`] queues it.
pub(super) struct Job<T, F> {
    unit: Option<F>,
    result: Option<Result<T, ApiError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
    started: Option<Instant>,
}

impl<T, F> Job<T, F> {
    pub(super) fn new(unit: F, reply: oneshot::Sender<Result<T, StoreError>>) -> Self {
        Job {
            unit: Some(unit),
            result: None,
            reply,
            started: None,
        }
    }
}

impl<T, F> Work for Job<T, F>
where
    T: Send,
    F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        self.started = Some(Instant::now());
        let Some(unit) = self.unit.take() else {
            return false;
        };
        let result = unit(tx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, group: Result<(), &str>) {
        let value = match (self.result, group) {
            // A unit's own refusal stands whatever became of the others.
            (Some(Err(e)), _) => Err(StoreError::from(e)),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)), Err(why)) | (None, Err(why)) => Err(StoreError::Backend(
                format!("nothing written: {why}").into(),
            )),
            (None, Ok(())) => Err(StoreError::Backend(
                "the unit of work panicked; nothing of it was written".into(),
            )),
        };
        if let Some(started) = self.started {
            metrics::histogram!(telemetry::DB_DURATION, "mode" => "write")
                .record(started.elapsed());
        }
        // The caller may have gone (its request was dropped): the write stands.
        let _ = self.reply.send(value);
    }
}

/// Groups and units the writer ran so far (committed or not).
#[derive(Default)]
pub(super) struct Counters {
    pub groups: AtomicU64,
    pub units: AtomicU64,
}

/// Starts the writer thread on `conn`; it ends when every sender is dropped.
pub(super) fn spawn(
    conn: Arc<Mutex<Connection>>,
    counters: Arc<Counters>,
) -> std::io::Result<mpsc::Sender<Box<dyn Work>>> {
    let (sender, queue) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("nexds-writer".into())
        .spawn(move || run(&conn, queue, &counters))?;
    Ok(sender)
}

fn run(conn: &Mutex<Connection>, mut queue: mpsc::Receiver<Box<dyn Work>>, counters: &Counters) {
    let mut pending: VecDeque<Box<dyn Work>> = VecDeque::new();
    loop {
        if pending.is_empty() {
            match queue.blocking_recv() {
                Some(unit) => pending.push_back(unit),
                None => return,
            }
        }
        // The connection first (write_blocking may hold it), then whatever
        // queued meanwhile joins the group.
        let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
        while pending.len() < GROUP {
            match queue.try_recv() {
                Ok(unit) => pending.push_back(unit),
                Err(_) => break,
            }
        }
        group(&mut conn, &mut pending, counters);
    }
}

/// Runs up to [`GROUP`] units of `pending` in one transaction and answers them.
/// Units left in `pending` (after a failure
/// that ended the transaction) go in the next group.
fn group(conn: &mut Connection, pending: &mut VecDeque<Box<dyn Work>>, counters: &Counters) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            // Not even begun (the database stayed locked past busy_timeout).
            let why = e.to_string();
            log::error!("cannot begin a write transaction: {why}");
            for unit in pending.drain(..) {
                unit.answer(Err(&why));
            }
            return;
        }
    };
    let mut done: Vec<Box<dyn Work>> = Vec::with_capacity(pending.len().min(GROUP));
    let mut broken = None;
    while done.len() < GROUP {
        let Some(mut unit) = pending.pop_front() else {
            break;
        };
        if let Err(e) = run_cached(&tx, "SAVEPOINT unit") {
            pending.push_front(unit);
            broken = Some(e);
            break;
        }
        let ok = catch_unwind(AssertUnwindSafe(|| unit.run(&tx))).unwrap_or(false);
        let end = if ok {
            run_cached(&tx, "RELEASE unit")
        } else {
            run_cached(&tx, "ROLLBACK TO unit").and_then(|()| run_cached(&tx, "RELEASE unit"))
        };
        done.push(unit);
        if let Err(e) = end {
            // SQLite rolled the whole transaction back (disk full, I/O error):
            // the units before this one went with it.
            broken = Some(e);
            break;
        }
    }
    let committed = match broken {
        Some(e) => {
            drop(tx);
            Err(e)
        }
        None => tx.commit(),
    };
    counters.groups.fetch_add(1, Ordering::Relaxed);
    counters
        .units
        .fetch_add(done.len() as u64, Ordering::Relaxed);
    match committed {
        Ok(()) => {
            for unit in done {
                unit.answer(Ok(()));
            }
        }
        Err(e) => {
            let why = e.to_string();
            log::error!(
                "a group of {} writes failed, none was kept: {why}",
                done.len()
            );
            for unit in done {
                unit.answer(Err(&why));
            }
        }
    }
}

/// Runs a statement without parameters, parsed once per connection.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}
