//! Paths and versions (docs/api.md §1): every route under every prefix and a base path,
//! the versions document, 404 and 405, HEAD, the trailing slash of `/images`,
//! image ids, and the order in which checks answer.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{fault, ids_of, json_with_status, must_header, PREFIXES};

/// Drives every route of the table of docs/api.md §1 under `prefix` and checks each answers.
async fn exercise_every_route(app: &TestApp, prefix: &str) {
    let tag = if prefix.is_empty() {
        "plain"
    } else {
        &prefix[1..]
    };
    let id = app
        .alice()
        .register(&format!("{tag}-a.img"))
        .data(b"route data")
        .ok()
        .await;
    let p = |s: &str| format!("{prefix}{s}");

    // POST /images and POST /images/ both register.
    app.put_object(ALICE.1, "images", &format!("{tag}-b.img"), b"b");
    let loc = format!("pithos://{}/images/{tag}-b.img", ALICE.1);
    let resp = app
        .request(
            Method::POST,
            &p("/images/"),
            Some(ALICE.0),
            &[("X-Image-Meta-Name", "b"), ("X-Image-Meta-Location", &loc)],
        )
        .await;
    assert_eq!(resp.status(), 200, "POST {prefix}/images/");
    let second = must_header(&resp, "x-image-meta-id");

    for path in ["/images", "/images/", "/images/detail"] {
        let body = app.list(&p(path), ALICE.0).await;
        let ids = ids_of(&body);
        assert!(ids.contains(&id) && ids.contains(&second), "{prefix}{path}");
    }
    let head = app.head(&p(&format!("/images/{id}")), ALICE.0).await;
    assert_eq!(head.status(), 200, "HEAD {prefix}/images/{{id}}");
    assert_eq!(must_header(&head, "x-image-meta-id"), id);
    let data = app.get(&p(&format!("/images/{id}")), ALICE.0).await;
    assert_eq!(data.status(), 200);
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"route data");
    let upd = app
        .request(
            Method::PUT,
            &p(&format!("/images/{id}")),
            Some(ALICE.0),
            &[("X-Image-Meta-Name", "renamed")],
        )
        .await;
    assert_eq!(upd.status(), 200, "PUT {prefix}/images/{{id}}");
    let put_members = app
        .send_body(
            Method::PUT,
            &p(&format!("/images/{id}/members")),
            Some(ALICE.0),
            br#"{"memberships": [{"member_id": "bob"}]}"#,
        )
        .await;
    assert_eq!(put_members.status(), 204);
    let add = app
        .request(
            Method::PUT,
            &p(&format!("/images/{id}/members/carol")),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(add.status(), 204);
    assert_eq!(
        app.member_ids(prefix, &id, ALICE.0).await,
        vec!["bob", "carol"]
    );
    let remove = app
        .request(
            Method::DELETE,
            &p(&format!("/images/{id}/members/carol")),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(remove.status(), 204);
    let shared = json_with_status(app.get(&p("/shared-images/bob"), ALICE.0).await, 200).await;
    assert!(
        shared["shared_images"]
            .as_array()
            .unwrap()
            .contains(&json!({"image_id": id, "can_share": false})),
        "{prefix}: {shared}"
    );
    let del = app
        .request(
            Method::DELETE,
            &p(&format!("/images/{second}")),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(del.status(), 204, "DELETE {prefix}/images/{{id}}");
}

#[tokio::test]
async fn every_route_answers_under_all_three_prefixes() {
    let app = TestApp::spawn().await;
    for prefix in PREFIXES {
        exercise_every_route(&app, prefix).await;
    }
}

#[tokio::test]
async fn every_route_answers_under_a_base_path_with_all_three_prefixes() {
    let app = TestApp::spawn_with(|s| s.base_path = "/image".into()).await;
    assert!(app.address.ends_with("/image"));
    for prefix in PREFIXES {
        exercise_every_route(&app, prefix).await;
    }
}

#[tokio::test]
async fn with_a_base_path_the_routes_outside_it_are_404() {
    let app = TestApp::spawn_with(|s| s.base_path = "/image".into()).await;
    let root = format!("http://{}", app.host_port());
    for path in [
        "/images",
        "/v1.0/images",
        "/v1/images",
        "/imagex/images",
        "/image2/images",
        "/versions",
    ] {
        let resp = app
            .client
            .get(format!("{root}{path}"))
            .header("x-auth-token", ALICE.0)
            .send()
            .await
            .unwrap();
        fault(resp, 404, "itemNotFound", &[]).await;
    }
}

#[tokio::test]
async fn the_versions_document_answers_at_root_versions_and_both_version_prefixes_without_a_token()
{
    for base in ["", "/image"] {
        let app = TestApp::spawn_with(|s| s.base_path = base.into()).await;
        let expected = crate::v2_basics::versions_document(&app.address);
        for path in ["/", "/versions", "/v1.0/", "/v1/", "/v2", "/v2/"] {
            let resp = app.request(Method::GET, path, None, &[]).await;
            let body = json_with_status(resp, 200).await;
            assert_eq!(body, expected, "{base}{path}");
            // A token, good or bad, changes nothing.
            let resp = app
                .request(Method::GET, path, Some("not-a-token"), &[])
                .await;
            assert_eq!(resp.status(), 200, "{base}{path} with a bad token");
        }
    }
}

#[tokio::test]
async fn an_unknown_path_is_404_item_not_found_with_or_without_a_token() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let paths = [
        "/foo".to_string(),
        "/v3/images".into(),
        "/v1.1/images".into(),
        "/v1.0/v1/images".into(),
        "/imagesx".into(),
        "/image".into(),
        "/images/detail/".into(),
        format!("/images/{id}/"),
        format!("/images/{id}/members/"),
        format!("/images/{id}/members/bob/"),
        format!("/images/{id}/members/bob/extra"),
        format!("/images/{id}/foo"),
        "/images//members".into(),
        "/shared-images".into(),
        "/shared-images/".into(),
        "/shared-images/bob/".into(),
        "/v1/shared-images".into(),
    ];
    for path in &paths {
        for token in [None, Some(ALICE.0)] {
            for method in [Method::GET, Method::PUT, Method::DELETE] {
                let resp = app.request(method.clone(), path, token, &[]).await;
                fault(resp, 404, "itemNotFound", &[]).await;
            }
        }
    }
}

fn allow_set(value: &str) -> BTreeSet<String> {
    value
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect()
}

#[tokio::test]
async fn a_method_the_route_does_not_take_is_405_not_allowed_with_an_allow_header() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let routes: Vec<(String, &[&str])> = vec![
        ("/".into(), &["GET", "HEAD"]),
        ("/versions".into(), &["GET", "HEAD"]),
        ("/images".into(), &["GET", "HEAD", "POST"]),
        ("/images/".into(), &["GET", "HEAD", "POST"]),
        ("/images/detail".into(), &["GET", "HEAD"]),
        (format!("/images/{id}"), &["GET", "HEAD", "PUT", "DELETE"]),
        (format!("/images/{id}/members"), &["GET", "HEAD", "PUT"]),
        (format!("/images/{id}/members/bob"), &["PUT", "DELETE"]),
        ("/shared-images/bob".into(), &["GET", "HEAD"]),
    ];
    let all = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    for prefix in PREFIXES {
        for (route, allowed) in &routes {
            if (route == "/" || route == "/versions") && !prefix.is_empty() {
                continue;
            }
            let path = format!("{prefix}{route}");
            let expected: BTreeSet<String> = allowed
                .iter()
                .map(std::string::ToString::to_string)
                .collect();
            for method in all.iter().filter(|m| !allowed.contains(m)) {
                for token in [None, Some(ALICE.0)] {
                    let m = Method::from_bytes(method.as_bytes()).unwrap();
                    let resp = app.request(m, &path, token, &[]).await;
                    assert_eq!(resp.status(), 405, "{method} {path}");
                    let allow = must_header(&resp, "allow");
                    assert_eq!(allow_set(&allow), expected, "Allow of {method} {path}");
                    if *method != "HEAD" {
                        fault(resp, 405, "notAllowed", &[]).await;
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn head_answers_wherever_get_does_with_gets_status_and_no_body() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").data(b"some bytes").ok().await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    let unknown = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    let mut cases: Vec<(String, Option<&str>)> = Vec::new();
    for prefix in PREFIXES {
        for path in [
            "/images".to_string(),
            "/images/".into(),
            "/images/detail".into(),
            "/images?sort_key=name".into(),
            "/images?sort_key=bogus".into(),
            format!("/images/{id}"),
            format!("/images/{}", id.to_uppercase()),
            format!("/images/{unknown}"),
            "/images/not-an-id".into(),
            format!("/images/{id}/members"),
            format!("/images/{unknown}/members"),
            "/shared-images/bob".into(),
            "/shared-images/a%20b".into(),
        ] {
            for token in [Some(ALICE.0), Some(CAROL.0), None] {
                cases.push((format!("{prefix}{path}"), token));
            }
        }
    }
    for path in ["/", "/versions", "/v1.0/", "/v1/", "/nowhere"] {
        cases.push((path.to_string(), None));
    }
    for (path, token) in cases {
        let get = app.request(Method::GET, &path, token, &[]).await;
        let mut headers: Vec<(&[u8], &[u8])> = Vec::new();
        if let Some(t) = token {
            headers.push((b"X-Auth-Token", t.as_bytes()));
        }
        let head = app.raw_request("HEAD", path.as_bytes(), &headers).await;
        assert_eq!(head.status, get.status().as_u16(), "HEAD {path} {token:?}");
        assert!(
            head.body.is_empty(),
            "HEAD {path} {token:?} has a body: {:?}",
            String::from_utf8_lossy(&head.body)
        );
    }
}

#[tokio::test]
async fn head_of_an_image_shows_the_same_metadata_headers_as_get_of_its_data() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("a.img")
        .data(b"some bytes")
        .name("Debian 12")
        .property("OS", "debian")
        .ok()
        .await;
    for prefix in PREFIXES {
        let path = format!("{prefix}/images/{id}");
        let head = app.head(&path, ALICE.0).await;
        let get = app.get(&path, ALICE.0).await;
        let meta = |r: &reqwest::Response| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = r
                .headers()
                .iter()
                .filter(|(k, _)| k.as_str().starts_with("x-image-meta-"))
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                .collect();
            v.sort();
            v
        };
        assert!(!meta(&head).is_empty());
        assert_eq!(meta(&head), meta(&get), "{path}");
    }
}

#[tokio::test]
async fn images_with_and_without_a_trailing_slash_are_the_same_route() {
    let app = TestApp::spawn().await;
    app.alice().register("a.img").ok().await;
    app.alice().register("b.img").data(b"y").ok().await;
    for prefix in PREFIXES {
        for query in ["", "?sort_key=name&sort_dir=desc", "?limit=1"] {
            let a = app.list(&format!("{prefix}/images{query}"), ALICE.0).await;
            let b = app.list(&format!("{prefix}/images/{query}"), ALICE.0).await;
            assert_eq!(a, b, "{prefix} {query}");
        }
    }
}

#[tokio::test]
async fn upper_case_image_ids_name_the_same_image_which_is_rendered_lower_case() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    assert_eq!(id, id.to_lowercase());
    let upper = id.to_uppercase();
    let head = app.head(&format!("/images/{upper}"), ALICE.0).await;
    assert_eq!(head.status(), 200);
    assert_eq!(must_header(&head, "x-image-meta-id"), id);
    let members = app.get(&format!("/images/{upper}/members"), ALICE.0).await;
    assert_eq!(members.status(), 200);
    app.update_ok(&upper, ALICE.0, &[("X-Image-Meta-Name", "n")])
        .await;
    let marker = app
        .list_ids(&format!("/images?marker={upper}"), ALICE.0)
        .await;
    assert!(marker.is_empty());
}

#[tokio::test]
async fn an_image_id_in_any_other_form_is_400_naming_it() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    // (id as sent, what the message must quote); braces are percent-encoded on the way.
    let bad_ids = [
        (id.replace('-', ""), id.replace('-', "")),
        (format!("{{{id}}}"), id.clone()),
        (format!("urn:uuid:{id}"), format!("urn:uuid:{id}")),
        (format!("{}g", &id[..35]), format!("{}g", &id[..35])),
        (format!("{id}0"), format!("{id}0")),
        (id[..35].to_string(), id[..35].to_string()),
        ("not-an-id".to_string(), "not-an-id".to_string()),
        ("12345".to_string(), "12345".to_string()),
    ];
    for (bad, shown) in &bad_ids {
        for (method, path) in [
            (Method::GET, format!("/images/{bad}")),
            (Method::PUT, format!("/images/{bad}")),
            (Method::DELETE, format!("/images/{bad}")),
            (Method::GET, format!("/images/{bad}/members")),
            (Method::PUT, format!("/images/{bad}/members/bob")),
            (Method::DELETE, format!("/images/{bad}/members/bob")),
        ] {
            let resp = app.request(method.clone(), &path, Some(ALICE.0), &[]).await;
            fault(resp, 400, "badRequest", &["image id", shown]).await;
        }
        let head = app.head(&format!("/images/{bad}"), ALICE.0).await;
        assert_eq!(head.status(), 400, "HEAD {bad}");
    }
    let body = br#"{"memberships": []}"#;
    let resp = app
        .send_body(Method::PUT, "/images/xyz/members", Some(ALICE.0), body)
        .await;
    fault(resp, 400, "badRequest", &["xyz"]).await;
}

#[tokio::test]
async fn checks_answer_in_order_route_then_method_then_token_then_input_then_image() {
    let app = TestApp::spawn().await;
    let private = app.alice().register("p.img").data(b"p").ok().await;
    let public = app.alice().register("q.img").data(b"q").public().ok().await;
    let unknown = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    type Case<'a> = (
        Method,
        String,
        Option<&'a str>,
        Vec<(&'a str, &'a str)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        // 404 of the route comes before the method and the token.
        (
            Method::PATCH,
            "/nowhere".into(),
            None,
            vec![],
            404,
            "itemNotFound",
        ),
        // 405 before the token.
        (
            Method::PATCH,
            "/images".into(),
            None,
            vec![],
            405,
            "notAllowed",
        ),
        (
            Method::POST,
            format!("/images/{private}"),
            None,
            vec![],
            405,
            "notAllowed",
        ),
        (
            Method::GET,
            format!("/images/{private}/members/bob"),
            Some("bad"),
            vec![],
            405,
            "notAllowed",
        ),
        // 401 before any input.
        (
            Method::GET,
            "/images?sort_key=bogus".into(),
            None,
            vec![],
            401,
            "unauthorized",
        ),
        (
            Method::GET,
            "/images?limit=0".into(),
            Some("bad"),
            vec![],
            401,
            "unauthorized",
        ),
        (
            Method::GET,
            "/images/not-an-id".into(),
            None,
            vec![],
            401,
            "unauthorized",
        ),
        (
            Method::POST,
            "/images".into(),
            None,
            vec![("X-Image-Meta-Colour", "red")],
            401,
            "unauthorized",
        ),
        (
            Method::PUT,
            format!("/images/{private}/members/a%20b"),
            Some("bad"),
            vec![],
            401,
            "unauthorized",
        ),
        (
            Method::GET,
            "/shared-images/a%20b".into(),
            None,
            vec![],
            401,
            "unauthorized",
        ),
        // 400 before the image.
        (
            Method::GET,
            "/images/not-an-id".into(),
            Some(CAROL.0),
            vec![],
            400,
            "badRequest",
        ),
        (
            Method::PUT,
            format!("/images/{unknown}"),
            Some(ALICE.0),
            vec![("X-Image-Meta-Colour", "red")],
            400,
            "badRequest",
        ),
        (
            Method::PUT,
            format!("/images/{private}"),
            Some(CAROL.0),
            vec![("X-Image-Meta-Is-Public", "maybe")],
            400,
            "badRequest",
        ),
        (
            Method::PUT,
            format!("/images/{private}"),
            Some(CAROL.0),
            vec![("X-Image-Meta-Location", "pithos://carol/c/o")],
            400,
            "badRequest",
        ),
        (
            Method::GET,
            format!("/images/{unknown}"),
            Some(ALICE.0),
            vec![("Range", "bytes=z")],
            400,
            "badRequest",
        ),
        (
            Method::PUT,
            format!("/images/{unknown}/members/a%20b"),
            Some(ALICE.0),
            vec![],
            400,
            "badRequest",
        ),
        (
            Method::DELETE,
            format!("/images/{private}/members/a%20b"),
            Some(CAROL.0),
            vec![],
            400,
            "badRequest",
        ),
        // Then the image: 404 for who cannot see it, 403 for who can but may not change it.
        (
            Method::PUT,
            format!("/images/{private}"),
            Some(CAROL.0),
            vec![("X-Image-Meta-Name", "x")],
            404,
            "itemNotFound",
        ),
        (
            Method::PUT,
            format!("/images/{public}"),
            Some(CAROL.0),
            vec![("X-Image-Meta-Name", "x")],
            403,
            "forbidden",
        ),
        (
            Method::DELETE,
            format!("/images/{unknown}"),
            Some(ALICE.0),
            vec![],
            404,
            "itemNotFound",
        ),
        (
            Method::DELETE,
            format!("/images/{public}"),
            Some(BOB.0),
            vec![],
            403,
            "forbidden",
        ),
        (
            Method::PUT,
            format!("/images/{public}/members/bob"),
            Some(BOB.0),
            vec![],
            403,
            "forbidden",
        ),
    ];
    for (method, path, token, headers, status, name) in cases {
        let resp = app.request(method.clone(), &path, token, &headers).await;
        let got = resp.status().as_u16();
        assert_eq!(got, status, "{method} {path} {token:?} {headers:?}");
        fault(resp, status, name, &[]).await;
    }
}
