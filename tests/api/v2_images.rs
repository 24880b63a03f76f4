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
    app.v2_create(token, body).await
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

/// The ids of a v2 list page at `path` as `token`, and its `next`.
async fn page(app: &TestApp, path: &str, token: &str) -> (Vec<String>, Option<String>) {
    let body = app.list(path, token).await;
    assert_eq!(body["schema"], "/v2/schemas/images", "{body}");
    let ids = body["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    (ids, body["next"].as_str().map(str::to_string))
}

/// Makes an image, returning its id.
async fn make(app: &TestApp, token: &str, body: Value) -> String {
    created(app, token, body).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_default_list_is_own_public_and_accepted_shared_newest_first_without_hidden() {
    let app = TestApp::spawn().await;
    let mine = make(&app, ALICE.0, json!({"name": "a-shared"})).await;
    let private = make(
        &app,
        ALICE.0,
        json!({"name": "a-private", "visibility": "private"}),
    )
    .await;
    let hidden = make(
        &app,
        ALICE.0,
        json!({"name": "a-hidden", "os_hidden": true}),
    )
    .await;
    let public = make(
        &app,
        BOB.0,
        json!({"name": "b-public", "visibility": "public"}),
    )
    .await;
    let community = make(
        &app,
        BOB.0,
        json!({"name": "b-comm", "visibility": "community"}),
    )
    .await;
    let bobs = make(&app, BOB.0, json!({"name": "b-shared"})).await;
    let (ids, next) = page(&app, "/v2/images", ALICE.0).await;
    assert_eq!(ids, vec![public.clone(), private.clone(), mine.clone()]);
    assert_eq!(next, None);
    let (ids, _) = page(&app, "/v2/images?visibility=all", ALICE.0).await;
    assert_eq!(
        ids,
        vec![
            community.clone(),
            public.clone(),
            private.clone(),
            mine.clone()
        ]
    );
    let (ids, _) = page(&app, "/v2/images?visibility=community", ALICE.0).await;
    assert_eq!(ids, vec![community.clone()]);
    let (ids, _) = page(&app, "/v2/images?os_hidden=True", ALICE.0).await;
    assert_eq!(ids, vec![hidden]);
    let (ids, _) = page(&app, "/v2/images?sort=name:asc", ALICE.0).await;
    assert_eq!(ids, vec![private.clone(), mine.clone(), public.clone()]);
    let (ids, _) = page(&app, "/v2/images?name=in:a-shared,b-public", ALICE.0).await;
    assert_eq!(ids, vec![public.clone(), mine.clone()]);
    let (ids, _) = page(&app, "/v2/images", BOB.0).await;
    assert_eq!(ids, vec![bobs, community, public]);
    let (ids, _) = page(&app, "/v2/images?status=bogus", ALICE.0).await;
    assert!(ids.is_empty());
}

#[tokio::test]
async fn pages_follow_next_to_the_end_and_filters_apply() {
    let app = TestApp::spawn().await;
    let mut made = Vec::new();
    for n in 0..5 {
        let tags = if n % 2 == 0 {
            json!(["even"])
        } else {
            json!([])
        };
        made.push(
            make(
                &app,
                ALICE.0,
                json!({"name": format!("i{n}"), "tags": tags, "k": "v w"}),
            )
            .await,
        );
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut path = "/v2/images?limit=2&k=v+w".to_string();
    loop {
        let (ids, next) = page(&app, &path, ALICE.0).await;
        seen.extend(ids);
        match next {
            Some(n) => {
                assert!(n.starts_with("/v2/images?limit=2&k=v+w&marker="), "{n}");
                path = n;
            }
            None => break,
        }
    }
    assert_eq!(seen, made);
    let (ids, next) = page(
        &app,
        "/v2/images?tag=even&sort_key=name&sort_dir=asc",
        ALICE.0,
    )
    .await;
    assert_eq!(ids, vec![made[4].clone(), made[2].clone(), made[0].clone()]);
    assert_eq!(next, None);
    let (ids, next) = page(&app, "/v2/images?limit=0", ALICE.0).await;
    assert!(ids.is_empty() && next.is_none());
    let (ids, _) = page(&app, "/v2/images?k=other", ALICE.0).await;
    assert!(ids.is_empty());
}

#[tokio::test]
async fn bad_list_queries_and_markers_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let private = make(&app, BOB.0, json!({"name": "b", "visibility": "private"})).await;
    let before = catalogue(&app).await;
    let unknown = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    for query in [
        "sort_key=bogus".to_string(),
        "sort_dir=up".to_string(),
        "sort=name&sort_key=id".to_string(),
        "limit=-1".to_string(),
        "limit=x".to_string(),
        "marker=nope".to_string(),
        format!("marker={unknown}"),
        format!("marker={private}"),
        "visibility=everyone".to_string(),
        "member_status=maybe".to_string(),
        "changes-since=2024-01-01T00:00:00Z".to_string(),
        "size_min=-3".to_string(),
        "limit=1&limit=2".to_string(),
    ] {
        let resp = app.get(&format!("/v2/images?{query}"), ALICE.0).await;
        assert_eq!(resp.status().as_u16(), 400, "{query}");
    }
    assert_eq!(catalogue(&app).await, before);
}

/// A PATCH of `ops` with the v2.1 media type as `token`.
async fn patch(app: &TestApp, id: &str, token: &str, ops: Value) -> Response {
    app.client
        .patch(app.url(&format!("/v2/images/{id}")))
        .header("x-auth-token", token)
        .header(
            "content-type",
            "application/openstack-images-v2.1-json-patch",
        )
        .body(ops.to_string())
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn patch_applies_every_op_in_order_and_returns_the_image() {
    let app = TestApp::spawn().await;
    let id = make(&app, ALICE.0, json!({"name": "x", "p": "1", "tags": ["t"]})).await;
    let ops = json!([
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/visibility", "value": "public"},
        {"op": "add", "path": "/tags", "value": ["b", "a"]},
        {"op": "add", "path": "/acc~1slash", "value": ""},
        {"op": "replace", "path": "/p", "value": "2"},
        {"op": "add", "path": "/disk_format", "value": "qcow2"},
        {"op": "add", "path": "/min_ram", "value": 64},
    ]);
    let image = json_with_status(patch(&app, &id, ALICE.0, ops).await, 200).await;
    assert_eq!(
        (
            &image["name"],
            &image["visibility"],
            &image["tags"],
            &image["acc/slash"]
        ),
        (
            &json!("renamed"),
            &json!("public"),
            &json!(["a", "b"]),
            &json!("")
        )
    );
    assert_eq!(
        (&image["p"], &image["disk_format"], &image["min_ram"]),
        (&json!("2"), &json!("qcow2"), &json!(64))
    );
    let shown = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    assert_eq!(shown, image);
    // `[]` is 200 for a reader (Bob: the image is public now).
    let empty = patch(&app, &id, BOB.0, json!([])).await;
    assert_eq!(json_with_status(empty, 200).await, image);
    let remove = json!([{"op": "remove", "path": "/p"}]);
    let image = json_with_status(patch(&app, &id, ALICE.0, remove).await, 200).await;
    assert!(image.get("p").is_none());
}

#[tokio::test]
async fn refused_patches_change_nothing() {
    let app = TestApp::spawn_with(|s| s.limits.max_tags = 2).await;
    let id = make(
        &app,
        ALICE.0,
        json!({"name": "x", "visibility": "public", "p": "1"}),
    )
    .await;
    let before = catalogue(&app).await;
    let shown = || async {
        app.get(&format!("/v2/images/{id}"), ALICE.0)
            .await
            .text()
            .await
            .unwrap()
    };
    let original = shown().await;
    // 415 with Accept-Patch, whatever the body.
    let resp = app
        .client
        .patch(app.url(&format!("/v2/images/{id}")))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    assert!(must_header(&resp, "accept-patch").contains("v2.1-json-patch"));
    for (token, ops, status) in [
        (ALICE.0, json!({"op": "add"}), 400),
        (
            ALICE.0,
            json!([{"op": "move", "path": "/name", "value": "y"}]),
            400,
        ),
        (
            ALICE.0,
            json!([{"op": "add", "path": "/a/b", "value": "y"}]),
            400,
        ),
        (
            ALICE.0,
            json!([{"op": "add", "path": "/min_ram", "value": -1}]),
            400,
        ),
        (
            ALICE.0,
            json!([{"op": "add", "path": "/name", "value": "ok"}, {"op": "add", "path": "/status", "value": "active"}]),
            403,
        ),
        (
            ALICE.0,
            json!([{"op": "add", "path": "/os_glance_x", "value": "y"}]),
            403,
        ),
        (
            ALICE.0,
            json!([{"op": "add", "path": "/owner", "value": "bob"}]),
            403,
        ),
        (ALICE.0, json!([{"op": "remove", "path": "/name"}]), 403),
        (
            BOB.0,
            json!([{"op": "add", "path": "/name", "value": "mine"}]),
            403,
        ),
        (
            ALICE.0,
            json!([{"op": "add", "path": "/name", "value": "y"}, {"op": "remove", "path": "/absent"}]),
            409,
        ),
        (
            ALICE.0,
            json!([{"op": "replace", "path": "/absent", "value": "y"}]),
            409,
        ),
        (
            ALICE.0,
            json!([{"op": "add", "path": "/tags", "value": ["a", "b", "c"]}]),
            413,
        ),
    ] {
        let resp = patch(&app, &id, token, ops.clone()).await;
        assert_eq!(resp.status().as_u16(), status, "{ops}");
    }
    let unknown = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    let resp = patch(&app, unknown, ALICE.0, json!([])).await;
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(shown().await, original);
    assert_eq!(catalogue(&app).await, before);
}

#[tokio::test]
async fn delete_leaves_a_tombstone_refuses_protected_and_strangers() {
    let app = TestApp::spawn().await;
    let id = make(
        &app,
        ALICE.0,
        json!({"name": "x", "protected": true, "visibility": "public"}),
    )
    .await;
    let before = catalogue(&app).await;
    let url = format!("/v2/images/{id}");
    let app = &app;
    let del = |token: &'static str| {
        let url = url.clone();
        async move { app.request(Method::DELETE, &url, Some(token), &[]).await }
    };
    fault(del(ALICE.0).await, 403, "protected").await;
    fault(del(BOB.0).await, 403, "owner").await;
    assert_eq!(catalogue(app).await, before);
    let unprotect = json!([{"op": "replace", "path": "/protected", "value": false}]);
    json_with_status(patch(app, &id, ALICE.0, unprotect).await, 200).await;
    assert_eq!(del(ALICE.0).await.status().as_u16(), 204);
    fault(app.get(&url, ALICE.0).await, 404, &id).await;
    assert_eq!(del(ALICE.0).await.status().as_u16(), 404);
    // The id stays used.
    let again = create(app, ALICE.0, &json!({"id": id, "name": "x"})).await;
    assert_eq!(again.status().as_u16(), 409);
}

#[tokio::test]
async fn deleting_an_uploaded_image_deletes_its_object_and_v1_delete_keeps_it() {
    let app = TestApp::spawn().await;
    let upload = |name: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(app.url("/images"))
                .header("x-auth-token", ALICE.0)
                .header("content-type", "application/octet-stream")
                .header("x-image-meta-name", name)
                .body(b"some image data".to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{name}");
            must_header(&resp, "x-image-meta-id")
        }
    };
    let v2 = upload("v2").await;
    let v1 = upload("v1").await;
    let path = |id: &str| app.root().join("alice").join("images").join(id);
    let v2_path = path(&v2);
    let resp = app
        .request(
            Method::DELETE,
            &format!("/v2/images/{v2}"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 204);
    let resp = app
        .request(Method::DELETE, &format!("/images/{v1}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(resp.status().as_u16(), 204);
    if !crate::HTTP_BACKENDS {
        assert!(!v2_path.exists(), "{v2_path:?}");
        assert!(path(&v1).exists());
    }
}

/// A PUT of `data` to an image's file as `token`, with extra headers.
async fn put_file(
    app: &TestApp,
    id: &str,
    token: &str,
    data: &[u8],
    headers: &[(&str, &str)],
) -> Response {
    let mut req = app
        .client
        .put(app.url(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", token)
        .body(data.to_vec());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request sent")
}

const OCTETS: (&str, &str) = ("content-type", "application/octet-stream");

#[tokio::test]
async fn upload_makes_the_image_active_and_download_returns_its_bytes() {
    let app = TestApp::spawn().await;
    let id = make(
        &app,
        ALICE.0,
        json!({"name": "x", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let file = format!("/v2/images/{id}/file");
    let none = app.get(&file, ALICE.0).await;
    assert_eq!(none.status().as_u16(), 204);
    let data = b"0123456789".repeat(100);
    let resp = put_file(
        &app,
        &id,
        ALICE.0,
        &data,
        &[OCTETS, ("x-openstack-image-size", "1000")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 204);
    let image = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    assert_eq!(
        (&image["status"], &image["size"]),
        (&json!("active"), &json!(1000))
    );
    assert_eq!(image["checksum"], crate::util::md5_hex(&data));
    // In either store: the fs store's staging and Pithos's upload both
    // hash the data as it streams in.
    use sha2::Digest;
    let sha512 = hex::encode(sha2::Sha512::digest(&data));
    assert_eq!(
        (&image["os_hash_algo"], &image["os_hash_value"]),
        (&json!("sha512"), &json!(sha512))
    );
    let resp = app.get(&file, ALICE.0).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        must_header(&resp, "content-type"),
        "application/octet-stream"
    );
    assert_eq!(
        must_header(&resp, "content-md5"),
        crate::util::md5_hex(&data)
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());
    let part = app
        .request(Method::GET, &file, Some(ALICE.0), &[("range", "bytes=0-3")])
        .await;
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"0123");
    let past = app
        .request(
            Method::GET,
            &file,
            Some(ALICE.0),
            &[("range", "bytes=5000-")],
        )
        .await;
    assert_eq!(past.status().as_u16(), 416);
    // A second upload: 409, nothing changed.
    let before = catalogue(&app).await;
    let again = put_file(&app, &id, ALICE.0, b"other", &[OCTETS]).await;
    assert_eq!(again.status().as_u16(), 409);
    assert_eq!(catalogue(&app).await, before);
    // An empty body makes an active image of size 0.
    let empty = make(
        &app,
        ALICE.0,
        json!({"name": "e", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    assert_eq!(
        put_file(&app, &empty, ALICE.0, b"", &[OCTETS])
            .await
            .status()
            .as_u16(),
        204
    );
    let image = json_with_status(app.get(&format!("/v2/images/{empty}"), ALICE.0).await, 200).await;
    assert_eq!(
        (&image["status"], &image["size"]),
        (&json!("active"), &json!(0))
    );
}

#[tokio::test]
async fn refused_uploads_store_nothing_and_leave_the_image_queued() {
    let app = TestApp::spawn_with(|s| s.limits.max_image_size = 100).await;
    let id = make(
        &app,
        ALICE.0,
        json!({"name": "x", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let bare = make(&app, ALICE.0, json!({"name": "no formats"})).await;
    let before = catalogue(&app).await;
    let shown = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    for (who, image, headers, data, status) in [
        (
            ALICE.0,
            &id,
            vec![("content-type", "application/json")],
            &b"{}"[..],
            415,
        ),
        (ALICE.0, &id, vec![], &b"abc"[..], 415),
        (
            ALICE.0,
            &id,
            vec![OCTETS, ("x-openstack-image-size", "x")],
            &b"abc"[..],
            400,
        ),
        (
            ALICE.0,
            &id,
            vec![OCTETS, ("x-openstack-image-size", "4")],
            &b"abc"[..],
            400,
        ),
        (ALICE.0, &bare, vec![OCTETS], &b"abc"[..], 400),
        (BOB.0, &id, vec![OCTETS], &b"abc"[..], 404),
        (ALICE.0, &id, vec![OCTETS], &[7u8; 101][..], 413),
        (
            ALICE.0,
            &"not-a-uuid".to_string(),
            vec![OCTETS],
            &b"abc"[..],
            404,
        ),
    ] {
        let resp = put_file(&app, image, who, data, &headers).await;
        assert_eq!(resp.status().as_u16(), status, "{headers:?}");
    }
    let after = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    assert_eq!(after["status"], "queued");
    assert_eq!(
        (&after["size"], &after["checksum"]),
        (&json!(null), &json!(null))
    );
    assert_eq!(after, shown);
    assert_eq!(catalogue(&app).await, before);
    if !crate::HTTP_BACKENDS {
        assert!(!app.root().join("alice").join("images").join(&id).exists());
    }
}

#[tokio::test]
async fn an_image_left_saving_without_data_is_queued_again_at_start() {
    if crate::POSTGRES {
        // On SQLite, the one process of the file re-queues at start; on
        // PostgreSQL another process may be saving it (not done there).
        return;
    }
    let app = TestApp::spawn().await;
    let id = make(
        &app,
        ALICE.0,
        json!({"name": "x", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    {
        // What a stop in the middle of an upload leaves.
        let conn = rusqlite::Connection::open(crate::helpers::db_path(&app)).unwrap();
        conn.execute(
            "UPDATE images SET status = 'saving', location = ?2, size = 0, checksum = '' WHERE id = ?1",
            rusqlite::params![id, format!("pithos://alice/images/{id}")],
        )
        .unwrap();
    }
    let app = app.restart().await;
    let image = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    assert_eq!(
        (&image["status"], &image["size"]),
        (&json!("queued"), &json!(null))
    );
    let resp = put_file(&app, &id, ALICE.0, b"data", &[OCTETS]).await;
    assert_eq!(resp.status().as_u16(), 204);
}

#[tokio::test]
async fn a_list_page_shows_each_image_exactly_as_show_does() {
    let app = TestApp::spawn().await;
    // No tag anywhere yet: the page reads none.
    make(&app, ALICE.0, json!({"name": "untagged \"quoted\" \\ é"})).await;
    make(
        &app,
        ALICE.0,
        json!({"name": "tagged", "tags": ["z", "a/b", "é"], "k\"q": "v\\w", "os:x": "",
               "visibility": "community", "os_hidden": false, "min_ram": 5}),
    )
    .await;
    // Through v1, with a property named like a v2 field (v2 hides it) and
    // data: size, checksum and os_hash shown.
    app.alice()
        .register("v1.img")
        .data(b"some data")
        .property("size", "shadowed")
        .property("arch", "x86_64")
        .ok()
        .await;
    let page = app.list("/v2/images?visibility=all", ALICE.0).await;
    let images = page["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    for listed in images {
        let id = listed["id"].as_str().unwrap();
        let shown = app.list(&format!("/v2/images/{id}"), ALICE.0).await;
        assert_eq!(listed, &shown);
    }
    let tagged = images.iter().find(|i| i["name"] == "tagged").unwrap();
    assert_eq!(tagged["tags"], json!(["a/b", "z", "é"]));
    assert_eq!(
        (&tagged["k\"q"], &tagged["os:x"]),
        (&json!("v\\w"), &json!(""))
    );
    let v1 = images.iter().find(|i| i["name"] == "v1.img").unwrap();
    assert_eq!((&v1["size"], &v1["arch"]), (&json!(9), &json!("x86_64")));
}
