//! Rating and resetting (DESIGN §6). Ratings go through the node's rating
//! writer, one task that takes the ratings queued meanwhile (up to
//! [`RATE_BATCH`]) and applies them in one transaction, each in a savepoint of
//! its own (a refused one is rolled back alone and gets its error), committed
//! once: a hot slot's row lock is held once per batch, not once per rating, so a
//! popular object rated by thousands at once costs one commit per batch.
//!
//! Within a batch each object is read once and each slot's totals are kept in
//! memory from rating to rating, then written once.
//!
//! The transaction locks every slot of the batch first (`SELECT … FOR UPDATE`,
//! in key order, so batches of two nodes never wait for each other crosswise)
//! and then reads and writes in `READ COMMITTED`: concurrent ratings of one slot,
//! from any node, wait for one another and are applied one after another, none
//! lost, none aborted (under `SERIALIZABLE` every concurrent rater of a hot slot
//! aborted and ran again, about ten times per rating with 16 clients). What a
//! rating reads besides its locked slot rows (the object and its permission, the
//! rater's lock and earlier value, which only units holding the slot's row lock
//! write) is the latest committed state after the lock. A reset runs
//! `SERIALIZABLE`. Nothing is answered before the commit that holds it.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::IsolationLevel;

use crate::domain::rating::{
    self, LockType, RateParam, RatingInit, RatingTotals, StoredRating, flags,
};
use crate::domain::{Caller, Object};
use crate::error::ApiError;
use crate::store::postgres::friends::known_friends;
use crate::store::postgres::objects::{load, update_each};
use crate::store::postgres::{
    PgError, PgStore, Tx, execute, opt_row, retry_conflicts, rows, sql_id,
};
use crate::store::{Ratings, StoreError};

