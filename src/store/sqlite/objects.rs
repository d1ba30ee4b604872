//! Objects with their tags, recipients, rating slots and persistence slots.
//! Batch writes check every item before changing any (DESIGN §9).

use std::rc::Rc;

use rusqlite::types::Value;
use rusqlite::vtab::array::Array;
use rusqlite::{Connection, Row, named_params, params};

use crate::blob;
use crate::domain::object::{Change, State};
use crate::domain::prepare::PrepareRequest;
use crate::domain::quota::{Quota, Usage};
use crate::domain::rating::RatingTotals;
use crate::domain::search::Shown;
use crate::domain::webhook::{DeleteReason, change_events, created_events};
use crate::domain::{Caller, DataFlags, Object, Permission, PermissionType, Status};
use crate::error::ApiError;
use crate::store::sqlite::notifications::notify_post;
use crate::store::sqlite::webhooks::Outbox;
use crate::store::sqlite::{SqliteStore, persistence};
use crate::store::{Objects, StoreError};
use async_trait::async_trait;

/// `object_recipients.kind` of access_permission recipients.
pub(super) const ACCESS: i64 = 0;
const UPDATE: i64 = 1;

#[async_trait]
impl Objects for SqliteStore {
    async fn visible_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, StoreError> {
        self.read_bounded(move |conn| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(object) = load(conn, id)?
                    && object.check_read(&caller, conn, now).is_ok()
                {
                    out.push(object);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn readable_object(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
    ) -> Result<Object, StoreError> {
        // One statement loads the object; a friend list that check_read may look
        // up is a fact of its own, which needs no common snapshot with it.
        self.read_bounded_autocommit(move |conn| {
            let object = load(conn, id)?.ok_or_else(|| ApiError::not_found(id))?;
            object.check_read(&caller, conn, now)?;
            Ok(object)
        })
        .await
    }

    async fn create_meta_only(
        &self,
        caller: Caller,
        request: PrepareRequest,
        quota: Quota,
        now: i64,
    ) -> Result<u64, StoreError> {
        let (id, _) = self
            .create(caller, request, State::Ready, quota, now)
            .await?;
        Ok(id)
    }

    async fn create_upload(
        &self,
        caller: Caller,
        request: PrepareRequest,
        quota: Quota,
        now: i64,
    ) -> Result<(u64, String), StoreError> {
        let (id, key) = self
            .create(caller, request, State::Uploading, quota, now)
            .await?;
        Ok((id, key.unwrap_or_default()))
    }

    async fn change_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        change: Change,
        quota: Quota,
        now: i64,
    ) -> Result<usize, StoreError> {
        change.check_caller(&caller)?;
        let outbox = self.outbox();
        let status_only = change.is_status_only();
        self.write(move |tx| {
            let objects = load_for_update(tx, &caller, &ids, now)?;
            if let Some(meta) = change.meta_binary.as_ref().filter(|_| quota.is_on()) {
                check_meta_quota(tx, &quota, &objects, meta.len() as u64, now)?;
            }
            for mut object in objects {
                let before = object.clone();
                object.apply(&change, now);
                update(tx, &object, &change)?;
                outbox.enqueue_all(tx, change_events(&before, &object, status_only, now))?;
                // An approval makes the object visible: it is posted now (DESIGN §15).
                if change.approves(before.status) {
                    notify_post(tx, outbox, &object, now)?;
                }
            }
            Ok(ids.len())
        })
        .await
    }

    async fn delete_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, StoreError> {
        let outbox = self.outbox();
        self.write(move |tx| {
            let objects = load_for_update(tx, &caller, &ids, now)?;
            for object in &objects {
                mark_deleted(tx, outbox, object, DeleteReason::Delete, now)?;
            }
            Ok(objects.len())
        })
        .await
    }
}

impl SqliteStore {
    async fn create(
        &self,
        caller: Caller,
        request: PrepareRequest,
        state: State,
        quota: Quota,
        now: i64,
    ) -> Result<(u64, Option<String>), StoreError> {
        let owner = request.owner_for(&caller)?;
        let outbox = self.outbox();
        self.write(move |tx| {
            let mut object = request.new_object(&caller.namespace, owner, state, now);
            if quota.is_on() {
                let before = usage(tx, &object.namespace, owner, now)?;
                let after = before.plus_object(object.size, object.meta_binary.len() as u64);
                quota.check(owner, before, after)?;
            }
            let (access_password, update_password) = passwords()?;
            object.access_password = access_password;
            object.update_password = update_password;
            let id = insert(tx, &object)?;
            object.data_id = id;
            let key = (state == State::Uploading).then(|| blob::upload_key(id, 1));
            if let Some(key) = &key {
                tx.prepare_cached("UPDATE objects SET blob_key = ?2 WHERE data_id = ?1")?
                    .execute(params![sql_id(id), key])?;
                tx.prepare_cached(
                    "INSERT INTO object_versions (data_id, version, size, blob_key, created_time, state)
                     VALUES (?1, 1, ?2, ?3, ?4, 0)",
                )?
                .execute(params![sql_id(id), object.size as i64, key, now])?;
            }
            insert_ratings(tx, id, &request)?;
            if state == State::Ready {
                outbox.enqueue_all(tx, created_events(&object, now))?;
            }
            if let Some(p) = request.persistence {
                persistence::release(
                    tx,
                    outbox,
                    &object.namespace,
                    owner,
                    p.slot,
                    p.delete_last_object,
                    now,
                )?;
                persistence::occupy(tx, &object.namespace, owner, p.slot, id)?;
            }
            Ok((id, key))
        })
        .await
    }
}

/// What `owner` holds in `namespace` at `now` (DESIGN §16): live objects,
/// finished and unexpired or uploading (until the janitor drops them).
pub(crate) fn usage(
    conn: &Connection,
    namespace: &str,
    owner: u32,
    now: i64,
) -> Result<Usage, ApiError> {
    // Through objects_owner: an owner's rows only.
    let mut stmt = conn.prepare_cached(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(length(meta_binary)), 0)
         FROM objects WHERE namespace = ?1 AND owner_id = ?2
           AND (state = ?3 OR (state = ?4 AND expire_time > ?5))",
    )?;
    Ok(stmt.query_row(
        params![
            namespace,
            owner,
            State::Uploading as i64,
            State::Ready as i64,
            now
        ],
        |r| {
            Ok(Usage {
                objects: r.get::<_, i64>(0)? as u64,
                bytes: r.get::<_, i64>(1)? as u64,
                meta_bytes: r.get::<_, i64>(2)? as u64,
            })
        },
    )?)
}

/// A new meta_binary of `new_len` bytes on every one of `objects`, held to each
/// owner's quota (a batch may span owners).
fn check_meta_quota(
    conn: &Connection,
    quota: &Quota,
    objects: &[Object],
    new_len: u64,
    now: i64,
) -> Result<(), ApiError> {
    let mut owners: Vec<(&str, u32)> = objects
        .iter()
        .map(|o| (o.namespace.as_str(), o.owner_id))
        .collect();
    owners.sort_unstable();
    owners.dedup();
    for (namespace, owner) in owners {
        let before = usage(conn, namespace, owner, now)?;
        let after = objects
            .iter()
            .filter(|o| o.owner_id == owner && o.namespace == namespace)
            .fold(before, |usage, o| {
                let meta = |len: u64| Usage {
                    meta_bytes: len,
                    ..Usage::default()
                };
                usage.replacing(meta(o.meta_binary.len() as u64), meta(new_len))
            });
        quota.check(owner, before, after)?;
    }
    Ok(())
}

/// Loads every id and checks update permission on each before anything changes.
pub(crate) fn load_for_update(
    conn: &Connection,
    caller: &Caller,
    ids: &[u64],
    now: i64,
) -> Result<Vec<Object>, ApiError> {
    ids.iter()
        .map(|&id| {
            let object = load(conn, id)?.ok_or_else(|| ApiError::not_found(id))?;
            object.check_update(caller, conn, now)?;
            Ok(object)
        })
        .collect()
}

/// Checks update permission on every id, then runs `write` on each: a batch
/// write that changes nothing unless every item may change (DESIGN §9).
pub(crate) fn update_each(
    conn: &Connection,
    caller: &Caller,
    ids: &[u64],
    now: i64,
    mut write: impl FnMut(u64) -> Result<(), ApiError>,
) -> Result<usize, ApiError> {
    load_for_update(conn, caller, ids, now)?;
    for &id in ids {
        write(id)?;
    }
    Ok(ids.len())
}

pub(crate) fn sql_id(id: u64) -> i64 {
    // data_ids come from SQLite's 63-bit rowids; larger ids simply match nothing.
    i64::try_from(id).unwrap_or(-1)
}

/// Two random non-zero 64-bit passwords.
fn passwords() -> Result<(u64, u64), ApiError> {
    let pick = || loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(e.to_string()))?;
        let value = u64::from_le_bytes(bytes);
        if value != 0 {
            return Ok::<_, ApiError>(value);
        }
    };
    Ok((pick()?, pick()?))
}

