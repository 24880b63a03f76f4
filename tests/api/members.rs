//! Members and sharing (docs/api.md §8): listing, replacing, adding and removing members,
//! limits, and `/shared-images/{member}` in both of its meanings.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{fault, json_with_status, PREFIXES};

async fn put_members(app: &TestApp, id: &str, token: &str, body: &str) -> reqwest::Response {
    app.send_body(
        Method::PUT,
        &format!("/images/{id}/members"),
        Some(token),
        body.as_bytes(),
    )
    .await
}

async fn add(app: &TestApp, id: &str, member: &str, body: Option<&[u8]>) -> reqwest::Response {
    let path = format!("/images/{id}/members/{member}");
    match body {
        Some(b) => app.send_body(Method::PUT, &path, Some(ALICE.0), b).await,
        None => app.request(Method::PUT, &path, Some(ALICE.0), &[]).await,
    }
}

async fn remove(app: &TestApp, id: &str, member: &str) -> reqwest::Response {
    app.request(
        Method::DELETE,
        &format!("/images/{id}/members/{member}"),
        Some(ALICE.0),
        &[],
    )
    .await
}

#[tokio::test]
async fn members_are_listed_sorted_by_id_with_can_share_false() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    for prefix in PREFIXES {
        let body = json_with_status(
            app.get(&format!("{prefix}/images/{id}/members"), ALICE.0)
                .await,
            200,
        )
        .await;
        assert_eq!(body, json!({"members": []}), "the owner is not a member");
    }
    for m in ["zed", "carol", "Bob", "bob", "a.b@example.org", "_x-1"] {
        assert_eq!(add(&app, &id, m, None).await.status(), 204, "{m}");
    }
    let mut sorted = ["zed", "carol", "Bob", "bob", "a.b@example.org", "_x-1"];
    sorted.sort();
    let expected: Vec<Value> = sorted
        .iter()
        .map(|m| json!({"member_id": m, "can_share": false}))
        .collect();
    for prefix in PREFIXES {
        let body = json_with_status(
            app.get(&format!("{prefix}/images/{id}/members"), ALICE.0)
                .await,
            200,
        )
        .await;
        assert_eq!(body, json!({ "members": expected }), "{prefix}");
    }
}

#[tokio::test]
async fn replacing_members_sets_the_whole_list_dropping_the_owner_and_duplicates() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    app.set_members(&id, ALICE.0, &["dave", "erin"]).await;
    let resp = put_members(
        &app,
        &id,
        ALICE.0,
        r#"{"memberships": [
            {"member_id": "carol", "can_share": false},
            {"member_id": "bob"},
            {"member_id": "alice", "can_share": true},
            {"member_id": "carol", "can_share": true}
        ]}"#,
    )
    .await;
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(app.member_ids("", &id, ALICE.0).await, vec!["bob", "carol"]);
    // An empty list unshares.
    let resp = put_members(&app, &id, ALICE.0, r#"{"memberships": []}"#).await;
    assert_eq!(resp.status(), 204);
    assert!(app.member_ids("/v1", &id, ALICE.0).await.is_empty());
    assert!(!app.list_ids("/images", BOB.0).await.contains(&id));
}

