//! Object store backends: where image data lives, its size and hashes (§9).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use super::hash::ObjectHasher;
pub use super::pithos::PithosStore;
use crate::domain::location::Location;
use crate::domain::range::ByteRange;
use crate::error::AppError;

/// What the store says of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Bytes.
    pub size: u64,
    /// The Pithos hash, lower-case hex.
    pub checksum: String,
    /// The MD5 of the data, where the store knows it.
    pub md5: Option<String>,
}

/// A remembered hash of an fs-store object, valid while its size and mtime hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedHash {
    /// The object's path relative to the store root.
    pub path: String,
    /// Its size when hashed.
    pub size: u64,
    /// Its modification time when hashed, in nanoseconds.
    pub mtime_ns: i64,
    /// The Pithos hash.
    pub checksum: String,
    /// The MD5.
    pub md5: String,
}

/// The result of looking an object up for registration.
#[derive(Debug)]
pub struct Inspected {
    /// Size and hashes.
    pub info: ObjectInfo,
    /// A freshly computed hash to remember, if one was computed.
    pub computed: Option<CachedHash>,
}

/// An opened object, ready to stream.
pub struct OpenObject {
    /// The open file.
    pub file: File,
    /// Its size now.
    pub size: u64,
}

/// Image data as a stream of chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A read of an object's data: which bytes, out of how many, and the bytes.
pub struct ObjectRead {
    /// The object's size.
    pub total: u64,
    /// The first byte sent.
    pub start: u64,
    /// How many bytes are sent.
    pub len: u64,
    /// Whether this is a range (206) rather than the whole object.
    pub partial: bool,
    /// The bytes.
    pub body: ByteStream,
}

/// Who may read an object in the store, as plankton wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readers {
    /// Only the owner.
    Owner,
    /// Everyone (a public image).
    Everyone,
    /// The owner and these users (an image's members), sorted.
    Users(Vec<String>),
}

impl Readers {
    /// The readers an image's publicity and members call for.
    pub fn of(is_public: bool, members: &[String]) -> Readers {
        if is_public {
            Readers::Everyone
        } else if members.is_empty() {
            Readers::Owner
        } else {
            let mut m = members.to_vec();
            m.sort();
            m.dedup();
            Readers::Users(m)
        }
    }
}

/// The object store chosen at start.
pub enum ObjectStore {
    /// A directory on disk.
    Fs(Arc<FsStore>),
    /// Synnefo's Pithos over HTTP(S).
    Pithos(PithosStore),
}

impl ObjectStore {
    /// A short description for the start-up log line.
    pub fn describe(&self) -> String {
        match self {
            ObjectStore::Fs(fs) => format!("fs {}", fs.root.display()),
            ObjectStore::Pithos(p) => format!("pithos {}", p.base_url()),
        }
    }

    /// Size and hashes of the object at `loc`, looked up with the caller's
    /// token: 400 "File not found on given location" if there is none.
    /// `cached` finds a remembered hash of an fs object (by path).
    pub async fn inspect<F>(
        &self,
        loc: &Location,
        token: &str,
        cached: F,
    ) -> Result<Inspected, AppError>
    where
        F: Fn(&str) -> Result<Option<CachedHash>, AppError> + Send + 'static,
    {
        match self {
            ObjectStore::Fs(fs) => {
                let (fs, loc) = (fs.clone(), loc.clone());
                actix_web::web::block(move || fs.inspect(&loc, cached)).await?
            }
            ObjectStore::Pithos(p) => p.inspect(loc, token).await,
        }
    }

    /// The object's data (a range of it, if asked), read with the caller's
    /// token; 409 if it is gone or no longer `expected_size` bytes.
    pub async fn read(
        &self,
        loc: &Location,
        expected_size: u64,
        range: Option<ByteRange>,
        token: &str,
    ) -> Result<ObjectRead, AppError> {
        match self {
            ObjectStore::Fs(fs) => {
                let (fs2, loc) = (fs.clone(), loc.clone());
                let opened =
                    actix_web::web::block(move || fs2.open_object(&loc, expected_size)).await??;
                let (start, len, partial) = match range {
                    None => (0, opened.size, false),
                    Some(r) => {
                        let (s, l) = r.resolve(opened.size)?;
                        (s, l, true)
                    }
                };
                let body = super::stream::file_stream(opened.file, start, len).await?;
                Ok(ObjectRead {
                    total: opened.size,
                    start,
                    len,
                    partial,
                    body: Box::pin(body),
                })
            }
            ObjectStore::Pithos(p) => p.read(loc, expected_size, range, token).await,
        }
    }

