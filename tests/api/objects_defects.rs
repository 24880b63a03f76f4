//! The object store's defects found in review (issue 24, item 8), each
//! driven over HTTP: names that break listings or file systems, a stale
//! catalogue row, hashmaps past `limits.max_image_size`. Every refusal is
//! checked to change nothing.

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, ALICE, BOB};
use crate::objects::{
    call, fs_app, get, hashes_of, head, os, pattern, post_blocks, put, put_hashmap, put_with,
    refused, served, snapshot, BLOCK,
};
use crate::util::{header, must_header};

#[tokio::test]
async fn control_characters_and_long_segments_are_400_and_change_nothing() {
    let Some(app) = fs_app().await else { return };
    let long = "x".repeat(256);
    let fits = "y".repeat(255);
    let long_object = format!("/alice/pithos/d/{long}");
    let long_container = format!("/alice/{long}/x");
    for path in [
        "/alice/pithos/a%0Ab",
        "/alice/pithos/a%0Db",
        "/alice/pithos/a%09b",
        "/alice/pithos/a%7Fb",
        "/alice/pithos/a%C2%85b",
        "/alice/pithos/d%1B/x",
        "/alice/pi%0Athos/x",
        long_object.as_str(),
        long_container.as_str(),
    ] {
        let before = snapshot(&app);
        for method in ["PUT", "GET", "DELETE", "POST"] {
            let resp = app
                .raw_request(
                    method,
                    os(path).as_bytes(),
                    &[(b"X-Auth-Token", ALICE.0.as_bytes())],
                )
                .await;
            assert_eq!(
                resp.status,
                400,
                "{method} {path}: {}",
                String::from_utf8_lossy(&resp.body)
            );
        }
        assert_eq!(snapshot(&app), before, "{path}");
    }
    let container = format!("/alice/{long}");
    refused(
        &app,
        400,
        call(&app, Method::PUT, &container, ALICE.0, &[], Vec::new()),
    )
    .await;
    // 255 bytes is a segment a file system takes.
    let at_limit = format!("/alice/pithos/{fits}");
    assert_eq!(put(&app, &at_limit, ALICE.0, b"ok").await.status(), 201);
    let text = get(&app, "/alice/pithos", ALICE.0)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text.lines().collect::<Vec<_>>(), [fits.as_str()]);
}

#[tokio::test]
async fn a_row_whose_file_was_removed_by_hand_is_stale() {
    let Some(app) = fs_app().await else { return };
    let made = put_with(
        &app,
        "/alice/pithos/a",
        &[
            ("x-object-sharing", "read=bob"),
            ("x-object-meta-os", "debian"),
        ],
        b"old",
    )
    .await;
    assert_eq!(must_header(&made, "x-object-version"), "1");
    let again = put_with(
        &app,
        "/alice/pithos/a",
        &[("x-object-sharing", "read=bob")],
        b"two",
    )
    .await;
    assert_eq!(must_header(&again, "x-object-version"), "2");
    assert_eq!(get(&app, "/alice/pithos/a", BOB.0).await.status(), 200);
    std::fs::remove_file(app.root().join("alice/pithos/a")).unwrap();
    let fresh = put(&app, "/alice/pithos/a", ALICE.0, b"new").await;
    assert_eq!(fresh.status(), 201);
    assert_eq!(must_header(&fresh, "x-object-version"), "1", "a new object");
    assert_eq!(
        get(&app, "/alice/pithos/a", BOB.0).await.status(),
        403,
        "the old reader may not read the new data"
    );
    let h = head(&app, "/alice/pithos/a", ALICE.0).await;
    assert!(header(&h, "x-object-meta-os").is_none());
    assert!(header(&h, "x-object-sharing").is_none_or(|s| s.is_empty()));
}

