//! Files of objects: completing uploads, counting download references, and
//! dropping uploads never completed.

use async_trait::async_trait;

use crate::domain::object::State;
use crate::domain::webhook::created_events;
use crate::domain::{Caller, Object, Status};
use crate::error::ApiError;
use crate::store::postgres::friends::known_friends;
use crate::store::postgres::notifications::notify_post;
use crate::store::postgres::objects::{load, load_many};
use crate::store::postgres::webhooks::Outbox;
use crate::store::postgres::{PgError, PgStore, Tx, execute, sql_id};
use crate::store::{SealedFile, StoreError, UploadState, Uploads};

#[async_trait]
impl Uploads for PgStore {
    async fn upload_for_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<UploadState, StoreError> {
        self.read(
            (caller, id, now, timeout),
            |tx, (caller, id, now, timeout)| {
                Box::pin(async move {
                    let object = load(tx, *id)
                        .await?
                        .ok_or_else(|| ApiError::not_found(*id))?;
                    Ok(match object.check_complete(caller, *now, *timeout)? {
                        true => UploadState::Uploading(Box::new(object)),
                        false => UploadState::Complete,
                    })
                })
            },
        )
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
        self.write(
            (id, file, created_after, now),
            move |tx, (id, file, created_after, now)| {
                Box::pin(finish_unit(tx, outbox, *id, file, *created_after, *now))
            },
        )
        .await
    }

    async fn refer_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, StoreError> {
        self.write((caller, ids, now), |tx, (caller, ids, now)| {
            Box::pin(refer_unit(tx, caller, ids, *now))
        })
        .await
    }

    async fn object_with_file(&self, id: u64, now: i64) -> Result<Option<Object>, StoreError> {
        self.read((id, now), |tx, &(id, now)| {
            Box::pin(async move {
                Ok(load(tx, id)
                    .await?
                    .filter(|o| o.is_live(now) && o.blob_key.is_some()))
            })
        })
        .await
    }
}

/// Makes the upload of `id` visible with its sealed file, if it is still
/// uploading and was created after `created_after` (the janitor's deadline,
/// checked here again: the janitor's drop of the same row conflicts with this
/// unit, so exactly one of the two happens).
async fn finish_unit(
    tx: &Tx<'_>,
    outbox: Outbox,
    id: u64,
    file: &SealedFile,
    created_after: i64,
    now: i64,
) -> Result<(), PgError> {
    let changed = execute(
        tx,
        "UPDATE objects SET state = $2, blob_key = $5
         WHERE data_id = $1 AND state = $3 AND created_time > $4",
        &[
            &sql_id(id),
            &(State::Ready as i64),
            &(State::Uploading as i64),
            &created_after,
            &file.key,
        ],
    )
    .await?;
    if changed == 0 {
        return Err(ApiError::new(
            crate::error::ErrorKind::NotFound,
            format!("the upload of data_id {id} was not completed in time"),
        )
        .into());
    }
    execute(
        tx,
        "UPDATE object_versions SET state = 1, blob_key = $2
         WHERE data_id = $1 AND version = 1",
        &[&sql_id(id), &file.key],
    )
    .await?;
    if let Some(object) = load(tx, id).await? {
        outbox.enqueue_all(tx, created_events(&object, now)).await?;
        // Posted now, unless under review: then when a title approves it.
        if object.status == Status::None {
            notify_post(tx, outbox, &object, now).await?;
        }
    }
    Ok(())
}

/// Counts a download reference on each of `ids`, all or nothing: each object is
/// checked in order, and written, before the next one.
async fn refer_unit(
    tx: &Tx<'_>,
    caller: &Caller,
    ids: &[u64],
    now: i64,
) -> Result<Vec<Object>, PgError> {
    let found = load_many(tx, ids).await?;
    let known = known_friends(tx, caller, found.iter().flatten().map(|o| o.owner_id)).await?;
    let mut out: Vec<Object> = Vec::with_capacity(ids.len());
    for (&id, object) in ids.iter().zip(found) {
        let mut object = object.ok_or_else(|| ApiError::not_found(id))?;
        // An id given twice is counted twice, from what the first count wrote.
        if let Some(counted) = out.iter().rev().find(|o| o.data_id == id) {
            object.referred_count = counted.referred_count;
            object.referred_time = counted.referred_time;
            object.expire_time = counted.expire_time;
        }
        object.check_file_read(caller, &known, now)?;
        object.refer(now);
        execute(
            tx,
            "UPDATE objects SET referred_count = $2, referred_time = $3, expire_time = $4
             WHERE data_id = $1",
            &[
                &sql_id(id),
                &(object.referred_count as i64),
                &object.referred_time,
                &object.expire_time,
            ],
        )
        .await?;
        out.push(object);
    }
    Ok(out)
}
