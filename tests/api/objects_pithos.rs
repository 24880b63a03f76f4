//! The object store as Pithos answers (issue 24): every header of §14 on
//! `HEAD` and `GET`, `X-Object-UUID` kept across versions and new after a
//! delete.

use reqwest::Method;

use crate::helpers::ALICE;
use crate::objects::{call, fs_app, get, head, put};
use crate::util::{header, must_header};

const HEADERS: [&str; 9] = [
    "content-length",
    "content-type",
    "etag",
    "last-modified",
    "x-object-hash",
    "x-object-uuid",
    "x-object-version",
    "x-object-version-timestamp",
    "x-object-modified-by",
];

#[tokio::test]
async fn head_and_get_carry_every_header_and_a_stable_uuid() {
    let Some(app) = fs_app().await else { return };
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"one").await.status(),
        201
    );
    let h = head(&app, "/alice/pithos/a", ALICE.0).await;
    let g = get(&app, "/alice/pithos/a", ALICE.0).await;
    for name in HEADERS {
        assert_eq!(header(&h, name), header(&g, name), "{name}");
        must_header(&h, name);
    }
    let uuid = must_header(&h, "x-object-uuid");
    assert!(uuid::Uuid::parse_str(&uuid).is_ok(), "{uuid}");
    let stamp = must_header(&h, "x-object-version-timestamp");
    let (secs, micros) = stamp.split_once('.').expect("seconds.micros");
    assert!(
        secs.parse::<u64>().unwrap() > 1_600_000_000 && micros.len() == 6,
        "{stamp}"
    );
    // A new version keeps the UUID ...
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"two").await.status(),
        201
    );
    let h = head(&app, "/alice/pithos/a", ALICE.0).await;
    assert_eq!(must_header(&h, "x-object-version"), "2");
    assert_eq!(must_header(&h, "x-object-uuid"), uuid);
    // ... metadata changes keep it ...
    let post = call(
        &app,
        Method::POST,
        "/alice/pithos/a",
        ALICE.0,
        &[("x-object-meta-k", "v")],
        Vec::new(),
    )
    .await;
    assert_eq!(post.status(), 202);
    assert_eq!(
        must_header(
            &head(&app, "/alice/pithos/a", ALICE.0).await,
            "x-object-uuid"
        ),
        uuid
    );
    // ... and a delete ends it: the next object there is another one.
    let del = call(
        &app,
        Method::DELETE,
        "/alice/pithos/a",
        ALICE.0,
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(del.status(), 204);
    assert_eq!(
        put(&app, "/alice/pithos/a", ALICE.0, b"three")
            .await
            .status(),
        201
    );
    let h = head(&app, "/alice/pithos/a", ALICE.0).await;
    assert_eq!(must_header(&h, "x-object-version"), "1");
    assert_ne!(must_header(&h, "x-object-uuid"), uuid);
}
