//! The object store as Pithos answers (issue 24): every header of §14 on
//! `HEAD` and `GET`, `X-Object-UUID` kept across versions and new after a
//! delete.

use reqwest::Method;

use crate::helpers::ALICE;
use crate::objects::{call, fs_app, get, head, put};
use crate::util::{header, must_header};

const HEADERS: [&str; 9] = [
    "content-length",
    "content-type",
    "etag",
    "last-modified",
    "x-object-hash",
    "x-object-uuid",
    "x-object-version",
    "x-object-version-timestamp",
    "x-object-modified-by",
];

#[tokio::test]
async fn head_and_get_carry_every_header_and_a_stable_uuid() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"one").await.status(),
        201
    );
    let h = head(&app, "/alice/pithos/a", ALICE.0).await;
    let g = get(&app, "/alice/pithos/a", ALICE.0).await;
    for name in HEADERS {
        assert_eq!(header(&h, name), header(&g, name), "{name}");
        must_header(&h, name);
    }
    let uuid = must_header(&h, "x-object-uuid");
    assert!(uuid::Uuid::parse_str(&uuid).is_ok(), "{uuid}");
    let stamp = must_header(&h, "x-object-version-timestamp");
    let (secs, micros) = stamp.split_once('.').expect("seconds.micros");
    assert!(
        secs.parse::<u64>().unwrap() > 1_600_000_000 && micros.len() == 6,
        "{stamp}"
    );
    // A new version keeps the UUID ...
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"two").await.status(),
        201
    );
    let h = head(&app, "/alice/pithos/a", ALICE.0).await;
    assert_eq!(must_header(&h, "x-object-version"), "2");
    assert_eq!(must_header(&h, "x-object-uuid"), uuid);
    // ... metadata changes keep it ...
    let post = call(
        &app,
        Method::POST,
        "/alice/pithos/a",
        ALICE.0,
        &[("x-object-meta-k", "v")],
        Vec::new(),
    )
    .await;
    assert_eq!(post.status(), 202);
    assert_eq!(
        must_header(
            &head(&app, "/alice/pithos/a", ALICE.0).await,
            "x-object-uuid"
        ),
        uuid
    );
    // ... and a delete ends it: the next object there is another one.
    let del = call(
        &app,
        Method::DELETE,
        "/alice/pithos/a",
        ALICE.0,
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(del.status(), 204);
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"three")
            .await
            .status(),
        201
    );
    let h = head(&app, "/alice/pithos/a", ALICE.0).await;
    assert_eq!(must_header(&h, "x-object-version"), "1");
    assert_ne!(must_header(&h, "x-object-uuid"), uuid);
}

/// A public URL's path on this server (the URL is absolute).
fn public_path(app: &crate::helpers::TestApp, url: &str) -> String {
    let base = app.url("");
    let path = url
        .strip_prefix(base.as_str())
        .unwrap_or_else(|| panic!("{url} under {base}"));
    format!("/{}", path.trim_start_matches('/'))
}

async fn anonymous(
    app: &crate::helpers::TestApp,
    path: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.expect("request sent")
}

