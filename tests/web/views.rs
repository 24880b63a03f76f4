//! What the view shows and changes, checked against the image API: the
//! catalogue's filters, order and pages; the owner's forms; upload,
//! register and download; empty states and notices.

use crate::helpers::{Page, WebApp, ALICE, BOB, CAROL};
use crate::support::images;

#[tokio::test]
async fn the_catalogue_pages_25_at_a_time_both_ways() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    for i in 0..30 {
        app.api_upload(ALICE, &format!("image {i:02}"), b"x", false)
            .await;
    }
    let first = app.page(&alice, "/ui/?sort_key=name").await;
    first.assert_page(200);
    assert_eq!(first.rows(), 25);
    assert!(first.body.contains("image 00") && first.body.contains("image 24"));
    assert!(first.link("previous").is_none());
    let next = first.link("next").expect("a next page");
    assert!(
        next.contains("sort_key=name") && next.contains("marker="),
        "{next}"
    );
    let second = app.page(&alice, &next).await;
    assert_eq!(second.rows(), 5);
    assert!(second.body.contains("image 25") && !second.body.contains("image 24"));
    assert!(second.link("next").is_none());
    let back = second.link("previous").expect("a previous page");
    assert_eq!(back, "/ui/?sort_key=name");
    // Three pages: the middle one leads back by marker.
    let desc = app.page(&alice, "/ui/?sort_key=name&sort_dir=desc").await;
    assert!(desc.body.find("image 29").unwrap() < desc.body.find("image 28").unwrap());
    for i in 30..55 {
        app.api_upload(ALICE, &format!("image {i:02}"), b"x", false)
            .await;
    }
    let p2 = app
        .page(
            &alice,
            &app.page(&alice, "/ui/?sort_key=name")
                .await
                .link("next")
                .unwrap(),
        )
        .await;
    let p3 = app.page(&alice, &p2.link("next").unwrap()).await;
    assert_eq!(p3.rows(), 5);
    let back_to_2 = app.page(&alice, &p3.link("previous").unwrap()).await;
    assert_eq!(
        back_to_2.body,
        p2.body.replace(
            &p2.field("csrf").unwrap(),
            &back_to_2.field("csrf").unwrap()
        )
    );
}

#[tokio::test]
async fn filters_and_sorting_are_the_apis_and_live_in_the_url() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let mine = app.api_upload(ALICE, "alice small", b"1", false).await;
    let shared = app.api_upload(BOB, "bob shared", b"12345", false).await;
    let public = app.api_upload(CAROL, "carol public", b"123", true).await;
    let _hidden = app.api_upload(CAROL, "carol private", b"12", false).await;
    let bob = app.login(BOB.0).await;
    app.post(
        &bob,
        &format!("/ui/images/{shared}/members"),
        &[("member", "alice")],
    )
    .await;
    let all = app.page(&alice, "/ui/").await;
    assert_eq!(all.rows(), 3);
    assert!(!all.body.contains("carol private"));
    for (query, only) in [
        ("visibility=mine", &mine),
        ("visibility=shared-with-me", &shared),
        ("visibility=public", &public),
        ("name=bob+shared", &shared),
        ("name=carol%20public&disk_format=&status=", &public),
        ("size_min=4", &shared),
    ] {
        let page = app.page(&alice, &format!("/ui/?{query}")).await;
        page.assert_page(200);
        assert_eq!(page.rows(), 1, "{query}");
        assert!(page.body.contains(only.as_str()), "{query}");
    }
    let by_size = app.page(&alice, "/ui/?sort_key=size&sort_dir=desc").await;
    let (a, b, c) = (
        by_size.body.find("bob shared").unwrap(),
        by_size.body.find("carol public").unwrap(),
        by_size.body.find("alice small").unwrap(),
    );
    assert!(a < b && b < c);
    assert!(by_size.body.contains("aria-sort=\"descending\""));
    // The column head turns the order round and keeps the filters.
    let filtered = app.page(&alice, "/ui/?visibility=mine&sort_key=size").await;
    assert_eq!(
        filtered.link("sort-size").unwrap(),
        "/ui/?visibility=mine&sort_key=size&sort_dir=desc"
    );
    let bad = app.page(&alice, "/ui/?sort_key=owner").await;
    bad.assert_page(400);
    assert!(bad.body.contains("Invalid sort_key"), "{}", bad.body);
    let none = app.page(&alice, "/ui/?name=nothing").await;
    assert!(none.body.contains("No image matches these filters"));
}

