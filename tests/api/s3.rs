//! The S3 backend end to end: nexds hands out forms, a real Garage (SigV4) or
//! s3s-fs (SigV2) judges the uploads, nexds heads, presigns and drops files.

use nexds_test_macros::backends;
use std::time::Duration;

use nexds::s3::sign::SignatureVersion;

use crate::garage::{self, S3Server};
use crate::helpers::{TestApp, V2, download, m, post_form, spawn_app_with};

fn app_on(server: &S3Server, adjust: impl FnOnce(&mut nexds::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        server.configure(s);
        adjust(s);
    })
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[backends]
fn a_console_upload_round_trips_through_garage() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = app_on(&garage, |_| {});
    let console = app.principal(100);
    let file = bytes(100_000);
    let form = app.prepare_upload(
        &console,
        file.len(),
        "<access_permission><type>public</type></access_permission>",
    );
    assert_eq!(
        form.url,
        format!("{}/{}", garage.settings.endpoint, garage.settings.bucket)
    );
    let names: Vec<&str> = form.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "policy",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "x-amz-signature",
            "key",
            "acl"
        ],
        "SigV4 is the default form on S3"
    );
    assert!(form.date.ends_with(" GMT"), "{}", form.date);
    // Invisible until complete.
    app.get(&format!("{V2}/metainfo/{}", form.data_id), &console)
        .assert_error(404, "DataStore::NotFound");

    let posted = form.post(&file);
    assert_eq!(posted.status, 204, "{}", posted.body);
    let done = app.complete(&console, form.data_id);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.is_empty());
    let meta = app.get(&format!("{V2}/metainfo/{}", form.data_id), &console);
    assert_eq!(m(&meta, "size"), "100000");

    let url = app.url_of(&console, form.data_id, "?period=3");
    assert!(url.starts_with(&garage.settings.endpoint), "{url}");
    let got = download(&url, &[]);
    assert_eq!(got.status, 200);
    assert!(got.bytes == file, "the download is byte-identical");
    assert_eq!(m(&app.meta(form.data_id), "referred_count"), "1");
}

#[backends]
fn tampered_forms_are_refused_and_nothing_becomes_visible() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = app_on(&garage, |_| {});
    let file = bytes(64);
    let form = app.prepare_upload(&app.title, file.len(), "");
    let other_policy = app
        .prepare_upload(&app.title, 10, "")
        .field("policy")
        .to_owned();
    let attempts = form.tampered(&file, &other_policy);
    for (what, fields, body) in attempts {
        let resp = post_form(&form.url, &fields, &body);
        assert!(
            (400..500).contains(&resp.status),
            "{what}: {} {}",
            resp.status,
            resp.body
        );
    }
    let done = app.complete(&app.title, form.data_id);
    done.assert_error(403, "DataStore::OperationNotAllowed");
    app.get(&format!("{V2}/metainfo/{}", form.data_id), &app.title)
        .assert_error(404, "DataStore::NotFound");
    // The right upload still completes afterwards.
    assert_eq!(form.post(&file).status, 204);
    assert_eq!(app.complete(&app.title, form.data_id).status, 200);
}

#[backends]
fn an_expired_form_is_refused() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = app_on(&garage, |s| s.upload_form_secs = 1);
    let form = app.prepare_upload(&app.title, 8, "");
    std::thread::sleep(Duration::from_millis(2100));
    let resp = form.post(&bytes(8));
    assert!(
        (400..500).contains(&resp.status),
        "{} {}",
        resp.status,
        resp.body
    );
    app.complete(&app.title, form.data_id)
        .assert_error(403, "DataStore::OperationNotAllowed");
}

#[backends]
fn long_periods_get_a_link_of_nexds_that_redirects() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = app_on(&garage, |_| {});
    let file = bytes(1000);
    let id = app.upload(&app.title, &file, "");
    // 30 days (the default) is beyond SigV4's 7.
    let url = app.url_of(&app.title, id, "");
    assert!(
        url.starts_with(&format!("{}/download/{id}?version=1&expires=", app.base)),
        "{url}"
    );
    let got = download(&url, &[]);
    assert_eq!(got.status, 200);
    assert!(got.bytes == file);
    let tampered = url.replace("expires=", "expires=1");
    assert_eq!(download(&tampered, &[]).status, 403);
    let forged = format!(
        "{}/download/{id}?version=1&expires=9999999999&signature={}",
        app.base,
        "0".repeat(64)
    );
    assert_eq!(download(&forged, &[]).status, 403);
}

