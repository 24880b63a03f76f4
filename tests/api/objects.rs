//! The object-store endpoint (docs/api.md §14), driven over HTTP as kamaki
//! 0.16 drives it: every row of the table, the hashmap upload protocol, the
//! read rules, and every bad input, each refused one checked to change
//! nothing on disk or in the catalogue. With the `pithos` store (the
//! `api_http` binary) the endpoint is not served at all.

use std::path::Path;

use futures_util::future::join_all;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{catalogue_sql, TestApp, ALICE, BOB, CAROL};
use crate::util::{fault, header, json_with_status, md5_hex, must_header, sha256_hex};

pub(crate) const MIB: usize = 1 << 20;
pub(crate) const BLOCK: usize = 4 * MIB;

/// The object-store path of `rest` (`/<account>/...`).
pub(crate) fn os(rest: &str) -> String {
    format!("/object-store/v1{rest}")
}

/// A request with a token, headers and a body.
pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    rest: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Response {
    let mut req = app
        .client
        .request(method, app.url(&os(rest)))
        .header("x-auth-token", token)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request sent")
}

pub(crate) async fn get(app: &TestApp, rest: &str, token: &str) -> Response {
    call(app, Method::GET, rest, token, &[], Vec::new()).await
}

pub(crate) async fn head(app: &TestApp, rest: &str, token: &str) -> Response {
    call(app, Method::HEAD, rest, token, &[], Vec::new()).await
}

pub(crate) async fn put(app: &TestApp, rest: &str, token: &str, data: &[u8]) -> Response {
    call(app, Method::PUT, rest, token, &[], data.to_vec()).await
}

/// Alice's `PUT` with headers.
pub(crate) async fn put_with(
    app: &TestApp,
    rest: &str,
    headers: &[(&str, &str)],
    data: &[u8],
) -> Response {
    call(app, Method::PUT, rest, ALICE.0, headers, data.to_vec()).await
}

/// `POST ?update` of blocks, as kamaki sends it.
pub(crate) async fn post_blocks(
    app: &TestApp,
    account: &str,
    container: &str,
    data: &[u8],
) -> Response {
    call(
        app,
        Method::POST,
        &format!("/{account}/{container}?update&format=json"),
        ALICE.0,
        &[("content-type", "application/octet-stream")],
        data.to_vec(),
    )
    .await
}

/// `PUT ?hashmap=True&format=json`, as kamaki sends it.
pub(crate) async fn put_hashmap(app: &TestApp, rest: &str, map: &Value) -> Response {
    call(
        app,
        Method::PUT,
        &format!("{rest}?format=json&hashmap=True"),
        ALICE.0,
        &[("content-type", "application/octet-stream")],
        map.to_string().into_bytes(),
    )
    .await
}

/// The Pithos block hash: SHA-256 without trailing NULs.
/// The MD5 a `HEAD` answers as the `ETag`, after the 201 of an assembly
/// of blocks the server had, which carries none: its MD5 is computed after
/// the answer (docs/behaviour.md, "Known blocks").
pub(crate) async fn etag_after_assembly(app: &TestApp, done: &Response, rest: &str) -> String {
    assert_eq!(header(done, "etag"), None, "the MD5 is owed, not guessed");
    must_header(&head(app, rest, ALICE.0).await, "etag")
}

pub(crate) fn block_hash(data: &[u8]) -> String {
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    sha256_hex(&data[..end])
}

pub(crate) fn hashes_of(data: &[u8]) -> Vec<String> {
    data.chunks(BLOCK).map(block_hash).collect()
}

pub(crate) fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}

/// Everything a refused request must leave as it was: every file under the
/// root (path and content hash) and the catalogue's object rows.
pub(crate) fn snapshot(app: &TestApp) -> (Vec<(String, String)>, Vec<String>) {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = format!("{rel}/{}", e.file_name().to_string_lossy());
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                out.push((name.clone(), "dir".into()));
                walk(&e.path(), &name, out);
            } else if kind.is_symlink() {
                out.push((name, "link".into()));
            } else {
                out.push((name, md5_hex(&std::fs::read(e.path()).unwrap())));
            }
        }
    }
    let mut files = Vec::new();
    walk(&app.root(), "", &mut files);
    files.sort();
    let mut rows = Vec::new();
    for sql in [
        "SELECT path || ' ' || version || ' ' || meta_json || read_list FROM objects ORDER BY path",
        "SELECT path || ' ' || md5 FROM object_hashes ORDER BY path",
        "SELECT id FROM images ORDER BY id",
    ] {
        rows.extend(catalogue_sql(app, sql, &[]));
    }
    (files, rows)
}

/// Asserts the status of a refused request, and that it changed nothing.
pub(crate) async fn refused(
    app: &TestApp,
    status: u16,
    send: impl std::future::Future<Output = Response>,
) {
    let before = snapshot(app);
    let resp = send.await;
    let got = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "body {body}");
    assert_eq!(
        snapshot(app),
        before,
        "a refused request ({status}) changed something"
    );
}

