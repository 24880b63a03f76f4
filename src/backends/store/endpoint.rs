//! The object-store endpoint's file work (docs/api.md §14), done by the
//! `fs` store alone: Pithos answers `Unsupported` (the endpoint is not
//! served there), so the endpoint reaches files only through the enum.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use super::blocks::{Blocks, Used};
use super::objects::{object_key, FileInfo};
use super::space::{Ask, Claim};
use super::staging::{Finished, Staged};
use super::{blocking, write_error, FsStore, ObjectRead, ObjectStore, Received, StoreError};
use crate::backends::hash::BLOCK_SIZE as BLOCK;
use crate::config::HashingAlgorithm;
use crate::domain::image::OsHash;
use crate::domain::location::Location;
use crate::domain::objects::hashmap::{Hashmap, EMPTY_HASH};
use crate::domain::range::ByteRange;

/// What Pithos answers to the endpoint's file work.
const NOT_HERE: &str = "the object-store endpoint is plankton's own: Pithos serves its objects";

/// An object assembled from uploaded blocks, or the blocks missing.
#[derive(Debug)]
pub(crate) enum Assembled {
    /// The data, received in staging.
    Made(Received),
    /// The hashes of the blocks missing, each once in order of first use.
    Missing(Vec<String>),
    /// A known block's object file changed since it was recorded: its
    /// index entries must go, and the blocks be looked for again.
    Stale(Location),
}

/// Where known blocks are, by hash: an object the caller may read, the
/// block's offset in it, and the file's size and mtime when recorded.
pub(crate) type KnownBlocks = HashMap<String, (Location, u64, FileInfo)>;

impl ObjectStore {
    fn endpoint(&self) -> Result<Arc<FsStore>, StoreError> {
        match self {
            ObjectStore::Fs(fs) => Ok(Arc::clone(fs)),
            ObjectStore::Pithos(_) => Err(StoreError::Unsupported(NOT_HERE)),
        }
    }

    /// Runs `f` on the `fs` store off the async workers.
    async fn on_fs<T: Send + 'static>(
        &self,
        f: impl FnOnce(&FsStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let fs = self.endpoint()?;
        blocking(move || f(&fs)).await
    }

    /// Whether the container is there (a directory).
    pub(crate) async fn container_exists(
        &self,
        account: &str,
        container: &str,
    ) -> Result<bool, StoreError> {
        let (a, c) = (account.to_string(), container.to_string());
        self.on_fs(move |fs| fs.container_exists(&a, &c)).await
    }

    /// Makes a container; whether it was made now.
    pub(crate) async fn create_container(
        &self,
        account: &str,
        container: &str,
    ) -> Result<bool, StoreError> {
        let (a, c) = (account.to_string(), container.to_string());
        self.on_fs(move |fs| fs.create_container(&a, &c)).await
    }

    /// Removes an empty container; `false` if it holds an object.
    pub(crate) async fn remove_container(
        &self,
        account: &str,
        container: &str,
    ) -> Result<bool, StoreError> {
        let (a, c) = (account.to_string(), container.to_string());
        self.on_fs(move |fs| fs.remove_container(&a, &c)).await
    }

    /// The account's containers, by name, with their directories' info.
    pub(crate) async fn containers(
        &self,
        account: &str,
    ) -> Result<Vec<(String, FileInfo)>, StoreError> {
        let a = account.to_string();
        self.on_fs(move |fs| fs.containers(&a)).await
    }

    /// Whether the container is there, and its objects by name.
    pub(crate) async fn objects(
        &self,
        account: &str,
        container: &str,
    ) -> Result<(bool, Vec<(String, FileInfo)>), StoreError> {
        let (a, c) = (account.to_string(), container.to_string());
        self.on_fs(move |fs| Ok((fs.container_exists(&a, &c)?, fs.objects(&a, &c)?)))
            .await
    }

    /// The object's file info, if there is an object.
    pub(crate) async fn object_info(&self, loc: &Location) -> Result<Option<FileInfo>, StoreError> {
        let l = loc.clone();
        self.on_fs(move |fs| Ok(fs.object_file(&l)?.map(|(_, info)| info)))
            .await
    }

