//! Image metadata in headers (docs/api.md §5): parsing `X-Image-Meta-*` requests and
//! rendering an image as response headers.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;

use crate::domain::ids::truncate;
use crate::domain::image::{check_property_value, parse_bool, property_key_of, Image};
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

/// Room for every header an image response has without the map growing.
const ROOM: usize = 256;

/// The header map every image response starts from. actix keeps headers in
/// a hash map whose iteration order (the order they go on the wire) depends
/// on a seed drawn for each new map; a clone keeps the seed and the layout,
/// so every response cloned from this one lists its headers in the same
/// order, and, the map never growing, the fixed headers never move.
static TEMPLATE: LazyLock<HeaderMap> = LazyLock::new(|| {
    let mut map = HeaderMap::with_capacity(ROOM);
    for name in FIXED {
        map.insert(HeaderName::from_static(name), HeaderValue::from_static(""));
    }
    for name in FIXED {
        map.remove(name);
    }
    map
});

/// `FIXED` as header names, made once.
static NAMES: LazyLock<[HeaderName; 24]> = LazyLock::new(|| FIXED.map(HeaderName::from_static));

/// The whole image as `x-image-meta-*` headers, in both spellings of the
/// multi-word names, followed by `extra` (the response's own headers), in
/// one order for every response of the process. Every value is written
/// into one buffer, which the header values share (no `String` and no copy
/// per value).
pub(super) fn image_headers(image: &Image, dialect: Dialect, extra: HeaderMap) -> HeaderMap {
    let mut map = TEMPLATE.clone();
    let mut out = Vec::with_capacity(1024);
    let fixed = fixed_values(&mut out, image, dialect);
    let properties = property_values(&mut out, image, dialect);
    let shared = Bytes::from(out);
    let value = |r: &Range<usize>| HeaderValue::from_maybe_shared(shared.slice(r.clone())).ok();
    // Every fixed name goes in, in FIXED's order, before anything else, so
    // that each lands where it did in the template; an absent one is then
    // taken out again, which moves no other. (A value a header cannot
    // carry is left out, as it always was.)
    for (name, range) in NAMES.iter().zip(&fixed) {
        match range {
            Some(r) => {
                if let Some(v) = value(r) {
                    map.insert(name.clone(), v);
                }
            }
            None => {
                map.insert(name.clone(), HeaderValue::from_static(""));
            }
        }
    }
    for (name, range) in NAMES.iter().zip(&fixed) {
        if range.is_none() {
            map.remove(name);
        }
    }
    put_properties(&mut map, image, dialect, &properties, value);
    for (name, value) in extra {
        map.append(name, value);
    }
    map
}

/// Appends `f`'s writing to `out`; where it is.
fn span(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) -> Range<usize> {
    let start = out.len();
    f(out);
    start..out.len()
}

/// Writes the values of the `FIXED` headers into `out`; where each is, in
/// `FIXED`'s order (the two spellings of a name share one), `None` for one
/// the image does not have in this dialect.
fn fixed_values(out: &mut Vec<u8>, image: &Image, dialect: Dialect) -> [Option<Range<usize>>; 24] {
    let mut text = |s: &str| Some(span(out, |o| o.extend_from_slice(s.as_bytes())));
    let id = text(image.id.encode(&mut [0; 36]));
    let location = text(&image.location);
    let status = text(image.status.as_str());
    let checksum = dialect.checksum(image).and_then(&mut text);
    let owner = text(&image.owner);
    let disk = text(&image.disk_format);
    let container = text(&image.container_format);
    let public = text(if image.is_public() { "True" } else { "False" });
    let protected = text(if image.protected { "True" } else { "False" });
    let name = Some(span(out, |o| dialect.write_header_value(o, &image.name)));
    let number = |out: &mut Vec<u8>, n: u64| {
        Some(span(out, |o| {
            o.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
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

/// Writes the values of the image's properties into `out`, in their order;
/// where each is.
fn property_values(out: &mut Vec<u8>, image: &Image, dialect: Dialect) -> Vec<Range<usize>> {
    image
        .properties
        .values()
        .map(|value| span(out, |o| dialect.write_header_value(o, value)))
        .collect()
}

/// The image's properties as `x-image-meta-property-<key>` headers, their
/// values where `property_values` wrote them.
fn put_properties(
    map: &mut HeaderMap,
    image: &Image,
    dialect: Dialect,
    values: &[Range<usize>],
    value: impl Fn(&Range<usize>) -> Option<HeaderValue>,
) {
    const PREFIX: &[u8] = b"x-image-meta-property-";
    let mut name = Vec::with_capacity(64);
    for (key, range) in image.properties.keys().zip(values) {
        name.clear();
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
        if let (Ok(n), Some(v)) = (HeaderName::from_bytes(&name), value(range)) {
            map.append(n, v);
        }
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
