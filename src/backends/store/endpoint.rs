//! The object-store endpoint's file work (docs/api.md §14), done by the
//! `fs` store alone: Pithos answers `Unsupported` (the endpoint is not
//! served there), so the endpoint reaches files only through the enum.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use super::blocks::{Blocks, Used};
use super::objects::{object_key, FileInfo};
use super::staging::{Finished, Staged};
use super::{blocking, write_error, FsStore, ObjectRead, ObjectStore, Received, StoreError};
use crate::domain::location::Location;
use crate::domain::objects::hashmap::Hashmap;
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
}

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

    /// Stores the body's blocks (at most `limit` bytes) and answers their
    /// hashes in order; a failed upload leaves none of the blocks it made.
    pub(crate) async fn store_blocks<S, E>(
        &self,
        body: S,
        limit: u64,
    ) -> Result<Vec<String>, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let fs = self.endpoint()?;
        let blocks = Arc::clone(fs.blocks()?);
        let (hashes, _made) = blocks.receive(body, limit).await?;
        let _ = blocking(move || {
            blocks.sweep_now_and_then();
            Ok(())
        })
        .await;
        Ok(hashes)
    }

    /// Assembles the object `loc` from the uploaded blocks of `map` into
    /// staging. Its blocks are reserved for it first (an object another
    /// upload finishes meanwhile leaves them), and held until the object
    /// is kept (`ObjectStore::keep`).
    pub(crate) async fn assemble(
        &self,
        loc: &Location,
        map: Hashmap,
    ) -> Result<Assembled, StoreError> {
        let fs = self.endpoint()?;
        let blocks = Arc::clone(fs.blocks()?);
        let key = object_key(loc);
        blocks.reserve(&key, &map.hashes);
        let map = Arc::new(map);
        let missing =
            |b: Arc<Blocks>, m: Arc<Hashmap>| blocking(move || Ok(m.missing(|h| b.has(h))));
        let gone = missing(Arc::clone(&blocks), Arc::clone(&map)).await?;
        if !gone.is_empty() {
            return Ok(Assembled::Missing(gone));
        }
        let pinned = blocks.pin(&map.hashes);
        let (b, m) = (Arc::clone(&blocks), Arc::clone(&map));
        match blocking(move || assemble(&fs, &b, &m)).await? {
            Some(staged) => Ok(Assembled::Made(Received::staged(
                staged,
                Some(Used::new(pinned, key)),
            ))),
            None => Ok(Assembled::Missing(missing(blocks, map).await?)),
        }
    }
}

/// Writes a hashmap's blocks into staging: each block padded with NULs to
/// its slot, the last cut at the size. `None` if a block went missing meanwhile.
fn assemble(fs: &FsStore, blocks: &Blocks, map: &Hashmap) -> Result<Option<Finished>, StoreError> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let mut staged = Staged::new(fs.root()).map_err(write_error)?;
    for (i, hash) in map.hashes.iter().enumerate() {
        let Some(data) = blocks.read(hash) else {
            return Ok(None);
        };
        let slot = map.slot(i) as usize;
        let take = data.len().min(slot);
        staged.write(&data[..take]).map_err(write_error)?;
        let mut pad = slot - take;
        while pad > 0 {
            let n = pad.min(ZEROS.len());
            staged.write(&ZEROS[..n]).map_err(write_error)?;
            pad -= n;
        }
    }
    staged.finish().map(Some).map_err(write_error)
}
