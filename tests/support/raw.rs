//! HTTP/1.1 over a raw socket, one request a connection, for what a client
//! library cannot send or hides (non-UTF-8 bytes, header names as written,
//! HEAD bodies), and so that a test sees exactly which requests were
//! answered: a request is answered only when its whole response was read.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response read off the socket.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code; 0 if the server closed the connection without one.
    pub status: u16,
    /// Header (lower-cased name, value) pairs as sent.
    pub headers: Vec<(String, String)>,
    /// The body: de-chunked by `parse_response`, every byte after the head
    /// (chunk framing and all) by `parse_raw`.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no (whole) answer.
#[derive(Debug)]
pub enum Failure {
    /// Could not connect.
    Connect(std::io::Error),
    /// Connected, but the request could not be sent or the answer was cut
    /// short (reset, EOF before the end, timeout).
    Cut(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "connect: {e}"),
            Failure::Cut(e) => write!(f, "cut: {e}"),
        }
    }
}

/// Sends `bytes` on a new connection and reads until the server closes:
/// what came back, and the error that ended the reading early, if one did.
pub fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    timeout: Duration,
) -> Result<(Vec<u8>, Option<std::io::Error>), Failure> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(Failure::Connect)?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| Failure::Cut(e.to_string()))?;
    stream
        .write_all(bytes)
        .map_err(|e| Failure::Cut(format!("send: {e}")))?;
    let mut buf = Vec::new();
    let cut = stream.read_to_end(&mut buf).err();
    Ok((buf, cut))
}

/// Sends one request and reads its whole answer. `headers` are sent as given
/// (raw bytes); Host, Connection and Content-Length are added.
pub fn request<K: AsRef<str>>(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(K, Vec<u8>)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, Failure> {
    let mut raw = Vec::with_capacity(256 + body.len());
    raw.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n").as_bytes());
    raw.extend_from_slice(b"Connection: close\r\n");
    for (k, v) in headers {
        raw.extend_from_slice(k.as_ref().as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(v);
        raw.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        raw.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(body);
    let (buf, cut) = exchange(addr, &raw, timeout)?;
    if let Some(e) = cut {
        return Err(Failure::Cut(format!("read: {e} after {} bytes", buf.len())));
    }
    parse_response(&buf, method == "HEAD").map_err(Failure::Cut)
}

/// The status line and headers of a response, and every byte after them
/// as its body; `None` without a whole head.
fn parse_head(buf: &[u8]) -> Option<Result<Response, String>> {
    let end = find(buf, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let Some(status) = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()) else {
        return Some(Err(format!("bad status line {status_line:?}")));
    };
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Ok(Response {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    }))
}

/// The answer as it came: no head at all (the connection was closed) is
/// status 0, and the body is every byte after the head.
pub fn parse_raw(bytes: &[u8]) -> Response {
    match parse_head(bytes) {
        Some(head) => head.unwrap_or_else(|e| panic!("{e}")),
        None => Response {
            status: 0,
            headers: Vec::new(),
            body: bytes.to_vec(),
        },
    }
}

/// Parses a whole response; an incomplete one is an error.
pub fn parse_response(buf: &[u8], head_only: bool) -> Result<Response, String> {
    let mut resp = parse_head(buf).ok_or_else(|| format!("no head in {} bytes", buf.len()))??;
    let rest = std::mem::take(&mut resp.body);
    let status = resp.status;
    resp.body = if head_only || status == 204 || status == 304 {
        Vec::new()
    } else if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(&rest)?
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad length {len}"))?;
        if rest.len() < len {
            return Err(format!("body cut at {} of {len} bytes", rest.len()));
        }
        rest[..len].to_vec()
    } else {
        rest
    };
    Ok(resp)
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = find(rest, b"\r\n").ok_or("chunk size cut")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            return Err("chunk cut".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
