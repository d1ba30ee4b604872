//! Several nodes on one PostgreSQL (DESIGN §11, issue 9): two servers on one
//! database, written to at once, must end exactly where one server would.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, V2, spawn_app_with};

/// Two servers on one new PostgreSQL database; `None` (skipped) without PostgreSQL.
fn two_nodes() -> Option<(TestApp, TestApp)> {
    two_nodes_with(|_| {})
}

/// [`two_nodes`], both with `adjust` applied to their settings.
fn two_nodes_with(adjust: impl Fn(&mut nexds::config::Settings)) -> Option<(TestApp, TestApp)> {
    crate::tools::require(crate::postgres::server())?;
    let url = crate::postgres::new_database().expect("a database");
    let a = spawn_app_with(|s| {
        adjust(s);
        s.database_url = Some(url.clone());
    });
    let mut b = spawn_app_with(|s| {
        adjust(s);
        s.database_url = Some(url.clone());
    });
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
            .map(|app| scope.spawn(move || app.janitor_pass(now)))
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

/// A complete on one node while another node's janitor finds the upload past its
/// deadline: exactly one of them wins, so an object is visible with its file or
/// gone, never visible without it.
#[test]
fn a_complete_racing_another_nodes_janitor_is_all_or_nothing() {
    let Some(garage) = crate::garage::garage() else {
        return;
    };
    let Some((a, b)) = two_nodes_with(|s| garage.configure(s)) else {
        return;
    };
    let (mut completed, mut dropped) = (0, 0);
    for round in 0..8 {
        let file = format!("round {round} ").repeat(20).into_bytes();
        let form = a.prepare_upload(&a.title, file.len(), "");
        assert!((200..300).contains(&form.post(&file).status));
        // B's janitor runs as if the upload timeout had passed, while A completes.
        let later =
            time::OffsetDateTime::now_utc().unix_timestamp() + b.settings.upload_timeout_secs + 1;
        let done = std::thread::scope(|scope| {
            let janitor = scope.spawn(|| b.janitor_pass(later));
            let done = a.complete(&a.title, form.data_id);
            janitor.join().unwrap();
            done
        });
        let meta = b.get(&format!("{V2}/metainfo/{}", form.data_id), &b.title);
        if done.status == 200 {
            completed += 1;
            meta.assert_ok();
            let url = b.url_of(&b.title, form.data_id, "");
            assert_eq!(
                crate::helpers::download(&url, &[]).bytes,
                file,
                "round {round}"
            );
        } else {
            dropped += 1;
            // Gone before complete read it (404), or between its read and its
            // move of the file (403, no file uploaded).
            assert!(
                [403, 404].contains(&done.status),
                "round {round}: {}",
                done.body
            );
            meta.assert_error(404, "DataStore::NotFound");
        }
    }
    eprintln!("complete won {completed} rounds, the janitor {dropped}");
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

/// Two `nexds serve` processes on one PostgreSQL and one Garage, as operators run
/// them (README, Running several nodes): the console's flow crosses them, then
/// one dies by SIGKILL under load while the other goes on, and nothing either of
/// them acknowledged is lost.
#[test]
fn two_nodes_serve_one_console_flow_and_survive_a_kill_9() {
    let Some(garage) = crate::garage::garage() else {
        return;
    };
    crate::tools::require(crate::postgres::server()).expect("PostgreSQL");
    let url = crate::postgres::new_database().unwrap();
    let s3 = &garage.settings;
    let token = "two-node-title-token";
    let envs = [
        ("NEXDS_DATABASE_URL", url.as_str()),
        ("NEXDS_STORAGE", "s3"),
        ("NEXDS_S3_ENDPOINT", s3.endpoint.as_str()),
        ("NEXDS_S3_REGION", s3.region.as_str()),
        ("NEXDS_S3_BUCKET", s3.bucket.as_str()),
        ("NEXDS_S3_ACCESS_KEY", s3.access_key.as_str()),
        ("NEXDS_S3_SECRET_KEY", s3.secret_key.as_str()),
        ("NEXDS_LINK_SECRET", "a-link-secret-both-nodes-share"),
        ("NEXDS_BOOTSTRAP_TOKEN", token),
        ("NEXDS_WORKERS", "2"),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = crate::process::serve(dir_a.path(), &envs, &[]);
    let b = crate::process::serve(dir_b.path(), &envs, &[]);
    let agent = crate::helpers::agent();
    let call = |base: &str, method: &str, path: &str, body: Option<&str>| {
        crate::helpers::send(
            &agent,
            method,
            &format!("{base}{path}"),
            &[("Authorization", &format!("Bearer {token}"))],
            body,
        )
    };

    // prepare on A, the file to Garage, complete on B.
    let file = b"a course made on one node, finished on the other".repeat(40);
    let prepared = call(
        &a.base,
        "POST",
        &format!("{V2}/data/prepare"),
        Some(&format!(
            "<prepare><size>{}</size><name>crossing</name>\
             <access_permission><type>public</type></access_permission></prepare>",
            file.len()
        )),
    );
    prepared.assert_ok();
    let form = crate::helpers::form_of(&prepared);
    assert!(form.url.starts_with(&s3.endpoint), "{}", form.url);
    let posted = form.post(&file);
    assert!((200..300).contains(&posted.status), "{}", posted.body);
    let id = form.data_id;
    let completed = call(&b.base, "POST", &format!("{V2}/data/complete/{id}"), None);
    assert_eq!(completed.status, 200, "{}", completed.body);

    // urlinfo on A, download.
    let urlinfo = call(&a.base, "GET", &format!("{V2}/urlinfo/{id}"), None);
    urlinfo.assert_ok();
    let got = crate::helpers::download(&urlinfo.text("datastore/urlinfos/urlinfo/url"), &[]);
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, file);

    // change on B, search on A sees it at once.
    call(
        &b.base,
        "PUT",
        &format!("{V2}/metainfo/{id}"),
        Some("<change><name>renamed-on-b</name></change>"),
    )
    .assert_ok();
    let found = call(
        &a.base,
        "GET",
        &format!("{V2}/metainfo/search?name=renamed-on-b"),
        None,
    );
    found.assert_ok();
    assert!(
        found.body.contains(&format!("<data_id>{id}</data_id>")),
        "{}",
        found.body
    );

    // delete on A, metainfo on B is 404.
    call(&a.base, "DELETE", &format!("{V2}/data/{id}"), None).assert_ok();
    call(&b.base, "GET", &format!("{V2}/metainfo/{id}"), None)
        .assert_error(404, "DataStore::NotFound");

    // Load on both; A dies in the middle; B keeps answering; every acknowledged
    // write is there afterwards.
    let acknowledged = std::sync::Mutex::new(Vec::<u64>::new());
    let b_failures = std::sync::atomic::AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for client in 0..6 {
            let (a_base, b_base) = (a.base.clone(), b.base.clone());
            let (acknowledged, b_failures, stop) = (&acknowledged, &b_failures, &stop);
            scope.spawn(move || {
                let agent = crate::helpers::agent();
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let to_b = (client + i).is_multiple_of(2);
                    let base = if to_b { &b_base } else { &a_base };
                    let resp = crate::helpers::try_send_bytes(
                        &agent,
                        "POST",
                        &format!("{base}{V2}/data/prepare"),
                        &[("Authorization", &format!("Bearer {token}"))],
                        Some(
                            format!(
                                "<prepare><size>0</size><flags><flag>not_use_storageserver</flag>\
                                 </flags><meta_binary>{}</meta_binary></prepare>",
                                nexds::xml::b64_encode(format!("{client}-{i}").as_bytes())
                            )
                            .into_bytes(),
                        ),
                    );
                    // A's requests fail once it is dead; B's never may.
                    if let Some(resp) = resp.ok().filter(|r| r.status == 200) {
                        let id = resp.text("datastore/data/data_id").parse().unwrap();
                        acknowledged.lock().unwrap().push(id);
                    } else if to_b {
                        b_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        a.kill_9();
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(b_failures.into_inner(), 0, "B answered every request");
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() > 50, "load ran: {}", acknowledged.len());
    for chunk in acknowledged.chunks(100) {
        let list = chunk
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let resp = call(
            &b.base,
            "GET",
            &format!("{V2}/metainfo?data_ids={list}"),
            None,
        );
        resp.assert_ok();
        assert!(
            resp.body
                .contains(&format!("<metainfos length=\"{}\">", chunk.len())),
            "an acknowledged object is missing: {}",
            resp.body
        );
    }
}
