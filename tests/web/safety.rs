//! Sessions and safety (docs/api.md §15): the headers of every answer, the
//! cookie's attributes, login with good and bad tokens, CSRF refusals that
//! change nothing, expiry and logout, escaping, and the error pages.

use reqwest::Method;

use crate::helpers::{WebApp, ALICE, BOB, BROWSER_ACCEPT, CAROL};

fn assert_guarded(page: &crate::helpers::Page, what: &str) {
    let csp = page.header("content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(page.header("referrer-policy"), "same-origin", "{what}");
}

#[tokio::test]
async fn every_answer_of_the_view_carries_the_security_headers() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    let list = app.page(&alice, "/ui/").await;
    let style = list
        .body
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let style = style
        .strip_prefix(&app.settings.base_path)
        .unwrap()
        .to_string();
    let mut pages = Vec::new();
    for path in [
        "/ui/".to_string(),
        format!("/ui/images/{id}"),
        format!("/ui/images/{id}/unregister"),
        format!("/ui/images/{id}/download"),
        "/ui/upload".into(),
        "/ui/no/such/page".into(),
        format!("/ui/images/{}", uuid_like()),
        style,
        "/ui/login".into(),
        "/ui".into(),
    ] {
        pages.push((path.clone(), app.page(&alice, &path).await));
    }
    pages.push(("no session".into(), app.get("/ui/", &[]).await));
    pages.push((
        "bad csrf".into(),
        app.post_fields(&alice, &format!("/ui/images/{id}/name"), &[("name", "x")])
            .await,
    ));
    pages.push((
        "405".into(),
        app.send(Method::DELETE, "/ui/", &[], Vec::new()).await,
    ));
    pages.push(("bad login".into(), app.post_login("nope").await));
    for (what, page) in &pages {
        assert_guarded(page, what);
    }
}

fn uuid_like() -> &'static str {
    "0b5f8a00-0000-4000-8000-000000000000"
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_scoped_to_the_view() {
    let app = WebApp::spawn_with(|s| s.base_path = "/image".into()).await;
    let page = app.post_login(ALICE.0).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/image/ui/");
    let cookie = page.set_cookie("plankton_session").unwrap();
    for part in [
        "; HttpOnly",
        "; SameSite=Strict",
        "; Path=/image/ui;",
        "; Max-Age=28800",
    ] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    // Behind a proxy that terminates TLS, the cookie is Secure.
    let (_, login_cookie, csrf) = app.login_form().await;
    let body = format!("csrf={csrf}&token={}", ALICE.0);
    let page = app
        .send(
            Method::POST,
            "/ui/login",
            &[
                ("cookie", &login_cookie),
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-forwarded-proto", "https"),
            ],
            body.into_bytes(),
        )
        .await;
    assert!(page
        .set_cookie("plankton_session")
        .unwrap()
        .ends_with("; Secure"));
}

#[tokio::test]
async fn a_bad_token_gets_the_form_again_and_no_cookie() {
    let app = WebApp::spawn().await;
    let page = app.post_login("not-a-token").await;
    page.assert_page(401);
    assert!(page.body.contains("name=\"token\""), "{}", page.body);
    assert!(page.body.contains("not valid"), "{}", page.body);
    assert_eq!(page.set_cookie("plankton_session"), None);
    assert_eq!(page.header("www-authenticate"), "");
    let empty = app.post_login("").await;
    empty.assert_page(401);
    assert_eq!(empty.set_cookie("plankton_session"), None);
}

#[tokio::test]
async fn a_login_form_without_its_csrf_starts_no_session() {
    let app = WebApp::spawn().await;
    let (_, cookie, _) = app.login_form().await;
    for (headers, body) in [
        (vec![], format!("token={}", ALICE.0)),
        (
            vec![("cookie", cookie.as_str())],
            format!("token={}", ALICE.0),
        ),
        (
            vec![("cookie", cookie.as_str())],
            format!("token={}&csrf={}", ALICE.0, "0".repeat(64)),
        ),
    ] {
        let mut h = headers.clone();
        h.push(("content-type", "application/x-www-form-urlencoded"));
        let page = app
            .send(Method::POST, "/ui/login", &h, body.into_bytes())
            .await;
        page.assert_page(403);
        assert_eq!(page.set_cookie("plankton_session"), None);
    }
}

