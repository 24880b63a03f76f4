//! The object store's defects found in review (issue 24, item 8), each
//! driven over HTTP: names that break listings or file systems, a stale
//! catalogue row, hashmaps past `limits.max_image_size`. Every refusal is
//! checked to change nothing.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, ALICE, BOB};
use crate::objects::{
    call, fs_app, get, hashes_of, head, os, pattern, put, put_hashmap, put_with, refused, served,
    snapshot, BLOCK,
};
use crate::util::{header, must_header};

#[tokio::test]
async fn control_characters_and_long_segments_are_400_and_change_nothing() {
    let Some(app) = fs_app().await else { return };
    let long = "x".repeat(256);
    let fits = "y".repeat(255);
    let long_object = format!("/alice/pithos/d/{long}");
    let long_container = format!("/alice/{long}/x");
    for path in [
        "/alice/pithos/a%0Ab",
        "/alice/pithos/a%0Db",
        "/alice/pithos/a%09b",
        "/alice/pithos/a%7Fb",
        "/alice/pithos/a%C2%85b",
        "/alice/pithos/d%1B/x",
        "/alice/pi%0Athos/x",
        long_object.as_str(),
        long_container.as_str(),
    ] {
        let before = snapshot(&app);
        for method in ["PUT", "GET", "DELETE", "POST"] {
            let resp = app
                .raw_request(
                    method,
                    os(path).as_bytes(),
                    &[(b"X-Auth-Token", ALICE.0.as_bytes())],
                )
                .await;
            assert_eq!(
                resp.status,
                400,
                "{method} {path}: {}",
                String::from_utf8_lossy(&resp.body)
            );
        }
        assert_eq!(snapshot(&app), before, "{path}");
    }
    let container = format!("/alice/{long}");
    refused(
        &app,
        400,
        call(&app, Method::PUT, &container, ALICE.0, &[], Vec::new()),
    )
    .await;
    // 255 bytes is a segment a file system takes.
    let at_limit = format!("/alice/pithos/{fits}");
    assert_eq!(put(&app, &at_limit, ALICE.0, b"ok").await.status(), 201);
    let text = get(&app, "/alice/pithos", ALICE.0)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text.lines().collect::<Vec<_>>(), [fits.as_str()]);
}

#[tokio::test]
async fn a_row_whose_file_was_removed_by_hand_is_stale() {
    let Some(app) = fs_app().await else { return };
    let made = put_with(
        &app,
        "/alice/pithos/a",
        &[
            ("x-object-sharing", "read=bob"),
            ("x-object-meta-os", "debian"),
        ],
        b"old",
    )
    .await;
    assert_eq!(must_header(&made, "x-object-version"), "1");
    let again = put_with(
        &app,
        "/alice/pithos/a",
        &[("x-object-sharing", "read=bob")],
        b"two",
    )
    .await;
    assert_eq!(must_header(&again, "x-object-version"), "2");
    assert_eq!(get(&app, "/alice/pithos/a", BOB.0).await.status(), 200);
    std::fs::remove_file(app.root().join("alice/pithos/a")).unwrap();
    let fresh = put(&app, "/alice/pithos/a", ALICE.0, b"new").await;
    assert_eq!(fresh.status(), 201);
    assert_eq!(must_header(&fresh, "x-object-version"), "1", "a new object");
    assert_eq!(
        get(&app, "/alice/pithos/a", BOB.0).await.status(),
        403,
        "the old reader may not read the new data"
    );
    let h = head(&app, "/alice/pithos/a", ALICE.0).await;
    assert!(header(&h, "x-object-meta-os").is_none());
    assert!(header(&h, "x-object-sharing").is_none_or(|s| s.is_empty()));
}

#[tokio::test]
async fn a_hashmap_past_the_image_size_limit_is_413_and_changes_nothing() {
    let app = TestApp::spawn_with(|s| s.limits.max_image_size = BLOCK as u64).await;
    if !served(&app).await {
        return;
    }
    let two = pattern(BLOCK + 1, 1);
    let map = json!({"bytes": two.len(), "hashes": hashes_of(&two)});
    refused(&app, 413, put_hashmap(&app, "/alice/pithos/h", &map)).await;
    let one = pattern(BLOCK, 2);
    let map = json!({"bytes": one.len(), "hashes": hashes_of(&one)});
    let resp = put_hashmap(&app, "/alice/pithos/h", &map).await;
    assert_eq!(
        resp.status(),
        409,
        "within the limit: its blocks are asked for"
    );
}