#[tokio::test]
async fn an_empty_catalogue_says_what_to_do() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let page = app.page(&alice, "/ui/").await;
    page.assert_page(200);
    assert!(page.body.contains("No images yet"));
    assert!(page.body.contains("/ui/upload"));
}

#[tokio::test]
async fn the_image_page_shows_every_field_with_names_and_human_sizes() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app
        .api_upload(ALICE, "Debian 12", &vec![7u8; 3 * 1024 * 1024 + 512], false)
        .await;
    let page = app.page(&alice, &format!("/ui/images/{id}")).await;
    page.assert_page(200);
    let api = app.api_detail(ALICE, &id).await.unwrap();
    for field in [
        "id",
        "location",
        "checksum",
        "disk_format",
        "container_format",
        "created_at",
    ] {
        let value = api[field].as_str().unwrap();
        assert!(page.body.contains(value), "{field} {value}");
    }
    assert!(page.body.contains("3.0 MiB"));
    assert!(page.body.contains("3146240 bytes"));
    assert!(page.body.contains("Alice Liddell"));
    assert!(page.body.contains("just now"));
    assert!(page.body.contains("UTC"));
}

/// Posts one of the owner's forms on image `id`, asserting the 303 back to its page.
async fn owner_post(
    app: &WebApp,
    s: &crate::helpers::Session,
    id: &str,
    form: &str,
    fields: &[(&str, &str)],
) {
    let page = app
        .post(s, &format!("/ui/images/{id}/{form}"), fields)
        .await;
    assert_eq!(page.status, 303, "{form}: {}", page.body);
    assert_eq!(page.header("location"), format!("/ui/images/{id}"));
}

#[tokio::test]
async fn the_owners_forms_change_what_the_api_shows() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    let page_path = format!("/ui/images/{id}");
    owner_post(
        &app,
        &alice,
        &id,
        "name",
        &[("name", "Debian 12 «bookworm»")],
    )
    .await;
    owner_post(&app, &alice, &id, "public", &[("is_public", "true")]).await;
    owner_post(
        &app,
        &alice,
        &id,
        "properties",
        &[("key", "OS"), ("value", "debian")],
    )
    .await;
    owner_post(
        &app,
        &alice,
        &id,
        "properties",
        &[("key", "kernel"), ("value", "6.1")],
    )
    .await;
    owner_post(
        &app,
        &alice,
        &id,
        "properties",
        &[("key", "kernel"), ("value", "")],
    )
    .await;
    owner_post(&app, &alice, &id, "members", &[("member", "bob")]).await;
    owner_post(&app, &alice, &id, "members", &[("member", "carol")]).await;
    owner_post(&app, &alice, &id, "members/remove", &[("member", "carol")]).await;
    let api = app.api_detail(ALICE, &id).await.unwrap();
    assert_eq!(api["name"], "Debian 12 «bookworm»");
    assert_eq!(api["is_public"], true);
    assert_eq!(api["properties"], serde_json::json!({"os": "debian"}));
    assert_eq!(app.api_members(ALICE, &id).await, vec!["bob"]);
    let page = app.page(&alice, &page_path).await;
    assert!(
        page.body.contains("No longer shared with carol."),
        "the notice"
    );
    assert!(page.body.contains("Debian 12 «bookworm»"));
    let again = app.page(&alice, &page_path).await;
    assert!(
        !again.body.contains("No longer shared"),
        "a notice is shown once"
    );
    // A bad input is said on the page, and changes nothing.
    owner_post(&app, &alice, &id, "name", &[("name", "")]).await;
    owner_post(
        &app,
        &alice,
        &id,
        "members",
        &[("member", "no spaces allowed")],
    )
    .await;
    let page = app.page(&alice, &page_path).await;
    assert!(page.body.contains("Invalid member id"), "{}", page.body);
    assert_eq!(
        app.api_detail(ALICE, &id).await.unwrap()["name"],
        "Debian 12 «bookworm»"
    );
    // Unregister: a confirmation first, then gone from the API.
    let confirm = app.page(&alice, &format!("{page_path}/unregister")).await;
    confirm.assert_page(200);
    assert!(confirm.body.contains("confirm-unregister"));
    let done = app
        .post(&alice, &format!("{page_path}/unregister"), &[])
        .await;
    assert_eq!(
        (done.status.as_u16(), done.header("location")),
        (303, "/ui/")
    );
    assert!(app.api_detail(ALICE, &id).await.is_none());
    app.page(&alice, &page_path).await.assert_page(404);
}

