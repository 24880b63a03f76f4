//! Registering, re-registering, updating and unregistering images (docs/api.md §7).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{fault, header, json_with_status, md5_hex, must_header, sha256_hex, PREFIXES};

#[tokio::test]
async fn register_answers_200_with_the_image_in_headers_and_in_the_body() {
    let app = TestApp::spawn().await;
    let data = b"hello world";
    for prefix in PREFIXES {
        let file = format!("r{}.img", prefix.len());
        let resp = app
            .alice()
            .register(&file)
            .data(data)
            .prefix(prefix)
            .name("Debian 12")
            .send()
            .await;
        assert_eq!(resp.status(), 200, "{prefix}: kamaki accepts nothing else");
        let id = must_header(&resp, "x-image-meta-id");
        assert_eq!(must_header(&resp, "x-image-meta-owner"), "alice");
        assert_eq!(must_header(&resp, "x-image-meta-status"), "available");
        assert!(must_header(&resp, "content-type").starts_with("application/json"));
        let body = json_with_status(resp, 200).await;
        let obj = body.as_object().unwrap();
        assert_eq!(obj.len(), 1, "only image: {body}");
        let image = &body["image"];
        let checksum = if prefix == "/v1" {
            md5_hex(data)
        } else {
            sha256_hex(data)
        };
        let created = image["created_at"].as_str().unwrap();
        assert_eq!(
            *image,
            json!({
                "id": id,
                "name": "Debian 12",
                "location": format!("pithos://alice/images/{file}"),
                "status": "available",
                "disk_format": "diskdump",
                "container_format": "bare",
                "size": 11,
                "checksum": checksum,
                "created_at": created,
                "updated_at": created,
                "deleted_at": "",
                "is_public": false,
                "protected": false,
                "owner": "alice",
                "min_ram": 0,
                "min_disk": 0,
                "properties": {},
            })
        );
        // A UUID v4, lower case.
        let uuid = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(id, uuid.hyphenated().to_string());
    }
}

#[tokio::test]
async fn register_sets_every_settable_field() {
    let app = TestApp::spawn().await;
    let data = b"all fields";
    let md5 = md5_hex(data);
    let body = app
        .alice()
        .register("a.img")
        .data(data)
        .name("full")
        .header("X-Image-Meta-Disk-Format", "vhd")
        .header("X-Image-Meta-Container-Format", "ami")
        .public()
        .header("X-Image-Meta-Min-Ram", "2048")
        .header("X-Image-Meta-Min-Disk", "20")
        .header("X-Image-Meta-Owner", "alice")
        .header("X-Image-Meta-Store", "pithos")
        .header("X-Image-Meta-Size", "10")
        .header("X-Image-Meta-Checksum", &md5.to_uppercase())
        .property("OS", "linux")
        .json()
        .await;
    let image = &body["image"];
    assert_eq!(image["disk_format"], "vhd");
    assert_eq!(image["container_format"], "ami");
    assert_eq!(image["is_public"], true);
    assert_eq!(image["min_ram"], 2048);
    assert_eq!(image["min_disk"], 20);
    assert_eq!(image["size"], 10);
    assert_eq!(image["properties"], json!({"os": "linux"}));
}

#[tokio::test]
async fn configured_format_lists_decide_which_formats_are_allowed() {
    let app = TestApp::spawn_with(|s| {
        s.formats.disk = vec!["diskdump".into(), "raw".into()];
        s.formats.container = vec!["bare".into(), "docker".into()];
    })
    .await;
    let ok = app
        .alice()
        .register("a.img")
        .header("X-Image-Meta-Disk-Format", "raw")
        .header("X-Image-Meta-Container-Format", "docker")
        .send()
        .await;
    assert_eq!(ok.status(), 200);
    app.alice()
        .register("a.img")
        .header("X-Image-Meta-Disk-Format", "vmdk")
        .fault(400, "badRequest", &["disk-format", "vmdk"])
        .await;
    app.alice()
        .register("a.img")
        .header("X-Image-Meta-Container-Format", "ovf")
        .fault(400, "badRequest", &["container-format", "ovf"])
        .await;
}

