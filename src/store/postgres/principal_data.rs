//! PENDING: this file is being ported from `store/sqlite/principal_data.rs`.

#![allow(unused_variables)]

use async_trait::async_trait;

use crate::store::postgres::PgStore;
use crate::store::postgres::pending;
use crate::store::*;

#[async_trait]
impl Principals for PgStore {
    async fn owned_objects(
        &self,
        namespace: String,
        owner: u32,
        filter: Listed,
        after: u64,
        limit: usize,
        window: ListWindow,
    ) -> Result<OwnedPage, StoreError> {
        Err(pending())
    }

    async fn principal_data(
        &self,
        namespace: String,
        principal: u32,
    ) -> Result<PrincipalData, StoreError> {
        Err(pending())
    }

    async fn erase_principal(
        &self,
        namespace: String,
        principal: u32,
        now: i64,
        form_secs: i64,
    ) -> Result<(Erased, Vec<QueuedFile>), StoreError> {
        Err(pending())
    }
}
