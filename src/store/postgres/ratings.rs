//! PENDING: this file is being ported from `store/sqlite/ratings.rs`.

#![allow(unused_variables)]

use async_trait::async_trait;

use crate::store::postgres::PgStore;
use crate::store::postgres::pending;
use crate::store::*;

#[async_trait]
impl Ratings for PgStore {
    async fn rate(
        &self,
        caller: Caller,
        params: Vec<RateParam>,
        now: i64,
    ) -> Result<Vec<RatingTotals>, StoreError> {
        Err(pending())
    }

    async fn reset_ratings(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }
}