#[tokio::test]
async fn a_size_and_checksum_given_at_register_must_match_the_object() {
    let app = TestApp::spawn().await;
    let data = b"exactly this";
    let md5 = md5_hex(data);
    let pithos = sha256_hex(data);
    app.put_object(ALICE.1, "images", "b.img", data);
    for prefix in PREFIXES {
        for (name, value) in [
            ("X-Image-Meta-Size", "12".to_string()),
            ("X-Image-Meta-Checksum", md5.clone()),
            ("X-Image-Meta-Checksum", md5.to_uppercase()),
            ("X-Image-Meta-Checksum", pithos.clone()),
            ("X-Image-Meta-Checksum", pithos.to_uppercase()),
        ] {
            let resp = app
                .alice()
                .register("a.img")
                .data(data)
                .prefix(prefix)
                .name("a")
                .header(name, &value)
                .send()
                .await;
            assert_eq!(resp.status(), 200, "{prefix} {name}: {value}");
        }
        for (name, value) in [
            ("X-Image-Meta-Size", "13".to_string()),
            ("X-Image-Meta-Size", "0".to_string()),
            ("X-Image-Meta-Checksum", md5_hex(b"exactly that")),
            ("X-Image-Meta-Checksum", sha256_hex(b"exactly that")),
            // The MD5 given where the Pithos hash goes, and the reverse, cannot match.
            ("X-Image-Meta-Checksum", format!("{md5}{md5}")),
            ("X-Image-Meta-Checksum", pithos[..32].to_string()),
        ] {
            app.alice()
                .register("b.img")
                .already_there()
                .prefix(prefix)
                .name("a")
                .header(name, &value)
                .fault(400, "badRequest", &[&name[13..], &value.to_lowercase()])
                .await;
        }
    }
    let ids = app.list_ids("/images/detail", ALICE.0).await;
    assert_eq!(ids.len(), 1, "only a.img is registered");
}

#[tokio::test]
async fn re_registering_a_location_keeps_id_created_at_and_members_and_replaces_the_rest() {
    let app = TestApp::spawn().await;
    let first = app
        .alice()
        .register("a.img")
        .data(b"version 1")
        .name("v1")
        .header("X-Image-Meta-Disk-Format", "raw")
        .header("X-Image-Meta-Container-Format", "ovf")
        .public()
        .header("X-Image-Meta-Min-Ram", "512")
        .property("A", "1")
        .property("B", "2")
        .ok()
        .await;
    app.set_members(&first, ALICE.0, &["bob", "carol"]).await;
    app.update_ok(&first, ALICE.0, &[("X-Image-Meta-Status", "error")])
        .await;
    let other = app.alice().register("other.img").data(b"other").ok().await;
    let before = app.detail_of(&first, ALICE.0).await;

    let resp = app
        .alice()
        .register("a.img")
        .data(b"version 2, longer")
        .name("v2")
        .property("C", "3")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(must_header(&resp, "x-image-meta-id"), first, "same id");
    let image = json_with_status(resp, 200).await["image"].clone();
    assert_eq!(image["name"], "v2");
    assert_eq!(
        image["properties"],
        json!({"c": "3"}),
        "properties replaced"
    );
    assert_eq!(
        image["disk_format"], "diskdump",
        "absent fields take defaults"
    );
    assert_eq!(image["container_format"], "bare");
    assert_eq!(image["is_public"], false);
    assert_eq!(image["min_ram"], 0);
    assert_eq!(image["status"], "available");
    assert_eq!(image["size"], 17, "size read from the store now");
    assert_eq!(image["checksum"], sha256_hex(b"version 2, longer").as_str());
    assert_eq!(image["created_at"], before["created_at"]);
    assert_eq!(
        app.member_ids("", &first, ALICE.0).await,
        vec!["bob", "carol"]
    );
    // created_at is kept to the microsecond: it still sorts before the other image.
    assert_eq!(
        app.list_ids("/images?sort_key=created_at", ALICE.0).await,
        vec![first.clone(), other.clone()]
    );
    // updated_at moved: it now sorts after the other image.
    assert_eq!(
        app.list_ids("/images?sort_key=updated_at", ALICE.0).await,
        vec![other, first.clone()]
    );
    // Only one image at the location.
    assert_eq!(app.list_ids("/images", ALICE.0).await.len(), 2);
    // The data served is the new one.
    let get = app.get(&format!("/images/{first}"), ALICE.0).await;
    assert_eq!(get.bytes().await.unwrap().as_ref(), b"version 2, longer");
}

