use crate::helpers::{V2, agent, send, spawn_app};
use nexds_test_macros::backends;

#[backends]
fn the_version_needs_no_token() {
    let app = spawn_app();
    let resp = app.call("GET", "/nex/datastore/version", None, None);
    resp.assert_ok();
    assert_eq!(resp.text("datastore/api_version"), "2");
    assert_eq!(resp.text("datastore/ngs_version"), "3.6.2.");
}

#[backends]
fn a_request_without_a_token_is_access_denied() {
    let app = spawn_app();
    let resp = app.call("GET", &format!("{V2}/metainfo/1000000"), None, None);
    resp.assert_error(401, "Core::AccessDenied");
    assert_eq!(resp.text("error/result_code"), "0x00010006");
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"nexds\"")
    );
}

#[backends]
fn an_unknown_token_is_access_denied_before_anything_else() {
    let app = spawn_app();
    let resp = app.post(&format!("{V2}/data/prepare"), "nexds_nope", "<not-xml");
    resp.assert_error(401, "Core::AccessDenied");
}

#[backends]
fn basic_auth_with_the_token_as_password_works() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let basic = base64_basic(&format!("anyone:{}", app.title));
    let resp = send(
        &agent(),
        "GET",
        &format!("{}{V2}/metainfo/{id}", app.base),
        &[("Authorization", &basic)],
        None,
    );
    resp.assert_ok();
    let wrong = base64_basic("anyone:wrong");
    let resp = send(
        &agent(),
        "GET",
        &format!("{}{V2}/metainfo/{id}", app.base),
        &[("Authorization", &wrong)],
        None,
    );
    resp.assert_error(401, "Core::AccessDenied");
}

fn base64_basic(user_pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

#[backends]
fn a_revoked_token_is_refused_within_two_seconds() {
    let app = spawn_app();
    let token = app.principal(100);
    let id = app.create(&token, "");
    // Seen, so the server has its caller cached.
    app.get(&format!("{V2}/metainfo/{id}"), &token).assert_ok();
    let revoked = app
        .store()
        .revoke_token(None, nexds::auth::hash_token(&token), 1)
        .unwrap();
    assert!(revoked.is_some());
    // The promise (README, Command line): refused from 2 s after the revocation.
    std::thread::sleep(std::time::Duration::from_secs(2));
    app.get(&format!("{V2}/metainfo/{id}"), &token)
        .assert_error(401, "Core::AccessDenied");
    // An unknown token is refused as well, cached or not.
    app.get(&format!("{V2}/metainfo/{id}"), "nexds_unknown")
        .assert_error(401, "Core::AccessDenied");
}

#[backends]
fn namespaces_are_isolated_completely() {
    let app = spawn_app();
    let id = app.create_public();
    let other = app.token("other-title", None);
    app.get(&format!("{V2}/metainfo/{id}"), &other)
        .assert_error(404, "DataStore::NotFound");
    let batch = app.get(&format!("{V2}/metainfo?data_ids={id}"), &other);
    batch.assert_ok();
    assert!(
        batch.body.contains("<metainfos length=\"0\"/>"),
        "{}",
        batch.body
    );
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &other,
        "<change><name>stolen</name></change>",
    )
    .assert_error(404, "DataStore::NotFound");
    app.delete(&format!("{V2}/data/{id}"), &other)
        .assert_error(404, "DataStore::NotFound");
    app.get(&format!("{V2}/passwordinfo/{id}"), &other)
        .assert_error(404, "DataStore::NotFound");
    // ...and the object is untouched in its own namespace.
    let meta = app.meta(id);
    assert_eq!(crate::helpers::m(&meta, "name"), "");
    // The other namespace's own objects work as usual.
    let mine = app.create(&other, "");
    app.get(&format!("{V2}/metainfo/{mine}"), &other)
        .assert_ok();
    app.get(&format!("{V2}/metainfo/{mine}"), &app.title)
        .assert_error(404, "DataStore::NotFound");
}
