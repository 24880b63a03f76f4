//! The two dialects (docs/api.md §1, §4, §6, §7): list shapes, listing fields, and the
//! checksum each shows in bodies, headers and the ETag of the data.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, ALICE};
use crate::util::{is_glance, json_with_status, md5_hex, must_header, sha256_hex, PREFIXES};

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &str) -> BTreeSet<String> {
    names.split_whitespace().map(String::from).collect()
}

#[tokio::test]
async fn cyclades_lists_are_bare_arrays_and_glance_lists_are_wrapped_in_images() {
    let app = TestApp::spawn().await;
    let a = app.alice().register("a.img").data(b"a").ok().await;
    let b = app.alice().register("b.img").data(b"b").ok().await;
    for prefix in PREFIXES {
        for path in ["/images", "/images/", "/images/detail"] {
            let body = app.list(&format!("{prefix}{path}"), ALICE.0).await;
            let list = if is_glance(prefix) {
                let obj = body.as_object().expect("Glance: an object");
                assert_eq!(obj.len(), 1, "{prefix}{path}: only images: {body}");
                obj["images"].as_array().expect("images array").clone()
            } else {
                body.as_array().expect("Cyclades: a bare array").clone()
            };
            let ids: Vec<&str> = list.iter().map(|i| i["id"].as_str().unwrap()).collect();
            assert_eq!(ids, vec![a.as_str(), b.as_str()], "{prefix}{path}");
        }
        // An empty listing keeps the shape.
        let empty = app
            .list(&format!("{prefix}/images?name=none"), ALICE.0)
            .await;
        if is_glance(prefix) {
            assert_eq!(empty, serde_json::json!({"images": []}));
        } else {
            assert_eq!(empty, serde_json::json!([]));
        }
    }
}

#[tokio::test]
async fn list_items_have_the_summary_fields_and_detail_items_every_field() {
    let app = TestApp::spawn().await;
    let data = b"some image bytes";
    let id = app
        .alice()
        .register("a.img")
        .data(data)
        .name("Debian 12")
        .header("X-Image-Meta-Disk-Format", "raw")
        .header("X-Image-Meta-Container-Format", "ovf")
        .public()
        .header("X-Image-Meta-Min-Ram", "512")
        .header("X-Image-Meta-Min-Disk", "4")
        .property("OS", "debian")
        .ok()
        .await;
    for prefix in PREFIXES {
        let body = app.list(&format!("{prefix}/images"), ALICE.0).await;
        let item = crate::util::items(&body)[0].clone();
        assert_eq!(
            keys(&item),
            set("id name status disk_format container_format size")
        );
        assert_eq!(
            item,
            serde_json::json!({"id": id, "name": "Debian 12", "status": "available",
                "disk_format": "raw", "container_format": "ovf", "size": data.len()})
        );
        let body = app.list(&format!("{prefix}/images/detail"), ALICE.0).await;
        let item = crate::util::items(&body)[0].clone();
        assert_eq!(
            keys(&item),
            set(
                "id name location status disk_format container_format size checksum \
                 created_at updated_at deleted_at is_public protected owner min_ram min_disk properties"
            )
        );
        let checksum = if is_glance(prefix) {
            md5_hex(data)
        } else {
            sha256_hex(data)
        };
        assert_eq!(item["checksum"], checksum.as_str(), "{prefix}");
        assert_eq!(item["location"], "pithos://alice/images/a.img");
        assert_eq!(item["is_public"], true);
        assert_eq!(item["owner"], "alice");
        assert_eq!(item["min_ram"], 512);
        assert_eq!(item["min_disk"], 4);
        assert_eq!(item["deleted_at"], "");
        assert_eq!(item["properties"], serde_json::json!({"os": "debian"}));
        for t in ["created_at", "updated_at"] {
            let s = item[t].as_str().unwrap();
            assert!(
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok(),
                "{t} {s:?} is YYYY-MM-DD HH:MM:SS"
            );
        }
    }
}

#[tokio::test]
async fn cyclades_shows_the_pithos_hash_and_glance_the_md5_in_bodies_headers_and_etag() {
    let app = TestApp::spawn().await;
    let data = b"checksum me, please";
    let pithos = sha256_hex(data);
    let md5 = md5_hex(data);
    assert_eq!(pithos.len(), 64);
    assert_eq!(md5.len(), 32);
    app.put_object(ALICE.1, "images", "a.img", data);
    for prefix in PREFIXES {
        let want = if is_glance(prefix) { &md5 } else { &pithos };
        // Register (and re-register) in this dialect.
        let resp = app
            .alice()
            .register("a.img")
            .already_there()
            .prefix(prefix)
            .name("a")
            .send()
            .await;
        assert_eq!(must_header(&resp, "x-image-meta-checksum"), *want);
        let id = must_header(&resp, "x-image-meta-id");
        let body = json_with_status(resp, 200).await;
        assert_eq!(
            body["image"]["checksum"],
            want.as_str(),
            "{prefix} register"
        );

        let resp = app
            .request(
                Method::PUT,
                &format!("{prefix}/images/{id}"),
                Some(ALICE.0),
                &[("X-Image-Meta-Min-Ram", "1")],
            )
            .await;
        assert_eq!(must_header(&resp, "x-image-meta-checksum"), *want);
        let body = json_with_status(resp, 200).await;
        assert_eq!(body["image"]["checksum"], want.as_str(), "{prefix} update");

        let head = app.head(&format!("{prefix}/images/{id}"), ALICE.0).await;
        assert_eq!(must_header(&head, "x-image-meta-checksum"), *want);

        let get = app.get(&format!("{prefix}/images/{id}"), ALICE.0).await;
        assert_eq!(get.status(), 200);
        assert_eq!(must_header(&get, "etag"), format!("\"{want}\""), "{prefix}");
        assert_eq!(must_header(&get, "x-image-meta-checksum"), *want);
        assert_eq!(get.bytes().await.unwrap().as_ref(), data);

        let ranged = app
            .request(
                Method::GET,
                &format!("{prefix}/images/{id}"),
                Some(ALICE.0),
                &[("Range", "bytes=0-3")],
            )
            .await;
        assert_eq!(ranged.status(), 206);
        assert_eq!(must_header(&ranged, "etag"), format!("\"{want}\""));
    }
}

#[tokio::test]
async fn a_dialect_is_told_by_the_prefix_alone_not_by_headers() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let glance_headers = [
        ("Content-Type", "application/octet-stream"),
        ("User-Agent", "python-glanceclient"),
        ("Accept", "application/json"),
    ];
    let body: Value = app
        .request(Method::GET, "/images", Some(ALICE.0), &glance_headers)
        .await
        .json()
        .await
        .unwrap();
    assert!(body.is_array(), "{body}");
    let body: Value = app
        .request(
            Method::GET,
            "/v1/images",
            Some(ALICE.0),
            &[("User-Agent", "kamaki")],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["images"][0]["id"], id.as_str());
}
