//! Generated-input tests of the domain parsers: percent coding, locations,
//! ids, property keys, counts and booleans, listing queries and times.
//!
//! No input may panic, every failure is a 400, and round trips hold. The
//! number of cases of each property is `PROPTEST_CASES` (proptest's default,
//! 256, when unset); `make fuzz` runs many more.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use super::ids::{is_valid_user_id, parse_member_id, ImageId};
use super::image::{normalise_property_key, parse_bool, parse_count};
use super::listing::{ListQuery, SortKey, MAX_LIMIT};
use super::location::{Location, MAX_CONTAINER_LEN, MAX_OBJECT_LEN};
use super::percent::{decode, decode_query, encode_header_value, encode_segment, DecodeError};
use super::range::ByteRange;
use super::time::{format_micros, parse_since};
use crate::error::AppError;

/// `PROPTEST_CASES` cases a property (proptest reads it), no regression files.
pub(crate) fn config() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Only 400s: any other error (500 above all) is a bug.
pub(crate) fn only_bad_request<T: std::fmt::Debug>(
    r: &Result<T, AppError>,
) -> Result<(), TestCaseError> {
    match r {
        Ok(_) | Err(AppError::Invalid(_)) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("not a 400: {e:?}"))),
    }
}

/// A reference decoder, written from the contract: `%XX` with two hex
/// digits, once; anything else after a `%` is an error; the bytes must be UTF-8.
fn reference_decode(s: &str) -> Result<String, &'static str> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err("escape"),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "utf8")
}

/// Strings rich in percent signs, hex digits, escapes of every byte (UTF-8
/// lead and continuation bytes among them) and arbitrary characters.
fn percentish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("%".to_string()),
        "[0-9a-fA-F]",
        "%[0-9a-fA-F]{2}",
        "%[89a-fA-F][0-9a-fA-F]",
        "%[cdeCDE][0-9a-fA-F]%[89abAB][0-9a-fA-F]",
        "%[0-9a-fA-F]",
        "%[g-zG-Z%+ ]",
        "[a-z+/ .~_-]",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Spells `s` with some characters percent-encoded (either hex case), as a
/// client may. `%` itself is always encoded; `keep` characters never are.
fn spell(s: &str, mask: &[bool], lower: bool, keep: &[char]) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        let encode = c == '%' || (mask.get(i % mask.len().max(1)).copied().unwrap_or(false));
        if encode && !keep.contains(&c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                if lower {
                    out.push_str(&format!("%{b:02x}"));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `s` holds only `safe` characters and `%XX` escapes in upper-case hex.
fn only_safe_and_upper_escapes(s: &str, safe: impl Fn(u8) -> bool) -> bool {
    let upper_hex =
        |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c));
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if !(upper_hex(b.get(i + 1)) && upper_hex(b.get(i + 2))) {
                return false;
            }
            i += 3;
        } else if safe(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

fn header_safe(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"_.-~/".contains(&c)
}

fn segment_safe(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"_.-~".contains(&c)
}

/// A location part as a client may name it: any characters but `/` and NUL,
/// not `.` or `..`.
fn part(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => "[a-zA-Z0-9._~-]",
            1 => "[ %?#+&=:@!$'()*,;\\[\\]]",
            1 => any::<char>().prop_filter("no / or NUL", |c| *c != '/' && *c != '\0')
                .prop_map(|c| c.to_string()),
        ],
        1..=max_chars,
    )
    .prop_map(|v| v.concat())
    .prop_filter("not . or ..", |s| s != "." && s != "..")
}

/// A valid user id: 1-255 characters of `[A-Za-z0-9@._-]`.
fn user_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9@._-]{1,40}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

