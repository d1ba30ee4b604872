//! Rating and resetting (DESIGN §6). Each request is one writer transaction, so
//! concurrent ratings of one slot are applied one after another and none is lost.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::Caller;
use crate::domain::rating::{
    self, LockType, RateParam, RatingInit, RatingTotals, StoredRating, flags,
};
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::objects::{load, sql_id, update_each};
use crate::store::{Ratings, StoreError};
use async_trait::async_trait;

#[async_trait]
impl Ratings for SqliteStore {
    async fn rate(
        &self,
        caller: Caller,
        params: Vec<RateParam>,
        now: i64,
    ) -> Result<Vec<RatingTotals>, StoreError> {
        self.write(move |tx| {
            let rater = rating::rater(&caller);
            let mut out = Vec::with_capacity(params.len());
            for p in &params {
                let object = load(tx, p.data_id)?.ok_or_else(|| ApiError::not_found(p.data_id))?;
                object.check_read(&caller, tx, now)?;
                let mut rating = load_rating(tx, p.data_id, p.slot)?.ok_or_else(|| {
                    ApiError::invalid(format!(
                        "rating slot {} of data_id {} is not initialised",
                        p.slot, p.data_id
                    ))
                })?;
                rating.check_rater(rater, &object, lock(tx, p, rater)?, now)?;
                let previous = previous_value(tx, p, rater)?;
                rating.rate(p.value, previous)?;
                save(tx, p, rater, &rating, now)?;
                out.push(rating.view());
            }
            Ok(out)
        })
        .await
    }

    async fn reset_ratings(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, StoreError> {
        self.write(move |tx| {
            update_each(tx, &caller, &ids, now, |id| {
                tx.prepare_cached(
                    "UPDATE rating_slots SET total_value = initial_value, count = 0
                     WHERE data_id = ?1",
                )?
                .execute([sql_id(id)])?;
                tx.prepare_cached("DELETE FROM rating_entries WHERE data_id = ?1")?
                    .execute([sql_id(id)])?;
                tx.prepare_cached("DELETE FROM rating_locks WHERE data_id = ?1")?
                    .execute([sql_id(id)])?;
                Ok(())
            })
        })
        .await
    }
}

fn load_rating(conn: &Connection, id: u64, slot: u8) -> Result<Option<StoredRating>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT flags, initial_value, range_min, range_max, lock_type, period_hour,
                period_duration, total_value, count
         FROM rating_slots WHERE data_id = ?1 AND slot = ?2",
    )?;
    let rating = stmt
        .query_row(params![sql_id(id), slot], |r| {
            Ok(StoredRating {
                settings: RatingInit {
                    slot,
                    flags: r.get(0)?,
                    initial_value: r.get(1)?,
                    range_min: r.get(2)?,
                    range_max: r.get(3)?,
                    lock: LockType::from_i64(r.get(4)?),
                    period_hour: r.get(5)?,
                    period_duration: r.get(6)?,
                },
                total_value: r.get(7)?,
                count: r.get::<_, i64>(8)? as u64,
            })
        })
        .optional()?;
    Ok(rating)
}

fn lock(conn: &Connection, p: &RateParam, rater: u32) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT locked_until FROM rating_locks WHERE data_id = ?1 AND slot = ?2 AND rater_id = ?3",
        )?
        .query_row(params![sql_id(p.data_id), p.slot, rater], |r| r.get(0))
        .optional()?)
}

fn previous_value(conn: &Connection, p: &RateParam, rater: u32) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT value FROM rating_entries WHERE data_id = ?1 AND slot = ?2 AND rater_id = ?3",
        )?
        .query_row(params![sql_id(p.data_id), p.slot, rater], |r| r.get(0))
        .optional()?)
}

fn save(
    conn: &Connection,
    p: &RateParam,
    rater: u32,
    rating: &StoredRating,
    now: i64,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "UPDATE rating_slots SET total_value = ?3, count = ?4 WHERE data_id = ?1 AND slot = ?2",
    )?
    .execute(params![
        sql_id(p.data_id),
        p.slot,
        rating.total_value,
        rating.count as i64
    ])?;
    if rating.settings.flags & flags::MODIFIABLE != 0 {
        conn.prepare_cached(
            "INSERT INTO rating_entries (data_id, slot, rater_id, value, rated_time)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (data_id, slot, rater_id) DO UPDATE SET value = ?4, rated_time = ?5",
        )?
        .execute(params![sql_id(p.data_id), p.slot, rater, p.value, now])?;
    }
    if let Some(until) = rating.lock_until(now) {
        conn.prepare_cached(
            "INSERT INTO rating_locks (data_id, slot, rater_id, locked_until)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (data_id, slot, rater_id) DO UPDATE SET locked_until = ?4",
        )?
        .execute(params![sql_id(p.data_id), p.slot, rater, until])?;
    }
    Ok(())
}
