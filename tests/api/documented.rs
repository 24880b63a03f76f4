//! Answers the contract leaves open and `docs/behaviour.md` settles: these
//! tests keep the documented choices from drifting.

use reqwest::Method;

use crate::helpers::{TestApp, ALICE};
use crate::util::{fault, json_with_status, must_header};

#[tokio::test]
async fn version_prefixes_without_a_trailing_slash_also_answer_the_versions_document() {
    let app = TestApp::spawn().await;
    for path in ["/v1.0", "/v1"] {
        let body = json_with_status(app.request(Method::GET, path, None, &[]).await, 200).await;
        assert_eq!(body["versions"][0]["id"], "v2.7", "{path}");
        assert_eq!(body["versions"][8]["id"], "v1.0", "{path}");
    }
    for path in ["/v1.0/versions", "/v1/versions"] {
        let resp = app.request(Method::GET, path, None, &[]).await;
        fault(resp, 404, "itemNotFound", &[]).await;
    }
}

#[tokio::test]
async fn the_same_field_twice_with_different_values_is_400_and_with_one_value_is_fine() {
    let app = TestApp::spawn().await;
    let resp = app
        .alice()
        .register("a.img")
        .header("X-Image-Meta-Disk-Format", "raw")
        .header("x-image-meta-disk_format", "raw")
        .header("X-Image-Meta-Property-OS", "linux")
        .header("x-image-meta-property_os", "linux")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    app.alice()
        .register("a.img")
        .header("X-Image-Meta-Disk-Format", "raw")
        .header("x-image-meta-disk_format", "iso")
        .fault(400, "badRequest", &["disk-format"])
        .await;
    app.alice()
        .register("a.img")
        .header("X-Image-Meta-Property-OS", "linux")
        .header("x-image-meta-property_os", "bsd")
        .fault(400, "badRequest", &["os"])
        .await;
}

#[tokio::test]
async fn listing_filters_match_case_sensitively() {
    let app = TestApp::spawn().await;
    app.alice().register("a.img").name("Debian").ok().await;
    for query in [
        "status=AVAILABLE",
        "name=debian",
        "disk_format=DISKDUMP",
        "owner=Alice",
    ] {
        let ids = app.list_ids(&format!("/images?{query}"), ALICE.0).await;
        assert!(ids.is_empty(), "{query}");
    }
}

#[tokio::test]
async fn changing_members_does_not_change_updated_at() {
    let app = TestApp::spawn().await;
    let a = app.alice().register("a.img").data(b"a").ok().await;
    let b = app.alice().register("b.img").data(b"b").ok().await;
    app.set_members(&a, ALICE.0, &["bob"]).await;
    let resp = app
        .request(
            Method::PUT,
            &format!("/images/{a}/members/carol"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        app.list_ids("/images?sort_key=updated_at", ALICE.0).await,
        vec![a, b]
    );
}

#[tokio::test]
async fn several_ranges_are_answered_whole_with_200() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("a.img")
        .data(b"hello world")
        .ok()
        .await;
    let resp = app
        .request(
            Method::GET,
            &format!("/images/{id}"),
            Some(ALICE.0),
            &[("Range", "bytes=0-1,4-5")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(must_header(&resp, "accept-ranges"), "bytes");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"hello world");
}

#[tokio::test]
async fn a_request_body_over_one_mebibyte_is_413() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let mut body = br#"{"memberships": [], "pad": ""#.to_vec();
    body.extend(std::iter::repeat_n(b' ', 1 << 20));
    body.extend(br#""}"#);
    let resp = app
        .send_body(
            Method::PUT,
            &format!("/images/{id}/members"),
            Some(ALICE.0),
            &body,
        )
        .await;
    fault(resp, 413, "overLimit", &[]).await;
}

#[tokio::test]
async fn a_marker_need_not_match_the_filters() {
    let app = TestApp::spawn().await;
    let a = app
        .alice()
        .register("a.img")
        .header("X-Image-Meta-Disk-Format", "raw")
        .ok()
        .await;
    let b = app.alice().register("b.img").ok().await;
    let c = app
        .alice()
        .register("c.img")
        .header("X-Image-Meta-Disk-Format", "raw")
        .ok()
        .await;
    let ids = app
        .list_ids(&format!("/images?disk_format=raw&marker={b}"), ALICE.0)
        .await;
    assert_eq!(ids, vec![c]);
    let _ = a;
}

#[tokio::test]
async fn a_plus_zone_sent_unencoded_in_changes_since_is_read_as_plus() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let ids = app
        .list_ids("/images?changes-since=2000-01-01T02:00:00+02:00", ALICE.0)
        .await;
    assert_eq!(ids, vec![id]);
    let ids = app
        .list_ids("/images?changes-since=2999-01-01T02:00:00+02:00", ALICE.0)
        .await;
    assert!(ids.is_empty());
}