#[tokio::test]
async fn the_token_is_never_in_a_cookie_a_page_or_a_url() {
    let app = WebApp::spawn().await;
    let login = app.post_login(ALICE.0).await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    let mut seen = vec![login];
    for path in [
        "/ui/".to_string(),
        format!("/ui/images/{id}"),
        "/ui/upload".into(),
    ] {
        seen.push(app.page(&alice, &path).await);
    }
    seen.push(
        app.post(&alice, &format!("/ui/images/{id}/name"), &[("name", "x")])
            .await,
    );
    for page in &seen {
        assert!(!page.body.contains(ALICE.0), "{}", page.body);
        for (name, value) in &page.headers {
            assert!(
                !value.to_str().unwrap().contains(ALICE.0),
                "{name}: {value:?}"
            );
        }
    }
    assert!(!alice.cookie.contains(ALICE.0));
}

#[tokio::test]
async fn without_a_session_every_page_leads_to_the_login_and_nothing_changes() {
    let app = WebApp::spawn().await;
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    for (path, next) in [
        ("/ui/".to_string(), None),
        (
            format!("/ui/images/{id}"),
            Some(format!("%2Fui%2Fimages%2F{id}")),
        ),
        ("/ui/upload".into(), Some("%2Fui%2Fupload".to_string())),
        (
            "/ui/?sort_key=name".into(),
            Some("%2Fui%2F%3Fsort_key%3Dname".to_string()),
        ),
    ] {
        let page = app.get(&path, &[]).await;
        assert_eq!(page.status, 303, "{path}");
        let expected = match next {
            None => "/ui/login".to_string(),
            Some(n) => format!("/ui/login?next={n}"),
        };
        assert_eq!(page.header("location"), expected, "{path}");
    }
    let stale = crate::helpers::Session {
        cookie: format!("plankton_session={}", "a".repeat(64)),
        csrf: "b".repeat(64),
    };
    let page = app
        .post(
            &stale,
            &format!("/ui/images/{id}/name"),
            &[("name", "hijacked")],
        )
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/ui/login");
    assert!(page
        .set_cookie("plankton_session")
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(app.api_detail(ALICE, &id).await.unwrap()["name"], "debian");
    // After logging in, the login leads back to where the user was going.
    let (_, cookie, csrf) = app.login_form().await;
    let body = serde_urlencoded::to_string([
        ("csrf", csrf.as_str()),
        ("token", ALICE.0),
        ("next", &format!("/ui/images/{id}")),
    ])
    .unwrap();
    let page = app
        .send(
            Method::POST,
            "/ui/login",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body.into_bytes(),
        )
        .await;
    assert_eq!(page.header("location"), format!("/ui/images/{id}"));
}

#[tokio::test]
async fn a_form_without_the_csrf_field_or_with_another_sessions_changes_nothing() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let other = app.login(ALICE.0).await;
    let bob = app.login(BOB.0).await;
    assert_ne!(alice.csrf, other.csrf);
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/ui/images/{id}/name"), vec![("name", "changed")]),
        (
            format!("/ui/images/{id}/public"),
            vec![("is_public", "true")],
        ),
        (
            format!("/ui/images/{id}/visibility"),
            vec![("visibility", "public")],
        ),
        (
            format!("/ui/images/{id}/properties"),
            vec![("key", "os"), ("value", "x")],
        ),
        (
            format!("/ui/images/{id}/members"),
            vec![("member", "carol")],
        ),
        (format!("/ui/images/{id}/unregister"), vec![]),
        (
            "/ui/register".into(),
            vec![("name", "n"), ("location", "pithos://alice/images/x")],
        ),
        ("/ui/logout".into(), vec![]),
    ];
    for (path, fields) in &forms {
        for csrf in [
            None,
            Some(other.csrf.as_str()),
            Some(bob.csrf.as_str()),
            Some(""),
        ] {
            let mut all = fields.clone();
            if let Some(c) = csrf {
                all.push(("csrf", c));
            }
            let page = app.post_fields(&alice, path, &all).await;
            page.assert_page(403);
            assert!(page.body.contains("csrf"), "{}", page.body);
        }
    }
    let upload = app
        .post_multipart(
            &alice,
            "/ui/upload",
            &[("name", "up")],
            Some(("a.img", b"bytes")),
            &[],
        )
        .await;
    upload.assert_page(403);
    let detail = app.api_detail(ALICE, &id).await.expect("still there");
    assert_eq!(detail["name"], "debian");
    assert_eq!(detail["is_public"], false);
    assert_eq!(detail["properties"], serde_json::json!({}));
    assert!(app.api_members(ALICE, &id).await.is_empty());
    assert_eq!(app.api_count(ALICE).await, 1);
    // The session survived every refused logout.
    app.page(&alice, "/ui/").await.assert_page(200);
}

