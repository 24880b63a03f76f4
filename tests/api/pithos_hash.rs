//! The Pithos hash (§9) of registered objects against the reference vectors
//! of `tools/pithos-hash-vectors.tsv` (copied here: the shared folder may be
//! absent where the tests run), and the MD5 the Glance dialect shows.

use reqwest::Method;

use crate::helpers::{TestApp, ALICE};
use crate::util::{md5_hex, must_header};

const BLOCK: usize = 4 * 1024 * 1024;

/// Byte i of the reference pattern is (i * 7 + 3) % 251 (`tools/pithos_hash.py`).
fn pat(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + 3) % 251) as u8).collect()
}

/// The vectors' contents, built as `tools/pithos_hash.py` builds them.
fn contents(name: &str) -> Vec<u8> {
    match name {
        "empty" => Vec::new(),
        "one-byte-a" => b"a".to_vec(),
        "hello-with-trailing-nuls" => {
            let mut v = b"hello".to_vec();
            v.extend([0u8; 10]);
            v
        }
        "all-zero-1MiB" => vec![0u8; 1 << 20],
        "pat-exactly-one-block" => pat(BLOCK),
        "pat-one-block-plus-one" => pat(BLOCK + 1),
        "pat-block-then-zero-tail" => {
            let mut v = pat(BLOCK);
            v.extend(std::iter::repeat_n(0u8, 100));
            v
        }
        "pat-three-blocks-minus-5" => pat(3 * BLOCK - 5),
        "pat-five-blocks" => pat(5 * BLOCK),
        other => panic!("unknown vector {other}"),
    }
}

/// `tools/pithos-hash-vectors.tsv`: name, size, hash.
const VECTORS: &[(&str, u64, &str)] = &[
    (
        "empty",
        0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        "one-byte-a",
        1,
        "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
    ),
    (
        "hello-with-trailing-nuls",
        15,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    ),
    (
        "all-zero-1MiB",
        1048576,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        "pat-exactly-one-block",
        4194304,
        "7ee94bc1d825fd8e1e8cebec936366cf882198068e6e1326c53302ff01734c75",
    ),
    (
        "pat-one-block-plus-one",
        4194305,
        "111bce38e12619d0ae855be9f7ddddc2e578ddcfb5be82f8081d058c80b23654",
    ),
    (
        "pat-block-then-zero-tail",
        4194404,
        "c34f0d78d7ce26ccb4429faf892143007529b15391bd89e2e4389fe9cf0a4df9",
    ),
    (
        "pat-three-blocks-minus-5",
        12582907,
        "98e623b982d04172f0d5c227edebc5547b09377cc40dc307a6be152cf0fba001",
    ),
    (
        "pat-five-blocks",
        20971520,
        "b38ab95875dcaa97beb73a232d5ba025eece243016eed93fd416bbf8b7540b37",
    ),
];

#[tokio::test]
async fn registered_objects_carry_the_pithos_hash_of_the_reference_vectors() {
    let app = TestApp::spawn().await;
    for (name, size, hash) in VECTORS {
        let data = contents(name);
        assert_eq!(data.len() as u64, *size, "{name}: the test builds it wrong");
        let md5 = md5_hex(&data);
        let file = format!("{name}.img");
        app.put_object(ALICE.1, "vectors", &file, &data);
        drop(data);
        let location = format!("pithos://alice/vectors/{file}");
        let resp = app
            .request(
                Method::POST,
                "/v1.0/images",
                Some(ALICE.0),
                &[
                    ("X-Image-Meta-Name", name),
                    ("X-Image-Meta-Location", &location),
                ],
            )
            .await;
        assert_eq!(resp.status(), 200, "{name}");
        assert_eq!(must_header(&resp, "x-image-meta-checksum"), *hash, "{name}");
        assert_eq!(must_header(&resp, "x-image-meta-size"), size.to_string());
        let id = must_header(&resp, "x-image-meta-id");
        // The same object in the Glance dialect: its MD5.
        let head = app.head(&format!("/v1/images/{id}"), ALICE.0).await;
        assert_eq!(must_header(&head, "x-image-meta-checksum"), md5, "{name}");
        let head = app.head(&format!("/images/{id}"), ALICE.0).await;
        assert_eq!(must_header(&head, "x-image-meta-checksum"), *hash, "{name}");
        // A registration that states the hash (or the MD5) is accepted.
        for sum in [*hash, md5.as_str()] {
            let resp = app
                .request(
                    Method::POST,
                    "/images",
                    Some(ALICE.0),
                    &[
                        ("X-Image-Meta-Name", name),
                        ("X-Image-Meta-Location", &location),
                        ("X-Image-Meta-Checksum", sum),
                        ("X-Image-Meta-Size", &size.to_string()),
                    ],
                )
                .await;
            assert_eq!(resp.status(), 200, "{name} with checksum {sum}");
            assert_eq!(must_header(&resp, "x-image-meta-id"), id);
        }
    }
}

#[tokio::test]
async fn the_downloaded_data_of_a_multi_block_object_is_the_object() {
    let app = TestApp::spawn().await;
    let data = pat(BLOCK + 1);
    let id = app
        .register_ok(ALICE.0, ALICE.1, "big.img", &data, &[])
        .await;
    let resp = app.get(&format!("/v1/images/{id}"), ALICE.0).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        must_header(&resp, "etag"),
        format!("\"{}\"", md5_hex(&data))
    );
    let got = resp.bytes().await.unwrap();
    assert!(got.as_ref() == data.as_slice(), "{} bytes back", got.len());
    let resp = app
        .request(
            Method::GET,
            &format!("/images/{id}"),
            Some(ALICE.0),
            &[("Range", &format!("bytes={}-", BLOCK - 2))],
        )
        .await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[BLOCK - 2..]);
}
