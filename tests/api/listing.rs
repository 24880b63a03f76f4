//! Listing (docs/api.md §6): visibility, every filter, every sort key in both directions
//! with ties broken by id, paging with limit and marker, and changes-since.

use std::cmp::Ordering;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{fault, items, PREFIXES};

const SORT_KEYS: [&str; 8] = [
    "id",
    "name",
    "status",
    "size",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
];

/// 30 of Alice's images with many ties, two of Bob's she can see (one public,
/// one shared) and one of Carol's she cannot. Returns the ids in the order of
/// their last write (so registration order, but for the updated ones).
async fn thirty_images(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let names = ["delta", "alpha", "Charlie", "bravo", "écho"];
    let disks = ["diskdump", "raw", "qcow2", "vmdk"];
    let containers = ["bare", "ovf", "aki"];
    let mut created = Vec::new();
    for i in 0..30 {
        let size = (i * 7) % 11 + 1;
        let data: Vec<u8> = (0..size).map(|b| b as u8 + 1).collect();
        let id = app
            .alice()
            .register(&format!("img{i:02}"))
            .data(&data)
            .name(names[i % 5])
            .header("X-Image-Meta-Disk-Format", disks[i % 4])
            .header("X-Image-Meta-Container-Format", containers[i % 3])
            .ok()
            .await;
        created.push(id);
    }
    let bobs_public = app
        .bob()
        .register("public")
        .data(b"bob public")
        .name("alpha")
        .public()
        .ok()
        .await;
    created.push(bobs_public);
    let bobs_shared = app
        .bob()
        .register("shared")
        .data(b"bob")
        .name("zulu")
        .ok()
        .await;
    app.set_members(&bobs_shared, BOB.0, &["alice"]).await;
    created.push(bobs_shared);
    app.carol()
        .register("hidden")
        .data(b"carol")
        .name("alpha")
        .ok()
        .await;
    let mut touched = created.clone();
    for i in (0..30).step_by(6) {
        for (j, status) in [(i, "saving"), (i + 1, "error")] {
            let id = created[j].clone();
            app.update_ok(&id, ALICE.0, &[("X-Image-Meta-Status", status)])
                .await;
            touched.retain(|x| *x != id);
            touched.push(id);
        }
    }
    (created, touched)
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Compares two listed images by a sort key whose values the listing shows
/// exactly (all but the times, which are shown to the second only).
fn compare(a: &Value, b: &Value, key: &str) -> Ordering {
    match key {
        "size" => a["size"].as_u64().cmp(&b["size"].as_u64()),
        _ => a[key].as_str().unwrap().cmp(b[key].as_str().unwrap()),
    }
}

/// Checks that `list` is sorted by `key` in the direction, ties by id likewise.
fn assert_sorted(list: &[Value], key: &str, desc: bool, what: &str) {
    for w in list.windows(2) {
        let mut ord = if key.ends_with("_at") {
            // Times shown to the second can only be checked not to go backwards.
            let o = a_str(&w[0], key).cmp(a_str(&w[1], key));
            if o == Ordering::Equal {
                continue;
            }
            o
        } else {
            compare(&w[0], &w[1], key).then_with(|| compare(&w[0], &w[1], "id"))
        };
        if desc {
            ord = ord.reverse();
        }
        assert_eq!(
            ord,
            Ordering::Less,
            "{what}: {} then {}",
            w[0][key],
            w[1][key]
        );
    }
}

fn a_str<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap()
}

/// Every page of a listing with `limit`, checking each page is full but the last.
async fn pages(app: &TestApp, base: &str, limit: usize) -> Vec<Value> {
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut all: Vec<Value> = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..1000 {
        let mut url = format!("{base}{sep}limit={limit}");
        if let Some(m) = &marker {
            url.push_str(&format!("&marker={m}"));
        }
        let page = items(&app.list(&url, ALICE.0).await);
        assert!(page.len() <= limit, "{url}: {} > {limit}", page.len());
        let short = page.len() < limit;
        if let Some(last) = page.last() {
            marker = Some(last["id"].as_str().unwrap().to_string());
        }
        all.extend(page);
        if short {
            return all;
        }
    }
    panic!("{base}: paging does not end");
}

