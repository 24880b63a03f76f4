//! Object store backends: where image data lives, its size and hashes
//! (docs/api.md §9). The enum is the seam; `fs` and `pithos` are its variants.
//! The store does all file work: receiving, assembling from blocks, placing
//! and undoing (docs/behaviour.md, "Crash protocol"), and the object-store
//! endpoint's files (`endpoint`).

pub(crate) mod blocks;
mod endpoint;
mod fs;
mod intake;
mod objects;
mod pending;
mod pithos;
mod space;
mod staging;

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

pub(crate) use endpoint::{Assembled, KnownBlocks};
pub(crate) use fs::{FsStore, OS_HASH_LATER};
pub(crate) use objects::{container_key, object_key, FileInfo};
pub(crate) use pithos::PithosStore;
pub(crate) use space::{Ask, Claim};

use crate::config::HashingAlgorithm;
use crate::domain::image::OsHash;
use crate::domain::location::Location;
use crate::domain::object::{CachedHash, ObjectInfo, Readers};
use crate::domain::range::ByteRange;

/// What went wrong in the object store, in the store's terms: which object
/// and what about it. Which status a surface answers is not decided here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreError {
    /// There is no object at the location (looked up to register it).
    #[error("no object at {0}")]
    Missing(String),
    /// The location leads outside the store's root (a symlink).
    #[error("{0} leads outside the object store")]
    OutsideRoot(String),
    /// The object changed every time it was read through.
    #[error("{0} kept changing while it was read")]
    KeptChanging(String),
    /// A registered image's object is gone.
    #[error("the object at {0} is gone")]
    Gone(String),
    /// A registered image's object is gone, so its sharing cannot be set.
    #[error("the object at {0} is gone; its sharing cannot be set")]
    GoneWhileSharing(String),
    /// A registered image's object no longer has its registered size.
    #[error("the object at {location} has {now} bytes, {then} registered")]
    Resized {
        /// The canonical location.
        location: String,
        /// The registered size.
        then: u64,
        /// What the store has now, as it said it.
        now: String,
    },
    /// A range outside the object.
    #[error("range outside the {size}-byte object")]
    RangeOutside {
        /// The object's size.
        size: u64,
    },
    /// The store refuses the caller this object.
    #[error("the object store refuses to let the caller {} {location}", access.verb())]
    Denied {
        /// What was refused.
        access: Access,
        /// The canonical location.
        location: String,
    },
    /// The store did not answer, or answered nonsense (the details are logged
    /// where they are seen).
    #[error("the object store could not be reached")]
    Unreachable,
    /// The store cannot do this.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A file stands where a directory must be, or a directory where a file must.
    #[error("{0}: a file or directory of the store is in the way")]
    InTheWay(String),
    /// A local I/O failure.
    #[error("{0}")]
    Io(String),
    /// Data being received passed the limit it was given.
    #[error("more than {limit} bytes")]
    PastLimit {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The disk holding the store is full.
    #[error("not enough space in the store")]
    NoSpace,
    /// The data being received stopped short: the client went away or sent
    /// a malformed body.
    #[error("the data stopped short: {0}")]
    Cut(String),
    /// Uploaded data's new home is taken (an object is already there).
    #[error("an object is already at {0}")]
    Taken(String),
    /// Received data is not what the request said of it; the message says
    /// how, in the request's terms.
    #[error("{0}")]
    Refused(String),
    /// The store refuses the data: the account's quota there is used up.
    #[error("the object store's quota is used up")]
    QuotaFull,
    /// The `fs` store's block directory could not be opened at start.
    #[error("the object store's block directory could not be opened")]
    NoBlocks,
}

/// A failed write into the store: a full disk is the caller's to know
/// about, anything else is logged.
pub(crate) fn write_error(e: std::io::Error) -> StoreError {
    if is_full(&e) {
        StoreError::NoSpace
    } else {
        StoreError::Io(format!("writing to the store: {e}"))
    }
}

/// Whether an I/O error says the disk is full (ENOSPC; EDQUOT, a user's
/// file system quota, is as full for this user).
pub(crate) fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(28 | 122))
}

/// Data received for a new object: complete, durable, hashed and accepted,
/// and at its location once `ObjectStore::place` says so. In the `fs` store
/// it waits in staging until then, and dropping it discards it; Pithos has
/// it at its location already (placing it is a step of no work), and only
/// `ObjectStore::undo` takes it back.
#[derive(Debug)]
pub(crate) struct Received {
    /// Its size and hashes.
    pub(crate) info: ObjectInfo,
    held: Held,
}

#[derive(Debug)]
enum Held {
    Staged(staging::Finished, Option<blocks::Used>),
    InPithos {
        location: Location,
        token: String,
        os_hash: Option<OsHash>,
    },
}

