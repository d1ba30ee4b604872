//! What the janitor removes for good: uploads never completed, expired objects,
//! and deleted objects past the retention window. Rows go in bounded batches, their
//! files are queued in `blob_deletions` in the same transaction (an outbox).

use rusqlite::{Connection, params};

use crate::blob;
use crate::error::ApiError;

use crate::domain::object::State;
use crate::store::sqlite::objects::sql_id;
use crate::store::sqlite::{SqliteStore, search};
use crate::store::{Purge, Purged, StoreError};
use async_trait::async_trait;

#[async_trait]
impl Purge for SqliteStore {
    async fn purge_batch(
        &self,
        now: i64,
        uploads_before: i64,
        deleted_before: i64,
        limit: usize,
    ) -> Result<Purged, StoreError> {
        self.write(move |tx| {
            let mut purged = Purged::default();
            let kinds: [(&str, i64, i64, &mut usize); 3] = [
                (
                    "state = ?1 AND created_time < ?2",
                    State::Uploading as i64,
                    uploads_before,
                    &mut purged.uploads,
                ),
                (
                    "state = ?1 AND expire_time <= ?2",
                    State::Ready as i64,
                    now,
                    &mut purged.expired,
                ),
                (
                    "state = ?1 AND deleted_time < ?2",
                    State::Deleted as i64,
                    deleted_before,
                    &mut purged.deleted,
                ),
            ];
            queue_sealed_keys(
                tx,
                "SELECT blob_key FROM objects WHERE state = ?1 AND created_time < ?2
                 ORDER BY data_id LIMIT ?3",
                params![State::Uploading as i64, uploads_before, limit as i64],
            )?;
            // The delete triggers queue each file (schema.sql).
            for (filter, state, bound, count) in kinds {
                *count = tx
                    .prepare_cached(&format!(
                        "DELETE FROM objects WHERE data_id IN
                         (SELECT data_id FROM objects WHERE {filter} ORDER BY data_id LIMIT ?3)"
                    ))?
                    .execute(params![state, bound, limit as i64])?;
            }
            search::advance_horizon(tx, now)?;
            Ok(purged)
        })
        .await
    }

    async fn queued_blob_deletions(
        &self,
        limit: usize,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT blob_key FROM blob_deletions WHERE queued_time <= ?2
                 ORDER BY queued_time LIMIT ?1",
            )?;
            let keys = stmt.query_map(params![limit as i64, now], |r| r.get(0))?;
            Ok(keys.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn files_of_deleted(&self, deleted_since: i64) -> Result<Vec<(u64, String)>, StoreError> {
        self.read(move |conn| {
            // Through objects_deleted; the current file is also its version's.
            let mut stmt = conn.prepare_cached(
                "SELECT o.data_id, o.blob_key FROM objects o
                 WHERE o.state = ?1 AND o.deleted_time >= ?2 AND o.blob_key IS NOT NULL
                 UNION
                 SELECT v.data_id, v.blob_key FROM objects o
                 JOIN object_versions v ON v.data_id = o.data_id
                 WHERE o.state = ?1 AND o.deleted_time >= ?2",
            )?;
            let rows = stmt.query_map(params![State::Deleted as i64, deleted_since], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn file_moved(
        &self,
        data_id: u64,
        key: String,
        moved_to: String,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let id = sql_id(data_id);
            tx.prepare_cached(
                "UPDATE objects SET blob_key = ?3 WHERE data_id = ?1 AND blob_key = ?2",
            )?
            .execute(params![id, key, moved_to])?;
            tx.prepare_cached(
                "UPDATE object_versions SET blob_key = ?3 WHERE data_id = ?1 AND blob_key = ?2",
            )?
            .execute(params![id, key, moved_to])?;
            Ok(())
        })
        .await
    }

    async fn blob_deleted(&self, key: String) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM blob_deletions WHERE blob_key = ?1")?
                .execute([key])?;
            Ok(())
        })
        .await
    }
}

/// Queues the sealed key of every upload key `select` finds: a complete that
/// moved the file but never committed (a crash) left it there, and the delete
/// triggers queue only the key in the row.
pub(super) fn queue_sealed_keys(
    conn: &Connection,
    select: &str,
    params: impl rusqlite::Params,
) -> Result<(), ApiError> {
    let keys: Vec<Option<String>> = conn
        .prepare_cached(select)?
        .query_map(params, |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut queue = conn.prepare_cached(
        "INSERT OR IGNORE INTO blob_deletions (blob_key, queued_time) VALUES (?1, unixepoch())",
    )?;
    for key in keys.iter().flatten() {
        let sealed = blob::sealed_key(key);
        if &sealed != key {
            queue.execute([sealed])?;
        }
    }
    Ok(())
}
