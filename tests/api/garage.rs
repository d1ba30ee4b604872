//! A real Garage 2.5 on 127.0.0.1, one per test (it starts in a fraction of a second),
//! and s3s-fs, the independent SigV2/SigV4 verifier.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nexds::config::{S3Settings, Settings, StorageKind};
use nexds::s3::sign::{self, Credentials, ObjectUrl};
use tempfile::TempDir;

use crate::tools;

/// A running S3 server of the tests.
pub struct S3Server {
    /// `None` while stopped.
    child: Option<Child>,
    bin: PathBuf,
    /// How to start it (again: on the same ports and data, [`Self::start`]). on the same ports and data ([`Self::start`]).
    command: fn(&S3Server) -> Command,
    pub settings: S3Settings,
    dir: TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl S3Server {
    /// Points a test app at this server.
    pub fn configure(&self, settings: &mut Settings) {
        settings.storage = StorageKind::S3;
        settings.s3 = self.settings.clone();
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            access_key: self.settings.access_key.clone(),
            secret_key: self.settings.secret_key.clone(),
            region: self.settings.region.clone(),
        }
    }

    /// A presigned GET of `key`, to look into the bucket without nexds. If the
    /// server cannot be reached, the panic says whether it is still running and
    /// what it logged.
    pub fn get(&self, key: &str) -> crate::helpers::Resp {
        let url = ObjectUrl::new(&self.settings.endpoint, &self.settings.bucket, key);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let url = sign::presign_get_v4(&self.credentials(), &url, now, 300);
        crate::helpers::try_send_bytes(&crate::helpers::agent(), "GET", &url, &[], None)
            .unwrap_or_else(|e| {
                let log =
                    std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "GET {url}: {e}; the S3 server's pid {:?}, its last log lines:\n{}",
                    self.child.as_ref().map(Child::id),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
    }

    /// Where the server's own log goes (appended across restarts).
    fn log_file(&self) -> Stdio {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .map_or_else(|_| Stdio::null(), Stdio::from)
    }

    /// Stops the server (its data dir and ports are kept for [`Self::start`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server stopped by [`Self::stop`] again, and waits until it serves.
    pub fn start(&mut self) {
        self.stop();
        self.child = Some((self.command)(self).spawn().expect("the S3 server starts"));
        self.wait_ready();
    }

    /// Waits until a signed GET of a missing key answers NoSuchKey: bucket and key are live.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("the S3 server exited: {status}");
            }
            let probe = std::panic::catch_unwind(|| self.get("readiness-probe"));
            if let Ok(resp) = probe
                && resp.status == 404
                && resp.body.contains("NoSuchKey")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the S3 server did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn free_port() -> u16 {
    tools::free_port()
}

/// Starts Garage with one bucket and one key, or `None` outside CI when it cannot be installed.
pub fn garage() -> Option<S3Server> {
    let bin: PathBuf = tools::require(tools::garage())?;
    let dir = tempfile::tempdir().expect("temp dir");
    let (s3, rpc, admin) = (free_port(), free_port(), free_port());
    let config = format!(
        "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
         replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
         rpc_public_addr = \"127.0.0.1:{rpc}\"\n\
         rpc_secret = \"4425f5c26c5e11581d3223904324dcb5b5d5dfb14e5e7f35e38c595424f5f1e6\"\n\
         [s3_api]\ns3_region = \"us-east-1\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
         root_domain = \".s3.localhost\"\n[admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n\
         admin_token = \"test-admin-token\"\n",
        meta = dir.path().join("meta").display(),
        data = dir.path().join("data").display(),
    );
    std::fs::write(dir.path().join("garage.toml"), config).expect("garage.toml");
    let settings = S3Settings {
        endpoint: format!("http://127.0.0.1:{s3}"),
        region: "us-east-1".into(),
        bucket: "nexds-test".into(),
        access_key: "GKnexdstestkey0001".into(),
        secret_key: "nexdstestsecret0000000000000000000000000000000000000000000000000".into(),
    };
    fn command(server: &S3Server) -> Command {
        let mut command = Command::new(&server.bin);
        command
            .arg("-c")
            .arg(server.dir.path().join("garage.toml"))
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", &server.settings.access_key)
            .env("GARAGE_DEFAULT_SECRET_KEY", &server.settings.secret_key)
            .env("GARAGE_DEFAULT_BUCKET", &server.settings.bucket)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(server.log_file());
        command
    }
    let mut server = S3Server {
        child: None,
        bin,
        command,
        settings,
        dir,
    };
    server.start();
    Some(server)
}

/// Starts s3s-fs with one bucket, or `None` outside CI when it cannot be installed.
pub fn s3s_fs() -> Option<S3Server> {
    let bin = tools::require(tools::s3s_fs())?;
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let settings = S3Settings {
        endpoint: format!("http://127.0.0.1:{port}"),
        region: "us-east-1".into(),
        bucket: "nexds-test".into(),
        access_key: "AKIAS3SFSTEST000".into(),
        secret_key: "s3sfssecret00000000000000".into(),
    };
    std::fs::create_dir_all(dir.path().join("root").join(&settings.bucket)).expect("bucket dir");
    fn command(server: &S3Server) -> Command {
        let port = server
            .settings
            .endpoint
            .rsplit(':')
            .next()
            .unwrap_or_default();
        let mut command = Command::new(&server.bin);
        command
            .args(["--host", "127.0.0.1", "--port", port])
            .args([
                "--access-key",
                &server.settings.access_key,
                "--secret-key",
                &server.settings.secret_key,
            ])
            .arg(server.dir.path().join("root"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }
    let mut server = S3Server {
        child: None,
        bin,
        command,
        settings,
        dir,
    };
    server.start();
    Some(server)
}
