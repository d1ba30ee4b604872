//! Search (spec 12.3.2.4, DESIGN §8). A search is two statements over the same
//! filter, the exact count and the page of data_ids, driven by the search index
//! of its most selective filter (schema.sql, version 2), then the page's objects
//! loaded; all in the caller's read transaction so the three agree.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use crate::domain::object::State;
use crate::domain::search::{
    Offset, Owners, SearchPage, SearchRequest, Sort, SortColumn, TimeRange,
};
use crate::domain::{Caller, PermissionType};
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::objects::{ACCESS, load_showing};
use crate::store::{Search, StoreError};
use async_trait::async_trait;

#[async_trait]
impl Search for SqliteStore {
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
        let bounded = is_bounded(&request);
        let unit = move |conn: &Connection| search(conn, &caller, &request, now, random);
        if bounded {
            self.read_bounded(unit).await
        } else {
            self.read(unit).await
        }
    }
}

/// Whether the work of a search is bounded by its answer rather than by the
/// data: its total comes from `search_counts` (a principal's own part from
/// small indexed sets) and its window is near the start of its matches, so
/// its page walks at most about `sqrt(window × objects)` index entries
/// ([`Counted::page_driver`]). Such a search may run on the worker that took
/// the request ([`SqliteStore::read_bounded`]).
fn is_bounded(request: &SearchRequest) -> bool {
    const WINDOW_END: u64 = 1000;
    Counted::of(request).is_some()
        && matches!(request.offset, Offset::At(at) if at.saturating_add(u64::from(request.limit)) <= WINDOW_END)
}

/// Runs one search; `random` picks the window of `offset=any`.
pub fn search(
    conn: &Connection,
    caller: &Caller,
    request: &SearchRequest,
    now: i64,
    random: u64,
) -> Result<SearchPage, ApiError> {
    // The caller's read transaction (Store::read) keeps count, page and objects in agreement.
    let counted = Counted::of(request);
    let total = match &counted {
        Some(counted) => counted.total(conn, caller, request, now)?,
        None => {
            let query = SearchSql::new(caller, request, now);
            let total: i64 = conn
                .prepare_cached(&query.count())?
                .query_row(&*query.params(&[]), |r| r.get(0))?;
            total as u64
        }
    };
    let offset = request.offset.resolve(total, request.limit, random);
    let mut objects = Vec::new();
    if offset < total {
        let end = total.min(offset.saturating_add(u64::from(request.limit)));
        let seek = match &counted {
            Some(counted) if Counted::seeks(caller, request, offset, end, total) => {
                counted.seek(conn, caller, request, now, offset..end, total)?
            }
            _ => None,
        };
        let ids = match seek {
            Some(ids) => ids,
            None => skip_to(conn, caller, request, now, &counted, offset, end, total)?,
        };
        objects = load_showing(conn, &ids, request.shown)?;
    }
    Ok(SearchPage {
        objects,
        offset,
        total,
    })
}

/// The data_ids of matches `offset..end` of `total`, by skipping the ones before
/// in the page's own order. Past the middle, the window is read from the other
/// end: fewer rows skipped, and as exact, since total is.
#[allow(clippy::too_many_arguments)]
fn skip_to(
    conn: &Connection,
    caller: &Caller,
    request: &SearchRequest,
    now: i64,
    counted: &Option<Counted>,
    offset: u64,
    end: u64,
    total: u64,
) -> Result<Vec<u64>, ApiError> {
    let reversed = offset > total / 2;
    let skip = if reversed { total - end } else { offset };
    let driver = match counted {
        Some(counted) => counted.page_driver(conn, request, skip + (end - offset), total)?,
        None => Driver::of(request),
    };
    let query = SearchSql::driven_by(driver, caller, request, now);
    // SQLite offsets are signed; no search has that many matches anyway.
    let page = [
        (":limit", Value::from((end - offset) as i64)),
        (
            ":offset",
            Value::from(i64::try_from(skip).unwrap_or(i64::MAX)),
        ),
    ];
    let mut stmt = conn.prepare_cached(&query.page(request, reversed))?;
    let mut ids: Vec<u64> = stmt
        .query_map(&*query.params(&page), |r| r.get::<_, i64>(0))?
        .map(|id| id.map(|id| id as u64))
        .collect::<Result<_, _>>()?;
    if reversed {
        ids.reverse();
    }
    Ok(ids)
}

/// A search whose total comes from `search_counts` (schema.sql, version 5): no
/// filter but status, one data_type or one tag.
struct Counted {
    kind: i64,
    key: Value,
}

/// The buckets of `search_counts`: hours and days.
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// `search_blocks` holds blocks of `1 << BLOCK_BITS` data_ids (schema.sql).
const BLOCK_BITS: u32 = 14;
/// Windows nearer than this to an end of the matches skip to it; further ones seek.
const SEEK_AFTER: u64 = 1000;
/// At most this many objects expiring between the horizon and now are looked at
/// one by one; more, and the search skips instead of seeking.
const HORIZON_LAG_MAX: usize = 2000;

/// Objects a move of the horizon by the janitor takes off at most: a pass after
/// a long stop stays a short transaction, and the next passes go on.
const HORIZON_STEP: i64 = 500;

/// Moves the horizon of `search_blocks` up towards `now` (never back), in the
/// janitor's transaction: what expired since the last move stops being counted,
/// about [`HORIZON_STEP`] objects at most per move.
pub(super) fn advance_horizon(conn: &Connection, now: i64) -> Result<(), ApiError> {
    // Through objects_expire: the expiry of the step's last object, if it has one.
    let step_end: Option<i64> = conn
        .prepare_cached(
            "SELECT expire_time FROM objects INDEXED BY objects_expire
             WHERE state = 1 AND expire_time > (SELECT horizon FROM search_horizon)
             ORDER BY expire_time LIMIT 1 OFFSET ?1",
        )?
        .query_row([HORIZON_STEP - 1], |r| r.get(0))
        .optional()?;
    move_horizon(conn, step_end.map_or(now, |end| end.min(now)), false)
}