#[tokio::test]
async fn a_hashmap_past_the_image_size_limit_is_413_and_changes_nothing() {
    let app = TestApp::spawn_with(|s| s.limits.max_image_size = BLOCK as u64).await;
    if !served(&app).await {
        return;
    }
    let two = pattern(BLOCK + 1, 1);
    let map = json!({"bytes": two.len(), "hashes": hashes_of(&two)});
    refused(&app, 413, put_hashmap(&app, "/alice/pithos/h", &map)).await;
    let one = pattern(BLOCK, 2);
    let map = json!({"bytes": one.len(), "hashes": hashes_of(&one)});
    let resp = put_hashmap(&app, "/alice/pithos/h", &map).await;
    assert_eq!(
        resp.status(),
        409,
        "within the limit: its blocks are asked for"
    );
}

#[tokio::test]
async fn uploaded_blocks_count_against_the_quota_until_consumed() {
    let quota = 2 * BLOCK;
    let app = TestApp::spawn_with(|s| s.store.quota = quota as u64).await;
    if !served(&app).await {
        return;
    }
    // Two different blocks (a pattern repeats every 256 bytes).
    let two = [pattern(BLOCK, 1), pattern(BLOCK, 2)].concat();
    assert_eq!(
        post_blocks(&app, "alice", "pithos", &two).await.status(),
        202
    );
    // The blocks fill the quota: another write does not fit ...
    refused(&app, 413, put(&app, "/alice/pithos/x", ALICE.0, b"1")).await;
    refused(&app, 413, post_blocks(&app, "alice", "pithos", b"more")).await;
    // ... but the object made of them does (it consumes them) ...
    let map = json!({"bytes": two.len(), "hashes": hashes_of(&two)});
    assert_eq!(
        put_hashmap(&app, "/alice/pithos/a", &map).await.status(),
        201
    );
    // (Its MD5, owed after the 201, is settled by a read before the next
    // refusal compares the catalogue.)
    let a = crate::objects::head(&app, "/alice/pithos/a", ALICE.0).await;
    assert_eq!(a.status(), 200);
    // ... and then the quota is the object's alone.
    refused(&app, 413, put(&app, "/alice/pithos/x", ALICE.0, b"1")).await;
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            "/alice/pithos/a",
            ALICE.0,
            &[],
            Vec::new()
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        put(&app, "/alice/pithos/x", ALICE.0, b"1").await.status(),
        201
    );
}

#[tokio::test]
async fn writes_at_once_never_add_up_past_the_quota() {
    let quota = BLOCK;
    let app = TestApp::spawn_with(|s| s.store.quota = quota as u64).await;
    if !served(&app).await {
        return;
    }
    let half = BLOCK / 2 + 1;
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let first_chunk = bytes::Bytes::from(vec![1u8; 1000]);
    let rest = bytes::Bytes::from(vec![2u8; half - 1000]);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first_chunk) })
        .chain(futures_util::stream::once(async move {
            let _ = wait.await;
            Ok::<_, std::io::Error>(rest)
        }));
    let slow = app
        .client
        .put(app.url(&os("/alice/pithos/slow")))
        .header("x-auth-token", ALICE.0)
        .header("content-length", half.to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // The first write claimed its space as it started: the second does not fit.
    let second = put(&app, "/alice/pithos/other", ALICE.0, &vec![3u8; half]).await;
    assert_eq!(second.status(), 413);
    go.send(()).unwrap();
    assert_eq!(slow.await.unwrap().unwrap().status(), 201);
    assert!(!app.root().join("alice/pithos/other").exists());
}

