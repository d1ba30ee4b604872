//! The moderation page (DESIGN §13): its headers and paths over plain HTTP, and
//! the page itself driven in headless Chromium through WebDriver (fantoccini).

use nexds_test_macros::backends;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, V2, agent, m, send, spawn_app};
use crate::tools::{self, Chromium};

/// Where the page keeps the token (the page's own constant).
const TOKEN_KEY: &str = "nexds.moderation.token";

#[backends]
fn the_page_is_served_with_a_strict_policy_that_names_its_own_script() {
    let app = spawn_app();
    let resp = app.call("GET", "/admin/", None, None);
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.content_type, "text/html; charset=utf-8");
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert!(resp.body.contains("<title>nexds moderation</title>"));

    let policy = resp.header("content-security-policy").expect("a CSP");
    let script = between(&resp.body, "<script>", "</script>");
    let style = between(&resp.body, "<style>", "</style>");
    let hash = |text: &str| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(text)));
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(
        policy.contains(&format!("script-src {};", hash(script))),
        "{policy}"
    );
    assert!(
        policy.contains(&format!("style-src {};", hash(style))),
        "{policy}"
    );
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
}

#[backends]
fn every_other_path_under_admin_is_not_found() {
    let app = spawn_app();
    for path in [
        "/admin/app.js",
        "/admin/index.html",
        "/admin/admin/",
        "/admin//",
        "/admin/%2e%2e/",
    ] {
        let resp = app.call("GET", path, None, None);
        assert_eq!(resp.status, 404, "GET {path}: {}", resp.body);
    }
    // With a title token too: the API's tokens open nothing more here.
    let resp = app.call("GET", "/admin/app.js", Some(&app.title), None);
    assert_eq!(resp.status, 404);
    app.call("POST", "/admin/", None, Some(""))
        .assert_error(405, "Core::InvalidArgument");

    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let resp = send(
        &no_redirects,
        "GET",
        &format!("{}/admin", app.base),
        &[],
        None,
    );
    assert_eq!(resp.status, 308);
    assert_eq!(resp.header("location"), Some("admin/"));
}

#[backends]
fn a_moderator_approves_and_rejects_pending_objects_in_a_real_browser() {
    let Some(chromium) = tools::require(tools::chromium()) else {
        return;
    };
    let app = Arc::new(spawn_app());
    let owner = app.principal(100);
    let review = "<flags><flag>need_review</flag></flags>\
                  <access_permission><type>public</type></access_permission>";
    let image = app.upload(
        &owner,
        &tiny_png(24, 16),
        &format!("{review}<tags><tag>{}</tag></tags>", URL_SAFE.encode("cat")),
    );
    let meta_only = meta_only_object(&app, &owner, b"hello\x00\x01<b>bold</b>");
    let script = meta_only_object(&app, &owner, b"x");
    // prepare takes no <name> yet: the title names it afterwards.
    let renamed = app.put(
        &format!("{V2}/metainfo/{script}"),
        &app.title,
        &format!(
            "<change><name>&lt;script&gt;alert(1)&lt;/script&gt;</name>\
             <tags><tag>{}</tag></tags></change>",
            URL_SAFE.encode("<i>t</i>")
        ),
    );
    renamed.assert_ok();
    let binary = app.upload(&owner, b"GIF87 is not enough: plain bytes", review);
    for id in [image, meta_only, script, binary] {
        assert_eq!(m(&app.meta(id), "status"), "pending");
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let driver = ChromeDriver::start(&chromium, dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        let client = driver.session(&chromium, dir.path()).await;
        let ids = Ids {
            image,
            meta_only,
            script,
            binary,
        };
        let run = tokio::spawn(moderate(app.clone(), client.clone(), ids)).await;
        if run.is_err() {
            let shot = dir.path().join("failure.png");
            match client.screenshot().await {
                Ok(png) => {
                    std::fs::write(&shot, png).expect("write the screenshot");
                    eprintln!("screenshot of the failure: {}", shot.display());
                }
                Err(e) => eprintln!("no screenshot of the failure: {e}"),
            }
        }
        client.close().await.expect("close the browser");
        run
    });
    drop(driver);
    if let Err(e) = outcome {
        let _ = dir.keep();
        std::panic::resume_unwind(e.into_panic());
    }

    // The decisions as the API tells them: to the title, and to a principal who is
    // not the owner (approved: readable; rejected: gone; undecided: under review).
    let other = app.principal(200);
    assert_eq!(m(&app.meta(meta_only), "status"), "none");
    assert_eq!(m(&app.meta(image), "status"), "rejected");
    assert_eq!(m(&app.meta(script), "status"), "pending");
    assert_eq!(m(&app.meta(binary), "status"), "pending");
    let read = |id: u64| app.get(&format!("{V2}/metainfo/{id}"), &other);
    read(meta_only).assert_ok();
    assert_eq!(m(&read(meta_only), "data_id"), meta_only.to_string());
    read(image).assert_error(404, "DataStore::NotFound");
    read(script).assert_error(403, "DataStore::UnderReviewing");
}

