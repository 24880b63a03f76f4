//! What the real clients need beyond the letter of docs/api.md: the offline
//! identity endpoints (kamaki, snf-image-creator), glanceclient's `None`
//! values and header spellings, and kamaki's repeated properties on modify.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, ALICE, BOB};
use crate::util::{fault, json_with_status, must_header};

async fn tokens(app: &TestApp, body: &[u8], header_token: Option<&str>) -> reqwest::Response {
    app.send_body(Method::POST, "/identity/v2.0/tokens", header_token, body)
        .await
}

fn endpoint<'a>(access: &'a Value, kind: &str) -> &'a Value {
    access["serviceCatalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} service in {access}"))
}

#[tokio::test]
async fn the_tokens_endpoint_answers_astakos_shape_with_a_catalog_pointing_here() {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: the offline identity endpoints serve only in token-file mode");
        return;
    }
    let app = TestApp::spawn().await;
    let body = format!(r#"{{"auth": {{"token": {{"id": "{}"}}}}}}"#, ALICE.0);
    let resp = tokens(&app, body.as_bytes(), None).await;
    let json = json_with_status(resp, 200).await;
    let access = &json["access"];
    assert_eq!(access["token"]["id"], ALICE.0);
    assert!(access["token"]["expires"]
        .as_str()
        .unwrap()
        .ends_with("+00:00"));
    assert_eq!(access["user"]["id"], ALICE.1);
    assert_eq!(access["user"]["name"], "Alice Liddell");
    let image = endpoint(access, "image");
    assert_eq!(image["endpoints"][0]["publicURL"], app.url("/v1.0"));
    let account = endpoint(access, "account");
    assert_eq!(account["name"], "astakos_account");
    assert_eq!(account["endpoints"][0]["versionId"], "v1.0");
    assert!(account["endpoints"][0]["SNF:uiURL"].is_string());
    assert_eq!(
        account["endpoints"][0]["publicURL"],
        app.url("/account/v1.0")
    );
    endpoint(access, "object-store");
}

#[tokio::test]
async fn the_tokens_endpoint_takes_the_token_from_the_header_when_there_is_no_body() {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: the offline identity endpoints serve only in token-file mode");
        return;
    }
    let app = TestApp::spawn().await;
    let json = json_with_status(tokens(&app, b"", Some(BOB.0)).await, 200).await;
    assert_eq!(json["access"]["user"]["id"], BOB.1);
    assert_eq!(
        json["access"]["user"]["name"], BOB.1,
        "no display name: the id"
    );
}

#[tokio::test]
async fn the_tokens_endpoint_refuses_bad_tokens_and_bodies() {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: the offline identity endpoints serve only in token-file mode");
        return;
    }
    let app = TestApp::spawn().await;
    let unknown = tokens(&app, br#"{"auth": {"token": {"id": "nope"}}}"#, None).await;
    fault(unknown, 401, "unauthorized", &["token"]).await;
    let tenant = format!(
        r#"{{"auth": {{"token": {{"id": "{}"}}, "tenantName": "bob"}}}}"#,
        ALICE.0
    );
    let wrong_tenant = tokens(&app, tenant.as_bytes(), None).await;
    fault(wrong_tenant, 401, "unauthorized", &["tenantName"]).await;
    let garbage = tokens(&app, b"{not json", None).await;
    fault(garbage, 400, "badRequest", &["tokens body"]).await;
    let password = tokens(&app, br#"{"auth": {"passwordCredentials": {}}}"#, None).await;
    fault(password, 400, "badRequest", &["token"]).await;
    let nothing = tokens(&app, b"", None).await;
    fault(nothing, 400, "badRequest", &["token"]).await;
}

#[tokio::test]
async fn identity_answers_are_ascii_only_for_python_2_clients() {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: the offline identity endpoints serve only in token-file mode");
        return;
    }
    let app = TestApp::spawn_with(|_| {}).await;
    std::fs::write(
        &app.settings.identity.token_file,
        format!("{} alice Καρολίνα Αλεξίου\n", ALICE.0),
    )
    .unwrap();
    // The server takes the file's changes within a second.
    let mut bytes = Default::default();
    for _ in 0..30 {
        let resp = tokens(&app, b"", Some(ALICE.0)).await;
        assert_eq!(resp.status(), 200);
        bytes = resp.bytes().await.unwrap();
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        if json["access"]["user"]["name"] == "Καρολίνα Αλεξίου" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(bytes.is_ascii(), "{}", String::from_utf8_lossy(&bytes));
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["access"]["user"]["name"], "Καρολίνα Αλεξίου");
}

