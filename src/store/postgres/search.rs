//! PENDING: this file is being ported from `store/sqlite/search.rs`.

#![allow(unused_variables)]

use async_trait::async_trait;

use crate::store::postgres::PgStore;
use crate::store::postgres::pending;
use crate::store::*;

#[async_trait]
impl Search for PgStore {
    async fn search(
        &self,
        caller: Caller,
        request: SearchRequest,
        now: i64,
    ) -> Result<SearchPage, StoreError> {
        Err(pending())
    }
}