#[tokio::test]
async fn every_sort_key_in_both_directions_orders_the_list_with_ties_broken_by_id() {
    let app = TestApp::spawn().await;
    let (created, touched) = thirty_images(&app).await;
    for key in SORT_KEYS {
        for dir in ["asc", "desc"] {
            let what = format!("sort_key={key}&sort_dir={dir}");
            let list = items(&app.list(&format!("/images/detail?{what}"), ALICE.0).await);
            assert_eq!(list.len(), 32, "{what}");
            assert_sorted(&list, key, dir == "desc", &what);
            let mut expected = match key {
                "created_at" => created.clone(),
                "updated_at" => touched.clone(),
                _ => continue,
            };
            if dir == "desc" {
                expected.reverse();
            }
            assert_eq!(ids(&list), expected, "{what}: by the stored microseconds");
        }
    }
    // The defaults are created_at, ascending.
    let list = items(&app.list("/images/detail", ALICE.0).await);
    assert_eq!(ids(&list), created);
    let list = items(&app.list("/images?sort_dir=desc", ALICE.0).await);
    let mut rev = created.clone();
    rev.reverse();
    assert_eq!(ids(&list), rev);
    let list = items(&app.list("/images?sort_key=created_at", ALICE.0).await);
    assert_eq!(ids(&list), created);
}

#[tokio::test]
async fn paging_with_limit_and_marker_returns_each_image_exactly_once_for_every_sort_key() {
    let app = TestApp::spawn().await;
    thirty_images(&app).await;
    for key in SORT_KEYS {
        for dir in ["asc", "desc"] {
            for (prefix, list) in [
                ("", "/images/detail"),
                ("/v1", "/images"),
                ("/v1.0", "/images"),
            ] {
                let base = format!("{prefix}{list}?sort_key={key}&sort_dir={dir}");
                let whole = ids(&items(&app.list(&base, ALICE.0).await));
                assert_eq!(whole.len(), 32);
                for limit in [7, 16, 32] {
                    let paged = ids(&pages(&app, &base, limit).await);
                    assert_eq!(paged, whole, "{base} limit {limit}");
                }
            }
        }
    }
    // Page by page, one at a time, for two keys.
    for base in [
        "/images?sort_key=name",
        "/v1/images?sort_key=size&sort_dir=desc",
    ] {
        let whole = ids(&items(&app.list(base, ALICE.0).await));
        assert_eq!(ids(&pages(&app, base, 1).await), whole, "{base} limit 1");
    }
}

#[tokio::test]
async fn paging_also_works_with_filters() {
    let app = TestApp::spawn().await;
    thirty_images(&app).await;
    let base = "/images/detail?disk_format=raw&sort_key=name&sort_dir=desc";
    let whole = items(&app.list(base, ALICE.0).await);
    assert!(whole.len() > 4);
    assert!(whole.iter().all(|i| i["disk_format"] == "raw"));
    assert_eq!(ids(&pages(&app, base, 3).await), ids(&whole));
}

#[tokio::test]
async fn limit_alone_gives_the_first_images_and_accepts_up_to_ten_thousand() {
    let app = TestApp::spawn().await;
    let (created, _) = thirty_images(&app).await;
    let list = items(&app.list("/images?limit=5", ALICE.0).await);
    assert_eq!(ids(&list), created[..5].to_vec());
    let list = items(&app.list("/images?limit=10000", ALICE.0).await);
    assert_eq!(list.len(), 32);
    // A marker without a limit gives everything after it.
    let list = items(
        &app.list(&format!("/images?marker={}", created[29]), ALICE.0)
            .await,
    );
    assert_eq!(ids(&list), created[30..].to_vec());
}

#[tokio::test]
async fn a_marker_the_caller_cannot_see_is_400() {
    let app = TestApp::spawn().await;
    let mine = app.alice().register("a.img").data(b"a").ok().await;
    let carols = app.carol().register("c.img").data(b"c").ok().await;
    for prefix in PREFIXES {
        let resp = app
            .get(&format!("{prefix}/images?marker={carols}&limit=2"), ALICE.0)
            .await;
        fault(resp, 400, "badRequest", &["marker", &carols]).await;
        let resp = app
            .get(&format!("{prefix}/images?marker={mine}"), CAROL.0)
            .await;
        fault(resp, 400, "badRequest", &["marker", &mine]).await;
    }
}

