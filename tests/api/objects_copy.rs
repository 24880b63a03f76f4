//! Copy and move through the object store (`PUT` with `X-Copy-From` /
//! `X-Move-From`, issue 24 item 1): data, content type and metadata as
//! Pithos carries them, the read rules on the source, directories with
//! `delimiter`, and every refusal checked to change nothing.

use reqwest::{Method, Response};

use crate::helpers::{ALICE, BOB};
use crate::objects::{call, fs_app, get, head, put_with, refused};
use crate::util::{header, md5_hex, must_header};

async fn copy(
    app: &crate::helpers::TestApp,
    to: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> Response {
    call(app, Method::PUT, to, token, headers, Vec::new()).await
}

async fn body(resp: Response) -> Vec<u8> {
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_copy_carries_data_type_and_metadata_not_sharing() {
    let Some(app) = fs_app().await else { return };
    let made = put_with(
        &app,
        "/alice/pithos/src",
        &[
            ("content-type", "text/x-lab"),
            ("x-object-meta-os", "debian"),
            ("x-object-meta-gone", "soon"),
            ("x-object-sharing", "read=bob"),
        ],
        b"the data",
    )
    .await;
    assert_eq!(made.status(), 201);
    assert_eq!(put_with(&app, "/alice/lab", &[], b"").await.status(), 201);
    let copied = copy(
        &app,
        "/alice/lab/dst",
        ALICE.0,
        &[
            ("x-copy-from", "/pithos/src"),
            ("x-object-meta-gone", ""),
            ("x-object-meta-new", "1"),
        ],
    )
    .await;
    assert_eq!(copied.status(), 201);
    assert_eq!(must_header(&copied, "etag"), md5_hex(b"the data"));
    assert_eq!(must_header(&copied, "x-object-version"), "1");
    assert_eq!(
        body(get(&app, "/alice/lab/dst", ALICE.0).await).await,
        b"the data"
    );
    let h = head(&app, "/alice/lab/dst", ALICE.0).await;
    assert_eq!(must_header(&h, "content-type"), "text/x-lab");
    assert_eq!(must_header(&h, "x-object-meta-os"), "debian");
    assert_eq!(must_header(&h, "x-object-meta-new"), "1");
    assert!(
        header(&h, "x-object-meta-gone").is_none(),
        "an empty value removes it"
    );
    assert!(
        header(&h, "x-object-sharing").is_none(),
        "sharing is not copied"
    );
    let src = head(&app, "/alice/pithos/src", ALICE.0).await;
    assert_ne!(
        must_header(&src, "x-object-uuid"),
        must_header(&h, "x-object-uuid")
    );
    assert_eq!(get(&app, "/alice/lab/dst", BOB.0).await.status(), 403);
    // Onto itself: a new version.
    let again = copy(
        &app,
        "/alice/pithos/src",
        ALICE.0,
        &[("x-copy-from", "/pithos/src")],
    )
    .await;
    assert_eq!(must_header(&again, "x-object-version"), "2");
    // A type sent with the request wins.
    let typed = copy(
        &app,
        "/alice/pithos/typed",
        ALICE.0,
        &[
            ("x-copy-from", "/pithos/src"),
            ("content-type", "text/plain"),
        ],
    )
    .await;
    assert_eq!(typed.status(), 201);
    let h = head(&app, "/alice/pithos/typed", ALICE.0).await;
    assert_eq!(must_header(&h, "content-type"), "text/plain");
}

#[tokio::test]
async fn a_move_keeps_the_uuid_and_removes_the_source() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put_with(&app, "/alice/pithos/a", &[], b"moved")
            .await
            .status(),
        201
    );
    let uuid = must_header(
        &head(&app, "/alice/pithos/a", ALICE.0).await,
        "x-object-uuid",
    );
    let moved = copy(
        &app,
        "/alice/pithos/d/b",
        ALICE.0,
        &[("x-move-from", "/pithos/a")],
    )
    .await;
    assert_eq!(moved.status(), 201);
    assert_eq!(head(&app, "/alice/pithos/a", ALICE.0).await.status(), 404);
    assert!(!app.root().join("alice/pithos/a").exists());
    let h = head(&app, "/alice/pithos/d/b", ALICE.0).await;
    assert_eq!(must_header(&h, "x-object-uuid"), uuid);
    assert_eq!(
        body(get(&app, "/alice/pithos/d/b", ALICE.0).await).await,
        b"moved"
    );
    // Onto itself: a new version, and the object stays.
    let same = copy(
        &app,
        "/alice/pithos/d/b",
        ALICE.0,
        &[("x-move-from", "/pithos/d/b")],
    )
    .await;
    assert_eq!(must_header(&same, "x-object-version"), "2");
    assert_eq!(head(&app, "/alice/pithos/d/b", ALICE.0).await.status(), 200);
}

