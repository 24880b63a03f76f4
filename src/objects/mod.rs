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
use futures_util::future::LocalBoxFuture;

use crate::domain::objects::query::Query;
use crate::domain::percent::decode_query;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::http::routing::Miss;
use crate::http::{finish, missed, AppState};
use crate::registry::Registry;

/// The prefix of the surface after the base.
const PREFIX: &str = "object-store/v1/";

/// Whether a path after the base belongs to this surface.
pub(crate) fn owns(rest: &str) -> bool {
    rest == "object-store" || rest.starts_with("object-store/")
}

/// The pattern of the path `rest` names, for the metrics.
pub(crate) fn route_pattern(rest: &str) -> Option<&'static str> {
    Some(match route(rest)?.0 {
        Level::Account => "/object-store/v1/{account}",
        Level::Container => "/object-store/v1/{account}/{container}",
        Level::Object => "/object-store/v1/{account}/{container}/{object}",
    })
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Account,
    Container,
    Object,
}

/// One request as the surface's handlers see it.
pub(crate) struct Req {
    http: HttpRequest,
    payload: Option<web::Payload>,
    state: web::Data<AppState>,
    caller: Caller,
    query: Query,
    /// The path's parts after the prefix, still percent-encoded.
    parts: Vec<String>,
}

impl Req {
    fn registry(&self) -> &Registry {
        &self.state.registry
    }

    fn part(&self, n: usize) -> &str {
        self.parts.get(n).map(String::as_str).unwrap_or_default()
    }
}

type Handler = fn(Req) -> LocalBoxFuture<'static, Result<HttpResponse, AppError>>;

macro_rules! h {
    ($f:path) => {
        (|r| Box::pin($f(r))) as Handler
    };
}

/// Each level's methods, in the order `Allow` lists them. HEAD is GET
/// without its body.
fn methods(level: Level) -> &'static [(&'static str, Handler)] {
    static ACCOUNT: [(&str, Handler); 2] = [("GET", h!(account::get)), ("HEAD", h!(account::head))];
    static CONTAINER: [(&str, Handler); 5] = [
        ("GET", h!(container::get)),
        ("HEAD", h!(container::head)),
        ("PUT", h!(container::put)),
        ("POST", h!(container::post)),
        ("DELETE", h!(container::delete)),
    ];
    static OBJECT: [(&str, Handler); 5] = [
        ("GET", h!(object::get)),
        ("HEAD", h!(object::get)),
        ("PUT", h!(object::put)),
        ("POST", h!(object::post)),
        ("DELETE", h!(object::delete)),
    ];
    match level {
        Level::Account => &ACCOUNT,
        Level::Container => &CONTAINER,
        Level::Object => &OBJECT,
    }
}

/// The level and parts of a path after the base, or no route.
fn route(rest: &str) -> Option<(Level, Vec<String>)> {
    let path = rest.strip_prefix(PREFIX)?;
    let parts: Vec<String> = path.splitn(3, '/').map(str::to_string).collect();
    let level = match parts.len() {
        1 => Level::Account,
        2 => Level::Container,
        _ => Level::Object,
    };
    Some((level, parts))
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

/// Serves one request of the surface; `rest` is its path after the base,
/// without the leading `/`.
pub(crate) async fn serve(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    rest: &str,
) -> HttpResponse {
    let mut caller_id = None;
    let result = answer(http, payload, state, rest, &mut caller_id).await;
    finish(result, caller_id)
}

async fn answer(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    rest: &str,
    caller_id: &mut Option<String>,
) -> Result<HttpResponse, AppError> {
    if !state.registry.serves_object_store() {
        return Err(AppError::NotFound(
            "No such route: with the pithos store, the object store is Pithos's".into(),
        ));
    }
    let (level, parts) = route(rest).ok_or_else(|| missed(&http, Miss::NoRoute))?;
    let table = methods(level);
    let Some((_, handler)) = table.iter().find(|(m, _)| *m == http.method().as_str()) else {
        let allow: Vec<&str> = table.iter().map(|(m, _)| *m).collect();
        return Err(missed(&http, Miss::Method(allow.join(", "))));
    };
    let caller = state.registry.authenticate(&token(&http)?).await?;
    *caller_id = Some(caller.id().to_string());
    let query = Query::parse(http.query_string())?;
    let req = Req {
        http,
        payload: Some(payload),
        state,
        caller,
        query,
        parts,
    };
    handler(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_level() {
        assert_eq!(route("object-store/v1/a").unwrap().0, Level::Account);
        assert_eq!(route("object-store/v1/a/c").unwrap().0, Level::Container);
        let (level, parts) = route("object-store/v1/a/c/x/y").unwrap();
        assert_eq!((level, parts[2].as_str()), (Level::Object, "x/y"));
        assert_eq!(route("object-store/v1/").unwrap().1, [""]);
        assert!(route("object-store/v2/a").is_none());
        assert!(route("object-store").is_none());
    }
}