#[tokio::test]
async fn ties_are_broken_by_id_in_the_direction_of_the_sort() {
    let app = TestApp::spawn().await;
    let mut same = Vec::new();
    for i in 0..6 {
        same.push(
            app.alice()
                .register(&format!("t{i}"))
                .data(b"same size")
                .name("same")
                .ok()
                .await,
        );
    }
    let mut asc = same.clone();
    asc.sort();
    let mut desc = asc.clone();
    desc.reverse();
    for key in ["name", "size", "status", "disk_format", "container_format"] {
        let got = app
            .list_ids(&format!("/images?sort_key={key}&sort_dir=asc"), ALICE.0)
            .await;
        assert_eq!(got, asc, "{key} asc");
        let got = app
            .list_ids(&format!("/images?sort_key={key}&sort_dir=desc"), ALICE.0)
            .await;
        assert_eq!(got, desc, "{key} desc");
    }
}

#[tokio::test]
async fn strings_sort_by_their_utf8_bytes() {
    let app = TestApp::spawn().await;
    let mut by_name = Vec::new();
    for name in ["b", "é", "B", "a", "Z", "ä", "_", "1"] {
        let id = app
            .alice()
            .register(&format!("f{}", by_name.len()))
            .name(name)
            .ok()
            .await;
        by_name.push((name.to_string(), id));
    }
    by_name.sort();
    let expected: Vec<String> = by_name.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(
        app.list_ids("/images?sort_key=name", ALICE.0).await,
        expected
    );
}

/// Images for the filter tests, by letter.
struct Filtered {
    a: String,
    b: String,
    c: String,
    d: String,
    f: String,
}

