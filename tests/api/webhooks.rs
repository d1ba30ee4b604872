//! Webhooks (DESIGN §15) against a real HTTP receiver on 127.0.0.1: signatures,
//! retries until a 2xx, order per object, delivery after a restart, and nothing
//! from a change that rolled back.

use nexds_test_macros::backends;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::{TestApp, V2, spawn_app_with};
use crate::process::serve;
use crate::versions::{complete_version, prepare_version};

const SECRET: &str = "webhook-test-secret";

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Hook {
    event: String,
    delivery: String,
    signature: String,
    content_type: String,
    body: String,
    answered: u16,
}

impl Hook {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn data_id(&self) -> u64 {
        self.json()["data_id"].as_u64().unwrap()
    }
    fn id(&self) -> i64 {
        self.json()["id"].as_i64().unwrap()
    }
}

/// A tiny HTTP/1.1 server that records every request; it answers the statuses
/// queued in `plan` first, then 200.
#[derive(Clone)]
struct Receiver {
    port: u16,
    hooks: Arc<Mutex<Vec<Hook>>>,
    plan: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn start(plan: &[u16]) -> Receiver {
        Receiver::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), plan)
    }

    fn start_on(listener: TcpListener, plan: &[u16]) -> Receiver {
        let receiver = Receiver {
            port: listener.local_addr().unwrap().port(),
            hooks: Arc::default(),
            plan: Arc::new(Mutex::new(plan.iter().copied().collect())),
        };
        let kept = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let receiver = kept.clone();
                std::thread::spawn(move || receiver.answer(stream));
            }
        });
        receiver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    fn answer(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut headers = BTreeMap::new();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("POST /hooks HTTP/1.1"), "{line}");
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let length: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let answered = self.plan.lock().unwrap().pop_front().unwrap_or(200);
        let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
        self.hooks.lock().unwrap().push(Hook {
            event: header("x-nexds-event"),
            delivery: header("x-nexds-delivery"),
            signature: header("x-nexds-signature"),
            content_type: header("content-type"),
            body: String::from_utf8(body).unwrap(),
            answered,
        });
        let _ = write!(
            &stream,
            "HTTP/1.1 {answered} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }

    fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    /// The events answered with 200, once `n` of them have arrived.
    fn delivered(&self, n: usize) -> Vec<Hook> {
        self.delivered_within(n, Duration::from_secs(20))
    }

    /// [`Self::delivered`], waiting at most `wait`.
    fn delivered_within(&self, n: usize, wait: Duration) -> Vec<Hook> {
        let deadline = Instant::now() + wait;
        loop {
            let delivered: Vec<Hook> = self
                .hooks()
                .into_iter()
                .filter(|h| h.answered == 200)
                .collect();
            if delivered.len() >= n {
                return delivered;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} events delivered: {:#?}",
                delivered.len(),
                self.hooks()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Checks what every request must be: signed with the secret over its exact body,
/// headers matching the body, the common fields present.
fn check_hook(hook: &Hook) {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(hook.body.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hook.signature, expected, "{hook:?}");
    let json = hook.json();
    assert_eq!(json["type"], hook.event.as_str(), "{hook:?}");
    assert_eq!(json["id"].to_string(), hook.delivery, "{hook:?}");
    assert_eq!(json["namespace"], "default");
    assert!(json["owner_id"].is_u64(), "{hook:?}");
    let time = json["time"].as_str().unwrap();
    assert!(
        (time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T'),
        "{time}"
    );
    assert_eq!(hook.content_type, "application/json");
}

fn app_for(receiver: &Receiver) -> TestApp {
    let url = receiver.url();
    spawn_app_with(move |s| {
        s.webhook_url = Some(url);
        s.webhook_secret = Some(SECRET.into());
        s.webhook_retry_secs = 0.05;
        s.webhook_retry_max_secs = 0.2;
    })
}

/// `(type, data_id)` of each hook, with the `extra` field named, if any.
fn summary(hooks: &[Hook], extra: &str) -> Vec<(String, u64, Value)> {
    hooks
        .iter()
        .map(|h| (h.event.clone(), h.data_id(), h.json()[extra].clone()))
        .collect()
}

#[backends]
fn every_event_is_signed_and_says_what_happened_to_which_object() {
    let receiver = Receiver::start(&[]);
    let app = app_for(&receiver);
    let owner = app.principal(100);

    let plain = app.create(
        &owner,
        "<access_permission><type>public</type></access_permission>",
    );
    app.put(
        &format!("{V2}/metainfo/{plain}"),
        &owner,
        "<change><name>renamed</name></change>",
    )
    .assert_ok();
    let reviewed = app.create(
        &owner,
        "<flags><flag>not_use_storageserver</flag><flag>need_review</flag></flags>",
    );
    app.put(
        &format!("{V2}/metainfo/{reviewed}"),
        &app.title,
        "<change><status>rejected</status></change>",
    )
    .assert_ok();
    let file = app.upload(&owner, b"hello", "<flags><flag>need_review</flag></flags>");
    let (form, version) = prepare_version(&app, &owner, file, 3);
    assert!((200..300).contains(&form.post(b"abc").status));
    complete_version(&app, &owner, file).assert_ok();
    let slot = "<persistence_init_param><slot>3</slot></persistence_init_param>";
    let first = app.create(&owner, slot);
    let second = app.create(&owner, slot);
    assert_eq!(
        app.delete(&format!("{V2}/data/{plain}"), &owner).status,
        200
    );

    let expected = [
        ("object.created", plain, Value::Null),
        ("object.updated", plain, Value::Null),
        ("object.created", reviewed, Value::Null),
        ("review.pending", reviewed, Value::Null),
        ("review.decided", reviewed, "rejected".into()),
        ("object.created", file, Value::Null),
        ("review.pending", file, Value::Null),
        ("object.updated", file, version.into()),
        ("object.created", first, Value::Null),
        ("object.created", second, Value::Null),
        ("object.deleted", first, "persistence".into()),
        ("object.deleted", plain, "delete".into()),
    ];
    let hooks = receiver.delivered(expected.len());
    for hook in &hooks {
        check_hook(hook);
        assert_eq!(hook.json()["owner_id"], 100, "{hook:?}");
    }
    // Events of different objects may overtake each other; per object they may not.
    let mut got: Vec<(String, u64, Value)> = hooks
        .iter()
        .map(|h| {
            let json = h.json();
            let extra = ["status", "version", "reason"]
                .iter()
                .map(|k| json[*k].clone())
                .find(|v| !v.is_null())
                .unwrap_or(Value::Null);
            (h.event.clone(), h.data_id(), extra)
        })
        .collect();
    let mut want: Vec<(String, u64, Value)> = expected
        .iter()
        .map(|(t, id, v)| ((*t).to_owned(), *id, v.clone()))
        .collect();
    got.sort_by_key(|e| e.1);
    want.sort_by_key(|e| e.1);
    assert_eq!(got, want);
    // Delivery ids are distinct and grow with the events of one object.
    let mut ids: Vec<i64> = hooks.iter().map(Hook::id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), hooks.len());
    // Nothing else arrives.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.hooks().len(), expected.len());
}

#[backends]
fn a_failing_receiver_gets_each_event_until_it_answers_2xx_in_order_per_object() {
    // The first five requests fail with 500 (and one with a redirect).
    let receiver = Receiver::start(&[500, 500, 302, 500, 503]);
    let app = app_for(&receiver);
    let a = app.create_public();
    let b = app.create_public();
    for (id, name) in [(a, "a1"), (b, "b1"), (a, "a2"), (a, "a3"), (b, "b2")] {
        app.put(
            &format!("{V2}/metainfo/{id}"),
            &app.title,
            &format!("<change><name>{name}</name></change>"),
        )
        .assert_ok();
    }
    assert_eq!(
        app.delete(&format!("{V2}/data/{a}"), &app.title).status,
        200
    );

    let delivered = receiver.delivered(8);
    let all = receiver.hooks();
    assert!(all.iter().filter(|h| h.answered != 200).count() == 5);
    all.iter().for_each(check_hook);
    for id in [a, b] {
        // Delivered once each, in the order they happened.
        let of = |hooks: &[Hook]| -> Vec<i64> {
            hooks
                .iter()
                .filter(|h| h.data_id() == id)
                .map(Hook::id)
                .collect()
        };
        let ids = of(&delivered);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        // No event was even tried while an earlier one of its object was undelivered.
        let tried = of(&all);
        assert!(tried.windows(2).all(|w| w[0] <= w[1]), "{tried:?}");
    }
    let types: Vec<String> = summary(&delivered, "type")
        .into_iter()
        .filter(|e| e.1 == a)
        .map(|e| e.0)
        .collect();
    assert_eq!(
        types,
        [
            "object.created",
            "object.updated",
            "object.updated",
            "object.updated",
            "object.deleted"
        ]
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.delivered(8).len(), 8, "nothing is delivered twice");
}

#[backends]
fn a_batch_change_or_delete_that_fails_on_its_second_item_sends_nothing() {
    let receiver = Receiver::start(&[]);
    let app = app_for(&receiver);
    let owner = app.principal(100);
    let mine = app.create(&owner, "");
    let theirs = app.create(&app.principal(200), "");
    receiver.delivered(2);

    let batch = format!(
        "<change><param><data_id>{mine}</data_id></param><param><data_id>{theirs}</data_id></param><name>x</name></change>"
    );
    assert_eq!(
        app.put(&format!("{V2}/metainfo"), &owner, &batch).status,
        404
    );
    let delete = format!(
        "<delete><param><data_id>{mine}</data_id></param><param><data_id>{theirs}</data_id></param></delete>"
    );
    assert_eq!(
        app.post(&format!("{V2}/data/delete"), &owner, &delete)
            .status,
        404
    );
    // A change that commits afterwards arrives, and alone.
    app.put(
        &format!("{V2}/metainfo/{mine}"),
        &owner,
        "<change><name>y</name></change>",
    )
    .assert_ok();
    let hooks = receiver.delivered(3);
    std::thread::sleep(Duration::from_millis(300));
    let hooks_after = receiver.hooks();
    assert_eq!(hooks_after.len(), 3, "{hooks_after:#?}");
    assert_eq!(
        (hooks[2].event.as_str(), hooks[2].data_id()),
        ("object.updated", mine)
    );
}

#[backends]
fn a_slow_receiver_never_slows_a_request() {
    // Accepts connections but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<TcpStream> = listener.incoming().map_while(Result::ok).collect();
        drop(held);
    });
    let app = spawn_app_with(move |s| {
        s.webhook_url = Some(format!("http://127.0.0.1:{port}/hooks"));
        s.webhook_secret = Some(SECRET.into());
    });
    let started = Instant::now();
    for _ in 0..5 {
        app.create_public();
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[backends]
fn events_made_while_the_receiver_is_down_arrive_after_a_restart() {
    // A port nothing listens on, until the receiver starts on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let token = nexds::auth::new_token().unwrap();
    let envs = [
        ("NEXDS_WEBHOOK_URL", url.as_str()),
        ("NEXDS_WEBHOOK_SECRET", SECRET),
        ("NEXDS_WEBHOOK_RETRY_SECS", "0.05"),
        ("NEXDS_WEBHOOK_RETRY_MAX_SECS", "0.2"),
        // A claim lasts 2 × this + 10 s: killed while it held one, the first
        // server leaves those events to the next after 12 s.
        ("NEXDS_WEBHOOK_TIMEOUT_SECS", "1"),
        ("NEXDS_BOOTSTRAP_TOKEN", token.as_str()),
        ("NEXDS_DURABILITY", "normal"),
    ];
    let mut ids = Vec::new();
    {
        let server = serve(dir.path(), &envs, &[]);
        let client = crate::helpers::agent();
        for i in 0..3 {
            let resp = crate::helpers::send(
                &client,
                "POST",
                &format!("{}{V2}/data/prepare", server.base),
                &[("Authorization", &format!("Bearer {token}"))],
                Some(&format!(
                    "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags><meta_binary>bWV0YQ==</meta_binary><name>n{i}</name></prepare>"
                )),
            );
            resp.assert_ok();
            ids.push(resp.text("datastore/data/data_id").parse::<u64>().unwrap());
        }
        let resp = crate::helpers::send(
            &client,
            "DELETE",
            &format!("{}{V2}/data/{}", server.base, ids[0]),
            &[("Authorization", &format!("Bearer {token}"))],
            None,
        );
        assert_eq!(resp.status, 200);
        // Tried and failed at least once: connection refused.
        server.log_until("failed");
        // Dropped: killed with SIGKILL, nothing delivered.
    }
    let receiver = Receiver::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), &[]);
    let _server = serve(dir.path(), &envs, &[]);
    // The dead server's claim, if it held one, runs out first (12 s).
    let hooks = receiver.delivered_within(4, Duration::from_secs(40));
    hooks.iter().for_each(check_hook);
    let got: Vec<(String, u64)> = hooks
        .iter()
        .map(|h| (h.event.clone(), h.data_id()))
        .collect();
    let of_first: Vec<&str> = got
        .iter()
        .filter(|e| e.1 == ids[0])
        .map(|e| e.0.as_str())
        .collect();
    assert_eq!(of_first, ["object.created", "object.deleted"]);
    for id in &ids[1..] {
        assert!(got.contains(&("object.created".to_owned(), *id)), "{got:?}");
    }
    assert_eq!(got.len(), 4, "{got:?}");
}

#[backends]
fn deliveries_and_retries_are_counted_in_the_metrics() {
    use crate::operations::{scrape, value};
    let receiver = Receiver::start(&[500]);
    let app = app_for(&receiver);
    let count = |result: &str| {
        value(
            &scrape(&app, &[]),
            "nexds_webhook_deliveries_total",
            &[("result", result)],
        )
    };
    let (delivered, retried) = (count("delivered"), count("retry"));
    app.create(&app.principal(100), "");
    receiver.delivered(1);
    // The series are process-wide (other tests count too): at least ours.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while count("delivered") < delivered + 1.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(count("delivered") >= delivered + 1.0);
    assert!(count("retry") >= retried + 1.0);
}

#[backends]
fn a_post_sends_one_notification_event_per_recipient() {
    let receiver = Receiver::start(&[]);
    let app = app_for(&receiver);
    app.put(
        &format!("{V2}/principals/100/friends"),
        &app.title,
        "<friends><principal_id>200</principal_id><principal_id>300</principal_id></friends>",
    )
    .assert_ok();
    let id = app.upload(
        &app.principal(100),
        b"post",
        "<flags><flag>use_notification_on_post</flag></flags>\
         <access_permission><type>friend</type></access_permission>",
    );
    let hooks = receiver.delivered(3);
    hooks.iter().for_each(check_hook);
    assert!(hooks.iter().all(|h| h.data_id() == id), "{hooks:?}");
    assert_eq!(hooks[0].event, "object.created", "in order per object");
    let mut recipients: Vec<u64> = hooks
        .iter()
        .filter(|h| h.event == "notification")
        .map(|h| h.json()["recipient_id"].as_u64().unwrap_or(0))
        .collect();
    recipients.sort_unstable();
    assert_eq!(recipients, [200, 300]);
}
