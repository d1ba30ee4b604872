//! Rating and resetting (spec 12.3.2.8, DESIGN §6).

use crate::helpers::{TestApp, V2, m, spawn_app};
use nexds_test_macros::backends;

fn rating_xml(params: &str) -> String {
    format!("<rating_init_params>{params}</rating_init_params>")
}

fn slot(n: u8, extra: &str) -> String {
    format!("<param><slot>{n}</slot>{extra}</param>")
}

/// (count, initial_value, total_value) of each `<rating>` in a rate answer.
fn results(resp: &crate::helpers::Resp) -> Vec<(i64, i64, i64)> {
    resp.assert_ok();
    let doc = resp.doc();
    let ratings = doc
        .child("datastore")
        .and_then(|d| d.child("metainfo"))
        .and_then(|m| m.child("ratings"))
        .unwrap_or_else(|| panic!("no ratings: {}", resp.body));
    ratings
        .children("rating")
        .map(|r| {
            let n = |f: &str| r.child(f).unwrap().text().parse::<i64>().unwrap();
            (n("count"), n("initial_value"), n("total_value"))
        })
        .collect()
}

fn rate(app: &TestApp, token: &str, id: u64, slot: u8, value: i64) -> crate::helpers::Resp {
    app.put(
        &format!("{V2}/metainfo/{id}/ratings/{slot}"),
        token,
        &format!("<rate>\n  <rating_value>{value}</rating_value>\n</rate>"),
    )
}

fn public_with(app: &TestApp, owner: &str, params: &str) -> u64 {
    app.create(
        owner,
        &format!(
            "<access_permission><type>public</type></access_permission>{}",
            rating_xml(params)
        ),
    )
}

#[backends]
fn the_spec_single_rating_adds_to_the_slot() {
    let app = spawn_app();
    let owner = app.principal(100);
    let rater = app.principal(200);
    let id = public_with(&app, &owner, &slot(0, ""));
    assert_eq!(results(&rate(&app, &rater, id, 0, 100)), vec![(1, 0, 100)]);
    assert_eq!(results(&rate(&app, &rater, id, 0, 50)), vec![(2, 0, 150)]);
    // POST alias
    let resp = app.post(
        &format!("{V2}/metainfo/{id}/ratings/0/put"),
        &rater,
        "<rate><rating_value>-20</rating_value></rate>",
    );
    assert_eq!(results(&resp), vec![(3, 0, 130)]);
    let meta = app.meta(id);
    assert_eq!(m(&meta, "ratings/rating/count"), "3");
    assert_eq!(m(&meta, "ratings/rating/total_value"), "130");
}

#[backends]
fn the_spec_batch_rating_applies_every_param_in_order() {
    let app = spawn_app();
    let owner = app.principal(100);
    let rater = app.principal(200);
    let a = public_with(&app, &owner, &slot(0, ""));
    let b = public_with(
        &app,
        &owner,
        &(slot(0, "") + &slot(1, "<initial_value>5</initial_value>")),
    );
    let body = format!(
        "<rate><param><data_id>{a}</data_id><slot>0</slot><rating_value>100</rating_value></param>\
         <param><data_id>{b}</data_id><slot>0</slot><rating_value>200</rating_value></param>\
         <param><data_id>{b}</data_id><slot>1</slot><rating_value>210</rating_value></param></rate>"
    );
    let resp = app.put(&format!("{V2}/metainfo/ratings"), &rater, &body);
    assert_eq!(results(&resp), vec![(1, 0, 100), (1, 0, 200), (1, 5, 215)]);
    let resp = app.post(&format!("{V2}/metainfo/ratings/put"), &rater, &body);
    assert_eq!(results(&resp), vec![(2, 0, 200), (2, 0, 400), (2, 5, 425)]);
}

