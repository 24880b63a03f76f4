//! The Pithos object hash (a Merkle root of per-block SHA-256), MD5 and the
//! `os_hash` (SHA-512 or SHA-256), computed in one pass.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use super::md5::Md5;
use bytes::Bytes;
use sha2::{Digest, Sha256, Sha512};

use crate::config::HashingAlgorithm;

/// Pithos's block size: 4 MiB.
pub(crate) const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// Computes the Pithos hash and the MD5 of a byte stream fed in pieces of any size.
pub(crate) struct ObjectHasher {
    /// `None` where the MD5 is computed elsewhere (beside, on another core).
    md5: Option<Md5>,
    /// The `os_hash`, where one is asked for.
    os: Option<OsHasher>,
    block: Sha256,
    /// Bytes of the current block seen so far.
    in_block: usize,
    /// Zero bytes at the current end of the block not yet fed to `block`:
    /// trailing NULs of a block are not hashed, so they wait until a later
    /// non-zero byte shows they are not trailing.
    pending_zeros: usize,
    block_hashes: Vec<[u8; 32]>,
    /// The MD5 and the `os_hash` computed on threads of their own, where
    /// the bytes come as shared chunks (`update_shared`).
    beside: Option<Beside>,
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
            os: None,
            block: Sha256::new(),
            in_block: 0,
            pending_zeros: 0,
            block_hashes: Vec::new(),
            beside: None,
        }
    }

    /// A hasher of the Pithos hash alone.
    pub(crate) fn pithos_only() -> Self {
        ObjectHasher {
            md5: None,
            ..Self::new()
        }
    }

    /// A hasher of the Pithos hash, the MD5 and the `os_hash` of `algo`.
    pub(crate) fn with_os_hash(algo: HashingAlgorithm) -> Self {
        ObjectHasher {
            os: Some(OsHasher::new(algo)),
            ..Self::new()
        }
    }

    /// Feeds the next bytes of the object.
    pub(crate) fn update(&mut self, data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        if let Some(os) = &mut self.os {
            os.update(data);
        }
        self.feed_blocks(data);
    }

    /// Feeds the Pithos hash, block by block.
    fn feed_blocks(&mut self, mut data: &[u8]) {
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

    /// Feeds the next bytes as a shared chunk: with digests `beside`, the
    /// MD5 and the `os_hash` take it on their own threads while the Pithos
    /// hash is computed here; else as `update`.
    pub(crate) fn update_shared(&mut self, chunk: &Bytes) {
        let Some(beside) = &self.beside else {
            return self.update(chunk);
        };
        beside.send(chunk);
        self.feed_blocks(chunk);
    }

    /// This hasher (nothing fed yet) with its MD5 and `os_hash` moved to
    /// threads of their own, if the machine has a core for them now (see
    /// `Beside`); else unchanged.
    pub(crate) fn beside(mut self) -> Self {
        let algo = self.os.as_ref().map(OsHasher::algo);
        if let Some(beside) = BesidePlace::take().and_then(|p| Beside::start(p, algo)) {
            self.beside = Some(beside);
            (self.md5, self.os) = (None, None);
        }
        self
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
    pub(crate) fn finish(self) -> (String, String) {
        let (checksum, md5, _) = self.finish_all();
        (checksum, md5)
    }

    /// Ends the stream: `(pithos_hash, md5, os_hash)`, the last `None`
    /// unless the hasher was made `with_os_hash`.
    pub(crate) fn finish_all(mut self) -> (String, String, Option<OsHash>) {
        if let Some(beside) = self.beside.take() {
            let (md5, os_hash) = beside.finish();
            self.md5 = None;
            let (checksum, _, _) = self.finish_all();
            return (checksum, md5, os_hash);
        }
        let os_hash = self.os.take().map(OsHasher::finish);
        if self.in_block > 0 {
            self.finish_block();
        }
        let md5 = self.md5.take().map(Md5::finalize_hex).unwrap_or_default();
        (merkle_root(self.block_hashes), md5, os_hash)
    }
}

impl ObjectHasher {
    /// Ends the stream as `finish_all` does, also answering the hash of
    /// each block in order (lower-case hex): what the object store's index
    /// of known blocks records of an object written from a body.
    pub(crate) fn finish_with_blocks(mut self) -> ((String, String, Option<OsHash>), Vec<String>) {
        if self.in_block > 0 {
            self.finish_block();
        }
        let blocks = self.block_hashes.iter().map(hex::encode).collect();
        (self.finish_all(), blocks)
    }
}

/// The hash of each 4 MiB block of a file, in order (the empty file: the
/// hash of nothing, alone).
pub(crate) fn block_hashes(path: &Path) -> std::io::Result<Vec<String>> {
    let mut f = File::open(path)?;
    let mut hasher = ObjectHasher::pithos_only();
    let mut buf = vec![0u8; buffer_size(f.metadata()?.len())];
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

/// The Pithos hash of an object from its blocks' hashes in hex (an
/// assembly from known blocks needs no pass over the data for it).
pub(crate) fn pithos_hash_of(hashes: &[String]) -> String {
    let raw = hashes.iter().filter_map(|h| {
        let mut out = [0u8; 32];
        hex::decode_to_slice(h, &mut out).ok().map(|()| out)
    });
    merkle_root(raw.collect())
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

/// Buffers in flight while a file is hashed: read ahead of the slowest
/// digest by this many, and no more memory than this many 4 MiB buffers
/// for a file of any size.
const BUFFERS: usize = 4;

/// A read buffer shared between the reader and the digest threads.
type Shared = Arc<Vec<u8>>;

/// The digest of `os_hash_value`, of the configured algorithm.
pub(crate) enum OsHasher {
    /// SHA-512.
    Sha512(Sha512),
    /// SHA-256.
    Sha256(Sha256),
}

impl OsHasher {
    /// A digest of `algo` that has seen no bytes.
    pub(crate) fn new(algo: HashingAlgorithm) -> Self {
        match algo {
            HashingAlgorithm::Sha512 => OsHasher::Sha512(Sha512::new()),
            HashingAlgorithm::Sha256 => OsHasher::Sha256(Sha256::new()),
        }
    }

    /// The algorithm it computes.
    fn algo(&self) -> HashingAlgorithm {
        match self {
            OsHasher::Sha512(_) => HashingAlgorithm::Sha512,
            OsHasher::Sha256(_) => HashingAlgorithm::Sha256,
        }
    }

    /// Feeds the next bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            OsHasher::Sha512(h) => h.update(data),
            OsHasher::Sha256(h) => h.update(data),
        }
    }

    /// Ends the stream: the algorithm and the lower-case hex digest.
    pub(crate) fn finish(self) -> OsHash {
        match self {
            OsHasher::Sha512(h) => OsHash {
                algo: HashingAlgorithm::Sha512,
                value: hex::encode(h.finalize()),
            },
            OsHasher::Sha256(h) => OsHash {
                algo: HashingAlgorithm::Sha256,
                value: hex::encode(h.finalize()),
            },
        }
    }
}

/// An `os_hash_algo`/`os_hash_value` pair (docs/api.md §17.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OsHash {
    /// The algorithm the value was computed with: a stored value keeps it
    /// when the setting changes.
    pub(crate) algo: HashingAlgorithm,
    /// Lower-case hex.
    pub(crate) value: String,
}

