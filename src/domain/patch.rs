//! The bodies of the image API v2 (docs/api.md §17.3, §17.5, §17.10), parsed
//! into typed requests before anything is looked up: a PATCH's operations,
//! a create's image, a member's id and status. JSON is read strictly (a key
//! twice is a 400, where serde_json would keep the last), every value is
//! checked against its field's rule, and the 400s of the whole body come
//! before its 403s.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::config::Formats;
use crate::domain::ids::{is_valid_user_id, truncate, ImageId};
use crate::domain::image::{Image, Status};
use crate::domain::model::{ImageUpdate, MemberStatus, PropertyMode, Visibility};
use crate::domain::text::{check_text, shown, TextUse};
use crate::domain::time::Micros;
use crate::error::AppError;

/// The two PATCH media types, in the order `Accept-Patch` lists them.
pub(crate) const ACCEPT_PATCH: &str =
    "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch";

/// A PATCH's media type: which shape its operations have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchMedia {
    /// `{"add": "/key", "value": ...}`; an `add` of a present property is 409.
    V20,
    /// `{"op": "add", "path": "/key", "value": ...}`.
    V21,
}

impl PatchMedia {
    /// The media type of a `Content-Type` (any case, parameters ignored);
    /// `None` is a 415, whose answer carries `ACCEPT_PATCH` as `Accept-Patch`.
    pub(crate) fn of(content_type: Option<&str>) -> Option<PatchMedia> {
        let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/openstack-images-v2.0-json-patch" => Some(PatchMedia::V20),
            "application/openstack-images-v2.1-json-patch" => Some(PatchMedia::V21),
            _ => None,
        }
    }
}

/// What a PATCH operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// Sets the value, present or not (v2.0's media type: 409 if present).
    Add,
    /// Sets the value; a custom property must be present (else 409).
    Replace,
    /// Removes a custom property (409 if absent).
    Remove,
}

/// The field an operation sets, with its value checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `name`: 1-255 characters.
    Name(String),
    /// `visibility`.
    Visibility(Visibility),
    /// `protected`.
    Protected(bool),
    /// `os_hidden`.
    OsHidden(bool),
    /// `min_ram`, at least 0.
    MinRam(i64),
    /// `min_disk`, at least 0.
    MinDisk(i64),
    /// `disk_format`: a configured one, or null.
    DiskFormat(Option<String>),
    /// `container_format`: a configured one, or null.
    ContainerFormat(Option<String>),
    /// `tags`: the new set, sorted by bytes, without duplicates.
    Tags(Vec<String>),
    /// `owner`: only the current owner is no change (the registry checks).
    Owner(String),
    /// A custom property: its value, or `None` for a remove.
    Property(String, Option<String>),
}

/// One checked PATCH operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatchOp {
    /// add, replace or remove.
    pub(crate) op: OpKind,
    /// The field and its new value.
    pub(crate) target: Target,
}

impl PatchOp {
    /// The change this operation makes (§17.5): `add` of a custom property
    /// sets it, except with v2.0's media type, where a present one is 409.
    pub(crate) fn update(self, media: PatchMedia) -> ImageUpdate {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        match (self.op, self.target) {
            (_, Target::Name(n)) => ImageUpdate::SetName(n),
            (_, Target::Visibility(v)) => ImageUpdate::SetVisibility(v),
            (_, Target::Protected(b)) => ImageUpdate::SetProtected(b),
            (_, Target::OsHidden(b)) => ImageUpdate::SetHidden(b),
            (_, Target::MinRam(n)) => ImageUpdate::SetMinRam(count(n)),
            (_, Target::MinDisk(n)) => ImageUpdate::SetMinDisk(count(n)),
            (_, Target::DiskFormat(f)) => ImageUpdate::SetDiskFormat(f),
            (_, Target::ContainerFormat(f)) => ImageUpdate::SetContainerFormat(f),
            (_, Target::Tags(t)) => ImageUpdate::SetTags(t.into_iter().collect()),
            (_, Target::Owner(o)) => ImageUpdate::SetOwner(o),
            (OpKind::Remove, Target::Property(key, _)) => ImageUpdate::RemoveProperty(key),
            (op, Target::Property(key, value)) => ImageUpdate::SetProperty {
                key,
                value: value.unwrap_or_default(),
                mode: match (op, media) {
                    (OpKind::Replace, _) => PropertyMode::Replace,
                    (_, PatchMedia::V20) => PropertyMode::AddNew,
                    _ => PropertyMode::Upsert,
                },
            },
        }
    }
}

