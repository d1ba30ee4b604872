//! Webhook delivery (DESIGN §15): a background task on every node that claims due
//! events from the outbox, POSTs each with its HMAC signature, and records the
//! outcome: a 2xx is delivered, anything else is retried with backoff until 24 h
//! after the event. Requests only ever write outbox rows, so a slow or dead
//! receiver never holds one up.

use std::time::Duration;

use futures_util::future::join_all;

use crate::domain::time;
use crate::domain::webhook::{Backoff, Delivery, Outcome, signature};
use crate::store::Store;
use crate::telemetry;

/// Events claimed (and sent concurrently, each of another object) per round.
const BATCH: usize = 32;
/// How often an idle node looks for due events.
const POLL: Duration = Duration::from_millis(250);

/// Where and how events are sent.
#[derive(Clone)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: Vec<u8>,
    pub backoff: Backoff,
    /// For one POST, connection included.
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("backoff", &self.backoff)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Starts delivering on the current runtime; runs as long as it does.
pub fn spawn(store: Store, target: WebhookTarget) -> Result<(), reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(target.timeout)
        .connect_timeout(target.timeout)
        // A redirect is not a delivery: a 3xx is retried like any non-2xx answer.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("nexds/", env!("CARGO_PKG_VERSION")))
        .build()?;
    log::info!("webhooks are POSTed to {}", target.url);
    tokio::spawn(async move {
        loop {
            match deliver_due(&store, &client, &target).await {
                Ok(0) => tokio::time::sleep(POLL).await,
                Ok(_) => {}
                Err(e) => {
                    log::error!("webhooks: {e}");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
    Ok(())
}

/// One round: claims due events, sends them, records what came of each; returns
/// how many were claimed.
pub async fn deliver_due(
    store: &Store,
    client: &reqwest::Client,
    target: &WebhookTarget,
) -> Result<usize, crate::store::StoreError> {
    // The lease outlasts every POST of the round (each ends within its timeout):
    // no other node sends these meanwhile.
    let lease_ms = 2 * target.timeout.as_millis() as i64 + 10_000;
    let claimed = store
        .claim_webhook_deliveries(time::now_ms(), lease_ms, BATCH)
        .await?;
    let count = claimed.len();
    if count == 0 {
        return Ok(0);
    }
    let sent = join_all(claimed.into_iter().map(|delivery| async move {
        let result = post(client, target, &delivery).await;
        (delivery, result)
    }))
    .await;
    let now_ms = time::now_ms();
    let outcomes = sent
        .into_iter()
        .map(|(delivery, result)| {
            let outcome = match result {
                Ok(()) => {
                    log::debug!(
                        "webhook {} ({}) delivered",
                        delivery.id,
                        delivery.event_type
                    );
                    Outcome::Delivered
                }
                Err(error) => target.backoff.after_failure(&delivery, now_ms, error),
            };
            let result = match &outcome {
                Outcome::Delivered => "delivered",
                Outcome::Retry { .. } => "retry",
                Outcome::GiveUp { .. } => "dropped",
            };
            metrics::counter!(telemetry::WEBHOOK_DELIVERIES, "result" => result).increment(1);
            match &outcome {
                Outcome::Delivered => {}
                Outcome::Retry { at_ms, error } => log::warn!(
                    "webhook {} ({} of data_id {}) failed: {error}; retry in {} ms",
                    delivery.id,
                    delivery.event_type,
                    delivery.data_id,
                    at_ms - now_ms
                ),
                Outcome::GiveUp { error } => log::error!(
                    "webhook {} ({} of data_id {}) dropped after {} attempts over 24 h: {error}",
                    delivery.id,
                    delivery.event_type,
                    delivery.data_id,
                    delivery.attempts + 1
                ),
            }
            (delivery, outcome)
        })
        .collect();
    store.settle_webhook_deliveries(outcomes).await?;
    Ok(count)
}

/// POSTs one event; `Ok` on a 2xx answer, else what went wrong.
async fn post(
    client: &reqwest::Client,
    target: &WebhookTarget,
    delivery: &Delivery,
) -> Result<(), String> {
    let body = delivery.body();
    let response = client
        .post(&target.url)
        .header("Content-Type", "application/json")
        .header("X-Nexds-Event", &delivery.event_type)
        .header("X-Nexds-Delivery", delivery.id.to_string())
        .header(
            "X-Nexds-Signature",
            signature(&target.secret, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .map_err(describe)?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

/// A failed request with its causes ("connection refused"), but not its URL,
/// which may carry credentials.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
