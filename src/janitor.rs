//! The background janitor: drops uploads never completed (with their files) and
//! stale temp files of the local store, in small batches that never block requests.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::time;
use crate::error::ApiError;
use crate::handlers::AppState;

/// Uploads handled per batch.
const BATCH: usize = 100;

/// Runs [`run_once`] every `interval_secs` seconds on the server's runtime.
pub fn spawn(state: Arc<AppState>, interval_secs: u64) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(interval_secs));
        loop {
            tick.tick().await;
            match run_once(&state, time::now()).await {
                Ok(0) => {}
                Ok(n) => log::info!("janitor: dropped {n} uploads never completed"),
                Err(e) => log::error!("janitor: {e}"),
            }
        }
    });
}

/// One pass: every upload older than the timeout goes, file first, then its row,
/// so a crash in between leaves a row the next pass finishes, never a lost file.
pub async fn run_once(state: &AppState, now: i64) -> Result<usize, ApiError> {
    let before = now - state.upload_timeout_secs;
    let mut dropped = 0;
    loop {
        let stale = state.store.stale_uploads(before, BATCH).await?;
        if stale.is_empty() {
            break;
        }
        for (id, key) in &stale {
            if let Some(key) = key {
                state.blobs.delete(key).await.map_err(ApiError::internal)?;
            }
            state.store.drop_upload(*id).await?;
            dropped += 1;
        }
        if stale.len() < BATCH {
            break;
        }
    }
    if let Some(local) = state.blobs.local() {
        local
            .sweep_temp(Duration::from_secs(3600))
            .map_err(ApiError::internal)?;
    }
    Ok(dropped)
}