    /// Whether changes of members and publicity must be carried to the store.
    pub fn syncs_sharing(&self) -> bool {
        match self {
            ObjectStore::Fs(_) => false,
            ObjectStore::Pithos(p) => p.syncs_sharing(),
        }
    }

    /// Sets who may read the object at `loc` (the owner's token).
    pub async fn set_readers(
        &self,
        loc: &Location,
        readers: &Readers,
        token: &str,
    ) -> Result<(), AppError> {
        match self {
            ObjectStore::Fs(_) => Ok(()),
            ObjectStore::Pithos(p) => p.set_readers(loc, readers, token).await,
        }
    }

    /// Reads the object at `loc` through and hashes it, trusting no cache;
    /// `Ok(None)` if it is gone. Blocking (for `plankton check`).
    pub fn rehash(&self, loc: &Location) -> Result<Option<ObjectInfo>, AppError> {
        match self {
            ObjectStore::Fs(fs) => fs.rehash(loc),
            ObjectStore::Pithos(_) => Err(AppError::internal(
                "re-reading objects in Pithos is not available in this version",
            )),
        }
    }
}

/// The offline store: `<root>/<account>/<container>/<object path>`.
pub struct FsStore {
    root: PathBuf,
}

/// How many times hashing is retried when the file changes under it.
const HASH_ATTEMPTS: usize = 3;

