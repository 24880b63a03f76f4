//! No input produces a 500 (docs/api.md §2): batteries of malformed ids, queries, headers,
//! bodies and raw requests, each answered with a 4xx, and the server healthy
//! and unchanged afterwards.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;

use crate::helpers::{TestApp, ALICE, CAROL};
use crate::util::{must_header, RawResponse};

/// A request of the battery: method, path, headers (raw bytes), body.
type Probe = (Method, String, Vec<(String, Vec<u8>)>, Option<Vec<u8>>);

fn probe(method: Method, path: &str) -> Probe {
    (method, path.to_string(), vec![], None)
}

fn with(mut p: Probe, k: &str, v: impl AsRef<[u8]>) -> Probe {
    p.2.push((k.to_string(), v.as_ref().to_vec()));
    p
}

fn body(mut p: Probe, b: impl AsRef<[u8]>) -> Probe {
    p.3 = Some(b.as_ref().to_vec());
    p
}

/// Sends a probe with Alice's token (unless it carries one) and returns the status.
async fn send(app: &TestApp, p: &Probe) -> (u16, String) {
    let mut h = HeaderMap::new();
    if !p
        .2
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("x-auth-token"))
    {
        h.insert("x-auth-token", HeaderValue::from_static(ALICE.0));
    }
    for (k, v) in &p.2 {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v).unwrap(),
        );
    }
    let mut req = app.client.request(p.0.clone(), app.url(&p.1)).headers(h);
    if let Some(b) = &p.3 {
        req = req.body(b.clone());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// A register probe of Alice's object with one odd header.
fn reg(k: &str, v: impl AsRef<[u8]>) -> Probe {
    let p = probe(Method::POST, "/images");
    let p = with(p, "X-Image-Meta-Location", "pithos://alice/images/a.img");
    let p = if k.eq_ignore_ascii_case("x-image-meta-name") {
        p
    } else {
        with(p, "X-Image-Meta-Name", "n")
    };
    with(p, k, v)
}

fn malformed_probes(id: &str) -> Vec<Probe> {
    let long = "x".repeat(5000);
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let members_path = format!("/images/{id}/members");
    let many_members = format!(
        r#"{{"memberships": [{}]}}"#,
        (0..1100)
            .map(|i| format!(r#"{{"member_id": "u{i}"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut v: Vec<Probe> = Vec::new();
    // Odd ids and paths.
    for path in [
        "/images/%00".to_string(),
        "/images/%".into(),
        "/images/%zz".into(),
        "/images/%ff".into(),
        format!("/images/{long}"),
        format!("/images/{id}%00"),
        format!("/images/{id}%20"),
        format!("/images/%20{id}"),
        "/images/'%20OR%20'1'='1".into(),
        "/images/ü".into(),
        format!("/images/{id}/members/%ff"),
        format!("/images/{id}/members/%"),
        format!("/images/{id}/members/%00"),
        format!("/images/{id}/members/{long}"),
        "/shared-images/%ff".into(),
        "/shared-images/%".into(),
        "/shared-images/%00".into(),
        "/images/detail/x".into(),
        "//images".into(),
        "/images//".into(),
        "/v1.0//images".into(),
        "/images/00000000-0000-0000-0000-000000000000".into(),
    ] {
        v.push(probe(Method::GET, &path));
        v.push(probe(Method::PUT, &path));
        v.push(probe(Method::DELETE, &path));
    }
    // Odd queries.
    for q in [
        "limit=99999999999999999999999",
        "limit=-1",
        "limit=1.0",
        "limit=",
        "limit",
        "marker=",
        "marker=%00",
        "marker=00000000-0000-0000-0000-000000000000",
        "sort_key=",
        "sort_key=id;DROP%20TABLE%20images",
        "sort_key=name%00",
        "sort_dir=",
        "size_min=18446744073709551616",
        "size_min=99999999999999999999",
        "size_max=-0",
        "size_max=%31e3",
        "is_public=",
        "is_public=%00",
        "changes-since=",
        "changes-since=99999-01-01",
        "changes-since=2013-02-30",
        "changes-since=2013-03-29T25:00:00",
        "changes-since=2013-03-29T14:14:34%2B99:00",
        "changes-since=%ff",
        "%zz=1",
        "name=%",
        "name=%ff",
        "property-os=%zz",
    ] {
        v.push(probe(Method::GET, &format!("/images?{q}")));
        v.push(probe(Method::GET, &format!("/v1/images/detail?{q}")));
    }
    // Odd headers on register and update.
    let odd: Vec<(&str, Vec<u8>)> = vec![
        ("X-Image-Meta-Size", b"99999999999999999999".to_vec()),
        ("X-Image-Meta-Size", b"18446744073709551615".to_vec()),
        ("X-Image-Meta-Size", b"9223372036854775807".to_vec()),
        ("X-Image-Meta-Size", b"9223372036854775808".to_vec()),
        ("X-Image-Meta-Min-Ram", b"18446744073709551616".to_vec()),
        ("X-Image-Meta-Min-Disk", b"-9223372036854775808".to_vec()),
        ("X-Image-Meta-Name", b"\t".to_vec()),
        ("X-Image-Meta-Name", b"%".to_vec()),
        ("X-Image-Meta-Name", b"\xc0\xaf".to_vec()),
        ("X-Image-Meta-Name", b"%ed%a0%80".to_vec()),
        ("X-Image-Meta-Name", "n".repeat(1000).into_bytes()),
        ("X-Image-Meta-Checksum", b"%00".to_vec()),
        ("X-Image-Meta-Checksum", "é".repeat(16).into_bytes()),
        ("X-Image-Meta-Owner", b"%ff".to_vec()),
        ("X-Image-Meta-Owner", b"".to_vec()),
        ("X-Image-Meta-Store", b"".to_vec()),
        ("X-Image-Meta-Is-Public", b"\xff".to_vec()),
        ("X-Image-Meta-Property-", b"x".to_vec()),
        ("X-Image-Meta-Property-%", b"x".to_vec()),
        ("X-Image-Meta-Property-%ff", b"x".to_vec()),
        ("X-Image-Meta-Property-%C3", b"x".to_vec()),
        ("X-Image-Meta-Property-Big", "%41".repeat(5000).into_bytes()),
        ("X-Image-Meta-Property-V", b"%ff".to_vec()),
        ("X-Image-Meta-", b"x".to_vec()),
        ("X-Image-Meta-_", b"x".to_vec()),
        ("X-Image-Meta-Status", b"".to_vec()),
        ("X-Image-Meta-Id", b"".to_vec()),
        ("X-Image-Meta-Uri", b"x".to_vec()),
        ("X-Glance-Registry-Purge-Props", b"\xff".to_vec()),
    ];
    for (k, val) in &odd {
        v.push(reg(k, val));
        if !k.eq_ignore_ascii_case("X-Image-Meta-Size")
            && !k.eq_ignore_ascii_case("X-Image-Meta-Checksum")
            && !k.eq_ignore_ascii_case("X-Image-Meta-Store")
            && !k.eq_ignore_ascii_case("X-Image-Meta-Id")
        {
            v.push(with(probe(Method::PUT, &format!("/images/{id}")), k, val));
        }
    }
    // Odd locations.
    for loc in [
        format!("pithos://alice/images/{}", "x".repeat(300)),
        format!("pithos://alice/images/{}", "x/".repeat(600)),
        format!("pithos://alice/{}/x", "c".repeat(300)),
        format!("pithos://{}/images/x", "a".repeat(300)),
        "pithos://alice/images/%00".into(),
        "pithos://alice/images/x%".into(),
        "pithos://alice/images/%ff".into(),
        "pithos://".into(),
        "pithos:".into(),
        "pithos://alice".into(),
        "pithos://alice/".into(),
        "pithos://alice/images/a.img?x=1".into(),
        "pithos://alice/images/a.img#frag".into(),
        "pithos://alice@host:80/images/a.img".into(),
        "file:///etc/passwd".into(),
        "/etc/passwd".into(),
        "pithos://alice/images/fifo".into(),
    ] {
        let p = with(probe(Method::POST, "/images"), "X-Image-Meta-Name", "n");
        v.push(with(p, "X-Image-Meta-Location", loc));
    }
    // Odd bodies.
    for b in [
        &b""[..],
        b"\xff\xfe\x00",
        b"null",
        b"1e999",
        b"\"memberships\"",
        deep.as_bytes(),
        br#"{"memberships": [{"member_id": "a", "member_id": "b"}]}"#,
        br#"{"memberships": [{"member_id": "\u0000"}]}"#,
        br#"{"memberships": [{"member_id": "\ud800"}]}"#,
        many_members.as_bytes(),
        &vec![b'{'; 2 << 20],
    ] {
        v.push(body(probe(Method::PUT, &members_path), b));
        // No body at all is a valid add.
        if !b.is_empty() {
            v.push(body(probe(Method::PUT, &format!("{members_path}/bob")), b));
        }
    }
    // Odd Range headers.
    for r in [
        "bytes=0-99999999999999999999",
        "bytes=18446744073709551615-",
        "bytes=99999999999999999999-",
        "bytes=9223372036854775807-",
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=",
        "=0-1",
        "bytes=\u{e9}-",
    ] {
        v.push(with(
            probe(Method::GET, &format!("/images/{id}")),
            "Range",
            r,
        ));
    }
    // Odd tokens.
    for t in [
        &b"\xff"[..],
        b"a b",
        &[b'x'; 5000][..],
        b"alice-token, bob-token",
    ] {
        v.push(with(probe(Method::GET, "/images"), "X-Auth-Token", t));
    }
    v
}

#[tokio::test]
async fn a_battery_of_malformed_requests_gets_only_4xx_answers() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").data(b"hello").ok().await;
    let fifo = app.root().join("alice/images/fifo");
    let _ = std::process::Command::new("mkfifo").arg(&fifo).status();
    let before = app
        .list("/images/detail?changes-since=2000-01-01", ALICE.0)
        .await;
    let mut bad = Vec::new();
    for p in malformed_probes(&id) {
        let (status, text) = send(&app, &p).await;
        if !(400..500).contains(&status) {
            let headers: Vec<String> = p
                .2
                .iter()
                .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(&v[..v.len().min(60)])))
                .collect();
            bad.push(format!(
                "{} {} {headers:?} -> {status} {}",
                p.0,
                &p.1[..p.1.len().min(100)],
                &text[..text.len().min(200)]
            ));
        }
    }
    assert!(bad.is_empty(), "not 4xx:\n{}", bad.join("\n"));
    // Healthy, and nothing changed.
    let after = app
        .list("/images/detail?changes-since=2000-01-01", ALICE.0)
        .await;
    assert_eq!(before, after);
    assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
}

#[tokio::test]
async fn odd_but_valid_requests_never_get_a_5xx() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").data(b"hello").ok().await;
    let probes = vec![
        probe(Method::GET, "/images?size_min=9223372036854775807"),
        probe(
            Method::GET,
            "/images?size_max=9223372036854775807&sort_key=size",
        ),
        probe(Method::GET, "/images?changes-since=9999-12-31T23:59:59Z"),
        probe(Method::GET, "/images?changes-since=0001-01-01"),
        probe(Method::GET, "/images?property-=x"),
        probe(Method::GET, "/images?property-%C3%A9=x"),
        probe(Method::GET, "/images?name=%00"),
        probe(Method::GET, "/images?&&&=&"),
        probe(Method::GET, "/images?limit=1&limit=2&marker=&sort_key=name"),
        probe(
            Method::GET,
            &format!("/images?marker={id}&sort_key=size&sort_dir=desc"),
        ),
        probe(
            Method::GET,
            &format!("/images?marker={id}&sort_key=updated_at"),
        ),
        probe(Method::GET, "/shared-images/alice"),
        probe(Method::GET, "/shared-images/bob"),
        probe(Method::GET, &format!("/images/{}", "f".repeat(255))),
        with(
            reg("X-Image-Meta-Min-Ram", "9223372036854775807"),
            "X-Image-Meta-Min-Disk",
            "0",
        ),
        reg("X-Image-Meta-Name", "%00"),
        reg("X-Image-Meta-Property-%00", "nul key"),
        reg("X-Image-Meta-Property-%E2%80%8B", "zero-width key"),
        reg("X-Image-Meta-Property-%F0%9F%92%BE", "emoji key"),
        reg("X-Image-Meta-Property-Ctl", "%01%02%7F"),
        with(
            probe(Method::GET, &format!("/images/{id}")),
            "Range",
            "bytes=-9223372036854775807",
        ),
        with(
            probe(Method::GET, &format!("/images/{id}")),
            "Range",
            "bytes=0-1,3-4",
        ),
        with(
            probe(Method::GET, &format!("/images/{id}")),
            "Range",
            "BYTES=0-1",
        ),
        with(
            probe(Method::GET, "/images"),
            "Content-Type",
            "application/json",
        ),
        body(probe(Method::GET, "/images"), "ignored body"),
        body(
            probe(Method::DELETE, &format!("/images/{id}/members/bob")),
            "{}",
        ),
    ];
    let mut bad = Vec::new();
    for p in &probes {
        let (status, text) = send(&app, p).await;
        if status >= 500 {
            bad.push(format!(
                "{} {} {:?} -> {status} {text}",
                p.0,
                p.1,
                p.2.first()
            ));
        }
    }
    assert!(bad.is_empty(), "5xx:\n{}", bad.join("\n"));
}

