//! `/v2/images/{id}/file` (docs/api.md §17.4): upload and download.

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::images::image_id;
use super::{render, Req};
use crate::domain::image::parse_count;
use crate::domain::range::ByteRange;
use crate::error::AppError;

/// The one media type an upload takes.
const OCTET_STREAM: &str = "application/octet-stream";

/// A header's value as text, if present and text.
fn text<'a>(r: &'a Req, name: &str) -> Option<&'a str> {
    r.http.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The size an upload declares: `X-OpenStack-Image-Size` (a non-negative
/// integer that agrees with `Content-Length`) or `Content-Length`.
fn declared(r: &Req) -> Result<Option<u64>, AppError> {
    let length = text(r, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let Some(raw) = r.http.headers().get("x-openstack-image-size") else {
        return Ok(length);
    };
    let size = parse_count(
        "X-OpenStack-Image-Size",
        raw.to_str().unwrap_or("(not text)").trim(),
    )?;
    match length {
        Some(n) if n != size => Err(AppError::invalid(format!(
            "Invalid X-OpenStack-Image-Size {size}: Content-Length says {n}"
        ))),
        _ => Ok(Some(size)),
    }
}

/// `PUT /v2/images/{id}/file`: 204 once the data is stored.
pub(super) async fn upload(mut r: Req) -> Result<HttpResponse, AppError> {
    let essence = text(&r, "content-type")
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    if essence.as_deref() != Some(OCTET_STREAM) {
        return Ok(render::unsupported(&format!(
            "Unsupported Content-Type: an upload's body is {OCTET_STREAM}"
        )));
    }
    let id = image_id(r.param(0))?;
    let size = declared(&r)?;
    let body = r
        .payload
        .take()
        .ok_or_else(|| AppError::internal("the body was read before the upload"))?;
    r.registry().upload_v2(r.caller()?, id, size, body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v2/images/{id}/file`: the data, whole or a range; 204 without data.
pub(super) async fn download(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(r.param(0))?;
    let range = match r.http.headers().get(header::RANGE) {
        None => None,
        Some(v) => ByteRange::parse(
            v.to_str()
                .map_err(|_| AppError::invalid("Invalid Range header: it is not ASCII"))?,
        )?,
    };
    let Some((image, read)) = r.registry().download_v2(r.caller()?, id, range).await? else {
        return Ok(HttpResponse::NoContent().finish());
    };
    let status = if read.partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = HttpResponseBuilder::new(status);
    resp.insert_header((header::CONTENT_TYPE, OCTET_STREAM));
    resp.insert_header((header::ACCEPT_RANGES, "bytes"));
    if let Some(md5) = &image.md5 {
        resp.insert_header(("content-md5", md5.as_str()));
    }
    if read.partial {
        let last = read.start + read.len - 1;
        let range = format!("bytes {}-{last}/{}", read.start, read.total);
        resp.insert_header((header::CONTENT_RANGE, range));
    }
    Ok(resp.body(SizedStream::new(read.len, read.body)))
}
