//! What the HTTP surfaces share: the state every request sees, the one
//! way to serve a surface, the route tables' matching, the status of each
//! error and the fault renderers, and the reading of tokens and bodies.

pub(crate) mod access;
pub(crate) mod body;
pub(crate) mod conn;
pub(crate) mod fault;
pub(crate) mod kept;
pub(crate) mod links;
pub(crate) mod metrics;
pub(crate) mod routing;
pub(crate) mod surface;
pub(crate) mod tls;
pub(crate) mod versions;

use actix_web::HttpRequest;

use crate::backends::identity::throttle::Guesses;
use crate::config::{Formats, MetricsAccess};
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::registry::Registry;
use routing::Miss;

/// Everything a request handler needs, shared by all workers.
pub(crate) struct AppState {
    /// The catalogue and its backends.
    pub(crate) registry: Registry,
    /// Where the service is mounted, e.g. `/image`, or empty.
    pub(crate) base_path: String,
    /// The allowed formats, which requests are checked against as they are parsed.
    pub(crate) formats: Formats,
    /// What `<base>/metrics` serves.
    pub(crate) metrics: Metrics,
    /// Who may read it.
    pub(crate) metrics_access: MetricsAccess,
    /// Failed authentications per client address (docs/behaviour.md).
    pub(crate) guesses: Guesses,
    /// How the links it writes begin.
    pub(crate) links: links::Links,
}

/// How long a request body may take to arrive, whole.
pub(crate) const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The largest request body we read (a members list of 1024 entries is ~100 KiB).
pub(crate) const MAX_BODY: usize = 1 << 20;

/// The authenticated user of a request, left on its response for the access log.
pub(crate) struct CallerId(pub(crate) String);

/// The token of `X-Auth-Token`: unauthenticated if there is none, more
/// than one, or an empty one.
pub(crate) fn auth_token(req: &HttpRequest) -> Result<&str, AppError> {
    let mut values = req.headers().get_all("x-auth-token");
    match (values.next(), values.next()) {
        (None, _) => Err(AppError::Unauthenticated(
            "Missing X-Auth-Token header".into(),
        )),
        (Some(_), Some(_)) => Err(AppError::Unauthenticated(
            "More than one X-Auth-Token header".into(),
        )),
        (Some(v), None) => v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::Unauthenticated("Invalid X-Auth-Token header".into())),
    }
}

/// The caller named by `X-Auth-Token`.
pub(crate) async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Caller, AppError> {
    let token = auth_token(req)?;
    authenticate_token(req, state, token).await
}

/// The caller `token` names, sent by the client of `req`: every way a
/// token comes in passes here, so that one address's failures are counted
/// (429 past `identity.failures_per_minute`).
pub(crate) async fn authenticate_token(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
) -> Result<Caller, AppError> {
    let from = req.peer_addr().map(|a| a.ip());
    state
        .guesses
        .guarded(from, token, state.registry.authenticate(token))
        .await
}

/// The caller named by `X-Auth-Token` unless the route is `open`, their
/// id left in `who` for the access log.
pub(crate) async fn caller_for(
    open: bool,
    http: &HttpRequest,
    state: &AppState,
    who: &mut Option<String>,
) -> Result<Option<Caller>, AppError> {
    if open {
        return Ok(None);
    }
    let caller = authenticate(http, state).await?;
    *who = Some(caller.id().to_string());
    Ok(Some(caller))
}

/// The fault of a request that matched no handler.
pub(crate) fn missed(http: &HttpRequest, miss: Miss) -> AppError {
    match miss {
        Miss::NoRoute => AppError::NotFound(format!(
            "No such route: {}",
            crate::domain::ids::truncate(http.uri().path(), 200)
        )),
        Miss::Method(allow) => AppError::MethodNotAllowed {
            method: http.method().to_string(),
            allow,
        },
    }
}