#[tokio::test]
async fn another_accounts_object_is_copied_only_where_it_may_be_read() {
    let Some(app) = fs_app().await else { return };
    let open = [("x-object-sharing", "read=alice")];
    let made = call(
        &app,
        Method::PUT,
        "/bob/pithos/open",
        BOB.0,
        &open,
        b"o".to_vec(),
    )
    .await;
    assert_eq!(made.status(), 201);
    let made = call(
        &app,
        Method::PUT,
        "/bob/pithos/closed",
        BOB.0,
        &[],
        b"c".to_vec(),
    )
    .await;
    assert_eq!(made.status(), 201);
    let from_bob = |name: &'static str| [("x-copy-from", name), ("x-source-account", "bob")];
    let ok = copy(&app, "/alice/pithos/o", ALICE.0, &from_bob("/pithos/open")).await;
    assert_eq!(ok.status(), 201);
    assert_eq!(
        body(get(&app, "/alice/pithos/o", ALICE.0).await).await,
        b"o"
    );
    refused(
        &app,
        403,
        copy(
            &app,
            "/alice/pithos/c",
            ALICE.0,
            &from_bob("/pithos/closed"),
        ),
    )
    .await;
    refused(
        &app,
        403,
        copy(&app, "/alice/pithos/n", ALICE.0, &from_bob("/pithos/none")),
    )
    .await;
    // Moving needs the source's owner.
    let mv = [("x-move-from", "/pithos/open"), ("x-source-account", "bob")];
    refused(&app, 403, copy(&app, "/alice/pithos/m", ALICE.0, &mv)).await;
    // Writing into another's account is theirs alone.
    refused(
        &app,
        403,
        copy(
            &app,
            "/bob/pithos/x",
            ALICE.0,
            &[("x-copy-from", "/pithos/o")],
        ),
    )
    .await;
}

#[tokio::test]
async fn bad_copies_are_refused_and_change_nothing() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put_with(&app, "/alice/pithos/a", &[], b"a").await.status(),
        201
    );
    refused(
        &app,
        404,
        copy(
            &app,
            "/alice/pithos/b",
            ALICE.0,
            &[("x-copy-from", "/pithos/none")],
        ),
    )
    .await;
    refused(
        &app,
        404,
        copy(
            &app,
            "/alice/nowhere/b",
            ALICE.0,
            &[("x-copy-from", "/pithos/a")],
        ),
    )
    .await;
    refused(
        &app,
        404,
        copy(
            &app,
            "/alice/pithos/b",
            ALICE.0,
            &[("x-copy-from", "/nowhere/a")],
        ),
    )
    .await;
    for bad in [
        "pithos/a",
        "/pithos",
        "/pithos/",
        "/pithos/../x",
        "/pi%0Athos/a",
        "",
    ] {
        refused(
            &app,
            400,
            copy(&app, "/alice/pithos/b", ALICE.0, &[("x-copy-from", bad)]),
        )
        .await;
    }
    let both = [("x-copy-from", "/pithos/a"), ("x-move-from", "/pithos/a")];
    refused(&app, 400, copy(&app, "/alice/pithos/b", ALICE.0, &both)).await;
    let versioned = [("x-copy-from", "/pithos/a"), ("x-source-version", "1")];
    refused(
        &app,
        501,
        copy(&app, "/alice/pithos/b", ALICE.0, &versioned),
    )
    .await;
    let exists = [("x-copy-from", "/pithos/a"), ("if-none-match", "*")];
    refused(&app, 412, copy(&app, "/alice/pithos/a", ALICE.0, &exists)).await;
}

