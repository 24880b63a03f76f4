//! The one reader of request bodies: a body as a stream of chunks that
//! ends in an error when the client stalls, and a whole body read from it
//! under a size limit and, where asked, a deadline for the whole.

use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;

use crate::error::AppError;
use crate::registry::containers::Body;

/// How long a body may go without a byte arriving.
pub(crate) const IDLE: Duration = Duration::from_secs(30);

/// The body as a stream of chunks: an error ends it (a body cut short, or
/// no byte for `IDLE`).
pub(crate) fn stream(payload: Option<web::Payload>) -> Body {
    let Some(payload) = payload else {
        return Box::pin(futures_util::stream::empty());
    };
    Box::pin(futures_util::stream::unfold(
        Some(payload),
        |p| async move {
            let mut p = p?;
            match actix_web::rt::time::timeout(IDLE, p.next()).await {
                Err(_) => Some((
                    Err(AppError::invalid(format!(
                        "The request body stalled: no data for {} s",
                        IDLE.as_secs()
                    ))),
                    None,
                )),
                Ok(None) => None,
                Ok(Some(Err(e))) => Some((
                    Err(AppError::invalid(format!(
                        "Could not read the request body: {e}"
                    ))),
                    None,
                )),
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(p))),
            }
        },
    ))
}

/// What a whole body may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Its size in bytes, at most.
    pub(crate) size: usize,
    /// How long it may take to arrive, whole; `None` bounds only each wait
    /// for a chunk (`IDLE`).
    pub(crate) deadline: Option<Duration>,
}

/// A whole body within `limits`; `declared` is its `Content-Length`, so that
/// a body said to be too large is refused before a byte of it is read.
pub(crate) async fn read(
    mut body: Body,
    declared: Option<u64>,
    limits: Limits,
) -> Result<Vec<u8>, AppError> {
    let too_large =
        || AppError::OverLimit(format!("Request body is larger than {} bytes", limits.size));
    if declared.is_some_and(|n| n > limits.size as u64) {
        return Err(too_large());
    }
    let read = async {
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limits.size {
                return Err(too_large());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    };
    let Some(deadline) = limits.deadline else {
        return read.await;
    };
    // actix runs no timer while a handler reads a body: bound it here, so a
    // client sending a byte a second cannot hold a request open.
    actix_web::rt::time::timeout(deadline, read)
        .await
        .unwrap_or_else(|_| {
            Err(AppError::invalid(format!(
                "The request body did not arrive within {} s",
                deadline.as_secs()
            )))
        })
}