pub(crate) fn blocks_on_disk(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(app.root().join("+blocks"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Whether the test runs on the `fs` store (else it checks the 404 and stops).
pub(crate) async fn served(app: &TestApp) -> bool {
    if !crate::HTTP_BACKENDS {
        return true;
    }
    for (m, rest) in [
        (Method::GET, "/alice"),
        (Method::PUT, "/alice/pithos/x"),
        (Method::HEAD, "/alice/pithos"),
    ] {
        let resp = call(app, m, rest, ALICE.0, &[], Vec::new()).await;
        assert_eq!(resp.status(), 404, "{rest}");
    }
    false
}

/// A server on the `fs` store; `None` (after checking the 404) on the `pithos` one.
pub(crate) async fn fs_app() -> Option<TestApp> {
    let app = TestApp::spawn().await;
    served(&app).await.then_some(app)
}

#[tokio::test]
async fn the_identity_catalog_names_the_endpoint() {
    let app = TestApp::spawn().await;
    if crate::HTTP_BACKENDS {
        return;
    }
    let body = json!({"auth": {"token": {"id": ALICE.0}}}).to_string();
    let resp = app
        .send_body(Method::POST, "/identity/v2.0/tokens", None, body.as_bytes())
        .await;
    let access = json_with_status(resp, 200).await;
    let store = access["access"]["serviceCatalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "object-store")
        .expect("an object-store entry")
        .clone();
    assert_eq!(store["name"], "pithos_object-store");
    let url = store["endpoints"][0]["publicURL"].as_str().unwrap();
    assert_eq!(url, format!("{}/object-store/v1", app.address));
}

#[tokio::test]
async fn with_the_pithos_store_the_endpoint_is_not_served() {
    let app = TestApp::spawn().await;
    served(&app).await;
}

#[tokio::test]
async fn accounts_list_the_standing_containers_as_json_and_text() {
    let Some(app) = fs_app().await else { return };
    let body = json_with_status(get(&app, "/alice?format=json", ALICE.0).await, 200).await;
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["images", "pithos"]);
    for c in body.as_array().unwrap() {
        assert_eq!(
            (c["count"].as_u64(), c["bytes"].as_u64()),
            (Some(0), Some(0))
        );
        assert!(c["last_modified"].as_str().unwrap().ends_with("+00:00"));
    }
    let text = get(&app, "/alice", ALICE.0).await;
    assert_eq!(text.status(), 200);
    assert_eq!(text.text().await.unwrap(), "images\npithos\n");
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"abc").await.status(),
        201
    );
    let h = head(&app, "/alice", ALICE.0).await;
    assert_eq!(h.status(), 204);
    assert_eq!(must_header(&h, "x-account-container-count"), "2");
    assert_eq!(must_header(&h, "x-account-bytes-used"), "3");
    assert_eq!(must_header(&h, "x-account-policy-quota"), "0");
    // Another user's account: nothing readable there, 403.
    assert_eq!(get(&app, "/alice?format=json", BOB.0).await.status(), 403);
}

#[tokio::test]
async fn containers_are_made_once_and_head_is_exactly_204() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/backups", ALICE.0, b"").await.status(),
        201
    );
    assert_eq!(
        put(&app, "/alice/backups", ALICE.0, b"").await.status(),
        202
    );
    assert_eq!(
        put(&app, "/alice/pithos", ALICE.0, b"").await.status(),
        202,
        "standing"
    );
    assert!(app.root().join("alice/backups").is_dir());
    let h = head(&app, "/alice/backups", ALICE.0).await;
    assert_eq!(h.status(), StatusCode::NO_CONTENT);
    assert_eq!(must_header(&h, "x-container-object-count"), "0");
    assert_eq!(must_header(&h, "x-container-bytes-used"), "0");
    assert_eq!(must_header(&h, "x-container-block-size"), "4194304");
    assert_eq!(must_header(&h, "x-container-block-hash"), "sha256");
    let missing = head(&app, "/alice/nope", ALICE.0).await;
    assert_eq!(missing.status(), 404);
    // Empty listings: `[]` as JSON, 204 as text.
    let list = get(&app, "/alice/backups?format=json", ALICE.0).await;
    assert_eq!(list.status(), 200);
    assert_eq!(list.text().await.unwrap(), "[]");
    assert_eq!(get(&app, "/alice/images", ALICE.0).await.status(), 204);
    fault(
        get(&app, "/alice/nope?format=json", ALICE.0).await,
        404,
        "itemNotFound",
        &["nope"],
    )
    .await;
}

#[tokio::test]
async fn a_put_object_round_trips_with_its_metadata_and_registers_instantly() {
    let Some(app) = fs_app().await else { return };
    let data = pattern(BLOCK + 10, 7);
    let odd_type = "(1/3)  Calculating block hashes";
    let resp = call(
        &app,
        Method::PUT,
        "/alice/images/dir/disk.img",
        ALICE.0,
        &[
            ("content-type", odd_type),
            ("x-object-meta-os", "debian"),
            ("x-object-sharing", "read=bob"),
            ("etag", &md5_hex(&data)),
        ],
        data.clone(),
    )
    .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(must_header(&resp, "etag"), md5_hex(&data));
    assert_eq!(must_header(&resp, "x-object-version"), "1");
    assert_eq!(
        std::fs::read(app.root().join("alice/images/dir/disk.img")).unwrap(),
        data
    );
    let again = put(&app, "/alice/images/dir/disk.img", ALICE.0, &data).await;
    assert_eq!(must_header(&again, "x-object-version"), "2");

    let h = head(&app, "/alice/images/dir/disk.img", ALICE.0).await;
    assert_eq!(h.status(), 200);
    assert_eq!(must_header(&h, "content-length"), data.len().to_string());
    assert_eq!(
        must_header(&h, "content-type"),
        "application/octet-stream",
        "a PUT sets the type anew"
    );
    assert_eq!(must_header(&h, "etag"), md5_hex(&data));
    assert_eq!(must_header(&h, "x-object-hash").len(), 64);
    assert_eq!(must_header(&h, "x-object-modified-by"), "alice");
    assert_eq!(
        must_header(&h, "x-object-sharing"),
        "read=bob",
        "kept when not sent"
    );
    assert!(
        header(&h, "x-object-meta-os").is_none(),
        "a PUT replaces the metadata"
    );
    assert!(must_header(&h, "last-modified").ends_with("GMT"));
    let got = get(&app, "/alice/images/dir/disk.img", ALICE.0).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), data);

    let list = json_with_status(get(&app, "/alice/images?format=json", ALICE.0).await, 200).await;
    let item = &list[0];
    assert_eq!(item["name"], "dir/disk.img");
    assert_eq!(item["bytes"], data.len());
    assert_eq!(item["hash"], md5_hex(&data));
    assert_eq!(item["x_object_hash"], must_header(&h, "x-object-hash"));
    assert_eq!(item["x_object_version"], 2);
    assert_eq!(item["x_object_sharing"], "read=bob");
    assert!(item["last_modified"].as_str().unwrap().contains('T'));

    // The catalogue knows both hashes: registering is instant, and agrees.
    let image = app
        .alice()
        .register("dir/disk.img")
        .already_there()
        .json()
        .await;
    assert_eq!(image["image"]["checksum"], must_header(&h, "x-object-hash"));
}

