//! Image metadata in headers (docs/api.md §5): parsing `X-Image-Meta-*` requests and
//! rendering an image as response headers.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use crate::domain::ids::truncate;
use crate::domain::image::{check_property_value, parse_bool, property_key_of, Image};
use crate::domain::listing::ListedImage;
use crate::domain::percent::{decode, encode_header_value_into};
use crate::domain::time::write_micros;
use crate::error::AppError;

use super::Dialect;

const META_PREFIX: &str = "x-image-meta-";
const PURGE_PROPS: &str = "x-glance-registry-purge-props";

/// A known `X-Image-Meta-*` name, after normalising.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Field {
    /// `name`
    Name,
    /// `id`
    Id,
    /// `location`
    Location,
    /// `store`
    Store,
    /// `disk_format`
    DiskFormat,
    /// `container_format`
    ContainerFormat,
    /// `size`
    Size,
    /// `checksum`
    Checksum,
    /// `is_public`
    IsPublic,
    /// `protected`
    Protected,
    /// `owner`
    Owner,
    /// `min_ram`
    MinRam,
    /// `min_disk`
    MinDisk,
    /// `status`
    Status,
    /// `created_at` (read-only)
    CreatedAt,
    /// `updated_at` (read-only)
    UpdatedAt,
    /// `deleted_at` (read-only)
    DeletedAt,
    /// `uri` (read-only)
    Uri,
}

impl Field {
    fn parse(normalised: &str) -> Option<Field> {
        Some(match normalised {
            "name" => Field::Name,
            "id" => Field::Id,
            "location" => Field::Location,
            "store" => Field::Store,
            "disk_format" => Field::DiskFormat,
            "container_format" => Field::ContainerFormat,
            "size" => Field::Size,
            "checksum" => Field::Checksum,
            "is_public" => Field::IsPublic,
            "protected" => Field::Protected,
            "owner" => Field::Owner,
            "min_ram" => Field::MinRam,
            "min_disk" => Field::MinDisk,
            "status" => Field::Status,
            "created_at" => Field::CreatedAt,
            "updated_at" => Field::UpdatedAt,
            "deleted_at" => Field::DeletedAt,
            "uri" => Field::Uri,
            _ => return None,
        })
    }

    /// The header that carries this field, as named in error messages.
    pub(super) fn header(self) -> &'static str {
        match self {
            Field::Name => "X-Image-Meta-Name",
            Field::Id => "X-Image-Meta-Id",
            Field::Location => "X-Image-Meta-Location",
            Field::Store => "X-Image-Meta-Store",
            Field::DiskFormat => "X-Image-Meta-Disk-Format",
            Field::ContainerFormat => "X-Image-Meta-Container-Format",
            Field::Size => "X-Image-Meta-Size",
            Field::Checksum => "X-Image-Meta-Checksum",
            Field::IsPublic => "X-Image-Meta-Is-Public",
            Field::Protected => "X-Image-Meta-Protected",
            Field::Owner => "X-Image-Meta-Owner",
            Field::MinRam => "X-Image-Meta-Min-Ram",
            Field::MinDisk => "X-Image-Meta-Min-Disk",
            Field::Status => "X-Image-Meta-Status",
            Field::CreatedAt => "X-Image-Meta-Created-At",
            Field::UpdatedAt => "X-Image-Meta-Updated-At",
            Field::DeletedAt => "X-Image-Meta-Deleted-At",
            Field::Uri => "X-Image-Meta-Uri",
        }
    }
}

/// The `X-Image-Meta-*` headers of one request, decoded.
#[derive(Debug, Default)]
pub(super) struct MetaHeaders {
    /// Known fields and their decoded values (the location is left as sent).
    pub(super) fields: BTreeMap<Field, String>,
    /// Properties in the order sent, keys normalised, values decoded.
    pub(super) properties: BTreeMap<String, String>,
    /// `x-glance-registry-purge-props`, if sent.
    pub(super) purge_props: Option<bool>,
    /// Properties sent more than once with different values (under one key
    /// after normalising): every value, in the order sent. See
    /// `domain::changes::resolve_conflicts`.
    pub(super) conflicts: BTreeMap<String, Vec<String>>,
}

impl MetaHeaders {
    /// The value of `field`, if sent.
    pub(super) fn get(&self, field: Field) -> Option<&str> {
        self.fields.get(&field).map(String::as_str)
    }
}

