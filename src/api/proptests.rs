//! Generated-input tests of the request parsers of the HTTP layer: metadata
//! headers (names and values), the rendering of an image as headers, routes,
//! member ids in paths, and members JSON bodies (through the real server).
//!
//! No input may panic or be answered with anything but a 4xx, round trips
//! hold, and a refused request changes nothing. `PROPTEST_CASES` sets the
//! number of cases of each property (proptest's default, 256, when unset);
//! the properties that go through the server run a quarter as many.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

use super::headers::{parse_meta, Field};
use super::parse::path_member;
use super::routes::{segments, table};
use super::Dialect;
use crate::domain::ids::{is_valid_user_id, ImageId};
use crate::domain::image::{normalise_property_key, Image, Status, MAX_PROPERTY_KEY};
use crate::domain::percent::{decode, encode_header_value, encode_segment};
use crate::error::AppError;
use crate::http::routing::{locate, Seg};
use crate::router::{surface, Surface};

/// The image API route of a path: its dialect, the route's path and the
/// parameters taken from it.
fn resolve(path: &str, base: &str) -> Option<(Dialect, &'static [Seg], Vec<String>)> {
    match surface(path, base)? {
        Surface::Images(dialect, rest) => {
            let (route, params) = locate(table(dialect), &segments(rest))?;
            Some((dialect, route.path, params))
        }
        _ => None,
    }
}