    /// Opens the object and reads it (the `range` of it); `Ok(None)` if it
    /// is not there. The info is the opened file's.
    pub(crate) async fn read_object(
        &self,
        loc: &Location,
        range: Option<ByteRange>,
    ) -> Result<Option<(FileInfo, ObjectRead)>, StoreError> {
        let l = loc.clone();
        let Some((open, info)) = self.on_fs(move |fs| fs.open_object_file(&l)).await? else {
            return Ok(None);
        };
        Ok(Some((info, open.read(range).await?)))
    }

    /// The object's `(pithos hash, md5)`, if it still has the `info` it was
    /// listed with.
    pub(crate) async fn hash_object(
        &self,
        key: &str,
        info: FileInfo,
    ) -> Result<(String, String), StoreError> {
        let k = key.to_string();
        self.on_fs(move |fs| fs.hash_object(&k, info)).await
    }

    /// Notes that the MD5 of the object at `key`, just written as `info`,
    /// is owed: it is computed once, by `md5_of`, whoever asks first.
    pub(crate) fn owe_md5(&self, key: &str, info: FileInfo) {
        if let ObjectStore::Fs(fs) = self {
            fs.owe_md5(key, info);
        }
    }

    /// The owed MD5 of `key` is recorded; it need not be kept here.
    pub(crate) fn md5_settled(&self, key: &str, info: FileInfo) {
        if let ObjectStore::Fs(fs) = self {
            fs.md5_settled(key, info);
        }
    }

    /// The MD5 of the object at `key` while it has `info` (`KeptChanging`
    /// otherwise): the owed one, computed once, or read through now.
    pub(crate) async fn md5_of(&self, key: &str, info: FileInfo) -> Result<String, StoreError> {
        let k = key.to_string();
        self.on_fs(move |fs| fs.md5_of(&k, info)).await
    }

    /// The `os_hash` of `algo` of the object at `key` while it has `info`
    /// (`KeptChanging` otherwise), read through now as upload work: work
    /// left for after an answer leaves the catalogue's reads a core.
    pub(crate) async fn os_hash_of(
        &self,
        key: &str,
        info: FileInfo,
        algo: HashingAlgorithm,
    ) -> Result<OsHash, StoreError> {
        let (fs, k) = (self.endpoint()?, key.to_string());
        super::intake::upload_work(move || fs.os_hash_of(&k, info, algo)).await?
    }

    /// Received data with its MD5 computed, where it was owed (a request
    /// that sent an `ETag` to check).
    pub(crate) async fn md5_now(&self, mut received: Received) -> Result<Received, StoreError> {
        blocking(move || {
            received.md5_now()?;
            Ok(received)
        })
        .await
    }

    /// The hash of each block of the object.
    pub(crate) async fn object_block_hashes(
        &self,
        loc: &Location,
    ) -> Result<Vec<String>, StoreError> {
        let key = object_key(loc);
        self.on_fs(move |fs| fs.object_block_hashes(&key)).await
    }

    /// Removes the object (and the directories only it needed); whether
    /// there was one.
    pub(crate) async fn remove_object(&self, loc: &Location) -> Result<bool, StoreError> {
        let l = loc.clone();
        self.on_fs(move |fs| fs.remove_object(&l)).await
    }

    /// Checks that a write can go to `loc`: no link on the way, no file
    /// where a directory must be, no directory where the object must be.
    pub(crate) async fn check_destination(&self, loc: &Location) -> Result<(), StoreError> {
        let l = loc.clone();
        self.on_fs(move |fs| fs.object_destination(&l).map(|_| ()))
            .await
    }