/// Moves the horizon of `search_blocks` to `to` (back too, if `back`): the
/// objects expiring in between stop (or start) being counted.
fn move_horizon(conn: &Connection, to: i64, back: bool) -> Result<(), ApiError> {
    let horizon: i64 = conn
        .prepare_cached("SELECT horizon FROM search_horizon")?
        .query_row([], |r| r.get(0))?;
    if to == horizon || (to < horizon && !back) {
        return Ok(());
    }
    let (after, until, sign) = if to > horizon {
        (horizon, to, -1)
    } else {
        (to, horizon, 1)
    };
    // Through objects_expire: the objects expiring in (after, until], by kind.
    conn.prepare_cached(
        "INSERT INTO search_blocks (namespace, status, kind, key, block, public, n)
         SELECT namespace, status, kind, key, block, public, :sign * count(*) FROM (
             SELECT namespace, status, 0 AS kind, 0 AS key, data_id >> 14 AS block,
                 access_type = 0 AS public
             FROM objects WHERE state = 1 AND expire_time > :after AND expire_time <= :until
             UNION ALL
             SELECT namespace, status, 1, data_type, data_id >> 14, access_type = 0
             FROM objects WHERE state = 1 AND expire_time > :after AND expire_time <= :until
             UNION ALL
             SELECT o.namespace, o.status, 2, t.tag, o.data_id >> 14, o.access_type = 0
             FROM objects o JOIN object_tags t ON t.data_id = o.data_id
             WHERE o.state = 1 AND o.expire_time > :after AND o.expire_time <= :until)
         GROUP BY 1, 2, 3, 4, 5, 6
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?
    .execute(rusqlite::named_params! {":sign": sign, ":after": after, ":until": until})?;
    conn.prepare_cached("UPDATE search_horizon SET horizon = ?1")?
        .execute([to])?;
    Ok(())
}

impl Counted {
    fn of(request: &SearchRequest) -> Option<Counted> {
        let plain = matches!(request.owners, Owners::Anybody)
            && request.name.is_none()
            && request.created == TimeRange::default()
            && request.updated == TimeRange::default();
        match (request.data_type, request.tags.as_slice()) {
            _ if !plain => None,
            (None, []) => Some(Counted {
                kind: 0,
                key: Value::Integer(0),
            }),
            (Some(data_type), []) => Some(Counted {
                kind: 1,
                key: Value::Integer(i64::from(data_type)),
            }),
            (None, [tag]) => Some(Counted {
                kind: 2,
                key: Value::Blob(tag.clone()),
            }),
            _ => None,
        }
    }

    /// Sum of the counters after the current hour, for public objects only or
    /// all: the days after today, then the hours left today.
    fn counters(
        &self,
        conn: &Connection,
        namespace: &str,
        status: i64,
        public_only: bool,
        now: i64,
    ) -> Result<u64, ApiError> {
        // One equality per visibility class rather than `public IN (1, :public)`:
        // an IN list with a parameter builds a temporary table in every run.
        let mut stmt = conn.prepare_cached(
            "SELECT coalesce(sum(n), 0) FROM (
               SELECT n FROM search_counts WHERE namespace = :namespace AND status = :status
               AND kind = :kind AND key = :key AND public = 1 AND span = 24 AND bucket > :day
             UNION ALL
               SELECT n FROM search_counts WHERE namespace = :namespace AND status = :status
               AND kind = :kind AND key = :key AND public = 0 AND :public = 0 AND span = 24
               AND bucket > :day
             UNION ALL
               SELECT n FROM search_counts WHERE namespace = :namespace AND status = :status
               AND kind = :kind AND key = :key AND public = 1 AND span = 1
               AND bucket > :hour AND bucket < :tomorrow
             UNION ALL
               SELECT n FROM search_counts WHERE namespace = :namespace AND status = :status
               AND kind = :kind AND key = :key AND public = 0 AND :public = 0 AND span = 1
               AND bucket > :hour AND bucket < :tomorrow)",
        )?;
        let day = now.div_euclid(DAY);
        let n: i64 = stmt.query_row(
            rusqlite::named_params! {
                ":namespace": namespace,
                ":status": status,
                ":kind": self.kind,
                ":key": &self.key,
                ":public": i64::from(public_only),
                ":day": day,
                ":hour": now.div_euclid(HOUR),
                ":tomorrow": (day + 1) * (DAY / HOUR),
            },
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    /// The exact total of the caller's view of `request`.
    fn total(
        &self,
        conn: &Connection,
        caller: &Caller,
        request: &SearchRequest,
        now: i64,
    ) -> Result<u64, ApiError> {
        let status = request.status as i64;
        let public_only = caller.principal.is_some();
        let mut total = self.counters(conn, &caller.namespace, status, public_only, now)?;
        // The counters' current hour: only what expires after now.
        let title = Caller::title(&caller.namespace);
        let expiring = SearchSql::driven_by(Driver::Expiring, &title, request, now);
        let mut extra = vec![(":hour_end", Value::from((now.div_euclid(HOUR) + 1) * HOUR))];
        let mut count = expiring.count();
        if public_only {
            count.push_str(&format!(
                " AND o.access_type = {}",
                PermissionType::Public as i64
            ));
        }
        total += self.count(conn, &count, &expiring.params(&extra))?;
        if let Some(me) = caller.principal {
            // What only this principal sees, from small indexed sets: its own
            // objects, those naming it, those of owners listing it as a friend.
            extra.clear();
            extra.push((":me", Value::from(me)));
            for driver in [Driver::Mine, Driver::Recipient, Driver::FriendOf] {
                let query = SearchSql::driven_by(driver, &title, request, now);
                total += self.count(conn, &query.count(), &query.params(&extra))?;
            }
        }
        Ok(total)
    }

    /// Whether a window is found through `search_blocks` ([`Counted::seek`]): in
    /// data_id order, for a title token (the blocks count every visibility class),
    /// and further than [`SEEK_AFTER`] matches from either end.
    fn seeks(caller: &Caller, request: &SearchRequest, offset: u64, end: u64, total: u64) -> bool {
        caller.principal.is_none()
            && request.sort.column == SortColumn::DataId
            && offset.min(total - end) > SEEK_AFTER
    }

    /// The data_ids of matches `window` of `total` in `request`'s order, found by
    /// summing `search_blocks` from the nearer end up to the block where the window
    /// starts, then skipping only within that block. The blocks count the objects
    /// expiring after the horizon; those between it and `now` are taken off (or
    /// added, if the horizon is ahead of `now`). None when there are more of those
    /// than [`HORIZON_LAG_MAX`] (the janitor is behind), or the blocks disagree
    /// with `total`: the caller then skips as before.
    fn seek(
        &self,
        conn: &Connection,
        caller: &Caller,
        request: &SearchRequest,
        now: i64,
        window: std::ops::Range<u64>,
        total: u64,
    ) -> Result<Option<Vec<u64>>, ApiError> {
        // The window in ascending data_id order, and how many matches lie before
        // it on the side it is nearer to.
        let (first, last) = if request.sort.descending {
            (total - window.end, total - window.start)
        } else {
            (window.start, window.end)
        };
        let from_top = first > total - last;
        let beyond = if from_top { total - last } else { first };
        let Some((lag, sign)) = self.horizon_lag(conn, caller, request, now)? else {
            return Ok(None);
        };
        let mut stmt = conn.prepare_cached(if from_top {
            "SELECT block, sum(n) FROM search_blocks WHERE namespace = ?1 AND status = ?2
             AND kind = ?3 AND key = ?4 GROUP BY block ORDER BY block DESC"
        } else {
            "SELECT block, sum(n) FROM search_blocks WHERE namespace = ?1 AND status = ?2
             AND kind = ?3 AND key = ?4 GROUP BY block ORDER BY block"
        })?;
        let mut rows = stmt.query(rusqlite::params![
            caller.namespace,
            request.status as i64,
            self.kind,
            self.key
        ])?;
        // Blocks in walk order: the rows, and the blocks of lagging objects, which
        // have no row when nothing in them was ever counted.
        let mut lag_blocks: Vec<(i64, i64)> = Vec::new();
        for &id in &lag {
            match lag_blocks.last_mut() {
                Some((block, n)) if *block == id >> BLOCK_BITS => *n += 1,
                _ => lag_blocks.push((id >> BLOCK_BITS, 1)),
            }
        }
        if from_top {
            lag_blocks.reverse();
        }
        let mut lag_blocks = lag_blocks.into_iter().peekable();
        let comes_first = |a: i64, b: i64| if from_top { a > b } else { a < b };
        let mut next_row = || -> rusqlite::Result<Option<(i64, i64)>> {
            rows.next()?.map(|r| Ok((r.get(0)?, r.get(1)?))).transpose()
        };
        let mut row = next_row()?;
        let mut passed: u64 = 0;
        loop {
            let (block, counted, lagging) = match (row, lag_blocks.peek().copied()) {
                (None, None) => break,
                (Some((block, n)), Some((lagged, lagging))) if lagged == block => {
                    lag_blocks.next();
                    row = next_row()?;
                    (block, n, lagging)
                }
                (Some((block, _)), Some((lagged, lagging))) if comes_first(lagged, block) => {
                    lag_blocks.next();
                    (lagged, 0, lagging)
                }
                (None, Some((lagged, lagging))) => {
                    lag_blocks.next();
                    (lagged, 0, lagging)
                }
                (Some((block, n)), _) => {
                    row = next_row()?;
                    (block, n, 0)
                }
            };
            let (low, high) = (block << BLOCK_BITS, (block + 1) << BLOCK_BITS);
            let here = (counted + sign * lagging).max(0) as u64;
            if passed + here <= beyond {
                passed += here;
                continue;
            }
            let driver = if self.kind == 0 {
                Driver::Id
            } else {
                Driver::of(request)
            };
            let mut query = SearchSql::driven_by(driver, caller, request, now);
            let bound = if from_top {
                format!("{} < :bound", query.data_id)
            } else {
                format!("{} >= :bound", query.data_id)
            };
            query.and(&bound, ":bound", if from_top { high } else { low });
            let by_id = Sort {
                column: SortColumn::DataId,
                descending: false,
            };
            let page = [
                (":limit", Value::from((last - first) as i64)),
                (":offset", Value::from((beyond - passed) as i64)),
            ];
            let mut stmt = conn.prepare_cached(&query.page_sorted(by_id, from_top))?;
            let mut ids: Vec<u64> = stmt
                .query_map(&*query.params(&page), |r| r.get::<_, i64>(0))?
                .map(|id| id.map(|id| id as u64))
                .collect::<Result<_, _>>()?;
            if from_top != request.sort.descending {
                ids.reverse();
            }
            return Ok((ids.len() as u64 == last - first).then_some(ids));
        }
        Ok(None)
    }

    /// The matches whose expiry lies between the horizon and `now`, sorted, with
    /// the sign they count with in the blocks: -1 when the horizon is behind `now`
    /// (counted, no longer visible), +1 when it is ahead (visible, not counted).
    fn horizon_lag(
        &self,
        conn: &Connection,
        caller: &Caller,
        request: &SearchRequest,
        now: i64,
    ) -> Result<Option<(Vec<i64>, i64)>, ApiError> {
        let horizon: i64 = conn
            .prepare_cached("SELECT horizon FROM search_horizon")?
            .query_row([], |r| r.get(0))?;
        let (after, until, sign) = if horizon <= now {
            (horizon, now, -1)
        } else {
            (now, horizon, 1)
        };
        // Every object expiring in between, up to the limit, and whether it matches.
        let mut stmt = conn.prepare_cached(
            "SELECT o.data_id, o.namespace = :namespace AND o.status = :status
                AND CASE :kind WHEN 0 THEN 1 WHEN 1 THEN o.data_type = :key
                    ELSE EXISTS (SELECT 1 FROM object_tags x WHERE x.data_id = o.data_id
                                 AND x.tag = :key) END
             FROM (SELECT data_id FROM objects INDEXED BY objects_expire
                   WHERE state = 1 AND expire_time > :after AND expire_time <= :until
                   LIMIT :most) e
             CROSS JOIN objects o ON o.data_id = e.data_id",
        )?;
        let rows = stmt.query_map(
            rusqlite::named_params! {
                ":namespace": caller.namespace,
                ":status": request.status as i64,
                ":kind": self.kind,
                ":key": self.key,
                ":after": after,
                ":until": until,
                ":most": HORIZON_LAG_MAX as i64 + 1,
            },
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?)),
        )?;
        let mut seen = 0;
        let mut lag = Vec::new();
        for row in rows {
            let (id, matches) = row?;
            seen += 1;
            if matches {
                lag.push(id);
            }
        }
        if seen > HORIZON_LAG_MAX {
            return Ok(None);
        }
        lag.sort_unstable();
        Ok(Some((lag, sign)))
    }

    fn count(
        &self,
        conn: &Connection,
        sql: &str,
        params: &[(&str, &dyn rusqlite::ToSql)],
    ) -> Result<u64, ApiError> {
        let n: i64 = conn.prepare_cached(sql)?.query_row(params, |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The index a page of `rows` matches (skipped ones included) is read by:
    /// sorted by updated_time, a type or a tag that matches often enough is
    /// found faster by walking the time-ordered index than by sorting all its
    /// `total` matches. The objects table's id range bounds how many the walk
    /// passes over.
    fn page_driver(
        &self,
        conn: &Connection,
        request: &SearchRequest,
        rows: u64,
        total: u64,
    ) -> Result<Driver, ApiError> {
        let driver = Driver::of(request);
        if self.kind == 0 || request.sort.column != SortColumn::UpdatedTime {
            return Ok(driver);
        }
        let everything: i64 = conn
            // Each of max and min alone is one step down the rowid B-tree.
            .prepare_cached(
                "SELECT coalesce((SELECT max(data_id) FROM objects)
                    - (SELECT min(data_id) FROM objects) + 1, 0)",
            )?
            .query_row([], |r| r.get(0))?;
        // Walking reads about rows × everything / total entries; the other way
        // reads every match.
        let walk = rows.saturating_mul(everything.max(0) as u64) / total.max(1);
        Ok(if walk < total {
            Driver::UpdatedTime
        } else {
            driver
        })
    }
}

fn random_u64() -> Result<u64, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The index a search starts from: that of its most selective filter. Owners
/// have about a hundred objects each and names are nearly unique; a type is a
/// bounded share of the namespace while a tag may be on any number of objects,
/// so type goes first. Without any of these, the time-ordered index serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Owner,
    Name,
    Type,
    Tag,
    UpdatedTime,
    /// Every object in data_id order (a window found through `search_blocks`).
    Id,
    /// Objects expiring between now and `:hour_end` (counts only).
    Expiring,
    /// The non-public objects of `:me` (counts only).
    Mine,
    /// Objects of others naming `:me` as a recipient (counts only).
    Recipient,
    /// Friend objects of owners listing `:me` as a friend (counts only).
    FriendOf,
}

