//! Reading the object-store surface's requests: names in the path, the
//! metadata and sharing headers, preconditions, and bodies as streams.

use crate::domain::text::{check_text, TextUse};
use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderMap};
use actix_web::HttpRequest;

use crate::domain::ids::truncate;
use crate::domain::location::{account_name, container_name, Location};
use crate::domain::objects::conditions::{etag_list, http_date, Preconditions};
use crate::domain::objects::{
    MetaChange, Sharing, DEFAULT_CONTENT_TYPE, MAX_META_KEY, MAX_META_VALUE,
};
use crate::domain::range::ByteRange;
use crate::error::AppError;
use crate::http::body::Limits;
use crate::registry::containers::Body;
use crate::registry::writes::CopyFrom;

/// The account of the path, decoded and checked.
pub(super) fn account(raw: &str) -> Result<String, AppError> {
    account_name(raw)
        .map_err(|why| AppError::invalid(format!("Invalid account '{}': {why}", truncate(raw, 80))))
}

/// The account and container of the path, decoded and checked.
pub(super) fn container(account_raw: &str, raw: &str) -> Result<(String, String), AppError> {
    let a = account(account_raw)?;
    let c = container_name(raw).map_err(|why| {
        AppError::invalid(format!("Invalid container '{}': {why}", truncate(raw, 80)))
    })?;
    plain_name("container", &c)?;
    Ok((a, c))
}

/// The object of the path.
pub(super) fn object(account: &str, container: &str, object: &str) -> Result<Location, AppError> {
    let loc = Location::from_store_path(account, container, object)?;
    plain_name("container", loc.container())?;
    plain_name("object", &loc.object_path())?;
    Ok(loc)
}

/// The longest path segment a file system takes (a longer one would fail
/// deep in the store, so it is refused here).
const MAX_SEGMENT: usize = 255;

/// 400 for a name with a segment over `MAX_SEGMENT` bytes or a control
/// character (C0, DEL, C1): those break the text listing, one name a line.
fn plain_name(what: &str, name: &str) -> Result<(), AppError> {
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid(format!(
            "Invalid {what} name '{}': it holds a control character",
            truncate(&name.escape_default().to_string(), 200)
        )));
    }
    if name.split('/').any(|seg| seg.len() > MAX_SEGMENT) {
        return Err(AppError::invalid(format!(
            "Invalid {what} name '{}': a path segment is at most {MAX_SEGMENT} bytes",
            truncate(name, 200)
        )));
    }
    Ok(())
}

fn text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, AppError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => std::str::from_utf8(v.as_bytes())
            // HTTP's optional whitespace only: `str::trim` would also eat
            // Unicode spaces such as NEL (U+0085), a C1 control.
            .map(|s| Some(s.trim_matches([' ', '\t'])))
            .map_err(|_| AppError::invalid(format!("Invalid {name} header: it is not UTF-8"))),
    }
}

/// The content type of a write, as sent (no MIME check), or the default.
pub(super) fn content_type(headers: &HeaderMap) -> Result<String, AppError> {
    Ok(text(headers, "content-type")?
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_CONTENT_TYPE)
        .to_string())
}

/// Whether the body is blocks to store: `Content-Type` exactly `application/octet-stream`.
pub(super) fn is_blocks(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/octet-stream")
}

/// The sharing, publicity and `X-Object-Meta-*` headers of a write.
pub(super) fn meta_change(headers: &HeaderMap, merge: bool) -> Result<MetaChange, AppError> {
    let sharing = text(headers, "x-object-sharing")?
        .map(Sharing::parse)
        .transpose()?;
    let public = match text(headers, "x-object-public")? {
        None => None,
        Some(v) if v.is_empty() || v.eq_ignore_ascii_case("false") => Some(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) => {
            return Err(AppError::invalid(format!(
                "Invalid X-Object-Public '{}': expected true or false",
                truncate(v, 40)
            )))
        }
    };
    let mut meta = BTreeMap::new();
    for (name, _) in headers {
        let Some(key) = name.as_str().strip_prefix("x-object-meta-") else {
            continue;
        };
        let value = text(headers, name.as_str())?.unwrap_or_default();
        if key.is_empty() || key.len() > MAX_META_KEY || value.len() > MAX_META_VALUE {
            return Err(AppError::invalid(format!(
                "Invalid X-Object-Meta-{}: a key is 1-{MAX_META_KEY} bytes, a value at most {MAX_META_VALUE}",
                truncate(key, 80)
            )));
        }
        // No terminal escape or line break in what listings show others
        // (issue 25 item 7); a header can carry C1 controls as UTF-8.
        check_text("X-Object-Meta key", key, TextUse::Label).map_err(AppError::invalid)?;
        check_text("X-Object-Meta value", value, TextUse::Value).map_err(AppError::invalid)?;
        meta.insert(key.to_string(), value.to_string());
    }
    Ok(MetaChange {
        sharing,
        public,
        meta,
        merge,
    })
}

