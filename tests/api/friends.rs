//! Friend lists (DESIGN §14) and the friend and specified_friend permissions
//! they open (DESIGN §3) wherever reading or updating is checked.

use crate::helpers::{Resp, TestApp, V2, listed_ids, spawn_app};
use nexds_test_macros::backends;

const OWNER: u32 = 100;
/// In the owner's list and a recipient.
const FRIEND: u32 = 7;
/// A recipient, not in the owner's list.
const RECIPIENT: u32 = 8;
/// In the owner's list, not a recipient.
const FRIEND_ONLY: u32 = 9;
const TYPES: [&str; 5] = [
    "public",
    "friend",
    "specified",
    "private",
    "specified_friend",
];

fn put_friends(app: &TestApp, token: &str, owner: u32, ids: &[u32]) -> Resp {
    let items: String = ids
        .iter()
        .map(|id| format!("<principal_id>{id}</principal_id>"))
        .collect();
    app.put(
        &format!("{V2}/principals/{owner}/friends"),
        token,
        &format!("<friends>{items}</friends>"),
    )
}

#[track_caller]
fn set_friends(app: &TestApp, owner: u32, ids: &[u32]) {
    put_friends(app, &app.title, owner, ids).assert_ok();
}

/// The principal ids of a `<friends>` answer.
fn listed_friends(resp: &Resp) -> Vec<u32> {
    resp.assert_ok();
    let doc = resp.doc();
    let list = doc
        .child("datastore")
        .and_then(|d| d.child("friends"))
        .expect("<friends>");
    list.children("principal_id")
        .map(|e| e.text().parse().expect("number"))
        .collect()
}

/// The `length` attribute of the `<friends>` element.
fn length(resp: &Resp) -> String {
    let start = resp
        .body
        .find("<friends length=\"")
        .expect("<friends length>")
        + 17;
    resp.body[start..start + resp.body[start..].find('"').expect("quote")].to_owned()
}

fn permission(element: &str, kind: &str) -> String {
    format!(
        "<{element}><type>{kind}</type><recipient_ids><recipient_id>{FRIEND}</recipient_id>\
         <recipient_id>{RECIPIENT}</recipient_id></recipient_ids></{element}>"
    )
}

/// A meta-only object of OWNER with one rating slot and the given permissions.
fn object(app: &TestApp, access: &str, update: &str) -> u64 {
    let owner = app.principal(OWNER);
    app.create(
        &owner,
        &format!(
            "{}{}<rating_init_params><param><slot>0</slot></param></rating_init_params>",
            permission("access_permission", access),
            permission("update_permission", update)
        ),
    )
}

/// Whether the reading endpoints let `token` read `id`: metainfo, the batch form,
/// urlinfo (a meta-only object is InvalidArgument once readable) and rating all
/// agree, or the test fails.
#[track_caller]
fn reads(app: &TestApp, token: &str, id: u64) -> bool {
    let single = app.get(&format!("{V2}/metainfo/{id}"), token);
    let readable = match single.status {
        200 => true,
        404 => {
            single.assert_error(404, "DataStore::NotFound");
            false
        }
        _ => panic!("metainfo of {id}: {}", single.body),
    };
    let batch = app.get(&format!("{V2}/metainfo?data_ids={id}"), token);
    assert_eq!(
        listed_ids(&batch, "metainfos", "metainfo") == vec![id],
        readable
    );
    let url = app.get(&format!("{V2}/urlinfo/{id}"), token);
    if readable {
        url.assert_error(400, "DataStore::InvalidArgument");
    } else {
        url.assert_error(404, "DataStore::NotFound");
    }
    let rate = app.put(
        &format!("{V2}/metainfo/{id}/ratings/0"),
        token,
        "<rate><rating_value>1</rating_value></rate>",
    );
    if readable {
        rate.assert_ok();
    } else {
        rate.assert_error(404, "DataStore::NotFound");
    }
    readable
}

/// Whether `token` may update `id` (an object everybody reads): change and
/// rating reset agree; a refusal is PermissionDenied.
#[track_caller]
fn updates(app: &TestApp, token: &str, id: u64) -> bool {
    let change = app.put(
        &format!("{V2}/metainfo/{id}"),
        token,
        "<change><name>changed</name></change>",
    );
    let reset = app.delete(&format!("{V2}/metainfo/{id}/ratings"), token);
    match change.status {
        200 => {
            reset.assert_ok();
            true
        }
        _ => {
            change.assert_error(403, "DataStore::PermissionDenied");
            reset.assert_error(403, "DataStore::PermissionDenied");
            false
        }
    }
}

/// Who passes each permission type: the friend, the recipient who is no friend,
/// the friend who is no recipient, the owner, the title.
fn expected(kind: &str) -> [bool; 5] {
    match kind {
        "public" => [true, true, true, true, true],
        "friend" => [true, false, true, true, true],
        "specified" => [true, true, false, true, true],
        "private" => [false, false, false, true, true],
        "specified_friend" => [true, false, false, true, true],
        other => panic!("{other}"),
    }
}