#[tokio::test]
async fn response_headers_cannot_be_injected_through_metadata() {
    let app = TestApp::spawn().await;
    // A line break in a name is refused outright (issue 25, item 7)...
    let refused = app
        .alice()
        .register("a.img")
        .name("x%0D%0AX-Injected:%20yes")
        .send()
        .await;
    assert_eq!(refused.status(), 400);
    assert!(refused.headers().get("x-injected").is_none());
    // ...and a line feed in a value, which is allowed, goes out encoded.
    let resp = app
        .alice()
        .register("a.img")
        .property("P", "%0ASet-Cookie:%20a=b")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("set-cookie").is_none());
    assert_eq!(
        must_header(&resp, "x-image-meta-property-p"),
        "%0ASet-Cookie%3A%20a%3Db"
    );
}

fn assert_4xx(what: &str, r: &RawResponse) {
    assert!(
        (400..500).contains(&r.status),
        "{what}: status {} {:?}",
        r.status,
        String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
    );
}

#[tokio::test]
async fn raw_malformed_requests_get_4xx_answers_and_the_server_stays_up() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").data(b"hello").ok().await;
    let token = ALICE.0.as_bytes();
    let auth: &[u8] = b"X-Auth-Token";
    type RawCase<'a> = (&'a str, &'a str, Vec<u8>, Vec<(&'a [u8], Vec<u8>)>);
    let cases: Vec<RawCase> = vec![
        (
            "non-UTF-8 token",
            "GET",
            b"/images".to_vec(),
            vec![(auth, b"\xff\xfe".to_vec())],
        ),
        (
            "two tokens",
            "GET",
            b"/images".to_vec(),
            vec![(auth, token.to_vec()), (auth, b"bob-token".to_vec())],
        ),
        (
            "non-UTF-8 name",
            "POST",
            b"/images".to_vec(),
            vec![
                (auth, token.to_vec()),
                (b"X-Image-Meta-Name", b"\xff".to_vec()),
                (
                    b"X-Image-Meta-Location",
                    b"pithos://alice/images/a.img".to_vec(),
                ),
                (b"Content-Length", b"0".to_vec()),
            ],
        ),
        (
            "non-UTF-8 location",
            "POST",
            b"/images".to_vec(),
            vec![
                (auth, token.to_vec()),
                (b"X-Image-Meta-Name", b"n".to_vec()),
                (
                    b"X-Image-Meta-Location",
                    b"pithos://alice/images/\xff".to_vec(),
                ),
                (b"Content-Length", b"0".to_vec()),
            ],
        ),
        (
            "non-UTF-8 property key",
            "PUT",
            format!("/images/{id}").into_bytes(),
            vec![
                (auth, token.to_vec()),
                (b"X-Image-Meta-Property-%FF", b"x".to_vec()),
                (b"Content-Length", b"0".to_vec()),
            ],
        ),
        (
            "raw byte in the path",
            "GET",
            b"/images/\xff".to_vec(),
            vec![(auth, token.to_vec())],
        ),
        (
            "space in the path",
            "GET",
            b"/images/a b".to_vec(),
            vec![(auth, token.to_vec())],
        ),
        (
            "dot-dot as the id",
            "GET",
            b"/images/..".to_vec(),
            vec![(auth, token.to_vec())],
        ),
        (
            "encoded dot-dot as the id",
            "DELETE",
            b"/images/%2e%2e".to_vec(),
            vec![(auth, token.to_vec())],
        ),
        (
            "unknown method",
            "BREW",
            b"/images".to_vec(),
            vec![(auth, token.to_vec())],
        ),
        (
            "a huge header",
            "GET",
            b"/images".to_vec(),
            vec![(auth, token.to_vec()), (b"X-Big", vec![b'a'; 200_000])],
        ),
        (
            "bad content length",
            "PUT",
            format!("/images/{id}/members").into_bytes(),
            vec![(auth, token.to_vec()), (b"Content-Length", b"-5".to_vec())],
        ),
        (
            "a body larger than allowed",
            "PUT",
            format!("/images/{id}/members").into_bytes(),
            vec![
                (auth, token.to_vec()),
                (b"Content-Length", b"99999999999".to_vec()),
            ],
        ),
    ];
    for (what, method, path, headers) in &cases {
        let hs: Vec<(&[u8], &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let r = app.raw_request(method, path, &hs).await;
        assert_4xx(what, &r);
    }
    // More headers than actix takes.
    let names: Vec<String> = (0..120).map(|i| format!("X-Extra-{i}")).collect();
    let mut hs: Vec<(&[u8], &[u8])> = vec![(auth, token)];
    for n in &names {
        hs.push((n.as_bytes(), b"1"));
    }
    let r = app.raw_request("GET", b"/images", &hs).await;
    assert_4xx("120 headers", &r);
    // A request line of garbage.
    let r = app.raw(b"\x00\x01\x02 nonsense\r\n\r\n".to_vec()).await;
    assert!(
        r.status == 0 || (400..500).contains(&r.status),
        "garbage: {}",
        r.status
    );
    // Still serving, and nothing changed.
    let ids = app.list_ids("/images", ALICE.0).await;
    assert_eq!(ids, vec![id.clone()]);
    let resp = app.get(&format!("/images/{id}"), CAROL.0).await;
    assert_eq!(resp.status(), 404);
}

