//! Durability and concurrency (docs/api.md §10): every answered write survives a restart,
//! and concurrent writers to one image lose nothing.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{json_with_status, must_header};

/// Everything a user could observe of the catalogue, as comparable values.
async fn observe(app: &TestApp, ids: &[String]) -> Vec<Value> {
    let mut seen = Vec::new();
    for token in [ALICE.0, BOB.0, CAROL.0] {
        seen.push(
            app.list("/images/detail?changes-since=2000-01-01", token)
                .await,
        );
        seen.push(app.list("/v1/images/detail", token).await);
        for member in ["alice", "bob", "carol"] {
            let resp = app.get(&format!("/shared-images/{member}"), token).await;
            seen.push(Value::from(resp.status().as_u16()));
            if resp.status() == 200 {
                seen.push(resp.json().await.unwrap());
            }
        }
    }
    for id in ids {
        let head = app.head(&format!("/images/{id}"), ALICE.0).await;
        seen.push(Value::from(head.status().as_u16()));
        let mut meta: Vec<String> = head
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-image-meta-"))
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
            .collect();
        meta.sort();
        seen.push(Value::from(meta));
        let members = app.get(&format!("/images/{id}/members"), ALICE.0).await;
        seen.push(Value::from(members.status().as_u16()));
        seen.push(Value::from(members.text().await.unwrap()));
    }
    seen
}

#[tokio::test]
async fn a_restart_keeps_every_answered_write() {
    let app = TestApp::spawn().await;
    let a = app
        .alice()
        .register("a.img")
        .data(b"aaa")
        .property("OS", "debian")
        .ok()
        .await;
    let b = app.alice().register("b.img").data(b"bbb").ok().await;
    let c = app.alice().register("c.img").data(b"ccc").ok().await;
    let bobs = app.bob().register("b.img").data(b"bob").public().ok().await;
    app.update_ok(
        &a,
        ALICE.0,
        &[
            ("X-Image-Meta-Name", "Debian 12"),
            ("X-Image-Meta-Is-Public", "true"),
            ("X-Image-Meta-Min-Ram", "512"),
            ("X-Image-Meta-Property-Version", "12"),
            ("X-Image-Meta-Property-OS", ""),
        ],
    )
    .await;
    app.update_ok(&b, ALICE.0, &[("X-Image-Meta-Status", "saving")])
        .await;
    app.set_members(&a, ALICE.0, &["bob", "carol"]).await;
    let resp = app
        .request(
            Method::DELETE,
            &format!("/images/{a}/members/carol"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 204);
    let resp = app
        .request(
            Method::PUT,
            &format!("/images/{b}/members/carol"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 204);
    let resp = app
        .request(Method::DELETE, &format!("/images/{c}"), Some(ALICE.0), &[])
        .await;
    assert_eq!(resp.status(), 204);
    // Re-register b: same id, new metadata, members kept.
    let again = app
        .alice()
        .register("b.img")
        .data(b"bbb, rebuilt")
        .header("X-Image-Meta-Disk-Format", "raw")
        .ok()
        .await;
    assert_eq!(again, b);

    let ids = vec![a.clone(), b.clone(), c.clone(), bobs.clone()];
    let before = observe(&app, &ids).await;
    let app = app.restart().await;
    let after = observe(&app, &ids).await;
    assert_eq!(before, after);

    // Spot checks of what the restarted server says.
    let head = app.head(&format!("/images/{a}"), BOB.0).await;
    assert_eq!(must_header(&head, "x-image-meta-name"), "Debian%2012");
    assert_eq!(must_header(&head, "x-image-meta-property-version"), "12");
    assert_eq!(app.member_ids("", &a, ALICE.0).await, vec!["bob"]);
    assert_eq!(app.member_ids("", &b, ALICE.0).await, vec!["carol"]);
    assert_eq!(
        app.head(&format!("/images/{c}"), ALICE.0).await.status(),
        404
    );
    let item = app.detail_of(&b, ALICE.0).await;
    assert_eq!(item["disk_format"], "raw");
    assert_eq!(item["size"], 12);
    // The deleted image's location is free, under a new id, after the restart too.
    let new_c = app.alice().register("c.img").data(b"ccc").ok().await;
    assert!(!ids.contains(&new_c));
    // And a second restart keeps that as well.
    let ids = vec![a, b, c, bobs, new_c];
    let before = observe(&app, &ids).await;
    let app = app.restart().await;
    assert_eq!(observe(&app, &ids).await, before);
}

#[tokio::test]
async fn concurrent_updates_of_one_image_all_succeed_and_none_is_lost() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = app.url(&format!("/images/{id}"));
        tasks.push(tokio::spawn(async move {
            client
                .put(url)
                .header("x-auth-token", ALICE.0)
                .header(format!("X-Image-Meta-Property-P{i}"), "v")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for i in 0..24 {
        let client = app.client.clone();
        let url = app.url(&format!("/images/{id}/members/user{i}"));
        tasks.push(tokio::spawn(async move {
            client
                .put(url)
                .header("x-auth-token", ALICE.0)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 204, "got {status}");
    }
    let item = app.detail_of(&id, ALICE.0).await;
    assert_eq!(item["properties"].as_object().unwrap().len(), 24, "{item}");
    assert_eq!(app.member_ids("", &id, ALICE.0).await.len(), 24);
}

#[tokio::test]
async fn concurrent_registrations_of_one_location_make_one_image() {
    let app = TestApp::spawn().await;
    app.put_object(ALICE.1, "images", "a.img", b"one object");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = app.client.clone();
        let url = app.url("/images");
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .header("x-auth-token", ALICE.0)
                .header("X-Image-Meta-Name", format!("n{i}"))
                .header("X-Image-Meta-Location", "pithos://alice/images/a.img")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, json_with_status(resp, status).await)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        ids.push(body["image"]["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one id for one location: {ids:?}");
    assert_eq!(app.list_ids("/images", ALICE.0).await, ids);
}

#[tokio::test]
async fn an_answered_registration_is_already_in_the_database_file_in_wal_mode() {
    if crate::POSTGRES {
        // The SQLite file's journal mode: no file on PostgreSQL.
        return;
    }
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    // Another connection, as a backup or a second process would open it.
    let conn = rusqlite::Connection::open_with_flags(
        crate::helpers::db_path(&app),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM images WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
}
