//! PENDING: this file is being ported from `store/sqlite/persistence.rs`.

#![allow(unused_variables)]

use async_trait::async_trait;

use crate::store::postgres::PgStore;
use crate::store::postgres::pending;
use crate::store::*;

#[async_trait]
impl Persistence for PgStore {
    async fn persistence_infos(
        &self,
        caller: Caller,
        principal: u32,
        slots: Vec<u16>,
        now: i64,
    ) -> Result<Vec<PersistenceInfo>, StoreError> {
        Err(pending())
    }

    async fn persistence_info(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        now: i64,
    ) -> Result<PersistenceInfo, StoreError> {
        Err(pending())
    }

    async fn perpetuate(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        data_id: u64,
        delete_last_object: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        Err(pending())
    }

    async fn unperpetuate(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        delete_last_object: bool,
        now: i64,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }
}