/// The columns [`object_from_row`] reads, as a literal so that statements are
/// put together at compile time (no `format!` on every read).
macro_rules! object_columns {
    () => {
        "data_id,namespace,owner_id,size,data_type,name,meta_binary,flags,period,\
         refer_data_id,access_type,update_type,status,state,created_time,updated_time,\
         referred_time,referred_count,expire_time,access_password,update_password,\
         EXISTS(SELECT 1 FROM persistence_slots p WHERE p.data_id=o.data_id),blob_key,version"
    };
}

/// The rows that complete objects, in one statement: `(part, data_id, a, b, c, d)`
/// with part 0 a tag (`a`), 1 an access and 2 an update recipient (`a`), 3 a
/// rating slot (`a` slot, `b` count, `c` total, `d` initial value); the listed
/// parts only. Each table is joined as `$from <table> $on <table>.data_id = $key`;
/// `$pad` follows the six columns (zeros, to match a wider statement).
macro_rules! object_parts {
    ($from:literal, $on:literal, $key:literal, $pad:literal; $first:ident $(, $rest:ident)*) => {
        concat!(
            object_part!($first, $from, $on, $key, $pad)
            $(, " UNION ALL ", object_part!($rest, $from, $on, $key, $pad))*
        )
    };
}

macro_rules! object_part {
    (tags, $from:literal, $on:literal, $key:literal, $pad:literal) => {
        concat!(
            "SELECT 0,t.data_id,t.tag,0,0,0",
            $pad,
            " FROM ",
            $from,
            "object_tags t ",
            $on,
            " t.data_id=",
            $key
        )
    };
    (recipients, $from:literal, $on:literal, $key:literal, $pad:literal) => {
        concat!(
            "SELECT 1+r.kind,r.data_id,r.principal_id,0,0,0",
            $pad,
            " FROM ",
            $from,
            "object_recipients r ",
            $on,
            " r.data_id=",
            $key
        )
    };
    (ratings, $from:literal, $on:literal, $key:literal, $pad:literal) => {
        concat!(
            "SELECT 3,s.data_id,s.slot,s.count,s.total_value,s.initial_value",
            $pad,
            " FROM ",
            $from,
            "rating_slots s ",
            $on,
            " s.data_id=",
            $key
        )
    };
}

