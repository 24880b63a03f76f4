//! The image in v2 JSON (docs/api.md §17.2): every field always present,
//! nulls included, custom properties at the top level, links as `/v2/`
//! paths; and the answers that carry it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::domain::image::{Image, Status};
use crate::domain::time::format_micros;
use crate::domain::v2query::V2Query;

/// The fields of §17.2's table (and the ones never shown): a custom
/// property of one of these names, stored through v1, is not shown.
const FIELDS: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "owner",
    "disk_format",
    "container_format",
    "min_ram",
    "min_disk",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
    "location",
    "locations",
    "direct_url",
    "stores",
    "deleted",
    "deleted_at",
];

/// A stored time as v2 shows it: `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn time(t: i64) -> String {
    format!("{}Z", format_micros(t).replacen(' ', "T", 1))
}

/// `s`, or null for "" (a queued image's unset format).
fn text_or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::from(s)
    }
}

/// The v2 status word: v1's `available` is `active`, `error` `killed`.
fn status(s: Status) -> &'static str {
    s.as_db()
}

/// The image as v2 shows it.
pub(super) fn image(i: &Image) -> Value {
    let data = i.has_data();
    let hash = i.os_hash.as_ref().filter(|_| data);
    let mut out = Map::new();
    for (k, v) in &i.properties {
        if !FIELDS.contains(&k.as_str()) {
            out.insert(k.clone(), Value::from(v.as_str()));
        }
    }
    let id = i.id.to_string();
    let fields = json!({
        "id": id,
        "name": i.name,
        "status": status(i.status),
        "visibility": i.visibility.as_str(),
        "protected": i.protected,
        "os_hidden": i.os_hidden,
        "owner": i.owner,
        "disk_format": text_or_null(&i.disk_format),
        "container_format": text_or_null(&i.container_format),
        "min_ram": i.min_ram,
        "min_disk": i.min_disk,
        "size": data.then_some(i.size),
        "virtual_size": i.virtual_size,
        "checksum": i.md5.as_ref().filter(|_| data),
        "os_hash_algo": hash.map(|h| h.algo.as_str()),
        "os_hash_value": hash.map(|h| h.value.as_str()),
        "created_at": time(i.created_at),
        "updated_at": time(i.updated_at),
        "tags": i.tags,
        "self": format!("/v2/images/{id}"),
        "file": format!("/v2/images/{id}/file"),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(f) = fields {
        out.extend(f);
    }
    Value::Object(out)
}

/// 200 with the image.
pub(super) fn shown(i: &Image) -> HttpResponse {
    HttpResponse::Ok().json(image(i))
}

/// 201 with the image and its absolute URL in `Location`.
pub(super) fn created(http: &HttpRequest, _base_path: &str, i: &Image) -> HttpResponse {
    let url = format!(
        "{}/v2/images/{}",
        crate::http::links::public_root(http),
        i.id
    );
    HttpResponse::build(StatusCode::CREATED)
        .insert_header(("location", url))
        .json(image(i))
}

/// 200 with a list page (§17.9).
pub(super) fn page(q: &V2Query, images: &[Image], more: bool) -> HttpResponse {
    let mut out = Map::new();
    out.insert("images".into(), images.iter().map(image).collect());
    out.insert("first".into(), q.first_link().into());
    if let (true, Some(last)) = (more, images.last()) {
        out.insert("next".into(), q.next_link(&last.id).into());
    }
    out.insert("schema".into(), "/v2/schemas/images".into());
    HttpResponse::Ok().json(Value::Object(out))
}

/// Glance's 415 for an upload whose body is not `application/octet-stream`
/// (`AppError` has no 415).
pub(super) fn unsupported(message: &str) -> HttpResponse {
    let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    let title = status.canonical_reason().unwrap_or_default();
    HttpResponse::build(status).json(json!({
        "message": message,
        "code": format!("{} {title}", status.as_u16()),
        "title": title,
    }))
}
