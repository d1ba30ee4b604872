//! Errors common to every endpoint (DESIGN §10).

use crate::helpers::{V2, spawn_app, spawn_app_with};
use nexds_test_macros::backends;

#[backends]
fn an_unknown_path_is_a_not_found_xml_error() {
    let app = spawn_app();
    let resp = app.get(&format!("{V2}/nothing/here"), &app.title);
    resp.assert_error(404, "Core::InvalidArgument");
    assert!(
        resp.text("error/message")
            .contains("/nex/datastore/v2/nothing/here")
    );
}

#[backends]
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

#[backends]
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

#[backends]
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

#[backends]
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

#[backends]
fn a_malformed_query_string_is_a_core_error() {
    let app = spawn_app();
    app.get(&format!("{V2}/metainfo?data_ids=%ZZ"), &app.title)
        .assert_error(400, "Core::InvalidArgument");
}

#[backends]
fn corrupted_bodies_never_get_a_5xx() {
    let app = spawn_app();
    let id = app.create(
        &app.title,
        "<rating_init_params><param><slot>0</slot></param></rating_init_params>",
    );
    let targets = [
        ("POST", format!("{V2}/data/prepare"), "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags><meta_binary>AA</meta_binary><tags><tag>YQ</tag></tags></prepare>".to_owned()),
        ("PUT", format!("{V2}/metainfo/{id}"), "<change><name>n</name><tags><tag>dGFn</tag></tags><period>9</period></change>".to_owned()),
        ("PUT", format!("{V2}/metainfo/{id}/ratings/0"), "<rate><rating_value>5</rating_value></rate>".to_owned()),
        ("POST", format!("{V2}/data/delete"), format!("<delete><param><data_id>{}</data_id></param></delete>", id + 1000)),
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for (method, path, body) in &targets {
        let bytes = body.as_bytes();
        for round in 0..60 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut mutated = bytes.to_vec();
            let at = (seed as usize) % mutated.len();
            if round % 3 == 0 {
                mutated.truncate(at);
            } else {
                mutated[at] = [b'<', b'>', b'&', 0xff, b'-', b'x'][(seed >> 40) as usize % 6];
            }
            let resp = crate::helpers::send_bytes(
                &crate::helpers::agent(),
                method,
                &format!("{}{path}", app.base),
                &[("Authorization", &format!("Bearer {}", app.title))],
                Some(mutated.clone()),
            );
            assert!(
                resp.status < 500,
                "{method} {path} {:?}: {} {}",
                String::from_utf8_lossy(&mutated),
                resp.status,
                resp.body
            );
            if resp.status >= 400 {
                assert!(resp.body.contains("<nex><error><code>"), "{}", resp.body);
            }
        }
    }
}
