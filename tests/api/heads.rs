//! `HEAD /images/{id}` (docs/api.md §6), read from the catalogue's row
//! rather than from a whole image: every header, in both dialects, as the
//! data GET (which renders a whole image) sends it, and who may read it.

use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::{catalogue_sql, TestApp, ALICE, BOB, CAROL};
use crate::util::{is_glance, md5_hex, sha256_hex, PREFIXES};

/// The `x-image-meta-*` headers of a response, (name, value), in the order sent.
fn image_headers(resp: &Response) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-image-meta-"))
        .map(|(k, v)| {
            let v = String::from_utf8(v.as_bytes().to_vec()).expect("an ASCII value");
            (k.as_str().to_string(), v)
        })
        .collect()
}

/// The `x-image-meta-*` headers of `HEAD <prefix>/images/<id>` as `token`
/// sees them, asserting 200 and an empty body.
async fn head_only(app: &TestApp, prefix: &str, id: &str, token: &str) -> Vec<(String, String)> {
    let path = format!("{prefix}/images/{id}");
    let head = app.head(&path, token).await;
    assert_eq!(head.status(), 200, "HEAD {path}");
    let headers = image_headers(&head);
    assert_eq!(head.bytes().await.unwrap().len(), 0, "HEAD {path}: no body");
    headers
}

/// `head_only`, asserting too the same headers in the same order as the
/// data GET's.
async fn head_ok(app: &TestApp, prefix: &str, id: &str, token: &str) -> Vec<(String, String)> {
    let headers = head_only(app, prefix, id, token).await;
    let path = format!("{prefix}/images/{id}");
    let get = app.get(&path, token).await;
    assert_eq!(get.status(), 200, "GET {path}");
    assert_eq!(image_headers(&get), headers, "HEAD and GET {path}");
    headers
}

/// The two spellings of a multi-word field's header.
fn both(name: &str, value: &str) -> [(String, String); 2] {
    [
        (format!("x-image-meta-{name}"), value.to_string()),
        (
            format!("x-image-meta-{}", name.replace('-', "_")),
            value.to_string(),
        ),
    ]
}

/// Every header an image with `data` and the registration below shows in
/// the dialect of `prefix`, sorted by name.
fn expected(prefix: &str, id: &str, data: &[u8], detail: &Value) -> Vec<(String, String)> {
    let glance = is_glance(prefix);
    let text = |k: &str| detail[k].as_str().unwrap().to_string();
    let mut all: Vec<(String, String)> = vec![
        ("x-image-meta-id".into(), id.into()),
        // Not printable ASCII: percent-encoded in both dialects.
        ("x-image-meta-name".into(), "Debian%2012%20%CE%B1".into()),
        ("x-image-meta-location".into(), text("location")),
        ("x-image-meta-status".into(), "available".into()),
        ("x-image-meta-size".into(), data.len().to_string()),
        (
            "x-image-meta-checksum".into(),
            if glance {
                md5_hex(data)
            } else {
                sha256_hex(data)
            },
        ),
        ("x-image-meta-owner".into(), ALICE.1.into()),
        ("x-image-meta-protected".into(), "False".into()),
    ];
    for (name, value) in [
        ("disk-format", "raw".to_string()),
        ("container-format", "bare".to_string()),
        ("created-at", text("created_at")),
        ("updated-at", text("updated_at")),
        ("deleted-at", String::new()),
        ("is-public", "False".to_string()),
        ("min-ram", "512".to_string()),
        ("min-disk", "3".to_string()),
    ] {
        all.extend(both(name, &value));
    }
    let property = |key: &str| {
        let key = if glance {
            key.to_string()
        } else {
            key.replace('_', "-")
        };
        format!("x-image-meta-property-{key}")
    };
    // Cyclades percent-encodes every value that is not plain; Glance sends
    // printable ASCII as it is.
    let plain = |cyclades: &str, glance_value: &str| {
        if glance {
            glance_value.to_string()
        } else {
            cyclades.to_string()
        }
    };
    all.extend([
        (property("os"), plain("debian%20linux", "debian linux")),
        (property("root_partition"), "1".into()),
        (property("%ce%b5%ce%bb"), "caf%C3%A9".into()),
        (property("sign"), plain("100%25%20sure%3F", "100% sure?")),
    ]);
    all.sort();
    all
}

#[tokio::test]
async fn head_shows_every_header_as_the_data_get_does_in_both_dialects() {
    let app = TestApp::spawn().await;
    let data = b"the image's bytes";
    let id = app
        .alice()
        .register("a.img")
        .data(data)
        .name("Debian 12 α")
        .header("X-Image-Meta-Disk-Format", "raw")
        .header("X-Image-Meta-Container-Format", "bare")
        .header("X-Image-Meta-Min-Ram", "512")
        .property("OS", "debian linux")
        .property("Root_Partition", "1")
        .property("%CE%B5%CE%BB", "caf%C3%A9")
        .property("sign", "100%25 sure?")
        .ok()
        .await;
    app.update_ok(&id, ALICE.0, &[("X-Image-Meta-Min-Disk", "3")])
        .await;
    // Created a day before its update, so that no two times are alike.
    let day = catalogue_sql(
        &app,
        "UPDATE images SET created_at = created_at - 86400000000 WHERE id = ?1 RETURNING id",
        &[&id],
    );
    assert_eq!(day.len(), 1);
    let detail = app.detail_of(&id, ALICE.0).await;
    assert_ne!(detail["created_at"], detail["updated_at"]);
    for prefix in PREFIXES {
        let mut headers = head_ok(&app, prefix, &id, ALICE.0).await;
        // An id in capitals names the same image, shown as it is stored.
        let upper = head_ok(&app, prefix, &id.to_uppercase(), ALICE.0).await;
        assert_eq!(upper, headers, "{prefix}");
        headers.sort();
        assert_eq!(headers, expected(prefix, &id, data, &detail), "{prefix}");
    }
}

