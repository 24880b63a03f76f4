//! The web view in a real browser (docs/api.md §15): headless Chromium,
//! driven through chromedriver, against the real binary. The stories of a
//! user (log in, filter, sort, page, open, rename, share, upload, download,
//! log out) and the hostile cases (markup in names, forms without or with
//! another session's CSRF value, an old cookie, another user's image).
//! Each saves screenshots under `target/ui-screenshots/`.

mod harness;
#[path = "../support/mod.rs"]
mod support;

use fantoccini::Locator;
use serde_json::{json, Value};

use harness::{Stage, ALICE, BOB, CAROL, ONE_AT_A_TIME};

/// Seeds Alice's catalogue: "Debian 12" and 30 numbered images of growing size.
async fn seed(stage: &Stage) -> String {
    let debian = stage
        .api_upload(
            ALICE,
            "Debian 12",
            &vec![1u8; 3 << 20],
            &[("x-image-meta-disk-format", "raw")],
        )
        .await;
    for i in 0..30 {
        let data = vec![2u8; 1000 * (i + 1)];
        let format = if i % 3 == 0 { "qcow2" } else { "diskdump" };
        stage
            .api_upload(
                ALICE,
                &format!("image {i:02}"),
                &data,
                &[("x-image-meta-disk-format", format)],
            )
            .await;
    }
    stage
        .api_upload(
            BOB,
            "Ubuntu 24.04 (public)",
            &vec![3u8; 5 << 20],
            &[("x-image-meta-is-public", "true")],
        )
        .await;
    debian
}

#[tokio::test]
async fn a_user_logs_in_filters_sorts_pages_opens_renames_and_logs_out() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(stage) = Stage::start().await else {
        return;
    };
    let debian = seed(&stage).await;
    let b = stage.browser().await;
    b.open("/ui/").await;
    assert_eq!(b.here().await, "/ui/login");
    b.screenshot("login").await;
    b.log_in(ALICE.0).await;
    assert_eq!(b.here().await, "/ui/");
    assert_eq!(b.text(".who span").await, "Alice Liddell");
    assert_eq!(b.rows().await, 25);
    b.screenshot("catalogue").await;

    // Filter: by name, then by disk format.
    b.fill("#f-name", "Debian 12").await;
    b.click("#apply").await;
    assert_eq!(b.rows().await, 1);
    assert!(
        b.here().await.contains("name=Debian+12"),
        "{}",
        b.here().await
    );
    b.open("/ui/").await;
    b.client
        .find(Locator::Css("#f-disk"))
        .await
        .unwrap()
        .select_by_value("qcow2")
        .await
        .unwrap();
    b.click("#apply").await;
    assert_eq!(b.rows().await, 10);
    b.screenshot("filtered").await;

    // Sort by name, both ways, then page on and back.
    b.open("/ui/").await;
    b.click("#sort-name").await;
    assert!(b.here().await.contains("sort_key=name&sort_dir=asc"));
    assert_eq!(b.text("tbody tr:first-child td.name").await, "Debian 12");
    b.click("#sort-name").await;
    assert_eq!(b.text("tbody tr:first-child td.name").await, "image 29");
    b.click("#next").await;
    assert_eq!(b.rows().await, 7, "32 images: 25, then 7");
    assert!(b.here().await.contains("marker="));
    assert!(!b.has("#next").await);
    b.click("#previous").await;
    assert_eq!(b.rows().await, 25);
    assert_eq!(b.text("tbody tr:first-child td.name").await, "image 29");

    // Open one and rename it; the API agrees.
    b.open("/ui/?name=Debian+12").await;
    b.click("td.name a").await;
    assert_eq!(b.here().await, format!("/ui/images/{debian}"));
    assert_eq!(b.text("#image-name").await, "Debian 12");
    b.screenshot("image").await;
    b.fill("#name", "Debian 12.5 «bookworm»").await;
    b.click("#rename").await;
    assert_eq!(b.text("#image-name").await, "Debian 12.5 «bookworm»");
    assert!(b.text("#notice").await.contains("Renamed"));
    let api = stage.api_detail(ALICE, &debian).await.unwrap();
    assert_eq!(api["name"], "Debian 12.5 «bookworm»");

    // Log out; the old cookie gets the login page.
    let old = b.client.get_named_cookie("plankton_session").await.unwrap();
    assert!(old.http_only().unwrap_or(false));
    b.click("#logout").await;
    assert_eq!(b.here().await, "/ui/login");
    b.client.add_cookie(old).await.unwrap();
    b.open("/ui/").await;
    assert_eq!(b.here().await, "/ui/login");
    assert!(b.has("#token").await);
    b.close().await;
    stage.assert_log_has_no_token();
}

