//! The application's error: what went wrong with a request, in the terms of
//! the catalogue and its rules, not of HTTP. Each surface maps it to its own
//! answer (the image API's in `http::fault`); backends have errors of their
//! own, which the registry turns into these.

/// Every way a request can fail. Each variant carries a message that names
/// the offending field and value; `Internal` messages are logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed input of any kind: header, query, body, id, location.
    #[error("{0}")]
    Invalid(String),
    /// No token, or a token the identity backend rejects.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller can see the image but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// No such image, the caller may not see it, or an unknown path.
    #[error("{0}")]
    NotFound(String),
    /// The path does not take the method; carries the methods it takes.
    #[error("Method {method} is not allowed here")]
    MethodNotAllowed {
        /// The request method.
        method: String,
        /// The methods the route takes, comma separated.
        allow: String,
    },
    /// The image's state does not allow it (no data, data gone or changed).
    #[error("{0}")]
    Conflict(String),
    /// The image went away while the request worked on it (deleted during
    /// its upload, docs/api.md §17.4): nothing was stored.
    #[error("{0}")]
    Gone(String),
    /// A precondition of the request (`If-Match`, `If-None-Match`, ...) does not hold.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The data arrived but is not what the request said (an `ETag` that does not match).
    #[error("{0}")]
    Unprocessable(String),
    /// More properties or members than the configured limits, or a body too large.
    #[error("{0}")]
    OverLimit(String),
    /// A byte range outside the object; carries the object's size.
    #[error("Requested range is outside the {size}-byte object")]
    RangeOutside {
        /// The object's size in bytes.
        size: u64,
    },
    /// Data that is not of the format the image says (Glance's 415 for a
    /// v2 upload, docs/api.md §19).
    #[error("{0}")]
    UnsupportedMedia(String),
    /// Something plankton does not do (yet).
    #[error("{0}")]
    Unsupported(String),
    /// Too many attempts too fast (failed authentications from one
    /// address, logins): carries how long to wait, in whole seconds.
    #[error("{message}")]
    TooMany {
        /// What was too many, and when to try again.
        message: String,
        /// Seconds to wait: the answer's `Retry-After`.
        retry_after: u64,
    },
    /// A backend could not be reached.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an environment failure; the message is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Shorthand for malformed input, naming what was wrong.
    pub fn invalid(msg: impl Into<String>) -> Self {
        AppError::Invalid(msg.into())
    }

    /// Shorthand for a failure whose cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }
}

/// An error and its chain of causes, `: `-separated, for a log line or a
/// message on standard error.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
