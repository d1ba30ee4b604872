//! Objects with their tags, recipients, rating slots and persistence slots.
//! Batch writes check every item before changing any (DESIGN §9); the unit of
//! work is one `SERIALIZABLE` transaction, so no other node changes what it read
//! in between (a conflict runs it again, see `PgStore::write`).

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::blob;
use crate::domain::object::{Change, State};
use crate::domain::prepare::PrepareRequest;
use crate::domain::quota::{Quota, Usage};
use crate::domain::rating::RatingTotals;
use crate::domain::webhook::{DeleteReason, change_events, created_events};
use crate::domain::{Caller, DataFlags, Object, Permission, PermissionType, Status};
use crate::error::ApiError;
use crate::store::postgres::friends::{friends_for, known_friends};
use crate::store::postgres::notifications::notify_post;
use crate::store::postgres::webhooks::Outbox;
use crate::store::postgres::{
    PgError, PgStore, Tx, execute, one_row, opt_row, persistence, rows, sql_id,
};
use crate::store::{Objects, StoreError};

/// `object_recipients.kind` of access_permission recipients.
pub(crate) const ACCESS: i64 = 0;
/// `object_recipients.kind` of update_permission recipients.
pub(crate) const UPDATE: i64 = 1;

#[async_trait]
impl Objects for PgStore {
    async fn visible_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, StoreError> {
        self.read_statements((caller, ids, now), |tx, (caller, ids, now)| {
            Box::pin(async move {
                let objects: Vec<Object> =
                    load_many(tx, ids).await?.into_iter().flatten().collect();
                let known = friends_for(tx, caller, &objects).await?;
                Ok(objects
                    .into_iter()
                    .filter(|object| object.check_read(caller, &known, *now).is_ok())
                    .collect())
            })
        })
        .await
    }

    async fn readable_object(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
    ) -> Result<Object, StoreError> {
        self.read_statements((caller, id, now), |tx, (caller, id, now)| {
            Box::pin(async move {
                let object = load(tx, *id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(*id))?;
                let known = known_friends(tx, caller, [object.owner_id]).await?;
                object.check_read(caller, &known, *now)?;
                Ok(object)
            })
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
        self.write(
            (caller, ids, change, quota, now),
            move |tx, (caller, ids, change, quota, now)| {
                Box::pin(change_unit(tx, outbox, caller, ids, change, quota, *now))
            },
        )
        .await
    }

    async fn delete_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, StoreError> {
        let outbox = self.outbox();
        self.write((caller, ids, now), move |tx, (caller, ids, now)| {
            Box::pin(async move {
                let objects = load_for_update(tx, caller, ids, *now).await?;
                for object in &objects {
                    mark_deleted(tx, outbox, object, DeleteReason::Delete, *now).await?;
                }
                Ok(objects.len())
            })
        })
        .await
    }
}

/// The change of `ids`: every item loaded and checked, the quota checked, then
/// each written with its events.
async fn change_unit(
    tx: &Tx<'_>,
    outbox: Outbox,
    caller: &Caller,
    ids: &[u64],
    change: &Change,
    quota: &Quota,
    now: i64,
) -> Result<usize, PgError> {
    let status_only = change.is_status_only();
    let objects = load_for_update(tx, caller, ids, now).await?;
    if let Some(meta) = change.meta_binary.as_ref().filter(|_| quota.is_on()) {
        check_meta_quota(tx, quota, &objects, meta.len() as u64, now).await?;
    }
    for mut object in objects {
        let before = object.clone();
        object.apply(change, now);
        update(tx, &object, change).await?;
        outbox
            .enqueue_all(tx, change_events(&before, &object, status_only, now))
            .await?;
        // An approval makes the object visible: it is posted now (DESIGN §15).
        if change.approves(before.status) {
            notify_post(tx, outbox, &object, now).await?;
        }
    }
    Ok(ids.len())
}

impl PgStore {
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
        self.write(
            (caller, request, state, quota, owner, now),
            move |tx, (caller, request, state, quota, owner, now)| {
                Box::pin(create_unit(
                    tx, outbox, caller, request, *state, quota, *owner, *now,
                ))
            },
        )
        .await
    }
}

/// A new object of `owner`, in `state`: the quota checked, the row and its
/// tags, recipients, first version (for an upload) and rating slots written,
/// and its persistence slot taken.
#[allow(clippy::too_many_arguments)]
async fn create_unit(
    tx: &Tx<'_>,
    outbox: Outbox,
    caller: &Caller,
    request: &PrepareRequest,
    state: State,
    quota: &Quota,
    owner: u32,
    now: i64,
) -> Result<(u64, Option<String>), PgError> {
    let mut object = request.new_object(&caller.namespace, owner, state, now);
    if quota.is_on() {
        let before = usage(tx, &object.namespace, owner, now).await?;
        let after = before.plus_object(object.size, object.meta_binary.len() as u64);
        quota.check(owner, before, after)?;
    }
    let (access_password, update_password) = passwords()?;
    object.access_password = access_password;
    object.update_password = update_password;
    let id = insert(tx, &object).await?;
    object.data_id = id;
    let key = (state == State::Uploading).then(|| blob::upload_key(id, 1));
    if let Some(key) = &key {
        execute(
            tx,
            "UPDATE objects SET blob_key = $2 WHERE data_id = $1",
            &[&sql_id(id), key],
        )
        .await?;
        execute(
            tx,
            "INSERT INTO object_versions (data_id, version, size, blob_key, created_time, state)
             VALUES ($1, 1, $2, $3, $4, 0)",
            &[&sql_id(id), &(object.size as i64), key, &now],
        )
        .await?;
    }
    insert_ratings(tx, id, request).await?;
    if state == State::Ready {
        outbox.enqueue_all(tx, created_events(&object, now)).await?;
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
        )
        .await?;
        persistence::occupy(tx, &object.namespace, owner, p.slot, id).await?;
    }
    Ok((id, key))
}

