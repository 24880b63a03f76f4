//! The v1 view of the image model v2 brings (docs/api.md §17.12): what v1
//! refuses of it, and that a refusal changes nothing.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, ALICE, BOB};
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

/// Puts image `id` in a state only v2 makes (there is no v1 way): `queued`
/// without data, or `deactivated`.
fn set_state(app: &TestApp, id: &str, sql: &str) {
    let changed = crate::helpers::catalogue_sql(app, &format!("{sql} RETURNING 1"), &[id]);
    assert_eq!(changed.len(), 1);
}

#[tokio::test]
async fn a_queued_image_shows_no_data_and_a_deactivated_one_refuses_its_data() {
    let app = TestApp::spawn().await;
    let resp = app.alice().register("q.img").public().send().await;
    let queued = must_header(&resp, "x-image-meta-id");
    let resp = app.alice().register("d.img").public().send().await;
    let deactivated = must_header(&resp, "x-image-meta-id");
    set_state(
        &app,
        &queued,
        "UPDATE images SET status = 'queued', location = NULL, size = NULL, checksum = NULL, \
         md5 = NULL, disk_format = NULL, container_format = NULL WHERE id = ?1",
    );
    set_state(
        &app,
        &deactivated,
        "UPDATE images SET status = 'deactivated' WHERE id = ?1",
    );
    for prefix in ["", "/v1"] {
        let body = app.list(&format!("{prefix}/images/detail"), ALICE.0).await;
        let item = crate::util::items(&body)
            .into_iter()
            .find(|i| i["id"] == queued.as_str())
            .unwrap();
        assert_eq!(item["status"], "queued");
        assert_eq!(
            (&item["location"], &item["size"], &item["disk_format"]),
            (&json!(""), &json!(0), &json!(""))
        );
        assert_eq!(
            item.get("checksum").cloned(),
            (prefix.is_empty()).then(|| json!(""))
        );
        let head = app
            .head(&format!("{prefix}/images/{queued}"), ALICE.0)
            .await;
        assert_eq!(must_header(&head, "x-image-meta-status"), "queued");
        let data = app.get(&format!("{prefix}/images/{queued}"), BOB.0).await;
        fault(data, 409, "conflict", &["queued"]).await;
        let data = app
            .get(&format!("{prefix}/images/{deactivated}"), ALICE.0)
            .await;
        fault(data, 403, "forbidden", &["deactivated"]).await;
    }
    let before = app.detail_of(&queued, ALICE.0).await;
    let set = app
        .request(
            Method::PUT,
            &format!("/images/{queued}"),
            Some(ALICE.0),
            &[("X-Image-Meta-Status", "available")],
        )
        .await;
    fault(set, 409, "conflict", &["queued"]).await;
    assert_eq!(app.detail_of(&queued, ALICE.0).await, before);
}

#[tokio::test]
async fn a_private_image_is_the_owners_alone_until_v1_shares_it() {
    let app = TestApp::spawn().await;
    let resp = app.alice().register("p.img").send().await;
    let id = must_header(&resp, "x-image-meta-id");
    app.set_members(&id, ALICE.0, &["bob"]).await;
    set_state(
        &app,
        &id,
        "UPDATE images SET visibility = 'private' WHERE id = ?1",
    );
    // The member stays stored but reads nothing while the image is private.
    assert!(app.list_ids("/images", BOB.0).await.is_empty());
    let head = app.head(&format!("/images/{id}"), BOB.0).await;
    assert_eq!(head.status(), 404);
    // Updating is_public=false keeps it private; adding a member through v1 shares it.
    app.update_ok(&id, ALICE.0, &[("X-Image-Meta-Is-Public", "false")])
        .await;
    assert!(app.list_ids("/images", BOB.0).await.is_empty());
    let add = app
        .request(
            Method::PUT,
            &format!("/images/{id}/members/carol"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(add.status(), 204);
    assert_eq!(app.list_ids("/images", BOB.0).await, vec![id.clone()]);
    assert_eq!(app.member_ids("", &id, BOB.0).await, ["bob", "carol"]);
}