/// Data at its location that the catalogue has not recorded yet: the
/// caller records it, then `ObjectStore::keep`s it, or `undo`es it if the
/// record failed. A crash before either is settled at the next start
/// (docs/behaviour.md, "Crash protocol").
#[derive(Debug)]
pub(crate) struct Placed {
    /// The hash of the `fs` file now at the location, to record with it.
    pub(crate) remember: Option<CachedHash>,
    undo: Undo,
}

#[derive(Debug)]
enum Undo {
    Journal(staging::Journal, Option<blocks::Used>),
    InPithos { location: Location, token: String },
}

/// What the caller was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reading the object.
    Read,
    /// Changing who may read it.
    Share,
    /// Writing it.
    Write,
}

impl Access {
    fn verb(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Share => "share",
            Access::Write => "write",
        }
    }
}

/// The result of looking an object up for registration.
#[derive(Debug)]
pub(crate) struct Inspected {
    /// Size and hashes.
    pub(crate) info: ObjectInfo,
    /// The `os_hash` of the setting's algorithm, where the data was read
    /// (the `fs` store; registering in Pithos reads none).
    pub(crate) os_hash: Option<OsHash>,
    /// A freshly computed hash to remember, if one was computed.
    pub(crate) computed: Option<CachedHash>,
    /// The file whose `os_hash` is owed, to be computed after the answer
    /// (a large object of the `fs` store: `fs::OS_HASH_LATER`).
    pub(crate) os_hash_owed: Option<CachedHash>,
}

impl Inspected {
    /// What a remembered hash of an unchanged file says: its `os_hash` is
    /// owed if the entry lacks one of `algo`.
    fn known(hit: CachedHash, algo: HashingAlgorithm) -> Inspected {
        let os_hash = hit.os_hash.clone().filter(|h| h.algo == algo.as_str());
        Inspected {
            info: ObjectInfo {
                size: hit.size,
                checksum: hit.checksum.clone(),
                md5: Some(hit.md5.clone()),
            },
            os_hash_owed: os_hash.is_none().then_some(hit),
            os_hash,
            computed: None,
        }
    }

    /// What a pass over the file gave, to be remembered: its `os_hash` is
    /// owed if the pass did not compute one.
    fn computed(read: CachedHash) -> Inspected {
        Inspected {
            info: ObjectInfo {
                size: read.size,
                checksum: read.checksum.clone(),
                md5: Some(read.md5.clone()),
            },
            os_hash: read.os_hash.clone(),
            os_hash_owed: read.os_hash.is_none().then(|| read.clone()),
            computed: Some(read),
        }
    }
}

/// Image data as a stream of chunks.
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A read of an object's data: which bytes, out of how many, and the bytes.
pub(crate) struct ObjectRead {
    /// The object's size.
    pub(crate) total: u64,
    /// The first byte sent.
    pub(crate) start: u64,
    /// How many bytes are sent.
    pub(crate) len: u64,
    /// Whether this is a range (206) rather than the whole object.
    pub(crate) partial: bool,
    /// The bytes.
    pub(crate) body: ByteStream,
}

/// The object store chosen at start.
pub(crate) enum ObjectStore {
    /// A directory on disk.
    Fs(Arc<FsStore>),
    /// Synnefo's Pithos over HTTP(S).
    Pithos(PithosStore),
}

impl ObjectStore {
    /// A short description for the start-up log line.
    pub(crate) fn describe(&self) -> String {
        match self {
            ObjectStore::Fs(fs) => format!("fs {}", fs.root().display()),
            ObjectStore::Pithos(p) => format!("pithos {}", p.base_url()),
        }
    }

    /// Size and hashes of the object at `loc`, looked up with the caller's
    /// token; in the `fs` store with the `os_hash` of `algo`. `cached`
    /// finds a remembered hash of an fs object (by path).
    pub(crate) async fn inspect<F>(
        &self,
        (loc, token): (&Location, &str),
        algo: HashingAlgorithm,
        cached: F,
    ) -> Result<Inspected, StoreError>
    where
        F: Fn(&str) -> Option<CachedHash> + Send + 'static,
    {
        match self {
            ObjectStore::Fs(fs) => {
                let (fs, loc) = (Arc::clone(fs), loc.clone());
                blocking(move || fs.inspect(&loc, algo, cached)).await
            }
            ObjectStore::Pithos(p) => p.inspect(loc, token).await,
        }
    }

