//! PostgreSQL going away under a running plankton (docs/api.md §18,
//! "Faults"): the database unreachable → 503 `serviceUnavailable` within
//! 10 s, never a 500 or a hang, the process alive; service back by itself
//! once the server is; a server killed in the middle of writes leaves each
//! of them whole or absent, and every one answered 2xx there.
//!
//! Each test has a PostgreSQL server of its own (`PgServer::start_own`),
//! stopped as a crash would (`pg_ctl stop -m immediate`) and started again
//! on the same data, while the binary serves on it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::postgres::{available, PgServer};
use super::support::process::{command, Server};
use super::support::raw::{request, Response};
use super::support::users::{write_tokens, ALICE, EVERYONE};

/// §18: a 503 within 10 s; the slack covers a loaded test machine.
const FAULT_LIMIT: Duration = Duration::from_secs(12);

/// How long a request may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(60);

/// A server of its own with one empty database, and plankton serving it.
fn deployment(dir: &Path) -> (PgServer, Server) {
    write_tokens(&dir.join("tokens"), &EVERYONE);
    std::fs::create_dir_all(dir.join("objects/alice/images")).unwrap();
    let pg = PgServer::start_own();
    let url = pg.empty_database();
    let plankton = Server::start(command(dir).env("PLANKTON_DATABASE", &url));
    (pg, plankton)
}

fn auth() -> Vec<(String, Vec<u8>)> {
    vec![("X-Auth-Token".into(), ALICE.0.as_bytes().to_vec())]
}

fn send(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (Response, Duration) {
    let mut headers = auth();
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        headers.push(("Content-Type".into(), b"application/json".to_vec()));
        serde_json::to_vec(body).unwrap()
    };
    let start = Instant::now();
    let resp = request(addr, method, path, &headers, &bytes, HANG)
        .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
    (resp, start.elapsed())
}

/// A v2 create of alice's named `name` with `props` extra properties.
fn create_body(name: &str, props: usize) -> Value {
    let mut body = json!({"name": name, "disk_format": "raw", "container_format": "bare"});
    for k in 0..props {
        body[format!("p{k:02}")] = json!(format!("{name}-{k}"));
    }
    body
}

/// The four requests of the fault test: a read, a write, a listing and
/// the health check.
fn probes(id: &str) -> Vec<(&'static str, String, Value)> {
    vec![
        ("GET", format!("/v2/images/{id}"), Value::Null),
        ("POST", "/v2/images".into(), create_body("during", 3)),
        ("GET", "/images/detail".into(), Value::Null),
        ("GET", "/healthz".into(), Value::Null),
    ]
}

/// Asserts that the process is still running.
fn alive(plankton: &mut Server) {
    let exited = plankton.child.try_wait().unwrap();
    assert!(exited.is_none(), "plankton exited: {exited:?}");
}

#[test]
fn a_stopped_server_is_503_within_seconds_and_service_resumes_by_itself() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pg, mut plankton) = deployment(dir.path());
    let addr = plankton.addr;
    let (made, _) = send(addr, "POST", "/v2/images", &create_body("before", 3));
    assert_eq!(made.status, 201, "{}", made.text());
    let id = serde_json::from_slice::<Value>(&made.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    pg.stop_immediate();
    // Twice over: the first meets the pool's dead connections, the second
    // a pool that has to connect anew to nothing.
    for round in 0..2 {
        for (method, path, body) in probes(&id) {
            let (resp, took) = send(addr, method, &path, &body);
            let text = resp.text();
            println!(
                "down, round {round}: {method} {path}: {} in {took:?}",
                resp.status
            );
            assert_eq!(resp.status, 503, "{method} {path}: {text}");
            assert!(took < FAULT_LIMIT, "{method} {path} took {took:?}");
            assert!(
                text.contains("catalogue") || text.contains("database"),
                "{method} {path}: the fault does not name the catalogue: {text}"
            );
            if path.starts_with("/images") {
                assert!(text.contains("serviceUnavailable"), "{text}");
            }
            alive(&mut plankton);
        }
    }
    let lines = plankton.log_lines();
    assert!(
        !lines.iter().any(|l| l.contains("panicked")),
        "{}",
        lines.join("\n")
    );

    pg.start_again();
    let back = Instant::now();
    loop {
        let (resp, _) = send(addr, "GET", "/healthz", &Value::Null);
        if resp.status == 200 {
            break;
        }
        assert_eq!(resp.status, 503, "{}", resp.text());
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "no service 10 s after the server is back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("service back {:?} after the server", back.elapsed());
    for (method, path, body) in probes(&id) {
        let (resp, _) = send(addr, method, &path, &body);
        assert!(
            matches!(resp.status, 200 | 201),
            "{method} {path} after the restart: {} {}",
            resp.status,
            resp.text()
        );
    }
    // What was there before the stop is there still.
    let (resp, _) = send(addr, "GET", &format!("/v2/images/{id}"), &Value::Null);
    let image: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(image["name"], "before");
    assert_eq!(image["p02"], "before-2");
    alive(&mut plankton);
}

#[test]
fn a_server_that_hangs_is_503_within_seconds_and_service_resumes() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pg, mut plankton) = deployment(dir.path());
    let addr = plankton.addr;
    let (made, _) = send(addr, "POST", "/v2/images", &create_body("before", 3));
    assert_eq!(made.status, 201, "{}", made.text());
    let id = serde_json::from_slice::<Value>(&made.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every process of the server stopped: connections open, no answer.
    pg.signal_all("STOP");
    let answers: Vec<_> = probes(&id)
        .into_iter()
        .map(|(method, path, body)| {
            std::thread::spawn(move || (method, send(addr, method, &path, &body)))
        })
        .collect();
    let answers: Vec<_> = answers.into_iter().map(|h| h.join().unwrap()).collect();
    pg.signal_all("CONT");
    for (method, (resp, took)) in answers {
        println!("hung: {method}: {} in {took:?}", resp.status);
        assert_eq!(resp.status, 503, "{method}: {}", resp.text());
        assert!(took < FAULT_LIMIT, "{method} took {took:?}");
    }
    alive(&mut plankton);
    let back = Instant::now();
    while send(addr, "GET", "/healthz", &Value::Null).0.status != 200 {
        assert!(back.elapsed() < Duration::from_secs(10), "no service after");
        std::thread::sleep(Duration::from_millis(100));
    }
    for (method, path, body) in probes(&id) {
        let (resp, _) = send(addr, method, &path, &body);
        assert!(
            matches!(resp.status, 200 | 201),
            "{method} {path} after: {} {}",
            resp.status,
            resp.text()
        );
    }
}

