//! What plankton answers when its HTTP backends fail (docs/api.md §2, §3, §9): Astakos or
//! Pithos down, slow, erring, talking nonsense or saying no; each answer comes
//! within the configured timeout. And what it asks of them: one round trip
//! for a burst of requests with one token, and Pithos's sharing kept in step
//! with members and publicity, the catalogue left alone when Pithos refuses.

use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::http::Method as FakeMethod;
use reqwest::Method;

use crate::fakes::astakos::{expires_in, Behaviour};
use crate::fakes::pithos::{Fault, PREFIX};
use crate::fakes::{closed_url, tls};
use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{fault, header, json_with_status, md5_hex, must_header};

/// `http.timeout` and `http.connect_timeout` of these tests, in seconds.
const TIMEOUT: u64 = 1;
/// What an answer may take beyond the timeout on a loaded machine.
const MARGIN: Duration = Duration::from_secs(2);
/// How long a hanging fake waits before it answers: far beyond both.
const HANG: Duration = Duration::from_secs(8);
/// The object every test registers, as the fake Pithos names it.
const OBJECT: &str = "alice/images/a.img";
const DATA: &[u8] = b"hello world";

async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

async fn spawn_with(tweak: impl FnOnce(&mut plankton::config::Settings)) -> TestApp {
    TestApp::spawn_with(|s| {
        s.http.timeout = TIMEOUT;
        s.http.connect_timeout = TIMEOUT;
        tweak(s);
    })
    .await
}