#[tokio::test]
async fn re_registering_after_delete_gives_a_new_id_and_the_old_id_stays_404() {
    let app = TestApp::spawn().await;
    let old = app.alice().register("a.img").data(b"a").ok().await;
    app.set_members(&old, ALICE.0, &["bob"]).await;
    let resp = app
        .request(
            Method::DELETE,
            &format!("/images/{old}"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 204);
    let new = app.alice().register("a.img").data(b"a").ok().await;
    assert_ne!(new, old);
    assert_eq!(
        app.head(&format!("/images/{old}"), ALICE.0).await.status(),
        404
    );
    assert_eq!(
        app.head(&format!("/images/{new}"), ALICE.0).await.status(),
        200
    );
    assert!(app.member_ids("", &new, ALICE.0).await.is_empty());
    assert_eq!(app.list_ids("/images", ALICE.0).await, vec![new.clone()]);
    // The tombstone keeps its id and location, and lists with changes-since.
    let all = app
        .list_ids("/images?changes-since=2000-01-01", ALICE.0)
        .await;
    assert_eq!(all, vec![old, new]);
}

#[tokio::test]
async fn owner_given_at_register_must_be_the_caller() {
    let app = TestApp::spawn().await;
    let resp = app
        .alice()
        .register("a.img")
        .header("X-Image-Meta-Owner", "alice")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    app.alice()
        .register("b.img")
        .header("X-Image-Meta-Owner", "bob")
        .fault(403, "forbidden", &["owner", "bob"])
        .await;
    assert_eq!(app.list_ids("/images", ALICE.0).await.len(), 1);
}

#[tokio::test]
async fn a_location_of_another_account_is_403_and_registers_nothing() {
    let app = TestApp::spawn().await;
    app.put_object(BOB.1, "images", "b.img", b"bob's");
    for prefix in PREFIXES {
        app.alice()
            .register("stolen")
            .location("pithos://bob/images/b.img")
            .prefix(prefix)
            .fault(403, "forbidden", &["bob"])
            .await;
    }
    assert!(app.list_ids("/images", ALICE.0).await.is_empty());
    assert!(app.list_ids("/images", BOB.0).await.is_empty());
}

#[tokio::test]
async fn a_missing_object_is_400_file_not_found_on_given_location() {
    let app = TestApp::spawn().await;
    for loc in [
        "pithos://alice/images/none.img",
        "pithos://alice/nocontainer/x.img",
        "pithos://alice/images/dir/deeper/none.img",
    ] {
        app.alice()
            .register("n")
            .location(loc)
            .fault(400, "badRequest", &["File not found on given location"])
            .await;
    }
}

#[tokio::test]
async fn a_missing_location_is_501_but_a_missing_name_is_400_first() {
    let app = TestApp::spawn().await;
    for prefix in PREFIXES {
        let path = format!("{prefix}/images");
        let resp = app
            .request(
                Method::POST,
                &path,
                Some(ALICE.0),
                &[("X-Image-Meta-Name", "n")],
            )
            .await;
        fault(resp, 501, "notImplemented", &["location"]).await;
        let resp = app.request(Method::POST, &path, Some(ALICE.0), &[]).await;
        fault(resp, 400, "badRequest", &["name"]).await;
        let resp = app
            .request(
                Method::POST,
                &path,
                Some(ALICE.0),
                &[("X-Image-Meta-Location", "pithos://alice/images/x")],
            )
            .await;
        fault(resp, 400, "badRequest", &["name"]).await;
    }
}

#[tokio::test]
async fn update_merges_properties_and_an_empty_value_deletes_one() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("a.img")
        .property("Keep", "k")
        .property("Change", "old")
        .property("Drop", "d")
        .ok()
        .await;
    let resp = app
        .update_ok(
            &id,
            ALICE.0,
            &[
                ("X-Image-Meta-Property-Change", "new"),
                ("X-Image-Meta-Property-Drop", ""),
                ("X-Image-Meta-Property-Add", "a"),
                ("X-Image-Meta-Property-Never", ""),
            ],
        )
        .await;
    assert_eq!(header(&resp, "x-image-meta-property-drop"), None);
    assert_eq!(must_header(&resp, "x-image-meta-property-change"), "new");
    let body = json_with_status(resp, 200).await;
    let expected = json!({"keep": "k", "change": "new", "add": "a"});
    assert_eq!(body["image"]["properties"], expected);
    assert_eq!(app.detail_of(&id, ALICE.0).await["properties"], expected);
    // purge-props false is a merge too.
    app.update_ok(
        &id,
        ALICE.0,
        &[
            ("X-Glance-Registry-Purge-Props", "false"),
            ("X-Image-Meta-Property-More", "m"),
        ],
    )
    .await;
    assert_eq!(
        app.detail_of(&id, ALICE.0).await["properties"],
        json!({"keep": "k", "change": "new", "add": "a", "more": "m"})
    );
}