/// The objects the browser test moderates.
#[derive(Clone, Copy)]
struct Ids {
    image: u64,
    meta_only: u64,
    script: u64,
    /// A file that is no image.
    binary: u64,
}

/// What a moderator does on the page, checked step by step.
async fn moderate(app: Arc<TestApp>, client: Client, ids: Ids) {
    client
        .goto(&format!("{}/admin/", app.base))
        .await
        .expect("open /admin/");
    // Record any dialog the page might open and any policy violation from now on.
    client
        .execute(
            "window.__dialogs = [];
             for (const name of ['alert', 'confirm', 'prompt']) {
               window[name] = (text) => { window.__dialogs.push(name + ': ' + text); };
             }
             window.__violations = [];
             document.addEventListener('securitypolicyviolation',
               (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));",
            vec![],
        )
        .await
        .expect("install the recorders");
    // The inline style ran under the policy.
    let max_width = script(&client, "return getComputedStyle(document.body).maxWidth").await;
    assert_eq!(max_width, json!("1100px"), "the page's style is applied");

    client
        .find(Locator::Id("token"))
        .await
        .expect("the token field")
        .send_keys(&app.title)
        .await
        .expect("paste the token");
    client
        .find(Locator::Css("#token-form button[type=submit]"))
        .await
        .expect("the open button")
        .click()
        .await
        .expect("open the queue");

    let all = [ids.image, ids.meta_only, ids.script, ids.binary];
    for id in all {
        client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&format!("li[data-id='{id}']")))
            .await
            .unwrap_or_else(|e| panic!("data_id {id} is listed: {e}"));
    }
    let mut shown = Vec::new();
    for el in client
        .find_all(Locator::Css("#list .data-id"))
        .await
        .unwrap()
    {
        shown.push(el.text().await.unwrap());
    }
    let expected: Vec<String> = all.iter().map(u64::to_string).collect();
    assert_eq!(shown, expected, "the pending objects, by data_id");
    let summary = client.find(Locator::Id("summary")).await.unwrap();
    assert_eq!(summary.text().await.unwrap(), "Pending 1–4 of 4");

    // The PNG is shown inline from a blob: URL, decoded by the browser.
    let img = format!("li[data-id='{}'] .preview img", ids.image);
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&img))
        .await
        .expect("the PNG preview is an <img>");
    let width = wait_for_value(
        &client,
        &format!(
            "const img = document.querySelector(\"{img}\");
             return img.complete && img.naturalWidth > 0
               ? [img.naturalWidth, img.naturalHeight, img.src.slice(0, 5)] : null;"
        ),
    )
    .await;
    assert_eq!(width, json!([24, 16, "blob:"]));
    // Anything else is a link to the file.
    let link = wait_for_value(
        &client,
        &format!(
            "const a = document.querySelector(\"li[data-id='{}'] .preview a.download\");
             return a ? [a.href.startsWith('{}/storage/'), a.parentNode.textContent] : null;",
            ids.binary, app.base
        ),
    )
    .await;
    assert_eq!(
        link,
        json!([true, "Download the file (not a PNG, JPEG or GIF)"])
    );
    let tag = text(&client, &format!("li[data-id='{}'] .tag", ids.image)).await;
    assert_eq!(tag, "cat", "tags are decoded");

    // User content is text, never markup.
    let name = text(&client, &format!("li[data-id='{}'] .name", ids.script)).await;
    assert_eq!(name, "<script>alert(1)</script>");
    let tag = text(&client, &format!("li[data-id='{}'] .tag", ids.script)).await;
    assert_eq!(tag, "<i>t</i>");
    let injected = script(
        &client,
        "return document.querySelectorAll('#list script, #list i, #list b').length",
    )
    .await;
    assert_eq!(injected, json!(0), "no element was made from user content");

    // meta_binary as text and as hex.
    let meta = format!("li[data-id='{}']", ids.meta_only);
    let as_text = text(&client, &format!("{meta} .meta-text")).await;
    assert_eq!(as_text, "hello\u{fffd}\u{fffd}<b>bold</b>");
    let as_hex = text(&client, &format!("{meta} .meta-hex")).await;
    assert!(
        as_hex.starts_with("0000  68 65 6c 6c 6f 00 01 3c 62 3e"),
        "{as_hex}"
    );
    let no_file = text(&client, &format!("{meta} .preview")).await;
    assert_eq!(no_file, "no file (meta_binary only)");

    // The token lives in sessionStorage only.
    let kept = script(
        &client,
        &format!(
            "return [sessionStorage.getItem('{TOKEN_KEY}'), localStorage.length, \
             document.cookie, location.href]"
        ),
    )
    .await;
    assert_eq!(
        kept,
        json!([app.title, 0, "", format!("{}/admin/", app.base)])
    );

    if std::env::var_os("NEXDS_BLESS").is_some() {
        let png = client.screenshot().await.expect("a screenshot");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/moderation.png");
        std::fs::create_dir_all(path.parent().expect("docs")).unwrap();
        std::fs::write(&path, png).expect("write docs/moderation.png");
        eprintln!("wrote {}", path.display());
    }

    decide(&client, ids.meta_only, "approve", "approved").await;
    decide(&client, ids.image, "reject", "rejected").await;
    let mut left = Vec::new();
    for el in client
        .find_all(Locator::Css("#list .data-id"))
        .await
        .unwrap()
    {
        left.push(el.text().await.unwrap());
    }
    assert_eq!(
        left,
        vec![ids.script.to_string(), ids.binary.to_string()],
        "the list updated in place"
    );
    let summary = client.find(Locator::Id("summary")).await.unwrap();
    assert_eq!(summary.text().await.unwrap(), "Pending 1–2 of 2");

    let dialogs = script(&client, "return window.__dialogs").await;
    assert_eq!(dialogs, json!([]), "no dialog was opened");
    let violations = script(&client, "return window.__violations").await;
    assert_eq!(violations, json!([]), "nothing broke the page's policy");
    match client.get_alert_text().await {
        Err(e) if e.is_no_such_alert() => {}
        other => panic!("an alert is open: {other:?}"),
    }
}

