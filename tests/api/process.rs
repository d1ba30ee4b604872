//! The `nexds` binary as an operator runs it: CLI, first start, kill -9, SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::helpers::{V2, agent, send};
use nexds_test_macros::backends;

/// A running `nexds serve`, the base URL it logged, and every line of its log so far.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// The log once a line containing `marker` has arrived (the access log line of a
    /// request is written just after its answer).
    pub(crate) fn log_until(&self, marker: &str) -> Vec<String> {
        self.log_until_line(marker, |l| l.contains(marker))
    }

    /// The log once a line for which `found` holds has arrived.
    fn log_until_line(&self, what: &str, found: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.log.lock().unwrap().clone();
            if lines.iter().any(|l| found(l)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {what}: {lines:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Server {
    /// SIGKILL: no shutdown code runs.
    pub(crate) fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Server {
    let mut child = Command::new(crate::helpers::nexds_bin())
        .args(args)
        .arg("serve")
        .current_dir(dir)
        .env("NEXDS_LISTEN", "127.0.0.1:0")
        .env("NEXDS_WORKERS", "1")
        .env("RUST_LOG", "info")
        .envs(crate::helpers::backend_env())
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nexds starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&log);
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("nexds listening on ").nth(1) {
                let base = rest.split_whitespace().next().unwrap_or("").to_owned();
                let _ = tx.send(base);
            }
            kept.lock().unwrap().push(line);
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("nexds logs its address");
    Server { child, base, log }
}

/// Runs `nexds ARGS` in `dir` with `envs` and the default log level; kills it if it
/// has not ended after `secs` seconds (the answer is then `None`).
fn run_for(dir: &Path, envs: &[(&str, &str)], args: &[&str], secs: u64) -> Option<Output> {
    let mut child = Command::new(crate::helpers::nexds_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .envs(crate::helpers::backend_env())
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nexds starts");
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child.wait_with_output().unwrap())
}

fn nexds(dir: &Path, args: &[&str]) -> Output {
    Command::new(crate::helpers::nexds_bin())
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .envs(crate::helpers::backend_env())
        .output()
        .expect("nexds runs")
}

fn get(base: &str, path: &str, token: &str) -> crate::helpers::Resp {
    send(
        &agent(),
        "GET",
        &format!("{base}{path}"),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    )
}

fn post(base: &str, path: &str, token: &str, body: &str) -> crate::helpers::Resp {
    send(
        &agent(),
        "POST",
        &format!("{base}{path}"),
        &[("Authorization", &format!("Bearer {token}"))],
        Some(body),
    )
}

/// Creates a meta-only object through the API.
fn create(base: &str, token: &str) -> crate::helpers::Resp {
    post(
        base,
        &format!("{V2}/data/prepare"),
        token,
        "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>\
         <meta_binary>AA</meta_binary></prepare>",
    )
}

fn title_token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("data/title-token"))
        .expect("title-token")
        .trim()
        .to_owned()
}

#[backends]
fn the_first_start_writes_a_private_title_token_and_later_starts_keep_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[], &[]);
    let path = dir.path().join("data/title-token");
    let token = title_token(dir.path());
    assert!(token.starts_with("nexds_") && token.len() == 70, "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let created = create(&server.base, &token);
    created.assert_ok();
    drop(server);

    let server = serve(dir.path(), &[], &[]);
    assert_eq!(
        title_token(dir.path()),
        token,
        "a second start keeps the token"
    );
    get(&server.base, &format!("{V2}/metainfo/1000000"), &token).assert_ok();
}

#[backends]
fn the_bootstrap_token_variable_sets_the_first_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[("NEXDS_BOOTSTRAP_TOKEN", "my-own-title-token")],
        &[],
    );
    assert_eq!(title_token(dir.path()), "my-own-title-token");
    get(
        &server.base,
        &format!("{V2}/metainfo?data_ids=1"),
        "my-own-title-token",
    )
    .assert_ok();
}

