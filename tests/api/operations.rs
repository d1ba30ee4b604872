//! The operator's side (DESIGN §12): health, metrics, request ids.

use nexds_test_macros::backends;
use std::collections::HashMap;

use crate::garage;
use crate::helpers::{Resp, TestApp, V2, agent, send, spawn_app, spawn_app_with};

fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Resp {
    send(
        &agent(),
        "GET",
        &format!("{}{path}", app.base),
        headers,
        None,
    )
}

#[backends]
fn live_and_ready_answer_ok_without_a_token() {
    let app = spawn_app();
    for path in ["/health/live", "/health/ready"] {
        let resp = get(&app, path, &[]);
        assert_eq!((resp.status, resp.body.as_str()), (200, "ok"), "{path}");
    }
}

#[backends]
fn ready_is_503_naming_the_file_storage_while_its_folder_is_gone() {
    let app = spawn_app();
    let blobs = app.data_dir().join("blobs");
    let aside = app.data_dir().join("blobs-aside");
    std::fs::rename(&blobs, &aside).unwrap();
    let resp = get(&app, "/health/ready", &[]);
    assert_eq!(resp.status, 503, "{}", resp.body);
    assert!(resp.body.contains("file storage"), "{}", resp.body);
    assert!(!resp.body.contains("metadata database"), "{}", resp.body);
    assert_eq!(get(&app, "/health/live", &[]).status, 200);
    std::fs::rename(&aside, &blobs).unwrap();
    let resp = get(&app, "/health/ready", &[]);
    assert_eq!((resp.status, resp.body.as_str()), (200, "ok"));
}