#[tokio::test]
async fn a_shared_image_shows_in_the_members_view() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let bob = app.login(BOB.0).await;
    let id = app.api_upload(ALICE, "for bob", b"data", false).await;
    assert_eq!(
        app.page(&bob, "/ui/?visibility=shared-with-me")
            .await
            .rows(),
        0
    );
    app.post(
        &alice,
        &format!("/ui/images/{id}/members"),
        &[("member", "bob")],
    )
    .await;
    let page = app.page(&bob, "/ui/?visibility=shared-with-me").await;
    assert_eq!(page.rows(), 1);
    assert!(page.body.contains("for bob") && page.body.contains("Alice Liddell"));
    // Before v2 `shared` meant "shared with me": such a link still finds it
    // (bob owns no shared image of his own).
    let old_link = app.page(&bob, "/ui/?visibility=shared").await;
    assert_eq!(old_link.rows(), 1);
    assert!(old_link.body.contains("for bob"));
}

#[tokio::test]
async fn the_owner_chooses_among_the_four_visibilities_and_v1_follows() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    let page_path = format!("/ui/images/{id}");
    let page = app.page(&alice, &page_path).await;
    assert!(
        page.body.contains("id=\"visibility\">shared<"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("<option value=\"shared\" selected>shared</option>"));
    for (word, is_public) in [
        ("public", true),
        ("community", false),
        ("private", false),
        ("shared", false),
    ] {
        owner_post(&app, &alice, &id, "visibility", &[("visibility", word)]).await;
        let page = app.page(&alice, &page_path).await;
        assert!(
            page.body.contains(&format!("id=\"visibility\">{word}<")),
            "{word}: {}",
            page.body
        );
        assert!(
            page.body.contains(&format!("It is {word} now.")),
            "{word}: the notice"
        );
        assert!(page.body.contains(&format!(
            "<option value=\"{word}\" selected>{word}</option>"
        )));
        let api = app.api_detail(ALICE, &id).await.unwrap();
        assert_eq!(api["is_public"], is_public, "{word}");
    }
}

#[tokio::test]
async fn a_visibility_that_is_not_one_of_the_four_changes_nothing() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "debian", b"data", true).await;
    let before = app.api_detail(ALICE, &id).await;
    for bad in ["everyone", "", "PUBLIC", "all"] {
        owner_post(&app, &alice, &id, "visibility", &[("visibility", bad)]).await;
        let page = app.page(&alice, &format!("/ui/images/{id}")).await;
        assert!(
            page.body.contains("Invalid visibility"),
            "{bad}: {}",
            page.body
        );
        assert!(page.body.contains("id=\"visibility\">public<"), "{bad}");
        assert_eq!(app.api_detail(ALICE, &id).await, before, "{bad}");
    }
}

