//! A principal's data as a whole (GS2-Datastore's per-user operations): the
//! export archive, the erase, and listing one's own data in every state.

use nexds_test_macros::backends;
use std::collections::BTreeMap;
use std::io::Read;

use crate::garage;
use crate::helpers::{Resp, TestApp, V2, listed_ids, m, spawn_app, spawn_app_with};
use nexds::xml::read::{Element, parse_document};

const DAY: i64 = 86_400;

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

fn key_of(id: u64) -> String {
    format!("objects/{id:020}_{:010}.bin", 1)
}

/// The file of `id`'s first version: where complete sealed it, where a delete
/// hid it, or else where its form uploaded it (an upload not completed).
fn stored_file(app: &TestApp, id: u64) -> std::path::PathBuf {
    let dir = app.data_dir().join("blobs/nexds");
    let sealed = key_of(id);
    let places = [
        format!("deleted/{sealed}"),
        format!("uploads/{id:020}_{:010}.bin", 1),
    ];
    places
        .iter()
        .map(|key| dir.join(key))
        .find(|path| path.exists())
        .unwrap_or_else(|| dir.join(sealed))
}

fn rate(app: &TestApp, token: &str, id: u64, slot: u8, value: i64) {
    app.put(
        &format!("{V2}/metainfo/{id}/ratings/{slot}"),
        token,
        &format!("<rate><rating_value>{value}</rating_value></rate>"),
    )
    .assert_ok();
}

/// (count, total_value) of one rating slot, as the title sees it.
fn slot_state(app: &TestApp, id: u64, slot: u8) -> (i64, i64) {
    let doc = app.meta(id).doc();
    let ratings = doc
        .child("datastore")
        .and_then(|d| d.child("metainfos"))
        .and_then(|l| l.child("metainfo"))
        .and_then(|o| o.child("ratings"))
        .expect("ratings");
    let r = ratings
        .children("rating")
        .find(|r| r.child("slot").unwrap().text() == slot.to_string())
        .expect("the slot");
    let n = |f: &str| r.child(f).unwrap().text().parse::<i64>().unwrap();
    (n("count"), n("total_value"))
}

/// Principal 100's data in namespace `default`, in every state, among the data of
/// others: what export and erase must find, and what they must leave alone.
struct World {
    app: TestApp,
    p100: String,
    p200: String,
    p300: String,
    /// Principal 100's objects by data_id, with their state and stored file.
    mine: Vec<(u64, &'static str, Option<Vec<u8>>)>,
    /// Principal 200's object, rated by 100 (modifiable slot 0, interval-locked slot 1).
    theirs: u64,
    /// Principal 100's object in namespace `other`, and the token of 100 there.
    elsewhere: u64,
    p100_other: String,
    /// Principal 200's object in `other`, rated by 100 there.
    theirs_elsewhere: u64,
}

fn rated_public() -> &'static str {
    "<access_permission><type>public</type></access_permission><rating_init_params>\
     <param><slot>0</slot><initial_value>10</initial_value><flags><flag>modifiable</flag></flags></param>\
     <param><slot>1</slot><lock><type>interval</type><period_duration>3600</period_duration></lock></param>\
     </rating_init_params>"
}