#[tokio::test]
async fn replacing_with_a_bad_body_or_member_id_is_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    for body in [
        "",
        "{",
        "null",
        "[]",
        "{}",
        r#"{"memberships": {}}"#,
        r#"{"memberships": [null]}"#,
        r#"{"memberships": ["bob"]}"#,
        r#"{"memberships": [{"member_id": null}]}"#,
        r#"{"memberships": [{"member_id": "carol"}, {"member_id": "c a r o l"}]}"#,
        r#"{"memberships": [{"member_id": "carol", "can_share": 1}]}"#,
        r#"{"memberships": [{"member_id": "ünï"}]}"#,
    ] {
        let resp = put_members(&app, &id, ALICE.0, body).await;
        fault(resp, 400, "badRequest", &[]).await;
        assert_eq!(
            app.member_ids("", &id, ALICE.0).await,
            vec!["bob"],
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_can_share_that_is_not_a_boolean_is_a_400_naming_can_share() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    for body in [
        r#"{"memberships": [{"member_id": "carol", "can_share": 1}]}"#,
        r#"{"memberships": [{"member_id": "bob"}, {"member_id": "carol", "can_share": "yes"}]}"#,
    ] {
        let resp = put_members(&app, &id, ALICE.0, body).await;
        fault(resp, 400, "badRequest", &["can_share", "boolean"]).await;
    }
    let resp = add(
        &app,
        &id,
        "bob",
        Some(br#"{"member": {"can_share": "no"}}"#),
    )
    .await;
    fault(resp, 400, "badRequest", &["member.can_share", "boolean"]).await;
    assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
}

#[tokio::test]
async fn more_members_than_the_configured_maximum_is_413_and_the_owner_never_counts() {
    let app = TestApp::spawn_with(|s| s.limits.max_members = 3).await;
    let id = app.alice().register("a.img").ok().await;
    let resp = put_members(
        &app,
        &id,
        ALICE.0,
        r#"{"memberships": [{"member_id": "a"}, {"member_id": "b"}, {"member_id": "c"}, {"member_id": "d"}]}"#,
    )
    .await;
    fault(resp, 413, "overLimit", &["3"]).await;
    assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
    // Three plus the owner, plus duplicates: three members, fine.
    let resp = put_members(
        &app,
        &id,
        ALICE.0,
        r#"{"memberships": [{"member_id": "a"}, {"member_id": "alice"}, {"member_id": "b"},
            {"member_id": "c"}, {"member_id": "a"}]}"#,
    )
    .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(app.member_ids("", &id, ALICE.0).await, vec!["a", "b", "c"]);
    // Adding a fourth is over the limit; re-adding one or the owner is not.
    fault(add(&app, &id, "d", None).await, 413, "overLimit", &["3"]).await;
    assert_eq!(add(&app, &id, "b", None).await.status(), 204);
    assert_eq!(add(&app, &id, "alice", None).await.status(), 204);
    assert_eq!(app.member_ids("", &id, ALICE.0).await, vec!["a", "b", "c"]);
}

#[tokio::test]
async fn adding_a_member_is_idempotent_and_adding_the_owner_is_a_no_op() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    for prefix in PREFIXES {
        for _ in 0..2 {
            let resp = app
                .request(
                    Method::PUT,
                    &format!("{prefix}/images/{id}/members/bob"),
                    Some(ALICE.0),
                    &[],
                )
                .await;
            assert_eq!(resp.status(), 204);
            assert!(resp.bytes().await.unwrap().is_empty());
        }
    }
    let resp = add(&app, &id, "alice", None).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(app.member_ids("", &id, ALICE.0).await, vec!["bob"]);
}

