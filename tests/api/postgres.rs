//! The tests' PostgreSQL: one server per test process, started on first use in a
//! temporary directory on a free loopback port, and one new database per test.
//!
//! The server is Debian's PostgreSQL (15 or newer, under /usr/lib/postgresql),
//! installed with apt-get (package `postgresql`) when absent. PostgreSQL refuses
//! to run as root, so as root (CI) it runs as the `postgres` user the package
//! creates. It runs with fsync off: a test's database never outlives the test,
//! and nothing here measures durability. A shell beside it waits on a pipe from
//! this process and stops it when the test process ends, however it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running server of this test process.
pub struct Server {
    port: u16,
    /// The watcher shell; its stdin closes when this process ends.
    _watcher: Child,
}

/// The newest installed PostgreSQL's bin directory (version ≥ 15).
fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (version >= 15 && bin.join("postgres").exists() && bin.join("initdb").exists())
                .then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// PostgreSQL's binaries, installed from Debian's packages when absent.
fn bin_dir() -> Result<PathBuf, String> {
    if let Some(bin) = find_bin() {
        return Ok(bin);
    }
    let apt = Path::new("/usr/bin/apt-get");
    if !apt.exists() {
        return Err(
            "PostgreSQL: not under /usr/lib/postgresql and no apt-get to install it".into(),
        );
    }
    eprintln!("installing PostgreSQL (Debian package postgresql) for the tests, once per machine…");
    let install = || {
        Command::new(apt)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "postgresql"])
            .status()
            .map_err(|e| e.to_string())
            .and_then(|s| s.success().then_some(()).ok_or(s.to_string()))
    };
    if install().is_err() {
        let _ = Command::new(apt).args(["update", "-q"]).status();
        install().map_err(|e| format!("installing postgresql failed: {e}"))?;
    }
    find_bin().ok_or_else(|| "postgresql installed, but no server under /usr/lib/postgresql".into())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn free_port() -> Result<u16, String> {
    Ok(crate::tools::free_port())
}

fn start() -> Result<Server, String> {
    let bin = bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("nexds-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let port = free_port()?;
    let script = format!(
        r#"
        "{bin}/initdb" -D "{dir}/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >"{dir}/initdb.log" 2>&1 || {{ cat "{dir}/initdb.log" >&2; exit 1; }}
        "{bin}/postgres" -D "{dir}/data" -p {port} -k "{dir}" -c listen_addresses=127.0.0.1 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=500 -c shared_buffers=64MB >"{dir}/server.log" 2>&1 &
        pid=$!
        read -r _ || true
        kill -QUIT "$pid" 2>/dev/null
        wait "$pid"
        rm -rf "{dir}"
        "#,
        bin = bin.display(),
        dir = dir.display(),
    );
    let mut command = if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown of the PostgreSQL dir: {e}"))?;
        if !status.success() {
            return Err("chown of the PostgreSQL dir to user postgres failed".into());
        }
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--reset-env",
            "sh",
            "-c",
        ]);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c");
        c
    };
    let watcher = command
        .arg(&script)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting PostgreSQL: {e}"))?;
    let server = Server {
        port,
        _watcher: watcher,
    };
    let started = Instant::now();
    while let Err(e) = server.admin("SELECT 1") {
        if started.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("PostgreSQL did not start: {e}\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(server)
}

impl Server {
    /// `postgres://` URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` on the `postgres` database (CREATE/DROP DATABASE).
    pub fn admin(&self, sql: &str) -> Result<(), String> {
        execute(&self.url("postgres"), sql).map(drop)
    }
}

/// The test process's server, started on first use.
pub fn server() -> Result<&'static Server, String> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// A new, empty database on the test process's server; returns its URL.
pub fn new_database() -> Result<String, String> {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let server = server()?;
    let name = format!(
        "nexds_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    server.admin(&format!("CREATE DATABASE {name}"))?;
    Ok(server.url(&name))
}

/// Drops the database of `url` (its server's connections are closed first).
pub fn drop_database(url: &str) {
    let Ok(server) = server() else { return };
    if let Some(name) = url.rsplit('/').next() {
        let _ = server.admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Runs `sql` (one statement or several) on the database of `url`; returns the
/// first column of the first row of the last statement, if it is a number.
pub fn execute(url: &str, sql: &str) -> Result<Option<i64>, String> {
    runtime()?.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        let connection = tokio::spawn(connection);
        let messages = client
            .simple_query(sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
        drop(client);
        let _ = connection.await;
        let value = messages.iter().rev().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
            _ => None,
        });
        Ok(value)
    })
}
