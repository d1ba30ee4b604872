//! Files of objects: completing uploads, counting download references, and
//! dropping uploads never completed.

use rusqlite::params;

use crate::domain::object::State;
use crate::domain::webhook::created_events;
use crate::domain::{Caller, Object, Status};
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::notifications::notify_post;
use crate::store::sqlite::objects::{load, sql_id};
use crate::store::{SealedFile, StoreError, UploadState, Uploads};
use async_trait::async_trait;

#[async_trait]
impl Uploads for SqliteStore {
    async fn upload_for_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<UploadState, StoreError> {
        self.read_bounded(move |conn| {
            let object = load(conn, id)?.ok_or_else(|| ApiError::not_found(id))?;
            Ok(match object.check_complete(&caller, now, timeout)? {
                true => UploadState::Uploading(Box::new(object)),
                false => UploadState::Complete,
            })
        })
        .await
    }

    async fn finish_upload(
        &self,
        id: u64,
        file: SealedFile,
        created_after: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let outbox = self.outbox();
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE objects SET state = ?2, blob_key = ?5
                     WHERE data_id = ?1 AND state = ?3 AND created_time > ?4",
                )?
                .execute(params![
                    sql_id(id),
                    State::Ready as i64,
                    State::Uploading as i64,
                    created_after,
                    file.key
                ])?;
            if changed == 0 {
                return Err(ApiError::new(
                    crate::error::ErrorKind::NotFound,
                    format!("the upload of data_id {id} was not completed in time"),
                ));
            }
            tx.prepare_cached(
                "UPDATE object_versions SET state = 1, blob_key = ?2
                 WHERE data_id = ?1 AND version = 1",
            )?
            .execute(params![sql_id(id), file.key])?;
            if let Some(object) = load(tx, id)? {
                outbox.enqueue_all(tx, created_events(&object, now))?;
                // Posted now, unless under review: then when a title approves it.
                if object.status == Status::None {
                    notify_post(tx, outbox, &object, now)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn refer_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, StoreError> {
        self.write(move |tx| {
            let mut out = Vec::with_capacity(ids.len());
            for &id in &ids {
                let mut object = load(tx, id)?.ok_or_else(|| ApiError::not_found(id))?;
                object.check_file_read(&caller, tx, now)?;
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

    async fn object_with_file(&self, id: u64, now: i64) -> Result<Option<Object>, StoreError> {
        self.read_bounded(move |conn| {
            Ok(load(conn, id)?.filter(|o| o.is_live(now) && o.blob_key.is_some()))
        })
        .await
    }
}
