//! `/shared-images/{member}`: images shared between the caller and a user
//! (docs/api.md §8).

use actix_web::HttpResponse;
use serde::Serialize;

use super::parse::path_member;
use super::Req;
use crate::error::AppError;

#[derive(Serialize)]
struct SharedImage {
    image_id: String,
    can_share: bool,
}

#[derive(Serialize)]
struct SharedList {
    shared_images: Vec<SharedImage>,
}

/// `GET /shared-images/{member}`.
pub(super) async fn list(r: Req) -> Result<HttpResponse, AppError> {
    let member = path_member(r.param(0))?;
    let ids = r.registry().shared_images(r.caller()?, member).await?;
    Ok(HttpResponse::Ok().json(SharedList {
        shared_images: ids
            .into_iter()
            .map(|id| SharedImage {
                image_id: id.to_string(),
                can_share: false,
            })
            .collect(),
    }))
}