/// `part` of the row that is the object itself in [`load`]'s statement, whose
/// columns follow it (the parts' rows are padded with zeros to match).
const OBJECT_PART: i64 = 4;

/// An object's tags, recipients and rating slots, as the rows of [`object_parts!`]
/// bring them.
#[derive(Default)]
struct Parts {
    tags: Vec<Vec<u8>>,
    access: Vec<u32>,
    update: Vec<u32>,
    ratings: Vec<RatingTotals>,
}

impl Parts {
    /// Adds a row of [`object_parts!`].
    fn add(&mut self, row: &Row<'_>) -> rusqlite::Result<()> {
        match row.get::<_, i64>(0)? {
            0 => self.tags.push(row.get(2)?),
            1 => self.access.push(row.get(2)?),
            2 => self.update.push(row.get(2)?),
            _ => self.ratings.push(RatingTotals {
                slot: row.get(2)?,
                count: row.get::<_, i64>(3)? as u64,
                total_value: row.get(4)?,
                initial_value: row.get(5)?,
            }),
        }
        Ok(())
    }

    /// `object` with these parts, in the order every answer shows.
    fn complete(self, mut object: Object) -> Object {
        object.tags = self.tags;
        object.access.recipients = self.access;
        object.update.recipients = self.update;
        object.ratings = self.ratings;
        order_parts(&mut object);
        object
    }
}

