//! Notifications (DESIGN §15): written by the unit of work that makes an object
//! visible, read by their recipient, removed with their object or when old.

use rusqlite::{Connection, params};

use crate::domain::Object;
use crate::domain::notification::{Notification, NotificationQuery, NotificationType};
use crate::domain::webhook::Event;
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::friends::friends_of;
use crate::store::sqlite::objects::sql_id;
use crate::store::sqlite::webhooks::Outbox;
use crate::store::{Notifications, StoreError};
use async_trait::async_trait;

#[async_trait]
impl Notifications for SqliteStore {
    async fn notifications(
        &self,
        namespace: String,
        query: NotificationQuery,
    ) -> Result<Vec<Notification>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, data_id, owner_id, type, created_time FROM notifications
                 WHERE namespace = ?1 AND recipient_id = ?2 AND id > ?3
                 ORDER BY id LIMIT ?4",
            )?;
            // ids are SQLite rowids: a `since` past i64 simply matches nothing.
            let since = i64::try_from(query.since).unwrap_or(i64::MAX);
            let rows = stmt.query_map(
                params![namespace, query.recipient, since, query.limit],
                |r| {
                    Ok(Notification {
                        id: r.get::<_, i64>(0)? as u64,
                        data_id: r.get::<_, i64>(1)? as u64,
                        owner_id: r.get(2)?,
                        kind: NotificationType::from_i64(r.get(3)?),
                        time: r.get(4)?,
                    })
                },
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn purge_notifications(&self, before: i64, limit: usize) -> Result<usize, StoreError> {
        self.write(move |tx| {
            let removed = tx
                .prepare_cached(
                    "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications
                     WHERE created_time < ?1 ORDER BY created_time LIMIT ?2)",
                )?
                .execute(params![before, limit as i64])?;
            Ok(removed)
        })
        .await
    }
}

/// Writes the post notifications of `object`, which has just become visible, to
/// each recipient the domain names; the owner's friend list is read in the same
/// transaction. Returns how many.
pub(crate) fn notify_post(
    conn: &Connection,
    outbox: Outbox,
    object: &Object,
    now: i64,
) -> Result<usize, ApiError> {
    let friends = match object.post_needs_friends() {
        true => friends_of(conn, &object.namespace, object.owner_id)?,
        false => Vec::new(),
    };
    let recipients = object.post_recipients(&friends);
    let mut insert = conn.prepare_cached(
        "INSERT INTO notifications (namespace, recipient_id, data_id, owner_id, type, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for recipient in &recipients {
        insert.execute(params![
            object.namespace,
            recipient,
            sql_id(object.data_id),
            object.owner_id,
            NotificationType::Post as i64,
            now
        ])?;
        // And a `notification` webhook event per recipient, in the same transaction.
        outbox.enqueue(conn, &Event::notification(object, *recipient, now))?;
    }
    Ok(recipients.len())
}
