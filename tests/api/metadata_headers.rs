//! Metadata in headers (docs/api.md §5): name normalisation, property keys, percent coding
//! of request and response values, both spellings of response headers, and
//! the limits on properties.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, ALICE};
use crate::util::{fault, header, json_with_status, must_header};

/// Registers `a.img` with `headers` and returns the detail body of the answer.
async fn register_body(app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let body = app
        .alice()
        .register("a.img")
        .data(b"data")
        .headers(headers)
        .json()
        .await;
    body["image"].clone()
}

#[tokio::test]
async fn metadata_header_names_are_normalised_in_every_spelling() {
    let app = TestApp::spawn().await;
    for (name, field, value, shown) in [
        (
            "X-Image-Meta-Disk-Format",
            "disk_format",
            "raw",
            json!("raw"),
        ),
        (
            "x-image-meta-disk_format",
            "disk_format",
            "vmdk",
            json!("vmdk"),
        ),
        (
            "X-IMAGE-META-DISK.FORMAT",
            "disk_format",
            "qcow2",
            json!("qcow2"),
        ),
        (
            "X-Image-Meta-Container_Format",
            "container_format",
            "ovf",
            json!("ovf"),
        ),
        (
            "x-image-meta-container.format",
            "container_format",
            "aki",
            json!("aki"),
        ),
        ("X-Image-Meta-Is_Public", "is_public", "true", json!(true)),
        ("x-image-meta-is.public", "is_public", "TRUE", json!(true)),
        ("X-Image-Meta-Min-Ram", "min_ram", "256", json!(256)),
        ("x-image-meta-min_ram", "min_ram", "512", json!(512)),
        ("x-image-meta-min~disk", "min_disk", "3", json!(3)),
        ("X-IMAGE-META-NAME", "name", "shouted", json!("shouted")),
    ] {
        let body = register_body(&app, &[(name, value)]).await;
        assert_eq!(body[field], shown, "{name}");
    }
}

