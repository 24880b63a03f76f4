//! The authorization sweep's last column: a deleted image, as its owner, a
//! member and (it was public) anyone else see it, over every route.

use reqwest::Method;

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{ids_of, PREFIXES};

/// (route name, method, path with `{id}`, body) of every route that names an image.
fn image_routes() -> Vec<(&'static str, Method, &'static str, Option<&'static [u8]>)> {
    vec![
        ("HEAD", Method::HEAD, "/images/{id}", None),
        ("GET data", Method::GET, "/images/{id}", None),
        ("update", Method::PUT, "/images/{id}", None),
        ("delete", Method::DELETE, "/images/{id}", None),
        ("list members", Method::GET, "/images/{id}/members", None),
        ("HEAD members", Method::HEAD, "/images/{id}/members", None),
        (
            "replace members",
            Method::PUT,
            "/images/{id}/members",
            Some(br#"{"memberships": []}"#),
        ),
        (
            "add a member",
            Method::PUT,
            "/images/{id}/members/dave",
            None,
        ),
        (
            "remove a member",
            Method::DELETE,
            "/images/{id}/members/bob",
            None,
        ),
    ]
}

#[tokio::test]
async fn a_deleted_image_is_404_on_every_route_for_everyone_and_listed_only_with_changes_since() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("gone.img")
        .data(b"gone")
        .public()
        .ok()
        .await;
    app.set_members(&id, ALICE.0, &["bob"]).await;
    let resp = app
        .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(resp.status(), 204);
    let mut failures = Vec::new();
    for prefix in PREFIXES {
        for (who, token) in [("owner", ALICE.0), ("member", BOB.0), ("anyone", CAROL.0)] {
            for (name, method, path, body) in image_routes() {
                let path = format!("{prefix}{}", path.replace("{id}", &id));
                let mut req = app
                    .client
                    .request(method.clone(), app.url(&path))
                    .header("x-auth-token", token);
                if name == "update" {
                    req = req.header("X-Image-Meta-Name", "back");
                }
                if let Some(b) = body {
                    req = req.body(b.to_vec());
                }
                let status = req.send().await.unwrap().status().as_u16();
                if status != 404 {
                    failures.push(format!("{name} {path} as {who}: {status}, expected 404"));
                }
            }
            for list in ["/images", "/images/detail"] {
                let ids = ids_of(&app.list(&format!("{prefix}{list}"), token).await);
                if ids.contains(&id) {
                    failures.push(format!("{prefix}{list} as {who} lists the deleted image"));
                }
                let since = format!("{prefix}{list}?changes-since=2000-01-01");
                let ids = ids_of(&app.list(&since, token).await);
                if !ids.contains(&id) {
                    failures.push(format!("{since} as {who} should show the deletion"));
                }
            }
            let shared = app
                .list(&format!("{prefix}/shared-images/alice"), token)
                .await;
            if shared.to_string().contains(&id) {
                failures.push(format!("shared-images as {who} lists the deleted image"));
            }
        }
    }
    // Nothing of the above brought it back or changed it.
    let since = app
        .list("/images/detail?changes-since=2000-01-01", ALICE.0)
        .await;
    let item = since
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["status"], "deleted");
    assert_ne!(item["name"], "back");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Its location is free again: registering it gives a new id.
    let again = app.alice().register("gone.img").data(b"gone").ok().await;
    assert_ne!(again, id);
}
