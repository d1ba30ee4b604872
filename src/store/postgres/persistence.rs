//! Persistence slots (DESIGN §7): 16 per principal, each holding one object the
//! principal owns, which then never expires. Setting a slot reads it and writes
//! it in one `SERIALIZABLE` unit: of two nodes setting one slot at once, one wins
//! and the other runs again after it, releasing the winner's object as §7 says.

use async_trait::async_trait;

use crate::domain::persistence::{self, PersistenceInfo};
use crate::domain::webhook::DeleteReason;
use crate::domain::{Caller, Object, time};
use crate::error::ApiError;
use crate::store::postgres::friends::known_friends;
use crate::store::postgres::objects::{load, mark_deleted};
use crate::store::postgres::webhooks::Outbox;
use crate::store::postgres::{PgError, PgStore, Tx, execute, opt_row, sql_id};
use crate::store::{Persistence, StoreError};

#[async_trait]
impl Persistence for PgStore {
    async fn persistence_infos(
        &self,
        caller: Caller,
        principal: u32,
        slots: Vec<u16>,
        now: i64,
    ) -> Result<Vec<PersistenceInfo>, StoreError> {
        self.read(
            (caller, principal, slots, now),
            |tx, (caller, principal, slots, now)| {
                Box::pin(async move {
                    let mut held_objects = Vec::new();
                    for &slot in slots {
                        if let Some(object) = held(tx, &caller.namespace, *principal, slot).await? {
                            held_objects.push((slot, object));
                        }
                    }
                    let known =
                        known_friends(tx, caller, held_objects.iter().map(|(_, o)| o.owner_id))
                            .await?;
                    Ok(held_objects
                        .into_iter()
                        .filter(|(_, object)| object.check_read(caller, &known, *now).is_ok())
                        .map(|(slot, object)| PersistenceInfo {
                            principal_id: *principal,
                            slot,
                            data_id: object.data_id,
                        })
                        .collect())
                })
            },
        )
        .await
    }

    async fn persistence_info(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        now: i64,
    ) -> Result<PersistenceInfo, StoreError> {
        self.read(
            (caller, principal, slot, now),
            |tx, (caller, principal, slot, now)| {
                Box::pin(async move {
                    let object = held(tx, &caller.namespace, *principal, *slot)
                        .await?
                        .ok_or_else(|| persistence::empty_slot(*principal, *slot))?;
                    let known = known_friends(tx, caller, [object.owner_id]).await?;
                    object.check_read(caller, &known, *now)?;
                    Ok(PersistenceInfo {
                        principal_id: *principal,
                        slot: *slot,
                        data_id: object.data_id,
                    })
                })
            },
        )
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
        self.write(
            (caller, principal, slot, data_id, delete_last_object, now),
            move |tx, (caller, principal, slot, data_id, delete_last_object, now)| {
                Box::pin(perpetuate_unit(
                    tx,
                    outbox,
                    caller,
                    *principal,
                    *slot,
                    *data_id,
                    *delete_last_object,
                    *now,
                ))
            },
        )
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
        self.write(
            (caller, principal, slot, delete_last_object, now),
            move |tx, (caller, principal, slot, delete_last_object, now)| {
                Box::pin(async move {
                    let released = release(
                        tx,
                        outbox,
                        &caller.namespace,
                        *principal,
                        *slot,
                        *delete_last_object,
                        *now,
                    )
                    .await?;
                    Ok(usize::from(released.is_some()))
                })
            },
        )
        .await
    }
}

/// Puts `data_id` in a slot of `principal`: checked, the slot's current object
/// released, the object moved out of any other slot, then put in this one.
#[allow(clippy::too_many_arguments)]
async fn perpetuate_unit(
    tx: &Tx<'_>,
    outbox: Outbox,
    caller: &Caller,
    principal: u32,
    slot: u16,
    data_id: u64,
    delete_last_object: bool,
    now: i64,
) -> Result<(), PgError> {
    let object = load(tx, data_id)
        .await?
        .ok_or_else(|| ApiError::not_found(data_id))?;
    let known = known_friends(tx, caller, [object.owner_id]).await?;
    persistence::check_perpetuate(&object, caller, &known, principal, now)?;
    let current = held(tx, &caller.namespace, principal, slot).await?;
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
    )
    .await?;
    // An object sits in one slot at most: moving it keeps it persisted.
    execute(
        tx,
        "DELETE FROM persistence_slots WHERE data_id = $1",
        &[&sql_id(data_id)],
    )
    .await?;
    occupy(tx, &caller.namespace, principal, slot, data_id).await
}

/// The live object in a slot, if any.
async fn held(
    tx: &Tx<'_>,
    namespace: &str,
    principal: u32,
    slot: u16,
) -> Result<Option<Object>, PgError> {
    let id = opt_row(
        tx,
        "SELECT data_id FROM persistence_slots
         WHERE namespace = $1 AND principal_id = $2 AND slot = $3",
        &[&namespace, &i64::from(principal), &i64::from(slot)],
    )
    .await?;
    match id {
        Some(row) => load(tx, row.get::<_, i64>(0) as u64).await,
        None => Ok(None),
    }
}

/// Frees a slot: its object is deleted, or expires `period` days from now.
/// Returns the data_id released, if the slot held one.
pub(crate) async fn release(
    tx: &Tx<'_>,
    outbox: Outbox,
    namespace: &str,
    principal: u32,
    slot: u16,
    delete_last_object: bool,
    now: i64,
) -> Result<Option<u64>, PgError> {
    let Some(object) = held(tx, namespace, principal, slot).await? else {
        return Ok(None);
    };
    if delete_last_object {
        mark_deleted(tx, outbox, &object, DeleteReason::Persistence, now).await?;
    } else {
        execute(
            tx,
            "DELETE FROM persistence_slots WHERE data_id = $1",
            &[&sql_id(object.data_id)],
        )
        .await?;
        execute(
            tx,
            "UPDATE objects SET expire_time = $2 WHERE data_id = $1",
            &[&sql_id(object.data_id), &object.released_expiry(now)],
        )
        .await?;
    }
    Ok(Some(object.data_id))
}

/// Puts `data_id` in an empty slot; it never expires while there.
pub(crate) async fn occupy(
    tx: &Tx<'_>,
    namespace: &str,
    principal: u32,
    slot: u16,
    data_id: u64,
) -> Result<(), PgError> {
    execute(
        tx,
        "INSERT INTO persistence_slots (namespace, principal_id, slot, data_id)
         VALUES ($1, $2, $3, $4)",
        &[
            &namespace,
            &i64::from(principal),
            &i64::from(slot),
            &sql_id(data_id),
        ],
    )
    .await?;
    execute(
        tx,
        "UPDATE objects SET expire_time = $2 WHERE data_id = $1",
        &[&sql_id(data_id), &time::NEVER_EXPIRES],
    )
    .await?;
    Ok(())
}