    /// Receives an object's data into staging, at most `limit` bytes.
    pub(crate) async fn receive_object<S, E>(
        &self,
        body: S,
        limit: u64,
    ) -> Result<Received, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let staged = self.endpoint()?.receive(body, limit, None).await?;
        Ok(Received::staged(staged, None))
    }

    /// Stores the body's blocks (at most `limit` bytes) for `account` and
    /// answers their hashes in order; the blocks it made count against the
    /// account's quota until an object consumes them. A failed upload
    /// leaves none of the blocks it made.
    pub(crate) async fn store_blocks<S, E>(
        &self,
        account: &str,
        body: S,
        limit: u64,
    ) -> Result<Vec<String>, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let fs = self.endpoint()?;
        let blocks = Arc::clone(fs.blocks()?);
        let stored = blocks.receive(account, body, limit).await?;
        let account = account.to_string();
        let hashes = stored.hashes;
        let (made, placed) = (stored.made, stored.placed);
        let _ = blocking(move || {
            blocks.space().made(&account, blocks.sizes(&made));
            blocks.space().made(&account, placed);
            blocks.sweep_now_and_then();
            Ok(())
        })
        .await;
        Ok(hashes)
    }

    /// Claims the space of a write under the account's quota, its usage on
    /// disk read under the ledger's lock: the claim, or `Err(left)` when
    /// the write needs more than is left.
    pub(crate) async fn claim_space(&self, ask: Ask) -> Result<Result<Claim, u64>, StoreError> {
        self.on_fs(move |fs| {
            let ledger = Arc::clone(fs.blocks()?.space());
            ledger.claim(&ask, || fs.usage(&ask.account))
        })
        .await
    }

    /// The object `loc` as the very file of `source`, an object holding the
    /// same bytes (its recorded Pithos hash and size are the hashmap's):
    /// a hard link in staging, placed as any write is, so the assembly
    /// writes nothing (docs/behaviour.md, "Known blocks"). `None` (copy
    /// instead) where `source` is no longer the file recorded as `seen`,
    /// where `loc` holds that very file already or one modified later (its
    /// `Last-Modified` would go back), or where the link is refused.
    pub(crate) async fn link_same(
        &self,
        (loc, source): (&Location, &Location),
        seen: FileInfo,
        (pithos_hash, md5): (String, Option<String>),
    ) -> Result<Option<Received>, StoreError> {
        let key = object_key(loc);
        let (loc, source) = (loc.clone(), source.clone());
        let linked = self
            .on_fs(move |fs| link_same(fs, (&loc, &source), seen, (pithos_hash, md5)))
            .await?;
        if linked.is_some() {
            // The blocks uploaded for it (if a 409 asked for any) are not
            // needed: neither kept for it nor counted against the quota.
            let blocks = Arc::clone(self.endpoint()?.blocks()?);
            blocks.reserve(&key, &[]);
            let written = blocks.pending().end(&key);
            blocks.space().gone(&written);
        }
        Ok(linked.map(|f| Received::staged(f, None)))
    }

    /// Assembles the object `loc` from the blocks of `map` into staging:
    /// uploaded blocks, or ranges of the objects `known` names (copied by
    /// the kernel, never hashed again). Its uploaded blocks are reserved
    /// for it first (an object another upload finishes meanwhile leaves
    /// them), and held until the object is kept (`ObjectStore::keep`).
    pub(crate) async fn assemble(
        &self,
        loc: &Location,
        map: Hashmap,
        known: KnownBlocks,
    ) -> Result<Assembled, StoreError> {
        let fs = self.endpoint()?;
        let blocks = Arc::clone(fs.blocks()?);
        let key = object_key(loc);
        blocks.reserve(&key, &map.hashes);
        let (map, known) = (Arc::new(map), Arc::new(known));
        let missing = |b: Arc<Blocks>, m: Arc<Hashmap>, k: Arc<KnownBlocks>, key: String| {
            blocking(move || {
                let gone = |filled: &HashSet<String>| {
                    m.missing(|h| filled.contains(h) || b.has(h) || k.contains_key(h))
                };
                if gone(&b.pending().filled(&key, &m)).is_empty() {
                    return Ok(Vec::new());
                }
                // The object waits for the blocks missing: they go
                // straight into it, those others wait for too at once.
                let pending = b.pending();
                pending.expect(&b.root(), &key, &m).map_err(write_error)?;
                pending.adopt(&key).map_err(write_error)?;
                Ok(gone(&pending.filled(&key, &m)))
            })
        };
        let (b, m, k) = (Arc::clone(&blocks), Arc::clone(&map), Arc::clone(&known));
        let gone = missing(b, m, k, key.clone()).await?;
        if !gone.is_empty() {
            return Ok(Assembled::Missing(gone));
        }
        let pinned = blocks.pin(&map.hashes);
        let filling = blocks.pending().finish(&key, &map);
        let (b, m, k) = (Arc::clone(&blocks), Arc::clone(&map), Arc::clone(&known));
        match blocking(move || match filling {
            Some((staged, filled)) => assemble(&fs, (&b, &m, &k), staged, &Put::At(&filled)),
            None => {
                let staged = Staged::new(fs.root()).map_err(write_error)?;
                assemble(&fs, (&b, &m, &k), staged, &Put::Append)
            }
        })
        .await?
        {
            Built::Done(staged) => Ok(Assembled::Made(Received::staged(
                staged,
                Some(Used::new(pinned, key)),
            ))),
            Built::Stale(at) => Ok(Assembled::Stale(at)),
            Built::Gone => Ok(Assembled::Missing(missing(blocks, map, known, key).await?)),
        }
    }
}