async fn timed<T>(f: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

fn within_timeout(elapsed: Duration, what: &str) {
    assert!(
        elapsed < Duration::from_secs(TIMEOUT) + MARGIN,
        "{what}: answered after {elapsed:?}; the timeout is {TIMEOUT} s"
    );
}

async fn register_a(app: &TestApp) -> reqwest::Response {
    app.alice().register("a.img").data(DATA).send().await
}

async fn one_image(app: &TestApp) -> String {
    app.alice().register("a.img").data(DATA).ok().await
}

async fn add_member(app: &TestApp, id: &str, member: &str) -> reqwest::Response {
    app.request(
        Method::PUT,
        &format!("/images/{id}/members/{member}"),
        Some(ALICE.0),
        &[],
    )
    .await
}

async fn remove_member(app: &TestApp, id: &str, member: &str) -> reqwest::Response {
    app.request(
        Method::DELETE,
        &format!("/images/{id}/members/{member}"),
        Some(ALICE.0),
        &[],
    )
    .await
}

async fn set_public(app: &TestApp, id: &str, public: bool) -> reqwest::Response {
    let value = if public { "true" } else { "false" };
    app.request(
        Method::PUT,
        &format!("/images/{id}"),
        Some(ALICE.0),
        &[("X-Image-Meta-Is-Public", value)],
    )
    .await
}

async fn is_public(app: &TestApp, id: &str) -> String {
    let head = app.head(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(head.status(), 200);
    must_header(&head, "x-image-meta-is-public")
}

// ---- Astakos ----------------------------------------------------------

#[tokio::test]
async fn astakos_down_is_503_at_once() {
    let app = spawn_with(|s| s.identity.auth_url = Some(closed_url("http"))).await;
    let (resp, took) = timed(app.get("/images", ALICE.0)).await;
    fault(resp, 503, "serviceUnavailable", &["identity"]).await;
    within_timeout(took, "astakos down");
}

#[tokio::test]
async fn a_slow_astakos_is_503_within_the_timeout() {
    let app = spawn().await;
    app.backends.astakos.set(Behaviour::Slow(HANG));
    let (resp, took) = timed(app.get("/images", ALICE.0)).await;
    fault(resp, 503, "serviceUnavailable", &["identity"]).await;
    within_timeout(took, "astakos slow");
    assert_eq!(app.backends.astakos.requests(), 1);
}

#[tokio::test]
async fn astakos_answering_an_error_is_503_and_the_failure_is_not_remembered() {
    let app = spawn().await;
    for code in [500, 502, 503, 400, 403] {
        app.backends.astakos.set(Behaviour::Status(code));
        let (resp, took) = timed(app.get("/images", ALICE.0)).await;
        fault(resp, 503, "serviceUnavailable", &["identity"]).await;
        within_timeout(took, &format!("astakos {code}"));
    }
    app.backends.astakos.set(Behaviour::Normal);
    assert_eq!(app.get("/images", ALICE.0).await.status(), 200);
    assert_eq!(app.backends.astakos.requests(), 6);
}

#[tokio::test]
async fn astakos_answering_malformed_json_or_another_shape_is_503() {
    let app = spawn().await;
    for (behaviour, token) in [
        (Behaviour::Malformed, ALICE.0),
        (Behaviour::WrongShape, BOB.0),
    ] {
        app.backends.astakos.set(behaviour.clone());
        let (resp, took) = timed(app.get("/images", token)).await;
        fault(resp, 503, "serviceUnavailable", &[]).await;
        within_timeout(took, &format!("astakos {behaviour:?}"));
    }
}

#[tokio::test]
async fn a_token_astakos_rejects_with_401_or_404_is_401() {
    let app = spawn().await;
    for code in [401, 404] {
        app.backends.astakos.set(Behaviour::Status(code));
        let resp = app.get("/images", ALICE.0).await;
        assert_eq!(must_header(&resp, "www-authenticate"), "Token");
        fault(resp, 401, "unauthorized", &[]).await;
    }
    // And a token the (working) fake does not know.
    app.backends.astakos.set(Behaviour::Normal);
    let resp = app.get("/images", "no-such-token").await;
    fault(resp, 401, "unauthorized", &[]).await;
}

#[tokio::test]
async fn a_token_whose_expiry_has_passed_is_401() {
    let app = spawn().await;
    app.backends.astakos.set_expiry(ALICE.0, &expires_in(-60));
    let resp = app.get("/images", ALICE.0).await;
    fault(resp, 401, "unauthorized", &[]).await;
    assert_eq!(app.get("/images", BOB.0).await.status(), 200);
}

#[tokio::test]
async fn a_cached_answer_is_not_used_past_the_tokens_expiry() {
    // The cache keeps answers 60 s by default, but never past the token's
    // own expiry: 2 s here.
    let app = spawn().await;
    let astakos = &app.backends.astakos;
    astakos.set_expiry(ALICE.0, &expires_in(2));
    let set_at = Instant::now();
    assert_eq!(app.get("/images", ALICE.0).await.status(), 200);
    assert_eq!(app.get("/images", ALICE.0).await.status(), 200);
    assert_eq!(
        astakos.requests(),
        1,
        "the second answer came from the cache"
    );
    tokio::time::sleep(Duration::from_millis(2300).saturating_sub(set_at.elapsed())).await;
    // Astakos now refuses the expired token; plankton must ask it again.
    astakos.set(Behaviour::Status(401));
    let resp = app.get("/images", ALICE.0).await;
    fault(resp, 401, "unauthorized", &[]).await;
    assert_eq!(astakos.requests(), 2);
}

#[tokio::test]
async fn a_burst_of_fifty_requests_with_one_token_costs_one_round_trip() {
    let app = spawn().await;
    let astakos = &app.backends.astakos;
    // Slow enough that every request of the burst arrives during the lookup.
    astakos.set(Behaviour::Slow(Duration::from_millis(300)));
    let burst = |tokens: Vec<&'static str>| {
        let tasks: Vec<_> = tokens
            .into_iter()
            .map(|token| {
                let req = app
                    .client
                    .get(app.url("/images"))
                    .header("x-auth-token", token);
                tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
            })
            .collect();
        async move {
            let mut statuses = Vec::new();
            for t in tasks {
                statuses.push(t.await.unwrap());
            }
            statuses
        }
    };
    let statuses = burst(vec![ALICE.0; 50]).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let trips = astakos.requests();
    eprintln!(
        "burst of 50 with one token: {trips} round trip(s) to Astakos, hit rate {:.0}%",
        100.0 * (50 - trips) as f64 / 50.0
    );
    assert_eq!(trips, 1);
    // Three tokens interleaved: one round trip for each new one (Alice's is cached).
    let tokens: Vec<&str> = (0..51).map(|i| [ALICE.0, BOB.0, CAROL.0][i % 3]).collect();
    let statuses = burst(tokens).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(astakos.requests(), 3);
    // Every request was the documented one (JSON body and content type).
    assert_eq!(astakos.malformed_requests(), 0);
}

#[tokio::test]
async fn a_burst_against_a_hanging_astakos_answers_every_request_within_the_timeout() {
    let app = spawn().await;
    app.backends.astakos.set(Behaviour::Slow(HANG));
    let start = Instant::now();
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let req = app
                .client
                .get(app.url("/images"))
                .header("x-auth-token", ALICE.0);
            tokio::spawn(async move {
                let status = req.send().await.unwrap().status().as_u16();
                (status, start.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(answers.iter().all(|(s, _)| *s == 503), "{answers:?}");
    let slowest = answers.iter().map(|(_, t)| *t).max().unwrap();
    within_timeout(
        slowest,
        &format!(
            "the slowest of 5 concurrent requests (all: {answers:?}; Astakos was asked {} times)",
            app.backends.astakos.requests()
        ),
    );
}

// ---- TLS ----------------------------------------------------------------

#[tokio::test]
async fn the_https_pithos_is_trusted_only_through_tls_ca_file() {
    // No CA file: the fake's certificate is signed by no authority the system knows.
    let app = spawn_with(|s| s.http.tls_ca_file = None).await;
    let (resp, took) = timed(register_a(&app)).await;
    fault(resp, 503, "serviceUnavailable", &["object store"]).await;
    within_timeout(took, "untrusted certificate");
    // Another CA, made the same way, does not do either.
    let other = app.dir.path().join("other-ca.pem");
    std::fs::write(&other, tls::make_ca().ca_pem).unwrap();
    let app = spawn_with(move |s| s.http.tls_ca_file = Some(other)).await;
    fault(register_a(&app).await, 503, "serviceUnavailable", &[]).await;
    // The fake's own CA does.
    let app = spawn().await;
    assert!(app
        .settings
        .store
        .pithos_url
        .as_deref()
        .unwrap()
        .starts_with("https://"));
    assert_eq!(register_a(&app).await.status(), 200);
}

// ---- Pithos ---------------------------------------------------------------

#[tokio::test]
async fn pithos_down_is_503_at_register_get_data_and_sharing_changes() {
    let app = spawn_with(|s| s.store.pithos_url = Some(closed_url("https"))).await;
    let (resp, took) = timed(register_a(&app)).await;
    fault(resp, 503, "serviceUnavailable", &["object store"]).await;
    within_timeout(took, "register, pithos down");

    // An image registered while Pithos was up, then Pithos gone.
    let mut app = spawn().await;
    let id = one_image(&app).await;
    app.settings.store.pithos_url = Some(closed_url("https"));
    let app = app.restart().await;
    let (resp, took) = timed(app.get(&format!("/images/{id}"), ALICE.0)).await;
    fault(resp, 503, "serviceUnavailable", &[]).await;
    within_timeout(took, "GET data, pithos down");
    let (resp, took) = timed(add_member(&app, &id, BOB.1)).await;
    fault(resp, 503, "serviceUnavailable", &[]).await;
    within_timeout(took, "add member, pithos down");
    assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
    // What needs no object store still works.
    assert_eq!(
        app.head(&format!("/images/{id}"), ALICE.0).await.status(),
        200
    );
}

#[tokio::test]
async fn a_slow_pithos_is_503_within_the_timeout_for_head_get_and_sharing() {
    let app = spawn().await;
    let id = one_image(&app).await;
    let pithos = &app.backends.pithos;

    pithos.fail(Some(FakeMethod::HEAD), Fault::Slow(HANG));
    pithos.fail(Some(FakeMethod::GET), Fault::Slow(HANG));
    pithos.fail(Some(FakeMethod::POST), Fault::Slow(HANG));
    // The three at once, each waiting on its own request to Pithos.
    let data = format!("/images/{id}");
    let (register, get, share) = tokio::join!(
        timed(app.alice().register("b.img").data(DATA).send()),
        timed(app.get(&data, ALICE.0)),
        timed(add_member(&app, &id, BOB.1)),
    );
    for (what, (resp, took)) in [
        ("register, HEAD slow", register),
        ("GET data, GET slow", get),
        ("add member, POST slow", share),
    ] {
        fault(resp, 503, "serviceUnavailable", &[]).await;
        within_timeout(took, what);
    }
    assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
}

#[tokio::test]
async fn pithos_answering_an_error_is_503() {
    let app = spawn().await;
    let id = one_image(&app).await;
    let pithos = &app.backends.pithos;
    for code in [500, 502, 503] {
        pithos.fail(None, Fault::Status(code));
        let (resp, took) = timed(register_a(&app)).await;
        fault(resp, 503, "serviceUnavailable", &[]).await;
        within_timeout(took, &format!("register, pithos {code}"));
        let resp = app.get(&format!("/images/{id}"), ALICE.0).await;
        fault(resp, 503, "serviceUnavailable", &[]).await;
    }
    pithos.heal();
    let resp = app.get(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), DATA);
}

#[tokio::test]
async fn a_missing_object_is_400_at_register_and_409_at_get_data() {
    let app = spawn().await;
    let resp = app
        .request(
            Method::POST,
            "/images",
            Some(ALICE.0),
            &[
                ("X-Image-Meta-Name", "n"),
                ("X-Image-Meta-Location", "pithos://alice/images/nothing.img"),
            ],
        )
        .await;
    fault(
        resp,
        400,
        "badRequest",
        &["File not found on given location"],
    )
    .await;
    let id = one_image(&app).await;
    app.set_members(&id, ALICE.0, &[BOB.1]).await;
    std::fs::remove_file(app.root().join(OBJECT)).unwrap();
    for token in [ALICE.0, BOB.0] {
        let resp = app.get(&format!("/images/{id}"), token).await;
        fault(resp, 409, "conflict", &["gone"]).await;
    }
}

#[tokio::test]
async fn pithos_refusing_access_is_403() {
    let app = spawn().await;
    let id = one_image(&app).await;
    let pithos = &app.backends.pithos;
    for code in [403, 401] {
        pithos.fail(Some(FakeMethod::HEAD), Fault::Status(code));
        let resp = register_a(&app).await;
        fault(resp, 403, "forbidden", &["object store"]).await;
        pithos.fail(Some(FakeMethod::GET), Fault::Status(code));
        let resp = app.get(&format!("/images/{id}"), ALICE.0).await;
        fault(resp, 403, "forbidden", &["object store"]).await;
        pithos.heal();
    }
}

#[tokio::test]
async fn a_member_reads_the_data_only_because_the_sharing_was_synced() {
    // Without the sync, Pithos itself refuses the member: plankton's
    // catalogue alone cannot let anyone read an object.
    let app = spawn_with(|s| s.store.sync_sharing = false).await;
    let id = one_image(&app).await;
    app.set_members(&id, ALICE.0, &[BOB.1]).await;
    assert!(app.backends.pithos.readers(OBJECT).is_empty());
    let resp = app.get(&format!("/images/{id}"), BOB.0).await;
    fault(resp, 403, "forbidden", &[]).await;

    let app = spawn().await;
    let id = one_image(&app).await;
    // The registration's own reads (its inspection, §19) are Alice's.
    let registered = app.backends.pithos.seen().len();
    app.set_members(&id, ALICE.0, &[BOB.1]).await;
    assert_eq!(app.backends.pithos.readers(OBJECT), vec![BOB.1]);
    let resp = app.get(&format!("/images/{id}"), BOB.0).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), DATA);
    // Each reader's own token reached Pithos.
    let users: Vec<Option<String>> = app
        .backends
        .pithos
        .seen()
        .into_iter()
        .skip(registered)
        .filter(|s| s.method == "GET")
        .map(|s| s.user)
        .collect();
    assert_eq!(users, vec![Some(BOB.1.to_string())]);
}

#[tokio::test]
async fn the_objects_sharing_follows_members_publicity_and_unregistering() {
    let app = spawn().await;
    let pithos = &app.backends.pithos;
    let id = one_image(&app).await;
    let readers = || pithos.readers(OBJECT);
    assert!(readers().is_empty());

    assert_eq!(add_member(&app, &id, BOB.1).await.status(), 204);
    assert_eq!(readers(), vec!["bob"]);
    assert_eq!(add_member(&app, &id, CAROL.1).await.status(), 204);
    assert_eq!(readers(), vec!["bob", "carol"]);
    let resp = app.get(&format!("/images/{id}"), CAROL.0).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), DATA);
    assert_eq!(remove_member(&app, &id, BOB.1).await.status(), 204);
    assert_eq!(readers(), vec!["carol"]);
    // Bob cannot read any more: plankton hides the image, and Pithos refuses too.
    fault(
        app.get(&format!("/images/{id}"), BOB.0).await,
        404,
        "itemNotFound",
        &[],
    )
    .await;

    assert_eq!(set_public(&app, &id, true).await.status(), 200);
    assert_eq!(readers(), vec!["*"]);
    let resp = app.get(&format!("/images/{id}"), BOB.0).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), DATA);
    assert_eq!(set_public(&app, &id, false).await.status(), 200);
    assert_eq!(readers(), vec!["carol"]);

    app.set_members(&id, ALICE.0, &[BOB.1, CAROL.1]).await;
    assert_eq!(readers(), vec!["bob", "carol"]);
    // Re-registering keeps the members and takes this request's publicity.
    let resp = app
        .alice()
        .register("a.img")
        .data(DATA)
        .public()
        .send()
        .await;
    assert_eq!(must_header(&resp, "x-image-meta-id"), id);
    assert_eq!(readers(), vec!["*"]);
    let resp = app.alice().register("a.img").data(DATA).send().await;
    assert_eq!(resp.status(), 200);
    assert_eq!(readers(), vec!["bob", "carol"]);

    let resp = app
        .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(resp.status(), 204);
    assert!(readers().is_empty(), "{:?}", readers());
    // A change that does not change who may read sends nothing.
    let log = pithos.sharing_log(OBJECT);
    assert_eq!(
        log,
        vec![
            "read=bob",
            "read=bob,carol",
            "read=carol",
            "read=*",
            "read=carol",
            "read=bob,carol",
            "read=*",
            "read=bob,carol",
            "",
        ]
    );
}

