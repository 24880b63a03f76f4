//! `/<account>/<container>/<object>`: read (data or hashmap), write (data
//! or hashmap), metadata update, delete (docs/api.md §14).

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::{parse, render, Req};
use crate::domain::location::Location;
use crate::domain::objects::Sharing;
use crate::error::AppError;
use crate::registry::objects::{is_directory_type, Served};
use crate::registry::writes::{PutObject, Written, MAX_HASHMAP_BODY};

fn location(r: &Req) -> Result<Location, AppError> {
    parse::object(r.part(0), r.part(1), r.part(2))
}

/// `GET` (and `HEAD`): the data, a range of it, or with `?hashmap` the hashmap.
pub(super) async fn get(r: Req) -> Result<HttpResponse, AppError> {
    let loc = location(&r)?;
    if r.query.flag("hashmap") {
        let (view, hashes) = r.registry().object_hashmap(r.caller()?, &loc).await?;
        return Ok(render::hashmap(&view, &hashes, &r.public_base()));
    }
    let range = parse::range(r.http.headers())?;
    let pre = parse::preconditions(r.http.headers())?;
    let served = r
        .registry()
        .read_object(r.caller()?, &loc, range, &pre)
        .await?;
    Ok(serve(served, &r.public_base()))
}

/// `GET` (and `HEAD`) of a public URL, `<base>/object-store/public/<id>`:
/// the object published there (a range of it), to anyone, without a token.
pub(super) async fn public(r: Req) -> Result<HttpResponse, AppError> {
    let range = parse::range(r.http.headers())?;
    let pre = parse::preconditions(r.http.headers())?;
    let served = r.registry().read_public(r.part(0), range, &pre).await?;
    let served = match served {
        // Who else may read it is the owner's business, not the public's.
        Served::NotModified(mut v) => {
            v.meta.sharing = Sharing::default();
            Served::NotModified(v)
        }
        Served::Data(mut v, read) => {
            v.meta.sharing = Sharing::default();
            Served::Data(v, read)
        }
    };
    Ok(serve(served, &r.public_base()))
}

/// The answer of a read: 304, or the data (206 for a range).
fn serve(served: Served, public_base: &str) -> HttpResponse {
    match served {
        Served::NotModified(view) => {
            let mut resp = HttpResponseBuilder::new(StatusCode::NOT_MODIFIED);
            render::object_headers(&mut resp, &view, public_base);
            resp.finish()
        }
        Served::Data(view, read) => {
            let status = if read.partial {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };
            let mut resp = HttpResponseBuilder::new(status);
            render::object_headers(&mut resp, &view, public_base);
            resp.insert_header(("accept-ranges", "bytes"));
            if read.partial {
                let last = read.start + read.len - 1;
                resp.insert_header((
                    "content-range",
                    format!("bytes {}-{last}/{}", read.start, read.total),
                ));
            }
            resp.body(SizedStream::new(read.len, read.body))
        }
    }
}

/// `PUT`: the body is the object's data, or with `?hashmap` its hashmap.
pub(super) async fn put(mut r: Req) -> Result<HttpResponse, AppError> {
    let loc = location(&r)?;
    let headers = r.http.headers();
    let put = PutObject {
        content_type: parse::content_type(headers)?,
        change: parse::meta_change(headers, false)?,
        etag: parse::etag(headers)?,
        pre: parse::preconditions(headers)?,
        length: parse::content_length(&r.http)?,
        typed: headers.contains_key("content-type"),
    };
    let tree = r.query.get("delimiter").is_some_and(|d| !d.is_empty());
    if let Some(from) = parse::copy_from(headers, r.caller()?.id(), tree)? {
        let written = r
            .registry()
            .copy_object(r.caller()?, &loc, put, &from)
            .await?;
        return Ok(created(&written));
    }
    if is_directory_type(&put.content_type)
        && put.length.unwrap_or(0) == 0
        && !r.query.flag("hashmap")
    {
        let written = r.registry().put_directory(r.caller()?, &loc, put).await?;
        return Ok(created(&written));
    }
    let body = parse::body(r.payload.take());
    let written = if r.query.flag("hashmap") {
        let bytes = parse::read_all(body, MAX_HASHMAP_BODY).await?;
        let map = crate::domain::objects::hashmap::Hashmap::parse(&bytes)?;
        match r
            .registry()
            .put_hashmap(r.caller()?, &loc, put, map)
            .await?
        {
            Ok(w) => w,
            Err(missing) => return Ok(render::json(StatusCode::CONFLICT, &missing)),
        }
    } else {
        r.registry()
            .put_object(r.caller()?, &loc, put, body)
            .await?
    };
    Ok(created(&written))
}

fn created(w: &Written) -> HttpResponse {
    let mut ok = HttpResponse::Created();
    if let Some(md5) = &w.md5 {
        ok.insert_header(("etag", md5.as_str()));
    }
    ok.insert_header(("x-object-version", w.version.to_string()))
        .finish()
}

/// `POST`: sharing, publicity and `X-Object-Meta-*` (merged with `?update`).
pub(super) async fn post(r: Req) -> Result<HttpResponse, AppError> {
    let loc = location(&r)?;
    let change = parse::meta_change(r.http.headers(), r.query.flag("update"))?;
    r.registry()
        .update_object(r.caller()?, &loc, change)
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `DELETE`: 204, or 404 when there is no such object.
pub(super) async fn delete(r: Req) -> Result<HttpResponse, AppError> {
    let loc = location(&r)?;
    if r.query.get("delimiter").is_some_and(|d| !d.is_empty()) {
        r.registry().delete_tree(r.caller()?, &loc).await?;
    } else {
        r.registry().delete_object(r.caller()?, &loc).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
