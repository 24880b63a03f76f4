//! Known blocks are not sent again (issue 24, item 7; docs/api.md §14): a
//! hashmap `PUT` asks only for the blocks no object the caller may read
//! holds, and a stale index entry (a file changed behind the server) is
//! never used.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{ALICE, BOB};
use crate::objects::{
    block_hash, blocks_on_disk, call, etag_after_assembly, fs_app, post_blocks, put, put_hashmap,
    BLOCK,
};
use crate::util::{json_with_status, md5_hex, must_header};

/// Three blocks: two full, the last short.
fn blocks(seed: u8) -> Vec<Vec<u8>> {
    vec![
        vec![seed; BLOCK],
        vec![seed.wrapping_add(1); BLOCK],
        vec![seed.wrapping_add(2); 1000],
    ]
}

fn map_of(parts: &[Vec<u8>]) -> Value {
    let bytes: usize = parts.iter().map(Vec::len).sum();
    json!({"bytes": bytes, "hashes": parts.iter().map(|b| block_hash(b)).collect::<Vec<_>>()})
}

/// Uploads `parts` as kamaki does, for `account` (its token `token`).
async fn upload(app: &crate::helpers::TestApp, path: &str, token: &str, parts: &[Vec<u8>]) {
    let map = map_of(parts);
    let account = path.split('/').nth(1).unwrap();
    let first = call(
        app,
        Method::PUT,
        &format!("{path}?format=json&hashmap=True"),
        token,
        &[],
        map.to_string().into_bytes(),
    )
    .await;
    if first.status() == 409 {
        for p in parts {
            let resp = call(
                app,
                Method::POST,
                &format!("/{account}/pithos?update&format=json"),
                token,
                &[("content-type", "application/octet-stream")],
                p.clone(),
            )
            .await;
            assert_eq!(resp.status(), 202);
        }
        let again = call(
            app,
            Method::PUT,
            &format!("{path}?format=json&hashmap=True"),
            token,
            &[],
            map.to_string().into_bytes(),
        )
        .await;
        assert_eq!(again.status(), 201);
    } else {
        assert_eq!(first.status(), 201);
    }
}