#[tokio::test]
async fn put_refusals_change_nothing() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"one").await.status(),
        201
    );
    // A missing container.
    refused(&app, 404, put(&app, "/alice/nope/a", ALICE.0, b"x")).await;
    // An ETag that does not match the data.
    let wrong = md5_hex(b"other");
    refused(
        &app,
        422,
        put_with(&app, "/alice/pithos/a", &[("etag", &wrong)], b"two"),
    )
    .await;
    refused(
        &app,
        422,
        put_with(&app, "/alice/pithos/new", &[("etag", &wrong)], b"two"),
    )
    .await;
    // If-None-Match: * on an existing object.
    refused(
        &app,
        412,
        put_with(&app, "/alice/pithos/a", &[("if-none-match", "*")], b"two"),
    )
    .await;
    let fresh = put_with(&app, "/alice/pithos/b", &[("if-none-match", "*")], b"b").await;
    assert_eq!(fresh.status(), 201);
    // If-Match on a missing object.
    refused(
        &app,
        412,
        put_with(&app, "/alice/pithos/c", &[("if-match", "abc")], b"c"),
    )
    .await;
    // A file where a directory must be, a directory where the object must be.
    refused(&app, 409, put(&app, "/alice/pithos/a/under", ALICE.0, b"x")).await;
    assert_eq!(
        put(&app, "/alice/pithos/d/e", ALICE.0, b"x").await.status(),
        201
    );
    refused(&app, 409, put(&app, "/alice/pithos/d", ALICE.0, b"x")).await;
    // Bad headers.
    refused(
        &app,
        400,
        put_with(
            &app,
            "/alice/pithos/a",
            &[("x-object-sharing", "read=a b")],
            b"x",
        ),
    )
    .await;
    refused(
        &app,
        400,
        put_with(
            &app,
            "/alice/pithos/a",
            &[("x-object-public", "maybe")],
            b"x",
        ),
    )
    .await;
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/a")).unwrap(),
        b"one"
    );
}

#[tokio::test]
async fn ranges_are_exact_206_and_416_even_with_format_json() {
    let Some(app) = fs_app().await else { return };
    let data = pattern(1000, 3);
    assert_eq!(
        put(&app, "/alice/pithos/r", ALICE.0, &data).await.status(),
        201
    );
    let part = call(
        &app,
        Method::GET,
        "/alice/pithos/r?format=json",
        ALICE.0,
        &[("range", "bytes=10-19")],
        Vec::new(),
    )
    .await;
    assert_eq!(part.status(), 206);
    assert_eq!(must_header(&part, "content-range"), "bytes 10-19/1000");
    assert_eq!(part.bytes().await.unwrap().to_vec(), data[10..20].to_vec());
    let tail = call(
        &app,
        Method::GET,
        "/alice/pithos/r",
        ALICE.0,
        &[("range", "bytes=-5")],
        Vec::new(),
    )
    .await;
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap().to_vec(), data[995..].to_vec());
    let outside = call(
        &app,
        Method::GET,
        "/alice/pithos/r",
        ALICE.0,
        &[("range", "bytes=1000-")],
        Vec::new(),
    )
    .await;
    assert_eq!(must_header(&outside, "content-range"), "bytes */1000");
    fault(outside, 416, "rangeNotSatisfiable", &[]).await;
    let whole = get(&app, "/alice/pithos/r?format=json", ALICE.0).await;
    assert_eq!(whole.status(), 200, "format=json alone is still the data");
    assert_eq!(whole.bytes().await.unwrap().to_vec(), data);
}

#[tokio::test]
async fn conditional_reads_follow_http() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/c", ALICE.0, b"abc").await.status(),
        201
    );
    let etag = md5_hex(b"abc");
    let cond = |h: &'static str, v: String| {
        let app = &app;
        async move {
            call(
                app,
                Method::GET,
                "/alice/pithos/c",
                ALICE.0,
                &[(h, &v)],
                Vec::new(),
            )
            .await
            .status()
        }
    };
    assert_eq!(cond("if-none-match", etag.clone()).await, 304);
    assert_eq!(cond("if-none-match", format!("\"{etag}\"")).await, 304);
    assert_eq!(cond("if-none-match", "other".into()).await, 200);
    assert_eq!(cond("if-match", etag.clone()).await, 200);
    assert_eq!(cond("if-match", "other".into()).await, 412);
    assert_eq!(
        cond("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT".into()).await,
        304
    );
    assert_eq!(
        cond("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT".into()).await,
        200
    );
    assert_eq!(cond("if-modified-since", "not a date".into()).await, 200);
    assert_eq!(
        cond(
            "if-unmodified-since",
            "Thu, 01 Jan 1970 00:00:00 GMT".into()
        )
        .await,
        412
    );
}

