//! File versions (GS2 generations): re-uploading a new file for an object, its
//! history, and making an earlier version current again. The current version is
//! mirrored in `objects` (blob_key, size, version); the history is `object_versions`.

use async_trait::async_trait;

use crate::blob;
use crate::domain::quota::{Quota, Usage};
use crate::domain::webhook::{Event, EventType};
use crate::domain::{Caller, Object, time};
use crate::error::{ApiError, ErrorKind};
use crate::store::postgres::friends::friends_for;
use crate::store::postgres::objects::{load, usage};
use crate::store::postgres::purge::queue_sealed_keys;
use crate::store::postgres::webhooks::Outbox;
use crate::store::postgres::{PgError, PgStore, Tx, execute, one_row, opt_row, rows, sql_id};
use crate::store::{PendingVersion, SealedFile, StoreError, VersionInfo, Versions};

/// The object, checked for a new or restored file.
async fn updatable_with_file(
    tx: &Tx<'_>,
    caller: &Caller,
    id: u64,
    now: i64,
) -> Result<Object, PgError> {
    let object = load(tx, id).await?.ok_or_else(|| ApiError::not_found(id))?;
    let known = friends_for(tx, caller, std::slice::from_ref(&object)).await?;
    object.check_file_update(caller, &known, now)?;
    Ok(object)
}

#[async_trait]
impl Versions for PgStore {
    async fn prepare_version(
        &self,
        caller: Caller,
        id: u64,
        size: u64,
        quota: Quota,
        now: i64,
    ) -> Result<PendingVersion, StoreError> {
        self.write(
            (caller, id, size, quota, now),
            |tx, (caller, id, size, quota, now)| {
                Box::pin(prepare_version(tx, caller, *id, *size, quota, *now))
            },
        )
        .await
    }

    async fn version_to_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<PendingVersion, StoreError> {
        self.read(
            (caller, id, now, timeout),
            |tx, (caller, id, now, timeout)| {
                Box::pin(async move {
                    let (id, now) = (*id, *now);
                    updatable_with_file(tx, caller, id, now).await?;
                    let pending = opt_row(
                        tx,
                        "SELECT version, size, blob_key FROM object_versions
                         WHERE data_id = $1 AND state = 0 AND created_time > $2",
                        &[&sql_id(id), &(now - timeout)],
                    )
                    .await?
                    .map(|r| PendingVersion {
                        version: r.get::<_, i64>(0) as u32,
                        size: r.get::<_, i64>(1) as u64,
                        blob_key: r.get(2),
                    });
                    pending.ok_or_else(|| {
                        PgError::Api(ApiError::new(
                            ErrorKind::NotFound,
                            format!("no new version of data_id {id} is being uploaded"),
                        ))
                    })
                })
            },
        )
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
        self.write(
            (id, pending, file, created_after, now),
            move |tx, (id, pending, file, created_after, now)| {
                Box::pin(async move {
                    let id = *id;
                    let changed = execute(
                        tx,
                        "UPDATE object_versions SET state = 1, blob_key = $4
                         WHERE data_id = $1 AND version = $2 AND state = 0 AND created_time > $3",
                        &[
                            &sql_id(id),
                            &i64::from(pending.version),
                            created_after,
                            &file.key,
                        ],
                    )
                    .await?;
                    if changed == 0 {
                        return Err(PgError::Api(ApiError::new(
                            ErrorKind::NotFound,
                            format!("no new version of data_id {id} is being uploaded"),
                        )));
                    }
                    make_current(
                        tx,
                        outbox,
                        id,
                        pending.version,
                        pending.size,
                        &file.key,
                        *now,
                    )
                    .await
                })
            },
        )
        .await
    }

    async fn versions(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
    ) -> Result<(Object, Vec<VersionInfo>), StoreError> {
        self.read((caller, id, now), |tx, (caller, id, now)| {
            Box::pin(async move {
                let id = *id;
                let object = load(tx, id).await?.ok_or_else(|| ApiError::not_found(id))?;
                let known = friends_for(tx, caller, std::slice::from_ref(&object)).await?;
                object.check_file_read(caller, &known, *now)?;
                let versions = stored_versions(tx, id).await?;
                Ok((object, versions))
            })
        })
        .await
    }

