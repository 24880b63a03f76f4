//! The JSON Schemas of v2 (docs/api.md §17.11), as Glance writes them, built
//! from the configured formats: openstacksdk reads `properties` and
//! `additionalProperties` to tell fields from custom properties.

use actix_web::HttpResponse;
use serde_json::{json, Map, Value};

use super::Req;
use crate::config::Formats;
use crate::error::AppError;

/// The live statuses of an image, as v2 names them.
const STATUSES: [&str; 5] = ["queued", "saving", "active", "deactivated", "killed"];

/// The four visibilities.
const VISIBILITIES: [&str; 4] = ["public", "community", "shared", "private"];

/// The statuses of a membership.
const MEMBER_STATUSES: [&str; 3] = ["pending", "accepted", "rejected"];

/// One read-only string field.
fn read_only(kind: Value, description: &str) -> Value {
    json!({"type": kind, "readOnly": true, "description": description})
}

/// A format field: one of the configured values, or null until set.
fn format(values: &[String], description: &str) -> Value {
    let mut choices: Vec<Value> = vec![Value::Null];
    choices.extend(values.iter().map(|v| json!(v)));
    json!({"type": ["null", "string"], "enum": choices, "description": description})
}

/// The fields a client may set, with their rules.
fn writable(formats: &Formats) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("name".into(), json!({"type": ["null", "string"], "maxLength": 255, "description": "A name for people to find the image by; need not be unique"}));
    p.insert("visibility".into(), json!({"type": "string", "enum": VISIBILITIES, "description": "Who may see the image: everyone listing (public), everyone asking (community), its owner and members (shared), its owner (private)"}));
    p.insert(
        "protected".into(),
        json!({"type": "boolean", "description": "While true, the image cannot be deleted"}),
    );
    p.insert("os_hidden".into(), json!({"type": "boolean", "description": "While true, lists leave the image out unless asked for hidden images"}));
    p.insert("owner".into(), json!({"type": ["null", "string"], "maxLength": 255, "description": "The user id of the image's owner"}));
    p.insert(
        "disk_format".into(),
        format(&formats.disk, "The format of the disk in the image's data"),
    );
    p.insert(
        "container_format".into(),
        format(
            &formats.container,
            "Whether the disk is wrapped in a container format, and which",
        ),
    );
    p.insert("min_ram".into(), json!({"type": "integer", "minimum": 0, "description": "The RAM, in MiB, an instance of the image needs at least"}));
    p.insert("min_disk".into(), json!({"type": "integer", "minimum": 0, "description": "The disk, in GiB, an instance of the image needs at least"}));
    p.insert("tags".into(), json!({"type": "array", "items": {"type": "string", "maxLength": 255}, "description": "Labels of the image, a set of strings"}));
    p
}

/// The fields the server sets, which no request may change.
fn server_set() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("id".into(), json!({"type": "string", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$", "description": "The image's identifier, a UUID"}));
    p.insert("status".into(), json!({"type": "string", "readOnly": true, "enum": STATUSES, "description": "Where the image is in its life: queued until data arrives, then saving, active"}));
    p.insert(
        "size".into(),
        read_only(
            json!(["null", "integer"]),
            "The size of the image's data in bytes, once it has some",
        ),
    );
    p.insert(
        "virtual_size".into(),
        read_only(
            json!(["null", "integer"]),
            "The size of the virtual disk, once the data's format was inspected",
        ),
    );
    p.insert("checksum".into(), json!({"type": ["null", "string"], "readOnly": true, "maxLength": 32, "description": "The MD5 digest of the image's data, in hex"}));
    p.insert("os_hash_algo".into(), json!({"type": ["null", "string"], "readOnly": true, "maxLength": 64, "description": "The algorithm os_hash_value was computed with"}));
    p.insert("os_hash_value".into(), json!({"type": ["null", "string"], "readOnly": true, "maxLength": 128, "description": "The digest of the image's data, in lower-case hex"}));
    p.insert(
        "created_at".into(),
        read_only(json!("string"), "When the image was created"),
    );
    p.insert(
        "updated_at".into(),
        read_only(json!("string"), "When the image was last changed"),
    );
    p.insert(
        "self".into(),
        read_only(json!("string"), "The image's path"),
    );
    p.insert(
        "file".into(),
        read_only(json!("string"), "The path of the image's data"),
    );
    p.insert(
        "schema".into(),
        read_only(json!("string"), "The path of this schema"),
    );
    p
}

/// The image schema: every field of docs/api.md §17.2; any other key is a
/// custom property, a string.
fn image_schema(formats: &Formats) -> Value {
    let mut properties = server_set();
    properties.extend(writable(formats));
    json!({
        "name": "image",
        "properties": properties,
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

/// The member schema.
fn member_schema() -> Value {
    json!({
        "name": "member",
        "properties": {
            "member_id": {"type": "string", "description": "The user id of the member"},
            "image_id": {"type": "string", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$", "description": "The image shared"},
            "status": {"type": "string", "enum": MEMBER_STATUSES, "description": "Whether the member took the image: pending until they accept or reject it"},
            "created_at": {"type": "string", "description": "When the member was added"},
            "updated_at": {"type": "string", "description": "When the member's status last changed"},
            "schema": {"type": "string", "readOnly": true, "description": "The path of this schema"},
        },
    })
}

/// `GET /v2/schemas/image`.
pub(super) async fn image(r: Req) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(image_schema(&r.state.formats)))
}

/// `GET /v2/schemas/images`: a page of the list.
pub(super) async fn images(r: Req) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(json!({
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema(&r.state.formats)},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })))
}

/// `GET /v2/schemas/member`.
pub(super) async fn member(_: Req) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(member_schema()))
}

/// `GET /v2/schemas/members`.
pub(super) async fn members(_: Req) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(json!({
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    })))
}
