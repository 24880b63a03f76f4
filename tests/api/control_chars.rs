//! Control characters (issue 25, item 7): C0, DEL and C1 are refused with
//! 400 in names, property keys, tags and member ids, and in property values
//! but for tab and line feed, through every API, and a refusal changes
//! nothing.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{TestApp, ALICE, BOB};
use crate::util::fault;

/// Control characters as the v1 headers carry them (percent-encoded UTF-8),
/// with the code point the message names: NUL, BEL, TAB, LF, CR, ESC, DEL,
/// and the C1 ends and CSI.
const ENCODED: [(&str, &str); 10] = [
    ("%00", "U+0000"),
    ("%07", "U+0007"),
    ("%09", "U+0009"),
    ("%0A", "U+000A"),
    ("%0D", "U+000D"),
    ("%1B", "U+001B"),
    ("%7F", "U+007F"),
    ("%C2%80", "U+0080"),
    ("%C2%9B", "U+009B"),
    ("%C2%9F", "U+009F"),
];

/// The same characters as JSON strings carry them.
const RAW: [char; 10] = [
    '\0', '\u{7}', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{80}', '\u{9b}', '\u{9f}',
];

/// Everything Alice and Bob see, in v1 detail and v2: the proof that a
/// refused request changed nothing.
async fn catalogue(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for token in [ALICE.0, BOB.0] {
        all.push(app.list("/images/detail", token).await);
        all.push(app.list("/v2/images", token).await);
    }
    all
}

#[tokio::test]
async fn v1_names_keys_and_values_with_control_characters_are_400_on_register() {
    let app = TestApp::spawn().await;
    app.put_object(ALICE.1, "images", "a.img", b"x");
    let before = catalogue(&app).await;
    for prefix in ["", "/v1"] {
        for (c, code) in ENCODED {
            let name = format!("a{c}b");
            let key = format!("X-Image-Meta-Property-K{c}");
            let value = format!("v{c}");
            let mut cases = vec![
                (vec![("X-Image-Meta-Name", name.as_str())], "name"),
                (
                    vec![("X-Image-Meta-Name", "n"), (key.as_str(), "v")],
                    "property key",
                ),
            ];
            if !matches!(c, "%09" | "%0A") {
                let v = ("X-Image-Meta-Property-OS", value.as_str());
                cases.push((vec![("X-Image-Meta-Name", "n"), v], "value of property"));
            }
            for (headers, what) in cases {
                let mut all = vec![("X-Image-Meta-Location", "pithos://alice/images/a.img")];
                all.extend(headers);
                let resp = app
                    .request(
                        Method::POST,
                        &format!("{prefix}/images"),
                        Some(ALICE.0),
                        &all,
                    )
                    .await;
                fault(resp, 400, "badRequest", &[what, code]).await;
            }
        }
    }
    assert_eq!(catalogue(&app).await, before);
}

#[tokio::test]
async fn a_raw_tab_in_a_v1_name_is_400_but_tab_and_line_feed_in_values_are_kept() {
    let app = TestApp::spawn().await;
    let raw_tab = app.alice().register("a.img").name("a\tb").send().await;
    fault(raw_tab, 400, "badRequest", &["name", "U+0009"]).await;
    let id = app
        .alice()
        .register("a.img")
        .property("notes", "one%09two%0Athree")
        .ok()
        .await;
    let detail = app.detail_of(&id, ALICE.0).await;
    assert_eq!(detail["properties"]["notes"], "one\ttwo\nthree");
    let v2 = app.get(&format!("/v2/images/{id}"), ALICE.0).await;
    let v2: Value = v2.json().await.unwrap();
    assert_eq!(v2["notes"], "one\ttwo\nthree");
}

#[tokio::test]
async fn v1_updates_with_control_characters_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("a.img")
        .property("os", "debian")
        .ok()
        .await;
    let before = catalogue(&app).await;
    for prefix in ["", "/v1"] {
        for (c, code) in ENCODED {
            let name = format!("renamed{c}");
            let key = format!("X-Image-Meta-Property-New{c}");
            let value = format!("x{c}y");
            let mut cases = vec![
                (("X-Image-Meta-Name", name.as_str()), "name"),
                ((key.as_str(), "v"), "property key"),
            ];
            if !matches!(c, "%09" | "%0A") {
                cases.push((
                    ("X-Image-Meta-Property-OS", value.as_str()),
                    "value of property",
                ));
            }
            for (header, what) in cases {
                let path = format!("{prefix}/images/{id}");
                let resp = app
                    .request(Method::PUT, &path, Some(ALICE.0), &[header])
                    .await;
                fault(resp, 400, "badRequest", &[what, code]).await;
            }
        }
    }
    assert_eq!(catalogue(&app).await, before);
}

