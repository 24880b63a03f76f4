//! Abuse at the socket: the real binary, raw TCP connections, malformed and
//! hostile requests. Each must get a 4xx or a closed connection within a
//! bounded time, the server must keep serving everyone else meanwhile, and
//! it must not change what it holds.
//!
//! The limits these tests rely on are actix-web's (actix-http 3.x), unless
//! `src/startup.rs` sets others:
//! - a request head (request line and headers) of at most 128 KiB, else 431;
//! - at most 96 header lines (Host and X-Auth-Token included), else 431;
//! - the first request's head must arrive within `client_request_timeout`
//!   (5 s), else 408 and the connection is closed;
//! - an idle keep-alive connection is closed after `keep_alive` (75 s), and
//!   plankton's own watchdog (src/http/conn.rs) closes one that has not
//!   brought its next request within `keep_alive` + 5 s of an answer;
//! - plankton's own: at most `limits.max_connections_per_address` (128)
//!   connections from one address; a body slower than 1 KiB/s is cut;
//! - at most 16 pipelined requests are queued on one connection;
//! - plankton's own: request bodies (member lists) of at most 1 MiB, else 413.

mod guessing;
#[path = "../support/mod.rs"]
mod support;

mod links;
mod log;
mod slow;
mod tls;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use support::raw as http;
use support::users::{write_tokens, ALICE, BOB};

/// The real server on a temporary directory, with one image of Alice's.
struct Server {
    process: support::process::Server,
    addr: SocketAddr,
    image: String,
    _dir: TempDir,
}

impl Server {
    fn start() -> Server {
        Self::start_with(&[])
    }

    /// A server with extra `PLANKTON_*` settings.
    fn start_with(settings: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects/alice/images");
        std::fs::create_dir_all(&objects).unwrap();
        std::fs::write(objects.join("a.img"), b"hello").unwrap();
        write_tokens(&dir.path().join("tokens"), &[(ALICE, None), (BOB, None)]);
        let process = support::process::Server::start(
            support::process::command(dir.path()).envs(settings.iter().copied()),
        );
        let addr = process.addr;
        let resp = http::request(
            addr,
            "POST",
            "/images",
            &[
                ("X-Auth-Token", ALICE.0.into()),
                ("X-Image-Meta-Name", b"a".to_vec()),
                (
                    "X-Image-Meta-Location",
                    b"pithos://alice/images/a.img".to_vec(),
                ),
            ],
            b"",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        let image = resp.header("x-image-meta-id").unwrap().to_string();
        Server {
            process,
            addr,
            image,
            _dir: dir,
        }
    }

    /// A normal request answers at once: the server serves everyone else.
    fn assert_serving(&mut self, when: &str) {
        let t = Instant::now();
        let resp = http::request(
            self.addr,
            "GET",
            "/images/detail",
            &[("X-Auth-Token", ALICE.0.as_bytes().to_vec())],
            b"",
            Duration::from_secs(5),
        );
        match resp {
            Ok(r) if r.status == 200 => {}
            other => panic!("{when}: a normal request failed: {other:?}"),
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{when}: a normal request took {:?}",
            t.elapsed()
        );
        assert!(
            self.process.child.try_wait().unwrap().is_none(),
            "{when}: the server exited"
        );
    }

    /// The image's members, as Alice sees them.
    fn members(&self) -> String {
        let r = http::request(
            self.addr,
            "GET",
            &format!("/images/{}/members", self.image),
            &[("X-Auth-Token", ALICE.0.as_bytes().to_vec())],
            b"",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(r.status, 200);
        r.text()
    }

    /// No panic and no error of plankton's in the log. (actix-http logs
    /// every malformed request head as an ERROR "stream error" of its
    /// dispatcher: those are the clients' faults, expected here.)
    fn assert_clean_log(&self) {
        let log = self.process.log.lock().unwrap();
        let bad: Vec<&String> = log
            .iter()
            .filter(|l| {
                l.contains("panicked")
                    || (l.contains(" ERROR ")
                        && !l.contains("actix_http::h1::dispatcher] stream error"))
            })
            .collect();
        assert!(bad.is_empty(), "the server logged: {bad:#?}");
    }
}

/// What came back on a raw connection.
#[derive(Debug)]
struct Outcome {
    /// The status of the first response, if one came.
    status: Option<u16>,
    /// Whether the server closed (or reset) the connection.
    closed: bool,
    /// How long until the close, or until we gave up.
    elapsed: Duration,
    /// The first bytes of what came back.
    head: String,
}

impl Outcome {
    /// A 4xx or a close without an answer, within `limit`; never 2xx/5xx.
    fn refused(&self, limit: Duration) -> bool {
        let status_ok = match self.status {
            Some(s) => (400..500).contains(&s),
            None => self.closed,
        };
        status_ok && self.elapsed <= limit
    }
}

/// Sends `parts` on a new connection, `pause` apart (then half-closes if
/// `half_close`), while reading what comes back until the server closes or
/// `limit` passes. Write errors (the server closed first) are not errors.
fn exchange(
    addr: SocketAddr,
    parts: Vec<Vec<u8>>,
    pause: Duration,
    half_close: bool,
    limit: Duration,
) -> Outcome {
    let start = Instant::now();
    let stream = TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        for (i, p) in parts.iter().enumerate() {
            if i > 0 && !pause.is_zero() {
                std::thread::sleep(pause);
            }
            if writer.write_all(p).is_err() {
                return;
            }
        }
        if half_close {
            let _ = writer.shutdown(Shutdown::Write);
        }
    });
    let mut reader = stream;
    let mut got = Vec::new();
    let mut closed = false;
    let mut buf = [0u8; 65536];
    while start.elapsed() < limit {
        let left = limit
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1));
        reader.set_read_timeout(Some(left)).unwrap();
        match reader.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    let _ = reader.shutdown(Shutdown::Both);
    let _ = sender.join();
    let head = String::from_utf8_lossy(&got[..got.len().min(300)]).into_owned();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok());
    Outcome {
        status,
        closed,
        elapsed,
        head,
    }
}

