//! The versions document (docs/api.md §1): no token needed.

use actix_web::HttpResponse;

use super::Req;
use crate::error::AppError;

/// `{"versions": [...]}` with a self link under the request's own host.
pub(super) async fn get(r: Req) -> Result<HttpResponse, AppError> {
    let info = r.http.connection_info();
    let href = format!(
        "{}://{}{}/v1.0/",
        info.scheme(),
        info.host(),
        r.state.base_path
    );
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "versions": [{
            "id": "v1.0",
            "status": "CURRENT",
            "links": [{"rel": "self", "href": href}],
        }]
    })))
}
