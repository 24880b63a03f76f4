//! Registering images in tests, as a sentence:
//!
//! ```ignore
//! let id = app.alice().register("a.img").property("OS", "debian").public().ok().await;
//! app.bob().register("b.img").data(b"bytes").header("X-Image-Meta-Size", "5").send().await;
//! app.alice().register("stolen").location("pithos://bob/images/b.img")
//!     .fault(403, "forbidden", &["bob"]).await;
//! ```
//!
//! By default the registration writes `b"x"` to `<owner>/images/<file>` in
//! the store root, then sends `POST /images` with the user's token,
//! `X-Image-Meta-Location: pithos://<owner>/images/<file>` and, unless a name
//! header is among the headers, `X-Image-Meta-Name: <file>`, followed by the
//! headers given, in the order given.

use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::TestApp;
use crate::util::{fault, json_with_status};

/// A user of the token file acting on an app: `app.alice()`, `app.as_user(BOB)`.
pub struct User<'a> {
    app: &'a TestApp,
    token: &'a str,
    id: &'a str,
}

impl<'a> User<'a> {
    pub fn new(app: &'a TestApp, (token, id): (&'a str, &'a str)) -> User<'a> {
        User { app, token, id }
    }

    /// A registration of the object `file` in this user's `images` container
    /// (see the module's documentation for what is sent).
    pub fn register(&self, file: &str) -> Registration<'a> {
        Registration {
            app: self.app,
            token: self.token,
            owner: self.id,
            file: file.to_string(),
            container: "images".to_string(),
            data: b"x".to_vec(),
            write: true,
            location: None,
            prefix: String::new(),
            headers: Vec::new(),
        }
    }
}

/// One registration being put together; nothing happens until `send`, `ok`,
/// `json` or `fault`.
pub struct Registration<'a> {
    app: &'a TestApp,
    token: &'a str,
    owner: &'a str,
    file: String,
    container: String,
    data: Vec<u8>,
    write: bool,
    location: Option<String>,
    prefix: String,
    headers: Vec<(String, String)>,
}

impl Registration<'_> {
    /// The bytes written to the object (`b"x"` unless given).
    pub fn data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }

    /// Writes nothing: the object is already in the store as the test put it
    /// (or missing on purpose).
    pub fn already_there(mut self) -> Self {
        self.write = false;
        self
    }

    /// The object's container, instead of `images`.
    pub fn in_container(mut self, container: &str) -> Self {
        self.container = container.to_string();
        self
    }

    /// Sends this `X-Image-Meta-Location` as it is and writes no object: the
    /// test has put whatever should be there (or nothing). The file given to
    /// `register` is then only the default name.
    pub fn location(mut self, location: &str) -> Self {
        self.location = Some(location.to_string());
        self
    }

    /// Posts to `<prefix>/images` (`""`, `/v1.0` or `/v1`).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    /// `X-Image-Meta-Name`, instead of the file name.
    pub fn name(self, name: &str) -> Self {
        self.header("X-Image-Meta-Name", name)
    }

    /// `X-Image-Meta-Property-<key>: <value>`.
    pub fn property(self, key: &str, value: &str) -> Self {
        self.header(&format!("X-Image-Meta-Property-{key}"), value)
    }

    /// `X-Image-Meta-Is-Public: true`.
    pub fn public(self) -> Self {
        self.header("X-Image-Meta-Is-Public", "true")
    }

    /// Any header, sent as spelled, after those given before it.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Several headers, in order.
    pub fn headers(mut self, headers: &[(&str, &str)]) -> Self {
        self.headers
            .extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Writes the object (unless `already_there` or `location`) and sends the
    /// request; the response is the caller's to check.
    pub async fn send(self) -> Response {
        let location = match &self.location {
            Some(location) => location.clone(),
            None => {
                if self.write {
                    self.app
                        .put_object(self.owner, &self.container, &self.file, &self.data);
                }
                format!("pithos://{}/{}/{}", self.owner, self.container, self.file)
            }
        };
        let mut all: Vec<(&str, &str)> = vec![("X-Image-Meta-Location", &location)];
        if !self
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-image-meta-name"))
        {
            all.push(("X-Image-Meta-Name", &self.file));
        }
        all.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let path = format!("{}/images", self.prefix);
        self.app
            .request(Method::POST, &path, Some(self.token), &all)
            .await
    }

    /// Sends, asserts a 200 and returns the new image's id.
    pub async fn ok(self) -> String {
        let file = self.file.clone();
        let resp = self.send().await;
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

    /// Sends, asserts a 200 and returns the body.
    pub async fn json(self) -> Value {
        json_with_status(self.send().await, 200).await
    }

    /// Sends and asserts the fault (see `util::fault`); returns its message.
    pub async fn fault(self, status: u16, name: &str, needles: &[&str]) -> String {
        fault(self.send().await, status, name, needles).await
    }
}
