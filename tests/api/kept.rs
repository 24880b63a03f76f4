//! A HEAD or a v2 show answered from what a read a moment ago saw
//! (docs/behaviour.md, "Reads") is never older than the last answered
//! write: each step below first reads the image (so that its answer is
//! kept), then changes it, then reads it again at once.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, ALICE, BOB, CAROL};

/// The status of a HEAD of `id` as `token`, and its name header.
async fn head(app: &TestApp, id: &str, token: &str) -> (u16, Option<String>) {
    let resp = app.head(&format!("/v1/images/{id}"), token).await;
    let name = resp
        .headers()
        .get("x-image-meta-name")
        .map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), name)
}

/// The status of a v2 show of `id` as `token`, and the name it shows.
async fn show(app: &TestApp, id: &str, token: &str) -> (u16, Option<String>) {
    let resp = app.get(&format!("/v2/images/{id}"), token).await;
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (status, body["name"].as_str().map(str::to_string))
}

/// The names a first page of v1's detailed listing and of v2's shows.
async fn pages(app: &TestApp, token: &str) -> [Vec<String>; 2] {
    let names = |body: serde_json::Value, key: &str| -> Vec<String> {
        let list = if key.is_empty() { &body } else { &body[key] };
        let items = list.as_array().cloned().unwrap_or_default();
        items.iter().map(|i| i["name"].as_str().unwrap_or_default().to_string()).collect()
    };
    let v1 = app.list("/v1/images/detail?limit=25", token).await;
    let v2 = app.list("/v2/images?limit=25", token).await;
    [names(v1, "images"), names(v2, "images")]
}

/// Both reads of the image, and both pages, each twice (the second may be
/// answered from what was kept); the reads of the image.
async fn both(app: &TestApp, id: &str, token: &str) -> [(u16, Option<String>); 2] {
    let h = head(app, id, token).await;
    assert_eq!(head(app, id, token).await, h, "a second HEAD answers the same");
    let s = show(app, id, token).await;
    assert_eq!(show(app, id, token).await, s, "a second show answers the same");
    let listed = pages(app, token).await;
    assert_eq!(pages(app, token).await, listed, "a second page answers the same");
    let name = h.1.clone().unwrap_or_default();
    for page in listed {
        assert_eq!(page.contains(&name), h.0 == 200, "{page:?} and the HEAD's {h:?}");
    }
    [h, s]
}

async fn rename(app: &TestApp, id: &str, name: &str) {
    app.update_ok(id, ALICE.0, &[("x-image-meta-name", name)])
        .await;
}

fn seen(name: &str) -> [(u16, Option<String>); 2] {
    [(200, Some(name.to_string())), (200, Some(name.to_string()))]
}

const HIDDEN: [(u16, Option<String>); 2] = [(404, None), (404, None)];

#[tokio::test]
async fn kept_answers_follow_every_change_at_once() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("kept.img").data(b"kept").ok().await;
    rename(&app, &id, "one").await;
    assert_eq!(both(&app, &id, ALICE.0).await, seen("one"));
    assert_eq!(both(&app, &id, BOB.0).await, HIDDEN);
    // Bob becomes a member: he reads it; Alice's kept answer is not his.
    app.set_members(&id, ALICE.0, &[BOB.1]).await;
    assert_eq!(both(&app, &id, BOB.0).await, seen("one"));
    assert_eq!(both(&app, &id, ALICE.0).await, seen("one"));
    // A change of the image reaches both at once.
    rename(&app, &id, "two").await;
    assert_eq!(both(&app, &id, BOB.0).await, seen("two"));
    assert_eq!(both(&app, &id, ALICE.0).await, seen("two"));
    // Bob is no longer a member: what he was let read is not kept for him.
    app.set_members(&id, ALICE.0, &[]).await;
    assert_eq!(both(&app, &id, BOB.0).await, HIDDEN);
    // Public, then private again: Carol sees it, then does not.
    app.update_ok(&id, ALICE.0, &[("x-image-meta-is-public", "true")])
        .await;
    assert_eq!(both(&app, &id, CAROL.0).await, seen("two"));
    app.update_ok(&id, ALICE.0, &[("x-image-meta-is-public", "false")])
        .await;
    assert_eq!(both(&app, &id, CAROL.0).await, HIDDEN);
    // A v2 PATCH is seen by v1's HEAD at once, and the other way round.
    let patch = json!([{"op": "replace", "path": "/name", "value": "three"}]).to_string();
    let resp = app
        .client
        .patch(app.url(&format!("/v2/images/{id}")))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/openstack-images-v2.1-json-patch")
        .body(patch)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(both(&app, &id, ALICE.0).await, seen("three"));
    // Unregistered: gone for everybody at once.
    let resp = app
        .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(both(&app, &id, ALICE.0).await, HIDDEN);
}
