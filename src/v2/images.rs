//! `/v2/images` and `/v2/images/{id}` (docs/api.md §17.3, §17.5, §17.6,
//! §17.9): create, list, show, update, delete.

use std::cell::RefCell;

use actix_web::HttpResponse;
use bytes::Bytes;

use super::{render, Req};
use crate::domain::ids::ImageId;
use crate::domain::image::Image;
use crate::domain::patch::{parse_create, parse_patch, PatchMedia, ACCEPT_PATCH};
use crate::domain::v2query::parse_v2_query;
use crate::error::AppError;
use crate::http::fault;
use crate::http::kept::{self, Kept, ENTRIES, PAGES};

/// An `{image_id}` in a v2 path: one that is not a UUID names no image
/// (404, not 400: clients try a name as an id first, §17.1).
pub(super) fn image_id(raw: &str) -> Result<ImageId, AppError> {
    ImageId::parse(raw).map_err(|_| AppError::NotFound(format!("No image found with ID {raw}")))
}

/// `POST /v2/images`: a queued image, 201.
pub(super) async fn create(mut r: Req) -> Result<HttpResponse, AppError> {
    let body = r.body().await?;
    let caller = r.caller()?;
    let new = parse_create(&body, &r.state.formats, caller.id())?;
    let image: Image = r.registry().create_v2(caller, new).await?;
    Ok(render::created(&r.http, &image))
}

/// `GET /v2/images/{id}`.
pub(super) async fn show(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(r.param(0))?;
    let caller = r.caller()?;
    // Read before the catalogue is: what the read sees is kept under it.
    let generation = r.registry().generation();
    if let Some(body) = kept::seen(&SHOWN, &id, caller.id(), generation) {
        return Ok(render::ok_json(body));
    }
    let body = render::shown_bytes(&r.registry().get(caller, id).await?);
    kept::keep(&SHOWN, id, caller.id(), generation, &body);
    Ok(render::ok_json(body))
}

thread_local! {
    /// Recent v2 shows, by image (`http::kept`).
    static SHOWN: RefCell<Kept<ImageId, Bytes>> = RefCell::new(Kept::new(ENTRIES));
}

/// `GET /v2/images`: one page, with `first`, `next` (only when images
/// follow) and `schema`.
pub(super) async fn list(r: Req) -> Result<HttpResponse, AppError> {
    let query = r.http.query_string();
    let q = parse_v2_query(query)?;
    let caller = r.caller()?;
    // Read before the catalogue is: what the read sees is kept under it.
    let generation = r.registry().generation();
    let key = (caller.id().to_string(), query.to_string());
    if let Some(body) = kept::seen(&LISTED, &key, caller.id(), generation) {
        return Ok(render::ok_json(body));
    }
    let sink = render::PageBody::new();
    let (page, more) = r.registry().list_v2(caller, q.listing(), sink).await?;
    let body = render::page_bytes(&q, page, more);
    kept::keep_page(&LISTED, key, caller.id(), generation, &body);
    Ok(render::ok_json(body))
}

thread_local! {
    /// Recent pages, by caller and query (`http::kept`).
    static LISTED: RefCell<Kept<(String, String), Bytes>> = RefCell::new(Kept::new(PAGES));
}

/// `PATCH /v2/images/{id}`: 200 with the whole image (§17.5); a media type
/// that is no patch type is 415 with `Accept-Patch`.
pub(super) async fn update(mut r: Req) -> Result<HttpResponse, AppError> {
    let content_type = r
        .http
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let Some(media) = PatchMedia::of(content_type) else {
        let message = format!(
            "Unsupported Content-Type {}: a PATCH takes {ACCEPT_PATCH}",
            content_type.unwrap_or("(none)")
        );
        return Ok(fault::glance_media_type(&message, ACCEPT_PATCH));
    };
    let id = image_id(r.param(0))?;
    let body = r.body().await?;
    let ops = parse_patch(&body, media, &r.state.formats)?;
    let changes = ops.into_iter().map(|op| op.update(media)).collect();
    let image = r
        .registry()
        .patch_v2(r.caller()?, id, changes, &r.state.formats)
        .await?;
    Ok(render::shown(&image))
}

/// `DELETE /v2/images/{id}`: 204.
pub(super) async fn delete(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(r.param(0))?;
    r.registry().delete_v2(r.caller()?, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
