//! v2's members, tags and (de)activation (docs/api.md §17.7, §17.8,
//! §17.10), and how v1 sees memberships v2 made (§17.12). Every refusal
//! checks that the catalogue did not change.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{catalogue_sql, TestApp, ALICE, BOB, CAROL};
use crate::util::{json_with_status, must_header};

/// What the catalogue holds of image `id`: its row's status, visibility
/// and `updated_at`, its tags and its memberships with status and times.
fn state(app: &TestApp, id: &str) -> Value {
    let row = catalogue_sql(
        app,
        "SELECT seq, status, visibility, updated_at FROM images WHERE id = ?1",
        &[id],
    );
    let [row] = row.as_slice() else {
        panic!("no one row for {id}: {row:?}")
    };
    let cols: Vec<&str> = row.split('|').collect();
    let (seq, row) = (
        cols[0],
        json!([cols[1], cols[2], cols[3].parse::<i64>().unwrap()]),
    );
    let members: Vec<Value> = catalogue_sql(
        app,
        "SELECT member, status, created_at, updated_at FROM image_members \
         WHERE image_seq = ?1 ORDER BY member",
        &[seq],
    )
    .iter()
    .map(|r| {
        let c: Vec<&str> = r.split('|').collect();
        let time = |s: &str| s.parse::<i64>().unwrap();
        json!([c[0], c[1], time(c[2]), time(c[3])])
    })
    .collect();
    let tags = catalogue_sql(
        app,
        "SELECT tag FROM image_tags WHERE image_seq = ?1 ORDER BY tag",
        &[seq],
    );
    json!({"image": row, "members": members, "tags": tags})
}

/// Sets image `id`'s visibility (or status) directly: a v2 PATCH this change
/// does not own.
fn set_column(app: &TestApp, id: &str, column: &str, value: &str) {
    let sql = format!("UPDATE images SET {column} = ?2 WHERE id = ?1 RETURNING 1");
    assert_eq!(catalogue_sql(app, &sql, &[id, value]).len(), 1);
}

/// A Glance fault: the status, and a message holding `needle`.
async fn v2_fault(resp: Response, status: u16, needle: &str) {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.expect("a JSON fault");
    assert_eq!(got, status, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.to_lowercase().contains(&needle.to_lowercase()),
        "{message:?} lacks {needle:?}"
    );
}