#[tokio::test]
async fn a_pithos_that_refuses_the_sharing_change_leaves_the_catalogue_unchanged_with_503() {
    let app = spawn().await;
    let pithos = &app.backends.pithos;
    let id = one_image(&app).await;
    app.set_members(&id, ALICE.0, &[BOB.1]).await;
    let before = app.detail_of(&id, ALICE.0).await;
    pithos.fail(Some(FakeMethod::POST), Fault::Status(500));

    let (resp, took) = timed(add_member(&app, &id, CAROL.1)).await;
    fault(resp, 503, "serviceUnavailable", &[]).await;
    within_timeout(took, "add member, POST 500");
    fault(
        remove_member(&app, &id, BOB.1).await,
        503,
        "serviceUnavailable",
        &[],
    )
    .await;
    let body = r#"{"memberships": [{"member_id": "carol"}]}"#;
    let resp = app
        .send_body(
            Method::PUT,
            &format!("/images/{id}/members"),
            Some(ALICE.0),
            body.as_bytes(),
        )
        .await;
    fault(resp, 503, "serviceUnavailable", &[]).await;
    fault(
        set_public(&app, &id, true).await,
        503,
        "serviceUnavailable",
        &[],
    )
    .await;
    app.alice()
        .register("a.img")
        .data(DATA)
        .public()
        .fault(503, "serviceUnavailable", &[])
        .await;
    let resp = app
        .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    fault(resp, 503, "serviceUnavailable", &[]).await;

    assert_eq!(app.member_ids("", &id, ALICE.0).await, vec!["bob"]);
    assert_eq!(is_public(&app, &id).await, "False");
    assert_eq!(app.detail_of(&id, ALICE.0).await, before);
    assert_eq!(pithos.readers(OBJECT), vec!["bob"]);
    // A change that does not touch sharing still goes through.
    app.update_ok(&id, ALICE.0, &[("X-Image-Meta-Name", "renamed")])
        .await;

    pithos.heal();
    assert_eq!(add_member(&app, &id, CAROL.1).await.status(), 204);
    assert_eq!(app.member_ids("", &id, ALICE.0).await, vec!["bob", "carol"]);
    assert_eq!(pithos.readers(OBJECT), vec!["bob", "carol"]);
}