/// One request head with the given extra header lines, Alice's token first.
fn head(method: &str, path: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: ");
    out.extend_from_slice(ALICE.0.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(extra);
    out.extend_from_slice(b"\r\n");
    out
}

fn send(addr: SocketAddr, bytes: Vec<u8>) -> Outcome {
    exchange(
        addr,
        vec![bytes],
        Duration::ZERO,
        true,
        Duration::from_secs(10),
    )
}

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn over_long_request_heads_get_a_431_or_a_close() {
    let mut srv = Server::start();
    let long = "x".repeat(200 * 1024);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a 200 KiB header value",
            head("GET", b"/images", format!("X-Long: {long}\r\n").as_bytes()),
        ),
        (
            "a 200 KiB header name",
            head("GET", b"/images", format!("X-{long}: 1\r\n").as_bytes()),
        ),
        (
            "a 200 KiB path",
            head("GET", format!("/images/{long}").as_bytes(), b""),
        ),
        (
            "a 200 KiB query",
            head("GET", format!("/images?name={long}").as_bytes(), b""),
        ),
        (
            "2000 headers of 100 bytes",
            head(
                "GET",
                b"/images",
                (0..2000)
                    .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(90)))
                    .collect::<String>()
                    .as_bytes(),
            ),
        ),
    ];
    for (what, bytes) in cases {
        let o = send(srv.addr, bytes);
        assert!(o.refused(LIMIT), "{what}: {o:?}");
        assert!(
            o.status.is_none() || o.status == Some(431),
            "{what}: 431 expected: {o:?}"
        );
        srv.assert_serving(what);
    }
    // Under the limit: a 64 KiB header is read and answered (the API itself
    // ignores headers it does not know).
    let o = send(
        srv.addr,
        head(
            "GET",
            b"/images",
            format!("X-Big: {}\r\n", "y".repeat(64 * 1024)).as_bytes(),
        ),
    );
    assert_eq!(o.status, Some(200), "{o:?}");
    srv.assert_clean_log();
}