#[tokio::test]
async fn a_browser_at_the_front_door_is_sent_to_the_view_and_api_clients_are_not() {
    let app = WebApp::spawn_with(|s| s.base_path = "/image".into()).await;
    for path in ["", "/"] {
        let page = app.get(path, &[("accept", BROWSER_ACCEPT)]).await;
        assert_eq!(page.status, 303, "{path:?}");
        assert_eq!(page.header("location"), "/image/ui/");
    }
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/json, text/html"),
    ] {
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("accept", *a)).collect();
        let page = app.get("/", &headers).await;
        assert_eq!(page.status, 200, "{accept:?}");
        assert!(page.body.contains("\"versions\""), "{}", page.body);
    }
    // Only the front door: the versions document elsewhere stays JSON.
    let page = app.get("/v1.0/", &[("accept", BROWSER_ACCEPT)]).await;
    assert_eq!(page.status, 200);
    let page = app.get("/ui", &[]).await;
    assert_eq!(
        (page.status.as_u16(), page.header("location")),
        (303, "/image/ui/")
    );
}

#[tokio::test]
async fn sessions_expire_after_the_configured_time() {
    let app = WebApp::spawn_with(|s| s.ui.session_ttl = 1).await;
    let alice = app.login(ALICE.0).await;
    app.page(&alice, "/ui/").await.assert_page(200);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let page = app.page(&alice, "/ui/").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/ui/login");
}

#[tokio::test]
async fn a_restart_keeps_people_logged_in() {
    let app = WebApp::spawn().await;
    let s = app.login(ALICE.0).await;
    // The catalogue keeps the session, its token sealed: the file (a
    // backup, a copy) does not give the token away.
    let db = rusqlite::Connection::open(app.settings.database.to_string()).unwrap();
    let kept: Vec<String> = db
        .prepare("SELECT token || user_id || csrf FROM web_sessions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(!kept[0].contains(ALICE.0), "{kept:?}");
    assert!(!kept[0].contains(&hex::encode(ALICE.0)), "{kept:?}");
    let again = app.restart().await;
    let page = again.page(&s, "/ui/").await;
    page.assert_page(200);
    assert_eq!(page.field("csrf").as_deref(), Some(s.csrf.as_str()));
    let out = again.post(&s, "/ui/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(again.page(&s, "/ui/").await.status, 303, "logged out");
}

#[tokio::test]
async fn logout_ends_the_session_and_its_old_cookie_gets_the_login_page() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let page = app.post(&alice, "/ui/logout", &[]).await;
    assert_eq!(
        (page.status.as_u16(), page.header("location")),
        (303, "/ui/login")
    );
    assert!(page
        .set_cookie("plankton_session")
        .unwrap()
        .contains("Max-Age=0"));
    let again = app.page(&alice, "/ui/").await;
    assert_eq!(
        (again.status.as_u16(), again.header("location")),
        (303, "/ui/login")
    );
    let login = app.page(&alice, "/ui/login").await;
    login.assert_page(200);
    assert!(login.body.contains("name=\"token\""));
}

#[tokio::test]
async fn a_token_taken_out_of_the_token_file_ends_its_sessions() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    std::fs::write(
        &app.settings.identity.token_file,
        format!("{} {}\n", BOB.0, BOB.1),
    )
    .unwrap();
    // The server takes the file's changes within a second.
    let mut page = app.page(&alice, "/ui/").await;
    for _ in 0..30 {
        if page.status == 303 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        page = app.page(&alice, "/ui/").await;
    }
    assert_eq!(
        (page.status.as_u16(), page.header("location")),
        (303, "/ui/login")
    );
}

