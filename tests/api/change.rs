use nexds_test_macros::backends;
use std::time::Duration;

use crate::helpers::{V2, m, spawn_app, unix};

const DAY: i64 = 86_400;

const SPEC_SINGLE: &str = "<change>\n  <name>new name</name>\n  <access_permission>\n    \
    <type>public</type>\n  </access_permission>\n  <tags>\n    <tag>dGFn</tag>\n  </tags>\n</change>";

#[backends]
fn the_spec_single_change_applies_only_the_given_fields() {
    let app = spawn_app();
    let id = app.create(&app.title, "<type>9</type><tags><tag>b2xk</tag></tags>");
    let before = app.meta(id);
    let resp = app.put(&format!("{V2}/metainfo/{id}"), &app.title, SPEC_SINGLE);
    resp.assert_ok();
    assert!(
        resp.body.contains("<changed length=\"1\"/>"),
        "{}",
        resp.body
    );
    let after = app.meta(id);
    assert_eq!(m(&after, "name"), "new name");
    assert_eq!(m(&after, "access_permission/type"), "public");
    assert!(
        after
            .body
            .contains("<tags length=\"1\">\n          <tag>dGFn</tag>")
    );
    for same in [
        "type",
        "update_permission/type",
        "meta_binary",
        "period",
        "updated_time",
        "expire_time",
    ] {
        assert_eq!(m(&after, same), m(&before, same), "{same} must not change");
    }
}

#[backends]
fn the_post_alias_changes_the_same_way() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    app.post(&format!("{V2}/metainfo/{id}/put"), &app.title, SPEC_SINGLE)
        .assert_ok();
    assert_eq!(m(&app.meta(id), "name"), "new name");
}

const SPEC_BATCH: &str = "<change>\n  <name>new name</name>\n  <update_permission>\n    \
    <type>specified</type>\n    <recipient_ids>\n      <recipient_id>100</recipient_id>\n    \
    </recipient_ids>\n  </update_permission>\n  <param>\n    <data_id>{A}</data_id>\n  </param>\n  \
    <param>\n    <data_id>{B}</data_id>\n  </param>\n</change>";

fn batch_body(a: u64, b: u64) -> String {
    SPEC_BATCH
        .replace("{A}", &a.to_string())
        .replace("{B}", &b.to_string())
}

#[backends]
fn the_spec_batch_change_applies_to_every_param_with_put_and_post() {
    let app = spawn_app();
    let a = app.create(&app.title, "");
    let b = app.create(&app.title, "");
    let resp = app.put(&format!("{V2}/metainfo"), &app.title, &batch_body(a, b));
    resp.assert_ok();
    assert!(resp.body.contains("<changed length=\"2\"/>"));
    for id in [a, b] {
        let meta = app.meta(id);
        assert_eq!(m(&meta, "name"), "new name");
        assert_eq!(m(&meta, "update_permission/type"), "specified");
        assert_eq!(
            m(&meta, "update_permission/recipient_ids/recipient_id"),
            "100"
        );
    }
    let resp = app.post(
        &format!("{V2}/metainfo/put"),
        &app.title,
        &batch_body(a, b).replace("new name", "again"),
    );
    resp.assert_ok();
    assert_eq!(m(&app.meta(b), "name"), "again");
}

#[backends]
fn a_batch_change_is_all_or_nothing_and_names_the_failing_id() {
    let app = spawn_app();
    let a = app.create(&app.title, "");
    let resp = app.put(&format!("{V2}/metainfo"), &app.title, &batch_body(a, 10));
    resp.assert_error(404, "DataStore::NotFound");
    assert_eq!(resp.text("error/message"), "data_id 10 not found");
    assert_eq!(
        m(&app.meta(a), "name"),
        "",
        "the valid item was not changed"
    );

    // A principal allowed on one object but not the other changes neither.
    let p = app.principal(100);
    let mine = app.create(&p, "");
    let theirs = app.create(
        &app.title,
        "<access_permission><type>public</type></access_permission>",
    );
    let resp = app.put(
        &format!("{V2}/metainfo"),
        &p,
        &format!(
            "<change><name>x</name><param><data_id>{mine}</data_id></param>\
             <param><data_id>{theirs}</data_id></param></change>"
        ),
    );
    resp.assert_error(403, "DataStore::PermissionDenied");
    assert_eq!(m(&app.meta(mine), "name"), "");
}

#[backends]
fn a_batch_needs_one_to_a_hundred_params_each_with_a_data_id() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let params: String = (0..101)
        .map(|_| format!("<param><data_id>{id}</data_id></param>"))
        .collect();
    for body in [
        "<change><name>x</name></change>".to_owned(),
        format!("<change><name>x</name>{params}</change>"),
        "<change><name>x</name><param><id>1</id></param></change>".to_owned(),
    ] {
        app.put(&format!("{V2}/metainfo"), &app.title, &body)
            .assert_error(400, "DataStore::InvalidArgument");
    }
    assert_eq!(m(&app.meta(id), "name"), "");
}

