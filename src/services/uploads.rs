//! Uploads (spec 12.3.2.5): prepare creates the object and hands out a signed
//! POST form; complete checks the stored file, then makes the object visible.

use crate::blob::{self, UploadForm};
use crate::domain::prepare::PrepareRequest;
use crate::domain::{Caller, DataId, time};
use crate::error::ApiError;
use crate::services::Services;
use crate::store::{SealedFile, UploadState};
use crate::telemetry;

/// What a prepare made.
pub enum Prepared {
    /// A finished meta-binary-only object: only its data_id goes back.
    MetaOnly(u64),
    /// An object waiting for its file, and the form to upload it with.
    Upload { data_id: u64, form: UploadForm },
}

impl Services {
    /// Creates the object of a `<prepare>`: finished at once when meta-binary
    /// only, else uploading, with the POST form for its file.
    pub async fn prepare_upload(
        &self,
        caller: Caller,
        request: PrepareRequest,
        now: i64,
    ) -> Result<Prepared, ApiError> {
        // A persistence slot's last object may be deleted to make room (DESIGN §7).
        let deletes = request
            .persistence
            .as_ref()
            .is_some_and(|p| p.delete_last_object);
        if request.is_meta_only(self.max_file_size)? {
            let id = self
                .store
                .create_meta_only(caller, request, self.quota, now)
                .await?;
            if deletes {
                self.hide_files_deleted_since(now).await;
            }
            return Ok(Prepared::MetaOnly(id));
        }
        let size = request.size;
        let (data_id, key) = self
            .store
            .create_upload(caller, request, self.quota, now)
            .await?;
        if deletes {
            self.hide_files_deleted_since(now).await;
        }
        let form = self
            .blobs
            .upload_form(&key, size, now, now + self.upload_form_secs);
        Ok(Prepared::Upload { data_id, form })
    }

    /// Completes the upload of `id`: the file must be in storage with the
    /// declared size. `owner`, when given, must be the object's owner. A
    /// repeated complete succeeds again.
    pub async fn complete_upload(
        &self,
        caller: Caller,
        DataId(id): DataId,
        owner: Option<u32>,
        now: i64,
    ) -> Result<(), ApiError> {
        let upload = self
            .store
            .upload_for_complete(caller, id, now, self.upload_timeout_secs)
            .await?;
        let UploadState::Uploading(object) = upload else {
            return Ok(());
        };
        if let Some(owner) = owner
            && owner != object.owner_id
        {
            return Err(ApiError::invalid(format!(
                "owner_id {owner} is not the owner of data_id {id}"
            )));
        }
        let upload_key = object.blob_key.as_deref().unwrap_or_default();
        let file = match self.seal(upload_key, object.size).await? {
            Ok(file) => file,
            Err(Some(size)) => {
                return Err(ApiError::not_allowed(format!(
                    "the file of data_id {id} is {size} bytes, prepare declared {}",
                    object.size
                )));
            }
            Err(None) => {
                return Err(ApiError::not_allowed(format!(
                    "no file has been uploaded for data_id {id}"
                )));
            }
        };
        // The deadline again, from the time the file was found (DESIGN §5).
        let found = time::now();
        self.store
            .finish_upload(id, file, found - self.upload_timeout_secs, found)
            .await?;
        metrics::counter!(telemetry::UPLOADS_COMPLETED).increment(1);
        Ok(())
    }

    /// Moves an uploaded file of `size` bytes from `upload_key`, where its form
    /// put it, to its sealed key, where no form reaches. A file already there
    /// (a complete retried after a crash) is fine. `Err` with the size found
    /// (`None`: no file) when the file is not there with `size` bytes.
    pub(super) async fn seal(
        &self,
        upload_key: &str,
        size: u64,
    ) -> Result<Result<SealedFile, Option<u64>>, ApiError> {
        let key = blob::sealed_key(upload_key);
        let size_of = |k| async move { self.blobs.size_of(k).await.map_err(ApiError::internal) };
        let found = match size_of(upload_key).await? {
            None if key != upload_key => size_of(&key).await?,
            found => found,
        };
        if found != Some(size) {
            return Ok(Err(found));
        }
        if key != upload_key
            && let Err(e) = self.blobs.rename(upload_key, &key).await
        {
            // The janitor of another node may have dropped the upload between
            // the look above and the move: then there is no file to complete.
            // The move may also have gone through before it failed.
            match (size_of(upload_key).await?, size_of(&key).await?) {
                (None, None) => return Ok(Err(None)),
                (_, Some(sealed)) if sealed == size => {}
                _ => return Err(ApiError::internal(e)),
            }
        }
        Ok(Ok(SealedFile {
            upload_key: upload_key.to_owned(),
            key,
        }))
    }
}
