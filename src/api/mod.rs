//! The image API surface (docs/api.md §1 to §9): its route table, the
//! request as its handlers see it, and its faults. Handlers parse, call one
//! registry function, and render; adding a route is one row of `ROUTES` in
//! `routes.rs` and its handler.

mod headers;
mod images;
mod members;
mod parse;
mod render;
mod routes;
mod shared;
mod versions;

#[cfg(test)]
mod proptests;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use crate::domain::image::Image;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::http::routing::find;
use crate::http::{authenticate, finish, missed, read_body, AppState};
use crate::registry::Registry;

/// Which API a request speaks, told apart by its path prefix alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `<base>` and `<base>/v1.0`: Synnefo's Cyclades/Image, as kamaki speaks it.
    Cyclades,
    /// `<base>/v1`: OpenStack Glance v1.
    Glance,
}

impl Dialect {
    /// A name or property value as this dialect sends it in a header.
    /// Cyclades percent-encodes every value (kamaki decodes them). Glance
    /// clients never decode, so printable ASCII goes as it is and only a value
    /// with other characters is percent-encoded (raw UTF-8 would reach Python
    /// clients garbled; the encoding at least loses nothing), and so is one
    /// with leading or trailing blanks.
    pub(crate) fn header_value(self, value: &str) -> std::borrow::Cow<'_, str> {
        // Leading or trailing blanks would be trimmed in transit: encode those too.
        let printable = value.bytes().all(|b| (0x20..0x7f).contains(&b))
            && !value.starts_with(' ')
            && !value.ends_with(' ');
        match self {
            Dialect::Glance if printable => std::borrow::Cow::Borrowed(value),
            _ => std::borrow::Cow::Owned(crate::domain::percent::encode_header_value(value)),
        }
    }

    /// The checksum this dialect shows: the Pithos hash, or (Glance) the MD5 where known.
    pub(crate) fn checksum(self, image: &Image) -> Option<&str> {
        match self {
            Dialect::Cyclades => Some(&image.checksum),
            Dialect::Glance => image.md5.as_deref(),
        }
    }
}

/// One request as the image API's handlers see it.
pub(crate) struct Req {
    /// The request.
    http: HttpRequest,
    /// Its body, until read.
    payload: Option<web::Payload>,
    /// Shared state.
    state: web::Data<AppState>,
    /// Who is asking (absent on the routes open without a token).
    caller: Option<Caller>,
    /// The dialect of the path.
    dialect: Dialect,
    /// The route's path parameters, still percent-encoded.
    params: Vec<String>,
}

impl Req {
    fn registry(&self) -> &Registry {
        &self.state.registry
    }

    fn caller(&self) -> Result<&Caller, AppError> {
        self.caller
            .as_ref()
            .ok_or_else(|| AppError::internal("a route without a token asked for the caller"))
    }

    fn param(&self, n: usize) -> &str {
        self.params.get(n).map(String::as_str).unwrap_or_default()
    }

    async fn body(&mut self) -> Result<Vec<u8>, AppError> {
        match self.payload.take() {
            Some(p) => read_body(&self.http, p).await,
            None => Ok(Vec::new()),
        }
    }
}

/// What a handler returns.
pub(crate) type Handled = LocalBoxFuture<'static, Result<HttpResponse, AppError>>;

/// A handler of the route table.
pub(crate) type Handler = fn(Req) -> Handled;

/// Serves one request of the image API; `rest` is its path after the base
/// and the dialect's prefix.
/// The pattern of the route `rest` names (`/images/{}`), for the metrics.
pub(crate) fn route_pattern(rest: &str) -> Option<String> {
    crate::http::routing::pattern(routes::ROUTES, &routes::segments(rest))
}

pub(crate) async fn serve(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    dialect: Dialect,
    rest: &str,
) -> HttpResponse {
    let mut caller_id = None;
    let result = answer(http, payload, state, dialect, rest, &mut caller_id).await;
    finish(result, caller_id)
}

async fn answer(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    dialect: Dialect,
    rest: &str,
    caller_id: &mut Option<String>,
) -> Result<HttpResponse, AppError> {
    let found = match find(
        routes::ROUTES,
        &routes::segments(rest),
        http.method().as_str(),
    ) {
        Ok(found) => found,
        Err(miss) => return Err(missed(&http, miss)),
    };
    let caller = if found.open {
        None
    } else {
        let caller = authenticate(&http, &state).await?;
        *caller_id = Some(caller.id().to_string());
        Some(caller)
    };
    let req = Req {
        http,
        payload: Some(payload),
        state,
        caller,
        dialect,
        params: found.params,
    };
    (found.handler)(req).await
}