fn world_with(app: TestApp) -> World {
    let p100 = app.principal(100);
    let p200 = app.principal(200);
    let p300 = app.principal(300);
    let big = bytes(300_000, 7);
    let file = app.upload(
        &p100,
        &big,
        "<access_permission><type>public</type></access_permission>",
    );
    let meta_only = app.create(
        &p100,
        &format!("<tags><tag>dGFn</tag></tags>{}", rated_public()),
    );
    // prepare has no <name> (spec 12.3.2.5.2.1): change sets it.
    app.put(
        &format!("{V2}/metainfo/{meta_only}"),
        &p100,
        "<change><name>meta</name></change>",
    )
    .assert_ok();
    let pending = app.create(
        &p100,
        "<flags><flag>need_review</flag><flag>not_use_storageserver</flag></flags>",
    );
    let rejected = app.create(&p100, "");
    app.put(
        &format!("{V2}/metainfo/{rejected}"),
        &app.title,
        "<change><status>rejected</status></change>",
    )
    .assert_ok();
    let deleted_file = bytes(1000, 9);
    let deleted = app.upload(&p100, &deleted_file, "");
    app.delete(&format!("{V2}/data/{deleted}"), &p100)
        .assert_ok();
    let posted_file = bytes(700, 3);
    let posted = app.prepare_upload(&p100, posted_file.len(), "");
    assert_eq!(posted.post(&posted_file).status, 204);
    let not_posted = app.prepare_upload(&p100, 9, "");
    app.put(
        &format!("{V2}/persistenceinfo/100/3"),
        &p100,
        &format!("<perpetuate><data_id>{file}</data_id></perpetuate>"),
    )
    .assert_ok();

    let theirs = app.create(&p200, rated_public());
    rate(&app, &p100, theirs, 0, 5);
    rate(&app, &p300, theirs, 0, 7);
    rate(&app, &p100, theirs, 1, 4);
    // Others' ratings of 100's objects go with them.
    rate(&app, &p200, meta_only, 0, 3);

    let p100_other = app.token("other", Some(100));
    let p200_other = app.token("other", Some(200));
    let elsewhere = app.create(&p100_other, "");
    let theirs_elsewhere = app.create(&p200_other, rated_public());
    rate(&app, &p100_other, theirs_elsewhere, 0, 6);

    World {
        mine: vec![
            (file, "ready", Some(big)),
            (meta_only, "ready", None),
            (pending, "ready", None),
            (rejected, "ready", None),
            (deleted, "deleted", Some(deleted_file)),
            (posted.data_id, "uploading", Some(posted_file)),
            (not_posted.data_id, "uploading", None),
        ],
        app,
        p100,
        p200,
        p300,
        theirs,
        elsewhere,
        p100_other,
        theirs_elsewhere,
    }
}

fn world() -> World {
    world_with(spawn_app())
}

impl World {
    fn ids(&self) -> Vec<u64> {
        self.mine.iter().map(|(id, _, _)| *id).collect()
    }
}

/// The entries of a tar, by path, in archive order.
fn untar(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(data);
    archive
        .entries()
        .expect("a tar")
        .map(|entry| {
            let mut entry = entry.expect("an entry");
            let path = entry.path().expect("a path").display().to_string();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).expect("content");
            (path, content)
        })
        .collect()
}

fn doc_of(entries: &[(String, Vec<u8>)], path: &str) -> Element {
    let (_, content) = entries
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no {path} in the archive"));
    parse_document(content, "nex").expect("a <nex> document")
}

fn texts(el: &Element, path: &str) -> String {
    let mut el = el;
    for part in path.split('/') {
        el = el
            .child(part)
            .unwrap_or_else(|| panic!("no <{part}> in {path}"));
    }
    el.text().to_owned()
}

fn export(app: &TestApp, token: &str, principal: u32) -> Resp {
    app.get(&format!("{V2}/principals/{principal}/export"), token)
}

fn erase(app: &TestApp, token: &str, principal: u32) -> Resp {
    app.post(&format!("{V2}/principals/{principal}/erase"), token, "")
}

/// (objects, files, ratings, persistence) of an erase answer.
fn counts(resp: &Resp) -> (u64, u64, u64, u64) {
    resp.assert_ok();
    let n = |f: &str| resp.text(&format!("datastore/erased/{f}")).parse().unwrap();
    (n("objects"), n("files"), n("ratings"), n("persistence"))
}