/// Alice's image registered through v1 (`shared`); its id.
async fn alices_image(app: &TestApp, file: &str) -> String {
    let resp = app.alice().register(file).send().await;
    must_header(&resp, "x-image-meta-id")
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> Response {
    let body = body.to_string();
    app.send_body(method, path, Some(token), body.as_bytes())
        .await
}

async fn add(app: &TestApp, id: &str, token: &str, member: Value) -> Response {
    let path = format!("/v2/images/{id}/members");
    send(app, Method::POST, &path, token, json!({ "member": member })).await
}

async fn answer(app: &TestApp, id: &str, member: &str, token: &str, status: &str) -> Response {
    let path = format!("/v2/images/{id}/members/{member}");
    send(app, Method::PUT, &path, token, json!({ "status": status })).await
}

/// A request without a body; the future owns its path.
async fn call(app: &TestApp, method: Method, path: String, token: &str) -> Response {
    app.request(method, &path, Some(token), &[]).await
}

/// The ids of the v2 list at `query` as `token` sees it.
async fn v2_ids(app: &TestApp, query: &str, token: &str) -> Vec<String> {
    let body = app.list(&format!("/v2/images{query}"), token).await;
    body["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

fn v1_listed(ids: &[String], id: &str) -> bool {
    ids.iter().any(|i| i == id)
}

async fn shared_with(app: &TestApp, token: &str, member: &str) -> Vec<String> {
    let body = app.list(&format!("/shared-images/{member}"), token).await;
    body["shared_images"]
        .as_array()
        .expect("shared_images")
        .iter()
        .map(|m| m["image_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_v2_member_is_pending_then_answers_and_v1_lists_follow() {
    let app = TestApp::spawn().await;
    let id = alices_image(&app, "a.img").await;
    let added = json_with_status(add(&app, &id, ALICE.0, json!("bob")).await, 200).await;
    assert_eq!(added["member_id"], "bob");
    assert_eq!(added["image_id"], id.as_str());
    assert_eq!(added["status"], "pending");
    assert_eq!(added["schema"], "/v2/schemas/member");
    assert_eq!(added["created_at"], added["updated_at"]);
    let when = added["created_at"].as_str().unwrap();
    assert!(
        when.len() == 20 && when.ends_with('Z') && when.as_bytes()[10] == b'T',
        "{when}"
    );
    assert_eq!(added.as_object().unwrap().len(), 6);
    // Pending: out of bob's default v2 list, in member_status=pending.
    assert!(!v1_listed(&v2_ids(&app, "", BOB.0).await, &id));
    assert!(v1_listed(
        &v2_ids(&app, "?member_status=pending", BOB.0).await,
        &id
    ));
    assert!(v1_listed(
        &v2_ids(&app, "?member_status=all", BOB.0).await,
        &id
    ));
    assert!(!v1_listed(
        &v2_ids(&app, "?member_status=rejected", BOB.0).await,
        &id
    ));
    let shown = app.list(&format!("/v2/images/{id}"), BOB.0).await;
    assert_eq!(shown["id"], id.as_str());
    // Pending: listed by v1 (§17.12), counted in /shared-images, readable by id.
    assert!(v1_listed(&app.list_ids("/images", BOB.0).await, &id));
    assert_eq!(shared_with(&app, BOB.0, "bob").await, vec![id.clone()]);
    assert_eq!(
        app.head(&format!("/images/{id}"), BOB.0).await.status(),
        200
    );
    // The owner sees every membership, the member its own, others nothing.
    app.set_members(&id, ALICE.0, &["bob", "carol"]).await;
    let path = format!("/v2/images/{id}/members");
    let all = app.list(&path, ALICE.0).await;
    assert_eq!(all["schema"], "/v2/schemas/members");
    let statuses: Vec<(&str, &str)> = all["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["member_id"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    // v1's replace kept bob pending and added carol accepted.
    assert_eq!(statuses, [("bob", "pending"), ("carol", "accepted")]);
    let own = app.list(&path, BOB.0).await;
    assert_eq!(own["members"].as_array().unwrap().len(), 1);
    assert_eq!(own["members"][0]["member_id"], "bob");
    // §8's v1 list stays open to every reader, without status.
    let v1 = app.list(&format!("/images/{id}/members"), BOB.0).await;
    assert_eq!(
        v1["members"][0],
        json!({"member_id": "bob", "can_share": false})
    );
    // Rejected: out of v1 lists and /shared-images, still readable by id.
    let rejected = json_with_status(answer(&app, &id, "bob", BOB.0, "rejected").await, 200).await;
    assert_eq!(rejected["status"], "rejected");
    assert!(!v1_listed(&app.list_ids("/images", BOB.0).await, &id));
    assert!(shared_with(&app, BOB.0, "bob").await.is_empty());
    assert!(shared_with(&app, ALICE.0, "bob").await.is_empty());
    assert_eq!(
        app.head(&format!("/images/{id}"), BOB.0).await.status(),
        200
    );
    let one = app.list(&format!("{path}/bob"), BOB.0).await;
    assert_eq!(one["status"], "rejected");
    assert!(!v1_listed(&v2_ids(&app, "", BOB.0).await, &id));
    assert!(v1_listed(
        &v2_ids(&app, "?member_status=rejected", BOB.0).await,
        &id
    ));
    assert_eq!(
        app.list(&format!("/v2/images/{id}"), BOB.0).await["id"],
        id.as_str()
    );
    json_with_status(answer(&app, &id, "bob", BOB.0, "accepted").await, 200).await;
    assert!(v1_listed(&app.list_ids("/images", BOB.0).await, &id));
    assert!(v1_listed(&v2_ids(&app, "", BOB.0).await, &id));
    assert!(v1_listed(
        &v2_ids(&app, "?visibility=shared", BOB.0).await,
        &id
    ));
}

#[tokio::test]
async fn refused_member_adds_change_nothing() {
    let app = TestApp::spawn_with(|s| s.limits.max_members = 2).await;
    let id = alices_image(&app, "a.img").await;
    json_with_status(add(&app, &id, ALICE.0, json!("bob")).await, 200).await;
    let before = state(&app, &id);
    let path = format!("/v2/images/{id}/members");
    for body in [
        json!({}),
        json!({"member": 5}),
        json!({"member": "x", "y": 1}),
        json!([1]),
    ] {
        let resp = send(&app, Method::POST, &path, ALICE.0, body).await;
        v2_fault(resp, 400, "member").await;
    }
    let raw = app
        .send_body(
            Method::POST,
            &path,
            Some(ALICE.0),
            b"{\"member\": \"a\", \"member\": \"b\"}",
        )
        .await;
    v2_fault(raw, 400, "").await;
    v2_fault(
        add(&app, &id, ALICE.0, json!("no one")).await,
        400,
        "no one",
    )
    .await;
    v2_fault(add(&app, &id, ALICE.0, json!("")).await, 400, "member").await;
    v2_fault(add(&app, &id, ALICE.0, json!("alice")).await, 400, "owner").await;
    v2_fault(add(&app, &id, BOB.0, json!("carol")).await, 403, "owner").await;
    v2_fault(add(&app, &id, CAROL.0, json!("carol")).await, 404, &id).await;
    v2_fault(add(&app, &id, ALICE.0, json!("bob")).await, 409, "bob").await;
    let other = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    v2_fault(add(&app, other, ALICE.0, json!("carol")).await, 404, other).await;
    v2_fault(
        add(&app, "not-a-uuid", ALICE.0, json!("carol")).await,
        404,
        "not-a-uuid",
    )
    .await;
    assert_eq!(state(&app, &id), before);
    json_with_status(add(&app, &id, ALICE.0, json!("carol")).await, 200).await;
    let before = state(&app, &id);
    v2_fault(add(&app, &id, ALICE.0, json!("dave")).await, 413, "members").await;
    assert_eq!(state(&app, &id), before);
    for visibility in ["public", "community", "private"] {
        set_column(&app, &id, "visibility", visibility);
        let before = state(&app, &id);
        v2_fault(
            add(&app, &id, ALICE.0, json!("erin")).await,
            403,
            visibility,
        )
        .await;
        assert_eq!(state(&app, &id), before);
    }
}

#[tokio::test]
async fn only_the_member_answers_on_a_shared_image() {
    let app = TestApp::spawn().await;
    let id = alices_image(&app, "a.img").await;
    json_with_status(add(&app, &id, ALICE.0, json!("bob")).await, 200).await;
    json_with_status(add(&app, &id, ALICE.0, json!("carol")).await, 200).await;
    let before = state(&app, &id);
    v2_fault(
        answer(&app, &id, "bob", ALICE.0, "accepted").await,
        403,
        "bob",
    )
    .await;
    v2_fault(
        answer(&app, &id, "bob", CAROL.0, "accepted").await,
        403,
        "bob",
    )
    .await;
    v2_fault(answer(&app, &id, "bob", BOB.0, "maybe").await, 400, "maybe").await;
    let path = format!("/v2/images/{id}/members/bob");
    v2_fault(
        send(&app, Method::PUT, &path, BOB.0, json!({})).await,
        400,
        "status",
    )
    .await;
    let raw = app
        .send_body(Method::PUT, &path, Some(BOB.0), b"accepted")
        .await;
    v2_fault(raw, 400, "").await;
    v2_fault(
        answer(&app, &id, "dave", ALICE.0, "accepted").await,
        403,
        "dave",
    )
    .await;
    v2_fault(
        answer(&app, &id, "b%20b", BOB.0, "accepted").await,
        404,
        "b%20b",
    )
    .await;
    set_column(&app, &id, "visibility", "community");
    v2_fault(
        answer(&app, &id, "bob", BOB.0, "accepted").await,
        403,
        "community",
    )
    .await;
    set_column(&app, &id, "visibility", "private");
    v2_fault(answer(&app, &id, "bob", BOB.0, "accepted").await, 404, &id).await;
    set_column(&app, &id, "visibility", "public");
    // Readable (public) by carol, who answers for herself: still not shared.
    v2_fault(
        answer(&app, &id, "carol", CAROL.0, "accepted").await,
        403,
        "public",
    )
    .await;
    set_column(&app, &id, "visibility", "shared");
    assert_eq!(state(&app, &id), before);
    // Other keys are ignored; the change sets updated_at only.
    let body = json!({"status": "accepted", "member_id": "mallory"});
    let done = json_with_status(send(&app, Method::PUT, &path, BOB.0, body).await, 200).await;
    assert_eq!(
        (&done["member_id"], &done["status"]),
        (&json!("bob"), &json!("accepted"))
    );
    let after = state(&app, &id);
    assert_eq!(after["members"][0][1], "accepted");
    assert_eq!(after["members"][0][2], before["members"][0][2]);
    assert!(after["members"][0][3].as_i64() >= before["members"][0][3].as_i64());
    assert_eq!(after["members"][1], before["members"][1]);
}

#[tokio::test]
async fn members_are_shown_to_the_owner_and_themselves_and_removed_by_the_owner() {
    let app = TestApp::spawn().await;
    let id = alices_image(&app, "a.img").await;
    json_with_status(add(&app, &id, ALICE.0, json!("bob")).await, 200).await;
    json_with_status(add(&app, &id, ALICE.0, json!("carol")).await, 200).await;
    let path = |m: &str| format!("/v2/images/{id}/members/{m}");
    assert_eq!(app.list(&path("bob"), ALICE.0).await["member_id"], "bob");
    assert_eq!(app.list(&path("bob"), BOB.0).await["member_id"], "bob");
    v2_fault(app.get(&path("carol"), BOB.0).await, 404, "carol").await;
    v2_fault(app.get(&path("dave"), ALICE.0).await, 404, "dave").await;
    v2_fault(app.get(&path("a%2Fb"), ALICE.0).await, 404, "").await;
    assert_eq!(app.head(&path("bob"), BOB.0).await.status(), 200);
    let before = state(&app, &id);
    let del = |token: &'static str, m: &'static str| {
        call(
            &app,
            Method::DELETE,
            format!("/v2/images/{id}/members/{m}"),
            token,
        )
    };
    v2_fault(del(BOB.0, "bob").await, 403, "owner").await;
    v2_fault(del(ALICE.0, "dave").await, 404, "dave").await;
    assert_eq!(state(&app, &id), before);
    // Any visibility: a private image's members are removed too.
    set_column(&app, &id, "visibility", "private");
    assert_eq!(del(ALICE.0, "bob").await.status(), 204);
    v2_fault(del(ALICE.0, "bob").await, 404, "bob").await;
    let after = state(&app, &id);
    assert_eq!(after["members"].as_array().unwrap().len(), 1);
    assert_eq!(after["members"][0][0], "carol");
}

#[tokio::test]
async fn tags_are_the_owners_to_add_and_remove() {
    let app = TestApp::spawn_with(|s| s.limits.max_tags = 2).await;
    let id = alices_image(&app, "a.img").await;
    let tag = |t: &str| format!("/v2/images/{id}/tags/{t}");
    let put = |t: String, token: &'static str| call(&app, Method::PUT, t, token);
    let before = state(&app, &id);
    assert_eq!(put(tag("a%2Fb"), ALICE.0).await.status(), 204);
    let after = state(&app, &id);
    assert_eq!(after["tags"], json!(["a/b"]));
    assert!(after["image"][2].as_i64() > before["image"][2].as_i64());
    // Already there: no change.
    assert_eq!(put(tag("a%2Fb"), ALICE.0).await.status(), 204);
    assert_eq!(state(&app, &id)["tags"], json!(["a/b"]));
    assert_eq!(put(tag("Linux"), ALICE.0).await.status(), 204);
    let before = state(&app, &id);
    v2_fault(put(tag(&"x".repeat(256)), ALICE.0).await, 400, "tag").await;
    v2_fault(put(tag("%zz"), ALICE.0).await, 400, "tag").await;
    v2_fault(put(tag("%ff"), ALICE.0).await, 400, "tag").await;
    v2_fault(put(tag("third"), ALICE.0).await, 413, "tags").await;
    v2_fault(put(tag("third"), BOB.0).await, 404, &id).await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    let before_bob = state(&app, &id);
    v2_fault(put(tag("third"), BOB.0).await, 403, "owner").await;
    let remove = |t: String, token: &'static str| call(&app, Method::DELETE, t, token);
    v2_fault(remove(tag("Linux"), BOB.0).await, 403, "owner").await;
    v2_fault(remove(tag("linux"), ALICE.0).await, 404, "linux").await;
    assert_eq!(state(&app, &id), before_bob);
    assert_eq!(before_bob["tags"], before["tags"]);
    assert_eq!(remove(tag("Linux"), ALICE.0).await.status(), 204);
    assert_eq!(state(&app, &id)["tags"], json!(["a/b"]));
    // v2 shows them and lists by them.
    let shown = app.list(&format!("/v2/images/{id}"), ALICE.0).await;
    assert_eq!(shown["tags"], json!(["a/b"]));
    assert_eq!(v2_ids(&app, "?tag=a%2Fb", ALICE.0).await, vec![id.clone()]);
    assert!(v2_ids(&app, "?tag=Linux", ALICE.0).await.is_empty());
}

#[tokio::test]
async fn the_owner_deactivates_and_reactivates_an_active_image() {
    let app = TestApp::spawn().await;
    let id = alices_image(&app, "a.img").await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    let action = |what: &'static str, token: &'static str| {
        call(
            &app,
            Method::POST,
            format!("/v2/images/{id}/actions/{what}"),
            token,
        )
    };
    let before = state(&app, &id);
    v2_fault(action("deactivate", BOB.0).await, 403, "owner").await;
    v2_fault(action("deactivate", CAROL.0).await, 404, &id).await;
    assert_eq!(state(&app, &id), before);
    // Reactivating an active image, like deactivating a deactivated one, stays.
    assert_eq!(action("reactivate", ALICE.0).await.status(), 204);
    assert_eq!(state(&app, &id), before);
    assert_eq!(action("deactivate", ALICE.0).await.status(), 204);
    assert_eq!(state(&app, &id)["image"][0], "deactivated");
    assert_eq!(action("deactivate", ALICE.0).await.status(), 204);
    let head = app.head(&format!("/images/{id}"), BOB.0).await;
    assert_eq!(must_header(&head, "x-image-meta-status"), "deactivated");
    v2_fault(action("reactivate", BOB.0).await, 403, "owner").await;
    assert_eq!(action("reactivate", ALICE.0).await.status(), 204);
    assert_eq!(state(&app, &id)["image"][0], "active");
    for status in ["queued", "saving", "killed"] {
        set_column(&app, &id, "status", status);
        let before = state(&app, &id);
        v2_fault(action("deactivate", ALICE.0).await, 403, status).await;
        v2_fault(action("reactivate", ALICE.0).await, 403, status).await;
        assert_eq!(state(&app, &id), before);
    }
    let get = app
        .get(&format!("/v2/images/{id}/actions/deactivate"), ALICE.0)
        .await;
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn a_v1_replace_shares_a_private_image_unless_it_empties_the_list() {
    let app = TestApp::spawn().await;
    let id = alices_image(&app, "a.img").await;
    set_column(&app, &id, "visibility", "private");
    app.set_members(&id, ALICE.0, &[]).await;
    assert_eq!(state(&app, &id)["image"][1], "private");
    app.set_members(&id, ALICE.0, &["bob"]).await;
    let after = state(&app, &id);
    assert_eq!(after["image"][1], "shared");
    assert_eq!(after["members"][0][1], "accepted");
    assert!(v1_listed(&app.list_ids("/images", BOB.0).await, &id));
    // A v1 add is accepted at once, and a v1 remove of the last member
    // leaves the image shared.
    let put = app
        .request(
            Method::PUT,
            &format!("/images/{id}/members/carol"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(put.status(), 204);
    assert_eq!(
        state(&app, &id)["members"][1],
        json!([
            "carol",
            "accepted",
            state(&app, &id)["members"][1][2],
            state(&app, &id)["members"][1][3]
        ])
    );
    app.set_members(&id, ALICE.0, &[]).await;
    assert_eq!(state(&app, &id)["image"][1], "shared");
}

#[tokio::test]
async fn v2_members_of_any_status_read_the_data_until_removed() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("d.img").data(b"the data").ok().await;
    let data = format!("/images/{id}");
    json_with_status(add(&app, &id, ALICE.0, json!("bob")).await, 200).await;
    json_with_status(add(&app, &id, ALICE.0, json!("carol")).await, 200).await;
    json_with_status(answer(&app, &id, "carol", CAROL.0, "rejected").await, 200).await;
    // Pending and rejected members read by id, with the object store's
    // sharing (pithos) following the memberships.
    for token in [BOB.0, CAROL.0] {
        let resp = app.get(&data, token).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), b"the data");
    }
    let path = format!("/v2/images/{id}/members/bob");
    assert_eq!(
        call(&app, Method::DELETE, path, ALICE.0).await.status(),
        204
    );
    assert_eq!(app.get(&data, BOB.0).await.status(), 404);
    assert_eq!(app.get(&data, CAROL.0).await.status(), 200);
}

/// Alice's image created through v2 (queued, no data) with `visibility`.
async fn v2_image(app: &TestApp, visibility: &str) -> String {
    let body = json!({"name": "v2 image", "visibility": visibility});
    let resp = send(app, Method::POST, "/v2/images", ALICE.0, body).await;
    let created = json_with_status(resp, 201).await;
    created["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn v2_made_images_take_members_as_the_clients_send_them() {
    let app = TestApp::spawn().await;
    let id = v2_image(&app, "shared").await;
    json_with_status(add(&app, &id, ALICE.0, json!("bob")).await, 200).await;
    // A pending member shows the image by id through v2.
    let shown = app.list(&format!("/v2/images/{id}"), BOB.0).await;
    assert_eq!(shown["id"], id.as_str());
    // openstackclient's `image set --accept` body names the member too.
    let path = format!("/v2/images/{id}/members/bob");
    let body = json!({"member": "bob", "status": "accepted"});
    let done = json_with_status(send(&app, Method::PUT, &path, BOB.0, body).await, 200).await;
    assert_eq!(done["status"], "accepted");
    // A queued image is neither deactivated nor reactivated.
    let before = state(&app, &id);
    for what in ["deactivate", "reactivate"] {
        let path = format!("/v2/images/{id}/actions/{what}");
        v2_fault(call(&app, Method::POST, path, ALICE.0).await, 403, "queued").await;
    }
    assert_eq!(state(&app, &id), before);
    // A private image takes no v2 member; its owner still lists and removes them.
    let private = v2_image(&app, "private").await;
    let before = state(&app, &private);
    v2_fault(
        add(&app, &private, ALICE.0, json!("bob")).await,
        403,
        "private",
    )
    .await;
    assert_eq!(state(&app, &private), before);
    let listed = app
        .list(&format!("/v2/images/{private}/members"), ALICE.0)
        .await;
    assert_eq!(listed["members"], json!([]));
    v2_fault(
        app.get(&format!("/v2/images/{private}/members"), BOB.0)
            .await,
        404,
        &private,
    )
    .await;
}
