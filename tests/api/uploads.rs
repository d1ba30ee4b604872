//! prepare with a file, complete and urlinfo on the local store (spec 12.3.2.5, 12.3.2.6).

use nexds_test_macros::backends;
use std::time::Duration;

use crate::helpers::{TestApp, V2, m, spawn_app, spawn_app_with};

/// Puts a file where the local store keeps `key`, as a finished upload would.
fn place_file(app: &TestApp, key: &str, bytes: &[u8]) {
    let path = app.data_dir().join("blobs/nexds").join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[backends]
fn prepare_hands_out_the_specs_sigv2_form_for_the_local_store() {
    let app = spawn_app();
    let form = app.prepare_upload(&app.title, 100, "");
    assert_eq!(form.url, format!("{}/storage/nexds", app.base));
    let names: Vec<&str> = form.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["policy", "AWSAccessKeyId", "signature", "key", "acl"]
    );
    assert_eq!(form.field("acl"), "private");
    // Forms upload to an upload key; complete moves the file where no form reaches.
    assert_eq!(
        form.field("key"),
        format!("uploads/{:020}_{:010}.bin", form.data_id, 1)
    );
    assert!(form.field("AWSAccessKeyId").starts_with("NEXDS"));
    assert!(form.date.ends_with(" GMT"));
    use base64::Engine;
    let policy = base64::engine::general_purpose::STANDARD
        .decode(form.field("policy"))
        .unwrap();
    let policy = String::from_utf8(policy).unwrap();
    assert!(
        policy.contains("[\"content-length-range\",100,100]"),
        "{policy}"
    );
    assert!(
        policy.contains(&format!("{{\"key\":\"{}\"}}", form.field("key"))),
        "{policy}"
    );
    // Invisible to everyone until complete.
    app.get(&format!("{V2}/metainfo/{}", form.data_id), &app.title)
        .assert_error(404, "DataStore::NotFound");
}

#[backends]
fn complete_needs_the_file_with_the_declared_size() {
    let app = spawn_app();
    let owner = app.principal(100);
    let form = app.prepare_upload(&owner, 10, "");
    let key = form.field("key").to_owned();
    let resp = app.complete(&owner, form.data_id);
    resp.assert_error(403, "DataStore::OperationNotAllowed");
    assert!(resp.text("error/message").contains("no file"));
    place_file(&app, &key, b"too short");
    app.complete(&owner, form.data_id)
        .assert_error(403, "DataStore::OperationNotAllowed");
    app.get(&format!("{V2}/metainfo/{}", form.data_id), &owner)
        .assert_error(404, "DataStore::NotFound");
    place_file(&app, &key, b"0123456789");
    let done = app.complete(&owner, form.data_id);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(m(&app.meta(form.data_id), "size"), "10");
    // A retried complete succeeds again.
    assert_eq!(app.complete(&owner, form.data_id).status, 200);
}

#[backends]
fn only_the_owner_or_the_title_completes() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(200);
    let form = app.prepare_upload(&owner, 3, "");
    place_file(&app, form.field("key"), b"abc");
    app.complete(&other, form.data_id)
        .assert_error(404, "DataStore::NotFound");
    let wrong_owner = app.post(
        &format!("{V2}/data/complete/{}", form.data_id),
        &app.title,
        "<complete><owner_id>555</owner_id></complete>",
    );
    wrong_owner.assert_error(400, "DataStore::InvalidArgument");
    let right = app.post(
        &format!("{V2}/data/complete/{}", form.data_id),
        &app.title,
        "<complete><owner_id>100</owner_id></complete>",
    );
    assert_eq!(right.status, 200, "{}", right.body);
    app.complete(&app.title, 10)
        .assert_error(404, "DataStore::NotFound");
}

#[backends]
fn an_upload_not_completed_in_time_is_gone() {
    let app = spawn_app_with(|s| s.upload_timeout_secs = 1);
    let form = app.prepare_upload(&app.title, 3, "");
    place_file(&app, form.field("key"), b"abc");
    std::thread::sleep(Duration::from_millis(2100));
    app.complete(&app.title, form.data_id)
        .assert_error(404, "DataStore::NotFound");
}