fn config() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Only 400s: any other error (500 above all) is a bug.
fn only_bad_request<T: std::fmt::Debug>(r: &Result<T, AppError>) -> Result<(), TestCaseError> {
    match r {
        Ok(_) | Err(AppError::Invalid(_)) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("not a 400: {e:?}"))),
    }
}

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
        is_public: false,
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
        let resp = super::render::head(&img, dialect);
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
        for (k, v) in headers.iter() {
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
            for (k, v) in headers.iter() {
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
    fn routes_resolve_or_are_a_404_and_never_panic(
        segs in prop::collection::vec(prop_oneof![
            Just("images".to_string()), Just("detail".to_string()), Just("members".to_string()),
            Just("shared-images".to_string()), Just("v1".to_string()), Just("v1.0".to_string()),
            Just(String::new()), "[a-z0-9%-]{1,8}", any::<String>(),
        ], 0..6),
        base in prop_oneof![Just(""), Just("/base")],
    ) {
        let path = format!("/{}", segs.join("/"));
        if let Some((_, route, params)) = resolve(&path, base) {
            prop_assert_eq!(params.len(), route.iter().filter(|s| **s == Seg::Param).count());
            for p in params {
                prop_assert!(!p.is_empty() && !p.contains('/'), "{:?} -> {:?}", path, route);
            }
        }
    }

    #[test]
    fn routes_with_any_parameter_resolve_to_it(id in "[^/]{1,40}", member in "[^/]{1,40}", prefix in prop_oneof![Just(""), Just("/v1.0"), Just("/v1")]) {
        prop_assume!(id != "detail");
        use Seg::{Lit, Param};
        let dialect = if prefix == "/v1" { Dialect::Glance } else { Dialect::Cyclades };
        let image: &[Seg] = &[Lit("images"), Param];
        let member_route: &[Seg] = &[Lit("images"), Param, Lit("members"), Param];
        let shared: &[Seg] = &[Lit("shared-images"), Param];
        prop_assert_eq!(resolve(&format!("{prefix}/images/{id}"), ""), Some((dialect, image, vec![id.clone()])));
        prop_assert_eq!(resolve(&format!("{prefix}/images/{id}/members/{member}"), ""), Some((dialect, member_route, vec![id.clone(), member.clone()])));
        prop_assert_eq!(resolve(&format!("{prefix}/shared-images/{member}"), ""), Some((dialect, shared, vec![member])));
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

/// A JSON text for a members body: mostly the documented shape, with wrong
/// types, unknown keys, odd member ids and broken syntax mixed in.
fn members_body() -> impl Strategy<Value = Vec<u8>> {
    let member_id = prop_oneof![
        6 => "[a-z]{1,3}[0-9]?".prop_map(serde_json::Value::String),
        1 => Just(serde_json::Value::String("alice".into())),
        2 => any::<String>().prop_map(serde_json::Value::String),
        1 => "[A-Za-z0-9@._-]{250,260}".prop_map(serde_json::Value::String),
        1 => prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::Bool),
            Just(serde_json::json!(["a"])),
        ],
    ];
    let can_share = prop_oneof![
        Just(None),
        any::<bool>().prop_map(|b| Some(serde_json::Value::Bool(b))),
        Just(Some(serde_json::Value::Null)),
        Just(Some(serde_json::json!("false"))),
        Just(Some(serde_json::json!(0))),
    ];
    let entry = (
        member_id,
        can_share,
        prop::option::weighted(0.05, "[a-z_]{1,8}"),
    )
        .prop_map(|(id, share, extra)| {
            let mut m = serde_json::Map::new();
            m.insert("member_id".into(), id);
            if let Some(s) = share {
                m.insert("can_share".into(), s);
            }
            if let Some(k) = extra {
                m.insert(k, serde_json::Value::Null);
            }
            serde_json::Value::Object(m)
        });
    let list = prop::collection::vec(entry, 0..12);
    let shaped = (
        list,
        prop::option::weighted(0.05, "[a-z]{1,10}"),
        prop_oneof![
            8 => Just("memberships"),
            1 => Just("members"),
            1 => Just("Memberships"),
        ],
    )
        .prop_map(|(l, extra, key)| {
            let mut m = serde_json::Map::new();
            m.insert(key.into(), serde_json::Value::Array(l));
            if let Some(k) = extra {
                m.insert(k, serde_json::json!(1));
            }
            serde_json::to_vec(&serde_json::Value::Object(m)).unwrap()
        });
    prop_oneof![
        8 => shaped.clone(),
        1 => (shaped, any::<prop::sample::Index>()).prop_map(|(b, i)| b[..i.index(b.len() + 1)].to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop_oneof![
            Just(b"null".to_vec()),
            Just(b"[]".to_vec()),
            Just(b"{\"memberships\": null}".to_vec()),
            Just(b"{\"memberships\": {}}".to_vec()),
            Just(b"{\"memberships\": [\"a\"]}".to_vec()),
            Just(b"{\"memberships\": [{\"member_id\": \"\\ud800\"}]}".to_vec()),
            Just(b"{\"memberships\": [{\"member_id\": \"a\\u0000\"}]}".to_vec()),
        ],
    ]
}

/// What a members body should do, from the contract: `Some(set)` for a
/// 204 that leaves exactly that set, `None` for a 400 that changes nothing.
fn expected_members(body: &[u8]) -> Option<BTreeSet<String>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let list = obj.get("memberships")?.as_array()?;
    let mut out = BTreeSet::new();
    for e in list {
        let e = e.as_object()?;
        if e.keys().any(|k| k != "member_id" && k != "can_share") {
            return None;
        }
        match e.get("can_share") {
            None | Some(serde_json::Value::Bool(_)) | Some(serde_json::Value::Null) => {}
            Some(_) => return None,
        }
        let id = e.get("member_id")?.as_str()?;
        if !is_valid_user_id(id) {
            return None;
        }
        if id != "alice" {
            out.insert(id.to_string());
        }
    }
    Some(out)
}

/// How many cases the properties that go through the server run.
fn server_cases() -> u32 {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    (cases / 4).max(16)
}

/// A server on a temporary directory with Alice's image registered: its id.
async fn server_with_an_image(
    dir: &std::path::Path,
) -> (String, String, actix_web::dev::ServerHandle) {
    use crate::config::Settings;
    use crate::startup::Application;
    let root = dir.join("objects");
    std::fs::create_dir_all(root.join("alice/images")).unwrap();
    std::fs::write(root.join("alice/images/a.img"), b"hello").unwrap();
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "alice-token alice\n").unwrap();
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        database: dir.join("p.db"),
        ..Settings::default()
    };
    settings.identity.token_file = tokens;
    settings.store.root = root;
    let settings = settings.validated().expect("valid settings");
    let app = Application::build(settings).expect("the app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let resp = reqwest::Client::new()
        .post(format!("{base}/images"))
        .header("X-Auth-Token", "alice-token")
        .header("X-Image-Meta-Name", "a")
        .header("X-Image-Meta-Location", "pithos://alice/images/a.img")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-image-meta-id"]
        .to_str()
        .unwrap()
        .to_string();
    (base, id, handle)
}

