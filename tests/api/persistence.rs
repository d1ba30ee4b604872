//! Persistence slots (spec 12.3.2.9, DESIGN §7).

use crate::helpers::{TestApp, V2, m, spawn_app, unix};
use nexds_test_macros::backends;

const DAY: i64 = 86_400;

fn perpetuate(app: &TestApp, token: &str, pid: u32, slot: u16, body: &str) -> crate::helpers::Resp {
    app.put(&format!("{V2}/persistenceinfo/{pid}/{slot}"), token, body)
}

fn body(id: u64, extra: &str) -> String {
    format!("<perpetuate>\n  <data_id>{id}</data_id>{extra}\n</perpetuate>")
}

#[backends]
fn a_perpetuated_object_never_expires_and_reads_back_from_its_slot() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.create(&owner, "<period>3</period>");
    let resp = perpetuate(&app, &owner, 100, 0, &body(id, ""));
    resp.assert_ok();
    assert!(
        resp.body
            .contains("<persistenceinfo>\n      <perpetuated length=\"1\"/>"),
        "{}",
        resp.body
    );
    assert_eq!(m(&app.meta(id), "expire_time"), "9999-12-31T00:00:00Z");

    let got = app.get(&format!("{V2}/persistenceinfo/100/0"), &owner);
    got.assert_ok();
    assert_eq!(
        got.text("datastore/persistenceinfos/persistenceinfo/principal_id"),
        "100"
    );
    assert_eq!(
        got.text("datastore/persistenceinfos/persistenceinfo/data_id"),
        id.to_string()
    );
    assert_eq!(
        got.text("datastore/persistenceinfos/persistenceinfo/slot"),
        "0"
    );
}

#[backends]
fn replacing_a_slot_deletes_the_old_object_by_default() {
    let app = spawn_app();
    let owner = app.principal(100);
    let old = app.create(&owner, "");
    let new = app.create(&owner, "");
    perpetuate(&app, &owner, 100, 1, &body(old, "")).assert_ok();
    app.post(
        &format!("{V2}/persistenceinfo/100/1/put"),
        &owner,
        &body(new, ""),
    )
    .assert_ok();
    app.get(&format!("{V2}/metainfo/{old}"), &owner)
        .assert_error(404, "DataStore::NotFound");
    assert_eq!(
        app.get(&format!("{V2}/persistenceinfo/100/1"), &owner)
            .text("datastore/persistenceinfos/persistenceinfo/data_id"),
        new.to_string()
    );
}

#[backends]
fn replacing_with_delete_last_object_0_lets_the_old_object_expire_again() {
    let app = spawn_app();
    let owner = app.principal(100);
    let old = app.create(&owner, "<period>4</period>");
    let new = app.create(&owner, "");
    perpetuate(&app, &owner, 100, 1, &body(old, "")).assert_ok();
    perpetuate(
        &app,
        &owner,
        100,
        1,
        &body(new, "<delete_last_object>0</delete_last_object>"),
    )
    .assert_ok();
    let meta = app.meta(old);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expire = unix(&m(&meta, "expire_time"));
    assert!(
        (now + 4 * DAY - 5..=now + 4 * DAY + 5).contains(&expire),
        "{expire} vs {now}"
    );
}

#[backends]
fn unperpetuate_releases_the_object_with_both_methods() {
    let app = spawn_app();
    let owner = app.principal(100);
    let kept = app.create(&owner, "<period>2</period>");
    perpetuate(&app, &owner, 100, 2, &body(kept, "")).assert_ok();
    let resp = app.delete(&format!("{V2}/persistenceinfo/100/2"), &owner);
    resp.assert_ok();
    assert!(
        resp.body.contains("<unperpetuated length=\"1\"/>"),
        "{}",
        resp.body
    );
    // Default delete_last_object=0: the object stays and expires again.
    assert_ne!(m(&app.meta(kept), "expire_time"), "9999-12-31T00:00:00Z");
    app.get(&format!("{V2}/persistenceinfo/100/2"), &owner)
        .assert_error(404, "DataStore::NotFound");

    let gone = app.create(&owner, "");
    perpetuate(&app, &owner, 100, 2, &body(gone, "")).assert_ok();
    app.post(
        &format!("{V2}/persistenceinfo/100/2/delete"),
        &owner,
        "<unperpetuate><delete_last_object>1</delete_last_object></unperpetuate>",
    )
    .assert_ok();
    app.get(&format!("{V2}/metainfo/{gone}"), &owner)
        .assert_error(404, "DataStore::NotFound");
    // An empty slot: nothing to release.
    let resp = app.post(&format!("{V2}/persistenceinfo/100/2/delete"), &owner, "");
    resp.assert_ok();
    assert!(
        resp.body.contains("<unperpetuated length=\"0\"/>"),
        "{}",
        resp.body
    );
}