/// Lower-cases and turns ASCII punctuation into `_`.
fn normalise_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_punctuation() {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn header_text<'a>(name: &str, value: &'a HeaderValue) -> Result<&'a str, AppError> {
    std::str::from_utf8(value.as_bytes())
        .map_err(|_| AppError::invalid(format!("Invalid header {name}: its value is not UTF-8")))
}

/// Parses every `X-Image-Meta-*` header and `x-glance-registry-purge-props`.
/// Unknown names, bad percent escapes and conflicting repeats are 400s.
pub(super) fn parse_meta(headers: &HeaderMap) -> Result<MetaHeaders, AppError> {
    let mut out = MetaHeaders::default();
    for (name, value) in headers {
        let name = name.as_str();
        if name == PURGE_PROPS {
            let text = header_text(name, value)?;
            out.purge_props = Some(parse_bool(PURGE_PROPS, text.trim())?);
        } else if let Some(rest) = name.strip_prefix(META_PREFIX) {
            let text = header_text(name, value)?.trim_matches([' ', '\t']);
            match property_suffix(rest) {
                Some(raw_key) => out.add_property(name, raw_key, text)?,
                None => out.add_field(name, rest, text)?,
            }
        }
    }
    Ok(out)
}

impl MetaHeaders {
    /// One `X-Image-Meta-Property-<raw_key>` header; a repeat with another
    /// value is kept as a conflict for the use case to settle.
    fn add_property(&mut self, name: &str, raw_key: &str, text: &str) -> Result<(), AppError> {
        let decoded_key = decode(raw_key).map_err(|e| {
            AppError::invalid(format!("Invalid header {name}: property key has a {e}"))
        })?;
        let key = property_key_of(&decoded_key)?;
        let value = decode(text).map_err(|e| {
            AppError::invalid(format!(
                "Invalid value of property '{}': {e}",
                truncate(&key, 80)
            ))
        })?;
        check_property_value(&key, &value)?;
        match self.properties.get(&key) {
            Some(prev) if *prev != value => {
                self.conflicts
                    .entry(key)
                    .or_insert_with(|| vec![prev.clone()])
                    .push(value);
            }
            _ => {
                self.properties.insert(key, value);
            }
        }
        Ok(())
    }

    /// One `X-Image-Meta-<rest>` header of a known field; a repeat with
    /// another value is a 400.
    fn add_field(&mut self, name: &str, rest: &str, text: &str) -> Result<(), AppError> {
        let field = Field::parse(&normalise_name(rest)).ok_or_else(|| {
            AppError::invalid(format!(
                "Unknown header {}: not an image field (properties go in X-Image-Meta-Property-<key>)",
                truncate(name, 80)
            ))
        })?;
        let value = if field == Field::Location {
            text.to_string()
        } else {
            decode(text)
                .map_err(|e| AppError::invalid(format!("Invalid header {}: {e}", field.header())))?
        };
        match self.fields.get(&field) {
            Some(prev) if *prev != value => Err(AppError::invalid(format!(
                "Header {} is given twice with different values",
                field.header()
            ))),
            _ => {
                self.fields.insert(field, value);
                Ok(())
            }
        }
    }
}

/// The raw key of a `property-<key>` header name suffix (any punctuation after
/// `property` separates it), or `None` for another field.
fn property_suffix(rest: &str) -> Option<&str> {
    let tail = rest.strip_prefix("property")?;
    let mut chars = tail.chars();
    match chars.next() {
        Some(c) if c.is_ascii_punctuation() && c != '%' => Some(chars.as_str()),
        _ => None,
    }
}

/// The names of the image headers every image has, in the order they are
/// first put in a response's header map.
const FIXED: [&str; 24] = [
    "x-image-meta-id",
    "x-image-meta-name",
    "x-image-meta-location",
    "x-image-meta-status",
    "x-image-meta-size",
    "x-image-meta-checksum",
    "x-image-meta-owner",
    "x-image-meta-disk-format",
    "x-image-meta-disk_format",
    "x-image-meta-container-format",
    "x-image-meta-container_format",
    "x-image-meta-created-at",
    "x-image-meta-created_at",
    "x-image-meta-updated-at",
    "x-image-meta-updated_at",
    "x-image-meta-deleted-at",
    "x-image-meta-deleted_at",
    "x-image-meta-is-public",
    "x-image-meta-is_public",
    "x-image-meta-min-ram",
    "x-image-meta-min_ram",
    "x-image-meta-min-disk",
    "x-image-meta-min_disk",
    "x-image-meta-protected",
];