#[tokio::test]
async fn update_with_purge_props_true_replaces_the_property_set() {
    let app = TestApp::spawn().await;
    for (i, value) in ["true", "True", "TRUE"].iter().enumerate() {
        let id = app
            .alice()
            .register(&format!("p{i}.img"))
            .property("Old", "o")
            .property("Both", "1")
            .ok()
            .await;
        let resp = app
            .update_ok(
                &id,
                ALICE.0,
                &[
                    ("x-glance-registry-purge-props", value),
                    ("X-Image-Meta-Property-Both", "2"),
                    ("X-Image-Meta-Property-New", "n"),
                ],
            )
            .await;
        let body = json_with_status(resp, 200).await;
        assert_eq!(
            body["image"]["properties"],
            json!({"both": "2", "new": "n"})
        );
        // With nothing else, purge empties the set.
        app.update_ok(&id, ALICE.0, &[("X-Glance-Registry-Purge-Props", value)])
            .await;
        assert_eq!(app.detail_of(&id, ALICE.0).await["properties"], json!({}));
    }
}

#[tokio::test]
async fn update_changes_the_settable_fields_and_answers_like_register() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    for prefix in PREFIXES {
        let resp = app
            .request(
                Method::PUT,
                &format!("{prefix}/images/{id}"),
                Some(ALICE.0),
                &[
                    ("X-Image-Meta-Name", "Renamed image"),
                    ("X-Image-Meta-Disk-Format", "iso"),
                    ("X-Image-Meta-Container-Format", "ovf"),
                    ("X-Image-Meta-Is-Public", "True"),
                    ("X-Image-Meta-Min-Ram", "64"),
                    ("X-Image-Meta-Min-Disk", "1"),
                    ("X-Image-Meta-Owner", "alice"),
                ],
            )
            .await;
        assert_eq!(resp.status(), 200);
        let shown = if prefix == "/v1" {
            "Renamed image"
        } else {
            "Renamed%20image"
        };
        assert_eq!(must_header(&resp, "x-image-meta-name"), shown);
        assert_eq!(must_header(&resp, "x-image-meta-is-public"), "True");
        assert_eq!(must_header(&resp, "x-image-meta-owner"), "alice");
        let body = json_with_status(resp, 200).await;
        let image = &body["image"];
        assert_eq!(image["name"], "Renamed image");
        assert_eq!(image["disk_format"], "iso");
        assert_eq!(image["container_format"], "ovf");
        assert_eq!(image["is_public"], true);
        assert_eq!(image["min_ram"], 64);
        assert_eq!(image["min_disk"], 1);
        assert_eq!(image["location"], "pithos://alice/images/a.img");
        let head = app.head(&format!("{prefix}/images/{id}"), ALICE.0).await;
        assert_eq!(must_header(&head, "x-image-meta-disk-format"), "iso");
        assert_eq!(must_header(&head, "x-image-meta-min-ram"), "64");
    }
}

#[tokio::test]
async fn update_takes_each_status_an_owner_may_set() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    for status in ["saving", "error", "available", "SAVING", "Available"] {
        let resp = app
            .update_ok(&id, ALICE.0, &[("X-Image-Meta-Status", status)])
            .await;
        assert_eq!(
            must_header(&resp, "x-image-meta-status"),
            status.to_lowercase()
        );
        let head = app.head(&format!("/images/{id}"), ALICE.0).await;
        assert_eq!(head.status(), 200, "HEAD shows any live image");
        assert_eq!(
            must_header(&head, "x-image-meta-status"),
            status.to_lowercase()
        );
    }
    let resp = app
        .request(
            Method::PUT,
            &format!("/images/{id}"),
            Some(ALICE.0),
            &[("X-Image-Meta-Status", "deleted")],
        )
        .await;
    fault(resp, 400, "badRequest", &["status", "deleted"]).await;
    assert_eq!(
        app.head(&format!("/images/{id}"), ALICE.0).await.status(),
        200
    );
}

