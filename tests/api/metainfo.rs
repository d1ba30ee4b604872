use crate::helpers::{V2, listed_ids, m, spawn_app};
use nexds_test_macros::backends;

#[backends]
fn the_default_answer_has_no_optional_parts() {
    let app = spawn_app();
    let id = app.create(
        &app.title,
        "<tags><tag>dGFn</tag></tags><rating_init_params><param><slot>0</slot></param></rating_init_params>",
    );
    let resp = app.get(&format!("{V2}/metainfo/{id}"), &app.title);
    resp.assert_ok();
    assert!(resp.body.contains("<metainfos length=\"1\">"));
    assert_eq!(m(&resp, "data_id"), id.to_string());
    for absent in ["<tags", "<meta_binary", "<ratings"] {
        assert!(!resp.body.contains(absent), "{absent} in {}", resp.body);
    }
}

#[backends]
fn response_options_add_their_parts_and_tag_is_an_alias() {
    let app = spawn_app();
    let id = app.create(&app.title, "<tags><tag>dGFn</tag></tags>");
    let resp = app.get(&format!("{V2}/metainfo/{id}?response=tag"), &app.title);
    resp.assert_ok();
    assert!(resp.body.contains("<tag>dGFn</tag>"), "{}", resp.body);
    assert!(!resp.body.contains("<meta_binary"));
    let resp = app.get(
        &format!("{V2}/metainfo/{id}?response=meta_binary"),
        &app.title,
    );
    assert_eq!(m(&resp, "meta_binary"), "bWV0YQ==");
    assert!(!resp.body.contains("<tags"));
    let resp = app.get(&format!("{V2}/metainfo/{id}?response=ratings"), &app.title);
    assert!(
        resp.body.contains("<ratings length=\"0\"/>"),
        "{}",
        resp.body
    );
}

#[backends]
fn an_unknown_response_option_is_invalid() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    app.get(
        &format!("{V2}/metainfo/{id}?response=everything"),
        &app.title,
    )
    .assert_error(400, "DataStore::InvalidArgument");
}

#[backends]
fn an_unknown_data_id_is_not_found() {
    let app = spawn_app();
    let resp = app.get(&format!("{V2}/metainfo/10"), &app.title);
    resp.assert_error(404, "DataStore::NotFound");
    assert_eq!(resp.text("error/result_code"), "0x00690004");
    assert_eq!(resp.text("error/message"), "data_id 10 not found");
}

#[backends]
fn a_non_numeric_data_id_is_a_core_invalid_argument() {
    let app = spawn_app();
    for path in [
        "metainfo/abc",
        "metainfo/1e6",
        "passwordinfo/x",
        "data/x/delete",
    ] {
        let method = if path.ends_with("delete") {
            "POST"
        } else {
            "GET"
        };
        app.call(method, &format!("{V2}/{path}"), Some(&app.title), Some(""))
            .assert_error(400, "Core::InvalidArgument");
    }
    // A number, but not a data_id: a DataStore error.
    app.get(&format!("{V2}/metainfo/-1"), &app.title)
        .assert_error(400, "DataStore::InvalidArgument");
    app.get(&format!("{V2}/metainfo?data_ids=1,two"), &app.title)
        .assert_error(400, "Core::InvalidArgument");
}

#[backends]
fn the_batch_form_keeps_the_order_asked_and_skips_what_is_missing() {
    let app = spawn_app();
    let a = app.create(&app.title, "");
    let b = app.create(&app.title, "");
    let c = app.create(&app.title, "");
    let resp = app.get(
        &format!("{V2}/metainfo?data_ids={c},10,{a},{b},{a}&response=tags"),
        &app.title,
    );
    resp.assert_ok();
    assert_eq!(listed_ids(&resp, "metainfos", "metainfo"), vec![c, a, b]);
    assert!(resp.body.contains("<metainfos length=\"3\">"));
    assert!(resp.body.contains("<tags length=\"0\"/>"));
}

#[backends]
fn the_batch_form_takes_one_to_a_hundred_ids() {
    let app = spawn_app();
    let ids: Vec<String> = (1_000_000..1_000_101).map(|i| i.to_string()).collect();
    app.get(
        &format!("{V2}/metainfo?data_ids={}", ids.join(",")),
        &app.title,
    )
    .assert_error(400, "DataStore::InvalidArgument");
    app.get(
        &format!("{V2}/metainfo?data_ids={}", ids[..100].join(",")),
        &app.title,
    )
    .assert_ok();
    // The limit counts ids as sent, duplicates included.
    let repeated = vec!["1000000"; 101].join(",");
    app.get(&format!("{V2}/metainfo?data_ids={repeated}"), &app.title)
        .assert_error(400, "DataStore::InvalidArgument");
    app.get(&format!("{V2}/metainfo"), &app.title)
        .assert_error(400, "DataStore::InvalidArgument");
    app.get(&format!("{V2}/metainfo?data_ids="), &app.title)
        .assert_error(400, "DataStore::InvalidArgument");
}

#[backends]
fn reading_metadata_does_not_count_as_a_reference() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let before = app.meta(id);
    app.get(&format!("{V2}/metainfo?data_ids={id}"), &app.title)
        .assert_ok();
    let after = app.meta(id);
    assert_eq!(m(&after, "referred_count"), "0");
    assert_eq!(m(&after, "referred_time"), m(&before, "referred_time"));
}