#[tokio::test]
async fn adding_takes_no_body_or_glances_member_body_and_refuses_others() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    for (member, body) in [
        ("m1", &br#"{"member": {"can_share": false}}"#[..]),
        ("m2", br#"{"member": {"can_share": true}}"#),
        ("m3", b""),
    ] {
        let resp = add(&app, &id, member, Some(body)).await;
        assert_eq!(resp.status(), 204, "{}", String::from_utf8_lossy(body));
    }
    for (member, body) in [
        ("x1", &br#"{"can_share": false}"#[..]),
        ("x2", br#"{"member": false}"#),
        ("x3", br#"{"member": {"can_share": "false"}}"#),
        ("x4", br#"{"member": {"can_share": false, "extra": 1}}"#),
        ("x5", br#"{"memberships": []}"#),
        ("x6", b"[]"),
        ("x7", b"member"),
        ("x8", b"{"),
    ] {
        let resp = add(&app, &id, member, Some(body)).await;
        fault(resp, 400, "badRequest", &["member"]).await;
    }
    assert_eq!(
        app.member_ids("", &id, ALICE.0).await,
        vec!["m1", "m2", "m3"]
    );
}

#[tokio::test]
async fn removing_a_member_is_idempotent() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    app.set_members(&id, ALICE.0, &["bob", "carol"]).await;
    for _ in 0..2 {
        let resp = remove(&app, &id, "bob").await;
        assert_eq!(resp.status(), 204);
    }
    assert_eq!(remove(&app, &id, "never-a-member").await.status(), 204);
    assert_eq!(remove(&app, &id, "alice").await.status(), 204);
    assert_eq!(app.member_ids("", &id, ALICE.0).await, vec!["carol"]);
}

#[tokio::test]
async fn member_ids_in_the_path_are_percent_decoded() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    assert_eq!(
        add(&app, &id, "user%40example.org", None).await.status(),
        204
    );
    assert_eq!(
        app.member_ids("", &id, ALICE.0).await,
        vec!["user@example.org"]
    );
    assert_eq!(remove(&app, &id, "user@example.org").await.status(), 204);
    assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
}

#[tokio::test]
async fn a_member_reads_the_image_and_its_members_but_may_not_change_anything() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("a.img")
        .data(b"shared bytes")
        .ok()
        .await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    assert!(app.list_ids("/images", BOB.0).await.contains(&id));
    assert!(app.list_ids("/v1/images/detail", BOB.0).await.contains(&id));
    assert_eq!(
        app.head(&format!("/images/{id}"), BOB.0).await.status(),
        200
    );
    let data = app.get(&format!("/images/{id}"), BOB.0).await;
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"shared bytes");
    assert_eq!(app.member_ids("", &id, BOB.0).await, vec!["bob"]);
    let attempts = [
        (Method::PUT, format!("/images/{id}"), None),
        (Method::DELETE, format!("/images/{id}"), None),
        (
            Method::PUT,
            format!("/images/{id}/members"),
            Some(r#"{"memberships": [{"member_id": "carol"}]}"#),
        ),
        (Method::PUT, format!("/images/{id}/members/carol"), None),
        (Method::DELETE, format!("/images/{id}/members/bob"), None),
    ];
    for (method, path, body) in attempts {
        let resp = app
            .send_body(
                method.clone(),
                &path,
                Some(BOB.0),
                body.unwrap_or("").as_bytes(),
            )
            .await;
        fault(resp, 403, "forbidden", &[&id]).await;
    }
    assert_eq!(app.member_ids("", &id, ALICE.0).await, vec!["bob"]);
    assert_eq!(
        app.head(&format!("/images/{id}"), ALICE.0).await.status(),
        200
    );
}

/// The `image_id`s of `/shared-images/{member}` as `token` sees them.
async fn shared(app: &TestApp, prefix: &str, member: &str, token: &str) -> Vec<String> {
    let body = json_with_status(
        app.get(&format!("{prefix}/shared-images/{member}"), token)
            .await,
        200,
    )
    .await;
    let list = body["shared_images"].as_array().expect("shared_images");
    assert_eq!(body.as_object().unwrap().len(), 1);
    list.iter()
        .map(|i| {
            assert_eq!(i["can_share"], false);
            assert_eq!(i.as_object().unwrap().len(), 2);
            i["image_id"].as_str().unwrap().to_string()
        })
        .collect()
}

struct Sharing {
    a1: String,
    a2: String,
    a4: String,
    b1: String,
    b2: String,
    c1: String,
}

/// Alice: a1 (bob), a2 (carol), a3 public without members, a4 public with bob,
/// a5 deleted (bob). Bob: b1 (alice), b2 (carol). Carol: c1 (bob). Registered
/// in that order.
async fn sharing(app: &TestApp) -> Sharing {
    let reg = |owner: (&'static str, &'static str), file: &'static str, public: bool| async move {
        let public = if public { "true" } else { "false" };
        app.as_user(owner)
            .register(file)
            .data(file.as_bytes())
            .header("X-Image-Meta-Is-Public", public)
            .ok()
            .await
    };
    let a1 = reg(ALICE, "a1", false).await;
    let a2 = reg(ALICE, "a2", false).await;
    let _a3 = reg(ALICE, "a3", true).await;
    let a4 = reg(ALICE, "a4", true).await;
    let a5 = reg(ALICE, "a5", false).await;
    let b1 = reg(BOB, "b1", false).await;
    let b2 = reg(BOB, "b2", false).await;
    let c1 = reg(CAROL, "c1", false).await;
    app.set_members(&a1, ALICE.0, &["bob"]).await;
    app.set_members(&a2, ALICE.0, &["carol"]).await;
    app.set_members(&a4, ALICE.0, &["bob"]).await;
    app.set_members(&a5, ALICE.0, &["bob"]).await;
    app.set_members(&b1, BOB.0, &["alice"]).await;
    app.set_members(&b2, BOB.0, &["carol"]).await;
    app.set_members(&c1, CAROL.0, &["bob"]).await;
    let resp = app
        .request(Method::DELETE, &format!("/images/{a5}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(resp.status(), 204);
    Sharing {
        a1,
        a2,
        a4,
        b1,
        b2,
        c1,
    }
}

#[tokio::test]
async fn shared_images_lists_what_the_user_shares_with_the_caller_and_the_caller_with_the_user() {
    let app = TestApp::spawn().await;
    let s = sharing(&app).await;
    for prefix in PREFIXES {
        // Bob asks about Alice: hers shared with him, and his shared with her.
        assert_eq!(
            shared(&app, prefix, "alice", BOB.0).await,
            vec![s.a1.clone(), s.a4.clone(), s.b1.clone()]
        );
        // Alice asks about Bob: the same pairs, seen from her side.
        assert_eq!(
            shared(&app, prefix, "bob", ALICE.0).await,
            vec![s.a1.clone(), s.a4.clone(), s.b1.clone()]
        );
        assert_eq!(
            shared(&app, prefix, "carol", ALICE.0).await,
            vec![s.a2.clone()]
        );
        assert_eq!(
            shared(&app, prefix, "carol", BOB.0).await,
            vec![s.b2.clone(), s.c1.clone()]
        );
        // Carol asks about Bob: never Alice's sharing with Bob.
        assert_eq!(
            shared(&app, prefix, "bob", CAROL.0).await,
            vec![s.b2.clone(), s.c1.clone()]
        );
        assert_eq!(
            shared(&app, prefix, "alice", CAROL.0).await,
            vec![s.a2.clone()]
        );
        // A valid id nobody uses: nothing.
        assert!(shared(&app, prefix, "nobody", ALICE.0).await.is_empty());
    }
}

#[tokio::test]
async fn shared_images_of_the_caller_is_every_image_shared_with_the_caller() {
    let app = TestApp::spawn().await;
    let s = sharing(&app).await;
    for prefix in PREFIXES {
        assert_eq!(
            shared(&app, prefix, "bob", BOB.0).await,
            vec![s.a1.clone(), s.a4.clone(), s.c1.clone()]
        );
        assert_eq!(
            shared(&app, prefix, "alice", ALICE.0).await,
            vec![s.b1.clone()]
        );
        assert_eq!(
            shared(&app, prefix, "carol", CAROL.0).await,
            vec![s.a2.clone(), s.b2.clone()]
        );
    }
}

#[tokio::test]
async fn shared_images_needs_a_valid_member_id() {
    let app = TestApp::spawn().await;
    let long = "u".repeat(256);
    for member in ["a%20b", "%zz", "a%2Fb", "%C3%A9", long.as_str(), "a%00"] {
        let resp = app.get(&format!("/shared-images/{member}"), ALICE.0).await;
        fault(resp, 400, "badRequest", &["member"]).await;
    }
    let ok = "u".repeat(255);
    let resp = app.get(&format!("/shared-images/{ok}"), ALICE.0).await;
    assert_eq!(resp.status(), 200);
    let resp = app.get("/shared-images/user%40example.org", ALICE.0).await;
    assert_eq!(resp.status(), 200);
}