#[tokio::test]
async fn an_update_moves_updated_at_but_not_created_at() {
    let app = TestApp::spawn().await;
    let a = app.alice().register("a.img").data(b"a").ok().await;
    let b = app.alice().register("b.img").data(b"b").ok().await;
    let created = app.detail_of(&a, ALICE.0).await["created_at"].clone();
    app.update_ok(&a, ALICE.0, &[("X-Image-Meta-Property-X", "1")])
        .await;
    assert_eq!(app.detail_of(&a, ALICE.0).await["created_at"], created);
    assert_eq!(
        app.list_ids("/images?sort_key=updated_at", ALICE.0).await,
        vec![b.clone(), a.clone()]
    );
    assert_eq!(
        app.list_ids("/images?sort_key=created_at", ALICE.0).await,
        vec![a, b]
    );
}

#[tokio::test]
async fn delete_answers_204_and_the_image_is_gone_but_for_changes_since() {
    let app = TestApp::spawn().await;
    for prefix in PREFIXES {
        let file = format!("d{}.img", prefix.len());
        let id = app.alice().register(&file).data(b"to delete").ok().await;
        app.set_members(&id, ALICE.0, &["bob"]).await;
        let resp = app
            .request(
                Method::DELETE,
                &format!("{prefix}/images/{id}"),
                Some(ALICE.0),
                &[],
            )
            .await;
        assert_eq!(resp.status(), 204);
        assert!(resp.bytes().await.unwrap().is_empty());
        for (method, path) in [
            (Method::HEAD, format!("/images/{id}")),
            (Method::GET, format!("/images/{id}")),
            (Method::PUT, format!("/images/{id}")),
            (Method::DELETE, format!("/images/{id}")),
            (Method::GET, format!("/images/{id}/members")),
            (Method::PUT, format!("/images/{id}/members/carol")),
            (Method::DELETE, format!("/images/{id}/members/bob")),
        ] {
            for token in [ALICE.0, BOB.0] {
                let resp = app
                    .request(method.clone(), &format!("{prefix}{path}"), Some(token), &[])
                    .await;
                assert_eq!(resp.status(), 404, "{method} {prefix}{path} after delete");
                if method != Method::HEAD {
                    fault(resp, 404, "itemNotFound", &[&id]).await;
                }
            }
        }
        for list in ["/images", "/images/detail"] {
            for token in [ALICE.0, BOB.0] {
                let ids = app.list_ids(&format!("{prefix}{list}"), token).await;
                assert!(!ids.contains(&id), "{prefix}{list}");
            }
        }
        let shared: Value = app
            .get(&format!("{prefix}/shared-images/bob"), ALICE.0)
            .await
            .json()
            .await
            .unwrap();
        assert!(!shared.to_string().contains(&id), "{shared}");
        let item = app
            .list(
                &format!("{prefix}/images/detail?changes-since=2000-01-01"),
                ALICE.0,
            )
            .await;
        let item = crate::util::items(&item)
            .into_iter()
            .find(|i| i["id"] == id.as_str())
            .expect("listed with changes-since");
        assert_eq!(item["status"], "deleted");
        let deleted_at = item["deleted_at"].as_str().unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(deleted_at, "%Y-%m-%d %H:%M:%S").is_ok(),
            "{deleted_at}"
        );
        // The object itself is not touched.
        assert!(app.root().join("alice/images").join(&file).is_file());
    }
}

#[tokio::test]
async fn only_the_owner_may_delete() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").public().ok().await;
    for token in [BOB.0, CAROL.0] {
        let resp = app
            .request(Method::DELETE, &format!("/images/{id}"), Some(token), &[])
            .await;
        fault(resp, 403, "forbidden", &[&id]).await;
    }
    assert_eq!(
        app.head(&format!("/images/{id}"), ALICE.0).await.status(),
        200
    );
}