#[test]
fn at_most_96_header_lines_are_read() {
    let mut srv = Server::start();
    // Host, X-Auth-Token, Connection and 93 more: 96 lines, answered.
    let lines = |n: usize| -> Vec<u8> {
        let mut extra = b"Connection: close\r\n".to_vec();
        for i in 0..n {
            extra.extend_from_slice(format!("X-Filler-{i}: {i}\r\n").as_bytes());
        }
        head("GET", b"/images", &extra)
    };
    let o = send(srv.addr, lines(93));
    assert_eq!(o.status, Some(200), "96 header lines: {o:?}");
    for n in [94, 150, 1000] {
        let o = send(srv.addr, lines(n));
        assert!(o.refused(LIMIT), "{} header lines: {o:?}", n + 3);
        assert!(
            o.status.is_none() || o.status == Some(431),
            "{} header lines, 431 expected: {o:?}",
            n + 3
        );
    }
    // A register with 64 properties (the default limit) and its other
    // metadata fits in the 96 lines, as docs/api.md promises.
    let mut extra = b"X-Image-Meta-Name: many\r\nX-Image-Meta-Location: pithos://alice/images/a.img\r\nX-Image-Meta-Disk-Format: raw\r\nX-Image-Meta-Container-Format: bare\r\nX-Image-Meta-Is-Public: false\r\nX-Image-Meta-Min-Ram: 1\r\nX-Image-Meta-Min-Disk: 1\r\nContent-Type: application/octet-stream\r\nContent-Length: 0\r\nConnection: close\r\nUser-Agent: abuse\r\nAccept-Encoding: identity\r\n".to_vec();
    for i in 0..64 {
        extra.extend_from_slice(format!("X-Image-Meta-Property-P{i}: {i}\r\n").as_bytes());
    }
    let o = send(srv.addr, head("POST", b"/images", &extra));
    assert_eq!(o.status, Some(200), "register with 64 properties: {o:?}");
    srv.assert_serving("after too many headers");
    srv.assert_clean_log();
}

#[test]
fn malformed_bytes_in_request_lines_and_headers_are_refused() {
    let mut srv = Server::start();
    let id = srv.image.clone();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("invalid UTF-8 in the path", head("GET", b"/images/\xff\xfe", b"")),
        ("UTF-8 in the path", head("GET", "/images/é".as_bytes(), b"")),
        ("a NUL in the path", head("GET", b"/images/\0", b"")),
        ("a space in the path", head("GET", b"/images/a b", b"")),
        ("a NUL in a header value", head("GET", b"/images", b"X-Image-Meta-Name: a\0b\r\n")),
        ("a NUL in a header name", head("GET", b"/images", b"X-A\0b: 1\r\n")),
        ("a bare CR in a header value", head("GET", b"/images", b"X-A: a\rb\r\n")),
        ("a header without a colon", head("GET", b"/images", b"X-No-Colon\r\n")),
        ("a space before the colon", head("GET", b"/images", b"X-A : 1\r\n")),
        ("a folded header", head("GET", b"/images", b"X-A: 1\r\n  folded\r\n")),
        ("invalid UTF-8 in a header name", head("GET", b"/images", b"X-\xff: 1\r\n")),
        (
            "invalid UTF-8 in the name",
            head("POST", b"/images", b"X-Image-Meta-Name: \xff\xfe\r\nX-Image-Meta-Location: pithos://alice/images/a.img\r\n"),
        ),
        (
            "invalid UTF-8 in a property",
            head("PUT", format!("/images/{id}").as_bytes(), b"X-Image-Meta-Property-A: \xc0\xaf\r\n"),
        ),
        ("invalid UTF-8 in the token", b"GET /images HTTP/1.1\r\nHost: x\r\nX-Auth-Token: \xff\r\n\r\n".to_vec()),
        ("a bad escape in the path", head("GET", b"/images/%zz", b"")),
        ("a lone % in a member", head("PUT", format!("/images/{id}/members/%").as_bytes(), b"")),
        ("an escaped NUL in a member", head("PUT", format!("/images/{id}/members/a%00").as_bytes(), b"")),
        ("an escape of invalid UTF-8 in a member", head("DELETE", format!("/images/{id}/members/%ff").as_bytes(), b"")),
        ("an escape of invalid UTF-8 in shared-images", head("GET", b"/shared-images/%C3%28", b"")),
        ("a bad escape in the query", head("GET", b"/images?name=%G0", b"")),
        ("an escaped invalid UTF-8 in the query", head("GET", b"/images/detail?property-os=%ff", b"")),
        (
            "a bad escape in a metadata value",
            head("PUT", format!("/images/{id}").as_bytes(), b"X-Image-Meta-Name: 100%\r\n"),
        ),
        (
            "a NUL escape in the location",
            head("POST", b"/images", b"X-Image-Meta-Name: n\r\nX-Image-Meta-Location: pithos://alice/images/a%00.img\r\n"),
        ),
        ("no Host in HTTP/1.1", b"GET /images HTTP/1.1\r\nX-Auth-Token: alice-token\r\n\r\n".to_vec()),
        ("an unknown version", b"GET /images HTTP/9.9\r\nHost: x\r\n\r\n".to_vec()),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n".to_vec()),
        ("a lower-case method", head("get", b"/images", b"")),
        ("an unknown method", head("BREW", b"/images", b"")),
        ("a CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n".to_vec()),
        (
            "Content-Length and Transfer-Encoding together",
            head("PUT", format!("/images/{id}/members").as_bytes(), b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        ),
        (
            "two different Content-Lengths",
            head("PUT", format!("/images/{id}/members").as_bytes(), b"Content-Length: 5\r\nContent-Length: 6\r\n"),
        ),
        (
            "a negative Content-Length",
            head("PUT", format!("/images/{id}/members").as_bytes(), b"Content-Length: -1\r\n"),
        ),
        (
            "a huge Content-Length",
            head("PUT", format!("/images/{id}/members").as_bytes(), b"Content-Length: 99999999999999999999999\r\n"),
        ),
        (
            "a Transfer-Encoding that is not chunked",
            head("PUT", format!("/images/{id}/members").as_bytes(), b"Transfer-Encoding: gzip\r\n"),
        ),
        (
            "a bad chunk size",
            [head("PUT", format!("/images/{id}/members").as_bytes(), b"Transfer-Encoding: chunked\r\n"), b"zz\r\n{}\r\n0\r\n\r\n".to_vec()].concat(),
        ),
        (
            "a NUL in the members body",
            [head("PUT", format!("/images/{id}/members").as_bytes(), b"Content-Length: 38\r\n"), b"{\"memberships\": [{\"member_id\": \"\0\"}]}".to_vec()].concat(),
        ),
    ];
    let before = srv.members();
    for (what, bytes) in cases {
        let o = send(srv.addr, bytes);
        assert!(o.refused(LIMIT), "{what}: {o:?}");
        srv.assert_serving(what);
    }
    assert_eq!(
        srv.members(),
        before,
        "a refused request changed the members"
    );
    srv.assert_clean_log();
}

