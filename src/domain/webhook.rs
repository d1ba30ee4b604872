//! Webhook events (DESIGN §15): what each one says, its JSON body, and when a
//! failed delivery is tried again or given up. Sending them is `services::webhooks`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::{Object, Status, time};

/// What happened; the `type` of the body and the `X-Nexds-Event` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A meta-only object was prepared, or an upload completed.
    ObjectCreated,
    /// A change, or a new file version made current.
    ObjectUpdated,
    /// A delete, an object a persistence slot deleted, or an erase.
    ObjectDeleted,
    /// An object became pending (need_review, or a title set it).
    ReviewPending,
    /// A title moved an object's status away from pending; with `status`.
    ReviewDecided,
    /// One recipient's notification (DESIGN §15); with `recipient_id`.
    Notification,
}

impl EventType {
    pub fn name(self) -> &'static str {
        match self {
            EventType::ObjectCreated => "object.created",
            EventType::ObjectUpdated => "object.updated",
            EventType::ObjectDeleted => "object.deleted",
            EventType::ReviewPending => "review.pending",
            EventType::ReviewDecided => "review.decided",
            EventType::Notification => "notification",
        }
    }
}

/// One event, as a unit of work records it in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventType,
    pub namespace: String,
    pub data_id: u64,
    pub owner_id: u32,
    /// UNIX seconds.
    pub time: i64,
    /// Fields of the body beyond the common ones (`status`, `recipient_id`, …).
    pub extra: Map<String, Value>,
}

impl Event {
    /// An event about `object` at `now`.
    pub fn about(kind: EventType, object: &Object, now: i64) -> Event {
        Event {
            kind,
            namespace: object.namespace.clone(),
            data_id: object.data_id,
            owner_id: object.owner_id,
            time: now,
            extra: Map::new(),
        }
    }

    /// The `notification` of `recipient` about `object` (DESIGN §15).
    pub fn notification(object: &Object, recipient: u32, now: i64) -> Event {
        Event::about(EventType::Notification, object, now).with("recipient_id", recipient)
    }

    /// Adds a field to the body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// `extra` as stored: one JSON object.
    pub fn extra_json(&self) -> String {
        Value::Object(self.extra.clone()).to_string()
    }
}

/// Why an object was deleted: `reason` of `object.deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// A delete request.
    Delete,
    /// A persistence slot released it with `delete_last_object`.
    Persistence,
    /// Its owner's data was erased.
    Erase,
}

impl DeleteReason {
    pub fn name(self) -> &'static str {
        match self {
            DeleteReason::Delete => "delete",
            DeleteReason::Persistence => "persistence",
            DeleteReason::Erase => "erase",
        }
    }

    /// The `object.deleted` event of `object`.
    pub fn event(self, object: &Object, now: i64) -> Event {
        Event::about(EventType::ObjectDeleted, object, now).with("reason", self.name())
    }
}

/// The events a change of `before` into `after` reports: `review.decided` when the
/// status leaves pending, `review.pending` when it enters it, and `object.updated`
/// unless the change was nothing but that decision (a moderator's approve/reject).
pub fn change_events(before: &Object, after: &Object, status_only: bool, now: i64) -> Vec<Event> {
    let decided = before.status == Status::Pending && after.status != Status::Pending;
    let pending = before.status != Status::Pending && after.status == Status::Pending;
    let mut events = Vec::new();
    if !(status_only && (decided || pending)) {
        events.push(Event::about(EventType::ObjectUpdated, after, now));
    }
    if decided {
        events.push(
            Event::about(EventType::ReviewDecided, after, now).with("status", after.status.name()),
        );
    }
    if pending {
        events.push(Event::about(EventType::ReviewPending, after, now));
    }
    events
}

/// The events of an object that has just become finished (meta-only prepare,
/// complete): `object.created`, then `review.pending` if it awaits review.
pub fn created_events(object: &Object, now: i64) -> Vec<Event> {
    let mut events = vec![Event::about(EventType::ObjectCreated, object, now)];
    if object.status == Status::Pending {
        events.push(Event::about(EventType::ReviewPending, object, now));
    }
    events
}