/// The headers a response adds to an image's (its own, and the
/// middleware's): fewer than this.
const EXTRA_ROOM: usize = 24;

/// How many size classes of header maps there are: the `k`th holds
/// `56 << k` headers (a hash table of `64 << k` buckets).
const CLASSES: usize = 8;

/// The header map every image response starts from, and where in it each
/// fixed header is.
struct Template {
    /// Every `FIXED` name, inserted in that order, each with a placeholder.
    map: HeaderMap,
    /// For each entry in the map's order, its index in `FIXED`.
    order: [usize; 24],
}

impl Template {
    fn new(room: usize) -> Template {
        let mut map = HeaderMap::with_capacity(room);
        for name in FIXED {
            map.insert(HeaderName::from_static(name), HeaderValue::from_static(""));
        }
        let mut order = [0; 24];
        for (slot, (name, _)) in order.iter_mut().zip(map.iter()) {
            *slot = FIXED.iter().position(|f| *f == name.as_str()).unwrap_or(0);
        }
        Template { map, order }
    }

    /// The index in `FIXED` of the `k`th entry the map visits: known from
    /// its order, checked (one pointer comparison: the names are the
    /// `FIXED` strings themselves), looked up should it ever differ.
    fn fixed_index(&self, k: usize, name: &HeaderName) -> Option<usize> {
        let at = self.order.get(k).copied()?;
        if std::ptr::eq(name.as_str(), FIXED[at]) {
            return Some(at);
        }
        FIXED.iter().position(|f| *f == name.as_str())
    }
}

/// actix keeps headers in a hash map whose iteration order (the order they
/// go on the wire) depends on a seed drawn for each new map and on its
/// size; a clone keeps the seed and the layout, so every response cloned
/// from one of these lists its headers in the same order, and, the map
/// never growing, the fixed headers never move. One per size class, the
/// class chosen by the number of properties, so that the map (cleared and
/// cloned for every response) is no bigger than an image needs, and one
/// image's responses all start from the same template.
static TEMPLATES: [OnceLock<Template>; CLASSES] = [const { OnceLock::new() }; CLASSES];

/// The template for an image with `properties` properties.
fn template(properties: usize) -> &'static Template {
    let room = FIXED.len() + properties + EXTRA_ROOM;
    let class = (0..CLASSES - 1)
        .find(|k| room <= 56 << k)
        .unwrap_or(CLASSES - 1);
    TEMPLATES[class].get_or_init(|| Template::new(56 << class))
}

/// The whole image as `x-image-meta-*` headers, in both spellings of the
/// multi-word names, then its `properties` (sorted by key), followed by
/// `extra` (the response's own headers), in one order for every response
/// of the process. `image` is the catalogue's row as read (a HEAD) or an
/// `Image` seen the same way (`Viewed`). Every value is written into one
/// buffer, which the header values share (no `String` and no copy per
/// value).
pub(super) fn image_headers<'p, P>(
    image: &ListedImage<'_>,
    properties: P,
    dialect: Dialect,
    extra: HeaderMap,
) -> HeaderMap
where
    P: Iterator<Item = (&'p str, &'p str)> + Clone,
{
    let mut out = Vec::with_capacity(1024);
    let fixed = fixed_values(&mut out, image, dialect);
    let values: Vec<Range<usize>> = properties
        .clone()
        .map(|(_, value)| span(&mut out, |o| dialect.write_header_value(o, value)))
        .collect();
    let shared = Bytes::from(out);
    let value = |r: &Range<usize>| HeaderValue::from_maybe_shared(shared.slice(r.clone())).ok();
    let template = template(values.len());
    let mut map = template.map.clone();
    // Every fixed name is in the map, one value each, where it will stay;
    // one the image does not have in this dialect (or whose value a header
    // cannot carry, left out as it always was) is taken out, which moves
    // no other.
    let mut k = 0;
    map.retain(|name, slot| {
        let at = template.fixed_index(k, name);
        k += 1;
        match at.and_then(|i| fixed[i].as_ref()).and_then(value) {
            Some(v) => {
                *slot = v;
                true
            }
            None => false,
        }
    });
    put_properties(
        &mut map,
        properties.map(|(key, _)| key),
        dialect,
        &values,
        value,
    );
    for (name, value) in extra {
        map.append(name, value);
    }
    map
}

