//! The Pithos object store over HTTP(S): object size and hash by `HEAD`, data
//! by a streamed `GET` (ranges passed through), read permissions by
//! `POST ... X-Object-Sharing`, and uploads by a streamed `PUT` (the
//! container made first where missing), each with the caller's token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::intake::{upload_work, Batches};
use super::{Access, Inspected, ObjectRead, StoreError};
use crate::backends::hash::{ObjectHasher, OsHash, BLOCK_SIZE};
use crate::backends::http::Clients;
use crate::config::HashingAlgorithm;
use crate::domain::location::Location;
use crate::domain::object::{ObjectInfo, Readers};
use crate::domain::range::ByteRange;
use crate::metrics::BackendMetrics;

/// The Pithos backend.
pub(crate) struct PithosStore {
    client: reqwest::Client,
    /// Without a read timeout: an upload's answer waits for its whole body.
    upload_client: reqwest::Client,
    base_url: String,
    timeout: Duration,
    sync_sharing: bool,
    metrics: BackendMetrics,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl PithosStore {
    /// A backend for `base_url` (e.g. `https://storage.example.org/object-store/v1`).
    pub(crate) fn new(
        clients: &Clients,
        base_url: &str,
        timeout: Duration,
        sync_sharing: bool,
        metrics: BackendMetrics,
    ) -> PithosStore {
        PithosStore {
            client: clients.calls.clone(),
            upload_client: clients.uploads.clone(),
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout,
            sync_sharing,
            metrics,
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

    /// The URL of the object's container.
    fn container_url(&self, loc: &Location) -> String {
        let canonical = loc.canonical();
        let path = &canonical["pithos://".len()..];
        let end = path
            .match_indices('/')
            .nth(1)
            .map_or(path.len(), |(i, _)| i);
        format!("{}/{}", self.base_url, &path[..end])
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

    /// Sends a request (bounded by `timeout` if `whole`), timing it until
    /// its answer's head for the metrics.
    async fn send(
        &self,
        what: &'static str,
        req: RequestBuilder,
        whole: bool,
    ) -> Result<Response, StoreError> {
        let req = if whole {
            req.timeout(self.timeout)
        } else {
            req
        };
        let started = std::time::Instant::now();
        let answer = req.send().await;
        let failed = answer
            .as_ref()
            .map_or(true, |r| r.status().is_server_error());
        self.metrics
            .record("pithos", what, started.elapsed(), failed);
        answer.map_err(|e| self.down(what, format!("no answer: {e}")))
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
            // Registering in Pithos reads no data (docs/api.md §17.2).
            os_hash: None,
            computed: None,
            os_hash_owed: None,
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
        let total = self.total_of(&resp, loc, resized)?;
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

    /// The size of the whole object a `GET` answer speaks of, or why there
    /// is none (`resized` says how a range Pithos cannot satisfy is told).
    fn total_of(
        &self,
        resp: &reqwest::Response,
        loc: &Location,
        resized: impl Fn(&str) -> StoreError,
    ) -> Result<u64, StoreError> {
        match resp.status() {
            StatusCode::OK => resp
                .content_length()
                .ok_or_else(|| self.down("GET", "no Content-Length")),
            StatusCode::PARTIAL_CONTENT => {
                let cr = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                cr.rsplit('/')
                    .next()
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .ok_or_else(|| self.down("GET", format!("bad Content-Range {cr:?}")))
            }
            StatusCode::NOT_FOUND => Err(StoreError::Gone(loc.canonical())),
            StatusCode::RANGE_NOT_SATISFIABLE => Err(resized("fewer")),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(Self::denied(Access::Read, loc))
            }
            other => Err(self.down("GET", format!("answered {other}"))),
        }
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

    /// Sends an upload's `body` to `loc` as it arrives (a chunked `PUT`),
    /// hashing it on the way, and answers its size and hashes once Pithos has
    /// all of it. The container is made first if it is missing. The last
    /// bytes are held back until `accept` has seen the whole: a body it
    /// refuses, one past `limit`, or one that stops short is cut off before
    /// its end, so Pithos never completes the object.
    pub(crate) async fn receive<S, E>(
        &self,
        (loc, token): (&Location, &str),
        body: S,
        (limit, os): (u64, Option<HashingAlgorithm>),
        accept: impl FnOnce(&ObjectInfo) -> Result<(), String>,
    ) -> Result<(ObjectInfo, Option<OsHash>), StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.ensure_container(loc, token).await?;
        // Memory does not grow with the upload: a batch being hashed, one
        // held back, and at most 64 chunks on their way.
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        // The body ends cleanly only if every byte was accepted; any other
        // end is an error, which breaks the request off before its end.
        let accepted = Arc::new(AtomicBool::new(false));
        let put = self
            .upload_client
            .request(Method::PUT, self.url(loc))
            .header("X-Auth-Token", token)
            .header("Content-Type", "application/octet-stream")
            .header("If-None-Match", "*")
            .body(reqwest::Body::wrap_stream(outgoing(
                rx,
                Arc::clone(&accepted),
            )));
        let finished = tokio::sync::Notify::new();
        let pump = async {
            let sent = pump(body, (limit, self.timeout), (&tx, os), accept).await;
            accepted.store(sent.is_ok(), Ordering::SeqCst);
            drop(tx);
            finished.notify_one();
            sent
        };
        let (sent, answer) =
            futures_util::future::join(pump, self.answer_once_sent(put, &finished)).await;
        let (info, os_hash, resp) = match (sent, answer) {
            (Ok((info, os_hash)), Ok(resp)) => (Some(info), os_hash, resp),
            // Pithos stopped reading: its answer says why.
            (Err(StoreError::Unreachable), Ok(resp)) => (None, None, resp),
            (Err(e), _) | (Ok(_), Err(e)) => return Err(e),
        };
        let info = self.check_put(loc, token, info, &resp).await?;
        Ok((info, os_hash))
    }

    /// Pithos's answer to an upload's `PUT`: it answers once it has the
    /// whole body, and from then on (and for each chunk it is slow to
    /// take) it has `timeout`.
    async fn answer_once_sent(
        &self,
        put: reqwest::RequestBuilder,
        finished: &tokio::sync::Notify,
    ) -> Result<reqwest::Response, StoreError> {
        let put = std::pin::pin!(self.send("PUT", put, false));
        let late = std::pin::pin!(async {
            finished.notified().await;
            tokio::time::sleep(self.timeout).await;
        });
        match futures_util::future::select(put, late).await {
            futures_util::future::Either::Left((answer, _)) => answer,
            futures_util::future::Either::Right(_) => {
                Err(self.down("PUT", "no answer once the body was sent"))
            }
        }
    }

    /// Checks Pithos's answer to an upload of `info` (`None`: it answered
    /// before it had the whole body): a refusal in the store's terms, and
    /// stored data whose ETag is not the upload's deleted.
    async fn check_put(
        &self,
        loc: &Location,
        token: &str,
        info: Option<ObjectInfo>,
        resp: &reqwest::Response,
    ) -> Result<ObjectInfo, StoreError> {
        match resp.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(Self::denied(Access::Write, loc))
            }
            StatusCode::PAYLOAD_TOO_LARGE => return Err(StoreError::QuotaFull),
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => {
                return Err(StoreError::Taken(loc.canonical()))
            }
            other => return Err(self.down("PUT", format!("answered {other}"))),
        }
        let Some(info) = info else {
            return Err(self.down("PUT", "answered before it had the whole body"));
        };
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_matches('"').to_ascii_lowercase());
        let ours = |h: &String| *h == info.checksum || Some(h) == info.md5.as_ref();
        if !etag.as_ref().is_some_and(ours) {
            self.delete(loc, token).await;
            return Err(self.down(
                "PUT",
                format!("stored data whose ETag {etag:?} is not the upload's"),
            ));
        }
        Ok(info)
    }

    /// The container of `loc`, made if it is missing; refused unless it
    /// hashes as plankton does (4 MiB blocks of SHA-256).
    async fn ensure_container(&self, loc: &Location, token: &str) -> Result<(), StoreError> {
        let url = self.container_url(loc);
        for attempt in 0..2 {
            let head = self.request(Method::HEAD, &url, token);
            let resp = self.send("HEAD container", head, true).await?;
            match resp.status() {
                s if s.is_success() => {
                    let header = |name: &str| {
                        resp.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(|v| v.trim().to_ascii_lowercase())
                    };
                    let size = header("x-container-block-size");
                    let hash = header("x-container-block-hash");
                    let ours = (BLOCK_SIZE.to_string(), "sha256".to_string());
                    if let (Some(size), Some(hash)) = (size, hash) {
                        if (size.clone(), hash.clone()) != ours {
                            return Err(StoreError::Unsupported(
                                "the Pithos container hashes other than by 4 MiB blocks of SHA-256, as plankton does",
                            ));
                        }
                    }
                    return Ok(());
                }
                StatusCode::NOT_FOUND if attempt == 0 => {}
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(Self::denied(Access::Write, loc))
                }
                other => return Err(self.down("HEAD container", format!("answered {other}"))),
            }
            let create = self
                .request(Method::PUT, &url, token)
                .header("Content-Length", "0");
            let resp = self.send("PUT container", create, true).await?;
            match resp.status() {
                s if s.is_success() => {}
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(Self::denied(Access::Write, loc))
                }
                StatusCode::PAYLOAD_TOO_LARGE => return Err(StoreError::QuotaFull),
                other => return Err(self.down("PUT container", format!("answered {other}"))),
            }
        }
        Err(self.down("HEAD container", "missing just after it was made"))
    }

    /// Deletes the object at `loc`, as far as it can: a failure is logged,
    /// since this only ever takes back an upload that will not be used.
    pub(crate) async fn delete(&self, loc: &Location, token: &str) {
        let req = self.request(Method::DELETE, &self.url(loc), token);
        match self.send("DELETE", req, true).await {
            Ok(r) if r.status().is_success() || r.status() == StatusCode::NOT_FOUND => {}
            Ok(r) => log::warn!(
                "pithos {}: could not delete the unregistered upload at {}: answered {}",
                self.base_url,
                loc.canonical(),
                r.status()
            ),
            Err(_) => log::warn!(
                "pithos {}: could not delete the unregistered upload at {}",
                self.base_url,
                loc.canonical()
            ),
        }
    }
}

