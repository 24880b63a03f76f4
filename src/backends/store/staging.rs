//! All-or-nothing writes into the `fs` store: data goes to a file under
//! `<root>/+staging/`, which no location reaches (`+` is not allowed in a
//! user id, so no account directory has that name), is hashed as it is
//! written, synced, and only then placed where its location points, with a
//! `Journal` that lets a restart undo a placement the catalogue never
//! recorded (docs/behaviour.md, "Crash protocol"). A staging file dropped
//! unfinished is removed; what a crash leaves is settled by `recover`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::backends::hash::{ObjectHasher, OsHash, OsHasher};
use crate::config::HashingAlgorithm;
use crate::domain::object::CachedHash;

/// The staging directory under the store root.
pub(crate) const STAGING_DIR: &str = "+staging";

/// An upload in progress.
pub(crate) struct Staged {
    file: File,
    path: Option<PathBuf>,
    hasher: ObjectHasher,
    len: u64,
}

/// A complete, synced upload, not yet at its place.
#[derive(Debug)]
pub(crate) struct Finished {
    path: Option<PathBuf>,
    /// Bytes written.
    pub(crate) size: u64,
    /// MD5 of the data, lower-case hex; `None` for an assembly of known
    /// blocks, whose MD5 is computed after it is recorded (or at once by
    /// `Finished::md5_now` where the request needs it).
    pub(crate) md5: Option<String>,
    /// Pithos hash of the data, lower-case hex.
    pub(crate) pithos_hash: String,
    /// The `os_hash`, when the upload asked for one (docs/api.md §17.2).
    pub(crate) os_hash: Option<OsHash>,
    /// The hash of each block, in order, where they were computed (data
    /// received from a body; an assembly's are its hashmap's).
    pub(crate) blocks: Vec<String>,
}

impl Staged {
    /// Starts an upload under a fresh name in staging.
    pub(crate) fn new(root: &Path) -> std::io::Result<Staged> {
        let name = staged_name();
        let dir = root.join(STAGING_DIR);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
            sync_dir(root)?;
        }
        let path = dir.join(&name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Staged {
            file,
            path: Some(path),
            hasher: ObjectHasher::new(),
            len: 0,
        })
    }

    /// Starts an object of `size` bytes, all NULs (a sparse file) until
    /// `copy_at` writes its blocks: an assembly's file.
    pub(crate) fn sized(root: &Path, size: u64) -> std::io::Result<Staged> {
        let mut staged = Staged::new(root)?;
        staged.file.set_len(size)?;
        staged.len = size;
        Ok(staged)
    }

    /// Writes `len` bytes of `src` from `offset` at `at`, unhashed, in the
    /// kernel (as `copy_known`), into a file made by `sized`.
    pub(crate) fn copy_at(
        &mut self,
        src: &File,
        (offset, len): (u64, u64),
        at: u64,
    ) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        if at.saturating_add(len) > self.len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a block past the end of its object",
            ));
        }
        self.file.seek(SeekFrom::Start(at))?;
        let end = self.len;
        self.copy_known(src, offset, len)?;
        self.len = end;
        Ok(())
    }

    /// Where it is written.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// This upload, also computing the `os_hash` of `algo`; before any
    /// byte is written.
    pub(crate) fn hashing_os(mut self, algo: HashingAlgorithm) -> Staged {
        self.hasher = ObjectHasher::with_os_hash(algo);
        self
    }

    /// Appends a body's chunk, hashing it on the way: from the first one,
    /// the MD5 and the `os_hash` on cores of their own where one is free
    /// (`ObjectHasher::beside`), while this thread writes and computes
    /// the Pithos hash.
    pub(crate) fn write_shared(&mut self, chunk: &bytes::Bytes) -> std::io::Result<()> {
        if self.len == 0 && !chunk.is_empty() {
            self.hasher = std::mem::take(&mut self.hasher).beside();
        }
        self.file.write_all(chunk)?;
        self.hasher.update_shared(chunk);
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// Appends `data` without hashing it: for an assembly whose blocks'
    /// hashes are known already (see `finish_known`).
    pub(crate) fn append_known(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data)?;
        self.len += data.len() as u64;
        Ok(())
    }

    /// Appends `len` bytes of `src` from `offset`, unhashed, in the kernel:
    /// std's `io::copy` from a `Take<&File>` into a `File` is
    /// `copy_file_range` on Linux, so a file system with reflinks shares
    /// the extents instead of copying them.
    pub(crate) fn copy_known(&mut self, src: &File, offset: u64, len: u64) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut from = src;
        from.seek(SeekFrom::Start(offset))?;
        let copied = std::io::copy(&mut from.take(len), &mut self.file)?;
        if copied != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "a block's source file is shorter than its index says",
            ));
        }
        self.len += len;
        Ok(())
    }

    /// Ends an assembly of known blocks: the file is synced, and its Pithos
    /// hash is the one given (made from the blocks' hashes). Its MD5 is not
    /// read back here: that is a pass over every byte, which an assembly of
    /// blocks the server has is meant to avoid (docs/behaviour.md, "Known
    /// blocks"); `md5` is the one known already, if any.
    pub(crate) fn finish_known(
        mut self,
        pithos_hash: String,
        md5: Option<String>,
    ) -> std::io::Result<Finished> {
        self.file.sync_all()?;
        Ok(Finished {
            path: self.path.take(),
            size: self.len,
            md5,
            pithos_hash,
            // An object assembled from known blocks is no image upload.
            os_hash: None,
            blocks: Vec::new(),
        })
    }

    /// Ends the upload: the file is synced and its hashes known.
    pub(crate) fn finish(mut self) -> std::io::Result<Finished> {
        self.file.sync_all()?;
        let hasher = std::mem::take(&mut self.hasher);
        let ((pithos_hash, md5, os_hash), blocks) = hasher.finish_with_blocks();
        Ok(Finished {
            path: self.path.take(),
            size: self.len,
            md5: Some(md5),
            pithos_hash,
            os_hash,
            blocks,
        })
    }
}

