//! Free functions shared by the test modules: header readers, listing
//! helpers, and the checks and raw HTTP of `tests/support` under the names
//! these modules use. The methods of `TestApp` are all in `helpers`.

use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

use crate::support::raw;

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

pub use crate::support::check::{fault, json_with_status};

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

/// A response read off a raw socket (status 0: closed without one; the
/// body as it came, chunk framing and all).
pub use crate::support::raw::Response as RawResponse;

/// Sends raw bytes of one request to `addr` (`host:port`) and reads the whole
/// answer, blocking; `TestApp::raw` runs it off the runtime.
pub fn exchange(addr: &str, request: &[u8]) -> RawResponse {
    let addr = addr.parse().expect("host:port");
    let (bytes, _cut) = raw::exchange(addr, request, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("raw exchange: {e}"));
    raw::parse_raw(&bytes)
}