/// What `owner` holds in `namespace` at `now` (DESIGN §16): live objects,
/// finished and unexpired or uploading (until the janitor drops them).
pub(crate) async fn usage(
    tx: &Tx<'_>,
    namespace: &str,
    owner: u32,
    now: i64,
) -> Result<Usage, PgError> {
    // Through objects_owner: an owner's rows only. sum(bigint) is NUMERIC.
    let r = one_row(
        tx,
        "SELECT count(*), coalesce(sum(size), 0)::bigint,
                coalesce(sum(octet_length(meta_binary)), 0)::bigint
         FROM objects WHERE namespace = $1 AND owner_id = $2
           AND (state = $3 OR (state = $4 AND expire_time > $5))",
        &[
            &namespace,
            &i64::from(owner),
            &(State::Uploading as i64),
            &(State::Ready as i64),
            &now,
        ],
    )
    .await?;
    Ok(Usage {
        objects: r.get::<_, i64>(0) as u64,
        bytes: r.get::<_, i64>(1) as u64,
        meta_bytes: r.get::<_, i64>(2) as u64,
    })
}

/// A new meta_binary of `new_len` bytes on every one of `objects`, held to each
/// owner's quota (a batch may span owners).
async fn check_meta_quota(
    tx: &Tx<'_>,
    quota: &Quota,
    objects: &[Object],
    new_len: u64,
    now: i64,
) -> Result<(), PgError> {
    let mut owners: Vec<(&str, u32)> = objects
        .iter()
        .map(|o| (o.namespace.as_str(), o.owner_id))
        .collect();
    owners.sort_unstable();
    owners.dedup();
    for (namespace, owner) in owners {
        let before = usage(tx, namespace, owner, now).await?;
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
/// The first id that is missing or may not change is the error, as item by item.
pub(crate) async fn load_for_update(
    tx: &Tx<'_>,
    caller: &Caller,
    ids: &[u64],
    now: i64,
) -> Result<Vec<Object>, PgError> {
    let found = load_many(tx, ids).await?;
    let known = known_friends(tx, caller, found.iter().flatten().map(|o| o.owner_id)).await?;
    let mut out = Vec::with_capacity(ids.len());
    for (&id, object) in ids.iter().zip(found) {
        let object = object.ok_or_else(|| ApiError::not_found(id))?;
        object.check_update(caller, &known, now)?;
        out.push(object);
    }
    Ok(out)
}

/// Checks update permission on every id, then runs `write` on each: a batch
/// write that changes nothing unless every item may change (DESIGN §9).
/// `write` gets the transaction and an id, and returns the future of its writes.
pub(crate) async fn update_each<F>(
    tx: &Tx<'_>,
    caller: &Caller,
    ids: &[u64],
    now: i64,
    mut write: F,
) -> Result<usize, PgError>
where
    F: for<'a> FnMut(&'a Tx<'a>, u64) -> futures_util::future::BoxFuture<'a, Result<(), PgError>>,
{
    load_for_update(tx, caller, ids, now).await?;
    for &id in ids {
        write(tx, id).await?;
    }
    Ok(ids.len())
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

/// The columns of an object with, in the same row, its tags, recipients and
/// rating slots (one round trip), read by [`object_from_row`].
const OBJECT_COLUMNS: &str = "data_id, namespace, owner_id, size, data_type, name, meta_binary,
    flags, period, refer_data_id, access_type, update_type, status, state, created_time,
    updated_time, referred_time, referred_count, expire_time, access_password, update_password,
    EXISTS (SELECT 1 FROM persistence_slots p WHERE p.data_id = o.data_id), blob_key, version,
    ARRAY(SELECT tag FROM object_tags t WHERE t.data_id = o.data_id ORDER BY tag),
    ARRAY(SELECT principal_id FROM object_recipients r
          WHERE r.data_id = o.data_id AND r.kind = 0 ORDER BY principal_id),
    ARRAY(SELECT principal_id FROM object_recipients r
          WHERE r.data_id = o.data_id AND r.kind = 1 ORDER BY principal_id),
    ARRAY(SELECT slot FROM rating_slots s WHERE s.data_id = o.data_id ORDER BY slot),
    ARRAY(SELECT count FROM rating_slots s WHERE s.data_id = o.data_id ORDER BY slot),
    ARRAY(SELECT total_value FROM rating_slots s WHERE s.data_id = o.data_id ORDER BY slot),
    ARRAY(SELECT initial_value FROM rating_slots s WHERE s.data_id = o.data_id ORDER BY slot)";

fn object_from_row(r: &Row) -> Object {
    let state = match r.get::<_, i64>(13) {
        0 => State::Uploading,
        1 => State::Ready,
        _ => State::Deleted,
    };
    let principals = |i: usize| -> Vec<u32> {
        r.get::<_, Vec<i64>>(i)
            .into_iter()
            .map(|p| p as u32)
            .collect()
    };
    let slots: Vec<i64> = r.get(27);
    let counts: Vec<i64> = r.get(28);
    let totals: Vec<i64> = r.get(29);
    let initials: Vec<i64> = r.get(30);
    let ratings = slots
        .iter()
        .zip(counts)
        .zip(totals)
        .zip(initials)
        .map(
            |(((&slot, count), total_value), initial_value)| RatingTotals {
                slot: slot as u8,
                count: count as u64,
                total_value,
                initial_value,
            },
        )
        .collect();
    Object {
        data_id: r.get::<_, i64>(0) as u64,
        namespace: r.get(1),
        owner_id: r.get::<_, i64>(2) as u32,
        size: r.get::<_, i64>(3) as u64,
        data_type: r.get::<_, i64>(4) as u16,
        name: r.get(5),
        meta_binary: r.get(6),
        flags: DataFlags(r.get::<_, i64>(7) as u32),
        period: r.get::<_, i64>(8) as u16,
        refer_data_id: r.get::<_, i64>(9) as u64,
        access: Permission {
            kind: PermissionType::from_i64(r.get(10)),
            recipients: principals(25),
        },
        update: Permission {
            kind: PermissionType::from_i64(r.get(11)),
            recipients: principals(26),
        },
        status: Status::from_i64(r.get(12)),
        state,
        created_time: r.get(14),
        updated_time: r.get(15),
        referred_time: r.get(16),
        referred_count: r.get::<_, i64>(17) as u64,
        expire_time: r.get(18),
        // Passwords are 64-bit values kept bit for bit in signed BIGINTs.
        access_password: r.get::<_, i64>(19) as u64,
        update_password: r.get::<_, i64>(20) as u64,
        tags: r.get(24),
        ratings,
        persisted: r.get(21),
        blob_key: r.get(22),
        version: r.get::<_, i64>(23) as u32,
    }
}

/// Loads an object with its tags, recipients and ratings, whatever its state.
pub(crate) async fn load(tx: &impl GenericClient, id: u64) -> Result<Option<Object>, PgError> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {OBJECT_COLUMNS} FROM objects o WHERE data_id = $1"));
    let row = opt_row(tx, &SQL, &[&sql_id(id)]).await?;
    Ok(row.as_ref().map(object_from_row))
}

/// [`load`] of each of `ids` in one statement: the objects in the order of
/// `ids` (`None` where there is none; a repeated id is repeated).
pub(crate) async fn load_many(
    tx: &impl GenericClient,
    ids: &[u64],
) -> Result<Vec<Option<Object>>, PgError> {
    match ids {
        [] => return Ok(Vec::new()),
        [id] => return Ok(vec![load(tx, *id).await?]),
        _ => {}
    }
    let keys: Vec<i64> = ids.iter().map(|&id| sql_id(id)).collect();
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {OBJECT_COLUMNS} FROM objects o WHERE data_id = ANY($1)"));
    let sql: &str = &SQL;
    let mut found: std::collections::HashMap<u64, Object> = rows(tx, sql, &[&keys])
        .await?
        .iter()
        .map(|r| {
            let object = object_from_row(r);
            (object.data_id, object)
        })
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        // The last mention of an id takes the object, the earlier ones a copy.
        let again = ids[i + 1..].contains(id);
        out.push(match again {
            true => found.get(id).cloned(),
            false => found.remove(id),
        });
    }
    Ok(out)
}

/// Inserts `o` with its tags and recipients; its data_id comes from the identity
/// column (one sequence for every node, never reused).
pub(crate) async fn insert(tx: &Tx<'_>, o: &Object) -> Result<u64, PgError> {
    let row = one_row(
        tx,
        "INSERT INTO objects (namespace, owner_id, size, data_type, name, meta_binary, flags,
            period, refer_data_id, access_type, update_type, status, state, created_time,
            updated_time, referred_time, referred_count, expire_time, access_password,
            update_password, blob_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18, $19, $20, $21)
         RETURNING data_id",
        &[
            &o.namespace,
            &i64::from(o.owner_id),
            &(o.size as i64),
            &i64::from(o.data_type),
            &o.name,
            &o.meta_binary,
            &i64::from(o.flags.0),
            &i64::from(o.period),
            &(o.refer_data_id as i64),
            &(o.access.kind as i64),
            &(o.update.kind as i64),
            &(o.status as i64),
            &(o.state as i64),
            &o.created_time,
            &o.updated_time,
            &o.referred_time,
            &(o.referred_count as i64),
            &o.expire_time,
            &(o.access_password as i64),
            &(o.update_password as i64),
            &o.blob_key,
        ],
    )
    .await?;
    let id = row.get::<_, i64>(0) as u64;
    replace_tags(tx, id, &o.tags).await?;
    replace_recipients(tx, id, ACCESS, &o.access.recipients).await?;
    replace_recipients(tx, id, UPDATE, &o.update.recipients).await?;
    Ok(id)
}

