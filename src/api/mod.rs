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

use crate::domain::image::Image;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::http::routing::{find, Lookup};
use crate::http::surface::{self, Halt, Surface};
use crate::http::{caller_for, AppState};

/// Which API a request speaks, told apart by its path prefix alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dialect {
    /// `<base>` and `<base>/v1.0`: Synnefo's Cyclades/Image, as kamaki speaks it.
    Cyclades,
    /// `<base>/v1`: OpenStack Glance v1.
    Glance,
}

impl Dialect {
    /// Appends a name or property value as this dialect sends it in a header.
    /// Cyclades percent-encodes every value (kamaki decodes them). Glance
    /// clients never decode, so printable ASCII goes as it is and only a value
    /// with other characters is percent-encoded (raw UTF-8 would reach Python
    /// clients garbled; the encoding at least loses nothing), and so is one
    /// with leading or trailing blanks.
    pub(crate) fn write_header_value(self, out: &mut Vec<u8>, value: &str) {
        match self {
            Dialect::Glance if printable(value) => out.extend_from_slice(value.as_bytes()),
            _ => crate::domain::percent::encode_header_value_into(out, value),
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

/// Whether Glance sends `value` in a header as it is: printable ASCII,
/// without leading or trailing blanks (they would be trimmed in transit).
fn printable(value: &str) -> bool {
    value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
}

/// The image API's part of a request.
pub(crate) struct Api {
    /// Who is asking (absent on the routes open without a token).
    caller: Option<Caller>,
    /// The dialect of the path.
    dialect: Dialect,
}

/// One request as the image API's handlers see it.
pub(crate) type Req = surface::Req<Api>;

/// A handler of the route table.
pub(crate) type Handler = surface::Handler<Api>;

impl Req {
    fn caller(&self) -> Result<&Caller, AppError> {
        self.ext
            .caller
            .as_ref()
            .ok_or_else(|| AppError::internal("a route without a token asked for the caller"))
    }
}

impl Surface for Api {
    type Seed = Dialect;
    type Scene = ();

    async fn admit(
        http: &HttpRequest,
        state: &web::Data<AppState>,
        open: bool,
        dialect: Dialect,
        who: &mut Option<String>,
    ) -> Result<Api, Halt> {
        let caller = caller_for(open, http, state, who).await?;
        Ok(Api { caller, dialect })
    }
}

/// The route of a request of the image API; `rest` is its path after the
/// base and the dialect's prefix.
pub(crate) fn route(dialect: Dialect, rest: &str, method: &str) -> Lookup<'static, Handler> {
    find(routes::table(dialect), &routes::segments(rest), method)
}

/// Serves one request of the image API, whose route the router found.
pub(crate) async fn serve(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    dialect: Dialect,
    lookup: Lookup<'static, Handler>,
) -> HttpResponse {
    surface::serve::<Api>(http, payload, state, lookup.found, dialect).await
}
