//! Free functions shared by the test modules: JSON and header readers, the
//! one fault check, listing helpers, and raw HTTP over a socket for what
//! reqwest cannot send or hides (non-UTF-8 bytes, upper-case header names,
//! HEAD bodies). The methods of `TestApp` are all in `helpers`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

/// The three prefixes every route answers under (docs/api.md §1): Cyclades, Cyclades, Glance.
pub const PREFIXES: [&str; 3] = ["", "/v1.0", "/v1"];

/// Whether a prefix speaks the Glance dialect.
pub fn is_glance(prefix: &str) -> bool {
    prefix == "/v1"
}

/// A header's value as text (lossy), if present.
pub fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// A header's value, asserting it is present.
pub fn must_header(resp: &Response, name: &str) -> String {
    header(resp, name).unwrap_or_else(|| panic!("header {name} missing: {:?}", resp.headers()))
}

/// The body as JSON, asserting the status first.
pub async fn json_with_status(resp: Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "status; body {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Asserts a fault (status, the one fault-name key, its code) whose message
/// mentions every needle, ignoring case. Returns the message.
pub async fn fault(resp: Response, status: u16, name: &str, needles: &[&str]) -> String {
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "status; body {text}");
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("fault is not JSON ({e}): {text}"));
    let obj = body.as_object().expect("fault body is an object");
    assert_eq!(obj.len(), 1, "exactly one key: {body}");
    let inner = obj
        .get(name)
        .unwrap_or_else(|| panic!("fault {name} expected: {body}"));
    assert_eq!(inner["code"], status, "{body}");
    let message = inner["message"].as_str().expect("message").to_string();
    for needle in needles {
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "message {message:?} should mention {needle:?}"
        );
    }
    message
}

/// The items of a listing body in either dialect's shape.
pub fn items(body: &Value) -> Vec<Value> {
    match body {
        Value::Array(a) => a.clone(),
        Value::Object(o) => o["images"].as_array().expect("images array").clone(),
        other => panic!("not a listing: {other}"),
    }
}

/// The ids of a listing body, in order.
pub fn ids_of(body: &Value) -> Vec<String> {
    items(body)
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}

/// Hex MD5 of some bytes.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}

/// Hex SHA-256 of some bytes: the Pithos hash of less than 4 MiB without trailing NULs.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code; 0 if the server closed the connection without one.
    pub status: u16,
    /// Header (lower-cased name, value) pairs as sent.
    pub headers: Vec<(String, String)>,
    /// Every byte after the head (with chunk framing, if chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends raw bytes of one request to `addr` (`host:port`) and reads the whole
/// answer, blocking; `TestApp::raw` runs it off the runtime.
pub fn exchange(addr: &str, request: &[u8]) -> RawResponse {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_raw(&out)
}

fn parse_raw(bytes: &[u8]) -> RawResponse {
    // No answer at all (the connection was closed) is status 0.
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return RawResponse {
            status: 0,
            headers: Vec::new(),
            body: bytes.to_vec(),
        };
    };
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
    }
}