#[tokio::test]
async fn header_names_in_any_case_on_the_wire_are_the_same_field() {
    let app = TestApp::spawn().await;
    app.put_object(ALICE.1, "images", "raw.img", b"raw bytes");
    let resp = app
        .raw_request(
            "POST",
            b"/images",
            &[
                (b"X-AUTH-TOKEN", ALICE.0.as_bytes()),
                (b"X-IMAGE-META-NAME", b"upper"),
                (b"x-Image-meta-LOCATION", b"pithos://alice/images/raw.img"),
                (b"X-IMAGE-META-DISK.FORMAT", b"iso"),
                (b"X-Image-Meta-Property-ROOT_PARTITION", b"2"),
                (b"Content-Length", b"0"),
            ],
        )
        .await;
    assert_eq!(
        resp.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(resp.header("x-image-meta-disk-format"), Some("iso"));
    assert_eq!(resp.header("x-image-meta-name"), Some("upper"));
    assert_eq!(
        resp.header("x-image-meta-property-root-partition"),
        Some("2")
    );
}

#[tokio::test]
async fn property_keys_are_percent_decoded_and_normalised() {
    let app = TestApp::spawn().await;
    let body = register_body(
        &app,
        &[
            ("X-Image-Meta-Property-Root-Partition", "1"),
            ("x-image-meta-property-OS.Version", "12"),
            ("x-image-meta-property-users_Group", "x"),
            ("X-Image-Meta-Property-Kernel%20Args", "quiet"),
            ("X-Image-Meta-Property-%CE%B5%CE%BB", "greek"),
            ("X-Image-Meta-Property-%CE%95%CE%BB", "Greek capital"),
            ("X-Image-Meta-Property-a%2Bb", "plus"),
        ],
    )
    .await;
    assert_eq!(
        body["properties"],
        json!({
            "root_partition": "1",
            "os_version": "12",
            "users_group": "x",
            "kernel_args": "quiet",
            "ελ": "greek",
            "Ελ": "Greek capital",
            "a_b": "plus",
        })
    );
}

#[tokio::test]
async fn property_headers_with_underscores_are_never_dropped() {
    let app = TestApp::spawn().await;
    let body = register_body(
        &app,
        &[
            ("x-image-meta-property-ROOT_PARTITION", "1"),
            ("x-image-meta-property_swap", "on"),
            ("x-image-meta-min_disk", "7"),
        ],
    )
    .await;
    assert_eq!(
        body["properties"],
        json!({"root_partition": "1", "swap": "on"})
    );
    assert_eq!(body["min_disk"], 7);
}

#[tokio::test]
async fn values_are_percent_decoded_once_and_a_plus_stays_a_plus() {
    let app = TestApp::spawn().await;
    let body = register_body(
        &app,
        &[
            ("X-Image-Meta-Name", "Debian%2012+%2B%252F"),
            ("X-Image-Meta-Property-Desc", "caf%C3%A9 for c++"),
            ("X-Image-Meta-Property-Lower", "%c3%a9"),
            ("X-Image-Meta-Disk-Format", "%72aw"),
            ("X-Image-Meta-Is-Public", "%74rue"),
            ("X-Image-Meta-Min-Ram", "%31%30"),
            ("X-Image-Meta-Owner", "%61lice"),
        ],
    )
    .await;
    assert_eq!(body["name"], "Debian 12++%2F");
    assert_eq!(body["properties"]["desc"], "café for c++");
    assert_eq!(body["properties"]["lower"], "é");
    assert_eq!(body["disk_format"], "raw");
    assert_eq!(body["is_public"], true);
    assert_eq!(body["min_ram"], 10);
    assert_eq!(body["owner"], "alice");
}

#[tokio::test]
async fn raw_utf8_bytes_in_header_values_are_taken_as_utf8() {
    let app = TestApp::spawn().await;
    let body = register_body(
        &app,
        &[
            ("X-Image-Meta-Name", "Καλημέρα κόσμε"),
            ("X-Image-Meta-Property-Motto", "naïve café"),
        ],
    )
    .await;
    assert_eq!(body["name"], "Καλημέρα κόσμε");
    assert_eq!(body["properties"]["motto"], "naïve café");
}

#[tokio::test]
async fn malformed_header_values_are_400_and_register_nothing() {
    let app = TestApp::spawn().await;
    app.put_object(ALICE.1, "images", "a.img", b"x");
    for (name, value, needle) in [
        ("X-Image-Meta-Name", &b"%zz"[..], "x-image-meta-name"),
        ("X-Image-Meta-Name", b"100%", "x-image-meta-name"),
        ("X-Image-Meta-Name", b"%ff%fe", "x-image-meta-name"),
        ("X-Image-Meta-Name", b"\xff\xfe", "name"),
        ("X-Image-Meta-Property-OS", b"%zz", "os"),
        ("X-Image-Meta-Property-OS", b"\xc3", "os"),
        ("X-Image-Meta-Property-OS", b"%C3", "os"),
        ("X-Image-Meta-Colour", b"red", "x-image-meta-colour"),
        ("X-Image-Meta-Propertyfoo", b"x", "x-image-meta-propertyfoo"),
    ] {
        let mut req = app
            .client
            .post(app.url("/images"))
            .header("x-auth-token", ALICE.0)
            .header("X-Image-Meta-Location", "pithos://alice/images/a.img");
        if name != "X-Image-Meta-Name" {
            req = req.header("X-Image-Meta-Name", "n");
        }
        let value = reqwest::header::HeaderValue::from_bytes(value).unwrap();
        let resp = req.header(name, value).send().await.unwrap();
        fault(resp, 400, "badRequest", &[needle]).await;
    }
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
}

#[tokio::test]
async fn response_values_are_percent_encoded_with_upper_case_hex() {
    let app = TestApp::spawn().await;
    let resp = app
        .alice()
        .register("a.img")
        .data(b"data")
        .name("Debian 12")
        .property("Desc", "Ωmega é+1")
        .property("Safe", "A-Z_a.z~0/9")
        .property("Punct", "a:b;c,d=e?f&g#h%25i")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    let id = must_header(&resp, "x-image-meta-id");
    // The Glance dialect sends printable ASCII as it is (Glance clients never
    // decode) and percent-encodes only values with other characters.
    let glance = app.get(&format!("/v1/images/{id}"), ALICE.0).await;
    assert_eq!(must_header(&glance, "x-image-meta-name"), "Debian 12");
    assert_eq!(
        must_header(&glance, "x-image-meta-property-desc"),
        "%CE%A9mega%20%C3%A9%2B1"
    );
    assert_eq!(
        must_header(&glance, "x-image-meta-property-safe"),
        "A-Z_a.z~0/9"
    );
    assert_eq!(
        must_header(&glance, "x-image-meta-property-punct"),
        "a:b;c,d=e?f&g#h%i"
    );
    for r in [resp, app.head(&format!("/images/{id}"), ALICE.0).await] {
        assert_eq!(must_header(&r, "x-image-meta-name"), "Debian%2012");
        assert_eq!(
            must_header(&r, "x-image-meta-property-desc"),
            "%CE%A9mega%20%C3%A9%2B1"
        );
        assert_eq!(must_header(&r, "x-image-meta-property-safe"), "A-Z_a.z~0/9");
        assert_eq!(
            must_header(&r, "x-image-meta-property-punct"),
            "a%3Ab%3Bc%2Cd%3De%3Ff%26g%23h%25i"
        );
    }
    // The JSON body is not encoded.
    let item = app.detail_of(&id, ALICE.0).await;
    assert_eq!(item["name"], "Debian 12");
    assert_eq!(item["properties"]["desc"], "Ωmega é+1");
}

#[tokio::test]
async fn property_headers_turn_underscores_into_dashes_and_encode_non_ascii_keys() {
    let app = TestApp::spawn().await;
    let resp = app
        .alice()
        .register("a.img")
        .data(b"data")
        .property("Root_Partition", "1")
        .property("%CE%B5%CE%BB", "greek")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        must_header(&resp, "x-image-meta-property-root-partition"),
        "1"
    );
    assert_eq!(header(&resp, "x-image-meta-property-root_partition"), None);
    // Header names are case-insensitive: the hex case of the key does not matter.
    let greek = resp
        .headers()
        .iter()
        .find(|(k, _)| {
            k.as_str()
                .eq_ignore_ascii_case("x-image-meta-property-%ce%b5%ce%bb")
        })
        .map(|(_, v)| v.to_str().unwrap().to_string());
    assert_eq!(greek.as_deref(), Some("greek"), "{:?}", resp.headers());
}

