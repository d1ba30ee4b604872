//! Search (spec 12.3.2.4): filters, sorting, paging, visibility and errors.

use crate::helpers::{Resp, TestApp, V2, listed_ids, m, spawn_app};
use nexds_test_macros::backends;

fn search(app: &TestApp, token: &str, query: &str) -> Resp {
    app.get(&format!("{V2}/metainfo/search?{query}"), token)
}

/// The data_ids of a successful search, in order.
#[track_caller]
fn found(app: &TestApp, token: &str, query: &str) -> Vec<u64> {
    let resp = search(app, token, query);
    resp.assert_ok();
    listed_ids(&resp, "metainfos", "metainfo")
}

/// An attribute of the `<metainfos>` element.
#[track_caller]
fn attr(resp: &Resp, name: &str) -> String {
    let start = resp
        .body
        .find("<metainfos ")
        .expect("a <metainfos> element");
    let tag = &resp.body[start..start + resp.body[start..].find('>').expect("tag end")];
    let key = format!(" {name}=\"");
    let from = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    tag[from..from + tag[from..].find('"').expect("quote")].to_owned()
}

/// A public object of the title token with extra prepare elements.
fn public(app: &TestApp, extra: &str) -> u64 {
    app.create(
        &app.title,
        &format!("<access_permission><type>public</type></access_permission>{extra}"),
    )
}

/// Moves an object in time, as if it had been made earlier (the API cannot).
fn set_times(app: &TestApp, id: u64, created: i64, updated: i64, expire: i64) {
    app.sql(&format!(
        "UPDATE objects SET created_time = {created}, updated_time = {updated},
             expire_time = {expire} WHERE data_id = {id}"
    ));
}

fn far_future() -> i64 {
    crate::helpers::unix("2100-01-01T00:00:00Z")
}

#[backends]
fn a_type_search_finds_exactly_the_objects_of_that_type() {
    let app = spawn_app();
    let a = public(&app, "<type>100</type>");
    public(&app, "<type>200</type>");
    let b = public(&app, "<type>100</type>");
    let resp = search(&app, &app.title, "type=100");
    resp.assert_ok();
    assert_eq!(listed_ids(&resp, "metainfos", "metainfo"), vec![a, b]);
    assert_eq!(
        (
            attr(&resp, "length"),
            attr(&resp, "offset"),
            attr(&resp, "total"),
            attr(&resp, "total_type")
        ),
        ("2".into(), "0".into(), "2".into(), "exact".into())
    );
    assert_eq!(resp.text("datastore/metainfos/metainfo/type"), "100");
}

#[backends]
fn no_match_is_an_empty_list_not_an_error() {
    let app = spawn_app();
    public(&app, "<type>1</type>");
    let resp = search(&app, &app.title, "type=2");
    resp.assert_ok();
    assert!(
        resp.body
            .contains("<metainfos length=\"0\" offset=\"0\" total=\"0\" total_type=\"exact\"/>"),
        "{}",
        resp.body
    );
}

#[backends]
fn without_parameters_the_first_twenty_come_by_data_id() {
    let app = spawn_app();
    let ids: Vec<u64> = (0..22).map(|_| public(&app, "")).collect();
    let resp = search(&app, &app.title, "");
    assert_eq!(listed_ids(&resp, "metainfos", "metainfo"), ids[..20]);
    assert_eq!(attr(&resp, "total"), "22");
}

#[backends]
fn owner_ids_keep_those_owners_or_with_exclude_specified_ids_drop_them() {
    let app = spawn_app();
    let of = |owner: u32| public(&app, &format!("<owner_id>{owner}</owner_id>"));
    let (a, b, c, d) = (of(7), of(8), of(9), of(7));
    assert_eq!(found(&app, &app.title, "owner_ids=7"), vec![a, d]);
    assert_eq!(
        found(&app, &app.title, "owner_ids=9,7&owner_type=anybody"),
        vec![a, c, d]
    );
    assert_eq!(
        found(
            &app,
            &app.title,
            "owner_ids=7,9&owner_type=exclude_specified_ids"
        ),
        vec![b]
    );
    // Without owner_ids, both owner types mean everyone.
    assert_eq!(
        found(&app, &app.title, "owner_type=exclude_specified_ids"),
        vec![a, b, c, d]
    );
}

