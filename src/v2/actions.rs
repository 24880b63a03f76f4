//! v2's deactivate and reactivate (docs/api.md §17.8): the owner switches
//! an image between `active` and `deactivated`; the body is ignored.

use actix_web::HttpResponse;

use super::images::image_id;
use super::Req;
use crate::error::AppError;

/// `POST /v2/images/{id}/actions/deactivate`.
pub(super) async fn deactivate(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(r.param(0))?;
    r.registry().v2_set_active(r.caller()?, id, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v2/images/{id}/actions/reactivate`.
pub(super) async fn reactivate(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(r.param(0))?;
    r.registry().v2_set_active(r.caller()?, id, true).await?;
    Ok(HttpResponse::NoContent().finish())
}