#[tokio::test]
async fn a_second_object_with_the_same_blocks_needs_none_uploaded() {
    let Some(app) = fs_app().await else { return };
    let parts = blocks(1);
    upload(&app, "/alice/pithos/one.img", ALICE.0, &parts).await;
    let data = parts.concat();
    // The same image again: no block is asked for.
    // Once one.img's MD5 is known (its first HEAD), the same bytes under
    // another name have it at once.
    let one = crate::objects::head(&app, "/alice/pithos/one.img", ALICE.0).await;
    assert_eq!(must_header(&one, "etag"), md5_hex(&data));
    let done = put_hashmap(&app, "/alice/pithos/two.img", &map_of(&parts)).await;
    assert_eq!(done.status(), 201);
    assert_eq!(must_header(&done, "etag"), md5_hex(&data));
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/two.img")).unwrap(),
        data
    );
    assert!(blocks_on_disk(&app).is_empty());
    // A new build differing in one block: only that one.
    let mut build = parts.clone();
    build[1] = vec![9; BLOCK];
    let missing = json_with_status(
        put_hashmap(&app, "/alice/pithos/three.img", &map_of(&build)).await,
        409,
    )
    .await;
    assert_eq!(missing, json!([block_hash(&build[1])]));
    assert!(!app.root().join("alice/pithos/three.img").exists());
    assert_eq!(
        post_blocks(&app, "alice", "pithos", &build[1])
            .await
            .status(),
        202
    );
    let done = put_hashmap(&app, "/alice/pithos/three.img", &map_of(&build)).await;
    assert_eq!(done.status(), 201);
    assert_eq!(
        etag_after_assembly(&app, &done, "/alice/pithos/three.img").await,
        md5_hex(&build.concat())
    );
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/three.img")).unwrap(),
        build.concat()
    );
    let map = json_with_status(
        crate::objects::get(
            &app,
            "/alice/pithos/three.img?hashmap=True&format=json",
            ALICE.0,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(map["hashes"], map_of(&build)["hashes"]);
    // A deleted object's blocks are not known any more.
    for name in ["one.img", "two.img", "three.img"] {
        let resp = call(
            &app,
            Method::DELETE,
            &format!("/alice/pithos/{name}"),
            ALICE.0,
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(resp.status(), 204);
    }
    let missing = json_with_status(
        put_hashmap(&app, "/alice/pithos/four.img", &map_of(&parts)).await,
        409,
    )
    .await;
    assert_eq!(missing.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_block_only_in_an_object_the_caller_may_not_read_must_be_uploaded() {
    let Some(app) = fs_app().await else { return };
    let parts = blocks(40);
    assert!(put(&app, "/bob/pithos", BOB.0, b"")
        .await
        .status()
        .is_success());
    upload(&app, "/bob/pithos/private.img", BOB.0, &parts).await;
    let missing = json_with_status(
        put_hashmap(&app, "/alice/pithos/mine.img", &map_of(&parts)).await,
        409,
    )
    .await;
    assert_eq!(missing, map_of(&parts)["hashes"]);
    assert!(
        !app.root().join("alice/pithos/mine.img").exists(),
        "nothing written"
    );
    // Shared with alice, its blocks are hers to use.
    let share = call(
        &app,
        Method::POST,
        "/bob/pithos/private.img",
        BOB.0,
        &[("x-object-sharing", "read=alice")],
        Vec::new(),
    )
    .await;
    assert_eq!(share.status(), 202);
    let done = put_hashmap(&app, "/alice/pithos/mine.img", &map_of(&parts)).await;
    assert_eq!(done.status(), 201);
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/mine.img")).unwrap(),
        parts.concat()
    );
}

#[tokio::test]
async fn a_stale_index_entry_is_not_used() {
    let Some(app) = fs_app().await else { return };
    let parts = blocks(70);
    upload(&app, "/alice/pithos/one.img", ALICE.0, &parts).await;
    // Changed behind the server's back, same size.
    let file = app.root().join("alice/pithos/one.img");
    std::fs::write(&file, vec![5u8; parts.concat().len()]).unwrap();
    let missing = json_with_status(
        put_hashmap(&app, "/alice/pithos/two.img", &map_of(&parts)).await,
        409,
    )
    .await;
    assert_eq!(missing, map_of(&parts)["hashes"]);
    assert!(
        !app.root().join("alice/pithos/two.img").exists(),
        "nothing written"
    );
    upload(&app, "/alice/pithos/two.img", ALICE.0, &parts).await;
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/two.img")).unwrap(),
        parts.concat()
    );
}

#[tokio::test]
async fn an_assembly_answers_before_its_md5_and_every_read_has_the_right_one() {
    let Some(app) = fs_app().await else { return };
    let parts = blocks(40);
    let data = parts.concat();
    let path = "/alice/pithos/owed.img";
    let missing = json_with_status(put_hashmap(&app, path, &map_of(&parts)).await, 409).await;
    assert_eq!(missing.as_array().unwrap().len(), 3);
    for p in &parts {
        assert_eq!(post_blocks(&app, "alice", "pithos", p).await.status(), 202);
    }
    // The 201 comes before the MD5 is read: no ETag, as Pithos without one.
    let done = put_hashmap(&app, path, &map_of(&parts)).await;
    assert_eq!(done.status(), 201);
    assert_eq!(crate::util::header(&done, "etag"), None);
    assert_eq!(must_header(&done, "x-object-version"), "1");
    // Every read right after has it right: registration, the listing, HEAD.
    let image = app
        .alice()
        .register("owed.img")
        .in_container("pithos")
        .already_there()
        .json()
        .await;
    let id = image["image"]["id"].as_str().unwrap().to_string();
    let v2 = json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await;
    assert_eq!(v2["checksum"], md5_hex(&data));
    let list = json_with_status(
        crate::objects::get(&app, "/alice/pithos?format=json", ALICE.0).await,
        200,
    )
    .await;
    assert_eq!(list[0]["name"], "owed.img");
    assert_eq!(list[0]["hash"], md5_hex(&data));
    let head = crate::objects::head(&app, path, ALICE.0).await;
    assert_eq!(must_header(&head, "etag"), md5_hex(&data));
    // The same bytes again, under this name or another: the MD5 is known.
    // Under the same name (`kamaki file upload -f`), nothing is rewritten:
    // a new version of the metadata over the same file.
    use std::os::unix::fs::MetadataExt;
    let file = app.root().join("alice/pithos/owed.img");
    let before = std::fs::metadata(&file).unwrap();
    for (again, version) in [(path, "2"), ("/alice/pithos/again.img", "1")] {
        let resp = put_hashmap(&app, again, &map_of(&parts)).await;
        assert_eq!(resp.status(), 201);
        assert_eq!(must_header(&resp, "etag"), md5_hex(&data), "{again}");
        assert_eq!(must_header(&resp, "x-object-version"), version, "{again}");
    }
    let after = std::fs::metadata(&file).unwrap();
    assert_eq!(
        (after.ino(), after.mtime_nsec()),
        (before.ino(), before.mtime_nsec())
    );
    let head = crate::objects::head(&app, path, ALICE.0).await;
    assert_eq!(must_header(&head, "x-object-version"), "2");
    assert_eq!(must_header(&head, "etag"), md5_hex(&data));
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/again.img")).unwrap(),
        data
    );
    // A hashmap PUT with an ETag to check has it checked before the 201.
    let mut build = parts.clone();
    build[2] = vec![7; 10];
    assert_eq!(
        post_blocks(&app, "alice", "pithos", &build[2])
            .await
            .status(),
        202
    );
    let wrong = md5_hex(b"not it");
    let refused = call(
        &app,
        Method::PUT,
        "/alice/pithos/checked.img?format=json&hashmap=True",
        ALICE.0,
        &[("etag", wrong.as_str())],
        map_of(&build).to_string().into_bytes(),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(!app.root().join("alice/pithos/checked.img").exists());
    let right = md5_hex(&build.concat());
    let checked = call(
        &app,
        Method::PUT,
        "/alice/pithos/checked.img?format=json&hashmap=True",
        ALICE.0,
        &[("etag", right.as_str())],
        map_of(&build).to_string().into_bytes(),
    )
    .await;
    assert_eq!(checked.status(), 201);
    assert_eq!(must_header(&checked, "etag"), right);
}

#[tokio::test]
async fn plain_puts_and_copies_feed_the_known_blocks_too() {
    let Some(app) = fs_app().await else { return };
    let parts = blocks(60);
    let data = parts.concat();
    assert_eq!(
        put(&app, "/alice/pithos/plain.img", ALICE.0, &data)
            .await
            .status(),
        201
    );
    // Sent as a body: its blocks are known to a hashmap PUT at once.
    let done = put_hashmap(&app, "/alice/pithos/from-plain.img", &map_of(&parts)).await;
    assert_eq!(done.status(), 201);
    // A copy's destination holds them as well, once the source is gone.
    let copied = call(
        &app,
        Method::PUT,
        "/alice/pithos/copy.img",
        ALICE.0,
        &[
            ("x-copy-from", "/pithos/plain.img"),
            ("content-length", "0"),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(copied.status(), 201);
    for gone in ["plain.img", "from-plain.img"] {
        let resp = call(
            &app,
            Method::DELETE,
            &format!("/alice/pithos/{gone}"),
            ALICE.0,
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(resp.status(), 204);
    }
    let done = put_hashmap(&app, "/alice/pithos/from-copy.img", &map_of(&parts)).await;
    assert_eq!(done.status(), 201);
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/from-copy.img")).unwrap(),
        data
    );
    assert!(blocks_on_disk(&app).is_empty(), "no block was uploaded");
}

/// The inode of an object's file.
fn inode(app: &crate::helpers::TestApp, key: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(app.root().join(key)).unwrap().ino()
}

#[tokio::test]
async fn the_same_bytes_under_another_name_are_a_hard_link_that_stands_alone() {
    let Some(app) = fs_app().await else { return };
    let parts = blocks(40);
    let data = parts.concat();
    upload(&app, "/alice/pithos/one.img", ALICE.0, &parts).await;
    let one = crate::objects::head(&app, "/alice/pithos/one.img", ALICE.0).await;
    assert_eq!(must_header(&one, "etag"), md5_hex(&data));
    // The same bytes under another name: the very file, nothing written.
    let done = put_hashmap(&app, "/alice/pithos/two.img", &map_of(&parts)).await;
    assert_eq!(done.status(), 201);
    assert_eq!(must_header(&done, "etag"), md5_hex(&data));
    assert_eq!(
        inode(&app, "alice/pithos/two.img"),
        inode(&app, "alice/pithos/one.img")
    );
    assert!(blocks_on_disk(&app).is_empty());
    // Replacing or deleting one leaves the other as it was.
    assert_eq!(
        put(&app, "/alice/pithos/one.img", ALICE.0, b"other bytes")
            .await
            .status(),
        201
    );
    let two = crate::objects::get(&app, "/alice/pithos/two.img", ALICE.0).await;
    assert_eq!(must_header(&two, "etag"), md5_hex(&data));
    assert_eq!(two.bytes().await.unwrap().to_vec(), data);
    // Its blocks are known through it; a third name links it too.
    let three = put_hashmap(&app, "/alice/pithos/three.img", &map_of(&parts)).await;
    assert_eq!(three.status(), 201);
    assert_eq!(
        inode(&app, "alice/pithos/three.img"),
        inode(&app, "alice/pithos/two.img")
    );
    let resp = call(
        &app,
        Method::DELETE,
        "/alice/pithos/two.img",
        ALICE.0,
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status(), 204);
    let three = crate::objects::get(&app, "/alice/pithos/three.img", ALICE.0).await;
    assert_eq!(must_header(&three, "etag"), md5_hex(&data));
    assert_eq!(three.bytes().await.unwrap().to_vec(), data);
    // A name holding a file written later is not given an older one (its
    // Last-Modified would go back): the bytes are copied there instead.
    assert_eq!(
        put(&app, "/alice/pithos/four.img", ALICE.0, b"newer")
            .await
            .status(),
        201
    );
    let four = put_hashmap(&app, "/alice/pithos/four.img", &map_of(&parts)).await;
    assert_eq!(four.status(), 201);
    assert_ne!(
        inode(&app, "alice/pithos/four.img"),
        inode(&app, "alice/pithos/three.img")
    );
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/four.img")).unwrap(),
        data
    );
    // Another account that may not read the object gets no link of it.
    let bob = call(
        &app,
        Method::PUT,
        "/bob/pithos/five.img?format=json&hashmap=True",
        BOB.0,
        &[],
        map_of(&parts).to_string().into_bytes(),
    )
    .await;
    assert_eq!(bob.status(), 409);
    assert!(!app.root().join("bob/pithos/five.img").exists());
}

#[tokio::test]
async fn blocks_a_409_asked_for_go_straight_into_their_object() {
    let Some(app) = fs_app().await else { return };
    if crate::POSTGRES {
        // Several processes may serve the root: every block goes to
        // `+blocks` (api_pg's `several` checks an upload spread over two).
        return;
    }
    let parts = blocks(90);
    let map = map_of(&parts);
    let missing =
        json_with_status(put_hashmap(&app, "/alice/pithos/one.img", &map).await, 409).await;
    assert_eq!(missing.as_array().unwrap().len(), 3);
    for p in &parts {
        assert_eq!(post_blocks(&app, "alice", "pithos", p).await.status(), 202);
    }
    assert!(
        blocks_on_disk(&app).is_empty(),
        "written into the waiting object, not kept apart"
    );
    let done = put_hashmap(&app, "/alice/pithos/one.img", &map).await;
    assert_eq!(done.status(), 201);
    assert_eq!(
        etag_after_assembly(&app, &done, "/alice/pithos/one.img").await,
        md5_hex(&parts.concat())
    );
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/one.img")).unwrap(),
        parts.concat()
    );
    // A block no object waits for is kept apart, as before.
    let lone = vec![91u8; 500];
    assert_eq!(
        post_blocks(&app, "alice", "pithos", &lone).await.status(),
        202
    );
    assert_eq!(blocks_on_disk(&app).len(), 1);
}

#[tokio::test]
async fn an_object_waiting_for_blocks_and_then_linked_leaves_nothing_in_staging() {
    let Some(app) = fs_app().await else { return };
    if crate::POSTGRES {
        // No object waits in a process's memory there (see above).
        return;
    }
    let parts = blocks(120);
    let map = map_of(&parts);
    let missing =
        json_with_status(put_hashmap(&app, "/alice/pithos/two.img", &map).await, 409).await;
    assert_eq!(missing.as_array().unwrap().len(), 3);
    for p in &parts {
        assert_eq!(post_blocks(&app, "alice", "pithos", p).await.status(), 202);
    }
    let staged = || -> Vec<String> {
        std::fs::read_dir(app.root().join("+staging"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "lock")
            .collect()
    };
    assert_eq!(staged().len(), 1, "the waiting object's file");
    // Meanwhile the same bytes arrive under another name by a plain PUT.
    let data = parts.concat();
    assert_eq!(
        put(&app, "/alice/pithos/one.img", ALICE.0, &data)
            .await
            .status(),
        201
    );
    let done = put_hashmap(&app, "/alice/pithos/two.img", &map).await;
    assert_eq!(done.status(), 201);
    assert_eq!(
        inode(&app, "alice/pithos/two.img"),
        inode(&app, "alice/pithos/one.img"),
        "linked"
    );
    assert!(
        staged().is_empty(),
        "the waiting object's file went: {:?}",
        staged()
    );
    assert_eq!(
        std::fs::read(app.root().join("alice/pithos/two.img")).unwrap(),
        data
    );
}