/// An `Image` as its headers see it: borrowed, as a listing's row would
/// read it.
pub(super) struct Viewed<'a> {
    id: [u8; 36],
    image: &'a Image,
}

impl<'a> Viewed<'a> {
    /// `image`, to be seen as a row.
    pub(super) fn new(image: &'a Image) -> Viewed<'a> {
        let mut id = [0; 36];
        image.id.encode(&mut id);
        Viewed { id, image }
    }

    /// The image as a row reads, its properties in their order.
    pub(super) fn row(&self) -> ListedImage<'_> {
        let i = self.image;
        ListedImage {
            id: std::str::from_utf8(&self.id).unwrap_or_default(),
            name: &i.name,
            location: &i.location,
            status: i.status.as_str(),
            protected: i.protected,
            disk_format: &i.disk_format,
            container_format: &i.container_format,
            size: i.size as i64,
            checksum: &i.checksum,
            md5: i.md5.as_deref(),
            created_at: i.created_at,
            updated_at: i.updated_at,
            deleted_at: i.deleted_at,
            is_public: i.is_public(),
            visibility: i.visibility.as_str(),
            owner: &i.owner,
            min_ram: i.min_ram as i64,
            min_disk: i.min_disk as i64,
            properties_json: None,
        }
    }
}

/// Appends `f`'s writing to `out`; where it is.
fn span(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) -> Range<usize> {
    let start = out.len();
    f(out);
    start..out.len()
}

/// The checksum a dialect shows (`Dialect::checksum`): the Pithos hash,
/// or (Glance) the MD5 where known.
fn shown_checksum<'a>(image: &ListedImage<'a>, dialect: Dialect) -> Option<&'a str> {
    match dialect {
        Dialect::Cyclades => Some(image.checksum),
        Dialect::Glance => image.md5,
    }
}

/// Writes the values of the `FIXED` headers into `out`; where each is, in
/// `FIXED`'s order (the two spellings of a name share one), `None` for one
/// the image does not have in this dialect.
fn fixed_values(
    out: &mut Vec<u8>,
    image: &ListedImage<'_>,
    dialect: Dialect,
) -> [Option<Range<usize>>; 24] {
    let mut text = |s: &str| Some(span(out, |o| o.extend_from_slice(s.as_bytes())));
    let id = text(image.id);
    let location = text(image.location);
    let status = text(image.status);
    let checksum = shown_checksum(image, dialect).and_then(&mut text);
    let owner = text(image.owner);
    let disk = text(image.disk_format);
    let container = text(image.container_format);
    let public = text(if image.is_public { "True" } else { "False" });
    let protected = text(if image.protected { "True" } else { "False" });
    let name = Some(span(out, |o| dialect.write_header_value(o, image.name)));
    // Stored as SQL's signed integers, never negative (the schema checks).
    let number = |out: &mut Vec<u8>, n: i64| {
        Some(span(out, |o| {
            o.extend_from_slice(itoa::Buffer::new().format(n as u64).as_bytes());
        }))
    };
    let size = number(out, image.size);
    let min_ram = number(out, image.min_ram);
    let min_disk = number(out, image.min_disk);
    let time = |out: &mut Vec<u8>, t: Option<i64>| {
        Some(span(out, |o| {
            t.into_iter().for_each(|t| write_micros(o, t));
        }))
    };
    let created = time(out, Some(image.created_at));
    let updated = time(out, Some(image.updated_at));
    let deleted = time(out, image.deleted_at);
    [
        id,
        name,
        location,
        status,
        size,
        checksum,
        owner,
        disk.clone(),
        disk,
        container.clone(),
        container,
        created.clone(),
        created,
        updated.clone(),
        updated,
        deleted.clone(),
        deleted,
        public.clone(),
        public,
        min_ram.clone(),
        min_ram,
        min_disk.clone(),
        min_disk,
        protected,
    ]
}

