//! Images as the image API answers them: the JSON of register and update,
//! listings written row by row, and the image in headers (docs/api.md §6,
//! §7).

use std::collections::BTreeMap;
use std::future::ready;

use actix_web::body::BodyStream;
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use serde::Serialize;

use super::headers::{image_headers, StoredProperties, Viewed};
use super::Dialect;
use crate::domain::image::Image;
use crate::domain::listing::{ListSink, ListedImage};
use crate::domain::time::{format_micros, write_micros};
use crate::error::AppError;
use crate::registry::Listing;

/// The body of register and update (`{"image": ...}`); `write_listed` renders
/// the same shape for listings.
#[derive(Serialize)]
struct Detail<'a> {
    id: String,
    name: &'a str,
    location: &'a str,
    status: &'static str,
    disk_format: &'a str,
    container_format: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<&'a str>,
    created_at: String,
    updated_at: String,
    deleted_at: String,
    is_public: bool,
    protected: bool,
    owner: &'a str,
    min_ram: u64,
    min_disk: u64,
    properties: &'a BTreeMap<String, String>,
}

fn detail(image: &Image, dialect: Dialect) -> Detail<'_> {
    Detail {
        id: image.id.to_string(),
        name: &image.name,
        location: &image.location,
        status: image.status.as_str(),
        disk_format: &image.disk_format,
        container_format: &image.container_format,
        size: image.size,
        checksum: dialect.checksum(image),
        created_at: format_micros(image.created_at),
        updated_at: format_micros(image.updated_at),
        deleted_at: image.deleted_at.map(format_micros).unwrap_or_default(),
        is_public: image.is_public(),
        protected: image.protected,
        owner: &image.owner,
        min_ram: image.min_ram,
        min_disk: image.min_disk,
        properties: &image.properties,
    }
}

const JSON: &str = "application/json; charset=utf-8";

/// A response with the image in its headers before `resp`'s own.
pub(super) fn with_image_headers(
    mut resp: HttpResponse,
    image: &Image,
    dialect: Dialect,
) -> HttpResponse {
    let own = std::mem::replace(resp.headers_mut(), HeaderMap::new());
    let viewed = Viewed::new(image);
    let properties = image
        .properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()));
    *resp.headers_mut() = image_headers(&viewed.row(), properties, dialect, own);
    resp
}

/// `HEAD /images/{id}`: the image in headers, no body, rendered from the
/// catalogue's row as read (its properties from their stored JSON).
pub(super) fn head(image: &ListedImage<'_>, dialect: Dialect) -> Result<HttpResponse, AppError> {
    let properties = StoredProperties::parse(image.properties_json.unwrap_or("{}"))?;
    let mut resp = HttpResponse::Ok().finish();
    let own = std::mem::replace(resp.headers_mut(), HeaderMap::new());
    *resp.headers_mut() = image_headers(image, properties.iter(), dialect, own);
    Ok(resp)
}

/// The answer to register and update: the image in headers and in the body.
pub(super) fn image(image: &Image, dialect: Dialect) -> Result<HttpResponse, AppError> {
    #[derive(Serialize)]
    struct Wrapped<'a> {
        image: Detail<'a>,
    }
    let body = serde_json::to_vec(&Wrapped {
        image: detail(image, dialect),
    })
    .map_err(AppError::internal)?;
    let resp = HttpResponseBuilder::new(StatusCode::OK)
        .content_type(JSON)
        .body(body);
    Ok(with_image_headers(resp, image, dialect))
}

/// A JSON body as it is.
pub(super) fn json(body: impl Into<Bytes>) -> HttpResponse {
    HttpResponse::Ok().content_type(JSON).body(body.into())
}

/// A listing's answer: whole, or sent piece by piece.
pub(super) enum Listed {
    /// It fitted in one piece: the whole body.
    Whole(Bytes),
    /// The answer, its body sent as the catalogue reads it.
    Streamed(HttpResponse),
}