#[tokio::test]
async fn responses_carry_the_whole_image_in_both_spellings_of_multi_word_headers() {
    let app = TestApp::spawn().await;
    let resp = app
        .alice()
        .register("a.img")
        .data(b"twelve bytes")
        .header("X-Image-Meta-Disk-Format", "raw")
        .header("X-Image-Meta-Container-Format", "ovf")
        .header("X-Image-Meta-Min-Ram", "1024")
        .header("X-Image-Meta-Min-Disk", "2")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    let id = must_header(&resp, "x-image-meta-id");
    let check = |r: &reqwest::Response, public: &str| {
        assert_eq!(must_header(r, "x-image-meta-id"), id);
        assert_eq!(must_header(r, "x-image-meta-name"), "a.img");
        assert_eq!(
            must_header(r, "x-image-meta-location"),
            "pithos://alice/images/a.img"
        );
        assert_eq!(must_header(r, "x-image-meta-status"), "available");
        assert_eq!(must_header(r, "x-image-meta-size"), "12");
        assert_eq!(must_header(r, "x-image-meta-owner"), "alice");
        assert!(must_header(r, "x-image-meta-checksum").len() == 64);
        for (dash, underscore, value) in [
            ("disk-format", "disk_format", Some("raw")),
            ("container-format", "container_format", Some("ovf")),
            ("min-ram", "min_ram", Some("1024")),
            ("min-disk", "min_disk", Some("2")),
            ("is-public", "is_public", Some(public)),
            ("deleted-at", "deleted_at", Some("")),
            ("created-at", "created_at", None),
            ("updated-at", "updated_at", None),
        ] {
            let a = must_header(r, &format!("x-image-meta-{dash}"));
            let b = must_header(r, &format!("x-image-meta-{underscore}"));
            assert_eq!(a, b, "{dash}");
            if let Some(v) = value {
                assert_eq!(a, v, "{dash}");
            } else {
                assert!(
                    chrono::NaiveDateTime::parse_from_str(&a, "%Y-%m-%d %H:%M:%S").is_ok(),
                    "{dash}: {a}"
                );
            }
        }
    };
    check(&resp, "False");
    let upd = app
        .update_ok(&id, ALICE.0, &[("X-Image-Meta-Is-Public", "true")])
        .await;
    check(&upd, "True");
    check(&app.head(&format!("/images/{id}"), ALICE.0).await, "True");
    check(&app.get(&format!("/images/{id}"), ALICE.0).await, "True");
    let off = app
        .update_ok(&id, ALICE.0, &[("X-Image-Meta-Is-Public", "FALSE")])
        .await;
    check(&off, "False");
}

