//! The image in v2 JSON (docs/api.md §17.2): every field always present,
//! nulls included, custom properties at the top level, links as `/v2/`
//! paths; and the answers that carry it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use serde_json::json;

use crate::domain::image::Image;
use crate::domain::model::{V2ListedImage, V2Sink};
use crate::domain::time::{format_micros, write_micros};
use crate::domain::v2query::V2Query;

/// Whether `k` is a field of §17.2's table (or one never shown): a
/// custom property of such a name, stored through v1, is not shown. A
/// `match`: every property of every image of a page is asked.
fn is_field(k: &str) -> bool {
    matches!(
        k,
        "id" | "name"
            | "status"
            | "visibility"
            | "protected"
            | "os_hidden"
            | "owner"
            | "disk_format"
            | "container_format"
            | "min_ram"
            | "min_disk"
            | "size"
            | "virtual_size"
            | "checksum"
            | "os_hash_algo"
            | "os_hash_value"
            | "created_at"
            | "updated_at"
            | "tags"
            | "self"
            | "file"
            | "schema"
            | "location"
            | "locations"
            | "direct_url"
            | "stores"
            | "deleted"
            | "deleted_at"
    )
}

/// A stored time as v2 shows it: `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn time(t: i64) -> String {
    format!("{}Z", format_micros(t).replacen(' ', "T", 1))
}

/// v2's JSON media type.
const JSON: &str = "application/json";