/// Everything one pass over a file yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileHashes {
    /// Bytes read.
    pub(crate) size: u64,
    /// The Pithos hash.
    pub(crate) checksum: String,
    /// The MD5, lower-case hex.
    pub(crate) md5: String,
    /// The `os_hash`, when one was asked for.
    pub(crate) os_hash: Option<OsHash>,
}

/// Reads a file once: `(bytes read, pithos hash, md5)` (see `hash_file_with`).
pub(crate) fn hash_file(path: &Path) -> std::io::Result<(u64, String, String)> {
    let h = hash_file_with(path, None)?;
    Ok((h.size, h.checksum, h.md5))
}

/// Reads a file once and computes its Pithos hash, its MD5 and, when `os`
/// names an algorithm, its `os_hash`. The MD5 and the `os_hash` each run on
/// a thread of their own beside the Pithos hash, all on the same buffer at
/// once: neither digest can be split, so the slower one sets the pace, and
/// hashing a file takes about as long as `md5sum` reading it.
pub(crate) fn hash_file_with(
    path: &Path,
    os: Option<HashingAlgorithm>,
) -> std::io::Result<FileHashes> {
    let mut f = File::open(path)?;
    let size = buffer_size(f.metadata()?.len());
    // Each buffer goes to every digest thread as soon as it is read, the
    // Pithos hash reads it here meanwhile, and whoever lets go of it last
    // hands it back to be filled again.
    let (give_back, returned) = channel::<Shared>();
    for _ in 0..BUFFERS {
        let _ = give_back.send(Arc::new(Vec::with_capacity(size)));
    }
    let (to_md5, md5_chunks) = sync_channel::<Shared>(BUFFERS);
    let (to_os, os_chunks) = sync_channel::<Shared>(BUFFERS);
    std::thread::scope(|scope| {
        let md5 = spawn_digest(scope, md5_chunks, give_back.clone(), Md5::new(), |m| {
            m.finalize_hex()
        });
        let os_hash = os.map(|algo| {
            spawn_digest(
                scope,
                os_chunks,
                give_back,
                OsHasher::new(algo),
                OsHasher::finish,
            )
        });
        let mut sinks = vec![to_md5];
        if os_hash.is_some() {
            sinks.push(to_os);
        }
        let mut hasher = ObjectHasher::pithos_only();
        let result = read_through(&mut f, (&returned, &sinks, size), &mut hasher);
        drop(sinks);
        let panicked = |_| std::io::Error::other("a digest thread panicked");
        let md5 = md5.join().map_err(panicked)?;
        let os_hash = os_hash.map(|t| t.join().map_err(panicked)).transpose()?;
        let size = result?;
        let (checksum, _) = hasher.finish();
        Ok(FileHashes {
            size,
            checksum,
            md5,
            os_hash,
        })
    })
}

