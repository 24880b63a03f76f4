//! Raw data (docs/api.md §7 GET /images/{id}): whole and ranged downloads, 416, and the
//! 409s of an image that is not available or whose object went away.

use reqwest::Method;

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{fault, header, must_header, sha256_hex, PREFIXES};

const DATA: &[u8] = b"hello world";

async fn one_image(app: &TestApp) -> String {
    app.alice().register("a.img").data(DATA).ok().await
}

async fn ranged(app: &TestApp, path: &str, range: &str) -> reqwest::Response {
    app.request(Method::GET, path, Some(ALICE.0), &[("Range", range)])
        .await
}

#[tokio::test]
async fn get_streams_the_whole_object_as_octet_stream_with_length_etag_and_metadata() {
    let app = TestApp::spawn().await;
    let id = one_image(&app).await;
    for prefix in PREFIXES {
        let resp = app.get(&format!("{prefix}/images/{id}"), ALICE.0).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            must_header(&resp, "content-type"),
            "application/octet-stream"
        );
        assert_eq!(must_header(&resp, "content-length"), "11");
        assert!(must_header(&resp, "etag").starts_with('"'));
        assert_eq!(must_header(&resp, "x-image-meta-id"), id);
        assert_eq!(must_header(&resp, "x-image-meta-size"), "11");
        assert_eq!(must_header(&resp, "x-image-meta-status"), "available");
        assert_eq!(header(&resp, "content-range"), None);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), DATA);
    }
}

#[tokio::test]
async fn a_range_gives_206_with_content_range_and_just_those_bytes() {
    let app = TestApp::spawn().await;
    let id = one_image(&app).await;
    for prefix in PREFIXES {
        let path = format!("{prefix}/images/{id}");
        for (range, content_range, body) in [
            ("bytes=0-4", "bytes 0-4/11", &b"hello"[..]),
            ("bytes=6-10", "bytes 6-10/11", b"world"),
            ("bytes=6-", "bytes 6-10/11", b"world"),
            ("bytes=0-0", "bytes 0-0/11", b"h"),
            ("bytes=10-10", "bytes 10-10/11", b"d"),
            ("bytes=0-", "bytes 0-10/11", DATA),
            // A range running past the end is cut at the end.
            ("bytes=6-100", "bytes 6-10/11", b"world"),
            ("bytes=0-99999999", "bytes 0-10/11", DATA),
            // Suffix ranges: the last n bytes.
            ("bytes=-5", "bytes 6-10/11", b"world"),
            ("bytes=-1", "bytes 10-10/11", b"d"),
            ("bytes=-11", "bytes 0-10/11", DATA),
            ("bytes=-100", "bytes 0-10/11", DATA),
        ] {
            let resp = ranged(&app, &path, range).await;
            assert_eq!(resp.status(), 206, "{path} {range}");
            assert_eq!(
                must_header(&resp, "content-range"),
                content_range,
                "{range}"
            );
            assert_eq!(
                must_header(&resp, "content-length"),
                body.len().to_string(),
                "{range}"
            );
            assert_eq!(must_header(&resp, "x-image-meta-id"), id);
            assert_eq!(resp.bytes().await.unwrap().as_ref(), body, "{range}");
        }
    }
}

