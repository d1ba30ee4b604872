//! A principal's data as a whole (GS2 describeDataObjects, dumpUserDataByUserId,
//! cleanUserDataByUserId): listing what they own in every state, the snapshot an
//! export archives, and erasing all of it in one transaction.

use async_trait::async_trait;

use crate::domain::Status;
use crate::domain::object::State;
use crate::domain::persistence::PersistenceInfo;
use crate::domain::principal_data::{
    Erased, GivenRating, ListWindow, Listed, OwnedObject, OwnedPage, PrincipalData, RatingLock,
    withdraw_rating,
};
use crate::domain::webhook::{DeleteReason, Event, EventType};
use crate::store::postgres::objects::load_many;
use crate::store::postgres::webhooks::Outbox;
use crate::store::postgres::{PgError, PgStore, Tx, execute, rows};
use crate::store::{Principals, QueuedFile, StoreError};

/// Owned objects after a data_id, filtered by state (and review status for finished
/// ones), through `objects_owner`.
const LIST_SQL: &str = "SELECT data_id FROM objects
     WHERE namespace = $1 AND owner_id = $2 AND data_id > $3
       AND ((state = 0 AND $4::boolean AND created_time > $5)
         OR (state = 1 AND $6::boolean AND expire_time > $7
             AND ($8::bigint < 0 OR status = $8::bigint))
         OR (state = 2 AND $9::boolean AND deleted_time >= $10))
     ORDER BY data_id LIMIT $11";

/// Every owned object, whatever its state.
const OWNED_SQL: &str = "SELECT data_id, deleted_time FROM objects
     WHERE namespace = $1 AND owner_id = $2 ORDER BY data_id";

const SLOTS_SQL: &str = "SELECT slot, data_id FROM persistence_slots
     WHERE namespace = $1 AND principal_id = $2 ORDER BY slot";

/// Ratings the principal gave on objects of the namespace, with their slot's state.
const GIVEN_SQL: &str = "SELECT e.data_id, e.slot, e.value, e.rated_time, o.owner_id,
            s.total_value, s.count, s.flags
     FROM rating_entries e
     JOIN objects o ON o.data_id = e.data_id
     JOIN rating_slots s ON s.data_id = e.data_id AND s.slot = e.slot
     WHERE e.rater_id = $2 AND o.namespace = $1
     ORDER BY e.data_id, e.slot";

const LOCKS_SQL: &str = "SELECT l.data_id, l.slot, l.locked_until
     FROM rating_locks l JOIN objects o ON o.data_id = l.data_id
     WHERE l.rater_id = $2 AND o.namespace = $1
     ORDER BY l.data_id, l.slot";

const ERASE_LOCKS_SQL: &str = "DELETE FROM rating_locks WHERE rater_id = $2 AND EXISTS
     (SELECT 1 FROM objects o WHERE o.data_id = rating_locks.data_id AND o.namespace = $1)";

const ERASE_SLOTS_SQL: &str =
    "DELETE FROM persistence_slots WHERE namespace = $1 AND principal_id = $2";

/// The files of a principal's objects: current files and every version (a version
/// still uploading counts as an upload, state 0, like an object still uploading).
/// In SQLite's order: the objects' files by data_id, then the versions'.
const KEYS_SQL: &str = "SELECT blob_key, state, created_time FROM
     (SELECT 0 AS part, data_id, 0::bigint AS version, blob_key, state, created_time
      FROM objects
      WHERE namespace = $1 AND owner_id = $2 AND blob_key IS NOT NULL
      UNION ALL
      SELECT 1, v.data_id, v.version, v.blob_key, CASE v.state WHEN 0 THEN 0 ELSE 1 END::bigint,
          v.created_time
      FROM object_versions v JOIN objects o ON o.data_id = v.data_id
      WHERE o.namespace = $1 AND o.owner_id = $2) f
     ORDER BY part, data_id, version";

/// The finished objects an erase removes, for their `object.deleted`.
const LIVE_SQL: &str = "SELECT data_id FROM objects
     WHERE namespace = $1 AND owner_id = $2 AND state = $3 ORDER BY data_id";

