//! Writing objects through the object-store endpoint (docs/api.md §14):
//! a `PUT` of the data, or of a hashmap whose blocks were uploaded before.
//! All or nothing, by the one crash protocol of every write of data
//! (docs/behaviour.md, "Crash protocol"): the store receives the data where
//! no location reaches it, and it is checked, placed, then recorded in one
//! transaction; if the record fails, the placement is undone.

use super::containers::Body;
use super::objects::{check_owner, precondition_failed, store_error};
use super::Registry;
use std::collections::HashMap;
use std::sync::Arc;

use crate::backends::store::{
    object_key, Ask, Assembled, Claim, FileInfo, KnownBlocks, Received, StoreError,
};
use crate::db::error::DbError;
use crate::db::Tx;
use crate::domain::location::Location;
use crate::domain::object::CachedHash;
use crate::domain::objects::conditions::{Preconditions, Verdict};
use crate::domain::objects::hashmap::Hashmap;
use crate::domain::objects::{MetaChange, ObjectMeta, MAX_META};
use crate::domain::time::now_micros;
use crate::domain::user::Caller;
use crate::error::AppError;

/// The block hashes to index for an object assembled from `hashes`: those,
/// unless a slot cut its block short, which made the object's hash differ
/// from the map's (then none: the blocks as written are not known).
fn index_of(hashes: Vec<String>, received: &Received) -> Vec<String> {
    if received.info.checksum == crate::backends::hash::pithos_hash_of(&hashes) {
        hashes
    } else {
        Vec::new()
    }
}

/// Step 4 of an object write (docs/behaviour.md, "Crash protocol"): its
/// metadata, the hash of its file, and its blocks' index entries (the old
/// ones replaced; none when the file's hash is not at hand).
async fn record(
    tx: &Tx<'_>,
    key: &str,
    meta: &ObjectMeta,
    file: Option<&CachedHash>,
    index: &[String],
) -> Result<(), DbError> {
    tx.put_object_meta(key, meta).await?;
    match file {
        Some(h) => {
            tx.remember_hash(h).await?;
            tx.index_blocks(key, h.size, h.mtime_ns, index).await
        }
        None => tx.forget_blocks(key).await,
    }
}

/// The remembered MD5 of an object with the Pithos hash and size of
/// `info`: that of `key` (a re-upload to the same name), or of an object
/// holding the first block of the same hash at its start.
async fn md5_of_same(
    tx: &Tx<'_>,
    key: &str,
    info: &crate::domain::object::ObjectInfo,
    first: &str,
) -> Result<Option<String>, DbError> {
    let same =
        |h: &CachedHash| h.checksum == info.checksum && h.size == info.size && !h.md5.is_empty();
    if let Some(h) = tx.cached_hash(key).await?.filter(same) {
        return Ok(Some(h.md5));
    }
    for s in tx.block_sources(&[first.to_string()]).await? {
        if s.offset == 0 && s.size == info.size {
            if let Some(h) = tx.cached_hash(&s.path).await?.filter(same) {
                return Ok(Some(h.md5));
            }
        }
    }
    Ok(None)
}

/// The recorded objects other than `key` with the Pithos hash and size of
/// a hashmap (`checksum`, `size`) whose first block (`first`) is at their
/// start, with their files as recorded: the same bytes (a few at most).
async fn same_objects(
    tx: &Tx<'_>,
    key: &str,
    (checksum, size): (&str, u64),
    first: &str,
) -> Result<Vec<CachedHash>, DbError> {
    let mut out: Vec<CachedHash> = Vec::new();
    for s in tx.block_sources(&[first.to_string()]).await? {
        let fits = s.offset == 0 && s.size == size && s.path != key;
        if !fits || out.iter().any(|h| h.path == s.path) || out.len() == 8 {
            continue;
        }
        let same =
            |h: &CachedHash| h.checksum == checksum && (h.size, h.mtime_ns) == (s.size, s.mtime_ns);
        if let Some(h) = tx.cached_hash(&s.path).await?.filter(same) {
            out.push(h);
        }
    }
    Ok(out)
}