/// A listing as JSON: whole, with its length, when it fits in one piece;
/// else sent piece by piece as the catalogue reads them (chunked), so that
/// no more than a piece of it is held at once: each piece is read and
/// rendered on the worker that sends it, when the connection can take more.
pub(super) async fn listing(mut listing: Listing, mut list: JsonList) -> Result<Listed, AppError> {
    // The first piece before the answer's head, so that a refused marker
    // is still a fault.
    if !listing.next_piece(&mut list).await? {
        return Ok(Listed::Whole(Bytes::from(list.finish())));
    }
    let first = Bytes::from(list.take());
    let rest = stream::unfold(Some((listing, list)), |left| async move {
        let (mut listing, mut list) = left?;
        Some(match listing.next_piece(&mut list).await {
            Ok(true) => (Ok(Bytes::from(list.take())), Some((listing, list))),
            Ok(false) => (Ok(Bytes::from(list.finish())), None),
            Err(e) => {
                // The head is sent: all a client can be told is that the
                // body ends early (the connection is closed).
                log::error!("a listing broke off: {e}");
                (Err(e), None)
            }
        })
    });
    let pieces = stream::once(ready(Ok::<_, AppError>(first))).chain(rest);
    Ok(Listed::Streamed(
        HttpResponse::Ok()
            .content_type(JSON)
            .body(BodyStream::new(pieces)),
    ))
}

/// A listing as JSON, written image by image as the catalogue reads them.
pub(super) struct JsonList {
    out: Vec<u8>,
    first: bool,
    detail: bool,
    dialect: Dialect,
}

impl JsonList {
    /// An empty listing of `/images` (or, with `detail`, `/images/detail`).
    pub(super) fn new(dialect: Dialect, detail: bool) -> JsonList {
        let mut out = Vec::with_capacity(if detail { 64 * 1024 } else { 8 * 1024 });
        out.extend_from_slice(match dialect {
            Dialect::Cyclades => b"[",
            Dialect::Glance => b"{\"images\":[",
        });
        JsonList {
            out,
            first: true,
            detail,
            dialect,
        }
    }

    /// What has been written so far, handed over; the listing goes on
    /// into an empty buffer.
    fn take(&mut self) -> Vec<u8> {
        let capacity = self.out.capacity();
        std::mem::replace(&mut self.out, Vec::with_capacity(capacity))
    }
}

impl ListSink for JsonList {
    type Output = Vec<u8>;

    fn push(&mut self, image: &ListedImage<'_>) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_listed(&mut self.out, image, self.detail, self.dialect);
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(match self.dialect {
            Dialect::Cyclades => b"]",
            Dialect::Glance => b"]}",
        });
        self.out
    }
}

