//! Several nodes on one PostgreSQL (DESIGN §11, issue 9): two servers on one
//! database, written to at once, must end exactly where one server would.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, V2, spawn_app_with};

/// Two servers on one new PostgreSQL database; `None` (skipped) without PostgreSQL.
fn two_nodes() -> Option<(TestApp, TestApp)> {
    crate::tools::require(crate::postgres::server())?;
    let url = crate::postgres::new_database().expect("a database");
    let a = spawn_app_with(|s| s.database_url = Some(url.clone()));
    let mut b = spawn_app_with(|s| s.database_url = Some(url.clone()));
    // The first node made the title token; the second found one and made none.
    b.title = a.title.clone();
    Some((a, b))
}

/// `TestApp::create` makes meta-binary-only objects: `extra` is the rest of the prepare.
fn meta_only(extra: &str) -> String {
    extra.to_owned()
}

#[test]
fn ratings_from_two_nodes_at_once_all_count() {
    let Some((a, b)) = two_nodes() else { return };
    let owner = a.principal(1);
    let id = a.create(
        &owner,
        &meta_only(
            "<access_permission><type>public</type></access_permission>\
             <rating_init_params><param><slot>0</slot></param></rating_init_params>",
        ),
    );
    let (nodes, clients, each) = (2u32, 8u32, 25u32);
    std::thread::scope(|scope| {
        for node in 0..nodes {
            let app = if node == 0 { &a } else { &b };
            for client in 0..clients {
                let rater = app.principal(1000 + node * 100 + client);
                scope.spawn(move || {
                    let value = i64::from(node * clients + client + 1);
                    for _ in 0..each {
                        app.put(
                            &format!("{V2}/metainfo/{id}/ratings/0"),
                            &rater,
                            &format!("<rate><rating_value>{value}</rating_value></rate>"),
                        )
                        .assert_ok();
                    }
                });
            }
        }
    });
    let n = nodes * clients;
    let total: u32 = (1..=n).sum::<u32>() * each;
    for app in [&a, &b] {
        let resp = app.get(&format!("{V2}/metainfo/{id}?response=ratings"), &owner);
        resp.assert_ok();
        let rating = "datastore/metainfos/metainfo/ratings/rating";
        assert_eq!(
            resp.text(&format!("{rating}/count")),
            (n * each).to_string()
        );
        assert_eq!(
            resp.text(&format!("{rating}/total_value")),
            total.to_string()
        );
    }
}

