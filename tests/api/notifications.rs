//! Notifications (DESIGN §15): who gets one when an object flagged
//! `use_notification_on_post` becomes visible, reading them, and the janitor.

use nexds_test_macros::backends;

use crate::helpers::{Resp, TestApp, V2, spawn_app};

const OWNER: u32 = 100;
const DAY: i64 = 86_400;

/// (id, data_id, owner_id, type) of each notification in an answer, in order.
fn listed(resp: &Resp) -> Vec<(u64, u64, u32, String)> {
    resp.assert_ok();
    let doc = resp.doc();
    let list = doc
        .child("datastore")
        .and_then(|d| d.child("notifications"))
        .unwrap_or_else(|| panic!("no <notifications>: {}", resp.body));
    let field = |n: &nexds::xml::read::Element, name: &str| {
        n.child(name)
            .unwrap_or_else(|| panic!("no <{name}>: {}", resp.body))
            .text()
            .to_owned()
    };
    let items: Vec<_> = list
        .children("notification")
        .map(|n| {
            assert!(!field(n, "time").is_empty());
            (
                field(n, "id").parse().expect("id"),
                field(n, "data_id").parse().expect("data_id"),
                field(n, "owner_id").parse().expect("owner_id"),
                field(n, "type"),
            )
        })
        .collect();
    assert!(
        resp.body
            .contains(&format!("<notifications length=\"{}\"", items.len())),
        "{}",
        resp.body
    );
    items
}

/// The data_ids `principal` was notified of, oldest first.
fn notified(app: &TestApp, principal: u32) -> Vec<u64> {
    let resp = app.get(&format!("{V2}/notifications"), &app.principal(principal));
    listed(&resp).into_iter().map(|n| n.1).collect()
}

fn set_friends(app: &TestApp, owner: u32, ids: &[u32]) {
    let items: String = ids
        .iter()
        .map(|id| format!("<principal_id>{id}</principal_id>"))
        .collect();
    app.put(
        &format!("{V2}/principals/{owner}/friends"),
        &app.title,
        &format!("<friends>{items}</friends>"),
    )
    .assert_ok();
}

/// An upload of OWNER with the notification flag (and `flags`), access `kind`
/// for recipients 7 and 8.
fn post(app: &TestApp, kind: &str, flags: &str) -> u64 {
    app.upload(
        &app.principal(OWNER),
        b"file",
        &format!(
            "<flags><flag>use_notification_on_post</flag>{flags}</flags>\
             <access_permission><type>{kind}</type><recipient_ids>\
             <recipient_id>7</recipient_id><recipient_id>8</recipient_id>\
             <recipient_id>{OWNER}</recipient_id></recipient_ids></access_permission>"
        ),
    )
}

#[backends]
fn each_access_type_notifies_its_recipients_once_and_never_the_owner() {
    let app = spawn_app();
    // 7 and 9 are friends of the owner; 7 and 8 are the recipients.
    set_friends(&app, OWNER, &[7, 9, OWNER]);
    let friend = post(&app, "friend", "");
    let specified = post(&app, "specified", "");
    let both = post(&app, "specified_friend", "");
    post(&app, "public", "");
    post(&app, "private", "");
    assert_eq!(notified(&app, 7), vec![friend, specified, both]);
    assert_eq!(notified(&app, 8), vec![specified]);
    assert_eq!(notified(&app, 9), vec![friend]);
    assert_eq!(notified(&app, OWNER), Vec::<u64>::new());
    assert_eq!(notified(&app, 10), Vec::<u64>::new());

    let resp = app.get(&format!("{V2}/notifications"), &app.principal(7));
    for (_, _, owner, kind) in listed(&resp) {
        assert_eq!((owner, kind.as_str()), (OWNER, "post"));
    }
}

#[backends]
fn only_flagged_objects_with_a_file_are_posted() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[7]);
    app.upload(
        &app.principal(OWNER),
        b"file",
        "<access_permission><type>friend</type></access_permission>",
    );
    // A meta-binary-only object is finished at prepare, never "posted".
    app.create(
        &app.principal(OWNER),
        "<flags><flag>not_use_storageserver</flag><flag>use_notification_on_post</flag></flags>\
         <access_permission><type>friend</type></access_permission>",
    );
    // Prepared but not completed: not visible, not posted.
    app.prepare_upload(
        &app.principal(OWNER),
        4,
        "<flags><flag>use_notification_on_post</flag></flags>\
         <access_permission><type>friend</type></access_permission>",
    );
    assert_eq!(notified(&app, 7), Vec::<u64>::new());
}

