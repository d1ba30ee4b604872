//! Search (spec 12.3.2.4, DESIGN §8). A search is two statements over the same
//! filter, the exact count and the page of data_ids, then the page's objects
//! loaded; all in one read transaction (one snapshot) so the three agree.
//!
//! The planner picks the index a search starts from (schema-postgres.sql: the
//! partial search indexes of live objects, `object_tags_by_tag`); constants are
//! written into the text, not bound, so that a cached statement's generic plan
//! can still use the partial indexes. The visibility of a principal's search
//! reads the objects it was named a recipient of and the owners who list it as a
//! friend once per statement (hashed subplans), not once per row.

use async_trait::async_trait;
use tokio_postgres::types::ToSql;

use crate::domain::object::State;
use crate::domain::search::{Offset, Owners, SearchPage, SearchRequest, SortColumn};
use crate::domain::{Caller, PermissionType};
use crate::error::ApiError;
use crate::store::postgres::objects::{ACCESS, load_many};
use crate::store::postgres::{PgError, PgStore, Tx, one_row, rows};
use crate::store::{Search, StoreError};

#[async_trait]
impl Search for PgStore {
    async fn search(
        &self,
        caller: Caller,
        request: SearchRequest,
        now: i64,
    ) -> Result<SearchPage, StoreError> {
        let random = match request.offset {
            Offset::Any => random_u64()?,
            Offset::At(_) => 0,
        };
        self.read(
            (caller, request, now, random),
            |tx, (caller, request, now, random)| {
                Box::pin(search(tx, caller, request, *now, *random))
            },
        )
        .await
    }
}

/// Runs one search; `random` picks the window of `offset=any`.
pub async fn search(
    tx: &Tx<'_>,
    caller: &Caller,
    request: &SearchRequest,
    now: i64,
    random: u64,
) -> Result<SearchPage, PgError> {
    // The read transaction (PgStore::read) keeps count, page and objects in agreement.
    let mut query = SearchSql::new(caller, request, now);
    let total: i64 = one_row(tx, &query.count(), &query.params()).await?.get(0);
    let total = total as u64;
    let offset = request.offset.resolve(total, request.limit, random);
    let mut objects = Vec::new();
    if offset < total {
        // Offsets are signed; no search has that many matches anyway.
        let start = i64::try_from(offset).unwrap_or(i64::MAX);
        let page = query.page(request, i64::from(request.limit), start);
        let ids: Vec<u64> = rows(tx, &page, &query.params())
            .await?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect();
        // The page's objects in one statement, in the page's order.
        objects = load_many(tx, &ids).await?.into_iter().flatten().collect();
    }
    Ok(SearchPage {
        objects,
        offset,
        total,
    })
}