#[backends]
fn name_is_an_exact_url_encoded_match() {
    let app = spawn_app();
    let id = public(&app, "");
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><name>new name &amp; more</name></change>",
    )
    .assert_ok();
    public(&app, "");
    assert_eq!(
        found(&app, &app.title, "name=new%20name%20%26%20more"),
        vec![id]
    );
    assert_eq!(found(&app, &app.title, "name=new+name+%26+more"), vec![id]);
    assert!(found(&app, &app.title, "name=new").is_empty());
    assert!(found(&app, &app.title, "name=NEW%20NAME%20%26%20MORE").is_empty());
}

#[backends]
fn every_tag_asked_for_must_be_on_the_object() {
    let app = spawn_app();
    // dGFnMQ== is "tag1", dGFnMg== is "tag2", dGFnMw== is "tag3".
    let both = public(&app, "<tags><tag>dGFnMQ==</tag><tag>dGFnMg==</tag></tags>");
    let one = public(&app, "<tags><tag>dGFnMQ==</tag></tags>");
    public(&app, "<tags><tag>dGFnMw==</tag></tags>");
    assert_eq!(found(&app, &app.title, "tags=dGFnMQ=="), vec![both, one]);
    // Padding is optional, order and spaces do not matter.
    assert_eq!(found(&app, &app.title, "tags=dGFnMg,%20dGFnMQ"), vec![both]);
    assert!(found(&app, &app.title, "tags=dGFnMQ,dGFnMw").is_empty());
    assert_eq!(
        found(&app, &app.title, "tags=dGFnMQ&type=0"),
        vec![both, one]
    );
}

#[backends]
fn time_ranges_take_unix_seconds_and_include_their_ends() {
    let app = spawn_app();
    let (a, b, c) = (public(&app, ""), public(&app, ""), public(&app, ""));
    set_times(&app, a, 1000, 5000, far_future());
    set_times(&app, b, 2000, 4000, far_future());
    set_times(&app, c, 3000, 3000, far_future());
    assert_eq!(m(&app.meta(a), "created_time"), "1970-01-01T00:16:40Z");
    assert_eq!(found(&app, &app.title, "created_after=2000"), vec![b, c]);
    assert_eq!(found(&app, &app.title, "created_before=2000"), vec![a, b]);
    assert!(found(&app, &app.title, "created_after=2001&created_before=2999").is_empty());
    assert_eq!(
        found(&app, &app.title, "updated_after=4000&updated_before=4000"),
        vec![b]
    );
    assert_eq!(
        found(&app, &app.title, "updated_before=4500&created_after=2500"),
        vec![c]
    );
}

#[backends]
fn every_sort_goes_both_ways_and_ties_fall_back_to_data_id_in_the_same_direction() {
    let app = spawn_app();
    let make = |name: &str, owner: u32, kind: u32| {
        let id = public(
            &app,
            &format!("<owner_id>{owner}</owner_id><type>{kind}</type>"),
        );
        app.put(
            &format!("{V2}/metainfo/{id}"),
            &app.title,
            &format!("<change><name>{name}</name></change>"),
        )
        .assert_ok();
        id
    };
    let a = make("b", 9, 1);
    let b = make("a", 8, 2);
    let c = make("b", 8, 1);
    let d = make("a", 9, 2);
    set_times(&app, a, 100, 400, far_future());
    set_times(&app, b, 200, 300, far_future());
    set_times(&app, c, 100, 300, far_future());
    set_times(&app, d, 200, 400, far_future());
    let cases = [
        ("data_id", vec![a, b, c, d]),
        ("-data_id", vec![d, c, b, a]),
        ("name", vec![b, d, a, c]),
        ("-name", vec![c, a, d, b]),
        ("owner_id", vec![b, c, a, d]),
        ("-owner_id", vec![d, a, c, b]),
        ("type", vec![a, c, b, d]),
        ("-type", vec![d, b, c, a]),
        ("created_time", vec![a, c, b, d]),
        ("-created_time", vec![d, b, c, a]),
        ("updated_time", vec![b, c, a, d]),
        ("-updated_time", vec![d, a, c, b]),
        // Every size is 0 until uploads exist: data_id decides alone.
        ("size", vec![a, b, c, d]),
        ("-size", vec![d, c, b, a]),
    ];
    for (sort, want) in cases {
        assert_eq!(
            found(&app, &app.title, &format!("sort={sort}")),
            want,
            "sort={sort}"
        );
    }
}