/// Every image of alice's, page after page.
fn every_image(addr: SocketAddr) -> Vec<Value> {
    let mut images: Vec<Value> = Vec::new();
    loop {
        let path = match images.last() {
            Some(last) => format!(
                "/v2/images?limit=200&marker={}",
                last["id"].as_str().unwrap()
            ),
            None => "/v2/images?limit=200".into(),
        };
        let (resp, _) = send(addr, "GET", &path, &Value::Null);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let page: Value = serde_json::from_slice(&resp.body).unwrap();
        let page = page["images"].as_array().unwrap().clone();
        if page.is_empty() {
            return images;
        }
        images.extend(page);
    }
}

/// What one writer saw: the names it created with a 201, and the ones
/// whose answer was a 503 (perhaps committed, perhaps not).
#[derive(Default)]
struct Seen {
    created: Vec<String>,
    unsure: Vec<String>,
    refused: usize,
}

/// Creates images named `w<writer>-<n>` with 24 properties each until
/// `stop`; every answer must be a 201 or a 503.
fn write_until(addr: SocketAddr, writer: usize, stop: &AtomicBool) -> Seen {
    let mut seen = Seen::default();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let name = format!("w{writer}-{n}");
        let (resp, took) = send(addr, "POST", "/v2/images", &create_body(&name, 24));
        assert!(took < FAULT_LIMIT, "{name}: {took:?}");
        match resp.status {
            201 => seen.created.push(name),
            503 => {
                seen.refused += 1;
                seen.unsure.push(name);
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("{name}: {other} {}", resp.text()),
        }
    }
    seen
}

#[test]
fn a_server_killed_under_writes_leaves_each_whole_or_absent() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pg, mut plankton) = deployment(dir.path());
    let addr = plankton.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || write_until(addr, w, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    pg.stop_immediate();
    std::thread::sleep(Duration::from_millis(500));
    pg.start_again();
    // Until every writer has had some more answered after the restart.
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    alive(&mut plankton);
    let refused: usize = seen.iter().map(|s| s.refused).sum();
    let created: usize = seen.iter().map(|s| s.created.len()).sum();
    println!("{created} created, {refused} refused with 503");
    assert!(
        refused > 0,
        "the stop met no write: the test proves nothing"
    );

    let images = every_image(addr);
    let by_name: std::collections::BTreeMap<&str, &Value> = images
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i))
        .collect();
    assert_eq!(by_name.len(), images.len(), "a name twice");
    for s in &seen {
        for name in &s.created {
            assert!(
                by_name.contains_key(name.as_str()),
                "{name} answered 201, lost"
            );
        }
    }
    // Every image there is whole: all 24 properties of its own.
    for (name, image) in &by_name {
        assert!(
            seen.iter()
                .any(|s| s.created.iter().chain(&s.unsure).any(|n| n == name)),
            "{name}: never asked for"
        );
        for k in 0..24 {
            assert_eq!(
                image[format!("p{k:02}")],
                json!(format!("{name}-{k}")),
                "{name}"
            );
        }
    }
}