#[backends]
fn token_commands_work_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[], &[]);
    let title = title_token(dir.path());

    let out = nexds(
        dir.path(),
        &[
            "token",
            "create",
            "--namespace",
            "default",
            "--principal",
            "100",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the token on stdout: {stdout}"
    );
    let token = stdout.trim().to_owned();

    let created = create(&server.base, &token);
    created.assert_ok();
    let id = created.text("datastore/data/data_id");
    let meta = get(&server.base, &format!("{V2}/metainfo/{id}"), &title);
    assert_eq!(crate::helpers::m(&meta, "owner_id"), "100");

    let list = nexds(dir.path(), &["token", "list"]);
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains("default") && list.contains("100") && list.contains("title"),
        "{list}"
    );
    assert!(
        !list.contains(&token) && !list.contains(&title),
        "token values never listed"
    );

    let revoke = nexds(dir.path(), &["token", "revoke", &token]);
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    // The server reuses a token's caller for 1 s: refused from 2 s after the revocation.
    std::thread::sleep(std::time::Duration::from_secs(2));
    get(&server.base, &format!("{V2}/metainfo/{id}"), &token)
        .assert_error(401, "Core::AccessDenied");
    assert!(
        String::from_utf8(nexds(dir.path(), &["token", "list"]).stdout)
            .unwrap()
            .contains("revoked")
    );

    // Revoking by id works too; an unknown one is an error.
    let other = nexds(dir.path(), &["token", "create", "--namespace", "second"]);
    let other = String::from_utf8(other.stdout).unwrap().trim().to_owned();
    get(&server.base, &format!("{V2}/metainfo?data_ids=1"), &other).assert_ok();
    assert!(
        nexds(dir.path(), &["token", "revoke", "3"])
            .status
            .success()
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    get(&server.base, &format!("{V2}/metainfo?data_ids=1"), &other)
        .assert_error(401, "Core::AccessDenied");
    assert!(
        !nexds(dir.path(), &["token", "revoke", "999"])
            .status
            .success()
    );
    assert!(
        !nexds(dir.path(), &["token", "create", "--namespace", "bad name"])
            .status
            .success()
    );
}

#[backends]
fn an_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path(), &[], &[]);
    let token = title_token(dir.path());
    let mut ids = Vec::new();
    for i in 0..20 {
        let created = post(
            &server.base,
            &format!("{V2}/data/prepare"),
            &token,
            &format!(
                "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>\
                 <meta_binary>{}</meta_binary></prepare>",
                nexds::xml::b64_encode(format!("object {i}").as_bytes())
            ),
        );
        created.assert_ok();
        ids.push(created.text("datastore/data/data_id"));
    }
    let changed = send(
        &agent(),
        "PUT",
        &format!("{}{V2}/metainfo/{}", server.base, ids[0]),
        &[("Authorization", &format!("Bearer {token}"))],
        Some("<change><name>durable</name></change>"),
    );
    changed.assert_ok();
    // SIGKILL: no shutdown code runs.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = serve(dir.path(), &[], &[]);
    let resp = get(
        &server.base,
        &format!(
            "{V2}/metainfo?data_ids={}&response=meta_binary",
            ids.join(",")
        ),
        &token,
    );
    resp.assert_ok();
    assert!(
        resp.body
            .contains(&format!("<metainfos length=\"{}\">", ids.len()))
    );
    assert!(resp.body.contains("<name>durable</name>"));
    assert!(resp.body.contains(&nexds::xml::b64_encode(b"object 19")));
}

#[backends]
fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path(), &[], &[]);
    // Ready: it answers (its signal handlers are installed with its accept loop).
    let version = send(
        &agent(),
        "GET",
        &format!("{}/nex/datastore/version", server.base),
        &[],
        None,
    );
    version.assert_ok();
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "nexds did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_config_file_is_read_and_env_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("custom.toml"),
        "data_dir = \"from-file\"\npublic_url = \"http://example.test/\"\nlisten = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    // NEXDS_LISTEN (set by `serve`) overrides the file's unusable port.
    let server = serve(dir.path(), &[], &["--config", "custom.toml"]);
    assert!(dir.path().join("from-file/title-token").exists());
    let token = std::fs::read_to_string(dir.path().join("from-file/title-token")).unwrap();
    get(
        &server.base,
        &format!("{V2}/metainfo?data_ids=1"),
        token.trim(),
    )
    .assert_ok();

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "lisen = \"x\"\n").unwrap();
    let out = nexds(dir.path(), &["--config", "bad.toml", "token", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
}

/// The text of `out`'s stderr.
fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_and_names_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[], &[]);
    let token = title_token(dir.path());

    let second = run_for(
        dir.path(),
        &[("NEXDS_LISTEN", "127.0.0.1:0")],
        &["serve"],
        20,
    )
    .expect("the second server stops at once instead of serving");
    assert!(!second.status.success());
    let message = stderr_of(&second);
    assert!(
        message.contains(&format!("pid {}", server.child.id()))
            && message.contains("data")
            && !message.contains("listening"),
        "{message}"
    );
    // The first one serves on, and the commands safe beside it still work.
    create(&server.base, &token).assert_ok();
    let listed = nexds(dir.path(), &["token", "list"]);
    assert!(listed.status.success(), "{}", stderr_of(&listed));

    // Its lock ends with it: the next server starts.
    drop(server);
    let server = serve(dir.path(), &[], &[]);
    get(&server.base, &format!("{V2}/metainfo/1000000"), &token).assert_ok();
}