#[tokio::test]
async fn unregistering_a_shared_image_whose_object_is_gone_is_204() {
    // The contract: DELETE is 204 and does not touch the object; kamaki
    // accepts nothing else. There is nothing left to unshare.
    let app = spawn().await;
    let id = one_image(&app).await;
    app.set_members(&id, ALICE.0, &[BOB.1]).await;
    std::fs::remove_file(app.root().join(OBJECT)).unwrap();
    let resp = app
        .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    let status = resp.status();
    assert_eq!(status, 204, "{:?}", resp.text().await);
    let head = app.head(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(head.status(), 404);
}

#[tokio::test]
async fn ranges_reach_pithos_as_asked_and_the_answer_is_passed_on() {
    let app = spawn().await;
    let id = one_image(&app).await;
    let (path, range) = (format!("/images/{id}"), [("Range", "bytes=6-")]);
    // The registration read the object's head (its inspection, §19).
    let registered = app.backends.pithos.seen().len();
    let resp = app.request(Method::GET, &path, Some(ALICE.0), &range).await;
    assert_eq!(resp.status(), 206);
    assert_eq!(must_header(&resp, "content-range"), "bytes 6-10/11");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"world");
    let gets: Vec<Option<String>> = app
        .backends
        .pithos
        .seen()
        .into_iter()
        .skip(registered)
        .filter(|s| s.method == "GET")
        .map(|s| s.range)
        .collect();
    assert_eq!(gets, vec![Some("bytes=6-10".to_string())]);
    // The registration asked Pithos (HEAD) for size and hash with the owner's token.
    let body = json_with_status(app.get("/images/detail", ALICE.0).await, 200).await;
    assert_eq!(
        body[0]["checksum"],
        crate::fakes::pithos::merkle_hex(DATA),
        "{body}"
    );
}

