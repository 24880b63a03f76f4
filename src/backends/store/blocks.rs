//! Uploaded blocks (`POST /<account>/<container>?update`), kept under
//! `<root>/+blocks/<hash>` until a hashmap `PUT` uses them or they have
//! gone unused for a day. A block is kept without its trailing NULs (they
//! are not hashed, and an object puts each block in a slot padded with
//! NULs), so a short block and the full one with the same hash are one
//! file. The block of NULs alone, whose hash is that of nothing, is always
//! known and never stored.
//!
//! A hashmap `PUT` reserves the hashes it names for its object until that
//! object is written (or a day has passed): another upload whose object
//! uses the same blocks then leaves them in place, so that an upload told
//! "these blocks are there" (or told to send only the others) still finds
//! them at its final `PUT`.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::Stream;

use super::intake::{upload_work, Batches};
use super::pending::Pending;
use super::space::Ledger;
use super::staging::sync_dir;
use super::{write_error, StoreError};
use crate::backends::hash::{ObjectHasher, BLOCK_SIZE};
use crate::domain::objects::hashmap::{is_block_hash, EMPTY_HASH};

/// The block directory under the store root ('+' is in no user id, so no
/// account directory has this name).
pub(crate) const BLOCKS_DIR: &str = "+blocks";

/// How long a block nobody used is kept.
pub(crate) const BLOCK_TTL: Duration = Duration::from_secs(24 * 3600);

/// How often a block upload also sweeps expired blocks.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// The block store.
pub(crate) struct Blocks {
    dir: PathBuf,
    last_sweep: Mutex<Instant>,
    /// Hashes an assembly in progress reads, with how many read each.
    pins: Mutex<HashMap<String, usize>>,
    /// By object key: the hashes its hashmap `PUT` named, and until when
    /// they are kept for it.
    reserved: Mutex<HashMap<String, Reservation>>,
    /// The quota's ledger: space claimed, blocks not yet consumed.
    space: Arc<Ledger>,
    /// Objects a hashmap `PUT` was answered 409 for, filled as their
    /// blocks come.
    pending: Pending,
}

/// The blocks a hashmap `PUT` named for its object (raw SHA-256s: a
/// third of the memory of their hex).
struct Reservation {
    until: Instant,
    hashes: HashSet<[u8; 32]>,
}

/// The most block hashes one account's reservations hold: a 1 TiB
/// object's hashmap (about 10 MiB of memory).
const MAX_RESERVED_PER_ACCOUNT: usize = 1 << 18;

/// The most block hashes all reservations hold (about 80 MiB of memory).
const MAX_RESERVED: usize = 1 << 21;

/// The raw bytes of a block hash in hex.
fn raw(hash: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hash, &mut out).ok().map(|()| out)
}

/// The account of an object key (`<account>/<container>/<object>`).
fn account_of(key: &str) -> &str {
    key.split('/').next().unwrap_or_default()
}

/// Drops the oldest reservations (of `account`, or of all) until the
/// hashes they hold are at most `max`.
fn bound(reserved: &mut HashMap<String, Reservation>, account: Option<&str>, max: usize) {
    let mine = |k: &str| account.is_none_or(|a| account_of(k) == a);
    let mut held: usize = reserved
        .iter()
        .filter(|(k, _)| mine(k))
        .map(|(_, r)| r.hashes.len())
        .sum();
    while held > max {
        let Some(oldest) = reserved
            .iter()
            .filter(|(k, _)| mine(k))
            .min_by_key(|(_, r)| r.until)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        if let Some(r) = reserved.remove(&oldest) {
            held -= r.hashes.len();
        }
    }
}

/// What a block upload stored.
pub(crate) struct Stored {
    /// The hash of each block, in order.
    pub(crate) hashes: Vec<String>,
    /// The blocks whose files it made in `+blocks`.
    pub(crate) made: Vec<String>,
    /// The blocks it wrote into objects waiting for them instead, with
    /// their sizes.
    pub(crate) placed: Vec<(String, u64)>,
}