#[backends]
fn pages_put_together_are_the_whole_sorted_list_without_repeats() {
    let app = spawn_app();
    let mut ids = Vec::new();
    for i in 0..25u32 {
        let id = public(&app, &format!("<owner_id>{}</owner_id>", 100 + i % 4));
        ids.push(id);
    }
    let whole = found(&app, &app.title, "sort=-owner_id&limit=10000");
    assert_eq!(whole.len(), 25);
    let mut pages = Vec::new();
    for offset in (0..28).step_by(7) {
        let resp = search(
            &app,
            &app.title,
            &format!("sort=-owner_id&limit=7&offset={offset}"),
        );
        resp.assert_ok();
        assert_eq!(attr(&resp, "offset"), offset.to_string());
        assert_eq!(attr(&resp, "total"), "25");
        pages.extend(listed_ids(&resp, "metainfos", "metainfo"));
    }
    assert_eq!(pages, whole);
    // Past the end: nothing, but the total is still told.
    let resp = search(&app, &app.title, "sort=-owner_id&offset=25");
    assert_eq!(
        (
            attr(&resp, "length"),
            attr(&resp, "offset"),
            attr(&resp, "total")
        ),
        ("0".into(), "25".into(), "25".into())
    );
}

#[backends]
fn offset_any_returns_a_window_of_the_matches_and_says_where() {
    let app = spawn_app();
    for _ in 0..30 {
        public(&app, "<type>5</type>");
    }
    public(&app, "<type>6</type>");
    let whole = found(&app, &app.title, "type=5&sort=-data_id&limit=100");
    let mut offsets = std::collections::HashSet::new();
    for _ in 0..20 {
        let resp = search(&app, &app.title, "type=5&sort=-data_id&offset=any&limit=4");
        resp.assert_ok();
        let offset: usize = attr(&resp, "offset").parse().unwrap();
        assert!(offset <= 26, "offset {offset}");
        assert_eq!(attr(&resp, "total"), "30");
        assert_eq!(
            listed_ids(&resp, "metainfos", "metainfo"),
            whole[offset..offset + 4]
        );
        offsets.insert(offset);
    }
    assert!(offsets.len() > 1, "the window never moved: {offsets:?}");
    let resp = search(&app, &app.title, "type=5&offset=any");
    assert_eq!(attr(&resp, "length"), "20");
    assert_eq!(
        found(&app, &app.title, "type=5&offset=any&limit=20").len(),
        20
    );
    search(&app, &app.title, "type=5&offset=any&limit=21")
        .assert_error(400, "DataStore::InvalidArgument");
    // Fewer matches than a page: all of them, from 0.
    let resp = search(&app, &app.title, "type=6&offset=any");
    assert_eq!(
        (attr(&resp, "offset"), attr(&resp, "length")),
        ("0".into(), "1".into())
    );
}

#[backends]
fn the_limit_is_one_to_ten_thousand() {
    let app = spawn_app();
    let ids: Vec<u64> = (0..3).map(|_| public(&app, "")).collect();
    assert_eq!(found(&app, &app.title, "limit=1"), ids[..1]);
    assert_eq!(found(&app, &app.title, "limit=10000"), ids);
    for bad in [
        "limit=0",
        "limit=10001",
        "limit=-1",
        "limit=99999999999999999999",
    ] {
        search(&app, &app.title, bad).assert_error(400, "DataStore::InvalidArgument");
    }
    search(&app, &app.title, "limit=ten").assert_error(400, "Core::InvalidArgument");
}

