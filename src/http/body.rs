//! The one reader of request bodies: every body paced (a minimum rate,
//! whoever reads it), a body as a stream of chunks that ends in an error
//! when the client stalls, and a whole body read from it under a size limit
//! and, where asked, a deadline for the whole.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
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

/// The stretch of waiting over which a body's rate is judged.
pub(crate) const PACE_WINDOW: Duration = Duration::from_secs(10);

/// The least a client must send, in bytes a second averaged over each
/// `PACE_WINDOW` of waiting for it (a modem's rate: any honest client on a
/// lab's network is thousands of times faster).
pub(crate) const MIN_RATE: u64 = 1024;

/// How much of the current window was spent waiting for the client, and
/// what it sent meanwhile. Only waiting counts: time the server spends on a
/// chunk (writing, hashing) is not the client's.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pace {
    waited: Duration,
    bytes: u64,
}

impl Pace {
    /// How long the next wait may last before the window closes.
    pub(crate) fn budget(self) -> Duration {
        PACE_WINDOW.saturating_sub(self.waited)
    }

    /// Counts `bytes` that came after `waited`; at the window's end, false
    /// if the window saw too few (and a new window begins either way).
    pub(crate) fn record(&mut self, bytes: u64, waited: Duration) -> bool {
        self.waited += waited;
        self.bytes += bytes;
        if self.waited < PACE_WINDOW {
            return true;
        }
        let enough = self.bytes >= MIN_RATE * PACE_WINDOW.as_secs();
        *self = Pace::default();
        enough
    }
}

/// The request's body with its pace checked: a client that sends less than
/// `MIN_RATE` over a window of waiting ends its body in an error, so that a
/// trickled body (an upload, a login form) holds nothing for long; `slow`
/// is set then, for the connection to be closed after the answer.
pub(crate) fn paced(payload: Payload, slow: Rc<Cell<bool>>) -> Payload {
    let too_slow = move || {
        slow.set(true);
        too_slow()
    };
    let paced = futures_util::stream::unfold(Some((payload, Pace::default())), move |state| {
        let too_slow = too_slow.clone();
        async move {
            let (mut payload, mut pace) = state?;
            loop {
                let started = Instant::now();
                let budget = pace.budget();
                match actix_web::rt::time::timeout(budget, payload.next()).await {
                    Err(_) if pace.record(0, budget) => {}
                    Err(_) => return Some((Err(too_slow()), None)),
                    Ok(None) => return None,
                    Ok(Some(Err(e))) => return Some((Err(e), None)),
                    Ok(Some(Ok(chunk))) => {
                        if !pace.record(chunk.len() as u64, started.elapsed()) {
                            return Some((Err(too_slow()), None));
                        }
                        return Some((Ok(chunk), Some((payload, pace))));
                    }
                }
            }
        }
    });
    // Fused: a reader may ask again after the end (multipart does).
    let boxed: std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>> = Box::pin(paced.fuse());
    Payload::from(boxed)
}

fn too_slow() -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!(
            "the body arrived slower than {MIN_RATE} bytes a second over {} s",
            PACE_WINDOW.as_secs()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = PACE_WINDOW;

    #[test]
    fn a_window_with_enough_bytes_passes_and_a_new_one_begins() {
        let mut pace = Pace::default();
        assert!(pace.record(MIN_RATE * W.as_secs(), W / 2));
        assert_eq!(pace.budget(), W / 2);
        assert!(pace.record(0, W / 2));
        assert_eq!(pace, Pace::default());
    }

    #[test]
    fn a_trickle_fails_at_the_end_of_its_window() {
        let mut pace = Pace::default();
        for _ in 0..9 {
            assert!(pace.record(1, Duration::from_secs(1)));
        }
        assert!(!pace.record(1, Duration::from_secs(1)));
    }

    #[test]
    fn a_stall_after_a_fast_start_fails_within_two_windows() {
        let mut pace = Pace::default();
        assert!(pace.record(1 << 30, Duration::from_millis(1)));
        let first = pace.budget();
        assert!(pace.record(0, first));
        assert!(!pace.record(0, pace.budget()));
    }
}
