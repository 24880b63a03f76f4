//! The offline store: `<root>/<account>/<container>/<object path>` on disk.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::Stream;

use super::blocks::Blocks;
use super::intake::{upload_work, Batches};
use super::staging::{self, Journal, Staged, StagingLock, STAGING_DIR};
use super::{blocking, write_error, Inspected, ObjectRead, StoreError};
use crate::backends::hash::{hash_file, hash_file_with};
use crate::config::HashingAlgorithm;
use crate::domain::location::Location;
use crate::domain::object::{CachedHash, ObjectInfo};
use crate::domain::range::ByteRange;

/// How this process holds the store root's staging lock.
#[derive(Debug)]
enum Staging {
    /// Not serving, or staging cannot be used.
    None,
    /// Alone on the root, until what crashes left is settled.
    Sole(StagingLock),
    /// Beside any other servers.
    Shared { _lock: staging::SharedStaging },
}

/// The offline store.
pub(crate) struct FsStore {
    root: PathBuf,
    /// Held by the serving process (see `FsStore::serve`).
    staging: Mutex<Staging>,
    /// This process's mark among the root's servers (`staging::mark`).
    _mark: Option<staging::OwnerMark>,
    /// The object-store endpoint's uploaded blocks (opened to serve).
    blocks: Option<Arc<Blocks>>,
    /// Objects whose MD5 is being computed after their write (see
    /// `objects::Md5Slots`).
    pub(super) md5s: Md5Slots,
}

/// The objects whose MD5 is owed, by key: an assembly of known blocks is
/// recorded without it, and it is computed once, after the write is
/// answered, by whichever comes first of the write's own background pass
/// and a read that needs it; the others wait for that one.
#[derive(Default)]
pub(crate) struct Md5Slots(pub(super) Mutex<HashMap<String, Arc<Md5Slot>>>);

/// One owed MD5: the file it is of, and the MD5 once computed (the lock is
/// held while it is).
pub(super) struct Md5Slot {
    pub(super) info: super::FileInfo,
    pub(super) md5: Mutex<Option<String>>,
}

/// How many times hashing is retried when the file changes under it.
const HASH_ATTEMPTS: usize = 3;

/// The size from which a registration leaves an object's `os_hash` owed,
/// computed after the answer (docs/behaviour.md, "Hashing"): the MD5 and
/// the Pithos hash already take both cores for as long as one needs for
/// the MD5, and a third digest on the same two cores would make every
/// large registration wait about half as long again. Below it the three
/// are computed together and the answer has them all.
pub(crate) const OS_HASH_LATER: u64 = 64 << 20;

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// An opened object, ready to stream.
pub(crate) struct OpenObject {
    file: File,
    size: u64,
}

impl OpenObject {
    /// An object already opened, of `size` bytes.
    pub(crate) fn from_file(file: File, size: u64) -> OpenObject {
        OpenObject { file, size }
    }

    /// Streams the object, or the `range` of it.
    pub(crate) async fn read(self, range: Option<ByteRange>) -> Result<ObjectRead, StoreError> {
        let (start, len, partial) = match range {
            None => (0, self.size, false),
            Some(r) => {
                let (s, l) = r
                    .resolve(self.size)
                    .map_err(|_| StoreError::RangeOutside { size: self.size })?;
                (s, l, true)
            }
        };
        let body = crate::backends::stream::file_stream(self.file, start, len)
            .await
            .map_err(|e| StoreError::Io(format!("seek: {e}")))?;
        Ok(ObjectRead {
            total: self.size,
            start,
            len,
            partial,
            body: Box::pin(body),
        })
    }
}

impl FsStore {
    /// Opens the store at `root`, which must be an existing, readable directory.
    pub(crate) fn open(root: &Path) -> std::io::Result<FsStore> {
        let canon = std::fs::canonicalize(root)?;
        if !canon.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        std::fs::read_dir(&canon)?;
        Ok(FsStore {
            root: canon,
            staging: Mutex::new(Staging::None),
            _mark: None,
            blocks: None,
            md5s: Default::default(),
        })
    }