/// The file `src` (opened as `opened`) under a fresh name in staging too,
/// as a finished upload of the given hashes: a hard link, so no byte is
/// written or synced (the file was synced when it was placed, and objects
/// are only ever replaced by a rename, never written in place). `None`
/// where the file system refuses the link, or the name `src` no longer
/// holds the opened file: the caller copies instead.
pub(crate) fn linked(
    root: &Path,
    (src, opened): (&Path, &File),
    pithos_hash: String,
    md5: Option<String>,
) -> std::io::Result<Option<Finished>> {
    let dir = root.join(STAGING_DIR);
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir)?;
        sync_dir(root)?;
    }
    let path = dir.join(staged_name());
    if std::fs::hard_link(src, &path).is_err() {
        return Ok(None);
    }
    let same = std::fs::symlink_metadata(&path).and_then(|at| {
        let was = opened.metadata()?;
        Ok(((at.dev(), at.ino()) == (was.dev(), was.ino())).then_some(at.len()))
    });
    let Ok(Some(size)) = same else {
        let _ = std::fs::remove_file(&path);
        return same.map(|_| None);
    };
    Ok(Some(Finished {
        path: Some(path),
        size,
        md5,
        pithos_hash,
        os_hash: None,
        blocks: Vec::new(),
    }))
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Finished {
    /// Where the data waits in staging.
    #[cfg(test)]
    pub(crate) fn staged_path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }
}

impl Finished {
    /// Computes the MD5 of the staged data if it is not known (an assembly
    /// whose request sent an `ETag` to check it against).
    pub(crate) fn md5_now(&mut self) -> std::io::Result<()> {
        if self.md5.is_none() {
            let path = self.path.as_deref().unwrap_or(Path::new(""));
            self.md5 = Some(md5_of_file(&File::open(path)?)?);
        }
        Ok(())
    }

    /// Puts the data at `dest` (creating missing parent directories, each
    /// synced into its parent), replacing what was there, then syncs the
    /// directory that holds it.
    fn commit(mut self, dest: &Path) -> std::io::Result<()> {
        let parent = dest.parent().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no parent directory")
        })?;
        create_dirs_synced(parent)?;
        let path = self
            .path
            .take()
            .expect("a Finished holds its path until commit");
        if let Err(e) = std::fs::rename(&path, dest) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        sync_dir(parent)
    }
}

