//! File versions (GS2 generations): re-uploading a new file for an object, its
//! history, and making an earlier version current again. The current version is
//! mirrored in `objects` (blob_key, size, version); the history is `object_versions`.

use rusqlite::{Connection, OptionalExtension, params};

use crate::blob;
use crate::domain::quota::{Quota, Usage};
use crate::domain::webhook::{Event, EventType};
use crate::domain::{Caller, Object, time};
use crate::error::{ApiError, ErrorKind};
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::objects::{load, sql_id, usage};
use crate::store::sqlite::purge::queue_sealed_keys;
use crate::store::sqlite::webhooks::Outbox;
use crate::store::{PendingVersion, SealedFile, StoreError, VersionInfo, Versions};
use async_trait::async_trait;

/// The object, checked for a new or restored file.
fn updatable_with_file(
    conn: &Connection,
    caller: &Caller,
    id: u64,
    now: i64,
) -> Result<Object, ApiError> {
    let object = load(conn, id)?.ok_or_else(|| ApiError::not_found(id))?;
    object.check_file_update(caller, conn, now)?;
    Ok(object)
}

#[async_trait]
impl Versions for SqliteStore {
    async fn prepare_version(
        &self,
        caller: Caller,
        id: u64,
        size: u64,
        quota: Quota,
        now: i64,
    ) -> Result<PendingVersion, StoreError> {
        self.write(move |tx| {
            let object = updatable_with_file(tx, &caller, id, now)?;
            if quota.is_on() {
                let before = usage(tx, &object.namespace, object.owner_id, now)?;
                let bytes = |bytes: u64| Usage {
                    bytes,
                    ..Usage::default()
                };
                let after = before.replacing(bytes(object.size), bytes(size));
                quota.check(object.owner_id, before, after)?;
            }
            tx.prepare_cached("DELETE FROM object_versions WHERE data_id = ?1 AND state = 0")?
                .execute([sql_id(id)])?;
            let last: u32 = tx
                .prepare_cached(
                    "SELECT coalesce(max(version), 1) FROM object_versions WHERE data_id = ?1",
                )?
                .query_row([sql_id(id)], |r| r.get(0))?;
            let version = last + 1;
            let blob_key = blob::upload_key(id, version);
            tx.prepare_cached(
                "INSERT INTO object_versions (data_id, version, size, blob_key, created_time, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            )?
            .execute(params![sql_id(id), version, size as i64, blob_key, now])?;
            Ok(PendingVersion {
                version,
                size,
                blob_key,
            })
        })
        .await
    }

    async fn version_to_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<PendingVersion, StoreError> {
        self.read_bounded(move |conn| {
            updatable_with_file(conn, &caller, id, now)?;
            let pending = conn
                .prepare_cached(
                    "SELECT version, size, blob_key FROM object_versions
                     WHERE data_id = ?1 AND state = 0 AND created_time > ?2",
                )?
                .query_row(params![sql_id(id), now - timeout], |r| {
                    Ok(PendingVersion {
                        version: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        blob_key: r.get(2)?,
                    })
                })
                .optional()?;
            pending.ok_or_else(|| {
                ApiError::new(
                    ErrorKind::NotFound,
                    format!("no new version of data_id {id} is being uploaded"),
                )
            })
        })
        .await
    }

    async fn finish_version(
        &self,
        id: u64,
        pending: PendingVersion,
        file: SealedFile,
        created_after: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let outbox = self.outbox();
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE object_versions SET state = 1, blob_key = ?4
                     WHERE data_id = ?1 AND version = ?2 AND state = 0 AND created_time > ?3",
                )?
                .execute(params![
                    sql_id(id),
                    pending.version,
                    created_after,
                    file.key
                ])?;
            if changed == 0 {
                return Err(ApiError::new(
                    ErrorKind::NotFound,
                    format!("no new version of data_id {id} is being uploaded"),
                ));
            }
            make_current(
                tx,
                outbox,
                id,
                pending.version,
                pending.size,
                &file.key,
                now,
            )
        })
        .await
    }

    async fn versions(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
    ) -> Result<(Object, Vec<VersionInfo>), StoreError> {
        self.read(move |conn| {
            let object = load(conn, id)?.ok_or_else(|| ApiError::not_found(id))?;
            object.check_file_read(&caller, conn, now)?;
            let versions = stored_versions(conn, id)?;
            Ok((object, versions))
        })
        .await
    }

    async fn stored_version(
        &self,
        id: u64,
        version: u32,
    ) -> Result<Option<VersionInfo>, StoreError> {
        self.read_bounded(move |conn| {
            Ok(stored_versions(conn, id)?
                .into_iter()
                .find(|v| v.version == version))
        })
        .await
    }

    async fn restore_version(
        &self,
        caller: Caller,
        id: u64,
        version: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        let outbox = self.outbox();
        self.write(move |tx| {
            let object = updatable_with_file(tx, &caller, id, now)?;
            let target = stored_versions(tx, id)?
                .into_iter()
                .find(|v| v.version == version)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::NotFound,
                        format!("data_id {id} has no stored version {version}"),
                    )
                })?;
            if object.version == version {
                return Ok(());
            }
            make_current(tx, outbox, id, version, target.size, &target.blob_key, now)
        })
        .await
    }

    async fn reconcile_version(
        &self,
        id: u64,
        version: u32,
        size: u64,
        blob_key: String,
        now: i64,
    ) -> Result<(), StoreError> {
        let outbox = self.outbox();
        self.write(move |tx| {
            tx.prepare_cached(
                "UPDATE object_versions SET size = ?3 WHERE data_id = ?1 AND version = ?2",
            )?
            .execute(params![sql_id(id), version, size as i64])?;
            make_current(tx, outbox, id, version, size, &blob_key, now)
        })
        .await
    }

    async fn purge_versions(
        &self,
        uploads_before: i64,
        superseded_before: i64,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.write(move |tx| {
            queue_sealed_keys(
                tx,
                "SELECT blob_key FROM object_versions
                 WHERE state = 0 AND created_time < ?1 LIMIT ?2",
                params![uploads_before, limit as i64],
            )?;
            let uploads = tx
                .prepare_cached(
                    "DELETE FROM object_versions WHERE (data_id, version) IN
                     (SELECT data_id, version FROM object_versions
                      WHERE state = 0 AND created_time < ?1 LIMIT ?2)",
                )?
                .execute(params![uploads_before, limit as i64])?;
            let superseded = tx
                .prepare_cached(
                    "DELETE FROM object_versions WHERE (data_id, version) IN
                     (SELECT data_id, version FROM object_versions
                      WHERE superseded_time < ?1 LIMIT ?2)",
                )?
                .execute(params![superseded_before, limit as i64])?;
            Ok(uploads + superseded)
        })
        .await
    }
}

