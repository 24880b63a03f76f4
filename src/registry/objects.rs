//! The object-store endpoint's reads (docs/api.md §14): accounts,
//! containers and objects of the `fs` store as a caller may see them, with
//! what the catalogue keeps of each object. Writes are in `uploads`.
//!
//! Who may read an object: its owner; users (or `*`) in its sharing, or
//! anyone when it is public; and whoever may read a live image registered
//! at it. Everyone else is refused (403), whether the object is there or not.

use std::collections::{BTreeMap, HashSet};

use super::Registry;
use crate::backends::store::{container_key, object_key, FileInfo, ObjectRead, StoreError};
use crate::domain::location::{canonical_of, Location};
use crate::domain::object::CachedHash;
use crate::domain::objects::conditions::{Preconditions, Verdict};
use crate::domain::objects::hashmap::EMPTY_HASH;
use crate::domain::objects::{shared_with, ObjectMeta};
use crate::domain::percent::encode_segment;
use crate::domain::range::ByteRange;
use crate::domain::user::Caller;
use crate::error::AppError;

/// The containers every user has from the start (kamaki lists `pithos`;
/// `kamaki image register --upload-image-file` does not create `images`).
pub(crate) const STANDING: [&str; 2] = ["images", "pithos"];

/// An object's MD5 and Pithos hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hashes {
    /// MD5, lower-case hex (the ETag).
    pub(crate) md5: String,
    /// The Pithos hash, lower-case hex.
    pub(crate) pithos: String,
}

/// An object as a caller sees it.
#[derive(Debug, Clone)]
pub(crate) struct ObjectView {
    /// Its name in its container (`/`-separated).
    pub(crate) name: String,
    /// Its file's size and mtime.
    pub(crate) info: FileInfo,
    /// Its hashes, where asked for.
    pub(crate) hashes: Option<Hashes>,
    /// What the catalogue keeps of it.
    pub(crate) meta: ObjectMeta,
}

impl ObjectView {
    /// The MD5, or empty where the hashes were not asked for.
    pub(crate) fn md5(&self) -> &str {
        self.hashes.as_ref().map_or("", |h| h.md5.as_str())
    }
}

/// A container as a caller sees it: the objects they may read in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerView {
    /// Its name.
    pub(crate) name: String,
    /// How many objects.
    pub(crate) count: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// The directory's mtime (nanoseconds; 0 for a standing container not yet made).
    pub(crate) modified_ns: i64,
}

/// A read of an object's data, or why there is none to send.
pub(crate) enum Served {
    /// The data (or the range asked).
    Data(ObjectView, ObjectRead),
    /// 304: the client's copy is current.
    NotModified(ObjectView),
}

/// What an object-store failure means at this endpoint: a path through a
/// link is refused (403) rather than a bad location (400), and the
/// endpoint is no route where the store is Pithos's.
pub(crate) fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::OutsideRoot(path) => AppError::Forbidden(format!(
            "'{path}' leads through a symbolic link of the store: it is not followed"
        )),
        StoreError::Unsupported(_) => {
            AppError::NotFound("No such route: the object store is Pithos's, not plankton's".into())
        }
        other => other.into(),
    }
}

fn forbidden(what: &str) -> AppError {
    AppError::Forbidden(format!("You may not read {what}"))
}

/// Writes in an account are its owner's alone.
pub(crate) fn check_owner(caller: &Caller, account: &str) -> Result<(), AppError> {
    if caller.id() == account {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "Account '{account}' is not yours: you may only write in your own account"
        )))
    }
}

impl Registry {
    /// Whether the object-store endpoint is served (the `fs` store).
    pub(crate) fn serves_object_store(&self) -> bool {
        self.store.serves_endpoint()
    }

    /// The bytes an account may keep (`store.quota`; 0: no limit).
    pub(crate) fn object_quota(&self) -> u64 {
        self.uploads.quota
    }

    /// The objects of a container the caller may read, with their metadata;
    /// 403 if it is another user's and there are none, 404 if it is the
    /// caller's and not there.
    pub(crate) async fn container_objects(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
    ) -> Result<Vec<ObjectView>, AppError> {
        let own = caller.id() == account;
        let (exists, files) = self
            .store
            .objects(account, container)
            .await
            .map_err(store_error)?;
        if own && !exists && !STANDING.contains(&container) {
            return Err(AppError::NotFound(format!(
                "Container '{container}' not found"
            )));
        }
        let views = self.with_meta(caller, account, container, files).await?;
        if !own && views.is_empty() {
            return Err(forbidden(&format!("container '{account}/{container}'")));
        }
        Ok(views)
    }

