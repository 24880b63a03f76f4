//! Writing objects through the object-store endpoint (docs/api.md §14):
//! a `PUT` of the data, or of a hashmap whose blocks were uploaded before.
//! All or nothing: the data goes to a staging file no location reaches
//! (`backends::store::staging`, named by a fresh UUID, which no image has,
//! so a restart removes it), is synced and checked, and only then is
//! renamed into place; the catalogue row follows in one transaction, and
//! if it fails the file replaced (kept aside until then) is put back.

use std::path::PathBuf;
use std::sync::Arc;

use super::containers::Body;
use super::objects::{blocking, check_owner, precondition_failed};
use super::Registry;
use crate::backends::store::blocks::Blocks;
use crate::backends::store::objects::object_key;
use crate::backends::store::staging::{Finished, Staged};
use crate::backends::store::{write_error, FsStore, StoreError};
use crate::domain::location::Location;
use crate::domain::object::CachedHash;
use crate::domain::objects::conditions::{Preconditions, Verdict};
use crate::domain::objects::hashmap::Hashmap;
use crate::domain::objects::{MetaChange, ObjectMeta, MAX_META};
use crate::domain::time::now_micros;
use crate::domain::user::Caller;
use crate::error::AppError;

/// The largest hashmap body: enough for a 1 TiB object's 262144 hashes.
pub(crate) const MAX_HASHMAP_BODY: usize = 32 << 20;

/// What a `PUT` says of the object besides its data.
pub(crate) struct PutObject {
    /// Its content type, as sent.
    pub(crate) content_type: String,
    /// Its sharing, publicity and `X-Object-Meta-*` (replacing the old ones).
    pub(crate) change: MetaChange,
    /// The MD5 the data must have.
    pub(crate) etag: Option<String>,
    /// `If-Match`, `If-None-Match`.
    pub(crate) pre: Preconditions,
    /// The body's `Content-Length`, where it was sent.
    pub(crate) length: Option<u64>,
}

/// An object written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// The MD5 of its data.
    pub(crate) md5: String,
    /// Its new version.
    pub(crate) version: u64,
}

/// What an account may still write, under `store.quota`.
#[derive(Debug, Clone, Copy)]
struct Room {
    /// The quota.
    quota: u64,
    /// The bytes left of it for this write.
    left: u64,
}

impl Room {
    /// The 413 of a body that grew past what is left.
    fn refusal(self) -> AppError {
        AppError::OverLimit(format!(
            "Quota exceeded: the data passes the {} bytes left of the account's {} (store.quota)",
            self.left, self.quota
        ))
    }

    /// 413 if `bytes` do not fit.
    fn check(self, bytes: u64) -> Result<(), AppError> {
        if bytes > self.left {
            Err(AppError::OverLimit(format!(
                "Quota exceeded: {bytes} bytes do not fit in the {} left of the account's {} (store.quota)",
                self.left, self.quota
            )))
        } else {
            Ok(())
        }
    }
}

/// Streams `body` into a new staging file of `fs` (named by a fresh UUID),
/// synced at the end; 413 (and nothing kept) as soon as it passes `room`.
async fn stage(fs: &FsStore, body: Body, room: Option<Room>) -> Result<Finished, AppError> {
    let name = uuid::Uuid::new_v4().to_string();
    let limit = room.map_or(u64::MAX, |r| r.left);
    fs.receive(&name, body, limit)
        .await
        .map_err(|e| match (e, room) {
            (StoreError::PastLimit { .. }, Some(room)) => room.refusal(),
            // The body's own error says what went wrong with it.
            (StoreError::Cut(why), _) => AppError::invalid(why),
            (e, _) => e.into(),
        })
}

/// Assembles a hashmap's blocks into a staging file: each block padded
/// with NULs to its slot, the last cut at the size. `None` if a block went
/// missing meanwhile.
fn assemble(
    root: &std::path::Path,
    blocks: &Blocks,
    map: &Hashmap,
) -> Result<Option<Finished>, StoreError> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let name = uuid::Uuid::new_v4().to_string();
    let mut staged = Staged::named(root, &name).map_err(write_error)?;
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