async fn filter_fixture(app: &TestApp) -> Filtered {
    let a = app
        .alice()
        .register("a.img")
        .data(&[1u8; 10])
        .name("Debian 12")
        .header("X-Image-Meta-Disk-Format", "raw")
        .property("OS", "debian")
        .property("Version", "12")
        .ok()
        .await;
    let b = app
        .alice()
        .register("b.img")
        .data(&[2u8; 20])
        .name("Ubuntu")
        .header("X-Image-Meta-Disk-Format", "qcow2")
        .header("X-Image-Meta-Container-Format", "ovf")
        .public()
        .property("OS", "ubuntu")
        .ok()
        .await;
    let c = app
        .bob()
        .register("c.img")
        .data(&[3u8; 30])
        .name("Debian 12")
        .header("X-Image-Meta-Disk-Format", "raw")
        .public()
        .property("OS", "debian")
        .ok()
        .await;
    let d = app
        .bob()
        .register("d.img")
        .data(&[4u8; 40])
        .name("Fedora")
        .header("X-Image-Meta-Disk-Format", "vmdk")
        .header("X-Image-Meta-Container-Format", "aki")
        .ok()
        .await;
    app.set_members(&d, BOB.0, &["alice"]).await;
    app.carol()
        .register("e.img")
        .data(&[5u8; 10])
        .name("Debian 12")
        .header("X-Image-Meta-Disk-Format", "raw")
        .property("OS", "debian")
        .ok()
        .await;
    let f = app
        .alice()
        .register("f.img")
        .data(&[6u8; 5])
        .name("Arch")
        .ok()
        .await;
    app.update_ok(&f, ALICE.0, &[("X-Image-Meta-Status", "saving")])
        .await;
    let deleted = app
        .alice()
        .register("g.img")
        .data(&[7u8; 10])
        .name("Debian 12")
        .ok()
        .await;
    let resp = app
        .request(
            Method::DELETE,
            &format!("/images/{deleted}"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 204);
    Filtered { a, b, c, d, f }
}

#[tokio::test]
async fn every_filter_selects_exactly_the_matching_visible_live_images() {
    let app = TestApp::spawn().await;
    let Filtered { a, b, c, d, f } = filter_fixture(&app).await;
    let cases: Vec<(&str, Vec<&String>)> = vec![
        ("", vec![&a, &b, &c, &d, &f]),
        ("name=Debian+12", vec![&a, &c]),
        ("name=Debian%2012", vec![&a, &c]),
        ("name=Debian", vec![]),
        ("name=%44ebian%2012", vec![&a, &c]),
        ("name=Debian%2B12", vec![]),
        ("name=debian+12", vec![]),
        ("status=saving", vec![&f]),
        ("status=available", vec![&a, &b, &c, &d]),
        ("status=deleted", vec![]),
        ("disk_format=raw", vec![&a, &c]),
        ("disk_format=vmdk", vec![&d]),
        ("container_format=ovf", vec![&b]),
        ("container_format=bare", vec![&a, &c, &f]),
        ("size_min=20", vec![&b, &c, &d]),
        ("size_max=20", vec![&a, &b, &f]),
        ("size_min=10&size_max=30", vec![&a, &b, &c]),
        ("size_min=0", vec![&a, &b, &c, &d, &f]),
        ("size_max=0", vec![]),
        ("size_min=41", vec![]),
        ("is_public=true", vec![&b, &c]),
        ("is_public=TRUE", vec![&b, &c]),
        ("is_public=False", vec![&a, &d, &f]),
        ("owner=bob", vec![&c, &d]),
        ("owner=alice", vec![&a, &b, &f]),
        ("owner=carol", vec![]),
        ("property-os=debian", vec![&a, &c]),
        ("property-os=debian&property-version=12", vec![&a]),
        ("property-os=Debian", vec![]),
        ("property-version=12", vec![&a]),
        ("property-nothing=x", vec![]),
        ("name=Debian+12&owner=bob", vec![&c]),
        ("disk_format=raw&is_public=false", vec![&a]),
        ("foo=bar&sort=name", vec![&a, &b, &c, &d, &f]),
    ];
    for prefix in PREFIXES {
        for list in ["/images", "/images/detail"] {
            for (query, expected) in &cases {
                let got = app
                    .list_ids(&format!("{prefix}{list}?{query}"), ALICE.0)
                    .await;
                let expected: Vec<String> = expected.iter().map(|s| (*s).clone()).collect();
                assert_eq!(got, expected, "{prefix}{list}?{query}");
            }
        }
    }
}

#[tokio::test]
async fn each_caller_lists_what_they_own_what_is_public_and_what_is_shared_with_them() {
    let app = TestApp::spawn().await;
    let Filtered { a, b, c, d, f } = filter_fixture(&app).await;
    let _ = (a, f);
    let bob = app.list_ids("/images", BOB.0).await;
    assert_eq!(bob, vec![b.clone(), c.clone(), d.clone()]);
    let carol = app.list_ids("/images/detail", CAROL.0).await;
    assert_eq!(carol.len(), 3, "b, c and her own");
    assert!(carol.contains(&b) && carol.contains(&c) && !carol.contains(&d));
}

#[tokio::test]
async fn changes_since_includes_deleted_images_for_those_who_could_see_them() {
    let app = TestApp::spawn().await;
    let live = app.alice().register("live.img").data(b"live").ok().await;
    let shared = app
        .alice()
        .register("shared.img")
        .data(b"shared")
        .ok()
        .await;
    app.set_members(&shared, ALICE.0, &["bob"]).await;
    let public = app
        .alice()
        .register("public.img")
        .data(b"public")
        .public()
        .ok()
        .await;
    for id in [&shared, &public] {
        let resp = app
            .request(Method::DELETE, &format!("/images/{id}"), Some(ALICE.0), &[])
            .await;
        assert_eq!(resp.status(), 204);
    }
    let since = "changes-since=2000-01-01";
    for prefix in PREFIXES {
        assert_eq!(
            app.list_ids(&format!("{prefix}/images"), ALICE.0).await,
            vec![live.clone()]
        );
        let body = app
            .list(&format!("{prefix}/images/detail?{since}"), ALICE.0)
            .await;
        let list = items(&body);
        assert_eq!(
            ids(&list),
            vec![live.clone(), shared.clone(), public.clone()]
        );
        for item in &list[1..] {
            assert_eq!(item["status"], "deleted");
            assert_ne!(item["deleted_at"], "");
        }
        assert_eq!(list[0]["deleted_at"], "");
        assert_eq!(
            app.list_ids(&format!("{prefix}/images?{since}"), BOB.0)
                .await,
            vec![shared.clone(), public.clone()],
            "Bob was a member of one and could see the public one"
        );
        assert_eq!(
            app.list_ids(&format!("{prefix}/images?{since}"), CAROL.0)
                .await,
            vec![public.clone()],
            "Carol could see only the public one"
        );
    }
    // A deleted image may be the marker only with changes-since.
    let resp = app.get(&format!("/images?marker={shared}"), ALICE.0).await;
    fault(resp, 400, "badRequest", &["marker", &shared]).await;
    let after = app
        .list_ids(&format!("/images?{since}&marker={shared}"), ALICE.0)
        .await;
    assert_eq!(after, vec![public.clone()]);
    // Filters still apply.
    let only = app
        .list_ids(
            &format!("/images?{since}&status=deleted&is_public=true"),
            ALICE.0,
        )
        .await;
    assert_eq!(only, vec![public]);
}

fn shown(item: &Value, key: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(item[key].as_str().unwrap(), "%Y-%m-%d %H:%M:%S").unwrap()
}

/// A query value with `+` and spaces percent-encoded.
fn q(v: &str) -> String {
    v.replace('+', "%2B").replace(' ', "%20")
}

#[tokio::test]
async fn changes_since_takes_every_documented_time_form() {
    let app = TestApp::spawn().await;
    let id = app.alice().register("a.img").data(b"a").ok().await;
    let t = shown(&app.detail_of(&id, ALICE.0).await, "updated_at");
    let before = t - TimeDelta::seconds(1);
    let later = t + TimeDelta::days(1);
    let forms = |x: NaiveDateTime| -> Vec<String> {
        let utc = x.and_utc();
        let east = utc.with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap());
        let west = utc.with_timezone(&chrono::FixedOffset::west_opt(5 * 3600).unwrap());
        vec![
            x.format("%Y-%m-%d %H:%M:%S").to_string(),
            x.format("%Y-%m-%dT%H:%M:%S").to_string(),
            x.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            x.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            x.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
            x.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            east.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            west.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
        ]
    };
    for form in forms(before) {
        let got = app
            .list_ids(&format!("/images?changes-since={}", q(&form)), ALICE.0)
            .await;
        assert_eq!(got, vec![id.clone()], "changes-since={form}");
    }
    for form in forms(later) {
        let got = app
            .list_ids(&format!("/images?changes-since={}", q(&form)), ALICE.0)
            .await;
        assert!(got.is_empty(), "changes-since={form}: {got:?}");
    }
    // A date alone is midnight UTC.
    let day = t.date();
    let got = app
        .list_ids(
            &format!("/images?changes-since={}", day.format("%Y-%m-%d")),
            ALICE.0,
        )
        .await;
    assert_eq!(got, vec![id.clone()]);
    let next = day + TimeDelta::days(1);
    let got = app
        .list_ids(
            &format!("/images?changes-since={}", next.format("%Y-%m-%d")),
            ALICE.0,
        )
        .await;
    assert!(got.is_empty());
    // `+` in a query is a space: a time written with + and an unencoded space.
    let got = app
        .list_ids(
            &format!(
                "/images?changes-since={}",
                before.format("%Y-%m-%d+%H:%M:%S")
            ),
            ALICE.0,
        )
        .await;
    assert_eq!(got, vec![id]);
}

