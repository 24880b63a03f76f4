//! A first walk through register, list, HEAD and download.

use crate::helpers::{TestApp, ALICE};
use reqwest::Method;

#[tokio::test]
async fn register_list_head_and_download_an_image() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("one.img")
        .data(b"hello world")
        .ok()
        .await;
    let list: serde_json::Value = app
        .request(Method::GET, "/images", Some(ALICE.0), &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["id"], id);
    let head = app
        .request(Method::HEAD, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["x-image-meta-size"], "11");
    let data = app
        .request(Method::GET, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"hello world");
}