fn random_u64() -> Result<u64, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The WHERE of one search with its parameters, numbered `$1…` as they are bound.
struct SearchSql {
    conditions: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl SearchSql {
    fn new(caller: &Caller, request: &SearchRequest, now: i64) -> Self {
        let mut sql = SearchSql {
            conditions: Vec::new(),
            params: Vec::new(),
        };
        // What every caller is limited to: its namespace, finished, unexpired
        // objects of one status (DESIGN §8, Object::check_read). The state is
        // written in: the search indexes hold live objects only.
        let namespace = sql.bind(caller.namespace.clone());
        sql.conditions.push(format!("o.namespace = {namespace}"));
        sql.conditions
            .push(format!("o.state = {}", State::Ready as i64));
        let status = sql.bind(request.status as i64);
        sql.conditions.push(format!("o.status = {status}"));
        let now = sql.bind(now);
        sql.conditions.push(format!("o.expire_time > {now}"));
        if let Some(me) = caller.principal {
            // Object::check_read for a non-title caller: the owner, public, a
            // recipient of specified, a friend of the owner (in the owner's list)
            // for friend, both for specified_friend. Each subquery does not depend
            // on the row: it runs once and is probed by hash.
            let me = sql.bind(i64::from(me));
            let recipient = format!(
                "o.data_id IN (SELECT r.data_id FROM object_recipients r \
                 WHERE r.principal_id = {me} AND r.kind = {ACCESS})"
            );
            let friend = format!(
                "o.owner_id IN (SELECT f.owner_id FROM friends f \
                 WHERE f.namespace = {namespace} AND f.friend_id = {me})"
            );
            sql.conditions.push(format!(
                "(o.owner_id = {me} OR o.access_type = {public} \
                 OR (o.access_type = {specified} AND {recipient}) \
                 OR (o.access_type = {friend_type} AND {friend}) \
                 OR (o.access_type = {specified_friend} AND {recipient} AND {friend}))",
                public = PermissionType::Public as i64,
                specified = PermissionType::Specified as i64,
                friend_type = PermissionType::Friend as i64,
                specified_friend = PermissionType::SpecifiedFriend as i64,
            ));
        }
        if let Some(data_type) = request.data_type {
            let data_type = sql.bind(i64::from(data_type));
            sql.conditions.push(format!("o.data_type = {data_type}"));
        }
        let owner_ids = |ids: &[u32]| ids.iter().map(|&id| i64::from(id)).collect::<Vec<i64>>();
        match &request.owners {
            Owners::Anybody => {}
            Owners::Only(ids) => {
                let ids = sql.bind(owner_ids(ids));
                sql.conditions.push(format!("o.owner_id = ANY({ids})"));
            }
            Owners::AllBut(ids) => {
                let ids = sql.bind(owner_ids(ids));
                sql.conditions
                    .push(format!("NOT (o.owner_id = ANY({ids}))"));
            }
        }
        if let Some(name) = &request.name {
            let name = sql.bind(name.clone());
            sql.conditions.push(format!("o.name = {name}"));
        }
        for tag in &request.tags {
            let tag = sql.bind(tag.clone());
            sql.conditions.push(format!(
                "EXISTS (SELECT 1 FROM object_tags x WHERE x.data_id = o.data_id \
                 AND x.tag = {tag})"
            ));
        }
        let ranges = [
            ("o.created_time >=", request.created.after),
            ("o.created_time <=", request.created.before),
            ("o.updated_time >=", request.updated.after),
            ("o.updated_time <=", request.updated.before),
        ];
        for (column, value) in ranges {
            if let Some(value) = value {
                let value = sql.bind(value);
                sql.conditions.push(format!("{column} {value}"));
            }
        }
        sql
    }

    /// Binds `value` as the next parameter; returns its placeholder.
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn filter(&self) -> String {
        self.conditions.join(" AND ")
    }

    fn count(&self) -> String {
        format!("SELECT count(*) FROM objects o WHERE {}", self.filter())
    }

    /// The page's data_ids, sorted, with data_id breaking ties in the same
    /// direction; binds the window after the filter's parameters. Names sort by
    /// their bytes, as in SQLite.
    fn page(&mut self, request: &SearchRequest, limit: i64, offset: i64) -> String {
        let direction = if request.sort.descending {
            "DESC"
        } else {
            "ASC"
        };
        let column = match request.sort.column {
            SortColumn::DataId => "o.data_id",
            SortColumn::Size => "o.size",
            SortColumn::Name => "o.name COLLATE \"C\"",
            SortColumn::Type => "o.data_type",
            SortColumn::CreatedTime => "o.created_time",
            SortColumn::UpdatedTime => "o.updated_time",
            SortColumn::OwnerId => "o.owner_id",
        };
        let order = match request.sort.column {
            SortColumn::DataId => format!("{column} {direction}"),
            _ => format!("{column} {direction}, o.data_id {direction}"),
        };
        let filter = self.filter();
        let limit = self.bind(limit);
        let offset = self.bind(offset);
        format!(
            "SELECT o.data_id FROM objects o WHERE {filter} ORDER BY {order} \
             LIMIT {limit} OFFSET {offset}"
        )
    }

    /// The bound parameters, in order.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}
