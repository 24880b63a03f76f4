//! Generated-input tests of the image API's request parsers: metadata
//! headers (names and values), the rendering of an image as headers, and
//! member ids in paths. (Routes are the router's properties; members
//! bodies through the real server, the crate's `proptests`.)
//!
//! No input may panic or be answered with anything but a 4xx, and round
//! trips hold. `PROPTEST_CASES` sets the number of cases of each property
//! (proptest's default, 256, when unset).

use std::collections::BTreeMap;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

use super::headers::{parse_meta, Field, Viewed};
use super::parse::path_member;
use super::Dialect;
use crate::domain::ids::{is_valid_user_id, ImageId};
use crate::domain::image::{normalise_property_key, Image, Status, MAX_PROPERTY_KEY};
use crate::domain::listing::ListedImage;
use crate::domain::percent::{decode, encode_header_value, encode_segment};
use crate::domain::proptests::{config, only_bad_request};

/// The characters a header name may hold (RFC 9110 tchar).
const TCHAR: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]";

/// One spelling of a field name as a client may send it: any case, and any
/// punctuation between the words.
fn spelled_field() -> impl Strategy<Value = String> {
    let names = prop_oneof![
        Just("name"),
        Just("id"),
        Just("location"),
        Just("store"),
        Just("disk_format"),
        Just("container_format"),
        Just("size"),
        Just("checksum"),
        Just("is_public"),
        Just("owner"),
        Just("min_ram"),
        Just("min_disk"),
        Just("status"),
        Just("created_at"),
        Just("updated_at"),
        Just("deleted_at"),
        Just("uri"),
    ];
    (
        names,
        prop::collection::vec(any::<bool>(), 1..6),
        "[-_.!#$&'*+^`|~]",
    )
        .prop_map(|(n, upper, sep)| {
            n.chars()
                .enumerate()
                .map(|(i, c)| match c {
                    '_' => sep.clone(),
                    c if upper[i % upper.len()] => c.to_ascii_uppercase().to_string(),
                    c => c.to_string(),
                })
                .collect()
        })
}

/// A header name: metadata fields, properties (with keys rich in escapes),
/// purge-props, and others.
fn header_name() -> impl Strategy<Value = String> {
    let key = prop::collection::vec(
        prop_oneof![
            4 => TCHAR,
            1 => "%[0-9a-fA-F]{2}",
            1 => "%[cdeCDE][0-9a-fA-F]%[89abAB][0-9a-fA-F]",
            1 => Just("%".to_string()),
        ],
        0..12,
    )
    .prop_map(|v| v.concat());
    prop_oneof![
        3 => spelled_field().prop_map(|f| format!("X-Image-Meta-{f}")),
        3 => (
            "[pP][rR][oO][pP][eE][rR][tT][yY]",
            "[-_.!#$&'*+^`|~%]?",
            key.clone()
        )
            .prop_map(|(p, sep, k)| format!("x-image-meta-{p}{sep}{k}")),
        1 => key.prop_map(|k| format!("x-image-meta-{k}")),
        1 => Just("X-Glance-Registry-Purge-Props".to_string()),
        1 => proptest::string::string_regex(&format!("{TCHAR}{{1,20}}")).unwrap(),
    ]
}

/// A header value's bytes: what HTTP lets through (HTAB, visible ASCII,
/// space, and any byte above 0x7F), often percent-encoded.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..40),
        any::<String>().prop_map(|s| encode_header_value(&s).into_bytes()),
        "[tTrRuUeEfFaAlLsS]{4,5}".prop_map(String::into_bytes),
        "[0-9]{1,22}".prop_map(String::into_bytes),
        "(%[0-9a-fA-F]{2}|%|[a-z ])*".prop_map(String::into_bytes),
        "pithos://[a-z%]{1,5}/[a-z%./]{1,5}/[a-z%./]{0,9}".prop_map(String::into_bytes),
    ]
}

