//! The `fs` store as the object-store endpoint sees it (docs/api.md §14):
//! a container is a directory `<root>/<account>/<container>`, an object a
//! regular file beneath it. Nothing here follows a symbolic link: a path
//! through one is refused, and listings pass them by. Every call blocks.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::fs::{FsStore, OpenObject};
use super::StoreError;
use crate::config::HashingAlgorithm;
use crate::domain::image::OsHash;
use crate::domain::location::Location;

/// A file's size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileInfo {
    /// Bytes.
    pub(crate) size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub(crate) mtime_ns: i64,
}

impl FileInfo {
    fn of(meta: &std::fs::Metadata) -> FileInfo {
        FileInfo {
            size: meta.len(),
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
        }
    }
}

/// A container's path relative to the root, `<account>/<container>`.
pub(crate) fn container_key(account: &str, container: &str) -> String {
    format!("{account}/{container}")
}

/// An object's path relative to the root, `<account>/<container>/<object>`:
/// the key of its metadata and remembered hash in the catalogue.
pub(crate) fn object_key(loc: &Location) -> String {
    format!(
        "{}/{}",
        container_key(loc.account(), loc.container()),
        loc.object_path()
    )
}

fn outside(what: &str) -> StoreError {
    StoreError::OutsideRoot(what.to_string())
}

/// A file operation's failure: a full disk is the caller's to know (413
/// "not enough space", as for data), anything else is logged.
fn io(what: &Path, e: std::io::Error) -> StoreError {
    if super::is_full(&e) {
        StoreError::NoSpace
    } else {
        StoreError::Io(format!("{}: {e}", what.display()))
    }
}

/// Syncs a directory, so that the entries made or removed in it survive a crash.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    super::staging::sync_dir(dir).map_err(|e| io(dir, e))
}

impl FsStore {
    /// `<root>/<rel>`, checked: no part of it that exists is a symbolic link.
    pub(super) fn inside(&self, rel: &str) -> Result<PathBuf, StoreError> {
        let mut path = self.root().to_path_buf();
        for part in rel.split('/') {
            path.push(part);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => return Err(outside(rel)),
                Ok(_) => {}
                // The rest is not there yet: no link on it.
                Err(_) => return Ok(self.root().join(rel)),
            }
        }
        Ok(path)
    }

    /// Whether the container is there (a directory).
    pub(crate) fn container_exists(
        &self,
        account: &str,
        container: &str,
    ) -> Result<bool, StoreError> {
        let dir = self.inside(&container_key(account, container))?;
        Ok(std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()))
    }

    /// Makes the container's directory (synced); whether it was made now.
    pub(crate) fn create_container(
        &self,
        account: &str,
        container: &str,
    ) -> Result<bool, StoreError> {
        let key = container_key(account, container);
        let dir = self.inside(&key)?;
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Ok(false);
        }
        let account_dir = self.inside(account)?;
        if !account_dir.is_dir() {
            std::fs::create_dir(&account_dir).map_err(|e| io(&account_dir, e))?;
            sync_dir(self.root())?;
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {
                return Ok(false)
            }
            Err(_) if dir.exists() => return Err(StoreError::InTheWay(key)),
            Err(e) => return Err(io(&dir, e)),
        }
        sync_dir(&account_dir)?;
        Ok(true)
    }

    /// The containers of an account: its directories, by name (names that
    /// are not UTF-8 are passed by).
    pub(crate) fn containers(&self, account: &str) -> Result<Vec<(String, FileInfo)>, StoreError> {
        let dir = self.inside(account)?;
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            let (Ok(kind), Ok(name)) = (entry.file_type(), entry.file_name().into_string()) else {
                continue;
            };
            if kind.is_dir() {
                if let Ok(meta) = entry.metadata() {
                    out.push((name, FileInfo::of(&meta)));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Every object of a container, by name (`/`-separated below it).
    pub(crate) fn objects(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Vec<(String, FileInfo)>, StoreError> {
        let dir = self.inside(&container_key(account, container))?;
        let mut out = Vec::new();
        walk(&dir, "", &mut out);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The object's file, if it is a regular file reached through no link.
    pub(crate) fn object_file(
        &self,
        loc: &Location,
    ) -> Result<Option<(PathBuf, FileInfo)>, StoreError> {
        let path = self.inside(&object_key(loc))?;
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some((path, FileInfo::of(&m)))),
            _ => Ok(None),
        }
    }

    /// Opens the object to stream it; `Ok(None)` if there is none.
    pub(crate) fn open_object_file(
        &self,
        loc: &Location,
    ) -> Result<Option<(OpenObject, FileInfo)>, StoreError> {
        let Some((path, _)) = self.object_file(loc)? else {
            return Ok(None);
        };
        let Ok(file) = File::open(&path) else {
            return Ok(None);
        };
        let meta = file.metadata().map_err(|e| io(&path, e))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let info = FileInfo::of(&meta);
        Ok(Some((OpenObject::from_file(file, info.size), info)))
    }

    /// Where a write of the object goes: no link on the way, no file where a
    /// directory must be, no directory where the object must be.
    pub(crate) fn object_destination(&self, loc: &Location) -> Result<PathBuf, StoreError> {
        let key = object_key(loc);
        let path = self.inside(&key)?;
        let in_the_way = || StoreError::InTheWay(key.clone());
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root() {
                break;
            }
            match std::fs::symlink_metadata(d) {
                Ok(m) if !m.is_dir() => return Err(in_the_way()),
                _ => {}
            }
            dir = d.parent();
        }
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            return Err(in_the_way());
        }
        Ok(path)
    }

    /// Removes the object's file, then the directories the removal left
    /// empty up to its container (all synced); whether there was one.
    pub(crate) fn remove_object(&self, loc: &Location) -> Result<bool, StoreError> {
        let Some((path, _)) = self.object_file(loc)? else {
            return Ok(false);
        };
        std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        let container = self.inside(&container_key(loc.account(), loc.container()))?;
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == container || std::fs::remove_dir(&d).is_err() {
                sync_dir(&d)?;
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(true)
    }

    /// Removes an empty container (its empty subdirectories too); `false`
    /// if it holds an object. A container that is not there is removed.
    pub(crate) fn remove_container(
        &self,
        account: &str,
        container: &str,
    ) -> Result<bool, StoreError> {
        if !self.objects(account, container)?.is_empty() {
            return Ok(false);
        }
        let dir = self.inside(&container_key(account, container))?;
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(true)
    }
}

/// Collects the regular files under `dir` (named `prefix` + their path),
/// passing by links, other kinds of file, and names that are not UTF-8.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, FileInfo)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let (Ok(kind), Ok(name)) = (entry.file_type(), entry.file_name().into_string()) else {
            continue;
        };
        let full = format!("{prefix}{name}");
        if kind.is_dir() {
            walk(&entry.path(), &format!("{full}/"), out);
        } else if kind.is_file() {
            if let Ok(meta) = entry.metadata() {
                out.push((full, FileInfo::of(&meta)));
            }
        }
    }
}