impl Drop for Finished {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The MD5 of an open file's bytes from its start, lower-case hex: one
/// pass through MD5 alone, for an object whose Pithos hash is known (an
/// assembly of known blocks).
pub(crate) fn md5_of_file(file: &File) -> std::io::Result<String> {
    let mut md5 = crate::backends::md5::Md5::new();
    read_through(file, |piece| md5.update(piece))?;
    Ok(md5.finalize_hex())
}

/// The `os_hash` of `algo` of an open file's bytes from its start: one
/// pass through that digest alone, for an object whose other hashes are
/// known (a large registration's, docs/behaviour.md, "Hashing").
pub(crate) fn os_hash_of_file(file: &File, algo: HashingAlgorithm) -> std::io::Result<OsHash> {
    let mut digest = OsHasher::new(algo);
    read_through(file, |piece| digest.update(piece))?;
    Ok(digest.finish())
}

/// Hands an open file's bytes from its start to `feed`, a MiB at a time.
fn read_through(file: &File, mut feed: impl FnMut(&[u8])) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    loop {
        let n = file.read_at(&mut buf, at)?;
        if n == 0 {
            return Ok(());
        }
        feed(&buf[..n]);
        at += n as u64;
    }
}

/// Creates `dir` and any missing ancestors, syncing each new entry into its
/// parent so that a crash cannot lose the path to a committed file.
fn create_dirs_synced(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_synced(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Syncs a directory, so that entries created or renamed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The lock file in the staging directory: every serving process holds it
/// shared for its whole life; settling what crashes left (and `plankton
/// check`'s sweep) needs it exclusive, so it happens only when no other
/// server runs on the root and no upload of another process can be
/// running (docs/behaviour.md, "Several processes").
const LOCK_FILE: &str = "lock";

/// How long a starting server waits for another's settling to end.
const JOIN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The staging lock of one store root held exclusively: no other server
/// runs on it. Released when dropped (or when the process dies, however
/// it dies).
#[derive(Debug)]
pub(crate) struct StagingLock {
    file: File,
}

/// The staging lock held shared: this server runs beside any others.
#[derive(Debug)]
pub(crate) struct SharedStaging {
    _file: File,
}

impl StagingLock {
    /// Lets other servers start beside this one, once what earlier
    /// processes left is settled.
    pub(crate) fn share(self) -> std::io::Result<SharedStaging> {
        self.file.lock_shared()?;
        Ok(SharedStaging { _file: self.file })
    }
}

/// The lock file of `root`, opened (made if needed).
fn lock_file(root: &Path) -> std::io::Result<File> {
    let dir = root.join(STAGING_DIR);
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir)?;
        sync_dir(root)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))
}