/// A digest fed on its own thread, one buffer at a time.
trait Feed: Send {
    /// Feeds the next bytes.
    fn feed(&mut self, data: &[u8]);
}

impl Feed for Md5 {
    fn feed(&mut self, data: &[u8]) {
        self.update(data);
    }
}

impl Feed for OsHasher {
    fn feed(&mut self, data: &[u8]) {
        self.update(data);
    }
}

/// Runs `digest` over every buffer `chunks` brings, handing each back when
/// it was the last to hold it; `finish` makes the result.
fn spawn_digest<'scope, D: Feed + 'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    chunks: Receiver<Shared>,
    give_back: std::sync::mpsc::Sender<Shared>,
    mut digest: D,
    finish: impl FnOnce(D) -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    scope.spawn(move || {
        for chunk in chunks {
            digest.feed(&chunk[..]);
            if let Some(buf) = Arc::into_inner(chunk) {
                let _ = give_back.send(Arc::new(buf));
            }
        }
        finish(digest)
    })
}

/// The read buffers' size for a file of `len` bytes: a block, or less for
/// a smaller file. A small file's registration then neither zeroes nor
/// holds 4 MiB buffers (issue 28: they stayed in the allocator's per-thread
/// arenas, ~100 MiB after 10,000 registrations). One byte more than the
/// file, so that a file that grew meanwhile is still read to its end.
fn buffer_size(len: u64) -> usize {
    usize::try_from(len.saturating_add(1)).map_or(BLOCK_SIZE, |n| n.min(BLOCK_SIZE))
}

