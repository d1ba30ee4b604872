//! File versions (GS2 generations) and restore (GS2 restoreDataObject).

use crate::helpers::{Form, TestApp, V2, download, m, spawn_app};
use nexds_test_macros::backends;

pub fn prepare_version(app: &TestApp, token: &str, id: u64, size: usize) -> (Form, u32) {
    let resp = app.post(
        &format!("{V2}/data/{id}/versions/prepare"),
        token,
        &format!("<prepare><size>{size}</size></prepare>"),
    );
    resp.assert_ok();
    let doc = resp.doc();
    let data = doc.child("datastore").unwrap().child("data").unwrap();
    let version = data.child("version").unwrap().text().parse().unwrap();
    let form = Form {
        url: data.child("url").unwrap().text().to_owned(),
        date: data
            .child("request_header")
            .unwrap()
            .child("date")
            .unwrap()
            .text()
            .to_owned(),
        fields: data
            .child("post_param")
            .unwrap()
            .children
            .iter()
            .map(|e| (e.name.clone(), e.text().to_owned()))
            .collect(),
        data_id: id,
    };
    (form, version)
}

pub fn complete_version(app: &TestApp, token: &str, id: u64) -> crate::helpers::Resp {
    app.call(
        "POST",
        &format!("{V2}/data/{id}/versions/complete"),
        Some(token),
        None,
    )
}

/// Uploads `bytes` as the next version and makes it current.
fn new_version(app: &TestApp, id: u64, bytes: &[u8]) -> u32 {
    let (form, version) = prepare_version(app, &app.title, id, bytes.len());
    assert!((200..300).contains(&form.post(bytes).status));
    complete_version(app, &app.title, id).assert_ok();
    version
}

fn current_bytes(app: &TestApp, id: u64) -> Vec<u8> {
    download(&app.url_of(&app.title, id, "?period=1"), &[]).bytes
}

#[backends]
fn a_new_version_uploads_while_the_current_one_stays_downloadable() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.upload(&owner, b"first version", "");
    let (form, version) = prepare_version(&app, &owner, id, 14);
    assert_eq!(version, 2);
    assert_eq!(form.field("key"), format!("uploads/{id:020}_{:010}.bin", 2));
    assert_eq!(
        current_bytes(&app, id),
        b"first version",
        "still version 1 while uploading"
    );
    assert!((200..300).contains(&form.post(b"second version").status));
    assert_eq!(
        current_bytes(&app, id),
        b"first version",
        "still version 1 until complete"
    );
    let done = complete_version(&app, &owner, id);
    done.assert_ok();
    assert_eq!(done.text("datastore/data/version"), "2");
    assert_eq!(done.text("datastore/data/size"), "14");
    assert_eq!(current_bytes(&app, id), b"second version");
    let meta = app.get(&format!("{V2}/metainfo/{id}?response=version"), &owner);
    assert_eq!(m(&meta, "version"), "2");
    assert_eq!(m(&meta, "size"), "14");
    // The default metainfo answer is the spec's: no version element.
    assert!(
        !app.get(&format!("{V2}/metainfo/{id}"), &owner)
            .body
            .contains("<version>")
    );
}

#[backends]
fn the_history_lists_versions_and_an_earlier_one_can_be_restored() {
    let app = spawn_app();
    let id = app.upload(&app.title, b"v1", "");
    new_version(&app, id, b"v2 bytes");
    new_version(&app, id, b"v3");
    let list = app.get(&format!("{V2}/data/{id}/versions"), &app.title);
    list.assert_ok();
    assert!(
        list.body.contains("<versions length=\"3\" current=\"3\">"),
        "{}",
        list.body
    );
    let doc = list.doc();
    let numbers: Vec<String> = doc
        .child("datastore")
        .unwrap()
        .child("versions")
        .unwrap()
        .children("version")
        .map(|v| {
            format!(
                "{}:{}",
                v.child("number").unwrap().text(),
                v.child("size").unwrap().text()
            )
        })
        .collect();
    assert_eq!(numbers, ["3:2", "2:8", "1:2"]);

    let old = app.url_of(&app.title, id, "?period=1&version=1");
    assert_eq!(download(&old, &[]).bytes, b"v1");
    app.get(&format!("{V2}/urlinfo/{id}?version=9"), &app.title)
        .assert_error(404, "DataStore::NotFound");

    let restored = app.post(
        &format!("{V2}/data/{id}/versions/1/restore"),
        &app.title,
        "",
    );
    restored.assert_ok();
    assert_eq!(restored.text("datastore/data/version"), "1");
    assert_eq!(current_bytes(&app, id), b"v1");
    assert_eq!(m(&app.meta(id), "size"), "2");
    let list = app.get(&format!("{V2}/data/{id}/versions"), &app.title);
    assert!(list.body.contains("current=\"1\""));
}

