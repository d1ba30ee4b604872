//! Quotas (DESIGN §16): per owner and namespace, off unless set; a prepare, a new
//! version or a meta_binary change that would pass a limit is 409 OverCapacity and
//! changes nothing; deleted and expired objects stop counting at once.

use nexds_test_macros::backends;
use std::thread;

use nexds::config::Settings;

use crate::helpers::{Resp, TestApp, V2, m, spawn_app_with};
use crate::versions::prepare_version;

const DAY: i64 = 86_400;

fn app(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(adjust)
}

#[track_caller]
fn assert_over(resp: &Resp, setting: &str) {
    resp.assert_error(409, "DataStore::OverCapacity");
    assert_eq!(resp.text("error/result_code"), "0x0069000A");
    assert!(
        resp.text("error/message").contains(setting),
        "{}",
        resp.body
    );
}

/// A meta-only prepare whose meta_binary is `meta` (URL-safe Base64 of it).
fn prepare_meta(app: &TestApp, token: &str, meta: &[u8]) -> Resp {
    app.post(
        &format!("{V2}/data/prepare"),
        token,
        &format!(
            "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>\
             <meta_binary>{}</meta_binary></prepare>",
            nexds::xml::b64_encode(meta)
        ),
    )
}

#[backends]
fn the_object_limit_counts_live_objects_and_frees_at_delete_and_expiry() {
    let app = app(|s| s.quota_objects = Some(3));
    let owner = app.principal(100);
    let first = app.create(&owner, "");
    app.create(&owner, "");
    // An upload not completed yet counts too: the third, at the limit.
    let upload = app.prepare_upload(&owner, 5, "");
    let over = app.prepare(&owner, "");
    assert_over(&over, "NEXDS_QUOTA_OBJECTS");
    assert!(
        over.text("error/message").contains("principal 100"),
        "{}",
        over.body
    );
    // Nothing was created: the next id follows the upload's.
    assert_eq!(app.next_id(), upload.data_id + 1);

    app.delete(&format!("{V2}/data/{first}"), &owner)
        .assert_ok();
    let second = app.create(&owner, "");
    assert_over(&app.prepare(&owner, ""), "NEXDS_QUOTA_OBJECTS");
    app.age(second, "expire_time", 400 * DAY);
    app.create(&owner, "");

    // Another owner, and the server's own principal 2, count on their own.
    app.create(&app.principal(200), "");
    for _ in 0..5 {
        app.create(&app.title, "");
    }
    // A title naming owner 100 is held to 100's quota.
    assert_over(
        &app.prepare(&app.title, "<owner_id>100</owner_id>"),
        "NEXDS_QUOTA_OBJECTS",
    );
}

#[backends]
fn the_byte_limit_holds_declared_sizes_at_prepare_and_at_a_new_version() {
    let app = app(|s| s.quota_bytes = Some(100));
    let owner = app.principal(100);
    let id = app.upload(&owner, &[1u8; 60], "");
    // Up to the limit exactly, an upload still uploading included.
    app.prepare_upload(&owner, 40, "");
    let over = app.post(
        &format!("{V2}/data/prepare"),
        &owner,
        "<prepare><size>1</size></prepare>",
    );
    assert_over(&over, "NEXDS_QUOTA_BYTES");
    // A new version replaces the current size: 60 -> 61 would be 101.
    let resp = app.post(
        &format!("{V2}/data/{id}/versions/prepare"),
        &owner,
        "<prepare><size>61</size></prepare>",
    );
    assert_over(&resp, "NEXDS_QUOTA_BYTES");
    let (_, version) = prepare_version(&app, &owner, id, 60);
    assert_eq!(version, 2);
    // Meta-only objects declare no bytes.
    app.create(&owner, "");
}

#[backends]
fn the_meta_binary_limit_holds_at_prepare_and_at_change() {
    let app = app(|s| s.quota_meta_bytes = Some(10));
    let owner = app.principal(100);
    prepare_meta(&app, &owner, b"123456").assert_ok();
    let second = prepare_meta(&app, &owner, b"1234");
    second.assert_ok();
    let id: u64 = second.text("datastore/data/data_id").parse().unwrap();
    assert_over(&prepare_meta(&app, &owner, b"x"), "NEXDS_QUOTA_META_BYTES");
    let change = |meta: &[u8]| {
        app.put(
            &format!("{V2}/metainfo/{id}"),
            &owner,
            &format!(
                "<change><meta_binary>{}</meta_binary></change>",
                nexds::xml::b64_encode(meta)
            ),
        )
    };
    assert_over(&change(b"12345"), "NEXDS_QUOTA_META_BYTES");
    let meta = app.get(&format!("{V2}/metainfo/{id}?response=meta_binary"), &owner);
    assert_eq!(
        m(&meta, "meta_binary"),
        nexds::xml::b64_encode(b"1234"),
        "unchanged"
    );
    change(b"12").assert_ok();
    prepare_meta(&app, &owner, b"12").assert_ok();
}

#[backends]
fn parallel_prepares_at_the_limit_never_pass_it() {
    let app = app(|s| s.quota_objects = Some(3));
    let owner = app.principal(100);
    let answers: Vec<u16> = thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| app.prepare(&owner, "").status))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        3,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|s| **s == 409).count(),
        5,
        "{answers:?}"
    );
}