#[tokio::test]
async fn changes_since_a_shown_time_includes_changes_later_than_it_only() {
    let app = TestApp::spawn().await;
    let old = app.alice().register("old.img").data(b"old").ok().await;
    let new = app.alice().register("new.img").data(b"new").ok().await;
    // Times are shown to the second: to tell the two changes apart by a shown
    // time, the second change must fall in a later second than the first.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = app
        .update_ok(&new, ALICE.0, &[("X-Image-Meta-Name", "renamed")])
        .await;
    let body: Value = resp.json().await.unwrap();
    let t = shown(&body["image"], "updated_at");
    let old_t = shown(&app.detail_of(&old, ALICE.0).await, "updated_at");
    assert!(old_t < t);
    let utc = t.and_utc();
    let east = utc.with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap());
    for form in [
        t.format("%Y-%m-%d %H:%M:%S").to_string(),
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        east.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
    ] {
        let got = app
            .list_ids(&format!("/images?changes-since={}", q(&form)), ALICE.0)
            .await;
        assert_eq!(got, vec![new.clone()], "changes-since={form}");
    }
}

/// 300 of Alice's images, more than one piece of a listing (128), with ties
/// in name and size; `all=yes` on all but every 30th (more than the 256 a
/// filter must match to be read in the listing's order), `rare=yes` on
/// every 30th (few enough to be read from the property index). Returns the
/// ids in registration order.
async fn three_hundred_images(app: &TestApp) -> Vec<String> {
    let mut created = Vec::new();
    for i in 0..300 {
        let size = i % 7 + 1;
        let data: Vec<u8> = (0..size).map(|b| (b + i) as u8).collect();
        let (key, value) = if i % 30 == 0 {
            ("X-Image-Meta-Property-Rare", "yes")
        } else {
            ("X-Image-Meta-Property-All", "yes")
        };
        let id = app
            .alice()
            .register(&format!("many{i:03}"))
            .data(&data)
            .name(["b", "a", "c"][i % 3])
            .header(key, value)
            .ok()
            .await;
        created.push(id);
    }
    created
}

