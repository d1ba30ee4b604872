//! A delete takes effect at once for downloads too (DESIGN §4): every URL handed
//! out for the object's files stops working, on the local store and on S3.
//! Making an object private does not withdraw URLs already handed out (README,
//! "Download URLs after a change").

use nexds::domain::Caller;
use nexds_test_macros::backends;

use crate::garage;
use crate::helpers::{Resp, TestApp, V2, download, spawn_app, spawn_app_with};
use crate::versions::{complete_version, prepare_version};

/// The answer to a download of `url` is a refusal (S3's NoSuchKey, or
/// AccessDenied for a link whose object is gone).
fn refused(resp: &Resp) -> bool {
    resp.status == 404 || resp.status == 403
}

/// An object with two versions, three URLs for it (a long period, a short one,
/// the first version), then: private keeps them, delete cuts them all.
fn delete_cuts_every_url(app: &TestApp) {
    let owner = app.principal(100);
    let reader = app.principal(200);
    let id = app.upload(
        &owner,
        b"first",
        "<access_permission><type>public</type></access_permission>",
    );
    let (form, _) = prepare_version(app, &owner, id, 6);
    assert_eq!(form.post(b"second").status, 204);
    complete_version(app, &owner, id).assert_ok();
    let urls = [
        app.url_of(&reader, id, "?period=365"),
        app.url_of(&reader, id, "?period=1"),
        app.url_of(&owner, id, "?period=1&version=1"),
    ];
    let expected: [&[u8]; 3] = [b"second", b"second", b"first"];
    for (url, bytes) in urls.iter().zip(expected) {
        assert_eq!(download(url, &[]).bytes, bytes, "{url}");
    }

    // Private: no new URL for others; those handed out keep working.
    app.put(
        &format!("{V2}/metainfo/{id}"),
        &owner,
        "<change><access_permission><type>private</type></access_permission></change>",
    )
    .assert_ok();
    app.get(&format!("{V2}/urlinfo/{id}"), &reader)
        .assert_error(404, "DataStore::NotFound");
    assert_eq!(download(&urls[1], &[]).bytes, b"second");

    app.delete(&format!("{V2}/data/{id}"), &owner).assert_ok();
    for url in &urls {
        let resp = download(url, &[]);
        assert!(refused(&resp), "{url}: {} {}", resp.status, resp.body);
        assert!(!resp.bytes.starts_with(b"first") && !resp.bytes.starts_with(b"second"));
    }
}

/// A delete that committed but never moved its files (a crash in between) is
/// finished by the janitor: the URL works until then, not after.
fn the_janitor_hides_what_a_crash_left_reachable(app: &TestApp) {
    let id = app.upload(
        &app.title,
        b"left behind",
        "<access_permission><type>public</type></access_permission>",
    );
    let url = app.url_of(&app.title, id, "?period=1");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let system = actix_web::rt::System::new();
    // The store alone: the delete commits, nothing moves the file.
    system
        .block_on(
            app.store()
                .delete_objects(Caller::title("default"), vec![id], now),
        )
        .expect("delete");
    assert_eq!(download(&url, &[]).bytes, b"left behind");
    let report = system
        .block_on(nexds::janitor::run_once(
            app.store(),
            &app.blobs(),
            app.settings.retention(),
            now,
        ))
        .expect("janitor");
    assert_eq!(report.hidden, 1, "{report:?}");
    assert!(refused(&download(&url, &[])));
}

#[backends]
fn a_slot_that_deletes_its_last_object_cuts_its_urls_too() {
    let app = spawn_app();
    let owner = app.principal(100);
    let public = "<access_permission><type>public</type></access_permission>";
    let old = app.upload(&owner, b"old", public);
    let new = app.upload(&owner, b"new", public);
    let url = app.url_of(&owner, old, "?period=1");
    let slot = |id: u64| format!("<perpetuate><data_id>{id}</data_id></perpetuate>");
    app.put(&format!("{V2}/persistenceinfo/100/0"), &owner, &slot(old))
        .assert_ok();
    assert_eq!(download(&url, &[]).bytes, b"old");
    // delete_last_object defaults to 1: the old object goes, with its URLs.
    app.put(&format!("{V2}/persistenceinfo/100/0"), &owner, &slot(new))
        .assert_ok();
    assert!(refused(&download(&url, &[])));
}

#[backends]
fn a_delete_cuts_every_url_of_the_local_store() {
    let app = spawn_app();
    delete_cuts_every_url(&app);
    the_janitor_hides_what_a_crash_left_reachable(&app);
}

#[backends]
fn a_delete_cuts_every_url_of_garage() {
    let Some(garage) = garage::garage() else {
        return;
    };
    let app = spawn_app_with(|s| garage.configure(s));
    delete_cuts_every_url(&app);
    the_janitor_hides_what_a_crash_left_reachable(&app);
}