/// The request's preconditions.
pub(super) fn preconditions(headers: &HeaderMap) -> Result<Preconditions, AppError> {
    Ok(Preconditions {
        if_match: text(headers, "if-match")?.map(etag_list),
        if_none_match: text(headers, "if-none-match")?.map(etag_list),
        if_modified_since: text(headers, "if-modified-since")?.and_then(http_date),
        if_unmodified_since: text(headers, "if-unmodified-since")?.and_then(http_date),
    })
}

/// The `ETag` a write's data must have, quotes dropped.
pub(super) fn etag(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    Ok(text(headers, "etag")?
        .map(|e| e.trim_matches('"').to_ascii_lowercase())
        .filter(|e| !e.is_empty()))
}

/// The `Range` of a read.
pub(super) fn range(headers: &HeaderMap) -> Result<Option<ByteRange>, AppError> {
    match text(headers, "range")? {
        None => Ok(None),
        Some(v) => ByteRange::parse(v),
    }
}

/// The `Content-Length` sent, if any (unparsable: 400).
pub(super) fn content_length(http: &HttpRequest) -> Result<Option<u64>, AppError> {
    match text(http.headers(), "content-length")? {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            AppError::invalid(format!("Invalid Content-Length '{}'", truncate(v, 40)))
        }),
    }
}

/// The body as a stream of chunks: an error ends it (a body cut short, or
/// no byte for a while).
pub(super) use crate::http::body::stream as body;

/// A whole body of at most `limit` bytes, each chunk within the stream's
/// idle bound (the hashmap of a large object may be slow to come).
pub(super) async fn read_all(body: Body, limit: usize) -> Result<Vec<u8>, AppError> {
    let limits = Limits {
        size: limit,
        deadline: None,
    };
    crate::http::body::read(body, None, limits).await
}

/// The source of a copy or move (`X-Copy-From` / `X-Move-From`:
/// `/<container>/<object>`, percent-encoded, in `X-Source-Account` or the
/// caller's account), if the request is one. Both headers at once, a
/// malformed path, or `X-Source-Version` (versions are not kept) refuse it.
pub(super) fn copy_from(
    headers: &HeaderMap,
    caller: &str,
    tree: bool,
) -> Result<Option<CopyFrom>, AppError> {
    let copy = text(headers, "x-copy-from")?;
    let moving = text(headers, "x-move-from")?;
    let (path, moving) = match (copy, moving) {
        (None, None) => return Ok(None),
        (Some(p), None) => (p, false),
        (None, Some(p)) => (p, true),
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                "X-Copy-From and X-Move-From together: a request copies or moves, not both",
            ))
        }
    };
    if headers.contains_key("x-source-version") {
        return Err(AppError::Unsupported(
            "X-Source-Version: object versions are not kept here, only the current one".into(),
        ));
    }
    let account_raw = text(headers, "x-source-account")?
        .filter(|a| !a.is_empty())
        .unwrap_or(caller)
        .to_string();
    let bad = || {
        AppError::invalid(format!(
            "Invalid {} '{}': expected /<container>/<object>",
            if moving { "X-Move-From" } else { "X-Copy-From" },
            truncate(path, 200)
        ))
    };
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    let (container, name) = rest.split_once('/').ok_or_else(bad)?;
    let source = object(&account_raw, container, name)?;
    Ok(Some(CopyFrom {
        source,
        moving,
        tree,
    }))
}