/// Tags by their bytes, recipients by id, ratings by slot: the order every
/// answer shows. The rows come that way (each table's key), so this only checks.
fn order_parts(object: &mut Object) {
    object.tags.sort_unstable();
    object.access.recipients.sort_unstable();
    object.update.recipients.sort_unstable();
    object.ratings.sort_unstable_by_key(|r| r.slot);
}

fn object_from_row(r: &Row<'_>) -> rusqlite::Result<Object> {
    object_from_columns(r, 0)
}

/// The object in the columns of [`object_columns!`], which start at `at`.
fn object_from_columns(r: &Row<'_>, at: usize) -> rusqlite::Result<Object> {
    let state = match r.get::<_, i64>(at + 13)? {
        0 => State::Uploading,
        1 => State::Ready,
        _ => State::Deleted,
    };
    Ok(Object {
        data_id: r.get::<_, i64>(at)? as u64,
        namespace: r.get(at + 1)?,
        owner_id: r.get(at + 2)?,
        size: r.get::<_, i64>(at + 3)? as u64,
        data_type: r.get(at + 4)?,
        name: r.get(at + 5)?,
        meta_binary: r.get(at + 6)?,
        flags: DataFlags(r.get(at + 7)?),
        period: r.get(at + 8)?,
        refer_data_id: r.get::<_, i64>(at + 9)? as u64,
        access: Permission {
            kind: PermissionType::from_i64(r.get(at + 10)?),
            recipients: Vec::new(),
        },
        update: Permission {
            kind: PermissionType::from_i64(r.get(at + 11)?),
            recipients: Vec::new(),
        },
        status: Status::from_i64(r.get(at + 12)?),
        state,
        created_time: r.get(at + 14)?,
        updated_time: r.get(at + 15)?,
        referred_time: r.get(at + 16)?,
        referred_count: r.get::<_, i64>(at + 17)? as u64,
        expire_time: r.get(at + 18)?,
        // Passwords are 64-bit values kept bit for bit in SQLite's signed integers.
        access_password: r.get::<_, i64>(at + 19)? as u64,
        update_password: r.get::<_, i64>(at + 20)? as u64,
        tags: Vec::new(),
        ratings: Vec::new(),
        persisted: r.get(at + 21)?,
        blob_key: r.get(at + 22)?,
        version: r.get(at + 23)?,
    })
}

/// Loads an object with its tags, recipients and ratings, whatever its state, in
/// one statement: the object's row, then its parts' rows. One statement reads
/// one snapshot, so a caller needs no transaction around it.
pub fn load(conn: &Connection, id: u64) -> Result<Option<Object>, ApiError> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT 4,", // OBJECT_PART
        object_columns!(),
        " FROM objects o WHERE data_id=?1 UNION ALL ",
        // SQL is short where it can be: a cached statement is found by hashing its text.
        object_parts!("", "WHERE", "?1", ",0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0";
            tags, recipients, ratings)
    ))?;
    let mut rows = stmt.query([sql_id(id)])?;
    // The object's row comes first (SQLite runs the arms of a UNION ALL in
    // order), but the parts are gathered apart so that nothing relies on it.
    let mut object = None;
    let mut parts = Parts::default();
    while let Some(row) = rows.next()? {
        if row.get::<_, i64>(0)? == OBJECT_PART {
            object = Some(object_from_columns(row, 1)?);
        } else {
            parts.add(row)?;
        }
    }
    Ok(object.map(|object| parts.complete(object)))
}