/// Clicks Approve or Reject on `id` and waits until the list no longer shows it.
async fn decide(client: &Client, id: u64, button: &str, done: &str) {
    client
        .find(Locator::Css(&format!("li[data-id='{id}'] button.{button}")))
        .await
        .unwrap_or_else(|e| panic!("{button} of {id}: {e}"))
        .click()
        .await
        .expect("click");
    let gone = wait_for_value(
        client,
        &format!(
            "return document.querySelector(\"li[data-id='{id}']\") === null
               ? document.getElementById('message').textContent : null;"
        ),
    )
    .await;
    assert_eq!(gone, json!(format!("data_id {id} {done}.")));
}

/// The text of the one element `css` finds.
async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn script(client: &Client, js: &str) -> Value {
    client
        .execute(js, vec![])
        .await
        .unwrap_or_else(|e| panic!("{js}: {e}"))
}

/// Runs `js` until it returns something other than null (at most 20 s).
async fn wait_for_value(client: &Client, js: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = script(client, js).await;
        if !value.is_null() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {js}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A pending, public, meta-binary-only object of the owner.
fn meta_only_object(app: &TestApp, owner: &str, meta_binary: &[u8]) -> u64 {
    let resp = app.post(
        &format!("{V2}/data/prepare"),
        owner,
        &format!(
            "<prepare><size>0</size>\
             <flags><flag>not_use_storageserver</flag><flag>need_review</flag></flags>\
             <access_permission><type>public</type></access_permission>\
             <meta_binary>{}</meta_binary></prepare>",
            URL_SAFE.encode(meta_binary)
        ),
    );
    resp.assert_ok();
    resp.text("datastore/data/data_id")
        .parse()
        .expect("data_id")
}

/// A ChromeDriver on a free loopback port, ended when dropped.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start(chromium: &Chromium, dir: &Path) -> ChromeDriver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.join("chromedriver.log")).expect("log file");
        let child = Command::new(&chromium.driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start chromedriver");
        let driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = format!("{}/status", driver.url);
        let agent = agent();
        while !agent.get(&status).call().is_ok_and(|r| r.status() == 200) {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// A new headless Chromium session with a fresh profile under `dir`.
    async fn session(&self, chromium: &Chromium, dir: &Path) -> Client {
        let profile: PathBuf = dir.join("profile");
        let caps = json!({
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": chromium.browser,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                    "--window-size=1100,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text between the first `open` and the next `close`.
fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).expect("open tag") + open.len();
    &text[start..start + text[start..].find(close).expect("close tag")]
}

/// A valid RGB PNG, `width` × `height`, of 4-pixel squares: stored (uncompressed)
/// zlib blocks, CRC-32 and Adler-32 written out here so no image crate is needed.
fn tiny_png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            let pixel = match (x / 4 + y / 4) % 2 {
                0 => [0xe0, 0x50, 0x40],
                _ => [0x30, 0x70, 0xd0],
            };
            raw.extend_from_slice(&pixel);
        }
    }
    let len = u16::try_from(raw.len()).expect("one stored block");
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend(len.to_le_bytes());
    zlib.extend((!len).to_le_bytes());
    zlib.extend(&raw);
    zlib.extend(adler32(&raw).to_be_bytes());

    let mut header = Vec::new();
    header.extend(width.to_be_bytes());
    header.extend(height.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", header), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        png.extend(&body);
        png.extend(crc32(&body).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[backends]
fn the_test_png_has_the_checksums_png_readers_verify() {
    // CRC-32 and Adler-32 of known inputs.
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    let png = tiny_png(2, 1);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
}
