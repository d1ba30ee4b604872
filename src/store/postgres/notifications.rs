//! Notifications (DESIGN §15): written by the unit of work that makes an object
//! visible, read by their recipient, removed with their object or when old.

use async_trait::async_trait;

use crate::domain::Object;
use crate::domain::notification::{Notification, NotificationQuery, NotificationType};
use crate::domain::webhook::Event;
use crate::store::postgres::friends::friends_of;
use crate::store::postgres::webhooks::Outbox;
use crate::store::postgres::{PgError, PgStore, Tx, execute, rows, sql_id};
use crate::store::{Notifications, StoreError};

#[async_trait]
impl Notifications for PgStore {
    async fn notifications(
        &self,
        namespace: String,
        query: NotificationQuery,
    ) -> Result<Vec<Notification>, StoreError> {
        self.read((namespace, query), |tx, (namespace, query)| {
            Box::pin(async move {
                // ids are BIGINT: a `since` past i64 simply matches nothing.
                let since = i64::try_from(query.since).unwrap_or(i64::MAX);
                let found = rows(
                    tx,
                    "SELECT id, data_id, owner_id, type, created_time FROM notifications
                     WHERE namespace = $1 AND recipient_id = $2 AND id > $3
                     ORDER BY id LIMIT $4",
                    &[
                        namespace,
                        &i64::from(query.recipient),
                        &since,
                        &(query.limit as i64),
                    ],
                )
                .await?;
                Ok(found
                    .iter()
                    .map(|r| Notification {
                        id: r.get::<_, i64>(0) as u64,
                        data_id: r.get::<_, i64>(1) as u64,
                        owner_id: r.get::<_, i64>(2) as u32,
                        kind: NotificationType::from_i64(r.get(3)),
                        time: r.get(4),
                    })
                    .collect())
            })
        })
        .await
    }

    async fn purge_notifications(&self, before: i64, limit: usize) -> Result<usize, StoreError> {
        self.write((before, limit), |tx, &(before, limit)| {
            Box::pin(async move {
                let removed = execute(
                    tx,
                    "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications
                     WHERE created_time < $1 ORDER BY created_time LIMIT $2)",
                    &[&before, &(limit as i64)],
                )
                .await?;
                Ok(removed as usize)
            })
        })
        .await
    }
}

/// Writes the post notifications of `object`, which has just become visible, to
/// each recipient the domain names; the owner's friend list is read in the same
/// transaction. Returns how many.
pub(crate) async fn notify_post(
    tx: &Tx<'_>,
    outbox: Outbox,
    object: &Object,
    now: i64,
) -> Result<usize, PgError> {
    let friends = match object.post_needs_friends() {
        true => friends_of(tx, &object.namespace, object.owner_id).await?,
        false => Vec::new(),
    };
    let recipients = object.post_recipients(&friends);
    for recipient in &recipients {
        execute(
            tx,
            "INSERT INTO notifications (namespace, recipient_id, data_id, owner_id, type, created_time)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &object.namespace,
                &i64::from(*recipient),
                &sql_id(object.data_id),
                &i64::from(object.owner_id),
                &(NotificationType::Post as i64),
                &now,
            ],
        )
        .await?;
        // And a `notification` webhook event per recipient, in the same transaction.
        outbox
            .enqueue(tx, &Event::notification(object, *recipient, now))
            .await?;
    }
    Ok(recipients.len())
}
