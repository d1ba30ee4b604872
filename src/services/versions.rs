//! File versions (GS2 generations and restoreDataObject): re-upload with a
//! prepare-style form, complete, restore an earlier version, and reconcile an
//! object with what storage really holds.

use crate::blob::UploadForm;
use crate::domain::{Caller, DataId, Version};
use crate::error::ApiError;
use crate::services::Services;
use crate::telemetry;

/// The version an object has now, and the size of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    pub version: u32,
    pub size: u64,
}

impl Services {
    /// A POST form for the next version of `id`; the current one stays
    /// downloadable meanwhile.
    pub async fn prepare_version(
        &self,
        caller: Caller,
        DataId(id): DataId,
        size: u64,
        now: i64,
    ) -> Result<(u32, UploadForm), ApiError> {
        if size == 0 || size > self.max_file_size {
            return Err(ApiError::invalid(format!(
                "size {size} is out of range 1..={}",
                self.max_file_size
            )));
        }
        let pending = self
            .store
            .prepare_version(caller, id, size, self.quota, now)
            .await?;
        let form =
            self.blobs
                .upload_form(&pending.blob_key, size, now, now + self.upload_form_secs);
        Ok((pending.version, form))
    }

    /// Checks the new version's file, then makes it current.
    pub async fn complete_version(
        &self,
        caller: Caller,
        DataId(id): DataId,
        now: i64,
    ) -> Result<Current, ApiError> {
        let pending = self
            .store
            .version_to_complete(caller, id, now, self.upload_timeout_secs)
            .await?;
        let Ok(file) = self.seal(&pending.blob_key, pending.size).await? else {
            return Err(ApiError::not_allowed(format!(
                "version {} of data_id {id} has not been uploaded with its {} bytes",
                pending.version, pending.size
            )));
        };
        let current = Current {
            version: pending.version,
            size: pending.size,
        };
        self.store
            .finish_version(id, pending, file, now - self.upload_timeout_secs, now)
            .await?;
        metrics::counter!(telemetry::UPLOADS_COMPLETED).increment(1);
        Ok(current)
    }

    /// Makes a stored earlier version current again.
    pub async fn restore_version(
        &self,
        caller: Caller,
        DataId(id): DataId,
        Version(version): Version,
        now: i64,
    ) -> Result<Current, ApiError> {
        self.store
            .restore_version(caller.clone(), id, version, now)
            .await?;
        let (object, _) = self.store.versions(caller, id, now).await?;
        Ok(Current {
            version: object.version,
            size: object.size,
        })
    }

    /// GS2 restoreDataObject, title token only: sets the object's version and
    /// size to what storage really holds: the current file's real size, or else
    /// the newest earlier version still stored.
    pub async fn reconcile_with_storage(
        &self,
        caller: Caller,
        DataId(id): DataId,
        now: i64,
    ) -> Result<Current, ApiError> {
        if !caller.is_title() {
            return Err(ApiError::permission_denied(
                "only a title token may restore data objects",
            ));
        }
        let (object, versions) = self.store.versions(caller, id, now).await?;
        let current = object.blob_key.clone().unwrap_or_default();
        let mut candidates = vec![(object.version, current)];
        candidates.extend(
            versions
                .into_iter()
                .filter(|v| v.version != object.version)
                .map(|v| (v.version, v.blob_key)),
        );
        for (version, key) in candidates {
            let size = self.blobs.size_of(&key).await.map_err(ApiError::internal)?;
            if let Some(size) = size {
                if version != object.version || size != object.size {
                    log::info!("restore: data_id {id} is now version {version}, {size} bytes");
                    self.store
                        .reconcile_version(id, version, size, key, now)
                        .await?;
                }
                return Ok(Current { version, size });
            }
        }
        Err(ApiError::not_allowed(format!(
            "no file of data_id {id} is in storage"
        )))
    }
}