const ERASE_OBJECTS_SQL: &str = "DELETE FROM objects WHERE namespace = $1 AND owner_id = $2";

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
        self.read(
            (namespace, owner, filter, after, limit, window),
            |tx, (namespace, owner, filter, after, limit, window)| {
                Box::pin(owned_objects(
                    tx, namespace, *owner, *filter, *after, *limit, window,
                ))
            },
        )
        .await
    }

    async fn principal_data(
        &self,
        namespace: String,
        principal: u32,
    ) -> Result<PrincipalData, StoreError> {
        self.read((namespace, principal), |tx, (namespace, principal)| {
            // PgStore::read's transaction: the documents of an export agree with each other.
            Box::pin(principal_data(tx, namespace, *principal))
        })
        .await
    }

    async fn erase_principal(
        &self,
        namespace: String,
        principal: u32,
        now: i64,
        form_secs: i64,
    ) -> Result<(Erased, Vec<QueuedFile>), StoreError> {
        let outbox = self.outbox();
        self.write(
            (namespace, principal, now, form_secs),
            move |tx, (namespace, principal, now, form_secs)| {
                Box::pin(erase_principal(
                    tx, outbox, namespace, *principal, *now, *form_secs,
                ))
            },
        )
        .await
    }
}

async fn owned_objects(
    tx: &Tx<'_>,
    namespace: &str,
    owner: u32,
    filter: Listed,
    after: u64,
    limit: usize,
    window: &ListWindow,
) -> Result<OwnedPage, PgError> {
    let (uploading, ready, status, deleted) = match filter {
        Listed::All => (true, true, None, true),
        Listed::Uploading => (true, false, None, false),
        Listed::None => (false, true, Some(Status::None), false),
        Listed::Pending => (false, true, Some(Status::Pending), false),
        Listed::Rejected => (false, true, Some(Status::Rejected), false),
        Listed::Deleted => (false, false, None, true),
    };
    // PgStore::read's transaction: the objects are in the state the filter saw.
    let ids: Vec<u64> = rows(
        tx,
        LIST_SQL,
        &[
            &namespace,
            &i64::from(owner),
            &i64::try_from(after).unwrap_or(i64::MAX),
            &uploading,
            &window.uploads_after,
            &ready,
            &window.now,
            &status.map_or(-1, |s| s as i64),
            &deleted,
            &window.deleted_since,
            // One more than asked: whether a next page exists.
            &(limit as i64 + 1),
        ],
    )
    .await?
    .iter()
    .map(|r| r.get::<_, i64>(0) as u64)
    .collect();
    let more = ids.len() > limit;
    let page = &ids[..ids.len().min(limit)];
    let objects = load_many(tx, page).await?.into_iter().flatten().collect();
    Ok(OwnedPage { objects, more })
}

async fn principal_data(
    tx: &Tx<'_>,
    namespace: &str,
    principal: u32,
) -> Result<PrincipalData, PgError> {
    let mut data = PrincipalData::default();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
        [&namespace, &i64::from(principal)];
    let owned: Vec<(u64, Option<i64>)> = rows(tx, OWNED_SQL, &params)
        .await?
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
        .collect();
    let ids: Vec<u64> = owned.iter().map(|&(id, _)| id).collect();
    let objects = load_many(tx, &ids).await?;
    for ((_, deleted_time), object) in owned.into_iter().zip(objects) {
        if let Some(object) = object {
            let deleted_time = deleted_time.filter(|_| object.state == State::Deleted);
            data.objects.push(OwnedObject {
                object,
                deleted_time,
            });
        }
    }
    data.slots = rows(tx, SLOTS_SQL, &params)
        .await?
        .iter()
        .map(|r| PersistenceInfo {
            principal_id: principal,
            slot: r.get::<_, i64>(0) as u16,
            data_id: r.get::<_, i64>(1) as u64,
        })
        .collect();
    data.ratings_given = rows(tx, GIVEN_SQL, &params)
        .await?
        .iter()
        .map(|r| GivenRating {
            data_id: r.get::<_, i64>(0) as u64,
            slot: r.get::<_, i64>(1) as u8,
            value: r.get(2),
            rated_time: r.get(3),
        })
        .collect();
    data.rating_locks = rows(tx, LOCKS_SQL, &params)
        .await?
        .iter()
        .map(|r| RatingLock {
            data_id: r.get::<_, i64>(0) as u64,
            slot: r.get::<_, i64>(1) as u8,
            locked_until: r.get(2),
        })
        .collect();
    Ok(data)
}

