//! No connection waits forever for a body: one that stalls, or trickles slower
//! than the minimum rate, is cut off within the body timeout (408 on the API,
//! S3's RequestTimeout on the local store), while other clients are served.

use nexds_test_macros::backends;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, V2, spawn_app_with};

/// The body timeout of these tests, in seconds.
const TIMEOUT: u64 = 1;
/// How long a cut-off answer may take: the timeout and room for a busy machine.
const ANSWERED_WITHIN: Duration = Duration::from_secs(TIMEOUT + 4);

fn app() -> TestApp {
    spawn_app_with(|s| s.body_timeout_secs = TIMEOUT)
}

/// Sends `head` and `start`, the first bytes of a body that never ends, then one
/// more byte every `drip` (or nothing more when `None`); returns the answer and
/// how long it took to come.
fn send_stalled(
    addr: &str,
    head: &str,
    start: &[u8],
    drip: Option<Duration>,
) -> (String, Duration) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let poll = Duration::from_millis(100);
    stream.set_read_timeout(Some(poll)).expect("read timeout");
    let began = Instant::now();
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(start).expect("start");
    let mut last_drip = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while began.elapsed() < Duration::from_secs(20) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if !answer.is_empty() {
                    break;
                }
                if drip.is_some_and(|every| last_drip.elapsed() >= every) {
                    // The server may have cut us off already.
                    let _ = stream.write_all(b"x");
                    last_drip = Instant::now();
                }
            }
            Err(_) => break,
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        began.elapsed(),
    )
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Runs `n` stalled requests at once while the title token keeps being served.
fn stall_many(
    app: &TestApp,
    n: usize,
    head: String,
    start: &'static [u8],
    drip: Option<Duration>,
) -> Vec<(String, Duration)> {
    let addr = addr(app);
    let stalled: Vec<_> = (0..n)
        .map(|_| {
            let (addr, head) = (addr.clone(), head.clone());
            thread::spawn(move || send_stalled(&addr, &head, start, drip))
        })
        .collect();
    // Meanwhile others are served as usual.
    thread::sleep(Duration::from_millis(200));
    for _ in 0..10 {
        app.get("/nex/datastore/version", &app.title).assert_ok();
        app.prepare(&app.title, "").assert_ok();
    }
    stalled
        .into_iter()
        .map(|h| h.join().expect("stalled client"))
        .collect()
}

#[backends]
fn a_stalled_api_body_gets_408_in_time_while_others_are_served() {
    let app = app();
    let head = format!(
        "POST {V2}/data/prepare HTTP/1.1\r\nHost: nexds\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 100\r\n\r\n",
        app.title
    );
    for (answer, took) in stall_many(&app, 20, head, b"<prepare><si", None) {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("<code>Core::Timeout</code>"), "{answer}");
        assert!(
            answer.contains("<result_code>0x0001000B</result_code>"),
            "{answer}"
        );
        assert!(took < ANSWERED_WITHIN, "answered after {took:?}");
    }
}

#[backends]
fn a_stalled_or_trickling_upload_to_the_local_store_gets_request_timeout() {
    let app = app();
    let form = app.prepare_upload(&app.title, 1000, "");
    let boundary = "nexds-slow";
    let mut start = String::new();
    for (name, value) in &form.fields {
        start.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    start.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"
    ));
    let head = format!(
        "POST /storage/nexds HTTP/1.1\r\nHost: nexds\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        start.len() + 1000
    );
    let start: &'static [u8] = start.into_bytes().leak();
    // Stalled, and trickling a byte every 0.3 s: each byte comes in time, the
    // whole far slower than the minimum rate.
    for drip in [None, Some(Duration::from_millis(300))] {
        for (answer, took) in stall_many(&app, 5, head.clone(), start, drip) {
            assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
            assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
            assert!(took < ANSWERED_WITHIN, "answered after {took:?}");
        }
    }
    // Nothing was stored; the upload can still be made properly.
    assert_eq!(form.post(&[7u8; 1000]).status, 204);
}
