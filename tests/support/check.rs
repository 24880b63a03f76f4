//! The checks of an answer every suite makes the same way: a JSON body
//! with its status, and a fault (status, the one fault-name key, its code,
//! a message naming what went wrong).

use reqwest::Response;
use serde_json::Value;

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
    fault_in(&text, status, name, needles)
}

/// The same checks on a fault body already read (status `status`).
pub fn fault_in(text: &str, status: u16, name: &str, needles: &[&str]) -> String {
    let body: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("fault is not JSON ({e}): {text}"));
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
