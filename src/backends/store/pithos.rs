//! The Pithos object store over HTTP(S): object size and hash by `HEAD`, data
//! by a streamed `GET` (ranges passed through), and read permissions by
//! `POST ... X-Object-Sharing`, each with the caller's token.

use std::time::Duration;

use futures_util::TryStreamExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::{Access, Inspected, ObjectRead, StoreError};
use crate::domain::location::Location;
use crate::domain::object::{ObjectInfo, Readers};
use crate::domain::range::ByteRange;

/// The Pithos backend.
pub(crate) struct PithosStore {
    client: reqwest::Client,
    base_url: String,
    timeout: Duration,
    sync_sharing: bool,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl PithosStore {
    /// A backend for `base_url` (e.g. `https://storage.example.org/object-store/v1`).
    pub(crate) fn new(
        client: reqwest::Client,
        base_url: &str,
        timeout: Duration,
        sync_sharing: bool,
    ) -> PithosStore {
        PithosStore {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout,
            sync_sharing,
        }
    }

    /// The endpoint, for the start-up line.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether member and publicity changes are carried to Pithos.
    pub(crate) fn syncs_sharing(&self) -> bool {
        self.sync_sharing
    }

    /// The object's URL: the canonical location's segments are already
    /// percent-encoded as a URL path needs them.
    fn url(&self, loc: &Location) -> String {
        let canonical = loc.canonical();
        format!("{}/{}", self.base_url, &canonical["pithos://".len()..])
    }

    fn request(&self, method: Method, url: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, url)
            .header("X-Auth-Token", token)
    }

    fn down(&self, what: &str, why: impl std::fmt::Display) -> StoreError {
        log::warn!("pithos {}: {what}: {why}", self.base_url);
        StoreError::Unreachable
    }

    fn denied(access: Access, loc: &Location) -> StoreError {
        StoreError::Denied {
            access,
            location: loc.canonical(),
        }
    }

    async fn send(
        &self,
        what: &str,
        req: RequestBuilder,
        whole: bool,
    ) -> Result<Response, StoreError> {
        let req = if whole {
            req.timeout(self.timeout)
        } else {
            req
        };
        req.send()
            .await
            .map_err(|e| self.down(what, format!("no answer: {e}")))
    }

    /// `HEAD` the object: its size and Merkle hash (and MD5, where Pithos's
    /// ETag is one).
    pub(crate) async fn inspect(
        &self,
        loc: &Location,
        token: &str,
    ) -> Result<Inspected, StoreError> {
        let resp = self
            .send(
                "HEAD",
                self.request(Method::HEAD, &self.url(loc), token),
                true,
            )
            .await?;
        match resp.status() {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND => return Err(StoreError::Missing(loc.canonical())),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(Self::denied(Access::Read, loc))
            }
            other => return Err(self.down("HEAD", format!("answered {other}"))),
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().trim_matches('"').to_string())
        };
        let size = header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n <= i64::MAX as u64)
            .ok_or_else(|| self.down("HEAD", "no valid Content-Length"))?;
        let checksum = header("x-object-hash")
            .map(|h| h.to_ascii_lowercase())
            .filter(|h| is_hex(h, 64))
            .ok_or_else(|| self.down("HEAD", "no valid X-Object-Hash"))?;
        let md5 = header("etag")
            .map(|h| h.to_ascii_lowercase())
            .filter(|h| is_hex(h, 32));
        Ok(Inspected {
            info: ObjectInfo {
                size,
                checksum,
                md5,
            },
            computed: None,
        })
    }

    /// `GET` the object's data (a range of it), streamed.
    pub(crate) async fn read(
        &self,
        loc: &Location,
        expected_size: u64,
        range: Option<ByteRange>,
        token: &str,
    ) -> Result<ObjectRead, StoreError> {
        let gone = || StoreError::Gone(loc.canonical());
        let resized = |now: &str| StoreError::Resized {
            location: loc.canonical(),
            then: expected_size,
            now: now.to_string(),
        };
        let wanted = match range {
            Some(r) => Some(
                r.resolve(expected_size)
                    .map_err(|_| StoreError::RangeOutside {
                        size: expected_size,
                    })?,
            ),
            None => None,
        };
        let mut req = self.request(Method::GET, &self.url(loc), token);
        if let Some((start, len)) = wanted {
            req = req.header("Range", format!("bytes={}-{}", start, start + len - 1));
        }
        let resp = self.send("GET", req, false).await?;
        let status = resp.status();
        let content_length = resp.content_length();
        let total = match status {
            StatusCode::OK => {
                content_length.ok_or_else(|| self.down("GET", "no Content-Length"))?
            }
            StatusCode::PARTIAL_CONTENT => {
                let cr = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                cr.rsplit('/')
                    .next()
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .ok_or_else(|| self.down("GET", format!("bad Content-Range {cr:?}")))?
            }
            StatusCode::NOT_FOUND => return Err(gone()),
            StatusCode::RANGE_NOT_SATISFIABLE => return Err(resized("fewer")),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(Self::denied(Access::Read, loc))
            }
            other => return Err(self.down("GET", format!("answered {other}"))),
        };
        if total != expected_size {
            return Err(resized(&total.to_string()));
        }
        let (start, len, partial) = match (wanted, status) {
            (Some((s, l)), StatusCode::PARTIAL_CONTENT) => (s, l, true),
            (_, _) => (0, total, false),
        };
        if let Some(n) = content_length {
            if n != len {
                return Err(self.down("GET", format!("sent {n} bytes for a {len}-byte answer")));
            }
        }
        let body = resp.bytes_stream().map_err(std::io::Error::other);
        Ok(ObjectRead {
            total,
            start,
            len,
            partial,
            body: Box::pin(body),
        })
    }

    /// Sets the object's read permission: `read=*`, `read=<users>`, or none.
    pub(crate) async fn set_readers(
        &self,
        loc: &Location,
        readers: &Readers,
        token: &str,
    ) -> Result<(), StoreError> {
        let value = match readers {
            Readers::Owner => String::new(),
            Readers::Everyone => "read=*".to_string(),
            Readers::Users(users) => format!("read={}", users.join(",")),
        };
        let url = format!("{}?update=", self.url(loc));
        let req = self
            .request(Method::POST, &url, token)
            .header("X-Object-Sharing", value)
            .header("Content-Length", "0");
        let resp = self.send("POST sharing", req, true).await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            // Nothing is shared by an object that is not there (unregistering
            // an image whose object is gone must still work).
            StatusCode::NOT_FOUND if *readers == Readers::Owner => Ok(()),
            StatusCode::NOT_FOUND => Err(StoreError::GoneWhileSharing(loc.canonical())),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(Self::denied(Access::Share, loc))
            }
            other => Err(self.down("POST sharing", format!("answered {other}"))),
        }
    }
}