#[test]
fn prepares_on_two_nodes_get_distinct_increasing_ids() {
    let Some((a, b)) = two_nodes() else { return };
    let per_client = 20;
    let ids: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..8)
            .map(|client| {
                let app = if client % 2 == 0 { &a } else { &b };
                scope.spawn(move || {
                    (0..per_client)
                        .map(|_| app.create(&app.title, &meta_only("")))
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for run in &ids {
        assert!(run.windows(2).all(|w| w[0] < w[1]), "increasing: {run:?}");
    }
    let all: HashSet<u64> = ids.iter().flatten().copied().collect();
    assert_eq!(all.len(), 8 * per_client, "distinct");
    assert!(all.iter().all(|&id| id >= 1_000_000));
}

#[test]
fn one_batch_change_sent_to_both_nodes_leaves_each_item_in_one_of_the_two_states() {
    let Some((a, b)) = two_nodes() else { return };
    let ids: Vec<u64> = (0..10)
        .map(|_| a.create(&a.title, &meta_only("")))
        .collect();
    let params: String = ids
        .iter()
        .map(|id| format!("<param><data_id>{id}</data_id></param>"))
        .collect();
    for round in 0..10 {
        std::thread::scope(|scope| {
            for (app, name) in [(&a, "from-a"), (&b, "from-b")] {
                let body = format!("<change><name>{name}-{round}</name>{params}</change>");
                scope.spawn(move || {
                    app.put(&format!("{V2}/metainfo"), &app.title, &body)
                        .assert_ok()
                });
            }
        });
        let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let resp = b.get(&format!("{V2}/metainfo?data_ids={list}"), &b.title);
        resp.assert_ok();
        let names: HashSet<String> = resp
            .doc()
            .child("datastore")
            .and_then(|d| d.child("metainfos"))
            .expect("metainfos")
            .children("metainfo")
            .map(|m| m.child("name").expect("name").text().to_owned())
            .collect();
        assert_eq!(
            names.len(),
            1,
            "round {round}: one batch won every item: {names:?}"
        );
        let name = names.into_iter().next().unwrap();
        assert!(name == format!("from-a-{round}") || name == format!("from-b-{round}"));
    }
}

#[test]
fn a_persistence_slot_set_from_both_nodes_at_once_has_one_winner() {
    let Some((a, b)) = two_nodes() else { return };
    let owner = a.principal(100);
    for round in 0..5 {
        let first = a.create(&owner, &meta_only(""));
        let second = b.create(&owner, &meta_only(""));
        std::thread::scope(|scope| {
            for (app, id) in [(&a, first), (&b, second)] {
                let owner = owner.clone();
                scope.spawn(move || {
                    app.put(
                        &format!("{V2}/persistenceinfo/100/{round}"),
                        &owner,
                        &format!("<perpetuate><data_id>{id}</data_id></perpetuate>"),
                    )
                    .assert_ok()
                });
            }
        });
        let slot = a.get(&format!("{V2}/persistenceinfo/100/{round}"), &owner);
        slot.assert_ok();
        let winner: u64 = slot
            .text("datastore/persistenceinfos/persistenceinfo/data_id")
            .parse()
            .unwrap();
        let loser = if winner == first { second } else { first };
        assert!(winner == first || winner == second);
        // The one set first was released when the other replaced it: deleted
        // (delete_last_object defaults to 1), on both nodes.
        for app in [&a, &b] {
            app.get(&format!("{V2}/metainfo/{winner}"), &owner)
                .assert_ok();
            app.get(&format!("{V2}/metainfo/{loser}"), &owner)
                .assert_error(404, "DataStore::NotFound");
        }
    }
}

#[test]
fn a_token_revoked_on_one_node_is_refused_by_the_other_within_two_seconds() {
    let Some((a, b)) = two_nodes() else { return };
    let token = a.principal(7);
    let path = format!("{V2}/metainfo?data_ids=1");
    // Both nodes have seen (and may have cached) the token.
    a.get(&path, &token).assert_ok();
    b.get(&path, &token).assert_ok();
    let revoked = a
        .store()
        .revoke_token(None, nexds::auth::hash_token(&token), 0)
        .unwrap();
    assert!(revoked.is_some());
    let since = Instant::now();
    loop {
        let resp = b.get(&path, &token);
        if resp.status == 401 {
            break;
        }
        resp.assert_ok();
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "node B still takes a token revoked {:?} ago",
            since.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_janitor_of_two_nodes_at_once_removes_each_row_once() {
    let Some((a, b)) = two_nodes() else { return };
    let ids: Vec<u64> = (0..150)
        .map(|_| a.create(&a.title, &meta_only("")))
        .collect();
    let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    a.sql(&format!(
        "UPDATE objects SET expire_time = 1 WHERE data_id IN ({list})"
    ));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let reports: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = [&a, &b]
            .into_iter()
            .map(|app| {
                scope.spawn(move || {
                    actix_web::rt::System::new()
                        .block_on(nexds::janitor::run_once(
                            app.store(),
                            &app.blobs(),
                            app.settings.retention(),
                            now,
                        ))
                        .unwrap()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let expired: usize = reports.iter().map(|r| r.rows.expired).sum();
    assert_eq!(expired, ids.len(), "each row removed once: {reports:?}");
    assert_eq!(
        a.sql_count(&format!(
            "SELECT count(*) FROM objects WHERE data_id IN ({list})"
        )),
        0
    );
}

/// The janitor's turn for `app`'s store, once free (a node's own pass, which
/// runs when it starts, may hold it for a moment).
fn take_turn(app: &TestApp) -> nexds::store::Turn {
    let since = Instant::now();
    loop {
        let turn = actix_web::rt::System::new()
            .block_on(app.store().janitor_turn(false))
            .unwrap();
        if let Some(turn) = turn {
            return turn;
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the janitor's turn never came"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_janitor_turn_of_a_dead_node_passes_to_the_next() {
    let Some((a, b)) = two_nodes() else { return };
    let held = take_turn(&a);
    let other = actix_web::rt::System::new()
        .block_on(b.store().janitor_turn(false))
        .unwrap();
    assert!(other.is_none(), "no second node while the first holds it");
    // The holder's session ends (as when its node dies): the next one takes it.
    drop(held);
    drop(take_turn(&b));
}
