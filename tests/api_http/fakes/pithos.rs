//! A fake Pithos: objects served from a directory laid out as the fs store's
//! root (`<root>/<account>/<container>/<object path>`), with `HEAD`, `GET`
//! (one range), `PUT` (plain or chunked; the object appears only once its
//! body is complete), `DELETE` and `POST ?update` of `X-Object-Sharing` of
//! objects, and `HEAD` and `PUT` of containers, as object-api-guide.rst
//! documents them; read permission enforced by token
//! (the account's owner, or those its sharing names, or everyone for `*`);
//! the Merkle hash computed here, independently of plankton's code.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use md5::Md5;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use super::{serve, FakeUser, Served};

/// Where the object store is mounted, as on a Synnefo deployment.
pub const PREFIX: &str = "/object-store/v1";

/// Pithos's block size.
const BLOCK: usize = 4 * 1024 * 1024;

/// The Pithos hash, as object-api-guide.rst and docs/api.md §9 describe
/// it: 4 MiB blocks, each hashed with SHA-256 after its trailing NULs are
/// stripped; one block is its own hash; more are padded with zero hashes to
/// a power of two and hashed pairwise up to the root.
pub fn merkle_hex(data: &[u8]) -> String {
    let mut level: Vec<[u8; 32]> = data
        .chunks(BLOCK)
        .map(|block| {
            let kept = block.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            Sha256::digest(&block[..kept]).into()
        })
        .collect();
    match level.len() {
        0 => return hex::encode(Sha256::digest(b"")),
        1 => return hex::encode(level[0]),
        n => level.resize(n.next_power_of_two(), [0u8; 32]),
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| {
                let mut h = Sha256::new();
                h.update(pair[0]);
                h.update(pair[1]);
                h.finalize().into()
            })
            .collect();
    }
    hex::encode(level[0])
}

/// A way the fake can misbehave.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer as usual, but only after this long.
    Slow(Duration),
    /// Answer this status (and no body) at once.
    Status(u16),
}

/// One request the fake was sent.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// `<account>/<container>/<object>`, decoded.
    pub path: String,
    /// The user of the token, if the fake knew it.
    pub user: Option<String>,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

/// A hash of a file, valid while its size and mtime hold.
type HashEntry = (u64, std::time::SystemTime, String, String);

struct State {
    root: PathBuf,
    users: Vec<FakeUser>,
    /// Faults in force, by method (`None`: every method).
    faults: Mutex<Vec<(Option<Method>, Fault)>>,
    /// The read list of each object that has one (`["*"]` for everyone).
    sharing: Mutex<HashMap<String, Vec<String>>>,
    /// Every `X-Object-Sharing` value applied, with its object.
    sharing_log: Mutex<Vec<(String, String)>>,
    seen: Mutex<Vec<Seen>>,
    hashes: Mutex<HashMap<PathBuf, HashEntry>>,
    /// `ETag` is the Merkle hash rather than the MD5, as on a Pithos with
    /// `PITHOS_UPDATE_MD5 = False`.
    etag_is_merkle: AtomicBool,
    /// Uploads are stored with a byte too many, as a broken store might.
    corrupt_uploads: AtomicBool,
    /// Bytes of uploads' bodies received, complete or not.
    put_bytes: std::sync::atomic::AtomicU64,
    /// Where object uploads are written until they are complete.
    incoming: tempfile::TempDir,
}

/// A running fake Pithos.
pub struct FakePithos {
    state: Arc<State>,
    served: Served,
}

fn status(code: u16, text: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(code).unwrap())
        .content_type("text/plain")
        .body(text.to_string())
}

/// The segments of a request path under the prefix, decoded; `None` if any
/// is empty, `.`, `..`, holds a NUL or does not decode.
fn path_segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix(PREFIX)?.strip_prefix('/')?;
    let segments: Vec<String> = rest
        .split('/')
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
        })
        .collect::<Result<_, _>>()
        .ok()?;
    if segments
        .iter()
        .any(|s| s.is_empty() || s == "." || s == ".." || s.contains('\0'))
    {
        return None;
    }
    Some(segments)
}

/// `<account>/<container>/<object path>` of a request path, decoded, with the
/// object's segments; `None` for a path that names no object.
fn object_path(path: &str) -> Option<(String, String, Vec<String>)> {
    let segments = path_segments(path)?;
    if segments.len() < 3 {
        return None;
    }
    Some((
        segments[0].clone(),
        segments[1].clone(),
        segments[2..].to_vec(),
    ))
}