/// The rating slots `request` initialises, each at its initial value.
pub(crate) async fn insert_ratings(
    tx: &Tx<'_>,
    id: u64,
    request: &PrepareRequest,
) -> Result<(), PgError> {
    for r in &request.ratings {
        execute(
            tx,
            "INSERT INTO rating_slots (data_id, slot, flags, initial_value, range_min, range_max,
                lock_type, period_hour, period_duration, total_value, count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $4, 0)",
            &[
                &sql_id(id),
                &i64::from(r.slot),
                &i64::from(r.flags),
                &r.initial_value,
                &r.range_min.map(i64::from),
                &r.range_max.map(i64::from),
                &(r.lock as i64),
                &i64::from(r.period_hour),
                &i64::from(r.period_duration),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Writes back what a change may touch.
pub(crate) async fn update(tx: &Tx<'_>, o: &Object, change: &Change) -> Result<(), PgError> {
    execute(
        tx,
        "UPDATE objects SET name = $1, meta_binary = $2, period = $3,
            access_type = $4, update_type = $5, status = $6,
            updated_time = $7, referred_count = $8,
            expire_time = $9
         WHERE data_id = $10",
        &[
            &o.name,
            &o.meta_binary,
            &i64::from(o.period),
            &(o.access.kind as i64),
            &(o.update.kind as i64),
            &(o.status as i64),
            &o.updated_time,
            &(o.referred_count as i64),
            &o.expire_time,
            &sql_id(o.data_id),
        ],
    )
    .await?;
    if change.tags.is_some() {
        replace_tags(tx, o.data_id, &o.tags).await?;
    }
    if change.access.is_some() {
        replace_recipients(tx, o.data_id, ACCESS, &o.access.recipients).await?;
    }
    if change.update.is_some() {
        replace_recipients(tx, o.data_id, UPDATE, &o.update.recipients).await?;
    }
    Ok(())
}

async fn replace_tags(tx: &Tx<'_>, id: u64, tags: &[Vec<u8>]) -> Result<(), PgError> {
    execute(
        tx,
        "DELETE FROM object_tags WHERE data_id = $1",
        &[&sql_id(id)],
    )
    .await?;
    if !tags.is_empty() {
        execute(
            tx,
            "INSERT INTO object_tags (data_id, tag) SELECT $1, unnest($2::bytea[])",
            &[&sql_id(id), &tags],
        )
        .await?;
    }
    Ok(())
}

async fn replace_recipients(
    tx: &Tx<'_>,
    id: u64,
    kind: i64,
    recipients: &[u32],
) -> Result<(), PgError> {
    execute(
        tx,
        "DELETE FROM object_recipients WHERE data_id = $1 AND kind = $2",
        &[&sql_id(id), &kind],
    )
    .await?;
    if !recipients.is_empty() {
        let principals: Vec<i64> = recipients.iter().map(|&p| i64::from(p)).collect();
        execute(
            tx,
            "INSERT INTO object_recipients (data_id, kind, principal_id)
             SELECT $1, $2, unnest($3::bigint[])",
            &[&sql_id(id), &kind, &principals],
        )
        .await?;
    }
    Ok(())
}

/// Logical delete: gone for every caller at once, purged after the retention window.
/// A persistence slot holding the object is freed; `object.deleted` says why.
pub(crate) async fn mark_deleted(
    tx: &Tx<'_>,
    outbox: Outbox,
    object: &Object,
    reason: DeleteReason,
    now: i64,
) -> Result<(), PgError> {
    let id = object.data_id;
    execute(
        tx,
        "UPDATE objects SET state = $2, deleted_time = $3 WHERE data_id = $1",
        &[&sql_id(id), &(State::Deleted as i64), &now],
    )
    .await?;
    execute(
        tx,
        "DELETE FROM persistence_slots WHERE data_id = $1",
        &[&sql_id(id)],
    )
    .await?;
    outbox.enqueue(tx, &reason.event(object, now)).await
}
