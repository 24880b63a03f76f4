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
    /// Starts an upload under a name of the caller's (a fresh image id),
    /// which must not be in use in staging.
    pub(crate) fn named(root: &Path, name: &str) -> std::io::Result<Staged> {
        let dir = root.join(STAGING_DIR);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
            sync_dir(root)?;
        }
        let path = dir.join(name);
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

/// Takes the staging lock of `root`: `None` if another process holds it (a
/// server is running on this root).
pub(crate) fn claim(root: &Path) -> std::io::Result<Option<StagingLock>> {
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
        Ok(()) => Ok(Some(StagingLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// What `recover` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// Uploads whose image was committed, moved to their place.
    pub(crate) placed: usize,
    /// Unfinished or refused uploads removed.
    pub(crate) removed: usize,
}

/// Finishes or removes what earlier processes left in staging; only for a
/// holder of the lock. `destination` says, from a staging file's name,
/// where its data belongs if the upload was committed (its image is in the
/// catalogue and its object not yet at the location); every other file is
/// removed.
pub(crate) fn recover(
    _lock: &StagingLock,
    root: &Path,
    destination: impl Fn(&str) -> Option<PathBuf>,
) -> std::io::Result<Recovered> {
    let mut done = Recovered::default();
    for entry in std::fs::read_dir(root.join(STAGING_DIR))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_file() || name == LOCK_FILE {
            continue;
        }
        let leftover = Finished {
            path: Some(entry.path()),
            size: 0,
            md5: String::new(),
            pithos_hash: String::new(),
        };
        match destination(&name) {
            Some(dest) => {
                leftover.commit(&dest)?;
                done.placed += 1;
            }
            None => {
                drop(leftover);
                done.removed += 1;
            }
        }
    }
    Ok(done)
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
        let mut s = Staged::named(root.path(), "x").unwrap();
        for piece in data.chunks(65_537) {
            s.write(piece).unwrap();
        }
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
        let mut s = Staged::named(root.path(), "x").unwrap();
        s.write(b"half").unwrap();
        assert_eq!(staged_files(root.path()), 1);
        drop(s);
        assert_eq!(staged_files(root.path()), 0);
        let mut s = Staged::named(root.path(), "x").unwrap();
        s.write(b"all").unwrap();
        drop(s.finish().unwrap());
        assert_eq!(staged_files(root.path()), 0);
    }

    #[test]
    fn recovery_places_committed_uploads_and_removes_the_rest_only_for_the_lock_holder() {
        let root = tempfile::tempdir().unwrap();
        for (name, data) in [("committed", b"kept".as_slice()), ("unfinished", b"half")] {
            let mut s = Staged::named(root.path(), name).unwrap();
            s.write(data).unwrap();
            std::mem::forget(s);
        }
        let lock = claim(root.path()).unwrap().expect("the lock is free");
        assert!(claim(root.path()).unwrap().is_none(), "the lock is held");
        let dest = root.path().join("alice/images/committed");
        let done = recover(&lock, root.path(), |name| {
            (name == "committed").then(|| dest.clone())
        })
        .unwrap();
        assert_eq!(
            done,
            Recovered {
                placed: 1,
                removed: 1
            }
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"kept");
        assert_eq!(staged_files(root.path()), 1, "only the lock file is left");
        drop(lock);
        assert!(
            claim(root.path()).unwrap().is_some(),
            "dropping releases it"
        );
    }
}