fn header_map(pairs: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_bytes(v),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// Spells `s` for a raw header value: `%`, controls and whitespace at either
/// end are always escaped, other characters where `mask` says so.
fn spell_value(s: &str, mask: &[bool]) -> String {
    let n = s.chars().count();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        let edge = (i == 0 || i + 1 == n) && (c == ' ' || c == '\t');
        let must = c == '%' || c.is_ascii_control() || edge;
        if must || mask[i % mask.len()] {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A stored-looking image with the given name and properties.
fn image(name: String, properties: BTreeMap<String, String>) -> Image {
    Image {
        id: ImageId::generate(),
        name,
        location: "pithos://alice/images/x%20y".into(),
        status: Status::Available,
        disk_format: "diskdump".into(),
        container_format: "bare".into(),
        size: 42,
        checksum: "0".repeat(64),
        md5: Some("0".repeat(32)),
        created_at: 1_364_566_474_000_000,
        updated_at: 1_364_566_474_000_000,
        deleted_at: None,
        visibility: crate::domain::model::Visibility::Shared,
        os_hidden: false,
        tags: Default::default(),
        os_hash: None,
        virtual_size: None,
        examined: None,
        uploaded: false,
        protected: false,
        owner: "alice".into(),
        min_ram: 0,
        min_disk: 0,
        properties,
    }
}

/// Properties as stored: keys already normalised (1-255 bytes), values not empty.
fn stored_properties() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        any::<String>()
            .prop_map(|k| normalise_property_key(&k))
            .prop_filter("1-255 bytes", |k| {
                !k.is_empty() && k.len() <= MAX_PROPERTY_KEY
            }),
        any::<String>().prop_filter("not empty", |v| !v.is_empty()),
        0..12,
    )
}

fn safe_header_value(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex =
                |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c));
            if !(hex(b.get(i + 1)) && hex(b.get(i + 2))) {
                return false;
            }
            i += 3;
        } else if b[i].is_ascii_alphanumeric() || b"_.-~/".contains(&b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn metadata_headers_parse_or_are_a_400(pairs in prop::collection::vec((header_name(), header_value()), 0..12)) {
        let parsed = parse_meta(&header_map(&pairs));
        only_bad_request(&parsed)?;
        if let Ok(meta) = parsed {
            for (k, v) in &meta.properties {
                prop_assert_eq!(&normalise_property_key(k), k, "a property key normalises to itself");
                prop_assert!(!k.is_empty() && k.len() <= MAX_PROPERTY_KEY);
                prop_assert!(v.len() <= 4096);
            }
        }
    }

    #[test]
    fn metadata_sent_in_any_spelling_reads_back(
        name in any::<String>(),
        props in prop::collection::vec((any::<String>(), any::<String>()), 0..10),
        mask in prop::collection::vec(any::<bool>(), 1..7),
    ) {
        let mut pairs = vec![("x-IMAGE-meta-Name".to_string(), spell_value(&name, &mask).into_bytes())];
        let mut want = BTreeMap::new();
        for (k, v) in &props {
            let key = normalise_property_key(k);
            if key.is_empty() || key.len() > MAX_PROPERTY_KEY || v.len() > 4096 || want.contains_key(&key) {
                continue;
            }
            want.insert(key, v.clone());
            pairs.push((format!("X-Image-Meta-Property-{}", encode_segment(k)), spell_value(v, &mask).into_bytes()));
        }
        let map = header_map(&pairs);
        prop_assert_eq!(map.len(), pairs.len(), "every header is valid HTTP");
        let meta = parse_meta(&map);
        prop_assert!(meta.is_ok(), "{:?}: {:?}", pairs, meta);
        let meta = meta.unwrap();
        prop_assert_eq!(meta.get(Field::Name), Some(name.as_str()));
        prop_assert_eq!(meta.properties, want);
    }

    #[test]
    fn an_image_rendered_as_headers_reads_back(name in any::<String>(), props in stored_properties(), glance in any::<bool>()) {
        let dialect = if glance { Dialect::Glance } else { Dialect::Cyclades };
        let img = image(name.clone(), props.clone());
        // A HEAD renders the catalogue's row, its properties as stored (JSON).
        let json = serde_json::to_string(&props).unwrap();
        let viewed = Viewed::new(&img);
        let row = ListedImage { properties_json: Some(&json), ..viewed.row() };
        let resp = super::render::head(&row, dialect).unwrap();
        // The data GET renders the whole image: the same headers.
        let get = super::render::with_image_headers(actix_web::HttpResponse::Ok().finish(), &img, dialect);
        let pairs = |h: &HeaderMap| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>();
        prop_assert_eq!(pairs(resp.headers()), pairs(get.headers()));
        let headers = resp.headers();
        // Every value in the documented form: percent-encoded leaving only the
        // safe set (Cyclades), or, under /v1, printable ASCII as it is
        // (docs/behaviour.md, "Glance dialect header values").
        let check = |v: &HeaderValue, want: &str| -> Result<(), TestCaseError> {
            let v = v.to_str().unwrap();
            let printable = want.bytes().all(|b| (0x20..0x7f).contains(&b))
                && !want.starts_with(' ') && !want.ends_with(' ');
            if glance && printable {
                prop_assert_eq!(v, want);
            } else {
                prop_assert!(safe_header_value(v), "{:?} for {:?}", v, want);
                prop_assert_eq!(decode(v).unwrap(), want);
            }
            Ok(())
        };
        let rendered_name = headers.get("x-image-meta-name");
        prop_assert!(rendered_name.is_some(), "no x-image-meta-name for {:?}", name);
        check(rendered_name.unwrap(), &name)?;
        let mut rendered = BTreeMap::new();
        for (k, v) in headers {
            if let Some(key) = k.as_str().strip_prefix("x-image-meta-property-") {
                // Cyclades spells the key's `_` as `-`, Glance keeps it.
                let key = decode(key).unwrap();
                let key = if glance { key } else { key.replace('-', "_") };
                prop_assert!(props.contains_key(&key), "{:?} names no property of {:?}", k, props);
                check(v, &props[&key])?;
                rendered.insert(key, v.clone());
            }
        }
        prop_assert_eq!(rendered.len(), props.len(), "a property is missing from the headers: {:?}", headers);
        for h in ["x-image-meta-id", "x-image-meta-location", "x-image-meta-owner", "x-image-meta-disk_format", "x-image-meta-is-public"] {
            prop_assert!(headers.contains_key(h), "{} missing", h);
        }
        // What kamaki sends back as it got it (decoding nothing) is read as
        // the same image.
        if !glance {
            let mut back = HeaderMap::new();
            for (k, v) in headers {
                if k.as_str() == "x-image-meta-name" || k.as_str().starts_with("x-image-meta-property-") {
                    back.append(k.clone(), v.clone());
                }
            }
            let meta = parse_meta(&back);
            prop_assert!(meta.is_ok(), "{:?}", meta);
            let meta = meta.unwrap();
            prop_assert_eq!(meta.get(Field::Name), Some(name.as_str()));
            prop_assert_eq!(meta.properties, props);
        }
    }

    #[test]
    fn member_ids_in_paths_are_decoded_once_then_checked(raw in prop_oneof![
        "[A-Za-z0-9@._-]{1,20}",
        "([A-Za-z0-9@._-]|%[0-9a-fA-F]{2}|%|%4|%zz)*",
        any::<String>(),
    ]) {
        let r = path_member(&raw);
        only_bad_request(&r)?;
        let want = decode(&raw).ok().filter(|d| is_valid_user_id(d));
        prop_assert_eq!(r.ok(), want);
    }
}