#[tokio::test]
async fn head_of_an_image_has_no_json_content_type() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    for prefix in ["", "/v1"] {
        let head = app.head(&format!("{prefix}/images/{id}"), ALICE.0).await;
        assert_eq!(head.status(), 200);
        let ct = header(&head, "content-type").unwrap_or_default();
        assert!(!ct.contains("json"), "{prefix}: content-type {ct}");
        assert_eq!(head.bytes().await.unwrap().len(), 0);
    }
}

/// The `x-image-meta-*` header names of a response, in the order sent.
fn image_header_order(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("x-image-meta-"))
        .collect()
}

#[tokio::test]
async fn head_and_get_send_the_image_headers_in_one_order_every_time() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("a.img")
        .property("os", "debian")
        .property("root_partition", "1")
        .property("users", "root")
        .ok()
        .await;
    for prefix in ["", "/v1"] {
        let path = format!("{prefix}/images/{id}");
        let first = image_header_order(&app.head(&path, ALICE.0).await);
        assert!(first.len() > 20, "{first:?}");
        for _ in 0..20 {
            assert_eq!(image_header_order(&app.head(&path, ALICE.0).await), first);
            assert_eq!(image_header_order(&app.get(&path, ALICE.0).await), first);
        }
    }
}

#[tokio::test]
async fn is_public_takes_true_or_false_in_any_case() {
    let app = TestApp::spawn().await;
    for (value, public) in [
        ("true", true),
        ("TRUE", true),
        ("True", true),
        ("tRuE", true),
        ("false", false),
        ("False", false),
        ("FALSE", false),
    ] {
        let body = register_body(&app, &[("X-Image-Meta-Is-Public", value)]).await;
        assert_eq!(body["is_public"], public, "{value}");
    }
    for value in ["yes", "no", "1", "0", "t", "", "true false"] {
        app.alice()
            .register("a.img")
            .data(b"d")
            .header("X-Image-Meta-Is-Public", value)
            .fault(400, "badRequest", &["is-public"])
            .await;
    }
}