impl Driver {
    fn of(request: &SearchRequest) -> Driver {
        if matches!(request.owners, Owners::Only(_)) {
            Driver::Owner
        } else if request.name.is_some() {
            Driver::Name
        } else if request.data_type.is_some() {
            Driver::Type
        } else if !request.tags.is_empty() {
            Driver::Tag
        } else {
            Driver::UpdatedTime
        }
    }

    /// The data_id the rows come by. Tag postings come in data_id order, so
    /// sorting by theirs lets a page end after its last row instead of sorting all.
    fn data_id(self) -> &'static str {
        match self {
            Driver::Tag => "t.data_id",
            _ => "o.data_id",
        }
    }

    /// The FROM clause. `INDEXED BY` makes the plan fixed: a search never scans
    /// the objects table, and a missing index is an error rather than a slow query.
    fn from(self) -> &'static str {
        match self {
            Driver::Owner => "objects o INDEXED BY objects_search_by_owner",
            Driver::Name => "objects o INDEXED BY objects_search_by_name",
            Driver::Type => "objects o INDEXED BY objects_search_by_type",
            // Tag postings first, then each object by its data_id.
            Driver::Tag => {
                "object_tags t INDEXED BY object_tags_by_tag \
                 CROSS JOIN objects o INDEXED BY objects_search_by_id"
            }
            Driver::UpdatedTime => "objects o INDEXED BY objects_search_by_updated_time",
            Driver::Id => "objects o INDEXED BY objects_search_by_id",
            Driver::Expiring => "objects o INDEXED BY objects_expire",
            Driver::Mine => "objects o INDEXED BY objects_search_by_owner",
            Driver::Recipient => {
                "object_recipients r INDEXED BY object_recipients_by_principal \
                 CROSS JOIN objects o INDEXED BY objects_search_by_id"
            }
            Driver::FriendOf => {
                "friends f INDEXED BY friends_by_friend \
                 CROSS JOIN objects o INDEXED BY objects_search_by_owner"
            }
        }
    }
}

/// The FROM and WHERE of one search with its named parameters.
struct SearchSql {
    from: &'static str,
    data_id: &'static str,
    conditions: Vec<String>,
    params: Vec<(String, Value)>,
}

impl SearchSql {
    fn new(caller: &Caller, request: &SearchRequest, now: i64) -> Self {
        Self::driven_by(Driver::of(request), caller, request, now)
    }

