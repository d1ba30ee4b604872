//! What the janitor removes for good: uploads never completed, expired objects,
//! and deleted objects past the retention window. Rows go in bounded batches, their
//! files are queued in `blob_deletions` in the same transaction (an outbox).
//!
//! Every node runs the janitor. Each batch is one `SERIALIZABLE` unit of work: two
//! nodes that pick the same rows conflict, one commits and the other runs again on
//! a fresh snapshot, so a row is removed, and its file queued, exactly once. A
//! queued file may be deleted by two nodes (harmless); its entry goes only after a
//! delete, so none is lost.

use async_trait::async_trait;

use crate::blob;
use crate::domain::object::State;
use crate::store::postgres::{PgError, PgStore, Tx, execute, rows, sql_id};
use crate::store::{Purge, Purged, StoreError};

/// The current time as SQLite's `unixepoch()` (whole seconds, truncated).
const UNIXEPOCH: &str = "floor(extract(epoch FROM clock_timestamp()))::bigint";

#[async_trait]
impl Purge for PgStore {
    async fn purge_batch(
        &self,
        now: i64,
        uploads_before: i64,
        deleted_before: i64,
        limit: usize,
    ) -> Result<Purged, StoreError> {
        self.write(
            (now, uploads_before, deleted_before, limit),
            |tx, &(now, uploads_before, deleted_before, limit)| {
                Box::pin(purge_batch(tx, now, uploads_before, deleted_before, limit))
            },
        )
        .await
    }

    async fn queued_blob_deletions(
        &self,
        limit: usize,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.read((limit, now), |tx, &(limit, now)| {
            Box::pin(async move {
                let keys = rows(
                    tx,
                    "SELECT blob_key FROM blob_deletions WHERE queued_time <= $2
                     ORDER BY queued_time LIMIT $1",
                    &[&(limit as i64), &now],
                )
                .await?;
                Ok(keys.iter().map(|r| r.get(0)).collect())
            })
        })
        .await
    }

    async fn files_of_deleted(&self, deleted_since: i64) -> Result<Vec<(u64, String)>, StoreError> {
        self.read(deleted_since, |tx, &deleted_since| {
            Box::pin(async move {
                // Through objects_deleted; the current file is also its version's.
                // In the order of SQLite's UNION: by data_id, then key byte by byte.
                let found = rows(
                    tx,
                    "SELECT data_id, blob_key FROM
                     (SELECT o.data_id, o.blob_key FROM objects o
                      WHERE o.state = $1 AND o.deleted_time >= $2 AND o.blob_key IS NOT NULL
                      UNION
                      SELECT v.data_id, v.blob_key FROM objects o
                      JOIN object_versions v ON v.data_id = o.data_id
                      WHERE o.state = $1 AND o.deleted_time >= $2) f
                     ORDER BY data_id, blob_key COLLATE \"C\"",
                    &[&(State::Deleted as i64), &deleted_since],
                )
                .await?;
                Ok(found
                    .iter()
                    .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
                    .collect())
            })
        })
        .await
    }

    async fn file_moved(
        &self,
        data_id: u64,
        key: String,
        moved_to: String,
    ) -> Result<(), StoreError> {
        self.write((data_id, key, moved_to), |tx, (data_id, key, moved_to)| {
            Box::pin(async move {
                let id = sql_id(*data_id);
                execute(
                    tx,
                    "UPDATE objects SET blob_key = $3 WHERE data_id = $1 AND blob_key = $2",
                    &[&id, key, moved_to],
                )
                .await?;
                execute(
                    tx,
                    "UPDATE object_versions SET blob_key = $3
                         WHERE data_id = $1 AND blob_key = $2",
                    &[&id, key, moved_to],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn blob_deleted(&self, key: String) -> Result<(), StoreError> {
        self.write(key, |tx, key| {
            Box::pin(async move {
                execute(tx, "DELETE FROM blob_deletions WHERE blob_key = $1", &[key]).await?;
                Ok(())
            })
        })
        .await
    }
}

async fn purge_batch(
    tx: &Tx<'_>,
    now: i64,
    uploads_before: i64,
    deleted_before: i64,
    limit: usize,
) -> Result<Purged, PgError> {
    let limit = limit as i64;
    let mut purged = Purged::default();
    let kinds: [(&str, i64, i64, &mut usize); 3] = [
        (
            "state = $1 AND created_time < $2",
            State::Uploading as i64,
            uploads_before,
            &mut purged.uploads,
        ),
        (
            "state = $1 AND expire_time <= $2",
            State::Ready as i64,
            now,
            &mut purged.expired,
        ),
        (
            "state = $1 AND deleted_time < $2",
            State::Deleted as i64,
            deleted_before,
            &mut purged.deleted,
        ),
    ];
    // The delete triggers queue each file (schema-postgres.sql); the sealed keys of
    // the uploads are queued from what was deleted.
    for (filter, state, bound, count) in kinds {
        let deleted = rows(
            tx,
            &format!(
                "DELETE FROM objects WHERE data_id IN
                 (SELECT data_id FROM objects WHERE {filter} ORDER BY data_id LIMIT $3)
                 RETURNING blob_key"
            ),
            &[&state, &bound, &limit],
        )
        .await?;
        if state == State::Uploading as i64 {
            let keys: Vec<Option<String>> = deleted.iter().map(|r| r.get(0)).collect();
            queue_sealed_keys(tx, &keys).await?;
        }
        *count = deleted.len();
    }
    Ok(purged)
}

/// Queues the sealed key of every upload key in `keys`: a complete that moved the
/// file but never committed (a crash) left it there, and the delete triggers
/// queue only the key in the row.
pub(super) async fn queue_sealed_keys(tx: &Tx<'_>, keys: &[Option<String>]) -> Result<(), PgError> {
    let sealed: Vec<String> = keys
        .iter()
        .flatten()
        .filter_map(|key| {
            let sealed = blob::sealed_key(key);
            (&sealed != key).then_some(sealed)
        })
        .collect();
    if sealed.is_empty() {
        return Ok(());
    }
    execute(
        tx,
        &format!(
            "INSERT INTO blob_deletions (blob_key, queued_time)
             SELECT k, {UNIXEPOCH} FROM unnest($1::text[]) AS k
             ON CONFLICT (blob_key) DO NOTHING"
        ),
        &[&sealed],
    )
    .await?;
    Ok(())
}