/// Loads the objects of `ids` in that order (missing ones and repeats skipped)
/// with two statements in all rather than two per object: a page of search
/// results. The ids go in as one array (`rarray`) that each statement walks in
/// order, seeking every id in the table's key, so no statement sorts or builds
/// a temporary index.
pub fn load_many(conn: &Connection, ids: &[u64]) -> Result<Vec<Object>, ApiError> {
    load_showing(conn, ids, Shown::default())
}

/// [`load_many`], with tags and ratings left empty where `shown` says the
/// answer does not show them (recipients are always loaded: every answer shows them).
pub fn load_showing(conn: &Connection, ids: &[u64], shown: Shown) -> Result<Vec<Object>, ApiError> {
    use std::collections::{HashMap, HashSet};
    if ids.len() < 2 {
        return ids
            .iter()
            .filter_map(|&id| load(conn, id).transpose())
            .collect();
    }
    let mut seen = HashSet::with_capacity(ids.len());
    let list: Array = Rc::new(
        ids.iter()
            .filter(|&&id| seen.insert(id))
            .map(|&id| Value::from(sql_id(id)))
            .collect(),
    );
    let mut found: Vec<Object> = Vec::with_capacity(list.len());
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        object_columns!(),
        " FROM rarray(?1) a CROSS JOIN objects o ON o.data_id = a.value"
    ))?;
    let mut rows = stmt.query([&list])?;
    while let Some(row) = rows.next()? {
        found.push(object_from_row(row)?);
    }
    let at: HashMap<u64, usize> = found
        .iter()
        .enumerate()
        .map(|(i, o)| (o.data_id, i))
        .collect();
    let parts = match (shown.tags, shown.ratings) {
        (true, true) => {
            object_parts!("rarray(?1) a CROSS JOIN ", "ON", "a.value", ""; tags, recipients, ratings)
        }
        (true, false) => {
            object_parts!("rarray(?1) a CROSS JOIN ", "ON", "a.value", ""; tags, recipients)
        }
        (false, true) => {
            object_parts!("rarray(?1) a CROSS JOIN ", "ON", "a.value", ""; recipients, ratings)
        }
        (false, false) => {
            object_parts!("rarray(?1) a CROSS JOIN ", "ON", "a.value", ""; recipients)
        }
    };
    let mut stmt = conn.prepare_cached(parts)?;
    let mut rows = stmt.query([&list])?;
    let mut parts: Vec<Parts> = found.iter().map(|_| Parts::default()).collect();
    while let Some(row) = rows.next()? {
        if let Some(&i) = at.get(&(row.get::<_, i64>(1)? as u64)) {
            parts[i].add(row)?;
        }
    }
    Ok(found
        .into_iter()
        .zip(parts)
        .map(|(object, parts)| parts.complete(object))
        .collect())
}

fn insert(conn: &Connection, o: &Object) -> Result<u64, ApiError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO objects (namespace, owner_id, size, data_type, name, meta_binary, flags,
            period, refer_data_id, access_type, update_type, status, state, created_time,
            updated_time, referred_time, referred_count, expire_time, access_password,
            update_password, blob_key)
         VALUES (:namespace, :owner_id, :size, :data_type, :name, :meta_binary, :flags,
            :period, :refer_data_id, :access_type, :update_type, :status, :state, :created_time,
            :updated_time, :referred_time, :referred_count, :expire_time, :access_password,
            :update_password, :blob_key)",
    )?;
    stmt.execute(named_params! {
        ":namespace": o.namespace,
        ":owner_id": o.owner_id,
        ":size": o.size as i64,
        ":data_type": o.data_type,
        ":name": o.name,
        ":meta_binary": o.meta_binary,
        ":flags": o.flags.0,
        ":period": o.period,
        ":refer_data_id": o.refer_data_id as i64,
        ":access_type": o.access.kind as i64,
        ":update_type": o.update.kind as i64,
        ":status": o.status as i64,
        ":state": o.state as i64,
        ":created_time": o.created_time,
        ":updated_time": o.updated_time,
        ":referred_time": o.referred_time,
        ":referred_count": o.referred_count as i64,
        ":expire_time": o.expire_time,
        ":access_password": o.access_password as i64,
        ":update_password": o.update_password as i64,
        ":blob_key": o.blob_key,
    })?;
    let id = conn.last_insert_rowid() as u64;
    replace_tags(conn, id, &o.tags)?;
    replace_recipients(conn, id, ACCESS, &o.access.recipients)?;
    replace_recipients(conn, id, UPDATE, &o.update.recipients)?;
    Ok(id)
}

