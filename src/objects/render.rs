//! The object-store surface's answers: objects in headers, listings as
//! JSON or text, hashmaps.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::objects::hashmap::BLOCK_SIZE;
use crate::domain::objects::listing::Entry;
use crate::registry::objects::{ContainerView, ObjectView};

const JSON: &str = "application/json; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

fn utc(ns: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
    .unwrap_or_default()
}

/// ISO 8601 with microseconds, as Pithos lists times.
pub(super) fn iso(ns: i64) -> String {
    utc(ns).format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// An HTTP date.
pub(super) fn http_date(ns: i64) -> String {
    utc(ns).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A JSON answer with this status.
pub(super) fn json(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponseBuilder::new(status)
        .content_type(JSON)
        .body(serde_json::to_vec(body).unwrap_or_default())
}

/// A text listing, one name a line; 204 when there are none.
pub(super) fn text_lines(names: &[String]) -> HttpResponse {
    if names.is_empty() {
        return HttpResponse::NoContent().finish();
    }
    let mut body = names.join("\n");
    body.push('\n');
    HttpResponse::Ok().content_type(TEXT).body(body)
}

/// A time as Pithos gives a version's: seconds since the epoch, with its
/// microseconds.
fn timestamp(micros: i64) -> String {
    format!(
        "{}.{:06}",
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000)
    )
}

/// Adds the object's headers (docs/api.md §14) to an answer; `X-Object-Public` is its
/// public URL, under `public_base`, while it is published.
pub(super) fn object_headers(resp: &mut HttpResponseBuilder, v: &ObjectView, public_base: &str) {
    let m = &v.meta;
    let ct = HeaderValue::from_bytes(m.content_type.as_bytes())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    resp.insert_header(("content-type", ct));
    resp.insert_header(("last-modified", http_date(v.info.mtime_ns)));
    if let Some(h) = &v.hashes {
        resp.insert_header(("etag", h.md5.as_str()));
        resp.insert_header(("x-object-hash", h.pithos.as_str()));
    }
    resp.insert_header(("x-object-version", m.version.to_string()));
    resp.insert_header(("x-object-version-timestamp", timestamp(m.modified_at)));
    if !m.uuid.is_empty() {
        resp.insert_header(("x-object-uuid", m.uuid.as_str()));
    }
    resp.insert_header(("x-object-modified-by", m.modified_by.as_str()));
    if !m.sharing.is_empty() {
        resp.insert_header(("x-object-sharing", m.sharing.render()));
    }
    if let Some(id) = &m.public_id {
        resp.insert_header(("x-object-public", format!("{public_base}{id}")));
    }
    for (k, val) in &m.meta {
        let name = HeaderName::try_from(format!("x-object-meta-{k}"));
        if let (Ok(name), Ok(val)) = (name, HeaderValue::from_bytes(val.as_bytes())) {
            resp.append_header((name, val));
        }
    }
}

fn object_entry(v: &ObjectView) -> Value {
    let mut e = json!({
        "name": v.name,
        "bytes": v.info.size,
        "hash": v.md5(),
        "x_object_hash": v.hashes.as_ref().map_or("", |h| h.pithos.as_str()),
        "content_type": v.meta.content_type,
        "last_modified": iso(v.info.mtime_ns),
        "x_object_version": v.meta.version,
        "x_object_modified_by": v.meta.modified_by,
    });
    if !v.meta.sharing.is_empty() {
        e["x_object_sharing"] = Value::String(v.meta.sharing.render());
    }
    e
}

/// A container's listing as JSON (`[]` when empty).
pub(super) fn object_list(entries: &[Entry<ObjectView>]) -> HttpResponse {
    let items: Vec<Value> = entries
        .iter()
        .map(|e| match e {
            Entry::Item(v) => object_entry(v),
            Entry::Subdir(s) => json!({ "subdir": s }),
        })
        .collect();
    json(StatusCode::OK, &items)
}

/// An account's listing as JSON.
pub(super) fn container_list(entries: &[Entry<ContainerView>]) -> HttpResponse {
    let items: Vec<Value> = entries
        .iter()
        .map(|e| match e {
            Entry::Item(c) => json!({
                "name": c.name,
                "count": c.count,
                "bytes": c.bytes,
                "last_modified": iso(c.modified_ns),
            }),
            Entry::Subdir(s) => json!({ "subdir": s }),
        })
        .collect();
    json(StatusCode::OK, &items)
}

/// The accounts sharing objects with the caller (`[{"name", "last_modified"}]`).
pub(super) fn sharers(accounts: &[(String, i64)]) -> HttpResponse {
    let items: Vec<Value> = accounts
        .iter()
        .map(|(name, micros)| json!({ "name": name, "last_modified": iso(micros.saturating_mul(1000)) }))
        .collect();
    json(StatusCode::OK, &items)
}

/// The names of a listing, for its text form.
pub(super) fn names<T>(entries: &[Entry<T>], name: impl Fn(&T) -> &str) -> Vec<String> {
    entries
        .iter()
        .map(|e| match e {
            Entry::Item(t) => name(t).to_string(),
            Entry::Subdir(s) => s.clone(),
        })
        .collect()
}

/// An object's hashmap.
pub(super) fn hashmap(v: &ObjectView, hashes: &[String], public_base: &str) -> HttpResponse {
    let mut resp = HttpResponseBuilder::new(StatusCode::OK);
    object_headers(&mut resp, v, public_base);
    resp.insert_header(("content-type", JSON));
    resp.body(
        json!({
            "block_size": BLOCK_SIZE,
            "block_hash": "sha256",
            "bytes": v.info.size,
            "hashes": hashes,
        })
        .to_string(),
    )
}