/// A property's header name: `x-image-meta-property-` and its key,
/// percent-encoded; `None` if that is no header name.
fn property_name(key: &str, dialect: Dialect) -> Option<HeaderName> {
    const PREFIX: &[u8] = b"x-image-meta-property-";
    let mut name = Vec::with_capacity(PREFIX.len() + key.len() + 16);
    name.extend_from_slice(PREFIX);
    encode_header_value_into(&mut name, key);
    // Cyclades (Synnefo) spells keys with `-`; Glance clients show the
    // key as sent, so the Glance dialect keeps the stored `_`.
    if dialect == Dialect::Cyclades {
        for b in &mut name[PREFIX.len()..] {
            if *b == b'_' {
                *b = b'-';
            }
        }
    }
    HeaderName::from_bytes(&name).ok()
}

thread_local! {
    /// The property header names this thread made for the last image it
    /// rendered, in each dialect (Cyclades, Glance), by position: the next
    /// image's (often the same image again, or one with the same keys)
    /// are cloned from here, not made again. Never more than one image's.
    static LAST_NAMES: RefCell<[Vec<(String, HeaderName)>; 2]> = RefCell::default();
}

/// The image's properties as `x-image-meta-property-<key>` headers, their
/// values where `image_headers` wrote them.
fn put_properties<'p>(
    map: &mut HeaderMap,
    keys: impl Iterator<Item = &'p str>,
    dialect: Dialect,
    values: &[Range<usize>],
    value: impl Fn(&Range<usize>) -> Option<HeaderValue>,
) {
    LAST_NAMES.with_borrow_mut(|last| {
        let last = &mut last[usize::from(dialect == Dialect::Glance)];
        for (i, (key, range)) in keys.zip(values).enumerate() {
            let name = match last.get(i) {
                Some((k, name)) if k == key => name.clone(),
                _ => {
                    let Some(name) = property_name(key, dialect) else {
                        continue;
                    };
                    let made = (key.to_string(), name.clone());
                    match i.cmp(&last.len()) {
                        Ordering::Less => last[i] = made,
                        Ordering::Equal => last.push(made),
                        Ordering::Greater => {}
                    }
                    name
                }
            };
            if let Some(v) = value(range) {
                map.append(name, v);
            }
        }
        last.truncate(values.len());
    });
}

/// An image's properties as the catalogue keeps them (one JSON object of
/// strings), borrowed where no escape was written, in the order an
/// `Image`'s map holds them: sorted by key, a repeated key's last value.
pub(super) struct StoredProperties<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> StoredProperties<'a> {
    /// Parses the stored `json`; an error names it as stored data that
    /// does not parse (never the caller's fault).
    pub(super) fn parse(json: &'a str) -> Result<StoredProperties<'a>, AppError> {
        let mut pairs = match plain_pairs(json) {
            Some(pairs) => pairs,
            None => {
                serde_json::from_str::<StoredProperties<'a>>(json)
                    .map_err(|_| {
                        AppError::internal(format!("stored properties '{json}' are invalid"))
                    })?
                    .0
            }
        };
        if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let mut kept: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(pairs.len());
            for pair in pairs {
                match kept.last_mut() {
                    Some(last) if last.0 == pair.0 => *last = pair,
                    _ => kept.push(pair),
                }
            }
            pairs = kept;
        }
        Ok(StoredProperties(pairs))
    }

    /// Each key and value, in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }
}

/// The pairs of `json` if it is an object of strings none of which has an
/// escape (as serde_json writes most properties), each borrowed; `None`
/// for anything else, which serde_json then reads (or refuses). What this
/// takes, serde_json reads alike: JSON's blanks between the tokens, no
/// control character in a string.
fn plain_pairs(json: &str) -> Option<Vec<(Cow<'_, str>, Cow<'_, str>)>> {
    let mut rest = json.trim_start_matches(JSON_BLANK).strip_prefix('{')?;
    let mut pairs = Vec::with_capacity(16);
    rest = rest.trim_start_matches(JSON_BLANK);
    if let Some(after) = rest.strip_prefix('}') {
        return after.trim_matches(JSON_BLANK).is_empty().then_some(pairs);
    }
    loop {
        let (key, after) = plain_string(rest)?;
        let after = after.trim_start_matches(JSON_BLANK).strip_prefix(':')?;
        let (value, after) = plain_string(after.trim_start_matches(JSON_BLANK))?;
        pairs.push((Cow::Borrowed(key), Cow::Borrowed(value)));
        let after = after.trim_start_matches(JSON_BLANK);
        if let Some(next) = after.strip_prefix(',') {
            rest = next.trim_start_matches(JSON_BLANK);
        } else {
            let end = after.strip_prefix('}')?;
            return end.trim_matches(JSON_BLANK).is_empty().then_some(pairs);
        }
    }
}