#[test]
fn changes_since_with_a_multibyte_character_at_byte_19_is_a_400() {
    // ListQuery -> parse_since slices the value at byte 19, which may fall
    // inside a character: "2013-03-29T16:14:3" is 18 bytes, "é" two more.
    let mut srv = Server::start();
    for q in [
        "/images?changes-since=2013-03-29T16:14:3%C3%A9",
        "/images/detail?changes-since=aaaaaaaaaaaaaaaaaa%E2%82%AC",
        "/v1/images?changes-since=2013-03-29%2016:14:3%F0%9F%8C%80",
    ] {
        let o = send(srv.addr, head("GET", q.as_bytes(), b""));
        assert_eq!(o.status, Some(400), "{q}: {o:?}");
        srv.assert_serving(q);
    }
    srv.assert_clean_log();
}

#[test]
fn a_truncated_members_body_changes_nothing() {
    let mut srv = Server::start();
    let id = srv.image.clone();
    let before = srv.members();
    let body = br#"{"memberships": [{"member_id": "bob"}, {"member_id": "carol"}]}"#;
    for (what, half_close) in [("then half-closed", true), ("then left open", false)] {
        let h = head(
            "PUT",
            format!("/images/{id}/members").as_bytes(),
            format!("Content-Length: {}\r\n", body.len() + 1000).as_bytes(),
        );
        let limit = if half_close {
            LIMIT
        } else {
            Duration::from_secs(3)
        };
        let o = exchange(
            srv.addr,
            vec![h, body.to_vec()],
            Duration::from_millis(50),
            half_close,
            limit,
        );
        if half_close {
            assert!(o.refused(LIMIT), "a body cut short {what}: {o:?}");
        } else {
            assert!(
                o.status.is_none() || o.status.is_some_and(|s| (400..500).contains(&s)),
                "a body cut short {what}: {o:?}"
            );
        }
        assert_eq!(
            srv.members(),
            before,
            "a body cut short {what} changed the members"
        );
        srv.assert_serving(what);
    }
    // A chunked body that stops in the middle.
    let h = head(
        "PUT",
        format!("/images/{id}/members").as_bytes(),
        b"Transfer-Encoding: chunked\r\n",
    );
    let o = exchange(
        srv.addr,
        vec![
            h,
            format!("{:x}\r\n", body.len()).into_bytes(),
            body[..10].to_vec(),
        ],
        Duration::from_millis(50),
        true,
        LIMIT,
    );
    assert!(o.refused(LIMIT), "a chunked body cut short: {o:?}");
    assert_eq!(srv.members(), before);
    srv.assert_serving("after cut bodies");
    srv.assert_clean_log();
}