#[cfg(unix)]
#[test]
fn the_database_and_the_data_dir_are_readable_by_the_servers_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(dir.path(), &[], &[]);
    create(&server.base, &title_token(dir.path())).assert_ok();
    assert_eq!(mode(&data), 0o700, "the data dir");
    for file in ["nexds.db", "nexds.db-wal", "nexds.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }

    // Files left readable by an older nexds are made private at the next start.
    drop(server);
    for file in ["nexds.db", "nexds.db-wal", "nexds.db-shm"] {
        std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let server = serve(dir.path(), &[], &[]);
    create(&server.base, &title_token(dir.path())).assert_ok();
    for file in ["nexds.db", "nexds.db-wal", "nexds.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file} after a restart");
    }
}

/// Uploads `file` through prepare, the form and complete; returns the data_id.
fn upload(base: &str, token: &str, file: &[u8]) -> String {
    let prepared = post(
        base,
        &format!("{V2}/data/prepare"),
        token,
        &format!("<prepare><size>{}</size></prepare>", file.len()),
    );
    prepared.assert_ok();
    let doc = prepared.doc();
    let data = doc
        .child("datastore")
        .and_then(|d| d.child("data"))
        .unwrap();
    let fields: Vec<(String, String)> = data
        .child("post_param")
        .unwrap()
        .children
        .iter()
        .map(|e| (e.name.clone(), e.text().to_owned()))
        .collect();
    let posted = crate::helpers::post_form(data.child("url").unwrap().text(), &fields, file);
    assert!((200..300).contains(&posted.status), "{}", posted.body);
    let id = data.child("data_id").unwrap().text().to_owned();
    let done = post(base, &format!("{V2}/data/complete/{id}"), token, "");
    assert_eq!(done.status, 200, "{}", done.body);
    id
}

#[test]
fn the_access_log_shows_the_path_but_no_signature_credential_or_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[], &[]);
    let token = title_token(dir.path());
    let id = upload(&server.base, &token, b"hello");
    let urlinfo = get(&server.base, &format!("{V2}/urlinfo/{id}"), &token);
    urlinfo.assert_ok();
    let url = urlinfo.text("datastore/urlinfos/urlinfo/url");
    let downloaded = crate::helpers::download(&url, &[]);
    assert_eq!(downloaded.bytes, b"hello");
    // The value as it stands in the URL (percent-encoded), and decoded.
    let raw_signature = url
        .split_once('?')
        .expect("a query")
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix("Signature="))
        .unwrap_or_else(|| panic!("no Signature in {url}"))
        .to_owned();
    let signature = percent_encoding::percent_decode_str(&raw_signature)
        .decode_utf8()
        .unwrap()
        .into_owned();
    let path = url
        .split_once("/storage/")
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap();

    // nexds's own download links and SigV4 URLs, as anyone may send them.
    let link = format!(
        "{}/download/{id}?expires=4102444800&signature=LinkSignatureValue123",
        server.base
    );
    assert_eq!(crate::helpers::download(&link, &[]).status, 403);
    let v4 = format!(
        "{}/storage/nexds/objects/x.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDSECRETISH%2F20260101%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=V4SignatureValue456",
        server.base
    );
    crate::helpers::download(&v4, &[]);
    let log = server.log_until("X-Amz-Signature=").join("\n");
    let log = format!("{log}\n{}", server.log_until("/download/").join("\n"));

    for secret in [
        raw_signature.as_str(),
        signature.as_str(),
        "LinkSignatureValue123",
        "V4SignatureValue456",
        "AKIDSECRETISH",
    ] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    assert!(log.contains(&format!("GET /storage/{path}?")), "{log}");
    assert!(log.contains("Signature=REDACTED"), "{log}");
    assert!(log.contains("&Expires="), "what is not secret stays: {log}");
    assert!(
        log.contains(&format!(
            "GET /download/{id}?expires=4102444800&signature=REDACTED"
        )),
        "{log}"
    );
}