impl Registry {
    /// Checks everything that refuses a write before its data is read:
    /// the account, the container, the way to the file, the preconditions.
    async fn before_write(
        &self,
        caller: &Caller,
        loc: &Location,
        put: &PutObject,
    ) -> Result<PathBuf, AppError> {
        check_owner(caller, loc.account())?;
        if put.change.meta.len() > MAX_META {
            return Err(AppError::OverLimit(format!(
                "An object holds at most {MAX_META} X-Object-Meta-* keys"
            )));
        }
        self.own_container(caller, loc.account(), loc.container())
            .await?;
        let (fs, _) = self.object_store()?;
        let l = loc.clone();
        let dest = blocking(move || fs.object_destination(&l)).await?;
        self.check_write(caller, loc, &put.pre).await?;
        Ok(dest)
    }

    /// What the caller's quota leaves for writing `loc` (the object there
    /// now, which the write replaces, counted as free); `None` without a quota.
    async fn room(&self, caller: &Caller, loc: &Location) -> Result<Option<Room>, AppError> {
        let quota = self.object_quota();
        if quota == 0 {
            return Ok(None);
        }
        let (fs, _) = self.object_store()?;
        let (who, l) = (caller.id().to_string(), loc.clone());
        let (used, replaced) = blocking(move || {
            let replaced = fs.object_file(&l)?.map_or(0, |(_, info)| info.size);
            Ok((fs.usage(&who)?, replaced))
        })
        .await?;
        Ok(Some(Room {
            quota,
            left: quota.saturating_sub(used.saturating_sub(replaced)),
        }))
    }

    /// The preconditions of a write against the object there now.
    async fn check_write(
        &self,
        caller: &Caller,
        loc: &Location,
        pre: &Preconditions,
    ) -> Result<(), AppError> {
        if pre.if_match.is_none() && pre.if_none_match.is_none() {
            return Ok(());
        }
        let (fs, _) = self.object_store()?;
        let l = loc.clone();
        let exists = blocking(move || fs.object_file(&l)).await?.is_some();
        let by_value = pre
            .if_match
            .iter()
            .chain(&pre.if_none_match)
            .flatten()
            .any(|t| t != "*");
        let current = match (exists, by_value) {
            (false, _) => None,
            (true, false) => Some(String::new()),
            (true, true) => Some(self.object(caller, loc).await?.md5().to_string()),
        };
        match pre.for_write(current.as_deref()) {
            Verdict::Failed => Err(precondition_failed(loc)),
            _ => Ok(()),
        }
    }

    /// `PUT` of an object's data: streamed to staging, checked against
    /// `ETag`, then put in place.
    pub(crate) async fn put_object(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        body: Body,
    ) -> Result<Written, AppError> {
        let dest = self.before_write(caller, loc, &put).await?;
        let _in_flight = self.metrics.upload_started();
        let room = self.room(caller, loc).await?;
        if let (Some(room), Some(n)) = (room, put.length) {
            room.check(n)?;
        }
        let (fs, _) = self.object_store()?;
        let finished = stage(&fs, body, room).await?;
        self.commit(caller, loc, put, dest, finished).await
    }

