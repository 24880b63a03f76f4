//! The v2 routes that need no image: the versions document, the import
//! methods (none) and the tenant look-ups openstackclient makes
//! (docs/api.md §17.1).

use actix_web::HttpResponse;

use super::Req;
use crate::error::AppError;

/// The 403 of `/v2/tenants`: openstackclient takes a 403 as "use the
/// project as given", which is what a user id is here.
pub(super) const NO_PROJECTS: &str =
    "plankton has no projects: a project is a user id; use it as given";

/// `GET <base>/v2` and `/v2/`: the versions document of every prefix.
pub(super) async fn versions(r: Req) -> Result<HttpResponse, AppError> {
    Ok(crate::http::versions::document(&r.http))
}

/// `GET /v2/info/import`: no import method is enabled.
pub(super) async fn import_info(_: Req) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": [],
        }
    })))
}

/// `GET /v2/tenants` and `/v2/tenants/{p}`: always 403 once the token is good.
pub(super) async fn tenants(_: Req) -> Result<HttpResponse, AppError> {
    Err(AppError::Forbidden(NO_PROJECTS.into()))
}
