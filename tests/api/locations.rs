//! Locations and the fs store (docs/api.md §9): nothing outside the store root may be
//! reached, and two spellings of one object are one location.

use crate::helpers::{TestApp, ALICE};
use crate::util::{fault, json_with_status, must_header};

/// Alice registers `n` at `location`, as it is spelled.
async fn register_at(app: &TestApp, location: &str) -> reqwest::Response {
    app.alice().register("n").location(location).send().await
}

#[tokio::test]
async fn locations_that_climb_out_of_the_store_are_400_and_register_nothing() {
    let app = TestApp::spawn().await;
    // A file just outside the root, and Alice's own object inside it.
    std::fs::write(app.dir.path().join("secret"), b"outside").unwrap();
    app.put_object(ALICE.1, "images", "ok.img", b"inside");
    for loc in [
        "pithos://alice/images/../../../secret",
        "pithos://alice/images/%2e%2e/%2e%2e/%2e%2e/secret",
        "pithos://alice/images/%2E%2E/%2E%2E/%2E%2E/secret",
        "pithos://alice/images/%2e%2E/ok.img",
        "pithos://alice/../alice/images/ok.img",
        "pithos://alice/%2e%2e/alice/images/ok.img",
        "pithos://alice/images/./ok.img",
        "pithos://alice/images/%2e/ok.img",
        "pithos://alice/images/a%2F..%2F..%2F..%2Fsecret",
        "pithos://alice/images/ok.img/..",
    ] {
        let resp = register_at(&app, loc).await;
        fault(resp, 400, "badRequest", &["location"]).await;
    }
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
}

#[tokio::test]
async fn a_symlink_inside_the_root_pointing_outside_is_400_and_registers_nothing() {
    if crate::HTTP_BACKENDS {
        eprintln!(
            "skipped: symlinks out of the store root are an fs-store matter; Pithos has none"
        );
        return;
    }
    let app = TestApp::spawn().await;
    let outside = app.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"outside").unwrap();
    let images = app.root().join("alice/images");
    std::fs::create_dir_all(&images).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), images.join("link.img")).unwrap();
    std::os::unix::fs::symlink(&outside, images.join("dir")).unwrap();
    std::os::unix::fs::symlink(&outside, app.root().join("alice/linked")).unwrap();
    for loc in [
        "pithos://alice/images/link.img",
        "pithos://alice/images/dir/secret",
        "pithos://alice/linked/secret",
    ] {
        let resp = register_at(&app, loc).await;
        assert_eq!(resp.status(), 400, "{loc}");
        fault(resp, 400, "badRequest", &[]).await;
    }
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
}

#[tokio::test]
async fn two_spellings_of_one_object_are_one_location_shown_canonically() {
    let app = TestApp::spawn().await;
    app.put_object(ALICE.1, "my images", "Debian 12/disk é.img", b"debian");
    let first = register_at(&app, "pithos://alice/my images/Debian 12/disk é.img").await;
    assert_eq!(first.status(), 200);
    let canonical = "pithos://alice/my%20images/Debian%2012/disk%20%C3%A9.img";
    assert_eq!(must_header(&first, "x-image-meta-location"), canonical);
    let id = must_header(&first, "x-image-meta-id");
    for spelling in [
        canonical,
        "pithos://alice/my%20images/Debian%2012/disk%20%c3%a9.img",
        "pithos://%61lice/my%20images/Debian 12/disk%20é.img",
        "pithos://alice/my%20images/Debian%2012%2Fdisk%20%C3%A9.img",
        "pithos://alice/my images/%44ebian 12/disk %C3%A9%2Eimg",
    ] {
        let resp = register_at(&app, spelling).await;
        assert_eq!(resp.status(), 200, "{spelling}");
        assert_eq!(must_header(&resp, "x-image-meta-id"), id, "{spelling}");
        let body = json_with_status(resp, 200).await;
        assert_eq!(body["image"]["location"], canonical);
    }
    assert_eq!(app.list_ids("/images", ALICE.0).await, vec![id.clone()]);
    let data = app.get(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"debian");
}

#[tokio::test]
async fn unreserved_characters_stay_as_they_are_in_the_canonical_location() {
    let app = TestApp::spawn().await;
    app.put_object(ALICE.1, "c-1_x.y~z", "A-Z_a.z~0+9 (x)", b"x");
    let resp = register_at(&app, "pithos://alice/c-1_x.y~z/A-Z_a.z~0+9 (x)").await;
    assert_eq!(
        must_header(&resp, "x-image-meta-location"),
        "pithos://alice/c-1_x.y~z/A-Z_a.z~0%2B9%20%28x%29"
    );
}

#[tokio::test]
async fn objects_deeper_in_a_container_register_with_their_whole_path() {
    let app = TestApp::spawn().await;
    let resp = app
        .bob()
        .register("a/b/c/deep.img")
        .data(b"deep")
        .name("deep")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        must_header(&resp, "x-image-meta-location"),
        "pithos://bob/images/a/b/c/deep.img"
    );
    assert_eq!(must_header(&resp, "x-image-meta-size"), "4");
}

#[tokio::test]
async fn a_location_is_percent_decoded_once_not_as_a_header_value_and_again() {
    let app = TestApp::spawn().await;
    app.put_object(ALICE.1, "images", "a%20b", b"literal percent");
    app.put_object(ALICE.1, "images", "a b", b"space");
    let resp = register_at(&app, "pithos://alice/images/a%2520b").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        must_header(&resp, "x-image-meta-location"),
        "pithos://alice/images/a%2520b"
    );
    assert_eq!(must_header(&resp, "x-image-meta-size"), "15");
    let resp = register_at(&app, "pithos://alice/images/a%20b").await;
    assert_eq!(must_header(&resp, "x-image-meta-size"), "5");
    assert_eq!(app.list_ids("/images", ALICE.0).await.len(), 2);
}
