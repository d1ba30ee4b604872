use crate::helpers::{V2, m, spawn_app, unix};
use nexds_test_macros::backends;

const DAY: i64 = 86_400;

#[backends]
fn a_meta_only_prepare_creates_a_finished_object_at_once() {
    let app = spawn_app();
    let resp = app.post(
        &format!("{V2}/data/prepare"),
        &app.title,
        "<prepare><size>0</size><type>7</type><flags><flag>not_use_storageserver</flag></flags>\
         <meta_binary>aGVsbG8</meta_binary><tags><tag>dGFnMg</tag><tag>dGFnMQ==</tag></tags>\
         <period>30</period><refer_data_id>12</refer_data_id></prepare>",
    );
    resp.assert_ok();
    let data = resp.doc();
    let data = data.child("datastore").unwrap().child("data").unwrap();
    // Spec 12.3.2.5.1.2: only the data ID comes back.
    assert_eq!(data.children.len(), 1, "{}", resp.body);
    let id: u64 = data.child("data_id").unwrap().text().parse().unwrap();
    assert!(id >= 1_000_000);

    let meta = app.meta(id);
    assert_eq!(
        m(&meta, "owner_id"),
        "2",
        "a title token's objects belong to principal 2"
    );
    assert_eq!(m(&meta, "size"), "0");
    assert_eq!(m(&meta, "type"), "7");
    assert_eq!(m(&meta, "period"), "30");
    assert_eq!(m(&meta, "refer_data_id"), "12");
    assert_eq!(m(&meta, "status"), "none");
    assert_eq!(m(&meta, "referred_count"), "0");
    assert_eq!(
        m(&meta, "meta_binary"),
        "aGVsbG8=",
        "padded URL-safe Base64 on output"
    );
    assert!(
        meta.body.contains(
            "<tags length=\"2\">\n          <tag>dGFnMQ==</tag>\n          <tag>dGFnMg==</tag>"
        ),
        "tags sorted: {}",
        meta.body
    );
    assert!(meta.body.contains("<flag>not_use_storageserver</flag>"));
    assert_eq!(
        m(&meta, "access_permission/type"),
        "private",
        "default access"
    );
    assert_eq!(
        m(&meta, "update_permission/type"),
        "private",
        "default update"
    );
    let created = unix(&m(&meta, "created_time"));
    assert_eq!(unix(&m(&meta, "updated_time")), created);
    assert_eq!(unix(&m(&meta, "referred_time")), created);
    assert_eq!(unix(&m(&meta, "expire_time")), created + 30 * DAY);
}

#[backends]
fn data_ids_start_at_one_million_and_increase() {
    let app = spawn_app();
    let a = app.create(&app.title, "");
    let b = app.create(&app.title, "");
    assert_eq!(a, 1_000_000);
    assert_eq!(b, a + 1);
}

#[backends]
fn the_default_period_is_ninety_days() {
    let app = spawn_app();
    let id = app.create(&app.title, "");
    let meta = app.meta(id);
    assert_eq!(m(&meta, "period"), "90");
    assert_eq!(
        unix(&m(&meta, "expire_time")),
        unix(&m(&meta, "created_time")) + 90 * DAY
    );
}

#[backends]
fn owners_follow_the_caller() {
    let app = spawn_app();
    let by_title = app.create(&app.title, "<owner_id>555</owner_id>");
    assert_eq!(m(&app.meta(by_title), "owner_id"), "555");
    let p = app.principal(100);
    let own = app.create(&p, "");
    assert_eq!(m(&app.meta(own), "owner_id"), "100");
    let same = app.create(&p, "<owner_id>100</owner_id>");
    assert_eq!(m(&app.meta(same), "owner_id"), "100");

    let next = app.next_id();
    app.prepare(&p, "<owner_id>101</owner_id>")
        .assert_error(403, "DataStore::PermissionDenied");
    assert_eq!(app.next_id(), next + 1, "nothing was created");
}

#[backends]
fn need_review_creates_a_pending_object() {
    let app = spawn_app();
    let id = app.create(
        &app.title,
        "<flags><flag>not_use_storageserver</flag><flag>need_review</flag></flags>",
    );
    assert_eq!(m(&app.meta(id), "status"), "pending");
}

#[backends]
fn rating_init_params_initialise_slots() {
    let app = spawn_app();
    let id = app.create(
        &app.title,
        "<rating_init_params><param><slot>3</slot><initial_value>50</initial_value>\
         <flags><flag>modifiable</flag></flags><range_min>0</range_min><range_max>100</range_max>\
         <lock><type>interval</type><period_duration>60</period_duration></lock></param>\
         <param><slot>0</slot></param></rating_init_params>",
    );
    let meta = app.meta(id);
    assert!(
        meta.body.contains(
            "<ratings length=\"2\">\n          <rating>\n            <slot>0</slot>\n            \
             <count>0</count>\n            <total_value>0</total_value>\n            \
             <initial_value>0</initial_value>\n          </rating>\n          <rating>\n            \
             <slot>3</slot>\n            <count>0</count>\n            <total_value>50</total_value>\n            \
             <initial_value>50</initial_value>"
        ),
        "{}",
        meta.body
    );
}

