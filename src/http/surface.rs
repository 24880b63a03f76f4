//! The one way to serve a surface: the request as handlers see it, the
//! handler type and `h!`, and `serve`, which takes the route the router
//! found, lets the surface admit the request (a token, a session, nothing),
//! runs the handler and renders its error the surface's way.

use std::ops::{Deref, DerefMut};

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use super::body::{self, Limits};
use super::routing::{Found, Miss};
use super::{missed, AppState, CallerId, BODY_TIMEOUT, MAX_BODY};
use crate::error::AppError;
use crate::registry::Registry;

/// One request as a surface's handlers see it; `X` is what the surface
/// adds (its dialect, its caller, its query, its session), reached through
/// `Deref` as if its fields were the request's.
pub(crate) struct Req<X> {
    /// The request.
    pub(crate) http: HttpRequest,
    /// Its body, until read.
    pub(crate) payload: Option<web::Payload>,
    /// Shared state.
    pub(crate) state: web::Data<AppState>,
    /// The route's path parameters, still percent-encoded.
    pub(crate) params: Vec<String>,
    /// The surface's own part.
    pub(crate) ext: X,
}

impl<X> Deref for Req<X> {
    type Target = X;

    fn deref(&self) -> &X {
        &self.ext
    }
}

impl<X> DerefMut for Req<X> {
    fn deref_mut(&mut self) -> &mut X {
        &mut self.ext
    }
}

impl<X> Req<X> {
    /// The catalogue and its backends.
    pub(crate) fn registry(&self) -> &Registry {
        &self.state.registry
    }

    /// Path parameter `n`, still percent-encoded (empty if there is none).
    pub(crate) fn param(&self, n: usize) -> &str {
        self.params.get(n).map(String::as_str).unwrap_or_default()
    }

    /// The whole body, of at most `MAX_BODY` bytes.
    pub(crate) async fn body(&mut self) -> Result<Vec<u8>, AppError> {
        match self.payload.take() {
            Some(p) => read_body(&self.http, p).await,
            None => Ok(Vec::new()),
        }
    }
}

/// Reads a request body of at most `MAX_BODY` bytes, whole within
/// `BODY_TIMEOUT`; larger is over the limit.
pub(crate) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Vec<u8>, AppError> {
    // An unparsable length is left to the stream: the reader still counts.
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok());
    let limits = Limits {
        size: MAX_BODY,
        deadline: Some(BODY_TIMEOUT),
    };
    body::read(body::stream(Some(payload)), declared, limits).await
}

/// What a handler returns.
pub(crate) type Handled = LocalBoxFuture<'static, Result<HttpResponse, AppError>>;

/// A handler of a route table.
pub(crate) type Handler<X> = fn(Req<X>) -> Handled;

/// A handler of a route table, from an `async fn(Req<X>) -> Result<HttpResponse, AppError>`.
macro_rules! h {
    ($f:path) => {
        (|r| Box::pin($f(r))) as $crate::http::surface::Handler<_>
    };
}
pub(crate) use h;

/// Why a surface stops a request before its handler.
pub(crate) enum Halt {
    /// An error, rendered the surface's way.
    Fault(AppError),
    /// An answer of its own (the web view's way to its login page).
    Answer(HttpResponse),
}

impl From<AppError> for Halt {
    fn from(e: AppError) -> Halt {
        Halt::Fault(e)
    }
}

/// What makes a surface: how it admits a request and how it shows an error.
/// Its route table stays its own; the router finds the route in it.
pub(crate) trait Surface: Sized + 'static {
    /// What the router hands on besides the route (the dialect; the web
    /// view's sessions).
    type Seed;
    /// What an error needs of the request, kept before the handler takes it
    /// (nothing, for the surfaces whose faults are JSON).
    type Scene: Default;

    /// The surface's part of the request, with its caller unless the
    /// route is `open` (their id goes into `who` for the access log as soon
    /// as known).
    async fn admit(
        http: &HttpRequest,
        state: &web::Data<AppState>,
        open: bool,
        seed: Self::Seed,
        who: &mut Option<String>,
    ) -> Result<Self, Halt>;

    /// What `fault` will need, from the request as admitted (if it was).
    fn scene(_state: &AppState, _ext: Option<&Self>) -> Self::Scene {
        Self::Scene::default()
    }

    /// What `fault` will need for a request that matched no route: nothing
    /// is asked of its caller, though a surface may look (the web view's
    /// error page keeps the user's chrome).
    async fn missed_scene(
        _http: &HttpRequest,
        _state: &web::Data<AppState>,
        _seed: Self::Seed,
    ) -> Self::Scene {
        Self::Scene::default()
    }

    /// An error as this surface shows it: the JSON fault unless the
    /// surface says otherwise.
    fn fault(e: &AppError, _scene: Self::Scene) -> HttpResponse {
        super::fault::json(e)
    }
}

/// Serves one request of surface `X` whose route the router `found`.
pub(crate) async fn serve<X: Surface>(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    found: Result<Found<'static, Handler<X>>, Miss>,
    seed: X::Seed,
) -> HttpResponse {
    let found = match found {
        Ok(found) => found,
        Err(miss) => {
            let scene = X::missed_scene(&http, &state, seed).await;
            return X::fault(&missed(&http, miss), scene);
        }
    };
    let mut who = None;
    let mut resp = match X::admit(&http, &state, found.open, seed, &mut who).await {
        Err(Halt::Answer(resp)) => resp,
        Err(Halt::Fault(e)) => X::fault(&e, X::scene(&state, None)),
        Ok(ext) => {
            let scene = X::scene(&state, Some(&ext));
            let req = Req {
                http,
                payload: Some(payload),
                state,
                params: found.params,
                ext,
            };
            (found.handler)(req)
                .await
                .unwrap_or_else(|e| X::fault(&e, scene))
        }
    };
    if let Some(id) = who {
        resp.extensions_mut().insert(CallerId(id));
    }
    resp
}