/// A value read strictly: as serde_json's, but a key twice is an error.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

/// The visitor of `Strict`.
struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key '{}'",
                    truncate(&key, 80)
                )));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// A UTF-8 JSON body, read strictly (`what` names it in the 400).
pub(crate) fn strict_json(body: &[u8], what: &str) -> Result<Value, AppError> {
    serde_json::from_slice::<Strict>(body)
        .map(|Strict(v)| v)
        .map_err(|e| AppError::invalid(format!("Invalid {what}: {e}")))
}

/// Why a key or value was refused: the 400s of a body come before its 403s.
enum Refusal {
    /// A 400.
    Bad(String),
    /// A 403.
    Forbidden(String),
}

/// The first 400 of a body if it has one, else its first 403.
fn first_refusal(refusals: Vec<Refusal>) -> Option<AppError> {
    let mut forbidden = None;
    for r in refusals {
        match r {
            Refusal::Bad(m) => return Some(AppError::Invalid(m)),
            Refusal::Forbidden(m) => {
                forbidden.get_or_insert(m);
            }
        }
    }
    forbidden.map(AppError::Forbidden)
}

/// The fields of docs/api.md §17.2 that a request may set.
const WRITABLE: [&str; 10] = [
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_ram",
    "min_disk",
    "disk_format",
    "container_format",
    "tags",
    "owner",
];

/// The fields only the server sets (§17.2).
const READ_ONLY: [&str; 15] = [
    "id",
    "status",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "locations",
    "direct_url",
    "stores",
];

/// What kind of key a body or path names.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    /// A field of §17.2 a request may set.
    Field,
    /// A read-only field.
    ReadOnly,
    /// A reserved key.
    Reserved,
    /// A custom property.
    Property,
}

/// The kind of a key (a custom one is checked apart).
fn classify(key: &str) -> Key {
    if WRITABLE.contains(&key) {
        Key::Field
    } else if READ_ONLY.contains(&key) {
        Key::ReadOnly
    } else if matches!(key, "location" | "deleted" | "deleted_at") || key.starts_with("os_glance_")
    {
        Key::Reserved
    } else {
        Key::Property
    }
}

/// The JSON type of a value, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string of 1-255 characters (`what` names it).
fn short_text(v: &Value, what: &str) -> Result<String, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("Invalid {what}: expected a string, got {}", kind(v)))?;
    check_text(what, s, TextUse::Label)?;
    let n = s.chars().count();
    if (1..=255).contains(&n) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "Invalid {what}: expected 1-255 characters, got {n}"
        ))
    }
}

/// A JSON integer from 0 to 2^63-1.
fn count(v: &Value, what: &str) -> Result<i64, String> {
    v.as_i64()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("Invalid {what}: expected an integer from 0 to 2^63-1, got {v}"))
}

/// A boolean.
fn flag(v: &Value, what: &str) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("Invalid {what}: expected true or false, got {}", kind(v)))
}

/// A configured format, or null.
fn format_of(v: &Value, what: &str, allowed: &[String]) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if allowed.contains(s) => Ok(Some(s.clone())),
        other => Err(format!(
            "Invalid {what} {}: expected null or one of {}",
            truncate(&other.to_string(), 80),
            allowed.join(", ")
        )),
    }
}