/// Reads `f` to its end into the buffers (of `size` bytes) `returned`
/// gives back, each sent to every digest thread of `sinks` and hashed by
/// `hasher` meanwhile; the bytes read.
fn read_through(
    f: &mut File,
    (returned, sinks, size): (&Receiver<Shared>, &[SyncSender<Shared>], usize),
    hasher: &mut ObjectHasher,
) -> std::io::Result<u64> {
    let stopped = || std::io::Error::other("a digest thread stopped");
    // Buffers this loop let go of last, ready to be filled again.
    let mut spare: Vec<Shared> = Vec::new();
    let mut total = 0u64;
    loop {
        let mut shared = match spare.pop() {
            Some(buf) => buf,
            None => returned.recv().map_err(|_| stopped())?,
        };
        // Whoever handed it back was its last holder: no one else holds it
        // (were it otherwise, a new one would do).
        if Arc::get_mut(&mut shared).is_none() {
            shared = Arc::new(Vec::with_capacity(size));
        }
        let Some(buf) = Arc::get_mut(&mut shared) else {
            return Err(std::io::Error::other("a read buffer still in use"));
        };
        buf.resize(size, 0);
        let n = read_full(f, buf)?;
        if n == 0 {
            return Ok(total);
        }
        buf.truncate(n);
        total += n as u64;
        for sink in sinks {
            sink.send(Arc::clone(&shared)).map_err(|_| stopped())?;
        }
        hasher.update(&shared);
        if let Some(buf) = Arc::into_inner(shared) {
            spare.push(Arc::new(buf));
        }
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

/// Streams hashed with their digests beside them at once, process-wide: one
/// fewer than the machine's cores (at least one), so that uploads at once
/// never take every core from the readers; the others hash on their own
/// thread, as before.
static BESIDE_FREE: std::sync::LazyLock<std::sync::atomic::AtomicUsize> =
    std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        std::sync::atomic::AtomicUsize::new(cores.saturating_sub(1).max(1))
    });

/// Chunks a digest thread may lag behind the stream: memory stays bounded
/// (batches are about a mebibyte), and the stream waits for the slowest.
const BESIDE_LAG: usize = 16;

/// The MD5 and the `os_hash` of a stream, each on a thread of their own:
/// neither digest can be split, but the three of a stream (the Pithos
/// hash stays with the writer) can run on different cores at once
/// (issue 23: a v2 upload against `md5sum`, `sha256sum` and `sha512sum`).
struct Beside {
    md5: (SyncSender<Bytes>, std::thread::JoinHandle<String>),
    os: Option<(SyncSender<Bytes>, std::thread::JoinHandle<OsHash>)>,
}

/// Gives back a stream's place among those hashed beside (`BESIDE_FREE`).
struct BesidePlace;

impl BesidePlace {
    /// A place, if one is free.
    fn take() -> Option<BesidePlace> {
        use std::sync::atomic::Ordering;
        BESIDE_FREE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .ok()
            .map(|_| BesidePlace)
    }
}