#[backends]
fn the_janitor_drops_uploads_never_completed_with_their_files() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = app_on(&garage, |s| {
        s.upload_timeout_secs = 1;
        s.janitor_secs = 1;
    });
    let form = app.prepare_upload(&app.title, 16, "");
    assert_eq!(form.post(&bytes(16)).status, 204);
    let key = form.field("key").to_owned();
    assert_eq!(garage.get(&key).status, 200);
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(garage.get(&key).status, 404, "the file is gone");
    app.complete(&app.title, form.data_id)
        .assert_error(404, "DataStore::NotFound");
}

#[backends]
fn the_sigv2_form_is_accepted_by_an_independent_verifier() {
    let Some(s3s) = garage::s3s_fs() else { return };
    let app = app_on(&s3s, |s| s.post_signature = Some(SignatureVersion::V2));
    let file = bytes(4096);
    let form = app.prepare_upload(&app.title, file.len(), "");
    let names: Vec<&str> = form.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["policy", "AWSAccessKeyId", "signature", "key", "acl"]
    );
    let forged = post_form(
        &form.url,
        &form.with("signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        &file,
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    let posted = form.post(&file);
    assert_eq!(posted.status, 204, "{}", posted.body);
    assert_eq!(app.complete(&app.title, form.data_id).status, 200);
    let got = download(&app.url_of(&app.title, form.data_id, "?period=1"), &[]);
    assert!(got.bytes == file);
}

#[backends]
fn the_janitor_purges_expired_and_deleted_objects_from_garage() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = app_on(&garage, |_| {});
    let deleted = app.upload(&app.title, &bytes(10), "");
    let expired = app.upload(&app.title, &bytes(20), "<period>1</period>");
    let live = app.upload(&app.title, &bytes(30), "");
    let key = |id: u64| format!("objects/{id:020}_{:010}.bin", 1);
    app.delete(&format!("{V2}/data/{deleted}"), &app.title)
        .assert_ok();
    app.age(deleted, "deleted_time", 31 * 86_400);
    app.age(expired, "expire_time", 2 * 86_400);

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let report = app.janitor_pass(now);
    assert_eq!(
        (report.rows.deleted, report.rows.expired, report.files),
        (1, 1, 2)
    );
    assert_eq!(garage.get(&key(deleted)).status, 404);
    assert_eq!(garage.get(&key(expired)).status, 404);
    assert_eq!(garage.get(&key(live)).status, 200, "live files stay");
    assert_eq!(app.queued_deletions(), 0);
}

#[backends]
fn versions_round_trip_through_garage() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = app_on(&garage, |_| {});
    let id = app.upload(&app.title, &bytes(100), "");
    let resp = app.post(
        &format!("{V2}/data/{id}/versions/prepare"),
        &app.title,
        "<prepare><size>50</size></prepare>",
    );
    resp.assert_ok();
    let doc = resp.doc();
    let data = doc.child("datastore").unwrap().child("data").unwrap();
    let url = data.child("url").unwrap().text().to_owned();
    let fields: Vec<(String, String)> = data
        .child("post_param")
        .unwrap()
        .children
        .iter()
        .map(|e| (e.name.clone(), e.text().to_owned()))
        .collect();
    assert_eq!(post_form(&url, &fields, &bytes(50)).status, 204);
    app.call(
        "POST",
        &format!("{V2}/data/{id}/versions/complete"),
        Some(&app.title),
        None,
    )
    .assert_ok();
    let latest = download(&app.url_of(&app.title, id, "?period=1"), &[]);
    assert!(latest.bytes == bytes(50));
    let first = download(&app.url_of(&app.title, id, "?period=1&version=1"), &[]);
    assert!(first.bytes == bytes(100));
}