#[tokio::test]
async fn a_pithos_whose_etag_is_not_an_md5_leaves_the_glance_checksum_absent() {
    // Synnefo's Pithos sends the Merkle hash as ETag unless PITHOS_UPDATE_MD5
    // is set: plankton then knows no MD5 (docs/api.md §4: absent in the Glance dialect).
    let app = spawn().await;
    app.backends.pithos.etag_is_merkle(true);
    let id = one_image(&app).await;
    let merkle = crate::fakes::pithos::merkle_hex(DATA);
    let head = app.head(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(must_header(&head, "x-image-meta-checksum"), merkle);
    let head = app.head(&format!("/v1/images/{id}"), ALICE.0).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "x-image-meta-checksum"), None);
    let resp = app.get(&format!("/v1/images/{id}"), ALICE.0).await;
    assert_eq!(header(&resp, "etag"), None);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), DATA);
    let md5 = md5_hex(DATA);
    app.alice()
        .register("a.img")
        .data(DATA)
        .header("X-Image-Meta-Checksum", &md5)
        .fault(400, "badRequest", &["MD5"])
        .await;
    let resp = app
        .alice()
        .register("a.img")
        .data(DATA)
        .header("X-Image-Meta-Checksum", &merkle)
        .send()
        .await;
    assert_eq!(resp.status(), 200);
}

