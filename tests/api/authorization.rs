//! The authorization matrix (docs/api.md §3, §4, §8): every route against no token, a bad
//! token, the owner, a member, a stranger, and a stranger on a public image.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{ids_of, must_header, PREFIXES};

/// Who is asking, and about which image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    NoToken,
    BadToken,
    /// Alice, on her private image.
    Owner,
    /// Bob, a member of Alice's private image.
    Member,
    /// Carol, on Alice's private image.
    Stranger,
    /// Carol, on Alice's public image (no members).
    Public,
}

use Caller::*;

/// The callers in the order they are tried: the owner last, as her request
/// may change the image.
const CALLERS: [Caller; 6] = [NoToken, BadToken, Stranger, Member, Public, Owner];

impl Caller {
    fn token(self) -> Option<&'static str> {
        match self {
            NoToken => None,
            BadToken => Some("forged-token"),
            Owner => Some(ALICE.0),
            Member => Some(BOB.0),
            Stranger | Public => Some(CAROL.0),
        }
    }
}

/// What a caller sees: a status, and for listings whether the image is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Status(u16),
    Listed(bool),
}

use Answer::{Listed, Status};

/// One route of the matrix: how to call it and what each caller gets, in the
/// order no token, bad token, owner, member, stranger, public.
struct Row {
    name: &'static str,
    method: Method,
    /// `{id}` stands for the image of the caller's column.
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<&'static [u8]>,
    answers: [Answer; 6],
}

fn expected(row: &Row, caller: Caller) -> Answer {
    let i = match caller {
        NoToken => 0,
        BadToken => 1,
        Owner => 2,
        Member => 3,
        Stranger => 4,
        Public => 5,
    };
    row.answers[i]
}