#[tokio::test]
async fn names_and_properties_are_shown_as_text_never_as_markup() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let evil = "<script>alert(1)</script>";
    let id = app.api_upload(ALICE, evil, b"data", false).await;
    let attr = "\"><img src=x onerror=alert(2)>";
    let page = app
        .post(
            &alice,
            &format!("/ui/images/{id}/properties"),
            &[("key", "note"), ("value", attr)],
        )
        .await;
    assert_eq!(page.status, 303);
    for path in [
        "/ui/".to_string(),
        format!("/ui/images/{id}"),
        format!("/ui/images/{id}/unregister"),
    ] {
        let page = app.page(&alice, &path).await;
        page.assert_page(200);
        assert!(!page.body.contains(evil), "{path}: {}", page.body);
        assert!(!page.body.contains("<img src=x"), "{path}");
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn another_users_private_image_is_a_404_page() {
    let app = WebApp::spawn().await;
    let carol = app.login(CAROL.0).await;
    let private = app.api_upload(ALICE, "alice's", b"data", false).await;
    for path in [
        format!("/ui/images/{private}"),
        format!("/ui/images/{private}/download"),
        format!("/ui/images/{private}/unregister"),
        "/ui/images/not-an-id".into(),
        "/ui/nothing-here".into(),
    ] {
        let page = app.page(&carol, &path).await;
        page.assert_page(404);
        assert!(page.body.contains("404"), "{}", page.body);
        assert!(!page.body.contains("alice&#39;s") && !page.body.contains("alice's"));
    }
    let page = app
        .post(
            &carol,
            &format!("/ui/images/{private}/name"),
            &[("name", "mine")],
        )
        .await;
    page.assert_page(404);
    let wrong = app.send(Method::PUT, "/ui/upload", &[], Vec::new()).await;
    wrong.assert_page(405);
    assert_eq!(wrong.header("allow"), "GET, HEAD, POST");
}

#[tokio::test]
async fn a_member_may_look_but_not_change() {
    let app = WebApp::spawn().await;
    let bob = app.login(BOB.0).await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "shared", b"data", false).await;
    app.post(
        &alice,
        &format!("/ui/images/{id}/members"),
        &[("member", "bob")],
    )
    .await;
    let page = app.page(&bob, &format!("/ui/images/{id}")).await;
    page.assert_page(200);
    assert!(
        !page.body.contains("id=\"rename\""),
        "no owner forms for a member"
    );
    let refused = app
        .post(&bob, &format!("/ui/images/{id}/name"), &[("name", "bob's")])
        .await;
    refused.assert_page(403);
    app.page(&bob, &format!("/ui/images/{id}/unregister"))
        .await
        .assert_page(403);
    assert_eq!(app.api_detail(ALICE, &id).await.unwrap()["name"], "shared");
    assert!(!page.body.contains("id=\"change-visibility\""));
    let refused = app
        .post(
            &bob,
            &format!("/ui/images/{id}/visibility"),
            &[("visibility", "public")],
        )
        .await;
    refused.assert_page(403);
    let page = app.page(&alice, &format!("/ui/images/{id}")).await;
    assert!(page.body.contains("id=\"visibility\">shared<"), "unchanged");
}

#[tokio::test]
async fn tags_are_shown_as_text_never_as_markup() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "tagged", b"data", false).await;
    app.set_state(
        &id,
        "INSERT INTO image_tags (image_seq, tag) \
         SELECT seq, '<script>alert(3)</script>' FROM images WHERE id = ?1",
    );
    let page = app.page(&alice, &format!("/ui/images/{id}")).await;
    page.assert_page(200);
    assert!(!page.body.contains("<script>alert(3)"), "{}", page.body);
    assert!(page
        .body
        .contains("<li>&#60;script&#62;alert(3)&#60;/script&#62;</li>"));
}

#[tokio::test]
async fn static_files_are_kept_a_year_and_revalidate_by_etag() {
    let app = WebApp::spawn().await;
    let login = app.get("/ui/login", &[]).await;
    for ext in ["css", "svg"] {
        let marker = format!(".{ext}\"");
        let end = login.body.find(&marker).unwrap() + ext.len() + 1;
        let start = login.body[..end].rfind("/ui/static/").unwrap();
        let path = &login.body[start..end];
        let page = app.get(path, &[]).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(
            page.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        let etag = page.header("etag").to_string();
        let again = app.get(path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, 304);
    }
    let gone = app.get("/ui/static/style.000000000000.css", &[]).await;
    gone.assert_page(404);
}

#[tokio::test]
async fn control_characters_in_the_owners_forms_are_refused_on_the_page_and_change_nothing() {
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    let before = app.api_detail(ALICE, &id).await;
    let page_path = format!("/ui/images/{id}");
    for c in [
        '\0', '\u{7}', '\t', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}',
    ] {
        let s = format!("a{c}b");
        let mut forms = vec![
            ("name", vec![("name", s.as_str())], "Invalid name"),
            (
                "properties",
                vec![("key", s.as_str()), ("value", "v")],
                "Invalid property key",
            ),
            ("members", vec![("member", s.as_str())], "Invalid member id"),
        ];
        if c != '\t' {
            let fields = vec![("key", "note"), ("value", s.as_str())];
            forms.push(("properties", fields, "Invalid value of property"));
        }
        for (form, fields, said) in forms {
            let done = app
                .post(&alice, &format!("{page_path}/{form}"), &fields)
                .await;
            assert_eq!(done.status, 303, "{form} {c:?}: {}", done.body);
            let page = app.page(&alice, &page_path).await;
            assert!(page.body.contains(said), "{form} {c:?}: {}", page.body);
            assert!(
                !page.body.contains(c),
                "{form} {c:?}: the character is not echoed"
            );
        }
        let upload = app
            .post_multipart(
                &alice,
                "/ui/upload",
                &[("csrf", &alice.csrf), ("name", &s)],
                Some(("x.img", b"data")),
                &[],
            )
            .await;
        assert_eq!(upload.status, 303, "upload {c:?}: {}", upload.body);
        assert_eq!(app.api_detail(ALICE, &id).await, before, "{c:?}");
        assert_eq!(app.api_count(ALICE).await, 1, "upload {c:?}");
    }
    // A file named with an escape by hand is not registered through the form.
    let file = app.settings.store.root.join("alice/images/a\u{1b}b.img");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"data").unwrap();
    let fields = [
        ("name", "n"),
        ("location", "pithos://alice/images/a%1Bb.img"),
    ];
    let page = app.post(&alice, "/ui/register", &fields).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let form = app.page(&alice, page.header("location")).await;
    assert!(form.body.contains("Invalid location"), "{}", form.body);
    assert_eq!(app.api_count(ALICE).await, 1);
    // Tab and line feed are free text in a value.
    let fields = [("key", "note"), ("value", "one\ttwo\nthree")];
    let done = app
        .post(&alice, &format!("{page_path}/properties"), &fields)
        .await;
    assert_eq!(done.status, 303);
    let after = app.api_detail(ALICE, &id).await.unwrap();
    assert_eq!(after["properties"]["note"], "one\ttwo\nthree");
}