#[backends]
fn version_errors_are_clear_and_change_nothing() {
    let app = spawn_app();
    let owner = app.principal(100);
    let reader = app.principal(200);
    let id = app.upload(
        &owner,
        b"abc",
        "<access_permission><type>public</type></access_permission>",
    );
    complete_version(&app, &owner, id).assert_error(404, "DataStore::NotFound");
    let (_form, _) = prepare_version(&app, &owner, id, 5);
    complete_version(&app, &owner, id).assert_error(403, "DataStore::OperationNotAllowed");
    app.post(
        &format!("{V2}/data/{id}/versions/prepare"),
        &reader,
        "<prepare><size>3</size></prepare>",
    )
    .assert_error(403, "DataStore::PermissionDenied");
    app.post(
        &format!("{V2}/data/{id}/versions/prepare"),
        &owner,
        "<prepare><size>0</size></prepare>",
    )
    .assert_error(400, "DataStore::InvalidArgument");
    app.post(
        &format!("{V2}/data/{id}/versions/prepare"),
        &owner,
        "<prepare/>",
    )
    .assert_error(400, "DataStore::InvalidArgument");
    app.post(&format!("{V2}/data/{id}/versions/7/restore"), &owner, "")
        .assert_error(404, "DataStore::NotFound");
    app.post(&format!("{V2}/data/{id}/versions/0/restore"), &owner, "")
        .assert_error(400, "DataStore::InvalidArgument");
    app.post(&format!("{V2}/data/{id}/versions/x/restore"), &owner, "")
        .assert_error(400, "Core::InvalidArgument");
    let meta_only = app.create(&app.title, "");
    app.post(
        &format!("{V2}/data/{meta_only}/versions/prepare"),
        &app.title,
        "<prepare><size>3</size></prepare>",
    )
    .assert_error(400, "DataStore::InvalidArgument");
    app.get(&format!("{V2}/data/{meta_only}/versions"), &app.title)
        .assert_error(400, "DataStore::InvalidArgument");
    assert_eq!(current_bytes(&app, id), b"abc");
    assert!(
        app.get(&format!("{V2}/data/{id}/versions"), &reader)
            .body
            .contains("length=\"1\"")
    );
}

fn run_janitor(app: &TestApp) -> nexds::janitor::Report {
    app.janitor_pass(time::OffsetDateTime::now_utc().unix_timestamp())
}

fn age_version(app: &TestApp, id: u64, version: u32, column: &str, secs: i64) {
    app.sql(&format!(
        "UPDATE object_versions SET {column} = {column} - {secs}
         WHERE data_id = {id} AND version = {version}"
    ));
}

fn file(app: &TestApp, id: u64, version: u32) -> std::path::PathBuf {
    app.data_dir()
        .join(format!("blobs/nexds/objects/{id:020}_{version:010}.bin"))
}

#[backends]
fn old_versions_go_after_the_version_retention_window() {
    let app = spawn_app();
    let id = app.upload(&app.title, b"v1", "");
    new_version(&app, id, b"v2");
    assert_eq!(run_janitor(&app).versions, 0, "kept within the window");
    assert!(file(&app, id, 1).exists());
    age_version(&app, id, 1, "superseded_time", 31 * 86_400);
    let report = run_janitor(&app);
    assert_eq!((report.versions, report.files), (1, 1));
    assert!(!file(&app, id, 1).exists());
    assert!(file(&app, id, 2).exists(), "the current version stays");
    assert!(
        app.get(&format!("{V2}/data/{id}/versions"), &app.title)
            .body
            .contains("length=\"1\"")
    );
}

#[backends]
fn an_abandoned_version_upload_is_dropped_and_the_current_one_stays() {
    let app = spawn_app();
    let id = app.upload(&app.title, b"current", "");
    let (form, version) = prepare_version(&app, &app.title, id, 3);
    assert!((200..300).contains(&form.post(b"new").status));
    age_version(&app, id, version, "created_time", 4 * 3600);
    assert_eq!(run_janitor(&app).versions, 1);
    assert!(!file(&app, id, version).exists());
    complete_version(&app, &app.title, id).assert_error(404, "DataStore::NotFound");
    assert_eq!(current_bytes(&app, id), b"current");
}

#[backends]
fn deleting_an_object_purges_every_version_after_retention() {
    let app = spawn_app();
    let id = app.upload(&app.title, b"v1", "");
    new_version(&app, id, b"v2");
    app.delete(&format!("{V2}/data/{id}"), &app.title)
        .assert_ok();
    app.age(id, "deleted_time", 31 * 86_400);
    let report = run_janitor(&app);
    assert_eq!((report.rows.deleted, report.files), (1, 2));
    assert!(!file(&app, id, 1).exists() && !file(&app, id, 2).exists());
}

#[backends]
fn restore_reconciles_version_and_size_with_storage() {
    let app = spawn_app();
    let id = app.upload(&app.title, b"one", "");
    new_version(&app, id, b"two!");
    // The current file grew behind nexds's back: restore takes its real size.
    std::fs::write(file(&app, id, 2), b"two, longer").unwrap();
    let resp = app.post(&format!("{V2}/data/{id}/restore"), &app.title, "");
    resp.assert_ok();
    assert_eq!(
        (
            resp.text("datastore/data/version"),
            resp.text("datastore/data/size")
        ),
        ("2".into(), "11".into())
    );
    assert_eq!(m(&app.meta(id), "size"), "11");
    // The current file is lost: restore falls back to the newest version still stored.
    std::fs::remove_file(file(&app, id, 2)).unwrap();
    let resp = app.post(&format!("{V2}/data/{id}/restore"), &app.title, "");
    assert_eq!(resp.text("datastore/data/version"), "1");
    assert_eq!(current_bytes(&app, id), b"one");
    // Nothing left at all: a clear error.
    std::fs::remove_file(file(&app, id, 1)).unwrap();
    app.post(&format!("{V2}/data/{id}/restore"), &app.title, "")
        .assert_error(403, "DataStore::OperationNotAllowed");
    let owner = app.principal(2);
    app.post(&format!("{V2}/data/{id}/restore"), &owner, "")
        .assert_error(403, "DataStore::PermissionDenied");
}