// ---- Uploads to Pithos (docs/api.md §13) ------------------------------

async fn upload_to(app: &TestApp, data: &[u8], headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/v1/images"))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-name", "up.img")
        .body(data.to_vec());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn uploads_seen(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    app.backends
        .pithos
        .seen()
        .into_iter()
        .filter(|s| s.method != "GET")
        .map(|s| (s.method, s.path, s.user))
        .collect()
}

#[tokio::test]
async fn an_upload_makes_the_container_and_puts_the_object_with_the_callers_token() {
    let app = spawn().await;
    let resp = upload_to(&app, DATA, &[]).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let id = must_header(&resp, "x-image-meta-id");
    assert_eq!(must_header(&resp, "x-image-meta-checksum"), md5_hex(DATA));
    let alice = Some(ALICE.1.to_string());
    let container = format!("{PREFIX}/alice/images");
    assert_eq!(
        uploads_seen(&app),
        vec![
            ("HEAD".into(), container.clone(), alice.clone()),
            ("PUT".into(), container.clone(), alice.clone()),
            ("HEAD".into(), container, alice.clone()),
            ("PUT".into(), format!("alice/images/{id}"), alice),
        ]
    );
    assert_eq!(
        std::fs::read(app.root().join("alice/images").join(&id)).unwrap(),
        DATA
    );
    // The container is there now: the next upload goes straight to it.
    let resp = upload_to(&app, b"second", &[]).await;
    let second = must_header(&resp, "x-image-meta-id");
    let seen = uploads_seen(&app);
    assert_eq!(
        seen[4..]
            .iter()
            .map(|(m, p, _)| format!("{m} {p}"))
            .collect::<Vec<_>>(),
        vec![
            format!("HEAD {PREFIX}/alice/images"),
            format!("PUT alice/images/{second}")
        ]
    );
}

