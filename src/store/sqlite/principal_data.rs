//! A principal's data as a whole (GS2 describeDataObjects, dumpUserDataByUserId,
//! cleanUserDataByUserId): listing what they own in every state, the snapshot an
//! export archives, and erasing all of it in one transaction.

use rusqlite::{Connection, named_params, params};

use crate::domain::Status;
use crate::domain::object::State;
use crate::domain::persistence::PersistenceInfo;
use crate::domain::principal_data::{
    Erased, GivenRating, ListWindow, Listed, OwnedObject, OwnedPage, PrincipalData, RatingLock,
    withdraw_rating,
};
use crate::domain::webhook::{DeleteReason, Event, EventType};
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::objects::load;
use crate::store::{Principals, QueuedFile, StoreError};
use async_trait::async_trait;

/// Owned objects after a data_id, filtered by state (and review status for finished
/// ones), through `objects_owner`.
const LIST_SQL: &str = "SELECT data_id FROM objects
     WHERE namespace = :namespace AND owner_id = :owner AND data_id > :after
       AND ((state = 0 AND :uploading AND created_time > :uploads_after)
         OR (state = 1 AND :ready AND expire_time > :now AND (:status < 0 OR status = :status))
         OR (state = 2 AND :deleted AND deleted_time >= :deleted_since))
     ORDER BY data_id LIMIT :limit";

/// Every owned object, whatever its state.
const OWNED_SQL: &str = "SELECT data_id, deleted_time FROM objects
     WHERE namespace = ?1 AND owner_id = ?2 ORDER BY data_id";

const SLOTS_SQL: &str = "SELECT slot, data_id FROM persistence_slots
     WHERE namespace = ?1 AND principal_id = ?2 ORDER BY slot";

/// Ratings the principal gave on objects of the namespace, with their slot's state.
const GIVEN_SQL: &str = "SELECT e.data_id, e.slot, e.value, e.rated_time, o.owner_id,
            s.total_value, s.count, s.flags
     FROM rating_entries e
     JOIN objects o ON o.data_id = e.data_id
     JOIN rating_slots s ON s.data_id = e.data_id AND s.slot = e.slot
     WHERE e.rater_id = ?2 AND o.namespace = ?1
     ORDER BY e.data_id, e.slot";

const LOCKS_SQL: &str = "SELECT l.data_id, l.slot, l.locked_until
     FROM rating_locks l JOIN objects o ON o.data_id = l.data_id
     WHERE l.rater_id = ?2 AND o.namespace = ?1
     ORDER BY l.data_id, l.slot";

const ERASE_LOCKS_SQL: &str = "DELETE FROM rating_locks WHERE rater_id = ?2 AND EXISTS
     (SELECT 1 FROM objects o WHERE o.data_id = rating_locks.data_id AND o.namespace = ?1)";

const ERASE_SLOTS_SQL: &str =
    "DELETE FROM persistence_slots WHERE namespace = ?1 AND principal_id = ?2";

/// The files of a principal's objects: current files and every version (a version
/// still uploading counts as an upload, state 0, like an object still uploading).
const KEYS_SQL: &str = "SELECT blob_key, state, created_time FROM objects
     WHERE namespace = ?1 AND owner_id = ?2 AND blob_key IS NOT NULL
     UNION ALL
     SELECT v.blob_key, CASE v.state WHEN 0 THEN 0 ELSE 1 END, v.created_time
     FROM object_versions v JOIN objects o ON o.data_id = v.data_id
     WHERE o.namespace = ?1 AND o.owner_id = ?2";

/// The finished objects an erase removes, for their `object.deleted`.
const LIVE_SQL: &str = "SELECT data_id FROM objects
     WHERE namespace = ?1 AND owner_id = ?2 AND state = ?3 ORDER BY data_id";

const ERASE_OBJECTS_SQL: &str = "DELETE FROM objects WHERE namespace = ?1 AND owner_id = ?2";