/// Appends a JSON string, quoted and escaped.
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        raw(out, s);
    } else {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Appends a string that has nothing to escape (a UUID, a hex digest, one
/// of plankton's own words), quoted.
fn raw(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Appends `s` as a string, or null for "" (a queued image's unset format).
fn text_or_null(out: &mut Vec<u8>, s: &str) {
    if s.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        string(out, s);
    }
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Appends a number, or null.
fn number(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends a stored time as a v2 string, `"YYYY-MM-DDTHH:MM:SSZ"`.
fn write_time(out: &mut Vec<u8>, t: i64) {
    out.push(b'"');
    let start = out.len();
    write_micros(out, t);
    if let Some(space) = out[start..].iter().position(|&b| b == b' ') {
        out[start + space] = b'T';
    }
    out.extend_from_slice(b"Z\"");
}

/// `s`, unless it is empty (a queued image's unset format).
fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The fields of §17.2's table of one image, borrowed from wherever it
/// comes from (an `Image`, or a list page's row).
struct Fields<'a> {
    id: &'a str,
    name: &'a str,
    status: &'a str,
    visibility: &'a str,
    owner: &'a str,
    protected: bool,
    os_hidden: bool,
    disk_format: Option<&'a str>,
    container_format: Option<&'a str>,
    md5: Option<&'a str>,
    os_hash: Option<(&'a str, &'a str)>,
    min_ram: u64,
    min_disk: u64,
    size: Option<u64>,
    virtual_size: Option<u64>,
    created_at: i64,
    updated_at: i64,
}

/// Appends `{` and every field but the tags and the properties, the
/// last key being `"tags":`. Keys are written as literals, and values
/// plankton wrote itself (the id, status and visibility words, hex
/// digests) without an escaping pass.
fn write_fields(out: &mut Vec<u8>, f: &Fields<'_>) {
    out.extend_from_slice(b"{\"id\":");
    raw(out, f.id);
    out.extend_from_slice(b",\"name\":");
    string(out, f.name);
    out.extend_from_slice(b",\"status\":");
    raw(out, f.status);
    out.extend_from_slice(b",\"visibility\":");
    raw(out, f.visibility);
    out.extend_from_slice(b",\"owner\":");
    string(out, f.owner);
    out.extend_from_slice(b",\"protected\":");
    boolean(out, f.protected);
    out.extend_from_slice(b",\"os_hidden\":");
    boolean(out, f.os_hidden);
    out.extend_from_slice(b",\"disk_format\":");
    text_or_null(out, f.disk_format.unwrap_or(""));
    out.extend_from_slice(b",\"container_format\":");
    text_or_null(out, f.container_format.unwrap_or(""));
    out.extend_from_slice(b",\"checksum\":");
    raw_or_null(out, f.md5);
    out.extend_from_slice(b",\"os_hash_algo\":");
    raw_or_null(out, f.os_hash.map(|h| h.0));
    out.extend_from_slice(b",\"os_hash_value\":");
    raw_or_null(out, f.os_hash.map(|h| h.1));
    out.extend_from_slice(b",\"min_ram\":");
    number(out, Some(f.min_ram));
    out.extend_from_slice(b",\"min_disk\":");
    number(out, Some(f.min_disk));
    out.extend_from_slice(b",\"size\":");
    number(out, f.size);
    out.extend_from_slice(b",\"virtual_size\":");
    number(out, f.virtual_size);
    out.extend_from_slice(b",\"created_at\":");
    write_time(out, f.created_at);
    out.extend_from_slice(b",\"updated_at\":");
    write_time(out, f.updated_at);
    out.extend_from_slice(b",\"self\":\"/v2/images/");
    out.extend_from_slice(f.id.as_bytes());
    out.extend_from_slice(b"\",\"file\":\"/v2/images/");
    out.extend_from_slice(f.id.as_bytes());
    out.extend_from_slice(b"/file\",\"schema\":\"/v2/schemas/image\",\"tags\":");
}

/// Appends a string written by plankton (see `raw`), or null.
fn raw_or_null(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => raw(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends one custom property, unless a field has its name (§17.2).
fn write_property(out: &mut Vec<u8>, k: &str, v: &str) {
    if !is_field(k) {
        out.push(b',');
        string(out, k);
        out.push(b':');
        string(out, v);
    }
}

/// Appends the image as v2 shows it (§17.2): its fields, then its custom
/// properties but those named as a field. Written straight into the
/// buffer, as v1's render does: a map of values per image cost more than
/// reading it.
pub(super) fn write_image(out: &mut Vec<u8>, i: &Image) {
    let data = i.has_data();
    let id = i.id.to_string();
    write_fields(
        out,
        &Fields {
            id: &id,
            name: &i.name,
            status: i.status.as_db(),
            visibility: i.visibility.as_str(),
            owner: &i.owner,
            protected: i.protected,
            os_hidden: i.os_hidden,
            disk_format: nonempty(&i.disk_format),
            container_format: nonempty(&i.container_format),
            md5: i.md5.as_deref().filter(|_| data),
            os_hash: (i.os_hash.as_ref())
                .filter(|_| data)
                .map(|h| (h.algo.as_str(), h.value.as_str())),
            min_ram: i.min_ram,
            min_disk: i.min_disk,
            size: data.then_some(i.size),
            virtual_size: i.virtual_size,
            created_at: i.created_at,
            updated_at: i.updated_at,
        },
    );
    out.push(b'[');
    for (n, tag) in i.tags.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        string(out, tag);
    }
    out.push(b']');
    for (k, v) in &i.properties {
        write_property(out, k, v);
    }
    out.push(b'}');
}

/// Appends an image of a list page, from the catalogue's row: its tags'
/// JSON array as it is, its properties' JSON object spread at the top
/// level.
fn write_listed(out: &mut Vec<u8>, i: &V2ListedImage<'_>) {
    write_fields(
        out,
        &Fields {
            id: i.id,
            name: i.name,
            status: i.status,
            visibility: i.visibility,
            owner: i.owner,
            protected: i.protected,
            os_hidden: i.os_hidden,
            disk_format: i.disk_format,
            container_format: i.container_format,
            md5: i.md5,
            os_hash: i.os_hash,
            min_ram: i.min_ram,
            min_disk: i.min_disk,
            size: i.size,
            virtual_size: i.virtual_size,
            created_at: i.created_at,
            updated_at: i.updated_at,
        },
    );
    out.extend_from_slice(i.tags_json);
    spread_properties(out, i.properties_json);
    out.push(b'}');
}

/// Appends the members of the JSON object `json` (the properties as the
/// catalogue keeps them), each after a comma, but those named as a field.
/// The catalogue writes the object compact (`{"k":"v",...}`), so its
/// members are copied as they are; anything else is parsed.
fn spread_properties(out: &mut Vec<u8>, json: &[u8]) {
    let mark = out.len();
    if copy_compact_members(out, json).is_none() {
        out.truncate(mark);
        let parsed: std::collections::BTreeMap<String, String> =
            serde_json::from_slice(json).unwrap_or_default();
        for (k, v) in &parsed {
            write_property(out, k, v);
        }
    }
}

/// The end of the JSON string starting at `s[at]` (a `"`): the index after
/// its closing quote.
fn string_end(s: &[u8], at: usize) -> Option<usize> {
    if s.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    loop {
        match *s.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// Copies the members of a compact JSON object of strings (`{}` or
/// `{"k":"v",...}`), each after a comma, but those whose key is a field's
/// name; `None` (with some copied) if `s` is not of that shape.
fn copy_compact_members(out: &mut Vec<u8>, s: &[u8]) -> Option<()> {
    if s.first() != Some(&b'{') {
        return None;
    }
    if s.get(1) == Some(&b'}') {
        return (s.len() == 2).then_some(());
    }
    let mut at = 1;
    loop {
        let key_end = string_end(s, at)?;
        if s.get(key_end) != Some(&b':') {
            return None;
        }
        let value_end = string_end(s, key_end + 1)?;
        // A key with an escape in it is no field's name, so the raw text
        // between its quotes is compared as it is.
        let key = std::str::from_utf8(&s[at + 1..key_end - 1]).ok()?;
        if !is_field(key) {
            out.push(b',');
            out.extend_from_slice(&s[at..value_end]);
        }
        match s.get(value_end) {
            Some(b',') => at = value_end + 1,
            Some(b'}') if value_end + 1 == s.len() => return Some(()),
            _ => return None,
        }
    }
}

/// A list page's images, rendered as the catalogue reads them.
pub(super) struct PageBody {
    out: Vec<u8>,
    /// The id of the last image, for `next`.
    last: Option<String>,
}

impl PageBody {
    /// A page with no image yet.
    pub(super) fn new() -> PageBody {
        let mut out = Vec::with_capacity(32 * 1024);
        out.extend_from_slice(b"{\"images\":[");
        PageBody { out, last: None }
    }
}

impl V2Sink for PageBody {
    type Output = PageBody;

    fn push(&mut self, image: &V2ListedImage<'_>) {
        if self.last.is_some() {
            self.out.push(b',');
        }
        write_listed(&mut self.out, image);
        match &mut self.last {
            Some(last) => {
                last.clear();
                last.push_str(image.id);
            }
            None => self.last = Some(image.id.to_string()),
        }
    }

    fn finish(self) -> PageBody {
        self
    }
}

/// A body that is JSON.
fn json_body(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status).content_type(JSON).body(body)
}

/// The image alone, as a body.
fn image_body(i: &Image) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write_image(&mut out, i);
    out
}

/// 200 with the image.
pub(super) fn shown(i: &Image) -> HttpResponse {
    json_body(StatusCode::OK, image_body(i))
}

/// The image alone, as the body `ok_json` sends.
pub(super) fn shown_bytes(i: &Image) -> Bytes {
    Bytes::from(image_body(i))
}

/// 200 with a JSON body made before (`shown_bytes`, `page_bytes`).
pub(super) fn ok_json(body: Bytes) -> HttpResponse {
    HttpResponse::build(StatusCode::OK)
        .content_type(JSON)
        .body(body)
}

/// 201 with the image and its absolute URL in `Location`.
pub(super) fn created(http: &HttpRequest, i: &Image) -> HttpResponse {
    let url = format!(
        "{}/v2/images/{}",
        crate::http::links::public_root(http),
        i.id
    );
    HttpResponse::build(StatusCode::CREATED)
        .insert_header(("location", url))
        .content_type(JSON)
        .body(image_body(i))
}

/// 200 with a list page (§17.9): `next` only when images follow.
pub(super) fn page_bytes(q: &V2Query, body: PageBody, more: bool) -> Bytes {
    let PageBody { mut out, last } = body;
    // The links are form-encoded: nothing in them to escape.
    out.extend_from_slice(b"],\"first\":");
    raw(&mut out, &q.first_link());
    if let (true, Some(last)) = (more, last) {
        out.extend_from_slice(b",\"next\":");
        raw(&mut out, &q.next_link(&last));
    }
    out.extend_from_slice(b",\"schema\":\"/v2/schemas/images\"}");
    Bytes::from(out)
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;

    use super::*;
    use crate::domain::ids::ImageId;
    use crate::domain::image::{OsHash, Status};
    use crate::domain::model::Visibility;

    fn sample() -> Image {
        Image {
            id: ImageId::parse("5583ffe1-5273-4c84-9e32-2fbe476bd7b7").unwrap(),
            name: "a \"quoted\" name\n".into(),
            location: "pithos://alice/images/x".into(),
            status: Status::Available,
            disk_format: "raw".into(),
            container_format: String::new(),
            size: 42,
            checksum: "c".repeat(64),
            md5: Some("m".repeat(32)),
            created_at: 1_700_000_000_123_456,
            updated_at: 1_700_000_001_000_000,
            deleted_at: None,
            visibility: Visibility::Community,
            os_hidden: true,
            tags: BTreeSet::from(["b".to_string(), "a/é".to_string()]),
            os_hash: Some(OsHash {
                algo: "sha512".into(),
                value: "0f".repeat(64),
            }),
            virtual_size: None,
            examined: None,
            uploaded: true,
            protected: false,
            owner: "alice".into(),
            min_ram: 0,
            min_disk: 7,
            properties: BTreeMap::from([
                ("size".to_string(), "shadowed".to_string()),
                ("os:distro".to_string(), "debian \u{1}".to_string()),
            ]),
        }
    }

    fn shown(i: &Image) -> Value {
        let mut out = Vec::new();
        write_image(&mut out, i);
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn an_image_is_every_field_then_its_properties_but_those_named_as_fields() {
        let i = sample();
        let id = i.id.to_string();
        assert_eq!(
            shown(&i),
            json!({
                "id": id, "name": "a \"quoted\" name\n", "status": "active",
                "visibility": "community", "protected": false, "os_hidden": true,
                "owner": "alice", "disk_format": "raw", "container_format": null,
                "min_ram": 0, "min_disk": 7, "size": 42, "virtual_size": null,
                "checksum": "m".repeat(32), "os_hash_algo": "sha512",
                "os_hash_value": "0f".repeat(64),
                "created_at": "2023-11-14T22:13:20Z", "updated_at": "2023-11-14T22:13:21Z",
                "tags": ["a/é", "b"], "self": format!("/v2/images/{id}"),
                "file": format!("/v2/images/{id}/file"), "schema": "/v2/schemas/image",
                "os:distro": "debian \u{1}",
            })
        );
    }

    #[test]
    fn an_image_without_data_shows_nulls_for_it() {
        let mut i = sample();
        i.status = Status::Queued;
        i.checksum = String::new();
        i.tags.clear();
        let v = shown(&i);
        for field in ["size", "checksum", "os_hash_algo", "os_hash_value"] {
            assert_eq!(v[field], Value::Null, "{field}");
        }
        assert_eq!(v["tags"], json!([]));
        assert_eq!(time(i.created_at), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn a_listed_row_renders_as_the_image_it_holds() {
        let i = sample();
        let id = i.id.to_string();
        let tags = serde_json::to_string(&i.tags).unwrap();
        let props = serde_json::to_string(&i.properties).unwrap();
        let hash = i.os_hash.clone().unwrap();
        let row = V2ListedImage {
            id: &id,
            name: &i.name,
            status: "active",
            visibility: "community",
            protected: false,
            os_hidden: true,
            owner: "alice",
            disk_format: Some("raw"),
            container_format: None,
            min_ram: 0,
            min_disk: 7,
            size: Some(42),
            virtual_size: None,
            md5: i.md5.as_deref(),
            os_hash: Some((&hash.algo, &hash.value)),
            created_at: i.created_at,
            updated_at: i.updated_at,
            tags_json: tags.as_bytes(),
            properties_json: props.as_bytes(),
        };
        let mut out = Vec::new();
        write_listed(&mut out, &row);
        let listed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(listed, shown(&i));
    }

    /// The properties spread from `json`, as one JSON object.
    fn spread(json: &str) -> Value {
        let mut out = b"{\"x\":1".to_vec();
        spread_properties(&mut out, json.as_bytes());
        out.push(b'}');
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn properties_are_spread_as_kept_but_field_names_and_any_shape_parses() {
        assert_eq!(spread("{}"), json!({"x": 1}));
        assert_eq!(
            spread(r#"{"a\"b":"c\\","size":"no","tags":"no","z":""}"#),
            json!({"x": 1, "a\"b": "c\\", "z": ""})
        );
        // Not compact: parsed, with the same result.
        assert_eq!(
            spread(r#"{ "a" : "1", "size": "no" }"#),
            json!({"x": 1, "a": "1"})
        );
        // Not an object of strings at all: nothing (never a broken body).
        for bad in ["", "[", r#"{"a":1}"#, r#"{"a":"1"}x"#, r#"{"a":"1""#] {
            assert_eq!(spread(bad), json!({"x": 1}), "{bad}");
        }
    }
}