/// Takes the staging lock of `root` exclusively: `None` if another process
/// holds it (a server is running on this root).
pub(crate) fn claim(root: &Path) -> std::io::Result<Option<StagingLock>> {
    let file = lock_file(root)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(StagingLock { file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Joins the servers running on `root`: the lock shared, waited for while
/// a starting server settles staging (at most `JOIN_WAIT`).
pub(crate) fn join(root: &Path) -> std::io::Result<SharedStaging> {
    let file = lock_file(root)?;
    let deadline = std::time::Instant::now() + JOIN_WAIT;
    loop {
        match file.try_lock_shared() {
            Ok(()) => return Ok(SharedStaging { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::other(format!(
                    "another process held {}/{LOCK_FILE} exclusively for {} s",
                    STAGING_DIR,
                    JOIN_WAIT.as_secs()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// What the catalogue remembers of the file at a key (see `recover`).
pub(crate) type Recorded<'a> = &'a dyn Fn(&str) -> Option<CachedHash>;

/// What `recover` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// Placements the catalogue recorded: kept, their journal cleared.
    pub(crate) placed: usize,
    /// Placements the catalogue did not record: put back as they were.
    pub(crate) undone: usize,
    /// Unfinished or unplaced data removed.
    pub(crate) removed: usize,
    /// Placements left for a process that can ask the catalogue.
    pub(crate) left: usize,
}

/// Settles what earlier processes left in staging; only for a holder of the
/// lock. A placement (a `Journal` record) is kept where `recorded` finds the
/// catalogue remembering the file now at its key (same size and mtime), and
/// undone where it does not; without `recorded` it is left alone. Every
/// other file (data never placed, copies kept for an undo) is removed.
pub(crate) fn recover(
    _lock: &StagingLock,
    root: &Path,
    recorded: Option<Recorded<'_>>,
) -> std::io::Result<Recovered> {
    recover_files(root, recorded, None)
}

/// `recover` of the files of one process (`owner`, the first part of
/// each of its files' names), or with `None` of every file.
fn recover_files(
    root: &Path,
    recorded: Option<Recorded<'_>>,
    owner: Option<&str>,
) -> std::io::Result<Recovered> {
    let dir = root.join(STAGING_DIR);
    let mut done = Recovered::default();
    let mut keep = vec![LOCK_FILE.to_string()];
    let prefix = owner.map(|o| format!("{o}."));
    let ours = |name: &str| prefix.as_deref().is_none_or(|p| name.starts_with(p));
    for entry in std::fs::read_dir(&dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !ours(&name) {
            keep.push(name);
            continue;
        }
        let Some(stem) = name.strip_suffix(RECORD) else {
            continue;
        };
        let journal = Journal::read(root, stem)?;
        match recorded {
            None => {
                done.left += 1;
                keep.extend([name.clone(), format!("{stem}{WAS}"), stem.to_string()]);
            }
            Some(_) if dir.join(stem).exists() => {
                journal.forget();
                done.removed += 1;
            }
            Some(recorded) if journal.recorded(recorded) => {
                journal.keep();
                done.placed += 1;
            }
            Some(_) => {
                journal.undo()?;
                done.undone += 1;
            }
        }
    }
    done.removed += remove_all_but(&dir, &keep)?;
    Ok(done)
}

/// This process's name in staging: every file it stages begins with it
/// and a dot, so that what a dead process left can be told from what a
/// live one is writing.
static OWNER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string());

/// Where each serving process keeps a file named by its `OWNER`, locked
/// for its life: a file whose lock is free is a dead process's.
const OWNERS_DIR: &str = "+owners";

/// A fresh name for a staged file of this process.
fn staged_name() -> String {
    format!("{}.{}", *OWNER, uuid::Uuid::new_v4())
}

/// This process's mark under the store root, held for its life (and
/// shared by every store of this process on that root).
#[derive(Debug, Clone)]
pub(crate) struct OwnerMark {
    _file: Arc<File>,
}

/// The marks this process holds, by the root's mark file: a second store
/// on the same root in one process (the tests run several servers in
/// one) takes the same mark rather than waiting on its own lock.
static MARKS: std::sync::LazyLock<Mutex<HashMap<PathBuf, Weak<File>>>> =
    std::sync::LazyLock::new(Mutex::default);

/// Marks `root` as served by this process (`OWNERS_DIR`).
pub(crate) fn mark(root: &Path) -> std::io::Result<OwnerMark> {
    let dir = root.join(OWNERS_DIR);
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir)?;
        sync_dir(root)?;
    }
    let path = dir.join(&*OWNER);
    let mut marks = MARKS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(file) = marks.get(&path).and_then(Weak::upgrade) {
        return Ok(OwnerMark { _file: file });
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    file.lock()?;
    let file = Arc::new(file);
    marks.retain(|_, held| held.strong_count() > 0);
    marks.insert(path, Arc::downgrade(&file));
    Ok(OwnerMark { _file: file })
}

/// Settles, beside running servers, what processes that died left in
/// staging: for each mark whose lock is free (its process is gone), that
/// process's files as `recover` settles them, then its mark. Several
/// processes may do this at once: the mark's lock lets one at a time
/// settle a dead process's files, and a mark already gone is skipped.
pub(crate) fn recover_abandoned(root: &Path, recorded: Recorded<'_>) -> std::io::Result<Recovered> {
    let mut done = Recovered::default();
    let Ok(entries) = std::fs::read_dir(root.join(OWNERS_DIR)) else {
        return Ok(done);
    };
    for entry in entries {
        let entry = entry?;
        let owner = entry.file_name().to_string_lossy().into_owned();
        if owner == *OWNER {
            continue;
        }
        let Ok(file) = OpenOptions::new().write(true).open(entry.path()) else {
            continue;
        };
        if file.try_lock().is_err() || !entry.path().exists() {
            continue;
        }
        let one = recover_files(root, Some(recorded), Some(&owner))?;
        done.placed += one.placed;
        done.undone += one.undone;
        done.removed += one.removed;
        std::fs::remove_file(entry.path())?;
    }
    Ok(done)
}

/// Removes the files of `dir` not named in `keep`; how many.
fn remove_all_but(dir: &Path, keep: &[String]) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && !keep.contains(&name) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The suffix of a placement's record, and of the file it replaced.
const RECORD: &str = ".to";
const WAS: &str = ".was";

/// A placement the catalogue has not recorded yet: `<name>.to` in staging
/// holds the object's key (where the data went under the root), and
/// `<name>.was` is the file it replaced, if any. Both are synced before the
/// data is renamed into place, so that after a crash `recover` can tell
/// what was placed and put it back.
#[derive(Debug)]
pub(crate) struct Journal {
    root: PathBuf,
    name: String,
    key: String,
}

impl Journal {
    fn read(root: &Path, name: &str) -> std::io::Result<Journal> {
        let record = root.join(STAGING_DIR).join(format!("{name}{RECORD}"));
        let key = std::fs::read_to_string(record)?;
        Ok(Journal {
            root: root.to_path_buf(),
            name: name.to_string(),
            key,
        })
    }

    fn staged(&self, suffix: &str) -> PathBuf {
        let name = format!("{}{suffix}", self.name);
        self.root.join(STAGING_DIR).join(name)
    }

    fn dest(&self) -> PathBuf {
        self.root.join(&self.key)
    }

    /// Whether the catalogue remembers the file at the key as it is now.
    fn recorded(&self, recorded: Recorded<'_>) -> bool {
        let Ok(meta) = std::fs::symlink_metadata(self.dest()) else {
            return false;
        };
        let mtime = meta
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.mtime_nsec());
        recorded(&self.key).is_some_and(|h| h.size == meta.len() && h.mtime_ns == mtime)
    }

    /// The placement stands: the replaced file and the record go.
    pub(crate) fn keep(self) {
        let _ = std::fs::remove_file(self.staged(WAS));
        let _ = std::fs::remove_file(self.staged(RECORD));
    }

    /// The placement never happened (the data is still in staging).
    fn forget(self) {
        let _ = std::fs::remove_file(self.staged(""));
        self.keep();
    }

    /// Puts back what was at the key before (or nothing, with the
    /// directories only the placed file needed), synced; then the record goes.
    pub(crate) fn undo(self) -> std::io::Result<()> {
        let dest = self.dest();
        let was = self.staged(WAS);
        if was.exists() {
            std::fs::rename(&was, &dest)?;
            if let Some(parent) = dest.parent() {
                sync_dir(parent)?;
            }
        } else {
            match std::fs::remove_file(&dest) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            self.remove_empty_dirs()?;
        }
        self.keep();
        Ok(())
    }

    /// Removes the directories between the container and the key that are
    /// empty now, syncing the first one that stays.
    fn remove_empty_dirs(&self) -> std::io::Result<()> {
        let container: PathBuf = self.key.split('/').take(2).collect();
        let container = self.root.join(container);
        let mut dir = self.dest().parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == container || !d.starts_with(&container) || std::fs::remove_dir(&d).is_err() {
                return if d.is_dir() { sync_dir(&d) } else { Ok(()) };
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(())
    }
}

impl Finished {
    /// Puts the data at `key` under `root` (`dest`), replacing what is
    /// there, journaled (see `Journal`): once this returns, the object
    /// survives a crash, and so does the way back until `Journal::keep`.
    pub(crate) fn place(self, root: &Path, key: &str, dest: &Path) -> std::io::Result<Journal> {
        let path = self.path.as_deref().expect("a Finished holds its path");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let journal = Journal {
            root: root.to_path_buf(),
            name,
            key: key.to_string(),
        };
        let record = || -> std::io::Result<()> {
            let mut f = File::create(journal.staged(RECORD))?;
            f.write_all(key.as_bytes())?;
            f.sync_all()?;
            if std::fs::symlink_metadata(dest).is_ok_and(|m| m.is_file()) {
                keep_copy(dest, &journal.staged(WAS))?;
            }
            sync_dir(&root.join(STAGING_DIR))
        };
        if let Err(e) = record() {
            journal.keep();
            return Err(e);
        }
        if let Err(e) = self.commit(dest) {
            // The rename may have been done before the failure.
            if let Err(undo) = journal.undo() {
                log::error!("{key}: a failed placement could not be undone ({e}): {undo}");
            }
            return Err(e);
        }
        Ok(journal)
    }
}

/// Keeps the file at `from` under `to` too: a hard link, else a synced copy.
fn keep_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    let copied = std::fs::copy(from, to).and_then(|_| File::open(to)?.sync_all());
    if copied.is_err() {
        let _ = std::fs::remove_file(to);
    }
    copied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::hash::hash_bytes;

    fn staged_files(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(STAGING_DIR))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn staged(root: &Path, data: &[u8]) -> Finished {
        let mut s = Staged::new(root).unwrap();
        s.write_shared(&bytes::Bytes::copy_from_slice(data))
            .unwrap();
        s.finish().unwrap()
    }

    #[test]
    fn a_kept_placement_is_at_its_place_with_its_hashes() {
        let root = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut s = Staged::new(root.path()).unwrap();
        for piece in data.chunks(65_537) {
            s.write_shared(&bytes::Bytes::copy_from_slice(piece))
                .unwrap();
        }
        let done = s.finish().unwrap();
        let (pithos, md5) = hash_bytes(&data);
        assert_eq!(
            (done.pithos_hash.as_str(), done.md5.as_deref().unwrap()),
            (pithos.as_str(), md5.as_str())
        );
        let dest = root.path().join("alice/images/x/y");
        let journal = done.place(root.path(), "alice/images/x/y", &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        journal.keep();
        assert!(staged_files(root.path()).is_empty());
    }

    #[test]
    fn streams_at_once_hash_alike_whether_their_digests_run_beside_or_not() {
        use sha2::{Digest, Sha512};
        let root = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
        let (pithos, md5) = hash_bytes(&data);
        let sha512 = hex::encode(Sha512::digest(&data));
        // More streams than cores: some hash beside, the others alone.
        std::thread::scope(|scope| {
            let runs: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        let mut s = Staged::new(root.path())
                            .unwrap()
                            .hashing_os(HashingAlgorithm::Sha512);
                        for piece in data.chunks(100_003) {
                            s.write_shared(&bytes::Bytes::copy_from_slice(piece))
                                .unwrap();
                        }
                        s.finish().unwrap()
                    })
                })
                .collect();
            for run in runs {
                let done = run.join().unwrap();
                assert_eq!(done.pithos_hash, pithos);
                assert_eq!(done.md5.as_deref(), Some(md5.as_str()));
                let os = done.os_hash.clone().expect("an os_hash was asked for");
                assert_eq!(
                    (os.algo, os.value.as_str()),
                    (HashingAlgorithm::Sha512, sha512.as_str())
                );
            }
        });
    }

    #[test]
    fn an_abandoned_upload_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let mut s = Staged::new(root.path()).unwrap();
        s.write_shared(&bytes::Bytes::from_static(b"half")).unwrap();
        assert_eq!(staged_files(root.path()).len(), 1);
        drop(s);
        assert!(staged_files(root.path()).is_empty());
        drop(staged(root.path(), b"all"));
        assert!(staged_files(root.path()).is_empty());
    }

    #[test]
    fn an_undone_placement_puts_back_what_was_there() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("alice/c/a/b");
        let first = staged(root.path(), b"old");
        first
            .place(root.path(), "alice/c/a/b", &dest)
            .unwrap()
            .keep();
        let second = staged(root.path(), b"new");
        let journal = second.place(root.path(), "alice/c/a/b", &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        journal.undo().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        let fresh = root.path().join("alice/c/d/e");
        let third = staged(root.path(), b"x");
        third
            .place(root.path(), "alice/c/d/e", &fresh)
            .unwrap()
            .undo()
            .unwrap();
        assert!(!root.path().join("alice/c/d").exists());
        assert!(root.path().join("alice/c").is_dir());
        assert!(staged_files(root.path()).is_empty());
    }

    #[test]
    fn beside_running_servers_only_a_dead_processs_files_are_settled() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let _me = mark(root).unwrap();
        std::fs::create_dir_all(root.join(STAGING_DIR)).unwrap();
        // Two other processes' marks: one alive (its lock held), one dead.
        let owners = root.join(OWNERS_DIR);
        let alive = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(owners.join("alive"))
            .unwrap();
        alive.lock().unwrap();
        std::fs::write(owners.join("dead"), b"").unwrap();
        for name in ["alive.1", "dead.1", "dead.2"] {
            std::fs::write(root.join(STAGING_DIR).join(name), b"data").unwrap();
        }
        let mine = Staged::new(root).unwrap();
        let nothing = |_: &str| None;
        let done = recover_abandoned(root, &nothing).unwrap();
        assert_eq!(done.removed, 2, "the dead one's two files");
        let left = staged_files(root);
        assert!(left.contains(&"alive.1".to_string()), "{left:?}");
        assert!(!left.iter().any(|n| n.starts_with("dead.")), "{left:?}");
        assert!(
            mine.path().unwrap().exists(),
            "this process's own file stays"
        );
        assert!(!owners.join("dead").exists() && owners.join("alive").exists());
        assert!(owners.join(&*OWNER).exists(), "this process's mark stays");
    }

    #[test]
    fn recovery_keeps_recorded_placements_and_undoes_the_rest_only_for_the_lock_holder() {
        let root = tempfile::tempdir().unwrap();
        let place = |key: &str, data: &[u8]| {
            let j = staged(root.path(), data).place(root.path(), key, &root.path().join(key));
            // As a crash would: the journal's drop (its undo) never runs.
            let _ = std::mem::ManuallyDrop::new(j.unwrap());
        };
        place("alice/c/recorded", b"kept");
        place("alice/c/unrecorded", b"gone");
        let replaced = root.path().join("alice/c/replaced");
        staged(root.path(), b"before")
            .place(root.path(), "alice/c/replaced", &replaced)
            .unwrap()
            .keep();
        place("alice/c/replaced", b"after");
        let _ = std::mem::ManuallyDrop::new(staged(root.path(), b"unplaced"));
        let lock = claim(root.path()).unwrap().expect("the lock is free");
        assert!(claim(root.path()).unwrap().is_none(), "the lock is held");
        let left = recover(&lock, root.path(), None).unwrap();
        assert_eq!((left.left, left.removed), (3, 1));
        let recorded = |key: &str| {
            let meta = std::fs::metadata(root.path().join(key)).ok()?;
            (key == "alice/c/recorded").then(|| CachedHash {
                path: key.to_string(),
                size: meta.len(),
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                checksum: String::new(),
                md5: String::new(),
                os_hash: None,
            })
        };
        let done = recover(&lock, root.path(), Some(&recorded)).unwrap();
        assert_eq!((done.placed, done.undone, done.removed), (1, 2, 0));
        assert_eq!(std::fs::read(&replaced).unwrap(), b"before");
        assert_eq!(
            std::fs::read(root.path().join("alice/c/recorded")).unwrap(),
            b"kept"
        );
        assert!(!root.path().join("alice/c/unrecorded").exists());
        assert_eq!(
            staged_files(root.path()),
            ["lock"],
            "only the lock file is left"
        );
        drop(lock);
        assert!(
            claim(root.path()).unwrap().is_some(),
            "dropping releases it"
        );
    }
}
