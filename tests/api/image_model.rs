//! The v1 view of the image model v2 brings (docs/api.md §17.12): what v1
//! refuses of it, and that a refusal changes nothing.

use reqwest::Method;

use crate::helpers::{TestApp, ALICE};
use crate::util::{fault, must_header};

#[tokio::test]
async fn property_keys_starting_os_glance_are_403_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.alice()
        .register("a.img")
        .property("os_glance_import", "x")
        .fault(403, "forbidden", &["os_glance_import"])
        .await;
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
    app.alice()
        .register("a.img")
        .property("os", "linux")
        .send()
        .await;
    let id = app.list_ids("/images", ALICE.0).await[0].clone();
    let before = app.detail_of(&id, ALICE.0).await;
    // Header names are normalised: os-glance-x is os_glance_x.
    for key in ["os_glance_x", "OS-Glance-Y"] {
        let name = format!("X-Image-Meta-Property-{key}");
        let resp = app
            .request(
                Method::PUT,
                &format!("/images/{id}"),
                Some(ALICE.0),
                &[(name.as_str(), "v"), ("X-Image-Meta-Name", "renamed")],
            )
            .await;
        fault(resp, 403, "forbidden", &["os_glance_"]).await;
    }
    assert_eq!(app.detail_of(&id, ALICE.0).await, before);
}

#[tokio::test]
async fn protected_is_shown_set_and_kept_and_a_protected_image_is_not_unregistered() {
    let app = TestApp::spawn().await;
    let resp = app
        .alice()
        .register("a.img")
        .header("X-Image-Meta-Protected", "TRUE")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(must_header(&resp, "x-image-meta-protected"), "True");
    let id = must_header(&resp, "x-image-meta-id");
    assert_eq!(app.detail_of(&id, ALICE.0).await["protected"], true);
    // Refused: a value that is no boolean (400), and DELETE (403); neither changes anything.
    let before = app.detail_of(&id, ALICE.0).await;
    let bad = app
        .request(
            Method::PUT,
            &format!("/images/{id}"),
            Some(ALICE.0),
            &[("X-Image-Meta-Protected", "yes")],
        )
        .await;
    fault(bad, 400, "badRequest", &["X-Image-Meta-Protected", "yes"]).await;
    for prefix in ["", "/v1.0", "/v1"] {
        let del = app
            .request(
                Method::DELETE,
                &format!("{prefix}/images/{id}"),
                Some(ALICE.0),
                &[],
            )
            .await;
        fault(del, 403, "forbidden", &["protected"]).await;
    }
    assert_eq!(app.detail_of(&id, ALICE.0).await, before);
    // A re-registration keeps it unless sent.
    let again = app.alice().register("a.img").send().await;
    assert_eq!(must_header(&again, "x-image-meta-protected"), "True");
    app.update_ok(&id, ALICE.0, &[("X-Image-Meta-Protected", "false")])
        .await;
    let head = app.head(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(must_header(&head, "x-image-meta-protected"), "False");
    let del = app
        .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(del.status(), 204);
}
