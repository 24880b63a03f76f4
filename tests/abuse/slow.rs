//! Slow clients and one address's many connections (issue 25, item 2):
//! trickled heads on kept-alive connections, trickled bodies, more
//! connections from one address than its cap while another is served, and
//! honest readers of a large answer keeping their connection.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::raw as http;
use crate::support::users::ALICE;
use crate::{trickle, Server};

/// A connection to `to` from the loopback address `from` (127.0.0.2 is a
/// second client beside 127.0.0.1).
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&from.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

/// The status and body of one answer read off a kept-alive connection,
/// its body read in pieces of `piece` bytes `pause` apart.
fn read_answer(s: &mut TcpStream, piece: usize, pause: Duration) -> std::io::Result<(u16, usize)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while http::find(&head, b"\r\n\r\n").is_none() {
        if s.read(&mut byte)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let parsed = http::parse_response(&head, true).map_err(std::io::Error::other)?;
    let length: usize = parsed
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut buf = vec![0u8; piece];
    let mut got = 0;
    while got < length {
        let want = piece.min(length - got);
        let n = s.read(&mut buf[..want])?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        got += n;
        std::thread::sleep(pause);
    }
    Ok((parsed.status, got))
}

/// A GET on a kept-alive connection, with Alice's token.
fn get(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {}\r\n\r\n",
        ALICE.0
    )
    .into_bytes()
}

/// `GET /images` from `from`, answered 200 within 3 s.
fn served_from(from: &str, addr: SocketAddr) -> bool {
    let mut s = connect_from(from, addr);
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let t = Instant::now();
    s.write_all(&get("/images")).is_ok()
        && matches!(read_answer(&mut s, 65536, Duration::ZERO), Ok((200, _)))
        && t.elapsed() < Duration::from_secs(3)
}

#[test]
fn a_trickled_head_on_a_kept_alive_connection_is_cut_off() {
    let mut srv = Server::start_with(&[("PLANKTON_LIMITS__KEEP_ALIVE", "2")]);
    let addr = srv.addr;
    let slow: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
                let next = b"GET /images HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec();
                trickle(
                    addr,
                    [first, next].concat(),
                    &[b'a'; 30],
                    Duration::from_secs(20),
                )
            })
        })
        .collect();
    for second in 0..4 {
        std::thread::sleep(Duration::from_secs(1));
        srv.assert_serving(&format!("{second} s into twenty trickled heads"));
    }
    for t in slow {
        let o = t.join().unwrap();
        assert!(o.head.starts_with("HTTP/1.1 200"), "{o:?}");
        // Keep-alive (2 s) and a head's deadline (5 s) after the answer.
        assert!(
            o.closed && o.elapsed < Duration::from_secs(10),
            "a trickled second head held its connection for {:?}: {o:?}",
            o.elapsed
        );
    }
    srv.assert_serving("after the trickled heads");
    srv.assert_clean_log();
}

/// Images Alice sees, as the list's text.
fn listing(srv: &Server) -> String {
    let r = http::request(
        srv.addr,
        "GET",
        "/images",
        &[("X-Auth-Token", ALICE.0.as_bytes().to_vec())],
        b"",
        Duration::from_secs(5),
    )
    .unwrap();
    r.text()
}

#[test]
fn trickled_bodies_are_cut_off_and_change_nothing() {
    let mut srv = Server::start();
    let before = listing(&srv);
    let token = ALICE.0;
    let cases = [
        (
            "an upload through the image API",
            format!("POST /images HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\nX-Image-Meta-Name: slow\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n"),
        ),
        (
            "an object PUT",
            format!("PUT /object-store/v1/alice/images/slow.img HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\nContent-Length: 1000\r\n\r\n"),
        ),
        (
            "a chunked object PUT",
            format!("PUT /object-store/v1/alice/images/slow2.img HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n"),
        ),
        (
            "a login form",
            "POST /ui/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n".to_string(),
        ),
    ];
    let addr = srv.addr;
    let slow: Vec<_> = cases
        .into_iter()
        .map(|(what, head)| {
            let t = std::thread::spawn(move || {
                trickle(
                    addr,
                    head.into_bytes(),
                    &[b'a'; 30],
                    Duration::from_secs(20),
                )
            });
            (what, t)
        })
        .collect();
    for second in 0..3 {
        std::thread::sleep(Duration::from_secs(1));
        srv.assert_serving(&format!("{second} s into trickled bodies"));
    }
    for (what, t) in slow {
        let o = t.join().unwrap();
        assert!(
            o.refused(Duration::from_secs(15)),
            "{what}, a byte a second, was still being read after {:?}: {o:?}",
            o.elapsed
        );
    }
    assert_eq!(
        listing(&srv),
        before,
        "a trickled upload registered an image"
    );
    for object in ["slow.img", "slow2.img"] {
        let r = http::request(
            srv.addr,
            "HEAD",
            &format!("/object-store/v1/alice/images/{object}"),
            &[("X-Auth-Token", ALICE.0.as_bytes().to_vec())],
            b"",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(r.status, 404, "{object} was stored");
    }
    srv.assert_serving("after trickled bodies");
}

/// Whether the server has closed `s` (or does within `wait`).
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn one_address_cannot_hold_every_connection() {
    let srv = Server::start_with(&[("PLANKTON_LIMITS__MAX_CONNECTIONS_PER_ADDRESS", "16")]);
    let mut many: Vec<TcpStream> = (0..100)
        .map(|_| connect_from("127.0.0.1", srv.addr))
        .collect();
    assert!(
        served_from("127.0.0.2", srv.addr),
        "another address is served meanwhile"
    );
    let closed = many
        .iter_mut()
        .filter_map(|s| closed_within(s, Duration::from_millis(300)).then_some(()))
        .count();
    assert_eq!(closed, 84, "100 connections from one address, a cap of 16");
    for _ in 0..5 {
        assert!(
            served_from("127.0.0.2", srv.addr),
            "another address is served meanwhile"
        );
    }
    drop(many);
    let start = Instant::now();
    while !served_from("127.0.0.1", srv.addr) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the address's slots came back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn honest_slow_readers_of_a_large_answer_keep_their_connection() {
    let srv = Server::start();
    let big = srv._dir.path().join("objects/alice/images/big.img");
    std::fs::write(&big, vec![7u8; 4 << 20]).unwrap();
    let addr = srv.addr;
    // 32 readers at once, each reading 4 MiB at ~0.5 MiB/s (8 s, longer than
    // the old 5 s keep-alive), then asking again on the same connection.
    let readers: Vec<_> = (0..32)
        .map(|_| {
            std::thread::spawn(move || -> Result<(), String> {
                let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let path = "/object-store/v1/alice/images/big.img";
                s.write_all(&get(path)).map_err(|e| e.to_string())?;
                let first = read_answer(&mut s, 64 << 10, Duration::from_millis(125));
                if !matches!(first, Ok((200, n)) if n == 4 << 20) {
                    return Err(format!("the download: {first:?}"));
                }
                s.write_all(&get("/images"))
                    .map_err(|e| format!("the next request: {e}"))?;
                match read_answer(&mut s, 65536, Duration::ZERO) {
                    Ok((200, _)) => Ok(()),
                    other => Err(format!("the next request: {other:?}")),
                }
            })
        })
        .collect();
    let failed: Vec<String> = readers
        .into_iter()
        .filter_map(|r| r.join().unwrap().err())
        .collect();
    assert!(
        failed.is_empty(),
        "{} readers failed: {failed:#?}",
        failed.len()
    );
}
