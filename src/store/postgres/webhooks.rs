//! The webhook outbox (DESIGN §15): units of work write their events here in their
//! own transaction; every node's delivery task claims due rows with a lease, so no
//! row is sent by two nodes at once, and only the oldest row of an object is due.
//! The claim locks the rows it leases with `FOR UPDATE SKIP LOCKED`: a node never
//! waits for, nor claims, a row another node is claiming at that moment.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::domain::webhook::{Delivery, Event, Outcome};
use crate::store::postgres::{PgError, PgStore, Tx, execute, one_row, rows, sql_id};
use crate::store::{StoreError, Webhooks};

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

    /// Writes `event` in the transaction `tx`: it is sent if and only if that
    /// transaction commits.
    pub async fn enqueue(self, tx: &Tx<'_>, event: &Event) -> Result<(), PgError> {
        if !self.on {
            return Ok(());
        }
        execute(
            tx,
            "INSERT INTO webhook_outbox (event_type, namespace, data_id, owner_id, event_time, extra)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &event.kind.name(),
                &event.namespace,
                &sql_id(event.data_id),
                &i64::from(event.owner_id),
                &event.time,
                &event.extra_json(),
            ],
        )
        .await?;
        Ok(())
    }

    /// [`Self::enqueue`] of each event, in order.
    pub async fn enqueue_all(
        self,
        tx: &Tx<'_>,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<(), PgError> {
        for event in events {
            self.enqueue(tx, &event).await?;
        }
        Ok(())
    }
}

/// Due rows, oldest first: not waiting for a retry, not leased by a node, and the
/// oldest row of their object (an event never overtakes an earlier one of its
/// object); locked for this claim, skipping rows another claim holds.
const DUE_SQL: &str = "SELECT id, event_type, namespace, data_id, owner_id, event_time, extra,
        attempts
     FROM webhook_outbox o
     WHERE next_attempt <= $1 AND claimed_until <= $1
       AND NOT EXISTS (SELECT 1 FROM webhook_outbox e WHERE e.data_id = o.data_id AND e.id < o.id)
     ORDER BY id LIMIT $2
     FOR UPDATE SKIP LOCKED";

#[async_trait]
impl Webhooks for PgStore {
    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.write(
            (now_ms, lease_ms, limit),
            |tx, &(now_ms, lease_ms, limit)| {
                Box::pin(async move {
                    let claimed_until = now_ms.saturating_add(lease_ms);
                    let due = rows(tx, DUE_SQL, &[&now_ms, &(limit as i64)]).await?;
                    let deliveries: Vec<Delivery> = due
                        .iter()
                        .map(|r| Delivery {
                            id: r.get(0),
                            event_type: r.get(1),
                            namespace: r.get(2),
                            data_id: r.get::<_, i64>(3) as u64,
                            owner_id: r.get::<_, i64>(4) as u32,
                            time: r.get(5),
                            extra: serde_json::from_str::<Map<String, Value>>(r.get(6))
                                .unwrap_or_default(),
                            attempts: r.get::<_, i64>(7) as u32,
                            claimed_until,
                        })
                        .collect();
                    let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
                    execute(
                        tx,
                        "UPDATE webhook_outbox SET claimed_until = $2 WHERE id = ANY($1)",
                        &[&ids, &claimed_until],
                    )
                    .await?;
                    Ok(deliveries)
                })
            },
        )
        .await
    }

    async fn settle_webhook_deliveries(
        &self,
        outcomes: Vec<(Delivery, Outcome)>,
    ) -> Result<(), StoreError> {
        self.write(outcomes, |tx, outcomes| {
            Box::pin(async move {
                for (delivery, outcome) in outcomes {
                    match outcome {
                        // Delivered is delivered, whoever holds the lease now.
                        Outcome::Delivered => {
                            execute(
                                tx,
                                "DELETE FROM webhook_outbox WHERE id = $1",
                                &[&delivery.id],
                            )
                            .await?;
                        }
                        // A failure counts only while the lease is ours: past it, another
                        // node may have sent the row since.
                        Outcome::GiveUp { .. } => {
                            execute(
                                tx,
                                "DELETE FROM webhook_outbox WHERE id = $1 AND claimed_until = $2",
                                &[&delivery.id, &delivery.claimed_until],
                            )
                            .await?;
                        }
                        Outcome::Retry { at_ms, error } => {
                            execute(
                                tx,
                                "UPDATE webhook_outbox SET attempts = attempts + 1,
                                     next_attempt = $3, claimed_until = 0, last_error = $4
                                 WHERE id = $1 AND claimed_until = $2",
                                &[&delivery.id, &delivery.claimed_until, at_ms, error],
                            )
                            .await?;
                        }
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn webhook_backlog(&self) -> Result<usize, StoreError> {
        self.read((), |tx, ()| {
            Box::pin(async move {
                let row = one_row(tx, "SELECT count(*) FROM webhook_outbox", &[]).await?;
                Ok(row.get::<_, i64>(0) as usize)
            })
        })
        .await
    }
}