    /// The object's data (a range of it, if asked), read with the caller's
    /// token; `Gone` or `Resized` if it is not the `expected_size` bytes
    /// registered.
    pub(crate) async fn read(
        &self,
        loc: &Location,
        expected_size: u64,
        range: Option<ByteRange>,
        token: &str,
    ) -> Result<ObjectRead, StoreError> {
        match self {
            ObjectStore::Fs(fs) => {
                let (fs, loc) = (Arc::clone(fs), loc.clone());
                let opened = blocking(move || fs.open_object(&loc, expected_size)).await?;
                opened.read(range).await
            }
            ObjectStore::Pithos(p) => p.read(loc, expected_size, range, token).await,
        }
    }

    /// Whether the object-store endpoint is served (the `fs` store).
    pub(crate) fn serves_endpoint(&self) -> bool {
        matches!(self, ObjectStore::Fs(_))
    }

    /// Receives the data of a new object for `loc` from `body`, at most
    /// `limit` bytes, written with the caller's `token`. Once every byte is
    /// in and hashed, `accept` has the last word (its `Err` is `Refused`):
    /// data it refuses is not kept anywhere.
    ///
    /// The `fs` store keeps the data in staging until `place`; Pithos is
    /// sent it as it arrives and has it at `loc` when this returns.
    pub(crate) async fn receive<S, E>(
        &self,
        (loc, token): (&Location, &str),
        body: S,
        (limit, os_hash): (u64, Option<HashingAlgorithm>),
        accept: impl FnOnce(&ObjectInfo) -> Result<(), String>,
    ) -> Result<Received, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        match self {
            ObjectStore::Fs(fs) => {
                let staged = fs.receive(body, limit, os_hash).await?;
                let received = Received::staged(staged, None);
                accept(&received.info).map_err(StoreError::Refused)?;
                Ok(received)
            }
            ObjectStore::Pithos(p) => {
                let (info, os_hash) = p
                    .receive((loc, token), body, (limit, os_hash), accept)
                    .await?;
                let held = Held::InPithos {
                    location: loc.clone(),
                    token: token.to_string(),
                    os_hash: os_hash.as_ref().map(stored_os_hash),
                };
                Ok(Received { info, held })
            }
        }
    }

    /// Puts received data at `loc`, durably, before the catalogue records
    /// it (in Pithos it is there already). A new image's location must be
    /// free; an object write (`replace`) replaces what is there.
    pub(crate) async fn place(
        &self,
        received: Received,
        loc: &Location,
        replace: bool,
    ) -> Result<Placed, StoreError> {
        match (self, received.held) {
            (ObjectStore::Fs(fs), Held::Staged(staged, used)) => {
                let (fs, loc, key) = (Arc::clone(fs), loc.clone(), object_key(loc));
                let (hash, journal) =
                    blocking(move || fs.place(staged, (&loc, key), replace)).await?;
                Ok(Placed {
                    remember: Some(hash),
                    undo: Undo::Journal(journal, used),
                })
            }
            (
                _,
                Held::InPithos {
                    location, token, ..
                },
            ) => Ok(Placed {
                remember: None,
                undo: Undo::InPithos { location, token },
            }),
            (ObjectStore::Pithos(_), Held::Staged(..)) => {
                Err(StoreError::Io("data staged for another store".into()))
            }
        }
    }

    /// The catalogue recorded the placed data: it stands (the way back is
    /// dropped, and the blocks it was assembled from are let go).
    pub(crate) async fn keep(&self, placed: Placed) {
        if let Undo::Journal(journal, used) = placed.undo {
            let _ = blocking(move || {
                journal.keep();
                if let Some(used) = used {
                    used.consume();
                }
                Ok(())
            })
            .await;
        }
    }

    /// Deletes an uploaded object whose image was deleted (docs/api.md
    /// §17.6), as far as it can: the fs file with its directory synced, or
    /// a Pithos DELETE with the caller's token. A failure is logged, not
    /// returned: the image is already a tombstone, and `plankton check`
    /// reports the object as an upload no image uses.
    pub(crate) async fn delete_upload(&self, loc: &Location, token: &str) {
        match self {
            ObjectStore::Fs(fs) => {
                let path = fs.path_of(loc);
                let at = loc.canonical();
                let gone = blocking(move || {
                    std::fs::remove_file(&path).map_err(write_error)?;
                    match path.parent() {
                        Some(dir) => staging::sync_dir(dir).map_err(write_error),
                        None => Ok(()),
                    }
                })
                .await;
                if let Err(e) = gone {
                    log::warn!("could not delete the upload at {at} of a deleted image: {e}");
                }
            }
            ObjectStore::Pithos(p) => p.delete(loc, token).await,
        }
    }

    /// The catalogue did not record the placed data: what was at its
    /// location before is put back (nothing, for a new image; a Pithos
    /// object is deleted, a failure to is logged).
    pub(crate) async fn undo(&self, placed: Placed) -> Result<(), StoreError> {
        match placed.undo {
            Undo::Journal(journal, _) => {
                blocking(move || journal.undo().map_err(write_error)).await
            }
            Undo::InPithos { location, token } => {
                if let ObjectStore::Pithos(p) = self {
                    p.delete(&location, &token).await;
                }
                Ok(())
            }
        }
    }

    /// Settles what crashes left in staging (`fs` only; see
    /// `staging::recover`), asking `recorded` what the catalogue remembers
    /// of a key; without it, placements are left for the next start.
    /// Blocking.
    pub(crate) fn recover(
        &self,
        recorded: Option<staging::Recorded<'_>>,
    ) -> std::io::Result<Option<staging::Recovered>> {
        match self {
            ObjectStore::Fs(fs) => fs.recover(recorded),
            ObjectStore::Pithos(_) => Ok(None),
        }
    }

    /// Bytes the account keeps in the store (`fs` only; 0 for Pithos, whose
    /// quota is its own).
    pub(crate) async fn usage(&self, account: &str) -> Result<u64, StoreError> {
        match self {
            ObjectStore::Fs(fs) => {
                let (fs, account) = (Arc::clone(fs), account.to_string());
                blocking(move || fs.usage(&account)).await
            }
            ObjectStore::Pithos(_) => Ok(0),
        }
    }

    /// Whether changes of members and publicity must be carried to the store.
    pub(crate) fn syncs_sharing(&self) -> bool {
        match self {
            ObjectStore::Fs(_) => false,
            ObjectStore::Pithos(p) => p.syncs_sharing(),
        }
    }

    /// Sets who may read the object at `loc` (the owner's token).
    pub(crate) async fn set_readers(
        &self,
        loc: &Location,
        readers: &Readers,
        token: &str,
    ) -> Result<(), StoreError> {
        match self {
            ObjectStore::Fs(_) => Ok(()),
            ObjectStore::Pithos(p) => p.set_readers(loc, readers, token).await,
        }
    }

    /// Reads the object at `loc` through and hashes it, trusting no cache;
    /// `Ok(None)` if it is gone. Blocking (for `plankton check`).
    pub(crate) fn rehash(&self, loc: &Location) -> Result<Option<ObjectInfo>, StoreError> {
        match self {
            ObjectStore::Fs(fs) => fs.rehash(loc),
            ObjectStore::Pithos(_) => Err(StoreError::Unsupported(
                "re-reading objects in Pithos is not available in this version",
            )),
        }
    }
}