#[backends]
fn urlinfo_counts_a_reference_and_extends_expiry_when_asked() {
    let app = spawn_app();
    let form = app.prepare_upload(
        &app.title,
        3,
        "<period>5</period><flags><flag>period_from_last_referred</flag></flags>",
    );
    place_file(&app, form.field("key"), b"abc");
    assert_eq!(app.complete(&app.title, form.data_id).status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    let before = app.meta(form.data_id);
    let resp = app.get(
        &format!("{V2}/urlinfo/{}?period=2", form.data_id),
        &app.title,
    );
    resp.assert_ok();
    assert_eq!(
        resp.text("datastore/urlinfos/urlinfo/data_id"),
        form.data_id.to_string()
    );
    let url = resp.text("datastore/urlinfos/urlinfo/url");
    assert!(
        url.starts_with(&format!("{}/storage/nexds/objects/", app.base)),
        "{url}"
    );
    assert!(
        url.contains("AWSAccessKeyId=") && url.contains("Signature="),
        "{url}"
    );
    let after = app.meta(form.data_id);
    assert_eq!(m(&after, "referred_count"), "1");
    assert_ne!(m(&after, "referred_time"), m(&before, "referred_time"));
    let referred = crate::helpers::unix(&m(&after, "referred_time"));
    assert_eq!(
        crate::helpers::unix(&m(&after, "expire_time")),
        referred + 5 * 86_400
    );
}

#[backends]
fn urlinfo_refuses_meta_only_objects_and_bad_periods() {
    let app = spawn_app();
    let meta_only = app.create(&app.title, "");
    app.get(&format!("{V2}/urlinfo/{meta_only}"), &app.title)
        .assert_error(400, "DataStore::InvalidArgument");
    app.get(&format!("{V2}/urlinfo?data_ids={meta_only}"), &app.title)
        .assert_error(400, "DataStore::InvalidArgument");
    assert_eq!(m(&app.meta(meta_only), "referred_count"), "0");
    let form = app.prepare_upload(&app.title, 1, "");
    place_file(&app, form.field("key"), b"x");
    assert_eq!(app.complete(&app.title, form.data_id).status, 200);
    for bad in ["?period=0", "?period=366"] {
        app.get(&format!("{V2}/urlinfo/{}{bad}", form.data_id), &app.title)
            .assert_error(400, "DataStore::InvalidArgument");
    }
    app.get(
        &format!("{V2}/urlinfo/{}?period=x", form.data_id),
        &app.title,
    )
    .assert_error(400, "Core::InvalidArgument");
    app.get(&format!("{V2}/urlinfo/10"), &app.title)
        .assert_error(404, "DataStore::NotFound");
    let ids: Vec<String> = (0..101).map(|_| form.data_id.to_string()).collect();
    app.get(
        &format!("{V2}/urlinfo?data_ids={}", ids.join(",")),
        &app.title,
    )
    .assert_error(400, "DataStore::InvalidArgument");
    assert_eq!(m(&app.meta(form.data_id), "referred_count"), "0");
    let batch = app.get(
        &format!("{V2}/urlinfo?data_ids={0},{0}", form.data_id),
        &app.title,
    );
    assert!(
        batch.body.contains("<urlinfos length=\"1\">"),
        "{}",
        batch.body
    );
}

#[backends]
fn sizes_above_the_limit_are_refused() {
    let app = spawn_app_with(|s| s.max_file_size = 1000);
    app.post(
        &format!("{V2}/data/prepare"),
        &app.title,
        "<prepare><size>1001</size></prepare>",
    )
    .assert_error(400, "DataStore::InvalidArgument");
    app.prepare_upload(&app.title, 1000, "");
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 + 5) as u8).collect()
}

#[backends]
fn a_console_upload_round_trips_through_the_local_store_in_both_styles() {
    for style in [
        nexds::s3::sign::SignatureVersion::V2,
        nexds::s3::sign::SignatureVersion::V4,
    ] {
        let app = spawn_app_with(|s| s.post_signature = Some(style));
        let console = app.principal(100);
        let file = bytes(300_000);
        let id = app.upload(
            &console,
            &file,
            "<access_permission><type>public</type></access_permission>",
        );
        let meta = app.get(&format!("{V2}/metainfo/{id}"), &console);
        assert_eq!(m(&meta, "size"), "300000");
        let url = app.url_of(&console, id, "?period=1");
        let got = crate::helpers::download(&url, &[]);
        assert_eq!(got.status, 200, "{style:?}: {}", got.body);
        assert!(
            got.bytes == file,
            "{style:?}: the download is byte-identical"
        );
        let part = crate::helpers::download(&url, &[("Range", "bytes=10-19")]);
        assert_eq!(part.status, 206);
        assert_eq!(part.bytes, file[10..20]);
    }
}

#[backends]
fn tampered_forms_are_refused_by_the_local_store_and_nothing_becomes_visible() {
    let app = spawn_app();
    let file = bytes(64);
    let form = app.prepare_upload(&app.title, file.len(), "");
    let other_policy = app
        .prepare_upload(&app.title, 10, "")
        .field("policy")
        .to_owned();
    let attempts = form.tampered(&file, &other_policy);
    for (what, fields, body) in attempts {
        let resp = crate::helpers::post_form(&form.url, &fields, &body);
        assert!(
            (400..500).contains(&resp.status),
            "{what}: {} {}",
            resp.status,
            resp.body
        );
        assert!(
            !app.data_dir()
                .join("blobs/nexds/objects/elsewhere.bin")
                .exists(),
            "{what}: nothing stored"
        );
    }
    app.complete(&app.title, form.data_id)
        .assert_error(403, "DataStore::OperationNotAllowed");
    app.get(&format!("{V2}/metainfo/{}", form.data_id), &app.title)
        .assert_error(404, "DataStore::NotFound");
    assert!((200..300).contains(&form.post(&file).status));
    assert_eq!(app.complete(&app.title, form.data_id).status, 200);
}

#[backends]
fn long_periods_on_the_local_store_keep_a_direct_sigv2_url() {
    let app = spawn_app();
    let file = bytes(10);
    let id = app.upload(&app.title, &file, "");
    let url = app.url_of(&app.title, id, "?period=365");
    assert!(url.contains("/storage/nexds/"), "{url}");
    assert!(crate::helpers::download(&url, &[]).bytes == file);
}