#[backends]
fn principals_see_and_count_only_what_they_may_read() {
    let app = spawn_app();
    let me = app.principal(100);
    let other = app.principal(101);
    let kind = |token: &str, access: &str| {
        app.create(
            token,
            &format!(
                "<type>3</type><access_permission><type>{access}</type><recipient_ids>\
                 <recipient_id>100</recipient_id></recipient_ids></access_permission>"
            ),
        )
    };
    let mine = kind(&me, "private");
    let public = kind(&other, "public");
    let specified = kind(&other, "specified");
    kind(&other, "private");
    kind(&other, "friend");
    kind(&other, "specified_friend");
    let not_me = app.create(
        &other,
        "<type>3</type><access_permission><type>specified</type><recipient_ids>\
         <recipient_id>102</recipient_id></recipient_ids></access_permission>",
    );
    // Update permission alone gives no right to read.
    app.create(
        &other,
        "<type>3</type><update_permission><type>public</type></update_permission>",
    );
    let resp = search(&app, &me, "type=3");
    assert_eq!(
        listed_ids(&resp, "metainfos", "metainfo"),
        vec![mine, public, specified]
    );
    assert_eq!(attr(&resp, "total"), "3");
    // Each of those is readable one by one too, and the rest are not.
    for id in [mine, public, specified] {
        app.get(&format!("{V2}/metainfo/{id}"), &me).assert_ok();
    }
    app.get(&format!("{V2}/metainfo/{not_me}"), &me)
        .assert_error(404, "DataStore::NotFound");
    let resp = search(&app, &me, "type=3&limit=1&offset=1");
    assert_eq!(listed_ids(&resp, "metainfos", "metainfo"), vec![public]);
    assert_eq!(attr(&resp, "total"), "3");
    // The title token sees all eight.
    assert_eq!(attr(&search(&app, &app.title, "type=3"), "total"), "8");
}

#[backends]
fn another_namespace_is_invisible() {
    let app = spawn_app();
    let other = app.token("other", None);
    let mine = public(&app, "<type>1</type>");
    let theirs = app.create(
        &other,
        "<type>1</type><access_permission><type>public</type></access_permission>",
    );
    assert_eq!(found(&app, &app.title, "type=1"), vec![mine]);
    assert_eq!(found(&app, &other, "type=1"), vec![theirs]);
    let stranger = app.token("other", Some(100));
    assert_eq!(found(&app, &stranger, ""), vec![theirs]);
}

#[backends]
fn expired_deleted_pending_and_rejected_objects_are_left_out() {
    let app = spawn_app();
    let owner = app.principal(100);
    let live = public(&app, "");
    let expired = public(&app, "");
    set_times(
        &app,
        expired,
        1000,
        1000,
        crate::helpers::unix("2020-01-01T00:00:00Z"),
    );
    let deleted = public(&app, "");
    app.delete(&format!("{V2}/data/{deleted}"), &app.title)
        .assert_ok();
    let pending = app.create(
        &owner,
        "<flags><flag>not_use_storageserver</flag><flag>need_review</flag></flags>\
         <access_permission><type>public</type></access_permission>",
    );
    let rejected = public(&app, "");
    app.put(
        &format!("{V2}/metainfo/{rejected}"),
        &app.title,
        "<change><status>rejected</status></change>",
    )
    .assert_ok();
    assert_eq!(found(&app, &app.title, ""), vec![live]);
    assert_eq!(attr(&search(&app, &app.title, ""), "total"), "1");
    // Not even the owner finds its pending object by searching.
    assert_eq!(found(&app, &owner, ""), vec![live]);
    // A title token asks for the other statuses.
    assert_eq!(found(&app, &app.title, "status=pending"), vec![pending]);
    assert_eq!(found(&app, &app.title, "status=rejected"), vec![rejected]);
    assert_eq!(found(&app, &app.title, "status=none"), vec![live]);
}

#[backends]
fn a_principal_may_not_choose_a_status() {
    let app = spawn_app();
    let principal = app.principal(100);
    for query in ["status=none", "status=pending", "status=rejected"] {
        search(&app, &principal, query).assert_error(403, "DataStore::PermissionDenied");
    }
    search(&app, &app.title, "status=hidden").assert_error(400, "DataStore::InvalidArgument");
}

#[backends]
fn response_options_add_their_parts_and_url_adds_nothing_without_a_file() {
    let app = spawn_app();
    public(
        &app,
        "<tags><tag>dGFn</tag></tags><rating_init_params><param><slot>0</slot></param>\
         </rating_init_params>",
    );
    let resp = search(&app, &app.title, "");
    for absent in ["<tags", "<meta_binary", "<ratings", "<url"] {
        assert!(!resp.body.contains(absent), "{absent} in {}", resp.body);
    }
    let resp = search(&app, &app.title, "response=meta_binary,tags,ratings,url");
    resp.assert_ok();
    assert_eq!(m(&resp, "meta_binary"), "bWV0YQ==");
    assert_eq!(m(&resp, "tags/tag"), "dGFn");
    assert_eq!(m(&resp, "ratings/rating/slot"), "0");
    assert!(!resp.body.contains("<url"), "{}", resp.body);
    search(&app, &app.title, "response=urls").assert_error(400, "DataStore::InvalidArgument");
}