    /// `PUT` of a hashmap: the object made of known blocks, or (the inner
    /// `Err`) the hashes of the blocks missing, each once in order of first use.
    pub(crate) async fn put_hashmap(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        map: Hashmap,
    ) -> Result<Result<Written, Vec<String>>, AppError> {
        let dest = self.before_write(caller, loc, &put).await?;
        if let Some(room) = self.room(caller, loc).await? {
            room.check(map.bytes)?;
        }
        let (fs, blocks) = self.object_store()?;
        let key = object_key(loc);
        // Reserved before they are looked for: an object another upload
        // finishes meanwhile leaves them for this one.
        blocks.reserve(&key, &map.hashes);
        let map = Arc::new(map);
        let (b, m) = (blocks.clone(), map.clone());
        let missing = blocking(move || Ok(m.missing(|h| b.has(h)))).await?;
        if !missing.is_empty() {
            return Ok(Err(missing));
        }
        let pinned = blocks.pin(&map.hashes);
        let (b, m, root) = (blocks.clone(), map.clone(), fs.root().to_path_buf());
        let Some(finished) = blocking(move || assemble(&root, &b, &m)).await? else {
            let (b, m) = (blocks.clone(), map.clone());
            return Ok(Err(blocking(move || Ok(m.missing(|h| b.has(h)))).await?));
        };
        let written = self.commit(caller, loc, put, dest, finished).await?;
        let _ = actix_web::web::block(move || pinned.consume(&key)).await;
        Ok(Ok(written))
    }

    /// Puts finished data in place and records it: the `ETag`, then (in the
    /// object's turn) the preconditions again, the rename, the catalogue row.
    async fn commit(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        dest: PathBuf,
        finished: Finished,
    ) -> Result<Written, AppError> {
        if let Some(etag) = &put.etag {
            if *etag != finished.md5 {
                return Err(AppError::Unprocessable(format!(
                    "ETag '{etag}' does not match the MD5 of the data received, {}",
                    finished.md5
                )));
            }
        }
        let _turn = self.locks.lock(&loc.canonical()).await;
        self.check_write(caller, loc, &put.pre).await?;
        let key = object_key(loc);
        let old = self.db.read(|tx| Ok(tx.object_meta(&key)?)).await?;
        let (fs, _) = self.object_store()?;
        let (l, f) = (loc.clone(), fs.clone());
        let existed = blocking(move || f.object_file(&l)).await?.is_some();
        let version = old
            .as_ref()
            .map_or(if existed { 2 } else { 1 }, |m| m.version + 1);
        let mut meta = old.unwrap_or_else(|| ObjectMeta::unrecorded(loc.account(), now_micros()));
        meta.content_type = put.content_type;
        put.change.apply(&mut meta)?;
        meta.version = version;
        meta.modified_by = caller.id().to_string();
        meta.modified_at = now_micros();
        let (md5, pithos, size) = (
            finished.md5.clone(),
            finished.pithos_hash.clone(),
            finished.size,
        );
        // All or nothing: the file replaced is kept aside until the
        // catalogue row is committed, and put back if it is not.
        let (f, d) = (fs.clone(), dest.clone());
        let (previous, info) = blocking(move || {
            let previous = f.keep_previous(&d)?;
            if let Err(e) = finished.commit(&d) {
                f.drop_previous(previous);
                return Err(write_error(e));
            }
            let info = f.written(&d);
            Ok((previous, info))
        })
        .await?;
        let recorded = match info.map_err(super::objects::store_error) {
            Ok(info) if info.size != size => Err(AppError::internal(format!(
                "{key}: {} bytes in place after {size} were staged",
                info.size
            ))),
            Ok(info) => {
                let remembered = CachedHash {
                    path: key.clone(),
                    size: info.size,
                    mtime_ns: info.mtime_ns,
                    checksum: pithos,
                    md5: md5.clone(),
                };
                self.db
                    .write(move |tx| {
                        tx.put_object_meta(&key, &meta)?;
                        Ok(tx.remember_hash(&remembered)?)
                    })
                    .await
            }
            Err(e) => Err(e),
        };
        let l = loc.clone();
        match recorded {
            Ok(()) => {
                let _ = blocking(move || {
                    fs.drop_previous(previous);
                    Ok(())
                })
                .await;
                Ok(Written { md5, version })
            }
            Err(e) => {
                if let Err(undo) = blocking(move || fs.undo_write(&l, &dest, previous)).await {
                    log::error!(
                        "{}: the write could not be undone after it failed ({e}): {undo}",
                        loc.canonical()
                    );
                }
                Err(e)
            }
        }
    }
}