#[backends]
fn ready_follows_garage_going_away_and_coming_back() {
    let Some(mut garage) = garage::garage() else {
        return;
    };
    let app = spawn_app_with(|s| garage.configure(s));
    assert_eq!(get(&app, "/health/ready", &[]).status, 200);
    garage.stop();
    let started = std::time::Instant::now();
    let resp = get(&app, "/health/ready", &[]);
    assert_eq!(resp.status, 503, "{}", resp.body);
    assert!(resp.body.contains("file storage"), "{}", resp.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(get(&app, "/health/live", &[]).status, 200);
    garage.start();
    let resp = get(&app, "/health/ready", &[]);
    assert_eq!((resp.status, resp.body.as_str()), (200, "ok"));
}

/// One sample of a scrape: a histogram counts as its `_count`.
#[derive(Debug)]
pub(crate) struct Sample {
    metric: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// The samples of a scrape, parsed as Prometheus would.
pub(crate) fn scrape(app: &TestApp, headers: &[(&str, &str)]) -> Vec<Sample> {
    use openmetrics_parser::{PrometheusValue, prometheus::parse_prometheus};
    let resp = get(app, "/metrics", headers);
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.content_type.starts_with("text/plain"), "{resp:?}");
    let exposition = parse_prometheus(&resp.body)
        .unwrap_or_else(|e| panic!("not Prometheus text ({e:?}): {}", resp.body));
    let mut samples = Vec::new();
    for (name, family) in &exposition.families {
        for sample in family.iter_samples() {
            let labels = sample.get_labelset().expect("labels");
            let labels = labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let (metric, value) = match &sample.value {
                PrometheusValue::Counter(c) => (name.clone(), c.value.as_f64()),
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => {
                    (name.clone(), n.as_f64())
                }
                PrometheusValue::Histogram(h) => {
                    (format!("{name}_count"), h.count.unwrap_or_default() as f64)
                }
                PrometheusValue::Summary(s) => {
                    (format!("{name}_count"), s.count.unwrap_or_default() as f64)
                }
            };
            samples.push(Sample {
                metric,
                labels,
                value,
            });
        }
    }
    samples
}

/// The sum of the samples `metric` whose labels include `labels`; 0 when absent.
pub(crate) fn value(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// Whether a sample `metric` with `label` = `value` is there (at any value).
fn has(samples: &[Sample], metric: &str, label: &str, value: &str) -> bool {
    samples
        .iter()
        .any(|s| s.metric == metric && s.labels.get(label).map(String::as_str) == Some(value))
}

#[backends]
fn metrics_count_requests_by_route_pattern_and_status() {
    let app = spawn_app();
    // Methods and statuses no other test sends to these routes: the counts of
    // other tests' apps (one recorder per process) cannot move them. The two
    // variants of this test may run at once: each has its own method.
    let missing = 987_654_321u64;
    let method = match crate::helpers::Backend::current() {
        crate::helpers::Backend::Sqlite => "PATCH",
        crate::helpers::Backend::Postgres => "OPTIONS",
    };
    let route = format!("{V2}/metainfo/{{data_id}}/ratings/{{slot}}/put");
    let before = scrape(&app, &[]);
    let count = |samples: &[Sample], route: &str, method, status| {
        value(
            samples,
            "nexds_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    for _ in 0..3 {
        let resp = send(
            &agent(),
            method,
            &format!("{}{V2}/metainfo/{missing}/ratings/0/put", app.base),
            &[],
            None,
        );
        assert_eq!(resp.status, 405);
    }
    send(
        &agent(),
        method,
        &format!("{}/no/such/{missing}", app.base),
        &[],
        None,
    );
    app.get(&format!("{V2}/metainfo/{missing}"), &app.title);
    // A request is counted when its body has been sent, which can be a moment
    // after the client has read it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let after = loop {
        let after = scrape(&app, &[]);
        let ours = count(&after, &route, method, "405") - count(&before, &route, method, "405")
            + count(&after, "unmatched", method, "404")
            - count(&before, "unmatched", method, "404");
        if ours >= 4.0 || std::time::Instant::now() > deadline {
            break after;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };

    assert_eq!(
        count(&after, &route, method, "405") - count(&before, &route, method, "405"),
        3.0
    );
    assert_eq!(
        count(&after, "unmatched", method, "404") - count(&before, "unmatched", method, "404"),
        1.0
    );
    // Never the raw path as a label.
    assert!(
        after
            .iter()
            .all(|s| s.labels.values().all(|v| !v.contains(&missing.to_string()))),
        "a raw path became a label"
    );
    let metainfo = format!("{V2}/metainfo/{{data_id}}");
    assert!(count(&after, &metainfo, "GET", "404") >= 1.0);
    let durations = |samples: &[Sample]| {
        value(
            samples,
            "nexds_http_request_duration_seconds_count",
            &[("route", &route)],
        )
    };
    // Every request of this route timed once: ours, and those of the other
    // backend's variant of this test if it runs at the same time (the
    // histogram has no method label).
    let all_of_route = |samples: &[Sample]| -> f64 {
        samples
            .iter()
            .filter(|s| {
                s.metric == "nexds_http_requests_total"
                    && s.labels.get("route").map(String::as_str) == Some(route.as_str())
            })
            .map(|s| s.value)
            .sum()
    };
    let timed = durations(&after) - durations(&before);
    assert!(timed >= 3.0, "{timed}");
    assert_eq!(timed, all_of_route(&after) - all_of_route(&before));
    let names: HashMap<&str, usize> = after.iter().fold(HashMap::new(), |mut m, s| {
        *m.entry(s.metric.as_str()).or_default() += 1;
        m
    });
    for name in [
        "nexds_uploads_completed_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(names.contains_key(name), "no {name}: {names:?}");
    }
    assert!(value(&after, "process_resident_memory_bytes", &[]) > 0.0);
    let reads = |samples: &[Sample]| {
        value(
            samples,
            "nexds_db_operation_duration_seconds_count",
            &[("mode", "read")],
        )
    };
    // At least the metainfo read of our GET (its token may come from the token
    // cache, which reads nothing).
    assert!(
        reads(&after) - reads(&before) >= 1.0,
        "no store reads timed"
    );
    for kind in [
        "uploads",
        "expired",
        "deleted",
        "versions",
        "files",
        "stale_uploads",
    ] {
        assert!(
            has(&after, "nexds_janitor_removed_total", "kind", kind),
            "{kind}"
        );
    }
    // Counted by tests/api/webhooks.rs; here: every result is a series from the start.
    for result in ["delivered", "retry", "dropped"] {
        assert!(has(
            &after,
            "nexds_webhook_deliveries_total",
            "result",
            result
        ));
    }
}

#[backends]
fn a_completed_upload_is_counted() {
    let app = spawn_app();
    let completed = |samples: &[Sample]| value(samples, "nexds_uploads_completed_total", &[]);
    let before = completed(&scrape(&app, &[]));
    app.upload(&app.title, b"counted", "");
    // Other tests complete uploads at the same time: at least ours.
    assert!(completed(&scrape(&app, &[])) >= before + 1.0);
}

#[backends]
fn metrics_need_the_metrics_token_when_one_is_set() {
    let app = spawn_app_with(|s| s.metrics_token = Some("scrape-me".into()));
    let resp = get(&app, "/metrics", &[]);
    assert_eq!(resp.status, 401);
    assert!(resp.header("WWW-Authenticate").is_some());
    assert!(!resp.body.contains("nexds_http_requests_total"));
    let wrong = get(&app, "/metrics", &[("Authorization", "Bearer scrape-you")]);
    assert_eq!(wrong.status, 401);
    let title = format!("Bearer {}", app.title);
    assert_eq!(
        get(&app, "/metrics", &[("Authorization", &title)]).status,
        401
    );
    let samples = scrape(&app, &[("Authorization", "Bearer scrape-me")]);
    assert!(
        samples
            .iter()
            .any(|s| s.metric == "nexds_http_requests_total")
    );
    // The health checks stay open.
    assert_eq!(get(&app, "/health/ready", &[]).status, 200);
    // Without the setting, /metrics is open.
    assert_eq!(get(&spawn_app(), "/metrics", &[]).status, 200);
}

#[backends]
fn every_answer_carries_a_request_id_and_a_sane_one_sent_is_kept() {
    let app = spawn_app();
    let token = format!("Bearer {}", app.title);
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        ("GET", "/nex/datastore/version".into(), vec![], 200),
        (
            "GET",
            format!("{V2}/metainfo/1"),
            vec![("Authorization", &token)],
            404,
        ),
        ("GET", format!("{V2}/metainfo/1"), vec![], 401),
        ("GET", "/no/such/path".into(), vec![], 404),
        ("GET", "/health/live".into(), vec![], 200),
        ("GET", "/health/ready".into(), vec![], 200),
        ("GET", "/metrics".into(), vec![], 200),
        (
            "GET",
            "/download/1?expires=1&signature=x".into(),
            vec![],
            403,
        ),
        ("GET", "/storage/nexds/objects/none.bin".into(), vec![], 403),
        ("PUT", "/storage/nexds".into(), vec![], 405),
    ];
    let mut seen = std::collections::HashSet::new();
    for (method, path, headers, status) in &cases {
        let url = format!("{}{path}", app.base);
        let fresh = send(&agent(), method, &url, headers, None);
        assert_eq!(fresh.status, *status, "{method} {path}: {}", fresh.body);
        let id = fresh
            .header("X-Request-Id")
            .unwrap_or_else(|| panic!("no X-Request-Id on {method} {path}"))
            .to_owned();
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(seen.insert(id), "a request id came twice");

        let mut with_id = headers.clone();
        with_id.push(("X-Request-Id", "client-id_1.A"));
        let kept = send(&agent(), method, &url, &with_id, None);
        assert_eq!(kept.header("X-Request-Id"), Some("client-id_1.A"), "{path}");

        for insane in ["has space", "quote\"d", &"x".repeat(65)] {
            let mut with_id = headers.clone();
            with_id.push(("X-Request-Id", insane));
            let replaced = send(&agent(), method, &url, &with_id, None);
            let id = replaced.header("X-Request-Id").unwrap_or_default();
            assert!(
                id.len() == 16 && id != insane,
                "{path}: {insane:?} became {id:?}"
            );
        }
    }
}

#[backends]
fn the_s3_error_names_the_request_id_of_the_header() {
    let app = spawn_app();
    let url = format!("{}/storage/nexds/objects/none.bin", app.base);
    let resp = send(
        &agent(),
        "GET",
        &url,
        &[("X-Request-Id", "s3-side-7")],
        None,
    );
    assert_eq!(resp.status, 403);
    assert_eq!(resp.header("X-Request-Id"), Some("s3-side-7"));
    assert_eq!(resp.header("x-amz-request-id"), Some("s3-side-7"));
    assert!(
        resp.body.contains("<RequestId>s3-side-7</RequestId>"),
        "{}",
        resp.body
    );
    let fresh = send(&agent(), "GET", &url, &[], None);
    let id = fresh.header("X-Request-Id").unwrap();
    assert!(
        fresh.body.contains(&format!("<RequestId>{id}</RequestId>")),
        "{}",
        fresh.body
    );
}