/// Parses `X-Object-Sharing` as Pithos does: spaces dropped, `;`-separated
/// `read=`/`write=` lists of lower-cased names, `*` standing for everyone,
/// an empty value clearing it. Returns the read list (empty: none).
fn parse_sharing(value: &str) -> Result<Vec<String>, String> {
    let value = value.replace(' ', "");
    let mut read = Vec::new();
    if value.is_empty() {
        return Ok(read);
    }
    for perm in value.split(';') {
        let list = if let Some(l) = perm.strip_prefix("read=") {
            Some(l)
        } else if perm.strip_prefix("write=").is_some() {
            None
        } else {
            return Err(format!(
                "Bad X-Object-Sharing header value: missing prefix in {perm:?}"
            ));
        };
        if let Some(list) = list {
            let mut names: Vec<String> = list
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_lowercase)
                .collect();
            names.sort();
            names.dedup();
            if names.is_empty() {
                return Err("Bad X-Object-Sharing header value: invalid length".into());
            }
            if names.iter().any(|n| n == "*") {
                names = vec!["*".into()];
            }
            read = names;
        }
    }
    Ok(read)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` as Pithos reads them: `None` when the
/// header is to be ignored, `Some(None)` when it is out of the object's
/// limits, `Some(Some((offset, length)))` otherwise.
fn parse_range(header: &str, size: u64) -> Option<Option<(u64, u64)>> {
    let spec = header.replace(' ', "");
    let spec = spec.strip_prefix("bytes=")?;
    if spec.contains(',') {
        // Several ranges (multipart/byteranges): plankton never asks for them.
        return Some(None);
    }
    let (a, b) = spec.split_once('-')?;
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) || (a.is_empty() && b.is_empty()) {
        return None;
    }
    let (offset, length) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (i128::from(size) - i128::from(n), i128::from(n))
    } else {
        let offset: u64 = a.parse().ok()?;
        if b.is_empty() {
            (i128::from(offset), i128::from(size) - i128::from(offset))
        } else {
            let upto: u64 = b.parse().ok()?;
            if offset > upto {
                return None;
            }
            (
                i128::from(offset),
                i128::from(upto) - i128::from(offset) + 1,
            )
        }
    };
    let size = i128::from(size);
    // Pithos refuses any range past the end (RFC 7233 would cut it).
    if length <= 0 || length > size || offset < 0 || offset >= size || offset + length > size {
        return Some(None);
    }
    Some(Some((offset as u64, length as u64)))
}

impl State {
    fn fault_for(&self, method: &Method) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap()
            .iter()
            .find(|(m, _)| m.as_ref().is_none_or(|m| m == method))
            .map(|(_, f)| f.clone())
    }

    /// The object's Merkle hash and MD5, computed once per (size, mtime).
    fn hashes_of(
        &self,
        file: &Path,
        meta: &std::fs::Metadata,
    ) -> std::io::Result<(String, String)> {
        let stamp = (meta.len(), meta.modified()?);
        if let Some((len, mtime, merkle, md5)) = self.hashes.lock().unwrap().get(file) {
            if (*len, *mtime) == stamp {
                return Ok((merkle.clone(), md5.clone()));
            }
        }
        let data = std::fs::read(file)?;
        let merkle = merkle_hex(&data);
        let md5 = hex::encode(Md5::digest(&data));
        self.hashes.lock().unwrap().insert(
            file.to_path_buf(),
            (data.len() as u64, stamp.1, merkle.clone(), md5.clone()),
        );
        Ok((merkle, md5))
    }
}

/// A body of `size` bytes that is never sent: what a `HEAD` answer declares.
struct Declared(u64);

impl MessageBody for Declared {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.0)
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<web::Bytes, Self::Error>>> {
        std::task::Poll::Ready(None)
    }
}

async fn object(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<Arc<State>>,
) -> HttpResponse {
    let method = req.method().clone();
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let user = token
        .as_deref()
        .and_then(|t| state.users.iter().find(|u| u.token == t))
        .map(|u| u.id.clone());
    let parsed = object_path(req.uri().path());
    state.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: parsed.as_ref().map_or_else(
            || req.uri().path().to_string(),
            |(a, c, o)| format!("{a}/{c}/{}", o.join("/")),
        ),
        user: user.clone(),
        range: req
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    });
    match state.fault_for(&method) {
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::Status(code)) => return status(code, "told to fail"),
        None => {}
    }
    let Some(user) = user else {
        return status(401, "Missing or invalid token");
    };
    let Some((account, container, segments)) = parsed else {
        return match path_segments(req.uri().path()) {
            Some(s) if s.len() == 2 => container_request(&method, &state, &user, &s[0], &s[1]),
            _ => status(400, "The request is invalid: not an object path"),
        };
    };
    let key = format!("{account}/{container}/{}", segments.join("/"));
    let mut file = state.root.join(&account).join(&container);
    file.extend(&segments);
    let owner = user == account;
    if method == Method::PUT || method == Method::DELETE {
        if !owner {
            return status(403, "Not allowed");
        }
        if method == Method::DELETE {
            return match std::fs::remove_file(&file) {
                Ok(()) => HttpResponse::NoContent().finish(),
                Err(_) => status(404, "Object does not exist"),
            };
        }
        let dir = state.root.join(&account).join(&container);
        return put_object(&req, body, &state, &dir, &file).await;
    }

    if method == Method::POST {
        let query = req.query_string();
        if !query
            .split('&')
            .any(|p| p == "update" || p.starts_with("update="))
        {
            return status(400, "This fake Pithos only updates metadata (?update)");
        }
        if !owner {
            return status(403, "Not allowed");
        }
        if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
            return status(404, "Object does not exist");
        }
        if let Some(value) = req.headers().get("x-object-sharing") {
            let Ok(value) = value.to_str() else {
                return status(400, "Bad X-Object-Sharing header value");
            };
            let read = match parse_sharing(value) {
                Ok(read) => read,
                Err(e) => return status(400, &e),
            };
            state
                .sharing_log
                .lock()
                .unwrap()
                .push((key.clone(), value.to_string()));
            let mut sharing = state.sharing.lock().unwrap();
            if read.is_empty() {
                sharing.remove(&key);
            } else {
                sharing.insert(key, read);
            }
        }
        return HttpResponse::Accepted().finish();
    }
    if method != Method::HEAD && method != Method::GET {
        return status(405, "Method not allowed");
    }

    // Pithos checks permission before it looks the object up.
    let readers = state.sharing.lock().unwrap().get(&key).cloned();
    let may_read = owner
        || readers
            .as_ref()
            .is_some_and(|r| r.iter().any(|n| n == "*" || *n == user));
    if !may_read {
        return status(403, "Not allowed");
    }
    let meta = match std::fs::metadata(&file) {
        Ok(m) if m.is_file() => m,
        _ => return status(404, "Object does not exist"),
    };
    let size = meta.len();
    let st = state.clone();
    let f = file.clone();
    let m = meta.clone();
    let Ok(Ok((merkle, md5))) = web::block(move || st.hashes_of(&f, &m)).await else {
        return status(404, "Object does not exist");
    };
    let etag = if state.etag_is_merkle.load(Ordering::SeqCst) {
        merkle.clone()
    } else {
        md5
    };
    let mut resp = HttpResponse::Ok();
    resp.content_type("application/octet-stream")
        .insert_header(("ETag", etag))
        .insert_header(("X-Object-Hash", merkle));
    if let Some(r) = &readers {
        resp.insert_header(("X-Object-Sharing", format!("read={}", r.join(","))));
    }
    if method == Method::HEAD {
        return resp.body(Declared(size));
    }
    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|h| parse_range(h, size));
    let (offset, length) = match range {
        None => (0, size),
        Some(None) => {
            return HttpResponse::RangeNotSatisfiable()
                .insert_header(("Content-Range", format!("bytes */{size}")))
                .finish()
        }
        Some(Some((offset, length))) => {
            resp.status(StatusCode::PARTIAL_CONTENT).insert_header((
                "Content-Range",
                format!("bytes {}-{}/{size}", offset, offset + length - 1),
            ));
            (offset, length)
        }
    };
    let read = web::block(move || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(&file)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; length as usize];
        f.read_exact(&mut buf)?;
        Ok(buf)
    })
    .await;
    match read {
        Ok(Ok(data)) => resp.body(data),
        _ => status(404, "Object does not exist"),
    }
}

/// `HEAD` a container (its block size and hash) or `PUT` it (made if
/// missing); the owner's alone.
fn container_request(
    method: &Method,
    state: &State,
    user: &str,
    account: &str,
    container: &str,
) -> HttpResponse {
    if user != account {
        return status(403, "Not allowed");
    }
    let dir = state.root.join(account).join(container);
    if *method == Method::HEAD || *method == Method::GET {
        if !dir.is_dir() {
            return status(404, "Container does not exist");
        }
        return HttpResponse::NoContent()
            .insert_header(("X-Container-Block-Size", BLOCK.to_string()))
            .insert_header(("X-Container-Block-Hash", "sha256"))
            .finish();
    }
    if *method == Method::PUT {
        if dir.is_dir() {
            return HttpResponse::Accepted().finish();
        }
        return match std::fs::create_dir_all(&dir) {
            Ok(()) => HttpResponse::Created().finish(),
            Err(e) => status(500, &e.to_string()),
        };
    }
    status(405, "Method not allowed")
}

/// `PUT` an object's data, plain or chunked: written to a file outside the
/// root and moved to `file` only once the whole body arrived, as Pithos
/// creates an object's version only at the end of its upload. The file is
/// removed if the upload breaks off (actix may drop the handler then,
/// rather than tell it).
async fn put_object(
    req: &HttpRequest,
    mut body: web::Payload,
    state: &Arc<State>,
    container: &Path,
    file: &Path,
) -> HttpResponse {
    use futures_util::StreamExt;
    use std::io::Write;
    if !container.is_dir() {
        return status(404, "Container does not exist");
    }
    if !req.headers().contains_key("content-type") {
        return status(411, "Missing Content-Type");
    }
    let exists = file.exists();
    if exists && req.headers().get("if-none-match").is_some_and(|v| v == "*") {
        return status(412, "Object exists");
    }
    let mut out = tempfile::NamedTempFile::new_in(state.incoming.path()).unwrap();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => {
                state.put_bytes.fetch_add(c.len() as u64, Ordering::SeqCst);
                out.write_all(&c).unwrap();
            }
            Err(_) => return status(400, "The request body stopped short"),
        }
    }
    if state.corrupt_uploads.load(Ordering::SeqCst) {
        out.write_all(b"!").unwrap();
    }
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    out.persist(file).unwrap();
    let meta = std::fs::metadata(file).unwrap();
    let (merkle, md5) = state.hashes_of(file, &meta).unwrap();
    let etag = if state.etag_is_merkle.load(Ordering::SeqCst) {
        merkle
    } else {
        md5
    };
    HttpResponse::Created()
        .insert_header(("ETag", etag))
        .finish()
}

impl FakePithos {
    /// Starts a fake Pithos serving the objects under `root` to `users`, over
    /// TLS if given a configuration.
    pub fn start(root: &Path, users: &[FakeUser], tls: Option<rustls::ServerConfig>) -> FakePithos {
        let state = Arc::new(State {
            root: root.to_path_buf(),
            users: users.to_vec(),
            faults: Mutex::new(Vec::new()),
            sharing: Mutex::new(HashMap::new()),
            sharing_log: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            hashes: Mutex::new(HashMap::new()),
            etag_is_merkle: AtomicBool::new(false),
            corrupt_uploads: AtomicBool::new(false),
            put_bytes: Default::default(),
            incoming: tempfile::tempdir().unwrap(),
        });
        let data = web::Data::new(Arc::clone(&state));
        let served = serve(tls, move |cfg| {
            cfg.app_data(data.clone()).default_service(web::to(object));
        });
        FakePithos { state, served }
    }

    /// The `store.pithos_url` that reaches it.
    pub fn url(&self) -> String {
        format!("{}{PREFIX}", self.served.origin)
    }

    /// Makes requests of `method` (every method if `None`) misbehave.
    pub fn fail(&self, method: Option<Method>, fault: Fault) {
        self.state.faults.lock().unwrap().insert(0, (method, fault));
    }

    /// Makes `ETag` the Merkle hash (Pithos without `UPDATE_MD5`) or the MD5.
    pub fn etag_is_merkle(&self, merkle: bool) {
        self.state.etag_is_merkle.store(merkle, Ordering::SeqCst);
    }

    /// Bytes of uploads' bodies it received until now, complete or not.
    pub fn put_bytes(&self) -> u64 {
        self.state.put_bytes.load(Ordering::SeqCst)
    }

    /// Makes uploads store a byte more than they were sent.
    pub fn corrupt_uploads(&self, on: bool) {
        self.state.corrupt_uploads.store(on, Ordering::SeqCst);
    }

    /// Ends every fault.
    pub fn heal(&self) {
        self.state.faults.lock().unwrap().clear();
    }

    /// The read list of an object (`<account>/<container>/<object>`),
    /// sorted; empty if it is shared with no one.
    pub fn readers(&self, path: &str) -> Vec<String> {
        self.state
            .sharing
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// Every `X-Object-Sharing` value applied to an object, in order.
    pub fn sharing_log(&self, path: &str) -> Vec<String> {
        self.state
            .sharing_log
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Files written to until now but not yet complete (uploads in progress
    /// or abandoned).
    pub fn incomplete_uploads(&self) -> usize {
        std::fs::read_dir(self.state.incoming.path())
            .unwrap()
            .count()
    }

    /// Every request it was sent, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}
