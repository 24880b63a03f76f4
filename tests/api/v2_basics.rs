//! The v2 surface's own routes (docs/api.md §17.1, §17.11): the versions
//! document at every prefix, the schemas, the import methods, the tenant
//! look-ups, unknown paths and methods, and Glance's error body.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{TestApp, ALICE};
use crate::util::{json_with_status, must_header};

/// The versions document as served under `address` (scheme, host, base).
pub fn versions_document(address: &str) -> Value {
    let mut versions: Vec<Value> = (0..=7)
        .rev()
        .map(|minor| {
            json!({
                "id": format!("v2.{minor}"),
                "status": if minor == 7 { "CURRENT" } else { "SUPPORTED" },
                "links": [{"rel": "self", "href": format!("{address}/v2/")}],
            })
        })
        .collect();
    versions.push(json!({
        "id": "v1.0",
        "status": "SUPPORTED",
        "links": [{"rel": "self", "href": format!("{address}/v1.0/")}],
    }));
    json!({ "versions": versions })
}

/// Checks a Glance fault: status, JSON content type, the three keys, and
/// a message holding `needle`; returns the response's headers.
async fn glance_fault(resp: Response, status: u16, needle: &str) -> reqwest::header::HeaderMap {
    let headers = resp.headers().clone();
    assert_eq!(must_header(&resp, "content-type"), "application/json");
    let got = resp.status();
    let body: Value = resp.json().await.expect("a JSON fault");
    assert_eq!(got.as_u16(), status, "{body}");
    let title = got.canonical_reason().unwrap();
    assert_eq!(body["code"], format!("{status} {title}"), "{body}");
    assert_eq!(body["title"], title, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    headers
}

/// What the catalogue holds, as Alice lists it: the proof that nothing changed.
async fn catalogue(app: &TestApp) -> Value {
    let resp = app
        .request(Method::GET, "/images/detail", Some(ALICE.0), &[])
        .await;
    json_with_status(resp, 200).await
}

#[tokio::test]
async fn v2_and_v2_slash_serve_the_versions_document_without_a_token_at_any_base() {
    for base in ["", "/image"] {
        let app = TestApp::spawn_with(|s| s.base_path = base.into()).await;
        let expected = versions_document(&app.address);
        for path in ["/v2", "/v2/"] {
            let resp = app.request(Method::GET, path, None, &[]).await;
            assert_eq!(json_with_status(resp, 200).await, expected, "{base}{path}");
            let head = app.raw_request("HEAD", path.as_bytes(), &[]).await;
            assert_eq!((head.status, head.body.len()), (200, 0), "HEAD {path}");
        }
        let current: Vec<&Value> = expected["versions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["status"] == "CURRENT")
            .collect();
        assert_eq!(current.len(), 1);
    }
}

#[tokio::test]
async fn the_schemas_list_every_field_with_the_configured_formats() {
    let app = TestApp::spawn().await;
    let get = |path: &'static str| {
        let app = &app;
        async move {
            let resp = app.request(Method::GET, path, Some(ALICE.0), &[]).await;
            json_with_status(resp, 200).await
        }
    };
    let image = get("/v2/schemas/image").await;
    assert_eq!(image["name"], "image");
    assert_eq!(image["additionalProperties"], json!({"type": "string"}));
    let props = image["properties"].as_object().unwrap();
    for field in [
        "id",
        "name",
        "status",
        "visibility",
        "protected",
        "os_hidden",
        "owner",
        "disk_format",
        "container_format",
        "min_ram",
        "min_disk",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
        "tags",
        "self",
        "file",
        "schema",
    ] {
        assert!(props.contains_key(field), "{field} missing");
        assert!(props[field]["description"].is_string(), "{field}");
    }
    assert_eq!(props.len(), 22, "{props:?}");
    let disk = props["disk_format"]["enum"].as_array().unwrap();
    assert!(disk.contains(&Value::Null) && disk.contains(&json!("diskdump")));
    assert_eq!(disk.len(), app.settings.formats.disk.len() + 1);
    assert_eq!(props["size"]["readOnly"], true);
    assert_eq!(props["name"]["maxLength"], 255);
    assert_eq!(props["min_ram"]["minimum"], 0);
    assert_eq!(props["status"]["enum"].as_array().unwrap().len(), 5);
    let images = get("/v2/schemas/images").await;
    assert_eq!(images["properties"]["images"]["items"], image);
    assert_eq!(images["properties"]["next"], json!({"type": "string"}));
    let member = get("/v2/schemas/member").await;
    assert_eq!(member["name"], "member");
    for field in [
        "member_id",
        "image_id",
        "status",
        "created_at",
        "updated_at",
        "schema",
    ] {
        assert!(member["properties"][field].is_object(), "{field}");
    }
    let members = get("/v2/schemas/members").await;
    assert_eq!(members["properties"]["members"]["items"], member);
    let info = get("/v2/info/import").await;
    assert_eq!(info["import-methods"]["value"], json!([]));
}

#[tokio::test]
async fn tenants_are_403_with_a_token_and_401_without_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.alice().register("a.img").ok().await;
    let before = catalogue(&app).await;
    for path in ["/v2/tenants", "/v2/tenants/bob"] {
        let resp = app.request(Method::GET, path, Some(ALICE.0), &[]).await;
        glance_fault(
            resp,
            403,
            "plankton has no projects: a project is a user id",
        )
        .await;
        let resp = app.request(Method::GET, path, None, &[]).await;
        let headers = glance_fault(resp, 401, "X-Auth-Token").await;
        assert_eq!(headers["www-authenticate"], "Token");
        let resp = app.request(Method::GET, path, Some("notused"), &[]).await;
        glance_fault(resp, 401, "").await;
    }
    assert_eq!(catalogue(&app).await, before);
}

