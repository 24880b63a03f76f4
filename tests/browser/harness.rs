//! What the browser stories stand on: the binary under test (located by
//! `tests/support`: `TEST_PLANKTON_BIN` or the test profile's) started on a
//! temporary directory, Debian's chromedriver started on a free port, and headless
//! Chromium sessions driven through it with fantoccini. Screenshots go to
//! `<target>/ui-screenshots/`.
//!
//! Chromium and chromedriver absent: on a developer's machine the stories
//! skip, loudly; with `REQUIRE_BROWSER_TESTS` set (`.ci/run` sets it)
//! they fail instead.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::process::{self, Server};
use crate::support::users::{write_tokens, Entry, ALICE_NAME};
use crate::support::{self, images};

pub use crate::support::users::{ALICE, BOB, CAROL};

/// The token file of a story: Bob has a display name here, for the
/// members view to show.
const USERS: [Entry<'static>; 3] = [
    (ALICE, Some(ALICE_NAME)),
    (BOB, Some("Bob Dylan")),
    (CAROL, None),
];

/// Chromium's flags: headless, as root, on a machine with no network
/// (without the background-networking flags its connections are refused
/// many at a time).
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// One story at a time: two Chromiums on two cores beside other builds
/// make every wait longer for nothing.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where Chromium and chromedriver are, or `None` (after saying so loudly)
/// if they are not installed and the browser is not required.
pub fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    let driver = std::env::var_os("CHROMEDRIVER")
        .map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from);
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    let required = std::env::var("REQUIRE_BROWSER_TESTS").is_ok_and(|v| !v.is_empty());
    let missing = format!(
        "{} or {} is missing (apt-get install chromium chromium-driver)",
        chromium.display(),
        driver.display()
    );
    assert!(!required, "REQUIRE_BROWSER_TESTS is set but {missing}");
    // Straight to standard error, past the test harness's capture, once.
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let bar = "!".repeat(72);
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\nSKIPPING the browser tests: {missing}\n{bar}\n"
        );
    });
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process ended (killed) when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// plankton and chromedriver, running for one story.
pub struct Stage {
    pub dir: TempDir,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub http: reqwest::Client,
    chromium: PathBuf,
    driver_url: String,
    server: Server,
    _driver: Process,
}

impl Stage {
    /// Starts both, or `None` when the browser tests skip.
    pub async fn start() -> Option<Stage> {
        let (chromium, driver) = tools()?;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("objects")).unwrap();
        let tokens = dir.path().join("tokens");
        write_tokens(&tokens, &USERS);
        let server = Server::start(&mut process::command(dir.path()));
        let base = format!("http://{}", server.addr);
        let port = free_port();
        let driver = Process(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let driver_url = format!("http://127.0.0.1:{port}");
        let http = support::app::client();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http
            .get(format!("{driver_url}/status"))
            .send()
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(Stage {
            dir,
            base,
            http,
            chromium,
            driver_url,
            server,
            _driver: driver,
        })
    }

    /// A new browser with an empty profile of its own.
    pub async fn browser(&self) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": self.chromium, "args": args},
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.driver_url)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            base: self.base.clone(),
            _profile: profile,
        }
    }

    /// Uploads an image through the image API; its id.
    pub async fn api_upload(
        &self,
        user: (&str, &str),
        name: &str,
        data: &[u8],
        headers: &[(&str, &str)],
    ) -> String {
        images::upload(&self.http, &self.base, user, name, data, headers).await
    }

    /// The image as `user` reads it through the API (`/images/detail`), if listed.
    pub async fn api_detail(&self, user: (&str, &str), id: &str) -> Option<Value> {
        images::detail(&self.http, &self.base, user, id).await
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.server.log_lines().join("\n")
    }

    /// The log names no token (docs/api.md §15: never in a log).
    pub fn assert_log_has_no_token(&self) {
        let log = self.log();
        for (token, _) in [ALICE, BOB, CAROL] {
            assert!(!log.contains(token), "a token in the log:\n{log}");
        }
        assert!(
            log.contains("GET /ui/"),
            "the log has the view's requests:\n{log}"
        );
    }
}

/// One Chromium session.
pub struct Browser {
    pub client: Client,
    pub base: String,
    _profile: TempDir,
}

impl Browser {
    /// Opens a path of the server.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The current path and query.
    pub async fn here(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Whether an element matches `css`.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Clicks the element matching `css` and waits for the next page.
    pub async fn click(&self, css: &str) {
        self.mark().await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for_next().await;
    }

    /// Marks the current document, so that `wait_for_next` can tell its successor.
    pub async fn mark(&self) {
        self.client
            .execute("window.__plankton_old_page = true", vec![])
            .await
            .unwrap();
    }

    /// Waits until a document other than the marked one has loaded.
    pub async fn wait_for_next(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let script = "return !window.__plankton_old_page && document.readyState === 'complete'";
        loop {
            if matches!(
                self.client.execute(script, vec![]).await,
                Ok(Value::Bool(true))
            ) {
                return;
            }
            assert!(Instant::now() < deadline, "no new page within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `text` into the field matching `css`, replacing what was there.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Picks the option `value` of the `<select>` matching `css` (no new page).
    pub async fn choose(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(&format!("{css} option[value=\"{value}\"]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// How many images the catalogue's table shows.
    pub async fn rows(&self) -> usize {
        self.client
            .find_all(Locator::Css("td.name"))
            .await
            .unwrap()
            .len()
    }

    /// Logs in with `token` from wherever the browser is.
    pub async fn log_in(&self, token: &str) {
        self.open("/ui/").await;
        assert!(
            self.here().await.starts_with("/ui/login"),
            "{}",
            self.here().await
        );
        self.fill("#token", token).await;
        self.click("form button[type=submit]").await;
    }

    /// Saves a screenshot as `<target>/ui-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Ends the session and its Chromium.
    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// `<target>/ui-screenshots` (the target directory is the parent of this
/// test's temporary directory).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("ui-screenshots")
}