#[backends]
fn a_batch_rating_is_all_or_nothing() {
    let app = spawn_app();
    let owner = app.principal(100);
    let rater = app.principal(200);
    let a = public_with(&app, &owner, &slot(0, ""));
    let body = format!(
        "<rate><param><data_id>{a}</data_id><slot>0</slot><rating_value>100</rating_value></param>\
         <param><data_id>{a}</data_id><slot>7</slot><rating_value>1</rating_value></param></rate>"
    );
    app.put(&format!("{V2}/metainfo/ratings"), &rater, &body)
        .assert_error(400, "DataStore::InvalidArgument");
    assert_eq!(m(&app.meta(a), "ratings/rating/count"), "0");
}

#[backends]
fn values_outside_the_range_are_refused() {
    let app = spawn_app();
    let owner = app.principal(100);
    let rater = app.principal(200);
    let id = public_with(
        &app,
        &owner,
        &slot(0, "<range_min>1</range_min><range_max>5</range_max>"),
    );
    rate(&app, &rater, id, 0, 6).assert_error(400, "DataStore::InvalidArgument");
    rate(&app, &rater, id, 0, 0).assert_error(400, "DataStore::InvalidArgument");
    assert_eq!(results(&rate(&app, &rater, id, 0, 5)), vec![(1, 0, 5)]);
}

#[backends]
fn round_minus_keeps_the_total_at_zero_or_above() {
    let app = spawn_app();
    let owner = app.principal(100);
    let rater = app.principal(200);
    let id = public_with(
        &app,
        &owner,
        &slot(
            0,
            "<flags><flag>round_minus</flag></flags><initial_value>3</initial_value>",
        ),
    );
    assert_eq!(results(&rate(&app, &rater, id, 0, -10)), vec![(1, 3, 0)]);
}

#[backends]
fn a_modifiable_slot_keeps_one_rating_per_rater() {
    let app = spawn_app();
    let owner = app.principal(100);
    let r1 = app.principal(200);
    let r2 = app.principal(201);
    let id = public_with(
        &app,
        &owner,
        &slot(2, "<flags><flag>modifiable</flag></flags>"),
    );
    assert_eq!(results(&rate(&app, &r1, id, 2, 4)), vec![(1, 0, 4)]);
    assert_eq!(results(&rate(&app, &r1, id, 2, 1)), vec![(1, 0, 1)]);
    assert_eq!(results(&rate(&app, &r2, id, 2, 5)), vec![(2, 0, 6)]);
}

#[backends]
fn self_rating_can_be_disabled() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = public_with(
        &app,
        &owner,
        &(slot(0, "<flags><flag>disable_self_rating</flag></flags>") + &slot(1, "")),
    );
    rate(&app, &owner, id, 0, 1).assert_error(403, "DataStore::OperationNotAllowed");
    assert_eq!(results(&rate(&app, &owner, id, 1, 1)), vec![(1, 0, 1)]);
}

#[backends]
fn locks_stop_a_rater_until_they_end() {
    let app = spawn_app();
    let owner = app.principal(100);
    let r1 = app.principal(200);
    let r2 = app.principal(201);
    let id = public_with(
        &app,
        &owner,
        &(slot(0, "<lock><type>permanent</type></lock>")
            + &slot(
                1,
                "<lock><type>interval</type><period_duration>3600</period_duration></lock>",
            )
            + &slot(
                2,
                "<lock><type>period</type><period_hour>0</period_hour><period_duration>-1</period_duration></lock>",
            )
            + &slot(
                3,
                "<lock><type>interval</type><period_duration>0</period_duration></lock>",
            )),
    );
    for s in 0..3 {
        rate(&app, &r1, id, s, 1).assert_ok();
        let resp = rate(&app, &r1, id, s, 1);
        resp.assert_error(403, "DataStore::OperationNotAllowed");
        assert!(
            resp.text("error/message").contains("again at"),
            "{}",
            resp.body
        );
        // Locks are per rater.
        rate(&app, &r2, id, s, 1).assert_ok();
    }
    // An interval of 0 seconds has ended at once.
    rate(&app, &r1, id, 3, 1).assert_ok();
    rate(&app, &r1, id, 3, 1).assert_ok();
}