fn stored_versions(conn: &Connection, id: u64) -> Result<Vec<VersionInfo>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, size, blob_key, created_time FROM object_versions
         WHERE data_id = ?1 AND state = 1 ORDER BY version DESC",
    )?;
    let rows = stmt.query_map([sql_id(id)], |r| {
        Ok(VersionInfo {
            version: r.get(0)?,
            size: r.get::<_, i64>(1)? as u64,
            blob_key: r.get(2)?,
            created_time: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Switches the object to `version`: the old current version starts its
/// retention window, the new one leaves it; a new file is a modification, so
/// updated_time moves and expiry counts again from now (persisted: never).
fn make_current(
    conn: &Connection,
    outbox: Outbox,
    id: u64,
    version: u32,
    size: u64,
    blob_key: &str,
    now: i64,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "UPDATE object_versions SET superseded_time = ?3
         WHERE data_id = ?1 AND version = (SELECT version FROM objects WHERE data_id = ?1)
           AND version != ?2",
    )?
    .execute(params![sql_id(id), version, now])?;
    conn.prepare_cached(
        "UPDATE object_versions SET superseded_time = NULL WHERE data_id = ?1 AND version = ?2",
    )?
    .execute(params![sql_id(id), version])?;
    conn.prepare_cached(
        "UPDATE objects SET version = ?2, size = ?3, blob_key = ?4, updated_time = ?5,
             expire_time = CASE
                 WHEN EXISTS (SELECT 1 FROM persistence_slots p WHERE p.data_id = ?1) THEN ?6
                 ELSE min(?5 + period * 86400, ?6) END
         WHERE data_id = ?1",
    )?
    .execute(params![
        sql_id(id),
        version,
        size as i64,
        blob_key,
        now,
        time::NEVER_EXPIRES
    ])?;
    match load(conn, id)? {
        Some(object) => outbox.enqueue(
            conn,
            &Event::about(EventType::ObjectUpdated, &object, now).with("version", version),
        ),
        None => Ok(()),
    }
}