/// A real small file system (a 2 MiB tmpfs) mounted for one test, and
/// unmounted when dropped. Mounting needs root (CI runs as root); without
/// it, `mount` is `None` and the test says loudly that it was skipped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "SKIPPED: a full disk needs a small file system, and mounting a tmpfs \
                 needs root (uid {}); CI runs as root",
                std::fs::read_to_string("/proc/self/status")
                    .ok()
                    .and_then(|s| s
                        .lines()
                        .find(|l| l.starts_with("Uid:"))
                        .map(str::to_string))
                    .unwrap_or_default()
            );
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the file system with a file of zeros, to the last byte.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        while f.write_all(&block[..1]).is_ok() {}
    }

    /// Gives the space back.
    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn catalogue_writes_on_a_full_disk_are_413_change_nothing_and_work_again_with_space() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let db = disk.path().join("plankton.db");
    let app = TestApp::spawn_with(|s| s.database = db.clone().into()).await;
    let id = app
        .alice()
        .register("a.img")
        .property("os", "debian")
        .ok()
        .await;
    let before = app.list("/images/detail", ALICE.0).await;
    // The write-ahead log emptied and cut to nothing (as a checkpoint may
    // leave it), so that the writes below need new space on the disk
    // rather than reusing the log's.
    rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    disk.fill();
    // Writes the emptied write-ahead log cannot hold: they need new space.
    let big = "x".repeat(4000);
    let keys: Vec<String> = (0..24)
        .map(|n| format!("X-Image-Meta-Property-K{n}"))
        .collect();
    let headers: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), big.as_str())).collect();
    let members: Vec<String> = (0..1000).map(|n| format!("user-{n:04}")).collect();
    let members_body = serde_json::json!({
        "memberships": members.iter().map(|m| serde_json::json!({"member_id": m})).collect::<Vec<_>>()
    })
    .to_string();
    let patch_ops: Vec<serde_json::Value> = (0..30)
        .map(|n| serde_json::json!({"op": "add", "path": format!("/p{n}"), "value": big}))
        .collect();
    for round in ["full", "freed"] {
        let update = app
            .request(
                Method::PUT,
                &format!("/images/{id}"),
                Some(ALICE.0),
                &headers,
            )
            .await;
        let share = app
            .send_body(
                Method::PUT,
                &format!("/images/{id}/members"),
                Some(ALICE.0),
                members_body.as_bytes(),
            )
            .await;
        let patch = app
            .client
            .patch(app.url(&format!("/v2/images/{id}")))
            .header("x-auth-token", ALICE.0)
            .header(
                "content-type",
                "application/openstack-images-v2.1-json-patch",
            )
            .body(serde_json::Value::Array(patch_ops.clone()).to_string())
            .send()
            .await
            .unwrap();
        if round == "full" {
            crate::util::fault(update, 413, "overLimit", &["not enough space"]).await;
            crate::util::fault(share, 413, "overLimit", &["not enough space"]).await;
            let status = patch.status().as_u16();
            let text = patch.text().await.unwrap();
            assert_eq!(status, 413, "{text}");
            assert!(text.contains("Not enough space"), "{text}");
            assert_eq!(app.list("/images/detail", ALICE.0).await, before);
            assert!(app.member_ids("", &id, ALICE.0).await.is_empty());
            disk.free();
        } else {
            assert_eq!(update.status(), 200, "{:?}", update.text().await);
            assert_eq!(share.status(), 204, "{:?}", share.text().await);
            assert_eq!(patch.status(), 200, "{:?}", patch.text().await);
            assert_eq!(app.member_ids("", &id, ALICE.0).await.len(), 1000);
        }
    }
}