#[backends]
fn period_and_modify_update_time_recompute_expiry() {
    let app = spawn_app();
    let id = app.create(&app.title, "<period>30</period>");
    let before = app.meta(id);
    let updated = unix(&m(&before, "updated_time"));

    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><period>10</period></change>",
    )
    .assert_ok();
    let meta = app.meta(id);
    assert_eq!(m(&meta, "period"), "10");
    assert_eq!(
        unix(&m(&meta, "updated_time")),
        updated,
        "period alone keeps updated_time"
    );
    assert_eq!(unix(&m(&meta, "expire_time")), updated + 10 * DAY);

    std::thread::sleep(Duration::from_millis(1100));
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><modify_update_time>1</modify_update_time></change>",
    )
    .assert_ok();
    let meta = app.meta(id);
    let touched = unix(&m(&meta, "updated_time"));
    assert!(touched > updated, "modify_update_time moves updated_time");
    assert_eq!(unix(&m(&meta, "expire_time")), touched + 10 * DAY);
    assert_eq!(unix(&m(&meta, "created_time")), updated);
}

#[backends]
fn changing_the_name_alone_touches_no_time() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let before = app.meta(id);
    std::thread::sleep(Duration::from_millis(1100));
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><name>n</name></change>",
    )
    .assert_ok();
    let after = app.meta(id);
    assert_eq!(m(&after, "updated_time"), m(&before, "updated_time"));
    assert_eq!(m(&after, "expire_time"), m(&before, "expire_time"));
}

#[backends]
fn empty_tags_clear_them_and_meta_binary_is_replaced() {
    let app = spawn_app();
    let id = app.create(&app.title, "<tags><tag>dGFn</tag></tags>");
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><tags/><meta_binary>AQID</meta_binary></change>",
    )
    .assert_ok();
    let meta = app.meta(id);
    assert!(meta.body.contains("<tags length=\"0\"/>"), "{}", meta.body);
    assert_eq!(m(&meta, "meta_binary"), "AQID");
}

#[backends]
fn the_title_sets_review_status_and_reference_count() {
    let app = spawn_app();
    let owner = app.principal(100);
    let other = app.principal(200);
    let id = app.create(
        &owner,
        "<access_permission><type>public</type></access_permission>",
    );
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><status>pending</status><referred_count>42</referred_count></change>",
    )
    .assert_ok();
    let meta = app.meta(id);
    assert_eq!(m(&meta, "status"), "pending");
    assert_eq!(m(&meta, "referred_count"), "42");
    app.get(&format!("{V2}/metainfo/{id}"), &owner).assert_ok();
    app.get(&format!("{V2}/metainfo/{id}"), &other)
        .assert_error(403, "DataStore::UnderReviewing");

    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><status>rejected</status></change>",
    )
    .assert_ok();
    app.get(&format!("{V2}/metainfo/{id}"), &other)
        .assert_error(404, "DataStore::NotFound");
    assert_eq!(
        m(&app.get(&format!("{V2}/metainfo/{id}"), &owner), "status"),
        "rejected"
    );

    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><status>none</status></change>",
    )
    .assert_ok();
    app.get(&format!("{V2}/metainfo/{id}"), &other).assert_ok();
}

#[backends]
fn principals_may_not_set_status_or_reference_count() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = app.create(&owner, "");
    for body in [
        "<change><status>none</status></change>",
        "<change><referred_count>9</referred_count></change>",
    ] {
        app.put(&format!("{V2}/metainfo/{id}"), &owner, body)
            .assert_error(403, "DataStore::PermissionDenied");
    }
    let meta = app.meta(id);
    assert_eq!(m(&meta, "referred_count"), "0");
}

#[backends]
fn bad_changes_are_refused_and_change_nothing() {
    let app = spawn_app();
    let id = app.create(&app.title, "<tags><tag>dGFn</tag></tags>");
    let before = app.meta(id).body;
    let invalid = "DataStore::InvalidArgument";
    let core = "Core::InvalidArgument";
    let long_name = "n".repeat(65);
    let cases: Vec<(String, u16, &str)> = vec![
        (format!("<change><name>{long_name}</name></change>"), 400, invalid),
        ("<change><name>ok</name><period>0</period></change>".into(), 400, invalid),
        ("<change><name>ok</name><period>many</period></change>".into(), 400, core),
        ("<change><name>ok</name><status>approved</status></change>".into(), 400, invalid),
        ("<change><name>ok</name><tags><tag>*</tag></tags></change>".into(), 400, invalid),
        ("<change><name>ok</name><meta_binary>a</meta_binary></change>".into(), 400, invalid),
        ("<change><name>ok</name><access_permission><type>all</type></access_permission></change>".into(), 400, invalid),
        ("<change><name>ok</name><access_permission><recipient_ids/></access_permission></change>".into(), 400, invalid),
        ("<change><name>ok</name><modify_update_time>2</modify_update_time></change>".into(), 400, invalid),
        ("<change><name>ok</name><name>two</name></change>".into(), 400, invalid),
        ("<change><name>ok</name>".into(), 400, core),
        ("<chnage><name>ok</name></chnage>".into(), 400, core),
        (String::new(), 400, core),
    ];
    for (body, status, code) in &cases {
        let resp = app.put(&format!("{V2}/metainfo/{id}"), &app.title, body);
        assert_eq!(resp.status, *status, "{body}: {}", resp.body);
        assert_eq!(resp.error_code(), *code, "{body}: {}", resp.body);
    }
    assert_eq!(app.meta(id).body, before, "nothing changed");
}

#[backends]
fn names_up_to_sixty_four_bytes_and_unicode_are_kept() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let name = format!("{}é<&>", "n".repeat(59));
    assert_eq!(name.len(), 64);
    let escaped = name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        &format!("<change><name>{escaped}</name></change>"),
    )
    .assert_ok();
    assert_eq!(m(&app.meta(id), "name"), name);
}