fn callers(app: &TestApp) -> [String; 5] {
    [
        app.principal(FRIEND),
        app.principal(RECIPIENT),
        app.principal(FRIEND_ONLY),
        app.principal(OWNER),
        app.title.clone(),
    ]
}

#[backends]
fn each_access_permission_type_admits_exactly_its_readers() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[FRIEND, FRIEND_ONLY]);
    let callers = callers(&app);
    for kind in TYPES {
        let id = object(&app, kind, "private");
        let got = callers.clone().map(|token| reads(&app, &token, id));
        assert_eq!(got, expected(kind), "access {kind}");
    }
}

#[backends]
fn each_update_permission_type_admits_exactly_its_writers() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[FRIEND, FRIEND_ONLY]);
    let callers = callers(&app);
    for kind in TYPES {
        let id = object(&app, "public", kind);
        let got = callers.clone().map(|token| updates(&app, &token, id));
        assert_eq!(got, expected(kind), "update {kind}");
    }
}

#[backends]
fn friends_of_the_owner_may_delete_with_a_friend_update_permission() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[FRIEND]);
    let a = object(&app, "friend", "friend");
    let b = object(&app, "friend", "specified_friend");
    let stranger = app.principal(RECIPIENT);
    let friend = app.principal(FRIEND);
    app.delete(&format!("{V2}/data/{a}"), &stranger)
        .assert_error(404, "DataStore::NotFound");
    app.post(
        &format!("{V2}/data/delete"),
        &friend,
        &format!("<delete><param><data_id>{a}</data_id></param><param><data_id>{b}</data_id></param></delete>"),
    )
    .assert_ok();
    for id in [a, b] {
        app.get(&format!("{V2}/metainfo/{id}"), &app.title)
            .assert_error(404, "DataStore::NotFound");
    }
}

#[backends]
fn lists_are_directed_and_kept_per_namespace() {
    let app = spawn_app();
    // The owner is in 7's list, which does not make 7 the owner's friend.
    set_friends(&app, FRIEND, &[OWNER]);
    let id = object(&app, "friend", "private");
    assert!(!reads(&app, &app.principal(FRIEND), id));

    // The same principal IDs in another namespace are other accounts.
    let other_title = app.token("other", None);
    set_friends(&app, OWNER, &[FRIEND]);
    let path = format!("{V2}/principals/{OWNER}/friends");
    assert!(listed_friends(&app.get(&path, &other_title)).is_empty());
    put_friends(&app, &other_title, OWNER, &[RECIPIENT]).assert_ok();
    assert!(reads(&app, &app.principal(FRIEND), id));
    assert!(!reads(&app, &app.principal(RECIPIENT), id));
}

#[backends]
fn a_removed_friend_loses_access_at_the_next_request() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[FRIEND, FRIEND_ONLY]);
    let read = object(&app, "friend", "private");
    let write = object(&app, "public", "friend");
    let friend = app.principal(FRIEND);
    let search = format!("{V2}/metainfo/search?owner_ids={OWNER}");
    assert!(reads(&app, &friend, read));
    assert!(updates(&app, &friend, write));
    assert_eq!(
        listed_ids(&app.get(&search, &friend), "metainfos", "metainfo"),
        vec![read, write]
    );

    set_friends(&app, OWNER, &[FRIEND_ONLY]);
    assert!(!reads(&app, &friend, read));
    assert!(!updates(&app, &friend, write));
    assert_eq!(
        listed_ids(&app.get(&search, &friend), "metainfos", "metainfo"),
        vec![write]
    );
    // The one still listed keeps its access; an empty list removes everyone.
    assert!(reads(&app, &app.principal(FRIEND_ONLY), read));
    app.put(
        &format!("{V2}/principals/{OWNER}/friends"),
        &app.title,
        "<friends/>",
    )
    .assert_ok();
    assert!(!reads(&app, &app.principal(FRIEND_ONLY), read));
}

#[backends]
fn search_totals_count_exactly_the_friend_visible_objects() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[FRIEND, FRIEND_ONLY]);
    let friend_objects: Vec<u64> = (0..3).map(|_| object(&app, "friend", "private")).collect();
    let both = object(&app, "specified_friend", "private");
    object(&app, "private", "private");
    let total = |principal: u32| {
        let resp = app.get(
            &format!("{V2}/metainfo/search?owner_ids={OWNER}&limit=1"),
            &app.principal(principal),
        );
        resp.assert_ok();
        let start = resp.body.find(" total=\"").expect("total") + 8;
        resp.body[start..start + resp.body[start..].find('"').expect("quote")]
            .parse::<u64>()
            .expect("number")
    };
    assert_eq!(total(FRIEND), 4);
    assert_eq!(total(FRIEND_ONLY), 3);
    assert_eq!(total(RECIPIENT), 0);
    assert_eq!(total(OWNER), 5);
    let found = listed_ids(
        &app.get(
            &format!("{V2}/metainfo/search?owner_ids={OWNER}&limit=10"),
            &app.principal(FRIEND),
        ),
        "metainfos",
        "metainfo",
    );
    let mut want = friend_objects;
    want.push(both);
    assert_eq!(found, want);
}