    fn driven_by(driver: Driver, caller: &Caller, request: &SearchRequest, now: i64) -> Self {
        let mut sql = SearchSql {
            from: driver.from(),
            data_id: driver.data_id(),
            conditions: Vec::new(),
            params: Vec::new(),
        };
        // What every caller is limited to: its namespace, finished, unexpired
        // objects of one status (DESIGN §8, Object::check_read).
        sql.and(
            "o.namespace = :namespace",
            ":namespace",
            caller.namespace.clone(),
        );
        // A literal: compared with a bound value, the partial indexes on state
        // would make SQLite prepare the statement again on every bind.
        sql.conditions
            .push(format!("o.state = {}", State::Ready as i64));
        sql.and("o.status = :status", ":status", request.status as i64);
        sql.and("o.expire_time > :now", ":now", now);
        let (public, friend_type) = (PermissionType::Public as i64, PermissionType::Friend as i64);
        let befriends = "EXISTS (SELECT 1 FROM friends f WHERE f.namespace = :namespace \
             AND f.owner_id = o.owner_id AND f.friend_id = :me)";
        match driver {
            Driver::Expiring => sql.conditions.push("o.expire_time < :hour_end".into()),
            Driver::Mine => sql
                .conditions
                .push(format!("o.owner_id = :me AND o.access_type <> {public}")),
            Driver::Recipient => sql.conditions.push(format!(
                "r.principal_id = :me AND r.kind = {ACCESS} AND o.data_id = r.data_id \
                 AND o.owner_id <> :me AND (o.access_type = {specified} \
                 OR (o.access_type = {specified_friend} AND {befriends}))",
                specified = PermissionType::Specified as i64,
                specified_friend = PermissionType::SpecifiedFriend as i64,
            )),
            Driver::FriendOf => sql.conditions.push(format!(
                "f.namespace = :namespace AND f.friend_id = :me AND o.owner_id = f.owner_id \
                 AND o.owner_id <> :me AND o.access_type = {friend_type}"
            )),
            _ => {}
        }
        if let Some(me) = caller.principal {
            // Object::check_read for a non-title caller: the owner, public, a
            // recipient of specified, a friend of the owner (in the owner's list)
            // for friend, both for specified_friend. Each EXISTS is one lookup in a
            // primary key, made only for rows of its permission type.
            let recipient = format!(
                "EXISTS (SELECT 1 FROM object_recipients r WHERE r.data_id = o.data_id \
                 AND r.kind = {ACCESS} AND r.principal_id = :me)"
            );
            let friend = befriends;
            sql.conditions.push(format!(
                "(o.owner_id = :me OR o.access_type = {public} \
                 OR (o.access_type = {specified} AND {recipient}) \
                 OR (o.access_type = {friend_type} AND {friend}) \
                 OR (o.access_type = {specified_friend} AND {recipient} AND {friend}))",
                specified = PermissionType::Specified as i64,
                specified_friend = PermissionType::SpecifiedFriend as i64,
            ));
            sql.bind(":me", me);
        }
        if let Some(data_type) = request.data_type {
            sql.and("o.data_type = :type", ":type", data_type);
        }
        match &request.owners {
            Owners::Anybody => {}
            Owners::Only(ids) => sql.and_list("o.owner_id IN", ":owner", ids),
            Owners::AllBut(ids) => sql.and_list("o.owner_id NOT IN", ":owner", ids),
        }
        if let Some(name) = &request.name {
            sql.and("o.name = :name", ":name", name.clone());
        }
        for (i, tag) in request.tags.iter().enumerate() {
            let name = format!(":tag{i}");
            if i == 0 && driver == Driver::Tag {
                sql.conditions
                    .push(format!("t.tag = {name} AND o.data_id = t.data_id"));
            } else {
                sql.conditions.push(format!(
                    "EXISTS (SELECT 1 FROM object_tags x WHERE x.data_id = o.data_id \
                     AND x.tag = {name})"
                ));
            }
            sql.bind(&name, tag.clone());
        }
        let ranges = [
            ("o.created_time >=", ":created_after", request.created.after),
            (
                "o.created_time <=",
                ":created_before",
                request.created.before,
            ),
            ("o.updated_time >=", ":updated_after", request.updated.after),
            (
                "o.updated_time <=",
                ":updated_before",
                request.updated.before,
            ),
        ];
        for (column, name, value) in ranges {
            if let Some(value) = value {
                sql.and(&format!("{column} {name}"), name, value);
            }
        }
        sql
    }

    fn bind(&mut self, name: &str, value: impl Into<Value>) {
        self.params.push((name.to_owned(), value.into()));
    }

    fn and(&mut self, condition: &str, name: &str, value: impl Into<Value>) {
        self.conditions.push(condition.to_owned());
        self.bind(name, value);
    }

    /// `column IN (:owner0, :owner1, …)`
    fn and_list(&mut self, condition: &str, prefix: &str, values: &[u32]) {
        let names: Vec<String> = (0..values.len()).map(|i| format!("{prefix}{i}")).collect();
        self.conditions
            .push(format!("{condition} ({})", names.join(", ")));
        for (name, value) in names.iter().zip(values) {
            self.bind(name, *value);
        }
    }

    fn filter(&self) -> String {
        self.conditions.join(" AND ")
    }

    fn count(&self) -> String {
        format!("SELECT count(*) FROM {} WHERE {}", self.from, self.filter())
    }

    /// The page's data_ids, sorted, with data_id breaking ties in the same direction.
    /// `reversed`: in the opposite order (the window counted from the end).
    fn page(&self, request: &SearchRequest, reversed: bool) -> String {
        self.page_sorted(request.sort, reversed)
    }

    /// [`SearchSql::page`] in the order of `sort`.
    fn page_sorted(&self, sort: Sort, reversed: bool) -> String {
        let direction = if sort.descending != reversed {
            "DESC"
        } else {
            "ASC"
        };
        let column = match sort.column {
            SortColumn::DataId => self.data_id,
            SortColumn::Size => "o.size",
            SortColumn::Name => "o.name",
            SortColumn::Type => "o.data_type",
            SortColumn::CreatedTime => "o.created_time",
            SortColumn::UpdatedTime => "o.updated_time",
            SortColumn::OwnerId => "o.owner_id",
        };
        let order = match sort.column {
            SortColumn::DataId => format!("{column} {direction}"),
            _ => format!("{column} {direction}, {} {direction}", self.data_id),
        };
        format!(
            "SELECT o.data_id FROM {} WHERE {} ORDER BY {order} LIMIT :limit OFFSET :offset",
            self.from,
            self.filter()
        )
    }