#[backends]
fn unknown_parameters_are_ignored() {
    let app = spawn_app();
    let id = public(&app, "<type>4</type>");
    assert_eq!(
        found(&app, &app.title, "type=4&colour=blue&search_target=9"),
        vec![id]
    );
}

#[backends]
fn searching_does_not_count_as_a_reference() {
    let app = spawn_app();
    let id = public(&app, "");
    let before = app.meta(id);
    assert_eq!(found(&app, &app.title, ""), vec![id]);
    let after = app.meta(id);
    assert_eq!(m(&after, "referred_count"), "0");
    assert_eq!(m(&after, "referred_time"), m(&before, "referred_time"));
}

#[backends]
fn every_bad_value_gets_its_error() {
    let app = spawn_app();
    let cases = [
        ("type=abc", 400, "Core::InvalidArgument"),
        ("type=65535", 400, "DataStore::InvalidArgument"),
        ("type=-1", 400, "DataStore::InvalidArgument"),
        ("owner_ids=7,x", 400, "Core::InvalidArgument"),
        ("owner_ids=0", 400, "DataStore::InvalidArgument"),
        ("owner_ids=4294967296", 400, "DataStore::InvalidArgument"),
        (
            "owner_ids=7&owner_type=friend",
            400,
            "DataStore::InvalidArgument",
        ),
        ("tags=%2B%2F8%3D", 400, "DataStore::InvalidArgument"),
        ("tags=a", 400, "DataStore::InvalidArgument"),
        ("tags=dGFn,dGFn", 400, "DataStore::InvalidArgument"),
        (
            "name=nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
            400,
            "DataStore::InvalidArgument",
        ),
        ("created_after=yesterday", 400, "Core::InvalidArgument"),
        ("created_before=-5", 400, "DataStore::InvalidArgument"),
        ("updated_after=1.5", 400, "Core::InvalidArgument"),
        (
            "updated_before=9223372036854775808",
            400,
            "DataStore::InvalidArgument",
        ),
        ("sort=popularity", 400, "DataStore::InvalidArgument"),
        ("sort=--name", 400, "DataStore::InvalidArgument"),
        ("offset=first", 400, "Core::InvalidArgument"),
        ("offset=-1", 400, "DataStore::InvalidArgument"),
        ("offset=any&limit=21", 400, "DataStore::InvalidArgument"),
        ("limit=10001", 400, "DataStore::InvalidArgument"),
        ("response=everything", 400, "DataStore::InvalidArgument"),
        ("type=%ZZ", 400, "Core::InvalidArgument"),
    ];
    for (query, status, code) in cases {
        let resp = search(&app, &app.title, query);
        assert_eq!(
            (resp.status, resp.error_code()),
            (status, code.to_owned()),
            "{query}: {}",
            resp.body
        );
    }
    app.call("GET", &format!("{V2}/metainfo/search"), None, None)
        .assert_error(401, "Core::AccessDenied");
    for method in ["POST", "PUT", "DELETE"] {
        app.call(
            method,
            &format!("{V2}/metainfo/search"),
            Some(&app.title),
            Some(""),
        )
        .assert_error(405, "Core::InvalidArgument");
    }
}

#[backends]
fn response_url_gives_download_urls_to_objects_with_files_without_counting_a_reference() {
    let app = crate::helpers::spawn_app();
    let with_file = app.upload(&app.title, b"file bytes", "<type>77</type>");
    let meta_only = app.create(&app.title, "<type>77</type>");
    let resp = app.get(
        "/nex/datastore/v2/metainfo/search?type=77&response=url",
        &app.title,
    );
    resp.assert_ok();
    let doc = resp.doc();
    let list = doc.child("datastore").unwrap().child("metainfos").unwrap();
    let url_of = |id: u64| {
        list.children("metainfo")
            .find(|m| m.child("data_id").unwrap().text() == id.to_string())
            .and_then(|m| m.child("url"))
            .map(|u| u.text().to_owned())
    };
    let url = url_of(with_file).expect("a url for the object with a file");
    assert_eq!(url_of(meta_only), None);
    assert_eq!(crate::helpers::download(&url, &[]).bytes, b"file bytes");
    assert_eq!(
        crate::helpers::m(&app.meta(with_file), "referred_count"),
        "0"
    );
}
