//! The HTTP API: routing, authentication, and one module per resource.

pub mod headers;
pub mod identity;
pub mod images;
pub mod members;
pub mod router;
pub mod shared;
pub mod sharing;
pub mod versions;

#[cfg(test)]
mod proptests;

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;

use crate::backends::identity::{Identity, User};
use crate::backends::store::ObjectStore;
use crate::config::{Formats, Limits};
use crate::db::Database;
use crate::domain::image::Image;
use crate::error::AppError;
use router::Route;

/// Which API a request speaks, told apart by its path prefix alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
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
    pub fn header_value(self, value: &str) -> std::borrow::Cow<'_, str> {
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
    pub fn checksum(self, image: &Image) -> Option<&str> {
        match self {
            Dialect::Cyclades => Some(&image.checksum),
            Dialect::Glance => image.md5.as_deref(),
        }
    }
}

/// Everything a request handler needs, shared by all workers.
pub struct AppState {
    /// The catalogue.
    pub db: Database,
    /// Who callers are.
    pub identity: Identity,
    /// Where image data lives.
    pub store: Arc<ObjectStore>,
    /// Where the API is mounted, e.g. `/image`, or empty.
    pub base_path: String,
    /// Per-image limits.
    pub limits: Limits,
    /// Allowed formats.
    pub formats: Formats,
    /// Serialises changes of who may read one location (Pithos sharing).
    pub sharing_locks: sharing::StripedLocks,
}

/// How long a request body may take to arrive, whole.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The largest request body we read (a members list of 1024 entries is ~100 KiB).
pub const MAX_BODY: usize = 1 << 20;

/// One request as the handlers see it: who is asking and in which dialect.
pub struct Call<'a> {
    /// The authenticated caller.
    pub user: User,
    /// The caller's token, for backends that act on the caller's behalf.
    pub token: String,
    /// The dialect of the path.
    pub dialect: Dialect,
    /// Shared state.
    pub state: &'a AppState,
}

/// The one entry point: routes, authenticates, and answers faults as JSON.
pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut caller = None;
    let mut resp = match handle(&req, payload, &state, &mut caller).await {
        Ok(resp) => resp,
        Err(e) => e.error_response(),
    };
    if let Some(id) = caller {
        resp.extensions_mut().insert(CallerId(id));
    }
    resp
}

/// The authenticated user of a request, left on its response for the access log.
pub struct CallerId(pub String);

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    caller: &mut Option<String>,
) -> Result<HttpResponse, AppError> {
    let path = req.uri().path();
    let (dialect, route) = router::resolve(path, &state.base_path).ok_or_else(|| {
        AppError::NotFound(format!(
            "No such route: {}",
            crate::domain::ids::truncate(path, 200)
        ))
    })?;
    let method = req.method();
    if !route.accepts(method) {
        return Err(AppError::MethodNotAllowed {
            method: method.to_string(),
            allow: route.allow(),
        });
    }
    match route {
        Route::Versions => return Ok(versions::versions(req, &state.base_path)),
        Route::Health => return health(state).await,
        Route::ObjectStore => {
            return Err(AppError::NotImplemented(
                "plankton stores no objects: put image files under the store root (store.root) and register their pithos:// location".into(),
            ))
        }
        Route::Tokens => {
            let body = read_body(req, payload).await?;
            return identity::tokens(req, &body, state).await;
        }
        _ => {}
    }
    let (user, token) = authenticate(req, state).await?;
    *caller = Some(user.id.clone());
    let call = Call {
        user,
        token,
        dialect,
        state,
    };
    match (route, method.as_str()) {
        (Route::Images, "GET" | "HEAD") => images::list(&call, req.query_string(), false).await,
        (Route::ImagesDetail, _) => images::list(&call, req.query_string(), true).await,
        (Route::Images, _) => images::register(&call, req.headers()).await,
        (Route::Image(id), "HEAD") => images::head(&call, &id).await,
        (Route::Image(id), "GET") => images::data(&call, &id, req.headers()).await,
        (Route::Image(id), "PUT") => images::update(&call, &id, req.headers()).await,
        (Route::Image(id), _) => images::delete(&call, &id).await,
        (Route::Members(id), "GET" | "HEAD") => members::list(&call, &id).await,
        (Route::Members(id), _) => {
            let body = read_body(req, payload).await?;
            members::replace(&call, &id, &body).await
        }
        (Route::Member(id, member), "PUT") => {
            let body = read_body(req, payload).await?;
            members::add(&call, &id, &member, &body).await
        }
        (Route::Member(id, member), _) => members::remove(&call, &id, &member).await,
        (Route::SharedImages(member), _) => shared::list(&call, &member).await,
        (Route::UserCatalogs, _) => {
            let body = read_body(req, payload).await?;
            identity::user_catalogs(&call, &body).await
        }
        (Route::Versions, _)
        | (Route::Tokens, _)
        | (Route::Health, _)
        | (Route::ObjectStore, _) => Err(AppError::internal(
            "a route without a token reached the token check",
        )),
    }
}

/// The caller named by `X-Auth-Token`, or a 401.
async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<(User, String), AppError> {
    let mut values = req.headers().get_all("x-auth-token");
    let token = match (values.next(), values.next()) {
        (None, _) => return Err(AppError::Unauthorized("Missing X-Auth-Token header".into())),
        (Some(_), Some(_)) => {
            return Err(AppError::Unauthorized(
                "More than one X-Auth-Token header".into(),
            ))
        }
        (Some(v), None) => v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::Unauthorized("Invalid X-Auth-Token header".into()))?,
    };
    let user = state
        .identity
        .authenticate(token)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Invalid or expired token".into()))?;
    Ok((user, token.to_string()))
}

/// Reads a request body of at most `MAX_BODY` bytes; larger is a 413.
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, AppError> {
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
                .map_err(|e| AppError::bad(format!("Could not read the request body: {e}")))?;
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
            Err(AppError::bad(format!(
                "The request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            )))
        })
}

/// `GET <base>/healthz`: 200 when the database answers, 503 otherwise.
async fn health(state: &AppState) -> Result<HttpResponse, AppError> {
    let answer = state
        .db
        .read(|conn| Ok(conn.query_row("SELECT count(*) FROM images", [], |r| r.get::<_, i64>(0))?))
        .await;
    match answer {
        Ok(images) => {
            Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok", "images": images})))
        }
        Err(e) => {
            log::error!("health check failed: {e}");
            Err(AppError::Unavailable("The database does not answer".into()))
        }
    }
}
