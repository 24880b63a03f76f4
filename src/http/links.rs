//! Where clients reach this service, for the links it writes (the versions
//! document, the identity catalog, public object URLs, v2's `Location`) and
//! for the web view's `Secure` cookie: `public_url` when it is set; else
//! the request's own scheme (TLS or not) and `Host`, the proxy's
//! `Forwarded` / `X-Forwarded-*` headers only when trusted.

use actix_web::http::header;
use actix_web::{web, HttpRequest};

use crate::http::AppState;

/// How links are built.
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    /// The URL clients reach `<base>` at, without a trailing `/`.
    pub(crate) public_url: Option<String>,
    /// Whether a proxy's forwarded headers are believed.
    pub(crate) trust_forwarded: bool,
}

/// `<scheme>://<host><base>` as the client should see it.
pub(crate) fn public_root(http: &HttpRequest) -> String {
    let Some(state) = http.app_data::<web::Data<AppState>>() else {
        return own_root(http, "", false);
    };
    match &state.links.public_url {
        Some(url) => url.clone(),
        None => own_root(http, &state.base_path, state.links.trust_forwarded),
    }
}

/// Whether the client reaches this service over HTTPS, for the `Secure`
/// cookie: a proxy's say-so counts even when not trusted for links, since a
/// client that claims HTTPS falsely only keeps its own cookie from coming
/// back over plain HTTP.
pub(crate) fn is_https(http: &HttpRequest) -> bool {
    public_root(http).starts_with("https://") || http.connection_info().scheme() == "https"
}

fn own_root(http: &HttpRequest, base_path: &str, trusted: bool) -> String {
    if trusted {
        let info = http.connection_info();
        return format!(
            "{}://{}{base_path}",
            info.scheme(),
            fit_host(info.host(), http)
        );
    }
    let scheme = if http.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = http
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| {
            http.uri()
                .authority()
                .map(actix_web::http::uri::Authority::as_str)
        })
        .unwrap_or_default();
    format!("{scheme}://{}{base_path}", fit_host(host, http))
}

/// `host` if it is a host (and port), else the address the request came
/// in on: a link never carries a client's odd bytes.
fn fit_host<'a>(host: &'a str, http: &'a HttpRequest) -> std::borrow::Cow<'a, str> {
    let fits = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    if fits {
        std::borrow::Cow::Borrowed(host)
    } else {
        std::borrow::Cow::Owned(http.app_config().host().to_string())
    }
}
