//! The Pithos hash (docs/api.md §9) of registered objects against reference vectors, and
//! the MD5 the Glance dialect shows.
//!
//! The vectors are in `tests/data/pithos-hash-vectors.tsv` (the unit tests of
//! `src/backends/hash.rs` read the same file). They are the output of a small
//! Python reference implementation of the hash (run with `--vectors`), which
//! is kept outside this repository, with the team's shared tools: the file
//! here is a copy of its output, so the tests need nothing outside the repo.
//! That implementation hashes 4 MiB blocks with SHA-256 after stripping each
//! block's trailing NUL bytes, and combines more than one block hash as a
//! Merkle tree padded with all-zero hashes to a power of two.

use reqwest::Method;

use crate::helpers::{TestApp, ALICE};
use crate::util::{md5_hex, must_header};

const BLOCK: usize = 4 * 1024 * 1024;

/// Byte i of the reference implementation's pattern is (i * 7 + 3) % 251.
fn pat(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + 3) % 251) as u8).collect()
}

/// The vectors' contents, built as the reference implementation builds them.
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

/// The reference implementation's `--vectors` output (name, size, hash), as
/// copied into `tests/data/pithos-hash-vectors.tsv`.
fn vectors() -> Vec<(&'static str, u64, &'static str)> {
    include_str!("../data/pithos-hash-vectors.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0], f[1].parse().unwrap(), f[2])
        })
        .collect()
}

#[tokio::test]
async fn registered_objects_carry_the_pithos_hash_of_the_reference_vectors() {
    let app = TestApp::spawn().await;
    let vectors = vectors();
    assert_eq!(vectors.len(), 9);
    for (name, size, hash) in &vectors {
        let data = contents(name);
        assert_eq!(data.len() as u64, *size, "{name}: the test builds it wrong");
        let md5 = md5_hex(&data);
        let file = format!("{name}.img");
        app.put_object(ALICE.1, "vectors", &file, &data);
        drop(data);
        let register = || {
            app.alice()
                .register(&file)
                .in_container("vectors")
                .already_there()
                .name(name)
        };
        let resp = register().prefix("/v1.0").send().await;
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
            let resp = register()
                .header("X-Image-Meta-Checksum", sum)
                .header("X-Image-Meta-Size", &size.to_string())
                .send()
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
    let id = app.alice().register("big.img").data(&data).ok().await;
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