#[backends]
fn the_batch_form_lists_filled_readable_slots() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(200);
    let public = app.create(
        &owner,
        "<access_permission><type>public</type></access_permission>",
    );
    let private = app.create(&owner, "");
    perpetuate(&app, &owner, 100, 0, &body(public, "")).assert_ok();
    perpetuate(&app, &owner, 100, 2, &body(private, "")).assert_ok();
    let resp = app.get(
        &format!("{V2}/persistenceinfo?principal_id=100&slots=2,1,0"),
        &owner,
    );
    resp.assert_ok();
    assert!(
        resp.body.contains("<persistenceinfos length=\"2\">"),
        "{}",
        resp.body
    );
    let as_other = app.get(
        &format!("{V2}/persistenceinfo?principal_id=100&slots=0,1,2"),
        &other,
    );
    assert!(
        as_other.body.contains("<persistenceinfos length=\"1\">"),
        "{}",
        as_other.body
    );
    app.get(&format!("{V2}/persistenceinfo/100/2"), &other)
        .assert_error(404, "DataStore::NotFound");
    let seventeen: Vec<String> = (0..17).map(|i| (i % 16).to_string()).collect();
    app.get(
        &format!(
            "{V2}/persistenceinfo?principal_id=100&slots={}",
            seventeen.join(",")
        ),
        &owner,
    )
    .assert_error(400, "DataStore::InvalidArgument");
    app.get(&format!("{V2}/persistenceinfo?slots=0"), &owner)
        .assert_error(400, "DataStore::InvalidArgument");
}

#[backends]
fn only_the_owner_principal_or_the_title_manages_slots() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(200);
    let id = app.create(
        &owner,
        "<access_permission><type>public</type></access_permission>",
    );
    perpetuate(&app, &other, 100, 0, &body(id, ""))
        .assert_error(403, "DataStore::PermissionDenied");
    perpetuate(&app, &other, 200, 0, &body(id, ""))
        .assert_error(403, "DataStore::OperationNotAllowed");
    app.delete(&format!("{V2}/persistenceinfo/100/0"), &other)
        .assert_error(403, "DataStore::PermissionDenied");
    perpetuate(&app, &app.title, 100, 0, &body(id, "")).assert_ok();
    perpetuate(&app, &app.title, 101, 0, &body(id, ""))
        .assert_error(403, "DataStore::OperationNotAllowed");
    assert_eq!(m(&app.meta(id), "expire_time"), "9999-12-31T00:00:00Z");
}

#[backends]
fn bad_persistence_requests_change_nothing() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.create(&owner, "");
    perpetuate(&app, &owner, 100, 16, &body(id, ""))
        .assert_error(400, "DataStore::InvalidArgument");
    perpetuate(&app, &owner, 100, 0, "<perpetuate/>")
        .assert_error(400, "DataStore::InvalidArgument");
    perpetuate(
        &app,
        &owner,
        100,
        0,
        &body(id, "<delete_last_object>yes</delete_last_object>"),
    )
    .assert_error(400, "DataStore::InvalidArgument");
    perpetuate(&app, &owner, 100, 0, &body(10, "")).assert_error(404, "DataStore::NotFound");
    app.put(&format!("{V2}/persistenceinfo/x/0"), &owner, &body(id, ""))
        .assert_error(400, "Core::InvalidArgument");
    app.put(&format!("{V2}/persistenceinfo/0/0"), &owner, &body(id, ""))
        .assert_error(400, "DataStore::InvalidArgument");
    app.get(&format!("{V2}/persistenceinfo/100/0"), &owner)
        .assert_error(404, "DataStore::NotFound");
    assert_ne!(m(&app.meta(id), "expire_time"), "9999-12-31T00:00:00Z");
}

#[backends]
fn deleting_a_persisted_object_frees_its_slot() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.create(&owner, "");
    perpetuate(&app, &owner, 100, 5, &body(id, "")).assert_ok();
    app.delete(&format!("{V2}/data/{id}"), &owner).assert_ok();
    app.get(&format!("{V2}/persistenceinfo/100/5"), &owner)
        .assert_error(404, "DataStore::NotFound");
}
