//! The packaging in `deploy/` and the `Dockerfile`, checked with the tools that
//! run them or judge them (there is no Docker daemon nor systemd as PID 1 here):
//! hadolint, `systemd-analyze`, a YAML parser, and the build command CI runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let Some(hadolint) = tools::require(tools::hadolint()) else {
        return;
    };
    let out = Command::new(hadolint)
        .args(["--failure-threshold", "info"])
        .arg(repo("Dockerfile"))
        .output()
        .expect("hadolint runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_image_builds_nexds_with_the_command_ci_runs_and_runs_it_unprivileged() {
    let dockerfile = read("Dockerfile");
    let build = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("RUN cargo build"))
        .map(|rest| format!("cargo build{rest}"))
        .expect("the Dockerfile builds with cargo");
    assert!(
        read(".ci/run").lines().any(|l| l.trim() == build),
        "CI runs `{build}` too, so a build the image needs never breaks unseen"
    );
    for needed in [
        "USER 10001:10001",
        "VOLUME [\"/data\"]",
        "NEXDS_DATA_DIR=/data",
        "HEALTHCHECK",
        "/health/ready",
    ] {
        assert!(dockerfile.contains(needed), "the Dockerfile has {needed}");
    }
    assert_eq!(
        dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")),
        2,
        "two stages: build, then a small runtime image"
    );
}

/// The unit as installed, but starting the nexds this test built.
fn unit_with_this_binary(dir: &Path) -> PathBuf {
    let unit = read("deploy/nexds.service").replace(
        "ExecStart=/usr/local/bin/nexds",
        &format!("ExecStart={}", env!("CARGO_BIN_EXE_nexds")),
    );
    let path = dir.join("nexds.service");
    std::fs::write(&path, unit).expect("unit");
    path
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing in CI"
        );
        eprintln!("SKIPPED: no systemd-analyze");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = unit_with_this_binary(dir.path());
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze verify");
    let complaints = String::from_utf8_lossy(&verify.stderr).into_owned();
    assert!(
        verify.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );

    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze security");
    let report = String::from_utf8_lossy(&security.stdout).into_owned();
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for nexds.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(
        exposure <= 2.0,
        "exposure {exposure} (OK is up to 2.0):\n{report}"
    );
    let unit = read("deploy/nexds.service");
    for needed in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/nexds",
        "Environment=NEXDS_DATA_DIR=/var/lib/nexds",
    ] {
        assert!(unit.contains(needed), "the unit has {needed}");
    }
}

#[test]
fn the_compose_file_runs_nexds_on_garage_with_the_design_settings() {
    let Some(python) = tools::require(tools::python_with_yaml()) else {
        return;
    };
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(repo("deploy/docker-compose.yml"))
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compose: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let service = |name: &str| &compose["services"][name];
    let nexds = service("nexds");
    assert_eq!(nexds["build"]["dockerfile"], "Dockerfile");
    assert!(
        nexds["volumes"][0]
            .as_str()
            .unwrap_or("")
            .ends_with(":/data")
    );
    let env = &nexds["environment"];
    assert_eq!(env["NEXDS_STORAGE"], "s3");
    for name in [
        "NEXDS_S3_ENDPOINT",
        "NEXDS_S3_REGION",
        "NEXDS_S3_BUCKET",
        "NEXDS_S3_ACCESS_KEY",
        "NEXDS_S3_SECRET_KEY",
        "NEXDS_PUBLIC_URL",
    ] {
        assert!(env[name].is_string(), "nexds gets {name}");
    }
    let garage = service("garage");
    assert!(
        garage["image"]
            .as_str()
            .unwrap_or("")
            .starts_with("dxflrs/garage:v2.")
    );
    let garage_env = &garage["environment"];
    assert_eq!(garage_env["GARAGE_DEFAULT_BUCKET"], env["NEXDS_S3_BUCKET"]);
    assert_eq!(
        garage_env["GARAGE_DEFAULT_ACCESS_KEY"],
        env["NEXDS_S3_ACCESS_KEY"]
    );
    assert_eq!(
        garage_env["GARAGE_DEFAULT_SECRET_KEY"],
        env["NEXDS_S3_SECRET_KEY"]
    );
    // Garage's region, from the config it mounts, is the one nexds signs for.
    let garage_toml = read("deploy/garage.toml");
    let region = format!("s3_region = {}", env["NEXDS_S3_REGION"]);
    assert!(
        garage_toml.contains(&region),
        "{region} in deploy/garage.toml"
    );
}
