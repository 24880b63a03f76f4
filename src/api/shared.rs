//! `/shared-images/{member}`: images shared between the caller and a user (§8).

use actix_web::HttpResponse;
use serde::Serialize;

use super::members::path_member;
use super::Call;
use crate::db::queries;

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
pub async fn list(call: &Call<'_>, member: &str) -> Result<HttpResponse, crate::error::AppError> {
    let member = path_member(member)?;
    let caller = call.user.id.clone();
    let ids = call
        .state
        .db
        .read(move |conn| queries::shared_images(conn, &caller, &member))
        .await?;
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