#[async_trait]
impl Ratings for PgStore {
    async fn rate(
        &self,
        caller: Caller,
        params: Vec<RateParam>,
        now: i64,
    ) -> Result<Vec<RatingTotals>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = RateJob {
            caller,
            params,
            now,
            reply,
        };
        let gone = || StoreError::Backend("the rating writer stopped".into());
        self.rater().send(job).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    async fn reset_ratings(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, StoreError> {
        self.write((caller, ids, now), |tx, (caller, ids, now)| {
            Box::pin(update_each(tx, caller, ids, *now, |tx, id| {
                Box::pin(async move {
                    execute(
                        tx,
                        "UPDATE rating_slots SET total_value = initial_value, count = 0
                         WHERE data_id = $1",
                        &[&sql_id(id)],
                    )
                    .await?;
                    execute(
                        tx,
                        "DELETE FROM rating_entries WHERE data_id = $1",
                        &[&sql_id(id)],
                    )
                    .await?;
                    execute(
                        tx,
                        "DELETE FROM rating_locks WHERE data_id = $1",
                        &[&sql_id(id)],
                    )
                    .await?;
                    Ok(())
                })
            }))
        })
        .await
    }
}

/// Ratings per transaction of the rating writer.
pub(crate) const RATE_BATCH: usize = 64;

/// One rate request waiting for the rating writer.
pub(crate) struct RateJob {
    caller: Caller,
    params: Vec<RateParam>,
    now: i64,
    reply: oneshot::Sender<Result<Vec<RatingTotals>, StoreError>>,
}

/// Starts the node's rating writer on the store's runtime.
pub(crate) fn spawn_rater(pool: Pool, runtime: &Handle) -> mpsc::Sender<RateJob> {
    let (queue, mut jobs) = mpsc::channel::<RateJob>(4 * RATE_BATCH);
    runtime.spawn(async move {
        while let Some(first) = jobs.recv().await {
            let mut batch = vec![first];
            while batch.len() < RATE_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let results = rate_batch(&pool, &batch).await;
            for (job, result) in batch.into_iter().zip(results) {
                // A caller that went away (its connection closed) needs no answer.
                let _ = job.reply.send(result);
            }
        }
    });
    queue
}

/// Applies `batch` in one transaction, run again on a deadlock; each job's own
/// result. If the transaction fails, every job gets the error (nothing of the
/// batch was written).
async fn rate_batch(pool: &Pool, batch: &[RateJob]) -> Vec<Result<Vec<RatingTotals>, StoreError>> {
    match retry_conflicts(|| try_rate_batch(pool, batch)).await {
        Ok(results) => results,
        Err(e) => {
            log::error!("rating writer: {e}");
            let message = e.to_string();
            batch
                .iter()
                .map(|_| Err(StoreError::Backend(message.clone().into())))
                .collect()
        }
    }
}

async fn try_rate_batch(
    pool: &Pool,
    batch: &[RateJob],
) -> Result<Vec<Result<Vec<RatingTotals>, StoreError>>, PgError> {
    let mut client = pool.get().await?;
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await?;
    let all: Vec<RateParam> = batch
        .iter()
        .flat_map(|j| j.params.iter().copied())
        .collect();
    lock_slots(&tx, &all).await?;
    let mut seen = Seen::default();
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        // One rating is checked whole before it writes: refused, it wrote nothing.
        // Several may be refused after the first is written: a savepoint of their
        // own, and the totals as they were before them.
        if let [_] = job.params[..] {
            match rate_unit(&tx, &job.caller, &job.params, job.now, &mut seen).await {
                Ok(totals) => results.push(Ok(totals)),
                Err(PgError::Api(refused)) => results.push(Err(StoreError::from(refused))),
                Err(failed) => return Err(failed),
            }
            continue;
        }
        let unit = tx.savepoint("rate").await?;
        let before = seen.slots.clone();
        match rate_unit(&unit, &job.caller, &job.params, job.now, &mut seen).await {
            Ok(totals) => {
                unit.commit().await?;
                results.push(Ok(totals));
            }
            Err(PgError::Api(refused)) => {
                unit.rollback().await?;
                seen.slots = before;
                results.push(Err(StoreError::from(refused)));
            }
            Err(failed) => return Err(failed),
        }
    }
    // Each slot's totals once, as the batch left them.
    for ((id, slot), (rating, changed)) in &seen.slots {
        if *changed {
            execute(
                &tx,
                "UPDATE rating_slots SET total_value = $3, count = $4
                 WHERE data_id = $1 AND slot = $2",
                &[
                    &sql_id(*id),
                    &i64::from(*slot),
                    &rating.total_value,
                    &(rating.count as i64),
                ],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// What a batch has read: each object once, and each slot's totals as the
/// batch's ratings so far left them (the batch holds the slots' row locks, so
/// nobody else changes them meanwhile), with whether they changed.
#[derive(Default)]
struct Seen {
    objects: HashMap<u64, Option<Object>>,
    slots: HashMap<(u64, u8), (StoredRating, bool)>,
}

/// Each rating of `params` in order: the object readable, the slot initialised,
/// the rater not locked out, then the new totals kept in `seen` (written once
/// per batch) and the rater's value and lock saved. The slots are locked
/// already (by the batch).
async fn rate_unit(
    tx: &Tx<'_>,
    caller: &Caller,
    params: &[RateParam],
    now: i64,
    seen: &mut Seen,
) -> Result<Vec<RatingTotals>, PgError> {
    let rater = rating::rater(caller);
    let mut out = Vec::with_capacity(params.len());
    for p in params {
        let object = match seen.objects.get(&p.data_id) {
            Some(object) => object.clone(),
            None => {
                let object = load(tx, p.data_id).await?;
                seen.objects.insert(p.data_id, object.clone());
                object
            }
        }
        .ok_or_else(|| ApiError::not_found(p.data_id))?;
        let known = known_friends(tx, caller, [object.owner_id]).await?;
        object.check_read(caller, &known, now)?;
        let key = (p.data_id, p.slot);
        let mut rating = match seen.slots.get(&key) {
            Some((rating, _)) => rating.clone(),
            None => load_rating(tx, p.data_id, p.slot).await?.ok_or_else(|| {
                ApiError::invalid(format!(
                    "rating slot {} of data_id {} is not initialised",
                    p.slot, p.data_id
                ))
            })?,
        };
        // A slot without a lock type never has a lock, and only a modifiable one
        // keeps the value each rater gave: no statement for what cannot be there.
        let locked_until = match rating.settings.lock {
            LockType::None => None,
            _ => lock(tx, p, rater).await?,
        };
        rating.check_rater(rater, &object, locked_until, now)?;
        let previous = match rating.settings.flags & flags::MODIFIABLE {
            0 => None,
            _ => previous_value(tx, p, rater).await?,
        };
        rating.rate(p.value, previous)?;
        save(tx, p, rater, &rating, now).await?;
        out.push(rating.view());
        seen.slots.insert(key, (rating, true));
    }
    Ok(out)
}

/// Locks the rating slot rows of `params` (those that exist) in key order, so two
/// batches never wait for each other crosswise.
async fn lock_slots(tx: &Tx<'_>, params: &[RateParam]) -> Result<(), PgError> {
    let ids: Vec<i64> = params.iter().map(|p| sql_id(p.data_id)).collect();
    let slots: Vec<i64> = params.iter().map(|p| i64::from(p.slot)).collect();
    rows(
        tx,
        "SELECT 1 FROM rating_slots
         WHERE (data_id, slot) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))
         ORDER BY data_id, slot FOR UPDATE",
        &[&ids, &slots],
    )
    .await?;
    Ok(())
}

async fn load_rating(tx: &Tx<'_>, id: u64, slot: u8) -> Result<Option<StoredRating>, PgError> {
    let row = opt_row(
        tx,
        "SELECT flags, initial_value, range_min, range_max, lock_type, period_hour,
                period_duration, total_value, count
         FROM rating_slots WHERE data_id = $1 AND slot = $2",
        &[&sql_id(id), &i64::from(slot)],
    )
    .await?;
    Ok(row.map(|r| StoredRating {
        settings: RatingInit {
            slot,
            flags: r.get::<_, i64>(0) as u32,
            initial_value: r.get(1),
            range_min: r.get::<_, Option<i64>>(2).map(|v| v as i32),
            range_max: r.get::<_, Option<i64>>(3).map(|v| v as i32),
            lock: LockType::from_i64(r.get(4)),
            period_hour: r.get::<_, i64>(5) as i32,
            period_duration: r.get::<_, i64>(6) as i32,
        },
        total_value: r.get(7),
        count: r.get::<_, i64>(8) as u64,
    }))
}

async fn lock(tx: &Tx<'_>, p: &RateParam, rater: u32) -> Result<Option<i64>, PgError> {
    let row = opt_row(
        tx,
        "SELECT locked_until FROM rating_locks WHERE data_id = $1 AND slot = $2 AND rater_id = $3",
        &[&sql_id(p.data_id), &i64::from(p.slot), &i64::from(rater)],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

async fn previous_value(tx: &Tx<'_>, p: &RateParam, rater: u32) -> Result<Option<i64>, PgError> {
    let row = opt_row(
        tx,
        "SELECT value FROM rating_entries WHERE data_id = $1 AND slot = $2 AND rater_id = $3",
        &[&sql_id(p.data_id), &i64::from(p.slot), &i64::from(rater)],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The rater's value (modifiable slots) and lock (slots with a lock type); the
/// slot's totals are written once per batch.
async fn save(
    tx: &Tx<'_>,
    p: &RateParam,
    rater: u32,
    rating: &StoredRating,
    now: i64,
) -> Result<(), PgError> {
    let (id, slot, rater) = (sql_id(p.data_id), i64::from(p.slot), i64::from(rater));
    if rating.settings.flags & flags::MODIFIABLE != 0 {
        execute(
            tx,
            "INSERT INTO rating_entries (data_id, slot, rater_id, value, rated_time)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (data_id, slot, rater_id) DO UPDATE SET value = $4, rated_time = $5",
            &[&id, &slot, &rater, &p.value, &now],
        )
        .await?;
    }
    if let Some(until) = rating.lock_until(now) {
        execute(
            tx,
            "INSERT INTO rating_locks (data_id, slot, rater_id, locked_until)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (data_id, slot, rater_id) DO UPDATE SET locked_until = $4",
            &[&id, &slot, &rater, &until],
        )
        .await?;
    }
    Ok(())
}
