//! Routing (§1): which route and dialect a path is, and which methods it takes.

use actix_web::http::Method;

use super::Dialect;

/// A route of the API, with its raw (still percent-encoded) path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The versions document.
    Versions,
    /// `/images`
    Images,
    /// `/images/detail`
    ImagesDetail,
    /// `/images/{id}`
    Image(String),
    /// `/images/{id}/members`
    Members(String),
    /// `/images/{id}/members/{member}`
    Member(String, String),
    /// `/shared-images/{member}`
    SharedImages(String),
    /// `/identity/v2.0/tokens` (offline identity)
    Tokens,
    /// `/account/v1.0/user_catalogs` (offline identity)
    UserCatalogs,
    /// `/healthz`
    Health,
    /// `/object-store/...`: named in the offline service catalog, not served.
    ObjectStore,
}

impl Route {
    /// The methods the route takes, as an `Allow` header value.
    pub fn allow(&self) -> &'static str {
        match self {
            Route::Versions | Route::ImagesDetail | Route::SharedImages(_) | Route::Health => {
                "GET, HEAD"
            }
            Route::Images => "GET, HEAD, POST",
            Route::Image(_) => "GET, HEAD, PUT, DELETE",
            Route::Members(_) => "GET, HEAD, PUT",
            Route::Member(_, _) => "PUT, DELETE",
            Route::Tokens | Route::UserCatalogs => "POST",
            Route::ObjectStore => "GET, HEAD, PUT, POST, DELETE, COPY, MOVE",
        }
    }

    /// Whether the route takes `method`.
    pub fn accepts(&self, method: &Method) -> bool {
        self.allow().split(", ").any(|m| m == method.as_str())
    }
}

/// Resolves a raw request path under `base` (empty, or `/something` without a
/// trailing slash) to a dialect and route; `None` is a 404.
pub fn resolve(path: &str, base: &str) -> Option<(Dialect, Route)> {
    let rest = path.strip_prefix(base)?;
    match rest {
        "" | "/" | "/versions" => return Some((Dialect::Cyclades, Route::Versions)),
        "/v1.0" | "/v1.0/" => return Some((Dialect::Cyclades, Route::Versions)),
        "/v1" | "/v1/" => return Some((Dialect::Glance, Route::Versions)),
        "/healthz" => return Some((Dialect::Cyclades, Route::Health)),
        r if r == "/object-store" || r.starts_with("/object-store/") => {
            return Some((Dialect::Cyclades, Route::ObjectStore))
        }
        "/identity/v2.0/tokens" => return Some((Dialect::Cyclades, Route::Tokens)),
        "/account/v1.0/user_catalogs" => return Some((Dialect::Cyclades, Route::UserCatalogs)),
        _ => {}
    }
    let (dialect, rest) = if let Some(r) = rest.strip_prefix("/v1.0/") {
        (Dialect::Cyclades, r)
    } else if let Some(r) = rest.strip_prefix("/v1/") {
        (Dialect::Glance, r)
    } else {
        (Dialect::Cyclades, rest.strip_prefix('/')?)
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let route = match segs.as_slice() {
        ["images"] | ["images", ""] => Route::Images,
        ["images", "detail"] => Route::ImagesDetail,
        ["images", id] if !id.is_empty() => Route::Image(id.to_string()),
        ["images", id, "members"] if !id.is_empty() => Route::Members(id.to_string()),
        ["images", id, "members", m] if !id.is_empty() && !m.is_empty() => {
            Route::Member(id.to_string(), m.to_string())
        }
        ["shared-images", m] if !m.is_empty() => Route::SharedImages(m.to_string()),
        _ => return None,
    };
    Some((dialect, route))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_under_every_prefix() {
        for (prefix, dialect) in [
            ("", Dialect::Cyclades),
            ("/v1.0", Dialect::Cyclades),
            ("/v1", Dialect::Glance),
        ] {
            let r = |p: &str| resolve(&format!("/base{prefix}{p}"), "/base");
            assert_eq!(r("/images"), Some((dialect, Route::Images)));
            assert_eq!(r("/images/"), Some((dialect, Route::Images)));
            assert_eq!(r("/images/detail"), Some((dialect, Route::ImagesDetail)));
            assert_eq!(r("/images/x"), Some((dialect, Route::Image("x".into()))));
            assert_eq!(
                r("/images/x/members"),
                Some((dialect, Route::Members("x".into())))
            );
            assert_eq!(
                r("/images/x/members/u"),
                Some((dialect, Route::Member("x".into(), "u".into())))
            );
            assert_eq!(
                r("/shared-images/u"),
                Some((dialect, Route::SharedImages("u".into())))
            );
            assert_eq!(r("/images/detail/"), None);
            assert_eq!(r("/images/x/"), None);
            assert_eq!(r("/images//members"), None);
            assert_eq!(r("/imagesx"), None);
        }
        assert_eq!(
            resolve("/base/", "/base"),
            Some((Dialect::Cyclades, Route::Versions))
        );
        assert_eq!(
            resolve("/base/versions", "/base"),
            Some((Dialect::Cyclades, Route::Versions))
        );
        assert_eq!(resolve("/images", "/base"), None);
        assert_eq!(resolve("/basement/images", "/base"), None);
        assert_eq!(resolve("/", ""), Some((Dialect::Cyclades, Route::Versions)));
        assert_eq!(resolve("/v2/images", ""), None);
        assert_eq!(
            resolve("/base/identity/v2.0/tokens", "/base"),
            Some((Dialect::Cyclades, Route::Tokens))
        );
        assert_eq!(
            resolve("/base/account/v1.0/user_catalogs", "/base"),
            Some((Dialect::Cyclades, Route::UserCatalogs))
        );
    }
}
