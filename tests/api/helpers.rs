//! Spawning the real server on port 0 with a temporary directory holding its
//! database, token file and store root, and small conveniences for requests.
//! In the `api_http` binary the same server talks to fake Astakos and Pithos
//! instead (`crate::Backends`), which serve the same users and the same root.

use std::path::{Path, PathBuf};

use actix_web::dev::ServerHandle;
use plankton::config::Settings;
use plankton::startup::Application;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response};
use serde_json::Value;
use tempfile::TempDir;

/// Users of the token file every test app starts with: (token, user id).
pub const ALICE: (&str, &str) = ("alice-token", "alice");
pub const BOB: (&str, &str) = ("bob-token", "bob");
pub const CAROL: (&str, &str) = ("carol-token", "carol");

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
        let root = dir.path().join("objects");
        std::fs::create_dir_all(&root).unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::write(
            &tokens,
            format!(
                "# test users\n{} {} Alice Liddell\n{} {}\n{} {}\n",
                ALICE.0, ALICE.1, BOB.0, BOB.1, CAROL.0, CAROL.1
            ),
        )
        .unwrap();
        let mut settings = Settings {
            listen: "127.0.0.1:0".into(),
            database: dir.path().join("plankton.db"),
            ..Settings::default()
        };
        settings.identity.token_file = tokens;
        let backends = crate::Backends::start(dir.path(), &root);
        settings.store.root = root;
        backends.configure(&mut settings);
        tweak(&mut settings);
        let settings = settings.validated().expect("valid test settings");
        Self::start(dir, settings, backends)
    }

    fn start(dir: TempDir, settings: Settings, backends: crate::Backends) -> TestApp {
        let app = Application::build(settings.clone()).expect("app builds");
        let address = format!("http://127.0.0.1:{}{}", app.port(), settings.base_path);
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            dir,
            settings,
            backends,
            handle,
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

    /// Registers `pithos://<owner>/images/<file>` after writing `data` there.
    /// Returns the response (for the caller to check).
    pub async fn register(
        &self,
        token: &str,
        owner: &str,
        file: &str,
        data: &[u8],
        headers: &[(&str, &str)],
    ) -> Response {
        self.put_object(owner, "images", file, data);
        let location = format!("pithos://{owner}/images/{file}");
        let mut all: Vec<(&str, &str)> = vec![("X-Image-Meta-Location", &location)];
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-image-meta-name"))
        {
            all.push(("X-Image-Meta-Name", file));
        }
        all.extend_from_slice(headers);
        self.request(Method::POST, "/images", Some(token), &all)
            .await
    }

    /// Registers and returns the new image's id, asserting a 200.
    pub async fn register_ok(
        &self,
        token: &str,
        owner: &str,
        file: &str,
        data: &[u8],
        headers: &[(&str, &str)],
    ) -> String {
        let resp = self.register(token, owner, file, data, headers).await;
        assert_eq!(
            resp.status(),
            200,
            "register {file}: {:?}",
            resp.text().await
        );
        resp.headers()["x-image-meta-id"]
            .to_str()
            .unwrap()
            .to_string()
    }
}

/// Asserts a fault: status, the single fault-name key, its code, and that the
/// message contains `needle`. Returns the message.
pub async fn assert_fault(resp: Response, status: u16, fault: &str, needle: &str) -> String {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.expect("fault body is JSON");
    assert_eq!(got, status, "status; body {body}");
    let obj = body.as_object().expect("fault body is an object");
    assert_eq!(obj.len(), 1, "exactly one key: {body}");
    let inner = &obj[fault];
    assert_eq!(inner["code"], status, "{body}");
    let message = inner["message"].as_str().expect("message").to_string();
    assert!(
        message.contains(needle),
        "message {message:?} should mention {needle:?}"
    );
    message
}

/// The database file of an app, for inspecting it directly.
pub fn db_path(app: &TestApp) -> &Path {
    &app.settings.database
}
