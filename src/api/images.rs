//! `/images`, `/images/detail` and `/images/{id}`: list, register, HEAD,
//! data, update and unregister (docs/api.md §6, §7).

use std::cell::RefCell;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::Bytes;

use super::render::{self, JsonList, Listed};
use super::{parse, Dialect, Req};
use crate::domain::ids::ImageId;
use crate::domain::listing::{ListQuery, ListedImage};
use crate::error::AppError;
use crate::http::kept::{self, Kept, ENTRIES, PAGES};

async fn listing(r: Req, detail: bool) -> Result<HttpResponse, AppError> {
    let query = r.http.query_string();
    let q = ListQuery::parse(query)?;
    let caller = r.caller()?;
    // Read before the catalogue is: what the read sees is kept under it.
    let generation = r.registry().generation();
    let key = (
        caller.id().to_string(),
        r.dialect,
        detail,
        query.to_string(),
    );
    if let Some(body) = kept::seen(&LISTED, &key, caller.id(), generation) {
        return Ok(render::json(body));
    }
    let list = JsonList::new(r.dialect, detail);
    match render::listing(r.registry().listing(caller, q, detail), list).await? {
        Listed::Whole(body) => {
            kept::keep_page(&LISTED, key, caller.id(), generation, &body);
            Ok(render::json(body))
        }
        Listed::Streamed(resp) => Ok(resp),
    }
}

thread_local! {
    /// Recent pages, by caller, dialect, detail and query (`http::kept`).
    static LISTED: RefCell<Kept<(String, Dialect, bool, String), Bytes>> =
        RefCell::new(Kept::new(PAGES));
}

/// `GET /images`.
pub(super) async fn list(r: Req) -> Result<HttpResponse, AppError> {
    listing(r, false).await
}

/// `GET /images/detail`.
pub(super) async fn detail(r: Req) -> Result<HttpResponse, AppError> {
    listing(r, true).await
}

/// `POST /images`: register, or re-register the live image at the same location.
pub(super) async fn register(mut r: Req) -> Result<HttpResponse, AppError> {
    if let Some(declared) = parse::upload_body(r.http.headers())? {
        return upload(&mut r, declared).await;
    }
    let new = parse::new_image(r.http.headers(), &r.state.formats, None)?;
    let image = r.registry().register(r.caller()?, new).await?;
    render::image(&image, r.dialect)
}

/// `POST /images` with the image data as its body (docs/api.md §13).
async fn upload(r: &mut Req, declared: Option<u64>) -> Result<HttpResponse, AppError> {
    let body = r
        .payload
        .take()
        .ok_or_else(|| AppError::internal("the body was read before the upload"))?;
    let describe = |at| parse::new_image(r.http.headers(), &r.state.formats, Some(at));
    let image = r
        .registry()
        .upload(r.caller()?, describe, declared, body)
        .await?;
    render::image(&image, r.dialect)
}

thread_local! {
    /// Recent HEAD answers, by image and dialect (`http::kept`).
    static HEADS: RefCell<Kept<(ImageId, Dialect), HeaderMap>> = RefCell::new(Kept::new(ENTRIES));
}

/// `HEAD /images/{id}`: the image in headers, no body.
pub(super) async fn head(r: Req) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(r.param(0))?;
    let (dialect, caller) = (r.dialect, r.caller()?);
    // Read before the catalogue is: what the read sees is kept under it.
    let generation = r.registry().generation();
    let key = (id, dialect);
    if let Some(headers) = kept::seen(&HEADS, &key, caller.id(), generation) {
        let mut resp = HttpResponse::Ok().finish();
        *resp.headers_mut() = headers;
        return Ok(resp);
    }
    let render = |image: &ListedImage<'_>| render::head(image, dialect);
    let resp = r.registry().head(caller, id, render).await??;
    kept::keep(&HEADS, key, caller.id(), generation, resp.headers());
    Ok(resp)
}

/// `PUT /images/{id}`: change metadata, merge (or with purge, replace) properties.
pub(super) async fn update(r: Req) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(r.param(0))?;
    if parse::has_body(r.http.headers()) {
        return Err(AppError::Conflict(
            "An image's data cannot be replaced: register a new image with the new data".into(),
        ));
    }
    let patch = parse::patch(r.http.headers(), &r.state.formats)?;
    let image = r.registry().update(r.caller()?, id, patch).await?;
    render::image(&image, r.dialect)
}

/// `DELETE /images/{id}`: unregister; the image stays as a tombstone.
pub(super) async fn unregister(r: Req) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(r.param(0))?;
    r.registry().unregister(r.caller()?, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /images/{id}`: the image's data, whole or a range.
pub(super) async fn data(r: Req) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(r.param(0))?;
    let range = parse::range(r.http.headers())?;
    let (image, read) = r.registry().data(r.caller()?, id, range).await?;
    let status = if read.partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = HttpResponseBuilder::new(status);
    resp.insert_header((header::CONTENT_TYPE, "application/octet-stream"));
    resp.insert_header((header::ACCEPT_RANGES, "bytes"));
    if let Some(sum) = r.dialect.checksum(&image) {
        resp.insert_header((header::ETAG, format!("\"{sum}\"")));
    }
    if read.partial {
        let last = read.start + read.len - 1;
        let range = format!("bytes {}-{last}/{}", read.start, read.total);
        resp.insert_header((header::CONTENT_RANGE, range));
    }
    let resp = resp.body(SizedStream::new(read.len, read.body));
    Ok(render::with_image_headers(resp, &image, r.dialect))
}