#[backends]
fn a_persisted_object_never_expires_and_replaces_the_slot_holder() {
    let app = spawn_app();
    let p = app.principal(100);
    let first = app.create(
        &p,
        "<persistence_init_param><slot>0</slot></persistence_init_param>",
    );
    assert_eq!(m(&app.meta(first), "expire_time"), "9999-12-31T00:00:00Z");

    // delete_last_object defaults to 1: the previous holder is deleted.
    let second = app.create(
        &p,
        "<persistence_init_param><slot>0</slot></persistence_init_param>",
    );
    assert_eq!(m(&app.meta(second), "expire_time"), "9999-12-31T00:00:00Z");
    app.get(&format!("{V2}/metainfo/{first}"), &app.title)
        .assert_error(404, "DataStore::NotFound");

    // delete_last_object=0: the previous holder stays and expires again from now.
    let third = app.create(
        &p,
        "<period>5</period><persistence_init_param><slot>0</slot>\
         <delete_last_object>0</delete_last_object></persistence_init_param>",
    );
    let released = app.meta(second);
    let expire = unix(&m(&released, "expire_time"));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now + 90 * DAY - 5..=now + 90 * DAY + 5).contains(&expire),
        "expires period (90) days from now: {expire} vs {now}"
    );
    assert_eq!(m(&app.meta(third), "expire_time"), "9999-12-31T00:00:00Z");
}

#[backends]
fn bad_prepares_are_refused_and_create_nothing() {
    let app = spawn_app();
    let tags17: String = (0..17)
        .map(|i| format!("<tag>{}</tag>", b64(&format!("t{i}"))))
        .collect();
    let recipients101: String = (1..=101)
        .map(|i| format!("<recipient_id>{i}</recipient_id>"))
        .collect();
    let meta1025 = b64(&"x".repeat(1025));
    let invalid = "DataStore::InvalidArgument";
    let core = "Core::InvalidArgument";
    let cases: Vec<(String, u16, &str)> = vec![
        ("<prepare/>".into(), 400, invalid),
        ("<prepare><size>abc</size></prepare>".into(), 400, core),
        ("<prepare><size>-1</size></prepare>".into(), 400, invalid),
        ("<prepare><size>0</size></prepare>".into(), 400, invalid),
        ("<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags></prepare>".into(), 400, invalid),
        ("<prepare><size>5</size><flags><flag>not_use_storageserver</flag></flags><meta_binary>AA</meta_binary></prepare>".into(), 400, invalid),
        ("<prepare><size>10485761</size></prepare>".into(), 400, invalid),
        (ok_with("<type>65535</type>"), 400, invalid),
        (ok_with("<period>0</period>"), 400, invalid),
        (ok_with("<period>366</period>"), 400, invalid),
        (ok_with(&format!("<tags>{tags17}</tags>")), 400, invalid),
        (ok_with(&format!("<tags><tag>{}</tag></tags>", b64(&"y".repeat(25)))), 400, invalid),
        (ok_with("<tags><tag>YQ==</tag><tag>YQ</tag></tags>"), 400, invalid),
        (ok_with("<tags><tag>+/+/</tag></tags>"), 400, invalid),
        (ok_with("<tags><tag>%%%</tag></tags>"), 400, invalid),
        ("<prepare><size>0</size><flags><flag>not_use_storageserver</flag><flag>bogus</flag></flags><meta_binary>AA</meta_binary></prepare>".into(), 400, invalid),
        (ok_with("<period>5</period><period>6</period>"), 400, invalid),
        (ok_with("<access_permission><type>everyone</type></access_permission>"), 400, invalid),
        (ok_with(&format!("<access_permission><type>specified</type><recipient_ids>{recipients101}</recipient_ids></access_permission>")), 400, invalid),
        (ok_with("<rating_init_params><param><slot>16</slot></param></rating_init_params>"), 400, invalid),
        (ok_with("<rating_init_params><param><slot>1</slot></param><param><slot>1</slot></param></rating_init_params>"), 400, invalid),
        (ok_with("<rating_init_params><param><slot>1</slot><lock><type>period</type><period_duration>9</period_duration></lock></param></rating_init_params>"), 400, invalid),
        (ok_with("<rating_init_params><param><slot>1</slot><lock><type>forever</type></lock></param></rating_init_params>"), 400, invalid),
        (ok_with("<persistence_init_param><slot>16</slot></persistence_init_param>"), 400, invalid),
        (ok_with("<owner_id>0</owner_id>"), 400, invalid),
        ("<prepare><size>0</size>".into(), 400, core),
        ("<change><size>0</size></change>".into(), 400, core),
        ("".into(), 400, core),
    ];
    let next = app.next_id();
    for (body, status, code) in &cases {
        let resp = app.post(&format!("{V2}/data/prepare"), &app.title, body);
        assert_eq!(resp.status, *status, "{body}: {}", resp.body);
        assert_eq!(resp.error_code(), *code, "{body}: {}", resp.body);
    }
    // meta_binary over 1024 bytes, with the flags a meta-only prepare needs
    let resp = app.post(
        &format!("{V2}/data/prepare"),
        &app.title,
        &format!("<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags><meta_binary>{meta1025}</meta_binary></prepare>"),
    );
    resp.assert_error(400, invalid);
    assert_eq!(
        app.next_id(),
        next + 1,
        "no failed prepare created an object"
    );
}

fn ok_with(extra: &str) -> String {
    format!(
        "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>\
         <meta_binary>AA</meta_binary>{extra}</prepare>"
    )
}

fn b64(s: &str) -> String {
    nexds::xml::b64_encode(s.as_bytes())
}

#[backends]
fn a_name_given_at_prepare_is_kept_for_uploads_too() {
    let app = spawn_app();
    let form = app.prepare_upload(&app.title, 3, "<name>replay</name>");
    assert_eq!(form.post(b"abc").status, 204);
    assert_eq!(app.complete(&app.title, form.data_id).status, 200);
    assert_eq!(m(&app.meta(form.data_id), "name"), "replay");
    let found = app.get(&format!("{V2}/metainfo/search?name=replay"), &app.title);
    assert_eq!(m(&found, "data_id"), form.data_id.to_string());
}
