//! Streaming an open file's bytes as a response body.

use std::io::SeekFrom;

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How much is read per chunk.
const CHUNK: usize = 256 * 1024;

/// The `len` bytes of `file` from `start`, as a stream of chunks.
pub(crate) async fn file_stream(
    file: std::fs::File,
    start: u64,
    len: u64,
) -> std::io::Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static> {
    let mut file = tokio::fs::File::from_std(file);
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    Ok(futures_util::stream::unfold(
        (file, len),
        |(mut file, remaining)| async move {
            if remaining == 0 {
                return None;
            }
            let want = (remaining as usize).min(CHUNK);
            let mut buf = vec![0u8; want];
            match file.read(&mut buf).await {
                Ok(0) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the object shrank while it was being sent",
                    )),
                    (file, 0),
                )),
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (file, remaining - n as u64)))
                }
                Err(e) => Some((Err(e), (file, 0))),
            }
        },
    ))
}