    /// Opens the store to serve it, holding the staging lock for the life of
    /// the process: alone until `recover` has settled what crashes left,
    /// then shared with any server that starts beside it (which settles
    /// nothing). With `several` (a catalogue that several processes may
    /// serve), uploaded blocks always go to `+blocks`, where every process
    /// finds them, never straight into an object waiting in this process's
    /// memory (`Pending`).
    pub(crate) fn serve(root: &Path, several: bool) -> std::io::Result<FsStore> {
        let mut store = FsStore::open(root)?;
        let staging = match staging::claim(&store.root) {
            Ok(Some(lock)) => Ok(Staging::Sole(lock)),
            Ok(None) => {
                log::info!(
                    "other processes serve the store root {}: this one leaves what crashes left in staging to the next to start alone",
                    store.root.display()
                );
                staging::join(&store.root).map(|_lock| Staging::Shared { _lock })
            }
            Err(e) => Err(e),
        };
        let staging = staging.unwrap_or_else(|e| {
            // A read-only root still serves what is in it; uploads will fail.
            log::warn!(
                "store root {}: cannot use {}/ ({e}); uploads will fail",
                store.root.display(),
                STAGING_DIR
            );
            Staging::None
        });
        let sole = matches!(staging, Staging::Sole(_));
        store.staging = Mutex::new(staging);
        store._mark = match staging::mark(&store.root) {
            Ok(mark) => Some(mark),
            Err(e) => {
                let root = store.root.display();
                log::warn!("store root {root}: cannot mark this process ({e})");
                None
            }
        };
        store.blocks = match Blocks::open(&store.root, sole, !several) {
            Ok(b) => Some(Arc::new(b)),
            Err(e) => {
                log::error!(
                    "the object-store endpoint cannot keep blocks under {}: {e}",
                    store.root.display()
                );
                None
            }
        };
        Ok(store)
    }

    /// The uploaded blocks; `NoBlocks` if their directory could not be opened.
    pub(crate) fn blocks(&self) -> Result<&Arc<Blocks>, StoreError> {
        self.blocks.as_ref().ok_or(StoreError::NoBlocks)
    }

