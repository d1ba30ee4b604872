//! The webhook outbox (DESIGN §15): units of work write their events here in their
//! own transaction; every node's delivery task claims due rows with a lease, so no
//! row is sent by two nodes at once, and only the oldest row of an object is due.

use rusqlite::{Connection, params};
use serde_json::{Map, Value};

use crate::domain::webhook::{Delivery, Event, Outcome};
use crate::error::ApiError;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::objects::sql_id;
use crate::store::{StoreError, Webhooks};
use async_trait::async_trait;

/// Where a unit of work writes its events: the outbox when webhooks are on
/// (`NEXDS_WEBHOOK_URL`), nowhere when they are off, so that no table grows that
/// nobody empties.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outbox {
    on: bool,
}

impl Outbox {
    pub fn new(on: bool) -> Outbox {
        Outbox { on }
    }

    pub fn is_on(self) -> bool {
        self.on
    }

    /// Writes `event` in the transaction of `conn`: it is sent if and only if that
    /// transaction commits.
    pub fn enqueue(self, conn: &Connection, event: &Event) -> Result<(), ApiError> {
        if !self.on {
            return Ok(());
        }
        conn.prepare_cached(
            "INSERT INTO webhook_outbox (event_type, namespace, data_id, owner_id, event_time, extra)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            event.kind.name(),
            event.namespace,
            sql_id(event.data_id),
            event.owner_id,
            event.time,
            event.extra_json(),
        ])?;
        Ok(())
    }

    /// [`Self::enqueue`] of each event, in order.
    pub fn enqueue_all(
        self,
        conn: &Connection,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<(), ApiError> {
        for event in events {
            self.enqueue(conn, &event)?;
        }
        Ok(())
    }
}

/// Due rows, oldest first: not waiting for a retry, not leased by a node, and the
/// oldest row of their object (an event never overtakes an earlier one of its object).
const DUE_SQL: &str = "SELECT id, event_type, namespace, data_id, owner_id, event_time, extra,
        attempts
     FROM webhook_outbox o
     WHERE next_attempt <= ?1 AND claimed_until <= ?1
       AND NOT EXISTS (SELECT 1 FROM webhook_outbox e WHERE e.data_id = o.data_id AND e.id < o.id)
     ORDER BY id LIMIT ?2";