#[tokio::test]
async fn the_hashmap_protocol_uploads_what_is_missing_then_assembles() {
    let Some(app) = fs_app().await else { return };
    let (a, b) = (pattern(BLOCK, 1), pattern(BLOCK, 2));
    let c = pattern(100, 3);
    let data = [a.clone(), b.clone(), a.clone(), c.clone()].concat();
    let hashes = hashes_of(&data);
    let map = json!({"bytes": data.len(), "hashes": hashes});
    // Kamaki lists the container first; then the hashmap: 409 and the
    // missing hashes, each once, in order of first use.
    assert_eq!(
        get(&app, "/alice/images?format=json", ALICE.0)
            .await
            .status(),
        200
    );
    let missing =
        json_with_status(put_hashmap(&app, "/alice/images/big.img", &map).await, 409).await;
    assert_eq!(
        missing,
        json!([block_hash(&a), block_hash(&b), block_hash(&c)])
    );
    assert!(!app.root().join("alice/images/big.img").exists());
    // Blocks go up five at a time, one per POST, as kamaki sends them.
    let uploads = [a.clone(), b.clone(), c.clone(), a.clone(), b.clone()];
    let answers = join_all(
        uploads
            .iter()
            .map(|blk| post_blocks(&app, "alice", "images", blk)),
    )
    .await;
    for (resp, blk) in answers.into_iter().zip(&uploads) {
        assert_eq!(resp.status(), 202);
        assert_eq!(json_with_status_any(resp).await, json!([block_hash(blk)]));
    }
    // The object waits for them since its 409: they went straight into its
    // staging file, none into `+blocks`. Not where several processes may
    // serve the root (PostgreSQL): there every block goes to `+blocks`,
    // each of the three once.
    let kept_apart = if crate::POSTGRES { 3 } else { 0 };
    assert_eq!(blocks_on_disk(&app).len(), kept_apart);
    let done = put_hashmap(&app, "/alice/images/big.img", &map).await;
    assert_eq!(done.status(), 201);
    assert_eq!(
        etag_after_assembly(&app, &done, "/alice/images/big.img").await,
        md5_hex(&data)
    );
    assert_eq!(must_header(&done, "x-object-version"), "1");
    assert_eq!(
        std::fs::read(app.root().join("alice/images/big.img")).unwrap(),
        data
    );
    assert!(
        blocks_on_disk(&app).is_empty(),
        "the object keeps its bytes once"
    );
    assert!(std::fs::read_dir(app.root().join("+staging"))
        .unwrap()
        .all(|e| e.unwrap().file_name() == "lock"));
    // Read back as kamaki downloads: the hashmap, then ranged block GETs, five at once.
    let got = json_with_status(
        get(
            &app,
            "/alice/images/big.img?hashmap=True&format=json",
            ALICE.0,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        got,
        json!({"block_size": BLOCK, "block_hash": "sha256", "bytes": data.len(), "hashes": hashes})
    );
    let ranges: Vec<String> = (0..4)
        .map(|i| {
            format!(
                "bytes={}-{}",
                i * BLOCK,
                ((i + 1) * BLOCK).min(data.len()) - 1
            )
        })
        .collect();
    let app = &app;
    let parts = join_all(ranges.iter().map(|r| async move {
        call(
            app,
            Method::GET,
            "/alice/images/big.img?format=json",
            ALICE.0,
            &[("range", r)],
            Vec::new(),
        )
        .await
    }))
    .await;
    let mut joined = Vec::new();
    for p in parts {
        assert_eq!(p.status(), 206);
        joined.extend_from_slice(&p.bytes().await.unwrap());
    }
    assert_eq!(joined, data);
}

async fn json_with_status_any(resp: Response) -> Value {
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn short_all_zero_and_nul_ending_blocks() {
    let Some(app) = fs_app().await else { return };
    // A block ending in NULs hashes as its short form: the short one stands for it.
    let mut full = b"abc".to_vec();
    full.resize(BLOCK, 0);
    let zeros = vec![0u8; BLOCK];
    let mut tail = b"hello".to_vec();
    tail.extend([0u8; 10]);
    let data = [full.clone(), zeros.clone(), tail.clone()].concat();
    let map = json!({"bytes": data.len(), "hashes": hashes_of(&data)});
    let missing = json_with_status(put_hashmap(&app, "/alice/pithos/nuls", &map).await, 409).await;
    // The all-zero block is the hash of nothing: always known.
    assert_eq!(missing, json!([block_hash(b"abc"), block_hash(b"hello")]));
    for short in [&b"abc"[..], &b"hello"[..]] {
        let resp = post_blocks(&app, "alice", "pithos", short).await;
        assert_eq!(resp.status(), 202);
    }
    let done = put_hashmap(&app, "/alice/pithos/nuls", &map).await;
    assert_eq!(done.status(), 201);
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/nuls")).unwrap(),
        data
    );
    assert_eq!(
        etag_after_assembly(&app, &done, "/alice/pithos/nuls").await,
        md5_hex(&data)
    );
    // An all-zero block uploaded on its own is known and stores nothing.
    let zero = json_with_status_any(post_blocks(&app, "alice", "pithos", &zeros).await).await;
    assert_eq!(zero, json!([sha256_hex(b"")]));
}

#[tokio::test]
async fn an_empty_hashmap_makes_an_empty_object() {
    let Some(app) = fs_app().await else { return };
    let resp = put_hashmap(
        &app,
        "/alice/pithos/empty",
        &json!({"bytes": 0, "hashes": []}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(must_header(&resp, "etag"), md5_hex(b""));
    let h = head(&app, "/alice/pithos/empty", ALICE.0).await;
    assert_eq!(must_header(&h, "content-length"), "0");
    assert_eq!(must_header(&h, "x-object-hash"), sha256_hex(b""));
    let map = json_with_status(
        get(&app, "/alice/pithos/empty?hashmap&format=json", ALICE.0).await,
        200,
    )
    .await;
    assert_eq!(map["hashes"], json!([sha256_hex(b"")]));
    assert_eq!(map["bytes"], 0);
}

#[tokio::test]
async fn bad_hashmaps_and_block_uploads_are_refused_and_change_nothing() {
    let Some(app) = fs_app().await else { return };
    let h = "a".repeat(64);
    for bad in [
        json!({"bytes": 1, "hashes": []}),
        json!({"bytes": BLOCK + 1, "hashes": [h]}),
        json!({"bytes": 0, "hashes": [h]}),
        json!({"bytes": -1, "hashes": []}),
        json!({"bytes": 1, "hashes": ["A".repeat(64)]}),
        json!({"bytes": 1, "hashes": ["abc"]}),
        json!({"bytes": 1, "hashes": [7]}),
        json!({"hashes": []}),
        json!([]),
    ] {
        refused(&app, 400, put_hashmap(&app, "/alice/pithos/x", &bad)).await;
    }
    let raw = |body: &'static str| {
        call(
            &app,
            Method::PUT,
            "/alice/pithos/x?hashmap=True&format=json",
            ALICE.0,
            &[],
            body.as_bytes().to_vec(),
        )
    };
    refused(&app, 400, raw("{")).await;
    refused(&app, 400, raw("")).await;
    // A block upload over 64 MiB: by its Content-Length, or as it streams.
    let over = vec![1u8; 64 * MIB + 1];
    refused(&app, 413, post_blocks(&app, "alice", "pithos", &over)).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..17).map(|_| Ok(vec![2u8; BLOCK])).collect();
    let streamed = app
        .client
        .post(app.url(&os("/alice/pithos?update")))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send();
    refused(&app, 413, async { streamed.await.unwrap() }).await;
    // Another content type is a metadata update: 202, nothing stored.
    refused(
        &app,
        202,
        call(
            &app,
            Method::POST,
            "/alice/pithos?update",
            ALICE.0,
            &[("content-type", "application/octet-stream; x=1")],
            b"data".to_vec(),
        ),
    )
    .await;
    refused(
        &app,
        404,
        call(
            &app,
            Method::POST,
            "/alice/nope?update",
            ALICE.0,
            &[("content-type", "application/octet-stream")],
            b"data".to_vec(),
        ),
    )
    .await;
}

#[tokio::test]
async fn writes_in_another_users_account_are_403_and_change_nothing() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/bob/pithos/mine", BOB.0, b"bob's")
            .await
            .status(),
        201
    );
    let as_alice =
        |m: Method, rest: &'static str, headers: &'static [(&'static str, &'static str)]| {
            call(&app, m, rest, ALICE.0, headers, b"x".to_vec())
        };
    refused(&app, 403, as_alice(Method::PUT, "/bob/pithos/new", &[])).await;
    refused(&app, 403, as_alice(Method::PUT, "/bob/pithos/mine", &[])).await;
    refused(&app, 403, as_alice(Method::PUT, "/bob/newcontainer", &[])).await;
    refused(
        &app,
        403,
        as_alice(
            Method::POST,
            "/bob/pithos?update",
            &[("content-type", "application/octet-stream")],
        ),
    )
    .await;
    refused(
        &app,
        403,
        as_alice(
            Method::POST,
            "/bob/pithos/mine",
            &[("x-object-sharing", "read=alice")],
        ),
    )
    .await;
    refused(&app, 403, as_alice(Method::DELETE, "/bob/pithos/mine", &[])).await;
    refused(&app, 403, as_alice(Method::DELETE, "/bob/pithos", &[])).await;
    refused(
        &app,
        403,
        put_hashmap(&app, "/bob/pithos/h", &json!({"bytes": 0, "hashes": []})),
    )
    .await;
    // Reading it is refused too, and so is reading what is not there (403 before 404).
    refused(&app, 403, get(&app, "/bob/pithos/mine", ALICE.0)).await;
    refused(&app, 403, get(&app, "/bob/pithos/nothing-here", ALICE.0)).await;
    refused(&app, 403, get(&app, "/bob/pithos?format=json", ALICE.0)).await;
}