/// Reads `body` in batches, hashes each off the async workers, and passes
/// it on to `tx`, always one batch behind: the last is sent only once the
/// whole is hashed and `accept` took it.
async fn pump<S, E>(
    body: S,
    (limit, stall): (u64, Duration),
    (tx, os): (&tokio::sync::mpsc::Sender<Bytes>, Option<HashingAlgorithm>),
    accept: impl FnOnce(&ObjectInfo) -> Result<(), String>,
) -> Result<(ObjectInfo, Option<OsHash>), StoreError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    // Pithos stopped reading (it answered, the connection broke, or it took
    // no chunk for `stall`).
    let send = |chunk: Bytes| async move {
        match tokio::time::timeout(stall, tx.send(chunk)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(StoreError::Unreachable),
        }
    };
    let mut batches = Batches::new(body, limit);
    let mut hasher = os
        .map_or_else(ObjectHasher::new, ObjectHasher::with_os_hash)
        .beside();
    let mut held: Vec<Bytes> = Vec::new();
    let mut size = 0u64;
    while let Some(batch) = batches.next().await? {
        size += batch.iter().map(|c| c.len() as u64).sum::<u64>();
        let (h, batch) = upload_work(move || {
            for c in &batch {
                hasher.update_shared(c);
            }
            (hasher, batch)
        })
        .await?;
        hasher = h;
        for chunk in std::mem::replace(&mut held, batch) {
            send(chunk).await?;
        }
    }
    let (checksum, md5, os_hash) = hasher.finish_all();
    let info = ObjectInfo {
        size,
        checksum,
        md5: Some(md5),
    };
    accept(&info).map_err(StoreError::Refused)?;
    for chunk in held {
        send(chunk).await?;
    }
    Ok((info, os_hash))
}
/// The body of an upload's `PUT`: the chunks as they come, ending cleanly
/// only if every byte was `accepted`, and in an error otherwise, which
/// breaks the request off before its end.
fn outgoing(
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    accepted: Arc<AtomicBool>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(
        (rx, accepted, false),
        |(mut rx, accepted, ended)| async move {
            if ended {
                return None;
            }
            match rx.recv().await {
                Some(chunk) => Some((Ok(chunk), (rx, accepted, false))),
                None if accepted.load(Ordering::SeqCst) => None,
                None => Some((
                    Err(std::io::Error::other("upload refused or cut off")),
                    (rx, accepted, true),
                )),
            }
        },
    )
}
