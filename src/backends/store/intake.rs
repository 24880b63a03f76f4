//! Reading an upload's body: in batches of about a mebibyte (so that the
//! work done on each, writing or hashing, leaves the async workers in few
//! large steps), never past a byte limit, and then checked by the caller
//! before the data is kept anywhere.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::StoreError;

/// The bytes a batch gathers before it is handed on.
pub(crate) const BATCH: usize = 1 << 20;

/// Upload work (writing and hashing a batch) done at once, process-wide:
/// one core fewer than the machine has (at least one). Uploads wait for a
/// permit without holding a blocking thread, so the catalogue's reads keep
/// threads and a core of their own however many uploads run (eight uploads
/// at once had brought `HEAD /images/{id}` to 2 % of its rate).
static UPLOAD_WORK: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
});

/// Runs one batch's blocking work (`f`) when a permit of upload work is free.
pub(crate) async fn upload_work<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    let _permit = UPLOAD_WORK
        .acquire()
        .await
        .map_err(|e| StoreError::Io(format!("upload work: {e}")))?;
    super::blocking(move || Ok(f())).await
}

/// An upload's body, read batch by batch.
pub(crate) struct Batches<S> {
    body: S,
    limit: u64,
    total: u64,
    ended: bool,
}

impl<S, E> Batches<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    /// Reads `body`, refusing it once it passes `limit` bytes.
    pub(crate) fn new(body: S, limit: u64) -> Self {
        Batches {
            body,
            limit,
            total: 0,
            ended: false,
        }
    }

    /// The next chunks, together at least `BATCH` bytes or whatever was left;
    /// `None` once the body has ended. A body that fails is `Cut`, one past
    /// the limit `PastLimit`.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<Bytes>>, StoreError> {
        let mut batch = Vec::new();
        let mut batched = 0;
        while !self.ended && batched < BATCH {
            match self.body.next().await {
                None => self.ended = true,
                Some(chunk) => {
                    let chunk = chunk.map_err(|e| StoreError::Cut(e.to_string()))?;
                    self.total += chunk.len() as u64;
                    if self.total > self.limit {
                        return Err(StoreError::PastLimit { limit: self.limit });
                    }
                    batched += chunk.len();
                    if !chunk.is_empty() {
                        batch.push(chunk);
                    }
                }
            }
        }
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(sizes: &[usize]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        let chunks: Vec<Result<Bytes, String>> = sizes
            .iter()
            .map(|n| Ok(Bytes::from(vec![1u8; *n])))
            .collect();
        futures_util::stream::iter(chunks)
    }

    #[actix_web::test]
    async fn batches_gather_a_mebibyte_and_end_with_the_rest() {
        let mut b = Batches::new(body(&[BATCH / 2, 0, BATCH / 2, 10, 7]), u64::MAX);
        let first = b.next().await.unwrap().unwrap();
        assert_eq!(first.iter().map(Bytes::len).sum::<usize>(), BATCH);
        let rest = b.next().await.unwrap().unwrap();
        assert_eq!(rest.iter().map(Bytes::len).sum::<usize>(), 17);
        assert!(b.next().await.unwrap().is_none());
        assert!(b.next().await.unwrap().is_none());
    }

    #[actix_web::test]
    async fn a_body_past_the_limit_or_broken_is_refused() {
        let mut b = Batches::new(body(&[600, 600]), 1000);
        assert_eq!(b.next().await, Err(StoreError::PastLimit { limit: 1000 }));
        let broken = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"x")), Err("gone")]);
        let mut b = Batches::new(broken, 1000);
        assert_eq!(b.next().await, Err(StoreError::Cut("gone".into())));
    }
}
