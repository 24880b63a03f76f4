//! The Pithos object hash (a Merkle root of per-block SHA-256) and MD5, computed in one pass.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use md5::Md5;
use sha2::{Digest, Sha256};

/// Pithos's block size: 4 MiB.
pub(crate) const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// Computes the Pithos hash and the MD5 of a byte stream fed in pieces of any size.
pub(crate) struct ObjectHasher {
    /// `None` where the MD5 is computed elsewhere (beside, on another core).
    md5: Option<Md5>,
    block: Sha256,
    /// Bytes of the current block seen so far.
    in_block: usize,
    /// Zero bytes at the current end of the block not yet fed to `block`:
    /// trailing NULs of a block are not hashed, so they wait until a later
    /// non-zero byte shows they are not trailing.
    pending_zeros: usize,
    block_hashes: Vec<[u8; 32]>,
}

const ZEROS: [u8; 8192] = [0; 8192];

impl Default for ObjectHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectHasher {
    /// A hasher that has seen no bytes.
    pub(crate) fn new() -> Self {
        ObjectHasher {
            md5: Some(Md5::new()),
            block: Sha256::new(),
            in_block: 0,
            pending_zeros: 0,
            block_hashes: Vec::new(),
        }
    }

    /// A hasher of the Pithos hash alone.
    pub(crate) fn pithos_only() -> Self {
        ObjectHasher {
            md5: None,
            ..Self::new()
        }
    }

    /// Feeds the next bytes of the object.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        while !data.is_empty() {
            let room = BLOCK_SIZE - self.in_block;
            let (piece, rest) = data.split_at(room.min(data.len()));
            self.feed_block(piece);
            self.in_block += piece.len();
            if self.in_block == BLOCK_SIZE {
                self.finish_block();
            }
            data = rest;
        }
    }

    fn feed_block(&mut self, piece: &[u8]) {
        match piece.iter().rposition(|&b| b != 0) {
            None => self.pending_zeros += piece.len(),
            Some(last) => {
                while self.pending_zeros > 0 {
                    let n = self.pending_zeros.min(ZEROS.len());
                    self.block.update(&ZEROS[..n]);
                    self.pending_zeros -= n;
                }
                self.block.update(&piece[..=last]);
                self.pending_zeros = piece.len() - last - 1;
            }
        }
    }

    fn finish_block(&mut self) {
        let digest = std::mem::take(&mut self.block).finalize();
        self.block_hashes.push(digest.into());
        self.in_block = 0;
        self.pending_zeros = 0;
    }

    /// Ends the stream: `(pithos_hash, md5)`, both lower-case hex (the MD5
    /// empty for a `pithos_only` hasher).
    pub(crate) fn finish(mut self) -> (String, String) {
        if self.in_block > 0 {
            self.finish_block();
        }
        let md5 = self
            .md5
            .take()
            .map(|m| hex::encode(m.finalize()))
            .unwrap_or_default();
        (merkle_root(self.block_hashes), md5)
    }
}