#[backends]
fn the_export_holds_every_object_of_the_principal_with_byte_identical_files() {
    let w = world();
    let resp = export(&w.app, &w.app.title, 100);
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.content_type, "application/x-tar");
    assert_eq!(
        resp.header("content-length"),
        Some(resp.bytes.len().to_string().as_str()),
        "the exact size is announced"
    );
    assert!(
        resp.header("content-disposition")
            .is_some_and(|d| d.contains("nexds-default-100.tar")),
        "{:?}",
        resp.headers
    );
    let entries = untar(&resp.bytes);
    let mut expected_paths = vec![
        "metainfos.xml".to_owned(),
        "persistenceinfos.xml".to_owned(),
        "ratings_given.xml".to_owned(),
    ];
    for (id, _, file) in &w.mine {
        if file.is_some() {
            expected_paths.push(format!("files/{id}"));
        }
    }
    let paths: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, expected_paths);
    let files: BTreeMap<&str, &Vec<u8>> = entries.iter().map(|(p, c)| (p.as_str(), c)).collect();
    for (id, _, file) in &w.mine {
        if let Some(file) = file {
            assert!(
                files[format!("files/{id}").as_str()] == file,
                "the file of {id} is byte-identical"
            );
        }
    }

    let metainfos = doc_of(&entries, "metainfos.xml");
    let list = metainfos
        .child("datastore")
        .and_then(|d| d.child("metainfos"))
        .expect("metainfos");
    let listed: Vec<&Element> = list.children("metainfo").collect();
    let ids: Vec<u64> = listed
        .iter()
        .map(|o| texts(o, "data_id").parse().unwrap())
        .collect();
    assert_eq!(ids, w.ids(), "every object of 100 here, and only those");
    for (o, (id, state, file)) in listed.iter().zip(&w.mine) {
        assert_eq!(texts(o, "owner_id"), "100");
        assert_eq!(texts(o, "state"), *state, "state of {id}");
        assert!(o.child("meta_binary").is_some() && o.child("tags").is_some());
        assert!(o.child("ratings").is_some());
        assert!(!texts(o, "access_password").is_empty());
        assert_eq!(o.child("deleted_time").is_some(), *state == "deleted");
        match file {
            Some(file) => {
                assert_eq!(texts(o, "file/path"), format!("files/{id}"));
                assert_eq!(texts(o, "file/size"), file.len().to_string());
            }
            None => assert!(o.child("file").is_none(), "no file for {id}"),
        }
    }
    let meta_only = listed[1];
    assert_eq!(texts(meta_only, "name"), "meta");
    assert_eq!(texts(meta_only, "tags/tag"), "dGFn");
    assert_eq!(texts(meta_only, "meta_binary"), "bWV0YQ==");
    assert_eq!(texts(meta_only, "ratings/rating/total_value"), "13");
    assert_eq!(texts(listed[2], "status"), "pending");
    assert_eq!(texts(listed[3], "status"), "rejected");

    let slots = doc_of(&entries, "persistenceinfos.xml");
    assert_eq!(
        texts(&slots, "datastore/persistenceinfos/persistenceinfo/slot"),
        "3"
    );
    assert_eq!(
        texts(&slots, "datastore/persistenceinfos/persistenceinfo/data_id"),
        w.mine[0].0.to_string()
    );

    let given = doc_of(&entries, "ratings_given.xml");
    let ratings: Vec<&Element> = given
        .child("datastore")
        .and_then(|d| d.child("ratings_given"))
        .expect("ratings_given")
        .children("rating")
        .collect();
    assert_eq!(
        ratings.len(),
        1,
        "only the modifiable rating is kept per rater"
    );
    assert_eq!(texts(ratings[0], "data_id"), w.theirs.to_string());
    assert_eq!(texts(ratings[0], "slot"), "0");
    assert_eq!(texts(ratings[0], "rating_value"), "5");
    let locks: Vec<&Element> = given
        .child("datastore")
        .and_then(|d| d.child("rating_locks"))
        .expect("rating_locks")
        .children("rating_lock")
        .collect();
    assert_eq!(locks.len(), 1);
    assert_eq!(texts(locks[0], "data_id"), w.theirs.to_string());
    assert_eq!(texts(locks[0], "slot"), "1");
}

#[backends]
fn a_principal_without_data_exports_an_archive_of_empty_documents() {
    let app = spawn_app();
    let resp = export(&app, &app.title, 4242);
    assert_eq!(resp.status, 200, "{}", resp.body);
    let entries = untar(&resp.bytes);
    assert_eq!(entries.len(), 3);
    let metainfos = doc_of(&entries, "metainfos.xml");
    assert!(
        metainfos
            .child("datastore")
            .and_then(|d| d.child("metainfos"))
            .is_some_and(|l| l.children.is_empty())
    );
}