#[tokio::test]
async fn healthz_says_ok_and_nothing_about_how_many_images_exist() {
    let app = TestApp::spawn().await;
    app.alice().register("a.img").ok().await;
    app.carol().register("c.img").ok().await;
    for token in [None, Some(ALICE.0), Some("wrong")] {
        let resp = app.request(Method::GET, "/healthz", token, &[]).await;
        assert_eq!(resp.status(), 200, "{token:?}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok"}), "{token:?}");
        let head = app.request(Method::HEAD, "/healthz", token, &[]).await;
        assert_eq!(head.status(), 200, "{token:?}");
    }
}

/// An object `PUT` of 1000 bytes with 24 metadata values of 4000 bytes
/// (more than the write-ahead log holds already) as Alice.
async fn put_object_with_big_metadata(app: &TestApp) -> reqwest::Response {
    let big = "x".repeat(4000);
    let mut req = app
        .client
        .put(app.url("/object-store/v1/alice/pithos/obj"))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream");
    for n in 0..24 {
        req = req.header(format!("X-Object-Meta-K{n}"), big.as_str());
    }
    req.body(vec![1u8; 1000]).send().await.unwrap()
}

#[tokio::test]
async fn an_object_write_whose_catalogue_disk_is_full_is_413_and_leaves_no_object() {
    if crate::HTTP_BACKENDS {
        return; // with the pithos store, the object store is Pithos's
    }
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let db = disk.path().join("plankton.db");
    let app = TestApp::spawn_with(|s| s.database = db.into()).await;
    let object = "/object-store/v1/alice/pithos/obj";
    disk.fill();
    let resp = put_object_with_big_metadata(&app).await;
    crate::util::fault(resp, 413, "overLimit", &["not enough space"]).await;
    assert_eq!(app.get(object, ALICE.0).await.status(), 404);
    disk.free();
    assert_eq!(put_object_with_big_metadata(&app).await.status(), 201);
    assert_eq!(app.get(object, ALICE.0).await.status(), 200);
}
