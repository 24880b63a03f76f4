//! The object-store surface, `<base>/object-store/v1/...` (docs/api.md
//! §14): named in the offline service catalog so that clients find it; it
//! stores nothing yet and says so.

use actix_web::{HttpRequest, HttpResponse};

use crate::error::AppError;
use crate::http::fault;

/// The methods of the Pithos object API.
const METHODS: [&str; 7] = ["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "MOVE"];

/// Whether a path after the base belongs to this surface.
pub(crate) fn owns(rest: &str) -> bool {
    rest == "object-store" || rest.starts_with("object-store/")
}

/// Serves one request of the object-store surface.
pub(crate) fn serve(http: &HttpRequest) -> HttpResponse {
    let method = http.method().as_str();
    let e = if METHODS.contains(&method) {
        AppError::Unsupported(
            "plankton stores no objects: put image files under the store root (store.root) and register their pithos:// location".into(),
        )
    } else {
        AppError::MethodNotAllowed {
            method: method.to_string(),
            allow: METHODS.join(", "),
        }
    };
    fault::json(&e)
}
