//! The v1 view of the image model v2 brings (docs/api.md §17.12): what v1
//! refuses of it, and that a refusal changes nothing.

use reqwest::Method;

use crate::helpers::{TestApp, ALICE};
use crate::util::fault;

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
