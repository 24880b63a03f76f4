//! Several plankton processes on one PostgreSQL database and one store root
//! (docs/api.md §18): what one answers, every other reads; concurrent
//! writes through different processes lose nothing; one location raced
//! from several processes is one image; a web session started on one is
//! good on the others and ended everywhere by a logout on any; a process
//! killed with SIGKILL loses nothing it answered and the others go on.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use super::support::postgres::{available, server};
use super::support::process::{command, Server};
use super::support::users::{write_tokens, ALICE, BOB, EVERYONE};

/// How many processes serve the database.
const PROCESSES: usize = 3;

/// `PROCESSES` servers on one fresh database and one directory (its token
/// file and store root), each with its own port.
fn deployment(dir: &Path) -> Vec<Server> {
    write_tokens(&dir.join("tokens"), &EVERYONE);
    std::fs::create_dir_all(dir.join("objects/alice/images")).unwrap();
    let url = server().migrated_database();
    (0..PROCESSES)
        .map(|_| Server::start(command(dir).env("PLANKTON_DATABASE", &url)))
        .collect()
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn ok(r: Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A queued v2 image of alice's, made through `base`.
async fn new_image(c: &Client, base: &str, name: &str) -> String {
    let image = ok(c
        .post(format!("{base}/v2/images"))
        .header("X-Auth-Token", ALICE.0)
        .json(&json!({"name": name, "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .unwrap())
    .await;
    image["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn writes_through_every_process_are_all_kept_and_seen_by_every_other() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let servers = deployment(dir.path());
    let c = client();
    let id = new_image(&c, &servers[0].base, "shared by all").await;
    // Forty property changes of one image, at once, spread over the
    // processes: each adds its own key; none may be lost or refused.
    let patches = (0..40).map(|n| {
        let (c, base, id) = (c.clone(), servers[n % PROCESSES].base.clone(), id.clone());
        async move {
            let r = c
                .patch(format!("{base}/v2/images/{id}"))
                .header("X-Auth-Token", ALICE.0)
                .header(
                    "Content-Type",
                    "application/openstack-images-v2.1-json-patch",
                )
                .json(&json!([{"op": "add", "path": format!("/k{n}"), "value": format!("v{n}")}]))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{n}: {:?}", r.text().await);
        }
    });
    futures_util::future::join_all(patches).await;
    // Tags and members too, each through another process.
    let adds = (0..12).map(|n| {
        let (c, base, id) = (c.clone(), servers[n % PROCESSES].base.clone(), id.clone());
        async move {
            let r = c
                .put(format!("{base}/v2/images/{id}/tags/t{n}"))
                .header("X-Auth-Token", ALICE.0)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NO_CONTENT, "tag {n}");
        }
    });
    futures_util::future::join_all(adds).await;
    for s in &servers {
        let image = ok(c
            .get(format!("{}/v2/images/{id}", s.base))
            .header("X-Auth-Token", ALICE.0)
            .send()
            .await
            .unwrap())
        .await;
        for n in 0..40 {
            assert_eq!(
                image[format!("k{n}")],
                json!(format!("v{n}")),
                "k{n} on {}",
                s.base
            );
        }
        let tags: BTreeSet<&str> = image["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tags.len(), 12, "{tags:?}");
    }
}

#[actix_web::test]
async fn one_location_raced_from_every_process_is_one_image() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("objects/alice/images")).unwrap();
    std::fs::write(
        dir.path().join("objects/alice/images/raced.img"),
        b"raced data",
    )
    .unwrap();
    let servers = deployment(dir.path());
    let c = client();
    let registrations = (0..12).map(|n| {
        let (c, base) = (c.clone(), servers[n % PROCESSES].base.clone());
        async move {
            let r = c
                .post(format!("{base}/images"))
                .header("X-Auth-Token", ALICE.0)
                .header("X-Image-Meta-Name", format!("raced {n}"))
                .header("X-Image-Meta-Location", "pithos://alice/images/raced.img")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{n}: {:?}", r.text().await);
            r.headers()["x-image-meta-id"].to_str().unwrap().to_owned()
        }
    });
    let ids: BTreeSet<String> = futures_util::future::join_all(registrations)
        .await
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 1, "one image for one location: {ids:?}");
    let listed = ok(c
        .get(format!("{}/v1/images", servers[2].base))
        .header("X-Auth-Token", ALICE.0)
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(
        listed["images"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

/// The value of cookie `name` that `headers` set.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The value of the form field `name` in an HTML page.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("the field") + marker.len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].to_owned()
}

/// Logs in with `token` through `base`: the session cookie's value.
async fn login(c: &Client, base: &str, token: &str) -> String {
    let form = c.get(format!("{base}/ui/login")).send().await.unwrap();
    let cookie = set_cookie(form.headers(), "plankton_login").unwrap();
    let csrf = field(&form.text().await.unwrap(), "csrf");
    let r = c
        .post(format!("{base}/ui/login"))
        .header("Cookie", format!("plankton_login={cookie}"))
        .form(&[("csrf", csrf.as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    set_cookie(r.headers(), "plankton_session").expect("a session cookie")
}

/// The web view's front page through `base` with the session `id`: its
/// text if the session is live, `None` if sent to log in.
async fn front_page(c: &Client, base: &str, id: &str) -> Option<String> {
    let r = c
        .get(format!("{base}/ui/"))
        .header("Cookie", format!("plankton_session={id}"))
        .send()
        .await
        .unwrap();
    match r.status() {
        StatusCode::OK => Some(r.text().await.unwrap()),
        StatusCode::SEE_OTHER => None,
        s => panic!("{s}"),
    }
}

#[actix_web::test]
async fn a_login_on_one_process_is_good_on_every_other_until_a_logout_on_any() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let servers = deployment(dir.path());
    let c = client();
    let alice = login(&c, &servers[0].base, ALICE.0).await;
    let bob = login(&c, &servers[2].base, BOB.0).await;
    for s in &servers {
        assert!(
            front_page(&c, &s.base, &alice).await.is_some(),
            "{}",
            s.base
        );
        assert!(front_page(&c, &s.base, &bob).await.is_some(), "{}", s.base);
    }
    let page = front_page(&c, &servers[1].base, &alice).await.unwrap();
    let r = c
        .post(format!("{}/ui/logout", servers[1].base))
        .header("Cookie", format!("plankton_session={alice}"))
        .form(&[("csrf", field(&page, "csrf"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for s in &servers {
        assert!(
            front_page(&c, &s.base, &alice).await.is_none(),
            "{}",
            s.base
        );
        assert!(front_page(&c, &s.base, &bob).await.is_some(), "{}", s.base);
    }
}

#[actix_web::test]
async fn a_process_killed_loses_nothing_it_answered_and_the_others_serve_on() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut servers = deployment(dir.path());
    let c = client();
    let mut answered = Vec::new();
    for n in 0..20 {
        answered.push(new_image(&c, &servers[0].base, &format!("before the kill {n}")).await);
    }
    servers[0].child.kill().unwrap();
    servers[0].child.wait().unwrap();
    for n in 0..5 {
        answered.push(new_image(&c, &servers[1].base, &format!("after the kill {n}")).await);
    }
    for id in &answered {
        let r = c
            .get(format!("{}/v2/images/{id}", servers[2].base))
            .header("X-Auth-Token", ALICE.0)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{id}");
    }
}