/// The blocks an assembly reads, held until it ends.
pub(crate) struct Pinned {
    blocks: Arc<Blocks>,
    hashes: Vec<String>,
}

/// A block being written (see `Blocks::start_block`); dropped unfinished,
/// its file is removed.
pub(crate) struct BlockWriter {
    tmp: Option<PathBuf>,
    file: File,
    hasher: ObjectHasher,
    /// Bytes written.
    len: u64,
    /// Bytes up to the last one that is not NUL: what is kept.
    kept: u64,
}

impl BlockWriter {
    /// The block's hash, once every byte is written.
    fn digest(&mut self) -> String {
        std::mem::take(&mut self.hasher).finish().0
    }

    /// Appends the next bytes of the block.
    pub(crate) fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data)?;
        self.hasher.update(data);
        if let Some(i) = data.iter().rposition(|&b| b != 0) {
            self.kept = self.len + i as u64 + 1;
        }
        self.len += data.len() as u64;
        Ok(())
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// The blocks of one upload so far: the one being written, the hashes of
/// those done, and which of them this upload made.
#[derive(Default)]
struct Taken {
    account: String,
    current: Option<BlockWriter>,
    in_block: usize,
    hashes: Vec<String>,
    made: Vec<String>,
    /// Blocks written into objects waiting for them (`Pending`), with
    /// their sizes, instead of into `+blocks`.
    placed: Vec<(String, u64)>,
}

impl Taken {
    fn feed(&mut self, blocks: &Blocks, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let w = match &mut self.current {
                Some(w) => w,
                None => self.current.insert(blocks.start_block()?),
            };
            let take = (BLOCK_SIZE - self.in_block).min(data.len());
            w.write(&data[..take])?;
            self.in_block += take;
            data = &data[take..];
            if self.in_block == BLOCK_SIZE {
                self.close(blocks)?;
            }
        }
        Ok(())
    }

    fn stored(self) -> Stored {
        Stored {
            hashes: self.hashes,
            made: self.made,
            placed: self.placed,
        }
    }

    fn close(&mut self, blocks: &Blocks) -> std::io::Result<()> {
        if let Some(mut w) = self.current.take() {
            let hash = w.digest();
            let waited = hash != EMPTY_HASH
                && blocks
                    .pending
                    .take(&self.account, &hash, (&w.file, w.kept))?;
            if waited {
                // Dropped: the partial file goes, never synced.
                self.placed.push((hash.clone(), w.kept));
            } else if blocks.keep_block(w, &hash)? {
                self.made.push(hash.clone());
            }
            self.hashes.push(hash);
        }
        self.in_block = 0;
        Ok(())
    }
}

#[cfg(test)]
fn strip(data: &[u8]) -> &[u8] {
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &data[..end]
}

/// The hash of a block: SHA-256 of it without its trailing NULs.
#[cfg(test)]
pub(crate) fn block_hash(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(strip(data)))
}