#[async_trait]
impl Principals for SqliteStore {
    async fn owned_objects(
        &self,
        namespace: String,
        owner: u32,
        filter: Listed,
        after: u64,
        limit: usize,
        window: ListWindow,
    ) -> Result<OwnedPage, StoreError> {
        self.read(move |conn| {
            let (uploading, ready, status, deleted) = match filter {
                Listed::All => (true, true, None, true),
                Listed::Uploading => (true, false, None, false),
                Listed::None => (false, true, Some(Status::None), false),
                Listed::Pending => (false, true, Some(Status::Pending), false),
                Listed::Rejected => (false, true, Some(Status::Rejected), false),
                Listed::Deleted => (false, false, None, true),
            };
            // Store::read's transaction: the objects are in the state the filter saw.
            let mut stmt = conn.prepare_cached(LIST_SQL)?;
            let ids: Vec<i64> = stmt
                .query_map(
                    named_params! {
                        ":namespace": namespace,
                        ":owner": owner,
                        ":after": i64::try_from(after).unwrap_or(i64::MAX),
                        ":uploading": uploading,
                        ":uploads_after": window.uploads_after,
                        ":ready": ready,
                        ":now": window.now,
                        ":status": status.map_or(-1, |s| s as i64),
                        ":deleted": deleted,
                        ":deleted_since": window.deleted_since,
                        // One more than asked: whether a next page exists.
                        ":limit": limit as i64 + 1,
                    },
                    |r| r.get(0),
                )?
                .collect::<Result<_, _>>()?;
            let more = ids.len() > limit;
            let mut objects = Vec::with_capacity(limit.min(ids.len()));
            for id in ids.into_iter().take(limit) {
                if let Some(object) = load(conn, id as u64)? {
                    objects.push(object);
                }
            }
            Ok(OwnedPage { objects, more })
        })
        .await
    }