#[tokio::test]
async fn sharing_lists_and_image_members_let_others_read() {
    let Some(app) = fs_app().await else { return };
    for name in ["a", "b"] {
        assert_eq!(
            put(
                &app,
                &format!("/alice/pithos/{name}"),
                ALICE.0,
                name.as_bytes()
            )
            .await
            .status(),
            201
        );
    }
    assert_eq!(get(&app, "/alice/pithos/a", BOB.0).await.status(), 403);
    let share = call(
        &app,
        Method::POST,
        "/alice/pithos/a",
        ALICE.0,
        &[("x-object-sharing", "read=bob")],
        Vec::new(),
    )
    .await;
    assert_eq!(share.status(), 202);
    let read = get(&app, "/alice/pithos/a", BOB.0).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.unwrap().as_ref(), b"a");
    assert_eq!(get(&app, "/alice/pithos/a", CAROL.0).await.status(), 403);
    // Bob's view of the container and account: only what he may read.
    let listed = json_with_status(get(&app, "/alice/pithos?format=json", BOB.0).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "a");
    let h = head(&app, "/alice/pithos", BOB.0).await;
    assert_eq!(
        (
            h.status().as_u16(),
            must_header(&h, "x-container-object-count")
        ),
        (204, "1".into())
    );
    let account = json_with_status(get(&app, "/alice?format=json", BOB.0).await, 200).await;
    assert_eq!(account.as_array().unwrap().len(), 1);
    assert_eq!(head(&app, "/alice/pithos", CAROL.0).await.status(), 403);
    // `*` in the write list lets everyone read; an empty header clears.
    call(
        &app,
        Method::POST,
        "/alice/pithos/b",
        ALICE.0,
        &[("x-object-sharing", "write=*")],
        Vec::new(),
    )
    .await;
    assert_eq!(get(&app, "/alice/pithos/b", CAROL.0).await.status(), 200);
    call(
        &app,
        Method::POST,
        "/alice/pithos/b",
        ALICE.0,
        &[("x-object-sharing", "")],
        Vec::new(),
    )
    .await;
    assert_eq!(get(&app, "/alice/pithos/b", CAROL.0).await.status(), 403);
    // A live image at the object lets its members read it, and everyone once public.
    assert_eq!(
        put(&app, "/alice/images/disk.img", ALICE.0, b"disk")
            .await
            .status(),
        201
    );
    let id = app.alice().register("disk.img").already_there().ok().await;
    assert_eq!(
        get(&app, "/alice/images/disk.img", BOB.0).await.status(),
        403
    );
    app.set_members(&id, ALICE.0, &["bob"]).await;
    assert_eq!(
        get(&app, "/alice/images/disk.img", BOB.0).await.status(),
        200
    );
    assert_eq!(
        get(&app, "/alice/images/disk.img", CAROL.0).await.status(),
        403
    );
    app.update_ok(&id, ALICE.0, &[("x-image-meta-is-public", "true")])
        .await;
    assert_eq!(
        get(&app, "/alice/images/disk.img", CAROL.0).await.status(),
        200
    );
    let resp = app
        .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        get(&app, "/alice/images/disk.img", CAROL.0).await.status(),
        403,
        "a deleted image grants nothing"
    );
}

#[tokio::test]
async fn object_post_merges_or_replaces_metadata() {
    let Some(app) = fs_app().await else { return };
    let first = put_with(&app, "/alice/pithos/m", &[("x-object-meta-a", "1")], b"m").await;
    assert_eq!(first.status(), 201);
    let post = |q: &'static str, h: &'static [(&'static str, &'static str)]| {
        call(&app, Method::POST, q, ALICE.0, h, Vec::new())
    };
    assert_eq!(
        post("/alice/pithos/m?update", &[("x-object-meta-b", "2")])
            .await
            .status(),
        202
    );
    let h = head(&app, "/alice/pithos/m", ALICE.0).await;
    assert_eq!(
        (header(&h, "x-object-meta-a"), header(&h, "x-object-meta-b")),
        (Some("1".into()), Some("2".into()))
    );
    assert_eq!(
        post("/alice/pithos/m", &[("x-object-meta-c", "3")])
            .await
            .status(),
        202
    );
    let h = head(&app, "/alice/pithos/m", ALICE.0).await;
    assert_eq!(header(&h, "x-object-meta-a"), None);
    assert_eq!(header(&h, "x-object-meta-c"), Some("3".into()));
    assert_eq!(
        must_header(&h, "x-object-version"),
        "1",
        "metadata does not make a version"
    );
    refused(
        &app,
        404,
        post("/alice/pithos/none", &[("x-object-meta-c", "3")]),
    )
    .await;
}