async fn erase_principal(
    tx: &Tx<'_>,
    outbox: Outbox,
    namespace: &str,
    principal: u32,
    now: i64,
    form_secs: i64,
) -> Result<(Erased, Vec<QueuedFile>), PgError> {
    let principal_key = i64::from(principal);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&namespace, &principal_key];
    let ratings = withdraw_given_ratings(tx, namespace, principal).await?;
    execute(tx, ERASE_LOCKS_SQL, &params).await?;
    let persistence = execute(tx, ERASE_SLOTS_SQL, &params).await? as usize;
    let files: Vec<QueuedFile> = rows(tx, KEYS_SQL, &params)
        .await?
        .iter()
        .map(|r| {
            let uploading = r.get::<_, i64>(1) == State::Uploading as i64;
            let created: i64 = r.get(2);
            QueuedFile {
                key: r.get(0),
                due: if uploading {
                    now.max(created.saturating_add(form_secs))
                } else {
                    now
                },
            }
        })
        .collect();
    for file in &files {
        execute(
            tx,
            "INSERT INTO blob_deletions (blob_key, queued_time) VALUES ($1, $2)
             ON CONFLICT (blob_key) DO NOTHING",
            &[&file.key, &file.due],
        )
        .await?;
    }
    // The notifications the principal got; those of its objects go with them.
    execute(
        tx,
        "DELETE FROM notifications WHERE namespace = $1 AND recipient_id = $2",
        &params,
    )
    .await?;
    // Receivers hear of the finished objects that go (not of uploads, which
    // they never heard of, nor of objects deleted before).
    if outbox.is_on() {
        let live: Vec<i64> = rows(
            tx,
            LIVE_SQL,
            &[&namespace, &principal_key, &(State::Ready as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
        for id in live {
            let event = Event {
                kind: EventType::ObjectDeleted,
                namespace: namespace.to_owned(),
                data_id: id as u64,
                owner_id: principal,
                time: now,
                extra: Default::default(),
            };
            outbox
                .enqueue(tx, &event.with("reason", DeleteReason::Erase.name()))
                .await?;
        }
    }
    // Tags, recipients, rating slots, notifications and the ratings others
    // gave go by cascade.
    let objects = execute(tx, ERASE_OBJECTS_SQL, &params).await? as usize;
    let erased = Erased {
        objects,
        files: 0,
        ratings,
        persistence,
    };
    Ok((erased, files))
}

/// Takes every rating `principal` gave in `namespace` back out of its slot's total
/// and count (their own objects are about to go, so theirs are only forgotten), then
/// forgets them. Returns how many there were.
async fn withdraw_given_ratings(
    tx: &Tx<'_>,
    namespace: &str,
    principal: u32,
) -> Result<usize, PgError> {
    let principal_key = i64::from(principal);
    let given = rows(tx, GIVEN_SQL, &[&namespace, &principal_key]).await?;
    for r in &given {
        let (data_id, slot, value): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
        let owner = r.get::<_, i64>(4) as u32;
        let (total, count, flags): (i64, i64, i64) = (r.get(5), r.get(6), r.get(7));
        if owner != principal {
            // Each rater has one entry per slot, so the slot read above is current.
            let (total, count) = withdraw_rating(total, count.max(0) as u64, flags as u32, value);
            execute(
                tx,
                "UPDATE rating_slots SET total_value = $3, count = $4
                 WHERE data_id = $1 AND slot = $2",
                &[&data_id, &slot, &total, &(count as i64)],
            )
            .await?;
        }
        execute(
            tx,
            "DELETE FROM rating_entries WHERE data_id = $1 AND slot = $2 AND rater_id = $3",
            &[&data_id, &slot, &principal_key],
        )
        .await?;
    }
    Ok(given.len())
}