/// How an assembly ended.
enum Built {
    Done(Finished),
    /// An uploaded block went missing meanwhile.
    Gone,
    /// A known block's file is not as recorded.
    Stale(Location),
}

/// The info of an open file, as `FileInfo` has it.
fn info_of(f: &File) -> std::io::Result<FileInfo> {
    use std::os::unix::fs::MetadataExt;
    let m = f.metadata()?;
    Ok(FileInfo {
        size: m.len(),
        mtime_ns: m
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.mtime_nsec()),
    })
}

/// The source files of an assembly, each opened once and checked against
/// what the index recorded of it.
#[derive(Default)]
struct Sources {
    open: HashMap<String, (File, FileInfo, Location)>,
}

impl Sources {
    /// The file of `at`, if it is still as recorded (`None`: stale).
    fn file(&mut self, fs: &FsStore, at: &Location, seen: FileInfo) -> Option<&File> {
        let key = object_key(at);
        if !self.open.contains_key(&key) {
            let (path, _) = fs.object_file(at).ok()??;
            let file = File::open(path).ok()?;
            self.open.insert(key.clone(), (file, seen, at.clone()));
        }
        let (file, recorded, _) = self.open.get(&key)?;
        (*recorded == seen && info_of(file).ok()? == seen).then_some(file)
    }

    /// The first source that changed while it was copied from.
    fn changed(&self) -> Option<Location> {
        self.open
            .values()
            .find(|(f, seen, _)| info_of(f).ok().as_ref() != Some(seen))
            .map(|(_, _, at)| at.clone())
    }
}

/// See `ObjectStore::link_same`.
fn link_same(
    fs: &FsStore,
    (loc, source): (&Location, &Location),
    seen: FileInfo,
    hashes: (String, Option<String>),
) -> Result<Option<Finished>, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let Some((path, _)) = fs.object_file(source)? else {
        return Ok(None);
    };
    let Ok(file) = File::open(&path) else {
        return Ok(None);
    };
    if info_of(&file).ok() != Some(seen) {
        return Ok(None);
    }
    let opened = file.metadata().map_err(write_error)?;
    if let Some((dest, info)) = fs.object_file(loc)? {
        let there = std::fs::symlink_metadata(dest).map_err(write_error)?;
        let same = (there.dev(), there.ino()) == (opened.dev(), opened.ino());
        if same || info.mtime_ns > seen.mtime_ns {
            return Ok(None);
        }
    }
    super::staging::linked(fs.root(), (&path, &file), hashes.0, hashes.1).map_err(write_error)
}

/// How an assembly puts a block into its staging file.
enum Put<'a> {
    /// Appended to a new file, in order, padded with NULs to its slot.
    Append,
    /// Copied to its slot of the file of an object that waited for its
    /// blocks (`Pending`), sized already: its NULs are holes of the sparse
    /// file, and the blocks uploaded since its 409 (these) are in it.
    At(&'a HashMap<String, u64>),
}