/// A small ext4 file system mounted from a file (loop device), unmounted
/// when dropped: a real full disk. `None` where mounting is not allowed
/// (not root), so the test says it is skipped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        std::fs::File::create(&image)
            .unwrap()
            .set_len(mib << 20)
            .unwrap();
        let run = |cmd: &str, args: &[&std::ffi::OsStr]| {
            std::process::Command::new(cmd)
                .args(args)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let made = run("mkfs.ext4", &["-q".as_ref(), image.as_os_str()]);
        (made
            && run(
                "mount",
                &[
                    "-o".as_ref(),
                    "loop".as_ref(),
                    image.as_os_str(),
                    mnt.as_os_str(),
                ],
            ))
        .then_some(SmallDisk { dir })
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("mnt")
    }

    /// Fills the disk with one file; removing it gives the space back.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        for size in [1 << 20, 4 << 10, 1] {
            let chunk = vec![7u8; size];
            while f.write_all(&chunk).and_then(|()| f.sync_data()).is_ok() {}
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the server may still hold its database open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.path())
            .status();
    }
}

/// A write on the endpoint: method, path, body, headers.
type Write = (
    &'static str,
    &'static str,
    Vec<u8>,
    Vec<(&'static str, &'static str)>,
);

/// Runs `writes` on a server whose database and store root are on a small
/// disk that is then filled: each is refused with 413 (or 503) and changes
/// nothing, or succeeds, never 500; with the space back, each succeeds.
async fn on_a_full_disk(writes: Vec<Write>) {
    let Some(disk) = SmallDisk::mount(24) else {
        eprintln!("skipped: mounting a small file system needs root (mkfs.ext4, mount -o loop)");
        return;
    };
    let (root, db) = (disk.path().join("objects"), disk.path().join("plankton.db"));
    std::fs::create_dir(&root).unwrap();
    let app = TestApp::spawn_with(|s| {
        s.store.root = root.clone();
        s.database = db.clone().into();
    })
    .await;
    if !served(&app).await {
        return;
    }
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"before")
            .await
            .status(),
        201
    );
    let filler = disk.fill();
    for (method, path, body, headers) in &writes {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let before = snapshot(&app);
        let resp = call(&app, method, path, ALICE.0, headers, body.clone()).await;
        let status = resp.status().as_u16();
        assert!(
            matches!(status, 200..=299 | 413 | 503),
            "{path}: {status} on a full disk"
        );
        if matches!(status, 413 | 503) {
            assert_eq!(snapshot(&app), before, "{path}: refused, nothing changed");
        }
    }
    std::fs::remove_file(&filler).unwrap();
    for (method, path, body, headers) in writes {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let resp = call(&app, method, path, ALICE.0, &headers, body).await;
        assert!(
            resp.status().is_success(),
            "{path}: {} with space back",
            resp.status()
        );
    }
}

#[tokio::test]
async fn a_full_disk_refuses_containers_and_data_with_413_and_they_resume_with_space() {
    on_a_full_disk(vec![
        ("PUT", "/alice/full", Vec::new(), vec![]),
        ("PUT", "/alice/pithos/b", b"data".to_vec(), vec![]),
        (
            "POST",
            "/alice/pithos?update",
            b"block".to_vec(),
            vec![("content-type", "application/octet-stream")],
        ),
        (
            "PUT",
            "/alice/pithos/assembled?format=json&hashmap=True",
            json!({"bytes": 6, "hashes": [crate::objects::block_hash(b"before")]})
                .to_string()
                .into_bytes(),
            vec![],
        ),
        (
            "PUT",
            "/alice/pithos/copy",
            Vec::new(),
            vec![("x-copy-from", "/pithos/a")],
        ),
    ])
    .await;
}

/// Catalogue writes alone (metadata, a directory object): their full disk
/// is SQLite's SQLITE_FULL, mapped by `DbError` for every catalogue write
/// (issue 25 item 8).
#[tokio::test]
async fn a_full_disk_refuses_object_metadata_writes_without_500() {
    on_a_full_disk(vec![
        (
            "POST",
            "/alice/pithos/a",
            Vec::new(),
            vec![("x-object-meta-k", "v")],
        ),
        (
            "PUT",
            "/alice/pithos/dir",
            Vec::new(),
            vec![("content-type", "application/directory")],
        ),
    ])
    .await;
}