#[tokio::test]
async fn an_unsatisfiable_range_is_416_with_content_range_of_the_size() {
    let app = TestApp::spawn().await;
    let id = one_image(&app).await;
    let empty = app.alice().register("empty.img").data(b"").ok().await;
    for prefix in PREFIXES {
        for (id, size, range) in [
            (&id, 11, "bytes=11-"),
            (&id, 11, "bytes=11-20"),
            (&id, 11, "bytes=100-200"),
            (&id, 11, "bytes=-0"),
            (&empty, 0, "bytes=0-"),
            (&empty, 0, "bytes=0-0"),
            (&empty, 0, "bytes=-1"),
        ] {
            let resp = ranged(&app, &format!("{prefix}/images/{id}"), range).await;
            assert_eq!(resp.status(), 416, "{range} of {size}");
            assert_eq!(
                must_header(&resp, "content-range"),
                format!("bytes */{size}"),
                "{range}"
            );
            fault(resp, 416, "rangeNotSatisfiable", &[]).await;
        }
    }
    // The empty object downloads whole as 0 bytes.
    let resp = app.get(&format!("/images/{empty}"), ALICE.0).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        must_header(&resp, "etag"),
        format!("\"{}\"", sha256_hex(b""))
    );
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_malformed_range_is_400() {
    let app = TestApp::spawn().await;
    let id = one_image(&app).await;
    for range in ["bytes=z-", "bytes=5-1", "bytes=-", "lines=0-1", "bytes 0-1"] {
        let resp = ranged(&app, &format!("/images/{id}"), range).await;
        fault(resp, 400, "badRequest", &["range"]).await;
    }
}

#[tokio::test]
async fn data_of_an_image_that_is_not_available_is_409_conflict() {
    let app = TestApp::spawn().await;
    let id = one_image(&app).await;
    for status in ["saving", "error"] {
        app.update_ok(&id, ALICE.0, &[("X-Image-Meta-Status", status)])
            .await;
        for prefix in PREFIXES {
            for token in [ALICE.0] {
                let resp = app.get(&format!("{prefix}/images/{id}"), token).await;
                fault(resp, 409, "conflict", &[status]).await;
                let resp = ranged(&app, &format!("{prefix}/images/{id}"), "bytes=0-1").await;
                fault(resp, 409, "conflict", &[]).await;
            }
            let head = app.head(&format!("{prefix}/images/{id}"), ALICE.0).await;
            assert_eq!(head.status(), 200);
        }
    }
    app.update_ok(&id, ALICE.0, &[("X-Image-Meta-Status", "available")])
        .await;
    let resp = app.get(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), DATA);
}

#[tokio::test]
async fn data_whose_object_is_gone_or_resized_is_409_conflict() {
    let app = TestApp::spawn().await;
    let id = one_image(&app).await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    let file = app.root().join("alice/images/a.img");
    std::fs::write(&file, b"hello world, grown").unwrap();
    for token in [ALICE.0, BOB.0] {
        let resp = app.get(&format!("/images/{id}"), token).await;
        fault(resp, 409, "conflict", &[]).await;
    }
    std::fs::write(&file, b"hello").unwrap();
    let resp = app.get(&format!("/v1/images/{id}"), ALICE.0).await;
    fault(resp, 409, "conflict", &[]).await;
    std::fs::remove_file(&file).unwrap();
    let resp = app.get(&format!("/images/{id}"), ALICE.0).await;
    fault(resp, 409, "conflict", &[]).await;
    let resp = ranged(&app, &format!("/images/{id}"), "bytes=0-1").await;
    fault(resp, 409, "conflict", &[]).await;
    // HEAD still shows the image as registered.
    let head = app.head(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(head.status(), 200);
    assert_eq!(must_header(&head, "x-image-meta-size"), "11");
    // The size and checksum registered do not follow the object.
    std::fs::write(&file, DATA).unwrap();
    let resp = app.get(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn readers_may_download_and_strangers_may_not() {
    let app = TestApp::spawn().await;
    let id = one_image(&app).await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    let resp = app.get(&format!("/images/{id}"), BOB.0).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), DATA);
    let resp = app.get(&format!("/images/{id}"), CAROL.0).await;
    let message = fault(resp, 404, "itemNotFound", &[&id]).await;
    assert!(message.contains(&id), "{message:?} quotes {id} as it is");
    let resp = app
        .request(
            Method::GET,
            &format!("/images/{id}"),
            Some(CAROL.0),
            &[("Range", "bytes=0-1")],
        )
        .await;
    fault(resp, 404, "itemNotFound", &[&id]).await;
}