async fn members_now(client: &reqwest::Client, base: &str, id: &str) -> BTreeSet<String> {
    let v: serde_json::Value = client
        .get(format!("{base}/images/{id}/members"))
        .header("X-Auth-Token", "alice-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member_id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a property against a real server holding one image of alice's:
/// each case gets the client, the server's base URL and the image id.
fn against_a_server<S, F, Fut>(strategy: S, test: F)
where
    S: Strategy,
    F: Fn(reqwest::Client, String, String, S::Value) -> Fut,
    Fut: std::future::Future<Output = Result<(), TestCaseError>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (base, id, handle) = rt.block_on(server_with_an_image(dir.path()));
    let client = reqwest::Client::new();
    let mut runner = TestRunner::new(Config {
        cases: server_cases(),
        ..config()
    });
    let result = runner.run(&strategy, |value| {
        rt.block_on(test(client.clone(), base.clone(), id.clone(), value))
    });
    rt.block_on(handle.stop(false));
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn members_bodies_replace_the_list_whole_or_are_a_400_changing_nothing() {
    against_a_server(members_body(), |client, base, id, body| async move {
        let before = members_now(&client, &base, &id).await;
        let resp = client
            .put(format!("{base}/images/{id}/members"))
            .header("X-Auth-Token", "alice-token")
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let after = members_now(&client, &base, &id).await;
        let shown = String::from_utf8_lossy(&body).into_owned();
        match expected_members(&body) {
            Some(want) => {
                prop_assert_eq!(status, 204, "{}: {}", shown, text);
                prop_assert_eq!(after, want, "{}", shown);
            }
            None => {
                prop_assert_eq!(status, 400, "{}: {}", shown, text);
                prop_assert_eq!(after, before, "a refused body changed the list: {}", shown);
            }
        }
        Ok(())
    });
}

#[test]
fn member_paths_and_add_bodies_are_a_204_or_a_400() {
    // ("." and ".." are not sent, nor "%2E" and the like: the client's URL
    // parser removes dot segments.)
    let member = prop_oneof![
        "[A-Za-z0-9@._-]{1,12}",
        "([A-Za-z0-9@._~!$&'()*+,;=:-]|%[0-9a-fA-F]{2}|%)*",
    ]
    .prop_filter("not a dot segment", |m| {
        !matches!(decode(m).as_deref(), Ok(".") | Ok(".."))
    });
    let body = prop_oneof![
        Just(Vec::new()),
        Just(b"  \n".to_vec()),
        Just(b"{\"member\": {\"can_share\": false}}".to_vec()),
        Just(b"{\"member\": {}}".to_vec()),
        Just(b"{\"member\": {\"can_share\": 1}}".to_vec()),
        Just(b"{}".to_vec()),
        prop::collection::vec(any::<u8>(), 1..32),
    ];
    against_a_server(
        (member, body),
        |client, base, id, (member, body)| async move {
            let before = members_now(&client, &base, &id).await;
            let resp = client
                .put(format!("{base}/images/{id}/members/{member}"))
                .header("X-Auth-Token", "alice-token")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let after = members_now(&client, &base, &id).await;
            let decoded = decode(&member).ok().filter(|d| is_valid_user_id(d));
            let body_ok = body.iter().all(u8::is_ascii_whitespace)
                || body == b"{\"member\": {\"can_share\": false}}"
                || body == b"{\"member\": {}}";
            match decoded {
                // The list fills up over the cases: past 1024, an add is a 413.
                Some(m)
                    if body_ok && m != "alice" && !before.contains(&m) && before.len() >= 1024 =>
                {
                    prop_assert_eq!(status, 413, "{} {:?}", member, body);
                    prop_assert_eq!(after, before);
                }
                Some(m) if body_ok => {
                    prop_assert_eq!(status, 204, "{} {:?}", member, body);
                    let mut want = before.clone();
                    if m != "alice" {
                        want.insert(m);
                    }
                    prop_assert_eq!(after, want);
                }
                _ => {
                    prop_assert!(
                        status == 400 || status == 404,
                        "{} {:?}: {}",
                        member,
                        body,
                        status
                    );
                    prop_assert_eq!(after, before);
                }
            }
            Ok(())
        },
    );
}