impl Received {
    fn staged(staged: staging::Finished, used: Option<blocks::Used>) -> Received {
        let info = ObjectInfo {
            size: staged.size,
            checksum: staged.pithos_hash.clone(),
            md5: staged.md5.clone(),
        };
        Received {
            info,
            held: Held::Staged(staged, used),
        }
    }

    /// The hash of each block of the data, in order, where they were
    /// computed as it was received (an `fs` write of a body); empty else.
    pub(crate) fn block_hashes(&self) -> &[String] {
        match &self.held {
            Held::Staged(staged, _) => &staged.blocks,
            Held::InPithos { .. } => &[],
        }
    }

    /// The `os_hash`, where asked for: computed as the data streamed in,
    /// in either store.
    pub(crate) fn os_hash(&self) -> Option<OsHash> {
        match &self.held {
            Held::Staged(staged, _) => staged.os_hash.as_ref().map(stored_os_hash),
            Held::InPithos { os_hash, .. } => os_hash.clone(),
        }
    }

    /// Gives the data its MD5, known from elsewhere (an object of the same
    /// Pithos hash and size: the same bytes).
    pub(crate) fn know_md5(&mut self, md5: String) {
        if let Held::Staged(staged, _) = &mut self.held {
            staged.md5 = Some(md5.clone());
        }
        self.info.md5 = Some(md5);
    }

    /// Computes the MD5 of staged data whose MD5 is owed. Blocking.
    pub(crate) fn md5_now(&mut self) -> Result<(), StoreError> {
        if let Held::Staged(staged, _) = &mut self.held {
            staged.md5_now().map_err(write_error)?;
            self.info.md5.clone_from(&staged.md5);
        }
        Ok(())
    }
}

/// Runs blocking file work off the async workers: the one way the store
/// and the registry reach the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    actix_web::web::block(f)
        .await
        .map_err(|e| StoreError::Io(format!("blocking pool: {e}")))?
}

/// The `os_hash` as the catalogue keeps it: the algorithm by its name, so
/// a stored value keeps it when the setting changes.
fn stored_os_hash(h: &crate::backends::hash::OsHash) -> OsHash {
    OsHash {
        algo: h.algo.as_str().to_string(),
        value: h.value.clone(),
    }
}
