//! The first step of every request: which surface its path belongs to (the
//! image API in one of its dialects, the offline identity, the object store,
//! the web view, the health check), and the route in that surface's table,
//! matched once: its handler goes to the surface, its label to the metrics.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::Dialect;
use crate::error::AppError;
use crate::http::metrics::{self, RouteName};
use crate::http::routing::Lookup;
use crate::http::{fault, AppState};

/// A surface, with the path left for it to route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface<'a> {
    /// The image API, and the path after its dialect's prefix.
    Images(Dialect, &'a str),
    /// The offline identity endpoints.
    Identity(&'a str),
    /// The object-store endpoint, and the path after the base.
    ObjectStore(&'a str),
    /// `GET <base>/healthz`.
    Health,
    /// `GET <base>/metrics`.
    Metrics,
    /// The web view, and the path after the base (`ui` or `ui/...`).
    Web(&'a str),
    /// The image API v2, and the path after `/v2/` (empty for `/v2`).
    V2(&'a str),
}

/// The surface of a raw request path under `base` (empty, or `/something`
/// without a trailing slash); `None` is a path outside the base.
pub(crate) fn surface<'a>(path: &'a str, base: &str) -> Option<Surface<'a>> {
    let rest = path.strip_prefix(base)?;
    Some(match rest {
        "" | "/" | "/versions" | "/v1.0" => Surface::Images(Dialect::Cyclades, ""),
        "/v1" => Surface::Images(Dialect::Glance, ""),
        "/v2" => Surface::V2(""),
        "/healthz" => Surface::Health,
        "/metrics" => Surface::Metrics,
        r => {
            if let Some(r) = r.strip_prefix("/v1.0/") {
                Surface::Images(Dialect::Cyclades, r)
            } else if let Some(r) = r.strip_prefix("/v1/") {
                Surface::Images(Dialect::Glance, r)
            } else if let Some(r) = r.strip_prefix("/v2/") {
                Surface::V2(r)
            } else {
                let r = r.strip_prefix('/')?;
                if crate::objects::owns(r) {
                    Surface::ObjectStore(r)
                } else if crate::web::owns(r) {
                    Surface::Web(r)
                } else if crate::identity::owns(r) {
                    Surface::Identity(r)
                } else {
                    Surface::Images(Dialect::Cyclades, r)
                }
            }
        }
    })
}

/// The label of a request that matched no route, in the metrics.
const UNMATCHED: &str = "unmatched";

/// A request's surface with the route found in its table, matched once:
/// owned, so that the request can be handed on.
enum Routed {
    Images(Dialect, Lookup<'static, crate::api::Handler>),
    Identity(Lookup<'static, crate::identity::Handler>),
    ObjectStore(Lookup<'static, crate::objects::Handler>),
    Health,
    Metrics,
    Web(Option<Lookup<'static, crate::web::Handler>>),
    V2(Lookup<'static, crate::v2::Handler>),
    Outside,
}

/// The surface and route of a request, and its label in the metrics (the
/// route's pattern, never the path itself, so that the label's values stay few).
fn route(req: &HttpRequest, base: &str) -> (Routed, &'static str) {
    let method = req.method().as_str();
    match surface(req.uri().path(), base) {
        Some(Surface::Images(dialect, rest)) => {
            let found = crate::api::route(dialect, rest, method);
            let label = found.label.unwrap_or(UNMATCHED);
            (Routed::Images(dialect, found), label)
        }
        Some(Surface::Identity(rest)) => (
            Routed::Identity(crate::identity::route(rest, method)),
            crate::identity::LABEL,
        ),
        Some(Surface::ObjectStore(rest)) => {
            let found = crate::objects::route(rest, method);
            let label = found.label.unwrap_or(UNMATCHED);
            (Routed::ObjectStore(found), label)
        }
        Some(Surface::Health) => (Routed::Health, "/healthz"),
        Some(Surface::Metrics) => (Routed::Metrics, "/metrics"),
        Some(Surface::Web(rest)) => (
            Routed::Web(crate::web::route(rest, method)),
            crate::web::LABEL,
        ),
        Some(Surface::V2(rest)) => {
            let found = crate::v2::route(rest, method);
            let label = found.label.unwrap_or(UNMATCHED);
            (Routed::V2(found), label)
        }
        None => (Routed::Outside, UNMATCHED),
    }
}

/// The one entry point of the server.
pub(crate) async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    // A browser at the front door is shown the web view (docs/api.md §15).
    let root = req
        .uri()
        .path()
        .strip_prefix(state.base_path.as_str())
        .is_some_and(|r| r.is_empty() || r == "/");
    let read = matches!(req.method().as_str(), "GET" | "HEAD");
    if root && read && crate::web::prefers_html(req.headers()) {
        let mut resp = crate::web::front_door(&state.base_path);
        resp.extensions_mut().insert(RouteName("/"));
        return resp;
    }
    let (routed, label) = route(&req, &state.base_path);
    let mut resp = match routed {
        Routed::Images(dialect, found) => {
            crate::api::serve(req, payload, state, dialect, found).await
        }
        Routed::Identity(found) => crate::identity::serve(req, payload, state, found).await,
        Routed::ObjectStore(found) => crate::objects::serve(req, payload, state, found).await,
        Routed::Health => health(&req, &state).await,
        Routed::Metrics => metrics::serve(&req, &state.metrics, state.metrics_access),
        Routed::Web(found) => crate::web::serve(req, payload, state, found).await,
        Routed::V2(found) => crate::v2::serve(req, payload, state, found).await,
        Routed::Outside => fault::json(&crate::http::missed(
            &req,
            crate::http::routing::Miss::NoRoute,
        )),
    };
    resp.extensions_mut().insert(RouteName(label));
    resp
}

/// `GET <base>/healthz`: 200 when the database answers, 503 otherwise.
/// It says no more than that, to anyone: how many images the catalogue
/// holds (private ones and tombstones included) is not for everyone to
/// learn (issue 25, item 9), and a monitor needs only the status.
async fn health(req: &HttpRequest, state: &AppState) -> HttpResponse {
    if !matches!(req.method().as_str(), "GET" | "HEAD") {
        return fault::json(&AppError::MethodNotAllowed {
            method: req.method().to_string(),
            allow: "GET, HEAD".into(),
        });
    }
    match state.registry.health().await {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Err(e) => {
            log::error!("health check failed: {e}");
            fault::json(&AppError::Unavailable(
                "The database does not answer".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::proptests::config;
    use proptest::prelude::*;

    #[test]
    fn every_prefix_leads_to_its_surface() {
        fn s(p: &str) -> Option<Surface<'_>> {
            surface(p, "/base")
        }
        for (prefix, dialect) in [
            ("", Dialect::Cyclades),
            ("/v1.0", Dialect::Cyclades),
            ("/v1", Dialect::Glance),
        ] {
            let (images, root) = (format!("/base{prefix}/images/x"), format!("/base{prefix}/"));
            assert_eq!(s(&images), Some(Surface::Images(dialect, "images/x")));
            assert_eq!(s(&root), Some(Surface::Images(dialect, "")));
        }
        assert_eq!(
            s("/base/versions"),
            Some(Surface::Images(Dialect::Cyclades, ""))
        );
        assert_eq!(s("/base"), Some(Surface::Images(Dialect::Cyclades, "")));
        assert_eq!(s("/base/healthz"), Some(Surface::Health));
        assert_eq!(s("/base/v2"), Some(Surface::V2("")));
        assert_eq!(s("/base/v2/"), Some(Surface::V2("")));
        assert_eq!(s("/base/v2/images/x"), Some(Surface::V2("images/x")));
        assert_eq!(
            s("/base/v2x"),
            Some(Surface::Images(Dialect::Cyclades, "v2x"))
        );
        assert_eq!(
            s("/base/object-store/v1/a"),
            Some(Surface::ObjectStore("object-store/v1/a"))
        );
        assert_eq!(
            s("/base/identity/v2.0/tokens"),
            Some(Surface::Identity("identity/v2.0/tokens"))
        );
        assert_eq!(s("/base/ui"), Some(Surface::Web("ui")));
        assert_eq!(s("/base/ui/images/x"), Some(Surface::Web("ui/images/x")));
        assert_eq!(
            s("/base/uix"),
            Some(Surface::Images(Dialect::Cyclades, "uix"))
        );
        assert_eq!(s("/images"), None);
        assert_eq!(s("/basement/images"), None);
    }

    /// The image API route of a path: its dialect, its label and the
    /// parameters taken from it (through whichever of GET and PUT it takes).
    fn resolve(path: &str, base: &str) -> Option<(Dialect, &'static str, Vec<String>)> {
        let Some(Surface::Images(dialect, rest)) = surface(path, base) else {
            return None;
        };
        ["GET", "PUT"].iter().find_map(|method| {
            let lookup = crate::api::route(dialect, rest, method);
            Some((dialect, lookup.label?, lookup.found.ok()?.params))
        })
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn routes_resolve_or_are_a_404_and_never_panic(
            segs in prop::collection::vec(prop_oneof![
                Just("images".to_string()), Just("detail".to_string()), Just("members".to_string()),
                Just("shared-images".to_string()), Just("v1".to_string()), Just("v1.0".to_string()),
                Just(String::new()), "[a-z0-9%-]{1,8}", any::<String>(),
            ], 0..6),
            base in prop_oneof![Just(""), Just("/base")],
        ) {
            let path = format!("/{}", segs.join("/"));
            if let Some((_, label, params)) = resolve(&path, base) {
                prop_assert_eq!(params.len(), label.matches("{}").count());
                for p in params {
                    prop_assert!(!p.is_empty() && !p.contains('/'), "{:?} -> {:?}", path, label);
                }
            }
        }

        #[test]
        fn routes_with_any_parameter_resolve_to_it(id in "[^/]{1,40}", member in "[^/]{1,40}", prefix in prop_oneof![Just(""), Just("/v1.0"), Just("/v1")]) {
            prop_assume!(id != "detail");
            let (dialect, label) = if prefix == "/v1" { (Dialect::Glance, "/v1") } else { (Dialect::Cyclades, "") };
            let image = format!("{label}/images/{{}}");
            let member_route = format!("{label}/images/{{}}/members/{{}}");
            let shared = format!("{label}/shared-images/{{}}");
            let got = |p: String| resolve(&p, "").map(|(d, l, params)| (d, l.to_string(), params));
            prop_assert_eq!(got(format!("{prefix}/images/{id}")), Some((dialect, image, vec![id.clone()])));
            prop_assert_eq!(got(format!("{prefix}/images/{id}/members/{member}")), Some((dialect, member_route, vec![id.clone(), member.clone()])));
            prop_assert_eq!(got(format!("{prefix}/shared-images/{member}")), Some((dialect, shared, vec![member])));
        }
    }
}
