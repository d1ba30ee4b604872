//! PENDING: this file is being ported from `store/sqlite/versions.rs`.

#![allow(unused_variables)]

use async_trait::async_trait;

use crate::store::postgres as pg;
use crate::store::postgres::PgStore;
use crate::store::*;

#[async_trait]
impl Versions for PgStore {
    async fn prepare_version(
        &self,
        caller: Caller,
        id: u64,
        size: u64,
        quota: Quota,
        now: i64,
    ) -> Result<PendingVersion, StoreError> {
        Err(pg::pending())
    }

    async fn version_to_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<PendingVersion, StoreError> {
        Err(pg::pending())
    }

    async fn finish_version(
        &self,
        id: u64,
        pending: PendingVersion,
        file: SealedFile,
        created_after: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        Err(pg::pending())
    }

    async fn versions(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
    ) -> Result<(Object, Vec<VersionInfo>), StoreError> {
        Err(pg::pending())
    }

    async fn stored_version(
        &self,
        id: u64,
        version: u32,
    ) -> Result<Option<VersionInfo>, StoreError> {
        Err(pg::pending())
    }

    async fn restore_version(
        &self,
        caller: Caller,
        id: u64,
        version: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        Err(pg::pending())
    }

    async fn reconcile_version(
        &self,
        id: u64,
        version: u32,
        size: u64,
        blob_key: String,
        now: i64,
    ) -> Result<(), StoreError> {
        Err(pg::pending())
    }

    async fn purge_versions(
        &self,
        uploads_before: i64,
        superseded_before: i64,
        limit: usize,
    ) -> Result<usize, StoreError> {
        Err(pg::pending())
    }
}