/// An array of tags: sorted by bytes, duplicates collapsed.
fn tags(v: &Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or_else(|| {
        format!(
            "Invalid tags: expected an array of strings, got {}",
            kind(v)
        )
    })?;
    let set: Result<BTreeSet<String>, String> =
        items.iter().map(|t| short_text(t, "tag")).collect();
    Ok(set?.into_iter().collect())
}

/// A custom property's key: 1-255 bytes.
fn property_key(key: &str) -> Result<(), String> {
    check_text("property key", key, TextUse::Label)?;
    if (1..=255).contains(&key.len()) {
        Ok(())
    } else {
        Err(format!(
            "Invalid property key '{}': expected 1-255 bytes, got {}",
            truncate(key, 80),
            key.len()
        ))
    }
}

/// A custom property's value: a string of at most 4096 bytes.
fn property_value(key: &str, v: &Value) -> Result<String, String> {
    if let Some(s) = v.as_str() {
        check_text(
            &format!("value of property '{}'", shown(key, 80)),
            s,
            TextUse::Value,
        )?;
    }
    match v.as_str() {
        Some(s) if s.len() <= 4096 => Ok(s.to_string()),
        Some(s) => Err(format!(
            "Invalid value of property '{}': {} bytes, at most 4096",
            truncate(key, 80),
            s.len()
        )),
        None => Err(format!(
            "Invalid value of property '{}': expected a string, got {}",
            truncate(key, 80),
            kind(v)
        )),
    }
}

/// The typed value of a settable field `key`.
fn field(key: &str, v: &Value, formats: &Formats) -> Result<Target, String> {
    Ok(match key {
        "name" => Target::Name(short_text(v, "name")?),
        "visibility" => {
            Target::Visibility(v.as_str().and_then(Visibility::parse).ok_or_else(|| {
                format!(
                    "Invalid visibility {}: expected public, community, shared or private",
                    truncate(&v.to_string(), 80)
                )
            })?)
        }
        "protected" => Target::Protected(flag(v, "protected")?),
        "os_hidden" => Target::OsHidden(flag(v, "os_hidden")?),
        "min_ram" => Target::MinRam(count(v, "min_ram")?),
        "min_disk" => Target::MinDisk(count(v, "min_disk")?),
        "disk_format" => Target::DiskFormat(format_of(v, "disk_format", &formats.disk)?),
        "container_format" => {
            Target::ContainerFormat(format_of(v, "container_format", &formats.container)?)
        }
        "tags" => Target::Tags(tags(v)?),
        _ => Target::Owner(
            v.as_str()
                .ok_or_else(|| format!("Invalid owner: expected a string, got {}", kind(v)))?
                .to_string(),
        ),
    })
}

/// The 403 of a key no request may set.
fn not_settable(key: &str, why: &str) -> Refusal {
    Refusal::Forbidden(format!(
        "Attribute '{}' is {why} and may not be changed",
        truncate(key, 80)
    ))
}

/// What one key with its value (`None` for a remove) sets.
fn target(key: &str, value: Option<&Value>, formats: &Formats) -> Result<Target, Refusal> {
    match (classify(key), value) {
        (Key::ReadOnly, _) => Err(not_settable(key, "read-only")),
        (Key::Reserved, _) => Err(not_settable(key, "reserved")),
        (Key::Field, None) => Err(Refusal::Forbidden(format!(
            "Attribute '{key}' may not be removed"
        ))),
        (Key::Field, Some(v)) => field(key, v, formats).map_err(Refusal::Bad),
        (Key::Property, v) => {
            property_key(key).map_err(Refusal::Bad)?;
            let value = v.map(|v| property_value(key, v)).transpose();
            Ok(Target::Property(
                key.to_string(),
                value.map_err(Refusal::Bad)?,
            ))
        }
    }
}