/// Records the owed MD5 of `h`'s object, if the catalogue still has that
/// file (its size, mtime and Pithos hash) with its MD5 owed.
async fn remember_owed(tx: &Tx<'_>, h: &CachedHash) -> Result<(), DbError> {
    let owed = tx.cached_hash(&h.path).await?.is_some_and(|now| {
        (now.size, now.mtime_ns, &now.checksum) == (h.size, h.mtime_ns, &h.checksum)
            && now.md5.is_empty()
    });
    if owed {
        tx.remember_hash(h).await?;
    }
    Ok(())
}

/// The MD5 of nothing: an empty object's, a directory object's.
const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

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
    /// Whether `Content-Type` was sent (a copy keeps its source's if not).
    pub(crate) typed: bool,
}

impl PutObject {
    /// The same request again, for the next object of a directory copy.
    fn again(&self) -> PutObject {
        PutObject {
            content_type: self.content_type.clone(),
            change: self.change.clone(),
            etag: None,
            pre: Preconditions::default(),
            length: None,
            typed: self.typed,
        }
    }
}

/// What a copy's object takes from its source: its `X-Object-Meta-*`,
/// and for a move its UUID.
type Inherited = (std::collections::BTreeMap<String, String>, Option<String>);

/// Where a copy or move (`X-Copy-From`, `X-Move-From`) takes its object.
pub(crate) struct CopyFrom {
    /// The source object.
    pub(crate) source: Location,
    /// A move: the source goes once the copy is recorded.
    pub(crate) moving: bool,
    /// With `delimiter`: a directory and every object under it.
    pub(crate) tree: bool,
}

/// An object written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// The MD5 of its data; `None` where it is owed (a hashmap `PUT` of
    /// blocks the server had: computed after the answer, docs/behaviour.md
    /// "Known blocks"), and the 201 carries no `ETag`, as Pithos's does not
    /// when it has no MD5.
    pub(crate) md5: Option<String>,
    /// Its new version.
    pub(crate) version: u64,
}

/// What an account may still write, under `store.quota`: the space this
/// write claimed, held until it ends.
#[derive(Debug)]
pub(crate) struct Room {
    /// The quota.
    quota: u64,
    /// The claim (its `left`: the bytes this write may write).
    claim: Claim,
}

impl Room {
    /// The bytes this write may write.
    pub(crate) fn left(&self) -> u64 {
        self.claim.left
    }

    /// The 413 of a body that grew past what is left.
    pub(crate) fn refusal(&self) -> AppError {
        AppError::OverLimit(format!(
            "Quota exceeded: the data passes the {} bytes left of the account's {} (store.quota)",
            self.left(),
            self.quota
        ))
    }
}

/// The 413 of `bytes` that do not fit in what is `left`.
fn over_quota(bytes: u64, left: u64, quota: u64) -> AppError {
    AppError::OverLimit(format!(
        "Quota exceeded: {bytes} bytes do not fit in the {left} left of the account's {quota} (store.quota)"
    ))
}

impl Registry {
    /// The checks of every object write, file or directory: the caller's
    /// own account, at most `MAX_META` metadata keys, a container of theirs.
    async fn may_write_in(
        &self,
        caller: &Caller,
        loc: &Location,
        put: &PutObject,
    ) -> Result<(), AppError> {
        check_owner(caller, loc.account())?;
        if put.change.meta.len() > MAX_META {
            return Err(AppError::OverLimit(format!(
                "An object holds at most {MAX_META} X-Object-Meta-* keys"
            )));
        }
        self.own_container(caller, loc.account(), loc.container())
            .await
    }

    /// Checks everything that refuses a write before its data is read:
    /// the account, the container, the way to the file, the preconditions.
    async fn before_write(
        &self,
        caller: &Caller,
        loc: &Location,
        put: &PutObject,
    ) -> Result<(), AppError> {
        self.may_write_in(caller, loc, put).await?;
        self.store
            .check_destination(loc)
            .await
            .map_err(store_error)?;
        self.check_write(caller, loc, &put.pre).await
    }

