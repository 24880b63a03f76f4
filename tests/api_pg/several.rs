//! Two plankton servers on one PostgreSQL database and one store root,
//! written to at once (docs/api.md §18): each keeps its own pool, so
//! their transactions meet only in the database, as two processes' do.
//! Every write answers as if it were alone, and none is lost.

use reqwest::Method;

use crate::helpers::{TestApp, ALICE};
use crate::util::json_with_status;

/// A first server, and a second on its database and store root.
async fn two_servers() -> (TestApp, TestApp) {
    let first = TestApp::spawn().await;
    let (database, root) = (
        first.settings.database.clone(),
        first.settings.store.root.clone(),
    );
    let second = TestApp::spawn_with(move |s| {
        s.database = database;
        s.store.root = root;
    })
    .await;
    (first, second)
}

/// `n` requests at once, the even ones to `a`, the odd ones to `b`: each
/// `(method, path, headers, body)` made by `request(i)`; their statuses.
async fn at_once(
    (a, b): (&TestApp, &TestApp),
    n: usize,
    request: impl Fn(usize) -> (Method, String, Vec<(String, String)>, Vec<u8>),
) -> Vec<(u16, String)> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let app = if i % 2 == 0 { a } else { b };
        let (method, path, headers, body) = request(i);
        let mut req = app
            .client
            .request(method, app.url(&path))
            .header("x-auth-token", ALICE.0)
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        tasks.push(tokio::spawn(async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn registrations_of_one_location_on_two_servers_make_one_image() {
    let (a, b) = two_servers().await;
    a.put_object(ALICE.1, "images", "a.img", b"one object");
    let answers = at_once((&a, &b), 16, |i| {
        let headers = vec![
            ("x-image-meta-name".into(), format!("n{i}")),
            (
                "x-image-meta-location".into(),
                "pithos://alice/images/a.img".into(),
            ),
        ];
        (Method::POST, "/images".into(), headers, Vec::new())
    })
    .await;
    let mut ids = Vec::new();
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        ids.push(body["image"]["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one id for one location: {ids:?}");
    assert_eq!(a.list_ids("/images", ALICE.0).await, ids);
    assert_eq!(b.list_ids("/images", ALICE.0).await, ids);
}

#[tokio::test]
async fn properties_members_and_tags_written_on_two_servers_are_all_kept() {
    let (a, b) = two_servers().await;
    let id = a.alice().register("a.img").ok().await;
    let answers = at_once((&a, &b), 48, |i| match i % 3 {
        0 => (
            Method::PUT,
            format!("/images/{id}"),
            vec![(format!("x-image-meta-property-p{i}"), "v".into())],
            Vec::new(),
        ),
        1 => (
            Method::PUT,
            format!("/images/{id}/members/user{i}"),
            Vec::new(),
            Vec::new(),
        ),
        _ => (
            Method::PUT,
            format!("/v2/images/{id}/tags/t{i}"),
            Vec::new(),
            Vec::new(),
        ),
    })
    .await;
    for (status, body) in answers {
        assert!(status == 200 || status == 204, "{status} {body}");
    }
    for app in [&a, &b] {
        let item = app.detail_of(&id, ALICE.0).await;
        assert_eq!(item["properties"].as_object().unwrap().len(), 16, "{item}");
        assert_eq!(app.member_ids("", &id, ALICE.0).await.len(), 16);
        let v2 = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
        assert_eq!(v2["tags"].as_array().unwrap().len(), 16, "{v2}");
    }
}

/// The registry reads an object's version in one transaction and writes
/// the next in another: its turn on the object (an advisory lock across
/// processes) keeps two servers from writing one version twice.
#[tokio::test]
async fn object_versions_written_on_two_servers_count_up_without_duplicates() {
    let (a, b) = two_servers().await;
    let answers = at_once((&a, &b), 12, |i| {
        (
            Method::PUT,
            "/object-store/v1/alice/images/o".into(),
            Vec::new(),
            format!("version {i}").into_bytes(),
        )
    })
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, 201, "{body}");
    }
    let head = b
        .request(
            Method::HEAD,
            "/object-store/v1/alice/images/o",
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(head.status(), 200);
    let version = head.headers()["x-object-version"].to_str().unwrap();
    assert_eq!(version, "12", "twelve writes, twelve versions");
}

/// An upload by hashmap spread over two servers (a proxy spreads a
/// client's requests): the 409 and the blocks through one, the final `PUT`
/// through the other, which must find the blocks; the object is whole.
#[tokio::test]
async fn a_hashmap_upload_may_send_its_blocks_through_another_server() {
    use crate::objects::{block_hash, post_blocks, put_hashmap, BLOCK};
    let (a, b) = two_servers().await;
    for (n, (first, other)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
        let parts = [vec![n as u8 + 1; BLOCK], vec![n as u8 + 7; 1000]];
        let map = serde_json::json!({
            "bytes": BLOCK + 1000,
            "hashes": parts.iter().map(|p| block_hash(p)).collect::<Vec<_>>(),
        });
        let path = format!("/alice/pithos/spread-{n}.img");
        assert_eq!(put_hashmap(first, &path, &map).await.status(), 409);
        for p in &parts {
            assert_eq!(post_blocks(first, "alice", "pithos", p).await.status(), 202);
        }
        let done = put_hashmap(other, &path, &map).await;
        assert_eq!(done.status(), 201, "{:?}", done.text().await);
        let file = a.root().join(format!("alice/pithos/spread-{n}.img"));
        assert_eq!(std::fs::read(file).unwrap(), parts.concat());
    }
}
