//! Persistence slots (DESIGN §7): 16 per principal, each holding one object the
//! principal owns, which then never expires.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::persistence::{self, PersistenceInfo};
use crate::domain::webhook::DeleteReason;
use crate::domain::{Caller, Object, time};
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::objects::{load, mark_deleted, sql_id};
use crate::store::sqlite::webhooks::Outbox;
use crate::store::{Persistence, StoreError};
use async_trait::async_trait;

#[async_trait]
impl Persistence for SqliteStore {
    async fn persistence_infos(
        &self,
        caller: Caller,
        principal: u32,
        slots: Vec<u16>,
        now: i64,
    ) -> Result<Vec<PersistenceInfo>, StoreError> {
        self.read_bounded(move |conn| {
            let mut out = Vec::new();
            for slot in slots {
                if let Some(object) = held(conn, &caller.namespace, principal, slot)?
                    && object.check_read(&caller, conn, now).is_ok()
                {
                    out.push(PersistenceInfo {
                        principal_id: principal,
                        slot,
                        data_id: object.data_id,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn persistence_info(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        now: i64,
    ) -> Result<PersistenceInfo, StoreError> {
        self.read_bounded(move |conn| {
            let object = held(conn, &caller.namespace, principal, slot)?
                .ok_or_else(|| persistence::empty_slot(principal, slot))?;
            object.check_read(&caller, conn, now)?;
            Ok(PersistenceInfo {
                principal_id: principal,
                slot,
                data_id: object.data_id,
            })
        })
        .await
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
        persistence::check_acts_for(&caller, principal)?;
        let outbox = self.outbox();
        self.write(move |tx| {
            let object = load(tx, data_id)?.ok_or_else(|| ApiError::not_found(data_id))?;
            persistence::check_perpetuate(&object, &caller, tx, principal, now)?;
            let current = held(tx, &caller.namespace, principal, slot)?;
            if current.as_ref().is_some_and(|o| o.data_id == data_id) {
                return Ok(());
            }
            release(
                tx,
                outbox,
                &caller.namespace,
                principal,
                slot,
                delete_last_object,
                now,
            )?;
            // An object sits in one slot at most: moving it keeps it persisted.
            tx.prepare_cached("DELETE FROM persistence_slots WHERE data_id = ?1")?
                .execute([sql_id(data_id)])?;
            occupy(tx, &caller.namespace, principal, slot, data_id)
        })
        .await
    }

    async fn unperpetuate(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        delete_last_object: bool,
        now: i64,
    ) -> Result<usize, StoreError> {
        persistence::check_acts_for(&caller, principal)?;
        let outbox = self.outbox();
        self.write(move |tx| {
            let released = release(
                tx,
                outbox,
                &caller.namespace,
                principal,
                slot,
                delete_last_object,
                now,
            )?;
            Ok(usize::from(released.is_some()))
        })
        .await
    }
}

/// The live object in a slot, if any.
fn held(
    conn: &Connection,
    namespace: &str,
    principal: u32,
    slot: u16,
) -> Result<Option<Object>, ApiError> {
    let id: Option<i64> = conn
        .prepare_cached(
            "SELECT data_id FROM persistence_slots
             WHERE namespace = ?1 AND principal_id = ?2 AND slot = ?3",
        )?
        .query_row(params![namespace, principal, slot], |r| r.get(0))
        .optional()?;
    match id {
        Some(id) => load(conn, id as u64),
        None => Ok(None),
    }
}

/// Frees a slot: its object is deleted, or expires `period` days from now.
/// Returns the data_id released, if the slot held one.
pub(crate) fn release(
    conn: &Connection,
    outbox: Outbox,
    namespace: &str,
    principal: u32,
    slot: u16,
    delete_last_object: bool,
    now: i64,
) -> Result<Option<u64>, ApiError> {
    let Some(object) = held(conn, namespace, principal, slot)? else {
        return Ok(None);
    };
    if delete_last_object {
        mark_deleted(conn, outbox, &object, DeleteReason::Persistence, now)?;
    } else {
        conn.prepare_cached("DELETE FROM persistence_slots WHERE data_id = ?1")?
            .execute([sql_id(object.data_id)])?;
        conn.prepare_cached("UPDATE objects SET expire_time = ?2 WHERE data_id = ?1")?
            .execute(params![sql_id(object.data_id), object.released_expiry(now)])?;
    }
    Ok(Some(object.data_id))
}

/// Puts `data_id` in an empty slot; it never expires while there.
pub(crate) fn occupy(
    conn: &Connection,
    namespace: &str,
    principal: u32,
    slot: u16,
    data_id: u64,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO persistence_slots (namespace, principal_id, slot, data_id)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![namespace, principal, slot, sql_id(data_id)])?;
    conn.prepare_cached("UPDATE objects SET expire_time = ?2 WHERE data_id = ?1")?
        .execute(params![sql_id(data_id), time::NEVER_EXPIRES])?;
    Ok(())
}
