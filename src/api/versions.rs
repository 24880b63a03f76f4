//! The versions document: no token needed.

use actix_web::{HttpRequest, HttpResponse};

/// `{"versions": [...]}` with a self link under the request's own host.
pub fn versions(req: &HttpRequest, base_path: &str) -> HttpResponse {
    let info = req.connection_info();
    let href = format!("{}://{}{}/v1.0/", info.scheme(), info.host(), base_path);
    HttpResponse::Ok().json(serde_json::json!({
        "versions": [{
            "id": "v1.0",
            "status": "CURRENT",
            "links": [{"rel": "self", "href": href}],
        }]
    }))
}