#[backends]
fn principal_tokens_may_neither_export_nor_erase_even_their_own_data() {
    let app = spawn_app();
    let p100 = app.principal(100);
    let id = app.create(&p100, "");
    export(&app, &p100, 100).assert_error(403, "DataStore::PermissionDenied");
    export(&app, &p100, 200).assert_error(403, "DataStore::PermissionDenied");
    erase(&app, &p100, 100).assert_error(403, "DataStore::PermissionDenied");
    app.delete(&format!("{V2}/principals/100"), &p100)
        .assert_error(403, "DataStore::PermissionDenied");
    app.get(&format!("{V2}/metainfo/{id}"), &p100).assert_ok();
    // Bad principal ids are the client's mistake.
    export(&app, &app.title, 0).assert_error(400, "DataStore::InvalidArgument");
    erase(&app, &app.title, 0).assert_error(400, "DataStore::InvalidArgument");
    app.get(&format!("{V2}/principals/abc/export"), &app.title)
        .assert_error(400, "Core::InvalidArgument");
    app.call("GET", &format!("{V2}/principals/100/export"), None, None)
        .assert_error(401, "Core::AccessDenied");
}

#[backends]
fn erase_removes_everything_of_the_principal_and_takes_back_their_ratings() {
    let w = world();
    let app = &w.app;
    assert_eq!(slot_state(app, w.theirs, 0), (2, 22));
    assert_eq!(slot_state(app, w.theirs, 1), (1, 4));
    for (id, _, file) in &w.mine {
        assert_eq!(file.is_some(), stored_file(app, *id).exists());
    }

    let resp = erase(app, &app.title, 100);
    assert_eq!(counts(&resp), (7, 3, 1, 1), "{}", resp.body);

    for (id, _, _) in &w.mine {
        app.get(&format!("{V2}/metainfo/{id}"), &app.title)
            .assert_error(404, "DataStore::NotFound");
        assert!(!stored_file(app, *id).exists(), "the file of {id} is gone");
    }
    // The two uploads' keys stay queued until their forms expire (see below).
    assert_eq!(app.queued_deletions(), 2);
    // 100's modifiable rating of 5 is taken back; 300's 7 stays.
    assert_eq!(slot_state(app, w.theirs, 0), (1, 17));
    // Ratings of slots that are not modifiable are not kept per rater: they stay.
    assert_eq!(slot_state(app, w.theirs, 1), (1, 4));
    app.get(&format!("{V2}/persistenceinfo/100/3"), &app.title)
        .assert_error(404, "DataStore::NotFound");
    let listing = app.get(&format!("{V2}/data/mine"), &w.p100);
    assert_eq!(
        listed_ids(&listing, "metainfos", "metainfo"),
        Vec::<u64>::new()
    );

    // Erasing again finds nothing: the call is idempotent. DELETE is the alias.
    let again = app.delete(&format!("{V2}/principals/100"), &app.title);
    assert_eq!(counts(&again), (0, 0, 0, 0));

    // 100 rates anew: the modifiable rating counts again and the lock is gone.
    rate(app, &w.p100, w.theirs, 0, 1);
    assert_eq!(slot_state(app, w.theirs, 0), (2, 18));
    rate(app, &w.p100, w.theirs, 1, 1);
}

#[backends]
fn an_upload_posted_after_the_erase_is_undone_when_its_form_expires() {
    let app = spawn_app();
    let p100 = app.principal(100);
    let form = app.prepare_upload(&p100, 4, "");
    assert_eq!(counts(&erase(&app, &app.title, 100)), (1, 0, 0, 0));
    // Storage takes a valid form without asking nexds.
    assert_eq!(form.post(b"late").status, 204);
    assert!(stored_file(&app, form.data_id).exists());
    assert_eq!(
        app.queued_deletions(),
        1,
        "the key waits for the form to expire"
    );
    let janitor = |now: i64| app.janitor_pass(now);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(janitor(now).files, 0, "not before the form expires");
    assert_eq!(janitor(now + app.settings.upload_form_secs + 1).files, 1);
    assert!(!stored_file(&app, form.data_id).exists());
    assert_eq!(app.queued_deletions(), 0);
}