#[async_trait]
impl Webhooks for SqliteStore {
    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        // One write transaction: no other node reads these rows as due in between.
        self.write(move |tx| {
            let claimed_until = now_ms.saturating_add(lease_ms);
            let rows = tx
                .prepare_cached(DUE_SQL)?
                .query_map(params![now_ms, limit as i64], |r| {
                    let extra: String = r.get(6)?;
                    Ok(Delivery {
                        id: r.get(0)?,
                        event_type: r.get(1)?,
                        namespace: r.get(2)?,
                        data_id: r.get::<_, i64>(3)? as u64,
                        owner_id: r.get(4)?,
                        time: r.get(5)?,
                        extra: serde_json::from_str::<Map<String, Value>>(&extra)
                            .unwrap_or_default(),
                        attempts: r.get(7)?,
                        claimed_until,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut lease =
                tx.prepare_cached("UPDATE webhook_outbox SET claimed_until = ?2 WHERE id = ?1")?;
            for row in &rows {
                lease.execute(params![row.id, claimed_until])?;
            }
            Ok(rows)
        })
        .await
    }

    async fn settle_webhook_deliveries(
        &self,
        outcomes: Vec<(Delivery, Outcome)>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            for (delivery, outcome) in &outcomes {
                match outcome {
                    // Delivered is delivered, whoever holds the lease now.
                    Outcome::Delivered => {
                        tx.prepare_cached("DELETE FROM webhook_outbox WHERE id = ?1")?
                            .execute([delivery.id])?;
                    }
                    // A failure counts only while the lease is ours: past it, another
                    // node may have sent the row since.
                    Outcome::GiveUp { .. } => {
                        tx.prepare_cached(
                            "DELETE FROM webhook_outbox WHERE id = ?1 AND claimed_until = ?2",
                        )?
                        .execute(params![delivery.id, delivery.claimed_until])?;
                    }
                    Outcome::Retry { at_ms, error } => {
                        tx.prepare_cached(
                            "UPDATE webhook_outbox SET attempts = attempts + 1,
                                 next_attempt = ?3, claimed_until = 0, last_error = ?4
                             WHERE id = ?1 AND claimed_until = ?2",
                        )?
                        .execute(params![
                            delivery.id,
                            delivery.claimed_until,
                            at_ms,
                            error
                        ])?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn webhook_backlog(&self) -> Result<usize, StoreError> {
        self.read(|conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM webhook_outbox", [], |r| r.get(0))?;
            Ok(n as usize)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhook::EventType;
    use crate::store::Durability;

    fn event(data_id: u64, kind: EventType) -> Event {
        Event {
            kind,
            namespace: "default".into(),
            data_id,
            owner_id: 100,
            time: 1_000,
            extra: Map::new(),
        }
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal)
            .unwrap()
            .with_webhooks(true);
        (dir, store)
    }

    fn enqueue(store: &SqliteStore, events: Vec<Event>) {
        let outbox = store.outbox();
        store
            .write_blocking(move |tx| outbox.enqueue_all(tx, events))
            .unwrap();
    }

    fn ids(deliveries: &[Delivery]) -> Vec<(u64, String)> {
        deliveries
            .iter()
            .map(|d| (d.data_id, d.event_type.clone()))
            .collect()
    }

    #[actix_web::test]
    async fn only_the_oldest_event_of_an_object_is_due_and_a_claim_is_exclusive() {
        let (_dir, store) = store();
        enqueue(
            &store,
            vec![
                event(1, EventType::ObjectCreated),
                event(2, EventType::ObjectCreated),
                event(1, EventType::ObjectUpdated),
            ],
        );
        let first = store
            .claim_webhook_deliveries(5_000, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(
            ids(&first),
            [(1, "object.created".into()), (2, "object.created".into())]
        );
        // Leased: nobody else gets them, and object 1's update waits behind its create.
        assert!(
            store
                .claim_webhook_deliveries(5_500, 1_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A lease that ran out (a node died) makes them due again.
        assert_eq!(
            store
                .claim_webhook_deliveries(6_001, 1_000, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        let again = store
            .claim_webhook_deliveries(8_000, 1_000, 10)
            .await
            .unwrap();
        let (created, other) = (again[0].clone(), again[1].clone());
        store
            .settle_webhook_deliveries(vec![
                (created, Outcome::Delivered),
                (
                    other,
                    Outcome::Retry {
                        at_ms: 20_000,
                        error: "HTTP 500".into(),
                    },
                ),
            ])
            .await
            .unwrap();
        let next = store
            .claim_webhook_deliveries(9_000, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(ids(&next), [(1, "object.updated".into())]);
        // The retry is due; so is the update again, whose lease ran out unsettled.
        let retried = store
            .claim_webhook_deliveries(20_000, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(
            ids(&retried),
            [(2, "object.created".into()), (1, "object.updated".into())]
        );
        assert_eq!(retried[0].attempts, 1);
    }

    #[actix_web::test]
    async fn a_stale_lease_cannot_reschedule_or_drop_a_row() {
        let (_dir, store) = store();
        enqueue(&store, vec![event(1, EventType::ObjectDeleted)]);
        let old = store.claim_webhook_deliveries(1_000, 10, 10).await.unwrap();
        let new = store.claim_webhook_deliveries(2_000, 10, 10).await.unwrap();
        let give_up = Outcome::GiveUp {
            error: "late".into(),
        };
        store
            .settle_webhook_deliveries(vec![(old[0].clone(), give_up)])
            .await
            .unwrap();
        assert_eq!(store.webhook_backlog().await.unwrap(), 1);
        store
            .settle_webhook_deliveries(vec![(new[0].clone(), Outcome::Delivered)])
            .await
            .unwrap();
        assert_eq!(store.webhook_backlog().await.unwrap(), 0);
    }

    #[test]
    fn nothing_is_written_when_webhooks_are_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        let outbox = store.outbox();
        store
            .write_blocking(move |tx| outbox.enqueue(tx, &event(1, EventType::ObjectCreated)))
            .unwrap();
        let n: i64 = store
            .read_blocking(|c| {
                Ok(c.query_row("SELECT count(*) FROM webhook_outbox", [], |r| r.get(0))?)
            })
            .unwrap();
        assert_eq!(n, 0);
    }
}
