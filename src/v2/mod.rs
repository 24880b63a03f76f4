//! The OpenStack Image API v2 surface (docs/api.md §17): its route table,
//! the request as its handlers see it, and Glance's error body. Handlers
//! parse, call one registry function, and render; adding a route is one row
//! of `ROUTES` in `routes.rs` and its handler.

mod images;
mod meta;
mod render;
mod routes;
mod schemas;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::user::Caller;
use crate::error::AppError;
use crate::http::routing::{find, Lookup};
use crate::http::surface::{self, Halt, Surface};
use crate::http::{caller_for, fault, AppState};

/// The v2 surface's part of a request.
pub(crate) struct V2 {
    /// Who is asking (absent on the versions document, open without a token).
    caller: Option<Caller>,
}

/// One request as the v2 surface's handlers see it.
pub(crate) type Req = surface::Req<V2>;

/// A handler of the route table.
pub(crate) type Handler = surface::Handler<V2>;

impl Req {
    /// The caller of a route that needs a token.
    fn caller(&self) -> Result<&Caller, AppError> {
        self.ext
            .caller
            .as_ref()
            .ok_or_else(|| AppError::internal("a route without a token asked for the caller"))
    }
}

impl Surface for V2 {
    type Seed = ();
    type Scene = ();

    async fn admit(
        http: &HttpRequest,
        state: &web::Data<AppState>,
        open: bool,
        _: (),
        who: &mut Option<String>,
    ) -> Result<V2, Halt> {
        let caller = caller_for(open, http, state, who).await?;
        Ok(V2 { caller })
    }

    /// Glance's body (`message`, `code`, `title`), whatever `Accept` says.
    fn fault(e: &AppError, _: ()) -> HttpResponse {
        fault::glance(e)
    }
}

/// The route of a v2 request; `rest` is its path after `<base>/v2/` (empty
/// for `/v2` and `/v2/`).
pub(crate) fn route(rest: &str, method: &str) -> Lookup<'static, Handler> {
    find(routes::ROUTES, &routes::segments(rest), method)
}

/// Serves one request of the v2 surface, whose route the router found.
pub(crate) async fn serve(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    lookup: Lookup<'static, Handler>,
) -> HttpResponse {
    surface::serve::<V2>(http, payload, state, lookup.found, ()).await
}