#[tokio::test]
async fn head_shows_a_shared_image_to_members_and_a_public_one_to_everyone() {
    let app = TestApp::spawn().await;
    let shared = app.alice().register("s.img").property("a", "1").ok().await;
    app.set_members(&shared, ALICE.0, &[BOB.1]).await;
    let public = app
        .alice()
        .register("p.img")
        .property("b", "2")
        .public()
        .ok()
        .await;
    for prefix in PREFIXES {
        let owner = head_ok(&app, prefix, &shared, ALICE.0).await;
        assert_eq!(
            head_ok(&app, prefix, &shared, BOB.0).await,
            owner,
            "{prefix}: member"
        );
        let path = format!("{prefix}/images/{shared}");
        assert_eq!(
            app.head(&path, CAROL.0).await.status(),
            404,
            "{prefix}: not a member"
        );
        let owner = head_ok(&app, prefix, &public, ALICE.0).await;
        assert!(owner.contains(&("x-image-meta-is-public".into(), "True".into())));
        for token in [BOB.0, CAROL.0] {
            assert_eq!(
                head_ok(&app, prefix, &public, token).await,
                owner,
                "{prefix}"
            );
        }
    }
}

#[tokio::test]
async fn head_of_a_community_image_answers_everyone_and_of_a_private_one_its_owner() {
    let app = TestApp::spawn().await;
    let community = app.alice().register("c.img").ok().await;
    let private = app.alice().register("q.img").ok().await;
    app.set_members(&private, ALICE.0, &[BOB.1]).await;
    for (id, word) in [(&community, "community"), (&private, "private")] {
        let changed = catalogue_sql(
            &app,
            "UPDATE images SET visibility = ?1 WHERE id = ?2 RETURNING id",
            &[word, id],
        );
        assert_eq!(changed.len(), 1, "{word}");
    }
    for prefix in PREFIXES {
        let owner = head_ok(&app, prefix, &community, ALICE.0).await;
        // (Made community in the catalogue alone: the object store was not
        // told, so only the HEAD is asked for.)
        assert_eq!(head_only(&app, prefix, &community, CAROL.0).await, owner);
        head_ok(&app, prefix, &private, ALICE.0).await;
        // A private image's members do not make it readable (§17.10).
        let path = format!("{prefix}/images/{private}");
        assert_eq!(app.head(&path, BOB.0).await.status(), 404, "{prefix}");
    }
}

#[tokio::test]
async fn head_of_a_deleted_or_unknown_image_is_404_for_everyone() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("d.img").public().ok().await;
    let gone = app
        .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(gone.status(), 204);
    let unknown = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    for prefix in PREFIXES {
        for image in [id.as_str(), unknown] {
            for token in [ALICE.0, BOB.0] {
                let path = format!("{prefix}/images/{image}");
                let head = app.head(&path, token).await;
                assert_eq!(head.status(), 404, "{path}");
                assert!(image_headers(&head).is_empty(), "{path}");
                // The GET says why, and the HEAD's status is the GET's.
                assert_eq!(app.get(&path, token).await.status(), 404, "{path}");
            }
        }
    }
}

#[tokio::test]
async fn head_of_a_queued_image_shows_no_data() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("q.img").property("a", "1").ok().await;
    let changed = catalogue_sql(
        &app,
        "UPDATE images SET status = 'queued', location = NULL, size = NULL, checksum = NULL, \
         md5 = NULL, disk_format = NULL, container_format = NULL WHERE id = ?1 RETURNING id",
        &[&id],
    );
    assert_eq!(changed.len(), 1);
    for prefix in PREFIXES {
        let head = app.head(&format!("{prefix}/images/{id}"), ALICE.0).await;
        assert_eq!(head.status(), 200, "{prefix}");
        let headers = image_headers(&head);
        let value = |name: &str| {
            let found = headers.iter().find(|(k, _)| k == name);
            found.map(|(_, v)| v.as_str())
        };
        assert_eq!(value("x-image-meta-status"), Some("queued"), "{prefix}");
        assert_eq!(value("x-image-meta-size"), Some("0"), "{prefix}");
        for name in ["location", "disk-format", "container_format"] {
            assert_eq!(
                value(&format!("x-image-meta-{name}")),
                Some(""),
                "{prefix} {name}"
            );
        }
        // Cyclades shows the (empty) Pithos hash; Glance has no MD5 to show.
        let checksum = if is_glance(prefix) { None } else { Some("") };
        assert_eq!(value("x-image-meta-checksum"), checksum, "{prefix}");
        assert_eq!(value("x-image-meta-property-a"), Some("1"), "{prefix}");
        assert_eq!(
            headers.len(),
            24 + 1 - usize::from(is_glance(prefix)),
            "{prefix}"
        );
    }
}