#[backends]
fn rating_needs_an_initialised_slot_and_read_access() {
    let app = spawn_app();
    let owner = app.principal(100);
    let rater = app.principal(200);
    let public = public_with(&app, &owner, &slot(0, ""));
    rate(&app, &rater, public, 1, 1).assert_error(400, "DataStore::InvalidArgument");
    rate(&app, &rater, public, 16, 1).assert_error(400, "DataStore::InvalidArgument");
    app.put(
        &format!("{V2}/metainfo/{public}/ratings/x"),
        &rater,
        "<rate><rating_value>1</rating_value></rate>",
    )
    .assert_error(400, "Core::InvalidArgument");
    rate(&app, &rater, 10, 0, 1).assert_error(404, "DataStore::NotFound");
    let private = app.create(&owner, &rating_xml(&slot(0, "")));
    rate(&app, &rater, private, 0, 1).assert_error(404, "DataStore::NotFound");
    for body in [
        "<rate/>",
        "<rate><rating_value>x</rating_value></rate>",
        "<rate><rating_value>2147483648</rating_value></rate>",
    ] {
        let resp = app.put(&format!("{V2}/metainfo/{public}/ratings/0"), &rater, body);
        assert_eq!(resp.status, 400, "{body}");
    }
    assert_eq!(m(&app.meta(public), "ratings/rating/count"), "0");
}

#[backends]
fn concurrent_ratings_of_one_slot_are_all_counted() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = public_with(&app, &owner, &slot(0, ""));
    let raters: Vec<String> = (0..8).map(|i| app.principal(300 + i)).collect();
    std::thread::scope(|scope| {
        for token in &raters {
            let app = &app;
            scope.spawn(move || {
                for _ in 0..25 {
                    rate(app, token, id, 0, 2).assert_ok();
                }
            });
        }
    });
    let meta = app.meta(id);
    assert_eq!(m(&meta, "ratings/rating/count"), "200");
    assert_eq!(m(&meta, "ratings/rating/total_value"), "400");
}

/// Refused ratings sent among accepted ones at once: the writer of either
/// database applies them together (one commit for many, SQLite's and
/// PostgreSQL's group commit), and a refused one takes nothing of its
/// neighbours with it, nor they of it.
#[backends]
fn refused_ratings_among_concurrent_ones_change_nothing_and_take_nothing_along() {
    let app = spawn_app();
    let owner = app.principal(100);
    let id = public_with(
        &app,
        &owner,
        &slot(0, "<range_min>1</range_min><range_max>5</range_max>"),
    );
    // A batch with a good rating first and a refused one second: all or nothing.
    let other = public_with(&app, &owner, &slot(0, ""));
    let raters: Vec<String> = (0..8).map(|i| app.principal(300 + i)).collect();
    std::thread::scope(|scope| {
        for token in &raters {
            let app = &app;
            scope.spawn(move || {
                for i in 0..20 {
                    match i % 4 {
                        0 => rate(app, token, id, 0, 6)
                            .assert_error(400, "DataStore::InvalidArgument"),
                        1 => app
                            .put(
                                &format!("{V2}/metainfo/ratings"),
                                token,
                                &format!(
                                    "<rate><param><data_id>{other}</data_id><slot>0</slot>\
                                     <rating_value>1</rating_value></param><param>\
                                     <data_id>{id}</data_id><slot>0</slot>\
                                     <rating_value>9</rating_value></param></rate>"
                                ),
                            )
                            .assert_error(400, "DataStore::InvalidArgument"),
                        _ => rate(app, token, id, 0, 2).assert_ok(),
                    }
                }
            });
        }
    });
    let meta = app.meta(id);
    assert_eq!(m(&meta, "ratings/rating/count"), "80");
    assert_eq!(m(&meta, "ratings/rating/total_value"), "160");
    let untouched = app.meta(other);
    assert_eq!(m(&untouched, "ratings/rating/count"), "0");
}

