//! Every JSON body the service reads refuses a valid document followed by
//! more bytes: 400 naming the trailing characters, and nothing changes
//! (members, identity, the object store's hashmap).

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, ALICE};
use crate::util::{fault, PREFIXES};

/// What a refused body is followed by: text, a second document, a stray brace.
const TRAILERS: [&str; 3] = [" trailing", " {}", "}"];

#[tokio::test]
async fn replacing_members_with_trailing_bytes_is_refused_and_keeps_the_list() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    for prefix in PREFIXES {
        for trailer in TRAILERS {
            let body = format!(r#"{{"memberships": []}}{trailer}"#);
            let resp = app
                .send_body(
                    Method::PUT,
                    &format!("{prefix}/images/{id}/members"),
                    Some(ALICE.0),
                    body.as_bytes(),
                )
                .await;
            fault(resp, 400, "badRequest", &["members", "trailing"]).await;
            assert_eq!(app.member_ids(prefix, &id, ALICE.0).await, ["bob"]);
        }
    }
    // Blanks after the document are no trailing characters.
    let resp = app
        .send_body(
            Method::PUT,
            &format!("/images/{id}/members"),
            Some(ALICE.0),
            b"{\"memberships\": []}\r\n \t",
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
}

#[tokio::test]
async fn adding_a_member_with_trailing_bytes_is_refused_and_adds_nothing() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    for prefix in PREFIXES {
        for trailer in TRAILERS {
            let body = format!(r#"{{"member": {{"can_share": false}}}}{trailer}"#);
            let resp = app
                .send_body(
                    Method::PUT,
                    &format!("{prefix}/images/{id}/members/carol"),
                    Some(ALICE.0),
                    body.as_bytes(),
                )
                .await;
            fault(resp, 400, "badRequest", &["member", "trailing"]).await;
            assert!(app.member_ids(prefix, &id, ALICE.0).await.is_empty());
        }
    }
}

#[tokio::test]
async fn identity_bodies_with_trailing_bytes_are_refused() {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: the offline identity endpoints serve only in token-file mode");
        return;
    }
    let app = TestApp::spawn().await;
    for trailer in TRAILERS {
        let body = format!(
            r#"{{"auth": {{"token": {{"id": "{}"}}}}}}{trailer}"#,
            ALICE.0
        );
        let resp = app
            .send_body(Method::POST, "/identity/v2.0/tokens", None, body.as_bytes())
            .await;
        fault(resp, 400, "badRequest", &["tokens body", "trailing"]).await;
        let body = format!(r#"{{"uuids": ["{}"]}}{trailer}"#, ALICE.1);
        let resp = app
            .send_body(
                Method::POST,
                "/account/v1.0/user_catalogs",
                Some(ALICE.0),
                body.as_bytes(),
            )
            .await;
        fault(resp, 400, "badRequest", &["user_catalogs", "trailing"]).await;
    }
}

#[tokio::test]
async fn a_hashmap_with_trailing_bytes_is_refused_and_writes_nothing() {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: with the pithos store the object store is Pithos's");
        return;
    }
    let app = TestApp::spawn().await;
    let created = app
        .request(
            Method::PUT,
            "/object-store/v1/alice/images",
            Some(ALICE.0),
            &[],
        )
        .await;
    assert!(created.status().is_success(), "{}", created.status());
    // The hash of no data: the map would be complete, so only the trailer
    // can refuse it.
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for trailer in TRAILERS {
        let map = json!({"bytes": 0, "hashes": [empty]});
        let resp = app
            .client
            .put(app.url("/object-store/v1/alice/images/x.img?format=json&hashmap=True"))
            .header("x-auth-token", ALICE.0)
            .header("content-type", "application/octet-stream")
            .body(format!("{map}{trailer}"))
            .send()
            .await
            .expect("request sent");
        fault(resp, 400, "badRequest", &["hashmap", "trailing"]).await;
        let got = app
            .get("/object-store/v1/alice/images/x.img", ALICE.0)
            .await;
        assert_eq!(got.status(), 404, "nothing was written");
    }
}