#[tokio::test]
async fn v1_member_ids_with_control_characters_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let before = catalogue(&app).await;
    for (c, _) in ENCODED {
        let path = format!("/images/{id}/members/bob{c}");
        let resp = app.request(Method::PUT, &path, Some(ALICE.0), &[]).await;
        fault(resp, 400, "badRequest", &["member"]).await;
    }
    for c in RAW {
        let body = json!({"memberships": [{"member_id": format!("bob{c}")}]}).to_string();
        let path = format!("/images/{id}/members");
        let resp = app
            .send_body(Method::PUT, &path, Some(ALICE.0), body.as_bytes())
            .await;
        fault(resp, 400, "badRequest", &["member_id"]).await;
    }
    assert_eq!(catalogue(&app).await, before);
    assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
}

/// Asserts a v2 (Glance) 400 whose message holds every needle.
async fn v2_bad(resp: Response, needles: &[&str]) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("a JSON fault");
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(!message.chars().any(char::is_control), "{message:?}");
    for needle in needles {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

/// The code point a message names for `c`.
fn code(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[tokio::test]
async fn v2_creates_with_control_characters_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let before = catalogue(&app).await;
    for c in RAW {
        let s = format!("a{c}b");
        let mut bodies = vec![
            (json!({ "name": s }), "name"),
            (json!({"name": "n", "tags": ["ok", s]}), "tag"),
            (json!({"name": "n", s.clone(): "v"}), "property key"),
        ];
        if !matches!(c, '\t' | '\n') {
            bodies.push((json!({"name": "n", "os": s}), "value of property"));
        }
        for (body, what) in bodies {
            let resp = app.v2_create(ALICE.0, &body).await;
            v2_bad(resp, &[what, &code(c)]).await;
        }
    }
    assert_eq!(catalogue(&app).await, before);
    let ok = json!({"name": "n", "notes": "one\ttwo\nthree"}).to_string();
    let resp = app
        .send_body(Method::POST, "/v2/images", Some(ALICE.0), ok.as_bytes())
        .await;
    let image: Value = crate::util::json_with_status(resp, 201).await;
    assert_eq!(image["notes"], "one\ttwo\nthree");
}

/// `s` percent-encoded for a path segment (every byte but letters and digits).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A PATCH of `ops` with the v2.1 media type as Alice.
async fn patch(app: &TestApp, id: &str, ops: &Value) -> Response {
    app.client
        .patch(app.url(&format!("/v2/images/{id}")))
        .header("x-auth-token", ALICE.0)
        .header(
            "content-type",
            "application/openstack-images-v2.1-json-patch",
        )
        .body(ops.to_string())
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn v2_patches_tags_and_members_with_control_characters_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("a.img")
        .property("os", "debian")
        .ok()
        .await;
    let before = catalogue(&app).await;
    for c in RAW {
        let s = format!("a{c}b");
        let mut ops = vec![
            (
                json!([{"op": "replace", "path": "/name", "value": s}]),
                "name",
            ),
            (json!([{"op": "add", "path": "/tags", "value": [s]}]), "tag"),
            (
                json!([{"op": "add", "path": format!("/{s}"), "value": "v"}]),
                "property key",
            ),
        ];
        if !matches!(c, '\t' | '\n') {
            let op = json!([{"op": "replace", "path": "/os", "value": s}]);
            ops.push((op, "value of property"));
        }
        for (op, what) in ops {
            v2_bad(patch(&app, &id, &op).await, &[what, &code(c)]).await;
        }
        let tag = format!("/v2/images/{id}/tags/{}", percent(&s));
        let resp = app.request(Method::PUT, &tag, Some(ALICE.0), &[]).await;
        v2_bad(resp, &["tag", &code(c)]).await;
        let member = json!({ "member": format!("bob{c}") }).to_string();
        let path = format!("/v2/images/{id}/members");
        let resp = app
            .send_body(Method::POST, &path, Some(ALICE.0), member.as_bytes())
            .await;
        v2_bad(resp, &["member"]).await;
    }
    assert_eq!(catalogue(&app).await, before);
}

#[tokio::test]
async fn a_location_naming_a_file_with_a_control_character_is_400_and_registers_nothing() {
    let app = TestApp::spawn().await;
    let before = catalogue(&app).await;
    for ((c, code), raw) in ENCODED.into_iter().zip(RAW) {
        if raw == '\0' {
            continue; // no file name holds a NUL; the location's own 400 says so
        }
        app.put_object(ALICE.1, "images", &format!("a{raw}b.img"), b"x");
        for prefix in ["", "/v1"] {
            let location = format!("pithos://alice/images/a{c}b.img");
            let headers = [
                ("X-Image-Meta-Name", "n"),
                ("X-Image-Meta-Location", location.as_str()),
            ];
            let path = format!("{prefix}/images");
            let resp = app
                .request(Method::POST, &path, Some(ALICE.0), &headers)
                .await;
            fault(resp, 400, "badRequest", &["location", code]).await;
        }
    }
    assert_eq!(catalogue(&app).await, before);
}