/// Sends a head, then `total` bytes of body as fast as the server takes
/// them, while reading the answer.
fn flood(addr: SocketAddr, h: Vec<u8>, total: usize, limit: Duration) -> (Outcome, usize) {
    let start = Instant::now();
    let stream = TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    writer.set_write_timeout(Some(limit)).unwrap();
    let sender = std::thread::spawn(move || {
        if writer.write_all(&h).is_err() {
            return 0;
        }
        let chunk = vec![b'['; 1 << 20];
        let mut sent = 0;
        while sent < total && start.elapsed() < limit {
            match writer.write(&chunk[..chunk.len().min(total - sent)]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let mut reader = stream;
    let mut got = Vec::new();
    let mut closed = false;
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        reader
            .set_read_timeout(Some(
                limit
                    .saturating_sub(start.elapsed())
                    .max(Duration::from_millis(1)),
            ))
            .unwrap();
        match reader.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if http::find(&got, b"\r\n\r\n").is_some() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    let _ = reader.shutdown(Shutdown::Both);
    let sent = sender.join().unwrap();
    let head = String::from_utf8_lossy(&got[..got.len().min(300)]).into_owned();
    let status = head.get(9..12).and_then(|s| s.parse().ok());
    (
        Outcome {
            status,
            closed,
            elapsed,
            head,
        },
        sent,
    )
}

#[test]
fn a_100_mib_body_is_refused_without_being_read() {
    let mut srv = Server::start();
    let id = srv.image.clone();
    let before = srv.members();
    let total = 100 << 20;
    let cases = [
        (
            "members, with its Content-Length",
            head("PUT", format!("/images/{id}/members").as_bytes(), format!("Content-Length: {total}\r\n").as_bytes()),
            Some(413),
        ),
        (
            "members, chunked",
            head("PUT", format!("/images/{id}/members").as_bytes(), b"Transfer-Encoding: chunked\r\n"),
            Some(413),
        ),
        (
            "add a member, with its Content-Length",
            head("PUT", format!("/images/{id}/members/bob").as_bytes(), format!("Content-Length: {total}\r\n").as_bytes()),
            Some(413),
        ),
        (
            "offline identity tokens, no token needed",
            b"POST /identity/v2.0/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n".to_vec(),
            Some(413),
        ),
    ];
    for (what, h, want) in cases {
        let chunked = what.contains("chunked");
        let (o, sent) = if chunked {
            // One chunk header announcing 100 MiB, then the bytes.
            let mut h = h;
            h.extend_from_slice(format!("{total:x}\r\n").as_bytes());
            flood(srv.addr, h, total, Duration::from_secs(20))
        } else {
            flood(srv.addr, h, total, Duration::from_secs(20))
        };
        assert!(
            o.status == want || (o.status.is_none() && o.closed),
            "{what}: {want:?} expected: {o:?} ({sent} bytes sent)"
        );
        assert!(
            o.elapsed < Duration::from_secs(20),
            "{what}: took {:?}",
            o.elapsed
        );
        srv.assert_serving(what);
    }
    // A body on a route that reads none is ignored; the answer still comes.
    let (o, _) = flood(
        srv.addr,
        head(
            "GET",
            b"/images",
            format!("Content-Length: {total}\r\n").as_bytes(),
        ),
        total,
        Duration::from_secs(20),
    );
    assert!(
        o.status.is_some_and(|s| s < 500) || (o.status.is_none() && o.closed),
        "a body on GET /images: {o:?}"
    );
    assert_eq!(srv.members(), before);
    srv.assert_serving("after 100 MiB bodies");
    srv.assert_clean_log();
}

/// Sends `bytes` one a second on a connection; the head never completes in time.
fn trickle(addr: SocketAddr, prefix: Vec<u8>, bytes: &[u8], limit: Duration) -> Outcome {
    let mut parts = vec![prefix];
    parts.extend(bytes.iter().map(|b| vec![*b]));
    exchange(addr, parts, Duration::from_secs(1), false, limit)
}

#[test]
fn a_slow_first_request_head_is_cut_off() {
    let mut srv = Server::start();
    let addr = srv.addr;
    // Twenty slow clients at once, and the server serves others meanwhile.
    let slow: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                trickle(
                    addr,
                    b"GET /images HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec(),
                    &[b'a'; 30],
                    Duration::from_secs(15),
                )
            })
        })
        .collect();
    for i in 0..5 {
        std::thread::sleep(Duration::from_secs(1));
        srv.assert_serving(&format!("{i} s into twenty slow clients"));
    }
    for h in slow {
        let o = h.join().unwrap();
        assert!(o.refused(Duration::from_secs(12)), "a slow head: {o:?}");
        assert!(
            o.status.is_none() || o.status == Some(408),
            "408 expected: {o:?}"
        );
    }
    srv.assert_clean_log();
}