#[test]
fn a_clients_mistakes_are_not_logged_as_errors() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[], &[]);
    let token = title_token(dir.path());
    let authority = server.base.trim_start_matches("http://").to_owned();

    // A request no HTTP parser accepts: 400 from the HTTP layer itself.
    let mut raw = std::net::TcpStream::connect(&authority).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nthis is no header\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    get(&server.base, &format!("{V2}/metainfo/1"), "nexds_wrong")
        .assert_error(401, "Core::AccessDenied");
    get(&server.base, &format!("{V2}/metainfo/1"), &token).assert_error(404, "DataStore::NotFound");
    post(
        &server.base,
        &format!("{V2}/data/prepare"),
        &token,
        "<prepare><size>",
    )
    .assert_error(400, "Core::InvalidArgument");
    let forged = crate::helpers::download(
        &format!(
            "{}/storage/nexds/objects/x.bin?AWSAccessKeyId=x&Expires=4102444800&Signature=AAAA",
            server.base
        ),
        &[],
    );
    assert_eq!(forged.status, 403);
    let last = crate::helpers::download(&format!("{}/no/such/path", server.base), &[]);
    assert_eq!(last.status, 404);

    let log = server.log_until("/no/such/path");
    let loud: Vec<&String> = log
        .iter()
        .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
        .collect();
    assert!(loud.is_empty(), "client mistakes logged loudly: {loud:#?}");
}

#[backends]
fn export_and_erase_refuse_a_namespace_that_never_had_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[], &[]);
    let out = dir.path().join("x.tar");
    let out_arg = out.display().to_string();

    let export = nexds(
        dir.path(),
        &[
            "export",
            "--namespace",
            "defualt",
            "--principal",
            "100",
            "--out",
            &out_arg,
        ],
    );
    assert!(!export.status.success());
    assert!(
        stderr_of(&export).contains("namespace 'defualt'"),
        "{}",
        stderr_of(&export)
    );
    assert!(!out.exists() && !dir.path().join("x.tar.partial").exists());
    let erase = nexds(
        dir.path(),
        &["erase", "--namespace", "defualt", "--principal", "100"],
    );
    assert!(!erase.status.success());
    assert!(
        stderr_of(&erase).contains("namespace 'defualt'"),
        "{}",
        stderr_of(&erase)
    );

    // A known namespace where the principal has nothing is fine.
    let erase = nexds(
        dir.path(),
        &["erase", "--namespace", "default", "--principal", "100"],
    );
    assert!(erase.status.success(), "{}", stderr_of(&erase));
    assert_eq!(
        String::from_utf8_lossy(&erase.stdout).trim(),
        "erased 0 objects, 0 files, 0 ratings, 0 persistence slots"
    );
    drop(server);
}

#[test]
fn an_export_to_a_missing_folder_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let _server = serve(dir.path(), &[], &[]);
    let out = nexds(
        dir.path(),
        &[
            "export",
            "--namespace",
            "default",
            "--principal",
            "100",
            "--out",
            "/no/such/dir/x.tar",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("/no/such/dir/x.tar"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn one_shot_commands_print_no_server_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let _server = serve(dir.path(), &[], &[]);
    let tar = dir.path().join("x.tar").display().to_string();
    for args in [
        vec!["purge"],
        vec![
            "export",
            "--namespace",
            "default",
            "--principal",
            "100",
            "--out",
            &tar,
        ],
        vec!["erase", "--namespace", "default", "--principal", "100"],
        vec!["token", "list"],
    ] {
        let out = run_for(dir.path(), &[], &args, 60).expect("the command ends");
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        let stderr = stderr_of(&out);
        assert!(
            !stderr.contains(" INFO ") && !stderr.contains("files are kept"),
            "{args:?} logged: {stderr}"
        );
    }
}

#[backends]
fn revoking_a_revoked_token_says_so_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let created = nexds(dir.path(), &["token", "create", "--namespace", "default"]);
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let first = nexds(dir.path(), &["token", "revoke", &token]);
    assert!(first.status.success(), "{}", stderr_of(&first));
    assert_eq!(stderr_of(&first).trim(), "revoked token 1");
    for again in [token.as_str(), "1"] {
        let out = nexds(dir.path(), &["token", "revoke", again]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).starts_with("token 1 was already revoked at "),
            "{}",
            stderr_of(&out)
        );
    }
    let unknown = nexds(dir.path(), &["token", "revoke", "2"]);
    assert!(!unknown.status.success());
}

