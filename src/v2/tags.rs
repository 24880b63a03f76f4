//! v2's tags (docs/api.md §17.7): the owner adds and removes one at a time.

use actix_web::HttpResponse;

use super::images::image_id;
use super::Req;
use crate::domain::model::check_tag;
use crate::domain::percent;
use crate::error::AppError;

/// The tag of the path, percent-decoded once and 1-255 characters (400).
fn tag(r: &Req) -> Result<String, AppError> {
    let tag =
        percent::decode(r.param(1)).map_err(|e| AppError::invalid(format!("Invalid tag: {e}")))?;
    check_tag(&tag)?;
    Ok(tag)
}

/// `PUT /v2/images/{id}/tags/{tag}`: adds it (already there: no change).
pub(super) async fn add(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(r.param(0))?;
    let tag = tag(&r)?;
    r.registry().v2_add_tag(r.caller()?, id, tag).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /v2/images/{id}/tags/{tag}`: removes it; 404 if not there.
pub(super) async fn remove(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(r.param(0))?;
    let tag = tag(&r)?;
    r.registry().v2_remove_tag(r.caller()?, id, tag).await?;
    Ok(HttpResponse::NoContent().finish())
}