impl FsStore {
    /// Hashes the object at `key` (`(pithos hash, md5)`), if it still has
    /// the size and mtime it was listed with.
    pub(crate) fn hash_object(
        &self,
        key: &str,
        expect: FileInfo,
    ) -> Result<(String, String), StoreError> {
        let path = self.inside(key)?;
        let (read, pithos, md5) =
            crate::backends::hash::hash_file(&path).map_err(|e| io(&path, e))?;
        let now = written(&path)?;
        if read != expect.size || now != expect {
            return Err(StoreError::KeptChanging(key.to_string()));
        }
        Ok((pithos, md5))
    }

    /// The hash of each block of the object at `key`.
    pub(crate) fn object_block_hashes(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let path = self.inside(key)?;
        crate::backends::hash::block_hashes(&path).map_err(|e| io(&path, e))
    }
}

impl FsStore {
    /// Notes that the MD5 of the object at `key`, now `info`, is owed.
    pub(crate) fn owe_md5(&self, key: &str, info: FileInfo) {
        let slot = Arc::new(super::fs::Md5Slot {
            info,
            md5: Mutex::new(None),
        });
        lock(&self.md5s.0).insert(key.to_string(), slot);
    }

    /// The owed MD5 of `key` is recorded: it is no longer kept here.
    pub(crate) fn md5_settled(&self, key: &str, info: FileInfo) {
        let mut slots = lock(&self.md5s.0);
        if slots.get(key).is_some_and(|s| s.info == info) {
            slots.remove(key);
        }
    }

    /// The MD5 of the object at `key` if it still has `info`: the one owed
    /// (computed once, whoever asks first), else read through now.
    pub(crate) fn md5_of(&self, key: &str, info: FileInfo) -> Result<String, StoreError> {
        let slot = lock(&self.md5s.0)
            .get(key)
            .filter(|s| s.info == info)
            .map(Arc::clone);
        let Some(slot) = slot else {
            return self.read_md5(key, info);
        };
        let mut owed = lock(&slot.md5);
        if let Some(md5) = owed.as_ref() {
            return Ok(md5.clone());
        }
        let md5 = self.read_md5(key, info)?;
        *owed = Some(md5.clone());
        Ok(md5)
    }

    /// Reads the object at `key` through MD5, if it has `info` before and after.
    fn read_md5(&self, key: &str, info: FileInfo) -> Result<String, StoreError> {
        self.read_unchanged(key, info, super::staging::md5_of_file)
    }

    /// The `os_hash` of `algo` of the object at `key`, read through now, if
    /// it has `info` before and after (`KeptChanging` otherwise).
    pub(crate) fn os_hash_of(
        &self,
        key: &str,
        info: FileInfo,
        algo: HashingAlgorithm,
    ) -> Result<OsHash, StoreError> {
        let digest = |f: &File| super::staging::os_hash_of_file(f, algo);
        self.read_unchanged(key, info, digest)
            .map(|h| super::stored_os_hash(&h))
    }

    /// `read` of the open object at `key`, if it has `info` before and after.
    fn read_unchanged<T>(
        &self,
        key: &str,
        info: FileInfo,
        read: impl FnOnce(&File) -> std::io::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.inside(key)?;
        let file = File::open(&path).map_err(|e| io(&path, e))?;
        let changed = || StoreError::KeptChanging(key.to_string());
        let seen = |f: &File| f.metadata().map(|m| FileInfo::of(&m)).ok();
        if seen(&file) != Some(info) {
            return Err(changed());
        }
        let out = read(&file).map_err(|e| io(&path, e))?;
        if seen(&file) != Some(info) {
            return Err(changed());
        }
        Ok(out)
    }
}

/// Locks a mutex, whatever a panic left in it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The info of the file just written at `path`.
fn written(path: &Path) -> Result<FileInfo, StoreError> {
    std::fs::symlink_metadata(path)
        .map(|m| FileInfo::of(&m))
        .map_err(|e| io(path, e))
}
