//! Inspection in pithos mode (docs/api.md §19): an object registered by
//! location is read with `Range` requests, a few of them and a bounded
//! number of bytes whatever its size, and judged as on the fs store; an
//! upload refused by the inspector leaves no object in Pithos.

use serde_json::Value;

use crate::helpers::{TestApp, ALICE};
use crate::util::json_with_status;
use plankton::config::InspectionPolicy;

#[path = "../inspect/images.rs"]
mod images;

use images::Verdict;

/// The most bytes one inspection may read: the bound and the tail.
const MOST: u64 = (4 << 20) + 512;

/// The bytes a `Range` header asks for, of an object of `size` bytes.
fn asked(range: &str, size: u64) -> u64 {
    let spec = range.strip_prefix("bytes=").expect("a byte range");
    match spec.split_once('-') {
        Some(("", n)) => n.parse::<u64>().unwrap().min(size),
        Some((a, b)) => b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1,
        None => panic!("{range}"),
    }
}

async fn alices_images(app: &TestApp) -> usize {
    let body = json_with_status(app.get("/images/detail", ALICE.0).await, 200).await;
    body.as_array().unwrap().len()
}

#[tokio::test]
async fn objects_in_pithos_are_inspected_with_bounded_range_reads_when_registered() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cases) = images::make(dir.path()) else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.images.inspection = InspectionPolicy::Enforce).await;
    for case in &cases {
        let data = case.bytes();
        app.put_object(ALICE.1, "pithos", case.name, &data);
        let before = (alices_images(&app).await, app.backends.pithos.seen().len());
        let resp = app
            .client
            .post(app.url("/images"))
            .header("x-auth-token", ALICE.0)
            .header("x-image-meta-name", case.name)
            .header(
                "x-image-meta-location",
                format!("pithos://alice/pithos/{}", case.name),
            )
            .header("x-image-meta-disk-format", case.disk_format)
            .send()
            .await
            .unwrap();
        let gets: Vec<String> = app.backends.pithos.seen()[before.1..]
            .iter()
            .filter(|s| s.method == "GET")
            .map(|s| s.range.clone().expect("every read has a Range"))
            .collect();
        let read: u64 = gets.iter().map(|r| asked(r, data.len() as u64)).sum();
        assert!(
            read <= MOST,
            "{}: {read} bytes read with {gets:?}",
            case.name
        );
        assert!(gets.len() <= 6, "{}: {gets:?}", case.name);
        match &case.verdict {
            Verdict::Safe { virtual_size, .. } => {
                let body = json_with_status(resp, 200).await;
                let id = body["image"]["id"].as_str().unwrap();
                let v2 = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200)
                    .await;
                assert_eq!(v2["virtual_size"], *virtual_size, "{}", case.name);
            }
            Verdict::Unsafe(needle) => {
                let status = resp.status();
                let text = resp.text().await.unwrap();
                assert_eq!(status, 400, "{}: {text}", case.name);
                assert!(text.contains(needle), "{}: {text}", case.name);
                assert_eq!(alices_images(&app).await, before.0, "{}", case.name);
            }
        }
    }
}

#[tokio::test]
async fn an_upload_the_inspector_refuses_leaves_no_object_in_pithos() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cases) = images::make(dir.path()) else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.images.inspection = InspectionPolicy::Enforce).await;
    let backed = cases.iter().find(|c| c.name == "backed.qcow2").unwrap();
    let resp = app
        .client
        .post(app.url("/images"))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-name", "backed")
        .header("x-image-meta-disk-format", "qcow2")
        .body(backed.bytes())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("backing file"), "{text}");
    assert_eq!(alices_images(&app).await, 0);
    let uploads = app.root().join("alice/images");
    let left = std::fs::read_dir(&uploads).map_or(0, Iterator::count);
    assert_eq!(left, 0, "nothing in Pithos at {}", uploads.display());
    let plain = cases.iter().find(|c| c.name == "plain.qcow2").unwrap();
    let resp = app
        .client
        .post(app.url("/images"))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-name", "plain")
        .header("x-image-meta-disk-format", "qcow2")
        .body(plain.bytes())
        .send()
        .await
        .unwrap();
    let body: Value = json_with_status(resp, 200).await;
    let id = body["image"]["id"].as_str().unwrap();
    let v2 = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    assert_eq!(v2["virtual_size"], 1u64 << 30);
}

/// Registers `pithos://alice/pithos/<name>` as `disk_format`.
async fn register(app: &TestApp, name: &str, disk_format: &str) -> reqwest::Response {
    app.client
        .post(app.url("/images"))
        .header("x-auth-token", ALICE.0)
        .header("x-image-meta-name", name)
        .header(
            "x-image-meta-location",
            format!("pithos://alice/pithos/{name}"),
        )
        .header("x-image-meta-disk-format", disk_format)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn re_registering_the_same_bytes_reads_nothing_and_is_judged_again() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cases) = images::make(dir.path()) else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.images.inspection = InspectionPolicy::Enforce).await;
    let plain = cases.iter().find(|c| c.name == "plain.qcow2").unwrap();
    app.put_object(ALICE.1, "pithos", "disk", &plain.bytes());
    json_with_status(register(&app, "disk", "qcow2").await, 200).await;
    let gets = || {
        let seen = app.backends.pithos.seen();
        seen.iter().filter(|s| s.method == "GET").count()
    };
    let read = gets();
    let again = json_with_status(register(&app, "disk", "qcow2").await, 200).await;
    assert_eq!(
        gets(),
        read,
        "the kept inspection of the same bytes is used"
    );
    let id = again["image"]["id"].as_str().unwrap().to_string();
    // Judged again against the new disk_format: a mismatch, and the image
    // stays as it was.
    let resp = register(&app, "disk", "raw").await;
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("disk_format is 'raw' but the data is qcow2"),
        "{text}"
    );
    let v2 = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    assert_eq!(v2["disk_format"], "qcow2");
    // New bytes at the same place are read and judged afresh.
    let backed = cases.iter().find(|c| c.name == "backed.qcow2").unwrap();
    app.put_object(ALICE.1, "pithos", "disk", &backed.bytes());
    let resp = register(&app, "disk", "qcow2").await;
    assert!(gets() > read, "new bytes are read");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("backing file"), "{text}");
}
