//! PENDING: this file is being ported from `store/sqlite/uploads.rs`.

#![allow(unused_variables)]

use async_trait::async_trait;

use crate::store::postgres::PgStore;
use crate::store::postgres::pending;
use crate::store::*;

#[async_trait]
impl Uploads for PgStore {
    async fn upload_for_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<UploadState, StoreError> {
        Err(pending())
    }

    async fn finish_upload(
        &self,
        id: u64,
        file: SealedFile,
        created_after: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        Err(pending())
    }

    async fn refer_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, StoreError> {
        Err(pending())
    }

    async fn object_with_file(&self, id: u64, now: i64) -> Result<Option<Object>, StoreError> {
        Err(pending())
    }
}
