use crate::helpers::{V2, m, spawn_app};
use nexds_test_macros::backends;

#[backends]
fn a_deleted_object_is_gone_for_everyone_at_once() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.create(
        &owner,
        "<access_permission><type>public</type></access_permission>",
    );
    let resp = app.delete(&format!("{V2}/data/{id}"), &owner);
    resp.assert_ok();
    assert!(
        resp.body.contains("<data>\n      <deleted length=\"1\"/>"),
        "{}",
        resp.body
    );
    for token in [&owner, &app.title] {
        app.get(&format!("{V2}/metainfo/{id}"), token)
            .assert_error(404, "DataStore::NotFound");
        app.get(&format!("{V2}/passwordinfo/{id}"), token)
            .assert_error(404, "DataStore::NotFound");
    }
    app.delete(&format!("{V2}/data/{id}"), &owner)
        .assert_error(404, "DataStore::NotFound");
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><name>x</name></change>",
    )
    .assert_error(404, "DataStore::NotFound");
}

#[backends]
fn the_post_alias_deletes_too() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    app.post(&format!("{V2}/data/{id}/delete"), &app.title, "")
        .assert_ok();
    app.get(&format!("{V2}/metainfo/{id}"), &app.title)
        .assert_error(404, "DataStore::NotFound");
}

fn batch(ids: &[u64]) -> String {
    let params: String = ids
        .iter()
        .map(|id| format!("\n  <param>\n    <data_id>{id}</data_id>\n  </param>"))
        .collect();
    format!("<delete>{params}\n</delete>")
}

#[backends]
fn the_spec_batch_delete_removes_every_param() {
    let app = spawn_app();
    let a = app.create(&app.title, "");
    let b = app.create(&app.title, "");
    let keep = app.create(&app.title, "");
    let resp = app.post(&format!("{V2}/data/delete"), &app.title, &batch(&[a, b]));
    resp.assert_ok();
    assert!(resp.body.contains("<deleted length=\"2\"/>"));
    for id in [a, b] {
        app.get(&format!("{V2}/metainfo/{id}"), &app.title)
            .assert_error(404, "DataStore::NotFound");
    }
    app.meta(keep);
}

#[backends]
fn a_batch_delete_is_all_or_nothing() {
    let app = spawn_app();
    let a = app.create(&app.title, "");
    let resp = app.post(&format!("{V2}/data/delete"), &app.title, &batch(&[a, 10]));
    resp.assert_error(404, "DataStore::NotFound");
    assert_eq!(resp.text("error/message"), "data_id 10 not found");
    app.meta(a);

    let p = app.principal(100);
    let mine = app.create(&p, "");
    let readable = app.create(
        &app.title,
        "<access_permission><type>public</type></access_permission>",
    );
    app.post(&format!("{V2}/data/delete"), &p, &batch(&[mine, readable]))
        .assert_error(403, "DataStore::PermissionDenied");
    assert_eq!(
        m(&app.get(&format!("{V2}/metainfo/{mine}"), &p), "data_id"),
        mine.to_string()
    );
}

#[backends]
fn a_batch_delete_needs_one_to_a_hundred_params() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let many: Vec<u64> = (0..101).map(|i| id + i).collect();
    for body in [
        "<delete/>".to_owned(),
        batch(&many),
        "<delete><param/></delete>".to_owned(),
    ] {
        app.post(&format!("{V2}/data/delete"), &app.title, &body)
            .assert_error(400, "DataStore::InvalidArgument");
    }
    app.post(&format!("{V2}/data/delete"), &app.title, "<remove/>")
        .assert_error(400, "Core::InvalidArgument");
    app.meta(id);
}

#[backends]
fn delete_is_not_allowed_with_get() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    app.get(&format!("{V2}/data/{id}"), &app.title)
        .assert_error(405, "Core::InvalidArgument");
    app.meta(id);
}