#[tokio::test]
async fn deleting_objects_and_containers() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(put(&app, "/alice/work", ALICE.0, b"").await.status(), 201);
    for name in ["x", "d/y", "d/e/z"] {
        assert_eq!(
            put(&app, &format!("/alice/work/{name}"), ALICE.0, b"1")
                .await
                .status(),
            201
        );
    }
    let del = |rest: &'static str| call(&app, Method::DELETE, rest, ALICE.0, &[], Vec::new());
    assert_eq!(del("/alice/work/d/e/z").await.status(), 204);
    assert!(
        !app.root().join("alice/work/d/e").exists(),
        "an emptied directory goes too"
    );
    refused(&app, 404, del("/alice/work/d/e/z")).await;
    refused(&app, 409, del("/alice/work")).await;
    // With a delimiter: emptied and kept, as Pithos (kamaki's `container
    // delete -r` then sends a plain DELETE).
    assert_eq!(del("/alice/work?delimiter=/").await.status(), 204);
    assert!(
        app.root().join("alice/work").is_dir(),
        "the container stays"
    );
    let listed = get(&app, "/alice/work?format=json", ALICE.0).await;
    assert_eq!(listed.text().await.unwrap(), "[]");
    assert_eq!(del("/alice/work").await.status(), 204);
    assert!(!app.root().join("alice/work").exists());
    refused(&app, 404, del("/alice/work?delimiter=/")).await;
    // `until` is a plain delete (kamaki's `container delete` sends it).
    assert_eq!(put(&app, "/alice/empty", ALICE.0, b"").await.status(), 201);
    assert_eq!(
        put(&app, "/alice/empty/o", ALICE.0, b"1").await.status(),
        201
    );
    refused(&app, 409, del("/alice/empty?until=1234")).await;
    assert_eq!(del("/alice/empty/o").await.status(), 204);
    assert_eq!(del("/alice/empty?until=1234").await.status(), 204);
    refused(&app, 404, del("/alice/empty")).await;
    let rows = catalogue_sql(&app, "SELECT count(*) FROM objects", &[]);
    assert_eq!(rows, ["0"], "deleted objects leave no metadata");
}

#[tokio::test]
async fn listings_take_prefix_delimiter_path_marker_and_limit() {
    let Some(app) = fs_app().await else { return };
    for name in ["a", "b/1", "b/2", "b/c/3", "c"] {
        assert_eq!(
            put(&app, &format!("/alice/pithos/{name}"), ALICE.0, b"1")
                .await
                .status(),
            201
        );
    }
    let names = |q: &'static str| {
        let app = &app;
        async move {
            let body = json_with_status(
                get(app, &format!("/alice/pithos?format=json&{q}"), ALICE.0).await,
                200,
            )
            .await;
            body.as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    e["name"]
                        .as_str()
                        .or(e["subdir"].as_str())
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("delimiter=/").await, ["a", "b/", "c"]);
    assert_eq!(names("prefix=b&delimiter=/").await, ["b/1", "b/2", "b/c/"]);
    assert_eq!(names("path=b").await, ["b/1", "b/2", "b/c/"]);
    assert_eq!(names("prefix=b/c").await, ["b/c/3"]);
    assert_eq!(names("marker=b/1&limit=2").await, ["b/2", "b/c/3"]);
    let text = get(&app, "/alice/pithos?prefix=zzz", ALICE.0).await;
    assert_eq!(text.status(), 204);
    fault(
        get(&app, "/alice/pithos?limit=many", ALICE.0).await,
        400,
        "badRequest",
        &["limit"],
    )
    .await;
}

#[tokio::test]
async fn files_put_under_the_root_by_hand_are_objects() {
    let Some(app) = fs_app().await else { return };
    app.put_object("alice", "images", "hand/made.img", b"by hand");
    let list = json_with_status(get(&app, "/alice/images?format=json", ALICE.0).await, 200).await;
    assert_eq!(list[0]["name"], "hand/made.img");
    assert_eq!(list[0]["hash"], md5_hex(b"by hand"));
    assert_eq!(list[0]["x_object_version"], 1);
    let data = get(&app, "/alice/images/hand/made.img", ALICE.0).await;
    assert_eq!(must_header(&data, "etag"), md5_hex(b"by hand"));
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"by hand");
    let over = put(&app, "/alice/images/hand/made.img", ALICE.0, b"new").await;
    assert_eq!(must_header(&over, "x-object-version"), "2");
}