/// Appends a JSON string (quoted and escaped as serde_json escapes it).
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Most strings (ids, names, formats, digests) have nothing to escape:
    // copied as they are, without serde_json's writer per string. serde_json
    // escapes exactly these bytes, so the text is the same either way.
    if !needs_escape(s.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Whether `s` holds a byte JSON escapes (a control character, `"` or
/// `\\`), looked for eight bytes at a time (a byte-by-byte scan cost as
/// much as serde_json's escaping itself).
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether some byte of `x` is below `n` (n <= 128): exact as to "any".
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let zero = |x: u64| below(x, 1);
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let mut b = [0; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        if below(x, 0x20)
            || zero(x ^ (ONES * u64::from(b'"')))
            || zero(x ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn time(out: &mut Vec<u8>, t: i64) {
    out.push(b'"');
    write_micros(out, t);
    out.push(b'"');
}

fn text(out: &mut Vec<u8>, name: &str, value: &str) {
    key(out, name);
    write_json_str(out, value);
}

fn number(out: &mut Vec<u8>, name: &str, value: i64) {
    key(out, name);
    // Without a String per number: three per image in a listing.
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends one listed image: the fields of `/images` or of `/images/detail`,
/// in the same order and shape as `Detail`.
fn write_listed(out: &mut Vec<u8>, r: &ListedImage<'_>, detail: bool, dialect: Dialect) {
    out.extend_from_slice(b"{\"id\":");
    write_json_str(out, r.id);
    text(out, "name", r.name);
    if detail {
        text(out, "location", r.location);
    }
    text(out, "status", r.status);
    text(out, "disk_format", r.disk_format);
    text(out, "container_format", r.container_format);
    number(out, "size", r.size);
    if !detail {
        out.push(b'}');
        return;
    }
    let checksum = match dialect {
        Dialect::Cyclades => Some(r.checksum),
        Dialect::Glance => r.md5,
    };
    if let Some(sum) = checksum {
        text(out, "checksum", sum);
    }
    key(out, "created_at");
    time(out, r.created_at);
    key(out, "updated_at");
    time(out, r.updated_at);
    key(out, "deleted_at");
    match r.deleted_at {
        Some(t) => time(out, t),
        None => out.extend_from_slice(b"\"\""),
    }
    key(out, "is_public");
    out.extend_from_slice(if r.is_public { b"true" } else { b"false" });
    key(out, "protected");
    out.extend_from_slice(if r.protected { b"true" } else { b"false" });
    text(out, "owner", r.owner);
    number(out, "min_ram", r.min_ram);
    number(out, "min_disk", r.min_disk);
    key(out, "properties");
    out.extend_from_slice(r.properties_json.unwrap_or("{}").as_bytes());
    out.push(b'}');
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ImageId;
    use crate::domain::image::Status;

    fn sample() -> Image {
        Image {
            id: ImageId::parse("5583ffe1-5273-4c84-9e32-2fbe476bd7b7").unwrap(),
            name: "Debian \"12\" é".into(),
            location: "pithos://alice/images/a%20b".into(),
            status: Status::Available,
            disk_format: "diskdump".into(),
            container_format: "bare".into(),
            size: 42,
            checksum: "ab".repeat(32),
            md5: Some("cd".repeat(16)),
            created_at: 1_364_566_474_000_000,
            updated_at: 1_364_566_475_000_000,
            deleted_at: None,
            visibility: crate::domain::model::Visibility::Public,
            os_hidden: false,
            tags: Default::default(),
            os_hash: None,
            virtual_size: None,
            examined: None,
            uploaded: false,
            protected: false,
            owner: "alice".into(),
            min_ram: 1,
            min_disk: 2,
            properties: [("os".to_string(), "debian\n".to_string())].into(),
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut samples: Vec<String> = vec![String::new(), "plain".into(), "é ü 日本".into()];
        for special in ['"', '\\', '\n', '\u{1f}', '\u{0}', '\u{7f}', 'é'] {
            for len in 0..20 {
                for at in 0..len {
                    let mut s: String = "a".repeat(len);
                    s.replace_range(at..at + 1, &special.to_string());
                    samples.push(s);
                }
            }
        }
        for s in samples {
            let mut out = Vec::new();
            write_json_str(&mut out, &s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn a_listed_image_is_the_detail_of_register() {
        let mut image = sample();
        let props = serde_json::to_string(&image.properties).unwrap();
        for deleted in [None, Some(1_364_566_476_000_000)] {
            image.deleted_at = deleted;
            for dialect in [Dialect::Cyclades, Dialect::Glance] {
                let expected = serde_json::to_string(&detail(&image, dialect)).unwrap();
                let id = image.id.to_string();
                let row = ListedImage {
                    id: &id,
                    name: &image.name,
                    location: &image.location,
                    status: image.status.as_str(),
                    disk_format: &image.disk_format,
                    container_format: &image.container_format,
                    size: image.size as i64,
                    checksum: &image.checksum,
                    md5: image.md5.as_deref(),
                    visibility: "shared",
                    created_at: image.created_at,
                    updated_at: image.updated_at,
                    deleted_at: image.deleted_at,
                    is_public: image.is_public(),
                    protected: image.protected,
                    owner: &image.owner,
                    min_ram: image.min_ram as i64,
                    min_disk: image.min_disk as i64,
                    properties_json: Some(&props),
                };
                let mut out = Vec::new();
                write_listed(&mut out, &row, true, dialect);
                // The same text: same fields, same order, same escaping.
                assert_eq!(String::from_utf8(out).unwrap(), expected);
            }
        }
    }
}