#[tokio::test]
async fn an_upload_pithos_refuses_is_refused_alike_and_registers_nothing() {
    let app = spawn().await;
    let pithos = &app.backends.pithos;
    for (code, status, name, needle) in [
        (413, 413, "overLimit", "quota exceeded"),
        (403, 403, "forbidden", "write"),
        (401, 403, "forbidden", "write"),
        (500, 503, "serviceUnavailable", "object store"),
    ] {
        pithos.fail(Some(FakeMethod::PUT), Fault::Status(code));
        let resp = upload_to(&app, DATA, &[]).await;
        fault(resp, status, name, &[needle]).await;
    }
    pithos.heal();
    pithos.fail(Some(FakeMethod::HEAD), Fault::Status(403));
    fault(
        upload_to(&app, DATA, &[]).await,
        403,
        "forbidden",
        &["write"],
    )
    .await;
    pithos.heal();
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
    assert_eq!(objects_in(&app, "alice/images"), 0);
}

/// How many objects the fake Pithos holds in a container.
fn objects_in(app: &TestApp, container: &str) -> usize {
    std::fs::read_dir(app.root().join(container)).map_or(0, std::iter::Iterator::count)
}

#[tokio::test]
async fn pithos_down_at_upload_is_503_within_the_timeout() {
    let app = spawn_with(|s| s.store.pithos_url = Some(closed_url("https"))).await;
    let (resp, took) = timed(upload_to(&app, DATA, &[])).await;
    fault(resp, 503, "serviceUnavailable", &["object store"]).await;
    within_timeout(took, "upload, pithos down");
}

