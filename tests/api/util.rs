//! Shared conveniences of the test modules: JSON and header readers, fault
//! checks with several needles, listing helpers, and raw HTTP over a socket
//! for what reqwest cannot send or hides (non-UTF-8 bytes, upper-case header
//! names, HEAD bodies).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::TestApp;

/// The three prefixes every route answers under (§1): Cyclades, Cyclades, Glance.
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

impl TestApp {
    /// `host:port` of the server.
    pub fn host_port(&self) -> String {
        let rest = self.address.strip_prefix("http://").unwrap();
        rest.split('/').next().unwrap().to_string()
    }

    /// The configured base path (empty or `/something`).
    pub fn base(&self) -> String {
        self.settings.base_path.clone()
    }

    /// A GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), &[]).await
    }

    /// A HEAD with a token.
    pub async fn head(&self, path: &str, token: &str) -> Response {
        self.request(Method::HEAD, path, Some(token), &[]).await
    }

    /// A request with a token and a body.
    pub async fn send_body(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .body(body.to_vec());
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        req.send().await.expect("request sent")
    }

    /// The listing body at `path` (with its query) as JSON, asserting 200.
    pub async fn list(&self, path: &str, token: &str) -> Value {
        json_with_status(self.get(path, token).await, 200).await
    }

    /// The ids listed at `path` (either dialect), asserting 200.
    pub async fn list_ids(&self, path: &str, token: &str) -> Vec<String> {
        ids_of(&self.list(path, token).await)
    }

    /// `/images/detail` item of one image as `token` sees it in the listing.
    pub async fn detail_of(&self, id: &str, token: &str) -> Value {
        let body = self.list("/images/detail", token).await;
        items(&body)
            .into_iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed in {body}"))
    }

    /// The member ids of an image, asserting 200.
    pub async fn member_ids(&self, prefix: &str, id: &str, token: &str) -> Vec<String> {
        let body = json_with_status(
            self.get(&format!("{prefix}/images/{id}/members"), token)
                .await,
            200,
        )
        .await;
        body["members"]
            .as_array()
            .expect("members array")
            .iter()
            .map(|m| m["member_id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Replaces the members of an image, asserting 204.
    pub async fn set_members(&self, id: &str, token: &str, members: &[&str]) {
        let list: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"member_id": m, "can_share": false}))
            .collect();
        let body = serde_json::json!({ "memberships": list }).to_string();
        let resp = self
            .send_body(
                Method::PUT,
                &format!("/images/{id}/members"),
                Some(token),
                body.as_bytes(),
            )
            .await;
        assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    }

    /// Updates an image with headers, asserting 200.
    pub async fn update_ok(&self, id: &str, token: &str, headers: &[(&str, &str)]) -> Response {
        let resp = self
            .request(Method::PUT, &format!("/images/{id}"), Some(token), headers)
            .await;
        assert_eq!(resp.status(), 200, "update {id} {headers:?}");
        resp
    }

    /// Sends raw bytes of one request (which should ask `Connection: close`)
    /// and reads the whole answer.
    pub async fn raw(&self, request: Vec<u8>) -> RawResponse {
        let addr = self.host_port();
        tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&request).expect("write");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            parse_raw(&out)
        })
        .await
        .unwrap()
    }

    /// A raw request: `method`, a path under the base path, and header lines
    /// given as bytes (names exactly as sent).
    pub async fn raw_request(
        &self,
        method: &str,
        path: &[u8],
        headers: &[(&[u8], &[u8])],
    ) -> RawResponse {
        let mut req = Vec::new();
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(self.base().as_bytes());
        req.extend_from_slice(path);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(self.host_port().as_bytes());
        req.extend_from_slice(b"\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.extend_from_slice(k);
            req.extend_from_slice(b": ");
            req.extend_from_slice(v);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"\r\n");
        self.raw(req).await
    }
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
