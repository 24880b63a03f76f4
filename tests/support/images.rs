//! The image API as the page tests use it beside their pages: an upload,
//! the listing item of one image, and the percent-encoding of header values.

use serde_json::Value;

/// Percent-encodes a header value (the API decodes every value once).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~ ".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Uploads an image through the API at `base` as `user` (token, id), with
/// extra headers; asserts 200 and returns its id.
pub async fn upload(
    client: &reqwest::Client,
    base: &str,
    user: (&str, &str),
    name: &str,
    data: &[u8],
    headers: &[(&str, &str)],
) -> String {
    let mut req = client
        .post(format!("{base}/images"))
        .header("x-auth-token", user.0)
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-name", encode(name))
        .body(data.to_vec());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["image"]["id"].as_str().unwrap().to_string()
}

/// A GET of the API at `base` as `user`, its body as JSON.
pub async fn get_json(
    client: &reqwest::Client,
    base: &str,
    user: (&str, &str),
    path: &str,
) -> Value {
    client
        .get(format!("{base}{path}"))
        .header("x-auth-token", user.0)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The `/images/detail` item of `id` as `user` sees it, if listed.
pub async fn detail(
    client: &reqwest::Client,
    base: &str,
    user: (&str, &str),
    id: &str,
) -> Option<Value> {
    let list = get_json(client, base, user, "/images/detail").await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
}
