//! `os_hash_algo`/`os_hash_value` wherever data comes in (docs/api.md
//! §17.2): v2 and v1 uploads in either store, `fs`-store registration
//! (through the hash cache, which keeps the algorithm), and none for a
//! registration in Pithos, which reads no data. Each digest is computed
//! here and compared with what v2 shows.

use serde_json::{json, Value};
use sha2::Digest;

use plankton::config::HashingAlgorithm;

use crate::helpers::{TestApp, ALICE};
use crate::util::json_with_status;

/// The image as v2 shows it to Alice.
async fn shown(app: &TestApp, id: &str) -> Value {
    json_with_status(app.get(&format!("/v2/images/{id}"), ALICE.0).await, 200).await
}

/// The `(os_hash_algo, os_hash_value)` pair of an image, as v2 shows it.
async fn os_hash(app: &TestApp, id: &str) -> (Value, Value) {
    let image = shown(app, id).await;
    (
        image["os_hash_algo"].clone(),
        image["os_hash_value"].clone(),
    )
}

fn sha512(data: &[u8]) -> (Value, Value) {
    (
        json!("sha512"),
        json!(hex::encode(sha2::Sha512::digest(data))),
    )
}

fn sha256(data: &[u8]) -> (Value, Value) {
    (
        json!("sha256"),
        json!(hex::encode(sha2::Sha256::digest(data))),
    )
}

/// Creates a queued v2 image and uploads `data` to it; its id.
async fn v2_upload(app: &TestApp, data: &[u8]) -> String {
    let body = json!({"name": "up", "disk_format": "raw", "container_format": "bare"});
    let id = app.v2_queued(ALICE.0, &body).await;
    let put = app
        .client
        .put(app.url(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 204);
    id
}

/// Uploads `data` through v1 (`POST /images` with a body, §13); its id.
async fn v1_upload(app: &TestApp, data: &[u8]) -> String {
    crate::support::images::upload(&app.client, &app.address, ALICE, "v1", data, &[]).await
}

#[tokio::test]
async fn uploads_through_v2_and_v1_carry_the_sha512_of_their_data_in_either_store() {
    let app = TestApp::spawn().await;
    // Over one 4 MiB block, so the hash sees more than one buffer.
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let id = v2_upload(&app, &big).await;
    assert_eq!(os_hash(&app, &id).await, sha512(&big));
    let id = v1_upload(&app, b"uploaded through v1").await;
    assert_eq!(os_hash(&app, &id).await, sha512(b"uploaded through v1"));
    // An empty v2 upload has data too: the digest of no bytes.
    let id = v2_upload(&app, b"").await;
    assert_eq!(os_hash(&app, &id).await, sha512(b""));
}

#[tokio::test]
async fn uploads_follow_hashing_algorithm_sha256() {
    let app = TestApp::spawn_with(|s| s.hashing_algorithm = HashingAlgorithm::Sha256).await;
    let id = v2_upload(&app, b"two five six").await;
    assert_eq!(os_hash(&app, &id).await, sha256(b"two five six"));
    let id = v1_upload(&app, b"v1 two five six").await;
    assert_eq!(os_hash(&app, &id).await, sha256(b"v1 two five six"));
}

#[tokio::test]
async fn registering_by_location_hashes_the_fs_object_and_pithos_registration_has_none() {
    let app = TestApp::spawn().await;
    let data = b"registered by location".repeat(1000);
    let id = app.alice().register("loc.img").data(&data).ok().await;
    let (algo, value) = os_hash(&app, &id).await;
    if crate::HTTP_BACKENDS {
        // Pithos is asked for the object's size and hash; no data is read.
        assert_eq!((algo, value), (Value::Null, Value::Null));
    } else {
        assert_eq!((algo, value), sha512(&data));
    }
    let image = shown(&app, &id).await;
    assert_eq!(image["checksum"], crate::util::md5_hex(&data));
}

#[tokio::test]
async fn a_cached_hash_without_the_os_hash_is_computed_afresh_at_registration() {
    if crate::HTTP_BACKENDS {
        return; // the object-store endpoint is the fs store's
    }
    let app = TestApp::spawn_with(|s| s.hashing_algorithm = HashingAlgorithm::Sha256).await;
    let data = b"written through the object store".repeat(100);
    // The endpoint's write remembers the object's hashes in the cache.
    let put = crate::objects::put(&app, "/alice/images/o.img", ALICE.0, &data).await;
    assert_eq!(put.status().as_u16(), 201);
    let listed = crate::objects::get(&app, "/alice/images?format=json", ALICE.0).await;
    assert_eq!(listed.status().as_u16(), 200);
    let id = app.alice().register("o.img").already_there().ok().await;
    assert_eq!(os_hash(&app, &id).await, sha256(&data));
    // A re-registration of the same data keeps it; v1 shows none of it.
    let again = app.alice().register("o.img").already_there().ok().await;
    assert_eq!(again, id);
    assert_eq!(os_hash(&app, &id).await, sha256(&data));
}

#[tokio::test]
async fn re_registering_changed_data_hashes_the_new_data() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("c.img").data(b"first").ok().await;
    let again = app.alice().register("c.img").data(b"second!").ok().await;
    assert_eq!(again, id);
    if crate::HTTP_BACKENDS {
        assert_eq!(os_hash(&app, &id).await, (Value::Null, Value::Null));
    } else {
        assert_eq!(os_hash(&app, &id).await, sha512(b"second!"));
    }
}