#[tokio::test]
async fn the_image_page_shows_tags_protection_hiding_and_status_in_words() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    let path = format!("/ui/images/{id}");
    let page = app.page(&alice, &path).await;
    assert!(page.body.contains("id=\"no-tags\""));
    assert!(page.body.contains("id=\"protected\">no<"));
    assert!(!page.body.contains("id=\"hidden\""));
    assert!(page.body.contains("id=\"status\">available<"));
    for tag in ["lts", "debian"] {
        app.set_state(
            &id,
            &format!(
                "INSERT INTO image_tags (image_seq, tag) SELECT seq, '{tag}' FROM images WHERE id = ?1"
            ),
        );
    }
    app.set_state(
        &id,
        "UPDATE images SET protected = 1, os_hidden = 1, status = 'deactivated' WHERE id = ?1",
    );
    let page = app.page(&alice, &path).await;
    assert!(
        page.body
            .contains("<ul class=\"tags\" id=\"tags\"><li>debian</li><li>lts</li></ul>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"protected\">yes"));
    assert!(page.body.contains("id=\"hidden\">yes"));
    assert!(page.body.contains("id=\"status\">deactivated<"));
    assert!(page.body.contains("nobody can download it"));
    assert!(!page.body.contains("id=\"download\""));
    app.set_state(
        &id,
        "UPDATE images SET status = 'queued', location = NULL, size = NULL, checksum = NULL, \
         md5 = NULL, disk_format = NULL, container_format = NULL WHERE id = ?1",
    );
    let page = app.page(&alice, &path).await;
    page.assert_page(200);
    assert!(
        page.body.contains("id=\"status\">awaiting data<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("has not uploaded"));
}

#[tokio::test]
async fn the_catalogue_filters_by_each_visibility_and_shows_it() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let public = app.api_upload(ALICE, "a public", b"1", true).await;
    let shared = app.api_upload(ALICE, "a shared", b"12", false).await;
    let community = app.api_upload(ALICE, "a community", b"123", false).await;
    let private = app.api_upload(ALICE, "a private", b"1234", false).await;
    app.set_state(
        &community,
        "UPDATE images SET visibility = 'community' WHERE id = ?1",
    );
    app.set_state(
        &private,
        "UPDATE images SET visibility = 'private' WHERE id = ?1",
    );
    let all = app.page(&alice, "/ui/").await;
    assert_eq!(all.rows(), 4);
    for (word, id) in [
        ("public", &public),
        ("shared", &shared),
        ("community", &community),
        ("private", &private),
    ] {
        let page = app.page(&alice, &format!("/ui/?visibility={word}")).await;
        page.assert_page(200);
        assert_eq!(page.rows(), 1, "{word}");
        assert!(page.body.contains(id.as_str()), "{word}");
        assert!(
            page.body
                .contains(&format!("<span class=\"vis {word}\">{word}</span>")),
            "{word}: {}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!("<option value=\"{word}\" selected>")),
            "{word}"
        );
    }
}

#[tokio::test]
async fn an_unknown_visibility_is_a_400_page_naming_it() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "kept", b"1", false).await;
    let before = app.api_detail(ALICE, &id).await;
    let page = app.page(&alice, "/ui/?visibility=everyone").await;
    page.assert_page(400);
    assert!(page.body.contains("Invalid visibility"), "{}", page.body);
    assert!(page.body.contains("everyone"));
    assert_eq!(app.api_detail(ALICE, &id).await, before, "nothing changed");
}

#[tokio::test]
async fn queued_and_deactivated_images_say_so_in_words() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let queued = app.api_upload(ALICE, "waiting", b"1", false).await;
    let blocked = app.api_upload(ALICE, "blocked", b"12", false).await;
    app.set_state(
        &queued,
        "UPDATE images SET status = 'queued', location = NULL, size = NULL, checksum = NULL, \
         md5 = NULL, disk_format = NULL, container_format = NULL WHERE id = ?1",
    );
    app.set_state(
        &blocked,
        "UPDATE images SET status = 'deactivated' WHERE id = ?1",
    );
    let page = app.page(&alice, "/ui/").await;
    assert!(page.body.contains(">awaiting data</span>"), "{}", page.body);
    assert!(page.body.contains(">deactivated</span>"));
    for (status, name) in [("queued", "waiting"), ("deactivated", "blocked")] {
        let only = app.page(&alice, &format!("/ui/?status={status}")).await;
        assert_eq!(only.rows(), 1, "{status}");
        assert!(only.body.contains(name), "{status}");
    }
}

