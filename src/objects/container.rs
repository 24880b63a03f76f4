//! `/<account>/<container>`: HEAD, list, create, block upload or
//! metadata update, delete (docs/api.md §14).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::{parse, render, Req};
use crate::domain::objects::hashmap::BLOCK_SIZE;
use crate::domain::objects::listing::{Entry, NameQuery};
use crate::error::AppError;
use crate::registry::containers::{blocks_too_large, MAX_BLOCK_UPLOAD};
use crate::registry::objects::ObjectView;

fn names(r: &Req) -> Result<(String, String), AppError> {
    parse::container(r.part(0), r.part(1))
}

/// `HEAD /<account>/<container>`: exactly 204, with its counts and block scheme.
pub(super) async fn head(r: Req) -> Result<HttpResponse, AppError> {
    let (account, container) = names(&r)?;
    let objects = r
        .registry()
        .container_objects(r.caller()?, &account, &container)
        .await?;
    let bytes: u64 = objects.iter().map(|o| o.info.size).sum();
    Ok(HttpResponse::NoContent()
        .insert_header(("x-container-object-count", objects.len().to_string()))
        .insert_header(("x-container-bytes-used", bytes.to_string()))
        .insert_header(("x-container-block-size", BLOCK_SIZE.to_string()))
        .insert_header(("x-container-block-hash", "sha256"))
        .finish())
}

/// `GET /<account>/<container>`: its objects, as JSON (`[]` when none) or
/// one name a line (204 when none).
pub(super) async fn get(r: Req) -> Result<HttpResponse, AppError> {
    let (account, container) = names(&r)?;
    let q = NameQuery::parse(&r.query)?;
    let mut objects = r
        .registry()
        .container_objects(r.caller()?, &account, &container)
        .await?;
    // `shared`: only objects with a sharing list; `public`: only published ones.
    if r.query.get("shared").is_some() {
        objects.retain(|o| !o.meta.sharing.is_empty());
    }
    if r.query.get("public").is_some() {
        objects.retain(|o| o.meta.public_id.is_some());
    }
    let mut entries = q.apply(objects.into_iter().map(|o| (o.name.clone(), o)));
    if !r.query.json() {
        return Ok(render::text_lines(&render::names(&entries, |o| {
            o.name.as_str()
        })));
    }
    let listed: Vec<ObjectView> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Item(o) => Some(o.clone()),
            Entry::Subdir(_) => None,
        })
        .collect();
    let mut hashed = r
        .registry()
        .with_hashes(&account, &container, listed)
        .await?
        .into_iter();
    for e in &mut entries {
        if let Entry::Item(o) = e {
            *o = hashed.next().unwrap_or_else(|| o.clone());
        }
    }
    Ok(render::object_list(&entries))
}

/// `PUT /<account>/<container>`: 201 made, 202 already there.
pub(super) async fn put(r: Req) -> Result<HttpResponse, AppError> {
    let (account, container) = names(&r)?;
    let made = r
        .registry()
        .create_container(r.caller()?, &account, &container)
        .await?;
    Ok(if made {
        HttpResponse::Created().finish()
    } else {
        HttpResponse::Accepted().finish()
    })
}

/// `POST /<account>/<container>`: with `Content-Type: application/octet-stream`
/// the body's blocks are stored (202 and their hashes); otherwise a
/// metadata update, which containers here keep nothing of (202).
pub(super) async fn post(mut r: Req) -> Result<HttpResponse, AppError> {
    let (account, container) = names(&r)?;
    if !parse::is_blocks(r.http.headers()) {
        r.registry()
            .own_container(r.caller()?, &account, &container)
            .await?;
        return Ok(HttpResponse::Accepted().finish());
    }
    let length = parse::content_length(&r.http)?;
    if length.is_some_and(|n| n > MAX_BLOCK_UPLOAD) {
        return Err(blocks_too_large());
    }
    let body = parse::body(r.payload.take());
    let hashes = r
        .registry()
        .store_blocks(r.caller()?, &account, &container, length, body)
        .await?;
    Ok(render::json(StatusCode::ACCEPTED, &hashes))
}

/// `DELETE /<account>/<container>`: 204 when empty, 409 otherwise;
/// `?delimiter=` deletes its objects and keeps it (as Pithos). `?until=`
/// is a plain delete: kamaki 0.16's `container delete` (with `-r` after
/// the `delimiter` one) removes the container with it (`purge_container`).
pub(super) async fn delete(r: Req) -> Result<HttpResponse, AppError> {
    let (account, container) = names(&r)?;
    let registry = r.registry();
    let until = r.query.get("until").is_some();
    if !until && r.query.get("delimiter").is_some_and(|d| !d.is_empty()) {
        registry
            .empty_container(r.caller()?, &account, &container)
            .await?;
    } else {
        registry
            .delete_container(r.caller()?, &account, &container)
            .await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
