//! Errors common to every endpoint (DESIGN §10).

use crate::helpers::{V2, spawn_app, spawn_app_with};

#[test]
fn an_unknown_path_is_a_not_found_xml_error() {
    let app = spawn_app();
    let resp = app.get(&format!("{V2}/nothing/here"), &app.title);
    resp.assert_error(404, "Core::InvalidArgument");
    assert!(
        resp.text("error/message")
            .contains("/nex/datastore/v2/nothing/here")
    );
}

#[test]
fn a_wrong_method_is_method_not_allowed() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    app.call(
        "PATCH",
        &format!("{V2}/metainfo/{id}"),
        Some(&app.title),
        Some("<change/>"),
    )
    .assert_error(405, "Core::InvalidArgument");
    app.call("GET", &format!("{V2}/data/prepare"), Some(&app.title), None)
        .assert_error(405, "Core::InvalidArgument");
    app.call("POST", "/nex/datastore/version", None, Some(""))
        .assert_error(405, "Core::InvalidArgument");
}

#[test]
fn an_oversized_body_is_refused_with_413() {
    let app = spawn_app_with(|s| s.max_body_bytes = 1024);
    let id = app.create(&app.title, "");
    let name = "n".repeat(2000);
    let resp = app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        &format!("<change><name>{name}</name></change>"),
    );
    resp.assert_error(413, "Core::InvalidArgument");
    assert_eq!(crate::helpers::m(&app.meta(id), "name"), "");
}

#[test]
fn xml_with_a_doctype_is_refused() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let resp = app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<?xml version=\"1.0\"?><!DOCTYPE change [<!ENTITY x \"boom\">]><change><name>&x;</name></change>",
    );
    resp.assert_error(400, "Core::InvalidArgument");
}

#[test]
fn unknown_elements_are_ignored_and_any_content_type_is_read() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let resp = crate::helpers::send(
        &crate::helpers::agent(),
        "PUT",
        &format!("{}{V2}/metainfo/{id}", app.base),
        &[
            ("Authorization", &format!("Bearer {}", app.title)),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<change><future_field>1</future_field><name>kept</name></change>",
        ),
    );
    resp.assert_ok();
    assert_eq!(crate::helpers::m(&app.meta(id), "name"), "kept");
}

#[test]
fn a_malformed_query_string_is_a_core_error() {
    let app = spawn_app();
    app.get(&format!("{V2}/metainfo?data_ids=%ZZ"), &app.title)
        .assert_error(400, "Core::InvalidArgument");
}