#[tokio::test]
async fn a_file_uploaded_through_the_view_downloads_back_the_same() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let page = app
        .post_multipart(
            &alice,
            "/ui/upload",
            &[
                ("csrf", &alice.csrf),
                ("name", ""),
                ("disk_format", "raw"),
                ("container_format", "bare"),
            ],
            Some(("lab.img", &data)),
            &[],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let at = page.header("location").to_string();
    let id = at.strip_prefix("/ui/images/").unwrap().to_string();
    let api = app.api_detail(ALICE, &id).await.unwrap();
    assert_eq!(api["name"], "lab.img", "the file's name when none is given");
    assert_eq!(api["disk_format"], "raw");
    assert_eq!(api["size"], data.len());
    assert_eq!(api["location"], format!("pithos://alice/images/{id}"));
    let resp = app
        .client
        .get(app.url(&format!("/ui/images/{id}/download")))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"lab.img\""),
        "{disposition}"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[..]);
    // The page's script gets the next page in a header instead of a 303.
    let scripted = app
        .post_multipart(
            &alice,
            "/ui/upload",
            &[("csrf", &alice.csrf), ("name", "by script")],
            Some(("b.img", b"bytes")),
            &[("x-plankton-upload", "1")],
        )
        .await;
    assert_eq!(scripted.status, 200);
    assert!(scripted
        .header("x-plankton-next")
        .starts_with("/ui/images/"));
    // No file: said on the upload page; nothing made.
    let empty = app
        .post_multipart(
            &alice,
            "/ui/upload",
            &[("csrf", &alice.csrf), ("name", "e")],
            Some(("e.img", b"")),
            &[],
        )
        .await;
    assert_eq!(
        (empty.status.as_u16(), empty.header("location")),
        (303, "/ui/upload")
    );
    let page = app.page(&alice, "/ui/upload").await;
    assert!(page.body.contains("empty"), "{}", page.body);
    assert_eq!(app.api_count(ALICE).await, 2);
}