fn insert_ratings(conn: &Connection, id: u64, request: &PrepareRequest) -> Result<(), ApiError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO rating_slots (data_id, slot, flags, initial_value, range_min, range_max,
            lock_type, period_hour, period_duration, total_value, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?4, 0)",
    )?;
    for r in &request.ratings {
        stmt.execute(params![
            sql_id(id),
            r.slot,
            r.flags,
            r.initial_value,
            r.range_min,
            r.range_max,
            r.lock as i64,
            r.period_hour,
            r.period_duration,
        ])?;
    }
    Ok(())
}

/// Writes back what a change may touch.
fn update(conn: &Connection, o: &Object, change: &Change) -> Result<(), ApiError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE objects SET name = :name, meta_binary = :meta_binary, period = :period,
            access_type = :access_type, update_type = :update_type, status = :status,
            updated_time = :updated_time, referred_count = :referred_count,
            expire_time = :expire_time
         WHERE data_id = :data_id",
    )?;
    stmt.execute(named_params! {
        ":name": o.name,
        ":meta_binary": o.meta_binary,
        ":period": o.period,
        ":access_type": o.access.kind as i64,
        ":update_type": o.update.kind as i64,
        ":status": o.status as i64,
        ":updated_time": o.updated_time,
        ":referred_count": o.referred_count as i64,
        ":expire_time": o.expire_time,
        ":data_id": sql_id(o.data_id),
    })?;
    if change.tags.is_some() {
        replace_tags(conn, o.data_id, &o.tags)?;
    }
    if change.access.is_some() {
        replace_recipients(conn, o.data_id, ACCESS, &o.access.recipients)?;
    }
    if change.update.is_some() {
        replace_recipients(conn, o.data_id, UPDATE, &o.update.recipients)?;
    }
    Ok(())
}

fn replace_tags(conn: &Connection, id: u64, tags: &[Vec<u8>]) -> Result<(), ApiError> {
    conn.prepare_cached("DELETE FROM object_tags WHERE data_id = ?1")?
        .execute([sql_id(id)])?;
    let mut stmt = conn.prepare_cached("INSERT INTO object_tags (data_id, tag) VALUES (?1, ?2)")?;
    for tag in tags {
        stmt.execute(params![sql_id(id), tag])?;
    }
    Ok(())
}

fn replace_recipients(
    conn: &Connection,
    id: u64,
    kind: i64,
    recipients: &[u32],
) -> Result<(), ApiError> {
    conn.prepare_cached("DELETE FROM object_recipients WHERE data_id = ?1 AND kind = ?2")?
        .execute(params![sql_id(id), kind])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO object_recipients (data_id, kind, principal_id) VALUES (?1, ?2, ?3)",
    )?;
    for principal in recipients {
        stmt.execute(params![sql_id(id), kind, principal])?;
    }
    Ok(())
}

/// Logical delete: gone for every caller at once, purged after the retention window.
/// A persistence slot holding the object is freed; `object.deleted` says why.
pub(crate) fn mark_deleted(
    conn: &Connection,
    outbox: Outbox,
    object: &Object,
    reason: DeleteReason,
    now: i64,
) -> Result<(), ApiError> {
    let id = object.data_id;
    conn.prepare_cached("UPDATE objects SET state = ?2, deleted_time = ?3 WHERE data_id = ?1")?
        .execute(params![sql_id(id), State::Deleted as i64, now])?;
    conn.prepare_cached("DELETE FROM persistence_slots WHERE data_id = ?1")?
        .execute([sql_id(id)])?;
    outbox.enqueue(conn, &reason.event(object, now))
}
