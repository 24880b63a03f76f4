//! The versions document under the image API's prefixes (docs/api.md §1):
//! the one `http::versions` builds for every surface that serves it.

use actix_web::HttpResponse;

use super::Req;
use crate::error::AppError;
use crate::http::versions::document;

/// The versions document under the v1 prefixes.
pub(super) async fn get(r: Req) -> Result<HttpResponse, AppError> {
    Ok(document(&r.http))
}