#[backends]
fn an_upload_cut_off_by_kill_9_leaves_no_temp_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let quick = [("NEXDS_UPLOAD_FORM_SECS", "3"), ("NEXDS_JANITOR_SECS", "1")];
    let mut server = serve(dir.path(), &quick, &[]);
    let token = title_token(dir.path());
    let prepared = post(
        &server.base,
        &format!("{V2}/data/prepare"),
        &token,
        "<prepare><size>1000000</size></prepare>",
    );
    prepared.assert_ok();
    let doc = prepared.doc();
    let data = doc
        .child("datastore")
        .and_then(|d| d.child("data"))
        .unwrap();
    let fields = data.child("post_param").unwrap();
    let boundary = "nexds-cut";
    let mut body = String::new();
    for field in &fields.children {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}\r\n",
            field.name,
            field.text()
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
    ));
    let head = format!(
        "POST /storage/nexds HTTP/1.1\r\nHost: nexds\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len() + 1_000_000
    );
    let mut upload =
        std::net::TcpStream::connect(server.base.trim_start_matches("http://")).expect("connect");
    use std::io::Write;
    upload.write_all(head.as_bytes()).unwrap();
    upload.write_all(body.as_bytes()).unwrap();
    upload.write_all(&[5u8; 300_000]).unwrap();
    let temp = dir.path().join("data/blobs/.tmp");
    let written = |min: u64| {
        std::fs::read_dir(&temp)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("upload-"))
                    .any(|e| e.metadata().is_ok_and(|m| m.len() >= min))
            })
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !written(100_000) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(written(100_000), "the upload is being written");
    // SIGKILL mid-upload: the temp file stays behind.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(upload);
    assert!(written(1), "the cut-off upload left its temp file");

    let _server = serve(dir.path(), &quick, &[]);
    // Once no upload can be writing it (idle for a form's lifetime), it goes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while written(1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!written(1), "the janitor removed the temp file");
}

#[test]
fn json_logs_are_one_object_per_line_and_the_access_line_has_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            ("NEXDS_LOG_FORMAT", "json"),
            ("RUST_LOG", "info,nexds=debug"),
        ],
        &[],
    );
    let token = title_token(dir.path());
    let resp = send(
        &agent(),
        "GET",
        &format!("{}{V2}/metainfo/4242?signature=hidden-value", server.base),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("X-Request-Id", "json-test-1"),
        ],
        None,
    );
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("X-Request-Id"), Some("json-test-1"));
    // The access line comes once the answer is sent.
    let lines = server.log_until_line("the access line", |l| {
        l.contains("json-test-1") && l.contains("nexds::access")
    });
    let objects: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for object in &objects {
        for key in ["time", "level", "target", "message", "request_id"] {
            assert!(object.get(key).is_some(), "no {key} in {object}");
        }
    }
    let ours: Vec<_> = objects
        .iter()
        .filter(|o| o["request_id"] == "json-test-1")
        .collect();
    let access = ours
        .iter()
        .find(|o| o["target"] == "nexds::access")
        .unwrap_or_else(|| panic!("no access line: {ours:#?}"));
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], format!("{V2}/metainfo/{{data_id}}"));
    assert_eq!(access["status"], 404);
    assert!(
        access["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{access}"
    );
    assert_eq!(
        access["path"],
        format!("{V2}/metainfo/4242?signature=REDACTED")
    );
    // The error logged while the request was served names it too.
    assert!(
        ours.iter()
            .any(|o| o["target"] != "nexds::access" && o["level"] == "DEBUG"),
        "{ours:#?}"
    );
    assert!(!lines.join("\n").contains("hidden-value"));
}

