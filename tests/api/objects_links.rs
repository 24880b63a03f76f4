//! One rule for symbolic links under the store root (issue 25, item 6):
//! none is followed anywhere on a location's path, wherever it points, for
//! registering, downloading and the object-store endpoint alike, so a link
//! in Alice's account directory cannot reach Bob's private file.

use std::path::Path;

use crate::helpers::{TestApp, ALICE, BOB};
use crate::util::fault;

/// Bob's private file, and links to it (or towards it) in Alice's account:
/// to the file, to its directory, to Bob's account in the middle of the
/// path, and one that points nowhere. The locations Alice would use.
fn links_to_bobs_file(app: &TestApp) -> Vec<&'static str> {
    app.put_object(BOB.1, "private", "secret.img", b"bob's secret");
    let root = app.root();
    let images = root.join("alice/images");
    std::fs::create_dir_all(&images).unwrap();
    let link = |to: &Path, at: &Path| std::os::unix::fs::symlink(to, at).unwrap();
    link(
        &root.join("bob/private/secret.img"),
        &images.join("file.img"),
    );
    link(&root.join("bob/private"), &images.join("dir"));
    link(&root.join("bob"), &root.join("alice/bob"));
    link(
        &root.join("bob/private/gone.img"),
        &images.join("dangling.img"),
    );
    vec![
        "pithos://alice/images/file.img",
        "pithos://alice/images/dir/secret.img",
        "pithos://alice/bob/private/secret.img",
        "pithos://alice/images/dangling.img",
    ]
}

#[tokio::test]
async fn a_link_to_another_account_s_file_registers_nothing() {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: links under the store root are an fs-store matter");
        return;
    }
    let app = TestApp::spawn().await;
    for loc in links_to_bobs_file(&app) {
        let resp = app.alice().register("stolen").location(loc).send().await;
        fault(resp, 400, "badRequest", &[]).await;
    }
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
    assert!(app.list_ids("/images", BOB.0).await.is_empty());
    // Bob's own path to it still registers.
    let own = app
        .bob()
        .register("secret")
        .location("pithos://bob/private/secret.img")
        .send()
        .await;
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn the_object_store_refuses_the_same_links() {
    if crate::HTTP_BACKENDS {
        return;
    }
    let app = TestApp::spawn().await;
    for loc in links_to_bobs_file(&app) {
        let path = loc.trim_start_matches("pithos:/");
        let resp = crate::objects::get(&app, path, ALICE.0).await;
        assert!(
            matches!(resp.status().as_u16(), 403 | 404),
            "{path}: {}",
            resp.status()
        );
        let body = resp.bytes().await.unwrap();
        assert!(!body.windows(12).any(|w| w == b"bob's secret"), "{path}");
    }
}

#[tokio::test]
async fn an_image_whose_path_became_a_link_is_not_served() {
    if crate::HTTP_BACKENDS {
        return;
    }
    let app = TestApp::spawn().await;
    // Alice registers her file; then her directory is swapped for a link
    // to Bob's, which holds a file of the same name and size.
    app.put_object(ALICE.1, "images", "sub/a.img", b"alice's data");
    app.put_object(BOB.1, "private", "a.img", b"bob's secret");
    let resp = app
        .alice()
        .register("a")
        .location("pithos://alice/images/sub/a.img")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    let id = crate::util::must_header(&resp, "x-image-meta-id");
    let sub = app.root().join("alice/images/sub");
    std::fs::rename(&sub, app.root().join("alice/images/old")).unwrap();
    std::os::unix::fs::symlink(app.root().join("bob/private"), &sub).unwrap();
    let got = app.get(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(
        got.status(),
        409,
        "the object is gone as far as the store goes"
    );
    let body = got.bytes().await.unwrap();
    assert!(!body.windows(12).any(|w| w == b"bob's secret"));
    // Put back, it is served again.
    std::fs::remove_file(&sub).unwrap();
    std::fs::rename(app.root().join("alice/images/old"), &sub).unwrap();
    let got = app.get(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"alice's data");
}
