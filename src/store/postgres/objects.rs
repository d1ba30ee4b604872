//! PENDING: this file is being ported from `store/sqlite/objects.rs`.

#![allow(unused_variables)]

use async_trait::async_trait;

use crate::store::postgres::PgStore;
use crate::store::postgres::pending;
use crate::store::*;

#[async_trait]
impl Objects for PgStore {
    async fn visible_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, StoreError> {
        Err(pending())
    }

    async fn readable_object(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
    ) -> Result<Object, StoreError> {
        Err(pending())
    }

    async fn create_meta_only(
        &self,
        caller: Caller,
        request: PrepareRequest,
        quota: Quota,
        now: i64,
    ) -> Result<u64, StoreError> {
        Err(pending())
    }

    async fn create_upload(
        &self,
        caller: Caller,
        request: PrepareRequest,
        quota: Quota,
        now: i64,
    ) -> Result<(u64, String), StoreError> {
        Err(pending())
    }

    async fn change_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        change: Change,
        quota: Quota,
        now: i64,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    async fn delete_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }
}
