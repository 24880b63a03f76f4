//! Every refusal of v2 (docs/api.md §17) the other v2 tests do not make,
//! each with the proof that nothing changed: the images read back equal,
//! the v1 and v2 lists unchanged, and no file added to or taken from the
//! store or its staging. Table-driven: a case is a request and the fault
//! it must get; a fault always has Glance's JSON body naming what was
//! wrong.

use std::path::Path;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{catalogue_sql, TestApp, ALICE, BOB};

const PATCH_21: &str = "application/openstack-images-v2.1-json-patch";
const PATCH_20: &str = "application/openstack-images-v2.0-json-patch";
const OCTETS: &str = "application/octet-stream";
const UNKNOWN: &str = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";

/// One refused request: what is sent, and the fault it gets.
struct Case {
    method: Method,
    path: String,
    token: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// A piece of the fault's message (case-insensitive).
    needle: String,
}

impl Case {
    fn new(method: Method, path: &str, status: u16, needle: &str) -> Case {
        Case {
            method,
            path: path.to_string(),
            token: ALICE.0,
            content_type: None,
            body: Vec::new(),
            status,
            needle: needle.to_string(),
        }
    }

    fn by(mut self, token: &'static str) -> Case {
        self.token = token;
        self
    }

    fn typed(mut self, content_type: &'static str) -> Case {
        self.content_type = Some(content_type);
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = body.into();
        self
    }

    /// Sends the case and asserts its fault: status, Glance's body with
    /// `code` and `title`, and a message holding the needle.
    async fn check(&self, app: &TestApp) {
        let mut req = app
            .client
            .request(self.method.clone(), app.url(&self.path))
            .header("x-auth-token", self.token)
            .body(self.body.clone());
        if let Some(t) = self.content_type {
            req = req.header("content-type", t);
        }
        let resp = req.send().await.expect("request sent");
        let what = format!(
            "{} {} {:?}",
            self.method,
            self.path,
            String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
        );
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(got, self.status, "{what}: {text}");
        let fault: Value = serde_json::from_str(&text).expect("a JSON fault");
        assert!(
            fault["code"]
                .as_str()
                .unwrap()
                .starts_with(&got.to_string()),
            "{what}: {fault}"
        );
        assert!(fault["title"].is_string(), "{what}: {fault}");
        let message = fault["message"].as_str().unwrap().to_lowercase();
        assert!(
            message.contains(&self.needle.to_lowercase()),
            "{what}: {message:?} lacks {:?}",
            self.needle
        );
    }
}

/// Every file under `dir` (the store, staging included) with its size.
fn files(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                dirs.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, meta.len()));
            }
        }
    }
    out.sort();
    out
}

/// What a refused request must leave as it was: the images `ids` as v2
/// shows them to their owner, the v1 lists of Alice and Bob, Alice's v2
/// lists (hidden or not, every visibility and member status), and the
/// files of the store.
async fn proof(app: &TestApp, ids: &[&str]) -> Value {
    let mut shown = Vec::new();
    for id in ids {
        shown.push(app.list(&format!("/v2/images/{id}"), ALICE.0).await);
    }
    let all = "/v2/images?visibility=all&member_status=all&limit=1000";
    json!({
        "shown": shown,
        "v1": [
            app.list("/images/detail", ALICE.0).await,
            app.list("/images/detail", BOB.0).await,
        ],
        "v2": [
            app.list(all, ALICE.0).await,
            app.list(&format!("{all}&os_hidden=true"), ALICE.0).await,
        ],
        "store": format!("{:?}", files(&app.root())),
    })
}

/// Runs every case, then checks that nothing changed.
async fn refuse_all(app: &TestApp, ids: &[&str], cases: &[Case]) {
    let before = proof(app, ids).await;
    for case in cases {
        case.check(app).await;
    }
    assert_eq!(proof(app, ids).await, before);
}

/// Creates an image as Alice; its id.
async fn make(app: &TestApp, body: Value) -> String {
    app.v2_queued(ALICE.0, &body).await
}

