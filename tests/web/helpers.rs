//! The real server on port 0 with a temporary directory (`tests/support`
//! spawns it, as for `tests/api`), and a browser's part played by hand: cookies kept per
//! session, form fields posted with the session's `csrf`, links read out of
//! the pages.

use actix_web::dev::ServerHandle;
use plankton::config::Settings;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::{self, images};

/// Users of the token file: (token, user id); Alice has a display name.
pub use crate::support::users::{ALICE, BOB, CAROL};

/// What a browser asks for.
pub const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

pub struct WebApp {
    /// `http://127.0.0.1:<port>` and the base path.
    pub address: String,
    pub client: reqwest::Client,
    /// Holds the database, token file and store root until the app goes.
    _dir: TempDir,
    pub settings: Settings,
    handle: ServerHandle,
}

impl Drop for WebApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// A response read whole.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    async fn of(resp: Response) -> Page {
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    /// The `Set-Cookie` of cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The `href` of the link with this `id`, unescaped.
    pub fn link(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!("\" id=\"{id}\""))?;
        let start = self.body[..at].rfind("href=\"")? + 6;
        Some(unescape(&self.body[start..at]))
    }

    /// The value of the (first) hidden field `name`.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// How many images the catalogue's table shows.
    pub fn rows(&self) -> usize {
        self.body.matches("<td class=\"name\">").count()
    }

    pub fn assert_page(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert!(
            self.header("content-type").starts_with("text/html"),
            "{:?}",
            self.headers
        );
    }
}

/// Undoes the HTML escaping of an attribute value.
pub fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
}

/// A logged-in browser: its session cookie and the session's CSRF value.
#[derive(Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl WebApp {
    pub async fn spawn() -> WebApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> WebApp {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = support::app::settings(dir.path());
        tweak(&mut settings);
        let settings = settings.validated().unwrap();
        let running = support::app::start(&settings);
        WebApp {
            address: running.address,
            client: support::app::client(),
            _dir: dir,
            settings,
            handle: running.handle,
        }
    }

    /// The same app stopped and started again on its files (database,
    /// token file, store root), at a new port.
    pub async fn restart(mut self) -> WebApp {
        self.handle.stop(true).await;
        // The catalogue's lock goes when the stopped server's task ends.
        let app = loop {
            match plankton::startup::Application::build(self.settings.clone()) {
                Ok(app) => break app,
                Err(e) if e.to_string().contains("in use") => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        };
        let address = format!("http://127.0.0.1:{}{}", app.port(), self.settings.base_path);
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        WebApp {
            address,
            client: support::app::client(),
            _dir: dir,
            settings: self.settings.clone(),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request with the given headers and body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Page {
        let mut req = self.client.request(method, self.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Page::of(req.send().await.unwrap()).await
    }

    /// A GET with the given headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        self.send(Method::GET, path, headers, Vec::new()).await
    }

    /// The login form: its page, with the cookie its `csrf` is checked against.
    pub async fn login_form(&self) -> (Page, String, String) {
        let page = self.get("/ui/login", &[]).await;
        page.assert_page(200);
        let cookie = page.set_cookie("plankton_login").expect("login cookie");
        let value = cookie.split(';').next().unwrap().to_string();
        let csrf = page.field("csrf").expect("csrf field");
        (page, value, csrf)
    }

    /// Posts the login form with `token`.
    pub async fn post_login(&self, token: &str) -> Page {
        let (_, cookie, csrf) = self.login_form().await;
        let body =
            serde_urlencoded::to_string([("csrf", csrf.as_str()), ("token", token)]).unwrap();
        self.send(
            Method::POST,
            "/ui/login",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body.into_bytes(),
        )
        .await
    }

    /// Logs in with `token`: the session cookie and its CSRF value.
    pub async fn login(&self, token: &str) -> Session {
        let page = self.post_login(token).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let set = page.set_cookie("plankton_session").expect("session cookie");
        let cookie = set.split(';').next().unwrap().to_string();
        let list = self.get("/ui/", &[("cookie", &cookie)]).await;
        list.assert_page(200);
        let csrf = list.field("csrf").expect("csrf on the page");
        Session { cookie, csrf }
    }

    /// A GET as `session`.
    pub async fn page(&self, s: &Session, path: &str) -> Page {
        self.get(path, &[("cookie", &s.cookie)]).await
    }

    /// Posts a form as `session`, with its `csrf` field.
    pub async fn post(&self, s: &Session, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", s.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_fields(s, path, &all).await
    }

    /// Posts exactly these fields as `session` (no `csrf` added).
    pub async fn post_fields(&self, s: &Session, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(
            Method::POST,
            path,
            &[
                ("cookie", &s.cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body.into_bytes(),
        )
        .await
    }

    /// Posts a multipart form as `session`: text fields, then a file.
    pub async fn post_multipart(
        &self,
        s: &Session,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
        extra: &[(&str, &str)],
    ) -> Page {
        let boundary = "----plankton-test-boundary-7d2f";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, data)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        let mut headers = vec![("cookie", s.cookie.as_str()), ("content-type", ct.as_str())];
        headers.extend_from_slice(extra);
        self.send(Method::POST, path, &headers, body).await
    }

    /// Uploads an image through the API as `user`; its id.
    pub async fn api_upload(
        &self,
        user: (&str, &str),
        name: &str,
        data: &[u8],
        public: bool,
    ) -> String {
        let public = if public { "true" } else { "false" };
        let headers = [("x-image-meta-is-public", public)];
        images::upload(&self.client, &self.address, user, name, data, &headers).await
    }

    /// `GET /images/detail` item of `id` as `user` sees it, if listed.
    /// Runs `sql` (with `?1` = the image id) on the catalogue directly: the
    /// states that only v2 makes (community, private, queued, deactivated,
    /// tags) have no v1 way in.
    pub fn set_state(&self, id: &str, sql: &str) {
        let conn = rusqlite::Connection::open(self.settings.database.file().unwrap()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        assert_eq!(conn.execute(sql, [id]).unwrap(), 1, "{sql}");
    }

    pub async fn api_detail(&self, user: (&str, &str), id: &str) -> Option<Value> {
        images::detail(&self.client, &self.address, user, id).await
    }

    /// The member ids of `id` as its owner sees them through the API.
    pub async fn api_members(&self, user: (&str, &str), id: &str) -> Vec<String> {
        let path = format!("/images/{id}/members");
        let body = images::get_json(&self.client, &self.address, user, &path).await;
        body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["member_id"].as_str().unwrap().to_string())
            .collect()
    }

    /// The number of live images `user` can list through the API.
    pub async fn api_count(&self, user: (&str, &str)) -> usize {
        let list = images::get_json(&self.client, &self.address, user, "/images").await;
        list.as_array().unwrap().len()
    }
}