#[tokio::test]
async fn a_listing_longer_than_a_piece_is_streamed_with_every_image_once_in_order() {
    let app = TestApp::spawn().await;
    let created = three_hundred_images(&app).await;
    let rare: Vec<String> = created.iter().step_by(30).cloned().collect();
    let common: Vec<String> = created
        .iter()
        .filter(|i| !rare.contains(i))
        .cloned()
        .collect();
    // The whole list, streamed (no length: chunked), equals its pages of 100
    // (each one piece), for sort keys with ties, both ways, both dialects.
    for (prefix, list) in [
        ("", "/images/detail"),
        ("/v1", "/images/detail"),
        ("", "/images"),
    ] {
        for what in [
            "sort_key=name",
            "sort_key=size&sort_dir=desc",
            "sort_key=created_at",
        ] {
            let base = format!("{prefix}{list}?{what}");
            let resp = app.get(&base, ALICE.0).await;
            assert_eq!(resp.status(), 200, "{base}");
            assert_eq!(
                resp.content_length(),
                None,
                "{base}: streamed, so of no declared length"
            );
            let whole: Value = resp.json().await.unwrap();
            let whole = items(&whole);
            assert_eq!(whole.len(), 300, "{base}");
            assert_eq!(ids(&pages(&app, &base, 100).await), ids(&whole), "{base}");
            let key = what.split(['=', '&']).nth(1).unwrap();
            if list.ends_with("detail") || key != "created_at" {
                assert_sorted(&whole, key, what.contains("desc"), &base);
            }
            // A limit over a piece, and a marker within the second piece.
            let limited = items(&app.list(&format!("{base}&limit=200"), ALICE.0).await);
            assert_eq!(
                ids(&limited),
                ids(&whole)[..200].to_vec(),
                "{base} limit 200"
            );
            let marker = whole[150]["id"].as_str().unwrap();
            let after = items(&app.list(&format!("{base}&marker={marker}"), ALICE.0).await);
            assert_eq!(ids(&after), ids(&whole)[151..].to_vec(), "{base} after 150");
        }
    }
    // A page that fits in one piece is sent whole, with its length.
    let resp = app.get("/images/detail?limit=25", ALICE.0).await;
    assert!(resp.content_length().is_some());
    // A common filter and a rare one, alone and together: each image that
    // has the property, once, in order.
    for (filter, expected) in [
        ("property-all=yes", common.clone()),
        ("property-rare=yes", rare.clone()),
        ("property-all=yes&property-rare=yes", Vec::new()),
        ("property-all=yes&name=a", {
            let a: Vec<String> = created.iter().skip(1).step_by(3).cloned().collect();
            common.iter().filter(|i| a.contains(i)).cloned().collect()
        }),
    ] {
        for prefix in ["", "/v1"] {
            let base = format!("{prefix}/images/detail?{filter}");
            let whole = ids(&items(&app.list(&base, ALICE.0).await));
            assert_eq!(whole, expected, "{base}");
            for limit in [25, 130] {
                assert_eq!(
                    ids(&pages(&app, &base, limit).await),
                    expected,
                    "{base} by {limit}"
                );
            }
            let desc = format!("{base}&sort_dir=desc");
            let mut reversed = expected.clone();
            reversed.reverse();
            assert_eq!(ids(&pages(&app, &desc, 25).await), reversed, "{desc}");
        }
    }
}