/// Creates an image with formats as Alice and uploads `data` to it.
async fn active(app: &TestApp, body: Value, data: &[u8]) -> String {
    let mut body = body;
    body["disk_format"] = json!("raw");
    body["container_format"] = json!("bare");
    let id = make(app, body).await;
    let resp = app
        .client
        .put(app.url(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", ALICE.0)
        .header("content-type", OCTETS)
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    id
}

/// Sets a column of image `id`'s row directly (a state no request of this
/// test should reach by itself).
fn set_column(app: &TestApp, id: &str, column: &str, value: &str) {
    let sql = format!("UPDATE images SET {column} = ?2 WHERE id = ?1 RETURNING 1");
    assert_eq!(catalogue_sql(app, &sql, &[id, value]).len(), 1);
}

fn create(body: impl Into<Vec<u8>>, status: u16, needle: &str) -> Case {
    Case::new(Method::POST, "/v2/images", status, needle).body(body)
}

fn create_json(body: Value, status: u16, needle: &str) -> Case {
    create(body.to_string(), status, needle)
}

#[tokio::test]
async fn refused_creates_change_nothing() {
    let app = TestApp::spawn_with(|s| s.limits.max_properties = 3).await;
    let kept = make(&app, json!({"name": "kept", "p": "1"})).await;
    let gone = make(&app, json!({"name": "gone"})).await;
    let del = app
        .request(
            Method::DELETE,
            &format!("/v2/images/{gone}"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(del.status().as_u16(), 204);
    let mut cases = Vec::new();
    // Read-only (`id` aside) and reserved keys: 403, whatever the value.
    for key in [
        "status",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
        "self",
        "file",
        "schema",
        "locations",
        "direct_url",
        "stores",
        "location",
        "deleted",
        "deleted_at",
        "os_glance_import",
    ] {
        cases.push(create_json(json!({"name": "x", key: "v"}), 403, key));
    }
    let big_key = "k".repeat(256);
    for (body, needle) in [
        (json!({"name": "x", "visibility": "everyone"}), "visibility"),
        (json!({"name": "x", "os_hidden": 1}), "os_hidden"),
        (json!({"name": "x", "protected": null}), "protected"),
        (
            json!({"name": "x", "min_disk": 9_223_372_036_854_775_808u64}),
            "min_disk",
        ),
        (json!({"name": "x", "min_ram": 1.5}), "min_ram"),
        (
            json!({"name": "x", "container_format": "crate"}),
            "container_format",
        ),
        (json!({"name": "x", "tags": "a"}), "tags"),
        (json!({"name": "x", "tags": [""]}), "tag"),
        (json!({"name": "x", "tags": ["t".repeat(256)]}), "tag"),
        (json!({"name": "x", "tags": [1]}), "tag"),
        (json!({"name": "x", "owner": 5}), "owner"),
        (json!({"name": 5}), "name"),
        (
            json!({"name": "x", "id": UNKNOWN.to_uppercase() + "0"}),
            "id",
        ),
        (json!({"name": "x", "acc": null}), "acc"),
        (json!({"name": "x", "acc": "v".repeat(4097)}), "acc"),
        (json!({"name": "x", big_key.clone(): "v"}), &big_key[..20]),
        (json!({"name": "x", "": "v"}), "property"),
    ] {
        cases.push(create_json(body, 400, needle));
    }
    for (body, needle) in [
        (&b"\xff\xfe"[..], ""),
        (b"", ""),
        (b"\"name\"", "object"),
        (br#"{"name": "x", "tags": ["a"], "tags": ["b"]}"#, "tags"),
        (br#"{"name": "x"} trailing"#, ""),
    ] {
        cases.push(create(body, 400, needle));
    }
    // Over 1 MiB of JSON: 413, before anything is parsed.
    let huge = format!(r#"{{"name": "x", "p": "{}"}}"#, "v".repeat(1 << 20));
    cases.push(create(huge, 413, ""));
    // Over max_properties (3): 413.
    cases.push(create_json(
        json!({"name": "x", "a": "1", "b": "2", "c": "3", "d": "4"}),
        413,
        "properties",
    ));
    // Ids given twice: a live image's, a tombstone's (in either case).
    cases.push(create_json(json!({"name": "x", "id": kept}), 409, &kept));
    cases.push(create_json(
        json!({"name": "x", "id": gone.to_uppercase()}),
        409,
        &gone,
    ));
    refuse_all(&app, &[&kept], &cases).await;
}

fn patch(id: &str, ops: Value, status: u16, needle: &str) -> Case {
    Case::new(Method::PATCH, &format!("/v2/images/{id}"), status, needle)
        .typed(PATCH_21)
        .body(ops.to_string())
}

#[tokio::test]
async fn refused_patches_change_nothing() {
    let app = TestApp::spawn_with(|s| s.limits.max_properties = 2).await;
    let id = active(&app, json!({"name": "x", "p": "1"}), b"data").await;
    let url = format!("/v2/images/{id}");
    let mut cases = vec![
        // Media types: none, JSON, merge-patch: 415 before the body is read.
        Case::new(Method::PATCH, &url, 415, "content-type").body("[]"),
        Case::new(Method::PATCH, &url, 415, "")
            .typed("application/json-patch+json")
            .body("not even json"),
        // Malformed documents: 400.
        Case::new(Method::PATCH, &url, 400, "")
            .typed(PATCH_21)
            .body("not json"),
        Case::new(Method::PATCH, &url, 400, "")
            .typed(PATCH_21)
            .body(&b"[\xff]"[..]),
        Case::new(Method::PATCH, &url, 400, "")
            .typed(PATCH_21)
            .body(r#"[{"op": "add", "op": "add", "path": "/name", "value": "y"}]"#),
    ];
    for (ops, status, needle) in [
        (json!([{"path": "/name", "value": "y"}]), 400, "op"),
        (json!([{"op": "add", "value": "y"}]), 400, "path"),
        (json!([{"op": "add", "path": "/name"}]), 400, "value"),
        (
            json!([{"op": "add", "path": "name", "value": "y"}]),
            400,
            "path",
        ),
        (
            json!([{"op": "test", "path": "/name", "value": "x"}]),
            400,
            "test",
        ),
        (
            json!([{"op": "add", "path": "/", "value": "y"}]),
            400,
            "path",
        ),
        (
            json!([{"op": "add", "path": "/name", "value": ""}]),
            400,
            "name",
        ),
        (
            json!([{"op": "add", "path": "/name", "value": "n".repeat(256)}]),
            400,
            "name",
        ),
        (
            json!([{"op": "add", "path": "/visibility", "value": "all"}]),
            400,
            "visibility",
        ),
        (
            json!([{"op": "add", "path": "/protected", "value": "yes"}]),
            400,
            "protected",
        ),
        (
            json!([{"op": "add", "path": "/tags", "value": ["ok", ""]}]),
            400,
            "tag",
        ),
        (
            json!([{"op": "add", "path": "/tags", "value": "ok"}]),
            400,
            "tags",
        ),
        (
            json!([{"op": "add", "path": "/disk_format", "value": "floppy"}]),
            400,
            "disk_format",
        ),
        // Null formats only while queued.
        (
            json!([{"op": "add", "path": "/disk_format", "value": null}]),
            400,
            "disk_format",
        ),
        (json!([{"op": "add", "path": "/p", "value": 1}]), 400, "p"),
        (
            json!([{"op": "add", "path": "/p", "value": "v".repeat(4097)}]),
            400,
            "p",
        ),
        // Read-only and reserved paths, and removing a field: 403.
        (
            json!([{"op": "replace", "path": "/id", "value": UNKNOWN}]),
            403,
            "id",
        ),
        (
            json!([{"op": "add", "path": "/size", "value": 1}]),
            403,
            "size",
        ),
        (
            json!([{"op": "remove", "path": "/checksum"}]),
            403,
            "checksum",
        ),
        (
            json!([{"op": "add", "path": "/os_hash_value", "value": "0"}]),
            403,
            "os_hash_value",
        ),
        (
            json!([{"op": "add", "path": "/locations", "value": []}]),
            403,
            "locations",
        ),
        (
            json!([{"op": "add", "path": "/deleted", "value": true}]),
            403,
            "deleted",
        ),
        (
            json!([{"op": "add", "path": "/os_glance_x", "value": "y"}]),
            403,
            "os_glance_x",
        ),
        (
            json!([{"op": "remove", "path": "/visibility"}]),
            403,
            "visibility",
        ),
        (json!([{"op": "remove", "path": "/tags"}]), 403, "tags"),
        // A 403 later in the document still refuses the ops before it.
        (
            json!([{"op": "add", "path": "/name", "value": "y"}, {"op": "remove", "path": "/self"}]),
            403,
            "self",
        ),
        // Over max_properties (2): 413; the first op alone would fit.
        (
            json!([{"op": "add", "path": "/q", "value": "1"}, {"op": "add", "path": "/r", "value": "2"}]),
            413,
            "properties",
        ),
    ] {
        cases.push(patch(&id, ops, status, needle));
    }
    // The v2.0 media type: `add` of a property already there is 409.
    cases.push(
        Case::new(Method::PATCH, &url, 409, "p")
            .typed(PATCH_20)
            .body(json!([{"add": "/p", "value": "2"}]).to_string()),
    );
    // Bad ids: 404 whatever the body.
    cases.push(patch("not-a-uuid", json!([]), 404, "not-a-uuid"));
    cases.push(patch(UNKNOWN, json!([]), 404, UNKNOWN));
    refuse_all(&app, &[&id], &cases).await;
}

fn upload(id: &str, content_type: Option<&'static str>, status: u16, needle: &str) -> Case {
    let case = Case::new(
        Method::PUT,
        &format!("/v2/images/{id}/file"),
        status,
        needle,
    )
    .body(&b"some bytes"[..]);
    match content_type {
        Some(t) => case.typed(t),
        None => case,
    }
}

#[tokio::test]
async fn uploads_to_an_image_that_is_not_queued_or_not_ones_own_change_nothing() {
    let app = TestApp::spawn().await;
    let done = active(
        &app,
        json!({"name": "active", "visibility": "public"}),
        b"d",
    )
    .await;
    let mut cases = vec![
        // The media type comes before the status: 415 on an active image.
        upload(&done, Some("application/json"), 415, "content-type"),
        upload(&done, Some(OCTETS), 409, "active"),
        // A reader of a public image: 403.
        upload(&done, Some(OCTETS), 403, "owner").by(BOB.0),
    ];
    let mut ids = vec![done.clone()];
    for status in ["saving", "deactivated", "killed"] {
        let id = active(&app, json!({"name": status}), b"data").await;
        set_column(&app, &id, "status", status);
        cases.push(upload(&id, Some(OCTETS), 409, status));
        ids.push(id);
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    refuse_all(&app, &ids, &cases).await;
}

#[tokio::test]
async fn a_chunked_upload_that_lies_about_its_size_stores_nothing() {
    let app = TestApp::spawn().await;
    let id = make(
        &app,
        json!({"name": "x", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let before = proof(&app, &[&id]).await;
    for (said, data) in [("3", &b"four"[..]), ("5", b"four"), ("0", b"four")] {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(data.to_vec())];
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let resp = app
            .client
            .put(app.url(&format!("/v2/images/{id}/file")))
            .header("x-auth-token", ALICE.0)
            .header("content-type", OCTETS)
            .header("x-openstack-image-size", said)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 400, "{said}: {text}");
        assert!(text.contains(said), "{text}");
        assert_eq!(proof(&app, &[&id]).await, before, "{said}");
    }
    // A declared size that disagrees with Content-Length: 400 too.
    let resp = app
        .client
        .put(app.url(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", ALICE.0)
        .header("content-type", OCTETS)
        .header("x-openstack-image-size", "-1")
        .body(b"four".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(proof(&app, &[&id]).await, before);
}

#[tokio::test]
async fn an_upload_over_the_quota_is_413_and_stores_nothing() {
    if crate::HTTP_BACKENDS {
        return; // the quota is the fs store's; Pithos keeps its own
    }
    let app = TestApp::spawn_with(|s| s.store.quota = 10).await;
    let id = make(
        &app,
        json!({"name": "x", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let cases = [upload(&id, Some(OCTETS), 413, "quota").body(vec![1u8; 11])];
    refuse_all(&app, &[&id], &cases).await;
}

#[tokio::test]
async fn a_deleted_image_is_404_on_every_route_and_stays_deleted() {
    let app = TestApp::spawn().await;
    let kept = make(&app, json!({"name": "kept"})).await;
    let id = active(&app, json!({"name": "x"}), b"data").await;
    let resp = app
        .request(
            Method::DELETE,
            &format!("/v2/images/{id}"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 204);
    let at = |rest: &str| format!("/v2/images/{id}{rest}");
    let cases = [
        Case::new(Method::GET, &at(""), 404, &id),
        Case::new(Method::DELETE, &at(""), 404, &id),
        patch(
            &id,
            json!([{"op": "add", "path": "/name", "value": "y"}]),
            404,
            &id,
        ),
        Case::new(Method::GET, &at("/file"), 404, &id),
        upload(&id, Some(OCTETS), 404, &id),
        Case::new(Method::PUT, &at("/tags/t"), 404, &id),
        Case::new(Method::DELETE, &at("/tags/t"), 404, &id),
        Case::new(Method::GET, &at("/members"), 404, &id),
        Case::new(Method::POST, &at("/members"), 404, &id).body(r#"{"member": "bob"}"#),
        Case::new(Method::POST, &at("/actions/reactivate"), 404, &id),
        Case::new(Method::POST, &at("/actions/deactivate"), 404, &id),
    ];
    refuse_all(&app, &[&kept], &cases).await;
}

#[tokio::test]
async fn refused_deletes_and_downloads_change_nothing() {
    let app = TestApp::spawn().await;
    let protected = make(&app, json!({"name": "p", "protected": true})).await;
    let public = active(&app, json!({"name": "pub", "visibility": "public"}), b"d").await;
    let off = active(&app, json!({"name": "off"}), b"data").await;
    let deactivate = format!("/v2/images/{off}/actions/deactivate");
    let resp = app
        .request(Method::POST, &deactivate, Some(ALICE.0), &[])
        .await;
    assert_eq!(resp.status().as_u16(), 204);
    let killed = active(&app, json!({"name": "killed"}), b"data").await;
    set_column(&app, &killed, "status", "killed");
    let cases = [
        Case::new(
            Method::DELETE,
            &format!("/v2/images/{protected}"),
            403,
            "protected",
        ),
        Case::new(
            Method::DELETE,
            &format!("/v2/images/{public}"),
            403,
            "owner",
        )
        .by(BOB.0),
        Case::new(Method::DELETE, "/v2/images/not-a-uuid", 404, "not-a-uuid"),
        // A deactivated image's data: 403 for everyone, its owner too.
        Case::new(
            Method::GET,
            &format!("/v2/images/{off}/file"),
            403,
            "deactivated",
        ),
        Case::new(
            Method::GET,
            &format!("/v2/images/{killed}/file"),
            409,
            "killed",
        ),
        // A range past the end: 416.
        Case::new(Method::GET, &format!("/v2/images/{public}/file"), 416, ""),
    ];
    let ids = [protected.as_str(), public.as_str(), off.as_str()];
    let before = proof(&app, &ids).await;
    for case in &cases[..5] {
        case.check(&app).await;
    }
    let range = app
        .request(
            Method::GET,
            &cases[5].path,
            Some(ALICE.0),
            &[("range", "bytes=9-")],
        )
        .await;
    assert_eq!(range.status().as_u16(), 416);
    assert_eq!(range.headers()["content-range"], "bytes */1");
    assert_eq!(proof(&app, &ids).await, before);
}

#[tokio::test]
async fn bad_list_queries_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    make(&app, json!({"name": "x"})).await;
    let mut cases = Vec::new();
    for (query, needle) in [
        ("sort=bogus", "bogus"),
        ("sort=name:up", "up"),
        ("sort=name:asc,", ""),
        (
            "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc",
            "sort_dir",
        ),
        ("sort_dir=asc&sort=name", "sort"),
        ("limit=1.5", "limit"),
        ("os_hidden=maybe", "os_hidden"),
        ("protected=yes", "protected"),
        ("min_ram=x", "min_ram"),
        ("min_disk=1e3", "min_disk"),
        ("size_max=big", "size_max"),
        ("created_at=yesterday", "created_at"),
        ("updated_at=after:2024-01-01T00:00:00Z", "updated_at"),
        ("visibility=public&visibility=shared", "visibility"),
        ("member_status=all&member_status=pending", "member_status"),
        ("marker=a&marker=b", "marker"),
        ("sort=name&sort=id", "sort"),
    ] {
        cases.push(Case::new(
            Method::GET,
            &format!("/v2/images?{query}"),
            400,
            needle,
        ));
    }
    refuse_all(&app, &[], &cases).await;
}

#[tokio::test]
async fn no_cut_or_mangled_document_or_query_gets_a_500() {
    let app = TestApp::spawn().await;
    let id = make(&app, json!({"name": "x", "p": "1"})).await;
    let create =
        br#"{"name": "y", "tags": ["a"], "min_ram": 1, "visibility": "private", "k": "v"}"#;
    let ops = br#"[{"op": "replace", "path": "/name", "value": "z"}, {"op": "add", "path": "/tags", "value": ["b"]}]"#;
    let url = format!("/v2/images/{id}");
    // Every proper prefix of a valid document, and the document with one
    // byte turned into a quote, a brace or a NUL: never a 5xx.
    for (path, doc, content_type) in [
        ("/v2/images", &create[..], "application/json"),
        (url.as_str(), &ops[..], PATCH_21),
    ] {
        let mut bodies: Vec<Vec<u8>> = (0..doc.len()).map(|n| doc[..n].to_vec()).collect();
        for i in (0..doc.len()).step_by(3) {
            for b in [b'"', b'}', 0u8] {
                let mut d = doc.to_vec();
                d[i] = b;
                bodies.push(d);
            }
        }
        for body in bodies {
            let method = if path == url {
                Method::PATCH
            } else {
                Method::POST
            };
            let resp = app
                .client
                .request(method, app.url(path))
                .header("x-auth-token", ALICE.0)
                .header("content-type", content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let shown = String::from_utf8_lossy(&body).to_string();
            assert!(status < 500, "{status} for {shown}");
            // A mangled document that still parses may create or change an
            // image; only a refusal must leave everything as it was.
            if status >= 400 {
                assert_eq!(resp.headers()["content-type"], "application/json");
            }
        }
    }
    for query in [
        "sort=%FF",
        "name=%FF",
        "%FF=1",
        "tag=",
        "name=in:%22a,b",
        "name=in:%22a%5C%22",
        "created_at=gt:",
        "created_at=gt:9999-99-99T99:99:99Z",
        "limit=&marker=",
        "sort=:asc",
        "sort_key=",
        "size_min=18446744073709551616",
        "min_ram=9223372036854775808",
    ] {
        let resp = app.get(&format!("/v2/images?{query}"), ALICE.0).await;
        assert!(resp.status().as_u16() < 500, "{query}: {}", resp.status());
    }
}
