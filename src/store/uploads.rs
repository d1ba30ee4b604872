//! Files of objects: completing uploads, counting download references, and
//! dropping uploads never completed.

use rusqlite::params;

use crate::domain::object::State;
use crate::domain::{Caller, Object};
use crate::error::ApiError;
use crate::store::Store;
use crate::store::objects::{load, sql_id};

/// Where an upload stands when its complete arrives.
#[derive(Debug)]
pub enum UploadState {
    /// Waiting for complete: the object as prepared.
    Uploading(Box<Object>),
    /// Completed before (a retried complete succeeds again).
    Complete,
}

impl Store {
    /// The upload `id` for `caller` to complete. Only the owner or a title token
    /// sees an upload; one older than `timeout` seconds is gone (DESIGN §5).
    pub async fn upload_for_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<UploadState, ApiError> {
        self.read(move |conn| {
            let object = load(conn, id)?.ok_or_else(|| ApiError::not_found(id))?;
            if object.namespace != caller.namespace || !caller.owns(object.owner_id) {
                return Err(ApiError::not_found(id));
            }
            match object.state {
                State::Ready => {
                    object.check_update(&caller, now)?;
                    Ok(UploadState::Complete)
                }
                State::Deleted => Err(ApiError::not_found(id)),
                State::Uploading if object.created_time.saturating_add(timeout) <= now => {
                    Err(ApiError::new(
                        crate::error::ErrorKind::NotFound,
                        format!("the upload of data_id {id} was not completed in time"),
                    ))
                }
                State::Uploading => Ok(UploadState::Uploading(Box::new(object))),
            }
        })
        .await
    }

    /// Makes an uploaded object visible, if it was created after `created_after`.
    /// The deadline is checked again here, on the writer, so an upload the janitor
    /// may already be dropping (file first) never becomes visible without its file.
    pub async fn finish_upload(&self, id: u64, created_after: i64) -> Result<(), ApiError> {
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE objects SET state = ?2
                     WHERE data_id = ?1 AND state = ?3 AND created_time > ?4",
                )?
                .execute(params![
                    sql_id(id),
                    State::Ready as i64,
                    State::Uploading as i64,
                    created_after
                ])?;
            if changed == 0 {
                return Err(ApiError::new(
                    crate::error::ErrorKind::NotFound,
                    format!("the upload of data_id {id} was not completed in time"),
                ));
            }
            tx.prepare_cached(
                "UPDATE object_versions SET state = 1 WHERE data_id = ?1 AND version = 1",
            )?
            .execute([sql_id(id)])?;
            Ok(())
        })
        .await
    }

    /// Counts a download reference on each object (urlinfo), all or nothing, and
    /// returns them. Objects without a file are InvalidArgument (DESIGN §5).
    pub async fn refer_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, ApiError> {
        self.write(move |tx| {
            let mut out = Vec::with_capacity(ids.len());
            for &id in &ids {
                let mut object = load(tx, id)?.ok_or_else(|| ApiError::not_found(id))?;
                object.check_read(&caller, now)?;
                if !object.has_file() {
                    return Err(ApiError::invalid(format!(
                        "data_id {id} has no file (meta-binary only)"
                    )));
                }
                object.refer(now);
                tx.prepare_cached(
                    "UPDATE objects SET referred_count = ?2, referred_time = ?3, expire_time = ?4
                     WHERE data_id = ?1",
                )?
                .execute(params![
                    sql_id(id),
                    object.referred_count as i64,
                    object.referred_time,
                    object.expire_time
                ])?;
                out.push(object);
            }
            Ok(out)
        })
        .await
    }

    /// A live object with a file, whoever asks (download links carry their own signature).
    pub async fn object_with_file(&self, id: u64, now: i64) -> Result<Option<Object>, ApiError> {
        self.read(
            move |conn| Ok(load(conn, id)?.filter(|o| o.is_live(now) && o.blob_key.is_some())),
        )
        .await
    }
}
