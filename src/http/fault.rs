//! The status each error answers with, and the renderers of faults: the
//! OpenStack-style JSON of the image API and the offline identity now; a
//! surface with another format (Pithos's plain-text faults, HTML error pages)
//! adds its renderer beside `json` and keeps the same statuses.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::error::AppError;

/// The one mapping of application errors to HTTP statuses (docs/api.md §2).
pub(crate) fn status(e: &AppError) -> StatusCode {
    match e {
        AppError::Invalid(_) => StatusCode::BAD_REQUEST,
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Gone(_) => StatusCode::GONE,
        AppError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
        AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::OverLimit(_) => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::RangeOutside { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        AppError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        AppError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        AppError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The fault name that keys a JSON fault body.
fn fault_name(e: &AppError) -> &'static str {
    match e {
        AppError::Invalid(_) => "badRequest",
        AppError::Unauthenticated(_) => "unauthorized",
        AppError::Forbidden(_) => "forbidden",
        AppError::NotFound(_) => "itemNotFound",
        AppError::MethodNotAllowed { .. } => "notAllowed",
        AppError::Conflict(_) => "conflict",
        AppError::Gone(_) => "gone",
        AppError::PreconditionFailed(_) => "preconditionFailed",
        AppError::Unprocessable(_) => "unprocessableEntity",
        AppError::OverLimit(_) => "overLimit",
        AppError::RangeOutside { .. } => "rangeNotSatisfiable",
        AppError::UnsupportedMedia(_) => "unsupportedMediaType",
        AppError::Unsupported(_) => "notImplemented",
        AppError::TooMany { .. } => "tooManyRequests",
        AppError::Unavailable(_) => "serviceUnavailable",
        AppError::Internal(_) => "internalServerError",
    }
}

/// What the client may read of an error: everything but an internal one's
/// cause, which is logged here, once.
pub(crate) fn public_message(e: &AppError) -> String {
    match e {
        AppError::Internal(cause) => {
            log::error!("request failed: {cause}");
            "The server failed to complete the request".to_string()
        }
        other => other.to_string(),
    }
}

/// The status and the headers that go with it (`Allow`, `Content-Range`,
/// `WWW-Authenticate`), whatever the body's format.
pub(crate) fn builder(e: &AppError) -> HttpResponseBuilder {
    let mut resp = HttpResponse::build(status(e));
    match e {
        AppError::MethodNotAllowed { allow, .. } => {
            resp.insert_header((header::ALLOW, allow.as_str()));
        }
        AppError::RangeOutside { size } => {
            resp.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
        }
        AppError::Unauthenticated(_) => {
            resp.insert_header((header::WWW_AUTHENTICATE, "Token"));
        }
        AppError::TooMany { retry_after, .. } => {
            resp.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        _ => {}
    }
    resp
}

/// The JSON fault of the image API and the identity endpoints:
/// `{"<faultName>": {"code": ..., "message": ..., "details": ""}}`.
pub(crate) fn json(e: &AppError) -> HttpResponse {
    let body = serde_json::json!({
        fault_name(e): {
            "code": status(e).as_u16(),
            "message": public_message(e),
            "details": "",
        }
    });
    builder(e)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// Glance's fault, the v2 surface's (docs/api.md §17.1):
/// `{"message": ..., "code": "404 Not Found", "title": "Not Found"}`, `code`
/// the status line and `title` its reason phrase.
pub(crate) fn glance(e: &AppError) -> HttpResponse {
    let status = status(e);
    let title = status.canonical_reason().unwrap_or_default();
    let body = serde_json::json!({
        "message": public_message(e),
        "code": format!("{} {title}", status.as_u16()),
        "title": title,
    });
    builder(e)
        .content_type("application/json")
        .body(body.to_string())
}

/// Glance's 415 (docs/api.md §17.5): a PATCH's media type is not a patch
/// type; `Accept-Patch` names the ones taken. `AppError` has no 415, and
/// only this answer needs one.
pub(crate) fn glance_media_type(message: &str, accept_patch: &str) -> HttpResponse {
    let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    let title = status.canonical_reason().unwrap_or_default();
    let body = serde_json::json!({
        "message": message,
        "code": format!("{} {title}", status.as_u16()),
        "title": title,
    });
    HttpResponse::build(status)
        .insert_header(("accept-patch", accept_patch))
        .content_type("application/json")
        .body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body(resp: HttpResponse) -> serde_json::Value {
        serde_json::from_slice(&resp.into_body().try_into_bytes().unwrap()).unwrap()
    }

    #[test]
    fn glance_faults_carry_the_status_line_its_reason_and_their_headers() {
        let resp = glance(&AppError::NotFound("Image x not found".into()));
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/json"
        );
        assert_eq!(
            body(resp),
            serde_json::json!({"message": "Image x not found", "code": "404 Not Found", "title": "Not Found"})
        );
        let resp = glance(&AppError::MethodNotAllowed {
            method: "PUT".into(),
            allow: "GET, HEAD".into(),
        });
        assert_eq!(resp.headers().get("allow").unwrap(), "GET, HEAD");
        assert_eq!(body(resp)["code"], "405 Method Not Allowed");
        let resp = glance(&AppError::RangeOutside { size: 10 });
        assert_eq!(resp.headers().get("content-range").unwrap(), "bytes */10");
        let resp = glance(&AppError::Internal("secret".into()));
        assert!(!body(resp).to_string().contains("secret"));
        let resp = glance_media_type("Unsupported media type application/json", "a, b");
        assert_eq!(resp.headers().get("accept-patch").unwrap(), "a, b");
        assert_eq!(body(resp)["title"], "Unsupported Media Type");
    }

    #[test]
    fn an_image_gone_during_its_upload_is_410() {
        let gone = AppError::Gone("Image x was deleted during its upload".into());
        assert_eq!(status(&gone), StatusCode::GONE);
        assert_eq!(fault_name(&gone), "gone");
    }
}