fn reset_body(ids: &[u64]) -> String {
    let params: String = ids
        .iter()
        .map(|id| format!("<param><data_id>{id}</data_id></param>"))
        .collect();
    format!("<reset>{params}</reset>")
}

#[backends]
fn reset_returns_every_slot_to_its_initial_value_on_both_paths() {
    let app = spawn_app();
    let owner = app.principal(100);
    let rater = app.principal(200);
    let params = slot(
        0,
        "<initial_value>7</initial_value><flags><flag>modifiable</flag></flags>",
    ) + &slot(1, "<lock><type>permanent</type></lock>");
    let ids: Vec<u64> = (0..5).map(|_| public_with(&app, &owner, &params)).collect();
    let rate_all = |app: &TestApp| {
        for id in &ids {
            rate(app, &rater, *id, 0, 3).assert_ok();
        }
    };
    rate_all(&app);
    for id in &ids {
        rate(&app, &rater, *id, 1, 3).assert_ok();
    }
    let paths = [
        (
            ("DELETE", format!("/nex/metainfo/{}/ratings", ids[0])),
            None,
        ),
        (
            ("POST", format!("/nex/metainfo/{}/ratings/delete", ids[1])),
            None,
        ),
        (
            ("DELETE", format!("{V2}/metainfo/{}/ratings", ids[2])),
            None,
        ),
        (
            ("POST", format!("{V2}/metainfo/{}/ratings/delete", ids[3])),
            None,
        ),
    ];
    for ((method, path), body) in paths {
        let resp = app.call(method, &path, Some(&owner), body);
        resp.assert_ok();
        assert!(resp.body.contains("<reset length=\"1\"/>"), "{}", resp.body);
    }
    let resp = app.post(
        "/nex/metainfo/ratings/delete",
        &owner,
        &reset_body(&ids[4..]),
    );
    assert!(resp.body.contains("<reset length=\"1\"/>"), "{}", resp.body);
    let resp = app.post(
        &format!("{V2}/metainfo/ratings/delete"),
        &owner,
        &reset_body(&ids),
    );
    assert!(resp.body.contains("<reset length=\"5\"/>"), "{}", resp.body);
    for id in &ids {
        let meta = app.meta(*id);
        assert_eq!(m(&meta, "ratings/rating/count"), "0");
        assert_eq!(m(&meta, "ratings/rating/total_value"), "7");
        // Locks are cleared with the ratings: the permanent lock no longer holds.
        rate(&app, &rater, *id, 1, 3).assert_ok();
    }
    // A modifiable rater counts as new after a reset.
    assert_eq!(results(&rate(&app, &rater, ids[0], 0, 3)), vec![(1, 7, 10)]);
}

#[backends]
fn reset_needs_update_permission_and_is_all_or_nothing() {
    let app = spawn_app();
    let owner = app.principal(100);
    let rater = app.principal(200);
    let id = public_with(&app, &owner, &slot(0, ""));
    rate(&app, &rater, id, 0, 3).assert_ok();
    app.call(
        "DELETE",
        &format!("{V2}/metainfo/{id}/ratings"),
        Some(&rater),
        None,
    )
    .assert_error(403, "DataStore::PermissionDenied");
    app.post(
        &format!("{V2}/metainfo/ratings/delete"),
        &owner,
        &reset_body(&[id, 10]),
    )
    .assert_error(404, "DataStore::NotFound");
    app.post(&format!("{V2}/metainfo/ratings/delete"), &owner, "<reset/>")
        .assert_error(400, "DataStore::InvalidArgument");
    assert_eq!(m(&app.meta(id), "ratings/rating/total_value"), "3");
}