/// Logs in with `token` from the client address `ip` (any 127.0.0.x works
/// on Linux), as a browser there would: the form, then its post.
async fn login_from(app: &WebApp, ip: &str, token: &str) -> crate::helpers::Page {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let page = |resp: reqwest::Response| async {
        crate::helpers::Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    };
    let form = page(client.get(app.url("/ui/login")).send().await.unwrap()).await;
    let cookie = form.set_cookie("plankton_login").unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let csrf = form.field("csrf").unwrap();
    let body = serde_urlencoded::to_string([("csrf", csrf.as_str()), ("token", token)]).unwrap();
    let resp = client
        .post(app.url("/ui/login"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    page(resp).await
}

/// A session's cookie out of a good login's answer.
fn session_of(page: &crate::helpers::Page) -> crate::helpers::Session {
    assert_eq!(page.status, 303, "{}", page.body);
    let set = page.set_cookie("plankton_session").expect("a session");
    crate::helpers::Session {
        cookie: set.split(';').next().unwrap().to_string(),
        csrf: String::new(),
    }
}

#[tokio::test]
async fn a_users_login_flood_ends_only_their_own_oldest_sessions() {
    let app = WebApp::spawn_with(|s| {
        s.ui.max_sessions_per_user = 3;
        s.ui.logins_per_minute = 1000;
    })
    .await;
    let bob = app.login(BOB.0).await;
    let mut alice = Vec::new();
    for n in 0..20 {
        let ip = format!("127.0.0.{}", 2 + n % 5);
        alice.push(session_of(&login_from(&app, &ip, ALICE.0).await));
    }
    for (n, s) in alice.iter().enumerate() {
        let page = app.page(s, "/ui/").await;
        let live = page.status == 200;
        assert_eq!(live, n >= 17, "alice's session {n}: {}", page.status);
    }
    app.page(&bob, "/ui/").await.assert_page(200);
}

#[tokio::test]
async fn logins_too_fast_for_one_user_or_one_address_are_429_and_start_nothing() {
    let app = WebApp::spawn_with(|s| s.ui.logins_per_minute = 3).await;
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        session_of(&login_from(&app, ip, ALICE.0).await);
    }
    // Alice's fourth login within the minute, from yet another address.
    let page = login_from(&app, "127.0.0.5", ALICE.0).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.body.contains("Too many logins"), "{}", page.body);
    let wait: u64 = page.header("retry-after").parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    assert_eq!(page.set_cookie("plankton_session"), None);
    // Three logins of others from one address: the address's count.
    for user in [BOB, CAROL, BOB] {
        session_of(&login_from(&app, "127.0.0.6", user.0).await);
    }
    let page = login_from(&app, "127.0.0.6", CAROL.0).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert_eq!(page.set_cookie("plankton_session"), None);
    // Carol from elsewhere is not held back by that address.
    session_of(&login_from(&app, "127.0.0.7", CAROL.0).await);
}