/// The key a JSON pointer names: `/` and exactly one non-empty token,
/// decoded as RFC 6901 (`~1` is `/`, `~0` is `~`, any other `~` a 400).
pub(crate) fn pointer_key(path: &str) -> Result<String, String> {
    let bad = |why: &str| format!("Invalid path '{}': {why}", truncate(path, 80));
    let token = path
        .strip_prefix('/')
        .ok_or_else(|| bad("expected /<key>"))?;
    if token.is_empty() || token.contains('/') {
        return Err(bad("expected / and exactly one non-empty key"));
    }
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next() {
                Some('1') => out.push('/'),
                Some('0') => out.push('~'),
                _ => return Err(bad("~ must be followed by 0 or 1")),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// One operation's op, key and value, as its media type writes them.
fn op_parts(op: &Value, media: PatchMedia) -> Result<(OpKind, String, Option<&Value>), String> {
    let obj = op
        .as_object()
        .ok_or_else(|| format!("Invalid operation: expected an object, got {}", kind(op)))?;
    let word = |w: &str| match w {
        "add" => Some(OpKind::Add),
        "replace" => Some(OpKind::Replace),
        "remove" => Some(OpKind::Remove),
        _ => None,
    };
    let (kind_, path) = match media {
        PatchMedia::V21 => {
            let name = obj.get("op").and_then(Value::as_str).unwrap_or_default();
            let kind_ = word(name).ok_or_else(|| {
                format!(
                    "Invalid op '{}': expected add, replace or remove",
                    truncate(name, 80)
                )
            })?;
            (kind_, obj.get("path"))
        }
        PatchMedia::V20 => {
            let mut named = ["add", "replace", "remove"]
                .into_iter()
                .filter(|w| obj.contains_key(*w));
            let (Some(w), None) = (named.next(), named.next()) else {
                return Err(
                    "Invalid operation: expected exactly one of add, replace, remove".into(),
                );
            };
            (word(w).unwrap_or(OpKind::Add), obj.get(w))
        }
    };
    let path = path
        .and_then(Value::as_str)
        .ok_or("Invalid operation: its path is missing or not a string")?;
    let value = obj.get("value");
    if kind_ != OpKind::Remove && value.is_none() {
        return Err(format!(
            "Invalid operation on '{}': value is required",
            truncate(path, 80)
        ));
    }
    let value = if kind_ == OpKind::Remove { None } else { value };
    Ok((kind_, pointer_key(path)?, value))
}

/// A PATCH body in its media type → its checked operations; every op is
/// checked, 400s before 403s, before the caller applies any.
pub(crate) fn parse_patch(
    body: &[u8],
    media: PatchMedia,
    formats: &Formats,
) -> Result<Vec<PatchOp>, AppError> {
    let json = strict_json(body, "patch body")?;
    let items = json.as_array().ok_or_else(|| {
        AppError::invalid(format!(
            "Invalid patch body: expected a JSON array, got {}",
            kind(&json)
        ))
    })?;
    let mut ops = Vec::with_capacity(items.len());
    let mut refusals = Vec::new();
    for item in items {
        let parsed = op_parts(item, media)
            .map_err(Refusal::Bad)
            .and_then(|(op, key, value)| Ok((op, target(&key, value, formats)?)));
        match parsed {
            Ok((op, target)) => ops.push(PatchOp { op, target }),
            Err(r) => refusals.push(r),
        }
    }
    match first_refusal(refusals) {
        Some(e) => Err(e),
        None => Ok(ops),
    }
}

/// A create's image (docs/api.md §17.3), its values checked; the owner is
/// always the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewV2Image {
    /// The id asked for (409 if any image ever had it), else generated.
    pub(crate) id: Option<ImageId>,
    /// 1-255 characters.
    pub(crate) name: String,
    /// `shared` unless given.
    pub(crate) visibility: Visibility,
    /// false unless given.
    pub(crate) protected: bool,
    /// false unless given.
    pub(crate) os_hidden: bool,
    /// A configured disk format, or none.
    pub(crate) disk_format: Option<String>,
    /// A configured container format, or none.
    pub(crate) container_format: Option<String>,
    /// 0 unless given.
    pub(crate) min_ram: i64,
    /// 0 unless given.
    pub(crate) min_disk: i64,
    /// Sorted by bytes, without duplicates.
    pub(crate) tags: Vec<String>,
    /// Custom properties, kept as sent.
    pub(crate) properties: BTreeMap<String, String>,
}

impl NewV2Image {
    /// The image with only its name: every other field its default.
    fn named(name: String) -> NewV2Image {
        NewV2Image {
            id: None,
            name,
            visibility: Visibility::Shared,
            protected: false,
            os_hidden: false,
            disk_format: None,
            container_format: None,
            min_ram: 0,
            min_disk: 0,
            tags: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// Sets one checked field; an `owner` other than `caller` is a 403.
    fn set(&mut self, t: Target, caller: &str) -> Result<(), Refusal> {
        match t {
            Target::Name(n) => self.name = n,
            Target::Visibility(v) => self.visibility = v,
            Target::Protected(b) => self.protected = b,
            Target::OsHidden(b) => self.os_hidden = b,
            Target::MinRam(n) => self.min_ram = n,
            Target::MinDisk(n) => self.min_disk = n,
            Target::DiskFormat(f) => self.disk_format = f,
            Target::ContainerFormat(f) => self.container_format = f,
            Target::Tags(t) => self.tags = t,
            Target::Owner(o) if o == caller => {}
            Target::Owner(_) => {
                return Err(Refusal::Forbidden(
                    "Invalid owner: an image is owned by its creator".into(),
                ))
            }
            Target::Property(k, v) => {
                self.properties.insert(k, v.unwrap_or_default());
            }
        }
        Ok(())
    }
}

impl NewV2Image {
    /// The queued image this create makes for `owner` at `now` (§17.3):
    /// no data, so no location, size or hashes; its id as asked, else a
    /// fresh one.
    pub(crate) fn into_image(self, owner: &str, now: Micros) -> Image {
        Image {
            id: self.id.unwrap_or_else(ImageId::generate),
            name: self.name,
            location: String::new(),
            status: Status::Queued,
            disk_format: self.disk_format.unwrap_or_default(),
            container_format: self.container_format.unwrap_or_default(),
            size: 0,
            checksum: String::new(),
            md5: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            visibility: self.visibility,
            protected: self.protected,
            os_hidden: self.os_hidden,
            tags: self.tags.into_iter().collect(),
            os_hash: None,
            virtual_size: None,
            examined: None,
            uploaded: false,
            owner: owner.to_string(),
            min_ram: self.min_ram as u64,
            min_disk: self.min_disk as u64,
            properties: self.properties,
        }
    }
}

/// The `id` of a create body.
fn asked_id(v: &Value) -> Result<ImageId, Refusal> {
    let s = v.as_str().ok_or_else(|| {
        Refusal::Bad(format!(
            "Invalid id: expected a UUID string, got {}",
            kind(v)
        ))
    })?;
    ImageId::parse(s).map_err(|e| Refusal::Bad(e.to_string()))
}

/// A create body (docs/api.md §17.3) of `caller` → the new image; 400s
/// (shape, types, ranges, keys) before 403s (read-only, reserved, owner).
pub(crate) fn parse_create(
    body: &[u8],
    formats: &Formats,
    caller: &str,
) -> Result<NewV2Image, AppError> {
    let json = strict_json(body, "image body")?;
    let Value::Object(obj) = json else {
        return Err(AppError::invalid(format!(
            "Invalid image body: expected a JSON object, got {}",
            kind(&json)
        )));
    };
    let name = match obj.get("name") {
        None | Some(Value::Null) => Err("Invalid name: it is required".to_string()),
        Some(v) => short_text(v, "name"),
    };
    let mut image = NewV2Image::named(name.clone().unwrap_or_default());
    let mut refusals: Vec<Refusal> = name.err().map(Refusal::Bad).into_iter().collect();
    for (key, v) in &obj {
        let set = match key.as_str() {
            "name" => Ok(()),
            "id" => asked_id(v).map(|id| image.id = Some(id)),
            _ => target(key, Some(v), formats).and_then(|t| image.set(t, caller)),
        };
        refusals.extend(set.err());
    }
    match first_refusal(refusals) {
        Some(e) => Err(e),
        None => Ok(image),
    }
}

/// `{"member": "<id>"}`, the id 1-255 characters of `[A-Za-z0-9@._-]`;
/// any other body is a 400.
pub(crate) fn parse_new_member(body: &[u8]) -> Result<String, AppError> {
    let json = strict_json(body, "member body")?;
    let obj = json.as_object().filter(|o| o.len() == 1);
    let Some(Value::String(id)) = obj.and_then(|o| o.get("member")) else {
        return Err(AppError::invalid(
            "Invalid member body: expected {\"member\": \"<user id>\"}",
        ));
    };
    if is_valid_user_id(id) {
        Ok(id.clone())
    } else {
        Err(AppError::invalid(format!(
            "Invalid member '{}': expected 1-255 characters of A-Z a-z 0-9 @ . _ -",
            truncate(id, 80)
        )))
    }
}

/// `{"status": "pending"|"accepted"|"rejected"}`; other keys are ignored.
pub(crate) fn parse_member_status(body: &[u8]) -> Result<MemberStatus, AppError> {
    let json = strict_json(body, "member body")?;
    let status = json.as_object().and_then(|o| o.get("status"));
    match status.and_then(Value::as_str) {
        Some("pending") => Ok(MemberStatus::Pending),
        Some("accepted") => Ok(MemberStatus::Accepted),
        Some("rejected") => Ok(MemberStatus::Rejected),
        _ => Err(AppError::invalid(format!(
            "Invalid member status {}: expected {{\"status\": \"pending\"|\"accepted\"|\"rejected\"}}",
            truncate(&status.map_or("(none)".to_string(), Value::to_string), 80)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::proptests::{config, only_bad_request};
    use proptest::prelude::*;

    fn patch(body: &str) -> Result<Vec<PatchOp>, AppError> {
        parse_patch(body.as_bytes(), PatchMedia::V21, &Formats::default())
    }

    fn one(body: &str) -> Target {
        let mut ops = patch(body).unwrap();
        assert_eq!(ops.len(), 1);
        ops.remove(0).target
    }

    fn status(r: Result<impl fmt::Debug, AppError>) -> &'static str {
        match r {
            Err(AppError::Invalid(_)) => "400",
            Err(AppError::Forbidden(_)) => "403",
            Err(e) => panic!("{e:?}"),
            Ok(_) => "ok",
        }
    }

    #[test]
    fn media_types_are_the_two_patch_types_in_any_case_with_parameters() {
        let of = |s| PatchMedia::of(Some(s));
        assert_eq!(
            of("application/openstack-images-v2.1-json-patch"),
            Some(PatchMedia::V21)
        );
        assert_eq!(
            of("Application/OpenStack-Images-V2.0-JSON-Patch; charset=utf-8"),
            Some(PatchMedia::V20)
        );
        assert_eq!(of("application/json"), None);
        assert_eq!(PatchMedia::of(None), None);
        assert!(ACCEPT_PATCH.contains("v2.0") && ACCEPT_PATCH.contains("v2.1"));
    }

    #[test]
    fn pointers_decode_one_token_tilde_one_then_tilde_zero() {
        assert_eq!(pointer_key("/acc~1slash").unwrap(), "acc/slash");
        assert_eq!(pointer_key("/acc~0tilde").unwrap(), "acc~tilde");
        assert_eq!(pointer_key("/~01").unwrap(), "~1");
        for bad in ["/", "", "acc", "/acc/b", "/tags/-", "/a~", "/a~2", "//"] {
            assert!(pointer_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_settable_field_takes_its_type_and_anything_else_is_400() {
        let op = |path: &str, value: &str| {
            format!(r#"[{{"op": "replace", "path": "{path}", "value": {value}}}]"#)
        };
        assert_eq!(one(&op("/name", r#""x""#)), Target::Name("x".into()));
        assert_eq!(
            one(&op("/visibility", r#""community""#)),
            Target::Visibility(Visibility::Community)
        );
        assert_eq!(one(&op("/protected", "true")), Target::Protected(true));
        assert_eq!(one(&op("/min_ram", "0")), Target::MinRam(0));
        assert_eq!(one(&op("/disk_format", "null")), Target::DiskFormat(None));
        assert_eq!(
            one(&op("/tags", r#"["b","a","b"]"#)),
            Target::Tags(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            one(&op("/owner", r#""alice""#)),
            Target::Owner("alice".into())
        );
        assert_eq!(
            one(&op("/a~1b", r#""""#)),
            Target::Property("a/b".into(), Some(String::new()))
        );
        for (path, value) in [
            ("/name", r#""""#),
            ("/name", "null"),
            ("/visibility", r#""all""#),
            ("/protected", r#""true""#),
            ("/min_ram", "-1"),
            ("/min_disk", "1.5"),
            ("/min_ram", "9223372036854775808"),
            ("/disk_format", r#""bogus""#),
            ("/tags", r#"[""]"#),
            ("/tags", r#""a""#),
            ("/acc", "5"),
            ("/owner", "1"),
        ] {
            assert_eq!(status(patch(&op(path, value))), "400", "{path} {value}");
        }
        let long = "x".repeat(256);
        assert_eq!(status(patch(&op("/name", &format!("\"{long}\"")))), "400");
        assert_eq!(status(patch(&op(&format!("/{long}"), "\"v\""))), "400");
        assert_eq!(
            status(patch(&op("/p", &format!("\"{}\"", "v".repeat(4097))))),
            "400"
        );
    }

    #[test]
    fn read_only_reserved_and_removed_fields_are_403_after_every_400() {
        for path in [
            "/id",
            "/status",
            "/checksum",
            "/self",
            "/location",
            "/deleted_at",
            "/os_glance_x",
        ] {
            let body = format!(r#"[{{"op": "add", "path": "{path}", "value": "v"}}]"#);
            assert_eq!(status(patch(&body)), "403", "{path}");
        }
        assert_eq!(
            status(patch(r#"[{"op": "remove", "path": "/name"}]"#)),
            "403"
        );
        assert_eq!(
            one(r#"[{"op": "remove", "path": "/acc"}]"#),
            Target::Property("acc".into(), None)
        );
        // A 403 first, a 400 later: the 400 wins.
        let body = r#"[{"op": "add", "path": "/id", "value": "v"}, {"op": "add", "path": "/min_ram", "value": -1}]"#;
        assert_eq!(status(patch(body)), "400");
    }

    #[test]
    fn a_body_that_is_not_an_array_of_well_formed_ops_is_400() {
        for body in [
            "{}",
            "[1]",
            "[[]]",
            "not json",
            r#"[{"op": "move", "path": "/a"}]"#,
            r#"[{"op": "test", "path": "/a", "value": "x"}]"#,
            r#"[{"path": "/a", "value": "x"}]"#,
            r#"[{"op": "add", "value": "x"}]"#,
            r#"[{"op": "add", "path": 5, "value": "x"}]"#,
            r#"[{"op": "add", "path": "/a"}]"#,
            r#"[{"op": "replace", "path": "/a", "path": "/b", "value": "x"}]"#,
        ] {
            assert_eq!(status(patch(body)), "400", "{body}");
        }
        assert_eq!(patch("[]").unwrap(), vec![]);
        let v20 = |b: &str| parse_patch(b.as_bytes(), PatchMedia::V20, &Formats::default());
        let ops = v20(r#"[{"add": "/k", "value": "v"}, {"remove": "/j"}]"#).unwrap();
        assert_eq!(ops[0].op, OpKind::Add);
        assert_eq!(
            ops[1],
            PatchOp {
                op: OpKind::Remove,
                target: Target::Property("j".into(), None)
            }
        );
        assert_eq!(
            status(v20(r#"[{"add": "/k", "remove": "/k", "value": "v"}]"#)),
            "400"
        );
        assert_eq!(
            status(v20(r#"[{"op": "add", "path": "/k", "value": "v"}]"#)),
            "400"
        );
    }

    #[test]
    fn create_bodies_take_defaults_properties_and_refuse_in_order() {
        let create = |b: &str| parse_create(b.as_bytes(), &Formats::default(), "alice");
        let image = create(r#"{"name": "n", "owner": "alice", "tags": ["t"], "owner_specified.openstack.md5": ""}"#).unwrap();
        assert_eq!(
            (image.visibility, image.tags.len(), image.min_ram),
            (Visibility::Shared, 1, 0)
        );
        assert_eq!(image.properties["owner_specified.openstack.md5"], "");
        let id = "5583FFE1-5273-4c84-9e32-2fbe476bd7b7";
        let image = create(&format!(r#"{{"name": "n", "id": "{id}"}}"#)).unwrap();
        assert_eq!(image.id.unwrap().to_string(), id.to_lowercase());
        for body in [
            "[]",
            "{}",
            r#"{"name": null}"#,
            r#"{"name": ""}"#,
            r#"{"name": "n", "id": "x"}"#,
            r#"{"name": "n", "min_ram": -1}"#,
            r#"{"name": "n", "protected": "true"}"#,
            r#"{"name": "n", "acc": 5}"#,
            r#"{"name": "n", "name": "m"}"#,
            r#"{"name": "n", "": "v"}"#,
            r#"{"name": "", "status": "active"}"#,
        ] {
            assert_eq!(status(create(body)), "400", "{body}");
        }
        for body in [
            r#"{"name": "n", "status": "active"}"#,
            r#"{"name": "n", "owner": "bob"}"#,
            r#"{"name": "n", "os_glance_x": "v"}"#,
        ] {
            assert_eq!(status(create(body)), "403", "{body}");
        }
    }

    #[test]
    fn member_bodies_take_a_valid_id_alone_and_a_known_status_among_any_keys() {
        assert_eq!(
            parse_new_member(br#"{"member": "bob@x.org"}"#).unwrap(),
            "bob@x.org"
        );
        for body in [
            &br#"{"member": ""}"#[..],
            br#"{"member": "a b"}"#,
            br#"{"member": 1}"#,
            br#"{"member": "a", "x": 1}"#,
            b"[]",
        ] {
            assert!(matches!(parse_new_member(body), Err(AppError::Invalid(_))));
        }
        assert_eq!(
            parse_member_status(br#"{"status": "accepted", "x": 1}"#).unwrap(),
            MemberStatus::Accepted
        );
        assert!(matches!(
            parse_member_status(br#"{"status": "maybe"}"#),
            Err(AppError::Invalid(_))
        ));
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_patch_body_parses_or_is_a_400_or_403(body in prop_oneof![
            any::<Vec<u8>>(),
            "\\[(\\{\"(op|add|replace|remove|path|value)\": (\"[/a-z~0-9]{0,6}\"|[0-9-]{1,3}|null|true|\\[\\]), ?){0,4}\\}\\]".prop_map(String::into_bytes),
        ]) {
            for media in [PatchMedia::V20, PatchMedia::V21] {
                match parse_patch(&body, media, &Formats::default()) {
                    Ok(_) | Err(AppError::Invalid(_) | AppError::Forbidden(_)) => {}
                    Err(e) => prop_assert!(false, "{e:?}"),
                }
            }
            let r = parse_create(&body, &Formats::default(), "alice");
            prop_assert!(matches!(r, Ok(_) | Err(AppError::Invalid(_) | AppError::Forbidden(_))));
            only_bad_request(&parse_new_member(&body))?;
            only_bad_request(&parse_member_status(&body))?;
        }

        #[test]
        fn any_key_survives_the_pointer_round_trip(key in "\\PC{1,20}") {
            let encoded = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
            prop_assert_eq!(pointer_key(&encoded).unwrap(), key);
        }
    }
}