impl Put<'_> {
    /// Whether the block `hash` needs no copy: the empty block (NULs), or
    /// one in the file already.
    fn needs_no_copy(&self, hash: &str) -> bool {
        hash == EMPTY_HASH || matches!(self, Put::At(filled) if filled.contains_key(hash))
    }

    /// Puts a block that needs no copy into its slot, `slot` long: NULs
    /// appended, or nothing (the holes, or the block, are there).
    fn without_copy(&self, staged: &mut Staged, slot: u64) -> std::io::Result<Option<String>> {
        match self {
            Put::Append => pad(staged, slot).map(|()| None),
            Put::At(_) => Ok(None),
        }
    }

    /// Copies `len` bytes of `file` from `offset` into the slot `slot`
    /// long starting at `at` (an uploaded block's file, kept without its
    /// trailing NULs, or a range of an object holding the block), the rest
    /// of the slot NULs: the hash of what was written if the slot cut it
    /// short, else `None`. A slot shorter than the range (the last block of
    /// an object whose last block is another's whole one) is read and
    /// hashed, since the bytes cut may not be NULs.
    fn block(
        &self,
        staged: &mut Staged,
        (file, offset, len): (&File, u64, u64),
        (slot, at): (u64, u64),
    ) -> std::io::Result<Option<String>> {
        let take = len.min(slot);
        match self {
            Put::Append => {
                staged.copy_known(file, offset, take)?;
                pad(staged, slot - take)?;
            }
            Put::At(_) => staged.copy_at(file, (offset, take), at)?,
        }
        if take == len {
            return Ok(None);
        }
        let mut buf = vec![0u8; take as usize];
        std::os::unix::fs::FileExt::read_exact_at(file, &mut buf, offset)?;
        Ok(Some(hash_of(&buf)))
    }
}

/// Writes a hashmap's blocks into `staged` as `put` says, each to its slot,
/// the last cut at the size: an uploaded block copied from its file, a
/// known one from its object, both by `copy_file_range`. Nothing is hashed
/// but a block cut short of what its hash covers (the last, at most); the
/// MD5 is owed (see `finish_known`). A waiting object's file is synced
/// once, there.
fn assemble(
    fs: &FsStore,
    (blocks, map, known): (&Blocks, &Hashmap, &KnownBlocks),
    mut staged: Staged,
    put: &Put<'_>,
) -> Result<Built, StoreError> {
    let mut sources = Sources::default();
    let mut hashes = Vec::with_capacity(map.hashes.len());
    for (i, hash) in map.hashes.iter().enumerate() {
        let place = (map.slot(i), i as u64 * BLOCK as u64);
        let written = match (blocks.open_block(hash), known.get(hash)) {
            _ if put.needs_no_copy(hash) => put.without_copy(&mut staged, place.0),
            (Some((file, len)), _) => put.block(&mut staged, (&file, 0, len), place),
            (None, Some((at, offset, seen))) => {
                let Some(file) = sources.file(fs, at, *seen) else {
                    return Ok(Built::Stale(at.clone()));
                };
                let len = (seen.size.saturating_sub(*offset)).min(BLOCK as u64);
                put.block(&mut staged, (file, *offset, len), place)
            }
            (None, None) => return Ok(Built::Gone),
        };
        let cut = written.map_err(write_error)?;
        hashes.push(cut.unwrap_or_else(|| hash.clone()));
    }
    if let Some(at) = sources.changed() {
        return Ok(Built::Stale(at));
    }
    let pithos = crate::backends::hash::pithos_hash_of(&hashes);
    staged
        .finish_known(pithos, None)
        .map(Built::Done)
        .map_err(write_error)
}

/// The hash of a block's bytes (trailing NULs not hashed, §9).
fn hash_of(data: &[u8]) -> String {
    use sha2::Digest;
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    hex::encode(sha2::Sha256::digest(&data[..end]))
}

/// Appends `n` NULs.
fn pad(staged: &mut Staged, mut n: u64) -> std::io::Result<()> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize;
        staged.append_known(&ZEROS[..k])?;
        n -= k as u64;
    }
    Ok(())
}