    /// Claims the space of a write under the caller's quota (413 when
    /// `need` does not fit): the object at `loc` now, which the write
    /// replaces, counts as free, and so do the uploaded blocks it
    /// `consumes`; an unknown `need` claims all that is left. `None`
    /// without a quota.
    pub(crate) async fn room(
        &self,
        caller: &Caller,
        loc: Option<&Location>,
        need: Option<u64>,
        consumes: Vec<String>,
    ) -> Result<Option<Room>, AppError> {
        let quota = self.object_quota();
        if quota == 0 {
            return Ok(None);
        }
        let replaced = match loc {
            Some(loc) => self.object_info(loc).await?.map_or(0, |info| info.size),
            None => 0,
        };
        let ask = Ask {
            account: caller.id().to_string(),
            quota,
            replaced,
            need,
            consumes,
        };
        match self.store.claim_space(ask).await.map_err(store_error)? {
            Ok(claim) => Ok(Some(Room { quota, claim })),
            Err(left) => Err(over_quota(need.unwrap_or(0), left, quota)),
        }
    }

    /// The file info of the object at `loc`, if there is one.
    async fn object_info(&self, loc: &Location) -> Result<Option<FileInfo>, AppError> {
        self.store.object_info(loc).await.map_err(store_error)
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
        let exists = self.object_info(loc).await?.is_some();
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

    /// `PUT` of an object's data: received into staging (413, and nothing
    /// kept, as soon as it passes the quota), checked against `ETag`, then
    /// put in place.
    pub(crate) async fn put_object(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        body: Body,
    ) -> Result<Written, AppError> {
        self.before_write(caller, loc, &put).await?;
        let _in_flight = self.metrics.upload_started();
        let room = self.room(caller, Some(loc), put.length, Vec::new()).await?;
        let limit = room.as_ref().map_or(u64::MAX, Room::left);
        let received =
            self.store
                .receive_object(body, limit)
                .await
                .map_err(|e| match (e, &room) {
                    (StoreError::PastLimit { .. }, Some(room)) => room.refusal(),
                    // The body's own error says what went wrong with it.
                    (StoreError::Cut(why), _) => AppError::invalid(why),
                    (e, _) => store_error(e),
                })?;
        self.commit(caller, loc, put, received).await
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
        if map.bytes > self.limits.max_image_size {
            return Err(AppError::OverLimit(format!(
                "A hashmap names {} bytes: an object may have at most {} (limits.max_image_size)",
                map.bytes, self.limits.max_image_size
            )));
        }
        self.before_write(caller, loc, &put).await?;
        let _room = self
            .room(caller, Some(loc), Some(map.bytes), map.hashes.clone())
            .await?;
        let put = match self.same_again(caller, loc, put, &map).await? {
            Ok(written) => return Ok(Ok(written)),
            Err(put) => put,
        };
        if let Some(received) = self.linked_same(caller, loc, &map).await? {
            let first = map.hashes.first().cloned();
            let received = self.with_md5(loc, received, first, put.etag.is_some());
            let received = received.await?;
            let index = index_of(map.hashes, &received);
            let written = self.commit_as(caller, loc, put, received, None, index);
            return Ok(Ok(written.await?));
        }
        loop {
            let known = self.known_blocks(caller, &map).await?;
            let assembled = self.store.assemble(loc, map.clone(), known);
            match assembled.await.map_err(store_error)? {
                Assembled::Missing(missing) => return Ok(Err(missing)),
                Assembled::Made(received) => {
                    let first = map.hashes.first().cloned();
                    let etag = put.etag.is_some();
                    let received = self.with_md5(loc, received, first, etag).await?;
                    let index = index_of(map.hashes, &received);
                    let written = self.commit_as(caller, loc, put, received, None, index);
                    return Ok(Ok(written.await?));
                }
                Assembled::Stale(at) => {
                    // Its file changed behind the catalogue: its entries go,
                    // and the blocks are looked for again without them.
                    let key = object_key(&at);
                    log::info!("{key} changed since it was recorded: its blocks are forgotten");
                    self.db
                        .write(async move |tx| Ok(tx.forget_blocks(&key).await?))
                        .await?;
                }
            }
        }
    }

    /// A hashmap `PUT` of the very bytes the object has (its Pithos hash
    /// and size, the file unchanged since they were recorded): a new
    /// version of its metadata alone, with no byte written or synced, and
    /// the file's `Last-Modified` kept (its bytes did not change). kamaki
    /// sends that to resume or repeat an upload (`file upload -f`). The
    /// request back (`Err`) where the bytes differ.
    async fn same_again(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        map: &Hashmap,
    ) -> Result<Result<Written, PutObject>, AppError> {
        let key = object_key(loc);
        let Some(info) = self.object_info(loc).await? else {
            return Ok(Err(put));
        };
        let k = key.clone();
        let hit = self
            .db
            .read(async move |tx| Ok(tx.cached_hash(&k).await?))
            .await?;
        let same = hit.filter(|h| {
            (h.size, h.mtime_ns) == (info.size, info.mtime_ns)
                && h.size == map.bytes
                && h.checksum == crate::backends::hash::pithos_hash_of(&map.hashes)
        });
        let Some(hit) = same else {
            return Ok(Err(put));
        };
        let md5 = match (hit.md5.is_empty(), &put.etag) {
            (false, _) => Some(hit.md5),
            (true, Some(_)) => Some(self.store.md5_of(&key, info).await.map_err(store_error)?),
            (true, None) => None,
        };
        if let (Some(etag), Some(md5)) = (&put.etag, &md5) {
            if etag != md5 {
                return Err(AppError::Unprocessable(format!(
                    "ETag '{etag}' does not match the MD5 of the data, {md5}"
                )));
            }
        }
        let _turn = self.turn(&loc.canonical()).await?;
        self.check_write(caller, loc, &put.pre).await?;
        if self.object_info(loc).await? != Some(info) {
            // Changed meanwhile: written as any other.
            return Ok(Err(put));
        }
        let meta = self.next_meta(caller, loc, &key, put, None).await?;
        let version = meta.version;
        self.db
            .write(async move |tx| Ok(tx.put_object_meta(&key, &meta).await?))
            .await?;
        Ok(Ok(Written { md5, version }))
    }

    /// The object a hashmap names as a hard link of an object `caller` may
    /// read that holds the same bytes (see `ObjectStore::link_same`), where
    /// there is one; `None` to assemble it.
    async fn linked_same(
        &self,
        caller: &Caller,
        loc: &Location,
        map: &Hashmap,
    ) -> Result<Option<Received>, AppError> {
        let Some(first) = map.hashes.first().cloned() else {
            return Ok(None);
        };
        let checksum = crate::backends::hash::pithos_hash_of(&map.hashes);
        let (key, c, size) = (object_key(loc), checksum.clone(), map.bytes);
        let found = self
            .db
            .read(async move |tx| Ok(same_objects(tx, &key, (&c, size), &first).await?))
            .await?;
        for h in found {
            let Some(at) = self.readable_at(caller, &h.path).await else {
                continue;
            };
            let seen = FileInfo {
                size: h.size,
                mtime_ns: h.mtime_ns,
            };
            let md5 = (!h.md5.is_empty()).then_some(h.md5);
            let hashes = (checksum.clone(), md5);
            let linked = self.store.link_same((loc, &at), seen, hashes).await;
            if let Some(received) = linked.map_err(store_error)? {
                return Ok(Some(received));
            }
        }
        Ok(None)
    }

    /// An assembly's data with its MD5 where it can be had without reading
    /// it: an object of the same Pithos hash and size has the same bytes
    /// (the hash names every block, and the size where the last is cut),
    /// so a remembered MD5 of one (this name's, or an object's that holds
    /// the first block at its start) is this one's. Else it stays owed,
    /// unless the request sent an `ETag` to check (`etag`): then it is
    /// read through now.
    async fn with_md5(
        &self,
        loc: &Location,
        mut received: Received,
        first: Option<String>,
        etag: bool,
    ) -> Result<Received, AppError> {
        if received.info.md5.is_some() {
            return Ok(received);
        }
        let (key, info) = (object_key(loc), received.info.clone());
        let known = match first {
            None => Some(EMPTY_MD5.to_string()),
            Some(first) => {
                self.db
                    .read(async move |tx| Ok(md5_of_same(tx, &key, &info, &first).await?))
                    .await?
            }
        };
        match known {
            Some(md5) => received.know_md5(md5),
            None if etag => received = self.store.md5_now(received).await.map_err(store_error)?,
            None => {}
        }
        Ok(received)
    }

    /// Computes the owed MD5 of the object just written as `file` after
    /// the answer, off the request, and records it unless the object
    /// changed meanwhile; a read that needs it first computes it instead,
    /// and this one then takes that one's (`ObjectStore::md5_of`). A
    /// failure leaves it owed: the next read computes it.
    fn md5_later(&self, file: CachedHash) {
        let (store, db) = (Arc::clone(&self.store), self.db.clone());
        let info = FileInfo {
            size: file.size,
            mtime_ns: file.mtime_ns,
        };
        store.owe_md5(&file.path, info);
        actix_web::rt::spawn(async move {
            match store.md5_of(&file.path, info).await {
                Ok(md5) => {
                    let done = CachedHash {
                        md5,
                        ..file.clone()
                    };
                    let recorded = db
                        .write(async move |tx| Ok(remember_owed(tx, &done).await?))
                        .await;
                    if let Err(e) = recorded {
                        log::warn!("{}: its MD5 could not be recorded: {e}", file.path);
                    }
                }
                Err(e) => log::info!("{}: its MD5 is left for a read: {e}", file.path),
            }
            store.md5_settled(&file.path, info);
        });
    }

    /// Where the blocks of `map` are known to be, in objects `caller` may
    /// read (its own, shared with it, or public): the first readable place
    /// of each hash the index has.
    async fn known_blocks(&self, caller: &Caller, map: &Hashmap) -> Result<KnownBlocks, AppError> {
        let hashes = map.hashes.clone();
        let sources = self
            .db
            .read(async move |tx| Ok(tx.block_sources(&hashes).await?))
            .await?;
        let mut readable: HashMap<String, Option<Location>> = HashMap::new();
        let mut known = KnownBlocks::new();
        for s in sources {
            if known.contains_key(&s.hash) {
                continue;
            }
            if !readable.contains_key(&s.path) {
                let at = self.readable_at(caller, &s.path).await;
                readable.insert(s.path.clone(), at);
            }
            if let Some(Some(at)) = readable.get(&s.path) {
                let seen = FileInfo {
                    size: s.size,
                    mtime_ns: s.mtime_ns,
                };
                known.insert(s.hash, (at.clone(), s.offset, seen));
            }
        }
        Ok(known)
    }

    /// The location of the object at `key` if `caller` may read it.
    async fn readable_at(&self, caller: &Caller, key: &str) -> Option<Location> {
        let mut parts = key.splitn(3, '/');
        let (a, c, o) = (parts.next()?, parts.next()?, parts.next()?);
        let at = Location::of_decoded(a, c, o).ok()?;
        self.object(caller, &at).await.ok().map(|_| at)
    }

    /// Puts received data in place and records it, in the object's turn:
    /// the `ETag`, the preconditions again, the new metadata, the data at
    /// its location, then the catalogue row (docs/behaviour.md, "Crash
    /// protocol"); the data placed is undone if the row is not committed.
    async fn commit(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        received: Received,
    ) -> Result<Written, AppError> {
        let index = received.block_hashes().to_vec();
        self.commit_as(caller, loc, put, received, None, index)
            .await
    }

    /// `commit`, the new object inheriting a copy's source (see
    /// `Inherited`), its blocks' hashes (`index`, in order; empty when not
    /// known) recorded in the same transaction as the object
    /// (docs/behaviour.md, "Known blocks").
    async fn commit_as(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        received: Received,
        from: Option<Inherited>,
        index: Vec<String>,
    ) -> Result<Written, AppError> {
        let md5 = received.info.md5.clone();
        if let (Some(etag), Some(md5)) = (&put.etag, &md5) {
            if etag != md5 {
                return Err(AppError::Unprocessable(format!(
                    "ETag '{etag}' does not match the MD5 of the data received, {md5}"
                )));
            }
        }
        let _turn = self.turn(&loc.canonical()).await?;
        self.check_write(caller, loc, &put.pre).await?;
        let key = object_key(loc);
        let meta = self.next_meta(caller, loc, &key, put, from).await?;
        let version = meta.version;
        let placed = self
            .store
            .place(received, loc, true)
            .await
            .map_err(store_error)?;
        let remembered = placed.remember.clone();
        let owed = remembered.clone().filter(|h| h.md5.is_empty());
        let recorded = self
            .db
            .write(async move |tx| Ok(record(tx, &key, &meta, remembered.as_ref(), &index).await?))
            .await;
        self.settle(loc, placed, recorded).await?;
        if let Some(file) = owed {
            self.md5_later(file);
        }
        Ok(Written { md5, version })
    }

    /// The object's metadata after a write of it: the next version, the
    /// content type and the changes `put` makes (for a copy, over the
    /// source's `X-Object-Meta-*`).
    async fn next_meta(
        &self,
        caller: &Caller,
        loc: &Location,
        key: &str,
        mut put: PutObject,
        from: Option<Inherited>,
    ) -> Result<ObjectMeta, AppError> {
        let existed = self.object_info(loc).await?.is_some();
        // A row whose file is gone (removed by hand) is stale: the new
        // object must not inherit its sharing, metadata or version.
        let old = if existed {
            self.db
                .read(async |tx| Ok(tx.object_meta(key).await?))
                .await?
        } else {
            None
        };
        let version = old
            .as_ref()
            .map_or(if existed { 2 } else { 1 }, |m| m.version + 1);
        let mut meta = old.unwrap_or_else(|| ObjectMeta::unrecorded(loc.account(), now_micros()));
        meta.content_type = put.content_type;
        if let Some((source_meta, uuid)) = from {
            meta.meta = source_meta;
            put.change.merge = true;
            if let Some(uuid) = uuid {
                meta.uuid = uuid;
            }
        }
        put.change.apply(&mut meta)?;
        super::objects::settle_public(&mut meta);
        meta.version = version;
        if meta.uuid.is_empty() {
            meta.uuid = uuid::Uuid::new_v4().to_string();
        }
        meta.modified_by = caller.id().to_string();
        meta.modified_at = now_micros();
        Ok(meta)
    }

    /// `PUT` with `X-Copy-From` / `X-Move-From`: the source's data, content
    /// type and `X-Object-Meta-*` (each overridden by the request's) written
    /// at `loc` as any `PUT` is, all or nothing; then, for a move, the
    /// source deleted (a crash between leaves both: nothing is lost). The
    /// caller must read the source (moving: own it); a source that is the
    /// destination makes a new version.
    pub(crate) async fn copy_object(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        from: &CopyFrom,
    ) -> Result<Written, AppError> {
        if from.tree {
            return self.copy_tree(caller, loc, put, from).await;
        }
        self.copy_one(caller, loc, put, from).await
    }

    /// A copy (move) with `delimiter`: the source object if there is one,
    /// then every object under `<source>/` to the same name under
    /// `<loc>/`, each all or nothing by itself; the answer is the first's.
    async fn copy_tree(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        from: &CopyFrom,
    ) -> Result<Written, AppError> {
        let src = &from.source;
        let prefix = format!("{}/", src.object_path());
        let under: Vec<String> = self
            .container_objects(caller, src.account(), src.container())
            .await?
            .into_iter()
            .filter_map(|v| v.name.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let mut first = match self.copy_one(caller, loc, put.again(), from).await {
            Ok(w) => Some(w),
            Err(AppError::NotFound(_)) if !under.is_empty() => None,
            Err(e) => return Err(e),
        };
        for rest in under {
            let one = CopyFrom {
                source: Location::of_decoded(
                    src.account(),
                    src.container(),
                    &format!("{prefix}{rest}"),
                )?,
                moving: from.moving,
                tree: false,
            };
            let to = Location::of_decoded(
                loc.account(),
                loc.container(),
                &format!("{}/{rest}", loc.object_path()),
            )?;
            let w = self.copy_one(caller, &to, put.again(), &one).await?;
            first.get_or_insert(w);
        }
        first.ok_or_else(|| AppError::NotFound(format!("Object '{}' not found", src.canonical())))
    }

    /// One object copied (moved): see `copy_object`.
    async fn copy_one(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        from: &CopyFrom,
    ) -> Result<Written, AppError> {
        if from.moving {
            check_owner(caller, from.source.account())?;
        }
        let source = self.object(caller, &from.source).await?;
        if super::objects::is_directory_type(&source.meta.content_type) && source.info.size == 0 {
            return self.copy_directory(caller, loc, put, from, source).await;
        }
        self.before_write(caller, loc, &put).await?;
        let _in_flight = self.metrics.upload_started();
        let size = source.info.size;
        let room = self.room(caller, Some(loc), Some(size), Vec::new()).await?;
        let limit = room.as_ref().map_or(u64::MAX, Room::left);
        let received = self.receive_copy(&from.source, source.info, limit).await?;
        let put = PutObject {
            content_type: if put.typed {
                put.content_type
            } else {
                source.meta.content_type.clone()
            },
            ..put
        };
        let keep_uuid = (from.moving && from.source != *loc).then(|| source.meta.uuid.clone());
        let index = received.block_hashes().to_vec();
        let written = self
            .commit_as(
                caller,
                loc,
                put,
                received,
                Some((source.meta.meta, keep_uuid)),
                index,
            )
            .await?;
        if from.moving && from.source != *loc {
            match self.delete_object(caller, &from.source).await {
                Ok(()) | Err(AppError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }
}

impl Registry {
    /// The bytes of the copy's source, received into staging as a body
    /// would be; 409 if the source is not what was seen (`seen`).
    async fn receive_copy(
        &self,
        source: &Location,
        seen: FileInfo,
        limit: u64,
    ) -> Result<Received, AppError> {
        let (info, read) = self
            .store
            .read_object(source, None)
            .await
            .map_err(store_error)?
            .ok_or_else(|| changed(source))?;
        if info != seen {
            return Err(changed(source));
        }
        self.store
            .receive_object(read.body, limit)
            .await
            .map_err(|e| match e {
                StoreError::PastLimit { .. } | StoreError::Cut(_) => changed(source),
                e => store_error(e),
            })
    }

    /// A copy (move) of a directory object: a directory object at `loc`
    /// with the source's type (and, moving, the source deleted after).
    async fn copy_directory(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
        from: &CopyFrom,
        source: super::objects::ObjectView,
    ) -> Result<Written, AppError> {
        let put = PutObject {
            content_type: source.meta.content_type,
            ..put
        };
        let written = self.put_directory(caller, loc, put).await?;
        if from.moving && from.source != *loc {
            self.delete_object(caller, &from.source).await?;
        }
        Ok(written)
    }

    /// `PUT` of a directory object (`Content-Type: application/directory`
    /// or `application/folder`, no body): a catalogue row alone, which
    /// objects under `<name>/` on disk may or may not accompany. A file at
    /// the name is 409 (a file system holds no file and directory of one
    /// name; delete it first).
    pub(crate) async fn put_directory(
        &self,
        caller: &Caller,
        loc: &Location,
        put: PutObject,
    ) -> Result<Written, AppError> {
        self.may_write_in(caller, loc, &put).await?;
        let _turn = self.turn(&loc.canonical()).await?;
        if self.object_info(loc).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "'{}' is a file: delete it before making a directory there",
                loc.canonical()
            )));
        }
        self.check_write(caller, loc, &put.pre).await?;
        let key = object_key(loc);
        let old = self
            .db
            .read(async |tx| Ok(tx.object_meta(&key).await?))
            .await?;
        let old = old.filter(|m| super::objects::is_directory_type(&m.content_type));
        let version = old.as_ref().map_or(1, |m| m.version + 1);
        let mut meta = old.unwrap_or_else(|| ObjectMeta::unrecorded(loc.account(), now_micros()));
        meta.content_type = put.content_type;
        put.change.apply(&mut meta)?;
        super::objects::settle_public(&mut meta);
        meta.version = version;
        if meta.uuid.is_empty() {
            meta.uuid = uuid::Uuid::new_v4().to_string();
        }
        meta.modified_by = caller.id().to_string();
        meta.modified_at = now_micros();
        self.db
            .write(async move |tx| Ok(tx.put_object_meta(&key, &meta).await?))
            .await?;
        Ok(Written {
            md5: Some(EMPTY_MD5.to_string()),
            version,
        })
    }
}

/// The 409 of a source that changed while it was copied.
fn changed(source: &Location) -> AppError {
    AppError::Conflict(format!(
        "Object '{}' changed while it was copied; repeat the request",
        source.canonical()
    ))
}
