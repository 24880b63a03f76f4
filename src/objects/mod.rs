//! The object-store surface, `<base>/object-store/v1/<account>[/<container>[/<object>]]`
//! (docs/api.md §14): the part of Pithos's object API that kamaki and
//! snf-image-creator upload with, over the `fs` store. With the `pithos`
//! store the whole surface is not there (404): the real Pithos is.
//! Handlers parse, call one registry function, and render.

mod account;
mod container;
mod object;
mod parse;
mod render;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::objects::query::Query;
use crate::domain::percent::decode_query;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::http::routing::{find, Lookup, Route, Seg};
use crate::http::surface::{self, h, Halt, Surface};
use crate::http::{fault, AppState};

use Seg::{Any, Lit};

/// Whether a path after the base belongs to this surface.
pub(crate) fn owns(rest: &str) -> bool {
    rest == "object-store" || rest.starts_with("object-store/")
}

/// The object store's part of a request: every route but the public URLs
/// needs a caller.
pub(crate) struct Objects {
    /// Who is asking (`None` on an open route: a public URL).
    who: Option<Caller>,
    /// The query string, parsed.
    query: Query,
}

/// One request as the surface's handlers see it.
pub(crate) type Req = surface::Req<Objects>;

/// A handler of the route table.
pub(crate) type Handler = surface::Handler<Objects>;

impl Req {
    /// Part `n` of the path after the prefix (account, container, object).
    fn part(&self, n: usize) -> &str {
        self.param(n)
    }

    /// The caller of a route that needs one (every route but the public URLs).
    fn caller(&self) -> Result<&Caller, AppError> {
        self.who
            .as_ref()
            .ok_or_else(|| AppError::Unauthenticated("Missing X-Auth-Token header".into()))
    }

    /// Where this server's public URLs begin: `<scheme>://<host><base>`.
    fn public_base(&self) -> String {
        let root = crate::http::links::public_root(&self.http);
        format!("{root}/object-store/public/")
    }
}

/// The three levels, their methods in the order `Allow` lists them. HEAD
/// is GET without its body.
static ROUTES: &[Route<Handler>] = &[
    Route {
        path: &[Lit("object-store"), Lit("public"), Any],
        label: "/object-store/public/{id}",
        open: true,
        methods: &[("GET", h!(object::public)), ("HEAD", h!(object::public))],
    },
    Route {
        // kamaki's `sharer list` asks the endpoint itself, with no `/`.
        path: &[Lit("object-store"), Lit("v1")],
        label: "/object-store/v1",
        open: false,
        methods: &[("GET", h!(account::sharers))],
    },
    Route {
        path: &[Lit("object-store"), Lit("v1"), Any],
        label: "/object-store/v1/{account}",
        open: false,
        methods: &[("GET", h!(account::get)), ("HEAD", h!(account::head))],
    },
    Route {
        path: &[Lit("object-store"), Lit("v1"), Any, Any],
        label: "/object-store/v1/{account}/{container}",
        open: false,
        methods: &[
            ("GET", h!(container::get)),
            ("HEAD", h!(container::head)),
            ("PUT", h!(container::put)),
            ("POST", h!(container::post)),
            ("DELETE", h!(container::delete)),
        ],
    },
    Route {
        path: &[Lit("object-store"), Lit("v1"), Any, Any, Any],
        label: "/object-store/v1/{account}/{container}/{object}",
        open: false,
        methods: &[
            ("GET", h!(object::get)),
            ("HEAD", h!(object::get)),
            ("PUT", h!(object::put)),
            ("POST", h!(object::post)),
            ("DELETE", h!(object::delete)),
        ],
    },
];

/// The route of a path after the base; the object's name keeps its `/`.
pub(crate) fn route(rest: &str, method: &str) -> Lookup<'static, Handler> {
    let segs: Vec<&str> = rest.splitn(5, '/').collect();
    find(ROUTES, &segs, method)
}

/// The token of `X-Auth-Token`, or else of `?X-Auth-Token=`.
fn token(http: &HttpRequest) -> Result<String, AppError> {
    if http.headers().contains_key("x-auth-token") {
        return crate::http::auth_token(http).map(str::to_string);
    }
    http.query_string()
        .split('&')
        .filter_map(|p| p.strip_prefix("X-Auth-Token="))
        .find_map(|t| decode_query(t).ok().filter(|t| !t.trim().is_empty()))
        .ok_or_else(|| AppError::Unauthenticated("Missing X-Auth-Token header".into()))
}

impl Surface for Objects {
    type Seed = ();
    type Scene = ();

    async fn admit(
        http: &HttpRequest,
        state: &web::Data<AppState>,
        open: bool,
        _: (),
        who: &mut Option<String>,
    ) -> Result<Objects, Halt> {
        let query = Query::parse(http.query_string())?;
        if open {
            // A public URL is for anyone: a token, if sent, is not looked at.
            return Ok(Objects { who: None, query });
        }
        let caller = crate::http::authenticate_token(http, state, &token(http)?).await?;
        *who = Some(caller.id().to_string());
        Ok(Objects {
            who: Some(caller),
            query,
        })
    }
}

/// Serves one request of the surface, whose route the router found.
pub(crate) async fn serve(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    lookup: Lookup<'static, Handler>,
) -> HttpResponse {
    if !state.registry.serves_object_store() {
        return fault::json(&AppError::NotFound(
            "No such route: with the pithos store, the object store is Pithos's".into(),
        ));
    }
    let public = lookup.label == Some(ROUTES[0].label);
    let mut resp = surface::serve::<Objects>(http, payload, state, lookup.found, ()).await;
    caching(resp.headers_mut(), public);
    resp
}

/// What caches may keep (issue 25, item 9): an answer given to a token is
/// that user's alone (`private`) and differs by the token it was given to
/// (`Vary: X-Auth-Token`; a token in the query is part of the URL already).
/// A public URL's answer is anyone's, so shared caches may keep it, but
/// must ask again each time (`no-cache`: a 304 by its ETag or date), since
/// unpublishing must take effect at once.
fn caching(headers: &mut actix_web::http::header::HeaderMap, public: bool) {
    use actix_web::http::header::{HeaderValue, CACHE_CONTROL, VARY};
    if public {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, no-cache"));
    } else {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        headers.insert(VARY, HeaderValue::from_static("X-Auth-Token"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_level() {
        let label = |rest| route(rest, "GET").label;
        assert_eq!(label("object-store/public/x"), Some(ROUTES[0].label));
        assert_eq!(label("object-store/v1"), Some(ROUTES[1].label));
        assert_eq!(label("object-store/v1/a"), Some(ROUTES[2].label));
        assert_eq!(label("object-store/v1/a/c"), Some(ROUTES[3].label));
        let found = route("object-store/v1/a/c/x/y", "GET").found.ok().unwrap();
        assert_eq!(found.params, ["a", "c", "x/y"]);
        let found = route("object-store/v1/", "GET").found.ok().unwrap();
        assert_eq!(found.params, [""]);
        assert_eq!(label("object-store/v2/a"), None);
        assert_eq!(label("object-store"), None);
    }
}