/// An event read back from the outbox for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The outbox row's id: the body's `id` and `X-Nexds-Delivery`.
    pub id: i64,
    pub event_type: String,
    pub namespace: String,
    pub data_id: u64,
    pub owner_id: u32,
    pub time: i64,
    pub extra: Map<String, Value>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The lease this node holds on it (UNIX ms); its result is recorded only while it holds.
    pub claimed_until: i64,
}

#[derive(Serialize)]
struct Body<'a> {
    id: i64,
    #[serde(rename = "type")]
    event_type: &'a str,
    namespace: &'a str,
    data_id: u64,
    owner_id: u32,
    time: String,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl Delivery {
    /// The JSON body: `{"id","type","namespace","data_id","owner_id","time",…}`.
    pub fn body(&self) -> String {
        let body = Body {
            id: self.id,
            event_type: &self.event_type,
            namespace: &self.namespace,
            data_id: self.data_id,
            owner_id: self.owner_id,
            time: time::format(self.time),
            extra: &self.extra,
        };
        serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// `X-Nexds-Signature`: `sha256=` and the hex HMAC-SHA256 of the body with the secret.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// When failed deliveries are tried again: `first` after the first failure,
/// doubling up to `cap`, until `give_up` after the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first_ms: i64,
    pub cap_ms: i64,
    pub give_up_ms: i64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first_ms: 1_000,
            cap_ms: 600_000,
            give_up_ms: 24 * 3_600_000,
        }
    }
}

/// What becomes of an event after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer: the row goes.
    Delivered,
    /// Tried again at this UNIX ms.
    Retry { at_ms: i64, error: String },
    /// Failed for longer than the give-up window: the row goes, with an error log.
    GiveUp { error: String },
}

impl Backoff {
    /// The delay before attempt `attempts + 1`, after `attempts` failures (≥ 1).
    pub fn delay_ms(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(40);
        self.first_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.cap_ms)
    }

    /// The outcome of a failed attempt of `delivery` at `now_ms`.
    pub fn after_failure(&self, delivery: &Delivery, now_ms: i64, error: String) -> Outcome {
        let attempts = delivery.attempts.saturating_add(1);
        let at_ms = now_ms.saturating_add(self.delay_ms(attempts));
        if at_ms
            > delivery
                .time
                .saturating_mul(1000)
                .saturating_add(self.give_up_ms)
        {
            Outcome::GiveUp { error }
        } else {
            Outcome::Retry { at_ms, error }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery {
        let mut extra = Map::new();
        extra.insert("status".into(), "none".into());
        Delivery {
            id: 7,
            event_type: "review.decided".into(),
            namespace: "default".into(),
            data_id: 1_000_000,
            owner_id: 100,
            time: 1_356_998_400,
            extra,
            attempts: 0,
            claimed_until: 0,
        }
    }

    #[test]
    fn the_body_has_the_common_fields_first_then_the_extra_ones() {
        assert_eq!(
            delivery().body(),
            r#"{"id":7,"type":"review.decided","namespace":"default","data_id":1000000,"owner_id":100,"time":"2013-01-01T00:00:00Z","status":"none"}"#
        );
    }

    #[test]
    fn the_signature_is_the_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_double_from_the_first_delay_up_to_the_cap() {
        let b = Backoff::default();
        let delays: Vec<i64> = (1..=12).map(|a| b.delay_ms(a)).collect();
        assert_eq!(
            delays,
            [
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000,
                600_000, 600_000
            ]
        );
        assert_eq!(b.delay_ms(u32::MAX), 600_000);
    }

    #[test]
    fn a_delivery_failing_for_a_day_is_given_up() {
        let b = Backoff::default();
        let d = delivery();
        let start = d.time * 1000;
        assert!(matches!(
            b.after_failure(&d, start + 5, "500".into()),
            Outcome::Retry { at_ms, .. } if at_ms == start + 1_005
        ));
        assert_eq!(
            b.after_failure(&d, start + 24 * 3_600_000, "500".into()),
            Outcome::GiveUp {
                error: "500".into()
            }
        );
    }
}
