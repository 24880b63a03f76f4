//! Upload through the image API (docs/api.md §13): `POST /images` with the
//! data as an `application/octet-stream` body, by length or chunked; what a
//! refused or cut-off upload leaves (nothing); recovery after a crash.

use std::path::Path;

use bytes::Bytes;
use reqwest::{Body, Method};
use serde_json::Value;

use crate::helpers::{TestApp, ALICE};
use crate::util::{fault, header, md5_hex};

/// 9 MiB over three blocks: one of all zeros, one ending in NULs, a short one.
fn image_data() -> Vec<u8> {
    let block = 4 << 20;
    let mut data = vec![0u8; block];
    data.extend((0..block).map(|i| {
        if i < block - 100 {
            (i % 251) as u8 + 1
        } else {
            0
        }
    }));
    data.extend((0..(1 << 20)).map(|i| (i % 13) as u8));
    data
}

async fn upload(
    app: &TestApp,
    prefix: &str,
    body: Body,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("{prefix}/images")))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request sent")
}

/// Files in the store under `dir`, staging's lock file and the serving
/// processes' marks (`+owners`) aside.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_name() == "+owners" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else if e.file_name() != "lock" {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Tests of what only the `fs` store does (its quota, its staging) skip
/// themselves on the HTTP backends; the rest run against the fake Pithos
/// too, whose root is laid out as the `fs` store's.
fn fs_only(what: &str) -> bool {
    if crate::HTTP_BACKENDS {
        eprintln!("skipped: {what} is the fs store's");
    }
    crate::HTTP_BACKENDS
}