#[tokio::test]
async fn tokens_come_in_the_header_or_the_query() {
    let Some(app) = fs_app().await else { return };
    let url = app.url(&os("/alice/pithos?format=json"));
    let none = app.client.get(&url).send().await.unwrap();
    fault(none, 401, "unauthorized", &[]).await;
    let bad = app
        .client
        .get(&url)
        .header("x-auth-token", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let q = app
        .client
        .get(format!("{url}&X-Auth-Token={}", ALICE.0))
        .send()
        .await
        .unwrap();
    assert_eq!(q.status(), 200);
    // Route and method come first: 405 with Allow, 404 off the surface.
    let copy = app
        .client
        .request(
            Method::from_bytes(b"COPY").unwrap(),
            app.url(&os("/alice/pithos/x")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(copy.status(), 405);
    assert_eq!(must_header(&copy, "allow"), "GET, HEAD, PUT, POST, DELETE");
    assert_eq!(
        app.client
            .get(app.url("/object-store/v2/alice"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn bad_names_are_400_and_change_nothing() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"1").await.status(),
        201
    );
    for path in [
        "/alice/pithos/a//b",
        "/alice/pithos/./x",
        "/alice/pithos/../bob/x",
        "/alice/pithos/%2e%2e/x",
        "/alice/pithos/a/",
        "/alice/pithos/a%00b",
        "/alice/pithos/%zz",
        "/alice//x",
        "/alice/../x",
        "/alice/./x",
        "/alice/%2e%2e",
        "/alice/c%2Fd",
        "/al%2Fice/pithos/x",
        "/+staging/pithos/x",
        "/../../etc/passwd",
    ] {
        let before = snapshot(&app);
        for method in ["PUT", "GET", "DELETE"] {
            let full = os(path);
            let resp = app
                .raw_request(
                    method,
                    full.as_bytes(),
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
}

#[tokio::test]
async fn a_content_length_that_lies_stores_nothing() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"1").await.status(),
        201
    );
    let before = snapshot(&app);
    for path in [
        "/alice/pithos/a",
        "/alice/pithos/cut",
        "/alice/pithos?update",
    ] {
        let head = format!(
            "{} {}{} HTTP/1.1\r\nHost: {}\r\nX-Auth-Token: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n",
            if path.contains('?') { "POST" } else { "PUT" },
            app.base(),
            os(path),
            app.host_port(),
            ALICE.0
        );
        let addr = app.host_port();
        let status =
            tokio::task::spawn_blocking(move || half_closed(&addr, head.as_bytes(), &[7u8; 5000]))
                .await
                .unwrap();
        assert!(status == 400 || status == 0, "{path}: {status}");
    }
    // The server is still there, and nothing changed.
    assert_eq!(get(&app, "/alice/pithos/a", ALICE.0).await.status(), 200);
    assert_eq!(snapshot(&app), before);
}

/// Sends a request head and fewer body bytes than it announced, closes the
/// sending half, and reads the status (0: the connection closed without one).
fn half_closed(addr: &str, head: &[u8], body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(head).unwrap();
    s.write_all(body).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn symlinks_under_the_root_are_never_followed() {
    let Some(app) = fs_app().await else { return };
    let outside = app.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    assert_eq!(
        put(&app, "/alice/pithos/real", ALICE.0, b"1")
            .await
            .status(),
        201
    );
    let pithos = app.root().join("alice/pithos");
    std::os::unix::fs::symlink(&outside, pithos.join("dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), pithos.join("file")).unwrap();
    std::os::unix::fs::symlink(&outside, app.root().join("alice/linked")).unwrap();
    for rest in [
        "/alice/pithos/dir/secret",
        "/alice/pithos/file",
        "/alice/linked/secret",
        "/alice/linked?format=json",
    ] {
        refused(&app, 403, get(&app, rest, ALICE.0)).await;
    }
    for rest in [
        "/alice/pithos/dir/new",
        "/alice/linked/new",
        "/alice/pithos/file",
    ] {
        refused(&app, 403, put(&app, rest, ALICE.0, b"x")).await;
    }
    refused(
        &app,
        403,
        put_hashmap(
            &app,
            "/alice/pithos/dir/h",
            &json!({"bytes": 0, "hashes": []}),
        ),
    )
    .await;
    refused(
        &app,
        403,
        call(
            &app,
            Method::DELETE,
            "/alice/pithos/file",
            ALICE.0,
            &[],
            Vec::new(),
        ),
    )
    .await;
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "nothing written outside"
    );
    let list = json_with_status(get(&app, "/alice/pithos?format=json", ALICE.0).await, 200).await;
    assert_eq!(list, json!([list[0].clone()]));
    assert_eq!(list[0]["name"], "real", "links are not listed");
    let account = json_with_status(get(&app, "/alice?format=json", ALICE.0).await, 200).await;
    assert!(account
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] != "linked"));
}

#[tokio::test]
async fn no_input_makes_a_500() {
    let Some(app) = fs_app().await else { return };
    let odd = [
        ("GET", "/alice/pithos?limit=-1"),
        ("GET", "/alice/pithos?marker=%ff"),
        ("GET", "/alice/pithos/x?hashmap=True&format=json"),
        ("HEAD", "/alice/pithos/x?version=list"),
        ("PUT", "/alice/pithos/x?hashmap"),
        ("POST", "/alice/pithos/x?update"),
        ("POST", "/alice"),
        ("DELETE", "/alice"),
        ("PUT", "/alice/%C3%A9t%C3%A9/caf%C3%A9"),
        ("GET", "/alice/%C3%A9t%C3%A9?format=json"),
        ("GET", "/nobody?format=json"),
        ("GET", "/alice/pithos?format=xml"),
        ("PUT", &"/alice/pithos/x".repeat(200)),
    ];
    for (m, rest) in odd {
        let resp = call(
            &app,
            Method::from_bytes(m.as_bytes()).unwrap(),
            rest,
            ALICE.0,
            &[("range", "bytes=0-0")],
            b"{}".to_vec(),
        )
        .await;
        assert!(
            resp.status().as_u16() < 500,
            "{m} {rest}: {}",
            resp.status()
        );
    }
}

#[tokio::test]
async fn object_writes_count_against_the_quota() {
    let quota = BLOCK + 1000;
    let app = TestApp::spawn_with(|s| s.store.quota = quota as u64).await;
    if !served(&app).await {
        return;
    }
    let h = head(&app, "/alice", ALICE.0).await;
    assert_eq!(must_header(&h, "x-account-policy-quota"), quota.to_string());
    // A plain PUT that fits.
    let first = pattern(BLOCK, 1);
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, &first).await.status(),
        201
    );
    // One past what is left: by its Content-Length, refused before it is read.
    refused(
        &app,
        413,
        put(&app, "/alice/images/b", ALICE.0, &[7u8; 1001]),
    )
    .await;
    fault(
        put(&app, "/alice/images/b", ALICE.0, &[7u8; 1001]).await,
        413,
        "overLimit",
        &["Quota exceeded"],
    )
    .await;
    // Chunked, with no length: refused as soon as it passes the quota.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..4)
        .map(|_| Ok(bytes::Bytes::from(vec![9u8; 600])))
        .collect();
    let chunked = async {
        app.client
            .put(app.url(&os("/alice/images/c")))
            .header("x-auth-token", ALICE.0)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .expect("request sent")
    };
    refused(&app, 413, chunked).await;
    // Exactly what is left fits.
    assert_eq!(
        put(&app, "/alice/images/d", ALICE.0, &[5u8; 1000])
            .await
            .status(),
        201
    );
    // Replacing an object counts its old bytes as freed.
    let bigger = pattern(BLOCK + 1, 2);
    refused(&app, 413, put(&app, "/alice/pithos/a", ALICE.0, &bigger)).await;
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            "/alice/images/d",
            ALICE.0,
            &[],
            Vec::new()
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, &bigger)
            .await
            .status(),
        201
    );
    // A hashmap past the quota is 413 before any block is asked for.
    let two = pattern(2 * BLOCK, 3);
    let map = json!({"bytes": two.len(), "hashes": hashes_of(&two)});
    refused(&app, 413, put_hashmap(&app, "/alice/pithos/h", &map)).await;
    // One that fits (replacing `a`) is asked for its blocks as usual.
    let one = pattern(BLOCK, 4);
    let map = json!({"bytes": one.len(), "hashes": hashes_of(&one)});
    let missing = json_with_status(put_hashmap(&app, "/alice/pithos/a", &map).await, 409).await;
    assert_eq!(missing, json!(hashes_of(&one)));
    // Each account has a quota of its own.
    assert_eq!(
        put(&app, "/bob/pithos/x", BOB.0, &pattern(BLOCK, 5))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn two_uploads_sharing_a_block_both_finish() {
    let Some(app) = fs_app().await else { return };
    let shared = pattern(BLOCK, 11);
    let own = pattern(1000, 12);
    let b_data = [shared.clone(), own.clone()].concat();
    let b_map = json!({"bytes": b_data.len(), "hashes": hashes_of(&b_data)});
    let a_map = json!({"bytes": shared.len(), "hashes": hashes_of(&shared)});
    // Upload A sends the shared block.
    let missing = json_with_status(put_hashmap(&app, "/alice/pithos/a", &a_map).await, 409).await;
    assert_eq!(missing, json!(hashes_of(&shared)));
    assert_eq!(
        post_blocks(&app, "alice", "pithos", &shared).await.status(),
        202
    );
    // Upload B is told only its own block is missing ...
    let missing = json_with_status(put_hashmap(&app, "/alice/pithos/b", &b_map).await, 409).await;
    assert_eq!(missing, json!([block_hash(&own)]));
    // ... A finishes meanwhile ...
    assert_eq!(
        put_hashmap(&app, "/alice/pithos/a", &a_map).await.status(),
        201
    );
    // ... and B still finds the shared block at its final PUT.
    assert_eq!(
        post_blocks(&app, "alice", "pithos", &own).await.status(),
        202
    );
    let resp = put_hashmap(&app, "/alice/pithos/b", &b_map).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    for (rest, data) in [("/alice/pithos/a", &shared), ("/alice/pithos/b", &b_data)] {
        let got = get(&app, rest, ALICE.0).await.bytes().await.unwrap();
        assert!(got.as_ref() == data.as_slice(), "{rest}");
    }
    // Both objects written, their blocks are kept no longer.
    assert_eq!(blocks_on_disk(&app), Vec::<String>::new());
}

#[tokio::test]
async fn a_write_the_catalogue_refuses_leaves_the_old_object() {
    let Some(app) = fs_app().await else { return };
    let old = pattern(3000, 21);
    let resp = put_with(
        &app,
        "/alice/pithos/a",
        &[("x-object-meta-build", "1")],
        &old,
    )
    .await;
    assert_eq!(resp.status(), 201);
    let block = pattern(2000, 22);
    assert_eq!(
        post_blocks(&app, "alice", "pithos", &block).await.status(),
        202
    );
    if crate::POSTGRES {
        catalogue_sql(
            &app,
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
             CREATE TRIGGER refuse BEFORE INSERT ON objects \
             FOR EACH ROW EXECUTE FUNCTION refuse();",
            &[],
        );
    } else {
        catalogue_sql(
            &app,
            "CREATE TRIGGER refuse BEFORE INSERT ON objects \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
            &[],
        );
    }
    // A replacement, a new object in new directories, a hashmap: each a
    // 500 that changes nothing, on disk or in the catalogue.
    let new = pattern(5000, 23);
    refused(
        &app,
        500,
        put_with(
            &app,
            "/alice/pithos/a",
            &[("x-object-meta-build", "2")],
            &new,
        ),
    )
    .await;
    refused(&app, 500, put(&app, "/alice/pithos/d/e/new", ALICE.0, &new)).await;
    let map = json!({"bytes": block.len(), "hashes": hashes_of(&block)});
    refused(&app, 500, put_hashmap(&app, "/alice/pithos/a", &map)).await;
    assert!(!app.root().join("alice/pithos/d").exists());
    let resp = get(&app, "/alice/pithos/a", ALICE.0).await;
    assert_eq!(must_header(&resp, "x-object-meta-build"), "1");
    assert_eq!(must_header(&resp, "x-object-version"), "1");
    assert_eq!(must_header(&resp, "etag"), md5_hex(&old));
    assert!(resp.bytes().await.unwrap().as_ref() == old.as_slice());
    // Once the catalogue takes writes again, they go through.
    let drop = if crate::POSTGRES {
        "DROP TRIGGER refuse ON objects"
    } else {
        "DROP TRIGGER refuse"
    };
    catalogue_sql(&app, drop, &[]);
    assert_eq!(
        put_hashmap(&app, "/alice/pithos/a", &map).await.status(),
        201
    );
    let resp = get(&app, "/alice/pithos/a", ALICE.0).await;
    assert_eq!(must_header(&resp, "x-object-version"), "2");
    assert!(resp.bytes().await.unwrap().as_ref() == block.as_slice());
}

#[tokio::test]
async fn object_metadata_with_control_characters_is_400_and_changes_nothing() {
    let Some(app) = fs_app().await else { return };
    let first = put_with(&app, "/alice/pithos/c", &[("x-object-meta-a", "1")], b"c").await;
    assert_eq!(first.status(), 201);
    // A header cannot carry C0 or DEL, but it can carry C1 as UTF-8 (CSI,
    // U+009B, starts a terminal escape just as ESC [ does).
    for (key, value) in [
        ("x-object-meta-b", "v\u{9b}2J"),
        ("x-object-meta-b", "\u{85}"),
    ] {
        for method in [Method::PUT, Method::POST] {
            let headers = [(key, value)];
            let send = call(
                &app,
                method.clone(),
                "/alice/pithos/c",
                ALICE.0,
                &headers,
                b"d".to_vec(),
            );
            refused(&app, 400, send).await;
        }
    }
    let h = head(&app, "/alice/pithos/c", ALICE.0).await;
    assert_eq!(
        (header(&h, "x-object-meta-a"), header(&h, "x-object-meta-b")),
        (Some("1".into()), None),
        "the refused writes changed the metadata"
    );
    assert_eq!(
        get(&app, "/alice/pithos/c", ALICE.0)
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"c"
    );
}
