//! The flows that delete objects: delete (spec 12.3.2.3) and the persistence
//! slots that release their object with `delete_last_object`. A delete takes
//! effect at once for downloads too (DESIGN §4): the files of a deleted object
//! move out of reach of every URL handed out for them, to a hidden key where they
//! wait for the purge.

use crate::blob::{self, Blobs};
use crate::domain::Caller;
use crate::error::ApiError;
use crate::services::Services;
use crate::store::Store;

impl Services {
    /// Deletes every id logically, all or nothing, then hides their files.
    pub async fn delete_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, ApiError> {
        let deleted = self.store.delete_objects(caller, ids, now).await?;
        self.hide_files_deleted_since(now).await;
        Ok(deleted)
    }

    /// Puts `data_id` in a persistence slot; the object released from the slot
    /// is deleted (`delete_last_object`) or expires again from now.
    pub async fn perpetuate(
        &self,
        caller: Caller,
        slot: (u32, u16),
        data_id: u64,
        delete_last_object: bool,
        now: i64,
    ) -> Result<(), ApiError> {
        let (principal, slot) = slot;
        self.store
            .perpetuate(caller, principal, slot, data_id, delete_last_object, now)
            .await?;
        if delete_last_object {
            self.hide_files_deleted_since(now).await;
        }
        Ok(())
    }

    /// Empties a persistence slot, releasing its object as [`Self::perpetuate`] does;
    /// returns how many objects were released (0 or 1).
    pub async fn unperpetuate(
        &self,
        caller: Caller,
        slot: (u32, u16),
        delete_last_object: bool,
        now: i64,
    ) -> Result<usize, ApiError> {
        let (principal, slot) = slot;
        let released = self
            .store
            .unperpetuate(caller, principal, slot, delete_last_object, now)
            .await?;
        if delete_last_object && released > 0 {
            self.hide_files_deleted_since(now).await;
        }
        Ok(released)
    }

    /// Hides the files of what was just deleted. The delete is committed whatever
    /// happens here: a file that cannot move now (storage down) is moved by the
    /// janitor's next pass, which looks for the same files.
    pub(super) async fn hide_files_deleted_since(&self, since: i64) {
        if let Err(e) = hide_deleted_files(&self.store, &self.blobs, since).await {
            log::error!("the files of objects deleted at {since} stay in place for now: {e}");
        }
    }
}

/// Moves every file of the objects deleted at or after `since` that is not hidden
/// yet to its hidden key (a rename locally, a server-side copy on S3), then
/// records the move; returns how many moved. Safe to repeat and to run anywhere.
pub async fn hide_deleted_files(
    store: &Store,
    blobs: &Blobs,
    since: i64,
) -> Result<usize, ApiError> {
    let files = store.files_of_deleted(since).await?;
    let mut moved = 0;
    for (data_id, key) in files.into_iter().filter(|(_, key)| !blob::is_hidden(key)) {
        let hidden = blob::hidden_key(&key);
        blobs
            .rename(&key, &hidden)
            .await
            .map_err(ApiError::internal)?;
        store.file_moved(data_id, key, hidden).await?;
        moved += 1;
    }
    Ok(moved)
}
