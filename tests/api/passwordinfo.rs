use crate::helpers::{V2, listed_ids, spawn_app};
use nexds_test_macros::backends;

#[backends]
fn the_owner_and_the_title_read_stable_non_zero_passwords() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.create(&owner, "");
    let resp = app.get(&format!("{V2}/passwordinfo/{id}"), &owner);
    resp.assert_ok();
    let access: u64 = resp
        .text("datastore/passwordinfos/passwordinfo/access_password")
        .parse()
        .unwrap();
    let update: u64 = resp
        .text("datastore/passwordinfos/passwordinfo/update_password")
        .parse()
        .unwrap();
    assert!(access != 0 && update != 0 && access != update);
    assert_eq!(
        resp.text("datastore/passwordinfos/passwordinfo/data_id"),
        id.to_string()
    );
    let again = app.get(&format!("{V2}/passwordinfo/{id}"), &app.title);
    assert_eq!(again.body, resp.body, "the title reads the same passwords");
}

#[backends]
fn others_may_not_read_passwords() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(200);
    let public = app.create(
        &owner,
        "<access_permission><type>public</type></access_permission>",
    );
    let private = app.create(&owner, "");
    app.get(&format!("{V2}/passwordinfo/{public}"), &other)
        .assert_error(403, "DataStore::PermissionDenied");
    app.get(&format!("{V2}/passwordinfo/{private}"), &other)
        .assert_error(404, "DataStore::NotFound");
    let batch = app.get(
        &format!("{V2}/passwordinfo?data_ids={public},{private}"),
        &other,
    );
    batch.assert_ok();
    assert!(
        batch.body.contains("<passwordinfos length=\"0\"/>"),
        "{}",
        batch.body
    );
}

#[backends]
fn the_batch_form_lists_own_objects_in_order() {
    let app = spawn_app();
    let owner = app.principal(100);
    let a = app.create(&owner, "");
    let b = app.create(&owner, "");
    let foreign = app.create(
        &app.title,
        "<access_permission><type>public</type></access_permission>",
    );
    let resp = app.get(
        &format!("{V2}/passwordinfo?data_ids={b},{foreign},{a},10"),
        &owner,
    );
    resp.assert_ok();
    assert_eq!(
        listed_ids(&resp, "passwordinfos", "passwordinfo"),
        vec![b, a]
    );
    app.get(&format!("{V2}/passwordinfo"), &owner)
        .assert_error(400, "DataStore::InvalidArgument");
}