async fn publish(app: &crate::helpers::TestApp, rest: &str, on: &str) -> u16 {
    call(
        app,
        Method::POST,
        rest,
        ALICE.0,
        &[("x-object-public", on)],
        Vec::new(),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn a_published_object_is_served_to_anyone_until_unpublished() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/p", ALICE.0, b"0123456789")
            .await
            .status(),
        201
    );
    assert!(header(
        &head(&app, "/alice/pithos/p", ALICE.0).await,
        "x-object-public"
    )
    .is_none());
    assert_eq!(publish(&app, "/alice/pithos/p", "true").await, 202);
    let url = must_header(
        &head(&app, "/alice/pithos/p", ALICE.0).await,
        "x-object-public",
    );
    let id = url.rsplit('/').next().unwrap();
    assert!(
        id.len() >= 32 && url.contains("/object-store/public/"),
        "{url}"
    );
    let path = public_path(&app, &url);
    let whole = anonymous(&app, &path, None).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap().as_ref(), b"0123456789");
    let part = anonymous(&app, &path, Some("bytes=2-4")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"234");
    // Any user may read it through the API too.
    assert_eq!(
        get(&app, "/alice/pithos/p", crate::helpers::BOB.0)
            .await
            .status(),
        200
    );
    // An overwrite keeps the URL; publishing again keeps it too.
    assert_eq!(
        put(&app, "/alice/pithos/p", ALICE.0, b"new").await.status(),
        201
    );
    assert_eq!(publish(&app, "/alice/pithos/p", "true").await, 202);
    let again = must_header(
        &head(&app, "/alice/pithos/p", ALICE.0).await,
        "x-object-public",
    );
    assert_eq!(again, url);
    assert_eq!(
        anonymous(&app, &path, None)
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"new"
    );
    // Unpublished: gone.
    assert_eq!(publish(&app, "/alice/pithos/p", "false").await, 202);
    assert_eq!(anonymous(&app, &path, None).await.status(), 404);
    assert!(header(
        &head(&app, "/alice/pithos/p", ALICE.0).await,
        "x-object-public"
    )
    .is_none());
    // Published again: a new URL, which a move away ends.
    assert_eq!(publish(&app, "/alice/pithos/p", "true").await, 202);
    let second = must_header(
        &head(&app, "/alice/pithos/p", ALICE.0).await,
        "x-object-public",
    );
    assert_ne!(second, url);
    let second = public_path(&app, &second);
    assert_eq!(anonymous(&app, &second, None).await.status(), 200);
    let mv = call(
        &app,
        Method::PUT,
        "/alice/pithos/q",
        ALICE.0,
        &[("x-move-from", "/pithos/p")],
        Vec::new(),
    )
    .await;
    assert_eq!(mv.status(), 201);
    assert_eq!(anonymous(&app, &second, None).await.status(), 404);
    assert!(header(
        &head(&app, "/alice/pithos/q", ALICE.0).await,
        "x-object-public"
    )
    .is_none());
    // A delete ends it as well.
    assert_eq!(publish(&app, "/alice/pithos/q", "true").await, 202);
    let third = public_path(
        &app,
        &must_header(
            &head(&app, "/alice/pithos/q", ALICE.0).await,
            "x-object-public",
        ),
    );
    let del = call(
        &app,
        Method::DELETE,
        "/alice/pithos/q",
        ALICE.0,
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(del.status(), 204);
    assert_eq!(anonymous(&app, &third, None).await.status(), 404);
    // Guesses are 404.
    for guess in ["/object-store/public/x", "/object-store/public/x/y"] {
        assert_eq!(anonymous(&app, guess, None).await.status(), 404, "{guess}");
    }
    let zeros = format!("/object-store/public/{}", "0".repeat(64));
    assert_eq!(anonymous(&app, &zeros, None).await.status(), 404);
}

#[tokio::test]
async fn a_bad_public_value_is_400_and_changes_nothing() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/p", ALICE.0, b"x").await.status(),
        201
    );
    let bad = call(
        &app,
        Method::POST,
        "/alice/pithos/p",
        ALICE.0,
        &[("x-object-public", "yes")],
        Vec::new(),
    );
    crate::objects::refused(&app, 400, bad).await;
    let other = call(
        &app,
        Method::POST,
        "/alice/pithos/p",
        crate::helpers::BOB.0,
        &[("x-object-public", "true")],
        Vec::new(),
    );
    crate::objects::refused(&app, 403, other).await;
}

