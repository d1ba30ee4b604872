//! The metrics of `GET /metrics` (DESIGN §12): the names of every series, the
//! Prometheus recorder behind the `metrics` facade (installed once per process),
//! and its rendering. Code anywhere (store and services too) records through the
//! facade; nothing here knows actix.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `method`, `route` (the route pattern) and `status`.
pub const HTTP_REQUESTS: &str = "nexds_http_requests_total";
/// Time from a request's arrival to the end of its answer, by `route`.
pub const HTTP_DURATION: &str = "nexds_http_request_duration_seconds";
/// Time of one unit of work of the metadata store, by `mode` (`read`, `write`).
pub const DB_DURATION: &str = "nexds_db_operation_duration_seconds";
/// Units of work the PostgreSQL backend ran again after a conflict with another
/// writer (SQLSTATE 40001 or 40P01).
pub const DB_RETRIES: &str = "nexds_db_retries_total";
/// Uploads (first versions and new versions) completed.
pub const UPLOADS_COMPLETED: &str = "nexds_uploads_completed_total";
/// What the janitor removed, by `kind`.
pub const JANITOR_REMOVED: &str = "nexds_janitor_removed_total";
/// Webhook deliveries, by `result`. Webhooks do not exist yet (DESIGN §15): the
/// series is there, at zero, so dashboards and alerts can be written now.
pub const WEBHOOK_DELIVERIES: &str = "nexds_webhook_deliveries_total";

/// The label `route` of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The kinds of [`JANITOR_REMOVED`].
pub const JANITOR_KINDS: [&str; 6] = [
    "uploads",
    "expired",
    "deleted",
    "versions",
    "files",
    "stale_uploads",
];

/// Buckets of every duration histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histograms are compacted between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<Metrics>> = OnceLock::new();

/// The installed recorder and the process collector.
struct Metrics {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

/// Installs the recorder (once per process: tests start many apps in one) and
/// describes every series, the counters at zero. Whether metrics are recorded.
pub fn install() -> bool {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(&BUCKETS);
            let handle = match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => handle,
                Err(e) => {
                    log::warn!("metrics are off: {e}");
                    return None;
                }
            };
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                log::warn!("metrics: no upkeep thread ({e}); histograms compact at scrapes");
            }
            let process = metrics_process::Collector::default();
            process.describe();
            describe();
            Some(Metrics { handle, process })
        })
        .is_some()
}

fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to the end of its answer"
    );
    describe_histogram!(
        DB_DURATION,
        Unit::Seconds,
        "Time of one unit of work of the metadata store"
    );
    describe_counter!(
        DB_RETRIES,
        "Units of work run again after a serialization conflict (PostgreSQL)"
    );
    describe_counter!(UPLOADS_COMPLETED, "Uploads completed");
    describe_counter!(JANITOR_REMOVED, "Rows and files the janitor removed");
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts by result: delivered (a 2xx), retry (to be tried again), dropped (given up after 24 h)"
    );
    counter!(UPLOADS_COMPLETED).absolute(0);
    for kind in JANITOR_KINDS {
        counter!(JANITOR_REMOVED, "kind" => kind).absolute(0);
    }
    for result in ["delivered", "retry", "dropped"] {
        counter!(WEBHOOK_DELIVERIES, "result" => result).absolute(0);
    }
}

/// Every series in Prometheus text format, process metrics read now; `None`
/// when no recorder could be installed.
pub fn render() -> Option<String> {
    let metrics = RECORDER.get()?.as_ref()?;
    metrics.process.collect();
    metrics.handle.run_upkeep();
    Some(metrics.handle.render())
}

/// Counts what one janitor run removed.
pub fn janitor_removed(kind: &'static str, count: usize) {
    if count > 0 {
        counter!(JANITOR_REMOVED, "kind" => kind).increment(count as u64);
    }
}