#[tokio::test]
async fn a_directory_copy_with_delimiter_takes_everything_under_it() {
    let Some(app) = fs_app().await else { return };
    for (name, data) in [("dir/a", "1"), ("dir/sub/b", "2"), ("dirx", "3")] {
        let made = put_with(&app, &format!("/alice/pithos/{name}"), &[], data.as_bytes()).await;
        assert_eq!(made.status(), 201);
    }
    let tree = copy(
        &app,
        "/alice/pithos/new?delimiter=/",
        ALICE.0,
        &[("x-move-from", "/pithos/dir")],
    )
    .await;
    assert_eq!(tree.status(), 201);
    assert_eq!(
        body(get(&app, "/alice/pithos/new/a", ALICE.0).await).await,
        b"1"
    );
    assert_eq!(
        body(get(&app, "/alice/pithos/new/sub/b", ALICE.0).await).await,
        b"2"
    );
    assert_eq!(
        head(&app, "/alice/pithos/dir/a", ALICE.0).await.status(),
        404
    );
    assert_eq!(
        head(&app, "/alice/pithos/dirx", ALICE.0).await.status(),
        200,
        "not under dir/"
    );
    refused(
        &app,
        404,
        copy(
            &app,
            "/alice/pithos/z?delimiter=/",
            ALICE.0,
            &[("x-copy-from", "/pithos/dir")],
        ),
    )
    .await;
}

#[tokio::test]
async fn directory_objects_are_made_listed_and_coexist_with_files_under_them() {
    let Some(app) = fs_app().await else { return };
    let dir = [("content-type", "application/directory")];
    let made = call(
        &app,
        Method::PUT,
        "/alice/pithos/d",
        ALICE.0,
        &dir,
        Vec::new(),
    )
    .await;
    assert_eq!(made.status(), 201);
    assert_eq!(must_header(&made, "x-object-version"), "1");
    let h = head(&app, "/alice/pithos/d", ALICE.0).await;
    assert_eq!(h.status(), 200);
    assert_eq!(must_header(&h, "content-type"), "application/directory");
    assert_eq!(must_header(&h, "content-length"), "0");
    assert!(body(get(&app, "/alice/pithos/d", ALICE.0).await)
        .await
        .is_empty());
    // Files under it, as `kamaki file upload -r` makes them.
    assert_eq!(
        put_with(&app, "/alice/pithos/d/f", &[], b"f")
            .await
            .status(),
        201
    );
    let folder = [("content-type", "application/folder")];
    let sub = call(
        &app,
        Method::PUT,
        "/alice/pithos/d/sub",
        ALICE.0,
        &folder,
        Vec::new(),
    )
    .await;
    assert_eq!(sub.status(), 201);
    let listed: serde_json::Value = get(&app, "/alice/pithos?format=json", ALICE.0)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<(&str, &str, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap(),
                o["content_type"].as_str().unwrap(),
                o["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("d", "application/directory", 0),
            ("d/f", "application/octet-stream", 1),
            ("d/sub", "application/folder", 0)
        ]
    );
    let text = get(&app, "/alice/pithos?delimiter=/", ALICE.0)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text.lines().collect::<Vec<_>>(), ["d", "d/"]);
    // Again: a new version; a file where the directory is: 409, nothing changed.
    let again = call(
        &app,
        Method::PUT,
        "/alice/pithos/d",
        ALICE.0,
        &dir,
        Vec::new(),
    )
    .await;
    assert_eq!(must_header(&again, "x-object-version"), "2");
    refused(
        &app,
        409,
        call(
            &app,
            Method::PUT,
            "/alice/pithos/d/f",
            ALICE.0,
            &dir,
            Vec::new(),
        ),
    )
    .await;
    // A plain container delete is 409 while a directory object is there.
    let empty = call(&app, Method::PUT, "/alice/lab", ALICE.0, &[], Vec::new()).await;
    assert_eq!(empty.status(), 201);
    let only = call(&app, Method::PUT, "/alice/lab/x", ALICE.0, &dir, Vec::new()).await;
    assert_eq!(only.status(), 201);
    refused(
        &app,
        409,
        call(&app, Method::DELETE, "/alice/lab", ALICE.0, &[], Vec::new()),
    )
    .await;
    let del = call(
        &app,
        Method::DELETE,
        "/alice/lab/x",
        ALICE.0,
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(del.status(), 204);
    let del = call(&app, Method::DELETE, "/alice/lab", ALICE.0, &[], Vec::new()).await;
    assert_eq!(del.status(), 204);
    // A delete with delimiter takes the directory and all under it.
    let tree = call(
        &app,
        Method::DELETE,
        "/alice/pithos/d?delimiter=/",
        ALICE.0,
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(tree.status(), 204);
    assert_eq!(
        get(&app, "/alice/pithos?format=json", ALICE.0)
            .await
            .text()
            .await
            .unwrap(),
        "[]"
    );
    refused(
        &app,
        404,
        call(
            &app,
            Method::DELETE,
            "/alice/pithos/d?delimiter=/",
            ALICE.0,
            &[],
            Vec::new(),
        ),
    )
    .await;
}
