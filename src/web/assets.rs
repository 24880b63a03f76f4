//! The stylesheet, script and icon of the web view, compiled into the
//! binary and served under `<base>/ui/static/` by names that carry a hash
//! of their content, so that browsers may keep them for a year: a new
//! build with other content has other names.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::HttpResponse;
use sha2::{Digest, Sha256};

/// One file served from the binary.
pub(crate) struct Asset {
    /// Its name under `static/`, with the hash.
    pub(crate) name: String,
    /// Its `ETag` (quoted).
    etag: String,
    content_type: &'static str,
    body: &'static str,
}

fn asset(stem: &str, ext: &str, content_type: &'static str, body: &'static str) -> Asset {
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    Asset {
        name: format!("{stem}.{}.{ext}", &hash[..12]),
        etag: format!("\"{}\"", &hash[..32]),
        content_type,
        body,
    }
}

/// The stylesheet of every page.
pub(crate) static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "style",
        "css",
        "text/css; charset=utf-8",
        include_str!("static/style.css"),
    )
});

/// The upload page's script: the progress bar, the only JavaScript.
pub(crate) static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "upload",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("static/upload.js"),
    )
});

/// The icon of every page.
pub(crate) static ICON: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "icon",
        "svg",
        "image/svg+xml",
        include_str!("static/icon.svg"),
    )
});

/// The asset of that name, if there is one.
pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    [&*STYLE, &*SCRIPT, &*ICON]
        .into_iter()
        .find(|a| a.name == name)
}

/// An asset's answer: `304` when the browser has it (`If-None-Match`), else
/// the file, to be kept for a year.
pub(crate) fn serve(a: &Asset, if_none_match: Option<&str>) -> HttpResponse {
    let cached = if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    let mut resp = if cached {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::ETAG, a.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"));
    if cached {
        return resp.finish();
    }
    resp.content_type(a.content_type).body(a.body)
}

/// `GET /ui/static/<name>`: an asset, open without a session.
pub(super) async fn get(r: super::Req) -> Result<HttpResponse, crate::error::AppError> {
    let name = r.params.first().map(String::as_str).unwrap_or_default();
    let asset = find(name).ok_or_else(|| {
        crate::error::AppError::NotFound(format!(
            "No static file '{}'",
            crate::domain::ids::truncate(name, 80)
        ))
    })?;
    let etag = r
        .http
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    Ok(serve(asset, etag))
}