/// The hash of each 4 MiB block of a file, in order (the empty file: the
/// hash of nothing, alone).
pub(crate) fn block_hashes(path: &Path) -> std::io::Result<Vec<String>> {
    let mut f = File::open(path)?;
    let mut hasher = ObjectHasher::pithos_only();
    let mut buf = vec![0u8; BLOCK_SIZE];
    loop {
        let n = read_full(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    if hasher.in_block > 0 {
        hasher.finish_block();
    }
    if hasher.block_hashes.is_empty() {
        return Ok(vec![hex::encode(Sha256::digest(b""))]);
    }
    Ok(hasher.block_hashes.iter().map(hex::encode).collect())
}

fn merkle_root(mut hashes: Vec<[u8; 32]>) -> String {
    match hashes.len() {
        0 => hex::encode(Sha256::digest(b"")),
        1 => hex::encode(hashes[0]),
        n => {
            hashes.resize(n.next_power_of_two(), [0u8; 32]);
            while hashes.len() > 1 {
                hashes = hashes
                    .chunks(2)
                    .map(|pair| {
                        let mut h = Sha256::new();
                        h.update(pair[0]);
                        h.update(pair[1]);
                        h.finalize().into()
                    })
                    .collect();
            }
            hex::encode(hashes[0])
        }
    }
}

/// Hashes a whole buffer at once.
#[cfg(test)]
pub(crate) fn hash_bytes(data: &[u8]) -> (String, String) {
    let mut h = ObjectHasher::new();
    h.update(data);
    h.finish()
}

/// Buffers in flight while a file is hashed: read ahead of the MD5 by this
/// many, and no more memory than this many 4 MiB buffers for a file of any size.
const BUFFERS: usize = 4;

/// A read buffer shared between the reader and the MD5 thread.
type Shared = Arc<Vec<u8>>;

/// Reads a file once: `(bytes read, pithos hash, md5)`. The MD5 runs on a
/// second thread beside the Pithos hash, both on the same buffer at once:
/// MD5 cannot be split, so it sets the pace, and registering a file takes
/// about as long as `md5sum` reading it (the reading is done meanwhile,
/// on the other core).
pub(crate) fn hash_file(path: &Path) -> std::io::Result<(u64, String, String)> {
    let mut f = File::open(path)?;
    // Each buffer goes to the MD5 thread as soon as it is read, the Pithos
    // hash reads it here meanwhile, and it comes back to be filled again
    // once the MD5 is done with it.
    let (to_md5, chunks) = sync_channel::<Shared>(BUFFERS);
    let (give_back, returned) = channel::<Shared>();
    for _ in 0..BUFFERS {
        let _ = give_back.send(Arc::new(Vec::with_capacity(BLOCK_SIZE)));
    }
    std::thread::scope(|scope| {
        let md5 = scope.spawn(move || {
            let mut md5 = Md5::new();
            for chunk in chunks {
                md5.update(&chunk[..]);
                let _ = give_back.send(chunk);
            }
            hex::encode(md5.finalize())
        });
        let mut hasher = ObjectHasher::pithos_only();
        let result = read_through(&mut f, (&returned, &to_md5), &mut hasher);
        drop(to_md5);
        let md5 = md5
            .join()
            .map_err(|_| std::io::Error::other("the MD5 thread panicked"))?;
        let total = result?;
        let (checksum, _) = hasher.finish();
        Ok((total, checksum, md5))
    })
}

/// Reads `f` to its end into the buffers `returned` gives back, each sent
/// to the MD5 thread and hashed by `hasher` meanwhile; the bytes read.
fn read_through(
    f: &mut File,
    (returned, to_md5): (&Receiver<Shared>, &SyncSender<Shared>),
    hasher: &mut ObjectHasher,
) -> std::io::Result<u64> {
    let stopped = || std::io::Error::other("the MD5 thread stopped");
    let mut total = 0u64;
    loop {
        let mut shared = returned.recv().map_err(|_| stopped())?;
        // The MD5 thread let this one go before giving it back, and the
        // Pithos hash let go of every buffer before this one: no one
        // else holds it (were it otherwise, a new one would do).
        if Arc::get_mut(&mut shared).is_none() {
            shared = Arc::new(Vec::with_capacity(BLOCK_SIZE));
        }
        let Some(buf) = Arc::get_mut(&mut shared) else {
            return Err(std::io::Error::other("a read buffer still in use"));
        };
        buf.resize(BLOCK_SIZE, 0);
        let n = read_full(f, buf)?;
        if n == 0 {
            return Ok(total);
        }
        buf.truncate(n);
        total += n as u64;
        to_md5.send(Arc::clone(&shared)).map_err(|_| stopped())?;
        hasher.update(&shared);
    }
}

/// Reads until `buf` is full or the file ends; how many bytes were read.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte i of the reference vectors' pattern is (i * 7 + 3) % 251.
    fn pat(n: usize) -> Vec<u8> {
        (0..n).map(|i| ((i * 7 + 3) % 251) as u8).collect()
    }

    fn vectors() -> Vec<(&'static str, Vec<u8>)> {
        let mut tail = pat(BLOCK_SIZE);
        tail.extend(std::iter::repeat_n(0u8, 100));
        let mut hello = b"hello".to_vec();
        hello.extend([0u8; 10]);
        vec![
            ("empty", vec![]),
            ("one-byte-a", b"a".to_vec()),
            ("hello-with-trailing-nuls", hello),
            ("all-zero-1MiB", vec![0u8; 1 << 20]),
            ("pat-exactly-one-block", pat(BLOCK_SIZE)),
            ("pat-one-block-plus-one", pat(BLOCK_SIZE + 1)),
            ("pat-block-then-zero-tail", tail),
            ("pat-three-blocks-minus-5", pat(3 * BLOCK_SIZE - 5)),
            ("pat-five-blocks", pat(5 * BLOCK_SIZE)),
        ]
    }

    /// The reference implementation's `--vectors` output (name, size, hash),
    /// kept in the repository beside the end-to-end tests that use it too.
    fn expected() -> Vec<(&'static str, usize, &'static str)> {
        include_str!("../../tests/data/pithos-hash-vectors.tsv")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0], f[1].parse().unwrap(), f[2])
            })
            .collect()
    }

    #[test]
    fn matches_the_reference_vectors_fed_whole_and_in_odd_pieces() {
        let expected_vectors = expected();
        assert_eq!(expected_vectors.len(), vectors().len());
        for ((name, data), (ename, elen, expected)) in vectors().into_iter().zip(&expected_vectors)
        {
            assert_eq!(name, *ename);
            assert_eq!(data.len(), *elen, "{name}");
            assert_eq!(hash_bytes(&data).0, *expected, "{name} whole");
            let mut h = ObjectHasher::new();
            for piece in data.chunks(65_537) {
                h.update(piece);
            }
            assert_eq!(h.finish().0, *expected, "{name} in pieces");
        }
    }

    #[test]
    fn md5_is_of_the_whole_data() {
        assert_eq!(hash_bytes(b"").1, "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hash_bytes(b"abc").1, "900150983cd24fb0d6963f7d28e17f72");
        // Trailing NULs are stripped for the Pithos hash only, never for MD5.
        assert_ne!(hash_bytes(b"abc\0").1, hash_bytes(b"abc").1);
        assert_eq!(hash_bytes(b"abc\0").0, hash_bytes(b"abc").0);
    }
}