    /// The bound parameters, with `extra` ones after them.
    fn params<'a>(
        &'a self,
        extra: &'a [(&'a str, Value)],
    ) -> Vec<(&'a str, &'a dyn rusqlite::ToSql)> {
        self.params
            .iter()
            .map(|(name, value)| (name.as_str(), value as &dyn rusqlite::ToSql))
            .chain(
                extra
                    .iter()
                    .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql)),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::domain::search::Shown;
    use crate::store::Durability;
    use crate::store::sqlite::objects::{load, load_many};

    const NOW: i64 = 1_000_000;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        (dir, store)
    }

    /// The query plans of a search, one line per step.
    fn plans(store: &SqliteStore, caller: &Caller, request: &SearchRequest) -> Vec<String> {
        let sql = SearchSql::new(caller, request, NOW);
        let page = [(":limit", Value::from(20)), (":offset", Value::from(0))];
        store
            .read_blocking(|conn| {
                let mut lines = Vec::new();
                for (text, extra) in [(sql.count(), &page[..0]), (sql.page(request, false), &page)]
                {
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {text}"))?;
                    let rows = stmt.query_map(&*sql.params(extra), |r| r.get::<_, String>(3))?;
                    for row in rows {
                        lines.push(format!("{}: {}", &text[..30], row?));
                    }
                }
                Ok(lines)
            })
            .unwrap()
    }

    #[test]
    fn typical_searches_never_scan_the_objects_table() {
        let (_dir, store) = store();
        let title = Caller::title("default");
        let principal = Caller::principal("default", 7);
        let desc = |column| Sort {
            column,
            descending: true,
        };
        let cases = [
            (SearchRequest::default(), "objects_search_by_updated_time"),
            (
                SearchRequest {
                    data_type: Some(3),
                    sort: desc(SortColumn::UpdatedTime),
                    ..SearchRequest::default()
                },
                "objects_search_by_type",
            ),
            (
                SearchRequest {
                    data_type: Some(3),
                    offset: Offset::Any,
                    sort: desc(SortColumn::Name),
                    ..SearchRequest::default()
                },
                "objects_search_by_type",
            ),
            (
                SearchRequest {
                    owners: Owners::Only(vec![5, 6]),
                    data_type: Some(3),
                    ..SearchRequest::default()
                },
                "objects_search_by_owner",
            ),
            (
                SearchRequest {
                    owners: Owners::AllBut(vec![5]),
                    sort: desc(SortColumn::OwnerId),
                    ..SearchRequest::default()
                },
                "objects_search_by_updated_time",
            ),
            (
                SearchRequest {
                    name: Some("course".into()),
                    ..SearchRequest::default()
                },
                "objects_search_by_name",
            ),
            (
                SearchRequest {
                    tags: vec![b"a".to_vec(), b"b".to_vec()],
                    sort: desc(SortColumn::CreatedTime),
                    ..SearchRequest::default()
                },
                "objects_search_by_id",
            ),
            (
                SearchRequest {
                    tags: vec![b"a".to_vec()],
                    data_type: Some(3),
                    ..SearchRequest::default()
                },
                "objects_search_by_type",
            ),
            (
                SearchRequest {
                    created: TimeRange {
                        after: Some(10),
                        before: Some(20),
                    },
                    updated: TimeRange {
                        after: Some(10),
                        before: None,
                    },
                    sort: desc(SortColumn::Size),
                    status: Status::Pending,
                    ..SearchRequest::default()
                },
                "objects_search_by_updated_time",
            ),
        ];
        for (request, index) in cases {
            for caller in [&title, &principal] {
                let lines = plans(&store, caller, &request);
                let text = lines.join("\n");
                assert!(
                    lines.iter().all(|l| !l.contains(": SCAN")),
                    "a scan in {request:?}:\n{text}"
                );
                assert!(
                    text.contains(index),
                    "{index} unused by {request:?}:\n{text}"
                );
                // A principal sees friend and specified_friend objects of owners who
                // list it: one lookup in the friends' primary key per such row.
                if caller.principal.is_some() {
                    assert!(
                        text.contains("SEARCH f USING PRIMARY KEY (namespace=? AND owner_id=? AND friend_id=?)"),
                        "no friend lookup by key in {request:?}:\n{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_friends_search_scans_nothing_once_the_planner_knows_the_data() {
        let (_dir, store) = store();
        seed(&store);
        store
            .write_blocking(|tx| Ok(tx.execute_batch("ANALYZE")?))
            .unwrap();
        // 9 is a friend of 5 and 6, whose friend objects it finds (see the test below).
        let friend = Caller::principal("default", 9);
        for request in [
            SearchRequest::default(),
            SearchRequest {
                data_type: Some(1),
                ..SearchRequest::default()
            },
            SearchRequest {
                tags: vec![b"a".to_vec()],
                ..SearchRequest::default()
            },
            SearchRequest {
                owners: Owners::Only(vec![5]),
                ..SearchRequest::default()
            },
        ] {
            let lines = plans(&store, &friend, &request);
            let text = lines.join("\n");
            assert!(
                lines.iter().all(|l| !l.contains(": SCAN")),
                "a scan in {request:?}:\n{text}"
            );
            assert!(text.contains("SEARCH f USING PRIMARY KEY"), "{text}");
        }
    }

    #[test]
    fn a_tag_search_by_data_id_reads_no_more_postings_than_the_page_needs() {
        let (_dir, store) = store();
        for descending in [false, true] {
            let request = SearchRequest {
                tags: vec![b"a".to_vec()],
                sort: Sort {
                    column: SortColumn::DataId,
                    descending,
                },
                ..SearchRequest::default()
            };
            let text = plans(&store, &Caller::principal("default", 7), &request).join("\n");
            assert!(!text.contains("TEMP B-TREE"), "a sort step:\n{text}");
        }
    }

    #[test]
    fn a_page_by_time_walks_the_time_index_without_sorting() {
        let (_dir, store) = store();
        for caller in [Caller::title("default"), Caller::principal("default", 7)] {
            for (data_type, tags) in [(Some(3), vec![]), (None, vec![b"a".to_vec()])] {
                let request = SearchRequest {
                    data_type,
                    tags,
                    sort: Sort {
                        column: SortColumn::UpdatedTime,
                        descending: true,
                    },
                    ..SearchRequest::default()
                };
                let sql = SearchSql::driven_by(Driver::UpdatedTime, &caller, &request, NOW);
                let page = [(":limit", Value::from(20)), (":offset", Value::from(0))];
                let text = store
                    .read_blocking(|conn| {
                        let mut stmt = conn.prepare(&format!(
                            "EXPLAIN QUERY PLAN {}",
                            sql.page(&request, false)
                        ))?;
                        let rows =
                            stmt.query_map(&*sql.params(&page), |r| r.get::<_, String>(3))?;
                        Ok(rows.collect::<Result<Vec<_>, _>>()?.join("\n"))
                    })
                    .unwrap();
                assert!(text.contains("objects_search_by_updated_time"), "{text}");
                assert!(!text.contains("TEMP B-TREE"), "a sort step:\n{text}");
            }
        }
    }

    /// A small namespace with every kind of object a search must tell apart.
    fn seed(store: &SqliteStore) -> Vec<u64> {
        store
            .write_blocking(|tx| {
                let mut ids = Vec::new();
                let mut insert = tx.prepare(
                    "INSERT INTO objects (namespace, owner_id, size, data_type, name, period,
                        access_type, update_type, status, state, created_time, updated_time,
                        referred_time, expire_time, access_password, update_password)
                     VALUES (?1, ?2, ?3, ?4, ?5, 90, ?6, 3, ?7, ?8, ?9, ?10, ?9, ?11, 1, 1)",
                )?;
                let mut tag = tx.prepare("INSERT INTO object_tags (data_id, tag) VALUES (?1, ?2)")?;
                let mut recipient = tx.prepare(
                    "INSERT INTO object_recipients (data_id, kind, principal_id) VALUES (?1, ?2, ?3)",
                )?;
                for i in 0..400i64 {
                    // Each property cycles with a different prime, so they mix.
                    let namespace = if i % 13 == 0 { "other" } else { "default" };
                    let owner = 5 + i % 3;
                    let status = [0, 0, 0, 2, 5][(i % 5) as usize];
                    let state = [1, 1, 1, 1, 1, 0, 2][(i % 7) as usize];
                    // Not i % 5, which status follows: every type with every status.
                    let access = (i / 5) % 5;
                    let expire = if i % 11 == 0 { NOW - 1 } else { NOW + 1 + i % 2 };
                    let created = NOW - 1000 + i % 17;
                    let updated = created + i % 4;
                    insert.execute(rusqlite::params![
                        namespace,
                        owner,
                        i % 6,
                        i % 4,
                        format!("n{}", i % 9),
                        access,
                        status,
                        state,
                        created,
                        updated,
                        expire
                    ])?;
                    let id = tx.last_insert_rowid();
                    for (k, t) in [b"a", b"b", b"c"].iter().enumerate() {
                        if (i >> k) % 2 == 1 {
                            tag.execute(rusqlite::params![id, t.to_vec()])?;
                        }
                    }
                    // Recipients on every kind of permission, access and update.
                    recipient.execute(rusqlite::params![id, ACCESS, 6 + i % 2])?;
                    recipient.execute(rusqlite::params![id, 1, 8])?;
                    ids.push(id as u64);
                }
                // 6 and 9 are friends of 5, 9 of 6; lists in the other direction or
                // namespace must not count (DESIGN §14).
                let mut friend = tx.prepare(
                    "INSERT INTO friends (namespace, owner_id, friend_id) VALUES (?1, ?2, ?3)",
                )?;
                for (namespace, owner, f) in [
                    ("default", 5, 6),
                    ("default", 5, 9),
                    ("default", 6, 9),
                    ("default", 9, 7),
                    ("other", 7, 9),
                ] {
                    friend.execute(rusqlite::params![namespace, owner, f])?;
                }
                Ok(ids)
            })
            .unwrap()
    }

    /// What a search must return, worked out object by object with check_read.
    fn expected(
        store: &SqliteStore,
        ids: &[u64],
        caller: &Caller,
        request: &SearchRequest,
    ) -> Vec<u64> {
        let mut objects: Vec<_> = store
            .read_blocking(|conn| {
                let mut out = Vec::new();
                for &id in ids {
                    // The friend lists as the permission rules read them.
                    out.extend(load(conn, id)?.filter(|o| o.check_read(caller, conn, NOW).is_ok()));
                }
                Ok(out)
            })
            .unwrap()
            .into_iter()
            .filter(|o| o.status == request.status)
            .filter(|o| request.data_type.is_none_or(|t| o.data_type == t))
            .filter(|o| match &request.owners {
                Owners::Anybody => true,
                Owners::Only(owners) => owners.contains(&o.owner_id),
                Owners::AllBut(owners) => !owners.contains(&o.owner_id),
            })
            .filter(|o| request.name.as_ref().is_none_or(|n| &o.name == n))
            .filter(|o| request.tags.iter().all(|t| o.tags.contains(t)))
            .filter(|o| {
                let within = |r: TimeRange, t: i64| {
                    r.after.is_none_or(|a| t >= a) && r.before.is_none_or(|b| t <= b)
                };
                within(request.created, o.created_time) && within(request.updated, o.updated_time)
            })
            .collect();
        objects.sort_by(|a, b| {
            let key = |o: &crate::domain::Object| match request.sort.column {
                SortColumn::DataId => (0, String::new()),
                SortColumn::Size => (o.size as i64, String::new()),
                SortColumn::Name => (0, o.name.clone()),
                SortColumn::Type => (i64::from(o.data_type), String::new()),
                SortColumn::CreatedTime => (o.created_time, String::new()),
                SortColumn::UpdatedTime => (o.updated_time, String::new()),
                SortColumn::OwnerId => (i64::from(o.owner_id), String::new()),
            };
            let order = (key(a), a.data_id).cmp(&(key(b), b.data_id));
            if request.sort.descending {
                order.reverse()
            } else {
                order
            }
        });
        objects.iter().map(|o| o.data_id).collect()
    }

    #[test]
    fn a_page_loads_the_same_objects_as_one_by_one() {
        let (_dir, store) = store();
        let mut ids = seed(&store);
        store
            .write_blocking(|tx| {
                tx.execute_batch(
                    "INSERT INTO rating_slots (data_id, slot, flags, initial_value, lock_type,
                        total_value, count)
                     SELECT data_id, 1, 0, 5, 0, data_id % 7, 3 FROM objects WHERE data_id % 3 = 0;
                     INSERT INTO rating_slots (data_id, slot, flags, initial_value, lock_type,
                        total_value, count)
                     SELECT data_id, 0, 0, 0, 0, 1, 1 FROM objects WHERE data_id % 3 = 0;",
                )?;
                Ok(())
            })
            .unwrap();
        ids.reverse();
        ids.insert(7, 424_242);
        let (many, one_by_one, bare) = store
            .read_blocking(|c| {
                let one: Vec<_> = ids
                    .iter()
                    .filter_map(|&id| load(c, id).transpose())
                    .collect();
                let nothing_shown = Shown {
                    tags: false,
                    ratings: false,
                };
                Ok((
                    load_many(c, &ids)?,
                    one.into_iter().collect::<Result<Vec<_>, _>>()?,
                    load_showing(c, &ids, nothing_shown)?,
                ))
            })
            .unwrap();
        assert_eq!(many.len(), ids.len() - 1);
        assert_eq!(format!("{many:?}"), format!("{one_by_one:?}"));
        // Not shown, not loaded: tags and ratings empty, recipients still there.
        let mut stripped = one_by_one.clone();
        for o in &mut stripped {
            o.tags.clear();
            o.ratings.clear();
        }
        assert_eq!(format!("{bare:?}"), format!("{stripped:?}"));
        assert!(bare.iter().any(|o| !o.access.recipients.is_empty()));
        assert!(
            many.iter()
                .any(|o| o.ratings.len() == 2 && !o.tags.is_empty())
        );
    }

    #[test]
    fn searches_return_exactly_what_check_read_allows_in_order() {
        let (_dir, store) = store();
        let ids = seed(&store);
        let callers = [
            Caller::title("default"),
            Caller::title("other"),
            Caller::principal("default", 5),
            Caller::principal("default", 6),
            Caller::principal("default", 7),
            Caller::principal("default", 9),
        ];
        let all = SearchRequest {
            limit: 10_000,
            ..SearchRequest::default()
        };
        let mut requests = vec![
            all.clone(),
            SearchRequest {
                status: Status::Pending,
                ..all.clone()
            },
            SearchRequest {
                status: Status::Rejected,
                ..all.clone()
            },
            SearchRequest {
                data_type: Some(1),
                ..all.clone()
            },
            SearchRequest {
                owners: Owners::Only(vec![5, 7]),
                ..all.clone()
            },
            SearchRequest {
                owners: Owners::AllBut(vec![5]),
                ..all.clone()
            },
            SearchRequest {
                name: Some("n3".into()),
                ..all.clone()
            },
            SearchRequest {
                tags: vec![b"a".to_vec()],
                ..all.clone()
            },
            SearchRequest {
                tags: vec![b"a".to_vec(), b"c".to_vec()],
                data_type: Some(2),
                ..all.clone()
            },
            SearchRequest {
                created: TimeRange {
                    after: Some(NOW - 995),
                    before: Some(NOW - 990),
                },
                updated: TimeRange {
                    after: Some(NOW - 993),
                    before: None,
                },
                ..all.clone()
            },
        ];
        let columns = [
            SortColumn::DataId,
            SortColumn::Size,
            SortColumn::Name,
            SortColumn::Type,
            SortColumn::CreatedTime,
            SortColumn::UpdatedTime,
            SortColumn::OwnerId,
        ];
        for column in columns {
            for descending in [false, true] {
                requests.push(SearchRequest {
                    sort: Sort { column, descending },
                    ..all.clone()
                });
            }
        }
        let mut seen = 0;
        for caller in &callers {
            for request in &requests {
                // Only a title token searches by status (the handler refuses
                // principals): a principal's own pending objects are read by id.
                if caller.principal.is_some() && request.status != Status::None {
                    continue;
                }
                let want = expected(&store, &ids, caller, request);
                let page = store
                    .read_blocking(|c| search(c, caller, request, NOW, 0))
                    .unwrap();
                let got: Vec<u64> = page.objects.iter().map(|o| o.data_id).collect();
                assert_eq!(got, want, "{caller:?} {request:?}");
                assert_eq!(page.total, want.len() as u64);
                seen += want.len();
            }
        }
        // The oracle itself must find something for the comparison to mean anything.
        assert!(seen > 1000, "only {seen} matches in all searches");
    }

    #[test]
    fn friend_objects_are_found_by_the_friends_of_their_owner_only() {
        let (_dir, store) = store();
        seed(&store);
        let all = SearchRequest {
            limit: 10_000,
            ..SearchRequest::default()
        };
        // (owner, access type) of what `me` finds of others' objects.
        let found = |me: u32| -> Vec<(u32, PermissionType)> {
            let caller = Caller::principal("default", me);
            let page = store
                .read_blocking(|c| search(c, &caller, &all, NOW, 0))
                .unwrap();
            page.objects
                .iter()
                .filter(|o| o.owner_id != me)
                .map(|o| (o.owner_id, o.access.kind))
                .collect()
        };
        use PermissionType::{Friend, SpecifiedFriend};
        let nine = found(9);
        assert!(nine.contains(&(5, Friend)) && nine.contains(&(6, Friend)));
        assert!(
            !nine.contains(&(7, Friend)),
            "7 lists 9 only in another namespace"
        );
        assert!(
            !nine.iter().any(|(_, k)| *k == SpecifiedFriend),
            "9 is no recipient"
        );
        let six = found(6);
        assert!(six.contains(&(5, Friend)) && six.contains(&(5, SpecifiedFriend)));
        assert!(
            !six.iter()
                .any(|(o, k)| *o == 7 && matches!(k, Friend | SpecifiedFriend))
        );
        let seven = found(7);
        assert!(
            !seven
                .iter()
                .any(|(_, k)| matches!(k, Friend | SpecifiedFriend)),
            "7 is in nobody's list of its namespace but 9's, who owns nothing"
        );
    }

    /// SplitMix64, for the random data below.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> i64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % n) as i64
        }
    }

    const TAGS: [&[u8]; 4] = [b"a", b"b", b"c", b"d"];

    /// Random objects expiring within two days of NOW, then random changes of everything
    /// the counters depend on, through the statements the triggers watch.
    fn seed_random(store: &SqliteStore, rng: &mut Rng, gap: u64) {
        store
            .write_blocking(|tx| {
                // Each data_id up to `gap` past the last (3000: about 150 blocks of search_blocks).
                let insert = |rng: &mut Rng| -> rusqlite::Result<i64> {
                    tx.execute(
                        "INSERT INTO objects (data_id, namespace, owner_id, size, data_type, period,
                            access_type, update_type, status, state, created_time, updated_time,
                            referred_time, expire_time, access_password, update_password)
                         VALUES ((SELECT coalesce(max(data_id), 0) FROM objects) + 1 + ?10,
                            ?1, ?2, 0, ?3, 90, ?4, 3, ?5, ?6, ?7, ?8, ?7, ?9, 1, 1)",
                        rusqlite::params![
                            ["default", "other"][rng.below(8).min(1) as usize],
                            1 + rng.below(12),
                            rng.below(4),
                            rng.below(5),
                            [0, 0, 0, 2, 5][rng.below(5) as usize],
                            [1, 1, 1, 1, 0, 2][rng.below(6) as usize],
                            NOW - 5000 + rng.below(100),
                            NOW - 5000 + rng.below(100),
                            NOW - 2 * DAY + rng.below(4 * DAY as u64),
                            rng.below(gap),
                        ],
                    )?;
                    let id = tx.last_insert_rowid();
                    for tag in TAGS {
                        if rng.below(3) == 0 {
                            tx.execute(
                                "INSERT INTO object_tags (data_id, tag) VALUES (?1, ?2)",
                                rusqlite::params![id, tag],
                            )?;
                        }
                    }
                    for _ in 0..rng.below(3) {
                        tx.execute(
                            "INSERT OR IGNORE INTO object_recipients (data_id, kind, principal_id)
                             VALUES (?1, ?2, ?3)",
                            rusqlite::params![id, rng.below(2), 1 + rng.below(12)],
                        )?;
                    }
                    Ok(id)
                };
                let mut ids = Vec::new();
                for _ in 0..1500 {
                    ids.push(insert(rng)?);
                }
                for _ in 0..40 {
                    tx.execute(
                        "INSERT OR IGNORE INTO friends (namespace, owner_id, friend_id)
                         VALUES (?1, ?2, ?3)",
                        rusqlite::params![
                            ["default", "other"][rng.below(4).min(1) as usize],
                            1 + rng.below(12),
                            1 + rng.below(12)
                        ],
                    )?;
                }
                for _ in 0..1500 {
                    let id = ids[rng.below(ids.len() as u64) as usize];
                    let value = rng.below(6);
                    let change = match rng.below(9) {
                        0 => "UPDATE objects SET status = ?2 WHERE data_id = ?1",
                        1 => "UPDATE objects SET state = ?2 % 3 WHERE data_id = ?1",
                        2 => "UPDATE objects SET data_type = ?2 WHERE data_id = ?1",
                        3 => "UPDATE objects SET access_type = ?2 % 5 WHERE data_id = ?1",
                        4 => {
                            "UPDATE objects SET expire_time = expire_time + (?2 - 3) * 1000
                              WHERE data_id = ?1"
                        }
                        5 => {
                            "UPDATE objects SET namespace = 'other', updated_time = ?2
                              WHERE data_id = ?1"
                        }
                        6 => "DELETE FROM object_tags WHERE data_id = ?1 AND ?2 < 4",
                        7 => {
                            "INSERT OR IGNORE INTO object_tags (data_id, tag)
                              SELECT data_id, CAST(char(97 + ?2 % 4) AS BLOB) FROM objects
                              WHERE data_id = ?1"
                        }
                        _ => "DELETE FROM objects WHERE data_id = ?1 AND ?2 < 3",
                    };
                    tx.execute(change, rusqlite::params![id, value])?;
                }
                for _ in 0..100 {
                    ids.push(insert(rng)?);
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn every_counted_total_equals_a_plain_count_over_random_data() {
        let (_dir, store) = store();
        let mut rng = Rng(3);
        seed_random(&store, &mut rng, 1);
        let mut callers = vec![Caller::title("default"), Caller::title("other")];
        callers.extend((1..=12).step_by(2).map(|p| Caller::principal("default", p)));
        let mut requests = vec![SearchRequest::default()];
        requests.extend((0..5).map(|t| SearchRequest {
            data_type: Some(t),
            ..SearchRequest::default()
        }));
        requests.extend(TAGS.iter().chain([&&b"e"[..]]).map(|t| SearchRequest {
            tags: vec![t.to_vec()],
            ..SearchRequest::default()
        }));
        let mut checked = 0;
        let mut nonzero = 0;
        // Within an hour, a day, and either side of the end of a day.
        let midnight = (NOW / DAY + 1) * DAY;
        for now in [
            NOW,
            NOW - 2 * HOUR + 17,
            NOW + 1799,
            NOW - DAY + 4 * HOUR,
            midnight - 1,
            midnight + 5,
        ] {
            for caller in &callers {
                for request in &requests {
                    for status in [Status::None, Status::Pending, Status::Rejected] {
                        let request = SearchRequest {
                            status,
                            ..request.clone()
                        };
                        let (fast, plain) = store
                            .read_blocking(|c| {
                                let counted = Counted::of(&request).unwrap();
                                let fast = counted.total(c, caller, &request, now)?;
                                let sql = SearchSql::new(caller, &request, now);
                                let plain: i64 = c
                                    .prepare(&sql.count())?
                                    .query_row(&*sql.params(&[]), |r| r.get(0))?;
                                Ok((fast, plain as u64))
                            })
                            .unwrap();
                        assert_eq!(fast, plain, "{caller:?} at {now}: {request:?}");
                        checked += 1;
                        nonzero += usize::from(plain > 0);
                    }
                }
            }
        }
        assert!(
            nonzero > checked / 3,
            "{nonzero} of {checked} totals above 0"
        );
    }

    #[test]
    fn pages_read_from_the_end_or_by_time_are_those_of_the_plain_query() {
        let (_dir, store) = store();
        let mut rng = Rng(5);
        seed_random(&store, &mut rng, 1);
        // More of tag "a", so that a tag search sorted by time walks the time index.
        store
            .write_blocking(|tx| {
                Ok(tx.execute_batch(
                    "INSERT OR IGNORE INTO object_tags (data_id, tag) SELECT data_id, x'61'
                     FROM objects",
                )?)
            })
            .unwrap();
        let desc = Sort {
            column: SortColumn::UpdatedTime,
            descending: true,
        };
        let requests = [
            SearchRequest {
                tags: vec![b"a".to_vec()],
                sort: desc,
                ..SearchRequest::default()
            },
            SearchRequest {
                data_type: Some(2),
                sort: desc,
                ..SearchRequest::default()
            },
            SearchRequest {
                data_type: Some(1),
                ..SearchRequest::default()
            },
            SearchRequest {
                tags: vec![b"b".to_vec()],
                ..SearchRequest::default()
            },
        ];
        let driver = store
            .read_blocking(|c| {
                let counted = Counted::of(&requests[0]).unwrap();
                let title = Caller::title("default");
                let total = counted.total(c, &title, &requests[0], NOW - 2 * DAY)?;
                // A page of one: few matches of this small table pay for a walk.
                counted.page_driver(c, &requests[0], 1, total)
            })
            .unwrap();
        assert_eq!(
            driver,
            Driver::UpdatedTime,
            "a common tag walks the time index"
        );
        for caller in [Caller::title("default"), Caller::principal("default", 3)] {
            for request in &requests {
                let total = store
                    .read_blocking(|c| search(c, &caller, request, NOW - 2 * DAY, 0))
                    .unwrap()
                    .total;
                if total < 4 {
                    continue;
                }
                for (offset, limit) in [
                    (0, 1),
                    (0, 20),
                    (1, 20),
                    (total / 2, 20),
                    (total / 2 + 1, 1),
                    (total.saturating_sub(20), 20),
                    (total - 3, 20),
                ] {
                    let request = SearchRequest {
                        offset: Offset::At(offset),
                        limit,
                        ..request.clone()
                    };
                    let got: Vec<u64> = store
                        .read_blocking(|c| search(c, &caller, &request, NOW - 2 * DAY, 0))
                        .unwrap()
                        .objects
                        .iter()
                        .map(|o| o.data_id)
                        .collect();
                    let want = store
                        .read_blocking(|c| {
                            Ok(plain_page(
                                c,
                                &caller,
                                &request,
                                NOW - 2 * DAY,
                                offset,
                                limit,
                            )?)
                        })
                        .unwrap();
                    assert_eq!(got, want, "{caller:?} {request:?}");
                    assert_eq!(got.len() as u64, (total - offset).min(u64::from(limit)));
                }
            }
        }
    }

    #[test]
    fn a_page_is_a_window_of_the_sorted_matches() {
        let (_dir, store) = store();
        let ids = seed(&store);
        let caller = Caller::principal("default", 6);
        let sort = Sort {
            column: SortColumn::UpdatedTime,
            descending: true,
        };
        let all = SearchRequest {
            sort,
            limit: 10_000,
            ..SearchRequest::default()
        };
        let want = expected(&store, &ids, &caller, &all);
        let mut pages = Vec::new();
        for offset in (0..want.len() as u64 + 7).step_by(7) {
            let request = SearchRequest {
                sort,
                offset: Offset::At(offset),
                limit: 7,
                ..SearchRequest::default()
            };
            let page = store
                .read_blocking(|c| search(c, &caller, &request, NOW, 0))
                .unwrap();
            assert_eq!((page.offset, page.total), (offset, want.len() as u64));
            pages.extend(page.objects.iter().map(|o| o.data_id));
        }
        assert_eq!(pages, want);

        let any = SearchRequest {
            sort,
            offset: Offset::Any,
            ..SearchRequest::default()
        };
        let page = store
            .read_blocking(|c| search(c, &caller, &any, NOW, 12345))
            .unwrap();
        let start = page.offset as usize;
        let got: Vec<u64> = page.objects.iter().map(|o| o.data_id).collect();
        assert_eq!(got, want[start..start + 20]);
    }

    /// The data_ids of `limit` matches from `offset` by the plain query: the
    /// search's own filter, sorted, `LIMIT … OFFSET`, skipping everything before.
    fn plain_page(
        c: &Connection,
        caller: &Caller,
        request: &SearchRequest,
        now: i64,
        offset: u64,
        limit: u32,
    ) -> rusqlite::Result<Vec<u64>> {
        let sql = SearchSql::new(caller, request, now);
        let page = [
            (":limit", Value::from(limit)),
            (":offset", Value::from(offset as i64)),
        ];
        let mut stmt = c.prepare(&sql.page(request, false))?;
        stmt.query_map(&*sql.params(&page), |r| {
            r.get::<_, i64>(0).map(|id| id as u64)
        })?
        .collect()
    }

    /// A store counting in `search_blocks` from `horizon`, with random objects
    /// whose data_ids spread over about 150 blocks.
    fn spread_store(horizon: i64, seed: u64) -> (tempfile::TempDir, SqliteStore) {
        let (dir, store) = store();
        store
            .write_blocking(|tx| move_horizon(tx, horizon, true))
            .unwrap();
        seed_random(&store, &mut Rng(seed), 3000);
        (dir, store)
    }

    /// A row of `search_blocks`: namespace, status, kind, key, block, public, n.
    type BlockRow = (String, i64, i64, Value, i64, i64, i64);

    fn block_rows(c: &Connection, sql: &str) -> rusqlite::Result<Vec<BlockRow>> {
        let mut stmt = c.prepare(sql)?;
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect()
    }

    /// `search_blocks` without its rows of 0, and rebuilt from the objects as its
    /// migration fills it.
    fn blocks_and_recount(c: &Connection) -> rusqlite::Result<(Vec<BlockRow>, Vec<BlockRow>)> {
        let kept = block_rows(
            c,
            "SELECT namespace, status, kind, key, block, public, n FROM search_blocks
             WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5, 6",
        )?;
        let recounted = block_rows(
            c,
            "SELECT namespace, status, kind, key, block, public, count(*) FROM (
                 SELECT namespace, status, 0 AS kind, 0 AS key, data_id >> 14 AS block,
                     access_type = 0 AS public
                 FROM objects, search_horizon h WHERE state = 1 AND expire_time > h.horizon
                 UNION ALL
                 SELECT namespace, status, 1, data_type, data_id >> 14, access_type = 0
                 FROM objects, search_horizon h WHERE state = 1 AND expire_time > h.horizon
                 UNION ALL
                 SELECT o.namespace, o.status, 2, t.tag, o.data_id >> 14, o.access_type = 0
                 FROM objects o JOIN object_tags t ON t.data_id = o.data_id, search_horizon h
                 WHERE o.state = 1 AND o.expire_time > h.horizon)
             GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
        )?;
        Ok((kept, recounted))
    }

    #[test]
    fn the_blocks_equal_a_recount_after_random_writes_and_horizon_moves() {
        let (_dir, store) = spread_store(NOW - DAY, 11);
        for horizon in [NOW - DAY, NOW, NOW + 3 * HOUR, NOW - 2 * DAY, NOW + 3 * DAY] {
            let (got, want) = store
                .write_blocking(|tx| {
                    move_horizon(tx, horizon, true)?;
                    Ok(blocks_and_recount(tx)?)
                })
                .unwrap();
            assert_eq!(got, want, "horizon {horizon}");
            if horizon <= NOW {
                assert!(want.len() > 300, "{} blocks counted", want.len());
                assert!(
                    want.iter().map(|r| r.4).max() > Some(100),
                    "ids spread over blocks"
                );
            }
        }
        let horizon = |tx: &Connection| -> rusqlite::Result<i64> {
            tx.query_row("SELECT horizon FROM search_horizon", [], |r| r.get(0))
        };
        // The janitor only moves it forward.
        let after = store
            .write_blocking(|tx| {
                advance_horizon(tx, NOW)?;
                Ok(horizon(tx)?)
            })
            .unwrap();
        assert_eq!(after, NOW + 3 * DAY);
        // ... and by about HORIZON_STEP objects per move, each exact.
        store
            .write_blocking(|tx| move_horizon(tx, NOW - 3 * DAY, true))
            .unwrap();
        let mut moves = Vec::new();
        loop {
            let (at, got, want) = store
                .write_blocking(|tx| {
                    advance_horizon(tx, NOW + 3 * DAY)?;
                    let (got, want) = blocks_and_recount(tx)?;
                    Ok((horizon(tx)?, got, want))
                })
                .unwrap();
            assert_eq!(got, want, "horizon {at}");
            moves.push(at);
            if at == NOW + 3 * DAY {
                break;
            }
        }
        assert!(moves.len() >= 2 && moves[0] < NOW + DAY, "{moves:?}");
    }

    #[test]
    fn windows_found_through_the_blocks_are_those_of_the_plain_query() {
        let (_dir, store) = spread_store(NOW - 3 * HOUR, 13);
        let mut requests = vec![SearchRequest::default()];
        requests.extend((0..2).map(|t| SearchRequest {
            data_type: Some(t),
            ..SearchRequest::default()
        }));
        requests.extend(TAGS[..2].iter().map(|t| SearchRequest {
            tags: vec![t.to_vec()],
            ..SearchRequest::default()
        }));
        let mut seeks = 0;
        // Horizon behind now, at now, ahead of now.
        for now in [NOW, NOW - 3 * HOUR, NOW - 5 * HOUR] {
            for caller in [Caller::title("default"), Caller::title("other")] {
                for request in &requests {
                    for descending in [false, true] {
                        for status in [Status::None, Status::Pending] {
                            let request = SearchRequest {
                                sort: Sort {
                                    column: SortColumn::DataId,
                                    descending,
                                },
                                status,
                                limit: 20,
                                ..request.clone()
                            };
                            let counted = Counted::of(&request).unwrap();
                            let total = store
                                .read_blocking(|c| counted.total(c, &caller, &request, now))
                                .unwrap();
                            let step = (total / 7).max(1);
                            for offset in (0..total).step_by(step as usize).chain([total - 1]) {
                                let end = total.min(offset + 20);
                                let (got, want) = store
                                    .read_blocking(|c| {
                                        let got = counted.seek(
                                            c,
                                            &caller,
                                            &request,
                                            now,
                                            offset..end,
                                            total,
                                        )?;
                                        let want =
                                            plain_page(c, &caller, &request, now, offset, 20)?;
                                        Ok((got, want))
                                    })
                                    .unwrap();
                                assert_eq!(
                                    got.as_ref(),
                                    Some(&want),
                                    "{caller:?} at {now}, window {offset}..{end} of {total}: \
                                     {request:?}"
                                );
                                seeks += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(seeks > 500, "{seeks} windows checked");
    }

    #[test]
    fn a_deep_window_by_data_id_is_sought_and_a_lagging_janitor_falls_back() {
        let (_dir, store) = spread_store(NOW - HOUR, 17);
        // 6000 more, half of them expiring within 60 hours of NOW.
        store
            .write_blocking(|tx| {
                Ok(tx.execute_batch(&format!(
                    "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 6000)
                     INSERT INTO objects (data_id, namespace, owner_id, size, data_type, period,
                         access_type, update_type, status, state, created_time, updated_time,
                         referred_time, expire_time, access_password, update_password)
                     SELECT 10000000 + n * 37, 'default', 1, 0, 1, 90, 0, 3, 0, 1, {NOW}, {NOW},
                         {NOW}, CASE WHEN n % 2 = 0 THEN {NOW} + 10 * {DAY}
                         ELSE {NOW} + (n % 60) * {HOUR} END, 1, 1
                     FROM i"
                ))?)
            })
            .unwrap();
        let title = Caller::title("default");
        let request = SearchRequest {
            offset: Offset::At(SEEK_AFTER + 1),
            ..SearchRequest::default()
        };
        let plain = |now: i64| {
            store
                .read_blocking(|c| Ok(plain_page(c, &title, &request, now, SEEK_AFTER + 1, 20)?))
                .unwrap()
        };
        for now in [NOW, NOW + 3 * DAY] {
            let (page, sought) = store
                .read_blocking(|c| {
                    let title = Caller::title("default");
                    let page = search(c, &title, &request, now, 0)?;
                    let counted = Counted::of(&request).unwrap();
                    let window = SEEK_AFTER + 1..SEEK_AFTER + 21;
                    let sought = counted.seek(c, &title, &request, now, window, page.total)?;
                    Ok((page, sought.is_some()))
                })
                .unwrap();
            assert!(
                Counted::seeks(
                    &title,
                    &request,
                    SEEK_AFTER + 1,
                    SEEK_AFTER + 21,
                    page.total
                ),
                "{} matches",
                page.total
            );
            let ids: Vec<u64> = page.objects.iter().map(|o| o.data_id).collect();
            assert_eq!(ids, plain(now), "at {now}");
            // Three days past the horizon, more than the limit expired in between.
            assert_eq!(sought, now == NOW, "at {now}");
        }
    }
}