#[tokio::test]
async fn sharers_and_the_shared_and_public_filters() {
    let Some(app) = fs_app().await else { return };
    use crate::helpers::{BOB, CAROL};
    let sharers = |token: &'static str, json: bool| {
        let app = &app;
        async move {
            let q = if json { "/?format=json" } else { "/" };
            get(app, q, token).await
        }
    };
    let none = sharers(BOB.0, true).await;
    assert_eq!(none.status(), 200);
    assert_eq!(none.text().await.unwrap(), "[]");
    assert_eq!(sharers(BOB.0, false).await.status(), 204);
    let shared = [("x-object-sharing", "read=bob")];
    let made = call(
        &app,
        Method::PUT,
        "/alice/pithos/s",
        ALICE.0,
        &shared,
        b"s".to_vec(),
    )
    .await;
    assert_eq!(made.status(), 201);
    assert_eq!(
        put(&app, "/alice/pithos/plain", ALICE.0, b"p")
            .await
            .status(),
        201
    );
    assert_eq!(
        put(&app, "/alice/pithos/pub", ALICE.0, b"q").await.status(),
        201
    );
    let public = [("x-object-public", "true")];
    let published = call(
        &app,
        Method::POST,
        "/alice/pithos/pub",
        ALICE.0,
        &public,
        Vec::new(),
    )
    .await;
    assert_eq!(published.status(), 202);
    let listed: serde_json::Value = sharers(BOB.0, true).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "alice");
    assert!(listed[0]["last_modified"].is_string());
    assert_eq!(sharers(BOB.0, false).await.text().await.unwrap(), "alice\n");
    // kamaki's `sharer list` asks the endpoint itself, without the `/`.
    let bare = app
        .client
        .get(app.url("/object-store/v1?format=json"))
        .header("x-auth-token", BOB.0)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 200);
    let bare: serde_json::Value = bare.json().await.unwrap();
    assert_eq!(bare, listed);
    assert_eq!(
        sharers(CAROL.0, false).await.status(),
        204,
        "not shared with carol"
    );
    assert_eq!(
        sharers(ALICE.0, false).await.status(),
        204,
        "not one's own account"
    );
    let names = |q: &'static str| {
        let app = &app;
        async move {
            let resp = get(app, &format!("/alice/pithos?{q}"), ALICE.0).await;
            resp.text()
                .await
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("shared").await, ["s"]);
    assert_eq!(names("public").await, ["pub"]);
    assert_eq!(names("").await, ["plain", "pub", "s"]);
}

/// `Cache-Control` and `Vary` of an answer.
fn caching(resp: &reqwest::Response) -> (Option<String>, Option<String>) {
    (header(resp, "cache-control"), header(resp, "vary"))
}

#[tokio::test]
async fn answers_to_a_token_are_private_and_vary_on_it_public_urls_revalidate() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/c", ALICE.0, b"cached?")
            .await
            .status(),
        201
    );
    let private = (
        Some("private".to_string()),
        Some("X-Auth-Token".to_string()),
    );
    let etag = must_header(&head(&app, "/alice/pithos/c", ALICE.0).await, "etag");
    for (what, resp) in [
        ("HEAD", head(&app, "/alice/pithos/c", ALICE.0).await),
        ("GET", get(&app, "/alice/pithos/c", ALICE.0).await),
        (
            "GET by a query token",
            app.client
                .get(app.url(&format!(
                    "{}?X-Auth-Token={}",
                    crate::objects::os("/alice/pithos/c"),
                    ALICE.0
                )))
                .send()
                .await
                .unwrap(),
        ),
        (
            "304",
            call(
                &app,
                Method::GET,
                "/alice/pithos/c",
                ALICE.0,
                &[("if-none-match", etag.as_str())],
                Vec::new(),
            )
            .await,
        ),
        (
            "hashmap",
            get(&app, "/alice/pithos/c?hashmap=True&format=json", ALICE.0).await,
        ),
        (
            "listing",
            get(&app, "/alice/pithos?format=json", ALICE.0).await,
        ),
        ("account", get(&app, "/alice?format=json", ALICE.0).await),
        (
            "refusal",
            get(&app, "/alice/pithos/c", crate::helpers::BOB.0).await,
        ),
    ] {
        assert!(
            matches!(resp.status().as_u16(), 200 | 304 | 403),
            "{what}: {}",
            resp.status()
        );
        assert_eq!(caching(&resp), private, "{what}");
    }
    assert_eq!(publish(&app, "/alice/pithos/c", "true").await, 202);
    let url = must_header(
        &head(&app, "/alice/pithos/c", ALICE.0).await,
        "x-object-public",
    );
    let anyone = anonymous(&app, &public_path(&app, &url), None).await;
    assert_eq!(anyone.status(), 200);
    assert_eq!(
        caching(&anyone),
        (Some("public, no-cache".to_string()), None)
    );
    assert_eq!(publish(&app, "/alice/pithos/c", "false").await, 202);
    let gone = anonymous(&app, &public_path(&app, &url), None).await;
    assert_eq!(gone.status(), 404);
}
