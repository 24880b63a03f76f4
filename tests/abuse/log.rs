//! No token, right or wrong, reaches the log: not from a query, a header,
//! the login form or the web view's cookie.

use std::time::{Duration, Instant};

use crate::support::raw as http;
use crate::support::users::ALICE;
use crate::Server;

const T: Duration = Duration::from_secs(5);

/// Sends a request with the given headers and body; its status.
fn status(srv: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let headers: Vec<(&str, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (*k, v.as_bytes().to_vec()))
        .collect();
    http::request(srv.addr, method, path, &headers, body, T)
        .unwrap()
        .status
}

/// Logs in as Alice through the form: the session cookie's value.
fn log_in(srv: &Server) -> String {
    let form = http::request(
        srv.addr,
        "GET",
        "/ui/login",
        &[] as &[(&str, Vec<u8>)],
        b"",
        T,
    )
    .unwrap();
    let cookie = form.header("set-cookie").unwrap();
    let csrf = cookie["plankton_login=".len()..].split(';').next().unwrap();
    let body = format!("token={}&csrf={csrf}", ALICE.0);
    let resp = http::request(
        srv.addr,
        "POST",
        "/ui/login",
        &[
            ("Cookie", format!("plankton_login={csrf}").into_bytes()),
            (
                "Content-Type",
                b"application/x-www-form-urlencoded".to_vec(),
            ),
        ],
        body.as_bytes(),
        T,
    )
    .unwrap();
    assert_eq!(resp.status, 303, "{}", resp.text());
    let session = resp
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("plankton_session="))
        .map(|(_, v)| {
            v["plankton_session=".len()..]
                .split(';')
                .next()
                .unwrap()
                .to_string()
        })
        .unwrap();
    session
}

/// Waits (5 s at most) for a log line holding `marker`: the lines of the
/// requests before it are in by then.
fn wait_for_line(srv: &Server, marker: &str) {
    let start = Instant::now();
    while start.elapsed() < T {
        if srv.process.log_lines().iter().any(|l| l.contains(marker)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no log line with {marker}");
}

#[test]
fn no_token_right_or_wrong_reaches_the_log() {
    let srv = Server::start();
    let object = "/object-store/v1/alice/images/a.img";
    let guesses = ["q-guess-31337", "h-guess-31337", "f-guess-31337"];
    for (query, want) in [
        (format!("X-Auth-Token={}", ALICE.0), 200),
        (format!("X-Auth-Token={}", guesses[0]), 401),
        (format!("format=json&x-auth-%74oken={}", guesses[0]), 401),
        (
            format!("token={}&X-Auth-Token={}", guesses[0], ALICE.0),
            200,
        ),
    ] {
        let path = format!("{object}?{query}");
        assert_eq!(status(&srv, "GET", &path, &[], b""), want, "{path}");
    }
    assert_eq!(
        status(&srv, "GET", "/images", &[("X-Auth-Token", guesses[1])], b""),
        401
    );
    assert_eq!(
        status(&srv, "GET", "/images", &[("X-Auth-Token", ALICE.0)], b""),
        200
    );
    let form = format!("token={}&csrf=nope", guesses[2]);
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    assert_eq!(
        status(&srv, "POST", "/ui/login", &[form_type], form.as_bytes()),
        403
    );
    let session = log_in(&srv);
    let cookie = format!("plankton_session={session}");
    assert_eq!(
        status(&srv, "GET", "/ui/", &[("Cookie", &cookie)], b""),
        200
    );
    assert_eq!(
        status(&srv, "GET", "/healthz?end-of-the-story", &[], b""),
        200
    );
    wait_for_line(&srv, "end-of-the-story");
    let log = srv.process.log_lines();
    assert!(
        log.iter().any(|l| l.contains("X-Auth-Token=***")),
        "the access log shows the query with its token hidden: {log:#?}"
    );
    for secret in [ALICE.0, &session].into_iter().chain(guesses) {
        let leaks: Vec<&String> = log.iter().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret} is in the log: {leaks:#?}");
    }
}