#[tokio::test]
async fn an_owner_shares_an_image_and_the_members_view_lists_it() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(stage) = Stage::start().await else {
        return;
    };
    let id = stage.api_upload(ALICE, "Lab base image", b"lab", &[]).await;
    let alice = stage.browser().await;
    alice.log_in(ALICE.0).await;
    alice.open(&format!("/ui/images/{id}")).await;
    alice.fill("#member", "bob").await;
    alice.click("#add-member").await;
    assert!(alice.text("#members").await.contains("Bob Dylan"));
    alice.fill("#prop-key", "OS").await;
    alice.fill("#prop-value", "debian").await;
    alice.click("#set-property").await;
    assert!(alice.text("#properties").await.contains("os = debian"));
    alice.screenshot("image-owner").await;
    let bob = stage.browser().await;
    bob.log_in(BOB.0).await;
    bob.open("/ui/?visibility=shared").await;
    assert_eq!(bob.rows().await, 1);
    assert_eq!(bob.text("td.name").await, "Lab base image");
    assert!(bob.text("tbody").await.contains("Alice Liddell"));
    bob.screenshot("shared-with-bob").await;
    bob.click("td.name a").await;
    assert!(!bob.has("#rename").await, "a member gets no owner forms");
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn an_owner_sets_the_visibility_and_others_see_what_it_allows() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(stage) = Stage::start().await else {
        return;
    };
    let id = stage.api_upload(ALICE, "Lab image", b"lab", &[]).await;
    let alice = stage.browser().await;
    alice.log_in(ALICE.0).await;
    let bob = stage.browser().await;
    bob.log_in(BOB.0).await;
    let page = format!("/ui/images/{id}");
    let set = |word: &'static str| {
        let (alice, page) = (&alice, page.clone());
        async move {
            alice.open(&page).await;
            alice.choose("#set-visibility", word).await;
            alice.click("#change-visibility").await;
            assert_eq!(alice.text("#visibility").await, word);
        }
    };
    set("public").await;
    alice.screenshot("visibility-public").await;
    bob.open("/ui/?visibility=public").await;
    assert_eq!(bob.rows().await, 1);
    assert!(bob.text("tbody").await.contains("public"));
    set("community").await;
    bob.open("/ui/?visibility=public").await;
    assert_eq!(bob.rows().await, 0, "no longer public");
    bob.open(&page).await;
    assert_eq!(bob.text("#visibility").await, "community");
    assert!(
        !bob.has("#change-visibility").await,
        "only the owner chooses"
    );
    set("private").await;
    alice.open("/ui/?visibility=private").await;
    assert_eq!(alice.rows().await, 1);
    alice.screenshot("visibility-private").await;
    bob.open(&page).await;
    assert!(
        bob.text("h1").await.contains("404"),
        "a private image is not bob's to see"
    );
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_file_uploaded_with_the_progress_bar_downloads_back_the_same() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(stage) = Stage::start().await else {
        return;
    };
    let b = stage.browser().await;
    b.log_in(ALICE.0).await;
    b.open("/ui/").await;
    assert!(b.text("#empty").await.contains("No images yet"));
    b.screenshot("empty").await;
    b.click("#empty a.button").await;
    assert_eq!(b.here().await, "/ui/upload");
    b.screenshot("upload").await;
    let content: String = (0..400_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let file = stage.dir.path().join("lab.img");
    std::fs::write(&file, &content).unwrap();
    b.fill("#up-name", "Uploaded lab image").await;
    b.client
        .find(Locator::Css("#up-disk"))
        .await
        .unwrap()
        .select_by_value("raw")
        .await
        .unwrap();
    b.client
        .find(Locator::Css("#up-file"))
        .await
        .unwrap()
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    // The script shows the bar; the tab's session storage outlives the page.
    b.client
        .execute(
            "const bar = document.getElementById('upload-progress');
             new MutationObserver(() => { if (!bar.hidden) sessionStorage.setItem('bar', bar.max); })
               .observe(bar, {attributes: true});",
            vec![],
        )
        .await
        .unwrap();
    b.click("#upload").await;
    let here = b.here().await;
    let id = here
        .strip_prefix("/ui/images/")
        .expect("the new image's page")
        .to_string();
    assert_eq!(b.text("#image-name").await, "Uploaded lab image");
    let bar = b
        .client
        .execute("return sessionStorage.getItem('bar')", vec![])
        .await
        .unwrap();
    assert!(bar.is_string(), "the progress bar was shown: {bar}");
    let api = stage.api_detail(ALICE, &id).await.unwrap();
    assert_eq!(
        (api["size"].as_u64(), api["disk_format"].as_str()),
        (Some(400_000), Some("raw"))
    );
    b.screenshot("uploaded").await;
    let href = b
        .client
        .find(Locator::Css("#download"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let fetched = b
        .client
        .execute_async(
            "const [url, done] = arguments;
             fetch(url).then(r => r.text().then(t => done([r.status, r.headers.get('content-disposition'), t])))
               .catch(e => done(['failed', String(e), '']));",
            vec![json!(href)],
        )
        .await
        .unwrap();
    assert_eq!(fetched[0], 200, "{}", fetched[1]);
    assert!(fetched[1].as_str().unwrap().starts_with("attachment"));
    assert_eq!(fetched[2].as_str().unwrap(), content, "the same bytes back");
    b.close().await;
    stage.assert_log_has_no_token();
}

#[tokio::test]
async fn hostile_names_csrf_less_forms_and_other_users_ids_do_no_harm() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(stage) = Stage::start().await else {
        return;
    };
    let evil = "<script>alert(1)</script>";
    let id = stage.api_upload(ALICE, evil, b"evil", &[]).await;
    let private = stage
        .api_upload(CAROL, "carol's secret", b"secret", &[])
        .await;
    let b = stage.browser().await;
    b.log_in(ALICE.0).await;
    b.open("/ui/").await;
    assert_eq!(b.text("td.name").await, evil, "the name shows as text");
    assert!(b.client.get_alert_text().await.is_err(), "no alert opened");
    b.open(&format!("/ui/images/{id}")).await;
    assert_eq!(b.text("#image-name").await, evil);
    assert!(b.client.get_alert_text().await.is_err(), "no alert opened");
    let scripts = b
        .client
        .execute(
            "return document.querySelectorAll('main script').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(scripts, json!(0));
    b.screenshot("escaped").await;

    // The rename form without its csrf field: 403, nothing changed.
    b.client
        .execute(
            "document.querySelector('form[action$=\"/name\"] input[name=csrf]').remove()",
            vec![],
        )
        .await
        .unwrap();
    b.fill("#name", "renamed without csrf").await;
    b.click("#rename").await;
    assert!(
        b.text("h1").await.starts_with("403"),
        "{}",
        b.text("h1").await
    );
    b.screenshot("forbidden").await;
    // ... and with another session's: 403 too.
    let bobs = bob_csrf(&stage).await;
    b.open(&format!("/ui/images/{id}")).await;
    b.client
        .execute(
            "document.querySelector('form[action$=\"/name\"] input[name=csrf]').value = arguments[0]",
            vec![Value::String(bobs)],
        )
        .await
        .unwrap();
    b.fill("#name", "renamed with bob's csrf").await;
    b.click("#rename").await;
    assert!(b.text("h1").await.starts_with("403"));
    assert_eq!(stage.api_detail(ALICE, &id).await.unwrap()["name"], evil);

    // Another user's private image: a 404 page that names nothing.
    b.open(&format!("/ui/images/{private}")).await;
    assert!(b.text("h1").await.starts_with("404"));
    assert!(!b.client.source().await.unwrap().contains("secret"));
    b.screenshot("not-found").await;
    b.close().await;
}

/// Bob's session's CSRF value, from a login of his own over HTTP.
async fn bob_csrf(stage: &Stage) -> String {
    let form = stage
        .http
        .get(format!("{}/ui/login", stage.base))
        .send()
        .await
        .unwrap();
    let cookie = form.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = cookie.split('=').nth(1).unwrap().to_string();
    let login = stage
        .http
        .post(format!("{}/ui/login", stage.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&token={}", BOB.0))
        .send()
        .await
        .unwrap();
    let session = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = stage
        .http
        .get(format!("{}/ui/", stage.base))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[at..at + 64].to_string()
}

#[tokio::test]
async fn the_pages_fit_a_phone() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(stage) = Stage::start().await else {
        return;
    };
    let debian = seed(&stage).await;
    let b = stage.browser().await;
    b.log_in(ALICE.0).await;
    b.client.set_window_size(390, 844).await.unwrap();
    let fits = "return document.documentElement.scrollWidth <= window.innerWidth";
    for (path, shot) in [
        ("/ui/".to_string(), "catalogue-phone"),
        (format!("/ui/images/{debian}"), "image-phone"),
        ("/ui/upload".into(), "upload-phone"),
    ] {
        b.open(&path).await;
        assert_eq!(
            b.client.execute(fits, vec![]).await.unwrap(),
            json!(true),
            "{path} is wider than a phone"
        );
        b.screenshot(shot).await;
    }
    b.close().await;
}