#[test]
fn idle_connections_are_closed_and_do_not_block_others() {
    // Uncapped: all 200 come from 127.0.0.1, as the normal request does
    // (slow::one_address_cannot_hold_every_connection checks the cap).
    let mut srv = Server::start_with(&[("PLANKTON_LIMITS__MAX_CONNECTIONS_PER_ADDRESS", "0")]);
    let addr = srv.addr;
    let start = Instant::now();
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    srv.assert_serving("with 200 idle connections");
    let mut open = 0;
    for mut s in idle {
        s.set_read_timeout(Some(
            Duration::from_secs(12)
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1)),
        ))
        .unwrap();
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => open += 1,
            Err(_) => {}
        }
    }
    assert_eq!(open, 0, "idle connections still open after 12 s");
    srv.assert_serving("after idle connections");
}

#[test]
fn with_keep_alive_off_a_slow_second_request_cannot_even_start() {
    // actix-http arms its head timer (client_request_timeout) for the first
    // request of a connection only, and its keep-alive timer stops at the
    // first byte of the next one. With `limits.keep_alive = 0` every
    // connection closes after its first answer, so no head goes untimed.
    let mut srv = Server::start_with(&[("PLANKTON_LIMITS__KEEP_ALIVE", "0")]);
    let first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let o = trickle(
        srv.addr,
        [
            first,
            b"GET /images HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec(),
        ]
        .concat(),
        &[b'a'; 25],
        Duration::from_secs(20),
    );
    assert!(o.head.starts_with("HTTP/1.1 200"), "{o:?}");
    assert!(
        o.closed && o.elapsed < Duration::from_secs(5),
        "the connection was still open after {:?}: {o:?}",
        o.elapsed
    );
    srv.assert_serving("after a closed kept-alive attempt");
}

#[test]
fn with_keep_alive_on_a_slow_second_request_holds_only_its_own_connection() {
    // The default keeps connections alive (75 s) for clients' sake; a client
    // that trickles its second head holds that one connection until the
    // watchdog's keep-alive + 5 s (slow::a_trickled_head_on_a_kept_alive_
    // connection_is_cut_off), and everyone else is served meanwhile.
    let mut srv = Server::start();
    let addr = srv.addr;
    let slow: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
                trickle(
                    addr,
                    [first, b"GET /images HTTP/1.1\r\nX-Slow: ".to_vec()].concat(),
                    &[b'a'; 6],
                    Duration::from_secs(8),
                )
            })
        })
        .collect();
    for round in 0..5 {
        std::thread::sleep(Duration::from_secs(1));
        srv.assert_serving(&format!("while 20 clients trickle (second {round})"));
    }
    for t in slow {
        let o = t.join().unwrap();
        assert!(o.head.starts_with("HTTP/1.1 200"), "{o:?}");
    }
    srv.assert_serving("after the trickling clients");
}

#[test]
fn a_slow_body_is_cut_off() {
    // No actix timer runs while a handler reads the body: the members
    // handler waits as long as the client keeps sending.
    let mut srv = Server::start();
    let id = srv.image.clone();
    let before = srv.members();
    let body = br#"{"memberships": [{"member_id": "bob"}]}"#;
    let h = head(
        "PUT",
        format!("/images/{id}/members").as_bytes(),
        format!("Content-Length: {}\r\n", body.len()).as_bytes(),
    );
    let o = trickle(srv.addr, h, &body[..25], Duration::from_secs(20));
    assert!(
        o.refused(Duration::from_secs(15)),
        "a body sent a byte a second was still being read after {:?}: {o:?}",
        o.elapsed
    );
    assert_eq!(srv.members(), before);
    srv.assert_serving("after a slow body");
}

#[test]
fn pipelined_floods_are_answered_in_order_or_cut() {
    let mut srv = Server::start();
    let one = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut many = Vec::new();
    for _ in 0..500 {
        many.extend_from_slice(one);
    }
    many.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let o = exchange(srv.addr, vec![many], Duration::ZERO, false, LIMIT);
    assert!(o.closed, "{o:?}");
    assert!(o.head.starts_with("HTTP/1.1 200"), "{o:?}");
    srv.assert_serving("after a pipelined flood");
    srv.assert_clean_log();
}