#[tokio::test]
async fn an_object_in_the_store_registers_through_the_view() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let file = app.settings.store.root.join("alice/images/debian.img");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"debian bytes").unwrap();
    let page = app
        .post(
            &alice,
            "/ui/register",
            &[
                ("name", "Debian"),
                ("location", "pithos://alice/images/debian.img"),
                ("disk_format", "diskdump"),
                ("is_public", "true"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let id = page
        .header("location")
        .strip_prefix("/ui/images/")
        .unwrap()
        .to_string();
    let api = app.api_detail(ALICE, &id).await.unwrap();
    assert_eq!(
        (api["name"].as_str(), api["is_public"].as_bool()),
        (Some("Debian"), Some(true))
    );
    let missing = app
        .post(
            &alice,
            "/ui/register",
            &[("name", "x"), ("location", "pithos://alice/images/none")],
        )
        .await;
    assert_eq!(missing.header("location"), "/ui/upload");
    let page = app.page(&alice, "/ui/upload").await;
    assert!(
        page.body.contains("File not found on given location"),
        "{}",
        page.body
    );
    let theirs = app
        .post(
            &alice,
            "/ui/register",
            &[("name", "x"), ("location", "pithos://bob/images/x")],
        )
        .await;
    theirs.assert_page(403);
}

#[tokio::test]
async fn a_page_that_does_not_exist_keeps_the_sessions_chrome() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    for (path, status) in [
        ("/ui/nothing-here", 404),
        ("/ui/images/x/nothing", 404),
        ("/ui/logout", 405),
    ] {
        let page = app.page(&alice, path).await;
        page.assert_page(status);
        assert!(
            page.body.contains(r#"aria-label="Main""#),
            "{path}: {}",
            page.body
        );
        assert!(
            page.body.contains(r#"id="logout""#),
            "{path}: {}",
            page.body
        );
        assert!(
            page.body.contains(&alice.csrf),
            "{path}: the logout form works"
        );
        assert!(
            !page.body.contains("/ui/login\">Log in"),
            "{path}: {}",
            page.body
        );
    }
    // Without a session the same page offers to log in.
    let page = app.get("/ui/nothing-here", &[]).await;
    page.assert_page(404);
    assert!(page.body.contains("/ui/login\">Log in"), "{}", page.body);
    assert!(!page.body.contains(r#"id="logout""#), "{}", page.body);
}

/// Bob's view of Alice's images of every kind, and of his own: the
/// catalogue lists exactly what v1's `GET /images` lists him (own images,
/// public ones, shared ones where he is a pending or accepted member; not a
/// rejected membership, not another's community image), its filters cut
/// that list (so `community` finds only his own: another's opens by its
/// page, docs/api.md §15), and an image page opens exactly where §17.10
/// lets him read, as v1's HEAD does.
#[tokio::test]
async fn the_catalogue_lists_what_v1_lists_and_pages_open_where_v2_reads() {
    let app = WebApp::spawn().await;
    let bob = app.login(BOB.0).await;
    let mut made = Vec::new();
    for (name, owner, visibility, bob_member) in [
        ("alice public", ALICE, "public", None),
        ("alice accepted", ALICE, "shared", Some("accepted")),
        ("alice pending", ALICE, "shared", Some("pending")),
        ("alice rejected", ALICE, "shared", Some("rejected")),
        ("alice unshared", ALICE, "shared", None),
        ("alice community", ALICE, "community", None),
        ("alice private", ALICE, "private", Some("accepted")),
        ("bob private", BOB, "private", None),
        ("bob community", BOB, "community", None),
    ] {
        let id = app.api_upload(owner, name, b"data", false).await;
        let sql = format!("UPDATE images SET visibility = '{visibility}' WHERE id = ?1");
        app.set_state(&id, &sql);
        if let Some(status) = bob_member {
            app.set_state(
                &id,
                &format!(
                    "INSERT INTO image_members (image_seq, member, status, created_at, updated_at) \
                     SELECT seq, 'bob', '{status}', 0, 0 FROM images WHERE id = ?1"
                ),
            );
        }
        made.push((name, id));
    }
    let id_of = |name: &str| made.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let v1 = images::get_json(&app.client, &app.address, BOB, "/images").await;
    let mut v1_ids: Vec<String> = v1
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    v1_ids.sort();
    let listed = [
        "alice public",
        "alice accepted",
        "alice pending",
        "bob private",
        "bob community",
    ];
    let mut expected: Vec<String> = listed.iter().map(|n| id_of(n)).collect();
    expected.sort();
    assert_eq!(v1_ids, expected, "v1's list");
    let shown = |page: &Page| -> Vec<&str> {
        made.iter()
            .filter(|(_, id)| page.body.contains(&format!("/ui/images/{id}\"")))
            .map(|(n, _)| *n)
            .collect()
    };
    let all = app.page(&bob, "/ui/").await;
    all.assert_page(200);
    let mut web: Vec<&str> = shown(&all);
    web.sort();
    let mut want = listed.to_vec();
    want.sort();
    assert_eq!(web, want, "the catalogue");
    for (filter, names) in [
        ("mine", &["bob private", "bob community"][..]),
        ("shared-with-me", &["alice accepted", "alice pending"]),
        ("public", &["alice public"]),
        ("shared", &["alice accepted", "alice pending"]),
        ("private", &["bob private"]),
        ("community", &["bob community"]),
    ] {
        let page = app.page(&bob, &format!("/ui/?visibility={filter}")).await;
        page.assert_page(200);
        let mut got = shown(&page);
        got.sort();
        let mut names = names.to_vec();
        names.sort();
        assert_eq!(got, names, "{filter}");
    }
    for (name, status) in [
        ("alice public", 200),
        ("alice accepted", 200),
        ("alice pending", 200),
        ("alice rejected", 200),
        ("alice community", 200),
        ("alice unshared", 404),
        ("alice private", 404),
        ("bob private", 200),
    ] {
        let page = app.page(&bob, &format!("/ui/images/{}", id_of(name))).await;
        page.assert_page(status);
        let head = app
            .client
            .head(format!("{}/images/{}", app.address, id_of(name)))
            .header("x-auth-token", BOB.0)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status().as_u16(), status, "v1 HEAD of {name}");
        let v2 = app
            .client
            .get(format!("{}/v2/images/{}", app.address, id_of(name)))
            .header("x-auth-token", BOB.0)
            .send()
            .await
            .unwrap();
        assert_eq!(v2.status().as_u16(), status, "v2 show of {name}");
    }
}
