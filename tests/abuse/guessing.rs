//! Token guessing (issue 25, item 5): failed authentications from one
//! address are answered 429 with `Retry-After` once it has failed
//! `identity.failures_per_minute` times, on every way a token comes in
//! (`X-Auth-Token`, the object store's `?X-Auth-Token=`, the login form),
//! while other addresses are served; and the counts are bounded in memory
//! whatever the number of addresses. Clients come from 127.0.0.x, which
//! Linux routes to the loopback as 127.0.0.1.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};

use super::Server;
use crate::support::users::{ALICE, BOB};

/// A client whose connections come from `ip`.
fn client_from(ip: &str) -> Client {
    Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `GET /images` with `token` from `client`: the status, and `Retry-After`.
async fn list(s: &Server, client: &Client, token: &str) -> (StatusCode, Option<u64>) {
    let resp = client
        .get(format!("http://{}/images", s.addr))
        .header("x-auth-token", token)
        .send()
        .await
        .unwrap();
    (resp.status(), retry_after(&resp))
}

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

/// A listing of Alice's object-store account with `?X-Auth-Token=`.
async fn objects(s: &Server, client: &Client, token: &str) -> StatusCode {
    let url = format!(
        "http://{}/object-store/v1/alice?X-Auth-Token={token}",
        s.addr
    );
    client.get(url).send().await.unwrap().status()
}

/// The web view's login form posted with `token`: its status.
async fn login(s: &Server, client: &Client, token: &str) -> StatusCode {
    let form = client
        .get(format!("http://{}/ui/login", s.addr))
        .send()
        .await
        .unwrap();
    let cookie = form.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let body = form.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker).unwrap() + marker.len();
    let csrf = &body[start..start + 64];
    client
        .post(format!("http://{}/ui/login", s.addr))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&token={token}"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_guesser_gets_429s_while_other_clients_and_the_right_token_elsewhere_are_served() {
    let s = Server::start_with(&[("PLANKTON_IDENTITY__FAILURES_PER_MINUTE", "5")]);
    let guesser = client_from("127.0.0.2");
    let other = client_from("127.0.0.3");
    let started = Instant::now();
    let (mut refused, mut unauthorized) = (0, 0);
    for n in 0..200 {
        let (status, wait) = list(&s, &guesser, &format!("guess-{n}")).await;
        match status.as_u16() {
            401 => unauthorized += 1,
            429 => {
                refused += 1;
                let wait = wait.expect("429 carries Retry-After");
                assert!((1..=12).contains(&wait), "Retry-After {wait}");
            }
            other => panic!("guess {n}: {other}"),
        }
        if n % 20 == 0 {
            // Meanwhile: the right token from another address is served.
            assert_eq!(list(&s, &other, ALICE.0).await.0, 200, "guess {n}");
        }
        if n == 100 {
            // And that address's own mistake is a plain 401.
            assert_eq!(list(&s, &other, "typo").await.0, 401, "guess {n}");
        }
    }
    assert_eq!((unauthorized, refused), (5, 195));
    // During its penalty the guesser's address is refused even the right
    // token (so a right guess cannot be told from a wrong one).
    assert_eq!(list(&s, &guesser, BOB.0).await.0, 429);
    // Every surface answers the penalty in its own shape, with Retry-After.
    let v2 = guesser
        .get(format!("http://{}/v2/images", s.addr))
        .header("x-auth-token", ALICE.0)
        .send()
        .await
        .unwrap();
    assert_eq!(v2.status(), 429);
    assert!(retry_after(&v2).is_some());
    let fault: serde_json::Value = v2.json().await.unwrap();
    assert_eq!(fault["code"], "429 Too Many Requests", "{fault}");
    assert_eq!(objects(&s, &guesser, ALICE.0).await, 429);
    assert_eq!(objects(&s, &other, ALICE.0).await, 200);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_right_token_already_in_use_from_the_guessers_address_is_still_served() {
    let s = Server::start_with(&[("PLANKTON_IDENTITY__FAILURES_PER_MINUTE", "3")]);
    let shared = client_from("127.0.0.4");
    // Alice works from an address (a lab behind one NAT) ...
    assert_eq!(list(&s, &shared, ALICE.0).await.0, 200);
    // ... that someone else guesses from, until the address is refused.
    let mut statuses = Vec::new();
    for n in 0..20 {
        statuses.push(list(&s, &shared, &format!("guess-{n}")).await.0.as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|&&c| c == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 429).count(),
        17,
        "{statuses:?}"
    );
    // Alice's token, known to the address, goes on working; a token never
    // used from there (Bob's) is not looked at during the penalty, so a
    // right guess cannot be told from a wrong one.
    for _ in 0..5 {
        assert_eq!(list(&s, &shared, ALICE.0).await.0, 200);
    }
    assert_eq!(list(&s, &shared, BOB.0).await.0, 429);
    // The guesses go on being refused between Alice's requests.
    assert_eq!(list(&s, &shared, "guess-x").await.0, 429);
}

#[tokio::test]
async fn the_query_token_and_the_login_form_count_and_are_held_back_alike() {
    let s = Server::start_with(&[("PLANKTON_IDENTITY__FAILURES_PER_MINUTE", "3")]);
    let objects_guesser = client_from("127.0.0.4");
    let mut statuses = Vec::new();
    for n in 0..5 {
        statuses.push(
            objects(&s, &objects_guesser, &format!("guess-{n}"))
                .await
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let form_guesser = client_from("127.0.0.5");
    let mut pages = Vec::new();
    for n in 0..5 {
        pages.push(
            login(&s, &form_guesser, &format!("guess-{n}"))
                .await
                .as_u16(),
        );
    }
    assert_eq!(pages, [401, 401, 401, 429, 429]);
    // Its failures at the form hold its API requests back too.
    assert_eq!(list(&s, &form_guesser, ALICE.0).await.0, 429);
    // Another address logs in at once.
    assert_eq!(login(&s, &client_from("127.0.0.6"), ALICE.0).await, 303);
    // The offline identity's tokens endpoint counts alike.
    let identity_guesser = client_from("127.0.0.10");
    let mut answers = Vec::new();
    for n in 0..5 {
        let body = format!(r#"{{"auth": {{"token": {{"id": "guess-{n}"}}}}}}"#);
        let resp = identity_guesser
            .post(format!("http://{}/identity/v2.0/tokens", s.addr))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        answers.push(resp.status().as_u16());
    }
    assert_eq!(answers, [401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn the_failure_counts_forget_the_oldest_address_past_their_capacity() {
    let s = Server::start_with(&[
        ("PLANKTON_IDENTITY__FAILURES_PER_MINUTE", "1"),
        ("PLANKTON_IDENTITY__FAILURE_ADDRESSES", "16"),
    ]);
    let first = client_from("127.0.0.2");
    assert_eq!(list(&s, &first, "wrong").await.0, 401);
    assert_eq!(list(&s, &first, "wrong").await.0, 429);
    let pid = s.process.pid();
    let rss_before = rss_kib(pid);
    // 200 more addresses fail once each: the table keeps only 16.
    for n in 0..200 {
        let ip = format!("127.0.{}.{}", 1 + n / 250, 1 + n % 250);
        assert_eq!(list(&s, &client_from(&ip), "wrong").await.0, 401, "{ip}");
    }
    // So the first address was forgotten, and is counted afresh.
    assert_eq!(list(&s, &first, "wrong").await.0, 401);
    assert_eq!(list(&s, &first, "wrong").await.0, 429);
    let grown = rss_kib(pid).saturating_sub(rss_before);
    assert!(grown < 16 * 1024, "the server grew by {grown} KiB");
}

/// The resident memory of a process, in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn guesses_sent_at_once_after_a_failure_get_no_more_than_the_limit() {
    let s = std::sync::Arc::new(Server::start_with(&[(
        "PLANKTON_IDENTITY__FAILURES_PER_MINUTE",
        "5",
    )]));
    let guesser = client_from("127.0.0.8");
    // One failure first: from then on the address's count is taken before
    // each token is checked.
    assert_eq!(list(&s, &guesser, "first").await.0, 401);
    let mut tasks = Vec::new();
    for n in 0..64 {
        let (s, c) = (std::sync::Arc::clone(&s), guesser.clone());
        tasks.push(tokio::spawn(async move {
            list(&s, &c, &format!("guess-{n}")).await.0.as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((unauthorized, refused), (4, 60), "{statuses:?}");
    // A client that has not failed sends as many at once as it likes.
    let busy = client_from("127.0.0.9");
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (s, c) = (std::sync::Arc::clone(&s), busy.clone());
        tasks.push(tokio::spawn(async move {
            list(&s, &c, ALICE.0).await.0.as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
}