proptest! {
    #![proptest_config(config())]

    // ---- percent coding ----

    #[test]
    fn decode_agrees_with_the_reference_and_never_panics(s in percentish()) {
        match (decode(&s), reference_decode(&s)) {
            (Ok(d), Ok(r)) => prop_assert_eq!(d, r),
            (Err(DecodeError::BadEscape(_)), Err("escape")) => {}
            (Err(DecodeError::NotUtf8), Err("utf8")) => {}
            (got, want) => prop_assert!(false, "{:?}: got {:?}, want {:?}", s, got, want),
        }
    }

    #[test]
    fn decode_of_any_string_never_panics(s in any::<String>()) {
        let _ = decode(&s);
        let _ = decode_query(&s);
    }

    #[test]
    fn decode_query_is_plus_as_space_then_decode(s in percentish()) {
        let want = reference_decode(&s.replace('+', " "));
        match (decode_query(&s), want) {
            (Ok(d), Ok(r)) => prop_assert_eq!(d, r),
            (Err(_), Err(_)) => {}
            (got, want) => prop_assert!(false, "{:?}: got {:?}, want {:?}", s, got, want),
        }
    }

    #[test]
    fn header_value_encoding_round_trips_and_leaves_only_the_safe_set(s in any::<String>()) {
        let enc = encode_header_value(&s);
        let mut into = Vec::new();
        super::percent::encode_header_value_into(&mut into, &s);
        prop_assert_eq!(into.as_slice(), enc.as_bytes());
        prop_assert!(only_safe_and_upper_escapes(&enc, header_safe), "{:?} -> {:?}", s, enc);
        prop_assert!(actix_web::http::header::HeaderValue::from_str(&enc).is_ok());
        prop_assert_eq!(decode(&enc).unwrap(), s);
    }

    #[test]
    fn segment_encoding_round_trips_and_leaves_only_the_safe_set(s in any::<String>()) {
        let enc = encode_segment(&s);
        prop_assert!(only_safe_and_upper_escapes(&enc, segment_safe), "{:?} -> {:?}", s, enc);
        prop_assert_eq!(decode(&enc).unwrap(), s);
    }

    #[test]
    fn any_spelling_decodes_to_the_text(s in any::<String>(), mask in prop::collection::vec(any::<bool>(), 1..8), lower in any::<bool>()) {
        let spelled = spell(&s, &mask, lower, &[]);
        prop_assert_eq!(decode(&spelled).unwrap(), s);
    }

    // ---- locations ----

    #[test]
    fn location_parse_never_panics_and_round_trips(tail in prop::collection::vec(
        prop_oneof![Just("/".to_string()), Just(".".to_string()), Just("..".to_string()),
                    Just("%2F".to_string()), Just("%2e".to_string()), Just("%00".to_string()),
                    percentish()], 0..12),
        scheme in prop_oneof![8 => Just("pithos://"), 1 => Just("PITHOS://"), 1 => Just("pithos:/"), 1 => Just("")],
    ) {
        let raw = format!("{scheme}{}", tail.concat());
        let parsed = Location::parse(&raw);
        only_bad_request(&parsed)?;
        if let Ok(loc) = parsed {
            let canon = loc.canonical();
            let again = Location::parse(&canon);
            prop_assert!(again.is_ok(), "{:?} -> {:?} does not parse", raw, canon);
            let again = again.unwrap();
            prop_assert_eq!(&again, &loc);
            prop_assert_eq!(again.canonical(), canon.clone());
            let body = canon.strip_prefix("pithos://").unwrap();
            prop_assert!(only_safe_and_upper_escapes(&body.replace('/', ""), segment_safe));
            prop_assert!(is_valid_user_id(loc.account()));
            prop_assert!(!loc.container().is_empty() && loc.container().len() <= MAX_CONTAINER_LEN);
            prop_assert!(loc.object_path().len() <= MAX_OBJECT_LEN);
            for seg in loc.segments() {
                prop_assert!(!seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\0') && !seg.contains('/'));
            }
        }
    }

    #[test]
    fn every_spelling_of_a_valid_location_parses_to_its_parts(
        account in user_id(),
        container in part(12),
        segments in prop::collection::vec(part(10), 1..5),
        mask in prop::collection::vec(any::<bool>(), 1..6),
        lower in any::<bool>(),
        encoded_slashes in any::<bool>(),
    ) {
        prop_assume!(container.len() <= MAX_CONTAINER_LEN);
        let object = segments.join("/");
        prop_assume!(object.len() <= MAX_OBJECT_LEN);
        let sep = if encoded_slashes { "%2F" } else { "/" };
        let spelled_object: Vec<String> = segments.iter().map(|s| spell(s, &mask, lower, &[])).collect();
        let raw = format!(
            "pithos://{}/{}/{}",
            spell(&account, &mask, lower, &[]),
            spell(&container, &mask, lower, &[]),
            spelled_object.join(sep)
        );
        let loc = Location::parse(&raw);
        prop_assert!(loc.is_ok(), "{:?}: {:?}", raw, loc);
        let loc = loc.unwrap();
        prop_assert_eq!(loc.account(), account.as_str());
        prop_assert_eq!(loc.container(), container.as_str());
        prop_assert_eq!(loc.segments(), &segments[..]);
        prop_assert_eq!(loc.object_path(), object);
        let canon = loc.canonical();
        prop_assert_eq!(Location::parse(&canon).unwrap(), loc);
        // One spelling per object: the canonical one of a plain spelling is the same.
        let plain = format!("pithos://{}/{}/{}", encode_segment(&account), encode_segment(&container),
            segments.iter().map(|s| encode_segment(s)).collect::<Vec<_>>().join("/"));
        prop_assert_eq!(canon, plain);
    }

    // ---- ids ----

    #[test]
    fn image_ids_parse_in_either_case_and_render_lower(n in any::<u128>(), upper in prop::collection::vec(any::<bool>(), 36)) {
        let lower = uuid::Uuid::from_u128(n).hyphenated().to_string();
        let mixed: String = lower.chars().zip(upper.iter()).map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c }).collect();
        let id = ImageId::parse(&mixed);
        prop_assert!(id.is_ok());
        prop_assert_eq!(id.unwrap().to_string(), lower);
    }

    #[test]
    fn image_id_parse_never_panics_and_accepts_only_the_hyphenated_form(s in prop_oneof![
        "[0-9a-fA-F-]{30,40}",
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        "[0-9a-gA-G-]{36}",
        any::<String>(),
    ]) {
        let r = ImageId::parse(&s);
        only_bad_request(&r)?;
        let shaped = s.len() == 36 && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
        prop_assert_eq!(r.is_ok(), shaped, "{:?}", s);
        if let Ok(id) = r {
            prop_assert_eq!(id.to_string(), s.to_ascii_lowercase());
        }
    }

    #[test]
    fn member_ids_are_exactly_the_documented_set(s in prop_oneof![
        "[A-Za-z0-9@._-]{0,300}",
        "[A-Za-z0-9@._ /%+:-]{0,20}",
        any::<String>(),
    ]) {
        let want = !s.is_empty() && s.len() <= 255
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"@._-".contains(&c));
        prop_assert_eq!(is_valid_user_id(&s), want);
        let r = parse_member_id(&s, "member id");
        only_bad_request(&r)?;
        prop_assert_eq!(r.ok(), want.then(|| s.clone()));
    }

    // ---- property keys, counts, booleans ----

    #[test]
    fn a_property_key_normalises_to_itself(s in any::<String>()) {
        let k = normalise_property_key(&s);
        prop_assert_eq!(normalise_property_key(&k), k.clone());
        prop_assert_eq!(k.chars().count(), s.chars().count());
        for c in k.chars() {
            prop_assert!(
                c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit() || (!c.is_ascii() && c.is_alphanumeric()),
                "{:?} in {:?}", c, k
            );
        }
    }

    #[test]
    fn counts_are_non_negative_decimal_i64(s in prop_oneof!["[0-9]{0,25}", "[-+ 0-9a-f.eE]{0,8}", any::<String>()], n in any::<i64>()) {
        let r = parse_count("size", &s);
        only_bad_request(&r)?;
        let want = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<i64>().ok().map(|v| v as u64)
        } else {
            None
        };
        prop_assert_eq!(r.ok(), want, "{:?}", s);
        if n >= 0 {
            prop_assert_eq!(parse_count("size", &n.to_string()).unwrap(), n as u64);
        }
    }

    #[test]
    fn booleans_are_true_or_false_in_any_case(s in prop_oneof!["[tTrRuUeEfFaAlLsS]{0,6}", any::<String>()]) {
        let r = parse_bool("is_public", &s);
        only_bad_request(&r)?;
        let l = s.to_ascii_lowercase();
        let want = if l == "true" { Some(true) } else if l == "false" { Some(false) } else { None };
        prop_assert_eq!(r.ok(), want);
    }

    // ---- listing queries ----

    #[test]
    fn any_query_string_is_parsed_or_a_400(pairs in prop::collection::vec((
        prop_oneof![
            Just("name"), Just("status"), Just("disk_format"), Just("container_format"),
            Just("owner"), Just("size_min"), Just("size_max"), Just("is_public"),
            Just("changes-since"), Just("sort_key"), Just("sort_dir"), Just("limit"),
            Just("marker"), Just("property-os"), Just("property-%C3%A9"), Just("property-"),
            Just("x"), Just(""), Just("%zz"),
        ],
        prop_oneof![percentish(), "[0-9]{1,22}", "-?[0-9]{1,3}",
                    "[0-9]{4}-[0-9]{2}-[0-9]{2}[T+ ][0-9:.Z+ -]{0,22}",
                    any::<String>()],
        prop_oneof![Just("="), Just(""), Just("==")],
    ), 0..8), junk in prop_oneof![Just(String::new()), Just("&".to_string()), Just("&&=".to_string()), any::<String>()]) {
        let q: Vec<String> = pairs.iter().map(|(k, v, eq)| format!("{k}{eq}{v}")).collect();
        let query = format!("{}{junk}", q.join("&"));
        only_bad_request(&ListQuery::parse(&query))?;
    }

    #[test]
    fn valid_queries_parse_to_what_was_asked(
        name in any::<String>(),
        owner in user_id(),
        prop_key in "[A-Za-z][A-Za-z0-9_.-]{0,10}",
        prop_value in any::<String>(),
        size_min in 0i64..=i64::MAX,
        size_max in 0i64..=i64::MAX,
        is_public in any::<bool>(),
        sort_key in 0usize..8,
        desc in any::<bool>(),
        limit in 1u32..=MAX_LIMIT,
        marker in any::<u128>(),
        plus in any::<bool>(),
    ) {
        // A client encodes a space as + or %20, and everything else as it likes.
        let enc = |s: &str| {
            let e = encode_segment(s);
            if plus { e.replace("%20", "+") } else { e }
        };
        let keys = ["id", "name", "status", "size", "disk_format", "container_format", "created_at", "updated_at"];
        let marker = uuid::Uuid::from_u128(marker).hyphenated().to_string();
        let query = format!(
            "name={}&owner={owner}&property-{prop_key}={}&size_min={size_min}&size_max={size_max}\
             &is_public={}&sort_key={}&sort_dir={}&limit={limit}&marker={}&unknown=x",
            enc(&name), enc(&prop_value),
            if is_public { "TRUE" } else { "false" }, keys[sort_key],
            if desc { "desc" } else { "asc" }, marker.to_uppercase(),
        );
        let q = ListQuery::parse(&query);
        prop_assert!(q.is_ok(), "{:?}: {:?}", query, q);
        let q = q.unwrap();
        prop_assert_eq!(q.name, Some(name));
        prop_assert_eq!(q.owner, Some(owner));
        prop_assert_eq!(q.properties, vec![(normalise_property_key(&prop_key), prop_value)]);
        prop_assert_eq!(q.size_min, Some(size_min as u64));
        prop_assert_eq!(q.size_max, Some(size_max as u64));
        prop_assert_eq!(q.is_public, Some(is_public));
        prop_assert_eq!(q.sort_key.column(), keys[sort_key]);
        prop_assert_eq!(q.descending, desc);
        prop_assert_eq!(q.limit, Some(limit));
        prop_assert_eq!(q.marker.map(|m| m.to_string()), Some(marker));
        let _ = SortKey::Id;
    }

    // ---- times ----

    #[test]
    fn changes_since_never_panics(s in prop_oneof![
        "[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\\.[0-9]{1,12})?)?)?(Z|[+ -][0-9]{2}:?[0-9]{2}|[+-][0-9]{2})?",
        "[0-9T:. +Z-]{0,30}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}.{0,6}",
        any::<String>(),
    ]) {
        let _ = parse_since(&s);
    }

    #[test]
    fn shown_times_parse_back_to_the_second(t in -62_135_596_800_000_000i64..=253_402_300_799_000_000i64) {
        let shown = format_micros(t);
        let back = parse_since(&shown);
        prop_assert_eq!(back, Some(t.div_euclid(1_000_000) * 1_000_000), "{}", shown);
    }

    #[test]
    fn format_micros_never_panics(t in any::<i64>()) {
        let _ = format_micros(t);
    }

    // ---- ranges ----

    #[test]
    fn range_headers_parse_or_are_a_400(s in prop_oneof![
        "(bytes|BYTES|items)? ?=? ?[0-9]{0,21} ?-? ?[0-9]{0,21}(,[0-9]{0,3}-[0-9]{0,3})?",
        "[bytes=0-9, -]{0,20}",
        any::<String>(),
    ]) {
        let r = ByteRange::parse(&s);
        only_bad_request(&r)?;
    }

    #[test]
    fn ranges_resolve_inside_the_object_or_are_a_416(
        start in prop_oneof![0u64..100, any::<u64>()],
        end in prop::option::of(prop_oneof![0u64..100, any::<u64>()]),
        suffix in any::<bool>(),
        size in prop_oneof![0u64..100, any::<u64>()],
    ) {
        let range = if suffix { ByteRange::Suffix(start) } else { ByteRange::From(start, end.map(|e| e.max(start))) };
        match range.resolve(size) {
            Ok((s, len)) => {
                prop_assert!(len >= 1 && s.checked_add(len).is_some_and(|e| e <= size), "{:?} of {}: ({}, {})", range, size, s, len);
                if let ByteRange::From(a, _) = range { prop_assert_eq!(s, a); }
            }
            Err(AppError::RangeOutside { size: got }) => prop_assert_eq!(got, size),
            Err(e) => prop_assert!(false, "{:?} of {}: {:?}", range, size, e),
        }
    }
}