#[backends]
fn erase_leaves_other_principals_and_other_namespaces_alone() {
    let w = world();
    let app = &w.app;
    counts(&erase(app, &app.title, 100));
    app.get(&format!("{V2}/metainfo/{}", w.theirs), &w.p200)
        .assert_ok();
    app.get(&format!("{V2}/metainfo/{}", w.theirs), &w.p300)
        .assert_ok();
    // Principal 100 of namespace `other` is another account: all of it stays.
    app.get(&format!("{V2}/metainfo/{}", w.elsewhere), &w.p100_other)
        .assert_ok();
    let other_title = app.token("other", None);
    let meta = app.get(
        &format!("{V2}/metainfo/{}?response=ratings", w.theirs_elsewhere),
        &other_title,
    );
    meta.assert_ok();
    assert_eq!(m(&meta, "ratings/rating/total_value"), "16");
    assert_eq!(m(&meta, "ratings/rating/count"), "1");
    // A title token of `other` erases there, and only there.
    assert_eq!(counts(&erase(app, &other_title, 100)), (1, 0, 1, 0));
    app.get(&format!("{V2}/metainfo/{}", w.elsewhere), &w.p100_other)
        .assert_error(404, "DataStore::NotFound");
    let meta = app.get(
        &format!("{V2}/metainfo/{}?response=ratings", w.theirs_elsewhere),
        &other_title,
    );
    assert_eq!(m(&meta, "ratings/rating/total_value"), "10");
}

#[backends]
fn erase_deletes_the_files_from_garage() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = spawn_app_with(|s| garage.configure(s));
    let p100 = app.principal(100);
    let p200 = app.principal(200);
    let a = app.upload(&p100, &bytes(5000, 1), "");
    let b = app.upload(&p100, &bytes(100, 2), "");
    app.delete(&format!("{V2}/data/{b}"), &p100).assert_ok();
    let kept = app.upload(&p200, &bytes(50, 3), "");
    assert_eq!(garage.get(&key_of(a)).status, 200);

    // The export reads the files back from Garage, byte for byte.
    let resp = export(&app, &app.title, 100);
    assert_eq!(resp.status, 200, "{}", resp.body);
    let entries = untar(&resp.bytes);
    assert!(entries.contains(&(format!("files/{a}"), bytes(5000, 1))));
    assert!(entries.contains(&(format!("files/{b}"), bytes(100, 2))));

    assert_eq!(counts(&erase(&app, &app.title, 100)), (2, 2, 0, 0));
    assert_eq!(garage.get(&key_of(a)).status, 404);
    assert_eq!(garage.get(&key_of(b)).status, 404);
    assert_eq!(garage.get(&key_of(kept)).status, 200, "others' files stay");
    assert_eq!(app.queued_deletions(), 0);
}