fn not_found() -> AppError {
    AppError::bad("File not found on given location")
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

impl FsStore {
    /// Opens the store at `root`, which must be an existing, readable directory.
    pub fn open(root: &Path) -> Result<FsStore, String> {
        let canon = std::fs::canonicalize(root)
            .map_err(|e| format!("store root {}: {e}", root.display()))?;
        if !canon.is_dir() {
            return Err(format!("store root {}: not a directory", root.display()));
        }
        std::fs::read_dir(&canon).map_err(|e| format!("store root {}: {e}", root.display()))?;
        Ok(FsStore { root: canon })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a location to a regular file inside the root: `Ok(None)` if there
    /// is none, a 400 if the path leads outside the root (through a symlink).
    fn resolve(&self, loc: &Location) -> Result<Option<(PathBuf, String)>, AppError> {
        let mut path = self.root.join(loc.account());
        path.push(loc.container());
        for seg in loc.segments() {
            path.push(seg);
        }
        let canon = match std::fs::canonicalize(&path) {
            Ok(c) => c,
            Err(_) => return Ok(None),
        };
        let rel = match canon.strip_prefix(&self.root) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => {
                return Err(AppError::bad(format!(
                    "Invalid location '{}': it leads outside the object store",
                    loc.canonical()
                )))
            }
        };
        match std::fs::metadata(&canon) {
            Ok(m) if m.is_file() => Ok(Some((canon, rel))),
            _ => Ok(None),
        }
    }

    /// Size and hashes of the object at `loc`, using `cached` to skip hashing
    /// a file whose size and mtime are unchanged. Blocking.
    pub fn inspect(
        &self,
        loc: &Location,
        cached: impl Fn(&str) -> Result<Option<CachedHash>, AppError>,
    ) -> Result<Inspected, AppError> {
        let (path, rel) = self.resolve(loc)?.ok_or_else(not_found)?;
        for _ in 0..HASH_ATTEMPTS {
            let before = std::fs::metadata(&path).map_err(|_| not_found())?;
            let (size, mtime) = (before.len(), mtime_ns(&before));
            if let Some(hit) = cached(&rel)? {
                if hit.size == size && hit.mtime_ns == mtime {
                    return Ok(Inspected {
                        info: ObjectInfo {
                            size,
                            checksum: hit.checksum,
                            md5: Some(hit.md5),
                        },
                        computed: None,
                    });
                }
            }
            let (read, checksum, md5) = hash_file(&path).map_err(|_| not_found())?;
            let after = std::fs::metadata(&path).map_err(|_| not_found())?;
            if read == size && after.len() == size && mtime_ns(&after) == mtime {
                return Ok(Inspected {
                    info: ObjectInfo {
                        size,
                        checksum: checksum.clone(),
                        md5: Some(md5.clone()),
                    },
                    computed: Some(CachedHash {
                        path: rel,
                        size,
                        mtime_ns: mtime,
                        checksum,
                        md5,
                    }),
                });
            }
        }
        Err(AppError::Conflict(format!(
            "The object at '{}' kept changing while it was read",
            loc.canonical()
        )))
    }

    /// Reads the object through and hashes it; `Ok(None)` if it is gone.
    pub fn rehash(&self, loc: &Location) -> Result<Option<ObjectInfo>, AppError> {
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
            Err(e) => Err(AppError::internal(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }

    /// Opens the object for reading; 409 if it is gone or its size is no longer
    /// `expected_size`. Blocking.
    pub fn open_object(&self, loc: &Location, expected_size: u64) -> Result<OpenObject, AppError> {
        let gone = || {
            AppError::Conflict(format!(
                "The image's object at '{}' is gone from the store",
                loc.canonical()
            ))
        };
        let (path, _) = self.resolve(loc).map_err(|_| gone())?.ok_or_else(gone)?;
        let file = File::open(&path).map_err(|_| gone())?;
        let size = file.metadata().map_err(|_| gone())?.len();
        if size != expected_size {
            return Err(AppError::Conflict(format!(
                "The image's object at '{}' changed size since registration ({expected_size} bytes then, {size} now)",
                loc.canonical()
            )));
        }
        Ok(OpenObject { file, size })
    }
}

/// Reads a file once: `(bytes read, pithos hash, md5)`. The MD5 runs on a
/// second thread beside the Pithos hash, fed the same buffers: MD5 cannot be
/// split, so it sets the pace, and registering a file takes about as long as
/// `md5sum` reading it.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String, String)> {
    use md5::{Digest, Md5};
    use std::sync::mpsc::sync_channel;

    let mut f = File::open(path)?;
    // Buffers go to the MD5 thread and come back to be filled again: a few
    // 4 MiB buffers serve a file of any size.
    let (to_md5, chunks) = sync_channel::<Vec<u8>>(3);
    let (give_back, returned) = sync_channel::<Vec<u8>>(4);
    std::thread::scope(|scope| {
        let md5 = scope.spawn(move || {
            let mut md5 = Md5::new();
            for chunk in chunks {
                md5.update(&chunk[..]);
                let _ = give_back.try_send(chunk);
            }
            hex::encode(md5.finalize())
        });
        let mut hasher = ObjectHasher::pithos_only();
        let mut total = 0u64;
        let result = loop {
            let mut buf = returned
                .try_recv()
                .unwrap_or_else(|_| vec![0u8; super::hash::BLOCK_SIZE]);
            buf.resize(super::hash::BLOCK_SIZE, 0);
            let n = match read_full(&mut f, &mut buf) {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if n == 0 {
                break Ok(());
            }
            buf.truncate(n);
            hasher.update(&buf);
            total += n as u64;
            if to_md5.send(buf).is_err() {
                break Err(std::io::Error::other("the MD5 thread stopped"));
            }
        };
        drop(to_md5);
        let md5 = md5
            .join()
            .map_err(|_| std::io::Error::other("the MD5 thread panicked"))?;
        result?;
        let (checksum, _) = hasher.finish();
        Ok((total, checksum, md5))
    })
}

/// Reads until `buf` is full or the file ends; how many bytes were read.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_cache(_: &str) -> Result<Option<CachedHash>, AppError> {
        Ok(None)
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
        let got = store.inspect(&loc, no_cache).unwrap();
        assert_eq!(got.info.size, 3);
        assert_eq!(
            got.info.md5.as_deref(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );
        assert!(got.computed.is_some());

        let missing = Location::parse("pithos://alice/images/nope").unwrap();
        assert!(
            matches!(store.inspect(&missing, no_cache), Err(AppError::BadRequest(m)) if m.contains("not found"))
        );
        let dir_loc = Location::parse("pithos://alice/images/x").unwrap();
        std::fs::create_dir(root.join("alice/images/x")).unwrap();
        assert!(store.inspect(&dir_loc, no_cache).is_err());
        let link = Location::parse("pithos://alice/images/link").unwrap();
        assert!(
            matches!(store.inspect(&link, no_cache), Err(AppError::BadRequest(m)) if m.contains("outside"))
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
                super::super::hash::hash_bytes(&data),
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
        let first = store.inspect(&loc, no_cache).unwrap().computed.unwrap();
        let fake = CachedHash {
            checksum: "f".repeat(64),
            ..first.clone()
        };
        let hit = store.inspect(&loc, |_| Ok(Some(fake.clone()))).unwrap();
        assert_eq!(hit.info.checksum, "f".repeat(64));
        assert!(hit.computed.is_none());
        let stale = CachedHash {
            mtime_ns: first.mtime_ns - 1,
            ..fake.clone()
        };
        let miss = store.inspect(&loc, |_| Ok(Some(stale.clone()))).unwrap();
        assert_eq!(miss.info.checksum, first.checksum);
    }
}