#[tokio::test]
async fn sizes_and_minimums_are_non_negative_decimal_integers() {
    let app = TestApp::spawn().await;
    let body = register_body(
        &app,
        &[
            ("X-Image-Meta-Size", "4"),
            ("X-Image-Meta-Min-Ram", "0"),
            ("X-Image-Meta-Min-Disk", "18"),
        ],
    )
    .await;
    assert_eq!(
        (body["size"].clone(), body["min_disk"].clone()),
        (json!(4), json!(18))
    );
    for (name, value) in [
        ("X-Image-Meta-Size", "-4"),
        ("X-Image-Meta-Size", "4.0"),
        ("X-Image-Meta-Size", "0x4"),
        ("X-Image-Meta-Min-Ram", "+1"),
        ("X-Image-Meta-Min-Ram", "1e3"),
        ("X-Image-Meta-Min-Disk", "one"),
    ] {
        app.alice()
            .register("a.img")
            .data(b"data")
            .header(name, value)
            .fault(400, "badRequest", &[&name[13..]])
            .await;
    }
}

#[tokio::test]
async fn sixty_four_properties_fit_and_sixty_five_are_413() {
    let app = TestApp::spawn().await;
    let names: Vec<String> = (0..65)
        .map(|i| format!("X-Image-Meta-Property-K{i:02}"))
        .collect();
    let all: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let body = register_body(&app, &all[..64]).await;
    assert_eq!(body["properties"].as_object().unwrap().len(), 64);
    let id = body["id"].as_str().unwrap().to_string();
    app.alice()
        .register("b.img")
        .data(b"data")
        .headers(&all)
        .fault(413, "overLimit", &["64"])
        .await;
    // An update that would make 65 is a 413 too, and changes nothing.
    let resp = app
        .request(
            Method::PUT,
            &format!("/images/{id}"),
            Some(ALICE.0),
            &[("X-Image-Meta-Property-One-More", "v")],
        )
        .await;
    fault(resp, 413, "overLimit", &["65"]).await;
    let item = app.detail_of(&id, ALICE.0).await;
    assert_eq!(item["properties"].as_object().unwrap().len(), 64);
    // Replacing one (delete one, add one) keeps 64: fine.
    app.update_ok(
        &id,
        ALICE.0,
        &[
            ("X-Image-Meta-Property-K00", ""),
            ("X-Image-Meta-Property-One-More", "v"),
        ],
    )
    .await;
    let item = app.detail_of(&id, ALICE.0).await;
    assert_eq!(item["properties"].as_object().unwrap().len(), 64);
    assert_eq!(item["properties"]["one_more"], "v");
}

#[tokio::test]
async fn a_configured_lower_property_limit_is_enforced() {
    let app = TestApp::spawn_with(|s| s.limits.max_properties = 3).await;
    let body = register_body(
        &app,
        &[
            ("X-Image-Meta-Property-A", "1"),
            ("X-Image-Meta-Property-B", "2"),
            ("X-Image-Meta-Property-C", "3"),
        ],
    )
    .await;
    let id = body["id"].as_str().unwrap().to_string();
    app.alice()
        .register("b.img")
        .property("A", "1")
        .property("B", "2")
        .property("C", "3")
        .property("D", "4")
        .fault(413, "overLimit", &["3"])
        .await;
    let resp = app
        .request(
            Method::PUT,
            &format!("/images/{id}"),
            Some(ALICE.0),
            &[("X-Image-Meta-Property-D", "4")],
        )
        .await;
    fault(resp, 413, "overLimit", &["3"]).await;
    // With purge, the new set replaces the old one and fits.
    let resp = app
        .update_ok(
            &id,
            ALICE.0,
            &[
                ("X-Glance-Registry-Purge-Props", "true"),
                ("X-Image-Meta-Property-D", "4"),
                ("X-Image-Meta-Property-E", "5"),
            ],
        )
        .await;
    let body = json_with_status(resp, 200).await;
    assert_eq!(body["image"]["properties"], json!({"d": "4", "e": "5"}));
}

