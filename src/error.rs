//! The one error type of the service and its mapping onto API faults (§2 of the contract).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

/// Every way a request can fail. Each variant carries a message that names the
/// offending field and value; 5xx messages are kept opaque to the client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed input of any kind: header, query, body, id, location.
    #[error("{0}")]
    BadRequest(String),
    /// No token, or a token the identity backend rejects.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller can see the image but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// No such image, the caller may not see it, or an unknown path.
    #[error("{0}")]
    NotFound(String),
    /// The method is not allowed on the route; carries the `Allow` value.
    #[error("Method {method} is not allowed here")]
    MethodNotAllowed {
        /// The request method.
        method: String,
        /// The methods the route takes, comma separated.
        allow: &'static str,
    },
    /// The image's data cannot be served in its present state.
    #[error("{0}")]
    Conflict(String),
    /// More properties or members than the configured limits, or a body too large.
    #[error("{0}")]
    OverLimit(String),
    /// A Range outside the object; carries the object's size.
    #[error("Requested range is outside the {size}-byte object")]
    RangeNotSatisfiable {
        /// The object's size in bytes.
        size: u64,
    },
    /// Something the API does not do (yet).
    #[error("{0}")]
    NotImplemented(String),
    /// A backend could not be reached.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an environment failure; the message is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The fault name that keys the JSON body.
    pub fn fault_name(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "badRequest",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "itemNotFound",
            AppError::MethodNotAllowed { .. } => "notAllowed",
            AppError::Conflict(_) => "conflict",
            AppError::OverLimit(_) => "overLimit",
            AppError::RangeNotSatisfiable { .. } => "rangeNotSatisfiable",
            AppError::NotImplemented(_) => "notImplemented",
            AppError::Unavailable(_) => "serviceUnavailable",
            AppError::Internal(_) => "internalServerError",
        }
    }

    /// Shorthand for a 400 naming what was wrong.
    pub fn bad(msg: impl Into<String>) -> Self {
        AppError::BadRequest(msg.into())
    }

    /// Shorthand for a 500 whose cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => "The server failed to complete the request".to_string(),
            other => other.to_string(),
        }
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(format!("database: {e}"))
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Internal(format!("database pool: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(format!("blocking pool: {e}"))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::OverLimit(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::Internal(cause) = self {
            log::error!("request failed: {cause}");
        }
        let body = serde_json::json!({
            self.fault_name(): {
                "code": status.as_u16(),
                "message": self.public_message(),
                "details": "",
            }
        });
        let mut resp = HttpResponse::build(status);
        match self {
            AppError::MethodNotAllowed { allow, .. } => {
                resp.insert_header((header::ALLOW, *allow));
            }
            AppError::RangeNotSatisfiable { size } => {
                resp.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
            }
            AppError::Unauthorized(_) => {
                resp.insert_header((header::WWW_AUTHENTICATE, "Token"));
            }
            _ => {}
        }
        resp.content_type("application/json; charset=utf-8")
            .body(body.to_string())
    }
}

/// The result type of everything that can fail with an API fault.
pub type AppResult<T> = Result<T, AppError>;
