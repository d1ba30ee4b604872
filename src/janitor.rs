//! The janitor: removes uploads never completed, expired objects, deleted
//! objects past the retention window and old file versions, with their files,
//! and notifications older than 30 days. It runs in the background
//! (`NEXDS_JANITOR_SECS`) and once with `nexds purge`. Each batch is one short
//! transaction on the writer, so requests are never held up for long.
//!
//! Rows go first, their file keys queued in the same transaction; then each file
//! is deleted and its key forgotten. A crash anywhere leaves no row pointing at a
//! missing file and no file that nothing will remove: the next run picks up the queue.

use std::time::Duration;

use crate::blob::Blobs;
use crate::domain::{notification, time};
use crate::error::ApiError;
use crate::services::deletes::hide_deleted_files;
use crate::store::Purged;
use crate::store::Store;
use crate::telemetry;

/// Rows or files per batch.
const BATCH: usize = 100;

/// When things become due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Uploads not completed within this many seconds are dropped.
    pub upload_timeout_secs: i64,
    /// Deleted objects are kept this many seconds before they go for good.
    pub deleted_secs: i64,
    /// Versions that stopped being current are kept this many seconds.
    pub version_secs: i64,
    /// How long an upload form stays valid, in seconds.
    pub upload_form_secs: i64,
}

/// What one run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Files of deleted objects moved out of reach of their download URLs.
    pub hidden: usize,
    pub rows: Purged,
    /// Old versions and version uploads never completed.
    pub versions: usize,
    pub files: usize,
    /// Files at upload keys that no upload can complete with any more.
    pub stale_uploads: usize,
    /// Notifications older than 30 days (DESIGN §15).
    pub notifications: usize,
}

/// Runs a pass every `interval_secs` seconds on the server's runtime. The first
/// looks at every deletion within retention for files still to hide (a crash
/// between a delete and its move); later ones only at deletions since the pass
/// before the last that succeeded.
pub fn spawn(store: Store, blobs: Blobs, retention: Retention, interval_secs: u64) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(interval_secs));
        let mut deleted_since = None;
        loop {
            tick.tick().await;
            // With several nodes, one runs the pass; the others skip it.
            let turn = match store.janitor_turn(false).await {
                Ok(Some(turn)) => turn,
                Ok(None) => {
                    log::debug!("janitor: another node is running its pass");
                    continue;
                }
                Err(e) => {
                    log::error!("janitor: {e}");
                    continue;
                }
            };
            let now = time::now();
            let since = deleted_since.unwrap_or(now - retention.deleted_secs);
            let result = run_pass(&store, &blobs, retention, now, since).await;
            drop(turn);
            match result {
                Ok(report) => {
                    deleted_since = Some(now - 1);
                    if report != Report::default() {
                        log::info!("janitor: {report:?}");
                    }
                }
                Err(e) => log::error!("janitor: {e}"),
            }
        }
    });
}

/// One full pass at `now`: what `nexds purge` runs.
pub async fn run_once(
    store: &Store,
    blobs: &Blobs,
    retention: Retention,
    now: i64,
) -> Result<Report, ApiError> {
    let _turn = store.janitor_turn(true).await?;
    run_pass(store, blobs, retention, now, now - retention.deleted_secs).await
}

/// Hides the files of objects deleted since `deleted_since`, removes every due
/// row, then every queued file and stale upload.
async fn run_pass(
    store: &Store,
    blobs: &Blobs,
    retention: Retention,
    now: i64,
    deleted_since: i64,
) -> Result<Report, ApiError> {
    let mut report = Report {
        hidden: hide_deleted_files(store, blobs, deleted_since).await?,
        rows: purge_rows(store, retention, now).await?,
        versions: purge_versions(store, retention, now).await?,
        files: 0,
        stale_uploads: 0,
        notifications: purge_notifications(store, now).await?,
    };
    report.files = delete_queued_files(store, blobs, now).await?;
    report.stale_uploads = delete_stale_uploads(blobs, now - retention.upload_timeout_secs).await?;
    for (kind, count) in [
        ("uploads", report.rows.uploads),
        ("expired", report.rows.expired),
        ("deleted", report.rows.deleted),
        ("versions", report.versions),
        ("files", report.files),
        ("stale_uploads", report.stale_uploads),
    ] {
        telemetry::janitor_removed(kind, count);
    }
    if let Some(local) = blobs.local() {
        // Nobody writes a temp file that has not changed for a form's lifetime:
        // a body that stalls that long was cut off long before (README, Limits).
        let idle = u64::try_from(retention.upload_form_secs).unwrap_or(0);
        local
            .sweep_temp(Duration::from_secs(idle))
            .map_err(ApiError::internal)?;
    }
    Ok(report)
}

/// Deletes the files at upload keys written before `before`: no upload created
/// before then can still complete, and a completed one has moved its file away
/// (what is left is a replayed form's, or an abandoned upload's).
pub async fn delete_stale_uploads(blobs: &Blobs, before: i64) -> Result<usize, ApiError> {
    let keys = blobs
        .stale_uploads(before)
        .await
        .map_err(ApiError::internal)?;
    for key in &keys {
        blobs.delete(key).await.map_err(ApiError::internal)?;
    }
    Ok(keys.len())
}

/// Removes every due row in batches, queueing their files.
pub async fn purge_rows(store: &Store, retention: Retention, now: i64) -> Result<Purged, ApiError> {
    let mut total = Purged::default();
    loop {
        let batch = store
            .purge_batch(
                now,
                now - retention.upload_timeout_secs,
                now - retention.deleted_secs,
                BATCH,
            )
            .await?;
        total.uploads += batch.uploads;
        total.expired += batch.expired;
        total.deleted += batch.deleted;
        if batch.uploads < BATCH && batch.expired < BATCH && batch.deleted < BATCH {
            return Ok(total);
        }
    }
}

/// Removes notifications older than their retention in batches.
pub async fn purge_notifications(store: &Store, now: i64) -> Result<usize, ApiError> {
    let mut total = 0;
    loop {
        let removed = store
            .purge_notifications(now - notification::RETENTION_SECS, BATCH)
            .await?;
        total += removed;
        if removed < BATCH {
            return Ok(total);
        }
    }
}

/// Removes old versions and abandoned version uploads in batches, queueing their files.
pub async fn purge_versions(
    store: &Store,
    retention: Retention,
    now: i64,
) -> Result<usize, ApiError> {
    let mut total = 0;
    loop {
        let removed = store
            .purge_versions(
                now - retention.upload_timeout_secs,
                now - retention.version_secs,
                BATCH,
            )
            .await?;
        total += removed;
        if removed < BATCH {
            return Ok(total);
        }
    }
}

/// Deletes every queued file that is due at `now`, then forgets it.
pub async fn delete_queued_files(
    store: &Store,
    blobs: &Blobs,
    now: i64,
) -> Result<usize, ApiError> {
    // Rows removed earlier in this pass queued their files at the clock's time,
    // which may have passed `now` meanwhile: those are due too.
    let now = now.max(time::now());
    let mut deleted = 0;
    loop {
        let keys = store.queued_blob_deletions(BATCH, now).await?;
        let last = keys.len() < BATCH;
        for key in keys {
            blobs.delete(&key).await.map_err(ApiError::internal)?;
            store.blob_deleted(key).await?;
            deleted += 1;
        }
        if last {
            return Ok(deleted);
        }
    }
}