    async fn principal_data(
        &self,
        namespace: String,
        principal: u32,
    ) -> Result<PrincipalData, StoreError> {
        self.read(move |conn| {
            // Store::read's transaction: the documents of an export agree with each other.
            principal_data(conn, &namespace, principal)
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
        self.write(move |tx| {
            let ratings = withdraw_given_ratings(tx, &namespace, principal)?;
            tx.prepare_cached(ERASE_LOCKS_SQL)?
                .execute(params![namespace, principal])?;
            let persistence = tx
                .prepare_cached(ERASE_SLOTS_SQL)?
                .execute(params![namespace, principal])?;
            let files: Vec<QueuedFile> = tx
                .prepare_cached(KEYS_SQL)?
                .query_map(params![namespace, principal], |r| {
                    let uploading = r.get::<_, i64>(1)? == State::Uploading as i64;
                    let created: i64 = r.get(2)?;
                    Ok(QueuedFile {
                        key: r.get(0)?,
                        due: if uploading {
                            now.max(created.saturating_add(form_secs))
                        } else {
                            now
                        },
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut queue = tx.prepare_cached(
                "INSERT OR IGNORE INTO blob_deletions (blob_key, queued_time) VALUES (?1, ?2)",
            )?;
            for file in &files {
                queue.execute(params![file.key, file.due])?;
            }
            // The notifications the principal got; those of its objects go with them.
            tx.prepare_cached(
                "DELETE FROM notifications WHERE namespace = ?1 AND recipient_id = ?2",
            )?
            .execute(params![namespace, principal])?;
            // Receivers hear of the finished objects that go (not of uploads, which
            // they never heard of, nor of objects deleted before).
            if outbox.is_on() {
                let live: Vec<i64> = tx
                    .prepare_cached(LIVE_SQL)?
                    .query_map(params![namespace, principal, State::Ready as i64], |r| {
                        r.get(0)
                    })?
                    .collect::<Result<_, _>>()?;
                for id in live {
                    let event = Event {
                        kind: EventType::ObjectDeleted,
                        namespace: namespace.clone(),
                        data_id: id as u64,
                        owner_id: principal,
                        time: now,
                        extra: Default::default(),
                    };
                    outbox.enqueue(tx, &event.with("reason", DeleteReason::Erase.name()))?;
                }
            }
            // Tags, recipients, rating slots, notifications and the ratings others
            // gave go by cascade.
            let objects = tx
                .prepare_cached(ERASE_OBJECTS_SQL)?
                .execute(params![namespace, principal])?;
            let erased = Erased {
                objects,
                files: 0,
                ratings,
                persistence,
            };
            Ok((erased, files))
        })
        .await
    }
}

fn principal_data(
    conn: &Connection,
    namespace: &str,
    principal: u32,
) -> Result<PrincipalData, ApiError> {
    let mut data = PrincipalData::default();
    let owned: Vec<(i64, Option<i64>)> = conn
        .prepare_cached(OWNED_SQL)?
        .query_map(params![namespace, principal], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    for (id, deleted_time) in owned {
        if let Some(object) = load(conn, id as u64)? {
            let deleted_time = deleted_time.filter(|_| object.state == State::Deleted);
            data.objects.push(OwnedObject {
                object,
                deleted_time,
            });
        }
    }
    data.slots = conn
        .prepare_cached(SLOTS_SQL)?
        .query_map(params![namespace, principal], |r| {
            Ok(PersistenceInfo {
                principal_id: principal,
                slot: r.get(0)?,
                data_id: r.get::<_, i64>(1)? as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    data.ratings_given = conn
        .prepare_cached(GIVEN_SQL)?
        .query_map(params![namespace, principal], |r| {
            Ok(GivenRating {
                data_id: r.get::<_, i64>(0)? as u64,
                slot: r.get(1)?,
                value: r.get(2)?,
                rated_time: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    data.rating_locks = conn
        .prepare_cached(LOCKS_SQL)?
        .query_map(params![namespace, principal], |r| {
            Ok(RatingLock {
                data_id: r.get::<_, i64>(0)? as u64,
                slot: r.get(1)?,
                locked_until: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(data)
}

/// Takes every rating `principal` gave in `namespace` back out of its slot's total
/// and count (their own objects are about to go, so theirs are only forgotten), then
/// forgets them. Returns how many there were.
fn withdraw_given_ratings(
    conn: &Connection,
    namespace: &str,
    principal: u32,
) -> Result<usize, ApiError> {
    struct Given {
        data_id: i64,
        slot: u8,
        value: i64,
        owner: u32,
        total: i64,
        count: i64,
        flags: u32,
    }
    let given: Vec<Given> = conn
        .prepare_cached(GIVEN_SQL)?
        .query_map(params![namespace, principal], |r| {
            Ok(Given {
                data_id: r.get(0)?,
                slot: r.get(1)?,
                value: r.get(2)?,
                owner: r.get(4)?,
                total: r.get(5)?,
                count: r.get(6)?,
                flags: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare_cached(
        "UPDATE rating_slots SET total_value = ?3, count = ?4 WHERE data_id = ?1 AND slot = ?2",
    )?;
    let mut forget = conn.prepare_cached(
        "DELETE FROM rating_entries WHERE data_id = ?1 AND slot = ?2 AND rater_id = ?3",
    )?;
    for g in &given {
        if g.owner != principal {
            // Each rater has one entry per slot, so the slot read above is current.
            let (total, count) = withdraw_rating(g.total, g.count.max(0) as u64, g.flags, g.value);
            update.execute(params![g.data_id, g.slot, total, count as i64])?;
        }
        forget.execute(params![g.data_id, g.slot, principal])?;
    }
    Ok(given.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Durability;

    /// Every statement of this module, with the index it must use.
    #[test]
    fn every_query_of_a_principal_uses_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        for (sql, index) in [
            (LIST_SQL, "objects_owner"),
            (OWNED_SQL, "objects_owner"),
            (SLOTS_SQL, "PRIMARY KEY"),
            (GIVEN_SQL, "rating_entries_rater"),
            (LOCKS_SQL, "rating_locks_rater"),
            (ERASE_LOCKS_SQL, "rating_locks_rater"),
            (ERASE_SLOTS_SQL, "PRIMARY KEY"),
            (KEYS_SQL, "objects_owner"),
            (ERASE_OBJECTS_SQL, "objects_owner"),
            (LIVE_SQL, "objects_owner"),
        ] {
            // Unbound parameters are NULL; the plan does not depend on them.
            let plan = store
                .read_blocking(|c| {
                    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let mut rows = stmt.raw_query();
                    let mut steps = Vec::new();
                    while let Some(row) = rows.next()? {
                        steps.push(row.get::<_, String>(3)?);
                    }
                    Ok(steps)
                })
                .unwrap();
            let text = plan.join("; ");
            assert!(text.contains(index), "{sql}\n=> {text}");
            for step in &plan {
                assert!(
                    !step.starts_with("SCAN") || step.contains("INDEX"),
                    "a full scan in {sql}\n=> {text}"
                );
            }
        }
    }
}