    /// Settles what crashes left in staging (see `staging::recover`): all
    /// of it when no other process serves the root; beside other servers,
    /// what processes that died left (`staging::recover_abandoned`: the
    /// serving process calls this now and then); `None` if nothing could
    /// be looked at. Blocking.
    pub(crate) fn recover(
        &self,
        recorded: Option<staging::Recorded<'_>>,
    ) -> std::io::Result<Option<staging::Recovered>> {
        let mut held = self.staging.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *held, Staging::None) {
            // Settled at start, then shared with the servers that follow.
            Staging::Sole(lock) => {
                let done = staging::recover(&lock, &self.root, recorded);
                // The marks of processes gone (their files settled above).
                if let Some(recorded) = recorded {
                    staging::recover_abandoned(&self.root, recorded)?;
                }
                *held = Staging::Shared {
                    _lock: lock.share()?,
                };
                done.map(Some)
            }
            shared @ Staging::Shared { .. } => {
                *held = shared;
                drop(held);
                match recorded {
                    Some(recorded) => staging::recover_abandoned(&self.root, recorded).map(Some),
                    None => Ok(None),
                }
            }
            // Not serving (`plankton check`): only if no server runs.
            Staging::None => match staging::claim(&self.root)? {
                Some(lock) => staging::recover(&lock, &self.root, recorded).map(Some),
                None => Ok(None),
            },
        }
    }

    /// Receives a new object's data into staging, at most `limit` bytes.
    pub(crate) async fn receive<S, E>(
        &self,
        body: S,
        limit: u64,
        os_hash: Option<HashingAlgorithm>,
    ) -> Result<staging::Finished, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let root = self.root.clone();
        let mut staged = blocking(move || Staged::new(&root).map_err(write_error)).await?;
        if let Some(algo) = os_hash {
            staged = staged.hashing_os(algo);
        }
        let mut batches = Batches::new(body, limit);
        while let Some(batch) = batches.next().await? {
            staged = upload_work(move || {
                for c in &batch {
                    staged.write_shared(c).map_err(write_error)?;
                }
                Ok(staged)
            })
            .await??;
        }
        blocking(move || staged.finish().map_err(write_error)).await
    }

    /// Puts received data at `loc` (the object `key`), journaled (see `staging::Journal`), and
    /// answers the hash to remember of the file now there. A new image's
    /// `loc` (`replace` false) must hold no object yet; an object write
    /// replaces the one there. Blocking.
    pub(crate) fn place(
        &self,
        data: staging::Finished,
        (loc, key): (&Location, String),
        replace: bool,
    ) -> Result<(CachedHash, Journal), StoreError> {
        let dest = if replace {
            self.object_destination(loc)?
        } else {
            self.fresh_destination(loc)?
        };
        // An MD5 not known yet is recorded empty: owed (`objects::Md5Slots`).
        let (size, checksum) = (data.size, data.pithos_hash.clone());
        let md5 = data.md5.clone().unwrap_or_default();
        let os_hash = data.os_hash.as_ref().map(super::stored_os_hash);
        let journal = data.place(&self.root, &key, &dest).map_err(write_error)?;
        let meta = match std::fs::symlink_metadata(&dest) {
            Ok(meta) if meta.len() == size => meta,
            Ok(meta) => {
                let now = meta.len();
                let undone = journal.undo();
                return Err(StoreError::Io(format!(
                    "{key}: {now} bytes in place after {size} were staged (undone: {undone:?})"
                )));
            }
            Err(e) => return Err(write_error(e)),
        };
        let hash = CachedHash {
            path: key,
            size,
            mtime_ns: mtime_ns(&meta),
            checksum,
            md5,
            os_hash,
        };
        Ok((hash, journal))
    }

    /// Where a new image's data goes: inside the root, and free.
    fn fresh_destination(&self, loc: &Location) -> Result<PathBuf, StoreError> {
        self.inside(&super::object_key(loc))
            .map_err(|_| StoreError::OutsideRoot(loc.canonical()))?;
        let dest = self.path_of(loc);
        let mut ancestor = dest.parent();
        while let Some(dir) = ancestor {
            if dir.exists() {
                let canon = std::fs::canonicalize(dir).map_err(write_error)?;
                if !canon.starts_with(&self.root) {
                    return Err(StoreError::OutsideRoot(loc.canonical()));
                }
                break;
            }
            ancestor = dir.parent();
        }
        if std::fs::symlink_metadata(&dest).is_ok() {
            return Err(StoreError::Taken(loc.canonical()));
        }
        Ok(dest)
    }

    /// Bytes in the regular files under the account's directory (symlinks
    /// are not followed). Blocking.
    pub(crate) fn usage(&self, account: &str) -> Result<u64, StoreError> {
        let mut total = 0;
        let mut dirs = vec![self.root.join(account)];
        while let Some(dir) = dirs.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::Io(format!("{}: {e}", dir.display()))),
            };
            for entry in entries.flatten() {
                match entry.file_type() {
                    Ok(t) if t.is_dir() => dirs.push(entry.path()),
                    Ok(t) if t.is_file() => total += entry.metadata().map_or(0, |m| m.len()),
                    _ => {}
                }
            }
        }
        Ok(total)
    }

    /// Where the object at `loc` lives (or would), without resolving links.
    pub(super) fn path_of(&self, loc: &Location) -> PathBuf {
        let mut path = self.root.join(loc.account());
        path.push(loc.container());
        for seg in loc.segments() {
            path.push(seg);
        }
        path
    }

    /// The canonical root directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The regular file a location names, with its key: `Ok(None)` if
    /// there is none, `OutsideRoot` if any part of its path under the root
    /// is a symbolic link, wherever it points (one rule for registering,
    /// reading, `plankton check` and the object-store endpoint: a link in
    /// one account's directory must not reach another's files, nor anything
    /// outside the root).
    fn resolve(&self, loc: &Location) -> Result<Option<(PathBuf, String)>, StoreError> {
        let key = super::object_key(loc);
        if key.starts_with('+') {
            // `+staging` and the like are the store's own, never an account.
            return Err(StoreError::OutsideRoot(loc.canonical()));
        }
        let path = self
            .inside(&key)
            .map_err(|_| StoreError::OutsideRoot(loc.canonical()))?;
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some((path, key))),
            _ => Ok(None),
        }
    }

    /// Size and hashes of the object at `loc`, the `os_hash` of `algo`
    /// among them, using `cached` to skip hashing a file whose size and
    /// mtime are unchanged and whose entry has that `os_hash`. The
    /// `os_hash` of an object of `OS_HASH_LATER` bytes or more is left
    /// owed (`Inspected::os_hash_owed`): the registration answers without
    /// it, and it is computed after. Blocking.
    pub(crate) fn inspect(
        &self,
        loc: &Location,
        algo: HashingAlgorithm,
        cached: impl Fn(&str) -> Option<CachedHash>,
    ) -> Result<Inspected, StoreError> {
        let missing = || StoreError::Missing(loc.canonical());
        let (path, rel) = self.resolve(loc)?.ok_or_else(missing)?;
        for _ in 0..HASH_ATTEMPTS {
            let before = std::fs::metadata(&path).map_err(|_| missing())?;
            let (size, mtime) = (before.len(), mtime_ns(&before));
            let later = size >= OS_HASH_LATER;
            // An entry whose MD5 is still owed (an assembly of known
            // blocks, docs/behaviour.md) is hashed afresh, and one without
            // this `os_hash` too unless the object is large enough for its
            // `os_hash` to be owed anyway: one pass gives all three.
            let hit = cached(&rel).filter(|hit| {
                let has_os_hash = || {
                    hit.os_hash
                        .as_ref()
                        .is_some_and(|h| h.algo == algo.as_str())
                };
                hit.size == size
                    && hit.mtime_ns == mtime
                    && !hit.md5.is_empty()
                    && (later || has_os_hash())
            });
            if let Some(hit) = hit {
                return Ok(Inspected::known(hit, algo));
            }
            let read = hash_file_with(&path, (!later).then_some(algo)).map_err(|_| missing())?;
            let after = std::fs::metadata(&path).map_err(|_| missing())?;
            if read.size == size && after.len() == size && mtime_ns(&after) == mtime {
                let os_hash = read.os_hash.as_ref().map(super::stored_os_hash);
                return Ok(Inspected::computed(CachedHash {
                    path: rel,
                    size,
                    mtime_ns: mtime,
                    checksum: read.checksum,
                    md5: read.md5,
                    os_hash,
                }));
            }
        }
        Err(StoreError::KeptChanging(loc.canonical()))
    }

    /// Reads the object through and hashes it; `Ok(None)` if it is gone.
    pub(crate) fn rehash(&self, loc: &Location) -> Result<Option<ObjectInfo>, StoreError> {
        let Some((path, _)) = self.resolve(loc)? else {
            return Ok(None);
        };
        match hash_file(&path) {
            Ok((size, checksum, md5)) => Ok(Some(ObjectInfo {
                size,
                checksum,
                md5: Some(md5),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io(format!("reading {}: {e}", path.display()))),
        }
    }

    /// Opens the object for reading: `Gone` if it is not there, `Resized` if
    /// its size is no longer `expected_size`. Blocking.
    pub(crate) fn open_object(
        &self,
        loc: &Location,
        expected_size: u64,
    ) -> Result<OpenObject, StoreError> {
        let gone = || StoreError::Gone(loc.canonical());
        let (path, _) = self.resolve(loc).map_err(|_| gone())?.ok_or_else(gone)?;
        let file = File::open(&path).map_err(|_| gone())?;
        let size = file.metadata().map_err(|_| gone())?.len();
        if size != expected_size {
            return Err(StoreError::Resized {
                location: loc.canonical(),
                then: expected_size,
                now: size.to_string(),
            });
        }
        Ok(OpenObject { file, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_cache(_: &str) -> Option<CachedHash> {
        None
    }

    #[test]
    fn inspects_files_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("alice/images")).unwrap();
        std::fs::write(root.join("alice/images/a.img"), b"abc").unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("alice/images/link"))
            .unwrap();
        let store = FsStore::open(&root).unwrap();

        let loc = Location::parse("pithos://alice/images/a.img").unwrap();
        let got = store
            .inspect(&loc, HashingAlgorithm::Sha512, no_cache)
            .unwrap();
        assert_eq!(got.info.size, 3);
        assert_eq!(
            got.info.md5.as_deref(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );
        assert!(got.computed.is_some());

        let missing = Location::parse("pithos://alice/images/nope").unwrap();
        assert!(matches!(
            store.inspect(&missing, HashingAlgorithm::Sha512, no_cache),
            Err(StoreError::Missing(_))
        ));
        let dir_loc = Location::parse("pithos://alice/images/x").unwrap();
        std::fs::create_dir(root.join("alice/images/x")).unwrap();
        assert!(store
            .inspect(&dir_loc, HashingAlgorithm::Sha512, no_cache)
            .is_err());
        let link = Location::parse("pithos://alice/images/link").unwrap();
        assert!(matches!(
            store.inspect(&link, HashingAlgorithm::Sha512, no_cache),
            Err(StoreError::OutsideRoot(_))
        ));
    }

    #[test]
    fn no_link_anywhere_on_the_path_is_followed_even_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bob/private/deep")).unwrap();
        std::fs::create_dir_all(root.join("alice/images")).unwrap();
        std::fs::write(root.join("bob/private/secret.img"), b"bob's").unwrap();
        std::fs::write(root.join("bob/private/deep/x.img"), b"deep").unwrap();
        let link = |to: &str, at: &str| std::os::unix::fs::symlink(root.join(to), root.join(at));
        link("bob/private/secret.img", "alice/images/file.img").unwrap();
        link("bob/private", "alice/images/dir").unwrap();
        link("bob/private", "alice/linked").unwrap();
        link("bob/nothing-there", "alice/images/dangling.img").unwrap();
        let store = FsStore::open(root).unwrap();
        for at in [
            "pithos://alice/images/file.img",
            "pithos://alice/images/dir/secret.img",
            "pithos://alice/images/dir/deep/x.img",
            "pithos://alice/linked/secret.img",
        ] {
            let loc = Location::parse(at).unwrap();
            assert!(
                matches!(
                    store.inspect(&loc, HashingAlgorithm::Sha512, no_cache),
                    Err(StoreError::OutsideRoot(_))
                ),
                "{at}"
            );
            assert!(store.open_object(&loc, 5).is_err(), "{at}");
            assert!(store.rehash(&loc).is_err(), "{at}");
        }
        let dangling = Location::parse("pithos://alice/images/dangling.img").unwrap();
        assert!(store
            .inspect(&dangling, HashingAlgorithm::Sha512, no_cache)
            .is_err());
        assert!(store.rehash(&dangling).is_err());
        // The file itself, by its own path, is Bob's to register.
        let own = Location::parse("pithos://bob/private/secret.img").unwrap();
        assert_eq!(
            store
                .inspect(&own, HashingAlgorithm::Sha512, no_cache)
                .unwrap()
                .info
                .size,
            5
        );
    }

    #[test]
    fn hashing_a_file_matches_hashing_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0usize, 1, 4 << 20, (4 << 20) + 1, 9 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &data).unwrap();
            let (n, checksum, md5) = hash_file(&path).unwrap();
            assert_eq!(n, len as u64);
            assert_eq!(
                (checksum, md5),
                crate::backends::hash::hash_bytes(&data),
                "{len}"
            );
        }
    }

    #[test]
    fn a_cached_hash_is_used_only_while_size_and_mtime_hold() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("u/c")).unwrap();
        std::fs::write(dir.path().join("u/c/o"), b"abc").unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let loc = Location::parse("pithos://u/c/o").unwrap();
        let first = store
            .inspect(&loc, HashingAlgorithm::Sha512, no_cache)
            .unwrap()
            .computed
            .unwrap();
        let fake = CachedHash {
            checksum: "f".repeat(64),
            ..first.clone()
        };
        let hit = store
            .inspect(&loc, HashingAlgorithm::Sha512, |_| Some(fake.clone()))
            .unwrap();
        assert_eq!(hit.info.checksum, "f".repeat(64));
        assert!(hit.computed.is_none());
        let stale = CachedHash {
            mtime_ns: first.mtime_ns - 1,
            ..fake.clone()
        };
        let miss = store
            .inspect(&loc, HashingAlgorithm::Sha512, |_| Some(stale.clone()))
            .unwrap();
        assert_eq!(miss.info.checksum, first.checksum);
        // An entry of another algorithm, or of none, is computed afresh.
        let sha256 = store.inspect(&loc, HashingAlgorithm::Sha256, |_| Some(fake.clone()));
        let sha256 = sha256.unwrap().os_hash.unwrap();
        assert_eq!((sha256.algo.as_str(), sha256.value.len()), ("sha256", 64));
        let bare = CachedHash {
            os_hash: None,
            ..fake.clone()
        };
        let again = store.inspect(&loc, HashingAlgorithm::Sha512, |_| Some(bare.clone()));
        assert_eq!(again.unwrap().os_hash, first.os_hash);
    }
}
