//! Principal tokens and the permission rules of DESIGN §3.

use crate::helpers::{V2, listed_ids, m, spawn_app};
use nexds_test_macros::backends;

fn change(app: &crate::helpers::TestApp, id: u64, token: &str) -> crate::helpers::Resp {
    app.put(
        &format!("{V2}/metainfo/{id}"),
        token,
        "<change><name>changed</name></change>",
    )
}

#[backends]
fn a_private_object_is_invisible_to_other_principals() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(101);
    let id = app.create(&owner, "");
    app.get(&format!("{V2}/metainfo/{id}"), &owner).assert_ok();
    app.get(&format!("{V2}/metainfo/{id}"), &other)
        .assert_error(404, "DataStore::NotFound");
    change(&app, id, &other).assert_error(404, "DataStore::NotFound");
    app.delete(&format!("{V2}/data/{id}"), &other)
        .assert_error(404, "DataStore::NotFound");
    assert_eq!(m(&app.meta(id), "name"), "");
}

#[backends]
fn readers_without_update_permission_are_denied_changes() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(101);
    let id = app.create(
        &owner,
        "<access_permission><type>public</type></access_permission>",
    );
    app.get(&format!("{V2}/metainfo/{id}"), &other).assert_ok();
    change(&app, id, &other).assert_error(403, "DataStore::PermissionDenied");
    app.delete(&format!("{V2}/data/{id}"), &other)
        .assert_error(403, "DataStore::PermissionDenied");
    change(&app, id, &owner).assert_ok();
}

#[backends]
fn specified_permissions_admit_their_recipients_only() {
    let app = spawn_app();
    let owner = app.principal(100);
    let reader = app.principal(7);
    let stranger = app.principal(8);
    let id = app.create(
        &owner,
        "<access_permission><type>specified</type><recipient_ids><recipient_id>7</recipient_id>\
         </recipient_ids></access_permission><update_permission><type>specified</type>\
         <recipient_ids><recipient_id>7</recipient_id></recipient_ids></update_permission>",
    );
    app.get(&format!("{V2}/metainfo/{id}"), &reader).assert_ok();
    app.get(&format!("{V2}/metainfo/{id}"), &stranger)
        .assert_error(404, "DataStore::NotFound");
    change(&app, id, &reader).assert_ok();
    change(&app, id, &stranger).assert_error(404, "DataStore::NotFound");
}

#[backends]
fn friend_permissions_deny_principals_when_the_owner_has_no_friend_list() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(101);
    for kind in ["friend", "specified_friend"] {
        let id = app.create(
            &owner,
            &format!(
                "<access_permission><type>{kind}</type><recipient_ids><recipient_id>101</recipient_id>\
                 </recipient_ids></access_permission>"
            ),
        );
        app.get(&format!("{V2}/metainfo/{id}"), &owner).assert_ok();
        app.get(&format!("{V2}/metainfo/{id}"), &other)
            .assert_error(404, "DataStore::NotFound");
    }
}

#[backends]
fn the_owner_passes_even_a_private_update_permission() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.create(
        &owner,
        "<update_permission><type>private</type></update_permission>",
    );
    change(&app, id, &owner).assert_ok();
    app.delete(&format!("{V2}/data/{id}"), &owner).assert_ok();
}

#[backends]
fn the_title_token_passes_every_check() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.create(
        &owner,
        "<flags><flag>not_use_storageserver</flag><flag>need_review</flag></flags>",
    );
    app.get(&format!("{V2}/metainfo/{id}"), &app.title)
        .assert_ok();
    change(&app, id, &app.title).assert_ok();
    app.get(&format!("{V2}/passwordinfo/{id}"), &app.title)
        .assert_ok();
    app.delete(&format!("{V2}/data/{id}"), &app.title)
        .assert_ok();
}

#[backends]
fn pending_objects_are_under_review_for_readers_who_are_not_the_owner() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(101);
    let id = app.create(
        &owner,
        "<flags><flag>not_use_storageserver</flag><flag>need_review</flag></flags>\
         <access_permission><type>public</type></access_permission>",
    );
    assert_eq!(
        m(&app.get(&format!("{V2}/metainfo/{id}"), &owner), "status"),
        "pending"
    );
    app.get(&format!("{V2}/metainfo/{id}"), &other)
        .assert_error(403, "DataStore::UnderReviewing");
    change(&app, id, &other).assert_error(403, "DataStore::UnderReviewing");
    let batch = app.get(&format!("{V2}/metainfo?data_ids={id}"), &other);
    assert!(batch.body.contains("<metainfos length=\"0\"/>"));
}

#[backends]
fn batch_reads_skip_what_the_principal_may_not_see() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(101);
    let public = app.create(
        &owner,
        "<access_permission><type>public</type></access_permission>",
    );
    let private = app.create(&owner, "");
    let theirs = app.create(&other, "");
    let resp = app.get(
        &format!("{V2}/metainfo?data_ids={private},{public},{theirs}"),
        &other,
    );
    resp.assert_ok();
    assert_eq!(
        listed_ids(&resp, "metainfos", "metainfo"),
        vec![public, theirs]
    );
}
