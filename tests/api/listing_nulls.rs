//! Listing by a column some images leave without a value (docs/api.md §6
//! and §17.9): a queued image (made through v2, no data yet) has no size,
//! and may have no disk or container format. Such images sort before every
//! value ascending and after them descending, and paging with a marker
//! (its own value missing or not) goes through every image exactly once,
//! on either catalogue engine.

use serde_json::{json, Value};

use crate::helpers::{TestApp, ALICE};
use crate::util::{items, json_with_status};

/// The v1 sort keys whose columns a queued image may leave empty.
const NULLABLE_V1: [&str; 3] = ["size", "disk_format", "container_format"];

/// A v2 create of `body` as Alice; the new id.
async fn queued(app: &TestApp, body: Value) -> String {
    app.v2_queued(ALICE.0, &body).await
}

/// Alice's catalogue: four images with data (ties in size and formats),
/// three queued ones with no formats, one with only a disk format and one
/// with both formats; registered and created interleaved, so that the ids
/// of the images without a value are not all on one side of the others'.
/// Returns how many images there are.
async fn catalogue(app: &TestApp) -> usize {
    let mut count = 0;
    for (i, (disk, container, data)) in [
        ("raw", "bare", &b"four"[..]),
        ("qcow2", "ovf", b"four"),
        ("raw", "ovf", b"longer data"),
        ("diskdump", "bare", b"x"),
    ]
    .into_iter()
    .enumerate()
    {
        app.alice()
            .register(&format!("data{i}"))
            .data(data)
            .name(&format!("data{i}"))
            .header("X-Image-Meta-Disk-Format", disk)
            .header("X-Image-Meta-Container-Format", container)
            .ok()
            .await;
        let body = match i {
            0 => json!({"name": "queued, disk only", "disk_format": "raw"}),
            1 => {
                json!({"name": "queued, both", "disk_format": "qcow2", "container_format": "bare"})
            }
            _ => json!({"name": format!("queued {i}")}),
        };
        queued(app, body).await;
        count += 2;
    }
    queued(app, json!({"name": "queued last"})).await;
    count + 1
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// The v1 listing at `base` page by page, `limit` at a time.
async fn v1_pages(app: &TestApp, base: &str, limit: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut url = format!("{base}&limit={limit}");
    for _ in 0..100 {
        let page = ids(&items(&app.list(&url, ALICE.0).await));
        assert!(page.len() <= limit, "{url}");
        let short = page.len() < limit;
        all.extend(page);
        if short {
            return all;
        }
        url = format!("{base}&limit={limit}&marker={}", all.last().unwrap());
    }
    panic!("{base}: paging does not end");
}

/// The v2 listing at `base` page by page, `limit` at a time, each marker
/// the last id of the page before (as the `next` link carries it).
async fn v2_pages(app: &TestApp, base: &str, limit: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut url = format!("{base}&limit={limit}");
    for _ in 0..100 {
        let body = app.list(&url, ALICE.0).await;
        let page = ids(body["images"].as_array().unwrap());
        assert!(page.len() <= limit, "{url}");
        all.extend(page);
        if body.get("next").is_none() {
            return all;
        }
        url = format!("{base}&limit={limit}&marker={}", all.last().unwrap());
    }
    panic!("{base}: paging does not end");
}

/// Whether a v1 listed image has no value in `key`'s column (shown as ""
/// or, for the size, 0).
fn v1_without(item: &Value, key: &str) -> bool {
    item["status"] == "queued" && (item[key] == "" || item[key] == 0)
}

#[tokio::test]
async fn v1_pages_by_a_column_without_values_hold_every_image_once() {
    let app = TestApp::spawn().await;
    let total = catalogue(&app).await;
    for key in NULLABLE_V1 {
        for dir in ["asc", "desc"] {
            let base = format!("/images/detail?sort_key={key}&sort_dir={dir}");
            let list = items(&app.list(&base, ALICE.0).await);
            let whole = ids(&list);
            assert_eq!(whole.len(), total, "{base}");
            // The images without a value first ascending, last descending.
            let without: Vec<bool> = list.iter().map(|i| v1_without(i, key)).collect();
            let nulls = without.iter().filter(|w| **w).count();
            assert!(nulls >= 3, "{base}: {nulls} without a value");
            let (head, tail) = without.split_at(if dir == "asc" { nulls } else { total - nulls });
            let first_are_nulls = dir == "asc";
            assert!(
                head.iter().all(|w| *w == first_are_nulls)
                    && tail.iter().all(|w| *w != first_are_nulls),
                "{base}: {without:?}"
            );
            for limit in [1, 2, 3] {
                assert_eq!(
                    v1_pages(&app, &base, limit).await,
                    whole,
                    "{base} limit {limit}"
                );
            }
        }
    }
}

#[tokio::test]
async fn v2_pages_by_a_column_without_values_hold_every_image_once() {
    let app = TestApp::spawn().await;
    let total = catalogue(&app).await;
    for sort in [
        "sort_key=size&sort_dir=asc",
        "sort_key=size&sort_dir=desc",
        "sort_key=disk_format&sort_dir=asc",
        "sort_key=disk_format&sort_dir=desc",
        "sort_key=container_format&sort_dir=asc",
        "sort_key=container_format&sort_dir=desc",
        "sort=disk_format:asc,size:desc",
        "sort=container_format:desc,size:asc",
    ] {
        let base = format!("/v2/images?{sort}");
        let whole = ids(
            json_with_status(app.get(&base, ALICE.0).await, 200).await["images"]
                .as_array()
                .unwrap(),
        );
        assert_eq!(whole.len(), total, "{base}");
        for limit in [1, 2, 3] {
            assert_eq!(
                v2_pages(&app, &base, limit).await,
                whole,
                "{base} limit {limit}"
            );
        }
    }
}
