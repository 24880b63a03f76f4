//! What the HTTP surfaces share: the state every request sees, the route
//! tables' matching, the status of each error and the fault renderers, and
//! the reading of tokens and bodies.

pub(crate) mod fault;
pub(crate) mod metrics;
pub(crate) mod routing;

use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

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
    state.registry.authenticate(token).await
}

/// Reads a request body of at most `MAX_BODY` bytes; larger is over the limit.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Vec<u8>, AppError> {
    let too_large = || AppError::OverLimit(format!("Request body is larger than {MAX_BODY} bytes"));
    if let Some(len) = req.headers().get("content-length") {
        let n: Option<u64> = len.to_str().ok().and_then(|s| s.trim().parse().ok());
        if n.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large());
        }
    }
    // actix runs no timer while a handler reads a body: bound it here, so a
    // client sending a byte a second cannot hold a request open.
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|e| AppError::invalid(format!("Could not read the request body: {e}")))?;
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    actix_web::rt::time::timeout(BODY_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(AppError::invalid(format!(
                "The request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            )))
        })
}

/// The answer to a request: its response, or its error's JSON fault, with
/// the caller (once known) left on it for the access log.
pub(crate) fn finish(
    result: Result<actix_web::HttpResponse, AppError>,
    caller_id: Option<String>,
) -> actix_web::HttpResponse {
    let mut resp = result.unwrap_or_else(|e| fault::json(&e));
    if let Some(id) = caller_id {
        resp.extensions_mut().insert(CallerId(id));
    }
    resp
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