#[backends]
fn the_export_and_erase_commands_work_beside_the_running_server() {
    let w = world();
    let app = &w.app;
    let out = app.data_dir().join("export-100.tar");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(crate::helpers::nexds_bin())
            .args(args)
            .envs(app.cli_env())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    let file_arg = out.display().to_string();
    let written = run(&[
        "export",
        "--namespace",
        "default",
        "--principal",
        "100",
        "--out",
        &file_arg,
    ]);
    assert!(String::from_utf8_lossy(&written.stderr).contains("exported 7 objects and 3 files"));
    let from_file = untar(&std::fs::read(&out).unwrap());
    let over_http = untar(&export(app, &app.title, 100).bytes);
    let names = |entries: &[(String, Vec<u8>)]| -> Vec<String> {
        entries.iter().map(|(p, _)| p.clone()).collect()
    };
    assert_eq!(names(&from_file), names(&over_http));
    assert!(from_file[3..] == over_http[3..], "the same files");
    let stdout = run(&[
        "export",
        "--namespace",
        "default",
        "--principal",
        "100",
        "--out",
        "-",
    ]);
    assert_eq!(names(&untar(&stdout.stdout)), names(&over_http));

    let erased = run(&["erase", "--namespace", "default", "--principal", "100"]);
    assert_eq!(
        String::from_utf8_lossy(&erased.stdout).trim(),
        "erased 7 objects, 3 files, 1 ratings, 1 persistence slots"
    );
    app.get(&format!("{V2}/metainfo/{}", w.mine[0].0), &app.title)
        .assert_error(404, "DataStore::NotFound");
    assert!(!stored_file(app, w.mine[0].0).exists());
    let refused = std::process::Command::new(crate::helpers::nexds_bin())
        .args(["erase", "--namespace", "no/such", "--principal", "100"])
        .envs(app.cli_env())
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

// Listing one's own data (GS2 describeDataObjects).

fn list(app: &TestApp, token: &str, query: &str) -> Resp {
    app.get(&format!("{V2}/data/mine{query}"), token)
}

/// (data_id, state) of each listed object, and the next page token.
fn listed(resp: &Resp) -> (Vec<(u64, String)>, Option<String>) {
    resp.assert_ok();
    let doc = resp.doc();
    let list = doc
        .child("datastore")
        .and_then(|d| d.child("metainfos"))
        .unwrap_or_else(|| panic!("no metainfos: {}", resp.body));
    let items = list
        .children("metainfo")
        .map(|o| {
            (
                texts(o, "data_id").parse().unwrap(),
                texts(o, "state").to_owned(),
            )
        })
        .collect::<Vec<_>>();
    assert!(
        resp.body
            .contains(&format!("<metainfos length=\"{}\"", items.len())),
        "{}",
        resp.body
    );
    (items, next_page_token(&resp.body))
}

fn next_page_token(body: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(body);
    loop {
        match reader.read_event().expect("XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.name().as_ref() == b"metainfos" =>
            {
                return e
                    .try_get_attribute("next_page_token")
                    .expect("attributes")
                    .map(|a| String::from_utf8(a.value.to_vec()).unwrap());
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

#[backends]
fn a_principal_lists_its_own_objects_in_every_state() {
    let w = world();
    let (items, next) = listed(&list(&w.app, &w.p100, ""));
    let expected: Vec<(u64, String)> = w
        .mine
        .iter()
        .map(|(id, state, _)| (*id, (*state).to_owned()))
        .collect();
    assert_eq!(items, expected);
    assert_eq!(next, None, "everything fits on the default page");

    let by_status = |status: &str| -> Vec<u64> {
        listed(&list(&w.app, &w.p100, &format!("?status={status}")))
            .0
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    let [
        file,
        meta_only,
        pending,
        rejected,
        deleted,
        posted,
        not_posted,
    ] = w.ids().try_into().unwrap();
    assert_eq!(by_status("all"), w.ids());
    assert_eq!(by_status("none"), [file, meta_only]);
    assert_eq!(by_status("pending"), [pending]);
    assert_eq!(by_status("rejected"), [rejected]);
    assert_eq!(by_status("deleted"), [deleted]);
    assert_eq!(by_status("uploading"), [posted, not_posted]);

    // Each metainfo is GET metainfo's, with the response options.
    let resp = list(&w.app, &w.p100, "?status=none&response=meta_binary,tags");
    assert!(resp.body.contains("<meta_binary>bWV0YQ==</meta_binary>"));
    assert!(resp.body.contains("<tag>dGFn</tag>"));
    assert!(!resp.body.contains("<ratings"));
    // Another principal's listing holds none of these.
    assert_eq!(listed(&list(&w.app, &w.p300, "")).0, vec![]);
}

#[backends]
fn expired_objects_uploads_past_their_deadline_and_deletions_past_retention_are_not_listed() {
    let app = spawn_app();
    let p100 = app.principal(100);
    let expired = app.create(&p100, "<period>1</period>");
    app.age(expired, "expire_time", 2 * DAY);
    let stale = app.prepare_upload(&p100, 5, "").data_id;
    app.age(stale, "created_time", 4 * 3600);
    let old = app.create(&p100, "");
    app.delete(&format!("{V2}/data/{old}"), &p100).assert_ok();
    app.age(old, "deleted_time", 31 * DAY);
    let live = app.create(&p100, "");
    assert_eq!(
        listed(&list(&app, &p100, "")).0,
        vec![(live, "ready".into())]
    );
}

#[backends]
fn pages_concatenate_to_the_whole_listing_without_repeats() {
    let w = world();
    for status in ["all", "uploading", "none"] {
        let whole: Vec<u64> = listed(&list(&w.app, &w.p100, &format!("?status={status}")))
            .0
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for limit in [1, 2, 3, 7, 1000] {
            let mut seen = Vec::new();
            let mut token: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut query = format!("?status={status}&limit={limit}");
                if let Some(t) = &token {
                    query.push_str(&format!("&page_token={t}"));
                }
                let (items, next) = listed(&list(&w.app, &w.p100, &query));
                assert!(items.len() <= limit);
                seen.extend(items.into_iter().map(|(id, _)| id));
                pages += 1;
                assert!(pages <= 10, "paging ends");
                match next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            assert_eq!(seen, whole, "status {status}, limit {limit}");
            assert_eq!(pages, whole.len().div_ceil(limit).max(1));
        }
    }
}

#[backends]
fn a_title_token_lists_the_data_of_the_owner_it_names() {
    let w = world();
    let title = list(&w.app, &w.app.title, "?owner_id=100");
    assert_eq!(listed(&title).0, listed(&list(&w.app, &w.p100, "")).0);
    list(&w.app, &w.app.title, "").assert_error(400, "DataStore::InvalidArgument");
    // A principal may name itself, but nobody else.
    assert_eq!(
        listed(&list(&w.app, &w.p100, "?owner_id=100")).0.len(),
        w.mine.len()
    );
    list(&w.app, &w.p200, "?owner_id=100").assert_error(403, "DataStore::PermissionDenied");
    // Principal 100 of another namespace sees its own objects only.
    assert_eq!(
        listed(&list(&w.app, &w.p100_other, "")).0,
        vec![(w.elsewhere, "ready".into())]
    );
}

#[backends]
fn bad_limits_statuses_and_page_tokens_are_refused() {
    let w = world();
    let app = &w.app;
    for (query, status, code) in [
        ("?limit=0", 400, "DataStore::InvalidArgument"),
        ("?limit=1001", 400, "DataStore::InvalidArgument"),
        ("?limit=-1", 400, "DataStore::InvalidArgument"),
        ("?limit=ten", 400, "Core::InvalidArgument"),
        ("?status=ACTIVE", 400, "DataStore::InvalidArgument"),
        ("?owner_id=0", 400, "DataStore::InvalidArgument"),
        ("?response=url", 400, "DataStore::InvalidArgument"),
        ("?page_token=garbage", 400, "DataStore::InvalidArgument"),
        ("?page_token=AAAAAAAPQkA", 400, "DataStore::InvalidArgument"),
    ] {
        list(app, &w.p100, query).assert_error(status, code);
    }
    let long = format!("?page_token={}", "A".repeat(1025));
    list(app, &w.p100, &long).assert_error(400, "DataStore::InvalidArgument");
    assert_eq!(listed(&list(app, &w.p100, "?limit=1000")).0.len(), 7);

    // A token belongs to its listing: same owner, same status filter.
    let (_, token) = listed(&list(app, &w.p100, "?limit=1"));
    let token = token.expect("a next page");
    list(app, &w.p100, &format!("?limit=1&page_token={token}")).assert_ok();
    list(app, &w.p100, &format!("?status=none&page_token={token}"))
        .assert_error(400, "DataStore::InvalidArgument");
    list(
        app,
        &w.app.title,
        &format!("?owner_id=200&page_token={token}"),
    )
    .assert_error(400, "DataStore::InvalidArgument");
    // An empty token is the first page.
    assert_eq!(
        listed(&list(app, &w.p100, "?page_token=")).0.len(),
        w.mine.len()
    );
    // `mine` is not a data_id: other methods on it are 405.
    app.delete(&format!("{V2}/data/mine"), &w.p100)
        .assert_error(405, "Core::InvalidArgument");
}