#[tokio::test]
async fn unknown_v2_paths_are_404_and_known_ones_405_with_allow_in_glance_form() {
    let app = TestApp::spawn().await;
    app.alice().register("a.img").ok().await;
    let before = catalogue(&app).await;
    for path in [
        "/v2/stage",
        "/v2/tasks",
        "/v2/metadefs/namespaces",
        "/v2/cache",
        "/v2/info/stores",
        "/v2/schemas/image/",
        "/v2/schemas",
        "/v2/tenants/",
        "/v2//",
        "/v2/info/import/",
        "/v1/v2/schemas/image",
        "/v1.0/v2/tenants",
    ] {
        for token in [Some(ALICE.0), None] {
            let resp = app.request(Method::GET, path, token, &[]).await;
            if path.starts_with("/v1") {
                assert_eq!(resp.status(), 404, "{path}");
            } else {
                glance_fault(resp, 404, "No such route").await;
            }
        }
    }
    for (path, allow) in [
        ("/v2/", "GET, HEAD"),
        ("/v2/schemas/image", "GET, HEAD"),
        ("/v2/tenants/x", "GET, HEAD"),
    ] {
        let resp = app.request(Method::DELETE, path, Some(ALICE.0), &[]).await;
        let headers = glance_fault(resp, 405, "DELETE").await;
        assert_eq!(headers["allow"], allow, "{path}");
    }
    assert_eq!(catalogue(&app).await, before);
}

#[tokio::test]
async fn head_answers_wherever_get_does_without_a_body_errors_included() {
    let app = TestApp::spawn().await;
    let token: &[(&[u8], &[u8])] = &[(b"X-Auth-Token", ALICE.0.as_bytes())];
    for (path, status) in [
        ("/v2/schemas/image", 200),
        ("/v2/schemas/members", 200),
        ("/v2/info/import", 200),
        ("/v2/tenants", 403),
        ("/v2/nowhere", 404),
    ] {
        let head = app.raw_request("HEAD", path.as_bytes(), token).await;
        assert_eq!(head.status, status, "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path} has a body");
        let get = app.request(Method::GET, path, Some(ALICE.0), &[]).await;
        assert_eq!(get.status().as_u16(), status, "GET {path}");
    }
    let head = app.raw_request("HEAD", b"/v2/tenants", &[]).await;
    assert!((head.status, head.body.is_empty()) == (401, true));
}