    async fn stored_version(
        &self,
        id: u64,
        version: u32,
    ) -> Result<Option<VersionInfo>, StoreError> {
        self.read((id, version), |tx, &(id, version)| {
            Box::pin(async move {
                Ok(stored_versions(tx, id)
                    .await?
                    .into_iter()
                    .find(|v| v.version == version))
            })
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
        self.write(
            (caller, id, version, now),
            move |tx, (caller, id, version, now)| {
                Box::pin(async move {
                    let (id, version, now) = (*id, *version, *now);
                    let object = updatable_with_file(tx, caller, id, now).await?;
                    let target = stored_versions(tx, id)
                        .await?
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
                    make_current(tx, outbox, id, version, target.size, &target.blob_key, now).await
                })
            },
        )
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
        self.write(
            (id, version, size, blob_key, now),
            move |tx, (id, version, size, blob_key, now)| {
                Box::pin(async move {
                    execute(
                        tx,
                        "UPDATE object_versions SET size = $3 WHERE data_id = $1 AND version = $2",
                        &[&sql_id(*id), &i64::from(*version), &(*size as i64)],
                    )
                    .await?;
                    make_current(tx, outbox, *id, *version, *size, blob_key, *now).await
                })
            },
        )
        .await
    }

    async fn purge_versions(
        &self,
        uploads_before: i64,
        superseded_before: i64,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.write(
            (uploads_before, superseded_before, limit),
            |tx, &(uploads_before, superseded_before, limit)| {
                Box::pin(async move {
                    let limit = limit as i64;
                    // The delete trigger queues the key in each row; the sealed key a
                    // complete may have left behind is queued from what was deleted.
                    let uploads = rows(
                        tx,
                        "DELETE FROM object_versions WHERE (data_id, version) IN
                         (SELECT data_id, version FROM object_versions
                          WHERE state = 0 AND created_time < $1 LIMIT $2)
                         RETURNING blob_key",
                        &[&uploads_before, &limit],
                    )
                    .await?;
                    let keys: Vec<Option<String>> = uploads.iter().map(|r| r.get(0)).collect();
                    queue_sealed_keys(tx, &keys).await?;
                    let superseded = execute(
                        tx,
                        "DELETE FROM object_versions WHERE (data_id, version) IN
                         (SELECT data_id, version FROM object_versions
                          WHERE superseded_time < $1 LIMIT $2)",
                        &[&superseded_before, &limit],
                    )
                    .await?;
                    Ok(uploads.len() + superseded as usize)
                })
            },
        )
        .await
    }
}

async fn prepare_version(
    tx: &Tx<'_>,
    caller: &Caller,
    id: u64,
    size: u64,
    quota: &Quota,
    now: i64,
) -> Result<PendingVersion, PgError> {
    let object = updatable_with_file(tx, caller, id, now).await?;
    if quota.is_on() {
        let before = usage(tx, &object.namespace, object.owner_id, now).await?;
        let bytes = |bytes: u64| Usage {
            bytes,
            ..Usage::default()
        };
        let after = before.replacing(bytes(object.size), bytes(size));
        quota.check(object.owner_id, before, after)?;
    }
    execute(
        tx,
        "DELETE FROM object_versions WHERE data_id = $1 AND state = 0",
        &[&sql_id(id)],
    )
    .await?;
    let last = one_row(
        tx,
        "SELECT coalesce(max(version), 1) FROM object_versions WHERE data_id = $1",
        &[&sql_id(id)],
    )
    .await?
    .get::<_, i64>(0) as u32;
    let version = last + 1;
    let blob_key = blob::upload_key(id, version);
    execute(
        tx,
        "INSERT INTO object_versions (data_id, version, size, blob_key, created_time, state)
         VALUES ($1, $2, $3, $4, $5, 0)",
        &[
            &sql_id(id),
            &i64::from(version),
            &(size as i64),
            &blob_key,
            &now,
        ],
    )
    .await?;
    Ok(PendingVersion {
        version,
        size,
        blob_key,
    })
}

async fn stored_versions(tx: &Tx<'_>, id: u64) -> Result<Vec<VersionInfo>, PgError> {
    let found = rows(
        tx,
        "SELECT version, size, blob_key, created_time FROM object_versions
         WHERE data_id = $1 AND state = 1 ORDER BY version DESC",
        &[&sql_id(id)],
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| VersionInfo {
            version: r.get::<_, i64>(0) as u32,
            size: r.get::<_, i64>(1) as u64,
            blob_key: r.get(2),
            created_time: r.get(3),
        })
        .collect())
}

/// Switches the object to `version`: the old current version starts its
/// retention window, the new one leaves it; a new file is a modification, so
/// updated_time moves and expiry counts again from now (persisted: never).
async fn make_current(
    tx: &Tx<'_>,
    outbox: Outbox,
    id: u64,
    version: u32,
    size: u64,
    blob_key: &str,
    now: i64,
) -> Result<(), PgError> {
    let version_key = i64::from(version);
    execute(
        tx,
        "UPDATE object_versions SET superseded_time = $3
         WHERE data_id = $1 AND version = (SELECT version FROM objects WHERE data_id = $1)
           AND version != $2",
        &[&sql_id(id), &version_key, &now],
    )
    .await?;
    execute(
        tx,
        "UPDATE object_versions SET superseded_time = NULL WHERE data_id = $1 AND version = $2",
        &[&sql_id(id), &version_key],
    )
    .await?;
    execute(
        tx,
        "UPDATE objects SET version = $2, size = $3, blob_key = $4, updated_time = $5,
             expire_time = CASE
                 WHEN EXISTS (SELECT 1 FROM persistence_slots p WHERE p.data_id = $1) THEN $6
                 ELSE LEAST($5 + period * 86400, $6) END
         WHERE data_id = $1",
        &[
            &sql_id(id),
            &version_key,
            &(size as i64),
            &blob_key,
            &now,
            &time::NEVER_EXPIRES,
        ],
    )
    .await?;
    match load(tx, id).await? {
        Some(object) => {
            outbox
                .enqueue(
                    tx,
                    &Event::about(EventType::ObjectUpdated, &object, now).with("version", version),
                )
                .await
        }
        None => Ok(()),
    }
}