/// 64 MiB, the size from which the os_hash is computed after the answer
/// (docs/behaviour.md, "Hashing"); a byte in each 4 KiB, so that no block
/// is all zeros.
fn large() -> Vec<u8> {
    let mut data = vec![0u8; 64 << 20];
    for (i, b) in data.iter_mut().enumerate().step_by(4096) {
        *b = (i >> 12) as u8 | 1;
    }
    data
}

/// The image's os_hash once v2 shows one (within a minute).
async fn os_hash_once_there(app: &TestApp, id: &str) -> (Value, Value) {
    let mut got = os_hash(app, id).await;
    for _ in 0..1200 {
        if got.1 != Value::Null {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        got = os_hash(app, id).await;
    }
    got
}

#[tokio::test]
async fn a_large_registration_answers_with_the_md5_and_its_os_hash_follows() {
    if crate::HTTP_BACKENDS {
        return; // a Pithos registration reads no data
    }
    let app = TestApp::spawn().await;
    let data = large();
    let id = app.alice().register("large.img").data(&data).ok().await;
    let image = shown(&app, &id).await;
    assert_eq!(image["checksum"], crate::util::md5_hex(&data));
    let want = sha512(&data);
    assert_eq!(os_hash_once_there(&app, &id).await, want, "computed after the answer");
    // Filled in by the server: the image was not changed by anybody.
    assert_eq!(shown(&app, &id).await["updated_at"], image["updated_at"]);
    // The hash cache has it too: registering the unchanged file again
    // answers with all three at once.
    let again = app.alice().register("large.img").already_there().ok().await;
    assert_eq!(again, id);
    assert_eq!(os_hash(&app, &id).await, want);
}

#[tokio::test]
async fn an_os_hash_left_owed_when_the_server_stopped_is_computed_at_its_next_start() {
    if crate::HTTP_BACKENDS {
        return; // a Pithos registration reads no data
    }
    let app = TestApp::spawn().await;
    let data = large();
    let id = app.alice().register("owed.img").data(&data).ok().await;
    let want = sha512(&data);
    assert_eq!(os_hash_once_there(&app, &id).await, want);
    // As if the server had stopped before its pass after the answer.
    let sql = "UPDATE images SET os_hash_algo = NULL, os_hash_value = NULL WHERE id = ?1 RETURNING 1";
    assert_eq!(crate::helpers::catalogue_sql(&app, sql, &[&id]).len(), 1);
    let app = app.restart().await;
    assert_eq!(os_hash_once_there(&app, &id).await, want, "computed at start");
}
