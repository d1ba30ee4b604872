//! PENDING: this file is being ported from `store/sqlite/purge.rs`.

#![allow(unused_variables)]

use async_trait::async_trait;

use crate::store::postgres::PgStore;
use crate::store::postgres::pending;
use crate::store::*;

#[async_trait]
impl Purge for PgStore {
    async fn purge_batch(
        &self,
        now: i64,
        uploads_before: i64,
        deleted_before: i64,
        limit: usize,
    ) -> Result<Purged, StoreError> {
        Err(pending())
    }

    async fn queued_blob_deletions(
        &self,
        limit: usize,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        Err(pending())
    }

    async fn blob_deleted(&self, key: String) -> Result<(), StoreError> {
        Err(pending())
    }

    async fn files_of_deleted(&self, deleted_since: i64) -> Result<Vec<(u64, String)>, StoreError> {
        Err(pending())
    }

    async fn file_moved(
        &self,
        data_id: u64,
        key: String,
        moved_to: String,
    ) -> Result<(), StoreError> {
        Err(pending())
    }
}
