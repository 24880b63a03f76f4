//! v2 images end to end (docs/api.md §17.2–§17.6, §17.9): create, show,
//! list, upload, download, update, delete, and every refusal with proof
//! that nothing changed.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{TestApp, ALICE, BOB};
use crate::util::{json_with_status, must_header};

/// What the catalogue holds, as Alice and Bob see it through v1: the proof
/// that a refused request changed nothing.
async fn catalogue(app: &TestApp) -> (Value, Value) {
    (
        app.list("/images/detail", ALICE.0).await,
        app.list("/images/detail", BOB.0).await,
    )
}

/// A POST /v2/images of `body` as `token`.
async fn create(app: &TestApp, token: &str, body: &Value) -> Response {
    app.send_body(
        Method::POST,
        "/v2/images",
        Some(token),
        body.to_string().as_bytes(),
    )
    .await
}

/// Creates an image as `token`, asserting 201; its JSON.
async fn created(app: &TestApp, token: &str, body: Value) -> Value {
    json_with_status(create(app, token, &body).await, 201).await
}

/// Asserts a Glance fault of `status` whose message holds `needle`.
async fn fault(resp: Response, status: u16, needle: &str) {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.expect("a JSON fault");
    assert_eq!(got, status, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

#[tokio::test]
async fn create_makes_a_queued_image_with_every_field_and_show_returns_it() {
    let app = TestApp::spawn().await;
    let resp = create(
        &app,
        ALICE.0,
        &json!({"name": "Debian", "tags": ["b", "a", "b"], "os_distro": "debian",
                "owner_specified.openstack.md5": ""}),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 201);
    let location = must_header(&resp, "location");
    let image: Value = resp.json().await.unwrap();
    let id = image["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("{}/v2/images/{id}", app.address));
    let created_at = image["created_at"].as_str().unwrap().to_string();
    assert!(
        created_at.ends_with('Z') && created_at.contains('T'),
        "{created_at}"
    );
    let expected = json!({
        "id": id, "name": "Debian", "status": "queued", "visibility": "shared",
        "protected": false, "os_hidden": false, "owner": "alice",
        "disk_format": null, "container_format": null, "min_ram": 0, "min_disk": 0,
        "size": null, "virtual_size": null, "checksum": null,
        "os_hash_algo": null, "os_hash_value": null,
        "created_at": created_at, "updated_at": created_at, "tags": ["a", "b"],
        "self": format!("/v2/images/{id}"), "file": format!("/v2/images/{id}/file"),
        "schema": "/v2/schemas/image", "os_distro": "debian",
        "owner_specified.openstack.md5": "",
    });
    assert_eq!(image, expected);
    let shown = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    assert_eq!(shown, expected);
    // Shared, no members: Bob does not see it; the upper-case id is the same image.
    let bob = app.get(&format!("/v2/images/{id}"), BOB.0).await;
    fault(bob, 404, &id).await;
    let upper = app
        .get(&format!("/v2/images/{}", id.to_uppercase()), ALICE.0)
        .await;
    assert_eq!(json_with_status(upper, 200).await, expected);
}

#[tokio::test]
async fn create_honours_an_id_once_and_a_used_id_is_409() {
    let app = TestApp::spawn().await;
    let id = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    let body = json!({"id": id, "name": "x", "visibility": "public",
                      "disk_format": "qcow2", "container_format": "bare", "min_ram": 512});
    let image = created(&app, ALICE.0, body.clone()).await;
    assert_eq!(
        (
            &image["id"],
            &image["visibility"],
            &image["disk_format"],
            &image["min_ram"]
        ),
        (&json!(id), &json!("public"), &json!("qcow2"), &json!(512))
    );
    // Public: Bob reads it.
    let bob = app.get(&format!("/v2/images/{id}"), BOB.0).await;
    assert_eq!(json_with_status(bob, 200).await, image);
    let before = catalogue(&app).await;
    fault(create(&app, BOB.0, &body).await, 409, id).await;
    fault(create(&app, ALICE.0, &body).await, 409, id).await;
    assert_eq!(catalogue(&app).await, before);
}

#[tokio::test]
async fn malformed_and_invalid_create_bodies_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    created(&app, ALICE.0, json!({"name": "kept"})).await;
    let before = catalogue(&app).await;
    let bodies: [&[u8]; 11] = [
        b"not json",
        b"[]",
        b"{}",
        br#"{"name": null}"#,
        br#"{"name": ""}"#,
        br#"{"name": "x", "min_ram": -1}"#,
        br#"{"name": "x", "protected": "true"}"#,
        br#"{"name": "x", "acc": 5}"#,
        br#"{"name": "x", "id": "nope"}"#,
        br#"{"name": "x", "name": "y"}"#,
        br#"{"name": "x", "disk_format": "floppy"}"#,
    ];
    for body in bodies {
        let resp = app
            .send_body(Method::POST, "/v2/images", Some(ALICE.0), body)
            .await;
        let text = String::from_utf8_lossy(body).to_string();
        assert_eq!(resp.status().as_u16(), 400, "{text}");
    }
    let long = "n".repeat(256);
    fault(
        create(&app, ALICE.0, &json!({"name": long})).await,
        400,
        "name",
    )
    .await;
    assert_eq!(catalogue(&app).await, before);
}

#[tokio::test]
async fn read_only_reserved_and_foreign_owner_keys_are_403_and_change_nothing() {
    let app = TestApp::spawn().await;
    let before = catalogue(&app).await;
    for (key, value) in [
        ("status", json!("active")),
        ("size", json!(1)),
        ("checksum", json!("x")),
        ("location", json!("pithos://alice/images/x")),
        ("os_glance_x", json!("y")),
        ("owner", json!("bob")),
    ] {
        let mut body = json!({"name": "x"});
        body[key] = value;
        let resp = create(&app, ALICE.0, &body).await;
        assert_eq!(resp.status().as_u16(), 403, "{key}");
    }
    assert_eq!(catalogue(&app).await, before);
    // The caller's own id as owner is fine.
    let own = created(&app, ALICE.0, json!({"name": "x", "owner": "alice"})).await;
    assert_eq!(own["owner"], "alice");
}

#[tokio::test]
async fn too_many_tags_or_properties_are_413_and_change_nothing() {
    let app = TestApp::spawn_with(|s| {
        s.limits.max_tags = 2;
        s.limits.max_properties = 2;
    })
    .await;
    let before = catalogue(&app).await;
    let tags = json!({"name": "x", "tags": ["a", "b", "c"]});
    fault(create(&app, ALICE.0, &tags).await, 413, "tags").await;
    let props = json!({"name": "x", "p": "1", "q": "2", "r": "3"});
    fault(create(&app, ALICE.0, &props).await, 413, "properties").await;
    assert_eq!(catalogue(&app).await, before);
    // At the limits: fine.
    created(
        &app,
        ALICE.0,
        json!({"name": "x", "tags": ["a", "b"], "p": "1", "q": "2"}),
    )
    .await;
}

#[tokio::test]
async fn show_of_a_bad_or_unknown_id_is_404() {
    let app = TestApp::spawn().await;
    fault(
        app.get("/v2/images/not-a-uuid", ALICE.0).await,
        404,
        "not-a-uuid",
    )
    .await;
    let unknown = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    fault(
        app.get(&format!("/v2/images/{unknown}"), ALICE.0).await,
        404,
        unknown,
    )
    .await;
    let head = app.head(&format!("/v2/images/{unknown}"), ALICE.0).await;
    assert_eq!(head.status().as_u16(), 404);
}