#[tokio::test]
async fn property_values_up_to_4096_bytes_and_keys_up_to_255_are_accepted() {
    let app = TestApp::spawn().await;
    let value = "é".repeat(2048); // 4096 bytes
    let key = "k".repeat(255);
    let name = format!("X-Image-Meta-Property-{key}");
    let body = register_body(
        &app,
        &[("X-Image-Meta-Property-Long", &value), (&name, "x")],
    )
    .await;
    assert_eq!(body["properties"]["long"], value.as_str());
    assert_eq!(body["properties"][&key], "x");
    let too_long = format!("{value}a");
    app.alice()
        .register("b.img")
        .property("Long", &too_long)
        .fault(400, "badRequest", &["long"])
        .await;
    // Percent-encoded, the limit is on the decoded bytes.
    let encoded = "%41".repeat(4096);
    let body = register_body(&app, &[("X-Image-Meta-Property-Enc", &encoded)]).await;
    assert_eq!(body["properties"]["enc"], "A".repeat(4096));
    app.alice()
        .register("b.img")
        .property("Enc", &format!("{encoded}%41"))
        .fault(400, "badRequest", &["enc"])
        .await;
}

#[tokio::test]
async fn an_empty_property_value_on_register_sets_nothing() {
    let app = TestApp::spawn().await;
    let body = register_body(
        &app,
        &[
            ("X-Image-Meta-Property-Empty", ""),
            ("X-Image-Meta-Property-Full", "x"),
        ],
    )
    .await;
    assert_eq!(body["properties"], json!({"full": "x"}));
}

#[tokio::test]
async fn glance_clients_content_type_on_get_head_and_delete_is_accepted() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let ct = [("Content-Type", "application/octet-stream")];
    for method in [Method::GET, Method::HEAD] {
        for path in ["/v1/images".to_string(), format!("/v1/images/{id}")] {
            let resp = app.request(method.clone(), &path, Some(ALICE.0), &ct).await;
            assert_eq!(resp.status(), 200, "{method} {path}");
        }
    }
    let resp = app
        .request(
            Method::PUT,
            &format!("/v1/images/{id}/members/bob"),
            Some(ALICE.0),
            &ct,
        )
        .await;
    assert_eq!(resp.status(), 204);
    let resp = app
        .request(
            Method::DELETE,
            &format!("/v1/images/{id}"),
            Some(ALICE.0),
            &ct,
        )
        .await;
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
async fn non_ascii_characters_that_are_not_letters_or_digits_become_underscores_in_keys() {
    let app = TestApp::spawn().await;
    let body = register_body(
        &app,
        &[
            ("X-Image-Meta-Property-Price%E2%82%AC", "5"),
            ("X-Image-Meta-Property-Caf%C3%A9%C2%B7Bar", "x"),
            ("X-Image-Meta-Property-N%C2%BA1", "y"),
        ],
    )
    .await;
    assert_eq!(
        body["properties"],
        json!({"price_": "5", "café_bar": "x", "nº1": "y"})
    );
}

#[tokio::test]
async fn key_and_name_limits_count_what_the_contract_says() {
    let app = TestApp::spawn().await;
    // A name is 1-255 characters, not bytes.
    let name = "é".repeat(255);
    let body = register_body(&app, &[("X-Image-Meta-Name", &name)]).await;
    assert_eq!(body["name"], name.as_str());
    app.alice()
        .register("a.img")
        .data(b"data")
        .name(&"é".repeat(256))
        .fault(400, "badRequest", &["name"])
        .await;
    // A property key is 1-255 bytes after normalising.
    let key = format!("{}a", "%C3%A9".repeat(127));
    let body = register_body(&app, &[(&format!("X-Image-Meta-Property-{key}"), "ok")]).await;
    let props = body["properties"].as_object().unwrap();
    assert_eq!(props.keys().next().unwrap().len(), 255);
    let key = "%C3%A9".repeat(128);
    app.alice()
        .register("a.img")
        .data(b"data")
        .header(&format!("X-Image-Meta-Property-{key}"), "too long")
        .fault(400, "badRequest", &["property key"])
        .await;
}