#[backends]
fn a_friend_reads_a_persistence_slot_holding_a_friend_object() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[FRIEND]);
    let owner = app.principal(OWNER);
    app.create(
        &owner,
        "<access_permission><type>friend</type></access_permission>\
         <persistence_init_param><slot>3</slot></persistence_init_param>",
    );
    let path = format!("{V2}/persistenceinfo/{OWNER}/3");
    app.get(&path, &app.principal(FRIEND)).assert_ok();
    app.get(&path, &app.principal(RECIPIENT))
        .assert_error(404, "DataStore::NotFound");
}

#[backends]
fn the_title_replaces_a_list_and_principals_read_their_own() {
    let app = spawn_app();
    let path = format!("{V2}/principals/{OWNER}/friends");
    let resp = put_friends(&app, &app.title, OWNER, &[9, 3, 9, 5]);
    resp.assert_ok();
    assert_eq!(length(&resp), "3");
    assert_eq!(listed_friends(&app.get(&path, &app.title)), vec![3, 5, 9]);
    assert_eq!(
        listed_friends(&app.get(&path, &app.principal(OWNER))),
        vec![3, 5, 9]
    );
    // The POST alias replaces the whole list too.
    let resp = app.post(
        &format!("{path}/put"),
        &app.title,
        "<friends><principal_id>4</principal_id></friends>",
    );
    resp.assert_ok();
    assert_eq!(length(&resp), "1");
    assert_eq!(listed_friends(&app.get(&path, &app.title)), vec![4]);
    // A principal nobody set a list for has none.
    assert!(
        listed_friends(&app.get(&format!("{V2}/principals/55/friends"), &app.title)).is_empty()
    );
    let resp = app.put(&path, &app.title, "<friends/>");
    assert_eq!(length(&resp), "0");
    assert!(listed_friends(&app.get(&path, &app.title)).is_empty());
}

#[backends]
fn principals_may_not_set_lists_or_read_those_of_others() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[FRIEND]);
    let path = format!("{V2}/principals/{OWNER}/friends");
    // Not even their own list, and not even with a body that would be refused.
    put_friends(&app, &app.principal(OWNER), OWNER, &[RECIPIENT])
        .assert_error(403, "DataStore::PermissionDenied");
    app.put(&path, &app.principal(OWNER), "not xml")
        .assert_error(403, "DataStore::PermissionDenied");
    app.post(&format!("{path}/put"), &app.principal(FRIEND), "<friends/>")
        .assert_error(403, "DataStore::PermissionDenied");
    app.get(&path, &app.principal(FRIEND))
        .assert_error(403, "DataStore::PermissionDenied");
    assert_eq!(listed_friends(&app.get(&path, &app.title)), vec![FRIEND]);
}

#[backends]
fn bad_lists_and_ids_are_refused_and_change_nothing() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[FRIEND]);
    let path = format!("{V2}/principals/{OWNER}/friends");
    let too_many: Vec<u32> = (1..=1001).collect();
    put_friends(&app, &app.title, OWNER, &too_many).assert_error(400, "DataStore::InvalidArgument");
    let thousand: Vec<u32> = (1..=1000).collect();
    assert_eq!(
        length(&put_friends(&app, &app.title, 55, &thousand)),
        "1000"
    );
    for (body, code) in [
        (
            "<friends><principal_id>abc</principal_id></friends>",
            "Core::InvalidArgument",
        ),
        (
            "<friends><principal_id>0</principal_id></friends>",
            "DataStore::InvalidArgument",
        ),
        (
            "<friends><principal_id>-1</principal_id></friends>",
            "DataStore::InvalidArgument",
        ),
        (
            "<friends><principal_id>4294967296</principal_id></friends>",
            "DataStore::InvalidArgument",
        ),
        (
            "<change><principal_id>5</principal_id></change>",
            "Core::InvalidArgument",
        ),
        ("", "Core::InvalidArgument"),
    ] {
        app.put(&path, &app.title, body).assert_error(400, code);
    }
    for bad in ["abc", "0", "4294967296"] {
        let code = if bad == "abc" {
            "Core::InvalidArgument"
        } else {
            "DataStore::InvalidArgument"
        };
        app.get(&format!("{V2}/principals/{bad}/friends"), &app.title)
            .assert_error(400, code);
        app.put(
            &format!("{V2}/principals/{bad}/friends"),
            &app.title,
            "<friends/>",
        )
        .assert_error(400, code);
    }
    assert_eq!(listed_friends(&app.get(&path, &app.title)), vec![FRIEND]);
}