impl Drop for BesidePlace {
    fn drop(&mut self) {
        BESIDE_FREE.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Beside {
    /// Digest threads for the MD5 and the `os_hash` of `os` (if any),
    /// holding `place` until both have ended; `None` if the system gives
    /// no thread (the stream is then hashed on its own thread).
    fn start(place: BesidePlace, os: Option<HashingAlgorithm>) -> Option<Beside> {
        let place = Arc::new(place);
        let md5 = Self::thread(Arc::clone(&place), Md5::new, Md5::finalize_hex)?;
        let os = match os {
            None => None,
            Some(algo) => Some(Self::thread(
                place,
                move || OsHasher::new(algo),
                OsHasher::finish,
            )?),
        };
        Some(Beside { md5, os })
    }

    /// A thread feeding `digest` every chunk it is sent, until the sender
    /// goes, then answering `end(digest)`; the place is held until then.
    fn thread<D, T>(
        place: Arc<BesidePlace>,
        digest: impl FnOnce() -> D + Send + 'static,
        end: fn(D) -> T,
    ) -> Option<(SyncSender<Bytes>, std::thread::JoinHandle<T>)>
    where
        D: Updates + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = sync_channel::<Bytes>(BESIDE_LAG);
        let work = move || {
            let _place = place;
            let mut digest = digest();
            for chunk in rx {
                digest.feed(&chunk);
            }
            end(digest)
        };
        let handle = std::thread::Builder::new()
            .name("upload-digest".into())
            .spawn(work)
            .ok()?;
        Some((tx, handle))
    }

    /// Hands `chunk` to each digest thread (a reference count, no copy).
    fn send(&self, chunk: &Bytes) {
        // A digest thread that is gone has panicked: `finish` says so.
        let _ = self.md5.0.send(chunk.clone());
        if let Some((tx, _)) = &self.os {
            let _ = tx.send(chunk.clone());
        }
    }

    /// Ends the stream: the MD5 and the `os_hash` once their threads have
    /// taken every chunk.
    fn finish(self) -> (String, Option<OsHash>) {
        let Beside { md5, os } = self;
        drop(md5.0);
        let os = os.map(|(tx, handle)| {
            drop(tx);
            handle
        });
        let md5 = md5
            .1
            .join()
            .unwrap_or_else(|_| panic!("the MD5 thread of an upload panicked"));
        let os = os.map(|h| {
            h.join()
                .unwrap_or_else(|_| panic!("the os_hash thread of an upload panicked"))
        });
        (md5, os)
    }
}

/// A digest fed in pieces.
trait Updates {
    /// Feeds the next bytes.
    fn feed(&mut self, data: &[u8]);
}

impl Updates for Md5 {
    fn feed(&mut self, data: &[u8]) {
        self.update(data);
    }
}

impl Updates for OsHasher {
    fn feed(&mut self, data: &[u8]) {
        self.update(data);
    }
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
    fn one_pass_over_a_file_gives_all_three_digests() {
        let dir = tempfile::tempdir().unwrap();
        // Past BUFFERS blocks, so that every buffer is handed back and reused.
        let few = [
            "empty",
            "one-byte-a",
            "pat-block-then-zero-tail",
            "pat-five-blocks",
        ];
        for (name, data) in vectors().into_iter().filter(|(n, _)| few.contains(n)) {
            let path = dir.path().join(name);
            std::fs::write(&path, &data).unwrap();
            let (checksum, md5) = hash_bytes(&data);
            for algo in [HashingAlgorithm::Sha512, HashingAlgorithm::Sha256] {
                let h = hash_file_with(&path, Some(algo)).unwrap();
                let expected = match algo {
                    HashingAlgorithm::Sha512 => hex::encode(Sha512::digest(&data)),
                    HashingAlgorithm::Sha256 => hex::encode(Sha256::digest(&data)),
                };
                assert_eq!(
                    (h.size, &h.checksum, &h.md5),
                    (data.len() as u64, &checksum, &md5)
                );
                assert_eq!(
                    h.os_hash,
                    Some(OsHash {
                        algo,
                        value: expected
                    }),
                    "{name}"
                );
            }
            let mut streamed = ObjectHasher::with_os_hash(HashingAlgorithm::Sha256);
            for piece in data.chunks(65_537) {
                streamed.update(piece);
            }
            let (c, m, os) = streamed.finish_all();
            assert_eq!((&c, &m), (&checksum, &md5));
            assert_eq!(os.unwrap().value, hex::encode(Sha256::digest(&data)));
            let plain = hash_file_with(&path, None).unwrap();
            assert_eq!(
                (plain.checksum, plain.md5, plain.os_hash),
                (checksum, md5, None)
            );
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