    /// Pairs listed files with their metadata, keeping those the caller may read.
    async fn with_meta(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
        files: Vec<(String, FileInfo)>,
    ) -> Result<Vec<ObjectView>, AppError> {
        let own = caller.id() == account;
        let prefix = format!("{}/", container_key(account, container));
        let image_prefix = format!(
            "pithos://{}/{}/",
            encode_segment(account),
            encode_segment(container)
        );
        let who = caller.id().to_string();
        let (mut metas, by_image): (BTreeMap<String, ObjectMeta>, HashSet<String>) = self
            .db
            .read_long({
                let prefix = prefix.clone();
                async move |tx| {
                    let metas = tx.object_metas_under(&prefix).await?;
                    let images = if own {
                        HashSet::new()
                    } else {
                        tx.image_readable_under(&image_prefix, &who).await?
                    };
                    Ok((metas, images))
                }
            })
            .await?;
        let mut out = Vec::new();
        for (name, info) in files {
            let key = format!("{}/{name}", container_key(account, container));
            let meta = metas
                .remove(&key)
                .unwrap_or_else(|| ObjectMeta::unrecorded(account, info.mtime_ns / 1000));
            if own
                || shared_with(&meta, caller.id())
                || by_image.contains(&canonical_of(account, container, &name))
            {
                out.push(ObjectView {
                    name,
                    info,
                    hashes: None,
                    meta,
                });
            }
        }
        out.extend(directories(caller, own, &prefix, metas));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Fills in the hashes of `views`: remembered ones where the file is
    /// unchanged, else read through once (and remembered).
    pub(crate) async fn with_hashes(
        &self,
        account: &str,
        container: &str,
        mut views: Vec<ObjectView>,
    ) -> Result<Vec<ObjectView>, AppError> {
        let keys: Vec<String> = views
            .iter()
            .map(|v| format!("{}/{}", container_key(account, container), v.name))
            .collect();
        let lookup = keys.clone();
        let cached: Vec<Option<CachedHash>> = self
            .db
            .read_long(async move |tx| {
                let mut cached = Vec::with_capacity(lookup.len());
                for k in &lookup {
                    cached.push(tx.cached_hash(k).await?);
                }
                Ok(cached)
            })
            .await?;
        let mut computed = Vec::new();
        for ((view, key), hit) in views.iter_mut().zip(keys).zip(cached) {
            if view.hashes.is_some() {
                continue;
            }
            let (hashes, fresh) = self.hashes_of(key, view.info, hit).await?;
            computed.extend(fresh);
            view.hashes = Some(hashes);
        }
        if !computed.is_empty() {
            self.db
                .write(async move |tx| {
                    for h in &computed {
                        tx.remember_hash(h).await?;
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(views)
    }

    /// The hashes of the object at `key`, now `info`, given what the
    /// catalogue remembers of it (`hit`): the remembered ones while the file
    /// is unchanged; an owed MD5 (recorded empty: an assembly of known
    /// blocks) computed alone, or waited for; else both read through. The
    /// second part is what to remember, if anything was computed.
    async fn hashes_of(
        &self,
        key: String,
        info: FileInfo,
        hit: Option<CachedHash>,
    ) -> Result<(Hashes, Option<CachedHash>), AppError> {
        let hit = hit.filter(|h| h.size == info.size && h.mtime_ns == info.mtime_ns);
        if let Some(h) = hit {
            if !h.md5.is_empty() {
                let hashes = Hashes {
                    md5: h.md5,
                    pithos: h.checksum,
                };
                return Ok((hashes, None));
            }
            let md5 = self.store.md5_of(&key, info).await.map_err(store_error)?;
            let hashes = Hashes {
                md5: md5.clone(),
                pithos: h.checksum.clone(),
            };
            return Ok((hashes, Some(CachedHash { md5, ..h })));
        }
        let (pithos, md5) = self
            .store
            .hash_object(&key, info)
            .await
            .map_err(store_error)?;
        let fresh = CachedHash {
            path: key,
            size: info.size,
            mtime_ns: info.mtime_ns,
            checksum: pithos.clone(),
            md5: md5.clone(),
            // Not computed here: a registration computes it.
            os_hash: None,
        };
        Ok((Hashes { md5, pithos }, Some(fresh)))
    }

    /// The containers of an account the caller may see: all of the
    /// caller's own (the standing ones among them); of another user's,
    /// those holding objects the caller may read (403 if none).
    pub(crate) async fn account_containers(
        &self,
        caller: &Caller,
        account: &str,
    ) -> Result<Vec<ContainerView>, AppError> {
        let mut dirs: BTreeMap<String, i64> = self
            .store
            .containers(account)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|(name, _)| crate::domain::location::container_name(name).is_ok())
            .map(|(name, info)| (name, info.mtime_ns))
            .collect();
        if caller.id() == account {
            for s in STANDING {
                dirs.entry(s.to_string()).or_insert(0);
            }
        }
        let mut out = Vec::new();
        for (name, modified_ns) in dirs {
            let objects = match self.container_objects(caller, account, &name).await {
                Ok(o) => o,
                Err(AppError::Forbidden(_)) => continue,
                Err(e) => return Err(e),
            };
            out.push(ContainerView {
                count: objects.len() as u64,
                bytes: objects.iter().map(|o| o.info.size).sum(),
                name,
                modified_ns,
            });
        }
        if caller.id() != account && out.is_empty() {
            return Err(forbidden(&format!("account '{account}'")));
        }
        Ok(out)
    }

    /// One object the caller may read, with its hashes: 403 before 404.
    pub(crate) async fn object(
        &self,
        caller: &Caller,
        loc: &Location,
    ) -> Result<ObjectView, AppError> {
        let key = object_key(loc);
        let file = self.store.object_info(loc).await.map_err(store_error)?;
        let at = loc.canonical();
        let (meta, by_image) = self
            .db
            .read(async |tx| {
                Ok((
                    tx.object_meta(&key).await?,
                    tx.image_lets_read(&at, caller.id()).await?,
                ))
            })
            .await?;
        let own = caller.id() == loc.account();
        let readable =
            own || by_image || meta.as_ref().is_some_and(|m| shared_with(m, caller.id()));
        if !readable {
            return Err(forbidden(&format!("object '{}'", loc.canonical())));
        }
        let Some(info) = file else {
            if let Some(m) = meta.filter(|m| is_directory_type(&m.content_type)) {
                return Ok(directory_view(loc.object_path(), m));
            }
            return Err(AppError::NotFound(format!(
                "Object '{}' not found",
                loc.canonical()
            )));
        };
        let meta =
            meta.unwrap_or_else(|| ObjectMeta::unrecorded(loc.account(), info.mtime_ns / 1000));
        let view = ObjectView {
            name: loc.object_path(),
            info,
            hashes: None,
            meta,
        };
        let mut views = self
            .with_hashes(loc.account(), loc.container(), vec![view])
            .await?;
        views
            .pop()
            .ok_or_else(|| AppError::internal("an object view went missing"))
    }

    /// The object's data (a range of it), after its preconditions.
    pub(crate) async fn read_object(
        &self,
        caller: &Caller,
        loc: &Location,
        range: Option<ByteRange>,
        pre: &Preconditions,
    ) -> Result<Served, AppError> {
        let view = self.object(caller, loc).await?;
        self.serve_view(loc, view, range, pre).await
    }

    /// The data of the object seen as `view` (a range of it), after its
    /// preconditions; 409 if it changed since it was seen.
    async fn serve_view(
        &self,
        loc: &Location,
        view: ObjectView,
        range: Option<ByteRange>,
        pre: &Preconditions,
    ) -> Result<Served, AppError> {
        match pre.for_read(view.md5(), view.info.mtime_ns.div_euclid(1_000_000_000)) {
            Verdict::Proceed => {}
            Verdict::NotModified => return Ok(Served::NotModified(view)),
            Verdict::Failed => return Err(precondition_failed(loc)),
        }
        if is_directory_type(&view.meta.content_type) && view.info.size == 0 {
            let read = ObjectRead {
                total: 0,
                start: 0,
                len: 0,
                partial: false,
                body: Box::pin(futures_util::stream::empty()),
            };
            return Ok(Served::Data(view, read));
        }
        let gone = || AppError::NotFound(format!("Object '{}' not found", loc.canonical()));
        let (info, read) = self
            .store
            .read_object(loc, range)
            .await
            .map_err(store_error)?
            .ok_or_else(gone)?;
        if info != view.info {
            return Err(AppError::Conflict(format!(
                "Object '{}' changed while it was read; repeat the request",
                loc.canonical()
            )));
        }
        Ok(Served::Data(view, read))
    }

    /// The object published under `id`, read by anyone (no token): its
    /// data (a range of it), after its preconditions; 404 when nothing is
    /// published there (never published, unpublished, deleted, moved away).
    pub(crate) async fn read_public(
        &self,
        id: &str,
        range: Option<ByteRange>,
        pre: &Preconditions,
    ) -> Result<Served, AppError> {
        let gone = || AppError::NotFound("No object is published at this URL".into());
        if !is_public_id(id) {
            return Err(gone());
        }
        let id = id.to_string();
        let (key, meta) = self
            .db
            .read(async move |tx| Ok(tx.object_by_public_id(&id).await?))
            .await?
            .ok_or_else(gone)?;
        let mut parts = key.splitn(3, '/');
        let (Some(a), Some(c), Some(o)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(gone());
        };
        let loc = Location::of_decoded(a, c, o).map_err(|_| gone())?;
        let info = self
            .store
            .object_info(&loc)
            .await
            .map_err(store_error)?
            .ok_or_else(gone)?;
        let view = ObjectView {
            name: loc.object_path(),
            info,
            hashes: None,
            meta,
        };
        let view = self
            .with_hashes(a, c, vec![view])
            .await?
            .pop()
            .ok_or_else(|| AppError::internal("an object view went missing"))?;
        self.serve_view(&loc, view, range, pre).await
    }

    /// The accounts that share at least one object with the caller (by its
    /// sharing list, `*` included), each with when it last changed one
    /// (microseconds); the caller's own account is not among them.
    pub(crate) async fn sharers(&self, caller: &Caller) -> Result<Vec<(String, i64)>, AppError> {
        let shared = self
            .db
            .read_long(async |tx| Ok(tx.shared_objects().await?))
            .await?;
        let mut accounts: BTreeMap<String, i64> = BTreeMap::new();
        for (path, meta) in shared {
            let account = path.split('/').next().unwrap_or_default();
            if account != caller.id() && meta.sharing.lets_read(caller.id()) {
                let at = accounts.entry(account.to_string()).or_default();
                *at = (*at).max(meta.modified_at);
            }
        }
        Ok(accounts.into_iter().collect())
    }

    /// The object and the hash of each of its blocks.
    pub(crate) async fn object_hashmap(
        &self,
        caller: &Caller,
        loc: &Location,
    ) -> Result<(ObjectView, Vec<String>), AppError> {
        let view = self.object(caller, loc).await?;
        if view.info.size == 0 {
            return Ok((view, vec![EMPTY_HASH.to_string()]));
        }
        let hashes = self
            .store
            .object_block_hashes(loc)
            .await
            .map_err(store_error)?;
        Ok((view, hashes))
    }
}

/// The content types of a directory object (`kamaki file mkdir`, `file
/// upload -r`): Pithos's and its older name.
const DIRECTORY_TYPES: [&str; 2] = ["application/directory", "application/folder"];

/// Whether a content type makes a directory object.
pub(crate) fn is_directory_type(content_type: &str) -> bool {
    DIRECTORY_TYPES
        .iter()
        .any(|t| content_type.eq_ignore_ascii_case(t))
}

/// The MD5 of nothing: a directory object's `ETag`.
const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// A directory object as listed and read: no bytes, its write's time.
fn directory_view(name: String, meta: ObjectMeta) -> ObjectView {
    ObjectView {
        name,
        info: FileInfo {
            size: 0,
            mtime_ns: meta.modified_at.saturating_mul(1000),
        },
        hashes: Some(Hashes {
            md5: EMPTY_MD5.to_string(),
            pithos: EMPTY_HASH.to_string(),
        }),
        meta,
    }
}

/// The directory objects among the rows under `prefix` the caller may
/// read: they live in the catalogue alone (a directory on disk may or may
/// not be there, with objects under it or not).
fn directories(
    caller: &Caller,
    own: bool,
    prefix: &str,
    rows: BTreeMap<String, ObjectMeta>,
) -> Vec<ObjectView> {
    rows.into_iter()
        .filter_map(|(key, meta)| {
            let name = key.strip_prefix(prefix)?.to_string();
            let readable = own || shared_with(&meta, caller.id());
            (is_directory_type(&meta.content_type) && readable).then(|| directory_view(name, meta))
        })
        .collect()
}

/// Gives a published object the id of its public URL (at least 128 random
/// bits: two v4 UUIDs, 244), kept while it stays published; takes it from
/// an unpublished one.
pub(crate) fn settle_public(meta: &mut ObjectMeta) {
    if !meta.public {
        meta.public_id = None;
    } else if meta.public_id.is_none() {
        meta.public_id = Some(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ));
    }
}

/// Whether `id` may be a public URL's id (64 lower-case hex digits).
fn is_public_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The 412 of a precondition that does not hold.
pub(crate) fn precondition_failed(loc: &Location) -> AppError {
    AppError::PreconditionFailed(format!(
        "A precondition (If-Match, If-None-Match, If-Unmodified-Since) does not hold for '{}'",
        loc.canonical()
    ))
}
