//! The janitor (background and `nexds purge`): what goes, what stays, and crash safety.

use nexds::janitor::{self, Retention};
use nexds_test_macros::backends;

use crate::helpers::{TestApp, V2, spawn_app};

const DAY: i64 = 86_400;

fn retention(app: &TestApp) -> Retention {
    app.settings.retention()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn file_path(app: &TestApp, key: &str) -> std::path::PathBuf {
    app.data_dir().join("blobs/nexds").join(key)
}

fn run(app: &TestApp) -> janitor::Report {
    actix_web::rt::System::new()
        .block_on(janitor::run_once(
            app.store(),
            &app.blobs(),
            retention(app),
            now(),
        ))
        .expect("janitor")
}

#[backends]
fn expired_objects_go_with_their_files_and_live_ones_stay() {
    let app = spawn_app();
    let form = app.prepare_upload(&app.title, 4, "<period>1</period>");
    assert!((200..300).contains(&form.post(b"abcd").status));
    assert_eq!(app.complete(&app.title, form.data_id).status, 200);
    let key = form.field("key").to_owned();
    let live = app.upload(&app.title, b"live", "");
    let persisted = app.create(
        &app.title,
        "<period>1</period><persistence_init_param><slot>0</slot></persistence_init_param>",
    );
    let meta_only = app.create(&app.title, "<period>1</period>");
    for id in [form.data_id, persisted, meta_only] {
        app.age(id, "expire_time", 0); // no-op for persisted (9999-12-31 stays far ahead)
    }
    app.age(form.data_id, "expire_time", 2 * DAY);
    app.age(meta_only, "expire_time", 2 * DAY);

    let report = run(&app);
    assert_eq!(report.rows.expired, 2, "{report:?}");
    assert_eq!(report.files, 1);
    assert!(!file_path(&app, &key).exists(), "the expired file is gone");
    app.get(&format!("{V2}/metainfo/{live}"), &app.title)
        .assert_ok();
    app.get(&format!("{V2}/metainfo/{persisted}"), &app.title)
        .assert_ok();
    assert_eq!(app.queued_deletions(), 0);
}

#[backends]
fn deleted_objects_stay_for_the_retention_window_then_go() {
    let app = spawn_app();
    let id = app.upload(&app.title, b"kept a while", "");
    // A delete moves the file out of reach of its download URLs at once.
    let key = format!("deleted/objects/{id:020}_{:010}.bin", 1);
    app.delete(&format!("{V2}/data/{id}"), &app.title)
        .assert_ok();
    let report = run(&app);
    assert_eq!(report.rows.deleted, 0);
    assert!(
        file_path(&app, &key).exists(),
        "kept within the retention window"
    );
    app.age(id, "deleted_time", 31 * DAY);
    let report = run(&app);
    assert_eq!((report.rows.deleted, report.files), (1, 1));
    assert!(!file_path(&app, &key).exists());
}

#[backends]
fn uploads_never_completed_go_after_the_timeout() {
    let app = spawn_app();
    let form = app.prepare_upload(&app.title, 3, "");
    assert!((200..300).contains(&form.post(b"abc").status));
    let key = form.field("key").to_owned();
    assert_eq!(run(&app).rows.uploads, 0, "not yet");
    app.age(form.data_id, "created_time", 4 * 3600);
    assert_eq!(run(&app).rows.uploads, 1);
    assert!(!file_path(&app, &key).exists());
    app.complete(&app.title, form.data_id)
        .assert_error(404, "DataStore::NotFound");
}

#[backends]
fn a_crash_in_the_middle_of_a_purge_loses_track_of_nothing() {
    let app = spawn_app();
    let id = app.upload(&app.title, b"doomed", "");
    // A delete moves the file out of reach of its download URLs at once.
    let key = format!("deleted/objects/{id:020}_{:010}.bin", 1);
    app.delete(&format!("{V2}/data/{id}"), &app.title)
        .assert_ok();
    app.age(id, "deleted_time", 31 * DAY);

    // The first half runs, then the process "dies" before any file is deleted.
    let rows = actix_web::rt::System::new()
        .block_on(janitor::purge_rows(app.store(), retention(&app), now()))
        .unwrap();
    assert_eq!(rows.deleted, 1);
    assert!(file_path(&app, &key).exists(), "the file is still there");
    assert_eq!(app.queued_deletions(), 1, "and queued: nothing forgets it");
    let gone = app.sql_count(&format!(
        "SELECT count(*) FROM objects WHERE data_id = {id}"
    ));
    assert_eq!(gone, 0, "no row points at a file that may be missing");

    // The next run, here the one-shot command, finishes the job.
    let out = std::process::Command::new(crate::helpers::nexds_bin())
        .arg("purge")
        .envs(app.cli_env())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 files removed"));
    assert!(!file_path(&app, &key).exists());
    assert_eq!(app.queued_deletions(), 0);
}
