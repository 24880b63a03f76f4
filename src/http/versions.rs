//! The versions document (docs/api.md §1, §17.1): no token needed, the same
//! at every prefix that serves it (`<base>/`, `/versions`, `/v1.0/`, `/v1/`,
//! `/v2`, `/v2/`), so both image API surfaces take it from here.

use actix_web::{HttpRequest, HttpResponse};

/// The v2 minors advertised, newest first: 2.7 brought `os_hidden` and
/// `os_hash_*`, the newest served here; later minors promise APIs plankton
/// lacks (docs/api.md §17.1).
const V2_MINORS: [&str; 8] = [
    "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0",
];

/// `{"versions": [...]}` with self links under the service's public root
/// (`public_url`, else the request's scheme, host and base path): every v2.x links `/v2/`, v1.0 `/v1.0/`.
pub(crate) fn document(http: &HttpRequest) -> HttpResponse {
    let root = super::links::public_root(http);
    let entry = |id: &str, status: &str, path: &str| {
        serde_json::json!({
            "id": id,
            "status": status,
            "links": [{"rel": "self", "href": format!("{root}{path}")}],
        })
    };
    let mut versions: Vec<serde_json::Value> = V2_MINORS
        .iter()
        .enumerate()
        .map(|(i, id)| entry(id, if i == 0 { "CURRENT" } else { "SUPPORTED" }, "/v2/"))
        .collect();
    versions.push(entry("v1.0", "SUPPORTED", "/v1.0/"));
    HttpResponse::Ok().json(serde_json::json!({ "versions": versions }))
}
