//! `TestApp`: the real server spawned in-process by `tests/support` on port 0
//! with a temporary directory holding its database, token file and store
//! root, and every method the api modules use on it: plain
//! and raw requests, listings, members, and the users to register as
//! (`app.alice().register(..)`, see `registration`).
//! In the `api_http` binary the same server talks to fake Astakos and Pithos
//! instead (`crate::Backends`), which serve the same users and the same root.

use std::path::{Path, PathBuf};

use actix_web::dev::ServerHandle;
use plankton::config::Settings;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response};
use serde_json::Value;
use tempfile::TempDir;

use crate::registration::User;
use crate::support;
use crate::util::{exchange, ids_of, items, json_with_status, RawResponse};

/// Users of the token file every test app starts with: (token, user id).
pub use crate::support::users::{ALICE, BOB, CAROL};

/// A running plankton on a temporary directory.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` followed by the base path, if any.
    pub address: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub settings: Settings,
    /// The fake backends the server talks to (none in the `api` binary).
    pub backends: crate::Backends,
    handle: ServerHandle,
}

impl TestApp {
    /// A server with default settings (but paths and port).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose settings `tweak` may change before it starts.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = support::app::settings(dir.path());
        let backends = crate::Backends::start(dir.path(), &settings.store.root);
        backends.configure(&mut settings);
        tweak(&mut settings);
        let settings = settings.validated().expect("valid test settings");
        Self::start(dir, settings, backends)
    }

    fn start(dir: TempDir, settings: Settings, backends: crate::Backends) -> TestApp {
        let running = support::app::start(&settings);
        TestApp {
            address: running.address,
            client: support::app::client(),
            dir,
            settings,
            backends,
            handle: running.handle,
        }
    }

    /// Stops the server gracefully and starts a new one on the same directory
    /// and settings (a new port).
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        Self::start(self.dir, self.settings, self.backends)
    }

    /// The store root.
    pub fn root(&self) -> PathBuf {
        self.settings.store.root.clone()
    }

    /// Writes an object into the store root at `<account>/<container>/<path>`.
    pub fn put_object(&self, account: &str, container: &str, path: &str, data: &[u8]) -> PathBuf {
        let file = self.root().join(account).join(container).join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, data).unwrap();
        file
    }

    /// `address` + `path` (path starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request with a token (if any) and headers given as (name, value) pairs.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut h = HeaderMap::new();
        if let Some(t) = token {
            h.insert("x-auth-token", HeaderValue::from_str(t).unwrap());
        }
        for (k, v) in headers {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        self.client
            .request(method, self.url(path))
            .headers(h)
            .send()
            .await
            .expect("request sent")
    }

    /// `host:port` of the server.
    pub fn host_port(&self) -> String {
        let rest = self.address.strip_prefix("http://").unwrap();
        rest.split('/').next().unwrap().to_string()
    }

    /// The configured base path (empty or `/something`).
    pub fn base(&self) -> String {
        self.settings.base_path.clone()
    }

    /// A GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), &[]).await
    }

    /// A HEAD with a token.
    pub async fn head(&self, path: &str, token: &str) -> Response {
        self.request(Method::HEAD, path, Some(token), &[]).await
    }

    /// A request with a token and a body.
    pub async fn send_body(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .body(body.to_vec());
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        req.send().await.expect("request sent")
    }

    /// `POST /v2/images` of `body` as `token`.
    pub async fn v2_create(&self, token: &str, body: &Value) -> Response {
        let body = body.to_string();
        self.send_body(Method::POST, "/v2/images", Some(token), body.as_bytes())
            .await
    }

    /// An image created through v2 (queued, no data) as `token`: its id,
    /// asserting 201.
    pub async fn v2_queued(&self, token: &str, body: &Value) -> String {
        let image = json_with_status(self.v2_create(token, body).await, 201).await;
        image["id"].as_str().expect("an id").to_string()
    }

    /// The listing body at `path` (with its query) as JSON, asserting 200.
    pub async fn list(&self, path: &str, token: &str) -> Value {
        json_with_status(self.get(path, token).await, 200).await
    }

    /// The ids listed at `path` (either dialect), asserting 200.
    pub async fn list_ids(&self, path: &str, token: &str) -> Vec<String> {
        ids_of(&self.list(path, token).await)
    }

    /// `/images/detail` item of one image as `token` sees it in the listing.
    pub async fn detail_of(&self, id: &str, token: &str) -> Value {
        let body = self.list("/images/detail", token).await;
        items(&body)
            .into_iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed in {body}"))
    }

    /// The member ids of an image, asserting 200.
    pub async fn member_ids(&self, prefix: &str, id: &str, token: &str) -> Vec<String> {
        let body = json_with_status(
            self.get(&format!("{prefix}/images/{id}/members"), token)
                .await,
            200,
        )
        .await;
        body["members"]
            .as_array()
            .expect("members array")
            .iter()
            .map(|m| m["member_id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Replaces the members of an image, asserting 204.
    pub async fn set_members(&self, id: &str, token: &str, members: &[&str]) {
        let list: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"member_id": m, "can_share": false}))
            .collect();
        let body = serde_json::json!({ "memberships": list }).to_string();
        let resp = self
            .send_body(
                Method::PUT,
                &format!("/images/{id}/members"),
                Some(token),
                body.as_bytes(),
            )
            .await;
        assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    }

    /// Updates an image with headers, asserting 200.
    pub async fn update_ok(&self, id: &str, token: &str, headers: &[(&str, &str)]) -> Response {
        let resp = self
            .request(Method::PUT, &format!("/images/{id}"), Some(token), headers)
            .await;
        assert_eq!(resp.status(), 200, "update {id} {headers:?}");
        resp
    }

    /// Sends raw bytes of one request (which should ask `Connection: close`)
    /// and reads the whole answer.
    pub async fn raw(&self, request: Vec<u8>) -> RawResponse {
        let addr = self.host_port();
        tokio::task::spawn_blocking(move || exchange(&addr, &request))
            .await
            .unwrap()
    }

    /// A raw request: `method`, a path under the base path, and header lines
    /// given as bytes (names exactly as sent).
    pub async fn raw_request(
        &self,
        method: &str,
        path: &[u8],
        headers: &[(&[u8], &[u8])],
    ) -> RawResponse {
        let mut req = Vec::new();
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(self.base().as_bytes());
        req.extend_from_slice(path);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(self.host_port().as_bytes());
        req.extend_from_slice(b"\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.extend_from_slice(k);
            req.extend_from_slice(b": ");
            req.extend_from_slice(v);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"\r\n");
        self.raw(req).await
    }

    /// Alice (`ALICE`), to register as: `app.alice().register("a.img")`.
    pub fn alice(&self) -> User<'_> {
        self.as_user(ALICE)
    }

    /// Bob (`BOB`).
    pub fn bob(&self) -> User<'_> {
        self.as_user(BOB)
    }

    /// Carol (`CAROL`).
    pub fn carol(&self) -> User<'_> {
        self.as_user(CAROL)
    }

    /// Any (token, user id) pair.
    pub fn as_user<'a>(&'a self, user: (&'a str, &'a str)) -> User<'a> {
        User::new(self, user)
    }
}

/// The database file of an app, for inspecting it directly.
pub fn db_path(app: &TestApp) -> &Path {
    app.settings.database.file().expect("a SQLite catalogue")
}

/// Runs `sql` (SQL both engines read alike, with `?1`, `?2`... for
/// `args`) on the catalogue behind `app`, SQLite or PostgreSQL: each row's
/// columns joined by `|`, NULL as "". A statement that changes rows says
/// how many with `RETURNING`.
pub fn catalogue_sql(app: &TestApp, sql: &str, args: &[&str]) -> Vec<String> {
    use plankton::config::Database;
    let path = match &app.settings.database {
        Database::File(path) => path,
        Database::Postgres(_) => {
            let url = app.settings.database.to_string();
            return support::postgres::sql_rows(&url, sql, args);
        }
    };
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let width = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(args)).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let cols: Vec<String> = (0..width)
            .map(|i| match row.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => String::new(),
                rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                rusqlite::types::ValueRef::Real(x) => x.to_string(),
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    String::from_utf8_lossy(t).into_owned()
                }
            })
            .collect();
        out.push(cols.join("|"));
    }
    out
}