#[tokio::test]
async fn a_refused_or_cut_off_upload_never_completes_an_object_in_pithos() {
    let app = spawn_with(|s| s.limits.max_image_size = 16 << 20).await;
    // Refused once all of it was seen: the checksum is not the data's. The
    // data is large enough to pass any socket buffer on its way to Pithos.
    let data = vec![9u8; 12 << 20];
    let wrong = md5_hex(b"other");
    let resp = upload_to(&app, &data, &[("x-image-meta-checksum", &wrong)]).await;
    fault(resp, 400, "badRequest", &["x-image-meta-checksum"]).await;
    // Past the limit half way, with no length to refuse it by at once.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..80).map(|_| Ok(vec![3u8; 256 << 10])).collect();
    let resp = app
        .client
        .post(app.url("/images"))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-name", "big.img")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    fault(resp, 413, "overLimit", &["max_image_size"]).await;
    let puts = uploads_seen(&app)
        .into_iter()
        .filter(|(m, p, _)| m == "PUT" && p.starts_with("alice/images/"))
        .count();
    assert_eq!(puts, 2, "both uploads were on their way to Pithos");
    assert!(
        app.backends.pithos.put_bytes() > 2 << 20,
        "data reached Pithos"
    );
    // The fake drops an upload whose body broke off; it may notice late.
    for _ in 0..400 {
        if app.backends.pithos.incomplete_uploads() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(app.backends.pithos.incomplete_uploads(), 0);
    assert_eq!(
        objects_in(&app, "alice/images"),
        0,
        "no object was completed"
    );
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
}

#[tokio::test]
async fn a_public_upload_is_shared_with_everyone_in_pithos() {
    let app = spawn().await;
    let resp = upload_to(&app, DATA, &[("x-image-meta-is-public", "true")]).await;
    assert_eq!(resp.status(), 200);
    let id = must_header(&resp, "x-image-meta-id");
    let object = format!("alice/images/{id}");
    assert_eq!(app.backends.pithos.readers(&object), vec!["*"]);
    let got = app.get(&format!("/images/{id}"), BOB.0).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), DATA);
    // A private one is not shared at all.
    let resp = upload_to(&app, DATA, &[]).await;
    let id = must_header(&resp, "x-image-meta-id");
    assert!(app
        .backends
        .pithos
        .sharing_log(&format!("alice/images/{id}"))
        .is_empty());
}

#[tokio::test]
async fn an_upload_pithos_stores_wrongly_is_deleted_and_503() {
    let app = spawn().await;
    app.backends.pithos.corrupt_uploads(true);
    let resp = upload_to(&app, DATA, &[]).await;
    fault(resp, 503, "serviceUnavailable", &["object store"]).await;
    let deletes = uploads_seen(&app)
        .into_iter()
        .filter(|(m, _, _)| m == "DELETE")
        .count();
    assert_eq!(deletes, 1);
    assert_eq!(objects_in(&app, "alice/images"), 0);
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
    // A Pithos whose ETag is its Merkle hash is fine: the upload's own MD5
    // is the image's checksum.
    app.backends.pithos.corrupt_uploads(false);
    app.backends.pithos.etag_is_merkle(true);
    let resp = upload_to(&app, DATA, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(must_header(&resp, "x-image-meta-checksum"), md5_hex(DATA));
}

#[tokio::test]
async fn an_upload_may_take_longer_than_the_timeout_but_a_pithos_that_stalls_is_503() {
    let app = spawn().await;
    // A slow client: the whole takes three times `http.timeout`.
    let slow = futures_util::stream::unfold(0, |i| async move {
        if i == 8 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        Some((Ok::<_, std::io::Error>(vec![i as u8 + 1; 64 << 10]), i + 1))
    });
    let resp = app
        .client
        .post(app.url("/v1/images"))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-name", "slow.img")
        .body(reqwest::Body::wrap_stream(slow))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    assert_eq!(
        must_header(&resp, "x-image-meta-size"),
        (8 << 16).to_string()
    );
    // A Pithos that takes the body and then never answers.
    app.backends
        .pithos
        .fail(Some(FakeMethod::PUT), Fault::Slow(HANG));
    let (resp, took) = timed(upload_to(&app, DATA, &[])).await;
    fault(resp, 503, "serviceUnavailable", &["object store"]).await;
    within_timeout(took, "upload, PUT hangs");
    app.backends.pithos.heal();
    assert_eq!(app.list_ids("/images", ALICE.0).await.len(), 1);
}

#[tokio::test]
async fn backend_failures_are_counted_in_the_metrics() {
    let app = spawn_with(|s| s.store.pithos_url = Some(closed_url("https"))).await;
    fault(register_a(&app).await, 503, "serviceUnavailable", &[]).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let parsed = openmetrics_parser::openmetrics::parse_openmetrics(&text).unwrap();
    let errors = &parsed.families["plankton_backend_call_errors"];
    let head = errors
        .iter_samples()
        .find(|s| s.get_labelset().unwrap().get_label_value("call") == Some("HEAD"))
        .expect("a HEAD error counted");
    match &head.value {
        openmetrics_parser::OpenMetricsValue::Counter(c) => assert_eq!(c.value.as_f64(), 1.0),
        other => panic!("not a counter: {other:?}"),
    }
}