#[tokio::test]
async fn user_catalogs_map_ids_and_display_names_both_ways() {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: the offline identity endpoints serve only in token-file mode");
        return;
    }
    let app = TestApp::spawn().await;
    let resp = app
        .send_body(
            Method::POST,
            "/account/v1.0/user_catalogs",
            Some(BOB.0),
            br#"{"uuids": ["alice", "bob", "nobody"], "displaynames": ["Alice Liddell", "Nobody"]}"#,
        )
        .await;
    let json = json_with_status(resp, 200).await;
    assert_eq!(
        json["uuid_catalog"],
        serde_json::json!({"alice": "Alice Liddell", "bob": "bob"})
    );
    assert_eq!(
        json["displayname_catalog"],
        serde_json::json!({"Alice Liddell": "alice"})
    );
    let anonymous = app
        .send_body(Method::POST, "/account/v1.0/user_catalogs", None, b"{}")
        .await;
    fault(anonymous, 401, "unauthorized", &["X-Auth-Token"]).await;
    let bad = app
        .send_body(
            Method::POST,
            "/account/v1.0/user_catalogs",
            Some(BOB.0),
            b"[1]",
        )
        .await;
    fault(bad, 400, "badRequest", &["user_catalogs"]).await;
}

#[tokio::test]
async fn the_object_store_named_in_the_catalog_serves_the_fs_store_only() {
    let app = TestApp::spawn().await;
    let resp = app
        .request(
            Method::PUT,
            "/object-store/v1/alice/images/x",
            Some(ALICE.0),
            &[],
        )
        .await;
    if crate::HTTP_BACKENDS {
        fault(resp, 404, "itemNotFound", &["pithos"]).await;
    } else {
        assert_eq!(resp.status(), 201);
    }
}

#[tokio::test]
async fn glanceclient_s_is_public_none_means_not_given() {
    let app = TestApp::spawn().await;
    let resp = app
        .alice()
        .register("n.img")
        .data(b"n")
        .header("x-image-meta-is_public", "None")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(must_header(&resp, "x-image-meta-is-public"), "False");
    let id = must_header(&resp, "x-image-meta-id");
    app.update_ok(&id, ALICE.0, &[("X-Image-Meta-Is-Public", "true")])
        .await;
    let resp = app
        .update_ok(&id, ALICE.0, &[("x-image-meta-is_public", "None")])
        .await;
    assert_eq!(
        must_header(&resp, "x-image-meta-is-public"),
        "True",
        "None changes nothing"
    );
    let listed = app
        .list("/v1/images/detail?is_public=None&owner=alice", ALICE.0)
        .await;
    assert_eq!(listed["images"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_glance_dialect_keeps_underscores_in_property_header_names() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("u.img")
        .data(b"u")
        .property("OS_Version", "12")
        .ok()
        .await;
    let glance = app.head(&format!("/v1/images/{id}"), ALICE.0).await;
    assert_eq!(
        must_header(&glance, "x-image-meta-property-os_version"),
        "12"
    );
    let cyclades = app.head(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(
        must_header(&cyclades, "x-image-meta-property-os-version"),
        "12"
    );
}

#[tokio::test]
async fn kamaki_s_modify_resending_the_old_value_beside_the_new_one_takes_the_new() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("k.img")
        .data(b"k")
        .property("OS", "debian")
        .property("Users", "root")
        .ok()
        .await;
    // kamaki image modify -p OS=debian-12: every stored property re-sent, lower case.
    app.update_ok(
        &id,
        ALICE.0,
        &[
            ("X-Image-Meta-Property-os", "debian"),
            ("X-Image-Meta-Property-users", "root"),
            ("X-Image-Meta-Property-OS", "debian-12"),
        ],
    )
    .await;
    let detail = app.detail_of(&id, ALICE.0).await;
    assert_eq!(detail["properties"]["os"], "debian-12");
    // kamaki image modify -p OS= : the empty new value deletes.
    app.update_ok(
        &id,
        ALICE.0,
        &[
            ("X-Image-Meta-Property-os", "debian-12"),
            ("X-Image-Meta-Property-OS", ""),
        ],
    )
    .await;
    let detail = app.detail_of(&id, ALICE.0).await;
    assert!(detail["properties"].get("os").is_none(), "{detail}");
    assert_eq!(detail["properties"]["users"], "root");
    // Two new values for one key cannot be told apart.
    let resp = app
        .request(
            Method::PUT,
            &format!("/images/{id}"),
            Some(ALICE.0),
            &[
                ("X-Image-Meta-Property-users", "a"),
                ("X-Image-Meta-Property-USERS", "b"),
            ],
        )
        .await;
    fault(resp, 400, "badRequest", &["users", "twice"]).await;
    // On register there is nothing stored to compare with.
    app.alice()
        .register("k2.img")
        .data(b"k2")
        .property("os", "a")
        .property("OS", "b")
        .fault(400, "badRequest", &["os", "twice"])
        .await;
}
