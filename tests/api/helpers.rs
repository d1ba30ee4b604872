//! A real nexds on 127.0.0.1:0 with a temporary data dir, and a small HTTP client.

use std::cell::Cell;
use std::sync::mpsc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use nexds::config::Settings;
use nexds::startup::Application;
use nexds::store::{Durability, Store, StoreOptions};
use nexds::xml::read::{Element, parse_document};
use tempfile::TempDir;

pub const V2: &str = "/nex/datastore/v2";

/// The `nexds` binary the process tests run: cargo's, or `NEXDS_TEST_BIN` when set
/// (a target dir shared by several checkouts holds one `target/debug/nexds`, that of
/// whichever checkout built last).
pub fn nexds_bin() -> std::path::PathBuf {
    std::env::var_os("NEXDS_TEST_BIN")
        .filter(|v| !v.is_empty())
        .map_or_else(|| env!("CARGO_BIN_EXE_nexds").into(), Into::into)
}

/// The metadata database a test runs on: every test marked `#[backends]` runs
/// once with each (DESIGN §11), as `name::sqlite` and `name::postgres`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
    /// The database of the `nexds` processes a test runs (PostgreSQL only).
    static PROCESS_DATABASE: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
}

/// The environment a `nexds` process of the running test needs for its backend:
/// with PostgreSQL, the test's database (made on first use, the same for every
/// process of the test) and leave to use the local file store.
pub fn backend_env() -> Vec<(&'static str, String)> {
    let Some(url) = PROCESS_DATABASE.with_borrow_mut(|db| {
        if db.is_none() {
            *db = Backend::current().new_database();
        }
        db.clone()
    }) else {
        return Vec::new();
    };
    vec![
        ("NEXDS_DATABASE_URL", url),
        ("NEXDS_ALLOW_LOCAL_STORAGE", "1".to_owned()),
    ]
}

impl Backend {
    /// The backend of the test running on this thread.
    pub fn current() -> Backend {
        BACKEND.get()
    }

    /// Runs `test` with this backend. Without PostgreSQL (no apt-get to install
    /// it), the PostgreSQL variant fails in CI and is skipped elsewhere.
    pub fn run(self, test: fn()) {
        if self == Backend::Postgres
            && crate::tools::require(crate::postgres::server().map(drop)).is_none()
        {
            return;
        }
        BACKEND.set(self);
        PROCESS_DATABASE.with_borrow_mut(|db| *db = None);
        test();
    }

    /// A new database of this backend for a server: `None` is SQLite in its data dir.
    pub fn new_database(self) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => {
                Some(crate::postgres::new_database().expect("a PostgreSQL database"))
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub title: String,
    /// The settings the server runs with.
    pub settings: Settings,
    /// Kept so the data dir lives as long as the app.
    _dir: TempDir,
    store: Store,
    server: ServerHandle,
    agent: ureq::Agent,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stops the server (its thread ends, closing its connections); the
        // PostgreSQL database of the test goes with it.
        drop(self.server.stop(false));
        if let Some(url) = &self.settings.database_url {
            crate::postgres::drop_database(url);
        }
    }
}

/// Starts the application in its own thread; it lives until the test process ends.
pub fn spawn_app() -> TestApp {
    spawn_app_with(|_| {})
}

pub fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let title = nexds::auth::new_token().expect("token");
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_owned(),
        bootstrap_token: Some(title.clone()),
        durability: Durability::Normal,
        database_url: Backend::current().new_database(),
        database_pool_size: 4,
        allow_local_storage: true,
        workers: Some(1),
        ..Settings::default()
    };
    adjust(&mut settings);
    let kept = settings.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).expect("the app builds");
            tx.send((app.addr(), app.handle())).expect("send addr");
            app.run().await
        })
    });
    let (addr, server) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the app starts");
    let store = nexds::store::open_with(&StoreOptions {
        pool_size: 2,
        ..kept.store_options()
    })
    .expect("store");
    TestApp {
        base: format!("http://{addr}"),
        title,
        settings: kept,
        _dir: dir,
        store,
        server,
        agent: agent(),
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// An HTTP answer as a client sees it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Resp {
    /// The body as an element tree rooted at `<nex>`.
    pub fn doc(&self) -> Element {
        parse_document(self.body.as_bytes(), "nex")
            .unwrap_or_else(|e| panic!("not a <nex> document ({e}): {}", self.body))
    }

    /// Text at a `/`-separated path below `<nex>`, e.g. `datastore/data/data_id`.
    pub fn text(&self, path: &str) -> String {
        let doc = self.doc();
        let mut el = &doc;
        for part in path.split('/') {
            el = el
                .child(part)
                .unwrap_or_else(|| panic!("no <{part}> in {path}: {}", self.body));
        }
        el.text().to_owned()
    }

    /// The `<code>` of an error answer.
    pub fn error_code(&self) -> String {
        self.text("error/code")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts an error answer: HTTP status and NEX code, XML content type.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.body);
        assert_eq!(self.error_code(), code, "code of {}", self.body);
        assert_eq!(self.content_type, "text/xml;charset=utf-8");
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.content_type, "text/xml;charset=utf-8");
    }
}

