//! A completed file is sealed: its form, still valid, can be replayed (storage
//! takes a valid form without asking nexds, as S3 does), but what it uploads never
//! reaches what anyone downloads, and the janitor sweeps it away.

use crate::garage;
use crate::helpers::{TestApp, V2, download, spawn_app, spawn_app_with};
use crate::versions::{complete_version, prepare_version};
use nexds_test_macros::backends;

/// Uploads under review and as a new version, replays each form after its
/// complete, and checks every download; returns the keys the replays wrote to.
fn replays_change_nothing_anyone_downloads(app: &TestApp) -> Vec<String> {
    let owner = app.principal(100);
    let form = app.prepare_upload(
        &owner,
        11,
        "<flags><flag>need_review</flag></flags>\
         <access_permission><type>public</type></access_permission>",
    );
    assert_eq!(form.post(b"SECRET-DATA").status, 204);
    assert_eq!(app.complete(&owner, form.data_id).status, 200);
    let id = form.data_id;
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><status>none</status></change>",
    )
    .assert_ok();
    let url = app.url_of(&owner, id, "?period=1");

    let replay = form.post(b"SWAPPED!!!!");
    assert_eq!(
        replay.status, 204,
        "the form is still valid: {}",
        replay.body
    );
    assert_eq!(download(&url, &[]).bytes, b"SECRET-DATA", "the old URL");
    let fresh = app.url_of(&app.principal(200), id, "?period=1");
    assert_eq!(download(&fresh, &[]).bytes, b"SECRET-DATA", "a new URL");

    let (version_form, version) = prepare_version(app, &owner, id, 9);
    assert_eq!(version_form.post(b"version 2").status, 204);
    complete_version(app, &owner, id).assert_ok();
    assert_eq!(version_form.post(b"SWAPPED!!").status, 204);
    let current = app.url_of(&owner, id, "?period=1");
    assert_eq!(download(&current, &[]).bytes, b"version 2");
    let first = app.url_of(&owner, id, "?period=1&version=1");
    assert_eq!(download(&first, &[]).bytes, b"SECRET-DATA");
    assert_eq!(version, 2);

    vec![
        form.field("key").to_owned(),
        version_form.field("key").to_owned(),
    ]
}

/// A janitor pass as if `secs` seconds had gone by.
fn janitor_after(app: &TestApp, secs: i64) -> nexds::janitor::Report {
    app.janitor_pass(time::OffsetDateTime::now_utc().unix_timestamp() + secs)
}

#[backends]
fn replaying_a_completed_form_changes_nothing_on_the_local_store() {
    let app = spawn_app();
    let replayed = replays_change_nothing_anyone_downloads(&app);
    let path = |key: &str| app.data_dir().join("blobs/nexds").join(key);
    assert!(replayed.iter().all(|key| path(key).exists()));
    assert_eq!(
        janitor_after(&app, 0).stale_uploads,
        0,
        "not while uploads may complete"
    );
    let timeout = app.settings.upload_timeout_secs;
    assert_eq!(janitor_after(&app, timeout + 1).stale_uploads, 2);
    assert!(replayed.iter().all(|key| !path(key).exists()));
}

#[backends]
fn replaying_a_completed_form_changes_nothing_on_garage() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = spawn_app_with(|s| garage.configure(s));
    let replayed = replays_change_nothing_anyone_downloads(&app);
    assert!(replayed.iter().all(|key| garage.get(key).status == 200));
    let timeout = app.settings.upload_timeout_secs;
    assert_eq!(janitor_after(&app, timeout + 1).stale_uploads, 2);
    assert!(replayed.iter().all(|key| garage.get(key).status == 404));
}