fn rows() -> Vec<Row> {
    const R: [Answer; 6] = [
        Status(401),
        Status(401),
        Status(200),
        Status(200),
        Status(404),
        Status(200),
    ];
    const L: [Answer; 6] = [
        Status(401),
        Status(401),
        Listed(true),
        Listed(true),
        Listed(false),
        Listed(true),
    ];
    const W200: [Answer; 6] = [
        Status(401),
        Status(401),
        Status(200),
        Status(403),
        Status(404),
        Status(403),
    ];
    const W204: [Answer; 6] = [
        Status(401),
        Status(401),
        Status(204),
        Status(403),
        Status(404),
        Status(403),
    ];
    vec![
        Row {
            name: "list",
            method: Method::GET,
            path: "/images",
            headers: vec![],
            body: None,
            answers: L,
        },
        Row {
            name: "list with a slash",
            method: Method::GET,
            path: "/images/",
            headers: vec![],
            body: None,
            answers: L,
        },
        Row {
            name: "detail",
            method: Method::GET,
            path: "/images/detail",
            headers: vec![],
            body: None,
            answers: L,
        },
        Row {
            name: "shared with the owner",
            method: Method::GET,
            path: "/shared-images/alice",
            headers: vec![],
            body: None,
            // Only Bob shares with Alice: her private image has him as member.
            answers: [
                Status(401),
                Status(401),
                Listed(false),
                Listed(true),
                Listed(false),
                Listed(false),
            ],
        },
        Row {
            name: "HEAD",
            method: Method::HEAD,
            path: "/images/{id}",
            headers: vec![],
            body: None,
            answers: R,
        },
        Row {
            name: "GET data",
            method: Method::GET,
            path: "/images/{id}",
            headers: vec![],
            body: None,
            answers: R,
        },
        Row {
            name: "GET data with Glance's content type",
            method: Method::GET,
            path: "/images/{id}",
            headers: vec![("Content-Type", "application/octet-stream")],
            body: None,
            answers: R,
        },
        Row {
            name: "list members",
            method: Method::GET,
            path: "/images/{id}/members",
            headers: vec![],
            body: None,
            answers: R,
        },
        Row {
            name: "HEAD members",
            method: Method::HEAD,
            path: "/images/{id}/members",
            headers: vec![],
            body: None,
            answers: R,
        },
        Row {
            name: "update",
            method: Method::PUT,
            path: "/images/{id}",
            headers: vec![("X-Image-Meta-Name", "renamed")],
            body: None,
            answers: W200,
        },
        Row {
            name: "update properties",
            method: Method::PUT,
            path: "/images/{id}",
            headers: vec![("X-Image-Meta-Property-OS", "changed")],
            body: None,
            answers: W200,
        },
        Row {
            name: "delete",
            method: Method::DELETE,
            path: "/images/{id}",
            headers: vec![("Content-Type", "application/octet-stream")],
            body: None,
            answers: W204,
        },
        Row {
            name: "replace members",
            method: Method::PUT,
            path: "/images/{id}/members",
            headers: vec![],
            body: Some(br#"{"memberships": [{"member_id": "dave"}]}"#),
            answers: W204,
        },
        Row {
            name: "add a member",
            method: Method::PUT,
            path: "/images/{id}/members/dave",
            headers: vec![],
            body: None,
            answers: W204,
        },
        Row {
            name: "add a member with Glance's body",
            method: Method::PUT,
            path: "/images/{id}/members/dave",
            headers: vec![],
            body: Some(br#"{"member": {"can_share": false}}"#),
            answers: W204,
        },
        Row {
            name: "remove a member",
            method: Method::DELETE,
            path: "/images/{id}/members/bob",
            headers: vec![],
            body: None,
            answers: W204,
        },
        Row {
            name: "re-register the image's location",
            method: Method::POST,
            path: "/images",
            headers: vec![("X-Image-Meta-Name", "again")],
            body: None,
            // Only the location's account may register it.
            answers: [
                Status(401),
                Status(401),
                Status(200),
                Status(403),
                Status(403),
                Status(403),
            ],
        },
    ]
}

/// Alice's private image (Bob a member) and her public one, as (private, public).
async fn setup(app: &TestApp) -> (String, String) {
    let private = app
        .alice()
        .register("private.img")
        .data(b"private bytes")
        .property("OS", "debian")
        .ok()
        .await;
    app.set_members(&private, ALICE.0, &["bob"]).await;
    let public = app
        .alice()
        .register("public.img")
        .data(b"public bytes")
        .header("X-Image-Meta-Is-Public", "True")
        .ok()
        .await;
    (private, public)
}

/// The private image as its owner sees it, for checking refused requests changed nothing.
async fn state(app: &TestApp, id: &str) -> (Value, Vec<String>) {
    (
        app.detail_of(id, ALICE.0).await,
        app.member_ids("", id, ALICE.0).await,
    )
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_documented() {
    let mut failures = Vec::new();
    for prefix in PREFIXES {
        for row in rows() {
            let app = TestApp::spawn().await;
            let (private, public) = setup(&app).await;
            let before = state(&app, &private).await;
            for caller in CALLERS {
                if caller == Owner {
                    assert_eq!(
                        state(&app, &private).await,
                        before,
                        "{prefix} {}: refused requests changed nothing",
                        row.name
                    );
                }
                let id = if caller == Public { &public } else { &private };
                let location = if caller == Public {
                    "pithos://alice/images/public.img"
                } else {
                    "pithos://alice/images/private.img"
                };
                let path = format!("{prefix}{}", row.path.replace("{id}", id));
                let mut headers = row.headers.clone();
                if row.method == Method::POST {
                    headers.push(("X-Image-Meta-Location", location));
                }
                let mut req = app.client.request(row.method.clone(), app.url(&path));
                if let Some(t) = caller.token() {
                    req = req.header("x-auth-token", t);
                }
                for (k, v) in &headers {
                    req = req.header(*k, *v);
                }
                if let Some(b) = row.body {
                    req = req.body(b.to_vec());
                }
                let resp = req.send().await.unwrap();
                let what = format!("{prefix} {} {path} as {caller:?}", row.name);
                if let Err(e) = check(resp, expected(&row, caller), &row, caller, id).await {
                    failures.push(format!("{what}: {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Compares one answer with the matrix; `Err` says how it differs.
async fn check(
    resp: reqwest::Response,
    want: Answer,
    row: &Row,
    caller: Caller,
    id: &str,
) -> Result<(), String> {
    let status = resp.status().as_u16();
    match want {
        Status(s) => {
            if status != s {
                return Err(format!(
                    "expected {s}, got {status}: {:?}",
                    resp.text().await
                ));
            }
            if s >= 400 && row.method != Method::HEAD {
                let body: Value = resp.json().await.map_err(|e| e.to_string())?;
                let name = match s {
                    401 => "unauthorized",
                    403 => "forbidden",
                    _ => "itemNotFound",
                };
                if body.get(name).is_none() {
                    return Err(format!("expected {name}: {body}"));
                }
            } else if s == 200 && row.method == Method::HEAD && row.name == "HEAD" {
                if must_header(&resp, "x-image-meta-id") != id {
                    return Err("HEAD shows another image".into());
                }
            } else if s == 200 && row.name.starts_with("GET data") {
                let want: &[u8] = if caller == Public {
                    b"public bytes"
                } else {
                    b"private bytes"
                };
                if resp.bytes().await.unwrap().as_ref() != want {
                    return Err("other data".into());
                }
            }
        }
        Listed(listed) => {
            if status != 200 {
                return Err(format!(
                    "expected 200, got {status}: {:?}",
                    resp.text().await
                ));
            }
            let body: Value = resp.json().await.map_err(|e| e.to_string())?;
            let ids: Vec<String> = if row.path.starts_with("/shared-images") {
                body["shared_images"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["image_id"].as_str().unwrap().to_string())
                    .collect()
            } else {
                ids_of(&body)
            };
            if ids.iter().any(|i| i == id) != listed {
                return Err(format!("listed should be {listed}: {body}"));
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_member_sees_the_image_everywhere_a_reader_does_but_may_not_change_it() {
    let app = TestApp::spawn().await;
    let (private, _) = setup(&app).await;
    assert!(app.list_ids("/images", BOB.0).await.contains(&private));
    assert!(app
        .list_ids("/v1/images/detail", BOB.0)
        .await
        .contains(&private));
    assert!(!app.list_ids("/images", CAROL.0).await.contains(&private));
    // Once removed, the member is a stranger again.
    let resp = app
        .request(
            Method::DELETE,
            &format!("/images/{private}/members/bob"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(!app.list_ids("/images", BOB.0).await.contains(&private));
    let head = app.head(&format!("/images/{private}"), BOB.0).await;
    assert_eq!(head.status(), 404);
    let put = app
        .request(
            Method::PUT,
            &format!("/images/{private}"),
            Some(BOB.0),
            &[("X-Image-Meta-Name", "x")],
        )
        .await;
    assert_eq!(put.status(), 404);
}

#[tokio::test]
async fn making_an_image_private_again_hides_it_from_strangers() {
    let app = TestApp::spawn().await;
    let (_, public) = setup(&app).await;
    assert!(app.list_ids("/images", CAROL.0).await.contains(&public));
    app.update_ok(&public, ALICE.0, &[("X-Image-Meta-Is-Public", "false")])
        .await;
    assert!(!app.list_ids("/images", CAROL.0).await.contains(&public));
    let head = app.head(&format!("/images/{public}"), CAROL.0).await;
    assert_eq!(head.status(), 404);
}