impl Blocks {
    /// The block store of `root`, made if missing; expired blocks are
    /// removed, and with `sole` (this process holds the staging lock: no
    /// other can be writing a block) every partial block write too.
    pub(crate) fn open(root: &Path, sole: bool, write_once: bool) -> std::io::Result<Blocks> {
        let dir = root.join(BLOCKS_DIR);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
            sync_dir(root)?;
        }
        let blocks = Blocks {
            dir,
            last_sweep: Mutex::new(Instant::now()),
            pins: Mutex::new(HashMap::new()),
            reserved: Mutex::new(HashMap::new()),
            space: Arc::new(Ledger::default()),
            pending: Pending::new(write_once),
        };
        let parts = if sole { remove_parts(&blocks.dir)? } else { 0 };
        if parts > 0 {
            log::info!("removed {parts} partial block write(s) left by a stop");
        }
        let removed = blocks.sweep(BLOCK_TTL)?;
        if removed > 0 {
            log::info!("removed {removed} block(s) unused for a day");
        }
        Ok(blocks)
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(hash)
    }

    /// Whether the block is known.
    pub(crate) fn has(&self, hash: &str) -> bool {
        hash == EMPTY_HASH || (is_block_hash(hash) && self.path(hash).is_file())
    }

    /// Stores one block (synced) under its hash: the hash, and whether this
    /// call made the file (a block already there only has its time renewed).
    #[cfg(test)]
    pub(crate) fn put(&self, data: &[u8]) -> std::io::Result<(String, bool)> {
        let mut w = self.start_block()?;
        w.write(data)?;
        self.finish_block(w)
    }

    /// Starts writing a block that arrives in pieces.
    pub(crate) fn start_block(&self) -> std::io::Result<BlockWriter> {
        let tmp = self
            .dir
            .join(format!("{PART}{}", uuid::Uuid::new_v4().simple()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        Ok(BlockWriter {
            tmp: Some(tmp),
            file,
            hasher: ObjectHasher::pithos_only(),
            len: 0,
            kept: 0,
        })
    }

    /// Ends a block as `put` does: without its trailing NULs, synced, under
    /// its hash, unless a block of that hash is there already.
    #[cfg(test)]
    pub(crate) fn finish_block(&self, mut w: BlockWriter) -> std::io::Result<(String, bool)> {
        let hash = w.digest();
        let made = self.keep_block(w, &hash)?;
        Ok((hash, made))
    }

    /// Keeps a block whose hash is `hash` (see `finish_block`): whether
    /// this made its file.
    fn keep_block(&self, mut w: BlockWriter, hash: &str) -> std::io::Result<bool> {
        if hash == EMPTY_HASH {
            return Ok(false);
        }
        let path = self.path(hash);
        if let Ok(f) = File::options().append(true).open(&path) {
            f.set_modified(SystemTime::now())?;
            return Ok(false);
        }
        w.file.set_len(w.kept)?;
        w.file.sync_all()?;
        let tmp = w.tmp.take().expect("a block being written has its file");
        if let Err(e) = std::fs::rename(&tmp, &path).and_then(|_| sync_dir(&self.dir)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(true)
    }

    /// Stores the blocks of `body` (each `BLOCK_SIZE` bytes, the last maybe
    /// short) for `account`, written as they arrive, a mebibyte at a time:
    /// a block an object of the account waits for goes into that object's
    /// staging file (`Pending`), any other into `+blocks`, synced. A body
    /// past `limit` bytes is `PastLimit`; on any failure the `+blocks`
    /// files this call made are removed.
    pub(crate) async fn receive<S, E>(
        self: &Arc<Self>,
        account: &str,
        body: S,
        limit: u64,
    ) -> Result<Stored, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut taken = Taken {
            account: account.to_string(),
            ..Taken::default()
        };
        let mut batches = Batches::new(body, limit);
        let outcome = loop {
            let batch = match batches.next().await {
                Ok(Some(batch)) => batch,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            let b = Arc::clone(self);
            let stepped = upload_work(move || {
                let r = batch.iter().try_for_each(|c| taken.feed(&b, c));
                (taken, r)
            })
            .await;
            match stepped {
                Ok((t, r)) => {
                    taken = t;
                    if let Err(e) = r {
                        break Err(write_error(e));
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let outcome = match outcome {
            Ok(()) => {
                let b = Arc::clone(self);
                let (t, r) = super::blocking(move || {
                    let r = taken.close(&b);
                    Ok((taken, r))
                })
                .await?;
                taken = t;
                r.map_err(write_error)
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => Ok(taken.stored()),
            Err(e) => {
                self.undo(&taken.made);
                Err(e)
            }
        }
    }

    /// Removes blocks this request made, when it fails after making them.
    pub(crate) fn undo(&self, made: &[String]) {
        for h in made {
            let _ = std::fs::remove_file(self.path(h));
        }
    }

    /// A block's file, opened, with its length (the block without its
    /// trailing NULs); `None` if it is gone or is the block of NULs alone.
    pub(crate) fn open_block(&self, hash: &str) -> Option<(File, u64)> {
        if hash == EMPTY_HASH {
            return None;
        }
        let file = File::open(self.path(hash)).ok()?;
        let len = file.metadata().ok()?.len();
        Some((file, len))
    }

    /// A block's bytes (without its trailing NULs); `None` if it is gone.
    #[cfg(test)]
    pub(crate) fn read(&self, hash: &str) -> Option<Vec<u8>> {
        if hash == EMPTY_HASH {
            return Some(Vec::new());
        }
        std::fs::read(self.path(hash)).ok()
    }

    /// Keeps `hashes` for the object `key` (replacing what was kept for it)
    /// until that object is written or `BLOCK_TTL` has passed; drops the
    /// reservations that expired, then the oldest ones while the account's
    /// or everyone's pass their bound (an upload whose reservation went is
    /// told to send those blocks again, nothing worse). Call it before
    /// looking for the blocks: one removed before this is then seen as missing.
    pub(crate) fn reserve(&self, key: &str, hashes: &[String]) {
        let now = Instant::now();
        let mut reserved = self
            .reserved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reserved.retain(|_, r| r.until > now);
        let hashes: HashSet<[u8; 32]> = hashes
            .iter()
            .filter(|h| h.as_str() != EMPTY_HASH)
            .filter_map(|h| raw(h))
            .collect();
        reserved.remove(key);
        if hashes.is_empty() {
            return;
        }
        let account = account_of(key).to_string();
        reserved.insert(
            key.to_string(),
            Reservation {
                until: now + BLOCK_TTL,
                hashes,
            },
        );
        bound(&mut reserved, Some(&account), MAX_RESERVED_PER_ACCOUNT);
        bound(&mut reserved, None, MAX_RESERVED);
    }

    /// Holds `hashes` against removal by other assemblies until the guard is dropped.
    pub(crate) fn pin(self: &Arc<Self>, hashes: &[String]) -> Pinned {
        let mut unique = hashes.to_vec();
        unique.sort();
        unique.dedup();
        let mut pins = self
            .pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for h in &unique {
            *pins.entry(h.clone()).or_default() += 1;
        }
        Pinned {
            blocks: Arc::clone(self),
            hashes: unique,
        }
    }

    /// Removes files older than `age` (blocks, and partial writes); the
    /// ledger forgets the blocks removed.
    pub(crate) fn sweep(&self, age: Duration) -> std::io::Result<usize> {
        let removed = sweep_dir(&self.dir, age)?;
        if removed > 0 {
            self.space
                .prune(|h| self.path(h).is_file() || self.pending.holds(h));
        }
        Ok(removed)
    }

    /// The store root the block directory is in.
    pub(crate) fn root(&self) -> PathBuf {
        self.dir.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// The objects waiting for their blocks.
    pub(crate) fn pending(&self) -> &Pending {
        &self.pending
    }

    /// The quota's ledger of this store root.
    pub(crate) fn space(&self) -> &Arc<Ledger> {
        &self.space
    }

    /// The bytes kept of each of `hashes` (blocks not there are left out).
    pub(crate) fn sizes(&self, hashes: &[String]) -> Vec<(String, u64)> {
        hashes
            .iter()
            .filter_map(|h| Some((h.clone(), self.path(h).metadata().ok()?.len())))
            .collect()
    }
}

/// Removes the files of `dir` older than `age`.
fn sweep_dir(dir: &Path, age: Duration) -> std::io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= age);
        if old && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// The name prefix of a block being written.
const PART: &str = ".part-";

/// Removes the partial block writes of `dir`, whatever their age: called
/// where no upload can be running (at start, by `plankton check`), so each
/// is the leftover of a process that was stopped mid-write.
fn remove_parts(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let part = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PART));
        if part && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// For `plankton check`: removes the blocks of `root` unused for a day,
/// and, when no server runs on the root (the staging lock is free), every
/// partial block write (a stopped process's leftover).
pub(crate) fn sweep_expired(root: &Path) -> std::io::Result<usize> {
    let dir = root.join(BLOCKS_DIR);
    if !dir.is_dir() {
        return Ok(0);
    }
    let parts = match super::staging::claim(root)? {
        Some(_lock) => remove_parts(&dir)?,
        None => 0,
    };
    Ok(parts + sweep_dir(&dir, BLOCK_TTL)?)
}

impl Blocks {
    /// Sweeps expired blocks if the last sweep was an hour ago or more.
    pub(crate) fn sweep_now_and_then(&self) {
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.elapsed() < SWEEP_EVERY {
                return;
            }
            *last = Instant::now();
        }
        if let Err(e) = self.sweep(BLOCK_TTL) {
            log::warn!("sweeping expired blocks: {e}");
        }
    }
}

/// The blocks an assembled object was made of, held until it is recorded.
pub(crate) struct Used {
    pinned: Pinned,
    key: String,
}

impl std::fmt::Debug for Used {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "blocks used by {}", self.key)
    }
}

impl Used {
    /// Holds the pinned blocks for the object `key`.
    pub(crate) fn new(pinned: Pinned, key: String) -> Used {
        Used { pinned, key }
    }

    /// The object is recorded: see `Pinned::consume`.
    pub(crate) fn consume(self) {
        self.pinned.consume(&self.key);
    }
}

impl Pinned {
    /// Ends the assembly of the object `key`, which used its blocks: its
    /// reservation ends, and the blocks no other assembly holds and no other
    /// object's upload reserved are removed, since the object now keeps
    /// their bytes.
    pub(crate) fn consume(self, key: &str) {
        let pins = self
            .blocks
            .pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut reserved = self
            .blocks
            .reserved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reserved.remove(key);
        self.blocks.space.gone(&self.hashes);
        let now = Instant::now();
        let mut removed = false;
        for h in &self.hashes {
            let last = pins.get(h).is_some_and(|n| *n == 1);
            let kept = raw(h).is_some_and(|h| {
                reserved
                    .values()
                    .any(|r| r.until > now && r.hashes.contains(&h))
            });
            if last && !kept && h != EMPTY_HASH && std::fs::remove_file(self.blocks.path(h)).is_ok()
            {
                removed = true;
            }
        }
        drop(reserved);
        drop(pins);
        if removed {
            let _ = sync_dir(&self.blocks.dir);
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let mut pins = self
            .blocks
            .pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for h in &self.hashes {
            if let Some(n) = pins.get_mut(h) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(h);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_kept_by_hash_without_trailing_nuls() {
        let dir = tempfile::tempdir().unwrap();
        let blocks = Arc::new(Blocks::open(dir.path(), true, true).unwrap());
        let (h, made) = blocks.put(b"abc\0\0").unwrap();
        assert!(made);
        assert_eq!(h, block_hash(b"abc"));
        assert_eq!(blocks.put(b"abc").unwrap(), (h.clone(), false));
        assert_eq!(blocks.read(&h).unwrap(), b"abc");
        assert_eq!(
            blocks.put(&[0u8; 10]).unwrap(),
            (EMPTY_HASH.to_string(), false)
        );
        assert!(blocks.has(EMPTY_HASH) && blocks.has(&h) && !blocks.has("../x"));
        let (other, _) = blocks.put(b"xyz").unwrap();
        {
            let _a = blocks.pin(std::slice::from_ref(&h));
            blocks
                .pin(&[h.clone(), other.clone(), other.clone()])
                .consume("a/c/x");
        }
        assert!(blocks.has(&h), "held by another assembly");
        assert!(!blocks.has(&other), "consumed");
        assert_eq!(blocks.sweep(Duration::ZERO).unwrap(), 1);
        assert!(!blocks.has(&h));
    }

    #[test]
    fn partial_block_writes_go_at_start_and_at_check_only_with_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join(BLOCKS_DIR).join(".part-left");
        Blocks::open(dir.path(), true, true).unwrap();
        std::fs::write(&part, b"half a block").unwrap();
        Blocks::open(dir.path(), false, true).unwrap();
        assert!(part.exists(), "another process may be writing it");
        Blocks::open(dir.path(), true, true).unwrap();
        assert!(!part.exists(), "removed at start");
        std::fs::write(&part, b"half a block").unwrap();
        {
            let _server = super::super::staging::claim(dir.path()).unwrap().unwrap();
            assert_eq!(sweep_expired(dir.path()).unwrap(), 0);
            assert!(part.exists(), "a server runs: left to it");
        }
        assert_eq!(sweep_expired(dir.path()).unwrap(), 1);
        assert!(!part.exists(), "removed by check");
    }

    #[test]
    fn blocks_reserved_by_another_upload_outlive_an_assembly() {
        let dir = tempfile::tempdir().unwrap();
        let blocks = Arc::new(Blocks::open(dir.path(), true, true).unwrap());
        let (x, _) = blocks.put(b"shared").unwrap();
        let (y, _) = blocks.put(b"own").unwrap();
        blocks.reserve("a/c/b", std::slice::from_ref(&x));
        blocks.reserve("a/c/a", &[x.clone(), y.clone()]);
        blocks.pin(&[x.clone(), y.clone()]).consume("a/c/a");
        assert!(blocks.has(&x), "reserved by the upload of a/c/b");
        assert!(!blocks.has(&y), "used by a/c/a alone");
        blocks.pin(std::slice::from_ref(&x)).consume("a/c/b");
        assert!(!blocks.has(&x), "no reservation left");
        // Replacing a reservation with an empty one ends it.
        let (z, _) = blocks.put(b"z").unwrap();
        blocks.reserve("a/c/d", std::slice::from_ref(&z));
        blocks.reserve("a/c/d", &[]);
        blocks.pin(std::slice::from_ref(&z)).consume("a/c/e");
        assert!(!blocks.has(&z));
    }

    #[test]
    fn reservations_are_bounded_per_account_and_in_all() {
        let dir = tempfile::tempdir().unwrap();
        let blocks = Blocks::open(dir.path(), true, true).unwrap();
        let hashes = |seed: usize, n: usize| -> Vec<String> {
            (0..n)
                .map(|i| block_hash(format!("{seed}-{i}").as_bytes()))
                .collect()
        };
        for i in 0..3 {
            blocks.reserve(&format!("a/c/{i}"), &hashes(i, 4));
            blocks.reserve(&format!("b/c/{i}"), &hashes(10 + i, 4));
        }
        let mut reserved = blocks.reserved.lock().unwrap();
        let held = |r: &HashMap<String, Reservation>, account: Option<&str>| -> usize {
            r.iter()
                .filter(|(k, _)| account.is_none_or(|a| account_of(k) == a))
                .map(|(_, r)| r.hashes.len())
                .sum()
        };
        assert_eq!(held(&reserved, None), 24);
        bound(&mut reserved, Some("a"), 8);
        assert_eq!(held(&reserved, Some("a")), 8);
        assert!(!reserved.contains_key("a/c/0"), "the oldest goes first");
        assert_eq!(held(&reserved, Some("b")), 12, "others keep theirs");
        bound(&mut reserved, None, 10);
        assert!(held(&reserved, None) <= 10);
        assert!(reserved.contains_key("b/c/2"), "the newest stays");
    }
}