#[backends]
fn an_object_under_review_is_posted_when_a_title_approves_it() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[7]);
    let id = post(&app, "friend", "<flag>need_review</flag>");
    assert_eq!(notified(&app, 7), Vec::<u64>::new());
    let change = |body: &str| {
        app.put(&format!("{V2}/metainfo/{id}"), &app.title, body)
            .assert_ok();
    };
    change("<change><name>still pending</name></change>");
    assert_eq!(notified(&app, 7), Vec::<u64>::new());
    // Approval with a wider audience in the same change: the new one counts.
    set_friends(&app, OWNER, &[7, 9]);
    change("<change><status>none</status></change>");
    assert_eq!(notified(&app, 7), vec![id]);
    assert_eq!(notified(&app, 9), vec![id]);
    // Only the approval posts: later changes, even of status, do not again.
    change("<change><status>none</status><name>again</name></change>");
    assert_eq!(notified(&app, 7), vec![id]);
}

#[backends]
fn a_rejected_object_is_not_posted() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[7]);
    let id = post(&app, "friend", "<flag>need_review</flag>");
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &app.title,
        "<change><status>rejected</status></change>",
    )
    .assert_ok();
    assert_eq!(notified(&app, 7), Vec::<u64>::new());
}

#[backends]
fn since_and_limit_page_through_them_oldest_first() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[7]);
    let ids: Vec<u64> = (0..4).map(|_| post(&app, "friend", "")).collect();
    let me = app.principal(7);
    let page = |query: &str| listed(&app.get(&format!("{V2}/notifications{query}"), &me));
    let all = page("");
    assert_eq!(all.iter().map(|n| n.1).collect::<Vec<_>>(), ids);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "{all:?}");
    let first = page("?limit=2");
    assert_eq!(first, all[..2]);
    let next = page(&format!("?since={}&limit=2", first[1].0));
    assert_eq!(next, all[2..]);
    let rest = page(&format!("?since={}", all[3].0));
    assert!(rest.is_empty());
    assert_eq!(
        page("?since=&limit="),
        all,
        "empty values count as not given"
    );
}

#[backends]
fn a_principal_sees_only_its_own_in_its_own_namespace() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[7]);
    post(&app, "friend", "");
    let other = app.token("other", Some(7));
    assert!(listed(&app.get(&format!("{V2}/notifications"), &other)).is_empty());
    assert!(notified(&app, 8).is_empty());
    assert_eq!(notified(&app, 7).len(), 1);
}

#[backends]
fn bad_callers_and_parameters_are_refused() {
    let app = spawn_app();
    let me = app.principal(7);
    app.get(&format!("{V2}/notifications"), &app.title)
        .assert_error(403, "DataStore::PermissionDenied");
    for (query, status, code) in [
        ("since=abc", 400, "Core::InvalidArgument"),
        ("since=-1", 400, "DataStore::InvalidArgument"),
        ("limit=abc", 400, "Core::InvalidArgument"),
        ("limit=0", 400, "DataStore::InvalidArgument"),
        ("limit=101", 400, "DataStore::InvalidArgument"),
        ("limit=-5", 400, "DataStore::InvalidArgument"),
    ] {
        app.get(&format!("{V2}/notifications?{query}"), &me)
            .assert_error(status, code);
    }
    listed(&app.get(&format!("{V2}/notifications?limit=100"), &me));
    app.call("GET", &format!("{V2}/notifications"), None, None)
        .assert_error(401, "Core::AccessDenied");
}

#[backends]
fn the_janitor_removes_notifications_older_than_thirty_days() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[7]);
    let old = post(&app, "friend", "");
    let recent = post(&app, "friend", "");
    app.sql(&format!(
        "UPDATE notifications SET created_time = created_time - {} WHERE data_id = {old}",
        30 * DAY + 1
    ));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let report = app.janitor_pass(now);
    assert_eq!(report.notifications, 1);
    assert_eq!(notified(&app, 7), vec![recent]);
}

#[backends]
fn an_erase_takes_the_notifications_of_the_principal_and_of_its_objects() {
    let app = spawn_app();
    set_friends(&app, OWNER, &[7, 9]);
    set_friends(&app, 7, &[8]);
    let kept = post(&app, "friend", "");
    app.upload(
        &app.principal(7),
        b"file",
        "<flags><flag>use_notification_on_post</flag></flags>\
         <access_permission><type>friend</type></access_permission>",
    );
    assert_eq!(notified(&app, 7), vec![kept]);
    assert_eq!(notified(&app, 8).len(), 1);
    app.post(&format!("{V2}/principals/7/erase"), &app.title, "")
        .assert_ok();
    assert!(notified(&app, 7).is_empty());
    assert!(notified(&app, 8).is_empty());
    assert_eq!(notified(&app, 9), vec![kept]);
}
