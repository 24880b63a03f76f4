//! Image metadata in headers (docs/api.md §5): parsing `X-Image-Meta-*` requests and
//! rendering an image as response headers.

use std::borrow::Cow;
use std::collections::BTreeMap;

use std::sync::LazyLock;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::ids::truncate;
use crate::domain::image::{check_property_value, parse_bool, property_key_of, Image};
use crate::domain::percent::{decode, encode_header_value};
use crate::domain::time::format_micros;
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

fn put(map: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        map.insert(HeaderName::from_static(name), v);
    }
}

/// The whole image as `x-image-meta-*` headers, in both spellings of the
/// multi-word names, followed by `extra` (the response's own headers), in
/// one order for every response of the process.
pub(super) fn image_headers(image: &Image, dialect: Dialect, extra: HeaderMap) -> HeaderMap {
    let mut map = TEMPLATE.clone();
    let values = fixed_values(image, dialect);
    // Every fixed name goes in, in FIXED's order, before anything else, so
    // that each lands where it did in the template; an absent one is then
    // taken out again, which moves no other.
    for (name, value) in FIXED.into_iter().zip(&values) {
        put(&mut map, name, value.as_deref().unwrap_or_default());
    }
    for (name, value) in FIXED.into_iter().zip(&values) {
        if value.is_none() {
            map.remove(name);
        }
    }
    put_properties(&mut map, image, dialect);
    for (name, value) in extra {
        map.append(name, value);
    }
    map
}

/// The values of the `FIXED` headers, in its order; `None` for one the image
/// does not have in this dialect.
fn fixed_values(image: &Image, dialect: Dialect) -> [Option<Cow<'_, str>>; 24] {
    let own = |s: String| Some(Cow::Owned(s));
    let twice = |s: String| [Some(Cow::Owned(s.clone())), Some(Cow::Owned(s))];
    let [created, created_] = twice(format_micros(image.created_at));
    let [updated, updated_] = twice(format_micros(image.updated_at));
    let [deleted, deleted_] = twice(image.deleted_at.map(format_micros).unwrap_or_default());
    let [min_ram, min_ram_] = twice(image.min_ram.to_string());
    let [min_disk, min_disk_] = twice(image.min_disk.to_string());
    let public = Some(Cow::Borrowed(if image.is_public() {
        "True"
    } else {
        "False"
    }));
    let disk = Some(Cow::Borrowed(image.disk_format.as_str()));
    let container = Some(Cow::Borrowed(image.container_format.as_str()));
    [
        own(image.id.to_string()),
        Some(dialect.header_value(&image.name)),
        Some(Cow::Borrowed(&image.location)),
        Some(Cow::Borrowed(image.status.as_str())),
        own(image.size.to_string()),
        dialect.checksum(image).map(Cow::Borrowed),
        Some(Cow::Borrowed(&image.owner)),
        disk.clone(),
        disk,
        container.clone(),
        container,
        created,
        created_,
        updated,
        updated_,
        deleted,
        deleted_,
        public.clone(),
        public,
        min_ram,
        min_ram_,
        min_disk,
        min_disk_,
        Some(Cow::Borrowed(if image.protected {
            "True"
        } else {
            "False"
        })),
    ]
}

/// The image's properties as `x-image-meta-property-<key>` headers.
fn put_properties(map: &mut HeaderMap, image: &Image, dialect: Dialect) {
    for (key, value) in &image.properties {
        // Cyclades (Synnefo) spells keys with `-`; Glance clients show the
        // key as sent, so the Glance dialect keeps the stored `_`.
        let key = encode_header_value(key);
        let key = match dialect {
            Dialect::Cyclades => key.replace('_', "-"),
            Dialect::Glance => key,
        };
        let name = format!("x-image-meta-property-{key}");
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&dialect.header_value(value)),
        ) {
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