/// The blanks JSON allows between tokens.
const JSON_BLANK: [char; 4] = [' ', '\t', '\n', '\r'];

/// A JSON string at the start of `s` with no escape and no control
/// character, and what follows it.
fn plain_string(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix('"')?;
    let end = body
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
    (body.as_bytes()[end] == b'"').then(|| (&body[..end], &body[end + 1..]))
}

/// A JSON string, borrowed when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(Visit)
    }
}

impl<'de> Deserialize<'de> for StoredProperties<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = StoredProperties<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((Text(k), Text(v))) = m.next_entry::<Text<'de>, Text<'de>>()? {
                    pairs.push((k, v));
                }
                Ok(StoredProperties(pairs))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    fn map(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn both_spellings_and_punctuation_normalise() {
        for name in [
            "X-Image-Meta-Disk-Format",
            "x-image-meta-disk_format",
            "X-IMAGE-META-DISK.FORMAT",
        ] {
            let m = parse_meta(&map(&[(name, b"raw")])).unwrap();
            assert_eq!(m.get(Field::DiskFormat), Some("raw"), "{name}");
        }
    }

    #[test]
    fn properties_are_decoded_and_normalised() {
        let m = parse_meta(&map(&[
            ("X-Image-Meta-Property-Root-Partition", b"1"),
            ("x-image-meta-property-ROOT_PARTITION", b"1"),
            ("X-Image-Meta-Property-%CE%B5%CE%BB", b"caf%C3%A9+1"),
            ("X-Image-Meta-Property-Raw", "Καλημέρα".as_bytes()),
        ]))
        .unwrap();
        assert_eq!(m.properties["root_partition"], "1");
        assert_eq!(m.properties["ελ"], "café+1");
        assert_eq!(m.properties["raw"], "Καλημέρα");
    }

    /// What a whole `Image` holds of these stored properties.
    fn as_a_map(json: &str) -> Option<Vec<(String, String)>> {
        let map = serde_json::from_str::<BTreeMap<String, String>>(json).ok()?;
        Some(map.into_iter().collect())
    }

    #[test]
    fn stored_properties_read_as_an_images_map_reads_them() {
        for json in [
            "{}",
            " { } ",
            r#"{"a":"1","b":"2"}"#,
            " {\n\t\"b\" : \"2\" ,\r\"a\":\"1\" } ",
            r#"{"a":"1","a":"2","c":"","b":"x"}"#,
            r#"{"os":"debian linux","\u03b5":"caf\u00e9","q":"a\"b\\c"}"#,
            r#"{"k":"Καλημέρα","j":"x/y"}"#,
        ] {
            let parsed = StoredProperties::parse(json).unwrap();
            let pairs: Vec<(String, String)> = parsed
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(Some(pairs), as_a_map(json), "{json}");
        }
    }

    #[test]
    fn stored_properties_that_are_no_object_of_strings_are_refused() {
        for json in [
            "",
            "[]",
            "{",
            r#"{"a":1}"#,
            r#"{"a":"1",}"#,
            r#"{"a":"1"} x"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a" "1"}"#,
        ] {
            assert_eq!(as_a_map(json), None, "serde_json refuses {json:?}");
            assert!(StoredProperties::parse(json).is_err(), "{json:?}");
        }
    }

    #[test]
    fn bad_headers_are_named() {
        let cases: [(&str, &[u8], &str); 6] = [
            ("X-Image-Meta-Colour", b"x", "x-image-meta-colour"),
            ("X-Image-Meta-Name", b"%zz", "X-Image-Meta-Name"),
            ("X-Image-Meta-Name", b"\xff", "x-image-meta-name"),
            ("X-Image-Meta-Property-", b"x", "property key"),
            ("X-Image-Meta-Property-A", b"%C3", "property 'a'"),
            ("X-Glance-Registry-Purge-Props", b"maybe", "purge-props"),
        ];
        for (name, value, needle) in cases {
            match parse_meta(&map(&[(name, value)])) {
                Err(AppError::Invalid(m)) => assert!(m.contains(needle), "{name}: {m}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