async fn image_count(app: &TestApp) -> usize {
    let body: Value = app.get("/images", ALICE.0).await.json().await.unwrap();
    body.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_upload_in_either_dialect_is_stored_at_images_id_and_reads_back() {
    let app = TestApp::spawn().await;
    let data = image_data();
    for prefix in ["/v1.0", "/v1"] {
        let resp = upload(
            &app,
            prefix,
            Body::from(data.clone()),
            &[
                ("x-image-meta-name", "up.img"),
                ("x-image-meta-checksum", &md5_hex(&data)),
                ("x-image-meta-size", &data.len().to_string()),
                ("x-image-meta-property-os", "debian"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 200, "{prefix}: {:?}", resp.text().await);
        let id = header(&resp, "x-image-meta-id").unwrap();
        assert_eq!(header(&resp, "x-image-meta-status").unwrap(), "available");
        assert_eq!(
            header(&resp, "x-image-meta-location").unwrap(),
            format!("pithos://alice/images/{id}")
        );
        assert_eq!(
            header(&resp, "x-image-meta-size").unwrap(),
            data.len().to_string()
        );
        let on_disk = std::fs::read(app.root().join("alice/images").join(&id)).unwrap();
        if !crate::HTTP_BACKENDS {
            // Its hashes are remembered: listing the container or registering
            // the file again never reads it (bench-upload saw 4 s for 1 GiB).
            let md5 = crate::helpers::catalogue_sql(
                &app,
                "SELECT md5 FROM object_hashes WHERE path = ?1",
                &[&format!("alice/images/{id}")],
            );
            assert_eq!(md5, [md5_hex(&data)]);
        }
        assert!(
            on_disk == data,
            "{prefix}: the file at the location is the data"
        );
        let got = app.get(&format!("/images/{id}"), ALICE.0).await;
        assert_eq!(got.status(), 200);
        assert!(
            got.bytes().await.unwrap() == data,
            "{prefix}: the download is the data"
        );
    }
    // The Pithos hash recorded is the one a registration of the same bytes gets.
    let by_hand = app.alice().register("same.img").data(&data).ok().await;
    let uploaded = app.list("/images/detail?name=up.img", ALICE.0).await;
    let registered = app.detail_of(&by_hand, ALICE.0).await;
    assert_eq!(uploaded[0]["checksum"], registered["checksum"]);
    assert_eq!(
        files_under(&app.root().join("+staging")),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_chunked_upload_works_and_an_empty_one_is_refused() {
    let app = TestApp::spawn().await;
    let data = image_data();
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(300_001)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let resp = upload(
        &app,
        "",
        Body::wrap_stream(futures_util::stream::iter(chunks)),
        &[("x-image-meta-name", "chunked.img")],
    )
    .await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let id = header(&resp, "x-image-meta-id").unwrap();
    assert!(
        app.get(&format!("/images/{id}"), ALICE.0)
            .await
            .bytes()
            .await
            .unwrap()
            == data
    );
    let empty: Vec<Result<Bytes, std::io::Error>> = Vec::new();
    let resp = upload(
        &app,
        "",
        Body::wrap_stream(futures_util::stream::iter(empty)),
        &[("x-image-meta-name", "empty.img")],
    )
    .await;
    fault(resp, 400, "badRequest", &["empty"]).await;
    assert_eq!(image_count(&app).await, 1);
    assert_eq!(files_under(&app.root()), vec![format!("alice/images/{id}")]);
}

/// Extra headers, the body, the status and a word of the message.
type RefusedCase = (Vec<(&'static str, String)>, Vec<u8>, u16, &'static str);

#[tokio::test]
async fn refused_uploads_leave_no_image_and_no_file() {
    let app = TestApp::spawn_with(|s| {
        s.limits.max_image_size = 1000;
    })
    .await;
    let data = vec![7u8; 500];
    let cases: Vec<RefusedCase> = vec![
        (
            vec![("x-image-meta-size", "499".into())],
            data.clone(),
            400,
            "x-image-meta-size",
        ),
        (
            vec![("x-image-meta-checksum", md5_hex(b"other"))],
            data.clone(),
            400,
            "x-image-meta-checksum",
        ),
        (
            vec![("x-image-meta-checksum", "ab".repeat(32))],
            data.clone(),
            400,
            "x-image-meta-checksum",
        ),
        (
            vec![("x-image-meta-location", "pithos://alice/images/x".into())],
            data.clone(),
            400,
            "location",
        ),
        (
            vec![("x-image-meta-owner", "bob".into())],
            data.clone(),
            403,
            "owner",
        ),
        (vec![], vec![1u8; 1001], 413, "max_image_size"),
        (
            vec![("x-image-meta-disk_format", "floppy".into())],
            data.clone(),
            400,
            "floppy",
        ),
    ];
    for (headers, body, status, needle) in cases {
        let mut h: Vec<(&str, &str)> = vec![("x-image-meta-name", "refused.img")];
        h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        let resp = upload(&app, "", Body::from(body), &h).await;
        let name = match status {
            400 => "badRequest",
            403 => "forbidden",
            _ => "overLimit",
        };
        fault(resp, status, name, &[needle]).await;
    }
    // Past the limit while streaming, with no length to refuse it by.
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..5).map(|_| Ok(Bytes::from(vec![1u8; 300]))).collect();
    let resp = upload(
        &app,
        "",
        Body::wrap_stream(futures_util::stream::iter(chunks)),
        &[("x-image-meta-name", "big.img")],
    )
    .await;
    fault(resp, 413, "overLimit", &["max_image_size"]).await;
    assert_eq!(image_count(&app).await, 0);
    assert_eq!(files_under(&app.root()), Vec::<String>::new());
}

#[tokio::test]
async fn an_upload_past_the_quota_is_413_and_leaves_nothing() {
    if fs_only("store.quota") {
        return;
    }
    let app = TestApp::spawn_with(|s| s.store.quota = 1500).await;
    let first = upload(
        &app,
        "",
        Body::from(vec![1u8; 1000]),
        &[("x-image-meta-name", "a")],
    )
    .await;
    assert_eq!(first.status(), 200);
    let second = upload(
        &app,
        "",
        Body::from(vec![2u8; 1000]),
        &[("x-image-meta-name", "b")],
    )
    .await;
    fault(second, 413, "overLimit", &["quota exceeded"]).await;
    assert_eq!(image_count(&app).await, 1);
    assert_eq!(files_under(&app.root()).len(), 1);
}

#[tokio::test]
async fn a_client_that_sends_less_than_its_length_leaves_nothing() {
    let app = TestApp::spawn().await;
    let mut req = format!(
        "POST /images HTTP/1.1\r\nHost: {}\r\nX-Auth-Token: {}\r\nX-Image-Meta-Name: cut\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n",
        app.host_port(),
        ALICE.0
    )
    .into_bytes();
    req.extend_from_slice(&[5u8; 1000]);
    let addr = app.host_port();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(&req).unwrap();
        s.shutdown(std::net::Shutdown::Both).unwrap();
    })
    .await
    .unwrap();
    // The server notices the cut in its own time: wait (bounded) for staging to empty.
    let staging = app.root().join("+staging");
    for _ in 0..200 {
        if files_under(&staging).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(files_under(&app.root()), Vec::<String>::new());
    assert_eq!(image_count(&app).await, 0);
}

#[tokio::test]
async fn put_with_a_body_is_409_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").ok().await;
    let before = app.detail_of(&id, ALICE.0).await;
    let resp = app
        .send_body(
            Method::PUT,
            &format!("/images/{id}"),
            Some(ALICE.0),
            b"new data",
        )
        .await;
    fault(resp, 409, "conflict", &["register a new image"]).await;
    assert_eq!(app.detail_of(&id, ALICE.0).await, before);
}

#[tokio::test]
async fn a_restart_keeps_recorded_placements_and_undoes_the_rest() {
    if fs_only("staging") {
        return;
    }
    let app = TestApp::spawn().await;
    let resp = upload(
        &app,
        "",
        Body::from(b"committed data".to_vec()),
        &[("x-image-meta-name", "c")],
    )
    .await;
    let id = header(&resp, "x-image-meta-id").unwrap();
    // Crashes between the steps of docs/behaviour.md, "Crash protocol":
    // after the commit, before the journal was cleared; after the data was
    // placed, before the commit; before the data was placed.
    let staging = app.root().join("+staging");
    std::fs::write(staging.join("a.to"), format!("alice/images/{id}")).unwrap();
    let orphan = "4f6c2b0e-5a7d-4c3e-9b1a-2d8e6f0a1b2c";
    std::fs::write(app.root().join("alice/images").join(orphan), b"placed").unwrap();
    std::fs::write(staging.join("b.to"), format!("alice/images/{orphan}")).unwrap();
    std::fs::write(staging.join("c"), b"never placed").unwrap();
    std::fs::write(staging.join("c.to"), "alice/images/elsewhere").unwrap();
    let app = app.restart().await;
    assert_eq!(
        std::fs::read(app.root().join("alice/images").join(&id)).unwrap(),
        b"committed data"
    );
    assert!(!app.root().join("alice/images").join(orphan).exists());
    assert_eq!(files_under(&staging), Vec::<String>::new());
    let got = app.get(&format!("/images/{id}"), ALICE.0).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"committed data");
}

/// A tmpfs mounted on a directory for a test's life: a disk that fills up.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` where this process may not mount (not root): the test skips.
    fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the server may still hold staging's lock file open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_is_413_and_leaves_no_image_no_file_and_no_staging() {
    if fs_only("a full disk of the store root") {
        return;
    }
    let mut disk = None;
    let app = TestApp::spawn_with(|s| disk = SmallDisk::mount(&s.store.root, "2m")).await;
    if disk.is_none() {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    }
    let big = vec![7u8; 3 << 20];
    let resp = upload(
        &app,
        "",
        Body::from(big.clone()),
        &[("x-image-meta-name", "big")],
    )
    .await;
    fault(resp, 413, "overLimit", &["not enough space in the store"]).await;
    // The object store's own write, too.
    let put = app
        .client
        .put(app.url("/object-store/v1/alice/images/big.img"))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 413, "{:?}", put.text().await);
    assert_eq!(image_count(&app).await, 0);
    assert_eq!(files_under(&app.root()), Vec::<String>::new());
    // The space came back: a small upload fits.
    let resp = upload(
        &app,
        "",
        Body::from(vec![1u8; 100_000]),
        &[("x-image-meta-name", "small")],
    )
    .await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    drop(app);
    drop(disk);
}