/// Sends one request with any method and a text body.
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    send_bytes(
        agent,
        method,
        url,
        headers,
        body.map(|b| b.as_bytes().to_vec()),
    )
}

/// Sends one request with any method and a byte body.
#[track_caller]
pub fn send_bytes(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    try_send_bytes(agent, method, url, headers, body)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// [`send_bytes`], with a failure to reach the server (refused, reset) as `Err`.
pub fn try_send_bytes(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<Resp, ureq::Error> {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let result = match body {
        Some(body) => agent.run(builder.body(body).expect("request")),
        None => agent.run(builder.body(()).expect("request")),
    };
    let mut response = result?;
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    Ok(Resp {
        status,
        content_type,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    })
}

/// A multipart/form-data body: the fields in order, then `file` last, as a console posts.
pub fn multipart(fields: &[(String, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----nexds-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POSTs a form to a storage URL (no nexds token: the form is its own authority).
pub fn post_form(url: &str, fields: &[(String, String)], file: &[u8]) -> Resp {
    let (content_type, body) = multipart(fields, file);
    send_bytes(
        &agent(),
        "POST",
        url,
        &[("Content-Type", &content_type)],
        Some(body),
    )
}

/// A forged upload: what was changed, the fields and the file posted.
pub type Tampered = (&'static str, Vec<(String, String)>, Vec<u8>);

/// A prepare's form: the URL, the `post_param` fields in order, and the data_id.
pub struct Form {
    pub url: String,
    pub date: String,
    pub fields: Vec<(String, String)>,
    pub data_id: u64,
}

impl Form {
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no field {name}"))
    }

    /// The fields with `name` set to `value` (added at the end if absent).
    pub fn with(&self, name: &str, value: &str) -> Vec<(String, String)> {
        let mut fields = self.fields.clone();
        match fields.iter_mut().find(|(k, _)| k == name) {
            Some(field) => field.1 = value.to_owned(),
            None => fields.push((name.to_owned(), value.to_owned())),
        }
        fields
    }

    pub fn post(&self, file: &[u8]) -> Resp {
        post_form(&self.url, &self.fields, file)
    }

    /// Forged variants of this form for `file` (which has the size the form was made
    /// for): each must be refused with nothing stored. `other_policy` is the policy of
    /// another form of the same store.
    pub fn tampered(&self, file: &[u8], other_policy: &str) -> Vec<Tampered> {
        let (signature, forged) = if self.fields.iter().any(|(k, _)| k == "x-amz-signature") {
            ("x-amz-signature", "0".repeat(64))
        } else {
            ("signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned())
        };
        let longer: Vec<u8> = file.iter().copied().chain([0]).collect();
        vec![
            (
                "changed policy",
                self.with("policy", other_policy),
                file.to_vec(),
            ),
            (
                "bad signature",
                self.with(signature, &forged),
                file.to_vec(),
            ),
            (
                "other key",
                self.with("key", "objects/elsewhere.bin"),
                file.to_vec(),
            ),
            (
                "extra field",
                self.with("x-amz-meta-evil", "1"),
                file.to_vec(),
            ),
            ("one byte more", self.fields.clone(), longer),
            (
                "one byte less",
                self.fields.clone(),
                file[..file.len() - 1].to_vec(),
            ),
        ]
    }
}

impl TestApp {
    /// Prepares an upload of `size` bytes with `extra` elements and returns the form.
    #[track_caller]
    pub fn prepare_upload(&self, token: &str, size: usize, extra: &str) -> Form {
        let resp = self.post(
            &format!("{V2}/data/prepare"),
            token,
            &format!("<prepare><size>{size}</size>{extra}</prepare>"),
        );
        resp.assert_ok();
        form_of(&resp)
    }

    pub fn complete(&self, token: &str, id: u64) -> Resp {
        self.call(
            "POST",
            &format!("{V2}/data/complete/{id}"),
            Some(token),
            None,
        )
    }

    /// prepare → POST the file → complete; returns the data_id.
    #[track_caller]
    pub fn upload(&self, token: &str, file: &[u8], extra: &str) -> u64 {
        let form = self.prepare_upload(token, file.len(), extra);
        let posted = form.post(file);
        assert!(
            (200..300).contains(&posted.status),
            "upload refused: {} {}",
            posted.status,
            posted.body
        );
        let done = self.complete(token, form.data_id);
        assert_eq!(done.status, 200, "{}", done.body);
        form.data_id
    }

    /// The single URL urlinfo gives for `id`.
    #[track_caller]
    pub fn url_of(&self, token: &str, id: u64, query: &str) -> String {
        let resp = self.get(&format!("{V2}/urlinfo/{id}{query}"), token);
        resp.assert_ok();
        resp.text("datastore/urlinfos/urlinfo/url")
    }
}

/// The upload form of a prepare's answer.
#[track_caller]
pub fn form_of(resp: &Resp) -> Form {
    let doc = resp.doc();
    let data = doc
        .child("datastore")
        .and_then(|d| d.child("data"))
        .expect("data");
    let fields = data
        .child("post_param")
        .expect("post_param")
        .children
        .iter()
        .map(|e| (e.name.clone(), e.text().to_owned()))
        .collect();
    Form {
        url: data.child("url").expect("url").text().to_owned(),
        date: data
            .child("request_header")
            .and_then(|h| h.child("date"))
            .expect("date")
            .text()
            .to_owned(),
        fields,
        data_id: data
            .child("data_id")
            .expect("data_id")
            .text()
            .parse()
            .expect("id"),
    }
}

/// Downloads a URL (following redirects) and returns what a client gets.
pub fn download(url: &str, headers: &[(&str, &str)]) -> Resp {
    send_bytes(&agent(), "GET", url, headers, None)
}

impl TestApp {
    /// A new token of `namespace`; a principal token when `principal` is given.
    pub fn token(&self, namespace: &str, principal: Option<u32>) -> String {
        let token = nexds::auth::new_token().expect("token");
        self.store
            .create_token(nexds::auth::hash_token(&token), namespace, principal, 0)
            .expect("create token");
        token
    }

    pub fn principal(&self, id: u32) -> String {
        self.token("default", Some(id))
    }

    /// Runs `sql` on the metadata database underneath, whichever it is, for
    /// arrange steps the API has no way to take (moving times into the past,
    /// counting the file outbox); SQL both databases read alike, values inline.
    /// Returns the first column of the last row read, if it is a number.
    pub fn sql(&self, sql: &str) -> Option<i64> {
        match &self.settings.database_url {
            Some(url) => crate::postgres::execute(url, sql).expect("SQL on PostgreSQL"),
            None => {
                let conn = rusqlite::Connection::open(self._dir.path().join("nexds.db"))
                    .expect("the SQLite database");
                conn.busy_timeout(Duration::from_secs(10))
                    .expect("busy timeout");
                if !sql.trim_start().to_ascii_uppercase().starts_with("SELECT") {
                    conn.execute_batch(sql).expect("SQL on SQLite");
                    return None;
                }
                conn.query_row(sql, [], |r| r.get::<_, i64>(0))
                    .map_err(|e| format!("{sql}: {e}"))
                    .ok()
            }
        }
    }

    /// The number `sql` (a `SELECT count(*) …`) gives.
    #[track_caller]
    pub fn sql_count(&self, sql: &str) -> i64 {
        self.sql(sql)
            .unwrap_or_else(|| panic!("no number from {sql}"))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One janitor pass over this app's store and files, as if it were `now`.
    pub fn janitor_pass(&self, now: i64) -> nexds::janitor::Report {
        actix_web::rt::System::new()
            .block_on(nexds::janitor::run_once(
                self.store(),
                &self.blobs(),
                self.settings.retention(),
                now,
            ))
            .expect("janitor")
    }

    /// The server's file store, opened beside it (as `nexds purge` does).
    pub fn blobs(&self) -> nexds::blob::Blobs {
        nexds::startup::open_blobs(&self.settings, &self.base).expect("blobs")
    }

    /// Moves a time column of an object `secs` seconds into the past.
    pub fn age(&self, id: u64, column: &str, secs: i64) {
        self.sql(&format!(
            "UPDATE objects SET {column} = {column} - {secs} WHERE data_id = {id}"
        ));
    }

    /// How many files are queued for deletion.
    pub fn queued_deletions(&self) -> i64 {
        self.sql_count("SELECT count(*) FROM blob_deletions")
    }

    /// The environment of a one-shot `nexds` command on this server's data: its
    /// data dir and, on PostgreSQL, its database.
    pub fn cli_env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let mut env = vec![("NEXDS_DATA_DIR", self.data_dir().as_os_str().to_owned())];
        if let Some(url) = &self.settings.database_url {
            env.push(("NEXDS_DATABASE_URL", url.into()));
            env.push(("NEXDS_ALLOW_LOCAL_STORAGE", "1".into()));
        }
        env
    }

    /// The server's data dir (the local store keeps its files under `blobs/`).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// A request to `path` (below the server root) with a Bearer token.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "text/xml")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        send(
            &self.agent,
            method,
            &format!("{}{path}", self.base),
            &headers,
            body,
        )
    }

    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None)
    }

    pub fn put(&self, path: &str, token: &str, body: &str) -> Resp {
        self.call("PUT", path, Some(token), Some(body))
    }

    pub fn post(&self, path: &str, token: &str, body: &str) -> Resp {
        self.call("POST", path, Some(token), Some(body))
    }

    pub fn delete(&self, path: &str, token: &str) -> Resp {
        self.call("DELETE", path, Some(token), None)
    }

    /// Creates a meta-binary-only object with `extra` prepare elements; returns its data_id.
    #[track_caller]
    pub fn create(&self, token: &str, extra: &str) -> u64 {
        let resp = self.prepare(token, extra);
        resp.assert_ok();
        resp.text("datastore/data/data_id")
            .parse()
            .expect("numeric data_id")
    }

    /// The raw answer of a meta-only prepare with `extra` elements; `<flags>` in
    /// `extra` (leading) replaces the default `not_use_storageserver`.
    pub fn prepare(&self, token: &str, extra: &str) -> Resp {
        let flags = if extra.starts_with("<flags>") {
            ""
        } else {
            "<flags><flag>not_use_storageserver</flag></flags>"
        };
        self.post(
            &format!("{V2}/data/prepare"),
            token,
            &format!(
                "<prepare><size>0</size>{flags}<meta_binary>bWV0YQ==</meta_binary>{extra}</prepare>"
            ),
        )
    }

    /// A public object owned by principal 100 (made by the title token).
    pub fn create_public(&self) -> u64 {
        self.create(
            &self.title,
            "<owner_id>100</owner_id><access_permission><type>public</type></access_permission>",
        )
    }

    /// The metainfo of `id` as the title token sees it, with every option.
    #[track_caller]
    pub fn meta(&self, id: u64) -> Resp {
        let resp = self.get(
            &format!("{V2}/metainfo/{id}?response=meta_binary,tags,ratings"),
            &self.title,
        );
        resp.assert_ok();
        resp
    }

    /// The data_id the next creation will get: proves that failed requests created nothing.
    pub fn next_id(&self) -> u64 {
        let id = self.create(&self.title, "");
        assert_eq!(
            self.delete(&format!("{V2}/data/{id}"), &self.title).status,
            200
        );
        id
    }
}

/// UNIX seconds of a wire time (`2013-01-01T00:00:00Z`).
pub fn unix(wire: &str) -> i64 {
    time::OffsetDateTime::parse(wire, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{wire}: {e}"))
        .unix_timestamp()
}

/// Text of a metainfo field: `m(&resp, "name")`.
pub fn m(resp: &Resp, field: &str) -> String {
    resp.text(&format!("datastore/metainfos/metainfo/{field}"))
}

/// data_ids listed in a `<metainfos>` or `<passwordinfos>` answer, in order.
pub fn listed_ids(resp: &Resp, list: &str, item: &str) -> Vec<u64> {
    let doc = resp.doc();
    let Some(list) = doc.child("datastore").and_then(|d| d.child(list)) else {
        panic!("no <{list}>: {}", resp.body);
    };
    list.children(item)
        .map(|e| {
            e.child("data_id")
                .expect("data_id")
                .text()
                .parse()
                .expect("number")
        })
        .collect()
}
