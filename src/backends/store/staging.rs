//! All-or-nothing writes into the `fs` store: data goes to a file under
//! `<root>/+staging/`, which no location reaches (`+` is not allowed in a
//! user id, so no account directory has that name), is hashed as it is
//! written, synced, and only then renamed to where its location points.
//! A staging file that is dropped unfinished is removed; one left behind by
//! a crash is removed by `sweep` at the next start or `plankton check`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::backends::hash::ObjectHasher;

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
    /// MD5 of the data, lower-case hex.
    pub(crate) md5: String,
    /// Pithos hash of the data, lower-case hex.
    pub(crate) pithos_hash: String,
}

impl Staged {
    /// Starts an upload: a new, empty file under `<root>/+staging/`.
    pub(crate) fn create(root: &Path) -> std::io::Result<Staged> {
        let dir = root.join(STAGING_DIR);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
            sync_dir(root)?;
        }
        let path = dir.join(uuid::Uuid::new_v4().simple().to_string());
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

    /// Appends `data`, hashing it on the way.
    pub(crate) fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data)?;
        self.hasher.update(data);
        self.len += data.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ends the upload: the file is synced and its hashes known.
    pub(crate) fn finish(mut self) -> std::io::Result<Finished> {
        self.file.sync_all()?;
        let hasher = std::mem::take(&mut self.hasher);
        let (pithos_hash, md5) = hasher.finish();
        Ok(Finished {
            path: self.path.take(),
            size: self.len,
            md5,
            pithos_hash,
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Finished {
    /// Puts the data at `dest` (creating missing parent directories, each
    /// synced into its parent), replacing what was there, then syncs the
    /// directory that holds it: once this returns, the object survives a
    /// crash.
    pub(crate) fn commit(mut self, dest: &Path) -> std::io::Result<()> {
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

/// The lock file in the staging directory: held by the serving process for
/// its whole life, so that `plankton check` sweeps only when no upload can
/// be running.
const LOCK_FILE: &str = "lock";

/// The staging lock of one store root, released when dropped (or when the
/// process dies, however it dies).
#[derive(Debug)]
pub(crate) struct StagingLock {
    _file: File,
}

/// Takes the staging lock of `root` and, holding it, removes what earlier
/// processes left in staging: the lock and the number of files removed, or
/// `None` if another process holds the lock (a server is running on this
/// root), in which case nothing is removed.
pub(crate) fn claim(root: &Path) -> std::io::Result<Option<(StagingLock, usize)>> {
    let dir = root.join(STAGING_DIR);
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir)?;
        sync_dir(root)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    let removed = sweep(root)?;
    Ok(Some((StagingLock { _file: file }, removed)))
}

/// Removes every staging file under `root` but the lock; the number removed.
/// Only for a caller holding the lock (see `claim`).
fn sweep(root: &Path) -> std::io::Result<usize> {
    let dir = root.join(STAGING_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() && entry.file_name() != LOCK_FILE {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::hash::hash_bytes;

    fn staged_files(root: &Path) -> usize {
        std::fs::read_dir(root.join(STAGING_DIR))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    #[test]
    fn a_committed_upload_is_at_its_place_with_its_hashes() {
        let root = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut s = Staged::create(root.path()).unwrap();
        for piece in data.chunks(65_537) {
            s.write(piece).unwrap();
        }
        assert_eq!(s.len(), data.len() as u64);
        let done = s.finish().unwrap();
        let (pithos, md5) = hash_bytes(&data);
        assert_eq!(
            (done.pithos_hash.as_str(), done.md5.as_str()),
            (pithos.as_str(), md5.as_str())
        );
        let dest = root.path().join("alice/images/x/y");
        done.commit(&dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(staged_files(root.path()), 0);
    }

    #[test]
    fn an_abandoned_upload_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let mut s = Staged::create(root.path()).unwrap();
        s.write(b"half").unwrap();
        assert_eq!(staged_files(root.path()), 1);
        drop(s);
        assert_eq!(staged_files(root.path()), 0);
        let mut s = Staged::create(root.path()).unwrap();
        s.write(b"all").unwrap();
        drop(s.finish().unwrap());
        assert_eq!(staged_files(root.path()), 0);
    }

    #[test]
    fn claiming_removes_what_a_crash_left_unless_another_holds_the_lock() {
        let root = tempfile::tempdir().unwrap();
        let mut s = Staged::create(root.path()).unwrap();
        s.write(b"left behind").unwrap();
        std::mem::forget(s);
        let (lock, removed) = claim(root.path()).unwrap().expect("the lock is free");
        assert_eq!(removed, 1);
        assert_eq!(staged_files(root.path()), 1, "only the lock file is left");
        let mut running = Staged::create(root.path()).unwrap();
        running.write(b"in flight").unwrap();
        assert!(claim(root.path()).unwrap().is_none(), "the lock is held");
        assert_eq!(staged_files(root.path()), 2, "an upload in flight is kept");
        drop(lock);
        drop(running);
        assert_eq!(claim(root.path()).unwrap().unwrap().1, 0);
    }
}