#[test]
fn the_text_access_line_names_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[], &[]);
    let resp = send(
        &agent(),
        "GET",
        &format!("{}/health/live", server.base),
        &[("X-Request-Id", "text-test-2")],
        None,
    );
    assert_eq!(resp.status, 200);
    let lines = server.log_until("request_id=text-test-2");
    let line = lines
        .iter()
        .find(|l| l.contains("request_id=text-test-2"))
        .unwrap();
    assert!(
        line.contains("\"GET /health/live HTTP/1.1\" 200 2 "),
        "{line}"
    );
    assert!(line.contains("route=/health/live"), "{line}");
}

/// `nexds migrate-to-postgres`: a SQLite data dir with objects, tags, ratings, a
/// file, a persistence slot, friends and a notification, copied into PostgreSQL;
/// the server on PostgreSQL then answers every read exactly as before, the ids
/// go on after the copied ones, and a second copy into the same database is refused.
#[test]
fn migrate_to_postgres_keeps_every_answer_and_the_id_sequence() {
    let Some(pg) = crate::tools::require(crate::postgres::server()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(dir.path(), &[], &[]);
    let token = title_token(dir.path());
    let base = server.base.clone();
    let prepare = |body: &str| {
        let resp = post(&base, &format!("{V2}/data/prepare"), &token, body);
        resp.assert_ok();
        resp.text("datastore/data/data_id")
    };
    let rated = prepare(
        "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>\
         <type>7</type><tags><tag>Zm9v</tag><tag>YmFy</tag></tags>\
         <meta_binary>AQID</meta_binary><access_permission><type>public</type></access_permission>\
         <rating_init_params><param><slot>0</slot></param></rating_init_params></prepare>",
    );
    send(
        &agent(),
        "PUT",
        &format!("{base}{V2}/metainfo/{rated}/ratings/0"),
        &[("Authorization", &format!("Bearer {token}"))],
        Some("<rate><rating_value>7</rating_value></rate>"),
    )
    .assert_ok();
    for i in 0..30 {
        prepare(&format!(
            "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>\
             <meta_binary>AA</meta_binary><name>n{i}</name><type>{}</type></prepare>",
            i % 3
        ));
    }
    // One more, then deleted: its id must not come back.
    let deleted = prepare(
        "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>\
         <meta_binary>AA</meta_binary></prepare>",
    );
    send(
        &agent(),
        "DELETE",
        &format!("{base}{V2}/data/{deleted}"),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    )
    .assert_ok();
    let reads = [
        format!("{V2}/metainfo/{rated}?response=meta_binary,tags,ratings"),
        format!("{V2}/metainfo/search?type=1&sort=-data_id&limit=100"),
        format!("{V2}/metainfo/search?tags=Zm9v"),
        format!("{V2}/metainfo/{deleted}"),
    ];
    let before: Vec<String> = reads.iter().map(|p| get(&base, p, &token).body).collect();
    assert!(
        before[0].contains("<total_value>7</total_value>"),
        "{}",
        before[0]
    );
    drop(server);

    let url = crate::postgres::new_database().unwrap();
    let envs = [
        ("NEXDS_DATABASE_URL", url.as_str()),
        ("NEXDS_ALLOW_LOCAL_STORAGE", "1"),
    ];
    let from = data.to_str().unwrap();
    let out = run_for(
        dir.path(),
        &envs,
        &["migrate-to-postgres", "--from", from],
        120,
    )
    .expect("the migration ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("objects: 32 rows"), "{stdout}");
    assert!(stdout.contains("copied and verified"), "{stdout}");

    let server = serve(dir.path(), &envs, &[]);
    let after: Vec<String> = reads
        .iter()
        .map(|p| get(&server.base, p, &token).body)
        .collect();
    assert_eq!(after, before, "PostgreSQL answers as SQLite did");
    let next: u64 = {
        let resp = post(
            &server.base,
            &format!("{V2}/data/prepare"),
            &token,
            "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>\
             <meta_binary>AA</meta_binary></prepare>",
        );
        resp.assert_ok();
        resp.text("datastore/data/data_id").parse().unwrap()
    };
    assert_eq!(
        next,
        deleted.parse::<u64>().unwrap() + 1,
        "ids go on, none reused"
    );
    drop(server);

    let again = run_for(
        dir.path(),
        &envs,
        &["migrate-to-postgres", "--from", from],
        120,
    )
    .expect("the second migration ends");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds nexds data"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let _ = pg;
}
